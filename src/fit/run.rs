//! [`Prepared`]: a session ready to run, and its epoch loop.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use super::prepare::{prepare, Prepared};
use crate::data::Dataset;
use crate::error::Result;
use crate::infer::{Inference, DEFAULT_CHUNK_ROWS};
use crate::lbfgs::{Lbfgs, LbfgsConfig};
use crate::meta::BestEpoch;
use crate::model_io::{self, Checkpoint, CheckpointConfig, ModelMeta, SavedModel};
use crate::network::Mlp;
use crate::stopping::Monitor;
use crate::tensor::Matrix;
use crate::train::{EpochOutcome, EpochProgress, EpochStats, TrainerState};

use super::report::{
    record_figures, EpochRecord, EpochReport, FitCallbacks, FitEnd, FitOutcome, Interruption,
    RunInfo, RunRecord,
};
use super::spec::{FitSpec, TrainMetrics};

impl std::fmt::Debug for Prepared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Prepared")
            .field("info", &self.info)
            .finish_non_exhaustive()
    }
}

impl Prepared {
    /// What the run will do (also passed to [`FitCallbacks::on_start`]).
    pub fn info(&self) -> &RunInfo {
        &self.info
    }

    /// The network as the run will start from it.
    pub fn mlp(&self) -> &Mlp {
        &self.mlp
    }

    /// The model's metadata (preprocessing, names), without a training record.
    pub fn meta(&self) -> &ModelMeta {
        &self.meta
    }

    /// The prepared training rows.
    pub fn train_data(&self) -> &Dataset {
        &self.train
    }

    /// The prepared held-out rows, if any.
    pub fn held_out_data(&self) -> Option<&Dataset> {
        self.held_out.as_ref()
    }

    /// Runs the session as one rank of a multi-process job
    /// ([`Trainer::set_group`](crate::Trainer::set_group)): every rank must prepare the same spec and
    /// call [`Prepared::run`]. Each batch's shards are divided among the
    /// ranks; the stop flag and a callback's break are agreed on by all
    /// ranks, so they stop together; the checkpoints are written by rank 0
    /// alone, after the optimizer state is gathered from the ranks that own
    /// its slices. The outcome is the same on every rank, and bitwise the
    /// one-process outcome.
    ///
    /// # Errors
    /// As [`Trainer::set_group`](crate::Trainer::set_group).
    pub fn set_group(&mut self, comm: std::sync::Arc<dyn crate::dist::Collective>) -> Result<()> {
        self.writes = comm.rank() == 0;
        self.trainer.set_group(comm)
    }

    /// Trains up to [`FitSpec::epochs`] in total. After each epoch the
    /// held-out loss (and accuracy, for classifiers) and the training
    /// accuracy are measured, [`FitCallbacks::on_epoch`] is told, and a
    /// checkpoint is written to [`FitSpec::checkpoint`] every
    /// `checkpoint_every` epochs of this run and after the last.
    ///
    /// `stop` is read after every batch: once set, the run stops after the
    /// current batch (or, after an epoch's last batch, at the end of that
    /// epoch), writes a checkpoint that records the position inside the
    /// epoch, and returns [`FitEnd::Interrupted`]; resuming from it gives the
    /// bits of a run that never stopped. The flag is never cleared.
    ///
    /// # Errors
    /// As [`Trainer::epoch_resumable`](crate::Trainer::epoch_resumable) ([`Error::Diverged`](crate::Error::Diverged) naming the batch;
    /// the epoch is that of the last [`FitCallbacks::on_epoch_start`]), and
    /// [`model_io::save_checkpoint`].
    pub fn run(self, stop: &AtomicBool, callbacks: &mut dyn FitCallbacks) -> Result<FitOutcome> {
        if let Some(cfg) = self.lbfgs {
            return run_lbfgs(self, cfg, stop, callbacks);
        }
        let started = Instant::now();
        // held-out figures: chunked forward passes on the trainer's threads
        let mut infer = Inference::with_pool(&self.mlp, self.trainer.pool(), DEFAULT_CHUNK_ROWS)?;
        callbacks.on_start(&self.info);
        let mut run = Run::new(self);
        let first_epoch = run.p.info.first_epoch;
        for epoch in first_epoch + 1..=run.last_epoch {
            callbacks.on_epoch_start(epoch);
            let start = run.p.start.take();
            let outcome = run.p.trainer.epoch_resumable(
                &mut run.p.mlp,
                &run.p.train,
                start.as_ref(),
                stop,
                |rows, loss| callbacks.on_batch(epoch, rows, loss),
            )?;
            let stats = match outcome {
                EpochOutcome::Completed(stats) => stats,
                EpochOutcome::Interrupted(progress) => {
                    let checkpoint = run.save(Some(progress), false)?;
                    run.end = FitEnd::Interrupted(Interruption {
                        in_epoch: Some(progress),
                        checkpoint,
                    });
                    break;
                }
            };
            if run.after_epoch(&mut infer, epoch, &stats, stop, callbacks)? {
                break;
            }
        }
        run.finish(started)
    }
}

