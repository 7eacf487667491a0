//! [`Collective`]: what the ranks of a job do together, and the length
//! check its transports share.

use crate::error::{Error, Result};

/// What the ranks of a job do together. Every rank must make the same calls
/// in the same order (they are collective); counts are in elements.
pub trait Collective: Send + Sync {
    /// This rank, `0..size()`.
    fn rank(&self) -> usize;
    /// The number of ranks.
    fn size(&self) -> usize;
    /// Sends `send_counts[d]` consecutive values of `send` to each rank `d`
    /// (in rank order) and receives `recv_counts[s]` values from each rank
    /// `s` into consecutive parts of `recv` (in rank order).
    ///
    /// # Errors
    /// [`Error::Config`] (`mpi`) if the transport fails.
    fn all_to_all_f32(
        &self,
        send: &[f32],
        send_counts: &[usize],
        recv: &mut [f32],
        recv_counts: &[usize],
    ) -> Result<()>;
    /// Every rank contributes `send` (`counts[rank]` values); `recv` gets all
    /// contributions in rank order.
    ///
    /// # Errors
    /// As [`Collective::all_to_all_f32`].
    fn all_gather_f32(&self, send: &[f32], recv: &mut [f32], counts: &[usize]) -> Result<()>;
    /// [`Collective::all_gather_f32`] for `f64`.
    ///
    /// # Errors
    /// As [`Collective::all_to_all_f32`].
    fn all_gather_f64(&self, send: &[f64], recv: &mut [f64], counts: &[usize]) -> Result<()>;
}

/// Fails with a shape error unless `want == got` values were given.
pub(crate) fn check_len(what: &str, want: usize, got: usize) -> Result<()> {
    if want == got {
        Ok(())
    } else {
        Err(Error::shape(
            "collective",
            format!("{want} values {what}"),
            format!("{got}"),
        ))
    }
}
