//! [`Dataset`]: features, training targets and class labels, checked
//! finite; and [`accuracy`], the share of rows whose predicted class is right.

use std::borrow::Cow;

use super::message::data_error;
use super::prep::{Features, Prep};
use super::targets::Targets;
use crate::activation::Head;
use crate::error::{Error, Result};
use crate::tensor::Matrix;

/// Features `x` (`rows × features`), training targets (`rows × outputs`)
/// and, for classification, the class index of each row.
///
/// A classification set stores its class indices only: the targets the head
/// trains on (one-hot, or 0/1 for one sigmoid output) are expanded row by
/// row as a shard gathers them ([`Dataset::targets`]).
///
/// Every value of `x` and of the targets is finite, and they have the same
/// number of rows.
#[derive(Clone, Debug, PartialEq)]
pub struct Dataset {
    x: Matrix,
    y: Stored,
    weights: Option<Vec<f32>>,
    /// What the rows of `x` still need before use (identity: nothing).
    prep: Prep,
}

/// The targets as a [`Dataset`] holds them.
#[derive(Clone, Debug, PartialEq)]
enum Stored {
    Values(Matrix),
    Classes { labels: Vec<usize>, width: usize },
}

impl Dataset {
    /// A regression dataset with targets `y`.
    ///
    /// Fails with [`Error::Shape`] if the row counts differ, and with
    /// [`Error::Data`] naming the 1-based row and column of the first value of
    /// `x` or `y` that is NaN or infinite.
    ///
    /// ```
    /// use backprop::{data::Dataset, Matrix};
    /// let x = Matrix::from_vec(2, 1, vec![0.0, 1.0]).unwrap();
    /// let y = Matrix::from_vec(2, 1, vec![1.0, 3.0]).unwrap();
    /// let d = Dataset::new(x.clone(), y).unwrap();
    /// assert_eq!((d.rows(), d.features(), d.outputs()), (2, 1, 1));
    /// assert_eq!(d.labels(), None);
    ///
    /// let bad = Matrix::from_vec(2, 1, vec![1.0, f32::NAN]).unwrap();
    /// let err = Dataset::new(x, bad).unwrap_err().to_string();
    /// assert_eq!(err, "Dataset::new: y row 2, column 1 is NaN; all values must be finite");
    /// ```
    pub fn new(x: Matrix, y: Matrix) -> Result<Dataset> {
        Self::build("Dataset::new", x, y)
    }

    /// A classification dataset: `labels[r]` is the class (`0..n_classes`) of row `r`.
    ///
    /// The targets `y` are encoded for `head`:
    /// - [`Head::SigmoidBce`] with 2 classes: one column holding 0.0 or 1.0 (the label);
    /// - [`Head::SigmoidBce`] with more classes, or [`Head::SoftmaxCe`]: one-hot,
    ///   `rows × n_classes`.
    ///
    /// Fails with [`Error::Config`] (option `--head`) for [`Head::Mse`], with
    /// [`Error::Shape`] if `labels` and `x` differ in length, and with
    /// [`Error::Data`] if `n_classes < 2`, a label is `>= n_classes` (naming its
    /// 1-based row) or a feature is not finite.
    ///
    /// ```
    /// use backprop::{data::Dataset, Matrix};
    /// # use backprop::activation::Head;
    /// let x = Matrix::from_vec(3, 1, vec![0.5, 1.5, 2.5]).unwrap();
    /// let d = Dataset::classification(x, vec![2, 0, 1], 3, Head::SoftmaxCe).unwrap();
    /// assert_eq!(d.y().row(0), &[0.0, 0.0, 1.0]);
    /// assert_eq!(d.n_classes(), Some(3));
    /// ```
    pub fn classification(
        x: Matrix,
        labels: Vec<usize>,
        n_classes: usize,
        head: Head,
    ) -> Result<Dataset> {
        const OP: &str = "Dataset::classification";
        if head.is_regression() {
            return Err(Error::config(
                "head",
                format!("{head} is a regression head; class labels need sigmoid or softmax"),
            ));
        }
        if labels.len() != x.rows() {
            return Err(Error::shape(
                OP,
                format!("{} labels (one per row of x)", x.rows()),
                format!("{} labels", labels.len()),
            ));
        }
        if n_classes < 2 {
            return Err(data_error(
                OP,
                format!("need at least 2 classes, got {n_classes}"),
            ));
        }
        if let Some(r) = labels.iter().position(|&l| l >= n_classes) {
            return Err(data_error(
                OP,
                format!(
                    "row {}: label {} is out of range for {n_classes} classes (0..{})",
                    r + 1,
                    labels[r],
                    n_classes - 1
                ),
            ));
        }
        let width = if head == Head::SigmoidBce && n_classes == 2 {
            1
        } else {
            n_classes
        };
        // `Dataset::y` can build the encoded matrix: its size must exist
        let fits = labels
            .len()
            .checked_mul(width)
            .is_some_and(|n| n <= isize::MAX as usize / 4);
        if !fits {
            return Err(data_error(
                OP,
                format!("{} rows × {n_classes} classes is too large", labels.len()),
            ));
        }
        check_finite(OP, "x", &x)?;
        Ok(Dataset {
            x,
            y: Stored::Classes { labels, width },
            weights: None,
            prep: Prep::default(),
        })
    }

