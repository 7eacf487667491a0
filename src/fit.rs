//! The training session: a [`FitSpec`] → the data loaded and prepared, the
//! head and network chosen (or taken from an initial model or a checkpoint),
//! the configuration merged and checked → [`Prepared`] → the epoch loop with
//! held-out evaluation, checkpoints, interrupts and [`FitCallbacks`] →
//! [`FitOutcome`].
//!
//! This is the one complete training loop of the crate: the command line's
//! `train`, the tests and any other front call it. Like [`Trainer`], a run
//! gives the same bits for any thread count, and a run resumed from a
//! checkpoint — written between epochs or, after an interrupt, inside one —
//! gives the bits of a run that never stopped.
//!
//! Errors name the [`FitSpec`] field at fault (`Error::Config { option:
//! "epochs", .. }`); errors from the layers below may still name a
//! command-line flag (`--lr`).
//!
//! ```
//! use backprop::fit::FitSpec;
//! // the embedded breast-cancer set: 30-16-1 sigmoid network, 455/114 split
//! let run = FitSpec { epochs: 5, threads: 1, ..FitSpec::default() }.fit()?;
//! assert_eq!(run.history.len(), 5);
//! let last = run.history.last().unwrap();
//! assert!(last.val_accuracy.unwrap() > 0.9); // test accuracy
//! assert_eq!(run.meta.extra["train.epochs"], "5");
//! # Ok::<(), backprop::Error>(())
//! ```

use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use crate::activation::{Activation, Head};
use crate::data::{self, ClassMap, ClassWeight, Dataset, LoadOptions, RawTable};
use crate::error::{Error, Result};
use crate::infer::{Inference, DEFAULT_CHUNK_ROWS};
use crate::model_io::{self, Checkpoint, CheckpointConfig, ModelMeta, OptimizerState, SavedModel};
use crate::network::Mlp;
use crate::optim::{OptimizerConfig, OptimizerKind};
use crate::pipeline::{self, ReadOverrides};
use crate::schedule::LrSchedule;
use crate::stopping::{EarlyStopState, EarlyStopping, Monitor};
use crate::tensor::Matrix;
use crate::train::{EpochOutcome, EpochProgress, TrainConfig, Trainer};

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
    /// [`FitSpec::read`] says. Defaults: 64 relu hidden units, Adam at 0.003.
    File(PathBuf),
    /// Tables already in memory (e.g. from [`data::csv::parse`]), with an
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
    /// share in both parts; see [`pipeline::split`]).
    pub validation_split: Option<f64>,
    /// Hidden layer sizes (input and output sizes come from the data)
    /// [default: 16 on the embedded set, else 64; an initial or resumed
    /// model's].
    pub hidden_layers: Option<Vec<usize>>,
    /// Hidden activation [default: sigmoid on the embedded set, else relu].
    pub activation: Option<Activation>,
    /// Output head [default: from the labels, see [`pipeline::default_head`]].
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
    /// The learning-rate schedule [default: constant, or the checkpoint's].
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
    /// Weigh the classes of a single-label classifier in the training loss:
    /// `balanced` or per class name; multiplies the tables' row weights
    /// ([`RawTable::weights`]) [default: none, or the checkpoint's].
    /// Validation and test figures are not weighted.
    pub class_weight: Option<ClassWeight>,
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
    /// Start from this model file's weights and preprocessing.
    pub init_model: Option<PathBuf>,
    /// Continue from this checkpoint, bit for bit, up to `epochs` in total.
    pub resume: Option<PathBuf>,
    /// Write a checkpoint here every `checkpoint_every` epochs, after the
    /// last epoch, and when the run is stopped or interrupted.
    pub checkpoint: Option<PathBuf>,
    /// Epochs between checkpoints (at least 1).
    pub checkpoint_every: usize,
    /// How the per-epoch training accuracy is measured.
    pub train_metrics: TrainMetrics,
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
            class_weight: None,
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

impl FitSpec {
    /// Prepares and runs the whole session without callbacks or a way to
    /// stop it: [`prepare`] then [`Prepared::run`].
    ///
    /// # Errors
    /// As [`prepare`] and [`Prepared::run`].
    pub fn fit(&self) -> Result<FitOutcome> {
        prepare(self, &mut ())?.run(&AtomicBool::new(false), &mut ())
    }
}

/// One epoch's figures, as the history keeps them (and plots draw them).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EpochRecord {
    /// 1-based epoch number.
    pub epoch: usize,
    /// Mean training loss.
    pub train_loss: f64,
    /// Held-out (validation or test) loss, if there is a held-out set.
    pub val_loss: Option<f64>,
    /// Training accuracy in `[0, 1]`, for classifiers.
    pub train_accuracy: Option<f64>,
    /// Held-out (validation or test) accuracy in `[0, 1]`, for classifiers
    /// with a held-out set.
    pub val_accuracy: Option<f64>,
    /// Test loss, when a validation split and test data are both given (the
    /// validation set is then the held-out set above; the test set is only
    /// reported).
    pub test_loss: Option<f64>,
    /// Test accuracy, as `test_loss`.
    pub test_accuracy: Option<f64>,
}

/// What the held-out figures (`val_loss`, `val_accuracy` of [`EpochRecord`])
/// measure, which names them in reports and legends.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum HeldOut {
    /// A validation split of the training data.
    #[default]
    Validation,
    /// A separate test set.
    Test,
}

