//! The model part of a file: a network and its [`ModelMeta`] to and from
//! the layer tensors `layers.{i}.weight`/`layers.{i}.bias` and the model
//! metadata keys of the [`schema`](super::schema).

use std::path::Path;
use std::str::FromStr;

use ::safetensors::tensor::Dtype;

use super::format::{FORMAT, FORMAT_VERSION};
use super::message::{data_err, quote};
use super::output::write_atomic;
use super::safetensors::{read, serialize, Metadata, Parsed, Tensors};
use super::schema::{self as key, check_meta, f32_array, fmt_f32, json, parse_f32, parse_uint};
use crate::activation::{Activation, Head};
use crate::data::{CsvLayout, Standardizer};
use crate::error::Result;
use crate::infer::{Inference, DEFAULT_CHUNK_ROWS};
use crate::meta::ModelMeta;
use crate::network::Mlp;
use crate::tensor::Matrix;

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

impl SavedModel {
    /// The model's outputs for `rows` rows of raw features `x` (`rows ×
    /// n_0`): prepared as the model was trained ([`ModelMeta::prepare`]),
    /// the forward pass, and regression values in the targets' units
    /// ([`ModelMeta::to_target_units`]); probabilities for the classifier
    /// heads. Without preparation the network reads `x` in place.
    ///
    /// ```
    /// use backprop::{data::Standardizer, model_io::{ModelMeta, SavedModel}, Head, Mlp};
    /// let meta = ModelMeta {
    ///     target_standardizer: Some(Standardizer { mean: vec![5.0], std: vec![2.0] }),
    ///     ..ModelMeta::default()
    /// };
    /// let saved = SavedModel { mlp: Mlp::new(&[2, 1], &[], Head::Mse, 1)?, meta };
    /// let raw = saved.mlp.predict(&[1.0, 2.0], 1)?.as_slice()[0];
    /// assert_eq!(saved.predict(&[1.0, 2.0], 1)?.as_slice(), [(raw as f64 * 2.0 + 5.0) as f32]);
    /// # Ok::<(), backprop::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::Shape`](crate::Error::Shape) unless `x.len() == rows · n_0`.
    pub fn predict(&self, x: &[f32], rows: usize) -> Result<Matrix> {
        let mut out = if self.meta.prepares_features() {
            let mut copy = Matrix::from_vec(rows, self.mlp.inputs(), x.to_vec())?;
            self.meta.prepare(&mut copy);
            self.mlp.predict(copy.as_slice(), rows)?
        } else {
            self.mlp.predict(x, rows)?
        };
        self.meta.to_target_units(&mut out);
        Ok(out)
    }

    /// [`SavedModel::predict`] on up to `threads` threads (0: one per
    /// core), in chunks of rows ([`Inference`]), when the rows are worth
    /// more than one thread ([`crate::work::tasks_for`]); the same bits.
    ///
    /// # Errors
    /// As [`SavedModel::predict`]; [`crate::Error::Config`] for a thread
    /// pool that cannot be built.
    pub fn predict_on(&self, x: &[f32], rows: usize, threads: usize) -> Result<Matrix> {
        let flops =
            crate::work::forward_flops_per_row(self.mlp.sizes()).saturating_mul(rows as u64);
        let wanted = if threads == 0 { usize::MAX } else { threads };
        if crate::work::tasks_for(flops, wanted, crate::work::MIN_TASK_FLOPS) == 1 {
            return self.predict(x, rows);
        }
        let prepared;
        let x = if self.meta.prepares_features() {
            let mut copy = Matrix::from_vec(rows, self.mlp.inputs(), x.to_vec())?;
            self.meta.prepare(&mut copy);
            prepared = copy;
            prepared.as_slice()
        } else {
            x
        };
        let mut out = Matrix::zeros(rows, self.mlp.outputs());
        let mut infer = Inference::new(&self.mlp, threads, DEFAULT_CHUNK_ROWS)?;
        infer.predict_into(&self.mlp, x, rows, out.as_mut_slice())?;
        self.meta.to_target_units(&mut out);
        Ok(out)
    }
}

