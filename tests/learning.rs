//! The engine learns real problems: XOR, breast cancer (sigmoid + BCE) and
//! digits (softmax + CE), on the fixed splits shipped in `data/`.

use backprop::data::{accuracy, embedded};
use backprop::{Activation, Dataset, Head, Matrix, Mlp, TrainConfig, Trainer};

fn test_accuracy(mlp: &Mlp, data: &Dataset) -> f64 {
    let out = mlp.predict(data.x().as_slice(), data.rows()).unwrap();
    accuracy(&out, data.labels().unwrap())
}

fn fit(mlp: &mut Mlp, data: &Dataset, cfg: &TrainConfig) -> f64 {
    let mut trainer = Trainer::new(mlp, cfg).unwrap();
    let mut last = f64::NAN;
    for _ in 0..cfg.epochs {
        last = trainer.epoch(mlp, data).unwrap().loss;
    }
    last
}

#[test]
fn xor_with_a_2_4_1_sigmoid_network() {
    let x = Matrix::from_vec(4, 2, vec![0., 0., 0., 1., 1., 0., 1., 1.]).unwrap();
    let data = Dataset::classification(x, vec![0, 1, 1, 0], 2, Head::SigmoidBce).unwrap();
    // Plain SGD on XOR can stall in a plateau for an unlucky start; every seed
    // here must solve it.
    for seed in 0..5 {
        let mut mlp = Mlp::new(&[2, 4, 1], &[Activation::Sigmoid], Head::SigmoidBce, seed).unwrap();
        let cfg = TrainConfig {
            batch_size: 4,
            lr: 2.0,
            epochs: 3000,
            threads: 1,
            seed,
            ..TrainConfig::default()
        };
        let loss = fit(&mut mlp, &data, &cfg);
        let out = mlp.predict(data.x().as_slice(), 4).unwrap();
        assert_eq!(
            test_accuracy(&mlp, &data),
            1.0,
            "seed {seed}: loss {loss}, outputs {:?}",
            out.as_slice()
        );
        assert!(loss < 0.1, "seed {seed}: final loss {loss}");
    }
}

#[test]
fn breast_cancer_sigmoid_bce_reaches_95_percent() {
    let (train, test) = embedded::breast_cancer();
    let mut mlp = Mlp::new(&[30, 32, 1], &[Activation::Sigmoid], Head::SigmoidBce, 0).unwrap();
    let cfg = TrainConfig {
        batch_size: 32,
        lr: 0.1,
        epochs: 50,
        seed: 0,
        ..TrainConfig::default()
    };
    fit(&mut mlp, &train, &cfg);
    let acc = test_accuracy(&mlp, &test);
    let loss = mlp
        .loss(test.x().as_slice(), test.y().as_slice(), test.rows())
        .unwrap();
    println!("breast cancer: test accuracy {acc:.4}, test log-loss {loss:.4}");
    assert!(acc >= 0.95, "test accuracy {acc}");
}

#[test]
fn digits_softmax_ce_reaches_95_percent() {
    let (train, test) = embedded::digits();
    let mut mlp = Mlp::new(&[64, 32, 10], &[Activation::Sigmoid], Head::SoftmaxCe, 0).unwrap();
    let cfg = TrainConfig {
        batch_size: 32,
        lr: 0.5,
        epochs: 60,
        seed: 0,
        ..TrainConfig::default()
    };
    fit(&mut mlp, &train, &cfg);
    let acc = test_accuracy(&mlp, &test);
    println!("digits: test accuracy {acc:.4}");
    assert!(acc >= 0.95, "test accuracy {acc}");
}

#[test]
fn digits_relu_and_tanh_hidden_layers_learn() {
    let (train, test) = embedded::digits();
    for act in [Activation::Relu, Activation::Tanh] {
        let mut mlp = Mlp::new(&[64, 64, 32, 10], &[act, act], Head::SoftmaxCe, 3).unwrap();
        let cfg = TrainConfig {
            batch_size: 32,
            lr: 0.1,
            epochs: 30,
            seed: 3,
            ..TrainConfig::default()
        };
        fit(&mut mlp, &train, &cfg);
        let acc = test_accuracy(&mlp, &test);
        println!("digits with two {act} layers: test accuracy {acc:.4}");
        assert!(acc >= 0.95, "{act}: test accuracy {acc}");
    }
}
