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

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

use crate::activation::{Activation, Head};
use crate::data::Dataset;
use crate::dist::{owned, split_range, Collective};
use crate::dropout::Dropout;
use crate::error::{Error, Result};
use crate::kernels::simd;
use crate::network::{Layout, Mlp};
use crate::optim::{Optimizer, OptimizerConfig};
use crate::schedule::{LrSchedule, PlateauState, Scheduler};
use crate::shard::{elapsed_ns, parts_per_shard, Batch, StepCtx, Workspace};

pub use crate::dist::REDUCE_CHUNK;

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
    /// Epochs to train (used by callers that loop over [`Trainer::epoch`]).
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

/// Where an interrupted epoch stopped: with it, [`Trainer::epoch_resumable`]
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

/// How [`Trainer::epoch_resumable`] ended.
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

/// Trains one network shape with mini-batch SGD on its own thread pool.
///
/// All scratch memory is allocated in [`Trainer::new`]; a step allocates
/// nothing itself (the only allocations during a step are `matrixmultiply`'s
/// packing buffers, one per GEMM call).
///
/// ```
/// use backprop::{Activation, Head, Mlp, TrainConfig, Trainer};
/// let mut mlp = Mlp::new(&[2, 4, 1], &[Activation::Tanh], Head::SigmoidBce, 1).unwrap();
/// let cfg = TrainConfig { batch_size: 4, lr: 0.5, threads: 1, ..TrainConfig::default() };
/// let mut trainer = Trainer::new(&mlp, &cfg).unwrap();
/// let x = [0., 0., 0., 1., 1., 0., 1., 1.];
/// let y = [0., 1., 1., 0.];
/// let first = trainer.step(&mut mlp, &x, &y, 4).unwrap();
/// for _ in 0..200 {
///     trainer.step(&mut mlp, &x, &y, 4).unwrap();
/// }
/// assert!(mlp.loss(&x, &y, 4).unwrap() < first);
/// ```
pub struct Trainer {
    pool: Arc<rayon::ThreadPool>,
    layout: Layout,
    hidden: Vec<Activation>,
    head: Head,
    batch_size: usize,
    shard_rows: usize,
    optimizer: Optimizer,
    scheduler: Scheduler,
    clip_norm: Option<f32>,
    /// Sum of squares of each reduction chunk's gradient (clipping).
    norm_parts: Vec<f64>,
    /// Epochs completed: the schedule's position.
    epochs_done: usize,
    /// The rate of the next step.
    step_lr: f32,
    shuffle: bool,
    dropout: Option<Dropout>,
    workspaces: Vec<Workspace>,
    group: Option<Group>,
    /// This process's vote to stop, cast with the next step
    /// ([`Trainer::vote_stop`]), and the outcome of the last step's vote.
    stop_vote: bool,
    stop_voted: bool,
    order: Vec<usize>,
    rng: ChaCha8Rng,
    profile: bool,
    reduction_ns: AtomicU64,
    update_ns: AtomicU64,
}

impl Trainer {
    /// A trainer for networks shaped like `mlp`, with all workspaces allocated.
    ///
    /// # Errors
    /// [`Error::Config`] for a zero batch size or shard size, a bad learning
    /// rate, or a thread pool that cannot be built.
    pub fn new(mlp: &Mlp, cfg: &TrainConfig) -> Result<Trainer> {
        if cfg.batch_size == 0 {
            return Err(Error::config("batch_size", "must be at least 1"));
        }
        if !(cfg.lr.is_finite() && cfg.lr > 0.0) {
            return Err(Error::config(
                "lr",
                format!("{} is not a positive finite number", cfg.lr),
            ));
        }
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(cfg.threads)
            .thread_name(|i| format!("backprop-{i}"))
            .build()
            .map_err(|e| Error::config("threads", e))?;
        let shard_rows = cfg.effective_shard_rows();
        let shards = cfg.batch_size.div_ceil(shard_rows);
        let layout = mlp.layout().clone();
        let norm_parts = vec![0.0; layout.len.div_ceil(REDUCE_CHUNK)];
        let biases = (0..layout.layers()).map(|l| layout.b_range(l)).collect();
        let optimizer = Optimizer::new(cfg.optimizer, layout.len, biases, REDUCE_CHUNK)?;
        let scheduler = Scheduler::new(cfg.lr, cfg.schedule, cfg.warmup_epochs, cfg.epochs)?;
        if let Some(c) = cfg.clip_norm {
            if !(c.is_finite() && c > 0.0) {
                return Err(Error::config(
                    "clip_norm",
                    format!("{c} is not a positive finite number"),
                ));
            }
        }
        let dropout = Dropout::new(cfg.dropout, cfg.seed)?;
        let workspaces = (0..shards)
            .map(|_| Workspace::new(&layout, shard_rows, dropout.is_some()))
            .collect();
        Ok(Trainer {
            pool: Arc::new(pool),
            layout,
            hidden: mlp.hidden().to_vec(),
            head: mlp.head(),
            batch_size: cfg.batch_size,
            shard_rows,
            optimizer,
            scheduler,
            clip_norm: cfg.clip_norm,
            norm_parts,
            epochs_done: 0,
            step_lr: cfg.lr,
            shuffle: cfg.shuffle,
            dropout,
            workspaces,
            order: Vec::new(),
            rng: ChaCha8Rng::seed_from_u64(cfg.seed),
            profile: false,
            reduction_ns: AtomicU64::new(0),
            update_ns: AtomicU64::new(0),
            group: None,
            stop_vote: false,
            stop_voted: false,
        })
    }

    /// The trainer's thread pool. Running several steps inside one
    /// `pool.install` avoids re-entering the pool for each of them.
    pub fn pool(&self) -> Arc<rayon::ThreadPool> {
        Arc::clone(&self.pool)
    }

    /// Where the shuffling RNG stands (for checkpoints).
    pub fn rng_state(&self) -> RngState {
        RngState {
            seed: self.rng.get_seed(),
            stream: self.rng.get_stream(),
            word_pos: self.rng.get_word_pos(),
        }
    }

