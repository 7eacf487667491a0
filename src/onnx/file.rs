//! The ONNX file of a model: encoded with `prost`, written atomically.

use std::path::Path;

use prost::Message;

use crate::error::Result;
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
/// place: a failed write leaves no half-written file).
///
/// # Errors
/// As [`to_bytes`], and I/O errors.
pub fn write(path: &Path, ensemble: &Ensemble) -> Result<()> {
    write_atomic(path, &to_bytes(ensemble)?)
}
