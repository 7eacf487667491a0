//! Naive scalar references for every SIMD kernel in [`super::simd`].
//!
//! Plain loops with the textbook formulas and `std`'s `f32` math. They define
//! what the fast kernels must compute; the property tests compare the two.
//!
//! The optimizer twins ([`sgd_scalar`], [`sgd_momentum_scalar`],
//! [`adam_scalar`], [`rmsprop_scalar`]) round `a·b + c` once exactly where the
//! SIMD kernels call `mul_add`, and only as `wide` does in this build (fused
//! where it fuses: x86 with FMA, aarch64), so the two agree bit for bit.

use super::params::{unit_hash, AdamHyper, DropoutRow, MomentumHyper, RmsPropHyper, SgdHyper};
use crate::tensor::{MatMut, MatRef};

/// Whether `wide::f32x8::mul_add` is one fused operation in this build.
const SIMD_FUSES: bool = cfg!(any(
    target_feature = "fma",
    all(target_arch = "aarch64", target_feature = "neon")
));

/// `a·b + c`, rounded as `f32x8::mul_add` rounds it in this build.
#[inline(always)]
fn mul_add(a: f32, b: f32, c: f32) -> f32 {
    if SIMD_FUSES {
        a.mul_add(b, c)
    } else {
        a * b + c
    }
}

/// `x ← σ(x)`.
pub fn sigmoid_scalar(x: &mut [f32]) {
    for v in x {
        *v = 1.0 / (1.0 + (-*v).exp());
    }
}

/// `x ← tanh(x)`.
pub fn tanh_scalar(x: &mut [f32]) {
    for v in x {
        *v = v.tanh();
    }
}

/// `x ← max(x, 0)`.
pub fn relu_scalar(x: &mut [f32]) {
    for v in x {
        *v = if *v > 0.0 { *v } else { 0.0 };
    }
}

/// `d ← d · a(1 - a)`, the sigmoid derivative from its output `a`.
pub fn sigmoid_backward_scalar(a: &[f32], d: &mut [f32]) {
    assert_eq!(a.len(), d.len());
    for (d, &a) in d.iter_mut().zip(a) {
        *d *= a * (1.0 - a);
    }
}

/// `d ← d · (1 - a²)`, the tanh derivative from its output `a`.
pub fn tanh_backward_scalar(a: &[f32], d: &mut [f32]) {
    assert_eq!(a.len(), d.len());
    for (d, &a) in d.iter_mut().zip(a) {
        *d *= 1.0 - a * a;
    }
}

/// `d ← d · [a > 0]`, the ReLU derivative from its output `a`.
pub fn relu_backward_scalar(a: &[f32], d: &mut [f32]) {
    assert_eq!(a.len(), d.len());
    for (d, &a) in d.iter_mut().zip(a) {
        // `[a > 0]`: zero for a NaN activation too
        *d = if a > 0.0 { *d } else { 0.0 };
    }
}

/// SELU's `λ` and `α` in `f64` (the SIMD kernels round them to `f32`).
const SELU_SCALE: f64 = 1.050_700_987_355_480_5;
const SELU_ALPHA: f64 = 1.673_263_242_354_377_3;

/// `Φ(z)` in `f64`, from `erfc` so that both tails keep their precision.
fn normal_cdf(z: f64) -> f64 {
    0.5 * libm::erfc(-z * std::f64::consts::FRAC_1_SQRT_2)
}

/// `f(z)` and `f'(z)` of the smooth activations in `f64`, the textbook
/// formulas (the references below round them once to `f32`).
fn smooth(kind: Smooth, z: f64) -> (f64, f64) {
    let sigma = 1.0 / (1.0 + (-z).exp());
    match kind {
        Smooth::Selu if z > 0.0 => (SELU_SCALE * z, SELU_SCALE),
        Smooth::Selu => (
            SELU_SCALE * SELU_ALPHA * z.exp_m1(),
            SELU_SCALE * SELU_ALPHA * z.exp(),
        ),
        Smooth::Silu => (z * sigma, sigma * (1.0 + z * (1.0 - sigma))),
        Smooth::Gelu => {
            let pdf = (-0.5 * z * z).exp() / (2.0 * std::f64::consts::PI).sqrt();
            (z * normal_cdf(z), normal_cdf(z) + z * pdf)
        }
        Smooth::Mish => {
            let t = z.exp().ln_1p().tanh();
            // 1 - tanh²(s) = 1/cosh²(s); for large z both sides are 0 or tiny
            let sech2 = if t == 1.0 { 0.0 } else { 1.0 - t * t };
            (z * t, t + z * sigma * sech2)
        }
    }
}

