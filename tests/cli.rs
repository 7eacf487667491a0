//! The real binary, end to end: every subcommand, bad input (message, exit
//! code, no output written), checkpoint/resume and thread-count bit equality,
//! and save → load → predict round trips.

use std::fs;
use std::path::{Path, PathBuf};

mod common;
use common::{bin, repo_data as data};
use predicates::prelude::*;

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

/// `eval --json` of `model` on `data_file` with `extra` flags, parsed.
fn eval_json_with(model: &Path, data_file: &Path, extra: &[&str]) -> serde_json::Value {
    let out = bin()
        .args(["eval", "--json", "--model"])
        .arg(model)
        .arg("--data")
        .arg(data_file)
        .args(extra)
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
    // a constant rate: 2 epochs resumed to 4 is then the run of 4 (the
    // default flat-cos follows the run's length; an interrupted run resumes
    // to its own bits whatever the schedule: the SIGINT test below)
    let train = |args: &[&str]| {
        bin()
            .args([
                "train",
                "--quiet",
                "--layers",
                "16",
                "--lr-schedule",
                "constant",
            ])
            .arg("--data")
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
    bad_training_data_with(text, &[], message);
}

/// [`bad_training_data`] with more flags.
fn bad_training_data_with(text: &str, flags: &[&str], message: &str) {
    let dir = tmp();
    let f = write(dir.path(), "data.csv", text);
    let out = dir.path().join("model.st");
    bin()
        .args(["train", "--data"])
        .arg(&f)
        .arg("--out")
        .arg(&out)
        .args(flags)
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
    bad_training_data_with(
        "a,b,label\n1,2,0\n2,,1\nNaN,4,1\n",
        &["--missing", "error"],
        "data.csv:3: column 'b': '' marks a missing value, and missing values are errors \
         (--missing error)",
    );
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

/// A file that is not a table (an .npz, a model, a PNG, JSON), given as
/// data, is named for what it is, by its first bytes whatever its name,
/// instead of failing as CSV (issue 20).
#[test]
fn files_that_are_not_tables_are_named_for_what_they_are() {
    let dir = tmp();
    let model = dir.path().join("m.safetensors");
    let (code, _, err) = run(&["train", "--epochs", "1", "--out"], &[&model]);
    assert_eq!(code, 0, "{err}");
    let mut zip = b"PK\x03\x04\x14\0\0\0\x08\0".to_vec();
    zip.extend_from_slice(&[0u8; 40]);
    let mut png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
    png.extend_from_slice(&[0u8; 40]);
    let json = b"[\n  {\"a\": 1, \"b\": 2, \"y\": 0}\n]\n".to_vec();
    let cases: [(&str, Vec<u8>, &str); 5] = [
        (
            "arrays.npz",
            zip.clone(),
            "this is a ZIP file (such as an .npz archive",
        ),
        ("zipped.csv", zip, "this is a ZIP file"),
        ("picture.png", png, "this is a PNG image, not CSV"),
        ("rows.json", json.clone(), "this is a JSON file, not CSV"),
        ("rows.txt", json, "this is a JSON file, not CSV"),
    ];
    let mut files: Vec<(PathBuf, String)> = cases
        .iter()
        .map(|(name, bytes, message)| {
            let p = dir.path().join(name);
            fs::write(&p, bytes).unwrap();
            (p, message.to_string())
        })
        .collect();
    files.push((
        model.clone(),
        "this is a safetensors file (a model or checkpoint?), not CSV".to_string(),
    ));
    for (file, message) in &files {
        for cmd in [&["train", "--data"][..], &["eval", "--model"][..]] {
            let mut paths: Vec<&Path> = Vec::new();
            if cmd[0] == "eval" {
                paths.extend([model.as_path(), Path::new("--data")]);
            }
            paths.push(file);
            let (code, out, err) = run(cmd, &paths);
            assert_eq!(code, 1, "{cmd:?} {}: {err}", file.display());
            assert!(out.is_empty());
            assert!(
                err.contains(&format!("{}: {message}", file.display())),
                "{cmd:?} {}: {err}",
                file.display()
            );
            assert!(
                err.contains("data files are CSV tables, IDX or NPY arrays"),
                "{err}"
            );
        }
    }
    // through standard input too
    let out = bin()
        .args(["train", "--data", "-"])
        .write_stdin(b"{\"not\": \"a table\"}".to_vec())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("<stdin>: this is a JSON file, not CSV"),
        "{err}"
    );
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

// ---------------------------------------------------------------------------
// Data read right: columns by name, header detection, labels as categories,
// regression, the CSV dialect, interrupts (issue 7)
// ---------------------------------------------------------------------------

/// Runs `backprop args…` and returns (exit code, stdout, stderr).
fn run(args: &[&str], paths: &[&Path]) -> (i32, String, String) {
    let mut cmd = bin();
    cmd.args(args);
    for p in paths {
        cmd.arg(p);
    }
    let out = cmd.output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Trains the default network on `train` (extra flags first) into `model`.
fn train_to(model: &Path, train: &Path, extra: &[&str]) {
    bin()
        .arg("train")
        .args(extra)
        .args(["--quiet", "--data"])
        .arg(train)
        .arg("--out")
        .arg(model)
        .assert()
        .success();
}

/// The `predict` CSV of `model` on `file` (extra flags after).
fn predict_csv(model: &Path, file: &Path, extra: &[&str]) -> String {
    let out = bin()
        .args(["predict", "--model"])
        .arg(model)
        .arg("--data")
        .arg(file)
        .args(extra)
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    String::from_utf8(out).unwrap()
}

/// `text` (a CSV with a header) with its columns in the order `names`.
fn reorder(text: &str, names: &[&str]) -> String {
    let rows: Vec<Vec<&str>> = text.lines().map(|l| l.split(',').collect()).collect();
    let idx: Vec<usize> = names
        .iter()
        .map(|n| rows[0].iter().position(|h| h == n).unwrap())
        .collect();
    rows.iter()
        .map(|r| idx.iter().map(|&i| r[i]).collect::<Vec<_>>().join(",") + "\n")
        .collect()
}

#[test]
fn eval_and_predict_pick_features_by_name() {
    let dir = tmp();
    let model = dir.path().join("iris.st");
    train_to(&model, &data("iris.train.csv"), &["--epochs", "20"]);
    let test = fs::read_to_string(data("iris.test.csv")).unwrap();
    let reordered = write(
        dir.path(),
        "reordered.csv",
        &reorder(
            &test,
            &[
                "petal_width",
                "petal_length",
                "sepal_width",
                "sepal_length",
                "species",
            ],
        ),
    );
    // Before the fix this scored the columns by position: virginica for every row.
    let expected = predict_csv(&model, &data("iris.test.csv"), &[]);
    assert_eq!(predict_csv(&model, &reordered, &[]), expected);
    assert!(expected.lines().skip(1).any(|l| l.starts_with("setosa,")));
    assert_eq!(
        eval_json(&model, &reordered)["accuracy"],
        eval_json(&model, &data("iris.test.csv"))["accuracy"]
    );

    // an extra column is ignored and named on stderr; --id-column copies one through
    let with_id: String = test
        .lines()
        .enumerate()
        .map(|(i, l)| {
            if i == 0 {
                format!("plant_id,{l},notes\n")
            } else {
                format!("p{i},{l},\"seen, twice\"\n")
            }
        })
        .collect();
    let with_id = write(dir.path(), "with_id.csv", &with_id);
    let (code, out, err) = run(
        &["predict", "--id-column", "plant_id", "--model"],
        &[&model, Path::new("--data"), &with_id],
    );
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("ignoring 1 column the model does not use: notes"),
        "{err}"
    );
    let mut lines = out.lines();
    assert_eq!(
        lines.next(),
        Some("plant_id,class,p_setosa,p_versicolor,p_virginica")
    );
    let body: Vec<&str> = lines.collect();
    let plain: Vec<&str> = expected.lines().skip(1).collect();
    assert_eq!(body.len(), plain.len());
    for (i, (a, b)) in body.iter().zip(&plain).enumerate() {
        assert_eq!(*a, format!("p{},{b}", i + 1));
    }

    // a renamed feature is an error naming it
    let renamed = write(
        dir.path(),
        "renamed.csv",
        &test.replacen("petal_width", "petal_w", 1),
    );
    let (code, _, err) = run(
        &["predict", "--model"],
        &[&model, Path::new("--data"), &renamed],
    );
    assert_eq!(code, 1);
    assert!(
        err.contains("1 of the model's 4 features is missing from the header: 'petal_width'"),
        "{err}"
    );

    // without a header the count must match (the label column may stay)
    let no_header: String = test.lines().skip(1).map(|l| format!("{l}\n")).collect();
    let no_header = write(dir.path(), "no_header.csv", &no_header);
    assert_eq!(predict_csv(&model, &no_header, &["--no-header"]), expected);
    let three: String = test
        .lines()
        .skip(1)
        .map(|l| l.splitn(4, ',').take(3).collect::<Vec<_>>().join(",") + "\n")
        .collect();
    let three = write(dir.path(), "three.csv", &three);
    let (code, _, err) = run(
        &["predict", "--no-header", "--model"],
        &[&model, Path::new("--data"), &three],
    );
    assert_eq!(code, 1);
    assert!(
        err.contains("3 feature columns, but the model takes 4 features"),
        "{err}"
    );
}

#[test]
fn pandas_headers_are_detected() {
    use backprop::data::{csv, LoadOptions};
    let opts = LoadOptions::default();
    // Before the fix the header row was data, and `label` a fourth class.
    let words = "0,1,2,3,label\n5.1,3.5,1.4,0.2,setosa\n7.0,3.2,4.7,1.4,versicolor\n\
                 6.3,3.3,6.0,2.5,virginica\n4.9,3.0,1.4,0.2,setosa\n";
    let t = csv::parse(words, "p.csv", &opts).unwrap();
    assert_eq!(t.feature_names, ["0", "1", "2", "3"]);
    assert_eq!(t.target_names, ["label"]);
    assert_eq!(t.rows(), 4);
    assert_eq!(t.class_map().unwrap().len(), 3);
    assert_eq!(t.header_guess, None);
    let numbers = "0,1,2,label\n5.5,1,2,0\n6.5,3,4,1\n";
    let t = csv::parse(numbers, "p.csv", &opts).unwrap();
    assert_eq!((t.rows(), t.feature_names.len()), (2, 3));
    // Data whose first row's class occurs once, or a header of numbers
    // above a text label (`400,410,quality`)? The only hint is that row:
    // an error that asks, and the flags decide.
    let rare_first = "5.1,3.5,virginica\n4.9,3.0,setosa\n4.7,3.2,setosa\n6.4,3.2,versicolor\n\
                      6.9,3.1,versicolor\n";
    let e = csv::parse(rare_first, "r.csv", &opts)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("cannot tell whether the first row is a header or data")
            && e.contains("'virginica' occurs only once"),
        "{e}"
    );
    let dir = tmp();
    let f = write(dir.path(), "rare.csv", rare_first);
    let (code, _, err) = run(&["train", "--epochs", "1", "--data"], &[&f]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("say which (--header or --no-header)"), "{err}");
    let (code, out, err) = run(&["train", "--epochs", "1", "--no-header", "--data"], &[&f]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("5 training rows"), "{out}");
    let (code, out, err) = run(&["train", "--epochs", "1", "--header", "--data"], &[&f]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("4 training rows"), "{out}");
    // A word above numbers is a header, surely: no note (the model is
    // saved, so no note says it is not).
    let (_, _, err) = run(
        &["train", "--epochs", "1", "--data"],
        &[
            &data("iris.train.csv"),
            Path::new("--out"),
            &dir.path().join("m.st"),
        ],
    );
    assert!(!err.contains("note:"), "{err}");
}

#[test]
fn labels_are_the_distinct_values() {
    let dir = tmp();
    let classes_of = |labels: &[&str], extra: &[&str]| -> serde_json::Value {
        let text: String = std::iter::once("x,y\n".to_string())
            .chain(labels.iter().enumerate().map(|(i, l)| format!("{i},{l}\n")))
            .collect();
        let f = write(dir.path(), "l.csv", &text);
        let model = dir.path().join("l.st");
        train_to(&model, &f, &[&["--epochs", "1"], extra].concat());
        let out = bin()
            .args(["info", "--json", "--model"])
            .arg(&model)
            .output()
            .unwrap();
        serde_json::from_slice(&out.stdout).unwrap()
    };
    // Before the fix: 3 outputs with a class 0 that never occurs.
    let i = classes_of(&["1", "2", "1", "2"], &[]);
    assert_eq!(i["class_names"], serde_json::json!(["1", "2"]));
    assert_eq!(i["sizes"][2], 1);
    // Before: 11 outputs.
    let i = classes_of(&["0", "1", "2", "9", "10", "2"], &[]);
    assert_eq!(
        i["class_names"],
        serde_json::json!(["0", "1", "2", "9", "10"])
    );
    assert_eq!(i["sizes"][2], 5);
    // Before: two classes.
    let i = classes_of(&["1", "1.0", "01", "2", "2.0", "3"], &[]);
    assert_eq!(i["class_names"], serde_json::json!(["1", "2", "3"]));
    // Before: NA was a class.
    let f = write(dir.path(), "na.csv", "x,y\n1,a\n2,b\n3,NA\n4,a\n");
    let (code, _, err) = run(&["train", "--data"], &[&f]);
    assert_eq!(code, 1);
    assert!(
        err.contains("na.csv:4: column 'y': the label 'NA' marks a missing value"),
        "{err}"
    );
}

#[test]
fn regression_standardises_targets_and_reports_r2() {
    let dir = tmp();
    let (train, test) = (data("diabetes.train.csv"), data("diabetes.test.csv"));
    // Before the fix a continuous target became 187 classes; then it was
    // refused; now many distinct numbers with fractions are a regression.
    let (code, out, err) = run(&["train", "--epochs", "1", "--data"], &[&train]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("mse head"), "{out}");
    // Counts are not classes: many distinct integers are refused, with the
    // two heads to choose from.
    let counts: String = std::iter::once("a,visits\n".to_string())
        .chain((0..60).map(|i| format!("{i},{}\n", (i * 7) % 31)))
        .collect();
    let f = write(dir.path(), "counts.csv", &counts);
    let (code, _, err) = run(&["train", "--data"], &[&f]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("31 distinct integers (0 to 30)")
            && err.contains("use --head mse")
            && err.contains("say --head softmax"),
        "{err}"
    );
    let (code, _, err) = run(
        &["train", "--epochs", "1", "--head", "softmax", "--data"],
        &[&f],
    );
    assert_eq!(code, 0, "{err}");
    // Default settings do not diverge (they did in epoch 1: raw targets).
    let model = dir.path().join("d.st");
    train_to(&model, &train, &["--head", "mse"]);
    let e = eval_json(&model, &test);
    for k in ["mse", "rmse", "mae", "r2"] {
        assert!(e[k].is_number(), "{k} in {e}");
    }
    assert!(e["r2"].as_f64().unwrap() > 0.0, "{e}");
    // The bar: no worse than least squares on the same split (0.3322, see
    // data/README.md) minus 0.02, with the settings the README gives.
    train_to(&model, &train, &["--head", "mse", "--weight-decay", "0.1"]);
    let e = eval_json(&model, &test);
    let r2 = e["r2"].as_f64().unwrap();
    assert!(r2 >= 0.3322 - 0.02, "test R² {r2} vs OLS 0.3322");
    assert_eq!(e["targets"][0]["name"], "progression");
    // predictions are named after the target and in its units
    let p = predict_csv(&model, &test, &[]);
    let mut lines = p.lines();
    assert_eq!(lines.next(), Some("progression"));
    let values: Vec<f64> = lines.map(|l| l.parse().unwrap()).collect();
    let mean = values.iter().sum::<f64>() / values.len() as f64;
    assert!((100.0..200.0).contains(&mean), "mean prediction {mean}");
}

/// A regression's R² per epoch: in the text lines, the JSON lines and the
/// summary, and as the plot's second chart; the final one is eval's (issue 20).
#[test]
fn regressions_report_r2_every_epoch() {
    let dir = tmp();
    let (train, test) = (data("diabetes.train.csv"), data("diabetes.test.csv"));
    let (model, svg) = (dir.path().join("d.st"), dir.path().join("c.svg"));
    let common = ["train", "--head", "mse", "--epochs", "4", "--layers", "8"];
    let (code, out, err) = run(
        &common,
        &[
            Path::new("--data"),
            &train,
            Path::new("--test-data"),
            &test,
            Path::new("--out"),
            &model,
            Path::new("--plot"),
            &svg,
        ],
    );
    assert_eq!(code, 0, "{err}");
    let epochs: Vec<&str> = out.lines().filter(|l| l.starts_with("epoch ")).collect();
    assert_eq!(epochs.len(), 4, "{out}");
    assert!(epochs.iter().all(|l| l.contains("  test R² ")), "{out}");
    let last = out
        .lines()
        .find(|l| l.starts_with("final test R² "))
        .expect(&out);
    let e = eval_json(&model, &test);
    let r2 = e["r2"].as_f64().unwrap();
    assert_eq!(last, format!("final test R² {r2:.4}"));
    assert!(epochs[3].contains(&format!("test R² {r2:.4}")), "{out}");
    let plot = fs::read_to_string(&svg).unwrap();
    assert!(plot.contains("R² per epoch"), "no R² chart");

    // JSON: the held-out (validation) R² and the test R² beside it
    let (code, out, err) = run(
        &[
            "train",
            "--json",
            "--head",
            "mse",
            "--epochs",
            "3",
            "--validation-split",
            "0.2",
        ],
        &[Path::new("--data"), &train, Path::new("--test-data"), &test],
    );
    assert_eq!(code, 0, "{err}");
    let lines: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    for l in &lines {
        assert!(l["validation_r2"].as_f64().unwrap() <= 1.0, "{l}");
        assert!(l["test_r2"].is_number(), "{l}");
    }
    assert_eq!(
        lines[3]["validation_r2"], lines[2]["validation_r2"],
        "the summary"
    );
    // classifiers' lines carry no R²
    let (_, out, _) = run(&["train", "--json", "--epochs", "1"], &[]);
    assert!(!out.contains("r2"), "{out}");
}

/// Errors of a small-scale target keep their significant digits in eval's
/// table instead of printing 0.000000 (issue 20).
#[test]
fn eval_prints_small_errors_with_significant_digits() {
    let dir = tmp();
    let mut text = String::from("x,y\n");
    for i in 0..120u32 {
        let x = f64::from(i % 40) / 40.0;
        text += &format!("{x},{}\n", 1e-6 * (x * 3.0 + f64::from(i % 7) / 7.0));
    }
    let f = write(dir.path(), "tiny.csv", &text);
    let model = dir.path().join("t.st");
    train_to(&model, &f, &["--head", "mse", "--epochs", "3"]);
    let (code, out, err) = run(&["eval", "--model"], &[&model, Path::new("--data"), &f]);
    assert_eq!(code, 0, "{err}");
    let row = out.lines().find(|l| l.starts_with("y ")).expect(&out);
    assert!(!row.contains("0.000000"), "{out}");
    let e = eval_json(&model, &f);
    let cells: Vec<f64> = row
        .split_whitespace()
        .skip(1)
        .map(|c| c.parse().unwrap())
        .collect();
    for (cell, k) in cells.iter().zip(["mse", "rmse", "mae"]) {
        let v = e[k].as_f64().unwrap();
        assert!(
            v > 0.0 && ((cell - v) / v).abs() < 1e-5,
            "{k}: {cell} vs {v}: {out}"
        );
    }
}

#[test]
fn several_label_columns() {
    let dir = tmp();
    // two numeric targets: multi-output regression
    let mut text = String::from("a,b,y1,y2\n");
    let mut multi = String::from("a,b,cat,dog\n");
    for i in 0..200 {
        let (a, b) = ((i % 20) as f64 / 10.0, (i / 20) as f64 / 5.0);
        text += &format!("{a},{b},{},{}\n", 3.0 * a - b, 100.0 + 10.0 * b);
        multi += &format!("{a},{b},{},{}\n", u8::from(a > 1.0), u8::from(b > 1.0));
    }
    let f = write(dir.path(), "two.csv", &text);
    let model = dir.path().join("two.st");
    train_to(
        &model,
        &f,
        &["--head", "mse", "--label-column", "y1,y2", "--epochs", "60"],
    );
    let e = eval_json(&model, &f);
    assert_eq!(e["targets"].as_array().unwrap().len(), 2);
    assert_eq!(e["targets"][1]["name"], "y2");
    assert!(e["r2"].as_f64().unwrap() > 0.9, "{e}");
    assert!(predict_csv(&model, &f, &[]).starts_with("y1,y2\n"));
    // 0/1 columns: multi-label under the sigmoid head (chosen by default)
    let f = write(dir.path(), "multi.csv", &multi);
    let model = dir.path().join("multi.st");
    train_to(&model, &f, &["--label-column", "cat,dog", "--epochs", "60"]);
    let e = eval_json(&model, &f);
    assert_eq!(e["task"], "multi-label");
    assert!(e["exact_match"].as_f64().unwrap() > 0.9, "{e}");
    assert!(predict_csv(&model, &f, &[]).starts_with("cat,p_cat,dog,p_dog\n"));
}

#[test]
fn csv_dialects_stdin_and_gzip() {
    use std::io::Write as _;
    let dir = tmp();
    // quoted fields, a delimiter and a line break inside quotes, doubled
    // quotes, spaces around numbers, trailing blank lines; ';' sniffed
    let text =
        "\"size; cm\";weight;\"kind\"\n 1.5 ;2;\"big; \"\"round\"\"\"\n2.5;3;\"small\none\"\n\
                3;4;\"big; \"\"round\"\"\"\n4;1;\"small\none\"\n\n\n";
    let f = write(dir.path(), "q.csv", text);
    let model = dir.path().join("q.st");
    train_to(&model, &f, &["--epochs", "2"]);
    let info = bin()
        .args(["info", "--json", "--model"])
        .arg(&model)
        .output()
        .unwrap();
    let info: serde_json::Value = serde_json::from_slice(&info.stdout).unwrap();
    assert_eq!(
        info["feature_names"],
        serde_json::json!(["size; cm", "weight"])
    );
    assert_eq!(
        info["class_names"],
        serde_json::json!(["big; \"round\"", "small\none"])
    );
    assert_eq!(info["csv_layout"]["delimiter"], ";");
    // a bad value is named by its line, past the quoted line breaks
    let bad = write(dir.path(), "bad.csv", &text.replace("4;1;", "4;x;"));
    let (code, _, err) = run(&["train", "--data"], &[&bad]);
    assert_eq!(code, 1);
    assert!(
        err.contains("bad.csv:6: column 'weight': 'x' is not a number"),
        "{err}"
    );
    // standard input, with the model's delimiter
    let out = bin()
        .args(["predict", "--data", "-", "--model"])
        .arg(&model)
        .write_stdin(text)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        predict_csv(&model, &f, &[])
    );
    // .csv.gz
    let gz = dir.path().join("iris.csv.gz");
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(&fs::read(data("iris.test.csv")).unwrap())
        .unwrap();
    fs::write(&gz, enc.finish().unwrap()).unwrap();
    let iris = dir.path().join("iris.st");
    train_to(&iris, &data("iris.train.csv"), &["--epochs", "5"]);
    assert_eq!(
        predict_csv(&iris, &gz, &[]),
        predict_csv(&iris, &data("iris.test.csv"), &[])
    );
    // one column: the error suggests --delimiter
    let one = write(dir.path(), "one.csv", "a b c\n1 2 3\n4 5 6\n");
    let (code, _, err) = run(&["train", "--data"], &[&one]);
    assert_eq!(code, 1);
    assert!(err.contains("give --delimiter"), "{err}");
    // --ignore-columns drops an id column from the features
    let ids = write(
        dir.path(),
        "ids.csv",
        "id,x,y\n17,0.1,a\n18,0.9,b\n19,0.2,a\n20,0.8,b\n",
    );
    let m = dir.path().join("ids.st");
    train_to(&m, &ids, &["--ignore-columns", "id", "--epochs", "1"]);
    let info = bin()
        .args(["info", "--json", "--model"])
        .arg(&m)
        .output()
        .unwrap();
    let info: serde_json::Value = serde_json::from_slice(&info.stdout).unwrap();
    assert_eq!(info["feature_names"], serde_json::json!(["x"]));
}

