//! The resume policy, in one place: a resumed run continues its checkpoint
//! bit for bit, so every setting the spec gives must equal the
//! checkpoint's (the spec may leave it out); only the epoch total and the
//! thread count may change. A setting that differs is refused, naming the
//! field and both values.

use crate::data::ClassWeight;
use crate::error::{mention, Error, Result};
use crate::model_io::Checkpoint;
use crate::optim::OptimizerConfig;
use crate::schedule::LrSchedule;
use crate::stopping::{EarlyStopState, EarlyStopping};
use crate::train::TrainConfig;

use super::spec::{default_lr, default_optimizer, default_schedule, FitSpec, DEFAULT_SEED};

/// The run's settings: the spec's overrides resolved against the defaults
/// of a new run, or against a resumed checkpoint's settings, which they
/// must then match.
pub(super) fn train_config(
    spec: &FitSpec,
    checkpoint: Option<&Checkpoint>,
    embedded: bool,
) -> Result<TrainConfig> {
    let Some(c) = checkpoint else {
        return Ok(resolve(spec, &defaults(spec, embedded)));
    };
    let cfg = resolve(spec, &c.config.train);
    check_matches(&c.config.train, &cfg)?;
    let done = c.state.epochs_done;
    if done >= spec.epochs {
        return Err(Error::config(
            "epochs",
            format!("the checkpoint has done {done} epochs already; give a larger total"),
        ));
    }
    Ok(cfg)
}

/// What a new run takes where the spec is silent: the optimizer of its data
/// source and that optimizer's rate, its schedule ([`default_schedule`]), the
/// seed [`DEFAULT_SEED`], and [`TrainConfig::default`]'s other settings.
fn defaults(spec: &FitSpec, embedded: bool) -> TrainConfig {
    let optimizer = spec.optimizer.unwrap_or(default_optimizer(embedded));
    TrainConfig {
        lr: default_lr(optimizer.kind, embedded),
        optimizer,
        schedule: default_schedule(embedded),
        seed: DEFAULT_SEED,
        ..TrainConfig::default()
    }
}

/// The spec's overrides over `base`: each setting the spec gives replaces
/// base's; the epoch total, thread count and shuffling are always the spec's.
fn resolve(spec: &FitSpec, base: &TrainConfig) -> TrainConfig {
    TrainConfig {
        batch_size: spec.batch_size.unwrap_or(base.batch_size),
        lr: spec.lr.unwrap_or(base.lr),
        optimizer: spec.optimizer.unwrap_or(base.optimizer),
        clip_norm: spec.clip_norm.or(base.clip_norm),
        schedule: match (spec.schedule, base.schedule) {
            // a checkpoint's invscaling knows its rows; the spec's leaves them 0
            (
                Some(LrSchedule::InvScaling { power_t, rows: 0 }),
                LrSchedule::InvScaling { rows, .. },
            ) => LrSchedule::InvScaling { power_t, rows },
            (schedule, base) => schedule.unwrap_or(base),
        },
        warmup_epochs: spec.warmup_epochs.unwrap_or(base.warmup_epochs),
        epochs: spec.epochs,
        shard_rows: spec.shard_rows.unwrap_or(base.shard_rows),
        threads: spec.threads,
        seed: spec.seed.unwrap_or(base.seed),
        shuffle: spec.shuffle,
        dropout: spec.dropout.unwrap_or(base.dropout),
        label_smoothing: spec.label_smoothing.unwrap_or(base.label_smoothing),
        decay_by_weight: spec.decay_by_weight.unwrap_or(base.decay_by_weight),
    }
}

