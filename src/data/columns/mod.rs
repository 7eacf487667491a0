//! A table's feature columns, from the cells as read ([`RawColumns`]) to
//! network inputs: each column's kind ([`ColumnKind`], decided in
//! `kind.rs` unless [`ColumnOptions`] say), its treatment fitted on the
//! training file ([`TableEncoding`], in `encoding.rs`, stored in the model)
//! and applied to every file (`apply.rs`); dates are read in `date.rs`.

mod apply;
mod date;
mod encoding;
mod kind;
mod raw;
mod values;

pub use date::{date_inputs, date_text, parse_date, Cycles};
pub use encoding::{CellError, IgnoreReason, InputColumn, TableEncoding, Treatment, MEDIAN_SAMPLE};
pub use kind::{
    auto_kind, boolean_pair, ColumnKind, ColumnOptions, Mixed, ParseAs, BOOLEAN_PAIRS,
    ID_MIN_VALUES, MAX_CATEGORIES,
};
pub use raw::{ColumnCells, RawColumns, TextCells, NUMBER_TEXTS_MAX};
pub use values::ColumnValues;
