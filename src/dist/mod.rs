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
//! for checking the design without MPI); with the `mpi` feature,
//! `mpi::MpiGroup` gives the ranks of an `mpirun` job, and [`Job`] is how a
//! front end joins the job it was started in.

use crate::error::{Error, Result};
use crate::train::REDUCE_CHUNK;

mod job;
mod local;
#[cfg(feature = "mpi")]
pub mod mpi;

pub use job::Job;
pub use local::LocalGroup;

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

/// The parameters (of `n`) whose gradients rank `rank` of `size` sums and
/// whose update it applies: a run of whole reduction chunks
/// ([`crate::train::REDUCE_CHUNK`], so that a chunk's arithmetic is the
/// one-process chunk's), split as [`split_range`] splits them.
pub fn owned(n: usize, size: usize, rank: usize) -> std::ops::Range<usize> {
    let c = split_range(n.div_ceil(REDUCE_CHUNK).max(1), size, rank);
    (c.start * REDUCE_CHUNK).min(n)..(c.end * REDUCE_CHUNK).min(n)
}

/// What one rank sends to and receives from the other ranks in one
/// training step ([`traffic`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Traffic {
    /// Bytes this rank sends to other ranks (not to itself).
    pub sent_bytes: u64,
    /// Bytes it receives from other ranks.
    pub received_bytes: u64,
    /// Collective calls per step (each costs at least one latency).
    pub collectives: u32,
}

/// The traffic of rank `rank` of `ranks` in one step of a batch of `shards`
/// shards, for a network of `params` parameters, with or without clipping,
/// counted as the values each exchange moves between two ranks (an MPI
/// library may route them through other ranks, by trees or rings):
///
/// - gradients, all-to-all: for each other owner, the rank's shards' slices
///   of that owner's parameters (`f32`); it receives, from every other rank,
///   that rank's shards' slices of its own;
/// - losses, all-gather: its shards' losses, its count of rows predicted
///   right and its stop vote (`f64`) to every other rank;
/// - clipping, all-gather: one sum of squares per owned chunk (`f64`);
/// - parameters, all-gather: its owned slice (`f32`) to every other rank.
///
/// ```
/// use backprop::dist::traffic;
/// // L (2 913 290 parameters), 2 shards on 2 ranks: each sends about the
/// // other half of its shard's gradient and its half of the parameters
/// let t = traffic(2_913_290, 2, 2, 0, false);
/// assert_eq!(t.collectives, 3);
/// assert!(t.sent_bytes > 11_000_000 && t.sent_bytes < 12_000_000);
/// ```
pub fn traffic(params: usize, shards: usize, ranks: usize, rank: usize, clip: bool) -> Traffic {
    let shards_of = |r: usize| split_range(shards, ranks, r).len() as u64;
    let slice = |r: usize| owned(params, ranks, r).len() as u64;
    let chunks = |r: usize| slice(r).div_ceil(REDUCE_CHUNK as u64);
    let others = (0..ranks).filter(|&r| r != rank);
    let mut t = Traffic {
        collectives: 3 + u32::from(clip),
        ..Traffic::default()
    };
    for o in others {
        // gradients
        t.sent_bytes += 4 * shards_of(rank) * slice(o);
        t.received_bytes += 4 * shards_of(o) * slice(rank);
        // losses, counts of rows predicted right, votes
        t.sent_bytes += 8 * (shards_of(rank) + 2);
        t.received_bytes += 8 * (shards_of(o) + 2);
        // sums of squares
        if clip {
            t.sent_bytes += 8 * chunks(rank);
            t.received_bytes += 8 * chunks(o);
        }
        // parameters
        t.sent_bytes += 4 * slice(rank);
        t.received_bytes += 4 * slice(o);
    }
    t
}

/// The number of processes of the MPI job this process was started in, as
/// the launcher's environment says (Open MPI's `OMPI_COMM_WORLD_SIZE`,
/// MPICH's and Intel MPI's `PMI_SIZE`); `None` when not started by one.
/// Needs no MPI library: a build without the `mpi` feature uses it to
/// refuse to run as P independent copies.
pub fn launcher_size() -> Option<usize> {
    ["OMPI_COMM_WORLD_SIZE", "PMI_SIZE"]
        .iter()
        .find_map(|v| std::env::var(v).ok()?.trim().parse().ok())
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
