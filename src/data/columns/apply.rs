//! [`TableEncoding::apply`]: a file's columns made into network inputs, and
//! the notes on what was filled in.

use super::date::{date_inputs, date_text, parse_date, Cycles};
use super::encoding::{level_slots, CellError, TableEncoding, Treatment};
use super::raw::{ColumnCells, RawColumns};
use crate::data::message::show;
use crate::error::Result;
use crate::tensor::Matrix;

/// How many unseen levels a note names.
const LIST_UNSEEN: usize = 3;

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
    pub fn apply(&self, mut raw: RawColumns, err: CellError<'_>) -> Result<(Matrix, Vec<String>)> {
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
        // numbers in a column read as text (a data frame's numbers in a
        // category column): their texts, by value
        for (c, &j) in treatments.iter().zip(&used) {
            if !matches!(c.treatment, Treatment::Number { .. }) {
                raw.numbers_into_text(j);
            }
        }
        let notes = Vec::new();
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
        let new_plans = || {
            let mut plans = Vec::with_capacity(treatments.len());
            let mut offset = 0;
            for (c, &j) in treatments.iter().zip(&used) {
                plans.push(Plan::new(&c.treatment, j, &raw.columns[j], offset));
                offset += c.treatment.width();
            }
            plans
        };
        let mut out = vec![0.0f32; rows * width];
        let cols = raw.x.cols().max(1);
        // rows in one piece per core, each with its own plans (their text
        // cursors start at the piece's first row); the counts are summed and
        // the first error in row order is the one reported
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get().min(16));
        let per = if rows * width < APPLY_PARALLEL_MIN {
            rows.max(1)
        } else {
            rows.div_ceil(threads).max(1)
        };
        type Piece<'p> = std::result::Result<Vec<Plan<'p>>, (usize, usize, String)>;
        let pieces: Vec<Piece<'_>> = std::thread::scope(|s| {
            let handles: Vec<_> = out
                .chunks_mut(per * width.max(1))
                .enumerate()
                .map(|(i, piece)| {
                    let (x, new_plans) = (&raw.x, &new_plans);
                    s.spawn(move || -> Piece<'_> {
                        let r0 = i * per;
                        let mut plans = new_plans();
                        for p in &mut plans {
                            p.start_at(r0);
                        }
                        let rows_here = piece.len() / width.max(1);
                        let xs = &x.as_slice()[r0 * cols..(r0 + rows_here) * cols];
                        for (k, (row, xr)) in piece
                            .chunks_exact_mut(width.max(1))
                            .zip(xs.chunks_exact(cols))
                            .enumerate()
                        {
                            for p in &mut plans {
                                p.write(r0 + k, xr, row).map_err(|m| (r0 + k, p.j, m))?;
                            }
                        }
                        Ok(plans)
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("an apply thread panicked"))
                .collect()
        });
        let mut plans = new_plans();
        for piece in pieces {
            let piece = piece.map_err(|(r, j, m)| err(r, j, m))?;
            for (p, q) in plans.iter_mut().zip(piece) {
                p.filled += q.filled;
                p.unseen += q.unseen;
            }
        }
        let mut notes = Vec::new();
        for (p, c) in plans.iter().zip(&treatments) {
            if p.filled > 0 {
                notes.push(filled_note(&c.name, p.filled, &c.treatment));
            }
            if let (Treatment::Category { other, .. }, true) = (&c.treatment, p.unseen > 0) {
                let How::Category { slots, .. } = &p.how else {
                    unreachable!("a category's plan")
                };
                notes.push(unseen_note(
                    &c.name,
                    &raw.columns[p.j],
                    slots,
                    p.unseen,
                    *other,
                ));
            }
        }
        Ok((Matrix::from_vec(rows, width, out)?, notes))
    }
}

/// Below this many inputs (rows × width) a table is prepared on one thread.
const APPLY_PARALLEL_MIN: usize = 1 << 20;

/// How one column's inputs are written, row by row.
struct Plan<'a> {
    /// The raw column.
    j: usize,
    /// Its first input in the row.
    offset: usize,
    how: How<'a>,
    /// Whether a "missing" input follows (numbers, booleans).
    indicator: bool,
    /// The next of the column's text cells.
    next: usize,
    /// Gaps filled without an indicator to say so.
    filled: usize,
    /// Rows whose level has no input of its own.
    unseen: usize,
}

enum How<'a> {
    /// The value, or `fill` where missing.
    Number { fill: f32 },
    /// Each text's value (`None`: neither of the two); `fill` where missing.
    Boolean {
        cells: &'a ColumnCells,
        values: Vec<Option<f32>>,
        fill: f32,
        texts: (&'a str, &'a str),
    },
    /// Each text's time (`None`: not a date); `fill` where missing.
    Date {
        cells: &'a ColumnCells,
        times: Vec<Option<f64>>,
        fill: f64,
        cycles: Cycles,
    },
    /// Each text's level input; the "(missing)" and "(other)" inputs.
    Category {
        cells: &'a ColumnCells,
        slots: Vec<Option<usize>>,
        missing_at: Option<usize>,
        other_at: Option<usize>,
    },
}

