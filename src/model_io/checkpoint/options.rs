//! The section of optional settings (checkpoint version 3), each key absent
//! when unused: dropout, label smoothing, the weight decay's rule for
//! weighted batches, class weights, and where per-row weights came from.

use super::keys::read_f32;
use super::types::CheckpointConfig;
use crate::data::ClassWeight;
use crate::error::Result;
use crate::model_io::message::quote;
use crate::model_io::safetensors::{Metadata, Parsed};
use crate::model_io::schema::{
    fmt_f32, CLASS_WEIGHT, DECAY_BY_WEIGHT, DROPOUT, LABEL_SMOOTHING, ROW_WEIGHTS,
};

/// The optional settings as read: as in [`CheckpointConfig`].
pub(super) struct Options {
    pub(super) dropout: f32,
    pub(super) label_smoothing: f32,
    pub(super) decay_by_weight: bool,
    pub(super) class_weight: Option<ClassWeight>,
    pub(super) row_weights: Option<String>,
}

/// Writes the optional settings `cfg` uses.
pub(super) fn encode(md: &mut Metadata, cfg: &CheckpointConfig) {
    if cfg.train.dropout != 0.0 {
        md.insert(DROPOUT.to_string(), fmt_f32(cfg.train.dropout));
    }
    if cfg.train.label_smoothing != 0.0 {
        md.insert(
            LABEL_SMOOTHING.to_string(),
            fmt_f32(cfg.train.label_smoothing),
        );
    }
    if cfg.train.decay_by_weight {
        md.insert(DECAY_BY_WEIGHT.to_string(), "true".to_string());
    }
    if let Some(cw) = &cfg.class_weight {
        md.insert(CLASS_WEIGHT.to_string(), cw.to_string());
    }
    if let Some(w) = &cfg.row_weights {
        md.insert(ROW_WEIGHTS.to_string(), w.clone());
    }
}

/// Reads the optional settings; before version 3 (`v3` false) there are
/// none, whatever the file holds (its keys are refused later).
pub(super) fn decode(file: &Parsed<'_>, v3: bool) -> Result<Options> {
    let dropout = match file.get(DROPOUT) {
        Some(_) if v3 => {
            let d = read_f32(file, DROPOUT)?;
            if !(d > 0.0 && d < 1.0) {
                return Err(file.err(format!("{DROPOUT} {d} is not a probability in (0, 1)")));
            }
            d
        }
        _ => 0.0,
    };
    let label_smoothing = match file.get(LABEL_SMOOTHING) {
        Some(_) if v3 => {
            let e = read_f32(file, LABEL_SMOOTHING)?;
            if !(e > 0.0 && e < 1.0) {
                return Err(file.err(format!("{LABEL_SMOOTHING} {e} is not in (0, 1)")));
            }
            e
        }
        _ => 0.0,
    };
    let decay_by_weight = match file.get(DECAY_BY_WEIGHT) {
        Some("true") if v3 => true,
        Some(t) if v3 => {
            return Err(file.err(format!(
                "{DECAY_BY_WEIGHT} {} is not 'true' (the key is absent otherwise)",
                quote(t)
            )))
        }
        _ => false,
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
    Ok(Options {
        dropout,
        label_smoothing,
        decay_by_weight,
        class_weight,
        row_weights,
    })
}
