//! # backprop
//!
//! Fast CPU training of multi-layer perceptrons, with the classic
//! backpropagation of `docs/backprop.md`:
//!
//! - layer math on cache-blocked GEMMs from `matrixmultiply`, transposes
//!   through strides ([`kernels::gemm`]);
//! - activations, derivatives, bias, softmax, losses, the update and the
//!   shard reduction as `wide::f32x8` SIMD kernels ([`kernels::simd`]), each
//!   beside a scalar reference ([`kernels::scalar`]);
//! - each mini-batch cut into fixed-size shards run on the trainer's own rayon
//!   pool, their gradients reduced in a fixed order before one update
//!   ([`Trainer`]), so results are bitwise identical for any thread count.
//!
//! [`fit`] runs a whole training session — data file or tables → network →
//! epochs with held-out evaluation, checkpoints and callbacks — the way the
//! `backprop train` command does:
//!
//! ```
//! use backprop::{fit::FitSpec, Activation};
//! // the embedded breast-cancer set, its fixed test split held out
//! let spec = FitSpec {
//!     hidden_layers: Some(vec![16]),
//!     activation: Some(Activation::Sigmoid),
//!     epochs: 20,
//!     ..FitSpec::default()
//! };
//! let run = spec.fit()?;
//! let test_accuracy = run.history.last().unwrap().val_accuracy.unwrap();
//! assert!(test_accuracy > 0.9, "test accuracy {test_accuracy}");
//! # Ok::<(), backprop::Error>(())
//! ```
//!
//! Below it, [`Trainer::step`] and [`Trainer::epoch`] train an [`Mlp`] on
//! batches or datasets of your own; [`lbfgs`] trains one by full-batch
//! L-BFGS over [`Trainer::full_gradient`] (scikit-learn's `solver='lbfgs'`).
//!
//! Features: `cli` (default) builds the `backprop` binary and enables `plot`
//! (SVG training curves, the `plot` module); `--no-default-features` leaves the
//! library with no command-line or plotting dependencies.

#![warn(missing_docs)]

pub mod activation;
mod aligned;
#[doc(hidden)] // the `bench` command's engine, for the binary
pub mod bench;
pub mod data;
pub mod dist;
pub mod dropout;
pub mod error;
pub mod evaluate;
pub mod fit;
pub(crate) mod float_text;
pub mod infer;
pub mod init;
pub mod kernels;
pub mod lbfgs;
pub mod mapped;
pub mod meta;
pub mod metrics;
pub mod model_io;
pub mod network;
pub mod onnx;
pub mod optim;
#[doc(hidden)] // the front ends' table-to-dataset steps (`fit` is the API)
pub mod pipeline;
#[cfg(feature = "plot")]
pub mod plot;
#[doc(hidden)] // synthetic data and preset networks for the benches
pub mod presets;
pub mod schedule;
#[doc(hidden)] // the trainer's shard workspaces, for the allocation and equivalence tests
pub mod shard;
pub mod smoothing;
pub mod stopping;
pub mod tensor;
pub mod train;
pub mod work;

pub use activation::{Activation, Head};
pub use data::Dataset;
pub use error::{Error, Result};
pub use fit::FitSpec;
pub use init::Init;
pub use network::Mlp;
pub use tensor::{MatMut, MatRef, Matrix};
pub use train::{EpochStats, Profile, RngState, TrainConfig, Trainer, TrainerState};

/// The README's code blocks, compiled and run as doctests.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
