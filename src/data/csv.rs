//! Delimited text: the general parser [`parse`] behind [`super::load`], and
//! [`parse_labeled_csv`], the strict format of the embedded datasets.
//!
//! The format: one sample per line, fields separated by one ASCII byte (`,` by
//! default), no quoting; an optional header row naming the columns
//! ([`HeaderMode`]); every column but the label column is a finite number
//! (parsed as `f64`, stored as its `f32` rounding); the label column is kept as
//! text ([`RawTarget::Text`]). Lines end in `\n` or `\r\n`, the last line ending
//! is optional, a leading UTF-8 BOM is skipped, and a blank line (even at the
//! end) is an error.
//!
//! Anything else is an [`Error::Parse`] with the 1-based line and the column
//! (`column 'age'` by header name, `column 5` by 1-based position without a
//! header), or an [`Error::Data`] for a file-level problem (empty, no data rows,
//! unknown label column); the parser never panics, whatever the input.
//!
//! Speed: one pass over the text, no allocation per field (one `String` per
//! row for the label), the feature vector allocated once from the line count.

use super::array::data_error;
use super::show;
use super::source::{HeaderMode, LabelColumn, LoadOptions, RawTable, RawTarget, SourceKind};
use crate::error::{Error, Result};
use crate::tensor::Matrix;

/// Labels must be below this; it bounds the one-hot width a file can ask for.
pub const MAX_CLASSES: usize = 1 << 16;

/// How many column names an "unknown label column" message lists.
const LIST_COLUMNS: usize = 20;

