//! What a checkpoint holds: [`Checkpoint`], the run's settings
//! ([`CheckpointConfig`]) and the optimizer's state ([`OptimizerState`]).

use crate::data::ClassWeight;
use crate::error::{mention, Error, Result};
use crate::model_io::model::SavedModel;
use crate::optim::OptimizerConfig;
use crate::schedule::{LrSchedule, PlateauState};
use crate::stopping::{EarlyStopState, EarlyStopping};
use crate::train::{EpochProgress, RngState, TrainConfig};

/// The settings a resumed run needs to continue exactly as an uninterrupted
/// one, and against which the flags of a resumed run are checked.
///
/// The thread count is not among them: it changes nothing but the speed.
///
/// ```
/// use backprop::{model_io::CheckpointConfig, TrainConfig};
/// let cfg = TrainConfig { batch_size: 16, lr: 0.05, epochs: 4, ..TrainConfig::default() };
/// let ck = CheckpointConfig::from_train_config(&cfg);
/// assert_eq!((ck.batch_size, ck.epochs_total, ck.optimizer.kind.name()), (16, 4, "sgd"));
/// assert_eq!(ck.train_config(1).lr, 0.05);
/// ck.check_matches(&cfg)?;
/// # Ok::<(), backprop::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct CheckpointConfig {
    /// Rows per mini-batch.
    pub batch_size: usize,
    /// Learning rate (stored as its exact bits).
    pub lr: f32,
    /// The seed the run started from (its RNG position is [`Checkpoint::rng`]).
    pub seed: u64,
    /// Whether epochs shuffle their rows.
    pub shuffle: bool,
    /// Rows per shard (results depend on it in the last bits).
    pub shard_rows: usize,
    /// The optimizer and its constants (its kind is one of
    /// [`OPTIMIZERS`](crate::model_io::OPTIMIZERS)).
    pub optimizer: OptimizerConfig,
    /// The gradient-norm clipping threshold, if any.
    pub clip_norm: Option<f32>,
    /// The learning-rate schedule.
    pub schedule: LrSchedule,
    /// Epochs of linear warm-up.
    pub warmup_epochs: usize,
    /// Early stopping's settings, if the run stops early.
    pub early_stopping: Option<EarlyStopping>,
    /// The dropout probability (0: none).
    pub dropout: f32,
    /// The class weights, if the run weighs its classes.
    pub class_weight: Option<ClassWeight>,
    /// Where the rows' own weights came from, if they had any
    /// (`column:NAME`, `table`).
    pub row_weights: Option<String>,
    /// The epoch count the run was started with (a resume may go further).
    pub epochs_total: usize,
}

/// The optimizer's state in a checkpoint: updates done and its buffers
/// (as [`crate::optim::Optimizer::buffers`] gives them; none for plain SGD).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct OptimizerState {
    /// Updates applied so far.
    pub step: u64,
    /// One buffer per state name, each as long as the parameter vector.
    pub buffers: Vec<Vec<f32>>,
}

impl CheckpointConfig {
    /// The checkpoint settings of a run configured by `cfg`.
    pub fn from_train_config(cfg: &TrainConfig) -> CheckpointConfig {
        CheckpointConfig {
            batch_size: cfg.batch_size,
            lr: cfg.lr,
            seed: cfg.seed,
            shuffle: cfg.shuffle,
            shard_rows: cfg.effective_shard_rows(),
            optimizer: cfg.optimizer,
            clip_norm: cfg.clip_norm,
            schedule: cfg.schedule,
            warmup_epochs: cfg.warmup_epochs,
            early_stopping: None,
            dropout: cfg.dropout,
            class_weight: None,
            row_weights: None,
            epochs_total: cfg.epochs,
        }
    }

    /// The training configuration that continues the run, with `threads`
    /// worker threads (0: one per core) and `epochs` = `epochs_total`.
    pub fn train_config(&self, threads: usize) -> TrainConfig {
        TrainConfig {
            batch_size: self.batch_size,
            lr: self.lr,
            epochs: self.epochs_total,
            shard_rows: self.shard_rows,
            threads,
            seed: self.seed,
            shuffle: self.shuffle,
            optimizer: self.optimizer,
            clip_norm: self.clip_norm,
            schedule: self.schedule,
            warmup_epochs: self.warmup_epochs,
            dropout: self.dropout,
        }
    }

