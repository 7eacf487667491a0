//! The epoch loop: seeded shuffling, the last partial batch, thread-count
//! independence, divergence handling, interrupted and resumed epochs, and the
//! errors of bad calls.

use std::sync::atomic::{AtomicBool, Ordering};

use backprop::model_io::{self, Checkpoint, CheckpointConfig, SavedModel};
use backprop::train::{EpochOutcome, EpochProgress, TrainerState};
use backprop::{Activation, Dataset, Error, Head, Matrix, Mlp, TrainConfig, Trainer};

mod common;
use common::{random_x, random_y, rng};

fn dataset(rows: usize, n_in: usize) -> Dataset {
    let x: Vec<f32> = (0..rows * n_in)
        .map(|i| ((i * 7919 % 1000) as f32 / 250.0) - 2.0)
        .collect();
    let labels = (0..rows).map(|r| (r * 31 % 3) % 3).collect();
    Dataset::classification(
        Matrix::from_vec(rows, n_in, x).unwrap(),
        labels,
        3,
        Head::SoftmaxCe,
    )
    .unwrap()
}

fn net(seed: u64) -> Mlp {
    Mlp::new(
        &[5, 12, 9, 3],
        &[Activation::Tanh, Activation::Relu],
        Head::SoftmaxCe,
        seed,
    )
    .unwrap()
}

#[test]
fn epochs_are_bitwise_identical_for_any_thread_count() {
    let data = dataset(203, 5); // 203 = 6 batches of 32 + one of 11
    let mut reference: Option<(Vec<f32>, Vec<u64>)> = None;
    for threads in [1, 2, 3, 8] {
        let mut mlp = net(9);
        let cfg = TrainConfig {
            batch_size: 32,
            shard_rows: 5,
            lr: 0.1,
            threads,
            seed: 77,
            ..TrainConfig::default()
        };
        let mut trainer = Trainer::new(&mlp, &cfg).unwrap();
        // fork every step: the parallel paths are what is compared
        trainer.set_min_task_flops(0);
        let losses: Vec<u64> = (0..4)
            .map(|_| trainer.epoch(&mut mlp, &data).unwrap().loss.to_bits())
            .collect();
        let params = mlp.params().to_vec();
        match &reference {
            None => reference = Some((params, losses)),
            Some((p, l)) => {
                assert!(
                    p.iter()
                        .zip(&params)
                        .all(|(a, b)| a.to_bits() == b.to_bits()),
                    "{threads} threads: parameters differ from 1 thread"
                );
                assert_eq!(l, &losses, "{threads} threads: epoch losses differ");
            }
        }
    }
}

#[test]
fn seed_controls_shuffling() {
    let data = dataset(100, 5);
    let run = |seed| {
        let mut mlp = net(1);
        let cfg = TrainConfig {
            batch_size: 10,
            seed,
            threads: 1,
            ..TrainConfig::default()
        };
        let mut t = Trainer::new(&mlp, &cfg).unwrap();
        t.epoch(&mut mlp, &data).unwrap();
        mlp.params().to_vec()
    };
    assert_eq!(run(3), run(3));
    assert_ne!(run(3), run(4));
}

#[test]
fn unshuffled_epoch_equals_steps_over_consecutive_batches_including_the_partial_one() {
    let data = dataset(45, 5); // batches of 16, 16 and 13
    let cfg = TrainConfig {
        batch_size: 16,
        shard_rows: 6,
        lr: 0.2,
        threads: 2,
        shuffle: false,
        ..TrainConfig::default()
    };
    let mut by_epoch = net(4);
    let mut t = Trainer::new(&by_epoch, &cfg).unwrap();
    let stats = t.epoch(&mut by_epoch, &data).unwrap();
    assert_eq!((stats.samples, stats.steps), (45, 3));

    let mut by_steps = net(4);
    let mut t = Trainer::new(&by_steps, &cfg).unwrap();
    let y = data.y();
    let (x, y) = (data.x().as_slice(), y.as_slice());
    let mut loss_sum = 0.0;
    for (r0, r1) in [(0, 16), (16, 32), (32, 45)] {
        let rows = r1 - r0;
        let mean = t
            .step(&mut by_steps, &x[r0 * 5..r1 * 5], &y[r0 * 3..r1 * 3], rows)
            .unwrap();
        loss_sum += mean * rows as f64;
    }
    assert_eq!(by_epoch.params(), by_steps.params());
    assert!((stats.loss - loss_sum / 45.0).abs() <= 1e-12 * loss_sum.abs());
}