/// Checks that `cfg` continues the run whose settings were `saved`: the
/// same batch size, learning rate (bitwise), seed, shuffling, optimizer,
/// clipping, schedule, dropout, label smoothing and shard size. Epochs and
/// threads may differ.
///
/// ```
/// use backprop::{fit, TrainConfig};
/// let saved = TrainConfig { batch_size: 16, shard_rows: 16, ..TrainConfig::default() };
/// fit::check_matches(&saved, &TrainConfig { threads: 8, epochs: 99, ..saved.clone() })?;
/// let err = fit::check_matches(&saved, &TrainConfig::default()).unwrap_err();
/// assert_eq!(err.to_string(), "invalid option batch_size: the checkpoint was trained with 16, given 32");
/// # Ok::<(), backprop::Error>(())
/// ```
///
/// # Errors
/// [`Error::Config`] naming the first setting that differs, with both values.
pub fn check_matches(saved: &TrainConfig, cfg: &TrainConfig) -> Result<()> {
    if cfg.batch_size != saved.batch_size {
        return conflict(
            "batch_size",
            saved.batch_size.to_string(),
            cfg.batch_size.to_string(),
        );
    }
    if cfg.lr.to_bits() != saved.lr.to_bits() {
        return conflict("lr", saved.lr.to_string(), cfg.lr.to_string());
    }
    if cfg.seed != saved.seed {
        return conflict("seed", saved.seed.to_string(), cfg.seed.to_string());
    }
    if cfg.shuffle != saved.shuffle {
        let word = |s: bool| match s {
            true => "shuffling".to_string(),
            false => mention("shuffle", Some("false")),
        };
        return conflict("shuffle", word(saved.shuffle), word(cfg.shuffle));
    }
    if cfg.optimizer != saved.optimizer {
        return conflict(
            "optimizer",
            format!("{:?}", saved.optimizer),
            format!("{:?}", cfg.optimizer),
        );
    }
    check_steps(saved, cfg)
}

/// A setting of the resumed run that differs from the checkpoint's.
fn conflict(option: &'static str, saved: String, given: String) -> Result<()> {
    Err(Error::config(
        option,
        format!("the checkpoint was trained with {saved}, given {given}"),
    ))
}

/// [`check_matches`] for the settings of each step: clipping, schedule,
/// dropout and shard size.
fn check_steps(saved: &TrainConfig, cfg: &TrainConfig) -> Result<()> {
    let bits = |c: Option<f32>| c.map(f32::to_bits);
    if bits(cfg.clip_norm) != bits(saved.clip_norm) {
        return conflict(
            "clip_norm",
            format!("{:?}", saved.clip_norm),
            format!("{:?}", cfg.clip_norm),
        );
    }
    if cfg.schedule != saved.schedule || cfg.warmup_epochs != saved.warmup_epochs {
        return conflict(
            "lr_schedule",
            format!(
                "{} with {} warm-up epochs",
                saved.schedule, saved.warmup_epochs
            ),
            format!("{} with {} warm-up epochs", cfg.schedule, cfg.warmup_epochs),
        );
    }
    if cfg.dropout.to_bits() != saved.dropout.to_bits() {
        return conflict(
            "dropout",
            saved.dropout.to_string(),
            cfg.dropout.to_string(),
        );
    }
    if cfg.decay_by_weight != saved.decay_by_weight {
        return conflict(
            "decay_by_weight",
            saved.decay_by_weight.to_string(),
            cfg.decay_by_weight.to_string(),
        );
    }
    if cfg.label_smoothing.to_bits() != saved.label_smoothing.to_bits() {
        return conflict(
            "label_smoothing",
            saved.label_smoothing.to_string(),
            cfg.label_smoothing.to_string(),
        );
    }
    if cfg.effective_shard_rows() != saved.shard_rows {
        return conflict(
            "shard_rows",
            saved.shard_rows.to_string(),
            cfg.effective_shard_rows().to_string(),
        );
    }
    Ok(())
}

/// A checkpoint's weight column is read again (else it would be a feature).
pub(super) fn check_weight_column(spec: &FitSpec, c: &Checkpoint) -> Result<()> {
    let Some(col) = c
        .config
        .row_weights
        .as_deref()
        .and_then(|w| w.strip_prefix("column:"))
    else {
        return Ok(());
    };
    if spec.read.weight_column.as_deref() == Some(col) {
        return Ok(());
    }
    Err(Error::config(
        "weight_column",
        format!(
            "the checkpoint was trained with row weights from column:{col}, given {}",
            spec.read
                .weight_column
                .as_ref()
                .map_or("no weight column".to_string(), |c| format!("column:{c}"))
        ),
    ))
}

/// The class weights: the spec's, which must be the checkpoint's if one is
/// resumed.
pub(super) fn class_weight(
    spec: &FitSpec,
    ckpt: Option<&Checkpoint>,
) -> Result<Option<ClassWeight>> {
    let Some(c) = ckpt else {
        return Ok(spec.class_weight.clone());
    };
    let cw = spec.class_weight.clone().or(c.config.class_weight.clone());
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
    Ok(cw)
}

fn show_class_weight(cw: &Option<ClassWeight>) -> String {
    cw.as_ref().map_or_else(
        || "no class weights".to_string(),
        |c| format!("class weights {c}"),
    )
}

