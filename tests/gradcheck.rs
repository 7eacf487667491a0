//! Gradient checks (`docs/backprop.md`, "Backward"):
//!
//! 1. the naive f64 reference's analytic gradient against central finite
//!    differences of its own loss (so the reference itself is proven);
//! 2. the engine's `Trainer::gradient` against finite differences of the
//!    reference loss, in f64, at the engine's parameters;
//! 3. the engine's gradient and loss against the reference's (tighter), also
//!    with wide layers, several shard sizes and thread counts, and with
//!    saturated classifier heads;
//! 4. `Trainer::gradient` leaves the parameters alone and is repeatable, also
//!    for a short batch after a full one;
//! 5. weighted losses (`Σ wᵢ·lossᵢ / Σ wᵢ`) and dropout with its masks held
//!    fixed (those `backprop::dropout` draws for the step): the reference
//!    against finite differences, the engine against the reference, alone and
//!    together, at several shard sizes and thread counts.
//!
//! Every hidden activation and every head is covered, on seeded random networks.
//! Batches whose ReLU pre-activations come near the kink are redrawn, as finite
//! differences across a kink measure nothing.

mod common;

use backprop::{Activation, Head, Mlp, TrainConfig, Trainer};
use common::reference::Extras;
use common::{
    close, hidden_with, out_width, param_name, random_params, random_sizes, random_x, random_y,
    rng, to_f64, uniform, RefNet,
};
use rand::RngExt;

/// Step of the central differences, in f64.
const H: f64 = 1e-5;

/// One random problem: a network, its flat f32 parameters and a batch.
struct Case {
    label: String,
    sizes: Vec<usize>,
    hidden: Vec<Activation>,
    head: Head,
    params: Vec<f32>,
    m: usize,
    x: Vec<f32>,
    y: Vec<f32>,
}

impl Case {
    /// A network whose first hidden activation is `act`, with hidden widths in
    /// `hidden_range`, and a batch of `m_range` rows that keeps every ReLU
    /// pre-activation at least `1e-3` away from 0.
    fn new(
        head: Head,
        act: Activation,
        seed: u64,
        hidden_range: std::ops::RangeInclusive<usize>,
        m_range: std::ops::RangeInclusive<usize>,
    ) -> Case {
        let mut r = rng(seed ^ ((head as u64) << 32) ^ ((act as u64) << 40));
        let out = out_width(&mut r, head);
        let sizes = random_sizes(&mut r, 3..=6, hidden_range, 2, out);
        let hidden = hidden_with(&mut r, &sizes, act);
        let params = random_params(&mut r, &sizes);
        let net = RefNet::from_params(&sizes, &hidden, head, &params);
        let m = r.random_range(m_range);
        for _ in 0..1000 {
            let x = random_x(&mut r, m, sizes[0]);
            let y = random_y(&mut r, head, m, out);
            if net.min_abs_relu_z(&to_f64(&x), m) > 1e-3 {
                let label =
                    format!("seed {seed} head {head} hidden {hidden:?} sizes {sizes:?} m {m}");
                return Case {
                    label,
                    sizes,
                    hidden,
                    head,
                    params,
                    m,
                    x,
                    y,
                };
            }
        }
        panic!("no batch away from the ReLU kinks for seed {seed}, sizes {sizes:?}");
    }

    fn reference(&self) -> RefNet {
        RefNet::from_params(&self.sizes, &self.hidden, self.head, &self.params)
    }

    fn engine(&self) -> Mlp {
        Mlp::from_params(&self.sizes, &self.hidden, self.head, self.params.clone())
            .unwrap_or_else(|e| panic!("{}: Mlp::from_params: {e}", self.label))
    }

    /// The engine's mean gradient with `shard_rows` rows per shard.
    fn engine_gradient(&self, shard_rows: usize, threads: usize) -> Vec<f64> {
        let mlp = self.engine();
        let cfg = TrainConfig {
            batch_size: self.m,
            shard_rows,
            threads,
            shuffle: false,
            ..TrainConfig::default()
        };
        let mut trainer = Trainer::new(&mlp, &cfg)
            .unwrap_or_else(|e| panic!("{}: Trainer::new: {e}", self.label));
        let g = trainer
            .gradient(&mlp, &self.x, &self.y, self.m)
            .unwrap_or_else(|e| panic!("{}: gradient: {e}", self.label));
        to_f64(g)
    }
}

