//! The table types shared by every reader: how to read a file
//! ([`LoadOptions`]), what was read ([`RawTable`]), and how a CSV file was laid
//! out ([`CsvLayout`], stored with a model so that `eval` and `predict` read
//! new files the same way).
//!
//! The readers ([`super::csv`], [`super::idx`], [`super::npy`]) produce a
//! [`RawTable`]; [`super::classes`] turns its label text into classes. This
//! file depends on neither, so there is no import circle.

use std::path::PathBuf;

use super::classes::{self, ClassMap};
use super::message::{data_error, show};
use crate::error::{mention, Error, Result};
use crate::tensor::Matrix;

/// Which row of a CSV file names the columns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HeaderMode {
    /// Decide from the data ([`super::csv`] says how).
    Auto,
    /// The first row is a header.
    Present,
    /// Every row is data; columns are named `column N` (1-based).
    Absent,
}

/// A label column of a CSV file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LabelColumn {
    /// The last column.
    Last,
    /// A 0-based column index.
    Index(usize),
    /// A header name.
    Name(String),
}

/// How a model picks its features out of a file: by name when the file has a
/// header, else by position (the count must match).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FeatureSelection {
    /// The model's feature names, in input order.
    pub names: Vec<String>,
    /// The layout of the training file, if it was a CSV: a headerless file
    /// with as many columns as it had is read with the same label positions.
    pub layout: Option<CsvLayout>,
}

/// How a CSV file was read: enough to read another file the same way.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CsvLayout {
    /// The field separator.
    pub delimiter: u8,
    /// Whether the first row was a header.
    pub header: bool,
    /// The number of columns of the file.
    pub columns: usize,
    /// The 0-based positions of the label columns, in label order.
    pub label_positions: Vec<usize>,
    /// Whether numbers are written with a decimal comma (`1,5`, with `;`
    /// or tab between fields).
    pub decimal_comma: bool,
}

/// How to read a data file. The default: label = the last column, header
/// detected, delimiter sniffed.
#[derive(Clone, Debug, PartialEq)]
pub struct LoadOptions {
    /// The CSV label columns, in target order; empty when every column is a
    /// feature (data to predict on). For IDX and NPY only `[]` or
    /// `[LabelColumn::Last]` (the default, ignored) are allowed: their labels
    /// come from `labels_path`.
    pub label_columns: Vec<LabelColumn>,
    /// Label columns named in `label_columns` that the file lacks are not an
    /// error (prediction on data with or without its labels).
    pub labels_optional: bool,
    /// CSV header detection.
    pub header: HeaderMode,
    /// The CSV field separator, an ASCII byte other than `\n`, `\r` and `"`;
    /// `None`: `\t` for a `.tsv` file, else sniffed among `,` `;` tab `|`.
    pub delimiter: Option<u8>,
    /// The decimal separator of numbers, `.` or `,` (with another field
    /// separator); `None`: sniffed ([`super::csv`] says how).
    pub decimal: Option<u8>,
    /// For IDX and NPY features: the file holding the labels (an IDX or NPY
    /// array, 1-D or `samples × outputs`). Not allowed for CSV.
    pub labels_path: Option<PathBuf>,
    /// CSV columns (header names, or `column N` without a header) to drop.
    pub ignore_columns: Vec<String>,
    /// Pick exactly these features ([`FeatureSelection`]); `None`: every
    /// column that is not a label, ignored or the id is a feature.
    pub features: Option<FeatureSelection>,
    /// A CSV column kept as text, one value per row ([`RawTable::ids`]).
    pub id_column: Option<String>,
    /// A CSV column of row weights for training ([`RawTable::weights`]):
    /// finite numbers `>= 0`, neither a feature nor a label.
    pub weight_column: Option<String>,
    /// Read an f4 NPY file's features, or the image bytes of a plain IDX or
    /// `|u1` NPY file, in place from a memory map ([`super::npy::map_f32`],
    /// [`super::idx::map_u8`], [`super::npy::map_u8`]; the default) rather
    /// than into memory. The values, and every result, are the same either
    /// way.
    pub memory_map: bool,
    /// How a CSV file's feature columns are read and, for a training file,
    /// given their kinds ([`super::ColumnOptions`]).
    pub columns: super::ColumnOptions,
    /// Apply this preparation of the columns (a model's), instead of
    /// fitting one: a file read for a model.
    pub encoding: Option<super::TableEncoding>,
}

