//! SIMD kernels on `wide::f32x8`, one per scalar reference in [`super::scalar`].
//!
//! Every kernel runs its body eight lanes at a time and handles the last
//! `len % 8` elements by padding them into one more vector, so every element
//! goes through exactly the same instructions wherever it sits in the slice
//! (a value's result never depends on the slice length or its position).
//!
//! Width: `f32x8` is one 256-bit register only when the crate is built with
//! AVX enabled (this repository's `.cargo/config.toml` builds for the native
//! CPU); a default x86-64 build runs each `f32x8` as two SSE halves, with the
//! same results up to FMA rounding (`mul_add` is fused only where FMA is
//! enabled, so results can differ from the default build in the last bit).
//!
//! NaN: every kernel propagates NaN inputs to its outputs (so a diverging
//! network is detected), except ReLU, which maps NaN to 0 like `max(x, 0)`
//! on x86.
//!
//! Optimizer kernels ([`sgd_simd`], [`sgd_momentum_simd`], [`adam_simd`],
//! [`rmsprop_simd`]) update the parameters and their state buffers in one pass,
//! with the operations of PyTorch's single-tensor (`foreach=False`,
//! `fused=False`) code in its order; `mul_add` appears exactly where their
//! scalar twins in [`super::scalar`] round `a·b + c` once, so the two agree
//! bit for bit (checked in the native FMA build and the default x86-64 one;
//! see the formulas in [`crate::optim`]).
//!
//! Accuracy (checked by the tests against `f64`): [`exp8`] within 2 ULP over
//! its range; sigmoid and tanh within 2e-7 absolute for every finite input,
//! saturating to exactly 0/1 (sigmoid) and ±1 (tanh) far out, never NaN or
//! infinite for finite inputs.

use wide::{f32x8, i32x8, u32x8};

use super::params::{AdamHyper, DropoutRow, MomentumHyper, RmsPropHyper, SgdHyper, UNIT_STRIDE};

/// Lanes per vector.
pub const LANES: usize = 8;

#[inline(always)]
fn load(s: &[f32]) -> f32x8 {
    let mut a = [0.0f32; LANES];
    a.copy_from_slice(s);
    f32x8::new(a)
}

#[inline(always)]
fn load_padded(s: &[f32], fill: f32) -> f32x8 {
    let mut a = [fill; LANES];
    a[..s.len()].copy_from_slice(s);
    f32x8::new(a)
}

#[inline(always)]
fn store(v: f32x8, s: &mut [f32]) {
    let n = s.len();
    s.copy_from_slice(&v.to_array()[..n]);
}

/// `x ← f(x)` lane-wise, body and padded tail in one loop shape.
#[inline(always)]
pub(super) fn map_in_place(x: &mut [f32], f: impl Fn(f32x8) -> f32x8) {
    let mut chunks = x.chunks_exact_mut(LANES);
    for c in &mut chunks {
        store(f(load(c)), c);
    }
    let tail = chunks.into_remainder();
    if !tail.is_empty() {
        store(f(load_padded(tail, 0.0)), tail);
    }
}

/// `d ← f(a, d)` lane-wise.
#[inline(always)]
pub(super) fn zip_in_place(a: &[f32], d: &mut [f32], f: impl Fn(f32x8, f32x8) -> f32x8) {
    assert_eq!(a.len(), d.len(), "zip_in_place: lengths differ");
    let mut dc = d.chunks_exact_mut(LANES);
    let mut ac = a.chunks_exact(LANES);
    for (d, a) in (&mut dc).zip(&mut ac) {
        store(f(load(a), load(d)), d);
    }
    let (dt, at) = (dc.into_remainder(), ac.remainder());
    if !dt.is_empty() {
        store(f(load_padded(at, 0.0), load_padded(dt, 0.0)), dt);
    }
}

/// `z ← f(z, y)` lane-wise, returning the sum of the per-lane values `g(z, y)`
/// over the real (unpadded) elements, accumulated in `f64` per vector.
#[inline(always)]
fn zip_reduce(z: &mut [f32], y: &[f32], f: impl Fn(f32x8, f32x8) -> (f32x8, f32x8)) -> f64 {
    assert_eq!(z.len(), y.len(), "zip_reduce: lengths differ");
    let mut total = 0.0f64;
    let mut zc = z.chunks_exact_mut(LANES);
    let mut yc = y.chunks_exact(LANES);
    for (z, y) in (&mut zc).zip(&mut yc) {
        let (out, loss) = f(load(z), load(y));
        store(out, z);
        total += loss.to_array().iter().map(|&v| f64::from(v)).sum::<f64>();
    }
    let (zt, yt) = (zc.into_remainder(), yc.remainder());
    if !zt.is_empty() {
        let (out, loss) = f(load_padded(zt, 0.0), load_padded(yt, 0.0));
        store(out, zt);
        total += loss.to_array()[..zt.len()]
            .iter()
            .map(|&v| f64::from(v))
            .sum::<f64>();
    }
    total
}

