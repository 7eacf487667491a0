//! Ensemble files: several models that predict together, the mean of their
//! probabilities (or, for `mse`, of their values in the targets' units).
//!
//! The file is safetensors like a model file. Its metadata has `format` =
//! [`ENSEMBLE_FORMAT`], `format_version`, `members` (K) and `combine`
//! (`mean`); member `k`'s own metadata keys and tensors follow, each name
//! prefixed with `members.{k}.` (`members.0.layers.0.weight`,
//! `members.0.standardize_mean`): each member is a whole model file's
//! content. The members read the same columns and predict the same outputs
//! (head, classes, targets); their hidden layers and preprocessing may
//! differ. A model file is read as an ensemble of one.

use std::path::Path;

use super::format::{ENSEMBLE_FORMAT, ENSEMBLE_VERSION, FORMAT};
use super::message::{data_err, quote};
use super::model::{decode, entries, SavedModel};
use super::output::write_atomic;
use super::safetensors::{read, serialize, Metadata, Parsed, Tensors};
use super::schema::{self as key, parse_uint};
use crate::error::{Error, Result};
use crate::tensor::Matrix;

/// The metadata key of the member count.
const MEMBERS: &str = "members";
/// The metadata key of the rule that combines the members.
const COMBINE: &str = "combine";
/// The one rule: the mean of the members' outputs.
const MEAN: &str = "mean";

/// Models that predict together: the mean of their outputs.
#[derive(Clone, Debug, PartialEq)]
pub struct Ensemble {
    /// The members, at least one.
    pub members: Vec<SavedModel>,
}

impl Ensemble {
    /// The first member: what the members share (inputs, columns, head,
    /// classes, targets) is read from it.
    pub fn first(&self) -> &SavedModel {
        &self.members[0]
    }

    /// The mean of the members' [`SavedModel::predict`] for `rows` rows of
    /// raw features `x`: probabilities for the classifier heads, values in
    /// the targets' units for `mse`. One member: its outputs, bit for bit.
    ///
    /// # Errors
    /// As [`SavedModel::predict`].
    pub fn predict(&self, x: &[f32], rows: usize) -> Result<Matrix> {
        let mut sum = self.members[0].predict(x, rows)?;
        if self.members.len() == 1 {
            return Ok(sum);
        }
        for m in &self.members[1..] {
            let out = m.predict(x, rows)?;
            for (s, v) in sum.as_mut_slice().iter_mut().zip(out.as_slice()) {
                *s += v;
            }
        }
        let k = self.members.len() as f32;
        for s in sum.as_mut_slice() {
            *s /= k;
        }
        Ok(sum)
    }
}

/// Checks that `members` can predict together: at least one, the same
/// inputs and columns, the same head, outputs, classes and targets. Their
/// positive classes may differ (each takes its own training rows' minority
/// class by default): every member's output is the probability of the same
/// class, and the ensemble's threshold and binary metrics use the first
/// member's positive class.
///
/// # Errors
/// [`Error::Data`] naming `src`, the member and what differs.
pub fn check_members(members: &[SavedModel], src: &str) -> Result<()> {
    let Some(first) = members.first() else {
        return Err(data_err(src, "an ensemble needs at least one member"));
    };
    let (a, am) = (&first.mlp, &first.meta);
    for (k, m) in members.iter().enumerate().skip(1) {
        let (b, bm) = (&m.mlp, &m.meta);
        let differs = if a.inputs() != b.inputs() {
            Some("its inputs")
        } else if a.outputs() != b.outputs() || a.head() != b.head() {
            Some("its outputs or head")
        } else if am.class_names != bm.class_names {
            Some("its classes")
        } else if am.target_names != bm.target_names {
            Some("its targets")
        } else if am.feature_names != bm.feature_names
            || am.columns != bm.columns
            || am.csv_layout != bm.csv_layout
            || am.pixel_scale != bm.pixel_scale
        {
            Some("the columns it reads")
        } else {
            None
        };
        if let Some(what) = differs {
            return Err(data_err(
                src,
                format!(
                    "member {} differs from member 1 in {what}: the members of an ensemble \
                     read the same columns and predict the same outputs",
                    k + 1
                ),
            ));
        }
    }
    Ok(())
}

/// The bytes of an ensemble file for `e`.
///
/// # Errors
/// As [`check_members`] and [`super::to_bytes`] for each member.
pub fn ensemble_to_bytes(e: &Ensemble) -> Result<Vec<u8>> {
    encode(e, "ensemble")
}

