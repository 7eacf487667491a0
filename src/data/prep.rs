//! [`Prep`]: what is done to each feature value before the network sees it
//! (pixel scaling, standardisation), applied row by row where rows are
//! copied anyway — a shard's gather, an inference chunk — when the features
//! are read in place (a memory map, or image bytes widened row by row); and
//! [`Features`], rows of features with the preparation they still need.

use super::standardize::Standardizer;
use crate::tensor::Values;

/// Pixel scaling, then standardisation: the same operations, value by
/// value, as [`super::standardize::scale`] and [`Standardizer::apply`] on a whole matrix,
/// so a row prepared here has the bits of the same row prepared in place.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Prep {
    /// Divide every value by this (pixels to `0..=1`).
    pub scale: Option<f32>,
    /// Then standardise each column.
    pub standardizer: Option<Standardizer>,
}

impl Prep {
    /// Whether the values are used as they are.
    pub fn is_identity(&self) -> bool {
        self.scale.is_none() && self.standardizer.is_none()
    }

    /// Prepares one row in place.
    ///
    /// # Panics
    /// If a standardizer was fitted on another number of columns.
    ///
    /// ```
    /// use backprop::data::{Prep, Standardizer};
    /// let p = Prep {
    ///     scale: Some(2.0),
    ///     standardizer: Some(Standardizer { mean: vec![1.0, 0.0], std: vec![0.5, 1.0] }),
    /// };
    /// let mut row = [4.0, 3.0];
    /// p.apply_row(&mut row);
    /// assert_eq!(row, [2.0, 1.5]); // (4/2 - 1) / 0.5, (3/2 - 0) / 1
    /// ```
    #[inline]
    pub fn apply_row(&self, row: &mut [f32]) {
        if let Some(s) = self.scale {
            row.iter_mut().for_each(|v| *v /= s);
        }
        if let Some(st) = &self.standardizer {
            st.apply_row(row);
        }
    }
}

/// `rows × cols` feature values (row-major), as stored ([`Values`]: `f32`,
/// or bytes to widen), and the preparation they still need (`None`: ready
/// as they are).
#[derive(Clone, Copy, Debug)]
pub struct Features<'a> {
    /// The values as stored.
    pub x: Values<'a>,
    /// What to do to each row before use.
    pub prep: Option<&'a Prep>,
}

impl<'a> Features<'a> {
    /// `x` with `prep` still to apply (`None` when it is the identity).
    pub fn new(x: impl Into<Values<'a>>, prep: &'a Prep) -> Features<'a> {
        Features {
            x: x.into(),
            prep: (!prep.is_identity()).then_some(prep),
        }
    }

    /// The values, when they can be used as they are: `f32` that need no
    /// preparation. Otherwise rows go through [`Features::write_rows`].
    pub fn ready(&self) -> Option<&'a [f32]> {
        match self.prep {
            None => self.x.as_f32(),
            Some(_) => None,
        }
    }

    /// Copies row `r` of `out.len()` values into `out`, prepared.
    ///
    /// # Panics
    /// If the row is out of range.
    #[inline]
    pub fn write_row(&self, r: usize, out: &mut [f32]) {
        self.x.copy_to(r * out.len(), out);
        if let Some(p) = self.prep {
            p.apply_row(out);
        }
    }

    /// Copies rows `r0..r1` of `cols` values into `out`, prepared.
    ///
    /// # Panics
    /// If the rows are out of range or `out` is not `(r1 - r0) × cols`.
    pub fn write_rows(&self, r0: usize, r1: usize, cols: usize, out: &mut [f32]) {
        assert_eq!(out.len(), (r1 - r0) * cols, "write_rows: output size");
        self.x.copy_to(r0 * cols, out);
        if let Some(p) = self.prep {
            for row in out.chunks_exact_mut(cols.max(1)) {
                p.apply_row(row);
            }
        }
    }
}

impl<'a> From<&'a [f32]> for Features<'a> {
    fn from(x: &'a [f32]) -> Self {
        Features {
            x: Values::F32(x),
            prep: None,
        }
    }
}

impl<'a> From<&'a Vec<f32>> for Features<'a> {
    fn from(x: &'a Vec<f32>) -> Self {
        Features {
            x: Values::F32(x),
            prep: None,
        }
    }
}
