//! The resume policy, in one place: a resumed run continues its checkpoint
//! bit for bit, so every setting the spec gives must equal the
//! checkpoint's (the spec may leave it out); only the epoch total and the
//! thread count may change. A setting that differs is refused, naming the
//! field and both values.

use crate::data::ClassWeight;
use crate::error::{Error, Result};
use crate::model_io::Checkpoint;
use crate::optim::OptimizerConfig;
use crate::schedule::LrSchedule;
use crate::stopping::{EarlyStopState, EarlyStopping};
use crate::train::TrainConfig;

use super::spec::{default_lr, default_optimizer, FitSpec, DEFAULT_SEED};

/// The configuration: the spec over the defaults, or over a resumed
/// checkpoint's settings, which it must match.
pub(super) fn train_config(
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
/// let optimizer = c.config.optimizer;
/// fit::continue_on_new_rows(&mut c, &Continuation {
///     batch_size: 64, lr: 0.1, optimizer, clip_norm: None, dropout: 0.0,
///     shuffle: true, class_weight: None, row_weights: false,
/// });
/// let spec = FitSpec { epochs: c.epoch + 1, resume: Some(Stored::Memory(c)), threads: 1,
///     ..FitSpec::default() };
/// assert_eq!(spec.fit()?.epochs, 3);
/// # Ok::<(), backprop::Error>(())
/// ```
pub fn continue_on_new_rows(c: &mut Checkpoint, next: &Continuation) {
    c.config.early_stopping = None;
    c.early_stop = None;
    c.in_epoch = None;
    if next.optimizer.kind == c.config.optimizer.kind {
        c.config.optimizer = next.optimizer;
    }
    if c.config.batch_size != next.batch_size {
        // the shard size a new run with this batch size would take
        c.config.shard_rows = TrainConfig {
            batch_size: next.batch_size,
            shard_rows: 0,
            ..TrainConfig::default()
        }
        .effective_shard_rows();
    }
    c.config.batch_size = next.batch_size;
    c.config.lr = next.lr;
    c.config.clip_norm = next.clip_norm;
    c.config.schedule = LrSchedule::Constant;
    c.config.warmup_epochs = 0;
    c.config.dropout = next.dropout;
    c.config.shuffle = next.shuffle;
    c.config.class_weight = next.class_weight.clone();
    c.config.row_weights = next.row_weights.then(|| "table".to_string());
}
