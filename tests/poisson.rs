//! The Poisson head (`--head poisson`, scikit-learn's `loss='poisson'`):
//! it learns counts, starts at their mean rate, refuses negative targets,
//! gives the same bits on any thread count and resumes bit for bit. Its
//! kernels are checked in `tests/kernels.rs`, its gradient in
//! `tests/gradcheck.rs` and its training against the `f64` reference in
//! `tests/equivalence.rs` (all heads).

use backprop::fit::{self, DataSource, FitSpec};
use backprop::{Head, Mlp};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

mod common;

/// Writes `dir/counts.csv`: `rows` rows of features `a, b` in `[-1, 1)` and a
/// count `y` drawn from Poisson(exp(1 + 0.8·a - 0.5·b)) (Knuth's method).
fn write_counts(dir: &std::path::Path, rows: usize, seed: u64) -> std::path::PathBuf {
    let mut r = ChaCha8Rng::seed_from_u64(seed);
    let mut text = String::from("a,b,y\n");
    for _ in 0..rows {
        let (a, b): (f64, f64) = (r.random_range(-1.0..1.0), r.random_range(-1.0..1.0));
        let limit = (-(1.0 + 0.8 * a - 0.5 * b).exp()).exp();
        let (mut k, mut p) = (0u32, 1.0f64);
        loop {
            p *= r.random_range(0.0..1.0);
            if p <= limit {
                break;
            }
            k += 1;
        }
        text.push_str(&format!("{a:.4},{b:.4},{k}\n"));
    }
    let path = dir.join("counts.csv");
    std::fs::write(&path, text).unwrap();
    path
}

fn spec(data: &std::path::Path, threads: usize) -> FitSpec {
    FitSpec {
        data: DataSource::File(data.to_path_buf()),
        validation_split: Some(0.25),
        head: Some(Head::Poisson),
        hidden_layers: Some(vec![16]),
        epochs: 12,
        threads,
        ..FitSpec::default()
    }
}

/// The half Poisson deviance of predicting the rate `a` for the count `y`.
fn deviance(y: f64, a: f64) -> f64 {
    let ylny = if y > 0.0 { y * (y / a).ln() } else { 0.0 };
    ylny - y + a
}

#[test]
fn it_learns_counts_better_than_their_mean() {
    let dir = tempfile::tempdir().unwrap();
    let data = write_counts(dir.path(), 1200, 1);
    let out = spec(&data, 2).fit().unwrap();
    let last = out.history.last().unwrap();
    // the held-out deviance of the best constant, the training mean
    let text = std::fs::read_to_string(&data).unwrap();
    let ys: Vec<f64> = text
        .lines()
        .skip(1)
        .map(|l| l.rsplit(',').next().unwrap().parse().unwrap())
        .collect();
    let mean = ys.iter().sum::<f64>() / ys.len() as f64;
    let constant = ys.iter().map(|&y| deviance(y, mean)).sum::<f64>() / ys.len() as f64;
    let val = last.val_loss.unwrap();
    assert!(
        val < 0.8 * constant,
        "validation deviance {val} against the mean's {constant}"
    );
    assert!(last.val_r2.unwrap() > 0.3, "{last:?}");
    assert_eq!(out.mlp.head(), Head::Poisson);
    assert!(
        out.meta.target_standardizer.is_none(),
        "counts keep their units"
    );
    // predictions are rates: positive
    let x: Vec<f32> = (0..20).map(|i| i as f32 / 10.0 - 1.0).collect();
    let p = out.mlp.predict(&x, 10).unwrap();
    let p = p.as_slice();
    assert!(p.iter().all(|&v| v > 0.0 && v.is_finite()), "{p:?}");
}

#[test]
fn a_new_network_starts_at_the_mean_rate() {
    let dir = tempfile::tempdir().unwrap();
    let data = write_counts(dir.path(), 300, 2);
    let p = fit::prepare(&spec(&data, 1), &mut ()).unwrap();
    let train = p.train_data();
    let backprop::data::Targets::Values { y, .. } = train.targets() else {
        panic!("counts are values")
    };
    let mean = y.iter().map(|&v| f64::from(v)).sum::<f64>() / y.len() as f64;
    let mlp: &Mlp = p.mlp();
    let bias = mlp.bias(mlp.num_layers() - 1)[0];
    assert_eq!(bias, mean.ln() as f32);
}

#[test]
fn it_is_the_same_bits_on_any_thread_count_and_resumes_bit_for_bit() {
    let dir = tempfile::tempdir().unwrap();
    let data = write_counts(dir.path(), 500, 3);
    let base = FitSpec {
        shard_rows: Some(8),
        batch_size: Some(40),
        ..spec(&data, 1)
    };
    let bits =
        |o: &fit::FitOutcome| -> Vec<u32> { o.mlp.params().iter().map(|v| v.to_bits()).collect() };
    let one = base.fit().unwrap();
    for threads in [2, 3] {
        let other = FitSpec {
            threads,
            ..base.clone()
        }
        .fit()
        .unwrap();
        assert_eq!(bits(&other), bits(&one), "{threads} threads");
    }
    let ckpt = dir.path().join("c.safetensors");
    let interrupted = FitSpec {
        checkpoint: Some(ckpt.clone()),
        ..base.clone()
    };
    common::fit_interrupted(&interrupted, 5);
    let resumed = FitSpec {
        resume: Some(ckpt.into()),
        ..base.clone()
    }
    .fit()
    .unwrap();
    assert_eq!(bits(&resumed), bits(&one));
}

#[test]
fn the_command_line_names_a_negative_count_and_reports_the_deviance() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.csv");
    std::fs::write(&bad, "a,b,y\n1,2,3\n2,1,-1\n3,3,4\n").unwrap();
    let out = common::bin()
        .args([
            "train",
            "--head",
            "poisson",
            "--data",
            bad.to_str().unwrap(),
        ])
        .assert()
        .failure()
        .get_output()
        .stderr
        .clone();
    let err = String::from_utf8(out).unwrap();
    assert!(
        err.contains("bad.csv:3") && err.contains("'y'") && err.contains("negative"),
        "{err}"
    );
    let data = write_counts(dir.path(), 300, 4);
    let model = dir.path().join("m.safetensors");
    common::bin()
        .args(["train", "--head", "poisson", "--epochs", "5", "--data"])
        .arg(&data)
        .arg("--out")
        .arg(&model)
        .assert()
        .success();
    let text = common::stdout_of(
        common::bin()
            .args(["eval", "--model"])
            .arg(&model)
            .arg("--data")
            .arg(&data),
    );
    assert!(
        text.contains("half Poisson deviance") && text.contains("R²"),
        "{text}"
    );
    let info = common::stdout_of(common::bin().args(["info", "--model"]).arg(&model));
    assert!(info.contains("poisson"), "{info}");
}
