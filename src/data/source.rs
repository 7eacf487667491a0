//! Loading a user's data file: [`load`] picks the format (CSV, IDX or NPY), reads
//! features and raw label text into a [`RawTable`], and leaves the choice of
//! task to the caller: [`RawTable::numeric_targets`] for regression,
//! [`RawTable::class_map`] and [`RawTable::class_indices`] for classification.
//!
//! Values are returned as stored: IDX and NPY `u8` features (images) are **not**
//! divided by 255 here; [`RawTable::pixel_data`] says that they are bytes, and
//! [`RawTable::pixel_scale`] gives the divisor to pass to [`super::scale`].

use std::path::{Path, PathBuf};

use super::array::data_error;
use super::classes::ClassMap;
use super::{csv, idx, npy};
use crate::error::{Error, Result};
use crate::tensor::Matrix;

/// Which CSV column holds the label (the target).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LabelColumn {
    /// The last column.
    Last,
    /// The column at this 0-based index.
    Index(usize),
    /// The column with this header name (the file must have a header).
    Name(String),
}

/// Whether a CSV file's first line is a header.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum HeaderMode {
    /// A header if any field of the first line, the label column's excepted,
    /// is not a number (when the label is chosen by name, no field is excepted).
    #[default]
    Auto,
    /// The first line names the columns.
    Present,
    /// The first line is data.
    Absent,
}

/// How [`load`] reads a file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoadOptions {
    /// The CSV label column; `None` when every column is a feature (data to
    /// predict on). For IDX and NPY only `None` or [`LabelColumn::Last`] (the
    /// default, ignored) are allowed: their labels come from `labels_path`.
    pub label: Option<LabelColumn>,
    /// CSV header detection.
    pub header: HeaderMode,
    /// The CSV field separator, an ASCII byte other than `\n`, `\r`. A `.tsv`
    /// file read with the default `b','` uses `b'\t'`.
    pub delimiter: u8,
    /// For IDX and NPY features: the file holding one label per sample (a 1-D
    /// IDX or NPY array). Not allowed for CSV.
    pub labels_path: Option<PathBuf>,
}

impl Default for LoadOptions {
    fn default() -> Self {
        LoadOptions {
            label: Some(LabelColumn::Last),
            header: HeaderMode::Auto,
            delimiter: b',',
            labels_path: None,
        }
    }
}

/// The format of a data file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SourceKind {
    /// Delimited text ([`csv`]).
    Csv,
    /// MNIST's IDX, plain or gzip ([`idx`]).
    Idx,
    /// NumPy `.npy` ([`npy`]).
    Npy,
}

impl SourceKind {
    /// The format of the file called `name` holding `bytes`: by extension first
    /// (`.csv` `.tsv` `.txt` → CSV; `.npy` → NPY; `.idx*`, `*-ubyte`, `.gz` →
    /// IDX; case-insensitive), else by the first bytes (`\x93NUMPY` → NPY, gzip
    /// or an IDX magic → IDX), else CSV.
    ///
    /// ```
    /// use backprop::data::SourceKind;
    /// assert_eq!(SourceKind::detect("train-images-idx3-ubyte.gz", b""), SourceKind::Idx);
    /// assert_eq!(SourceKind::detect("X.NPY", b""), SourceKind::Npy);
    /// assert_eq!(SourceKind::detect("data", b"\x93NUMPY\x01\x00"), SourceKind::Npy);
    /// assert_eq!(SourceKind::detect("data", b"a,b\n1,2\n"), SourceKind::Csv);
    /// ```
    pub fn detect(name: &str, bytes: &[u8]) -> SourceKind {
        let lower = name.to_ascii_lowercase();
        let ext = Path::new(&lower)
            .extension()
            .and_then(|e| e.to_str())
            .unwrap_or("");
        match ext {
            "csv" | "tsv" | "txt" => return SourceKind::Csv,
            "npy" => return SourceKind::Npy,
            "gz" => return SourceKind::Idx,
            e if e.starts_with("idx") => return SourceKind::Idx,
            _ if lower.ends_with("-ubyte") => return SourceKind::Idx,
            _ => {}
        }
        if bytes.starts_with(npy::MAGIC) {
            SourceKind::Npy
        } else if idx::is_gzip(bytes) || idx::has_magic(bytes) {
            SourceKind::Idx
        } else {
            SourceKind::Csv
        }
    }
}

/// The targets as read, before the task is chosen.
#[derive(Clone, Debug, PartialEq)]
pub enum RawTarget {
    /// No label column or labels file.
    None,
    /// One label per row, as text: CSV fields unchanged, IDX/NPY values rendered
    /// by [`super::NdArray::to_labels`].
    Text(Vec<String>),
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
    /// The format of the features file.
    pub kind: SourceKind,
    /// Whether the features are unsigned bytes from an IDX or NPY file (images,
    /// not yet scaled: see [`RawTable::pixel_scale`]).
    pub pixel_data: bool,
    /// The file the targets came from (the CSV itself, or the labels file).
    pub target_source: String,
    /// How messages name the CSV label column (`column 'species'`, `column 5`);
    /// `None` for arrays.
    pub target_column: Option<String>,
    /// The 1-based line of the first data row of a CSV (1 or 2); `None` for arrays.
    pub first_data_line: Option<usize>,
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

