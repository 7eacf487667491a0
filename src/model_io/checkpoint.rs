//! Training checkpoints: a model file with the checkpoint keys of the
//! [`schema`](super::schema) as well. [`Checkpoint`] and [`CheckpointConfig`],
//! their writer and reader, and the rules their values follow (the in-epoch
//! position of version 2 included).

use std::path::Path;

use super::format::{CHECKPOINT_VERSION, OPTIMIZERS};
use super::message::{data_err, quote};
use super::model::{self, SavedModel};
use super::safetensors::{read, serialize, write_atomic, Parsed};
use super::schema::{
    fmt_f32, parse_f32, parse_hex, parse_uint, read_version, BATCHES_DONE, BATCH_SIZE, BEST_PREFIX,
    CHECKPOINT, CHECKPOINT_KEYS, CHECKPOINT_PREFIX, CLASS_WEIGHT, CLIP_NORM, CORRECT, DROPOUT,
    EPOCH, EPOCHS_TOTAL, ES_BAD_EPOCHS, ES_BEST_BITS, ES_BEST_EPOCH, ES_MIN_DELTA_BITS, ES_MONITOR,
    ES_PATIENCE, IN_EPOCH_VERSION, LOSS_SUM_BITS, LR, LR_BITS, LR_COSINE_EPOCHS, LR_GAMMA, LR_MIN,
    LR_PATIENCE, LR_SCHEDULE, LR_STEP_EPOCHS, OPTIMIZER, OPTIMIZER_PREFIX, OPTIMIZER_VERSION,
    OPT_ALPHA, OPT_BETA1, OPT_BETA2, OPT_EPS, OPT_MOMENTUM, OPT_NESTEROV, OPT_STEP,
    OPT_WEIGHT_DECAY, PLATEAU_BAD_EPOCHS, PLATEAU_BEST_BITS, PLATEAU_FACTOR_BITS, RNG_SEED,
    RNG_STREAM, RNG_WORD_POS, ROW_WEIGHTS, SEED, SHARD_ROWS, SHUFFLE, WARMUP_EPOCHS,
    WEIGHT_SUM_BITS,
};
use crate::data::ClassWeight;
use crate::error::{mention, Error, Result};
use crate::optim::{OptimizerConfig, OptimizerKind};
use crate::schedule::{LrSchedule, PlateauState};
use crate::stopping::{EarlyStopState, EarlyStopping, Monitor};
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
    /// The optimizer and its constants (its kind is one of [`OPTIMIZERS`]).
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

/// The bytes of a checkpoint file.
///
/// # Errors
/// As [`to_bytes`](super::to_bytes) for the model; [`Error::Data`] (source `checkpoint`) for
/// settings a resume could not use: zero batch or shard size, a learning rate
/// that is not finite and positive, `epoch > epochs_total`, an unknown
/// optimizer; with `in_epoch`: `batches_done` of 0, a loss sum that is not
/// finite, `epoch + 1 > epochs_total`, or `rng_at_epoch_start` other than `rng`.
pub fn checkpoint_to_bytes(ckpt: &Checkpoint) -> Result<Vec<u8>> {
    encode(ckpt, "checkpoint")
}

/// Writes a checkpoint to `path` atomically ([`write_atomic`]).
///
/// # Errors
/// As [`checkpoint_to_bytes`] (naming `path`) and [`write_atomic`].
pub fn save_checkpoint(path: &Path, ckpt: &Checkpoint) -> Result<()> {
    let bytes = encode(ckpt, &path.display().to_string())?;
    write_atomic(path, &bytes)
}

/// Reads a checkpoint from the bytes of a checkpoint file: the model as
/// [`from_bytes`](super::from_bytes), then every checkpoint key.
///
/// # Errors
/// [`Error::Data`] with `source_name` for any bad input, including a plain
/// model file (no `checkpoint` key) and a newer checkpoint version.
///
/// ```
/// use backprop::{model_io, Head, Mlp};
/// let bytes = model_io::to_bytes(&Mlp::new(&[2, 1], &[], Head::Mse, 0)?, &Default::default())?;
/// let err = model_io::checkpoint_from_bytes(&bytes, "m.safetensors").unwrap_err();
/// assert_eq!(
///     err.to_string(),
///     "m.safetensors: a model file, not a checkpoint (metadata key 'checkpoint' is missing)"
/// );
/// # Ok::<(), backprop::Error>(())
/// ```
pub fn checkpoint_from_bytes(bytes: &[u8], source_name: &str) -> Result<Checkpoint> {
    decode(&Parsed::open(bytes, source_name)?)
}

