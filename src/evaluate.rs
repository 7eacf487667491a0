//! How well a model does on labelled data, and what it predicts for new
//! data, in the data's own terms: class names, target names and units.
//!
//! [`evaluate`] gives an [`Evaluation`] (classification, multi-label or
//! regression metrics); [`predict`] gives the [`Predictions`] table that the
//! `predict` command writes. Both take a [`RawTable`] read with
//! [`crate::pipeline::ReadOverrides::model_options`], so the features are
//! the model's, picked by name.

use crate::activation::Head;
use crate::data::predicted_class;
use crate::data::{Features, RawTable};
use crate::error::{Error, Result};
use crate::infer::{Inference, DEFAULT_CHUNK_ROWS};
use crate::kernels;
use crate::metrics::{
    binary_metrics_at, confusion_matrix, per_class_metrics, predicted_classes_at,
    regression_metrics, BinaryMetrics, ClassMetrics, RegressionMetrics,
};
use crate::model_io::{Ensemble, ModelMeta};
use crate::network::Mlp;
use crate::pipeline;
use crate::tensor::Matrix;

/// The metrics of one model on one labelled table.
#[derive(Clone, Debug, PartialEq)]
pub enum Evaluation {
    /// One label column, one class per row.
    Classification(ClassReport),
    /// Several 0/1 label columns under a sigmoid head.
    MultiLabel(MultiLabelReport),
    /// Numeric targets under an `mse` head, in the targets' units.
    Regression(RegressionReport),
}

/// Classification metrics.
#[derive(Clone, Debug, PartialEq)]
pub struct ClassReport {
    /// Rows evaluated.
    pub rows: usize,
    /// The mean loss the model minimises.
    pub loss: f64,
    /// Fraction of rows whose predicted class is right.
    pub accuracy: f64,
    /// The class names, in output order.
    pub classes: Vec<String>,
    /// `confusion[true][predicted]`.
    pub confusion: Vec<Vec<u64>>,
    /// Precision, recall, F1 and support per class.
    pub per_class: Vec<ClassMetrics>,
    /// The unweighted mean F1 over classes.
    pub macro_f1: f64,
    /// For a binary problem: the positive class ([`positive_index`]), the
    /// threshold on its probability, and precision/recall/F1/ROC AUC for it.
    pub binary: Option<(String, f32, BinaryMetrics)>,
}

/// Multi-label metrics.
#[derive(Clone, Debug, PartialEq)]
pub struct MultiLabelReport {
    /// Rows evaluated.
    pub rows: usize,
    /// The mean loss the model minimises.
    pub loss: f64,
    /// The threshold on each label's probability.
    pub threshold: f32,
    /// Fraction of rows with every label right.
    pub exact_match: f64,
    /// Per label: its name and metrics.
    pub per_label: Vec<(String, BinaryMetrics)>,
    /// The unweighted mean F1 over labels.
    pub macro_f1: f64,
}

/// Regression metrics in the targets' units.
#[derive(Clone, Debug, PartialEq)]
pub struct RegressionReport {
    /// Rows evaluated.
    pub rows: usize,
    /// The mean loss the model minimises (½·MSE, on the standardised
    /// targets when the model standardises them; the half Poisson deviance
    /// for the poisson head).
    pub loss: f64,
    /// Per target: its name and metrics.
    pub per_output: Vec<(String, RegressionMetrics)>,
    /// The mean of each metric over the targets.
    pub mean: RegressionMetrics,
}

/// The index in `class_names` of a binary classifier's positive class: the
/// model's [`ModelMeta::positive_class`], else 1 (the second class, as
/// models without one have always taken it).
///
/// ```
/// use backprop::{evaluate::positive_index, meta::ModelMeta};
/// let mut meta = ModelMeta {
///     class_names: Some(vec!["benign".into(), "malignant".into()]),
///     ..ModelMeta::default()
/// };
/// assert_eq!(positive_index(&meta), 1);
/// meta.positive_class = Some("benign".into());
/// assert_eq!(positive_index(&meta), 0);
/// ```
pub fn positive_index(meta: &ModelMeta) -> usize {
    let names = meta.class_names.as_deref().unwrap_or(&[]);
    meta.positive_class
        .as_ref()
        .and_then(|p| names.iter().position(|n| n == p))
        .unwrap_or(1)
}