/// The smooth activations the references cover.
#[derive(Clone, Copy)]
enum Smooth {
    Selu,
    Silu,
    Gelu,
    Mish,
}

fn smooth_forward(kind: Smooth, z: &mut [f32]) {
    for v in z {
        *v = smooth(kind, f64::from(*v)).0 as f32;
    }
}

fn smooth_backward(kind: Smooth, z: &[f32], d: &mut [f32]) {
    assert_eq!(z.len(), d.len());
    for (d, &z) in d.iter_mut().zip(z) {
        *d = (f64::from(*d) * smooth(kind, f64::from(z)).1) as f32;
    }
}

/// `z ← λz` for `z > 0`, `λα(e^z - 1)` otherwise (SELU).
pub fn selu_scalar(z: &mut [f32]) {
    smooth_forward(Smooth::Selu, z);
}

/// `z ← z·σ(z)` (SiLU).
pub fn silu_scalar(z: &mut [f32]) {
    smooth_forward(Smooth::Silu, z);
}

/// `z ← z·Φ(z)` (GELU, exact).
pub fn gelu_scalar(z: &mut [f32]) {
    smooth_forward(Smooth::Gelu, z);
}

/// `z ← z·tanh(ln(1 + e^z))` (Mish).
pub fn mish_scalar(z: &mut [f32]) {
    smooth_forward(Smooth::Mish, z);
}

/// `d ← d · selu'(z)`, from the pre-activation `z`.
pub fn selu_backward_scalar(z: &[f32], d: &mut [f32]) {
    smooth_backward(Smooth::Selu, z, d);
}

/// `d ← d · silu'(z)`, from the pre-activation `z`.
pub fn silu_backward_scalar(z: &[f32], d: &mut [f32]) {
    smooth_backward(Smooth::Silu, z, d);
}

/// `d ← d · gelu'(z)`, from the pre-activation `z`.
pub fn gelu_backward_scalar(z: &[f32], d: &mut [f32]) {
    smooth_backward(Smooth::Gelu, z, d);
}

/// `d ← d · mish'(z)`, from the pre-activation `z`.
pub fn mish_backward_scalar(z: &[f32], d: &mut [f32]) {
    smooth_backward(Smooth::Mish, z, d);
}

/// Every row of the row-major `z` (row length `b.len()`) set to `b`.
pub fn bias_rows_scalar(b: &[f32], z: &mut [f32]) {
    let n = b.len();
    assert!(n > 0 && z.len() % n == 0 || z.is_empty());
    for (i, v) in z.iter_mut().enumerate() {
        *v = b[i % n];
    }
}

/// `out[j] = Σ_r x[r, j]` for the row-major `x` with `out.len()` columns.
pub fn col_sums_scalar(x: &[f32], out: &mut [f32]) {
    let n = out.len();
    out.iter_mut().for_each(|o| *o = 0.0);
    if n == 0 {
        return;
    }
    assert_eq!(x.len() % n, 0);
    for row in x.chunks_exact(n) {
        for (o, &v) in out.iter_mut().zip(row) {
            *o += v;
        }
    }
}

/// Row-wise softmax of the row-major `z` with `cols` columns, max subtracted first.
pub fn softmax_rows_scalar(z: &mut [f32], cols: usize) {
    if cols == 0 {
        return;
    }
    for row in z.chunks_exact_mut(cols) {
        let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let mut sum = 0.0f32;
        for v in row.iter_mut() {
            *v = (*v - max).exp();
            sum += *v;
        }
        for v in row.iter_mut() {
            *v /= sum;
        }
    }
}

/// `ln(1 + e^z)` without overflow.
pub fn softplus_scalar(z: f32) -> f32 {
    z.max(0.0) + (-z.abs()).exp().ln_1p()
}

