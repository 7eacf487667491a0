//! From loaded tables to training data, the same way for every command:
//! preprocessing fitted on the training rows (pixel scaling, or
//! standardisation), class encoding, and the [`ModelMeta`] a model file keeps
//! so that `eval` and `predict` prepare their data exactly as training did.

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::activation::Head;
use crate::data::{scale, ClassMap, Dataset, RawTable, RawTarget, Standardizer};
use crate::error::{Error, Result};
use crate::model_io::ModelMeta;
use crate::tensor::Matrix;

/// The preprocessing and classes of a training table: pixel data (IDX, or
/// u8 NPY) are divided by 255; other features are standardised (population
/// std) unless `standardize` is false; classifier heads get the classes of the
/// training labels.
///
/// # Errors
/// As [`RawTable::class_map`] for classifier heads (no labels, one class, …).
pub fn fit_meta(train: &RawTable, head: Head, standardize: bool) -> Result<ModelMeta> {
    let mut meta = ModelMeta {
        feature_names: train.feature_names.clone(),
        ..ModelMeta::default()
    };
    if let Some(s) = train.pixel_scale() {
        meta.pixel_scale = Some(s);
    } else if standardize {
        meta.standardizer = Some(Standardizer::fit(&train.x));
    }
    if head.is_classifier() {
        meta.class_names = Some(train.class_map()?.names().to_vec());
    }
    Ok(meta)
}

/// The features of `raw` preprocessed as `meta` says, checked to have
/// `inputs` columns.
///
/// # Errors
/// [`Error::Data`] naming the file if the column count differs.
pub fn features(raw: &RawTable, meta: &ModelMeta, inputs: usize) -> Result<Matrix> {
    if raw.x.cols() != inputs {
        return Err(Error::Data {
            source_name: raw.source_name.clone(),
            message: format!(
                "{} feature columns, but the model takes {inputs} inputs",
                raw.x.cols()
            ),
        });
    }
    let mut x = raw.x.clone();
    if let Some(s) = meta.pixel_scale {
        scale(&mut x, s);
    }
    if let Some(st) = &meta.standardizer {
        st.apply(&mut x);
    }
    Ok(x)
}

/// A dataset for a network with `inputs` inputs and `head`: preprocessed
/// features and the targets (classes encoded with `meta`'s class names, or the
/// numeric label column for MSE).
///
/// # Errors
/// Wrong column count, missing labels, a label that is not one of the
/// model's classes, a regression target that is not a number.
pub fn dataset(raw: &RawTable, meta: &ModelMeta, inputs: usize, head: Head) -> Result<Dataset> {
    let x = features(raw, meta, inputs)?;
    if head.is_classifier() {
        let names = meta.class_names.clone().ok_or_else(|| Error::Data {
            source_name: raw.source_name.clone(),
            message: "the model has no class names for a classifier head".into(),
        })?;
        let classes = ClassMap::from_names(names)?;
        let labels = raw.class_indices(&classes)?;
        Dataset::classification(x, labels, classes.len(), head)
    } else {
        let t = raw.numeric_targets()?;
        let rows = t.len();
        Dataset::new(x, Matrix::from_vec(rows, 1, t)?)
    }
}

/// Splits off a validation part: a seeded shuffle of the rows, then the last
/// `round(fraction · rows)` of them (at least one) are the validation rows;
/// both parts keep the original row order.
///
/// # Errors
/// [`Error::Config`] (`--validation-split`) unless `0 < fraction < 1` and both
/// parts get at least one row.
pub fn split(raw: &RawTable, fraction: f64, seed: u64) -> Result<(RawTable, RawTable)> {
    let n = raw.rows();
    if !(fraction > 0.0 && fraction < 1.0) {
        return Err(Error::config(
            "--validation-split",
            format!("{fraction} is not a fraction strictly between 0 and 1"),
        ));
    }
    let n_val = ((fraction * n as f64).round() as usize).max(1);
    if n_val >= n {
        return Err(Error::config(
            "--validation-split",
            format!("{fraction} of {n} rows leaves no training rows"),
        ));
    }
    let mut order: Vec<usize> = (0..n).collect();
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ SPLIT_SALT);
    for i in (1..n).rev() {
        let j = rng.random_range(0..=i);
        order.swap(i, j);
    }
    let mut val: Vec<usize> = order[n - n_val..].to_vec();
    let mut train: Vec<usize> = order[..n - n_val].to_vec();
    val.sort_unstable();
    train.sort_unstable();
    Ok((
        take_rows(raw, &train, "train")?,
        take_rows(raw, &val, "validation")?,
    ))
}

/// Mixed into the split's seed so that the split does not replay the epoch
/// shuffles of the same seed.
const SPLIT_SALT: u64 = 0x5EED_0000_5B11_7000;

fn take_rows(raw: &RawTable, rows: &[usize], part: &str) -> Result<RawTable> {
    let cols = raw.x.cols();
    let mut data = Vec::with_capacity(rows.len() * cols);
    for &r in rows {
        data.extend_from_slice(raw.x.row(r));
    }
    let target = match &raw.target {
        RawTarget::None => RawTarget::None,
        RawTarget::Text(t) => RawTarget::Text(rows.iter().map(|&r| t[r].clone()).collect()),
    };
    Ok(RawTable {
        source_name: format!("{} ({part} split)", raw.source_name),
        feature_names: raw.feature_names.clone(),
        x: Matrix::from_vec(rows.len(), cols, data)?,
        target,
        kind: raw.kind,
        pixel_data: raw.pixel_data,
        target_source: format!("{} ({part} split)", raw.target_source),
        target_column: raw.target_column.clone(),
        first_data_line: None,
    })
}
