//! The smooth activations (SELU, SiLU, GELU, Mish): their SIMD kernels
//! (`backprop::kernels::smooth`) against the scalar references, against
//! values of PyTorch's definitions, NaN and position independence; and the
//! trainer keeping their pre-activations: the same bits at any thread count,
//! through blocks of rows and of units, and through a resume.
//!
//! Tolerance: `1e-6·max(1, |x|)` plus 4 ULP of the reference, where `x` is the
//! input for the activations and `d·f'` for the derivatives (the references
//! compute in `f64` and round once).
//!
//! The gradient checks by finite differences of whole networks
//! (`tests/gradcheck.rs`) and the f64 reference trainer
//! (`tests/equivalence.rs`) run over every activation, these included.

mod common;

use std::path::Path;

use backprop::fit::{DataSource, FitSpec};
use backprop::kernels::{scalar, smooth};
use backprop::{model_io, Activation, Head, Mlp, TrainConfig, Trainer};
use common::{random_x, random_y, rng};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::test_runner::RngSeed;

type Map = fn(&mut [f32]);
type Zip = fn(&[f32], &mut [f32]);

/// Each smooth activation: its name, SIMD forward and backward, and the
/// scalar references.
const KERNELS: [(&str, Map, Zip, Map, Zip); 4] = [
    (
        "selu",
        smooth::selu_simd,
        smooth::selu_backward_simd,
        scalar::selu_scalar,
        scalar::selu_backward_scalar,
    ),
    (
        "silu",
        smooth::silu_simd,
        smooth::silu_backward_simd,
        scalar::silu_scalar,
        scalar::silu_backward_scalar,
    ),
    (
        "gelu",
        smooth::gelu_simd,
        smooth::gelu_backward_simd,
        scalar::gelu_scalar,
        scalar::gelu_backward_scalar,
    ),
    (
        "mish",
        smooth::mish_simd,
        smooth::mish_backward_simd,
        scalar::mish_scalar,
        scalar::mish_backward_scalar,
    ),
];

fn config(cases: u32) -> ProptestConfig {
    let d = ProptestConfig::default();
    let rng_seed = match d.rng_seed {
        RngSeed::Random => RngSeed::Fixed(0x0000_736d_6f6f_7468),
        fixed => fixed,
    };
    ProptestConfig {
        cases,
        rng_seed,
        ..d
    }
}

/// Inputs every kernel must get right: zeros of both signs, subnormals, the
/// clamps and the edges of `exp`'s range, huge values.
static SPECIAL: [f32; 22] = [
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
    44.0,
    87.336_55,
    -87.336_55,
    89.0,
    -89.0,
    1e19,
    -1e19,
    1e30,
    -1e30,
    f32::MAX,
    f32::MIN,
    -f32::EPSILON,
];

fn value() -> impl Strategy<Value = f32> {
    prop_oneof![
        6 => -10.0f32..10.0,
        2 => -100.0f32..100.0,
        2 => prop::sample::select(&SPECIAL[..]),
        1 => prop::num::f32::NORMAL | prop::num::f32::SUBNORMAL | prop::num::f32::ZERO,
    ]
}

fn values() -> impl Strategy<Value = Vec<f32>> {
    vec(value(), 0..=35)
}

fn value_pairs() -> impl Strategy<Value = (Vec<f32>, Vec<f32>)> {
    (0usize..=35).prop_flat_map(|n| (vec(value(), n), vec(-10.0f32..10.0, n)))
}

fn run(f: Map, x: &[f32]) -> Vec<f32> {
    let mut v = x.to_vec();
    f(&mut v);
    v
}

fn run_zip(f: Zip, z: &[f32], d: &[f32]) -> Vec<f32> {
    let mut v = d.to_vec();
    f(z, &mut v);
    v
}

