//! From loaded tables to training data, the same way for every command:
//! preprocessing fitted on the training rows (pixel scaling, or
//! standardisation), class encoding, and the [`ModelMeta`] a model file keeps
//! so that `eval` and `predict` prepare their data exactly as training did.

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::activation::Head;
use crate::data::{
    ClassMap, ColumnOptions, Dataset, FeatureSelection, HeaderMode, LabelColumn, LoadOptions, Prep,
    RawTable, Standardizer,
};
use crate::error::{mention, Error, Result};
use crate::meta::ModelMeta;
use crate::tensor::Matrix;

/// The preprocessing, classes and names of a training table: pixel data
/// (IDX, or u8 NPY) are divided by 255; other features are standardised
/// (population std) unless `standardize` is false; classifier heads get the
/// classes of the training labels (several label columns under a sigmoid
/// head: one 0/1 output per column, no classes); an `mse` head gets its
/// targets standardised unless `standardize_targets` is false.
///
/// # Errors
/// As [`RawTable::class_map`] for classifier heads (no labels, one class, a
/// missing label, …); several label columns under a softmax head; a
/// regression target that is not a number.
pub fn fit_meta(
    train: &RawTable,
    head: Head,
    standardize: bool,
    standardize_targets: bool,
) -> Result<ModelMeta> {
    let mut meta = ModelMeta {
        feature_names: train.feature_names.clone(),
        target_names: train.target_names.clone(),
        csv_layout: train.layout.clone(),
        columns: train.encoding.clone(),
        ..ModelMeta::default()
    };
    if let Some(s) = train.pixel_scale() {
        meta.pixel_scale = Some(s);
    } else if standardize {
        meta.standardizer = Some(Standardizer::fit(&train.x));
    }
    match head {
        Head::Mse => {
            if standardize_targets {
                meta.target_standardizer = Some(Standardizer::fit(&train.numeric_targets()?));
            }
        }
        // counts keep their units: exp(z) is the rate itself
        Head::Poisson => check_counts(train, &train.numeric_targets()?)?,
        _ if train.outputs() > 1 => {
            if head == Head::SoftmaxCe {
                return Err(Error::config(
                    "head",
                    format!(
                        "softmax picks one class per row, but {} label columns were given; use \
                         the sigmoid head for multi-label data (0/1 columns) or mse for \
                         several numeric targets",
                        train.outputs()
                    ),
                ));
            }
            multi_label_targets(train)?;
        }
        _ => meta.class_names = Some(train.class_map()?.names().to_vec()),
    }
    Ok(meta)
}

/// An integer label column with more distinct values than this (and at
/// most [`MANY_CLASSES`]) is taken for counts, not classes, when no head is
/// given, and refused: class labels written as integers are few (digits,
/// ratings, codes), while counts (visits, items, ages) spread over many
/// values, and whether to predict them as a number or as classes is the
/// user's choice. More than [`MANY_CLASSES`] distinct integers (prices,
/// amounts) are a number to predict: the `mse` head.
pub const COUNT_MIN_DISTINCT: usize = crate::data::CONTINUOUS_MIN_DISTINCT;

/// More integer classes than this, with fewer than [`ROWS_PER_CLASS_MIN`] rows
/// per class on average, are taken for a numeric target when no head is given.
pub const MANY_CLASSES: usize = 100;
/// See [`MANY_CLASSES`].
pub const ROWS_PER_CLASS_MIN: usize = 4;

