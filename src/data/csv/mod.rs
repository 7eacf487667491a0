//! Delimited text through the `csv` crate: [`parse`] and [`parse_bytes`],
//! behind [`super::load`]. The embedded datasets are read with it too.
//!
//! # What is read
//!
//! - RFC 4180: quoted fields, delimiters and line breaks inside quotes,
//!   doubled quotes (`""`) inside quoted fields; lines end in `\n` or `\r\n`,
//!   the last one optionally; a leading UTF-8 BOM is skipped.
//! - Blank lines (empty or only spaces) are skipped, wherever they are.
//! - Spaces around a field are ignored (`" 1.5 "` is 1.5).
//! - The delimiter: given, or `\t` for a `.tsv` file, or sniffed among `,`
//!   `;` tab `|` from the first lines ([`sniff_delimiter`]).
//! - The header: given, or detected ([`HeaderMode::Auto`], see below).
//! - Every feature field is a finite number (parsed as `f64`, stored as its
//!   `f32` rounding); label and id columns are kept as text.
//!
//! # Header detection
//!
//! The first row is a header when, in some column whose other values are
//! numbers (90% of the sampled rows at least), it holds a word (`sepal_length` above numbers), or
//! in a column whose other values are all year-first dates, a text that is
//! not one (`date` above `2012-01-01`), or when its
//! values are the column positions `0, 1, 2, …` as pandas writes unnamed
//! columns (`0,1,2,3,label`). It is data when every column's
//! first value is like the values below it. When the only hint is a text
//! column whose first value never occurs again while the others repeat (a
//! header name, or a rare class in the first row?), the row is read as data and
//! [`RawTable::header_guess`] says so, so that the caller can tell the user.
//!
//! # Errors
//!
//! Anything else is an [`Error::Parse`] with the 1-based line and the column
//! (`column 'age'` by header name, `column 5` by 1-based position without a
//! header), or an [`Error::Data`] for a file-level problem (empty, no data
//! rows, unknown column); the parser never panics, whatever the input.
//!
//! # Speed
//!
//! A file without quote characters is cut at line breaks into one piece per
//! core, and the pieces are parsed at once; each knows its first line number,
//! and the first error of the first failing piece is reported, so errors are
//! exactly those of a sequential read.
//!
//! # Memory
//!
//! [`parse_reader`] reads a file in blocks of 8 MiB, each cut at its last
//! line break outside a quoted field, so the text is never held whole: only
//! a block, and the parsed values.
//!
//! [`HeaderMode::Auto`]: crate::data::HeaderMode::Auto
//! [`RawTable::header_guess`]: crate::data::RawTable::header_guess
//! [`Error::Parse`]: crate::Error::Parse
//! [`Error::Data`]: crate::Error::Data

// From the bottom up: `record.rs` (the `csv` crate's reader, blank records,
// line counts), `sniff.rs` (the delimiter and the header), `columns.rs` (each
// column's role from the options), `body.rs` (the data rows, in parallel
// pieces), `prologue.rs` (what the first rows decide), `finish.rs` (the table
// of the parsed rows) and `read.rs` (the entry points, on bytes or block by
// block on a reader).
mod body;
mod cells;
mod columns;
mod finish;
mod prologue;
mod read;
mod record;
mod sniff;

pub use read::{parse, parse_blocks, parse_bytes, parse_reader};
pub use sniff::{sniff_delimiter, SNIFFED};
