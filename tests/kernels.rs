//! Every SIMD kernel of `backprop::kernels::simd` against its scalar reference
//! in `backprop::kernels::scalar`, sigmoid/tanh/`exp8` against `f64`, and the
//! GEMM wrappers of `backprop::kernels::gemm` against an `f64` triple loop.
//!
//! Tolerances (STYLE.md): bitwise `==` (up to the sign of zero and NaN
//! payloads) for ReLU, its derivative, the other derivatives (the same
//! multiplications in the same order), bias, column sums, `add_assign` and the
//! MSE delta; ≤ 4 ULP or ≤ 1e-6 absolute for everything through an
//! exponential; `axpy` within the rounding of one FMA against mul + add;
//! losses relative 1e-5 with an absolute floor for their rounding; the
//! optimizer kernels (SGD, momentum, Adam/AdamW, RMSprop) bitwise like the
//! derivatives (their twins round `a·b + c` once exactly where they do), and
//! SGD without decay bitwise equal to `axpy`;
//! GEMM `|c - ref| ≤ k·EPS·Σ|a·b|`, exact for small integers; dropout's
//! mask and product and `mul_assign` bitwise; the weighted heads like the
//! unweighted ones, and bitwise equal to them with weights of 1.
//!
//! Every failure names the kernel, the index, the input(s) there and both
//! outputs. Proptest runs from a fixed seed (override with
//! `PROPTEST_RNG_SEED`); the other random inputs come from seeded ChaCha.

use backprop::kernels::simd::{self, exp8, LANES};
use backprop::kernels::{
    gemm, scalar, unit_hash, AdamHyper, DropoutRow, MomentumHyper, RmsPropHyper, SgdHyper,
};
use backprop::{Error, MatMut, MatRef};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::test_runner::{RngSeed, TestCaseError};
use rand::{Rng, RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use wide::f32x8;

// ---------------------------------------------------------------------------
// Configuration and value strategies
// ---------------------------------------------------------------------------

/// Proptest config with `cases` cases and a fixed seed unless
/// `PROPTEST_RNG_SEED` is set.
fn config(cases: u32) -> ProptestConfig {
    let d = ProptestConfig::default();
    let rng_seed = match d.rng_seed {
        RngSeed::Random => RngSeed::Fixed(0x006b_6572_6e65_6c73),
        fixed => fixed,
    };
    ProptestConfig {
        cases,
        rng_seed,
        ..d
    }
}

/// Values every kernel must get right: zeros of both signs, subnormals, the
/// edges of `exp`'s range, huge values.
static SPECIAL: [f32; 24] = [
    0.0,
    -0.0,
    1e-40,
    -1e-42,
    f32::MIN_POSITIVE,
    -f32::MIN_POSITIVE,
    1.0,
    -1.0,
    0.625,
    -0.625,
    87.336_55,
    -87.336_55,
    88.0,
    -88.0,
    89.0,
    -89.0,
    100.0,
    -100.0,
    1e30,
    -1e30,
    f32::MAX,
    f32::MIN,
    f32::EPSILON,
    -f32::EPSILON,
];

/// Special values that keep a head's logits sane (|z| ≤ 50).
static SANE_SPECIAL: [f32; 12] = [
    0.0,
    -0.0,
    1e-40,
    -1e-42,
    f32::MIN_POSITIVE,
    -f32::MIN_POSITIVE,
    1.0,
    -1.0,
    20.0,
    -20.0,
    50.0,
    -50.0,
];

/// Bounded ranges mixed with special values and any finite `f32`.
fn value() -> impl Strategy<Value = f32> {
    prop_oneof![
        6 => -10.0f32..10.0,
        2 => -100.0f32..100.0,
        2 => prop::sample::select(&SPECIAL[..]),
        1 => prop::num::f32::NORMAL | prop::num::f32::SUBNORMAL | prop::num::f32::ZERO,
    ]
}

/// Logits for the heads' relative loss checks: |z| ≤ 50.
fn sane() -> impl Strategy<Value = f32> {
    prop_oneof![
        6 => -10.0f32..10.0,
        2 => -50.0f32..=50.0,
        1 => prop::sample::select(&SANE_SPECIAL[..]),
    ]
}

/// Targets in [0, 1], often exactly 0 or 1.
fn target() -> impl Strategy<Value = f32> {
    prop_oneof![Just(0.0f32), Just(1.0f32), 0.0f32..=1.0]
}

/// Poisson targets: counts and rates, often 0.
fn count() -> impl Strategy<Value = f32> {
    prop_oneof![
        Just(0.0f32),
        Just(1.0f32),
        0.0f32..=5.0,
        (0u32..1000).prop_map(|v| v as f32)
    ]
}

/// Poisson deltas `w·(exp(z) - y)` (`w ≤ 1`) within a few roundings of
/// their parts.
fn check_poisson(
    name: &str,
    simd: &[f32],
    reference: &[f32],
    z: &[f32],
    y: &[f32],
) -> Result<(), TestCaseError> {
    for i in 0..z.len() {
        let (a, b) = (simd[i], reference[i]);
        let scale = f64::from(z[i]).exp() + f64::from(y[i]).abs();
        let ok =
            same(a, b) || f64::from(a - b).abs() <= 8.0 * f64::from(f32::EPSILON) * scale + 1e-6;
        prop_assert!(
            ok,
            "{}: index {}: z {} y {}: simd {:e} vs scalar {:e}",
            name,
            i,
            show(z[i]),
            show(y[i]),
            a,
            b
        );
    }
    Ok(())
}

/// The magnitude a Poisson loss's rounding scales with: per element
/// `exp(z) + |y·z| + |y·ln y| + y`.
fn poisson_loss_scale(z: &[f32], y: &[f32]) -> f64 {
    z.iter()
        .zip(y)
        .map(|(&z, &y)| {
            let (z, y) = (f64::from(z), f64::from(y));
            let ylny = if y > 0.0 { (y * y.ln()).abs() } else { 0.0 };
            z.exp() + (y * z).abs() + ylny + y
        })
        .sum()
}

/// Slice lengths: short ones around the vector width, and up to 2000.
fn len() -> impl Strategy<Value = usize> {
    prop_oneof![0usize..=4 * LANES + 3, 0usize..2000]
}

fn values() -> impl Strategy<Value = Vec<f32>> {
    len().prop_flat_map(|n| vec(value(), n))
}

fn value_pairs() -> impl Strategy<Value = (Vec<f32>, Vec<f32>)> {
    len().prop_flat_map(|n| (vec(value(), n), vec(value(), n)))
}

/// `(rows, cols)` with cols 1..=20 mostly, sometimes wider; at most ~2000 values.
fn rows_cols() -> impl Strategy<Value = (usize, usize)> {
    prop_oneof![3 => 1usize..=20, 1 => 21usize..=300]
        .prop_flat_map(|c| (0usize..=(2000 / c).min(60), Just(c)))
}

// ---------------------------------------------------------------------------
// Comparisons
// ---------------------------------------------------------------------------

/// Bitwise equal, except that +0 == -0 and any NaN == any NaN.
fn same(a: f32, b: f32) -> bool {
    a.to_bits() == b.to_bits() || (a == 0.0 && b == 0.0) || (a.is_nan() && b.is_nan())
}

/// Distance in representable `f32`s (±0 are one point).
fn ulps(a: f32, b: f32) -> u64 {
    fn ordered(x: f32) -> i64 {
        let b = x.to_bits();
        if b & 0x8000_0000 != 0 {
            -i64::from(b & 0x7fff_ffff)
        } else {
            i64::from(b)
        }
    }
    ordered(a).abs_diff(ordered(b))
}

/// ≤ 4 ULP or ≤ 1e-6 absolute (the tolerance of everything through `exp`).
fn close_exp(a: f32, b: f32) -> bool {
    same(a, b) || (a.is_finite() && b.is_finite() && (ulps(a, b) <= 4 || (a - b).abs() <= 1e-6))
}

/// `simd` and `reference` agree element-wise under `ok`; else a failure naming
/// `name`, the index, the inputs there (`input(i)`) and both values.
fn check(
    name: &str,
    simd: &[f32],
    reference: &[f32],
    ok: impl Fn(f32, f32) -> bool,
    input: impl Fn(usize) -> String,
) -> Result<(), TestCaseError> {
    prop_assert_eq!(simd.len(), reference.len(), "{}: lengths differ", name);
    for (i, (&s, &r)) in simd.iter().zip(reference).enumerate() {
        if !ok(s, r) {
            return Err(TestCaseError::fail(format!(
                "{name}: index {i} of {}: input {}: simd {s:e} ({:#010x}) vs scalar {r:e} ({:#010x}), {} ulps apart",
                simd.len(),
                input(i),
                s.to_bits(),
                r.to_bits(),
                ulps(s, r),
            )));
        }
    }
    Ok(())
}

fn show(v: f32) -> String {
    format!("{v:e} ({:#010x})", v.to_bits())
}

/// A summed loss within 1e-5 relative of the reference, or within `floor`.
fn check_loss(name: &str, simd: f64, reference: f64, floor: f64) -> Result<(), TestCaseError> {
    let err = (simd - reference).abs();
    let tol = 1e-5 * reference.abs() + floor;
    if err <= tol || (simd.is_nan() && reference.is_nan()) || simd == reference {
        Ok(())
    } else {
        Err(TestCaseError::fail(format!(
            "{name}: loss simd {simd:e} vs scalar {reference:e}: error {err:e} > {tol:e}"
        )))
    }
}

/// The magnitude a softmax + CE loss's rounding scales with: per row
/// `|lse|·Σy + Σ|y·z|`.
fn softmax_ce_loss_scale(z: &[f32], y: &[f32], cols: usize) -> f64 {
    z.chunks(cols)
        .zip(y.chunks(cols))
        .map(|(z, y)| {
            let max = z
                .iter()
                .fold(f64::NEG_INFINITY, |m, &v| m.max(f64::from(v)));
            let lse = max
                + z.iter()
                    .map(|&v| (f64::from(v) - max).exp())
                    .sum::<f64>()
                    .ln();
            let ysum: f64 = y.iter().map(|&v| f64::from(v)).sum();
            lse.abs() * ysum
                + z.iter()
                    .zip(y)
                    .map(|(&z, &y)| f64::from((z * y).abs()))
                    .sum::<f64>()
        })
        .sum()
}

/// The magnitude a BCE loss's rounding scales with: softplus(z) and y·z per element.
fn bce_loss_scale(z: &[f32], y: &[f32]) -> f64 {
    z.iter()
        .zip(y)
        .map(|(&z, &y)| f64::from(z.max(0.0)) + 0.7 + f64::from((y * z).abs()))
        .sum()
}

fn run(f: fn(&mut [f32]), x: &[f32]) -> Vec<f32> {
    let mut v = x.to_vec();
    f(&mut v);
    v
}

fn run_zip(f: fn(&[f32], &mut [f32]), a: &[f32], d: &[f32]) -> Vec<f32> {
    let mut v = d.to_vec();
    f(a, &mut v);
    v
}

/// `exp8` on a slice, eight lanes at a time (the tail padded with zeros).
fn exp8_slice(x: &[f32]) -> Vec<f32> {
    let mut out = Vec::with_capacity(x.len());
    for c in x.chunks(LANES) {
        let mut a = [0.0f32; LANES];
        a[..c.len()].copy_from_slice(c);
        out.extend_from_slice(&exp8(f32x8::new(a)).to_array()[..c.len()]);
    }
    out
}

// ---------------------------------------------------------------------------
// Element-wise kernels against their scalar references
// ---------------------------------------------------------------------------

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn sigmoid_matches_scalar(x in values()) {
        let s = run(simd::sigmoid_simd, &x);
        let r = run(scalar::sigmoid_scalar, &x);
        check("sigmoid", &s, &r, close_exp, |i| show(x[i]))?;
    }

    #[test]
    fn tanh_matches_scalar(x in values()) {
        let s = run(simd::tanh_simd, &x);
        let r = run(scalar::tanh_scalar, &x);
        check("tanh", &s, &r, close_exp, |i| show(x[i]))?;
    }

    #[test]
    fn relu_matches_scalar(x in values()) {
        let s = run(simd::relu_simd, &x);
        let r = run(scalar::relu_scalar, &x);
        check("relu", &s, &r, same, |i| show(x[i]))?;
    }

    #[test]
    fn sigmoid_backward_matches_scalar((a, d) in value_pairs()) {
        let s = run_zip(simd::sigmoid_backward_simd, &a, &d);
        let r = run_zip(scalar::sigmoid_backward_scalar, &a, &d);
        check("sigmoid_backward", &s, &r, same, |i| format!("a {} d {}", show(a[i]), show(d[i])))?;
    }

    #[test]
    fn tanh_backward_matches_scalar((a, d) in value_pairs()) {
        let s = run_zip(simd::tanh_backward_simd, &a, &d);
        let r = run_zip(scalar::tanh_backward_scalar, &a, &d);
        check("tanh_backward", &s, &r, same, |i| format!("a {} d {}", show(a[i]), show(d[i])))?;
    }

    #[test]
    fn relu_backward_matches_scalar((a, d) in value_pairs()) {
        let s = run_zip(simd::relu_backward_simd, &a, &d);
        let r = run_zip(scalar::relu_backward_scalar, &a, &d);
        check("relu_backward", &s, &r, same, |i| format!("a {} d {}", show(a[i]), show(d[i])))?;
    }

    #[test]
    fn add_assign_matches_scalar((src, dst) in value_pairs()) {
        let mut s = dst.clone();
        simd::add_assign_simd(&mut s, &src);
        let mut r = dst.clone();
        scalar::add_assign_scalar(&mut r, &src);
        check("add_assign", &s, &r, same, |i| format!("dst {} src {}", show(dst[i]), show(src[i])))?;
    }

    /// FMA (native build) against mul + add: the two differ by at most the
    /// rounding of the product and of the sum.
    #[test]
    fn axpy_matches_scalar(
        (x, y) in value_pairs(),
        alpha in prop_oneof![-2.0f32..2.0, prop::sample::select(&SPECIAL[..])],
    ) {
        let mut s = y.clone();
        simd::axpy_simd(alpha, &x, &mut s);
        let mut r = y.clone();
        scalar::axpy_scalar(alpha, &x, &mut r);
        for i in 0..x.len() {
            let ax = f64::from(alpha) * f64::from(x[i]); // exact
            let exact = ax + f64::from(y[i]);
            let overflow = ax.abs() > f64::from(f32::MAX) || exact.abs() > f64::from(f32::MAX);
            let ok = same(s[i], r[i])
                || if s[i].is_finite() && r[i].is_finite() {
                    let tol = f64::from(f32::EPSILON)
                        * (ax.abs() + f64::from(y[i]).abs() + exact.abs())
                        + 2.0 * f64::from(f32::from_bits(1));
                    (f64::from(s[i]) - f64::from(r[i])).abs() <= tol
                } else {
                    // the product or the sum overflows f32: mul + add gives
                    // ±inf (or NaN from inf - inf) where FMA may stay finite,
                    // as the rounded exact value
                    overflow && ulps(s[i], exact as f32) <= 1
                };
            prop_assert!(
                ok,
                "axpy: index {} of {}: alpha {} x {} y {}: simd {} vs scalar {} (exact {:e})",
                i, x.len(), show(alpha), show(x[i]), show(y[i]), show(s[i]), show(r[i]), exact
            );
        }
    }

    /// The module promises that a value's result depends neither on the slice
    /// length nor on its position.
    #[test]
    fn result_independent_of_position(x in values()) {
        for (name, f) in [
            ("sigmoid", simd::sigmoid_simd as fn(&mut [f32])),
            ("tanh", simd::tanh_simd),
            ("relu", simd::relu_simd),
        ] {
            let whole = run(f, &x);
            let alone: Vec<f32> = x.iter().map(|&v| run(f, &[v])[0]).collect();
            check(name, &whole, &alone, |a, b| a.to_bits() == b.to_bits(), |i| show(x[i]))?;
        }
    }
}

