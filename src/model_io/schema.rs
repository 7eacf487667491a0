//! The metadata schema: every key a model or checkpoint file may hold,
//! declared once here and used by the writers, the readers and the
//! unknown-key check; how values are written as text; and the rules a
//! [`ModelMeta`] must follow for its network ([`check_meta`]).
//!
//! The module docs of [`crate::model_io`] describe each key; a test checks
//! that their table lists [`MODEL_KEYS`] in order with the same presence, and
//! that they name every one of [`CHECKPOINT_KEYS`].

use std::collections::BTreeSet;
use std::str::FromStr;

use self::Presence::{Optional, Pair, Required};
use super::message::{data_err, quote};
use super::safetensors::Parsed;
use crate::activation::Head;
use crate::data::Standardizer;
use crate::error::Result;
use crate::meta::ModelMeta;

/// Whether a file must hold a key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Presence {
    /// Every file of its kind holds it.
    Required,
    /// A file may hold it or not.
    Optional,
    /// Given together with the other key of its pair, or neither.
    Pair,
}

// ---------------------------------------------------------------------------
// Model files
// ---------------------------------------------------------------------------

/// [`crate::model_io::FORMAT`].
pub(super) const FORMAT: &str = "format";
/// [`crate::model_io::FORMAT_VERSION`].
pub(super) const FORMAT_VERSION: &str = "format_version";
/// The layer sizes, inputs first.
pub(super) const SIZES: &str = "sizes";
/// The hidden activations.
pub(super) const ACTIVATIONS: &str = "activations";
/// The output head.
pub(super) const HEAD: &str = "head";
/// [`ModelMeta::feature_names`].
pub(super) const FEATURE_NAMES: &str = "feature_names";
/// The mean of [`ModelMeta::standardizer`].
pub(super) const STANDARDIZE_MEAN: &str = "standardize_mean";
/// The std of [`ModelMeta::standardizer`].
pub(super) const STANDARDIZE_STD: &str = "standardize_std";
/// [`ModelMeta::pixel_scale`].
pub(super) const PIXEL_SCALE: &str = "pixel_scale";
/// [`ModelMeta::class_names`].
pub(super) const CLASS_NAMES: &str = "class_names";
/// [`ModelMeta::positive_class`].
pub(super) const POSITIVE_CLASS: &str = "positive_class";
/// [`ModelMeta::target_names`].
pub(super) const TARGET_NAMES: &str = "target_names";
/// The mean of [`ModelMeta::target_standardizer`].
pub(super) const TARGET_MEAN: &str = "target_mean";
/// The std of [`ModelMeta::target_standardizer`].
pub(super) const TARGET_STD: &str = "target_std";
/// [`ModelMeta::csv_layout`].
pub(super) const CSV_LAYOUT: &str = "csv_layout";
/// [`ModelMeta::columns`].
pub(super) const COLUMNS: &str = "columns";
/// Prefix of caller-defined metadata keys ([`ModelMeta::extra`]).
pub(super) const EXTRA_PREFIX: &str = "extra.";

/// The metadata keys of a model file, in the order of the module docs' table.
pub(super) const MODEL_KEYS: [(&str, Presence); 16] = [
    (FORMAT, Required),
    (FORMAT_VERSION, Required),
    (SIZES, Required),
    (ACTIVATIONS, Required),
    (HEAD, Required),
    (FEATURE_NAMES, Required),
    (STANDARDIZE_MEAN, Pair),
    (STANDARDIZE_STD, Pair),
    (PIXEL_SCALE, Optional),
    (CLASS_NAMES, Optional),
    (POSITIVE_CLASS, Optional),
    (TARGET_NAMES, Optional),
    (TARGET_MEAN, Pair),
    (TARGET_STD, Pair),
    (CSV_LAYOUT, Optional),
    (COLUMNS, Optional),
];

// ---------------------------------------------------------------------------
// Checkpoints
// ---------------------------------------------------------------------------

