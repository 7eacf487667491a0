//! [`NdArray`]: the typed n-dimensional array that the binary formats ([`super::idx`],
//! [`super::npy`]) decode to, and its conversion to features (a [`Matrix`]) or to
//! label text (one string per sample, so classes work as for CSV).
//!
//! Integer element types of any width are widened to `i64` and floats keep their
//! width, so four storage variants cover every supported file type.

use std::fmt::Write as _;

use super::message::data_error;
use crate::error::Result;
use crate::tensor::Matrix;

/// The decoded elements of an array, in C (row-major) order.
#[derive(Clone, Debug, PartialEq)]
pub enum Elements {
    /// Unsigned bytes (IDX `0x08`, NPY `|u1`): pixel data.
    U8(Vec<u8>),
    /// Any other integer type, widened (NPY bools `|b1` become 0 and 1).
    I64(Vec<i64>),
    /// Single-precision floats.
    F32(Vec<f32>),
    /// Double-precision floats.
    F64(Vec<f64>),
    /// Single-precision floats read in place from a memory-mapped file.
    MappedF32(std::sync::Arc<super::MappedF32>),
    /// Unsigned bytes read in place from a memory-mapped file (plain IDX
    /// `0x08` images).
    MappedU8(std::sync::Arc<super::MappedU8>),
    /// Strings (NPY `<U…` and `|S…`): class labels, never features.
    Text(Vec<String>),
}

impl Elements {
    /// The number of elements.
    pub fn len(&self) -> usize {
        match self {
            Elements::U8(v) => v.len(),
            Elements::I64(v) => v.len(),
            Elements::F32(v) => v.len(),
            Elements::F64(v) => v.len(),
            Elements::MappedF32(m) => m.len(),
            Elements::MappedU8(m) => m.len(),
            Elements::Text(v) => v.len(),
        }
    }

    /// The bytes of [`Elements::U8`] or [`Elements::MappedU8`].
    pub fn bytes(&self) -> Option<&[u8]> {
        match self {
            Elements::U8(v) => Some(v),
            Elements::MappedU8(m) => Some(m.as_slice()),
            _ => None,
        }
    }

    /// Whether there are no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// An n-dimensional array read from an IDX or NPY file.
///
/// `shape` has at least one dimension for IDX; an NPY scalar has `shape == []`
/// and one element. The product of `shape` is `data.len()`.
///
/// ```
/// use backprop::data::{Elements, NdArray};
/// let a = NdArray { shape: vec![2, 1, 2], dtype: "u8".into(), data: Elements::U8(vec![0, 255, 3, 4]) };
/// let x = a.to_matrix("images.idx").unwrap();
/// assert_eq!((x.rows(), x.cols()), (2, 2));
/// assert_eq!(x.row(0), &[0.0, 255.0]);
/// let err = a.to_labels("images.idx").unwrap_err().to_string();
/// assert_eq!(err, "images.idx: labels must be a 1-D array (one label per sample) or a 2-D \
///     array (one row of labels per sample), found shape (2, 1, 2)");
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct NdArray {
    /// The dimensions, outermost first (samples first).
    pub shape: Vec<usize>,
    /// The element type as the file spells it (`u8`, `i32`, `<f4`, `|u1`, …).
    pub dtype: String,
    /// The elements, row-major.
    pub data: Elements,
}

impl NdArray {
    /// The number of elements.
    pub fn len(&self) -> usize {
        self.data.len()
    }

    /// Whether the array holds no elements.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// Whether the elements are unsigned bytes (images: divide by 255 to scale).
    pub fn is_u8(&self) -> bool {
        self.data.bytes().is_some()
    }

    /// The array as features: `shape[0]` rows, the trailing dimensions flattened
    /// into columns (one column for a 1-D array), every value converted to `f32`.
    ///
    /// Fails with [`Error::Data`](crate::Error::Data) naming `source_name` for a 0-dimensional array,
    /// no rows, no columns, or a value that is NaN, infinite or beyond the `f32`
    /// range (naming its 1-based row and column).
    pub fn to_matrix(&self, source_name: &str) -> Result<Matrix> {
        self.clone().into_matrix(source_name)
    }

