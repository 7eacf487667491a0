//! The early-stopping section (checkpoint version 3, only for a run that
//! stops early): its settings, its state (with the best epoch's figures),
//! and the best epoch's weights as tensors `checkpoint.best.{i}.weight` and
//! `checkpoint.best.{i}.bias`.

use super::keys::{f64_bits, read_f64_bits, read_usize};
use super::tensors::{insert_layer_tensors, read_layer_tensors};
use super::types::Checkpoint;
use crate::error::Result;
use crate::model_io::message::{data_err, quote};
use crate::model_io::safetensors::{Metadata, Parsed, Tensors};
use crate::model_io::schema::{
    BEST_PREFIX, ES_BAD_EPOCHS, ES_BEST_BITS, ES_BEST_EPOCH, ES_BEST_FIGURES, ES_MIN_DELTA_BITS,
    ES_MONITOR, ES_PATIENCE,
};
use crate::stopping::{EarlyStopState, EarlyStopping, Monitor};

/// Writes the early-stopping section of `ckpt`, if its run stops early:
/// settings and state go together.
pub(super) fn encode<'a>(
    md: &mut Metadata,
    tensors: &mut Tensors<'a>,
    ckpt: &'a Checkpoint,
    src: &str,
) -> Result<()> {
    let (rule, state) = match (&ckpt.config.early_stopping, &ckpt.early_stop) {
        (None, None) => return Ok(()),
        (Some(rule), Some(state)) => (rule, state),
        _ => {
            return Err(data_err(
                src,
                "early stopping's settings and state go together: one is missing",
            ))
        }
    };
    for (k, v) in [
        (ES_PATIENCE, rule.patience.to_string()),
        (ES_MIN_DELTA_BITS, f64_bits(rule.min_delta)),
        (ES_MONITOR, rule.monitor.name().to_string()),
        (ES_BEST_BITS, f64_bits(state.best)),
        (ES_BEST_EPOCH, state.best_epoch.to_string()),
        (ES_BAD_EPOCHS, state.bad_epochs.to_string()),
    ] {
        md.insert(k.to_string(), v);
    }
    if !state.best_figures.is_empty() {
        let figures = serde_json::json!(state.best_figures).to_string();
        md.insert(ES_BEST_FIGURES.to_string(), figures);
    }
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
    let sizes = ckpt.model.mlp.sizes();
    insert_layer_tensors(tensors, sizes, &state.best_params, best_name, src)
}

/// Reads the early-stopping section of a network of `sizes` after `epoch`
/// epochs: present when `checkpoint.es_patience` is (from version 3, `v3`),
/// and then the only owner of `checkpoint.best.*` tensors.
pub(super) fn decode(
    file: &Parsed<'_>,
    v3: bool,
    sizes: &[usize],
    epoch: usize,
) -> Result<(Option<EarlyStopping>, Option<EarlyStopState>)> {
    let (rule, state) = if v3 && file.has(ES_PATIENCE) {
        let rule = decode_rule(file)?;
        let best_params = read_layer_tensors(file, sizes, best_name)?;
        let state = EarlyStopState {
            best: read_f64_bits(file, ES_BEST_BITS)?,
            best_epoch: read_usize(file, ES_BEST_EPOCH)?,
            bad_epochs: read_usize(file, ES_BAD_EPOCHS)?,
            best_params,
            best_figures: match file.get(ES_BEST_FIGURES) {
                None => Default::default(),
                Some(text) => serde_json::from_str(text).map_err(|e| {
                    file.err(format!(
                        "{ES_BEST_FIGURES} is not a JSON object of strings: {e}"
                    ))
                })?,
            },
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
        .find(|n| n.starts_with(BEST_PREFIX) && state.is_none())
    {
        return Err(file.err(format!(
            "tensor {} belongs to early stopping, which this checkpoint does not use",
            quote(&t)
        )));
    }
    Ok((rule, state))
}

/// Early stopping's settings: patience, minimum improvement, what is
/// monitored.
fn decode_rule(file: &Parsed<'_>) -> Result<EarlyStopping> {
    let monitor_text = file.require(ES_MONITOR)?;
    let rule = EarlyStopping {
        patience: read_usize(file, ES_PATIENCE)?,
        min_delta: read_f64_bits(file, ES_MIN_DELTA_BITS)?,
        monitor: monitor_text.parse::<Monitor>().map_err(|_| {
            file.err(format!(
                "{ES_MONITOR} {} is not one of loss, accuracy, r2",
                quote(monitor_text)
            ))
        })?,
    };
    rule.validate()
        .map_err(|e| file.err(format!("early stopping: {e}")))?;
    Ok(rule)
}

/// The tensor of the best epoch's weights of layer `l`'s `part`.
fn best_name(l: usize, part: &str) -> String {
    format!("{BEST_PREFIX}{l}.{part}")
}
