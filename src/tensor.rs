//! `Matrix`: an owned row-major `f32` matrix, and `MatRef`/`MatMut`: strided views.
//!
//! A transpose is a view with its strides swapped ([`MatRef::t`]); nothing is
//! copied. The GEMM wrappers in [`crate::kernels::gemm`] take these views.

use std::sync::{Arc, OnceLock};

use crate::error::{Error, Result};
use crate::mapped::{ByteValues, MappedF32};

/// A row-major `rows × cols` matrix of `f32`: owned, or (from an f4 NPY
/// file) read in place from a read-only memory map, or (image pixels)
/// unsigned bytes standing for the `f32` values they equal. A map or bytes
/// are copied into an owned `f32` buffer by the first mutable access.
///
/// The readers that matter for speed and memory take the values as they
/// are stored ([`Matrix::values`]) and widen bytes a row at a time;
/// [`Matrix::as_slice`] on bytes widens them all once and keeps the
/// result (four times their size) for the matrix's lifetime.
#[derive(Clone, Debug, Default)]
pub struct Matrix {
    rows: usize,
    cols: usize,
    data: Storage,
}

/// Where a [`Matrix`]'s values live.
#[derive(Clone, Debug)]
enum Storage {
    Owned(Vec<f32>),
    Mapped(Arc<MappedF32>),
    Bytes {
        bytes: Arc<ByteValues>,
        /// The bytes widened, once something asked for an `f32` slice.
        wide: OnceLock<Vec<f32>>,
    },
}

impl Default for Storage {
    fn default() -> Self {
        Storage::Owned(Vec::new())
    }
}

/// Equal when the shapes and the values are, however they are stored
/// (bytes are compared as the `f32` values they stand for, unwidened).
impl PartialEq for Matrix {
    fn eq(&self, other: &Matrix) -> bool {
        let same = match (self.values(), other.values()) {
            (Values::F32(a), Values::F32(b)) => a == b,
            (Values::U8(a), Values::U8(b)) => a == b,
            (Values::F32(a), Values::U8(b)) | (Values::U8(b), Values::F32(a)) => {
                a.len() == b.len() && a.iter().zip(b).all(|(&x, &y)| x == f32::from(y))
            }
        };
        self.rows == other.rows && self.cols == other.cols && same
    }
}

impl Matrix {
    /// A `rows × cols` matrix of zeros.
    pub fn zeros(rows: usize, cols: usize) -> Self {
        Matrix {
            rows,
            cols,
            data: Storage::Owned(vec![0.0; rows * cols]),
        }
    }

    /// Wraps row-major `data`; fails unless `data.len() == rows * cols`.
    ///
    /// ```
    /// let m = backprop::Matrix::from_vec(2, 3, vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]).unwrap();
    /// assert_eq!(m.row(1), &[4.0, 5.0, 6.0]);
    /// assert!(backprop::Matrix::from_vec(2, 2, vec![1.0]).is_err());
    /// ```
    pub fn from_vec(rows: usize, cols: usize, data: Vec<f32>) -> Result<Self> {
        Matrix::with_storage("Matrix::from_vec", rows, cols, Storage::Owned(data))
    }

    /// The values of a memory map, in place; fails unless it holds
    /// `rows * cols` values.
    pub fn from_mapped(rows: usize, cols: usize, data: Arc<MappedF32>) -> Result<Self> {
        Matrix::with_storage("Matrix::from_mapped", rows, cols, Storage::Mapped(data))
    }

    /// Unsigned bytes standing for the `f32` values they equal (pixels);
    /// fails unless there are `rows * cols` of them.
    ///
    /// ```
    /// use backprop::{data::ByteValues, Matrix};
    /// use std::sync::Arc;
    /// let m = Matrix::from_bytes(2, 2, Arc::new(ByteValues::Owned(vec![0, 1, 254, 255]))).unwrap();
    /// assert_eq!(m, Matrix::from_vec(2, 2, vec![0.0, 1.0, 254.0, 255.0]).unwrap());
    /// assert!(m.is_bytes());
    /// ```
    pub fn from_bytes(rows: usize, cols: usize, bytes: Arc<ByteValues>) -> Result<Self> {
        let data = Storage::Bytes {
            bytes,
            wide: OnceLock::new(),
        };
        Matrix::with_storage("Matrix::from_bytes", rows, cols, data)
    }