/// The class a binary sigmoid model predicts from its output `p` (the
/// probability of class 1): the positive class when its probability (`p`,
/// or `1 - p` when the positive class is class 0) is at least `threshold`.
fn binary_class(p: f32, positive: usize, threshold: f32) -> usize {
    let p_positive = if positive == 1 { p } else { 1.0 - p };
    if p_positive >= threshold {
        positive
    } else {
        1 - positive
    }
}

/// The threshold `eval` and `predict` use for `mlp`: the one given (a
/// probability strictly between 0 and 1), else
/// [`DEFAULT_THRESHOLD`](crate::metrics::DEFAULT_THRESHOLD). Only a sigmoid
/// head (binary or multi-label) has a threshold; giving one for a softmax
/// or `mse` model is an error rather than ignored.
///
/// # Errors
/// [`Error::Config`] (`threshold`) for a value outside `(0, 1)` or a model
/// without a sigmoid head.
///
/// ```
/// use backprop::{evaluate::threshold_for, Activation, Head, Mlp};
/// let sigmoid = Mlp::new(&[2, 1], &[], Head::SigmoidBce, 0).unwrap();
/// let softmax = Mlp::new(&[2, 3], &[], Head::SoftmaxCe, 0).unwrap();
/// assert_eq!(threshold_for(&sigmoid, None)?, 0.5);
/// assert_eq!(threshold_for(&sigmoid, Some(0.3))?, 0.3);
/// assert_eq!(threshold_for(&softmax, None)?, 0.5);
/// assert!(threshold_for(&softmax, Some(0.3)).is_err());
/// assert!(threshold_for(&sigmoid, Some(1.0)).is_err());
/// # Ok::<(), backprop::Error>(())
/// ```
pub fn threshold_for(mlp: &Mlp, threshold: Option<f32>) -> Result<f32> {
    let Some(t) = threshold else {
        return Ok(crate::metrics::DEFAULT_THRESHOLD);
    };
    check_threshold(t)?;
    if mlp.head() != Head::SigmoidBce {
        return Err(Error::config(
            "threshold",
            format!(
                "{t}: only a sigmoid model (binary or multi-label) has a threshold; this model \
                 has a {} head, which {}",
                mlp.head(),
                match mlp.head() {
                    Head::Mse | Head::Poisson => "predicts numbers",
                    _ => "predicts the most probable class",
                }
            ),
        ));
    }
    Ok(t)
}

/// A threshold must be a probability strictly between 0 and 1.
fn check_threshold(threshold: f32) -> Result<()> {
    if !(threshold > 0.0 && threshold < 1.0) {
        return Err(Error::config(
            "threshold",
            format!("{threshold} is not a probability strictly between 0 and 1"),
        ));
    }
    Ok(())
}

/// The name of target `j` of a model: its column name, or `output_{j}`.
pub fn target_name(meta: &ModelMeta, j: usize, outputs: usize) -> String {
    if meta.target_names.len() == outputs {
        meta.target_names[j].clone()
    } else {
        format!("output_{j}")
    }
}

/// Evaluates `mlp` (with its `meta`) on the labelled table `raw`; a one-
/// output sigmoid's positive class ([`positive_index`]) is predicted when
/// its probability is at least `threshold` (also each label of a
/// multi-label model).
///
/// # Errors
/// As [`pipeline::dataset`]; [`Error::Config`] for a threshold outside `(0, 1)`.
pub fn evaluate(mlp: &Mlp, meta: &ModelMeta, raw: &RawTable, threshold: f32) -> Result<Evaluation> {
    let mut infer = Inference::on_this_thread(mlp, DEFAULT_CHUNK_ROWS)?;
    evaluate_with(&mut infer, mlp, meta, &mut raw.clone(), threshold)
}

