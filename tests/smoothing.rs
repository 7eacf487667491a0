//! Label smoothing: its kernel against the scalar reference, its loss against
//! PyTorch's `CrossEntropyLoss(label_smoothing=ε)` written out, training
//! with `ε` the same bits as training on targets smoothed beforehand (batches
//! of rows and gathered class labels), the same bits at any thread count and
//! through a resume, and the settings it refuses.

mod common;

use std::path::Path;

use backprop::fit::{DataSource, FitSpec};
use backprop::kernels::{self, scalar, simd};
use backprop::smoothing::LabelSmoothing;
use backprop::{model_io, Activation, Dataset, Head, Matrix, Mlp, TrainConfig, Trainer};
use common::{random_x, rng, uniform};
use proptest::collection::vec;
use proptest::prelude::*;
use rand::RngExt;

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// The SIMD kernel and its reference round `y·keep + add` alike: bitwise.
    #[test]
    fn kernel_matches_scalar(
        y in vec(prop_oneof![Just(0.0f32), Just(1.0f32), 0.0f32..=1.0], 0..=35),
        eps in 0.0f32..0.99,
        k in 1usize..12,
    ) {
        let (keep, add) = (1.0 - eps, eps / k as f32);
        let mut s = vec![f32::NAN; y.len()];
        let mut r = vec![f32::NAN; y.len()];
        simd::smooth_targets_simd(&y, &mut s, keep, add);
        scalar::smooth_targets_scalar(&y, &mut r, keep, add);
        for i in 0..y.len() {
            prop_assert_eq!(s[i].to_bits(), r[i].to_bits(), "index {} y {}", i, y[i]);
        }
    }
}

/// The softmax head's loss on smoothed one-hot targets is PyTorch's
/// `(1 - ε)·CE(z, c) + ε·mean_k(-log p_k)`, computed here in `f64`.
#[test]
fn the_loss_is_pytorchs_label_smoothing() {
    let mut r = rng(31);
    let (rows, k, eps) = (9usize, 5usize, 0.2f32);
    let s = LabelSmoothing::new(eps, Head::SoftmaxCe, k)
        .unwrap()
        .unwrap();
    let z = uniform(&mut r, rows * k, -4.0, 4.0);
    let labels: Vec<usize> = (0..rows).map(|_| r.random_range(0..k)).collect();
    let mut onehot = vec![0.0f32; rows * k];
    for (i, &c) in labels.iter().enumerate() {
        onehot[i * k + c] = 1.0;
    }
    let mut y = vec![0.0f32; rows * k];
    simd::smooth_targets_simd(&onehot, &mut y, s.keep, s.add);
    let mut zz = z.clone();
    let got = kernels::head_loss_delta(Head::SoftmaxCe, &mut zz, &y, k);
    let mut want = 0.0f64;
    for (i, &c) in labels.iter().enumerate() {
        let row: Vec<f64> = z[i * k..(i + 1) * k]
            .iter()
            .map(|&v| f64::from(v))
            .collect();
        let max = row.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let lse = max + row.iter().map(|v| (v - max).exp()).sum::<f64>().ln();
        let nll: Vec<f64> = row.iter().map(|v| lse - v).collect();
        let e = f64::from(eps);
        want += (1.0 - e) * nll[c] + e * nll.iter().sum::<f64>() / k as f64;
    }
    assert!(
        (got - want).abs() <= 1e-5 * want,
        "smoothed loss {got} against PyTorch's formula {want}"
    );
}

