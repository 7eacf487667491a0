//! Early stopping: which validation figure to watch ([`Monitor`]), how
//! patient to be ([`EarlyStopping`]), and the state a run keeps, and a
//! checkpoint stores, so that a resumed run stops at the same epoch with the
//! same best weights ([`EarlyStopState`]).
//!
//! After each epoch the monitored figure is compared with the best so far:
//! it improves when it beats the best by more than `min_delta` (lower for
//! the loss, higher for accuracy and R²). An improvement records the epoch
//! and copies the weights; otherwise a counter grows, and the run stops when
//! it reaches `patience`. The weights of the best epoch are what the run
//! returns.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use crate::error::{Error, Result};

/// The validation figure early stopping watches.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Monitor {
    /// The validation loss (lower is better).
    #[default]
    Loss,
    /// The validation accuracy (higher is better; classifiers).
    Accuracy,
    /// The validation R², mean over the targets (higher is better; `mse`).
    R2,
}

impl Monitor {
    /// `loss`, `accuracy` or `r2`.
    pub fn name(self) -> &'static str {
        match self {
            Monitor::Loss => "loss",
            Monitor::Accuracy => "accuracy",
            Monitor::R2 => "r2",
        }
    }

    /// Whether larger values are better.
    pub fn higher_is_better(self) -> bool {
        self != Monitor::Loss
    }
}

impl fmt::Display for Monitor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Monitor {
    type Err = Error;
    fn from_str(s: &str) -> Result<Monitor> {
        match s {
            "loss" => Ok(Monitor::Loss),
            "accuracy" => Ok(Monitor::Accuracy),
            "r2" => Ok(Monitor::R2),
            _ => Err(Error::config(
                "early_stopping.monitor",
                format!("'{s}' is not one of loss, accuracy, r2"),
            )),
        }
    }
}

/// When to stop: after `patience` epochs without an improvement of
/// `monitor` by more than `min_delta`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EarlyStopping {
    /// Epochs without improvement tolerated (at least 1).
    pub patience: usize,
    /// The improvement that counts, `≥ 0`.
    pub min_delta: f64,
    /// The figure watched.
    pub monitor: Monitor,
}

impl Default for EarlyStopping {
    fn default() -> Self {
        EarlyStopping {
            patience: 10,
            min_delta: 0.0,
            monitor: Monitor::Loss,
        }
    }
}

impl EarlyStopping {
    /// The rule from its parts as a front end collects them: the monitor by
    /// name (`loss`, `accuracy`, `r2`).
    ///
    /// ```
    /// use backprop::stopping::{EarlyStopping, Monitor};
    /// let rule = EarlyStopping::from_parts(3, 0.01, "accuracy")?;
    /// assert_eq!(rule.monitor, Monitor::Accuracy);
    /// assert!(EarlyStopping::from_parts(3, 0.01, "f1").is_err());
    /// # Ok::<(), backprop::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::Config`] for an unknown monitor.
    pub fn from_parts(patience: usize, min_delta: f64, monitor: &str) -> Result<EarlyStopping> {
        Ok(EarlyStopping {
            patience,
            min_delta,
            monitor: monitor.parse()?,
        })
    }

    /// Checks the settings.
    ///
    /// # Errors
    /// [`Error::Config`] naming `early_stopping.patience` or
    /// `early_stopping.min_delta`.
    pub fn validate(&self) -> Result<()> {
        if self.patience == 0 {
            return Err(Error::config(
                "early_stopping.patience",
                "must be at least 1",
            ));
        }
        if !(self.min_delta.is_finite() && self.min_delta >= 0.0) {
            return Err(Error::config(
                "early_stopping.min_delta",
                format!("{} is not a finite number ≥ 0", self.min_delta),
            ));
        }
        Ok(())
    }
}

