//! [`AlignedVec`]: `f32` values whose first element sits on a 64-byte
//! boundary (a cache line), for the parameters, gradients and optimizer
//! state that the SIMD kernels stream through together.
//!
//! A `Vec<f32>` starts wherever the allocator puts it (16-byte aligned), so
//! two such arrays streamed side by side may have their 32-byte loads split
//! across cache lines, or not, by the luck of the addresses: the update
//! kernels then run up to ~10% slower from one run to the next. Starting
//! every such array on a cache line makes that cost the same every time.

use std::ops::{Deref, DerefMut};

/// Floats per cache line.
const LINE: usize = 64 / std::mem::size_of::<f32>();

/// `len` `f32` values, the first on a 64-byte boundary and the last
/// followed by at least a cache line of its own allocation (so two of them
/// never share a line). Derefs to `[f32]`.
#[derive(Default)]
pub struct AlignedVec {
    /// `len + 2·LINE - 1` values; ours start at `off`.
    buf: Vec<f32>,
    off: usize,
    len: usize,
}

impl AlignedVec {
    /// `len` zeros.
    pub fn zeros(len: usize) -> AlignedVec {
        let buf = vec![0.0; len + 2 * LINE - 1];
        let off = buf.as_ptr().align_offset(64).min(LINE - 1);
        AlignedVec { buf, off, len }
    }

    /// A copy of `values`.
    pub fn from_slice(values: &[f32]) -> AlignedVec {
        let mut v = AlignedVec::zeros(values.len());
        v.copy_from_slice(values);
        v
    }
}

impl Deref for AlignedVec {
    type Target = [f32];
    fn deref(&self) -> &[f32] {
        &self.buf[self.off..self.off + self.len]
    }
}

impl DerefMut for AlignedVec {
    fn deref_mut(&mut self) -> &mut [f32] {
        &mut self.buf[self.off..self.off + self.len]
    }
}

impl AsRef<[f32]> for AlignedVec {
    fn as_ref(&self) -> &[f32] {
        self
    }
}

/// A clone is aligned again (its allocation starts elsewhere).
impl Clone for AlignedVec {
    fn clone(&self) -> AlignedVec {
        AlignedVec::from_slice(self)
    }
}

impl PartialEq for AlignedVec {
    fn eq(&self, other: &AlignedVec) -> bool {
        **self == **other
    }
}

impl std::fmt::Debug for AlignedVec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        (**self).fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::AlignedVec;

    #[test]
    fn starts_on_a_cache_line_and_clones_do_too() {
        for len in [0, 1, 7, 100, 10_000] {
            let mut v = AlignedVec::zeros(len);
            assert_eq!(v.len(), len);
            if len > 0 {
                assert_eq!(v.as_ptr() as usize % 64, 0, "len {len}");
            }
            v.iter_mut().enumerate().for_each(|(i, x)| *x = i as f32);
            let c = v.clone();
            assert_eq!(c, v);
            if len > 0 {
                assert_eq!(c.as_ptr() as usize % 64, 0);
            }
            assert_eq!(AlignedVec::from_slice(&v), v);
        }
    }
}