fn encode(e: &Ensemble, src: &str) -> Result<Vec<u8>> {
    check_members(&e.members, src)?;
    let mut tensors = Tensors::new();
    let mut md = Metadata::new();
    md.insert(key::FORMAT.to_string(), ENSEMBLE_FORMAT.to_string());
    md.insert(
        key::FORMAT_VERSION.to_string(),
        ENSEMBLE_VERSION.to_string(),
    );
    md.insert(MEMBERS.to_string(), e.members.len().to_string());
    md.insert(COMBINE.to_string(), MEAN.to_string());
    for (k, m) in e.members.iter().enumerate() {
        let (t, meta) = entries(&m.mlp, &m.meta, src)?;
        let p = format!("{MEMBERS}.{k}.");
        tensors.extend(t.into_iter().map(|(n, v)| (format!("{p}{n}"), v)));
        md.extend(meta.into_iter().map(|(n, v)| (format!("{p}{n}"), v)));
    }
    serialize(&tensors, &md, src)
}

/// Writes `e` to `path` atomically.
///
/// # Errors
/// As [`ensemble_to_bytes`], and [`Error::Io`].
pub fn save_ensemble(path: &Path, e: &Ensemble) -> Result<()> {
    let bytes = encode(e, &path.display().to_string())?;
    write_atomic(path, &bytes)
}

/// The ensemble in the bytes of an ensemble file, or a model file read as
/// an ensemble of one.
///
/// # Errors
/// [`Error::Data`] naming `source_name`: bad framing, an unknown format or
/// version, a member count that is not a positive integer, an unknown
/// `combine`, a key or tensor of no member, a member that does not load (as
/// [`super::from_bytes`] says) or that differs from the first
/// ([`check_members`]).
pub fn ensemble_from_bytes(bytes: &[u8], source_name: &str) -> Result<Ensemble> {
    let file = Parsed::open(bytes, source_name)?;
    match file.get(key::FORMAT) {
        Some(FORMAT) => {
            return Ok(Ensemble {
                members: vec![decode(&file)?],
            })
        }
        Some(ENSEMBLE_FORMAT) => {}
        // the model reader's message
        _ => {
            return Err(decode(&file)
                .err()
                .unwrap_or_else(|| file.err("not a backprop model or ensemble file")))
        }
    }
    key::read_version(&file, key::FORMAT_VERSION, ENSEMBLE_VERSION, "ensemble")?;
    let k: usize = parse_uint(file.require(MEMBERS)?)
        .filter(|&k| k >= 1)
        .ok_or_else(|| file.err(format!("'{MEMBERS}' must be a count of at least 1")))?;
    match file.require(COMBINE)? {
        MEAN => {}
        other => {
            return Err(file.err(format!("unknown combine rule {}", quote(other))));
        }
    }
    // every member has keys of its own: a count above the keys is a lie
    if k > file.entries().count() {
        return Err(file.err(format!(
            "'{MEMBERS}' says {k} members, more than the file's metadata keys"
        )));
    }
    let prefixes: Vec<String> = (0..k).map(|i| format!("{MEMBERS}.{i}.")).collect();
    // the member a key or tensor name belongs to: `members.{i}.…`, i < k,
    // written without leading zeros
    let member_of = |name: &str| -> Option<usize> {
        let (i, _) = name.strip_prefix("members.")?.split_once('.')?;
        parse_uint::<usize>(i).filter(|&n| n < k && n.to_string() == i)
    };
    for (name, _) in file.entries() {
        let top = [key::FORMAT, key::FORMAT_VERSION, MEMBERS, COMBINE].contains(&name);
        if !top && member_of(name).is_none() {
            return Err(file.err(format!("unknown metadata key {}", quote(name))));
        }
    }
    for name in file.tensor_names() {
        if member_of(&name).is_none() {
            return Err(file.err(format!("tensor {} belongs to no member", quote(&name))));
        }
    }
    let mut members = Vec::with_capacity(k);
    for (i, prefix) in prefixes.iter().enumerate() {
        let part = file.part(prefix);
        let m = decode(&part).map_err(|e| match e {
            Error::Data { message, .. } => {
                data_err(source_name, format!("member {}: {message}", i + 1))
            }
            other => other,
        })?;
        members.push(m);
    }
    check_members(&members, source_name)?;
    Ok(Ensemble { members })
}

/// Reads the ensemble (or model) file at `path`.
///
/// # Errors
/// [`Error::Io`] if it cannot be read, else as [`ensemble_from_bytes`].
pub fn load_ensemble(path: &Path) -> Result<Ensemble> {
    let bytes = read(path)?;
    ensemble_from_bytes(&bytes, &path.display().to_string())
}
