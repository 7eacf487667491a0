//! Evaluation metrics from model outputs: predicted classes (at a threshold
//! for one sigmoid output), the confusion matrix, per-class precision, recall
//! and F1 with their macro and weighted averages, precision, recall, F1 and
//! ROC AUC for binary problems, and MSE, RMSE, MAE and R² for regression.
//!
//! Conventions follow scikit-learn: a 0/0 precision, recall or F1 is 0
//! (`zero_division=0`), averages over outputs or classes are unweighted means
//! unless named "weighted", and R² of a constant column is 1 when it is
//! predicted exactly and 0 otherwise (`force_finite=True`).

use crate::error::{Error, Result};
use crate::tensor::Matrix;

/// The threshold of [`predicted_classes`] and [`binary_metrics`].
pub const DEFAULT_THRESHOLD: f32 = 0.5;

/// The predicted class of each row: `p ≥ 0.5` for a single sigmoid output,
/// otherwise the first column with the largest value.
///
/// The same as [`predicted_classes_at`] with [`DEFAULT_THRESHOLD`].
///
/// ```
/// use backprop::{metrics::predicted_classes, Matrix};
/// let one = Matrix::from_vec(3, 1, vec![0.2, 0.5, 0.9]).unwrap();
/// assert_eq!(predicted_classes(&one), [0, 1, 1]);
/// ```
pub fn predicted_classes(outputs: &Matrix) -> Vec<usize> {
    predicted_classes_at(outputs, DEFAULT_THRESHOLD)
}

/// The predicted class of each row: for a single sigmoid output, class 1 iff
/// `p ≥ threshold` (a NaN `p` or threshold gives class 0); for several
/// columns, the first column with the largest value, `threshold` being
/// ignored.
///
/// ```
/// use backprop::{metrics::predicted_classes_at, Matrix};
/// let one = Matrix::from_vec(3, 1, vec![0.2, 0.5, 0.9]).unwrap();
/// assert_eq!(predicted_classes_at(&one, 0.6), [0, 0, 1]);
/// assert_eq!(predicted_classes_at(&one, 0.1), [1, 1, 1]);
/// let many = Matrix::from_vec(1, 3, vec![0.1, 0.7, 0.2]).unwrap();
/// assert_eq!(predicted_classes_at(&many, 0.9), [1]);
/// ```
pub fn predicted_classes_at(outputs: &Matrix, threshold: f32) -> Vec<usize> {
    (0..outputs.rows())
        .map(|r| {
            let row = outputs.row(r);
            if row.len() == 1 {
                usize::from(row[0] >= threshold)
            } else {
                let mut best = 0;
                for (j, &v) in row.iter().enumerate() {
                    if v > row[best] {
                        best = j;
                    }
                }
                best
            }
        })
        .collect()
}

/// `m[true][predicted]` counts over `n_classes` classes.
///
/// # Panics
/// If the lengths differ or a class is `>= n_classes`.
///
/// ```
/// let m = backprop::metrics::confusion_matrix(&[0, 1, 1], &[0, 0, 1], 2);
/// assert_eq!(m, vec![vec![1, 0], vec![1, 1]]);
/// ```
pub fn confusion_matrix(truth: &[usize], predicted: &[usize], n_classes: usize) -> Vec<Vec<u64>> {
    assert_eq!(truth.len(), predicted.len());
    let mut m = vec![vec![0u64; n_classes]; n_classes];
    for (&t, &p) in truth.iter().zip(predicted) {
        m[t][p] += 1;
    }
    m
}

/// `a / b`, or 0 when `b` is 0 (scikit-learn's `zero_division=0`).
fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 {
        0.0
    } else {
        a as f64 / b as f64
    }
}

/// The F1 score `2·TP / (2·TP + FP + FN)`, 0 when there are no true positives.
fn f1_score(tp: u64, fp: u64, fn_: u64) -> f64 {
    ratio(2 * tp, 2 * tp + fp + fn_)
}

/// One class's quality, taking that class as the positive one.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ClassMetrics {
    /// TP / (TP + FP); 0 when the class is never predicted.
    pub precision: f64,
    /// TP / (TP + FN); 0 when the class never occurs.
    pub recall: f64,
    /// The harmonic mean of precision and recall; 0 when both are 0.
    pub f1: f64,
    /// How many rows truly belong to the class.
    pub support: u64,
}

