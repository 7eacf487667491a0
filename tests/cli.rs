//! The real binary, end to end: every subcommand, bad input (message, exit
//! code, no output written), checkpoint/resume and thread-count bit equality,
//! and save → load → predict round trips.

use std::fs;
use std::path::{Path, PathBuf};

use assert_cmd::Command;
use predicates::prelude::*;

fn bin() -> Command {
    Command::cargo_bin("backprop").expect("binary built")
}

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("data")
        .join(name)
}

fn tmp() -> tempfile::TempDir {
    tempfile::tempdir().expect("temp dir")
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    fs::write(&p, text).unwrap();
    p
}

/// `eval --json` of `model` on `data_file`, parsed.
fn eval_json(model: &Path, data_file: &Path) -> serde_json::Value {
    let out = bin()
        .args(["eval", "--json", "--model"])
        .arg(model)
        .arg("--data")
        .arg(data_file)
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    serde_json::from_slice(&out).unwrap()
}

/// Trains on the digits file and returns the model path.
fn train_digits(dir: &Path, extra: &[&str], out: &str) -> PathBuf {
    let out = dir.join(out);
    bin()
        .args([
            "train", "--quiet", "--epochs", "3", "--layers", "24", "--data",
        ])
        .arg(data("digits.train.csv"))
        .arg("--out")
        .arg(&out)
        .args(extra)
        .assert()
        .success();
    out
}

#[test]
fn train_without_arguments_uses_the_embedded_set() {
    bin()
        .arg("train")
        .assert()
        .success()
        .stdout(predicate::str::contains("breast cancer (embedded)"))
        .stdout(predicate::str::contains("final test accuracy"))
        .stdout(predicate::str::contains("samples/s"));
}

#[test]
fn train_eval_info_predict_on_files() {
    let dir = tmp();
    let svg = dir.path().join("curves.svg");
    let model = dir.path().join("m.safetensors");
    let out = bin()
        .args([
            "train", "--json", "--epochs", "4", "--layers", "32", "--data",
        ])
        .arg(data("digits.train.csv"))
        .arg("--test-data")
        .arg(data("digits.test.csv"))
        .arg("--out")
        .arg(&model)
        .arg("--plot")
        .arg(&svg)
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let lines: Vec<serde_json::Value> = String::from_utf8(out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 5, "4 epochs + summary");
    for (i, l) in lines[..4].iter().enumerate() {
        assert_eq!(l["epoch"], i + 1);
        for k in [
            "train_loss",
            "train_accuracy",
            "test_loss",
            "test_accuracy",
            "samples_per_sec",
            "seconds",
        ] {
            assert!(l[k].is_number(), "{k} in {l}");
        }
    }
    assert_eq!(lines[4]["summary"], true);
    assert!(lines[4]["test_accuracy"].as_f64().unwrap() > 0.9);
    assert!(fs::read_to_string(&svg).unwrap().starts_with("<svg"));

    let e = eval_json(&model, &data("digits.test.csv"));
    assert!(
        (e["accuracy"].as_f64().unwrap() - lines[3]["test_accuracy"].as_f64().unwrap()).abs()
            < 1e-12
    );
    assert!((e["loss"].as_f64().unwrap() - lines[3]["test_loss"].as_f64().unwrap()).abs() < 1e-9);
    let cm = e["confusion_matrix"].as_array().unwrap();
    assert_eq!(cm.len(), 10);
    let total: u64 = cm
        .iter()
        .flat_map(|r| r.as_array().unwrap())
        .map(|v| v.as_u64().unwrap())
        .sum();
    assert_eq!(total, 360);

    bin()
        .args(["info", "--model"])
        .arg(&model)
        .assert()
        .success()
        .stdout(predicate::str::contains("layers [64, 32, 10]"))
        .stdout(predicate::str::contains("parameters 2410"));

    let pred = dir.path().join("pred.csv");
    bin()
        .args(["predict", "--model"])
        .arg(&model)
        .arg("--data")
        .arg(data("digits.test.csv"))
        .arg("--out")
        .arg(&pred)
        .assert()
        .success();
    let text = fs::read_to_string(&pred).unwrap();
    let mut rows = text.lines();
    assert_eq!(
        rows.next().unwrap(),
        "class,p_0,p_1,p_2,p_3,p_4,p_5,p_6,p_7,p_8,p_9"
    );
    assert_eq!(rows.count(), 360);
}