/// Asserts `got ≈ want` component-wise, naming the first component that is not.
#[track_caller]
fn assert_all_close(
    label: &str,
    what: &str,
    sizes: &[usize],
    got: &[f64],
    want: &[f64],
    rel: f64,
    abs: f64,
) {
    assert_eq!(got.len(), want.len(), "{label}: {what}: gradient length");
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        assert!(
            close(g, w, rel, abs),
            "{label}: {what}: {} (flat #{i}): got {g:e}, want {w:e} (diff {:e})",
            param_name(sizes, i),
            (g - w).abs()
        );
    }
}

#[test]
fn reference_gradient_matches_finite_differences() {
    let mut checked = 0;
    for head in Head::ALL {
        for act in Activation::ALL {
            for seed in 0..4 {
                let case = Case::new(head, act, seed, 1..=6, 1..=7);
                let net = case.reference();
                let (x, y) = (to_f64(&case.x), to_f64(&case.y));
                let analytic = net.gradient(&x, &y, case.m);
                let numeric = net.numerical_gradient(&x, &y, case.m, H);
                assert_all_close(
                    &case.label,
                    "reference vs finite differences",
                    &case.sizes,
                    &analytic,
                    &numeric,
                    1e-6,
                    1e-9,
                );
                checked += analytic.len();
            }
        }
    }
    assert!(checked > 1000, "only {checked} components checked");
}

/// A network with no hidden layer (logistic / softmax / linear regression).
#[test]
fn reference_gradient_matches_finite_differences_without_hidden_layers() {
    for (k, head) in Head::ALL.into_iter().enumerate() {
        let mut r = rng(77 + k as u64);
        let sizes = [4, out_width(&mut r, head)];
        let params = random_params(&mut r, &sizes);
        let net = RefNet::from_params(&sizes, &[], head, &params);
        let m = 5;
        let x = to_f64(&random_x(&mut r, m, sizes[0]));
        let y = to_f64(&random_y(&mut r, head, m, sizes[1]));
        let analytic = net.gradient(&x, &y, m);
        let numeric = net.numerical_gradient(&x, &y, m, H);
        let label = format!("head {head} sizes {sizes:?}");
        assert_all_close(
            &label,
            "reference vs finite differences",
            &sizes,
            &analytic,
            &numeric,
            1e-6,
            1e-9,
        );
    }
}

#[test]
fn engine_gradient_matches_finite_differences() {
    for head in Head::ALL {
        for act in Activation::ALL {
            for seed in 0..4 {
                let case = Case::new(head, act, 100 + seed, 2..=6, 1..=9);
                let numeric = case.reference().numerical_gradient(
                    &to_f64(&case.x),
                    &to_f64(&case.y),
                    case.m,
                    H,
                );
                let engine = case.engine_gradient(3, 1);
                assert_all_close(
                    &case.label,
                    "engine vs finite differences",
                    &case.sizes,
                    &engine,
                    &numeric,
                    1e-3,
                    1e-5,
                );
            }
        }
    }
}

#[test]
fn engine_gradient_matches_reference_gradient() {
    for head in Head::ALL {
        for act in Activation::ALL {
            for seed in 0..6 {
                let case = Case::new(head, act, 200 + seed, 2..=6, 1..=20);
                let want = case
                    .reference()
                    .gradient(&to_f64(&case.x), &to_f64(&case.y), case.m);
                for (shard_rows, threads) in [(1, 1), (4, 2), (64, 1)] {
                    let engine = case.engine_gradient(shard_rows, threads);
                    let what =
                        format!("engine (shard_rows {shard_rows}, threads {threads}) vs reference");
                    assert_all_close(&case.label, &what, &case.sizes, &engine, &want, 1e-4, 1e-6);
                }
            }
        }
    }
}

