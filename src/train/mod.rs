//! Mini-batch training: shards, per-shard workspaces, the ordered reduction and
//! the one update per step.
//!
//! A batch of `m` rows is cut into shards of `shard_rows` rows (the last one
//! may be shorter). Each shard runs forward and backward on its rows in its own
//! preallocated workspace, writing the *summed* gradient of its rows into
//! its own buffer. The buffers are then added in shard order (0, 1, 2, …),
//! scaled by `1/m` and applied once. The shard size does not depend on the
//! thread count and the order of addition is fixed, so a seed gives the same
//! bits with 1 thread or 16. This is the only module that uses rayon; the
//! thread pool belongs to the [`Trainer`], never the global one.

mod config;
mod epoch;
mod full;
mod state;
mod trainer;

pub use crate::dist::REDUCE_CHUNK;
pub use config::{default_shard_rows, TrainConfig};
pub use state::{EpochOutcome, EpochProgress, EpochStats, Profile, RngState, TrainerState};
pub use trainer::Trainer;
