//! The optimizer: PyTorch's update rules on the flat parameter vector, with
//! their state in one flat buffer laid out chunk by chunk beside the
//! parameters, so the trainer updates disjoint chunks in parallel without
//! allocating.
//!
//! Each step sees the summed gradient `g` of a batch and a gradient scale `s`
//! (the trainer passes `s = clip/m`), so the mean gradient is `s·g`. With
//! learning rate `η`, weight decay `λ` (applied to **weights only**: every
//! bias range gets `λ = 0`, like PyTorch with two parameter groups) and step
//! number `t = 1, 2, …`, the rules are PyTorch's (`torch.optim`, single-tensor
//! code, `maximize=False`):
//!
//! | [`OptimizerKind`] | update of each parameter `w` | state ([`OptimizerConfig::state_names`]) |
//! |---|---|---|
//! | `Sgd`, `μ = 0` | `d = s·g + λ·w`; `w ← w - η·d` | none |
//! | `Sgd`, `μ > 0` | `d = s·g + λ·w`; `buf ← d` if `t = 1`, else `μ·buf + d`; `u = d + μ·buf` (Nesterov) or `buf`; `w ← w - η·u` | `momentum_buffer` |
//! | `Adam` | `d = s·g + λ·w`; `m ← β₁·m + (1-β₁)·d`; `v ← β₂·v + (1-β₂)·d²`; `w ← w - (η/bc₁)·m / (sqrt(v)/bc₂ + ε)` | `exp_avg`, `exp_avg_sq` |
//! | `AdamW` | `w ← w·(1 - η·λ)`; `d = s·g`; then as Adam | `exp_avg`, `exp_avg_sq` |
//! | `RmsProp` | `d = s·g + λ·w`; `sq ← α·sq + (1-α)·d²`; `w ← w - η·d / (sqrt(sq) + ε)` | `square_avg` |
//!
//! with the bias corrections `bc₁ = 1 - β₁^t` and `bc₂ = sqrt(1 - β₂^t)`
//! computed in `f64` (PyTorch's Python floats) and rounded to `f32`. Dampening
//! is 0; RMSprop has no momentum and is not centered; the state starts at 0.
//! Plain SGD without decay is `w ← w + (-η·s)·g`, one fused multiply-add, the
//! same bits as the trainer's update before optimizers had state.
//!
//! The arithmetic is in [`crate::kernels::simd`] (`sgd_simd`, …), each kernel
//! beside a scalar twin in [`crate::kernels::scalar`].
//!
//! ```
//! use backprop::optim::{Optimizer, OptimizerConfig, OptimizerKind};
//! let cfg = OptimizerConfig { kind: OptimizerKind::AdamW, weight_decay: 0.5, ..OptimizerConfig::default() };
//! // 6 parameters: a 2×2 weight matrix, then its 2 biases; chunks of 4
//! let mut opt = Optimizer::new(cfg, 6, vec![4..6], 4)?;
//! let mut params = [0.5f32; 6];
//! opt.step(0.25, 1.0, &mut params, &[0.0; 6]); // no gradient: only the decay
//! assert_eq!(params[..4], [0.5 * (1.0 - 0.25 * 0.5); 4]);
//! assert_eq!(params[4..], [0.5; 2]); // biases are not decayed
//! # Ok::<(), backprop::Error>(())
//! ```

use std::fmt;
use std::ops::Range;
use std::str::FromStr;

use crate::aligned::AlignedVec;
use crate::error::{Error, Result};
use crate::kernels::{simd, AdamHyper, MomentumHyper, RmsPropHyper, SgdHyper};

/// Which update rule an [`Optimizer`] applies.
///
/// ```
/// use backprop::optim::OptimizerKind;
/// let k: OptimizerKind = "adamw".parse()?;
/// assert_eq!((k, k.to_string()), (OptimizerKind::AdamW, "adamw".to_string()));
/// assert!("lbfgs".parse::<OptimizerKind>().is_err());
/// # Ok::<(), backprop::Error>(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum OptimizerKind {
    /// Stochastic gradient descent, with optional (Nesterov) momentum.
    #[default]
    Sgd,
    /// Adam, with L2 weight decay added to the gradient.
    Adam,
    /// AdamW: Adam with decoupled weight decay.
    AdamW,
    /// RMSprop, without momentum, not centered.
    RmsProp,
}

