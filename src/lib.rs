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
//! ```
//! use backprop::{data::embedded, Activation, Head, Mlp, TrainConfig, Trainer};
//! let (train, test) = embedded::breast_cancer();
//! let mut mlp = Mlp::new(&[30, 16, 1], &[Activation::Sigmoid], Head::SigmoidBce, 42)?;
//! let cfg = TrainConfig { batch_size: 32, lr: 0.5, ..TrainConfig::default() };
//! let mut trainer = Trainer::new(&mlp, &cfg)?;
//! for _ in 0..20 {
//!     trainer.epoch(&mut mlp, &train)?;
//! }
//! let out = mlp.predict(test.x().as_slice(), test.rows())?;
//! let acc = backprop::data::accuracy(&out, test.labels().unwrap());
//! assert!(acc > 0.9, "test accuracy {acc}");
//! # Ok::<(), backprop::Error>(())
//! ```

#![warn(missing_docs)]

pub mod activation;
pub mod bench;
pub mod data;
pub mod error;
pub mod evaluate;
pub mod kernels;
pub mod meta;
pub mod metrics;
pub mod model_io;
pub mod network;
pub mod optim;
pub mod pipeline;
pub mod plot;
pub mod presets;
pub mod schedule;
pub mod tensor;
pub mod train;

pub use activation::{Activation, Head};
pub use data::Dataset;
pub use error::{Error, Result};
pub use network::Mlp;
pub use tensor::{MatMut, MatRef, Matrix};
pub use train::{EpochStats, Profile, RngState, TrainConfig, Trainer};

/// The README's code blocks, compiled and run as doctests.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