    /// `data` as a `rows × cols` matrix, if it holds that many values.
    fn with_storage(op: &'static str, rows: usize, cols: usize, data: Storage) -> Result<Self> {
        let len = match &data {
            Storage::Owned(v) => v.len(),
            Storage::Mapped(m) => m.len(),
            Storage::Bytes { bytes, .. } => bytes.len(),
        };
        if rows.checked_mul(cols) != Some(len) {
            return Err(Error::shape(
                op,
                format!("{rows}×{cols} = {} values", rows.saturating_mul(cols)),
                format!("{len} values"),
            ));
        }
        Ok(Matrix { rows, cols, data })
    }

    /// Whether the values are read in place from a memory map.
    pub fn is_mapped(&self) -> bool {
        matches!(self.data, Storage::Mapped(_))
    }

    /// Whether the values are stored as unsigned bytes ([`Matrix::from_bytes`]).
    pub fn is_bytes(&self) -> bool {
        matches!(self.data, Storage::Bytes { .. })
    }

    /// Whether the values are kept where they were read (a memory map, or
    /// bytes) rather than in an owned `f32` buffer: changing them in place
    /// would copy them all first.
    pub fn is_in_place(&self) -> bool {
        !matches!(self.data, Storage::Owned(_))
    }

    /// The values as stored, for readers that copy rows anyway.
    pub fn values(&self) -> Values<'_> {
        match &self.data {
            Storage::Owned(v) => Values::F32(v),
            Storage::Mapped(m) => Values::F32(m.as_slice()),
            Storage::Bytes { bytes, .. } => Values::U8(bytes.as_slice()),
        }
    }

    /// The rows `rows` (any order, repeats allowed) as a new matrix, stored
    /// as bytes if these are, else owned.
    ///
    /// # Panics
    /// If a row is out of range.
    pub fn select_rows(&self, rows: &[usize]) -> Matrix {
        let c = self.cols;
        let data = match self.values() {
            Values::F32(v) => Storage::Owned(
                rows.iter()
                    .flat_map(|&r| &v[r * c..(r + 1) * c])
                    .copied()
                    .collect(),
            ),
            Values::U8(v) => Storage::Bytes {
                bytes: Arc::new(ByteValues::Owned(
                    rows.iter()
                        .flat_map(|&r| &v[r * c..(r + 1) * c])
                        .copied()
                        .collect(),
                )),
                wide: OnceLock::new(),
            },
        };
        Matrix {
            rows: rows.len(),
            cols: c,
            data,
        }
    }

    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Number of columns.
    pub fn cols(&self) -> usize {
        self.cols
    }

    /// The row-major elements.
    ///
    /// Bytes are widened to `f32` on the first call, and the widened copy
    /// is kept ([`Matrix::values`] reads them without it).
    pub fn as_slice(&self) -> &[f32] {
        match &self.data {
            Storage::Owned(v) => v,
            Storage::Mapped(m) => m.as_slice(),
            Storage::Bytes { bytes, wide } => wide.get_or_init(|| widen(bytes.as_slice())),
        }
    }

    /// The row-major elements, mutably (a memory-mapped or byte matrix is
    /// copied into an owned `f32` buffer first).
    pub fn as_mut_slice(&mut self) -> &mut [f32] {
        if !matches!(self.data, Storage::Owned(_)) {
            let data = std::mem::take(&mut self.data);
            self.data = Storage::Owned(Matrix { data, ..*self }.into_vec());
        }
        match &mut self.data {
            Storage::Owned(v) => v,
            _ => unreachable!("copied into memory above"),
        }
    }

    /// Consumes the matrix, returning its row-major elements.
    pub fn into_vec(self) -> Vec<f32> {
        match self.data {
            Storage::Owned(v) => v,
            Storage::Mapped(m) => m.as_slice().to_vec(),
            Storage::Bytes { bytes, wide } => match wide.into_inner() {
                Some(v) => v,
                None => widen(bytes.as_slice()),
            },
        }
    }

    /// Row `r` as a slice.
    ///
    /// # Panics
    /// If `r >= self.rows()`.
    #[track_caller]
    pub fn row(&self, r: usize) -> &[f32] {
        assert!(r < self.rows, "row {r} out of {} rows", self.rows);
        &self.as_slice()[r * self.cols..(r + 1) * self.cols]
    }

    /// Element `(r, c)`.
    ///
    /// # Panics
    /// If the index is out of bounds.
    #[track_caller]
    pub fn get(&self, r: usize, c: usize) -> f32 {
        assert!(
            r < self.rows && c < self.cols,
            "({r}, {c}) out of {}×{}",
            self.rows,
            self.cols
        );
        self.as_slice()[r * self.cols + c]
    }

    /// A view of the whole matrix.
    pub fn view(&self) -> MatRef<'_> {
        MatRef::new(self.as_slice(), self.rows, self.cols)
    }

    /// A mutable view of the whole matrix.
    pub fn view_mut(&mut self) -> MatMut<'_> {
        let (rows, cols) = (self.rows, self.cols);
        MatMut::new(self.as_mut_slice(), rows, cols)
    }
}