/// The head for a training table when none is given: mse for a label
/// column of more than [`crate::data::CONTINUOUS_MIN_DISTINCT`] distinct
/// numbers some of which have a fraction, or of more than [`MANY_CLASSES`]
/// distinct integers (a quantity); sigmoid for 2
/// classes, softmax for more; sigmoid for several 0/1 label columns
/// (multi-label).
///
/// # Errors
/// As [`RawTable::class_map`] (a continuous target suggests `--head mse`);
/// several label columns that are not all 0/1; more than
/// [`COUNT_MIN_DISTINCT`] distinct integer labels (counts, most likely);
/// more than [`MANY_CLASSES`]
/// integer classes with fewer than [`ROWS_PER_CLASS_MIN`] rows each on
/// average (a numeric target, most likely: say `--head` to choose).
pub fn default_head(train: &RawTable) -> Result<Head> {
    if train.outputs() > 1 {
        return match multi_label_targets(train) {
            Ok(_) => Ok(Head::SigmoidBce),
            Err(e) => Err(Error::config(
                "head",
                format!(
                    "{} label columns ({}): choose mse for several numeric targets, or sigmoid \
                     for multi-label 0/1 columns ({e})",
                    train.outputs(),
                    train.target_names.join(", ")
                ),
            )),
        };
    }
    if is_continuous(train)? {
        return Ok(Head::Mse);
    }
    let classes = train.class_map()?;
    let integers = classes.names().iter().all(|n| n.parse::<i64>().is_ok());
    if integers && classes.len() > MANY_CLASSES {
        return Ok(Head::Mse);
    }
    if integers && classes.len() > COUNT_MIN_DISTINCT {
        return Err(Error::config(
            "head",
            format!(
                "{}: the label column holds {} distinct integers ({} to {}): counts or \
                 amounts, not classes, most likely; for a number to predict use {}; if these \
                 really are classes, say {}",
                train.target_source,
                classes.len(),
                classes.names()[0],
                classes.names()[classes.len() - 1],
                mention("head", Some("mse")),
                mention("head", Some("softmax"))
            ),
        ));
    }
    if classes.len() > MANY_CLASSES && classes.len() * ROWS_PER_CLASS_MIN > train.rows() {
        return Err(Error::config(
            "head",
            format!(
                "{}: the label column has {} distinct values in {} rows; if it is a numeric \
                 target, use {}; if these really are classes, say {}",
                train.target_source,
                classes.len(),
                train.rows(),
                mention("head", Some("mse")),
                mention("head", Some("softmax"))
            ),
        ));
    }
    Ok(if classes.len() == 2 {
        Head::SigmoidBce
    } else {
        Head::SoftmaxCe
    })
}

/// Whether the one label column holds more than
/// [`crate::data::CONTINUOUS_MIN_DISTINCT`] distinct numbers, some written
/// with a fraction or an exponent: a quantity to predict, not classes.
fn is_continuous(train: &RawTable) -> Result<bool> {
    let labels = train.labels()?;
    let mut distinct = std::collections::HashSet::new();
    let mut fraction = false;
    for l in labels.iter() {
        let t = l.trim();
        match t.parse::<f64>() {
            Ok(v) if v.is_finite() => {
                fraction |= t.parse::<i64>().is_err();
                distinct.insert(if v == 0.0 { 0 } else { v.to_bits() });
            }
            // text, or a missing label: classes decide (and say what is wrong)
            _ => return Ok(false),
        }
    }
    Ok(fraction && distinct.len() > crate::data::CONTINUOUS_MIN_DISTINCT)
}

/// The number of outputs of a network for `meta` and `head`: 1 for a binary
/// sigmoid, one per class, or one per target column.
pub fn output_size(meta: &ModelMeta, head: Head) -> usize {
    match (head, &meta.class_names) {
        (Head::SigmoidBce, Some(c)) if c.len() == 2 => 1,
        (_, Some(c)) => c.len(),
        (_, None) => meta.target_names.len().max(1),
    }
}

/// Whether `meta` describes a multi-label model (several 0/1 outputs).
pub fn is_multi_label(meta: &ModelMeta, head: Head) -> bool {
    head == Head::SigmoidBce && meta.target_names.len() > 1
}

/// The 0/1 targets of a multi-label table; any other value is an error
/// naming its line and column.
fn multi_label_targets(raw: &RawTable) -> Result<Matrix> {
    let y = raw.numeric_targets()?;
    let k = y.cols();
    if let Some(i) = y.as_slice().iter().position(|&v| v != 0.0 && v != 1.0) {
        return Err(raw.cell_error(
            i / k,
            i % k,
            format!(
                "{} is not 0 or 1; several label columns under the sigmoid head are \
                 multi-label data, one 0/1 column per label",
                y.as_slice()[i]
            ),
        ));
    }
    Ok(y)
}

/// The features of `raw` preprocessed as `meta` says, checked to have
/// `inputs` columns.
///
/// # Errors
/// [`Error::Data`] naming the file if the column count differs.
pub fn features(raw: &RawTable, meta: &ModelMeta, inputs: usize) -> Result<Matrix> {
    prepared_features(raw.x.clone(), raw, meta, inputs)
}

