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
//! numbers (90% of the sampled rows at least), it holds a word (`sepal_length` above numbers), or when its
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

use super::message::{data_error, show};
use super::number::{fast_number, parse_number};
use super::table::{
    CsvLayout, HeaderGuess, HeaderMode, LabelColumn, LoadOptions, RawTable, RawTarget, SourceKind,
};
use crate::error::{mention, Error, Result};
use crate::tensor::Matrix;

/// How many column names an "unknown column" message lists.
const LIST_COLUMNS: usize = 20;

/// Rows read to sniff the delimiter and detect the header.
const SAMPLE_ROWS: usize = 200;

/// The delimiters tried when none is given, in order of preference on ties.
pub const SNIFFED: [u8; 4] = [b',', b';', b'\t', b'|'];

/// Below this many bytes a file is parsed on one thread.
const PARALLEL_MIN_BYTES: usize = 1 << 20;

/// Parses delimited `text` as `opts` say; `source_name` (a file name) prefixes
/// error messages. `opts.labels_path` is ignored.
///
/// ```
/// use backprop::data::{csv, LabelColumn, LoadOptions, RawTarget};
/// let text = "age;species;weight\n3;cat;4.5\n5;\"dog\";20\n";
/// let opts = LoadOptions {
///     label_columns: vec![LabelColumn::Name("species".into())],
///     ..LoadOptions::default()
/// };
/// let t = csv::parse(text, "pets.csv", &opts).unwrap();
/// assert_eq!(t.feature_names, ["age", "weight"]);
/// assert_eq!(t.x.row(1), &[5.0, 20.0]);
/// assert_eq!(t.target, RawTarget::Text(vec!["cat".into(), "dog".into()]));
///
/// let headerless = csv::parse("1,2,0\n3,x,1\n", "n.csv", &LoadOptions::default());
/// assert_eq!(headerless.unwrap_err().to_string(), "n.csv:2: column 2: 'x' is not a number");
/// ```
pub fn parse(text: &str, source_name: &str, opts: &LoadOptions) -> Result<RawTable> {
    parse_bytes(text.as_bytes(), source_name, opts)
}