/// Per-class precision, recall, F1 and support from a confusion matrix
/// `m[true][predicted]` (as [`confusion_matrix`] makes), one entry per row of
/// `confusion`, as scikit-learn's `classification_report` with
/// `zero_division=0`.
///
/// A missing entry of a ragged matrix counts as 0 and columns beyond the
/// number of rows are ignored.
///
/// ```
/// use backprop::metrics::per_class_metrics;
/// // class 0: 3 rows, 2 found; class 1: 1 row, found, plus one false alarm.
/// let pc = per_class_metrics(&[vec![2, 1], vec![0, 1]]);
/// assert_eq!((pc[0].precision, pc[0].recall, pc[0].support), (1.0, 2.0 / 3.0, 3));
/// assert_eq!((pc[1].precision, pc[1].recall, pc[1].support), (0.5, 1.0, 1));
/// ```
pub fn per_class_metrics(confusion: &[Vec<u64>]) -> Vec<ClassMetrics> {
    let n = confusion.len();
    let cell = |t: usize, p: usize| confusion[t].get(p).copied().unwrap_or(0);
    (0..n)
        .map(|k| {
            let tp = cell(k, k);
            let support: u64 = (0..n).map(|p| cell(k, p)).sum();
            let predicted: u64 = (0..n).map(|t| cell(t, k)).sum();
            ClassMetrics {
                precision: ratio(tp, predicted),
                recall: ratio(tp, support),
                f1: f1_score(tp, predicted - tp, support - tp),
                support,
            }
        })
        .collect()
}

/// Averages of per-class figures, as the "macro avg" and "weighted avg" rows of
/// scikit-learn's `classification_report`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Averages {
    /// The unweighted mean of the precisions.
    pub macro_precision: f64,
    /// The unweighted mean of the recalls.
    pub macro_recall: f64,
    /// The unweighted mean of the F1 scores.
    pub macro_f1: f64,
    /// The mean of the F1 scores weighted by support; 0 without support.
    pub weighted_f1: f64,
}

/// Macro and weighted averages of `per_class`; all 0 when it is empty.
///
/// ```
/// use backprop::metrics::{averages, per_class_metrics};
/// let a = averages(&per_class_metrics(&[vec![2, 1], vec![0, 1]]));
/// assert_eq!(a.macro_precision, 0.75);
/// assert_eq!(a.macro_f1, (0.8 + 2.0 / 3.0) / 2.0);
/// assert_eq!(a.weighted_f1, (3.0 * 0.8 + 2.0 / 3.0) / 4.0);
/// ```
pub fn averages(per_class: &[ClassMetrics]) -> Averages {
    let mean = |f: fn(&ClassMetrics) -> f64| {
        if per_class.is_empty() {
            0.0
        } else {
            per_class.iter().map(f).sum::<f64>() / per_class.len() as f64
        }
    };
    let total: u64 = per_class.iter().map(|c| c.support).sum();
    let weighted_f1 = if total == 0 {
        0.0
    } else {
        per_class
            .iter()
            .map(|c| c.f1 * c.support as f64)
            .sum::<f64>()
            / total as f64
    };
    Averages {
        macro_precision: mean(|c| c.precision),
        macro_recall: mean(|c| c.recall),
        macro_f1: mean(|c| c.f1),
        weighted_f1,
    }
}

/// The unweighted mean F1 over classes (0 for no classes); see [`averages`].
///
/// ```
/// use backprop::metrics::{macro_f1, per_class_metrics};
/// // class 1 is never predicted: its F1 is 0, not NaN.
/// let pc = per_class_metrics(&[vec![2, 0], vec![1, 0]]);
/// assert_eq!(macro_f1(&pc), 0.4);
/// ```
pub fn macro_f1(per_class: &[ClassMetrics]) -> f64 {
    averages(per_class).macro_f1
}

/// Binary classification quality, class 1 being the positive class.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BinaryMetrics {
    /// TP / (TP + FP); 0 when nothing is predicted positive.
    pub precision: f64,
    /// TP / (TP + FN); 0 when there are no positives.
    pub recall: f64,
    /// The harmonic mean of precision and recall; 0 when both are 0.
    pub f1: f64,
    /// Area under the ROC curve (ties count one half); `None` when only one
    /// class is present.
    pub roc_auc: Option<f64>,
}

