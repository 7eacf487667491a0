//! The learning rate of every step: a schedule ([`LrSchedule`]: constant,
//! step decay, cosine annealing, reduce-on-plateau) times an optional linear
//! warm-up, and the little state that reduce-on-plateau keeps
//! ([`PlateauState`]), which a checkpoint stores so that a resumed run
//! continues with the same rates bit for bit.
//!
//! With base rate `η`, `E` epochs of `S` steps, global step `s` (0-based)
//! in epoch `e` (0-based):
//! - constant: `η`;
//! - step: `η · γ^⌊e / N⌋`;
//! - cosine: `η_min + (η - η_min) · (1 + cos(π · s / (C·S))) / 2`, from `η`
//!   at the first step down to `η_min` after `C` epochs (PyTorch's `T_max`;
//!   callers usually set it to the run's length), then `η_min`;
//! - plateau: `η · f`, where the factor `f` starts at 1 and is multiplied by
//!   `γ` whenever the validation loss has not improved (by a relative 1e-4,
//!   PyTorch's `ReduceLROnPlateau` default) for more than `patience` epochs;
//! - the three of RealMLP's code (`pytabkit`'s `get_schedule`), over the
//!   run's progress `t = s / (E·S)`:
//!   - flat-cos: `η` for `t < 1/2`, then `η · (1 + cos(π(2t - 1))) / 2`;
//!   - coslog4: `η · (1 - cos(2π · log₂(1 + 15t))) / 2`, four cosine cycles
//!     on a logarithmic clock, each longer than the last, the first starting
//!     at 0 (a warm-up) and every one ending at 0;
//!   - one-cycle: from `0.04η` up to `η` by a half cosine over the first
//!     quarter, then down to `1e-5·η` over the rest;
//! - invscaling (`p`, `R` rows): `η / (e·R + 1)^p`, scikit-learn's
//!   `learning_rate='invscaling'`: the samples seen before the epoch, as
//!   its `t_` when the epoch starts;
//! - warm-up over `W` epochs multiplies any of these by `(s + 1) / (W·S)`
//!   for `s < W·S`.
//!
//! Rates are computed in `f64` and rounded once to `f32`.

use std::fmt;
use std::str::FromStr;

use crate::error::{Error, Result};

/// Relative improvement of the validation loss that resets plateau's count.
pub const PLATEAU_THRESHOLD: f64 = 1e-4;

/// How the learning rate changes over a run.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum LrSchedule {
    /// The base rate throughout.
    Constant,
    /// Multiplied by `gamma` every `every_epochs` epochs.
    Step {
        /// Epochs between decays (at least 1).
        every_epochs: usize,
        /// The factor, in `(0, 1]`.
        gamma: f32,
    },
    /// Cosine annealing from the base rate to `min_lr` over `epochs` epochs.
    Cosine {
        /// The rate at the end of the annealing, `0 ≤ min_lr ≤ lr`.
        min_lr: f32,
        /// The epochs the annealing spans (at least 1).
        epochs: usize,
    },
    /// Multiplied by `gamma` after `patience` epochs without improvement of
    /// the validation loss.
    Plateau {
        /// Epochs without improvement that are tolerated.
        patience: usize,
        /// The factor, in `(0, 1)`.
        gamma: f32,
    },
    /// Flat for the first half of the run, then a half cosine down to 0.
    FlatCos,
    /// Four cosine cycles on a logarithmic clock (RealMLP's default).
    CosLog4,
    /// A half cosine up from `0.04·lr` over the first quarter, then down to
    /// `1e-5·lr`.
    OneCycle,
    /// scikit-learn's `invscaling`: the rate of epoch `e` is
    /// `lr / (e·rows + 1)^power_t`.
    InvScaling {
        /// The exponent, `≥ 0` (scikit-learn's default 0.5).
        power_t: f32,
        /// The training rows an epoch sees (0 before a session fills in its
        /// training set's count; then the rate is constant).
        rows: usize,
    },
}