/// The bytes of a model file for `mlp` and `meta`.
///
/// # Errors
/// [`Error::Data`](crate::Error::Data) (source `model`) if `meta` does not fit `mlp` (see
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
    encode(mlp, meta, "model")
}

/// Writes `mlp` and `meta` to `path` atomically ([`write_atomic`]).
///
/// # Errors
/// As [`to_bytes`] (naming `path`), and [`Error::Io`](crate::Error::Io) if the file cannot be
/// written; an existing file at `path` is then left as it was.
pub fn save_model(path: &Path, mlp: &Mlp, meta: &ModelMeta) -> Result<()> {
    let bytes = encode(mlp, meta, &path.display().to_string())?;
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
/// the module docs, no duplicates), `positive_class` (one of the two class
/// names of a binary sigmoid model) and `feature_names` (`n_0` or none).
///
/// # Errors
/// [`Error::Data`](crate::Error::Data) with `source_name` and what is wrong, for any bad input.
///
/// ```
/// use backprop::model_io;
/// let err = model_io::from_bytes(b"\x10\0\0", "m.safetensors").unwrap_err();
/// assert_eq!(err.to_string(), "m.safetensors: truncated: 3 bytes, too short for a safetensors header");
/// ```
pub fn from_bytes(bytes: &[u8], source_name: &str) -> Result<SavedModel> {
    decode(&Parsed::open(bytes, source_name)?)
}

/// Reads the model file at `path` (or the model inside a checkpoint).
///
/// # Errors
/// [`Error::Io`](crate::Error::Io) if the file cannot be read, else as [`from_bytes`].
pub fn load_model(path: &Path) -> Result<SavedModel> {
    let bytes = read(path)?;
    from_bytes(&bytes, &path.display().to_string())
}

/// The bytes of a model file for `mlp` and `meta`; `src` names it in errors.
pub(super) fn encode(mlp: &Mlp, meta: &ModelMeta, src: &str) -> Result<Vec<u8>> {
    let (tensors, metadata) = entries(mlp, meta, src)?;
    serialize(&tensors, &metadata, src)
}

/// The tensors and metadata of a model, checked with the loader's rules.
pub(super) fn entries<'m>(
    mlp: &'m Mlp,
    meta: &ModelMeta,
    src: &str,
) -> Result<(Tensors<'m>, Metadata)> {
    check_meta(mlp.sizes(), mlp.head(), meta, src)?;
    let mut tensors = Tensors::new();
    for l in 0..mlp.num_layers() {
        let (n_in, n_out) = (mlp.sizes()[l], mlp.sizes()[l + 1]);
        let w = weight_name(l);
        check_finite(&w, mlp.weights(l), src)?;
        tensors.insert(w, (vec![n_out, n_in], mlp.weights(l)));
        let b = bias_name(l);
        check_finite(&b, mlp.bias(l), src)?;
        tensors.insert(b, (vec![n_out], mlp.bias(l)));
    }

    let mut md = Metadata::new();
    let mut put = |k: &str, v: String| {
        md.insert(k.to_string(), v);
    };
    put(key::FORMAT, FORMAT.to_string());
    put(key::FORMAT_VERSION, FORMAT_VERSION.to_string());
    put(key::SIZES, json(mlp.sizes()));
    let acts: Vec<&str> = mlp.hidden().iter().map(|a| a.name()).collect();
    put(key::ACTIVATIONS, json(&acts));
    put(key::HEAD, mlp.head().name().to_string());
    put(key::FEATURE_NAMES, json(&meta.feature_names));
    if let Some(s) = &meta.standardizer {
        put(key::STANDARDIZE_MEAN, f32_array(&s.mean));
        put(key::STANDARDIZE_STD, f32_array(&s.std));
    }
    if let Some(p) = meta.pixel_scale {
        put(key::PIXEL_SCALE, fmt_f32(p));
    }
    if let Some(c) = &meta.class_names {
        put(key::CLASS_NAMES, json(c));
    }
    if let Some(p) = &meta.positive_class {
        put(key::POSITIVE_CLASS, p.clone());
    }
    if !meta.target_names.is_empty() {
        put(key::TARGET_NAMES, json(&meta.target_names));
    }
    if let Some(s) = &meta.target_standardizer {
        put(key::TARGET_MEAN, f32_array(&s.mean));
        put(key::TARGET_STD, f32_array(&s.std));
    }
    if let Some(l) = &meta.csv_layout {
        let mut obj = serde_json::json!({
            "delimiter": char::from(l.delimiter).to_string(),
            "header": l.header,
            "columns": l.columns,
            "label_positions": l.label_positions,
        });
        if l.decimal_comma {
            obj["decimal"] = ",".into();
        }
        put(key::CSV_LAYOUT, obj.to_string());
    }
    if let Some(enc) = &meta.columns {
        put(key::COLUMNS, super::columns::encode(enc));
    }
    for (k, v) in &meta.extra {
        md.insert(format!("{}{k}", key::EXTRA_PREFIX), v.clone());
    }
    Ok((tensors, md))
}