/// Reads the checkpoint file at `path`.
///
/// # Errors
/// [`Error::Io`] if the file cannot be read, else as [`checkpoint_from_bytes`].
pub fn load_checkpoint(path: &Path) -> Result<Checkpoint> {
    let bytes = read(path)?;
    checkpoint_from_bytes(&bytes, &path.display().to_string())
}

/// The bytes of a checkpoint file: the model's entries, then the
/// checkpoint keys; `src` names it in errors.
fn encode(ckpt: &Checkpoint, src: &str) -> Result<Vec<u8>> {
    let (tensors, mut md) = model::entries(&ckpt.model.mlp, &ckpt.model.meta, src)?;
    check_checkpoint_values(ckpt, src)?;
    let cfg = &ckpt.config;
    let seed_hex: String = ckpt.rng.seed.iter().map(|b| format!("{b:02x}")).collect();
    for (k, v) in [
        (CHECKPOINT, CHECKPOINT_VERSION.to_string()),
        (EPOCH, ckpt.epoch.to_string()),
        (EPOCHS_TOTAL, cfg.epochs_total.to_string()),
        (RNG_SEED, seed_hex),
        (RNG_STREAM, ckpt.rng.stream.to_string()),
        (RNG_WORD_POS, ckpt.rng.word_pos.to_string()),
        (BATCH_SIZE, cfg.batch_size.to_string()),
        (LR, fmt_f32(cfg.lr)),
        (LR_BITS, format!("{:08x}", cfg.lr.to_bits())),
        (SEED, cfg.seed.to_string()),
        (SHUFFLE, cfg.shuffle.to_string()),
        (SHARD_ROWS, cfg.shard_rows.to_string()),
        (OPTIMIZER, cfg.optimizer.kind.name().to_string()),
    ] {
        md.insert(k.to_string(), v);
    }
    if let Some(p) = &ckpt.in_epoch {
        md.insert(BATCHES_DONE.to_string(), p.batches_done.to_string());
        md.insert(
            LOSS_SUM_BITS.to_string(),
            format!("{:016x}", p.loss_sum.to_bits()),
        );
        if let Some(c) = p.correct {
            md.insert(CORRECT.to_string(), c.to_string());
        }
        // rows done, as an unweighted epoch counts them
        let rows = (p.batches_done as f64) * (cfg.batch_size as f64);
        if p.weight_sum.to_bits() != rows.to_bits() {
            md.insert(
                WEIGHT_SUM_BITS.to_string(),
                format!("{:016x}", p.weight_sum.to_bits()),
            );
        }
    }
    if cfg.dropout != 0.0 {
        md.insert(DROPOUT.to_string(), fmt_f32(cfg.dropout));
    }
    if let Some(cw) = &cfg.class_weight {
        md.insert(CLASS_WEIGHT.to_string(), cw.to_string());
    }
    if let Some(w) = &cfg.row_weights {
        md.insert(ROW_WEIGHTS.to_string(), w.clone());
    }
    let o = &cfg.optimizer;
    let mut put = |k: &str, v: String| {
        md.insert(k.to_string(), v);
    };
    put(OPT_MOMENTUM, fmt_f32(o.momentum));
    put(OPT_NESTEROV, o.nesterov.to_string());
    put(OPT_BETA1, fmt_f32(o.beta1));
    put(OPT_BETA2, fmt_f32(o.beta2));
    put(OPT_ALPHA, fmt_f32(o.alpha));
    put(OPT_EPS, fmt_f32(o.eps));
    put(OPT_WEIGHT_DECAY, fmt_f32(o.weight_decay));
    put(OPT_STEP, ckpt.optimizer_state.step.to_string());
    if let Some(c) = cfg.clip_norm {
        put(CLIP_NORM, fmt_f32(c));
    }
    put(LR_SCHEDULE, cfg.schedule.name().to_string());
    match cfg.schedule {
        LrSchedule::Constant => {}
        LrSchedule::Step {
            every_epochs,
            gamma,
        } => {
            put(LR_STEP_EPOCHS, every_epochs.to_string());
            put(LR_GAMMA, fmt_f32(gamma));
        }
        LrSchedule::Cosine { min_lr, epochs } => {
            put(LR_MIN, fmt_f32(min_lr));
            put(LR_COSINE_EPOCHS, epochs.to_string());
        }
        LrSchedule::Plateau { patience, gamma } => {
            put(LR_PATIENCE, patience.to_string());
            put(LR_GAMMA, fmt_f32(gamma));
            let p = &ckpt.plateau;
            put(PLATEAU_BEST_BITS, format!("{:016x}", p.best.to_bits()));
            put(PLATEAU_BAD_EPOCHS, p.bad_epochs.to_string());
            put(PLATEAU_FACTOR_BITS, format!("{:016x}", p.factor.to_bits()));
        }
    }
    put(WARMUP_EPOCHS, cfg.warmup_epochs.to_string());
    let mut tensors = tensors;
    match (&cfg.early_stopping, &ckpt.early_stop) {
        (None, None) => {}
        (Some(rule), Some(state)) => {
            put(ES_PATIENCE, rule.patience.to_string());
            put(
                ES_MIN_DELTA_BITS,
                format!("{:016x}", rule.min_delta.to_bits()),
            );
            put(ES_MONITOR, rule.monitor.name().to_string());
            put(ES_BEST_BITS, format!("{:016x}", state.best.to_bits()));
            put(ES_BEST_EPOCH, state.best_epoch.to_string());
            put(ES_BAD_EPOCHS, state.bad_epochs.to_string());
            let n = ckpt.model.mlp.num_params();
            if state.best_params.len() != n {
                return Err(data_err(
                    src,
                    format!(
                        "the best epoch's weights have {} values for {n} parameters",
                        state.best_params.len()
                    ),
                ));
            }
            insert_layer_tensors(
                &mut tensors,
                ckpt.model.mlp.sizes(),
                &state.best_params,
                best_name,
                src,
            )?;
        }
        _ => {
            return Err(data_err(
                src,
                "early stopping's settings and state go together: one is missing",
            ))
        }
    }
    let names = o.state_names();
    let sizes = ckpt.model.mlp.sizes();
    let n = ckpt.model.mlp.num_params();
    if ckpt.optimizer_state.buffers.len() != names.len()
        || ckpt.optimizer_state.buffers.iter().any(|b| b.len() != n)
    {
        return Err(data_err(
            src,
            format!(
                "optimizer '{}' keeps {} buffer(s) of {n} values; the checkpoint has {} of {:?}",
                o.kind,
                names.len(),
                ckpt.optimizer_state.buffers.len(),
                ckpt.optimizer_state
                    .buffers
                    .iter()
                    .map(Vec::len)
                    .collect::<Vec<_>>()
            ),
        ));
    }
    for (name, buf) in names.iter().zip(&ckpt.optimizer_state.buffers) {
        insert_layer_tensors(
            &mut tensors,
            sizes,
            buf,
            |l, part| state_name(l, part, name),
            src,
        )?;
    }
    serialize(&tensors, &md, src)
}