impl HeldOut {
    /// The name: `"validation"` or `"test"`.
    ///
    /// ```
    /// use backprop::fit::HeldOut;
    /// assert_eq!(HeldOut::Test.name(), "test");
    /// assert_eq!(HeldOut::default().name(), "validation");
    /// ```
    pub fn name(self) -> &'static str {
        match self {
            HeldOut::Validation => "validation",
            HeldOut::Test => "test",
        }
    }
}

/// A completed epoch, as [`FitCallbacks::on_epoch`] sees it.
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub struct EpochReport {
    /// The losses and accuracies (also pushed to [`FitOutcome::history`]).
    pub record: EpochRecord,
    /// Samples trained on in this call (a resumed epoch: its remaining rows).
    pub samples: usize,
    /// Seconds of training (evaluation excluded).
    pub seconds: f64,
    /// `samples / seconds`.
    pub samples_per_sec: f64,
    /// The held-out R² (the mean over the targets, as early stopping's
    /// `r2` monitor sees it), for an `mse` head with a held-out set.
    pub val_r2: Option<f64>,
}

/// What a prepared run is about to do, for [`FitCallbacks::on_start`].
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct RunInfo {
    /// The training data's name (a file's path, `breast cancer (embedded)`).
    pub data_name: String,
    /// Training rows.
    pub train_rows: usize,
    /// Held-out rows, if there is a held-out set.
    pub held_out_rows: Option<usize>,
    /// What the held-out rows are.
    pub held_out: HeldOut,
    /// Test rows reported beside a validation split, if both are given.
    pub test_rows: Option<usize>,
    /// Input features.
    pub features: usize,
    /// The network's layer sizes, input to output.
    pub sizes: Vec<usize>,
    /// Its hidden activations.
    pub hidden: Vec<Activation>,
    /// Its head.
    pub head: Head,
    /// Its parameter count.
    pub params: usize,
    /// The merged configuration (`epochs` is the total).
    pub config: TrainConfig,
    /// The class weights of the training loss, if any.
    pub class_weight: Option<ClassWeight>,
    /// Where the training rows' own weights come from, if they have any
    /// (`column:NAME`, `table`).
    pub row_weights: Option<String>,
    /// Worker threads in use.
    pub threads: usize,
    /// Rows per shard in use.
    pub shard_rows: usize,
    /// Epochs completed before this run (those of a resumed checkpoint).
    pub first_epoch: usize,
    /// With a checkpoint written inside an epoch: where in epoch
    /// `first_epoch + 1` the run continues.
    pub resume_in_epoch: Option<EpochProgress>,
}

/// Hooks into a session, all no-ops by default. They run on the calling
/// thread except [`FitCallbacks::on_batch`], which runs on one of the
/// trainer's threads (hence `Send`).
pub trait FitCallbacks: Send {
    /// A data file was read (training or test data), before anything else
    /// is checked: what detection decided ([`RawTable::header_guess`]) and
    /// the columns left out ([`RawTable::ignored_columns`]).
    fn on_load(&mut self, table: &RawTable, options: &LoadOptions) {
        let _ = (table, options);
    }
    /// The run starts.
    fn on_start(&mut self, info: &RunInfo) {
        let _ = info;
    }
    /// Epoch `epoch` (1-based, counted over the whole run) starts.
    fn on_epoch_start(&mut self, epoch: usize) {
        let _ = epoch;
    }
    /// After each batch: rows of the epoch done so far and their mean loss.
    fn on_batch(&mut self, epoch: usize, rows_done: usize, mean_loss: f64) {
        let _ = (epoch, rows_done, mean_loss);
    }
    /// After each completed epoch and its evaluation, before its checkpoint.
    /// [`ControlFlow::Break`] ends the run after this epoch
    /// ([`FitEnd::Stopped`], e.g. early stopping): the checkpoint is written
    /// and the model gets its training record as after the last epoch.
    fn on_epoch(&mut self, report: &EpochReport) -> ControlFlow<()> {
        let _ = report;
        ControlFlow::Continue(())
    }
    /// Whether each epoch reports the training accuracy of a classifier
    /// ([`EpochRecord::train_accuracy`] is `None` when not): free with
    /// [`TrainMetrics::Running`], a forward pass over every training row
    /// with [`TrainMetrics::Full`]. It changes no bit of the training.
    /// Default: yes.
    fn wants_train_accuracy(&self) -> bool {
        true
    }
}

/// No callbacks.
impl FitCallbacks for () {}

/// How a run ended.
#[derive(Clone, Debug, PartialEq)]
pub enum FitEnd {
    /// Every epoch up to [`FitSpec::epochs`] was trained.
    Finished,
    /// [`FitCallbacks::on_epoch`] asked to stop after an epoch.
    Stopped,
    /// Early stopping ran out of patience; the weights returned are those
    /// after `best_epoch`.
    EarlyStopped {
        /// The epoch whose weights are returned.
        best_epoch: usize,
    },
    /// The stop flag was set.
    Interrupted(Interruption),
}

/// Where an interrupted run stopped.
#[derive(Clone, Debug, PartialEq)]
pub struct Interruption {
    /// `Some` if it stopped inside epoch [`FitOutcome::epochs`]` + 1`: the
    /// batches of it trained (stored in the checkpoint).
    pub in_epoch: Option<EpochProgress>,
    /// The checkpoint written, if [`FitSpec::checkpoint`] was given.
    pub checkpoint: Option<PathBuf>,
}