fn weight_name(l: usize) -> String {
    format!("layers.{l}.weight")
}

fn bias_name(l: usize) -> String {
    format!("layers.{l}.bias")
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

/// Reads the model of a parsed model (or checkpoint) file, checking
/// everything [`super::from_bytes`] lists.
pub(super) fn decode(file: &Parsed<'_>) -> Result<SavedModel> {
    let ckpt = check_header(file)?;
    let sizes = decode_sizes(file)?;
    let hidden = decode_activations(file, sizes.len() - 1)?;
    let head = decode_head(file)?;
    let params = decode_params(file, &sizes, ckpt)?;
    let meta = decode_meta(file)?;
    check_meta(&sizes, head, &meta, file.src())?;
    let mlp = Mlp::from_params(&sizes, &hidden, head, params)
        .map_err(|e| file.err(format!("cannot build the network: {e}")))?;
    Ok(SavedModel { mlp, meta })
}

/// Checks the format marker, its version and that every metadata key is
/// known; returns whether the file is a checkpoint (whose keys and tensors
/// are known too).
fn check_header(file: &Parsed<'_>) -> Result<bool> {
    match file.get(key::FORMAT) {
        None => {
            return Err(file.err(format!(
                "not a backprop model file: metadata key '{}' is missing",
                key::FORMAT
            )))
        }
        Some(FORMAT) => {}
        Some(super::format::ENSEMBLE_FORMAT) => {
            return Err(file.err(format!(
                "an ensemble of {} models, not one model: read it as an ensemble \
                 (model_io::load_ensemble), whose members are models",
                file.get("members").unwrap_or("several")
            )))
        }
        Some(other) => {
            return Err(file.err(format!(
                "not a backprop model file: {} is {}, expected '{FORMAT}'",
                key::FORMAT,
                quote(other)
            )))
        }
    }
    key::read_version(file, key::FORMAT_VERSION, FORMAT_VERSION, "model")?;
    let ckpt = file.has(key::CHECKPOINT);
    for k in file.sorted_keys() {
        if !key::is_known(k, ckpt) {
            return Err(file.err(format!("unknown metadata key {}", quote(k))));
        }
    }
    Ok(ckpt)
}

/// The layer sizes: at least an input and an output, none 0.
fn decode_sizes(file: &Parsed<'_>) -> Result<Vec<usize>> {
    let sizes: Vec<usize> = serde_json::from_str(file.require(key::SIZES)?).map_err(|e| {
        file.err(format!(
            "metadata '{}' is not a JSON array of layer sizes: {e}",
            key::SIZES
        ))
    })?;
    if sizes.len() < 2 {
        return Err(file.err(format!(
            "{} {sizes:?} needs at least an input and an output size",
            key::SIZES
        )));
    }
    if let Some(i) = sizes.iter().position(|&n| n == 0) {
        return Err(file.err(format!("{}: layer {i} has size 0", key::SIZES)));
    }
    Ok(sizes)
}

/// The hidden activations, one for each of the `layers - 1` hidden layers.
fn decode_activations(file: &Parsed<'_>, layers: usize) -> Result<Vec<Activation>> {
    let names: Vec<String> = string_array(
        file,
        key::ACTIVATIONS,
        file.require(key::ACTIVATIONS)?,
        "names",
    )?;
    if names.len() != layers - 1 {
        return Err(file.err(format!(
            "{} has {} names for {} hidden layers",
            key::ACTIVATIONS,
            names.len(),
            layers - 1
        )));
    }
    names
        .iter()
        .map(|n| {
            Activation::from_str(n).map_err(|_| {
                let known: Vec<&str> = Activation::ALL.iter().map(|a| a.name()).collect();
                file.err(format!(
                    "unknown activation {} (known: {})",
                    quote(n),
                    known.join(", ")
                ))
            })
        })
        .collect()
}

/// The output head.
fn decode_head(file: &Parsed<'_>) -> Result<Head> {
    let head_text = file.require(key::HEAD)?;
    Head::from_str(head_text).map_err(|_| {
        file.err(format!(
            "unknown head {} (known: sigmoid, softmax, mse)",
            quote(head_text)
        ))
    })
}

/// The flat parameter vector from the layer tensors: exactly the expected
/// ones (a checkpoint's optimizer and best-model tensors aside), F32, with
/// the shapes `sizes` implies, every value finite.
fn decode_params(file: &Parsed<'_>, sizes: &[usize], ckpt: bool) -> Result<Vec<f32>> {
    let layers = sizes.len() - 1;
    for l in 0..layers {
        let (n_in, n_out) = (sizes[l], sizes[l + 1]);
        check_tensor(file, &weight_name(l), &[n_out, n_in], sizes)?;
        check_tensor(file, &bias_name(l), &[n_out], sizes)?;
    }
    for name in file.tensor_names() {
        let skipped =
            ckpt && (name.starts_with(key::OPTIMIZER_PREFIX) || name.starts_with(key::BEST_PREFIX));
        if !(is_layer_tensor(&name, layers) || skipped) {
            return Err(file.err(format!("unexpected tensor {}", quote(&name))));
        }
    }
    // Every shape matched and its bytes are in the file, so this count is
    // bounded by the input length.
    let mut params = Vec::new();
    for l in 0..layers {
        for name in [weight_name(l), bias_name(l)] {
            let bytes = file.tensor_bytes(&name)?;
            let start = params.len();
            params.extend(
                bytes
                    .chunks_exact(4)
                    .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])),
            );
            check_finite(&name, &params[start..], file.src())?;
        }
    }
    Ok(params)
}

