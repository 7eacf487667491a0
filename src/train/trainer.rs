//! [`Trainer`]: the shards' workspaces on its own pool, one step (forward,
//! backward, ordered reduction, update), alone or as one rank of a group.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

use crate::activation::{Activation, Head};
use crate::dist::{owned, Collective, Exchange, REDUCE_CHUNK};
use crate::dropout::Dropout;
use crate::error::{Error, Result};
use crate::kernels::simd;
use crate::network::{Layout, Mlp};
use crate::optim::Optimizer;
use crate::schedule::Scheduler;
use crate::shard::{elapsed_ns, parts_per_shard, Batch, StepCtx, Workspace};
use crate::smoothing::LabelSmoothing;

use super::config::TrainConfig;
use super::state::{Profile, RngState, TrainerState};

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
    pub(super) pool: Arc<rayon::ThreadPool>,
    pub(super) layout: Layout,
    pub(super) hidden: Vec<Activation>,
    pub(super) head: Head,
    pub(super) batch_size: usize,
    pub(super) shard_rows: usize,
    /// Training FLOPs per row ([`crate::work::flops_per_sample`]): how much
    /// parallel work a step is worth.
    pub(super) flops_per_row: u64,
    /// The least work a parallel task holds ([`Trainer::set_min_task_flops`]).
    pub(super) min_task_flops: u64,
    /// The parallel tasks the current step is worth (set by `run_shards`;
    /// 1: the step, its reduction and update included, runs on one thread).
    pub(super) step_tasks: usize,
    pub(super) optimizer: Optimizer,
    pub(super) scheduler: Scheduler,
    pub(super) clip_norm: Option<f32>,
    /// Sum of squares of each reduction chunk's gradient (clipping).
    pub(super) norm_parts: Vec<f64>,
    /// Epochs completed: the schedule's position.
    pub(super) epochs_done: usize,
    /// The rate of the next step.
    pub(super) step_lr: f32,
    pub(super) shuffle: bool,
    pub(super) dropout: Option<Dropout>,
    /// The targets' smoothing, if any.
    smoothing: Option<LabelSmoothing>,
    /// [`TrainConfig::decay_by_weight`].
    decay_by_weight: bool,
    pub(super) workspaces: Vec<Workspace>,
    pub(super) group: Option<Exchange>,
    /// This process's vote to stop, cast with the next step
    /// ([`Trainer::vote_stop`]), and the outcome of the last step's vote.
    pub(super) stop_vote: bool,
    pub(super) stop_voted: bool,
    pub(super) order: Vec<usize>,
    pub(super) rng: ChaCha8Rng,
    pub(super) profile: bool,
    pub(super) reduction_ns: AtomicU64,
    pub(super) update_ns: AtomicU64,
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
        let smoothing = LabelSmoothing::new(cfg.label_smoothing, mlp.head(), mlp.outputs())?;
        let workspaces = (0..shards)
            .map(|_| {
                let optional = (dropout.is_some(), smoothing.is_some());
                Workspace::new(&layout, mlp.hidden(), shard_rows, optional)
            })
            .collect();
        Ok(Trainer {
            pool: Arc::new(pool),
            layout,
            hidden: mlp.hidden().to_vec(),
            head: mlp.head(),
            batch_size: cfg.batch_size,
            shard_rows,
            flops_per_row: crate::work::flops_per_sample(mlp.sizes()),
            min_task_flops: crate::work::MIN_TASK_FLOPS,
            step_tasks: 1,
            optimizer,
            scheduler,
            clip_norm: cfg.clip_norm,
            norm_parts,
            epochs_done: 0,
            step_lr: cfg.lr,
            shuffle: cfg.shuffle,
            dropout,
            smoothing,
            decay_by_weight: cfg.decay_by_weight,
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

    /// Sets the least work, in FLOPs, that a parallel task of a step must
    /// hold ([`crate::work::MIN_TASK_FLOPS`] by default; 0 forks every step
    /// over all the threads, as a large network's). Only the speed changes:
    /// the results are the same bits for any value.
    pub fn set_min_task_flops(&mut self, flops: u64) {
        self.min_task_flops = flops;
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

    /// The state a later run continues from (a checkpoint stores it): the
    /// epochs done, the shuffling RNG, the optimizer's step count and
    /// moments, reduce-on-plateau's state. In a group every rank must call
    /// it (the optimizer state is gathered from its owners).
    ///
    /// ```
    /// use backprop::{Head, Mlp, TrainConfig, Trainer};
    /// let mut mlp = Mlp::new(&[2, 1], &[], Head::Mse, 0)?;
    /// let cfg = TrainConfig { batch_size: 2, threads: 1, ..TrainConfig::default() };
    /// let mut a = Trainer::new(&mlp, &cfg)?;
    /// a.step(&mut mlp, &[1.0, 2.0, 3.0, 4.0], &[1.0, 0.0], 2)?;
    /// let mut b = Trainer::new(&mlp, &TrainConfig { seed: 2, ..cfg })?;
    /// b.resume(&a.checkpoint()?)?;
    /// assert_eq!((b.rng_state(), b.optimizer().step_count()), (a.rng_state(), 1));
    /// # Ok::<(), backprop::Error>(())
    /// ```
    ///
    /// # Errors
    /// As the group's [`Collective`].
    pub fn checkpoint(&mut self) -> Result<TrainerState> {
        self.gather_optimizer_state()?;
        Ok(TrainerState {
            epochs_done: self.epochs_done,
            rng: self.rng_state(),
            optimizer_step: self.optimizer.step_count(),
            optimizer_buffers: self.optimizer.buffers(),
            plateau: self.scheduler.plateau_state(),
        })
    }

    /// Puts back a state taken by [`Trainer::checkpoint`] (or read from a
    /// checkpoint file), so the next epochs go on exactly as an
    /// uninterrupted run would.
    ///
    /// # Errors
    /// As [`Optimizer::restore`]: buffers that do not fit this optimizer.
    pub fn resume(&mut self, state: &TrainerState) -> Result<()> {
        self.set_rng_state(&state.rng);
        self.epochs_done = state.epochs_done;
        self.scheduler.restore_plateau(state.plateau);
        if state.optimizer_step > 0 || !state.optimizer_buffers.is_empty() {
            self.optimizer
                .restore(state.optimizer_step, state.optimizer_buffers.clone())?;
        }
        Ok(())
    }

    /// Puts the shuffling RNG where [`Trainer::rng_state`] found it.
    pub(crate) fn set_rng_state(&mut self, state: &RngState) {
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

    /// Epochs completed (the learning-rate schedule's position).
    pub fn epochs_done(&self) -> usize {
        self.epochs_done
    }

    /// Tells the schedule that an epoch ended with validation loss
    /// `val_loss` (reduce-on-plateau counts epochs without improvement).
    pub(crate) fn end_epoch(&mut self, val_loss: Option<f64>) {
        self.scheduler.end_epoch(val_loss);
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
    pub(crate) fn set_profiling(&mut self, on: bool) {
        self.profile = on;
        self.reduction_ns.store(0, Ordering::Relaxed);
        self.update_ns.store(0, Ordering::Relaxed);
        for ws in &mut self.workspaces {
            ws.forward_ns = 0;
            ws.backward_ns = 0;
        }
    }

    /// The phase times collected since [`Trainer::set_profiling`]`(true)`.
    pub(crate) fn profile(&self) -> Profile {
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
        let weight = batch.weight_sum(rows);
        pool.install(|| self.reduce_full(mlp, batch, rows, weight))?;
        Ok(&self.workspaces[0].grad)
    }

    /// Forward and backward over the `rows` rows of `batch`, then the shard
    /// gradients added in shard order into the first workspace and scaled to
    /// the mean (`weight`: the batch's `Σw`, if weighted). Returns the summed
    /// (weighted) loss. Must run inside `self.pool`.
    pub(super) fn reduce_full(
        &mut self,
        mlp: &Mlp,
        batch: Batch<'_>,
        rows: usize,
        weight: Option<f64>,
    ) -> Result<f64> {
        self.run_shards(mlp, batch, rows)?;
        let inv = grad_scale(rows, weight);
        let (first, rest) = self
            .workspaces
            .split_first_mut()
            .expect("at least one shard");
        let shards = rows.div_ceil(self.shard_rows);
        let loss = std::iter::once(&*first)
            .chain(&rest[..shards - 1])
            .map(|w| w.loss)
            .sum();
        for (i, g) in first.grad.chunks_mut(REDUCE_CHUNK).enumerate() {
            reduce_chunk(g, &rest[..shards - 1], i * REDUCE_CHUNK);
            g.iter_mut().for_each(|v| *v *= inv);
        }
        Ok(loss)
    }

    pub(super) fn check_network(&self, mlp: &Mlp) -> Result<()> {
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
            Some(g) => g.local_shards(shards),
        }
    }

    /// Runs this process's shards of the batch, in parallel as far as
    /// their work is worth ([`crate::work::tasks_for`]: a small network's
    /// step runs on one thread); workspace `i` holds local shard `i`.
    fn run_shards(&mut self, mlp: &Mlp, batch: Batch<'_>, rows: usize) -> Result<()> {
        let sr = self.shard_rows;
        let local = self.local_shards(rows);
        let first = local.start;
        let range = |s: usize| ((first + s) * sr, ((first + s + 1) * sr).min(rows));
        let local_rows = match local.len() {
            0 => 0,
            n => range(n - 1).1 - range(0).0,
        };
        let tasks = crate::work::tasks_for(
            self.flops_per_row.saturating_mul(local_rows as u64),
            self.pool.current_num_threads(),
            self.min_task_flops,
        );
        self.step_tasks = tasks;
        let ctx = StepCtx {
            dropout: self.dropout.as_ref(),
            smoothing: self.smoothing,
            step: self.optimizer.step_count(),
            profile: self.profile,
            parts: parts_per_shard(tasks, local.len()),
        };
        let work = &mut self.workspaces[..local.len()];
        let run = |(s, ws): (usize, &mut Workspace)| {
            let (r0, r1) = range(s);
            ws.run(mlp, &batch, r0, r1, ctx)
        };
        // one task: no split, the shards in order on this thread
        let min_len = if tasks == 1 { usize::MAX } else { 1 };
        work.par_iter_mut()
            .enumerate()
            .with_min_len(min_len)
            .try_for_each(run)
    }

    /// Forward, backward, ordered reduction and (if `update`) the update.
    /// Returns the batch's summed (weighted) loss and its weight (the row
    /// count when unweighted). Must run inside `self.pool`.
    pub(super) fn step_impl(
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
                let local = &self.workspaces[..g.local_shards(shards).len()];
                let (loss, correct, voted) = g.batch_loss(
                    local.iter().map(|w| w.loss),
                    local.iter().map(|w| w.correct).sum(),
                    shards,
                    self.stop_vote,
                )?;
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
                        g.rank(),
                        g.size(),
                        self.first_non_finite(mlp, self.local_shards(rows).len())
                    ),
                    None => self.first_non_finite(mlp, shards),
                }
            )));
        }
        let weight = batch.weight_sum(rows);
        if update {
            let scales = (grad_scale(rows, weight), self.decay_scale(weight));
            if self.group.is_some() {
                self.update_group(mlp, scales, shards)?;
            } else {
                self.update(mlp, scales, shards)?;
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
    /// `scale` turns the summed gradient into the mean ([`grad_scale`]);
    /// `decay` multiplies the weight decay ([`Trainer::decay_scale`]).
    fn update(&mut self, mlp: &mut Mlp, (scale, decay): (f32, f32), shards: usize) -> Result<()> {
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
        // a step too small to fork runs its chunks in order on this thread
        // (no split below `min_len` items)
        let min_len = if self.step_tasks == 1 { usize::MAX } else { 1 };
        let grad_scale = match self.clip_norm {
            None => scale,
            Some(max_norm) => {
                let t0 = timers.map(|_| Instant::now());
                let parts = &mut self.norm_parts;
                let reduce = |i: usize, g: &mut [f32], part: &mut f64| {
                    reduce_chunk(g, rest, i * REDUCE_CHUNK);
                    *part = g.iter().map(|&v| f64::from(v) * f64::from(v)).sum();
                };
                grad.par_chunks_mut(REDUCE_CHUNK)
                    .zip(parts.par_iter_mut())
                    .enumerate()
                    .with_min_len(min_len)
                    .for_each(|(i, (g, part))| reduce(i, g, part));
                let sum: f64 = parts.iter().sum();
                if let Some((red, _)) = timers {
                    add_time(red, t0);
                }
                clipped_scale(sum, scale, max_norm)?
            }
        };
        let reduced = self.clip_norm.is_some();
        let mut s = self.optimizer.begin_step(self.step_lr, grad_scale);
        s.decay_scale = decay;
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
                    .with_min_len(min_len)
                    .for_each(|(i, (p, g))| chunk(i, p, g, &mut []));
            } else {
                params
                    .par_chunks_mut(REDUCE_CHUNK)
                    .zip(grad.par_chunks_mut(REDUCE_CHUNK))
                    .zip(state.par_chunks_mut(k * REDUCE_CHUNK))
                    .enumerate()
                    .with_min_len(min_len)
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
    /// only; [`Trainer::checkpoint`] completes it (before a
    /// checkpoint). [`Trainer::gradient`] is not available in a group.
    ///
    /// # Errors
    /// [`Error::Config`] (`mpi`) for a group of 0 ranks or a rank outside it.
    pub fn set_group(&mut self, comm: Arc<dyn Collective>) -> Result<()> {
        let shards = self.batch_size.div_ceil(self.shard_rows);
        self.group = Some(Exchange::new(comm, self.layout.len, shards)?);
        Ok(())
    }

    /// This process's rank in its group ([`Trainer::set_group`]), 0 alone.
    pub fn rank(&self) -> usize {
        self.group.as_ref().map_or(0, Exchange::rank)
    }

    /// The number of ranks of its group, 1 alone.
    pub fn ranks(&self) -> usize {
        self.group.as_ref().map_or(1, Exchange::size)
    }

    /// Casts this process's vote to stop with the next step: in a group the
    /// votes travel with the step's loss exchange (no extra message), and
    /// after it [`Trainer::stop_voted`] says whether any rank voted yes, the
    /// same answer on every rank. Alone, the vote is simply the answer. For
    /// loops that stop on a clock or a signal: every rank must stop after
    /// the same step.
    pub(crate) fn vote_stop(&mut self, stop: bool) {
        self.stop_vote = stop;
    }

    /// Whether any rank voted to stop with the last step
    /// ([`Trainer::vote_stop`]).
    pub(crate) fn stop_voted(&self) -> bool {
        self.stop_voted
    }

    /// Whether `flag` is set on any rank of the group (a collective call:
    /// every rank must make it); `flag` itself without a group. For
    /// decisions between epochs that a signal or a failed print may make
    /// on one rank only.
    ///
    /// # Errors
    /// As the group's [`Collective`].
    pub(crate) fn any_rank(&self, flag: bool) -> Result<bool> {
        match &self.group {
            None => Ok(flag),
            Some(g) => g.any(flag),
        }
    }

    /// In a group, gives every rank the whole optimizer state (each slice's
    /// owner has it); a no-op otherwise.
    ///
    /// # Errors
    /// As the group's [`Collective`].
    fn gather_optimizer_state(&mut self) -> Result<()> {
        let Some(g) = &mut self.group else {
            return Ok(());
        };
        let k = self.optimizer.state_len_per_param();
        if k == 0 {
            return Ok(());
        }
        g.gather_state(self.optimizer.state_mut(), k, self.layout.len)
    }

    /// [`Trainer::update`] across a group: the all-to-all of the shards'
    /// gradient slices, the owner's ordered reduction, clipping and update
    /// of its slice, and the all-gather of the parameters.
    fn update_group(
        &mut self,
        mlp: &mut Mlp,
        (scale, decay): (f32, f32),
        shards: usize,
    ) -> Result<()> {
        let g = self.group.as_mut().expect("a group");
        let params = mlp.params_mut();
        let n = params.len();
        // 1-2. the shards' gradient slices to their owners, added in shard order
        let local = g.local_shards(shards).len();
        let workspaces = &self.workspaces;
        g.reduce_owned(n, shards, local, |i| &workspaces[i].grad[..])?;
        let mine = owned(n, g.size(), g.rank());
        let len = mine.len();
        // 3. clipping: every chunk's squares, added in chunk order
        let grad_scale = match self.clip_norm {
            None => scale,
            Some(max_norm) => clipped_scale(g.sum_of_squares(n, len)?, scale, max_norm)?,
        };
        // 4. the owner's update of its chunks
        let sum = g.owned_sum(len);
        let mut s = self.optimizer.begin_step(self.step_lr, grad_scale);
        s.decay_scale = decay;
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
        g.gather_params(params)
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
impl Trainer {
    /// The factor on the weight decay of a batch weighing `weight`:
    /// `B / Σw` (`B` the configured batch size) with
    /// [`TrainConfig::decay_by_weight`] on a weighted batch under a coupled
    /// rule (0 when nothing weighs), else 1.
    fn decay_scale(&self, weight: Option<f64>) -> f32 {
        let coupled = self.optimizer.config().kind != crate::optim::OptimizerKind::AdamW;
        let b = self.batch_size as f64;
        match weight {
            Some(s) if self.decay_by_weight && coupled && s > 0.0 => (b / s) as f32,
            Some(_) if self.decay_by_weight && coupled => 0.0,
            _ => 1.0,
        }
    }
}

fn grad_scale(rows: usize, weight: Option<f64>) -> f32 {
    match weight {
        None => 1.0 / rows as f32,
        Some(s) if s > 0.0 => (1.0 / s) as f32,
        Some(_) => 0.0,
    }
}

/// `sum / weight`, or 0 when nothing weighed.
pub(super) fn mean(sum: f64, weight: f64) -> f64 {
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