/// Parses delimited `text` as `opts` say; `source_name` (a file name) prefixes
/// error messages. `opts.labels_path` is ignored.
///
/// ```
/// use backprop::data::{csv, LabelColumn, LoadOptions, RawTarget};
/// let text = "age;species;weight\n3;cat;4.5\n5;dog;20\n";
/// let opts = LoadOptions {
///     label: Some(LabelColumn::Name("species".into())),
///     delimiter: b';',
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
    let perr = |line: usize, message: String| Error::Parse {
        source_name: source_name.to_string(),
        line,
        message,
    };
    let derr = |message: String| data_error(source_name, message);
    let delim = opts.delimiter;
    if !delim.is_ascii() || delim == b'\n' || delim == b'\r' {
        return Err(Error::config(
            "--delimiter",
            format!(
                "{:?} cannot separate fields; use one ASCII character other than a line break",
                char::from(delim)
            ),
        ));
    }
    let delim_byte = delim;
    let delim = char::from(delim);
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let Some(first) = text.lines().next() else {
        return Err(derr("the file is empty".to_string()));
    };
    if first.is_empty() {
        return Err(perr(1, "empty line".to_string()));
    }
    let n_cols = first.split(delim).count();

    // The label column as far as it is known without a header.
    let label_pre = match &opts.label {
        Some(LabelColumn::Last) => Some(n_cols - 1),
        Some(LabelColumn::Index(i)) => {
            let i = *i;
            if i >= n_cols {
                return Err(derr(format!(
                    "label column index {i} is out of range: the first line has {n_cols} \
                     column{} (indices 0 to {})",
                    if n_cols == 1 { "" } else { "s" },
                    n_cols - 1
                )));
            }
            Some(i)
        }
        Some(LabelColumn::Name(_)) | None => None,
    };
    let has_header = match opts.header {
        HeaderMode::Present => true,
        HeaderMode::Absent => false,
        HeaderMode::Auto => first
            .split(delim)
            .enumerate()
            .any(|(c, f)| Some(c) != label_pre && f.parse::<f64>().is_err()),
    };
    if opts.label.is_some() && n_cols < 2 {
        let what = if has_header {
            "header has 1 column"
        } else {
            "the first line has 1 field"
        };
        return Err(perr(
            1,
            format!("{what}; need at least one feature column and a label column"),
        ));
    }
    if let Some(c) = first.split(delim).position(str::is_empty) {
        return Err(perr(
            1,
            if has_header {
                format!("header: column {} has an empty name", c + 1)
            } else {
                format!("column {}: empty field", c + 1)
            },
        ));
    }
    // Every header field is non-empty, so there are at most (len + 1) / 2 names.
    let names: Vec<&str> = if has_header {
        first.split(delim).collect()
    } else {
        Vec::new()
    };
    let label = match &opts.label {
        Some(LabelColumn::Name(wanted)) => {
            if !has_header {
                return Err(derr(format!(
                    "the label column is given by name ({}) but the file has no header row{}",
                    show(wanted),
                    if opts.header == HeaderMode::Auto {
                        " (its first line holds only numbers)"
                    } else {
                        ""
                    }
                )));
            }
            let mut found = names.iter().enumerate().filter(|(_, n)| *n == wanted);
            match (found.next(), found.next()) {
                (Some((i, _)), None) => Some(i),
                (Some(_), Some(_)) => {
                    return Err(derr(format!(
                        "the header names more than one column {}",
                        show(wanted)
                    )))
                }
                (None, _) => {
                    let listed: Vec<String> =
                        names.iter().take(LIST_COLUMNS).map(|n| show(n)).collect();
                    let more = if names.len() > LIST_COLUMNS {
                        format!(", … ({} in all)", names.len())
                    } else {
                        String::new()
                    };
                    return Err(derr(format!(
                        "no column named {}; the columns are {}{more}",
                        show(wanted),
                        listed.join(", ")
                    )));
                }
            }
        }
        _ => label_pre,
    };
    let column = |c: usize| match names.get(c) {
        Some(name) => format!("column '{name}'"),
        None => format!("column {}", c + 1),
    };
    let feature_names: Vec<String> = (0..n_cols)
        .filter(|&c| Some(c) != label)
        .map(|c| match names.get(c) {
            Some(name) => name.to_string(),
            None => format!("column {}", c + 1),
        })
        .collect();
    let n_features = feature_names.len();

    let first_line = if has_header { 2 } else { 1 };
    let mut lines = text.lines();
    if has_header {
        lines.next();
    }
    // One value needs at least 2 bytes (itself and a separator or line end), so
    // the capacities below never exceed what a valid file fills.
    let line_count = count_newlines(text.as_bytes()) + 1;
    let max_values = text.len() / 2 + 1;
    let mut x: Vec<f32> = Vec::with_capacity(line_count.saturating_mul(n_features).min(max_values));
    let mut labels: Vec<String> = match label {
        Some(_) => Vec::with_capacity(line_count.min(max_values)),
        None => Vec::new(),
    };
    let ragged = |line_no: usize, line: &str| {
        let found = line.split(delim).count();
        (found != n_cols).then(|| perr(line_no, format!("expected {n_cols} fields, found {found}")))
    };
    let mut rows = 0usize;
    for (i, line) in lines.enumerate() {
        let line_no = first_line + i;
        if line.is_empty() {
            return Err(perr(line_no, "empty line".to_string()));
        }
        let bytes = line.as_bytes();
        let mut pos = 0usize;
        let mut c = 0usize;
        loop {
            // A field starts at `pos`: at 0 or just after a delimiter, so
            // `pos..pos + len` below is a char boundary range of `line`.
            if c == n_cols {
                return Err(ragged(line_no, line).unwrap_or_else(|| perr(line_no, String::new())));
            }
            let rest = &bytes[pos..];
            let (len, bad) = if Some(c) == label {
                let len = field_len(rest, delim_byte);
                if len == 0 {
                    (len, Some("empty field".to_string()))
                } else {
                    labels.push(line[pos..pos + len].to_owned());
                    (len, None)
                }
            } else if let Some((v, len)) = fast_number(rest, delim_byte) {
                x.push(v);
                (len, None)
            } else {
                let len = field_len(rest, delim_byte);
                match parse_number(&line[pos..pos + len]) {
                    Ok(v) => {
                        x.push(v);
                        (len, None)
                    }
                    Err(m) => (len, Some(m)),
                }
            };
            if let Some(m) = bad {
                return Err(ragged(line_no, line)
                    .unwrap_or_else(|| perr(line_no, format!("{}: {m}", column(c)))));
            }
            c += 1;
            pos += len;
            if pos >= bytes.len() {
                break;
            }
            pos += 1; // the delimiter
        }
        if c != n_cols {
            return Err(perr(
                line_no,
                format!("expected {n_cols} fields, found {c}"),
            ));
        }
        rows += 1;
    }
    if rows == 0 {
        return Err(derr("no data rows after the header".to_string()));
    }
    Ok(RawTable {
        source_name: source_name.to_string(),
        feature_names,
        x: Matrix::from_vec(rows, n_features, x)?,
        target: match label {
            Some(_) => RawTarget::Text(labels),
            None => RawTarget::None,
        },
        kind: SourceKind::Csv,
        pixel_data: false,
        target_source: source_name.to_string(),
        target_column: label.map(column),
        first_data_line: Some(first_line),
    })
}