impl LrSchedule {
    /// The schedule's name: `constant`, `step`, `cosine`, `plateau`,
    /// `flat-cos`, `coslog4` or `one-cycle`.
    pub fn name(&self) -> &'static str {
        match self {
            LrSchedule::Constant => "constant",
            LrSchedule::Step { .. } => "step",
            LrSchedule::Cosine { .. } => "cosine",
            LrSchedule::Plateau { .. } => "plateau",
            LrSchedule::FlatCos => "flat-cos",
            LrSchedule::CosLog4 => "coslog4",
            LrSchedule::OneCycle => "one-cycle",
            LrSchedule::InvScaling { .. } => "invscaling",
        }
    }

    /// The factor on the base rate at progress `t` (in `[0, 1]`) of the
    /// schedules that are a function of it alone.
    fn of_progress(&self, t: f64) -> Option<f64> {
        use std::f64::consts::PI;
        let half_cos_up = |u: f64| 0.5 * (1.0 - (PI * u).cos());
        Some(match self {
            LrSchedule::FlatCos if t < 0.5 => 1.0,
            LrSchedule::FlatCos => 1.0 - half_cos_up(2.0 * t - 1.0),
            LrSchedule::CosLog4 => 0.5 * (1.0 - (2.0 * PI * (1.0 + 15.0 * t).log2()).cos()),
            LrSchedule::OneCycle if t < 0.25 => 0.04 + (1.0 - 0.04) * half_cos_up(4.0 * t),
            LrSchedule::OneCycle => 1.0 + (1e-5 - 1.0) * half_cos_up((t - 0.25) / 0.75),
            _ => return None,
        })
    }
}

/// The names a schedule is chosen by, for [`ScheduleKind::from_str`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScheduleKind {
    /// [`LrSchedule::Constant`].
    Constant,
    /// [`LrSchedule::Step`].
    Step,
    /// [`LrSchedule::Cosine`].
    Cosine,
    /// [`LrSchedule::Plateau`].
    Plateau,
    /// [`LrSchedule::FlatCos`].
    FlatCos,
    /// [`LrSchedule::CosLog4`].
    CosLog4,
    /// [`LrSchedule::OneCycle`].
    OneCycle,
    /// [`LrSchedule::InvScaling`].
    InvScaling,
}

/// The constants of the schedules as a front end collects them;
/// [`LrSchedule::from_kind`] takes those of the schedule named. The defaults
/// are the command line's.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ScheduleParams {
    /// step: epochs between decays.
    pub step_epochs: usize,
    /// step and plateau: the decay factor.
    pub gamma: f32,
    /// cosine: the rate at the end.
    pub min_lr: f32,
    /// cosine: the epochs the annealing spans.
    pub cosine_epochs: usize,
    /// plateau: epochs without improvement tolerated.
    pub patience: usize,
    /// invscaling: the exponent.
    pub power_t: f32,
}

impl Default for ScheduleParams {
    fn default() -> Self {
        ScheduleParams {
            step_epochs: 10,
            gamma: 0.1,
            min_lr: 0.0,
            cosine_epochs: 1,
            patience: 10,
            power_t: 0.5,
        }
    }
}

impl LrSchedule {
    /// The schedule `kind` with its constants from `p`.
    ///
    /// ```
    /// use backprop::schedule::{LrSchedule, ScheduleKind, ScheduleParams};
    /// let p = ScheduleParams { patience: 2, gamma: 0.2, ..ScheduleParams::default() };
    /// assert_eq!(
    ///     LrSchedule::from_kind("plateau".parse::<ScheduleKind>().unwrap(), &p),
    ///     LrSchedule::Plateau { patience: 2, gamma: 0.2 }
    /// );
    /// ```
    pub fn from_kind(kind: ScheduleKind, p: &ScheduleParams) -> LrSchedule {
        match kind {
            ScheduleKind::Constant => LrSchedule::Constant,
            ScheduleKind::Step => LrSchedule::Step {
                every_epochs: p.step_epochs,
                gamma: p.gamma,
            },
            ScheduleKind::Cosine => LrSchedule::Cosine {
                min_lr: p.min_lr,
                epochs: p.cosine_epochs,
            },
            ScheduleKind::Plateau => LrSchedule::Plateau {
                patience: p.patience,
                gamma: p.gamma,
            },
            ScheduleKind::FlatCos => LrSchedule::FlatCos,
            ScheduleKind::CosLog4 => LrSchedule::CosLog4,
            ScheduleKind::OneCycle => LrSchedule::OneCycle,
            ScheduleKind::InvScaling => LrSchedule::InvScaling {
                power_t: p.power_t,
                rows: 0,
            },
        }
    }
}

