//! How the readers word their errors: [`data_error`] names the source, and
//! [`show`] quotes a bad field.

use crate::error::Error;

/// A data error about `source_name` (a file name or a table's label).
pub(crate) fn data_error(source_name: &str, message: String) -> Error {
    Error::Data {
        source_name: source_name.to_string(),
        message,
    }
}

/// Longest piece of a bad field quoted in an error message, in characters.
const SHOW_MAX: usize = 40;

/// A field as quoted in an error message: at most [`SHOW_MAX`] characters.
pub(crate) fn show(field: &str) -> String {
    match field.char_indices().nth(SHOW_MAX) {
        Some((end, _)) => format!("'{}…'", &field[..end]),
        None => format!("'{field}'"),
    }
}