/// The rules a checkpoint's values follow, beyond the model's: checked before
/// writing and after reading, so that every file read can be written again.
fn check_checkpoint_values(ckpt: &Checkpoint, src: &str) -> Result<()> {
    let (epoch, cfg) = (ckpt.epoch, &ckpt.config);
    if cfg.batch_size == 0 {
        return Err(data_err(
            src,
            format!("{BATCH_SIZE} is 0: must be at least 1"),
        ));
    }
    if cfg.shard_rows == 0 {
        return Err(data_err(
            src,
            format!("{SHARD_ROWS} is 0: must be at least 1"),
        ));
    }
    if !(cfg.lr.is_finite() && cfg.lr > 0.0) {
        return Err(data_err(
            src,
            format!("{LR} is {}: must be finite and positive", cfg.lr),
        ));
    }
    if epoch > cfg.epochs_total {
        return Err(data_err(
            src,
            format!(
                "{EPOCH} {epoch} is past {EPOCHS_TOTAL} {}",
                cfg.epochs_total
            ),
        ));
    }
    if !OPTIMIZERS.contains(&cfg.optimizer.kind.name()) {
        return Err(data_err(
            src,
            format!(
                "{OPTIMIZER} {} is not supported by this build (known: {})",
                quote(cfg.optimizer.kind.name()),
                OPTIMIZERS.join(", ")
            ),
        ));
    }
    if let Some(p) = &ckpt.in_epoch {
        if p.batches_done == 0 {
            return Err(data_err(
                src,
                format!(
                    "{BATCHES_DONE} is 0: must be at least 1 \
                     (a checkpoint between epochs has no in-epoch keys)"
                ),
            ));
        }
        if !(p.weight_sum.is_finite() && p.weight_sum >= 0.0) {
            return Err(data_err(
                src,
                format!(
                    "{WEIGHT_SUM_BITS} {:016x} is {}: the weight sum must be finite and >= 0",
                    p.weight_sum.to_bits(),
                    p.weight_sum
                ),
            ));
        }
        let rows_done = (p.batches_done as u128) * (cfg.batch_size as u128);
        if let Some(c) = p.correct.filter(|&c| u128::from(c) > rows_done) {
            return Err(data_err(
                src,
                format!(
                    "{CORRECT} {c} is more than the {rows_done} rows of the {} batches done",
                    p.batches_done
                ),
            ));
        }
        if !p.loss_sum.is_finite() {
            return Err(data_err(
                src,
                format!(
                    "{LOSS_SUM_BITS} {:016x} is {}: the loss sum must be finite",
                    p.loss_sum.to_bits(),
                    p.loss_sum
                ),
            ));
        }
        if epoch >= cfg.epochs_total {
            return Err(data_err(
                src,
                format!(
                    "{BATCHES_DONE} {} is a position in epoch {}, past {EPOCHS_TOTAL} {}",
                    p.batches_done,
                    epoch.saturating_add(1),
                    cfg.epochs_total
                ),
            ));
        }
        if p.rng_at_epoch_start != ckpt.rng {
            return Err(data_err(
                src,
                "the in-epoch position's rng_at_epoch_start differs from rng: a checkpoint \
                 inside an epoch stores the RNG at the epoch's start once (where an \
                 interrupted Trainer::epoch_resumable leaves the trainer)",
            ));
        }
    }
    Ok(())
}

