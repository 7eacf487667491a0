//! The kernels chosen once per slice by activation or head, and how this
//! build runs `wide::f32x8`.

use super::{simd, smooth};
use crate::activation::{Activation, Head};

/// `x ← f(x)` for a hidden activation.
pub fn activate(act: Activation, x: &mut [f32]) {
    match act {
        Activation::Sigmoid => simd::sigmoid_simd(x),
        Activation::Tanh => simd::tanh_simd(x),
        Activation::Relu => simd::relu_simd(x),
        Activation::Identity => {}
        Activation::Selu => smooth::selu_simd(x),
        Activation::Silu => smooth::silu_simd(x),
        Activation::Gelu => smooth::gelu_simd(x),
        Activation::Mish => smooth::mish_simd(x),
    }
}

/// `d ← d ⊙ f'` for a hidden activation: taken from the activation's output
/// `a` (for ReLU, `a > 0` exactly when `z > 0`), or for the activations that
/// [need their input](Activation::needs_input) from the pre-activation `z`
/// (the other one of the two may be empty).
///
/// # Panics
/// If the slice the activation reads is not as long as `d`.
pub fn activate_backward(act: Activation, a: &[f32], z: &[f32], d: &mut [f32]) {
    match act {
        Activation::Sigmoid => simd::sigmoid_backward_simd(a, d),
        Activation::Tanh => simd::tanh_backward_simd(a, d),
        Activation::Relu => simd::relu_backward_simd(a, d),
        Activation::Identity => assert_eq!(a.len(), d.len()),
        Activation::Selu => smooth::selu_backward_simd(z, d),
        Activation::Silu => smooth::silu_backward_simd(z, d),
        Activation::Gelu => smooth::gelu_backward_simd(z, d),
        Activation::Mish => smooth::mish_backward_simd(z, d),
    }
}

/// The head's output activation in place on the logits (rows of `cols`):
/// probabilities for the classifiers, the values themselves for MSE, their
/// exponential for Poisson.
pub fn head_activate(head: Head, z: &mut [f32], cols: usize) {
    match head {
        Head::SigmoidBce => simd::sigmoid_simd(z),
        Head::SoftmaxCe => simd::softmax_rows_simd(z, cols),
        Head::Mse => {}
        Head::Poisson => simd::exp_simd(z),
    }
}

/// The head's summed loss over all rows, computed from the logits `z`, and
/// the output delta `z ← A - Y` written over them.
pub fn head_loss_delta(head: Head, z: &mut [f32], y: &[f32], cols: usize) -> f64 {
    match head {
        Head::SigmoidBce => simd::bce_head_simd(z, y),
        Head::SoftmaxCe => simd::softmax_ce_head_simd(z, y, cols),
        Head::Mse => simd::mse_head_simd(z, y),
        Head::Poisson => simd::poisson_head_simd(z, y),
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
        Head::Poisson => simd::poisson_head_weighted_simd(z, y, we),
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
