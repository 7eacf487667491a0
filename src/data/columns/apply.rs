//! [`TableEncoding::apply`]: a file's columns made into network inputs, and
//! the notes on what was filled in.

use super::encoding::{level_slots, CellError, TableEncoding, Treatment};
use super::raw::{ColumnCells, RawColumns};
use crate::data::message::show;
use crate::error::Result;
use crate::tensor::Matrix;

/// How many unseen levels a note names.
const LIST_UNSEEN: usize = 3;

/// Where one column's inputs go: `out` is `rows × width`, the column's
/// first input is at `offset`.
struct Target<'a> {
    out: &'a mut [f32],
    width: usize,
    offset: usize,
}

impl Target<'_> {
    #[inline]
    fn set(&mut self, r: usize, k: usize, v: f32) {
        self.out[r * self.width + self.offset + k] = v;
    }
}

impl TableEncoding {
    /// The network inputs of `raw`: `rows × width()`. `raw` holds either
    /// every column of [`TableEncoding::columns`] (the training file) or,
    /// in order, only the columns that give inputs ([`TableEncoding::used`]:
    /// a file read for the model). Returns the inputs and notes on the
    /// cells that were filled in without a "missing" input to say so, and on
    /// levels unseen in training.
    ///
    /// # Errors
    /// A boolean column's text that is neither of its two values, or text
    /// in a number column (`err` words it).
    ///
    /// # Panics
    /// If `raw` has neither count of columns.
    pub fn apply(&self, raw: RawColumns, err: CellError<'_>) -> Result<(Matrix, Vec<String>)> {
        let used: Vec<usize> = if raw.columns.len() == self.columns.len() {
            (0..self.columns.len())
                .filter(|&j| !matches!(self.columns[j].treatment, Treatment::Ignored(_)))
                .collect()
        } else {
            assert_eq!(
                raw.columns.len(),
                self.used().count(),
                "apply: column count"
            );
            (0..raw.columns.len()).collect()
        };
        let treatments: Vec<&super::encoding::InputColumn> = self.used().collect();
        let mut notes = Vec::new();
        for (c, &j) in treatments.iter().zip(&used) {
            if let (Treatment::Number { .. }, Some(&(row, code))) =
                (&c.treatment, raw.columns[j].text.cells.first())
            {
                let text = &raw.columns[j].text.values[code as usize];
                return Err(err(
                    row as usize,
                    j,
                    format!("{} is not a number", show(text)),
                ));
            }
        }
        if self.is_numbers() && used.len() == raw.columns.len() {
            return Ok(fill_in_place(raw, &treatments, notes));
        }
        let (rows, width) = (raw.rows(), self.width());
        let mut out = vec![0.0f32; rows * width];
        let mut offset = 0;
        for (c, &j) in treatments.iter().zip(&used) {
            let mut t = Target {
                out: &mut out,
                width,
                offset,
            };
            let cells = &raw.columns[j];
            let filled = match &c.treatment {
                Treatment::Number { median, indicator } => {
                    number(&raw.x, j, *median, *indicator, &mut t)
                }
                Treatment::Boolean {
                    true_text,
                    false_text,
                    fill,
                    indicator,
                } => {
                    let texts = (true_text.as_str(), false_text.as_str());
                    boolean(cells, rows, texts, *fill, *indicator, &mut t)
                        .map_err(|(row, m)| err(row, j, m))?
                }
                Treatment::Category {
                    levels,
                    missing,
                    other,
                } => {
                    if let Some(n) = category(cells, rows, levels, *missing, *other, &mut t) {
                        notes.push(unseen_note(&c.name, cells, levels, n, *other));
                    }
                    0
                }
                Treatment::Ignored(_) => unreachable!("only used columns"),
            };
            if filled > 0 {
                notes.push(filled_note(&c.name, filled, &c.treatment));
            }
            offset += c.treatment.width();
        }
        Ok((Matrix::from_vec(rows, width, out)?, notes))
    }
}

/// Number columns only, none with a "missing" input: gaps take the median
/// where they are.
fn fill_in_place(
    raw: RawColumns,
    treatments: &[&super::encoding::InputColumn],
    mut notes: Vec<String>,
) -> (Matrix, Vec<String>) {
    let mut x = raw.x;
    let cols = x.cols().max(1);
    for (j, c) in treatments.iter().enumerate() {
        if raw.columns[j].missing == 0 {
            continue;
        }
        let Treatment::Number { median, .. } = c.treatment else {
            unreachable!("numbers only")
        };
        let mut filled = 0;
        for row in x.as_mut_slice().chunks_exact_mut(cols) {
            if row[j].is_nan() {
                row[j] = median;
                filled += 1;
            }
        }
        notes.push(filled_note(&c.name, filled, &c.treatment));
    }
    (x, notes)
}

