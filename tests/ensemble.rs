//! Ensembles: `train --ensemble K` writes K members trained together, each
//! the model `train --seed S + k` makes alone; `eval` and `predict` use the
//! mean of the members' outputs; `info` lists the members and takes one
//! out; the file is checked as a model file is.

use std::path::Path;

mod common;
use common::{bin, repo_data as data, stdout_of};

use backprop::data::{self, LoadOptions};
use backprop::model_io::{self, Ensemble};

fn train(out: &Path, extra: &[&str]) {
    bin()
        .args(["train", "--quiet", "--epochs", "5", "--data"])
        .arg(data("iris.train.csv"))
        .arg("--out")
        .arg(out)
        .args(extra)
        .assert()
        .success();
}

#[test]
fn members_are_the_models_trained_alone_and_any_can_be_taken_out() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let e = d.join("e.st");
    train(&e, &["--ensemble", "3", "--seed", "7", "--threads", "2"]);
    let e1 = d.join("e1.st");
    train(&e1, &["--ensemble", "3", "--seed", "7", "--threads", "1"]);
    assert_eq!(std::fs::read(&e).unwrap(), std::fs::read(&e1).unwrap());
    let loaded = model_io::load_ensemble(&e).unwrap();
    assert_eq!(loaded.members.len(), 3);
    for k in 0..3 {
        let alone = d.join(format!("alone{k}.st"));
        train(&alone, &["--seed", &(7 + k).to_string()]);
        let taken = d.join(format!("taken{k}.st"));
        bin()
            .args(["info", "--member", &(k + 1).to_string(), "--extract"])
            .arg(&taken)
            .arg("--model")
            .arg(&e)
            .assert()
            .success();
        assert_eq!(
            std::fs::read(&taken).unwrap(),
            std::fs::read(&alone).unwrap(),
            "member {k}"
        );
    }
    let info = stdout_of(bin().args(["info", "--model"]).arg(&e));
    assert!(
        info.contains("3 models, predictions the mean of their probabilities"),
        "{info}"
    );
    assert!(info.contains("member 3: layers [4, 64, 3]"), "{info}");
    bin()
        .args(["info", "--member", "4", "--model"])
        .arg(&e)
        .assert()
        .code(2)
        .stderr(predicates::str::contains("holds 3 models: give 1 to 3"));
    // a model reader that expects one model says what the file is
    let err = model_io::load_model(&e).unwrap_err().to_string();
    assert!(
        err.contains("an ensemble of 3 models, not one model"),
        "{err}"
    );
}

