//! What the first rows of a file decide, in this order: the delimiter, the
//! sample, the header and its names, the columns' roles, and where the data
//! rows start.

use super::body::Context;
use super::columns::{assign_roles, Roles};
use super::record::count_line_breaks;
use super::sniff::{choose_delimiter, detect_header, header_names, read_sample, SAMPLE_ROWS};
use crate::data::message::data_error;
use crate::data::table::{HeaderGuess, HeaderMode, LoadOptions};
use crate::error::Result;

/// What the first rows of a file decide: the delimiter, the header and the
/// columns' roles, and where the data rows start.
pub(super) struct Prologue {
    pub(super) delimiter: u8,
    pub(super) n_cols: usize,
    pub(super) header: bool,
    pub(super) header_guess: Option<HeaderGuess>,
    pub(super) names: Option<Vec<String>>,
    pub(super) roles: Roles,
    pub(super) body_start: usize,
    pub(super) body_first_line: usize,
}

impl Prologue {
    pub(super) fn context<'a>(&'a self, source_name: &'a str) -> Context<'a> {
        Context {
            source_name,
            delimiter: self.delimiter,
            n_cols: self.n_cols,
            roles: &self.roles,
            names: self.names.as_deref(),
        }
    }
}

/// The delimiter, header and column roles of a CSV whose first bytes are
/// `bytes` (all of it when `complete`); `None` when `bytes` holds fewer
/// than the sampled rows and more may follow.
pub(super) fn prologue(
    bytes: &[u8],
    complete: bool,
    source_name: &str,
    opts: &LoadOptions,
) -> Result<Option<Prologue>> {
    let (delimiter, sniffed) = choose_delimiter(bytes, opts.delimiter)?;
    // A sample of the first rows: header detection and the column count.
    let sample = read_sample(bytes, delimiter, source_name)?;
    if !complete && sample.rows.len() < SAMPLE_ROWS {
        // the sample must be the one the whole file gives: read on
        return Ok(None);
    }
    let Some((first_line, first)) = sample.rows.first() else {
        return Err(data_error(source_name, "the file is empty".to_string()));
    };
    let (first_line, n_cols) = (*first_line, first.len());
    let (header, header_guess) = match opts.header {
        HeaderMode::Present => (true, None),
        HeaderMode::Absent => (false, None),
        HeaderMode::Auto => detect_header(&sample.rows),
    };
    let names = if header {
        Some(header_names(
            bytes,
            delimiter,
            n_cols,
            first_line,
            source_name,
        )?)
    } else {
        None
    };
    let roles = assign_roles(
        names.as_deref(),
        n_cols,
        opts,
        source_name,
        delimiter,
        sniffed,
    )?;
    let (body_start, body_first_line) = body_start(bytes, header, sample.data_start.as_ref());
    Ok(Some(Prologue {
        delimiter,
        n_cols,
        header,
        header_guess,
        names,
        roles,
        body_start,
        body_first_line,
    }))
}

/// Where the data rows of `bytes` start, and their first line: after the
/// header (the reader stood at `data_start` after it) and any line breaks
/// after it, or at the start without a header.
fn body_start(bytes: &[u8], header: bool, data_start: Option<&csv::Position>) -> (usize, usize) {
    let body_start = if header {
        data_start.map_or(bytes.len(), |p| p.byte() as usize)
    } else {
        0
    };
    let mut body_start = body_start.min(bytes.len());
    while bytes
        .get(body_start)
        .is_some_and(|&b| b == b'\n' || b == b'\r')
    {
        body_start += 1;
    }
    (body_start, 1 + count_line_breaks(&bytes[..body_start]))
}
