//! [`FitSpec`]: what a session is asked to do, the defaults it falls back
//! on, and the checks made before anything is read.

use std::path::{Path, PathBuf};

use crate::activation::{Activation, Head};
use crate::data::{ClassWeight, RawTable};
use crate::error::{mention, Error, Result};
use crate::init::Init;
use crate::lbfgs::LbfgsConfig;
use crate::model_io::{check_writable, identity, Checkpoint, SavedModel};
use crate::optim::{OptimizerConfig, OptimizerKind};
use crate::pipeline::ReadOverrides;
use crate::schedule::LrSchedule;
use crate::stopping::EarlyStopping;

/// Epochs of a run when none are given.
pub const DEFAULT_EPOCHS: usize = 30;
/// The seed of initialisation, shuffling and the validation split when none
/// is given.
pub const DEFAULT_SEED: u64 = 42;

/// Where the training rows come from.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum DataSource {
    /// The breast-cancer set compiled into the crate, with its fixed test
    /// split as held-out data. Defaults: 16 sigmoid hidden units, lr 0.5.
    #[default]
    BreastCancer,
    /// A data file (CSV, IDX or NPY, plain or gzipped), read as
    /// [`FitSpec::read`] says. Defaults: 64 hidden units (selu for
    /// classification, relu for regression), Adam at 0.003.
    File(PathBuf),
    /// Tables already in memory (e.g. from [`data::csv::parse`](crate::data::csv::parse)), with an
    /// optional test table as held-out data; the defaults of a file.
    Tables {
        /// The training rows.
        train: Box<RawTable>,
        /// Held-out rows evaluated after every epoch.
        test: Option<Box<RawTable>>,
    },
}