const LOG2_E: f32 = std::f32::consts::LOG2_E;
/// ln 2 split in two so that `n·LN2_HI` is exact for |n| < 2^9 (Cephes).
const LN2_HI: f32 = 0.693_359_4;
const LN2_LO: f32 = -2.121_944_4e-4;
/// `ln(2^-126)`: below this `e^x` is subnormal; [`exp8`] returns 0 there.
const EXP_LO: f32 = -87.336_55;
/// Inputs above this are clamped so that `2^n` stays a normal number.
const EXP_HI: f32 = 88.0;

/// `e^x` lane-wise (Cephes `expf` polynomial, range reduction by FMA).
///
/// Within 2 ULP of the true value for `x` in `[-87.33, 88]`; 0 below
/// (where the true value is subnormal, under 1.2e-38); `e^88` above (so it never
/// returns infinity). NaN stays NaN.
#[inline(always)]
pub fn exp8(x: f32x8) -> f32x8 {
    // max/min with the constant first keep a NaN in `x` (x86 max/min return
    // their second operand when either is NaN).
    let xc = f32x8::splat(EXP_HI).fast_min(f32x8::splat(EXP_LO).fast_max(x));
    let n = (xc * f32x8::splat(LOG2_E)).round_ties_even();
    let r = n.mul_neg_add(f32x8::splat(LN2_HI), xc);
    let r = n.mul_neg_add(f32x8::splat(LN2_LO), r);
    let mut p = f32x8::splat(1.987_569_1e-4);
    p = p.mul_add(r, f32x8::splat(1.398_199_9e-3));
    p = p.mul_add(r, f32x8::splat(8.333_452e-3));
    p = p.mul_add(r, f32x8::splat(4.166_579_6e-2));
    p = p.mul_add(r, f32x8::splat(1.666_666_5e-1));
    p = p.mul_add(r, f32x8::splat(0.5));
    let y = p.mul_add(r * r, r) + f32x8::ONE;
    // n is an integer in [-126, 127]: build 2^n from its exponent bits.
    let bits: i32x8 = (n.fast_round_int() + i32x8::splat(127)) << 23u32;
    let scale: f32x8 = wide::bytemuck::cast(bits);
    x.simd_lt(f32x8::splat(EXP_LO))
        .select(f32x8::ZERO, y * scale)
}

/// `σ(x)` lane-wise: `1/(1+e^{-|x|})` for `x ≥ 0`, `e^{-|x|}/(1+e^{-|x|})` below,
/// so the exponential never overflows.
#[inline(always)]
pub fn sigmoid8(x: f32x8) -> f32x8 {
    let e = exp8(-x.abs());
    let num = x.simd_ge(f32x8::ZERO).select(f32x8::ONE, e);
    num / (f32x8::ONE + e)
}

/// `tanh(x)` lane-wise: an odd polynomial for `|x| < 0.625` (Cephes `tanhf`),
/// `1 - 2/(e^{2|x|}+1)` with the sign of `x` above.
#[inline(always)]
pub fn tanh8(x: f32x8) -> f32x8 {
    let ax = x.abs();
    let z = x * x;
    let mut p = f32x8::splat(-5.704_988_7e-3);
    p = p.mul_add(z, f32x8::splat(2.063_909e-2));
    p = p.mul_add(z, f32x8::splat(-5.373_971_6e-2));
    p = p.mul_add(z, f32x8::splat(1.333_144_2e-1));
    p = p.mul_add(z, f32x8::splat(-3.333_328e-1));
    let small = (p * z).mul_add(x, x);
    let e = exp8(ax + ax);
    let big = f32x8::ONE - f32x8::splat(2.0) / (e + f32x8::ONE);
    let sign = x & f32x8::splat(-0.0);
    // tanh is odd: the magnitude from either branch, the sign of x (so -0 → -0)
    ax.simd_lt(f32x8::splat(0.625)).select(small, big) | sign
}

/// `x ← σ(x)`.
pub fn sigmoid_simd(x: &mut [f32]) {
    map_in_place(x, sigmoid8);
}

/// `x ← exp(x)` (the Poisson head's output; saturates at `exp(88.7)`
/// rather than overflowing).
pub fn exp_simd(x: &mut [f32]) {
    map_in_place(x, exp8);
}

/// `x ← tanh(x)`.
pub fn tanh_simd(x: &mut [f32]) {
    map_in_place(x, tanh8);
}

