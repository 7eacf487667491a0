//! [`TableEncoding`]: how each feature column of a table becomes network
//! inputs — a number (its gaps take the training median, plus a 0/1
//! "missing" input when training had gaps), a boolean (one 0/1 input), a
//! category (one 0/1 input per level, plus "(missing)" and "(other)"
//! inputs where needed) or nothing. Fitted once on the training file
//! ([`TableEncoding::fit`]), stored in the model, and applied the same way
//! to every file after ([`TableEncoding::apply`]).

use std::collections::HashMap;

use super::date::{parse_date, Cycles};
use super::kind::{auto_kind, boolean_pair, ColumnKind, ColumnOptions, ParseAs};
use super::raw::{ColumnCells, RawColumns};
use crate::data::message::show;
use crate::error::{Error, Result};

/// Why a column is not an input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IgnoreReason {
    /// pandas' index: a first column named `` or `Unnamed: 0` holding
    /// increasing integers from 0 up.
    PandasIndex,
    /// Text with a different value in every row.
    Identifier,
    /// Every value is missing.
    Empty,
}

impl IgnoreReason {
    /// A few words for `info` and the model file.
    pub fn name(self) -> &'static str {
        match self {
            IgnoreReason::PandasIndex => "pandas index",
            IgnoreReason::Identifier => "identifier",
            IgnoreReason::Empty => "no values",
        }
    }
}

/// What is done to one column.
#[derive(Clone, Debug, PartialEq)]
pub enum Treatment {
    /// The number, or `median` where missing; with `indicator`, a second
    /// input is 1 where the value was missing, else 0.
    Number {
        /// The training median, for gaps: of every row when the column had
        /// gaps in training, else of at most [`MEDIAN_SAMPLE`] evenly spaced
        /// rows (all rows of a smaller table).
        median: f32,
        /// Whether a "missing" input follows.
        indicator: bool,
    },
    /// 1 for `true_text`, 0 for `false_text` (case-insensitively), `fill`
    /// where missing; with `indicator`, a "missing" input follows.
    Boolean {
        /// The text read as 1.
        true_text: String,
        /// The text read as 0.
        false_text: String,
        /// The training median of the 0/1 values, for gaps.
        fill: f32,
        /// Whether a "missing" input follows.
        indicator: bool,
    },
    /// One input per level (1 for the row's level, else 0), then a
    /// "(missing)" input if training had gaps, then an "(other)" input if
    /// training had levels without their own input. A level unseen in
    /// training goes to "(other)" if there is one, else sets no input; a
    /// gap without a "(missing)" input does the same.
    Category {
        /// The levels with an input, sorted.
        levels: Vec<String>,
        /// Whether a "(missing)" input follows the levels.
        missing: bool,
        /// Whether an "(other)" input comes last.
        other: bool,
        /// Whether a text that is a number is taken by value (`4.0` is the
        /// level `4`): a column of numbers and words.
        by_value: bool,
    },
    /// A year-first date ([`super::parse_date`]): the time in days since
    /// 1970-01-01, then the sine and cosine of its place in each of
    /// `cycles` ([`super::date_inputs`]); a gap takes the inputs of
    /// `median`. With `indicator`, a "missing" input follows.
    Date {
        /// The training median of the times (days since 1970-01-01), of
        /// every row: the mean of the middle two for an even count.
        median: f64,
        /// The cycles the training dates moved along ([`Cycles::of`]).
        cycles: Cycles,
        /// Whether a "missing" input follows.
        indicator: bool,
    },
    /// Not an input.
    Ignored(IgnoreReason),
}

impl Treatment {
    /// The column's kind.
    pub fn kind(&self) -> ColumnKind {
        match self {
            Treatment::Number { .. } => ColumnKind::Number,
            Treatment::Boolean { .. } => ColumnKind::Boolean,
            Treatment::Category { .. } => ColumnKind::Category,
            Treatment::Date { .. } => ColumnKind::Date,
            Treatment::Ignored(_) => ColumnKind::Ignored,
        }
    }

