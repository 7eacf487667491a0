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

mod collective;
mod exchange;
mod job;
mod local;
#[cfg(feature = "mpi")]
pub mod mpi;
mod partition;

pub use collective::Collective;
pub use exchange::Exchange;
pub use job::{launcher_size, Job};
pub use local::LocalGroup;
pub use partition::{owned, split_range, traffic, Traffic, REDUCE_CHUNK};
