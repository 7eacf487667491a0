//! The `backprop` command line: flags → library calls → output. No math here.
//!
//! Exit codes: 0 success, 2 usage error (bad flags or option values), 1 data
//! or model error. Every error is one message on stderr.

use std::io::{self, Write};
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};

use backprop::bench::BenchSpec;
use backprop::data::{self, ClassWeight, LabelColumn, LoadOptions, RawTable};
use backprop::dist::Job;
use backprop::evaluate::{self, CsvOut, Evaluation};
use backprop::fit::{
    self, DataSource, EpochReport, FitCallbacks, FitEnd, FitOutcome, FitSpec, HeldOut,
    Interruption, RunInfo,
};
use backprop::infer::Inference;
use backprop::model_io::{self, SavedModel};
use backprop::optim::{OptimizerConfig, OptimizerKind};
use backprop::pipeline::ReadOverrides;
use backprop::plot::write_curves_svg;
use backprop::presets::Preset;
use backprop::schedule::{LrSchedule, ScheduleKind};
use backprop::stopping::{EarlyStopping, Monitor};
use backprop::{Activation, Error, Head};

#[derive(Parser)]
#[command(
    name = "backprop",
    version,
    about = "Fast CPU training of multi-layer perceptrons"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Train a network. Without --data: the breast-cancer set embedded in the
    /// binary (standardised, fixed 455/114 split).
    Train(Box<TrainArgs>),
    /// Loss, accuracy and confusion matrix of a model on labelled data.
    Eval(EvalArgs),
    /// One CSV row per input: the class and probabilities, or the outputs.
    Predict(PredictArgs),
    /// A model's architecture, parameter count and metadata.
    Info(InfoArgs),
    /// Measure training throughput on synthetic data held in memory: median
    /// samples/s over timed windows, GFLOP/s, time per phase, peak memory.
    Bench(BenchArgs),
}

/// How to read a data file.
#[derive(Args, Clone)]
struct DataArgs {
    /// Labels for IDX or NPY features (CSV files hold theirs in a column); a
    /// 2-D array gives several outputs.
    #[arg(long, value_name = "FILE")]
    labels: Option<PathBuf>,
    /// The CSV label column(s): header names or 0-based indices, comma-separated
    /// (default: the last column; eval/predict: the model's). Several columns:
    /// multi-output regression (--head mse) or multi-label 0/1 columns (sigmoid).
    #[arg(long, value_name = "NAME|INDEX,...", value_delimiter = ',')]
    label_column: Option<Vec<String>>,
    /// The CSV field delimiter: one character, or 'tab' (default: sniffed
    /// among , ; tab |; eval/predict: the model's).
    #[arg(long)]
    delimiter: Option<String>,
    /// The CSV's first row is a header (default: detected; eval/predict: the model's).
    #[arg(long, conflicts_with = "no_header")]
    header: bool,
    /// The CSV has no header row (default: detected; eval/predict: the model's).
    #[arg(long)]
    no_header: bool,
    /// CSV columns to leave out (header names, or 'column N'), e.g. IDs.
    #[arg(long, value_name = "NAME,...", value_delimiter = ',')]
    ignore_columns: Vec<String>,
    /// Read an f4 NPY file's features, or a plain IDX or |u1 NPY file's
    /// image bytes, into memory instead of mapping the file (by default they
    /// are read in place: the file must not change while backprop runs).
    /// Changes no result.
    #[arg(long)]
    no_mmap: bool,
}

