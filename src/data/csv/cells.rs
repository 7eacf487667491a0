//! The missing and text cells of one feature column as a piece of the body
//! is parsed ([`CellsBuilder`]): text is interned, so a category costs a code
//! per row, not a string; pieces merge in file order, so the texts keep
//! their order of first appearance in the file.

use rustc_hash::FxHashMap;

use crate::data::ColumnCells;

/// One column's cells so far, with the index of its texts.
#[derive(Default)]
pub(super) struct CellsBuilder {
    index: FxHashMap<Box<[u8]>, u32>,
    pub(super) cells: ColumnCells,
    /// About how many rows the piece has.
    rows_hint: usize,
}

impl CellsBuilder {
    /// An empty column of a piece of about `rows` rows.
    pub(super) fn with_rows_hint(rows: usize) -> CellsBuilder {
        CellsBuilder {
            rows_hint: rows,
            ..CellsBuilder::default()
        }
    }

    /// A missing value at `row`.
    #[inline]
    pub(super) fn missing(&mut self, row: usize) {
        let c = &mut self.cells;
        c.missing += 1;
        c.first_missing.get_or_insert(row);
    }

    /// The text `field` at `row`; `Err` if it is new and not UTF-8 (a text
    /// seen before was checked then).
    #[inline]
    pub(super) fn text(&mut self, row: usize, field: &[u8]) -> Result<(), std::str::Utf8Error> {
        if self.cells.text.cells.capacity() == 0 {
            // a text column has a text in most rows
            self.cells.text.cells.reserve(self.rows_hint);
        }
        let code = match self.index.get(field) {
            Some(&c) => c,
            None => {
                let t = std::str::from_utf8(field)?;
                self.code(field, || t.to_string())
            }
        };
        self.cells.text.cells.push((row as u32, code));
        Ok(())
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
