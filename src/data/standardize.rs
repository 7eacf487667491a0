//! [`Standardizer`]: per-column standardisation fitted on training data; and
//! [`scale`], pixel scaling to `0..=1`.

use crate::tensor::Matrix;

/// Per-column standardisation `(v - mean) / std`, fitted on training data and
/// applied unchanged to test data (scikit-learn's `StandardScaler`).
///
/// ```
/// use backprop::{data::Standardizer, Matrix};
/// let mut x = Matrix::from_vec(3, 2, vec![1.0, 5.0, 2.0, 5.0, 3.0, 5.0]).unwrap();
/// let s = Standardizer::fit(&x);
/// assert_eq!(s.mean, vec![2.0, 5.0]);
/// assert_eq!(s.std[1], 1.0); // a constant column is only centred
/// s.apply(&mut x);
/// let col0: Vec<f32> = (0..3).map(|r| x.get(r, 0)).collect();
/// assert_eq!(col0.iter().sum::<f32>(), 0.0);
/// assert!((col0[2] - 1.2247449).abs() < 1e-6); // 1 / sqrt(2/3)
/// assert_eq!(x.row(1), &[0.0, 0.0]);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Standardizer {
    /// Column means.
    pub mean: Vec<f32>,
    /// Column population standard deviations (ddof 0); 1.0 where that is 0 or
    /// not finite, so such a column is only centred.
    pub std: Vec<f32>,
}

impl Standardizer {
    /// Mean and population std of each column of `x`, accumulated in `f64`.
    /// With no rows every mean is 0 and every std 1.
    pub fn fit(x: &Matrix) -> Standardizer {
        let (rows, cols) = (x.rows(), x.cols());
        let mut mean = vec![0.0f64; cols];
        let mut var = vec![0.0f64; cols];
        if rows > 0 {
            for r in 0..rows {
                for (m, &v) in mean.iter_mut().zip(x.row(r)) {
                    *m += f64::from(v);
                }
            }
            mean.iter_mut().for_each(|m| *m /= rows as f64);
            for r in 0..rows {
                for ((s, &m), &v) in var.iter_mut().zip(&mean).zip(x.row(r)) {
                    let d = f64::from(v) - m;
                    *s += d * d;
                }
            }
        }
        let std = var
            .iter()
            .map(|&s| {
                let sd = (s / rows.max(1) as f64).sqrt() as f32;
                if sd > 0.0 && sd.is_finite() {
                    sd
                } else {
                    1.0
                }
            })
            .collect();
        Standardizer {
            mean: mean.iter().map(|&m| m as f32).collect(),
            std,
        }
    }

    /// Replaces each value `v` of column `c` by `(v - mean[c]) / std[c]`
    /// (computed in `f64`, rounded once).
    ///
    /// # Panics
    /// If `x` has not as many columns as the standardizer.
    #[track_caller]
    pub fn apply(&self, x: &mut Matrix) {
        assert_eq!(
            x.cols(),
            self.mean.len(),
            "Standardizer::apply: fitted on {} columns, given {}",
            self.mean.len(),
            x.cols()
        );
        let cols = x.cols().max(1);
        for row in x.as_mut_slice().chunks_exact_mut(cols) {
            self.apply_row(row);
        }
    }

    /// [`Standardizer::apply`] on one row of as many values as columns.
    #[inline]
    pub fn apply_row(&self, row: &mut [f32]) {
        for ((v, &m), &s) in row.iter_mut().zip(&self.mean).zip(&self.std) {
            *v = ((f64::from(*v) - f64::from(m)) / f64::from(s)) as f32;
        }
    }
}

/// Divides every value of `x` by `divisor`: pixel scaling to `0..=1`
/// (`16.0` for digits, `255.0` for MNIST).
///
/// # Panics
/// If `divisor` is zero or not finite.
///
/// ```
/// use backprop::{data::scale, Matrix};
/// let mut x = Matrix::from_vec(1, 3, vec![0.0, 8.0, 16.0]).unwrap();
/// scale(&mut x, 16.0);
/// assert_eq!(x.row(0), &[0.0, 0.5, 1.0]);
/// ```
#[track_caller]
pub fn scale(x: &mut Matrix, divisor: f32) {
    assert!(
        divisor.is_finite() && divisor != 0.0,
        "scale: divisor {divisor} must be finite and non-zero"
    );
    x.as_mut_slice().iter_mut().for_each(|v| *v /= divisor);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standardizer_handles_no_rows_and_constant_columns() {
        let s = Standardizer::fit(&Matrix::zeros(0, 2));
        assert_eq!((s.mean, s.std), (vec![0.0; 2], vec![1.0; 2]));
        let s = Standardizer::fit(&Matrix::from_vec(2, 1, vec![3.0, 3.0]).unwrap());
        assert_eq!((s.mean[0], s.std[0]), (3.0, 1.0));
    }
}