#[derive(Args)]
struct TrainArgs {
    /// Training data: CSV, IDX (plain or .gz) or NPY.
    #[arg(long, value_name = "FILE")]
    data: Option<PathBuf>,
    #[command(flatten)]
    read: DataArgs,
    /// Held-out data to evaluate after each epoch (its columns are matched to
    /// the training file's by name when both have a header).
    #[arg(long, value_name = "FILE")]
    test_data: Option<PathBuf>,
    /// Labels of --test-data for IDX/NPY.
    #[arg(long, value_name = "FILE", requires = "test_data")]
    test_labels: Option<PathBuf>,
    /// Hold out this fraction of --data for validation (seeded; stratified
    /// by class for classification).
    #[arg(long, value_name = "F")]
    validation_split: Option<f64>,
    /// Hidden layer sizes, comma-separated (input and output sizes come from the data).
    #[arg(long, value_delimiter = ',', value_name = "N,N,...")]
    layers: Option<Vec<usize>>,
    /// Hidden activation: sigmoid, tanh, relu or identity [default: sigmoid on
    /// the embedded set, relu otherwise].
    #[arg(long)]
    activation: Option<Activation>,
    /// Output head: sigmoid (binary/multi-label), softmax (classes) or mse
    /// (regression) [default: sigmoid for 2 classes, softmax for more].
    #[arg(long)]
    head: Option<Head>,
    /// Total number of epochs (with --resume: the total, including those done).
    #[arg(long, default_value_t = fit::DEFAULT_EPOCHS)]
    epochs: usize,
    /// Mini-batch size [default: 32].
    #[arg(long)]
    batch_size: Option<usize>,
    /// Base learning rate [default per optimizer: adam/adamw 0.003, rmsprop
    /// 0.001, sgd 0.1 (0.5 on the embedded set)].
    #[arg(long)]
    lr: Option<f32>,
    /// The update rule, as PyTorch's SGD, Adam, AdamW, RMSprop [default: adam
    /// on a data file, sgd on the embedded set].
    #[arg(long, value_name = "sgd|adam|adamw|rmsprop")]
    optimizer: Option<String>,
    /// SGD momentum (PyTorch: the first step's buffer is the gradient).
    #[arg(long, value_name = "M")]
    momentum: Option<f32>,
    /// Nesterov momentum (needs --momentum).
    #[arg(long)]
    nesterov: bool,
    /// Adam/AdamW first-moment decay [default: 0.9].
    #[arg(long, value_name = "B1")]
    beta1: Option<f32>,
    /// Adam/AdamW second-moment decay [default: 0.999].
    #[arg(long, value_name = "B2")]
    beta2: Option<f32>,
    /// RMSprop smoothing constant [default: 0.99].
    #[arg(long, value_name = "A")]
    alpha: Option<f32>,
    /// Adam/AdamW/RMSprop denominator term [default: 1e-8].
    #[arg(long, value_name = "E")]
    eps: Option<f32>,
    /// L2 penalty on the weights, not the biases (AdamW: decoupled decay).
    #[arg(long, value_name = "L")]
    weight_decay: Option<f32>,
    /// Clip the L2 norm of the mean gradient to C.
    #[arg(long, value_name = "C")]
    clip_norm: Option<f32>,
    /// Learning-rate schedule [default: constant].
    #[arg(long, value_name = "constant|step|cosine|plateau")]
    lr_schedule: Option<ScheduleKind>,
    /// step: epochs between decays.
    #[arg(long, value_name = "N", default_value_t = 10, requires = "lr_schedule")]
    lr_step_epochs: usize,
    /// step and plateau: the decay factor.
    #[arg(
        long,
        value_name = "G",
        default_value_t = 0.1,
        requires = "lr_schedule"
    )]
    lr_gamma: f32,
    /// cosine: the rate at the end of the run.
    #[arg(
        long,
        value_name = "LR",
        default_value_t = 0.0,
        requires = "lr_schedule"
    )]
    lr_min: f32,
    /// cosine: the epochs the annealing spans [default: --epochs]; give the
    /// final total when a run will be resumed to go further.
    #[arg(long, value_name = "N", requires = "lr_schedule")]
    lr_cosine_epochs: Option<usize>,
    /// plateau: epochs without improvement of the validation loss tolerated.
    #[arg(long, value_name = "N", default_value_t = 10, requires = "lr_schedule")]
    lr_patience: usize,
    /// Epochs of linear warm-up (composes with every schedule).
    #[arg(long, value_name = "W")]
    warmup_epochs: Option<usize>,
    /// Stop when the validation figure (--monitor) has not improved by more
    /// than --min-delta for --patience epochs, and keep the best epoch's
    /// weights (needs --validation-split).
    #[arg(long)]
    early_stopping: bool,
    /// Early stopping: epochs without improvement tolerated.
    #[arg(
        long,
        value_name = "N",
        default_value_t = 10,
        requires = "early_stopping"
    )]
    patience: usize,
    /// Early stopping: the improvement that counts.
    #[arg(
        long,
        value_name = "D",
        default_value_t = 0.0,
        requires = "early_stopping"
    )]
    min_delta: f64,
    /// Early stopping: the validation figure watched.
    #[arg(
        long,
        value_name = "loss|accuracy|r2",
        default_value = "loss",
        requires = "early_stopping"
    )]
    monitor: String,
    /// Inverted dropout on the hidden layers: the probability of zeroing a
    /// unit while training (none at prediction).
    #[arg(long, value_name = "P")]
    dropout: Option<f32>,
    /// Weigh the classes in the training loss: "balanced" (n_samples /
    /// (n_classes · count), as scikit-learn) or CLASS=WEIGHT pairs like
    /// "yes=5,no=1" (classes not named weigh 1).
    #[arg(long, value_name = "balanced|CLASS=W,...")]
    class_weight: Option<String>,
    /// A CSV column of row weights (numbers >= 0): the loss is
    /// Σ w·loss / Σ w, as scikit-learn's sample_weight; multiplies
    /// --class-weight.
    #[arg(long, value_name = "NAME")]
    weight_column: Option<String>,
    /// Worker threads (0: one per core). Changes the speed, never the result.
    #[arg(long, default_value_t = 0)]
    threads: usize,
    /// Rows per shard, the unit of parallel work [default: half the batch,
    /// clamped to 64..=128].
    #[arg(long)]
    shard_rows: Option<usize>,
    /// Seed for initialisation, shuffling and --validation-split [default: 42].
    #[arg(long)]
    seed: Option<u64>,
    /// Train on the rows in file order.
    #[arg(long)]
    no_shuffle: bool,
    /// Do not standardise the features (pixel data are always scaled to 0..1).
    #[arg(long)]
    no_standardize: bool,
    /// With --head mse, train on the raw targets instead of standardised ones
    /// (by default their mean and std are stored in the model and predictions
    /// come back in the original units).
    #[arg(long)]
    no_standardize_targets: bool,
    /// Start from the weights of this model file instead of random ones.
    #[arg(long, value_name = "FILE", conflicts_with = "resume")]
    init_model: Option<PathBuf>,
    /// Write the trained model here (safetensors).
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// Write a checkpoint here every --checkpoint-every epochs.
    #[arg(long, value_name = "PATH")]
    checkpoint: Option<PathBuf>,
    /// Epochs between checkpoints.
    #[arg(long, value_name = "N", default_value_t = 1, requires = "checkpoint")]
    checkpoint_every: usize,
    /// Continue from a checkpoint up to --epochs in total.
    #[arg(long, value_name = "PATH")]
    resume: Option<PathBuf>,
    /// Draw loss and accuracy curves per epoch into an SVG file.
    #[arg(long, value_name = "FILE")]
    plot: Option<PathBuf>,
    /// One JSON object per epoch and a final summary, nothing else.
    #[arg(long)]
    json: bool,
    /// No progress bar and no per-epoch lines.
    #[arg(long)]
    quiet: bool,
    /// The per-epoch train accuracy: `running` (of the epoch's training
    /// passes, each batch before its update, as Keras reports it; free) or
    /// `full` (a separate pass over the training set with the epoch's final
    /// weights).
    #[arg(long, value_name = "running|full", default_value = "running")]
    train_metrics: fit::TrainMetrics,
}

#[derive(Args)]
struct EvalArgs {
    /// The model file.
    #[arg(long, value_name = "FILE")]
    model: PathBuf,
    /// Labelled data.
    #[arg(long, value_name = "FILE")]
    data: PathBuf,
    #[command(flatten)]
    read: DataArgs,
    /// A binary or multi-label model predicts the positive class when its
    /// probability is at least T.
    #[arg(long, value_name = "T", default_value_t = 0.5)]
    threshold: f32,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
    /// Worker threads (0: one per core). Changes the speed, never a figure.
    #[arg(long, default_value_t = 0)]
    threads: usize,
    /// Rows per chunk of the forward passes (memory grows with it and the
    /// threads, not with the rows). Changes no figure.
    #[arg(long, value_name = "N", default_value_t = backprop::infer::DEFAULT_CHUNK_ROWS)]
    chunk_rows: usize,
}