#[test]
fn eval_and_predict_use_the_mean_of_the_members() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let e = d.join("e.st");
    train(&e, &["--ensemble", "4", "--seed", "1"]);
    let ens = model_io::load_ensemble(&e).unwrap();
    let test = data("iris.test.csv");
    let first = &ens.first().meta;
    let raw = data::load(
        &test,
        &backprop::pipeline::ReadOverrides::default().model_options(first, true),
    )
    .unwrap();
    // the mean by hand, member by member in order
    let rows = raw.rows();
    let mut mean = vec![0.0f32; rows * 3];
    for m in &ens.members {
        let x = backprop::pipeline::features(&raw, &m.meta, 4).unwrap();
        let p = m.mlp.predict(x.as_slice(), rows).unwrap();
        for (a, b) in mean.iter_mut().zip(p.as_slice()) {
            *a += b;
        }
    }
    for v in &mut mean {
        *v /= 4.0;
    }
    let text = stdout_of(
        bin()
            .args(["predict", "--model"])
            .arg(&e)
            .arg("--data")
            .arg(&test),
    );
    let names = ["setosa", "versicolor", "virginica"];
    let labels: Vec<String> = raw
        .label_text()
        .unwrap()
        .iter()
        .map(|s| s.to_string())
        .collect();
    let mut correct = 0;
    for (r, line) in text.lines().skip(1).enumerate() {
        let cells: Vec<&str> = line.split(',').collect();
        let p: Vec<f32> = cells[1..].iter().map(|c| c.parse().unwrap()).collect();
        assert_eq!(p, mean[r * 3..r * 3 + 3], "row {r}");
        let best = (0..3).max_by(|&a, &b| p[a].total_cmp(&p[b])).unwrap();
        assert_eq!(cells[0], names[best]);
        correct += usize::from(labels[r] == names[best]);
    }
    let v: serde_json::Value = serde_json::from_str(&stdout_of(
        bin()
            .args(["eval", "--json", "--model"])
            .arg(&e)
            .arg("--data")
            .arg(&test),
    ))
    .unwrap();
    assert_eq!(
        v["accuracy"].as_f64().unwrap(),
        correct as f64 / rows as f64
    );
    // the loss: the mean of -ln p of the true class
    let want: f64 = (0..rows)
        .map(|r| {
            let c = names.iter().position(|n| *n == labels[r]).unwrap();
            -f64::from(mean[r * 3 + c]).ln()
        })
        .sum::<f64>()
        / rows as f64;
    assert!((v["loss"].as_f64().unwrap() - want).abs() < 1e-9, "{v}");
    // NPY: the same numbers
    let npy = d.join("p.npy");
    bin()
        .args(["predict", "--model"])
        .arg(&e)
        .arg("--data")
        .arg(&test)
        .arg("--out")
        .arg(&npy)
        .assert()
        .success();
    let arr = data::load(
        &npy,
        &LoadOptions {
            labels_optional: true,
            ..LoadOptions::default()
        },
    )
    .unwrap();
    assert_eq!(arr.x.as_slice(), mean.as_slice());
}

#[test]
fn ensemble_files_are_checked() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let e = d.join("e.st");
    train(&e, &["--ensemble", "2"]);
    let ens = model_io::load_ensemble(&e).unwrap();
    let bytes = model_io::ensemble_to_bytes(&ens).unwrap();
    assert_eq!(bytes, std::fs::read(&e).unwrap());
    assert_eq!(model_io::ensemble_from_bytes(&bytes, "e").unwrap(), ens);
    // a model file is an ensemble of one
    let one = d.join("one.st");
    train(&one, &[]);
    assert_eq!(model_io::load_ensemble(&one).unwrap().members.len(), 1);
    // members must read the same columns
    let mut other = ens.clone();
    other.members[1].meta.feature_names[0] = "petal".into();
    let err = model_io::ensemble_to_bytes(&other).unwrap_err().to_string();
    assert!(
        err.contains("member 2 differs from member 1 in the columns it reads"),
        "{err}"
    );
    assert!(model_io::ensemble_to_bytes(&Ensemble { members: vec![] }).is_err());
    // a member count that disagrees with the members
    // the same length: the header stays whole
    let with_members = |n: &[u8]| {
        let from = b"\"members\":\"2\"";
        let at = bytes.windows(from.len()).position(|w| w == from).unwrap();
        let mut b = bytes.clone();
        b[at + from.len() - 2] = n[0];
        b
    };
    let err = model_io::ensemble_from_bytes(&with_members(b"3"), "e")
        .unwrap_err()
        .to_string();
    assert!(err.contains("member 3"), "{err}");
    let err = model_io::ensemble_from_bytes(&with_members(b"1"), "e")
        .unwrap_err()
        .to_string();
    assert!(err.contains("unknown metadata key 'members.1."), "{err}");
    // the flags an ensemble refuses
    bin()
        .args(["train", "--ensemble", "2", "--plot"])
        .arg(d.join("c.svg"))
        .assert()
        .code(2)
        .stderr(predicates::str::contains("not with --ensemble"));
}