impl FromStr for ScheduleKind {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "constant" => Ok(ScheduleKind::Constant),
            "step" => Ok(ScheduleKind::Step),
            "cosine" => Ok(ScheduleKind::Cosine),
            "plateau" => Ok(ScheduleKind::Plateau),
            "flat-cos" => Ok(ScheduleKind::FlatCos),
            "coslog4" => Ok(ScheduleKind::CosLog4),
            "one-cycle" => Ok(ScheduleKind::OneCycle),
            "invscaling" => Ok(ScheduleKind::InvScaling),
            _ => Err(format!(
                "unknown schedule '{s}' (known: constant, step, cosine, plateau, flat-cos, \
                 coslog4, one-cycle, invscaling)"
            )),
        }
    }
}

impl fmt::Display for LrSchedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LrSchedule::Constant => write!(f, "constant"),
            LrSchedule::Step {
                every_epochs,
                gamma,
            } => write!(f, "step (×{gamma} every {every_epochs} epochs)"),
            LrSchedule::Cosine { min_lr, epochs } => {
                write!(f, "cosine (down to {min_lr} over {epochs} epochs)")
            }
            LrSchedule::Plateau { patience, gamma } => {
                write!(
                    f,
                    "plateau (×{gamma} after {patience} epochs without improvement)"
                )
            }
            LrSchedule::FlatCos => write!(f, "flat-cos (flat, then cosine to 0 from half way)"),
            LrSchedule::CosLog4 => write!(f, "coslog4 (four cosine cycles on a log clock)"),
            LrSchedule::OneCycle => write!(f, "one-cycle (up over a quarter, then down)"),
            LrSchedule::InvScaling { power_t, rows } => write!(
                f,
                "invscaling (÷ (samples seen + 1)^{power_t}, {rows} rows an epoch)"
            ),
        }
    }
}

/// Reduce-on-plateau's memory: the best validation loss so far, the epochs
/// since it improved, and the factor applied to the base rate.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PlateauState {
    /// The best validation loss seen (`+∞` before the first).
    pub best: f64,
    /// Epochs since the last improvement.
    pub bad_epochs: usize,
    /// The current factor on the base rate (1 until the first reduction).
    pub factor: f64,
}

impl Default for PlateauState {
    fn default() -> Self {
        PlateauState {
            best: f64::INFINITY,
            bad_epochs: 0,
            factor: 1.0,
        }
    }
}

/// A schedule with its warm-up over a run of known length.
///
/// ```
/// use backprop::schedule::{LrSchedule, Scheduler};
/// let s = Scheduler::new(0.1, LrSchedule::Step { every_epochs: 2, gamma: 0.5 }, 0, 4)?;
/// assert_eq!(s.lr(0, 0, 10), 0.1);
/// assert_eq!(s.lr(2, 5, 10), 0.05);
/// let c = Scheduler::new(0.1, LrSchedule::Cosine { min_lr: 0.0, epochs: 2 }, 1, 2)?;
/// assert_eq!(c.lr(0, 0, 10), 0.01);          // warm-up: 1/10 of the rate
/// assert!((c.lr(1, 0, 10) - 0.05).abs() < 1e-7); // half way: half the rate
/// # Ok::<(), backprop::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Scheduler {
    base: f32,
    schedule: LrSchedule,
    warmup_epochs: usize,
    epochs: usize,
    plateau: PlateauState,
}

