//! Sharded, threaded SGD is the same mathematics as the naive loop
//! (`docs/backprop.md`, "Update" and "Data parallelism"):
//!
//! - 20 engine steps, for every activation/head mix, shard sizes 1, 2, 3, 7
//!   with batch sizes that are not multiples of them, and 1 or 3 threads, end
//!   within 1e-4 (relative) of 20 steps of the f64 reference from the same
//!   initial parameters; each step's reported loss is the reference's loss
//!   before the update;
//! - the same for batches shorter than `batch_size` and for a network with
//!   more parameters than one chunk of the parallel update;
//! - with a fixed shard size, the number of threads does not change a bit
//!   (plain steps and shuffled epochs);
//! - `Trainer::epoch` without shuffling is `Trainer::step` over consecutive batches;
//! - every optimizer (SGD plain, momentum, Nesterov; Adam; AdamW; RMSprop),
//!   with and without weight decay, with and without gradient-norm clipping
//!   (set to bind), at a constant rate (`Trainer::step`) and under a cosine
//!   schedule with warm-up and a step schedule (`Trainer::epoch`, fixed data,
//!   no shuffling), ends 20 steps within 1e-4 (relative) of the f64
//!   reference trainer (`RefTrainer`: PyTorch's formulas, the schedule
//!   computed from `src/schedule.rs`'s documented formulas);
//! - on a network of three 16 Ki-parameter reduction chunks (a chunk boundary
//!   inside a bias), every optimizer with weight decay and a binding clip
//!   stays within 1e-4 of the reference over 20 steps, and, with a cosine
//!   schedule, warm-up and shuffled epochs added, gives the same bits
//!   (parameters, optimizer state, epoch losses) with 1, 2, 3 and 8 threads;
//! - row weights and dropout (masks from `backprop::dropout`, held fixed in
//!   the reference): 20 steps of every head and activation, with SGD
//!   momentum and Adam, within 1e-4 of the reference trainer on the weighted,
//!   masked loss; and shuffled epochs of a weighted dataset with dropout on
//!   [`BIG`] give the same bits with 1, 2, 3 and 8 threads.

mod common;

use backprop::optim::OptimizerConfig;
use backprop::schedule::LrSchedule;
use backprop::{Activation, Dataset, Head, Matrix, Mlp, TrainConfig, Trainer};
use common::reference::{scheduled_lr, Extras, RefTrainer};
use common::{
    close, hidden_with, out_width, param_count, param_name, random_params, random_sizes, random_x,
    random_y, rng, to_f64, RefNet,
};
use rand_chacha::ChaCha8Rng;

const STEPS: usize = 20;
const LR: f32 = 0.1;

/// A batch of `rows` rows for the next step. Batches that bring a ReLU
/// pre-activation of `net` (the reference as it is now) within 1e-4 of the
/// kink are redrawn: there f32 and f64 may take different sides, and the test
/// is of the arithmetic, not of that coin toss.
fn next_batch(r: &mut ChaCha8Rng, net: &RefNet, rows: usize) -> (Vec<f32>, Vec<f32>) {
    let (n0, nl) = (net.sizes[0], *net.sizes.last().unwrap());
    for _ in 0..1000 {
        let x = random_x(r, rows, n0);
        let y = random_y(r, net.head, rows, nl);
        if net.min_abs_relu_z(&to_f64(&x), rows) > 1e-4 {
            return (x, y);
        }
    }
    panic!(
        "no batch away from the ReLU kinks for sizes {:?}",
        net.sizes
    );
}

/// Runs one engine step and one reference step per entry of `rows` (the
/// batch's row count), from the same parameters, on the same random batches;
/// checks every step's loss and the parameters at the end.
fn train_side_by_side(
    label: &str,
    r: &mut ChaCha8Rng,
    reference: &mut RefNet,
    mlp: &mut Mlp,
    cfg: &TrainConfig,
    rows: &[usize],
) {
    let mut trainer =
        Trainer::new(mlp, cfg).unwrap_or_else(|e| panic!("{label}: Trainer::new: {e}"));
    for (step, &m) in rows.iter().enumerate() {
        let (x, y) = next_batch(r, reference, m);
        let (x64, y64) = (to_f64(&x), to_f64(&y));
        let want_loss = reference.loss(&x64, &y64, m);
        reference.sgd_step(&x64, &y64, m, f64::from(cfg.lr));
        let loss = trainer
            .step(mlp, &x, &y, m)
            .unwrap_or_else(|e| panic!("{label}: step {step} ({m} rows): {e}"));
        assert!(
            close(loss, want_loss, 1e-4, 1e-6),
            "{label}: step {step} ({m} rows): engine loss {loss:e}, reference {want_loss:e}"
        );
    }
    let want = reference.params_f64();
    let largest = want.iter().fold(0.0f64, |a, p| a.max(p.abs()));
    assert!(
        largest < 100.0,
        "{label}: the reference diverged (|p| up to {largest:e}); lower the learning rate"
    );
    assert_params_close(label, &reference.sizes, mlp.params(), &want);
}