/// `x ← max(x, 0)`.
pub fn relu_simd(x: &mut [f32]) {
    map_in_place(x, |v| v.fast_max(f32x8::ZERO));
}

/// `d ← d · a(1 - a)`.
pub fn sigmoid_backward_simd(a: &[f32], d: &mut [f32]) {
    zip_in_place(a, d, |a, d| d * (a * (f32x8::ONE - a)));
}

/// `d ← d · (1 - a²)`.
pub fn tanh_backward_simd(a: &[f32], d: &mut [f32]) {
    zip_in_place(a, d, |a, d| d * (f32x8::ONE - a * a));
}

/// `d ← d · [a > 0]`.
pub fn relu_backward_simd(a: &[f32], d: &mut [f32]) {
    zip_in_place(a, d, |a, d| a.simd_gt(f32x8::ZERO).select(d, f32x8::ZERO));
}

/// Every row of the row-major `z` (row length `b.len()`) set to `b`: the bias
/// broadcast before the forward GEMM accumulates onto it (`beta = 1`).
///
/// # Panics
/// If `z.len()` is not a multiple of `b.len()`.
pub fn bias_rows_simd(b: &[f32], z: &mut [f32]) {
    if z.is_empty() {
        return;
    }
    assert!(
        !b.is_empty() && z.len() % b.len() == 0,
        "bias_rows: {} values are not rows of {}",
        z.len(),
        b.len()
    );
    for row in z.chunks_exact_mut(b.len()) {
        row.copy_from_slice(b);
    }
}

/// `out[j] = Σ_r x[r, j]` over the rows of the row-major `x` (`out.len()`
/// columns), summed top to bottom like the scalar reference, so the two agree
/// exactly.
///
/// # Panics
/// If `x.len()` is not a multiple of `out.len()`.
pub fn col_sums_simd(x: &[f32], out: &mut [f32]) {
    let n = out.len();
    out.iter_mut().for_each(|o| *o = 0.0);
    if n == 0 || x.is_empty() {
        return;
    }
    assert_eq!(
        x.len() % n,
        0,
        "col_sums: {} values are not rows of {n}",
        x.len()
    );
    for row in x.chunks_exact(n) {
        add_assign_simd(out, row);
    }
}

/// Row-wise softmax of the row-major `z` with `cols` columns: max subtracted,
/// exponentials, divided by their sum.
pub fn softmax_rows_simd(z: &mut [f32], cols: usize) {
    if cols == 0 || z.is_empty() {
        return;
    }
    assert_eq!(
        z.len() % cols,
        0,
        "softmax_rows: {} values are not rows of {cols}",
        z.len()
    );
    for row in z.chunks_exact_mut(cols) {
        let (_, sum) = exp_shifted_row(row);
        let inv = f32x8::ONE / f32x8::splat(sum);
        map_in_place(row, |v| v * inv);
    }
}

/// `row ← e^{row - max}`; returns `(max, Σ e^{row - max})`.
#[inline(always)]
fn exp_shifted_row(row: &mut [f32]) -> (f32, f32) {
    let max = row_max(row);
    let m = f32x8::splat(max);
    let mut acc = f32x8::ZERO;
    let mut chunks = row.chunks_exact_mut(LANES);
    for c in &mut chunks {
        let e = exp8(load(c) - m);
        acc += e;
        store(e, c);
    }
    let tail = chunks.into_remainder();
    if !tail.is_empty() {
        // pads are -inf: e^{-inf} = 0 adds nothing to the sum
        let e = exp8(load_padded(tail, f32::NEG_INFINITY) - m);
        acc += e;
        store(e, tail);
    }
    (max, acc.reduce_add())
}

/// The maximum of a row (NaN if the row holds a NaN).
#[inline(always)]
fn row_max(row: &[f32]) -> f32 {
    let mut m = f32x8::splat(f32::NEG_INFINITY);
    let mut chunks = row.chunks_exact(LANES);
    for c in &mut chunks {
        m = m.fast_max(load(c));
    }
    let tail = chunks.remainder();
    if !tail.is_empty() {
        m = m.fast_max(load_padded(tail, f32::NEG_INFINITY));
    }
    m.to_array().into_iter().fold(
        f32::NEG_INFINITY,
        |a, b| if b.is_nan() || b > a { b } else { a },
    )
}

/// Sigmoid + BCE head: returns `Σ [softplus(z) - y·z]` (the summed binary
/// cross-entropy, from the logits) and sets `z ← σ(z) - y` (the output delta).
pub fn bce_head_simd(z: &mut [f32], y: &[f32]) -> f64 {
    zip_reduce(z, y, bce8)
}