    /// How many inputs the column gives.
    pub fn width(&self) -> usize {
        match self {
            Treatment::Number { indicator, .. } | Treatment::Boolean { indicator, .. } => {
                1 + usize::from(*indicator)
            }
            Treatment::Category {
                levels,
                missing,
                other,
                ..
            } => levels.len() + usize::from(*missing) + usize::from(*other),
            Treatment::Date {
                cycles, indicator, ..
            } => cycles.width() + usize::from(*indicator),
            Treatment::Ignored(_) => 0,
        }
    }

    /// How the reader takes the column's cells when applying it: a
    /// category of numbers and words reads its numbers as training did (a
    /// decimal comma included), and [`TableEncoding::apply`] takes them by
    /// value.
    pub fn parse_as(&self) -> ParseAs {
        match self {
            Treatment::Number { .. } => ParseAs::Number,
            Treatment::Category { by_value: true, .. } => ParseAs::Auto,
            _ => ParseAs::Text,
        }
    }
}

/// One feature column of the training file and its treatment.
#[derive(Clone, Debug, PartialEq)]
pub struct InputColumn {
    /// The column's name.
    pub name: String,
    /// What is done to it.
    pub treatment: Treatment,
}

/// The treatment of every feature column of the training file, in file
/// order. The network's inputs are the columns' inputs in this order
/// ([`TableEncoding::input_names`]).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TableEncoding {
    /// The columns.
    pub columns: Vec<InputColumn>,
}

/// Builds the error about 0-based row `row` of feature column `column`.
pub type CellError<'a> = &'a dyn Fn(usize, usize, String) -> Error;

/// The median of the values that are not NaN (the mean of the middle two
/// for an even count, in `f64`); `None` without values.
#[cfg(test)]
fn median(values: impl Iterator<Item = f32>) -> Option<f32> {
    let mut v: Vec<f32> = values.filter(|v| !v.is_nan()).collect();
    median_of(&mut v)
}

/// The most rows a column without gaps takes its median from.
pub const MEDIAN_SAMPLE: usize = 1 << 16;

/// The median of `v` (no NaN; reordered), in `f32::total_cmp` order;
/// `None` if empty.
#[cfg(test)]
fn median_of(v: &mut [f32]) -> Option<f32> {
    let mut keys: Vec<u32> = v.iter().map(|&x| order_key(x)).collect();
    median_of_keys(&mut keys)
}

/// `x`'s bits made an unsigned key whose order is `f32::total_cmp`'s.
#[inline]
fn order_key(x: f32) -> u32 {
    let b = x.to_bits();
    if b >> 31 == 1 {
        !b
    } else {
        b | 0x8000_0000
    }
}

/// The value of an [`order_key`].
#[inline]
fn from_order_key(k: u32) -> f32 {
    f32::from_bits(if k >> 31 == 1 { k & 0x7fff_ffff } else { !k })
}

/// The median of the values of the keys `keys` (reordered): the middle
/// value, or the mean of the middle two in `f64`; `None` if empty.
fn median_of_keys(keys: &mut [u32]) -> Option<f32> {
    if keys.is_empty() {
        return None;
    }
    let n = keys.len();
    let (below, &mut hi, _) = keys.select_nth_unstable(n / 2);
    let hi = from_order_key(hi);
    if n % 2 == 1 {
        return Some(hi);
    }
    let lo = from_order_key(*below.iter().max().expect("n is even and at least 2"));
    Some(((f64::from(lo) + f64::from(hi)) / 2.0) as f32)
}

impl TableEncoding {
    /// The number of network inputs.
    pub fn width(&self) -> usize {
        self.columns.iter().map(|c| c.treatment.width()).sum()
    }

