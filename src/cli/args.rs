//! The flags: what each command accepts (clap), and the read flags turned
//! into [`ReadOverrides`]. Parsing and validation only.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use backprop::data::{ColumnOptions, LabelColumn, MissingPolicy, NaValues};
use backprop::fit;
use backprop::pipeline::ReadOverrides;
use backprop::schedule::ScheduleKind;
use backprop::{Activation, Head};

use super::flags::usage;

#[derive(Parser)]
#[command(
    name = "backprop",
    version,
    about = "Fast CPU training of multi-layer perceptrons"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Train a network. Without --data: the breast-cancer set embedded in the
    /// binary (standardised, fixed 455/114 split).
    Train(Box<TrainArgs>),
    /// K-fold cross-validation: the training flags of `train`, the K fold
    /// models trained in one pass (the folds seeded by --seed, stratified for
    /// classes), each scored on its held-out fold; the figures per fold and
    /// their mean ± std; --out writes the fold models as one ensemble.
    Cv(Box<CvArgs>),
    /// Hyper-parameter search: every candidate of --grid (or --random N
    /// drawn from it) cross-validated on the same folds, all the models in
    /// one pass, ranked; --out writes the best's fold models as an ensemble
    /// (--refit: the best retrained on all rows).
    Search(Box<SearchArgs>),
    /// Loss, accuracy and confusion matrix of a model on labelled data.
    Eval(EvalArgs),
    /// One CSV row per input: the class and probabilities, or the outputs.
    Predict(PredictArgs),
    /// A model's architecture, parameter count and metadata.
    Info(InfoArgs),
    /// Write a model (or an ensemble: the mean of its members) with its
    /// stored preparation as one ONNX graph (opset 17): input `input`
    /// `[rows, columns]` (a table's number columns in file order, gaps as
    /// NaN; otherwise the features), output `output` `[rows, outputs]`
    /// (class probabilities, or values in the targets' units), as `predict`.
    Export(ExportArgs),
    /// Measure training throughput on synthetic data held in memory: median
    /// samples/s over timed windows, GFLOP/s, time per phase, peak memory.
    Bench(BenchArgs),
}

/// How to read a data file.
#[derive(Args, Clone)]
pub struct DataArgs {
    /// Labels for IDX or NPY features (CSV files hold theirs in a column); a
    /// 2-D array gives several outputs.
    #[arg(long, value_name = "FILE")]
    pub labels: Option<PathBuf>,
    /// The CSV label column(s): header names or 0-based indices, comma-separated
    /// (default: the last column; eval/predict: the model's). Several columns:
    /// multi-output regression (--head mse) or multi-label 0/1 columns (sigmoid).
    #[arg(long, value_name = "NAME|INDEX,...", value_delimiter = ',')]
    pub label_column: Option<Vec<String>>,
    /// The CSV field delimiter: one character, or 'tab' (default: sniffed
    /// among , ; tab |; eval/predict: the model's).
    #[arg(long)]
    pub delimiter: Option<String>,
    /// The decimal separator of the CSV's numbers: '.' or ',' (with ';' or
    /// tab between fields) [default: sniffed, ',' when numbers such as 1,5
    /// appear and none such as 1.5; eval/predict: the model's].
    #[arg(long, value_name = ".|,")]
    pub decimal: Option<String>,
    /// The CSV's first row is a header (default: detected; eval/predict: the model's).
    #[arg(long, conflicts_with = "no_header")]
    pub header: bool,
    /// The CSV has no header row (default: detected; eval/predict: the model's).
    #[arg(long)]
    pub no_header: bool,
    /// CSV columns to leave out (header names, or 'column N'), e.g. IDs.
    #[arg(long, value_name = "NAME,...", value_delimiter = ',')]
    pub ignore_columns: Vec<String>,
    /// The texts that mark a missing feature value, comma-separated, matched
    /// exactly [default: empty, NA, N/A, NaN, null, None, ? in any case].
    /// With --missing impute (the default) a number column's gaps take the
    /// training median plus a 0/1 "missing" input, and in a category column
    /// missing is a level of its own.
    #[arg(long, value_name = "TEXT,...", value_delimiter = ',')]
    pub na_values: Option<Vec<String>>,
    /// What a missing feature value becomes: impute (see --na-values) or
    /// error (every cell must hold a value) [default: impute].
    #[arg(long, value_name = "impute|error")]
    pub missing: Option<String>,
    /// Read an f4 NPY file's features, or a plain IDX or |u1 NPY file's
    /// image bytes, into memory instead of mapping the file (by default they
    /// are read in place: the file must not change while backprop runs).
    /// Changes no result.
    #[arg(long)]
    pub no_mmap: bool,
}