/// [`evaluate`] on `infer`'s threads, in its chunks (the same figures for
/// any thread count and chunk size), taking the features out of `raw`
/// instead of copying them ([`pipeline::take_features`]) and, for a
/// classifier, dropping its label text once encoded.
///
/// # Errors
/// As [`evaluate`].
pub fn evaluate_with(
    infer: &mut Inference,
    mlp: &Mlp,
    meta: &ModelMeta,
    raw: &mut RawTable,
    threshold: f32,
) -> Result<Evaluation> {
    check_threshold(threshold)?;
    let data = pipeline::take_dataset(raw, meta, mlp.inputs(), mlp.outputs(), mlp.head())?;
    if !mlp.head().is_regression() {
        // the label text (a string per row) is encoded in `data` now
        raw.target = crate::data::RawTarget::None;
    }
    let (x, rows) = (data.prepared(), data.rows());
    // One forward pass gives the loss and the predictions. A classifier of
    // several outputs keeps only each row's predicted class; the metrics of
    // the other models need every output.
    let k = mlp.outputs();
    let multi_label = pipeline::is_multi_label(meta, mlp.head());
    let keep_outputs = mlp.head().is_regression() || multi_label || k == 1;
    let mut outputs = Matrix::zeros(if keep_outputs { rows } else { 0 }, k);
    let mut predicted: Vec<usize> = Vec::with_capacity(if keep_outputs { 0 } else { rows });
    let loss = infer
        .evaluate_each(mlp, x, data.targets(), None, |r, p| {
            if keep_outputs {
                outputs.as_mut_slice()[r * k..(r + 1) * k].copy_from_slice(p);
            } else {
                predicted.push(predicted_class(p));
            }
            Ok(())
        })?
        .loss;
    if mlp.head().is_regression() {
        meta.to_target_units(&mut outputs);
    }
    report(
        meta,
        mlp.head(),
        outputs,
        predicted,
        keep_outputs,
        loss,
        &data,
        raw,
        threshold,
    )
}

/// The report of a model's (or an ensemble's) outputs on `data`, the rows
/// of `raw`: `outputs` holds every row's outputs (values in the targets'
/// units for `mse`) when `keep_outputs`, else `predicted` each row's class.
#[allow(clippy::too_many_arguments)]
fn report(
    meta: &ModelMeta,
    head: Head,
    outputs: Matrix,
    mut predicted: Vec<usize>,
    keep_outputs: bool,
    loss: f64,
    data: &crate::data::Dataset,
    raw: &RawTable,
    threshold: f32,
) -> Result<Evaluation> {
    let (rows, k) = (data.rows(), outputs.cols());
    let multi_label = pipeline::is_multi_label(meta, head);
    if head.is_regression() {
        let truth = raw.numeric_targets()?;
        let (per, mean) = regression_metrics(&outputs, &truth)?;
        return Ok(Evaluation::Regression(RegressionReport {
            rows,
            loss,
            per_output: per
                .into_iter()
                .enumerate()
                .map(|(j, m)| (target_name(meta, j, k), m))
                .collect(),
            mean,
        }));
    }
    if multi_label {
        let y = data.y();
        let mut per_label = Vec::with_capacity(k);
        let mut exact = vec![true; rows];
        for j in 0..k {
            let scores: Vec<f32> = (0..rows).map(|r| outputs.get(r, j)).collect();
            let truth: Vec<usize> = (0..rows).map(|r| usize::from(y.get(r, j) == 1.0)).collect();
            for (e, (&s, &t)) in exact.iter_mut().zip(scores.iter().zip(&truth)) {
                *e &= usize::from(s >= threshold) == t;
            }
            per_label.push((
                target_name(meta, j, k),
                binary_metrics_at(&scores, &truth, threshold),
            ));
        }
        let macro_f1 = per_label.iter().map(|(_, m)| m.f1).sum::<f64>() / k.max(1) as f64;
        return Ok(Evaluation::MultiLabel(MultiLabelReport {
            rows,
            loss,
            threshold,
            exact_match: exact.iter().filter(|&&e| e).count() as f64 / rows.max(1) as f64,
            per_label,
            macro_f1,
        }));
    }
    let labels = data.labels().unwrap_or(&[]);
    let classes = meta.class_names.clone().unwrap_or_default();
    let binary = k == 1 && classes.len() == 2;
    let positive = positive_index(meta);
    if binary {
        predicted = outputs
            .as_slice()
            .iter()
            .map(|&p| binary_class(p, positive, threshold))
            .collect();
    } else if keep_outputs {
        predicted = predicted_classes_at(&outputs, threshold);
    }
    let correct = predicted.iter().zip(labels).filter(|(p, l)| p == l).count();
    let confusion = confusion_matrix(labels, &predicted, classes.len());
    let per_class = per_class_metrics(&confusion);
    let macro_f1 = per_class.iter().map(|m| m.f1).sum::<f64>() / per_class.len().max(1) as f64;
    let binary = binary.then(|| {
        // the positive class's probability, and whether each row is of it
        let (scores, truth): (Vec<f32>, Vec<usize>) = match positive {
            1 => (outputs.as_slice().to_vec(), labels.to_vec()),
            _ => (
                outputs.as_slice().iter().map(|&p| 1.0 - p).collect(),
                labels.iter().map(|&l| usize::from(l == 0)).collect(),
            ),
        };
        (
            classes[positive].clone(),
            threshold,
            binary_metrics_at(&scores, &truth, threshold),
        )
    });
    Ok(Evaluation::Classification(ClassReport {
        rows,
        loss,
        accuracy: correct as f64 / rows.max(1) as f64,
        classes,
        confusion,
        per_class,
        macro_f1,
        binary,
    }))
}