/// The checkpoint version ([`crate::model_io::CHECKPOINT_VERSION`]); its
/// presence makes a file a checkpoint.
pub(super) const CHECKPOINT: &str = "checkpoint";
/// Epochs completed.
pub(super) const EPOCH: &str = "epoch";
/// The epoch count the run was started with.
pub(super) const EPOCHS_TOTAL: &str = "epochs_total";
/// The shuffling RNG's seed, as 64 hex digits.
pub(super) const RNG_SEED: &str = "rng_seed";
/// The shuffling RNG's stream.
pub(super) const RNG_STREAM: &str = "rng_stream";
/// The shuffling RNG's word position (a decimal `u128`).
pub(super) const RNG_WORD_POS: &str = "rng_word_pos";
/// Rows per mini-batch.
pub(super) const BATCH_SIZE: &str = "batch_size";
/// The learning rate in decimal, for people.
pub(super) const LR: &str = "lr";
/// The learning rate used: 8 hex digits of `f32::to_bits`.
pub(super) const LR_BITS: &str = "lr_bits";
/// The seed the run started from.
pub(super) const SEED: &str = "seed";
/// `true` or `false`.
pub(super) const SHUFFLE: &str = "shuffle";
/// Rows per shard.
pub(super) const SHARD_ROWS: &str = "shard_rows";
/// The optimizer, one of [`crate::model_io::OPTIMIZERS`].
pub(super) const OPTIMIZER: &str = "optimizer";
/// The in-epoch position of a checkpoint written inside an epoch (version 2).
pub(super) const BATCHES_DONE: &str = "checkpoint.batches_done";
/// The loss sum of those batches as the 16 hex digits of its `f64` bits.
pub(super) const LOSS_SUM_BITS: &str = "checkpoint.loss_sum_bits";
/// The first checkpoint version with [`BATCHES_DONE`] and [`LOSS_SUM_BITS`].
pub(super) const IN_EPOCH_VERSION: u32 = 2;
/// The optimizer's constants (version 3), each `optimizer.{field}`.
pub(super) const OPT_MOMENTUM: &str = "optimizer.momentum";
/// See [`OPT_MOMENTUM`].
pub(super) const OPT_NESTEROV: &str = "optimizer.nesterov";
/// See [`OPT_MOMENTUM`].
pub(super) const OPT_BETA1: &str = "optimizer.beta1";
/// See [`OPT_MOMENTUM`].
pub(super) const OPT_BETA2: &str = "optimizer.beta2";
/// See [`OPT_MOMENTUM`].
pub(super) const OPT_ALPHA: &str = "optimizer.alpha";
/// See [`OPT_MOMENTUM`].
pub(super) const OPT_EPS: &str = "optimizer.eps";
/// See [`OPT_MOMENTUM`].
pub(super) const OPT_WEIGHT_DECAY: &str = "optimizer.weight_decay";
/// Updates the optimizer has applied (version 3).
pub(super) const OPT_STEP: &str = "optimizer.step";
/// The gradient-norm clipping threshold, when there is one (version 3).
pub(super) const CLIP_NORM: &str = "checkpoint.clip_norm";
/// The learning-rate schedule's name (version 3).
pub(super) const LR_SCHEDULE: &str = "checkpoint.lr_schedule";
/// Step schedule: epochs between decays.
pub(super) const LR_STEP_EPOCHS: &str = "checkpoint.lr_step_epochs";
/// Step and plateau schedules: the factor.
pub(super) const LR_GAMMA: &str = "checkpoint.lr_gamma";
/// Cosine schedule: the final rate.
pub(super) const LR_MIN: &str = "checkpoint.lr_min";
/// Cosine schedule: the epochs the annealing spans.
pub(super) const LR_COSINE_EPOCHS: &str = "checkpoint.lr_cosine_epochs";
/// Plateau schedule: the patience in epochs.
pub(super) const LR_PATIENCE: &str = "checkpoint.lr_patience";
/// invscaling: the exponent.
pub(super) const LR_POWER_T: &str = "checkpoint.lr_power_t";
/// invscaling: the rows an epoch sees.
pub(super) const LR_ROWS: &str = "checkpoint.lr_rows";
/// Epochs of linear warm-up (version 3).
pub(super) const WARMUP_EPOCHS: &str = "checkpoint.warmup_epochs";
/// Plateau's best validation loss, 16 hex digits of `f64::to_bits`.
pub(super) const PLATEAU_BEST_BITS: &str = "checkpoint.plateau_best_bits";
/// Plateau's epochs without improvement.
pub(super) const PLATEAU_BAD_EPOCHS: &str = "checkpoint.plateau_bad_epochs";
/// Plateau's factor on the base rate, 16 hex digits of `f64::to_bits`.
pub(super) const PLATEAU_FACTOR_BITS: &str = "checkpoint.plateau_factor_bits";
/// Early stopping's patience (absent without early stopping).
pub(super) const ES_PATIENCE: &str = "checkpoint.es_patience";
/// Early stopping's `min_delta`, 16 hex digits of `f64::to_bits`.
pub(super) const ES_MIN_DELTA_BITS: &str = "checkpoint.es_min_delta_bits";
/// Early stopping's monitored figure (`loss`, `accuracy`, `r2`).
pub(super) const ES_MONITOR: &str = "checkpoint.es_monitor";
/// The best monitored value, 16 hex digits of `f64::to_bits`.
pub(super) const ES_BEST_BITS: &str = "checkpoint.es_best_bits";
/// The epoch of the best value.
pub(super) const ES_BEST_EPOCH: &str = "checkpoint.es_best_epoch";
/// Epochs since the best one.
pub(super) const ES_BAD_EPOCHS: &str = "checkpoint.es_bad_epochs";
/// The best epoch's figures as the training record writes them, a JSON
/// object of strings (absent in older checkpoints).
pub(super) const ES_BEST_FIGURES: &str = "checkpoint.es_best_figures";
/// The dropout probability, when the run uses dropout.
pub(super) const DROPOUT: &str = "checkpoint.dropout";
/// Label smoothing's `ε`, when the run smooths its targets.
pub(super) const LABEL_SMOOTHING: &str = "checkpoint.label_smoothing";
/// `true` when the weight decay follows a weighted batch's weight sum.
pub(super) const DECAY_BY_WEIGHT: &str = "checkpoint.decay_by_weight";
/// The class weights (`balanced` or `name=weight,…`), when the run uses them.
pub(super) const CLASS_WEIGHT: &str = "checkpoint.class_weight";
/// Where the row weights came from, when the training rows had weights:
/// `column:NAME` (a CSV column) or `table` (given with the tables).
pub(super) const ROW_WEIGHTS: &str = "checkpoint.row_weights";
/// With a weighted dataset and an in-epoch position: the sum of the weights
/// of the batches done, 16 hex digits of `f64::to_bits` (absent: their row
/// count).
pub(super) const WEIGHT_SUM_BITS: &str = "checkpoint.weight_sum_bits";
/// With an in-epoch position of a single-label classifier: the rows of the
/// batches done whose class the training passes predicted right (the
/// epoch's running accuracy continues from it).
pub(super) const CORRECT: &str = "checkpoint.correct";
/// Prefix of the best epoch's weights, `checkpoint.best.{i}.weight|bias`.
pub(super) const BEST_PREFIX: &str = "checkpoint.best.";