// ---------------------------------------------------------------------------
// Row kernels
// ---------------------------------------------------------------------------

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn bias_rows_matches_scalar(
        ((rows, cols), b, fill) in rows_cols()
            .prop_flat_map(|(r, c)| (Just((r, c)), vec(value(), c), value())),
    ) {
        let z = vec![fill; rows * cols];
        let mut s = z.clone();
        simd::bias_rows_simd(&b, &mut s);
        let mut r = z.clone();
        scalar::bias_rows_scalar(&b, &mut r);
        check("bias_rows", &s, &r, same, |i| format!("b[{}] {} ({rows}×{cols})", i % cols, show(b[i % cols])))?;
    }

    #[test]
    fn col_sums_matches_scalar(
        ((rows, cols), x, fill) in rows_cols()
            .prop_flat_map(|(r, c)| (Just((r, c)), vec(value(), r * c), value())),
    ) {
        let mut s = vec![fill; cols];
        simd::col_sums_simd(&x, &mut s);
        let mut r = vec![f32::NAN; cols];
        scalar::col_sums_scalar(&x, &mut r);
        check("col_sums", &s, &r, same, |j| {
            let col: Vec<String> = (0..rows).map(|r| format!("{:e}", x[r * cols + j])).collect();
            format!("column {j} of {rows}×{cols}: [{}]", col.join(", "))
        })?;
    }

    #[test]
    fn softmax_rows_matches_scalar(
        ((_rows, cols), z) in rows_cols()
            .prop_flat_map(|(r, c)| (Just((r, c)), vec(value(), r * c))),
    ) {
        let mut s = z.clone();
        simd::softmax_rows_simd(&mut s, cols);
        let mut r = z.clone();
        scalar::softmax_rows_scalar(&mut r, cols);
        check("softmax_rows", &s, &r, close_exp, |i| {
            format!("z {} in row {} = {:?}", show(z[i]), i / cols, &z[i / cols * cols..][..cols])
        })?;
    }

    #[test]
    fn mse_head_matches_scalar((z, y) in value_pairs()) {
        // delta exact on any values
        let mut s = z.clone();
        let ls = simd::mse_head_simd(&mut s, &y);
        let mut r = z.clone();
        let lr = scalar::mse_head_scalar(&mut r, &y);
        check("mse_head delta", &s, &r, same, |i| format!("z {} y {}", show(z[i]), show(y[i])))?;
        // loss: every term is the same f32, only the summation differs; with
        // huge values both overflow to inf
        if lr.is_finite() && z.iter().chain(&y).all(|v| v.abs() <= 1e15) {
            check_loss("mse_head", ls, lr, 1e-30)?;
        } else if lr.is_infinite() {
            prop_assert!(ls.is_infinite() || ls.is_nan(), "mse_head: scalar loss inf, simd {ls:e}");
        }
    }

    #[test]
    fn mse_head_loss_matches_scalar(
        (z, y) in len().prop_flat_map(|n| (vec(sane(), n), vec(sane(), n))),
    ) {
        let mut s = z.clone();
        let ls = simd::mse_head_simd(&mut s, &y);
        let mut r = z.clone();
        let lr = scalar::mse_head_scalar(&mut r, &y);
        check("mse_head delta", &s, &r, same, |i| format!("z {} y {}", show(z[i]), show(y[i])))?;
        check_loss("mse_head", ls, lr, 1e-30)?;
    }

    #[test]
    fn bce_head_matches_scalar(
        (z, y) in len().prop_flat_map(|n| (vec(sane(), n), vec(target(), n))),
    ) {
        let mut s = z.clone();
        let ls = simd::bce_head_simd(&mut s, &y);
        let mut r = z.clone();
        let lr = scalar::bce_head_scalar(&mut r, &y);
        check("bce_head delta", &s, &r, close_exp, |i| format!("z {} y {}", show(z[i]), show(y[i])))?;
        // floor: a few roundings of every term's parts, softplus(z) and y·z
        let scale = bce_loss_scale(&z, &y);
        check_loss("bce_head", ls, lr, 4.0 * f64::from(f32::EPSILON) * scale)?;
    }

    #[test]
    fn softmax_ce_head_matches_scalar(
        ((_rows, cols), z, y) in rows_cols().prop_flat_map(|(r, c)| {
            let y_row = prop_oneof![
                (0..c).prop_map(move |k| (0..c).map(|j| if j == k { 1.0 } else { 0.0 }).collect::<Vec<f32>>()),
                vec(target(), c),
            ];
            (Just((r, c)), vec(sane(), r * c), vec(y_row, r).prop_map(|v| v.concat()))
        }),
    ) {
        let mut s = z.clone();
        let ls = simd::softmax_ce_head_simd(&mut s, &y, cols);
        let mut r = z.clone();
        let lr = scalar::softmax_ce_head_scalar(&mut r, &y, cols);
        check("softmax_ce_head delta", &s, &r, close_exp, |i| {
            format!("z {} y {} in row {} = {:?}", show(z[i]), show(y[i]), i / cols, &z[i / cols * cols..][..cols])
        })?;
        // floor: the rounding of lse·Σy - Σy·z over a row of `cols`
        let scale = softmax_ce_loss_scale(&z, &y, cols);
        check_loss(
            "softmax_ce_head",
            ls,
            lr,
            (cols as f64 + 4.0) * f64::from(f32::EPSILON) * scale,
        )?;
    }

    /// Extreme logits (±1e30, ±88, ±89, ±100) next to sane ones: the
    /// classifier heads' loss and every delta stay finite.
    #[test]
    fn heads_finite_for_extreme_logits(
        ((rows, cols), z, y) in (1usize..=20).prop_flat_map(|c| (1usize..=20, Just(c))).prop_flat_map(|(r, c)| {
            let z = prop_oneof![
                2 => prop::sample::select(&[1e30f32, -1e30, 88.0, -88.0, 89.0, -89.0, 100.0, -100.0][..]),
                1 => sane(),
            ];
            (Just((r, c)), vec(z, r * c), vec(target(), r * c))
        }),
    ) {
        let mut d = z.clone();
        let loss = simd::bce_head_simd(&mut d, &y);
        prop_assert!(loss.is_finite(), "bce_head: loss {} for z {:?} y {:?}", loss, z, y);
        check("bce_head delta finite", &d, &d, |a, _| a.is_finite(), |i| format!("z {} y {}", show(z[i]), show(y[i])))?;

        let mut d = z.clone();
        let loss = simd::softmax_ce_head_simd(&mut d, &y, cols);
        prop_assert!(loss.is_finite(), "softmax_ce_head: loss {} for {}×{} z {:?} y {:?}", loss, rows, cols, z, y);
        check("softmax_ce_head delta finite", &d, &d, |a, _| a.is_finite(), |i| format!("z {} y {}", show(z[i]), show(y[i])))?;

        // MSE: ±1e30 squared overflows f32 by nature; ±100 must not
        let zm: Vec<f32> = z.iter().map(|v| v.clamp(-100.0, 100.0)).collect();
        let mut d = zm.clone();
        let loss = simd::mse_head_simd(&mut d, &y);
        prop_assert!(loss.is_finite(), "mse_head: loss {} for z {:?} y {:?}", loss, zm, y);
        check("mse_head delta finite", &d, &d, |a, _| a.is_finite(), |i| format!("z {} y {}", show(zm[i]), show(y[i])))?;
    }
}