/// The delimiter, header and column roles of a CSV whose first bytes are
/// `bytes` (all of it when `complete`); `None` when `bytes` holds fewer
/// than the sampled rows and more may follow.
fn prologue(
    bytes: &[u8],
    complete: bool,
    source_name: &str,
    opts: &LoadOptions,
) -> Result<Option<Prologue>> {
    let perr = |line: usize, message: String| Error::Parse {
        source_name: source_name.to_string(),
        line,
        message,
    };
    let derr = |message: String| data_error(source_name, message);
    let (delimiter, sniffed) = match opts.delimiter {
        Some(d) => {
            check_delimiter(d)?;
            (d, false)
        }
        None => (sniff_delimiter(bytes), true),
    };

    // A sample of the first rows: header detection and the column count.
    let mut sample: Vec<(usize, Vec<String>)> = Vec::new();
    let mut reader = reader(bytes, delimiter);
    let mut record = csv::ByteRecord::new();
    let mut data_start = None;
    loop {
        match reader.read_byte_record(&mut record) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => return Err(csv_error(source_name, 0, &e)),
        }
        let line = record.position().map_or(1, |p| p.line() as usize);
        if is_blank(&record) {
            continue;
        }
        if sample.is_empty() {
            data_start = Some(reader.position().clone());
        }
        let fields = record
            .iter()
            .map(|f| String::from_utf8_lossy(trim(f)).into_owned())
            .collect();
        sample.push((line, fields));
        if sample.len() >= SAMPLE_ROWS {
            break;
        }
    }
    if !complete && sample.len() < SAMPLE_ROWS {
        // the sample must be the one the whole file gives: read on
        return Ok(None);
    }
    let Some((first_line, first)) = sample.first() else {
        return Err(derr("the file is empty".to_string()));
    };
    let first_line = *first_line;
    let n_cols = first.len();
    let (header, header_guess) = match opts.header {
        HeaderMode::Present => (true, None),
        HeaderMode::Absent => (false, None),
        HeaderMode::Auto => detect_header(&sample),
    };
    let names: Option<Vec<String>> = if header {
        let raw = csv_first_record(bytes, delimiter);
        let mut names = Vec::with_capacity(n_cols);
        for (c, f) in raw.iter().enumerate() {
            let name = std::str::from_utf8(trim(f)).map_err(|_| {
                perr(
                    first_line,
                    format!("header: column {} is not UTF-8 text", c + 1),
                )
            })?;
            if name.is_empty() {
                return Err(perr(
                    first_line,
                    format!("header: column {} has an empty name", c + 1),
                ));
            }
            names.push(name.to_string());
        }
        Some(names)
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

    // The data rows.
    let body_start = if header {
        data_start
            .as_ref()
            .map_or(bytes.len(), |p| p.byte() as usize)
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
    let body_first_line = 1 + count_line_breaks(&bytes[..body_start]);
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

/// What the first rows of a file decide: the delimiter, the header and the
/// columns' roles, and where the data rows start.
struct Prologue {
    delimiter: u8,
    n_cols: usize,
    header: bool,
    header_guess: Option<HeaderGuess>,
    names: Option<Vec<String>>,
    roles: Roles,
    body_start: usize,
    body_first_line: usize,
}

impl Prologue {
    fn context<'a>(&'a self, source_name: &'a str) -> Context<'a> {
        Context {
            source_name,
            delimiter: self.delimiter,
            n_cols: self.n_cols,
            roles: &self.roles,
            names: self.names.as_deref(),
        }
    }
}

/// [`parse`] on bytes: label, id and header fields must be UTF-8 (an error
/// names the line otherwise).
pub fn parse_bytes(bytes: &[u8], source_name: &str, opts: &LoadOptions) -> Result<RawTable> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let pro = prologue(bytes, true, source_name, opts)?.expect("a complete input");
    let body = &bytes[pro.body_start..];
    let mut all = parse_body(&pro.context(source_name), body, pro.body_first_line)?;
    let mut labels = LabelStore::default();
    labels.extend(std::mem::take(&mut all.labels));
    finish(pro, all, labels, source_name)
}

/// Bytes [`parse_reader`] reads at a time.
const READ_BLOCK: usize = 8 << 20;

/// [`parse_bytes`] on a reader, block by block: the text is never held
/// whole, only about one block (8 MiB) of it beside the rows parsed so far.
/// The table and the errors are those of [`parse_bytes`] on the whole
/// input. `size_hint` (the file's size, when known) lets the feature
/// matrix be allocated once instead of grown.
///
/// ```
/// use backprop::data::{csv, LoadOptions};
/// let text = "a,b,label\n1,2,x\n3,4,\"y\nz\"\n";
/// let opts = LoadOptions::default();
/// let whole = csv::parse(text, "t.csv", &opts)?;
/// let read = csv::parse_reader(text.as_bytes(), "t.csv", &opts, None)?;
/// assert_eq!(read, whole);
/// # Ok::<(), backprop::Error>(())
/// ```
///
/// # Errors
/// As [`parse_bytes`]; a failing read is a data error naming `source_name`.
pub fn parse_reader(
    r: impl std::io::Read,
    source_name: &str,
    opts: &LoadOptions,
    size_hint: Option<u64>,
) -> Result<RawTable> {
    parse_blocks(r, source_name, opts, size_hint, READ_BLOCK)
}

/// [`parse_reader`] with blocks of `block` bytes (tests use tiny ones).
#[doc(hidden)]
pub fn parse_blocks(
    mut r: impl std::io::Read,
    source_name: &str,
    opts: &LoadOptions,
    size_hint: Option<u64>,
    block: usize,
) -> Result<RawTable> {
    const BOM: &[u8] = b"\xEF\xBB\xBF";
    let block = block.max(1);
    let mut buf: Vec<u8> = Vec::new();
    let mut eof = false;
    // reads until `buf` holds at least `want` bytes or the input ends
    let mut fill = |buf: &mut Vec<u8>, want: usize, eof: &mut bool| -> Result<()> {
        let mut chunk = vec![0u8; block.min(1 << 20)];
        while !*eof && buf.len() < want {
            match r.read(&mut chunk) {
                Ok(0) => *eof = true,
                Ok(k) => buf.extend_from_slice(&chunk[..k]),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(data_error(source_name, format!("cannot read: {e}"))),
            }
        }
        Ok(())
    };
    // the first rows decide the delimiter (its first 64 KiB), the header and
    // the roles (the first rows sampled): read until they are all there
    let mut want = block.max(1 << 17);
    let (bom, pro) = loop {
        fill(&mut buf, want, &mut eof)?;
        let bom = if buf.starts_with(BOM) { BOM.len() } else { 0 };
        // The delimiter the prologue will use: sniffing reads the first
        // 64 KiB only, which are the same bytes here and in the prologue's
        // input whenever it runs (it gets at least 64 KiB, or everything).
        let delimiter = opts
            .delimiter
            .unwrap_or_else(|| sniff_delimiter(&buf[bom..]));
        let end = if eof {
            buf.len()
        } else {
            bom + records_end(&buf[bom..], delimiter)
        };
        if eof || end - bom >= 1 << 16 {
            if let Some(p) = prologue(&buf[bom..end], eof, source_name, opts)? {
                break (bom, p);
            }
        }
        want = buf.len() * 2;
    };
    let ctx = pro.context(source_name);
    let mut all = Part::default();
    let mut labels = LabelStore::default();
    let mut start = bom + pro.body_start;
    let mut line = pro.body_first_line;
    let mut reserved = false;
    loop {
        let end = if eof {
            buf.len()
        } else {
            start + records_end(&buf[start..], ctx.delimiter)
        };
        let piece = &buf[start..end];
        if !piece.is_empty() {
            let part = parse_body(&ctx, piece, line)?;
            if !reserved {
                // the feature matrix at its final size, estimated from the
                // first block's bytes per row
                reserved = true;
                if let (Some(size), false) = (size_hint, eof || part.lines.is_empty()) {
                    let per_row = piece.len() as f64 / part.lines.len() as f64;
                    let rows = (size as f64 / per_row * 1.02) as usize + 16;
                    let width = part.x.len() / part.lines.len();
                    all.x.reserve_exact(rows.saturating_mul(width));
                }
            }
            line += count_line_breaks(piece);
            let mut part = part;
            labels.extend(std::mem::take(&mut part.labels));
            all.append_into(part);
        }
        if eof {
            break;
        }
        let cut = end > start;
        buf.drain(..end);
        start = 0;
        // no whole record (a long one, or quotes): read on
        let want = if cut {
            block
        } else {
            (buf.len() * 2).max(block)
        };
        fill(&mut buf, want, &mut eof)?;
    }
    finish(pro, all, labels, source_name)
}

/// The length of the whole records at the start of `bytes`, which starts
/// at a record's start: up to and including its last line break outside a
/// quoted field (0 if there is none). Quoted fields are found as the `csv`
/// crate reads them: a quote at a field's start (after `delimiter`, a line
/// break or the start) opens one, a doubled quote inside it is a quote, a
/// quote followed by anything else closes it, and a quote anywhere else is
/// a plain character. A quote that ends `bytes` might be the first of a
/// doubled one: the records end before it.
fn records_end(bytes: &[u8], delimiter: u8) -> usize {
    let (mut end, mut field_start, mut quoted) = (0, true, false);
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if quoted {
            if b == b'"' {
                match bytes.get(i + 1) {
                    Some(b'"') => i += 1, // a doubled quote: stays quoted
                    Some(_) => quoted = false,
                    None => return end,
                }
            }
            field_start = false;
        } else {
            if b == b'"' && field_start {
                quoted = true;
            } else if b == b'\n' {
                end = i + 1;
            }
            field_start = !quoted && (b == delimiter || b == b'\n' || b == b'\r');
        }
        i += 1;
    }
    end
}

