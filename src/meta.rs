//! [`ModelMeta`]: the preprocessing and names a model keeps beside its
//! weights. [`crate::pipeline`] fits it on the training data, `eval` and
//! `predict` apply it to new data, and [`crate::model_io`] stores it (and
//! re-exports it, as `model_io::ModelMeta`), checking it against the network
//! with the rules of the model file format.

use std::collections::BTreeMap;

use crate::data::{CsvLayout, Standardizer};

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
    /// Free-form entries for callers (e.g. the training command line), stored
    /// as metadata keys `extra.{key}`.
    pub extra: BTreeMap<String, String>,
}
