//! Chunked, parallel forward passes (`backprop::infer`): a row's outputs do
//! not depend on its chunk-mates, so predictions, losses and accuracies are
//! bitwise the same for any chunk size and thread count, and equal to the
//! whole set in one chunk.

mod common;

use backprop::data::accuracy;
use backprop::infer::Inference;
use backprop::{Activation, Head, Mlp};
use common::{random_x, random_y, rng};

fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|x| x.to_bits()).collect()
}

fn networks() -> Vec<(Mlp, &'static str)> {
    vec![
        (
            Mlp::new(
                &[13, 70, 33, 5],
                &[Activation::Relu, Activation::Tanh],
                Head::SoftmaxCe,
                1,
            )
            .unwrap(),
            "softmax",
        ),
        (
            Mlp::new(&[9, 40, 1], &[Activation::Sigmoid], Head::SigmoidBce, 2).unwrap(),
            "binary",
        ),
        (
            Mlp::new(
                &[9, 17, 17, 3],
                &[Activation::Tanh, Activation::Relu],
                Head::SigmoidBce,
                3,
            )
            .unwrap(),
            "multi-label",
        ),
        (
            Mlp::new(&[6, 24, 2], &[Activation::Relu], Head::Mse, 4).unwrap(),
            "regression",
        ),
    ]
}

#[test]
fn predictions_are_the_same_for_any_chunk_size_and_thread_count() {
    let rows = 531;
    for (mlp, name) in networks() {
        let mut r = rng(11);
        let x = random_x(&mut r, rows, mlp.inputs());
        let whole = mlp.predict(&x, rows).unwrap();
        for threads in [1, 2, 3, 8] {
            for chunk in [1, 7, 16, 100, 256, rows, 10_000] {
                let mut inf = Inference::new(&mlp, threads, chunk).unwrap();
                // fork every step: the parallel paths are what is compared
                inf.set_min_task_flops(0);
                let mut out = vec![f32::NAN; rows * mlp.outputs()];
                inf.predict_into(&mlp, &x, rows, &mut out).unwrap();
                assert_eq!(
                    bits(&out),
                    bits(whole.as_slice()),
                    "{name}: {threads} threads, chunks of {chunk}"
                );
            }
        }
        let mut alone = vec![0.0; rows * mlp.outputs()];
        mlp.predict_into(&x, rows, &mut alone).unwrap();
        assert_eq!(
            bits(&alone),
            bits(whole.as_slice()),
            "{name}: Mlp::predict_into"
        );
    }
}

/// A row predicted among other rows, in any position, or alone gives the
/// same bits.
#[test]
fn a_row_does_not_depend_on_its_chunk_mates() {
    for (mlp, name) in networks() {
        let mut r = rng(5);
        let n0 = mlp.inputs();
        let row = random_x(&mut r, 1, n0);
        let alone = mlp.predict(&row, 1).unwrap();
        for (mates, at) in [(15, 0), (15, 7), (40, 39), (255, 100)] {
            let mut x = random_x(&mut r, mates, n0);
            x.splice(at * n0..at * n0, row.iter().copied());
            let mut inf = Inference::new(&mlp, 2, 64).unwrap();
            let mut out = vec![0.0; (mates + 1) * mlp.outputs()];
            inf.predict_into(&mlp, &x, mates + 1, &mut out).unwrap();
            let k = mlp.outputs();
            assert_eq!(
                bits(&out[at * k..(at + 1) * k]),
                bits(alone.as_slice()),
                "{name}: row {at} of {}",
                mates + 1
            );
        }
    }
}

