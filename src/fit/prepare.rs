//! [`prepare`]: a [`FitSpec`] becomes a [`Prepared`] session.

use std::path::{Path, PathBuf};

use crate::activation::{Activation, Head};
use crate::data::{self, ClassMap, ClassWeight, Dataset, LoadOptions, RawTable, Targets};
use crate::error::{Error, Result};
use crate::init::Init;
use crate::lbfgs::LbfgsConfig;
use crate::model_io::{Checkpoint, ModelMeta, SavedModel};
use crate::network::Mlp;
use crate::pipeline::{self, ReadOverrides};
use crate::schedule::LrSchedule;
use crate::stopping::{EarlyStopState, EarlyStopping, Monitor};
use crate::train::{EpochProgress, TrainConfig, Trainer};

use super::report::{FitCallbacks, HeldOut, RunInfo};
use super::resume::{self, train_config};
use super::spec::{check_spec, DataSource, FitSpec, Stored, TrainMetrics, DEFAULT_SEED};

/// A session ready to run: data loaded and preprocessed, network built,
/// configuration checked, trainer allocated.
pub struct Prepared {
    pub(super) train: Dataset,
    pub(super) held_out: Option<Dataset>,
    pub(super) test: Option<Dataset>,
    pub(super) early: Option<(EarlyStopping, EarlyStopState)>,
    pub(super) class_weight: Option<ClassWeight>,
    pub(super) row_weights: Option<String>,
    pub(super) mlp: Mlp,
    pub(super) meta: ModelMeta,
    pub(super) cfg: TrainConfig,
    pub(super) trainer: Trainer,
    pub(super) start: Option<EpochProgress>,
    pub(super) info: RunInfo,
    pub(super) checkpoint: Option<PathBuf>,
    pub(super) checkpoint_every: usize,
    /// Whether this process writes the checkpoints: not the ranks of a
    /// group other than 0.
    pub(super) writes: bool,
    pub(super) train_metrics: TrainMetrics,
    /// Full-batch L-BFGS in place of mini-batch steps.
    pub(super) lbfgs: Option<LbfgsConfig>,
}

/// Reads a data file, telling `callbacks`.
fn load(path: &Path, opts: &LoadOptions, callbacks: &mut dyn FitCallbacks) -> Result<RawTable> {
    callbacks.on_load_start(path);
    let raw = data::load(path, opts)?;
    callbacks.on_load(&raw, opts);
    Ok(raw)
}

