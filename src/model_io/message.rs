//! How the model file readers word their errors: [`data_err`] names the
//! file, [`quote`] quotes what it holds.

use crate::error::Error;

/// Characters of a value from a file quoted in an error message.
const QUOTE_CHARS: usize = 60;

/// An [`Error::Data`] about the file `src`.
pub(super) fn data_err(src: &str, message: impl Into<String>) -> Error {
    Error::Data {
        source_name: src.to_string(),
        message: message.into(),
    }
}

/// `'text'` with control characters escaped and long values cut, for messages
/// quoting what a file holds.
pub(super) fn quote(s: &str) -> String {
    let mut out = String::from("'");
    for (i, c) in s.chars().enumerate() {
        if i == QUOTE_CHARS {
            out.push('…');
            break;
        }
        out.extend(c.escape_debug());
    }
    out.push('\'');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_are_escaped_and_cut() {
        assert_eq!(quote("a\nb"), "'a\\nb'");
        assert_eq!(quote(&"é".repeat(100)).chars().count(), QUOTE_CHARS + 3);
    }
}
