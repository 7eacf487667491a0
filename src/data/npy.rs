//! NumPy's `.npy` format, versions 1.0, 2.0 and 3.0.
//!
//! A file is the magic `\x93NUMPY`, a version (major, minor byte), the header
//! length (`u16` little-endian for 1.0, `u32` for 2.0 and 3.0), then a header
//! that is a Python dict literal such as
//! `{'descr': '<f4', 'fortran_order': False, 'shape': (60000, 784), }`, padded
//! with spaces and a newline, then the raw elements.
//!
//! The dict is read by a small hand parser: string keys, string, `True`/`False`
//! and integer-tuple values only; the keys `descr`, `fortran_order` and `shape`
//! are required and no others are allowed (as in NumPy). Supported `descr`:
//! floats `f4` `f8`, signed `i1` `i2` `i4` `i8`, unsigned `u1` `u2` `u4` `u8`,
//! bool `b1`, little-endian (`<`), `|` for one-byte types; and strings, for
//! labels: `U{n}` (NumPy's `str`, `n` UCS-4 code points, either byte order)
//! and `S{n}` (bytes, UTF-8), trailing NULs dropped. Big-endian (`>`) numbers
//! are rejected with a message saying how to convert them; object arrays
//! (`|O`, which need pickle) with one saying to save `labels.astype(str)`. `fortran_order: True`
//! arrays are transposed to row-major while decoding. At most 32 dimensions.
//!
//! Untrusted input: the product of the shape times the item size is checked
//! (without overflow) against the number of bytes after the header **before**
//! anything is allocated; they must be equal.

use super::array::{shape_text, Elements, NdArray};
use super::message::data_error;
use super::MappedF32;
use crate::error::Result;

/// An NPY file's contents: `dtype` is the `descr` string, e.g. `<f4`.
pub type NpyArray = NdArray;

/// The longest strings of a `U` or `S` array, in characters.
const MAX_TEXT_CHARS: usize = 1 << 16;

/// The magic string every NPY file starts with.
pub const MAGIC: &[u8] = b"\x93NUMPY";

/// Largest number of dimensions accepted.
const MAX_DIMS: usize = 32;

/// Longest piece of the header quoted in an error message, in bytes.
const SHOW_HEADER: usize = 120;

/// The header of an NPY file (format 1.0) of little-endian `f32` values in C
/// order with `shape`, padded so the data start at a multiple of 64 bytes,
/// as NumPy writes it. The data follow it, `4 × Π shape` bytes.
///
/// ```
/// use backprop::data::{npy, Elements};
/// let mut bytes = npy::f4_header_bytes(&[2, 1]);
/// assert_eq!(bytes.len() % 64, 0);
/// bytes.extend([0.5f32, -3.0].iter().flat_map(|v| v.to_le_bytes()));
/// let a = npy::parse(&bytes, "p.npy").unwrap();
/// assert_eq!((a.shape, a.data), (vec![2, 1], Elements::F32(vec![0.5, -3.0])));
/// ```
pub fn f4_header_bytes(shape: &[usize]) -> Vec<u8> {
    let dims: Vec<String> = shape.iter().map(usize::to_string).collect();
    let shape = match dims.len() {
        1 => format!("({},)", dims[0]),
        _ => format!("({})", dims.join(", ")),
    };
    let mut dict = format!("{{'descr': '<f4', 'fortran_order': False, 'shape': {shape}, }}");
    // magic (6) + version (2) + length (2) + dict + padding + '\n'
    let unpadded = 10 + dict.len() + 1;
    dict.push_str(&" ".repeat(unpadded.next_multiple_of(64) - unpadded));
    dict.push('\n');
    let mut bytes = MAGIC.to_vec();
    bytes.extend([1, 0]);
    bytes.extend((dict.len() as u16).to_le_bytes());
    bytes.extend(dict.as_bytes());
    bytes
}

