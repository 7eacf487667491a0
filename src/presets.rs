//! The four benchmark configurations (T, M, B, L) and synthetic data for them.
//!
//! Shared by `benches/` and the command line so that every figure names the
//! same networks.

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::activation::{Activation, Head};
use crate::error::{Error, Result};
use crate::network::Mlp;

/// A network shape and batch size to benchmark.
#[derive(Clone, Debug, PartialEq)]
pub struct Preset {
    /// One-letter name.
    pub name: &'static str,
    /// What it stands for.
    pub description: &'static str,
    /// `[n_0, …, n_L]`.
    pub sizes: &'static [usize],
    /// The activation of every hidden layer.
    pub activation: Activation,
    /// The output head.
    pub head: Head,
    /// Mini-batch size.
    pub batch: usize,
}

/// T, M, B and L.
pub const PRESETS: [Preset; 4] = [
    Preset {
        name: "T",
        description: "tiny tabular",
        sizes: &[30, 64, 32, 1],
        activation: Activation::Sigmoid,
        head: Head::SigmoidBce,
        batch: 32,
    },
    Preset {
        name: "M",
        description: "MNIST-sized",
        sizes: &[784, 256, 256, 10],
        activation: Activation::Relu,
        head: Head::SoftmaxCe,
        batch: 128,
    },
    Preset {
        name: "B",
        description: "the seed's case at scale",
        sizes: &[784, 256, 256, 1],
        activation: Activation::Sigmoid,
        head: Head::SigmoidBce,
        batch: 256,
    },
    Preset {
        name: "L",
        description: "large",
        sizes: &[784, 1024, 1024, 1024, 10],
        activation: Activation::Relu,
        head: Head::SoftmaxCe,
        batch: 256,
    },
];

impl Preset {
    /// The preset called `name` (`T`, `M`, `B` or `L`, any case).
    ///
    /// # Errors
    /// [`Error::Config`] (`--config`) for any other name.
    pub fn by_name(name: &str) -> Result<&'static Preset> {
        PRESETS
            .iter()
            .find(|p| p.name.eq_ignore_ascii_case(name))
            .ok_or_else(|| Error::config("config", format!("'{name}' is not one of T, M, B, L")))
    }

    /// The hidden activations, one per hidden layer.
    pub fn hidden(&self) -> Vec<Activation> {
        vec![self.activation; self.sizes.len() - 2]
    }

    /// A freshly initialised network of this shape.
    pub fn network(&self, seed: u64) -> Mlp {
        Mlp::new(self.sizes, &self.hidden(), self.head, seed).expect("presets are valid networks")
    }

    /// Training FLOPs per sample by the count of `docs/backprop.md`: forward
    /// `2·n_in·n_out` per layer, backward `4·n_in·n_out` except `2·n_0·n_1`
    /// for the first layer (no input gradient).
    ///
    /// ```
    /// let t = backprop::presets::Preset::by_name("T").unwrap();
    /// assert_eq!(t.flops_per_sample(), 2 * 30 * 64 * 2 + 6 * 64 * 32 + 6 * 32);
    /// ```
    pub fn flops_per_sample(&self) -> u64 {
        flops_per_sample(self.sizes)
    }
}

/// Training FLOPs per sample of a network with layer sizes `sizes` (see
/// [`Preset::flops_per_sample`]).
pub use crate::work::flops_per_sample;

/// `rows` synthetic samples for a network of `sizes` and `head`: inputs
/// uniform in `[-1, 1]`, targets valid for the head (0/1 for sigmoid, one-hot
/// rows for softmax, uniform `[-1, 1]` for MSE, uniform `[0, 3]` for
/// Poisson). Returns `(x, y)` row-major.
pub fn synthetic(sizes: &[usize], head: Head, rows: usize, seed: u64) -> (Vec<f32>, Vec<f32>) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let (n_in, n_out) = (sizes[0], sizes[sizes.len() - 1]);
    let x = (0..rows * n_in)
        .map(|_| rng.random_range(-1.0f32..1.0))
        .collect();
    let mut y = vec![0.0f32; rows * n_out];
    for row in y.chunks_exact_mut(n_out) {
        match head {
            Head::SigmoidBce => row
                .iter_mut()
                .for_each(|v| *v = f32::from(rng.random::<bool>())),
            Head::SoftmaxCe => row[rng.random_range(0..n_out)] = 1.0,
            Head::Mse => row
                .iter_mut()
                .for_each(|v| *v = rng.random_range(-1.0f32..1.0)),
            Head::Poisson => row
                .iter_mut()
                .for_each(|v| *v = rng.random_range(0.0f32..3.0)),
        }
    }
    (x, y)
}
