//! The in-epoch section (checkpoint version 2 on), present only in a
//! checkpoint written inside an epoch: the batches done, their loss sum,
//! weight sum (version 3, when it is not their row count) and correct rows.

use super::keys::{f64_bits, read_f64_bits, read_u64, read_usize};
use crate::error::Result;
use crate::model_io::safetensors::{Metadata, Parsed};
use crate::model_io::schema::{
    BATCHES_DONE, CORRECT, IN_EPOCH_VERSION, LOSS_SUM_BITS, OPTIMIZER_VERSION, WEIGHT_SUM_BITS,
};
use crate::train::{EpochProgress, RngState};

/// Writes the position `p` inside an epoch of batches of `batch_size` rows.
pub(super) fn encode(md: &mut Metadata, p: &EpochProgress, batch_size: usize) {
    md.insert(BATCHES_DONE.to_string(), p.batches_done.to_string());
    md.insert(LOSS_SUM_BITS.to_string(), f64_bits(p.loss_sum));
    if let Some(c) = p.correct {
        md.insert(CORRECT.to_string(), c.to_string());
    }
    // rows done, as an unweighted epoch counts them
    let rows = (p.batches_done as f64) * (batch_size as f64);
    if p.weight_sum.to_bits() != rows.to_bits() {
        md.insert(WEIGHT_SUM_BITS.to_string(), f64_bits(p.weight_sum));
    }
}

/// Reads the position inside an epoch, if the checkpoint of `version` has
/// one; `rng` is where that epoch started, `batch_size` its rows per batch.
pub(super) fn decode(
    file: &Parsed<'_>,
    version: u32,
    batch_size: usize,
    rng: RngState,
) -> Result<Option<EpochProgress>> {
    if version < IN_EPOCH_VERSION {
        return Ok(None);
    }
    match (file.get(BATCHES_DONE), file.get(LOSS_SUM_BITS)) {
        (None, None) => return Ok(None),
        (Some(_), Some(_)) => {}
        (Some(_), None) => {
            return Err(file.err(format!("{BATCHES_DONE} is given without {LOSS_SUM_BITS}")))
        }
        (None, Some(_)) => {
            return Err(file.err(format!("{LOSS_SUM_BITS} is given without {BATCHES_DONE}")))
        }
    }
    let batches_done = read_usize(file, BATCHES_DONE)?;
    let loss_sum = read_f64_bits(file, LOSS_SUM_BITS)?;
    let weight_sum = match file.get(WEIGHT_SUM_BITS) {
        Some(_) if version >= OPTIMIZER_VERSION => read_f64_bits(file, WEIGHT_SUM_BITS)?,
        _ => (batches_done as f64) * (batch_size as f64),
    };
    let correct = match file.get(CORRECT) {
        Some(_) => Some(read_u64(file, CORRECT)?),
        None => None,
    };
    Ok(Some(EpochProgress {
        batches_done,
        loss_sum,
        weight_sum,
        rng_at_epoch_start: rng,
        correct,
    }))
}