    /// Puts the shuffling RNG where [`Trainer::rng_state`] found it, so the
    /// next epochs shuffle exactly as an uninterrupted run would.
    ///
    /// ```
    /// use backprop::{Activation, Head, Mlp, TrainConfig, Trainer};
    /// let mlp = Mlp::new(&[2, 1], &[], Head::Mse, 0).unwrap();
    /// let a = Trainer::new(&mlp, &TrainConfig { seed: 1, ..TrainConfig::default() }).unwrap();
    /// let mut b = Trainer::new(&mlp, &TrainConfig { seed: 2, ..TrainConfig::default() }).unwrap();
    /// b.set_rng_state(&a.rng_state());
    /// assert_eq!(a.rng_state(), b.rng_state());
    /// ```
    pub fn set_rng_state(&mut self, state: &RngState) {
        let mut rng = ChaCha8Rng::from_seed(state.seed);
        rng.set_stream(state.stream);
        rng.set_word_pos(state.word_pos);
        self.rng = rng;
    }

    /// The base learning rate.
    pub fn lr(&self) -> f32 {
        self.scheduler.base_lr()
    }

    /// The optimizer (its configuration, step count and state).
    pub fn optimizer(&self) -> &Optimizer {
        &self.optimizer
    }

    /// Puts back an optimizer state saved from [`Trainer::optimizer`]
    /// (`step` updates done, `buffers` as [`Optimizer::buffers`] gives them).
    ///
    /// # Errors
    /// As [`Optimizer::restore`].
    pub fn restore_optimizer(&mut self, step: u64, buffers: Vec<Vec<f32>>) -> Result<()> {
        self.optimizer.restore(step, buffers)
    }

    /// Epochs completed (the learning-rate schedule's position).
    pub fn epochs_done(&self) -> usize {
        self.epochs_done
    }

    /// Sets the epochs completed, for a resumed run.
    pub fn set_epochs_done(&mut self, epochs: usize) {
        self.epochs_done = epochs;
    }

    /// Tells the schedule that an epoch ended with validation loss
    /// `val_loss` (reduce-on-plateau counts epochs without improvement).
    pub fn end_epoch(&mut self, val_loss: Option<f64>) {
        self.scheduler.end_epoch(val_loss);
    }

    /// Reduce-on-plateau's state, for checkpoints.
    pub fn plateau_state(&self) -> PlateauState {
        self.scheduler.plateau_state()
    }

    /// Puts back a state saved by [`Trainer::plateau_state`].
    pub fn restore_plateau(&mut self, state: PlateauState) {
        self.scheduler.restore_plateau(state);
    }

    /// The learning rate of step `step` (0-based) of epoch `epoch` (0-based)
    /// with `steps_per_epoch` steps per epoch.
    pub fn lr_at(&self, epoch: usize, step: usize, steps_per_epoch: usize) -> f32 {
        self.scheduler.lr(epoch, step, steps_per_epoch)
    }

    /// Whether epochs shuffle their rows.
    pub fn shuffles(&self) -> bool {
        self.shuffle
    }

    /// Switches timing of the phases of each step on or off and resets the
    /// counters. Timing costs a few clock reads per shard and chunk.
    pub fn set_profiling(&mut self, on: bool) {
        self.profile = on;
        self.reduction_ns.store(0, Ordering::Relaxed);
        self.update_ns.store(0, Ordering::Relaxed);
        for ws in &mut self.workspaces {
            ws.forward_ns = 0;
            ws.backward_ns = 0;
        }
    }

    /// The phase times collected since [`Trainer::set_profiling`]`(true)`.
    pub fn profile(&self) -> Profile {
        Profile {
            forward_ns: self.workspaces.iter().map(|w| w.forward_ns).sum(),
            backward_ns: self.workspaces.iter().map(|w| w.backward_ns).sum(),
            reduction_ns: self.reduction_ns.load(Ordering::Relaxed),
            update_ns: self.update_ns.load(Ordering::Relaxed),
        }
    }

    /// Number of worker threads.
    pub fn threads(&self) -> usize {
        self.pool.current_num_threads()
    }

    /// Rows per shard.
    pub fn shard_rows(&self) -> usize {
        self.shard_rows
    }

    /// Mini-batch size.
    pub fn batch_size(&self) -> usize {
        self.batch_size
    }

    /// One optimizer step on the batch of `rows` samples in `x` (`rows × n_0`)
    /// and `y` (`rows × n_L`). Returns the batch's mean loss, measured before
    /// the update. The learning rate is the schedule's at the start of epoch
    /// [`Trainer::epochs_done`] (single steps know no position inside an
    /// epoch; [`Trainer::epoch`] schedules every step).
    ///
    /// # Errors
    /// [`Error::Shape`] for a network of another shape or wrongly sized
    /// slices, [`Error::Config`] for `rows` of 0 or above the batch size,
    /// [`Error::Diverged`] if the loss is not finite (the update is then not
    /// applied, so `mlp` keeps its last good weights).
    pub fn step(&mut self, mlp: &mut Mlp, x: &[f32], y: &[f32], rows: usize) -> Result<f64> {
        self.step_rows(mlp, x, y, None, rows)
    }

    /// [`Trainer::step`] with a weight per row (`w`, `rows` long, finite and
    /// `>= 0`): the loss is `Σ wᵢ·lossᵢ / Σ wᵢ` and its gradient is what the
    /// update follows. Returns that weighted mean loss (0 if every weight is
    /// 0; the update then sees a zero gradient).
    ///
    /// ```
    /// use backprop::{Head, Mlp, TrainConfig, Trainer};
    /// let mlp = Mlp::new(&[1, 1], &[], Head::Mse, 0).unwrap();
    /// let cfg = TrainConfig { batch_size: 3, threads: 1, ..TrainConfig::default() };
    /// let (x, y) = ([1.0, 2.0, 3.0], [1.0, 0.0, 5.0]);
    /// // weight 2 on a row is the row given twice
    /// let mut a = mlp.clone();
    /// Trainer::new(&a, &cfg).unwrap().step_weighted(&mut a, &x, &y, &[2.0, 1.0, 0.0], 3).unwrap();
    /// let mut b = mlp.clone();
    /// let cfg3 = TrainConfig { batch_size: 3, ..cfg };
    /// Trainer::new(&b, &cfg3).unwrap().step(&mut b, &[1.0, 1.0, 2.0], &[1.0, 1.0, 0.0], 3).unwrap();
    /// for (p, q) in a.params().iter().zip(b.params()) {
    ///     assert!((p - q).abs() < 1e-6, "{p} {q}");
    /// }
    /// ```
    ///
    /// # Errors
    /// As [`Trainer::step`]; [`Error::Shape`] unless `w` has `rows` values,
    /// [`Error::Data`] for a negative or non-finite weight.
    pub fn step_weighted(
        &mut self,
        mlp: &mut Mlp,
        x: &[f32],
        y: &[f32],
        w: &[f32],
        rows: usize,
    ) -> Result<f64> {
        self.step_rows(mlp, x, y, Some(w), rows)
    }