/// Reads a parsed checkpoint file: the model as [`model::decode`], then every
/// checkpoint key.
fn decode(file: &Parsed<'_>) -> Result<Checkpoint> {
    if !file.has(CHECKPOINT) {
        return Err(file.err(format!(
            "a model file, not a checkpoint (metadata key '{CHECKPOINT}' is missing)"
        )));
    }
    let version = read_version(file, CHECKPOINT, CHECKPOINT_VERSION, "checkpoint")?;
    let model = model::decode(file)?;
    let uint = |k: &str| -> Result<u128> {
        let t = file.require(k)?;
        parse_uint::<u128>(t)
            .ok_or_else(|| file.err(format!("{k} {} is not a non-negative integer", quote(t))))
    };
    let narrow = |k: &str, max: u128| -> Result<u128> {
        let v = uint(k)?;
        if v > max {
            return Err(file.err(format!("{k} {v} is too large (at most {max})")));
        }
        Ok(v)
    };
    let usize_max = usize::MAX as u128;
    let as_usize = |v: u128| usize::try_from(v).unwrap_or(usize::MAX);
    let epoch = as_usize(narrow(EPOCH, usize_max)?);
    let epochs_total = as_usize(narrow(EPOCHS_TOTAL, usize_max)?);
    let batch_size = as_usize(narrow(BATCH_SIZE, usize_max)?);
    let shard_rows = as_usize(narrow(SHARD_ROWS, usize_max)?);
    let seed = u64::try_from(narrow(SEED, u64::MAX as u128)?).unwrap_or(u64::MAX);
    let stream = u64::try_from(narrow(RNG_STREAM, u64::MAX as u128)?).unwrap_or(u64::MAX);
    let word_pos = uint(RNG_WORD_POS)?;

    let rng_seed = hex::<32>(file, RNG_SEED, file.require(RNG_SEED)?)?;
    let bits_text = file.require(LR_BITS)?;
    let lr = f32::from_bits(u32::from_be_bytes(hex(file, LR_BITS, bits_text)?));
    let lr_text = file.require(LR)?;
    if parse_f32(lr_text).map(f32::to_bits) != Some(lr.to_bits()) {
        return Err(file.err(format!(
            "{LR} {} disagrees with {LR_BITS} {bits_text} ({lr})",
            quote(lr_text)
        )));
    }
    let shuffle = match file.require(SHUFFLE)? {
        "true" => true,
        "false" => false,
        other => {
            return Err(file.err(format!(
                "{SHUFFLE} {} is neither true nor false",
                quote(other)
            )))
        }
    };
    let optimizer_text = file.require(OPTIMIZER)?;
    let kind = match optimizer_text.parse::<OptimizerKind>() {
        Ok(kind) if OPTIMIZERS.contains(&kind.name()) => kind,
        _ => {
            return Err(file.err(format!(
                "{OPTIMIZER} {} is not supported by this build (known: {})",
                quote(optimizer_text),
                OPTIMIZERS.join(", ")
            )))
        }
    };
    let v3 = version >= OPTIMIZER_VERSION;
    let f32_key = |k: &str| -> Result<f32> {
        let t = file.require(k)?;
        parse_f32(t).ok_or_else(|| file.err(format!("{k} {} is not a number", quote(t))))
    };
    let flag = |k: &str| -> Result<bool> {
        match file.require(k)? {
            "true" => Ok(true),
            "false" => Ok(false),
            other => Err(file.err(format!("{k} {} is neither true nor false", quote(other)))),
        }
    };
    let f64_bits = |k: &str| -> Result<f64> {
        Ok(f64::from_bits(u64::from_be_bytes(hex(
            file,
            k,
            file.require(k)?,
        )?)))
    };
    let (optimizer, step, clip_norm, schedule, warmup_epochs, plateau) = if v3 {
        let optimizer = OptimizerConfig {
            kind,
            momentum: f32_key(OPT_MOMENTUM)?,
            nesterov: flag(OPT_NESTEROV)?,
            beta1: f32_key(OPT_BETA1)?,
            beta2: f32_key(OPT_BETA2)?,
            alpha: f32_key(OPT_ALPHA)?,
            eps: f32_key(OPT_EPS)?,
            weight_decay: f32_key(OPT_WEIGHT_DECAY)?,
        };
        optimizer
            .validate()
            .map_err(|e| file.err(format!("the optimizer's constants: {e}")))?;
        let step = u64::try_from(narrow(OPT_STEP, u64::MAX as u128)?).unwrap_or(u64::MAX);
        let clip_norm = match file.get(CLIP_NORM) {
            None => None,
            Some(_) => Some(f32_key(CLIP_NORM)?),
        };
        let mut plateau = PlateauState::default();
        let schedule = match file.require(LR_SCHEDULE)? {
            "constant" => LrSchedule::Constant,
            "step" => LrSchedule::Step {
                every_epochs: as_usize(narrow(LR_STEP_EPOCHS, usize_max)?),
                gamma: f32_key(LR_GAMMA)?,
            },
            "cosine" => LrSchedule::Cosine {
                min_lr: f32_key(LR_MIN)?,
                epochs: as_usize(narrow(LR_COSINE_EPOCHS, usize_max)?),
            },
            "plateau" => {
                plateau = PlateauState {
                    best: f64_bits(PLATEAU_BEST_BITS)?,
                    bad_epochs: as_usize(narrow(PLATEAU_BAD_EPOCHS, usize_max)?),
                    factor: f64_bits(PLATEAU_FACTOR_BITS)?,
                };
                if !(plateau.factor.is_finite() && plateau.factor > 0.0) || plateau.best.is_nan() {
                    return Err(file.err(format!(
                        "{PLATEAU_FACTOR_BITS} or {PLATEAU_BEST_BITS} is not a valid state \
                         (factor {}, best {})",
                        plateau.factor, plateau.best
                    )));
                }
                LrSchedule::Plateau {
                    patience: as_usize(narrow(LR_PATIENCE, usize_max)?),
                    gamma: f32_key(LR_GAMMA)?,
                }
            }
            other => {
                return Err(file.err(format!(
                    "{LR_SCHEDULE} {} is not a schedule (known: constant, step, cosine, plateau)",
                    quote(other)
                )))
            }
        };
        let warmup_epochs = as_usize(narrow(WARMUP_EPOCHS, usize_max)?);
        // (a bad lr itself is reported by check_checkpoint_values)
        if lr.is_finite() && lr > 0.0 {
            crate::schedule::Scheduler::new(lr, schedule, warmup_epochs, epochs_total)
                .map_err(|e| file.err(format!("the learning-rate schedule: {e}")))?;
        }
        if let Some(c) = clip_norm {
            if !(c.is_finite() && c > 0.0) {
                return Err(file.err(format!("{CLIP_NORM} {c} must be finite and positive")));
            }
        }
        (optimizer, step, clip_norm, schedule, warmup_epochs, plateau)
    } else {
        let optimizer = OptimizerConfig {
            kind,
            ..OptimizerConfig::default()
        };
        (
            optimizer,
            0,
            None,
            LrSchedule::Constant,
            0,
            PlateauState::default(),
        )
    };
    // the optimizer's buffers: exactly the tensors its kind keeps
    let names = optimizer.state_names();
    let sizes = model.mlp.sizes().to_vec();
    let mut expected = std::collections::BTreeSet::new();
    let mut buffers = Vec::with_capacity(names.len());
    for name in names {
        let buf = read_layer_tensors(file, &sizes, |l, part| state_name(l, part, name))?;
        for (l, _) in sizes.windows(2).enumerate() {
            expected.insert(state_name(l, "weight", name));
            expected.insert(state_name(l, "bias", name));
        }
        buffers.push(buf);
    }
    if let Some(t) = file
        .tensor_names()
        .into_iter()
        .find(|n| n.starts_with(OPTIMIZER_PREFIX) && !expected.contains(n))
    {
        return Err(file.err(format!(
            "tensor {} is not state of optimizer '{}'{}",
            quote(&t),
            kind,
            if names.is_empty() {
                ", which has none"
            } else {
                ""
            }
        )));
    }
    let optimizer_state = OptimizerState { step, buffers };
    let (early_stopping, early_stop) = if v3 && file.has(ES_PATIENCE) {
        let monitor_text = file.require(ES_MONITOR)?;
        let rule = EarlyStopping {
            patience: as_usize(narrow(ES_PATIENCE, usize_max)?),
            min_delta: f64_bits(ES_MIN_DELTA_BITS)?,
            monitor: monitor_text.parse::<Monitor>().map_err(|_| {
                file.err(format!(
                    "{ES_MONITOR} {} is not one of loss, accuracy, r2",
                    quote(monitor_text)
                ))
            })?,
        };
        rule.validate()
            .map_err(|e| file.err(format!("early stopping: {e}")))?;
        let best_params = read_layer_tensors(file, &sizes, best_name)?;
        let state = EarlyStopState {
            best: f64_bits(ES_BEST_BITS)?,
            best_epoch: as_usize(narrow(ES_BEST_EPOCH, usize_max)?),
            bad_epochs: as_usize(narrow(ES_BAD_EPOCHS, usize_max)?),
            best_params,
        };
        if state.best.is_nan() || state.best_epoch > epoch {
            return Err(file.err(format!(
                "{ES_BEST_BITS}/{ES_BEST_EPOCH} are not a valid state (best {}, epoch {} of {epoch} done)",
                state.best, state.best_epoch
            )));
        }
        (Some(rule), Some(state))
    } else {
        (None, None)
    };
    if let Some(t) = file
        .tensor_names()
        .into_iter()
        .find(|n| n.starts_with(BEST_PREFIX) && early_stop.is_none())
    {
        return Err(file.err(format!(
            "tensor {} belongs to early stopping, which this checkpoint does not use",
            quote(&t)
        )));
    }
    let dropout = match file.get(DROPOUT) {
        Some(_) if v3 => {
            let d = f32_key(DROPOUT)?;
            if !(d > 0.0 && d < 1.0) {
                return Err(file.err(format!("{DROPOUT} {d} is not a probability in (0, 1)")));
            }
            d
        }
        _ => 0.0,
    };
    let class_weight = match file.get(CLASS_WEIGHT) {
        Some(t) if v3 => Some(
            t.parse::<ClassWeight>()
                .map_err(|e| file.err(format!("{CLASS_WEIGHT} {}: {e}", quote(t))))?,
        ),
        _ => None,
    };
    let row_weights = match file.get(ROW_WEIGHTS) {
        Some(t) if v3 => Some(t.to_string()),
        _ => None,
    };
    let config = CheckpointConfig {
        batch_size,
        lr,
        seed,
        shuffle,
        shard_rows,
        optimizer,
        clip_norm,
        schedule,
        warmup_epochs,
        early_stopping,
        dropout,
        class_weight,
        row_weights,
        epochs_total,
    };
    let rng = RngState {
        seed: rng_seed,
        stream,
        word_pos,
    };
    let in_epoch_keys = version >= IN_EPOCH_VERSION;
    let in_epoch = if in_epoch_keys {
        match (file.get(BATCHES_DONE), file.get(LOSS_SUM_BITS)) {
            (None, None) => None,
            (Some(_), Some(bits_text)) => {
                let batches_done = as_usize(narrow(BATCHES_DONE, usize_max)?);
                let loss_sum =
                    f64::from_bits(u64::from_be_bytes(hex(file, LOSS_SUM_BITS, bits_text)?));
                let weight_sum = match file.get(WEIGHT_SUM_BITS) {
                    Some(_) if v3 => f64_bits(WEIGHT_SUM_BITS)?,
                    _ => (batches_done as f64) * (batch_size as f64),
                };
                let correct = match file.get(CORRECT) {
                    Some(_) => Some(narrow(CORRECT, u128::from(u64::MAX))? as u64),
                    None => None,
                };
                Some(EpochProgress {
                    batches_done,
                    loss_sum,
                    weight_sum,
                    rng_at_epoch_start: rng,
                    correct,
                })
            }
            (Some(_), None) => {
                return Err(file.err(format!("{BATCHES_DONE} is given without {LOSS_SUM_BITS}")))
            }
            (None, Some(_)) => {
                return Err(file.err(format!("{LOSS_SUM_BITS} is given without {BATCHES_DONE}")))
            }
        }
    } else {
        None
    };
    let ckpt = Checkpoint {
        model,
        epoch,
        rng,
        config,
        optimizer_state,
        plateau,
        early_stop,
        in_epoch,
    };
    check_checkpoint_values(&ckpt, file.src())?;
    let keys = file.sorted_keys();
    // the version-3 keys this file's settings use, and no others
    let mut used: Vec<&str> = Vec::new();
    if v3 {
        used.extend([
            OPT_MOMENTUM,
            OPT_NESTEROV,
            OPT_BETA1,
            OPT_BETA2,
            OPT_ALPHA,
            OPT_EPS,
            OPT_WEIGHT_DECAY,
            OPT_STEP,
            LR_SCHEDULE,
            WARMUP_EPOCHS,
        ]);
        if ckpt.config.clip_norm.is_some() {
            used.push(CLIP_NORM);
        }
        used.extend(match ckpt.config.schedule {
            LrSchedule::Constant => &[][..],
            LrSchedule::Step { .. } => &[LR_STEP_EPOCHS, LR_GAMMA][..],
            LrSchedule::Cosine { .. } => &[LR_MIN, LR_COSINE_EPOCHS][..],
            LrSchedule::Plateau { .. } => &[
                LR_PATIENCE,
                LR_GAMMA,
                PLATEAU_BEST_BITS,
                PLATEAU_BAD_EPOCHS,
                PLATEAU_FACTOR_BITS,
            ][..],
        });
        if ckpt.config.dropout != 0.0 {
            used.push(DROPOUT);
        }
        if ckpt.config.class_weight.is_some() {
            used.push(CLASS_WEIGHT);
        }
        if ckpt.config.row_weights.is_some() {
            used.push(ROW_WEIGHTS);
        }
        if ckpt.in_epoch.is_some() && file.has(WEIGHT_SUM_BITS) {
            used.push(WEIGHT_SUM_BITS);
        }
        if ckpt.in_epoch.is_some_and(|p| p.correct.is_some()) {
            used.push(CORRECT);
        }
        if ckpt.config.early_stopping.is_some() {
            used.extend([
                ES_PATIENCE,
                ES_MIN_DELTA_BITS,
                ES_MONITOR,
                ES_BEST_BITS,
                ES_BEST_EPOCH,
                ES_BAD_EPOCHS,
            ]);
        }
        debug_assert!(used
            .iter()
            .all(|k| CHECKPOINT_KEYS.iter().any(|&(name, _)| name == *k)));
    }
    let known = |k: &str| {
        (in_epoch_keys && [BATCHES_DONE, LOSS_SUM_BITS].contains(&k)) || used.contains(&k)
    };
    // Reserved keys this version does not use.
    if let Some(k) = keys
        .iter()
        .find(|k| k.starts_with(CHECKPOINT_PREFIX) && !known(k))
    {
        return Err(file.err(format!(
            "metadata key {} is not used by checkpoint version {version}",
            quote(k)
        )));
    }
    if let Some(k) = keys
        .iter()
        .find(|k| k.starts_with(OPTIMIZER_PREFIX) && !known(k))
    {
        return Err(file.err(format!(
            "metadata key {} is not used by optimizer '{}' (checkpoint version {version})",
            quote(k),
            ckpt.config.optimizer.kind
        )));
    }
    Ok(ckpt)
}