/// Within `1e-6·max(1, scale)` plus 4 ULP of `want`; NaN only for NaN,
/// infinities only equal.
fn close(got: f32, want: f32, scale: f32) -> bool {
    if want.is_nan() || got.is_nan() || want.is_infinite() || got.is_infinite() {
        return got.to_bits() == want.to_bits() || (got.is_nan() && want.is_nan());
    }
    let ulp = f64::from(want.abs()) * f64::from(f32::EPSILON);
    let tol = 1e-6 * f64::from(scale.abs()).max(1.0) + 4.0 * ulp;
    (f64::from(got) - f64::from(want)).abs() <= tol
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn forward_matches_scalar(x in values()) {
        for (name, simd, _, reference, _) in KERNELS {
            let (s, r) = (run(simd, &x), run(reference, &x));
            for i in 0..x.len() {
                prop_assert!(
                    close(s[i], r[i], x[i]),
                    "{}: index {} of {}: x {:e}: simd {:e} vs scalar {:e}",
                    name, i, x.len(), x[i], s[i], r[i]
                );
            }
        }
    }

    #[test]
    fn backward_matches_scalar((z, d) in value_pairs()) {
        for (name, _, simd, _, reference) in KERNELS {
            let (s, r) = (run_zip(simd, &z, &d), run_zip(reference, &z, &d));
            for i in 0..z.len() {
                prop_assert!(
                    close(s[i], r[i], d[i]),
                    "{}_backward: index {} of {}: z {:e} d {:e}: simd {:e} vs scalar {:e}",
                    name, i, z.len(), z[i], d[i], s[i], r[i]
                );
            }
        }
    }

    /// A value's result depends neither on the slice length nor on its
    /// position: the same bits alone or among others.
    #[test]
    fn result_independent_of_position((z, d) in value_pairs()) {
        for (name, fwd, bwd, _, _) in KERNELS {
            let whole = run(fwd, &z);
            let whole_d = run_zip(bwd, &z, &d);
            for i in 0..z.len() {
                prop_assert_eq!(whole[i].to_bits(), run(fwd, &[z[i]])[0].to_bits(), "{} at {}", name, i);
                prop_assert_eq!(
                    whole_d[i].to_bits(),
                    run_zip(bwd, &[z[i]], &[d[i]])[0].to_bits(),
                    "{}_backward at {}", name, i
                );
            }
        }
    }

    /// NaN in `z` comes out as NaN at its index, and nowhere else.
    #[test]
    fn nan_propagates(
        (z, at) in (1usize..40).prop_flat_map(|n| (vec(-10.0f32..10.0, n), 0..n)),
    ) {
        let mut zn = z.clone();
        zn[at] = f32::NAN;
        let ones = vec![1.0f32; z.len()];
        for (name, fwd, bwd, _, _) in KERNELS {
            for (what, out) in [("", run(fwd, &zn)), ("_backward", run_zip(bwd, &zn, &ones))] {
                for (i, v) in out.iter().enumerate() {
                    prop_assert_eq!(v.is_nan(), i == at, "{}{}: index {} is {}", name, what, i, v);
                }
            }
        }
    }
}

/// The activations at a few points, as PyTorch defines them
/// (`F.selu`, `F.silu`, `F.gelu` with `approximate='none'`, `F.mish`): the
/// values below come from those formulas in `f64` (Python's `math.erfc`,
/// `math.expm1`, `math.log1p`), independently of this crate. Within 8 ULP
/// (plus 1e-9).
#[test]
fn values_match_pytorchs_definitions() {
    let points = [-3.0f32, -1.0, -0.5, 0.5, 1.0, 2.5];
    let want: [[f64; 6]; 4] = [
        [
            -1.670_568_728_767_111_8,
            -1.111_330_737_812_562_5,
            -0.691_758_187_802_871_3,
            0.525_350_493_677_740_2,
            1.050_700_987_355_480_5,
            2.626_752_468_388_701,
        ],
        [
            -0.142_277_619_532_700_35,
            -0.268_941_421_369_995_1,
            -0.188_770_334_399_072_7,
            0.311_229_665_600_927_3,
            0.731_058_578_630_004_9,
            2.310_354_549_946_891_4,
        ],
        [
            -0.004_049_694_094_890_287,
            -0.158_655_253_931_457_07,
            -0.154_268_769_362_993_44,
            0.345_731_230_637_006_56,
            0.841_344_746_068_542_9,
            2.484_475_836_685_559_7,
        ],
        [
            -0.145_647_461_275_624_6,
            -0.303_401_461_374_108_95,
            -0.220_743_774_651_73,
            0.375_245_211_304_895_1,
            0.865_098_388_267_310_3,
            2.471_392_304_557_881,
        ],
    ];
    for ((name, simd, _, reference, _), want) in KERNELS.into_iter().zip(want) {
        for (out, what) in [
            (run(simd, &points), "simd"),
            (run(reference, &points), "scalar"),
        ] {
            for ((&x, &got), &w) in points.iter().zip(&out).zip(&want) {
                let err = (f64::from(got) - w).abs();
                assert!(
                    err <= 8.0 * f64::from(f32::EPSILON) * w.abs() + 1e-9,
                    "{name} ({what}) at {x}: {got:e}, PyTorch's formula gives {w:e}"
                );
            }
        }
    }
}

