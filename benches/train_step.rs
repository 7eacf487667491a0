//! One full training step (forward, backward, reduction, update) for each
//! preset (T, M, B, L), at 1 thread and at all threads, with plain SGD (ids
//! `threads/N`); for M also with Adam (ids `adam/threads/N`), whose update
//! reads and writes two more state vectors.
//!
//! `cargo bench --bench train_step`; criterion reports samples/s
//! (`Throughput::Elements` = the batch size).

use std::hint::black_box;
use std::time::Duration;

use backprop::optim::{OptimizerConfig, OptimizerKind};
use backprop::presets::{synthetic, PRESETS};
use backprop::{TrainConfig, Trainer};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};

fn train_step(c: &mut Criterion) {
    let all = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut threads = vec![1];
    if all > 1 {
        threads.push(all);
    }
    for preset in &PRESETS {
        let mut group = c.benchmark_group(format!("train_step/{}", preset.name));
        group
            .throughput(Throughput::Elements(preset.batch as u64))
            .warm_up_time(Duration::from_millis(500))
            .measurement_time(Duration::from_secs(if preset.name == "L" { 4 } else { 2 }))
            .sample_size(20);
        let (x, y) = synthetic(preset.sizes, preset.head, preset.batch, 1);
        let adam = OptimizerConfig {
            kind: OptimizerKind::Adam,
            ..OptimizerConfig::default()
        };
        let mut rules = vec![("threads", OptimizerConfig::default())];
        if preset.name == "M" {
            rules.push(("adam/threads", adam));
        }
        for (id, optimizer) in rules {
            for &t in &threads {
                let mut mlp = preset.network(0);
                let cfg = TrainConfig {
                    batch_size: preset.batch,
                    lr: 1e-3,
                    threads: t,
                    optimizer,
                    ..TrainConfig::default()
                };
                let mut trainer = Trainer::new(&mlp, &cfg).expect("valid config");
                let pool = trainer.pool();
                group.bench_with_input(BenchmarkId::new(id, t), &t, |b, _| {
                    pool.install(|| {
                        b.iter(|| {
                            black_box(
                                trainer
                                    .step(&mut mlp, &x, &y, preset.batch)
                                    .expect("finite loss"),
                            )
                        })
                    })
                });
            }
        }
        group.finish();
    }
}

criterion_group!(benches, train_step);
criterion_main!(benches);