/// Parses an NPY file held in `bytes`; `source_name` prefixes error messages.
///
/// ```
/// use backprop::data::{npy, Elements};
/// let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
/// let header = "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 2), }";
/// bytes.extend_from_slice(&(header.len() as u16).to_le_bytes());
/// bytes.extend_from_slice(header.as_bytes());
/// bytes.extend_from_slice(&[0, 0, 0xc0, 0x3f, 0, 0, 0, 0xc0]); // 1.5, -2.0
/// let a = npy::parse(&bytes, "x.npy").unwrap();
/// assert_eq!((a.shape.as_slice(), a.dtype.as_str()), (&[1, 2][..], "<f4"));
/// assert_eq!(a.data, Elements::F32(vec![1.5, -2.0]));
///
/// bytes.pop();
/// assert_eq!(
///     npy::parse(&bytes, "x.npy").unwrap_err().to_string(),
///     "x.npy: shape (1, 2) of '<f4' needs 8 bytes of data but the file holds 7 after the 69-byte header"
/// );
/// ```
pub fn parse(bytes: &[u8], source_name: &str) -> Result<NpyArray> {
    let err = |message: String| data_error(source_name, message);
    if !bytes.starts_with(MAGIC) {
        if MAGIC.starts_with(bytes) {
            return Err(err(format!(
                "too short for an NPY file: {} bytes",
                bytes.len()
            )));
        }
        return Err(err(
            "not an NPY file: it does not start with the magic \\x93NUMPY".to_string(),
        ));
    }
    let (major, minor) = match bytes.get(6..8) {
        Some(&[a, b]) => (a, b),
        _ => {
            return Err(err(format!(
                "too short for an NPY file: {} bytes",
                bytes.len()
            )))
        }
    };
    let len_size = match (major, minor) {
        (1, 0) => 2,
        (2, 0) | (3, 0) => 4,
        _ => {
            return Err(err(format!(
                "unsupported NPY format version {major}.{minor}; 1.0, 2.0 and 3.0 are supported"
            )))
        }
    };
    let start = 8 + len_size;
    let header_len = match bytes.get(8..start) {
        Some(&[a, b]) => usize::from(u16::from_le_bytes([a, b])),
        Some(&[a, b, c, d]) => u32::from_le_bytes([a, b, c, d]) as usize,
        _ => {
            return Err(err(format!(
                "too short for an NPY file: {} bytes",
                bytes.len()
            )))
        }
    };
    let end = start.saturating_add(header_len);
    let Some(header) = bytes.get(start..end) else {
        return Err(err(format!(
            "the NPY header claims {header_len} bytes but the file holds {} after the \
             {start}-byte preamble",
            bytes.len() - start
        )));
    };
    let header = Header::parse(header).map_err(|reason| {
        err(format!(
            "invalid NPY header {}: {reason}",
            show_bytes(header, SHOW_HEADER)
        ))
    })?;
    let data = &bytes[end..];
    let needed = header
        .shape
        .iter()
        .try_fold(header.dtype.size, |a, &d| a.checked_mul(d));
    if needed != Some(data.len()) {
        let needed = needed.map_or("more than 2^64".to_string(), |n| n.to_string());
        return Err(err(format!(
            "shape {} of '{}' needs {needed} bytes of data but the file holds {} after the \
             {end}-byte header",
            shape_text(&header.shape),
            header.dtype.text,
            data.len()
        )));
    }
    let elements = header.dtype.decode(data).map_err(err)?;
    let elements = if header.fortran_order {
        match elements {
            Elements::U8(v) => Elements::U8(to_c_order(&v, &header.shape)),
            Elements::I64(v) => Elements::I64(to_c_order(&v, &header.shape)),
            Elements::F32(v) => Elements::F32(to_c_order(&v, &header.shape)),
            Elements::F64(v) => Elements::F64(to_c_order(&v, &header.shape)),
            Elements::Text(v) => Elements::Text(to_c_order(&v, &header.shape)),
            // `decode` copies: a parsed array is never mapped
            mapped @ (Elements::MappedF32(_) | Elements::MappedU8(_)) => mapped,
        }
    } else {
        elements
    };
    Ok(NdArray {
        shape: header.shape,
        dtype: header.dtype.text,
        data: elements,
    })
}

/// At most `max` bytes of `b`, lossily as text, quoted; `…` marks a cut.
fn show_bytes(b: &[u8], max: usize) -> String {
    let cut = b.len() > max;
    let text = String::from_utf8_lossy(&b[..b.len().min(max)]);
    let text = text.trim_end();
    let text: String = text
        .chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect();
    format!("\"{text}{}\"", if cut { "…" } else { "" })
}

/// The elements of a Fortran-ordered (column-major) array of `shape`, reordered
/// row-major. `v.len()` is the product of `shape`.
fn to_c_order<T: Clone>(v: &[T], shape: &[usize]) -> Vec<T> {
    if shape.len() < 2 || v.is_empty() {
        return v.to_vec();
    }
    // Column-major strides: dimension 0 is contiguous.
    let mut strides = vec![1usize; shape.len()];
    for j in 1..shape.len() {
        strides[j] = strides[j - 1] * shape[j - 1];
    }
    let mut index = vec![0usize; shape.len()];
    let mut offset = 0usize;
    let mut out = Vec::with_capacity(v.len());
    for _ in 0..v.len() {
        // `offset` is the column-major offset of `index`, below `v.len()`.
        out.push(v[offset].clone());
        for j in (0..shape.len()).rev() {
            index[j] += 1;
            offset += strides[j];
            if index[j] < shape[j] {
                break;
            }
            offset -= strides[j] * shape[j];
            index[j] = 0;
        }
    }
    out
}