    fn step_rows(
        &mut self,
        mlp: &mut Mlp,
        x: &[f32],
        y: &[f32],
        w: Option<&[f32]>,
        rows: usize,
    ) -> Result<f64> {
        self.check(mlp, x.len(), y.len(), rows)?;
        check_weights(w, rows)?;
        self.step_lr = self.scheduler.lr(self.epochs_done, 0, 1);
        let batch = Batch::Rows { x, y, w };
        let pool = Arc::clone(&self.pool);
        let (sum, weight, _) = pool.install(|| self.step_impl(mlp, batch, rows, true))?;
        Ok(if weight > 0.0 { sum / weight } else { 0.0 })
    }

    /// The mean gradient of the loss over the batch (flat, in the layout of
    /// [`Mlp::params`]), without updating anything. With dropout, the masks
    /// are those the next step would draw.
    ///
    /// # Errors
    /// As for [`Trainer::step`], except that a non-finite loss is returned
    /// along with the gradient rather than as an error.
    pub fn gradient(&mut self, mlp: &Mlp, x: &[f32], y: &[f32], rows: usize) -> Result<&[f32]> {
        self.gradient_rows(mlp, x, y, None, rows)
    }

    /// The gradient of the weighted mean loss `Σ wᵢ·lossᵢ / Σ wᵢ`, as
    /// [`Trainer::step_weighted`] would follow it.
    ///
    /// # Errors
    /// As [`Trainer::gradient`] and [`Trainer::step_weighted`].
    pub fn gradient_weighted(
        &mut self,
        mlp: &Mlp,
        x: &[f32],
        y: &[f32],
        w: &[f32],
        rows: usize,
    ) -> Result<&[f32]> {
        self.gradient_rows(mlp, x, y, Some(w), rows)
    }

    fn gradient_rows(
        &mut self,
        mlp: &Mlp,
        x: &[f32],
        y: &[f32],
        w: Option<&[f32]>,
        rows: usize,
    ) -> Result<&[f32]> {
        self.check(mlp, x.len(), y.len(), rows)?;
        check_weights(w, rows)?;
        if self.group.is_some() {
            return Err(Error::config(
                "mpi",
                "Trainer::gradient runs in one process; this trainer is in a group",
            ));
        }
        let batch = Batch::Rows { x, y, w };
        let pool = Arc::clone(&self.pool);
        pool.install(|| -> Result<()> {
            self.run_shards(mlp, batch, rows)?;
            let inv = grad_scale(rows, batch.weight_sum(rows));
            let (first, rest) = self
                .workspaces
                .split_first_mut()
                .expect("at least one shard");
            let shards = rows.div_ceil(self.shard_rows);
            for (i, g) in first.grad.chunks_mut(REDUCE_CHUNK).enumerate() {
                reduce_chunk(g, &rest[..shards - 1], i * REDUCE_CHUNK);
                g.iter_mut().for_each(|v| *v *= inv);
            }
            Ok(())
        })?;
        Ok(&self.workspaces[0].grad)
    }

    /// One epoch over `data`: shuffled (if configured) with the trainer's
    /// seeded RNG, cut into batches of `batch_size` (the last one shorter),
    /// one SGD step per batch, all inside the trainer's pool.
    ///
    /// # Errors
    /// As for [`Trainer::step`]; also [`Error::Data`] for an empty dataset.
    /// On [`Error::Diverged`], `mlp` holds the weights from before the
    /// failing batch.
    pub fn epoch(&mut self, mlp: &mut Mlp, data: &Dataset) -> Result<EpochStats> {
        self.epoch_with(mlp, data, |_, _| {})
    }

    /// [`Trainer::epoch`], calling `on_batch(rows_done, mean_loss_so_far)`
    /// after each batch (for progress bars). A diverging batch is named by
    /// its 1-based index in the error.
    ///
    /// # Errors
    /// As [`Trainer::epoch`].
    pub fn epoch_with(
        &mut self,
        mlp: &mut Mlp,
        data: &Dataset,
        on_batch: impl FnMut(usize, f64) + Send,
    ) -> Result<EpochStats> {
        let never = AtomicBool::new(false);
        match self.epoch_resumable(mlp, data, None, &never, on_batch)? {
            EpochOutcome::Completed(stats) => Ok(stats),
            EpochOutcome::Interrupted(_) => unreachable!("the stop flag is never set"),
        }
    }