impl OptimizerKind {
    /// Every kind, in the order of [`OptimizerKind::name`]'s documentation.
    pub const ALL: [OptimizerKind; 4] = [
        OptimizerKind::Sgd,
        OptimizerKind::Adam,
        OptimizerKind::AdamW,
        OptimizerKind::RmsProp,
    ];

    /// The lower-case name: `"sgd"`, `"adam"`, `"adamw"` or `"rmsprop"`.
    ///
    /// ```
    /// use backprop::optim::OptimizerKind;
    /// let names: Vec<_> = OptimizerKind::ALL.iter().map(|k| k.name()).collect();
    /// assert_eq!(names, ["sgd", "adam", "adamw", "rmsprop"]);
    /// ```
    pub fn name(self) -> &'static str {
        match self {
            OptimizerKind::Sgd => "sgd",
            OptimizerKind::Adam => "adam",
            OptimizerKind::AdamW => "adamw",
            OptimizerKind::RmsProp => "rmsprop",
        }
    }
}

impl fmt::Display for OptimizerKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for OptimizerKind {
    type Err = Error;

    /// Parses a [`OptimizerKind::name`], ignoring ASCII case.
    ///
    /// # Errors
    /// [`Error::Config`] (`kind`) for any other string.
    fn from_str(s: &str) -> Result<OptimizerKind> {
        OptimizerKind::ALL
            .into_iter()
            .find(|k| k.name().eq_ignore_ascii_case(s))
            .ok_or_else(|| {
                let known: Vec<_> = OptimizerKind::ALL.iter().map(|k| k.name()).collect();
                Error::config(
                    "kind",
                    format!("unknown optimizer '{s}' (known: {})", known.join(", ")),
                )
            })
    }
}

/// An optimizer's hyper-parameters (the learning rate is passed per step).
///
/// [`Default`] is plain SGD with PyTorch's defaults for the other fields.
/// Fields that the kind does not use are ignored, except `momentum` and
/// `nesterov`, which only SGD accepts (see [`OptimizerConfig::validate`]).
///
/// ```
/// use backprop::optim::{OptimizerConfig, OptimizerKind};
/// let c = OptimizerConfig::default();
/// assert_eq!((c.kind, c.momentum, c.beta1, c.beta2, c.alpha, c.eps), (OptimizerKind::Sgd, 0.0, 0.9, 0.999, 0.99, 1e-8));
/// let adam = OptimizerConfig { kind: OptimizerKind::Adam, weight_decay: 1e-4, ..c };
/// assert!(adam.validate().is_ok());
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct OptimizerConfig {
    /// The update rule.
    pub kind: OptimizerKind,
    /// SGD momentum `μ ≥ 0` (0: plain SGD).
    pub momentum: f32,
    /// SGD: Nesterov momentum (needs `momentum > 0`).
    pub nesterov: bool,
    /// Adam/AdamW `β₁` in `[0, 1)`.
    pub beta1: f32,
    /// Adam/AdamW `β₂` in `[0, 1)`.
    pub beta2: f32,
    /// RMSprop smoothing constant `α` in `[0, 1)`.
    pub alpha: f32,
    /// Adam/AdamW/RMSprop `ε > 0`, added to the denominator.
    pub eps: f32,
    /// Weight decay `λ ≥ 0`, applied to weights only (never to biases).
    pub weight_decay: f32,
}

impl Default for OptimizerConfig {
    fn default() -> Self {
        OptimizerConfig {
            kind: OptimizerKind::Sgd,
            momentum: 0.0,
            nesterov: false,
            beta1: 0.9,
            beta2: 0.999,
            alpha: 0.99,
            eps: 1e-8,
            weight_decay: 0.0,
        }
    }
}