/// The first checkpoint version with the optimizer's constants and state,
/// clipping and the schedule.
pub(super) const OPTIMIZER_VERSION: u32 = 3;

/// Prefix reserved for optimizer hyper-parameters (metadata) and state (tensors).
pub(super) const OPTIMIZER_PREFIX: &str = "optimizer.";
/// Prefix reserved for checkpoint keys added by later checkpoint versions.
pub(super) const CHECKPOINT_PREFIX: &str = "checkpoint.";

/// The metadata keys a checkpoint holds besides the model's, in the order
/// of the module docs.
pub(super) const CHECKPOINT_KEYS: [(&str, Presence); 50] = [
    (CHECKPOINT, Required),
    (EPOCH, Required),
    (EPOCHS_TOTAL, Required),
    (RNG_SEED, Required),
    (RNG_STREAM, Required),
    (RNG_WORD_POS, Required),
    (BATCH_SIZE, Required),
    (LR, Required),
    (LR_BITS, Required),
    (SEED, Required),
    (SHUFFLE, Required),
    (SHARD_ROWS, Required),
    (OPTIMIZER, Required),
    (BATCHES_DONE, Pair),
    (LOSS_SUM_BITS, Pair),
    (OPT_MOMENTUM, Optional),
    (OPT_NESTEROV, Optional),
    (OPT_BETA1, Optional),
    (OPT_BETA2, Optional),
    (OPT_ALPHA, Optional),
    (OPT_EPS, Optional),
    (OPT_WEIGHT_DECAY, Optional),
    (OPT_STEP, Optional),
    (CLIP_NORM, Optional),
    (LR_SCHEDULE, Optional),
    (LR_STEP_EPOCHS, Optional),
    (LR_GAMMA, Optional),
    (LR_MIN, Optional),
    (LR_COSINE_EPOCHS, Optional),
    (LR_PATIENCE, Optional),
    (LR_POWER_T, Optional),
    (LR_ROWS, Optional),
    (WARMUP_EPOCHS, Optional),
    (PLATEAU_BEST_BITS, Optional),
    (PLATEAU_BAD_EPOCHS, Optional),
    (PLATEAU_FACTOR_BITS, Optional),
    (ES_PATIENCE, Optional),
    (ES_MIN_DELTA_BITS, Optional),
    (ES_MONITOR, Optional),
    (ES_BEST_BITS, Optional),
    (ES_BEST_EPOCH, Optional),
    (ES_BAD_EPOCHS, Optional),
    (ES_BEST_FIGURES, Optional),
    (DROPOUT, Optional),
    (LABEL_SMOOTHING, Optional),
    (DECAY_BY_WEIGHT, Optional),
    (CLASS_WEIGHT, Optional),
    (WEIGHT_SUM_BITS, Optional),
    (ROW_WEIGHTS, Optional),
    (CORRECT, Optional),
];

