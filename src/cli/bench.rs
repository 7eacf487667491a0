//! `backprop bench`: training (or, with `--predict`, prediction)
//! throughput on synthetic data, as text or JSON.

use std::io::{self, Write};

use backprop::bench::{run_forward, run_in, run_models, BenchReport, BenchShape, BenchSpec};
use backprop::dist::Job;
use backprop::optim::{OptimizerConfig, OptimizerKind};
use backprop::presets::Preset;
use backprop::TrainConfig;

use super::args::BenchArgs;
use super::flags::usage;
use super::print::plural;

/// `backprop bench`: the spec the flags and the preset describe, measured
/// (every rank of a job takes part; rank 0 prints).
pub fn bench(args: &BenchArgs, job: &Job) -> anyhow::Result<()> {
    let preset = args.config.as_deref().map(Preset::by_name).transpose()?;
    let spec = spec(args, preset)?;
    if args.predict && args.models != 1 {
        return Err(usage(
            "--models",
            "prediction runs one model; drop --predict or --models",
        ));
    }
    if args.predict {
        if job.size() > 1 {
            return Err(usage("--predict", "prediction runs in one process"));
        }
        return bench_predict(args, preset, &spec);
    }
    let r = if args.models == 1 {
        run_in(&spec, job.group())?
    } else {
        if job.size() > 1 {
            return Err(usage(
                "--models",
                "several models train in one process; run without mpirun",
            ));
        }
        run_models(&spec, args.models)?
    };
    if job.rank() != 0 {
        return Ok(());
    }
    let mut out = io::stdout().lock();
    if args.json {
        let mut o = report_json(preset, &spec, &r);
        o["models"] = args.models.into();
        writeln!(out, "{o}")?;
        return Ok(());
    }
    if args.models > 1 {
        writeln!(
            out,
            "{} models trained together as tasks on {}; samples/s are their total \
             (no phase profile)",
            args.models,
            plural(r.threads, "thread")
        )?;
    }
    print_report(&mut out, &spec, &r)
}

/// The benchmark the flags describe: the preset's shape with the flags'
/// parts in place of its own, and the flags' run settings.
fn spec(args: &BenchArgs, preset: Option<&Preset>) -> anyhow::Result<BenchSpec> {
    let shape = BenchShape {
        sizes: args.layers.clone(),
        activation: args.activation,
        head: args.head,
        batch_size: args.batch_size,
    };
    if let Some(part) = shape.missing(preset, args.predict) {
        return Err(usage(part, "is required without --config"));
    }
    let optimizer = OptimizerConfig {
        kind: args.optimizer.parse::<OptimizerKind>()?,
        weight_decay: args.weight_decay,
        ..OptimizerConfig::default()
    };
    let spec = BenchSpec::from_shape(&shape, preset, args.predict)?;
    Ok(BenchSpec {
        train: TrainConfig {
            threads: args.threads,
            shard_rows: args.shard_rows,
            optimizer,
            clip_norm: args.clip_norm,
            dropout: args.dropout,
            ..spec.train
        },
        seconds: args.seconds,
        windows: args.windows,
        ..spec
    })
}

/// `bench --predict`: forward-only throughput.
fn bench_predict(
    args: &BenchArgs,
    preset: Option<&Preset>,
    spec: &BenchSpec,
) -> anyhow::Result<()> {
    let r = run_forward(spec, args.rows, args.chunk_rows)?;
    let mut out = io::stdout().lock();
    if args.json {
        let obj = serde_json::json!({
            "predict": true,
            "config": preset.map(|p| p.name),
            "layers": spec.sizes,
            "activation": spec.activation.name(),
            "head": spec.head.name(),
            "rows": args.rows,
            "chunk_rows": r.shard_rows,
            "threads": r.threads,
            "samples_per_sec": r.samples_per_sec,
            "min_samples_per_sec": r.min_samples_per_sec,
            "max_samples_per_sec": r.max_samples_per_sec,
            "gflops": r.gflops,
            "windows": spec.windows,
            "passes": r.steps,
            "peak_rss_bytes": r.peak_rss_bytes,
            "simd": backprop::kernels::simd_width(),
        });
        writeln!(out, "{obj}")?;
        return Ok(());
    }
    writeln!(
        out,
        "prediction: network {:?} {} hidden, {} head, {} rows per pass in chunks of {}, {}",
        spec.sizes,
        spec.activation,
        spec.head,
        args.rows,
        r.shard_rows,
        plural(r.threads, "thread")
    )?;
    writeln!(
        out,
        "{:.0} rows/s (median of {} windows; min {:.0}, max {:.0}), {:.1} GFLOP/s (forward only)",
        r.samples_per_sec, spec.windows, r.min_samples_per_sec, r.max_samples_per_sec, r.gflops
    )?;
    Ok(())
}