    /// [`Trainer::epoch_with`] that can stop after any batch and start
    /// part-way, so that an interrupted epoch finishes — in this process or
    /// after a restart from a checkpoint — with the same bits as if it had
    /// never stopped.
    ///
    /// - `start`: `None` begins a new epoch. `Some(progress)`, from an
    ///   earlier [`EpochOutcome::Interrupted`], continues that epoch: the RNG
    ///   is set to `progress.rng_at_epoch_start`, the same shuffle is drawn,
    ///   the first `progress.batches_done` batches are skipped and the loss
    ///   sum continues from `progress.loss_sum`. The trainer's RNG before the
    ///   call does not matter then.
    /// - `stop` is read (`Relaxed`) after each batch. If it is set and batches
    ///   remain, the epoch stops there: the outcome is
    ///   [`EpochOutcome::Interrupted`] with `batches_done` counted from the
    ///   start of the epoch (at least 1), and the trainer's RNG is put back
    ///   where it stood before the epoch's shuffle, so that
    ///   [`Trainer::rng_state`] equals `rng_at_epoch_start` and a checkpoint
    ///   stores one RNG position. If it is set after the last batch, the epoch
    ///   is [`EpochOutcome::Completed`]. The flag is only read, never cleared.
    /// - In a group ([`Trainer::set_group`]) `stop` is read before each
    ///   batch and voted on in its exchange ([`Trainer::vote_stop`]): every
    ///   rank stops after the same batch, the first in whose exchange some
    ///   rank had seen the flag set.
    /// - `on_batch(rows_done, mean_loss_so_far)` as in [`Trainer::epoch_with`],
    ///   with `rows_done` counted from the start of the epoch (a resumed epoch
    ///   does not report the skipped batches again).
    ///
    /// A completed epoch's [`EpochStats::loss`] is the mean over the whole
    /// epoch; `samples`, `steps` and `seconds` count this call only (the
    /// rest of a resumed epoch). The loop allocates nothing more than
    /// [`Trainer::epoch`].
    ///
    /// ```
    /// use std::sync::atomic::{AtomicBool, Ordering};
    /// use backprop::train::{EpochOutcome, EpochProgress};
    /// use backprop::{Activation, Dataset, Head, Matrix, Mlp, TrainConfig, Trainer};
    ///
    /// let x = Matrix::from_vec(10, 2, (0..20).map(|i| (i % 7) as f32 / 7.0).collect())?;
    /// let data = Dataset::new(x, Matrix::from_vec(10, 1, vec![0.5; 10])?)?;
    /// let cfg = TrainConfig { batch_size: 3, threads: 1, ..TrainConfig::default() }; // 4 batches
    /// let new_mlp = || Mlp::new(&[2, 3, 1], &[Activation::Tanh], Head::Mse, 7);
    ///
    /// let mut straight = new_mlp()?;
    /// let full = Trainer::new(&straight, &cfg)?.epoch(&mut straight, &data)?;
    ///
    /// // Stop after the second batch …
    /// let mut mlp = new_mlp()?;
    /// let mut trainer = Trainer::new(&mlp, &cfg)?;
    /// let stop = AtomicBool::new(false);
    /// let outcome = trainer.epoch_resumable(&mut mlp, &data, None, &stop, |rows, _| {
    ///     if rows == 6 {
    ///         stop.store(true, Ordering::Relaxed);
    ///     }
    /// })?;
    /// let EpochOutcome::Interrupted(progress) = outcome else { panic!("{outcome:?}") };
    /// assert_eq!(progress.batches_done, 2);
    /// assert_eq!(trainer.rng_state(), progress.rng_at_epoch_start);
    ///
    /// // … and finish the epoch with another trainer, as a resumed process would.
    /// let mut trainer = Trainer::new(&mlp, &cfg)?;
    /// let stop = AtomicBool::new(false);
    /// let outcome = trainer.epoch_resumable(&mut mlp, &data, Some(&progress), &stop, |_, _| {})?;
    /// let EpochOutcome::Completed(rest) = outcome else { panic!("{outcome:?}") };
    /// assert_eq!((rest.steps, rest.samples), (2, 4));
    /// assert_eq!(rest.loss.to_bits(), full.loss.to_bits());
    /// assert_eq!(mlp, straight);
    /// # Ok::<(), backprop::Error>(())
    /// ```
    ///
    /// # Errors
    /// As [`Trainer::epoch`]; also [`Error::Config`] (option `--resume`) if
    /// `start` does not fit `data` (`batches_done` is not below the epoch's
    /// batch count) or its `loss_sum` is not finite. A diverging batch is
    /// named by its 1-based index in the epoch.
    pub fn epoch_resumable(
        &mut self,
        mlp: &mut Mlp,
        data: &Dataset,
        start: Option<&EpochProgress>,
        stop: &AtomicBool,
        mut on_batch: impl FnMut(usize, f64) + Send,
    ) -> Result<EpochOutcome> {
        let n = data.rows();
        if n == 0 {
            return Err(Error::Data {
                source_name: "training data".into(),
                message: "no rows to train on".into(),
            });
        }
        let (x, y, w) = (data.x().values(), data.targets(), data.weights());
        self.check_network(mlp)?;
        if x.len() != n * mlp.inputs() || y.rows() != n || y.width() != mlp.outputs() {
            return Err(Error::shape(
                "Trainer::epoch",
                format!(
                    "{n} rows of {} inputs and {} outputs",
                    mlp.inputs(),
                    mlp.outputs()
                ),
                format!("{} inputs and {} outputs", data.features(), data.outputs()),
            ));
        }
        let bs = self.batch_size;
        let batches = n.div_ceil(bs);
        let counts =
            crate::shard::counts_classes(self.head, self.layout.sizes[self.layout.sizes.len() - 1]);
        let mut correct = if counts { Some(0u64) } else { None };
        let (skip, mut total, mut weight) = match start {
            None => (0, 0.0, 0.0),
            Some(p) => {
                if p.batches_done >= batches {
                    return Err(Error::config(
                        "resume",
                        format!(
                            "the epoch to continue stopped after batch {}, but {n} rows make \
                             {batches} batches of {bs}: not the data it was trained on",
                            p.batches_done
                        ),
                    ));
                }
                if !(p.loss_sum.is_finite() && p.weight_sum.is_finite() && p.weight_sum >= 0.0) {
                    return Err(Error::config(
                        "resume",
                        format!(
                            "the loss and weight sums of the epoch to continue are {} and {}: \
                             must be finite",
                            p.loss_sum, p.weight_sum
                        ),
                    ));
                }
                self.set_rng_state(&p.rng_at_epoch_start);
                correct = correct.and(p.correct);
                (p.batches_done, p.loss_sum, p.weight_sum)
            }
        };
        let rng_at_epoch_start = self.rng_state();
        let mut order = std::mem::take(&mut self.order);
        order.clear();
        order.extend(0..n);
        if self.shuffle {
            // Fisher–Yates with the trainer's RNG.
            for i in (1..n).rev() {
                let j = self.rng.random_range(0..=i);
                order.swap(i, j);
            }
        }
        let started = Instant::now();
        let pool = Arc::clone(&self.pool);
        // (batches done in the epoch, steps of this call, rows done in the epoch)
        let result = pool.install(|| -> Result<(usize, usize, usize)> {
            let mut steps = 0;
            let mut done = skip * bs;
            for (b, idx) in order.chunks(bs).enumerate().skip(skip) {
                self.step_lr = self.scheduler.lr(self.epochs_done, b, batches);
                self.stop_vote = stop.load(Ordering::Relaxed);
                let batch = Batch::Gather {
                    x,
                    y,
                    w,
                    idx,
                    prep: data.prep(),
                };
                let (loss, batch_weight, batch_correct) = self
                    .step_impl(mlp, batch, idx.len(), true)
                    .map_err(|e| match e {
                        Error::Diverged(m) => Error::Diverged(format!("batch {}: {m}", b + 1)),
                        e => e,
                    })?;
                total += loss;
                weight += batch_weight;
                if let Some(c) = correct.as_mut() {
                    *c += batch_correct;
                }
                steps += 1;
                done += idx.len();
                on_batch(done, mean(total, weight));
                // in a group, the ranks stop together: after the batch in
                // whose exchange a rank voted with its flag
                let halt = if self.group.is_some() {
                    self.stop_voted
                } else {
                    stop.load(Ordering::Relaxed)
                };
                if b + 1 < batches && halt {
                    return Ok((b + 1, steps, done));
                }
            }
            Ok((batches, steps, done))
        });
        self.order = order;
        let (batches_done, steps, done) = result?;
        if batches_done < batches {
            self.set_rng_state(&rng_at_epoch_start);
            return Ok(EpochOutcome::Interrupted(EpochProgress {
                batches_done,
                loss_sum: total,
                weight_sum: weight,
                rng_at_epoch_start,
                correct,
            }));
        }
        self.epochs_done += 1;
        Ok(EpochOutcome::Completed(EpochStats {
            loss: mean(total, weight),
            samples: done - skip * bs,
            steps,
            seconds: started.elapsed().as_secs_f64(),
            correct,
        }))
    }