/// Sigmoid + BCE head: returns `Σ [softplus(z) - y·z]` and sets `z ← σ(z) - y`.
pub fn bce_head_scalar(z: &mut [f32], y: &[f32]) -> f64 {
    assert_eq!(z.len(), y.len());
    let mut loss = 0.0f64;
    for (z, &y) in z.iter_mut().zip(y) {
        loss += f64::from(softplus_scalar(*z) - y * *z);
        *z = 1.0 / (1.0 + (-*z).exp()) - y;
    }
    loss
}

/// Softmax + CE head on rows of `cols`: returns `Σ_rows Σ_j y_j (lse - z_j)` and
/// sets `z ← softmax(z) - y`.
pub fn softmax_ce_head_scalar(z: &mut [f32], y: &[f32], cols: usize) -> f64 {
    assert_eq!(z.len(), y.len());
    if cols == 0 {
        return 0.0;
    }
    let mut loss = 0.0f64;
    for (zr, yr) in z.chunks_exact_mut(cols).zip(y.chunks_exact(cols)) {
        let max = zr.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let sum: f32 = zr.iter().map(|&v| (v - max).exp()).sum();
        let lse = max + sum.ln();
        for (zv, &yv) in zr.iter_mut().zip(yr) {
            loss += f64::from(yv * (lse - *zv));
            *zv = (*zv - max).exp() / sum - yv;
        }
    }
    loss
}

/// Identity + MSE head: returns `Σ ½(z - y)²` and sets `z ← z - y`.
pub fn mse_head_scalar(z: &mut [f32], y: &[f32]) -> f64 {
    assert_eq!(z.len(), y.len());
    let mut loss = 0.0f64;
    for (z, &y) in z.iter_mut().zip(y) {
        let d = *z - y;
        loss += f64::from(0.5 * d * d);
        *z = d;
    }
    loss
}

/// `x ← exp(x)`, the Poisson head's output (computed in `f64`, rounded once).
pub fn exp_scalar(x: &mut [f32]) {
    for v in x {
        *v = f64::from(*v).exp() as f32;
    }
}

/// The half Poisson deviance of one element and its delta, in `f64`:
/// `(exp(z) - y, exp(z) - y·z + y·ln y - y)`.
fn poisson_one(z: f32, y: f32) -> (f64, f64) {
    let (z, y) = (f64::from(z), f64::from(y));
    let a = z.exp();
    let ylny = if y > 0.0 { y * y.ln() } else { 0.0 };
    (a - y, a - y * z + ylny - y)
}

/// Exponential + half Poisson deviance head: returns
/// `Σ [exp(z) - y·z + y·ln y - y]` and sets `z ← exp(z) - y` (each element
/// in `f64`, rounded once).
pub fn poisson_head_scalar(z: &mut [f32], y: &[f32]) -> f64 {
    assert_eq!(z.len(), y.len());
    let mut loss = 0.0f64;
    for (z, &y) in z.iter_mut().zip(y) {
        let (d, l) = poisson_one(*z, y);
        loss += l;
        *z = d as f32;
    }
    loss
}

/// Weighted [`poisson_head_scalar`], one weight per element: returns
/// `Σ w·[exp(z) - y·z + y·ln y - y]` and sets `z ← w·(exp(z) - y)`.
pub fn poisson_head_weighted_scalar(z: &mut [f32], y: &[f32], w: &[f32]) -> f64 {
    assert!(z.len() == y.len() && z.len() == w.len());
    let mut loss = 0.0f64;
    for ((z, &y), &w) in z.iter_mut().zip(y).zip(w) {
        let (d, l) = poisson_one(*z, y);
        loss += f64::from(w) * l;
        *z = (f64::from(w) * d) as f32;
    }
    loss
}

/// Weighted sigmoid + BCE head, one weight per element: returns
/// `Σ w·[softplus(z) - y·z]` and sets `z ← w·(σ(z) - y)`.
pub fn bce_head_weighted_scalar(z: &mut [f32], y: &[f32], w: &[f32]) -> f64 {
    assert!(z.len() == y.len() && z.len() == w.len());
    let mut loss = 0.0f64;
    for ((z, &y), &w) in z.iter_mut().zip(y).zip(w) {
        loss += f64::from(w * (softplus_scalar(*z) - y * *z));
        *z = w * (1.0 / (1.0 + (-*z).exp()) - y);
    }
    loss
}

