//! Model files and training checkpoints: safetensors files with versioned,
//! fully validated metadata, written atomically.
//!
//! # Model files
//!
//! For each layer `i` (0-based) a model file holds the tensors
//! `layers.{i}.weight` (`F32`, shape `[out, in]`, the orientation of a PyTorch
//! `Linear.weight`) and `layers.{i}.bias` (`F32`, shape `[out]`), so it loads
//! as a state dict in PyTorch or candle. The safetensors `__metadata__` map
//! (string → string) holds:
//!
//! | key | value | presence |
//! |---|---|---|
//! | `format` | `backprop` | required |
//! | `format_version` | `1` ([`FORMAT_VERSION`]) | required; a newer version is refused with a message saying so |
//! | `sizes` | JSON array `[n_0, …, n_L]` | required |
//! | `activations` | JSON array of the `L - 1` hidden activation names | required |
//! | `head` | `sigmoid`, `softmax` or `mse` | required |
//! | `feature_names` | JSON array of `n_0` strings, or `[]` | required |
//! | `standardize_mean`, `standardize_std` | JSON arrays of `n_0` numbers | both or neither |
//! | `pixel_scale` | a number | optional |
//! | `class_names` | JSON array of strings: 2 for a sigmoid head with one output, else `n_L`; never for `mse` | optional |
//! | `target_names` | JSON array: the label column's name, or one name per output (multi-output regression, multi-label sigmoid) | optional |
//! | `target_mean`, `target_std` | JSON arrays of `n_L` numbers: the `mse` targets were standardised with these; predictions are `output · std + mean` | both or neither; `mse` only |
//! | `csv_layout` | JSON object `{"delimiter": ",", "header": true, "columns": 5, "label_positions": [4]}`: how the training CSV was read | optional |
//! | `extra.{key}` | any string ([`ModelMeta::extra`]) | optional |
//!
//! Numbers are written in the shortest form that reads back to the same
//! `f32` bits, and read back with a correctly rounded parser, so a round trip
//! is exact. Files are written deterministically: the same model and metadata
//! always give the same bytes.
//!
//! # Checkpoints
//!
//! A [`Checkpoint`] file is a model file with these metadata keys as well:
//! `checkpoint` ([`CHECKPOINT_VERSION`]), `epoch`, `epochs_total`, `rng_seed`
//! (64 hex digits), `rng_stream`, `rng_word_pos` (decimal `u128`),
//! `batch_size`, `lr` (decimal, for people), `lr_bits` (8 hex digits of
//! `f32::to_bits`, the value used), `seed`, `shuffle` (`true`/`false`),
//! `shard_rows`, `optimizer` (`sgd`).
//!
//! A checkpoint written while an epoch was under way (after an interrupt)
//! also holds the position inside that epoch, in two keys given both or
//! neither: `checkpoint.batches_done` (decimal, at least 1) and
//! `checkpoint.loss_sum_bits` (16 hex digits of `f64::to_bits` of the sum of
//! the per-sample losses of those batches, finite). Such a checkpoint means
//! "epoch `epoch` completed, plus `batches_done` batches of epoch `epoch + 1`"
//! (so `epoch < epochs_total`), and its `rng_*` keys are the RNG at the start
//! of epoch `epoch + 1`, from which its shuffle is drawn again
//! ([`Checkpoint::in_epoch`], [`crate::train::EpochProgress`]). These keys
//! came with checkpoint version 2; version 1 checkpoints, which lack them,
//! are still read.
//!
//! Plain SGD has no state. The names an optimizer with state will use are
//! reserved now: its hyper-parameters go in metadata keys `optimizer.{name}`
//! and its buffers in `F32` tensors `optimizer.{i}.{buffer}` shaped like
//! layer `i`'s tensors (e.g. `optimizer.0.weight_momentum`). [`load_model`]
//! skips every checkpoint key and every `optimizer.*` tensor, so it reads the
//! model inside a checkpoint; [`load_checkpoint`] refuses a plain model file.
//!
//! # Untrusted input
//!
//! [`from_bytes`] and [`checkpoint_from_bytes`] return `Ok` or `Err` for any
//! bytes and never panic. Every problem is an [`Error::Data`] naming the file.
//! Nothing is allocated from a size the file declares before that size is
//! checked against the file's length: the header is at most 100 MB (as in the
//! `safetensors` crate) and must lie inside the file, and parameters are only
//! copied out of tensors whose shapes match `sizes` and whose bytes are present,
//! so memory stays within a small multiple of the input length.
//!
//! # Loading a model in PyTorch
//!
//! ```python
//! import json, torch
//! from safetensors import safe_open
//!
//! path = "model.safetensors"
//! with safe_open(path, "pt") as f:
//!     meta = f.metadata()
//!     state = {k: f.get_tensor(k) for k in f.keys() if k.startswith("layers.")}
//! sizes = json.loads(meta["sizes"])
//! act = {"sigmoid": torch.nn.Sigmoid, "tanh": torch.nn.Tanh,
//!        "relu": torch.nn.ReLU, "identity": torch.nn.Identity}
//! mods = []
//! for i, name in enumerate(json.loads(meta["activations"]) + [None]):
//!     mods.append(torch.nn.Linear(sizes[i], sizes[i + 1]))
//!     if name:
//!         mods.append(act[name]())
//! mods.append({"sigmoid": torch.nn.Sigmoid(), "softmax": torch.nn.Softmax(dim=1),
//!              "mse": torch.nn.Identity()}[meta["head"]])
//! model = torch.nn.Sequential(*mods)
//! # layers.{i} is the i-th Linear, module 2*i of the Sequential
//! model.load_state_dict({f"{2 * int(k.split('.')[1])}.{k.split('.')[2]}": v
//!                        for k, v in state.items()})
//!
//! def predict(x):  # x: raw features, float32 tensor of shape [rows, n_0]
//!     if "pixel_scale" in meta:
//!         x = x / float(meta["pixel_scale"])
//!     if "standardize_mean" in meta:
//!         x = (x - torch.tensor(json.loads(meta["standardize_mean"]))) \
//!             / torch.tensor(json.loads(meta["standardize_std"]))
//!     with torch.no_grad():
//!         return model(x)
//! ```

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::ffi::OsString;
use std::fs;
use std::io::{self, Write};
use std::path::Path;
use std::str::FromStr;

use safetensors::tensor::{Dtype, SafeTensors};

use crate::activation::{Activation, Head};
use crate::data::{CsvLayout, Standardizer};
use crate::error::{Error, Result};
use crate::network::Mlp;
use crate::train::{EpochProgress, RngState, TrainConfig};

/// The value of the `format` metadata key of every backprop model file.
pub const FORMAT: &str = "backprop";
/// The model format version this build writes, and the newest it reads.
pub const FORMAT_VERSION: u32 = 1;
/// The checkpoint version this build writes, and the newest it reads.
pub const CHECKPOINT_VERSION: u32 = 2;
/// The optimizers whose checkpoints this build reads and writes.
pub const OPTIMIZERS: [&str; 1] = ["sgd"];

/// The largest safetensors header accepted (the `safetensors` crate's limit).
const MAX_HEADER: u64 = 100_000_000;
/// Bytes of the little-endian header length that starts a safetensors file.
const LEN_BYTES: usize = 8;
/// Characters of a value from a file quoted in an error message.
const QUOTE_CHARS: usize = 60;

const MODEL_KEYS: [&str; 14] = [
    "format",
    "format_version",
    "sizes",
    "activations",
    "head",
    "feature_names",
    "standardize_mean",
    "standardize_std",
    "pixel_scale",
    "class_names",
    "target_names",
    "target_mean",
    "target_std",
    "csv_layout",
];
const CHECKPOINT_KEYS: [&str; 15] = [
    "checkpoint",
    "epoch",
    "epochs_total",
    "rng_seed",
    "rng_stream",
    "rng_word_pos",
    "batch_size",
    "lr",
    "lr_bits",
    "seed",
    "shuffle",
    "shard_rows",
    "optimizer",
    BATCHES_DONE,
    LOSS_SUM_BITS,
];
/// The in-epoch position of a checkpoint written inside an epoch (version 2).
const BATCHES_DONE: &str = "checkpoint.batches_done";
/// The loss sum of those batches as the 16 hex digits of its `f64` bits.
const LOSS_SUM_BITS: &str = "checkpoint.loss_sum_bits";
/// The first checkpoint version with [`BATCHES_DONE`] and [`LOSS_SUM_BITS`].
const IN_EPOCH_VERSION: u32 = 2;
/// Prefix of caller-defined metadata keys ([`ModelMeta::extra`]).
const EXTRA_PREFIX: &str = "extra.";
/// Prefix reserved for optimizer hyper-parameters (metadata) and state (tensors).
const OPTIMIZER_PREFIX: &str = "optimizer.";
/// Prefix reserved for checkpoint keys added by later checkpoint versions.
const CHECKPOINT_PREFIX: &str = "checkpoint.";

