//! The checkpoint file: a model file with the checkpoint's sections as
//! well, written and read section by section in one fixed order (the order
//! in which a bad file's first problem is found).

use std::path::Path;

use super::rules::{check_keys, check_values};
use super::types::{Checkpoint, CheckpointConfig};
use super::{early_stop, in_epoch, lr_schedule, optimizer, options, run};
use crate::error::Result;
use crate::model_io::format::CHECKPOINT_VERSION;
use crate::model_io::model;
use crate::model_io::output::write_atomic;
use crate::model_io::safetensors::{read, serialize, Parsed};
use crate::model_io::schema::{read_version, CHECKPOINT, OPTIMIZER_VERSION};
use crate::train::{TrainConfig, TrainerState};

/// The bytes of a checkpoint file.
///
/// # Errors
/// As [`to_bytes`](crate::model_io::to_bytes) for the model;
/// [`Error::Data`](crate::Error::Data) (source `checkpoint`) for settings a
/// resume could not use: zero batch or shard size, a learning rate that is
/// not finite and positive, `epoch > epochs_total`, an unknown
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
/// [`from_bytes`](crate::model_io::from_bytes), then every checkpoint key.
///
/// # Errors
/// [`Error::Data`](crate::Error::Data) with `source_name` for any bad input,
/// including a plain model file (no `checkpoint` key) and a newer checkpoint
/// version.
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
/// [`Error::Io`](crate::Error::Io) if the file cannot be read, else as
/// [`checkpoint_from_bytes`].
pub fn load_checkpoint(path: &Path) -> Result<Checkpoint> {
    let bytes = read(path)?;
    checkpoint_from_bytes(&bytes, &path.display().to_string())
}

/// The bytes of a checkpoint file: the model's entries, then the
/// checkpoint's sections; `src` names it in errors.
fn encode(ckpt: &Checkpoint, src: &str) -> Result<Vec<u8>> {
    let (mut tensors, mut md) = model::entries(&ckpt.model.mlp, &ckpt.model.meta, src)?;
    check_values(ckpt, src)?;
    let cfg = &ckpt.config;
    md.insert(CHECKPOINT.to_string(), CHECKPOINT_VERSION.to_string());
    run::encode(&mut md, ckpt);
    optimizer::encode(&mut md, &cfg.train.optimizer, &ckpt.state);
    lr_schedule::encode(&mut md, cfg, &ckpt.state.plateau);
    options::encode(&mut md, cfg);
    if let Some(p) = &ckpt.in_epoch {
        in_epoch::encode(&mut md, p, cfg.train.batch_size);
    }
    // the sections that can fail, in the order their checks have always run
    early_stop::encode(&mut md, &mut tensors, ckpt, src)?;
    optimizer::encode_buffers(&mut tensors, ckpt, src)?;
    serialize(&tensors, &md, src)
}

/// Reads a parsed checkpoint file: the model as [`model::decode`], then the
/// checkpoint's sections, then the rules of the whole.
fn decode(file: &Parsed<'_>) -> Result<Checkpoint> {
    if !file.has(CHECKPOINT) {
        return Err(file.err(format!(
            "a model file, not a checkpoint (metadata key '{CHECKPOINT}' is missing)"
        )));
    }
    let version = read_version(file, CHECKPOINT, CHECKPOINT_VERSION, "checkpoint")?;
    let v3 = version >= OPTIMIZER_VERSION;
    let model = model::decode(file)?;
    let run = run::decode(file)?;
    let (optimizer, step) = optimizer::decode(file, v3)?;
    let steps = lr_schedule::decode(file, v3, run.lr, run.epochs_total)?;
    let sizes = model.mlp.sizes();
    let buffers = optimizer::decode_buffers(file, &optimizer, sizes)?;
    let (early_stopping, early_stop) = early_stop::decode(file, v3, sizes, run.epoch)?;
    let options = options::decode(file, v3)?;
    let in_epoch = in_epoch::decode(file, version, run.batch_size, run.rng)?;
    let config = CheckpointConfig {
        train: TrainConfig {
            batch_size: run.batch_size,
            lr: run.lr,
            optimizer,
            clip_norm: steps.clip_norm,
            schedule: steps.schedule,
            warmup_epochs: steps.warmup_epochs,
            epochs: run.epochs_total,
            shard_rows: run.shard_rows,
            threads: 0,
            seed: run.seed,
            shuffle: run.shuffle,
            dropout: options.dropout,
            label_smoothing: options.label_smoothing,
            decay_by_weight: options.decay_by_weight,
        },
        early_stopping,
        class_weight: options.class_weight,
        row_weights: options.row_weights,
    };
    let ckpt = Checkpoint {
        model,
        config,
        state: TrainerState {
            epochs_done: run.epoch,
            rng: run.rng,
            optimizer_step: step,
            optimizer_buffers: buffers,
            plateau: steps.plateau,
        },
        early_stop,
        in_epoch,
    };
    check_values(&ckpt, file.src())?;
    check_keys(file, &ckpt, version)?;
    Ok(ckpt)
}
