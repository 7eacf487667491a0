//! The engine learns real problems through the training session of
//! `backprop::fit`: XOR, breast cancer (sigmoid + BCE) and digits (softmax +
//! CE), on the fixed splits shipped in `data/`.

use backprop::data::{csv, embedded, scale, LoadOptions, RawTable};
use backprop::fit::{DataSource, FitOutcome, FitSpec};
use backprop::optim::OptimizerConfig;
use backprop::{Activation, Head};

/// The held-out accuracy after the last epoch.
fn test_accuracy(run: &FitOutcome) -> f64 {
    run.history.last().unwrap().val_accuracy.unwrap()
}

/// The digits split `name` of `data/`, pixels (0..16) divided by 16.
fn digits(text: &str, name: &str) -> Box<RawTable> {
    let mut t = embedded::table(text, name);
    scale(&mut t.x, 16.0);
    Box::new(t)
}

/// Digits, scaled and not standardised, with the test split held out.
fn digits_spec() -> FitSpec {
    FitSpec {
        data: DataSource::Tables {
            train: digits(include_str!("../data/digits.train.csv"), "digits.train.csv"),
            test: Some(digits(
                include_str!("../data/digits.test.csv"),
                "digits.test.csv",
            )),
        },
        standardize: false,
        head: Some(Head::SoftmaxCe),
        batch_size: Some(32),
        // the plain SGD of docs/backprop.md (a data file's default is Adam)
        optimizer: Some(OptimizerConfig::default()),
        ..FitSpec::default()
    }
}

#[test]
fn xor_with_a_2_4_1_sigmoid_network() {
    let xor = csv::parse(
        "a,b,y\n0,0,0\n0,1,1\n1,0,1\n1,1,0\n",
        "xor",
        &LoadOptions::default(),
    )
    .unwrap();
    // Plain SGD on XOR can stall in a plateau for an unlucky start; every seed
    // here must solve it.
    for seed in 0..5 {
        let run = FitSpec {
            data: DataSource::Tables {
                train: Box::new(xor.clone()),
                test: None,
            },
            standardize: false,
            hidden_layers: Some(vec![4]),
            activation: Some(Activation::Sigmoid),
            batch_size: Some(4),
            optimizer: Some(OptimizerConfig::default()),
            lr: Some(2.0),
            epochs: 3000,
            threads: 1,
            seed: Some(seed),
            ..FitSpec::default()
        }
        .fit()
        .unwrap();
        assert_eq!(run.mlp.sizes(), [2, 4, 1]);
        assert_eq!(run.mlp.head(), Head::SigmoidBce);
        let last = run.history.last().unwrap();
        let out = run.mlp.predict(xor.x.as_slice(), 4).unwrap();
        assert_eq!(
            last.train_accuracy,
            Some(1.0),
            "seed {seed}: loss {}, outputs {:?}",
            last.train_loss,
            out.as_slice()
        );
        assert!(
            last.train_loss < 0.1,
            "seed {seed}: final loss {}",
            last.train_loss
        );
    }
}

#[test]
fn breast_cancer_sigmoid_bce_reaches_95_percent() {
    // the embedded set, standardised, its test split held out
    let run = FitSpec {
        hidden_layers: Some(vec![32]),
        activation: Some(Activation::Sigmoid),
        batch_size: Some(32),
        lr: Some(0.1),
        epochs: 50,
        seed: Some(0),
        ..FitSpec::default()
    }
    .fit()
    .unwrap();
    assert_eq!(run.mlp.sizes(), [30, 32, 1]);
    let acc = test_accuracy(&run);
    let loss = run.history.last().unwrap().val_loss.unwrap();
    println!("breast cancer: test accuracy {acc:.4}, test log-loss {loss:.4}");
    assert!(acc >= 0.95, "test accuracy {acc}");
}

#[test]
fn digits_softmax_ce_reaches_95_percent() {
    let run = FitSpec {
        hidden_layers: Some(vec![32]),
        activation: Some(Activation::Sigmoid),
        lr: Some(0.5),
        epochs: 60,
        seed: Some(0),
        ..digits_spec()
    }
    .fit()
    .unwrap();
    assert_eq!(run.mlp.sizes(), [64, 32, 10]);
    let acc = test_accuracy(&run);
    println!("digits: test accuracy {acc:.4}");
    assert!(acc >= 0.95, "test accuracy {acc}");
}

#[test]
fn digits_relu_and_tanh_hidden_layers_learn() {
    for act in [Activation::Relu, Activation::Tanh] {
        let run = FitSpec {
            hidden_layers: Some(vec![64, 32]),
            activation: Some(act),
            lr: Some(0.1),
            epochs: 30,
            seed: Some(3),
            ..digits_spec()
        }
        .fit()
        .unwrap();
        assert_eq!(run.mlp.sizes(), [64, 64, 32, 10]);
        let acc = test_accuracy(&run);
        println!("digits with two {act} layers: test accuracy {acc:.4}");
        assert!(acc >= 0.95, "{act}: test accuracy {acc}");
    }
}
