//! SIMD kernels of the smooth activations (SELU, SiLU, GELU, Mish) and their
//! derivatives, lane-wise on `wide::f32x8`; the references are the `*_scalar`
//! functions of [`super::scalar`].
//!
//! Unlike sigmoid, tanh and ReLU, the derivative of SiLU, GELU and Mish is not
//! a function of the activation's output (they are not monotonic), so every
//! backward kernel here takes the pre-activation `z`, which the trainer keeps
//! for these layers. Each result depends only on its own element: neither the
//! slice length nor the position changes a bit.
//!
//! Accuracy (checked against `f64` in `tests/activations.rs`): within
//! `1e-6·max(1, |z|)` plus 4 ULP of the true value for every finite input;
//! NaN stays NaN.

use wide::f32x8;

use super::simd::{exp8, map_in_place, sigmoid8, zip_in_place};

/// SELU's scale `λ` (Klambauer et al. 2017; PyTorch's constant).
pub const SELU_SCALE: f32 = 1.050_701;
/// SELU's `α`.
pub const SELU_ALPHA: f32 = 1.673_263_2;
/// `λ·α`, the SELU's value for `z → -∞` negated.
const SELU_SCALE_ALPHA: f32 = 1.758_099_3;
/// `1/√2`.
const FRAC_1_SQRT_2: f32 = std::f32::consts::FRAC_1_SQRT_2;
/// `1/√(2π)`.
const FRAC_1_SQRT_2PI: f32 = 0.398_942_3;
/// Above this, Mish's `tanh(softplus(z))` is 1 in `f32` (and `e^{2z}` would
/// overflow): the kernels clamp `z` there.
const MISH_CLAMP: f32 = 20.0;

/// `λz` for `z > 0`, `λα(e^z - 1)` otherwise.
#[inline(always)]
fn selu8(z: f32x8) -> f32x8 {
    let neg = f32x8::splat(SELU_SCALE_ALPHA) * (exp8(z) - f32x8::ONE);
    z.simd_gt(f32x8::ZERO)
        .select(f32x8::splat(SELU_SCALE) * z, neg)
}

/// SELU's derivative: `λ` for `z > 0`, `λα·e^z` otherwise.
#[inline(always)]
fn selu_prime8(z: f32x8) -> f32x8 {
    let neg = f32x8::splat(SELU_SCALE_ALPHA) * exp8(z);
    z.simd_gt(f32x8::ZERO).select(f32x8::splat(SELU_SCALE), neg)
}

/// SiLU's derivative `σ(z)(1 + z(1 - σ(z)))`.
#[inline(always)]
fn silu_prime8(z: f32x8) -> f32x8 {
    let s = sigmoid8(z);
    s * z.mul_add(f32x8::ONE - s, f32x8::ONE)
}

/// `Φ(z)`, the standard normal distribution function, as `erfc(|z|/√2)/2`
/// for `z < 0` and `1 - erfc(|z|/√2)/2` above: `erfc` by the Chebyshev fit
/// of Numerical Recipes (`erfcc`, fractional error under 1.2e-7 for every
/// argument), so both tails keep their relative precision.
#[inline(always)]
fn normal_cdf8(z: f32x8) -> f32x8 {
    let u = z.abs() * f32x8::splat(FRAC_1_SQRT_2);
    let t = f32x8::ONE / f32x8::splat(0.5).mul_add(u, f32x8::ONE);
    let mut p = f32x8::splat(0.170_872_77);
    for c in [
        -0.822_152_23,
        1.488_515_9,
        -1.135_204,
        0.278_868_07,
        -0.186_288_06,
        0.096_784_18,
        0.374_091_96,
        1.000_023_7,
        -1.265_512_2,
    ] {
        p = p.mul_add(t, f32x8::splat(c));
    }
    let half_erfc = f32x8::splat(0.5) * t * exp8(p - u * u);
    z.simd_ge(f32x8::ZERO)
        .select(f32x8::ONE - half_erfc, half_erfc)
}

/// GELU's derivative `Φ(z) + z·φ(z)`.
#[inline(always)]
fn gelu_prime8(z: f32x8) -> f32x8 {
    let pdf = f32x8::splat(FRAC_1_SQRT_2PI) * exp8(f32x8::splat(-0.5) * z * z);
    z.mul_add(pdf, normal_cdf8(z))
}

/// Mish's pieces at `z` clamped to [`MISH_CLAMP`]: `n = e^z(e^z + 2)`, so
/// that `tanh(softplus(z)) = n/(n + 2)` and `1 - tanh² = 4(n + 1)/(n + 2)²`.
#[inline(always)]
fn mish_n8(zc: f32x8) -> (f32x8, f32x8) {
    let e = exp8(zc);
    (e * (e + f32x8::splat(2.0)), e)
}

/// `z·tanh(softplus(z))`.
#[inline(always)]
fn mish8(z: f32x8) -> f32x8 {
    // min with the constant first keeps a NaN in `z`
    let (n, _) = mish_n8(f32x8::splat(MISH_CLAMP).fast_min(z));
    z * (n / (n + f32x8::splat(2.0)))
}

/// Mish's derivative `t + z·σ(z)·(1 - t²)` with `t = tanh(softplus(z))`;
/// above the clamp the second term (under `4z·e^{-2z}`) is taken at the
/// clamp, where it is already below `f32`'s resolution of 1.
#[inline(always)]
fn mish_prime8(z: f32x8) -> f32x8 {
    let zc = f32x8::splat(MISH_CLAMP).fast_min(z);
    let (n, e) = mish_n8(zc);
    let n2 = n + f32x8::splat(2.0);
    let t = n / n2;
    let sigma = e / (e + f32x8::ONE);
    let one_minus_t2 = f32x8::splat(4.0) * (n + f32x8::ONE) / (n2 * n2);
    (zc * sigma).mul_add(one_minus_t2, t)
}

/// `z ← selu(z)`.
pub fn selu_simd(z: &mut [f32]) {
    map_in_place(z, selu8);
}

/// `z ← silu(z) = z·σ(z)`.
pub fn silu_simd(z: &mut [f32]) {
    map_in_place(z, |z| z * sigmoid8(z));
}

/// `z ← gelu(z) = z·Φ(z)` (the exact GELU, PyTorch's default, not the tanh
/// approximation).
pub fn gelu_simd(z: &mut [f32]) {
    map_in_place(z, |z| z * normal_cdf8(z));
}

/// `z ← mish(z) = z·tanh(softplus(z))`.
pub fn mish_simd(z: &mut [f32]) {
    map_in_place(z, mish8);
}

/// `d ← d · selu'(z)`.
pub fn selu_backward_simd(z: &[f32], d: &mut [f32]) {
    zip_in_place(z, d, |z, d| d * selu_prime8(z));
}

/// `d ← d · silu'(z)`.
pub fn silu_backward_simd(z: &[f32], d: &mut [f32]) {
    zip_in_place(z, d, |z, d| d * silu_prime8(z));
}

/// `d ← d · gelu'(z)`.
pub fn gelu_backward_simd(z: &[f32], d: &mut [f32]) {
    zip_in_place(z, d, |z, d| d * gelu_prime8(z));
}

/// `d ← d · mish'(z)`.
pub fn mish_backward_simd(z: &[f32], d: &mut [f32]) {
    zip_in_place(z, d, |z, d| d * mish_prime8(z));
}