/// Whether `key` may appear in a model file (`checkpoint`: in a checkpoint
/// file, whose reserved keys the model reader skips).
pub(super) fn is_known(key: &str, checkpoint: bool) -> bool {
    let listed = |keys: &[(&str, Presence)]| keys.iter().any(|&(k, _)| k == key);
    listed(&MODEL_KEYS)
        || key.starts_with(EXTRA_PREFIX)
        || (checkpoint
            && (listed(&CHECKPOINT_KEYS)
                || key.starts_with(OPTIMIZER_PREFIX)
                || key.starts_with(CHECKPOINT_PREFIX)))
}

// ---------------------------------------------------------------------------
// Values as text
// ---------------------------------------------------------------------------

/// `v` as JSON text (strings, numbers and arrays of them).
pub(super) fn json<T: Clone + Into<serde_json::Value>>(v: &[T]) -> String {
    serde_json::Value::from(v.to_vec()).to_string()
}

/// The shortest decimal that reads back as the same `f32` (and is JSON).
pub(super) fn fmt_f32(v: f32) -> String {
    let a = v.abs();
    if a != 0.0 && !(1e-5..1e16).contains(&a) {
        format!("{v:e}")
    } else {
        format!("{v}")
    }
}

/// A JSON array of [`fmt_f32`] numbers.
pub(super) fn f32_array(v: &[f32]) -> String {
    let parts: Vec<String> = v.iter().map(|&x| fmt_f32(x)).collect();
    format!("[{}]", parts.join(","))
}

