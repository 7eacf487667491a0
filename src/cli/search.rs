//! `backprop search`: the candidates of `--grid` (or `--random N` drawn from
//! it), cross-validated in one pass ([`fit::search`]), printed ranked as
//! text or one JSON object; `--out` writes the best candidate's fold models
//! as an ensemble, or with `--refit` the best trained again on all the rows.

use std::io::{self, Write};

use backprop::fit::{self, Ranked};
use backprop::model_io;

use super::args::SearchArgs;
use super::flags::usage;
use super::progress::PassBar;
use super::train::{interrupt_flag, Interrupted};

/// `backprop search`.
pub fn search(args: &SearchArgs) -> anyhow::Result<()> {
    let t = &args.train;
    if t.ensemble != 1 {
        return Err(usage(
            "--ensemble",
            "search trains one model per candidate and fold; --out writes the best \
             candidate's folds as an ensemble",
        ));
    }
    if t.plot.is_some() {
        return Err(usage(
            "--plot",
            "search draws no curves; give --plot to train",
        ));
    }
    if let Some(p) = &t.out {
        fit::check_output_path("--out", p)?;
    }
    let base = t.spec()?;
    let candidates = match args.random {
        Some(n) => fit::draw(&args.grid, n, base.seed.unwrap_or(fit::DEFAULT_SEED))?,
        None => fit::grid(&args.grid)?,
    };
    let stop = interrupt_flag()?;
    let started = std::time::Instant::now();
    let mut planned = Vec::with_capacity(candidates.len() * args.folds);
    for c in &candidates {
        planned.extend(std::iter::repeat(c.apply(&base)?.epochs).take(args.folds));
    }
    let names = candidates.iter().map(|c| c.describe()).collect();
    let bar = PassBar::new(planned, args.folds, names, !t.json && !t.quiet);
    let ranked = fit::search_with(&base, &candidates, args.folds, &stop, &bar);
    bar.finish();
    let ranked = ranked?;
    let interrupted = ranked.iter().any(|r| {
        r.result
            .as_ref()
            .is_ok_and(|cv| cv.folds.iter().any(|f| f.outcome.interruption().is_some()))
    });
    if interrupted {
        return Err(Interrupted("interrupted; nothing was written".to_string()).into());
    }
    if let Some(cv) = ranked.iter().find_map(|r| r.result.as_ref().ok()) {
        for n in &cv.notes {
            eprintln!("note: {}: {n}", cv.source_name);
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    let best = ranked
        .first()
        .filter(|r| r.result.is_ok())
        .ok_or_else(|| anyhow::anyhow!("every candidate failed: {}", failure(&ranked[0])))?;
    let refit = match (&t.out, args.refit) {
        (Some(path), true) => {
            let outcome = best.candidate.apply(&base)?.fit()?;
            model_io::save_model(path, &outcome.mlp, &outcome.meta)?;
            Some((path, Some(outcome.epochs)))
        }
        (Some(path), false) => {
            let cv = best.result.as_ref().expect("the best ran");
            model_io::save_ensemble(path, &cv.ensemble())?;
            Some((path, None))
        }
        _ => None,
    };
    let mut out = io::stdout().lock();
    if t.json {
        let mut o = json(&ranked, args.folds, seconds);
        if let Some((path, epochs)) = &refit {
            o["out"] = serde_json::json!({
                "path": path.display().to_string(),
                "refit": args.refit,
                "epochs": epochs,
            });
        }
        writeln!(out, "{o}")?;
        return Ok(());
    }
    text(&mut out, &ranked, args.folds, seconds)?;
    writeln!(out, "best: {}", best.candidate.describe())?;
    match refit {
        Some((path, Some(epochs))) => writeln!(
            out,
            "wrote {}: the best candidate trained on all the rows, {epochs} epochs",
            path.display()
        )?,
        Some((path, None)) => writeln!(
            out,
            "wrote {}: the best candidate's {} fold models, as one ensemble",
            path.display(),
            args.folds
        )?,
        None => {}
    }
    Ok(())
}

/// Why a candidate failed.
fn failure(r: &Ranked) -> String {
    r.result.as_ref().err().cloned().unwrap_or_default()
}

/// The ranked table.
fn text(out: &mut impl Write, ranked: &[Ranked], k: usize, seconds: f64) -> io::Result<()> {
    let c = ranked.len();
    writeln!(
        out,
        "{c} candidate{} × {k} folds: {} models trained in one pass, {seconds:.2} s",
        if c == 1 { "" } else { "s" },
        c * k
    )?;
    let metric = ranked
        .iter()
        .find_map(Ranked::headline)
        .map_or("score", |(n, _)| n);
    writeln!(
        out,
        "{:>4}  {:>17}  {:>9}  {:>6}  {:>7}  candidate",
        "rank",
        format!("{metric} ± std"),
        "loss",
        "epochs",
        "seconds"
    )?;
    for (i, r) in ranked.iter().enumerate() {
        match (&r.result, r.headline()) {
            (Ok(cv), Some((_, s))) => {
                let n = cv.folds.len().max(1) as f64;
                let epochs = cv
                    .folds
                    .iter()
                    .map(|f| f.outcome.epochs as f64)
                    .sum::<f64>()
                    / n;
                let secs: f64 = cv.folds.iter().map(|f| f.outcome.wall_seconds).sum();
                writeln!(
                    out,
                    "{:>4}  {:>17}  {:>9.4}  {epochs:>6.1}  {secs:>7.2}  {}",
                    i + 1,
                    format!("{:.4} ± {:.4}", s.mean, s.std),
                    r.loss().unwrap_or(f64::NAN),
                    r.candidate.describe()
                )?;
            }
            _ => writeln!(
                out,
                "{:>4}  failed: {}  {}",
                i + 1,
                failure(r),
                r.candidate.describe()
            )?,
        }
    }
    Ok(())
}

/// One JSON object: the candidates, ranked.
fn json(ranked: &[Ranked], k: usize, seconds: f64) -> serde_json::Value {
    let rows: Vec<serde_json::Value> = ranked
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let settings: serde_json::Map<String, serde_json::Value> = r
                .candidate
                .settings
                .iter()
                .map(|(p, v)| (p.name().to_string(), v.clone().into()))
                .collect();
            let mut o = serde_json::json!({"rank": i + 1, "settings": settings});
            match &r.result {
                Ok(cv) => {
                    let s = cv.summary();
                    let map = |pick: fn(&fit::Spread) -> f64| {
                        s.iter()
                            .map(|(n, x)| (n.to_string(), serde_json::Value::from(pick(x))))
                            .collect::<serde_json::Map<String, serde_json::Value>>()
                    };
                    o["mean"] = map(|x| x.mean).into();
                    o["std"] = map(|x| x.std).into();
                    o["epochs"] = cv
                        .folds
                        .iter()
                        .map(|f| f.outcome.epochs)
                        .collect::<Vec<_>>()
                        .into();
                    o["seconds"] = cv
                        .folds
                        .iter()
                        .map(|f| f.outcome.wall_seconds)
                        .sum::<f64>()
                        .into();
                }
                Err(e) => o["error"] = e.clone().into(),
            }
            o
        })
        .collect();
    serde_json::json!({
        "candidates": rows,
        "folds": k,
        "seconds": seconds,
    })
}