/// What a model needs besides its weights to be used on new raw data.
///
/// A consumer divides raw features by `pixel_scale` first, then applies the
/// `standardizer`, then calls [`Mlp::predict`].
///
/// ```
/// use backprop::model_io::ModelMeta;
/// let meta = ModelMeta {
///     class_names: Some(vec!["malignant".into(), "benign".into()]),
///     ..ModelMeta::default()
/// };
/// assert!(meta.standardizer.is_none() && meta.feature_names.is_empty());
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ModelMeta {
    /// Per-feature mean and std fitted on the training split (`n_0` each).
    pub standardizer: Option<Standardizer>,
    /// The divisor of raw pixel values (finite and positive), e.g. 255.
    pub pixel_scale: Option<f32>,
    /// The class of each output index: 2 names for a sigmoid head with one
    /// output (label 0, label 1), else one per output; `None` for `mse`.
    pub class_names: Option<Vec<String>>,
    /// The name of each input feature (`n_0` of them), or empty if unknown.
    pub feature_names: Vec<String>,
    /// The names of the targets: one label column (classes), or one per
    /// output (multi-output regression, multi-label sigmoid); empty if unknown.
    pub target_names: Vec<String>,
    /// For an `mse` head trained on standardised targets: their mean and
    /// std (`n_L` each). Predictions in the original units are
    /// `output · std + mean`.
    pub target_standardizer: Option<Standardizer>,
    /// How the training CSV was read (delimiter, header, label positions),
    /// reused to read new files the same way.
    pub csv_layout: Option<CsvLayout>,
    /// Free-form entries for callers (e.g. the training command line), stored
    /// as metadata keys `extra.{key}`.
    pub extra: BTreeMap<String, String>,
}

/// A network with its metadata, as stored in a model file.
///
/// ```
/// use backprop::{model_io, Head, Mlp};
/// let mlp = Mlp::new(&[2, 1], &[], Head::Mse, 3)?;
/// let saved = model_io::from_bytes(&model_io::to_bytes(&mlp, &Default::default())?, "m")?;
/// assert_eq!(saved.mlp, mlp);
/// # Ok::<(), backprop::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct SavedModel {
    /// The network.
    pub mlp: Mlp,
    /// Its preprocessing and names.
    pub meta: ModelMeta,
}

/// The settings a resumed run needs to continue exactly as an uninterrupted
/// one, and against which the flags of a resumed run are checked.
///
/// The thread count is not among them: it changes nothing but the speed.
///
/// ```
/// use backprop::{model_io::CheckpointConfig, TrainConfig};
/// let cfg = TrainConfig { batch_size: 16, lr: 0.05, epochs: 4, ..TrainConfig::default() };
/// let ck = CheckpointConfig::from_train_config(&cfg);
/// assert_eq!((ck.batch_size, ck.epochs_total, ck.optimizer.as_str()), (16, 4, "sgd"));
/// assert_eq!(ck.train_config(1).lr, 0.05);
/// ck.check_matches(&cfg)?;
/// # Ok::<(), backprop::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct CheckpointConfig {
    /// Rows per mini-batch.
    pub batch_size: usize,
    /// Learning rate (stored as its exact bits).
    pub lr: f32,
    /// The seed the run started from (its RNG position is [`Checkpoint::rng`]).
    pub seed: u64,
    /// Whether epochs shuffle their rows.
    pub shuffle: bool,
    /// Rows per shard (results depend on it in the last bits).
    pub shard_rows: usize,
    /// The optimizer, one of [`OPTIMIZERS`].
    pub optimizer: String,
    /// The epoch count the run was started with (a resume may go further).
    pub epochs_total: usize,
}

impl CheckpointConfig {
    /// The checkpoint settings of a run configured by `cfg` (plain SGD).
    pub fn from_train_config(cfg: &TrainConfig) -> CheckpointConfig {
        CheckpointConfig {
            batch_size: cfg.batch_size,
            lr: cfg.lr,
            seed: cfg.seed,
            shuffle: cfg.shuffle,
            shard_rows: cfg.effective_shard_rows(),
            optimizer: "sgd".to_string(),
            epochs_total: cfg.epochs,
        }
    }

    /// The training configuration that continues the run, with `threads`
    /// worker threads (0: one per core) and `epochs` = `epochs_total`.
    pub fn train_config(&self, threads: usize) -> TrainConfig {
        TrainConfig {
            batch_size: self.batch_size,
            lr: self.lr,
            epochs: self.epochs_total,
            shard_rows: self.shard_rows,
            threads,
            seed: self.seed,
            shuffle: self.shuffle,
        }
    }

    /// Checks that `cfg` continues this run: same batch size, learning rate
    /// (bitwise), seed, shuffling and shard size. Epochs and threads may differ.
    ///
    /// # Errors
    /// [`Error::Config`] naming the first option that differs, with both values.
    pub fn check_matches(&self, cfg: &TrainConfig) -> Result<()> {
        let conflict = |option: &'static str, saved: String, given: String| {
            Err(Error::config(
                option,
                format!("the checkpoint was trained with {saved}, given {given}"),
            ))
        };
        if cfg.batch_size != self.batch_size {
            return conflict(
                "--batch-size",
                self.batch_size.to_string(),
                cfg.batch_size.to_string(),
            );
        }
        if cfg.lr.to_bits() != self.lr.to_bits() {
            return conflict("--lr", self.lr.to_string(), cfg.lr.to_string());
        }
        if cfg.seed != self.seed {
            return conflict("--seed", self.seed.to_string(), cfg.seed.to_string());
        }
        if cfg.shuffle != self.shuffle {
            let word = |s: bool| if s { "shuffling" } else { "--no-shuffle" }.to_string();
            return conflict("--no-shuffle", word(self.shuffle), word(cfg.shuffle));
        }
        if cfg.effective_shard_rows() != self.shard_rows {
            return conflict(
                "--shard-rows",
                self.shard_rows.to_string(),
                cfg.effective_shard_rows().to_string(),
            );
        }
        Ok(())
    }
}

/// Everything needed to resume training bit for bit: the model, the number
/// of epochs done, the shuffling RNG's position, the run's settings, and,
/// for a checkpoint written inside an epoch, the position in that epoch.
///
/// ```
/// use backprop::{model_io, Head, Mlp, TrainConfig, Trainer};
/// let mlp = Mlp::new(&[2, 1], &[], Head::Mse, 0)?;
/// let cfg = TrainConfig { epochs: 2, ..TrainConfig::default() };
/// let trainer = Trainer::new(&mlp, &cfg)?;
/// let ckpt = model_io::Checkpoint {
///     model: model_io::SavedModel { mlp, meta: Default::default() },
///     epoch: 1,
///     rng: trainer.rng_state(),
///     config: model_io::CheckpointConfig::from_train_config(&cfg),
///     in_epoch: None,
/// };
/// let bytes = model_io::checkpoint_to_bytes(&ckpt)?;
/// assert_eq!(model_io::checkpoint_from_bytes(&bytes, "c")?, ckpt);
/// // the model loader reads the model part of a checkpoint
/// assert_eq!(model_io::from_bytes(&bytes, "c")?, ckpt.model);
/// # Ok::<(), backprop::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Checkpoint {
    /// The network and its metadata after `epoch` epochs (and the batches
    /// of `in_epoch`).
    pub model: SavedModel,
    /// Epochs completed.
    pub epoch: usize,
    /// Where the trainer's shuffling RNG stands ([`crate::Trainer::rng_state`]).
    /// With `in_epoch`, that is the start of epoch `epoch + 1`, and must equal
    /// `in_epoch.rng_at_epoch_start` (an interrupted
    /// [`crate::Trainer::epoch_resumable`] leaves the trainer there).
    pub rng: RngState,
    /// The run's settings.
    pub config: CheckpointConfig,
    /// `None` between epochs. `Some` for a checkpoint written inside epoch
    /// `epoch + 1` (after an interrupt): the batches of it already trained,
    /// to be passed as `start` to [`crate::Trainer::epoch_resumable`].
    /// Version 1 checkpoints have none.
    pub in_epoch: Option<EpochProgress>,
}

