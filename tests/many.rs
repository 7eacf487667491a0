//! Many models in one pass (`fit::fit_many`, `fit::cross_validate`,
//! `backprop cv`): every member is, bit for bit, the model its settings
//! train alone, at any thread count, resumed or not; the folds of
//! cross-validation are the models trained alone on the other folds.

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

mod common;
use common::{bin, stdout_of};

use backprop::data::{csv, LabelColumn, LoadOptions};
use backprop::fit::{self, DataSource, FitOutcome, FitSpec, Stored};
use backprop::optim::{OptimizerConfig, OptimizerKind};
use backprop::stopping::EarlyStopping;
use backprop::Activation;

/// A table of 3 classes from 4 features and a text column, with gaps.
fn table_csv(rows: usize) -> String {
    let mut s: u64 = 11;
    let mut next = move || {
        s = s
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (s >> 33) as u32
    };
    let mut t = String::from("a,b,c,d,colour,y\n");
    for _ in 0..rows {
        let v: Vec<f32> = (0..4).map(|_| (next() % 1000) as f32 / 100.0).collect();
        let colour = ["red", "green", "blue"][(next() % 3) as usize];
        let score = v[0] - v[1] + 0.5 * v[2] + if colour == "red" { 3.0 } else { 0.0 };
        let y = ["lo", "mid", "hi"][((score + 10.0) / 7.0).clamp(0.0, 2.0) as usize];
        let d = if next() % 9 == 0 {
            "NA".to_string()
        } else {
            v[3].to_string()
        };
        t += &format!("{},{},{},{d},{colour},{y}\n", v[0], v[1], v[2]);
    }
    t
}

fn data_file(dir: &Path, rows: usize) -> PathBuf {
    let p = dir.join("t.csv");
    std::fs::write(&p, table_csv(rows)).unwrap();
    p
}

/// Member `i` of a varied crowd: widths, activations, optimizers,
/// dropout, early stopping, the embedded set.
fn member(i: usize, data: &Path, epochs: usize) -> FitSpec {
    let base = FitSpec {
        data: DataSource::File(data.to_path_buf()),
        // constant rates: a pass of 3 epochs resumed to 5 is then the run of
        // 5 (the default flat-cos follows the run's length)
        schedule: Some(backprop::schedule::LrSchedule::Constant),
        epochs,
        seed: Some(100 + i as u64),
        batch_size: Some(16 + i % 3 * 8),
        ..FitSpec::default()
    };
    match i % 6 {
        0 => base,
        1 => FitSpec {
            hidden_layers: Some(vec![8 + i, 5]),
            activation: Some(Activation::Tanh),
            ..base
        },
        2 => FitSpec {
            optimizer: Some(OptimizerConfig {
                kind: OptimizerKind::Sgd,
                momentum: 0.9,
                ..OptimizerConfig::default()
            }),
            lr: Some(0.05),
            dropout: Some(0.2),
            ..base
        },
        3 => FitSpec {
            validation_split: Some(0.25),
            early_stopping: Some(EarlyStopping {
                patience: 1,
                min_delta: 1.0,
                ..EarlyStopping::default()
            }),
            ..base
        },
        4 => FitSpec {
            data: DataSource::BreastCancer,
            ..base
        },
        _ => FitSpec {
            optimizer: Some(OptimizerConfig {
                kind: OptimizerKind::AdamW,
                weight_decay: 0.01,
                ..OptimizerConfig::default()
            }),
            hidden_layers: Some(vec![3]),
            ..base
        },
    }
}

/// What must be equal: the weights' bits, the metadata (with the training
/// record), the epochs and the history.
fn same(a: &FitOutcome, b: &FitOutcome, what: &str) {
    let bits = |o: &FitOutcome| {
        o.mlp
            .params()
            .iter()
            .map(|v| v.to_bits())
            .collect::<Vec<_>>()
    };
    assert_eq!(bits(a), bits(b), "{what}: weights");
    assert_eq!(a.mlp.sizes(), b.mlp.sizes(), "{what}: sizes");
    assert_eq!(a.meta, b.meta, "{what}: metadata");
    assert_eq!(a.epochs, b.epochs, "{what}: epochs");
    assert_eq!(a.history, b.history, "{what}: history");
}