    /// Checks row counts and finiteness, then assembles the dataset.
    fn build(op: &'static str, x: Matrix, y: Matrix) -> Result<Dataset> {
        if x.rows() != y.rows() {
            return Err(Error::shape(
                op,
                format!("y with {} rows (as x)", x.rows()),
                format!("y with {} rows", y.rows()),
            ));
        }
        check_finite(op, "x", &x)?;
        check_finite(op, "y", &y)?;
        Ok(Dataset {
            x,
            y: Stored::Values(y),
            weights: None,
            prep: Prep::default(),
        })
    }

    /// The dataset with a weight per row: training minimises
    /// `Σ wᵢ·lossᵢ / Σ wᵢ` over each batch (scikit-learn's `sample_weight`;
    /// a weight of 2 counts a row twice, 0 leaves it out). Class weights are
    /// per-row weights too ([`ClassWeight::per_row`](crate::data::ClassWeight::per_row)).
    ///
    /// ```
    /// use backprop::{data::Dataset, Matrix};
    /// let x = Matrix::from_vec(2, 1, vec![0.0, 1.0]).unwrap();
    /// let d = Dataset::new(x, Matrix::from_vec(2, 1, vec![1.0, 3.0]).unwrap()).unwrap();
    /// let d = d.with_weights(vec![1.0, 0.5]).unwrap();
    /// assert_eq!(d.weights(), Some(&[1.0, 0.5][..]));
    /// assert!(d.clone().with_weights(vec![1.0]).is_err());
    /// assert!(d.clone().with_weights(vec![1.0, -1.0]).is_err());
    /// assert!(d.with_weights(vec![0.0, 0.0]).is_err());
    /// ```
    ///
    /// # Errors
    /// [`Error::Shape`] unless there is one weight per row; [`Error::Data`]
    /// naming the 1-based row of a weight that is negative or not finite, or
    /// if the weights sum to 0.
    pub fn with_weights(mut self, weights: Vec<f32>) -> Result<Dataset> {
        const OP: &str = "sample weights";
        if weights.len() != self.rows() {
            return Err(Error::shape(
                OP,
                format!("{} weights (one per row)", self.rows()),
                format!("{} weights", weights.len()),
            ));
        }
        if let Some(r) = weights.iter().position(|w| !(w.is_finite() && *w >= 0.0)) {
            return Err(data_error(
                OP,
                format!(
                    "row {}: weight {} must be a finite number >= 0",
                    r + 1,
                    weights[r]
                ),
            ));
        }
        if weights.iter().all(|&w| w == 0.0) {
            return Err(data_error(
                OP,
                "every weight is 0: nothing to learn from".into(),
            ));
        }
        self.weights = Some(weights);
        Ok(self)
    }

    /// The dataset with features `x` that are used prepared by `prep`
    /// (scaled, standardised), row by row as they are read — for features
    /// read in place from a memory map, which are not changed. The result
    /// is the same, bit for bit, as preparing `x` first.
    ///
    /// # Errors
    /// [`Error::Data`] naming the 1-based row and column of the first value
    /// that `prep` makes NaN or infinite.
    pub fn with_prep(mut self, prep: Prep) -> Result<Dataset> {
        let cols = self.x.cols();
        if !prep.is_identity() && cols > 0 {
            let mut row = vec![0.0; cols];
            let features = Features::new(self.x.values(), &prep);
            for r in 0..self.x.rows() {
                features.write_row(r, &mut row);
                if let Some(c) = row.iter().position(|v| !v.is_finite()) {
                    return Err(data_error(
                        "prepared features",
                        format!(
                            "x row {}, column {} is {} once scaled or standardised; all values must be \
                             finite",
                            r + 1,
                            c + 1,
                            row[c]
                        ),
                    ));
                }
            }
        }
        self.prep = prep;
        Ok(self)
    }

