//! The run section (the keys of checkpoint version 1 but the optimizer):
//! epochs done and planned, the shuffling RNG's position, batch size,
//! learning rate, seed, shuffling and shard size.

use super::keys::{hex, read_bool, read_u64, read_uint, read_usize};
use super::types::Checkpoint;
use crate::error::Result;
use crate::model_io::message::quote;
use crate::model_io::safetensors::{Metadata, Parsed};
use crate::model_io::schema::{
    fmt_f32, parse_f32, BATCH_SIZE, EPOCH, EPOCHS_TOTAL, LR, LR_BITS, RNG_SEED, RNG_STREAM,
    RNG_WORD_POS, SEED, SHARD_ROWS, SHUFFLE,
};
use crate::train::RngState;

/// The run section as read, for [`CheckpointConfig`](super::types::CheckpointConfig)
/// and [`Checkpoint`].
pub(super) struct Run {
    pub(super) epoch: usize,
    pub(super) epochs_total: usize,
    pub(super) batch_size: usize,
    pub(super) shard_rows: usize,
    pub(super) seed: u64,
    pub(super) rng: RngState,
    pub(super) lr: f32,
    pub(super) shuffle: bool,
}

/// Writes the run section of `ckpt`.
pub(super) fn encode(md: &mut Metadata, ckpt: &Checkpoint) {
    let cfg = &ckpt.config.train;
    let seed_hex: String = ckpt
        .state
        .rng
        .seed
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    for (k, v) in [
        (EPOCH, ckpt.state.epochs_done.to_string()),
        (EPOCHS_TOTAL, cfg.epochs.to_string()),
        (RNG_SEED, seed_hex),
        (RNG_STREAM, ckpt.state.rng.stream.to_string()),
        (RNG_WORD_POS, ckpt.state.rng.word_pos.to_string()),
        (BATCH_SIZE, cfg.batch_size.to_string()),
        (LR, fmt_f32(cfg.lr)),
        (LR_BITS, format!("{:08x}", cfg.lr.to_bits())),
        (SEED, cfg.seed.to_string()),
        (SHUFFLE, cfg.shuffle.to_string()),
        (SHARD_ROWS, cfg.shard_rows.to_string()),
    ] {
        md.insert(k.to_string(), v);
    }
}

/// Reads the run section; the values' rules are checked with the whole
/// checkpoint.
pub(super) fn decode(file: &Parsed<'_>) -> Result<Run> {
    let epoch = read_usize(file, EPOCH)?;
    let epochs_total = read_usize(file, EPOCHS_TOTAL)?;
    let batch_size = read_usize(file, BATCH_SIZE)?;
    let shard_rows = read_usize(file, SHARD_ROWS)?;
    let seed = read_u64(file, SEED)?;
    let stream = read_u64(file, RNG_STREAM)?;
    let word_pos = read_uint(file, RNG_WORD_POS)?;
    let rng_seed = hex::<32>(file, RNG_SEED, file.require(RNG_SEED)?)?;
    let lr = decode_lr(file)?;
    let shuffle = read_bool(file, SHUFFLE)?;
    Ok(Run {
        epoch,
        epochs_total,
        batch_size,
        shard_rows,
        seed,
        rng: RngState {
            seed: rng_seed,
            stream,
            word_pos,
        },
        lr,
        shuffle,
    })
}

/// The learning rate: its bits, which the decimal for people must match.
fn decode_lr(file: &Parsed<'_>) -> Result<f32> {
    let bits_text = file.require(LR_BITS)?;
    let lr = f32::from_bits(u32::from_be_bytes(hex(file, LR_BITS, bits_text)?));
    let lr_text = file.require(LR)?;
    if parse_f32(lr_text).map(f32::to_bits) != Some(lr.to_bits()) {
        return Err(file.err(format!(
            "{LR} {} disagrees with {LR_BITS} {bits_text} ({lr})",
            quote(lr_text)
        )));
    }
    Ok(lr)
}