// ---------------------------------------------------------------------------
// Public entry points
// ---------------------------------------------------------------------------

/// The bytes of a model file for `mlp` and `meta`.
///
/// # Errors
/// [`Error::Data`] (source `model`) if `meta` does not fit `mlp` (see
/// [`from_bytes`] for the rules) or a parameter is not finite: a file that
/// would not load is never written.
///
/// ```
/// use backprop::{model_io, Activation, Head, Mlp};
/// let mut mlp = Mlp::new(&[3, 4, 2], &[Activation::Relu], Head::SoftmaxCe, 1)?;
/// let bytes = model_io::to_bytes(&mlp, &Default::default())?;
/// assert_eq!(model_io::to_bytes(&mlp, &Default::default())?, bytes); // deterministic
/// mlp.params_mut()[0] = f32::NAN;
/// let err = model_io::to_bytes(&mlp, &Default::default()).unwrap_err();
/// assert_eq!(err.to_string(), "model: tensor 'layers.0.weight' holds NaN at index 0: weights must be finite");
/// # Ok::<(), backprop::Error>(())
/// ```
pub fn to_bytes(mlp: &Mlp, meta: &ModelMeta) -> Result<Vec<u8>> {
    encode(mlp, meta, None, "model")
}

/// Writes `mlp` and `meta` to `path` atomically ([`write_atomic`]).
///
/// # Errors
/// As [`to_bytes`] (naming `path`), and [`Error::Io`] if the file cannot be
/// written; an existing file at `path` is then left as it was.
pub fn save_model(path: &Path, mlp: &Mlp, meta: &ModelMeta) -> Result<()> {
    let bytes = encode(mlp, meta, None, &path.display().to_string())?;
    write_atomic(path, &bytes)
}

/// Reads a model from the bytes of a model (or checkpoint) file; `source_name`
/// names the file in errors.
///
/// Everything is checked: the safetensors framing, the `format` and
/// `format_version`, unknown metadata keys, `sizes`, the activation and head
/// names, that exactly the tensors `layers.{i}.weight` and `layers.{i}.bias`
/// are present with dtype `F32` and the shapes `sizes` implies, that every
/// weight is finite, the standardizer (lengths `n_0`, finite, positive std),
/// `pixel_scale` (finite, positive), `class_names` (count as in the table of
/// the module docs, no duplicates) and `feature_names` (`n_0` or none).
///
/// # Errors
/// [`Error::Data`] with `source_name` and what is wrong, for any bad input.
///
/// ```
/// use backprop::model_io;
/// let err = model_io::from_bytes(b"\x10\0\0", "m.safetensors").unwrap_err();
/// assert_eq!(err.to_string(), "m.safetensors: truncated: 3 bytes, too short for a safetensors header");
/// ```
pub fn from_bytes(bytes: &[u8], source_name: &str) -> Result<SavedModel> {
    let file = Parsed::open(bytes, source_name)?;
    file.model()
}

/// Reads the model file at `path` (or the model inside a checkpoint).
///
/// # Errors
/// [`Error::Io`] if the file cannot be read, else as [`from_bytes`].
pub fn load_model(path: &Path) -> Result<SavedModel> {
    let bytes = read(path)?;
    from_bytes(&bytes, &path.display().to_string())
}

/// The bytes of a checkpoint file.
///
/// # Errors
/// As [`to_bytes`] for the model; [`Error::Data`] (source `checkpoint`) for
/// settings a resume could not use: zero batch or shard size, a learning rate
/// that is not finite and positive, `epoch > epochs_total`, an unknown
/// optimizer; with `in_epoch`: `batches_done` of 0, a loss sum that is not
/// finite, `epoch + 1 > epochs_total`, or `rng_at_epoch_start` other than `rng`.
pub fn checkpoint_to_bytes(ckpt: &Checkpoint) -> Result<Vec<u8>> {
    encode(&ckpt.model.mlp, &ckpt.model.meta, Some(ckpt), "checkpoint")
}

/// Writes a checkpoint to `path` atomically ([`write_atomic`]).
///
/// # Errors
/// As [`checkpoint_to_bytes`] (naming `path`) and [`write_atomic`].
pub fn save_checkpoint(path: &Path, ckpt: &Checkpoint) -> Result<()> {
    let bytes = encode(
        &ckpt.model.mlp,
        &ckpt.model.meta,
        Some(ckpt),
        &path.display().to_string(),
    )?;
    write_atomic(path, &bytes)
}

/// Reads a checkpoint from the bytes of a checkpoint file: the model as
/// [`from_bytes`], then every checkpoint key.
///
/// # Errors
/// [`Error::Data`] with `source_name` for any bad input, including a plain
/// model file (no `checkpoint` key) and a newer checkpoint version.
///
/// ```
/// use backprop::{model_io, Head, Mlp};
/// let bytes = model_io::to_bytes(&Mlp::new(&[2, 1], &[], Head::Mse, 0)?, &Default::default())?;
/// let err = model_io::checkpoint_from_bytes(&bytes, "m.safetensors").unwrap_err();
/// assert_eq!(
///     err.to_string(),
///     "m.safetensors: a model file, not a checkpoint (metadata key 'checkpoint' is missing)"
/// );
/// # Ok::<(), backprop::Error>(())
/// ```
pub fn checkpoint_from_bytes(bytes: &[u8], source_name: &str) -> Result<Checkpoint> {
    let file = Parsed::open(bytes, source_name)?;
    file.checkpoint()
}

/// Reads the checkpoint file at `path`.
///
/// # Errors
/// [`Error::Io`] if the file cannot be read, else as [`checkpoint_from_bytes`].
pub fn load_checkpoint(path: &Path) -> Result<Checkpoint> {
    let bytes = read(path)?;
    checkpoint_from_bytes(&bytes, &path.display().to_string())
}

/// Replaces the file at `path` by `bytes` so that a crash, a full disk or any
/// error leaves either the old file or the new one, never a mix.
///
/// The bytes go to a temporary file in the same directory (named
/// `.{file name}.XXXXXX.tmp`), which is flushed and `fsync`ed, then renamed
/// over `path`; then the directory is `fsync`ed (best effort, Unix only). On
/// error the temporary file is removed and `path` is untouched. A new file
/// gets the permissions `File::create` would give it; a replaced file keeps
/// its permissions. A symbolic link at `path` is replaced, not followed.
///
/// # Errors
/// [`Error::Io`] with `path` if any step fails (missing directory, `path` is
/// a directory, disk full, …).
///
/// ```
/// let dir = tempfile::tempdir().unwrap();
/// let path = dir.path().join("model.safetensors");
/// backprop::model_io::write_atomic(&path, b"one")?;
/// backprop::model_io::write_atomic(&path, b"two")?;
/// assert_eq!(std::fs::read(&path).unwrap(), b"two");
/// assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1); // no temporary left
/// # Ok::<(), backprop::Error>(())
/// ```
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    write_atomic_with(path, |file| file.write_all(bytes))
}