/// Everything that decides a training run. `None` fields take the defaults
/// documented on them (some from the data source, some from the checkpoint
/// being resumed); [`FitSpec::default`] trains on the embedded set.
#[derive(Clone, Debug, PartialEq)]
pub struct FitSpec {
    /// The training data.
    pub data: DataSource,
    /// How to read a data file (label columns, delimiter, header, labels file
    /// of IDX/NPY features, ignored columns); also applied to `test_data`.
    pub read: ReadOverrides,
    /// A held-out file evaluated after each epoch, read as the model will read
    /// new data (columns matched by name when both files have a header).
    pub test_data: Option<PathBuf>,
    /// The labels file of an IDX/NPY `test_data`.
    pub test_labels: Option<PathBuf>,
    /// Hold out this fraction of the training file for validation: seeded,
    /// and stratified for single-label classification (each class keeps its
    /// share in both parts; see `pipeline::split`).
    pub validation_split: Option<f64>,
    /// Hidden layer sizes (input and output sizes come from the data)
    /// [default: 16 on the embedded set, else 64; an initial or resumed
    /// model's].
    pub hidden_layers: Option<Vec<usize>>,
    /// Hidden activation [default: sigmoid on the embedded set, else selu
    /// for classification and relu for regression].
    pub activation: Option<Activation>,
    /// How a new network's parameters are drawn [default: [`Init::Torch`],
    /// [`Init::Auto`] on the embedded set];
    /// refused with an initial model or a checkpoint, whose weights are
    /// given.
    pub init: Option<Init>,
    /// Output head [default: from the labels, see `pipeline::default_head`].
    pub head: Option<Head>,
    /// Total epochs (with `resume`: the total, including those done).
    pub epochs: usize,
    /// Rows per mini-batch [default: 32, or the checkpoint's].
    pub batch_size: Option<usize>,
    /// The base learning rate [default: [`default_lr`] of the optimizer, or
    /// the checkpoint's].
    pub lr: Option<f32>,
    /// The update rule and its constants [default: plain SGD on the
    /// embedded set, else Adam ([`default_optimizer`]), or the checkpoint's].
    pub optimizer: Option<OptimizerConfig>,
    /// Clip the mean gradient's L2 norm to this [default: no clipping, or the
    /// checkpoint's].
    pub clip_norm: Option<f32>,
    /// The learning-rate schedule [default: [`default_schedule`]: flat-cos on
    /// a data file, constant on the embedded set; or the checkpoint's].
    pub schedule: Option<LrSchedule>,
    /// Epochs of linear warm-up [default: 0, or the checkpoint's].
    pub warmup_epochs: Option<usize>,
    /// Stop when the validation figure stops improving, and return the best
    /// epoch's weights (needs `validation_split`) [default: off, or the
    /// checkpoint's].
    pub early_stopping: Option<EarlyStopping>,
    /// Inverted dropout on the hidden layers: the probability of zeroing a
    /// unit while training ([`crate::dropout`]) [default: 0, or the
    /// checkpoint's].
    pub dropout: Option<f32>,
    /// Label smoothing `ε` for a classifier: trained towards
    /// `(1 - ε)·y + ε/K` ([`crate::smoothing`]) [default: 0, or the
    /// checkpoint's].
    pub label_smoothing: Option<f32>,
    /// Scale the L2 weight decay by the batch size over a weighted batch's
    /// weight sum ([`crate::TrainConfig::decay_by_weight`], scikit-learn's
    /// rule for `alpha` with `sample_weight`) [default: no, or the
    /// checkpoint's].
    pub decay_by_weight: Option<bool>,
    /// Train by full-batch L-BFGS ([`crate::lbfgs`]) instead of mini-batch
    /// steps: each epoch is one L-BFGS iteration over every training row,
    /// and `epochs` is the most iterations. The L2 term is the optimizer's
    /// `weight_decay` (its rule is not used). `batch_size`, `lr`, the
    /// schedule and warm-up, `clip_norm`, `dropout`, `early_stopping`,
    /// `resume` and `checkpoint` are refused with it [default: none].
    pub lbfgs: Option<LbfgsConfig>,
    /// Weigh the classes of a single-label classifier in the training loss:
    /// `balanced` or per class name; multiplies the tables' row weights
    /// ([`RawTable::weights`]) [default: none, or the checkpoint's].
    /// Validation and test figures are not weighted.
    pub class_weight: Option<ClassWeight>,
    /// The positive class of a binary classifier (one sigmoid output): the
    /// class the model's threshold and binary metrics refer to, stored in
    /// the model [default: the checkpoint's or initial model's, else the
    /// training rows' minority class, ties going to the second class].
    /// Changes no weight.
    pub positive_class: Option<String>,
    /// Worker threads (0: one per core). Changes the speed, never the result.
    pub threads: usize,
    /// Rows per shard [default: [`crate::train::default_shard_rows`], or the
    /// checkpoint's].
    pub shard_rows: Option<usize>,
    /// Seed of initialisation, shuffling and the validation split
    /// [default: [`DEFAULT_SEED`], or the checkpoint's].
    pub seed: Option<u64>,
    /// Shuffle the rows every epoch.
    pub shuffle: bool,
    /// Standardise the features (pixel data are scaled to 0..1 regardless).
    pub standardize: bool,
    /// With the `mse` head, standardise the targets (their mean and std are
    /// stored in the model; predictions come back in the original units).
    pub standardize_targets: bool,
    /// Start from this model's weights and preprocessing (a file, or a
    /// model in memory).
    pub init_model: Option<Stored<SavedModel>>,
    /// Continue from this checkpoint (a file, or one in memory), bit for
    /// bit, up to `epochs` in total.
    pub resume: Option<Stored<Checkpoint>>,
    /// Write a checkpoint here every `checkpoint_every` epochs, after the
    /// last epoch, and when the run is stopped or interrupted.
    pub checkpoint: Option<PathBuf>,
    /// Epochs between checkpoints (at least 1).
    pub checkpoint_every: usize,
    /// How the per-epoch training accuracy is measured.
    pub train_metrics: TrainMetrics,
}

/// A model or checkpoint a session starts from: a file to read, or one held
/// in memory (a front end that keeps its models as values, such as the
/// Python package, touches no file).
///
/// ```
/// use backprop::fit::Stored;
/// use backprop::model_io::SavedModel;
/// let from_file: Stored<SavedModel> = std::path::PathBuf::from("m.safetensors").into();
/// assert!(matches!(from_file, Stored::File(_)));
/// ```
#[derive(Clone, Debug, PartialEq)]
pub enum Stored<T> {
    /// A file written by [`model_io`](crate::model_io).
    File(PathBuf),
    /// A value in memory.
    Memory(Box<T>),
}