/// Layers wider than a SIMD register (8 or 16 lanes) with ragged tails, so the
/// vector bodies of the kernels run, not only their scalar tails.
#[test]
fn engine_gradient_matches_reference_on_wide_layers() {
    for head in Head::ALL {
        for act in Activation::ALL {
            let case = Case::new(head, act, 300, 9..=35, 17..=41);
            let want = case
                .reference()
                .gradient(&to_f64(&case.x), &to_f64(&case.y), case.m);
            let engine = case.engine_gradient(5, 2);
            assert_all_close(
                &case.label,
                "engine vs reference (wide)",
                &case.sizes,
                &engine,
                &want,
                1e-4,
                2e-6,
            );
        }
    }
}

#[test]
fn engine_loss_matches_reference_loss() {
    for head in Head::ALL {
        for act in Activation::ALL {
            for seed in 0..4 {
                let case = Case::new(head, act, 400 + seed, 2..=20, 1..=20);
                let want = case
                    .reference()
                    .loss(&to_f64(&case.x), &to_f64(&case.y), case.m);
                let got = case
                    .engine()
                    .loss(&case.x, &case.y, case.m)
                    .unwrap_or_else(|e| panic!("{}: loss: {e}", case.label));
                assert!(
                    close(got, want, 1e-5, 1e-7),
                    "{}: engine loss {got:e}, reference {want:e}",
                    case.label
                );
            }
        }
    }
}

/// `gradient` changes no parameter, gives the same bits when called again, and
/// a short batch after a full one (fewer shards) equals a fresh trainer's.
#[test]
fn gradient_is_repeatable_and_leaves_params_alone() {
    for head in Head::ALL {
        for act in Activation::ALL {
            let case = Case::new(head, act, 500, 2..=9, 20..=20);
            let mlp = case.engine();
            let cfg = TrainConfig {
                batch_size: 20,
                shard_rows: 3,
                threads: 2,
                shuffle: false,
                ..TrainConfig::default()
            };
            let (n0, nl) = (case.sizes[0], *case.sizes.last().unwrap());
            let (x7, y7) = (&case.x[3 * n0..10 * n0], &case.y[3 * nl..10 * nl]);
            let bits = |g: &[f32]| g.iter().map(|v| v.to_bits()).collect::<Vec<_>>();

            let mut trainer = Trainer::new(&mlp, &cfg).unwrap();
            let full = bits(trainer.gradient(&mlp, &case.x, &case.y, 20).unwrap());
            let short = bits(trainer.gradient(&mlp, x7, y7, 7).unwrap());
            let again = bits(trainer.gradient(&mlp, &case.x, &case.y, 20).unwrap());
            let mut fresh = Trainer::new(&mlp, &cfg).unwrap();
            let fresh_short = bits(fresh.gradient(&mlp, x7, y7, 7).unwrap());

            assert_eq!(
                mlp.params(),
                &case.params[..],
                "{}: gradient changed the parameters",
                case.label
            );
            assert!(
                full == again,
                "{}: a second gradient of the same batch differs",
                case.label
            );
            assert!(
                short == fresh_short,
                "{}: 7 rows after 20 differ from 7 rows on a fresh trainer",
                case.label
            );
        }
    }
}

/// The output layer's weights scaled up until the classifier heads saturate
/// (logits in the hundreds): the loss, computed from the logits, stays finite
/// and matches the reference, and so does the gradient (to what f32 logits of
/// that size allow).
#[test]
fn saturated_classifier_heads_match_reference() {
    for head in [Head::SigmoidBce, Head::SoftmaxCe] {
        for act in Activation::ALL {
            for scale in [30.0f32, 300.0] {
                let mut case = Case::new(head, act, 600, 2..=9, 5..=12);
                let last = case.sizes.len() - 2;
                let first_out: usize = case
                    .sizes
                    .windows(2)
                    .take(last)
                    .map(|p| p[0] * p[1] + p[1])
                    .sum();
                case.params[first_out..]
                    .iter_mut()
                    .for_each(|p| *p *= scale);
                case.label = format!("{} output layer ×{scale}", case.label);
                let net = case.reference();
                let (x, y) = (to_f64(&case.x), to_f64(&case.y));
                let want = net.loss(&x, &y, case.m);
                let got = case.engine().loss(&case.x, &case.y, case.m).unwrap();
                assert!(
                    got.is_finite() && close(got, want, 1e-5, 1e-6),
                    "{}: engine loss {got:e}, reference {want:e}",
                    case.label
                );
                let want = net.gradient(&x, &y, case.m);
                let largest = want.iter().fold(0.0f64, |a, g| a.max(g.abs()));
                let engine = case.engine_gradient(4, 1);
                assert!(
                    engine.iter().all(|g| g.is_finite()),
                    "{}: non-finite gradient {engine:?}",
                    case.label
                );
                assert_all_close(
                    &case.label,
                    "engine vs reference (saturated)",
                    &case.sizes,
                    &engine,
                    &want,
                    1e-3,
                    1e-4 * (1.0 + largest),
                );
            }
        }
    }
}

