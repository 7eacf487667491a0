//! Evaluation metrics from model outputs: predicted classes, the confusion
//! matrix, and for binary problems precision, recall, F1 and ROC AUC.

use crate::tensor::Matrix;

/// The predicted class of each row: `p ≥ 0.5` for a single sigmoid output,
/// otherwise the first column with the largest value.
pub fn predicted_classes(outputs: &Matrix) -> Vec<usize> {
    (0..outputs.rows())
        .map(|r| {
            let row = outputs.row(r);
            if row.len() == 1 {
                usize::from(row[0] >= 0.5)
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

/// Precision, recall, F1 from the confusion matrix and ROC AUC from the
/// scores (the probability of class 1) of a binary problem.
///
/// ```
/// use backprop::metrics::binary_metrics;
/// let m = binary_metrics(&[0.1, 0.4, 0.35, 0.8], &[0, 0, 1, 1]);
/// assert_eq!(m.roc_auc, Some(0.75));
/// assert_eq!((m.precision, m.recall), (1.0, 0.5));
/// ```
pub fn binary_metrics(scores: &[f32], truth: &[usize]) -> BinaryMetrics {
    assert_eq!(scores.len(), truth.len());
    let (mut tp, mut fp, mut fn_) = (0u64, 0u64, 0u64);
    for (&s, &t) in scores.iter().zip(truth) {
        match (s >= 0.5, t == 1) {
            (true, true) => tp += 1,
            (true, false) => fp += 1,
            (false, true) => fn_ += 1,
            (false, false) => {}
        }
    }
    let ratio = |a: u64, b: u64| if b == 0 { 0.0 } else { a as f64 / b as f64 };
    let precision = ratio(tp, tp + fp);
    let recall = ratio(tp, tp + fn_);
    let f1 = if precision + recall == 0.0 {
        0.0
    } else {
        2.0 * precision * recall / (precision + recall)
    };
    BinaryMetrics {
        precision,
        recall,
        f1,
        roc_auc: roc_auc(scores, truth),
    }
}

/// ROC AUC by the rank statistic (Mann–Whitney U), averaging the ranks of
/// ties; `None` unless both classes occur.
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
}
