//! Epochs: the shuffle, the batches, and stopping and resuming inside one.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use rand::RngExt;

use crate::data::Dataset;
use crate::error::{Error, Result};
use crate::network::Mlp;
use crate::shard::Batch;

use super::state::{EpochOutcome, EpochProgress, EpochStats};
use super::trainer::{mean, Trainer};

impl Trainer {
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
    ///   batch and voted on in its exchange (a vote that travels with the step's exchange): every
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
        on_batch: impl FnMut(usize, f64) + Send,
    ) -> Result<EpochOutcome> {
        self.check_epoch(mlp, data)?;
        let n = data.rows();
        let bs = self.batch_size;
        let batches = n.div_ceil(bs);
        let mut sums = self.begin_epoch(start, n, batches)?;
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
        let result =
            pool.install(|| self.run_batches(mlp, data, &order, &mut sums, stop, on_batch));
        self.order = order;
        let (batches_done, steps, done) = result?;
        if batches_done < batches {
            self.set_rng_state(&rng_at_epoch_start);
            return Ok(EpochOutcome::Interrupted(EpochProgress {
                batches_done,
                loss_sum: sums.total,
                weight_sum: sums.weight,
                rng_at_epoch_start,
                correct: sums.correct,
            }));
        }
        self.epochs_done += 1;
        Ok(EpochOutcome::Completed(EpochStats {
            loss: mean(sums.total, sums.weight),
            samples: done - sums.skip * bs,
            steps,
            seconds: started.elapsed().as_secs_f64(),
            correct: sums.correct,
        }))
    }

    /// The network fits the trainer and `data` has rows that fit the network.
    fn check_epoch(&self, mlp: &Mlp, data: &Dataset) -> Result<()> {
        let n = data.rows();
        if n == 0 {
            return Err(Error::Data {
                source_name: "training data".into(),
                message: "no rows to train on".into(),
            });
        }
        self.check_network(mlp)?;
        let (x, y) = (data.x().values(), data.targets());
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
        Ok(())
    }

    /// The epoch's sums before its first batch: zero, or where `start` left
    /// them (checked against the epoch's `batches` of `n` rows), with the
    /// RNG put back at the epoch's start.
    fn begin_epoch(
        &mut self,
        start: Option<&EpochProgress>,
        n: usize,
        batches: usize,
    ) -> Result<EpochSums> {
        let bs = self.batch_size;
        let counts =
            crate::shard::counts_classes(self.head, self.layout.sizes[self.layout.sizes.len() - 1]);
        let correct = if counts { Some(0u64) } else { None };
        let Some(p) = start else {
            return Ok(EpochSums {
                skip: 0,
                total: 0.0,
                weight: 0.0,
                correct,
            });
        };
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
        Ok(EpochSums {
            skip: p.batches_done,
            total: p.loss_sum,
            weight: p.weight_sum,
            correct: correct.and(p.correct),
        })
    }

    /// The epoch's batches in `order` from `sums.skip` on, one step each,
    /// adding to `sums`; stops early when `stop` says so. Returns (batches
    /// done in the epoch, steps of this call, rows done in the epoch). Must
    /// run inside the pool.
    fn run_batches(
        &mut self,
        mlp: &mut Mlp,
        data: &Dataset,
        order: &[usize],
        sums: &mut EpochSums,
        stop: &AtomicBool,
        mut on_batch: impl FnMut(usize, f64) + Send,
    ) -> Result<(usize, usize, usize)> {
        let (x, y, w) = (data.x().values(), data.targets(), data.weights());
        let bs = self.batch_size;
        let batches = order.len().div_ceil(bs);
        let mut steps = 0;
        let mut done = sums.skip * bs;
        for (b, idx) in order.chunks(bs).enumerate().skip(sums.skip) {
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
            sums.total += loss;
            sums.weight += batch_weight;
            if let Some(c) = sums.correct.as_mut() {
                *c += batch_correct;
            }
            steps += 1;
            done += idx.len();
            on_batch(done, mean(sums.total, sums.weight));
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
    }
}

/// What an epoch adds up, from where it starts.
struct EpochSums {
    /// Batches skipped: those a resumed epoch had done.
    skip: usize,
    /// The summed (weighted) loss.
    total: f64,
    /// The summed weights (rows when unweighted).
    weight: f64,
    /// Rows predicted right, where counted.
    correct: Option<u64>,
}
