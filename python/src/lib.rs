//! `backprop._core`: the Python front end of the `backprop` library, as
//! `src/main.rs` is its command-line front end. It turns NumPy arrays into
//! the library's tables, a training request into a [`FitSpec`], and the
//! [`session::FitOutcome`] back into Python objects; the estimators in
//! `backprop/_estimators.py` hold the scikit-learn conventions. Every loop
//! and every piece of arithmetic stays in the library.
//!
//! What is copied: NumPy converts nothing for a float32 C-contiguous array,
//! and `fit` reads it in place, copying its rows once into the library's
//! table ([`RawTable`], which owns its rows: the library's types hold
//! `Vec<f32>`, never borrowed memory). [`session::prepare`] then clones that
//! table (or splits it into training and validation rows) and makes the
//! training set from the clone ([`backprop::pipeline::dataset`]: one more
//! copy of the features); the table and its clone are freed before the
//! first epoch, so training holds one copy of the rows. `predict` runs the
//! network on the array's memory in place when the model has no
//! preprocessing (models trained here have none) and on one preprocessed
//! copy otherwise (a command-line model that standardises or scales its
//! features).

use std::collections::BTreeMap;
use std::ops::ControlFlow;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::Duration;

use backprop::data::{
    ClassWeight, ColumnOptions, ColumnValues, CsvLayout, ParseAs, RawColumns, RawTable, RawTarget,
    SourceKind, TableEncoding,
};
use backprop::fit::{
    self as session, Continuation, DataSource, EpochReport, FitCallbacks, FitEnd, FitSpec, Stored,
};
use backprop::lbfgs::LbfgsConfig;
use backprop::model_io::{self, ModelMeta, SavedModel};
use backprop::optim::{OptimizerConfig, OptimizerKind, OptimizerParts};
use backprop::pipeline::{self, ReadOverrides};
use backprop::schedule::{LrSchedule, ScheduleKind, ScheduleParams};
use backprop::stopping::{EarlyStopState, EarlyStopping, Monitor};
use backprop::{Activation, Error, Head, Matrix, Mlp};
use numpy::{
    PyArray1, PyArray2, PyArrayMethods, PyReadonlyArray1, PyReadonlyArray2, PyUntypedArrayMethods,
};
use pyo3::exceptions::{PyFileNotFoundError, PyOSError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList};

/// The library's error as the Python exception scikit-learn users expect:
/// `OSError` (`FileNotFoundError`) for files, `ValueError` for everything
/// else (bad data, impossible settings, a diverged run).
fn py_err(e: Error) -> PyErr {
    match &e {
        Error::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound => {
            PyFileNotFoundError::new_err(e.to_string())
        }
        Error::Io { .. } => PyOSError::new_err(e.to_string()),
        _ => PyValueError::new_err(e.to_string()),
    }
}

fn value_err(msg: impl Into<String>) -> PyErr {
    PyValueError::new_err(msg.into())
}

/// The rows of a C-contiguous 2-D array, in place.
fn rows_of<'a>(x: &'a PyReadonlyArray2<'_, f32>) -> PyResult<(&'a [f32], usize, usize)> {
    let shape = x.shape();
    let slice = x
        .as_slice()
        .map_err(|_| value_err("X must be a C-contiguous float32 array"))?;
    Ok((slice, shape[0], shape[1]))
}

/// One column from Python: a float32 NumPy array (NaN: missing) or a list
/// of texts (`None`: missing).
fn column_values(c: &Bound<'_, PyAny>) -> PyResult<ColumnValues> {
    if let Ok(a) = c.extract::<PyReadonlyArray1<'_, f32>>() {
        return Ok(ColumnValues::Numbers(a.as_array().to_vec()));
    }
    let texts: Vec<Option<String>> = c
        .extract()
        .map_err(|_| value_err("a column must be a float32 array or a list of str/None"))?;
    Ok(ColumnValues::Text(texts))
}

/// The columns `columns`, called `names`, as read cells.
fn raw_columns(names: Vec<String>, columns: &[Bound<'_, PyAny>]) -> PyResult<RawColumns> {
    let values = columns
        .iter()
        .map(column_values)
        .collect::<PyResult<Vec<_>>>()?;
    RawColumns::from_values(names, values, "X").map_err(py_err)
}

/// The error about row `r` of column `j` of X.
fn cell_error(names: &[String]) -> impl Fn(usize, usize, String) -> Error + '_ {
    move |r, j, message| Error::Data {
        source_name: "X".into(),
        message: format!("column '{}', row {}: {message}", names[j], r + 1),
    }
}

/// `raw` prepared by `enc`, and the notes.
fn apply_columns(enc: &TableEncoding, raw: RawColumns) -> PyResult<(Matrix, Vec<String>)> {
    let names = raw.names.clone();
    let err = cell_error(&names);
    enc.apply(raw, &err).map_err(py_err)
}