/// A parsed labelled CSV file.
#[derive(Clone, Debug, PartialEq)]
pub struct LabeledCsv {
    /// The header names of the feature columns (the label column excluded).
    pub feature_names: Vec<String>,
    /// The features, `rows × feature_names.len()`, each value the `f32`
    /// rounding of the text parsed as `f64`.
    pub x: Matrix,
    /// The class label of each row.
    pub labels: Vec<usize>,
}

/// Parses `text` in the strict format of the embedded datasets (`data/README.md`):
/// a header row that must not be all numbers, `,` separators, the last column an
/// integer class label `0..K-1` ([`MAX_CLASSES`] at most); `source_name` (a file
/// name) prefixes error messages. [`parse`] with [`HeaderMode::Present`] and
/// [`LabelColumn::Last`] does the rest.
///
/// ```
/// use backprop::data::csv::parse_labeled_csv;
/// let csv = parse_labeled_csv("age,weight,label\n31,70.5,1\n45,80,0\n", "people.csv").unwrap();
/// assert_eq!(csv.feature_names, ["age", "weight"]);
/// assert_eq!(csv.x.row(0), &[31.0, 70.5]);
/// assert_eq!(csv.labels, [1, 0]);
///
/// let err = parse_labeled_csv("age,label\n31,1\nabc,0\n", "people.csv").unwrap_err();
/// assert_eq!(err.to_string(), "people.csv:3: column 'age': 'abc' is not a number");
/// ```
pub fn parse_labeled_csv(text: &str, source_name: &str) -> Result<LabeledCsv> {
    let err = |line: usize, message: String| Error::Parse {
        source_name: source_name.to_string(),
        line,
        message,
    };
    if text.is_empty() {
        return Err(err(1, "empty input: expected a header row".to_string()));
    }
    let header = text.lines().next().unwrap_or_default();
    let names: Vec<&str> = header.split(',').collect();
    if names.len() >= 2
        && names.iter().all(|n| !n.is_empty())
        && names.iter().all(|n| n.parse::<f64>().is_ok())
    {
        return Err(err(
            1,
            "header holds only numbers; the first line must name the columns".to_string(),
        ));
    }
    let opts = LoadOptions {
        label: Some(LabelColumn::Last),
        header: HeaderMode::Present,
        delimiter: b',',
        labels_path: None,
    };
    let table = parse(text, source_name, &opts)?;
    let first = table.first_data_line.unwrap_or(2);
    let column = table.target_column.clone().unwrap_or_default();
    let labels = table
        .labels()?
        .iter()
        .enumerate()
        .map(|(r, l)| parse_label(l).map_err(|m| err(first + r, format!("{column}: {m}"))))
        .collect::<Result<Vec<usize>>>()?;
    Ok(LabeledCsv {
        feature_names: table.feature_names,
        x: table.x,
        labels,
    })
}

/// The number of classes the labels imply: the largest label + 1 (0 for none).
///
/// A test split may lack the largest class: take the count from the training split.
///
/// ```
/// assert_eq!(backprop::data::csv::n_classes(&[0, 3, 1]), 4);
/// assert_eq!(backprop::data::csv::n_classes(&[]), 0);
/// ```
pub fn n_classes(labels: &[usize]) -> usize {
    labels.iter().max().map_or(0, |&m| m.saturating_add(1))
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

/// The length of the field at the start of `rest`: up to `delim` or the end.
#[inline]
fn field_len(rest: &[u8], delim: u8) -> usize {
    rest.iter().position(|&b| b == delim).unwrap_or(rest.len())
}

/// `10^k` for `k` in `0..=15`, exact in `f64`.
const POW10: [f64; 16] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
];