/// How the columns of a training CSV become inputs (a model keeps its own).
#[derive(Args, Clone)]
pub struct ColumnArgs {
    /// Columns read as categories (one 0/1 input per level), numbers
    /// included. Without it a column of text is a category, a boolean
    /// (true/false, yes/no, y/n, t/f, on/off: one 0/1 input) or, with a
    /// different text in every row, an identifier (ignored, with a note).
    #[arg(long, value_name = "NAME,...", value_delimiter = ',')]
    pub category_columns: Vec<String>,
    /// Columns that must hold numbers (a text in them is an error).
    #[arg(long, value_name = "NAME,...", value_delimiter = ',')]
    pub number_columns: Vec<String>,
    /// Levels seen fewer times than this in training share one "(other)"
    /// input with the levels unseen in training [default: 1].
    #[arg(long, value_name = "N")]
    pub min_category_count: Option<usize>,
    /// At most this many levels per category column get an input of their
    /// own (the most frequent); the others share "(other)" [default: 64].
    #[arg(long, value_name = "N")]
    pub max_categories: Option<usize>,
}

#[derive(Args)]
pub struct CvArgs {
    /// The number of folds (at least 2; stratified folds need as many rows
    /// of every class).
    #[arg(long, default_value_t = 5)]
    pub folds: usize,
    #[command(flatten)]
    pub train: TrainArgs,
}

#[derive(Args)]
pub struct SearchArgs {
    /// The search space: settings separated by ';', each name=values, values
    /// separated by '|' (or ',' but for layers), e.g.
    /// 'lr=0.001,0.003; layers=64|128,64; weight-decay=0,1e-4'. Settings: lr,
    /// layers, weight-decay, momentum, optimizer, activation, init, batch-size,
    /// epochs, dropout, label-smoothing, clip-norm. With --random, a number may be a range
    /// lo..hi (log-uniform for lr and weight-decay).
    #[arg(long, value_name = "SPACE")]
    pub grid: String,
    /// Draw this many candidates from --grid (seeded by --seed) instead of
    /// taking every combination.
    #[arg(long, value_name = "N")]
    pub random: Option<usize>,
    /// Folds of the cross-validation every candidate gets.
    #[arg(long, default_value_t = 5)]
    pub folds: usize,
    /// With --out: write the best candidate trained on all the rows (a
    /// model file), not its fold models (an ensemble file).
    #[arg(long, requires = "out")]
    pub refit: bool,
    #[command(flatten)]
    pub train: TrainArgs,
}