/// A matrix as a new float32 array.
fn matrix_to_py(py: Python<'_>, x: Matrix) -> PyResult<Bound<'_, PyArray2<f32>>> {
    let (rows, cols) = (x.rows(), x.cols());
    PyArray1::from_vec(py, x.into_vec()).reshape([rows, cols])
}

fn parse_head(name: &str) -> PyResult<Head> {
    name.parse::<Head>().map_err(py_err)
}

fn parse_activation(name: &str) -> PyResult<Activation> {
    name.parse::<Activation>().map_err(py_err)
}

// ---------------------------------------------------------------------------
// Models
// ---------------------------------------------------------------------------

/// A layer's weights (`[out, in]`) and biases.
type Layer<'py> = (Bound<'py, PyArray2<f32>>, Bound<'py, PyArray1<f32>>);

/// A trained network with its metadata: what a model file holds.
#[pyclass(frozen, module = "backprop._core")]
struct Model {
    saved: SavedModel,
}

#[pymethods]
impl Model {
    /// Reads a model from the bytes of a model (or checkpoint) file.
    #[new]
    fn new(bytes: &[u8]) -> PyResult<Model> {
        let saved = model_io::from_bytes(bytes, "model bytes").map_err(py_err)?;
        Ok(Model { saved })
    }

    /// Reads the model file at `path` (as written by `backprop train --out`).
    #[staticmethod]
    fn load(path: PathBuf) -> PyResult<Model> {
        let saved = model_io::load_model(&path).map_err(py_err)?;
        Ok(Model { saved })
    }

    /// Writes the model file to `path`, atomically.
    fn save(&self, path: PathBuf) -> PyResult<()> {
        model_io::save_model(&path, &self.saved.mlp, &self.saved.meta).map_err(py_err)
    }

    /// The bytes of the model file.
    fn to_bytes<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        let bytes = model_io::to_bytes(&self.saved.mlp, &self.saved.meta).map_err(py_err)?;
        Ok(PyBytes::new(py, &bytes))
    }

    /// The network's outputs for the rows of `x` (float32, C-contiguous,
    /// `rows × inputs`): probabilities for the classifier heads, values in
    /// the targets' units for `mse`. The features are preprocessed as the
    /// model says (pixel scale, standardisation) first. Up to `threads`
    /// threads (0: one per core) share the rows when they are worth it; the
    /// GIL is released.
    #[pyo3(signature = (x, threads = 0))]
    fn predict<'py>(
        &self,
        py: Python<'py>,
        x: PyReadonlyArray2<'py, f32>,
        threads: usize,
    ) -> PyResult<Bound<'py, PyArray2<f32>>> {
        let (slice, rows, cols) = rows_of(&x)?;
        let mlp = &self.saved.mlp;
        if cols != mlp.inputs() {
            return Err(value_err(format!(
                "X has {cols} features, but the model takes {} inputs",
                mlp.inputs()
            )));
        }
        let out = py
            .detach(|| -> backprop::Result<Matrix> { self.saved.predict_on(slice, rows, threads) })
            .map_err(py_err)?;
        let k = out.cols();
        PyArray1::from_vec(py, out.into_vec()).reshape([rows, k])
    }

    /// Layer sizes, input to output.
    #[getter]
    fn sizes(&self) -> Vec<usize> {
        self.saved.mlp.sizes().to_vec()
    }

    /// The hidden activations' names.
    #[getter]
    fn activations(&self) -> Vec<String> {
        let hidden = self.saved.mlp.hidden();
        hidden.iter().map(|a| a.name().to_string()).collect()
    }

    /// The head: `sigmoid`, `softmax` or `mse`.
    #[getter]
    fn head(&self) -> String {
        self.saved.mlp.head().name().to_string()
    }

    /// The class of each output (2 names for a one-output sigmoid), if any.
    #[getter]
    fn class_names(&self) -> Option<Vec<String>> {
        self.saved.meta.class_names.clone()
    }

    /// The feature names (empty if unknown).
    #[getter]
    fn feature_names(&self) -> Vec<String> {
        self.saved.meta.feature_names.clone()
    }

    /// Whether the model picks its features by name (it was trained on a
    /// CSV with a header, or on a pandas DataFrame): its feature names are
    /// real column names, not made-up ones (`pixel 1`).
    #[getter]
    fn reads_by_name(&self) -> bool {
        let meta = &self.saved.meta;
        meta.csv_layout.is_some() && !meta.feature_names.is_empty()
    }

    /// Whether the model prepares its columns (a table with text columns or
    /// gaps: kinds, levels, medians): its inputs come from
    /// [`Model::encode`], not from the rows as they are.
    #[getter]
    fn prepares_columns(&self) -> bool {
        self.saved.meta.columns.is_some()
    }

    /// The columns the model was trained on, in order (its preparation's
    /// columns; the feature names for a model without one).
    #[getter]
    fn column_names(&self) -> Vec<String> {
        match &self.saved.meta.columns {
            Some(enc) => enc.columns.iter().map(|c| c.name.clone()).collect(),
            None => self.saved.meta.feature_names.clone(),
        }
    }

    /// The network inputs of a table's columns (every column the model was
    /// trained on, in order: float32 arrays with NaN for a gap, or lists of
    /// texts with `None`), prepared as the model was trained, and notes on
    /// gaps filled and levels unseen in training.
    fn encode<'py>(
        &self,
        py: Python<'py>,
        columns: Vec<Bound<'py, PyAny>>,
    ) -> PyResult<(Bound<'py, PyArray2<f32>>, Vec<String>)> {
        let enc = self
            .saved
            .meta
            .columns
            .as_ref()
            .ok_or_else(|| value_err("the model does not prepare columns"))?;
        let names: Vec<String> = enc.columns.iter().map(|c| c.name.clone()).collect();
        let raw = raw_columns(names, &columns)?;
        let (x, notes) = apply_columns(enc, raw)?;
        Ok((matrix_to_py(py, x)?, notes))
    }

    /// The target names.
    #[getter]
    fn target_names(&self) -> Vec<String> {
        self.saved.meta.target_names.clone()
    }

    /// The free-form metadata entries (`train.*` records, `python.*`).
    #[getter]
    fn extra(&self) -> BTreeMap<String, String> {
        self.saved.meta.extra.clone()
    }

    /// Layer `l`'s weights (`[out, in]`, as stored) and biases, copied.
    fn layer<'py>(&self, py: Python<'py>, l: usize) -> PyResult<Layer<'py>> {
        let mlp = &self.saved.mlp;
        if l >= mlp.num_layers() {
            return Err(value_err(format!(
                "layer {l} of a {}-layer network",
                mlp.num_layers()
            )));
        }
        let (n_in, n_out) = (mlp.sizes()[l], mlp.sizes()[l + 1]);
        let w = PyArray1::from_slice(py, mlp.weights(l)).reshape([n_out, n_in])?;
        Ok((w, PyArray1::from_slice(py, mlp.bias(l))))
    }

    /// The preparation the network's inputs and outputs get around
    /// `coefs_`: `pixel_scale` (inputs multiplied by it), `mean` and `std`
    /// (inputs become `(x - mean) / std`), `target_mean` and `target_std`
    /// (regression outputs become `y * std + mean`), each `None` when not
    /// used, and `columns` (whether a table's columns are encoded first).
    #[getter]
    fn preprocessing<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let meta = &self.saved.meta;
        let d = PyDict::new(py);
        d.set_item("pixel_scale", meta.pixel_scale)?;
        let (mean, std) = match &meta.standardizer {
            Some(s) => (
                Some(PyArray1::from_slice(py, &s.mean)),
                Some(PyArray1::from_slice(py, &s.std)),
            ),
            None => (None, None),
        };
        d.set_item("mean", mean)?;
        d.set_item("std", std)?;
        let (tm, ts) = match &meta.target_standardizer {
            Some(s) => (
                Some(PyArray1::from_slice(py, &s.mean)),
                Some(PyArray1::from_slice(py, &s.std)),
            ),
            None => (None, None),
        };
        d.set_item("target_mean", tm)?;
        d.set_item("target_std", ts)?;
        d.set_item("columns", meta.columns.is_some())?;
        Ok(d)
    }

    /// All the parameters, flat: each layer's weights (`[out, in]`, row by
    /// row) then its biases, layer after layer (a copy).
    #[getter]
    fn params<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f32>> {
        PyArray1::from_slice(py, self.saved.mlp.params())
    }

    /// This model with the flat parameters `params` (laid out as
    /// [`Model::params`]) and the same metadata.
    fn with_params(&self, params: PyReadonlyArray1<'_, f32>) -> PyResult<Model> {
        let mut saved = self.saved.clone();
        set_params(&mut saved.mlp, params.as_slice()?)?;
        Ok(Model { saved })
    }
}

