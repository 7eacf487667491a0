//! The data rows: [`parse_body`] cuts a large unquoted body into one piece
//! per core and parses the pieces at once ([`Context::parse_piece`]), each
//! into a [`Part`] of features, label and id text, weights and line
//! numbers.

use super::cells::CellsBuilder;
use super::columns::{Role, Roles};
use super::record::{count_line_breaks, count_newlines, csv_error, is_blank, reader, trim};
use crate::data::message::{data_error, show};
use crate::data::number::{fast_number, parse_number};
use crate::data::{MissingPolicy, NaValues, ParseAs};
use crate::error::{mention, Error, Result};

/// Below this many bytes a file is parsed on one thread.
const PARALLEL_MIN_BYTES: usize = 1 << 20;

/// What one piece of the body parsed to.
#[derive(Default)]
pub(super) struct Part {
    /// The features, NaN where a cell is missing or text.
    pub(super) x: Vec<f32>,
    /// Per feature, its missing and text cells.
    pub(super) cells: Vec<CellsBuilder>,
    pub(super) labels: Vec<String>,
    pub(super) ids: Vec<String>,
    pub(super) weights: Vec<f32>,
    pub(super) lines: Vec<usize>,
}

impl Part {
    /// An empty part with room for the rows of `piece`: one value needs at
    /// least 2 bytes (itself and a separator or line end), so the
    /// capacities never exceed what a valid piece fills.
    fn for_piece(piece: &[u8], n_features: usize) -> Part {
        let lines_hint = (count_newlines(piece) + 1).min(piece.len() / 2 + 1);
        Part {
            x: Vec::with_capacity(
                lines_hint
                    .saturating_mul(n_features)
                    .min(piece.len() / 2 + 1),
            ),
            lines: Vec::with_capacity(lines_hint),
            cells: (0..n_features)
                .map(|_| CellsBuilder::with_rows_hint(lines_hint))
                .collect(),
            ..Part::default()
        }
    }

    /// Appends the cells of `other`, whose rows follow ours.
    fn append_cells(&mut self, other: &mut Part) {
        let offset = self.lines.len();
        if self.cells.is_empty() {
            // an empty part, or a table without features (no cells to shift)
            debug_assert!(offset == 0 || other.cells.is_empty());
            self.cells = std::mem::take(&mut other.cells);
            return;
        }
        for (mine, theirs) in self.cells.iter_mut().zip(std::mem::take(&mut other.cells)) {
            mine.append(theirs, offset);
        }
    }

    /// [`Part::append`] that keeps `self`'s buffers (and the room reserved
    /// in them) even when `self` is still empty.
    pub(super) fn append_into(&mut self, mut other: Part) {
        self.append_cells(&mut other);
        self.x.append(&mut other.x);
        self.labels.append(&mut other.labels);
        self.ids.append(&mut other.ids);
        self.weights.append(&mut other.weights);
        self.lines.append(&mut other.lines);
    }

    /// Appends `other`, taking its buffers whole when `self` is empty.
    fn append(&mut self, other: Part) {
        if self.lines.is_empty() {
            *self = other;
            return;
        }
        self.append_into(other);
    }
}

/// Everything a piece parser needs.
pub(super) struct Context<'a> {
    pub(super) source_name: &'a str,
    pub(super) delimiter: u8,
    pub(super) n_cols: usize,
    pub(super) roles: &'a Roles,
    pub(super) names: Option<&'a [String]>,
    /// Per feature, how its cells are read.
    pub(super) parse_as: &'a [ParseAs],
    /// The spellings of a missing value.
    pub(super) na: &'a NaValues,
    /// Whether a missing value is an error.
    pub(super) missing: MissingPolicy,
    /// Whether numbers have a decimal comma (read as a point).
    pub(super) decimal_comma: bool,
}

/// The line of each record of a piece, counted from the piece's first line:
/// after `\r\n` the crate's positions point at the `\n`.
struct Lines {
    counted_to: usize,
    line: usize,
}