/// Loads the data, chooses the head, builds or takes the network, merges
/// the configuration with a resumed checkpoint's and checks it, and
/// allocates the trainer. Data files read are reported to
/// [`FitCallbacks::on_load_start`] and [`FitCallbacks::on_load`].
///
/// # Errors
/// [`Error::Config`] naming the [`FitSpec`] field at fault (`epochs` of 0 or
/// not above a resumed checkpoint's, `checkpoint_every` of 0, a `head`,
/// `hidden_layers` or `activation` that contradicts the initial or resumed
/// model, an unwritable `checkpoint`, …; the layers below may name a flag
/// such as `--batch-size`); data and model file errors as
/// [`data::load`], [`load_model`](crate::model_io::load_model) and [`pipeline`] report them.
pub fn prepare(spec: &FitSpec, callbacks: &mut dyn FitCallbacks) -> Result<Prepared> {
    check_spec(spec)?;
    let start = Start::load(spec)?;
    let base = start.base();
    let tables = Tables::read(spec, start.seed(spec), base, callbacks)?;
    let (head, mut meta) = head_and_meta(spec, base, &tables.train)?;
    let tables = tables.with_test_file(spec, &meta, callbacks)?;
    let n_in = tables.train.x.cols();
    let mut mlp = network(spec, base, &meta, head, n_in, &tables.name, tables.embedded)?;
    // the rule that drew the weights, kept from the start (so checkpoints and
    // resumed runs carry it); absent for auto, as in every earlier model
    let init = spec.init.unwrap_or_else(|| default_init(tables.embedded));
    if base.is_none() && init != Init::Auto {
        meta.extra
            .insert("train.init".to_string(), init.to_string());
    }
    let ckpt = start.checkpoint.as_ref();
    let mut cfg = train_config(spec, ckpt, tables.embedded)?;
    let (name, held_out) = (tables.name.clone(), tables.held_out);
    let sets = Sets::take(spec, tables, &meta, &mlp, head, ckpt)?;
    if head == Head::Poisson && base.is_none() {
        start_at_mean_rate(&mut mlp, &sets.train);
    }
    if let LrSchedule::InvScaling { power_t, rows: 0 } = cfg.schedule {
        // scikit-learn's samples seen are the training rows an epoch sees
        cfg.schedule = LrSchedule::InvScaling {
            power_t,
            rows: sets.train.rows(),
        };
    }
    if spec.lbfgs.is_some() {
        // every row in one batch, in at most 64 shards of at least 128 rows
        // (the count depends on the rows alone, never on the threads)
        let rows = sets.train.rows();
        cfg.batch_size = rows;
        cfg.shuffle = false;
        cfg.schedule = LrSchedule::Constant;
        if spec.shard_rows.is_none() {
            cfg.shard_rows = rows.div_ceil(64).max(128);
        }
    }
    meta.positive_class = positive_class(spec, &meta, &mlp, &sets.train)?;
    if matches!(cfg.schedule, LrSchedule::Plateau { .. }) && sets.held_out.is_none() {
        return Err(Error::config(
            "lr_schedule",
            "plateau watches the validation loss: give test_data or validation_split",
        ));
    }
    let trainer = trainer_for(&mlp, &cfg, ckpt)?;
    let info = RunInfo {
        data_name: name,
        train_rows: sets.train.rows(),
        held_out_rows: sets.held_out.as_ref().map(Dataset::rows),
        held_out,
        test_rows: sets.test.as_ref().map(Dataset::rows),
        features: sets.train.features(),
        sizes: mlp.sizes().to_vec(),
        hidden: mlp.hidden().to_vec(),
        head: mlp.head(),
        params: mlp.num_params(),
        config: cfg.clone(),
        class_weight: sets.class_weight.clone(),
        row_weights: sets.row_weights.clone(),
        positive_class: meta.positive_class.clone(),
        threads: trainer.threads(),
        shard_rows: trainer.shard_rows(),
        first_epoch: ckpt.map_or(0, |c| c.state.epochs_done),
        resume_in_epoch: ckpt.and_then(|c| c.in_epoch),
    };
    let early = resume::early_stopping(spec, ckpt, mlp.num_params())?;
    check_early_stopping(
        early.as_ref(),
        &meta,
        head,
        held_out,
        sets.held_out.is_some(),
    )?;
    Ok(Prepared {
        train: sets.train,
        held_out: sets.held_out,
        test: sets.test,
        early,
        class_weight: sets.class_weight,
        row_weights: sets.row_weights,
        mlp,
        meta,
        cfg,
        trainer,
        start: info.resume_in_epoch,
        info,
        checkpoint: spec.checkpoint.clone(),
        checkpoint_every: spec.checkpoint_every,
        lbfgs: spec.lbfgs,
        writes: true,
        train_metrics: spec.train_metrics,
    })
}

/// What a session starts from besides the data: a checkpoint to resume, or
/// an initial model, read from a file or taken from memory.
struct Start {
    checkpoint: Option<Checkpoint>,
    init: Option<SavedModel>,
}

impl Start {
    fn load(spec: &FitSpec) -> Result<Start> {
        let checkpoint = spec
            .resume
            .as_ref()
            .map(Stored::<Checkpoint>::load)
            .transpose()?;
        if let Some(c) = &checkpoint {
            resume::check_weight_column(spec, c)?;
        }
        let init = spec
            .init_model
            .as_ref()
            .map(Stored::<SavedModel>::load)
            .transpose()?;
        Ok(Start { checkpoint, init })
    }