/// Training with `ε` is training on the smoothed targets: the same bits, by
/// steps on rows and by shuffled epochs over gathered class labels, for the
/// softmax head and a sigmoid head.
#[test]
fn training_with_eps_is_training_on_smoothed_targets() {
    for (head, k, outs) in [(Head::SoftmaxCe, 4usize, 4usize), (Head::SigmoidBce, 2, 1)] {
        let mut r = rng(5 + outs as u64);
        let (n, n0) = (57usize, 6usize);
        let x = random_x(&mut r, n, n0);
        let labels: Vec<usize> = (0..n).map(|_| r.random_range(0..k)).collect();
        let xm = Matrix::from_vec(n, n0, x.clone()).unwrap();
        let classes = Dataset::classification(xm.clone(), labels, k, head).unwrap();
        let eps = 0.15f32;
        let s = LabelSmoothing::new(eps, head, outs).unwrap().unwrap();
        let y = classes.y().as_slice().to_vec();
        let mut ys = vec![0.0f32; y.len()];
        simd::smooth_targets_simd(&y, &mut ys, s.keep, s.add);
        let smoothed = Dataset::new(xm, Matrix::from_vec(n, outs, ys.clone()).unwrap()).unwrap();
        let sizes = [n0, 11, outs];
        let cfg = |label_smoothing: f32| TrainConfig {
            batch_size: 16,
            lr: 0.01,
            optimizer: common::optimizers(0.0)[1].1,
            shard_rows: 5,
            threads: 2,
            seed: 4,
            label_smoothing,
            ..TrainConfig::default()
        };
        let train = |eps: f32, data: &Dataset| -> (Vec<u32>, Vec<u64>) {
            let mut mlp = Mlp::new(&sizes, &[Activation::Selu], head, 2).unwrap();
            let mut t = Trainer::new(&mlp, &cfg(eps)).unwrap();
            let mut losses = Vec::new();
            for _ in 0..3 {
                losses.push(t.epoch(&mut mlp, data).unwrap().loss.to_bits());
            }
            // and steps on contiguous rows
            for b in 0..3 {
                let rows = b * 16..(b + 1) * 16;
                let loss = t
                    .step(
                        &mut mlp,
                        &x[rows.start * n0..rows.end * n0],
                        &data.y().as_slice()[rows.start * outs..rows.end * outs],
                        16,
                    )
                    .unwrap();
                losses.push(loss.to_bits());
            }
            (mlp.params().iter().map(|p| p.to_bits()).collect(), losses)
        };
        let (p_eps, l_eps) = train(eps, &classes);
        let (p_pre, l_pre) = train(0.0, &smoothed);
        assert!(
            l_eps == l_pre,
            "{head}: losses differ from training on the smoothed targets"
        );
        assert!(
            p_eps == p_pre,
            "{head}: weights differ from training on the smoothed targets"
        );
        // and smoothing does change the run
        assert_ne!(train(0.0, &classes).0, p_eps, "{head}");
    }
}

fn write_csv(dir: &Path) -> std::path::PathBuf {
    common::write_abc_csv(dir, 240, |a, b, c| {
        ["red", "green", "blue"][((a + b * 2.0 + c) * 1.5) as usize % 3].to_string()
    })
}

/// Through the session: recorded in the model, the same file at 1 and 3
/// threads, a run interrupted in its third epoch and resumed gives the
/// uninterrupted run's file, and a resume with another `ε` is refused naming
/// the setting.
#[test]
fn smoothing_is_recorded_thread_free_and_resumes_bit_for_bit() {
    let dir = tempfile::tempdir().unwrap();
    let data = write_csv(dir.path());
    let spec = |epochs: usize, threads: usize| FitSpec {
        data: DataSource::File(data.clone()),
        label_smoothing: Some(0.1),
        epochs,
        batch_size: Some(16),
        shard_rows: Some(4),
        threads,
        seed: Some(3),
        ..FitSpec::default()
    };
    let bytes = |o: &backprop::fit::FitOutcome| model_io::to_bytes(&o.mlp, &o.meta).unwrap();
    let one = spec(4, 1).fit().unwrap();
    assert_eq!(one.meta.extra["train.label_smoothing"], "0.1");
    assert!(
        bytes(&spec(4, 3).fit().unwrap()) == bytes(&one),
        "3 threads"
    );
    let plain = FitSpec {
        label_smoothing: None,
        ..spec(4, 1)
    }
    .fit()
    .unwrap();
    assert_ne!(plain.mlp.params(), one.mlp.params());
    let ckpt = dir.path().join("run.ckpt");
    common::fit_interrupted(
        &FitSpec {
            checkpoint: Some(ckpt.clone()),
            ..spec(4, 2)
        },
        3,
    );
    let resumed = FitSpec {
        resume: Some(ckpt.clone().into()),
        label_smoothing: None,
        ..spec(4, 3)
    }
    .fit()
    .unwrap();
    assert!(bytes(&resumed) == bytes(&one), "resumed");
    let e = FitSpec {
        resume: Some(ckpt.into()),
        label_smoothing: Some(0.2),
        ..spec(4, 1)
    }
    .fit()
    .unwrap_err()
    .to_string();
    assert!(e.contains("label_smoothing"), "{e}");
}

#[test]
fn impossible_settings_are_refused_naming_the_setting() {
    for (eps, head) in [
        (1.0, Head::SoftmaxCe),
        (-0.1, Head::SigmoidBce),
        (f32::NAN, Head::SoftmaxCe),
        (0.1, Head::Mse),
    ] {
        let e = LabelSmoothing::new(eps, head, 3).unwrap_err().to_string();
        assert!(e.contains("label_smoothing"), "{eps} {head}: {e}");
        let mlp = Mlp::new(&[2, 3, 3], &[Activation::Relu], head, 1).unwrap();
        let cfg = TrainConfig {
            label_smoothing: eps,
            ..TrainConfig::default()
        };
        assert!(Trainer::new(&mlp, &cfg).is_err(), "{eps} {head}");
    }
    assert!(LabelSmoothing::new(0.0, Head::Mse, 1).unwrap().is_none());
}
