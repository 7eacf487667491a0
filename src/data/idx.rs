//! The IDX format of MNIST, plain or gzip-compressed.
//!
//! An IDX file is a 4-byte magic `0x00 0x00 TYPE NDIMS`, then `NDIMS` big-endian
//! `u32` dimensions, then the elements, big-endian, row-major. `TYPE` is `0x08`
//! u8, `0x09` i8, `0x0B` i16, `0x0C` i32, `0x0D` f32 or `0x0E` f64; we accept
//! 1 to 4 dimensions. Images `n × rows × cols` become `n` samples of
//! `rows · cols` features ([`NdArray::to_matrix`]).
//!
//! Untrusted input: the header is checked against the data length **before any
//! allocation** (the product of the dimensions times the element size must equal
//! the bytes that follow the header exactly), so a header that claims 4 billion
//! images is an error at once. Gzip input (magic `1f 8b`) is decompressed twice:
//! once into a fixed 64 KiB buffer to count its length (at most the limit, 4 GiB
//! by default) and read the IDX header, and once into a buffer of exactly that
//! length after the header has been checked against it.

use std::io::Read;

use flate2::read::GzDecoder;

use super::array::{Elements, NdArray};
use super::message::data_error;
use crate::error::Result;

/// An IDX file's contents: `shape` is the dimensions, `dtype` one of `u8`, `i8`,
/// `i16`, `i32`, `f32`, `f64`.
pub type IdxArray = NdArray;

/// The largest decompressed size accepted for gzip input by [`parse`]: 4 GiB.
pub const MAX_DECOMPRESSED: u64 = 4 << 30;

/// Largest number of dimensions accepted.
const MAX_DIMS: u8 = 4;

/// Whether `bytes` start with the gzip magic `1f 8b`.
pub fn is_gzip(bytes: &[u8]) -> bool {
    bytes.starts_with(&[0x1f, 0x8b])
}

/// Whether `bytes` start with a plausible IDX magic: `00 00`, a known type and
/// 1 to 4 dimensions.
pub fn has_magic(bytes: &[u8]) -> bool {
    match bytes {
        [0, 0, ty, n, ..] => ElemType::from_code(*ty).is_some() && (1..=MAX_DIMS).contains(n),
        _ => false,
    }
}

/// Parses an IDX file (gzip-compressed or not) held in `bytes`; `source_name`
/// prefixes error messages. Gzip input may decompress to at most
/// [`MAX_DECOMPRESSED`] bytes.
///
/// ```
/// use backprop::data::{idx, Elements};
/// // two 1×2 u8 images: magic, dims 2, 1, 2, then 4 pixels
/// let bytes = [0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 2, 0, 128, 255, 7];
/// let a = idx::parse(&bytes, "img.idx").unwrap();
/// assert_eq!(a.shape, [2, 1, 2]);
/// assert_eq!(a.data, Elements::U8(vec![0, 128, 255, 7]));
///
/// let absurd = [0, 0, 8, 3, 255, 255, 255, 255, 0, 0, 0, 28, 0, 0, 0, 28, 1, 2];
/// assert_eq!(
///     idx::parse(&absurd, "img.idx").unwrap_err().to_string(),
///     "img.idx: header claims 4294967295×28×28 u8 values (3367254359280 bytes) \
///      but the file holds 2 bytes after the 16-byte header"
/// );
/// ```
pub fn parse(bytes: &[u8], source_name: &str) -> Result<IdxArray> {
    parse_with_limit(bytes, source_name, MAX_DECOMPRESSED)
}

/// [`parse`], consuming the file's bytes: those of a plain `u8` file
/// become its array's elements in place (the header moved out of the
/// way), not a copy beside them.
///
/// # Errors
/// As [`parse`].
pub fn parse_owned(bytes: Vec<u8>, source_name: &str) -> Result<IdxArray> {
    if is_gzip(&bytes) {
        return parse(&bytes, source_name);
    }
    let header = Header::read(&bytes, source_name)?;
    header.check_len(bytes.len(), source_name, "the file holds")?;
    if header.ty != ElemType::U8 {
        return Ok(header.decode(&bytes[header.len()..]));
    }
    Ok(header.into_bytes_array(bytes))
}