/// The fast path of [`parse_number`]: a plain decimal `[+-]digits[.digits]`
/// with at most 15 digits, at the start of `b` and ended by `delim` or the end
/// of `b`; returns the value and the field's length, or `None` for any other
/// field (the caller then uses [`parse_number`]).
///
/// The digits make an integer `m < 2^53` and the value is `m / 10^k` with
/// `k <= 15`: both are exact in `f64`, so the one division rounds correctly and
/// gives exactly `str::parse::<f64>` (Clinger's fast path, which the standard
/// library takes for these inputs too). The `f32` cast is then the same too.
#[inline]
fn fast_number(b: &[u8], delim: u8) -> Option<(f32, usize)> {
    let (neg, mut i) = match b.first() {
        Some(b'-') => (true, 1),
        Some(b'+') => (false, 1),
        _ => (false, 0),
    };
    let (mut mantissa, mut digits) = digit_run(&b[i..]);
    i += digits;
    let mut frac = 0;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let (f, n) = digit_run(&b[i..]);
        i += n;
        if n > 15 {
            return None;
        }
        mantissa = mantissa.wrapping_mul(POW10_U64[n]).wrapping_add(f);
        digits += n;
        frac = n;
    }
    if digits == 0 || digits > 15 || b.get(i).is_some_and(|&ch| ch != delim) {
        return None;
    }
    let v = if frac == 0 {
        mantissa as f64
    } else {
        mantissa as f64 / POW10[frac]
    };
    Some(((if neg { -v } else { v }) as f32, i))
}

/// `10^k` for `k` in `0..=16`.
const POW10_U64: [u64; 17] = {
    let mut t = [1u64; 17];
    let mut k = 1;
    while k < 17 {
        t[k] = t[k - 1] * 10;
        k += 1;
    }
    t
};

/// The value and length of the run of ASCII digits at the start of `b`. Runs
/// longer than 16 digits stop at 16 or more, with a meaningless value: the
/// caller rejects them. Eight bytes at a time (SWAR) while eight are left.
#[inline]
fn digit_run(b: &[u8]) -> (u64, usize) {
    const ONES: u64 = 0x0101_0101_0101_0101;
    let (mut value, mut n) = (0u64, 0usize);
    while let Some(chunk) = b.get(n..n + 8) {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        // Digit bytes become 0..=9; the high bit of a byte of `non_digit` is
        // set where the byte was anything else (no carries between bytes).
        let t = u64::from_le_bytes(word) ^ (ONES * 0x30);
        let non_digit = (((t & (ONES * 0x7f)) + ONES * 0x76) | t) & (ONES * 0x80);
        let k = (non_digit.trailing_zeros() / 8) as usize; // 8 when all are digits
        if k > 0 {
            // Keep the k digits, moved to the top: the bytes below are zeros.
            value = value
                .wrapping_mul(POW10_U64[k])
                .wrapping_add(eight_digits(t << (8 * (8 - k))));
        }
        n += k;
        if k < 8 || n >= 16 {
            return (value, n);
        }
    }
    while let Some(d) = b
        .get(n)
        .map(|&ch| ch.wrapping_sub(b'0'))
        .filter(|&d| d < 10)
    {
        value = value.wrapping_mul(10).wrapping_add(u64::from(d));
        n += 1;
    }
    (value, n)
}

/// The number written by eight digit values `0..=9`, one per byte, the most
/// significant in the lowest byte (the `fast_float` reduction: pairs, then
/// quadruples, with two multiplications).
#[inline]
fn eight_digits(v: u64) -> u64 {
    const MASK: u64 = 0x0000_00FF_0000_00FF;
    const MUL1: u64 = 100 + (1_000_000 << 32);
    const MUL2: u64 = 1 + (10_000 << 32);
    let v = v.wrapping_mul(10).wrapping_add(v >> 8);
    ((v & MASK)
        .wrapping_mul(MUL1)
        .wrapping_add(((v >> 16) & MASK).wrapping_mul(MUL2)))
        >> 32
}