/// A number column: its values, the median where missing. Returns how many
/// gaps were filled without an indicator to say so.
fn number(x: &Matrix, j: usize, median: f32, indicator: bool, t: &mut Target<'_>) -> usize {
    let mut filled = 0;
    for (r, row) in x.as_slice().chunks_exact(x.cols().max(1)).enumerate() {
        let v = row[j];
        if v.is_nan() {
            t.set(r, 0, median);
            if indicator {
                t.set(r, 1, 1.0);
            } else {
                filled += 1;
            }
        } else {
            t.set(r, 0, v);
        }
    }
    filled
}

/// A boolean column; `Err((row, message))` at a text that is neither value.
fn boolean(
    cells: &ColumnCells,
    rows: usize,
    (true_text, false_text): (&str, &str),
    fill: f32,
    indicator: bool,
    t: &mut Target<'_>,
) -> Result<usize, (usize, String)> {
    let text = &cells.text;
    let values: Vec<Option<f32>> = text
        .values
        .iter()
        .map(|v| {
            if v.eq_ignore_ascii_case(true_text) {
                Some(1.0)
            } else if v.eq_ignore_ascii_case(false_text) {
                Some(0.0)
            } else {
                None
            }
        })
        .collect();
    for r in 0..rows {
        t.set(r, 0, fill);
        if indicator {
            t.set(r, 1, 1.0);
        }
    }
    for &(r, c) in &text.cells {
        let Some(v) = values[c as usize] else {
            return Err((
                r as usize,
                format!(
                    "{} is neither {} nor {}, the two values of this boolean column in training",
                    show(&text.values[c as usize]),
                    show(true_text),
                    show(false_text)
                ),
            ));
        };
        t.set(r as usize, 0, v);
        if indicator {
            t.set(r as usize, 1, 0.0);
        }
    }
    let missing = rows - text.cells.len();
    Ok(if indicator { 0 } else { missing })
}

/// A category column. Returns, when some rows had a level unseen in
/// training (or a gap without a "(missing)" input), how many.
fn category(
    cells: &ColumnCells,
    rows: usize,
    levels: &[String],
    missing: bool,
    other: bool,
    t: &mut Target<'_>,
) -> Option<usize> {
    let slots = level_slots(levels, &cells.text.values);
    let missing_at = levels.len();
    let other_at = levels.len() + usize::from(missing);
    let mut unseen = 0;
    let mut next = cells.text.cells.iter().peekable();
    for r in 0..rows {
        let slot = match next.next_if(|&&(row, _)| row as usize == r) {
            Some(&(_, code)) => slots[code as usize],
            None if missing => Some(missing_at),
            None => None,
        };
        match slot {
            Some(k) => t.set(r, k, 1.0),
            None => {
                unseen += 1;
                if other {
                    t.set(r, other_at, 1.0);
                }
            }
        }
    }
    (unseen > 0).then_some(unseen)
}

/// "column 'x': 3 missing values took the training median (…)".
fn filled_note(name: &str, n: usize, treatment: &Treatment) -> String {
    let with = match treatment {
        Treatment::Number { median, .. } => format!("the training median {median}"),
        Treatment::Boolean { fill, .. } => format!("the training median {fill}"),
        _ => "a default".to_string(),
    };
    format!(
        "column {}: {n} missing value{} took {with} (the column had none in training)",
        show(name),
        if n == 1 { "" } else { "s" }
    )
}

/// "column 'x': 4 rows hold a level unseen in training ('a', 'b'): …".
fn unseen_note(
    name: &str,
    cells: &ColumnCells,
    levels: &[String],
    n: usize,
    other: bool,
) -> String {
    let slots = level_slots(levels, &cells.text.values);
    let mut shown: Vec<String> = cells
        .text
        .values
        .iter()
        .zip(&slots)
        .filter(|(_, s)| s.is_none())
        .map(|(v, _)| show(v))
        .collect();
    let more = shown.len() > LIST_UNSEEN;
    shown.truncate(LIST_UNSEEN);
    let which = if shown.is_empty() {
        "a missing value".to_string()
    } else {
        format!("{}{}", shown.join(", "), if more { ", …" } else { "" })
    };
    format!(
        "column {}: {n} row{} without an input of {} own in training ({which}): {}",
        show(name),
        if n == 1 { "" } else { "s" },
        if n == 1 { "its" } else { "their" },
        if other {
            "counted as (other)"
        } else {
            "no level input set"
        }
    )
}