#[test]
fn output_paths_are_checked_before_training() {
    let dir = tmp();
    let missing = dir.path().join("no/such/folder/m.st");
    let (code, out, err) = run(&["train", "--out"], &[&missing]);
    assert_eq!(code, 2);
    assert!(err.contains("invalid option --out: the folder"), "{err}");
    assert!(out.is_empty(), "nothing trained: {out}");
    let (code, _, err) = run(&["train", "--plot"], &[&dir.path().join("c.png")]);
    assert_eq!(code, 2);
    assert!(err.contains("give a name ending in .svg"), "{err}");
    let (code, _, err) = run(&["train", "--checkpoint"], &[dir.path()]);
    assert_eq!(code, 2);
    assert!(err.contains("is a folder"), "{err}");
    // a missing file is named once, its error said once
    let (code, _, err) = run(&["train", "--data"], &[&dir.path().join("nope.csv")]);
    assert_eq!(code, 1);
    assert_eq!(err.matches("No such file or directory").count(), 1, "{err}");
}

/// 200 rows, 40 of class `rare` (the alphabetically first) and 160 of
/// `usual`, overlapping so that both kinds of error occur.
fn rare_and_usual(dir: &Path, name: &str, rare_every: u32) -> PathBuf {
    let mut text = String::from("a,b,y\n");
    for i in 0..200u32 {
        let rare = i % rare_every == 0;
        let a = f64::from((i * 37) % 100) / 100.0 + if rare { 0.35 } else { 0.0 };
        let b = f64::from((i * 53) % 100) / 100.0;
        text += &format!("{a},{b},{}\n", if rare { "rare" } else { "usual" });
    }
    write(dir, name, &text)
}