/// What a run produced.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct FitOutcome {
    /// The network (after an interrupt: the weights as they are).
    pub mlp: Mlp,
    /// Its metadata. Unless interrupted, `extra` holds the training record
    /// (`train.epochs`, `train.batch_size`, `train.lr`, `train.optimizer`,
    /// `train.seed`, `train.shuffle`, `train.final_train_loss`, and where
    /// measured `train.final_train_accuracy`, `train.final_{held out}_loss`,
    /// `train.final_{held out}_accuracy`); not the thread count, which
    /// changes no bit of the model.
    pub meta: ModelMeta,
    /// The epochs completed in this run (not those before a resume).
    pub history: Vec<EpochRecord>,
    /// What the held-out figures of `history` measure.
    pub held_out: HeldOut,
    /// Epochs completed in all, including those before a resume.
    pub epochs: usize,
    /// Samples trained on in this run.
    pub samples: usize,
    /// Seconds of training in this run, evaluation excluded.
    pub train_seconds: f64,
    /// Wall-clock seconds of the run, evaluation and checkpoints included.
    pub wall_seconds: f64,
    /// Worker threads used.
    pub threads: usize,
    /// How it ended.
    pub end: FitEnd,
}

impl FitOutcome {
    /// Training throughput: samples per second of training.
    pub fn samples_per_sec(&self) -> f64 {
        self.samples as f64 / self.train_seconds.max(f64::MIN_POSITIVE)
    }

    /// Where the run was interrupted, if it was.
    pub fn interruption(&self) -> Option<&Interruption> {
        match &self.end {
            FitEnd::Interrupted(i) => Some(i),
            _ => None,
        }
    }
}

/// A session ready to run: data loaded and preprocessed, network built,
/// configuration checked, trainer allocated.
pub struct Prepared {
    train: Dataset,
    held_out: Option<Dataset>,
    test: Option<Dataset>,
    early: Option<(EarlyStopping, EarlyStopState)>,
    class_weight: Option<ClassWeight>,
    row_weights: Option<String>,
    mlp: Mlp,
    meta: ModelMeta,
    cfg: TrainConfig,
    trainer: Trainer,
    start: Option<EpochProgress>,
    info: RunInfo,
    checkpoint: Option<PathBuf>,
    checkpoint_every: usize,
    /// Whether this process writes the checkpoints: not the ranks of a
    /// group other than 0.
    writes: bool,
    train_metrics: TrainMetrics,
}

/// Checks that `path` (the value of `option`) can be written: its folder
/// exists and is writable, and it is not a folder. Nothing is left behind.
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
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    if path.is_dir() {
        return Err(Error::config(
            option,
            format!("{} is a folder, not a file", path.display()),
        ));
    }
    if !dir.is_dir() {
        return Err(Error::config(
            option,
            format!("the folder {} does not exist", dir.display()),
        ));
    }
    tempfile::Builder::new()
        .prefix(".backprop-write-check")
        .tempfile_in(dir)
        .map_err(|e| Error::config(option, format!("cannot write in {}: {e}", dir.display())))?;
    Ok(())
}

/// Checks the fields that need no data.
fn check_spec(spec: &FitSpec) -> Result<()> {
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
    Ok(())
}

/// Reads a data file, telling `callbacks`.
fn load(path: &Path, opts: &LoadOptions, callbacks: &mut dyn FitCallbacks) -> Result<RawTable> {
    let raw = data::load(path, opts)?;
    callbacks.on_load(&raw, opts);
    Ok(raw)
}

