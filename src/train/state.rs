//! What a trainer reports and keeps between runs: an epoch's figures and
//! progress, the RNG's position, the phase profile.

use crate::schedule::PlateauState;

/// What one epoch did.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EpochStats {
    /// Mean training loss over the epoch's samples, each measured in its
    /// batch's forward pass (before that batch's update).
    pub loss: f64,
    /// Samples trained on.
    pub samples: usize,
    /// Updates applied.
    pub steps: usize,
    /// Wall-clock seconds of the epoch.
    pub seconds: f64,
    /// For the heads of single-label classification: the rows of the whole
    /// epoch whose class the training forward passes predicted right (each
    /// before its batch's update, with dropout's masks, as Keras reports a
    /// running accuracy); `None` for other heads, or when a resumed epoch's
    /// checkpoint did not record the count.
    pub correct: Option<u64>,
}

impl EpochStats {
    /// [`EpochStats::correct`] over the epoch's `rows`.
    pub fn accuracy(&self, rows: usize) -> Option<f64> {
        self.correct.map(|c| c as f64 / rows.max(1) as f64)
    }
}

/// The position of a trainer's shuffling RNG (ChaCha8), enough to continue
/// the exact same sequence of shuffles after a restart.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RngState {
    /// The 256-bit key derived from the seed.
    pub seed: [u8; 32],
    /// The stream number.
    pub stream: u64,
    /// The position in the stream, in 32-bit words.
    pub word_pos: u128,
}

/// Where an interrupted epoch stopped: with it, [`Trainer::epoch_resumable`](crate::Trainer::epoch_resumable)
/// finishes the epoch — in the same process or after a restart — exactly as
/// if it had not stopped. A checkpoint stores it
/// ([`crate::model_io::Checkpoint::in_epoch`]).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EpochProgress {
    /// Batches of the epoch already trained, counted from its start
    /// (fewer than the epoch's batch count).
    pub batches_done: usize,
    /// The sum of the per-sample losses of those batches (weighted, for a
    /// weighted dataset), the very `f64` the epoch accumulates toward
    /// [`EpochStats::loss`].
    pub loss_sum: f64,
    /// The sum of the weights of those batches' rows: their row count for an
    /// unweighted dataset.
    pub weight_sum: f64,
    /// The shuffling RNG at the start of the epoch, before its shuffle: the
    /// epoch's shuffle is drawn again from it.
    pub rng_at_epoch_start: RngState,
    /// Rows of those batches predicted right ([`EpochStats::correct`]);
    /// `None` when not counted.
    pub correct: Option<u64>,
}

/// How [`Trainer::epoch_resumable`](crate::Trainer::epoch_resumable) ended.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum EpochOutcome {
    /// Every batch of the epoch was trained.
    Completed(EpochStats),
    /// The stop flag was set while batches remained; pass the progress back
    /// as `start` to finish the epoch.
    Interrupted(EpochProgress),
}

/// Where a trainer's time went since profiling was switched on, in
/// nanoseconds summed over threads (so with several threads the total exceeds
/// the wall-clock time).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Profile {
    /// Forward passes of all shards, including the head's loss and delta.
    pub forward_ns: u64,
    /// Backward passes of all shards (weight gradients, deltas).
    pub backward_ns: u64,
    /// Adding the shards' gradients.
    pub reduction_ns: u64,
    /// The optimizer update.
    pub update_ns: u64,
}

impl Profile {
    /// Each phase's share of the total time in percent: forward, backward,
    /// reduction, update (all 0 when nothing was timed).
    ///
    /// ```
    /// use backprop::Profile;
    /// let p = Profile { forward_ns: 30, backward_ns: 60, reduction_ns: 0, update_ns: 10 };
    /// assert_eq!(p.shares_percent(), [30.0, 60.0, 0.0, 10.0]);
    /// assert_eq!(Profile::default().shares_percent(), [0.0; 4]);
    /// ```
    pub fn shares_percent(&self) -> [f64; 4] {
        let phases = [
            self.forward_ns,
            self.backward_ns,
            self.reduction_ns,
            self.update_ns,
        ];
        let total = phases.iter().sum::<u64>().max(1) as f64;
        phases.map(|ns| 100.0 * ns as f64 / total)
    }
}

/// What a trainer carries from one run to the next besides the network
/// ([`Trainer::checkpoint`](crate::Trainer::checkpoint),
/// [`Trainer::resume`](crate::Trainer::resume)); a checkpoint file stores it.
#[derive(Clone, Debug, PartialEq)]
pub struct TrainerState {
    /// Epochs completed: the schedule's position.
    pub epochs_done: usize,
    /// Where the shuffling RNG stands.
    pub rng: RngState,
    /// Optimizer updates done.
    pub optimizer_step: u64,
    /// The optimizer's moment buffers, as [`Optimizer::buffers`](crate::optim::Optimizer::buffers) gives them.
    pub optimizer_buffers: Vec<Vec<f32>>,
    /// Reduce-on-plateau's state.
    pub plateau: PlateauState,
}