/// Parses `body`, whose first line is `first_line`, in parallel pieces
/// when it is large.
fn parse_body(ctx: &Context<'_>, body: &[u8], body_first_line: usize) -> Result<Part> {
    let derr = |message: String| data_error(ctx.source_name, message);
    let pieces = split_body(body);
    let parts: Vec<Result<Part>> = if pieces.len() == 1 {
        vec![ctx.parse_piece(body, body_first_line)]
    } else {
        let mut starts = Vec::with_capacity(pieces.len());
        let mut line = body_first_line;
        for p in &pieces {
            starts.push(line);
            line += count_line_breaks(p);
        }
        std::thread::scope(|s| {
            let handles: Vec<_> = pieces
                .iter()
                .zip(&starts)
                .map(|(p, &l)| {
                    let ctx = &ctx;
                    s.spawn(move || ctx.parse_piece(p, l))
                })
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join()
                        .unwrap_or_else(|_| Err(derr("a parser thread panicked".to_string())))
                })
                .collect()
        })
    };
    let mut all = Part::default();
    for part in parts {
        all.append(part?);
    }
    Ok(all)
}

/// The table of the parsed rows.
fn finish(pro: Prologue, all: Part, labels: LabelStore, source_name: &str) -> Result<RawTable> {
    let derr = |message: String| data_error(source_name, message);
    let Prologue {
        delimiter,
        n_cols,
        header,
        header_guess,
        names,
        roles,
        ..
    } = pro;
    if all.lines.is_empty() {
        return Err(derr(if header {
            "no data rows after the header".to_string()
        } else {
            "no data rows".to_string()
        }));
    }
    let rows = all.lines.len();
    let column_name = |c: usize| match &names {
        Some(n) => n[c].clone(),
        None => format!("column {}", c + 1),
    };
    let mut feature_cols: Vec<(usize, usize)> = roles
        .roles
        .iter()
        .enumerate()
        .filter_map(|(c, r)| match r {
            Role::Feature(j) => Some((*j, c)),
            _ => None,
        })
        .collect();
    feature_cols.sort_unstable();
    let n_features = feature_cols.len();
    Ok(RawTable {
        source_name: source_name.to_string(),
        feature_names: feature_cols.iter().map(|&(_, c)| column_name(c)).collect(),
        x: Matrix::from_vec(rows, n_features, all.x)?,
        target: if roles.labels.is_empty() {
            RawTarget::None
        } else {
            labels.into_target()
        },
        target_names: roles.labels.iter().map(|&c| column_name(c)).collect(),
        kind: SourceKind::Csv,
        pixel_data: false,
        target_source: source_name.to_string(),
        row_lines: all.lines,
        ids: roles.id.map(|_| all.ids),
        weights: roles.weight.map(|_| all.weights),
        ignored_columns: roles.ignored.iter().map(|&c| column_name(c)).collect(),
        layout: Some(CsvLayout {
            delimiter,
            header,
            columns: n_cols,
            label_positions: roles.labels.clone(),
        }),
        header_guess,
    })
}

