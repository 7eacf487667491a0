//! Parameter updates from a reduced gradient. Plain SGD, the rule of
//! `docs/backprop.md`: `θ ← θ - η·g`.

use crate::error::{Error, Result};
use crate::kernels::simd;

/// Plain stochastic gradient descent with a constant learning rate.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Sgd {
    lr: f32,
}

impl Sgd {
    /// SGD with learning rate `lr`.
    ///
    /// # Errors
    /// [`Error::Config`] (`--lr`) unless `lr` is finite and positive.
    pub fn new(lr: f32) -> Result<Sgd> {
        if !(lr.is_finite() && lr > 0.0) {
            return Err(Error::config(
                "--lr",
                format!("{lr} is not a positive finite number"),
            ));
        }
        Ok(Sgd { lr })
    }

    /// The learning rate.
    pub fn lr(&self) -> f32 {
        self.lr
    }

    /// `params ← params - lr·scale·grad` for one chunk of parameters, where
    /// `grad` holds summed (not yet averaged) gradients and `scale = 1/m`.
    ///
    /// ```
    /// let sgd = backprop::optim::Sgd::new(0.5).unwrap();
    /// let mut p = [1.0f32, 2.0];
    /// sgd.update(&mut p, &[4.0, -4.0], 0.25); // batch of 4: mean gradient (1, -1)
    /// assert_eq!(p, [0.5, 2.5]);
    /// ```
    pub fn update(&self, params: &mut [f32], grad: &[f32], scale: f32) {
        simd::axpy_simd(-self.lr * scale, grad, params);
    }
}