impl<'a> Plan<'a> {
    fn new(t: &'a Treatment, j: usize, cells: &'a ColumnCells, offset: usize) -> Plan<'a> {
        let (how, indicator) = match t {
            Treatment::Number { median, indicator } => (How::Number { fill: *median }, *indicator),
            Treatment::Boolean {
                true_text,
                false_text,
                fill,
                indicator,
            } => {
                let values = cells
                    .text
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
                let how = How::Boolean {
                    cells,
                    values,
                    fill: *fill,
                    texts: (true_text, false_text),
                };
                (how, *indicator)
            }
            Treatment::Category {
                levels,
                missing,
                other,
                by_value,
            } => {
                let how = How::Category {
                    cells,
                    slots: level_slots(levels, &cells.text.values, *by_value),
                    missing_at: missing.then_some(levels.len()),
                    other_at: other.then_some(levels.len() + usize::from(*missing)),
                };
                (how, false)
            }
            Treatment::Date {
                median,
                cycles,
                indicator,
            } => {
                let how = How::Date {
                    cells,
                    times: cells.text.values.iter().map(|v| parse_date(v)).collect(),
                    fill: *median,
                    cycles: *cycles,
                };
                (how, *indicator)
            }
            Treatment::Ignored(_) => unreachable!("only used columns"),
        };
        Plan {
            j,
            offset,
            how,
            indicator,
            next: 0,
            filled: 0,
            unseen: 0,
        }
    }

    /// Starts the text cursor at row `r0`.
    fn start_at(&mut self, r0: usize) {
        let cells = match &self.how {
            How::Number { .. } => return,
            How::Boolean { cells, .. } | How::Category { cells, .. } | How::Date { cells, .. } => {
                cells
            }
        };
        self.next = cells
            .text
            .cells
            .partition_point(|&(row, _)| (row as usize) < r0);
    }

    /// Writes row `r` (raw numbers `x`) into `out`; `Err` with the message
    /// for a boolean's text that is neither value.
    #[inline]
    fn write(&mut self, r: usize, x: &[f32], out: &mut [f32]) -> Result<(), String> {
        let Plan {
            j,
            offset,
            how,
            indicator,
            next,
            filled,
            unseen,
        } = self;
        let o = *offset;
        // the text cell of row `r`, if it has one (rows come in order)
        let mut cell = |cells: &ColumnCells| match cells.text.cells.get(*next) {
            Some(&(row, code)) if row as usize == r => {
                *next += 1;
                Some(code)
            }
            _ => None,
        };
        let (value, fill) = match how {
            How::Number { fill } => {
                let v = x[*j];
                ((!v.is_nan()).then_some(v), *fill)
            }
            How::Boolean {
                cells,
                values,
                fill,
                texts,
            } => match cell(cells) {
                None => (None, *fill),
                Some(code) => match values[code as usize] {
                    Some(v) => (Some(v), *fill),
                    None => {
                        return Err(format!(
                            "{} is neither {} nor {}, the two values of this boolean column in \
                             training",
                            show(&cells.text.values[code as usize]),
                            show(texts.0),
                            show(texts.1)
                        ))
                    }
                },
            },
            How::Date {
                cells,
                times,
                fill,
                cycles,
            } => {
                let width = cycles.width();
                let t = match cell(cells) {
                    Some(code) => match times[code as usize] {
                        Some(t) => t,
                        None => {
                            return Err(format!(
                                "{} is not a date (the column held dates in training: a year \
                                 first, like 2012-01-31 or 2012/01/31 18:30)",
                                show(&cells.text.values[code as usize])
                            ))
                        }
                    },
                    None => {
                        if *indicator {
                            out[o + width] = 1.0;
                        } else {
                            *filled += 1;
                        }
                        *fill
                    }
                };
                date_inputs(t, *cycles, &mut out[o..o + width]);
                return Ok(());
            }
            How::Category {
                cells,
                slots,
                missing_at,
                other_at,
            } => {
                let slot = match cell(cells) {
                    Some(code) => slots[code as usize],
                    None => *missing_at,
                };
                let slot = slot.or_else(|| {
                    *unseen += 1;
                    *other_at
                });
                if let Some(k) = slot {
                    out[o + k] = 1.0;
                }
                return Ok(());
            }
        };
        match value {
            Some(v) => out[o] = v,
            None => {
                out[o] = fill;
                if *indicator {
                    out[o + 1] = 1.0;
                } else {
                    *filled += 1;
                }
            }
        }
        Ok(())
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

/// "column 'x': 3 missing values took the training median (…)".
fn filled_note(name: &str, n: usize, treatment: &Treatment) -> String {
    let with = match treatment {
        Treatment::Number { median, .. } => format!("the training median {median}"),
        Treatment::Boolean { fill, .. } => format!("the training median {fill}"),
        Treatment::Date { median, .. } => format!("the training median {}", date_text(*median)),
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
    slots: &[Option<usize>],
    n: usize,
    other: bool,
) -> String {
    let mut shown: Vec<String> = cells
        .text
        .values
        .iter()
        .zip(slots)
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