/// Checks that `d` can separate fields.
fn check_delimiter(d: u8) -> Result<()> {
    if !d.is_ascii() || matches!(d, b'\n' | b'\r' | b'"') {
        return Err(Error::config(
            "delimiter",
            format!(
                "{:?} cannot separate fields; use one ASCII character other than a line break \
                 or a quote",
                char::from(d)
            ),
        ));
    }
    Ok(())
}

/// A reader of `bytes` with `delimiter`: no header handling (ours), records
/// of any length (checked by us, with better messages).
fn reader(bytes: &[u8], delimiter: u8) -> csv::Reader<&[u8]> {
    csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .has_headers(false)
        .flexible(true)
        .from_reader(bytes)
}

/// The first non-blank record of `bytes`, fields untrimmed.
fn csv_first_record(bytes: &[u8], delimiter: u8) -> csv::ByteRecord {
    let mut r = reader(bytes, delimiter);
    let mut record = csv::ByteRecord::new();
    while let Ok(true) = r.read_byte_record(&mut record) {
        if !is_blank(&record) {
            break;
        }
    }
    record
}

/// A record that is an empty or all-space line.
fn is_blank(record: &csv::ByteRecord) -> bool {
    record.is_empty() || (record.len() == 1 && trim(&record[0]).is_empty())
}

/// `f` without surrounding ASCII spaces and tabs.
#[inline]
fn trim(f: &[u8]) -> &[u8] {
    f.trim_ascii()
}

/// A `csv` crate error as one of ours, with the line where it happened.
fn csv_error(source_name: &str, line_offset: usize, e: &csv::Error) -> Error {
    let line = e.position().map_or(1, |p| p.line() as usize) + line_offset;
    Error::Parse {
        source_name: source_name.to_string(),
        line,
        message: match e.kind() {
            csv::ErrorKind::Io(io) => format!("cannot read: {io}"),
            _ => e.to_string(),
        },
    }
}

/// The delimiter of `bytes`, sniffed from its first lines: among [`SNIFFED`],
/// the one found the same number of times (at least once) on every sampled
/// line, the most often; else the one most frequent on the first line; else `,`.
/// Quoted text is not counted.
///
/// ```
/// use backprop::data::csv::sniff_delimiter;
/// assert_eq!(sniff_delimiter(b"a;b;c\n1,5;2;3\n"), b';');
/// assert_eq!(sniff_delimiter(b"a\tb\n1\t2\n"), b'\t');
/// assert_eq!(sniff_delimiter(b"\"x,y\"|b\n1|2\n"), b'|');
/// assert_eq!(sniff_delimiter(b"just one column\n"), b',');
/// ```
pub fn sniff_delimiter(bytes: &[u8]) -> u8 {
    const LINES: usize = 30;
    let mut counts: Vec<[usize; 4]> = Vec::new();
    let mut current = [0usize; 4];
    let mut in_quotes = false;
    let mut nonblank = false;
    for &b in bytes.iter().take(1 << 16) {
        match b {
            b'"' => in_quotes = !in_quotes,
            b'\n' if !in_quotes => {
                if nonblank {
                    counts.push(current);
                }
                current = [0; 4];
                nonblank = false;
                if counts.len() == LINES {
                    break;
                }
            }
            _ if in_quotes => {}
            _ => {
                if let Some(i) = SNIFFED.iter().position(|&d| d == b) {
                    current[i] += 1;
                }
                if !b.is_ascii_whitespace() {
                    nonblank = true;
                }
            }
        }
    }
    if nonblank && counts.len() < LINES {
        counts.push(current);
    }
    let Some(first) = counts.first() else {
        return b',';
    };
    let consistent = (0..4)
        .filter(|&i| first[i] > 0 && counts.iter().all(|c| c[i] == first[i]))
        .max_by_key(|&i| (first[i], std::cmp::Reverse(i)));
    let frequent = (0..4)
        .filter(|&i| first[i] > 0)
        .max_by_key(|&i| (first[i], std::cmp::Reverse(i)));
    consistent.or(frequent).map_or(b',', |i| SNIFFED[i])
}

/// Whether `s` reads as a number (`inf` included: it is a bad value, not a name).
fn is_number(s: &str) -> bool {
    s.parse::<f64>().is_ok()
}