/// [`parse`] with the decompressed-size limit for gzip input given in bytes.
pub fn parse_with_limit(
    bytes: &[u8],
    source_name: &str,
    max_decompressed: u64,
) -> Result<IdxArray> {
    if !is_gzip(bytes) {
        let header = Header::read(bytes, source_name)?;
        header.check_len(bytes.len(), source_name, "the file holds")?;
        return Ok(header.decode(&bytes[header.len()..]));
    }
    // Pass 1: count the decompressed bytes and keep the header, storing nothing else.
    let mut head = [0u8; 4 + 4 * MAX_DIMS as usize];
    let mut head_len = 0usize;
    let mut total: u64 = 0;
    let mut buf = [0u8; 64 * 1024];
    let mut decoder = GzDecoder::new(bytes);
    loop {
        let n = decoder
            .read(&mut buf)
            .map_err(|e| gzip_error(source_name, e))?;
        if n == 0 {
            break;
        }
        let take = n.min(head.len() - head_len);
        head[head_len..head_len + take].copy_from_slice(&buf[..take]);
        head_len += take;
        total += n as u64;
        if total > max_decompressed {
            return Err(data_error(
                source_name,
                format!("gzip data decompresses to more than {max_decompressed} bytes, the limit"),
            ));
        }
    }
    let header = Header::read(&head[..head_len], source_name)?;
    let total = usize::try_from(total).map_err(|_| {
        data_error(
            source_name,
            format!("decompressed size {total} does not fit in memory"),
        )
    })?;
    header.check_len(total, source_name, "the file decompresses to")?;
    // Pass 2: the header matches the length, so allocate it exactly and decode.
    let mut raw = Vec::with_capacity(total);
    GzDecoder::new(bytes)
        .take(total as u64)
        .read_to_end(&mut raw)
        .map_err(|e| gzip_error(source_name, e))?;
    if raw.len() != total {
        return Err(data_error(
            source_name,
            format!(
                "gzip data decompressed to {} bytes, then to {total}",
                raw.len()
            ),
        ));
    }
    if header.ty == ElemType::U8 {
        return Ok(header.into_bytes_array(raw));
    }
    Ok(header.decode(&raw[header.len()..]))
}

/// A plain (not gzip) IDX file of `u8` values — images — mapped and read in
/// place ([`Elements::MappedU8`]), so that its bytes are neither read into
/// memory nor copied. `Ok(None)` for any other file (gzip, another element
/// type, a header that does not match the length), which [`parse`] then
/// reads, or reports.
///
/// The file must stay unchanged while the result lives (see
/// `MappedF32::map`).
///
/// # Errors
/// [`crate::Error::Data`] naming `source_name` if the file cannot be mapped.
pub fn map_u8(file: &std::fs::File, source_name: &str) -> Result<Option<IdxArray>> {
    let cannot = |e: std::io::Error| data_error(source_name, format!("cannot map: {e}"));
    let len = file.metadata().map_err(cannot)?.len();
    let Ok(len) = usize::try_from(len) else {
        return Ok(None);
    };
    if len < 8 {
        return Ok(None);
    }
    let Some(map) = super::MappedU8::map(file, 0, len).map_err(cannot)? else {
        return Ok(None);
    };
    let bytes = map.as_slice();
    if is_gzip(bytes) {
        return Ok(None);
    }
    let Ok(header) = Header::read(bytes, source_name) else {
        return Ok(None);
    };
    if header.ty != ElemType::U8 || header.check_len(len, source_name, "").is_err() {
        return Ok(None);
    }
    let data = map.skip(header.len());
    Ok(Some(NdArray {
        shape: header.dims,
        dtype: "u8".to_string(),
        data: Elements::MappedU8(std::sync::Arc::new(data)),
    }))
}