    /// The columns that give inputs, in order: the columns a file must
    /// have to be read for the model.
    pub fn used(&self) -> impl Iterator<Item = &InputColumn> + '_ {
        self.columns
            .iter()
            .filter(|c| !matches!(c.treatment, Treatment::Ignored(_)))
    }

    /// Whether the inputs are the columns' numbers as they are (every
    /// column a number without a "missing" input).
    pub fn is_numbers(&self) -> bool {
        self.columns.iter().all(|c| {
            matches!(
                c.treatment,
                Treatment::Number {
                    indicator: false,
                    ..
                }
            )
        })
    }

    /// The name of each input: a number's or boolean's column name, then
    /// `name (missing)`; a category's `name=level`, `name=(missing)`,
    /// `name=(other)`; a date's `name (days)`, `name (year sin)`, … then
    /// `name (missing)`.
    pub fn input_names(&self) -> Vec<String> {
        let mut names = Vec::with_capacity(self.width());
        for c in &self.columns {
            let n = &c.name;
            match &c.treatment {
                Treatment::Number { indicator, .. } | Treatment::Boolean { indicator, .. } => {
                    names.push(n.clone());
                    if *indicator {
                        names.push(format!("{n} (missing)"));
                    }
                }
                Treatment::Category {
                    levels,
                    missing,
                    other,
                    ..
                } => {
                    names.extend(levels.iter().map(|l| format!("{n}={l}")));
                    if *missing {
                        names.push(format!("{n}=(missing)"));
                    }
                    if *other {
                        names.push(format!("{n}=(other)"));
                    }
                }
                Treatment::Date {
                    cycles, indicator, ..
                } => {
                    names.extend(cycles.input_suffixes().iter().map(|s| format!("{n} {s}")));
                    if *indicator {
                        names.push(format!("{n} (missing)"));
                    }
                }
                Treatment::Ignored(_) => {}
            }
        }
        names
    }

    /// Fits the treatments on a training file's columns, read as `parsed`
    /// says (a column the user named a category was read as
    /// [`ParseAs::Text`], one named a number as [`ParseAs::Number`]); the
    /// kinds of the others are decided from their cells
    /// ([`super::kind::auto_kind`]). Returns the notes to show the user
    /// (columns ignored, levels sharing "(other)").
    ///
    /// # Errors
    /// A column of both numbers and text (ambiguous: `err` words it at the
    /// cell to blame).
    pub fn fit(
        raw: &mut RawColumns,
        parsed: &[ParseAs],
        opts: &ColumnOptions,
        err: CellError<'_>,
    ) -> Result<(TableEncoding, Vec<String>)> {
        let mut columns = Vec::with_capacity(raw.columns.len());
        let mut notes = Vec::new();
        // the number columns, whose medians are found together at the end
        let mut numbers = Vec::new();
        for (j, &how) in parsed.iter().enumerate().take(raw.columns.len()) {
            if how == ParseAs::Auto
                && levels_among_numbers(&raw.columns[j])
                && raw.numbers_to_text(j)
            {
                notes.push(format!(
                    "column {} holds numbers and text: read as a category (numbers by value)",
                    show(&raw.names[j])
                ));
            }
            let (name, cells) = (&raw.names[j], &raw.columns[j]);
            let kind = match how {
                ParseAs::Text => ColumnKind::Category,
                ParseAs::Number => ColumnKind::Number,
                ParseAs::Auto if is_pandas_index(name, raw, j) => {
                    notes.push(format!(
                        "column {} holds 0, 1, 2, …: pandas' index, ignored",
                        show(name)
                    ));
                    columns.push(InputColumn {
                        name: name.clone(),
                        treatment: Treatment::Ignored(IgnoreReason::PandasIndex),
                    });
                    continue;
                }
                ParseAs::Auto => auto_kind(cells).map_err(|m| err(m.row, j, m.message))?,
            };
            let treatment = match kind {
                ColumnKind::Number => {
                    numbers.push(j);
                    // the median comes below
                    Treatment::Number {
                        median: 0.0,
                        indicator: cells.missing > 0,
                    }
                }
                ColumnKind::Boolean => boolean(cells),
                ColumnKind::Date => {
                    let t = date(cells);
                    if let Treatment::Date { cycles, .. } = t {
                        notes.push(format!(
                            "column {} holds dates: {} input{} (the days since 1970-01-01{})",
                            show(name),
                            t.width(),
                            if t.width() == 1 { "" } else { "s" },
                            if cycles == Cycles::default() {
                                String::new()
                            } else {
                                format!(", and the place in {} as sine and cosine", cycles.words())
                            }
                        ));
                    }
                    t
                }
                ColumnKind::Category => {
                    let mut t = category(name, cells, opts, &mut notes);
                    if let Treatment::Category { by_value, .. } = &mut t {
                        *by_value = cells.numbers_as_text;
                    }
                    t
                }
                ColumnKind::Ignored if cells.text.cells.is_empty() => {
                    Treatment::Ignored(IgnoreReason::Empty)
                }
                ColumnKind::Ignored => Treatment::Ignored(IgnoreReason::Identifier),
            };
            columns.push(InputColumn {
                name: name.clone(),
                treatment,
            });
        }
        // a column with gaps fills them with its exact median; one without
        // keeps a median for gaps to come, taken from evenly spaced rows
        let gaps: Vec<bool> = numbers
            .iter()
            .map(|&j| raw.columns[j].missing > 0)
            .collect();
        let medians = column_medians(&raw.x, &numbers, &gaps);
        let mut next = numbers.iter().zip(medians).peekable();
        for (j, c) in columns.iter_mut().enumerate() {
            if let Some((_, m)) = next.next_if(|(&k, _)| k == j) {
                match (m, &mut c.treatment) {
                    (Some(m), Treatment::Number { median, .. }) => *median = m,
                    _ => c.treatment = Treatment::Ignored(IgnoreReason::Empty),
                }
            }
            match c.treatment {
                Treatment::Ignored(IgnoreReason::Empty) => notes.push(format!(
                    "column {}: every value is missing; ignored",
                    show(&c.name)
                )),
                Treatment::Ignored(IgnoreReason::Identifier) => notes.push(format!(
                    "column {}: a different text in every row (an identifier?); ignored \
                     (name it in {} to use it)",
                    show(&c.name),
                    crate::error::mention("read.category_columns", None)
                )),
                _ => {}
            }
        }
        Ok((TableEncoding { columns }, notes))
    }
}