/// Loads the data, chooses the head, builds or takes the network, merges
/// the configuration with a resumed checkpoint's and checks it, and
/// allocates the trainer. Data files read are reported to
/// [`FitCallbacks::on_load`].
///
/// # Errors
/// [`Error::Config`] naming the [`FitSpec`] field at fault (`epochs` of 0 or
/// not above a resumed checkpoint's, `checkpoint_every` of 0, a `head`,
/// `hidden_layers` or `activation` that contradicts the initial or resumed
/// model, an unwritable `checkpoint`, …; the layers below may name a flag
/// such as `--batch-size`); data and model file errors as
/// [`data::load`], [`model_io::load_model`] and [`pipeline`] report them.
pub fn prepare(spec: &FitSpec, callbacks: &mut dyn FitCallbacks) -> Result<Prepared> {
    check_spec(spec)?;
    let checkpoint = match &spec.resume {
        Some(p) => Some(model_io::load_checkpoint(p)?),
        None => None,
    };
    // a checkpoint's weight column is read again (else it would be a feature)
    if let Some(col) = checkpoint
        .as_ref()
        .and_then(|c| c.config.row_weights.as_deref())
        .and_then(|w| w.strip_prefix("column:"))
    {
        if spec.read.weight_column.as_deref() != Some(col) {
            return Err(Error::config(
                "weight_column",
                format!(
                    "the checkpoint was trained with row weights from column:{col}, given {}",
                    spec.read
                        .weight_column
                        .as_ref()
                        .map_or("no weight column".to_string(), |c| format!("column:{c}"))
                ),
            ));
        }
    }
    let init = match &spec.init_model {
        Some(p) => Some(model_io::load_model(p)?),
        None => None,
    };
    let base = checkpoint.as_ref().map(|c| &c.model).or(init.as_ref());
    let seed = spec
        .seed
        .or(checkpoint.as_ref().map(|c| c.config.seed))
        .unwrap_or(DEFAULT_SEED);

    // the data, raw
    let embedded = spec.data == DataSource::BreastCancer;
    let (train_raw, val_raw, name, test_raw) = match &spec.data {
        DataSource::File(p) => {
            let raw = load(p, &spec.read.training_options(), callbacks)?;
            let (train_raw, val_raw) = match spec.validation_split {
                Some(f) => {
                    let (a, b) = pipeline::split(&raw, f, seed, stratify(spec, &raw))?;
                    (a, Some(b))
                }
                None => (raw, None),
            };
            (train_raw, val_raw, p.display().to_string(), None)
        }
        DataSource::BreastCancer => {
            let train = data::embedded::table(
                data::embedded::BREAST_CANCER_TRAIN,
                "breast_cancer.train.csv",
            );
            let test =
                data::embedded::table(data::embedded::BREAST_CANCER_TEST, "breast_cancer.test.csv");
            (
                train,
                None,
                "breast cancer (embedded)".to_string(),
                Some(test),
            )
        }
        DataSource::Tables { train, test } => {
            let (train_raw, val_raw) = match spec.validation_split {
                Some(f) => {
                    let (a, b) = pipeline::split(train, f, seed, stratify(spec, train))?;
                    (a, Some(b))
                }
                None => ((**train).clone(), None),
            };
            let name = train_raw.source_name.clone();
            (train_raw, val_raw, name, test.as_deref().cloned())
        }
    };
    // held-out figures are not weighted
    let val_raw = val_raw.map(|mut v| {
        v.weights = None;
        v
    });
    // A validation split, when given, is the held-out set that schedules
    // (and early stopping) watch; test data is then only reported.
    let has_test = embedded
        || spec.test_data.is_some()
        || matches!(&spec.data, DataSource::Tables { test: Some(_), .. });
    let held_out = if val_raw.is_none() && has_test {
        HeldOut::Test
    } else {
        HeldOut::Validation
    };

    // the head and the preprocessing
    let head = match (spec.head, base) {
        (Some(h), Some(b)) if h != b.mlp.head() => {
            return Err(Error::config(
                "head",
                format!("{h} disagrees with the model's head {}", b.mlp.head()),
            ))
        }
        (_, Some(b)) => b.mlp.head(),
        (Some(h), None) => h,
        (None, None) => pipeline::default_head(&train_raw)?,
    };
    let meta = match base {
        Some(b) => b.meta.clone(),
        None => pipeline::fit_meta(&train_raw, head, spec.standardize, spec.standardize_targets)?,
    };
    // held-out test data: read as the model will read new data (by name)
    let test_raw = match &spec.test_data {
        Some(t) => {
            let opts = ReadOverrides {
                labels_path: spec.test_labels.clone(),
                ..spec.read.clone()
            }
            .model_options(&meta, true);
            Some(load(t, &opts, callbacks)?)
        }
        None => test_raw,
    };
    let (held_out_raw, test_raw) = match val_raw {
        Some(v) => (Some(v), test_raw),
        None => (test_raw, None),
    };

    let mlp = network(spec, base, &meta, head, train_raw.x.cols(), &name, embedded)?;
    let cfg = train_config(spec, checkpoint.as_ref(), embedded)?;
    // the features move from the tables into the datasets (no copy)
    let mut train_raw = train_raw;
    let train = pipeline::take_dataset(&mut train_raw, &meta, mlp.inputs(), mlp.outputs(), head)?;
    let class_weight = match (&spec.class_weight, checkpoint.as_ref()) {
        (cw, Some(c)) => {
            let cw = cw.clone().or(c.config.class_weight.clone());
            if cw != c.config.class_weight {
                return Err(Error::config(
                    "class_weight",
                    format!(
                        "the checkpoint was trained with {}, given {}",
                        show_class_weight(&c.config.class_weight),
                        show_class_weight(&cw)
                    ),
                ));
            }
            cw
        }
        (cw, None) => cw.clone(),
    };
    let row_weights = train_raw.weights.as_ref().map(|_| {
        spec.read
            .weight_column
            .as_ref()
            .map_or_else(|| "table".to_string(), |c| format!("column:{c}"))
    });
    if let Some(c) = checkpoint.as_ref() {
        if row_weights != c.config.row_weights {
            let show = |w: &Option<String>| w.clone().unwrap_or_else(|| "no row weights".into());
            return Err(Error::config(
                "weight_column",
                format!(
                    "the checkpoint was trained with {}, given {}",
                    show(&c.config.row_weights),
                    show(&row_weights)
                ),
            ));
        }
    }
    // the table's label text (a string per row) is encoded in `train` now
    drop(train_raw);
    let train = weigh(train, class_weight.as_ref(), &meta, head)?;
    let prepare_set = |raw: Option<RawTable>| -> Result<Option<Dataset>> {
        raw.map(|mut v| pipeline::take_dataset(&mut v, &meta, mlp.inputs(), mlp.outputs(), head))
            .transpose()
    };
    let held_out_data = prepare_set(held_out_raw)?;
    let test_data = prepare_set(test_raw)?;
    if matches!(cfg.schedule, LrSchedule::Plateau { .. }) && held_out_data.is_none() {
        return Err(Error::config(
            "lr_schedule",
            "plateau watches the validation loss: give test_data or validation_split",
        ));
    }
    let mut trainer = Trainer::new(&mlp, &cfg)?;
    if let Some(c) = &checkpoint {
        trainer.set_rng_state(&c.rng);
        trainer.set_epochs_done(c.epoch);
        trainer.restore_plateau(c.plateau);
        let state = &c.optimizer_state;
        if state.step > 0 || !state.buffers.is_empty() {
            trainer.restore_optimizer(state.step, state.buffers.clone())?;
        }
    }
    let start = checkpoint.as_ref().and_then(|c| c.in_epoch);
    let info = RunInfo {
        data_name: name,
        train_rows: train.rows(),
        held_out_rows: held_out_data.as_ref().map(Dataset::rows),
        held_out,
        test_rows: test_data.as_ref().map(Dataset::rows),
        features: train.features(),
        sizes: mlp.sizes().to_vec(),
        hidden: mlp.hidden().to_vec(),
        head: mlp.head(),
        params: mlp.num_params(),
        config: cfg.clone(),
        class_weight: class_weight.clone(),
        row_weights: row_weights.clone(),
        threads: trainer.threads(),
        shard_rows: trainer.shard_rows(),
        first_epoch: checkpoint.as_ref().map_or(0, |c| c.epoch),
        resume_in_epoch: start,
    };
    let early = match (&spec.early_stopping, checkpoint.as_ref()) {
        (rule, Some(c)) => {
            let rule = rule.or(c.config.early_stopping);
            if rule != c.config.early_stopping {
                return Err(Error::config(
                    "early_stopping",
                    format!(
                        "the checkpoint was trained with {:?}, given {rule:?}",
                        c.config.early_stopping
                    ),
                ));
            }
            rule.zip(c.early_stop.clone())
        }
        (Some(rule), None) => Some((*rule, EarlyStopState::new(rule.monitor, mlp.num_params()))),
        (None, None) => None,
    };
    if let Some((rule, _)) = &early {
        rule.validate()?;
        if held_out != HeldOut::Validation || held_out_data.is_none() {
            return Err(Error::config(
                "early_stopping",
                "early stopping watches a validation split: give validation_split \
                 (test data are only reported)",
            ));
        }
        let fits = match rule.monitor {
            Monitor::Loss => true,
            Monitor::Accuracy => head.is_classifier() && !pipeline::is_multi_label(&meta, head),
            Monitor::R2 => head == Head::Mse,
        };
        if !fits {
            return Err(Error::config(
                "early_stopping.monitor",
                format!("{} does not apply to a {head} head", rule.monitor),
            ));
        }
    }
    Ok(Prepared {
        train,
        held_out: held_out_data,
        test: test_data,
        early,
        class_weight,
        row_weights,
        mlp,
        meta,
        cfg,
        trainer,
        start,
        info,
        checkpoint: spec.checkpoint.clone(),
        checkpoint_every: spec.checkpoint_every,
        writes: true,
        train_metrics: spec.train_metrics,
    })
}