/// What a model predicts for each row, as named columns of text.
#[derive(Clone, Debug, PartialEq)]
pub struct Predictions {
    /// The column names.
    pub header: Vec<String>,
    /// One row of values per input row.
    pub rows: Vec<Vec<String>>,
}

/// The predictions of `mlp` for the features of `raw`:
/// - one label: the predicted `class` (for a binary sigmoid: the positive
///   class when its probability is at least `threshold`),
///   then `p_{class}` for every class;
/// - multi-label: per label, the 0/1 prediction under its name and `p_{name}`;
/// - regression: one column per target, named after it, in its units.
///
/// The id column of `raw`, if read, comes first under its name `id_name`.
/// [`predict_csv`] writes the same table as it goes, without holding it.
///
/// # Errors
/// As [`pipeline::features`].
pub fn predict(
    mlp: &Mlp,
    meta: &ModelMeta,
    raw: &RawTable,
    threshold: f32,
    id_name: Option<&str>,
) -> Result<Predictions> {
    let mut infer = Inference::on_this_thread(mlp, DEFAULT_CHUNK_ROWS)?;
    let x = pipeline::features(raw, meta, mlp.inputs())?;
    let (head, k) = (mlp.head(), mlp.outputs());
    let positive = positive_index(meta);
    let mut table = Predictions {
        header: header(meta, head, k, id_name),
        rows: Vec::with_capacity(x.rows()),
    };
    infer.for_each_chunk(mlp, x.as_slice(), x.rows(), |r0, logits| {
        kernels::head_activate(head, logits, k);
        for (i, out) in logits.chunks_exact_mut(k).enumerate() {
            let id = raw.ids.as_ref().map(|ids| ids[r0 + i].as_str());
            let mut row = Vec::with_capacity(table.header.len());
            row_cells(meta, head, (threshold, positive), id, out, &mut row);
            table.rows.push(row);
        }
        Ok(())
    })?;
    Ok(table)
}

/// Where [`predict_csv`] writes: a writer, and the name its errors give.
pub struct CsvOut<'a> {
    /// The destination (written a chunk's rows at a time).
    pub writer: &'a mut dyn std::io::Write,
    /// Its name in error messages (a file name, "standard output").
    pub name: &'a str,
}