/// [`write_atomic`] with the writing of the contents done by `write` (so tests
/// can make it fail half-way, as a full disk would).
fn write_atomic_with(
    path: &Path,
    write: impl FnOnce(&mut tempfile::NamedTempFile) -> io::Result<()>,
) -> Result<()> {
    let io_err = |source: io::Error| Error::Io {
        path: path.to_path_buf(),
        source,
    };
    let name = path.file_name().ok_or_else(|| {
        io_err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "not a file name",
        ))
    })?;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let mut prefix = OsString::from(".");
    prefix.push(name);
    prefix.push(".");
    let mut builder = tempfile::Builder::new();
    builder.prefix(&prefix).suffix(".tmp");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        // The mode `File::create` uses; the umask applies to it as usual.
        builder.permissions(fs::Permissions::from_mode(0o666));
    }
    let mut tmp = builder.tempfile_in(dir).map_err(io_err)?;
    // From here on, dropping `tmp` on an early return deletes the temporary file.
    if let Ok(old) = fs::metadata(path) {
        if old.is_file() {
            fs::set_permissions(tmp.path(), old.permissions()).map_err(io_err)?;
        }
    }
    write(&mut tmp).map_err(io_err)?;
    tmp.flush().map_err(io_err)?;
    tmp.as_file().sync_all().map_err(io_err)?;
    tmp.persist(path).map_err(|e| io_err(e.error))?;
    #[cfg(unix)]
    if let Ok(d) = fs::File::open(dir) {
        // Makes the rename itself durable; some filesystems refuse, which is fine.
        let _ = d.sync_all();
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Writing
// ---------------------------------------------------------------------------

fn read(path: &Path) -> Result<Vec<u8>> {
    fs::read(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })
}

fn data_err(src: &str, message: impl Into<String>) -> Error {
    Error::Data {
        source_name: src.to_string(),
        message: message.into(),
    }
}

/// Builds the metadata and tensors of a model (and checkpoint), checks them
/// with the loader's rules, and serializes them.
fn encode(mlp: &Mlp, meta: &ModelMeta, ckpt: Option<&Checkpoint>, src: &str) -> Result<Vec<u8>> {
    check_meta(mlp.sizes(), mlp.head(), meta, src)?;
    let mut tensors: BTreeMap<String, (Vec<usize>, &[f32])> = BTreeMap::new();
    for l in 0..mlp.num_layers() {
        let (n_in, n_out) = (mlp.sizes()[l], mlp.sizes()[l + 1]);
        let w = weight_name(l);
        check_finite(&w, mlp.weights(l), src)?;
        tensors.insert(w, (vec![n_out, n_in], mlp.weights(l)));
        let b = bias_name(l);
        check_finite(&b, mlp.bias(l), src)?;
        tensors.insert(b, (vec![n_out], mlp.bias(l)));
    }

    let mut md: BTreeMap<String, String> = BTreeMap::new();
    let mut put = |k: &str, v: String| {
        md.insert(k.to_string(), v);
    };
    put("format", FORMAT.to_string());
    put("format_version", FORMAT_VERSION.to_string());
    put("sizes", json(mlp.sizes()));
    let acts: Vec<&str> = mlp.hidden().iter().map(|a| a.name()).collect();
    put("activations", json(&acts));
    put("head", mlp.head().name().to_string());
    put("feature_names", json(&meta.feature_names));
    if let Some(s) = &meta.standardizer {
        put("standardize_mean", f32_array(&s.mean));
        put("standardize_std", f32_array(&s.std));
    }
    if let Some(p) = meta.pixel_scale {
        put("pixel_scale", fmt_f32(p));
    }
    if let Some(c) = &meta.class_names {
        put("class_names", json(c));
    }
    if !meta.target_names.is_empty() {
        put("target_names", json(&meta.target_names));
    }
    if let Some(s) = &meta.target_standardizer {
        put("target_mean", f32_array(&s.mean));
        put("target_std", f32_array(&s.std));
    }
    if let Some(l) = &meta.csv_layout {
        let obj = serde_json::json!({
            "delimiter": char::from(l.delimiter).to_string(),
            "header": l.header,
            "columns": l.columns,
            "label_positions": l.label_positions,
        });
        put("csv_layout", obj.to_string());
    }
    for (k, v) in &meta.extra {
        md.insert(format!("{EXTRA_PREFIX}{k}"), v.clone());
    }
    if let Some(c) = ckpt {
        check_checkpoint_values(c, src)?;
        let cfg = &c.config;
        let seed_hex: String = c.rng.seed.iter().map(|b| format!("{b:02x}")).collect();
        for (k, v) in [
            ("checkpoint", CHECKPOINT_VERSION.to_string()),
            ("epoch", c.epoch.to_string()),
            ("epochs_total", cfg.epochs_total.to_string()),
            ("rng_seed", seed_hex),
            ("rng_stream", c.rng.stream.to_string()),
            ("rng_word_pos", c.rng.word_pos.to_string()),
            ("batch_size", cfg.batch_size.to_string()),
            ("lr", fmt_f32(cfg.lr)),
            ("lr_bits", format!("{:08x}", cfg.lr.to_bits())),
            ("seed", cfg.seed.to_string()),
            ("shuffle", cfg.shuffle.to_string()),
            ("shard_rows", cfg.shard_rows.to_string()),
            ("optimizer", cfg.optimizer.clone()),
        ] {
            md.insert(k.to_string(), v);
        }
        if let Some(p) = &c.in_epoch {
            md.insert(BATCHES_DONE.to_string(), p.batches_done.to_string());
            md.insert(
                LOSS_SUM_BITS.to_string(),
                format!("{:016x}", p.loss_sum.to_bits()),
            );
        }
    }
    serialize(&tensors, &md, src)
}

/// A safetensors file with `F32` tensors and metadata, laid out exactly as
/// `safetensors::serialize` lays it out (tensors by name, header padded with
/// spaces to a multiple of 8), but with the metadata keys in sorted order.
/// (`safetensors::serialize` takes the metadata as a `HashMap`, whose order
/// changes from one process to the next, so its files are not reproducible.)
fn serialize(
    tensors: &BTreeMap<String, (Vec<usize>, &[f32])>,
    metadata: &BTreeMap<String, String>,
    src: &str,
) -> Result<Vec<u8>> {
    let mut offset = 0usize;
    let mut entries = Vec::with_capacity(tensors.len());
    for (name, (shape, data)) in tensors {
        let end = offset + 4 * data.len();
        // The field order of the crate's `TensorInfo`.
        let info = format!(
            r#"{{"dtype":"F32","shape":{},"data_offsets":[{offset},{end}]}}"#,
            json(shape)
        );
        entries.push((name, info));
        offset = end;
    }
    // serde_json's Map would sort the keys ("__metadata__" after "layers."):
    // write the object by hand in the crate's order.
    let mut text = String::from("{");
    let mut first = true;
    let mut push = |k: &str, v: &str| {
        if !first {
            text.push(',');
        }
        first = false;
        text.push_str(&serde_json::Value::from(k).to_string());
        text.push(':');
        text.push_str(v);
    };
    push("__metadata__", &serde_json::json!(metadata).to_string());
    for (name, v) in &entries {
        push(name, v);
    }
    text.push('}');
    while text.len() % LEN_BYTES != 0 {
        text.push(' ');
    }
    let header_len = text.len() as u64;
    if header_len > MAX_HEADER {
        return Err(data_err(
            src,
            format!("the metadata is too large ({header_len} bytes, at most {MAX_HEADER})"),
        ));
    }
    let mut out = Vec::with_capacity(LEN_BYTES + text.len() + offset);
    out.extend_from_slice(&header_len.to_le_bytes());
    out.extend_from_slice(text.as_bytes());
    for (_, data) in tensors.values() {
        for v in *data {
            out.extend_from_slice(&v.to_le_bytes());
        }
    }
    Ok(out)
}

/// `v` as JSON text (strings, numbers and arrays of them).
fn json<T: Clone + Into<serde_json::Value>>(v: &[T]) -> String {
    serde_json::Value::from(v.to_vec()).to_string()
}

/// The shortest decimal that reads back as the same `f32` (and is JSON).
fn fmt_f32(v: f32) -> String {
    let a = v.abs();
    if a != 0.0 && !(1e-5..1e16).contains(&a) {
        format!("{v:e}")
    } else {
        format!("{v}")
    }
}

fn f32_array(v: &[f32]) -> String {
    let parts: Vec<String> = v.iter().map(|&x| fmt_f32(x)).collect();
    format!("[{}]", parts.join(","))
}

fn weight_name(l: usize) -> String {
    format!("layers.{l}.weight")
}

fn bias_name(l: usize) -> String {
    format!("layers.{l}.bias")
}

fn check_finite(name: &str, v: &[f32], src: &str) -> Result<()> {
    match v.iter().position(|x| !x.is_finite()) {
        None => Ok(()),
        Some(i) => Err(data_err(
            src,
            format!(
                "tensor '{name}' holds {} at index {i}: weights must be finite",
                v[i]
            ),
        )),
    }
}