#[derive(Args)]
struct PredictArgs {
    /// The model file.
    #[arg(long, value_name = "FILE")]
    model: PathBuf,
    /// Inputs ('-': standard input). With a header, the model's features are
    /// picked by name and other columns are ignored; without, the columns
    /// must be the model's features (or laid out as the training file).
    #[arg(long, value_name = "FILE")]
    data: PathBuf,
    #[command(flatten)]
    read: DataArgs,
    /// Copy this column (e.g. an ID) into the output as its first column.
    #[arg(long, value_name = "NAME")]
    id_column: Option<String>,
    /// A binary or multi-label model predicts the positive class when its
    /// probability is at least T.
    #[arg(long, value_name = "T", default_value_t = 0.5)]
    threshold: f32,
    /// Write the CSV here (atomically) instead of to standard output ('-').
    /// A name ending in .npy gets an NPY file of f32 instead: each row's
    /// probabilities (or, for mse, values), the numbers the CSV prints.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// Worker threads (0: one per core). Changes the speed, never a figure.
    #[arg(long, default_value_t = 0)]
    threads: usize,
    /// Rows per chunk of the forward passes (memory grows with it and the
    /// threads, not with the rows). Changes no figure.
    #[arg(long, value_name = "N", default_value_t = backprop::infer::DEFAULT_CHUNK_ROWS)]
    chunk_rows: usize,
}

#[derive(Args)]
struct InfoArgs {
    /// The model (or checkpoint) file.
    #[arg(long, value_name = "FILE")]
    model: PathBuf,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
struct BenchArgs {
    /// A preset: T (30-64-32-1 sigmoid/BCE, batch 32), M (784-256-256-10
    /// relu/softmax, 128), B (784-256-256-1 sigmoid/BCE, 256) or L
    /// (784-1024-1024-1024-10 relu/softmax, 256), all with plain SGD. Other
    /// flags override it.
    #[arg(long)]
    config: Option<String>,
    /// All layer sizes, input to output, comma-separated (e.g. 784,256,256,10).
    #[arg(long, value_delimiter = ',')]
    layers: Option<Vec<usize>>,
    /// Hidden activation: sigmoid, tanh, relu or identity.
    #[arg(long)]
    activation: Option<Activation>,
    /// Output head: sigmoid, softmax or mse.
    #[arg(long)]
    head: Option<Head>,
    /// Mini-batch size.
    #[arg(long)]
    batch_size: Option<usize>,
    /// Worker threads (0: one per core).
    #[arg(long, default_value_t = 0)]
    threads: usize,
    /// Rows per shard (0: the trainer's default).
    #[arg(long, default_value_t = 0)]
    shard_rows: usize,
    /// Seconds of timed windows, after a short warm-up.
    #[arg(long, default_value_t = 5.0)]
    seconds: f64,
    /// Number of timed windows (the median is reported).
    #[arg(long, default_value_t = 7)]
    windows: usize,
    /// The update rule, with PyTorch's default constants (the presets'
    /// published figures are plain SGD).
    #[arg(long, value_name = "sgd|adam|adamw|rmsprop", default_value = "sgd")]
    optimizer: String,
    /// L2 penalty on the weights, not the biases (AdamW: decoupled decay).
    #[arg(long, value_name = "L", default_value_t = 0.0)]
    weight_decay: f32,
    /// Clip the L2 norm of the mean gradient to C (one more pass over the
    /// gradient per step).
    #[arg(long, value_name = "C")]
    clip_norm: Option<f32>,
    /// Dropout probability on the hidden layers.
    #[arg(long, value_name = "P", default_value_t = 0.0)]
    dropout: f32,
    /// Measure prediction instead of training: forward passes (and the
    /// head) over --rows synthetic rows, in chunks of --chunk-rows.
    #[arg(long)]
    predict: bool,
    /// With --predict: rows per pass.
    #[arg(long, value_name = "N", default_value_t = 65_536, requires = "predict")]
    rows: usize,
    /// With --predict: rows per chunk.
    #[arg(long, value_name = "N", default_value_t = backprop::infer::DEFAULT_CHUNK_ROWS, requires = "predict")]
    chunk_rows: usize,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // under mpirun: one rank of the job (train and bench share the work;
    // rank 0 alone prints and writes)
    let job = match Job::join() {
        Ok(job) => job,
        Err(e) => {
            eprintln!("error: {}", error_text(&e.into()));
            return ExitCode::from(2);
        }
    };
    let result = match cli.command {
        Command::Train(args) => train(&args, &job),
        Command::Bench(args) => bench(&args, &job),
        _ if job.size() > 1 => Err(usage(
            "mpi",
            format!(
                "started as {} processes: only train and bench run as an MPI job; \
                 run eval, predict and info without mpirun",
                job.size()
            ),
        )),
        Command::Eval(args) => eval(&args),
        Command::Predict(args) => predict(&args),
        Command::Info(args) => info(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        // a closed pipe (`backprop … | head`) is not an error
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        // every rank agreed to stop (the library votes on it)
        Err(e) if e.downcast_ref::<Interrupted>().is_some() => {
            if job.rank() == 0 {
                eprintln!("{e}");
            }
            // rank 0 has written its files: only now may the others exit
            if let Err(e) = job.wait_for_all() {
                eprintln!("error (rank {} of {}): {e}", job.rank(), job.size());
            }
            ExitCode::from(130)
        }
        Err(e) => {
            let usage = e
                .chain()
                .any(|c| matches!(c.downcast_ref::<Error>(), Some(Error::Config { .. })));
            let code = if usage { 2 } else { 1 };
            if job.size() > 1 {
                eprintln!(
                    "error (rank {} of {}): {}",
                    job.rank(),
                    job.size(),
                    error_text(&e)
                );
                // the other ranks may be waiting for this one: end them all
                job.abort(i32::from(code));
            } else {
                eprintln!("error: {}", error_text(&e));
            }
            ExitCode::from(code)
        }
    }
}

/// The error and its causes, each said once (an I/O error's text is part of
/// the message that names its file, so it is not repeated as the cause). A
/// configuration error names the flag of the field it names.
fn error_text(e: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in e.chain() {
        let part = match cause.downcast_ref::<Error>() {
            // the job's launch, not a flag (`dist::Job`)
            Some(Error::Config { option, reason }) if *option == "mpi" => {
                format!("mpirun: {reason}")
            }
            Some(Error::Config { option, reason }) => {
                format!("invalid option {}: {reason}", flag(option))
            }
            _ => cause.to_string(),
        };
        if text.contains(&part) {
            continue;
        }
        if !text.is_empty() {
            text += ": ";
        }
        text += &part;
    }
    text
}

/// The flags of the configuration fields that library errors name
/// ([`FitSpec`] and [`BenchSpec`] fields); unlisted fields are spelled
/// `--field-name`.
const FLAGS: [(&str, &str); 12] = [
    ("early_stopping.patience", "--patience"),
    ("early_stopping.min_delta", "--min-delta"),
    ("early_stopping.monitor", "--monitor"),
    ("data", "--data"),
    ("label_columns", "--label-column"),
    ("kind", "--optimizer"),
    ("read.labels_path", "--labels"),
    ("hidden_layers", "--layers"),
    ("shuffle", "--no-shuffle"),
    ("standardize", "--no-standardize"),
    ("standardize_targets", "--no-standardize-targets"),
    ("checkpoint_every", "--checkpoint-every"),
];

/// The command-line flag for a field named in an error (`epochs` →
/// `--epochs`, `hidden_layers` → `--layers`); a flag passes through.
fn flag(field: &str) -> String {
    if field.starts_with("--") {
        return field.to_string();
    }
    match FLAGS.iter().find(|(f, _)| *f == field) {
        Some((_, flag)) => flag.to_string(),
        None => format!("--{}", field.replace('_', "-")),
    }
}

/// Training stopped at the user's request (exit code 130, like a shell).
#[derive(Debug)]
struct Interrupted(String);

impl std::fmt::Display for Interrupted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Interrupted {}

/// A flag the first SIGINT or SIGTERM sets (training then stops after the
/// current batch); a second one ends the process at once with code 130.
fn interrupt_flag() -> anyhow::Result<Arc<AtomicBool>> {
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

/// `n word` or `n words`.
fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<io::Error>()
            .is_some_and(|io| io.kind() == io::ErrorKind::BrokenPipe)
    })
}