/// A binary model's positive class: the minority by default (named by
/// train, info and eval), or `--positive-class`; stored in the model and
/// used by eval's binary metrics, predict's class and `--threshold`; a
/// model without the key keeps the last class. `--threshold` on a softmax
/// or mse model is an error (issue 20).
#[test]
fn the_positive_class_is_chosen_stored_and_used() {
    let dir = tmp();
    let file = rare_and_usual(dir.path(), "d.csv", 5);
    let model = dir.path().join("m.st");
    let (code, out, err) = run(
        &["train", "--epochs", "15", "--layers", "8"],
        &[Path::new("--data"), &file, Path::new("--out"), &model],
    );
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("positive class 'rare' (the training rows' minority class"),
        "{out}"
    );
    let info = run(&["info", "--json", "--model"], &[&model]).1;
    let info: serde_json::Value = serde_json::from_str(&info).unwrap();
    assert_eq!(info["positive_class"], "rare");
    let e = eval_json(&model, &file);
    assert_eq!(e["positive_class"], "rare");
    // the headline figures are those of class 'rare' in the per-class table
    let rare = &e["per_class"][0];
    assert_eq!(rare["class"], "rare");
    for k in ["precision", "recall", "f1"] {
        assert_eq!(e[k], rare[k], "{k}: {e}");
    }
    // --threshold compares the positive class's probability
    let csv = predict_csv(&model, &file, &["--threshold", "0.3"]);
    let mut rows = csv.lines();
    assert_eq!(rows.next(), Some("class,p_rare,p_usual"));
    let mut rare_predicted = 0;
    for row in rows {
        let cells: Vec<&str> = row.split(',').collect();
        let p_rare: f32 = cells[1].parse().unwrap();
        assert_eq!(cells[0] == "rare", p_rare >= 0.3, "{row}");
        rare_predicted += usize::from(cells[0] == "rare");
    }
    assert!(rare_predicted > 0, "{csv}");
    let e3 = eval_json_with(&model, &file, &["--threshold", "0.3"]);
    assert_eq!(
        e3["confusion_matrix"][0][0].as_u64().unwrap()
            + e3["confusion_matrix"][1][0].as_u64().unwrap(),
        rare_predicted as u64
    );

    // chosen: the same weights, the other class positive
    let chosen = dir.path().join("chosen.st");
    let (code, out, err) = run(
        &[
            "train",
            "--json",
            "--epochs",
            "15",
            "--layers",
            "8",
            "--positive-class",
            "usual",
        ],
        &[Path::new("--data"), &file, Path::new("--out"), &chosen],
    );
    assert_eq!(code, 0, "{err}");
    let summary: serde_json::Value = serde_json::from_str(out.lines().last().unwrap()).unwrap();
    assert_eq!(summary["positive_class"], "usual");
    let (a, b) = (
        backprop::model_io::load_model(&model).unwrap(),
        backprop::model_io::load_model(&chosen).unwrap(),
    );
    assert_eq!(a.mlp, b.mlp, "the positive class changes no weight");
    let e = eval_json(&chosen, &file);
    assert_eq!(e["positive_class"], "usual");
    assert_eq!(e["precision"], e["per_class"][1]["precision"]);

    // a model written before the key: the last class, as before
    let old = dir.path().join("old.st");
    let mut meta = a.meta.clone();
    meta.positive_class = None;
    backprop::model_io::save_model(&old, &a.mlp, &meta).unwrap();
    assert_eq!(eval_json(&old, &file)["positive_class"], "usual");
    let info = run(&["info", "--model"], &[&old]).1;
    assert!(info.contains("positive class 'usual'"), "{info}");

    // a tie goes to the last class
    let even = rare_and_usual(dir.path(), "even.csv", 2);
    let tie = dir.path().join("tie.st");
    train_to(&tie, &even, &["--epochs", "2"]);
    assert_eq!(eval_json(&tie, &even)["positive_class"], "usual");

    // errors: a class that is not one, a model that is not binary
    let (code, _, err) = run(
        &[
            "train",
            "--epochs",
            "1",
            "--positive-class",
            "common",
            "--data",
        ],
        &[&file],
    );
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("invalid option --positive-class: 'common' is not a class"),
        "{err}"
    );
    let iris = dir.path().join("iris.st");
    let (code, _, err) = run(
        &[
            "train",
            "--epochs",
            "1",
            "--positive-class",
            "setosa",
            "--data",
        ],
        &[&data("iris.train.csv"), Path::new("--out"), &iris],
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("only a binary classifier"), "{err}");
    train_to(&iris, &data("iris.train.csv"), &["--epochs", "1"]);
    for cmd in ["eval", "predict"] {
        let (code, out, err) = run(
            &[cmd, "--threshold", "0.7", "--model"],
            &[&iris, Path::new("--data"), &data("iris.test.csv")],
        );
        assert_eq!(code, 2, "{cmd}: {err}");
        assert!(out.is_empty());
        assert!(
            err.contains("invalid option --threshold: 0.7: only a sigmoid model"),
            "{cmd}: {err}"
        );
    }
    // without --threshold, softmax models evaluate as before
    assert!(eval_json(&iris, &data("iris.test.csv"))["accuracy"].is_number());
}