/// Bytes as the `f32` values they equal.
fn widen(bytes: &[u8]) -> Vec<f32> {
    bytes.iter().map(|&b| f32::from(b)).collect()
}

/// The values of a [`Matrix`] as stored: `f32`, or bytes standing for the
/// `f32` values they equal.
#[derive(Clone, Copy, Debug)]
pub enum Values<'a> {
    /// `f32` values.
    F32(&'a [f32]),
    /// Bytes, each the `f32` value it equals.
    U8(&'a [u8]),
}

impl<'a> Values<'a> {
    /// The number of values.
    pub fn len(&self) -> usize {
        match self {
            Values::F32(v) => v.len(),
            Values::U8(v) => v.len(),
        }
    }

    /// Whether there are no values.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The `f32` values, if that is how they are stored.
    pub fn as_f32(&self) -> Option<&'a [f32]> {
        match *self {
            Values::F32(v) => Some(v),
            Values::U8(_) => None,
        }
    }

    /// Copies values `start..start + out.len()` into `out` as `f32`.
    ///
    /// # Panics
    /// If the range is out of bounds.
    ///
    /// ```
    /// use backprop::tensor::Values;
    /// let mut out = [0.0; 2];
    /// Values::U8(&[7, 200, 255]).copy_to(1, &mut out);
    /// assert_eq!(out, [200.0, 255.0]);
    /// ```
    #[inline]
    pub fn copy_to(&self, start: usize, out: &mut [f32]) {
        let end = start + out.len();
        match self {
            Values::F32(v) => out.copy_from_slice(&v[start..end]),
            Values::U8(v) => {
                for (o, &b) in out.iter_mut().zip(&v[start..end]) {
                    *o = f32::from(b);
                }
            }
        }
    }

    /// The index of the first value that is NaN or infinite (bytes never are).
    pub fn first_non_finite(&self) -> Option<usize> {
        match self {
            Values::F32(v) => v.iter().position(|x| !x.is_finite()),
            Values::U8(_) => None,
        }
    }
}

impl<'a> From<&'a [f32]> for Values<'a> {
    fn from(v: &'a [f32]) -> Self {
        Values::F32(v)
    }
}

/// Smallest slice length that holds every element of a strided `rows × cols` view.
pub(crate) fn required_len(rows: usize, cols: usize, rs: usize, cs: usize) -> usize {
    if rows == 0 || cols == 0 {
        0
    } else {
        // saturates instead of wrapping, so an absurd stride fails the length check
        ((rows - 1).saturating_mul(rs))
            .saturating_add((cols - 1).saturating_mul(cs))
            .saturating_add(1)
    }
}

/// A borrowed `rows × cols` matrix with element `(r, c)` at `data[r*rs + c*cs]`.
#[derive(Clone, Copy, Debug)]
pub struct MatRef<'a> {
    data: &'a [f32],
    rows: usize,
    cols: usize,
    rs: usize,
    cs: usize,
}

impl<'a> MatRef<'a> {
    /// A dense row-major view (`rs = cols`, `cs = 1`).
    ///
    /// # Panics
    /// If `data.len() != rows * cols`.
    #[track_caller]
    pub fn new(data: &'a [f32], rows: usize, cols: usize) -> Self {
        assert_eq!(
            Some(data.len()),
            rows.checked_mul(cols),
            "MatRef::new: {rows}×{cols} needs {} values",
            rows.saturating_mul(cols)
        );
        MatRef {
            data,
            rows,
            cols,
            rs: cols,
            cs: 1,
        }
    }