/// The number of classes a head with `outputs` outputs predicts.
fn n_classes(head: Head, outputs: usize) -> Option<usize> {
    match head {
        Head::Mse => None,
        Head::SigmoidBce if outputs == 1 => Some(2),
        _ => Some(outputs),
    }
}

/// The rules `meta` must follow for a network of `sizes` with `head`.
fn check_meta(sizes: &[usize], head: Head, meta: &ModelMeta, src: &str) -> Result<()> {
    let n_in = sizes.first().copied().unwrap_or(0);
    let n_out = sizes.last().copied().unwrap_or(0);
    if let Some(s) = &meta.standardizer {
        for (key, v) in [("standardize_mean", &s.mean), ("standardize_std", &s.std)] {
            if v.len() != n_in {
                return Err(data_err(
                    src,
                    format!("{key} has {} values for {n_in} inputs", v.len()),
                ));
            }
        }
        if let Some(i) = s.mean.iter().position(|m| !m.is_finite()) {
            return Err(data_err(
                src,
                format!("standardize_mean[{i}] is {}: must be finite", s.mean[i]),
            ));
        }
        if let Some(i) = s.std.iter().position(|d| !(d.is_finite() && *d > 0.0)) {
            return Err(data_err(
                src,
                format!(
                    "standardize_std[{i}] is {}: must be finite and positive",
                    s.std[i]
                ),
            ));
        }
    }
    if let Some(p) = meta.pixel_scale {
        if !(p.is_finite() && p > 0.0) {
            return Err(data_err(
                src,
                format!("pixel_scale is {p}: must be finite and positive"),
            ));
        }
    }
    if let Some(names) = &meta.class_names {
        let Some(k) = n_classes(head, n_out) else {
            return Err(data_err(
                src,
                format!(
                    "class_names given for an mse (regression) head, which has no classes ({} names)",
                    names.len()
                ),
            ));
        };
        if names.len() != k {
            let outs = if n_out == 1 { "output" } else { "outputs" };
            return Err(data_err(
                src,
                format!(
                    "class_names has {} names, but a {head} head with {n_out} {outs} has {k} classes",
                    names.len()
                ),
            ));
        }
        let mut seen = BTreeSet::new();
        if let Some(dup) = names.iter().find(|n| !seen.insert(n.as_str())) {
            return Err(data_err(
                src,
                format!("class_names holds {} twice", quote(dup)),
            ));
        }
    }
    let k = meta.target_names.len();
    if k > 1 {
        if k != n_out {
            return Err(data_err(
                src,
                format!("target_names has {k} names for {n_out} outputs"),
            ));
        }
        if head == Head::SoftmaxCe || (head == Head::SigmoidBce && meta.class_names.is_some()) {
            return Err(data_err(
                src,
                format!("{k} target_names need an mse head or a multi-label sigmoid head (without class_names)"),
            ));
        }
    }
    if let Some(s) = &meta.target_standardizer {
        if head != Head::Mse {
            return Err(data_err(
                src,
                "target_mean/target_std are given for a classifier head",
            ));
        }
        for (key, v) in [("target_mean", &s.mean), ("target_std", &s.std)] {
            if v.len() != n_out {
                return Err(data_err(
                    src,
                    format!("{key} has {} values for {n_out} outputs", v.len()),
                ));
            }
        }
        if let Some(i) = s.mean.iter().position(|m| !m.is_finite()) {
            return Err(data_err(
                src,
                format!("target_mean[{i}] is {}: must be finite", s.mean[i]),
            ));
        }
        if let Some(i) = s.std.iter().position(|d| !(d.is_finite() && *d > 0.0)) {
            return Err(data_err(
                src,
                format!(
                    "target_std[{i}] is {}: must be finite and positive",
                    s.std[i]
                ),
            ));
        }
    }
    if let Some(l) = &meta.csv_layout {
        if l.columns == 0
            || l.label_positions.iter().any(|&p| p >= l.columns)
            || !l.delimiter.is_ascii()
            || matches!(l.delimiter, b'\n' | b'\r' | b'"')
        {
            return Err(data_err(
                src,
                format!(
                    "csv_layout is inconsistent: {} columns, label positions {:?}, delimiter {:?}",
                    l.columns,
                    l.label_positions,
                    char::from(l.delimiter)
                ),
            ));
        }
    }
    if !meta.feature_names.is_empty() && meta.feature_names.len() != n_in {
        return Err(data_err(
            src,
            format!(
                "feature_names has {} names for {n_in} inputs",
                meta.feature_names.len()
            ),
        ));
    }
    Ok(())
}

