//! [`ModelMeta`]: the preprocessing and names a model keeps beside its
//! weights. [`crate::pipeline`] fits it on the training data, `eval` and
//! `predict` apply it to new data, and [`crate::model_io`] stores it (and
//! re-exports it, as `model_io::ModelMeta`), checking it against the network
//! with the rules of the model file format.

use std::collections::BTreeMap;

use crate::data::{scale, CsvLayout, Standardizer, TableEncoding};
use crate::stopping::Monitor;
use crate::tensor::Matrix;

/// What a model needs besides its weights to be used on new raw data.
///
/// A consumer divides raw features by `pixel_scale` first, then applies the
/// `standardizer`, then calls [`Mlp::predict`](crate::Mlp::predict).
///
/// ```
/// use backprop::meta::ModelMeta;
/// let meta = ModelMeta {
///     class_names: Some(vec!["malignant".into(), "benign".into()]),
///     ..ModelMeta::default()
/// };
/// assert!(meta.standardizer.is_none() && meta.feature_names.is_empty());
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ModelMeta {
    /// Per-feature mean and std fitted on the training split (`n_0` each).
    pub standardizer: Option<Standardizer>,
    /// The divisor of raw pixel values (finite and positive), e.g. 255.
    pub pixel_scale: Option<f32>,
    /// The class of each output index: 2 names for a sigmoid head with one
    /// output (label 0, label 1), else one per output; `None` for `mse`.
    pub class_names: Option<Vec<String>>,
    /// For a binary classifier (one sigmoid output, two classes): the class
    /// the threshold and the binary metrics take as positive, one of
    /// `class_names`; `None` (older models): `class_names[1]`.
    pub positive_class: Option<String>,
    /// The name of each input feature (`n_0` of them), or empty if unknown.
    pub feature_names: Vec<String>,
    /// The names of the targets: one label column (classes), or one per
    /// output (multi-output regression, multi-label sigmoid); empty if unknown.
    pub target_names: Vec<String>,
    /// For an `mse` head trained on standardised targets: their mean and
    /// std (`n_L` each). Predictions in the original units are
    /// `output · std + mean`.
    pub target_standardizer: Option<Standardizer>,
    /// How the training CSV was read (delimiter, header, label positions),
    /// reused to read new files the same way.
    pub csv_layout: Option<CsvLayout>,
    /// How each column of the training CSV became inputs (kinds, levels,
    /// medians), applied to every file read for the model; `None` for
    /// array data and for models written before it was kept.
    pub columns: Option<TableEncoding>,
    /// Free-form entries for callers (e.g. the training command line), stored
    /// as metadata keys `extra.{key}`.
    pub extra: BTreeMap<String, String>,
}

impl ModelMeta {
    /// Whether raw features need preparing before the network sees them.
    pub fn prepares_features(&self) -> bool {
        self.pixel_scale.is_some() || self.standardizer.is_some()
    }

    /// Prepares raw features in place, as the model was trained: divided by
    /// `pixel_scale`, then standardised.
    ///
    /// ```
    /// use backprop::{data::Standardizer, meta::ModelMeta, Matrix};
    /// let meta = ModelMeta {
    ///     pixel_scale: Some(2.0),
    ///     standardizer: Some(Standardizer { mean: vec![1.0], std: vec![0.5] }),
    ///     ..ModelMeta::default()
    /// };
    /// let mut x = Matrix::from_vec(2, 1, vec![4.0, 2.0]).unwrap();
    /// meta.prepare(&mut x);
    /// assert_eq!(x.as_slice(), [2.0, 0.0]);
    /// ```
    pub fn prepare(&self, x: &mut Matrix) {
        if let Some(s) = self.pixel_scale {
            scale(x, s);
        }
        if let Some(st) = &self.standardizer {
            st.apply(x);
        }
    }