/// Engine parameters within 1e-4 (relative, floor 1e-5) of the reference's.
#[track_caller]
fn assert_params_close(label: &str, sizes: &[usize], got: &[f32], want: &[f64]) {
    assert_eq!(got.len(), want.len(), "{label}: parameter count");
    for (i, (&g, &w)) in to_f64(got).iter().zip(want).enumerate() {
        assert!(
            close(g, w, 1e-4, 1e-5),
            "{label}: {} (flat #{i}): engine {g:e}, reference {w:e} (diff {:e})",
            param_name(sizes, i),
            (g - w).abs()
        );
    }
}

/// A random network whose first hidden activation is `act` (widths in
/// `hidden_range`), as the reference and as the engine, with the same parameters.
fn random_pair(
    r: &mut ChaCha8Rng,
    head: Head,
    act: Activation,
    hidden_range: std::ops::RangeInclusive<usize>,
) -> (RefNet, Mlp) {
    let out = out_width(r, head);
    let sizes = random_sizes(r, 3..=6, hidden_range, 2, out);
    let hidden = hidden_with(r, &sizes, act);
    let params = random_params(r, &sizes);
    let reference = RefNet::from_params(&sizes, &hidden, head, &params);
    let mlp = Mlp::from_params(&sizes, &hidden, head, params)
        .unwrap_or_else(|e| panic!("{sizes:?} {hidden:?} {head}: Mlp::from_params: {e}"));
    (reference, mlp)
}

/// The rate of a comparison: a tenth of `lr` for the Poisson head, whose
/// exponential output overshoots to overflow at the others' rates (the
/// engine's `exp` then saturates where the `f64` reference does not).
fn rate_for(head: Head, lr: f32) -> f32 {
    if head == Head::Poisson {
        lr * 0.1
    } else {
        lr
    }
}

fn config(batch_size: usize, shard_rows: usize, threads: usize) -> TrainConfig {
    TrainConfig {
        batch_size,
        lr: LR,
        shard_rows,
        threads,
        shuffle: false,
        ..TrainConfig::default()
    }
}

fn describe(case: u64, net: &RefNet, cfg: &TrainConfig) -> String {
    format!(
        "case {case}: head {} hidden {:?} sizes {:?} batch {} shard_rows {} threads {}",
        net.head, net.hidden, net.sizes, cfg.batch_size, cfg.shard_rows, cfg.threads
    )
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
                    let mut r = rng(case);
                    let (mut reference, mut mlp) = random_pair(&mut r, head, act, 2..=6);
                    let cfg = TrainConfig {
                        lr: rate_for(head, LR),
                        ..config(m, shard_rows, threads)
                    };
                    let label = describe(case, &reference, &cfg);
                    train_side_by_side(&label, &mut r, &mut reference, &mut mlp, &cfg, &[m; STEPS]);
                }
            }
        }
    }
}

/// Batches shorter than `batch_size` (the end of an epoch) use fewer shards;
/// the idle shards' stale gradients must not leak into the step.
#[test]
fn short_batches_match_reference() {
    let rows = [20, 13, 6, 1, 19, 7, 14, 20, 2, 8];
    let mut case = 1000u64;
    for head in Head::ALL {
        for act in Activation::ALL {
            case += 1;
            let mut r = rng(case);
            let (mut reference, mut mlp) = random_pair(&mut r, head, act, 2..=6);
            let cfg = config(20, 7, 3);
            let label = describe(case, &reference, &cfg);
            train_side_by_side(&label, &mut r, &mut reference, &mut mlp, &cfg, &rows);
        }
    }
}

