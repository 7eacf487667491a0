//! `backprop train`: the flags as a [`FitSpec`], the session run with a
//! [`Printer`], then the model, the plot and the summary written.

use std::io::{self, Write};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use anyhow::Context;

use backprop::data::ClassWeight;
use backprop::dist::Job;
use backprop::fit::{
    self, DataSource, EpochRecord, FitEnd, FitOutcome, FitSpec, Interruption, Stored,
};
use backprop::lbfgs::LbfgsConfig;
use backprop::meta::TrainingRecord;
use backprop::model_io;
use backprop::optim::{OptimizerConfig, OptimizerParts};
use backprop::pipeline::ReadOverrides;
use backprop::plot::write_curves_svg;
use backprop::schedule::{LrSchedule, ScheduleParams};
use backprop::stopping::EarlyStopping;

use super::args::TrainArgs;
use super::flags::usage;
use super::print::Printer;

/// Training stopped at the user's request (exit code 130, like a shell).
#[derive(Debug)]
pub struct Interrupted(pub(super) String);

impl std::fmt::Display for Interrupted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Interrupted {}

/// A flag the first SIGINT or SIGTERM sets (training then stops after the
/// current batch); a second one ends the process at once with code 130.
pub(super) fn interrupt_flag() -> anyhow::Result<Arc<AtomicBool>> {
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        // registered first, so it sees the flag before the second handler sets it
        signal_hook::flag::register_conditional_shutdown(sig, 130, Arc::clone(&stop))
            .context("installing the signal handler")?;
        signal_hook::flag::register(sig, Arc::clone(&stop))
            .context("installing the signal handler")?;
    }
    Ok(stop)
}

impl TrainArgs {
    /// The optimizer the flags describe; `None` when none of its flags is
    /// given (the default, or a resumed checkpoint's).
    fn optimizer_config(&self) -> anyhow::Result<Option<OptimizerConfig>> {
        if self.lbfgs()?.is_some() {
            // L-BFGS takes the L2 term alone
            let parts = OptimizerParts {
                weight_decay: self.weight_decay,
                ..OptimizerParts::default()
            };
            let default = fit::default_optimizer(self.data.is_none()).kind;
            return Ok((!parts.is_empty())
                .then(|| parts.config(default))
                .transpose()?);
        }
        let parts = OptimizerParts {
            kind: self.optimizer.as_deref(),
            momentum: self.momentum,
            nesterov: self.nesterov,
            beta1: self.beta1,
            beta2: self.beta2,
            alpha: self.alpha,
            eps: self.eps,
            weight_decay: self.weight_decay,
        };
        if parts.is_empty() {
            return Ok(None);
        }
        let default = fit::default_optimizer(self.data.is_none()).kind;
        Ok(Some(parts.config(default)?))
    }

    /// Full-batch L-BFGS, when `--optimizer lbfgs` asks for it.
    fn lbfgs(&self) -> anyhow::Result<Option<LbfgsConfig>> {
        if self.optimizer.as_deref() != Some("lbfgs") {
            if self.max_fun.is_some() || self.gtol.is_some() {
                anyhow::bail!("--max-fun and --gtol go with --optimizer lbfgs");
            }
            return Ok(None);
        }
        for (given, flag) in [
            (self.momentum.is_some(), "--momentum"),
            (self.nesterov, "--nesterov"),
            (self.beta1.is_some(), "--beta1"),
            (self.beta2.is_some(), "--beta2"),
            (self.alpha.is_some(), "--alpha"),
            (self.eps.is_some(), "--eps"),
        ] {
            if given {
                anyhow::bail!(
                    "{flag} is an option of the mini-batch optimizers; --optimizer lbfgs \
                     takes --weight-decay, --max-fun and --gtol"
                );
            }
        }
        let d = LbfgsConfig::default();
        Ok(Some(LbfgsConfig {
            max_fun: self.max_fun.unwrap_or(d.max_fun),
            gtol: self.gtol.unwrap_or(d.gtol),
            ..d
        }))
    }

    /// The schedule the flags name, with their constants.
    fn schedule(&self) -> Option<LrSchedule> {
        let params = ScheduleParams {
            step_epochs: self.lr_step_epochs,
            gamma: self.lr_gamma,
            min_lr: self.lr_min,
            cosine_epochs: self.lr_cosine_epochs.unwrap_or(self.epochs),
            patience: self.lr_patience,
            power_t: self.power_t,
        };
        self.lr_schedule
            .map(|kind| LrSchedule::from_kind(kind, &params))
    }

