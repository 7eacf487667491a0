//! [`TrainConfig`]: everything that shapes a training run, and the shard
//! size it defaults to.

use crate::optim::OptimizerConfig;
use crate::schedule::LrSchedule;

/// Everything that shapes a training run.
#[derive(Clone, Debug, PartialEq)]
pub struct TrainConfig {
    /// Rows per mini-batch (the last batch of an epoch may be shorter).
    pub batch_size: usize,
    /// The base learning rate (see `schedule`).
    pub lr: f32,
    /// The update rule and its constants (plain SGD by default).
    pub optimizer: OptimizerConfig,
    /// Clip the L2 norm of the mean gradient to this (`None`: no clipping).
    pub clip_norm: Option<f32>,
    /// How the learning rate changes over the run.
    pub schedule: LrSchedule,
    /// Epochs of linear warm-up at the start (composes with `schedule`).
    pub warmup_epochs: usize,
    /// Epochs to train (used by callers that loop over [`Trainer::epoch`](crate::Trainer::epoch)).
    pub epochs: usize,
    /// Rows per shard: the unit of parallel work; 0 picks
    /// [`default_shard_rows`] of the batch size. Results do not depend on the
    /// thread count, but they do (in the last bits) on this.
    pub shard_rows: usize,
    /// Worker threads; 0 means one per core.
    pub threads: usize,
    /// Seed of the shuffling RNG.
    pub seed: u64,
    /// Shuffle the rows at the start of every epoch.
    pub shuffle: bool,
    /// Inverted dropout on the hidden layers: the probability (`0..1`) of
    /// zeroing a unit during training, with masks keyed by (seed, step, row,
    /// unit) ([`crate::dropout`]); 0 for none.
    pub dropout: f32,
    /// Label smoothing `ε` in `[0, 1)` for the classification heads
    /// ([`crate::smoothing`]); 0 for none.
    pub label_smoothing: f32,
    /// On a weighted batch, scale the L2 weight decay of the coupled rules
    /// (SGD, Adam, RMSprop; not AdamW's decoupled decay) by the batch size
    /// over the batch's weight sum: each step uses `weight_decay · B / Σw`
    /// (`B` = `batch_size`; 0 when `Σw = 0`). With `weight_decay = α / B`
    /// this is scikit-learn's `α / Σ sample_weight` for every batch. No
    /// effect on unweighted batches.
    pub decay_by_weight: bool,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            batch_size: 32,
            lr: 0.1,
            optimizer: OptimizerConfig::default(),
            clip_norm: None,
            schedule: LrSchedule::Constant,
            warmup_epochs: 0,
            epochs: 10,
            shard_rows: 0,
            threads: 0,
            seed: 0,
            shuffle: true,
            dropout: 0.0,
            label_smoothing: 0.0,
            decay_by_weight: false,
        }
    }
}

impl TrainConfig {
    /// The shard size in effect: `shard_rows`, or [`default_shard_rows`] of
    /// the batch size when it is 0; never more than the batch size.
    pub fn effective_shard_rows(&self) -> usize {
        let rows = if self.shard_rows == 0 {
            default_shard_rows(self.batch_size)
        } else {
            self.shard_rows
        };
        rows.min(self.batch_size).max(1)
    }
}

/// The default shard size for a batch of `batch` rows: half the batch, but
/// at least 64 rows (smaller shards make GEMMs too thin to run at full speed
/// and a step too short to be worth splitting) and at most 128 (bigger ones
/// leave cores idle). It depends on the batch size only, never on the thread
/// count, so results stay the same on any machine. Measured on the presets in
/// `BENCHMARKS.md`; a machine with many cores and large batches may prefer a
/// smaller `--shard-rows`.
///
/// ```
/// use backprop::train::default_shard_rows;
/// assert_eq!(default_shard_rows(32), 64);   // one shard: too small to split
/// assert_eq!(default_shard_rows(128), 64);  // two shards
/// assert_eq!(default_shard_rows(256), 128); // two shards
/// assert_eq!(default_shard_rows(1024), 128); // eight shards
/// ```
pub fn default_shard_rows(batch: usize) -> usize {
    batch.div_ceil(2).clamp(64, 128)
}