impl Lines {
    /// The line where `record` (of `piece`) starts.
    #[inline]
    fn of(&mut self, record: &csv::ByteRecord, piece: &[u8]) -> usize {
        let mut start = record
            .position()
            .map_or(self.counted_to, |p| {
                usize::try_from(p.byte()).unwrap_or(usize::MAX)
            })
            .clamp(self.counted_to, piece.len());
        while piece.get(start).is_some_and(|&b| b == b'\n' || b == b'\r') {
            start += 1;
        }
        self.line += count_line_breaks(&piece[self.counted_to..start]);
        self.counted_to = start;
        self.line
    }
}

impl Context<'_> {
    fn column(&self, c: usize) -> String {
        match self.names {
            Some(n) => format!("column '{}'", n[c]),
            None => format!("column {}", c + 1),
        }
    }

    /// A parse error at `line`.
    fn perr(&self, line: usize, message: String) -> Error {
        Error::Parse {
            source_name: self.source_name.to_string(),
            line,
            message,
        }
    }

    /// Parses the records of `piece`, whose first line is `first_line`.
    pub(super) fn parse_piece(&self, piece: &[u8], first_line: usize) -> Result<Part> {
        let n_features = self.roles.n_features();
        let mut part = Part::for_piece(piece, n_features);
        // features in file order are pushed as they come
        let in_order = self.roles.features_in_order();
        let mut row_x = vec![0.0f32; n_features];
        let mut row_labels = vec![String::new(); self.roles.labels.len()];
        let mut reader = reader(piece, self.delimiter);
        let mut record = csv::ByteRecord::new();
        let mut lines = Lines {
            counted_to: 0,
            line: first_line,
        };
        loop {
            match reader.read_byte_record(&mut record) {
                Ok(true) => {}
                Ok(false) => break,
                Err(e) => return Err(csv_error(self.source_name, first_line - 1, &e)),
            }
            if is_blank(&record) {
                continue;
            }
            let line = lines.of(&record, piece);
            if record.len() != self.n_cols {
                return Err(self.perr(
                    line,
                    format!("expected {} fields, found {}", self.n_cols, record.len()),
                ));
            }
            for ((c, field), role) in record.iter().enumerate().zip(&self.roles.roles) {
                match *role {
                    Role::Feature(j) => {
                        let row = part.lines.len();
                        let cells = &mut part.cells[j];
                        let v = self.feature_cell(field, j, row, cells, line, c)?;
                        if in_order {
                            part.x.push(v);
                        } else {
                            row_x[j] = v;
                        }
                    }
                    Role::Label(k) => {
                        row_labels[k] = std::str::from_utf8(trim(field))
                            .map_err(|_| self.not_utf8(line, c))?
                            .to_string();
                    }
                    Role::Id => part.ids.push(
                        std::str::from_utf8(trim(field))
                            .map_err(|_| self.not_utf8(line, c))?
                            .to_string(),
                    ),
                    Role::Weight => {
                        let w = feature_value(&self.as_point(trim(field)))
                            .map_err(|m| self.bad_field(line, c, &m))?;
                        if w < 0.0 {
                            return Err(self.negative_weight(line, c, w));
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

    /// The value of feature `j`'s cell `field` (file column `c`, at `line`),
    /// whose row is `row`: the number, or NaN with the cell recorded in
    /// `cells` as missing or text, as [`Context::parse_as`] says.
    #[inline]
    fn feature_cell(
        &self,
        field: &[u8],
        j: usize,
        row: usize,
        cells: &mut CellsBuilder,
        line: usize,
        c: usize,
    ) -> Result<f32> {
        let f = trim(field);
        let f_num = self.as_point(f);
        let f_num: &[u8] = &f_num;
        let how = self.parse_as[j];
        if how != ParseAs::Text {
            if let Some((v, len)) = fast_number(f_num, b'\n') {
                if len == f_num.len() {
                    return Ok(v);
                }
            }
        }
        if self.na.is_missing(f) {
            if self.missing == MissingPolicy::Error {
                return Err(self.bad_field(
                    line,
                    c,
                    &format!(
                        "{} marks a missing value, and missing values are errors ({})",
                        show(&String::from_utf8_lossy(f)),
                        mention("read.missing", Some("error"))
                    ),
                ));
            }
            cells.missing(row);
            return Ok(f32::NAN);
        }
        // what `f64`'s parser could read starts with a digit, a sign, a
        // point, `inf` or `nan`: other text skips it
        let may_be_number = |b: u8| b.is_ascii_digit() || b"+-.iInN".contains(&b);
        if how == ParseAs::Number
            || (how == ParseAs::Auto && f_num.first().is_some_and(|&b| may_be_number(b)))
        {
            // a number's text is ASCII; anything else is text (or, in a
            // column of numbers, an error)
            let number_text = match std::str::from_utf8(f_num) {
                Ok(t) => t,
                Err(_) if how == ParseAs::Number => return Err(self.not_utf8(line, c)),
                Err(_) => "",
            };
            // the slow path's value without its message (a text in a
            // column of any kind is not an error yet)
            match number_text.parse::<f64>().ok().map(|v| v as f32) {
                Some(v) if v.is_finite() => return Ok(v),
                _ if how == ParseAs::Number => {
                    let m = parse_number(number_text).err().unwrap_or_default();
                    return Err(self.bad_field(line, c, &m));
                }
                _ => {}
            }
        }
        cells.text(row, f).map_err(|_| self.not_utf8(line, c))?;
        Ok(f32::NAN)
    }

    /// `f` with its decimal commas made points when the file writes
    /// numbers so; else `f` itself.
    #[inline]
    fn as_point<'b>(&self, f: &'b [u8]) -> std::borrow::Cow<'b, [u8]> {
        if !self.decimal_comma || !f.contains(&b',') {
            return std::borrow::Cow::Borrowed(f);
        }
        f.iter()
            .map(|&b| if b == b',' { b'.' } else { b })
            .collect::<Vec<u8>>()
            .into()
    }

    /// The error for column `c` at `line`, which is not a number: `why`.
    fn bad_field(&self, line: usize, c: usize, why: &str) -> Error {
        self.perr(line, format!("{}: {why}", self.column(c)))
    }

    /// The error for text in column `c` at `line` that is not UTF-8.
    fn not_utf8(&self, line: usize, c: usize) -> Error {
        self.perr(line, format!("{}: the text is not UTF-8", self.column(c)))
    }

    /// The error for the negative row weight `w` in column `c` at `line`.
    fn negative_weight(&self, line: usize, c: usize, w: f32) -> Error {
        self.perr(
            line,
            format!(
                "{}: weight {w} is negative; row weights must be numbers >= 0",
                self.column(c)
            ),
        )
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

/// Parses `body`, whose first line is `first_line`, in parallel pieces
/// when it is large.
pub(super) fn parse_body(ctx: &Context<'_>, body: &[u8], body_first_line: usize) -> Result<Part> {
    let pieces = split_body(body);
    let parts: Vec<Result<Part>> = if pieces.len() == 1 {
        vec![ctx.parse_piece(body, body_first_line)]
    } else {
        parse_pieces(ctx, &pieces, body_first_line)
    };
    let mut all = Part::default();
    for part in parts {
        all.append(part?);
    }
    Ok(all)
}

/// Parses `pieces` on a thread each; the first starts at `body_first_line`.
fn parse_pieces(ctx: &Context<'_>, pieces: &[&[u8]], body_first_line: usize) -> Vec<Result<Part>> {
    let derr = |message: String| data_error(ctx.source_name, message);
    let mut starts = Vec::with_capacity(pieces.len());
    let mut line = body_first_line;
    for p in pieces {
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