/// A decimal of ASCII digits only (no sign, no spaces).
pub(super) fn parse_uint<T: FromStr>(s: &str) -> Option<T> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// A number as Rust reads it (correctly rounded), limited to the characters
/// of a JSON number so that `inf`, `NaN` and the like are refused.
pub(super) fn parse_f32(s: &str) -> Option<f32> {
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
pub(super) fn parse_hex<const N: usize>(s: &str) -> Option<[u8; N]> {
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

/// A version key of `file`: a positive integer not above `newest`; `what`
/// (`model`, `checkpoint`) names the file in the message for a newer one.
pub(super) fn read_version(file: &Parsed<'_>, key: &str, newest: u32, what: &str) -> Result<u32> {
    let text = file.require(key)?;
    let v: u32 = match parse_uint(text) {
        Some(v) if v >= 1 => v,
        _ => {
            return Err(file.err(format!(
                "{key} {} is not a version number (this build reads 1 to {newest})",
                quote(text)
            )))
        }
    };
    if v > newest {
        return Err(file.err(format!(
            "{key} {v} is newer than this build of backprop reads ({newest}): \
             the {what} was written by a newer backprop; upgrade to load it"
        )));
    }
    Ok(v)
}

// ---------------------------------------------------------------------------
// Rules
// ---------------------------------------------------------------------------

/// The number of classes a head with `outputs` outputs predicts.
fn n_classes(head: Head, outputs: usize) -> Option<usize> {
    match head {
        Head::Mse | Head::Poisson => None,
        Head::SigmoidBce if outputs == 1 => Some(2),
        _ => Some(outputs),
    }
}

/// The rules `meta` must follow for a network of `sizes` with `head`:
/// checked before writing and after reading, so that every file read can be
/// written again.
pub(super) fn check_meta(sizes: &[usize], head: Head, meta: &ModelMeta, src: &str) -> Result<()> {
    let n_in = sizes.first().copied().unwrap_or(0);
    let n_out = sizes.last().copied().unwrap_or(0);
    if let Some(s) = &meta.standardizer {
        check_standardizer(s, [STANDARDIZE_MEAN, STANDARDIZE_STD], n_in, "inputs", src)?;
    }
    if let Some(p) = meta.pixel_scale {
        if !(p.is_finite() && p > 0.0) {
            return Err(data_err(
                src,
                format!("{PIXEL_SCALE} is {p}: must be finite and positive"),
            ));
        }
    }
    if let Some(names) = &meta.class_names {
        let Some(k) = n_classes(head, n_out) else {
            return Err(data_err(
                src,
                format!(
                    "{CLASS_NAMES} given for an mse (regression) head, which has no classes ({} names)",
                    names.len()
                ),
            ));
        };
        if names.len() != k {
            let outs = if n_out == 1 { "output" } else { "outputs" };
            return Err(data_err(
                src,
                format!(
                    "{CLASS_NAMES} has {} names, but a {head} head with {n_out} {outs} has {k} classes",
                    names.len()
                ),
            ));
        }
        let mut seen = BTreeSet::new();
        if let Some(dup) = names.iter().find(|n| !seen.insert(n.as_str())) {
            return Err(data_err(
                src,
                format!("{CLASS_NAMES} holds {} twice", quote(dup)),
            ));
        }
    }
    check_positive_class(head, n_out, meta, src)?;
    let k = meta.target_names.len();
    if k > 1 {
        if k != n_out {
            return Err(data_err(
                src,
                format!("{TARGET_NAMES} has {k} names for {n_out} outputs"),
            ));
        }
        if head == Head::SoftmaxCe || (head == Head::SigmoidBce && meta.class_names.is_some()) {
            return Err(data_err(
                src,
                format!("{k} {TARGET_NAMES} need an mse head or a multi-label sigmoid head (without {CLASS_NAMES})"),
            ));
        }
    }
    if let Some(s) = &meta.target_standardizer {
        if head != Head::Mse {
            return Err(data_err(
                src,
                format!("{TARGET_MEAN}/{TARGET_STD} are given for a {head} head (mse alone standardises its targets)"),
            ));
        }
        check_standardizer(s, [TARGET_MEAN, TARGET_STD], n_out, "outputs", src)?;
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
                    "{CSV_LAYOUT} is inconsistent: {} columns, label positions {:?}, delimiter {:?}",
                    l.columns,
                    l.label_positions,
                    char::from(l.delimiter)
                ),
            ));
        }
    }
    if let Some(enc) = &meta.columns {
        if enc.width() != n_in || enc.input_names() != meta.feature_names {
            return Err(data_err(
                src,
                format!(
                    "{COLUMNS} gives {} inputs named otherwise than {FEATURE_NAMES} (the network takes {n_in})",
                    enc.width()
                ),
            ));
        }
    }
    if !meta.feature_names.is_empty() && meta.feature_names.len() != n_in {
        return Err(data_err(
            src,
            format!(
                "{FEATURE_NAMES} has {} names for {n_in} inputs",
                meta.feature_names.len()
            ),
        ));
    }
    Ok(())
}

