//! What a layer does to its pre-activations: [`Activation`] for hidden layers,
//! [`Head`] (output activation + loss) for the last one.

use std::fmt;
use std::str::FromStr;

use crate::error::Error;

/// Element-wise activation of a hidden layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Activation {
    /// `σ(z) = 1 / (1 + e^{-z})`; derivative `a(1 - a)`.
    Sigmoid,
    /// `tanh(z)`; derivative `1 - a²`.
    Tanh,
    /// `max(z, 0)`; derivative `[z > 0]` (equivalently `[a > 0]`).
    Relu,
    /// `z`; derivative 1.
    Identity,
    /// `λz` for `z > 0`, `λα(e^z - 1)` otherwise, with PyTorch's `λ ≈ 1.0507`
    /// and `α ≈ 1.6733` (Klambauer et al. 2017); derivative `λ` or `λα·e^z`.
    Selu,
    /// `z·σ(z)` (also called swish); derivative `σ(z)(1 + z(1 - σ(z)))`.
    Silu,
    /// `z·Φ(z)`, `Φ` the standard normal distribution function (the exact
    /// GELU, PyTorch's default); derivative `Φ(z) + z·φ(z)`.
    Gelu,
    /// `z·tanh(softplus(z))` (Misra 2019); derivative
    /// `tanh(softplus(z)) + z·σ(z)·sech²(softplus(z))`.
    Mish,
}

impl Activation {
    /// All activations, for tests and help texts.
    pub const ALL: [Activation; 8] = [
        Activation::Sigmoid,
        Activation::Tanh,
        Activation::Relu,
        Activation::Identity,
        Activation::Selu,
        Activation::Silu,
        Activation::Gelu,
        Activation::Mish,
    ];

    /// The name used on the command line and in model files.
    pub fn name(self) -> &'static str {
        match self {
            Activation::Sigmoid => "sigmoid",
            Activation::Tanh => "tanh",
            Activation::Relu => "relu",
            Activation::Identity => "identity",
            Activation::Selu => "selu",
            Activation::Silu => "silu",
            Activation::Gelu => "gelu",
            Activation::Mish => "mish",
        }
    }

    /// Whether the derivative needs the pre-activation `z` (SELU, SiLU,
    /// GELU, Mish: the trainer then keeps `z` beside the output), rather
    /// than the output alone (sigmoid, tanh, ReLU, identity).
    pub fn needs_input(self) -> bool {
        matches!(
            self,
            Activation::Selu | Activation::Silu | Activation::Gelu | Activation::Mish
        )
    }
}

impl fmt::Display for Activation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Activation {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        Activation::ALL
            .into_iter()
            .find(|a| a.name() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = Activation::ALL.iter().map(|a| a.name()).collect();
                Error::config(
                    "activation",
                    format!("'{s}' is not one of {}", names.join(", ")),
                )
            })
    }
}

/// The output layer: its activation and the loss computed from its logits.
///
/// For all four the output delta is `dZ = A - Y` (per sample, before the
/// division by the batch size): each pairs its activation with the loss
/// whose canonical link it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Head {
    /// Sigmoid outputs with binary cross-entropy (binary or multi-label).
    SigmoidBce,
    /// Softmax over the outputs with categorical cross-entropy (multi-class).
    SoftmaxCe,
    /// Identity outputs with the mean squared error `(1/2m) Σ (a - y)²`.
    Mse,
    /// Exponential outputs `a = exp(z)` (a rate or count, `> 0`) with the half
    /// Poisson deviance `(1/m) Σ (y·ln(y/a) - y + a)` (`y·ln y = 0` at
    /// `y = 0`), scikit-learn's `loss='poisson'`. Targets must be `>= 0`.
    Poisson,
}

impl Head {
    /// All heads, for tests and help texts.
    pub const ALL: [Head; 4] = [Head::SigmoidBce, Head::SoftmaxCe, Head::Mse, Head::Poisson];

    /// The name used on the command line and in model files.
    pub fn name(self) -> &'static str {
        match self {
            Head::SigmoidBce => "sigmoid",
            Head::SoftmaxCe => "softmax",
            Head::Mse => "mse",
            Head::Poisson => "poisson",
        }
    }

    /// Whether the head predicts classes (and so has an accuracy).
    pub fn is_classifier(self) -> bool {
        !self.is_regression()
    }

    /// Whether the head predicts numbers (`mse`, `poisson`): R² and the
    /// regression metrics apply.
    pub fn is_regression(self) -> bool {
        matches!(self, Head::Mse | Head::Poisson)
    }
}

impl fmt::Display for Head {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Head {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        Head::ALL
            .into_iter()
            .find(|h| h.name() == s)
            .ok_or_else(|| {
                Error::config("head", format!("'{s}' is not one of sigmoid, softmax, mse"))
            })
    }
}