/// Whether a column of numbers and text may be a category whose levels
/// are numbers and words (`4`, `f`, `r`): none of its texts is a number out
/// of range (`inf`, `1e39`); [`RawColumns::numbers_to_text`] decides the
/// rest. Otherwise the text is taken for a slip in a column of numbers
/// ([`super::kind::auto_kind`] says so).
fn levels_among_numbers(cells: &ColumnCells) -> bool {
    cells.numbers > 0
        && !cells.text.cells.is_empty()
        && cells
            .text
            .values
            .iter()
            .all(|t| t.trim().parse::<f64>().is_err())
}

/// The median of each of the columns `cols` of `x`: of all its rows where
/// `exact` says so (a column with gaps, which the median fills), else of at
/// most [`MEDIAN_SAMPLE`] evenly spaced rows (every `⌈rows / MEDIAN_SAMPLE⌉`-th
/// row from the first: all rows of a smaller table). The columns are taken
/// in one pass over the rows and their medians found on a thread each (as
/// many at once as there are cores): the same values as one by one.
fn column_medians(x: &crate::tensor::Matrix, cols: &[usize], exact: &[bool]) -> Vec<Option<f32>> {
    let width = x.cols().max(1);
    let stride = x.rows().div_ceil(MEDIAN_SAMPLE).max(1);
    let (all, sampled): (Vec<usize>, Vec<usize>) = (0..cols.len()).partition(|&i| exact[i]);
    // the values as keys in `total_cmp` order: integers compare faster
    let mut values: Vec<Vec<u32>> = vec![Vec::new(); cols.len()];
    let take =
        |rows: &mut dyn Iterator<Item = &[f32]>, which: &[usize], values: &mut Vec<Vec<u32>>| {
            for row in rows {
                for &i in which {
                    let v = row[cols[i]];
                    if !v.is_nan() {
                        values[i].push(order_key(v));
                    }
                }
            }
        };
    if !all.is_empty() {
        take(&mut x.as_slice().chunks_exact(width), &all, &mut values);
    }
    if !sampled.is_empty() {
        take(
            &mut x.as_slice().chunks_exact(width).step_by(stride),
            &sampled,
            &mut values,
        );
    }
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let per = values.len().div_ceil(threads.max(1)).max(1);
    let mut out = vec![None; values.len()];
    std::thread::scope(|s| {
        for (vs, os) in values.chunks_mut(per).zip(out.chunks_mut(per)) {
            s.spawn(move || {
                for (v, o) in vs.iter_mut().zip(os) {
                    *o = median_of_keys(v);
                }
            });
        }
    });
    out
}