/// An optimizer as a front end collects it: a name and the constants it
/// was given (`None`: [`OptimizerConfig::default`]'s, PyTorch's). The command
/// line and the Python package build their [`OptimizerConfig`] through it.
///
/// ```
/// use backprop::optim::{OptimizerKind, OptimizerParts};
/// let parts = OptimizerParts { kind: Some("sgd"), momentum: Some(0.9), ..Default::default() };
/// let cfg = parts.config(OptimizerKind::Adam)?;
/// assert_eq!((cfg.kind, cfg.momentum), (OptimizerKind::Sgd, 0.9));
/// assert!(OptimizerParts { kind: Some("adam"), momentum: Some(0.9), ..Default::default() }
///     .config(OptimizerKind::Adam)
///     .is_err()); // momentum is SGD's alone
/// # Ok::<(), backprop::Error>(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct OptimizerParts<'a> {
    /// The kind's name ([`OptimizerKind::name`], any case).
    pub kind: Option<&'a str>,
    /// SGD momentum.
    pub momentum: Option<f32>,
    /// Nesterov momentum.
    pub nesterov: bool,
    /// Adam/AdamW first-moment decay.
    pub beta1: Option<f32>,
    /// Adam/AdamW second-moment decay.
    pub beta2: Option<f32>,
    /// RMSprop smoothing constant.
    pub alpha: Option<f32>,
    /// The denominator term.
    pub eps: Option<f32>,
    /// L2 penalty (AdamW: decoupled decay).
    pub weight_decay: Option<f32>,
}

impl OptimizerParts<'_> {
    /// Whether nothing was given (the session then picks its default).
    pub fn is_empty(&self) -> bool {
        *self == OptimizerParts::default()
    }

    /// The configuration: the kind named (else `default_kind`) with the
    /// constants given over the defaults, checked.
    ///
    /// # Errors
    /// [`Error::Config`]: an unknown kind, or as [`OptimizerConfig::validate`].
    pub fn config(&self, default_kind: OptimizerKind) -> Result<OptimizerConfig> {
        let kind = match self.kind {
            Some(name) => name.parse()?,
            None => default_kind,
        };
        let d = OptimizerConfig::default();
        let cfg = OptimizerConfig {
            kind,
            momentum: self.momentum.unwrap_or(d.momentum),
            nesterov: self.nesterov,
            beta1: self.beta1.unwrap_or(d.beta1),
            beta2: self.beta2.unwrap_or(d.beta2),
            alpha: self.alpha.unwrap_or(d.alpha),
            eps: self.eps.unwrap_or(d.eps),
            weight_decay: self.weight_decay.unwrap_or(d.weight_decay),
        };
        cfg.validate()?;
        Ok(cfg)
    }
}