/// More parameters than one chunk of the parallel reduction and update
/// (16 Ki floats), and layers wider than the SIMD registers.
#[test]
fn large_network_matches_reference() {
    let sizes = [100, 150, 37, 3];
    for (k, head) in Head::ALL.into_iter().enumerate() {
        let hidden = [Activation::ALL[k], Activation::ALL[k + 4]];
        let mut r = rng(2000 + k as u64);
        let params = random_params(&mut r, &sizes);
        let mut finals = Vec::new();
        for threads in [1, 3] {
            let mut r = rng(3000 + k as u64);
            let mut reference = RefNet::from_params(&sizes, &hidden, head, &params);
            let mut mlp = Mlp::from_params(&sizes, &hidden, head, params.clone()).unwrap();
            // A smaller step: 100 inputs into an MSE head diverge at LR.
            let cfg = TrainConfig {
                lr: 0.01,
                ..config(13, 4, threads)
            };
            let label = describe(k as u64, &reference, &cfg);
            train_side_by_side(&label, &mut r, &mut reference, &mut mlp, &cfg, &[13; 5]);
            finals.push(mlp.params().to_vec());
        }
        assert!(
            finals[0]
                .iter()
                .zip(&finals[1])
                .all(|(a, b)| a.to_bits() == b.to_bits()),
            "head {head}: 1 and 3 threads differ on a network of {} parameters",
            finals[0].len()
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
            let hidden = [
                act,
                Activation::ALL[(act as usize + k + 1) % Activation::ALL.len()],
            ];
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
                // fork every step: the parallel paths are what is compared
                trainer.set_min_task_flops(0);
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

/// Shuffled epochs (the trainer's seeded RNG) give the same bits with 1, 3 or
/// all cores' threads.
#[test]
fn shuffled_epochs_do_not_depend_on_thread_count() {
    let (n, sizes) = (61, [6, 13, 4]);
    let mut r = rng(600);
    let x = random_x(&mut r, n, sizes[0]);
    let y = random_y(&mut r, Head::SoftmaxCe, n, sizes[2]);
    let data = Dataset::new(
        Matrix::from_vec(n, sizes[0], x).unwrap(),
        Matrix::from_vec(n, sizes[2], y).unwrap(),
    )
    .unwrap();
    let run = |threads: usize| -> Vec<u32> {
        let mut mlp = Mlp::new(&sizes, &[Activation::Tanh], Head::SoftmaxCe, 3).unwrap();
        let cfg = TrainConfig {
            shuffle: true,
            seed: 9,
            ..config(16, 5, threads)
        };
        let mut trainer = Trainer::new(&mlp, &cfg).unwrap();
        // fork every step: the parallel paths are what is compared
        trainer.set_min_task_flops(0);
        for _ in 0..3 {
            trainer.epoch(&mut mlp, &data).unwrap();
        }
        mlp.params().iter().map(|p| p.to_bits()).collect()
    };
    let base = run(1);
    for threads in [3, 0] {
        assert!(
            run(threads) == base,
            "3 shuffled epochs: {threads} threads (0 = all cores) differ from 1"
        );
    }
}

fn out_for(head: Head) -> usize {
    match head {
        Head::SigmoidBce => 2,
        Head::SoftmaxCe => 5,
        Head::Mse => 3,
        Head::Poisson => 2,
    }
}

/// `Trainer::epoch` without shuffling is the same bits as `Trainer::step` over
/// consecutive batches (the last one short), two epochs running.
#[test]
fn epoch_without_shuffle_equals_steps() {
    let (n, batch, shard_rows) = (47, 10, 3);
    for (k, head) in Head::ALL.into_iter().enumerate() {
        let sizes = [5, 9, out_for(head)];
        let hidden = [Activation::ALL[k]];
        let mut r = rng(4000 + k as u64);
        let x = random_x(&mut r, n, sizes[0]);
        let y = random_y(&mut r, head, n, sizes[2]);
        let data = Dataset::new(
            Matrix::from_vec(n, sizes[0], x.clone()).unwrap(),
            Matrix::from_vec(n, sizes[2], y.clone()).unwrap(),
        )
        .unwrap();
        let cfg = config(batch, shard_rows, 2);

        let mut by_epoch = Mlp::new(&sizes, &hidden, head, 7).unwrap();
        let mut trainer = Trainer::new(&by_epoch, &cfg).unwrap();
        let mut by_step = by_epoch.clone();
        let mut step_trainer = Trainer::new(&by_step, &cfg).unwrap();
        for epoch in 0..2 {
            let stats = trainer.epoch(&mut by_epoch, &data).unwrap();
            let mut total = 0.0;
            for start in (0..n).step_by(batch) {
                let rows = batch.min(n - start);
                let (n0, nl) = (sizes[0], sizes[2]);
                let xs = &x[start * n0..(start + rows) * n0];
                let ys = &y[start * nl..(start + rows) * nl];
                total += rows as f64 * step_trainer.step(&mut by_step, xs, ys, rows).unwrap();
            }
            let label = format!("head {head} hidden {hidden:?} epoch {epoch}");
            assert_eq!(
                (stats.samples, stats.steps),
                (n, n.div_ceil(batch)),
                "{label}"
            );
            assert!(
                close(stats.loss, total / n as f64, 1e-12, 0.0),
                "{label}: epoch loss {:e}, steps' mean loss {:e}",
                stats.loss,
                total / n as f64
            );
            if let Some(i) = (0..by_step.params().len())
                .find(|&i| by_epoch.params()[i].to_bits() != by_step.params()[i].to_bits())
            {
                panic!(
                    "{label}: {} (flat #{i}) is {:e} after epoch(), {:e} after step()s",
                    param_name(&sizes, i),
                    by_epoch.params()[i],
                    by_step.params()[i]
                );
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Optimizers, gradient clipping and learning-rate schedules
// ---------------------------------------------------------------------------

/// The weight decay of the cases with decay.
const DECAY: f32 = 0.1;

/// How the rate moves: `Trainer::step` at the base rate, or whole epochs
/// under a schedule (with its warm-up epochs).
fn schedules(lr: f32) -> [(&'static str, LrSchedule, usize); 7] {
    [
        ("constant", LrSchedule::Constant, 0),
        (
            "cosine with 1 warm-up epoch",
            // annealed over the 5 epochs of the epoch runs below
            LrSchedule::Cosine {
                min_lr: lr / 10.0,
                epochs: 5,
            },
            1,
        ),
        (
            "step",
            LrSchedule::Step {
                every_epochs: 2,
                gamma: 0.5,
            },
            0,
        ),
        ("flat-cos", LrSchedule::FlatCos, 0),
        ("coslog4", LrSchedule::CosLog4, 0),
        ("one-cycle with 1 warm-up epoch", LrSchedule::OneCycle, 1),
        (
            "invscaling",
            // the 19 rows of the epoch runs below
            LrSchedule::InvScaling {
                power_t: 0.25,
                rows: 19,
            },
            0,
        ),
    ]
}

/// A clipping threshold that binds on a batch: half its gradient's norm.
fn binding_clip(net: &RefNet, x: &[f32], y: &[f32], rows: usize) -> f32 {
    let norm = RefTrainer::new(net.clone(), OptimizerConfig::default(), None).grad_norm(
        &to_f64(x),
        &to_f64(y),
        rows,
    );
    (0.5 * norm) as f32
}

/// The reference's parameters are sane, and the engine's within 1e-4 of them.
#[track_caller]
fn assert_trained_alike(label: &str, reference: &RefTrainer, mlp: &Mlp) {
    let want = reference.net.params_f64();
    let largest = want.iter().fold(0.0f64, |a, p| a.max(p.abs()));
    assert!(
        largest < 100.0,
        "{label}: the reference diverged (|p| up to {largest:e}); lower the learning rate"
    );
    assert_params_close(label, &reference.net.sizes, mlp.params(), &want);
}

/// `STEPS` calls of `Trainer::step` (the base rate throughout) beside as many
/// reference steps, on random batches of `m` rows (the first one is `first`).
fn steps_side_by_side(
    label: &str,
    r: &mut ChaCha8Rng,
    reference: &mut RefTrainer,
    mlp: &mut Mlp,
    cfg: &TrainConfig,
    first: (Vec<f32>, Vec<f32>),
) {
    let m = cfg.batch_size;
    let mut trainer =
        Trainer::new(mlp, cfg).unwrap_or_else(|e| panic!("{label}: Trainer::new: {e}"));
    let mut batch = Some(first);
    for step in 0..STEPS {
        let (x, y) = batch
            .take()
            .unwrap_or_else(|| next_batch(r, &reference.net, m));
        let want_loss = reference.step(&to_f64(&x), &to_f64(&y), m, f64::from(cfg.lr));
        let loss = trainer
            .step(mlp, &x, &y, m)
            .unwrap_or_else(|e| panic!("{label}: step {step}: {e}"));
        assert!(
            close(loss, want_loss, 1e-4, 1e-6),
            "{label}: step {step}: engine loss {loss:e}, reference {want_loss:e}"
        );
    }
    assert_trained_alike(label, reference, mlp);
}

/// `cfg.epochs` calls of `Trainer::epoch` (no shuffling, so the batches are
/// the data's consecutive rows) beside the reference stepping through the
/// same batches at the rates of [`scheduled_lr`].
fn epochs_side_by_side(
    label: &str,
    reference: &mut RefTrainer,
    mlp: &mut Mlp,
    cfg: &TrainConfig,
    data: &Dataset,
) {
    assert!(!cfg.shuffle, "{label}: the reference does not shuffle");
    let mut trainer =
        Trainer::new(mlp, cfg).unwrap_or_else(|e| panic!("{label}: Trainer::new: {e}"));
    let (n, bs) = (data.rows(), cfg.batch_size);
    let (n0, nl) = (data.features(), data.outputs());
    let (x, y) = (to_f64(data.x().as_slice()), to_f64(data.y().as_slice()));
    let per_epoch = n.div_ceil(bs);
    for epoch in 0..cfg.epochs {
        let mut want_sum = 0.0;
        for (b, start) in (0..n).step_by(bs).enumerate() {
            let rows = bs.min(n - start);
            let (xs, ys) = (
                &x[start * n0..(start + rows) * n0],
                &y[start * nl..(start + rows) * nl],
            );
            let lr = scheduled_lr(
                f64::from(cfg.lr),
                cfg.schedule,
                cfg.warmup_epochs,
                cfg.epochs,
                epoch,
                b,
                per_epoch,
            );
            let engine_lr = f64::from(trainer.lr_at(epoch, b, per_epoch));
            assert!(
                close(engine_lr, lr, 1e-6, 0.0),
                "{label}: epoch {epoch} batch {b}: the trainer's rate is {engine_lr:e}, the \
                 schedule's formula gives {lr:e}"
            );
            // fixed data cannot be redrawn away from ReLU kinks ([`smooth_pair`]
            // has none; this guards a change of network)
            let kink = reference.net.min_abs_relu_z(xs, rows);
            assert!(
                kink > 1e-4,
                "{label}: epoch {epoch} batch {b} has a ReLU pre-activation {kink:e} from the \
                 kink, where f32 and f64 may differ: change the seed"
            );
            want_sum += rows as f64 * reference.step(xs, ys, rows, lr);
        }
        let stats = trainer
            .epoch(mlp, data)
            .unwrap_or_else(|e| panic!("{label}: epoch {epoch}: {e}"));
        assert_eq!(stats.steps, per_epoch, "{label}: epoch {epoch}: steps");
        let want = want_sum / n as f64;
        assert!(
            close(stats.loss, want, 1e-4, 1e-6),
            "{label}: epoch {epoch}: engine loss {:e}, reference {want:e}",
            stats.loss
        );
    }
    assert_trained_alike(label, reference, mlp);
}

/// [`random_pair`] without kinks (ReLU becomes tanh, SELU becomes SiLU):
/// epochs train on fixed data, which cannot be redrawn when a pre-activation
/// comes near the kink.
fn smooth_pair(r: &mut ChaCha8Rng, head: Head, act: Activation) -> (RefNet, Mlp) {
    let (net, _) = random_pair(r, head, act, 2..=6);
    let hidden: Vec<_> = net
        .hidden
        .iter()
        .map(|&a| match a {
            Activation::Relu => Activation::Tanh,
            Activation::Selu => Activation::Silu,
            a => a,
        })
        .collect();
    let params: Vec<f32> = net.params_f64().iter().map(|&p| p as f32).collect();
    let smooth = RefNet::from_params(&net.sizes, &hidden, head, &params);
    let mlp = Mlp::from_params(&net.sizes, &hidden, head, params).expect("Mlp::from_params");
    (smooth, mlp)
}

/// Every rule × weight decay or not × clipping or not × (constant rate by
/// `Trainer::step`; cosine with warm-up, step decay, flat-cos, coslog4,
/// one-cycle with warm-up and invscaling by `Trainer::epoch`):
/// 20 steps within 1e-4 of the f64 reference trainer. Heads and first hidden
/// activations rotate through every combination (ReLU only with
/// `Trainer::step`, see [`smooth_pair`]); threads alternate 1 and 3, each
/// batch has several shards.
#[test]
fn every_optimizer_clip_and_schedule_matches_reference_over_20_steps() {
    // epoch runs: 19 rows in batches of 5 (the last one of 4), 5 epochs
    let (n, batch, shard_rows, epochs): (usize, usize, usize, usize) = (19, 5, 2, 5);
    assert_eq!(epochs * n.div_ceil(batch), STEPS);
    let mut case = 5000u64;
    let (mut clipped, mut unclipped) = (0, 0);
    for weight_decay in [0.0, DECAY] {
        for (name, optimizer, lr) in common::optimizers(weight_decay) {
            for clip in [false, true] {
                for (schedule_name, schedule, warmup_epochs) in schedules(lr) {
                    case += 1;
                    let mut r = rng(case);
                    let k = case as usize;
                    let head = Head::ALL[k % 3];
                    let act = Activation::ALL[(k / 3) % Activation::ALL.len()];
                    let by_epoch = schedule != LrSchedule::Constant;
                    let (net, mut mlp) = if by_epoch {
                        smooth_pair(&mut r, head, act)
                    } else {
                        random_pair(&mut r, head, act, 2..=6)
                    };
                    let mut cfg = TrainConfig {
                        lr,
                        optimizer,
                        schedule,
                        warmup_epochs,
                        epochs,
                        ..config(batch, shard_rows, 1 + 2 * (k % 2))
                    };
                    let (n0, nl) = (net.sizes[0], *net.sizes.last().unwrap());
                    let first = if by_epoch {
                        (random_x(&mut r, n, n0), random_y(&mut r, head, n, nl))
                    } else {
                        cfg.batch_size = 10;
                        cfg.shard_rows = 3;
                        next_batch(&mut r, &net, 10)
                    };
                    if clip {
                        let rows = cfg.batch_size;
                        let (x, y) = (&first.0[..rows * n0], &first.1[..rows * nl]);
                        cfg.clip_norm = Some(binding_clip(&net, x, y, rows));
                    }
                    let label = format!(
                        "{}, optimizer {name} (weight decay {weight_decay}), clip {:?}, \
                         {schedule_name}",
                        describe(case, &net, &cfg),
                        cfg.clip_norm
                    );
                    let mut reference = RefTrainer::new(net, optimizer, cfg.clip_norm);
                    if by_epoch {
                        let data = Dataset::new(
                            Matrix::from_vec(n, n0, first.0).unwrap(),
                            Matrix::from_vec(n, nl, first.1).unwrap(),
                        )
                        .unwrap();
                        epochs_side_by_side(&label, &mut reference, &mut mlp, &cfg, &data);
                    } else {
                        steps_side_by_side(&label, &mut r, &mut reference, &mut mlp, &cfg, first);
                    }
                    if clip {
                        assert!(reference.clipped > 0, "{label}: the clip never bound");
                    }
                    clipped += reference.clipped;
                    unclipped += reference.unclipped;
                }
            }
        }
    }
    // both sides of `min(1, max / (norm + 1e-6))` were taken
    assert!(
        clipped > 0 && unclipped > 0,
        "{clipped} clipped and {unclipped} unclipped steps with a clip"
    );
}

/// A network of 41 055 parameters: three chunks of the trainer's parallel
/// reduction, clipping sums and update (16 Ki = 16 384 parameters each), the
/// boundary at 32 768 inside `b1` (32 760..32 890), the last chunk short.
const BIG: [usize; 4] = [252, 130, 60, 5];

fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|p| p.to_bits()).collect()
}

/// Every rule with weight decay, clipping that binds, cosine annealing with 2
/// warm-up epochs, label smoothing and shuffled epochs (several shards per
/// batch, a short last batch): parameters, optimizer state and epoch losses have the same bits
/// with 1, 2, 3 and 8 threads.
#[test]
fn every_optimizer_with_clip_and_schedule_is_the_same_for_any_thread_count() {
    assert_eq!(param_count(&BIG), 41_055);
    let (n, batch, shard_rows, epochs) = (90, 40, 8, 7);
    let head = Head::SoftmaxCe;
    let hidden = [Activation::Relu, Activation::Tanh];
    let mut r = rng(700);
    let x = random_x(&mut r, n, BIG[0]);
    let y = random_y(&mut r, head, n, BIG[3]);
    let data = Dataset::new(
        Matrix::from_vec(n, BIG[0], x.clone()).unwrap(),
        Matrix::from_vec(n, BIG[3], y.clone()).unwrap(),
    )
    .unwrap();
    let start = Mlp::new(&BIG, &hidden, head, 11).unwrap();
    // the clip binds: half the norm of the whole data's mean gradient
    let norm = {
        let cfg = TrainConfig {
            batch_size: n,
            threads: 1,
            ..TrainConfig::default()
        };
        let mut t = Trainer::new(&start, &cfg).unwrap();
        let g = t.gradient(&start, &x, &y, n).unwrap();
        g.iter().map(|&v| f64::from(v).powi(2)).sum::<f64>().sqrt()
    };
    let clip = (0.5 * norm) as f32;
    for (name, optimizer, lr) in common::optimizers(0.01) {
        let run = |threads: usize| -> (Vec<u32>, Vec<Vec<u32>>, Vec<u64>) {
            let mut mlp = start.clone();
            let cfg = TrainConfig {
                batch_size: batch,
                lr,
                optimizer,
                clip_norm: Some(clip),
                schedule: LrSchedule::Cosine {
                    min_lr: lr / 10.0,
                    epochs,
                },
                warmup_epochs: 2,
                epochs,
                shard_rows,
                threads,
                seed: 5,
                shuffle: true,
                dropout: 0.0,
                label_smoothing: 0.1,
                decay_by_weight: false,
            };
            let mut trainer = Trainer::new(&mlp, &cfg).expect("Trainer::new");
            // fork every step: the parallel paths are what is compared
            trainer.set_min_task_flops(0);
            let losses = (0..epochs)
                .map(|_| {
                    trainer
                        .epoch(&mut mlp, &data)
                        .expect("epoch")
                        .loss
                        .to_bits()
                })
                .collect();
            let state = trainer
                .optimizer()
                .buffers()
                .iter()
                .map(|b| bits(b))
                .collect();
            (bits(mlp.params()), state, losses)
        };
        let (params, state, losses) = run(1);
        assert_ne!(bits(start.params()), params, "{name}: nothing was trained");
        for threads in [2, 3, 8] {
            let (p, s, l) = run(threads);
            assert_eq!(
                l, losses,
                "{name}: epoch losses differ between 1 and {threads} threads"
            );
            if let Some(i) = (0..p.len()).find(|&i| p[i] != params[i]) {
                panic!(
                    "{name}: {} (flat #{i}, chunk {}) is {:e} with {threads} threads, {:e} with 1",
                    param_name(&BIG, i),
                    i / (16 * 1024),
                    f32::from_bits(p[i]),
                    f32::from_bits(params[i]),
                );
            }
            assert!(
                s == state,
                "{name}: the optimizer state differs between 1 and {threads} threads"
            );
        }
    }
}

/// The [`BIG`] network (three reduction chunks, a chunk boundary inside a
/// bias) with every rule, weight decay and a binding clip: 20 steps of
/// `Trainer::step` within 1e-4 of the reference, so the chunked clipping sums and the per-chunk walk
/// over weight and bias segments are the mathematics of one vector.
#[test]
fn every_optimizer_on_several_chunks_matches_reference() {
    let head = Head::SoftmaxCe;
    let hidden = [Activation::Tanh, Activation::Sigmoid];
    let (m, shard_rows, threads) = (13, 4, 3);
    for (k, (name, optimizer, lr)) in common::optimizers(DECAY).into_iter().enumerate() {
        let mut r = rng(800 + k as u64);
        let params = random_params(&mut r, &BIG);
        let net = RefNet::from_params(&BIG, &hidden, head, &params);
        let mut mlp = Mlp::from_params(&BIG, &hidden, head, params).unwrap();
        let first = next_batch(&mut r, &net, m);
        let cfg = TrainConfig {
            lr,
            optimizer,
            clip_norm: Some(binding_clip(&net, &first.0, &first.1, m)),
            ..config(m, shard_rows, threads)
        };
        let label = format!(
            "{name} (weight decay {DECAY}), clip {:?}, sizes {BIG:?}",
            cfg.clip_norm
        );
        let mut reference = RefTrainer::new(net, optimizer, cfg.clip_norm);
        steps_side_by_side(&label, &mut r, &mut reference, &mut mlp, &cfg, first);
        assert!(reference.clipped > 0, "{label}: the clip never bound");
    }
}

/// Weighted steps with dropout beside the reference stepping on the same
/// weighted loss under the same masks (those of the trainer's step count).
#[test]
fn weights_and_dropout_match_reference_over_20_steps() {
    const P: f32 = 0.25;
    let rules: Vec<_> = common::optimizers(0.0)
        .into_iter()
        .filter(|(name, ..)| *name == "sgd_momentum" || *name == "adam")
        .collect();
    assert_eq!(
        rules.len(),
        2,
        "{:?}",
        rules.iter().map(|r| r.0).collect::<Vec<_>>()
    );
    let mut case = 9000u64;
    for head in Head::ALL {
        for act in Activation::ALL {
            for (name, optimizer, lr) in &rules {
                case += 1;
                let mut r = rng(case);
                let (net, mut mlp) = random_pair(&mut r, head, act, 2..=9);
                let m = 11;
                let cfg = TrainConfig {
                    lr: rate_for(head, *lr),
                    optimizer: *optimizer,
                    dropout: P,
                    seed: case,
                    ..config(m, 3, if case % 2 == 0 { 1 } else { 3 })
                };
                let label = format!("case {case}: {name}, {}", describe(case, &net, &cfg));
                let mut reference = RefTrainer::new(net, *optimizer, None);
                let mut trainer = Trainer::new(&mlp, &cfg).unwrap();
                for step in 0..STEPS {
                    let (x, y) = next_batch(&mut r, &reference.net, m);
                    let mut w = common::uniform(&mut r, m, 0.0, 2.0);
                    w[step % m] = 0.0;
                    let extras = Extras {
                        w: Some(to_f64(&w)),
                        masks: Some(Extras::dropout_masks(
                            &reference.net.sizes,
                            P,
                            case,
                            trainer.optimizer().step_count(),
                            m,
                        )),
                    };
                    let want = reference.step_with(
                        &to_f64(&x),
                        &to_f64(&y),
                        m,
                        f64::from(cfg.lr),
                        &extras,
                    );
                    let loss = trainer
                        .step_weighted(&mut mlp, &x, &y, &w, m)
                        .unwrap_or_else(|e| panic!("{label}: step {step}: {e}"));
                    assert!(
                        close(loss, want, 1e-4, 1e-6),
                        "{label}: step {step}: engine loss {loss:e}, reference {want:e}"
                    );
                }
                assert_trained_alike(&label, &reference, &mlp);
            }
        }
    }
}

/// Shuffled epochs of a weighted dataset with dropout, Adam and a binding
/// clip on [`BIG`]: the same bits for 1, 2, 3 and 8 threads.
#[test]
fn weights_and_dropout_are_the_same_for_any_thread_count() {
    let (n, batch, shard_rows, epochs) = (90, 40, 8, 4);
    let head = Head::SoftmaxCe;
    let hidden = [Activation::Relu, Activation::Tanh];
    let mut r = rng(707);
    let x = random_x(&mut r, n, BIG[0]);
    let y = random_y(&mut r, head, n, BIG[3]);
    let mut w = common::uniform(&mut r, n, 0.0, 3.0);
    w[5] = 0.0;
    let data = Dataset::new(
        Matrix::from_vec(n, BIG[0], x).unwrap(),
        Matrix::from_vec(n, BIG[3], y).unwrap(),
    )
    .unwrap()
    .with_weights(w)
    .unwrap();
    let start = Mlp::new(&BIG, &hidden, head, 12).unwrap();
    let (_, adam, lr) = common::optimizers(0.01)
        .into_iter()
        .find(|(name, ..)| *name == "adam")
        .unwrap();
    let run = |threads: usize| -> (Vec<u32>, Vec<u64>) {
        let mut mlp = start.clone();
        let cfg = TrainConfig {
            batch_size: batch,
            lr,
            optimizer: adam,
            clip_norm: Some(0.05),
            epochs,
            shard_rows,
            threads,
            seed: 6,
            dropout: 0.4,
            ..TrainConfig::default()
        };
        let mut trainer = Trainer::new(&mlp, &cfg).unwrap();
        // fork every step: the parallel paths are what is compared
        trainer.set_min_task_flops(0);
        let losses = (0..epochs)
            .map(|_| trainer.epoch(&mut mlp, &data).unwrap().loss.to_bits())
            .collect();
        (bits(mlp.params()), losses)
    };
    let one = run(1);
    assert_ne!(bits(start.params()), one.0, "nothing was trained");
    for threads in [2, 3, 8] {
        assert!(run(threads) == one, "{threads} threads differ from 1");
    }
}

/// More threads than shards: each shard's GEMMs and element-wise kernels are
/// cut into blocks (`backprop::shard`), which changes no bit. On [`BIG`]
/// (130 and 60 units: several blocks of units in the weight gradients) with
/// one shard per batch and with several shard sizes, for every optimizer
/// (with a binding clip) and with dropout on weighted rows: the parameters,
/// the optimizer state and every epoch's loss are the same for 1, 2, 3, 8
/// and 16 threads.
#[test]
fn blocks_inside_shards_do_not_change_a_bit() {
    let (n, batch, epochs): (usize, usize, usize) = (150, 70, 2);
    let head = Head::SoftmaxCe;
    // the second pair keeps its pre-activations for the derivative
    for hidden in [
        [Activation::Relu, Activation::Sigmoid],
        [Activation::Gelu, Activation::Mish],
    ] {
        blocks_inside_shards_case(n, batch, epochs, head, hidden);
    }
}

fn blocks_inside_shards_case(
    n: usize,
    batch: usize,
    epochs: usize,
    head: Head,
    hidden: [Activation; 2],
) {
    use backprop::shard::{block_rows, parts_per_shard};
    let mut r = rng(4242);
    let x = random_x(&mut r, n, BIG[0]);
    let y = random_y(&mut r, head, n, BIG[3]);
    let w = common::uniform(&mut r, n, 0.0, 2.0);
    let plain = Dataset::new(
        Matrix::from_vec(n, BIG[0], x).unwrap(),
        Matrix::from_vec(n, BIG[3], y).unwrap(),
    )
    .unwrap();
    let weighted = plain.clone().with_weights(w).unwrap();
    let start = Mlp::new(&BIG, &hidden, head, 3).unwrap();
    // one shard of 70 rows (up to 5 blocks of 16), two of 35, five of 14
    for shard_rows in [batch, 35, 14] {
        let shards = batch.div_ceil(shard_rows);
        assert!(
            block_rows(shard_rows, parts_per_shard(16, shards)) < shard_rows || shard_rows < 32,
            "shards of {shard_rows} rows are not cut at 16 threads"
        );
        for (name, optimizer, lr) in common::optimizers(0.01) {
            for (data, dropout) in [(&plain, 0.0), (&weighted, 0.3)] {
                let run = |threads: usize| -> (Vec<u32>, Vec<Vec<u32>>, Vec<u64>) {
                    let mut mlp = start.clone();
                    let cfg = TrainConfig {
                        batch_size: batch,
                        lr,
                        optimizer,
                        clip_norm: Some(0.5),
                        epochs,
                        shard_rows,
                        threads,
                        seed: 8,
                        dropout,
                        ..TrainConfig::default()
                    };
                    let mut trainer = Trainer::new(&mlp, &cfg).unwrap();
                    // fork every step: the parallel paths are what is compared
                    trainer.set_min_task_flops(0);
                    let losses = (0..epochs)
                        .map(|_| trainer.epoch(&mut mlp, data).unwrap().loss.to_bits())
                        .collect();
                    let state = trainer
                        .optimizer()
                        .buffers()
                        .iter()
                        .map(|b| bits(b))
                        .collect();
                    (bits(mlp.params()), state, losses)
                };
                let one = run(1);
                for threads in [2, 3, 8, 16] {
                    let other = run(threads);
                    if other != one {
                        let i = (0..one.0.len()).find(|&i| one.0[i] != other.0[i]);
                        panic!(
                            "{hidden:?} {name}, shards of {shard_rows}, dropout {dropout}: {threads} threads \
                             differ from 1 (first parameter {:?}: {})",
                            i,
                            i.map_or(String::new(), |i| param_name(&BIG, i)),
                        );
                    }
                }
            }
        }
    }
}
