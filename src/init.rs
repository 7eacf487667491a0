//! How a new network's weights and biases are drawn ([`Init`]).
//!
//! Every rule draws uniformly from a layer's bound, layer after layer, from
//! one seeded ChaCha8 stream: the weights in their stored order (`W_l` is
//! `n_l × n_{l-1}`, row-major), then, for the rules that draw them, the
//! biases. The same seed and rule give the same network on every machine.

use rand::RngExt;
use rand_chacha::ChaCha8Rng;

use crate::activation::Activation;
use crate::error::{Error, Result};

/// The initialisation of a new network's parameters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Init {
    /// He-uniform `±√(6/n_in)` for a layer followed by ReLU,
    /// Glorot-uniform `±√(6/(n_in+n_out))` for the others (sigmoid, tanh,
    /// identity or the head); zero biases. The rule backprop has always
    /// used.
    #[default]
    Auto,
    /// Glorot-uniform `±√(6/(n_in+n_out))` for every layer, ReLU included;
    /// zero biases.
    Glorot,
    /// PyTorch's `nn.Linear`: `kaiming_uniform_(a=√5)` for the weights,
    /// which is `±1/√n_in`, and the biases from the same bound.
    Torch,
    /// scikit-learn's `MLPClassifier`/`MLPRegressor`: weights and biases
    /// from `±√(f/(n_in+n_out))` in every layer, with `f = 2` when the hidden
    /// layers are sigmoid (its `logistic`) and `f = 6` otherwise.
    Sklearn,
}

impl Init {
    /// Every rule, in the order of [`Init::name`]'s list.
    pub const ALL: [Init; 4] = [Init::Auto, Init::Glorot, Init::Torch, Init::Sklearn];

    /// The rule's name: `auto`, `glorot`, `torch` or `sklearn`.
    pub fn name(self) -> &'static str {
        match self {
            Init::Auto => "auto",
            Init::Glorot => "glorot",
            Init::Torch => "torch",
            Init::Sklearn => "sklearn",
        }
    }

    /// The bound of layer `l`'s weights (`n_in` inputs, `n_out` outputs),
    /// `hidden` being the network's hidden activations.
    pub fn bound(self, l: usize, n_in: usize, n_out: usize, hidden: &[Activation]) -> f64 {
        let glorot = |f: f64| (f / (n_in + n_out) as f64).sqrt();
        match self {
            Init::Auto if hidden.get(l) == Some(&Activation::Relu) => (6.0 / n_in as f64).sqrt(),
            Init::Auto | Init::Glorot => glorot(6.0),
            Init::Torch => 1.0 / (n_in as f64).sqrt(),
            Init::Sklearn if hidden.first() == Some(&Activation::Sigmoid) => glorot(2.0),
            Init::Sklearn => glorot(6.0),
        }
    }

    /// Whether the rule draws the biases (else they are zero).
    pub fn draws_biases(self) -> bool {
        matches!(self, Init::Torch | Init::Sklearn)
    }

    /// Fills one layer: `w` from the layer's bound, then `b` when the rule
    /// draws biases (else zeros), from `rng`.
    pub(crate) fn fill_layer(self, bound: f64, w: &mut [f32], b: &mut [f32], rng: &mut ChaCha8Rng) {
        let bound = bound as f32;
        for v in w.iter_mut() {
            *v = rng.random_range(-bound..bound);
        }
        for v in b.iter_mut() {
            *v = if self.draws_biases() {
                rng.random_range(-bound..bound)
            } else {
                0.0
            };
        }
    }
}

impl std::fmt::Display for Init {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Init {
    type Err = Error;

    fn from_str(s: &str) -> Result<Init> {
        Init::ALL
            .into_iter()
            .find(|i| i.name() == s.trim().to_ascii_lowercase())
            .ok_or_else(|| {
                Error::config(
                    "init",
                    format!("'{s}' is not an initialisation (auto, glorot, torch or sklearn)"),
                )
            })
    }
}
