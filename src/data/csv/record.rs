//! The `csv` crate's side: a reader with our settings, blank records,
//! trimmed fields, its errors as ours, and line breaks counted as it counts
//! records.

use crate::error::Error;

/// A reader of `bytes` with `delimiter`: no header handling (ours), records
/// of any length (checked by us, with better messages).
pub(super) fn reader(bytes: &[u8], delimiter: u8) -> csv::Reader<&[u8]> {
    csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .has_headers(false)
        .flexible(true)
        .from_reader(bytes)
}

/// A record that is an empty or all-space line.
#[inline]
pub(super) fn is_blank(record: &csv::ByteRecord) -> bool {
    record.is_empty() || (record.len() == 1 && trim(&record[0]).is_empty())
}

/// `f` without surrounding ASCII spaces and tabs.
#[inline]
pub(super) fn trim(f: &[u8]) -> &[u8] {
    f.trim_ascii()
}

/// A `csv` crate error as one of ours, with the line where it happened.
pub(super) fn csv_error(source_name: &str, line_offset: usize, e: &csv::Error) -> Error {
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

/// The number of `\n` bytes in `b` (vectorised: byte sums over 255-byte blocks).
#[inline]
pub(super) fn count_newlines(b: &[u8]) -> usize {
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
#[inline]
pub(super) fn count_line_breaks(b: &[u8]) -> usize {
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