/// [`predict`]'s table as RFC 4180 CSV, written to `out` chunk by chunk
/// as `infer` (its threads, its chunk size) computes them, each chunk's
/// text formatted on the chunk's thread ([`Inference::predict_text`]):
/// memory does not grow with the rows. The bytes are those of
/// [`Predictions::to_csv`]. The
/// features are taken out of `raw`, not copied
/// ([`pipeline::take_features`]).
///
/// # Errors
/// As [`predict`]; [`Error::Io`] naming `out.name` when writing fails (a
/// closed pipe included).
pub fn predict_csv(
    infer: &mut Inference,
    mlp: &Mlp,
    meta: &ModelMeta,
    raw: &mut RawTable,
    threshold: f32,
    id_name: Option<&str>,
    out: CsvOut<'_>,
) -> Result<()> {
    let (x, prep) = pipeline::take_features(raw, meta, mlp.inputs())?;
    let (head, k) = (mlp.head(), mlp.outputs());
    let positive = positive_index(meta);
    let mut text = CsvLine::default();
    for h in header(meta, head, k, id_name) {
        text.text(&h);
    }
    text.end();
    let ids = raw.ids.as_deref();
    let format = |r0: usize, outputs: &mut [f32], buf: &mut Vec<u8>| -> Result<()> {
        let mut line = CsvLine {
            buf: std::mem::take(buf),
            ..CsvLine::default()
        };
        for (i, row) in outputs.chunks_exact_mut(k).enumerate() {
            let id = ids.map(|ids| ids[r0 + i].as_str());
            row_cells(meta, head, (threshold, positive), id, row, &mut line);
            line.end();
        }
        *buf = line.buf;
        Ok(())
    };
    stream_chunks(infer, mlp, (&x, &prep), &text.buf, &format, out)
}

/// [`predict`]'s numbers as an NPY file of `f32` (`rows × outputs`, C
/// order), written to `out` chunk by chunk like [`predict_csv`]: each row's
/// head outputs — the class probabilities, or for `mse` the values in
/// target units — bit for bit the numbers the CSV prints. A program reads
/// them back without parsing text, and writing them costs next to nothing.
///
/// # Errors
/// As [`predict_csv`]; [`Error::Config`] (option `id_column`) with an id
/// column, which an array of numbers cannot hold.
pub fn predict_npy(
    infer: &mut Inference,
    mlp: &Mlp,
    meta: &ModelMeta,
    raw: &mut RawTable,
    out: CsvOut<'_>,
) -> Result<()> {
    let name = out.name;
    if raw.ids.is_some() {
        return Err(Error::config(
            "id_column",
            format!("{name} is an NPY file of numbers, which cannot hold an id column; write CSV"),
        ));
    }
    let (x, prep) = pipeline::take_features(raw, meta, mlp.inputs())?;
    let (head, k) = (mlp.head(), mlp.outputs());
    let header = crate::data::npy::f4_header_bytes(&[x.rows(), k]);
    let format = |_: usize, outputs: &mut [f32], buf: &mut Vec<u8>| -> Result<()> {
        if head == Head::Mse {
            for row in outputs.chunks_exact_mut(k) {
                meta.to_target_units_row(row);
            }
        }
        buf.extend(outputs.iter().flat_map(|v| v.to_le_bytes()));
        Ok(())
    };
    stream_chunks(infer, mlp, (&x, &prep), &header, &format, out)
}

/// Writes `head` to `out`, then each chunk's bytes as `format` makes them
/// from the chunk's head outputs, in row order, as `infer` computes the
/// features `x` (prepared by `prep`); then flushes.
fn stream_chunks(
    infer: &mut Inference,
    mlp: &Mlp,
    (x, prep): (&Matrix, &crate::data::Prep),
    head: &[u8],
    format: &crate::infer::ChunkFormat<'_>,
    out: CsvOut<'_>,
) -> Result<()> {
    let name = out.name;
    let io = |source: std::io::Error| Error::Io {
        path: name.into(),
        source,
    };
    out.writer.write_all(head).map_err(io)?;
    let features = Features::new(x.values(), prep);
    infer.predict_text(mlp, features, x.rows(), format, |bytes| {
        out.writer.write_all(bytes).map_err(io)
    })?;
    out.writer.flush().map_err(io)
}

/// The predictions table's column names.
fn header(meta: &ModelMeta, head: Head, k: usize, id_name: Option<&str>) -> Vec<String> {
    let mut header: Vec<String> = id_name.map(str::to_string).into_iter().collect();
    match (&meta.class_names, head) {
        (_, Head::Mse | Head::Poisson) => header.extend((0..k).map(|j| target_name(meta, j, k))),
        (Some(names), _) => {
            header.push("class".to_string());
            header.extend(names.iter().map(|n| format!("p_{n}")));
        }
        (None, _) => {
            for j in 0..k {
                let n = target_name(meta, j, k);
                header.push(n.clone());
                header.push(format!("p_{n}"));
            }
        }
    }
    header
}