/// Reads an NPY file of little-endian `f4` elements in C order from `r`
/// straight into its elements, never holding the file's bytes: the one
/// copy of the data is the result. `Ok(None)` when the file is not such an
/// NPY file — another dtype or order, a header this reader does not take,
/// a length that does not match the shape: [`parse`] on the whole file
/// reads those, and names their errors. `total_len`, the input's length in
/// bytes when known (a file's size), must match the shape before the
/// elements are allocated; without it they are allocated as they arrive.
///
/// ```
/// use backprop::data::npy;
/// // np.save of np.array([[1, 2], [3, 4]], dtype='<f4')
/// let mut file = b"\x93NUMPY\x01\x00\x76\x00".to_vec();
/// let mut header = b"{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), }".to_vec();
/// header.resize(117, b' ');
/// header.push(b'\n');
/// file.extend(header);
/// for v in [1.0f32, 2.0, 3.0, 4.0] {
///     file.extend(v.to_le_bytes());
/// }
/// let len = Some(file.len() as u64);
/// let a = npy::read_f32(&mut file.as_slice(), "x.npy", len)?.expect("an f4 array");
/// assert_eq!(a, npy::parse(&file, "x.npy")?);
/// assert!(npy::read_f32(&mut &file[..file.len() - 1], "x.npy", None)?.is_none());
/// // a size that does not match the shape: left to `parse`
/// assert!(npy::read_f32(&mut file.as_slice(), "x.npy", Some(1 << 40))?.is_none());
/// # Ok::<(), backprop::Error>(())
/// ```
///
/// # Errors
/// [`crate::Error::Io`]-free: a read failure is a data error naming
/// `source_name`.
pub fn read_f32(
    r: &mut impl std::io::Read,
    source_name: &str,
    total_len: Option<u64>,
) -> Result<Option<NpyArray>> {
    let io = |e: std::io::Error| data_error(source_name, format!("cannot read: {e}"));
    let Some((header, data_start, n)) = f4_header(r, source_name)? else {
        return Ok(None);
    };
    // The header's shape is untrusted: allocate it whole only when the
    // input's length (a file's size) confirms it, else grow with the data.
    let capacity = match total_len {
        Some(total) if total.checked_sub(data_start) == Some(n as u64 * 4) => n,
        Some(_) => return Ok(None),
        None => n.min(1 << 20),
    };
    let mut values = Vec::with_capacity(capacity);
    let mut buf = vec![0u8; 1 << 16];
    while values.len() < n {
        let want = ((n - values.len()) * 4).min(buf.len());
        if !read_full(r, &mut buf[..want]).map_err(io)? {
            return Ok(None);
        }
        values.extend(
            buf[..want]
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])),
        );
    }
    // nothing may follow the data
    if read_full(r, &mut [0u8; 1]).map_err(io)? {
        return Ok(None);
    }
    Ok(Some(NdArray {
        shape: header.shape,
        dtype: header.dtype.text,
        data: Elements::F32(values),
    }))
}

/// The header of a little-endian, C-order f4 NPY file read from `r`, the
/// data's byte offset and its number of elements; `Ok(None)` for any other
/// input.
fn f4_header(
    r: &mut impl std::io::Read,
    source_name: &str,
) -> Result<Option<(Header, u64, usize)>> {
    plain_header(r, source_name, b'f', 4)
}

/// [`f4_header`] for elements of `kind` (`f`, `u`, …) and `size` bytes:
/// C order, and little-endian unless they are single bytes.
fn plain_header(
    r: &mut impl std::io::Read,
    source_name: &str,
    kind: u8,
    size: usize,
) -> Result<Option<(Header, u64, usize)>> {
    let io = |e: std::io::Error| data_error(source_name, format!("cannot read: {e}"));
    let mut pre = [0u8; 8];
    if !read_full(r, &mut pre).map_err(io)? || !pre.starts_with(MAGIC) {
        return Ok(None);
    }
    let len_size = match (pre[6], pre[7]) {
        (1, 0) => 2,
        (2, 0) | (3, 0) => 4,
        _ => return Ok(None),
    };
    let mut len = [0u8; 4];
    if !read_full(r, &mut len[..len_size]).map_err(io)? {
        return Ok(None);
    }
    let header_len = u32::from_le_bytes(len) as usize;
    if header_len > 1 << 20 {
        return Ok(None);
    }
    let mut header = vec![0u8; header_len];
    if !read_full(r, &mut header).map_err(io)? {
        return Ok(None);
    }
    let Ok(header) = Header::parse(&header) else {
        return Ok(None);
    };
    let little = size == 1
        || header.dtype.text.starts_with('<')
        || (header.dtype.text.starts_with('=') && cfg!(target_endian = "little"));
    if header.fortran_order || header.dtype.kind != kind || header.dtype.size != size || !little {
        return Ok(None);
    }
    let Some(n) = header
        .shape
        .iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d))
        .filter(|n| n.checked_mul(size).is_some())
    else {
        return Ok(None);
    };
    Ok(Some((header, (8 + len_size + header_len) as u64, n)))
}

