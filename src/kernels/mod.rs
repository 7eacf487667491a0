//! Numeric kernels on plain slices: GEMM wrappers ([`gemm`]), SIMD kernels
//! ([`simd`], and [`smooth`] for the activations whose derivative needs the
//! pre-activation) and their scalar references ([`scalar`]).
//!
//! The dispatch functions ([`activate`], [`head_loss_delta`], …, in
//! `dispatch.rs`) choose on [`Activation`](crate::Activation) and
//! [`Head`](crate::Head) once per slice,
//! never per element. The optimizer kernels take their scalar
//! hyper-parameters as one small `Copy` struct each ([`SgdHyper`],
//! [`MomentumHyper`], [`AdamHyper`], [`RmsPropHyper`]), shared by the SIMD
//! kernel and its scalar twin.

mod dispatch;
pub mod gemm;
mod params;
pub mod scalar;
pub mod simd;
pub mod smooth;

pub use dispatch::{
    activate, activate_backward, head_activate, head_loss_delta, head_loss_delta_weighted,
    simd_width,
};
pub use params::{
    unit_hash, AdamHyper, DropoutRow, MomentumHyper, RmsPropHyper, SgdHyper, UNIT_STRIDE,
};