/// Where [`row_cells`] puts a row's cells.
trait CellSink {
    fn text(&mut self, s: &str);
    fn number(&mut self, v: f32);
}

/// A row as strings ([`Predictions`]).
impl CellSink for Vec<String> {
    fn text(&mut self, s: &str) {
        self.push(s.to_string());
    }
    fn number(&mut self, v: f32) {
        self.push(v.to_string());
    }
}

/// Rows as RFC 4180 CSV bytes, as the `csv` crate writes them (its
/// defaults: `,`, `\n` after each record, a field quoted when it holds a
/// comma, a quote, `\r` or `\n`, quotes doubled, a record of one empty
/// field written `""`), without an allocation per cell.
#[derive(Default)]
struct CsvLine {
    buf: Vec<u8>,
    /// Fields of the record so far.
    fields: usize,
    /// Whether the record's only field so far is empty.
    empty: bool,
}

impl CsvLine {
    fn separate(&mut self) {
        if self.fields > 0 {
            self.buf.push(b',');
        }
        self.fields += 1;
    }

    /// Ends the record.
    fn end(&mut self) {
        if self.fields == 1 && self.empty {
            self.buf.extend_from_slice(b"\"\"");
        }
        self.buf.push(b'\n');
        self.fields = 0;
        self.empty = false;
    }
}

impl CellSink for CsvLine {
    fn text(&mut self, s: &str) {
        self.separate();
        self.empty = s.is_empty();
        if s.bytes().any(|b| matches!(b, b',' | b'"' | b'\r' | b'\n')) {
            self.buf.push(b'"');
            for b in s.bytes() {
                if b == b'"' {
                    self.buf.push(b'"');
                }
                self.buf.push(b);
            }
            self.buf.push(b'"');
        } else {
            self.buf.extend_from_slice(s.as_bytes());
        }
    }

    fn number(&mut self, v: f32) {
        self.separate();
        self.empty = false;
        crate::float_text::write_f32(&mut self.buf, v);
    }
}

/// One row's cells: its id, then as [`predict`] says (a binary model's
/// class at `threshold` on the probability of class `positive`); `out`
/// holds the row's head outputs (regression values are turned into target
/// units in place).
fn row_cells(
    meta: &ModelMeta,
    head: Head,
    (threshold, positive): (f32, usize),
    id: Option<&str>,
    out: &mut [f32],
    row: &mut impl CellSink,
) {
    if let Some(id) = id {
        row.text(id);
    }
    match (&meta.class_names, head) {
        (_, Head::Mse | Head::Poisson) => {
            meta.to_target_units_row(out);
            for &v in out.iter() {
                row.number(v);
            }
        }
        (Some(names), _) => {
            let c = if out.len() == 1 {
                binary_class(out[0], positive, threshold)
            } else {
                predicted_class(out)
            };
            row.text(&names[c]);
            if out.len() == 1 && names.len() == 2 {
                row.number(1.0 - out[0]);
                row.number(out[0]);
            } else {
                for &p in out.iter() {
                    row.number(p);
                }
            }
        }
        (None, _) => {
            for &p in out.iter() {
                row.text(if p >= threshold { "1" } else { "0" });
                row.number(p);
            }
        }
    }
}

impl Predictions {
    /// The table as RFC 4180 CSV text (fields quoted where needed).
    pub fn to_csv(&self) -> Result<Vec<u8>> {
        let mut w = csv::Writer::from_writer(Vec::new());
        let io = |e: csv::Error| Error::Data {
            source_name: "predictions".into(),
            message: e.to_string(),
        };
        w.write_record(&self.header).map_err(io)?;
        for row in &self.rows {
            w.write_record(row).map_err(io)?;
        }
        w.into_inner().map_err(|e| Error::Data {
            source_name: "predictions".into(),
            message: e.to_string(),
        })
    }
}

