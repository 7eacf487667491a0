//! `backprop cv`: the training flags as a [`FitSpec`], its K folds trained
//! in one pass ([`fit::cross_validate`]), and the figures per fold and
//! their mean ± std, as text or one JSON object; `--out` writes the fold
//! models as one ensemble file.

use std::io::{self, Write};

use backprop::fit::{self, CrossValidation};
use backprop::model_io;

use super::args::CvArgs;
use super::flags::usage;
use super::progress::PassBar;
use super::train::{interrupt_flag, Interrupted};

/// `backprop cv`.
pub fn cv(args: &CvArgs) -> anyhow::Result<()> {
    let t = &args.train;
    if t.ensemble != 1 {
        return Err(usage(
            "--ensemble",
            "cv trains one model per fold; --out writes the folds as an ensemble",
        ));
    }
    if t.plot.is_some() {
        return Err(usage(
            "--plot",
            "cv draws no curves; train a fold's settings with `backprop train --plot`",
        ));
    }
    if let Some(p) = &t.out {
        fit::check_output_path("--out", p)?;
    }
    let spec = t.spec()?;
    let stop = interrupt_flag()?;
    let started = std::time::Instant::now();
    let bar = PassBar::new(
        vec![spec.epochs; args.folds],
        args.folds,
        Vec::new(),
        !t.json && !t.quiet,
    );
    let cv =
        fit::cross_validate_each_with(&spec, std::slice::from_ref(&spec), args.folds, &stop, &bar);
    bar.finish();
    let cv = cv?.pop().expect("one candidate")?;
    for n in &cv.notes {
        eprintln!("note: {}: {n}", cv.source_name);
    }
    if cv.folds.iter().any(|f| f.outcome.interruption().is_some()) {
        return Err(Interrupted("interrupted; nothing was written".to_string()).into());
    }
    let seconds = started.elapsed().as_secs_f64();
    if let Some(p) = &t.out {
        model_io::save_ensemble(p, &cv.ensemble())?;
    }
    let data = t
        .data
        .as_ref()
        .map_or("breast cancer (embedded), training part".to_string(), |p| {
            p.display().to_string()
        });
    let mut out = io::stdout().lock();
    if t.json {
        writeln!(out, "{}", json(&cv, &data, seconds))?;
    } else {
        text(&mut out, &cv, &data, seconds)?;
    }
    Ok(())
}

/// The table of folds and the summary line.
fn text(out: &mut impl Write, cv: &CrossValidation, data: &str, seconds: f64) -> io::Result<()> {
    let k = cv.folds.len();
    writeln!(
        out,
        "{k}-fold cross-validation of {data}: {k} models trained in one pass, {seconds:.2} s"
    )?;
    let names: Vec<&str> = cv
        .folds
        .first()
        .map(|f| {
            fit::figures(&f.evaluation)
                .iter()
                .map(|(n, _)| *n)
                .collect()
        })
        .unwrap_or_default();
    write!(
        out,
        "{:>4}  {:>8}  {:>8}  {:>6}",
        "fold", "train", "held out", "epochs"
    )?;
    for n in &names {
        write!(out, "  {n:>11}")?;
    }
    writeln!(out, "  {:>7}", "seconds")?;
    for (i, f) in cv.folds.iter().enumerate() {
        write!(
            out,
            "{:>4}  {:>8}  {:>8}  {:>6}",
            i + 1,
            f.train_rows,
            f.held_out_rows,
            f.outcome.epochs
        )?;
        for (_, v) in fit::figures(&f.evaluation) {
            write!(out, "  {:>11}", format!("{v:.4}"))?;
        }
        writeln!(out, "  {:>7.2}", f.outcome.wall_seconds)?;
    }
    let summary: Vec<String> = cv
        .summary()
        .iter()
        .map(|(n, s)| format!("{n} {:.4} ± {:.4}", s.mean, s.std))
        .collect();
    writeln!(out, "mean ± std: {}", summary.join(", "))
}

/// One JSON object: the folds' figures, their means and standard deviations.
fn json(cv: &CrossValidation, data: &str, seconds: f64) -> serde_json::Value {
    let per_fold: Vec<serde_json::Value> = cv
        .folds
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let mut o = serde_json::json!({
                "fold": i + 1,
                "train_rows": f.train_rows,
                "held_out_rows": f.held_out_rows,
                "epochs": f.outcome.epochs,
                "seconds": f.outcome.wall_seconds,
            });
            for (n, v) in fit::figures(&f.evaluation) {
                o[n] = v.into();
            }
            o
        })
        .collect();
    let summary = cv.summary();
    let map = |pick: fn(&fit::Spread) -> f64| -> serde_json::Map<String, serde_json::Value> {
        summary
            .iter()
            .map(|(n, s)| (n.to_string(), pick(s).into()))
            .collect()
    };
    serde_json::json!({
        "data": data,
        "folds": cv.folds.len(),
        "per_fold": per_fold,
        "mean": map(|s| s.mean),
        "std": map(|s| s.std),
        "seconds": seconds,
    })
}
