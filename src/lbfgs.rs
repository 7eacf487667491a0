//! Full-batch L-BFGS, scikit-learn's `solver='lbfgs'`: the L-BFGS method of
//! the `argmin` crate with its Moré–Thuente line search, over the loss and
//! gradient of every training row at once ([`Trainer::full_gradient`]), with
//! scipy's stopping rules.
//!
//! The objective is `f(θ) = L(θ) + λ/2 · Σ W²`: the mean (weighted) loss of
//! the rows plus an L2 term on the weights (not the biases), `λ` being the
//! configuration's weight decay (times `rows / Σw` with
//! [`TrainConfig::decay_by_weight`](crate::TrainConfig::decay_by_weight) on
//! weighted rows). With `λ = α / n` this is scikit-learn's objective.
//!
//! The solver works in `f64`; the network's weights are the `f32` rounding of
//! its iterate, and every evaluation is of those weights. The gradient's
//! shards are added in a fixed order and the solver's arithmetic is
//! sequential, so the iterates are the same bits for any thread count.
//!
//! An iteration ends, as in scipy's L-BFGS-B, with these tests in this order:
//! more than `max_fun` evaluations in all; the largest gradient component
//! `≤ gtol`; a relative decrease `(f_prev − f) / max(|f_prev|, |f|, 1) ≤
//! ftol`. A line search takes at most `max_ls` evaluations.

use std::cell::{Cell, RefCell};

use argmin::core::{CostFunction, Gradient, IterState, Problem, Solver, State};
use argmin::solver::linesearch::MoreThuenteLineSearch;
use argmin::solver::quasinewton::LBFGS;

use crate::data::Dataset;
use crate::error::{Error, Result};
use crate::network::Mlp;
use crate::train::Trainer;

/// The constants of a full-batch L-BFGS run.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LbfgsConfig {
    /// Correction pairs kept (scipy's `maxcor`).
    pub memory: usize,
    /// The most evaluations of the loss and gradient (scipy's `maxfun`):
    /// the run ends after the iteration that goes past it.
    pub max_fun: usize,
    /// Converged when no gradient component exceeds this (scipy's `gtol`;
    /// scikit-learn passes its `tol`).
    pub gtol: f64,
    /// Converged when the objective's relative decrease is at most this
    /// (scipy's `ftol`).
    pub ftol: f64,
    /// The most evaluations of one line search (scipy's `maxls`).
    pub max_ls: usize,
}

impl Default for LbfgsConfig {
    /// scipy's defaults, with scikit-learn's `max_fun` and `tol`.
    fn default() -> Self {
        LbfgsConfig {
            memory: 10,
            max_fun: 15_000,
            gtol: 1e-4,
            ftol: 2.220_446_049_250_313e-9,
            max_ls: 20,
        }
    }
}

impl LbfgsConfig {
    /// # Errors
    /// [`Error::Config`] naming the field that is out of range.
    pub fn validate(&self) -> Result<()> {
        let positive = |v: f64| v.is_finite() && v >= 0.0;
        if self.memory == 0 {
            return Err(Error::config("lbfgs.memory", "must be at least 1"));
        }
        if self.max_fun == 0 {
            return Err(Error::config("lbfgs.max_fun", "must be at least 1"));
        }
        if self.max_ls == 0 {
            return Err(Error::config("lbfgs.max_ls", "must be at least 1"));
        }
        if !positive(self.gtol) {
            return Err(Error::config(
                "lbfgs.gtol",
                format!("{} is not a finite number >= 0", self.gtol),
            ));
        }
        if !positive(self.ftol) {
            return Err(Error::config(
                "lbfgs.ftol",
                format!("{} is not a finite number >= 0", self.ftol),
            ));
        }
        Ok(())
    }
}

/// Why a run ended before its iteration limit.
#[derive(Clone, Debug, PartialEq)]
pub enum LbfgsStop {
    /// No gradient component above `gtol`.
    Gradient,
    /// The objective's relative decrease fell to `ftol`.
    Decrease,
    /// More than `max_fun` evaluations.
    MaxFun,
    /// The line search found no acceptable step; the weights are those
    /// before it.
    LineSearch(String),
}

impl LbfgsStop {
    /// Whether the run converged (scipy's status 0).
    pub fn converged(&self) -> bool {
        matches!(self, LbfgsStop::Gradient | LbfgsStop::Decrease)
    }
}