    /// The label text of each row.
    ///
    /// Fails with [`Error::Data`] if the table has no targets.
    pub fn labels(&self) -> Result<&[String]> {
        match &self.target {
            RawTarget::Text(v) => Ok(v),
            RawTarget::None => Err(data_error(
                &self.source_name,
                match self.kind {
                    SourceKind::Csv => "no label column was read".to_string(),
                    _ => "no labels: give the labels file (--labels)".to_string(),
                },
            )),
        }
    }

    /// The targets as numbers for regression: each label parsed as `f64`, then
    /// rounded to `f32`; it must be finite.
    ///
    /// A bad CSV field is an [`Error::Parse`] naming the line and the column, a
    /// bad array value an [`Error::Data`] naming the 1-based row.
    ///
    /// ```
    /// use backprop::data::{csv, LoadOptions};
    /// let t = csv::parse("a,price\n1,2.5\n2,-1\n", "h.csv", &LoadOptions::default()).unwrap();
    /// assert_eq!(t.numeric_targets().unwrap(), [2.5, -1.0]);
    /// let t = csv::parse("a,price\n1,2.5\n2,cheap\n", "h.csv", &LoadOptions::default()).unwrap();
    /// assert_eq!(
    ///     t.numeric_targets().unwrap_err().to_string(),
    ///     "h.csv:3: column 'price': 'cheap' is not a number"
    /// );
    /// ```
    pub fn numeric_targets(&self) -> Result<Vec<f32>> {
        let labels = self.labels()?;
        labels
            .iter()
            .enumerate()
            .map(|(r, l)| csv::parse_number(l).map_err(|m| self.row_error(r, m)))
            .collect()
    }

    /// The classes of the labels ([`ClassMap::fit_named`], naming the labels file).
    pub fn class_map(&self) -> Result<ClassMap> {
        ClassMap::fit_named(self.labels()?, &self.target_source)
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
        self.labels()?
            .iter()
            .enumerate()
            .map(|(r, l)| {
                classes
                    .index_of(l)
                    .ok_or_else(|| self.row_error(r, classes.unknown(l)))
            })
            .collect()
    }

    /// An error about the target of 0-based row `r`.
    fn row_error(&self, r: usize, message: String) -> Error {
        match (self.first_data_line, &self.target_column) {
            (Some(first), Some(column)) => Error::Parse {
                source_name: self.target_source.clone(),
                line: first + r,
                message: format!("{column}: {message}"),
            },
            _ => data_error(&self.target_source, format!("row {}: {message}", r + 1)),
        }
    }
}

/// Loads the data file at `path` as [`LoadOptions`] say; the format comes from
/// [`SourceKind::detect`]. IDX and NPY labels come from `opts.labels_path`.
///
/// Every error names the file: [`Error::Io`] if it cannot be read, else as in
/// [`load_bytes`].
///
/// ```
/// use backprop::data::{load, LoadOptions, SourceKind};
/// let dir = tempfile::tempdir()?;
/// let path = dir.path().join("pets.csv");
/// std::fs::write(&path, "age,weight,kind\n3,4.5,cat\n5,20,dog\n")?;
/// let t = load(&path, &LoadOptions::default())?;
/// assert_eq!((t.kind, t.rows(), t.x.cols()), (SourceKind::Csv, 2, 2));
/// assert_eq!(t.class_map()?.names(), ["cat", "dog"]);
///
/// std::fs::write(&path, "age,weight,kind\n3,4.5\n")?;
/// let err = load(&path, &LoadOptions::default()).unwrap_err();
/// assert_eq!(err.to_string(), format!("{}:2: expected 3 fields, found 2", path.display()));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn load(path: &Path, opts: &LoadOptions) -> Result<RawTable> {
    let read = |p: &Path| {
        std::fs::read(p).map_err(|source| Error::Io {
            path: p.to_path_buf(),
            source,
        })
    };
    let name = path.display().to_string();
    let bytes = read(path)?;
    let kind = SourceKind::detect(&name, &bytes);
    let labels = match &opts.labels_path {
        Some(p) if kind != SourceKind::Csv => Some((read(p)?, p.display().to_string())),
        _ => None,
    };
    let labels = labels.as_ref().map(|(b, n)| (b.as_slice(), n.as_str()));
    load_bytes(&bytes, &name, kind, labels, opts)
}