/// [`binary_metrics_at`] the [`DEFAULT_THRESHOLD`] 0.5.
///
/// # Panics
/// If the lengths differ.
///
/// ```
/// use backprop::metrics::binary_metrics;
/// let m = binary_metrics(&[0.1, 0.4, 0.35, 0.8], &[0, 0, 1, 1]);
/// assert_eq!(m.roc_auc, Some(0.75));
/// assert_eq!((m.precision, m.recall), (1.0, 0.5));
/// ```
pub fn binary_metrics(scores: &[f32], truth: &[usize]) -> BinaryMetrics {
    binary_metrics_at(scores, truth, DEFAULT_THRESHOLD)
}

/// Precision, recall and F1 of the cut "class 1 iff score ≥ `threshold`", and
/// ROC AUC (which does not depend on the cut), from the scores (the
/// probability of class 1) and labels of a binary problem; a label other than
/// 1 counts as negative.
///
/// # Panics
/// If the lengths differ.
///
/// ```
/// use backprop::metrics::binary_metrics_at;
/// let m = binary_metrics_at(&[0.1, 0.4, 0.35, 0.8], &[0, 0, 1, 1], 0.3);
/// assert_eq!((m.precision, m.recall), (2.0 / 3.0, 1.0));
/// assert_eq!(m.roc_auc, Some(0.75));
/// ```
pub fn binary_metrics_at(scores: &[f32], labels: &[usize], threshold: f32) -> BinaryMetrics {
    assert_eq!(scores.len(), labels.len());
    let (mut tp, mut fp, mut fn_) = (0u64, 0u64, 0u64);
    for (&s, &t) in scores.iter().zip(labels) {
        match (s >= threshold, t == 1) {
            (true, true) => tp += 1,
            (true, false) => fp += 1,
            (false, true) => fn_ += 1,
            (false, false) => {}
        }
    }
    BinaryMetrics {
        precision: ratio(tp, tp + fp),
        recall: ratio(tp, tp + fn_),
        f1: f1_score(tp, fp, fn_),
        roc_auc: roc_auc(scores, labels),
    }
}

/// ROC AUC by the rank statistic (Mann–Whitney U), averaging the ranks of
/// ties; `None` unless both classes occur.
///
/// ```
/// use backprop::metrics::roc_auc;
/// assert_eq!(roc_auc(&[0.1, 0.4, 0.35, 0.8], &[0, 0, 1, 1]), Some(0.75));
/// assert_eq!(roc_auc(&[0.1, 0.4], &[1, 1]), None);
/// ```
pub fn roc_auc(scores: &[f32], truth: &[usize]) -> Option<f64> {
    let pos = truth.iter().filter(|&&t| t == 1).count();
    let neg = truth.len() - pos;
    if pos == 0 || neg == 0 {
        return None;
    }
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    let mut rank_sum_pos = 0.0f64;
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && scores[order[j + 1]] == scores[order[i]] {
            j += 1;
        }
        let avg_rank = (i + j) as f64 / 2.0 + 1.0;
        rank_sum_pos += order[i..=j].iter().filter(|&&k| truth[k] == 1).count() as f64 * avg_rank;
        i = j + 1;
    }
    let u = rank_sum_pos - (pos * (pos + 1)) as f64 / 2.0;
    Some(u / (pos as f64 * neg as f64))
}

/// Regression quality of one output (or the mean over outputs), in `f64`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RegressionMetrics {
    /// Mean squared error.
    pub mse: f64,
    /// Root mean squared error (for the mean over outputs: the mean of the
    /// per-output RMSEs, as scikit-learn's `root_mean_squared_error`).
    pub rmse: f64,
    /// Mean absolute error.
    pub mae: f64,
    /// Coefficient of determination `1 − SS_res / SS_tot`; for a constant
    /// truth column, 1 if it is predicted exactly and 0 otherwise.
    pub r2: f64,
}

