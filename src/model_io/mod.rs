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
//! `shard_rows`, `optimizer` (`sgd`, `adam`, `adamw` or `rmsprop`).
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
//! Version 3 added the optimizer and the learning-rate schedule. The
//! optimizer's constants are `optimizer.momentum`, `optimizer.nesterov`,
//! `optimizer.beta1`, `optimizer.beta2`, `optimizer.alpha`, `optimizer.eps`
//! and `optimizer.weight_decay` (shortest exact decimals; `true`/`false`),
//! its update count `optimizer.step`, and its buffers `F32` tensors
//! `optimizer.{i}.weight_{buffer}` and `optimizer.{i}.bias_{buffer}` shaped
//! like layer `i`'s tensors, with PyTorch's buffer names (`momentum_buffer`;
//! `exp_avg`, `exp_avg_sq`; `square_avg`). `checkpoint.clip_norm` (absent
//! without clipping), `checkpoint.lr_schedule` (`constant`, `step`, `cosine`,
//! `plateau`) with its `checkpoint.lr_step_epochs`, `checkpoint.lr_gamma`,
//! `checkpoint.lr_min` and `checkpoint.lr_cosine_epochs`, or
//! `checkpoint.lr_patience`, and
//! `checkpoint.warmup_epochs` give the rest of the run's settings; a plateau
//! schedule's state is `checkpoint.plateau_best_bits`,
//! `checkpoint.plateau_bad_epochs` and `checkpoint.plateau_factor_bits`
//! (`f64` bits in hex). With early stopping, `checkpoint.es_patience`,
//! `checkpoint.es_min_delta_bits`, `checkpoint.es_monitor` (the settings),
//! `checkpoint.es_best_bits`, `checkpoint.es_best_epoch`,
//! `checkpoint.es_bad_epochs` (the state) and the best epoch's weights as
//! tensors `checkpoint.best.{i}.weight` and `checkpoint.best.{i}.bias`.
//! `checkpoint.dropout` (the probability, absent without dropout) and
//! `checkpoint.class_weight` (`balanced` or `name=weight,…`, absent without
//! class weights) and `checkpoint.row_weights` (where per-row weights came
//! from: `column:NAME` or `table`; absent without them) complete the settings; a checkpoint written inside an
//! epoch of a weighted dataset adds `checkpoint.weight_sum_bits`, the `f64`
//! bits of the weights of the batches done (absent: their row count), and
//! one written inside an epoch of a single-label classifier adds
//! `checkpoint.correct`, the rows of those batches predicted right (the
//! running train accuracy continues from it; absent in older checkpoints,
//! whose resumed epoch then reports no train accuracy).
//! Version 1 and 2 checkpoints are plain SGD at a
//! constant rate and are still read. [`load_model`]
//! skips every checkpoint key and every `optimizer.*` tensor, so it reads the
//! model inside a checkpoint; [`load_checkpoint`] refuses a plain model file.
//!
//! # Where things live
//!
//! Each metadata key above is declared once, with the rules its value
//! follows, in `src/model_io/schema.rs`; the safetensors container (the
//! deterministic writer, the framing checks, [`write_atomic`]) is
//! `src/model_io/safetensors.rs`; the model's tensors and keys are written
//! and read in `src/model_io/model.rs`, checkpoints in
//! `src/model_io/checkpoint.rs`. [`ModelMeta`] is defined in [`crate::meta`]
//! and re-exported here.
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

mod checkpoint;
mod model;
mod safetensors;
mod schema;

use std::path::Path;

pub use self::checkpoint::{
    checkpoint_from_bytes, checkpoint_to_bytes, load_checkpoint, save_checkpoint, Checkpoint,
    CheckpointConfig, OptimizerState,
};
pub use self::safetensors::{write_atomic, write_atomic_by};
pub use crate::meta::ModelMeta;

use self::safetensors::{read, Parsed};
use crate::error::{Error, Result};
use crate::network::Mlp;

/// The value of the `format` metadata key of every backprop model file.
pub const FORMAT: &str = "backprop";
/// The model format version this build writes, and the newest it reads.
pub const FORMAT_VERSION: u32 = 1;
/// The checkpoint version this build writes, and the newest it reads.
pub const CHECKPOINT_VERSION: u32 = 3;
/// The optimizers whose checkpoints this build reads and writes.
pub const OPTIMIZERS: [&str; 4] = ["sgd", "adam", "adamw", "rmsprop"];

/// Characters of a value from a file quoted in an error message.
const QUOTE_CHARS: usize = 60;

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
    model::encode(mlp, meta, "model")
}

/// Writes `mlp` and `meta` to `path` atomically ([`write_atomic`]).
///
/// # Errors
/// As [`to_bytes`] (naming `path`), and [`Error::Io`] if the file cannot be
/// written; an existing file at `path` is then left as it was.
pub fn save_model(path: &Path, mlp: &Mlp, meta: &ModelMeta) -> Result<()> {
    let bytes = model::encode(mlp, meta, &path.display().to_string())?;
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
    model::decode(&Parsed::open(bytes, source_name)?)
}

/// Reads the model file at `path` (or the model inside a checkpoint).
///
/// # Errors
/// [`Error::Io`] if the file cannot be read, else as [`from_bytes`].
pub fn load_model(path: &Path) -> Result<SavedModel> {
    let bytes = read(path)?;
    from_bytes(&bytes, &path.display().to_string())
}

// ---------------------------------------------------------------------------
// Shared by the submodules
// ---------------------------------------------------------------------------

/// An [`Error::Data`] about the file `src`.
fn data_err(src: &str, message: impl Into<String>) -> Error {
    Error::Data {
        source_name: src.to_string(),
        message: message.into(),
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_are_escaped_and_cut() {
        assert_eq!(quote("a\nb"), "'a\\nb'");
        assert_eq!(quote(&"é".repeat(100)).chars().count(), QUOTE_CHARS + 3);
    }
}
