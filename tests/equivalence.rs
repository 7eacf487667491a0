//! Sharded, threaded SGD is the same mathematics as the naive loop
//! (`docs/backprop.md`, "Update" and "Data parallelism"):
//!
//! - 20 engine steps, for every activation/head mix, shard sizes 1, 2, 3, 7
//!   with batch sizes that are not multiples of them, and 1 or 3 threads, end
//!   within 1e-4 (relative) of 20 steps of the f64 reference from the same
//!   initial parameters; each step's reported loss is the reference's loss
//!   before the update;
//! - with a fixed shard size, the number of threads does not change a bit.

mod common;

use backprop::{Activation, Head, Mlp, TrainConfig, Trainer};
use common::{
    close, hidden_with, param_name, random_params, random_sizes, random_x, random_y, rng, to_f64,
    RefNet,
};
use rand::RngExt;
use rand_chacha::ChaCha8Rng;

const STEPS: usize = 20;
const LR: f32 = 0.1;

fn out_width(r: &mut ChaCha8Rng, head: Head) -> usize {
    match head {
        Head::SoftmaxCe => r.random_range(2..=4),
        _ => r.random_range(1..=3),
    }
}

/// `STEPS` batches of `m` rows. Batches that bring a ReLU pre-activation of
/// `net` within 1e-4 of the kink are redrawn (there f32 and f64 may take
/// different sides; the check is of the arithmetic, not of that coin toss).
fn batches(r: &mut ChaCha8Rng, net: &RefNet, m: usize) -> Vec<(Vec<f32>, Vec<f32>)> {
    let (n0, nl) = (net.sizes[0], *net.sizes.last().unwrap());
    (0..STEPS)
        .map(|_| loop {
            let x = random_x(r, m, n0);
            let y = random_y(r, net.head, m, nl);
            if net.min_abs_relu_z(&to_f64(&x), m) > 1e-4 {
                break (x, y);
            }
        })
        .collect()
}

#[test]
fn sgd_matches_reference_over_20_steps() {
    // (shard_rows, batch rows): batches never a multiple of the shard size
    // (except shard 1), so the last shard is short.
    let shapes = [(1, 10), (2, 13), (3, 10), (3, 20), (7, 13), (7, 20)];
    let mut case = 0u64;
    for head in Head::ALL {
        for act in Activation::ALL {
            for (shard_rows, m) in shapes {
                for threads in [1, 3] {
                    case += 1;
                    run_case(case, head, act, shard_rows, m, threads);
                }
            }
        }
    }
}

fn run_case(case: u64, head: Head, act: Activation, shard_rows: usize, m: usize, threads: usize) {
    let mut r = rng(case);
    let out = out_width(&mut r, head);
    let sizes = random_sizes(&mut r, 3..=6, 2..=6, 2, out);
    let hidden = hidden_with(&mut r, &sizes, act);
    let params = random_params(&mut r, &sizes);
    let label = format!(
        "case {case}: head {head} hidden {hidden:?} sizes {sizes:?} shard_rows {shard_rows} \
         batch {m} threads {threads}"
    );

    let mut reference = RefNet::from_params(&sizes, &hidden, head, &params);
    let mut mlp = Mlp::from_params(&sizes, &hidden, head, params)
        .unwrap_or_else(|e| panic!("{label}: Mlp::from_params: {e}"));
    let cfg = TrainConfig {
        batch_size: m,
        lr: LR,
        shard_rows,
        threads,
        shuffle: false,
        ..TrainConfig::default()
    };
    let mut trainer =
        Trainer::new(&mlp, &cfg).unwrap_or_else(|e| panic!("{label}: Trainer::new: {e}"));

    for (step, (x, y)) in batches(&mut r, &reference, m).iter().enumerate() {
        let (x64, y64) = (to_f64(x), to_f64(y));
        let want_loss = reference.loss(&x64, &y64, m);
        reference.sgd_step(&x64, &y64, m, f64::from(LR));
        let loss = trainer
            .step(&mut mlp, x, y, m)
            .unwrap_or_else(|e| panic!("{label}: step {step}: {e}"));
        assert!(
            close(loss, want_loss, 1e-4, 1e-6),
            "{label}: step {step}: engine loss {loss:e}, reference {want_loss:e}"
        );
    }

    let want = reference.params_f64();
    let got = to_f64(mlp.params());
    assert_eq!(got.len(), want.len(), "{label}: parameter count");
    for (i, (&g, &w)) in got.iter().zip(&want).enumerate() {
        assert!(
            close(g, w, 1e-4, 1e-5),
            "{label}: after {STEPS} steps {} (flat #{i}): engine {g:e}, reference {w:e} (diff {:e})",
            param_name(&sizes, i),
            (g - w).abs()
        );
    }
}

/// Same seed and shard size, 1, 2, 3 or 8 threads: the same bits after 20
/// steps (losses included). The batch has many shards, and a short last one.
#[test]
fn thread_count_does_not_change_a_bit() {
    for (k, head) in Head::ALL.into_iter().enumerate() {
        for act in Activation::ALL {
            let sizes = [7, 19, 11, out_for(head)];
            let hidden = [act, Activation::ALL[(act as usize + k + 1) % 4]];
            let (m, shard_rows) = (45, 4);
            let mut r = rng(500 + k as u64);
            let data: Vec<_> = (0..STEPS)
                .map(|_| {
                    (
                        random_x(&mut r, m, sizes[0]),
                        random_y(&mut r, head, m, sizes[3]),
                    )
                })
                .collect();

            let run = |threads: usize| -> (Vec<u32>, Vec<u64>) {
                let mut mlp = Mlp::new(&sizes, &hidden, head, 42).expect("Mlp::new");
                let cfg = TrainConfig {
                    batch_size: m,
                    lr: LR,
                    shard_rows,
                    threads,
                    seed: 42,
                    shuffle: false,
                    ..TrainConfig::default()
                };
                let mut trainer = Trainer::new(&mlp, &cfg).expect("Trainer::new");
                let losses = data
                    .iter()
                    .map(|(x, y)| trainer.step(&mut mlp, x, y, m).expect("step").to_bits())
                    .collect();
                (mlp.params().iter().map(|p| p.to_bits()).collect(), losses)
            };

            let (base, base_losses) = run(1);
            for threads in [2, 3, 8] {
                let (params, losses) = run(threads);
                assert_eq!(
                    losses, base_losses,
                    "head {head} hidden {hidden:?}: losses differ between 1 and {threads} threads"
                );
                if let Some(i) = (0..base.len()).find(|&i| params[i] != base[i]) {
                    panic!(
                        "head {head} hidden {hidden:?}: {} (flat #{i}) is {:e} with {threads} \
                         threads, {:e} with 1",
                        param_name(&sizes, i),
                        f32::from_bits(params[i]),
                        f32::from_bits(base[i]),
                    );
                }
            }
        }
    }
}

fn out_for(head: Head) -> usize {
    match head {
        Head::SigmoidBce => 2,
        Head::SoftmaxCe => 5,
        Head::Mse => 3,
    }
}