/// Whether column `j`, called `name`, is pandas' index: named `` or
/// `Unnamed: 0`, and every value an integer, increasing from 0.
fn is_pandas_index(name: &str, raw: &RawColumns, j: usize) -> bool {
    if !(name.is_empty() || name == "Unnamed: 0") || j != 0 {
        return false;
    }
    let cells = &raw.columns[j];
    if cells.missing > 0 || !cells.text.cells.is_empty() || raw.rows() == 0 {
        return false;
    }
    let mut prev = -1.0f32;
    for v in raw.x.as_slice().iter().step_by(raw.x.cols()) {
        if *v <= prev || v.fract() != 0.0 || (prev < 0.0 && *v != 0.0) {
            return false;
        }
        prev = *v;
    }
    true
}

/// A boolean column's treatment.
fn boolean(cells: &ColumnCells) -> Treatment {
    let text = &cells.text;
    let (t, f) = boolean_pair(&text.values).expect("a boolean column has a pair");
    let seen = |want: &str| {
        text.values
            .iter()
            .find(|v| v.eq_ignore_ascii_case(want))
            .cloned()
            .unwrap_or_else(|| want.to_string())
    };
    let (true_text, false_text) = (seen(t), seen(f));
    let ones = text
        .cells
        .iter()
        .filter(|&&(_, c)| text.values[c as usize].eq_ignore_ascii_case(t))
        .count();
    let n = text.cells.len();
    let fill = match (2 * ones).cmp(&n) {
        std::cmp::Ordering::Greater => 1.0,
        std::cmp::Ordering::Less => 0.0,
        std::cmp::Ordering::Equal => 0.5,
    };
    Treatment::Boolean {
        true_text,
        false_text,
        fill,
        indicator: cells.missing > 0,
    }
}

/// A date column's treatment: the exact median of its times, and the
/// cycles they move along.
fn date(cells: &ColumnCells) -> Treatment {
    let text = &cells.text;
    let counts = text.counts();
    let mut times: Vec<(f64, usize)> = text
        .values
        .iter()
        .zip(counts)
        .map(|(v, n)| (parse_date(v).expect("a date column holds dates"), n))
        .collect();
    times.sort_by(|a, b| a.0.total_cmp(&b.0));
    let n: usize = times.iter().map(|t| t.1).sum();
    // the value at 0-based position k of the sorted cells
    let at = |k: usize| {
        let mut seen = 0;
        for &(t, c) in &times {
            seen += c;
            if k < seen {
                return t;
            }
        }
        unreachable!("k < n")
    };
    let median = if n % 2 == 1 {
        at(n / 2)
    } else {
        (at(n / 2 - 1) + at(n / 2)) / 2.0
    };
    Treatment::Date {
        median,
        cycles: Cycles::of(&times.iter().map(|t| t.0).collect::<Vec<f64>>()),
        indicator: cells.missing > 0,
    }
}

