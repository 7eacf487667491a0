//! One checkpoint key as a typed value: the readers, whose errors name the
//! key and quote its text, and the writer of `f64` bits.

use crate::error::Result;
use crate::model_io::message::quote;
use crate::model_io::safetensors::Parsed;
use crate::model_io::schema::{parse_f32, parse_hex, parse_uint};

/// The value of `key`: a non-negative integer.
pub(super) fn read_uint(file: &Parsed<'_>, key: &str) -> Result<u128> {
    let t = file.require(key)?;
    parse_uint::<u128>(t)
        .ok_or_else(|| file.err(format!("{key} {} is not a non-negative integer", quote(t))))
}

/// The value of `key`: a non-negative integer of at most `max`.
pub(super) fn read_at_most(file: &Parsed<'_>, key: &str, max: u128) -> Result<u128> {
    let v = read_uint(file, key)?;
    if v > max {
        return Err(file.err(format!("{key} {v} is too large (at most {max})")));
    }
    Ok(v)
}

/// The value of `key`: a `usize`.
pub(super) fn read_usize(file: &Parsed<'_>, key: &str) -> Result<usize> {
    let v = read_at_most(file, key, usize::MAX as u128)?;
    Ok(usize::try_from(v).unwrap_or(usize::MAX))
}

/// The value of `key`: a `u64`.
pub(super) fn read_u64(file: &Parsed<'_>, key: &str) -> Result<u64> {
    let v = read_at_most(file, key, u64::MAX as u128)?;
    Ok(u64::try_from(v).unwrap_or(u64::MAX))
}

/// The value of `key`: an `f32` in decimal.
pub(super) fn read_f32(file: &Parsed<'_>, key: &str) -> Result<f32> {
    let t = file.require(key)?;
    parse_f32(t).ok_or_else(|| file.err(format!("{key} {} is not a number", quote(t))))
}

/// The value of `key`: `true` or `false`.
pub(super) fn read_bool(file: &Parsed<'_>, key: &str) -> Result<bool> {
    match file.require(key)? {
        "true" => Ok(true),
        "false" => Ok(false),
        other => Err(file.err(format!("{key} {} is neither true nor false", quote(other)))),
    }
}

/// The value of `key`: an `f64` as 16 hexadecimal digits of its bits.
pub(super) fn read_f64_bits(file: &Parsed<'_>, key: &str) -> Result<f64> {
    let bits = hex(file, key, file.require(key)?)?;
    Ok(f64::from_bits(u64::from_be_bytes(bits)))
}

/// `v` as [`read_f64_bits`] reads it: 16 hexadecimal digits of its bits.
pub(super) fn f64_bits(v: f64) -> String {
    format!("{:016x}", v.to_bits())
}

/// The value `text` of `key`: exactly `2 * N` hexadecimal digits.
pub(super) fn hex<const N: usize>(file: &Parsed<'_>, key: &str, text: &str) -> Result<[u8; N]> {
    parse_hex::<N>(text).ok_or_else(|| {
        file.err(format!(
            "{key} {} is not {} hexadecimal digits",
            quote(text),
            2 * N
        ))
    })
}
