//! What marks a missing feature value ([`NaValues`]: the spellings, by default
//! those of [`crate::data::is_missing`]) and what to do about one
//! ([`MissingPolicy`]).

use super::classes::MISSING;

/// The texts that mark a missing feature value. The default: empty, `NA`,
/// `N/A`, `NaN`, `?`, `null` and `None`, in any case (after trimming spaces);
/// a list given by the user is matched exactly (after trimming).
///
/// ```
/// use backprop::data::NaValues;
/// let d = NaValues::default();
/// assert!(d.is_missing(b"") && d.is_missing(b"na") && d.is_missing(b"NULL"));
/// assert!(!d.is_missing(b"0") && !d.is_missing(b"nano"));
/// let mine = NaValues::exactly(["-999", ""]);
/// assert!(mine.is_missing(b"-999") && mine.is_missing(b"") && !mine.is_missing(b"NA"));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NaValues {
    spellings: Vec<String>,
    ignore_case: bool,
}

impl Default for NaValues {
    fn default() -> Self {
        NaValues {
            spellings: MISSING.iter().map(|s| s.to_string()).collect(),
            ignore_case: true,
        }
    }
}

impl NaValues {
    /// Exactly these spellings (trimmed), case-sensitive.
    pub fn exactly<S: AsRef<str>>(spellings: impl IntoIterator<Item = S>) -> NaValues {
        NaValues {
            spellings: spellings
                .into_iter()
                .map(|s| s.as_ref().trim().to_string())
                .collect(),
            ignore_case: false,
        }
    }

    /// The spellings, as matched.
    pub fn spellings(&self) -> &[String] {
        &self.spellings
    }

    /// Whether the (trimmed) field marks a missing value.
    #[inline]
    pub fn is_missing(&self, field: &[u8]) -> bool {
        self.spellings.iter().any(|s| {
            let s = s.as_bytes();
            s.len() == field.len()
                && if self.ignore_case {
                    s.eq_ignore_ascii_case(field)
                } else {
                    s == field
                }
        })
    }
}

/// What a missing feature value becomes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum MissingPolicy {
    /// A number column's gaps take the training median, with a 0/1 column
    /// saying which were missing (for the columns that had gaps in
    /// training); in a category column, missing is a level of its own.
    #[default]
    Impute,
    /// A missing value is an error naming its line and column.
    Error,
}