/// What early stopping remembers: the best figure, its epoch and weights,
/// and the epochs since.
#[derive(Clone, Debug, PartialEq)]
pub struct EarlyStopState {
    /// The best monitored value so far (`±∞` before the first epoch).
    pub best: f64,
    /// The 1-based epoch of `best` (0 before the first epoch).
    pub best_epoch: usize,
    /// Epochs since the best one.
    pub bad_epochs: usize,
    /// The weights after `best_epoch` (the flat parameter vector).
    pub best_params: Vec<f32>,
    /// What the caller reported of `best_epoch` (the session's `final_*`
    /// figures of the training record), kept with the state so that a run
    /// resumed after that epoch still reports them; emptied by each
    /// improvement, empty when unknown.
    pub best_figures: BTreeMap<String, String>,
}

impl EarlyStopState {
    /// The state before any epoch, for `n_params` parameters.
    pub fn new(monitor: Monitor, n_params: usize) -> EarlyStopState {
        EarlyStopState {
            best: if monitor.higher_is_better() {
                f64::NEG_INFINITY
            } else {
                f64::INFINITY
            },
            best_epoch: 0,
            bad_epochs: 0,
            best_params: vec![0.0; n_params],
            best_figures: BTreeMap::new(),
        }
    }

    /// Records epoch `epoch`'s monitored `value` and weights `params`;
    /// returns whether the run should stop now. A non-finite value never
    /// improves.
    ///
    /// ```
    /// use backprop::stopping::{EarlyStopping, EarlyStopState, Monitor};
    /// let rule = EarlyStopping { patience: 2, min_delta: 0.01, monitor: Monitor::Loss };
    /// let mut s = EarlyStopState::new(Monitor::Loss, 1);
    /// assert!(!s.observe(&rule, 1, 0.50, &[1.0]));
    /// assert!(!s.observe(&rule, 2, 0.495, &[2.0])); // not by more than 0.01
    /// assert!(s.observe(&rule, 3, 0.60, &[3.0]));   // 2 epochs without: stop
    /// assert_eq!((s.best_epoch, s.best_params.as_slice()), (1, &[1.0][..]));
    /// ```
    pub fn observe(
        &mut self,
        rule: &EarlyStopping,
        epoch: usize,
        value: f64,
        params: &[f32],
    ) -> bool {
        let improved = value.is_finite()
            && if rule.monitor.higher_is_better() {
                value > self.best + rule.min_delta
            } else {
                value < self.best - rule.min_delta
            };
        if improved {
            self.best = value;
            self.best_epoch = epoch;
            self.bad_epochs = 0;
            self.best_params.clear();
            self.best_params.extend_from_slice(params);
            self.best_figures.clear();
        } else {
            self.bad_epochs += 1;
        }
        self.should_stop(rule)
    }

    /// Whether the patience is used up.
    pub fn should_stop(&self, rule: &EarlyStopping) -> bool {
        self.bad_epochs >= rule.patience
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn higher_is_better_for_accuracy_and_r2() {
        let rule = EarlyStopping {
            patience: 1,
            min_delta: 0.0,
            monitor: Monitor::Accuracy,
        };
        let mut s = EarlyStopState::new(Monitor::Accuracy, 2);
        assert!(!s.observe(&rule, 1, 0.8, &[1.0, 1.0]));
        assert!(!s.observe(&rule, 2, 0.9, &[2.0, 2.0]));
        assert!(s.observe(&rule, 3, 0.9, &[3.0, 3.0])); // equal is no better
        assert_eq!(s.best_epoch, 2);
        assert_eq!(s.best_params, [2.0, 2.0]);
        let mut s = EarlyStopState::new(Monitor::R2, 1);
        assert!(!s.observe(&rule, 1, f64::NAN, &[1.0]) || s.best_epoch == 0);
        assert_eq!(s.best_epoch, 0);
    }

    #[test]
    fn settings_are_checked() {
        let bad = EarlyStopping {
            patience: 0,
            ..EarlyStopping::default()
        };
        assert_eq!(
            bad.validate().unwrap_err().to_string(),
            "invalid option early_stopping.patience: must be at least 1"
        );
        assert!("r2".parse::<Monitor>().is_ok());
        assert!("auc".parse::<Monitor>().is_err());
    }
}