/// Runs `p` by L-BFGS: up to `epochs` iterations, ending early when the
/// solver stops ([`FitEnd::Solver`]), a callback breaks, or `stop` is set
/// (after the iteration under way). No checkpoint is written: the solver's
/// memory is not part of one.
fn run_lbfgs(
    p: Prepared,
    cfg: LbfgsConfig,
    stop: &AtomicBool,
    callbacks: &mut dyn FitCallbacks,
) -> Result<FitOutcome> {
    let started = Instant::now();
    let mut infer = Inference::with_pool(&p.mlp, p.trainer.pool(), DEFAULT_CHUNK_ROWS)?;
    callbacks.on_start(&p.info);
    let decay = super::lbfgs::decay(&p);
    let rows = p.train.rows();
    let mut solver = Lbfgs::new(cfg)?;
    let mut run = Run::new(p);
    for epoch in 1..=run.last_epoch {
        callbacks.on_epoch_start(epoch);
        let t = Instant::now();
        let p = &mut run.p;
        let it = solver.iterate(&mut p.trainer, &mut p.mlp, &p.train, decay)?;
        let stats = EpochStats {
            loss: it.loss,
            samples: it.evaluations * rows,
            steps: 1,
            seconds: t.elapsed().as_secs_f64(),
            correct: None,
        };
        callbacks.on_batch(epoch, rows, it.loss);
        let ended = run.after_epoch(&mut infer, epoch, &stats, stop, callbacks)?;
        if let (false, Some(why)) = (ended, it.stop) {
            run.end = FitEnd::Solver(why);
            break;
        }
        if ended {
            break;
        }
    }
    // a checkpoint of mini-batch training would not continue this run
    run.final_state = None;
    run.finish(started)
}

/// A session as it runs: the prepared parts and what the epochs produced.
struct Run {
    p: Prepared,
    history: Vec<EpochRecord>,
    samples: usize,
    seconds: f64,
    /// Epochs completed in all.
    done: usize,
    end: FitEnd,
    /// The last epoch this run may train.
    last_epoch: usize,
    /// The state at the end, for [`FitOutcome::checkpoint`].
    final_state: Option<Box<Checkpoint>>,
}

impl Run {
    fn new(p: Prepared) -> Run {
        let first_epoch = p.info.first_epoch;
        let mut run = Run {
            history: Vec::new(),
            samples: 0,
            seconds: 0.0,
            done: first_epoch,
            end: FitEnd::Finished,
            last_epoch: p.cfg.epochs,
            final_state: None,
            p,
        };
        // a resumed run that had already run out of patience trains no more
        if let Some((rule, state)) = &run.p.early {
            if state.should_stop(rule) {
                run.end = FitEnd::EarlyStopped {
                    best_epoch: state.best_epoch,
                };
                run.last_epoch = first_epoch;
            }
        }
        run
    }

    /// The checkpoint after the epochs `state` counts (and the batches of
    /// `in_epoch`), the trainer's part being `state`.
    fn snapshot(&self, in_epoch: Option<EpochProgress>, state: TrainerState) -> Checkpoint {
        let p = &self.p;
        Checkpoint {
            model: SavedModel {
                mlp: p.mlp.clone(),
                meta: p.meta.clone(),
            },
            config: CheckpointConfig {
                early_stopping: p.early.as_ref().map(|(rule, _)| *rule),
                class_weight: p.class_weight.clone(),
                row_weights: p.row_weights.clone(),
                ..CheckpointConfig::from_train_config(&p.cfg)
            },
            state,
            early_stop: p.early.as_ref().map(|(_, state)| state.clone()),
            in_epoch,
        }
    }

    /// Writes a checkpoint to [`FitSpec::checkpoint`] (rank 0 of a group
    /// alone), and keeps the state as the run's final one when `last`.
    /// Returns the path written, if any.
    fn save(&mut self, in_epoch: Option<EpochProgress>, last: bool) -> Result<Option<PathBuf>> {
        let path = self.p.checkpoint.clone();
        if path.is_none() && !last {
            return Ok(None);
        }
        // every rank takes the state (a collective), whether or not it writes
        let state = self.p.trainer.checkpoint()?;
        let ckpt = self.snapshot(in_epoch, state);
        if let Some(path) = &path {
            if self.p.writes {
                model_io::save_checkpoint(path, &ckpt)?;
            }
        }
        if last {
            self.final_state = Some(Box::new(ckpt));
        }
        Ok(path)
    }