impl Scheduler {
    /// A schedule for a run of `epochs` epochs at base rate `lr`, warmed up
    /// over `warmup_epochs`.
    ///
    /// # Errors
    /// [`Error::Config`] naming the field (`lr`, `lr_gamma`, `lr_step_epochs`,
    /// `lr_min`, `warmup_epochs`) for an impossible value.
    pub fn new(
        lr: f32,
        schedule: LrSchedule,
        warmup_epochs: usize,
        epochs: usize,
    ) -> Result<Scheduler> {
        if !(lr.is_finite() && lr > 0.0) {
            return Err(Error::config(
                "lr",
                format!("{lr} is not a positive finite number"),
            ));
        }
        match schedule {
            LrSchedule::Constant => {}
            LrSchedule::Step {
                every_epochs,
                gamma,
            } => {
                if every_epochs == 0 {
                    return Err(Error::config("lr_step_epochs", "must be at least 1"));
                }
                if !(gamma > 0.0 && gamma <= 1.0) {
                    return Err(Error::config(
                        "lr_gamma",
                        format!("{gamma} is not in (0, 1]"),
                    ));
                }
            }
            LrSchedule::Cosine { min_lr, epochs } => {
                if epochs == 0 {
                    return Err(Error::config("lr_cosine_epochs", "must be at least 1"));
                }
                if !(min_lr >= 0.0 && min_lr <= lr) {
                    return Err(Error::config(
                        "lr_min",
                        format!("{min_lr} is not between 0 and the learning rate {lr}"),
                    ));
                }
            }
            LrSchedule::Plateau { gamma, .. } => {
                if !(gamma > 0.0 && gamma < 1.0) {
                    return Err(Error::config(
                        "lr_gamma",
                        format!("{gamma} is not in (0, 1)"),
                    ));
                }
            }
            LrSchedule::FlatCos | LrSchedule::CosLog4 | LrSchedule::OneCycle => {}
            LrSchedule::InvScaling { power_t, .. } => {
                if !(power_t.is_finite() && power_t >= 0.0) {
                    return Err(Error::config(
                        "power_t",
                        format!("{power_t} is not a finite number >= 0"),
                    ));
                }
            }
        }
        if warmup_epochs > epochs {
            return Err(Error::config(
                "warmup_epochs",
                format!("{warmup_epochs} is more than the {epochs} epochs of the run"),
            ));
        }
        Ok(Scheduler {
            base: lr,
            schedule,
            warmup_epochs,
            epochs,
            plateau: PlateauState::default(),
        })
    }

    /// The schedule.
    pub fn schedule(&self) -> LrSchedule {
        self.schedule
    }

    /// The base learning rate.
    pub fn base_lr(&self) -> f32 {
        self.base
    }

    /// The rate of step `step` (0-based) of epoch `epoch` (0-based), epochs
    /// being `steps_per_epoch` steps long.
    pub fn lr(&self, epoch: usize, step: usize, steps_per_epoch: usize) -> f32 {
        let steps_per_epoch = steps_per_epoch.max(1);
        let base = f64::from(self.base);
        let s = epoch * steps_per_epoch + step;
        let rate = match self.schedule {
            LrSchedule::Constant => base,
            LrSchedule::Step {
                every_epochs,
                gamma,
            } => {
                let k = i32::try_from(epoch / every_epochs).unwrap_or(i32::MAX);
                base * f64::from(gamma).powi(k)
            }
            LrSchedule::Cosine { min_lr, epochs } => {
                let total = (epochs * steps_per_epoch).max(1) as f64;
                let min = f64::from(min_lr);
                let t = (s as f64 / total).min(1.0);
                min + (base - min) * (1.0 + (std::f64::consts::PI * t).cos()) / 2.0
            }
            LrSchedule::Plateau { .. } => base * self.plateau.factor,
            LrSchedule::InvScaling { power_t, rows } => {
                let seen = epoch as f64 * rows as f64;
                base / (seen + 1.0).powf(f64::from(power_t))
            }
            ref by_progress => {
                let total = (self.epochs * steps_per_epoch).max(1) as f64;
                let t = (s as f64 / total).min(1.0);
                base * by_progress
                    .of_progress(t)
                    .expect("a schedule of the progress")
            }
        };
        let warm = self.warmup_epochs * steps_per_epoch;
        let rate = if s < warm {
            rate * (s + 1) as f64 / warm as f64
        } else {
            rate
        };
        rate as f32
    }

    /// Tells the schedule an epoch ended with validation loss `val_loss`
    /// (plateau counts epochs without improvement; the others ignore it).
    pub fn end_epoch(&mut self, val_loss: Option<f64>) {
        let LrSchedule::Plateau { patience, gamma } = self.schedule else {
            return;
        };
        let Some(loss) = val_loss.filter(|l| l.is_finite()) else {
            return;
        };
        let p = &mut self.plateau;
        if loss < p.best * (1.0 - PLATEAU_THRESHOLD) || p.best.is_infinite() {
            p.best = loss;
            p.bad_epochs = 0;
        } else {
            p.bad_epochs += 1;
            if p.bad_epochs > patience {
                p.factor *= f64::from(gamma);
                p.bad_epochs = 0;
            }
        }
    }

