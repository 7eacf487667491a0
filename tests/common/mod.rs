//! Helpers shared by the integration tests: the naive f64 reference network,
//! a seeded RNG, random networks and batches.
#![allow(dead_code)] // each test binary uses a subset

pub mod reference;

use backprop::{Activation, Head};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

#[allow(unused_imports)] // each test binary uses a subset
pub use reference::{param_count, param_name, RefNet};

/// The one RNG of the tests, always seeded.
pub fn rng(seed: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(seed)
}

/// `n` values uniform in `[lo, hi)`.
pub fn uniform(rng: &mut ChaCha8Rng, n: usize, lo: f32, hi: f32) -> Vec<f32> {
    (0..n).map(|_| rng.random_range(lo..hi)).collect()
}

/// A batch of inputs, `m × n0`, uniform in `[-2, 2)`.
pub fn random_x(rng: &mut ChaCha8Rng, m: usize, n0: usize) -> Vec<f32> {
    uniform(rng, m * n0, -2.0, 2.0)
}

/// Targets `m × n_out` that suit the head: 0/1 per column for sigmoid + BCE,
/// one-hot rows for softmax + CE, uniform in `[-1, 1)` for MSE, in `[0, 3)`
/// (a fifth of them 0) for Poisson.
pub fn random_y(rng: &mut ChaCha8Rng, head: Head, m: usize, n_out: usize) -> Vec<f32> {
    match head {
        Head::SigmoidBce => (0..m * n_out)
            .map(|_| if rng.random_bool(0.5) { 1.0 } else { 0.0 })
            .collect(),
        Head::SoftmaxCe => {
            let mut y = vec![0.0; m * n_out];
            for row in y.chunks_mut(n_out) {
                row[rng.random_range(0..n_out)] = 1.0;
            }
            y
        }
        Head::Mse => uniform(rng, m * n_out, -1.0, 1.0),
        // rates and counts, zeros among them
        Head::Poisson => uniform(rng, m * n_out, -0.5, 3.0)
            .into_iter()
            .map(|v| v.max(0.0))
            .collect(),
    }
}

/// A random output width that suits the head: 2..=4 classes for softmax,
/// 1..=3 columns otherwise.
pub fn out_width(rng: &mut ChaCha8Rng, head: Head) -> usize {
    match head {
        Head::SoftmaxCe => rng.random_range(2..=4),
        _ => rng.random_range(1..=3),
    }
}

/// Flat parameters (the engine's layout) with weights uniform in
/// `±sqrt(6 / (fan_in + fan_out))` and biases uniform in `±0.1`.
pub fn random_params(rng: &mut ChaCha8Rng, sizes: &[usize]) -> Vec<f32> {
    let mut p = Vec::with_capacity(param_count(sizes));
    for s in sizes.windows(2) {
        let limit = (6.0 / (s[0] + s[1]) as f32).sqrt();
        p.extend(uniform(rng, s[0] * s[1], -limit, limit));
        p.extend(uniform(rng, s[1], -0.1, 0.1));
    }
    p
}

/// Random layer widths: input `in_range`, one or two hidden layers of
/// `hidden_range`, and `out` outputs.
pub fn random_sizes(
    rng: &mut ChaCha8Rng,
    in_range: std::ops::RangeInclusive<usize>,
    hidden_range: std::ops::RangeInclusive<usize>,
    max_hidden_layers: usize,
    out: usize,
) -> Vec<usize> {
    let hidden_layers = rng.random_range(1..=max_hidden_layers);
    let mut sizes = vec![rng.random_range(in_range)];
    for _ in 0..hidden_layers {
        sizes.push(rng.random_range(hidden_range.clone()));
    }
    sizes.push(out);
    sizes
}

/// Hidden activations for `sizes`: `first` for the first hidden layer, random
/// ones after it (so every activation is covered as the first, and mixes occur).
pub fn hidden_with(rng: &mut ChaCha8Rng, sizes: &[usize], first: Activation) -> Vec<Activation> {
    (0..sizes.len() - 2)
        .map(|l| {
            if l == 0 {
                first
            } else {
                Activation::ALL[rng.random_range(0..Activation::ALL.len())]
            }
        })
        .collect()
}

/// Widens to f64 (exactly).
pub fn to_f64(v: &[f32]) -> Vec<f64> {
    v.iter().map(|&x| f64::from(x)).collect()
}