/// `--checkpoint`, `--out` and `--plot` into one file, however spelled, is a
/// usage error naming both options, before any training (issue 20).
#[test]
fn outputs_into_one_file_are_a_usage_error() {
    let dir = tmp();
    let clash = |args: &[&str]| {
        let out = bin()
            .current_dir(dir.path())
            .args(["train", "--epochs", "1"])
            .args(args)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(out.stdout.is_empty(), "nothing trained: {args:?}");
        err
    };
    let err = clash(&["--out", "m.st", "--checkpoint", "m.st"]);
    assert!(
        err.contains("invalid option --checkpoint: m.st is the file --out writes too (m.st)"),
        "{err}"
    );
    let err = clash(&["--out", "m.st", "--checkpoint", "./m.st"]);
    assert!(
        err.contains("--checkpoint") && err.contains("--out"),
        "{err}"
    );
    fs::create_dir(dir.path().join("sub")).unwrap();
    let err = clash(&["--plot", "c.svg", "--checkpoint", "sub/../c.svg"]);
    assert!(
        err.contains("invalid option --checkpoint: sub/../c.svg is the file --plot writes too"),
        "{err}"
    );
    let err = clash(&["--out", "c.svg", "--plot", "./c.svg"]);
    assert!(err.contains("--plot") && err.contains("--out"), "{err}");
    #[cfg(unix)]
    {
        std::os::unix::fs::symlink("m.st", dir.path().join("link.st")).unwrap();
        let err = clash(&["--out", "link.st", "--checkpoint", "m.st"]);
        assert!(
            err.contains("--checkpoint") && err.contains("--out"),
            "{err}"
        );
    }
    assert!(
        !dir.path().join("m.st").exists() && !dir.path().join("c.svg").exists(),
        "nothing written"
    );
    // distinct files are fine
    bin()
        .current_dir(dir.path())
        .args(["train", "--quiet", "--epochs", "1", "--out", "m.st"])
        .args(["--checkpoint", "m.ckpt", "--plot", "c.svg"])
        .assert()
        .success();
}

/// A run without `--out` says on stderr that the model is not saved and
/// how to save it; `--json`'s standard output stays JSON (issue 20).
#[test]
fn train_without_out_says_the_model_is_not_saved() {
    let (code, out, err) = run(&["train", "--json", "--epochs", "1"], &[]);
    assert_eq!(code, 0, "{err}");
    for line in out.lines() {
        serde_json::from_str::<serde_json::Value>(line).expect("only JSON lines on stdout");
    }
    assert!(!out.contains("not saved"), "{out}");
    let said: Vec<&str> = err.lines().filter(|l| l.contains("not saved")).collect();
    assert_eq!(said.len(), 1, "{err}");
    assert!(said[0].contains("--out FILE"), "{err}");
    // text and --quiet runs say it too; a run with --out does not
    for extra in [&[][..], &["--quiet"][..]] {
        let mut args = vec!["train", "--epochs", "1"];
        args.extend_from_slice(extra);
        let (code, _, err) = run(&args, &[]);
        assert_eq!(code, 0, "{err}");
        assert_eq!(err.matches("the model was not saved").count(), 1, "{err}");
    }
    let dir = tmp();
    let (code, _, err) = run(
        &["train", "--quiet", "--epochs", "1", "--out"],
        &[&dir.path().join("m.st")],
    );
    assert_eq!(code, 0, "{err}");
    assert!(!err.contains("not saved"), "{err}");
}

