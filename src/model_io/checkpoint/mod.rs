//! Training checkpoints: a model file with the checkpoint keys of the
//! [`schema`](super::schema) as well. [`Checkpoint`] and [`CheckpointConfig`]
//! (`types.rs`); the file written and read section by section (`file.rs`):
//! the run (`run.rs`), the optimizer's keys and buffers (`optimizer.rs`),
//! the step size (`lr_schedule.rs`), early stopping (`early_stop.rs`), the
//! optional settings (`options.rs`) and the position inside an epoch
//! (`in_epoch.rs`), each an encode/decode pair, then the rules of the whole
//! (`rules.rs`). Keys are read as typed values in `keys.rs`, parameter-shaped
//! buffers as tensors in `tensors.rs`.

mod early_stop;
mod file;
mod in_epoch;
mod keys;
mod lr_schedule;
mod optimizer;
mod options;
mod rules;
mod run;
mod tensors;
mod types;

pub use self::file::{
    checkpoint_from_bytes, checkpoint_to_bytes, load_checkpoint, save_checkpoint,
};
pub use self::types::{Checkpoint, CheckpointConfig};