/// Writes `params` into `mlp`'s parameters, refusing a wrong count or a
/// value that is not finite.
fn set_params(mlp: &mut Mlp, params: &[f32]) -> PyResult<()> {
    if params.len() != mlp.num_params() {
        return Err(value_err(format!(
            "{} parameters given, the network has {}",
            params.len(),
            mlp.num_params()
        )));
    }
    if let Some(i) = params.iter().position(|v| !v.is_finite()) {
        return Err(value_err(format!("parameter {i} is {}", params[i])));
    }
    mlp.params_mut().copy_from_slice(params);
    Ok(())
}

/// The bytes of checkpoint `bytes` with its model's parameters replaced by
/// `params` (the optimizer state and the rest kept): `partial_fit` after the
/// weights were edited.
#[pyfunction]
fn checkpoint_with_params<'py>(
    py: Python<'py>,
    bytes: &[u8],
    params: PyReadonlyArray1<'_, f32>,
) -> PyResult<Bound<'py, PyBytes>> {
    let mut c = model_io::checkpoint_from_bytes(bytes, "checkpoint").map_err(py_err)?;
    set_params(&mut c.model.mlp, params.as_slice()?)?;
    let out = model_io::checkpoint_to_bytes(&c).map_err(py_err)?;
    Ok(PyBytes::new(py, &out))
}

// ---------------------------------------------------------------------------
// Training
// ---------------------------------------------------------------------------

