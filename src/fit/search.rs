//! Hyper-parameter search ([`search`]): candidates from a grid
//! ([`grid`]) or drawn from ranges ([`draw`]), every candidate
//! cross-validated on the same folds, all `candidates × folds` models
//! trained in one pass ([`super::cross_validate_each`]), and ranked.
//!
//! A search space is text: settings separated by `;`, each `name=values`.
//! Values are separated by `|` (for every setting but `layers` also by
//! `,`): `lr=0.001,0.003; layers=64|128,64; weight-decay=0,1e-4`. For
//! [`draw`], a number setting may be a range `lo..hi`: drawn uniformly, or
//! log-uniformly for `lr` and `weight-decay` when `lo > 0`; an integer
//! setting's range gives integers.

use std::str::FromStr;
use std::sync::atomic::AtomicBool;

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::cv::{cross_validate_each_with, CrossValidation, Spread};
use super::spec::{default_optimizer, DataSource, FitSpec};
use crate::activation::Activation;
use crate::error::{Error, Result};
use crate::optim::OptimizerKind;

/// A setting a search varies.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Param {
    /// `optimizer`: the update rule.
    Optimizer,
    /// `lr`: the learning rate.
    Lr,
    /// `weight-decay`.
    WeightDecay,
    /// `momentum` (SGD).
    Momentum,
    /// `layers`: the hidden layer sizes.
    Layers,
    /// `activation`: of the hidden layers.
    Activation,
    /// `init`: how the weights are drawn ([`crate::Init`]).
    Init,
    /// `batch-size`.
    BatchSize,
    /// `epochs`.
    Epochs,
    /// `dropout`.
    Dropout,
    /// `label-smoothing`.
    LabelSmoothing,
    /// `clip-norm`.
    ClipNorm,
}

/// Every [`Param`] with its name.
const PARAMS: [(Param, &str); 12] = [
    (Param::Optimizer, "optimizer"),
    (Param::Lr, "lr"),
    (Param::WeightDecay, "weight-decay"),
    (Param::Momentum, "momentum"),
    (Param::Layers, "layers"),
    (Param::Activation, "activation"),
    (Param::Init, "init"),
    (Param::BatchSize, "batch-size"),
    (Param::Epochs, "epochs"),
    (Param::Dropout, "dropout"),
    (Param::LabelSmoothing, "label-smoothing"),
    (Param::ClipNorm, "clip-norm"),
];

impl Param {
    /// The setting's name, as the command line's flag without `--`.
    pub fn name(self) -> &'static str {
        PARAMS.iter().find(|(p, _)| *p == self).expect("named").1
    }

    fn is_integer(self) -> bool {
        matches!(self, Param::BatchSize | Param::Epochs)
    }

    fn is_number(self) -> bool {
        !matches!(
            self,
            Param::Layers | Param::Activation | Param::Init | Param::Optimizer
        )
    }
}

impl FromStr for Param {
    type Err = Error;
    fn from_str(s: &str) -> Result<Param> {
        PARAMS
            .iter()
            .find(|(_, n)| *n == s)
            .map(|(p, _)| *p)
            .ok_or_else(|| {
                let names: Vec<&str> = PARAMS.iter().map(|(_, n)| *n).collect();
                Error::config(
                    "grid",
                    format!("unknown setting {s:?}: give one of {}", names.join(", ")),
                )
            })
    }
}

/// One candidate: a value for each setting searched, in the order given.
#[derive(Clone, Debug, PartialEq)]
pub struct Candidate {
    /// `(setting, value as text)`, the value checked when parsed.
    pub settings: Vec<(Param, String)>,
}