#[derive(Args)]
pub struct TrainArgs {
    /// Training data: CSV, IDX (plain or .gz) or NPY.
    #[arg(long, value_name = "FILE")]
    pub data: Option<PathBuf>,
    #[command(flatten)]
    pub read: DataArgs,
    #[command(flatten)]
    pub columns: ColumnArgs,
    /// Held-out data to evaluate after each epoch (its columns are matched to
    /// the training file's by name when both have a header).
    #[arg(long, value_name = "FILE")]
    pub test_data: Option<PathBuf>,
    /// Labels of --test-data for IDX/NPY.
    #[arg(long, value_name = "FILE", requires = "test_data")]
    pub test_labels: Option<PathBuf>,
    /// Hold out this fraction of --data for validation (seeded; stratified
    /// by class for classification).
    #[arg(long, value_name = "F")]
    pub validation_split: Option<f64>,
    /// Hidden layer sizes, comma-separated (input and output sizes come from the data).
    #[arg(long, value_delimiter = ',', value_name = "N,N,...")]
    pub layers: Option<Vec<usize>>,
    /// Hidden activation: sigmoid, tanh, relu, identity, selu, silu, gelu or
    /// mish [default: sigmoid on the embedded set, else selu for
    /// classification and relu for regression].
    #[arg(long)]
    pub activation: Option<Activation>,
    /// How the new network's weights are drawn: auto (He-uniform before
    /// ReLU, Glorot-uniform elsewhere, zero biases), glorot (Glorot-uniform
    /// everywhere, zero biases), torch (PyTorch's nn.Linear: weights and
    /// biases within ±1/√inputs) or sklearn (scikit-learn's MLP: weights and
    /// biases Glorot-uniform, √(2/(in+out)) with sigmoid) [default: torch; auto
    /// on the embedded set]
    #[arg(long, value_name = "RULE")]
    pub init: Option<backprop::Init>,
    /// The recipe for the settings not given: default, or classic (the
    /// seed's plain network, the embedded demo's: 16 sigmoid hidden units,
    /// plain SGD at 0.5, the auto initialisation)
    #[arg(long, value_name = "RECIPE", default_value = "default",
          value_parser = ["default", "classic"])]
    pub preset: String,
    /// Output head: sigmoid (binary/multi-label), softmax (classes), mse
    /// (regression) or poisson (counts and rates >= 0: exp output, Poisson
    /// deviance) [default: sigmoid for 2 classes, softmax for more].
    #[arg(long)]
    pub head: Option<Head>,
    /// Total number of epochs (with --resume: the total, including those done).
    #[arg(long, default_value_t = fit::DEFAULT_EPOCHS)]
    pub epochs: usize,
    /// Train K models together, member k with seed --seed + k (the first
    /// with --seed itself), and write them to --out as one ensemble file
    /// whose predictions are the mean of the members'.
    #[arg(long, value_name = "K", default_value_t = 1)]
    pub ensemble: usize,
    /// Mini-batch size [default: 32].
    #[arg(long)]
    pub batch_size: Option<usize>,
    /// Base learning rate [default per optimizer: adam/adamw 0.003, rmsprop
    /// 0.001, sgd 0.1 (0.5 on the embedded set)].
    #[arg(long)]
    pub lr: Option<f32>,
    /// The update rule, as PyTorch's SGD, Adam, AdamW, RMSprop [default: adam
    /// on a data file, sgd on the embedded set]; lbfgs: full-batch L-BFGS
    /// (scikit-learn's solver for small data), one iteration per epoch over
    /// every row, stopped by scipy's rules (--gtol, --max-fun); it takes
    /// --weight-decay and no batch, rate or schedule.
    #[arg(long, value_name = "sgd|adam|adamw|rmsprop|lbfgs")]
    pub optimizer: Option<String>,
    /// lbfgs: stop after the iteration that takes the evaluations of the
    /// loss and gradient past N [default: 15000].
    #[arg(long, value_name = "N")]
    pub max_fun: Option<usize>,
    /// lbfgs: converged when no gradient component exceeds G [default: 1e-4].
    #[arg(long, value_name = "G")]
    pub gtol: Option<f64>,
    /// SGD momentum (PyTorch: the first step's buffer is the gradient).
    #[arg(long, value_name = "M")]
    pub momentum: Option<f32>,
    /// Nesterov momentum (needs --momentum).
    #[arg(long)]
    pub nesterov: bool,
    /// Adam/AdamW first-moment decay [default: 0.9].
    #[arg(long, value_name = "B1")]
    pub beta1: Option<f32>,
    /// Adam/AdamW second-moment decay [default: 0.999].
    #[arg(long, value_name = "B2")]
    pub beta2: Option<f32>,
    /// RMSprop smoothing constant [default: 0.99].
    #[arg(long, value_name = "A")]
    pub alpha: Option<f32>,
    /// Adam/AdamW/RMSprop denominator term [default: 1e-8].
    #[arg(long, value_name = "E")]
    pub eps: Option<f32>,
    /// L2 penalty on the weights, not the biases (AdamW: decoupled decay).
    #[arg(long, value_name = "L")]
    pub weight_decay: Option<f32>,
    /// With row weights, scale the L2 penalty by the batch size over each
    /// batch's weight sum (scikit-learn's rule for alpha with sample_weight;
    /// not for AdamW).
    #[arg(long)]
    pub decay_by_weight: bool,
    /// Clip the L2 norm of the mean gradient to C.
    #[arg(long, value_name = "C")]
    pub clip_norm: Option<f32>,
    /// Learning-rate schedule [default: flat-cos on a data file, constant
    /// on the embedded set]; flat-cos, coslog4 and one-cycle are RealMLP's,
    /// over the whole run; invscaling is scikit-learn's.
    #[arg(
        long,
        value_name = "constant|step|cosine|plateau|flat-cos|coslog4|one-cycle|invscaling"
    )]
    pub lr_schedule: Option<ScheduleKind>,
    /// step: epochs between decays.
    #[arg(long, value_name = "N", default_value_t = 10, requires = "lr_schedule")]
    pub lr_step_epochs: usize,
    /// step and plateau: the decay factor.
    #[arg(
        long,
        value_name = "G",
        default_value_t = 0.1,
        requires = "lr_schedule"
    )]
    pub lr_gamma: f32,
    /// cosine: the rate at the end of the run.
    #[arg(
        long,
        value_name = "LR",
        default_value_t = 0.0,
        requires = "lr_schedule"
    )]
    pub lr_min: f32,
    /// cosine: the epochs the annealing spans [default: --epochs]; give the
    /// final total when a run will be resumed to go further.
    #[arg(long, value_name = "N", requires = "lr_schedule")]
    pub lr_cosine_epochs: Option<usize>,
    /// plateau: epochs without improvement of the validation loss tolerated.
    #[arg(long, value_name = "N", default_value_t = 10, requires = "lr_schedule")]
    pub lr_patience: usize,
    /// invscaling: the exponent P of lr / (samples seen + 1)^P.
    #[arg(
        long,
        value_name = "P",
        default_value_t = 0.5,
        requires = "lr_schedule"
    )]
    pub power_t: f32,
    /// Epochs of linear warm-up (composes with every schedule).
    #[arg(long, value_name = "W")]
    pub warmup_epochs: Option<usize>,
    /// Stop when the validation figure (--monitor) has not improved by more
    /// than --min-delta for --patience epochs, and keep the best epoch's
    /// weights (needs --validation-split).
    #[arg(long)]
    pub early_stopping: bool,
    /// Early stopping: epochs without improvement tolerated.
    #[arg(
        long,
        value_name = "N",
        default_value_t = 10,
        requires = "early_stopping"
    )]
    pub patience: usize,
    /// Early stopping: the improvement that counts.
    #[arg(
        long,
        value_name = "D",
        default_value_t = 0.0,
        requires = "early_stopping"
    )]
    pub min_delta: f64,
    /// Early stopping: the validation figure watched.
    #[arg(
        long,
        value_name = "loss|accuracy|r2",
        default_value = "loss",
        requires = "early_stopping"
    )]
    pub monitor: String,
    /// Inverted dropout on the hidden layers: the probability of zeroing a
    /// unit while training (none at prediction).
    #[arg(long, value_name = "P")]
    pub dropout: Option<f32>,
    /// Label smoothing for a classifier: train towards (1-E)·y + E/K, K the
    /// classes (2 for each sigmoid output); the validation and test figures
    /// use the labels as given.
    #[arg(long, value_name = "E")]
    pub label_smoothing: Option<f32>,
    /// Weigh the classes in the training loss: "balanced" (n_samples /
    /// (n_classes · count), as scikit-learn) or CLASS=WEIGHT pairs like
    /// "yes=5,no=1" (classes not named weigh 1).
    #[arg(long, value_name = "balanced|CLASS=W,...")]
    pub class_weight: Option<String>,
    /// A CSV column of row weights (numbers >= 0): the loss is
    /// Σ w·loss / Σ w, as scikit-learn's sample_weight; multiplies
    /// --class-weight.
    #[arg(long, value_name = "NAME")]
    pub weight_column: Option<String>,
    /// A binary classifier's positive class, stored in the model: eval's
    /// precision, recall, F1, ROC AUC and --threshold refer to it [default:
    /// the training rows' minority class, ties going to the last class].
    #[arg(long, value_name = "NAME")]
    pub positive_class: Option<String>,
    /// Worker threads at most (0: one per core); a step too small to be
    /// worth splitting runs on one. Changes the speed, never the result.
    #[arg(long, default_value_t = 0)]
    pub threads: usize,
    /// Rows per shard, the unit of parallel work [default: half the batch,
    /// clamped to 64..=128].
    #[arg(long)]
    pub shard_rows: Option<usize>,
    /// Seed for initialisation, shuffling and --validation-split [default: 42].
    #[arg(long)]
    pub seed: Option<u64>,
    /// Train on the rows in file order.
    #[arg(long)]
    pub no_shuffle: bool,
    /// Do not standardise the features (pixel data are always scaled to 0..1).
    #[arg(long)]
    pub no_standardize: bool,
    /// With --head mse, train on the raw targets instead of standardised ones
    /// (by default their mean and std are stored in the model and predictions
    /// come back in the original units).
    #[arg(long)]
    pub no_standardize_targets: bool,
    /// Start from the weights of this model file instead of random ones.
    #[arg(long, value_name = "FILE", conflicts_with = "resume")]
    pub init_model: Option<PathBuf>,
    /// Write the trained model here (safetensors).
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Write a checkpoint here every --checkpoint-every epochs.
    #[arg(long, value_name = "PATH")]
    pub checkpoint: Option<PathBuf>,
    /// Epochs between checkpoints.
    #[arg(long, value_name = "N", default_value_t = 1, requires = "checkpoint")]
    pub checkpoint_every: usize,
    /// Continue from a checkpoint up to --epochs in total.
    #[arg(long, value_name = "PATH")]
    pub resume: Option<PathBuf>,
    /// Draw loss and accuracy curves per epoch into an SVG file.
    #[arg(long, value_name = "FILE")]
    pub plot: Option<PathBuf>,
    /// One JSON object per epoch and a final summary, nothing else.
    #[arg(long)]
    pub json: bool,
    /// No progress bar and no per-epoch lines.
    #[arg(long)]
    pub quiet: bool,
    /// The per-epoch train accuracy: `running` (of the epoch's training
    /// passes, each batch before its update, as Keras reports it; free) or
    /// `full` (a separate pass over the training set with the epoch's final
    /// weights).
    #[arg(long, value_name = "running|full", default_value = "running")]
    pub train_metrics: fit::TrainMetrics,
}

