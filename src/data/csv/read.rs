//! The entry points: [`parse`] and [`parse_bytes`] on text in memory,
//! [`parse_reader`] (and [`parse_blocks`]) block by block on a reader. Each
//! reads the prologue, then the body, then builds the table.

use super::body::{parse_body, Part};
use super::finish::{finish, LabelStore};
use super::prologue::{prologue, Prologue};
use super::record::count_line_breaks;
use super::sniff::sniff_delimiter;
use crate::data::message::data_error;
use crate::data::table::{LoadOptions, RawTable};
use crate::error::Result;

/// The UTF-8 byte order mark, skipped at the start of a file.
const BOM: &[u8] = b"\xEF\xBB\xBF";

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
/// // a text in a column of numbers: ambiguous, so an error
/// let headerless = csv::parse("1,2,0\n3,x,1\n4,5,0\n", "n.csv", &LoadOptions::default());
/// assert!(headerless
///     .unwrap_err()
///     .to_string()
///     .starts_with("n.csv:2: column 2: 'x' is not a number, but 2 of the column's values are numbers"));
/// ```
pub fn parse(text: &str, source_name: &str, opts: &LoadOptions) -> Result<RawTable> {
    parse_bytes(text.as_bytes(), source_name, opts)
}

/// [`parse`] on bytes: label, id and header fields must be UTF-8 (an error
/// names the line otherwise).
pub fn parse_bytes(bytes: &[u8], source_name: &str, opts: &LoadOptions) -> Result<RawTable> {
    let bytes = bytes.strip_prefix(BOM).unwrap_or(bytes);
    let pro = prologue(bytes, true, source_name, opts)?.expect("a complete input");
    let body = &bytes[pro.body_start..];
    let mut all = parse_body(&pro.context(source_name), body, pro.body_first_line)?;
    let mut labels = LabelStore::default();
    labels.extend(std::mem::take(&mut all.labels));
    finish(pro, all, labels, source_name, opts)
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
    r: impl std::io::Read,
    source_name: &str,
    opts: &LoadOptions,
    size_hint: Option<u64>,
    block: usize,
) -> Result<RawTable> {
    let mut input = Blocks {
        r,
        source_name,
        block: block.max(1),
        buf: Vec::new(),
        eof: false,
    };
    let (bom, pro) = input.first_rows(opts)?;
    let ctx = pro.context(source_name);
    let mut all = Part::default();
    let mut labels = LabelStore::default();
    let mut start = bom + pro.body_start;
    let mut line = pro.body_first_line;
    let mut reserved = false;
    loop {
        let end = input.records_end(start, ctx.delimiter);
        let piece = &input.buf[start..end];
        if !piece.is_empty() {
            let mut part = parse_body(&ctx, piece, line)?;
            if !reserved {
                reserved = true;
                if let (Some(size), false) = (size_hint, input.eof) {
                    reserve_rows(&mut all.x, &part, piece.len(), size);
                }
            }
            line += count_line_breaks(piece);
            labels.extend(std::mem::take(&mut part.labels));
            all.append_into(part);
        }
        if input.eof {
            break;
        }
        let cut = end > start;
        input.buf.drain(..end);
        start = 0;
        // no whole record (a long one, or quotes): read on
        let want = if cut {
            input.block
        } else {
            (input.buf.len() * 2).max(input.block)
        };
        input.fill(want)?;
    }
    finish(pro, all, labels, source_name, opts)
}

/// Reserves room in `x` for the feature matrix at its final size, from
/// `size` (the file's bytes) and the bytes per row of the `first` part,
/// read from `first_bytes` bytes.
fn reserve_rows(x: &mut Vec<f32>, first: &Part, first_bytes: usize, size: u64) {
    if first.lines.is_empty() {
        return;
    }
    let per_row = first_bytes as f64 / first.lines.len() as f64;
    let rows = (size as f64 / per_row * 1.02) as usize + 16;
    let width = first.x.len() / first.lines.len();
    x.reserve_exact(rows.saturating_mul(width));
}

/// A reader read in blocks: the bytes read and not yet parsed.
struct Blocks<'a, R> {
    r: R,
    source_name: &'a str,
    /// The bytes to have at hand once a block is parsed.
    block: usize,
    buf: Vec<u8>,
    eof: bool,
}

impl<R: std::io::Read> Blocks<'_, R> {
    /// Reads until `buf` holds at least `want` bytes or the input ends.
    fn fill(&mut self, want: usize) -> Result<()> {
        let mut chunk = vec![0u8; self.block.min(1 << 20)];
        while !self.eof && self.buf.len() < want {
            match self.r.read(&mut chunk) {
                Ok(0) => self.eof = true,
                Ok(k) => self.buf.extend_from_slice(&chunk[..k]),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(data_error(self.source_name, format!("cannot read: {e}"))),
            }
        }
        Ok(())
    }

    /// The end of the whole records in `buf` from `start` on (all of it at
    /// the end of the input).
    fn records_end(&self, start: usize, delimiter: u8) -> usize {
        if self.eof {
            self.buf.len()
        } else {
            start + records_end(&self.buf[start..], delimiter)
        }
    }

    /// Reads until the first rows are there and decides the prologue from
    /// them: the delimiter (from its first 64 KiB), the header and the
    /// roles (from the rows sampled). Also the length of a leading BOM.
    fn first_rows(&mut self, opts: &LoadOptions) -> Result<(usize, Prologue)> {
        let mut want = self.block.max(1 << 17);
        loop {
            self.fill(want)?;
            let bom = if self.buf.starts_with(BOM) {
                BOM.len()
            } else {
                0
            };
            // The delimiter the prologue will use: sniffing reads the first
            // 64 KiB only, which are the same bytes here and in the prologue's
            // input whenever it runs (it gets at least 64 KiB, or everything).
            let delimiter = opts
                .delimiter
                .unwrap_or_else(|| sniff_delimiter(&self.buf[bom..]));
            let end = self.records_end(bom, delimiter);
            if self.eof || end - bom >= 1 << 16 {
                let first = &self.buf[bom..end];
                if let Some(p) = prologue(first, self.eof, self.source_name, opts)? {
                    return Ok((bom, p));
                }
            }
            want = self.buf.len() * 2;
        }
    }
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