/// With weight decay `λ`, the direction SGD descends is the gradient of
/// `loss + λ/2·Σ W²` over the weights only (no decay on biases): recovered
/// from one engine step, `(θ - θ')/η`, it matches finite differences of that
/// penalised loss (the reference's loss plus the penalty, in f64).
#[test]
fn weight_decay_is_the_gradient_of_the_l2_penalty_on_weights() {
    use backprop::optim::OptimizerConfig;
    let (lambda, eta) = (0.3f32, 0.5f32);
    for head in Head::ALL {
        for act in Activation::ALL {
            let case = Case::new(head, act, 900, 2..=5, 2..=7);
            let mut numeric =
                case.reference()
                    .numerical_gradient(&to_f64(&case.x), &to_f64(&case.y), case.m, H);
            // finite differences of λ/2·θ² on the weights; biases carry none
            let mut offset = 0;
            for pair in case.sizes.windows(2) {
                let (n_in, n_out) = (pair[0], pair[1]);
                let weights = offset..offset + n_in * n_out;
                for (n, &p) in numeric[weights.clone()]
                    .iter_mut()
                    .zip(&case.params[weights])
                {
                    let t = f64::from(p);
                    let pen = |v: f64| 0.5 * f64::from(lambda) * v * v;
                    *n += (pen(t + H) - pen(t - H)) / (2.0 * H);
                }
                offset += n_in * n_out + n_out;
            }
            let mut mlp = case.engine();
            let cfg = TrainConfig {
                batch_size: case.m,
                lr: eta,
                optimizer: OptimizerConfig {
                    weight_decay: lambda,
                    ..OptimizerConfig::default()
                },
                threads: 1,
                shuffle: false,
                ..TrainConfig::default()
            };
            let mut trainer = Trainer::new(&mlp, &cfg).unwrap();
            trainer.step(&mut mlp, &case.x, &case.y, case.m).unwrap();
            let effective: Vec<f64> = case
                .params
                .iter()
                .zip(mlp.params())
                .map(|(&a, &b)| (f64::from(a) - f64::from(b)) / f64::from(eta))
                .collect();
            assert_all_close(
                &case.label,
                "SGD step with weight decay vs finite differences of the penalised loss",
                &case.sizes,
                &effective,
                &numeric,
                2e-3,
                2e-5,
            );
        }
    }
}

/// Dropout probability and seed of the fixed-mask checks.
const DROPOUT: f32 = 0.3;
const DROPOUT_SEED: u64 = 9;

/// Row weights in `[0, 3)`, the first row's 0 when there are several (a row
/// that must not count at all).
fn row_weights(seed: u64, m: usize) -> Vec<f32> {
    let mut w = uniform(&mut rng(seed), m, 0.0, 3.0);
    if m > 1 {
        w[0] = 0.0;
    }
    w
}