#[derive(Args)]
pub struct EvalArgs {
    /// The model file.
    #[arg(long, value_name = "FILE")]
    pub model: PathBuf,
    /// Labelled data.
    #[arg(long, value_name = "FILE")]
    pub data: PathBuf,
    #[command(flatten)]
    pub read: DataArgs,
    /// A binary or multi-label (sigmoid) model predicts the positive class
    /// when its probability is at least T [default: 0.5]; an error for
    /// softmax and mse models.
    #[arg(long, value_name = "T")]
    pub threshold: Option<f32>,
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
    /// Worker threads at most (0: one per core); a file too small to be
    /// worth splitting runs on one. Changes the speed, never a figure.
    #[arg(long, default_value_t = 0)]
    pub threads: usize,
    /// Rows per chunk of the forward passes (memory grows with it and the
    /// threads, not with the rows). Changes no figure.
    #[arg(long, value_name = "N", default_value_t = backprop::infer::DEFAULT_CHUNK_ROWS)]
    pub chunk_rows: usize,
}

#[derive(Args)]
pub struct PredictArgs {
    /// The model file.
    #[arg(long, value_name = "FILE")]
    pub model: PathBuf,
    /// Inputs ('-': standard input). With a header, the model's features are
    /// picked by name and other columns are ignored; without, the columns
    /// must be the model's features (or laid out as the training file).
    #[arg(long, value_name = "FILE")]
    pub data: PathBuf,
    #[command(flatten)]
    pub read: DataArgs,
    /// Copy this column (e.g. an ID) into the output as its first column.
    #[arg(long, value_name = "NAME")]
    pub id_column: Option<String>,
    /// A binary or multi-label (sigmoid) model predicts the positive class
    /// when its probability is at least T [default: 0.5]; an error for
    /// softmax and mse models.
    #[arg(long, value_name = "T")]
    pub threshold: Option<f32>,
    /// Write the CSV here (atomically) instead of to standard output ('-').
    /// A name ending in .npy gets an NPY file of f32 instead: each row's
    /// probabilities (or, for mse, values), the numbers the CSV prints.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Worker threads (0: one per core). Changes the speed, never a figure.
    #[arg(long, default_value_t = 0)]
    pub threads: usize,
    /// Rows per chunk of the forward passes (memory grows with it and the
    /// threads, not with the rows). Changes no figure.
    #[arg(long, value_name = "N", default_value_t = backprop::infer::DEFAULT_CHUNK_ROWS)]
    pub chunk_rows: usize,
}

