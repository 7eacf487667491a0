//! [`Targets`]: a dataset's training targets as the trainer and the
//! evaluation read them — stored values, or class indices expanded row by
//! row into the encoding of the head, so that a classification set never
//! holds a one-hot matrix of all its rows.

use crate::error::{Error, Result};

/// The targets of `rows()` rows, `width()` values per row.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Targets<'a> {
    /// Stored values (regression, multi-label).
    Values {
        /// Row-major, `rows × width`.
        y: &'a [f32],
        /// Values per row.
        width: usize,
    },
    /// Class indices, expanded on reading.
    Classes {
        /// The class of each row (`< width`, or `< 2` for `width` 1).
        labels: &'a [usize],
        /// One-hot over `width` columns, or for `width` 1 (two classes, one
        /// sigmoid output) the label itself as 0.0 or 1.0.
        width: usize,
    },
}

impl<'a> Targets<'a> {
    /// Stored values `y` of rows of `width`.
    ///
    /// # Errors
    /// [`Error::Shape`] if `width` is 0 or does not divide `y`'s length.
    pub fn values(y: &'a [f32], width: usize) -> Result<Targets<'a>> {
        if width == 0 || y.len() % width != 0 {
            return Err(Error::shape(
                "Targets::values",
                "rows of at least one value".to_string(),
                format!("{} values in rows of {width}", y.len()),
            ));
        }
        Ok(Targets::Values { y, width })
    }

    /// Class `labels` encoded over `width` columns (1: the label as 0/1).
    ///
    /// # Errors
    /// [`Error::Shape`] if `width` is 0; [`Error::Data`] naming the 1-based
    /// row of a label the encoding cannot hold.
    pub fn classes(labels: &'a [usize], width: usize) -> Result<Targets<'a>> {
        if width == 0 {
            return Err(Error::shape(
                "Targets::classes",
                "at least one output column".to_string(),
                "0".to_string(),
            ));
        }
        let classes = width.max(2);
        if let Some(r) = labels.iter().position(|&l| l >= classes) {
            return Err(Error::Data {
                source_name: "Targets::classes".into(),
                message: format!(
                    "row {}: label {} is out of range for {classes} classes",
                    r + 1,
                    labels[r]
                ),
            });
        }
        Ok(Targets::Classes { labels, width })
    }

    /// The number of rows.
    pub fn rows(&self) -> usize {
        match *self {
            Targets::Values { y, width } => y.len() / width,
            Targets::Classes { labels, .. } => labels.len(),
        }
    }

    /// Values per row: the width of the output layer.
    pub fn width(&self) -> usize {
        match *self {
            Targets::Values { width, .. } | Targets::Classes { width, .. } => width,
        }
    }

    /// Writes row `r`'s targets into `out` (`width()` values).
    ///
    /// # Panics
    /// If `r` is out of range or `out` is not `width()` long.
    #[inline]
    pub fn write_row(&self, r: usize, out: &mut [f32]) {
        match *self {
            Targets::Values { y, width } => out.copy_from_slice(&y[r * width..(r + 1) * width]),
            Targets::Classes { labels, width } => {
                assert_eq!(out.len(), width, "Targets::write_row: a row of {width}");
                let label = labels[r];
                if width == 1 {
                    out[0] = if label == 1 { 1.0 } else { 0.0 };
                } else {
                    out.fill(0.0);
                    out[label] = 1.0;
                }
            }
        }
    }

    /// Rows `r0..r1` into `out` (`(r1 - r0) × width()`, row-major).
    ///
    /// # Panics
    /// As [`Targets::write_row`].
    pub fn write_rows(&self, r0: usize, r1: usize, out: &mut [f32]) {
        match *self {
            Targets::Values { y, width } => out.copy_from_slice(&y[r0 * width..r1 * width]),
            Targets::Classes { width, .. } => {
                for (r, row) in (r0..r1).zip(out.chunks_exact_mut(width)) {
                    self.write_row(r, row);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_expand_to_the_heads_encoding() {
        let labels = [2, 0, 1];
        let t = Targets::classes(&labels, 3).unwrap();
        assert_eq!((t.rows(), t.width()), (3, 3));
        let mut out = [9.0; 9];
        t.write_rows(0, 3, &mut out);
        assert_eq!(out, [0., 0., 1., 1., 0., 0., 0., 1., 0.]);
        let binary = [1, 0];
        let t = Targets::classes(&binary, 1).unwrap();
        let mut out = [9.0; 2];
        t.write_rows(0, 2, &mut out);
        assert_eq!(out, [1.0, 0.0]);
        assert!(Targets::classes(&[2], 1).is_err());
        assert!(Targets::classes(&[3], 3).is_err());
        assert!(Targets::classes(&[0], 0).is_err());
    }

    #[test]
    fn values_are_read_as_stored() {
        let y = [1.0, 2.0, 3.0, 4.0];
        let t = Targets::values(&y, 2).unwrap();
        assert_eq!((t.rows(), t.width()), (2, 2));
        let mut out = [0.0; 2];
        t.write_row(1, &mut out);
        assert_eq!(out, [3.0, 4.0]);
        assert!(Targets::values(&y, 3).is_err());
        assert!(Targets::values(&y, 0).is_err());
    }
}
