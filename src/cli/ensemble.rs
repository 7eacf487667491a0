//! `backprop train --ensemble K`: K members trained together
//! ([`fit::fit_many`]), member k seeded `--seed + k`, written as one
//! ensemble file; each member's figures, and the ensemble's on `--test-data`.
//! `--checkpoint PATH` writes member k's checkpoint to `PATH.{k+1}`, and
//! `--resume PATH` continues every member from its own.

use std::io::{self, Write};

use backprop::dist::Job;
use backprop::fit::{self, FitOutcome};
use backprop::model_io::{self, Ensemble, SavedModel};

use super::args::TrainArgs;
use super::flags::usage;
use super::print::load;
use super::progress::PassBar;
use super::train::{check_outputs, interrupt_flag, Interrupted, NOT_SAVED};

/// `train --ensemble K`.
pub fn train_ensemble(args: &TrainArgs, job: &Job) -> anyhow::Result<()> {
    let k = args.ensemble;
    if k == 0 {
        return Err(usage("--ensemble", "must be at least 1"));
    }
    if job.size() > 1 {
        return Err(usage(
            "--ensemble",
            "an ensemble trains in one process; run without mpirun",
        ));
    }
    refuse_single_model_flags(args)?;
    check_outputs(args)?;
    let spec = args.spec()?;
    let seed = spec.seed.unwrap_or(fit::DEFAULT_SEED);
    if let Some(r) = &args.resume {
        if let Some(missing) = (0..k).map(|i| member_path(r, i)).find(|p| !p.exists()) {
            return Err(usage(
                "--resume",
                format!(
                    "{} is missing: an ensemble resumes from one checkpoint per member \
                     ({} … {})",
                    missing.display(),
                    member_path(r, 0).display(),
                    member_path(r, k - 1).display()
                ),
            ));
        }
    }
    let specs: Vec<fit::FitSpec> = (0..k)
        .map(|i| fit::FitSpec {
            seed: Some(seed.wrapping_add(i as u64)),
            checkpoint: args.checkpoint.as_ref().map(|p| member_path(p, i)),
            resume: args
                .resume
                .as_ref()
                .map(|p| fit::Stored::File(member_path(p, i))),
            ..spec.clone()
        })
        .collect();
    let stop = interrupt_flag()?;
    let started = std::time::Instant::now();
    let bar = PassBar::new(
        vec![spec.epochs; k],
        1,
        Vec::new(),
        !args.json && !args.quiet,
    );
    // a member's final state is in its checkpoint file, if asked for: the
    // outcome need not hold it until every member is done
    let then = |i: usize, r: backprop::Result<FitOutcome>| {
        bar.model_done(i, r.as_ref().map_or(0, |o| o.epochs));
        r.map(|mut o| {
            o.checkpoint = None;
            o
        })
    };
    let runs = fit::fit_many_then(&specs, spec.threads, &stop, &bar, &then);
    bar.finish();
    let mut outcomes = Vec::with_capacity(k);
    for (i, r) in runs?.into_iter().enumerate() {
        let o = r.map_err(|e| {
            anyhow::anyhow!(
                "member {} (seed {}): {}",
                i + 1,
                seed.wrapping_add(i as u64),
                super::flags::error_text(&e.into())
            )
        })?;
        outcomes.push(o);
    }
    if outcomes
        .iter()
        .any(|o: &FitOutcome| o.interruption().is_some())
    {
        return Err(Interrupted(interrupted_text(args.checkpoint.as_deref(), k)).into());
    }
    let seconds = started.elapsed().as_secs_f64();
    let figures: Vec<Option<(&'static str, f64)>> = outcomes.iter().map(held_out_figure).collect();
    let ensemble = Ensemble {
        members: outcomes
            .iter()
            .map(|o| SavedModel {
                mlp: o.mlp.clone(),
                meta: o.meta.clone(),
            })
            .collect(),
    };
    // the ensemble on the test file, read as the model reads new data
    let test = match &args.test_data {
        Some(p) => {
            let meta = &ensemble.first().meta;
            let opts = args.read_overrides()?.model_options(meta, true);
            let mut raw = load(p, &opts, true)?;
            let threshold = backprop::evaluate::threshold_for(&ensemble.first().mlp, None)?;
            let e = backprop::evaluate::evaluate_ensemble(
                &ensemble,
                &mut raw,
                threshold,
                spec.threads,
            )?;
            fit::figures(&e).first().copied()
        }
        None => None,
    };
    if let Some(path) = &args.out {
        model_io::save_ensemble(path, &ensemble)?;
    }
    report(args, &outcomes, &figures, seed, seconds, test)?;
    if args.out.is_none() {
        eprintln!("{NOT_SAVED}");
    }
    Ok(())
}

/// What `train --ensemble` prints: one JSON object, or a line per member
/// and the ensemble's test figure.
fn report(
    args: &TrainArgs,
    outcomes: &[FitOutcome],
    figures: &[Option<(&'static str, f64)>],
    seed: u64,
    seconds: f64,
    test: Option<(&'static str, f64)>,
) -> anyhow::Result<()> {
    let k = outcomes.len();
    let mut out = io::stdout().lock();
    if args.json {
        let members: Vec<serde_json::Value> = outcomes
            .iter()
            .zip(figures)
            .enumerate()
            .map(|(i, (o, f))| {
                let mut m = serde_json::json!({
                    "member": i + 1,
                    "seed": seed.wrapping_add(i as u64),
                    "epochs": o.epochs,
                    "held_out": o.held_out.name(),
                });
                if let Some((name, v)) = f {
                    m[*name] = (*v).into();
                }
                m
            })
            .collect();
        let mut obj = serde_json::json!({
            "summary": true,
            "ensemble": k,
            "members": members,
            "seconds": seconds,
            "out": args.out.as_ref().map(|p| p.display().to_string()),
        });
        if let Some((name, v)) = test {
            obj["test"] = serde_json::json!({ name: v });
        }
        writeln!(out, "{obj}")?;
    } else if !args.quiet {
        writeln!(
            out,
            "ensemble of {k} models trained together in {seconds:.2} s"
        )?;
        for (i, (o, f)) in outcomes.iter().zip(figures).enumerate() {
            write!(
                out,
                "member {:>2}: seed {}, {} epochs",
                i + 1,
                seed.wrapping_add(i as u64),
                o.epochs
            )?;
            match f {
                Some((name, v)) => writeln!(out, ", {} {name} {v:.4}", o.held_out.name())?,
                None => writeln!(out)?,
            }
        }
        if let Some((name, v)) = test {
            writeln!(
                out,
                "ensemble: test {name} {v:.4} (the mean of the members' outputs)"
            )?;
        }
    }
    Ok(())
}

/// A member's headline held-out figure at its reported epoch (the best one
/// under early stopping, else the last): accuracy, or R², or the loss.
fn held_out_figure(o: &FitOutcome) -> Option<(&'static str, f64)> {
    let record = backprop::meta::TrainingRecord::from_extra(&o.meta.extra);
    let r = match record.best {
        Some(b) => o.history.iter().find(|r| r.epoch == b.epoch),
        None => o.history.last(),
    }?;
    r.val_accuracy
        .map(|a| ("accuracy", a))
        .or(r.val_r2.map(|v| ("r2", v)))
        .or(r.val_loss.map(|v| ("loss", v)))
}

/// The flags of one model's run that an ensemble refuses.
fn refuse_single_model_flags(args: &TrainArgs) -> anyhow::Result<()> {
    for (given, flag) in [
        (args.init_model.is_some(), "--init-model"),
        (args.plot.is_some(), "--plot"),
    ] {
        if given {
            return Err(usage(
                flag,
                "not with --ensemble: train a member alone (--seed S + k) for its initial \
                 model or curves",
            ));
        }
    }
    Ok(())
}

/// Member `i`'s (0-based) checkpoint of the ensemble's `path`: `path.{i+1}`,
/// a checkpoint of one model that the member resumes from (alone too).
fn member_path(path: &std::path::Path, i: usize) -> std::path::PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(format!(".{}", i + 1));
    name.into()
}

/// What an interrupted ensemble run says: where its members' checkpoints are.
fn interrupted_text(checkpoint: Option<&std::path::Path>, k: usize) -> String {
    match checkpoint {
        Some(p) => format!(
            "interrupted; each member's checkpoint is written ({} … {}): --resume {} \
             continues, bit for bit",
            member_path(p, 0).display(),
            member_path(p, k - 1).display(),
            p.display()
        ),
        None => "interrupted; nothing was written".to_string(),
    }
}
