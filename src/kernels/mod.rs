//! Numeric kernels on plain slices: GEMM wrappers ([`gemm`]), SIMD kernels
//! ([`simd`]) and their scalar references ([`scalar`]).
//!
//! The functions here dispatch on [`Activation`] and [`Head`] once per slice,
//! never per element. The optimizer kernels take their scalar
//! hyper-parameters as one small `Copy` struct each ([`SgdHyper`],
//! [`MomentumHyper`], [`AdamHyper`], [`RmsPropHyper`]), shared by the SIMD
//! kernel and its scalar twin.

pub mod gemm;
pub mod scalar;
pub mod simd;

use crate::activation::{Activation, Head};

/// Scalars of one plain SGD update ([`simd::sgd_simd`], [`scalar::sgd_scalar`]).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SgdHyper {
    /// Learning rate `η`.
    pub lr: f32,
    /// Gradient scale `s`: the mean gradient is `d = s·g` (plus decay).
    pub grad_scale: f32,
    /// Weight decay `λ` (L2 penalty added to the gradient); 0 for biases.
    pub weight_decay: f32,
}

/// Scalars of one SGD-with-momentum update ([`simd::sgd_momentum_simd`],
/// [`scalar::sgd_momentum_scalar`]); dampening is 0.
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

/// Scalars of one Adam or AdamW update ([`simd::adam_simd`],
/// [`scalar::adam_scalar`]).
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

/// Scalars of one RMSprop update ([`simd::rmsprop_simd`],
/// [`scalar::rmsprop_scalar`]); no momentum, not centered.
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

/// One row of inverted dropout ([`simd::dropout_row_simd`],
/// [`scalar::dropout_row_scalar`]): unit `j` of the row is kept when
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

/// `x ← f(x)` for a hidden activation.
pub fn activate(act: Activation, x: &mut [f32]) {
    match act {
        Activation::Sigmoid => simd::sigmoid_simd(x),
        Activation::Tanh => simd::tanh_simd(x),
        Activation::Relu => simd::relu_simd(x),
        Activation::Identity => {}
    }
}

/// `d ← d ⊙ f'(a)` for a hidden activation, the derivative taken from the
/// activation's output `a` (for ReLU, `a > 0` exactly when `z > 0`).
pub fn activate_backward(act: Activation, a: &[f32], d: &mut [f32]) {
    match act {
        Activation::Sigmoid => simd::sigmoid_backward_simd(a, d),
        Activation::Tanh => simd::tanh_backward_simd(a, d),
        Activation::Relu => simd::relu_backward_simd(a, d),
        Activation::Identity => assert_eq!(a.len(), d.len()),
    }
}

/// The head's output activation in place on the logits (rows of `cols`):
/// probabilities for the classifiers, the values themselves for MSE.
pub fn head_activate(head: Head, z: &mut [f32], cols: usize) {
    match head {
        Head::SigmoidBce => simd::sigmoid_simd(z),
        Head::SoftmaxCe => simd::softmax_rows_simd(z, cols),
        Head::Mse => {}
    }
}

/// The head's summed loss over all rows, computed from the logits `z`, and
/// the output delta `z ← A - Y` written over them.
pub fn head_loss_delta(head: Head, z: &mut [f32], y: &[f32], cols: usize) -> f64 {
    match head {
        Head::SigmoidBce => simd::bce_head_simd(z, y),
        Head::SoftmaxCe => simd::softmax_ce_head_simd(z, y, cols),
        Head::Mse => simd::mse_head_simd(z, y),
    }
}

/// The head's loss and delta with a weight per row (`w`, one per row of
/// `cols`): returns `Σ_r w_r · loss_r` and writes `z ← w_r · (A - Y)` row by
/// row, so the summed gradient is the weighted sum. `scratch` (at least
/// `z.len()` long) holds the weights spread over each row's elements for the
/// element-wise heads when `cols > 1`.
///
/// # Panics
/// If `w.len() · cols != z.len()`, or `scratch` is too short where needed.
pub fn head_loss_delta_weighted(
    head: Head,
    z: &mut [f32],
    y: &[f32],
    w: &[f32],
    cols: usize,
    scratch: &mut [f32],
) -> f64 {
    assert_eq!(w.len() * cols, z.len(), "weighted head: one weight per row");
    if head == Head::SoftmaxCe {
        return simd::softmax_ce_head_weighted_simd(z, y, w, cols);
    }
    let we: &[f32] = if cols == 1 {
        w
    } else {
        let we = &mut scratch[..z.len()];
        for (row, &wr) in we.chunks_exact_mut(cols).zip(w) {
            row.fill(wr);
        }
        we
    };
    match head {
        Head::SigmoidBce => simd::bce_head_weighted_simd(z, y, we),
        Head::Mse => simd::mse_head_weighted_simd(z, y, we),
        Head::SoftmaxCe => unreachable!("handled above"),
    }
}

/// How this build runs `wide::f32x8`: `"avx2+fma (one 256-bit register)"` when
/// the crate was compiled with those target features, otherwise a description
/// of the narrower fallback.
pub fn simd_width() -> &'static str {
    if cfg!(all(target_feature = "avx2", target_feature = "fma")) {
        "avx2+fma (one 256-bit register)"
    } else if cfg!(target_feature = "avx") {
        "avx without fma (256-bit, separate multiply and add)"
    } else if cfg!(target_feature = "sse2") {
        "sse2 (two 128-bit halves, no fma)"
    } else {
        "portable scalar lanes"
    }
}