#[derive(Args)]
pub struct ExportArgs {
    /// The model (or ensemble) file.
    #[arg(long, value_name = "FILE")]
    pub model: PathBuf,
    /// The ONNX file to write (atomically).
    #[arg(long, value_name = "FILE")]
    pub onnx: PathBuf,
}

#[derive(Args)]
pub struct InfoArgs {
    /// The model (or checkpoint, or ensemble) file.
    #[arg(long, value_name = "FILE")]
    pub model: PathBuf,
    /// Of an ensemble: show member N (1-based) in full.
    #[arg(long, value_name = "N")]
    pub member: Option<usize>,
    /// With --member: write that member alone to FILE, as a model file.
    #[arg(long, value_name = "FILE", requires = "member")]
    pub extract: Option<PathBuf>,
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args)]
pub struct BenchArgs {
    /// A preset: T (30-64-32-1 sigmoid/BCE, batch 32), M (784-256-256-10
    /// relu/softmax, 128), B (784-256-256-1 sigmoid/BCE, 256) or L
    /// (784-1024-1024-1024-10 relu/softmax, 256), all with plain SGD. Other
    /// flags override it.
    #[arg(long)]
    pub config: Option<String>,
    /// All layer sizes, input to output, comma-separated (e.g. 784,256,256,10).
    #[arg(long, value_delimiter = ',')]
    pub layers: Option<Vec<usize>>,
    /// Hidden activation: sigmoid, tanh, relu, identity, selu, silu, gelu or
    /// mish.
    #[arg(long)]
    pub activation: Option<Activation>,
    /// Output head: sigmoid, softmax, mse or poisson.
    #[arg(long)]
    pub head: Option<Head>,
    /// Mini-batch size.
    #[arg(long)]
    pub batch_size: Option<usize>,
    /// Worker threads (0: one per core).
    #[arg(long, default_value_t = 0)]
    pub threads: usize,
    /// Rows per shard (0: the trainer's default).
    #[arg(long, default_value_t = 0)]
    pub shard_rows: usize,
    /// Seconds of timed windows, after a short warm-up.
    #[arg(long, default_value_t = 5.0)]
    pub seconds: f64,
    /// Number of timed windows (the median is reported).
    #[arg(long, default_value_t = 7)]
    pub windows: usize,
    /// The update rule, with PyTorch's default constants (the presets'
    /// published figures are plain SGD).
    #[arg(long, value_name = "sgd|adam|adamw|rmsprop", default_value = "sgd")]
    pub optimizer: String,
    /// L2 penalty on the weights, not the biases (AdamW: decoupled decay).
    #[arg(long, value_name = "L", default_value_t = 0.0)]
    pub weight_decay: f32,
    /// Clip the L2 norm of the mean gradient to C (one more pass over the
    /// gradient per step).
    #[arg(long, value_name = "C")]
    pub clip_norm: Option<f32>,
    /// Dropout probability on the hidden layers.
    #[arg(long, value_name = "P", default_value_t = 0.0)]
    pub dropout: f32,
    /// Train this many models of the shape together, as `cv` trains its
    /// folds (each its own network and trainer, run as tasks over the
    /// threads); samples/s are the models' total.
    #[arg(long, value_name = "K", default_value_t = 1)]
    pub models: usize,
    /// Measure prediction instead of training: forward passes (and the
    /// head) over --rows synthetic rows, in chunks of --chunk-rows.
    #[arg(long)]
    pub predict: bool,
    /// With --predict: rows per pass.
    #[arg(long, value_name = "N", default_value_t = 65_536, requires = "predict")]
    pub rows: usize,
    /// With --predict: rows per chunk.
    #[arg(long, value_name = "N", default_value_t = backprop::infer::DEFAULT_CHUNK_ROWS, requires = "predict")]
    pub chunk_rows: usize,
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
}