    /// Network outputs in the targets' own units: `output · std + mean`
    /// (computed in `f64`) for an `mse` head trained on standardised
    /// targets, unchanged otherwise.
    ///
    /// ```
    /// use backprop::{data::Standardizer, meta::ModelMeta, Matrix};
    /// let meta = ModelMeta {
    ///     target_standardizer: Some(Standardizer { mean: vec![100.0], std: vec![10.0] }),
    ///     ..ModelMeta::default()
    /// };
    /// let mut out = Matrix::from_vec(2, 1, vec![0.0, -1.5]).unwrap();
    /// meta.to_target_units(&mut out);
    /// assert_eq!(out.as_slice(), [100.0, 85.0]);
    /// ```
    pub fn to_target_units(&self, outputs: &mut Matrix) {
        let cols = outputs.cols().max(1);
        for row in outputs.as_mut_slice().chunks_exact_mut(cols) {
            self.to_target_units_row(row);
        }
    }

    /// [`ModelMeta::to_target_units`] for one row of outputs.
    pub fn to_target_units_row(&self, row: &mut [f32]) {
        let Some(s) = &self.target_standardizer else {
            return;
        };
        for ((v, &m), &d) in row.iter_mut().zip(&s.mean).zip(&s.std) {
            *v = (f64::from(*v) * f64::from(d) + f64::from(m)) as f32;
        }
    }
}

/// The training record a run leaves in [`ModelMeta::extra`] (its `train.*`
/// entries), read back: every entry as written, and the early-stopping
/// result typed.
///
/// ```
/// use std::collections::BTreeMap;
/// use backprop::meta::TrainingRecord;
/// use backprop::stopping::Monitor;
/// let extra = BTreeMap::from([
///     ("train.epochs".to_string(), "9".to_string()),
///     ("train.best_epoch".to_string(), "6".to_string()),
///     ("train.best_validation_loss".to_string(), "0.25".to_string()),
///     ("note".to_string(), "not training".to_string()),
/// ]);
/// let record = TrainingRecord::from_extra(&extra);
/// assert_eq!(record.entries.keys().collect::<Vec<_>>(), ["best_epoch", "best_validation_loss", "epochs"]);
/// let best = record.best.unwrap();
/// assert_eq!((best.epoch, best.monitor, best.value), (6, Monitor::Loss, 0.25));
/// assert_eq!(TrainingRecord::from_extra(&BTreeMap::new()), TrainingRecord::default());
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TrainingRecord {
    /// Every `train.*` entry, keyed without the `train.` prefix, in key order.
    pub entries: BTreeMap<String, String>,
    /// The epoch whose weights an early-stopping run kept, if it recorded one
    /// (`train.best_epoch` and `train.best_validation_{monitor}`).
    pub best: Option<BestEpoch>,
}

/// The best epoch of a run with early stopping, as its record says.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BestEpoch {
    /// The epoch (1-based) whose weights the model holds.
    pub epoch: usize,
    /// The validation figure watched.
    pub monitor: Monitor,
    /// Its value after that epoch.
    pub value: f64,
}

impl TrainingRecord {
    /// The record in `extra`; entries that do not parse leave `best` out.
    pub fn from_extra(extra: &BTreeMap<String, String>) -> TrainingRecord {
        let entries: BTreeMap<String, String> = extra
            .iter()
            .filter_map(|(k, v)| k.strip_prefix("train.").map(|k| (k.to_string(), v.clone())))
            .collect();
        let best = entries.get("best_epoch").and_then(|epoch| {
            let (monitor, value) = entries.iter().find_map(|(k, v)| {
                let monitor = k.strip_prefix("best_validation_")?.parse().ok()?;
                Some((monitor, v.parse().ok()?))
            })?;
            Some(BestEpoch {
                epoch: epoch.parse().ok()?,
                monitor,
                value,
            })
        });
        TrainingRecord { entries, best }
    }

    /// Writes the record into `extra` as `train.{key}` entries, the form
    /// [`TrainingRecord::from_extra`] reads back.
    ///
    /// ```
    /// use std::collections::BTreeMap;
    /// use backprop::meta::TrainingRecord;
    /// let record = TrainingRecord {
    ///     entries: BTreeMap::from([("epochs".to_string(), "3".to_string())]),
    ///     best: None,
    /// };
    /// let mut extra = BTreeMap::new();
    /// record.write_into(&mut extra);
    /// assert_eq!(extra["train.epochs"], "3");
    /// assert_eq!(TrainingRecord::from_extra(&extra), record);
    /// ```
    pub fn write_into(&self, extra: &mut BTreeMap<String, String>) {
        for (k, v) in &self.entries {
            extra.insert(format!("train.{k}"), v.clone());
        }
    }
}