    /// The model the network continues: the checkpoint's, or the initial one.
    fn base(&self) -> Option<&SavedModel> {
        self.checkpoint
            .as_ref()
            .map(|c| &c.model)
            .or(self.init.as_ref())
    }

    /// The seed of initialisation, shuffling and the validation split.
    fn seed(&self, spec: &FitSpec) -> u64 {
        spec.seed
            .or(self.checkpoint.as_ref().map(|c| c.config.train.seed))
            .unwrap_or(DEFAULT_SEED)
    }
}

/// The raw tables of a session: training rows, held-out rows (a validation
/// split, or test data) and test rows reported beside a validation split.
struct Tables {
    train: RawTable,
    held_out_raw: Option<RawTable>,
    test_raw: Option<RawTable>,
    /// What the held-out rows are.
    held_out: HeldOut,
    name: String,
    embedded: bool,
}

impl Tables {
    /// The training data, raw, and its validation split; the embedded set's
    /// and in-memory tables' test rows.
    fn read(
        spec: &FitSpec,
        seed: u64,
        base: Option<&SavedModel>,
        callbacks: &mut dyn FitCallbacks,
    ) -> Result<Tables> {
        let split = |raw: &RawTable| -> Result<(RawTable, Option<RawTable>)> {
            match spec.validation_split {
                Some(f) => {
                    let (a, b) = pipeline::split(raw, f, seed, stratify(spec, raw))?;
                    Ok((a, Some(b)))
                }
                None => Ok((raw.clone(), None)),
            }
        };
        let embedded = spec.data == DataSource::BreastCancer;
        let (train, val, name, test) = match &spec.data {
            DataSource::File(p) => {
                let raw = load(p, &training_options(spec, base), callbacks)?;
                let (train, val) = match spec.validation_split {
                    Some(_) => split(&raw)?,
                    None => (raw, None),
                };
                (train, val, p.display().to_string(), None)
            }
            DataSource::BreastCancer => {
                use data::embedded::{table, BREAST_CANCER_TEST, BREAST_CANCER_TRAIN};
                let train = table(BREAST_CANCER_TRAIN, "breast_cancer.train.csv");
                let test = table(BREAST_CANCER_TEST, "breast_cancer.test.csv");
                (
                    train,
                    None,
                    "breast cancer (embedded)".to_string(),
                    Some(test),
                )
            }
            DataSource::Tables { train, test } => {
                let (train, val) = split(train)?;
                let name = train.source_name.clone();
                (train, val, name, test.as_deref().cloned())
            }
        };
        // held-out figures are not weighted
        let val = val.map(|mut v| {
            v.weights = None;
            v
        });
        // A validation split, when given, is the held-out set that schedules
        // (and early stopping) watch; test data is then only reported.
        let has_test = embedded
            || spec.test_data.is_some()
            || matches!(&spec.data, DataSource::Tables { test: Some(_), .. });
        let held_out = if val.is_none() && has_test {
            HeldOut::Test
        } else {
            HeldOut::Validation
        };
        Ok(Tables {
            train,
            held_out_raw: val,
            test_raw: test,
            held_out,
            name,
            embedded,
        })
    }

    /// Reads `test_data` as the model will read new data (by name), and
    /// sorts the held-out and test rows: test rows are held out unless there
    /// is a validation split.
    fn with_test_file(
        mut self,
        spec: &FitSpec,
        meta: &ModelMeta,
        callbacks: &mut dyn FitCallbacks,
    ) -> Result<Tables> {
        if let Some(t) = &spec.test_data {
            let opts = ReadOverrides {
                labels_path: spec.test_labels.clone(),
                ..spec.read.clone()
            }
            .model_options(meta, true);
            self.test_raw = Some(load(t, &opts, callbacks)?);
        }
        if self.held_out_raw.is_none() {
            self.held_out_raw = self.test_raw.take();
        }
        Ok(self)
    }
}