/// The engine's gradient with `weights` (if any) and dropout (if `dropout`)
/// at optimizer step 0.
fn engine_gradient_with(
    case: &Case,
    weights: Option<&[f32]>,
    dropout: bool,
    shard_rows: usize,
    threads: usize,
) -> Vec<f64> {
    let mlp = case.engine();
    let cfg = TrainConfig {
        batch_size: case.m,
        shard_rows,
        threads,
        seed: DROPOUT_SEED,
        dropout: if dropout { DROPOUT } else { 0.0 },
        ..TrainConfig::default()
    };
    let mut trainer = Trainer::new(&mlp, &cfg).unwrap();
    let g = match weights {
        Some(w) => trainer.gradient_weighted(&mlp, &case.x, &case.y, w, case.m),
        None => trainer.gradient(&mlp, &case.x, &case.y, case.m),
    }
    .unwrap_or_else(|e| panic!("{}: gradient: {e}", case.label));
    to_f64(g)
}

#[test]
fn weighted_and_dropout_gradients_match_finite_differences_and_the_engine() {
    let mut checked = 0;
    for head in Head::ALL {
        for act in Activation::ALL {
            for seed in 0..3 {
                let case = Case::new(head, act, 500 + seed, 2..=12, 1..=12);
                let net = case.reference();
                let (x, y) = (to_f64(&case.x), to_f64(&case.y));
                let w = row_weights(seed, case.m);
                let masks = Extras::dropout_masks(&case.sizes, DROPOUT, DROPOUT_SEED, 0, case.m);
                for (what, weighted, dropout) in [
                    ("weighted", true, false),
                    ("dropout", false, true),
                    ("weighted + dropout", true, true),
                ] {
                    let extras = Extras {
                        w: weighted.then(|| to_f64(&w)),
                        masks: dropout.then(|| masks.clone()),
                    };
                    let analytic = net.gradient_with(&x, &y, case.m, &extras);
                    let numeric = net.numerical_gradient_with(&x, &y, case.m, H, &extras);
                    assert_all_close(
                        &case.label,
                        &format!("{what}: reference vs finite differences"),
                        &case.sizes,
                        &analytic,
                        &numeric,
                        1e-6,
                        1e-9,
                    );
                    for (shard_rows, threads) in [(1, 1), (4, 2), (64, 3)] {
                        let engine = engine_gradient_with(
                            &case,
                            weighted.then_some(&w[..]),
                            dropout,
                            shard_rows,
                            threads,
                        );
                        assert_all_close(
                            &case.label,
                            &format!("{what}: engine (shards of {shard_rows}, {threads} threads) vs reference"),
                            &case.sizes,
                            &engine,
                            &analytic,
                            1e-4,
                            1e-6,
                        );
                    }
                    checked += analytic.len();
                }
            }
        }
    }
    assert!(checked > 3000, "only {checked} components checked");
}

/// Weight `k` on a row is the row given `k` times; all-equal weights are the
/// plain mean.
#[test]
fn integer_weights_repeat_rows() {
    let case = Case::new(Head::SoftmaxCe, Activation::Tanh, 600, 3..=9, 4..=4);
    let n0 = case.sizes[0];
    let nl = *case.sizes.last().unwrap();
    let w = [2.0f32, 0.0, 1.0, 3.0];
    let (mut xr, mut yr) = (Vec::new(), Vec::new());
    for (i, &k) in w.iter().enumerate() {
        for _ in 0..k as usize {
            xr.extend_from_slice(&case.x[i * n0..(i + 1) * n0]);
            yr.extend_from_slice(&case.y[i * nl..(i + 1) * nl]);
        }
    }
    let repeated = Case {
        m: 6,
        x: xr,
        y: yr,
        label: format!("{} repeated", case.label),
        ..Case::new(Head::SoftmaxCe, Activation::Tanh, 600, 3..=9, 4..=4)
    };
    let weighted = engine_gradient_with(&case, Some(&w), false, 2, 2);
    let plain = engine_gradient_with(&repeated, None, false, 2, 2);
    assert_all_close(
        &case.label,
        "weights vs repeated rows",
        &case.sizes,
        &weighted,
        &plain,
        1e-5,
        1e-7,
    );
    let ones = engine_gradient_with(&case, Some(&[0.5; 4]), false, 2, 2);
    let unweighted = engine_gradient_with(&case, None, false, 2, 2);
    assert_all_close(
        &case.label,
        "equal weights vs none",
        &case.sizes,
        &ones,
        &unweighted,
        1e-6,
        1e-8,
    );
}