impl std::fmt::Display for LbfgsStop {
    /// scipy's messages.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LbfgsStop::Gradient => write!(f, "CONVERGENCE: NORM OF PROJECTED GRADIENT <= PGTOL"),
            LbfgsStop::Decrease => {
                write!(f, "CONVERGENCE: REL_REDUCTION_OF_F <= FACTR*EPSMCH")
            }
            LbfgsStop::MaxFun => write!(f, "STOP: TOTAL NO. OF F,G EVALUATIONS EXCEEDS LIMIT"),
            LbfgsStop::LineSearch(why) => write!(f, "ABNORMAL: LINE SEARCH FAILED ({why})"),
        }
    }
}

/// What one iteration did.
#[derive(Clone, Debug, PartialEq)]
pub struct LbfgsIteration {
    /// The objective at the new weights (loss plus the L2 term).
    pub objective: f64,
    /// The mean (weighted) loss of the rows at the new weights.
    pub loss: f64,
    /// Evaluations of the loss and gradient in this iteration.
    pub evaluations: usize,
    /// Why the run ends here, if it does.
    pub stop: Option<LbfgsStop>,
}

type Param = Vec<f64>;
type Search = MoreThuenteLineSearch<Param, Param, f64>;
type Method = LBFGS<Search, Param, Param, f64>;
type Iterate = IterState<Param, Param, (), (), (), f64>;

/// A full-batch L-BFGS run in progress: the solver's memory and iterate.
pub struct Lbfgs {
    cfg: LbfgsConfig,
    solver: Method,
    state: Option<Iterate>,
    evaluations: usize,
    /// Iterations since the memory was last emptied.
    since_restart: usize,
    /// The objective and data loss at the current iterate.
    current: (f64, f64),
}

impl std::fmt::Debug for Lbfgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lbfgs")
            .field("cfg", &self.cfg)
            .field("evaluations", &self.evaluations)
            .field("current", &self.current)
            .finish_non_exhaustive()
    }
}

impl Lbfgs {
    /// A run that starts from the weights the first [`Lbfgs::iterate`] sees.
    ///
    /// # Errors
    /// As [`LbfgsConfig::validate`].
    pub fn new(cfg: LbfgsConfig) -> Result<Lbfgs> {
        cfg.validate()?;
        Ok(Lbfgs {
            cfg,
            solver: method(&cfg)?,
            state: None,
            evaluations: 0,
            since_restart: 0,
            current: (f64::NAN, f64::NAN),
        })
    }

    /// Evaluations of the loss and gradient so far.
    pub fn evaluations(&self) -> usize {
        self.evaluations
    }

    /// One L-BFGS iteration from the weights of `mlp` (the first call
    /// evaluates them first), over every row of `data`, with the L2
    /// coefficient `decay` on the weights. `mlp` ends holding the new
    /// weights (the old ones when the line search fails). The trainer's
    /// batch must hold every row of `data`.
    ///
    /// As scipy's L-BFGS-B, a line search that fails with correction pairs
    /// in memory drops them and starts the iteration again from the same
    /// weights along the steepest descent; the run ends
    /// ([`LbfgsStop::LineSearch`]) only when that fails too.
    ///
    /// # Errors
    /// As [`Trainer::full_gradient`]; [`Error::Diverged`] if the loss at
    /// the first weights is not finite.
    pub fn iterate(
        &mut self,
        trainer: &mut Trainer,
        mlp: &mut Mlp,
        data: &Dataset,
        decay: f64,
    ) -> Result<LbfgsIteration> {
        let mut it = self.attempt(trainer, mlp, data, decay)?;
        if matches!(it.stop, Some(LbfgsStop::LineSearch(_))) && self.since_restart > 0 {
            self.solver = method(&self.cfg)?;
            self.state = None;
            self.since_restart = 0;
            let spent = it.evaluations;
            it = self.attempt(trainer, mlp, data, decay)?;
            it.evaluations += spent;
        }
        if !matches!(it.stop, Some(LbfgsStop::LineSearch(_))) {
            self.since_restart += 1;
        }
        Ok(it)
    }