/// [`read_f32`] without reading the data: a little-endian, C-order f4 NPY
/// file is memory-mapped, and its array's elements are read in place
/// ([`Elements::MappedF32`]) — the data set is not copied into memory, and
/// the system loads its pages as they are used. `Ok(None)` when the file is
/// not such an NPY file or its length does not match the shape (the other
/// readers take it from there), or cannot be viewed in place
/// (`MappedF32::map`).
///
/// # Errors
/// A data error naming `source_name` when the file cannot be read or
/// mapped.
pub fn map_f32(file: &std::fs::File, source_name: &str) -> Result<Option<NpyArray>> {
    let mut reader = std::io::BufReader::with_capacity(4096, file);
    let Some((header, data_start, n)) = f4_header(&mut reader, source_name)? else {
        return Ok(None);
    };
    let Ok(offset) = usize::try_from(data_start) else {
        return Ok(None);
    };
    let map = MappedF32::map(file, offset)
        .map_err(|e| data_error(source_name, format!("cannot map: {e}")))?;
    match map {
        Some(m) if m.len() == n => Ok(Some(NdArray {
            shape: header.shape,
            dtype: header.dtype.text,
            data: Elements::MappedF32(std::sync::Arc::new(m)),
        })),
        _ => Ok(None),
    }
}

/// [`map_f32`] for a C-order `|u1` NPY file (images): its bytes are read
/// in place ([`Elements::MappedU8`]). `Ok(None)` when the file is not such
/// an NPY file or its length does not match the shape.
///
/// # Errors
/// A data error naming `source_name` when the file cannot be read or
/// mapped.
pub fn map_u8(file: &std::fs::File, source_name: &str) -> Result<Option<NpyArray>> {
    let mut reader = std::io::BufReader::with_capacity(4096, file);
    let Some((header, data_start, n)) = plain_header(&mut reader, source_name, b'u', 1)? else {
        return Ok(None);
    };
    let cannot = |e: std::io::Error| data_error(source_name, format!("cannot map: {e}"));
    let file_len = file.metadata().map_err(cannot)?.len();
    if file_len.checked_sub(data_start) != Some(n as u64) {
        return Ok(None);
    }
    let Ok(offset) = usize::try_from(data_start) else {
        return Ok(None);
    };
    Ok(super::MappedU8::map(file, offset, n)
        .map_err(cannot)?
        .map(|m| NdArray {
            shape: header.shape,
            dtype: header.dtype.text,
            data: Elements::MappedU8(std::sync::Arc::new(m)),
        }))
}