    /// [`NdArray::to_matrix`], consuming the array: `f32` data becomes the
    /// matrix without a copy.
    ///
    /// # Errors
    /// As [`NdArray::to_matrix`].
    pub fn into_matrix(self, source_name: &str) -> Result<Matrix> {
        let err = |message: String| data_error(source_name, message);
        let Some((&rows, rest)) = self.shape.split_first() else {
            return Err(err(format!(
                "a 0-dimensional array (shape {}) holds no samples",
                shape_text(&self.shape)
            )));
        };
        if rows == 0 {
            return Err(err(format!(
                "no samples (shape {})",
                shape_text(&self.shape)
            )));
        }
        if rest.contains(&0) {
            return Err(err(format!(
                "the samples have no features (shape {})",
                shape_text(&self.shape)
            )));
        }
        let cols = rest.iter().try_fold(1usize, |a, &d| a.checked_mul(d));
        let cols = match cols {
            Some(c) if rows.checked_mul(c) == Some(self.len()) => c,
            _ => {
                return Err(err(format!(
                    "shape {} does not match its {} elements",
                    shape_text(&self.shape),
                    self.len()
                )))
            }
        };
        let bad = |i: usize, v: &dyn std::fmt::Debug, why: &str| {
            err(format!(
                "row {}, column {}: value {v:?} {why}; features must be finite",
                i / cols + 1,
                i % cols + 1
            ))
        };
        let values: Vec<f32> = match self.data {
            Elements::U8(v) => {
                let bytes = std::sync::Arc::new(super::ByteValues::Owned(v));
                return Matrix::from_bytes(rows, cols, bytes);
            }
            Elements::MappedU8(m) => {
                let bytes = std::sync::Arc::new(super::ByteValues::Mapped(m));
                return Matrix::from_bytes(rows, cols, bytes);
            }
            Elements::I64(v) => v.iter().map(|&b| b as f32).collect(),
            Elements::F32(v) => {
                if let Some(i) = v.iter().position(|f| !f.is_finite()) {
                    return Err(bad(i, &v[i], "is not finite"));
                }
                v
            }
            Elements::MappedF32(m) => {
                let v = m.as_slice();
                if let Some(i) = v.iter().position(|f| !f.is_finite()) {
                    return Err(bad(i, &v[i], "is not finite"));
                }
                return Matrix::from_mapped(rows, cols, m);
            }
            Elements::F64(v) => {
                if let Some(i) = v.iter().position(|f| !f.is_finite()) {
                    return Err(bad(i, &v[i], "is not finite"));
                }
                if let Some(i) = v.iter().position(|&f| !(f as f32).is_finite()) {
                    return Err(bad(i, &v[i], "is out of the f32 range"));
                }
                v.iter().map(|&f| f as f32).collect()
            }
            Elements::Text(v) => {
                return Err(err(format!(
                    "the array holds text ('{}', e.g. {:?}); features must be numbers \
                     (text labels go in the labels file)",
                    self.dtype,
                    v.first().map_or("", String::as_str)
                )))
            }
        };
        Matrix::from_vec(rows, cols, values)
    }

    /// Labels per sample: the second dimension of a 2-D array, else 1.
    pub fn label_width(&self) -> usize {
        match self.shape.as_slice() {
            [_, k] => *k,
            _ => 1,
        }
    }