impl OptimizerConfig {
    /// Checks the ranges PyTorch checks: `momentum ≥ 0`, Nesterov only with
    /// `momentum > 0`, `β₁, β₂, α ∈ [0, 1)`, `ε > 0`, `weight_decay ≥ 0`, all
    /// finite. Momentum and Nesterov are SGD's alone: set for another kind
    /// they are an error rather than silently ignored.
    ///
    /// ```
    /// use backprop::{optim::OptimizerConfig, Error};
    /// let bad = OptimizerConfig { nesterov: true, ..OptimizerConfig::default() };
    /// assert!(matches!(bad.validate(), Err(Error::Config { option: "nesterov", .. })));
    /// let bad = OptimizerConfig { beta1: 1.0, ..OptimizerConfig::default() };
    /// assert!(matches!(bad.validate(), Err(Error::Config { option: "beta1", .. })));
    /// ```
    ///
    /// # Errors
    /// [`Error::Config`] whose `option` is the offending field's name
    /// (`momentum`, `nesterov`, `beta1`, `beta2`, `alpha`, `eps`,
    /// `weight_decay`).
    pub fn validate(&self) -> Result<()> {
        let non_negative = |name: &'static str, v: f32| {
            if v.is_finite() && v >= 0.0 {
                Ok(())
            } else {
                Err(Error::config(
                    name,
                    format!("{v} is not a finite number ≥ 0"),
                ))
            }
        };
        let unit = |name: &'static str, v: f32| {
            if (0.0..1.0).contains(&v) {
                Ok(())
            } else {
                Err(Error::config(name, format!("{v} is not in [0, 1)")))
            }
        };
        non_negative("momentum", self.momentum)?;
        if self.kind != OptimizerKind::Sgd && self.momentum != 0.0 {
            return Err(Error::config(
                "momentum",
                format!("only sgd has momentum, not {}", self.kind),
            ));
        }
        if self.nesterov && (self.kind != OptimizerKind::Sgd || self.momentum == 0.0) {
            return Err(Error::config(
                "nesterov",
                "Nesterov momentum needs sgd with momentum > 0",
            ));
        }
        unit("beta1", self.beta1)?;
        unit("beta2", self.beta2)?;
        unit("alpha", self.alpha)?;
        if !(self.eps.is_finite() && self.eps > 0.0) {
            return Err(Error::config(
                "eps",
                format!("{} is not a positive finite number", self.eps),
            ));
        }
        non_negative("weight_decay", self.weight_decay)
    }

    /// PyTorch's names of the per-parameter state buffers, in the order of
    /// [`Optimizer::buffers`]: none for plain SGD, `momentum_buffer` for SGD
    /// with momentum, `exp_avg` and `exp_avg_sq` for Adam and AdamW,
    /// `square_avg` for RMSprop.
    ///
    /// ```
    /// use backprop::optim::{OptimizerConfig, OptimizerKind};
    /// let sgd = OptimizerConfig::default();
    /// assert!(sgd.state_names().is_empty());
    /// assert_eq!(OptimizerConfig { momentum: 0.9, ..sgd }.state_names(), ["momentum_buffer"]);
    /// assert_eq!(OptimizerConfig { kind: OptimizerKind::Adam, ..sgd }.state_names(), ["exp_avg", "exp_avg_sq"]);
    /// ```
    pub fn state_names(&self) -> &'static [&'static str] {
        match self.kind {
            OptimizerKind::Sgd if self.momentum == 0.0 => &[],
            OptimizerKind::Sgd => &["momentum_buffer"],
            OptimizerKind::Adam | OptimizerKind::AdamW => &["exp_avg", "exp_avg_sq"],
            OptimizerKind::RmsProp => &["square_avg"],
        }
    }
}

/// Everything the kernels need for one step, from [`Optimizer::begin_step`].
///
/// ```
/// use backprop::optim::{Optimizer, OptimizerConfig, OptimizerKind};
/// let cfg = OptimizerConfig { kind: OptimizerKind::Adam, beta1: 0.5, beta2: 0.75, ..OptimizerConfig::default() };
/// let mut opt = Optimizer::new(cfg, 10, vec![], 10).unwrap();
/// let s = opt.begin_step(0.1, 0.25);
/// assert_eq!((s.step, s.first_step, s.bias_correction1, s.bias_correction2_sqrt), (1, true, 0.5, 0.5));
/// let s = opt.begin_step(0.1, 0.25);
/// assert_eq!((s.step, s.first_step, s.bias_correction1), (2, false, 0.75));
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StepScalars {
    /// The learning rate `η` of this step.
    pub lr: f32,
    /// The gradient scale `s`: the mean gradient is `s·g`.
    pub grad_scale: f32,
    /// The step number `t`, from 1.
    pub step: u64,
    /// `t == 1`: SGD's momentum buffer starts as the gradient.
    pub first_step: bool,
    /// `1 - β₁^t` (Adam/AdamW; 1 otherwise).
    pub bias_correction1: f32,
    /// `sqrt(1 - β₂^t)` (Adam/AdamW; 1 otherwise).
    pub bias_correction2_sqrt: f32,
    /// A factor on the configured weight decay for this step (1 unless the
    /// trainer divides the decay by a weighted batch's weight sum:
    /// [`crate::TrainConfig::decay_by_weight`]).
    pub decay_scale: f32,
}