/// Decides whether the first sampled row is a header (see the module docs).
fn detect_header(sample: &[(usize, Vec<String>)]) -> (bool, Option<HeaderGuess>) {
    let first = &sample[0].1;
    let body: Vec<&Vec<String>> = sample[1..]
        .iter()
        .map(|(_, r)| r)
        .filter(|r| r.len() == first.len())
        .collect();
    if body.is_empty() {
        // One row: a header if anything in it is not a number.
        return (first.iter().any(|f| !is_number(f)), None);
    }
    let mut unique_word = None;
    let mut word_in_body = false;
    let mut numeric_cols = 0;
    let mut index_like = true;
    for (c, head) in first.iter().enumerate() {
        let values: Vec<&str> = body
            .iter()
            .map(|r| r[c].as_str())
            .filter(|v| !super::classes::is_missing(v))
            .collect();
        // mostly numbers: a bad value further down is reported at its own line
        let numbers = values.iter().filter(|v| is_number(v)).count();
        let body_numeric = numbers > 0 && numbers * 10 >= values.len() * 9;
        if body_numeric {
            if !is_number(head) && !super::classes::is_missing(head) {
                // a word above numbers
                return (true, None);
            }
            numeric_cols += 1;
            index_like &= head.parse::<usize>().is_ok_and(|v| v == c);
        } else if !values.is_empty() {
            let repeats = {
                let distinct: std::collections::BTreeSet<&str> = values.iter().copied().collect();
                distinct.len() < values.len()
            };
            if values.contains(&head.as_str()) {
                word_in_body = true;
            } else if repeats && unique_word.is_none() {
                unique_word = Some(head.clone());
            }
        }
    }
    // pandas' unnamed columns: 0,1,2,… above numbers, if the body does not
    // start the same way.
    if numeric_cols >= 2 && index_like {
        let body_also = body.iter().any(|r| {
            r.iter()
                .enumerate()
                .all(|(c, v)| v.parse::<usize>().is_ok_and(|v| v == c) || !is_number(v))
        });
        if !body_also {
            return (true, None);
        }
    }
    match unique_word {
        Some(w) if !word_in_body => {
            if numeric_cols == 0 {
                (
                    true,
                    Some(HeaderGuess {
                        header: true,
                        reason: format!(
                            "no column holds numbers, and the first row's {} occurs nowhere below",
                            show(&w)
                        ),
                    }),
                )
            } else {
                (
                    false,
                    Some(HeaderGuess {
                        header: false,
                        reason: format!(
                            "the first row's numbers look like data, but its {} occurs only once \
                             in its column",
                            show(&w)
                        ),
                    }),
                )
            }
        }
        _ => (false, None),
    }
}

/// What each column of the file is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Role {
    /// Feature `j` (its position in the features).
    Feature(usize),
    /// Target column `k`.
    Label(usize),
    /// The id column.
    Id,
    /// The row-weight column.
    Weight,
    /// Not read.
    Skip,
}

/// The roles of the columns and the positions of the labels, id and ignored columns.
struct Roles {
    roles: Vec<Role>,
    labels: Vec<usize>,
    id: Option<usize>,
    weight: Option<usize>,
    ignored: Vec<usize>,
}

/// The column called `name`: a header name, or `column N` (1-based) without a
/// header. `Ok(None)` if there is none; `Err` if the header has it twice.
fn find_column(
    names: Option<&[String]>,
    n_cols: usize,
    name: &str,
    source_name: &str,
) -> Result<Option<usize>> {
    match names {
        Some(names) => {
            let mut found = names.iter().enumerate().filter(|(_, n)| *n == name);
            match (found.next(), found.next()) {
                (Some((i, _)), None) => Ok(Some(i)),
                (Some(_), Some(_)) => Err(data_error(
                    source_name,
                    format!("the header names more than one column {}", show(name)),
                )),
                (None, _) => Ok(None),
            }
        }
        None => Ok(name
            .strip_prefix("column ")
            .and_then(|n| n.parse::<usize>().ok())
            .filter(|&n| n >= 1 && n <= n_cols)
            .map(|n| n - 1)),
    }
}

/// "the columns are 'a', 'b', …" for an unknown-column message.
fn list_columns(names: Option<&[String]>, n_cols: usize) -> String {
    match names {
        Some(names) => {
            let listed: Vec<String> = names.iter().take(LIST_COLUMNS).map(|n| show(n)).collect();
            let more = if names.len() > LIST_COLUMNS {
                format!(", … ({} in all)", names.len())
            } else {
                String::new()
            };
            format!("the columns are {}{more}", listed.join(", "))
        }
        None => {
            format!("the file has no header and {n_cols} columns ('column 1' to 'column {n_cols}')")
        }
    }
}