/// Every output path goes through one writer: a link is followed (its
/// target replaced, the link kept), a FIFO or a device is written in place
/// (never replaced by a plain file), a folder is refused (issue 20).
#[cfg(unix)]
#[test]
fn outputs_follow_links_and_write_devices_and_fifos_in_place() {
    use std::io::Read;
    use std::os::unix::fs::{symlink, FileTypeExt};
    let dir = tmp();
    let real = dir.path().join("real");
    fs::create_dir(&real).unwrap();
    for name in ["m.st", "c.svg", "run.ckpt"] {
        fs::write(real.join(name), b"old").unwrap();
        symlink(real.join(name), dir.path().join(name)).unwrap();
    }
    let (code, _, err) = run(
        &["train", "--quiet", "--epochs", "2"],
        &[
            Path::new("--out"),
            &dir.path().join("m.st"),
            Path::new("--plot"),
            &dir.path().join("c.svg"),
            Path::new("--checkpoint"),
            &dir.path().join("run.ckpt"),
        ],
    );
    assert_eq!(code, 0, "{err}");
    for name in ["m.st", "c.svg", "run.ckpt"] {
        let link = dir.path().join(name);
        assert!(fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink());
        assert_ne!(fs::read(real.join(name)).unwrap(), b"old", "{name}");
    }
    backprop::model_io::load_model(&real.join("m.st")).unwrap();

    // predict into a FIFO, read by a thread
    let fifo = dir.path().join("pipe.csv");
    if !std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .is_ok_and(|s| s.success())
    {
        println!("skipped the FIFO: mkfifo failed");
        return;
    }
    let reader = {
        let fifo = fifo.clone();
        std::thread::spawn(move || {
            let mut text = String::new();
            fs::File::open(&fifo)
                .unwrap()
                .read_to_string(&mut text)
                .unwrap();
            text
        })
    };
    let test = data("breast_cancer.test.csv");
    let (code, _, err) = run(
        &["predict", "--model"],
        &[
            &dir.path().join("m.st"),
            Path::new("--data"),
            &test,
            Path::new("--out"),
            &fifo,
        ],
    );
    assert_eq!(code, 0, "{err}");
    // before joining: a FIFO replaced by a file would leave the reader waiting
    assert!(fs::symlink_metadata(&fifo).unwrap().file_type().is_fifo());
    let text = reader.join().unwrap();
    assert_eq!(text, predict_csv(&real.join("m.st"), &test, &[]));

    // a device node (root only, where the filesystem allows devices)
    let null = dir.path().join("null");
    let made = std::process::Command::new("mknod")
        .arg(&null)
        .args(["c", "1", "3"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !made || fs::OpenOptions::new().write(true).open(&null).is_err() {
        println!("skipped the device node: mknod failed or devices are not allowed here");
        return;
    }
    let (code, _, err) = run(&["train", "--quiet", "--epochs", "1", "--out"], &[&null]);
    assert_eq!(code, 0, "{err}");
    let kind = fs::symlink_metadata(&null).unwrap().file_type();
    assert!(kind.is_char_device(), "{kind:?}");
}

/// The first SIGINT stops after the current batch, writes the model and a
/// checkpoint that records the position in the epoch, and exits 130;
/// resuming gives the bits of an uninterrupted run.
#[test]
fn ctrl_c_saves_and_resume_is_bit_exact() {
    use std::io::{BufRead, BufReader};
    use std::process::{Command as Std, Stdio};
    let dir = tmp();
    // enough rows that an epoch has many batches
    let mut text = String::from("a,b,c,y\n");
    for i in 0..3000u32 {
        let v = |k: u32| ((i * 7919 + k * 104_729) % 1000) as f32 / 1000.0;
        text += &format!(
            "{},{},{},{}\n",
            v(1),
            v(2),
            v(3),
            u8::from(v(1) + v(2) > 1.0)
        );
    }
    let f = write(dir.path(), "big.csv", &text);
    let epochs = "400";
    let args = |out: &Path| -> Vec<std::ffi::OsString> {
        vec![
            "train".into(),
            "--data".into(),
            f.clone().into(),
            "--epochs".into(),
            epochs.into(),
            "--batch-size".into(),
            "8".into(),
            "--layers".into(),
            "64".into(),
            "--threads".into(),
            "1".into(),
            "--out".into(),
            out.into(),
        ]
    };
    let full = dir.path().join("full.st");
    bin().args(args(&full)).arg("--quiet").assert().success();

    let part = dir.path().join("part.st");
    let ckpt = dir.path().join("run.ckpt");
    let mut child = Std::new(assert_cmd::cargo::cargo_bin("backprop"))
        .args(args(&part))
        .arg("--checkpoint")
        .arg(&ckpt)
        .args(["--checkpoint-every", "1000"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // wait for the first epoch line, then interrupt
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    while let Some(Ok(l)) = lines.next() {
        if l.starts_with("epoch ") {
            break;
        }
    }
    let killed = Std::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{err}");
    assert!(err.contains("interrupted"), "{err}");
    assert!(fs::metadata(&part).is_ok(), "the model is written");
    // resume, on another thread count: the same bits as the uninterrupted run
    let resumed = dir.path().join("resumed.st");
    let mut resume = args(&resumed);
    resume[10] = "2".into(); // --threads
    bin()
        .args(resume)
        .arg("--resume")
        .arg(&ckpt)
        .arg("--quiet")
        .assert()
        .success();
    let (a, b) = (
        backprop::model_io::load_model(&full).unwrap(),
        backprop::model_io::load_model(&resumed).unwrap(),
    );
    let bits = |m: &backprop::Mlp| m.params().iter().map(|v| v.to_bits()).collect::<Vec<_>>();
    assert_eq!(bits(&a.mlp), bits(&b.mlp));
}

/// A SIGINT while the data are read (before any batch) exits 130 at once,
/// naming the file, and writes nothing (issue 20). The data come through a
/// pipe kept open, so the child is surely reading when the signal comes.
#[cfg(unix)]
#[test]
fn ctrl_c_while_loading_exits_130_naming_the_file() {
    use std::io::Write;
    use std::process::{Command as Std, Stdio};
    let dir = tmp();
    let model = dir.path().join("m.st");
    let mut child = Std::new(assert_cmd::cargo::cargo_bin("backprop"))
        .args(["train", "--data", "-", "--epochs", "1", "--out"])
        .arg(&model)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    // more than a pipe holds: once written, the child has read most of it
    let mut text = String::from("a,b,y\n");
    for i in 0..200_000u32 {
        text += &format!("{},{},{}\n", i % 97, i % 13, i % 2);
    }
    stdin.write_all(text.as_bytes()).unwrap();
    // the child waits for more rows: interrupt it
    let killed = Std::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let out = child.wait_with_output().unwrap();
    drop(stdin);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{err}");
    assert!(
        err.contains("interrupted while loading standard input; nothing was written"),
        "{err}"
    );
    assert!(out.stdout.is_empty(), "no training: {:?}", out.stdout);
    assert!(!model.exists(), "nothing written");
}

/// `--epochs 3 --checkpoint c --checkpoint-every 3`, then `--resume c
/// --epochs 6`, gives a model byte-identical to one 6-epoch run, for every
/// optimizer, with cosine and plateau schedules, warm-up and clipping.
#[test]
fn resume_is_byte_identical_for_every_optimizer_and_schedule() {
    let dir = tmp();
    let train = data("iris.train.csv");
    let test = data("iris.test.csv");
    for (i, opt) in [
        &["--optimizer", "sgd", "--momentum", "0.9", "--nesterov"][..],
        &["--optimizer", "adam", "--weight-decay", "0.01"],
        &["--optimizer", "adamw", "--weight-decay", "0.1"],
        &["--optimizer", "rmsprop"],
    ]
    .iter()
    .enumerate()
    {
        for sched in [
            &[
                "--lr-schedule",
                "cosine",
                "--lr-min",
                "0.0001",
                "--lr-cosine-epochs",
                "6",
                "--warmup-epochs",
                "1",
            ][..],
            &[
                "--lr-schedule",
                "plateau",
                "--lr-patience",
                "0",
                "--lr-gamma",
                "0.5",
            ],
        ] {
            let common = |out: &Path| {
                let mut c = bin();
                c.arg("train")
                    .arg("--data")
                    .arg(&train)
                    .arg("--test-data")
                    .arg(&test)
                    .args(["--quiet", "--batch-size", "16", "--clip-norm", "1"])
                    .args(*opt)
                    .args(sched)
                    .arg("--out")
                    .arg(out);
                c
            };
            let full = dir.path().join(format!("full{i}.st"));
            common(&full).args(["--epochs", "6"]).assert().success();
            let ckpt = dir.path().join(format!("c{i}.ckpt"));
            let part = dir.path().join(format!("part{i}.st"));
            common(&part)
                .args(["--epochs", "3", "--checkpoint-every", "3", "--checkpoint"])
                .arg(&ckpt)
                .assert()
                .success();
            let resumed = dir.path().join(format!("resumed{i}.st"));
            common(&resumed)
                .args(["--epochs", "6", "--threads", "1", "--resume"])
                .arg(&ckpt)
                .assert()
                .success();
            assert_eq!(
                fs::read(&full).unwrap(),
                fs::read(&resumed).unwrap(),
                "{opt:?} {sched:?}"
            );
        }
    }
    // A resume with another optimizer is refused, naming the option.
    let ckpt = dir.path().join("c0.ckpt");
    let (code, _, err) = run(
        &["train", "--optimizer", "adam", "--epochs", "6", "--resume"],
        &[&ckpt, Path::new("--data"), &train],
    );
    assert_eq!(code, 2);
    assert!(err.contains("invalid option --optimizer"), "{err}");
}

/// `--validation-split` with `--test-data`: the validation split is the
/// held-out set (plateau watches it), the test set is reported beside it in
/// the text, the JSON lines, the plot and the training record.
#[test]
fn validation_split_and_test_data_together() {
    let dir = tmp();
    let svg = dir.path().join("c.svg");
    let model = dir.path().join("m.st");
    let (code, out, err) = run(
        &[
            "train",
            "--validation-split",
            "0.25",
            "--epochs",
            "3",
            "--lr-schedule",
            "plateau",
            "--data",
        ],
        &[
            &data("iris.train.csv"),
            Path::new("--test-data"),
            &data("iris.test.csv"),
            Path::new("--plot"),
            &svg,
            Path::new("--out"),
            &model,
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("90 training rows, 30 validation rows, 30 test rows"),
        "{out}"
    );
    let epoch = out.lines().find(|l| l.starts_with("epoch   3")).unwrap();
    assert!(
        epoch.contains("val loss") && epoch.contains("test loss"),
        "{epoch}"
    );
    assert!(out.contains("final validation accuracy") && out.contains("final test accuracy"));
    let plot = fs::read_to_string(&svg).unwrap();
    let legend = |name: &str| plot.lines().filter(|l| l.trim() == name).count();
    assert_eq!((legend("validation"), legend("test")), (2, 2), "{plot}");
    let info = bin()
        .args(["info", "--json", "--model"])
        .arg(&model)
        .output()
        .unwrap();
    let info: serde_json::Value = serde_json::from_slice(&info.stdout).unwrap();
    let t = &info["training"];
    assert!(
        t["final_validation_loss"].is_string() && t["final_test_loss"].is_string(),
        "{t}"
    );
    let json = bin()
        .args([
            "train",
            "--json",
            "--validation-split",
            "0.25",
            "--epochs",
            "2",
            "--data",
        ])
        .arg(data("iris.train.csv"))
        .arg("--test-data")
        .arg(data("iris.test.csv"))
        .output()
        .unwrap();
    let lines: Vec<serde_json::Value> = String::from_utf8(json.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    for l in &lines {
        assert!(
            l["validation_loss"].is_number() && l["test_loss"].is_number(),
            "{l}"
        );
    }
    assert_ne!(lines[0]["validation_loss"], lines[0]["test_loss"]);
}

/// Early stopping on a task that overfits (digits, a wide network, a high
/// rate) stops before the epoch limit; the model is the best epoch's; a run
/// checkpointed after 3 epochs and resumed (on another thread count) ends
/// with the same bytes.
#[test]
fn early_stopping_keeps_the_best_epoch_and_resumes_bit_for_bit() {
    let dir = tmp();
    let common = |out: &Path| {
        let mut c = bin();
        c.args(["train", "--data"])
            .arg(data("digits.train.csv"))
            .args(["--validation-split", "0.2", "--test-data"])
            .arg(data("digits.test.csv"))
            // constant: 3 epochs resumed to 60 is then the run of 60
            .args([
                "--layers",
                "256",
                "--lr",
                "0.03",
                "--lr-schedule",
                "constant",
            ])
            .args(["--early-stopping", "--patience", "4", "--json", "--out"])
            .arg(out);
        c
    };
    let full = dir.path().join("full.st");
    let out = common(&full).args(["--epochs", "60"]).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<serde_json::Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let summary = lines.last().unwrap();
    assert_eq!(summary["stopped_early"], true, "{summary}");
    let epochs = summary["epochs"].as_u64().unwrap();
    assert!(epochs < 60, "stopped at {epochs}");
    let best = summary["best_epoch"].as_u64().unwrap();
    assert_eq!(epochs, best + 4, "patience 4 after the best epoch");
    // the best epoch has the lowest validation loss of the run
    let losses: Vec<f64> = lines[..lines.len() - 1]
        .iter()
        .map(|l| l["validation_loss"].as_f64().unwrap())
        .collect();
    let min = losses.iter().cloned().fold(f64::INFINITY, f64::min);
    assert_eq!(losses[best as usize - 1], min);
    let info = bin()
        .args(["info", "--json", "--model"])
        .arg(&full)
        .output()
        .unwrap();
    let info: serde_json::Value = serde_json::from_slice(&info.stdout).unwrap();
    assert_eq!(
        info["training"]["best_validation_loss"].as_str().unwrap(),
        min.to_string()
    );
    // the figures info shows are the kept (best) epoch's, not the last one's
    let at_best = &lines[best as usize - 1];
    let last = &lines[lines.len() - 2];
    for k in [
        "validation_loss",
        "validation_accuracy",
        "train_loss",
        "test_accuracy",
    ] {
        let shown: f64 = info["training"][format!("final_{k}")]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        // (JSON text parsed back may differ in the last bit)
        let near = |v: &serde_json::Value| (shown - v[k].as_f64().unwrap()).abs() < 1e-12;
        assert!(near(at_best), "{k}: {shown} vs {at_best}");
        if k == "validation_loss" {
            assert!(!near(last), "{k}: the last epoch's: {last}");
        }
    }
    // checkpoint after 3 epochs, resume to the end on 1 thread: same bytes
    let ckpt = dir.path().join("es.ckpt");
    let part = dir.path().join("part.st");
    let mut first = common(&part);
    first.args(["--epochs", "3", "--checkpoint"]).arg(&ckpt);
    assert!(first.output().unwrap().status.success());
    let resumed = dir.path().join("resumed.st");
    let out = common(&resumed)
        .args(["--epochs", "60", "--threads", "1", "--resume"])
        .arg(&ckpt)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(fs::read(&full).unwrap(), fs::read(&resumed).unwrap());
    // without a validation split it is a usage error
    let (code, _, err) = run(
        &["train", "--early-stopping", "--data"],
        &[&data("iris.train.csv")],
    );
    assert_eq!(code, 2);
    assert!(err.contains("invalid option --early-stopping"), "{err}");
}

/// `--dropout` and `--class-weight`: the same bytes on 1 and 3 threads; a
/// run checkpointed after 3 epochs and resumed to 6 gives the bytes of one
/// 6-epoch run; `info` shows both; bad values are usage errors naming the
/// flag.
#[test]
fn dropout_and_class_weights_from_the_command_line() {
    let dir = tmp();
    let imbalanced =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/data/breast_cancer_95_5.csv");
    let train = |out: &Path, extra: &[&str]| {
        bin()
            .args([
                "train",
                "--quiet",
                "--dropout",
                "0.2",
                "--class-weight",
                "balanced",
            ])
            .args(["--batch-size", "64", "--shard-rows", "16"])
            // constant: 3 epochs resumed to 6 is then the run of 6
            .args(["--lr-schedule", "constant"])
            .args(extra)
            .arg("--data")
            .arg(&imbalanced)
            .arg("--out")
            .arg(out)
            .assert()
            .success();
        fs::read(out).unwrap()
    };
    let (one, three) = (dir.path().join("one.st"), dir.path().join("three.st"));
    let bytes = train(&one, &["--epochs", "6", "--threads", "1"]);
    assert_eq!(bytes, train(&three, &["--epochs", "6", "--threads", "3"]));
    let ckpt = dir.path().join("c.ckpt");
    train(
        &dir.path().join("part.st"),
        &["--epochs", "3", "--checkpoint", ckpt.to_str().unwrap()],
    );
    let resumed = dir.path().join("resumed.st");
    bin()
        .args([
            "train",
            "--quiet",
            "--epochs",
            "6",
            "--threads",
            "2",
            "--lr-schedule",
            "constant",
            "--resume",
        ])
        .arg(&ckpt)
        .arg("--data")
        .arg(&imbalanced)
        .arg("--out")
        .arg(&resumed)
        .assert()
        .success();
    assert_eq!(fs::read(&resumed).unwrap(), bytes);
    let (code, out, err) = run(&["info", "--model"], &[&one]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("dropout 0.2") && out.contains("class_weight balanced"),
        "{out}"
    );

    for (flags, want) in [
        (
            &["--dropout", "1"][..],
            "--dropout: 1 is not a probability in [0, 1)",
        ),
        (
            &["--dropout=-0.1"][..],
            "--dropout: -0.1 is not a probability",
        ),
        (
            &["--class-weight", "malignant=2"][..],
            "--class-weight: 'malignant' is not a class",
        ),
        (
            &["--class-weight", "0=two"][..],
            "--class-weight: '0=two': 'two' is not a number",
        ),
        (
            &["--class-weight", "balanced", "--head", "mse"][..],
            "--class-weight",
        ),
    ] {
        let mut args = vec!["train", "--epochs", "1", "--data"];
        let path = imbalanced.to_str().unwrap();
        args.push(path);
        args.extend_from_slice(flags);
        let (code, _, err) = run(&args, &[]);
        assert_eq!(code, 2, "{flags:?}: {err}");
        assert!(err.contains(want), "{flags:?}: {err}");
    }
}

/// Started by mpirun as one of several processes, a build without the `mpi`
/// feature refuses rather than train P separate models into one file.
#[cfg(not(feature = "mpi"))]
#[test]
fn under_a_launcher_a_build_without_mpi_refuses() {
    for var in ["OMPI_COMM_WORLD_SIZE", "PMI_SIZE"] {
        bin()
            .env(var, "2")
            .args(["train", "--epochs", "1"])
            .assert()
            .code(2)
            .stderr(predicate::str::contains("without the `mpi` feature"));
    }
    // one process under a launcher is an ordinary run
    bin()
        .env("OMPI_COMM_WORLD_SIZE", "1")
        .args(["train", "--epochs", "1", "--quiet"])
        .assert()
        .success();
}

/// `eval` and `predict` print the same bytes for any `--threads` and
/// `--chunk-rows`; `predict` writes the same CSV to stdout, to `--out -`
/// and to a file, and reads standard input as a pipe.
#[test]
fn eval_and_predict_do_not_depend_on_threads_or_chunks() {
    let dir = tmp();
    let model = train_digits(dir.path(), &[], "m.safetensors");
    let test = data("digits.test.csv");
    let run = |args: &[&str]| {
        bin()
            .args(args)
            .arg("--model")
            .arg(&model)
            .arg("--data")
            .arg(&test)
            .assert()
            .success()
            .get_output()
            .stdout
            .clone()
    };
    for cmd in ["eval", "predict"] {
        let base = run(&[cmd, "--threads", "1", "--chunk-rows", "1000"]);
        assert!(!base.is_empty());
        for (t, c) in [("2", "1"), ("3", "7"), ("2", "256")] {
            let other = run(&[cmd, "--threads", t, "--chunk-rows", c]);
            assert!(other == base, "{cmd} with {t} threads, chunks of {c}");
        }
    }
    let stdout = run(&["predict"]);
    assert!(run(&["predict", "--out", "-"]) == stdout);
    let file = dir.path().join("p.csv");
    bin()
        .args(["predict", "--threads", "3", "--chunk-rows", "5", "--out"])
        .arg(&file)
        .arg("--model")
        .arg(&model)
        .args(["--data", "-"])
        .write_stdin(fs::read(&test).unwrap())
        .assert()
        .success()
        .stdout("");
    assert!(
        fs::read(&file).unwrap() == stdout,
        "the file differs from stdout"
    );
    // a chunk of 0 rows is a usage error
    bin()
        .args(["eval", "--chunk-rows", "0", "--model"])
        .arg(&model)
        .arg("--data")
        .arg(&test)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--chunk-rows"));
}

/// `--train-metrics full` keeps the separate pass: the same bytes for any
/// thread count; a bad value is a usage error.
#[test]
fn train_metrics_full_is_the_same_for_any_thread_count() {
    let dir = tmp();
    let full = |t: &str, name: &str| {
        fs::read(train_digits(
            dir.path(),
            &["--threads", t, "--train-metrics", "full"],
            name,
        ))
        .unwrap()
    };
    let a = full("1", "f1");
    assert!(
        a == full("3", "f3"),
        "--train-metrics full differs between thread counts"
    );
    bin()
        .args(["train", "--train-metrics", "sometimes"])
        .assert()
        .code(2);
}

/// An NPY file of `rows × cols` little-endian values of NumPy type `descr`
/// (`<f4`, `<i8`), each `bytes` long.
fn write_npy(path: &Path, descr: &str, shape: &[usize], values: &[u8]) {
    let shape = match shape {
        [n] => format!("({n},)"),
        [r, c] => format!("({r}, {c})"),
        _ => unreachable!("1-D or 2-D"),
    };
    let mut header =
        format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}").into_bytes();
    // magic (6) + version (2) + length (2) + header, padded to 64 with '\n' last
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(b' ');
    }
    header.push(b'\n');
    let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
    bytes.extend((header.len() as u16).to_le_bytes());
    bytes.extend(header);
    bytes.extend(values);
    fs::write(path, bytes).unwrap();
}

/// NPY labels may be strings: a hand-built `<U5` array (NumPy's `str`,
/// UCS-4, NUL-padded) gives the classes their names, and the same weights
/// as the CSV with those labels; an object array (pickle) and text features
/// are clear errors (issue 20).
#[test]
fn npy_string_labels_are_class_names() {
    let dir = tmp();
    let text = fs::read_to_string(data("iris.train.csv")).unwrap();
    let mut lines = text.lines();
    let header = lines.next().unwrap();
    let cols = header.split(',').count() - 1;
    let (mut x, mut y, mut csv, mut rows) = (Vec::new(), Vec::new(), String::new(), 0);
    csv += header;
    csv.push('\n');
    for line in lines.filter(|l| !l.is_empty()) {
        let fields: Vec<&str> = line.split(',').collect();
        for f in &fields[..cols] {
            x.extend(f.parse::<f32>().unwrap().to_le_bytes());
        }
        // the species cut to 5 characters, as UCS-4 code units padded with NULs
        let label: String = fields[cols].chars().take(5).collect();
        let mut units: Vec<u32> = label.chars().map(u32::from).collect();
        units.resize(5, 0);
        y.extend(units.iter().flat_map(|u| u.to_le_bytes()));
        csv += &format!("{},{label}\n", fields[..cols].join(","));
        rows += 1;
    }
    let (xp, yp) = (dir.path().join("x.npy"), dir.path().join("y.npy"));
    write_npy(&xp, "<f4", &[rows, cols], &x);
    write_npy(&yp, "<U5", &[rows], &y);
    let cut = write(dir.path(), "cut.csv", &csv);
    let (from_npy, from_csv) = (dir.path().join("npy.st"), dir.path().join("csv.st"));
    let (code, _, err) = run(
        &["train", "--quiet", "--epochs", "5", "--data"],
        &[
            &xp,
            Path::new("--labels"),
            &yp,
            Path::new("--out"),
            &from_npy,
        ],
    );
    assert_eq!(code, 0, "{err}");
    train_to(&from_csv, &cut, &["--epochs", "5"]);
    let (a, b) = (
        backprop::model_io::load_model(&from_npy).unwrap(),
        backprop::model_io::load_model(&from_csv).unwrap(),
    );
    let names = ["setos", "versi", "virgi"].map(String::from).to_vec();
    assert_eq!(a.meta.class_names, Some(names.clone()));
    assert_eq!(b.meta.class_names, Some(names));
    assert_eq!(a.mlp, b.mlp, "the same weights as from the CSV");
    let e = eval_json_with(&from_npy, &xp, &["--labels", yp.to_str().unwrap()]);
    assert!(e["accuracy"].as_f64().unwrap() > 0.6, "{e}");
    let p = predict_csv(&from_npy, &xp, &[]);
    assert!(p.starts_with("class,p_setos,p_versi,p_virgi\n"), "{p}");
    assert!(p.lines().skip(1).all(|l| ["setos,", "versi,", "virgi,"]
        .iter()
        .any(|c| l.starts_with(c))));

    // an object array needs pickle: say how to save it instead
    let obj = dir.path().join("obj.npy");
    write_npy(&obj, "|O", &[rows], &vec![0u8; 8 * rows]);
    let (code, _, err) = run(
        &["train", "--epochs", "1", "--data"],
        &[&xp, Path::new("--labels"), &obj],
    );
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("only pickle can read"), "{err}");
    assert!(err.contains("labels.astype(str)"), "{err}");
    // text is not a feature
    let (code, _, err) = run(
        &["train", "--epochs", "1", "--data"],
        &[&yp, Path::new("--labels"), &yp],
    );
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("the array holds text ('<U5'"), "{err}");
}

/// A CSV of digits as NPY: f4 features and i8 labels.
fn digits_npy(dir: &Path, csv: &str, stem: &str) -> (PathBuf, PathBuf) {
    let text = fs::read_to_string(data(csv)).unwrap();
    let mut lines = text.lines();
    let header = lines.next().unwrap();
    let cols = header.split(',').count() - 1;
    let (mut x, mut y, mut rows) = (Vec::new(), Vec::new(), 0);
    for line in lines.filter(|l| !l.is_empty()) {
        let fields: Vec<&str> = line.split(',').collect();
        for f in &fields[..cols] {
            x.extend(f.parse::<f32>().unwrap().to_le_bytes());
        }
        y.extend(fields[cols].parse::<i64>().unwrap().to_le_bytes());
        rows += 1;
    }
    let (xp, yp) = (
        dir.join(format!("{stem}.x.npy")),
        dir.join(format!("{stem}.y.npy")),
    );
    write_npy(&xp, "<f4", &[rows, cols], &x);
    write_npy(&yp, "<i8", &[rows], &y);
    (xp, yp)
}

/// An f4 NPY file is read in place from a memory map, its standardisation
/// applied to each batch as it is gathered and to each chunk as it is
/// evaluated or predicted: the model files, the per-epoch test figures,
/// `eval` and `predict` are byte-identical to reading the file into memory
/// (`--no-mmap`), which standardises it where it is, at any thread count
/// and chunk size.
#[test]
fn memory_mapped_and_read_npy_files_give_the_same_bytes() {
    let dir = tmp();
    let train = digits_npy(dir.path(), "digits.train.csv", "train");
    let test = digits_npy(dir.path(), "digits.test.csv", "test");
    let read = [
        (true, "1", "256", &train, &test),
        (false, "1", "5", &train, &test),
        (true, "3", "7", &train, &test),
    ];
    same_outputs_however_read(dir.path(), &read);
}

/// Digits' pixels (0..=16) times 15, as bytes: an IDX pair (`.idx`), the
/// same gzipped (`.idx.gz`), and an NPY `|u1` pair (`.npy`).
fn digits_images(dir: &Path, csv: &str, stem: &str) -> [(PathBuf, PathBuf); 3] {
    let text = fs::read_to_string(data(csv)).unwrap();
    let mut lines = text.lines();
    let cols = lines.next().unwrap().split(',').count() - 1;
    let (mut x, mut y) = (Vec::new(), Vec::new());
    for line in lines.filter(|l| !l.is_empty()) {
        let fields: Vec<&str> = line.split(',').collect();
        for f in &fields[..cols] {
            x.push(f.parse::<u8>().unwrap() * 15);
        }
        y.push(fields[cols].parse::<u8>().unwrap());
    }
    let rows = y.len();
    let idx = |dims: &[usize], data: &[u8]| {
        let mut b = vec![0, 0, 8, dims.len() as u8];
        for &d in dims {
            b.extend((d as u32).to_be_bytes());
        }
        b.extend(data);
        b
    };
    let path = |ext: &str| {
        (
            dir.join(format!("{stem}.x.{ext}")),
            dir.join(format!("{stem}.y.{ext}")),
        )
    };
    let (xi, yi) = path("idx");
    fs::write(&xi, idx(&[rows, 8, 8], &x)).unwrap();
    fs::write(&yi, idx(&[rows], &y)).unwrap();
    let (xg, yg) = path("idx.gz");
    for (from, to) in [(&xi, &xg), (&yi, &yg)] {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut gz, &fs::read(from).unwrap()).unwrap();
        fs::write(to, gz.finish().unwrap()).unwrap();
    }
    let (xn, yn) = path("npy");
    write_npy(&xn, "|u1", &[rows, cols], &x);
    write_npy(&yn, "|u1", &[rows], &y);
    [(xi, yi), (xg, yg), (xn, yn)]
}

/// Image bytes stay bytes: a plain IDX file or an NPY `|u1` file is mapped,
/// a gzipped one is read into memory, `--no-mmap` reads the others, and
/// every row is widened and scaled as a shard gathers it or a chunk is
/// evaluated. The model files, per-epoch test figures, `eval` and `predict`
/// are byte-identical for all five, at any thread count and chunk size, and
/// resumed from a checkpoint.
#[test]
fn image_bytes_give_the_same_bytes_however_they_are_read() {
    let dir = tmp();
    let [idx, gz, npy] = digits_images(dir.path(), "digits.train.csv", "train");
    let [idx_t, gz_t, npy_t] = digits_images(dir.path(), "digits.test.csv", "test");
    let read = [
        (true, "1", "256", &idx, &idx_t),
        (false, "1", "5", &idx, &idx_t),
        (true, "2", "64", &gz, &gz_t),
        (true, "2", "9", &npy, &npy_t),
        (false, "1", "33", &npy, &npy_t),
        (true, "3", "7", &idx, &idx_t),
    ];
    same_outputs_however_read(dir.path(), &read);
}

/// Trains, evaluates and predicts with each `(memory map, threads, chunk
/// rows, (train x, y), (test x, y))` and requires the same model bytes,
/// per-epoch figures, `eval` and `predict` output from all; a mapped run on
/// 3 threads is also resumed from a checkpoint to the same model.
/// How a run reads its data: memory map, threads, chunk rows, (training x,
/// y), (test x, y).
type Read<'a> = (
    bool,
    &'a str,
    &'a str,
    &'a (PathBuf, PathBuf),
    &'a (PathBuf, PathBuf),
);

