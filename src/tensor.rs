//! `Matrix`: an owned row-major `f32` matrix, and `MatRef`/`MatMut`: strided views.
//!
//! A transpose is a view with its strides swapped ([`MatRef::t`]); nothing is
//! copied. The GEMM wrappers in [`crate::kernels::gemm`] take these views.

use std::sync::Arc;

use crate::data::MappedF32;
use crate::error::{Error, Result};

/// A row-major `rows × cols` matrix of `f32`: owned, or (from an f4 NPY
/// file) read in place from a read-only memory map, which the first
/// mutable access copies into memory.
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
}

impl Default for Storage {
    fn default() -> Self {
        Storage::Owned(Vec::new())
    }
}

impl PartialEq for Matrix {
    fn eq(&self, other: &Matrix) -> bool {
        self.rows == other.rows && self.cols == other.cols && self.as_slice() == other.as_slice()
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

    /// `data` as a `rows × cols` matrix, if it holds that many values.
    fn with_storage(op: &'static str, rows: usize, cols: usize, data: Storage) -> Result<Self> {
        let len = match &data {
            Storage::Owned(v) => v.len(),
            Storage::Mapped(m) => m.len(),
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

    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Number of columns.
    pub fn cols(&self) -> usize {
        self.cols
    }

    /// The row-major elements.
    pub fn as_slice(&self) -> &[f32] {
        match &self.data {
            Storage::Owned(v) => v,
            Storage::Mapped(m) => m.as_slice(),
        }
    }

    /// The row-major elements, mutably (a memory-mapped matrix is copied
    /// into memory first).
    pub fn as_mut_slice(&mut self) -> &mut [f32] {
        if let Storage::Mapped(m) = &self.data {
            self.data = Storage::Owned(m.as_slice().to_vec());
        }
        match &mut self.data {
            Storage::Owned(v) => v,
            Storage::Mapped(_) => unreachable!("copied into memory above"),
        }
    }

    /// Consumes the matrix, returning its row-major elements.
    pub fn into_vec(self) -> Vec<f32> {
        match self.data {
            Storage::Owned(v) => v,
            Storage::Mapped(m) => m.as_slice().to_vec(),
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