/// The rules a checkpoint's values follow, beyond the model's: checked before
/// writing and after reading, so that every file read can be written again.
fn check_checkpoint_values(ckpt: &Checkpoint, src: &str) -> Result<()> {
    let (epoch, cfg) = (ckpt.epoch, &ckpt.config);
    if cfg.batch_size == 0 {
        return Err(data_err(src, "batch_size is 0: must be at least 1"));
    }
    if cfg.shard_rows == 0 {
        return Err(data_err(src, "shard_rows is 0: must be at least 1"));
    }
    if !(cfg.lr.is_finite() && cfg.lr > 0.0) {
        return Err(data_err(
            src,
            format!("lr is {}: must be finite and positive", cfg.lr),
        ));
    }
    if epoch > cfg.epochs_total {
        return Err(data_err(
            src,
            format!("epoch {epoch} is past epochs_total {}", cfg.epochs_total),
        ));
    }
    if !OPTIMIZERS.contains(&cfg.optimizer.as_str()) {
        return Err(data_err(
            src,
            format!(
                "optimizer {} is not supported by this build (known: {})",
                quote(&cfg.optimizer),
                OPTIMIZERS.join(", ")
            ),
        ));
    }
    if let Some(p) = &ckpt.in_epoch {
        if p.batches_done == 0 {
            return Err(data_err(
                src,
                format!(
                    "{BATCHES_DONE} is 0: must be at least 1 \
                     (a checkpoint between epochs has no in-epoch keys)"
                ),
            ));
        }
        if !p.loss_sum.is_finite() {
            return Err(data_err(
                src,
                format!(
                    "{LOSS_SUM_BITS} {:016x} is {}: the loss sum must be finite",
                    p.loss_sum.to_bits(),
                    p.loss_sum
                ),
            ));
        }
        if epoch >= cfg.epochs_total {
            return Err(data_err(
                src,
                format!(
                    "{BATCHES_DONE} {} is a position in epoch {}, past epochs_total {}",
                    p.batches_done,
                    epoch.saturating_add(1),
                    cfg.epochs_total
                ),
            ));
        }
        if p.rng_at_epoch_start != ckpt.rng {
            return Err(data_err(
                src,
                "the in-epoch position's rng_at_epoch_start differs from rng: a checkpoint \
                 inside an epoch stores the RNG at the epoch's start once (where an \
                 interrupted Trainer::epoch_resumable leaves the trainer)",
            ));
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Reading
// ---------------------------------------------------------------------------

/// `'text'` with control characters escaped and long values cut, for messages
/// quoting what a file holds.
fn quote(s: &str) -> String {
    let mut out = String::from("'");
    for (i, c) in s.chars().enumerate() {
        if i == QUOTE_CHARS {
            out.push('…');
            break;
        }
        out.extend(c.escape_debug());
    }
    out.push('\'');
    out
}

/// A safetensors file whose framing is valid.
struct Parsed<'a> {
    src: &'a str,
    meta: HashMap<String, String>,
    header: safetensors::tensor::Metadata,
    /// The tensor data after the header.
    data: &'a [u8],
}

impl<'a> Parsed<'a> {
    fn open(bytes: &'a [u8], src: &'a str) -> Result<Parsed<'a>> {
        precheck(bytes, src)?;
        let (n, header) = SafeTensors::read_metadata(bytes)
            .map_err(|e| data_err(src, format!("not a valid safetensors file: {e}")))?;
        let data = LEN_BYTES
            .checked_add(n)
            .and_then(|start| bytes.get(start..))
            .ok_or_else(|| data_err(src, "truncated: the header runs past the end of the file"))?;
        let meta = header.metadata().clone().ok_or_else(|| {
            data_err(
                src,
                "not a backprop model file: the safetensors header has no __metadata__",
            )
        })?;
        Ok(Parsed {
            src,
            meta,
            header,
            data,
        })
    }

    fn err(&self, message: impl Into<String>) -> Error {
        data_err(self.src, message)
    }

    fn get(&self, key: &str) -> Option<&str> {
        self.meta.get(key).map(String::as_str)
    }

    fn require(&self, key: &str) -> Result<&str> {
        self.get(key)
            .ok_or_else(|| self.err(format!("metadata key '{key}' is missing")))
    }

    fn is_checkpoint(&self) -> bool {
        self.meta.contains_key("checkpoint")
    }

    /// A version key: a positive integer not above `newest`.
    fn version(&self, key: &str, newest: u32, what: &str) -> Result<u32> {
        let text = self.require(key)?;
        let v: u32 = match parse_uint(text) {
            Some(v) if v >= 1 => v,
            _ => {
                return Err(self.err(format!(
                    "{key} {} is not a version number (this build reads 1 to {newest})",
                    quote(text)
                )))
            }
        };
        if v > newest {
            return Err(self.err(format!(
                "{key} {v} is newer than this build of backprop reads ({newest}): \
                 the {what} was written by a newer backprop; upgrade to load it"
            )));
        }
        Ok(v)
    }

    fn model(&self) -> Result<SavedModel> {
        match self.get("format") {
            None => {
                return Err(self.err("not a backprop model file: metadata key 'format' is missing"))
            }
            Some(FORMAT) => {}
            Some(other) => {
                return Err(self.err(format!(
                    "not a backprop model file: format is {}, expected '{FORMAT}'",
                    quote(other)
                )))
            }
        }
        self.version("format_version", FORMAT_VERSION, "model")?;
        let ckpt = self.is_checkpoint();
        let mut keys: Vec<&String> = self.meta.keys().collect();
        keys.sort();
        for key in keys {
            let known = MODEL_KEYS.contains(&key.as_str())
                || key.starts_with(EXTRA_PREFIX)
                || (ckpt
                    && (CHECKPOINT_KEYS.contains(&key.as_str())
                        || key.starts_with(OPTIMIZER_PREFIX)
                        || key.starts_with(CHECKPOINT_PREFIX)));
            if !known {
                return Err(self.err(format!("unknown metadata key {}", quote(key))));
            }
        }

        let sizes_text = self.require("sizes")?;
        let sizes: Vec<usize> = serde_json::from_str(sizes_text).map_err(|e| {
            self.err(format!(
                "metadata 'sizes' is not a JSON array of layer sizes: {e}"
            ))
        })?;
        if sizes.len() < 2 {
            return Err(self.err(format!(
                "sizes {sizes:?} needs at least an input and an output size"
            )));
        }
        if let Some(i) = sizes.iter().position(|&n| n == 0) {
            return Err(self.err(format!("sizes: layer {i} has size 0")));
        }
        let layers = sizes.len() - 1;
        let names: Vec<String> =
            serde_json::from_str(self.require("activations")?).map_err(|e| {
                self.err(format!(
                    "metadata 'activations' is not a JSON array of names: {e}"
                ))
            })?;
        if names.len() != layers - 1 {
            return Err(self.err(format!(
                "activations has {} names for {} hidden layers",
                names.len(),
                layers - 1
            )));
        }
        let hidden = names
            .iter()
            .map(|n| {
                Activation::from_str(n).map_err(|_| {
                    self.err(format!(
                        "unknown activation {} (known: sigmoid, tanh, relu, identity)",
                        quote(n)
                    ))
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let head_text = self.require("head")?;
        let head = Head::from_str(head_text).map_err(|_| {
            self.err(format!(
                "unknown head {} (known: sigmoid, softmax, mse)",
                quote(head_text)
            ))
        })?;

        // Tensors: exactly the expected ones, F32, with the shapes `sizes` implies.
        for l in 0..layers {
            let (n_in, n_out) = (sizes[l], sizes[l + 1]);
            self.check_tensor(&weight_name(l), &[n_out, n_in], &sizes)?;
            self.check_tensor(&bias_name(l), &[n_out], &sizes)?;
        }
        for name in self.header.offset_keys() {
            let skipped = ckpt && name.starts_with(OPTIMIZER_PREFIX);
            if !(is_layer_tensor(&name, layers) || skipped) {
                return Err(self.err(format!("unexpected tensor {}", quote(&name))));
            }
        }
        // Every shape matched and its bytes are in the file, so this count is
        // bounded by the input length.
        let mut params = Vec::new();
        for l in 0..layers {
            for name in [weight_name(l), bias_name(l)] {
                let bytes = self.tensor_bytes(&name)?;
                let start = params.len();
                params.extend(
                    bytes
                        .chunks_exact(4)
                        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])),
                );
                check_finite(&name, &params[start..], self.src)?;
            }
        }

        let meta = ModelMeta {
            standardizer: self.standardizer()?,
            pixel_scale: match self.get("pixel_scale") {
                None => None,
                Some(t) => Some(parse_f32(t).ok_or_else(|| {
                    self.err(format!("pixel_scale {} is not a number", quote(t)))
                })?),
            },
            class_names: match self.get("class_names") {
                None => None,
                Some(t) => Some(serde_json::from_str(t).map_err(|e| {
                    self.err(format!(
                        "metadata 'class_names' is not a JSON array of strings: {e}"
                    ))
                })?),
            },
            feature_names: serde_json::from_str(self.require("feature_names")?).map_err(|e| {
                self.err(format!(
                    "metadata 'feature_names' is not a JSON array of strings: {e}"
                ))
            })?,
            target_names: match self.get("target_names") {
                None => Vec::new(),
                Some(t) => serde_json::from_str(t).map_err(|e| {
                    self.err(format!(
                        "metadata 'target_names' is not a JSON array of strings: {e}"
                    ))
                })?,
            },
            target_standardizer: self.pair("target_mean", "target_std")?,
            csv_layout: match self.get("csv_layout") {
                None => None,
                Some(t) => Some(self.csv_layout(t)?),
            },
            extra: self
                .meta
                .iter()
                .filter_map(|(k, v)| {
                    k.strip_prefix(EXTRA_PREFIX)
                        .map(|k| (k.to_string(), v.clone()))
                })
                .collect(),
        };
        check_meta(&sizes, head, &meta, self.src)?;
        let mlp = Mlp::from_params(&sizes, &hidden, head, params)
            .map_err(|e| self.err(format!("cannot build the network: {e}")))?;
        Ok(SavedModel { mlp, meta })
    }

    fn check_tensor(&self, name: &str, shape: &[usize], sizes: &[usize]) -> Result<()> {
        let info = self
            .header
            .info(name)
            .ok_or_else(|| self.err(format!("tensor '{name}' is missing")))?;
        if info.dtype != Dtype::F32 {
            return Err(self.err(format!(
                "tensor '{name}' has dtype {}, expected F32",
                info.dtype
            )));
        }
        if info.shape != shape {
            return Err(self.err(format!(
                "tensor '{name}' has shape {:?}, expected {shape:?} for sizes {sizes:?}",
                info.shape
            )));
        }
        Ok(())
    }

    fn tensor_bytes(&self, name: &str) -> Result<&'a [u8]> {
        let info = self
            .header
            .info(name)
            .ok_or_else(|| self.err(format!("tensor '{name}' is missing")))?;
        let (s, e) = info.data_offsets;
        self.data
            .get(s..e)
            .ok_or_else(|| self.err(format!("truncated: tensor '{name}' lies outside the file")))
    }

    fn standardizer(&self) -> Result<Option<Standardizer>> {
        self.pair("standardize_mean", "standardize_std")
    }

    /// A standardizer stored as two keys, both or neither.
    fn pair(&self, mean_key: &str, std_key: &str) -> Result<Option<Standardizer>> {
        match (self.get(mean_key), self.get(std_key)) {
            (None, None) => Ok(None),
            (Some(m), Some(s)) => Ok(Some(Standardizer {
                mean: self.f32_array(mean_key, m)?,
                std: self.f32_array(std_key, s)?,
            })),
            (Some(_), None) => Err(self.err(format!("{mean_key} is given without {std_key}"))),
            (None, Some(_)) => Err(self.err(format!("{std_key} is given without {mean_key}"))),
        }
    }

    /// The `csv_layout` object.
    fn csv_layout(&self, text: &str) -> Result<CsvLayout> {
        let bad = |why: &str| self.err(format!("metadata 'csv_layout' {}: {why}", quote(text)));
        let v: serde_json::Value =
            serde_json::from_str(text).map_err(|e| bad(&format!("not JSON: {e}")))?;
        let delimiter = match v.get("delimiter").and_then(|d| d.as_str()) {
            Some(d) if d.len() == 1 => d.as_bytes()[0],
            _ => return Err(bad("'delimiter' must be one ASCII character")),
        };
        let header = v
            .get("header")
            .and_then(serde_json::Value::as_bool)
            .ok_or_else(|| bad("'header' must be true or false"))?;
        let columns = v
            .get("columns")
            .and_then(serde_json::Value::as_u64)
            .and_then(|c| usize::try_from(c).ok())
            .ok_or_else(|| bad("'columns' must be a count"))?;
        let label_positions = v
            .get("label_positions")
            .and_then(serde_json::Value::as_array)
            .and_then(|a| {
                a.iter()
                    .map(|p| p.as_u64().and_then(|p| usize::try_from(p).ok()))
                    .collect::<Option<Vec<usize>>>()
            })
            .ok_or_else(|| bad("'label_positions' must be an array of column indices"))?;
        Ok(CsvLayout {
            delimiter,
            header,
            columns,
            label_positions,
        })
    }

    /// A JSON array of numbers, each read exactly as an `f32`.
    fn f32_array(&self, key: &str, text: &str) -> Result<Vec<f32>> {
        let bad = |e: String| {
            self.err(format!(
                "metadata '{key}' is not a JSON array of numbers: {e}"
            ))
        };
        // serde_json checks the syntax (and says where it is wrong); its f32
        // conversion is not always correctly rounded, so the numbers are then
        // read again with Rust's parser.
        let checked: Vec<f64> = serde_json::from_str(text).map_err(|e| bad(e.to_string()))?;
        let inner = text
            .trim()
            .strip_prefix('[')
            .and_then(|t| t.strip_suffix(']'))
            .map(str::trim)
            .ok_or_else(|| bad("no brackets".into()))?;
        if inner.is_empty() {
            return Ok(Vec::new());
        }
        let values = inner
            .split(',')
            .map(|t| {
                parse_f32(t.trim()).ok_or_else(|| bad(format!("{} is not a number", quote(t))))
            })
            .collect::<Result<Vec<f32>>>()?;
        if values.len() != checked.len() {
            return Err(bad("unexpected separators".into()));
        }
        Ok(values)
    }

    fn checkpoint(&self) -> Result<Checkpoint> {
        if !self.is_checkpoint() {
            return Err(
                self.err("a model file, not a checkpoint (metadata key 'checkpoint' is missing)")
            );
        }
        let version = self.version("checkpoint", CHECKPOINT_VERSION, "checkpoint")?;
        let model = self.model()?;
        let uint = |key: &str| -> Result<u128> {
            let t = self.require(key)?;
            parse_uint::<u128>(t).ok_or_else(|| {
                self.err(format!("{key} {} is not a non-negative integer", quote(t)))
            })
        };
        let narrow = |key: &str, max: u128| -> Result<u128> {
            let v = uint(key)?;
            if v > max {
                return Err(self.err(format!("{key} {v} is too large (at most {max})")));
            }
            Ok(v)
        };
        let usize_max = usize::MAX as u128;
        let as_usize = |v: u128| usize::try_from(v).unwrap_or(usize::MAX);
        let epoch = as_usize(narrow("epoch", usize_max)?);
        let epochs_total = as_usize(narrow("epochs_total", usize_max)?);
        let batch_size = as_usize(narrow("batch_size", usize_max)?);
        let shard_rows = as_usize(narrow("shard_rows", usize_max)?);
        let seed = u64::try_from(narrow("seed", u64::MAX as u128)?).unwrap_or(u64::MAX);
        let stream = u64::try_from(narrow("rng_stream", u64::MAX as u128)?).unwrap_or(u64::MAX);
        let word_pos = uint("rng_word_pos")?;

        let seed_text = self.require("rng_seed")?;
        let rng_seed = parse_hex::<32>(seed_text).ok_or_else(|| {
            self.err(format!(
                "rng_seed {} is not 64 hexadecimal digits",
                quote(seed_text)
            ))
        })?;
        let bits_text = self.require("lr_bits")?;
        let lr = parse_hex::<4>(bits_text)
            .map(|b| f32::from_bits(u32::from_be_bytes(b)))
            .ok_or_else(|| {
                self.err(format!(
                    "lr_bits {} is not 8 hexadecimal digits",
                    quote(bits_text)
                ))
            })?;
        let lr_text = self.require("lr")?;
        if parse_f32(lr_text).map(f32::to_bits) != Some(lr.to_bits()) {
            return Err(self.err(format!(
                "lr {} disagrees with lr_bits {bits_text} ({lr})",
                quote(lr_text)
            )));
        }
        let shuffle = match self.require("shuffle")? {
            "true" => true,
            "false" => false,
            other => {
                return Err(self.err(format!(
                    "shuffle {} is neither true nor false",
                    quote(other)
                )))
            }
        };
        let optimizer = self.require("optimizer")?.to_string();
        let config = CheckpointConfig {
            batch_size,
            lr,
            seed,
            shuffle,
            shard_rows,
            optimizer,
            epochs_total,
        };
        let rng = RngState {
            seed: rng_seed,
            stream,
            word_pos,
        };
        let in_epoch_keys = version >= IN_EPOCH_VERSION;
        let in_epoch = if in_epoch_keys {
            match (self.get(BATCHES_DONE), self.get(LOSS_SUM_BITS)) {
                (None, None) => None,
                (Some(_), Some(bits_text)) => {
                    let batches_done = as_usize(narrow(BATCHES_DONE, usize_max)?);
                    let loss_sum = parse_hex::<8>(bits_text)
                        .map(|b| f64::from_bits(u64::from_be_bytes(b)))
                        .ok_or_else(|| {
                            self.err(format!(
                                "{LOSS_SUM_BITS} {} is not 16 hexadecimal digits",
                                quote(bits_text)
                            ))
                        })?;
                    Some(EpochProgress {
                        batches_done,
                        loss_sum,
                        rng_at_epoch_start: rng,
                    })
                }
                (Some(_), None) => {
                    return Err(self.err(format!("{BATCHES_DONE} is given without {LOSS_SUM_BITS}")))
                }
                (None, Some(_)) => {
                    return Err(self.err(format!("{LOSS_SUM_BITS} is given without {BATCHES_DONE}")))
                }
            }
        } else {
            None
        };
        let ckpt = Checkpoint {
            model,
            epoch,
            rng,
            config,
            in_epoch,
        };
        check_checkpoint_values(&ckpt, self.src)?;
        // Reserved keys this version does not use.
        if let Some(key) = self
            .meta
            .keys()
            .filter(|k| {
                k.starts_with(CHECKPOINT_PREFIX)
                    && !(in_epoch_keys && [BATCHES_DONE, LOSS_SUM_BITS].contains(&k.as_str()))
            })
            .min()
        {
            return Err(self.err(format!(
                "metadata key {} is not used by checkpoint version {version}",
                quote(key)
            )));
        }
        // Plain SGD has no state: nothing may claim to be some.
        if let Some(key) = self
            .meta
            .keys()
            .filter(|k| k.starts_with(OPTIMIZER_PREFIX))
            .min()
        {
            return Err(self.err(format!(
                "metadata key {} is not used by optimizer '{}' (checkpoint version {version})",
                quote(key),
                ckpt.config.optimizer
            )));
        }
        if let Some(name) = self
            .header
            .offset_keys()
            .into_iter()
            .find(|n| n.starts_with(OPTIMIZER_PREFIX))
        {
            return Err(self.err(format!(
                "tensor {} is not state of optimizer '{}', which has none",
                quote(&name),
                ckpt.config.optimizer
            )));
        }
        Ok(ckpt)
    }
}

/// Whether `name` is `layers.{i}.weight` or `layers.{i}.bias` with `i < layers`,
/// `i` written without leading zeros.
fn is_layer_tensor(name: &str, layers: usize) -> bool {
    let Some(rest) = name.strip_prefix("layers.") else {
        return false;
    };
    let Some((index, kind)) = rest.split_once('.') else {
        return false;
    };
    matches!(kind, "weight" | "bias")
        && parse_uint::<usize>(index).is_some_and(|i| i < layers && index == i.to_string())
}

/// A decimal of ASCII digits only (no sign, no spaces).
fn parse_uint<T: FromStr>(s: &str) -> Option<T> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// A number as Rust reads it (correctly rounded), limited to the characters
/// of a JSON number so that `inf`, `NaN` and the like are refused.
fn parse_f32(s: &str) -> Option<f32> {
    if s.is_empty()
        || !s
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'-' | b'+' | b'.' | b'e' | b'E'))
    {
        return None;
    }
    s.parse().ok()
}

