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
//! | `positive_class` | one of the two `class_names` of a binary classifier (one sigmoid output): the class whose probability `threshold` compares and whose precision, recall, F1 and ROC AUC `eval` reports; without it, the second class name | optional; binary sigmoid only |
//! | `target_names` | JSON array: the label column's name, or one name per output (multi-output regression, multi-label sigmoid) | optional |
//! | `target_mean`, `target_std` | JSON arrays of `n_L` numbers: the `mse` targets were standardised with these; predictions are `output · std + mean` | both or neither; `mse` only |
//! | `csv_layout` | JSON object `{"delimiter": ",", "header": true, "columns": 5, "label_positions": [4]}`: how the training CSV was read | optional |
//! | `columns` | JSON array, one object per feature column of the training CSV, in file order: `{"name", "kind": "number", "median", "missing"}`, `{"name", "kind": "boolean", "true", "false", "median", "missing"}`, `{"name", "kind": "category", "levels", "missing", "other"}` or `{"name", "kind": "ignored", "reason"}` (numbers as strings); how each column becomes inputs ([`crate::data::TableEncoding`]) | optional |
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
//! `plateau`, `flat-cos`, `coslog4`, `one-cycle`, `invscaling`) with its
//! `checkpoint.lr_step_epochs`, `checkpoint.lr_gamma`,
//! `checkpoint.lr_min` and `checkpoint.lr_cosine_epochs`,
//! `checkpoint.lr_patience`, or `checkpoint.lr_power_t` and
//! `checkpoint.lr_rows`, and
//! `checkpoint.warmup_epochs` give the rest of the run's settings; a plateau
//! schedule's state is `checkpoint.plateau_best_bits`,
//! `checkpoint.plateau_bad_epochs` and `checkpoint.plateau_factor_bits`
//! (`f64` bits in hex). With early stopping, `checkpoint.es_patience`,
//! `checkpoint.es_min_delta_bits`, `checkpoint.es_monitor` (the settings),
//! `checkpoint.es_best_bits`, `checkpoint.es_best_epoch`,
//! `checkpoint.es_bad_epochs` (the state), `checkpoint.es_best_figures` (a
//! JSON object of strings: the best epoch's `final_*` figures as the model's
//! training record gives them, so that a run resumed after that epoch
//! records them; absent in older checkpoints) and the best epoch's weights as
//! tensors `checkpoint.best.{i}.weight` and `checkpoint.best.{i}.bias`.
//! `checkpoint.dropout` (the probability, absent without dropout),
//! `checkpoint.label_smoothing` (`ε`, absent without label smoothing),
//! `checkpoint.decay_by_weight` (`true` when the weight decay follows a
//! weighted batch's weight sum, absent otherwise) and
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
//! deterministic writer, the framing checks) is
//! `src/model_io/safetensors.rs`; [`write_atomic`], the one writer of every
//! output path (models, checkpoints, plots, predictions: regular files
//! replaced atomically, links followed, devices and FIFOs written in place),
//! is `src/model_io/output.rs`; the model's tensors and keys are written
//! and read in `src/model_io/model.rs`, checkpoints in
//! `src/model_io/checkpoint/`. [`ModelMeta`] is defined in [`crate::meta`]
//! and re-exported here.
//!
//! # Untrusted input
//!
//! [`from_bytes`] and [`checkpoint_from_bytes`] return `Ok` or `Err` for any
//! bytes and never panic. Every problem is an [`Error::Data`](crate::Error::Data) naming the file.
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
mod columns;
mod ensemble;
mod format;
mod message;
mod model;
mod output;
mod safetensors;
mod schema;

pub use self::checkpoint::{
    checkpoint_from_bytes, checkpoint_to_bytes, load_checkpoint, save_checkpoint, Checkpoint,
    CheckpointConfig,
};
pub use self::columns::{columns_from_json, columns_to_json};
pub use self::ensemble::{
    check_members, ensemble_from_bytes, ensemble_to_bytes, load_ensemble, save_ensemble, Ensemble,
};
pub use self::format::{
    CHECKPOINT_VERSION, ENSEMBLE_FORMAT, ENSEMBLE_VERSION, FORMAT, FORMAT_VERSION, OPTIMIZERS,
};
pub use self::model::{from_bytes, load_model, save_model, to_bytes, SavedModel};
pub(crate) use self::output::{check_writable, identity};
pub use self::output::{write_atomic, write_atomic_by};
pub use crate::meta::ModelMeta;