/// How to read the training file: as the options say, and, when training
/// continues a model that prepares its columns, with its preparation (its
/// columns picked by name and made into the same inputs).
pub(super) fn training_options(spec: &FitSpec, base: Option<&SavedModel>) -> LoadOptions {
    let mut opts = spec.read.training_options();
    if let Some(enc) = base.and_then(|b| b.meta.columns.as_ref()) {
        opts.features = Some(data::FeatureSelection {
            names: enc.used().map(|c| c.name.clone()).collect(),
            layout: base.and_then(|b| b.meta.csv_layout.clone()),
        });
        opts.encoding = Some(enc.clone());
    }
    opts
}

/// The head (given, the base model's, or the data's default) and the
/// preprocessing (the base model's, or fitted on the training rows).
fn head_and_meta(
    spec: &FitSpec,
    base: Option<&SavedModel>,
    train: &RawTable,
) -> Result<(Head, ModelMeta)> {
    let head = match (spec.head, base) {
        (Some(h), Some(b)) if h != b.mlp.head() => {
            return Err(Error::config(
                "head",
                format!("{h} disagrees with the model's head {}", b.mlp.head()),
            ))
        }
        (_, Some(b)) => b.mlp.head(),
        (Some(h), None) => h,
        (None, None) => pipeline::default_head(train)?,
    };
    let meta = match base {
        Some(b) => b.meta.clone(),
        None => pipeline::fit_meta(train, head, spec.standardize, spec.standardize_targets)?,
    };
    Ok((head, meta))
}

/// The positive class of a binary classifier (one sigmoid output, two
/// classes): the one given, else the base model's, else the training rows'
/// minority class (a tie: the second class, the one older models take).
/// `None` for other models.
fn positive_class(
    spec: &FitSpec,
    meta: &ModelMeta,
    mlp: &Mlp,
    train: &Dataset,
) -> Result<Option<String>> {
    let names = match &meta.class_names {
        Some(n) if mlp.head() == Head::SigmoidBce && mlp.outputs() == 1 && n.len() == 2 => n,
        _ => {
            return match &spec.positive_class {
                Some(p) => Err(Error::config(
                    "positive_class",
                    format!(
                        "'{p}': only a binary classifier (two classes, one sigmoid output) has a \
                         positive class; this model has a {} head with {} output{}",
                        mlp.head(),
                        mlp.outputs(),
                        if mlp.outputs() == 1 { "" } else { "s" }
                    ),
                )),
                None => Ok(None),
            }
        }
    };
    if let Some(p) = &spec.positive_class {
        if !names.contains(p) {
            return Err(Error::config(
                "positive_class",
                format!(
                    "'{p}' is not a class of the data: give '{}' or '{}'",
                    names[0], names[1]
                ),
            ));
        }
        return Ok(Some(p.clone()));
    }
    if let Some(p) = &meta.positive_class {
        return Ok(Some(p.clone()));
    }
    let labels = train.labels().unwrap_or(&[]);
    let ones = labels.iter().filter(|&&l| l == 1).count();
    let minority = usize::from(ones <= labels.len() - ones);
    Ok(Some(names[minority].clone()))
}

/// The datasets the session trains on and measures, with the training
/// rows' weights and where they come from.
struct Sets {
    train: Dataset,
    held_out: Option<Dataset>,
    test: Option<Dataset>,
    class_weight: Option<ClassWeight>,
    row_weights: Option<String>,
}

