//! The three training GEMMs of every preset through the engine's wrappers
//! (`forward`: Z = A·Wᵀ + Z, `weight_grad`: dW = dZᵀ·A, `input_delta`:
//! dA = dZ·W), one shard's worth of rows (the trainer's default shard size,
//! capped by the batch). `Throughput::Elements` is the FLOP count `2·m·k·n`,
//! so criterion's "elem/s" reads as FLOP/s.
//!
//! `gemm_fused/{preset}/{separate,fused}/K`: the first layer of K members
//! that read the same rows, as K GEMMs `A·W_kᵀ` or as one `A·[W_1|…|W_K]ᵀ`
//! (issue 21 asked whether the many-models trainer should fuse them). The
//! setup checks that the fused product's columns are each member's, to the
//! bit; only the time is in question.
//!
//! `cargo bench --bench gemm`

use std::hint::black_box;
use std::time::Duration;

use backprop::kernels::gemm::{forward, input_delta, weight_grad};
use backprop::presets::PRESETS;
use backprop::TrainConfig;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};

fn filled(len: usize, seed: u32) -> Vec<f32> {
    (0..len)
        .map(|i| {
            ((i as u32).wrapping_mul(2_654_435_761).wrapping_add(seed) >> 8) as f32
                / (1u32 << 24) as f32
                - 0.5
        })
        .collect()
}

fn gemm(c: &mut Criterion) {
    for preset in &PRESETS {
        let m = TrainConfig {
            batch_size: preset.batch,
            ..TrainConfig::default()
        }
        .effective_shard_rows();
        let mut group = c.benchmark_group(format!("gemm/{}", preset.name));
        group
            .warm_up_time(Duration::from_millis(300))
            .measurement_time(Duration::from_secs(1))
            .sample_size(20);
        let mut seen = Vec::new();
        for (l, pair) in preset.sizes.windows(2).enumerate() {
            let (k, n) = (pair[0], pair[1]);
            if seen.contains(&(k, n)) {
                continue; // identical shapes (L's hidden layers) measured once
            }
            seen.push((k, n));
            let a = filled(m * k, 1);
            let w = filled(n * k, 2);
            let dz = filled(m * n, 3);
            let mut z = vec![0.0f32; m * n];
            let mut dw = vec![0.0f32; n * k];
            let mut da = vec![0.0f32; m * k];
            let flops = (2 * m * k * n) as u64;
            let shape = format!("{m}x{k}x{n}");
            group.throughput(Throughput::Elements(flops));
            group.bench_function(BenchmarkId::new("forward", &shape), |b| {
                b.iter(|| forward(black_box(&a), m, k, black_box(&w), n, &mut z).unwrap())
            });
            group.bench_function(BenchmarkId::new("weight_grad", &shape), |b| {
                b.iter(|| weight_grad(black_box(&dz), m, n, black_box(&a), k, &mut dw).unwrap())
            });
            if l > 0 {
                group.bench_function(BenchmarkId::new("input_delta", &shape), |b| {
                    b.iter(|| input_delta(black_box(&dz), m, n, black_box(&w), k, &mut da).unwrap())
                });
            }
        }
        group.finish();
    }
}

/// The first layer of `k` members: K separate forward GEMMs against one fused
/// GEMM over the stacked weights (rows of `W` are outputs, so stacking the
/// members' matrices is concatenating them).
fn fused(c: &mut Criterion) {
    for preset in PRESETS.iter().filter(|p| p.name == "T" || p.name == "M") {
        let m = TrainConfig {
            batch_size: preset.batch,
            ..TrainConfig::default()
        }
        .effective_shard_rows();
        let (k_in, n) = (preset.sizes[0], preset.sizes[1]);
        let mut group = c.benchmark_group(format!("gemm_fused/{}", preset.name));
        group
            .warm_up_time(Duration::from_millis(300))
            .measurement_time(Duration::from_secs(1))
            .sample_size(20);
        for members in [4usize, 16] {
            let a = filled(m * k_in, 1);
            let ws: Vec<Vec<f32>> = (0..members)
                .map(|j| filled(n * k_in, 2 + j as u32))
                .collect();
            let stacked: Vec<f32> = ws.concat();
            let mut zs = vec![vec![0.0f32; m * n]; members];
            let mut z = vec![0.0f32; m * n * members];
            for (w, zj) in ws.iter().zip(&mut zs) {
                forward(&a, m, k_in, w, n, zj).unwrap();
            }
            forward(&a, m, k_in, &stacked, n * members, &mut z).unwrap();
            for (j, zj) in zs.iter().enumerate() {
                for r in 0..m {
                    let fused_row = &z[r * n * members + j * n..][..n];
                    let alone = &zj[r * n..][..n];
                    assert!(
                        fused_row
                            .iter()
                            .zip(alone)
                            .all(|(x, y)| x.to_bits() == y.to_bits()),
                        "fused columns differ from member {j}'s own product"
                    );
                }
            }
            group.throughput(Throughput::Elements((2 * m * k_in * n * members) as u64));
            group.bench_function(BenchmarkId::new("separate", members), |b| {
                b.iter(|| {
                    for (w, zj) in ws.iter().zip(&mut zs) {
                        forward(black_box(&a), m, k_in, black_box(w), n, zj).unwrap();
                    }
                })
            });
            group.bench_function(BenchmarkId::new("fused", members), |b| {
                b.iter(|| {
                    forward(
                        black_box(&a),
                        m,
                        k_in,
                        black_box(&stacked),
                        n * members,
                        &mut z,
                    )
                    .unwrap()
                })
            });
        }
        group.finish();
    }
}

criterion_group!(benches, gemm, fused);
criterion_main!(benches);