#[test]
fn the_partial_batch_is_averaged_over_its_own_rows() {
    // One step on 3 rows must equal the mean gradient of those 3 rows, not of a
    // full batch: compare with a trainer whose batch size is exactly 3.
    let data = dataset(3, 5);
    let y = data.y();
    let (x, y) = (data.x().as_slice(), y.as_slice());
    let mut a = net(2);
    let mut b = net(2);
    let big = TrainConfig {
        batch_size: 64,
        lr: 0.3,
        threads: 1,
        ..TrainConfig::default()
    };
    let exact = TrainConfig {
        batch_size: 3,
        ..big.clone()
    };
    Trainer::new(&a, &big)
        .unwrap()
        .step(&mut a, x, y, 3)
        .unwrap();
    Trainer::new(&b, &exact)
        .unwrap()
        .step(&mut b, x, y, 3)
        .unwrap();
    assert_eq!(a.params(), b.params());
}

#[test]
fn a_non_finite_loss_stops_without_touching_the_weights() {
    let mut mlp = Mlp::new(&[2, 3, 1], &[Activation::Sigmoid], Head::Mse, 0).unwrap();
    let before = mlp.params().to_vec();
    let mut t = Trainer::new(
        &mlp,
        &TrainConfig {
            batch_size: 2,
            threads: 1,
            ..TrainConfig::default()
        },
    )
    .unwrap();
    let err = t
        .step(&mut mlp, &[0.0, 1.0, f32::NAN, 0.0], &[1.0, 0.0], 2)
        .unwrap_err();
    assert!(matches!(err, Error::Diverged(_)), "{err}");
    assert_eq!(mlp.params(), before.as_slice());
}

#[test]
fn bad_calls_are_errors_not_panics() {
    let mut mlp = net(0);
    let cfg = TrainConfig {
        batch_size: 4,
        ..TrainConfig::default()
    };
    for bad in [
        TrainConfig {
            batch_size: 0,
            ..cfg.clone()
        },
        TrainConfig {
            lr: f32::NAN,
            ..cfg.clone()
        },
        TrainConfig {
            lr: -1.0,
            ..cfg.clone()
        },
    ] {
        assert!(
            matches!(Trainer::new(&mlp, &bad), Err(Error::Config { .. })),
            "{bad:?}"
        );
    }
    let mut t = Trainer::new(&mlp, &cfg).unwrap();
    let x = vec![0.0; 5 * 5];
    let y = vec![0.0; 5 * 3];
    // more rows than the batch size
    assert!(matches!(
        t.step(&mut mlp, &x, &y, 5),
        Err(Error::Config { .. })
    ));
    // zero rows
    assert!(matches!(
        t.step(&mut mlp, &[], &[], 0),
        Err(Error::Config { .. })
    ));
    // slices that do not match the row count
    assert!(matches!(
        t.step(&mut mlp, &x[..9], &y[..6], 2),
        Err(Error::Shape { .. })
    ));
    // a network of another shape
    let mut other = Mlp::new(&[5, 4, 3], &[Activation::Tanh], Head::SoftmaxCe, 0).unwrap();
    assert!(matches!(
        t.step(&mut other, &x[..10], &y[..6], 2),
        Err(Error::Shape { .. })
    ));
    // a dataset of another width
    let wrong = dataset(10, 4);
    assert!(matches!(
        t.epoch(&mut mlp, &wrong),
        Err(Error::Shape { .. })
    ));
    // predict / loss with wrong lengths
    assert!(matches!(mlp.predict(&x[..7], 2), Err(Error::Shape { .. })));
    assert!(matches!(
        mlp.loss(&x[..10], &y[..5], 2),
        Err(Error::Shape { .. })
    ));
    assert!(matches!(mlp.loss(&[], &[], 0), Err(Error::Config { .. })));
    // network construction
    assert!(Mlp::new(&[3], &[], Head::Mse, 0).is_err());
    assert!(Mlp::new(&[3, 0, 1], &[Activation::Relu], Head::Mse, 0).is_err());
    assert!(Mlp::new(&[3, 4, 1], &[], Head::Mse, 0).is_err());
    assert!(Mlp::from_params(&[3, 1], &[], Head::Mse, vec![0.0; 3]).is_err());
}