/// A usage error naming the option (exit code 2).
fn usage(option: &'static str, reason: impl ToString) -> anyhow::Error {
    Error::Config {
        option,
        reason: reason.to_string(),
    }
    .into()
}

impl DataArgs {
    /// What the flags say about reading a file (`None` where they are silent).
    fn overrides(&self, id_column: Option<&String>) -> anyhow::Result<ReadOverrides> {
        let delimiter = match self.delimiter.as_deref() {
            None => None,
            Some("tab" | "\\t" | "\t") => Some(b'\t'),
            Some(d) if d.len() == 1 && d.is_ascii() => Some(d.as_bytes()[0]),
            Some(d) => {
                return Err(usage(
                    "--delimiter",
                    format!("'{d}' is not one ASCII character (or 'tab')"),
                ))
            }
        };
        let label_columns = self.label_column.as_ref().map(|cols| {
            cols.iter()
                .map(|s| match s.trim().parse::<usize>() {
                    Ok(i) => LabelColumn::Index(i),
                    Err(_) => LabelColumn::Name(s.trim().to_string()),
                })
                .collect()
        });
        Ok(ReadOverrides {
            delimiter,
            header: if self.header {
                Some(true)
            } else if self.no_header {
                Some(false)
            } else {
                None
            },
            label_columns,
            labels_path: self.labels.clone(),
            ignore_columns: self.ignore_columns.clone(),
            id_column: id_column.cloned(),
            weight_column: None,
            no_memory_map: self.no_mmap,
        })
    }
}

/// Loads a data file and tells the user, on stderr, what detection decided
/// when it was unsure and which columns were left out.
fn load(path: &Path, opts: &LoadOptions, quiet: bool) -> anyhow::Result<RawTable> {
    let raw = data::load(path, opts)?;
    if !quiet {
        print_load_notes(&raw, opts);
    }
    Ok(raw)
}