/// An optimizer over a flat parameter vector: its configuration, the step
/// count, which ranges are biases, and the state.
///
/// The state is one `Vec<f32>` of `k·n_params` values, `k =
/// state_len_per_param()`, laid out chunk by chunk: chunk `c` covers
/// `params[c·chunk .. min((c+1)·chunk, n)]` (`len` values) and its state is
/// `state[k·c·chunk .. k·c·chunk + k·len]`, buffer 0 (`len` values) then
/// buffer 1. So the trainer can zip `params.par_chunks_mut(chunk)`,
/// `grad.par_chunks_mut(chunk)` and `state.par_chunks_mut(k·chunk)` (when
/// `k > 0`; pass `&mut []` when `k == 0`) inside [`Optimizer::with_state`]
/// and call [`Optimizer::update_chunk`] on each, in parallel, with the same
/// bits as [`Optimizer::step`].
///
/// ```
/// use backprop::optim::{Optimizer, OptimizerConfig};
/// use rayon::prelude::*;
/// let cfg = OptimizerConfig { momentum: 0.9, ..OptimizerConfig::default() };
/// let mut opt = Optimizer::new(cfg, 5, vec![4..5], 2)?; // chunks [0,2) [2,4) [4,5)
/// let (mut p, g) = ([1.0f32; 5], [1.0f32; 5]);
/// let s = opt.begin_step(0.5, 1.0);
/// let (k, chunk) = (opt.state_len_per_param(), opt.chunk());
/// opt.with_state(|opt, state| {
///     p.par_chunks_mut(chunk)
///         .zip(g.par_chunks(chunk))
///         .zip(state.par_chunks_mut(k * chunk))
///         .enumerate()
///         .for_each(|(c, ((p, g), st))| opt.update_chunk(&s, c, p, g, st));
/// });
/// assert_eq!(p, [0.5; 5]);
/// assert_eq!(opt.buffers(), vec![vec![1.0; 5]]);
/// # Ok::<(), backprop::Error>(())
/// ```
#[derive(Clone)]
pub struct Optimizer {
    cfg: OptimizerConfig,
    n_params: usize,
    step: u64,
    /// Sorted, disjoint, non-empty bias ranges.
    bias: Vec<Range<usize>>,
    chunk: usize,
    /// On a cache line ([`AlignedVec`]), as the parameters and gradients.
    state: AlignedVec,
}

impl fmt::Debug for Optimizer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Optimizer")
            .field("cfg", &self.cfg)
            .field("n_params", &self.n_params)
            .field("step", &self.step)
            .field("bias", &self.bias)
            .field("chunk", &self.chunk)
            .field("state_len", &self.state.len())
            .finish()
    }
}