impl Candidate {
    /// `lr=0.001 layers=64,32`.
    pub fn describe(&self) -> String {
        self.settings
            .iter()
            .map(|(p, v)| format!("{}={v}", p.name()))
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// `base` with this candidate's settings.
    ///
    /// # Errors
    /// A value that does not parse (checked already by [`grid`] and
    /// [`draw`]).
    pub fn apply(&self, base: &FitSpec) -> Result<FitSpec> {
        let mut spec = base.clone();
        let embedded = spec.data == DataSource::BreastCancer;
        let mut settings = self.settings.clone();
        // the rule first: decay and momentum are set on it
        settings.sort_by_key(|(p, _)| *p);
        for (p, v) in &settings {
            let bad = |e: String| Error::config("grid", format!("{}={v}: {e}", p.name()));
            let number = || v.parse::<f64>().map_err(|e| bad(e.to_string()));
            let count = || v.parse::<usize>().map_err(|e| bad(e.to_string()));
            match p {
                Param::Optimizer => {
                    let kind = v.parse::<OptimizerKind>()?;
                    let mut o = spec
                        .optimizer
                        .unwrap_or_else(|| default_optimizer(embedded));
                    o.kind = kind;
                    spec.optimizer = Some(o);
                }
                Param::Lr => spec.lr = Some(number()? as f32),
                Param::WeightDecay | Param::Momentum => {
                    let mut o = spec
                        .optimizer
                        .unwrap_or_else(|| default_optimizer(embedded));
                    if *p == Param::WeightDecay {
                        o.weight_decay = number()? as f32;
                    } else {
                        o.momentum = number()? as f32;
                    }
                    spec.optimizer = Some(o);
                }
                Param::Layers => {
                    let sizes = v
                        .split(',')
                        .map(|s| s.trim().parse::<usize>())
                        .collect::<std::result::Result<Vec<_>, _>>()
                        .map_err(|e| bad(e.to_string()))?;
                    spec.hidden_layers = Some(sizes);
                }
                Param::Activation => spec.activation = Some(v.parse::<Activation>()?),
                Param::Init => spec.init = Some(v.parse::<crate::Init>()?),
                Param::BatchSize => spec.batch_size = Some(count()?),
                Param::Epochs => spec.epochs = count()?,
                Param::Dropout => spec.dropout = Some(number()? as f32),
                Param::LabelSmoothing => spec.label_smoothing = Some(number()? as f32),
                Param::ClipNorm => spec.clip_norm = Some(number()? as f32),
            }
        }
        Ok(spec)
    }
}

/// What one setting of a space may take.
#[derive(Clone, Debug, PartialEq)]
enum Values {
    /// These values.
    Choices(Vec<String>),
    /// A number between the two ([`draw`] only).
    Range(f64, f64),
}

/// The settings of a space, in order.
fn parse_space(text: &str) -> Result<Vec<(Param, Values)>> {
    let bad = |m: String| Error::config("grid", m);
    let mut out: Vec<(Param, Values)> = Vec::new();
    for part in text.split(';').map(str::trim).filter(|p| !p.is_empty()) {
        let (name, values) = part
            .split_once('=')
            .ok_or_else(|| bad(format!("{part:?}: give name=values")))?;
        let p: Param = name.trim().parse()?;
        if out.iter().any(|(q, _)| *q == p) {
            return Err(bad(format!("{} is given twice", p.name())));
        }
        let values = values.trim();
        let v = match values.split_once("..") {
            Some((lo, hi)) if p.is_number() => {
                let (lo, hi) = (lo.trim().parse::<f64>(), hi.trim().parse::<f64>());
                match (lo, hi) {
                    (Ok(lo), Ok(hi)) if lo.is_finite() && hi.is_finite() && lo < hi => {
                        Values::Range(lo, hi)
                    }
                    _ => {
                        return Err(bad(format!(
                            "{}={values}: a range is lo..hi, two numbers with lo < hi",
                            p.name()
                        )))
                    }
                }
            }
            _ => {
                let sep: &[char] = if p == Param::Layers {
                    &['|']
                } else {
                    &['|', ',']
                };
                let choices: Vec<String> = values
                    .split(sep)
                    .map(|s| s.trim().to_string())
                    .filter(|s| !s.is_empty())
                    .collect();
                if choices.is_empty() {
                    return Err(bad(format!("{}: no values", p.name())));
                }
                Values::Choices(choices)
            }
        };
        out.push((p, v));
    }
    if out.is_empty() {
        return Err(bad("no settings: give name=values; …".to_string()));
    }
    Ok(out)
}

/// Checks that `c` applies to a default spec (each value parses).
fn check(c: Candidate) -> Result<Candidate> {
    c.apply(&FitSpec::default())?;
    Ok(c)
}

/// Every combination of the values of `space` (the last setting varying
/// fastest).
///
/// ```
/// use backprop::fit::grid;
/// let c = grid("lr=0.001,0.01; layers=64|128,64")?;
/// assert_eq!(c.len(), 4);
/// assert_eq!(c[1].describe(), "lr=0.001 layers=128,64");
/// # Ok::<(), backprop::Error>(())
/// ```
///
/// # Errors
/// [`Error::Config`] (`grid`): a setting that is not one of [`Param`]'s, a
/// value that does not parse, a range (give [`draw`] ranges).
pub fn grid(space: &str) -> Result<Vec<Candidate>> {
    let settings = parse_space(space)?;
    let mut out = vec![Candidate {
        settings: Vec::new(),
    }];
    for (p, v) in settings {
        let Values::Choices(choices) = v else {
            return Err(Error::config(
                "grid",
                format!(
                    "{}: a range lo..hi is drawn from, so it needs a number of draws (random)",
                    p.name()
                ),
            ));
        };
        out = out
            .into_iter()
            .flat_map(|c| {
                choices.iter().map(move |v| {
                    let mut c = c.clone();
                    c.settings.push((p, v.clone()));
                    c
                })
            })
            .collect();
    }
    out.into_iter().map(check).collect()
}

/// `n` candidates drawn from `space` with `seed`: each setting's value a
/// uniform choice, or from its range (see the module docs).
///
/// ```
/// use backprop::fit::draw;
/// let c = draw("lr=1e-4..1e-1; batch-size=16..64; layers=32|64", 5, 1)?;
/// assert_eq!(c.len(), 5);
/// assert_eq!(c, draw("lr=1e-4..1e-1; batch-size=16..64; layers=32|64", 5, 1)?);
/// for x in &c {
///     let lr: f64 = x.settings[0].1.parse().unwrap();
///     assert!((1e-4..=1e-1).contains(&lr));
/// }
/// # Ok::<(), backprop::Error>(())
/// ```
///
/// # Errors
/// As [`grid`], and `n` of 0.
pub fn draw(space: &str, n: usize, seed: u64) -> Result<Vec<Candidate>> {
    if n == 0 {
        return Err(Error::config("random", "must be at least 1"));
    }
    let settings = parse_space(space)?;
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ DRAW_SALT);
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let mut c = Candidate {
            settings: Vec::with_capacity(settings.len()),
        };
        for (p, v) in &settings {
            let value = match v {
                Values::Choices(choices) => choices[rng.random_range(0..choices.len())].clone(),
                Values::Range(lo, hi) if p.is_integer() => {
                    let (lo, hi) = (lo.ceil() as i64, hi.floor() as i64);
                    if lo > hi || lo < 0 {
                        return Err(Error::config(
                            "grid",
                            format!("{}: the range holds no count", p.name()),
                        ));
                    }
                    rng.random_range(lo..=hi).to_string()
                }
                Values::Range(lo, hi) => {
                    let u: f64 = rng.random_range(0.0..1.0);
                    let log = matches!(p, Param::Lr | Param::WeightDecay) && *lo > 0.0;
                    let x = if log {
                        (lo.ln() + u * (hi.ln() - lo.ln())).exp()
                    } else {
                        lo + u * (hi - lo)
                    };
                    // the shortest text of the f32 the spec takes
                    (x.clamp(*lo, *hi) as f32).to_string()
                }
            };
            c.settings.push((*p, value));
        }
        out.push(check(c)?);
    }
    Ok(out)
}

