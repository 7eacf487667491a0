//! Full-batch L-BFGS (`backprop::lbfgs`, `FitSpec::lbfgs`): the full-data
//! gradient against the f64 reference, the solutions of convex problems,
//! scipy's stopping rules, the same bits on any thread count, and the
//! options it refuses.

use std::sync::atomic::AtomicBool;

use backprop::fit::{self, DataSource, FitCallbacks, FitEnd, FitSpec};
use backprop::lbfgs::{Lbfgs, LbfgsConfig, LbfgsStop};
use backprop::optim::{OptimizerConfig, OptimizerKind};
use backprop::schedule::LrSchedule;
use backprop::stopping::EarlyStopping;
use backprop::{Activation, Dataset, Error, Head, Matrix, Mlp, TrainConfig, Trainer};

mod common;
use common::reference::RefNet;
use common::{random_params, random_sizes, random_x, random_y, repo_data, rng};

fn dataset(x: &[f32], y: &[f32], rows: usize) -> Dataset {
    let (n0, nl) = (x.len() / rows, y.len() / rows);
    Dataset::new(
        Matrix::from_vec(rows, n0, x.to_vec()).unwrap(),
        Matrix::from_vec(rows, nl, y.to_vec()).unwrap(),
    )
    .unwrap()
}

fn trainer(mlp: &Mlp, rows: usize, shard_rows: usize, threads: usize) -> Trainer {
    let cfg = TrainConfig {
        batch_size: rows,
        shard_rows,
        threads,
        ..TrainConfig::default()
    };
    Trainer::new(mlp, &cfg).unwrap()
}

#[test]
fn the_full_data_gradient_is_the_reference_gradient_on_any_thread_count() {
    let mut r = rng(11);
    for (k, head) in Head::ALL.into_iter().enumerate() {
        let out = if head == Head::SoftmaxCe { 3 } else { 2 };
        let sizes = random_sizes(&mut r, 2..=5, 3..=7, 2, out);
        let hidden: Vec<Activation> = (0..sizes.len() - 2)
            .map(|l| Activation::ALL[(k + l) % Activation::ALL.len()])
            .collect();
        let params = random_params(&mut r, &sizes);
        let mlp = Mlp::from_params(&sizes, &hidden, head, params.clone()).unwrap();
        let rows = 53;
        let x = random_x(&mut r, rows, sizes[0]);
        let y = random_y(&mut r, head, rows, out);
        let data = dataset(&x, &y, rows);
        let reference = RefNet::from_params(&sizes, &hidden, head, &params);
        let (xf, yf) = (common::to_f64(&x), common::to_f64(&y));
        let want_loss = reference.loss(&xf, &yf, rows);
        let want = reference.gradient(&xf, &yf, rows);
        let mut seen: Option<(u64, Vec<u32>)> = None;
        for threads in [1, 2, 3] {
            let mut t = trainer(&mlp, rows, 7, threads);
            let (loss, g, weight) = t.full_gradient(&mlp, &data).unwrap();
            assert_eq!(weight, rows as f64);
            assert!(
                common::close(loss, want_loss, 1e-5, 1e-6),
                "{head}: loss {loss} against {want_loss}"
            );
            for (i, (&a, &b)) in g.iter().zip(&want).enumerate() {
                assert!(
                    common::close(f64::from(a), b, 1e-4, 1e-5),
                    "{head} {sizes:?}: gradient {i}: {a} against {b}"
                );
            }
            let bits = (loss.to_bits(), g.iter().map(|v| v.to_bits()).collect());
            match &seen {
                None => seen = Some(bits),
                Some(first) => assert_eq!(first, &bits, "{head}: {threads} threads"),
            }
        }
    }
}

#[test]
fn the_full_data_gradient_is_refused_a_short_batch_dropout_or_other_data() {
    let mut r = rng(12);
    let sizes = [3, 4, 1];
    let mlp = Mlp::from_params(
        &sizes,
        &[Activation::Tanh],
        Head::Mse,
        random_params(&mut r, &sizes),
    )
    .unwrap();
    let data = dataset(&random_x(&mut r, 10, 3), &[0.5; 10], 10);
    let err = trainer(&mlp, 9, 4, 1)
        .full_gradient(&mlp, &data)
        .unwrap_err();
    assert!(
        matches!(&err, Error::Config { option, .. } if *option == "batch_size"),
        "{err}"
    );
    let cfg = TrainConfig {
        batch_size: 10,
        dropout: 0.2,
        ..TrainConfig::default()
    };
    let err = Trainer::new(&mlp, &cfg)
        .unwrap()
        .full_gradient(&mlp, &data)
        .unwrap_err();
    assert!(
        matches!(&err, Error::Config { option, .. } if *option == "dropout"),
        "{err}"
    );
    let wide = dataset(&random_x(&mut r, 10, 4), &[0.5; 10], 10);
    let err = trainer(&mlp, 10, 4, 1)
        .full_gradient(&mlp, &wide)
        .unwrap_err();
    assert!(matches!(err, Error::Shape { .. }), "{err}");
}

