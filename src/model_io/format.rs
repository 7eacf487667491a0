//! What identifies a backprop file: the `format` key's value and the
//! versions and optimizers this build reads and writes.

/// The value of the `format` metadata key of every backprop model file.
pub const FORMAT: &str = "backprop";
/// The value of the `format` key of an ensemble file.
pub const ENSEMBLE_FORMAT: &str = "backprop-ensemble";
/// The ensemble format version this build writes, and the newest it reads.
pub const ENSEMBLE_VERSION: u32 = 1;
/// The model format version this build writes, and the newest it reads.
pub const FORMAT_VERSION: u32 = 1;
/// The checkpoint version this build writes, and the newest it reads.
pub const CHECKPOINT_VERSION: u32 = 3;
/// The optimizers whose checkpoints this build reads and writes.
pub const OPTIMIZERS: [&str; 4] = ["sgd", "adam", "adamw", "rmsprop"];