/// MSE, RMSE, MAE and R² of `predicted` against `truth` (both `rows × outputs`),
/// per output column and their unweighted mean over the outputs (scikit-learn's
/// `multioutput="uniform_average"`). Sums run in `f64`; a NaN in the data
/// gives NaN figures.
///
/// # Errors
/// [`Error::Shape`] if the shapes differ or there are no rows or no columns.
///
/// ```
/// use backprop::{metrics::regression_metrics, Matrix};
/// let truth = Matrix::from_vec(3, 1, vec![1.0, 2.0, 3.0]).unwrap();
/// let pred = Matrix::from_vec(3, 1, vec![1.0, 2.0, 5.0]).unwrap();
/// let (cols, mean) = regression_metrics(&pred, &truth)?;
/// assert_eq!((mean.mse, mean.mae, mean.r2), (4.0 / 3.0, 2.0 / 3.0, -1.0));
/// assert_eq!(cols, [mean]);
/// let wide = Matrix::from_vec(1, 3, vec![1.0, 2.0, 5.0]).unwrap();
/// assert!(regression_metrics(&wide, &truth).is_err());
/// # Ok::<(), backprop::Error>(())
/// ```
pub fn regression_metrics(
    predicted: &Matrix,
    truth: &Matrix,
) -> Result<(Vec<RegressionMetrics>, RegressionMetrics)> {
    let (rows, cols) = (truth.rows(), truth.cols());
    if (predicted.rows(), predicted.cols()) != (rows, cols) {
        return Err(Error::shape(
            "regression_metrics",
            format!("predictions {rows}×{cols} like the truth"),
            format!("{}×{}", predicted.rows(), predicted.cols()),
        ));
    }
    if rows == 0 || cols == 0 {
        return Err(Error::shape(
            "regression_metrics",
            "at least one row and one output",
            format!("{rows}×{cols}"),
        ));
    }
    let (p, t) = (predicted.as_slice(), truth.as_slice());
    let n = rows as f64;
    let per_output: Vec<RegressionMetrics> = (0..cols)
        .map(|c| {
            let column =
                |m: &[f32]| -> Vec<f64> { (0..rows).map(|r| f64::from(m[r * cols + c])).collect() };
            let (p, t) = (column(p), column(t));
            let mean_t = t.iter().sum::<f64>() / n;
            let ss_tot: f64 = t.iter().map(|y| (y - mean_t).powi(2)).sum();
            let ss_res: f64 = p.iter().zip(&t).map(|(p, y)| (y - p).powi(2)).sum();
            let abs: f64 = p.iter().zip(&t).map(|(p, y)| (y - p).abs()).sum();
            let r2 = if ss_tot != 0.0 {
                1.0 - ss_res / ss_tot
            } else if ss_res == 0.0 {
                1.0
            } else if ss_res.is_nan() {
                f64::NAN
            } else {
                0.0
            };
            let mse = ss_res / n;
            RegressionMetrics {
                mse,
                rmse: mse.sqrt(),
                mae: abs / n,
                r2,
            }
        })
        .collect();
    let mean =
        |f: fn(&RegressionMetrics) -> f64| per_output.iter().map(f).sum::<f64>() / cols as f64;
    let average = RegressionMetrics {
        mse: mean(|m| m.mse),
        rmse: mean(|m| m.rmse),
        mae: mean(|m| m.mae),
        r2: mean(|m| m.r2),
    };
    Ok((per_output, average))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auc_of_perfect_reversed_and_tied_scores() {
        assert_eq!(roc_auc(&[0.1, 0.2, 0.8, 0.9], &[0, 0, 1, 1]), Some(1.0));
        assert_eq!(roc_auc(&[0.9, 0.8, 0.2, 0.1], &[0, 0, 1, 1]), Some(0.0));
        assert_eq!(roc_auc(&[0.5; 4], &[0, 1, 0, 1]), Some(0.5));
        assert_eq!(roc_auc(&[0.5, 0.7], &[1, 1]), None);
    }

    #[test]
    fn predicted_classes_for_one_and_many_columns() {
        let one = Matrix::from_vec(3, 1, vec![0.2, 0.5, 0.9]).unwrap();
        assert_eq!(predicted_classes(&one), [0, 1, 1]);
        let many = Matrix::from_vec(2, 3, vec![0.1, 0.7, 0.2, 0.4, 0.4, 0.2]).unwrap();
        assert_eq!(predicted_classes(&many), [1, 0]);
    }

    #[test]
    fn metrics_without_predicted_positives_are_zero_not_nan() {
        let m = binary_metrics(&[0.1, 0.2], &[1, 0]);
        assert_eq!((m.precision, m.recall, m.f1), (0.0, 0.0, 0.0));
        assert_eq!(m.roc_auc, Some(0.0)); // the positive scored below the negative
    }

    /// Within a few ULP of `want` (the reference figures are Python's `repr`).
    fn close(got: f64, want: f64) -> bool {
        (got - want).abs() <= 4.0 * f64::EPSILON * want.abs().max(1.0)
    }

    #[test]
    fn predicted_classes_at_threshold_only_for_one_column() {
        let one = Matrix::from_vec(4, 1, vec![0.2, 0.5, 0.7, f32::NAN]).unwrap();
        assert_eq!(predicted_classes_at(&one, 0.7), [0, 0, 1, 0]);
        assert_eq!(predicted_classes_at(&one, 0.0), [1, 1, 1, 0]);
        assert_eq!(predicted_classes_at(&one, 0.5), predicted_classes(&one));
        let many = Matrix::from_vec(2, 3, vec![0.1, 0.7, 0.2, 0.4, 0.4, 0.2]).unwrap();
        for t in [0.0, 0.5, 0.99] {
            assert_eq!(predicted_classes_at(&many, t), [1, 0]);
        }
    }

    #[test]
    fn binary_metrics_move_with_the_threshold_but_auc_does_not() {
        let (scores, labels) = ([0.1, 0.4, 0.35, 0.8, 0.6], [0, 0, 1, 1, 0]);
        let at = |t| binary_metrics_at(&scores, &labels, t);
        assert_eq!(at(0.5), binary_metrics(&scores, &labels));
        // ≥ 0.3: TP 2 (0.35, 0.8), FP 2 (0.4, 0.6), FN 0.
        let low = at(0.3);
        assert_eq!((low.precision, low.recall, low.f1), (0.5, 1.0, 2.0 / 3.0));
        // ≥ 0.7: TP 1, FP 0, FN 1.
        let high = at(0.7);
        assert_eq!(
            (high.precision, high.recall, high.f1),
            (1.0, 0.5, 2.0 / 3.0)
        );
        // Nothing predicted positive: 0, not NaN.
        let none = at(0.9);
        assert_eq!((none.precision, none.recall, none.f1), (0.0, 0.0, 0.0));
        assert!([low, high, none]
            .iter()
            .all(|m| m.roc_auc == at(0.5).roc_auc));
    }

    /// Reference from scikit-learn 1.9.1:
    /// ```text
    /// y_true = [0,0,0,0,1,1,1,2,2,2,2,2,3,3]
    /// y_pred = [0,0,1,2,1,1,0,2,2,1,1,0,1,0]
    /// classification_report(y_true, y_pred, labels=[0,1,2,3,4], zero_division=0, digits=17)
    /// precision_recall_fscore_support(..., zero_division=0, average=None / "macro" / "weighted")
    /// ```
    /// Class 3 is never predicted and class 4 neither occurs nor is predicted.
    #[test]
    fn per_class_and_averages_match_scikit_learn() {
        let truth = [0, 0, 0, 0, 1, 1, 1, 2, 2, 2, 2, 2, 3, 3];
        let pred = [0, 0, 1, 2, 1, 1, 0, 2, 2, 1, 1, 0, 1, 0];
        let cm = confusion_matrix(&truth, &pred, 5);
        assert_eq!(
            cm,
            [
                [2, 1, 1, 0, 0],
                [1, 2, 0, 0, 0],
                [1, 2, 2, 0, 0],
                [1, 1, 0, 0, 0],
                [0, 0, 0, 0, 0]
            ]
        );
        let pc = per_class_metrics(&cm);
        let want_p = [0.4, 0.3333333333333333, 0.6666666666666666, 0.0, 0.0];
        let want_r = [0.5, 0.6666666666666666, 0.4, 0.0, 0.0];
        let want_f = [0.4444444444444444, 0.4444444444444444, 0.5, 0.0, 0.0];
        let want_s = [4, 3, 5, 2, 0];
        for (k, c) in pc.iter().enumerate() {
            assert!(close(c.precision, want_p[k]), "class {k} precision {c:?}");
            assert!(close(c.recall, want_r[k]), "class {k} recall {c:?}");
            assert!(close(c.f1, want_f[k]), "class {k} f1 {c:?}");
            assert_eq!(c.support, want_s[k], "class {k}");
        }
        let a = averages(&pc);
        assert!(close(a.macro_precision, 0.27999999999999997), "{a:?}");
        assert!(close(a.macro_recall, 0.3133333333333333), "{a:?}");
        assert!(close(a.macro_f1, 0.2777777777777778), "{a:?}");
        assert!(close(a.weighted_f1, 0.40079365079365076), "{a:?}");
        assert_eq!(macro_f1(&pc), a.macro_f1);
    }

    #[test]
    fn averages_of_nothing_and_ragged_matrices_do_not_panic() {
        assert_eq!(macro_f1(&[]), 0.0);
        assert_eq!(averages(&[]).weighted_f1, 0.0);
        let pc = per_class_metrics(&[vec![1], vec![0, 1, 7]]);
        assert_eq!(pc.len(), 2);
        assert_eq!((pc[0].f1, pc[1].f1, pc[1].support), (1.0, 1.0, 1));
    }

    /// Reference from scikit-learn 1.9.1 (`multioutput="raw_values"` and the
    /// default uniform average) for these two 4×3 matrices:
    /// `mean_squared_error`, `root_mean_squared_error`, `mean_absolute_error`,
    /// `r2_score`. The middle column is constant and predicted exactly (R² 1).
    #[test]
    fn regression_metrics_match_scikit_learn() {
        #[rustfmt::skip]
        let truth = Matrix::from_vec(4, 3, vec![
            3.0, 1.0, 2.0,
            -0.5, 1.0, 2.5,
            2.0, 1.0, 0.5,
            7.0, 1.0, -1.0,
        ]).unwrap();
        #[rustfmt::skip]
        let pred = Matrix::from_vec(4, 3, vec![
            2.5, 1.0, 2.0,
            0.0, 1.0, 2.0,
            2.0, 1.0, 1.0,
            8.0, 1.0, -2.0,
        ]).unwrap();
        let (cols, mean) = regression_metrics(&pred, &truth).unwrap();
        let want = [
            (0.375, 0.6123724356957945, 0.5, 0.9486081370449679),
            (0.0, 0.0, 0.0, 1.0),
            (0.375, 0.6123724356957945, 0.5, 0.8),
        ];
        for (c, (got, w)) in cols.iter().zip(want).enumerate() {
            let ok = close(got.mse, w.0) && close(got.rmse, w.1);
            assert!(
                ok && close(got.mae, w.2) && close(got.r2, w.3),
                "column {c}: {got:?}"
            );
        }
        assert!(close(mean.mse, 0.25), "{mean:?}");
        assert!(close(mean.rmse, 0.40824829046386296), "{mean:?}");
        assert!(close(mean.mae, 0.3333333333333333), "{mean:?}");
        assert!(close(mean.r2, 0.9162027123483227), "{mean:?}");
    }

    #[test]
    fn r2_of_a_constant_column_and_bad_shapes() {
        // scikit-learn: r2_score([1, 1, 1], [1, 2, 1]) == 0.0, exact prediction 1.0.
        let truth = Matrix::from_vec(3, 1, vec![1.0; 3]).unwrap();
        let wrong = Matrix::from_vec(3, 1, vec![1.0, 2.0, 1.0]).unwrap();
        assert_eq!(regression_metrics(&wrong, &truth).unwrap().1.r2, 0.0);
        assert_eq!(regression_metrics(&truth, &truth).unwrap().1.r2, 1.0);
        let nan = Matrix::from_vec(3, 1, vec![1.0, f32::NAN, 1.0]).unwrap();
        assert!(regression_metrics(&nan, &truth).unwrap().1.r2.is_nan());
        for (p, t) in [
            ((3, 2), (3, 1)),
            ((2, 1), (3, 1)),
            ((0, 1), (0, 1)),
            ((3, 0), (3, 0)),
        ] {
            let err = regression_metrics(&Matrix::zeros(p.0, p.1), &Matrix::zeros(t.0, t.1));
            assert!(matches!(err, Err(Error::Shape { .. })), "{p:?} vs {t:?}");
        }
    }
}