/// `(σ(z) - y, softplus(z) - y·z)` on eight lanes.
#[inline(always)]
fn bce8(z: f32x8, y: f32x8) -> (f32x8, f32x8) {
    let e = exp8(-z.abs());
    let softplus = z.fast_max(f32x8::ZERO) + e.ln_1p();
    let loss = softplus - y * z;
    let num = z.simd_ge(f32x8::ZERO).select(f32x8::ONE, e);
    let sig = num / (f32x8::ONE + e);
    (sig - y, loss)
}

/// Softmax + CE head on rows of `cols`: returns `Σ_rows Σ_j y_j (lse - z_j)`
/// (log-sum-exp with the max subtracted) and sets `z ← softmax(z) - y`.
pub fn softmax_ce_head_simd(z: &mut [f32], y: &[f32], cols: usize) -> f64 {
    assert_eq!(z.len(), y.len(), "softmax_ce_head: lengths differ");
    if cols == 0 || z.is_empty() {
        return 0.0;
    }
    assert_eq!(
        z.len() % cols,
        0,
        "softmax_ce_head: {} values are not rows of {cols}",
        z.len()
    );
    let mut loss = 0.0f64;
    for (zr, yr) in z.chunks_exact_mut(cols).zip(y.chunks_exact(cols)) {
        // Σ y_j (lse - z_j) = lse·Σy - Σ y·z, computed before z is overwritten
        let (ysum, yz) = dot_and_sum(yr, zr);
        let (max, sum) = exp_shifted_row(zr);
        let lse = max + sum.ln();
        loss += f64::from(lse * ysum - yz);
        let inv = f32x8::ONE / f32x8::splat(sum);
        zip_in_place(yr, zr, |y, e| e.mul_sub(inv, y));
    }
    loss
}

/// `(Σ y, Σ y·z)` of two equally long slices.
#[inline(always)]
fn dot_and_sum(y: &[f32], z: &[f32]) -> (f32, f32) {
    let (mut s, mut d) = (f32x8::ZERO, f32x8::ZERO);
    let mut yc = y.chunks_exact(LANES);
    let mut zc = z.chunks_exact(LANES);
    for (y, z) in (&mut yc).zip(&mut zc) {
        let (y, z) = (load(y), load(z));
        s += y;
        d = y.mul_add(z, d);
    }
    let (yt, zt) = (yc.remainder(), zc.remainder());
    if !yt.is_empty() {
        let (y, z) = (load_padded(yt, 0.0), load_padded(zt, 0.0));
        s += y;
        d = y.mul_add(z, d);
    }
    (s.reduce_add(), d.reduce_add())
}

/// Identity + MSE head: returns `Σ ½(z - y)²` and sets `z ← z - y`.
pub fn mse_head_simd(z: &mut [f32], y: &[f32]) -> f64 {
    zip_reduce(z, y, |z, y| {
        let d = z - y;
        (d, f32x8::splat(0.5) * d * d)
    })
}

/// Exponential + half Poisson deviance head: returns
/// `Σ [exp(z) - y·z + y·ln y - y]` (`y·ln y = 0` at `y = 0`) and sets
/// `z ← exp(z) - y`.
pub fn poisson_head_simd(z: &mut [f32], y: &[f32]) -> f64 {
    zip_reduce(z, y, poisson8)
}

/// `(exp(z) - y, exp(z) - y·z + y·ln y - y)` on eight lanes.
#[inline(always)]
fn poisson8(z: f32x8, y: f32x8) -> (f32x8, f32x8) {
    let a = exp8(z);
    let ylny = y.simd_gt(f32x8::ZERO).select(y * y.ln(), f32x8::ZERO);
    (a - y, a - y * z + (ylny - y))
}

/// Weighted exponential + half Poisson deviance head, one weight per
/// element: returns `Σ w·[exp(z) - y·z + y·ln y - y]` and sets
/// `z ← w·(exp(z) - y)`.
pub fn poisson_head_weighted_simd(z: &mut [f32], y: &[f32], w: &[f32]) -> f64 {
    zip3_reduce(z, y, w, |z, y, w| {
        let (d, loss) = poisson8(z, y);
        (w * d, w * loss)
    })
}

