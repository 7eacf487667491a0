//! The `backprop` command line: flags → `TrainConfig` → the library. No math here.

use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};

use backprop::bench::BenchSpec;
use backprop::data::{accuracy, embedded};
use backprop::presets::Preset;
use backprop::{Activation, Dataset, Head, Mlp, TrainConfig, Trainer};

#[derive(Parser)]
#[command(
    name = "backprop",
    version,
    about = "Fast CPU training of multi-layer perceptrons"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Train on the breast-cancer set embedded in the binary (standardised,
    /// the fixed 455/114 split) and report loss, accuracy and throughput.
    Train(TrainArgs),
    /// Measure training throughput on synthetic data held in memory: median
    /// samples/s over timed windows, GFLOP/s, time per phase, peak memory.
    Bench(BenchArgs),
}

#[derive(clap::Args)]
struct BenchArgs {
    /// A preset: T (30-64-32-1 sigmoid/BCE, batch 32), M (784-256-256-10
    /// relu/softmax, 128), B (784-256-256-1 sigmoid/BCE, 256) or L
    /// (784-1024-1024-1024-10 relu/softmax, 256). Other flags override it.
    #[arg(long)]
    config: Option<String>,
    /// All layer sizes, input to output, comma-separated (e.g. 784,256,256,10).
    #[arg(long, value_delimiter = ',')]
    layers: Option<Vec<usize>>,
    /// Hidden activation: sigmoid, tanh, relu or identity.
    #[arg(long)]
    activation: Option<Activation>,
    /// Output head: sigmoid, softmax or mse.
    #[arg(long)]
    head: Option<Head>,
    /// Mini-batch size.
    #[arg(long)]
    batch_size: Option<usize>,
    /// Worker threads (0: one per core).
    #[arg(long, default_value_t = 0)]
    threads: usize,
    /// Rows per shard (0: the trainer's default).
    #[arg(long, default_value_t = 0)]
    shard_rows: usize,
    /// Seconds of timed windows, after a short warm-up.
    #[arg(long, default_value_t = 5.0)]
    seconds: f64,
    /// Number of timed windows (the median is reported).
    #[arg(long, default_value_t = 7)]
    windows: usize,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
}

