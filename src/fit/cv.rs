//! K-fold cross-validation ([`cross_validate`]): the training table read
//! once, its rows dealt into K seeded folds (stratified for classes), the K
//! fold models trained in one pass ([`super::fit_many`]), and each scored on
//! the fold it did not see.

use std::sync::atomic::AtomicBool;

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::many::{fit_made, Progress};
use super::prepare::{stratify, training_options};
use super::report::FitOutcome;
use super::spec::{DataSource, FitSpec, DEFAULT_SEED};
use crate::data::{self, RawTable};
use crate::error::{Error, Result};
use crate::evaluate::{self, Evaluation};

/// Mixed into the seed of the folds' shuffle, so that it differs from the
/// shuffles of training and of a validation split with the same seed.
const FOLD_SALT: u64 = 0x6b66_6f6c_6473_2121;

/// One fold: its model's figures on the rows it did not see.
#[derive(Clone, Debug)]
pub struct FoldReport {
    /// The training rows (the other folds).
    pub train_rows: usize,
    /// The fold's rows, held out.
    pub held_out_rows: usize,
    /// The fold model's evaluation on them.
    pub evaluation: Evaluation,
    /// The run: the model, its history, its epochs and seconds. A fold
    /// model is not resumed, so its final state is not kept
    /// (`outcome.checkpoint` is `None`): that would be each model's
    /// optimizer state again, for every fold of every candidate.
    pub outcome: FitOutcome,
}

/// The folds' reports, in fold order.
#[derive(Clone, Debug)]
pub struct CrossValidation {
    /// One report per fold.
    pub folds: Vec<FoldReport>,
    /// The training table's name.
    pub source_name: String,
    /// What reading the table noted (columns ignored, dates, levels
    /// sharing "(other)"), to tell the user.
    pub notes: Vec<String>,
}

/// A figure's mean and sample standard deviation over the folds.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Spread {
    /// The mean.
    pub mean: f64,
    /// The sample standard deviation (`n − 1`); 0 for one fold.
    pub std: f64,
}

impl Spread {
    /// The mean and sample standard deviation of `v`.
    pub fn of(v: &[f64]) -> Spread {
        let n = v.len().max(1) as f64;
        let mean = v.iter().sum::<f64>() / n;
        let var = if v.len() > 1 {
            v.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / (n - 1.0)
        } else {
            0.0
        };
        Spread {
            mean,
            std: var.sqrt(),
        }
    }
}

/// The figures of one evaluation by name, headline first: `accuracy`,
/// `macro_f1`, `loss` for classes; `exact_match`, `macro_f1`, `loss` for
/// several labels; `r2`, `rmse`, `mae`, `loss` for regression (the means
/// over the targets).
pub fn figures(e: &Evaluation) -> Vec<(&'static str, f64)> {
    match e {
        Evaluation::Classification(c) => vec![
            ("accuracy", c.accuracy),
            ("macro_f1", c.macro_f1),
            ("loss", c.loss),
        ],
        Evaluation::MultiLabel(m) => vec![
            ("exact_match", m.exact_match),
            ("macro_f1", m.macro_f1),
            ("loss", m.loss),
        ],
        Evaluation::Regression(r) => vec![
            ("r2", r.mean.r2),
            ("rmse", r.mean.rmse),
            ("mae", r.mean.mae),
            ("loss", r.loss),
        ],
    }
}

impl CrossValidation {
    /// The fold models as one ensemble, in fold order: the mean of their
    /// outputs.
    pub fn ensemble(&self) -> crate::model_io::Ensemble {
        crate::model_io::Ensemble {
            members: self
                .folds
                .iter()
                .map(|f| crate::model_io::SavedModel {
                    mlp: f.outcome.mlp.clone(),
                    meta: f.outcome.meta.clone(),
                })
                .collect(),
        }
    }

