//! What a session tells and returns: per-epoch records and reports, the
//! run's description, the callbacks, how it ended, its outcome and the
//! training record kept in the model.

use std::collections::BTreeMap;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

use crate::activation::{Activation, Head};
use crate::data::{ClassWeight, LoadOptions, RawTable};
use crate::lbfgs::LbfgsStop;
use crate::meta::{BestEpoch, TrainingRecord};
use crate::model_io::{Checkpoint, ModelMeta};
use crate::network::Mlp;
use crate::train::{EpochProgress, TrainConfig};

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
    /// Held-out R² (the mean over the targets, as early stopping's `r2`
    /// monitor sees it), for an `mse` head with a held-out set.
    pub val_r2: Option<f64>,
    /// Test R², as `test_loss`, for an `mse` head.
    pub test_r2: Option<f64>,
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
    /// The losses, accuracies and R² (also pushed to [`FitOutcome::history`]).
    pub record: EpochRecord,
    /// Samples trained on in this call (a resumed epoch: its remaining rows).
    pub samples: usize,
    /// Seconds of training (evaluation excluded).
    pub seconds: f64,
    /// `samples / seconds`.
    pub samples_per_sec: f64,
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
    /// A binary classifier's positive class (stored in the model).
    pub positive_class: Option<String>,
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
    /// A data file is about to be read (training or test data; `-` is
    /// standard input), so that a front end can say which one an interrupt
    /// stopped.
    fn on_load_start(&mut self, path: &Path) {
        let _ = path;
    }
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
    /// [`TrainMetrics::Running`](super::TrainMetrics::Running), a forward pass over every training row
    /// with [`TrainMetrics::Full`](super::TrainMetrics::Full). It changes no bit of the training.
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
    /// Every epoch up to [`FitSpec::epochs`](super::FitSpec::epochs) was trained.
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
    /// Full-batch L-BFGS ended before its last iteration: it converged, ran
    /// out of evaluations, or its line search found no step
    /// ([`LbfgsStop::converged`] tells which).
    Solver(LbfgsStop),
}

/// Where an interrupted run stopped.
#[derive(Clone, Debug, PartialEq)]
pub struct Interruption {
    /// `Some` if it stopped inside epoch [`FitOutcome::epochs`]` + 1`: the
    /// batches of it trained (stored in the checkpoint).
    pub in_epoch: Option<EpochProgress>,
    /// The checkpoint written, if [`FitSpec::checkpoint`](super::FitSpec::checkpoint) was given.
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
    /// changes no bit of the model. `train.init`, the rule that drew the
    /// weights when it is not [`crate::Init::Auto`], is there from the start,
    /// interrupted or not.
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
    /// The training record written into `meta.extra` (`None` after an
    /// interrupt, whose model keeps no record).
    pub record: Option<TrainingRecord>,
    /// The state at the end of the run, as a checkpoint written then would
    /// hold it (what a later session resumes from); `None` after an
    /// interrupt (see [`Interruption::checkpoint`]) or when no epoch ran.
    pub checkpoint: Option<Box<Checkpoint>>,
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

/// The training record of a run that was not interrupted: its settings,
/// final figures, weights and best epoch, as [`ModelMeta::extra`] keeps
/// them (`train.*`, shown by `info`); not the thread count, which changes
/// no bit of the model.
pub(super) struct RunRecord<'a> {
    pub cfg: &'a TrainConfig,
    pub epochs: usize,
    /// The `final_*` figures of the epoch whose weights are kept ([`record_figures`]
    /// of the best one with early stopping, else of the last).
    pub saved: BTreeMap<String, String>,
    pub class_weight: Option<&'a ClassWeight>,
    pub row_weights: Option<&'a str>,
    pub best: Option<BestEpoch>,
}

impl RunRecord<'_> {
    /// The record, typed where it is read back ([`TrainingRecord::best`]).
    pub(super) fn record(&self) -> TrainingRecord {
        let mut entries = BTreeMap::new();
        let mut put = |k: &str, v: String| {
            entries.insert(k.to_string(), v);
        };
        let cfg = self.cfg;
        put("epochs", self.epochs.to_string());
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
        if cfg.label_smoothing != 0.0 {
            put("label_smoothing", cfg.label_smoothing.to_string());
        }
        if cfg.decay_by_weight {
            put("decay_by_weight", "true".to_string());
        }
        put("lr_schedule", cfg.schedule.to_string());
        if cfg.warmup_epochs > 0 {
            put("warmup_epochs", cfg.warmup_epochs.to_string());
        }
        put("seed", cfg.seed.to_string());
        put("shuffle", cfg.shuffle.to_string());
        for (k, v) in &self.saved {
            put(k, v.clone());
        }
        if let Some(cw) = self.class_weight {
            put("class_weight", cw.to_string());
        }
        if let Some(w) = self.row_weights {
            put("row_weights", w.to_string());
        }
        if let Some(b) = &self.best {
            put("best_epoch", b.epoch.to_string());
            put(
                &format!("best_validation_{}", b.monitor),
                b.value.to_string(),
            );
        }
        TrainingRecord {
            entries,
            best: self.best,
        }
    }
}

/// An epoch's figures as the training record's `final_*` entries (those of
/// the weights a run keeps: the last epoch's, or the best one's).
pub(super) fn record_figures(r: &EpochRecord, held_out: HeldOut) -> BTreeMap<String, String> {
    let mut entries = BTreeMap::new();
    let mut put = |k: &str, v: String| {
        entries.insert(k.to_string(), v);
    };
    final_figures(r, held_out, &mut put);
    entries
}

/// [`record_figures`], each entry given to `put`.
fn final_figures(r: &EpochRecord, held_out: HeldOut, put: &mut impl FnMut(&str, String)) {
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