impl DataArgs {
    /// What the flags say about reading a file (`None` where they are silent).
    pub fn overrides(&self, id_column: Option<&String>) -> anyhow::Result<ReadOverrides> {
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
        let decimal = match self.decimal.as_deref() {
            None => None,
            Some(".") => Some(b'.'),
            Some(",") if delimiter == Some(b',') => {
                return Err(usage(
                    "--decimal",
                    "a decimal comma needs another --delimiter (';' or tab)",
                ))
            }
            Some(",") => Some(b','),
            Some(d) => return Err(usage("--decimal", format!("'{d}' is not '.' or ','"))),
        };
        Ok(ReadOverrides {
            delimiter,
            decimal,
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
            columns: self.column_options()?,
        })
    }

    /// The spellings of a missing value and what it becomes.
    fn column_options(&self) -> anyhow::Result<ColumnOptions> {
        let missing = match self.missing.as_deref() {
            None | Some("impute") => MissingPolicy::Impute,
            Some("error") => MissingPolicy::Error,
            Some(m) => {
                return Err(usage(
                    "--missing",
                    format!("'{m}' is not one of impute, error"),
                ))
            }
        };
        Ok(ColumnOptions {
            na_values: match &self.na_values {
                Some(v) => NaValues::exactly(v),
                None => NaValues::default(),
            },
            missing,
            ..ColumnOptions::default()
        })
    }
}

impl TrainArgs {
    /// What the flags say about reading the training file: [`DataArgs`]'s
    /// overrides with the columns' kinds.
    pub fn read_overrides(&self) -> anyhow::Result<ReadOverrides> {
        let mut read = self.read.overrides(None)?;
        let c = &self.columns;
        let defaults = ColumnOptions::default();
        read.columns.category = c.category_columns.clone();
        read.columns.number = c.number_columns.clone();
        read.columns.min_category_count = match c.min_category_count {
            Some(0) => return Err(usage("--min-category-count", "must be at least 1")),
            Some(n) => n,
            None => defaults.min_category_count,
        };
        read.columns.max_categories = match c.max_categories {
            Some(0) => return Err(usage("--max-categories", "must be at least 1")),
            Some(n) => n,
            None => defaults.max_categories,
        };
        Ok(read)
    }
}