/// The heads' summed loss is documented as accumulated in `f64` per vector:
/// over a million elements it must stay within the rounding of its `f32`
/// terms (1e-6 relative; every term is ≥ 0), and huge finite terms must not
/// overflow the sum.
#[test]
fn head_loss_sums_accumulate_in_f64() {
    let mut rng = ChaCha8Rng::seed_from_u64(0x5a11);
    let n = 1_000_003;
    let z: Vec<f32> = (0..n).map(|_| rng.random_range(-5.0f32..5.0)).collect();
    let y: Vec<f32> = (0..n)
        .map(|_| if rng.random_bool(0.5) { 1.0 } else { 0.0 })
        .collect();
    for (name, f, g) in [
        (
            "bce_head",
            simd::bce_head_simd as fn(&mut [f32], &[f32]) -> f64,
            scalar::bce_head_scalar as fn(&mut [f32], &[f32]) -> f64,
        ),
        ("mse_head", simd::mse_head_simd, scalar::mse_head_scalar),
    ] {
        let ls = f(&mut z.clone(), &y);
        let lr = g(&mut z.clone(), &y);
        let rel = (ls - lr).abs() / lr;
        assert!(
            rel <= 1e-6,
            "{name}: {n} elements: simd loss {ls} vs scalar {lr}: relative error {rel:e} > 1e-6"
        );
    }
    // 16 terms of f32::MAX: about 5.4e39 as an f64 sum, inf as an f32 one
    let ls = simd::bce_head_simd(&mut [f32::MAX; 16], &[0.0; 16]);
    let lr = scalar::bce_head_scalar(&mut [f32::MAX; 16], &[0.0; 16]);
    assert!(
        ls.is_finite() && (ls - lr).abs() <= 1e-6 * lr,
        "bce_head: z = f32::MAX ×16, y = 0: simd loss {ls:e} vs scalar {lr:e}"
    );
}

#[test]
fn row_kernels_handle_empty_input() {
    let mut out = [f32::NAN; 3];
    simd::col_sums_simd(&[], &mut out);
    assert_eq!(out, [0.0; 3]);
    simd::col_sums_simd(&[], &mut []);
    simd::bias_rows_simd(&[], &mut []);
    simd::bias_rows_simd(&[1.0, 2.0], &mut []);
    simd::softmax_rows_simd(&mut [], 0);
    simd::softmax_rows_simd(&mut [], 5);
    assert_eq!(simd::softmax_ce_head_simd(&mut [], &[], 4), 0.0);
    assert_eq!(simd::bce_head_simd(&mut [], &[]), 0.0);
    assert_eq!(simd::mse_head_simd(&mut [], &[]), 0.0);
}

#[test]
#[should_panic(expected = "not rows of")]
fn bias_rows_rejects_ragged_rows() {
    simd::bias_rows_simd(&[1.0, 2.0, 3.0], &mut [0.0; 7]);
}

#[test]
#[should_panic(expected = "not rows of")]
fn col_sums_rejects_ragged_rows() {
    simd::col_sums_simd(&[0.0; 7], &mut [0.0; 3]);
}

#[test]
#[should_panic(expected = "lengths differ")]
fn zip_kernels_reject_unequal_lengths() {
    simd::add_assign_simd(&mut [0.0; 9], &[0.0; 8]);
}

// ---------------------------------------------------------------------------
// Dropout and weighted heads
// ---------------------------------------------------------------------------

/// Row weights: often exactly 0 or 1, else in `[0, 1]`.
fn weight() -> impl Strategy<Value = f32> {
    prop_oneof![Just(0.0f32), Just(1.0f32), 0.0f32..=1.0]
}

/// A dropout row: any key, any threshold up to 2²⁴ (keep all … drop all),
/// the scale of a probability.
fn dropout_row() -> impl Strategy<Value = DropoutRow> {
    (
        any::<u32>(),
        prop_oneof![Just(0u32), Just(1 << 24), 0u32..=1 << 24],
        1.0f32..20.0,
    )
        .prop_map(|(key, threshold, scale)| DropoutRow {
            key,
            threshold,
            scale,
        })
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn dropout_row_matches_scalar(a in values(), d in dropout_row()) {
        let n = a.len();
        let (mut out_s, mut mask_s) = (vec![7.0; n], vec![7.0; n]);
        simd::dropout_row_simd(&a, &mut out_s, &mut mask_s, d);
        let (mut out_r, mut mask_r) = (vec![7.0; n], vec![7.0; n]);
        scalar::dropout_row_scalar(&a, &mut out_r, &mut mask_r, d);
        // the mask bitwise (not even the sign of zero may differ), the product as `same`
        prop_assert!(
            mask_s.iter().zip(&mask_r).all(|(s, r)| s.to_bits() == r.to_bits()),
            "dropout mask differs: {d:?}"
        );
        check("dropout_row", &out_s, &out_r, same, |i| format!("a {} {d:?}", show(a[i])))?;
        for (j, &m) in mask_s.iter().enumerate() {
            let keep = unit_hash(d.key, j as u32) >> 8 >= d.threshold;
            prop_assert_eq!(m, if keep { d.scale } else { 0.0 }, "unit {}", j);
        }
    }

    #[test]
    fn mul_assign_matches_scalar((d, m) in value_pairs()) {
        let mut s = d.clone();
        simd::mul_assign_simd(&mut s, &m);
        let mut r = d.clone();
        scalar::mul_assign_scalar(&mut r, &m);
        check("mul_assign", &s, &r, same, |i| format!("d {} m {}", show(d[i]), show(m[i])))?;
    }

    #[test]
    fn weighted_bce_and_mse_heads_match_scalar(
        (z, y, w) in len().prop_flat_map(|n| (vec(sane(), n), vec(target(), n), vec(weight(), n))),
    ) {
        let mut s = z.clone();
        let ls = simd::bce_head_weighted_simd(&mut s, &y, &w);
        let mut r = z.clone();
        let lr = scalar::bce_head_weighted_scalar(&mut r, &y, &w);
        check("bce_head_weighted delta", &s, &r, close_exp, |i| {
            format!("z {} y {} w {}", show(z[i]), show(y[i]), show(w[i]))
        })?;
        let scale = bce_loss_scale(&z, &y);
        check_loss("bce_head_weighted", ls, lr, 4.0 * f64::from(f32::EPSILON) * scale)?;

        let mut s = z.clone();
        let ls = simd::mse_head_weighted_simd(&mut s, &y, &w);
        let mut r = z.clone();
        let lr = scalar::mse_head_weighted_scalar(&mut r, &y, &w);
        check("mse_head_weighted delta", &s, &r, same, |i| {
            format!("z {} y {} w {}", show(z[i]), show(y[i]), show(w[i]))
        })?;
        check_loss("mse_head_weighted", ls, lr, 1e-30)?;
    }

    #[test]
    fn poisson_heads_match_scalar(
        (z, y, w) in len().prop_flat_map(|n| (vec(sane(), n), vec(count(), n), vec(weight(), n))),
    ) {
        let mut s = z.clone();
        let ls = simd::poisson_head_simd(&mut s, &y);
        let mut r = z.clone();
        let lr = scalar::poisson_head_scalar(&mut r, &y);
        let scale = poisson_loss_scale(&z, &y);
        check_poisson("poisson_head delta", &s, &r, &z, &y)?;
        check_loss("poisson_head", ls, lr, 8.0 * f64::from(f32::EPSILON) * scale)?;

        let mut s = z.clone();
        let ls = simd::poisson_head_weighted_simd(&mut s, &y, &w);
        let mut r = z.clone();
        let lr = scalar::poisson_head_weighted_scalar(&mut r, &y, &w);
        check_poisson("poisson_head_weighted delta", &s, &r, &z, &y)?;
        check_loss("poisson_head_weighted", ls, lr, 8.0 * f64::from(f32::EPSILON) * scale)?;
    }

    #[test]
    fn exp_matches_scalar(x in len().prop_flat_map(|n| vec(sane(), n))) {
        let mut s = x.clone();
        simd::exp_simd(&mut s);
        let mut r = x.clone();
        scalar::exp_scalar(&mut r);
        check("exp", &s, &r, close_exp, |i| show(x[i]))?;
    }

    #[test]
    fn weighted_softmax_ce_head_matches_scalar(
        ((rows, cols), z, y, w) in rows_cols().prop_flat_map(|(r, c)| {
            (Just((r, c)), vec(sane(), r * c), vec(target(), r * c), vec(weight(), r))
        }),
    ) {
        let _ = rows;
        let mut s = z.clone();
        let ls = simd::softmax_ce_head_weighted_simd(&mut s, &y, &w, cols);
        let mut r = z.clone();
        let lr = scalar::softmax_ce_head_weighted_scalar(&mut r, &y, &w, cols);
        check("softmax_ce_head_weighted delta", &s, &r, close_exp, |i| {
            format!("z {} y {} w {} in row {}", show(z[i]), show(y[i]), show(w[i / cols]), i / cols)
        })?;
        let scale = softmax_ce_loss_scale(&z, &y, cols);
        check_loss(
            "softmax_ce_head_weighted",
            ls,
            lr,
            (cols as f64 + 4.0) * f64::from(f32::EPSILON) * scale,
        )?;
    }

    /// Weights of 1 change no bit of the unweighted heads' deltas and losses.
    #[test]
    fn unit_weights_are_the_unweighted_heads(
        ((rows, cols), z, y) in rows_cols().prop_flat_map(|(r, c)| {
            (Just((r, c)), vec(sane(), r * c), vec(target(), r * c))
        }),
    ) {
        let ones = vec![1.0f32; z.len()];
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        let (mut a, mut b) = (z.clone(), z.clone());
        let (la, lb) = (simd::bce_head_simd(&mut a, &y), simd::bce_head_weighted_simd(&mut b, &y, &ones));
        prop_assert_eq!((bits(&a), la.to_bits()), (bits(&b), lb.to_bits()), "bce");
        let (mut a, mut b) = (z.clone(), z.clone());
        let (la, lb) = (simd::mse_head_simd(&mut a, &y), simd::mse_head_weighted_simd(&mut b, &y, &ones));
        prop_assert_eq!((bits(&a), la.to_bits()), (bits(&b), lb.to_bits()), "mse");
        let (mut a, mut b) = (z.clone(), z.clone());
        let la = simd::poisson_head_simd(&mut a, &y);
        let lb = simd::poisson_head_weighted_simd(&mut b, &y, &ones);
        prop_assert_eq!((bits(&a), la.to_bits()), (bits(&b), lb.to_bits()), "poisson");
        let (mut a, mut b) = (z.clone(), z.clone());
        let la = simd::softmax_ce_head_simd(&mut a, &y, cols);
        let lb = simd::softmax_ce_head_weighted_simd(&mut b, &y, &ones[..rows], cols);
        prop_assert_eq!((bits(&a), la.to_bits()), (bits(&b), lb.to_bits()), "softmax");
    }
}

