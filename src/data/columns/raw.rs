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

/// A column of numbers and words is a category when its numbers have at
/// most this many distinct values, each used twice or more on average.
pub const NUMBER_TEXTS_MAX: usize = 32;

/// What one column held.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ColumnCells {
    /// The cells that read as numbers: how many, and the first one's row.
    pub numbers: usize,
    /// The row of the first number.
    pub first_number: Option<usize>,
    /// Whether the numbers were made text cells, by value
    /// ([`RawColumns::numbers_to_text`]).
    pub numbers_as_text: bool,
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
    /// Counts each column's numbers (the cells neither missing nor text),
    /// and, in a column of numbers and text, finds the first number: what
    /// the reader leaves out of its loop.
    pub fn count_numbers(&mut self) {
        let (rows, cols) = (self.rows(), self.x.cols().max(1));
        for (j, c) in self.columns.iter_mut().enumerate() {
            c.numbers = rows - c.missing - c.text.cells.len();
            c.first_number = None;
            if c.numbers > 0 && !c.text.cells.is_empty() {
                c.first_number = self
                    .x
                    .as_slice()
                    .chunks_exact(cols)
                    .position(|row| !row[j].is_nan());
            }
        }
    }

    /// Makes column `j`'s numbers text cells, each the shortest text of its
    /// value (`4.0` is `4`), so that the column is all text — when they
    /// have at most [`NUMBER_TEXTS_MAX`] distinct values, each used twice
    /// or more on average. Returns whether it did.
    pub fn numbers_to_text(&mut self, j: usize) -> bool {
        let cols = self.x.cols().max(1);
        let cells = &self.columns[j];
        if cells.numbers == 0 {
            return false;
        }
        let mut distinct: Vec<u32> = Vec::new();
        for row in self.x.as_slice().chunks_exact(cols) {
            let v = row[j];
            if !v.is_nan() && !distinct.contains(&v.to_bits()) {
                if distinct.len() == NUMBER_TEXTS_MAX {
                    return false;
                }
                distinct.push(v.to_bits());
            }
        }
        if cells.numbers < 2 * distinct.len() {
            return false;
        }
        self.numbers_into_text(j);
        true
    }

    /// Makes column `j`'s numbers text cells, each the shortest text of its
    /// value (`4.0` is `4`): a column a model reads as text (a category, a
    /// boolean, a date) given as numbers, as a data frame's column of
    /// numbers may be.
    pub fn numbers_into_text(&mut self, j: usize) {
        let cols = self.x.cols().max(1);
        let cells = &mut self.columns[j];
        if cells.numbers == 0 {
            return;
        }
        let text = &mut cells.text;
        let mut codes: std::collections::HashMap<u32, u32> = std::collections::HashMap::new();
        let mut merged = Vec::with_capacity(text.cells.len() + cells.numbers);
        let mut old = text.cells.iter().peekable();
        for (r, row) in self.x.as_mut_slice().chunks_exact_mut(cols).enumerate() {
            let v = &mut row[j];
            if let Some(&cell) = old.next_if(|&&(row, _)| row as usize == r) {
                merged.push(cell);
            } else if !v.is_nan() {
                let code = *codes.entry(v.to_bits()).or_insert_with(|| {
                    let t = v.to_string();
                    match text.values.iter().position(|x| *x == t) {
                        Some(c) => c as u32,
                        None => {
                            text.values.push(t);
                            (text.values.len() - 1) as u32
                        }
                    }
                });
                merged.push((r as u32, code));
                *v = f32::NAN;
            }
        }
        text.cells = merged;
        cells.numbers = 0;
        cells.first_number = None;
        cells.numbers_as_text = true;
    }

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