/// Fills `buf` from `r`: `Ok(false)` if the input ended first.
fn read_full(r: &mut impl std::io::Read, buf: &mut [u8]) -> std::io::Result<bool> {
    let mut at = 0;
    while at < buf.len() {
        match r.read(&mut buf[at..]) {
            Ok(0) => return Ok(false),
            Ok(k) => at += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(true)
}

/// A supported element type.
struct Dtype {
    /// `f`, `i`, `u` or `b`.
    kind: u8,
    /// Bytes per element.
    size: usize,
    /// The `descr` as written.
    text: String,
}

impl Dtype {
    fn parse(descr: &str) -> Result<Dtype, String> {
        const SUPPORTED: &str = "supported: f4, f8, i1, i2, i4, i8, u1, u2, u4, u8 and b1, \
                                 little-endian, and strings U and S (labels)";
        let (order, rest) = match descr.as_bytes().first() {
            Some(&c @ (b'<' | b'>' | b'|' | b'=')) => (c, &descr[1..]),
            _ => (b'=', descr),
        };
        if rest == "O" {
            return Err(format!(
                "dtype '{descr}' is an array of Python objects, which only pickle can read; \
                 save string labels as fixed-width text: np.save(path, labels.astype(str))"
            ));
        }
        if let Some(n) = rest.strip_prefix(['U', 'S']) {
            return Dtype::text(descr, rest.as_bytes()[0], n);
        }
        let (kind, size) = match rest.as_bytes() {
            [k, d] if d.is_ascii_digit() => (*k, usize::from(d - b'0')),
            _ => return Err(format!("dtype '{descr}' is not supported; {SUPPORTED}")),
        };
        let ok = matches!(
            (kind, size),
            (b'f', 4 | 8) | (b'i', 1 | 2 | 4 | 8) | (b'u', 1 | 2 | 4 | 8) | (b'b', 1)
        );
        if !ok {
            return Err(format!("dtype '{descr}' is not supported; {SUPPORTED}"));
        }
        if size > 1 {
            match order {
                b'<' => {}
                b'=' if cfg!(target_endian = "little") => {}
                b'>' | b'=' => {
                    return Err(format!(
                        "big-endian data ('{descr}') is not supported; save it little-endian, \
                         e.g. np.save(path, arr.astype('<{}{size}'))",
                        kind as char
                    ))
                }
                _ => {
                    return Err(format!(
                        "dtype '{descr}': byte order '|' is only valid for 1-byte types"
                    ))
                }
            }
        }
        Ok(Dtype {
            kind,
            size,
            text: descr.to_string(),
        })
    }

    /// A string dtype: `U{n}` (`n` UCS-4 code points of 4 bytes each, in the
    /// byte order of `descr`) or `S{n}` (`n` bytes of UTF-8); at least one
    /// character, at most [`MAX_TEXT_CHARS`].
    fn text(descr: &str, kind: u8, n: &str) -> Result<Dtype, String> {
        let chars = match n.parse::<usize>() {
            Ok(c) if n.bytes().all(|b| b.is_ascii_digit()) => c,
            _ => return Err(format!("dtype '{descr}' has no valid length")),
        };
        if chars == 0 || chars > MAX_TEXT_CHARS {
            return Err(format!(
                "dtype '{descr}': strings of 1 to {MAX_TEXT_CHARS} characters are supported"
            ));
        }
        Ok(Dtype {
            kind,
            size: if kind == b'U' { 4 * chars } else { chars },
            text: descr.to_string(),
        })
    }

    /// Decodes the strings of `data` (fixed-width, padded with NULs).
    fn decode_text(&self, data: &[u8]) -> Result<Elements, String> {
        let big = self.text.starts_with('>');
        let bad = |i: usize| {
            format!(
                "element {} of the '{}' array is not valid text",
                i + 1,
                self.text
            )
        };
        let mut out = Vec::with_capacity(data.len() / self.size);
        for (i, item) in data.chunks_exact(self.size).enumerate() {
            let text = if self.kind == b'U' {
                item.chunks_exact(4)
                    .map(|c| {
                        let c = [c[0], c[1], c[2], c[3]];
                        let u = if big {
                            u32::from_be_bytes(c)
                        } else {
                            u32::from_le_bytes(c)
                        };
                        char::from_u32(u)
                    })
                    .collect::<Option<String>>()
                    .ok_or_else(|| bad(i))?
            } else {
                String::from_utf8(item.to_vec()).map_err(|_| bad(i))?
            };
            out.push(text.trim_end_matches('\0').to_string());
        }
        Ok(Elements::Text(out))
    }

    /// Decodes little-endian `data`, whose length is a multiple of `self.size`.
    fn decode(&self, data: &[u8]) -> Result<Elements, String> {
        fn le<const N: usize>(data: &[u8]) -> impl Iterator<Item = [u8; N]> + '_ {
            data.chunks_exact(N).map(|c| {
                let mut a = [0u8; N];
                a.copy_from_slice(c);
                a
            })
        }
        Ok(match (self.kind, self.size) {
            (b'U' | b'S', _) => return self.decode_text(data),
            (b'u', 1) => Elements::U8(data.to_vec()),
            // bools are 0/1 values, not pixels: keep them out of `U8`
            (b'b', 1) => Elements::I64(data.iter().map(|&b| i64::from(b != 0)).collect()),
            (b'i', 1) => Elements::I64(data.iter().map(|&b| i64::from(b as i8)).collect()),
            (b'i', 2) => Elements::I64(
                le::<2>(data)
                    .map(|a| i16::from_le_bytes(a).into())
                    .collect(),
            ),
            (b'i', 4) => Elements::I64(
                le::<4>(data)
                    .map(|a| i32::from_le_bytes(a).into())
                    .collect(),
            ),
            (b'i', 8) => Elements::I64(le::<8>(data).map(i64::from_le_bytes).collect()),
            (b'u', 2) => Elements::I64(
                le::<2>(data)
                    .map(|a| u16::from_le_bytes(a).into())
                    .collect(),
            ),
            (b'u', 4) => Elements::I64(
                le::<4>(data)
                    .map(|a| u32::from_le_bytes(a).into())
                    .collect(),
            ),
            (b'u', 8) => {
                if let Some(i) = le::<8>(data).position(|a| u64::from_le_bytes(a) > i64::MAX as u64)
                {
                    return Err(format!(
                        "element {} of the '{}' array exceeds {}, the largest supported integer",
                        i + 1,
                        self.text,
                        i64::MAX
                    ));
                }
                Elements::I64(
                    le::<8>(data)
                        .map(|a| u64::from_le_bytes(a) as i64)
                        .collect(),
                )
            }
            (b'f', 4) => Elements::F32(le::<4>(data).map(f32::from_le_bytes).collect()),
            (b'f', 8) => Elements::F64(le::<8>(data).map(f64::from_le_bytes).collect()),
            _ => return Err(format!("dtype '{}' is not supported", self.text)),
        })
    }
}

/// The parsed header dict.
struct Header {
    dtype: Dtype,
    fortran_order: bool,
    shape: Vec<usize>,
}

/// A value in the header dict.
enum Value<'a> {
    Str(&'a str),
    Bool(bool),
    Tuple(Vec<usize>),
}

impl Header {
    fn parse(text: &[u8]) -> Result<Header, String> {
        let mut p = Parser { s: text, i: 0 };
        let (mut descr, mut fortran_order, mut shape) = (None, None, None);
        p.expect(b'{')?;
        loop {
            if p.eat(b'}') {
                break;
            }
            let key_at = p.i;
            let key = p.string()?;
            p.expect(b':')?;
            let value = p.value()?;
            let slot_taken = match (key, value) {
                ("descr", Value::Str(s)) => descr.replace(s).is_some(),
                ("fortran_order", Value::Bool(b)) => fortran_order.replace(b).is_some(),
                ("shape", Value::Tuple(t)) => shape.replace(t).is_some(),
                ("descr", _) => return Err("'descr' must be a string".to_string()),
                ("fortran_order", _) => {
                    return Err("'fortran_order' must be True or False".to_string())
                }
                ("shape", _) => return Err("'shape' must be a tuple of integers".to_string()),
                _ => return Err(format!("unexpected key '{key}' at byte {key_at}")),
            };
            if slot_taken {
                return Err(format!("key '{key}' appears twice"));
            }
            if p.eat(b',') {
                continue;
            }
            p.expect(b'}')?;
            break;
        }
        if let Some(i) = p.s[p.i..]
            .iter()
            .position(|&b| !matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0))
        {
            return Err(format!(
                "unexpected text after the dict at byte {}",
                p.i + i
            ));
        }
        let descr = descr.ok_or("the key 'descr' is missing")?;
        Ok(Header {
            dtype: Dtype::parse(descr)?,
            fortran_order: fortran_order.ok_or("the key 'fortran_order' is missing")?,
            shape: shape.ok_or("the key 'shape' is missing")?,
        })
    }
}