#[test]
fn initialisation_is_seeded_and_scaled() {
    assert_eq!(net(5), net(5));
    assert_ne!(net(5).params(), net(6).params());
    let mlp = Mlp::new(&[100, 50, 10], &[Activation::Relu], Head::SoftmaxCe, 1).unwrap();
    let he = (6.0f32 / 100.0).sqrt();
    let glorot = (6.0f32 / 60.0).sqrt();
    assert!(mlp.weights(0).iter().all(|w| w.abs() <= he));
    assert!(mlp.weights(0).iter().any(|w| w.abs() > 0.9 * he));
    assert!(mlp.weights(1).iter().all(|w| w.abs() <= glorot));
    assert!(mlp.bias(0).iter().chain(mlp.bias(1)).all(|&b| b == 0.0));
}

fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|x| x.to_bits()).collect()
}

/// The configuration of the interrupt tests: 203 rows make 7 batches of 32
/// (the last of 11), each cut into 7 shards of 5 rows.
fn interrupt_config(threads: usize) -> TrainConfig {
    TrainConfig {
        batch_size: 32,
        shard_rows: 5,
        lr: 0.1,
        epochs: 3,
        threads,
        seed: 77,
        shuffle: true,
        ..TrainConfig::default()
    }
}

/// Runs one epoch with a stop flag that `on_batch` sets after batch
/// `stop_after` (1-based within this call; 0: never).
fn run_epoch(
    trainer: &mut Trainer,
    mlp: &mut Mlp,
    data: &Dataset,
    start: Option<&EpochProgress>,
    stop_after: usize,
) -> EpochOutcome {
    let stop = AtomicBool::new(false);
    let mut seen = 0;
    trainer
        .epoch_resumable(mlp, data, start, &stop, |_, _| {
            seen += 1;
            if seen == stop_after {
                stop.store(true, Ordering::Relaxed);
            }
        })
        .unwrap()
}

#[test]
fn an_interrupted_epoch_resumed_from_a_checkpoint_is_bitwise_identical() {
    let data = dataset(203, 5);
    let batches = 7;
    // Three epochs straight (the reference, the same for any thread count).
    let mut straight = net(9);
    let mut trainer = Trainer::new(&straight, &interrupt_config(1)).unwrap();
    let losses: Vec<u64> = (0..3)
        .map(|_| trainer.epoch(&mut straight, &data).unwrap().loss.to_bits())
        .collect();

    for (threads_before, threads_after) in [(1, 1), (2, 2), (1, 2), (2, 1)] {
        for k in [1, batches - 1] {
            let case =
                format!("threads {threads_before} then {threads_after}, stop after batch {k}");
            let cfg = interrupt_config(threads_before);
            // The first process: epoch 1, then epoch 2 interrupted after batch k.
            let bytes = {
                let mut mlp = net(9);
                let mut trainer = Trainer::new(&mlp, &cfg).unwrap();
                let first = trainer.epoch(&mut mlp, &data).unwrap();
                assert_eq!(first.loss.to_bits(), losses[0], "{case}");
                let epoch_start = trainer.rng_state();
                let progress = match run_epoch(&mut trainer, &mut mlp, &data, None, k) {
                    EpochOutcome::Interrupted(p) => p,
                    other => panic!("{case}: {other:?}"),
                };
                assert_eq!(progress.batches_done, k, "{case}");
                assert_eq!(progress.rng_at_epoch_start, epoch_start, "{case}");
                assert_eq!(
                    trainer.rng_state(),
                    epoch_start,
                    "{case}: the RNG is rewound"
                );
                let ckpt = Checkpoint {
                    model: SavedModel {
                        mlp,
                        meta: Default::default(),
                    },
                    config: CheckpointConfig::from_train_config(&cfg),
                    state: TrainerState {
                        epochs_done: 1,
                        rng: trainer.rng_state(),
                        optimizer_step: 0,
                        optimizer_buffers: Vec::new(),
                        plateau: Default::default(),
                    },
                    early_stop: None,
                    in_epoch: Some(progress),
                };
                model_io::checkpoint_to_bytes(&ckpt).unwrap()
            };
            // The resumed process: everything from the checkpoint's bytes.
            let ck = model_io::checkpoint_from_bytes(&bytes, "ck").unwrap();
            assert_eq!(ck.in_epoch.map(|p| p.batches_done), Some(k), "{case}");
            let mut mlp = ck.model.mlp.clone();
            let mut trainer = Trainer::new(&mlp, &ck.config.train_config(threads_after)).unwrap();
            trainer.resume(&ck.state).unwrap();
            let mut resumed_losses = vec![losses[0]];
            let second = match run_epoch(&mut trainer, &mut mlp, &data, ck.in_epoch.as_ref(), 0) {
                EpochOutcome::Completed(s) => s,
                other => panic!("{case}: {other:?}"),
            };
            assert_eq!(
                (second.steps, second.samples),
                (batches - k, 203 - 32 * k),
                "{case}: only the rest of the epoch is trained"
            );
            resumed_losses.push(second.loss.to_bits());
            for _ in ck.state.epochs_done + 1..3 {
                resumed_losses.push(trainer.epoch(&mut mlp, &data).unwrap().loss.to_bits());
            }
            assert_eq!(resumed_losses, losses, "{case}: epoch losses");
            assert_eq!(
                bits(mlp.params()),
                bits(straight.params()),
                "{case}: parameters"
            );
        }
    }
}

