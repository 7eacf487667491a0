//! Data parallelism over several processes (ranks), with the bits of one.
//!
//! A [`Collective`] is what the ranks of a job can do together: all-to-all
//! and all-gather of variable-sized parts. A [`crate::Trainer`] given one
//! ([`crate::Trainer::set_group`]) trains a global batch whose fixed shards
//! are divided among the ranks ([`split_range`]: rank `r` gets a contiguous
//! run, lower ranks first), every rank drawing the same shuffle. A step:
//!
//! 1. each rank runs its shards' forward and backward passes;
//! 2. the parameters are divided into owners' slices of whole reduction
//!    chunks ([`split_range`] over the chunks); each rank sends, for every
//!    slice, its shards' gradients of that slice to the slice's owner
//!    (all-to-all). The owner receives them in shard order, because the
//!    ranks hold consecutive runs of shards in rank order;
//! 3. the owner adds them in shard order, exactly as one process adds its
//!    shards' buffers, sums each chunk's squares if clipping (the per-chunk
//!    sums are all-gathered and added in chunk order, as one process does),
//!    and applies the optimizer to its slice, whose state only it keeps
//!    current;
//! 4. the updated slices are all-gathered, so every rank holds the whole
//!    model for the next step.
//!
//! The shards' losses are all-gathered and added in shard order. Every sum
//! therefore has the order of the single-process run, and the model after a
//! run on P ranks is bitwise the one-process model.
//!
//! Traffic per step and rank, for `n` parameters, `S` shards of which the
//! rank holds `S_r`: it sends `S_r·n·(P-1)/P` floats of gradients and
//! receives about `S·n/P·(P-1)/P`, then sends `n/P` and receives
//! `n·(P-1)/P` floats of parameters; plus `S` losses and, with clipping, one
//! `f64` per chunk.
//!
//! [`LocalGroup`] runs the ranks as threads of one process (for tests and
//! for checking the design without MPI); the `mpi` feature adds an MPI one.

use std::sync::{Arc, Barrier, Mutex};

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

/// Part `i` of `n` items cut into `parts` consecutive runs, the first
/// `n % parts` runs one longer: the shards of a rank, the chunks of an owner.
///
/// ```
/// use backprop::dist::split_range;
/// assert_eq!(split_range(5, 2, 0), 0..3);
/// assert_eq!(split_range(5, 2, 1), 3..5);
/// assert_eq!(split_range(2, 3, 2), 2..2); // more ranks than items
/// ```
pub fn split_range(n: usize, parts: usize, i: usize) -> std::ops::Range<usize> {
    let (base, extra) = (n / parts, n % parts);
    let start = i * base + i.min(extra);
    start..start + base + usize::from(i < extra)
}

/// The ranks of a job as threads of this process, exchanging through shared
/// memory: [`LocalGroup::new`] gives one handle per rank.
///
/// ```
/// use backprop::dist::{Collective, LocalGroup};
/// let ranks = LocalGroup::new(3);
/// let sums: Vec<f64> = std::thread::scope(|s| {
///     let handles: Vec<_> = ranks
///         .iter()
///         .map(|g| {
///             s.spawn(move || {
///                 let mine = [g.rank() as f64];
///                 let mut all = [0.0; 3];
///                 g.all_gather_f64(&mine, &mut all, &[1, 1, 1]).unwrap();
///                 all.iter().sum()
///             })
///         })
///         .collect();
///     handles.into_iter().map(|h| h.join().unwrap()).collect()
/// });
/// assert_eq!(sums, [3.0, 3.0, 3.0]);
/// ```
pub struct LocalGroup {
    rank: usize,
    hub: Arc<Hub>,
}

struct Hub {
    size: usize,
    barrier: Barrier,
    /// What each rank posted for the current collective.
    slots: Mutex<Vec<Posted>>,
}

#[derive(Clone, Default)]
struct Posted {
    f32s: Vec<f32>,
    f64s: Vec<f64>,
    counts: Vec<usize>,
}

impl LocalGroup {
    /// `size` ranks (at least 1), one handle each.
    ///
    /// # Panics
    /// If `size` is 0.
    pub fn new(size: usize) -> Vec<LocalGroup> {
        assert!(size > 0, "a group has at least one rank");
        let hub = Arc::new(Hub {
            size,
            barrier: Barrier::new(size),
            slots: Mutex::new(vec![Posted::default(); size]),
        });
        (0..size)
            .map(|rank| LocalGroup {
                rank,
                hub: Arc::clone(&hub),
            })
            .collect()
    }

    /// Posts this rank's part, waits for all, reads with `read`, and waits
    /// again so that no part is overwritten while another rank reads it.
    fn exchange<R>(&self, post: Posted, read: impl FnOnce(&[Posted]) -> R) -> R {
        self.hub.slots.lock().expect("no rank panicked")[self.rank] = post;
        self.hub.barrier.wait();
        let out = read(&self.hub.slots.lock().expect("no rank panicked"));
        self.hub.barrier.wait();
        out
    }
}

impl LocalGroup {
    /// An all-gather of values that `post` puts into a [`Posted`] and `part`
    /// reads back.
    fn all_gather<T: Copy>(
        &self,
        send: &[T],
        recv: &mut [T],
        counts: &[usize],
        post: impl FnOnce(&[T]) -> Posted,
        part: impl Fn(&Posted) -> &Vec<T>,
    ) -> Result<()> {
        check_len("sent", counts[self.rank], send.len())?;
        check_len("received", counts.iter().sum(), recv.len())?;
        self.exchange(post(send), |slots| {
            let mut at = 0;
            for slot in slots {
                let v = part(slot);
                recv[at..at + v.len()].copy_from_slice(v);
                at += v.len();
            }
        });
        Ok(())
    }
}

fn check_len(what: &str, want: usize, got: usize) -> Result<()> {
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

impl Collective for LocalGroup {
    fn rank(&self) -> usize {
        self.rank
    }

    fn size(&self) -> usize {
        self.hub.size
    }

    fn all_to_all_f32(
        &self,
        send: &[f32],
        send_counts: &[usize],
        recv: &mut [f32],
        recv_counts: &[usize],
    ) -> Result<()> {
        check_len("sent", send_counts.iter().sum(), send.len())?;
        check_len("received", recv_counts.iter().sum(), recv.len())?;
        let me = self.rank;
        let post = Posted {
            f32s: send.to_vec(),
            counts: send_counts.to_vec(),
            ..Posted::default()
        };
        self.exchange(post, |slots| {
            let mut at = 0;
            for (s, slot) in slots.iter().enumerate() {
                let offset: usize = slot.counts[..me].iter().sum();
                let n = slot.counts[me];
                check_len("from a rank", recv_counts[s], n)?;
                recv[at..at + n].copy_from_slice(&slot.f32s[offset..offset + n]);
                at += n;
            }
            Ok(())
        })
    }

    fn all_gather_f32(&self, send: &[f32], recv: &mut [f32], counts: &[usize]) -> Result<()> {
        let post = |v: &[f32]| Posted {
            f32s: v.to_vec(),
            ..Posted::default()
        };
        self.all_gather(send, recv, counts, post, |p| &p.f32s)
    }

    fn all_gather_f64(&self, send: &[f64], recv: &mut [f64], counts: &[usize]) -> Result<()> {
        let post = |v: &[f64]| Posted {
            f64s: v.to_vec(),
            ..Posted::default()
        };
        self.all_gather(send, recv, counts, post, |p| &p.f64s)
    }
}