fn gzip_error(source_name: &str, e: std::io::Error) -> crate::error::Error {
    data_error(source_name, format!("corrupt gzip data: {e}"))
}

/// An IDX element type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ElemType {
    U8,
    I8,
    I16,
    I32,
    F32,
    F64,
}

impl ElemType {
    fn from_code(code: u8) -> Option<ElemType> {
        Some(match code {
            0x08 => ElemType::U8,
            0x09 => ElemType::I8,
            0x0B => ElemType::I16,
            0x0C => ElemType::I32,
            0x0D => ElemType::F32,
            0x0E => ElemType::F64,
            _ => return None,
        })
    }

    fn size(self) -> usize {
        match self {
            ElemType::U8 | ElemType::I8 => 1,
            ElemType::I16 => 2,
            ElemType::I32 | ElemType::F32 => 4,
            ElemType::F64 => 8,
        }
    }

    fn name(self) -> &'static str {
        match self {
            ElemType::U8 => "u8",
            ElemType::I8 => "i8",
            ElemType::I16 => "i16",
            ElemType::I32 => "i32",
            ElemType::F32 => "f32",
            ElemType::F64 => "f64",
        }
    }
}

/// A checked IDX header: the type and at most [`MAX_DIMS`] dimensions.
struct Header {
    ty: ElemType,
    dims: Vec<usize>,
}