    /// One try at an iteration with the memory as it is (see
    /// [`Lbfgs::iterate`]).
    fn attempt(
        &mut self,
        trainer: &mut Trainer,
        mlp: &mut Mlp,
        data: &Dataset,
        decay: f64,
    ) -> Result<LbfgsIteration> {
        let weights: Vec<std::ops::Range<usize>> = (0..mlp.num_layers())
            .map(|l| mlp.layout().w_range(l))
            .collect();
        let evaluations = Cell::new(0);
        let eval = Eval {
            trainer: &mut *trainer,
            mlp: &mut *mlp,
            data,
            decay,
            weights,
            cache: None,
            evaluations: &evaluations,
            max_evaluations: usize::MAX,
            error: None,
        };
        let mut problem = Problem::new(Objective(RefCell::new(eval)));
        let state = match self.state.take() {
            Some(s) => s,
            None => {
                let start = problem_eval(&problem, |e| {
                    e.mlp.params().iter().map(|&v| f64::from(v)).collect()
                });
                let (s, _) = self
                    .solver
                    .init(&mut problem, IterState::new().param(start))
                    .map_err(|e| argmin_error(&problem, e))?;
                let first = problem_eval(&problem, |e| e.cached_losses());
                self.current = first;
                s
            }
        };
        let before = state.get_param().cloned().expect("the iterate is set");
        let f_prev = state.get_cost();
        // a line search takes at most max_ls evaluations from here
        problem_eval(&problem, |e| {
            e.max_evaluations = e.evaluations.get() + self.cfg.max_ls + 1;
        });
        let result = self.solver.next_iter(&mut problem, state);
        let (mut next, _) = result.map_err(|e| argmin_error(&problem, e))?;
        // a failed line search consumes the problem (its error is in the
        // solver's reason)
        let eval = problem.take_problem().map(|o| o.0.into_inner());
        let cache = match eval {
            Some(mut e) => match e.error.take() {
                Some(err) => return Err(err),
                None => e.cache,
            },
            None => None,
        };
        let spent = evaluations.get();
        self.evaluations += spent;
        let failed = next.terminated() || next.get_param().is_none();
        if failed {
            let why = next
                .get_termination_reason()
                .map_or_else(|| "no step".to_string(), |r| r.text().to_string());
            write_params(mlp, &before);
            // a further call starts afresh from these weights
            self.state = None;
            return Ok(LbfgsIteration {
                objective: self.current.0,
                loss: self.current.1,
                evaluations: spent,
                stop: Some(LbfgsStop::LineSearch(why)),
            });
        }
        let param = next.get_param().expect("the iterate is set").clone();
        let f = next.get_cost();
        // the network holds the iterate (the last evaluation may be another point)
        write_params(mlp, &param);
        self.current = match &cache {
            Some(c) if c.param == param => (c.cost, c.loss),
            _ => (f, f64::NAN),
        };
        let gmax = next
            .get_gradient()
            .map_or(f64::INFINITY, |g| g.iter().fold(0.0, |m, v| v.abs().max(m)));
        let stop = if self.evaluations > self.cfg.max_fun {
            Some(LbfgsStop::MaxFun)
        } else if gmax <= self.cfg.gtol {
            Some(LbfgsStop::Gradient)
        } else if f_prev - f <= self.cfg.ftol * f_prev.abs().max(f.abs()).max(1.0) {
            Some(LbfgsStop::Decrease)
        } else {
            None
        };
        next.increment_iter();
        self.state = Some(next);
        Ok(LbfgsIteration {
            objective: self.current.0,
            loss: self.current.1,
            evaluations: spent,
            stop,
        })
    }
}

/// argmin's L-BFGS with `cfg.memory` pairs, its own stopping tests off
/// (scipy's are applied after each iteration), and the Moré–Thuente line
/// search with scipy's constants: sufficient decrease 1e-3, curvature 0.9,
/// width 0.1.
fn method(cfg: &LbfgsConfig) -> Result<Method> {
    let search = Search::new()
        .with_c(1e-3, 0.9)
        .and_then(|s| s.with_width_tolerance(0.1))
        .map_err(|e| Error::config("lbfgs", e))?;
    LBFGS::new(search, cfg.memory)
        .with_tolerance_grad(0.0)
        .and_then(|s| s.with_tolerance_cost(0.0))
        .map_err(|e| Error::config("lbfgs", e))
}