/// `(z, y, w) → (z', loss)` lane-wise over three equally long slices,
/// returning the sum of the per-lane losses over the real elements
/// (accumulated in `f64` per vector), as [`zip_reduce`] with a weight.
#[inline(always)]
fn zip3_reduce(
    z: &mut [f32],
    y: &[f32],
    w: &[f32],
    f: impl Fn(f32x8, f32x8, f32x8) -> (f32x8, f32x8),
) -> f64 {
    assert!(
        z.len() == y.len() && z.len() == w.len(),
        "zip3_reduce: lengths differ"
    );
    let mut total = 0.0f64;
    let mut zc = z.chunks_exact_mut(LANES);
    let mut yc = y.chunks_exact(LANES);
    let mut wc = w.chunks_exact(LANES);
    for ((z, y), w) in (&mut zc).zip(&mut yc).zip(&mut wc) {
        let (out, loss) = f(load(z), load(y), load(w));
        store(out, z);
        total += loss.to_array().iter().map(|&v| f64::from(v)).sum::<f64>();
    }
    let (zt, yt, wt) = (zc.into_remainder(), yc.remainder(), wc.remainder());
    if !zt.is_empty() {
        let (out, loss) = f(
            load_padded(zt, 0.0),
            load_padded(yt, 0.0),
            load_padded(wt, 0.0),
        );
        store(out, zt);
        total += loss.to_array()[..zt.len()]
            .iter()
            .map(|&v| f64::from(v))
            .sum::<f64>();
    }
    total
}

/// Weighted sigmoid + BCE head, one weight per element: returns
/// `Σ w·[softplus(z) - y·z]` and sets `z ← w·(σ(z) - y)`.
pub fn bce_head_weighted_simd(z: &mut [f32], y: &[f32], w: &[f32]) -> f64 {
    zip3_reduce(z, y, w, |z, y, w| {
        let (delta, loss) = bce8(z, y);
        (w * delta, w * loss)
    })
}

/// Weighted identity + MSE head, one weight per element: returns
/// `Σ w·½(z - y)²` and sets `z ← w·(z - y)`.
pub fn mse_head_weighted_simd(z: &mut [f32], y: &[f32], w: &[f32]) -> f64 {
    zip3_reduce(z, y, w, |z, y, w| {
        let d = z - y;
        (w * d, w * (f32x8::splat(0.5) * d * d))
    })
}

/// Weighted softmax + CE head, one weight per row of `cols`: returns
/// `Σ_rows w·Σ_j y_j (lse - z_j)` and sets `z ← w·(softmax(z) - y)`.
pub fn softmax_ce_head_weighted_simd(z: &mut [f32], y: &[f32], w: &[f32], cols: usize) -> f64 {
    assert_eq!(z.len(), y.len(), "softmax_ce_head_weighted: lengths differ");
    if cols == 0 || z.is_empty() {
        return 0.0;
    }
    assert_eq!(
        z.len(),
        w.len() * cols,
        "softmax_ce_head_weighted: one weight per row of {cols}"
    );
    let mut loss = 0.0f64;
    for ((zr, yr), &wr) in z.chunks_exact_mut(cols).zip(y.chunks_exact(cols)).zip(w) {
        let (ysum, yz) = dot_and_sum(yr, zr);
        let (max, sum) = exp_shifted_row(zr);
        let lse = max + sum.ln();
        loss += f64::from(wr * (lse * ysum - yz));
        let inv = f32x8::ONE / f32x8::splat(sum);
        let wv = f32x8::splat(wr);
        zip_in_place(yr, zr, |y, e| wv * e.mul_sub(inv, y));
    }
    loss
}

/// `lowbias32` on eight lanes: [`super::unit_hash`] of units `j`.
#[inline(always)]
fn unit_hash8(key: u32x8, j: u32x8) -> u32x8 {
    let mut x = key ^ (j * u32x8::splat(UNIT_STRIDE));
    x ^= x >> 16;
    x *= u32x8::splat(0x7feb_352d);
    x ^= x >> 15;
    x *= u32x8::splat(0x846c_a68b);
    x ^= x >> 16;
    x
}

