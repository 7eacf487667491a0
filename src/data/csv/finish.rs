//! The table of the parsed rows: [`finish`] names the features, labels and
//! ignored columns and records the layout; [`LabelStore`] keeps the label
//! text as codes while it reads as classes.

use super::body::Part;
use super::prologue::Prologue;
use crate::data::classes::MAX_CLASSES;
use crate::data::message::{data_error, show};
use crate::data::table::{CsvLayout, LoadOptions, RawTable, RawTarget, SourceKind};
use crate::data::{RawColumns, TableEncoding};
use crate::error::{Error, Result};
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
    mut all: Part,
    labels: LabelStore,
    source_name: &str,
    opts: &LoadOptions,
) -> Result<RawTable> {
    let derr = |message: String| data_error(source_name, message);
    if all.lines.is_empty() {
        return Err(derr(if pro.header {
            "no data rows after the header".to_string()
        } else {
            "no data rows".to_string()
        }));
    }
    let (x, feature_names, encoding, notes) = features(&pro, &mut all, source_name, opts)?;
    let Prologue {
        delimiter,
        n_cols,
        header,
        header_guess,
        names,
        roles,
        ..
    } = pro;
    let column_name = |c: usize| match &names {
        Some(n) => n[c].clone(),
        None => format!("column {}", c + 1),
    };
    Ok(RawTable {
        source_name: source_name.to_string(),
        feature_names,
        x,
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
            decimal_comma: pro.decimal_comma,
        }),
        header_guess,
        encoding: Some(encoding),
        notes,
    })
}

/// The features of the parsed rows as network inputs, their names, the
/// preparation that made them (fitted here, or the one `opts` gives) and
/// the notes on it.
fn features(
    pro: &Prologue,
    all: &mut Part,
    source_name: &str,
    opts: &LoadOptions,
) -> Result<(Matrix, Vec<String>, TableEncoding, Vec<String>)> {
    let rows = all.lines.len();
    let file_cols = pro.roles.feature_columns();
    let names: Vec<String> = file_cols.iter().map(|&c| pro.column_name(c)).collect();
    let columns: Vec<_> = std::mem::take(&mut all.cells)
        .into_iter()
        .map(|b| b.cells)
        .collect();
    if rows > u32::MAX as usize && columns.iter().any(|c| !c.text.cells.is_empty()) {
        return Err(data_error(
            source_name,
            format!("{rows} rows: text columns are read up to {} rows", u32::MAX),
        ));
    }
    let mut raw = RawColumns {
        x: Matrix::from_vec(rows, names.len(), std::mem::take(&mut all.x))?,
        names,
        columns,
    };
    let lines = &all.lines;
    raw.count_numbers();
    let column_names = raw.names.clone();
    let err = |row: usize, j: usize, message: String| -> Error {
        let column = match &pro.names {
            Some(_) => format!("column '{}'", column_names[j]),
            None => column_names[j].clone(),
        };
        Error::Parse {
            source_name: source_name.to_string(),
            line: lines.get(row).copied().unwrap_or(0),
            message: format!("{column}: {message}"),
        }
    };
    let (encoding, mut notes) = match &opts.encoding {
        Some(e) => (e.clone(), Vec::new()),
        None => TableEncoding::fit(&mut raw, &pro.parse_as, &opts.columns, &err)?,
    };
    if let Some(c) = encoding.columns.first() {
        if c.name.is_empty() && c.treatment.kind() != crate::data::ColumnKind::Ignored {
            return Err(err(
                0,
                0,
                "an empty name above values that are not pandas' index (0, 1, 2, …): give the \
                 column a name"
                    .to_string(),
            ));
        }
    }
    if encoding.width() == 0 {
        return Err(data_error(
            source_name,
            format!(
                "no inputs: every feature column is ignored ({})",
                encoding
                    .columns
                    .iter()
                    .map(|c| match &c.treatment {
                        crate::data::Treatment::Ignored(r) =>
                            format!("{}: {}", show(&c.name), r.name()),
                        t => format!("{}: {}", show(&c.name), t.kind().name()),
                    })
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ));
    }
    let names = encoding.input_names();
    let (x, applied) = encoding.apply(raw, &err)?;
    if opts.encoding.is_some() {
        // fitted here, the levels without an input are the rare ones,
        // noted already, and no column without a "missing" input has gaps
        notes.extend(applied);
    }
    Ok((x, names, encoding, notes))
}