/// The model metadata: preprocessing, names, the CSV layout and the extra
/// keys (each group read on its own; [`check_meta`] checks them against the
/// network).
fn decode_meta(file: &Parsed<'_>) -> Result<ModelMeta> {
    let strings = |k: &str| -> Result<Option<Vec<String>>> {
        file.get(k)
            .map(|t| string_array(file, k, t, "strings"))
            .transpose()
    };
    Ok(ModelMeta {
        standardizer: standardizer(file, key::STANDARDIZE_MEAN, key::STANDARDIZE_STD)?,
        pixel_scale: pixel_scale(file)?,
        class_names: strings(key::CLASS_NAMES)?,
        positive_class: file.get(key::POSITIVE_CLASS).map(str::to_string),
        feature_names: string_array(
            file,
            key::FEATURE_NAMES,
            file.require(key::FEATURE_NAMES)?,
            "strings",
        )?,
        target_names: strings(key::TARGET_NAMES)?.unwrap_or_default(),
        target_standardizer: standardizer(file, key::TARGET_MEAN, key::TARGET_STD)?,
        csv_layout: match file.get(key::CSV_LAYOUT) {
            None => None,
            Some(t) => Some(csv_layout(file, t)?),
        },
        columns: file
            .get(key::COLUMNS)
            .map(|t| {
                super::columns::decode(t)
                    .map_err(|why| file.err(format!("metadata '{}': {why}", key::COLUMNS)))
            })
            .transpose()?,
        extra: file
            .entries()
            .filter_map(|(k, v)| {
                k.strip_prefix(key::EXTRA_PREFIX)
                    .map(|k| (k.to_string(), v.to_string()))
            })
            .collect(),
    })
}