    fn check_network(&self, mlp: &Mlp) -> Result<()> {
        if mlp.layout() != &self.layout || mlp.hidden() != self.hidden || mlp.head() != self.head {
            return Err(Error::shape(
                "Trainer",
                format!(
                    "a network {:?} {:?} {}",
                    self.layout.sizes, self.hidden, self.head
                ),
                format!("{:?} {:?} {}", mlp.sizes(), mlp.hidden(), mlp.head()),
            ));
        }
        Ok(())
    }

    fn check(&self, mlp: &Mlp, x_len: usize, y_len: usize, rows: usize) -> Result<()> {
        self.check_network(mlp)?;
        if rows == 0 || rows > self.batch_size {
            return Err(Error::config(
                "batch_size",
                format!("a step takes 1..={} rows, got {rows}", self.batch_size),
            ));
        }
        if x_len != rows * mlp.inputs() || y_len != rows * mlp.outputs() {
            return Err(Error::shape(
                "Trainer::step",
                format!("x {rows}×{} and y {rows}×{}", mlp.inputs(), mlp.outputs()),
                format!("{x_len} and {y_len} values"),
            ));
        }
        Ok(())
    }

    /// The shards of a batch of `rows` rows this process runs: all of them,
    /// or with a group, this rank's run of them ([`split_range`]).
    fn local_shards(&self, rows: usize) -> std::ops::Range<usize> {
        let shards = rows.div_ceil(self.shard_rows);
        match &self.group {
            None => 0..shards,
            Some(g) => split_range(shards, g.comm.size(), g.comm.rank()),
        }
    }

    /// Runs this process's shards of the batch (in parallel when there are
    /// several); workspace `i` holds local shard `i`.
    fn run_shards(&mut self, mlp: &Mlp, batch: Batch<'_>, rows: usize) -> Result<()> {
        let sr = self.shard_rows;
        let local = self.local_shards(rows);
        let ctx = StepCtx {
            dropout: self.dropout.as_ref(),
            step: self.optimizer.step_count(),
            profile: self.profile,
            parts: parts_per_shard(self.pool.current_num_threads(), local.len()),
        };
        let first = local.start;
        let work = &mut self.workspaces[..local.len()];
        let range = |s: usize| ((first + s) * sr, ((first + s + 1) * sr).min(rows));
        match work {
            [] => Ok(()),
            [ws] => {
                let (r0, r1) = range(0);
                ws.run(mlp, &batch, r0, r1, ctx)
            }
            work => work.par_iter_mut().enumerate().try_for_each(|(s, ws)| {
                let (r0, r1) = range(s);
                ws.run(mlp, &batch, r0, r1, ctx)
            }),
        }
    }

    /// Forward, backward, ordered reduction and (if `update`) the update.
    /// Returns the batch's summed (weighted) loss and its weight (the row
    /// count when unweighted). Must run inside `self.pool`.
    fn step_impl(
        &mut self,
        mlp: &mut Mlp,
        batch: Batch<'_>,
        rows: usize,
        update: bool,
    ) -> Result<(f64, f64, u64)> {
        self.run_shards(mlp, batch, rows)?;
        let shards = rows.div_ceil(self.shard_rows);
        let (loss, correct) = match &mut self.group {
            None => {
                self.stop_voted = self.stop_vote;
                let w = &self.workspaces[..shards];
                (
                    w.iter().map(|w| w.loss).sum(),
                    w.iter().map(|w| w.correct).sum(),
                )
            }
            Some(g) => {
                let (loss, correct, voted) =
                    g.batch_loss(&self.workspaces, shards, self.stop_vote)?;
                self.stop_voted = voted;
                (loss, correct)
            }
        };
        if !loss.is_finite() {
            return Err(Error::Diverged(format!(
                "the loss of a batch of {rows} rows is {loss} ({}); the update was not applied",
                match &self.group {
                    // a rank sees only its own shards' outputs
                    Some(g) => format!(
                        "rank {} of {}, in its own shards: {}",
                        g.comm.rank(),
                        g.comm.size(),
                        self.first_non_finite(mlp, self.local_shards(rows).len())
                    ),
                    None => self.first_non_finite(mlp, shards),
                }
            )));
        }
        let weight = batch.weight_sum(rows);
        if update {
            if self.group.is_some() {
                self.update_group(mlp, grad_scale(rows, weight), shards)?;
            } else {
                self.update(mlp, grad_scale(rows, weight), shards)?;
            }
        }
        Ok((loss, weight.unwrap_or(rows as f64), correct))
    }
}