/// What `fit` is asked to train on and how; built by the estimators.
#[pyclass(module = "backprop._core", get_all, set_all)]
#[derive(Clone, Debug)]
struct FitRequest {
    /// `sigmoid`, `softmax` or `mse`.
    head: String,
    hidden: Vec<usize>,
    activation: String,
    /// `sgd`, `adam`, `adamw`, `rmsprop`.
    optimizer: String,
    lr: f32,
    batch_size: usize,
    /// Epochs of this call (with a checkpoint: on top of its epochs).
    epochs: usize,
    weight_decay: f32,
    momentum: f32,
    nesterov: bool,
    beta1: f32,
    beta2: f32,
    eps: f32,
    /// `constant`, or `plateau` (× `plateau_gamma` after `plateau_patience`
    /// epochs without improvement of the validation loss).
    schedule: String,
    plateau_patience: usize,
    plateau_gamma: f32,
    /// invscaling's exponent.
    power_t: f32,
    shuffle: bool,
    seed: u64,
    threads: usize,
    dropout: f32,
    /// Label smoothing's `ε` (classifiers; 0 for none).
    label_smoothing: f32,
    /// Scale the L2 decay by the batch size over a weighted batch's weight
    /// sum (scikit-learn's `alpha / Σ sample_weight`).
    decay_by_weight: bool,
    clip_norm: Option<f32>,
    /// `balanced`, or per class name.
    class_weight: Option<BTreeMap<String, f32>>,
    class_weight_balanced: bool,
    validation_fraction: Option<f64>,
    /// Early stopping on the validation split: `(patience, min_delta,
    /// monitor)` with monitor `loss`, `accuracy` or `r2`.
    early_stopping: Option<(usize, f64, String)>,
    /// Stop when the training loss has not improved by more than
    /// `min_delta` for `patience` epochs: `(patience, min_delta)`.
    loss_stopping: Option<(usize, f64)>,
    verbose: bool,
    feature_names: Vec<String>,
    /// One name per target column (single-label classifiers: one).
    target_names: Vec<String>,
    /// The classes of a single-label classifier, in output order.
    class_names: Option<Vec<String>>,
    /// Entries for the model's metadata (`ModelMeta::extra`).
    extra: BTreeMap<String, String>,
    /// How a new network is drawn (`backprop::Init`'s names): `sklearn`
    /// for the scikit-learn estimators.
    init: String,
    /// Standardise the features (and, for `mse`, the targets with
    /// `standardize_targets`) with the training rows' mean and std, stored
    /// in the model: the command line's preparation.
    standardize: bool,
    standardize_targets: bool,
    /// `optimizer = "lbfgs"`: the most evaluations of the loss and gradient
    /// (scikit-learn's `max_fun`) and the gradient bound (its `tol`).
    max_fun: usize,
    gtol: f64,
}

#[pymethods]
impl FitRequest {
    /// A request with the library's own defaults (those of a data file:
    /// Adam at its default rate, 64 relu units, the default batch, epochs
    /// and seed). The estimators set every field from their parameters, so
    /// scikit-learn's defaults are written once, in `_estimators.py`.
    #[new]
    fn new() -> FitRequest {
        let optimizer = session::default_optimizer(false);
        let train = backprop::TrainConfig::default();
        let schedule = ScheduleParams::default();
        FitRequest {
            head: Head::SoftmaxCe.name().into(),
            hidden: vec![64],
            activation: Activation::Relu.name().into(),
            optimizer: optimizer.kind.name().into(),
            lr: session::default_lr(optimizer.kind, false),
            batch_size: train.batch_size,
            epochs: session::DEFAULT_EPOCHS,
            weight_decay: optimizer.weight_decay,
            momentum: optimizer.momentum,
            nesterov: optimizer.nesterov,
            beta1: optimizer.beta1,
            beta2: optimizer.beta2,
            eps: optimizer.eps,
            schedule: LrSchedule::Constant.name().into(),
            plateau_patience: schedule.patience,
            plateau_gamma: schedule.gamma,
            power_t: schedule.power_t,
            shuffle: train.shuffle,
            seed: session::DEFAULT_SEED,
            threads: 0,
            dropout: 0.0,
            label_smoothing: 0.0,
            decay_by_weight: false,
            clip_norm: None,
            class_weight: None,
            class_weight_balanced: false,
            validation_fraction: None,
            early_stopping: None,
            loss_stopping: None,
            verbose: false,
            feature_names: Vec::new(),
            target_names: Vec::new(),
            class_names: None,
            extra: BTreeMap::new(),
            init: backprop::Init::Sklearn.name().into(),
            standardize: false,
            standardize_targets: false,
            max_fun: LbfgsConfig::default().max_fun,
            gtol: LbfgsConfig::default().gtol,
        }
    }

    fn __repr__(&self) -> String {
        format!("{self:?}")
    }
}

impl FitRequest {
    fn lbfgs(&self) -> Option<LbfgsConfig> {
        self.optimizer
            .eq_ignore_ascii_case("lbfgs")
            .then(|| LbfgsConfig {
                max_fun: self.max_fun,
                gtol: self.gtol,
                ..LbfgsConfig::default()
            })
    }

    /// The spec's fields for the solver: a mini-batch rule with its batch,
    /// rate and schedule, or L-BFGS with the L2 term alone.
    fn solver_fields(&self, spec: FitSpec) -> PyResult<FitSpec> {
        if let Some(lbfgs) = self.lbfgs() {
            let optimizer = OptimizerParts {
                weight_decay: Some(self.weight_decay),
                ..OptimizerParts::default()
            }
            .config(OptimizerKind::Adam)
            .map_err(py_err)?;
            return Ok(FitSpec {
                lbfgs: Some(lbfgs),
                optimizer: Some(optimizer),
                clip_norm: self.clip_norm,
                ..spec
            });
        }
        Ok(FitSpec {
            batch_size: Some(self.batch_size),
            lr: Some(self.lr),
            optimizer: Some(self.optimizer_config()?),
            clip_norm: self.clip_norm,
            schedule: Some(self.schedule()?),
            warmup_epochs: Some(0),
            ..spec
        })
    }