/// Over many rows, the share of dropped units is `p` within sampling error,
/// for every layer, and the masks of neighbouring rows, steps and layers are
/// not alike.
#[test]
fn dropout_drops_the_right_share_independently() {
    use backprop::dropout::Dropout;
    for p in [0.1f32, 0.5, 0.9] {
        let d = Dropout::new(p, 3).unwrap().unwrap();
        let (rows, units) = (2000usize, 256usize);
        let a = vec![1.0f32; units];
        let (mut out, mut mask) = (vec![0.0; units], vec![0.0; units]);
        let mut dropped = 0usize;
        let mut same_as_previous_row = 0usize;
        let mut previous = vec![0.0f32; units];
        for row in 0..rows as u64 {
            for (step, layer) in [(0u64, 0usize), (1, 0), (0, 1)] {
                simd::dropout_row_simd(&a, &mut out, &mut mask, d.row(step, layer, row));
                dropped += mask.iter().filter(|&&m| m == 0.0).count();
                if (step, layer) == (0, 0) {
                    same_as_previous_row +=
                        mask.iter().zip(&previous).filter(|(a, b)| a == b).count();
                    previous.copy_from_slice(&mask);
                }
            }
        }
        let n = (rows * units * 3) as f64;
        let share = dropped as f64 / n;
        let sd = (f64::from(p) * (1.0 - f64::from(p)) / n).sqrt();
        assert!(
            (share - f64::from(p)).abs() < 5.0 * sd,
            "p {p}: dropped {share}"
        );
        // two independent rows agree on a unit with probability p² + (1-p)²
        let agree = same_as_previous_row as f64 / ((rows - 1) * units) as f64;
        let want = f64::from(p * p + (1.0 - p) * (1.0 - p));
        assert!(
            (agree - want).abs() < 0.01,
            "p {p}: neighbouring rows agree {agree}, want {want}"
        );
    }
}

// ---------------------------------------------------------------------------
// NaN
// ---------------------------------------------------------------------------

proptest! {
    #![proptest_config(config(64))]

    /// A NaN anywhere comes out as NaN at its index (ReLU: as 0), and the
    /// other elements are unaffected.
    #[test]
    fn nan_propagates_elementwise(
        (x, at) in (1usize..200).prop_flat_map(|n| (vec(-10.0f32..10.0, n), 0..n)),
    ) {
        let mut xn = x.clone();
        xn[at] = f32::NAN;
        for (name, f, g) in [
            ("sigmoid", simd::sigmoid_simd as fn(&mut [f32]), scalar::sigmoid_scalar as fn(&mut [f32])),
            ("tanh", simd::tanh_simd, scalar::tanh_scalar),
        ] {
            let s = run(f, &xn);
            prop_assert!(s[at].is_nan(), "{}: NaN at {} of {} gave {}", name, at, x.len(), s[at]);
            let r = run(g, &xn);
            check(name, &s, &r, close_exp, |i| show(xn[i]))?;
        }
        let s = run(simd::relu_simd, &xn);
        prop_assert!(s[at].to_bits() == 0, "relu: NaN at {} gave {} (documented: 0)", at, show(s[at]));
        check("relu", &s, &run(scalar::relu_scalar, &xn), same, |i| show(xn[i]))?;

        // derivatives: NaN in d propagates wherever the factor is not zero
        let a = run(simd::sigmoid_simd, &x);
        let s = run_zip(simd::sigmoid_backward_simd, &a, &xn);
        prop_assert!(s[at].is_nan(), "sigmoid_backward: NaN d at {} gave {}", at, s[at]);
        let a = run(simd::tanh_simd, &x);
        let s = run_zip(simd::tanh_backward_simd, &a, &xn);
        prop_assert!(s[at].is_nan() || a[at].abs() == 1.0, "tanh_backward: NaN d at {} gave {}", at, s[at]);
        let mut a = run(simd::relu_simd, &x);
        a[at] = 1.0;
        let s = run_zip(simd::relu_backward_simd, &a, &xn);
        prop_assert!(s[at].is_nan(), "relu_backward: NaN d at {} (a > 0) gave {}", at, s[at]);

        let mut s = xn.clone();
        simd::add_assign_simd(&mut s, &x);
        prop_assert!(s[at].is_nan(), "add_assign: NaN at {} gave {}", at, s[at]);
        let mut s = x.clone();
        simd::axpy_simd(0.5, &xn, &mut s);
        prop_assert!(s[at].is_nan(), "axpy: NaN x at {} gave {}", at, s[at]);
        let mut out = vec![0.0; 1];
        simd::col_sums_simd(&xn, &mut out);
        prop_assert!(out[0].is_nan(), "col_sums: NaN in column gave {}", out[0]);
    }

    /// A NaN logit makes its softmax row NaN (and only that row), and every
    /// head's loss NaN; a NaN target too.
    #[test]
    fn nan_propagates_through_rows_and_heads(
        ((rows, cols), z, at, nan_in_y) in (1usize..=20)
            .prop_flat_map(|c| (1usize..=10, Just(c)))
            .prop_flat_map(|(r, c)| (Just((r, c)), vec(-10.0f32..10.0, r * c), 0..r * c, any::<bool>())),
    ) {
        let mut zn = z.clone();
        zn[at] = f32::NAN;
        let mut s = zn.clone();
        simd::softmax_rows_simd(&mut s, cols);
        for (i, &v) in s.iter().enumerate() {
            if i / cols == at / cols {
                prop_assert!(v.is_nan(), "softmax_rows: NaN at {} ({}×{}), index {} gave {}", at, rows, cols, i, v);
            } else {
                prop_assert!(v.is_finite(), "softmax_rows: NaN at {} leaked to index {}: {}", at, i, v);
            }
        }

        let y = vec![0.5f32; rows * cols];
        let (zz, yy) = if nan_in_y {
            let mut yn = y.clone();
            yn[at] = f32::NAN;
            (z.clone(), yn)
        } else {
            (zn.clone(), y.clone())
        };
        let mut d = zz.clone();
        let l = simd::bce_head_simd(&mut d, &yy);
        prop_assert!(l.is_nan() && d[at].is_nan(), "bce_head: NaN at {} gave loss {} delta {}", at, l, d[at]);
        let mut d = zz.clone();
        let l = simd::mse_head_simd(&mut d, &yy);
        prop_assert!(l.is_nan() && d[at].is_nan(), "mse_head: NaN at {} gave loss {} delta {}", at, l, d[at]);
        let mut d = zz.clone();
        let l = simd::softmax_ce_head_simd(&mut d, &yy, cols);
        prop_assert!(l.is_nan() && d[at].is_nan(), "softmax_ce_head: NaN at {} gave loss {} delta {}", at, l, d[at]);
    }
}

// ---------------------------------------------------------------------------
// Optimizer kernels
// ---------------------------------------------------------------------------

/// `n`-long vectors for the parameters, the gradient and two state buffers.
fn quads() -> impl Strategy<Value = (Vec<f32>, Vec<f32>, Vec<f32>, Vec<f32>)> {
    len().prop_flat_map(|n| {
        (
            vec(value(), n),
            vec(value(), n),
            vec(value(), n),
            vec(value(), n),
        )
    })
}

