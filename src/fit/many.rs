//! Many sessions in one pass ([`fit_many`]): ensembles, cross-validation
//! folds and candidates of a search. A training file the members share is
//! read and prepared once; the members then run as tasks spread over the
//! threads, so that K small networks use up to K cores even when each is
//! too small to split. Each member's outcome is, bit for bit, the outcome of
//! its [`FitSpec`] fitted alone ([`FitSpec::fit`]): the threads change no
//! bit, and a table read once is the table each member would have read.

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;

use super::prepare::{prepare, training_options};
use std::ops::ControlFlow;

use super::report::{EpochReport, FitCallbacks, FitOutcome};
use super::spec::{DataSource, FitSpec};
use crate::data::{self, RawTable};
use crate::error::{Error, Result};
use crate::pipeline::ReadOverrides;

/// The tables read once for the members that share them: `shared[i]` is
/// the index in `tables` of member `i`'s training table, if it shares one.
struct Shared {
    tables: Vec<RawTable>,
    shared: Vec<Option<usize>>,
}

/// Reads each file that two or more members train on from scratch (no
/// initial model or checkpoint, whose columns decide the reading) once,
/// telling `progress`. A member's copy is made when it starts
/// ([`Shared::spec`]), so only the running members' copies are in memory.
fn share_tables(specs: &[FitSpec], progress: &dyn Progress) -> Result<Shared> {
    let key = |s: &FitSpec| match &s.data {
        DataSource::File(p) if s.init_model.is_none() && s.resume.is_none() => {
            Some((p.clone(), s.read.clone()))
        }
        _ => None,
    };
    let keys: Vec<Option<(PathBuf, ReadOverrides)>> = specs.iter().map(key).collect();
    let mut read: Vec<&(PathBuf, ReadOverrides)> = Vec::new();
    let mut out = Shared {
        tables: Vec::new(),
        shared: vec![None; specs.len()],
    };
    for (i, (spec, k)) in specs.iter().zip(&keys).enumerate() {
        let Some(k) = k else { continue };
        if keys.iter().filter(|o| o.as_ref() == Some(k)).count() < 2 {
            continue;
        }
        let pos = match read.iter().position(|o| *o == k) {
            Some(pos) => pos,
            None => {
                let table = data::load(&k.0, &training_options(spec, None))?;
                progress.on_load(&table);
                read.push(k);
                out.tables.push(table);
                read.len() - 1
            }
        };
        out.shared[i] = Some(pos);
    }
    Ok(out)
}

impl Shared {
    /// Member `i`'s spec: with its shared table in memory, if it has one.
    fn spec(&self, i: usize, spec: &FitSpec) -> FitSpec {
        match self.shared[i] {
            None => spec.clone(),
            Some(t) => FitSpec {
                data: DataSource::Tables {
                    train: Box::new(self.tables[t].clone()),
                    test: None,
                },
                // the table holds its labels already
                read: ReadOverrides {
                    labels_path: None,
                    ..spec.read.clone()
                },
                ..spec.clone()
            },
        }
    }
}

/// Trains `specs` together on up to `threads` threads (0: one per core)
/// and returns each member's outcome (or error) in order. `stop` stops every
/// member after its current batch, as [`super::Prepared::run`] describes.
///
/// - A training file named by several members (read the same way, without
///   an initial model or a checkpoint) is read once.
/// - The members run as tasks, at most `threads` at once ([`split_threads`]):
///   with fewer members than threads each gets a share of the threads for
///   its own steps. The threads change no bit. A member that stops early
///   (early stopping) frees its worker for the next.
/// - Each outcome equals, bit for bit, `specs[i].fit()` with any thread
///   count. Members must not share a checkpoint path.
///
/// ```
/// use std::sync::atomic::AtomicBool;
/// use backprop::fit::{fit_many, FitSpec};
/// let a = FitSpec { epochs: 2, seed: Some(1), ..FitSpec::default() };
/// let b = FitSpec { epochs: 3, seed: Some(2), hidden_layers: Some(vec![8]), ..a.clone() };
/// let runs = fit_many(&[a.clone(), b], 2, &AtomicBool::new(false))?;
/// let alone = a.fit()?;
/// assert_eq!(runs[0].as_ref().unwrap().mlp.params(), alone.mlp.params());
/// assert_eq!(runs[1].as_ref().unwrap().epochs, 3);
/// # Ok::<(), backprop::Error>(())
/// ```
///
/// # Errors
/// The outer error: a shared training file that cannot be read, two members
/// writing one checkpoint, or a thread pool that cannot be built. A
/// member's own errors (its options, its data, divergence) are its entry's.
pub fn fit_many(
    specs: &[FitSpec],
    threads: usize,
    stop: &AtomicBool,
) -> Result<Vec<Result<FitOutcome>>> {
    fit_many_then(specs, threads, stop, &(), &|_, r| r)
}

/// What a pass of many models tells as it goes, from the members' threads.
pub trait Progress: Sync {
    /// Member `member` (its index in the pass) completed an epoch.
    fn on_epoch(&self, member: usize, report: &EpochReport) {
        let _ = (member, report);
    }