impl<T> From<PathBuf> for Stored<T> {
    fn from(path: PathBuf) -> Self {
        Stored::File(path)
    }
}

impl Stored<SavedModel> {
    /// The model: read from its file, or a copy of the one in memory.
    ///
    /// # Errors
    /// As [`model_io::load_model`](crate::model_io::load_model).
    pub fn load(&self) -> Result<SavedModel> {
        match self {
            Stored::File(p) => crate::model_io::load_model(p),
            Stored::Memory(m) => Ok((**m).clone()),
        }
    }
}

impl Stored<Checkpoint> {
    /// The checkpoint: read from its file, or a copy of the one in memory.
    ///
    /// # Errors
    /// As [`model_io::load_checkpoint`](crate::model_io::load_checkpoint).
    pub fn load(&self) -> Result<Checkpoint> {
        match self {
            Stored::File(p) => crate::model_io::load_checkpoint(p),
            Stored::Memory(c) => Ok((**c).clone()),
        }
    }
}

/// How the per-epoch training figures are measured. The training loss is
/// always the running mean of the epoch's forward passes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TrainMetrics {
    /// The accuracy of the epoch's training forward passes, each batch
    /// before its update (and with dropout's masks), as Keras reports it:
    /// free, since the passes run anyway.
    #[default]
    Running,
    /// The accuracy of a separate pass over the whole training set after
    /// the epoch, with the epoch's final weights: exact, at the cost of
    /// that pass.
    Full,
}

impl std::str::FromStr for TrainMetrics {
    type Err = Error;
    fn from_str(s: &str) -> Result<TrainMetrics> {
        match s {
            "running" => Ok(TrainMetrics::Running),
            "full" => Ok(TrainMetrics::Full),
            other => Err(Error::config(
                "train_metrics",
                format!("{other:?}: give running or full"),
            )),
        }
    }
}

impl Default for FitSpec {
    fn default() -> Self {
        FitSpec {
            data: DataSource::default(),
            read: ReadOverrides::default(),
            test_data: None,
            test_labels: None,
            validation_split: None,
            hidden_layers: None,
            activation: None,
            init: None,
            head: None,
            epochs: DEFAULT_EPOCHS,
            batch_size: None,
            lr: None,
            optimizer: None,
            clip_norm: None,
            schedule: None,
            warmup_epochs: None,
            early_stopping: None,
            dropout: None,
            label_smoothing: None,
            decay_by_weight: None,
            lbfgs: None,
            class_weight: None,
            positive_class: None,
            threads: 0,
            shard_rows: None,
            seed: None,
            shuffle: true,
            standardize: true,
            standardize_targets: true,
            init_model: None,
            resume: None,
            checkpoint: None,
            checkpoint_every: 1,
            train_metrics: TrainMetrics::default(),
        }
    }
}

/// Checks that `path` (the value of `option`) can be written: its folder
/// exists and is writable, and it is not a folder (links followed; a
/// device or FIFO is taken as it is). Nothing is left behind.
///
/// # Errors
/// [`Error::Config`] naming `option`.
///
/// ```
/// use backprop::fit::check_output_path;
/// let dir = tempfile::tempdir().unwrap();
/// check_output_path("out", &dir.path().join("model.safetensors"))?;
/// assert!(check_output_path("out", dir.path()).is_err());
/// assert!(check_output_path("out", &dir.path().join("no/such/m")).is_err());
/// # Ok::<(), backprop::Error>(())
/// ```
pub fn check_output_path(option: &'static str, path: &Path) -> Result<()> {
    check_writable(path).map_err(|reason| Error::config(option, reason))
}