/// The notes of [`load`].
fn print_load_notes(raw: &RawTable, opts: &LoadOptions) {
    if let Some(g) = &raw.header_guess {
        eprintln!(
            "note: {}: read the first row as {} ({}); give --header or --no-header to decide",
            raw.source_name,
            if g.header { "a header" } else { "data" },
            g.reason
        );
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

// ---------------------------------------------------------------------------
// train
// ---------------------------------------------------------------------------

impl TrainArgs {
    /// The optimizer the flags describe; `None` when none of its flags is
    /// given (the default, or a resumed checkpoint's).
    fn optimizer_config(&self) -> anyhow::Result<Option<OptimizerConfig>> {
        let given = self.optimizer.is_some()
            || self.momentum.is_some()
            || self.nesterov
            || self.beta1.is_some()
            || self.beta2.is_some()
            || self.alpha.is_some()
            || self.eps.is_some()
            || self.weight_decay.is_some();
        if !given {
            return Ok(None);
        }
        let kind = match &self.optimizer {
            Some(name) => name.parse::<OptimizerKind>()?,
            None => fit::default_optimizer(self.data.is_none()).kind,
        };
        let d = OptimizerConfig::default();
        let cfg = OptimizerConfig {
            kind,
            momentum: self.momentum.unwrap_or(d.momentum),
            nesterov: self.nesterov,
            beta1: self.beta1.unwrap_or(d.beta1),
            beta2: self.beta2.unwrap_or(d.beta2),
            alpha: self.alpha.unwrap_or(d.alpha),
            eps: self.eps.unwrap_or(d.eps),
            weight_decay: self.weight_decay.unwrap_or(d.weight_decay),
        };
        cfg.validate()?;
        Ok(Some(cfg))
    }

    /// The training session the flags describe.
    fn spec(&self) -> anyhow::Result<FitSpec> {
        Ok(FitSpec {
            data: self
                .data
                .clone()
                .map_or(DataSource::BreastCancer, DataSource::File),
            read: ReadOverrides {
                weight_column: self.weight_column.clone(),
                ..self.read.overrides(None)?
            },
            test_data: self.test_data.clone(),
            test_labels: self.test_labels.clone(),
            validation_split: self.validation_split,
            hidden_layers: self.layers.clone(),
            activation: self.activation,
            head: self.head,
            epochs: self.epochs,
            batch_size: self.batch_size,
            lr: self.lr,
            optimizer: self.optimizer_config()?,
            clip_norm: self.clip_norm,
            schedule: self.lr_schedule.map(|k| match k {
                ScheduleKind::Constant => LrSchedule::Constant,
                ScheduleKind::Step => LrSchedule::Step {
                    every_epochs: self.lr_step_epochs,
                    gamma: self.lr_gamma,
                },
                ScheduleKind::Cosine => LrSchedule::Cosine {
                    min_lr: self.lr_min,
                    epochs: self.lr_cosine_epochs.unwrap_or(self.epochs),
                },
                ScheduleKind::Plateau => LrSchedule::Plateau {
                    patience: self.lr_patience,
                    gamma: self.lr_gamma,
                },
            }),
            warmup_epochs: self.warmup_epochs,
            early_stopping: if self.early_stopping {
                Some(EarlyStopping {
                    patience: self.patience,
                    min_delta: self.min_delta,
                    monitor: self.monitor.parse::<Monitor>()?,
                })
            } else {
                None
            },
            dropout: self.dropout,
            class_weight: self
                .class_weight
                .as_deref()
                .map(str::parse::<ClassWeight>)
                .transpose()?,
            threads: self.threads,
            shard_rows: self.shard_rows,
            seed: self.seed,
            shuffle: !self.no_shuffle,
            standardize: !self.no_standardize,
            standardize_targets: !self.no_standardize_targets,
            init_model: self.init_model.clone(),
            resume: self.resume.clone(),
            checkpoint: self.checkpoint.clone(),
            checkpoint_every: self.checkpoint_every,
            train_metrics: self.train_metrics,
        })
    }
}

fn train(args: &TrainArgs, job: &Job) -> anyhow::Result<()> {
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
    let spec = args.spec()?;
    let mut printer = Printer::new(args, job);
    let mut prepared = fit::prepare(&spec, &mut printer)?;
    if let Some(group) = job.group() {
        prepared.set_group(group)?;
    }
    let stop = interrupt_flag()?;
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
    let held = outcome.held_out.name();
    // the figures of the weights written: the best epoch's with early stopping
    let best_epoch: Option<usize> = outcome
        .meta
        .extra
        .get("train.best_epoch")
        .and_then(|e| e.parse().ok());
    let last = match best_epoch {
        Some(e) => outcome.history.iter().find(|r| r.epoch == e),
        None => outcome.history.last(),
    };
    let mut out = io::stdout().lock();
    if args.json {
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
        if let Some(e) = outcome.meta.extra.get("train.best_epoch") {
            obj["best_epoch"] = e.parse::<usize>().ok().into();
            obj["stopped_early"] = matches!(outcome.end, FitEnd::EarlyStopped { .. }).into();
        }
        if let Some(r) = last.filter(|r| r.test_loss.is_some()) {
            // the test set reported beside a validation split
            obj["test_loss"] = r.test_loss.into();
            obj["test_accuracy"] = r.test_accuracy.into();
        }
        writeln!(out, "{obj}")?;
    } else if !args.quiet {
        if let Some(a) = last.and_then(|r| r.val_accuracy) {
            writeln!(out, "final {held} accuracy {:.2}%", 100.0 * a)?;
        }
        if let Some(a) = last.and_then(|r| r.test_accuracy) {
            writeln!(out, "final test accuracy {:.2}%", 100.0 * a)?;
        }
        if let Some(e) = outcome.meta.extra.get("train.best_epoch") {
            let best = outcome
                .meta
                .extra
                .iter()
                .find(|(k, _)| k.starts_with("train.best_validation_"))
                .map(|(k, v)| {
                    let v = v.parse::<f64>().map_or(v.clone(), |v| format!("{v:.5}"));
                    format!("{} {v}", &k["train.best_".len()..].replace('_', " "))
                })
                .unwrap_or_default();
            let record = outcome.history.iter().find(|r| r.epoch.to_string() == *e);
            writeln!(
                out,
                "{}; the model holds the weights of epoch {e} ({best}{})",
                if matches!(outcome.end, FitEnd::EarlyStopped { .. }) {
                    "stopped early"
                } else {
                    "early stopping watched every epoch"
                },
                record
                    .and_then(|r| r.test_accuracy)
                    .map_or(String::new(), |a| format!(
                        ", test accuracy {:.2}%",
                        100.0 * a
                    ))
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
    if let Some(path) = &args.plot {
        // nothing to draw before the first epoch ends
        if !outcome.history.is_empty() {
            write_curves_svg(path, &outcome.history, outcome.held_out)?;
        }
    }
    Ok(Interrupted(said))
}

/// The training run's output: notes on the data read, a header, a progress
/// bar on a terminal, one line (text or JSON) per epoch.
struct Printer {
    /// Notes on stderr about how the data were read.
    notes: bool,
    /// The header, the progress bar and a text line per epoch.
    text: bool,
    /// A JSON line per epoch.
    json: bool,
    /// Processes of the job (1 without mpirun).
    ranks: usize,
    held_out: HeldOut,
    train_rows: u64,
    bar: Option<ProgressBar>,
    epoch_started: Instant,
    /// The epoch running (started, not yet reported).
    in_epoch: Option<usize>,
    /// The first error writing to stdout; it stops the run.
    error: Option<io::Error>,
}

impl Printer {
    /// The printer of `job`'s rank: silent but on rank 0.
    fn new(args: &TrainArgs, job: &Job) -> Printer {
        let speaks = job.rank() == 0;
        Printer {
            notes: speaks && !args.json,
            text: speaks && !args.json && !args.quiet,
            json: speaks && args.json,
            ranks: job.size(),
            held_out: HeldOut::default(),
            train_rows: 0,
            bar: None,
            epoch_started: Instant::now(),
            in_epoch: None,
            error: None,
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

    fn clear_bar(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }
}

impl FitCallbacks for Printer {
    fn on_load(&mut self, table: &RawTable, options: &LoadOptions) {
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
        self.say(format_args!(
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
        ));
        self.say(format_args!(
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
            if self.ranks > 1 {
                format!("{} MPI processes × ", self.ranks)
            } else {
                String::new()
            },
            plural(info.threads, "thread"),
            info.shard_rows,
            backprop::kernels::simd_width(),
            match (info.first_epoch, &info.resume_in_epoch) {
                (e, Some(p)) =>
                    format!(", resuming epoch {} after batch {}", e + 1, p.batches_done),
                (0, None) => String::new(),
                (e, None) => format!(", resuming after epoch {e}"),
            }
        ));
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
        let r = &report.record;
        if self.json {
            let held = self.held_out.name();
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
            self.say(obj);
        } else if self.text {
            let mut line = format!("epoch {:>3}  loss {:.5}", r.epoch, r.train_loss);
            if let Some(a) = r.train_accuracy {
                line += &format!("  train acc {:6.2}%", 100.0 * a);
            }
            let short = match self.held_out {
                HeldOut::Test => "test",
                HeldOut::Validation => "val",
            };
            if let Some(l) = r.val_loss {
                line += &format!("  {short} loss {l:.5}");
            }
            if let Some(a) = r.val_accuracy {
                line += &format!("  {short} acc {:6.2}%", 100.0 * a);
            }
            if let Some(l) = r.test_loss {
                line += &format!("  test loss {l:.5}");
            }
            if let Some(a) = r.test_accuracy {
                line += &format!("  test acc {:6.2}%", 100.0 * a);
            }
            line += &format!("  {:.0} samples/s", report.samples_per_sec);
            self.say(line);
        }
        if self.error.is_some() {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    }
}

// ---------------------------------------------------------------------------
// eval, predict, info
// ---------------------------------------------------------------------------

fn eval(args: &EvalArgs) -> anyhow::Result<()> {
    let SavedModel { mlp, meta } = model_io::load_model(&args.model)?;
    let opts = args.read.overrides(None)?.model_options(&meta, true);
    let mut raw = load(&args.data, &opts, args.json)?;
    let mut infer = Inference::new(&mlp, args.threads, args.chunk_rows)?;
    let report = evaluate::evaluate_with(&mut infer, &mlp, &meta, &mut raw, args.threshold)?;
    let mut out = io::stdout().lock();
    if args.json {
        writeln!(out, "{}", report_json(&report))?;
        return Ok(());
    }
    match &report {
        Evaluation::Regression(r) => {
            writeln!(
                out,
                "rows {}\nloss {:.6} (½·MSE{})",
                r.rows,
                r.loss,
                if meta.target_standardizer.is_some() {
                    " on standardised targets"
                } else {
                    ""
                }
            )?;
            let w = r
                .per_output
                .iter()
                .map(|(n, _)| n.len())
                .max()
                .unwrap_or(4)
                .max(6);
            writeln!(
                out,
                "{:<w$} {:>12} {:>12} {:>12} {:>9}",
                "target", "MSE", "RMSE", "MAE", "R²"
            )?;
            for (n, m) in &r.per_output {
                writeln!(
                    out,
                    "{n:<w$} {:>12.6} {:>12.6} {:>12.6} {:>9.4}",
                    m.mse, m.rmse, m.mae, m.r2
                )?;
            }
            if r.per_output.len() > 1 {
                let m = &r.mean;
                writeln!(
                    out,
                    "{:<w$} {:>12.6} {:>12.6} {:>12.6} {:>9.4}",
                    "mean", m.mse, m.rmse, m.mae, m.r2
                )?;
            }
        }
        Evaluation::MultiLabel(r) => {
            writeln!(
                out,
                "rows {}\nloss {:.6}\nexact match {:.2}% (every label right, threshold {})\nmacro F1 {:.4}",
                r.rows, r.loss, 100.0 * r.exact_match, r.threshold, r.macro_f1
            )?;
            let w = r
                .per_label
                .iter()
                .map(|(n, _)| n.len())
                .max()
                .unwrap_or(5)
                .max(5);
            writeln!(
                out,
                "{:<w$} {:>9} {:>9} {:>9} {:>9}",
                "label", "precision", "recall", "F1", "ROC AUC"
            )?;
            for (n, m) in &r.per_label {
                writeln!(
                    out,
                    "{n:<w$} {:>9.4} {:>9.4} {:>9.4} {:>9}",
                    m.precision,
                    m.recall,
                    m.f1,
                    auc_text(m.roc_auc)
                )?;
            }
        }
        Evaluation::Classification(r) => {
            writeln!(
                out,
                "rows {}\nloss {:.6}\naccuracy {:.2}%",
                r.rows,
                r.loss,
                100.0 * r.accuracy
            )?;
            if let Some((positive, t, b)) = &r.binary {
                writeln!(
                    out,
                    "positive class '{positive}' (probability ≥ {t}): precision {:.4}  recall {:.4}  F1 {:.4}  ROC AUC {}",
                    b.precision, b.recall, b.f1, auc_text(b.roc_auc)
                )?;
            }
            let w = r.classes.iter().map(|n| n.len()).max().unwrap_or(1).max(6);
            writeln!(
                out,
                "{:>w$} {:>9} {:>9} {:>9} {:>9}",
                "class", "precision", "recall", "F1", "support"
            )?;
            for (n, m) in r.classes.iter().zip(&r.per_class) {
                writeln!(
                    out,
                    "{n:>w$} {:>9.4} {:>9.4} {:>9.4} {:>9}",
                    m.precision, m.recall, m.f1, m.support
                )?;
            }
            writeln!(out, "macro F1 {:.4}", r.macro_f1)?;
            writeln!(
                out,
                "confusion matrix (rows: true class, columns: predicted)"
            )?;
            write!(out, "{:>w$}", "")?;
            for n in &r.classes {
                write!(out, " {n:>w$}")?;
            }
            writeln!(out)?;
            for (n, row) in r.classes.iter().zip(&r.confusion) {
                write!(out, "{n:>w$}")?;
                for c in row {
                    write!(out, " {c:>w$}")?;
                }
                writeln!(out)?;
            }
        }
    }
    Ok(())
}

fn auc_text(a: Option<f64>) -> String {
    a.map_or("n/a".to_string(), |a| format!("{a:.4}"))
}

/// An evaluation as one JSON object.
fn report_json(report: &Evaluation) -> serde_json::Value {
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

fn predict(args: &PredictArgs) -> anyhow::Result<()> {
    let SavedModel { mlp, meta } = model_io::load_model(&args.model)?;
    let opts = args
        .read
        .overrides(args.id_column.as_ref())?
        .model_options(&meta, false);
    let mut raw = load(&args.data, &opts, false)?;
    let mut infer = Inference::new(&mlp, args.threads, args.chunk_rows)?;
    let id = args.id_column.as_deref();
    let (th, mlp, meta, raw) = (args.threshold, &mlp, &meta, &mut raw);
    // rows are written as their chunk completes
    match args.out.as_deref() {
        Some(p) if p != Path::new("-") => model_io::write_atomic_by(p, |writer| {
            let name = &p.display().to_string();
            let out = CsvOut { writer, name };
            let npy = p.extension().is_some_and(|e| e.eq_ignore_ascii_case("npy"));
            match npy {
                true => evaluate::predict_npy(&mut infer, mlp, meta, raw, out),
                false => evaluate::predict_csv(&mut infer, mlp, meta, raw, th, id, out),
            }
        })?,
        _ => {
            let mut stdout = io::BufWriter::with_capacity(1 << 16, io::stdout().lock());
            let out = CsvOut {
                writer: &mut stdout,
                name: "standard output",
            };
            evaluate::predict_csv(&mut infer, mlp, meta, raw, th, id, out)?;
            stdout.flush()?;
        }
    }
    Ok(())
}

fn info(args: &InfoArgs) -> anyhow::Result<()> {
    let SavedModel { mlp, meta } = model_io::load_model(&args.model)?;
    let checkpoint = model_io::load_checkpoint(&args.model).ok();
    let mut out = io::stdout().lock();
    if args.json {
        let obj = serde_json::json!({
            "sizes": mlp.sizes(),
            "hidden_activations": mlp.hidden().iter().map(|a| a.name()).collect::<Vec<_>>(),
            "head": mlp.head().name(),
            "params": mlp.num_params(),
            "class_names": meta.class_names,
            "standardized": meta.standardizer.is_some(),
            "pixel_scale": meta.pixel_scale,
            "feature_names": meta.feature_names,
            "target_names": meta.target_names,
            "targets_standardized": meta.target_standardizer.is_some(),
            "csv_layout": meta.csv_layout.as_ref().map(|l| serde_json::json!({
                "delimiter": char::from(l.delimiter).to_string(),
                "header": l.header,
                "columns": l.columns,
                "label_positions": l.label_positions,
            })),
            "training": meta.extra.iter()
                .filter_map(|(k, v)| k.strip_prefix("train.").map(|k| (k.to_string(), v.clone())))
                .collect::<std::collections::BTreeMap<_, _>>(),
            "checkpoint_epoch": checkpoint.as_ref().map(|c| c.epoch),
        });
        writeln!(out, "{obj}")?;
        return Ok(());
    }
    writeln!(out, "model {}", args.model.display())?;
    writeln!(
        out,
        "layers {:?} ({} weight layers)",
        mlp.sizes(),
        mlp.num_layers()
    )?;
    for l in 0..mlp.num_layers() {
        let (i, o) = (mlp.sizes()[l], mlp.sizes()[l + 1]);
        let act = mlp
            .hidden()
            .get(l)
            .map_or(format!("{} head", mlp.head()), |a| a.to_string());
        writeln!(
            out,
            "  layer {}: {i} → {o}, {} parameters, then {act}",
            l + 1,
            i * o + o
        )?;
    }
    writeln!(out, "parameters {}", mlp.num_params())?;
    if let Some(c) = &meta.class_names {
        writeln!(out, "classes {}: {}", c.len(), c.join(", "))?;
    }
    match (&meta.standardizer, meta.pixel_scale) {
        (Some(_), _) => writeln!(
            out,
            "preprocessing: standardised features (mean/std stored)"
        )?,
        (None, Some(s)) => writeln!(out, "preprocessing: pixel values divided by {s}")?,
        (None, None) => writeln!(out, "preprocessing: none")?,
    }
    if !meta.feature_names.is_empty() {
        let n = meta.feature_names.len();
        let shown: Vec<&str> = meta
            .feature_names
            .iter()
            .take(8)
            .map(String::as_str)
            .collect();
        writeln!(
            out,
            "features {n}: {}{}",
            shown.join(", "),
            if n > 8 { ", …" } else { "" }
        )?;
    }
    if !meta.target_names.is_empty() {
        writeln!(
            out,
            "{} {}{}",
            if meta.target_names.len() == 1 {
                "target"
            } else {
                "targets"
            },
            meta.target_names.join(", "),
            if meta.target_standardizer.is_some() {
                " (standardised for training; predictions in the original units)"
            } else {
                ""
            }
        )?;
    }
    if let Some(l) = &meta.csv_layout {
        writeln!(
            out,
            "read as CSV: delimiter {:?}, {}, {} columns, label column{} {}",
            char::from(l.delimiter),
            if l.header { "header" } else { "no header" },
            l.columns,
            if l.label_positions.len() == 1 {
                ""
            } else {
                "s"
            },
            l.label_positions
                .iter()
                .map(|p| (p + 1).to_string())
                .collect::<Vec<_>>()
                .join(", ")
        )?;
    }
    let training: Vec<String> = meta
        .extra
        .iter()
        .filter_map(|(k, v)| k.strip_prefix("train.").map(|k| format!("{k} {v}")))
        .collect();
    if !training.is_empty() {
        writeln!(out, "training: {}", training.join(", "))?;
    }
    if let Some(c) = checkpoint {
        writeln!(
            out,
            "checkpoint after epoch {} (batch {}, lr {}, seed {}, shuffle {}, shards of {})",
            c.epoch,
            c.config.batch_size,
            c.config.lr,
            c.config.seed,
            c.config.shuffle,
            c.config.shard_rows
        )?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// bench
// ---------------------------------------------------------------------------

/// `bench --predict`: forward-only throughput.
fn bench_predict(
    args: &BenchArgs,
    preset: Option<&Preset>,
    spec: &BenchSpec,
) -> anyhow::Result<()> {
    let r = backprop::bench::run_forward(spec, args.rows, args.chunk_rows)?;
    let mut out = io::stdout().lock();
    if args.json {
        let obj = serde_json::json!({
            "predict": true,
            "config": preset.map(|p| p.name),
            "layers": spec.sizes,
            "activation": spec.activation.name(),
            "head": spec.head.name(),
            "rows": args.rows,
            "chunk_rows": r.shard_rows,
            "threads": r.threads,
            "samples_per_sec": r.samples_per_sec,
            "min_samples_per_sec": r.min_samples_per_sec,
            "max_samples_per_sec": r.max_samples_per_sec,
            "gflops": r.gflops,
            "windows": spec.windows,
            "passes": r.steps,
            "peak_rss_bytes": r.peak_rss_bytes,
            "simd": backprop::kernels::simd_width(),
        });
        writeln!(out, "{obj}")?;
        return Ok(());
    }
    writeln!(
        out,
        "prediction: network {:?} {} hidden, {} head, {} rows per pass in chunks of {}, {}",
        spec.sizes,
        spec.activation,
        spec.head,
        args.rows,
        r.shard_rows,
        plural(r.threads, "thread")
    )?;
    writeln!(
        out,
        "{:.0} rows/s (median of {} windows; min {:.0}, max {:.0}), {:.1} GFLOP/s (forward only)",
        r.samples_per_sec, spec.windows, r.min_samples_per_sec, r.max_samples_per_sec, r.gflops
    )?;
    Ok(())
}

fn bench(args: &BenchArgs, job: &Job) -> anyhow::Result<()> {
    let preset = args.config.as_deref().map(Preset::by_name).transpose()?;
    let missing = |what: &'static str| usage(what, "is required without --config");
    let spec = BenchSpec {
        sizes: match (&args.layers, preset) {
            (Some(l), _) => l.clone(),
            (None, Some(p)) => p.sizes.to_vec(),
            (None, None) => return Err(missing("--layers")),
        },
        activation: args
            .activation
            .or(preset.map(|p| p.activation))
            .ok_or_else(|| missing("--activation"))?,
        head: args
            .head
            .or(preset.map(|p| p.head))
            .ok_or_else(|| missing("--head"))?,
        batch_size: match (args.batch_size, preset, args.predict) {
            (Some(b), _, _) => b,
            (None, Some(p), _) => p.batch,
            // prediction has no batches, only chunks
            (None, None, true) => 1,
            (None, None, false) => return Err(missing("--batch-size")),
        },
        threads: args.threads,
        shard_rows: args.shard_rows,
        seconds: args.seconds,
        windows: args.windows,
        optimizer: OptimizerConfig {
            kind: args.optimizer.parse::<OptimizerKind>()?,
            weight_decay: args.weight_decay,
            ..OptimizerConfig::default()
        },
        clip_norm: args.clip_norm,
        dropout: args.dropout,
    };
    if args.predict {
        if job.size() > 1 {
            return Err(usage("--predict", "prediction runs in one process"));
        }
        return bench_predict(args, preset, &spec);
    }
    let r = backprop::bench::run_in(&spec, job.group())?;
    if job.rank() != 0 {
        return Ok(());
    }
    let shortest = |v: f32| v.to_string().parse::<f64>().unwrap_or(f64::NAN);
    let p = r.profile;
    let total = (p.forward_ns + p.backward_ns + p.reduction_ns + p.update_ns).max(1) as f64;
    let share = |ns: u64| 100.0 * ns as f64 / total;
    let mut out = io::stdout().lock();
    if args.json {
        let obj = serde_json::json!({
            "config": preset.map(|p| p.name),
            "layers": spec.sizes,
            "activation": spec.activation.name(),
            "head": spec.head.name(),
            "batch_size": spec.batch_size,
            "threads": r.threads,
            "ranks": r.ranks,
            "shard_rows": r.shard_rows,
            "optimizer": spec.optimizer.kind.name(),
            // through the shortest decimal, so 0.01 does not print as 0.009999999776482582
            "weight_decay": shortest(spec.optimizer.weight_decay),
            "clip_norm": spec.clip_norm.map(shortest),
            "dropout": shortest(spec.dropout),
            "samples_per_sec": r.samples_per_sec,
            "min_samples_per_sec": r.min_samples_per_sec,
            "max_samples_per_sec": r.max_samples_per_sec,
            "gflops": r.gflops,
            "windows": spec.windows,
            "steps": r.steps,
            "time_share_percent": {
                "forward": share(p.forward_ns),
                "backward": share(p.backward_ns),
                "reduction": share(p.reduction_ns),
                "update": share(p.update_ns),
            },
            "peak_rss_bytes": r.peak_rss_bytes,
            "dataset_bytes": r.dataset_bytes,
            "param_bytes": r.param_bytes,
            "simd": backprop::kernels::simd_width(),
        });
        writeln!(out, "{obj}")?;
        return Ok(());
    }
    writeln!(
        out,
        "network {:?} {} hidden, {} head, batch {}, {}{}, shards of {} rows",
        spec.sizes,
        spec.activation,
        spec.head,
        spec.batch_size,
        if r.ranks > 1 {
            format!("{} MPI processes × ", r.ranks)
        } else {
            String::new()
        },
        plural(r.threads, "thread"),
        r.shard_rows
    )?;
    let default_rule = spec.optimizer == OptimizerConfig::default()
        && spec.clip_norm.is_none()
        && spec.dropout == 0.0;
    writeln!(
        out,
        "optimizer {}{}, {}{}, learning rate 1e-3{}",
        spec.optimizer.kind,
        if spec.optimizer.weight_decay > 0.0 {
            format!(" with weight decay {}", spec.optimizer.weight_decay)
        } else {
            String::new()
        },
        match spec.clip_norm {
            Some(c) => format!("gradient norm clipped to {c}"),
            None => "no clipping".to_string(),
        },
        if spec.dropout > 0.0 {
            format!(", dropout {}", spec.dropout)
        } else {
            String::new()
        },
        if default_rule {
            " (the presets' default; see --optimizer)"
        } else {
            ""
        }
    )?;
    writeln!(
        out,
        "{:.0} samples/s (median of {} windows; min {:.0}, max {:.0}), {:.1} GFLOP/s",
        r.samples_per_sec, spec.windows, r.min_samples_per_sec, r.max_samples_per_sec, r.gflops
    )?;
    writeln!(
        out,
        "time (summed over threads): forward {:.1}%, backward {:.1}%, reduction {:.1}%, update {:.1}%",
        share(p.forward_ns),
        share(p.backward_ns),
        share(p.reduction_ns),
        share(p.update_ns)
    )?;
    let mib = |b: u64| b as f64 / (1024.0 * 1024.0);
    match r.peak_rss_bytes {
        Some(rss) => writeln!(
            out,
            "peak RSS {:.1} MiB (synthetic data {:.1} MiB, parameters {:.1} MiB: {:.1}× the parameters without the data)",
            mib(rss),
            mib(r.dataset_bytes),
            mib(r.param_bytes),
            rss.saturating_sub(r.dataset_bytes) as f64 / r.param_bytes as f64
        )?,
        None => writeln!(out, "peak RSS unknown on this system")?,
    }
    Ok(())
}
