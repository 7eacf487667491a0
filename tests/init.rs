//! The initialisation rules ([`backprop::Init`]): each draws within its own
//! bound with the spread of a uniform, the biases as the rule says; `auto`
//! keeps the stream every earlier model was drawn from; a fit with a rule
//! records it, gives the same bits at any thread count and resumes bit for
//! bit; a rule with given weights is refused.

mod common;

use std::path::Path;

use backprop::fit::{DataSource, FitSpec};
use backprop::{model_io, Activation, Head, Init, Mlp};

/// The bound each rule should use, written out from the papers' and the
/// libraries' formulas (not through `Init::bound`).
fn expected_bound(init: Init, n_in: usize, n_out: usize, act: Activation, before: bool) -> f64 {
    let (i, o) = (n_in as f64, n_out as f64);
    match init {
        Init::Auto if before && act == Activation::Relu => (6.0 / i).sqrt(),
        Init::Auto | Init::Glorot => (6.0 / (i + o)).sqrt(),
        Init::Torch => 1.0 / i.sqrt(),
        Init::Sklearn if act == Activation::Sigmoid => (2.0 / (i + o)).sqrt(),
        Init::Sklearn => (6.0 / (i + o)).sqrt(),
    }
}

#[test]
fn each_rule_draws_within_its_bound_with_the_spread_of_a_uniform() {
    let sizes = [300, 200, 100, 10];
    for act in [Activation::Relu, Activation::Sigmoid, Activation::Tanh] {
        for init in Init::ALL {
            let mlp = Mlp::with_init(&sizes, &[act; 2], Head::SoftmaxCe, 3, init).unwrap();
            for l in 0..3 {
                let (n_in, n_out) = (sizes[l], sizes[l + 1]);
                let b = expected_bound(init, n_in, n_out, act, l < 2);
                let w = mlp.weights(l);
                let what = format!("{init} {act} layer {l}");
                assert!(w.iter().all(|&v| (v as f64).abs() <= b), "{what}");
                let max = w.iter().fold(0f64, |m, &v| m.max((v as f64).abs()));
                assert!(max > 0.97 * b, "{what}: max |w| {max} of bound {b}");
                let var = w.iter().map(|&v| (v as f64).powi(2)).sum::<f64>() / w.len() as f64;
                let want = b * b / 3.0;
                assert!(
                    (var / want - 1.0).abs() < 0.1,
                    "{what}: variance {var} for {want}"
                );
                let bias = mlp.bias(l);
                if matches!(init, Init::Torch | Init::Sklearn) {
                    assert!(bias.iter().all(|&v| (v as f64).abs() <= b), "{what}");
                    let bmax = bias.iter().fold(0f64, |m, &v| m.max((v as f64).abs()));
                    assert!(bmax > 0.5 * b, "{what}: biases are drawn");
                } else {
                    assert!(bias.iter().all(|&v| v == 0.0), "{what}: zero biases");
                }
            }
        }
    }
}

#[test]
fn auto_is_the_stream_of_every_earlier_model() {
    let new = Mlp::new(&[3, 4, 2], &[Activation::Relu], Head::SoftmaxCe, 1).unwrap();
    let auto = Mlp::with_init(
        &[3, 4, 2],
        &[Activation::Relu],
        Head::SoftmaxCe,
        1,
        Init::Auto,
    );
    assert_eq!(new, auto.unwrap());
    // the first weights as drawn before the rules were named
    let first: Vec<u32> = new.params()[..4].iter().map(|v| v.to_bits()).collect();
    assert_eq!(first, [1041171376, 3196925768, 1068462433, 3214404311]);
    // the rules differ from each other
    let torch = Mlp::with_init(
        &[3, 4, 2],
        &[Activation::Relu],
        Head::SoftmaxCe,
        1,
        Init::Torch,
    );
    assert_ne!(new.params(), torch.unwrap().params());
}

#[test]
fn rules_parse_by_name_and_refuse_others() {
    for init in Init::ALL {
        assert_eq!(init.name().parse::<Init>().unwrap(), init);
        assert_eq!(
            init.to_string().to_uppercase().parse::<Init>().unwrap(),
            init
        );
    }
    let e = "kaiming".parse::<Init>().unwrap_err().to_string();
    assert!(e.contains("kaiming") && e.contains("torch"), "{e}");
}

/// 300 rows of 3 features and a 0/1 label.
fn write_csv(dir: &Path) -> std::path::PathBuf {
    common::write_abc_csv(dir, 300, |a, b, _| u8::from(a + b > 1.0).to_string())
}

#[test]
fn a_rule_is_recorded_the_same_at_any_thread_count_and_through_a_resume() {
    let dir = tempfile::tempdir().unwrap();
    let data = write_csv(dir.path());
    let spec = |epochs: usize, threads: usize| FitSpec {
        data: DataSource::File(data.clone()),
        validation_split: Some(0.2),
        hidden_layers: Some(vec![16, 8]),
        init: Some(Init::Torch),
        epochs,
        batch_size: Some(16),
        shard_rows: Some(4),
        threads,
        seed: Some(9),
        ..FitSpec::default()
    };
    let one = spec(4, 1).fit().unwrap();
    assert_eq!(one.meta.extra["train.init"], "torch");
    let bytes = |o: &backprop::fit::FitOutcome| model_io::to_bytes(&o.mlp, &o.meta).unwrap();
    for threads in [2, 3] {
        assert_eq!(
            bytes(&spec(4, threads).fit().unwrap()),
            bytes(&one),
            "{threads} threads"
        );
    }
    // the default on data is torch; another rule, another model; auto
    // leaves no entry
    assert_eq!(
        bytes(
            &FitSpec {
                init: None,
                ..spec(4, 1)
            }
            .fit()
            .unwrap()
        ),
        bytes(&one)
    );
    let auto = FitSpec {
        init: Some(Init::Auto),
        ..spec(4, 1)
    }
    .fit()
    .unwrap();
    assert_ne!(auto.mlp.params(), one.mlp.params());
    assert!(!auto.meta.extra.contains_key("train.init"));
    // interrupted in the third epoch, then resumed: the same file
    let ckpt = dir.path().join("run.ckpt");
    common::fit_interrupted(
        &FitSpec {
            checkpoint: Some(ckpt.clone()),
            ..spec(4, 2)
        },
        3,
    );
    let resumed = FitSpec {
        init: None,
        resume: Some(ckpt.clone().into()),
        ..spec(4, 3)
    }
    .fit()
    .unwrap();
    assert_eq!(bytes(&resumed), bytes(&one));
    // the rule with weights already given is refused, naming the option
    let e = FitSpec {
        resume: Some(ckpt.into()),
        ..spec(4, 1)
    }
    .fit()
    .unwrap_err();
    assert!(e.to_string().contains("init"), "{e}");
}