#[test]
fn resuming_needs_every_part_of_the_progress() {
    // The equality above is no accident: a progress that is off in any part
    // gives other bits.
    let data = dataset(203, 5);
    let cfg = interrupt_config(1);
    let mut straight = net(9);
    let mut trainer = Trainer::new(&straight, &cfg).unwrap();
    let full = trainer.epoch(&mut straight, &data).unwrap();

    let mut mlp = net(9);
    let mut trainer = Trainer::new(&mlp, &cfg).unwrap();
    let EpochOutcome::Interrupted(progress) = run_epoch(&mut trainer, &mut mlp, &data, None, 3)
    else {
        panic!("not interrupted")
    };
    let finish = |p: EpochProgress| {
        let mut m = mlp.clone();
        let mut t = Trainer::new(&m, &cfg).unwrap();
        match run_epoch(&mut t, &mut m, &data, Some(&p), 0) {
            EpochOutcome::Completed(s) => (bits(m.params()), s.loss.to_bits()),
            other => panic!("{other:?}"),
        }
    };
    let exact = (bits(straight.params()), full.loss.to_bits());
    assert_eq!(finish(progress), exact);
    let mut other_rng = progress;
    other_rng.rng_at_epoch_start.word_pos += 16;
    for (what, p) in [
        (
            "one batch fewer",
            EpochProgress {
                batches_done: 2,
                ..progress
            },
        ),
        (
            "another loss sum",
            EpochProgress {
                loss_sum: progress.loss_sum * 0.5,
                ..progress
            },
        ),
        ("another shuffle", other_rng),
    ] {
        let got = finish(p);
        assert_ne!(got, exact, "{what}");
        if what == "another loss sum" {
            assert_eq!(got.0, exact.0, "the loss sum changes the loss only");
        }
    }
}

#[test]
fn stop_requests_and_repeated_interrupts() {
    let data = dataset(203, 5);
    let cfg = interrupt_config(2);
    let mut straight = net(3);
    let mut trainer = Trainer::new(&straight, &cfg).unwrap();
    trainer.epoch(&mut straight, &data).unwrap();
    let mut reference = Vec::new();
    let full = trainer
        .epoch_with(&mut straight, &data, |rows, loss| {
            reference.push((rows, loss.to_bits()))
        })
        .unwrap();

    // A flag set after the last batch: the epoch is complete.
    let mut mlp = net(3);
    let mut trainer = Trainer::new(&mlp, &cfg).unwrap();
    let first = match run_epoch(&mut trainer, &mut mlp, &data, None, 7) {
        EpochOutcome::Completed(s) => s,
        other => panic!("{other:?}"),
    };
    assert_eq!((first.steps, first.samples), (7, 203));

    // A flag that is already set stops after the first batch; interrupting
    // after every batch, in one process, still gives the same epoch, and the
    // progress callback sees the same rows and losses.
    let stop = AtomicBool::new(true);
    let mut start: Option<EpochProgress> = None;
    let mut seen = Vec::new();
    let stats = loop {
        let outcome = trainer
            .epoch_resumable(&mut mlp, &data, start.as_ref(), &stop, |rows, loss| {
                seen.push((rows, loss.to_bits()))
            })
            .unwrap();
        match outcome {
            EpochOutcome::Interrupted(p) => {
                assert_eq!(p.batches_done, start.map_or(0, |s| s.batches_done) + 1);
                start = Some(p);
            }
            EpochOutcome::Completed(s) => break s,
        }
    };
    assert_eq!(start.map(|p| p.batches_done), Some(6));
    assert_eq!((stats.steps, stats.samples), (1, 11));
    assert_eq!(stats.loss.to_bits(), full.loss.to_bits());
    assert_eq!(bits(mlp.params()), bits(straight.params()));
    assert_eq!(seen, reference);

    // After an interrupt the trainer stands at the epoch's start, so a plain
    // epoch redoes that epoch's shuffle.
    let mut a = net(3);
    let mut ta = Trainer::new(&a, &cfg).unwrap();
    let _ = run_epoch(&mut ta, &mut a, &data, None, 2);
    let mut b = net(3);
    let mut tb = Trainer::new(&b, &cfg).unwrap();
    tb.epoch(&mut b, &data).unwrap();
    assert_eq!(ta.rng_state(), Trainer::new(&b, &cfg).unwrap().rng_state());
    assert_ne!(ta.rng_state(), tb.rng_state());
}