    /// The training session the flags describe (`--preset classic`: with
    /// [`FitSpec::classic`]'s settings where the flags give none).
    pub(super) fn spec(&self) -> anyhow::Result<FitSpec> {
        let spec = self.flags_spec()?;
        Ok(match self.preset.as_str() {
            "classic" => spec.classic(),
            _ => spec,
        })
    }

    /// The training session the flags alone describe.
    fn flags_spec(&self) -> anyhow::Result<FitSpec> {
        Ok(FitSpec {
            data: self
                .data
                .clone()
                .map_or(DataSource::BreastCancer, DataSource::File),
            read: ReadOverrides {
                weight_column: self.weight_column.clone(),
                ..self.read_overrides()?
            },
            test_data: self.test_data.clone(),
            test_labels: self.test_labels.clone(),
            validation_split: self.validation_split,
            hidden_layers: self.layers.clone(),
            activation: self.activation,
            init: self.init,
            head: self.head,
            epochs: self.epochs,
            batch_size: self.batch_size,
            lr: self.lr,
            optimizer: self.optimizer_config()?,
            clip_norm: self.clip_norm,
            schedule: self.schedule(),
            warmup_epochs: self.warmup_epochs,
            early_stopping: if self.early_stopping {
                Some(EarlyStopping::from_parts(
                    self.patience,
                    self.min_delta,
                    &self.monitor,
                )?)
            } else {
                None
            },
            dropout: self.dropout,
            label_smoothing: self.label_smoothing,
            decay_by_weight: self.decay_by_weight.then_some(true),
            lbfgs: self.lbfgs()?,
            class_weight: self
                .class_weight
                .as_deref()
                .map(str::parse::<ClassWeight>)
                .transpose()?,
            positive_class: self.positive_class.clone(),
            threads: self.threads,
            shard_rows: self.shard_rows,
            seed: self.seed,
            shuffle: !self.no_shuffle,
            standardize: !self.no_standardize,
            standardize_targets: !self.no_standardize_targets,
            init_model: self.init_model.clone().map(Stored::File),
            resume: self.resume.clone().map(Stored::File),
            checkpoint: self.checkpoint.clone(),
            checkpoint_every: self.checkpoint_every,
            train_metrics: self.train_metrics,
        })
    }
}

/// `backprop train`: checks the output paths, trains, writes the model and
/// the plot, and prints the summary (rank 0 alone writes and prints).
pub fn train(args: &TrainArgs, job: &Job) -> anyhow::Result<()> {
    if args.ensemble != 1 {
        return super::ensemble::train_ensemble(args, job);
    }
    check_outputs(args)?;
    let spec = args.spec()?;
    let outcome = run(&spec, args, job)?;
    if job.rank() != 0 {
        // every rank holds the same outcome; rank 0 writes and reports it
        return match outcome.interruption() {
            Some(_) => Err(Interrupted(String::new()).into()),
            None => Ok(()),
        };
    }
    if let Some(i) = outcome.interruption() {
        return Err(interrupted(args, &outcome, i)?.into());
    }
    if let Some(path) = &args.out {
        model_io::save_model(path, &outcome.mlp, &outcome.meta)?;
    }
    if let Some(path) = &args.plot {
        write_curves_svg(path, &outcome.history, outcome.held_out)?;
    }
    let record = TrainingRecord::from_extra(&outcome.meta.extra);
    let mut out = io::stdout().lock();
    if args.json {
        writeln!(out, "{}", summary_json(args, &outcome, &record))?;
    } else if !args.quiet {
        print_summary(&mut out, args, &outcome, &record)?;
    }
    if args.out.is_none() {
        // stderr, so that --json's standard output stays JSON lines
        eprintln!("{NOT_SAVED}");
    }
    Ok(())
}

/// Said on stderr when a run ends without `--out`: the model is gone.
pub(super) const NOT_SAVED: &str = "note: the model was not saved; give --out FILE to save it";