/// Inverted dropout of one row: `mask[j] ← scale` if unit `j` is kept (its
/// [`super::unit_hash`] has top 24 bits `>= threshold`), else 0, and
/// `out[j] ← a[j]·mask[j]`. The hashes are computed eight units at a time.
///
/// ```
/// use backprop::kernels::{simd, DropoutRow};
/// let a = [1.0f32; 20];
/// let (mut out, mut mask) = ([0.0f32; 20], [0.0f32; 20]);
/// let half = DropoutRow { key: 7, threshold: 1 << 23, scale: 2.0 };
/// simd::dropout_row_simd(&a, &mut out, &mut mask, half);
/// assert!(mask.iter().all(|&m| m == 0.0 || m == 2.0));
/// assert_eq!(out, mask);
/// ```
///
/// # Panics
/// If the lengths differ.
pub fn dropout_row_simd(a: &[f32], out: &mut [f32], mask: &mut [f32], d: DropoutRow) {
    let n = a.len();
    assert!(
        out.len() == n && mask.len() == n,
        "dropout_row: lengths differ"
    );
    let key = u32x8::splat(d.key);
    let threshold = u32x8::splat(d.threshold);
    let scale_bits: u32x8 = wide::bytemuck::cast(f32x8::splat(d.scale));
    let lanes = u32x8::new([0, 1, 2, 3, 4, 5, 6, 7]);
    let mask_at = |at: usize| -> f32x8 {
        let j = u32x8::splat(at as u32) + lanes;
        let top: u32x8 = unit_hash8(key, j) >> 8u32;
        let keep = top.simd_ge(threshold);
        wide::bytemuck::cast(keep & scale_bits)
    };
    let body = n - n % LANES;
    for at in (0..body).step_by(LANES) {
        let m = mask_at(at);
        store_at(m, mask, at);
        store_at(load_at(a, at) * m, out, at);
    }
    if body < n {
        let m = mask_at(body);
        store(m, &mut mask[body..]);
        store(load_padded(&a[body..], 0.0) * m, &mut out[body..]);
    }
}

/// `d ← d ⊙ m`: the backward pass of dropout (and any element-wise mask).
pub fn mul_assign_simd(d: &mut [f32], m: &[f32]) {
    zip_in_place(m, d, |m, d| d * m);
}

/// `out ← y·keep + add` (one fused multiply-add where FMA is enabled): label
/// smoothing's targets, with `keep = 1 - ε` and `add = ε/K`.
///
/// # Panics
/// If the lengths differ.
pub fn smooth_targets_simd(y: &[f32], out: &mut [f32], keep: f32, add: f32) {
    let (k, a) = (f32x8::splat(keep), f32x8::splat(add));
    zip_in_place(y, out, |y, _| y.mul_add(k, a));
}

/// `y ← y + alpha·x` (fused multiply-add where FMA is enabled): the SGD update
/// with `alpha = -lr / m`.
pub fn axpy_simd(alpha: f32, x: &[f32], y: &mut [f32]) {
    let a = f32x8::splat(alpha);
    zip_in_place(x, y, |x, y| x.mul_add(a, y));
}

/// `dst ← dst + src`: the reduction of one shard's gradient into another.
pub fn add_assign_simd(dst: &mut [f32], src: &[f32]) {
    zip_in_place(src, dst, |s, d| d + s);
}

/// The vector at `s[at..at + 8]`.
#[inline(always)]
fn load_at(s: &[f32], at: usize) -> f32x8 {
    let a: [f32; LANES] = s[at..at + LANES].try_into().expect("eight lanes");
    f32x8::new(a)
}

/// `s[at..at + 8] ← v`.
#[inline(always)]
fn store_at(v: f32x8, s: &mut [f32], at: usize) {
    s[at..at + LANES].copy_from_slice(&v.to_array());
}

/// `(w, state) ← f(w, g, state)` lane-wise over equally long slices: the one
/// loop of every optimizer kernel, with `K` state buffers updated in place
/// beside the parameters. The tail is copied into zero-padded vectors and
/// goes through the same `step` as the body.
///
/// # Panics
/// If the slices' lengths differ (the message names `name`).
#[inline(always)]
fn update_in_place<const K: usize>(
    name: &str,
    w: &mut [f32],
    g: &[f32],
    mut state: [&mut [f32]; K],
    f: impl Fn(f32x8, f32x8, &mut [f32x8; K]) -> f32x8,
) {
    let n = w.len();
    assert!(
        g.len() == n && state.iter().all(|s| s.len() == n),
        "{name}: lengths differ"
    );
    // one vector at `at` of buffers that are all at least `at + 8` long
    let step = |w: &mut [f32], g: &[f32], state: &mut [&mut [f32]; K], at: usize| {
        let mut s = [f32x8::ZERO; K];
        for (v, buf) in s.iter_mut().zip(state.iter()) {
            *v = load_at(buf, at);
        }
        store_at(f(load_at(w, at), load_at(g, at), &mut s), w, at);
        for (v, buf) in s.iter().zip(state.iter_mut()) {
            store_at(*v, buf, at);
        }
    };
    let body = n - n % LANES;
    for at in (0..body).step_by(LANES) {
        step(w, g, &mut state, at);
    }
    if body < n {
        let tail = n - body;
        let (mut tw, mut tg) = ([0.0f32; LANES], [0.0f32; LANES]);
        tw[..tail].copy_from_slice(&w[body..]);
        tg[..tail].copy_from_slice(&g[body..]);
        let mut ts = [[0.0f32; LANES]; K];
        for (t, buf) in ts.iter_mut().zip(state.iter()) {
            t[..tail].copy_from_slice(&buf[body..]);
        }
        step(&mut tw, &tg, &mut ts.each_mut().map(|t| &mut t[..]), 0);
        w[body..].copy_from_slice(&tw[..tail]);
        for (t, buf) in ts.iter().zip(state.iter_mut()) {
            buf[body..].copy_from_slice(&t[..tail]);
        }
    }
}