/// The training rows' own weights come from where the checkpoint's did.
pub(super) fn check_row_weights(c: &Checkpoint, row_weights: &Option<String>) -> Result<()> {
    if *row_weights == c.config.row_weights {
        return Ok(());
    }
    let show = |w: &Option<String>| w.clone().unwrap_or_else(|| "no row weights".into());
    Err(Error::config(
        "weight_column",
        format!(
            "the checkpoint was trained with {}, given {}",
            show(&c.config.row_weights),
            show(row_weights)
        ),
    ))
}

/// Early stopping's rule and state: the spec's, fresh, or the checkpoint's
/// (which the spec must not change) with its state.
pub(super) fn early_stopping(
    spec: &FitSpec,
    ckpt: Option<&Checkpoint>,
    n_params: usize,
) -> Result<Option<(EarlyStopping, EarlyStopState)>> {
    match (&spec.early_stopping, ckpt) {
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
            Ok(rule.zip(c.early_stop.clone()))
        }
        (Some(rule), None) => Ok(Some((*rule, EarlyStopState::new(rule.monitor, n_params)))),
        (None, None) => Ok(None),
    }
}

/// The settings a checkpoint takes from the call that continues it on new
/// rows (scikit-learn's `partial_fit` reads its parameters on every call).
#[derive(Clone, Debug, PartialEq)]
pub struct Continuation {
    /// Rows per mini-batch (the shard size follows it as a new run's would).
    pub batch_size: usize,
    /// The learning rate.
    pub lr: f32,
    /// The optimizer's constants; its kind must be the checkpoint's (a new
    /// kind is left out here and refused by the resume).
    pub optimizer: OptimizerConfig,
    /// Gradient-norm clipping.
    pub clip_norm: Option<f32>,
    /// The dropout probability.
    pub dropout: f32,
    /// Label smoothing's `ε`.
    pub label_smoothing: f32,
    /// [`TrainConfig::decay_by_weight`].
    pub decay_by_weight: bool,
    /// Whether epochs shuffle their rows.
    pub shuffle: bool,
    /// The class weights.
    pub class_weight: Option<ClassWeight>,
    /// Whether the new rows carry their own weights.
    pub row_weights: bool,
}

/// Makes `c` continue on new rows with `next`'s settings: a constant rate
/// with no warm-up, no early stopping (scikit-learn's `partial_fit` has
/// none) and no position inside an epoch; the epoch count, weights,
/// optimizer state and RNG go on.
///
/// ```
/// use backprop::fit::{self, Continuation, FitSpec, Stored};
/// let mut c = FitSpec { epochs: 2, threads: 1, ..FitSpec::default() }
///     .fit()?
///     .checkpoint
///     .expect("the final state");
/// let optimizer = c.config.train.optimizer;
/// fit::continue_on_new_rows(&mut c, &Continuation {
///     batch_size: 64, lr: 0.1, optimizer, clip_norm: None, dropout: 0.0,
///     label_smoothing: 0.0, decay_by_weight: false, shuffle: true, class_weight: None, row_weights: false,
/// });
/// let spec = FitSpec { epochs: c.state.epochs_done + 1, resume: Some(Stored::Memory(c)), threads: 1,
///     ..FitSpec::default() };
/// assert_eq!(spec.fit()?.epochs, 3);
/// # Ok::<(), backprop::Error>(())
/// ```
pub fn continue_on_new_rows(c: &mut Checkpoint, next: &Continuation) {
    c.config.early_stopping = None;
    c.early_stop = None;
    c.in_epoch = None;
    let t = &mut c.config.train;
    if next.optimizer.kind == t.optimizer.kind {
        t.optimizer = next.optimizer;
    }
    if t.batch_size != next.batch_size {
        // the shard size a new run with this batch size would take
        t.shard_rows = TrainConfig {
            batch_size: next.batch_size,
            shard_rows: 0,
            ..TrainConfig::default()
        }
        .effective_shard_rows();
    }
    t.batch_size = next.batch_size;
    t.lr = next.lr;
    t.clip_norm = next.clip_norm;
    t.schedule = LrSchedule::Constant;
    t.warmup_epochs = 0;
    t.dropout = next.dropout;
    t.label_smoothing = next.label_smoothing;
    t.decay_by_weight = next.decay_by_weight;
    t.shuffle = next.shuffle;
    c.config.class_weight = next.class_weight.clone();
    c.config.row_weights = next.row_weights.then(|| "table".to_string());
}
