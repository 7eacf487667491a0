//! The scalars each update and dropout kernel takes ([`SgdHyper`],
//! [`AdamHyper`], [`DropoutRow`], …) and the dropout hash, shared by the SIMD
//! kernels and their scalar references.

/// Scalars of one plain SGD update ([`super::simd::sgd_simd`], [`super::scalar::sgd_scalar`]).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SgdHyper {
    /// Learning rate `η`.
    pub lr: f32,
    /// Gradient scale `s`: the mean gradient is `d = s·g` (plus decay).
    pub grad_scale: f32,
    /// Weight decay `λ` (L2 penalty added to the gradient); 0 for biases.
    pub weight_decay: f32,
}

/// Scalars of one SGD-with-momentum update ([`super::simd::sgd_momentum_simd`],
/// [`super::scalar::sgd_momentum_scalar`]); dampening is 0.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MomentumHyper {
    /// Learning rate `η`.
    pub lr: f32,
    /// Gradient scale `s`.
    pub grad_scale: f32,
    /// Weight decay `λ`; 0 for biases.
    pub weight_decay: f32,
    /// Momentum `μ`.
    pub momentum: f32,
    /// Nesterov momentum: step along `d + μ·buf` instead of `buf`.
    pub nesterov: bool,
    /// The first step: the buffer is set to `d` (PyTorch creates it then).
    pub first_step: bool,
}

/// Scalars of one Adam or AdamW update ([`super::simd::adam_simd`],
/// [`super::scalar::adam_scalar`]).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AdamHyper {
    /// Learning rate `η`.
    pub lr: f32,
    /// Gradient scale `s`.
    pub grad_scale: f32,
    /// Weight decay `λ`; 0 for biases.
    pub weight_decay: f32,
    /// `β₁`, the decay of the first moment.
    pub beta1: f32,
    /// `β₂`, the decay of the second moment.
    pub beta2: f32,
    /// `ε`, added to the denominator.
    pub eps: f32,
    /// `1 - β₁^t`.
    pub bias_correction1: f32,
    /// `sqrt(1 - β₂^t)`.
    pub bias_correction2_sqrt: f32,
    /// AdamW: decay the weights (`w ← w·(1 - η·λ)`) instead of adding `λ·w` to
    /// the gradient.
    pub decoupled: bool,
}

/// Scalars of one RMSprop update ([`super::simd::rmsprop_simd`],
/// [`super::scalar::rmsprop_scalar`]); no momentum, not centered.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RmsPropHyper {
    /// Learning rate `η`.
    pub lr: f32,
    /// Gradient scale `s`.
    pub grad_scale: f32,
    /// Weight decay `λ`; 0 for biases.
    pub weight_decay: f32,
    /// `α`, the decay of the squared-gradient average.
    pub alpha: f32,
    /// `ε`, added to the denominator.
    pub eps: f32,
}

/// One row of inverted dropout ([`super::simd::dropout_row_simd`],
/// [`super::scalar::dropout_row_scalar`]): unit `j` of the row is kept when
/// `unit_hash(key, j) >> 8 >= threshold` (see [`crate::dropout`]), and a
/// kept unit is multiplied by `scale`, a dropped one by 0.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DropoutRow {
    /// The row's key, from (seed, step, layer, row).
    pub key: u32,
    /// `round(p · 2²⁴)` for dropout probability `p`: a unit is dropped when
    /// the top 24 bits of its hash are below it.
    pub threshold: u32,
    /// `1 / (1 - p)`.
    pub scale: f32,
}

/// The odd constant that spreads unit indices before hashing (`2³²/φ`).
pub const UNIT_STRIDE: u32 = 0x9E37_79B9;

/// The hash of unit `j` of a row with key `key`: `lowbias32` (Wellons's
/// 32-bit integer mixer, a bijection) of `key ^ j·`[`UNIT_STRIDE`]. The
/// SIMD kernel computes the same eight at a time.
///
/// ```
/// use backprop::kernels::unit_hash;
/// assert_ne!(unit_hash(1, 0), unit_hash(1, 1));
/// assert_ne!(unit_hash(1, 0), unit_hash(2, 0));
/// ```
#[inline(always)]
pub fn unit_hash(key: u32, j: u32) -> u32 {
    let mut x = key ^ j.wrapping_mul(UNIT_STRIDE);
    x ^= x >> 16;
    x = x.wrapping_mul(0x7feb_352d);
    x ^= x >> 15;
    x = x.wrapping_mul(0x846c_a68b);
    x ^= x >> 16;
    x
}

/// The scalars of an Adam step derived from [`AdamHyper`] once per call, each
/// computed in `f64` and rounded once to `f32`, as PyTorch computes them from
/// Python floats.
#[derive(Clone, Copy, Debug)]
pub(crate) struct AdamDerived {
    /// `1 - η·λ`, AdamW's weight factor.
    pub keep: f32,
    /// `1 - β₁`.
    pub one_minus_beta1: f32,
    /// `1 - β₂`.
    pub one_minus_beta2: f32,
    /// `η / bc₁`.
    pub step_size: f32,
}

impl AdamHyper {
    pub(crate) fn derived(&self) -> AdamDerived {
        let f = f64::from;
        AdamDerived {
            keep: (1.0 - f(self.lr) * f(self.weight_decay)) as f32,
            one_minus_beta1: (1.0 - f(self.beta1)) as f32,
            one_minus_beta2: (1.0 - f(self.beta2)) as f32,
            step_size: (f(self.lr) / f(self.bias_correction1)) as f32,
        }
    }
}

impl RmsPropHyper {
    /// `1 - α`, computed in `f64` and rounded once.
    pub(crate) fn one_minus_alpha(&self) -> f32 {
        (1.0 - f64::from(self.alpha)) as f32
    }
}