/// Solves `a·v = b` (`n × n`, row-major) by Gaussian elimination with
/// partial pivoting, in f64.
fn solve(mut a: Vec<f64>, mut b: Vec<f64>) -> Vec<f64> {
    let n = b.len();
    for c in 0..n {
        let p = (c..n)
            .max_by(|&i, &j| a[i * n + c].abs().total_cmp(&a[j * n + c].abs()))
            .unwrap();
        for k in 0..n {
            a.swap(c * n + k, p * n + k);
        }
        b.swap(c, p);
        for i in c + 1..n {
            let f = a[i * n + c] / a[c * n + c];
            for k in c..n {
                a[i * n + k] -= f * a[c * n + k];
            }
            b[i] -= f * b[c];
        }
    }
    let mut v = vec![0.0; n];
    for i in (0..n).rev() {
        let s: f64 = (i + 1..n).map(|k| a[i * n + k] * v[k]).sum();
        v[i] = (b[i] - s) / a[i * n + i];
    }
    v
}

/// A linear model `[3, 1]` (no hidden layer) with the mse head: L-BFGS must
/// reach the ridge solution `(XᵀX/n + λ·I_w) θ = Xᵀy/n` (no penalty on the
/// bias), which the normal equations give in f64.
#[test]
fn a_linear_model_reaches_the_least_squares_and_ridge_solutions() {
    let mut r = rng(13);
    let rows = 200;
    let x = random_x(&mut r, rows, 3);
    let noise = common::uniform(&mut r, rows, -0.1, 0.1);
    let y: Vec<f32> = (0..rows)
        .map(|i| x[3 * i] - 2.0 * x[3 * i + 1] + 0.5 * x[3 * i + 2] + 0.3 + noise[i])
        .collect();
    let data = dataset(&x, &y, rows);
    for decay in [0.0, 0.1] {
        // normal equations over [x, 1]
        let mut a = vec![0.0; 16];
        let mut b = vec![0.0; 4];
        for i in 0..rows {
            let row = [
                f64::from(x[3 * i]),
                f64::from(x[3 * i + 1]),
                f64::from(x[3 * i + 2]),
                1.0,
            ];
            for j in 0..4 {
                for k in 0..4 {
                    a[j * 4 + k] += row[j] * row[k] / rows as f64;
                }
                b[j] += row[j] * f64::from(y[i]) / rows as f64;
            }
        }
        for j in 0..3 {
            a[j * 4 + j] += decay;
        }
        let want = solve(a, b);
        let mut mlp = Mlp::from_params(&[3, 1], &[], Head::Mse, vec![0.0; 4]).unwrap();
        let mut t = trainer(&mlp, rows, 64, 2);
        let cfg = LbfgsConfig {
            gtol: 1e-6,
            ftol: 0.0,
            ..LbfgsConfig::default()
        };
        let mut solver = Lbfgs::new(cfg).unwrap();
        let mut stop = None;
        for _ in 0..100 {
            let it = solver.iterate(&mut t, &mut mlp, &data, decay).unwrap();
            if it.stop.is_some() {
                stop = it.stop;
                break;
            }
        }
        assert!(stop.is_some(), "λ {decay}: no stop in 100 iterations");
        // the engine's layout: the weights, then the bias
        for (j, (&got, &w)) in mlp.params().iter().zip(&want).enumerate() {
            assert!(
                (f64::from(got) - w).abs() < 1e-4,
                "λ {decay}: parameter {j}: {got} against {w} ({stop:?})"
            );
        }
    }
}

fn iris(epochs: usize, threads: usize, lbfgs: LbfgsConfig) -> FitSpec {
    FitSpec {
        data: DataSource::File(repo_data("iris.train.csv")),
        test_data: Some(repo_data("iris.test.csv")),
        hidden_layers: Some(vec![16]),
        epochs,
        threads,
        lbfgs: Some(lbfgs),
        optimizer: Some(OptimizerConfig {
            weight_decay: 1e-4,
            ..OptimizerConfig::default()
        }),
        ..FitSpec::default()
    }
}