#[test]
fn binary_eval_reports_precision_recall_f1_auc() {
    let dir = tmp();
    let model = dir.path().join("bc.safetensors");
    bin()
        .args(["train", "--quiet", "--epochs", "20", "--data"])
        .arg(data("breast_cancer.train.csv"))
        .arg("--out")
        .arg(&model)
        .assert()
        .success();
    let e = eval_json(&model, &data("breast_cancer.test.csv"));
    assert!(e["accuracy"].as_f64().unwrap() >= 0.9, "{e}");
    for k in ["precision", "recall", "f1", "roc_auc"] {
        let v = e[k].as_f64().unwrap();
        assert!((0.85..=1.0).contains(&v), "{k} = {v}");
    }
    bin()
        .args(["eval", "--model"])
        .arg(&model)
        .arg("--data")
        .arg(data("breast_cancer.test.csv"))
        .assert()
        .success()
        .stdout(predicate::str::contains("ROC AUC"))
        .stdout(predicate::str::contains("confusion matrix"));
}

#[test]
fn predictions_after_save_and_load_equal_the_library_s() {
    let dir = tmp();
    let model = train_digits(dir.path(), &[], "m.safetensors");
    let out = bin()
        .args(["predict", "--model"])
        .arg(&model)
        .arg("--data")
        .arg(data("digits.test.csv"))
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let cli: Vec<Vec<f32>> = String::from_utf8(out)
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| l.split(',').skip(1).map(|v| v.parse().unwrap()).collect())
        .collect();

    let saved = backprop::model_io::load_model(&model).unwrap();
    let raw = backprop::data::load(&data("digits.test.csv"), &Default::default()).unwrap();
    let x = backprop::pipeline::features(&raw, &saved.meta, saved.mlp.inputs()).unwrap();
    let lib = saved.mlp.predict(x.as_slice(), x.rows()).unwrap();
    assert_eq!(cli.len(), lib.rows());
    for (r, row) in cli.iter().enumerate() {
        assert_eq!(row.as_slice(), lib.row(r), "row {r}");
    }
}

#[test]
fn model_files_are_bitwise_identical_for_any_thread_count() {
    let dir = tmp();
    let a = fs::read(train_digits(dir.path(), &["--threads", "1"], "t1")).unwrap();
    let b = fs::read(train_digits(dir.path(), &["--threads", "2"], "t2")).unwrap();
    let c = fs::read(train_digits(
        dir.path(),
        &["--threads", "3", "--batch-size", "32"],
        "t3",
    ))
    .unwrap();
    assert!(a == b && b == c, "model files differ between thread counts");
}