    /// Checks that `cfg` continues this run: same batch size, learning rate
    /// (bitwise), seed, shuffling and shard size. Epochs and threads may differ.
    ///
    /// # Errors
    /// [`Error::Config`] naming the first option that differs, with both values.
    pub fn check_matches(&self, cfg: &TrainConfig) -> Result<()> {
        let conflict = |option: &'static str, saved: String, given: String| {
            Err(Error::config(
                option,
                format!("the checkpoint was trained with {saved}, given {given}"),
            ))
        };
        if cfg.batch_size != self.batch_size {
            return conflict(
                "batch_size",
                self.batch_size.to_string(),
                cfg.batch_size.to_string(),
            );
        }
        if cfg.lr.to_bits() != self.lr.to_bits() {
            return conflict("lr", self.lr.to_string(), cfg.lr.to_string());
        }
        if cfg.seed != self.seed {
            return conflict("seed", self.seed.to_string(), cfg.seed.to_string());
        }
        if cfg.shuffle != self.shuffle {
            let word = |s: bool| match s {
                true => "shuffling".to_string(),
                false => mention("shuffle", Some("false")),
            };
            return conflict("shuffle", word(self.shuffle), word(cfg.shuffle));
        }
        if cfg.optimizer != self.optimizer {
            return conflict(
                "optimizer",
                format!("{:?}", self.optimizer),
                format!("{:?}", cfg.optimizer),
            );
        }
        let bits = |c: Option<f32>| c.map(f32::to_bits);
        if bits(cfg.clip_norm) != bits(self.clip_norm) {
            return conflict(
                "clip_norm",
                format!("{:?}", self.clip_norm),
                format!("{:?}", cfg.clip_norm),
            );
        }
        if cfg.schedule != self.schedule || cfg.warmup_epochs != self.warmup_epochs {
            return conflict(
                "lr_schedule",
                format!(
                    "{} with {} warm-up epochs",
                    self.schedule, self.warmup_epochs
                ),
                format!("{} with {} warm-up epochs", cfg.schedule, cfg.warmup_epochs),
            );
        }
        if cfg.dropout.to_bits() != self.dropout.to_bits() {
            return conflict("dropout", self.dropout.to_string(), cfg.dropout.to_string());
        }
        if cfg.effective_shard_rows() != self.shard_rows {
            return conflict(
                "shard_rows",
                self.shard_rows.to_string(),
                cfg.effective_shard_rows().to_string(),
            );
        }
        Ok(())
    }
}

/// Everything needed to resume training bit for bit: the model, the number
/// of epochs done, the shuffling RNG's position, the run's settings, and,
/// for a checkpoint written inside an epoch, the position in that epoch.
///
/// ```
/// use backprop::{model_io, Head, Mlp, TrainConfig, Trainer};
/// let mlp = Mlp::new(&[2, 1], &[], Head::Mse, 0)?;
/// let cfg = TrainConfig { epochs: 2, ..TrainConfig::default() };
/// let trainer = Trainer::new(&mlp, &cfg)?;
/// let ckpt = model_io::Checkpoint {
///     model: model_io::SavedModel { mlp, meta: Default::default() },
///     epoch: 1,
///     rng: trainer.rng_state(),
///     config: model_io::CheckpointConfig::from_train_config(&cfg),
///     optimizer_state: model_io::OptimizerState::default(), // plain SGD keeps none
///     plateau: Default::default(),
///     early_stop: None,
///     in_epoch: None,
/// };
/// let bytes = model_io::checkpoint_to_bytes(&ckpt)?;
/// assert_eq!(model_io::checkpoint_from_bytes(&bytes, "c")?, ckpt);
/// // the model loader reads the model part of a checkpoint
/// assert_eq!(model_io::from_bytes(&bytes, "c")?, ckpt.model);
/// # Ok::<(), backprop::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Checkpoint {
    /// The network and its metadata after `epoch` epochs (and the batches
    /// of `in_epoch`).
    pub model: SavedModel,
    /// Epochs completed.
    pub epoch: usize,
    /// Where the trainer's shuffling RNG stands ([`crate::Trainer::rng_state`]).
    /// With `in_epoch`, that is the start of epoch `epoch + 1`, and must equal
    /// `in_epoch.rng_at_epoch_start` (an interrupted
    /// [`crate::Trainer::epoch_resumable`] leaves the trainer there).
    pub rng: RngState,
    /// The run's settings.
    pub config: CheckpointConfig,
    /// The optimizer's step count and buffers.
    pub optimizer_state: OptimizerState,
    /// Reduce-on-plateau's state (the default for other schedules).
    pub plateau: PlateauState,
    /// Early stopping's state, with `config.early_stopping`.
    pub early_stop: Option<EarlyStopState>,
    /// `None` between epochs. `Some` for a checkpoint written inside epoch
    /// `epoch + 1` (after an interrupt): the batches of it already trained,
    /// to be passed as `start` to [`crate::Trainer::epoch_resumable`].
    /// Version 1 checkpoints have none.
    pub in_epoch: Option<EpochProgress>,
}