/// Decides the role of every column from the header (if any) and `opts`.
fn assign_roles(
    names: Option<&[String]>,
    n_cols: usize,
    opts: &LoadOptions,
    source_name: &str,
    delimiter: u8,
    sniffed: bool,
) -> Result<Roles> {
    let derr = |message: String| data_error(source_name, message);
    let unknown = |what: &str, name: &str| {
        derr(format!(
            "no {what} named {}; {}",
            show(name),
            list_columns(names, n_cols)
        ))
    };
    let mut roles = vec![Role::Skip; n_cols];

    // the id column
    let id = match &opts.id_column {
        Some(name) => Some(
            find_column(names, n_cols, name, source_name)?
                .ok_or_else(|| unknown("id column", name))?,
        ),
        None => None,
    };
    // the row-weight column
    let weight = match &opts.weight_column {
        Some(name) => {
            let c = find_column(names, n_cols, name, source_name)?
                .ok_or_else(|| unknown("weight column", name))?;
            if Some(c) == id {
                return Err(derr(
                    "the weight column cannot also be the id column".to_string(),
                ));
            }
            Some(c)
        }
        None => None,
    };

    // the label columns
    let mut labels: Vec<usize> = Vec::new();
    let positional = names.is_none() && opts.features.is_some();
    for (spec_index, spec) in opts.label_columns.iter().enumerate() {
        let c = match spec {
            LabelColumn::Last => Some(n_cols - 1),
            LabelColumn::Index(i) => {
                if *i >= n_cols {
                    return Err(derr(format!(
                        "label column index {i} is out of range: the file has {n_cols} \
                         column{} (indices 0 to {})",
                        if n_cols == 1 { "" } else { "s" },
                        n_cols - 1
                    )));
                }
                Some(*i)
            }
            LabelColumn::Name(name) if positional => {
                // a model's label in a headerless file: where the training file had it
                let layout = opts.features.as_ref().and_then(|f| f.layout.as_ref());
                let at = layout
                    .filter(|l| l.columns == n_cols)
                    .and_then(|l| l.label_positions.get(spec_index).copied());
                match at {
                    Some(c) => Some(c),
                    None if opts.labels_optional => None,
                    None => {
                        return Err(derr(format!(
                            "the label column {} is given by name, but the file has no header \
                             row and its {n_cols} columns are not laid out as the training \
                             file's were",
                            show(name)
                        )))
                    }
                }
            }
            LabelColumn::Name(name) => {
                if names.is_none() {
                    return Err(derr(format!(
                        "the label column is given by name ({}) but the file has no header \
                         row{}",
                        show(name),
                        if opts.header == HeaderMode::Auto {
                            format!(
                                " (its first line looks like data; give {} if it is one)",
                                mention("read.header", Some("present"))
                            )
                        } else {
                            String::new()
                        }
                    )));
                }
                match find_column(names, n_cols, name, source_name)? {
                    Some(c) => Some(c),
                    None if opts.labels_optional => None,
                    None => return Err(unknown("column", name)),
                }
            }
        };
        if let Some(c) = c {
            if labels.contains(&c) {
                return Err(derr(format!(
                    "label column {} is given twice",
                    names.map_or(format!("{}", c + 1), |n| show(&n[c]))
                )));
            }
            if Some(c) == id {
                return Err(derr(
                    "the id column cannot also be a label column".to_string(),
                ));
            }
            if Some(c) == weight {
                return Err(derr(
                    "the weight column cannot also be a label column".to_string(),
                ));
            }
            labels.push(c);
        }
    }
    for (k, &c) in labels.iter().enumerate() {
        roles[c] = Role::Label(k);
    }
    if let Some(c) = id {
        roles[c] = Role::Id;
    }
    if let Some(c) = weight {
        roles[c] = Role::Weight;
    }

    // the features
    let mut ignored = Vec::new();
    for name in &opts.ignore_columns {
        let c = find_column(names, n_cols, name, source_name)?
            .ok_or_else(|| unknown("column to ignore", name))?;
        if roles[c] != Role::Skip {
            return Err(derr(format!(
                "column {} is ignored but is also the label, the id or the weights",
                show(name)
            )));
        }
        ignored.push(c);
    }
    match &opts.features {
        None => {
            let mut j = 0;
            for (c, role) in roles.iter_mut().enumerate() {
                if *role == Role::Skip && !ignored.contains(&c) {
                    *role = Role::Feature(j);
                    j += 1;
                }
            }
            if j == 0 {
                let what = if n_cols == 1 {
                    format!(
                        "the file reads as one column{}; if its fields are separated by another \
                         character, give {}",
                        if sniffed {
                            String::new()
                        } else {
                            format!(" with the delimiter {:?}", char::from(delimiter))
                        },
                        mention("read.delimiter", None)
                    )
                } else {
                    "every column is a label, the id or ignored".to_string()
                };
                return Err(derr(format!("no feature columns: {what}")));
            }
        }
        Some(sel) => match names {
            Some(names) => {
                let mut missing = Vec::new();
                for (j, want) in sel.names.iter().enumerate() {
                    match find_column(Some(names), n_cols, want, source_name)? {
                        Some(c) if roles[c] == Role::Skip && !ignored.contains(&c) => {
                            roles[c] = Role::Feature(j)
                        }
                        Some(_) => {
                            return Err(derr(format!(
                                "the model's feature {} is also the label, the id or ignored",
                                show(want)
                            )))
                        }
                        None => missing.push(show(want)),
                    }
                }
                if !missing.is_empty() {
                    let listed: Vec<&String> = missing.iter().take(LIST_COLUMNS).collect();
                    return Err(derr(format!(
                        "{} of the model's {} features {} missing from the header: {}{}; {}",
                        missing.len(),
                        sel.names.len(),
                        if missing.len() == 1 { "is" } else { "are" },
                        listed
                            .iter()
                            .map(|s| s.as_str())
                            .collect::<Vec<_>>()
                            .join(", "),
                        if missing.len() > LIST_COLUMNS {
                            ", …"
                        } else {
                            ""
                        },
                        list_columns(Some(names), n_cols)
                    )));
                }
                for (c, role) in roles.iter().enumerate() {
                    if *role == Role::Skip && !ignored.contains(&c) {
                        ignored.push(c);
                    }
                }
                ignored.sort_unstable();
            }
            None => {
                let free: Vec<usize> = (0..n_cols)
                    .filter(|&c| roles[c] == Role::Skip && !ignored.contains(&c))
                    .collect();
                if free.len() != sel.names.len() {
                    let layout = sel.layout.as_ref().map_or(String::new(), |l| {
                        format!(" (the training file had {} columns)", l.columns)
                    });
                    return Err(derr(format!(
                        "{} feature column{}, but the model takes {} feature{}{layout}; without a \
                         header, columns are matched by position, so the count must match (or \
                         give the file a header row naming the columns)",
                        free.len(),
                        if free.len() == 1 { "" } else { "s" },
                        sel.names.len(),
                        if sel.names.len() == 1 { "" } else { "s" },
                    )));
                }
                for (j, c) in free.into_iter().enumerate() {
                    roles[c] = Role::Feature(j);
                }
            }
        },
    }
    Ok(Roles {
        roles,
        labels,
        id,
        weight,
        ignored,
    })
}