/// A cursor over the header bytes.
struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

impl<'a> Parser<'a> {
    fn skip_space(&mut self) {
        while matches!(self.s.get(self.i), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.i += 1;
        }
    }

    /// Skips spaces, then consumes `c` if it comes next.
    fn eat(&mut self, c: u8) -> bool {
        self.skip_space();
        if self.s.get(self.i) == Some(&c) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    fn expect(&mut self, c: u8) -> Result<(), String> {
        if self.eat(c) {
            Ok(())
        } else {
            Err(format!("expected '{}' at byte {}", c as char, self.i))
        }
    }

    /// A quoted string without escapes.
    fn string(&mut self) -> Result<&'a str, String> {
        self.skip_space();
        let at = self.i;
        let quote = match self.s.get(at) {
            Some(&q @ (b'\'' | b'"')) => q,
            _ => return Err(format!("expected a quoted string at byte {at}")),
        };
        let body = &self.s[at + 1..];
        let len = body
            .iter()
            .position(|&b| b == quote || b == b'\\')
            .filter(|&n| body[n] == quote)
            .ok_or_else(|| format!("unterminated or escaped string at byte {at}"))?;
        self.i = at + 1 + len + 1;
        std::str::from_utf8(&body[..len])
            .map_err(|_| format!("invalid UTF-8 in the string at byte {at}"))
    }