    /// The array as labels, row-major (one string per sample for a 1-D
    /// array, one row of [`NdArray::label_width`] strings for a 2-D one): integers in decimal (`"3"`),
    /// floats as Rust prints them (`1.0` → `"1"`, `1.5` → `"1.5"`, `-0.0` → `"0"`,
    /// NaN → `"NaN"`), so that [`super::ClassMap`] treats them like CSV labels.
    ///
    /// The array must be 1-D or 2-D; otherwise [`Error::Data`](crate::Error::Data).
    pub fn to_labels(&self, source_name: &str) -> Result<Vec<String>> {
        if !matches!(self.shape.as_slice(), [_] | [_, _]) {
            return Err(data_error(
                source_name,
                format!(
                    "labels must be a 1-D array (one label per sample) or a 2-D array (one row \
                     of labels per sample), found shape {}",
                    shape_text(&self.shape)
                ),
            ));
        }
        if let Some(v) = self.data.bytes() {
            return Ok(v.iter().map(u8::to_string).collect());
        }
        Ok(match &self.data {
            Elements::U8(_) | Elements::MappedU8(_) => unreachable!("bytes, above"),
            Elements::I64(v) => v.iter().map(i64::to_string).collect(),
            Elements::Text(v) => v.clone(),
            Elements::F32(v) => v.iter().map(|&f| float_text(f64::from(f), f)).collect(),
            Elements::F64(v) => v.iter().map(|&f| float_text(f, f)).collect(),
            Elements::MappedF32(m) => m
                .as_slice()
                .iter()
                .map(|&f| float_text(f64::from(f), f))
                .collect(),
        })
    }
}

impl NdArray {
    /// [`NdArray::to_labels`] as codes into the distinct label texts (in
    /// order of first appearance): `(values, codes)`, element `i` being
    /// `values[codes[i]]`. Each distinct element is rendered once, so the
    /// labels of many rows cost 4 bytes each.
    ///
    /// ```
    /// use backprop::data::{Elements, NdArray};
    /// let a = NdArray { shape: vec![4], dtype: "<f4".into(), data: Elements::F32(vec![1.0, -0.0, 1.0, 0.0]) };
    /// let (values, codes) = a.to_label_codes("y.npy").unwrap();
    /// assert_eq!((values, codes), (vec!["1".to_string(), "0".to_string()], vec![0, 1, 0, 1]));
    /// assert_eq!(a.to_labels("y.npy").unwrap(), ["1", "0", "1", "0"]);
    /// ```
    ///
    /// # Errors
    /// As [`NdArray::to_labels`]; [`Error::Data`](crate::Error::Data) for more than 2³² distinct
    /// labels.
    pub fn to_label_codes(&self, source_name: &str) -> Result<(Vec<String>, Vec<u32>)> {
        // the shape's check, on no elements
        NdArray {
            shape: self.shape.clone(),
            dtype: String::new(),
            data: Elements::U8(Vec::new()),
        }
        .to_labels(source_name)?;
        let mut values: Vec<String> = Vec::new();
        let mut by_text: std::collections::HashMap<String, u32> = std::collections::HashMap::new();
        let mut by_bits: std::collections::HashMap<u64, u32> = std::collections::HashMap::new();
        let mut codes = Vec::with_capacity(self.len());
        // `bits`: the value's bits where they stand for its text (numbers)
        let mut push = |bits: Option<u64>, text: &dyn Fn() -> String| -> Result<()> {
            let code = match bits.and_then(|b| by_bits.get(&b)) {
                Some(&c) => c,
                None => {
                    let t = text();
                    let c = match by_text.get(&t) {
                        Some(&c) => c,
                        None => {
                            let c = u32::try_from(values.len()).map_err(|_| {
                                data_error(source_name, "more than 2^32 distinct labels".into())
                            })?;
                            by_text.insert(t.clone(), c);
                            values.push(t);
                            c
                        }
                    };
                    if let Some(b) = bits {
                        by_bits.insert(b, c);
                    }
                    c
                }
            };
            codes.push(code);
            Ok(())
        };
        match &self.data {
            Elements::U8(_) | Elements::MappedU8(_) => self
                .data
                .bytes()
                .unwrap_or_default()
                .iter()
                .try_for_each(|&b| push(Some(u64::from(b)), &|| b.to_string()))?,
            Elements::I64(v) => v
                .iter()
                .try_for_each(|&i| push(Some(i as u64), &|| i.to_string()))?,
            Elements::F32(v) => v.iter().try_for_each(|&f| {
                push(Some(u64::from(f.to_bits())), &|| {
                    float_text(f64::from(f), f)
                })
            })?,
            Elements::F64(v) => v
                .iter()
                .try_for_each(|&f| push(Some(f.to_bits()), &|| float_text(f, f)))?,
            Elements::MappedF32(m) => m.as_slice().iter().try_for_each(|&f| {
                push(Some(u64::from(f.to_bits())), &|| {
                    float_text(f64::from(f), f)
                })
            })?,
            Elements::Text(v) => v.iter().try_for_each(|t| push(None, &|| t.clone()))?,
        }
        Ok((values, codes))
    }
}

/// `f` as label text: `-0` becomes `0`, integral values print without `.0`.
fn float_text<T: std::fmt::Display>(as_f64: f64, f: T) -> String {
    if as_f64 == 0.0 {
        "0".to_string()
    } else {
        f.to_string()
    }
}

/// A shape as NumPy prints it: `(60000, 28, 28)`, `(5,)`, `()`.
pub(crate) fn shape_text(shape: &[usize]) -> String {
    let mut s = String::from("(");
    for (i, d) in shape.iter().enumerate() {
        if i > 0 {
            s.push_str(", ");
        }
        let _ = write!(s, "{d}");
    }
    if shape.len() == 1 {
        s.push(',');
    }
    s.push(')');
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn arr(shape: &[usize], data: Elements) -> NdArray {
        NdArray {
            shape: shape.to_vec(),
            dtype: "t".into(),
            data,
        }
    }

    #[test]
    fn matrices_from_each_type() {
        let m = arr(&[3], Elements::I64(vec![-1, 0, 7]))
            .to_matrix("a")
            .unwrap();
        assert_eq!((m.rows(), m.cols()), (3, 1));
        assert_eq!(m.as_slice(), &[-1.0, 0.0, 7.0]);
        let m = arr(&[1, 2], Elements::F64(vec![0.1, 2.0]))
            .to_matrix("a")
            .unwrap();
        assert_eq!(m.as_slice(), &[0.1f64 as f32, 2.0]);
        let m = arr(&[2, 1], Elements::F32(vec![0.5, 2.0]))
            .to_matrix("a")
            .unwrap();
        assert_eq!(m.as_slice(), &[0.5, 2.0]);
    }

    #[test]
    fn matrix_errors() {
        let e = |a: NdArray| a.to_matrix("x.npy").unwrap_err().to_string();
        assert_eq!(
            e(arr(&[], Elements::F32(vec![1.0]))),
            "x.npy: a 0-dimensional array (shape ()) holds no samples"
        );
        assert_eq!(
            e(arr(&[0, 3], Elements::F32(vec![]))),
            "x.npy: no samples (shape (0, 3))"
        );
        assert_eq!(
            e(arr(&[2, 0], Elements::F32(vec![]))),
            "x.npy: the samples have no features (shape (2, 0))"
        );
        assert_eq!(
            e(arr(&[2, 2], Elements::F32(vec![1.0, 2.0, f32::NAN, 0.0]))),
            "x.npy: row 2, column 1: value NaN is not finite; features must be finite"
        );
        assert_eq!(
            e(arr(&[1, 2], Elements::F64(vec![1.0, 1e300]))),
            "x.npy: row 1, column 2: value 1e300 is out of the f32 range; features must be finite"
        );
        assert_eq!(
            e(arr(&[3, 2], Elements::F32(vec![1.0]))),
            "x.npy: shape (3, 2) does not match its 1 elements"
        );
    }

    #[test]
    fn labels_text() {
        let l = |a: NdArray| a.to_labels("y").unwrap();
        assert_eq!(l(arr(&[2], Elements::U8(vec![0, 9]))), ["0", "9"]);
        assert_eq!(l(arr(&[2, 1], Elements::I64(vec![-3, 12]))), ["-3", "12"]);
        assert_eq!(
            l(arr(&[4], Elements::F32(vec![1.0, 1.5, -0.0, f32::NAN]))),
            ["1", "1.5", "0", "NaN"]
        );
        assert_eq!(l(arr(&[2], Elements::F64(vec![2.0, 0.1]))), ["2", "0.1"]);
    }

    #[test]
    fn shapes_print_like_numpy() {
        assert_eq!(shape_text(&[]), "()");
        assert_eq!(shape_text(&[5]), "(5,)");
        assert_eq!(shape_text(&[2, 3]), "(2, 3)");
    }
}