/// The label text of all rows (row-major, one string per label column),
/// as codes into its distinct values in order of first appearance
/// ([`RawTarget::Codes`]: 4 bytes a row for class names) — or, once there
/// are more than [`LabelStore::MAX_DISTINCT`] distinct values (the numbers
/// of a regression target), as one string per row ([`RawTarget::Text`]).
#[derive(Default)]
struct LabelStore {
    values: Vec<String>,
    index: std::collections::HashMap<String, u32>,
    codes: Vec<u32>,
    /// Per-row text, once there were too many distinct values.
    text: Option<Vec<String>>,
}

impl LabelStore {
    /// More distinct values than any classifier takes.
    const MAX_DISTINCT: usize = super::MAX_CLASSES;

    /// Adds the labels of the next rows.
    fn extend(&mut self, labels: Vec<String>) {
        let mut labels = labels.into_iter();
        while self.text.is_none() {
            let Some(label) = labels.next() else {
                return;
            };
            if let Some(&c) = self.index.get(&label) {
                self.codes.push(c);
                continue;
            }
            if self.values.len() == Self::MAX_DISTINCT {
                let mut text: Vec<String> = std::mem::take(&mut self.codes)
                    .into_iter()
                    .map(|c| self.values[c as usize].clone())
                    .collect();
                text.push(label);
                self.values = Vec::new();
                self.index = std::collections::HashMap::new();
                self.text = Some(text);
                break;
            }
            let c = self.values.len() as u32;
            self.index.insert(label.clone(), c);
            self.values.push(label);
            self.codes.push(c);
        }
        if let Some(text) = &mut self.text {
            text.extend(labels);
        }
    }

    fn into_target(self) -> RawTarget {
        match self.text {
            Some(text) => RawTarget::Text(text),
            None => RawTarget::Codes {
                values: self.values,
                codes: self.codes,
            },
        }
    }
}

/// What one piece of the body parsed to.
#[derive(Default)]
struct Part {
    x: Vec<f32>,
    labels: Vec<String>,
    ids: Vec<String>,
    weights: Vec<f32>,
    lines: Vec<usize>,
}

impl Part {
    /// [`Part::append`] that keeps `self`'s buffers (and the room reserved
    /// in them) even when `self` is still empty.
    fn append_into(&mut self, mut other: Part) {
        self.x.append(&mut other.x);
        self.labels.append(&mut other.labels);
        self.ids.append(&mut other.ids);
        self.weights.append(&mut other.weights);
        self.lines.append(&mut other.lines);
    }

    fn append(&mut self, mut other: Part) {
        if self.lines.is_empty() {
            *self = other;
            return;
        }
        self.x.append(&mut other.x);
        self.labels.append(&mut other.labels);
        self.ids.append(&mut other.ids);
        self.weights.append(&mut other.weights);
        self.lines.append(&mut other.lines);
    }
}

/// Everything a piece parser needs.
struct Context<'a> {
    source_name: &'a str,
    delimiter: u8,
    n_cols: usize,
    roles: &'a Roles,
    names: Option<&'a [String]>,
}

