//! `Matrix`: an owned row-major `f32` matrix, and `MatRef`/`MatMut`: strided views.
//!
//! A transpose is a view with its strides swapped ([`MatRef::t`]); nothing is
//! copied. The GEMM wrappers in [`crate::kernels::gemm`] take these views.

use crate::error::{Error, Result};

/// An owned, row-major `rows × cols` matrix of `f32`.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Matrix {
    rows: usize,
    cols: usize,
    data: Vec<f32>,
}

impl Matrix {
    /// A `rows × cols` matrix of zeros.
    pub fn zeros(rows: usize, cols: usize) -> Self {
        Matrix {
            rows,
            cols,
            data: vec![0.0; rows * cols],
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
        if rows.checked_mul(cols) != Some(data.len()) {
            return Err(Error::shape(
                "Matrix::from_vec",
                format!("{rows}×{cols} = {} values", rows.saturating_mul(cols)),
                format!("{} values", data.len()),
            ));
        }
        Ok(Matrix { rows, cols, data })
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
        &self.data
    }

    /// The row-major elements, mutably.
    pub fn as_mut_slice(&mut self) -> &mut [f32] {
        &mut self.data
    }

    /// Consumes the matrix, returning its row-major elements.
    pub fn into_vec(self) -> Vec<f32> {
        self.data
    }

    /// Row `r` as a slice.
    ///
    /// # Panics
    /// If `r >= self.rows()`.
    #[track_caller]
    pub fn row(&self, r: usize) -> &[f32] {
        assert!(r < self.rows, "row {r} out of {} rows", self.rows);
        &self.data[r * self.cols..(r + 1) * self.cols]
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
        self.data[r * self.cols + c]
    }

    /// A view of the whole matrix.
    pub fn view(&self) -> MatRef<'_> {
        MatRef::new(&self.data, self.rows, self.cols)
    }

    /// A mutable view of the whole matrix.
    pub fn view_mut(&mut self) -> MatMut<'_> {
        MatMut::new(&mut self.data, self.rows, self.cols)
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