/// A training benchmark as one JSON object.
fn report_json(preset: Option<&Preset>, spec: &BenchSpec, r: &BenchReport) -> serde_json::Value {
    let shortest = |v: f32| v.to_string().parse::<f64>().unwrap_or(f64::NAN);
    let [forward, backward, reduction, update] = r.profile.shares_percent();
    serde_json::json!({
        "config": preset.map(|p| p.name),
        "layers": spec.sizes,
        "activation": spec.activation.name(),
        "head": spec.head.name(),
        "batch_size": spec.train.batch_size,
        "threads": r.threads,
        "ranks": r.ranks,
        "shard_rows": r.shard_rows,
        "optimizer": spec.train.optimizer.kind.name(),
        // through the shortest decimal, so 0.01 does not print as 0.009999999776482582
        "weight_decay": shortest(spec.train.optimizer.weight_decay),
        "clip_norm": spec.train.clip_norm.map(shortest),
        "dropout": shortest(spec.train.dropout),
        "samples_per_sec": r.samples_per_sec,
        "min_samples_per_sec": r.min_samples_per_sec,
        "max_samples_per_sec": r.max_samples_per_sec,
        "gflops": r.gflops,
        "windows": spec.windows,
        "steps": r.steps,
        "time_share_percent": {
            "forward": forward,
            "backward": backward,
            "reduction": reduction,
            "update": update,
        },
        "peak_rss_bytes": r.peak_rss_bytes,
        "dataset_bytes": r.dataset_bytes,
        "param_bytes": r.param_bytes,
        "simd": backprop::kernels::simd_width(),
    })
}

/// A training benchmark as text: the network, the update rule, the
/// throughput, the time per phase and the memory.
fn print_report(out: &mut impl Write, spec: &BenchSpec, r: &BenchReport) -> anyhow::Result<()> {
    writeln!(
        out,
        "network {:?} {} hidden, {} head, batch {}, {}{}, shards of {} rows",
        spec.sizes,
        spec.activation,
        spec.head,
        spec.train.batch_size,
        if r.ranks > 1 {
            format!("{} MPI processes × ", r.ranks)
        } else {
            String::new()
        },
        plural(r.threads, "thread"),
        r.shard_rows
    )?;
    print_rule(out, spec)?;
    writeln!(
        out,
        "{:.0} samples/s (median of {} windows; min {:.0}, max {:.0}), {:.1} GFLOP/s",
        r.samples_per_sec, spec.windows, r.min_samples_per_sec, r.max_samples_per_sec, r.gflops
    )?;
    let [forward, backward, reduction, update] = r.profile.shares_percent();
    writeln!(
        out,
        "time (summed over threads): forward {forward:.1}%, backward {backward:.1}%, reduction {reduction:.1}%, update {update:.1}%"
    )?;
    let mib = |b: u64| b as f64 / (1024.0 * 1024.0);
    match r.peak_rss_bytes {
        Some(rss) => writeln!(
            out,
            "peak RSS {:.1} MiB (synthetic data {:.1} MiB, parameters {:.1} MiB: {:.1}× the parameters without the data)",
            mib(rss),
            mib(r.dataset_bytes),
            mib(r.param_bytes),
            rss.saturating_sub(r.dataset_bytes) as f64 / r.param_bytes as f64
        )?,
        None => writeln!(out, "peak RSS unknown on this system")?,
    }
    Ok(())
}

/// The update rule's line of [`print_report`].
fn print_rule(out: &mut impl Write, spec: &BenchSpec) -> anyhow::Result<()> {
    let default_rule = spec.train.optimizer == OptimizerConfig::default()
        && spec.train.clip_norm.is_none()
        && spec.train.dropout == 0.0;
    writeln!(
        out,
        "optimizer {}{}, {}{}, learning rate 1e-3{}",
        spec.train.optimizer.kind,
        if spec.train.optimizer.weight_decay > 0.0 {
            format!(" with weight decay {}", spec.train.optimizer.weight_decay)
        } else {
            String::new()
        },
        match spec.train.clip_norm {
            Some(c) => format!("gradient norm clipped to {c}"),
            None => "no clipping".to_string(),
        },
        if spec.train.dropout > 0.0 {
            format!(", dropout {}", spec.train.dropout)
        } else {
            String::new()
        },
        if default_rule {
            " (the presets' default; see --optimizer)"
        } else {
            ""
        }
    )?;
    Ok(())
}