#[test]
fn members_are_their_models_alone_at_any_thread_count() {
    let dir = tempfile::tempdir().unwrap();
    let data = data_file(dir.path(), 240);
    let alone: Vec<FitOutcome> = (0..16)
        .map(|i| {
            FitSpec {
                threads: 1,
                ..member(i, &data, 3)
            }
            .fit()
            .unwrap()
        })
        .collect();
    // the early-stopping member stopped before its last epoch
    assert!(alone[3].epochs < 3, "epochs {}", alone[3].epochs);
    let stop = AtomicBool::new(false);
    for k in [1usize, 2, 5, 16] {
        let specs: Vec<FitSpec> = (0..k).map(|i| member(i, &data, 3)).collect();
        for threads in [1, 2, 3] {
            let runs = fit::fit_many(&specs, threads, &stop).unwrap();
            assert_eq!(runs.len(), k);
            for (i, r) in runs.into_iter().enumerate() {
                same(
                    &r.unwrap(),
                    &alone[i],
                    &format!("K {k}, {threads} threads, member {i}"),
                );
            }
        }
    }
}

#[test]
fn resumed_members_are_bit_for_bit() {
    let dir = tempfile::tempdir().unwrap();
    let data = data_file(dir.path(), 160);
    let ckpt = |i: usize| dir.path().join(format!("m{i}.ckpt"));
    // member 3 stops early (at epoch 2) in the first pass
    let first: Vec<FitSpec> = (0..4)
        .map(|i| FitSpec {
            checkpoint: Some(ckpt(i)),
            ..member(i, &data, 3)
        })
        .collect();
    let stop = AtomicBool::new(false);
    let firsts = fit::fit_many(&first, 2, &stop).unwrap();
    assert!(
        firsts[3].as_ref().unwrap().epochs < 3,
        "member 3 stopped early"
    );
    let resumed: Vec<FitSpec> = (0..4)
        .map(|i| FitSpec {
            resume: Some(Stored::File(ckpt(i))),
            ..member(i, &data, 5)
        })
        .collect();
    let runs = fit::fit_many(&resumed, 3, &stop).unwrap();
    for (i, r) in runs.into_iter().enumerate() {
        let alone = member(i, &data, 5).fit().unwrap();
        let r = r.unwrap();
        let bits = |o: &FitOutcome| {
            o.mlp
                .params()
                .iter()
                .map(|v| v.to_bits())
                .collect::<Vec<_>>()
        };
        assert_eq!(bits(&r), bits(&alone), "member {i}");
        assert_eq!(r.epochs, alone.epochs, "member {i}");
    }
    // two members cannot write one checkpoint
    let clash = vec![first[0].clone(), first[0].clone()];
    let e = fit::fit_many(&clash, 1, &stop).unwrap_err().to_string();
    assert!(e.contains("two members would write this checkpoint"), "{e}");
}