/// Weighted identity + MSE head, one weight per element: returns
/// `Σ w·½(z - y)²` and sets `z ← w·(z - y)`.
pub fn mse_head_weighted_scalar(z: &mut [f32], y: &[f32], w: &[f32]) -> f64 {
    assert!(z.len() == y.len() && z.len() == w.len());
    let mut loss = 0.0f64;
    for ((z, &y), &w) in z.iter_mut().zip(y).zip(w) {
        let d = *z - y;
        loss += f64::from(w * (0.5 * d * d));
        *z = w * d;
    }
    loss
}

/// Weighted softmax + CE head, one weight per row of `cols`: returns
/// `Σ_rows w·Σ_j y_j (lse - z_j)` and sets `z ← w·(softmax(z) - y)`.
pub fn softmax_ce_head_weighted_scalar(z: &mut [f32], y: &[f32], w: &[f32], cols: usize) -> f64 {
    assert_eq!(z.len(), y.len());
    if cols == 0 {
        return 0.0;
    }
    assert_eq!(z.len(), w.len() * cols);
    let mut loss = 0.0f64;
    for ((zr, yr), &wr) in z.chunks_exact_mut(cols).zip(y.chunks_exact(cols)).zip(w) {
        let max = zr.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let sum: f32 = zr.iter().map(|&v| (v - max).exp()).sum();
        let lse = max + sum.ln();
        let mut row = 0.0f64;
        for (zv, &yv) in zr.iter_mut().zip(yr) {
            row += f64::from(yv * (lse - *zv));
            *zv = wr * ((*zv - max).exp() / sum - yv);
        }
        loss += f64::from(wr) * row;
    }
    loss
}

/// Inverted dropout of one row: `mask[j] ← scale` if
/// `unit_hash(key, j) >> 8 >= threshold`, else 0; `out[j] ← a[j]·mask[j]`.
pub fn dropout_row_scalar(a: &[f32], out: &mut [f32], mask: &mut [f32], d: DropoutRow) {
    assert!(out.len() == a.len() && mask.len() == a.len());
    for (j, ((&a, o), m)) in a.iter().zip(out).zip(mask).enumerate() {
        let keep = unit_hash(d.key, j as u32) >> 8 >= d.threshold;
        *m = if keep { d.scale } else { 0.0 };
        *o = a * *m;
    }
}

/// `d ← d ⊙ m`.
pub fn mul_assign_scalar(d: &mut [f32], m: &[f32]) {
    assert_eq!(d.len(), m.len());
    for (d, &m) in d.iter_mut().zip(m) {
        *d *= m;
    }
}

/// `out ← y·keep + add`, rounded as the SIMD kernel rounds it.
pub fn smooth_targets_scalar(y: &[f32], out: &mut [f32], keep: f32, add: f32) {
    assert_eq!(y.len(), out.len());
    for (o, &y) in out.iter_mut().zip(y) {
        *o = mul_add(y, keep, add);
    }
}

/// `y ← y + alpha·x`.
pub fn axpy_scalar(alpha: f32, x: &[f32], y: &mut [f32]) {
    assert_eq!(x.len(), y.len());
    for (y, &x) in y.iter_mut().zip(x) {
        *y += alpha * x;
    }
}

/// `dst ← dst + src`, the reduction of one shard's gradient into another.
pub fn add_assign_scalar(dst: &mut [f32], src: &[f32]) {
    assert_eq!(dst.len(), src.len());
    for (d, &s) in dst.iter_mut().zip(src) {
        *d += s;
    }
}

/// `d = s·g + λ·w` (the `λ·w` term only when `λ ≠ 0`, as PyTorch skips it).
fn decayed(w: f32, g: f32, gs: f32, wd: f32) -> f32 {
    if wd == 0.0 {
        g * gs
    } else {
        mul_add(w, wd, g * gs)
    }
}

/// Plain SGD: `w ← w - η·(s·g + λ·w)`; without decay `w ← w + (-η·s)·g`.
pub fn sgd_scalar(w: &mut [f32], g: &[f32], h: SgdHyper) {
    assert_eq!(w.len(), g.len(), "sgd: lengths differ");
    for (w, &g) in w.iter_mut().zip(g) {
        *w = if h.weight_decay == 0.0 {
            mul_add(g, -h.lr * h.grad_scale, *w)
        } else {
            mul_add(decayed(*w, g, h.grad_scale, h.weight_decay), -h.lr, *w)
        };
    }
}

