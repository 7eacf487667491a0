//! Datasets compiled into the binary with `include_str!`, with their fixed
//! train/test splits (`data/README.md` says where they come from).
//!
//! The texts are constants, so these functions `expect` them to parse; the unit
//! tests below parse every one, so a bad file fails `cargo test`, not a user.

use super::csv;
use super::dataset::Dataset;
use super::standardize::{scale, Standardizer};
use super::table::{LoadOptions, RawTable};
use crate::activation::Head;

/// The breast-cancer training split as CSV text (header, 30 features, label).
pub const BREAST_CANCER_TRAIN: &str = include_str!("../../data/breast_cancer.train.csv");
/// The breast-cancer test split as CSV text.
pub const BREAST_CANCER_TEST: &str = include_str!("../../data/breast_cancer.test.csv");
const DIGITS_TRAIN: &str = include_str!("../../data/digits.train.csv");
const DIGITS_TEST: &str = include_str!("../../data/digits.test.csv");

/// An embedded file read as a user's CSV would be (header detected, label
/// last), named `{name} (embedded)`.
///
/// # Panics
/// If the text does not parse: the unit tests parse every embedded file.
pub fn table(text: &str, name: &str) -> RawTable {
    csv::parse(text, &format!("{name} (embedded)"), &LoadOptions::default())
        .unwrap_or_else(|e| panic!("embedded {name} parses: {e}"))
}

/// The class index of each row of an embedded table.
fn classes(t: &RawTable) -> Vec<usize> {
    let map = t.class_map().expect("embedded labels are classes");
    t.class_indices(&map).expect("embedded labels encode")
}

/// Wisconsin breast cancer, `(train, test)` = 455 and 114 rows of 30 features.
///
/// Labels: 0 = malignant, 1 = benign, encoded for [`Head::SigmoidBce`] (one
/// output column holding the label). Both splits are standardised with a
/// [`Standardizer`] fitted on the training split.
///
/// ```
/// let (train, test) = backprop::data::embedded::breast_cancer();
/// assert_eq!((train.rows(), test.rows()), (455, 114));
/// assert_eq!((train.features(), train.outputs()), (30, 1));
/// ```
pub fn breast_cancer() -> (Dataset, Dataset) {
    let mut train = table(BREAST_CANCER_TRAIN, "breast_cancer.train.csv");
    let mut test = table(BREAST_CANCER_TEST, "breast_cancer.test.csv");
    let standardizer = Standardizer::fit(&train.x);
    standardizer.apply(&mut train.x);
    standardizer.apply(&mut test.x);
    let dataset = |t: RawTable| {
        let labels = classes(&t);
        Dataset::classification(t.x, labels, 2, Head::SigmoidBce)
            .expect("embedded breast_cancer labels are 0 or 1")
    };
    (dataset(train), dataset(test))
}

/// UCI handwritten digits, `(train, test)` = 1437 and 360 rows of 64 pixels.
///
/// Pixels (0..16) are divided by 16; labels 0..9 are one-hot over 10 columns
/// for [`Head::SoftmaxCe`].
///
/// ```
/// let (train, test) = backprop::data::embedded::digits();
/// assert_eq!((train.rows(), test.rows()), (1437, 360));
/// assert_eq!((train.features(), train.outputs()), (64, 10));
/// ```
pub fn digits() -> (Dataset, Dataset) {
    let dataset = |text: &str, name: &str| {
        let mut t = table(text, name);
        scale(&mut t.x, 16.0);
        let labels = classes(&t);
        Dataset::classification(t.x, labels, 10, Head::SoftmaxCe)
            .expect("embedded digits labels are 0..9")
    };
    (
        dataset(DIGITS_TRAIN, "digits.train.csv"),
        dataset(DIGITS_TEST, "digits.test.csv"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Mean and population std of column `c`, in f64.
    fn column_stats(d: &Dataset, c: usize) -> (f64, f64) {
        let n = d.rows() as f64;
        let col: Vec<f64> = (0..d.rows()).map(|r| f64::from(d.x().get(r, c))).collect();
        let mean = col.iter().sum::<f64>() / n;
        let var = col.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
        (mean, var.sqrt())
    }

    #[test]
    fn breast_cancer_shapes_and_standardisation() {
        let (train, test) = breast_cancer();
        assert_eq!((train.rows(), test.rows()), (455, 114));
        assert_eq!((train.features(), test.features()), (30, 30));
        assert_eq!((train.outputs(), train.n_classes()), (1, Some(2)));
        for c in 0..train.features() {
            let (mean, std) = column_stats(&train, c);
            assert!(mean.abs() < 1e-5, "column {c}: mean {mean}");
            assert!((std - 1.0).abs() < 1e-5, "column {c}: std {std}");
        }
        // Test data used the training statistics, so they are only near 0 / 1.
        let (mean, std) = column_stats(&test, 0);
        assert!(mean.abs() < 0.5 && (std - 1.0).abs() < 0.5, "{mean} {std}");
        for d in [&train, &test] {
            let labels = d.labels().unwrap();
            assert!(labels.contains(&0) && labels.contains(&1));
            let y: Vec<usize> = d.y().as_slice().iter().map(|&v| v as usize).collect();
            assert_eq!(y, labels);
        }
        // 357 benign (1) of 569 in all, split with stratification.
        let benign: usize = [&train, &test]
            .map(|d| d.labels().unwrap().iter().sum::<usize>())
            .iter()
            .sum();
        assert_eq!(benign, 357);
    }

    #[test]
    fn digits_shapes_and_scaling() {
        let (train, test) = digits();
        assert_eq!((train.rows(), test.rows()), (1437, 360));
        assert_eq!((train.features(), test.features()), (64, 64));
        assert_eq!((train.outputs(), train.n_classes()), (10, Some(10)));
        for d in [&train, &test] {
            let x = d.x().as_slice();
            assert!(x.iter().all(|&v| (0.0..=1.0).contains(&v)));
            assert!(x.contains(&1.0));
            let labels = d.labels().unwrap();
            for (r, &l) in labels.iter().enumerate() {
                assert_eq!(d.y().row(r).iter().sum::<f32>(), 1.0);
                assert_eq!(d.y().get(r, l), 1.0);
            }
            assert!((0..10).all(|k| labels.contains(&k)));
        }
    }
}