impl Default for LoadOptions {
    fn default() -> Self {
        LoadOptions {
            label_columns: vec![LabelColumn::Last],
            labels_optional: false,
            header: HeaderMode::Auto,
            delimiter: None,
            decimal: None,
            labels_path: None,
            ignore_columns: Vec::new(),
            features: None,
            id_column: None,
            weight_column: None,
            memory_map: true,
            columns: super::ColumnOptions::default(),
            encoding: None,
        }
    }
}

impl LoadOptions {
    /// Options for reading features only (no label column).
    pub fn unlabeled() -> LoadOptions {
        LoadOptions {
            label_columns: Vec::new(),
            ..LoadOptions::default()
        }
    }
}

/// The format of a data file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SourceKind {
    /// Delimited text ([`super::csv`]), plain or gzip.
    Csv,
    /// MNIST's IDX, plain or gzip ([`super::idx`]).
    Idx,
    /// NumPy `.npy` ([`super::npy`]).
    Npy,
}

/// The targets as read, before the task is chosen. Two tables are equal
/// when their label text is, however it is stored.
#[derive(Clone, Debug)]
pub enum RawTarget {
    /// No label column or labels file.
    None,
    /// The label text, row-major: `rows × target_names.len()` strings (CSV
    /// fields trimmed of surrounding spaces). A CSV file's labels are held
    /// so only when they have more than [`super::MAX_CLASSES`] distinct
    /// values (a regression target's numbers).
    Text(Vec<String>),
    /// The label text, row-major, as codes: element `i` is `values[codes[i]]`
    /// (each distinct value once, in order of first appearance; an array
    /// file's rendered by [`super::NdArray::to_labels`]). A string per
    /// distinct value instead of per row: how an array file's labels, and a
    /// CSV file's class names, are held.
    Codes {
        /// The distinct labels.
        values: Vec<String>,
        /// Per element, its label's index in `values`.
        codes: Vec<u32>,
    },
}

impl PartialEq for RawTarget {
    fn eq(&self, other: &RawTarget) -> bool {
        match (self.text(), other.text()) {
            (None, None) => true,
            (Some(a), Some(b)) => a.len() == b.len() && a.iter().eq(b.iter()),
            _ => false,
        }
    }
}

impl RawTarget {
    /// The label text, if any.
    pub fn text(&self) -> Option<LabelText<'_>> {
        match self {
            RawTarget::None => None,
            RawTarget::Text(t) => Some(LabelText::Text(t)),
            RawTarget::Codes { values, codes } => Some(LabelText::Codes { values, codes }),
        }
    }
}

/// A table's label text, row-major, however it is stored ([`RawTarget`]).
#[derive(Clone, Copy, Debug)]
pub enum LabelText<'a> {
    /// A string per element.
    Text(&'a [String]),
    /// Codes into distinct values.
    Codes {
        /// The distinct labels.
        values: &'a [String],
        /// Per element, its label's index in `values`.
        codes: &'a [u32],
    },
}

impl<'a> LabelText<'a> {
    /// The number of elements.
    pub fn len(&self) -> usize {
        match self {
            LabelText::Text(t) => t.len(),
            LabelText::Codes { codes, .. } => codes.len(),
        }
    }

    /// Whether there are no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Element `i`.
    ///
    /// # Panics
    /// If `i` is out of range.
    pub fn get(&self, i: usize) -> &'a str {
        match *self {
            LabelText::Text(t) => &t[i],
            LabelText::Codes { values, codes } => &values[codes[i] as usize],
        }
    }

    /// The elements in order.
    pub fn iter(self) -> impl Iterator<Item = &'a str> + 'a {
        (0..self.len()).map(move |i| self.get(i))
    }

    /// Every distinct label at least once, in order of first appearance
    /// (with repeats for [`LabelText::Text`]): what the set of classes and
    /// the first label of each kind depend on.
    fn distinct(self) -> &'a [String] {
        match self {
            LabelText::Text(t) => t,
            LabelText::Codes { values, .. } => values,
        }
    }
}