#[test]
fn folds_are_the_models_trained_alone_on_the_other_folds() {
    let text = table_csv(150);
    let opts = LoadOptions {
        label_columns: vec![LabelColumn::Last],
        ..LoadOptions::default()
    };
    let raw = csv::parse(&text, "t.csv", &opts).unwrap();
    let spec = FitSpec {
        data: DataSource::Tables {
            train: Box::new(raw.clone()),
            test: None,
        },
        epochs: 3,
        seed: Some(9),
        ..FitSpec::default()
    };
    let stop = AtomicBool::new(false);
    let cv = fit::cross_validate(&spec, 4, &stop).unwrap();
    assert_eq!(cv.folds.len(), 4);
    // the folds: stratified, seeded, every row held out once
    let classes = raw.class_indices(&raw.class_map().unwrap()).unwrap();
    let fold = fit::fold_of_rows(raw.rows(), 4, 9, Some(&classes));
    let mut held = 0;
    for (f, report) in cv.folds.iter().enumerate() {
        let (inside, outside): (Vec<usize>, Vec<usize>) =
            (0..raw.rows()).partition(|&r| fold[r] != f);
        assert_eq!(
            (report.train_rows, report.held_out_rows),
            (inside.len(), outside.len())
        );
        held += outside.len();
        for c in 0..3 {
            let n = classes.iter().filter(|&&x| x == c).count();
            let here = outside.iter().filter(|&&r| classes[r] == c).count();
            assert!(
                here == n / 4 || here == n.div_ceil(4),
                "class {c}: {here} of {n}"
            );
        }
        let alone = FitSpec {
            data: DataSource::Tables {
                train: Box::new(raw.take_rows(&inside, "in").unwrap()),
                test: Some(Box::new(raw.take_rows(&outside, "out").unwrap())),
            },
            threads: 1,
            ..spec.clone()
        }
        .fit()
        .unwrap();
        let bits = |o: &FitOutcome| {
            o.mlp
                .params()
                .iter()
                .map(|v| v.to_bits())
                .collect::<Vec<_>>()
        };
        assert_eq!(bits(&report.outcome), bits(&alone), "fold {f}");
        // the fold's score is its model's accuracy on the held-out rows
        let acc = fit::figures(&report.evaluation)[0];
        assert_eq!(acc.0, "accuracy");
        assert_eq!(Some(acc.1), alone.history.last().unwrap().val_accuracy);
    }
    assert_eq!(held, raw.rows());
    let summary = cv.summary();
    let accs: Vec<f64> = cv
        .folds
        .iter()
        .map(|f| fit::figures(&f.evaluation)[0].1)
        .collect();
    assert_eq!(summary[0].1, fit::Spread::of(&accs));
    // bad requests
    for (k, why) in [(1, "give 2 to 150"), (151, "give 2 to 150")] {
        let e = fit::cross_validate(&spec, k, &stop)
            .unwrap_err()
            .to_string();
        assert!(e.contains(why), "{k}: {e}");
    }
    let few = "x,y\n1,a\n2,a\n3,a\n4,b\n5,b\n6,a\n";
    let few = FitSpec {
        data: DataSource::Tables {
            train: Box::new(csv::parse(few, "few.csv", &opts).unwrap()),
            test: None,
        },
        ..spec.clone()
    };
    let e = fit::cross_validate(&few, 3, &stop).unwrap_err().to_string();
    assert!(e.contains("a class has only 2 rows"), "{e}");
    let with_test = FitSpec {
        test_data: Some("t.csv".into()),
        ..FitSpec::default()
    };
    let e = fit::cross_validate(&with_test, 3, &stop)
        .unwrap_err()
        .to_string();
    assert!(e.contains("test_data"), "{e}");
}

#[test]
fn the_cv_command_prints_each_fold_and_the_mean() {
    let dir = tempfile::tempdir().unwrap();
    let data = data_file(dir.path(), 120);
    let text = stdout_of(
        bin()
            .args(["cv", "--folds", "3", "--epochs", "2", "--data"])
            .arg(&data),
    );
    assert!(text.starts_with("3-fold cross-validation of "), "{text}");
    assert_eq!(text.lines().count(), 6, "{text}");
    assert!(text.contains("mean ± std: accuracy "), "{text}");
    let v: serde_json::Value = serde_json::from_str(&stdout_of(
        bin()
            .args(["cv", "--folds", "3", "--epochs", "2", "--json", "--data"])
            .arg(&data),
    ))
    .unwrap();
    assert_eq!(v["folds"], 3);
    assert_eq!(v["per_fold"].as_array().unwrap().len(), 3);
    assert!(v["mean"]["accuracy"].as_f64().unwrap() > 0.3);
    let folds_rows: u64 = v["per_fold"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["held_out_rows"].as_u64().unwrap())
        .sum();
    assert_eq!(folds_rows, 120);
    // --out: the fold models as one ensemble
    let e = dir.path().join("folds.st");
    bin()
        .args(["cv", "--folds", "3", "--epochs", "2", "--out"])
        .arg(&e)
        .arg("--data")
        .arg(&data)
        .assert()
        .success();
    assert_eq!(
        backprop::model_io::load_ensemble(&e).unwrap().members.len(),
        3
    );
    bin()
        .args(["cv", "--plot", "c.svg", "--data"])
        .arg(&data)
        .assert()
        .code(2)
        .stderr(predicates::str::contains("cv draws no curves"));
}

