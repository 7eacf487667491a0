//! Training data: [`Dataset`] (features, targets, class labels), its
//! preprocessing ([`Standardizer`], [`scale`]) and [`accuracy`]; reading a
//! user's files into a [`RawTable`] with [`load`], and naming classes with
//! [`ClassMap`].
//!
//! The table types ([`LoadOptions`], [`RawTable`], [`CsvLayout`], …) live in
//! `table.rs`, which the readers and `classes.rs` use and which uses neither.
//! The file formats are parsed in [`csv`] (through the `csv` crate), [`idx`]
//! (MNIST, plain or gzip) and [`npy`] (NumPy); [`load`] picks one
//! ([`SourceKind::detect`]). The datasets compiled into the binary live in
//! [`embedded`] and are read by the same CSV reader. Every parser and
//! constructor returns an `Err` for bad input and never panics on it; the
//! binary parsers check sizes claimed by a header against the input before
//! allocating.

mod array;
mod classes;
mod columns;
pub mod csv;
mod dataset;
pub mod embedded;
pub mod idx;
mod message;
mod missing;
pub mod npy;
mod number;
mod prep;
mod source;
mod standardize;
mod table;
mod targets;
mod weights;

pub use crate::mapped::{ByteValues, MappedF32, MappedU8};
pub use array::{Elements, NdArray};
pub use classes::{is_missing, ClassMap, CONTINUOUS_MIN_DISTINCT, MAX_CLASSES};
pub use columns::{
    auto_kind, boolean_pair, date_inputs, date_text, parse_date, CellError, ColumnCells,
    ColumnKind, ColumnOptions, ColumnValues, Cycles, IgnoreReason, InputColumn, Mixed, ParseAs,
    RawColumns, TableEncoding, TextCells, Treatment, BOOLEAN_PAIRS, ID_MIN_VALUES, MAX_CATEGORIES,
    MEDIAN_SAMPLE, NUMBER_TEXTS_MAX,
};
pub(crate) use dataset::predicted_class;
pub use dataset::{accuracy, Dataset};
pub use missing::{MissingPolicy, NaValues};
pub use prep::{Features, Prep};
pub use source::{load, load_bytes};
pub use standardize::{scale, Standardizer};
pub use table::{
    CsvLayout, FeatureSelection, HeaderGuess, HeaderMode, LabelColumn, LoadOptions, RawTable,
    RawTarget, SourceKind,
};
pub use targets::Targets;
pub use weights::ClassWeight;