    fn optimizer_config(&self) -> PyResult<OptimizerConfig> {
        // momentum and Nesterov are SGD's alone (scikit-learn ignores them
        // for the other solvers)
        let sgd = self.optimizer.eq_ignore_ascii_case("sgd");
        OptimizerParts {
            kind: Some(&self.optimizer),
            momentum: Some(if sgd { self.momentum } else { 0.0 }),
            nesterov: sgd && self.nesterov && self.momentum > 0.0,
            beta1: Some(self.beta1),
            beta2: Some(self.beta2),
            eps: Some(self.eps),
            weight_decay: Some(self.weight_decay),
            ..OptimizerParts::default()
        }
        .config(OptimizerKind::Adam)
        .map_err(py_err)
    }

    fn schedule(&self) -> PyResult<LrSchedule> {
        let kind: ScheduleKind = self.schedule.parse().map_err(value_err)?;
        let params = ScheduleParams {
            patience: self.plateau_patience,
            gamma: self.plateau_gamma,
            power_t: self.power_t,
            cosine_epochs: self.epochs.max(1),
            ..ScheduleParams::default()
        };
        Ok(LrSchedule::from_kind(kind, &params))
    }

    fn class_weight(&self) -> Option<ClassWeight> {
        if self.class_weight_balanced {
            return Some(ClassWeight::Balanced);
        }
        self.class_weight
            .as_ref()
            .map(|m| ClassWeight::Given(m.iter().map(|(k, &v)| (k.clone(), v)).collect()))
    }

    /// The metadata of a new model for this request.
    fn meta(&self) -> ModelMeta {
        ModelMeta {
            class_names: self.class_names.clone(),
            feature_names: self.feature_names.clone(),
            target_names: self.target_names.clone(),
            extra: self.extra.clone(),
            ..ModelMeta::default()
        }
    }
}

/// Where the training starts from.
enum Start {
    /// A new network, seeded.
    New,
    /// A model's weights, with a new optimizer (`warm_start`).
    Model(Vec<u8>),
    /// A checkpoint: weights, optimizer state, shuffling RNG and epoch
    /// count (`partial_fit`).
    Checkpoint(Vec<u8>),
}

/// The session's hooks: the history, `verbose` printing, and the stop on a
/// training loss that no longer improves.
struct Hooks {
    verbose: bool,
    loss_stop: Option<(EarlyStopping, EarlyStopState)>,
    converged: bool,
    records: Vec<(session::EpochRecord, Option<f64>)>,
}

impl FitCallbacks for Hooks {
    /// scikit-learn reports no training accuracy: skip that pass.
    fn wants_train_accuracy(&self) -> bool {
        false
    }

    fn on_epoch(&mut self, report: &EpochReport) -> ControlFlow<()> {
        let r = report.record;
        self.records.push((r, r.val_r2));
        if self.verbose {
            let mut line = format!("Iteration {}, loss = {:.8}", r.epoch, r.train_loss);
            if let Some(a) = r.val_accuracy {
                line.push_str(&format!(", validation accuracy = {a:.6}"));
            } else if let Some(v) = r.val_r2 {
                line.push_str(&format!(", validation R2 = {v:.6}"));
            }
            Python::attach(|py| {
                let _ = py
                    .import("builtins")
                    .and_then(|b| b.getattr("print"))
                    .and_then(|p| p.call1((line,)));
            });
        }
        if let Some((rule, state)) = &mut self.loss_stop {
            if state.observe(rule, r.epoch, r.train_loss, &[]) {
                self.converged = true;
                return ControlFlow::Break(());
            }
        }
        ControlFlow::Continue(())
    }
}

/// What a training call gives back, before it becomes a Python dict.
struct Trained {
    model: Vec<u8>,
    checkpoint: Option<Vec<u8>>,
    /// Why the final state could not be kept, if it could not.
    state_warning: Option<String>,
    hooks: Hooks,
    epochs: usize,
    /// Rows trained on in this call, summed over its epochs (not the
    /// validation rows): scikit-learn's `t_` increment.
    samples: usize,
    end: FitEnd,
}

fn train(spec: FitSpec, hooks: Hooks, stop: &AtomicBool) -> backprop::Result<Trained> {
    let mut hooks = hooks;
    let prepared = session::prepare(&spec, &mut hooks)?;
    // the table's copy of the rows is not needed once the training set is made
    drop(spec);
    let out = prepared.run(stop, &mut hooks)?;
    let model = model_io::to_bytes(&out.mlp, &out.meta)?;
    // the state after the last epoch or a stop (none after an interrupt);
    // a state that no file could hold (an optimizer moment that overflowed
    // on huge features) is dropped: `partial_fit` then continues from the
    // model with a new optimizer
    let (checkpoint, state_warning) = match out.checkpoint {
        None => (None, None),
        Some(c) => match model_io::checkpoint_to_bytes(&c) {
            Ok(bytes) => (Some(bytes), None),
            Err(e) => (
                None,
                Some(format!(
                    "the optimizer state cannot be kept ({e}); partial_fit will continue \
                     from the weights with a new optimizer"
                )),
            ),
        },
    };
    Ok(Trained {
        model,
        checkpoint,
        state_warning,
        hooks,
        epochs: out.epochs,
        samples: out.samples,
        end: out.end,
    })
}