#[test]
fn a_progress_that_does_not_fit_the_data_is_an_error() {
    let data = dataset(203, 5);
    let cfg = interrupt_config(1);
    let mut mlp = net(1);
    let mut trainer = Trainer::new(&mlp, &cfg).unwrap();
    let EpochOutcome::Interrupted(p) = run_epoch(&mut trainer, &mut mlp, &data, None, 6) else {
        panic!("not interrupted")
    };
    let before = mlp.params().to_vec();
    let small = dataset(150, 5); // 5 batches
    let stop = AtomicBool::new(false);
    let err = trainer
        .epoch_resumable(&mut mlp, &small, Some(&p), &stop, |_, _| {})
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid option resume: the epoch to continue stopped after batch 6, \
         but 150 rows make 5 batches of 32: not the data it was trained on"
    );
    let nan = EpochProgress {
        loss_sum: f64::NAN,
        ..p
    };
    let err = trainer
        .epoch_resumable(&mut mlp, &data, Some(&nan), &stop, |_, _| {})
        .unwrap_err();
    assert!(matches!(err, Error::Config { .. }), "{err}");
    assert_eq!(mlp.params(), before.as_slice(), "nothing was trained");
}

/// The running accuracy of an epoch counts each batch's predictions before
/// its update: with one batch and no shuffling, it is the accuracy of the
/// initial weights on the training set.
#[test]
fn the_running_accuracy_is_that_of_the_weights_before_each_update() {
    use backprop::data::accuracy;
    let (rows, sizes) = (90, [5, 12, 4]);
    let x: Vec<f32> = (0..rows * sizes[0])
        .map(|i| ((i * 29 % 97) as f32 / 48.0) - 1.0)
        .collect();
    let labels: Vec<usize> = (0..rows).map(|r| (r * 7 + r / 5) % 4).collect();
    let data = Dataset::classification(
        Matrix::from_vec(rows, sizes[0], x.clone()).unwrap(),
        labels.clone(),
        4,
        Head::SoftmaxCe,
    )
    .unwrap();
    let mut mlp = Mlp::new(&sizes, &[Activation::Tanh], Head::SoftmaxCe, 9).unwrap();
    let before = accuracy(&mlp.predict(&x, rows).unwrap(), &labels);
    let cfg = TrainConfig {
        batch_size: rows,
        lr: 0.5,
        shuffle: false,
        ..TrainConfig::default()
    };
    let mut trainer = Trainer::new(&mlp, &cfg).unwrap();
    let stats = trainer.epoch(&mut mlp, &data).unwrap();
    assert_eq!(stats.accuracy(rows), Some(before));
    // the next epoch sees the updated weights
    let after = accuracy(&mlp.predict(&x, rows).unwrap(), &labels);
    let stats = trainer.epoch(&mut mlp, &data).unwrap();
    assert_eq!(stats.accuracy(rows), Some(after));
    // a regression head counts nothing
    let reg = Dataset::new(
        Matrix::from_vec(rows, sizes[0], x).unwrap(),
        Matrix::from_vec(rows, 1, vec![0.5; rows]).unwrap(),
    )
    .unwrap();
    let mut mse = Mlp::new(&[5, 3, 1], &[Activation::Relu], Head::Mse, 1).unwrap();
    let mut t = Trainer::new(&mse, &cfg).unwrap();
    assert_eq!(t.epoch(&mut mse, &reg).unwrap().correct, None);
}

