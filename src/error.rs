//! The crate's one error type.

use std::path::PathBuf;

/// Everything that can go wrong in `backprop`.
///
/// Each variant says what to fix: a shape that does not match, an option out of
/// range, a file that does not parse.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Two shapes that must agree do not. `op` names the operation.
    #[error("{op}: shape mismatch: expected {expected}, got {got}")]
    Shape {
        /// The operation that checked the shapes.
        op: &'static str,
        /// What the operation needed.
        expected: String,
        /// What it was given.
        got: String,
    },
    /// A configuration value is impossible (zero batch size, no layers, …).
    #[error("invalid option {option}: {reason}")]
    Config {
        /// The option, spelled as on the command line where there is one.
        option: &'static str,
        /// Why it is rejected.
        reason: String,
    },
    /// Malformed input data; `source_name` is the file (or `<embedded>`), `line` is 1-based.
    #[error("{source_name}:{line}: {message}")]
    Parse {
        /// File name or other origin of the text.
        source_name: String,
        /// 1-based line number.
        line: usize,
        /// What is wrong there.
        message: String,
    },
    /// Data that parsed but cannot be used (empty, NaN, wrong label range, …).
    #[error("{source_name}: {message}")]
    Data {
        /// File name or other origin.
        source_name: String,
        /// What is wrong.
        message: String,
    },
    /// Training produced a non-finite loss or parameter.
    #[error("training diverged: {0}")]
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