    /// Each figure of [`figures`] with its mean and standard deviation over
    /// the folds.
    pub fn summary(&self) -> Vec<(&'static str, Spread)> {
        let per: Vec<Vec<(&'static str, f64)>> =
            self.folds.iter().map(|f| figures(&f.evaluation)).collect();
        let Some(first) = per.first() else {
            return Vec::new();
        };
        first
            .iter()
            .enumerate()
            .map(|(i, (name, _))| {
                let v: Vec<f64> = per.iter().map(|p| p[i].1).collect();
                (*name, Spread::of(&v))
            })
            .collect()
    }
}

/// The fold (0..k) of each of `n` rows: a seeded shuffle dealt round the
/// folds, so fold sizes differ by at most one. With `classes` (each row's
/// class), each class is shuffled and dealt on from where the previous one
/// stopped, so that every fold holds each class's share (scikit-learn's
/// `StratifiedKFold` balances the same way).
///
/// ```
/// use backprop::fit::fold_of_rows;
/// let classes: Vec<usize> = (0..10).map(|i| usize::from(i >= 6)).collect();
/// let folds = fold_of_rows(10, 2, 7, Some(&classes));
/// for f in 0..2 {
///     let rows: Vec<usize> = (0..10).filter(|&r| folds[r] == f).collect();
///     assert_eq!(rows.len(), 5);
///     assert_eq!(rows.iter().filter(|&&r| classes[r] == 1).count(), 2);
/// }
/// ```
pub fn fold_of_rows(n: usize, k: usize, seed: u64, classes: Option<&[usize]>) -> Vec<usize> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ FOLD_SALT);
    let mut shuffle = |order: &mut [usize]| {
        for i in (1..order.len()).rev() {
            let j = rng.random_range(0..=i);
            order.swap(i, j);
        }
    };
    let groups: Vec<Vec<usize>> = match classes {
        Some(c) => {
            let mut by: Vec<Vec<usize>> = Vec::new();
            for (r, &class) in c.iter().enumerate() {
                if by.len() <= class {
                    by.resize_with(class + 1, Vec::new);
                }
                by[class].push(r);
            }
            by
        }
        None => vec![(0..n).collect()],
    };
    let mut fold = vec![0; n];
    let mut next = 0;
    for mut rows in groups {
        shuffle(&mut rows);
        for r in rows {
            fold[r] = next;
            next = (next + 1) % k.max(1);
        }
    }
    fold
}

/// The training table of `spec`, read once.
fn training_table(spec: &FitSpec) -> Result<RawTable> {
    match &spec.data {
        DataSource::File(p) => data::load(p, &training_options(spec, None)),
        DataSource::Tables { train, .. } => Ok((**train).clone()),
        DataSource::BreastCancer => Ok(data::embedded::table(
            data::embedded::BREAST_CANCER_TRAIN,
            "breast_cancer.train.csv",
        )),
    }
}

/// Trains `spec` on `k` folds of its training rows in one pass
/// ([`super::fit_many`], on up to `spec.threads` threads) and scores each fold's
/// model on the fold's rows. The folds are seeded by `spec.seed` and
/// stratified when the task is single-label classification; every fold
/// model trains with `spec`'s settings and seed, as `spec` fitted alone on
/// the other folds' rows (with the fold's rows as test data) would, bit for
/// bit. The embedded set's folds are of its training part.
///
/// # Errors
/// [`Error::Config`]: `k` below 2 or above the rows (or, stratified, a
/// class with fewer rows than folds); `test_data`, `resume`, `init_model` or
/// `checkpoint` given (each fold holds its own rows out and starts afresh);
/// the errors of reading the table and of any fold's run (the first, in
/// fold order, naming the fold).
pub fn cross_validate(spec: &FitSpec, k: usize, stop: &AtomicBool) -> Result<CrossValidation> {
    cross_validate_each(spec, std::slice::from_ref(spec), k, stop)?
        .pop()
        .expect("one candidate")
}

/// [`cross_validate`] for several candidates in one pass: the folds of
/// `base`'s training table (read once) and seed, every candidate trained on
/// each fold with its own settings (its `data`, `read` and `threads` are
/// `base`'s), `candidates.len() × k` models on `base.threads` threads. Each
/// candidate's result is its own: one that fails (diverges) does not stop
/// the others.
///
/// # Errors
/// The outer error: as [`cross_validate`] for `base` and the folds; a
/// candidate giving `test_data`, `resume`, `init_model` or `checkpoint`.
pub fn cross_validate_each(
    base: &FitSpec,
    candidates: &[FitSpec],
    k: usize,
    stop: &AtomicBool,
) -> Result<Vec<Result<CrossValidation>>> {
    cross_validate_each_with(base, candidates, k, stop, &())
}