impl Trainer {
    /// Ordered reduction of the shard gradients, then (clipping and) the
    /// optimizer update, in parallel over chunks of the parameters. Without
    /// clipping, reduction and update are fused per chunk; with it, a first
    /// pass reduces and sums each chunk's squares (`f64`), the sums are added
    /// in chunk order (so the norm is the same for any thread count), and a
    /// second pass updates.
    /// `scale` turns the summed gradient into the mean ([`grad_scale`]).
    fn update(&mut self, mlp: &mut Mlp, scale: f32, shards: usize) -> Result<()> {
        let (first, rest) = self
            .workspaces
            .split_first_mut()
            .expect("at least one shard");
        let rest = &rest[..shards - 1];
        let params = mlp.params_mut();
        let n = params.len();
        let grad = &mut first.grad[..n];
        let timers = self
            .profile
            .then_some((&self.reduction_ns, &self.update_ns));
        let add_time = |counter: &AtomicU64, t: Option<Instant>| {
            if let Some(t) = t {
                counter.fetch_add(elapsed_ns(t), Ordering::Relaxed);
            }
        };
        // (a later multi-process all-reduce of `grad` goes here)
        let grad_scale = match self.clip_norm {
            None => scale,
            Some(max_norm) => {
                let t0 = timers.map(|_| Instant::now());
                let parts = &mut self.norm_parts;
                let reduce = |i: usize, g: &mut [f32], part: &mut f64| {
                    reduce_chunk(g, rest, i * REDUCE_CHUNK);
                    *part = g.iter().map(|&v| f64::from(v) * f64::from(v)).sum();
                };
                if n <= REDUCE_CHUNK {
                    reduce(0, grad, &mut parts[0]);
                } else {
                    grad.par_chunks_mut(REDUCE_CHUNK)
                        .zip(parts.par_iter_mut())
                        .enumerate()
                        .for_each(|(i, (g, part))| reduce(i, g, part));
                }
                let sum: f64 = parts.iter().sum();
                if let Some((red, _)) = timers {
                    add_time(red, t0);
                }
                clipped_scale(sum, scale, max_norm)?
            }
        };
        let reduced = self.clip_norm.is_some();
        let s = self.optimizer.begin_step(self.step_lr, grad_scale);
        let k = self.optimizer.state_len_per_param();
        self.optimizer.with_state(|opt, state| {
            let chunk = |i: usize, p: &mut [f32], g: &mut [f32], st: &mut [f32]| {
                let t0 = timers.map(|_| Instant::now());
                if !reduced {
                    reduce_chunk(g, rest, i * REDUCE_CHUNK);
                }
                let t1 = timers.map(|_| Instant::now());
                opt.update_chunk(&s, i, p, g, st);
                if let Some((red, upd)) = timers {
                    if let (Some(t0), Some(t1)) = (t0, t1) {
                        red.fetch_add(
                            u64::try_from((t1 - t0).as_nanos()).unwrap_or(0),
                            Ordering::Relaxed,
                        );
                    }
                    add_time(upd, t1);
                }
            };
            if n <= REDUCE_CHUNK {
                chunk(0, params, grad, state);
            } else if k == 0 {
                params
                    .par_chunks_mut(REDUCE_CHUNK)
                    .zip(grad.par_chunks_mut(REDUCE_CHUNK))
                    .enumerate()
                    .for_each(|(i, (p, g))| chunk(i, p, g, &mut []));
            } else {
                params
                    .par_chunks_mut(REDUCE_CHUNK)
                    .zip(grad.par_chunks_mut(REDUCE_CHUNK))
                    .zip(state.par_chunks_mut(k * REDUCE_CHUNK))
                    .enumerate()
                    .for_each(|(i, ((p, g), st))| chunk(i, p, g, st));
            }
        });
        Ok(())
    }

    /// Joins a multi-process job: from now on this trainer runs only its
    /// rank's shards of each batch and exchanges gradients and parameters
    /// with the other ranks as [`crate::dist`] describes, so that every rank
    /// ends each step with the model one process would have. Every rank
    /// must hold the same model, data and configuration and make the same
    /// calls. The optimizer state is kept current on each slice's owner
    /// only; [`Trainer::gather_optimizer_state`] completes it (before a
    /// checkpoint). [`Trainer::gradient`] is not available in a group.
    ///
    /// # Errors
    /// [`Error::Config`] (`mpi`) for a group of 0 ranks or a rank outside it.
    pub fn set_group(&mut self, comm: Arc<dyn Collective>) -> Result<()> {
        let (size, rank) = (comm.size(), comm.rank());
        if size == 0 || rank >= size {
            return Err(Error::config(
                "mpi",
                format!("rank {rank} of a group of {size}"),
            ));
        }
        let n = self.layout.len;
        let shards = self.batch_size.div_ceil(self.shard_rows);
        let chunks = n.div_ceil(REDUCE_CHUNK).max(1);
        let max_local = shards.div_ceil(size);
        let max_slice = chunks.div_ceil(size) * REDUCE_CHUNK;
        self.group = Some(Group {
            comm,
            send: vec![0.0; max_local * n],
            recv: vec![0.0; shards * max_slice.min(n)],
            own: vec![0.0; max_slice.min(n)],
            local_losses: Vec::with_capacity(max_local + 2),
            losses: Vec::with_capacity(shards + 2 * size),
            parts: Vec::with_capacity(chunks),
            parts_all: Vec::with_capacity(chunks),
            send_counts: Vec::with_capacity(size),
            recv_counts: Vec::with_capacity(size),
        });
        Ok(())
    }

