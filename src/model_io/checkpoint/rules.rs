//! The rules a checkpoint follows beyond its sections' own: its values
//! (checked before writing and after reading, so that every file read can
//! be written again) and its keys (no reserved key its version or settings
//! do not use).

use super::types::Checkpoint;
use crate::error::Result;
use crate::model_io::format::OPTIMIZERS;
use crate::model_io::message::{data_err, quote};
use crate::model_io::safetensors::Parsed;
use crate::model_io::schema::{
    BATCHES_DONE, BATCH_SIZE, CHECKPOINT_KEYS, CHECKPOINT_PREFIX, CLASS_WEIGHT, CLIP_NORM, CORRECT,
    DECAY_BY_WEIGHT, DROPOUT, EPOCH, EPOCHS_TOTAL, ES_BAD_EPOCHS, ES_BEST_BITS, ES_BEST_EPOCH,
    ES_BEST_FIGURES, ES_MIN_DELTA_BITS, ES_MONITOR, ES_PATIENCE, IN_EPOCH_VERSION, LABEL_SMOOTHING,
    LOSS_SUM_BITS, LR, LR_COSINE_EPOCHS, LR_GAMMA, LR_MIN, LR_PATIENCE, LR_POWER_T, LR_ROWS,
    LR_SCHEDULE, LR_STEP_EPOCHS, OPTIMIZER, OPTIMIZER_PREFIX, OPTIMIZER_VERSION, OPT_ALPHA,
    OPT_BETA1, OPT_BETA2, OPT_EPS, OPT_MOMENTUM, OPT_NESTEROV, OPT_STEP, OPT_WEIGHT_DECAY,
    PLATEAU_BAD_EPOCHS, PLATEAU_BEST_BITS, PLATEAU_FACTOR_BITS, ROW_WEIGHTS, SHARD_ROWS,
    WARMUP_EPOCHS, WEIGHT_SUM_BITS,
};
use crate::schedule::LrSchedule;
use crate::train::EpochProgress;

/// The rules a checkpoint's values follow, beyond the model's: checked before
/// writing and after reading, so that every file read can be written again.
pub(super) fn check_values(ckpt: &Checkpoint, src: &str) -> Result<()> {
    check_settings(ckpt, src)?;
    match &ckpt.in_epoch {
        Some(p) => check_in_epoch(ckpt, p, src),
        None => Ok(()),
    }
}

/// The run's settings and epoch: sizes of at least 1, a finite positive
/// learning rate, `epoch <= epochs_total`, a known optimizer.
fn check_settings(ckpt: &Checkpoint, src: &str) -> Result<()> {
    let (epoch, cfg) = (ckpt.state.epochs_done, &ckpt.config.train);
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
    if epoch > cfg.epochs {
        return Err(data_err(
            src,
            format!("{EPOCH} {epoch} is past {EPOCHS_TOTAL} {}", cfg.epochs),
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
    Ok(())
}

/// The position `p` inside epoch `ckpt.state.epochs_done + 1`: at least one batch,
/// finite sums, no more correct rows than rows done, an epoch the run has,
/// and the RNG stored once.
fn check_in_epoch(ckpt: &Checkpoint, p: &EpochProgress, src: &str) -> Result<()> {
    let (epoch, cfg) = (ckpt.state.epochs_done, &ckpt.config.train);
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
    if epoch >= cfg.epochs {
        return Err(data_err(
            src,
            format!(
                "{BATCHES_DONE} {} is a position in epoch {}, past {EPOCHS_TOTAL} {}",
                p.batches_done,
                epoch.saturating_add(1),
                cfg.epochs
            ),
        ));
    }
    if p.rng_at_epoch_start != ckpt.state.rng {
        return Err(data_err(
            src,
            "the in-epoch position's rng_at_epoch_start differs from rng: a checkpoint \
             inside an epoch stores the RNG at the epoch's start once (where an \
             interrupted Trainer::epoch_resumable leaves the trainer)",
        ));
    }
    Ok(())
}

/// Refuses a reserved key (`checkpoint.*`, `optimizer.*`) that checkpoint
/// `version` or the settings of `ckpt`, read from `file`, do not use.
pub(super) fn check_keys(file: &Parsed<'_>, ckpt: &Checkpoint, version: u32) -> Result<()> {
    let keys = file.sorted_keys();
    let used = if version >= OPTIMIZER_VERSION {
        v3_keys_used(file, ckpt)
    } else {
        Vec::new()
    };
    let in_epoch_keys = version >= IN_EPOCH_VERSION;
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
            ckpt.config.train.optimizer.kind
        )));
    }
    Ok(())
}

/// The version-3 keys the settings of `ckpt` (read from `file`) use, and
/// no others.
fn v3_keys_used(file: &Parsed<'_>, ckpt: &Checkpoint) -> Vec<&'static str> {
    let mut used = vec![
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
    ];
    if ckpt.config.train.clip_norm.is_some() {
        used.push(CLIP_NORM);
    }
    used.extend(match ckpt.config.train.schedule {
        LrSchedule::Constant | LrSchedule::FlatCos | LrSchedule::CosLog4 | LrSchedule::OneCycle => {
            &[][..]
        }
        LrSchedule::Step { .. } => &[LR_STEP_EPOCHS, LR_GAMMA][..],
        LrSchedule::Cosine { .. } => &[LR_MIN, LR_COSINE_EPOCHS][..],
        LrSchedule::InvScaling { .. } => &[LR_POWER_T, LR_ROWS][..],
        LrSchedule::Plateau { .. } => &[
            LR_PATIENCE,
            LR_GAMMA,
            PLATEAU_BEST_BITS,
            PLATEAU_BAD_EPOCHS,
            PLATEAU_FACTOR_BITS,
        ][..],
    });
    if ckpt.config.train.dropout != 0.0 {
        used.push(DROPOUT);
    }
    if ckpt.config.train.label_smoothing != 0.0 {
        used.push(LABEL_SMOOTHING);
    }
    if ckpt.config.train.decay_by_weight {
        used.push(DECAY_BY_WEIGHT);
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
        if file.has(ES_BEST_FIGURES) {
            used.push(ES_BEST_FIGURES);
        }
    }
    debug_assert!(used
        .iter()
        .all(|k| CHECKPOINT_KEYS.iter().any(|&(name, _)| name == *k)));
    used
}
