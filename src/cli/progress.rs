//! One progress bar for a pass of many models (`cv`, `search`, `train
//! --ensemble`): the epochs of all the models, the models done, and for a
//! search the best candidate so far.

use std::sync::Mutex;

use backprop::fit::{EpochReport, Progress};
use indicatif::{ProgressBar, ProgressStyle};

/// The bar (drawn only on a terminal) and what it counts.
pub struct PassBar {
    bar: Option<ProgressBar>,
    /// Planned epochs per model, in pass order.
    planned: Vec<usize>,
    /// Folds per candidate (1 for members of an ensemble).
    folds: usize,
    /// The candidates' descriptions (empty: not a search).
    names: Vec<String>,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// Epochs done per model.
    epochs: Vec<usize>,
    /// Models done.
    done: usize,
    /// Per candidate, its folds' headline figures (name, value).
    scores: Vec<Vec<(&'static str, f64)>>,
    /// The best candidate so far: its index, figure name and mean.
    best: Option<(usize, &'static str, f64)>,
}

impl PassBar {
    /// A bar over `planned` epochs per model; `show` when the user sees
    /// progress (not `--json` or `--quiet`).
    pub fn new(planned: Vec<usize>, folds: usize, names: Vec<String>, show: bool) -> PassBar {
        let total: usize = planned.iter().sum();
        let terminal = std::io::IsTerminal::is_terminal(&std::io::stderr());
        let bar = (show && terminal).then(|| {
            ProgressBar::new(total as u64).with_style(
                ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} epochs {msg}")
                    .expect("a valid progress bar template")
                    .progress_chars("=> "),
            )
        });
        let n = planned.len();
        let candidates = n.div_ceil(folds.max(1));
        PassBar {
            bar,
            planned,
            folds: folds.max(1),
            names,
            state: Mutex::new(State {
                epochs: vec![0; n],
                scores: vec![Vec::new(); candidates],
                ..State::default()
            }),
        }
    }

    /// Model `i` ended after `epochs` epochs (early stopping ends sooner).
    pub fn model_done(&self, i: usize, epochs: usize) {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let left = self.planned[i].saturating_sub(s.epochs[i].max(epochs));
        s.epochs[i] = self.planned[i];
        s.done += 1;
        if let Some(bar) = &self.bar {
            bar.inc(left as u64);
            bar.set_prefix(format!("{}/{} models", s.done, self.planned.len()));
            if let Some((c, name, mean)) = s.best.filter(|_| !self.names.is_empty()) {
                bar.set_message(format!(
                    "best so far: {} {name} {mean:.4}",
                    self.names.get(c).map_or("", String::as_str)
                ));
            }
        }
    }

    /// Clears the bar.
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

impl Progress for PassBar {
    fn on_load(&self, table: &backprop::data::RawTable) {
        for n in &table.notes {
            let line = format!("note: {}: {n}", table.source_name);
            match &self.bar {
                Some(bar) => bar.println(line),
                None => eprintln!("{line}"),
            }
        }
    }

    fn on_epoch(&self, member: usize, _report: &EpochReport) {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        s.epochs[member] += 1;
        if let Some(bar) = &self.bar {
            bar.inc(1);
        }
    }

    fn on_fold(
        &self,
        candidate: usize,
        fold: usize,
        scored: Option<(&[(&'static str, f64)], usize)>,
    ) {
        let member = candidate * self.folds + fold;
        let epochs = scored.map_or(0, |(_, e)| e);
        {
            let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
            if let Some((&(name, v), _)) = scored.and_then(|(f, e)| f.first().map(|x| (x, e))) {
                s.scores[candidate].push((name, v));
                if s.scores[candidate].len() == self.folds {
                    let mean =
                        s.scores[candidate].iter().map(|x| x.1).sum::<f64>() / self.folds as f64;
                    if !matches!(s.best, Some((_, _, b)) if b >= mean) {
                        s.best = Some((candidate, name, mean));
                    }
                }
            }
        }
        self.model_done(member, epochs);
    }
}
