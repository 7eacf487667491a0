//! Label smoothing: a classifier trained towards `(1 - ε)·y + ε/K` instead of
//! its one-hot (or 0/1) targets `y`, `K` the classes a target spreads over.
//!
//! - softmax with cross-entropy: `K` is the number of classes, as PyTorch's
//!   `CrossEntropyLoss(label_smoothing=ε)`;
//! - sigmoid with binary cross-entropy: each output is its own two-class
//!   problem, `K = 2`, as Keras's `BinaryCrossentropy(label_smoothing=ε)`.
//!
//! The loss and its gradient are the head's own on the smoothed targets (the
//! output delta stays `A - Y`, now with the smoothed `Y`), so the training
//! loss reported includes the smoothing. Validation and test losses, and
//! every accuracy, are computed on the targets as given.

use crate::activation::Head;
use crate::error::{Error, Result};

/// The smoothed targets' affine map `y ↦ y·keep + add`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LabelSmoothing {
    /// `1 - ε`.
    pub keep: f32,
    /// `ε/K`.
    pub add: f32,
}

impl LabelSmoothing {
    /// The smoothing `eps` for a network with head `head` and `outputs`
    /// outputs; `None` for `eps = 0`.
    ///
    /// # Errors
    /// [`Error::Config`] (`label_smoothing`) when `eps` is not in `[0, 1)`, or
    /// is not 0 for a regression head.
    ///
    /// ```
    /// use backprop::smoothing::LabelSmoothing;
    /// use backprop::Head;
    /// let s = LabelSmoothing::new(0.1, Head::SoftmaxCe, 4)?.unwrap();
    /// assert_eq!((s.keep, s.add), (0.9, 0.025));
    /// assert!(LabelSmoothing::new(0.0, Head::Mse, 1)?.is_none());
    /// assert!(LabelSmoothing::new(0.1, Head::Mse, 1).is_err());
    /// # Ok::<(), backprop::Error>(())
    /// ```
    pub fn new(eps: f32, head: Head, outputs: usize) -> Result<Option<LabelSmoothing>> {
        if !(eps.is_finite() && (0.0..1.0).contains(&eps)) {
            return Err(Error::config(
                "label_smoothing",
                format!("{eps} is not in [0, 1)"),
            ));
        }
        if eps == 0.0 {
            return Ok(None);
        }
        let classes = match head {
            Head::SoftmaxCe => outputs,
            Head::SigmoidBce => 2,
            Head::Mse | Head::Poisson => {
                return Err(Error::config(
                    "label_smoothing",
                    format!("smooths class targets; the {head} head has none"),
                ))
            }
        };
        Ok(Some(LabelSmoothing {
            keep: 1.0 - eps,
            add: eps / classes as f32,
        }))
    }
}