/// The pixel scale, if stored.
fn pixel_scale(file: &Parsed<'_>) -> Result<Option<f32>> {
    file.get(key::PIXEL_SCALE)
        .map(|t| {
            parse_f32(t).ok_or_else(|| {
                file.err(format!("{} {} is not a number", key::PIXEL_SCALE, quote(t)))
            })
        })
        .transpose()
}

/// The value `text` of key `k`, a JSON array of strings (`what`: what the
/// message calls them).
fn string_array(file: &Parsed<'_>, k: &str, text: &str, what: &str) -> Result<Vec<String>> {
    serde_json::from_str(text)
        .map_err(|e| file.err(format!("metadata '{k}' is not a JSON array of {what}: {e}")))
}

/// Checks that tensor `name` is `F32` with `shape` (which `sizes` implies).
fn check_tensor(file: &Parsed<'_>, name: &str, shape: &[usize], sizes: &[usize]) -> Result<()> {
    let info = file.tensor(name)?;
    if info.dtype != Dtype::F32 {
        return Err(file.err(format!(
            "tensor '{name}' has dtype {}, expected F32",
            info.dtype
        )));
    }
    if info.shape != shape {
        return Err(file.err(format!(
            "tensor '{name}' has shape {:?}, expected {shape:?} for sizes {sizes:?}",
            info.shape
        )));
    }
    Ok(())
}

/// A standardizer stored as two keys, both or neither.
fn standardizer(file: &Parsed<'_>, mean_key: &str, std_key: &str) -> Result<Option<Standardizer>> {
    match (file.get(mean_key), file.get(std_key)) {
        (None, None) => Ok(None),
        (Some(m), Some(s)) => Ok(Some(Standardizer {
            mean: number_array(file, mean_key, m)?,
            std: number_array(file, std_key, s)?,
        })),
        (Some(_), None) => Err(file.err(format!("{mean_key} is given without {std_key}"))),
        (None, Some(_)) => Err(file.err(format!("{std_key} is given without {mean_key}"))),
    }
}

/// The `csv_layout` object.
fn csv_layout(file: &Parsed<'_>, text: &str) -> Result<CsvLayout> {
    let bad = |why: &str| {
        file.err(format!(
            "metadata '{}' {}: {why}",
            key::CSV_LAYOUT,
            quote(text)
        ))
    };
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
    let decimal_comma = match v.get("decimal") {
        None => false,
        Some(d) if d.as_str() == Some(",") => true,
        Some(d) if d.as_str() == Some(".") => false,
        Some(_) => return Err(bad("'decimal' must be \".\" or \",\"")),
    };
    if decimal_comma && delimiter == b',' {
        return Err(bad("a decimal comma needs another delimiter"));
    }
    Ok(CsvLayout {
        delimiter,
        header,
        columns,
        label_positions,
        decimal_comma,
    })
}

/// A JSON array of numbers, each read exactly as an `f32`.
fn number_array(file: &Parsed<'_>, k: &str, text: &str) -> Result<Vec<f32>> {
    let bad = |e: String| {
        file.err(format!(
            "metadata '{k}' is not a JSON array of numbers: {e}"
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
        .map(|t| parse_f32(t.trim()).ok_or_else(|| bad(format!("{} is not a number", quote(t)))))
        .collect::<Result<Vec<f32>>>()?;
    if values.len() != checked.len() {
        return Err(bad("unexpected separators".into()));
    }
    Ok(values)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layer_tensor_names() {
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
    }
}