/// `|a - b| <= abs + rel·max(|a|, |b|)`.
pub fn close(a: f64, b: f64, rel: f64, abs: f64) -> bool {
    (a - b).abs() <= abs + rel * a.abs().max(b.abs())
}

/// Every update rule, by name, with the base learning rate the tests use
/// for it, all with weight decay `weight_decay` (on weights).
pub fn optimizers(weight_decay: f32) -> Vec<(&'static str, backprop::optim::OptimizerConfig, f32)> {
    use backprop::optim::{OptimizerConfig, OptimizerKind};
    let base = OptimizerConfig {
        weight_decay,
        ..OptimizerConfig::default()
    };
    let with = |kind| OptimizerConfig { kind, ..base };
    vec![
        ("sgd", base, 0.1),
        (
            "sgd_momentum",
            OptimizerConfig {
                momentum: 0.9,
                ..base
            },
            0.05,
        ),
        (
            "sgd_nesterov",
            OptimizerConfig {
                momentum: 0.9,
                nesterov: true,
                ..base
            },
            0.05,
        ),
        ("adam", with(OptimizerKind::Adam), 0.01),
        ("adamw", with(OptimizerKind::AdamW), 0.01),
        ("rmsprop", with(OptimizerKind::RmsProp), 0.01),
    ]
}

/// The tensors of a model file (its weights and biases: everything but the
/// metadata), sorted by name.
pub fn layer_tensors(bytes: &[u8]) -> Vec<(String, Vec<u8>)> {
    let st = safetensors::SafeTensors::deserialize(bytes).expect("a safetensors file");
    let mut t: Vec<(String, Vec<u8>)> = st
        .tensors()
        .into_iter()
        .map(|(n, v)| (n, v.data().to_vec()))
        .collect();
    t.sort();
    t
}

/// The package's command-line binary, to run.
pub fn bin() -> assert_cmd::Command {
    assert_cmd::Command::cargo_bin("backprop").expect("binary built")
}

/// A file of the repository's `data/` folder.
pub fn repo_data(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("data")
        .join(name)
}

/// What `cmd` prints on standard output, asserting that it succeeds.
pub fn stdout_of(cmd: &mut assert_cmd::Command) -> String {
    let out = cmd.assert().success().get_output().stdout.clone();
    String::from_utf8(out).expect("UTF-8 output")
}

/// Stops at the first batch of epoch `epoch` (1-based), as an interrupt
/// would: the flag is read after every batch.
struct StopAt<'a> {
    stop: &'a std::sync::atomic::AtomicBool,
    epoch: usize,
}

impl backprop::fit::FitCallbacks for StopAt<'_> {
    fn on_epoch_start(&mut self, epoch: usize) {
        if epoch == self.epoch {
            self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        }
    }
}

/// Runs `spec` (which writes a checkpoint) and interrupts it after the
/// first batch of epoch `epoch` (1-based), as Ctrl-C would: the checkpoint
/// then holds the run's place inside that epoch, and resuming it with the
/// same settings must give the uninterrupted run's bits, whatever the
/// schedule over the run's length.
pub fn fit_interrupted(spec: &backprop::fit::FitSpec, epoch: usize) -> backprop::fit::FitOutcome {
    assert!(
        spec.checkpoint.is_some(),
        "an interrupted run needs a checkpoint"
    );
    let stop = std::sync::atomic::AtomicBool::new(false);
    let mut at = StopAt { stop: &stop, epoch };
    let out = backprop::fit::prepare(spec, &mut at)
        .and_then(|p| p.run(&stop, &mut at))
        .expect("the interrupted run");
    assert!(out.interruption().is_some(), "the run was not interrupted");
    out
}

/// Writes `dir/data.csv`: a header `a,b,c,y` and `rows` rows of three
/// features in [0, 1) spread by a fixed hash, the label `label(a, b, c)`.
pub fn write_abc_csv(
    dir: &std::path::Path,
    rows: u32,
    label: impl Fn(f32, f32, f32) -> String,
) -> std::path::PathBuf {
    let mut text = String::from("a,b,c,y\n");
    for i in 0..rows {
        let [a, b, c] = [1u32, 2, 3].map(|k| ((i * 7919 + k * 104_729) % 1000) as f32 / 1000.0);
        text.push_str(&format!("{a},{b},{c},{}\n", label(a, b, c)));
    }
    let path = dir.join("data.csv");
    std::fs::write(&path, text).unwrap();
    path
}