/// The mean of an ensemble's members' outputs on the features of `raw`
/// (each member's features prepared with its own preprocessing):
/// probabilities, or values in the targets' units for `mse`. The members run
/// one after the other, each on `threads` threads (0: one per core).
///
/// # Errors
/// As [`pipeline::features`] and the forward pass.
pub fn ensemble_outputs(e: &Ensemble, raw: &RawTable, threads: usize) -> Result<Matrix> {
    let rows = raw.rows();
    let mut sum: Option<Matrix> = None;
    for m in &e.members {
        let x = pipeline::features(raw, &m.meta, m.mlp.inputs())?;
        let mut out = Matrix::zeros(rows, m.mlp.outputs());
        let mut infer = Inference::new(&m.mlp, threads, DEFAULT_CHUNK_ROWS)?;
        infer.predict_into(&m.mlp, x.as_slice(), rows, out.as_mut_slice())?;
        m.meta.to_target_units(&mut out);
        match &mut sum {
            None => sum = Some(out),
            Some(s) => {
                for (a, b) in s.as_mut_slice().iter_mut().zip(out.as_slice()) {
                    *a += b;
                }
            }
        }
    }
    let mut sum = sum.expect("an ensemble has a member");
    let k = e.members.len() as f32;
    if k > 1.0 {
        for v in sum.as_mut_slice() {
            *v /= k;
        }
    }
    Ok(sum)
}

/// [`evaluate_with`] for an ensemble: the metrics of the members' mean
/// outputs ([`ensemble_outputs`]). The loss is the head's loss of those
/// outputs: `−ln p` of the true class (softmax), binary cross-entropy
/// (sigmoid), `½(ŷ − y)²` on the targets standardised as the first
/// member's (mse); a probability is taken at least `f32::MIN_POSITIVE`. An
/// ensemble of one is evaluated as its model, bit for bit.
///
/// # Errors
/// As [`evaluate_with`].
pub fn evaluate_ensemble(
    e: &Ensemble,
    raw: &mut RawTable,
    threshold: f32,
    threads: usize,
) -> Result<Evaluation> {
    let first = e.first();
    if e.members.len() == 1 {
        let mut infer = Inference::new(&first.mlp, threads, DEFAULT_CHUNK_ROWS)?;
        return evaluate_with(&mut infer, &first.mlp, &first.meta, raw, threshold);
    }
    check_threshold(threshold)?;
    let outputs = ensemble_outputs(e, raw, threads)?;
    let (mlp, meta) = (&first.mlp, &first.meta);
    let data = pipeline::take_dataset(raw, meta, mlp.inputs(), mlp.outputs(), mlp.head())?;
    let y = data.y();
    let (rows, k) = (outputs.rows(), outputs.cols());
    let ln = |p: f32| f64::from(p.max(f32::MIN_POSITIVE)).ln();
    let mut total = 0.0f64;
    for r in 0..rows {
        let (o, t) = (
            &outputs.as_slice()[r * k..(r + 1) * k],
            &y.as_slice()[r * k..(r + 1) * k],
        );
        for j in 0..k {
            let (p, y) = (o[j], t[j]);
            total += match mlp.head() {
                Head::SoftmaxCe => -f64::from(y) * ln(p),
                Head::SigmoidBce => -(f64::from(y) * ln(p) + (1.0 - f64::from(y)) * ln(1.0 - p)),
                Head::Mse => {
                    let z = match &meta.target_standardizer {
                        Some(s) => (p - s.mean[j]) / s.std[j],
                        None => p,
                    };
                    f64::from(0.5 * (z - y) * (z - y))
                }
                Head::Poisson => {
                    // half deviance y·ln(y/a) - y + a, from the rate a
                    let (a, y) = (f64::from(p), f64::from(y));
                    let ylny = if y > 0.0 { y * (y / a).ln() } else { 0.0 };
                    ylny - y + a
                }
            };
        }
    }
    let loss = total / rows.max(1) as f64;
    if !mlp.head().is_regression() {
        raw.target = crate::data::RawTarget::None;
    }
    report(
        meta,
        mlp.head(),
        outputs,
        Vec::new(),
        true,
        loss,
        &data,
        raw,
        threshold,
    )
}