impl Context<'_> {
    fn column(&self, c: usize) -> String {
        match self.names {
            Some(n) => format!("column '{}'", n[c]),
            None => format!("column {}", c + 1),
        }
    }

    /// Parses the records of `piece`, whose first line is `first_line`.
    fn parse_piece(&self, piece: &[u8], first_line: usize) -> Result<Part> {
        let perr = |line: usize, message: String| Error::Parse {
            source_name: self.source_name.to_string(),
            line,
            message,
        };
        let n_features = self
            .roles
            .roles
            .iter()
            .filter(|r| matches!(r, Role::Feature(_)))
            .count();
        // One value needs at least 2 bytes (itself and a separator or line
        // end), so the capacities never exceed what a valid piece fills.
        let lines_hint = (count_newlines(piece) + 1).min(piece.len() / 2 + 1);
        let mut part = Part {
            x: Vec::with_capacity(
                lines_hint
                    .saturating_mul(n_features)
                    .min(piece.len() / 2 + 1),
            ),
            lines: Vec::with_capacity(lines_hint),
            ..Part::default()
        };
        let n_labels = self.roles.labels.len();
        // features in file order are pushed as they come
        let in_order = self
            .roles
            .roles
            .iter()
            .filter_map(|r| match r {
                Role::Feature(j) => Some(*j),
                _ => None,
            })
            .enumerate()
            .all(|(i, j)| i == j);
        let mut row_x = vec![0.0f32; n_features];
        let mut row_labels = vec![String::new(); n_labels];
        let mut reader = reader(piece, self.delimiter);
        let mut record = csv::ByteRecord::new();
        // Lines are counted here: after `\r\n` the crate's positions point at the `\n`.
        let (mut counted_to, mut line) = (0usize, first_line);
        loop {
            match reader.read_byte_record(&mut record) {
                Ok(true) => {}
                Ok(false) => break,
                Err(e) => return Err(csv_error(self.source_name, first_line - 1, &e)),
            }
            if is_blank(&record) {
                continue;
            }
            let mut start = record
                .position()
                .map_or(counted_to, |p| {
                    usize::try_from(p.byte()).unwrap_or(usize::MAX)
                })
                .clamp(counted_to, piece.len());
            while piece.get(start).is_some_and(|&b| b == b'\n' || b == b'\r') {
                start += 1;
            }
            line += count_line_breaks(&piece[counted_to..start]);
            counted_to = start;
            if record.len() != self.n_cols {
                return Err(perr(
                    line,
                    format!("expected {} fields, found {}", self.n_cols, record.len()),
                ));
            }
            let not_utf8 =
                |c: usize| perr(line, format!("{}: the text is not UTF-8", self.column(c)));
            for ((c, field), role) in record.iter().enumerate().zip(&self.roles.roles) {
                match *role {
                    Role::Feature(j) => {
                        let v = feature_value(field)
                            .map_err(|m| perr(line, format!("{}: {m}", self.column(c))))?;
                        if in_order {
                            part.x.push(v);
                        } else {
                            row_x[j] = v;
                        }
                    }
                    Role::Label(k) => {
                        row_labels[k] = std::str::from_utf8(trim(field))
                            .map_err(|_| not_utf8(c))?
                            .to_string();
                    }
                    Role::Id => part.ids.push(
                        std::str::from_utf8(trim(field))
                            .map_err(|_| not_utf8(c))?
                            .to_string(),
                    ),
                    Role::Weight => {
                        let w = feature_value(field)
                            .map_err(|m| perr(line, format!("{}: {m}", self.column(c))))?;
                        if w < 0.0 {
                            return Err(perr(
                                line,
                                format!(
                                    "{}: weight {w} is negative; row weights must be numbers >= 0",
                                    self.column(c)
                                ),
                            ));
                        }
                        part.weights.push(w);
                    }
                    Role::Skip => {}
                }
            }
            if !in_order {
                part.x.extend_from_slice(&row_x);
            }
            part.labels
                .extend(row_labels.iter_mut().map(std::mem::take));
            part.lines.push(line);
        }
        Ok(part)
    }
}

/// A feature field's value (surrounding spaces ignored), or why it is not one.
#[inline]
fn feature_value(field: &[u8]) -> Result<f32, String> {
    let f = trim(field);
    match fast_number(f, b'\n') {
        Some((v, len)) if len == f.len() => Ok(v),
        _ => parse_number(&String::from_utf8_lossy(f)),
    }
}

/// `body` cut at line breaks into about one piece per core, when it is large
/// and holds no quote (a quoted field may span lines); else one piece.
fn split_body(body: &[u8]) -> Vec<&[u8]> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get().min(16));
    if threads < 2 || body.len() < PARALLEL_MIN_BYTES || body.contains(&b'"') {
        return vec![body];
    }
    let target = body.len() / threads + 1;
    let mut pieces = Vec::with_capacity(threads);
    let mut start = 0;
    while start < body.len() {
        let mut end = (start + target).min(body.len());
        if end < body.len() {
            end = match body[end..].iter().position(|&b| b == b'\n') {
                Some(i) => end + i + 1,
                None => body.len(),
            };
        }
        pieces.push(&body[start..end]);
        start = end;
    }
    pieces
}

/// The number of `\n` bytes in `b` (vectorised: byte sums over 255-byte blocks).
fn count_newlines(b: &[u8]) -> usize {
    b.chunks(255)
        .map(|block| {
            let n: u8 = block.iter().fold(0u8, |n, &c| n + u8::from(c == b'\n'));
            usize::from(n)
        })
        .sum()
}

/// The number of line breaks in `b` as the `csv` crate counts records:
/// `\n`, `\r\n`, and a `\r` not followed by `\n` (one at the very end
/// counts: callers cut `b` after whole line breaks).
fn count_line_breaks(b: &[u8]) -> usize {
    let mut n = count_newlines(b);
    if b.contains(&b'\r') {
        n += b
            .iter()
            .enumerate()
            .filter(|&(i, &c)| c == b'\r' && b.get(i + 1) != Some(&b'\n'))
            .count();
    }
    n
}