/// Trains a network on `x` (float32, C-contiguous, `rows × features`) and
/// either `labels` (class indices into `request.class_names`, single-label
/// classification) or `targets` (float32 `rows × k`: 0/1 columns for
/// multi-label, values for regression), with optional per-row
/// `sample_weight`. `start_model` continues from a model's weights with a
/// new optimizer; `start_checkpoint` continues a checkpoint (weights,
/// optimizer, shuffling) for `request.epochs` more epochs.
///
/// The GIL is released while training; the calling thread checks for
/// signals every 10 ms, and a Ctrl-C (any exception raised by a signal
/// handler) stops the run after the current batch. The result is a dict:
/// `model` (model file bytes), `checkpoint` (checkpoint bytes, absent after
/// an interrupt), `history` (per epoch: `train_loss`, `val_loss`,
/// `val_accuracy`, `val_r2`), `epochs` (in total), `end` (`finished`,
/// `converged`, `early_stopped`, `interrupted`), `best_epoch`, and
/// `interrupt` (the exception to raise, after an interrupt), and `warning`
/// (why the final state could not be kept as a checkpoint, if it could not).
/// Fits the preparation of a table's columns (`names`; each a float32
/// array with NaN for a gap, or a list of texts with `None`) as the command
/// line fits a CSV file's: each column's kind, levels and median. Returns
/// the network inputs, the preparation (the text a model file keeps, for
/// `fit(columns=…)`) and the notes (columns ignored, levels sharing
/// "(other)").
#[pyfunction]
fn encode_columns<'py>(
    py: Python<'py>,
    names: Vec<String>,
    columns: Vec<Bound<'py, PyAny>>,
) -> PyResult<(Bound<'py, PyArray2<f32>>, String, Vec<String>)> {
    let mut raw = raw_columns(names, &columns)?;
    let parsed = vec![ParseAs::Auto; raw.columns.len()];
    let names = raw.names.clone();
    let err = cell_error(&names);
    let (enc, notes) =
        TableEncoding::fit(&mut raw, &parsed, &ColumnOptions::default(), &err).map_err(py_err)?;
    if enc.width() == 0 {
        return Err(value_err("no inputs: every column of X is ignored"));
    }
    let (x, _) = apply_columns(&enc, raw)?;
    Ok((matrix_to_py(py, x)?, model_io::columns_to_json(&enc), notes))
}

