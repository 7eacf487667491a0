//! The optimizer's sections: its kind, constants and update count (keys),
//! and its buffers (tensors `optimizer.{i}.weight_{buffer}` and
//! `optimizer.{i}.bias_{buffer}`, laid out like the parameters).

use std::collections::BTreeSet;

use super::keys::{read_bool, read_f32, read_u64};
use super::tensors::{insert_layer_tensors, read_layer_tensors};
use super::types::Checkpoint;
use crate::error::Result;
use crate::model_io::format::OPTIMIZERS;
use crate::model_io::message::{data_err, quote};
use crate::model_io::safetensors::{Metadata, Parsed, Tensors};
use crate::model_io::schema::{
    fmt_f32, OPTIMIZER, OPTIMIZER_PREFIX, OPT_ALPHA, OPT_BETA1, OPT_BETA2, OPT_EPS, OPT_MOMENTUM,
    OPT_NESTEROV, OPT_STEP, OPT_WEIGHT_DECAY,
};
use crate::optim::{OptimizerConfig, OptimizerKind};
use crate::train::TrainerState;

/// Writes the optimizer's kind, its constants and `state`'s update count.
pub(super) fn encode(md: &mut Metadata, o: &OptimizerConfig, state: &TrainerState) {
    for (k, v) in [
        (OPTIMIZER, o.kind.name().to_string()),
        (OPT_MOMENTUM, fmt_f32(o.momentum)),
        (OPT_NESTEROV, o.nesterov.to_string()),
        (OPT_BETA1, fmt_f32(o.beta1)),
        (OPT_BETA2, fmt_f32(o.beta2)),
        (OPT_ALPHA, fmt_f32(o.alpha)),
        (OPT_EPS, fmt_f32(o.eps)),
        (OPT_WEIGHT_DECAY, fmt_f32(o.weight_decay)),
        (OPT_STEP, state.optimizer_step.to_string()),
    ] {
        md.insert(k.to_string(), v);
    }
}

/// Reads the optimizer and its update count. Before version 3 (`v3`
/// false) a checkpoint holds only the kind: the constants are the
/// defaults and no update is counted.
pub(super) fn decode(file: &Parsed<'_>, v3: bool) -> Result<(OptimizerConfig, u64)> {
    let text = file.require(OPTIMIZER)?;
    let kind = match text.parse::<OptimizerKind>() {
        Ok(kind) if OPTIMIZERS.contains(&kind.name()) => kind,
        _ => {
            return Err(file.err(format!(
                "{OPTIMIZER} {} is not supported by this build (known: {})",
                quote(text),
                OPTIMIZERS.join(", ")
            )))
        }
    };
    if !v3 {
        let optimizer = OptimizerConfig {
            kind,
            ..OptimizerConfig::default()
        };
        return Ok((optimizer, 0));
    }
    let optimizer = OptimizerConfig {
        kind,
        momentum: read_f32(file, OPT_MOMENTUM)?,
        nesterov: read_bool(file, OPT_NESTEROV)?,
        beta1: read_f32(file, OPT_BETA1)?,
        beta2: read_f32(file, OPT_BETA2)?,
        alpha: read_f32(file, OPT_ALPHA)?,
        eps: read_f32(file, OPT_EPS)?,
        weight_decay: read_f32(file, OPT_WEIGHT_DECAY)?,
    };
    optimizer
        .validate()
        .map_err(|e| file.err(format!("the optimizer's constants: {e}")))?;
    let step = read_u64(file, OPT_STEP)?;
    Ok((optimizer, step))
}

/// Adds the optimizer's buffers as tensors: exactly as many as its kind
/// keeps, each as long as the parameters.
pub(super) fn encode_buffers<'a>(
    tensors: &mut Tensors<'a>,
    ckpt: &'a Checkpoint,
    src: &str,
) -> Result<()> {
    let o = &ckpt.config.train.optimizer;
    let buffers = &ckpt.state.optimizer_buffers;
    let names = o.state_names();
    let n = ckpt.model.mlp.num_params();
    if buffers.len() != names.len() || buffers.iter().any(|b| b.len() != n) {
        return Err(data_err(
            src,
            format!(
                "optimizer '{}' keeps {} buffer(s) of {n} values; the checkpoint has {} of {:?}",
                o.kind,
                names.len(),
                buffers.len(),
                buffers.iter().map(Vec::len).collect::<Vec<_>>()
            ),
        ));
    }
    let sizes = ckpt.model.mlp.sizes();
    for (name, buf) in names.iter().zip(buffers) {
        insert_layer_tensors(
            tensors,
            sizes,
            buf,
            |l, part| state_name(l, part, name),
            src,
        )?;
    }
    Ok(())
}

/// Reads the buffers of `optimizer` for a network of `sizes`: exactly the
/// tensors its kind keeps, and no other `optimizer.*` tensor.
pub(super) fn decode_buffers(
    file: &Parsed<'_>,
    optimizer: &OptimizerConfig,
    sizes: &[usize],
) -> Result<Vec<Vec<f32>>> {
    let names = optimizer.state_names();
    let mut expected = BTreeSet::new();
    let mut buffers = Vec::with_capacity(names.len());
    for name in names {
        let buf = read_layer_tensors(file, sizes, |l, part| state_name(l, part, name))?;
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
            optimizer.kind,
            if names.is_empty() {
                ", which has none"
            } else {
                ""
            }
        )));
    }
    Ok(buffers)
}

/// The tensor of optimizer state `name` for layer `l`'s `part` (`weight`
/// or `bias`): `optimizer.{l}.{part}_{name}`.
fn state_name(l: usize, part: &str, name: &str) -> String {
    format!("{OPTIMIZER_PREFIX}{l}.{part}_{name}")
}