/// Image bytes with their pixel scaling still to apply (as an IDX file is
/// loaded: one byte a value, widened and divided by 255 row by row in each
/// shard's gather and each inference chunk) train and predict bit for bit
/// as the same values widened and scaled beforehand, at any thread count.
#[test]
fn image_bytes_train_and_predict_as_their_widened_scaled_values() {
    use std::sync::Arc;

    use backprop::data::{scale, ByteValues, Prep};
    use backprop::infer::Inference;

    let (rows, n_in) = (157, 5);
    let pixels: Vec<u8> = (0..rows * n_in).map(|i| (i * 7919 % 256) as u8).collect();
    let labels: Vec<usize> = (0..rows)
        .map(|r| usize::from(pixels[r * n_in]) % 3)
        .collect();
    let bytes =
        Matrix::from_bytes(rows, n_in, Arc::new(ByteValues::Owned(pixels.clone()))).unwrap();
    assert!(bytes.is_bytes());
    let in_bytes = Dataset::classification(bytes, labels.clone(), 3, Head::SoftmaxCe)
        .unwrap()
        .with_prep(Prep {
            scale: Some(255.0),
            standardizer: None,
        })
        .unwrap();
    let mut wide =
        Matrix::from_vec(rows, n_in, pixels.iter().map(|&p| f32::from(p)).collect()).unwrap();
    scale(&mut wide, 255.0);
    let widened = Dataset::classification(wide.clone(), labels, 3, Head::SoftmaxCe).unwrap();
    let mut want: Option<(Vec<u32>, Vec<u64>, Vec<u32>)> = None;
    for (data, threads) in [(&widened, 1), (&in_bytes, 1), (&in_bytes, 3), (&widened, 2)] {
        let mut mlp = net(4);
        let cfg = TrainConfig {
            batch_size: 32,
            shard_rows: 5,
            lr: 0.1,
            threads,
            seed: 5,
            ..TrainConfig::default()
        };
        let mut trainer = Trainer::new(&mlp, &cfg).unwrap();
        let losses: Vec<u64> = (0..3)
            .map(|_| trainer.epoch(&mut mlp, data).unwrap().loss.to_bits())
            .collect();
        let mut out = vec![0.0; rows * 3];
        Inference::new(&mlp, threads, 16)
            .unwrap()
            .predict_into(&mlp, data.prepared(), rows, &mut out)
            .unwrap();
        let got = (bits(mlp.params()), losses, bits(&out));
        match &want {
            None => want = Some(got),
            Some(w) => assert!(
                *w == got,
                "bytes {}, {threads} threads: different bits",
                data.x().is_bytes()
            ),
        }
    }
    // the f32 view of the bytes is their widened values, unscaled
    assert_eq!(
        in_bytes.x().row(3),
        Matrix::from_vec(rows, n_in, pixels.iter().map(|&p| f32::from(p)).collect())
            .unwrap()
            .row(3)
    );
}

/// The trainer forks a step only where its work is worth it
/// (`backprop::work::tasks_for`): a small network's step runs on one
/// thread, a larger one's over a few; whatever the choice, forced or not,
/// the bits are those of one thread.
#[test]
fn the_work_decides_the_parallelism_not_the_bits() {
    use backprop::work::{flops_per_sample, tasks_for, MIN_TASK_FLOPS};
    for (sizes, batch) in [(vec![10, 64, 64, 1], 32), (vec![252, 130, 60, 5], 70)] {
        let head = if sizes[3] == 1 {
            Head::Mse
        } else {
            Head::SoftmaxCe
        };
        let mut r = rng(77);
        let x = random_x(&mut r, 3 * batch, sizes[0]);
        let y = random_y(&mut r, head, 3 * batch, sizes[3]);
        let run = |threads: usize, min: Option<u64>| -> Vec<u32> {
            let mut mlp = Mlp::new(&sizes, &[Activation::Relu; 2], head, 5).unwrap();
            let cfg = TrainConfig {
                batch_size: batch,
                threads,
                shard_rows: batch,
                ..TrainConfig::default()
            };
            let mut t = Trainer::new(&mlp, &cfg).unwrap();
            if let Some(m) = min {
                t.set_min_task_flops(m);
            }
            for b in 0..3 {
                let (xs, ys) = (&x[b * batch * sizes[0]..], &y[b * batch * sizes[3]..]);
                t.step(
                    &mut mlp,
                    &xs[..batch * sizes[0]],
                    &ys[..batch * sizes[3]],
                    batch,
                )
                .unwrap();
            }
            mlp.params().iter().map(|p| p.to_bits()).collect()
        };
        let one = run(1, None);
        for (threads, min) in [(3, None), (3, Some(0)), (3, Some(u64::MAX)), (8, None)] {
            assert_eq!(
                run(threads, min),
                one,
                "{sizes:?}: {threads} threads, {min:?}"
            );
        }
        // the small network is one task, the larger one a few
        let tasks = tasks_for(flops_per_sample(&sizes) * batch as u64, 8, MIN_TASK_FLOPS);
        assert_eq!(tasks > 1, sizes[0] > 10, "{sizes:?}: {tasks} tasks");
    }
}

