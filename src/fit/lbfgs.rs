//! What a session trained by full-batch L-BFGS ([`crate::lbfgs`]) adds to
//! one of mini-batch steps: its L2 coefficient and its training record.
//! The iterations run as epochs in `run.rs`.

use crate::lbfgs::LbfgsConfig;
use std::collections::BTreeMap;

use super::prepare::Prepared;
use super::report::FitEnd;

/// The L2 coefficient `λ` of the objective: the weight decay, times
/// `rows / Σw` under [`TrainConfig::decay_by_weight`](crate::TrainConfig::decay_by_weight) on weighted rows.
pub(super) fn decay(p: &Prepared) -> f64 {
    let wd = f64::from(p.cfg.optimizer.weight_decay);
    match p.train.weights() {
        Some(w) if p.cfg.decay_by_weight => {
            let sum: f64 = w.iter().map(|&v| f64::from(v)).sum();
            if sum > 0.0 {
                wd * p.train.rows() as f64 / sum
            } else {
                0.0
            }
        }
        _ => wd,
    }
}

/// The training record of an L-BFGS run: the solver, its constants and how
/// it ended, in place of the mini-batch settings it did not use.
pub(super) fn record(entries: &mut BTreeMap<String, String>, cfg: &LbfgsConfig, end: &FitEnd) {
    for unused in [
        "batch_size",
        "lr",
        "lr_schedule",
        "shuffle",
        "momentum",
        "nesterov",
    ] {
        entries.remove(unused);
    }
    entries.insert("optimizer".into(), "lbfgs".into());
    entries.insert("max_fun".into(), cfg.max_fun.to_string());
    entries.insert("gtol".into(), cfg.gtol.to_string());
    let stop = match end {
        FitEnd::Solver(why) => why.to_string(),
        _ => "STOP: TOTAL NO. OF ITERATIONS REACHED LIMIT".to_string(),
    };
    entries.insert("lbfgs_stop".into(), stop);
}