/// The gradient the rule sees: `s·g`, plus `λ·w` (one fused multiply-add)
/// when `decay` (a constant at every call site).
#[inline(always)]
fn decayed(decay: bool, w: f32x8, g: f32x8, gs: f32x8, wd: f32x8) -> f32x8 {
    if decay {
        w.mul_add(wd, g * gs)
    } else {
        g * gs
    }
}

/// Plain SGD: `d = s·g + λ·w`, `w ← w - η·d`.
///
/// Without weight decay this is `w ← w + (-η·s)·g` with `-η·s` rounded once,
/// exactly [`axpy_simd`]`(-η·s, g, w)` (the update of the trainer before
/// optimizers had state); with decay it is `d = fma(w, λ, s·g)`,
/// `w ← fma(d, -η, w)`.
///
/// ```
/// use backprop::kernels::{simd, SgdHyper};
/// let mut w = [1.0f32, 2.0];
/// let h = SgdHyper { lr: 0.5, grad_scale: 0.25, weight_decay: 0.0 };
/// simd::sgd_simd(&mut w, &[4.0, -4.0], h); // mean gradient (1, -1)
/// assert_eq!(w, [0.5, 2.5]);
/// ```
///
/// # Panics
/// If the lengths differ.
pub fn sgd_simd(w: &mut [f32], g: &[f32], h: SgdHyper) {
    if h.weight_decay == 0.0 {
        let a = f32x8::splat(-h.lr * h.grad_scale);
        update_in_place("sgd", w, g, [], |w, g, _| g.mul_add(a, w));
    } else {
        let (gs, wd) = (f32x8::splat(h.grad_scale), f32x8::splat(h.weight_decay));
        let neg_lr = f32x8::splat(-h.lr);
        update_in_place("sgd", w, g, [], |w, g, _| {
            decayed(true, w, g, gs, wd).mul_add(neg_lr, w)
        });
    }
}

/// SGD with momentum `μ` (dampening 0): `d = s·g + λ·w`;
/// `buf ← d` on the first step, else `buf ← μ·buf + d`;
/// `u = d + μ·buf` (Nesterov) or `buf`; `w ← w - η·u`.
///
/// ```
/// use backprop::kernels::{simd, MomentumHyper};
/// let (mut w, mut buf) = ([1.0f32], [0.0f32]);
/// let mut h = MomentumHyper {
///     lr: 0.5, grad_scale: 1.0, weight_decay: 0.0,
///     momentum: 0.5, nesterov: false, first_step: true,
/// };
/// simd::sgd_momentum_simd(&mut w, &[1.0], &mut buf, h);
/// assert_eq!((w, buf), ([0.5], [1.0]));
/// h.first_step = false;
/// simd::sgd_momentum_simd(&mut w, &[1.0], &mut buf, h); // buf = 0.5·1 + 1
/// assert_eq!((w, buf), ([-0.25], [1.5]));
/// ```
///
/// # Panics
/// If the lengths differ.
pub fn sgd_momentum_simd(w: &mut [f32], g: &[f32], buf: &mut [f32], h: MomentumHyper) {
    if h.weight_decay == 0.0 {
        momentum_lanes::<false>(w, g, buf, h);
    } else {
        momentum_lanes::<true>(w, g, buf, h);
    }
}

#[inline(always)]
fn momentum_lanes<const DECAY: bool>(w: &mut [f32], g: &[f32], buf: &mut [f32], h: MomentumHyper) {
    let (gs, wd) = (f32x8::splat(h.grad_scale), f32x8::splat(h.weight_decay));
    let (mu, neg_lr) = (f32x8::splat(h.momentum), f32x8::splat(-h.lr));
    let (first, nesterov) = (h.first_step, h.nesterov);
    update_in_place("sgd_momentum", w, g, [buf], |w, g, [b]| {
        let d = decayed(DECAY, w, g, gs, wd);
        *b = if first { d } else { *b * mu + d };
        let u = if nesterov { b.mul_add(mu, d) } else { *b };
        u.mul_add(neg_lr, w)
    });
}