    /// The features with the preparation they still need
    /// ([`Dataset::with_prep`]).
    pub fn prepared(&self) -> Features<'_> {
        Features::new(self.x.values(), &self.prep)
    }

    /// The preparation the rows of [`Dataset::x`] still need, if any.
    pub fn prep(&self) -> Option<&Prep> {
        self.prepared().prep
    }

    /// The weight of each row, if the dataset is weighted.
    pub fn weights(&self) -> Option<&[f32]> {
        self.weights.as_deref()
    }

    /// Number of samples.
    pub fn rows(&self) -> usize {
        self.x.rows()
    }

    /// Number of input features (columns of `x`).
    pub fn features(&self) -> usize {
        self.x.cols()
    }

    /// Number of target columns: the width of the output layer.
    pub fn outputs(&self) -> usize {
        match &self.y {
            Stored::Values(y) => y.cols(),
            Stored::Classes { width, .. } => *width,
        }
    }

    /// The features, `rows × features`, as stored: before the preparation
    /// of [`Dataset::prep`], if any ([`Dataset::prepared`] pairs them).
    pub fn x(&self) -> &Matrix {
        &self.x
    }

    /// The training targets, read row by row without a copy: the values
    /// stored, or the class indices in the head's encoding.
    pub fn targets(&self) -> Targets<'_> {
        match &self.y {
            Stored::Values(y) => Targets::Values {
                y: y.as_slice(),
                width: y.cols(),
            },
            Stored::Classes { labels, width } => Targets::Classes {
                labels,
                width: *width,
            },
        }
    }

    /// The training targets as a `rows × outputs` matrix: borrowed for
    /// stored values; for a classification set, built here (one-hot, or one
    /// 0/1 column), `rows × outputs` floats that the library's own paths
    /// never allocate ([`Dataset::targets`]).
    pub fn y(&self) -> Cow<'_, Matrix> {
        match &self.y {
            Stored::Values(y) => Cow::Borrowed(y),
            Stored::Classes { labels, width } => {
                let mut data = vec![0.0; labels.len() * width];
                self.targets().write_rows(0, labels.len(), &mut data);
                Cow::Owned(
                    Matrix::from_vec(labels.len(), *width, data)
                        .expect("labels × width values make the matrix"),
                )
            }
        }
    }

    /// The class index of each row, for a classification dataset.
    pub fn labels(&self) -> Option<&[usize]> {
        match &self.y {
            Stored::Values(_) => None,
            Stored::Classes { labels, .. } => Some(labels),
        }
    }

    /// The number of classes of a classification dataset: 2 when the
    /// targets are one sigmoid column, else their width (one-hot).
    pub fn n_classes(&self) -> Option<usize> {
        self.labels().map(|_| self.outputs().max(2))
    }
}

/// `Err` naming the 1-based row and column of the first non-finite value of `m`.
fn check_finite(op: &str, name: &str, m: &Matrix) -> Result<()> {
    match m.values().first_non_finite() {
        None => Ok(()),
        Some(i) => Err(data_error(
            op,
            format!(
                "{name} row {}, column {} is {}; all values must be finite",
                i / m.cols() + 1,
                i % m.cols() + 1,
                m.as_slice()[i]
            ),
        )),
    }
}

/// The fraction of rows whose predicted class equals `labels`; 0.0 for no rows.
///
/// With one output column the prediction is `p >= 0.5` (class 1, else 0); with
/// several it is the column of the row maximum (the first one on ties). A NaN
/// output never counts as the maximum unless it is in column 0.
///
/// # Panics
/// If `outputs.rows() != labels.len()`, or if `outputs` has rows but no columns.
///
/// ```
/// use backprop::{data::accuracy, Matrix};
/// let p = Matrix::from_vec(4, 1, vec![0.9, 0.2, 0.5, 0.4]).unwrap();
/// assert_eq!(accuracy(&p, &[1, 0, 1, 1]), 0.75);
/// let scores = Matrix::from_vec(2, 3, vec![0.1, 0.7, 0.2, 0.5, 0.5, 0.0]).unwrap();
/// assert_eq!(accuracy(&scores, &[1, 1]), 0.5); // the tie in row 2 goes to class 0
/// ```
#[track_caller]
pub fn accuracy(outputs: &Matrix, labels: &[usize]) -> f64 {
    assert_eq!(
        outputs.rows(),
        labels.len(),
        "accuracy: {} output rows for {} labels",
        outputs.rows(),
        labels.len()
    );
    if labels.is_empty() {
        return 0.0;
    }
    assert!(outputs.cols() > 0, "accuracy: outputs have no columns");
    let correct = labels
        .iter()
        .enumerate()
        .filter(|&(r, &label)| predicted_class(outputs.row(r)) == label)
        .count();
    correct as f64 / labels.len() as f64
}