#[test]
fn a_run_is_the_same_bits_on_any_thread_count_and_learns() {
    // 120 rows in 8 shards
    let runs: Vec<_> = [1, 2, 3]
        .into_iter()
        .map(|t| {
            let spec = FitSpec {
                shard_rows: Some(16),
                ..iris(40, t, LbfgsConfig::default())
            };
            spec.fit().unwrap()
        })
        .collect();
    let bits = |o: &fit::FitOutcome| -> (Vec<u32>, Vec<u64>) {
        (
            o.mlp.params().iter().map(|v| v.to_bits()).collect(),
            o.history.iter().map(|r| r.train_loss.to_bits()).collect(),
        )
    };
    for o in &runs[1..] {
        assert_eq!(bits(o), bits(&runs[0]), "{} threads", o.threads);
    }
    let last = runs[0].history.last().unwrap();
    assert!(last.val_accuracy.unwrap() >= 0.93, "{last:?}");
    // the loss falls: L-BFGS decreases the objective at every iteration
    let first = runs[0].history.first().unwrap().train_loss;
    assert!(
        last.train_loss < first / 5.0,
        "{first} → {}",
        last.train_loss
    );
    let extra = &runs[0].meta.extra;
    assert_eq!(extra["train.optimizer"], "lbfgs");
    assert_eq!(extra["train.max_fun"], "15000");
    assert!(!extra.contains_key("train.lr"), "{extra:?}");
    assert!(extra.contains_key("train.lbfgs_stop"), "{extra:?}");
}

#[test]
fn scipy_rules_end_the_run() {
    // a gradient bound no component exceeds after one iteration
    let out = iris(
        50,
        1,
        LbfgsConfig {
            gtol: 10.0,
            ..LbfgsConfig::default()
        },
    )
    .fit()
    .unwrap();
    assert_eq!(
        (out.end.clone(), out.epochs),
        (FitEnd::Solver(LbfgsStop::Gradient), 1)
    );
    assert!(matches!(&out.end, FitEnd::Solver(s) if s.converged()));
    // any decrease is small against ftol = 1
    let out = iris(
        50,
        1,
        LbfgsConfig {
            ftol: 1.0,
            gtol: 0.0,
            ..LbfgsConfig::default()
        },
    )
    .fit()
    .unwrap();
    assert_eq!(
        (out.end, out.epochs),
        (FitEnd::Solver(LbfgsStop::Decrease), 1)
    );
    // three evaluations at most: the run ends after the iteration that
    // goes past them, as scipy's maxfun
    let out = iris(
        50,
        1,
        LbfgsConfig {
            max_fun: 3,
            gtol: 0.0,
            ..LbfgsConfig::default()
        },
    )
    .fit()
    .unwrap();
    assert_eq!(out.end, FitEnd::Solver(LbfgsStop::MaxFun));
    assert!(!matches!(&out.end, FitEnd::Solver(s) if s.converged()));
    let rows = 120;
    assert!(out.samples > 3 * rows, "{} samples", out.samples);
    assert!(out.epochs < 50);
    assert!(out.meta.extra["train.lbfgs_stop"].contains("EVALUATIONS"));
    // the iteration limit: `epochs` iterations
    let out = iris(
        3,
        1,
        LbfgsConfig {
            gtol: 0.0,
            ..LbfgsConfig::default()
        },
    )
    .fit()
    .unwrap();
    assert_eq!((out.end, out.epochs), (FitEnd::Finished, 3));
    assert!(out.meta.extra["train.lbfgs_stop"].contains("ITERATIONS"));
}

/// Sets the stop flag when `epoch` starts: the run ends after it.
struct StopAt<'a> {
    stop: &'a AtomicBool,
    epoch: usize,
}

impl FitCallbacks for StopAt<'_> {
    fn on_epoch_start(&mut self, epoch: usize) {
        if epoch == self.epoch {
            self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        }
    }
}

#[test]
fn the_stop_flag_ends_a_run_after_the_iteration_under_way() {
    let spec = iris(
        30,
        2,
        LbfgsConfig {
            gtol: 0.0,
            ..LbfgsConfig::default()
        },
    );
    let stop = AtomicBool::new(false);
    let mut at = StopAt {
        stop: &stop,
        epoch: 4,
    };
    let out = fit::prepare(&spec, &mut at)
        .and_then(|p| p.run(&stop, &mut at))
        .unwrap();
    assert!(matches!(out.end, FitEnd::Interrupted(_)), "{:?}", out.end);
    assert_eq!(out.epochs, 4);
    assert!(out.checkpoint.is_none());
    // the weights of a run of 4 iterations
    let four = FitSpec { epochs: 4, ..spec }.fit().unwrap();
    assert_eq!(out.mlp.params(), four.mlp.params());
}