    fn value(&mut self) -> Result<Value<'a>, String> {
        self.skip_space();
        let rest = &self.s[self.i..];
        if rest.starts_with(b"True") {
            self.i += 4;
            return Ok(Value::Bool(true));
        }
        if rest.starts_with(b"False") {
            self.i += 5;
            return Ok(Value::Bool(false));
        }
        match rest.first() {
            Some(b'\'' | b'"') => self.string().map(Value::Str),
            Some(b'(') => self.tuple().map(Value::Tuple),
            Some(b'[') => Err(format!(
                "a list at byte {} (structured dtypes are not supported)",
                self.i
            )),
            _ => Err(format!("expected a value at byte {}", self.i)),
        }
    }

    /// `()`, `(3,)`, `(3, 4)`, `(3, 4,)`; Python 2 longs (`3L`) allowed.
    fn tuple(&mut self) -> Result<Vec<usize>, String> {
        self.expect(b'(')?;
        let mut dims = Vec::new();
        loop {
            if self.eat(b')') {
                break;
            }
            let at = self.i;
            let digits = self.s[at..]
                .iter()
                .take_while(|b| b.is_ascii_digit())
                .count();
            if digits == 0 {
                return Err(format!("expected a non-negative integer at byte {at}"));
            }
            let text = std::str::from_utf8(&self.s[at..at + digits]).unwrap_or_default();
            let d: usize = text
                .parse()
                .map_err(|_| format!("dimension {text} at byte {at} is too large"))?;
            self.i += digits;
            if self.s.get(self.i) == Some(&b'L') {
                self.i += 1;
            }
            if dims.len() == MAX_DIMS {
                return Err(format!("more than {MAX_DIMS} dimensions"));
            }
            dims.push(d);
            if self.eat(b',') {
                continue;
            }
            self.expect(b')')?;
            break;
        }
        Ok(dims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn npy(header: &str, data: &[u8]) -> Vec<u8> {
        let mut b = MAGIC.to_vec();
        b.extend_from_slice(&[1, 0]);
        b.extend_from_slice(&(header.len() as u16).to_le_bytes());
        b.extend_from_slice(header.as_bytes());
        b.extend_from_slice(data);
        b
    }

    fn dict(descr: &str, fortran: bool, shape: &str) -> String {
        let f = if fortran { "True" } else { "False" };
        format!("{{'descr': '{descr}', 'fortran_order': {f}, 'shape': {shape}, }}\n")
    }

    fn error(bytes: &[u8]) -> String {
        parse(bytes, "a.npy").unwrap_err().to_string()
    }

    #[test]
    fn every_type() {
        let one = |descr: &str, data: &[u8]| {
            parse(&npy(&dict(descr, false, "(1,)"), data), "a")
                .unwrap()
                .data
        };
        assert_eq!(one("|u1", &[200]), Elements::U8(vec![200]));
        assert_eq!(one("|b1", &[7]), Elements::I64(vec![1]));
        assert_eq!(one("|i1", &[0xff]), Elements::I64(vec![-1]));
        assert_eq!(one("<i2", &[0xfe, 0xff]), Elements::I64(vec![-2]));
        assert_eq!(one("<i4", &[1, 1, 0, 0]), Elements::I64(vec![257]));
        assert_eq!(one("<i8", &(-5i64).to_le_bytes()), Elements::I64(vec![-5]));
        assert_eq!(one("<u2", &[0xff, 0xff]), Elements::I64(vec![65535]));
        assert_eq!(one("<u4", &[0xff; 4]), Elements::I64(vec![u32::MAX.into()]));
        assert_eq!(one("<u8", &7u64.to_le_bytes()), Elements::I64(vec![7]));
        assert_eq!(one("<f8", &0.1f64.to_le_bytes()), Elements::F64(vec![0.1]));
        assert_eq!(one("<f4", &0.5f32.to_le_bytes()), Elements::F32(vec![0.5]));
    }

    /// NumPy's `str` (`<U{n}`, UCS-4) and `bytes` (`|S{n}`) arrays are text,
    /// padded with NULs; object arrays are refused with a way out (issue 20).
    #[test]
    fn string_arrays_are_text() {
        let ucs4 = |s: &str, n: usize, big: bool| -> Vec<u8> {
            let mut u: Vec<u32> = s.chars().map(u32::from).collect();
            u.resize(n, 0);
            u.iter()
                .flat_map(|c| {
                    if big {
                        c.to_be_bytes()
                    } else {
                        c.to_le_bytes()
                    }
                })
                .collect()
        };
        let text = |descr: &str, shape: &str, data: &[u8]| {
            parse(&npy(&dict(descr, false, shape), data), "a").map(|a| a.data)
        };
        let mut data = ucs4("cat", 5, false);
        data.extend(ucs4("zèbre", 5, false));
        let cats = Elements::Text(vec!["cat".into(), "zèbre".into()]);
        assert_eq!(text("<U5", "(2,)", &data).unwrap(), cats);
        let mut data = ucs4("cat", 5, true);
        data.extend(ucs4("zèbre", 5, true));
        assert_eq!(text(">U5", "(2,)", &data).unwrap(), cats);
        let long = ucs4("hippopotamus", 12, false);
        assert_eq!(
            text("<U12", "(1,)", &long).unwrap(),
            Elements::Text(vec!["hippopotamus".into()])
        );
        assert_eq!(
            text("|S4", "(2,)", b"ab\0\0wxyz").unwrap(),
            Elements::Text(vec!["ab".into(), "wxyz".into()])
        );
        // Fortran order is reordered as for numbers
        let mut data = Vec::new();
        for s in ["a", "c", "b", "d"] {
            data.extend(ucs4(s, 1, false));
        }
        let f = parse(&npy(&dict("<U1", true, "(2, 2)"), &data), "a").unwrap();
        assert_eq!(
            f.data,
            Elements::Text(["a", "b", "c", "d"].map(String::from).to_vec())
        );
        // the data must hold 4 bytes per character
        assert!(error(&npy(&dict("<U5", false, "(2,)"), &data)).contains("needs 40 bytes"));
        let reason = |descr: &str, data: &[u8]| error(&npy(&dict(descr, false, "(1,)"), data));
        assert!(
            reason("<U5", &[0xff; 20]).contains("element 1 of the '<U5' array is not valid text")
        );
        assert!(reason("|S2", &[0xff, 0xfe]).contains("is not valid text"));
        assert!(reason("<U0", &[]).contains("strings of 1 to 65536 characters"));
        assert!(reason("<U", &[]).contains("has no valid length"));
        let obj = reason("|O", &[0; 8]);
        assert!(
            obj.contains("only pickle can read")
                && obj.contains("np.save(path, labels.astype(str))"),
            "{obj}"
        );
    }

    #[test]
    fn header_variants() {
        for header in [
            "{'descr':'<i8','fortran_order':False,'shape':(2,)}",
            "{\"shape\": (2L,), \"descr\": \"<i8\", \"fortran_order\": False}   \n",
            "{ 'descr' : '<i8' , 'fortran_order' : False , 'shape' : ( 2 , ) , }",
        ] {
            let a = parse(&npy(header, &[0; 16]), "a").unwrap();
            assert_eq!(a.shape, [2], "{header}");
        }
        let a = parse(&npy(&dict("<f4", false, "()"), &[0; 4]), "a").unwrap();
        assert!(a.shape.is_empty());
        let mut v2 = MAGIC.to_vec();
        let h = dict("|u1", false, "(3,)");
        v2.extend_from_slice(&[3, 0]);
        v2.extend_from_slice(&(h.len() as u32).to_le_bytes());
        v2.extend_from_slice(h.as_bytes());
        v2.extend_from_slice(&[1, 2, 3]);
        assert_eq!(parse(&v2, "a").unwrap().data, Elements::U8(vec![1, 2, 3]));
    }

    #[test]
    fn fortran_order_is_transposed() {
        // 2×3 [[1,2,3],[4,5,6]] stored column-major: 1 4 2 5 3 6
        let a = parse(&npy(&dict("|u1", true, "(2, 3)"), &[1, 4, 2, 5, 3, 6]), "a").unwrap();
        assert_eq!(a.data, Elements::U8(vec![1, 2, 3, 4, 5, 6]));
        // 2×2×2: element (i,j,k) at column-major offset i + 2j + 4k, value 100i+10j+k
        let mut data = [0u8; 8];
        for i in 0..2 {
            for j in 0..2 {
                for k in 0..2 {
                    data[i + 2 * j + 4 * k] = (100 * i + 10 * j + k) as u8;
                }
            }
        }
        let a = parse(&npy(&dict("|u1", true, "(2, 2, 2)"), &data), "a").unwrap();
        assert_eq!(a.data, Elements::U8(vec![0, 1, 10, 11, 100, 101, 110, 111]));
    }

    #[test]
    fn errors() {
        assert_eq!(
            error(b"\x93NUM"),
            "a.npy: too short for an NPY file: 4 bytes"
        );
        assert_eq!(
            error(b"PK\x03\x04"),
            "a.npy: not an NPY file: it does not start with the magic \\x93NUMPY"
        );
        assert_eq!(
            error(b"\x93NUMPY\x04\x00\x00\x00"),
            "a.npy: unsupported NPY format version 4.0; 1.0, 2.0 and 3.0 are supported"
        );
        assert_eq!(
            error(b"\x93NUMPY\x01\x00\xff\x00{}"),
            "a.npy: the NPY header claims 255 bytes but the file holds 2 after the 10-byte preamble"
        );
        assert_eq!(
            error(&npy(&dict(">f8", false, "(1,)"), &[0; 8])),
            "a.npy: invalid NPY header \"{'descr': '>f8', 'fortran_order': False, 'shape': (1,), }\": \
             big-endian data ('>f8') is not supported; save it little-endian, e.g. np.save(path, arr.astype('<f8'))"
        );
        let reason = |header: &str| {
            let e = error(&npy(header, &[]));
            e.split_once("\": ")
                .map(|(_, r)| r.to_string())
                .unwrap_or(e)
        };
        assert_eq!(reason(&dict("<c16", false, "(1,)")), "dtype '<c16' is not supported; supported: f4, f8, i1, i2, i4, i8, u1, u2, u4, u8 and b1, little-endian, and strings U and S (labels)");
        assert_eq!(reason(&dict("|O", false, "(1,)")), "dtype '|O' is an array of Python objects, which only pickle can read; save string labels as fixed-width text: np.save(path, labels.astype(str))");
        assert_eq!(
            reason(&dict("|f4", false, "(1,)")),
            "dtype '|f4': byte order '|' is only valid for 1-byte types"
        );
        assert_eq!(
            reason("{'descr': '<f4', 'shape': (1,)}"),
            "the key 'fortran_order' is missing"
        );
        assert_eq!(
            reason("{'descr': '<f4', 'descr': '<f4'}"),
            "key 'descr' appears twice"
        );
        assert_eq!(
            reason("{'descr': [('a', '<f4')]}"),
            "a list at byte 10 (structured dtypes are not supported)"
        );
        assert_eq!(reason("{'x': 'y'}"), "unexpected key 'x' at byte 1");
        assert_eq!(
            reason("{'shape': (1, -1)}"),
            "expected a non-negative integer at byte 14"
        );
        assert_eq!(
            reason("{'shape': (99999999999999999999,)}"),
            "dimension 99999999999999999999 at byte 11 is too large"
        );
        assert_eq!(reason("{'shape': 3}"), "expected a value at byte 10");
        assert_eq!(
            reason("{'descr': 'abc"),
            "unterminated or escaped string at byte 10"
        );
        assert_eq!(
            reason("{'descr': '<f4'} x"),
            "unexpected text after the dict at byte 17"
        );
        assert_eq!(reason("{'descr': '<f4' 'x'}"), "expected '}' at byte 16");
        let many = format!("{{'shape': ({})}}", "1,".repeat(33));
        assert_eq!(reason(&many), "more than 32 dimensions");
        assert_eq!(
            error(&npy(&dict("<f8", false, "(2, 3)"), &[0; 40])),
            "a.npy: shape (2, 3) of '<f8' needs 48 bytes of data but the file holds 40 after the 70-byte header"
        );
        assert_eq!(
            error(&npy(&dict("<f8", false, "(18446744073709551615, 3)"), &[])),
            "a.npy: shape (18446744073709551615, 3) of '<f8' needs more than 2^64 bytes of data but the file holds 0 after the 89-byte header"
        );
        assert_eq!(
            error(&npy(&dict("<u8", false, "(1,)"), &u64::MAX.to_le_bytes())),
            "a.npy: element 1 of the '<u8' array exceeds 9223372036854775807, the largest supported integer"
        );
    }
}
