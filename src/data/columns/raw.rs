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

/// A column's numbers are kept as text, too, while they have at most this
/// many distinct texts: a column of numbers and text (`4`, `f`, `r`) is
/// then a category whose levels are the texts as written.
pub const NUMBER_TEXTS_MAX: usize = 32;

/// What one column held.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ColumnCells {
    /// The cells that read as numbers: how many, and the first one's row.
    pub numbers: usize,
    /// The row of the first number.
    pub first_number: Option<usize>,
    /// The distinct texts of the numbers, with their values' bits, while
    /// there are at most [`NUMBER_TEXTS_MAX`] and no two texts have one
    /// value (`4`, `4.0`).
    pub number_texts: Vec<(u32, String)>,
    /// Whether [`ColumnCells::number_texts`] gave up.
    pub number_texts_lost: bool,
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

impl ColumnCells {
    /// Notes the text of a number of value `v` (see
    /// [`ColumnCells::number_texts`]).
    #[inline]
    pub fn number_text(&mut self, v: f32, text: &[u8]) {
        if self.number_texts_lost {
            return;
        }
        let bits = v.to_bits();
        match self.number_texts.iter().find(|(b, _)| *b == bits) {
            Some((_, t)) if t.as_bytes() == text => {}
            Some(_) => self.lose_number_texts(),
            None if self.number_texts.len() == NUMBER_TEXTS_MAX => self.lose_number_texts(),
            None => match std::str::from_utf8(text) {
                Ok(t) => self.number_texts.push((bits, t.to_string())),
                Err(_) => self.lose_number_texts(),
            },
        }
    }

    fn lose_number_texts(&mut self) {
        self.number_texts_lost = true;
        self.number_texts = Vec::new();
    }

    /// Adds the number texts of `other` (the next rows of the column).
    pub fn merge_number_texts(&mut self, other: &ColumnCells) {
        if other.number_texts_lost {
            self.lose_number_texts();
        }
        for (bits, t) in &other.number_texts {
            self.number_text(f32::from_bits(*bits), t.as_bytes());
        }
    }
}

impl RawColumns {
    /// Makes column `j`'s numbers text cells (their texts as written, kept in
    /// [`ColumnCells::number_texts`]), so that the column is all text.
    /// Returns `false`, changing nothing, when those texts were not kept.
    pub fn numbers_to_text(&mut self, j: usize) -> bool {
        let cols = self.x.cols().max(1);
        let cells = &mut self.columns[j];
        if cells.number_texts_lost || cells.numbers == 0 {
            return false;
        }
        let text = &mut cells.text;
        let codes: Vec<(u32, u32)> = cells
            .number_texts
            .iter()
            .map(|(bits, t)| {
                let code = match text.values.iter().position(|v| v == t) {
                    Some(c) => c,
                    None => {
                        text.values.push(t.clone());
                        text.values.len() - 1
                    }
                };
                (*bits, code as u32)
            })
            .collect();
        let mut merged = Vec::with_capacity(text.cells.len() + cells.numbers);
        let mut old = text.cells.iter().peekable();
        for (r, row) in self.x.as_mut_slice().chunks_exact_mut(cols).enumerate() {
            let v = &mut row[j];
            if let Some(&cell) = old.next_if(|&&(row, _)| row as usize == r) {
                merged.push(cell);
            } else if !v.is_nan() {
                let bits = v.to_bits();
                let code = codes.iter().find(|(b, _)| *b == bits).map(|(_, c)| *c);
                merged.push((r as u32, code.expect("every number's text is kept")));
                *v = f32::NAN;
            }
        }
        text.cells = merged;
        cells.numbers = 0;
        cells.first_number = None;
        true
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