/// Learning rates, gradient scales, weight decays: mostly small positive,
/// sometimes exactly 0 (the no-decay path) or a special value.
fn scalar_hyper() -> impl Strategy<Value = f32> {
    prop_oneof![
        5 => 0.0f32..1.0,
        1 => prop::sample::select(&[0.0f32, 1.0, 1.0 / 3.0, 1e-3][..]),
        1 => prop::sample::select(&SPECIAL[..]),
    ]
}

/// Decay constants (`β`, `α`, `μ`) in `[0, 1)`.
fn decay_rate() -> impl Strategy<Value = f32> {
    prop_oneof![
        3 => 0.0f32..1.0,
        1 => prop::sample::select(&[0.0f32, 0.5, 0.9, 0.99, 0.999][..]),
    ]
}

/// `ε`, and the bias corrections of Adam: in `(0, 1]`.
fn positive_small() -> impl Strategy<Value = f32> {
    prop_oneof![
        3 => 1e-12f32..1.0,
        1 => prop::sample::select(&[1e-8f32, 1.0, f32::MIN_POSITIVE][..]),
    ]
}

/// Checks every output buffer of an optimizer kernel: `(label, simd, scalar)`.
fn check_update(
    name: &str,
    outputs: &[(&str, &[f32], &[f32])],
    input: impl Fn(usize) -> String,
) -> Result<(), TestCaseError> {
    for (label, s, r) in outputs {
        check(&format!("{name}: {label}"), s, r, same, &input)?;
    }
    Ok(())
}

proptest! {
    #![proptest_config(config(256))]

    /// The same operations in the same order, `mul_add` where the twin fuses:
    /// the two agree bit for bit (up to the sign of zero and NaN payloads).
    #[test]
    fn sgd_matches_scalar(
        (w, g, _, _) in quads(),
        (lr, grad_scale, weight_decay) in (scalar_hyper(), scalar_hyper(), scalar_hyper()),
    ) {
        let h = SgdHyper { lr, grad_scale, weight_decay };
        let (mut ws, mut wr) = (w.clone(), w.clone());
        simd::sgd_simd(&mut ws, &g, h);
        scalar::sgd_scalar(&mut wr, &g, h);
        check_update("sgd", &[("w", &ws, &wr)], |i| format!("{h:?} w {} g {}", show(w[i]), show(g[i])))?;
    }

    /// Without weight decay SGD is the old update, `axpy(-η·s, g, w)`, to the bit.
    #[test]
    fn sgd_without_decay_is_axpy(
        (w, g, _, _) in quads(),
        (lr, grad_scale) in (scalar_hyper(), scalar_hyper()),
    ) {
        let mut ws = w.clone();
        simd::sgd_simd(&mut ws, &g, SgdHyper { lr, grad_scale, weight_decay: 0.0 });
        let mut wa = w.clone();
        simd::axpy_simd(-lr * grad_scale, &g, &mut wa);
        check("sgd vs axpy", &ws, &wa, |a, b| a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan()),
            |i| format!("lr {lr} scale {grad_scale} w {} g {}", show(w[i]), show(g[i])))?;
    }

    #[test]
    fn sgd_momentum_matches_scalar(
        (w, g, buf, _) in quads(),
        (lr, grad_scale, weight_decay) in (scalar_hyper(), scalar_hyper(), scalar_hyper()),
        (momentum, nesterov, first_step) in (decay_rate(), any::<bool>(), any::<bool>()),
    ) {
        let h = MomentumHyper { lr, grad_scale, weight_decay, momentum, nesterov, first_step };
        let (mut ws, mut bs) = (w.clone(), buf.clone());
        simd::sgd_momentum_simd(&mut ws, &g, &mut bs, h);
        let (mut wr, mut br) = (w.clone(), buf.clone());
        scalar::sgd_momentum_scalar(&mut wr, &g, &mut br, h);
        check_update("sgd_momentum", &[("w", &ws, &wr), ("buf", &bs, &br)], |i| {
            format!("{h:?} w {} g {} buf {}", show(w[i]), show(g[i]), show(buf[i]))
        })?;
    }

    #[test]
    fn adam_matches_scalar(
        (w, g, m, v) in quads(),
        (lr, grad_scale, weight_decay) in (scalar_hyper(), scalar_hyper(), scalar_hyper()),
        (beta1, beta2, eps) in (decay_rate(), decay_rate(), positive_small()),
        (bias_correction1, bias_correction2_sqrt, decoupled) in (positive_small(), positive_small(), any::<bool>()),
    ) {
        let h = AdamHyper {
            lr, grad_scale, weight_decay, beta1, beta2, eps,
            bias_correction1, bias_correction2_sqrt, decoupled,
        };
        let (mut ws, mut ms, mut vs) = (w.clone(), m.clone(), v.clone());
        simd::adam_simd(&mut ws, &g, &mut ms, &mut vs, h);
        let (mut wr, mut mr, mut vr) = (w.clone(), m.clone(), v.clone());
        scalar::adam_scalar(&mut wr, &g, &mut mr, &mut vr, h);
        check_update("adam", &[("w", &ws, &wr), ("m", &ms, &mr), ("v", &vs, &vr)], |i| {
            format!("{h:?} w {} g {} m {} v {}", show(w[i]), show(g[i]), show(m[i]), show(v[i]))
        })?;
    }

    #[test]
    fn rmsprop_matches_scalar(
        (w, g, sq, _) in quads(),
        (lr, grad_scale, weight_decay) in (scalar_hyper(), scalar_hyper(), scalar_hyper()),
        (alpha, eps) in (decay_rate(), positive_small()),
    ) {
        let h = RmsPropHyper { lr, grad_scale, weight_decay, alpha, eps };
        let (mut ws, mut ss) = (w.clone(), sq.clone());
        simd::rmsprop_simd(&mut ws, &g, &mut ss, h);
        let (mut wr, mut sr) = (w.clone(), sq.clone());
        scalar::rmsprop_scalar(&mut wr, &g, &mut sr, h);
        check_update("rmsprop", &[("w", &ws, &wr), ("sq", &ss, &sr)], |i| {
            format!("{h:?} w {} g {} sq {}", show(w[i]), show(g[i]), show(sq[i]))
        })?;
    }

    /// A NaN gradient makes its parameter (and state) NaN, and only that one.
    #[test]
    fn optimizer_kernels_propagate_nan(
        (n, at) in (1usize..100).prop_flat_map(|n| (Just(n), 0..n)),
        decay in any::<bool>(),
    ) {
        let mut rng = ChaCha8Rng::seed_from_u64(n as u64);
        let w: Vec<f32> = (0..n).map(|_| rng.random_range(-1.0f32..1.0)).collect();
        let mut g: Vec<f32> = (0..n).map(|_| rng.random_range(-1.0f32..1.0)).collect();
        g[at] = f32::NAN;
        let wd = if decay { 0.1 } else { 0.0 };
        let sane = |name: &str, out: &[f32]| -> Result<(), TestCaseError> {
            for (i, v) in out.iter().enumerate() {
                prop_assert!(v.is_nan() == (i == at), "{}: NaN gradient at {} gave {} at {}", name, at, v, i);
            }
            Ok(())
        };
        let mut ws = w.clone();
        simd::sgd_simd(&mut ws, &g, SgdHyper { lr: 0.1, grad_scale: 0.5, weight_decay: wd });
        sane("sgd", &ws)?;
        let (mut ws, mut b) = (w.clone(), vec![0.0; n]);
        let h = MomentumHyper { lr: 0.1, grad_scale: 0.5, weight_decay: wd, momentum: 0.9, nesterov: true, first_step: false };
        simd::sgd_momentum_simd(&mut ws, &g, &mut b, h);
        sane("sgd_momentum", &ws)?;
        sane("sgd_momentum buf", &b)?;
        for decoupled in [false, true] {
            let (mut ws, mut m, mut v) = (w.clone(), vec![0.0; n], vec![0.0; n]);
            let h = AdamHyper {
                lr: 0.1, grad_scale: 0.5, weight_decay: wd, beta1: 0.9, beta2: 0.999, eps: 1e-8,
                bias_correction1: 0.1, bias_correction2_sqrt: 0.03, decoupled,
            };
            simd::adam_simd(&mut ws, &g, &mut m, &mut v, h);
            sane("adam", &ws)?;
            sane("adam m", &m)?;
            sane("adam v", &v)?;
        }
        let (mut ws, mut sq) = (w.clone(), vec![0.0; n]);
        simd::rmsprop_simd(&mut ws, &g, &mut sq, RmsPropHyper { lr: 0.1, grad_scale: 0.5, weight_decay: wd, alpha: 0.99, eps: 1e-8 });
        sane("rmsprop", &ws)?;
        sane("rmsprop sq", &sq)?;
    }
}

#[test]
fn optimizer_kernels_handle_empty_input() {
    let sgd = SgdHyper {
        lr: 0.1,
        grad_scale: 1.0,
        weight_decay: 0.1,
    };
    simd::sgd_simd(&mut [], &[], sgd);
    let adam = AdamHyper {
        lr: 0.1,
        grad_scale: 1.0,
        weight_decay: 0.1,
        beta1: 0.9,
        beta2: 0.999,
        eps: 1e-8,
        bias_correction1: 0.1,
        bias_correction2_sqrt: 0.03,
        decoupled: true,
    };
    simd::adam_simd(&mut [], &[], &mut [], &mut [], adam);
}

#[test]
#[should_panic(expected = "adam: lengths differ")]
fn optimizer_kernels_reject_unequal_lengths() {
    let adam = AdamHyper {
        lr: 0.1,
        grad_scale: 1.0,
        weight_decay: 0.0,
        beta1: 0.9,
        beta2: 0.999,
        eps: 1e-8,
        bias_correction1: 0.1,
        bias_correction2_sqrt: 0.03,
        decoupled: false,
    };
    simd::adam_simd(&mut [0.0; 9], &[0.0; 9], &mut [0.0; 9], &mut [0.0; 8], adam);
}

// ---------------------------------------------------------------------------
// Accuracy against f64
// ---------------------------------------------------------------------------