    /// Reduce-on-plateau's state (the default for other schedules).
    pub fn plateau_state(&self) -> PlateauState {
        self.plateau
    }

    /// Puts back a state saved by [`Scheduler::plateau_state`].
    pub fn restore_plateau(&mut self, state: PlateauState) {
        self.plateau = state;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sched(s: LrSchedule, warmup: usize) -> Scheduler {
        Scheduler::new(0.1, s, warmup, 10).unwrap()
    }

    #[test]
    fn constant_and_warmup() {
        let s = sched(LrSchedule::Constant, 0);
        assert_eq!(s.lr(0, 0, 4), 0.1);
        assert_eq!(s.lr(9, 3, 4), 0.1);
        let w = sched(LrSchedule::Constant, 2);
        let rates: Vec<f32> = (0..9).map(|i| w.lr(i / 4, i % 4, 4)).collect();
        for (i, r) in rates.iter().enumerate().take(8) {
            assert_eq!(*r, (0.1 * (i + 1) as f64 / 8.0) as f32);
        }
        assert_eq!(rates[8], 0.1);
    }

    #[test]
    fn step_decay() {
        let s = sched(
            LrSchedule::Step {
                every_epochs: 3,
                gamma: 0.1,
            },
            0,
        );
        assert_eq!(s.lr(2, 3, 4), 0.1);
        let (b, g) = (f64::from(0.1f32), f64::from(0.1f32));
        assert_eq!(s.lr(3, 0, 4), (b * g) as f32);
        assert_eq!(s.lr(9, 0, 4), (b * g.powi(3)) as f32);
    }

    #[test]
    fn cosine_ends_at_the_minimum() {
        let s = sched(
            LrSchedule::Cosine {
                min_lr: 0.01,
                epochs: 10,
            },
            0,
        );
        assert_eq!(s.lr(0, 0, 4), 0.1);
        assert!((s.lr(5, 0, 4) - 0.055).abs() < 1e-7);
        let last = s.lr(9, 3, 4);
        assert!(last > 0.01 && last < 0.0102, "{last}");
        let rates: Vec<f32> = (0..40).map(|i| s.lr(i / 4, i % 4, 4)).collect();
        assert!(rates.windows(2).all(|w| w[1] <= w[0]));
    }

    #[test]
    fn plateau_reduces_after_patience() {
        let mut s = sched(
            LrSchedule::Plateau {
                patience: 2,
                gamma: 0.5,
            },
            0,
        );
        for loss in [1.0, 0.9, 0.9, 0.95, 0.9] {
            s.end_epoch(Some(loss));
        }
        // improved at 1.0, 0.9; then 3 epochs without: > patience 2
        assert_eq!(s.plateau_state().factor, 0.5);
        assert_eq!(s.lr(5, 0, 4), 0.05);
        assert_eq!(s.plateau_state().bad_epochs, 0);
        s.end_epoch(Some(0.5));
        assert_eq!(s.plateau_state().best, 0.5);
        // a tiny improvement below the threshold does not count
        s.end_epoch(Some(0.5 * (1.0 - 1e-5)));
        assert_eq!(s.plateau_state().bad_epochs, 1);
        let saved = s.plateau_state();
        let mut t = sched(
            LrSchedule::Plateau {
                patience: 2,
                gamma: 0.5,
            },
            0,
        );
        t.restore_plateau(saved);
        assert_eq!(t, s);
    }

    #[test]
    fn errors_name_fields() {
        let err = |s, w| Scheduler::new(0.1, s, w, 10).unwrap_err().to_string();
        assert_eq!(
            err(
                LrSchedule::Step {
                    every_epochs: 0,
                    gamma: 0.5
                },
                0
            ),
            "invalid option lr_step_epochs: must be at least 1"
        );
        assert!(err(
            LrSchedule::Cosine {
                min_lr: 0.2,
                epochs: 10
            },
            0
        )
        .starts_with("invalid option lr_min"));
        assert!(err(
            LrSchedule::Plateau {
                patience: 1,
                gamma: 1.0
            },
            0
        )
        .starts_with("invalid option lr_gamma"));
        assert!(err(LrSchedule::Constant, 11).starts_with("invalid option warmup_epochs"));
        assert!(Scheduler::new(0.0, LrSchedule::Constant, 0, 1).is_err());
    }
}