#[test]
fn resume_from_a_checkpoint_equals_an_uninterrupted_run() {
    let dir = tmp();
    let d = dir.path();
    let ckpt = d.join("ckpt");
    let full = d.join("full.safetensors");
    let resumed = d.join("resumed.safetensors");
    let train = |args: &[&str]| {
        bin()
            .args(["train", "--quiet", "--layers", "16", "--data"])
            .arg(data("digits.train.csv"))
            .args(args)
            .assert()
            .success();
    };
    train(&["--epochs", "4", "--out", full.to_str().unwrap()]);
    train(&[
        "--epochs",
        "2",
        "--checkpoint",
        ckpt.to_str().unwrap(),
        "--checkpoint-every",
        "2",
    ]);
    train(&[
        "--resume",
        ckpt.to_str().unwrap(),
        "--epochs",
        "4",
        "--out",
        resumed.to_str().unwrap(),
    ]);
    assert_eq!(fs::read(&full).unwrap(), fs::read(&resumed).unwrap());

    // a flag that contradicts the checkpoint is a usage error
    bin()
        .args(["train", "--data"])
        .arg(data("digits.train.csv"))
        .args([
            "--resume",
            ckpt.to_str().unwrap(),
            "--epochs",
            "4",
            "--batch-size",
            "7",
        ])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--batch-size"));
    // nothing left to do
    bin()
        .args(["train", "--data"])
        .arg(data("digits.train.csv"))
        .args(["--resume", ckpt.to_str().unwrap(), "--epochs", "2"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--epochs"));
}

#[test]
fn init_model_continues_from_its_weights_and_checks_the_architecture() {
    let dir = tmp();
    let first = train_digits(dir.path(), &[], "a");
    let out = dir.path().join("b");
    bin()
        .args(["train", "--quiet", "--epochs", "1", "--data"])
        .arg(data("digits.train.csv"))
        .arg("--init-model")
        .arg(&first)
        .arg("--out")
        .arg(&out)
        .assert()
        .success();
    assert_ne!(fs::read(&first).unwrap(), fs::read(&out).unwrap());
    bin()
        .args(["train", "--epochs", "1", "--layers", "8", "--data"])
        .arg(data("digits.train.csv"))
        .arg("--init-model")
        .arg(&first)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--layers"));
    bin()
        .args(["train", "--epochs", "1", "--head", "mse", "--data"])
        .arg(data("digits.train.csv"))
        .arg("--init-model")
        .arg(&first)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--head"));
}

#[test]
fn regression_with_the_mse_head() {
    let dir = tmp();
    let mut csv = String::from("a,b,target\n");
    for i in 0..200 {
        let (a, b) = ((i % 17) as f32 / 8.0 - 1.0, (i % 11) as f32 / 5.0 - 1.0);
        csv += &format!("{a},{b},{}\n", 2.0 * a - b + 0.5);
    }
    let f = write(dir.path(), "reg.csv", &csv);
    let model = dir.path().join("reg.st");
    bin()
        .args([
            "train",
            "--quiet",
            "--head",
            "mse",
            "--activation",
            "tanh",
            "--epochs",
            "60",
            "--lr",
            "0.05",
            "--data",
        ])
        .arg(&f)
        .arg("--out")
        .arg(&model)
        .assert()
        .success();
    let e = eval_json(&model, &f);
    assert!(e["rmse"].as_f64().unwrap() < 0.2, "{e}");
    bin()
        .args(["predict", "--model"])
        .arg(&model)
        .arg("--data")
        .arg(&f)
        .assert()
        .success()
        .stdout(predicate::str::starts_with("target\n"));
}

#[test]
fn string_labels_are_mapped_and_named_in_predictions() {
    let dir = tmp();
    let mut csv = String::from("x,y,species\n");
    for i in 0..120 {
        let (x, y) = ((i % 10) as f32, (i % 7) as f32);
        let s = if x + y > 8.0 {
            "virginica"
        } else if x > y {
            "setosa"
        } else {
            "versicolor"
        };
        csv += &format!("{x},{y},{s}\n");
    }
    let f = write(dir.path(), "iris.csv", &csv);
    let model = dir.path().join("iris.st");
    bin()
        .args(["train", "--quiet", "--epochs", "30", "--data"])
        .arg(&f)
        .arg("--out")
        .arg(&model)
        .assert()
        .success();
    bin()
        .args(["predict", "--model"])
        .arg(&model)
        .arg("--data")
        .arg(&f)
        .assert()
        .success()
        .stdout(predicate::str::starts_with(
            "class,p_setosa,p_versicolor,p_virginica\n",
        ));
    bin()
        .args(["info", "--model"])
        .arg(&model)
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "classes 3: setosa, versicolor, virginica",
        ));
    // a label the model never saw
    let bad = write(dir.path(), "bad.csv", "x,y,species\n1,2,setosa\n3,4,rose\n");
    bin()
        .args(["eval", "--model"])
        .arg(&model)
        .arg("--data")
        .arg(&bad)
        .assert()
        .code(1)
        .stderr(predicate::str::contains("bad.csv:3").and(predicate::str::contains("'rose'")));
}

/// Runs `train --data FILE --out OUT` on bad data: exit 1, the message, and no
/// model file.
fn bad_training_data(text: &str, message: &str) {
    let dir = tmp();
    let f = write(dir.path(), "data.csv", text);
    let out = dir.path().join("model.st");
    bin()
        .args(["train", "--data"])
        .arg(&f)
        .arg("--out")
        .arg(&out)
        .assert()
        .code(1)
        .stderr(predicate::str::contains(message))
        .stderr(predicate::str::contains("panicked").not());
    assert!(!out.exists(), "a model was written for bad data");
}

