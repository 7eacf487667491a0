//! Text and JSON shared by the commands: the training run's [`Printer`],
//! notes on how data were read, an evaluation as JSON, and small helpers.

use std::io::{self, Write};
use std::ops::ControlFlow;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};

use backprop::data::{self, LoadOptions, RawTable};
use backprop::dist::Job;
use backprop::evaluate::Evaluation;
use backprop::fit::{EpochReport, FitCallbacks, HeldOut, RunInfo};

use super::args::TrainArgs;

/// `n word` or `n words`.
pub fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}

/// A figure in a column of 12 characters with at least 6 significant
/// digits: 6 decimals from 0.1 up (as always), more decimals below, and
/// scientific notation below 10⁻⁴, so that the errors of a small-scale
/// target do not print as `0.000000`.
pub fn figure(v: f64) -> String {
    let mag = v.abs();
    if mag >= 0.1 || mag == 0.0 || !v.is_finite() {
        format!("{v:.6}")
    } else if mag >= 1e-4 {
        let decimals = (5.0 - mag.log10().floor()) as usize;
        format!("{v:.decimals$}")
    } else {
        format!("{v:.5e}")
    }
}

/// A ROC AUC to 4 decimals, or `n/a` where it is undefined.
pub fn auc_text(a: Option<f64>) -> String {
    a.map_or("n/a".to_string(), |a| format!("{a:.4}"))
}

/// An evaluation as one JSON object.
pub fn report_json(report: &Evaluation) -> serde_json::Value {
    let binary = |b: &backprop::metrics::BinaryMetrics| serde_json::json!({"precision": b.precision, "recall": b.recall, "f1": b.f1, "roc_auc": b.roc_auc});
    let regression = |m: &backprop::metrics::RegressionMetrics| serde_json::json!({"mse": m.mse, "rmse": m.rmse, "mae": m.mae, "r2": m.r2});
    match report {
        Evaluation::Regression(r) => serde_json::json!({
            "task": "regression",
            "rows": r.rows,
            "loss": r.loss,
            "targets": r.per_output.iter().map(|(n, m)| {
                let mut v = regression(m);
                v["name"] = n.clone().into();
                v
            }).collect::<Vec<_>>(),
            "mean": regression(&r.mean),
            "mse": r.mean.mse, "rmse": r.mean.rmse, "mae": r.mean.mae, "r2": r.mean.r2,
        }),
        Evaluation::MultiLabel(r) => serde_json::json!({
            "task": "multi-label",
            "rows": r.rows,
            "loss": r.loss,
            "threshold": r.threshold,
            "exact_match": r.exact_match,
            "macro_f1": r.macro_f1,
            "labels": r.per_label.iter().map(|(n, m)| {
                let mut v = binary(m);
                v["name"] = n.clone().into();
                v
            }).collect::<Vec<_>>(),
        }),
        Evaluation::Classification(r) => {
            let mut obj = serde_json::json!({
                "task": "classification",
                "rows": r.rows,
                "loss": r.loss,
                "accuracy": r.accuracy,
                "classes": r.classes,
                "confusion_matrix": r.confusion,
                "per_class": r.classes.iter().zip(&r.per_class).map(|(n, m)| serde_json::json!({
                    "class": n, "precision": m.precision, "recall": m.recall, "f1": m.f1, "support": m.support
                })).collect::<Vec<_>>(),
                "macro_f1": r.macro_f1,
            });
            if let Some((positive, t, b)) = &r.binary {
                obj["positive_class"] = positive.clone().into();
                obj["threshold"] = (*t).into();
                obj["precision"] = b.precision.into();
                obj["recall"] = b.recall.into();
                obj["f1"] = b.f1.into();
                obj["roc_auc"] = b.roc_auc.into();
            }
            obj
        }
    }
}

/// Loads a data file and tells the user, on stderr, what detection decided
/// when it was unsure and which columns were left out.
pub fn load(path: &Path, opts: &LoadOptions, quiet: bool) -> anyhow::Result<RawTable> {
    let raw = data::load(path, opts)?;
    if !quiet {
        print_load_notes(&raw, opts);
    }
    Ok(raw)
}

