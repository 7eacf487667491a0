//! What a checkpoint holds: [`Checkpoint`], the run's settings
//! ([`CheckpointConfig`], embedding the [`TrainConfig`]) and the trainer's
//! state ([`TrainerState`]).

use crate::data::ClassWeight;
use crate::model_io::model::SavedModel;
use crate::stopping::{EarlyStopState, EarlyStopping};
use crate::train::{EpochProgress, TrainConfig, TrainerState};

/// The settings a resumed run needs to continue exactly as an uninterrupted
/// one: the run's [`TrainConfig`] (the one bag of training settings) and
/// what the session adds to it. A resumed session's settings are checked
/// against them ([`crate::fit`]'s resume policy).
///
/// ```
/// use backprop::{model_io::CheckpointConfig, TrainConfig};
/// let cfg = TrainConfig { batch_size: 16, lr: 0.05, epochs: 4, threads: 3, ..TrainConfig::default() };
/// let ck = CheckpointConfig::from_train_config(&cfg);
/// assert_eq!((ck.train.batch_size, ck.train.epochs, ck.train.optimizer.kind.name()), (16, 4, "sgd"));
/// assert_eq!(ck.train_config(1).lr, 0.05);
/// assert_eq!(ck.train.threads, 0); // not stored: it changes no bit
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct CheckpointConfig {
    /// The run's training settings: `epochs` is the total it was started
    /// with (a resume may go further), `shard_rows` the shard size in use
    /// (results depend on it in the last bits), the learning rate is stored
    /// as its exact bits, the optimizer's kind is one of
    /// [`OPTIMIZERS`](crate::model_io::OPTIMIZERS); `threads` is not stored
    /// (0): it changes nothing but the speed.
    pub train: TrainConfig,
    /// Early stopping's settings, if the run stops early.
    pub early_stopping: Option<EarlyStopping>,
    /// The class weights, if the run weighs its classes.
    pub class_weight: Option<ClassWeight>,
    /// Where the rows' own weights came from, if they had any
    /// (`column:NAME`, `table`).
    pub row_weights: Option<String>,
}

impl CheckpointConfig {
    /// The settings of a run configured by `cfg`, with no early stopping
    /// and no weights.
    pub fn from_train_config(cfg: &TrainConfig) -> CheckpointConfig {
        CheckpointConfig {
            train: TrainConfig {
                shard_rows: cfg.effective_shard_rows(),
                threads: 0,
                ..cfg.clone()
            },
            early_stopping: None,
            class_weight: None,
            row_weights: None,
        }
    }

    /// The training settings to resume with on `threads` threads.
    pub fn train_config(&self, threads: usize) -> TrainConfig {
        TrainConfig {
            threads,
            ..self.train.clone()
        }
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
/// let mut trainer = Trainer::new(&mlp, &cfg)?;
/// let ckpt = model_io::Checkpoint {
///     model: model_io::SavedModel { mlp, meta: Default::default() },
///     config: model_io::CheckpointConfig::from_train_config(&cfg),
///     state: trainer.checkpoint()?, // plain SGD keeps no moments
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
    /// The network and its metadata after `state.epochs_done` epochs (and
    /// the batches of `in_epoch`).
    pub model: SavedModel,
    /// The run's settings.
    pub config: CheckpointConfig,
    /// The trainer's state: epochs completed, the shuffling RNG's position,
    /// the optimizer's step count and buffers, reduce-on-plateau's state
    /// (the default for other schedules). With `in_epoch`, the RNG stands
    /// at the start of epoch `epochs_done + 1` and must equal
    /// `in_epoch.rng_at_epoch_start` (an interrupted
    /// [`crate::Trainer::epoch_resumable`] leaves the trainer there).
    pub state: TrainerState,
    /// Early stopping's state, with `config.early_stopping`.
    pub early_stop: Option<EarlyStopState>,
    /// `None` between epochs. `Some` for a checkpoint written inside epoch
    /// `state.epochs_done + 1` (after an interrupt): the batches of it already trained,
    /// to be passed as `start` to [`crate::Trainer::epoch_resumable`].
    /// Version 1 checkpoints have none.
    pub in_epoch: Option<EpochProgress>,
}