/// Whether a validation split of `raw` is stratified: one label column
/// whose values are classes (the head given, or the default one, is a
/// classifier).
fn stratify(spec: &FitSpec, raw: &RawTable) -> bool {
    if raw.outputs() != 1 {
        return false;
    }
    match spec.head {
        Some(h) => h.is_classifier() && raw.class_map().is_ok(),
        None => pipeline::default_head(raw).is_ok_and(|h| h.is_classifier()),
    }
}

fn show_class_weight(cw: &Option<ClassWeight>) -> String {
    cw.as_ref().map_or_else(
        || "no class weights".to_string(),
        |c| format!("class weights {c}"),
    )
}

/// The training rows with their weights: the class weights of each row's
/// class times the table's row weights (already on `train`).
fn weigh(
    train: Dataset,
    class_weight: Option<&ClassWeight>,
    meta: &ModelMeta,
    head: Head,
) -> Result<Dataset> {
    let Some(cw) = class_weight else {
        return Ok(train);
    };
    let (Some(labels), Some(names)) = (train.labels(), &meta.class_names) else {
        return Err(Error::config(
            "class_weight",
            if head.is_classifier() {
                "class weights need one label column of classes; for multi-label data give \
                 row weights"
            } else {
                "class weights need a classifier; an mse head has no classes"
            },
        ));
    };
    let classes = ClassMap::from_names(names.clone())?;
    let mut w = cw.per_row(&classes, labels)?;
    if let Some(rows) = train.weights() {
        for (w, &r) in w.iter_mut().zip(rows) {
            *w *= r;
        }
    }
    if w.iter().all(|&v| v == 0.0) {
        return Err(Error::config(
            "class_weight",
            format!("{cw} gives every training row a weight of 0"),
        ));
    }
    train.with_weights(w)
}