impl Sets {
    fn take(
        spec: &FitSpec,
        tables: Tables,
        meta: &ModelMeta,
        mlp: &Mlp,
        head: Head,
        ckpt: Option<&Checkpoint>,
    ) -> Result<Sets> {
        let Tables {
            train: mut train_raw,
            held_out_raw,
            test_raw,
            ..
        } = tables;
        // the features move from the tables into the datasets (no copy)
        let train =
            pipeline::take_dataset(&mut train_raw, meta, mlp.inputs(), mlp.outputs(), head)?;
        let class_weight = resume::class_weight(spec, ckpt)?;
        let row_weights = train_raw.weights.as_ref().map(|_| {
            spec.read
                .weight_column
                .as_ref()
                .map_or_else(|| "table".to_string(), |c| format!("column:{c}"))
        });
        if let Some(c) = ckpt {
            resume::check_row_weights(c, &row_weights)?;
        }
        // the table's label text (a string per row) is encoded in `train` now
        drop(train_raw);
        let train = weigh(train, class_weight.as_ref(), meta, head)?;
        let take = |raw: Option<RawTable>| -> Result<Option<Dataset>> {
            raw.map(|mut v| pipeline::take_dataset(&mut v, meta, mlp.inputs(), mlp.outputs(), head))
                .transpose()
        };
        Ok(Sets {
            train,
            held_out: take(held_out_raw)?,
            test: take(test_raw)?,
            class_weight,
            row_weights,
        })
    }
}

/// A new Poisson network starts predicting each output's mean rate: its
/// output biases are `ln(mean y)` (weighted by the rows' weights; at least
/// `ln(1e-6)`), as a GLM's intercept, so that training need not first climb
/// from `exp(0) = 1` to the targets' scale.
fn start_at_mean_rate(mlp: &mut Mlp, train: &Dataset) {
    let Targets::Values { y, width } = train.targets() else {
        return;
    };
    let rows = train.rows();
    let mut sums = vec![0.0f64; width];
    let mut weight = 0.0f64;
    for r in 0..rows {
        let w = train.weights().map_or(1.0, |w| f64::from(w[r]));
        weight += w;
        for (s, &v) in sums.iter_mut().zip(&y[r * width..(r + 1) * width]) {
            *s += w * f64::from(v);
        }
    }
    let last = mlp.num_layers() - 1;
    let range = mlp.layout().b_range(last);
    for (b, s) in mlp.params_mut()[range].iter_mut().zip(&sums) {
        *b = (s / weight.max(f64::MIN_POSITIVE)).max(1e-6).ln() as f32;
    }
}

/// The trainer, in the state of a resumed checkpoint if there is one.
fn trainer_for(mlp: &Mlp, cfg: &TrainConfig, ckpt: Option<&Checkpoint>) -> Result<Trainer> {
    let mut trainer = Trainer::new(mlp, cfg)?;
    if let Some(c) = ckpt {
        trainer.resume(&c.state)?;
    }
    Ok(trainer)
}

/// Early stopping needs a validation split and a figure the head gives.
fn check_early_stopping(
    early: Option<&(EarlyStopping, EarlyStopState)>,
    meta: &ModelMeta,
    head: Head,
    held_out: HeldOut,
    has_held_out: bool,
) -> Result<()> {
    let Some((rule, _)) = early else {
        return Ok(());
    };
    rule.validate()?;
    if held_out != HeldOut::Validation || !has_held_out {
        return Err(Error::config(
            "early_stopping",
            "early stopping watches a validation split: give validation_split \
             (test data are only reported)",
        ));
    }
    let fits = match rule.monitor {
        Monitor::Loss => true,
        Monitor::Accuracy => head.is_classifier() && !pipeline::is_multi_label(meta, head),
        Monitor::R2 => head.is_regression(),
    };
    if !fits {
        return Err(Error::config(
            "early_stopping.monitor",
            format!("{} does not apply to a {head} head", rule.monitor),
        ));
    }
    Ok(())
}

/// Whether a validation split of `raw` is stratified: one label column
/// whose values are classes (the head given, or the default one, is a
/// classifier).
pub(super) fn stratify(spec: &FitSpec, raw: &RawTable) -> bool {
    if raw.outputs() != 1 {
        return false;
    }
    match spec.head {
        Some(h) => h.is_classifier() && raw.class_map().is_ok(),
        None => pipeline::default_head(raw).is_ok_and(|h| h.is_classifier()),
    }
}