    /// Measures, reports and checkpoints an epoch; decides whether the run
    /// ends after it (`Ok(true)`), and how.
    fn after_epoch(
        &mut self,
        infer: &mut Inference,
        epoch: usize,
        stats: &EpochStats,
        stop: &AtomicBool,
        callbacks: &mut dyn FitCallbacks,
    ) -> Result<bool> {
        self.done = epoch;
        self.samples += stats.samples;
        self.seconds += stats.seconds;
        let report = self.report(infer, epoch, stats, callbacks.wants_train_accuracy())?;
        self.p.trainer.end_epoch(report.record.val_loss);
        let out_of_patience = self.observe(&report, epoch);
        extend_loss_curve(&mut self.p.meta.extra, report.record.train_loss);
        self.history.push(report.record);
        let flow = callbacks.on_epoch(&report);
        let last = epoch == self.p.cfg.epochs;
        // one rank's signal or failed print stops every rank
        let interrupted = !last && self.p.trainer.any_rank(stop.load(Ordering::Relaxed))?;
        let early_stop = !last && !interrupted && out_of_patience;
        let broke = !last && !interrupted && self.p.trainer.any_rank(flow.is_break())?;
        let stopped = broke || early_stop;
        let first_epoch = self.p.info.first_epoch;
        let written = if (epoch - first_epoch) % self.p.checkpoint_every == 0
            || last
            || interrupted
            || stopped
        {
            self.save(None, last || stopped)?
        } else {
            None
        };
        self.end = if interrupted {
            FitEnd::Interrupted(Interruption {
                in_epoch: None,
                checkpoint: written,
            })
        } else if early_stop {
            FitEnd::EarlyStopped {
                best_epoch: self.p.early.as_ref().map_or(epoch, |(_, s)| s.best_epoch),
            }
        } else if stopped {
            FitEnd::Stopped
        } else {
            FitEnd::Finished
        };
        Ok(interrupted || stopped)
    }

    /// The epoch's figures: held-out and test loss and accuracy, training
    /// accuracy as asked, held-out and test R² of a regression.
    fn report(
        &self,
        infer: &mut Inference,
        epoch: usize,
        stats: &EpochStats,
        wants_train_accuracy: bool,
    ) -> Result<EpochReport> {
        let p = &self.p;
        let (mlp, train) = (&p.mlp, &p.train);
        let classifier = mlp.head().is_classifier();
        let (val_loss, val_accuracy) = figures(infer, mlp, p.held_out.as_ref(), classifier)?;
        let (test_loss, test_accuracy) = figures(infer, mlp, p.test.as_ref(), classifier)?;
        let train_accuracy = match (train.labels(), p.train_metrics) {
            _ if !wants_train_accuracy => None,
            (Some(_), TrainMetrics::Running) if classifier => stats.accuracy(train.rows()),
            (Some(l), TrainMetrics::Full) if classifier => {
                let x = train.prepared();
                infer
                    .evaluate_targets(mlp, x, train.targets(), Some(l))?
                    .accuracy
            }
            _ => None,
        };
        let r2 = |infer: &mut Inference, data: Option<&Dataset>| match data {
            Some(v) if mlp.head().is_regression() => r2_of(infer, mlp, v).map(Some),
            _ => Ok(None),
        };
        let val_r2 = r2(infer, p.held_out.as_ref())?;
        let test_r2 = r2(infer, p.test.as_ref())?;
        Ok(EpochReport {
            record: EpochRecord {
                epoch,
                train_loss: stats.loss,
                val_loss,
                train_accuracy,
                val_accuracy,
                test_loss,
                test_accuracy,
                val_r2,
                test_r2,
            },
            samples: stats.samples,
            seconds: stats.seconds,
            samples_per_sec: stats.samples as f64 / stats.seconds.max(1e-12),
        })
    }

    /// Tells early stopping the epoch's validation figure; whether it has
    /// run out of patience.
    fn observe(&mut self, report: &EpochReport, epoch: usize) -> bool {
        let p = &mut self.p;
        let (Some((rule, state)), Some(_)) = (p.early.as_mut(), p.held_out.as_ref()) else {
            return false;
        };
        let r = &report.record;
        let value = match rule.monitor {
            Monitor::Loss => r.val_loss,
            Monitor::Accuracy => r.val_accuracy,
            Monitor::R2 => r.val_r2,
        }
        .unwrap_or(f64::NAN);
        let stop = state.observe(rule, epoch, value, p.mlp.params());
        if state.best_epoch == epoch {
            state.best_figures = record_figures(r, p.info.held_out);
        }
        stop
    }