fn same_outputs_however_read(dir: &Path, read: &[Read<'_>]) {
    let s = |p: &Path| p.to_str().unwrap().to_string();
    // (model file, per-epoch figures, eval output, predictions)
    type Outputs = (Vec<u8>, String, Vec<u8>, Vec<u8>);
    let mut first: Option<Outputs> = None;
    for (run, &(mmap, threads, chunk, (x, y), (xt, yt))) in read.iter().enumerate() {
        let model = dir.join(format!("m-{run}.safetensors"));
        let mut train: Vec<String> = [
            "train",
            "--json",
            "--epochs",
            "3",
            "--layers",
            "24",
            "--optimizer",
            "adam",
            // constant: 2 epochs resumed to 3 is then the run of 3
            "--lr-schedule",
            "constant",
        ]
        .iter()
        .map(|a| a.to_string())
        .collect();
        train.extend(["--data".into(), s(x), "--labels".into(), s(y)]);
        train.extend(["--test-data".into(), s(xt), "--test-labels".into(), s(yt)]);
        train.extend([
            "--threads".into(),
            threads.into(),
            "--out".into(),
            s(&model),
        ]);
        let mut eval: Vec<String> = ["eval", "--json", "--model", &s(&model)]
            .iter()
            .map(|a| a.to_string())
            .collect();
        eval.extend(["--data".into(), s(xt), "--labels".into(), s(yt)]);
        eval.extend([
            "--threads".into(),
            threads.into(),
            "--chunk-rows".into(),
            chunk.into(),
        ]);
        let mut predict: Vec<String> = ["predict", "--model", &s(&model), "--data", &s(xt)]
            .iter()
            .map(|a| a.to_string())
            .collect();
        predict.extend([
            "--threads".into(),
            threads.into(),
            "--chunk-rows".into(),
            chunk.into(),
        ]);
        if !mmap {
            for args in [&mut train, &mut eval, &mut predict] {
                args.push("--no-mmap".into());
            }
        }
        let out = |args: &[String]| {
            bin()
                .args(args)
                .assert()
                .success()
                .get_output()
                .stdout
                .clone()
        };
        // the per-epoch JSON lines without their timings
        let epochs: String = String::from_utf8(out(&train))
            .unwrap()
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter(|v| v.get("epoch").is_some())
            .map(|mut v| {
                let o = v.as_object_mut().unwrap();
                o.remove("samples_per_sec");
                o.remove("seconds");
                v.to_string()
            })
            .collect();
        assert!(epochs.contains("test_accuracy"), "{epochs}");
        let got = (fs::read(&model).unwrap(), epochs, out(&eval), out(&predict));
        match &first {
            None => first = Some(got),
            Some(want) => assert!(
                *want == got,
                "{} (mmap {mmap}), {threads} threads, chunks of {chunk}: different bytes",
                x.display()
            ),
        }
        if mmap && threads == "3" {
            // 2 epochs with a checkpoint, then resumed to 3: the same model
            let ck = s(&dir.join("m.ckpt"));
            let mut two = train.clone();
            two[3] = "2".into();
            two.extend(["--checkpoint".into(), ck.clone()]);
            out(&two);
            let mut resumed = train.clone();
            resumed.extend(["--resume".into(), ck]);
            out(&resumed);
            let want = &first.as_ref().unwrap().0;
            assert!(
                fs::read(&model).unwrap() == *want,
                "resumed from a checkpoint: a different model"
            );
        }
    }
}

/// `predict --out p.npy` writes an NPY file of `f32`: each row's class
/// probabilities (or, for `mse`, values in target units), bit for bit the
/// numbers the CSV prints, for any thread count and chunk size; an id
/// column cannot go into it, and leaves no file behind.
#[test]
fn predict_writes_npy_numbers_equal_to_the_csv() {
    let dir = tmp();
    let digits = train_digits(dir.path(), &[], "m.safetensors");
    let diabetes = dir.path().join("d.safetensors");
    train_to(&diabetes, &data("diabetes.train.csv"), &["--head", "mse"]);
    for (model, test, first_number) in [
        (&digits, data("digits.test.csv"), 1), // after the class column
        (&diabetes, data("diabetes.test.csv"), 0),
    ] {
        let csv = predict_csv(model, &test, &[]);
        let want: Vec<Vec<u32>> = csv
            .lines()
            .skip(1)
            .map(|l| {
                l.split(',')
                    .skip(first_number)
                    .map(|v| v.parse::<f32>().unwrap().to_bits())
                    .collect()
            })
            .collect();
        let mut first: Option<Vec<u8>> = None;
        for (threads, chunk) in [("1", "1000"), ("3", "7")] {
            let out = dir.path().join(format!("p{threads}.NPY"));
            bin()
                .args([
                    "predict",
                    "--threads",
                    threads,
                    "--chunk-rows",
                    chunk,
                    "--model",
                ])
                .arg(model)
                .arg("--data")
                .arg(&test)
                .arg("--out")
                .arg(&out)
                .assert()
                .success()
                .stdout("");
            let bytes = fs::read(&out).unwrap();
            let a = backprop::data::npy::parse(&bytes, "p.npy").unwrap();
            assert_eq!(a.shape, [want.len(), want[0].len()]);
            let backprop::data::Elements::F32(values) = a.data else {
                panic!("{:?}", a.dtype)
            };
            let got: Vec<u32> = values.iter().map(|v| v.to_bits()).collect();
            assert!(
                got == want.concat(),
                "{}: NPY and CSV numbers differ",
                test.display()
            );
            match &first {
                None => first = Some(bytes),
                Some(f) => assert!(*f == bytes, "{threads} threads, chunks of {chunk}"),
            }
        }
    }
    let out = dir.path().join("ids.npy");
    let with_ids: String = fs::read_to_string(data("diabetes.test.csv"))
        .unwrap()
        .lines()
        .enumerate()
        .map(|(i, l)| match i {
            0 => format!("pid,{l}\n"),
            _ => format!("p{i},{l}\n"),
        })
        .collect();
    let with_ids = write(dir.path(), "ids.csv", &with_ids);
    bin()
        .args(["predict", "--id-column", "pid", "--model"])
        .arg(&diabetes)
        .arg("--data")
        .arg(&with_ids)
        .arg("--out")
        .arg(&out)
        .assert()
        .failure()
        .stderr(predicate::str::contains("cannot hold an id column"));
    assert!(!out.exists());
}

/// Names against positions: a model trained on an NPY array (no column
/// names) given a CSV with a header, and a CSV model given the NPY array:
/// the columns are matched by position, and a note says so.
#[test]
fn positions_are_said_when_one_side_has_no_names() {
    let dir = tmp();
    let (x, y) = digits_npy(dir.path(), "digits.train.csv", "train");
    let npy_model = dir.path().join("npy.st");
    bin()
        .args(["train", "--quiet", "--epochs", "1", "--data"])
        .arg(&x)
        .arg("--labels")
        .arg(&y)
        .arg("--out")
        .arg(&npy_model)
        .assert()
        .success();
    let (code, _, err) = run(
        &["eval", "--model", npy_model.to_str().unwrap(), "--data"],
        &[&data("digits.test.csv")],
    );
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("the model was trained without column names (on an array)")
            && err.contains("taken by position, not by name"),
        "{err}"
    );
    let csv_model = train_digits(dir.path(), &[], "csv.st");
    let (code, _, err) = run(
        &["predict", "--model", csv_model.to_str().unwrap(), "--data"],
        &[&x],
    );
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("the file has no column names: its columns are taken by position"),
        "{err}"
    );
    // both named: matched by name, no note
    let (code, _, err) = run(
        &["predict", "--model", csv_model.to_str().unwrap(), "--data"],
        &[&data("digits.test.csv")],
    );
    assert_eq!(code, 0, "{err}");
    assert!(!err.contains("by position"), "{err}");
}