/// [`features`] without a copy: takes the features out of `raw` (leaving
/// it an empty matrix, its labels, ids and weights in place) and scales or
/// standardises them where they are — or, for features read in place (a
/// memory map, or image bytes: [`Matrix::is_in_place`]), leaves them as they are and
/// returns the [`Prep`] that their readers (a shard's gather, an inference
/// chunk) apply row by row, to the same bits. The returned `Prep` is the
/// identity when the features were prepared here.
///
/// # Errors
/// As [`features`].
pub fn take_features(
    raw: &mut RawTable,
    meta: &ModelMeta,
    inputs: usize,
) -> Result<(Matrix, Prep)> {
    let x = std::mem::take(&mut raw.x);
    if x.is_in_place() {
        check_inputs(&x, raw, inputs)?;
        let prep = Prep {
            scale: meta.pixel_scale,
            standardizer: meta.standardizer.clone(),
        };
        return Ok((x, prep));
    }
    Ok((prepared_features(x, raw, meta, inputs)?, Prep::default()))
}

/// `Err` unless `x` (the features of `raw`) has `inputs` columns.
fn check_inputs(x: &Matrix, raw: &RawTable, inputs: usize) -> Result<()> {
    if x.cols() != inputs {
        return Err(Error::Data {
            source_name: raw.source_name.clone(),
            message: format!(
                "{} feature column{}, but the model takes {inputs} input{}",
                x.cols(),
                if x.cols() == 1 { "" } else { "s" },
                if inputs == 1 { "" } else { "s" },
            ),
        });
    }
    Ok(())
}

/// `x` (the features of `raw`) scaled or standardised as `meta` says.
fn prepared_features(
    mut x: Matrix,
    raw: &RawTable,
    meta: &ModelMeta,
    inputs: usize,
) -> Result<Matrix> {
    check_inputs(&x, raw, inputs)?;
    meta.prepare(&mut x);
    Ok(x)
}

/// A dataset for a network with `inputs` inputs, `outputs` outputs and
/// `head`: preprocessed features and the targets (classes encoded with
/// `meta`'s class names; 0/1 columns for multi-label; for `mse` the numeric
/// label columns, standardised as `meta` says), with the table's row weights
/// if it has them.
///
/// # Errors
/// Wrong column count, missing labels, a label that is not one of the
/// model's classes, a regression target that is not a number; bad row
/// weights ([`Dataset::with_weights`]).
pub fn dataset(
    raw: &RawTable,
    meta: &ModelMeta,
    inputs: usize,
    outputs: usize,
    head: Head,
) -> Result<Dataset> {
    let x = features(raw, meta, inputs)?;
    dataset_of(x, raw, meta, outputs, head)
}

/// [`dataset`] without a copy of the features ([`take_features`]).
///
/// # Errors
/// As [`dataset`].
pub fn take_dataset(
    raw: &mut RawTable,
    meta: &ModelMeta,
    inputs: usize,
    outputs: usize,
    head: Head,
) -> Result<Dataset> {
    let (x, prep) = take_features(raw, meta, inputs)?;
    dataset_of(x, raw, meta, outputs, head)?.with_prep(prep)
}

/// The dataset of the prepared features `x` and the targets of `raw`.
fn dataset_of(
    x: Matrix,
    raw: &RawTable,
    meta: &ModelMeta,
    outputs: usize,
    head: Head,
) -> Result<Dataset> {
    let d = unweighted_dataset(x, raw, meta, outputs, head)?;
    match &raw.weights {
        Some(w) => d.with_weights(w.clone()).map_err(|e| match e {
            Error::Data { message, .. } => Error::Data {
                source_name: raw.source_name.clone(),
                message: format!("row weights: {message}"),
            },
            e => e,
        }),
        None => Ok(d),
    }
}

fn unweighted_dataset(
    x: Matrix,
    raw: &RawTable,
    meta: &ModelMeta,
    outputs: usize,
    head: Head,
) -> Result<Dataset> {
    let check_outputs = |k: usize| {
        if k != outputs {
            return Err(Error::Data {
                source_name: raw.source_name.clone(),
                message: format!(
                    "{k} target column{}, but the model has {outputs} output{}",
                    if k == 1 { "" } else { "s" },
                    if outputs == 1 { "" } else { "s" }
                ),
            });
        }
        Ok(())
    };
    if is_multi_label(meta, head) {
        let y = multi_label_targets(raw)?;
        check_outputs(y.cols())?;
        return Dataset::new(x, y);
    }
    if head.is_classifier() {
        let names = meta.class_names.clone().ok_or_else(|| Error::Data {
            source_name: raw.source_name.clone(),
            message: "the model has no class names for a classifier head".into(),
        })?;
        let classes = ClassMap::from_names(names)?;
        let labels = raw.class_indices(&classes)?;
        Dataset::classification(x, labels, classes.len(), head)
    } else {
        let mut y = raw.numeric_targets()?;
        check_outputs(y.cols())?;
        if head == Head::Poisson {
            check_counts(raw, &y)?;
        }
        if let Some(s) = &meta.target_standardizer {
            s.apply(&mut y);
        }
        Dataset::new(x, y)
    }
}