    /// A view with explicit strides.
    ///
    /// # Panics
    /// If `data` is too short for the last element.
    #[track_caller]
    pub fn with_strides(data: &'a [f32], rows: usize, cols: usize, rs: usize, cs: usize) -> Self {
        assert!(
            data.len() >= required_len(rows, cols, rs, cs),
            "MatRef::with_strides: {rows}×{cols} with strides ({rs}, {cs}) does not fit in {} values",
            data.len()
        );
        MatRef {
            data,
            rows,
            cols,
            rs,
            cs,
        }
    }

    /// The transpose: the same memory with rows and columns (and strides) swapped.
    ///
    /// ```
    /// let m = backprop::Matrix::from_vec(2, 3, vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]).unwrap();
    /// let t = m.view().t();
    /// assert_eq!((t.rows(), t.cols()), (3, 2));
    /// assert_eq!(t.get(2, 1), 6.0);
    /// ```
    pub fn t(self) -> Self {
        MatRef {
            data: self.data,
            rows: self.cols,
            cols: self.rows,
            rs: self.cs,
            cs: self.rs,
        }
    }

    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.rows
    }
    /// Number of columns.
    pub fn cols(&self) -> usize {
        self.cols
    }
    /// Row stride.
    pub fn rs(&self) -> usize {
        self.rs
    }
    /// Column stride.
    pub fn cs(&self) -> usize {
        self.cs
    }
    /// The underlying slice.
    pub fn data(&self) -> &'a [f32] {
        self.data
    }

    /// Element `(r, c)`.
    ///
    /// # Panics
    /// If the index is out of bounds.
    #[track_caller]
    pub fn get(&self, r: usize, c: usize) -> f32 {
        assert!(
            r < self.rows && c < self.cols,
            "({r}, {c}) out of {}×{}",
            self.rows,
            self.cols
        );
        self.data[r * self.rs + c * self.cs]
    }
}

/// A mutable `rows × cols` view with element `(r, c)` at `data[r*rs + c*cs]`.
#[derive(Debug)]
pub struct MatMut<'a> {
    data: &'a mut [f32],
    rows: usize,
    cols: usize,
    rs: usize,
    cs: usize,
}

impl<'a> MatMut<'a> {
    /// A dense row-major mutable view.
    ///
    /// # Panics
    /// If `data.len() != rows * cols`.
    #[track_caller]
    pub fn new(data: &'a mut [f32], rows: usize, cols: usize) -> Self {
        assert_eq!(
            Some(data.len()),
            rows.checked_mul(cols),
            "MatMut::new: {rows}×{cols} needs {} values",
            rows.saturating_mul(cols)
        );
        MatMut {
            data,
            rows,
            cols,
            rs: cols,
            cs: 1,
        }
    }

    /// A mutable view with explicit strides.
    ///
    /// # Panics
    /// If `data` is too short for the last element, or if two elements would
    /// share one memory location (`rs`/`cs` overlap), which would make the GEMM
    /// write race with itself.
    #[track_caller]
    pub fn with_strides(
        data: &'a mut [f32],
        rows: usize,
        cols: usize,
        rs: usize,
        cs: usize,
    ) -> Self {
        assert!(
            data.len() >= required_len(rows, cols, rs, cs),
            "MatMut::with_strides: {rows}×{cols} with strides ({rs}, {cs}) does not fit in {} values",
            data.len()
        );
        let distinct = rows == 0
            || cols == 0
            || rows <= 1 && (cols <= 1 || cs > 0)
            || cols <= 1 && rs > 0
            || (cs >= 1 && rs >= cols * cs)
            || (rs >= 1 && cs >= rows * rs);
        assert!(
            distinct,
            "MatMut::with_strides: strides ({rs}, {cs}) alias elements of a {rows}×{cols} view"
        );
        MatMut {
            data,
            rows,
            cols,
            rs,
            cs,
        }
    }

    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.rows
    }
    /// Number of columns.
    pub fn cols(&self) -> usize {
        self.cols
    }
    /// Row stride.
    pub fn rs(&self) -> usize {
        self.rs
    }
    /// Column stride.
    pub fn cs(&self) -> usize {
        self.cs
    }
    /// The underlying slice.
    pub fn data_mut(&mut self) -> &mut [f32] {
        self.data
    }
    /// The same view, read-only.
    pub fn as_ref(&self) -> MatRef<'_> {
        MatRef {
            data: self.data,
            rows: self.rows,
            cols: self.cols,
            rs: self.rs,
            cs: self.cs,
        }
    }
}