/// The training rows with their weights: the class weights of each row's
/// class times the table's row weights (already on `train`).
fn weigh(
    train: Dataset,
    class_weight: Option<&ClassWeight>,
    meta: &ModelMeta,
    head: Head,
) -> Result<Dataset> {
    let Some(cw) = class_weight else {
        return Ok(train);
    };
    let (Some(labels), Some(names)) = (train.labels(), &meta.class_names) else {
        return Err(Error::config(
            "class_weight",
            if head.is_classifier() {
                "class weights need one label column of classes; for multi-label data give \
                 row weights"
            } else {
                "class weights need a classifier; an mse head has no classes"
            },
        ));
    };
    let classes = ClassMap::from_names(names.clone())?;
    let mut w = cw.per_row(&classes, labels)?;
    if let Some(rows) = train.weights() {
        for (w, &r) in w.iter_mut().zip(rows) {
            *w *= r;
        }
    }
    if w.iter().all(|&v| v == 0.0) {
        return Err(Error::config(
            "class_weight",
            format!("{cw} gives every training row a weight of 0"),
        ));
    }
    train.with_weights(w)
}

/// The initialisation a spec without one gets: PyTorch's rule on data
/// (over five seeds it scored best on the development suite of tables,
/// `bench/tables/README.md`), the classic rule of `docs/backprop.md` on the
/// embedded set.
fn default_init(embedded: bool) -> Init {
    if embedded {
        Init::Auto
    } else {
        Init::Torch
    }
}

/// The network: the initial or resumed model's, checked against the spec
/// and the data, or a new one.
fn network(
    spec: &FitSpec,
    base: Option<&SavedModel>,
    meta: &ModelMeta,
    head: Head,
    n_in: usize,
    name: &str,
    embedded: bool,
) -> Result<Mlp> {
    let Some(b) = base else {
        let hidden = spec
            .hidden_layers
            .clone()
            .unwrap_or_else(|| vec![if embedded { 16 } else { 64 }]);
        let mut sizes = vec![n_in];
        sizes.extend(&hidden);
        sizes.push(pipeline::output_size(meta, head));
        let default_act = if embedded {
            Activation::Sigmoid
        } else if head.is_classifier() {
            // measured on the development suite: README, "What the defaults do"
            Activation::Selu
        } else {
            Activation::Relu
        };
        let act = spec.activation.unwrap_or(default_act);
        return Mlp::with_init(
            &sizes,
            &vec![act; hidden.len()],
            head,
            spec.seed.unwrap_or(DEFAULT_SEED),
            spec.init.unwrap_or_else(|| default_init(embedded)),
        );
    };
    if let Some(init) = spec.init {
        return Err(Error::config(
            "init",
            format!(
                "{init} draws a new network's weights, but the weights are given \
                 (an initial model or a checkpoint)"
            ),
        ));
    }
    let m = &b.mlp;
    let hidden_sizes = &m.sizes()[1..m.sizes().len() - 1];
    if let Some(l) = &spec.hidden_layers {
        if l.as_slice() != hidden_sizes {
            return Err(Error::config(
                "hidden_layers",
                format!("{l:?} disagrees with the model's hidden layers {hidden_sizes:?}"),
            ));
        }
    }
    if let Some(a) = spec.activation {
        if m.hidden().iter().any(|&h| h != a) {
            return Err(Error::config(
                "activation",
                format!("{a} disagrees with the model's {:?}", m.hidden()),
            ));
        }
    }
    if m.inputs() != n_in {
        return Err(Error::Data {
            source_name: name.to_string(),
            message: format!(
                "{n_in} feature columns, but the model takes {} inputs",
                m.inputs()
            ),
        });
    }
    Ok(m.clone())
}