/// How header detection decided, when it was not sure.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HeaderGuess {
    /// What was decided.
    pub header: bool,
    /// Why, in a few words.
    pub reason: String,
}

/// A loaded data file: features, raw targets and where they came from.
#[derive(Clone, Debug, PartialEq)]
pub struct RawTable {
    /// The features file, as named in error messages.
    pub source_name: String,
    /// One name per feature column: CSV header names, `column N` (1-based file
    /// position) for a CSV without header, `pixel N` / `feature N` for arrays.
    pub feature_names: Vec<String>,
    /// The features, `rows × feature_names.len()`, all finite.
    pub x: Matrix,
    /// The targets.
    pub target: RawTarget,
    /// One name per target column: CSV header names (or `column N`), `label`
    /// (`label N` for several) for a labels file; empty without targets.
    pub target_names: Vec<String>,
    /// The format of the features file.
    pub kind: SourceKind,
    /// Whether the features are unsigned bytes from an IDX or NPY file (images,
    /// not yet scaled: see [`RawTable::pixel_scale`]).
    pub pixel_data: bool,
    /// The file the targets came from (the CSV itself, or the labels file).
    pub target_source: String,
    /// The 1-based line where each row starts (CSV); empty for arrays.
    pub row_lines: Vec<usize>,
    /// The id column's text, one per row, if [`LoadOptions::id_column`] was given.
    pub ids: Option<Vec<String>>,
    /// A weight per row for training (finite, `>= 0`), if the table has
    /// them: the loss becomes `Σ wᵢ·lossᵢ / Σ wᵢ` ([`crate::Dataset::with_weights`]).
    /// Splits keep each row's weight.
    pub weights: Option<Vec<f32>>,
    /// Columns of the file that were neither features, labels nor the id
    /// (with [`LoadOptions::features`] or [`LoadOptions::ignore_columns`]).
    pub ignored_columns: Vec<String>,
    /// How the CSV was laid out; `None` for arrays.
    pub layout: Option<CsvLayout>,
    /// Set when header detection was unsure: which way it went, and why.
    pub header_guess: Option<HeaderGuess>,
    /// How a CSV file's columns became the features (fitted on this file,
    /// or the one it was read with); `None` for arrays.
    pub encoding: Option<super::TableEncoding>,
    /// What the reader did that the user should know: columns ignored,
    /// gaps filled, levels unseen in training.
    pub notes: Vec<String>,
}

impl RawTable {
    /// Number of samples.
    pub fn rows(&self) -> usize {
        self.x.rows()
    }

    /// The divisor that scales the features to `0..=1`: `Some(255.0)` for pixel
    /// data, else `None`.
    pub fn pixel_scale(&self) -> Option<f32> {
        self.pixel_data.then_some(255.0)
    }

    /// The number of target columns (0 without targets).
    pub fn outputs(&self) -> usize {
        match self.target {
            RawTarget::None => 0,
            RawTarget::Text(_) | RawTarget::Codes { .. } => self.target_names.len(),
        }
    }