/// SGD with momentum: `buf ← d` (first step) or `μ·buf + d`, then
/// `w ← w - η·(d + μ·buf)` (Nesterov) or `w ← w - η·buf`.
pub fn sgd_momentum_scalar(w: &mut [f32], g: &[f32], buf: &mut [f32], h: MomentumHyper) {
    assert!(
        w.len() == g.len() && w.len() == buf.len(),
        "sgd_momentum: lengths differ"
    );
    for ((w, &g), b) in w.iter_mut().zip(g).zip(buf) {
        let d = decayed(*w, g, h.grad_scale, h.weight_decay);
        *b = if h.first_step { d } else { *b * h.momentum + d };
        let u = if h.nesterov {
            mul_add(*b, h.momentum, d)
        } else {
            *b
        };
        *w = mul_add(u, -h.lr, *w);
    }
}

/// Adam / AdamW: `m ← β₁·m + (1-β₁)·d`, `v ← β₂·v + (1-β₂)·d²`,
/// `w ← w - (η/bc₁)·m / (sqrt(v)/bc₂ + ε)`; AdamW decays `w ← w·(1 - η·λ)`
/// first and leaves `λ·w` out of `d`.
pub fn adam_scalar(w: &mut [f32], g: &[f32], m: &mut [f32], v: &mut [f32], h: AdamHyper) {
    let n = w.len();
    assert!(
        g.len() == n && m.len() == n && v.len() == n,
        "adam: lengths differ"
    );
    let c = h.derived();
    let decay = h.weight_decay != 0.0;
    for i in 0..n {
        let mut wi = w[i];
        let d = if decay && h.decoupled {
            wi *= c.keep;
            g[i] * h.grad_scale
        } else {
            decayed(wi, g[i], h.grad_scale, h.weight_decay)
        };
        m[i] = mul_add(d, c.one_minus_beta1, m[i] * h.beta1);
        v[i] = v[i] * h.beta2 + c.one_minus_beta2 * d * d;
        let denom = v[i].sqrt() / h.bias_correction2_sqrt + h.eps;
        w[i] = wi - c.step_size * m[i] / denom;
    }
}

/// RMSprop: `sq ← α·sq + (1-α)·d²`, `w ← w - η·d / (sqrt(sq) + ε)`.
pub fn rmsprop_scalar(w: &mut [f32], g: &[f32], sq: &mut [f32], h: RmsPropHyper) {
    assert!(
        w.len() == g.len() && w.len() == sq.len(),
        "rmsprop: lengths differ"
    );
    let one_minus_alpha = h.one_minus_alpha();
    for ((w, &g), sq) in w.iter_mut().zip(g).zip(sq) {
        let d = decayed(*w, g, h.grad_scale, h.weight_decay);
        *sq = *sq * h.alpha + one_minus_alpha * d * d;
        *w -= h.lr * d / (sq.sqrt() + h.eps);
    }
}

/// `C ← alpha·A·B + beta·C` by a triple loop accumulating in `f64`.
/// With `beta == 0` the old `C` is not read (so NaN there does not leak).
///
/// # Panics
/// If the shapes do not agree.
pub fn gemm_reference(alpha: f32, a: MatRef<'_>, b: MatRef<'_>, beta: f32, c: &mut MatMut<'_>) {
    assert_eq!(a.cols(), b.rows());
    assert_eq!((a.rows(), b.cols()), (c.rows(), c.cols()));
    let (rs, cs) = (c.rs(), c.cs());
    for i in 0..a.rows() {
        for j in 0..b.cols() {
            let mut acc = 0.0f64;
            for p in 0..a.cols() {
                acc += f64::from(a.get(i, p)) * f64::from(b.get(p, j));
            }
            let slot = &mut c.data_mut()[i * rs + j * cs];
            let old = if beta == 0.0 {
                0.0
            } else {
                f64::from(beta) * f64::from(*slot)
            };
            *slot = (f64::from(alpha) * acc + old) as f32;
        }
    }
}