/// Decimal commas (`;` between fields): the same numbers as the file written
/// with points, the same model weights, and `predict` reads new files the
/// model's way.
#[test]
fn decimal_commas_read_as_points() {
    let dir = tmp();
    let mut comma = String::from("a;b;y\n");
    let mut point = String::from("a,b,y\n");
    for i in 0..40 {
        let (a, b) = (i as f32 * 0.25 - 3.0, (i % 7) as f32 / 4.0);
        comma += &format!(
            "{};{};{}\n",
            a.to_string().replace('.', ","),
            b.to_string().replace('.', ","),
            i % 2
        );
        point += &format!("{a},{b},{}\n", i % 2);
    }
    let fc = write(dir.path(), "comma.csv", &comma);
    let fp = write(dir.path(), "point.csv", &point);
    let (mc, mp) = (dir.path().join("c.st"), dir.path().join("p.st"));
    train_to(&mc, &fc, &["--epochs", "3"]);
    train_to(&mp, &fp, &["--epochs", "3"]);
    let layers = |p: &Path| common::layer_tensors(&fs::read(p).unwrap());
    assert_eq!(layers(&mc), layers(&mp));
    let out = |model: &Path, data: &Path| {
        bin()
            .args(["predict", "--model"])
            .arg(model)
            .arg("--data")
            .arg(data)
            .output()
            .unwrap()
            .stdout
    };
    assert_eq!(out(&mc, &fc), out(&mp, &fp));
    let (code, _, err) = run(
        &["train", "--decimal", ",", "--delimiter", ",", "--data"],
        &[&fp],
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--decimal"), "{err}");
}

/// `--preset classic` is the seed's plain network on any data: the same
/// file as its settings given one by one; on the embedded set, the same file
/// as no preset; and a classic run resumes bit for bit with the preset given
/// again.
#[test]
fn the_classic_preset_is_the_seeds_plain_network() {
    let dir = tmp();
    let wine = data("wine.train.csv");
    let wine = wine.to_str().unwrap();
    let run = |args: &[&str], out: &str| -> Vec<u8> {
        let path = dir.path().join(out);
        bin()
            .args([
                "train",
                "--quiet",
                "--epochs",
                "4",
                "--out",
                path.to_str().unwrap(),
            ])
            .args(args)
            .assert()
            .success();
        fs::read(path).unwrap()
    };
    let classic = run(&["--data", wine, "--preset", "classic"], "c.st");
    let spelled = [
        "--data",
        wine,
        "--layers",
        "16",
        "--activation",
        "sigmoid",
        "--optimizer",
        "sgd",
        "--lr",
        "0.5",
        "--init",
        "auto",
        "--lr-schedule",
        "constant",
    ];
    assert_eq!(classic, run(&spelled, "s.st"));
    assert_ne!(
        classic,
        run(&["--data", wine], "d.st"),
        "the default recipe differs"
    );
    // a flag given keeps its value
    let wide = run(
        &["--data", wine, "--preset", "classic", "--layers", "8"],
        "w.st",
    );
    let narrow = run(&[&spelled[..3], &["8"], &spelled[4..]].concat(), "n.st");
    assert_eq!(wide, narrow);
    // the embedded demo is already classic
    assert_eq!(run(&["--preset", "classic"], "e1.st"), run(&[], "e2.st"));
    // two epochs, then resumed with the preset again: the 4-epoch file
    let ckpt = dir.path().join("c.ckpt");
    let c = ckpt.to_str().unwrap();
    bin()
        .args([
            "train", "--quiet", "--epochs", "2", "--data", wine, "--preset", "classic",
        ])
        .args(["--checkpoint", c])
        .assert()
        .success();
    let resumed = run(
        &["--data", wine, "--preset", "classic", "--resume", c],
        "r.st",
    );
    assert_eq!(resumed, classic);
}
