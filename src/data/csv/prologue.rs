//! What the first rows of a file decide, in this order: the delimiter, the
//! sample, the header and its names, the columns' roles, and where the data
//! rows start.

use super::body::Context;
use super::columns::Role;
use super::columns::{assign_roles, Roles};
use super::record::count_line_breaks;
use super::sniff::{
    choose_decimal, choose_delimiter, detect_header, header_names, read_sample, SAMPLE_ROWS,
};
use crate::data::message::{data_error, show};
use crate::data::table::{HeaderGuess, HeaderMode, LoadOptions};
use crate::data::{MissingPolicy, NaValues, ParseAs};
use crate::error::{mention, Result};

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
    /// Per feature, how its cells are read.
    pub(super) parse_as: Vec<ParseAs>,
    pub(super) na: NaValues,
    pub(super) missing: MissingPolicy,
    /// Whether numbers have a decimal comma.
    pub(super) decimal_comma: bool,
}

impl Prologue {
    pub(super) fn context<'a>(&'a self, source_name: &'a str) -> Context<'a> {
        Context {
            source_name,
            delimiter: self.delimiter,
            n_cols: self.n_cols,
            roles: &self.roles,
            names: self.names.as_deref(),
            parse_as: &self.parse_as,
            na: &self.na,
            missing: self.missing,
            decimal_comma: self.decimal_comma,
        }
    }

    /// The name of file column `c`: its header name, or `column N`.
    pub(super) fn column_name(&self, c: usize) -> String {
        match &self.names {
            Some(n) => n[c].clone(),
            None => format!("column {}", c + 1),
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
    let mut sample = read_sample(bytes, delimiter, source_name)?;
    let decimal = choose_decimal(opts.decimal, delimiter, &sample.rows);
    if decimal == b',' {
        // header detection sees the numbers as numbers
        for (_, row) in &mut sample.rows {
            for f in row.iter_mut().filter(|f| f.contains(',')) {
                *f = f.replace(',', ".");
            }
        }
    }
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
    if let Some(g) = header_guess.as_ref().filter(|g| !g.header) {
        // the only hint is one word in the first row: a header of numbers
        // (`400,410,…,quality`), or data with a rare value first?
        return Err(data_error(
            source_name,
            format!(
                "cannot tell whether the first row is a header or data: {}; say which ({} or \
                 {})",
                g.reason,
                mention("read.header", None),
                mention("read.no_header", None)
            ),
        ));
    }
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
    if let Some(names) = &names {
        check_names(names, &roles.roles, opts, source_name, first_line)?;
    }
    let parse_as = parse_modes(names.as_deref(), &roles, opts, source_name)?;
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
        parse_as,
        na: opts.columns.na_values.clone(),
        missing: opts.columns.missing,
        decimal_comma: decimal == b',',
    }))
}

/// At training (no model's features to pick), every header name must be
/// unique; an empty name is allowed only for a first column read as a
/// feature (pandas' index, checked once the values are read).
fn check_names(
    names: &[String],
    roles: &[Role],
    opts: &LoadOptions,
    source: &str,
    line: usize,
) -> Result<()> {
    let perr = |message: String| crate::error::Error::Parse {
        source_name: source.to_string(),
        line,
        message,
    };
    for (c, n) in names.iter().enumerate() {
        if n.is_empty() && !(c == 0 && matches!(roles[0], Role::Feature(_) | Role::Skip)) {
            return Err(perr(format!("header: column {} has an empty name", c + 1)));
        }
    }
    if opts.features.is_some() {
        return Ok(());
    }
    let mut seen: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    for (c, n) in names.iter().enumerate() {
        if let Some(first) = seen.insert(n.as_str(), c) {
            return Err(perr(format!(
                "header: columns {} and {} are both named {}; every column needs its own name \
                 (a model finds its features by name)",
                first + 1,
                c + 1,
                show(n)
            )));
        }
    }
    Ok(())
}

/// How each feature's cells are read: as the model's preparation says, or
/// as the user named the columns, else decided from the values.
fn parse_modes(
    names: Option<&[String]>,
    roles: &Roles,
    opts: &LoadOptions,
    source: &str,
) -> Result<Vec<ParseAs>> {
    let features = roles.feature_columns();
    if let Some(enc) = &opts.encoding {
        let modes: Vec<ParseAs> = enc.used().map(|c| c.treatment.parse_as()).collect();
        if modes.len() == features.len() {
            return Ok(modes);
        }
        return Err(data_error(
            source,
            format!(
                "{} feature columns, but the model reads {}",
                features.len(),
                modes.len()
            ),
        ));
    }
    let name = |c: usize| match names {
        Some(n) => n[c].clone(),
        None => format!("column {}", c + 1),
    };
    let cols = &opts.columns;
    for (list, field) in [
        (&cols.category, "read.category_columns"),
        (&cols.number, "read.number_columns"),
    ] {
        for want in list {
            if !features.iter().any(|&c| name(c) == *want) {
                return Err(data_error(
                    source,
                    format!(
                        "{}: {} is not a feature column of the file",
                        mention(field, None),
                        show(want)
                    ),
                ));
            }
            if field == "read.category_columns" && cols.number.contains(want) {
                return Err(data_error(
                    source,
                    format!(
                        "column {} is named both a category ({}) and a number ({})",
                        show(want),
                        mention("read.category_columns", None),
                        mention("read.number_columns", None)
                    ),
                ));
            }
        }
    }
    Ok(features
        .iter()
        .map(|&c| {
            let n = name(c);
            if cols.category.contains(&n) {
                ParseAs::Text
            } else if cols.number.contains(&n) {
                ParseAs::Number
            } else {
                ParseAs::Auto
            }
        })
        .collect())
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