fn sigmoid64(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// Abs error bound of sigmoid and tanh for every finite input (module docs).
const ACT_TOL: f64 = 2e-7;

/// Largest errors seen over a set of inputs, with the inputs that caused them.
#[derive(Clone, Copy, Debug, Default)]
struct MaxErr {
    sigmoid: (f64, f32),
    tanh: (f64, f32),
    /// In ULPs of the true value, over `[-87.3, 88]` only.
    exp: (f64, f32),
    /// Non-finite outputs for finite inputs, and out-of-range values.
    bad: u64,
    first_bad: Option<(f32, f32, f32)>,
    count: u64,
}

impl MaxErr {
    fn merge(mut self, o: MaxErr) -> MaxErr {
        for (a, b) in [
            (&mut self.sigmoid, o.sigmoid),
            (&mut self.tanh, o.tanh),
            (&mut self.exp, o.exp),
        ] {
            if b.0 > a.0 {
                *a = b;
            }
        }
        self.bad += o.bad;
        self.first_bad = self.first_bad.or(o.first_bad);
        self.count += o.count;
        self
    }
}

/// Size of one ULP of `f32` at the (positive, normal) value `v`.
fn ulp_at(v: f64) -> f64 {
    let e = v.log2().floor() as i32;
    2f64.powi(e.max(-126) - 23)
}

/// Evaluates sigmoid, tanh and `exp8` on `xs` (finite), returning the largest
/// errors against f64. `with_exp`: also measure `exp8` in `[-87.3, 88]`.
fn measure(xs: &[f32], with_exp: bool) -> MaxErr {
    let sig = run(simd::sigmoid_simd, xs);
    let th = run(simd::tanh_simd, xs);
    let ex = if with_exp { exp8_slice(xs) } else { Vec::new() };
    let mut m = MaxErr {
        count: xs.len() as u64,
        ..MaxErr::default()
    };
    for (i, &x) in xs.iter().enumerate() {
        let xd = f64::from(x);
        let (s, t) = (sig[i], th[i]);
        let es = (f64::from(s) - sigmoid64(xd)).abs();
        let et = (f64::from(t) - xd.tanh()).abs();
        if es > m.sigmoid.0 {
            m.sigmoid = (es, x);
        }
        if et > m.tanh.0 {
            m.tanh = (et, x);
        }
        let in_range = (0.0..=1.0).contains(&s) && (-1.0..=1.0).contains(&t);
        if !(es.is_finite() && et.is_finite() && in_range) {
            m.bad += 1;
            m.first_bad.get_or_insert((x, s, t));
        }
        if with_exp && (-87.3..=88.0).contains(&x) {
            let e = xd.exp();
            let err = (f64::from(ex[i]) - e).abs() / ulp_at(e);
            if err > m.exp.0 {
                m.exp = (err, x);
            }
        }
    }
    m
}

fn assert_within(m: &MaxErr, what: &str) {
    assert_eq!(
        m.bad, 0,
        "{what}: {} non-finite or out-of-range results, first (x, sigmoid, tanh) = {:?}",
        m.bad, m.first_bad
    );
    assert!(
        m.sigmoid.0 <= ACT_TOL,
        "{what}: sigmoid({:e}) off by {:e} > {ACT_TOL:e}",
        m.sigmoid.1,
        m.sigmoid.0
    );
    assert!(
        m.tanh.0 <= ACT_TOL,
        "{what}: tanh({:e}) off by {:e} > {ACT_TOL:e}",
        m.tanh.1,
        m.tanh.0
    );
    assert!(
        m.exp.0 <= 2.0,
        "{what}: exp8({:e}) off by {} ULP > 2",
        m.exp.1,
        m.exp.0
    );
}

/// Every 64th bit pattern in [-20, 20] (~34 million values).
#[test]
fn sigmoid_tanh_dense_sweep_vs_f64() {
    let hi = 20.0f32.to_bits();
    let m = (0..=hi / (64 * 4096))
        .into_par_iter()
        .map(|chunk| {
            let start = chunk * 64 * 4096;
            let xs: Vec<f32> = (start..=(start + 64 * 4095).min(hi))
                .step_by(64)
                .flat_map(|b| [f32::from_bits(b), -f32::from_bits(b)])
                .collect();
            measure(&xs, true)
        })
        .reduce(MaxErr::default, MaxErr::merge);
    assert!(m.count > 30_000_000, "only {} values", m.count);
    assert_within(&m, "dense sweep of [-20, 20]");
}

/// 2 million random finite bit patterns (seeded).
#[test]
fn sigmoid_tanh_random_bits_vs_f64() {
    let m = (0..16u64)
        .into_par_iter()
        .map(|seed| {
            let mut rng = ChaCha8Rng::seed_from_u64(0xacc0 + seed);
            let xs: Vec<f32> = std::iter::repeat_with(|| f32::from_bits(rng.next_u32()))
                .filter(|x| x.is_finite())
                .take(125_000)
                .collect();
            measure(&xs, true)
        })
        .reduce(MaxErr::default, MaxErr::merge);
    assert_eq!(m.count, 2_000_000);
    assert_within(&m, "random bit patterns");
}

#[test]
fn sigmoid_tanh_special_values_vs_f64() {
    let mut xs: Vec<f32> = SPECIAL.to_vec();
    xs.extend([
        f32::from_bits(1),
        -f32::from_bits(1),
        0.624_999_94,
        9.0,
        10.0,
        17.0,
        44.0,
    ]);
    assert_within(&measure(&xs, true), "special values");

    let s = run(
        simd::sigmoid_simd,
        &[1e30, -1e30, f32::MAX, f32::MIN, 100.0, -104.0],
    );
    assert_eq!(s, [1.0, 0.0, 1.0, 0.0, 1.0, 0.0], "sigmoid saturation");
    let t = run(
        simd::tanh_simd,
        &[1e30, -1e30, f32::MAX, f32::MIN, 10.0, -10.0],
    );
    assert_eq!(t, [1.0, -1.0, 1.0, -1.0, 1.0, -1.0], "tanh saturation");
    assert_eq!(run(simd::sigmoid_simd, &[0.0, -0.0]), [0.5, 0.5]);
    assert_eq!(run(simd::tanh_simd, &[0.0])[0].to_bits(), 0);
    // beyond finite inputs: infinities saturate too
    let s = run(simd::sigmoid_simd, &[f32::INFINITY, f32::NEG_INFINITY]);
    assert_eq!(s, [1.0, 0.0], "sigmoid(±inf)");
    let t = run(simd::tanh_simd, &[f32::INFINITY, f32::NEG_INFINITY]);
    assert_eq!(t, [1.0, -1.0], "tanh(±inf)");
}

/// All 2^32 bit patterns (NaN and ±inf skipped). Run with
/// `cargo test --release --test kernels -- --ignored exhaustive --nocapture`.
#[test]
#[ignore = "checks all 2^32 f32: about 4.5 min on 2 cores; run explicitly"]
fn exhaustive_sigmoid_tanh_all_finite_f32() {
    let t0 = std::time::Instant::now();
    const CHUNK: u64 = 1 << 20;
    let m = (0..(1u64 << 32) / CHUNK)
        .into_par_iter()
        .map(|c| {
            let xs: Vec<f32> = (c * CHUNK..(c + 1) * CHUNK)
                .map(|b| f32::from_bits(b as u32))
                .filter(|x| x.is_finite())
                .collect();
            measure(&xs, true)
        })
        .reduce(MaxErr::default, MaxErr::merge);
    println!(
        "exhaustive: {} finite f32 in {:.1?} on {} threads",
        m.count,
        t0.elapsed(),
        rayon::current_num_threads()
    );
    println!(
        "  sigmoid max abs error {:e} at x = {:e} ({:#010x})",
        m.sigmoid.0,
        m.sigmoid.1,
        m.sigmoid.1.to_bits()
    );
    println!(
        "  tanh    max abs error {:e} at x = {:e} ({:#010x})",
        m.tanh.0,
        m.tanh.1,
        m.tanh.1.to_bits()
    );
    println!(
        "  exp8    max error {:.3} ULP in [-87.3, 88] at x = {:e} ({:#010x})",
        m.exp.0,
        m.exp.1,
        m.exp.1.to_bits()
    );
    // 2^24 patterns have the all-ones exponent (±inf and the NaNs)
    assert_eq!(m.count, (1u64 << 32) - (1 << 24));
    assert_within(&m, "all finite f32");
}

/// `exp8`: ≤ 2 ULP in [-87.3, 88] (random inputs here; the sweeps above
/// cover it densely), exactly 0 below -87.34, finite (e^88) above, NaN kept.
#[test]
fn exp8_range_and_edges() {
    let mut rng = ChaCha8Rng::seed_from_u64(0xe8);
    let xs: Vec<f32> = (0..1_000_000)
        .map(|_| rng.random_range(-87.3f32..=88.0))
        .collect();
    let ex = exp8_slice(&xs);
    for (&x, &e) in xs.iter().zip(&ex) {
        let t = f64::from(x).exp();
        let err = (f64::from(e) - t).abs() / ulp_at(t);
        assert!(err <= 2.0, "exp8({x:e}) = {e:e}, true {t:e}: {err} ULP");
    }

    let below: Vec<f32> = [-87.34f32, -87.5, -88.0, -89.0, -100.0, -1e30, f32::MIN]
        .into_iter()
        .chain((0..10_000).map(|_| rng.random_range(-1e4f32..-87.34)))
        .chain([f32::NEG_INFINITY])
        .collect();
    for (&x, &e) in below.iter().zip(&exp8_slice(&below)) {
        assert_eq!(e.to_bits(), 0, "exp8({x:e}) = {e:e}, want +0");
    }

    let e88 = exp8_slice(&[88.0])[0];
    let above: Vec<f32> = [
        88.0f32,
        88.5,
        88.72,
        89.0,
        100.0,
        1e30,
        f32::MAX,
        f32::INFINITY,
    ]
    .into_iter()
    .chain((0..10_000).map(|_| rng.random_range(88.0f32..1e6)))
    .collect();
    for (&x, &e) in above.iter().zip(&exp8_slice(&above)) {
        assert!(
            e.is_finite() && e > 1.6e38,
            "exp8({x:e}) = {e:e}, want finite ~e^88"
        );
        assert_eq!(e, e88, "exp8({x:e}) = {e:e}, want e^88 = {e88:e}");
    }

    let n = exp8(f32x8::new([
        f32::NAN,
        0.0,
        -f32::NAN,
        1.0,
        f32::NAN,
        1e30,
        -1e30,
        f32::NAN,
    ]))
    .to_array();
    assert!(
        n[0].is_nan() && n[2].is_nan() && n[4].is_nan() && n[7].is_nan(),
        "{n:?}"
    );
    assert_eq!(n[1], 1.0);
    assert!(ulps(n[3], std::f32::consts::E) <= 2, "exp8(1) = {:e}", n[3]);
    assert_eq!([n[5], n[6]], [e88, 0.0]);
}

// ---------------------------------------------------------------------------
// GEMM
// ---------------------------------------------------------------------------

/// How a logical `rows × cols` matrix is laid out in its buffer.
#[derive(Clone, Copy, Debug)]
enum Layout {
    /// Dense row-major, `MatRef::new`.
    Row,
    /// Dense column-major: a row-major `cols × rows` buffer seen through `.t()`.
    Col,
    /// Row-major with `pad` unused values after each row, `with_strides`.
    RowPadded(usize),
    /// Column-major with `pad` unused values after each column, `with_strides`.
    ColPadded(usize),
}

fn layout() -> impl Strategy<Value = Layout> {
    prop_oneof![
        Just(Layout::Row),
        Just(Layout::Col),
        (1usize..4).prop_map(Layout::RowPadded),
        (1usize..4).prop_map(Layout::ColPadded),
    ]
}

impl Layout {
    fn strides(self, rows: usize, cols: usize) -> (usize, usize) {
        match self {
            Layout::Row => (cols, 1),
            Layout::Col => (1, rows),
            Layout::RowPadded(p) => (cols + p, 1),
            Layout::ColPadded(p) => (1, rows + p),
        }
    }

    /// The buffer holding row-major `data` in this layout, padding set to `pad`.
    fn store(self, data: &[f32], rows: usize, cols: usize, pad: f32) -> Vec<f32> {
        let (rs, cs) = self.strides(rows, cols);
        let len = match self {
            Layout::Row | Layout::Col => rows * cols,
            _ if rows == 0 || cols == 0 => 0,
            // a full trailing stride too, so padding also follows the last row/column
            Layout::RowPadded(_) => rows * rs,
            Layout::ColPadded(_) => cols * cs,
        };
        let mut buf = vec![pad; len];
        for r in 0..rows {
            for c in 0..cols {
                buf[r * rs + c * cs] = data[r * cols + c];
            }
        }
        buf
    }

    fn view(self, buf: &[f32], rows: usize, cols: usize) -> MatRef<'_> {
        match self {
            Layout::Row => MatRef::new(buf, rows, cols),
            Layout::Col => MatRef::new(buf, cols, rows).t(),
            _ => {
                let (rs, cs) = self.strides(rows, cols);
                MatRef::with_strides(buf, rows, cols, rs, cs)
            }
        }
    }

    fn view_mut(self, buf: &mut [f32], rows: usize, cols: usize) -> MatMut<'_> {
        match self {
            Layout::Row => MatMut::new(buf, rows, cols),
            _ => {
                let (rs, cs) = self.strides(rows, cols);
                MatMut::with_strides(buf, rows, cols, rs, cs)
            }
        }
    }

    /// Row-major contents of `buf`, and whether every padding value is still `pad`.
    fn load(self, buf: &[f32], rows: usize, cols: usize, pad: f32) -> (Vec<f32>, bool) {
        let (rs, cs) = self.strides(rows, cols);
        let mut out = vec![0.0; rows * cols];
        let mut used = vec![false; buf.len()];
        for r in 0..rows {
            for c in 0..cols {
                out[r * cols + c] = buf[r * rs + c * cs];
                used[r * rs + c * cs] = true;
            }
        }
        let pad_ok = buf
            .iter()
            .zip(&used)
            .all(|(v, &u)| u || v.to_bits() == pad.to_bits());
        (out, pad_ok)
    }
}

