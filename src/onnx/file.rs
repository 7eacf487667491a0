//! The ONNX file of a model: encoded with `prost`, written atomically.

use std::path::Path;

use prost::Message;

use crate::error::Result;
use crate::fit::check_output_path;
use crate::model_io::{write_atomic, Ensemble};

use super::graph;

/// The ONNX file of `ensemble` (one member: that model), as bytes.
///
/// # Errors
/// [`crate::Error::Config`] (option `onnx`) for a model whose columns the
/// graph cannot read (text, booleans, dates), naming the column.
pub fn to_bytes(ensemble: &Ensemble) -> Result<Vec<u8>> {
    Ok(graph::model(ensemble)?.encode_to_vec())
}

/// Writes [`to_bytes`] to `path` atomically (a temporary file renamed into
/// place: a failed write leaves no half-written file). A folder, or a path
/// whose folder is missing or not writable, is refused before anything is
/// built ([`check_output_path`]).
///
/// # Errors
/// As [`to_bytes`] and [`check_output_path`] (option `onnx`), and I/O errors.
pub fn write(path: &Path, ensemble: &Ensemble) -> Result<()> {
    check_output_path("onnx", path)?;
    write_atomic(path, &to_bytes(ensemble)?)
}