#[derive(clap::Args)]
struct TrainArgs {
    /// Hidden layer sizes, comma-separated (input and output sizes come from the data).
    #[arg(long, value_delimiter = ',', default_value = "16")]
    layers: Vec<usize>,
    /// Hidden activation: sigmoid, tanh, relu or identity.
    #[arg(long, default_value = "sigmoid")]
    activation: Activation,
    /// Number of epochs.
    #[arg(long, default_value_t = 30)]
    epochs: usize,
    /// Mini-batch size.
    #[arg(long, default_value_t = 32)]
    batch_size: usize,
    /// SGD learning rate.
    #[arg(long, default_value_t = 0.5)]
    lr: f32,
    /// Worker threads (0: one per core). Changes the speed, never the result.
    #[arg(long, default_value_t = 0)]
    threads: usize,
    /// Rows per shard, the unit of parallel work.
    #[arg(long, default_value_t = 64)]
    shard_rows: usize,
    /// Seed for initialisation and shuffling.
    #[arg(long, default_value_t = 42)]
    seed: u64,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Train(args) => train(&args),
        Command::Bench(args) => bench(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}

fn train(args: &TrainArgs) -> anyhow::Result<()> {
    let (train, test) = embedded::breast_cancer();
    let mut sizes = vec![train.features()];
    sizes.extend(&args.layers);
    sizes.push(train.outputs());
    let hidden = vec![args.activation; args.layers.len()];
    let mut mlp =
        Mlp::new(&sizes, &hidden, Head::SigmoidBce, args.seed).context("building the network")?;
    let cfg = TrainConfig {
        batch_size: args.batch_size,
        lr: args.lr,
        epochs: args.epochs,
        shard_rows: args.shard_rows,
        threads: args.threads,
        seed: args.seed,
        shuffle: true,
    };
    let mut trainer = Trainer::new(&mlp, &cfg)?;
    println!(
        "breast cancer (embedded): {} train / {} test rows, {} features; network {:?}, {} hidden, {} head, {} parameters",
        train.rows(),
        test.rows(),
        train.features(),
        sizes,
        args.activation,
        mlp.head(),
        mlp.num_params()
    );
    println!(
        "batch {}, lr {}, {} threads, shards of {} rows, SIMD: {}",
        cfg.batch_size,
        cfg.lr,
        trainer.threads(),
        trainer.shard_rows(),
        backprop::kernels::simd_width()
    );
    let (mut samples, mut seconds) = (0usize, 0.0f64);
    for epoch in 1..=cfg.epochs {
        let stats = trainer
            .epoch(&mut mlp, &train)
            .with_context(|| format!("epoch {epoch}"))?;
        samples += stats.samples;
        seconds += stats.seconds;
        println!(
            "epoch {epoch:>3}  loss {:.5}  train acc {:6.2}%  test loss {:.5}  test acc {:6.2}%",
            stats.loss,
            100.0 * eval_accuracy(&mlp, &train)?,
            mlp.loss(test.x().as_slice(), test.y().as_slice(), test.rows())?,
            100.0 * eval_accuracy(&mlp, &test)?
        );
    }
    println!(
        "final test accuracy {:.2}%",
        100.0 * eval_accuracy(&mlp, &test)?
    );
    println!(
        "training throughput {:.0} samples/s ({samples} samples in {:.4} s, evaluation excluded)",
        samples as f64 / seconds.max(f64::MIN_POSITIVE),
        seconds
    );
    Ok(())
}

fn bench(args: &BenchArgs) -> anyhow::Result<()> {
    let preset = args.config.as_deref().map(Preset::by_name).transpose()?;
    let missing = |what: &str| anyhow::anyhow!("--{what} is required without --config");
    let spec = BenchSpec {
        sizes: match (&args.layers, preset) {
            (Some(l), _) => l.clone(),
            (None, Some(p)) => p.sizes.to_vec(),
            (None, None) => return Err(missing("layers")),
        },
        activation: args
            .activation
            .or(preset.map(|p| p.activation))
            .ok_or_else(|| missing("activation"))?,
        head: args
            .head
            .or(preset.map(|p| p.head))
            .ok_or_else(|| missing("head"))?,
        batch_size: args
            .batch_size
            .or(preset.map(|p| p.batch))
            .ok_or_else(|| missing("batch-size"))?,
        threads: args.threads,
        shard_rows: args.shard_rows,
        seconds: args.seconds,
        windows: args.windows,
    };
    let r = backprop::bench::run(&spec)?;
    let p = r.profile;
    let total = (p.forward_ns + p.backward_ns + p.reduction_ns + p.update_ns).max(1) as f64;
    let share = |ns: u64| 100.0 * ns as f64 / total;
    if args.json {
        let obj = serde_json::json!({
            "config": preset.map(|p| p.name),
            "layers": spec.sizes,
            "activation": spec.activation.name(),
            "head": spec.head.name(),
            "batch_size": spec.batch_size,
            "threads": r.threads,
            "shard_rows": r.shard_rows,
            "samples_per_sec": r.samples_per_sec,
            "min_samples_per_sec": r.min_samples_per_sec,
            "max_samples_per_sec": r.max_samples_per_sec,
            "gflops": r.gflops,
            "windows": spec.windows,
            "steps": r.steps,
            "time_share_percent": {
                "forward": share(p.forward_ns),
                "backward": share(p.backward_ns),
                "reduction": share(p.reduction_ns),
                "update": share(p.update_ns),
            },
            "peak_rss_bytes": r.peak_rss_bytes,
            "dataset_bytes": r.dataset_bytes,
            "param_bytes": r.param_bytes,
            "simd": backprop::kernels::simd_width(),
        });
        println!("{obj}");
    } else {
        println!(
            "network {:?} {} hidden, {} head, batch {}, {} threads, shards of {} rows",
            spec.sizes, spec.activation, spec.head, spec.batch_size, r.threads, r.shard_rows
        );
        println!(
            "{:.0} samples/s (median of {} windows; min {:.0}, max {:.0}), {:.1} GFLOP/s",
            r.samples_per_sec, spec.windows, r.min_samples_per_sec, r.max_samples_per_sec, r.gflops
        );
        println!(
            "time (summed over threads): forward {:.1}%, backward {:.1}%, reduction {:.1}%, update {:.1}%",
            share(p.forward_ns),
            share(p.backward_ns),
            share(p.reduction_ns),
            share(p.update_ns)
        );
        let mib = |b: u64| b as f64 / (1024.0 * 1024.0);
        match r.peak_rss_bytes {
            Some(rss) => println!(
                "peak RSS {:.1} MiB (synthetic data {:.1} MiB, parameters {:.1} MiB: {:.1}× the parameters without the data)",
                mib(rss),
                mib(r.dataset_bytes),
                mib(r.param_bytes),
                rss.saturating_sub(r.dataset_bytes) as f64 / r.param_bytes as f64
            ),
            None => println!("peak RSS unknown on this system"),
        }
    }
    Ok(())
}

fn eval_accuracy(mlp: &Mlp, data: &Dataset) -> anyhow::Result<f64> {
    let out = mlp.predict(data.x().as_slice(), data.rows())?;
    Ok(accuracy(
        &out,
        data.labels().context("classification data has labels")?,
    ))
}