    /// This process's rank in its group ([`Trainer::set_group`]), 0 alone.
    pub fn rank(&self) -> usize {
        self.group.as_ref().map_or(0, |g| g.comm.rank())
    }

    /// The number of ranks of its group, 1 alone.
    pub fn ranks(&self) -> usize {
        self.group.as_ref().map_or(1, |g| g.comm.size())
    }

    /// Casts this process's vote to stop with the next step: in a group the
    /// votes travel with the step's loss exchange (no extra message), and
    /// after it [`Trainer::stop_voted`] says whether any rank voted yes, the
    /// same answer on every rank. Alone, the vote is simply the answer. For
    /// loops that stop on a clock or a signal: every rank must stop after
    /// the same step.
    pub fn vote_stop(&mut self, stop: bool) {
        self.stop_vote = stop;
    }

    /// Whether any rank voted to stop with the last step
    /// ([`Trainer::vote_stop`]).
    pub fn stop_voted(&self) -> bool {
        self.stop_voted
    }

    /// Whether `flag` is set on any rank of the group (a collective call:
    /// every rank must make it); `flag` itself without a group. For
    /// decisions between epochs that a signal or a failed print may make
    /// on one rank only.
    ///
    /// # Errors
    /// As the group's [`Collective`].
    pub fn any_rank(&self, flag: bool) -> Result<bool> {
        let Some(g) = &self.group else {
            return Ok(flag);
        };
        let size = g.comm.size();
        let mut all = vec![0.0; size];
        g.comm
            .all_gather_f64(&[f64::from(u8::from(flag))], &mut all, &vec![1; size])?;
        Ok(all.iter().any(|&v| v != 0.0))
    }

    /// In a group, gives every rank the whole optimizer state (each slice's
    /// owner has it); a no-op otherwise.
    ///
    /// # Errors
    /// As the group's [`Collective`].
    pub fn gather_optimizer_state(&mut self) -> Result<()> {
        let Some(g) = &mut self.group else {
            return Ok(());
        };
        let k = self.optimizer.state_len_per_param();
        if k == 0 {
            return Ok(());
        }
        let (size, rank) = (g.comm.size(), g.comm.rank());
        let n = self.layout.len;
        let counts: Vec<usize> = (0..size).map(|r| k * owned(n, size, r).len()).collect();
        let mine = owned(n, size, rank);
        let state = self.optimizer.state_mut();
        let own = state[k * mine.start..k * mine.end].to_vec();
        g.comm.all_gather_f32(&own, state, &counts)
    }

    /// [`Trainer::update`] across a group: the all-to-all of the shards'
    /// gradient slices, the owner's ordered reduction, clipping and update
    /// of its slice, and the all-gather of the parameters.
    fn update_group(&mut self, mlp: &mut Mlp, scale: f32, shards: usize) -> Result<()> {
        let g = self.group.as_mut().expect("a group");
        let (size, rank) = (g.comm.size(), g.comm.rank());
        let params = mlp.params_mut();
        let n = params.len();
        let local = split_range(shards, size, rank);
        // 1. every local shard's slice of each owner, owner by owner
        g.send_counts.clear();
        g.recv_counts.clear();
        let mut at = 0;
        for o in 0..size {
            let slice = owned(n, size, o);
            for ws in &self.workspaces[..local.len()] {
                g.send[at..at + slice.len()].copy_from_slice(&ws.grad[slice.clone()]);
                at += slice.len();
            }
            g.send_counts.push(local.len() * slice.len());
        }
        let mine = owned(n, size, rank);
        let len = mine.len();
        for r in 0..size {
            g.recv_counts.push(split_range(shards, size, r).len() * len);
        }
        g.comm.all_to_all_f32(
            &g.send[..at],
            &g.send_counts,
            &mut g.recv[..shards * len],
            &g.recv_counts,
        )?;
        // 2. the ordered sum, as `reduce_chunk` adds shard buffers
        let (sum, rest) = g.recv[..shards * len].split_at_mut(len);
        if len > 0 {
            for other in rest.chunks_exact(len) {
                simd::add_assign_simd(sum, other);
            }
        }
        // 3. clipping: every chunk's squares, added in chunk order
        let grad_scale = match self.clip_norm {
            None => scale,
            Some(max_norm) => {
                g.parts.clear();
                g.parts.extend(
                    sum.chunks(REDUCE_CHUNK)
                        .map(|c| c.iter().map(|&v| f64::from(v) * f64::from(v)).sum::<f64>()),
                );
                g.recv_counts.clear();
                g.recv_counts
                    .extend((0..size).map(|r| owned(n, size, r).len().div_ceil(REDUCE_CHUNK)));
                let chunks: usize = g.recv_counts.iter().sum();
                g.parts_all.resize(chunks, 0.0);
                g.comm
                    .all_gather_f64(&g.parts, &mut g.parts_all, &g.recv_counts)?;
                clipped_scale(g.parts_all.iter().sum(), scale, max_norm)?
            }
        };
        // 4. the owner's update of its chunks
        let s = self.optimizer.begin_step(self.step_lr, grad_scale);
        let k = self.optimizer.state_len_per_param();
        let first_chunk = mine.start / REDUCE_CHUNK;
        let own_params = &mut params[mine.clone()];
        self.optimizer.with_state(|opt, state| {
            let state = &mut state[k * mine.start..k * mine.end];
            let chunks = own_params
                .chunks_mut(REDUCE_CHUNK)
                .zip(sum.chunks(REDUCE_CHUNK))
                .enumerate();
            for (i, (p, gr)) in chunks {
                let st: &mut [f32] = if k == 0 {
                    &mut []
                } else {
                    let from = i * k * REDUCE_CHUNK;
                    &mut state[from..from + k * p.len()]
                };
                opt.update_chunk(&s, first_chunk + i, p, gr, st);
            }
        });
        // 5. everyone gets every slice
        g.own[..len].copy_from_slice(&params[mine]);
        g.recv_counts.clear();
        g.recv_counts
            .extend((0..size).map(|r| owned(n, size, r).len()));
        g.comm.all_gather_f32(&g.own[..len], params, &g.recv_counts)
    }

