//! What each feature column is ([`ColumnKind`]), decided from the training
//! file unless the user says ([`ColumnOptions`]), and the rule that decides
//! ([`auto_kind`]).

use super::date::parse_date;
use super::raw::ColumnCells;
use crate::data::missing::{MissingPolicy, NaValues};
use crate::data::number::parse_number;
use crate::error::mention;

/// Text columns whose every value is different are identifiers (ignored)
/// from this many values on; below it they are categories.
pub const ID_MIN_VALUES: usize = 20;

/// The default of [`ColumnOptions::max_categories`].
pub const MAX_CATEGORIES: usize = 64;

/// The two spellings of a boolean column, compared case-insensitively:
/// `(true, false)`.
pub const BOOLEAN_PAIRS: [(&str, &str); 5] = [
    ("true", "false"),
    ("yes", "no"),
    ("y", "n"),
    ("t", "f"),
    ("on", "off"),
];

/// What a feature column is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ColumnKind {
    /// Numbers.
    Number,
    /// Two values such as `yes`/`no`: one 0/1 input.
    Boolean,
    /// Text values: one 0/1 input per level.
    Category,
    /// Year-first dates (`2012-01-31`, with or without a time): the time,
    /// and its place in the year, the week and the day
    /// ([`super::parse_date`], [`super::date_inputs`]).
    Date,
    /// Not an input: pandas' index, an identifier, or a column without values.
    Ignored,
}

impl ColumnKind {
    /// The kind's name, as `info` and the model file write it.
    pub fn name(self) -> &'static str {
        match self {
            ColumnKind::Number => "number",
            ColumnKind::Boolean => "boolean",
            ColumnKind::Category => "category",
            ColumnKind::Date => "date",
            ColumnKind::Ignored => "ignored",
        }
    }
}

/// How to read and prepare the feature columns of a training file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ColumnOptions {
    /// Columns read as categories, whatever they hold (numbers too).
    pub category: Vec<String>,
    /// Columns that must hold numbers (text in them is an error).
    pub number: Vec<String>,
    /// The spellings of a missing value.
    pub na_values: NaValues,
    /// What a missing value becomes.
    pub missing: MissingPolicy,
    /// Levels seen fewer times than this share the "other" input.
    pub min_category_count: usize,
    /// At most this many levels per category column get their own input
    /// (the most frequent); the rest share the "other" input.
    pub max_categories: usize,
}

impl Default for ColumnOptions {
    fn default() -> Self {
        ColumnOptions {
            category: Vec::new(),
            number: Vec::new(),
            na_values: NaValues::default(),
            missing: MissingPolicy::default(),
            min_category_count: 1,
            max_categories: MAX_CATEGORIES,
        }
    }
}

/// How the reader takes a column's cells.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParseAs {
    /// Numbers; other text is kept for the kind to be decided.
    Auto,
    /// Numbers only: other text is an error.
    Number,
    /// Every value is text (numbers too).
    Text,
}

/// The boolean pair that every one of `values` belongs to (compared
/// case-insensitively: `Yes`, `yes` and `no` are one pair), if any.
pub fn boolean_pair<S: AsRef<str>>(values: &[S]) -> Option<(&'static str, &'static str)> {
    if values.is_empty() {
        return None;
    }
    BOOLEAN_PAIRS.into_iter().find(|(t, f)| {
        values.iter().all(|v| {
            let v = v.as_ref();
            v.eq_ignore_ascii_case(t) || v.eq_ignore_ascii_case(f)
        })
    })
}

/// Why a column read as [`ParseAs::Auto`] cannot be given a kind: it holds
/// numbers and text. The row of the cell to blame and the message.
pub struct Mixed {
    /// The 0-based row of the cell the message is about.
    pub row: usize,
    /// What to say.
    pub message: String,
}

/// The kind of a column read as [`ParseAs::Auto`], from what it held; a
/// column of numbers and text is ambiguous and an error ([`Mixed`]).
///
/// - No text: a number column (ignored when every value is missing).
/// - Text only: a date when every value is a year-first date
///   ([`super::parse_date`]); boolean when its values are one of
///   [`BOOLEAN_PAIRS`]; ignored when each of at least [`ID_MIN_VALUES`] values is different
///   (an identifier); else a category.
pub fn auto_kind(cells: &ColumnCells) -> Result<ColumnKind, Mixed> {
    let text = &cells.text;
    if text.cells.is_empty() {
        return Ok(if cells.numbers == 0 {
            ColumnKind::Ignored
        } else {
            ColumnKind::Number
        });
    }
    if cells.numbers > 0 {
        return Err(mixed(cells));
    }
    if text.values.iter().all(|v| parse_date(v).is_some()) {
        return Ok(ColumnKind::Date);
    }
    if boolean_pair(&text.values).is_some() {
        return Ok(ColumnKind::Boolean);
    }
    if text.values.len() == text.cells.len() && text.values.len() >= ID_MIN_VALUES {
        return Ok(ColumnKind::Ignored);
    }
    Ok(ColumnKind::Category)
}