/// A positive class names one of the two classes of a binary classifier
/// (one sigmoid output).
fn check_positive_class(head: Head, n_out: usize, meta: &ModelMeta, src: &str) -> Result<()> {
    let Some(p) = &meta.positive_class else {
        return Ok(());
    };
    match &meta.class_names {
        Some(names) if head == Head::SigmoidBce && n_out == 1 => {
            if names.contains(p) {
                return Ok(());
            }
            Err(data_err(
                src,
                format!(
                    "{POSITIVE_CLASS} {} is not one of the {CLASS_NAMES} {}",
                    quote(p),
                    names
                        .iter()
                        .map(|n| quote(n))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ))
        }
        _ => Err(data_err(
            src,
            format!(
                "{POSITIVE_CLASS} is given, but only a binary classifier (one sigmoid output and \
                 two {CLASS_NAMES}) has one"
            ),
        )),
    }
}

/// The rules of a standardizer stored under `[mean key, std key]` for `n`
/// values (`what`: `inputs` or `outputs`): lengths `n`, finite means,
/// finite and positive stds.
fn check_standardizer(
    s: &Standardizer,
    [mean_key, std_key]: [&str; 2],
    n: usize,
    what: &str,
    src: &str,
) -> Result<()> {
    for (key, v) in [(mean_key, &s.mean), (std_key, &s.std)] {
        if v.len() != n {
            return Err(data_err(
                src,
                format!("{key} has {} values for {n} {what}", v.len()),
            ));
        }
    }
    if let Some(i) = s.mean.iter().position(|m| !m.is_finite()) {
        return Err(data_err(
            src,
            format!("{mean_key}[{i}] is {}: must be finite", s.mean[i]),
        ));
    }
    if let Some(i) = s.std.iter().position(|d| !(d.is_finite() && *d > 0.0)) {
        return Err(data_err(
            src,
            format!(
                "{std_key}[{i}] is {}: must be finite and positive",
                s.std[i]
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The module docs of `model_io`, where every key is described.
    const DOCS: &str = include_str!("mod.rs");

    /// The text of the module docs' section `# {title}`.
    fn section(title: &str) -> String {
        let docs: Vec<&str> = DOCS
            .lines()
            .map_while(|l| l.strip_prefix("//!"))
            .map(str::trim)
            .collect();
        let start = docs
            .iter()
            .position(|l| *l == format!("# {title}"))
            .unwrap_or_else(|| panic!("no section {title:?} in the model_io docs"));
        docs[start + 1..]
            .iter()
            .take_while(|l| !l.starts_with("# "))
            .copied()
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// The `code` spans of `text`.
    fn code_spans(text: &str) -> Vec<&str> {
        text.split('`').skip(1).step_by(2).collect()
    }

    #[test]
    fn the_docs_table_lists_the_model_keys() {
        let text = section("Model files");
        let mut rows: Vec<(&str, Presence)> = Vec::new();
        for row in text.lines().filter(|l| l.starts_with("| `")) {
            let cells: Vec<&str> = row.split(" | ").collect();
            let presence = match cells.last().map(|c| c.trim_end_matches(" |")) {
                Some(c) if c.starts_with("required") => Required,
                Some(c) if c.starts_with("optional") => Optional,
                Some(c) if c.starts_with("both or neither") => Pair,
                _ => panic!("row {row:?}: presence not understood"),
            };
            for key in code_spans(cells[0]) {
                if key != format!("{EXTRA_PREFIX}{{key}}") {
                    rows.push((key, presence));
                }
            }
        }
        assert_eq!(rows, MODEL_KEYS, "the table in src/model_io/mod.rs");
        assert!(text.contains(&format!("| `{EXTRA_PREFIX}{{key}}` |")));
    }

    #[test]
    fn the_docs_name_every_checkpoint_key() {
        let text = section("Checkpoints");
        let named = code_spans(&text);
        for (key, _) in CHECKPOINT_KEYS {
            assert!(named.contains(&key), "{key} is not in the Checkpoints docs");
        }
        for prefix in [OPTIMIZER_PREFIX, CHECKPOINT_PREFIX] {
            assert!(text.contains(prefix), "{prefix}");
        }
    }

    #[test]
    fn known_keys() {
        assert!(is_known(SIZES, false) && is_known("extra.anything", false));
        assert!(!is_known(EPOCH, false) && is_known(EPOCH, true));
        assert!(!is_known("optimizer.beta1", false) && is_known("optimizer.beta1", true));
        assert!(!is_known("checkpoint.later", false) && is_known("checkpoint.later", true));
        assert!(!is_known("size", true) && !is_known("", true));
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
    }
}
