//! The training session: a [`FitSpec`] → the data loaded and prepared, the
//! head and network chosen (or taken from an initial model or a checkpoint),
//! the configuration merged and checked → [`Prepared`] → the epoch loop with
//! held-out evaluation, checkpoints, interrupts and [`FitCallbacks`] →
//! [`FitOutcome`].
//!
//! This is the one complete training loop of the crate: the command line's
//! `train`, the tests and any other front call it. Like [`Trainer`](crate::Trainer), a run
//! gives the same bits for any thread count, and a run resumed from a
//! checkpoint — written between epochs or, after an interrupt, inside one —
//! gives the bits of a run that never stopped.
//!
//! Errors name the [`FitSpec`] field at fault (`Error::Config { option:
//! "epochs", .. }`); errors from the layers below may still name a
//! command-line flag (`--lr`).
//!
//! ```
//! use backprop::fit::FitSpec;
//! // the embedded breast-cancer set: 30-16-1 sigmoid network, 455/114 split
//! let run = FitSpec { epochs: 5, threads: 1, ..FitSpec::default() }.fit()?;
//! assert_eq!(run.history.len(), 5);
//! let last = run.history.last().unwrap();
//! assert!(last.val_accuracy.unwrap() > 0.9); // test accuracy
//! assert_eq!(run.meta.extra["train.epochs"], "5");
//! # Ok::<(), backprop::Error>(())
//! ```

mod cv;
mod lbfgs;
mod many;
mod prepare;
mod report;
mod resume;
mod run;
mod search;
mod spec;

pub use cv::{
    cross_validate, cross_validate_each, cross_validate_each_with, figures, fold_of_rows,
    CrossValidation, FoldReport, Spread,
};
pub(crate) use many::run_tasks;
pub use many::{fit_many, fit_many_then, split_threads, Progress};
pub use prepare::{prepare, Prepared};
pub use report::{
    EpochRecord, EpochReport, FitCallbacks, FitEnd, FitOutcome, HeldOut, Interruption, RunInfo,
};
pub use resume::{check_matches, continue_on_new_rows, Continuation};
pub use run::LOSS_CURVE_KEY;
pub use search::{draw, grid, search, search_with, Candidate, Param, Ranked};
pub use spec::{
    check_distinct_outputs, check_output_path, default_lr, default_optimizer, default_schedule,
    DataSource, FitSpec, Stored, TrainMetrics, DEFAULT_EPOCHS, DEFAULT_SEED,
};