/// Mixed into the seed of [`draw`].
const DRAW_SALT: u64 = 0x7365_6172_6368_2121;

/// One candidate's outcome.
#[derive(Clone, Debug)]
pub struct Ranked {
    /// The candidate.
    pub candidate: Candidate,
    /// Its cross-validation, or why it failed.
    pub result: std::result::Result<CrossValidation, String>,
}

impl Ranked {
    /// The headline figure's mean and spread (accuracy, R² or exact match:
    /// higher is better), if the candidate ran.
    pub fn headline(&self) -> Option<(&'static str, Spread)> {
        self.result.as_ref().ok()?.summary().first().copied()
    }

    /// The mean held-out loss, if the candidate ran.
    pub fn loss(&self) -> Option<f64> {
        self.result
            .as_ref()
            .ok()?
            .summary()
            .iter()
            .find(|(n, _)| *n == "loss")
            .map(|(_, s)| s.mean)
    }
}

/// Cross-validates every candidate on `k` folds of `base`'s training rows
/// (the folds of [`super::cross_validate`], seeded by `base.seed`), all
/// `candidates × k` models in one pass on `base.threads` threads, and ranks
/// them: the headline figure's mean, higher first, then the lower mean loss,
/// then the order given; failed candidates last.
///
/// # Errors
/// As [`super::cross_validate_each`]; a candidate that fails to train is ranked
/// last with its message, not an error.
pub fn search(
    base: &FitSpec,
    candidates: &[Candidate],
    k: usize,
    stop: &AtomicBool,
) -> Result<Vec<Ranked>> {
    search_with(base, candidates, k, stop, &())
}

/// [`search`] telling `progress` as it goes ([`cross_validate_each_with`]).
///
/// # Errors
/// As [`search`].
pub fn search_with(
    base: &FitSpec,
    candidates: &[Candidate],
    k: usize,
    stop: &AtomicBool,
    progress: &dyn super::Progress,
) -> Result<Vec<Ranked>> {
    if candidates.is_empty() {
        return Err(Error::config("grid", "no candidates"));
    }
    let specs = candidates
        .iter()
        .map(|c| c.apply(base))
        .collect::<Result<Vec<_>>>()?;
    let results = cross_validate_each_with(base, &specs, k, stop, progress)?;
    let mut ranked: Vec<(usize, Ranked)> = candidates
        .iter()
        .zip(results)
        .enumerate()
        .map(|(i, (c, r))| {
            (
                i,
                Ranked {
                    candidate: c.clone(),
                    result: r.map_err(|e| e.to_string()),
                },
            )
        })
        .collect();
    ranked.sort_by(|(i, a), (j, b)| {
        // a NaN figure ranks as the worst
        let key = |r: &Ranked| {
            r.headline().map(|(_, s)| {
                if s.mean.is_nan() {
                    f64::NEG_INFINITY
                } else {
                    s.mean
                }
            })
        };
        match (key(a), key(b)) {
            (Some(x), Some(y)) => y
                .total_cmp(&x)
                .then_with(|| {
                    a.loss()
                        .unwrap_or(f64::INFINITY)
                        .total_cmp(&b.loss().unwrap_or(f64::INFINITY))
                })
                .then(i.cmp(j)),
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (None, None) => i.cmp(j),
        }
    });
    Ok(ranked.into_iter().map(|(_, r)| r).collect())
}
