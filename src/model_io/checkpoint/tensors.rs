//! A vector laid out like a network's parameters, stored as one `F32`
//! tensor per layer and part (the optimizer's buffers, the best epoch's
//! weights): writing and reading it, every value finite.

use crate::error::Result;
use crate::model_io::message::data_err;
use crate::model_io::safetensors::{Parsed, Tensors};

/// Adds `buf` (laid out like the parameters of a network of `sizes`) as one
/// tensor per layer and part, named by `name(layer, part)`; every value
/// must be finite. `buf` has exactly the parameter count (checked by callers).
pub(super) fn insert_layer_tensors<'a>(
    tensors: &mut Tensors<'a>,
    sizes: &[usize],
    buf: &'a [f32],
    name: impl Fn(usize, &str) -> String,
    src: &str,
) -> Result<()> {
    let mut offset = 0;
    for (l, pair) in sizes.windows(2).enumerate() {
        let (n_in, n_out) = (pair[0], pair[1]);
        for (part, shape) in [("weight", vec![n_out, n_in]), ("bias", vec![n_out])] {
            let len = shape.iter().product::<usize>();
            let values = &buf[offset..offset + len];
            offset += len;
            let t = name(l, part);
            check_state_finite(&t, values, src)?;
            tensors.insert(t, (shape, values));
        }
    }
    Ok(())
}

/// A vector laid out like the parameters, read from one `F32` tensor per
/// layer and part (`weight` shaped `[out, in]`, `bias` `[out]`) named by
/// `name(layer, part)`; every value must be finite.
pub(super) fn read_layer_tensors(
    file: &Parsed<'_>,
    sizes: &[usize],
    name: impl Fn(usize, &str) -> String,
) -> Result<Vec<f32>> {
    let mut buf = Vec::new();
    for (l, pair) in sizes.windows(2).enumerate() {
        let (n_in, n_out) = (pair[0], pair[1]);
        for (part, shape) in [("weight", vec![n_out, n_in]), ("bias", vec![n_out])] {
            let t = name(l, part);
            let info = file.tensor(&t)?;
            if info.dtype != ::safetensors::Dtype::F32 || info.shape != shape {
                return Err(file.err(format!(
                    "tensor '{t}' has dtype {} and shape {:?}, expected F32 {shape:?}",
                    info.dtype, info.shape
                )));
            }
            let start = buf.len();
            buf.extend(
                file.tensor_bytes(&t)?
                    .chunks_exact(4)
                    .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])),
            );
            check_state_finite(&t, &buf[start..], file.src())?;
        }
    }
    Ok(buf)
}

/// An error naming tensor `name` at its first value that is not finite.
fn check_state_finite(name: &str, v: &[f32], src: &str) -> Result<()> {
    match v.iter().position(|x| !x.is_finite()) {
        None => Ok(()),
        Some(i) => Err(data_err(
            src,
            format!(
                "tensor '{name}' holds {} at index {i}: optimizer state must be finite",
                v[i]
            ),
        )),
    }
}