/// A finite number (the `f32` rounding of the field parsed as `f64`), or why
/// the field is not one.
pub(crate) fn parse_number(field: &str) -> Result<f32, String> {
    if field.is_empty() {
        return Err("empty field".to_string());
    }
    let v: f64 = field
        .parse()
        .map_err(|_| format!("{} is not a number", show(field)))?;
    if !v.is_finite() {
        return Err(format!("{} is not finite", show(field)));
    }
    let f = v as f32;
    if !f.is_finite() {
        return Err(format!("{} is out of the f32 range", show(field)));
    }
    Ok(f)
}

/// A class label `0..MAX_CLASSES`, or why the field is not one.
fn parse_label(field: &str) -> Result<usize, String> {
    const RANGE: &str = "labels are integer classes 0..K-1";
    if field.is_empty() {
        return Err("empty field".to_string());
    }
    match field.parse::<usize>() {
        Ok(l) if l < MAX_CLASSES => Ok(l),
        Ok(_) => Err(format!(
            "{} is too large; at most {MAX_CLASSES} classes are supported",
            show(field)
        )),
        Err(_) if field.parse::<f64>().is_err() => Err(format!("{} is not a number", show(field))),
        Err(_) if field.starts_with('-') => Err(format!("{} is negative; {RANGE}", show(field))),
        Err(_) if field.bytes().all(|b| b.is_ascii_digit()) => Err(format!(
            "{} is too large; at most {MAX_CLASSES} classes are supported",
            show(field)
        )),
        Err(_) => Err(format!("{} is not an integer; {RANGE}", show(field))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The error message for `text`, without the `f.csv:` prefix, with its line.
    fn error(text: &str) -> String {
        parse_labeled_csv(text, "f.csv").unwrap_err().to_string()
    }

    #[test]
    fn good_file() {
        let csv = parse_labeled_csv("a,b,label\n1,-2.5e-3,0\n0.1,4,2", "f.csv").unwrap();
        assert_eq!(csv.feature_names, ["a", "b"]);
        assert_eq!((csv.x.rows(), csv.x.cols()), (2, 2));
        assert_eq!(csv.x.as_slice(), &[1.0, -2.5e-3, 0.1, 4.0]);
        assert_eq!(csv.labels, [0, 2]);
        assert_eq!(n_classes(&csv.labels), 3);
    }

    #[test]
    fn values_are_the_f32_rounding_of_the_f64() {
        let v = "0.1234567890123456789";
        let csv = parse_labeled_csv(&format!("a,label\n{v},0\n"), "f.csv").unwrap();
        assert_eq!(csv.x.get(0, 0), v.parse::<f64>().unwrap() as f32);
    }

    #[test]
    fn crlf_and_trailing_newline() {
        let lf = parse_labeled_csv("a,label\n1,0\n2,1\n", "f.csv").unwrap();
        let crlf = parse_labeled_csv("a,label\r\n1,0\r\n2,1\r\n", "f.csv").unwrap();
        let bare = parse_labeled_csv("a,label\n1,0\n2,1", "f.csv").unwrap();
        assert_eq!(lf, crlf);
        assert_eq!(lf, bare);
    }

    #[test]
    fn empty_input_and_header_problems() {
        assert_eq!(error(""), "f.csv:1: empty input: expected a header row");
        assert_eq!(
            error("label\n1\n"),
            "f.csv:1: header has 1 column; need at least one feature column and a label column"
        );
        assert_eq!(
            error("a,,label\n"),
            "f.csv:1: header: column 2 has an empty name"
        );
        assert_eq!(
            error("1,2,0\n3,4,1\n"),
            "f.csv:1: header holds only numbers; the first line must name the columns"
        );
    }

    #[test]
    fn header_only() {
        assert_eq!(error("a,label\n"), "f.csv: no data rows after the header");
        assert_eq!(error("a,label"), "f.csv: no data rows after the header");
    }

    #[test]
    fn ragged_rows_and_blank_lines() {
        assert_eq!(
            error("a,b,label\n1,2,0\n1,0\n"),
            "f.csv:3: expected 3 fields, found 2"
        );
        assert_eq!(
            error("a,label\n1,0,5\n"),
            "f.csv:2: expected 2 fields, found 3"
        );
        assert_eq!(error("a,label\n1,0\n\n2,1\n"), "f.csv:3: empty line");
        assert_eq!(error("a,label\n1,0\n\n"), "f.csv:3: empty line");
    }

    #[test]
    fn bad_features() {
        assert_eq!(
            error("age,label\n1,0\nabc,1\n"),
            "f.csv:3: column 'age': 'abc' is not a number"
        );
        assert_eq!(
            error("a,b,label\n1,,0\n"),
            "f.csv:2: column 'b': empty field"
        );
        assert_eq!(
            error("a,label\nNaN,0\n"),
            "f.csv:2: column 'a': 'NaN' is not finite"
        );
        assert_eq!(
            error("a,label\n-inf,0\n"),
            "f.csv:2: column 'a': '-inf' is not finite"
        );
        assert_eq!(
            error("a,label\n1e39,0\n"),
            "f.csv:2: column 'a': '1e39' is out of the f32 range"
        );
        assert_eq!(
            error("a,label\n 1,0\n"),
            "f.csv:2: column 'a': ' 1' is not a number"
        );
        let long = format!("a,label\n{},0\n", "x".repeat(100));
        assert_eq!(
            error(&long),
            format!("f.csv:2: column 'a': '{}…' is not a number", "x".repeat(40))
        );
    }

    #[test]
    fn bad_labels() {
        assert_eq!(
            error("a,label\n1,-1\n"),
            "f.csv:2: column 'label': '-1' is negative; labels are integer classes 0..K-1"
        );
        assert_eq!(
            error("a,label\n1,1.5\n"),
            "f.csv:2: column 'label': '1.5' is not an integer; labels are integer classes 0..K-1"
        );
        assert_eq!(
            error("a,label\n1,1.0\n"),
            "f.csv:2: column 'label': '1.0' is not an integer; labels are integer classes 0..K-1"
        );
        assert_eq!(
            error("a,y\n1,cat\n"),
            "f.csv:2: column 'y': 'cat' is not a number"
        );
        assert_eq!(error("a,y\n1,\n"), "f.csv:2: column 'y': empty field");
        assert_eq!(
            error("a,y\n1,65536\n"),
            "f.csv:2: column 'y': '65536' is too large; at most 65536 classes are supported"
        );
        assert_eq!(
            error("a,y\n1,99999999999999999999999\n"),
            "f.csv:2: column 'y': '99999999999999999999999' is too large; at most 65536 classes are supported"
        );
        assert_eq!(
            parse_labeled_csv("a,y\n1,65535\n", "f.csv").unwrap().labels,
            [65535]
        );
    }

    #[test]
    fn odd_bytes_do_not_panic() {
        for text in [
            "\u{feff}",
            "\r\n",
            ",",
            "a,label\n\u{e9}\u{e9},0\n",
            "a,b\n,\n",
            "\n\n\n",
        ] {
            let _ = parse_labeled_csv(text, "f.csv");
        }
        let multibyte = format!("a,label\n{},0\n", "é".repeat(50));
        assert!(error(&multibyte).contains(&format!("'{}…'", "é".repeat(40))));
    }

    /// The fast path, where it answers, equals `parse_number` bit for bit.
    fn assert_fast_matches(field: &str) {
        let with_delim = format!("{field};rest");
        for (text, delim) in [(field, b','), (with_delim.as_str(), b';')] {
            if let Some((v, len)) = fast_number(text.as_bytes(), delim) {
                assert_eq!(len, field.len(), "{text:?}");
                let slow = parse_number(field).unwrap_or_else(|e| panic!("{field:?}: {e}"));
                assert_eq!(v.to_bits(), slow.to_bits(), "{field:?}: {v} vs {slow}");
            }
        }
    }

    #[test]
    fn digit_runs() {
        // Bytes next to '0'..'9' in ASCII, and bytes with the high bit set.
        for tail in ["", ",", ".5", "/", ":", "\u{b0}", "\u{e9}9", "9"] {
            for n in 0..=20 {
                let digits: String = (0..n)
                    .map(|i| char::from(b'0' + (i * 7 % 10) as u8))
                    .collect();
                let text = format!("{digits}{tail}");
                let (value, len) = digit_run(text.as_bytes());
                let all_digits = text.bytes().take_while(u8::is_ascii_digit).count();
                if all_digits <= 16 {
                    assert_eq!(len, all_digits, "{text:?}");
                    let expect = text[..len].parse::<u64>().unwrap_or(0);
                    assert_eq!(value, expect, "{text:?}");
                } else {
                    assert!(len >= 16, "{text:?}");
                }
            }
        }
        assert_eq!(
            eight_digits(0x0908_0706_0504_0302 - 0x0101_0101_0101_0101),
            12345678
        );
    }

    #[test]
    fn fast_path_cases() {
        for field in [
            "0",
            "-0",
            "+0",
            "0.1",
            "-73.12715",
            ".5",
            "5.",
            "-.5",
            "+1.25",
            "123456789012345",
            "0.00000000000001",
            "999999999999999",
            "16777217",
            "0.3",
            "3.4028235",
            "1.00000005960464",
        ] {
            assert!(fast_number(field.as_bytes(), b',').is_some(), "{field}");
            assert_fast_matches(field);
        }
        // Declined: left to parse_number.
        for field in [
            "",
            "-",
            ".",
            "+",
            "1e5",
            "1.2.3",
            "1,",
            "1234567890123456",
            "0.0000000000000001",
            " 1",
            "1 ",
            "nan",
            "--1",
            "1-",
            "0x10",
        ] {
            if field == "1," {
                assert_eq!(fast_number(field.as_bytes(), b','), Some((1.0, 1)));
                continue;
            }
            assert_eq!(fast_number(field.as_bytes(), b','), None, "{field}");
        }
        assert_eq!(
            fast_number(b"-0", b',').map(|(v, _)| v.to_bits()),
            Some((-0.0f32).to_bits())
        );
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2000))]
        #[test]
        fn fast_path_equals_std(field in "[+-]?[0-9]{0,17}(\\.[0-9]{0,17})?") {
            assert_fast_matches(&field);
        }

        #[test]
        fn fast_path_equals_std_on_floats(v in proptest::num::f64::NORMAL, digits in 1usize..15) {
            assert_fast_matches(&format!("{v:.digits$}"));
            assert_fast_matches(&format!("{}", v as f32));
        }
    }

    #[test]
    fn general_parser_header_detection() {
        let opts = LoadOptions::default();
        // String labels in a headerless file: the label column does not count.
        let t = parse("1,2,cat\n3,4,dog\n", "f", &opts).unwrap();
        assert_eq!((t.rows(), t.first_data_line), (2, Some(1)));
        // Any non-number feature field makes a header.
        let t = parse("1,b,y\n3,4,dog\n", "f", &opts).unwrap();
        assert_eq!(t.feature_names, ["1", "b"]);
        // Forced modes.
        let present = LoadOptions {
            header: HeaderMode::Present,
            ..LoadOptions::default()
        };
        let t = parse("1,2,3\n4,5,6\n", "f", &present).unwrap();
        assert_eq!(
            (t.feature_names.as_slice(), t.rows()),
            (&["1".to_string(), "2".to_string()][..], 1)
        );
        let absent = LoadOptions {
            header: HeaderMode::Absent,
            ..LoadOptions::default()
        };
        assert_eq!(
            parse("a,b\n", "f", &absent).unwrap_err().to_string(),
            "f:1: column 1: 'a' is not a number"
        );
        // A BOM is skipped; CRLF and no final newline are fine.
        let t = parse("\u{feff}a,y\r\n1,2\r\n3,4", "f", &opts).unwrap();
        assert_eq!(
            (t.feature_names.as_slice(), t.x.as_slice()),
            (&["a".to_string()][..], &[1.0, 3.0][..])
        );
    }
}