/// The network: the initial or resumed model's, checked against the spec
/// and the data, or a new one.
fn network(
    spec: &FitSpec,
    base: Option<&SavedModel>,
    meta: &ModelMeta,
    head: Head,
    n_in: usize,
    name: &str,
    embedded: bool,
) -> Result<Mlp> {
    let Some(b) = base else {
        let hidden = spec
            .hidden_layers
            .clone()
            .unwrap_or_else(|| vec![if embedded { 16 } else { 64 }]);
        let mut sizes = vec![n_in];
        sizes.extend(&hidden);
        sizes.push(pipeline::output_size(meta, head));
        let default_act = if embedded {
            Activation::Sigmoid
        } else {
            Activation::Relu
        };
        let act = spec.activation.unwrap_or(default_act);
        return Mlp::new(
            &sizes,
            &vec![act; hidden.len()],
            head,
            spec.seed.unwrap_or(DEFAULT_SEED),
        );
    };
    let m = &b.mlp;
    let hidden_sizes = &m.sizes()[1..m.sizes().len() - 1];
    if let Some(l) = &spec.hidden_layers {
        if l.as_slice() != hidden_sizes {
            return Err(Error::config(
                "hidden_layers",
                format!("{l:?} disagrees with the model's hidden layers {hidden_sizes:?}"),
            ));
        }
    }
    if let Some(a) = spec.activation {
        if m.hidden().iter().any(|&h| h != a) {
            return Err(Error::config(
                "activation",
                format!("{a} disagrees with the model's {:?}", m.hidden()),
            ));
        }
    }
    if m.inputs() != n_in {
        return Err(Error::Data {
            source_name: name.to_string(),
            message: format!(
                "{n_in} feature columns, but the model takes {} inputs",
                m.inputs()
            ),
        });
    }
    Ok(m.clone())
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
/// embedded demo), Adam and AdamW 0.003, RMSprop 0.001.
pub fn default_lr(kind: OptimizerKind, embedded: bool) -> f32 {
    match kind {
        OptimizerKind::Sgd if embedded => 0.5,
        OptimizerKind::Sgd => 0.1,
        OptimizerKind::Adam | OptimizerKind::AdamW => 0.003,
        OptimizerKind::RmsProp => 0.001,
    }
}

/// The configuration: the spec over the defaults, or over a resumed
/// checkpoint's settings, which it must match.
fn train_config(
    spec: &FitSpec,
    checkpoint: Option<&Checkpoint>,
    embedded: bool,
) -> Result<TrainConfig> {
    let Some(c) = checkpoint else {
        let optimizer = spec.optimizer.unwrap_or(default_optimizer(embedded));
        return Ok(TrainConfig {
            batch_size: spec.batch_size.unwrap_or(TrainConfig::default().batch_size),
            lr: spec.lr.unwrap_or(default_lr(optimizer.kind, embedded)),
            optimizer,
            clip_norm: spec.clip_norm,
            schedule: spec.schedule.unwrap_or(LrSchedule::Constant),
            warmup_epochs: spec.warmup_epochs.unwrap_or(0),
            epochs: spec.epochs,
            shard_rows: spec.shard_rows.unwrap_or(0),
            threads: spec.threads,
            seed: spec.seed.unwrap_or(DEFAULT_SEED),
            shuffle: spec.shuffle,
            dropout: spec.dropout.unwrap_or(0.0),
        });
    };
    let cfg = TrainConfig {
        batch_size: spec.batch_size.unwrap_or(c.config.batch_size),
        lr: spec.lr.unwrap_or(c.config.lr),
        optimizer: spec.optimizer.unwrap_or(c.config.optimizer),
        clip_norm: spec.clip_norm.or(c.config.clip_norm),
        schedule: spec.schedule.unwrap_or(c.config.schedule),
        warmup_epochs: spec.warmup_epochs.unwrap_or(c.config.warmup_epochs),
        epochs: spec.epochs,
        shard_rows: spec.shard_rows.unwrap_or(c.config.shard_rows),
        threads: spec.threads,
        seed: spec.seed.unwrap_or(c.config.seed),
        shuffle: spec.shuffle,
        dropout: spec.dropout.unwrap_or(c.config.dropout),
    };
    c.config.check_matches(&cfg)?;
    if c.epoch >= spec.epochs {
        return Err(Error::config(
            "epochs",
            format!(
                "the checkpoint has done {} epochs already; give a larger total",
                c.epoch
            ),
        ));
    }
    Ok(cfg)
}

impl std::fmt::Debug for Prepared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Prepared")
            .field("info", &self.info)
            .finish_non_exhaustive()
    }
}

impl Prepared {
    /// What the run will do (also passed to [`FitCallbacks::on_start`]).
    pub fn info(&self) -> &RunInfo {
        &self.info
    }

    /// The network as the run will start from it.
    pub fn mlp(&self) -> &Mlp {
        &self.mlp
    }

    /// The model's metadata (preprocessing, names), without a training record.
    pub fn meta(&self) -> &ModelMeta {
        &self.meta
    }

    /// The prepared training rows.
    pub fn train_data(&self) -> &Dataset {
        &self.train
    }

    /// The prepared held-out rows, if any.
    pub fn held_out_data(&self) -> Option<&Dataset> {
        self.held_out.as_ref()
    }

    /// Runs the session as one rank of a multi-process job
    /// ([`Trainer::set_group`]): every rank must prepare the same spec and
    /// call [`Prepared::run`]. Each batch's shards are divided among the
    /// ranks; the stop flag and a callback's break are agreed on by all
    /// ranks, so they stop together; the checkpoints are written by rank 0
    /// alone, after the optimizer state is gathered from the ranks that own
    /// its slices. The outcome is the same on every rank, and bitwise the
    /// one-process outcome.
    ///
    /// # Errors
    /// As [`Trainer::set_group`].
    pub fn set_group(&mut self, comm: std::sync::Arc<dyn crate::dist::Collective>) -> Result<()> {
        self.writes = comm.rank() == 0;
        self.trainer.set_group(comm)
    }

