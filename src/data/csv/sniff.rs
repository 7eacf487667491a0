//! What the first rows say about the format: the delimiter (given and
//! checked, or sniffed), a sample of the first rows, whether the first row
//! is a header (see the module docs of `csv`), and the header's names.

use super::record::{csv_error, is_blank, reader, trim};
use crate::data::classes::is_missing;
use crate::data::columns::parse_date;
use crate::data::message::show;
use crate::data::table::HeaderGuess;
use crate::error::{Error, Result};

/// Rows read to sniff the delimiter and detect the header.
pub(super) const SAMPLE_ROWS: usize = 200;

/// The delimiters tried when none is given, in order of preference on ties.
pub const SNIFFED: [u8; 4] = [b',', b';', b'\t', b'|'];

/// The delimiter: `given` once checked, else sniffed from `bytes`; and
/// whether it was sniffed.
pub(super) fn choose_delimiter(bytes: &[u8], given: Option<u8>) -> Result<(u8, bool)> {
    match given {
        Some(d) => {
            check_delimiter(d)?;
            Ok((d, false))
        }
        None => Ok((sniff_delimiter(bytes), true)),
    }
}

/// The decimal separator: `given`, else `,` when the delimiter is not `,`
/// and some sampled field is a number written with a decimal comma
/// (`1,5`, `-0,25`) while none is written with a decimal point; else `.`.
pub(super) fn choose_decimal(
    given: Option<u8>,
    delimiter: u8,
    rows: &[(usize, Vec<String>)],
) -> u8 {
    if let Some(d) = given {
        return d;
    }
    if delimiter == b',' {
        return b'.';
    }
    let with = |sep: char| {
        rows.iter()
            .flat_map(|(_, r)| r.iter())
            .filter(|f| decimal_number(f, sep))
            .count()
    };
    if with(',') > 0 && with('.') == 0 {
        b','
    } else {
        b'.'
    }
}

/// Whether `f` is digits, `sep`, digits (a sign and an exponent allowed).
fn decimal_number(f: &str, sep: char) -> bool {
    let f = f.strip_prefix(['-', '+']).unwrap_or(f);
    let f = match f.find(['e', 'E']) {
        Some(i) => &f[..i],
        None => f,
    };
    match f.split_once(sep) {
        Some((a, b)) => {
            a.bytes().all(|c| c.is_ascii_digit())
                && !b.is_empty()
                && b.bytes().all(|c| c.is_ascii_digit())
        }
        None => false,
    }
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

/// The delimiter of `bytes`, sniffed from its first lines: among [`SNIFFED`],
/// the one found the same number of times (at least once) on every sampled
/// line, the most often (`;` first whenever it is: commas beside it are
/// decimal commas); else the one most frequent on the first line; else `,`.
/// Quoted text is not counted.
///
/// ```
/// use backprop::data::csv::sniff_delimiter;
/// assert_eq!(sniff_delimiter(b"a;b;c\n1,5;2;3\n"), b';');
/// assert_eq!(sniff_delimiter(b"1,5;2,25\n3,0;4,5\n"), b';');
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
    let is_consistent = |i: usize| first[i] > 0 && counts.iter().all(|c| c[i] == first[i]);
    // `;` on every line as often is the field separator even when commas
    // are as regular: they are decimal commas (`1,5;2,25`)
    if is_consistent(1) {
        return b';';
    }
    let consistent = (0..4)
        .filter(|&i| is_consistent(i))
        .max_by_key(|&i| (first[i], std::cmp::Reverse(i)));
    let frequent = (0..4)
        .filter(|&i| first[i] > 0)
        .max_by_key(|&i| (first[i], std::cmp::Reverse(i)));
    consistent.or(frequent).map_or(b',', |i| SNIFFED[i])
}

/// The first non-blank rows of a file, up to [`SAMPLE_ROWS`].
pub(super) struct Sample {
    /// Each row's line and its trimmed fields.
    pub(super) rows: Vec<(usize, Vec<String>)>,
    /// Where the reader stood after the first row.
    pub(super) data_start: Option<csv::Position>,
}