/// [`load`] on bytes in memory: `bytes` is a file of format `kind` called
/// `source_name`; `labels` is the labels file's bytes and name, for IDX and NPY
/// (its own format detected with [`SourceKind::detect`]).
///
/// CSV goes to [`csv::parse`] (the text must be UTF-8; a leading BOM is
/// skipped). IDX and NPY features are the array with its first dimension as
/// rows ([`super::NdArray::to_matrix`]); the labels, if any, must be a 1-D IDX
/// or NPY array with one label per row. `opts.labels_path` with a CSV, or a
/// label column other than the last with IDX or NPY, is an [`Error::Config`].
///
/// ```
/// use backprop::data::{load_bytes, LoadOptions, RawTarget, SourceKind};
/// let images = [0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 2, 0, 128, 255, 7];
/// let labels = [0, 0, 8, 1, 0, 0, 0, 2, 3, 9];
/// let opts = LoadOptions::default();
/// let t = load_bytes(&images, "img.idx", SourceKind::Idx, Some((&labels, "lab.idx")), &opts)?;
/// assert_eq!(t.x.row(1), &[255.0, 7.0]); // raw bytes: divide by t.pixel_scale()
/// assert_eq!(t.pixel_scale(), Some(255.0));
/// assert_eq!(t.target, RawTarget::Text(vec!["3".into(), "9".into()]));
/// let short = [0, 0, 8, 1, 0, 0, 0, 1, 3];
/// let err = load_bytes(&images, "img.idx", SourceKind::Idx, Some((&short, "lab.idx")), &opts);
/// assert_eq!(err.unwrap_err().to_string(), "lab.idx: 1 label for the 2 samples of img.idx; need one per sample");
/// # Ok::<(), backprop::Error>(())
/// ```
pub fn load_bytes(
    bytes: &[u8],
    source_name: &str,
    kind: SourceKind,
    labels: Option<(&[u8], &str)>,
    opts: &LoadOptions,
) -> Result<RawTable> {
    match kind {
        SourceKind::Csv => {
            if opts.labels_path.is_some() || labels.is_some() {
                return Err(Error::config(
                    "--labels",
                    format!(
                        "{source_name} is a CSV file, which holds its labels in a column; \
                         a labels file is for IDX and NPY data"
                    ),
                ));
            }
            let text = std::str::from_utf8(bytes).map_err(|e| {
                let at = e.valid_up_to();
                Error::Parse {
                    source_name: source_name.to_string(),
                    line: 1 + bytes[..at].iter().filter(|&&b| b == b'\n').count(),
                    message: format!("invalid UTF-8 at byte {at}; a CSV file must be UTF-8 text"),
                }
            })?;
            let mut opts = opts.clone();
            if opts.delimiter == b','
                && Path::new(source_name)
                    .extension()
                    .is_some_and(|e| e.eq_ignore_ascii_case("tsv"))
            {
                opts.delimiter = b'\t';
            }
            csv::parse(text, source_name, &opts)
        }
        SourceKind::Idx | SourceKind::Npy => {
            if matches!(
                opts.label,
                Some(LabelColumn::Index(_) | LabelColumn::Name(_))
            ) {
                return Err(Error::config(
                    "--label-column",
                    format!(
                        "{source_name} is not a CSV file; IDX and NPY labels come from a \
                         separate file (--labels)"
                    ),
                ));
            }
            let array = parse_array(bytes, source_name, kind)?;
            let x = array.to_matrix(source_name)?;
            let noun = if array.is_u8() { "pixel" } else { "feature" };
            let feature_names = (1..=x.cols()).map(|c| format!("{noun} {c}")).collect();
            let (target, target_source) = match labels {
                None => (RawTarget::None, source_name.to_string()),
                Some((label_bytes, label_name)) => {
                    let label_kind = SourceKind::detect(label_name, label_bytes);
                    let text =
                        parse_array(label_bytes, label_name, label_kind)?.to_labels(label_name)?;
                    if text.len() != x.rows() {
                        return Err(data_error(
                            label_name,
                            format!(
                                "{} label{} for the {} samples of {source_name}; need one \
                                 per sample",
                                text.len(),
                                if text.len() == 1 { "" } else { "s" },
                                x.rows()
                            ),
                        ));
                    }
                    (RawTarget::Text(text), label_name.to_string())
                }
            };
            Ok(RawTable {
                source_name: source_name.to_string(),
                feature_names,
                x,
                target,
                kind,
                pixel_data: array.is_u8(),
                target_source,
                target_column: None,
                first_data_line: None,
            })
        }
    }
}

/// An IDX or NPY file (a CSV labels file is an error).
fn parse_array(bytes: &[u8], name: &str, kind: SourceKind) -> Result<super::NdArray> {
    match kind {
        SourceKind::Idx => idx::parse(bytes, name),
        SourceKind::Npy => npy::parse(bytes, name),
        SourceKind::Csv => Err(data_error(
            name,
            "a labels file must be an IDX or NPY array (.idx, -ubyte, .gz, .npy)".to_string(),
        )),
    }
}