#[test]
fn members_may_differ_in_positive_class_and_bad_counts_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let e = d.join("e.st");
    train(&e, &["--ensemble", "2"]);
    let mut ens = model_io::load_ensemble(&e).unwrap();
    // positive classes apply to binary models; any class name passes the check
    ens.members[1].meta.positive_class = ens.members[0].meta.positive_class.clone();
    assert!(model_io::ensemble_to_bytes(&ens).is_ok());
    let bytes = std::fs::read(&e).unwrap();
    // a member count far above the keys is refused before anything is built
    let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let header = String::from_utf8(bytes[8..8 + n].to_vec()).unwrap();
    let mut header = header
        .trim_end()
        .replace("\"members\":\"2\"", "\"members\":\"99999999999999\"");
    while header.len() % 8 != 0 {
        header.push(' ');
    }
    let mut huge = (header.len() as u64).to_le_bytes().to_vec();
    huge.extend_from_slice(header.as_bytes());
    huge.extend_from_slice(&bytes[8 + n..]);
    let err = model_io::ensemble_from_bytes(&huge, "e")
        .unwrap_err()
        .to_string();
    assert!(err.contains("more than the file's metadata keys"), "{err}");
    // info --extract onto the ensemble itself is refused
    bin()
        .args(["info", "--member", "1", "--extract"])
        .arg(&e)
        .arg("--model")
        .arg(&e)
        .assert()
        .code(2)
        .stderr(predicates::str::contains("is the ensemble being read"));
    assert_eq!(std::fs::read(&e).unwrap(), bytes);
    // cv and search train one model per fold
    for cmd in ["cv", "search"] {
        let mut c = bin();
        c.arg(cmd).args(["--ensemble", "2"]);
        if cmd == "search" {
            c.args(["--grid", "lr=0.1"]);
        }
        c.assert()
            .code(2)
            .stderr(predicates::str::contains("--ensemble"));
    }
}

#[test]
fn an_ensemble_resumes_bit_for_bit_with_members_that_stopped() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // 3 epochs, then resumed to 6, is the run of 6 under a constant rate (the
    // default flat-cos follows the run's length; an interrupted run resumes
    // to its own bits whatever the schedule: tests/cli.rs, the SIGINT test)
    let run = |extra: &[&str], out: &Path| {
        bin()
            .args([
                "train",
                "--quiet",
                "--ensemble",
                "3",
                "--lr-schedule",
                "constant",
            ])
            .arg("--data")
            .arg(data("iris.train.csv"))
            .arg("--out")
            .arg(out)
            .args(extra)
            .assert()
            .success();
    };
    let early = [
        "--validation-split",
        "0.25",
        "--early-stopping",
        "--patience",
        "1",
        "--min-delta",
        "0.5",
    ];
    for (i, flags) in [&[][..], &early[..]].into_iter().enumerate() {
        let ckpt = d.join(format!("run{i}.ckpt"));
        let ckpt_s = ckpt.to_str().unwrap();
        run(
            &[flags, &["--epochs", "3", "--checkpoint", ckpt_s]].concat(),
            &d.join("a.st"),
        );
        for k in 1..=3 {
            assert!(d.join(format!("run{i}.ckpt.{k}")).exists());
        }
        let resumed = d.join(format!("b{i}.st"));
        run(
            &[flags, &["--epochs", "6", "--resume", ckpt_s]].concat(),
            &resumed,
        );
        let whole = d.join(format!("c{i}.st"));
        run(&[flags, &["--epochs", "6"]].concat(), &whole);
        assert_eq!(
            std::fs::read(&resumed).unwrap(),
            std::fs::read(&whole).unwrap(),
            "variant {i}"
        );
    }
    // the early-stopping members stopped before the resume
    let e = model_io::load_ensemble(&d.join("c1.st")).unwrap();
    assert!(e
        .members
        .iter()
        .all(|m| m.meta.extra["train.epochs"] != "6"));
    bin()
        .args(["train", "--ensemble", "2", "--resume"])
        .arg(d.join("nothing"))
        .assert()
        .code(2)
        .stderr(predicates::str::contains("nothing.1 is missing"));
}