/// One GEMM problem: `C (m×n) ← alpha·A (m×k)·B (k×n) + beta·C`, row-major
/// logical contents, each operand in its own layout.
#[derive(Clone, Debug)]
struct GemmCase {
    m: usize,
    k: usize,
    n: usize,
    a: Vec<f32>,
    b: Vec<f32>,
    c: Vec<f32>,
    alpha: f32,
    beta: f32,
    layouts: [Layout; 3],
}

/// Value in C's (and A's, B's) padding: read, it would show.
const PAD: f32 = -7.5e33;

impl GemmCase {
    /// Runs `gemm` in the case's layouts; returns row-major C.
    fn run(&self) -> Vec<f32> {
        let [la, lb, lc] = self.layouts;
        let (m, k, n) = (self.m, self.k, self.n);
        let ab = la.store(&self.a, m, k, f32::NAN);
        let bb = lb.store(&self.b, k, n, f32::NAN);
        let mut cb = lc.store(&self.c, m, n, PAD);
        gemm::gemm(
            self.alpha,
            la.view(&ab, m, k),
            lb.view(&bb, k, n),
            self.beta,
            &mut lc.view_mut(&mut cb, m, n),
        )
        .expect("shapes agree");
        let (c, pad_ok) = lc.load(&cb, m, n, PAD);
        assert!(pad_ok, "gemm wrote into C's padding: {self:?}");
        c
    }

    /// `scalar::gemm_reference` in the same layouts.
    fn run_reference(&self) -> Vec<f32> {
        let [la, lb, lc] = self.layouts;
        let (m, k, n) = (self.m, self.k, self.n);
        let ab = la.store(&self.a, m, k, f32::NAN);
        let bb = lb.store(&self.b, k, n, f32::NAN);
        let mut cb = lc.store(&self.c, m, n, PAD);
        scalar::gemm_reference(
            self.alpha,
            la.view(&ab, m, k),
            lb.view(&bb, k, n),
            self.beta,
            &mut lc.view_mut(&mut cb, m, n),
        );
        lc.load(&cb, m, n, PAD).0
    }

    /// f64 triple loop: (alpha·Σ a·b + beta·c, alpha·Σ|a·b| + |beta·c|) per element;
    /// beta = 0 does not read C.
    fn exact(&self) -> Vec<(f64, f64)> {
        let (m, k, n) = (self.m, self.k, self.n);
        let (alpha, beta) = (f64::from(self.alpha), f64::from(self.beta));
        let mut out = Vec::with_capacity(m * n);
        for i in 0..m {
            for j in 0..n {
                let (mut s, mut sa) = (0.0f64, 0.0f64);
                for p in 0..k {
                    let ab = f64::from(self.a[i * k + p]) * f64::from(self.b[p * n + j]);
                    s += ab;
                    sa += ab.abs();
                }
                let c0 = if self.beta == 0.0 {
                    0.0
                } else {
                    beta * f64::from(self.c[i * n + j])
                };
                out.push((alpha * s + c0, alpha.abs() * sa + c0.abs()));
            }
        }
        out
    }

    fn check_close(&self, c: &[f32]) -> Result<(), TestCaseError> {
        let kf = 2.0 * (self.k as f64 + 2.0);
        for (idx, (&got, (want, mag))) in c.iter().zip(self.exact()).enumerate() {
            let tol = kf * f64::from(f32::EPSILON) * mag + 1e-37;
            let err = (f64::from(got) - want).abs();
            if err > tol || got.is_nan() {
                return Err(TestCaseError::fail(format!(
                    "gemm {}×{}×{} alpha {} beta {} layouts {:?}: C[{}, {}] = {got:e}, f64 {want:e}, error {err:e} > {tol:e}",
                    self.m, self.k, self.n, self.alpha, self.beta, self.layouts, idx / self.n, idx % self.n
                )));
            }
        }
        Ok(())
    }
}

/// A random case with values from `elem`; C NaN-filled when beta = 0.
fn gemm_case(
    dims: impl Strategy<Value = (usize, usize, usize)>,
    elem: impl Strategy<Value = f32> + Clone,
    scalars: impl Strategy<Value = (f32, f32)>,
) -> impl Strategy<Value = GemmCase> {
    (dims, scalars, [layout(), layout(), layout()]).prop_flat_map(
        move |((m, k, n), (alpha, beta), layouts)| {
            (
                vec(elem.clone(), m * k),
                vec(elem.clone(), k * n),
                vec(elem.clone(), m * n),
            )
                .prop_map(move |(a, b, c)| GemmCase {
                    m,
                    k,
                    n,
                    a,
                    b,
                    c: if beta == 0.0 {
                        vec![f32::NAN; c.len()]
                    } else {
                        c
                    },
                    alpha,
                    beta,
                    layouts,
                })
        },
    )
}

fn dims(max: usize) -> impl Strategy<Value = (usize, usize, usize)> {
    (0..=max, 0..=max, 0..=max)
}

/// Small integers and power-of-two scalars: every product and sum is exact.
fn int_elem() -> impl Strategy<Value = f32> + Clone {
    (-4i8..=4).prop_map(f32::from)
}

fn exact_scalars() -> impl Strategy<Value = (f32, f32)> {
    (
        prop::sample::select(&[1.0f32, -1.0, 2.0, 0.5, 0.0][..]),
        prop::sample::select(&[0.0f32, 1.0, -1.0, 0.5, 2.0][..]),
    )
}

fn float_scalars() -> impl Strategy<Value = (f32, f32)> {
    (
        prop_oneof![Just(1.0f32), -3.0f32..3.0],
        prop_oneof![Just(0.0f32), Just(1.0f32), -3.0f32..3.0],
    )
}