/// [`predict_csv`] (or, with `npy`, [`predict_npy`]) for an ensemble: the
/// members' mean outputs ([`ensemble_outputs`]) as the same table, written
/// to `out` when every row is done (an ensemble's outputs are held in
/// memory, `rows × outputs`). An ensemble of one writes its model's bytes.
///
/// # Errors
/// As [`predict_csv`] and [`predict_npy`].
pub fn predict_ensemble(
    e: &Ensemble,
    raw: &mut RawTable,
    (threshold, threads): (f32, usize),
    id_name: Option<&str>,
    npy: bool,
    out: CsvOut<'_>,
) -> Result<()> {
    let first = e.first();
    if e.members.len() == 1 {
        let mut infer = Inference::new(&first.mlp, threads, DEFAULT_CHUNK_ROWS)?;
        let (mlp, meta) = (&first.mlp, &first.meta);
        return match npy {
            true => predict_npy(&mut infer, mlp, meta, raw, out),
            false => predict_csv(&mut infer, mlp, meta, raw, threshold, id_name, out),
        };
    }
    let name = out.name;
    if npy && raw.ids.is_some() {
        return Err(Error::config(
            "id_column",
            format!("{name} is an NPY file of numbers, which cannot hold an id column; write CSV"),
        ));
    }
    let mut outputs = ensemble_outputs(e, raw, threads)?;
    let io = |source: std::io::Error| Error::Io {
        path: name.into(),
        source,
    };
    let (rows, k) = (outputs.rows(), outputs.cols());
    if npy {
        let mut buf = crate::data::npy::f4_header_bytes(&[rows, k]);
        buf.extend(outputs.as_slice().iter().flat_map(|v| v.to_le_bytes()));
        out.writer.write_all(&buf).map_err(io)?;
        return out.writer.flush().map_err(io);
    }
    // the outputs are in the targets' units already
    let meta = ModelMeta {
        target_standardizer: None,
        ..first.meta.clone()
    };
    let head = first.mlp.head();
    let positive = positive_index(&meta);
    let mut line = CsvLine::default();
    for h in header(&meta, head, k, id_name) {
        line.text(&h);
    }
    line.end();
    let ids = raw.ids.as_deref();
    for (r, row) in outputs
        .as_mut_slice()
        .chunks_exact_mut(k.max(1))
        .enumerate()
    {
        let id = ids.map(|ids| ids[r].as_str());
        row_cells(&meta, head, (threshold, positive), id, row, &mut line);
        line.end();
        if line.buf.len() >= 1 << 16 {
            out.writer.write_all(&line.buf).map_err(io)?;
            line.buf.clear();
        }
    }
    out.writer.write_all(&line.buf).map_err(io)?;
    out.writer.flush().map_err(io)
}

#[cfg(test)]
mod tests {
    use super::{CellSink, CsvLine};

    /// `CsvLine` writes the bytes of the `csv` crate's writer (with its
    /// defaults), which `Predictions::to_csv` uses.
    #[test]
    fn csv_lines_are_the_csv_crates_bytes() {
        let cells = [
            "plain",
            "a,b",
            "q\"uote",
            "multi\nline",
            "cr\rlf",
            "",
            " sp ",
            "\"",
            "é",
            "1e-7",
        ];
        let numbers = [0.5f32, 1e-7, -3.25, f32::MAX, 0.1 + 0.2, 1.0, 0.0, -0.0];
        let mut records: Vec<Vec<String>> = vec![vec![String::new()], vec!["x".into()]];
        for (i, c) in cells.iter().enumerate() {
            let mut r = vec![c.to_string()];
            r.extend(numbers[i % numbers.len()..].iter().map(|v| v.to_string()));
            r.push(cells[(i + 3) % cells.len()].to_string());
            records.push(r);
        }
        // flexible: records of several lengths in one test
        let mut want = csv::WriterBuilder::new()
            .flexible(true)
            .from_writer(Vec::new());
        let mut line = CsvLine::default();
        for r in &records {
            want.write_record(r).unwrap();
            for cell in r {
                // numbers through `number`, as predictions write them
                match cell.parse::<f32>() {
                    Ok(v) if v.to_string() == *cell => line.number(v),
                    _ => line.text(cell),
                }
            }
            line.end();
        }
        let want = want.into_inner().unwrap();
        assert_eq!(
            String::from_utf8_lossy(&line.buf),
            String::from_utf8_lossy(&want)
        );
        assert_eq!(line.buf, want);
    }
}