/// The notes of [`load`].
pub fn print_load_notes(raw: &RawTable, opts: &LoadOptions) {
    if let Some(g) = &raw.header_guess {
        eprintln!(
            "note: {}: read the first row as {} ({}); give --header or --no-header to decide",
            raw.source_name,
            if g.header { "a header" } else { "data" },
            g.reason
        );
    }
    for n in &raw.notes {
        eprintln!("note: {}: {}", raw.source_name, super::flags::spell_text(n));
    }
    let skipped: Vec<&String> = raw
        .ignored_columns
        .iter()
        .filter(|c| !opts.ignore_columns.contains(c))
        .collect();
    if !skipped.is_empty() {
        eprintln!(
            "note: {}: ignoring {} column{} the model does not use: {}",
            raw.source_name,
            skipped.len(),
            if skipped.len() == 1 { "" } else { "s" },
            skipped
                .iter()
                .map(|c| c.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
}

/// The training run's output: notes on the data read, a header, a progress
/// bar on a terminal, one line (text or JSON) per epoch.
pub struct Printer {
    /// Notes on stderr about how the data were read.
    notes: bool,
    /// The header, the progress bar and a text line per epoch.
    text: bool,
    /// A JSON line per epoch.
    json: bool,
    /// Processes of the job (1 without mpirun).
    ranks: usize,
    /// Whether `--positive-class` was given.
    positive_given: bool,
    held_out: HeldOut,
    train_rows: u64,
    bar: Option<ProgressBar>,
    epoch_started: Instant,
    /// The epoch running (started, not yet reported).
    pub in_epoch: Option<usize>,
    /// The first error writing to stdout; it stops the run.
    pub error: Option<io::Error>,
    /// The data file being read, as messages name it (shared with the
    /// thread that watches for an interrupt while loading).
    pub loading: Arc<Mutex<Option<String>>>,
}

impl Printer {
    /// The printer of `job`'s rank: silent but on rank 0.
    pub fn new(args: &TrainArgs, job: &Job) -> Printer {
        let speaks = job.rank() == 0;
        Printer {
            notes: speaks && !args.json,
            text: speaks && !args.json && !args.quiet,
            json: speaks && args.json,
            ranks: job.size(),
            positive_given: args.positive_class.is_some(),
            held_out: HeldOut::default(),
            train_rows: 0,
            bar: None,
            epoch_started: Instant::now(),
            in_epoch: None,
            error: None,
            loading: Arc::default(),
        }
    }

    /// Prints a line on stdout, unless an earlier one failed.
    fn say(&mut self, line: impl std::fmt::Display) {
        if self.error.is_none() {
            if let Err(e) = writeln!(io::stdout(), "{line}") {
                self.error = Some(e);
            }
        }
    }

    /// Takes the progress bar off the terminal.
    pub fn clear_bar(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }
}

impl FitCallbacks for Printer {
    fn on_load_start(&mut self, path: &Path) {
        let name = match path.as_os_str() == "-" {
            true => "standard input".to_string(),
            false => path.display().to_string(),
        };
        *self.loading.lock().unwrap_or_else(|e| e.into_inner()) = Some(name);
    }

    fn on_load(&mut self, table: &RawTable, options: &LoadOptions) {
        *self.loading.lock().unwrap_or_else(|e| e.into_inner()) = None;
        if self.notes {
            print_load_notes(table, options);
        }
    }

    fn on_start(&mut self, info: &RunInfo) {
        self.held_out = info.held_out;
        self.train_rows = info.train_rows as u64;
        if !self.text {
            return;
        }
        self.say(run_header(info));
        self.say(run_settings(info, self.ranks));
        if let Some(p) = &info.positive_class {
            let why = match self.positive_given {
                true => "",
                false => " (the training rows' minority class; --positive-class NAME chooses)",
            };
            self.say(format!(
                "positive class '{p}'{why}: eval's binary metrics and --threshold refer to it"
            ));
        }
    }

    fn on_epoch_start(&mut self, epoch: usize) {
        self.in_epoch = Some(epoch);
        self.epoch_started = Instant::now();
        if self.text && io::IsTerminal::is_terminal(&io::stderr()) {
            let bar = ProgressBar::new(self.train_rows).with_style(
                ProgressStyle::with_template("epoch {prefix:>3} [{bar:30}] {pos}/{len} {msg}")
                    .expect("a valid progress bar template")
                    .progress_chars("=> "),
            );
            bar.set_prefix(epoch.to_string());
            self.bar = Some(bar);
        }
    }

    fn on_batch(&mut self, _epoch: usize, rows_done: usize, mean_loss: f64) {
        if let Some(bar) = &self.bar {
            bar.set_position(rows_done as u64);
            let rate = rows_done as f64 / self.epoch_started.elapsed().as_secs_f64().max(1e-9);
            bar.set_message(format!("loss {mean_loss:.5}  {rate:.0} samples/s"));
        }
    }

    fn on_epoch(&mut self, report: &EpochReport) -> ControlFlow<()> {
        self.in_epoch = None;
        self.clear_bar();
        if self.json {
            self.say(epoch_json(report, self.held_out));
        } else if self.text {
            self.say(epoch_line(report, self.held_out));
        }
        if self.error.is_some() {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    }
}

/// The run's first line: the data, the split and the network.
fn run_header(info: &RunInfo) -> String {
    format!(
        "{}: {}{}, {}; network {:?}, {:?} hidden, {} head, {}",
        info.data_name,
        plural(info.train_rows, "training row"),
        info.held_out_rows.map_or(String::new(), |n| format!(
            ", {}",
            plural(n, &format!("{} row", info.held_out.name()))
        )) + &info
            .test_rows
            .map_or(String::new(), |n| format!(", {}", plural(n, "test row"))),
        plural(info.features, "feature"),
        info.sizes,
        info.hidden,
        info.head,
        plural(info.params, "parameter")
    )
}

/// The run's second line: batch, rate, regularisation, parallelism, resume.
fn run_settings(info: &RunInfo, ranks: usize) -> String {
    format!(
        "batch {}, lr {}{}{}{}, {}{}, shards of {} rows, SIMD: {}{}",
        info.config.batch_size,
        info.config.lr,
        if info.config.dropout > 0.0 {
            format!(", dropout {}", info.config.dropout)
        } else {
            String::new()
        },
        info.class_weight
            .as_ref()
            .map_or(String::new(), |c| format!(", class weights {c}")),
        match info.row_weights.as_deref() {
            Some(w) => format!(
                ", row weights from {}",
                w.strip_prefix("column:")
                    .map_or("the table".to_string(), |c| format!("column '{c}'"))
            ),
            None => String::new(),
        },
        if ranks > 1 {
            format!("{ranks} MPI processes × ")
        } else {
            String::new()
        },
        plural(info.threads, "thread"),
        info.shard_rows,
        backprop::kernels::simd_width(),
        match (info.first_epoch, &info.resume_in_epoch) {
            (e, Some(p)) => format!(", resuming epoch {} after batch {}", e + 1, p.batches_done),
            (0, None) => String::new(),
            (e, None) => format!(", resuming after epoch {e}"),
        }
    )
}

/// An epoch as one JSON object.
fn epoch_json(report: &EpochReport, held_out: HeldOut) -> serde_json::Value {
    let r = &report.record;
    let held = held_out.name();
    let obj = serde_json::json!({
        "epoch": r.epoch,
        "train_loss": r.train_loss,
        "train_accuracy": r.train_accuracy,
        format!("{held}_loss"): r.val_loss,
        format!("{held}_accuracy"): r.val_accuracy,
        "samples_per_sec": report.samples_per_sec,
        "seconds": report.seconds,
    });
    let mut obj = obj;
    if r.test_loss.is_some() {
        obj["test_loss"] = r.test_loss.into();
        obj["test_accuracy"] = r.test_accuracy.into();
    }
    // regressions: R² beside the losses (classifiers' lines are unchanged)
    if let Some(v) = r.val_r2 {
        obj[format!("{held}_r2")] = v.into();
    }
    if let Some(v) = r.test_r2 {
        obj["test_r2"] = v.into();
    }
    obj
}

/// An epoch as one line of text.
fn epoch_line(report: &EpochReport, held_out: HeldOut) -> String {
    let r = &report.record;
    let mut line = format!("epoch {:>3}  loss {:.5}", r.epoch, r.train_loss);
    if let Some(a) = r.train_accuracy {
        line += &format!("  train acc {:6.2}%", 100.0 * a);
    }
    let short = match held_out {
        HeldOut::Test => "test",
        HeldOut::Validation => "val",
    };
    if let Some(l) = r.val_loss {
        line += &format!("  {short} loss {l:.5}");
    }
    if let Some(a) = r.val_accuracy {
        line += &format!("  {short} acc {:6.2}%", 100.0 * a);
    }
    if let Some(v) = r.val_r2 {
        line += &format!("  {short} R² {v:.4}");
    }
    if let Some(l) = r.test_loss {
        line += &format!("  test loss {l:.5}");
    }
    if let Some(a) = r.test_accuracy {
        line += &format!("  test acc {:6.2}%", 100.0 * a);
    }
    if let Some(v) = r.test_r2 {
        line += &format!("  test R² {v:.4}");
    }
    line += &format!("  {:.0} samples/s", report.samples_per_sec);
    line
}