impl Header {
    /// Reads the magic and the dimensions from the start of `bytes`.
    fn read(bytes: &[u8], source_name: &str) -> Result<Header> {
        let err = |message: String| data_error(source_name, message);
        let [a, b, ty, n, ..] = *bytes else {
            return Err(err(format!(
                "too short for an IDX file: {} bytes, the header alone needs at least 8",
                bytes.len()
            )));
        };
        if (a, b) != (0, 0) {
            return Err(err(format!(
                "not an IDX file: it starts with bytes {a:#04x} {b:#04x}, expected 0x00 0x00"
            )));
        }
        let ty = ElemType::from_code(ty).ok_or_else(|| {
            err(format!(
                "unknown IDX element type {ty:#04x}; expected 0x08 (u8), 0x09 (i8), \
                 0x0b (i16), 0x0c (i32), 0x0d (f32) or 0x0e (f64)"
            ))
        })?;
        if !(1..=MAX_DIMS).contains(&n) {
            return Err(err(format!(
                "IDX header gives {n} dimensions; 1 to {MAX_DIMS} are supported"
            )));
        }
        let header_len = 4 + 4 * usize::from(n);
        let Some(dim_bytes) = bytes.get(4..header_len) else {
            return Err(err(format!(
                "the IDX header needs {header_len} bytes for {n} dimension{} but the file holds {}",
                if n == 1 { "" } else { "s" },
                bytes.len()
            )));
        };
        let dims = dim_bytes
            .chunks_exact(4)
            .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]) as usize)
            .collect();
        Ok(Header { ty, dims })
    }

    /// Header length in bytes.
    fn len(&self) -> usize {
        4 + 4 * self.dims.len()
    }

    /// Fails unless the data after the header (`file_len - self.len()` bytes)
    /// hold exactly the values the dimensions claim.
    fn check_len(&self, file_len: usize, source_name: &str, holds: &str) -> Result<()> {
        let available = file_len.saturating_sub(self.len()) as u128;
        let values = self.dims.iter().map(|&d| d as u128).product::<u128>();
        let needed = values.checked_mul(self.ty.size() as u128);
        if needed == Some(available) {
            return Ok(());
        }
        let dims: Vec<String> = self.dims.iter().map(usize::to_string).collect();
        let needed = needed.map_or("more than 2^128".to_string(), |b| b.to_string());
        Err(data_error(
            source_name,
            format!(
                "header claims {} {} values ({needed} bytes) but {holds} {available} bytes \
                 after the {}-byte header",
                dims.join("×"),
                self.ty.name(),
                self.len()
            ),
        ))
    }

    /// The array of a `u8` file whose bytes (header included, the length
    /// checked) are `file`: its elements are those bytes, moved up over the
    /// header rather than copied.
    fn into_bytes_array(self, mut file: Vec<u8>) -> NdArray {
        file.drain(..self.len());
        NdArray {
            shape: self.dims,
            dtype: "u8".to_string(),
            data: Elements::U8(file),
        }
    }

    /// Decodes `data` (exactly the checked length) into typed elements.
    fn decode(&self, data: &[u8]) -> NdArray {
        fn be<const N: usize>(data: &[u8]) -> impl Iterator<Item = [u8; N]> + '_ {
            data.chunks_exact(N).map(|c| {
                let mut a = [0u8; N];
                a.copy_from_slice(c);
                a
            })
        }
        let data = match self.ty {
            ElemType::U8 => Elements::U8(data.to_vec()),
            ElemType::I8 => Elements::I64(data.iter().map(|&b| i64::from(b as i8)).collect()),
            ElemType::I16 => Elements::I64(
                be::<2>(data)
                    .map(|a| i16::from_be_bytes(a).into())
                    .collect(),
            ),
            ElemType::I32 => Elements::I64(
                be::<4>(data)
                    .map(|a| i32::from_be_bytes(a).into())
                    .collect(),
            ),
            ElemType::F32 => Elements::F32(be::<4>(data).map(f32::from_be_bytes).collect()),
            ElemType::F64 => Elements::F64(be::<8>(data).map(f64::from_be_bytes).collect()),
        };
        NdArray {
            shape: self.dims.clone(),
            dtype: self.ty.name().to_string(),
            data,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn header(ty: u8, dims: &[u32]) -> Vec<u8> {
        let mut v = vec![0, 0, ty, dims.len() as u8];
        for d in dims {
            v.extend_from_slice(&d.to_be_bytes());
        }
        v
    }

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(bytes).unwrap();
        e.finish().unwrap()
    }

    fn error(bytes: &[u8]) -> String {
        parse(bytes, "f.idx").unwrap_err().to_string()
    }

    #[test]
    fn every_type() {
        let mut b = header(0x0B, &[2]);
        b.extend_from_slice(&[0xff, 0xfe, 0x01, 0x00]);
        assert_eq!(parse(&b, "f").unwrap().data, Elements::I64(vec![-2, 256]));
        let mut b = header(0x09, &[2]);
        b.extend_from_slice(&[0xff, 0x7f]);
        assert_eq!(parse(&b, "f").unwrap().data, Elements::I64(vec![-1, 127]));
        let mut b = header(0x0C, &[1]);
        b.extend_from_slice(&(-70000i32).to_be_bytes());
        assert_eq!(parse(&b, "f").unwrap().data, Elements::I64(vec![-70000]));
        let mut b = header(0x0D, &[1, 1]);
        b.extend_from_slice(&1.5f32.to_be_bytes());
        let a = parse(&b, "f").unwrap();
        assert_eq!(
            (a.shape, a.dtype, a.data),
            (vec![1, 1], "f32".into(), Elements::F32(vec![1.5]))
        );
        let mut b = header(0x0E, &[1]);
        b.extend_from_slice(&0.1f64.to_be_bytes());
        assert_eq!(parse(&b, "f").unwrap().data, Elements::F64(vec![0.1]));
    }

    #[test]
    fn parse_owned_equals_parse() {
        let mut bytes = header(0x08, &[3, 2]);
        bytes.extend_from_slice(&[1, 2, 3, 4, 5, 6]);
        let mut wide = header(0x0C, &[2]);
        wide.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 9]);
        for b in [bytes.clone(), gzip(&bytes), wide] {
            assert_eq!(
                parse_owned(b.clone(), "f").unwrap(),
                parse(&b, "f").unwrap()
            );
        }
        assert_eq!(
            parse_owned(bytes.clone(), "f").unwrap().data,
            Elements::U8(vec![1, 2, 3, 4, 5, 6])
        );
        for bad in [&bytes[..bytes.len() - 1], &bytes[..5]] {
            assert_eq!(
                error(bad),
                parse_owned(bad.to_vec(), "f.idx").unwrap_err().to_string()
            );
        }
    }

    #[test]
    fn gzip_equals_plain() {
        let mut b = header(0x08, &[3, 2]);
        b.extend_from_slice(&[1, 2, 3, 4, 5, 6]);
        assert_eq!(parse(&gzip(&b), "f").unwrap(), parse(&b, "f").unwrap());
        let mut b = header(0x0C, &[2]);
        b.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 9]);
        assert_eq!(
            parse(&gzip(&b), "f").unwrap().data,
            Elements::I64(vec![1, 9])
        );
    }

    #[test]
    fn header_errors() {
        assert_eq!(
            error(&[0, 0]),
            "f.idx: too short for an IDX file: 2 bytes, the header alone needs at least 8"
        );
        assert_eq!(
            error(&[1, 0, 8, 1, 0, 0, 0, 0]),
            "f.idx: not an IDX file: it starts with bytes 0x01 0x00, expected 0x00 0x00"
        );
        assert!(
            error(&[0, 0, 7, 1, 0, 0, 0, 0]).starts_with("f.idx: unknown IDX element type 0x07;")
        );
        assert_eq!(
            error(&[0, 0, 8, 5]),
            "f.idx: IDX header gives 5 dimensions; 1 to 4 are supported"
        );
        assert_eq!(
            error(&[0, 0, 8, 0]),
            "f.idx: IDX header gives 0 dimensions; 1 to 4 are supported"
        );
        assert_eq!(
            error(&[0, 0, 8, 3, 0, 0, 0, 1, 0, 0]),
            "f.idx: the IDX header needs 16 bytes for 3 dimensions but the file holds 10"
        );
    }

    #[test]
    fn length_errors() {
        let mut b = header(0x0C, &[3]);
        b.extend_from_slice(&[0; 11]);
        assert_eq!(
            error(&b),
            "f.idx: header claims 3 i32 values (12 bytes) but the file holds 11 bytes after the 8-byte header"
        );
        b.extend_from_slice(&[0; 2]);
        assert!(error(&b).contains("the file holds 13 bytes"));
        let b = header(0x0E, &[u32::MAX; 4]);
        assert_eq!(
            error(&b),
            "f.idx: header claims 4294967295×4294967295×4294967295×4294967295 f64 values \
             (more than 2^128 bytes) but the file holds 0 bytes after the 20-byte header"
        );
        let mut g = header(0x08, &[u32::MAX, 28, 28]);
        g.extend_from_slice(&[0; 100]);
        assert_eq!(
            error(&gzip(&g)),
            "f.idx: header claims 4294967295×28×28 u8 values (3367254359280 bytes) but the \
             file decompresses to 100 bytes after the 16-byte header"
        );
    }

    #[test]
    fn gzip_errors() {
        let mut b = header(0x08, &[4000]);
        b.extend_from_slice(&[0; 4000]);
        let g = gzip(&b);
        assert_eq!(
            parse_with_limit(&g, "f.gz", 1000).unwrap_err().to_string(),
            "f.gz: gzip data decompresses to more than 1000 bytes, the limit"
        );
        assert!(parse_with_limit(&g, "f.gz", 4008).is_ok());
        assert!(parse(&g[..g.len() - 3], "f.gz")
            .unwrap_err()
            .to_string()
            .starts_with("f.gz: corrupt gzip data: "));
        assert!(error(&gzip(&[])).contains("too short for an IDX file: 0 bytes"));
    }

    #[test]
    fn empty_dimension_is_an_empty_array() {
        let a = parse(&header(0x08, &[0, 28]), "f").unwrap();
        assert_eq!((a.shape, a.data), (vec![0, 28], Elements::U8(vec![])));
    }
}
