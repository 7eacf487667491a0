//! The safetensors container, knowing nothing of models: the deterministic
//! writer ([`serialize`]), the framing checks that come before the
//! `safetensors` crate parses a file ([`precheck`]), a parsed file's
//! metadata and tensors ([`Parsed`]). Files are written by
//! [`super::output::write_atomic`].

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::path::Path;

// `::safetensors` is the crate; this module shares its name.
use ::safetensors::tensor::{SafeTensors, TensorInfo};

use super::message::data_err;
use crate::error::mention_as;
use crate::error::{Error, Result};

/// The largest safetensors header accepted (the `safetensors` crate's limit).
const MAX_HEADER: u64 = 100_000_000;
/// Bytes of the little-endian header length that starts a safetensors file.
const LEN_BYTES: usize = 8;

/// `F32` tensors to write: name → (shape, values).
pub(super) type Tensors<'a> = BTreeMap<String, (Vec<usize>, &'a [f32])>;
/// Metadata to write, in the sorted order it is written in.
pub(super) type Metadata = BTreeMap<String, String>;

/// A safetensors file with `F32` tensors and metadata, laid out exactly as
/// `safetensors::serialize` lays it out (tensors by name, header padded with
/// spaces to a multiple of 8), but with the metadata keys in sorted order.
/// (`safetensors::serialize` takes the metadata as a `HashMap`, whose order
/// changes from one process to the next, so its files are not reproducible.)
pub(super) fn serialize(tensors: &Tensors<'_>, metadata: &Metadata, src: &str) -> Result<Vec<u8>> {
    let mut offset = 0usize;
    let mut entries = Vec::with_capacity(tensors.len());
    for (name, (shape, data)) in tensors {
        let end = offset + 4 * data.len();
        // The field order of the crate's `TensorInfo`.
        let info = format!(
            r#"{{"dtype":"F32","shape":{},"data_offsets":[{offset},{end}]}}"#,
            serde_json::Value::from(shape.clone())
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

/// A safetensors file whose framing is valid and whose header has a
/// `__metadata__` map; nothing about its contents is checked yet.
pub(super) struct Parsed<'a> {
    src: &'a str,
    meta: HashMap<String, String>,
    /// The tensors by name, and their names by data offset.
    tensors: HashMap<String, TensorInfo>,
    by_offset: Vec<String>,
    /// The tensor data after the header.
    data: &'a [u8],
}

impl<'a> Parsed<'a> {
    /// Checks the framing of `bytes` ([`precheck`], then the `safetensors`
    /// crate) and that the header has metadata; `src` names the file in errors.
    pub(super) fn open(bytes: &'a [u8], src: &'a str) -> Result<Parsed<'a>> {
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
        let by_offset = header.offset_keys();
        let tensors = by_offset
            .iter()
            .map(|n| (n.clone(), header.info(n).expect("a listed tensor").clone()))
            .collect();
        Ok(Parsed {
            src,
            meta,
            tensors,
            by_offset,
            data,
        })
    }

    /// The part of the file whose metadata keys and tensor names start with
    /// `prefix`, the prefix taken off (one member of an ensemble file).
    pub(super) fn part(&self, prefix: &str) -> Parsed<'a> {
        let strip = |k: &str| k.strip_prefix(prefix).map(str::to_string);
        Parsed {
            src: self.src,
            meta: self
                .meta
                .iter()
                .filter_map(|(k, v)| Some((strip(k)?, v.clone())))
                .collect(),
            tensors: self
                .tensors
                .iter()
                .filter_map(|(k, v)| Some((strip(k)?, v.clone())))
                .collect(),
            by_offset: self.by_offset.iter().filter_map(|k| strip(k)).collect(),
            data: self.data,
        }
    }

    /// The name of the file in errors.
    pub(super) fn src(&self) -> &'a str {
        self.src
    }

    /// An [`Error::Data`] about this file.
    pub(super) fn err(&self, message: impl Into<String>) -> Error {
        data_err(self.src, message)
    }

    /// The value of a metadata key.
    pub(super) fn get(&self, key: &str) -> Option<&str> {
        self.meta.get(key).map(String::as_str)
    }

    /// The value of a metadata key that must be present.
    pub(super) fn require(&self, key: &str) -> Result<&str> {
        self.get(key)
            .ok_or_else(|| self.err(format!("metadata key '{key}' is missing")))
    }

    /// Whether the metadata has `key`.
    pub(super) fn has(&self, key: &str) -> bool {
        self.meta.contains_key(key)
    }

    /// Every metadata key and its value, in no particular order.
    pub(super) fn entries(&self) -> impl Iterator<Item = (&str, &str)> {
        self.meta.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// Every metadata key, in sorted order.
    pub(super) fn sorted_keys(&self) -> Vec<&str> {
        let mut keys: Vec<&str> = self.meta.keys().map(String::as_str).collect();
        keys.sort_unstable();
        keys
    }

    /// The names of the tensors, by data offset.
    pub(super) fn tensor_names(&self) -> Vec<String> {
        self.by_offset.clone()
    }

    /// The dtype, shape and offsets of tensor `name`.
    pub(super) fn tensor(&self, name: &str) -> Result<&TensorInfo> {
        self.tensors
            .get(name)
            .ok_or_else(|| self.err(format!("tensor '{name}' is missing")))
    }

    /// The bytes of tensor `name`.
    pub(super) fn tensor_bytes(&self, name: &str) -> Result<&'a [u8]> {
        let (s, e) = self.tensor(name)?.data_offsets;
        self.data
            .get(s..e)
            .ok_or_else(|| self.err(format!("truncated: tensor '{name}' lies outside the file")))
    }
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
            format!(
                "not a safetensors file (no safetensors header at its start): give a model \
                 written by {}",
                mention_as("saved_model", "backprop's save_model")
            ),
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

/// Reads the whole file at `path`.
pub(super) fn read(path: &Path) -> Result<Vec<u8>> {
    fs::read(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ::safetensors::tensor::{Dtype, TensorView};

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
        let theirs =
            ::safetensors::serialize(views, Some(md.clone().into_iter().collect())).unwrap();
        assert_eq!(
            String::from_utf8_lossy(&ours),
            String::from_utf8_lossy(&theirs)
        );
        assert_eq!(ours, theirs);
    }
}