/// `decay_by_weight`: with integer row weights, 10 steps equal 10 steps on
/// the rows repeated (within float rounding) when both decay by `α / Σw`, as
/// scikit-learn's `alpha` does; unweighted steps, and AdamW's decoupled decay,
/// do not change a bit.
#[test]
fn decay_by_weight_divides_the_decay_by_the_weight_sum() {
    use backprop::optim::{OptimizerConfig, OptimizerKind};
    let (n, n0, alpha) = (12usize, 5usize, 0.5f32);
    let head = Head::SoftmaxCe;
    let mut r = rng(99);
    let x = random_x(&mut r, n, n0);
    let y = random_y(&mut r, head, n, 3);
    let w: Vec<f32> = (0..n).map(|i| (1 + i % 3) as f32).collect();
    let total: usize = w.iter().map(|&v| v as usize).sum();
    let (mut xr, mut yr) = (Vec::new(), Vec::new());
    for (i, &k) in w.iter().enumerate() {
        for _ in 0..k as usize {
            xr.extend_from_slice(&x[i * n0..(i + 1) * n0]);
            yr.extend_from_slice(&y[i * 3..(i + 1) * 3]);
        }
    }
    let start = Mlp::new(&[n0, 7, 3], &[Activation::Tanh], head, 4).unwrap();
    let train = |kind: OptimizerKind, batch: usize, decay: f32, by_weight: bool, weighted: bool| {
        let cfg = TrainConfig {
            batch_size: batch,
            lr: 0.05,
            optimizer: OptimizerConfig {
                kind,
                weight_decay: decay,
                ..OptimizerConfig::default()
            },
            threads: 1,
            decay_by_weight: by_weight,
            ..TrainConfig::default()
        };
        let mut mlp = start.clone();
        let mut t = Trainer::new(&mlp, &cfg).unwrap();
        for _ in 0..10 {
            if weighted {
                t.step_weighted(&mut mlp, &x, &y, &w, n).unwrap();
            } else {
                t.step(&mut mlp, &xr, &yr, total).unwrap();
            }
        }
        mlp.params().to_vec()
    };
    let bits = |v: &[f32]| v.iter().map(|p| p.to_bits()).collect::<Vec<_>>();
    for kind in [
        OptimizerKind::Sgd,
        OptimizerKind::Adam,
        OptimizerKind::RmsProp,
    ] {
        // weighted: α/B · B/Σw; repeated (one batch of Σw rows): α/Σw
        let weighted = train(kind, n, alpha / n as f32, true, true);
        let repeated = train(kind, total, alpha / total as f32, false, false);
        for (i, (a, b)) in weighted.iter().zip(&repeated).enumerate() {
            assert!(
                (a - b).abs() <= 1e-5 * (1.0 + b.abs()),
                "{kind:?} #{i}: {a} vs {b}"
            );
        }
        // without the rule the weighted run decays by α/B: another model
        let plain = train(kind, n, alpha / n as f32, false, true);
        assert!(
            weighted
                .iter()
                .zip(&plain)
                .any(|(a, b)| (a - b).abs() > 1e-4),
            "{kind:?}"
        );
        // unweighted batches: the flag changes nothing
        assert_eq!(
            bits(&train(kind, total, 0.01, true, false)),
            bits(&train(kind, total, 0.01, false, false)),
            "{kind:?}"
        );
    }
    // AdamW's decoupled decay is not scaled
    assert_eq!(
        bits(&train(OptimizerKind::AdamW, n, 0.1, true, true)),
        bits(&train(OptimizerKind::AdamW, n, 0.1, false, true))
    );
}