/// The class predicted by one row of outputs (see [`accuracy`]).
pub(crate) fn predicted_class(row: &[f32]) -> usize {
    if let [p] = row {
        return usize::from(*p >= 0.5);
    }
    let mut best = 0;
    for (j, &v) in row.iter().enumerate().skip(1) {
        if v > row[best] {
            best = j;
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Standardizer;

    fn m(rows: usize, cols: usize, data: &[f32]) -> Matrix {
        Matrix::from_vec(rows, cols, data.to_vec()).unwrap()
    }

    #[test]
    fn sigmoid_binary_is_one_column() {
        let d = Dataset::classification(m(3, 1, &[1., 2., 3.]), vec![1, 0, 1], 2, Head::SigmoidBce)
            .unwrap();
        assert_eq!(*d.y(), m(3, 1, &[1., 0., 1.]));
        assert_eq!((d.outputs(), d.n_classes()), (1, Some(2)));
        assert_eq!(d.labels(), Some(&[1, 0, 1][..]));
    }

    #[test]
    fn sigmoid_multiclass_and_softmax_binary_are_one_hot() {
        let x = m(2, 1, &[1., 2.]);
        let d = Dataset::classification(x.clone(), vec![2, 0], 3, Head::SigmoidBce).unwrap();
        assert_eq!(*d.y(), m(2, 3, &[0., 0., 1., 1., 0., 0.]));
        let d = Dataset::classification(x, vec![1, 0], 2, Head::SoftmaxCe).unwrap();
        assert_eq!(*d.y(), m(2, 2, &[0., 1., 1., 0.]));
        assert_eq!(d.n_classes(), Some(2));
    }

    #[test]
    fn classification_errors() {
        let x = m(2, 1, &[1., 2.]);
        let err = |labels: Vec<usize>, k, head| {
            Dataset::classification(x.clone(), labels, k, head)
                .unwrap_err()
                .to_string()
        };
        assert_eq!(
            err(vec![0, 1], 2, Head::Mse),
            "invalid option head: mse is a regression head; class labels need sigmoid or softmax"
        );
        assert_eq!(
            err(vec![0, 3], 3, Head::SoftmaxCe),
            "Dataset::classification: row 2: label 3 is out of range for 3 classes (0..2)"
        );
        assert_eq!(
            err(vec![0, 0], 1, Head::SoftmaxCe),
            "Dataset::classification: need at least 2 classes, got 1"
        );
        assert!(err(vec![0], 2, Head::SoftmaxCe).contains("shape mismatch"));
        let nan =
            Dataset::classification(m(1, 2, &[0., f32::INFINITY]), vec![0], 2, Head::SigmoidBce);
        assert_eq!(
            nan.unwrap_err().to_string(),
            "Dataset::classification: x row 1, column 2 is inf; all values must be finite"
        );
        let huge = Dataset::classification(x.clone(), vec![0, 1], usize::MAX, Head::SoftmaxCe);
        assert!(huge.unwrap_err().to_string().contains("too large"));
    }

    #[test]
    fn with_prep_checks_the_prepared_values() {
        let x = m(2, 2, &[1.0, 2.0, 3.0, 1e10]);
        let d = Dataset::new(x.clone(), m(2, 1, &[0., 1.])).unwrap();
        let halve = Prep {
            scale: Some(2.0),
            standardizer: None,
        };
        let d = d.with_prep(halve.clone()).unwrap();
        assert_eq!(d.prep(), Some(&halve));
        let mut rows = [0.0; 4];
        d.prepared().write_rows(0, 2, 2, &mut rows);
        assert_eq!(rows, [0.5, 1.0, 1.5, 5e9]);
        // a value that standardisation overflows is named
        let tiny = Prep {
            scale: None,
            standardizer: Some(Standardizer {
                mean: vec![0.0, 0.0],
                std: vec![1.0, 1e-30],
            }),
        };
        let err = Dataset::new(x, m(2, 1, &[0., 1.]))
            .unwrap()
            .with_prep(tiny)
            .unwrap_err()
            .to_string();
        assert!(err.contains("x row 2, column 2 is inf"), "{err}");
        // the identity is no preparation
        let d = Dataset::new(m(1, 1, &[1.0]), m(1, 1, &[0.]))
            .unwrap()
            .with_prep(Prep::default())
            .unwrap();
        assert_eq!(d.prep(), None);
    }

    #[test]
    fn new_checks_rows() {
        let err = Dataset::new(m(2, 1, &[1., 2.]), m(1, 1, &[1.])).unwrap_err();
        assert!(matches!(err, Error::Shape { .. }), "{err}");
    }

    #[test]
    fn accuracy_edge_cases() {
        assert_eq!(accuracy(&Matrix::zeros(0, 3), &[]), 0.0);
        let p = m(3, 1, &[0.5, f32::NAN, 0.49999]);
        assert_eq!(accuracy(&p, &[1, 0, 0]), 1.0);
    }

    #[test]
    #[should_panic(expected = "2 output rows for 1 labels")]
    fn accuracy_rows_must_match() {
        accuracy(&Matrix::zeros(2, 2), &[0]);
    }
}