    /// The outcome: the best epoch's weights when early stopping kept one
    /// (not after an interrupt: those weights are the ones as they are),
    /// and the training record in the metadata.
    fn finish(self, started: Instant) -> Result<FitOutcome> {
        let Run {
            p,
            history,
            samples,
            seconds,
            done,
            end,
            final_state,
            ..
        } = self;
        let (mut mlp, mut meta) = (p.mlp, p.meta);
        let interrupted = matches!(end, FitEnd::Interrupted(_));
        let mut best = None;
        if let Some((rule, state)) = &p.early {
            if !interrupted && state.best_epoch > 0 {
                mlp.params_mut().copy_from_slice(&state.best_params);
                best = Some(BestEpoch {
                    epoch: state.best_epoch,
                    monitor: rule.monitor,
                    value: state.best,
                });
            }
        }
        // the figures of the weights written: the best epoch's (kept by the
        // state, through a resume), else the last epoch's
        let saved = match (&best, &p.early) {
            (Some(_), Some((_, state))) => state.best_figures.clone(),
            _ => history
                .last()
                .map(|r| record_figures(r, p.info.held_out))
                .unwrap_or_default(),
        };
        let record = (!interrupted)
            .then(|| {
                RunRecord {
                    cfg: &p.cfg,
                    epochs: done,
                    saved,
                    class_weight: p.class_weight.as_ref(),
                    row_weights: p.row_weights.as_deref(),
                    best,
                }
                .record()
            })
            .map(|mut r| {
                if let Some(cfg) = &p.lbfgs {
                    super::lbfgs::record(&mut r.entries, cfg, &end);
                }
                r
            });
        if let Some(r) = &record {
            r.write_into(&mut meta.extra);
        }
        Ok(FitOutcome {
            mlp,
            meta,
            history,
            held_out: p.info.held_out,
            epochs: done,
            samples,
            train_seconds: seconds,
            wall_seconds: started.elapsed().as_secs_f64(),
            threads: p.trainer.threads(),
            end,
            record,
            checkpoint: if interrupted { None } else { final_state },
        })
    }
}

/// The key of the training loss of every epoch since the weights were
/// first drawn, in the model's training record: comma-separated, each the
/// shortest text that reads back as the same `f64`. It grows with each
/// epoch in the run's metadata, so checkpoints carry it and a resumed run
/// (or one from an initial model) continues it.
pub const LOSS_CURVE_KEY: &str = "train.loss_curve";

fn extend_loss_curve(extra: &mut std::collections::BTreeMap<String, String>, loss: f64) {
    let curve = extra.entry(LOSS_CURVE_KEY.to_string()).or_default();
    if !curve.is_empty() {
        curve.push(',');
    }
    curve.push_str(&loss.to_string());
}

/// The mean R² over the targets of `mlp` on `data` (in the trained units:
/// R² does not change under the targets' standardisation).
fn r2_of(infer: &mut Inference, mlp: &Mlp, data: &Dataset) -> Result<f64> {
    let mut out = Matrix::zeros(data.rows(), mlp.outputs());
    infer.predict_into(mlp, data.prepared(), data.rows(), out.as_mut_slice())?;
    Ok(crate::metrics::regression_metrics(&out, &data.y())?.1.r2)
}

/// The loss and, for a classifier with class labels, the accuracy of `mlp`
/// on `data`, if there is such a set.
fn figures(
    infer: &mut Inference,
    mlp: &Mlp,
    data: Option<&Dataset>,
    classifier: bool,
) -> Result<(Option<f64>, Option<f64>)> {
    let Some(v) = data else {
        return Ok((None, None));
    };
    let labels = v.labels().filter(|_| classifier);
    let f = infer.evaluate_targets(mlp, v.prepared(), v.targets(), labels)?;
    Ok((Some(f.loss), f.accuracy))
}

impl FitSpec {
    /// Prepares and runs the whole session without callbacks or a way to
    /// stop it: [`prepare`] then [`Prepared::run`].
    ///
    /// # Errors
    /// As [`prepare`] and [`Prepared::run`].
    pub fn fit(&self) -> Result<FitOutcome> {
        prepare(self, &mut ())?.run(&AtomicBool::new(false), &mut ())
    }
}