    /// The label text, row-major (`rows × outputs()`).
    ///
    /// Fails with [`Error::Data`] if the table has no targets.
    pub fn label_text(&self) -> Result<LabelText<'_>> {
        match self.target.text() {
            Some(t) => Ok(t),
            None => Err(data_error(
                &self.source_name,
                match self.kind {
                    SourceKind::Csv => "no label column was read".to_string(),
                    _ => format!(
                        "no labels: give the labels file ({})",
                        mention("read.labels_path", None)
                    ),
                },
            )),
        }
    }

    /// The labels of a single-target table, one per row.
    ///
    /// Fails with [`Error::Data`] without targets or with several target
    /// columns (those are multi-output: see [`RawTable::numeric_targets`]).
    pub fn labels(&self) -> Result<LabelText<'_>> {
        let text = self.label_text()?;
        if self.target_names.len() != 1 {
            return Err(data_error(
                &self.source_name,
                format!(
                    "{} label columns ({}) give several outputs: classes need one label column",
                    self.target_names.len(),
                    self.target_names.join(", ")
                ),
            ));
        }
        Ok(text)
    }

    /// The targets as numbers, `rows × outputs()`: each label parsed as
    /// `f64`, then rounded to `f32`; it must be finite. Missing-value markers
    /// (empty, `NA`, `NaN`, `?`, …) are errors.
    ///
    /// A bad CSV field is an [`Error::Parse`] naming the line and the column, a
    /// bad array value an [`Error::Data`] naming the 1-based row.
    ///
    /// ```
    /// use backprop::data::{csv, LoadOptions};
    /// let t = csv::parse("a,price\n1,2.5\n2,-1\n", "h.csv", &LoadOptions::default()).unwrap();
    /// assert_eq!(t.numeric_targets().unwrap().as_slice(), [2.5, -1.0]);
    /// let t = csv::parse("a,price\n1,2.5\n2,cheap\n", "h.csv", &LoadOptions::default()).unwrap();
    /// assert_eq!(
    ///     t.numeric_targets().unwrap_err().to_string(),
    ///     "h.csv:3: column 'price': 'cheap' is not a number"
    /// );
    /// ```
    pub fn numeric_targets(&self) -> Result<Matrix> {
        let text = self.label_text()?;
        let k = self.target_names.len().max(1);
        self.check_missing()?;
        let comma = self.layout.as_ref().is_some_and(|l| l.decimal_comma);
        let values = text
            .iter()
            .enumerate()
            .map(|(i, l)| {
                let l: std::borrow::Cow<'_, str> = if comma && l.contains(',') {
                    l.replace(',', ".").into()
                } else {
                    l.into()
                };
                super::number::parse_number(&l).map_err(|m| self.cell_error(i / k, i % k, m))
            })
            .collect::<Result<Vec<f32>>>()?;
        // the label count, not `rows()`: the features may have been taken
        // ([`crate::pipeline::take_features`])
        Matrix::from_vec(values.len() / k, k, values)
    }

    /// The classes of the labels ([`ClassMap::fit_named`], naming the labels
    /// file); a missing-value label is an error naming its line.
    pub fn class_map(&self) -> Result<ClassMap> {
        let labels = self.labels()?;
        self.check_missing()?;
        if labels.is_empty() {
            return ClassMap::fit_named(&[], &self.target_source);
        }
        // the classes depend on the set of labels and on the first of each
        // kind only: the distinct values of a coded table give the same map
        ClassMap::fit_named(labels.distinct(), &self.target_source)
    }

    /// The class index of each row under `classes` (fitted on a training table,
    /// or read from a model). An unknown label is an error naming it, its line
    /// and column (CSV) or row (arrays), and the known classes.
    ///
    /// ```
    /// use backprop::data::{csv, LoadOptions};
    /// let opts = LoadOptions::default();
    /// let train = csv::parse("w,kind\n1,cat\n2,dog\n", "train.csv", &opts).unwrap();
    /// let classes = train.class_map().unwrap();
    /// assert_eq!(train.class_indices(&classes).unwrap(), [0, 1]);
    /// let test = csv::parse("w,kind\n1,dog\n2,cow\n", "test.csv", &opts).unwrap();
    /// assert_eq!(
    ///     test.class_indices(&classes).unwrap_err().to_string(),
    ///     "test.csv:3: column 'kind': unknown class label 'cow'; the known classes are 'cat', 'dog'"
    /// );
    /// ```
    pub fn class_indices(&self, classes: &ClassMap) -> Result<Vec<usize>> {
        let labels = self.labels()?;
        self.check_missing()?;
        match labels {
            LabelText::Text(t) => t
                .iter()
                .enumerate()
                .map(|(r, l)| {
                    classes
                        .index_of(l)
                        .ok_or_else(|| self.cell_error(r, 0, classes.unknown(l)))
                })
                .collect(),
            LabelText::Codes { values, codes } => {
                let of_value: Vec<Option<usize>> =
                    values.iter().map(|v| classes.index_of(v)).collect();
                codes
                    .iter()
                    .enumerate()
                    .map(|(r, &c)| {
                        of_value[c as usize].ok_or_else(|| {
                            self.cell_error(r, 0, classes.unknown(&values[c as usize]))
                        })
                    })
                    .collect()
            }
        }
    }

    /// `Err` at the first missing-value label.
    fn check_missing(&self) -> Result<()> {
        let k = self.target_names.len().max(1);
        let text = self.label_text()?;
        // a missing marker among the distinct values, then its first row
        if !text.distinct().iter().any(|l| classes::is_missing(l)) {
            return Ok(());
        }
        match text.iter().position(classes::is_missing) {
            None => Ok(()),
            Some(i) => Err(self.cell_error(
                i / k,
                i % k,
                format!(
                    "the label {} marks a missing value; every row needs a label \
                     (drop the row or fill it in)",
                    show(text.get(i))
                ),
            )),
        }
    }

    /// An error about target column `c` of 0-based row `r`.
    pub(crate) fn cell_error(&self, r: usize, c: usize, message: String) -> Error {
        let column = self
            .target_names
            .get(c)
            .map(|n| {
                if n.starts_with("column ") && self.layout.as_ref().is_some_and(|l| !l.header) {
                    n.clone()
                } else {
                    format!("column '{n}'")
                }
            })
            .unwrap_or_default();
        match self.row_lines.get(r) {
            Some(&line) => Error::Parse {
                source_name: self.target_source.clone(),
                line,
                message: format!("{column}: {message}"),
            },
            None => data_error(&self.target_source, format!("row {}: {message}", r + 1)),
        }
    }

    /// The rows `rows` (0-based, any order) as a new table called
    /// `{source_name} ({part})`.
    pub fn take_rows(&self, rows: &[usize], part: &str) -> Result<RawTable> {
        let k = self.target_names.len();
        let target = match &self.target {
            RawTarget::None => RawTarget::None,
            RawTarget::Text(t) => RawTarget::Text(
                rows.iter()
                    .flat_map(|&r| t[r * k..(r + 1) * k].iter().cloned())
                    .collect(),
            ),
            RawTarget::Codes { values, codes } => {
                // the values these rows use, renumbered in order of first
                // appearance, as if the part had been read alone
                let mut renumber: Vec<Option<u32>> = vec![None; values.len()];
                let mut kept = Vec::new();
                let codes = rows
                    .iter()
                    .flat_map(|&r| codes[r * k..(r + 1) * k].iter())
                    .map(|&c| {
                        *renumber[c as usize].get_or_insert_with(|| {
                            kept.push(values[c as usize].clone());
                            (kept.len() - 1) as u32
                        })
                    })
                    .collect();
                RawTarget::Codes {
                    values: kept,
                    codes,
                }
            }
        };
        let pick = |v: &[usize]| rows.iter().filter_map(|&r| v.get(r).copied()).collect();
        Ok(RawTable {
            source_name: format!("{} ({part})", self.source_name),
            feature_names: self.feature_names.clone(),
            x: self.x.select_rows(rows),
            target,
            target_names: self.target_names.clone(),
            kind: self.kind,
            pixel_data: self.pixel_data,
            target_source: self.target_source.clone(),
            row_lines: pick(&self.row_lines),
            ids: self
                .ids
                .as_ref()
                .map(|ids| rows.iter().map(|&r| ids[r].clone()).collect()),
            weights: self
                .weights
                .as_ref()
                .map(|w| rows.iter().map(|&r| w[r]).collect()),
            ignored_columns: self.ignored_columns.clone(),
            layout: self.layout.clone(),
            header_guess: None,
            encoding: self.encoding.clone(),
            notes: Vec::new(),
        })
    }
}
