//! The epoch loop: seeded shuffling, the last partial batch, thread-count
//! independence, divergence handling and the errors of bad calls.

use backprop::{Activation, Dataset, Error, Head, Matrix, Mlp, TrainConfig, Trainer};

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
    let (x, y) = (data.x().as_slice(), data.y().as_slice());
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
    let (x, y) = (data.x().as_slice(), data.y().as_slice());
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