/// Adds `buf` (laid out like the parameters of a network of `sizes`) as one
/// tensor per layer and part, named by `name(layer, part)`; every value
/// must be finite. `buf` has exactly the parameter count (checked by callers).
fn insert_layer_tensors<'a>(
    tensors: &mut super::safetensors::Tensors<'a>,
    sizes: &[usize],
    buf: &'a [f32],
    name: impl Fn(usize, &str) -> String,
    src: &str,
) -> Result<()> {
    let mut offset = 0;
    for (l, pair) in sizes.windows(2).enumerate() {
        let (n_in, n_out) = (pair[0], pair[1]);
        for (part, shape) in [("weight", vec![n_out, n_in]), ("bias", vec![n_out])] {
            let len = shape.iter().product::<usize>();
            let values = &buf[offset..offset + len];
            offset += len;
            let t = name(l, part);
            check_state_finite(&t, values, src)?;
            tensors.insert(t, (shape, values));
        }
    }
    Ok(())
}

/// A vector laid out like the parameters, read from one `F32` tensor per
/// layer and part (`weight` shaped `[out, in]`, `bias` `[out]`) named by
/// `name(layer, part)`; every value must be finite.
fn read_layer_tensors(
    file: &Parsed<'_>,
    sizes: &[usize],
    name: impl Fn(usize, &str) -> String,
) -> Result<Vec<f32>> {
    let mut buf = Vec::new();
    for (l, pair) in sizes.windows(2).enumerate() {
        let (n_in, n_out) = (pair[0], pair[1]);
        for (part, shape) in [("weight", vec![n_out, n_in]), ("bias", vec![n_out])] {
            let t = name(l, part);
            let info = file.tensor(&t)?;
            if info.dtype != ::safetensors::Dtype::F32 || info.shape != shape {
                return Err(file.err(format!(
                    "tensor '{t}' has dtype {} and shape {:?}, expected F32 {shape:?}",
                    info.dtype, info.shape
                )));
            }
            let start = buf.len();
            buf.extend(
                file.tensor_bytes(&t)?
                    .chunks_exact(4)
                    .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])),
            );
            check_state_finite(&t, &buf[start..], file.src())?;
        }
    }
    Ok(buf)
}

/// The tensor of the best epoch's weights of layer `l`'s `part`.
fn best_name(l: usize, part: &str) -> String {
    format!("{BEST_PREFIX}{l}.{part}")
}

/// The tensor of optimizer state `name` for layer `l`'s `part` (`weight`
/// or `bias`): `optimizer.{l}.{part}_{name}`.
fn state_name(l: usize, part: &str, name: &str) -> String {
    format!("{OPTIMIZER_PREFIX}{l}.{part}_{name}")
}

fn check_state_finite(name: &str, v: &[f32], src: &str) -> Result<()> {
    match v.iter().position(|x| !x.is_finite()) {
        None => Ok(()),
        Some(i) => Err(data_err(
            src,
            format!(
                "tensor '{name}' holds {} at index {i}: optimizer state must be finite",
                v[i]
            ),
        )),
    }
}

/// The value `text` of `key`: exactly `2 * N` hexadecimal digits.
fn hex<const N: usize>(file: &Parsed<'_>, key: &str, text: &str) -> Result<[u8; N]> {
    parse_hex::<N>(text).ok_or_else(|| {
        file.err(format!(
            "{key} {} is not {} hexadecimal digits",
            quote(text),
            2 * N
        ))
    })
}