/// The sample of `bytes` read with `delimiter`.
pub(super) fn read_sample(bytes: &[u8], delimiter: u8, source_name: &str) -> Result<Sample> {
    let mut rows: Vec<(usize, Vec<String>)> = Vec::new();
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
        if rows.is_empty() {
            data_start = Some(reader.position().clone());
        }
        let fields = record
            .iter()
            .map(|f| String::from_utf8_lossy(trim(f)).into_owned())
            .collect();
        rows.push((line, fields));
        if rows.len() >= SAMPLE_ROWS {
            break;
        }
    }
    Ok(Sample { rows, data_start })
}

/// The names in the header of `bytes` (its first non-blank record, of
/// `n_cols` fields, at `first_line`): UTF-8 and not empty.
pub(super) fn header_names(
    bytes: &[u8],
    delimiter: u8,
    n_cols: usize,
    first_line: usize,
    source_name: &str,
) -> Result<Vec<String>> {
    let perr = |message: String| Error::Parse {
        source_name: source_name.to_string(),
        line: first_line,
        message,
    };
    let raw = first_record(bytes, delimiter);
    let mut names = Vec::with_capacity(n_cols);
    for (c, f) in raw.iter().enumerate() {
        let name = std::str::from_utf8(trim(f))
            .map_err(|_| perr(format!("header: column {} is not UTF-8 text", c + 1)))?;
        // an empty name is checked once the roles are known (pandas' index)
        names.push(name.to_string());
    }
    Ok(names)
}

/// The first non-blank record of `bytes`, fields untrimmed.
fn first_record(bytes: &[u8], delimiter: u8) -> csv::ByteRecord {
    let mut r = reader(bytes, delimiter);
    let mut record = csv::ByteRecord::new();
    while let Ok(true) = r.read_byte_record(&mut record) {
        if !is_blank(&record) {
            break;
        }
    }
    record
}

/// Whether `s` reads as a number (`inf` included: it is a bad value, not a name).
fn is_number(s: &str) -> bool {
    s.parse::<f64>().is_ok()
}

/// Decides whether the first sampled row is a header (see the module docs).
pub(super) fn detect_header(sample: &[(usize, Vec<String>)]) -> (bool, Option<HeaderGuess>) {
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
            .filter(|v| !is_missing(v))
            .collect();
        // mostly numbers: a bad value further down is reported at its own line
        let numbers = values.iter().filter(|v| is_number(v)).count();
        let body_numeric = numbers > 0 && numbers * 10 >= values.len() * 9;
        if body_numeric {
            if !is_number(head) && !is_missing(head) {
                // a word above numbers
                return (true, None);
            }
            numeric_cols += 1;
            index_like &= head.parse::<usize>().is_ok_and(|v| v == c);
        } else if !values.is_empty() && values.iter().all(|v| parse_date(v).is_some()) {
            if parse_date(head).is_none() && !is_missing(head) {
                // a word above dates
                return (true, None);
            }
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
    if numeric_cols >= 2 && index_like && !body_starts_like_index(&body) {
        return (true, None);
    }
    match unique_word {
        Some(w) if !word_in_body => unique_word_guess(&w, numeric_cols),
        _ => (false, None),
    }
}

/// Whether a row of `body` is also `0, 1, 2, …` (text aside).
fn body_starts_like_index(body: &[&Vec<String>]) -> bool {
    body.iter().any(|r| {
        r.iter()
            .enumerate()
            .all(|(c, v)| v.parse::<usize>().is_ok_and(|v| v == c) || !is_number(v))
    })
}

/// The guess when the only hint is the first row's word `w`, found nowhere
/// below in its text column: a header if no column holds numbers, else data.
fn unique_word_guess(w: &str, numeric_cols: usize) -> (bool, Option<HeaderGuess>) {
    if numeric_cols == 0 {
        (
            true,
            Some(HeaderGuess {
                header: true,
                reason: format!(
                    "no column holds numbers, and the first row's {} occurs nowhere below",
                    show(w)
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
                    show(w)
                ),
            }),
        )
    }
}
