//! [`Job`]: this process's place in the multi-process job it was started
//! in, if any.

use std::sync::Arc;

use super::collective::Collective;
use crate::error::Result;

/// The job this process belongs to: alone, or (feature `mpi`) one rank of
/// an `mpirun` job. A front end joins it first, gives [`Job::group`] to the
/// trainer, lets rank 0 alone print and write, and on a failure calls
/// [`Job::abort`] so that no rank waits for it forever.
///
/// ```
/// // a test is not started by mpirun: it runs alone
/// let job = backprop::dist::Job::join()?;
/// assert_eq!((job.rank(), job.size()), (0, 1));
/// assert!(job.group().is_none());
/// # Ok::<(), backprop::Error>(())
/// ```
#[derive(Debug)]
pub struct Job {
    rank: usize,
    size: usize,
    #[cfg(feature = "mpi")]
    mpi: Option<Arc<super::mpi::MpiGroup>>,
}

impl Job {
    /// Joins the job this process was started in ([`launcher_size`]): with
    /// more than one process, initialises MPI; otherwise runs alone without
    /// touching MPI.
    ///
    /// # Errors
    /// [`crate::Error::Config`] (`mpi`): started as one of several processes by a
    /// launcher, in a build without the `mpi` feature (each process would
    /// train a model of its own and write the same files), or MPI could not
    /// be initialised.
    pub fn join() -> Result<Job> {
        match launcher_size() {
            Some(p) if p > 1 => Job::join_mpi(p),
            _ => Ok(Job {
                rank: 0,
                size: 1,
                #[cfg(feature = "mpi")]
                mpi: None,
            }),
        }
    }

    #[cfg(feature = "mpi")]
    fn join_mpi(_launched: usize) -> Result<Job> {
        let g = super::mpi::MpiGroup::init()?;
        Ok(Job {
            rank: g.rank(),
            size: g.size(),
            mpi: Some(Arc::new(g)),
        })
    }

    #[cfg(not(feature = "mpi"))]
    fn join_mpi(launched: usize) -> Result<Job> {
        Err(crate::error::Error::config(
            "mpi",
            format!(
                "started as one of {launched} processes by an MPI launcher, but this backprop \
                 was built without the `mpi` feature: each process would train alone. Build it \
                 with `cargo build --release --features mpi`, or run it without mpirun"
            ),
        ))
    }

    /// This process's rank, `0..size()`.
    pub fn rank(&self) -> usize {
        self.rank
    }

    /// The number of processes of the job.
    pub fn size(&self) -> usize {
        self.size
    }

    /// The collective of a job of several processes, for
    /// [`crate::Trainer::set_group`] or [`crate::fit::Prepared::set_group`];
    /// `None` alone.
    pub fn group(&self) -> Option<Arc<dyn Collective>> {
        #[cfg(feature = "mpi")]
        if let Some(g) = &self.mpi {
            return Some(Arc::clone(g) as Arc<dyn Collective>);
        }
        None
    }

    /// Returns once every rank of the job has called it; alone, at once.
    /// Ranks that end with a non-zero code call it first, after rank 0 has
    /// written its files: a launcher ends the whole job as soon as one rank
    /// exits with an error, and would kill rank 0 in the middle of its
    /// writes.
    ///
    /// # Errors
    /// As [`Collective::all_gather_f64`].
    pub fn wait_for_all(&self) -> Result<()> {
        match self.group() {
            Some(g) => {
                let mut all = vec![0.0; self.size];
                g.all_gather_f64(&[0.0], &mut all, &vec![1; self.size])
            }
            None => Ok(()),
        }
    }

    /// After a failure on this rank: in a job of several processes, ends
    /// every rank with exit code `code` and does not return; alone, returns
    /// (the caller exits as usual).
    pub fn abort(&self, code: i32) {
        #[cfg(feature = "mpi")]
        if let Some(g) = &self.mpi {
            g.abort(code);
        }
        let _ = code;
    }
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