    /// Trains up to [`FitSpec::epochs`] in total. After each epoch the
    /// held-out loss (and accuracy, for classifiers) and the training
    /// accuracy are measured, [`FitCallbacks::on_epoch`] is told, and a
    /// checkpoint is written to [`FitSpec::checkpoint`] every
    /// `checkpoint_every` epochs of this run and after the last.
    ///
    /// `stop` is read after every batch: once set, the run stops after the
    /// current batch (or, after an epoch's last batch, at the end of that
    /// epoch), writes a checkpoint that records the position inside the
    /// epoch, and returns [`FitEnd::Interrupted`]; resuming from it gives the
    /// bits of a run that never stopped. The flag is never cleared.
    ///
    /// # Errors
    /// As [`Trainer::epoch_resumable`] ([`Error::Diverged`] naming the batch;
    /// the epoch is that of the last [`FitCallbacks::on_epoch_start`]), and
    /// [`model_io::save_checkpoint`].
    pub fn run(self, stop: &AtomicBool, callbacks: &mut dyn FitCallbacks) -> Result<FitOutcome> {
        let Prepared {
            train,
            held_out,
            test,
            mut early,
            class_weight,
            row_weights,
            mut mlp,
            meta,
            cfg,
            mut trainer,
            mut start,
            info,
            checkpoint,
            checkpoint_every,
            writes,
            train_metrics,
        } = self;
        let started = Instant::now();
        // held-out figures: chunked forward passes on the trainer's threads
        let mut infer = Inference::with_pool(&mlp, trainer.pool(), DEFAULT_CHUNK_ROWS)?;
        callbacks.on_start(&info);
        let first_epoch = info.first_epoch;
        let classifier = mlp.head().is_classifier();
        let save = |mlp: &Mlp,
                    trainer: &Trainer,
                    early: &Option<(EarlyStopping, EarlyStopState)>,
                    epoch: usize,
                    in_epoch: Option<EpochProgress>|
         -> Result<Option<PathBuf>> {
            let Some(path) = &checkpoint else {
                return Ok(None);
            };
            if !writes {
                return Ok(Some(path.clone()));
            }
            let ckpt = Checkpoint {
                model: SavedModel {
                    mlp: mlp.clone(),
                    meta: meta.clone(),
                },
                epoch,
                rng: trainer.rng_state(),
                config: CheckpointConfig {
                    early_stopping: early.as_ref().map(|(rule, _)| *rule),
                    class_weight: class_weight.clone(),
                    row_weights: row_weights.clone(),
                    ..CheckpointConfig::from_train_config(&cfg)
                },
                optimizer_state: OptimizerState {
                    step: trainer.optimizer().step_count(),
                    buffers: trainer.optimizer().buffers(),
                },
                plateau: trainer.plateau_state(),
                early_stop: early.as_ref().map(|(_, state)| state.clone()),
                in_epoch,
            };
            model_io::save_checkpoint(path, &ckpt)?;
            Ok(Some(path.clone()))
        };
        let mut history = Vec::new();
        let (mut samples, mut seconds) = (0usize, 0.0f64);
        let mut done = first_epoch;
        let mut end = FitEnd::Finished;
        // a resumed run that had already run out of patience trains no more
        let mut last_epoch = cfg.epochs;
        if let Some((rule, state)) = &early {
            if state.should_stop(rule) {
                end = FitEnd::EarlyStopped {
                    best_epoch: state.best_epoch,
                };
                last_epoch = first_epoch;
            }
        }
        for epoch in first_epoch + 1..=last_epoch {
            callbacks.on_epoch_start(epoch);
            let outcome = trainer.epoch_resumable(
                &mut mlp,
                &train,
                start.take().as_ref(),
                stop,
                |rows, loss| callbacks.on_batch(epoch, rows, loss),
            )?;
            let stats = match outcome {
                EpochOutcome::Completed(stats) => stats,
                EpochOutcome::Interrupted(progress) => {
                    if checkpoint.is_some() {
                        trainer.gather_optimizer_state()?;
                    }
                    end = FitEnd::Interrupted(Interruption {
                        in_epoch: Some(progress),
                        checkpoint: save(&mlp, &trainer, &early, done, Some(progress))?,
                    });
                    break;
                }
            };
            done = epoch;
            samples += stats.samples;
            seconds += stats.seconds;
            let (val_loss, val_accuracy) =
                figures(&mut infer, &mlp, held_out.as_ref(), classifier)?;
            let (test_loss, test_accuracy) = figures(&mut infer, &mlp, test.as_ref(), classifier)?;
            let train_accuracy = match (train.labels(), train_metrics) {
                _ if !callbacks.wants_train_accuracy() => None,
                (Some(_), TrainMetrics::Running) if classifier => stats.accuracy(train.rows()),
                (Some(l), TrainMetrics::Full) if classifier => {
                    let x = train.prepared();
                    infer
                        .evaluate_targets(&mlp, x, train.targets(), Some(l))?
                        .accuracy
                }
                _ => None,
            };
            let val_r2 = match &held_out {
                Some(v) if mlp.head() == Head::Mse => Some(r2_of(&mut infer, &mlp, v)?),
                _ => None,
            };
            let report = EpochReport {
                record: EpochRecord {
                    epoch,
                    train_loss: stats.loss,
                    val_loss,
                    train_accuracy,
                    val_accuracy,
                    test_loss,
                    test_accuracy,
                },
                samples: stats.samples,
                seconds: stats.seconds,
                samples_per_sec: stats.samples as f64 / stats.seconds.max(1e-12),
                val_r2,
            };
            trainer.end_epoch(val_loss);
            let mut out_of_patience = false;
            if let (Some((rule, state)), Some(_)) = (early.as_mut(), held_out.as_ref()) {
                let value = match rule.monitor {
                    Monitor::Loss => val_loss,
                    Monitor::Accuracy => val_accuracy,
                    Monitor::R2 => val_r2,
                }
                .unwrap_or(f64::NAN);
                out_of_patience = state.observe(rule, epoch, value, mlp.params());
            }
            history.push(report.record);
            let flow = callbacks.on_epoch(&report);
            let last = epoch == cfg.epochs;
            // one rank's signal or failed print stops every rank
            let interrupted = !last && trainer.any_rank(stop.load(Ordering::Relaxed))?;
            let early_stop = !last && !interrupted && out_of_patience;
            let broke = !last && !interrupted && trainer.any_rank(flow.is_break())?;
            let stopped = broke || (!last && !interrupted && early_stop);
            let written = if (epoch - first_epoch) % checkpoint_every == 0
                || last
                || interrupted
                || stopped
            {
                if checkpoint.is_some() {
                    trainer.gather_optimizer_state()?;
                }
                save(&mlp, &trainer, &early, epoch, None)?
            } else {
                None
            };
            if interrupted {
                end = FitEnd::Interrupted(Interruption {
                    in_epoch: None,
                    checkpoint: written,
                });
                break;
            }
            if early_stop {
                end = FitEnd::EarlyStopped {
                    best_epoch: early.as_ref().map_or(epoch, |(_, s)| s.best_epoch),
                };
                break;
            }
            if stopped {
                end = FitEnd::Stopped;
                break;
            }
        }
        // the run returns the best epoch's weights (not after an interrupt:
        // those weights are the ones as they are)
        let mut best = None;
        if let Some((rule, state)) = &early {
            if !matches!(end, FitEnd::Interrupted(_)) && state.best_epoch > 0 {
                mlp.params_mut().copy_from_slice(&state.best_params);
                best = Some((rule.monitor, state.best_epoch, state.best));
            }
        }
        let meta = match end {
            FitEnd::Interrupted(_) => meta,
            _ => {
                let mut meta =
                    with_training_record(meta, &cfg, done, history.last(), info.held_out);
                if let Some(cw) = &class_weight {
                    meta.extra
                        .insert("train.class_weight".to_string(), cw.to_string());
                }
                if let Some(w) = &row_weights {
                    meta.extra
                        .insert("train.row_weights".to_string(), w.clone());
                }
                if let Some((monitor, epoch, value)) = best {
                    meta.extra
                        .insert("train.best_epoch".to_string(), epoch.to_string());
                    meta.extra.insert(
                        format!("train.best_validation_{monitor}"),
                        value.to_string(),
                    );
                }
                meta
            }
        };
        Ok(FitOutcome {
            mlp,
            meta,
            history,
            held_out: info.held_out,
            epochs: done,
            samples,
            train_seconds: seconds,
            wall_seconds: started.elapsed().as_secs_f64(),
            threads: trainer.threads(),
            end,
        })
    }
}