#[test]
fn the_options_of_mini_batch_steps_are_refused() {
    let base = iris(5, 1, LbfgsConfig::default());
    let dir = tempfile::tempdir().unwrap();
    let cases: Vec<(&str, FitSpec)> = vec![
        (
            "batch_size",
            FitSpec {
                batch_size: Some(8),
                ..base.clone()
            },
        ),
        (
            "lr",
            FitSpec {
                lr: Some(0.1),
                ..base.clone()
            },
        ),
        (
            "lr_schedule",
            FitSpec {
                schedule: Some(LrSchedule::FlatCos),
                ..base.clone()
            },
        ),
        (
            "warmup_epochs",
            FitSpec {
                warmup_epochs: Some(2),
                ..base.clone()
            },
        ),
        (
            "clip_norm",
            FitSpec {
                clip_norm: Some(1.0),
                ..base.clone()
            },
        ),
        (
            "dropout",
            FitSpec {
                dropout: Some(0.1),
                ..base.clone()
            },
        ),
        (
            "early_stopping",
            FitSpec {
                validation_split: Some(0.2),
                early_stopping: Some(EarlyStopping::default()),
                ..base.clone()
            },
        ),
        (
            "checkpoint",
            FitSpec {
                checkpoint: Some(dir.path().join("c.safetensors")),
                ..base.clone()
            },
        ),
        (
            "optimizer",
            FitSpec {
                optimizer: Some(OptimizerConfig {
                    kind: OptimizerKind::AdamW,
                    ..OptimizerConfig::default()
                }),
                ..base.clone()
            },
        ),
        (
            "lbfgs.max_fun",
            FitSpec {
                lbfgs: Some(LbfgsConfig {
                    max_fun: 0,
                    ..LbfgsConfig::default()
                }),
                ..base.clone()
            },
        ),
        (
            "lbfgs.gtol",
            FitSpec {
                lbfgs: Some(LbfgsConfig {
                    gtol: f64::NAN,
                    ..LbfgsConfig::default()
                }),
                ..base.clone()
            },
        ),
    ];
    for (field, spec) in cases {
        let err = spec.fit().unwrap_err();
        assert!(
            matches!(&err, Error::Config { option, .. } if *option == field),
            "{field}: {err}"
        );
    }
    // a constant schedule and no dropout are no options at all
    let plain = FitSpec {
        schedule: Some(LrSchedule::Constant),
        dropout: Some(0.0),
        ..base
    };
    assert!(plain.fit().is_ok());
}

#[test]
fn sample_weights_scale_the_l2_term_by_rows_over_their_sum() {
    // weights of 2 on every row: the mean loss is the same, and with
    // decay_by_weight the L2 term halves, which is λ/2 unweighted
    let table = |w: Option<f32>| {
        let mut raw = backprop::data::csv::parse(
            &std::fs::read_to_string(repo_data("iris.train.csv")).unwrap(),
            "iris.train.csv",
            &Default::default(),
        )
        .unwrap();
        if let Some(w) = w {
            raw.weights = Some(vec![w; raw.x.rows()]);
        }
        raw
    };
    let spec = |w: Option<f32>, wd: f32| FitSpec {
        data: DataSource::Tables {
            train: Box::new(table(w)),
            test: None,
        },
        hidden_layers: Some(vec![8]),
        epochs: 15,
        threads: 1,
        lbfgs: Some(LbfgsConfig::default()),
        decay_by_weight: Some(w.is_some()),
        optimizer: Some(OptimizerConfig {
            weight_decay: wd,
            ..OptimizerConfig::default()
        }),
        ..FitSpec::default()
    };
    let weighted = spec(Some(2.0), 0.02).fit().unwrap();
    let plain = spec(None, 0.01).fit().unwrap();
    for (a, b) in weighted.mlp.params().iter().zip(plain.mlp.params()) {
        assert!((a - b).abs() < 1e-4, "{a} {b}");
    }
}

#[test]
fn the_command_line_trains_by_lbfgs_and_names_the_flags_it_refuses() {
    let data = repo_data("iris.train.csv");
    let out = common::stdout_of(common::bin().args([
        "train",
        "--data",
        data.to_str().unwrap(),
        "--optimizer",
        "lbfgs",
        "--epochs",
        "200",
        "--gtol",
        "0.001",
        "--threads",
        "2",
    ]));
    assert!(out.contains("L-BFGS ended after"), "{out}");
    for (flags, named) in [
        (&["--batch-size", "8"][..], "--batch-size"),
        (&["--lr", "0.1"][..], "--lr"),
        (&["--momentum", "0.9"][..], "--momentum"),
        (&["--max-fun", "0"][..], "--max-fun"),
    ] {
        let mut cmd = common::bin();
        cmd.args([
            "train",
            "--data",
            data.to_str().unwrap(),
            "--optimizer",
            "lbfgs",
        ]);
        let err = cmd
            .args(flags)
            .assert()
            .failure()
            .get_output()
            .stderr
            .clone();
        let err = String::from_utf8(err).unwrap();
        assert!(err.contains(named), "{flags:?}: {err}");
    }
    let err = common::bin()
        .args(["train", "--data", data.to_str().unwrap(), "--max-fun", "9"])
        .assert()
        .failure()
        .get_output()
        .stderr
        .clone();
    assert!(String::from_utf8(err)
        .unwrap()
        .contains("--optimizer lbfgs"));
}