#[pyfunction]
#[pyo3(signature = (request, x, labels=None, targets=None, sample_weight=None, start_model=None, start_checkpoint=None, columns=None))]
#[allow(clippy::too_many_arguments)]
fn fit<'py>(
    py: Python<'py>,
    request: &FitRequest,
    x: PyReadonlyArray2<'py, f32>,
    labels: Option<PyReadonlyArray1<'py, i64>>,
    targets: Option<PyReadonlyArray2<'py, f32>>,
    sample_weight: Option<PyReadonlyArray1<'py, f32>>,
    start_model: Option<Vec<u8>>,
    start_checkpoint: Option<Vec<u8>>,
    columns: Option<String>,
) -> PyResult<Bound<'py, PyDict>> {
    let columns = columns
        .map(|t| model_io::columns_from_json(&t, "columns"))
        .transpose()
        .map_err(py_err)?;
    let req = request.clone();
    let head = parse_head(&req.head)?;
    let activation = parse_activation(&req.activation)?;
    let (slice, rows, cols) = rows_of(&x)?;
    if rows == 0 {
        return Err(value_err("X has 0 rows; at least 1 is required"));
    }
    // the targets as the library's table holds them: label text
    let (target, target_names) = match (&labels, &targets) {
        (Some(l), None) => {
            let names = req
                .class_names
                .as_ref()
                .ok_or_else(|| value_err("labels need class_names"))?;
            let l = l
                .as_slice()
                .map_err(|_| value_err("labels must be contiguous"))?;
            if l.len() != rows {
                return Err(value_err(format!("{} labels for {rows} rows", l.len())));
            }
            let text = l
                .iter()
                .map(|&i| {
                    usize::try_from(i)
                        .ok()
                        .and_then(|i| names.get(i))
                        .cloned()
                        .ok_or_else(|| value_err(format!("label index {i} out of range")))
                })
                .collect::<PyResult<Vec<String>>>()?;
            (
                text,
                vec![req.target_names.first().cloned().unwrap_or("y".into())],
            )
        }
        (None, Some(t)) => {
            let (t, trows, k) = rows_of(t)?;
            if trows != rows {
                return Err(value_err(format!(
                    "{trows} target rows for {rows} rows of X"
                )));
            }
            // shortest text that reads back as the same f32
            let text = t.iter().map(|v| v.to_string()).collect();
            let names = if req.target_names.len() == k {
                req.target_names.clone()
            } else {
                (0..k).map(|i| format!("y{i}")).collect()
            };
            (text, names)
        }
        _ => return Err(value_err("give labels or targets, not both")),
    };
    let has_weights = sample_weight.is_some();
    let weights = match &sample_weight {
        Some(w) => {
            let w = w
                .as_slice()
                .map_err(|_| value_err("sample_weight must be contiguous"))?;
            if w.len() != rows {
                return Err(value_err(format!(
                    "sample_weight has {} values for {rows} rows",
                    w.len()
                )));
            }
            Some(w.to_vec())
        }
        None => None,
    };
    let feature_names = if req.feature_names.len() == cols {
        req.feature_names.clone()
    } else {
        (0..cols).map(|i| format!("x{i}")).collect()
    };
    let table = RawTable {
        source_name: "X".into(),
        feature_names: feature_names.clone(),
        x: Matrix::from_vec(rows, cols, slice.to_vec()).map_err(py_err)?,
        target: RawTarget::Text(target),
        target_names: target_names.clone(),
        kind: SourceKind::Npy,
        pixel_data: false,
        target_source: "y".into(),
        row_lines: Vec::new(),
        ids: None,
        weights,
        ignored_columns: Vec::new(),
        layout: None,
        header_guess: None,
        encoding: None,
        notes: Vec::new(),
    };

    // the command line's standardisation, fitted on these rows, for a new
    // network (a continued one keeps its own)
    let fitted = match req.standardize {
        true => {
            Some(pipeline::fit_meta(&table, head, true, req.standardize_targets).map_err(py_err)?)
        }
        false => None,
    };
    let start = match (start_model, start_checkpoint) {
        (_, Some(c)) => Start::Checkpoint(c),
        (Some(m), None) => Start::Model(m),
        (None, None) => Start::New,
    };
    let spec = FitSpec {
        data: DataSource::Tables {
            train: Box::new(table),
            test: None,
        },
        read: ReadOverrides::default(),
        validation_split: req.validation_fraction,
        head: Some(head),
        epochs: req.epochs,
        early_stopping: req
            .early_stopping
            .as_ref()
            .map(|(patience, min_delta, monitor)| {
                EarlyStopping::from_parts(*patience, *min_delta, monitor)
            })
            .transpose()
            .map_err(py_err)?,
        dropout: Some(req.dropout),
        label_smoothing: Some(req.label_smoothing),
        decay_by_weight: Some(req.decay_by_weight),
        class_weight: req.class_weight(),
        threads: req.threads,
        seed: Some(req.seed),
        shuffle: req.shuffle,
        standardize: false,
        standardize_targets: false,
        ..FitSpec::default()
    };
    let mut spec = req.solver_fields(spec)?;
    match start {
        Start::New => {
            let mut meta = req.meta();
            // named columns (a pandas DataFrame): the model reads a CSV as
            // that frame written with its targets after the features, so
            // the command line picks the columns by name
            let frame_cols = columns.as_ref().map_or(cols, |e| e.columns.len());
            if req.feature_names.len() == frame_cols {
                meta.csv_layout = Some(CsvLayout {
                    delimiter: b',',
                    header: true,
                    columns: frame_cols + target_names.len(),
                    label_positions: (frame_cols..frame_cols + target_names.len()).collect(),
                    decimal_comma: false,
                });
            }
            meta.feature_names = match &columns {
                Some(enc) if enc.width() == cols => enc.input_names(),
                Some(enc) => {
                    return Err(value_err(format!(
                        "the columns give {} inputs, X has {cols}",
                        enc.width()
                    )))
                }
                None => feature_names,
            };
            meta.columns = columns;
            meta.target_names = target_names;
            let mut sizes = vec![cols];
            sizes.extend(&req.hidden);
            sizes.push(pipeline::output_size(&meta, head));
            if let Some(f) = fitted {
                meta.standardizer = f.standardizer;
                meta.target_standardizer = f.target_standardizer;
            }
            // scikit-learn's own initialisation for its estimators, the
            // recipe's for the tabular ones
            let init = req.init.parse::<backprop::Init>().map_err(py_err)?;
            let hidden = vec![activation; req.hidden.len()];
            let mlp = Mlp::with_init(&sizes, &hidden, head, req.seed, init).map_err(py_err)?;
            spec.init_model = Some(Stored::Memory(Box::new(SavedModel { mlp, meta })));
            spec.hidden_layers = Some(req.hidden.clone());
            spec.activation = Some(activation);
        }
        Start::Model(bytes) => {
            let saved = model_io::from_bytes(&bytes, "model").map_err(py_err)?;
            spec.init_model = Some(Stored::Memory(Box::new(saved)));
        }
        Start::Checkpoint(bytes) => {
            let mut c = model_io::checkpoint_from_bytes(&bytes, "checkpoint").map_err(py_err)?;
            // scikit-learn's partial_fit reads its parameters on every call
            session::continue_on_new_rows(
                &mut c,
                &Continuation {
                    batch_size: req.batch_size,
                    lr: req.lr,
                    optimizer: req.optimizer_config()?,
                    clip_norm: req.clip_norm,
                    dropout: req.dropout,
                    label_smoothing: req.label_smoothing,
                    decay_by_weight: req.decay_by_weight,
                    shuffle: req.shuffle,
                    class_weight: req.class_weight(),
                    row_weights: has_weights,
                },
            );
            spec.seed = None;
            spec.schedule = Some(LrSchedule::Constant);
            spec.epochs = c.state.epochs_done + req.epochs;
            spec.early_stopping = None;
            spec.validation_split = None;
            spec.resume = Some(Stored::Memory(Box::new(c)));
        }
    }
    let hooks = Hooks {
        verbose: req.verbose,
        loss_stop: req.loss_stopping.map(|(patience, min_delta)| {
            let rule = EarlyStopping {
                patience,
                min_delta,
                monitor: Monitor::Loss,
            };
            (rule, EarlyStopState::new(Monitor::Loss, 0))
        }),
        converged: false,
        records: Vec::new(),
    };

    // train on a thread of its own; this one releases the GIL, waits for
    // the result (returning as soon as it comes) and checks for signals
    // every 10 ms meanwhile
    let stop = AtomicBool::new(false);
    let mut interrupt: Option<PyErr> = None;
    let finished = (Mutex::new(false), Condvar::new());
    let result = std::thread::scope(|s| {
        let handle = s.spawn(|| {
            // set even when training panics, so that the wait below ends
            struct Done<'a>(&'a (Mutex<bool>, Condvar));
            impl Drop for Done<'_> {
                fn drop(&mut self) {
                    *self.0 .0.lock().unwrap_or_else(|e| e.into_inner()) = true;
                    self.0 .1.notify_all();
                }
            }
            let _done = Done(&finished);
            train(spec, hooks, &stop)
        });
        loop {
            let over = py.detach(|| {
                let (lock, cv) = &finished;
                let guard = lock.lock().unwrap_or_else(|e| e.into_inner());
                let (guard, _) = cv
                    .wait_timeout_while(guard, Duration::from_millis(10), |done| !*done)
                    .unwrap_or_else(|e| e.into_inner());
                *guard
            });
            if over {
                break;
            }
            if interrupt.is_none() {
                if let Err(e) = py.check_signals() {
                    stop.store(true, Ordering::Relaxed);
                    interrupt = Some(e);
                }
            }
        }
        handle.join()
    });
    let trained = match result {
        Ok(r) => r.map_err(py_err)?,
        Err(_) => {
            return Err(pyo3::exceptions::PyRuntimeError::new_err(
                "the training thread panicked",
            ))
        }
    };

    let d = PyDict::new(py);
    d.set_item("model", PyBytes::new(py, &trained.model))?;
    let interrupted = matches!(trained.end, FitEnd::Interrupted(_));
    match (&trained.checkpoint, interrupted) {
        (Some(c), false) => d.set_item("checkpoint", PyBytes::new(py, c))?,
        _ => d.set_item("checkpoint", py.None())?,
    }
    let history = PyList::empty(py);
    for (r, r2) in &trained.hooks.records {
        let e = PyDict::new(py);
        e.set_item("epoch", r.epoch)?;
        e.set_item("train_loss", r.train_loss)?;
        e.set_item("val_loss", r.val_loss)?;
        e.set_item("val_accuracy", r.val_accuracy)?;
        e.set_item("val_r2", *r2)?;
        history.append(e)?;
    }
    d.set_item("history", history)?;
    d.set_item("epochs", trained.epochs)?;
    d.set_item("samples", trained.samples)?;
    let (end, best) = match trained.end {
        FitEnd::Finished if trained.hooks.converged => ("converged", None),
        FitEnd::Finished => ("finished", None),
        FitEnd::Stopped => ("converged", None),
        FitEnd::EarlyStopped { best_epoch } => ("early_stopped", Some(best_epoch)),
        FitEnd::Interrupted(_) => ("interrupted", None),
        FitEnd::Solver(ref why) if why.converged() => ("converged", None),
        FitEnd::Solver(_) => ("solver_stopped", None),
    };
    // L-BFGS: how it ended, in scipy's words
    let solver_message = match &trained.end {
        FitEnd::Solver(why) => Some(why.to_string()),
        _ if request.lbfgs().is_some() => {
            Some("STOP: TOTAL NO. OF ITERATIONS REACHED LIMIT".to_string())
        }
        _ => None,
    };
    d.set_item("solver_message", solver_message)?;
    d.set_item("end", end)?;
    d.set_item("best_epoch", best)?;
    d.set_item("interrupt", interrupt.map(|e| e.into_value(py)))?;
    d.set_item("warning", trained.state_warning)?;
    Ok(d)
}