/// Refuses a `--plot` that is not an SVG file, output paths that cannot be
/// written and two outputs into one file, before any training.
pub(super) fn check_outputs(args: &TrainArgs) -> anyhow::Result<()> {
    if let Some(p) = &args.plot {
        let svg = p.extension().is_some_and(|e| e.eq_ignore_ascii_case("svg"));
        if !svg {
            return Err(usage(
                "--plot",
                format!(
                    "{}: the plot is an SVG file; give a name ending in .svg",
                    p.display()
                ),
            ));
        }
    }
    for (option, path) in [("--out", &args.out), ("--plot", &args.plot)] {
        if let Some(p) = path {
            fit::check_output_path(option, p)?;
        }
    }
    let named = [
        ("--out", &args.out),
        ("--plot", &args.plot),
        ("--checkpoint", &args.checkpoint),
    ];
    let outputs: Vec<(&'static str, &Path)> = named
        .iter()
        .filter_map(|(option, p)| Some((*option, p.as_deref()?)))
        .collect();
    fit::check_distinct_outputs(&outputs)?;
    Ok(())
}

/// Watches for an interrupt while the session is prepared (the data
/// loaded), when there is no batch to stop after and nothing to write: says
/// which file was being read and exits with code 130 at once.
struct LoadWatch {
    done: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<()>,
}

/// How often [`LoadWatch`] looks at the interrupt flag.
const LOAD_WATCH_PERIOD: std::time::Duration = std::time::Duration::from_millis(20);

impl LoadWatch {
    fn start(stop: &Arc<AtomicBool>, loading: &Arc<Mutex<Option<String>>>) -> LoadWatch {
        let done = Arc::new(AtomicBool::new(false));
        let (stop, loading, finished) = (Arc::clone(stop), Arc::clone(loading), Arc::clone(&done));
        let thread = std::thread::spawn(move || {
            while !finished.load(Ordering::Relaxed) {
                if stop.load(Ordering::Relaxed) {
                    eprintln!("{}", interrupted_before_training(&loading));
                    std::process::exit(130);
                }
                std::thread::sleep(LOAD_WATCH_PERIOD);
            }
        });
        LoadWatch { done, thread }
    }

    /// Stops watching (an interrupt from now on stops training).
    fn finish(self) {
        self.done.store(true, Ordering::Relaxed);
        // the thread only loops and exits; a panic there changes nothing here
        let _ = self.thread.join();
    }
}

/// What an interrupt before the first batch stopped.
fn interrupted_before_training(loading: &Mutex<Option<String>>) -> String {
    let file = loading.lock().unwrap_or_else(|e| e.into_inner()).clone();
    match file {
        Some(name) => format!("interrupted while loading {name}; nothing was written"),
        None => "interrupted before training started; nothing was written".to_string(),
    }
}

/// Prepares the session (an interrupt while loading ends the process with
/// code 130), joins the job's process group and runs it, the printer
/// reporting; a failure in an epoch says that nothing was written.
fn run(spec: &FitSpec, args: &TrainArgs, job: &Job) -> anyhow::Result<FitOutcome> {
    let mut printer = Printer::new(args, job);
    let stop = interrupt_flag()?;
    let watch = LoadWatch::start(&stop, &printer.loading);
    let prepared = fit::prepare(spec, &mut printer);
    watch.finish();
    let mut prepared = prepared?;
    if stop.load(Ordering::Relaxed) {
        return Err(Interrupted(interrupted_before_training(&printer.loading)).into());
    }
    if let Some(group) = job.group() {
        prepared.set_group(group)?;
    }
    let result = prepared.run(&stop, &mut printer);
    printer.clear_bar();
    let outcome = match (result, printer.in_epoch) {
        (Ok(outcome), _) => outcome,
        (Err(e), Some(epoch)) => {
            return Err(anyhow::Error::from(e).context(format!(
                "epoch {epoch}: training stopped, nothing was written"
            )))
        }
        (Err(e), None) => return Err(e.into()),
    };
    if let Some(e) = printer.error.take() {
        return Err(e.into());
    }
    Ok(outcome)
}

/// The epoch whose figures the summary gives: that of the weights written
/// (the best epoch's with early stopping), else the last.
fn reported<'a>(outcome: &'a FitOutcome, record: &TrainingRecord) -> Option<&'a EpochRecord> {
    match record.best {
        Some(b) => outcome.history.iter().find(|r| r.epoch == b.epoch),
        None => outcome.history.last(),
    }
}