#[test]
fn losses_and_accuracies_are_the_same_for_any_chunk_size_and_thread_count() {
    let rows = 403;
    for (mlp, name) in networks() {
        let mut r = rng(8);
        let x = random_x(&mut r, rows, mlp.inputs());
        let y = random_y(&mut r, mlp.head(), rows, mlp.outputs());
        let single = matches!(name, "softmax" | "binary");
        let labels: Option<Vec<usize>> = single.then(|| {
            y.chunks_exact(mlp.outputs())
                .map(|t| {
                    if t.len() == 1 {
                        usize::from(t[0] == 1.0)
                    } else {
                        t.iter().position(|&v| v == 1.0).unwrap()
                    }
                })
                .collect()
        });
        let mut first = None;
        for threads in [1, 2, 3] {
            for chunk in [1, 8, 50, 256, 1000] {
                let mut inf = Inference::new(&mlp, threads, chunk).unwrap();
                // fork every step: the parallel paths are what is compared
                inf.set_min_task_flops(0);
                let f = inf.evaluate(&mlp, &x, &y, rows, labels.as_deref()).unwrap();
                let got = (f.loss.to_bits(), f.accuracy.map(f64::to_bits));
                match first {
                    None => first = Some(got),
                    Some(want) => {
                        assert_eq!(got, want, "{name}: {threads} threads, chunks of {chunk}")
                    }
                }
            }
        }
        let f = Inference::new(&mlp, 2, 64)
            .unwrap()
            .evaluate(&mlp, &x, &y, rows, labels.as_deref())
            .unwrap();
        // the class indices expanded row by row: the same bits as their
        // one-hot (or 0/1) matrix
        if let Some(l) = labels.as_deref() {
            let classes = backprop::data::Targets::classes(l, mlp.outputs()).unwrap();
            let g = Inference::new(&mlp, 3, 50)
                .unwrap()
                .evaluate_targets(&mlp, &x, classes, Some(l))
                .unwrap();
            assert_eq!(g.loss.to_bits(), f.loss.to_bits(), "{name}");
            assert_eq!(g.accuracy, f.accuracy, "{name}");
        }
        // one pass for the figures and every row's outputs: the figures of
        // `evaluate` and the outputs of `predict_into`, bit for bit
        let mut inf = Inference::new(&mlp, 3, 37).unwrap();
        let nl = mlp.outputs();
        let mut seen = vec![f32::NAN; rows * nl];
        let mut next = 0;
        let targets = backprop::data::Targets::values(&y, nl).unwrap();
        let g = inf
            .evaluate_each(&mlp, &x, targets, labels.as_deref(), |r, p| {
                assert_eq!(r, next, "rows in order");
                next += 1;
                seen[r * nl..(r + 1) * nl].copy_from_slice(p);
                Ok(())
            })
            .unwrap();
        assert_eq!(next, rows);
        assert_eq!(g.loss.to_bits(), f.loss.to_bits(), "{name}");
        assert_eq!(g.accuracy, f.accuracy, "{name}");
        let mut predicted = vec![0.0; rows * nl];
        inf.predict_into(&mlp, &x, rows, &mut predicted).unwrap();
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&seen), bits(&predicted), "{name}");
        // the whole-set figures of `Mlp`: the same bits
        let whole = mlp.loss(&x, &y, rows).unwrap();
        assert_eq!(f.loss.to_bits(), whole.to_bits(), "{name}");
        // and the loss of the whole set in one call of the head's kernel:
        // the same sum in another order for the element-wise heads
        let mut z = Inference::new(&mlp, 1, rows).unwrap();
        let mut logits = vec![0.0; rows * mlp.outputs()];
        z.for_each_chunk(&mlp, &x, rows, |_, l| {
            logits.copy_from_slice(l);
            Ok(())
        })
        .unwrap();
        let one_call =
            backprop::kernels::head_loss_delta(mlp.head(), &mut logits, &y, mlp.outputs())
                / rows as f64;
        if name == "softmax" {
            assert_eq!(f.loss.to_bits(), one_call.to_bits(), "{name}");
        } else {
            assert!(
                (f.loss - one_call).abs() <= 1e-12 * one_call.abs().max(1.0),
                "{name}"
            );
        }
        if let Some(l) = &labels {
            let p = mlp.predict(&x, rows).unwrap();
            assert_eq!(f.accuracy, Some(accuracy(&p, l)), "{name}");
        }
    }
}

#[test]
fn wrong_shapes_are_errors() {
    let (mlp, _) = networks().remove(0);
    let other = Mlp::new(&[13, 8, 5], &[Activation::Relu], Head::SoftmaxCe, 1).unwrap();
    let mut inf = Inference::new(&mlp, 2, 16).unwrap();
    let x = vec![0.0; 13 * 4];
    let mut out = vec![0.0; 5 * 4];
    assert!(inf.predict_into(&mlp, &x[1..], 4, &mut out).is_err());
    assert!(inf.predict_into(&mlp, &x, 4, &mut out[1..]).is_err());
    assert!(inf.predict_into(&other, &x, 4, &mut out).is_err());
    assert!(inf.evaluate(&mlp, &x, &out, 0, None).is_err());
    assert!(inf.evaluate(&mlp, &x, &out, 4, Some(&[0, 1])).is_err());
    assert!(Inference::new(&mlp, 1, 0).is_err());
}

/// A saved model's predictions on the threads (`SavedModel::predict_on`)
/// are the bits of `SavedModel::predict`, with the features' and targets'
/// standardisation applied, for a few rows (one thread) and many (several).
#[test]
fn a_saved_models_predictions_on_threads_are_its_own() {
    use backprop::data::Standardizer;
    use backprop::model_io::{ModelMeta, SavedModel};
    let sizes = [40, 64, 3];
    let mlp = Mlp::new(&sizes, &[Activation::Tanh], Head::Mse, 4).unwrap();
    let mut r = rng(91);
    let meta = ModelMeta {
        standardizer: Some(Standardizer {
            mean: common::uniform(&mut r, 40, -1.0, 1.0),
            std: common::uniform(&mut r, 40, 0.5, 2.0),
        }),
        target_standardizer: Some(Standardizer {
            mean: vec![10.0, -3.0, 0.5],
            std: vec![2.0, 0.1, 7.0],
        }),
        ..ModelMeta::default()
    };
    let saved = SavedModel { mlp, meta };
    for rows in [5, 3000] {
        let x = random_x(&mut r, rows, sizes[0]);
        let one = saved.predict(&x, rows).unwrap();
        for threads in [0, 1, 2, 3] {
            let on = saved.predict_on(&x, rows, threads).unwrap();
            let bits =
                |m: &backprop::Matrix| m.as_slice().iter().map(|v| v.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&on), bits(&one), "{rows} rows, {threads} threads");
        }
    }
}
