//! The `backprop` command line: flags → `TrainConfig` → the library. No math here.

use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};

use backprop::data::{accuracy, embedded};
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

fn eval_accuracy(mlp: &Mlp, data: &Dataset) -> anyhow::Result<f64> {
    let out = mlp.predict(data.x().as_slice(), data.rows())?;
    Ok(accuracy(
        &out,
        data.labels().context("classification data has labels")?,
    ))
}