impl Optimizer {
    /// An optimizer for `n_params` parameters whose `bias_ranges` get no
    /// weight decay, updated in chunks of `chunk`, with zeroed state and step
    /// count 0. The ranges may come in any order and may overlap.
    ///
    /// ```
    /// use backprop::optim::{Optimizer, OptimizerConfig, OptimizerKind};
    /// let cfg = OptimizerConfig { kind: OptimizerKind::RmsProp, ..OptimizerConfig::default() };
    /// let mut opt = Optimizer::new(cfg, 10, vec![8..10], 4)?;
    /// assert_eq!((opt.step_count(), opt.chunk(), opt.state_len_per_param()), (0, 4, 1));
    /// assert_eq!(opt.state_mut().len(), 10);
    /// assert!(Optimizer::new(cfg, 10, vec![8..11], 4).is_err());
    /// # Ok::<(), backprop::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::Config`] if `cfg` does not [validate](OptimizerConfig::validate)
    /// or `chunk` is 0 (`chunk`); [`Error::Shape`] if a bias range does not lie
    /// within the parameters.
    pub fn new(
        cfg: OptimizerConfig,
        n_params: usize,
        bias_ranges: Vec<Range<usize>>,
        chunk: usize,
    ) -> Result<Optimizer> {
        cfg.validate()?;
        if chunk == 0 {
            return Err(Error::config("chunk", "must be at least 1"));
        }
        let mut bias = bias_ranges;
        if let Some(r) = bias.iter().find(|r| r.start > r.end || r.end > n_params) {
            return Err(Error::shape(
                "optimizer bias range",
                format!("a range within 0..{n_params}"),
                format!("{r:?}"),
            ));
        }
        bias.retain(|r| !r.is_empty());
        bias.sort_by_key(|r| r.start);
        let mut merged: Vec<Range<usize>> = Vec::with_capacity(bias.len());
        for r in bias {
            match merged.last_mut() {
                Some(last) if r.start <= last.end => last.end = last.end.max(r.end),
                _ => merged.push(r),
            }
        }
        let k = cfg.state_names().len();
        Ok(Optimizer {
            cfg,
            n_params,
            step: 0,
            bias: merged,
            chunk,
            state: AlignedVec::zeros(k * n_params),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &OptimizerConfig {
        &self.cfg
    }

    /// Steps taken so far (restored by [`Optimizer::restore`]).
    pub fn step_count(&self) -> u64 {
        self.step
    }

    /// The chunk length given to [`Optimizer::new`].
    pub fn chunk(&self) -> usize {
        self.chunk
    }

    /// `k`, the number of state values per parameter
    /// (`config().state_names().len()`).
    pub fn state_len_per_param(&self) -> usize {
        self.cfg.state_names().len()
    }

    /// The state buffer in its chunked layout (see [`Optimizer`]);
    /// `k·n_params` values, empty for plain SGD.
    pub fn state_mut(&mut self) -> &mut [f32] {
        &mut self.state
    }

    /// Starts a step: increments the step count to `t` and returns the
    /// scalars every chunk of this step needs.
    pub fn begin_step(&mut self, lr: f32, grad_scale: f32) -> StepScalars {
        self.step += 1;
        let t = self.step;
        let (bc1, bc2) = match self.cfg.kind {
            OptimizerKind::Adam | OptimizerKind::AdamW => {
                // PyTorch: `1 - beta1 ** step` etc. on Python floats
                let tf = t as f64;
                let bc1 = 1.0 - f64::from(self.cfg.beta1).powf(tf);
                let bc2 = (1.0 - f64::from(self.cfg.beta2).powf(tf)).sqrt();
                (bc1 as f32, bc2 as f32)
            }
            _ => (1.0, 1.0),
        };
        StepScalars {
            lr,
            grad_scale,
            step: t,
            first_step: t == 1,
            bias_correction1: bc1,
            bias_correction2_sqrt: bc2,
            decay_scale: 1.0,
        }
    }

    /// Updates chunk `chunk_index`: `params` and `grad` are
    /// `[c·chunk, min((c+1)·chunk, n))` of the parameters and summed gradient,
    /// `state` its `k·len` state values. Weight segments get the configured
    /// weight decay, bias segments none. Takes `&self`, so disjoint chunks can
    /// be updated concurrently.
    ///
    /// # Panics
    /// If the slices do not have the lengths of chunk `chunk_index`.
    pub fn update_chunk(
        &self,
        s: &StepScalars,
        chunk_index: usize,
        params: &mut [f32],
        grad: &[f32],
        state: &mut [f32],
    ) {
        let len = params.len();
        let start = chunk_index.saturating_mul(self.chunk);
        assert!(
            start < self.n_params || (start == 0 && self.n_params == 0),
            "update_chunk: chunk {chunk_index} of {} parameters in chunks of {}",
            self.n_params,
            self.chunk
        );
        assert_eq!(
            len,
            self.chunk.min(self.n_params - start),
            "update_chunk: parameters of chunk {chunk_index}"
        );
        assert_eq!(grad.len(), len, "update_chunk: gradient length");
        let k = self.state_len_per_param();
        assert_eq!(state.len(), k * len, "update_chunk: state length");
        let end = start + len;
        let (buf0, buf1) = state.split_at_mut(if k == 0 { 0 } else { len });
        // walk [start, end) alternating weight and bias segments
        let mut at = start;
        let mut i = self.bias.partition_point(|r| r.end <= start);
        while at < end {
            let (seg_end, is_bias) = match self.bias.get(i) {
                Some(r) if r.start <= at => (r.end.min(end), true),
                Some(r) => (r.start.min(end), false),
                None => (end, false),
            };
            if is_bias && seg_end == self.bias[i].end {
                i += 1;
            }
            let wd = if is_bias {
                0.0
            } else {
                self.cfg.weight_decay * s.decay_scale
            };
            let r = at - start..seg_end - start;
            let b0 = if k > 0 {
                &mut buf0[r.clone()]
            } else {
                &mut [][..]
            };
            let b1 = if k > 1 {
                &mut buf1[r.clone()]
            } else {
                &mut [][..]
            };
            self.update_segment(s, wd, &mut params[r.clone()], &grad[r], b0, b1);
            at = seg_end;
        }
    }

    /// One kernel call on a segment of parameters with one weight decay;
    /// `buf0` and `buf1` are its state buffers 0 and 1 (empty if unused).
    fn update_segment(
        &self,
        s: &StepScalars,
        weight_decay: f32,
        params: &mut [f32],
        grad: &[f32],
        buf0: &mut [f32],
        buf1: &mut [f32],
    ) {
        let c = &self.cfg;
        let (lr, grad_scale) = (s.lr, s.grad_scale);
        match c.kind {
            OptimizerKind::Sgd if c.momentum == 0.0 => simd::sgd_simd(
                params,
                grad,
                SgdHyper {
                    lr,
                    grad_scale,
                    weight_decay,
                },
            ),
            OptimizerKind::Sgd => simd::sgd_momentum_simd(
                params,
                grad,
                buf0,
                MomentumHyper {
                    lr,
                    grad_scale,
                    weight_decay,
                    momentum: c.momentum,
                    nesterov: c.nesterov,
                    first_step: s.first_step,
                },
            ),
            OptimizerKind::Adam | OptimizerKind::AdamW => simd::adam_simd(
                params,
                grad,
                buf0,
                buf1,
                AdamHyper {
                    lr,
                    grad_scale,
                    weight_decay,
                    beta1: c.beta1,
                    beta2: c.beta2,
                    eps: c.eps,
                    bias_correction1: s.bias_correction1,
                    bias_correction2_sqrt: s.bias_correction2_sqrt,
                    decoupled: c.kind == OptimizerKind::AdamW,
                },
            ),
            OptimizerKind::RmsProp => simd::rmsprop_simd(
                params,
                grad,
                buf0,
                RmsPropHyper {
                    lr,
                    grad_scale,
                    weight_decay,
                    alpha: c.alpha,
                    eps: c.eps,
                },
            ),
        }
    }

    /// One whole step, sequentially: [`Optimizer::begin_step`] then
    /// [`Optimizer::update_chunk`] on every chunk in order (the same bits as
    /// any parallel schedule of the chunks).
    ///
    /// ```
    /// use backprop::optim::{Optimizer, OptimizerConfig};
    /// let mut opt = Optimizer::new(OptimizerConfig::default(), 2, vec![], 1)?;
    /// let mut p = [1.0f32, 2.0];
    /// opt.step(0.5, 0.25, &mut p, &[4.0, -4.0]); // mean gradient (1, -1)
    /// assert_eq!((p, opt.step_count()), ([0.5, 2.5], 1));
    /// # Ok::<(), backprop::Error>(())
    /// ```
    ///
    /// # Panics
    /// If `params` or `grad` does not hold `n_params` values.
    pub fn step(&mut self, lr: f32, grad_scale: f32, params: &mut [f32], grad: &[f32]) {
        assert_eq!(params.len(), self.n_params, "Optimizer::step: parameters");
        assert_eq!(grad.len(), self.n_params, "Optimizer::step: gradient");
        let s = self.begin_step(lr, grad_scale);
        let (k, chunk) = (self.state_len_per_param(), self.chunk);
        self.with_state(|opt, state| {
            let mut states = state.chunks_mut((k * chunk).max(1));
            for (c, (p, g)) in params.chunks_mut(chunk).zip(grad.chunks(chunk)).enumerate() {
                let st = if k == 0 {
                    &mut [][..]
                } else {
                    states.next().expect("a state chunk per parameter chunk")
                };
                opt.update_chunk(&s, c, p, g, st);
            }
        });
    }

    /// Lends the state buffer (chunked layout) to `f` beside a shared
    /// reference to the optimizer, so `f` can call
    /// [`Optimizer::update_chunk`] on its chunks, in parallel or not. Moves
    /// the buffer out and back: nothing is allocated or copied. Inside `f`
    /// the optimizer's own state reads as empty (use the lent slice).
    ///
    /// ```
    /// use backprop::optim::{Optimizer, OptimizerConfig, OptimizerKind};
    /// let cfg = OptimizerConfig { kind: OptimizerKind::RmsProp, ..OptimizerConfig::default() };
    /// let mut opt = Optimizer::new(cfg, 3, vec![], 2)?;
    /// let len = opt.with_state(|opt, state| {
    ///     state.fill(1.0);
    ///     (state.len(), opt.state_len_per_param())
    /// });
    /// assert_eq!(len, (3, 1));
    /// assert_eq!(opt.buffers(), vec![vec![1.0; 3]]);
    /// # Ok::<(), backprop::Error>(())
    /// ```
    pub fn with_state<R>(&mut self, f: impl FnOnce(&Optimizer, &mut [f32]) -> R) -> R {
        let mut state = std::mem::take(&mut self.state);
        let out = f(self, &mut state);
        self.state = state;
        out
    }

    /// The state de-interleaved for a checkpoint: one `Vec` of `n_params`
    /// values per [`OptimizerConfig::state_names`] entry, in that order, in
    /// the parameters' order whatever the chunk length.
    ///
    /// ```
    /// use backprop::optim::{Optimizer, OptimizerConfig, OptimizerKind};
    /// let cfg = OptimizerConfig { kind: OptimizerKind::Adam, ..OptimizerConfig::default() };
    /// let mut opt = Optimizer::new(cfg, 3, vec![], 2)?;
    /// // chunk [0, 2): exp_avg 0 1, exp_avg_sq 0 1; chunk [2, 3): exp_avg 2, exp_avg_sq 2
    /// opt.state_mut().copy_from_slice(&[0.0, 1.0, 10.0, 11.0, 2.0, 12.0]);
    /// assert_eq!(opt.buffers(), vec![vec![0.0, 1.0, 2.0], vec![10.0, 11.0, 12.0]]);
    /// # Ok::<(), backprop::Error>(())
    /// ```
    pub fn buffers(&self) -> Vec<Vec<f32>> {
        let k = self.state_len_per_param();
        let mut out = vec![Vec::with_capacity(self.n_params); k];
        if k == 0 {
            return out;
        }
        for st in self.state.chunks(k * self.chunk) {
            let len = st.len() / k;
            for (j, buf) in out.iter_mut().enumerate() {
                buf.extend_from_slice(&st[j * len..(j + 1) * len]);
            }
        }
        out
    }

    /// Puts back a step count and the buffers of [`Optimizer::buffers`] (from
    /// an optimizer of the same kind and parameter count, any chunk length),
    /// so the next steps continue bit for bit.
    ///
    /// ```
    /// use backprop::optim::{Optimizer, OptimizerConfig, OptimizerKind};
    /// let cfg = OptimizerConfig { kind: OptimizerKind::Adam, ..OptimizerConfig::default() };
    /// let mut a = Optimizer::new(cfg, 3, vec![], 2)?;
    /// let mut p = [1.0f32, 2.0, 3.0];
    /// a.step(0.1, 1.0, &mut p, &[1.0, 1.0, 1.0]);
    /// let mut b = Optimizer::new(cfg, 3, vec![], 3)?;
    /// b.restore(a.step_count(), a.buffers())?;
    /// assert_eq!((b.step_count(), b.buffers()), (1, a.buffers()));
    /// assert!(b.restore(1, vec![vec![0.0; 3]]).is_err()); // Adam has two buffers
    /// # Ok::<(), backprop::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::Data`] for a wrong number of buffers or a buffer (named) of the
    /// wrong length; the optimizer is then unchanged.
    pub fn restore(&mut self, step: u64, buffers: Vec<Vec<f32>>) -> Result<()> {
        let names = self.cfg.state_names();
        if buffers.len() != names.len() {
            return Err(Error::Data {
                source_name: "optimizer state".to_string(),
                message: format!(
                    "{} has {} state buffer(s) ({}), got {}",
                    self.cfg.kind,
                    names.len(),
                    names.join(", "),
                    buffers.len()
                ),
            });
        }
        for (name, b) in names.iter().zip(&buffers) {
            if b.len() != self.n_params {
                return Err(Error::Data {
                    source_name: format!("optimizer state '{name}'"),
                    message: format!("{} values for {} parameters", b.len(), self.n_params),
                });
            }
        }
        let k = names.len();
        if k > 0 {
            for (c, st) in self.state.chunks_mut(k * self.chunk).enumerate() {
                let len = st.len() / k;
                let from = c * self.chunk;
                for (j, b) in buffers.iter().enumerate() {
                    st[j * len..(j + 1) * len].copy_from_slice(&b[from..from + len]);
                }
            }
        }
        self.step = step;
        Ok(())
    }
}