/// [`cross_validate_each`] telling `progress` of every model's epochs
/// (member `candidate · k + fold`) and of every fold as soon as it is
/// scored.
///
/// # Errors
/// As [`cross_validate_each`].
pub fn cross_validate_each_with(
    base: &FitSpec,
    candidates: &[FitSpec],
    k: usize,
    stop: &AtomicBool,
    progress: &dyn Progress,
) -> Result<Vec<Result<CrossValidation>>> {
    check_specs(base, candidates)?;
    let raw = training_table(base)?;
    let n = raw.rows();
    if n < 2 {
        return Err(Error::config(
            "folds",
            format!("the table has {n} row(s); cross-validation needs at least 2"),
        ));
    }
    if k < 2 || k > n {
        return Err(Error::config(
            "folds",
            format!("{k} folds of {n} rows: give 2 to {n}"),
        ));
    }
    let classes = if stratify(base, &raw) {
        let c = raw.class_indices(&raw.class_map()?)?;
        let mut counts = vec![0usize; c.iter().max().map_or(0, |m| m + 1)];
        for &x in &c {
            counts[x] += 1;
        }
        if let Some(least) = counts.iter().copied().min().filter(|&m| m < k) {
            return Err(Error::config(
                "folds",
                format!(
                    "{k} folds, but a class has only {least} rows: every fold needs each \
                     class; give at most {least} folds"
                ),
            ));
        }
        Some(c)
    } else {
        None
    };
    let seed = base.seed.unwrap_or(DEFAULT_SEED);
    let fold = fold_of_rows(n, k, seed, classes.as_deref());
    // each fold's rows; its tables are made as its models start, so only
    // the running models' copies are in memory
    let rows: Vec<(Vec<usize>, Vec<usize>)> = (0..k)
        .map(|f| (0..n).partition(|&r| fold[r] != f))
        .collect();
    let (source_name, notes) = (raw.source_name.clone(), raw.notes.clone());
    let part = |f: usize, inside: bool| -> Result<RawTable> {
        match inside {
            true => raw.take_rows(&rows[f].0, &format!("folds other than {}", f + 1)),
            false => raw.take_rows(&rows[f].1, &format!("fold {}", f + 1)),
        }
    };
    let embedded = base.data == DataSource::BreastCancer;
    let make = |i: usize| -> Result<FitSpec> {
        let (c, f) = (&candidates[i / k], i % k);
        // the embedded set's defaults, which tables in memory do not take
        let c = if embedded { &c.classic() } else { c };
        Ok(FitSpec {
            data: DataSource::Tables {
                train: Box::new(part(f, true)?),
                test: Some(Box::new(part(f, false)?)),
            },
            read: crate::pipeline::ReadOverrides {
                labels_path: None,
                ..base.read.clone()
            },
            seed: Some(c.seed.unwrap_or(seed)),
            ..c.clone()
        })
    };
    // each fold scored on its worker as soon as its model is trained
    let then = |i: usize, run: Result<FitOutcome>| {
        let (c, f) = (i / k, i % k);
        let scored = run.and_then(|o| score(o, rows[f].0.len(), &part(f, false)?));
        match &scored {
            Ok(r) => progress.on_fold(c, f, Some((&figures(&r.evaluation), r.outcome.epochs))),
            Err(_) => progress.on_fold(c, f, None),
        }
        scored
    };
    let n_members = candidates.len() * k;
    let mut runs = fit_made(n_members, base.threads, &make, stop, progress, &then).into_iter();
    let mut out = Vec::with_capacity(candidates.len());
    for _ in candidates {
        let mut folds = Vec::with_capacity(k);
        let mut failed = None;
        for f in 0..k {
            let run = runs.next().expect("one run per candidate and fold");
            if failed.is_some() {
                continue;
            }
            match run {
                Ok(report) => folds.push(report),
                Err(e) => failed = Some(in_fold(f, e)),
            }
        }
        out.push(match failed {
            Some(e) => Err(e),
            None => Ok(CrossValidation {
                folds,
                source_name: source_name.clone(),
                notes: notes.clone(),
            }),
        });
    }
    Ok(out)
}

/// Refuses what cross-validation cannot honour: test data (every fold is
/// held out in turn), a checkpoint, a resumed run or an initial model (every
/// fold trains afresh).
fn check_specs(base: &FitSpec, candidates: &[FitSpec]) -> Result<()> {
    for spec in std::iter::once(base).chain(candidates) {
        for (given, option) in [
            (spec.test_data.is_some(), "test_data"),
            (spec.resume.is_some(), "resume"),
            (spec.init_model.is_some(), "init_model"),
            (spec.checkpoint.is_some(), "checkpoint"),
        ] {
            if given {
                return Err(Error::config(
                    option,
                    "cross-validation holds each fold out in turn and trains every fold \
                     afresh; drop this option",
                ));
            }
        }
    }
    if let DataSource::Tables { test: Some(_), .. } = &base.data {
        return Err(Error::config(
            "data",
            "cross-validation holds each fold out in turn; give the tables without a test table",
        ));
    }
    Ok(())
}

/// A fold's report: its model scored on the fold's rows.
fn score(mut outcome: FitOutcome, train_rows: usize, test: &RawTable) -> Result<FoldReport> {
    outcome.checkpoint = None;
    let threshold = evaluate::threshold_for(&outcome.mlp, None)?;
    let evaluation = evaluate::evaluate(&outcome.mlp, &outcome.meta, test, threshold)?;
    Ok(FoldReport {
        train_rows,
        held_out_rows: test.rows(),
        evaluation,
        outcome,
    })
}

/// `e`, said to be fold `f`'s (0-based).
fn in_fold(f: usize, e: Error) -> Error {
    Error::config("folds", format!("fold {}: {e}", f + 1))
}