/// Columns `c0..c0 + cols` of a row-major `rows × width` matrix, borrowed
/// exclusively. [`ColBlock::split`] cuts a block into two blocks of
/// disjoint columns, which different threads may then write at the same
/// time: a column block of a row-major matrix is not one contiguous slice,
/// so it cannot be a `&mut [f32]` beside its neighbour.
///
/// ```
/// use backprop::tensor::ColBlock;
/// let mut m = vec![0.0f32; 2 * 5];
/// let (mut left, mut right) = ColBlock::new(&mut m, 2, 5).split(3);
/// std::thread::scope(|s| {
///     s.spawn(move || left.row_mut(1).fill(1.0));
///     s.spawn(move || right.row_mut(0).fill(2.0));
/// });
/// assert_eq!(m, [0., 0., 0., 2., 2., 1., 1., 1., 0., 0.]);
/// ```
#[derive(Debug)]
pub struct ColBlock<'a> {
    /// The whole matrix's first element.
    base: std::ptr::NonNull<f32>,
    rows: usize,
    width: usize,
    c0: usize,
    cols: usize,
    _borrow: std::marker::PhantomData<&'a mut [f32]>,
}

// SAFETY: a `ColBlock` stands for an exclusive borrow of its columns, as a
// `&mut [f32]` does for its elements, and `&mut [f32]` is `Send`: no other
// `ColBlock` of the same matrix covers these columns (`split` hands out
// disjoint ones, and the matrix itself stays borrowed for `'a`).
unsafe impl Send for ColBlock<'_> {}

impl<'a> ColBlock<'a> {
    /// All columns of the row-major `rows × width` matrix in `data`.
    ///
    /// # Panics
    /// If `data.len() != rows * width`.
    #[track_caller]
    pub fn new(data: &'a mut [f32], rows: usize, width: usize) -> Self {
        assert_eq!(
            Some(data.len()),
            rows.checked_mul(width),
            "ColBlock::new: {rows}×{width} needs {} values",
            rows.saturating_mul(width)
        );
        ColBlock {
            base: std::ptr::NonNull::from(data).cast(),
            rows,
            width,
            c0: 0,
            cols: width,
            _borrow: std::marker::PhantomData,
        }
    }

    /// The first `at` columns and the rest.
    ///
    /// # Panics
    /// If `at > self.cols()`.
    #[track_caller]
    pub fn split(self, at: usize) -> (Self, Self) {
        assert!(at <= self.cols, "ColBlock::split: {at} > {}", self.cols);
        let right = ColBlock {
            c0: self.c0 + at,
            cols: self.cols - at,
            ..self
        };
        (ColBlock { cols: at, ..self }, right)
    }

    /// Rows of the block.
    pub fn rows(&self) -> usize {
        self.rows
    }
    /// Columns of the block.
    pub fn cols(&self) -> usize {
        self.cols
    }
    /// The block's first column in the whole matrix.
    pub fn first_col(&self) -> usize {
        self.c0
    }
    /// The row stride (the whole matrix's width).
    pub fn rs(&self) -> usize {
        self.width
    }

    /// Row `r` of the block: `cols()` contiguous values.
    ///
    /// # Panics
    /// If `r >= self.rows()`.
    #[track_caller]
    pub fn row_mut(&mut self, r: usize) -> &mut [f32] {
        assert!(r < self.rows, "ColBlock::row_mut: row {r} of {}", self.rows);
        // SAFETY: row r's columns c0..c0+cols lie inside the rows × width
        // matrix (r < rows, c0 + cols <= width); they belong to this block
        // alone, and `&mut self` keeps the returned slice the only live
        // reference into the block.
        unsafe {
            std::slice::from_raw_parts_mut(
                self.base.as_ptr().add(r * self.width + self.c0),
                self.cols,
            )
        }
    }

    /// The block's element (0, 0), for a GEMM writing the block through
    /// strides (`rs()`, 1): every element it may write is this block's.
    pub(crate) fn as_mut_ptr(&mut self) -> *mut f32 {
        // SAFETY: c0 <= width, so the offset stays inside the matrix (or
        // one past its end for an empty block of the last columns).
        unsafe { self.base.as_ptr().add(self.c0) }
    }
}
