//! The table of the parsed rows: [`finish`] names the features, labels and
//! ignored columns and records the layout; [`LabelStore`] keeps the label
//! text as codes while it reads as classes.

use super::body::Part;
use super::columns::Role;
use super::prologue::Prologue;
use crate::data::classes::MAX_CLASSES;
use crate::data::message::data_error;
use crate::data::table::{CsvLayout, RawTable, RawTarget, SourceKind};
use crate::error::Result;
use crate::tensor::Matrix;

/// The label text of all rows (row-major, one string per label column),
/// as codes into its distinct values in order of first appearance
/// ([`RawTarget::Codes`]: 4 bytes a row for class names) — or, once there
/// are more than [`LabelStore::MAX_DISTINCT`] distinct values (the numbers
/// of a regression target), as one string per row ([`RawTarget::Text`]).
#[derive(Default)]
pub(super) struct LabelStore {
    values: Vec<String>,
    index: std::collections::HashMap<String, u32>,
    codes: Vec<u32>,
    /// Per-row text, once there were too many distinct values.
    text: Option<Vec<String>>,
}

impl LabelStore {
    /// More distinct values than any classifier takes.
    const MAX_DISTINCT: usize = MAX_CLASSES;

    /// Adds the labels of the next rows.
    pub(super) fn extend(&mut self, labels: Vec<String>) {
        let mut labels = labels.into_iter();
        while self.text.is_none() {
            let Some(label) = labels.next() else {
                return;
            };
            if let Some(&c) = self.index.get(&label) {
                self.codes.push(c);
                continue;
            }
            if self.values.len() == Self::MAX_DISTINCT {
                let mut text: Vec<String> = std::mem::take(&mut self.codes)
                    .into_iter()
                    .map(|c| self.values[c as usize].clone())
                    .collect();
                text.push(label);
                self.values = Vec::new();
                self.index = std::collections::HashMap::new();
                self.text = Some(text);
                break;
            }
            let c = self.values.len() as u32;
            self.index.insert(label.clone(), c);
            self.values.push(label);
            self.codes.push(c);
        }
        if let Some(text) = &mut self.text {
            text.extend(labels);
        }
    }

    fn into_target(self) -> RawTarget {
        match self.text {
            Some(text) => RawTarget::Text(text),
            None => RawTarget::Codes {
                values: self.values,
                codes: self.codes,
            },
        }
    }
}

/// The table of the parsed rows.
pub(super) fn finish(
    pro: Prologue,
    all: Part,
    labels: LabelStore,
    source_name: &str,
) -> Result<RawTable> {
    let derr = |message: String| data_error(source_name, message);
    let Prologue {
        delimiter,
        n_cols,
        header,
        header_guess,
        names,
        roles,
        ..
    } = pro;
    if all.lines.is_empty() {
        return Err(derr(if header {
            "no data rows after the header".to_string()
        } else {
            "no data rows".to_string()
        }));
    }
    let rows = all.lines.len();
    let column_name = |c: usize| match &names {
        Some(n) => n[c].clone(),
        None => format!("column {}", c + 1),
    };
    let mut feature_cols: Vec<(usize, usize)> = roles
        .roles
        .iter()
        .enumerate()
        .filter_map(|(c, r)| match r {
            Role::Feature(j) => Some((*j, c)),
            _ => None,
        })
        .collect();
    feature_cols.sort_unstable();
    let n_features = feature_cols.len();
    Ok(RawTable {
        source_name: source_name.to_string(),
        feature_names: feature_cols.iter().map(|&(_, c)| column_name(c)).collect(),
        x: Matrix::from_vec(rows, n_features, all.x)?,
        target: if roles.labels.is_empty() {
            RawTarget::None
        } else {
            labels.into_target()
        },
        target_names: roles.labels.iter().map(|&c| column_name(c)).collect(),
        kind: SourceKind::Csv,
        pixel_data: false,
        target_source: source_name.to_string(),
        row_lines: all.lines,
        ids: roles.id.map(|_| all.ids),
        weights: roles.weight.map(|_| all.weights),
        ignored_columns: roles.ignored.iter().map(|&c| column_name(c)).collect(),
        layout: Some(CsvLayout {
            delimiter,
            header,
            columns: n_cols,
            label_positions: roles.labels.clone(),
        }),
        header_guess,
    })
}