    /// Where the first non-finite value of the failed forward pass appeared:
    /// in the parameters, or in the output of which layer.
    fn first_non_finite(&self, mlp: &Mlp, shards: usize) -> String {
        let bad = |v: &[f32]| v.iter().any(|x| !x.is_finite());
        let layers = mlp.num_layers();
        for l in 0..layers {
            if bad(mlp.weights(l)) || bad(mlp.bias(l)) {
                return format!(
                    "layer {} of {layers} already has non-finite parameters",
                    l + 1
                );
            }
        }
        for l in 0..layers {
            if self.workspaces[..shards].iter().any(|w| bad(&w.acts[l])) {
                return if l + 1 == layers {
                    format!("the first non-finite values are the outputs of layer {layers} of {layers}, the head's logits")
                } else {
                    format!(
                        "the first non-finite values are the outputs of layer {} of {layers}",
                        l + 1
                    )
                };
            }
        }
        "every layer's output is finite: the loss itself overflowed (targets or outputs too large)"
            .to_string()
    }
}

/// A trainer's share of a multi-process job ([`Trainer::set_group`]) and the
/// buffers of its exchanges, allocated once.
struct Group {
    comm: Arc<dyn Collective>,
    /// Outgoing gradient slices: local shards × parameters.
    send: Vec<f32>,
    /// Incoming gradient slices of the owned parameters, in shard order.
    recv: Vec<f32>,
    /// The owned parameters, sent in the all-gather.
    own: Vec<f32>,
    /// This rank's shards' losses, every shard's, and per-chunk sums of
    /// squares.
    local_losses: Vec<f64>,
    losses: Vec<f64>,
    parts: Vec<f64>,
    parts_all: Vec<f64>,
    send_counts: Vec<usize>,
    recv_counts: Vec<usize>,
}

impl Group {
    /// The batch's summed loss: every shard's loss, added in shard order.
    /// Each rank's count of rows predicted right and its stop `vote` travel
    /// with its losses (two more values after them); also returns the
    /// batch's count and whether any rank voted to stop.
    fn batch_loss(
        &mut self,
        workspaces: &[Workspace],
        shards: usize,
        vote: bool,
    ) -> Result<(f64, u64, bool)> {
        let size = self.comm.size();
        let local = &workspaces[..split_range(shards, size, self.comm.rank()).len()];
        self.recv_counts.clear();
        self.recv_counts
            .extend((0..size).map(|r| split_range(shards, size, r).len() + 2));
        self.local_losses.clear();
        self.local_losses.extend(local.iter().map(|w| w.loss));
        // counts below 2^53 travel exactly as f64
        self.local_losses
            .push(local.iter().map(|w| w.correct).sum::<u64>() as f64);
        self.local_losses.push(if vote { 1.0 } else { 0.0 });
        let all = shards + 2 * size;
        self.losses.resize(all, 0.0);
        self.comm.all_gather_f64(
            &self.local_losses,
            &mut self.losses[..all],
            &self.recv_counts,
        )?;
        // shard order is rank order; each rank's part ends with its count
        // and its vote
        let (mut sum, mut at, mut correct, mut voted) = (0.0, 0, 0u64, false);
        for &n in &self.recv_counts {
            for &l in &self.losses[at..at + n - 2] {
                sum += l;
            }
            correct += self.losses[at + n - 2] as u64;
            voted |= self.losses[at + n - 1] != 0.0;
            at += n;
        }
        Ok((sum, correct, voted))
    }
}

/// The gradient scale after clipping: `sum` is the summed gradient's sum of
/// squares (added in chunk order), `scale` turns the sum into the mean; as
/// PyTorch's `clip_grad_norm_`, the coefficient is `max/(norm + 1e-6)`, at
/// most 1.
fn clipped_scale(sum: f64, scale: f32, max_norm: f32) -> Result<f32> {
    if !sum.is_finite() {
        return Err(Error::Diverged(format!(
            "the gradient's norm is {} (its sum of squares overflowed or is NaN); \
             the update was not applied",
            sum.sqrt()
        )));
    }
    let norm = sum.sqrt() * f64::from(scale);
    let coef = (f64::from(max_norm) / (norm + 1e-6)).min(1.0);
    Ok((f64::from(scale) * coef) as f32)
}

/// The factor from a batch's summed gradient to its mean: `1/rows`, or
/// `1/Σw` for a weighted batch (0 when every weight is 0).
fn grad_scale(rows: usize, weight: Option<f64>) -> f32 {
    match weight {
        None => 1.0 / rows as f32,
        Some(s) if s > 0.0 => (1.0 / s) as f32,
        Some(_) => 0.0,
    }
}

/// `sum / weight`, or 0 when nothing weighed.
fn mean(sum: f64, weight: f64) -> f64 {
    if weight > 0.0 {
        sum / weight
    } else {
        0.0
    }
}

/// Row weights, if given, must be `rows` finite values `>= 0`.
fn check_weights(w: Option<&[f32]>, rows: usize) -> Result<()> {
    let Some(w) = w else { return Ok(()) };
    if w.len() != rows {
        return Err(Error::shape(
            "Trainer::step_weighted",
            format!("{rows} weights"),
            format!("{} weights", w.len()),
        ));
    }
    if let Some(r) = w.iter().position(|v| !(v.is_finite() && *v >= 0.0)) {
        return Err(Error::Data {
            source_name: "sample weights".into(),
            message: format!(
                "row {}: weight {} must be a finite number >= 0",
                r + 1,
                w[r]
            ),
        });
    }
    Ok(())
}

/// `g ← g + Σ_s rest[s].grad[offset..]`, in shard order.
fn reduce_chunk(g: &mut [f32], rest: &[Workspace], offset: usize) {
    for ws in rest {
        simd::add_assign_simd(g, &ws.grad[offset..offset + g.len()]);
    }
}