#[test]
fn bench_trains_k_models_together() {
    let v: serde_json::Value = serde_json::from_str(&stdout_of(bin().args([
        "bench",
        "--config",
        "T",
        "--models",
        "3",
        "--threads",
        "2",
        "--seconds",
        "0.2",
        "--windows",
        "2",
        "--json",
    ])))
    .unwrap();
    assert_eq!(v["models"], 3);
    assert_eq!(v["threads"], 2);
    assert!(v["samples_per_sec"].as_f64().unwrap() > 0.0);
    // three models' parameters
    let one = 30 * 64 + 64 + 64 * 32 + 32 + 32 + 1;
    assert_eq!(v["param_bytes"], 3 * one * 4);
    bin()
        .args(["bench", "--config", "T", "--models", "2", "--predict"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains("--models"));
    bin()
        .args([
            "bench",
            "--config",
            "T",
            "--models",
            "0",
            "--seconds",
            "0.1",
        ])
        .assert()
        .code(2)
        .stderr(predicates::str::contains("--models: must be at least 1"));
}

#[test]
fn search_spaces_parse_and_draw() {
    let c = fit::grid("lr=0.001,0.01; layers=64|128,64; weight-decay=0").unwrap();
    let d: Vec<String> = c.iter().map(|c| c.describe()).collect();
    assert_eq!(
        d,
        [
            "lr=0.001 layers=64 weight-decay=0",
            "lr=0.001 layers=128,64 weight-decay=0",
            "lr=0.01 layers=64 weight-decay=0",
            "lr=0.01 layers=128,64 weight-decay=0"
        ]
    );
    let spec = c[3].apply(&FitSpec::default()).unwrap();
    assert_eq!(spec.hidden_layers, Some(vec![128, 64]));
    assert_eq!(spec.lr, Some(0.01));
    assert_eq!(spec.optimizer.unwrap().weight_decay, 0.0);
    for (bad, why) in [
        ("colour=red", "unknown setting"),
        ("lr=0.1..0.2", "needs a number of draws"),
        ("lr=fast", "lr=fast"),
        ("layers=64|x", "layers=x"),
        ("lr", "give name=values"),
        ("lr=1;lr=2", "given twice"),
        ("activation=swish", "swish"),
        ("init=kaiming", "kaiming"),
    ] {
        let e = fit::grid(bad).unwrap_err().to_string();
        assert!(e.contains(why), "{bad}: {e}");
    }
    let inits = fit::grid("init=auto|torch|sklearn").unwrap();
    let rules: Vec<Option<backprop::Init>> = inits
        .iter()
        .map(|c| c.apply(&FitSpec::default()).unwrap().init)
        .collect();
    use backprop::Init::{Auto, Sklearn, Torch};
    assert_eq!(rules, [Some(Auto), Some(Torch), Some(Sklearn)]);
    let space = "lr=1e-4..1e-1; epochs=2..4; optimizer=sgd|adam; dropout=0..0.5";
    let a = fit::draw(space, 20, 3).unwrap();
    assert_eq!(a, fit::draw(space, 20, 3).unwrap());
    assert_ne!(a, fit::draw(space, 20, 4).unwrap());
    for c in &a {
        let s = c.apply(&FitSpec::default()).unwrap();
        assert!((1e-4..=1e-1).contains(&s.lr.unwrap()));
        assert!((2..=4).contains(&s.epochs));
        assert!((0.0..=0.5).contains(&s.dropout.unwrap()));
    }
    // log-uniform: about as many draws below 1e-2.5 as above
    let lrs = fit::draw("lr=1e-4..1e-1", 400, 1).unwrap();
    let low = lrs
        .iter()
        .filter(|c| c.settings[0].1.parse::<f64>().unwrap() < 10f64.powf(-2.5))
        .count();
    assert!((150..250).contains(&low), "{low}");
    assert!(fit::draw("lr=1", 0, 1).is_err());
}

#[test]
fn a_search_ranks_each_candidate_as_cross_validated_alone() {
    let dir = tempfile::tempdir().unwrap();
    let data = data_file(dir.path(), 120);
    let base = FitSpec {
        data: DataSource::File(data.clone()),
        epochs: 3,
        seed: Some(5),
        ..FitSpec::default()
    };
    let candidates = fit::grid("lr=0.0001,0.01; layers=4|16,8").unwrap();
    let stop = AtomicBool::new(false);
    let ranked = fit::search(&base, &candidates, 3, &stop).unwrap();
    assert_eq!(ranked.len(), 4);
    let means: Vec<f64> = ranked
        .iter()
        .map(|r| r.headline().unwrap().1.mean)
        .collect();
    assert!(means.windows(2).all(|w| w[0] >= w[1]), "{means:?}");
    for r in &ranked {
        let alone = fit::cross_validate(&r.candidate.apply(&base).unwrap(), 3, &stop).unwrap();
        let cv = r.result.as_ref().unwrap();
        for (a, b) in cv.folds.iter().zip(&alone.folds) {
            same(&a.outcome, &b.outcome, &r.candidate.describe());
        }
    }
    // a candidate that fails is ranked last with its reason
    let bad = fit::grid("momentum=0.9|0; optimizer=adam").unwrap();
    let ranked = fit::search(&base, &bad, 3, &stop).unwrap();
    assert!(ranked[0].result.is_ok());
    let e = ranked[1].result.as_ref().unwrap_err();
    assert!(e.contains("momentum"), "{e}");
}

#[test]
fn the_search_command_refits_the_best_as_train_would() {
    let dir = tempfile::tempdir().unwrap();
    let data = data_file(dir.path(), 120);
    let best = dir.path().join("best.st");
    let text = stdout_of(
        bin()
            .args([
                "search",
                "--grid",
                "lr=0.0001,0.01; layers=4|16",
                "--folds",
                "3",
            ])
            .args(["--epochs", "3", "--refit", "--out"])
            .arg(&best)
            .arg("--data")
            .arg(&data),
    );
    assert!(
        text.starts_with("4 candidates × 3 folds: 12 models"),
        "{text}"
    );
    let line = text.lines().find(|l| l.starts_with("best: ")).unwrap();
    let mut args = vec!["train".to_string(), "--epochs".into(), "3".into()];
    for kv in line["best: ".len()..].split(' ') {
        let (k, v) = kv.split_once('=').unwrap();
        args.push(format!("--{k}"));
        args.push(v.to_string());
    }
    let alone = dir.path().join("alone.st");
    bin()
        .args(&args)
        .arg("--out")
        .arg(&alone)
        .arg("--data")
        .arg(&data)
        .assert()
        .success();
    assert_eq!(
        std::fs::read(&best).unwrap(),
        std::fs::read(&alone).unwrap()
    );
    // without --refit: the best candidate's fold models, as an ensemble
    let folds = dir.path().join("folds.st");
    bin()
        .args([
            "search", "--grid", "lr=0.01", "--folds", "3", "--epochs", "2", "--out",
        ])
        .arg(&folds)
        .arg("--data")
        .arg(&data)
        .assert()
        .success()
        .stdout(predicates::str::contains("fold models, as one ensemble"));
    assert_eq!(
        backprop::model_io::load_ensemble(&folds)
            .unwrap()
            .members
            .len(),
        3
    );
}

#[test]
fn progress_hears_every_epoch_and_every_fold() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Mutex;
    #[derive(Default)]
    struct Count {
        epochs: AtomicUsize,
        folds: Mutex<Vec<(usize, usize, Option<f64>)>>,
    }
    impl fit::Progress for Count {
        fn on_epoch(&self, _: usize, _: &fit::EpochReport) {
            self.epochs.fetch_add(1, Ordering::Relaxed);
        }
        fn on_fold(&self, c: usize, f: usize, s: Option<(&[(&'static str, f64)], usize)>) {
            self.folds
                .lock()
                .unwrap()
                .push((c, f, s.map(|(x, _)| x[0].1)));
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let base = FitSpec {
        data: DataSource::File(data_file(dir.path(), 90)),
        epochs: 2,
        ..FitSpec::default()
    };
    let specs = [
        base.clone(),
        FitSpec {
            epochs: 3,
            ..base.clone()
        },
    ];
    let count = Count::default();
    let stop = AtomicBool::new(false);
    let cvs = fit::cross_validate_each_with(&base, &specs, 3, &stop, &count).unwrap();
    assert_eq!(count.epochs.load(Ordering::Relaxed), 3 * 2 + 3 * 3);
    let mut folds = count.folds.into_inner().unwrap();
    folds.sort_by_key(|&(c, f, _)| (c, f));
    for (c, cv) in cvs.iter().enumerate() {
        for (f, report) in cv.as_ref().unwrap().folds.iter().enumerate() {
            let heard = folds[c * 3 + f];
            assert_eq!((heard.0, heard.1), (c, f));
            assert_eq!(heard.2, Some(fit::figures(&report.evaluation)[0].1));
        }
    }
}

#[test]
fn folds_of_the_embedded_set_train_as_the_embedded_set_does() {
    let spec = FitSpec {
        epochs: 2,
        ..FitSpec::default()
    };
    let stop = AtomicBool::new(false);
    let cv = fit::cross_validate(&spec, 3, &stop).unwrap();
    let o = &cv.folds[0].outcome;
    assert_eq!(o.mlp.sizes(), [30, 16, 1]);
    assert_eq!(o.mlp.hidden(), [Activation::Sigmoid]);
    assert_eq!(o.meta.extra["train.optimizer"], "sgd");
    assert_eq!(o.meta.extra["train.lr"], "0.5");
}