/// The loss and gradient at a point, kept for the next call at the same point.
struct Cached {
    param: Param,
    cost: f64,
    loss: f64,
    grad: Param,
}

/// The objective over the data, evaluated on the network's `f32` weights.
struct Eval<'a> {
    trainer: &'a mut Trainer,
    mlp: &'a mut Mlp,
    data: &'a Dataset,
    decay: f64,
    weights: Vec<std::ops::Range<usize>>,
    cache: Option<Cached>,
    /// Evaluations in this iteration (kept outside: a failed line search
    /// drops the objective).
    evaluations: &'a Cell<usize>,
    max_evaluations: usize,
    /// The library error behind the last failed evaluation.
    error: Option<Error>,
}

/// The network's weights: the `f32` rounding of `p`.
fn write_params(mlp: &mut Mlp, p: &[f64]) {
    for (w, &v) in mlp.params_mut().iter_mut().zip(p) {
        *w = v as f32;
    }
}

impl Eval<'_> {
    fn cached_losses(&mut self) -> (f64, f64) {
        self.cache
            .as_ref()
            .map_or((f64::NAN, f64::NAN), |c| (c.cost, c.loss))
    }

    fn evaluate(&mut self, p: &Param) -> Result<&Cached> {
        if self.cache.as_ref().is_some_and(|c| &c.param == p) {
            return Ok(self.cache.as_ref().expect("checked"));
        }
        if self.evaluations.get() >= self.max_evaluations {
            return Err(Error::Diverged(
                "the line search took its most evaluations".to_string(),
            ));
        }
        write_params(self.mlp, p);
        self.evaluations.set(self.evaluations.get() + 1);
        let (loss, g, _) = self.trainer.full_gradient(self.mlp, self.data)?;
        if !loss.is_finite() {
            return Err(Error::Diverged(format!(
                "the loss over the training rows is {loss}"
            )));
        }
        let mut grad: Param = g.iter().map(|&v| f64::from(v)).collect();
        let params = self.mlp.params();
        let mut squares = 0.0;
        for r in &self.weights {
            for i in r.clone() {
                let w = f64::from(params[i]);
                squares += w * w;
                grad[i] += self.decay * w;
            }
        }
        let cost = loss + 0.5 * self.decay * squares;
        self.cache = Some(Cached {
            param: p.clone(),
            cost,
            loss,
            grad,
        });
        Ok(self.cache.as_ref().expect("just set"))
    }
}

/// The objective as `argmin` sees it.
struct Objective<'a>(RefCell<Eval<'a>>);

impl Objective<'_> {
    fn run<T>(
        &self,
        p: &Param,
        f: impl FnOnce(&Cached) -> T,
    ) -> std::result::Result<T, argmin::core::Error> {
        let mut e = self.0.borrow_mut();
        match e.evaluate(p) {
            Ok(c) => Ok(f(c)),
            Err(err) => {
                let text = err.to_string();
                // a trial step whose loss is not finite, or a line search
                // out of evaluations, is the solver's to report (it keeps
                // the last iterate); any other error is the caller's
                if !matches!(err, Error::Diverged(_)) {
                    e.error = Some(err);
                }
                Err(argmin::core::Error::msg(text))
            }
        }
    }
}

impl CostFunction for Objective<'_> {
    type Param = Param;
    type Output = f64;

    fn cost(&self, p: &Param) -> std::result::Result<f64, argmin::core::Error> {
        self.run(p, |c| c.cost)
    }
}

impl Gradient for Objective<'_> {
    type Param = Param;
    type Gradient = Param;

    fn gradient(&self, p: &Param) -> std::result::Result<Param, argmin::core::Error> {
        self.run(p, |c| c.grad.clone())
    }
}

fn problem_eval<T>(problem: &Problem<Objective<'_>>, f: impl FnOnce(&mut Eval<'_>) -> T) -> T {
    let o = problem.problem.as_ref().expect("the problem is held");
    let mut e = o.0.borrow_mut();
    f(&mut e)
}

/// The library error behind an `argmin` error, or the solver's own.
fn argmin_error(problem: &Problem<Objective<'_>>, e: argmin::core::Error) -> Error {
    problem
        .problem
        .as_ref()
        .and_then(|o| o.0.borrow_mut().error.take())
        .unwrap_or_else(|| Error::Diverged(format!("L-BFGS: {e}")))
}
