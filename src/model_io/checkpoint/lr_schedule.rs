//! The step-size section: gradient clipping, the learning-rate schedule
//! with its warm-up, and reduce-on-plateau's state (checkpoint version 3).

use super::keys::{f64_bits, read_f32, read_f64_bits, read_usize};
use super::types::CheckpointConfig;
use crate::error::Result;
use crate::model_io::message::quote;
use crate::model_io::safetensors::{Metadata, Parsed};
use crate::model_io::schema::{
    fmt_f32, CLIP_NORM, LR_COSINE_EPOCHS, LR_GAMMA, LR_MIN, LR_PATIENCE, LR_POWER_T, LR_ROWS,
    LR_SCHEDULE, LR_STEP_EPOCHS, PLATEAU_BAD_EPOCHS, PLATEAU_BEST_BITS, PLATEAU_FACTOR_BITS,
    WARMUP_EPOCHS,
};
use crate::schedule::{LrSchedule, PlateauState, Scheduler};

/// The step-size section as read.
pub(super) struct StepSize {
    pub(super) clip_norm: Option<f32>,
    pub(super) schedule: LrSchedule,
    pub(super) warmup_epochs: usize,
    pub(super) plateau: PlateauState,
}

/// Writes the step-size section of `cfg`: `plateau` only for a plateau
/// schedule.
pub(super) fn encode(md: &mut Metadata, cfg: &CheckpointConfig, plateau: &PlateauState) {
    let mut put = |k: &str, v: String| {
        md.insert(k.to_string(), v);
    };
    if let Some(c) = cfg.train.clip_norm {
        put(CLIP_NORM, fmt_f32(c));
    }
    put(LR_SCHEDULE, cfg.train.schedule.name().to_string());
    match cfg.train.schedule {
        LrSchedule::Constant | LrSchedule::FlatCos | LrSchedule::CosLog4 | LrSchedule::OneCycle => {
        }
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
        LrSchedule::InvScaling { power_t, rows } => {
            put(LR_POWER_T, fmt_f32(power_t));
            put(LR_ROWS, rows.to_string());
        }
        LrSchedule::Plateau { patience, gamma } => {
            put(LR_PATIENCE, patience.to_string());
            put(LR_GAMMA, fmt_f32(gamma));
            put(PLATEAU_BEST_BITS, f64_bits(plateau.best));
            put(PLATEAU_BAD_EPOCHS, plateau.bad_epochs.to_string());
            put(PLATEAU_FACTOR_BITS, f64_bits(plateau.factor));
        }
    }
    put(WARMUP_EPOCHS, cfg.train.warmup_epochs.to_string());
}

/// Reads the step-size section of a run at learning rate `lr` over
/// `epochs_total` epochs, and checks that it makes a schedule. Before
/// version 3 (`v3` false): no clipping, a constant rate, no warm-up.
pub(super) fn decode(
    file: &Parsed<'_>,
    v3: bool,
    lr: f32,
    epochs_total: usize,
) -> Result<StepSize> {
    if !v3 {
        return Ok(StepSize {
            clip_norm: None,
            schedule: LrSchedule::Constant,
            warmup_epochs: 0,
            plateau: PlateauState::default(),
        });
    }
    let clip_norm = match file.get(CLIP_NORM) {
        None => None,
        Some(_) => Some(read_f32(file, CLIP_NORM)?),
    };
    let (schedule, plateau) = decode_schedule(file)?;
    let warmup_epochs = read_usize(file, WARMUP_EPOCHS)?;
    // (a bad lr itself is reported by the checkpoint's rules)
    if lr.is_finite() && lr > 0.0 {
        Scheduler::new(lr, schedule, warmup_epochs, epochs_total)
            .map_err(|e| file.err(format!("the learning-rate schedule: {e}")))?;
    }
    if let Some(c) = clip_norm {
        if !(c.is_finite() && c > 0.0) {
            return Err(file.err(format!("{CLIP_NORM} {c} must be finite and positive")));
        }
    }
    Ok(StepSize {
        clip_norm,
        schedule,
        warmup_epochs,
        plateau,
    })
}

/// The schedule named by `checkpoint.lr_schedule` with its constants, and
/// the plateau state (the default for other schedules).
fn decode_schedule(file: &Parsed<'_>) -> Result<(LrSchedule, PlateauState)> {
    let schedule = match file.require(LR_SCHEDULE)? {
        "constant" => LrSchedule::Constant,
        "flat-cos" => LrSchedule::FlatCos,
        "coslog4" => LrSchedule::CosLog4,
        "one-cycle" => LrSchedule::OneCycle,
        "invscaling" => LrSchedule::InvScaling {
            power_t: read_f32(file, LR_POWER_T)?,
            rows: read_usize(file, LR_ROWS)?,
        },
        "step" => LrSchedule::Step {
            every_epochs: read_usize(file, LR_STEP_EPOCHS)?,
            gamma: read_f32(file, LR_GAMMA)?,
        },
        "cosine" => LrSchedule::Cosine {
            min_lr: read_f32(file, LR_MIN)?,
            epochs: read_usize(file, LR_COSINE_EPOCHS)?,
        },
        "plateau" => {
            let plateau = PlateauState {
                best: read_f64_bits(file, PLATEAU_BEST_BITS)?,
                bad_epochs: read_usize(file, PLATEAU_BAD_EPOCHS)?,
                factor: read_f64_bits(file, PLATEAU_FACTOR_BITS)?,
            };
            if !(plateau.factor.is_finite() && plateau.factor > 0.0) || plateau.best.is_nan() {
                return Err(file.err(format!(
                    "{PLATEAU_FACTOR_BITS} or {PLATEAU_BEST_BITS} is not a valid state \
                     (factor {}, best {})",
                    plateau.factor, plateau.best
                )));
            }
            let schedule = LrSchedule::Plateau {
                patience: read_usize(file, LR_PATIENCE)?,
                gamma: read_f32(file, LR_GAMMA)?,
            };
            return Ok((schedule, plateau));
        }
        other => {
            return Err(file.err(format!(
                "{LR_SCHEDULE} {} is not a schedule (known: constant, step, cosine, plateau, \
                 flat-cos, coslog4, one-cycle, invscaling)",
                quote(other)
            )))
        }
    };
    Ok((schedule, PlateauState::default()))
}
