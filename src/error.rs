//! The crate's one error type, and how its texts name configuration fields.
//!
//! A message that tells the user what to set names the field of the
//! settings (`mention`, crate-private): `for regression use head=mse`. The error's own
//! text (`to_string()`) spells it that way; a front end spells it its own
//! way with [`Error::text_with`] (the command line: `--head mse`).

use std::path::PathBuf;

/// Everything that can go wrong in `backprop`.
///
/// Each variant says what to fix: a shape that does not match, an option out of
/// range, a file that does not parse.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Two shapes that must agree do not. `op` names the operation.
    #[error(
        "{op}: shape mismatch: expected {}, got {}",
        plain(expected),
        plain(got)
    )]
    Shape {
        /// The operation that checked the shapes.
        op: &'static str,
        /// What the operation needed.
        expected: String,
        /// What it was given.
        got: String,
    },
    /// A configuration value is impossible (zero batch size, no layers, …).
    #[error("invalid option {option}: {}", plain(reason))]
    Config {
        /// The configuration field (`batch_size`, `early_stopping.patience`).
        option: &'static str,
        /// Why it is rejected.
        reason: String,
    },
    /// Malformed input data; `source_name` is the file (or `<embedded>`), `line` is 1-based.
    #[error("{source_name}:{line}: {}", plain(message))]
    Parse {
        /// File name or other origin of the text.
        source_name: String,
        /// 1-based line number.
        line: usize,
        /// What is wrong there.
        message: String,
    },
    /// Data that parsed but cannot be used (empty, NaN, wrong label range, …).
    #[error("{source_name}: {}", plain(message))]
    Data {
        /// File name or other origin.
        source_name: String,
        /// What is wrong.
        message: String,
    },
    /// Training produced a non-finite loss or parameter.
    #[error("training diverged: {}", plain(.0))]
    Diverged(String),
    /// An I/O error on a named file.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
}

/// `Result` with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// Shorthand for [`Error::Shape`].
    pub(crate) fn shape(op: &'static str, expected: impl ToString, got: impl ToString) -> Self {
        Error::Shape {
            op,
            expected: expected.to_string(),
            got: got.to_string(),
        }
    }

    /// Shorthand for [`Error::Config`].
    pub(crate) fn config(option: &'static str, reason: impl ToString) -> Self {
        Error::Config {
            option,
            reason: reason.to_string(),
        }
    }
}

impl Error {
    /// This error's text with each field its message names spelled by
    /// `spell`; `to_string()` is `text_with(&Field::plain)`.
    ///
    /// ```
    /// use backprop::error::{Error, Field};
    /// let e = backprop::data::ClassMap::fit_named(
    ///     &(0..30).map(|i| format!("{i}.5")).collect::<Vec<_>>(),
    ///     "y.csv",
    /// )
    /// .unwrap_err();
    /// assert!(e.to_string().ends_with("for regression use head=mse"));
    /// let flag = |f: Field<'_>| format!("--{} {}", f.name, f.value.unwrap_or(""));
    /// assert!(e.text_with(&flag).ends_with("for regression use --head mse"));
    /// ```
    pub fn text_with(&self, spell: &dyn Fn(Field<'_>) -> String) -> String {
        let s = |text: &str| spell_fields(text, spell);
        match self {
            Error::Shape { op, expected, got } => {
                format!(
                    "{op}: shape mismatch: expected {}, got {}",
                    s(expected),
                    s(got)
                )
            }
            Error::Config { option, reason } => format!("invalid option {option}: {}", s(reason)),
            Error::Parse {
                source_name,
                line,
                message,
            } => format!("{source_name}:{line}: {}", s(message)),
            Error::Data {
                source_name,
                message,
            } => format!("{source_name}: {}", s(message)),
            Error::Diverged(m) => format!("training diverged: {}", s(m)),
            Error::Io { path, source } => format!("{}: {source}", path.display()),
        }
    }
}

/// A configuration field named inside an error's text, with the value the
/// message suggests for it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Field<'a> {
    /// The field as the settings name it: `head`, `read.labels_path`.
    pub name: &'a str,
    /// The value suggested (`mse`), if any.
    pub value: Option<&'a str>,
    /// The words the library's own text uses instead of `name=value`, where
    /// those would not read well.
    pub words: Option<&'a str>,
}

impl Field<'_> {
    /// The library's spelling: its words, else `name=value`, else `name`.
    ///
    /// ```
    /// use backprop::error::Field;
    /// let f = Field { name: "head", value: Some("mse"), words: None };
    /// assert_eq!(f.plain(), "head=mse");
    /// ```
    pub fn plain(self) -> String {
        match (self.words, self.value) {
            (Some(w), _) => w.to_string(),
            (None, Some(v)) => format!("{}={v}", self.name),
            (None, None) => self.name.to_string(),
        }
    }
}

/// Opens a field mention inside a message; [`SEP`] separates its parts and
/// [`CLOSE`] ends it. None of them is in any text the library writes.
const OPEN: char = '\u{1e}';
const SEP: char = '\u{1f}';
const CLOSE: char = '\u{1d}';

/// A field named in a message: spelled `name=value` (or `name`) by the
/// error's own text and as each front end spells it by [`Error::text_with`].
pub(crate) fn mention(name: &str, value: Option<&str>) -> String {
    format!("{OPEN}{name}{SEP}{}{SEP}{CLOSE}", value.unwrap_or(""))
}

/// [`mention`] of a field that the library's text calls `words`.
pub(crate) fn mention_as(name: &str, words: &str) -> String {
    format!("{OPEN}{name}{SEP}{SEP}{words}{CLOSE}")
}

/// `text` with each field mention spelled by `spell`.
///
/// ```
/// use backprop::error::{spell_fields, Field};
/// assert_eq!(spell_fields("no mention here", &|f: Field<'_>| f.plain()), "no mention here");
/// ```
pub fn spell_fields(text: &str, spell: &dyn Fn(Field<'_>) -> String) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find(OPEN) {
        out.push_str(&rest[..start]);
        let after = &rest[start + OPEN.len_utf8()..];
        let Some(end) = after.find(CLOSE) else {
            out.push_str(&rest[start..]);
            return out;
        };
        let mut parts = after[..end].splitn(3, SEP);
        let name = parts.next().unwrap_or("");
        let value = parts.next().filter(|p| !p.is_empty());
        let words = parts.next().filter(|p| !p.is_empty());
        out.push_str(&spell(Field { name, value, words }));
        rest = &after[end + CLOSE.len_utf8()..];
    }
    out.push_str(rest);
    out
}

/// The library's own spelling of the mentions in `text`.
fn plain(text: &str) -> String {
    spell_fields(text, &|f: Field<'_>| f.plain())
}