/// The model file bytes of each member of the ensemble file at `path`
/// (written by `backprop train --ensemble`, `cv --out` or `search --out`),
/// in order; a model file gives its own bytes.
#[pyfunction]
fn ensemble_members<'py>(py: Python<'py>, path: PathBuf) -> PyResult<Vec<Bound<'py, PyBytes>>> {
    let e = model_io::load_ensemble(&path).map_err(py_err)?;
    e.members
        .iter()
        .map(|m| {
            let bytes = model_io::to_bytes(&m.mlp, &m.meta).map_err(py_err)?;
            Ok(PyBytes::new(py, &bytes))
        })
        .collect()
}

/// Writes the models (their file bytes; several: an ensemble, the mean of
/// their outputs) with their stored preparation as one ONNX file at `path`
/// (`backprop export --onnx`).
#[pyfunction]
fn export_onnx(members: Vec<Vec<u8>>, path: PathBuf) -> PyResult<()> {
    let members = members
        .iter()
        .map(|b| model_io::from_bytes(b, "model"))
        .collect::<backprop::Result<Vec<_>>>()
        .map_err(py_err)?;
    if members.is_empty() {
        return Err(value_err("no model to export"));
    }
    model_io::check_members(&members, "the ensemble").map_err(py_err)?;
    let ensemble = model_io::Ensemble { members };
    backprop::onnx::write(&path, &ensemble).map_err(py_err)
}

/// The Rust core of the `backprop` Python package.
#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Model>()?;
    m.add_class::<FitRequest>()?;
    m.add_function(wrap_pyfunction!(fit, m)?)?;
    m.add_function(wrap_pyfunction!(encode_columns, m)?)?;
    m.add_function(wrap_pyfunction!(ensemble_members, m)?)?;
    m.add_function(wrap_pyfunction!(checkpoint_with_params, m)?)?;
    m.add_function(wrap_pyfunction!(export_onnx, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