/// Exactly `2 * N` hexadecimal digits, most significant byte first.
fn parse_hex<const N: usize>(s: &str) -> Option<[u8; N]> {
    let b = s.as_bytes();
    if b.len() != 2 * N {
        return None;
    }
    let digit = |c: u8| (c as char).to_digit(16).and_then(|d| u8::try_from(d).ok());
    let mut out = [0u8; N];
    for (o, pair) in out.iter_mut().zip(b.chunks_exact(2)) {
        *o = (digit(pair[0])? << 4) | digit(pair[1])?;
    }
    Some(out)
}

/// Framing checks before the `safetensors` crate parses the file: friendly
/// messages for truncated files, and a guard for the crate's unchecked
/// `data end + header length` addition, which overflows (a panic with
/// overflow checks on) when a tensor claims offsets near `usize::MAX`.
fn precheck(bytes: &[u8], src: &str) -> Result<()> {
    let Some(len_bytes) = bytes.first_chunk::<LEN_BYTES>() else {
        return Err(data_err(
            src,
            format!(
                "truncated: {} bytes, too short for a safetensors header",
                bytes.len()
            ),
        ));
    };
    let n = u64::from_le_bytes(*len_bytes);
    // A safetensors header is a JSON object right after the length.
    if bytes.get(LEN_BYTES).is_some_and(|&b| b != b'{') && !(2..=MAX_HEADER).contains(&n) {
        return Err(data_err(
            src,
            "not a safetensors file (no safetensors header at its start): give a model \
             written by backprop train --out",
        ));
    }
    if n > MAX_HEADER {
        return Err(data_err(
            src,
            format!("corrupted: the header length {n} is over the limit of {MAX_HEADER} bytes"),
        ));
    }
    // n <= 100 MB fits any usize this crate runs on.
    let n = usize::try_from(n).unwrap_or(usize::MAX);
    let rest = bytes.len() - LEN_BYTES;
    if n > rest {
        return Err(data_err(
            src,
            format!("truncated: the header is {n} bytes long but only {rest} bytes follow"),
        ));
    }
    let data_len = rest - n;
    let header: serde_json::Map<String, serde_json::Value> =
        serde_json::from_slice(&bytes[LEN_BYTES..LEN_BYTES + n]).map_err(|e| {
            data_err(
                src,
                format!("corrupted: the safetensors header is not a JSON object: {e}"),
            )
        })?;
    let mut end = 0u64;
    for (name, info) in &header {
        let last = info
            .get("data_offsets")
            .and_then(|o| o.as_array())
            .and_then(|o| o.get(1))
            .and_then(|e| e.as_u64());
        if let Some(e) = last {
            if name != "__metadata__" {
                end = end.max(e);
            }
        }
    }
    if end > data_len as u64 {
        return Err(data_err(
            src,
            format!("truncated: the tensors need {end} bytes of data, the file holds {data_len}"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use safetensors::tensor::TensorView;

    #[test]
    fn serialize_matches_the_safetensors_crate() {
        // With one metadata key the crate's HashMap order cannot differ.
        let w: Vec<f32> = (0..6).map(|i| i as f32 * 0.25 - 1.0).collect();
        let b = [0.5f32, -0.0];
        let mut tensors = BTreeMap::new();
        for (name, shape, data) in [
            ("layers.0.weight", vec![2, 3], &w[..]),
            ("layers.0.bias", vec![2], &b[..]),
            ("layers.10.bias", vec![1], &b[..1]),
        ] {
            tensors.insert(name.to_string(), (shape, data));
        }
        let md = BTreeMap::from([("format".to_string(), "back\"prop\n".to_string())]);
        let ours = serialize(&tensors, &md, "t").unwrap();

        let bytes: Vec<(String, Vec<usize>, Vec<u8>)> = tensors
            .iter()
            .map(|(n, (s, d))| {
                let raw = d.iter().flat_map(|v| v.to_le_bytes()).collect();
                (n.clone(), s.clone(), raw)
            })
            .collect();
        let views: Vec<(String, TensorView<'_>)> = bytes
            .iter()
            .map(|(n, s, raw)| {
                (
                    n.clone(),
                    TensorView::new(Dtype::F32, s.clone(), raw).unwrap(),
                )
            })
            .collect();
        let theirs = safetensors::serialize(views, Some(md.clone().into_iter().collect())).unwrap();
        assert_eq!(
            String::from_utf8_lossy(&ours),
            String::from_utf8_lossy(&theirs)
        );
        assert_eq!(ours, theirs);
    }

    #[test]
    fn f32_text_round_trips_bitwise() {
        let mut special = vec![
            0.0f32,
            -0.0,
            1.0,
            0.1,
            1e-5,
            9.999999e-6,
            1e16,
            9.999999e15,
            f32::MIN_POSITIVE,
            f32::MAX,
            f32::MIN,
            f32::EPSILON,
            1.0e-45, // smallest subnormal
            16777217.0,
        ];
        // A deterministic sweep over bit patterns (xorshift).
        let mut x = 0x9e37_79b9u32;
        for _ in 0..200_000 {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            special.push(f32::from_bits(x));
        }
        for v in special.into_iter().filter(|v| v.is_finite()) {
            let text = fmt_f32(v);
            let back = parse_f32(&text);
            assert_eq!(
                back.map(f32::to_bits),
                Some(v.to_bits()),
                "{v:e} -> {text} -> {back:?}"
            );
            let j: f64 = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert!(j.is_finite(), "{text}");
        }
    }

    #[test]
    fn a_write_failing_half_way_keeps_the_old_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("model.safetensors");
        write_atomic(&path, b"the old model").unwrap();
        let err = write_atomic_with(&path, |f| {
            f.write_all(b"half of the new")?;
            Err(io::Error::new(io::ErrorKind::StorageFull, "disk full"))
        })
        .unwrap_err();
        assert_eq!(err.to_string(), format!("{}: disk full", path.display()));
        assert_eq!(fs::read(&path).unwrap(), b"the old model");
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(
            names,
            ["model.safetensors"],
            "the temporary file is removed"
        );
    }

    #[test]
    fn small_parsers() {
        assert_eq!(parse_uint::<u32>("0012"), Some(12));
        for bad in ["", "+1", "-1", " 1", "1 ", "1_0", "٣"] {
            assert_eq!(parse_uint::<u32>(bad), None, "{bad:?}");
        }
        assert_eq!(parse_uint::<u8>("256"), None);
        assert_eq!(parse_f32("-1.5e3"), Some(-1500.0));
        for bad in ["", "inf", "NaN", "infinity", "0x10", "1,0"] {
            assert_eq!(parse_f32(bad), None, "{bad:?}");
        }
        assert_eq!(parse_hex::<2>("0aFf"), Some([0x0a, 0xff]));
        for bad in ["0af", "0afff", "0ag0", "+0a0", "éa"] {
            assert_eq!(parse_hex::<2>(bad), None, "{bad:?}");
        }
        assert!(is_layer_tensor("layers.1.bias", 2));
        for bad in [
            "layers.2.bias",
            "layers.01.bias",
            "layers.1.beta",
            "layers..weight",
            "x",
        ] {
            assert!(!is_layer_tensor(bad, 2), "{bad}");
        }
        assert_eq!(quote("a\nb"), "'a\\nb'");
        assert_eq!(quote(&"é".repeat(100)).chars().count(), QUOTE_CHARS + 3);
    }
}
