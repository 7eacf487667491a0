//! The ranks of an `mpirun` job, through the MPI library (feature `mpi`,
//! the `mpi` crate).
//!
//! [`MpiGroup::init`] initialises MPI once per process and gives the world
//! communicator as a [`Collective`]. The exchanges are MPI's
//! `MPI_Alltoallv` and `MPI_Allgatherv`: they move values and never add
//! them, so the order of every sum stays the trainer's ([`crate::dist`]).
//!
//! MPI's default error handler ends the job on a transport failure, so the
//! calls here do not return MPI errors; [`MpiGroup::abort`] ends every rank
//! when one of them fails on its own (bad data, a failed write).

use std::sync::Mutex;

use mpi::datatype::{Partition, PartitionMut};
use mpi::environment::Universe;
use mpi::topology::SimpleCommunicator;
use mpi::traits::{Communicator, CommunicatorCollectives};
use mpi::{Count, Threading};

use super::collective::{check_len, Collective};
use crate::error::{Error, Result};

/// The world communicator of this process's MPI job. Hold it in an `Arc`
/// and give clones to [`crate::Trainer::set_group`]; MPI is finalised when
/// the last handle is dropped, which should happen on the thread that
/// called [`MpiGroup::init`] (the main thread).
pub struct MpiGroup {
    rank: usize,
    size: usize,
    /// The communicator and the count/displacement arrays of the calls,
    /// allocated once; the lock keeps MPI calls from overlapping.
    inner: Mutex<Inner>,
    /// Finalises MPI when dropped (after `inner`, by field order).
    _universe: Universe,
}

struct Inner {
    world: SimpleCommunicator,
    send_counts: Vec<Count>,
    send_displs: Vec<Count>,
    recv_counts: Vec<Count>,
    recv_displs: Vec<Count>,
}

// SAFETY: `Inner` holds an MPI communicator handle, which rsmpi leaves
// `!Send` because MPI may only be used from other threads at a threading
// level that allows it. `MpiGroup::init` refuses a level below
// `MPI_THREAD_SERIALIZED`, at which any thread may call MPI as long as no
// two calls overlap; `Inner` is only reached through `MpiGroup::inner`'s
// mutex, which serialises every call made through it. The handle refers to
// `MPI_COMM_WORLD`, valid until `_universe` finalises MPI, and `_universe`
// is dropped after `inner`.
unsafe impl Send for Inner {}

impl std::fmt::Debug for MpiGroup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MpiGroup")
            .field("rank", &self.rank)
            .field("size", &self.size)
            .finish_non_exhaustive()
    }
}

impl MpiGroup {
    /// Initialises MPI (at `MPI_THREAD_SERIALIZED`: the trainer calls MPI
    /// from its pool's threads, one call at a time) and returns the world.
    ///
    /// # Errors
    /// [`Error::Config`] (`mpi`) if MPI was initialised already in this
    /// process or the library offers less than `MPI_THREAD_SERIALIZED`.
    pub fn init() -> Result<MpiGroup> {
        let (universe, level) = mpi::initialize_with_threading(Threading::Serialized)
            .ok_or_else(|| Error::config("mpi", "MPI is initialised already in this process"))?;
        if level < Threading::Serialized {
            return Err(Error::config(
                "mpi",
                format!(
                    "the MPI library offers threading level {level:?}; backprop needs \
                     Serialized (its worker threads take turns calling MPI)"
                ),
            ));
        }
        let world = universe.world();
        let (rank, size) = (world.rank(), world.size());
        let (rank, size) = (
            usize::try_from(rank).expect("MPI ranks are >= 0"),
            usize::try_from(size).expect("MPI sizes are >= 1"),
        );
        let with_size = || Vec::with_capacity(size);
        Ok(MpiGroup {
            rank,
            size,
            inner: Mutex::new(Inner {
                world,
                send_counts: with_size(),
                send_displs: with_size(),
                recv_counts: with_size(),
                recv_displs: with_size(),
            }),
            _universe: universe,
        })
    }

    /// Ends every rank of the job with exit code `code` (`MPI_Abort`).
    /// For a failure on one rank that the others cannot know of: they may be
    /// waiting in a collective call for this one.
    pub fn abort(&self, code: i32) -> ! {
        // a world handle of its own: another thread may hold the lock
        SimpleCommunicator::world().abort(code)
    }
}

/// MPI's counts and displacements of `counts` (in elements), into
/// preallocated arrays.
fn partition(counts: &[usize], out: &mut Vec<Count>, displs: &mut Vec<Count>) -> Result<()> {
    out.clear();
    displs.clear();
    let mut at: usize = 0;
    for &c in counts {
        let too_big = || {
            Error::config(
                "mpi",
                format!("a message of {c} values at offset {at} exceeds MPI's int counts"),
            )
        };
        out.push(Count::try_from(c).map_err(|_| too_big())?);
        displs.push(Count::try_from(at).map_err(|_| too_big())?);
        at += c;
    }
    Ok(())
}

impl Collective for MpiGroup {
    fn rank(&self) -> usize {
        self.rank
    }

    fn size(&self) -> usize {
        self.size
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
        let mut inner = self.inner.lock().expect("no MPI call panicked");
        let Inner {
            world,
            send_counts: sc,
            send_displs: sd,
            recv_counts: rc,
            recv_displs: rd,
        } = &mut *inner;
        partition(send_counts, sc, sd)?;
        partition(recv_counts, rc, rd)?;
        let send = Partition::new(send, &sc[..], &sd[..]);
        let mut recv = PartitionMut::new(recv, &rc[..], &rd[..]);
        world.all_to_all_varcount_into(&send, &mut recv);
        Ok(())
    }

    fn all_gather_f32(&self, send: &[f32], recv: &mut [f32], counts: &[usize]) -> Result<()> {
        self.all_gather(send, recv, counts)
    }

    fn all_gather_f64(&self, send: &[f64], recv: &mut [f64], counts: &[usize]) -> Result<()> {
        self.all_gather(send, recv, counts)
    }
}

impl MpiGroup {
    fn all_gather<T: mpi::datatype::Equivalence>(
        &self,
        send: &[T],
        recv: &mut [T],
        counts: &[usize],
    ) -> Result<()> {
        check_len("sent", counts[self.rank], send.len())?;
        check_len("received", counts.iter().sum(), recv.len())?;
        let mut inner = self.inner.lock().expect("no MPI call panicked");
        let Inner {
            world,
            recv_counts: rc,
            recv_displs: rd,
            ..
        } = &mut *inner;
        partition(counts, rc, rd)?;
        let mut recv = PartitionMut::new(recv, &rc[..], &rd[..]);
        world.all_gather_varcount_into(send, &mut recv);
        Ok(())
    }
}
