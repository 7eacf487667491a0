//! [`RawColumns`]: a table's feature columns as read, before any column is
//! given a kind: the numbers (NaN where a cell is missing or text) and, per
//! column, its text cells as codes into the distinct texts.

use crate::tensor::Matrix;

/// The text cells of one column: each distinct text once, in order of first
/// appearance, and per text cell its row and its text's index. Rows come in
/// increasing order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TextCells {
    /// The distinct texts.
    pub values: Vec<String>,
    /// `(row, index into values)`, rows increasing.
    pub cells: Vec<(u32, u32)>,
}

impl TextCells {
    /// How many cells hold each of [`TextCells::values`].
    pub fn counts(&self) -> Vec<usize> {
        let mut counts = vec![0usize; self.values.len()];
        for &(_, c) in &self.cells {
            counts[c as usize] += 1;
        }
        counts
    }
}

/// What one column held.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ColumnCells {
    /// The cells that read as numbers: how many, and the first one's row.
    pub numbers: usize,
    /// The row of the first number.
    pub first_number: Option<usize>,
    /// The cells that mark a missing value: how many, and the first one's row.
    pub missing: usize,
    /// The row of the first missing cell.
    pub first_missing: Option<usize>,
    /// The other cells, as text.
    pub text: TextCells,
}

/// A table's feature columns as read: `x` holds the numbers, row-major,
/// with NaN where a cell was missing or text; `columns[j]` says what column
/// `j` held.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RawColumns {
    /// The column names.
    pub names: Vec<String>,
    /// `rows × names.len()` numbers.
    pub x: Matrix,
    /// Per column, its missing and text cells.
    pub columns: Vec<ColumnCells>,
}

impl RawColumns {
    /// Whether every cell is a number: the table is its numbers.
    pub fn all_numbers(&self) -> bool {
        self.columns
            .iter()
            .all(|c| c.missing == 0 && c.text.cells.is_empty())
    }

    /// The number of rows.
    pub fn rows(&self) -> usize {
        self.x.rows()
    }
}