/// The targets of a Poisson head are rates or counts: a negative one is an
/// error naming its line and column.
fn check_counts(raw: &RawTable, y: &Matrix) -> Result<()> {
    let k = y.cols().max(1);
    match y.as_slice().iter().position(|&v| v < 0.0) {
        Some(i) => Err(raw.cell_error(
            i / k,
            i % k,
            format!(
                "{} is negative: the poisson head predicts a rate or count (>= 0); use the mse \
                 head for a signed number",
                y.as_slice()[i]
            ),
        )),
        None => Ok(()),
    }
}

/// A note when a file's columns are matched to the model's features by
/// position because one side has no names (scikit-learn warns the same way):
/// a model trained on arrays (made-up names) given a CSV with a header, or
/// a model trained on a named CSV given an array or a headerless CSV.
/// `None` when both sides have names (they are matched by name) or neither.
///
/// ```
/// use backprop::{data::{csv, LoadOptions}, meta::ModelMeta, pipeline};
/// let raw = csv::parse("b,a,y\n1,2,x\n3,4,y\n", "new.csv", &LoadOptions::default())?;
/// let unnamed = ModelMeta { feature_names: vec!["feature 1".into(), "feature 2".into()], ..ModelMeta::default() };
/// let note = pipeline::position_note(&unnamed, &raw).unwrap();
/// assert!(note.starts_with("the model was trained without column names"), "{note}");
/// # Ok::<(), backprop::Error>(())
/// ```
pub fn position_note(meta: &ModelMeta, raw: &RawTable) -> Option<String> {
    let model_named = meta.csv_layout.as_ref().is_some_and(|l| l.header);
    let file_named = raw.layout.as_ref().is_some_and(|l| l.header);
    let list = |names: &[String]| {
        let shown: Vec<String> = names.iter().take(5).map(|n| format!("'{n}'")).collect();
        format!(
            "{}{}",
            shown.join(", "),
            if names.len() > 5 { ", …" } else { "" }
        )
    };
    match (model_named, file_named) {
        (false, true) => Some(format!(
            "the model was trained without column names (on an array): the file's columns {} are \
             taken by position, not by name",
            list(&raw.feature_names)
        )),
        (true, false) => Some(format!(
            "the file has no column names: its columns are taken by position as the model's {}",
            list(&meta.feature_names)
        )),
        _ => None,
    }
}

/// What a user said about reading a file; `None` leaves the choice to the
/// model (for `eval` and `predict`) or to detection.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReadOverrides {
    /// The delimiter.
    pub delimiter: Option<u8>,
    /// The decimal separator, `.` or `,`.
    pub decimal: Option<u8>,
    /// Header present (`Some(true)`) or absent.
    pub header: Option<bool>,
    /// The label columns.
    pub label_columns: Option<Vec<LabelColumn>>,
    /// The labels file of IDX/NPY data.
    pub labels_path: Option<std::path::PathBuf>,
    /// Columns to drop.
    pub ignore_columns: Vec<String>,
    /// A column to copy through as the row id.
    pub id_column: Option<String>,
    /// A training file's column of row weights ([`RawTable::weights`]);
    /// not used to read new data for a model.
    pub weight_column: Option<String>,
    /// Read f4 NPY features into memory instead of mapping them
    /// ([`LoadOptions::memory_map`]).
    pub no_memory_map: bool,
    /// How feature columns are read: their kinds (a training file only;
    /// a model keeps its own), the spellings of a missing value and what
    /// it becomes.
    pub columns: ColumnOptions,
}

impl ReadOverrides {
    /// Options for a training file: defaults where nothing was said.
    pub fn training_options(&self) -> LoadOptions {
        LoadOptions {
            label_columns: self
                .label_columns
                .clone()
                .unwrap_or_else(|| vec![LabelColumn::Last]),
            header: header_mode(self.header),
            delimiter: self.delimiter,
            decimal: self.decimal,
            labels_path: self.labels_path.clone(),
            ignore_columns: self.ignore_columns.clone(),
            id_column: self.id_column.clone(),
            weight_column: self.weight_column.clone(),
            memory_map: !self.no_memory_map,
            columns: self.columns.clone(),
            ..LoadOptions::default()
        }
    }