#[test]
fn bad_data_files_are_clear_errors() {
    bad_training_data("", "data.csv");
    bad_training_data("a,b,label\n", "no data rows");
    bad_training_data("a,b,label\n1,2,0\n3,0\n", "data.csv:3");
    bad_training_data(
        "age,b,label\n1,2,0\nabc,4,1\n",
        "data.csv:3: column 'age': 'abc' is not a number",
    );
    bad_training_data("a,b,label\n1,2,0\nNaN,4,1\n", "data.csv:3");
    bad_training_data("a,b,label\n1,2,0\ninf,4,1\n", "data.csv:3");
    bad_training_data("a,b,label\n1,2,0\n3,4,0\n", "class");
    let dir = tmp();
    bin()
        .args(["train", "--data"])
        .arg(dir.path().join("missing.csv"))
        .assert()
        .code(1)
        .stderr(predicate::str::contains("missing.csv"));
}

#[test]
fn impossible_options_are_usage_errors() {
    let f = data("breast_cancer.train.csv");
    for (args, message) in [
        (vec!["--batch-size", "0"], "--batch-size"),
        (vec!["--lr=-1"], "--lr"),
        (vec!["--epochs", "0"], "--epochs"),
        (vec!["--shard-rows", "0"], "--shard-rows"),
        (vec!["--validation-split", "1.5"], "--validation-split"),
        (vec!["--label-column", "nope"], "nope"),
        (vec!["--delimiter", "ab"], "--delimiter"),
        (vec!["--layers", "0"], "--layers"),
        (vec!["--activation", "softsign"], "softsign"),
    ] {
        bin()
            .args(["train", "--data"])
            .arg(&f)
            .args(&args)
            .assert()
            .failure()
            .stderr(predicate::str::contains(message))
            .stderr(predicate::str::contains("panicked").not());
    }
    bin().args(["train", "--bogus"]).assert().code(2);
    bin()
        .args(["bench", "--config", "Z"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("'Z'"));
}

#[test]
fn a_diverging_run_names_the_epoch_and_batch_and_keeps_the_old_model() {
    let dir = tmp();
    let mut csv = String::from("a,target\n");
    for i in 0..64 {
        csv += &format!("{},{}\n", i as f32, 1e30 * i as f32);
    }
    let f = write(dir.path(), "huge.csv", &csv);
    let out = write(dir.path(), "model.st", "the previous model");
    bin()
        .args([
            "train",
            "--head",
            "mse",
            "--no-standardize",
            "--no-standardize-targets",
            "--lr",
            "1",
            "--data",
        ])
        .arg(&f)
        .arg("--out")
        .arg(&out)
        .assert()
        .code(1)
        .stderr(predicate::str::contains("epoch 1"))
        .stderr(predicate::str::contains("batch "))
        .stderr(predicate::str::contains("layer"));
    assert_eq!(fs::read_to_string(&out).unwrap(), "the previous model");
}

#[test]
fn bad_model_files_are_errors_and_leave_outputs_alone() {
    let dir = tmp();
    let model = train_digits(dir.path(), &[], "m.st");
    let bytes = fs::read(&model).unwrap();
    let truncated = dir.path().join("truncated.st");
    fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
    let pred = write(dir.path(), "pred.csv", "old predictions");
    for cmd in ["eval", "predict", "info"] {
        let mut c = bin();
        c.args([cmd, "--model"]).arg(&truncated);
        if cmd != "info" {
            c.arg("--data").arg(data("digits.test.csv"));
        }
        if cmd == "predict" {
            c.arg("--out").arg(&pred);
        }
        c.assert()
            .code(1)
            .stderr(predicate::str::contains("truncated.st"))
            .stderr(predicate::str::contains("panicked").not());
    }
    assert_eq!(fs::read_to_string(&pred).unwrap(), "old predictions");
    // the model's input count does not match the data
    bin()
        .args(["eval", "--model"])
        .arg(&model)
        .arg("--data")
        .arg(data("breast_cancer.test.csv"))
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "64 of the model's 64 features are missing from the header: 'pixel_0_0', ",
        ));
}

#[test]
fn bench_prints_json() {
    let out = bin()
        .args([
            "bench",
            "--config",
            "T",
            "--threads",
            "1",
            "--seconds",
            "0.3",
            "--windows",
            "3",
            "--json",
        ])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let b: serde_json::Value = serde_json::from_slice(&out).unwrap();
    for k in [
        "samples_per_sec",
        "gflops",
        "threads",
        "batch_size",
        "layers",
        "peak_rss_bytes",
    ] {
        assert!(!b[k].is_null(), "{k} missing in {b}");
    }
    assert!(b["samples_per_sec"].as_f64().unwrap() > 0.0);
}