/// Adam, or AdamW when `h.decoupled`:
/// AdamW first decays `w ← w·(1 - η·λ)` and takes `d = s·g`; Adam takes
/// `d = s·g + λ·w`. Then `m ← β₁·m + (1-β₁)·d`, `v ← β₂·v + (1-β₂)·d²`,
/// `w ← w - (η/bc₁)·m / (sqrt(v)/bc₂ + ε)` with `bc₁ = 1 - β₁^t`,
/// `bc₂ = sqrt(1 - β₂^t)`.
///
/// ```
/// use backprop::kernels::{simd, AdamHyper};
/// let (mut w, mut m, mut v) = ([1.0f32], [0.0f32], [0.0f32]);
/// let h = AdamHyper {
///     lr: 0.1, grad_scale: 1.0, weight_decay: 0.0, beta1: 0.9, beta2: 0.999,
///     eps: 1e-8, bias_correction1: 0.1, bias_correction2_sqrt: 0.001f32.sqrt(),
///     decoupled: false,
/// };
/// simd::adam_simd(&mut w, &[3.0], &mut m, &mut v, h);
/// // the first step moves every weight by about η against its gradient's sign
/// assert!((w[0] - 0.9).abs() < 1e-6, "{w:?}");
/// ```
///
/// # Panics
/// If the lengths differ.
pub fn adam_simd(w: &mut [f32], g: &[f32], m: &mut [f32], v: &mut [f32], h: AdamHyper) {
    match (h.weight_decay != 0.0, h.decoupled) {
        (false, _) => adam_lanes::<false, false>(w, g, m, v, h),
        (true, false) => adam_lanes::<true, false>(w, g, m, v, h),
        (true, true) => adam_lanes::<true, true>(w, g, m, v, h),
    }
}

#[inline(always)]
fn adam_lanes<const DECAY: bool, const DECOUPLED: bool>(
    w: &mut [f32],
    g: &[f32],
    m: &mut [f32],
    v: &mut [f32],
    h: AdamHyper,
) {
    let c = h.derived();
    let (gs, wd) = (f32x8::splat(h.grad_scale), f32x8::splat(h.weight_decay));
    let keep = f32x8::splat(c.keep);
    let (b1, one_minus_b1) = (f32x8::splat(h.beta1), f32x8::splat(c.one_minus_beta1));
    let (b2, one_minus_b2) = (f32x8::splat(h.beta2), f32x8::splat(c.one_minus_beta2));
    let (bc2, eps) = (f32x8::splat(h.bias_correction2_sqrt), f32x8::splat(h.eps));
    let step_size = f32x8::splat(c.step_size);
    update_in_place("adam", w, g, [m, v], |w, g, [m, v]| {
        let w = if DECAY && DECOUPLED { w * keep } else { w };
        let d = decayed(DECAY && !DECOUPLED, w, g, gs, wd);
        *m = d.mul_add(one_minus_b1, *m * b1);
        *v = *v * b2 + one_minus_b2 * d * d;
        let denom = v.sqrt() / bc2 + eps;
        w - step_size * *m / denom
    });
}

/// RMSprop (no momentum, not centered): `d = s·g + λ·w`,
/// `sq ← α·sq + (1-α)·d²`, `w ← w - η·d / (sqrt(sq) + ε)`.
///
/// ```
/// use backprop::kernels::{simd, RmsPropHyper};
/// let (mut w, mut sq) = ([1.0f32], [0.0f32]);
/// let h = RmsPropHyper { lr: 0.25, grad_scale: 1.0, weight_decay: 0.0, alpha: 0.75, eps: 0.0 };
/// simd::rmsprop_simd(&mut w, &[2.0], &mut sq, h); // sq = 0.25·2², step 0.25·2/1
/// assert_eq!((w, sq), ([0.5], [1.0]));
/// ```
///
/// # Panics
/// If the lengths differ.
pub fn rmsprop_simd(w: &mut [f32], g: &[f32], sq: &mut [f32], h: RmsPropHyper) {
    if h.weight_decay == 0.0 {
        rmsprop_lanes::<false>(w, g, sq, h);
    } else {
        rmsprop_lanes::<true>(w, g, sq, h);
    }
}

#[inline(always)]
fn rmsprop_lanes<const DECAY: bool>(w: &mut [f32], g: &[f32], sq: &mut [f32], h: RmsPropHyper) {
    let (gs, wd) = (f32x8::splat(h.grad_scale), f32x8::splat(h.weight_decay));
    let (alpha, one_minus_alpha) = (f32x8::splat(h.alpha), f32x8::splat(h.one_minus_alpha()));
    let (lr, eps) = (f32x8::splat(h.lr), f32x8::splat(h.eps));
    update_in_place("rmsprop", w, g, [sq], |w, g, [sq]| {
        let d = decayed(DECAY, w, g, gs, wd);
        *sq = *sq * alpha + one_minus_alpha * d * d;
        w - lr * d / (sq.sqrt() + eps)
    });
}