    /// Options for reading new data for the model described by `meta`: its
    /// features picked by name (or by position without a header), its label
    /// columns, delimiter and header mode, unless overridden here. With
    /// `labels_required` false, label columns the file lacks are fine.
    pub fn model_options(&self, meta: &ModelMeta, labels_required: bool) -> LoadOptions {
        let layout = meta.csv_layout.as_ref();
        let label_columns = match &self.label_columns {
            Some(l) => l.clone(),
            None if !meta.target_names.is_empty() && layout.is_some() => meta
                .target_names
                .iter()
                .map(|n| LabelColumn::Name(n.clone()))
                .collect(),
            None if labels_required => vec![LabelColumn::Last],
            None => Vec::new(),
        };
        LoadOptions {
            label_columns,
            labels_optional: !labels_required,
            header: header_mode(self.header.or(layout.map(|l| l.header))),
            delimiter: self.delimiter.or(layout.map(|l| l.delimiter)),
            decimal: self
                .decimal
                .or(layout.map(|l| if l.decimal_comma { b',' } else { b'.' })),
            labels_path: self.labels_path.clone(),
            ignore_columns: self.ignore_columns.clone(),
            // by name only for models trained on a CSV: array features have
            // made-up names ("pixel 1"), matched by position; a model that
            // prepares its columns reads the columns it was trained on
            features: (layout.is_some() && !meta.feature_names.is_empty()).then(|| {
                FeatureSelection {
                    names: match &meta.columns {
                        Some(enc) => enc.used().map(|c| c.name.clone()).collect(),
                        None => meta.feature_names.clone(),
                    },
                    layout: meta.csv_layout.clone(),
                }
            }),
            id_column: self.id_column.clone(),
            weight_column: None,
            memory_map: !self.no_memory_map,
            columns: ColumnOptions {
                category: Vec::new(),
                number: Vec::new(),
                ..self.columns.clone()
            },
            encoding: meta.columns.clone(),
        }
    }
}

fn header_mode(header: Option<bool>) -> HeaderMode {
    match header {
        Some(true) => HeaderMode::Present,
        Some(false) => HeaderMode::Absent,
        None => HeaderMode::Auto,
    }
}

/// Splits off a validation part of `round(fraction · rows)` rows (at least
/// one), drawn with a seeded shuffle; both parts keep the original row order.
///
/// With `stratify` (single-label classification), each class gives its
/// share: `floor(fraction · count)` rows, plus one more for the classes with
/// the largest remainders until the total is reached (scikit-learn's
/// `StratifiedShuffleSplit` allocates the same way), and never a class's
/// last row, so that every class is in the training part. The rows of a
/// class are picked by a seeded shuffle of that class.
///
/// ```
/// use backprop::{data::{csv, LabelColumn, LoadOptions}, pipeline};
/// let text = "x,y\n".to_string()
///     + &(0..100).map(|i| format!("{i},{}\n", if i < 90 { "a" } else { "b" })).collect::<String>();
/// let opts = LoadOptions { label_columns: vec![LabelColumn::Last], ..LoadOptions::default() };
/// let raw = csv::parse(&text, "t.csv", &opts)?;
/// let (train, val) = pipeline::split(&raw, 0.2, 7, true)?;
/// let count = |t: &backprop::data::RawTable, c: &str| {
///     t.label_text().unwrap().iter().filter(|l| *l == c).count()
/// };
/// assert_eq!((count(&val, "a"), count(&val, "b")), (18, 2));
/// assert_eq!((count(&train, "a"), count(&train, "b")), (72, 8));
/// # Ok::<(), backprop::Error>(())
/// ```
///
/// # Errors
/// [`Error::Config`] (`--validation-split`) unless `0 < fraction < 1` and both
/// parts get at least one row; with `stratify`, errors of
/// [`RawTable::class_map`].
pub fn split(
    raw: &RawTable,
    fraction: f64,
    seed: u64,
    stratify: bool,
) -> Result<(RawTable, RawTable)> {
    let n = raw.rows();
    if !(fraction > 0.0 && fraction < 1.0) {
        return Err(Error::config(
            "validation_split",
            format!("{fraction} is not a fraction strictly between 0 and 1"),
        ));
    }
    let n_val = ((fraction * n as f64).round() as usize).max(1);
    if n_val >= n {
        return Err(Error::config(
            "validation_split",
            format!("{fraction} of {n} rows leaves no training rows"),
        ));
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ SPLIT_SALT);
    let mut shuffle = |order: &mut [usize]| {
        for i in (1..order.len()).rev() {
            let j = rng.random_range(0..=i);
            order.swap(i, j);
        }
    };
    let (mut train, mut val) = if stratify {
        let labels = raw.class_indices(&raw.class_map()?)?;
        let mut by_class: Vec<Vec<usize>> = Vec::new();
        for (r, &c) in labels.iter().enumerate() {
            if by_class.len() <= c {
                by_class.resize_with(c + 1, Vec::new);
            }
            by_class[c].push(r);
        }
        let counts: Vec<usize> = by_class.iter().map(Vec::len).collect();
        let take = stratified_counts(&counts, fraction, n_val);
        let (mut train, mut val) = (Vec::new(), Vec::new());
        for (rows, k) in by_class.iter_mut().zip(take) {
            shuffle(rows);
            let cut = rows.len() - k;
            train.extend_from_slice(&rows[..cut]);
            val.extend_from_slice(&rows[cut..]);
        }
        (train, val)
    } else {
        let mut order: Vec<usize> = (0..n).collect();
        shuffle(&mut order);
        (order[..n - n_val].to_vec(), order[n - n_val..].to_vec())
    };
    if val.is_empty() {
        return Err(Error::config(
            "validation_split",
            format!(
                "{fraction} of {n} rows: every class has a single row, so a stratified \
                 split can hold none out"
            ),
        ));
    }
    val.sort_unstable();
    train.sort_unstable();
    Ok((
        raw.take_rows(&train, "train split")?,
        raw.take_rows(&val, "validation split")?,
    ))
}