/// The summary as one JSON object.
fn summary_json(
    args: &TrainArgs,
    outcome: &FitOutcome,
    record: &TrainingRecord,
) -> serde_json::Value {
    let held = outcome.held_out.name();
    let last = reported(outcome, record);
    let obj = serde_json::json!({
        "summary": true,
        "epochs": outcome.epochs,
        "train_loss": last.map(|r| r.train_loss),
        "train_accuracy": last.and_then(|r| r.train_accuracy),
        format!("{held}_loss"): last.and_then(|r| r.val_loss),
        format!("{held}_accuracy"): last.and_then(|r| r.val_accuracy),
        "samples_per_sec": outcome.samples_per_sec(),
        "train_seconds": outcome.train_seconds,
        "wall_seconds": outcome.wall_seconds,
        "threads": outcome.threads,
        "params": outcome.mlp.num_params(),
        "out": args.out.as_ref().map(|p| p.display().to_string()),
    });
    let mut obj = obj;
    if let Some(p) = &outcome.meta.positive_class {
        obj["positive_class"] = p.clone().into();
    }
    if let Some(b) = &record.best {
        obj["best_epoch"] = b.epoch.into();
        obj["stopped_early"] = matches!(outcome.end, FitEnd::EarlyStopped { .. }).into();
    }
    if let Some(r) = last.filter(|r| r.test_loss.is_some()) {
        // the test set reported beside a validation split
        obj["test_loss"] = r.test_loss.into();
        obj["test_accuracy"] = r.test_accuracy.into();
    }
    // regressions: the held-out and test R² (classifiers' are unchanged)
    if let Some(v) = last.and_then(|r| r.val_r2) {
        obj[format!("{held}_r2")] = v.into();
    }
    if let Some(v) = last.and_then(|r| r.test_r2) {
        obj["test_r2"] = v.into();
    }
    obj
}

/// The summary as text: final accuracies, the best epoch, the throughput
/// and where the model went.
fn print_summary(
    out: &mut impl Write,
    args: &TrainArgs,
    outcome: &FitOutcome,
    record: &TrainingRecord,
) -> anyhow::Result<()> {
    let held = outcome.held_out.name();
    let last = reported(outcome, record);
    if let Some(a) = last.and_then(|r| r.val_accuracy) {
        writeln!(out, "final {held} accuracy {:.2}%", 100.0 * a)?;
    }
    if let Some(a) = last.and_then(|r| r.test_accuracy) {
        writeln!(out, "final test accuracy {:.2}%", 100.0 * a)?;
    }
    if let Some(v) = last.and_then(|r| r.val_r2) {
        writeln!(out, "final {held} R² {v:.4}")?;
    }
    if let Some(v) = last.and_then(|r| r.test_r2) {
        writeln!(out, "final test R² {v:.4}")?;
    }
    if let FitEnd::Solver(why) = &outcome.end {
        writeln!(
            out,
            "L-BFGS ended after {} iterations: {why}",
            outcome.epochs
        )?;
    } else if args.optimizer.as_deref() == Some("lbfgs") {
        writeln!(
            out,
            "L-BFGS did not converge in {} iterations (--epochs); give more, or a larger --gtol",
            outcome.epochs
        )?;
    }
    if let Some(b) = &record.best {
        let test = outcome
            .history
            .iter()
            .find(|r| r.epoch == b.epoch)
            .and_then(|r| r.test_accuracy)
            .map_or(String::new(), |a| {
                format!(", test accuracy {:.2}%", 100.0 * a)
            });
        writeln!(
            out,
            "{}; the model holds the weights of epoch {} (validation {} {:.5}{test})",
            if matches!(outcome.end, FitEnd::EarlyStopped { .. }) {
                "stopped early"
            } else {
                "early stopping watched every epoch"
            },
            b.epoch,
            b.monitor,
            b.value,
        )?;
    }
    writeln!(
        out,
        "training throughput {:.0} samples/s ({} samples in {:.4} s, evaluation excluded)",
        outcome.samples_per_sec(),
        outcome.samples,
        outcome.train_seconds
    )?;
    if let Some(p) = &args.out {
        writeln!(out, "model written to {}", p.display())?;
    }
    Ok(())
}

/// Writes `--out` (the weights as they are) and the plot of an interrupted
/// run, and says what was written (the library wrote the checkpoint).
fn interrupted(
    args: &TrainArgs,
    outcome: &FitOutcome,
    at: &Interruption,
) -> anyhow::Result<Interrupted> {
    let mut said = match &at.in_epoch {
        Some(p) => format!(
            "interrupted in epoch {} after batch {}",
            outcome.epochs + 1,
            p.batches_done
        ),
        None => format!("interrupted after epoch {}", outcome.epochs),
    };
    if let Some(path) = &args.out {
        model_io::save_model(path, &outcome.mlp, &outcome.meta)?;
        said += &format!(
            "; the weights as they are were written to {}",
            path.display()
        );
    }
    if let Some(path) = &at.checkpoint {
        said += &format!(
            "; checkpoint written to {} (--resume continues from there, bit for bit)",
            path.display()
        );
    }
    if args.out.is_none() {
        said += "; the model was not saved (--out FILE saves it)";
    }
    if let Some(path) = &args.plot {
        // nothing to draw before the first epoch ends
        if !outcome.history.is_empty() {
            write_curves_svg(path, &outcome.history, outcome.held_out)?;
        }
    }
    Ok(Interrupted(said))
}