/// A category column's treatment: the levels seen at least
/// `opts.min_category_count` times, at most `opts.max_categories` of them
/// (the most frequent; ties to the first in byte order), sorted.
fn category(
    name: &str,
    cells: &ColumnCells,
    opts: &ColumnOptions,
    notes: &mut Vec<String>,
) -> Treatment {
    let text = &cells.text;
    let counts = text.counts();
    let mut order: Vec<usize> = (0..text.values.len())
        .filter(|&i| counts[i] >= opts.min_category_count.max(1))
        .collect();
    let rare = text.values.len() - order.len();
    order.sort_by(|&a, &b| {
        counts[b]
            .cmp(&counts[a])
            .then_with(|| text.values[a].cmp(&text.values[b]))
    });
    let capped = order.len().saturating_sub(opts.max_categories);
    order.truncate(opts.max_categories);
    let mut levels: Vec<String> = order.iter().map(|&i| text.values[i].clone()).collect();
    levels.sort();
    if rare + capped > 0 {
        let shared: usize = (0..text.values.len())
            .filter(|i| !order.contains(i))
            .map(|i| counts[i])
            .sum();
        notes.push(format!(
            "column {}: {} of its {} levels ({}{}) share the (other) input, {shared} rows",
            show(name),
            rare + capped,
            text.values.len(),
            if rare > 0 {
                format!("{rare} seen fewer than {} times", opts.min_category_count)
            } else {
                String::new()
            },
            if capped > 0 {
                format!(
                    "{}{capped} over the cap of {}",
                    if rare > 0 { ", " } else { "" },
                    opts.max_categories
                )
            } else {
                String::new()
            }
        ));
    }
    Treatment::Category {
        levels,
        missing: cells.missing > 0,
        other: rare + capped > 0,
        by_value: false,
    }
}

/// Per text value of a column, the level input it sets (`None`: no level);
/// `by_value`: a text that is a number is the level of its value's
/// shortest text.
pub(super) fn level_slots(
    levels: &[String],
    values: &[String],
    by_value: bool,
) -> Vec<Option<usize>> {
    let index: HashMap<&str, usize> = levels
        .iter()
        .enumerate()
        .map(|(i, l)| (l.as_str(), i))
        .collect();
    values
        .iter()
        .map(|v| match number_level(v).filter(|_| by_value) {
            Some(n) => index.get(n.as_str()).copied(),
            None => index.get(v.as_str()).copied(),
        })
        .collect()
}

/// The level of a text that is a finite number: its `f32` value's shortest
/// text (`4.0` and `4` are `4`).
fn number_level(text: &str) -> Option<String> {
    let v = text.trim().parse::<f64>().ok()? as f32;
    v.is_finite().then(|| v.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians() {
        assert_eq!(median([3.0, f32::NAN, 1.0, 2.0].into_iter()), Some(2.0));
        assert_eq!(median([4.0, 1.0, 2.0, 3.0].into_iter()), Some(2.5));
        assert_eq!(median([f32::NAN].into_iter()), None);
        assert_eq!(median([-0.0f32, 7.0].into_iter()), Some(3.5));
        for x in [
            0.0f32,
            -0.0,
            1.5,
            -1.5,
            f32::MAX,
            f32::MIN,
            f32::MIN_POSITIVE,
            -1e-45,
        ] {
            assert_eq!(from_order_key(order_key(x)).to_bits(), x.to_bits());
            assert_eq!(order_key(x).cmp(&order_key(1.0)), x.total_cmp(&1.0));
        }
    }
}