/// Validation rows per class for a stratified split of `total` rows: the
/// floor of each class's share, then one more for the largest remainders
/// (ties to the larger class, then the lower index), never a class's last
/// row.
fn stratified_counts(counts: &[usize], fraction: f64, total: usize) -> Vec<usize> {
    let cap = |c: usize| c.saturating_sub(1);
    let mut take: Vec<usize> = counts
        .iter()
        .map(|&c| ((fraction * c as f64).floor() as usize).min(cap(c)))
        .collect();
    let mut order: Vec<usize> = (0..counts.len()).collect();
    let rem = |i: usize| fraction * counts[i] as f64 - take[i] as f64;
    order.sort_by(|&a, &b| {
        rem(b)
            .total_cmp(&rem(a))
            .then(counts[b].cmp(&counts[a]))
            .then(a.cmp(&b))
    });
    let mut left = total.saturating_sub(take.iter().sum());
    while left > 0 {
        let before = left;
        for &i in &order {
            if left > 0 && take[i] < cap(counts[i]) {
                take[i] += 1;
                left -= 1;
            }
        }
        if left == before {
            break; // every class is at its cap
        }
    }
    take
}

/// Mixed into the split's seed so that the split does not replay the epoch
/// shuffles of the same seed.
const SPLIT_SALT: u64 = 0x5EED_0000_5B11_7000;

#[cfg(test)]
mod tests {
    use super::stratified_counts;

    #[test]
    fn stratified_counts_keep_shares_and_a_row_of_every_class() {
        // exact shares
        assert_eq!(stratified_counts(&[90, 10], 0.2, 20), [18, 2]);
        // remainders: 0.25·[5, 3, 2] = [1.25, 0.75, 0.5], total round(2.5) = 3
        // (rounded half away from zero by `split`): floors [1, 0, 0], then
        // the largest remainders 0.75 and 0.5
        assert_eq!(stratified_counts(&[5, 3, 2], 0.25, 3), [1, 1, 1]);
        // a class of one row stays in training
        assert_eq!(stratified_counts(&[9, 1], 0.5, 5), [5, 0]);
        // every class at its cap: fewer than asked
        assert_eq!(stratified_counts(&[2, 1, 1], 0.9, 4), [1, 0, 0]);
        // the total is reached when caps allow it
        let c = stratified_counts(&[7, 7, 7], 1.0 / 3.0, 7);
        assert_eq!(c.iter().sum::<usize>(), 7);
        assert!(c.iter().all(|&k| (2..=3).contains(&k)), "{c:?}");
    }
}