    /// A training table was read, once for the members that share it: its
    /// notes (dates found, columns ignored) are for the user.
    fn on_load(&self, table: &RawTable) {
        let _ = table;
    }

    /// A candidate's fold was scored ([`super::cross_validate_each_with`]):
    /// its model's figures on the fold ([`super::figures`]) and its epochs;
    /// `None` when the fold's run failed.
    fn on_fold(
        &self,
        candidate: usize,
        fold: usize,
        scored: Option<(&[(&'static str, f64)], usize)>,
    ) {
        let _ = (candidate, fold, scored);
    }
}

impl Progress for () {}

/// Tells `progress` of one member's epochs.
struct MemberHooks<'a> {
    member: usize,
    progress: &'a dyn Progress,
}

impl FitCallbacks for MemberHooks<'_> {
    fn on_epoch(&mut self, report: &EpochReport) -> ControlFlow<()> {
        self.progress.on_epoch(self.member, report);
        ControlFlow::Continue(())
    }
}

/// [`fit_many`] telling `progress` of every member's epochs, and passing
/// each member's outcome through `then` (with its index) on the member's
/// worker as soon as it ends.
///
/// # Errors
/// As [`fit_many`].
pub fn fit_many_then<R: Send>(
    specs: &[FitSpec],
    threads: usize,
    stop: &AtomicBool,
    progress: &dyn Progress,
    then: &(dyn Fn(usize, Result<FitOutcome>) -> R + Sync),
) -> Result<Vec<R>> {
    for (i, s) in specs.iter().enumerate() {
        if let Some(c) = &s.checkpoint {
            if specs[..i].iter().any(|o| o.checkpoint.as_ref() == Some(c)) {
                return Err(Error::config(
                    "checkpoint",
                    format!(
                        "{}: two members would write this checkpoint; give each its own",
                        c.display()
                    ),
                ));
            }
        }
    }
    let shared = share_tables(specs, progress)?;
    let make = |i: usize| Ok(shared.spec(i, &specs[i]));
    Ok(fit_made(specs.len(), threads, &make, stop, progress, then))
}

/// Runs `n` members whose specs `make` builds as each starts (so that only
/// the running members' tables are in memory), on `threads` threads as
/// [`fit_many`] does; `make`'s error is the member's.
pub(super) fn fit_made<R: Send>(
    n: usize,
    threads: usize,
    make: &(dyn Fn(usize) -> Result<FitSpec> + Sync),
    stop: &AtomicBool,
    progress: &dyn Progress,
    then: &(dyn Fn(usize, Result<FitOutcome>) -> R + Sync),
) -> Vec<R> {
    let total = if threads == 0 {
        std::thread::available_parallelism().map_or(1, |n| n.get())
    } else {
        threads
    };
    let (workers, each) = split_threads(total, n);
    let indices: Vec<usize> = (0..n).collect();
    let run = |&i: &usize| {
        let mut hooks = MemberHooks {
            member: i,
            progress,
        };
        let r = make(i).and_then(|s| {
            let s = FitSpec { threads: each, ..s };
            prepare(&s, &mut hooks)?.run(stop, &mut hooks)
        });
        then(i, r)
    };
    run_tasks(&indices, workers, &run)
}

/// How `total` threads are shared by `k` models trained together: the
/// workers that run models at once (`min(total, k)`), and the threads of
/// each model's own steps (`total / workers`, at least 1). Each worker takes
/// the next model when it is done with one, so a model never waits for a
/// thread another is not using, and no more than `total` threads compute.
///
/// ```
/// use backprop::fit::split_threads;
/// assert_eq!(split_threads(2, 5), (2, 1));
/// assert_eq!(split_threads(16, 2), (2, 8));
/// assert_eq!(split_threads(16, 3), (3, 5));
/// ```
pub fn split_threads(total: usize, k: usize) -> (usize, usize) {
    let workers = total.min(k).max(1);
    (workers, (total / workers).max(1))
}

/// Runs `task` on each of `items` on `workers` threads, each taking the next
/// item when done; the results in `items`' order.
pub(crate) fn run_tasks<T: Sync, R: Send>(
    items: &[T],
    workers: usize,
    task: &(dyn Fn(&T) -> R + Sync),
) -> Vec<R> {
    let next = std::sync::atomic::AtomicUsize::new(0);
    let results: Vec<std::sync::Mutex<Option<R>>> =
        items.iter().map(|_| std::sync::Mutex::new(None)).collect();
    std::thread::scope(|s| {
        for _ in 0..workers.min(items.len()) {
            s.spawn(|| loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some(item) = items.get(i) else { break };
                let r = task(item);
                *results[i].lock().unwrap_or_else(|e| e.into_inner()) = Some(r);
            });
        }
    });
    results
        .into_iter()
        .map(|m| {
            m.into_inner()
                .unwrap_or_else(|e| e.into_inner())
                .expect("every item ran")
        })
        .collect()
}