/// The error for a column of numbers and text.
fn mixed(cells: &ColumnCells) -> Mixed {
    let text = &cells.text;
    let (first_row, first_code) = text.cells[0];
    let hint = format!(
        "if it marks a missing value, add it to {}; to read every value of the column as a \
         category, name it in {}",
        mention("read.na_values", None),
        mention("read.category_columns", None)
    );
    if cells.numbers >= text.cells.len() {
        Mixed {
            row: first_row as usize,
            message: format!(
                "{}, but {} of the column's values are numbers; {hint}",
                parse_number(&text.values[first_code as usize])
                    .err()
                    .unwrap_or_else(|| "not a number".to_string()),
                cells.numbers
            ),
        }
    } else {
        Mixed {
            row: cells.first_number.unwrap_or(0),
            message: format!(
                "a number among text: the column holds {} text values and {} numbers, so it is \
                 ambiguous; to read every value of the column as a category, name it in {}; \
                 if the text marks missing values, add them to {}",
                text.cells.len(),
                cells.numbers,
                mention("read.category_columns", None),
                mention("read.na_values", None)
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::columns::raw::TextCells;

    fn text(values: &[&str], rows: &[u32]) -> ColumnCells {
        let mut distinct: Vec<String> = Vec::new();
        let cells = values
            .iter()
            .zip(rows)
            .map(|(v, &r)| {
                let c = match distinct.iter().position(|d| d == v) {
                    Some(c) => c,
                    None => {
                        distinct.push(v.to_string());
                        distinct.len() - 1
                    }
                };
                (r, c as u32)
            })
            .collect();
        ColumnCells {
            text: TextCells {
                values: distinct,
                cells,
            },
            ..ColumnCells::default()
        }
    }

    #[test]
    fn kinds_from_the_cells() {
        let numbers = ColumnCells {
            numbers: 5,
            first_number: Some(0),
            ..ColumnCells::default()
        };
        assert_eq!(auto_kind(&numbers).ok(), Some(ColumnKind::Number));
        let empty = ColumnCells {
            missing: 3,
            first_missing: Some(0),
            ..ColumnCells::default()
        };
        assert_eq!(auto_kind(&empty).ok(), Some(ColumnKind::Ignored));
        let flag = text(&["Yes", "no", "yes"], &[0, 1, 2]);
        assert_eq!(auto_kind(&flag).ok(), Some(ColumnKind::Boolean));
        let days = text(&["2012/01/01", "2012-01-02 10:00"], &[0, 2]);
        assert_eq!(auto_kind(&days).ok(), Some(ColumnKind::Date));
        let not_all = text(&["2012/01/01", "soon"], &[0, 2]);
        assert_eq!(auto_kind(&not_all).ok(), Some(ColumnKind::Category));
        let two = text(&["male", "female"], &[0, 1]);
        assert_eq!(auto_kind(&two).ok(), Some(ColumnKind::Category));
        let names: Vec<String> = (0..20).map(|i| format!("name {i}")).collect();
        let refs: Vec<&str> = names.iter().map(|s| s.as_str()).collect();
        let rows: Vec<u32> = (0..20).collect();
        assert_eq!(
            auto_kind(&text(&refs, &rows)).ok(),
            Some(ColumnKind::Ignored)
        );
        assert_eq!(
            auto_kind(&text(&refs[..19], &rows[..19])).ok(),
            Some(ColumnKind::Category)
        );
        let mut typo = text(&["unknown"], &[3]);
        typo.numbers = 9;
        typo.first_number = Some(0);
        let e = auto_kind(&typo).unwrap_err();
        assert_eq!(e.row, 3);
        assert!(
            e.message
                .starts_with("'unknown' is not a number, but 9 of the column's values are numbers"),
            "{}",
            e.message
        );
        let mut level = text(&["a", "b", "a"], &[0, 2, 3]);
        level.numbers = 1;
        level.first_number = Some(1);
        let e = auto_kind(&level).unwrap_err();
        assert_eq!(e.row, 1);
        assert!(
            e.message.starts_with("a number among text"),
            "{}",
            e.message
        );
    }

    #[test]
    fn boolean_pairs() {
        assert_eq!(boolean_pair(&["TRUE", "False"]), Some(("true", "false")));
        assert_eq!(boolean_pair(&["y"]), Some(("y", "n")));
        assert_eq!(boolean_pair(&["yes", "n"]), None);
        assert_eq!(boolean_pair::<&str>(&[]), None);
    }
}
