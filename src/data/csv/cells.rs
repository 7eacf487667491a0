//! The missing and text cells of one feature column as a piece of the body
//! is parsed ([`CellsBuilder`]): text is interned, so a category costs a code
//! per row, not a string; pieces merge in file order, so the texts keep
//! their order of first appearance in the file.

use std::collections::HashMap;

use crate::data::ColumnCells;

/// One column's cells so far, with the index of its texts.
#[derive(Default)]
pub(super) struct CellsBuilder {
    index: HashMap<Box<[u8]>, u32>,
    pub(super) cells: ColumnCells,
}

impl CellsBuilder {
    /// A number at `row`; with its `text` when the column's kind is still
    /// to be decided (a column of numbers and text may be a category).
    #[inline]
    pub(super) fn number(&mut self, row: usize, v: f32, text: Option<&[u8]>) {
        let c = &mut self.cells;
        c.numbers += 1;
        c.first_number.get_or_insert(row);
        if let Some(t) = text {
            c.number_text(v, t);
        }
    }

    /// A missing value at `row`.
    #[inline]
    pub(super) fn missing(&mut self, row: usize) {
        let c = &mut self.cells;
        c.missing += 1;
        c.first_missing.get_or_insert(row);
    }

    /// The text `field` (UTF-8, checked by the caller) at `row`.
    #[inline]
    pub(super) fn text(&mut self, row: usize, field: &str) {
        let code = self.code(field.as_bytes(), || field.to_string());
        self.cells.text.cells.push((row as u32, code));
    }

    /// The code of `text`, added with `owned()` if it is new.
    fn code(&mut self, text: &[u8], owned: impl FnOnce() -> String) -> u32 {
        if let Some(&c) = self.index.get(text) {
            return c;
        }
        let values = &mut self.cells.text.values;
        let c = values.len() as u32;
        values.push(owned());
        self.index.insert(text.into(), c);
        c
    }

    /// Appends `other`, the cells of the next rows, whose first row is row
    /// `offset` here.
    pub(super) fn append(&mut self, other: CellsBuilder, offset: usize) {
        let other = other.cells;
        let c = &mut self.cells;
        c.merge_number_texts(&other);
        c.numbers += other.numbers;
        if c.first_number.is_none() {
            c.first_number = other.first_number.map(|r| r + offset);
        }
        c.missing += other.missing;
        if c.first_missing.is_none() {
            c.first_missing = other.first_missing.map(|r| r + offset);
        }
        let text = other.text;
        if text.cells.is_empty() {
            return;
        }
        let codes: Vec<u32> = text
            .values
            .into_iter()
            .map(|v| {
                // the bytes are borrowed before the string moves in
                let key: Box<[u8]> = v.as_bytes().into();
                self.code(&key, || v)
            })
            .collect();
        self.cells.text.cells.extend(
            text.cells
                .into_iter()
                .map(|(r, code)| (r + offset as u32, codes[code as usize])),
        );
    }
}