proptest! {
    #![proptest_config(config(256))]

    /// Integer inputs: gemm, gemm_reference and the f64 loop agree exactly,
    /// in every layout, and NaN in C never leaks with beta = 0.
    #[test]
    fn gemm_exact_on_integers(case in gemm_case(dims(40), int_elem(), exact_scalars())) {
        let c = case.run();
        let r = case.run_reference();
        let exact: Vec<f32> = case.exact().into_iter().map(|(v, _)| v as f32).collect();
        for (i, ((&c, &r), &e)) in c.iter().zip(&r).zip(&exact).enumerate() {
            prop_assert!(
                c == e && r == e,
                "gemm {}×{}×{} alpha {} beta {} layouts {:?}: C[{}, {}] gemm {} reference {} exact {}",
                case.m, case.k, case.n, case.alpha, case.beta, case.layouts, i / case.n, i % case.n, c, r, e
            );
        }
    }

    #[test]
    fn gemm_close_on_floats(case in gemm_case(dims(40), -1.0f32..1.0, float_scalars())) {
        case.check_close(&case.run())?;
    }

    /// forward, weight_grad and input_delta against f64 loops.
    #[test]
    fn gemm_wrappers_match_f64(
        ((m, k, n), a, w, bias, dz) in dims(40).prop_flat_map(|(m, k, n)| (
            Just((m, k, n)),
            vec(-1.0f32..1.0, m * k),
            vec(-1.0f32..1.0, n * k),
            vec(-1.0f32..1.0, n),
            vec(-1.0f32..1.0, m * n),
        )),
    ) {
        let at = |v: &[f32], cols: usize, r: usize, c: usize| f64::from(v[r * cols + c]);
        let what = format!("{m}×{k}×{n}");

        // Z ← A·Wᵀ + Z, Z holding the bias
        let mut z: Vec<f32> = (0..m * n).map(|i| if n == 0 { 0.0 } else { bias[i % n] }).collect();
        gemm::forward(&a, m, k, &w, n, &mut z).expect("forward shapes");
        check_product(&format!("forward {what}: Z"), &z, (m, n, k), |_, j| f64::from(bias[j]), |i, j, p| {
            at(&a, k, i, p) * at(&w, k, j, p)
        })?;

        // dW ← dZᵀ·A over NaN
        let mut dw = vec![f32::NAN; n * k];
        gemm::weight_grad(&dz, m, n, &a, k, &mut dw).expect("weight_grad shapes");
        check_product(&format!("weight_grad {what}: dW"), &dw, (n, k, m), |_, _| 0.0, |j, p, i| {
            at(&dz, n, i, j) * at(&a, k, i, p)
        })?;

        // dA ← dZ·W over NaN
        let mut da = vec![f32::NAN; m * k];
        gemm::input_delta(&dz, m, n, &w, k, &mut da).expect("input_delta shapes");
        check_product(&format!("input_delta {what}: dA"), &da, (m, k, n), |_, _| 0.0, |i, p, j| {
            at(&dz, n, i, j) * at(&w, k, j, p)
        })?;
    }
}

/// Checks the row-major `rows × cols` result `got` of a product against
/// `offset(r, c) + Σ_{t < inner} term(r, c, t)` summed in f64, within
/// `2·(inner + 2)·ε·(|offset| + Σ|term|)`.
fn check_product(
    name: &str,
    got: &[f32],
    (rows, cols, inner): (usize, usize, usize),
    offset: impl Fn(usize, usize) -> f64,
    term: impl Fn(usize, usize, usize) -> f64,
) -> Result<(), TestCaseError> {
    let bound = 2.0 * (inner as f64 + 2.0) * f64::from(f32::EPSILON);
    for r in 0..rows {
        for c in 0..cols {
            let terms: Vec<f64> = (0..inner).map(|t| term(r, c, t)).collect();
            let want = terms.iter().sum::<f64>() + offset(r, c);
            let mag = terms.iter().map(|t| t.abs()).sum::<f64>() + offset(r, c).abs();
            let value = f64::from(got[r * cols + c]);
            prop_assert!(
                (value - want).abs() <= bound * mag,
                "{}[{}, {}] = {} want {}",
                name,
                r,
                c,
                value,
                want
            );
        }
    }
    Ok(())
}

/// 1×N, N×1, empty, 15/16/17 and 127/128/129, in every A/B transposition.
#[test]
fn gemm_edge_sizes() {
    let mut rng = ChaCha8Rng::seed_from_u64(0x9e33);
    let shapes = [
        (0, 0, 0),
        (0, 5, 7),
        (5, 0, 7),
        (5, 7, 0),
        (1, 1, 1),
        (1, 129, 1),
        (1, 1, 129),
        (129, 1, 1),
        (1, 64, 33),
        (33, 64, 1),
        (15, 16, 17),
        (17, 15, 16),
        (16, 17, 15),
        (16, 16, 16),
        (127, 128, 129),
        (129, 127, 128),
    ];
    let transposes = [
        [Layout::Row, Layout::Row, Layout::Row],
        [Layout::Col, Layout::Row, Layout::Row],
        [Layout::Row, Layout::Col, Layout::Row],
        [Layout::Col, Layout::Col, Layout::Col],
        [
            Layout::RowPadded(3),
            Layout::ColPadded(1),
            Layout::ColPadded(2),
        ],
    ];
    for (m, k, n) in shapes {
        for layouts in transposes {
            for (alpha, beta) in [(1.0, 0.0), (-0.5, 1.0), (2.0, -1.5)] {
                let gen = |rng: &mut ChaCha8Rng, len: usize, int: bool| -> Vec<f32> {
                    (0..len)
                        .map(|_| {
                            if int {
                                rng.random_range(-3i8..=3).into()
                            } else {
                                rng.random_range(-1.0f32..1.0)
                            }
                        })
                        .collect()
                };
                for int in [true, false] {
                    let case = GemmCase {
                        m,
                        k,
                        n,
                        a: gen(&mut rng, m * k, int),
                        b: gen(&mut rng, k * n, int),
                        c: if beta == 0.0 {
                            vec![f32::NAN; m * n]
                        } else {
                            gen(&mut rng, m * n, int)
                        },
                        alpha,
                        beta,
                        layouts,
                    };
                    let c = case.run();
                    if int {
                        let exact: Vec<f32> =
                            case.exact().into_iter().map(|(v, _)| v as f32).collect();
                        assert_eq!(
                            c, exact,
                            "gemm {m}×{k}×{n} {layouts:?} alpha {alpha} beta {beta}"
                        );
                    } else if let Err(e) = case.check_close(&c) {
                        panic!("{e}");
                    }
                }
            }
        }
    }
}

/// k = 0: C ← beta·C, and beta = 0 overwrites NaN with zeros.
#[test]
fn gemm_empty_inner_dimension() {
    let mut c = vec![f32::NAN; 6];
    gemm::gemm(
        1.0,
        MatRef::new(&[], 2, 0),
        MatRef::new(&[], 0, 3),
        0.0,
        &mut MatMut::new(&mut c, 2, 3),
    )
    .unwrap();
    assert_eq!(c, [0.0; 6]);
    let mut c = vec![1.0, 2.0, 3.0, 4.0];
    gemm::gemm(
        3.0,
        MatRef::new(&[], 2, 0),
        MatRef::new(&[], 0, 2),
        0.5,
        &mut MatMut::new(&mut c, 2, 2),
    )
    .unwrap();
    assert_eq!(c, [0.5, 1.0, 1.5, 2.0]);
}

fn is_shape(r: backprop::Result<()>) -> bool {
    matches!(r, Err(Error::Shape { .. }))
}

#[test]
fn gemm_wrong_shapes_are_errors() {
    let a = vec![1.0f32; 6];
    let b = vec![1.0f32; 8];
    let mut c = vec![9.0f32; 8];
    let sentinel = c.clone();
    // A 2×3 · B 4×2
    let r = gemm::gemm(
        1.0,
        MatRef::new(&a, 2, 3),
        MatRef::new(&b, 4, 2),
        0.0,
        &mut MatMut::new(&mut c[..4], 2, 2),
    );
    assert!(is_shape(r));
    // A 2×3 · B 3×2 into C 4×2, and into C 2×4 (transposed result)
    let r = gemm::gemm(
        1.0,
        MatRef::new(&a, 2, 3),
        MatRef::new(&a, 3, 2),
        0.0,
        &mut MatMut::new(&mut c, 4, 2),
    );
    assert!(is_shape(r));
    let r = gemm::gemm(
        1.0,
        MatRef::new(&a, 2, 3),
        MatRef::new(&a, 3, 2),
        0.0,
        &mut MatMut::new(&mut c, 2, 4),
    );
    assert!(is_shape(r));
    // transposes have to match too: Aᵀ is 3×2
    let r = gemm::gemm(
        1.0,
        MatRef::new(&a, 2, 3).t(),
        MatRef::new(&a, 3, 2),
        0.0,
        &mut MatMut::new(&mut c[..4], 2, 2),
    );
    assert!(is_shape(r));
    assert_eq!(c, sentinel, "a failed gemm must not write C");

    // wrappers: slice lengths that do not match the dimensions
    let (m, k, n) = (2, 3, 4);
    let a = vec![0.5f32; m * k];
    let w = vec![0.5f32; n * k];
    let dz = vec![0.5f32; m * n];
    let mut z = vec![0.0f32; m * n];
    assert!(is_shape(gemm::forward(&a[1..], m, k, &w, n, &mut z)));
    assert!(is_shape(gemm::forward(&a, m, k, &w[1..], n, &mut z)));
    assert!(is_shape(gemm::forward(&a, m, k, &w, n, &mut z[1..])));
    assert!(is_shape(gemm::forward(&a, k, m, &w, n, &mut z)));
    assert!(is_shape(gemm::forward(&a, usize::MAX, 2, &w, n, &mut z)));
    assert!(
        z.iter().all(|&v| v == 0.0),
        "a failed forward must not write Z"
    );
    let mut dw = vec![0.0f32; n * k];
    assert!(is_shape(gemm::weight_grad(&dz[1..], m, n, &a, k, &mut dw)));
    assert!(is_shape(gemm::weight_grad(&dz, m, n, &a[1..], k, &mut dw)));
    assert!(is_shape(gemm::weight_grad(&dz, m, n, &a, k, &mut dw[1..])));
    assert!(is_shape(gemm::weight_grad(&dz, n, m, &a, k, &mut dw)));
    assert!(is_shape(gemm::weight_grad(
        &dz,
        m,
        usize::MAX,
        &a,
        k,
        &mut dw
    )));
    let mut da = vec![0.0f32; m * k];
    assert!(is_shape(gemm::input_delta(&dz[1..], m, n, &w, k, &mut da)));
    assert!(is_shape(gemm::input_delta(&dz, m, n, &w[1..], k, &mut da)));
    assert!(is_shape(gemm::input_delta(&dz, m, n, &w, k, &mut da[1..])));
    assert!(is_shape(gemm::input_delta(
        &dz,
        m,
        n,
        &w,
        usize::MAX,
        &mut da
    )));
    assert!(
        dw.iter().chain(&da).all(|&v| v == 0.0),
        "failed wrappers must not write"
    );

    // the right shapes work
    gemm::forward(&a, m, k, &w, n, &mut z).unwrap();
    assert!(z.iter().all(|&v| v == 0.75));
    gemm::weight_grad(&dz, m, n, &a, k, &mut dw).unwrap();
    assert!(dw.iter().all(|&v| v == 0.5));
    gemm::input_delta(&dz, m, n, &w, k, &mut da).unwrap();
    assert!(da.iter().all(|&v| v == 1.0));
}