/// Checks that no two of `outputs` (option, path) name the same file, however
/// spelled (`./m.st` and `m.st`, a link and its target): each would replace
/// the other's bytes.
///
/// # Errors
/// [`Error::Config`] naming the later option of the first clashing pair,
/// its message the earlier one.
///
/// ```
/// use std::path::Path;
/// use backprop::fit::check_distinct_outputs;
/// let (a, b) = (Path::new("m.st"), Path::new("./m.st"));
/// check_distinct_outputs(&[("out", a), ("plot", Path::new("c.svg"))])?;
/// let e = check_distinct_outputs(&[("out", a), ("checkpoint", b)]).unwrap_err();
/// assert_eq!(
///     e.to_string(),
///     "invalid option checkpoint: ./m.st is the file out writes too (m.st); give each output its own file"
/// );
/// # Ok::<(), backprop::Error>(())
/// ```
pub fn check_distinct_outputs(outputs: &[(&'static str, &Path)]) -> Result<()> {
    let files: Vec<PathBuf> = outputs.iter().map(|(_, p)| identity(p)).collect();
    for (j, (option, path)) in outputs.iter().enumerate() {
        if let Some(i) = (0..j).find(|&i| files[i] == files[j]) {
            let (other, other_path) = outputs[i];
            return Err(Error::config(
                option,
                format!(
                    "{} is the file {} writes too ({}); give each output its own file",
                    path.display(),
                    mention(other, None),
                    other_path.display()
                ),
            ));
        }
    }
    Ok(())
}

/// Checks the fields that need no data.
pub(super) fn check_spec(spec: &FitSpec) -> Result<()> {
    if spec.epochs == 0 {
        return Err(Error::config("epochs", "must be at least 1"));
    }
    if spec.checkpoint_every == 0 {
        return Err(Error::config("checkpoint_every", "must be at least 1"));
    }
    if spec.shard_rows == Some(0) {
        return Err(Error::config("shard_rows", "must be at least 1"));
    }
    if spec.batch_size == Some(0) {
        return Err(Error::config("batch_size", "must be at least 1"));
    }
    if spec.init_model.is_some() && spec.resume.is_some() {
        return Err(Error::config(
            "init_model",
            "a resumed run continues from its checkpoint's weights; give one of the two",
        ));
    }
    if spec.test_labels.is_some() && spec.test_data.is_none() {
        return Err(Error::config(
            "test_labels",
            "labels of what? no test data given",
        ));
    }
    let files = spec.read.labels_path.is_some() || spec.test_data.is_some();
    match &spec.data {
        DataSource::BreastCancer if files => {
            return Err(Error::config(
                "data",
                "labels and test data files go with a data file; the embedded set has its own",
            ))
        }
        DataSource::Tables { .. } if spec.read.labels_path.is_some() => {
            return Err(Error::config(
                "read.labels_path",
                "tables in memory hold their labels already",
            ))
        }
        DataSource::Tables { test: Some(_), .. } if spec.test_data.is_some() => {
            return Err(Error::config(
                "test_data",
                "the tables have a test table already",
            ))
        }
        _ => {}
    }
    if let Some(p) = &spec.checkpoint {
        check_output_path("checkpoint", p)?;
    }
    if let Some(cfg) = &spec.lbfgs {
        check_lbfgs(spec, cfg)?;
    }
    Ok(())
}

/// L-BFGS takes every row at each evaluation and finds its own steps: the
/// options of mini-batch steps are refused with it, and so are checkpoints
/// (its memory is not stored in them).
fn check_lbfgs(spec: &FitSpec, cfg: &LbfgsConfig) -> Result<()> {
    cfg.validate()?;
    let schedule = spec.schedule.is_some_and(|s| s != LrSchedule::Constant);
    for (given, option) in [
        (spec.batch_size.is_some(), "batch_size"),
        (spec.lr.is_some(), "lr"),
        (schedule, "lr_schedule"),
        (spec.warmup_epochs.is_some_and(|w| w > 0), "warmup_epochs"),
        (spec.clip_norm.is_some(), "clip_norm"),
        (spec.dropout.is_some_and(|d| d > 0.0), "dropout"),
        (spec.early_stopping.is_some(), "early_stopping"),
        (spec.resume.is_some(), "resume"),
        (spec.checkpoint.is_some(), "checkpoint"),
    ] {
        if given {
            return Err(Error::config(
                option,
                "L-BFGS evaluates every training row at each step and finds its own step \
                 lengths; it takes no such option (and writes no checkpoints)",
            ));
        }
    }
    if spec
        .optimizer
        .is_some_and(|o| o.kind == OptimizerKind::AdamW)
    {
        return Err(Error::config(
            "optimizer",
            "L-BFGS adds the L2 term to its objective; AdamW's decoupled decay has no meaning \
             there: give the weight decay with another rule",
        ));
    }
    Ok(())
}

impl FitSpec {
    /// This spec with the seed's plain network written in where it sets
    /// none: 16 sigmoid hidden units, plain SGD at 0.5 (or the optimizer's
    /// rate), the classic initialisation ([`Init::Auto`]). It is the
    /// embedded demo's recipe, which `train --preset classic` applies to any
    /// data (and cross-validation to the embedded set's folds). With an
    /// initial model or a checkpoint, whose network is given, only the
    /// optimizer and its rate are filled in.
    ///
    /// ```
    /// use backprop::{Activation, FitSpec, Init};
    /// let c = FitSpec::default().classic();
    /// assert_eq!(c.hidden_layers, Some(vec![16]));
    /// assert_eq!(c.activation, Some(Activation::Sigmoid));
    /// assert_eq!((c.lr, c.init), (Some(0.5), Some(Init::Auto)));
    /// let mine = FitSpec { hidden_layers: Some(vec![8]), ..FitSpec::default() }.classic();
    /// assert_eq!(mine.hidden_layers, Some(vec![8]));
    /// ```
    pub fn classic(&self) -> FitSpec {
        if self.lbfgs.is_some() {
            // full-batch L-BFGS has no rate or schedule to fill in
            if self.init_model.is_some() {
                return self.clone();
            }
            return FitSpec {
                hidden_layers: self.hidden_layers.clone().or(Some(vec![16])),
                activation: self.activation.or(Some(Activation::Sigmoid)),
                init: self.init.or(Some(Init::Auto)),
                ..self.clone()
            };
        }
        let optimizer = self.optimizer.unwrap_or_else(|| default_optimizer(true));
        let trained = FitSpec {
            optimizer: Some(optimizer),
            lr: Some(self.lr.unwrap_or_else(|| default_lr(optimizer.kind, true))),
            // a resumed run keeps its checkpoint's schedule
            schedule: match self.resume {
                Some(_) => self.schedule,
                None => Some(self.schedule.unwrap_or_else(|| default_schedule(true))),
            },
            ..self.clone()
        };
        if self.init_model.is_some() || self.resume.is_some() {
            return trained;
        }
        FitSpec {
            hidden_layers: Some(self.hidden_layers.clone().unwrap_or_else(|| vec![16])),
            activation: Some(self.activation.unwrap_or(Activation::Sigmoid)),
            init: Some(self.init.unwrap_or(Init::Auto)),
            ..trained
        }
    }
}

/// The optimizer when none is given: plain SGD for the embedded demo (the
/// rule of `docs/backprop.md`), Adam with PyTorch's constants for a user's
/// data (scikit-learn's `MLPClassifier` default too).
pub fn default_optimizer(embedded: bool) -> OptimizerConfig {
    OptimizerConfig {
        kind: if embedded {
            OptimizerKind::Sgd
        } else {
            OptimizerKind::Adam
        },
        ..OptimizerConfig::default()
    }
}

/// The learning rate when none is given, per optimizer: SGD 0.1 (0.5 on the
/// embedded demo), Adam and AdamW 0.006 (0.003 on the embedded demo, whose
/// schedule stays constant), RMSprop 0.001.
pub fn default_lr(kind: OptimizerKind, embedded: bool) -> f32 {
    match kind {
        OptimizerKind::Sgd if embedded => 0.5,
        OptimizerKind::Sgd => 0.1,
        OptimizerKind::Adam | OptimizerKind::AdamW if embedded => 0.003,
        OptimizerKind::Adam | OptimizerKind::AdamW => 0.006,
        OptimizerKind::RmsProp => 0.001,
    }
}

/// The learning-rate schedule when none is given: constant on the embedded
/// demo, flat-cos (flat for half the run, then a half cosine to 0) on a
/// user's data (measured: README, "What the defaults do").
pub fn default_schedule(embedded: bool) -> LrSchedule {
    if embedded {
        LrSchedule::Constant
    } else {
        LrSchedule::FlatCos
    }
}