/// The mean R² over the targets of `mlp` on `data` (in the trained units:
/// R² does not change under the targets' standardisation).
fn r2_of(infer: &mut Inference, mlp: &Mlp, data: &Dataset) -> Result<f64> {
    let mut out = Matrix::zeros(data.rows(), mlp.outputs());
    infer.predict_into(mlp, data.prepared(), data.rows(), out.as_mut_slice())?;
    Ok(crate::metrics::regression_metrics(&out, &data.y())?.1.r2)
}

/// The loss and, for a classifier with class labels, the accuracy of `mlp`
/// on `data`, if there is such a set.
fn figures(
    infer: &mut Inference,
    mlp: &Mlp,
    data: Option<&Dataset>,
    classifier: bool,
) -> Result<(Option<f64>, Option<f64>)> {
    let Some(v) = data else {
        return Ok((None, None));
    };
    let labels = v.labels().filter(|_| classifier);
    let f = infer.evaluate_targets(mlp, v.prepared(), v.targets(), labels)?;
    Ok((Some(f.loss), f.accuracy))
}

/// `meta` with the run's settings and final metrics in its `extra` entries
/// (`train.*`, shown by `info`); not the thread count, which changes no bit
/// of the model.
fn with_training_record(
    mut meta: ModelMeta,
    cfg: &TrainConfig,
    epochs: usize,
    last: Option<&EpochRecord>,
    held_out: HeldOut,
) -> ModelMeta {
    let mut put = |k: &str, v: String| {
        meta.extra.insert(format!("train.{k}"), v);
    };
    put("epochs", epochs.to_string());
    put("batch_size", cfg.batch_size.to_string());
    put("lr", cfg.lr.to_string());
    let o = &cfg.optimizer;
    put("optimizer", o.kind.name().to_string());
    if o.momentum != 0.0 {
        put("momentum", o.momentum.to_string());
        put("nesterov", o.nesterov.to_string());
    }
    if o.weight_decay != 0.0 {
        put("weight_decay", o.weight_decay.to_string());
    }
    if let Some(c) = cfg.clip_norm {
        put("clip_norm", c.to_string());
    }
    if cfg.dropout != 0.0 {
        put("dropout", cfg.dropout.to_string());
    }
    put("lr_schedule", cfg.schedule.to_string());
    if cfg.warmup_epochs > 0 {
        put("warmup_epochs", cfg.warmup_epochs.to_string());
    }
    put("seed", cfg.seed.to_string());
    put("shuffle", cfg.shuffle.to_string());
    if let Some(r) = last {
        put("final_train_loss", r.train_loss.to_string());
        if let Some(a) = r.train_accuracy {
            put("final_train_accuracy", a.to_string());
        }
        if let Some(l) = r.val_loss {
            put(&format!("final_{}_loss", held_out.name()), l.to_string());
        }
        if let Some(l) = r.test_loss {
            put("final_test_loss", l.to_string());
        }
        if let Some(a) = r.test_accuracy {
            put("final_test_accuracy", a.to_string());
        }
        if let Some(a) = r.val_accuracy {
            put(
                &format!("final_{}_accuracy", held_out.name()),
                a.to_string(),
            );
        }
    }
    meta
}