/// Whether each activation is named, parsed and kept by its input as
/// documented.
#[test]
fn names_parse_and_the_smooth_ones_keep_their_input() {
    for act in Activation::ALL {
        assert_eq!(act.name().parse::<Activation>().unwrap(), act);
    }
    let keep: Vec<_> = Activation::ALL
        .into_iter()
        .filter(|a| a.needs_input())
        .map(|a| a.name())
        .collect();
    assert_eq!(keep, ["selu", "silu", "gelu", "mish"]);
    let e = "swish".parse::<Activation>().unwrap_err().to_string();
    assert!(e.contains("activation") && e.contains("mish"), "{e}");
}

/// 20 steps of a network with wide layers (cut by units when the threads
/// outnumber the shards) and narrow ones (cut by rows): the same bits for
/// 1, 2, 3 and 8 threads, for every smooth activation in either layer.
#[test]
fn kept_pre_activations_give_the_same_bits_at_any_thread_count() {
    let sizes = [9, 40, 6, 3];
    let head = Head::SoftmaxCe;
    for (k, act) in Activation::ALL
        .into_iter()
        .filter(|a| a.needs_input())
        .enumerate()
    {
        let hidden = [act, Activation::ALL[(k + 5) % Activation::ALL.len()]];
        let mut r = rng(77 + k as u64);
        let m = 12;
        let data: Vec<_> = (0..20)
            .map(|_| (random_x(&mut r, m, 9), random_y(&mut r, head, m, 3)))
            .collect();
        let run = |threads: usize, shard_rows: usize| -> Vec<u32> {
            let mut mlp = Mlp::new(&sizes, &hidden, head, 5).unwrap();
            let cfg = TrainConfig {
                batch_size: m,
                lr: 0.05,
                shard_rows,
                threads,
                shuffle: false,
                ..TrainConfig::default()
            };
            let mut trainer = Trainer::new(&mlp, &cfg).unwrap();
            trainer.set_min_task_flops(0);
            for (x, y) in &data {
                trainer.step(&mut mlp, x, y, m).unwrap();
            }
            mlp.params().iter().map(|p| p.to_bits()).collect()
        };
        for shard_rows in [12, 4] {
            let one = run(1, shard_rows);
            for threads in [2, 3, 8] {
                assert!(
                    run(threads, shard_rows) == one,
                    "{hidden:?}, shards of {shard_rows}: {threads} threads differ from 1"
                );
            }
        }
    }
}

fn write_csv(dir: &Path) -> std::path::PathBuf {
    common::write_abc_csv(dir, 240, |a, b, c| (a * b - c).to_string())
}

/// Through the session: each smooth activation trains a regression to the
/// same file at 1 and 3 threads, and a run interrupted in its third epoch
/// and resumed gives the uninterrupted run's file.
#[test]
fn each_smooth_activation_resumes_bit_for_bit() {
    let dir = tempfile::tempdir().unwrap();
    let data = write_csv(dir.path());
    for act in Activation::ALL.into_iter().filter(|a| a.needs_input()) {
        let spec = |epochs: usize, threads: usize| FitSpec {
            data: DataSource::File(data.clone()),
            hidden_layers: Some(vec![24, 8]),
            activation: Some(act),
            epochs,
            batch_size: Some(16),
            shard_rows: Some(4),
            threads,
            seed: Some(3),
            ..FitSpec::default()
        };
        let bytes = |o: &backprop::fit::FitOutcome| model_io::to_bytes(&o.mlp, &o.meta).unwrap();
        let one = spec(4, 1).fit().unwrap();
        assert_eq!(one.mlp.hidden(), &[act, act]);
        assert!(
            bytes(&spec(4, 3).fit().unwrap()) == bytes(&one),
            "{act}: 3 threads"
        );
        let ckpt = dir.path().join(format!("{act}.ckpt"));
        common::fit_interrupted(
            &FitSpec {
                checkpoint: Some(ckpt.clone()),
                ..spec(4, 2)
            },
            3,
        );
        let resumed = FitSpec {
            resume: Some(ckpt.into()),
            activation: None,
            ..spec(4, 3)
        }
        .fit()
        .unwrap();
        assert!(bytes(&resumed) == bytes(&one), "{act}: resumed");
    }
}
