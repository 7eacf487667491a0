//! Reading CSV text into a table: `csv::parse_bytes` on a generated
//! MNIST-like file (pixel integers and a label, 785 columns) and on a
//! tabular file of decimals, both unquoted (parsed in parallel pieces) and
//! with every field quoted (one sequential piece). `Throughput::Bytes`, so
//! criterion reports MB/s of input.
//!
//! `cargo bench --bench csv_load`

use std::hint::black_box;
use std::time::Duration;

use backprop::data::{csv, LoadOptions};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};

/// A CSV text of `rows` rows: `cols` feature columns written by `field`,
/// then a label column.
fn table(rows: usize, cols: usize, quoted: bool, field: impl Fn(usize) -> String) -> String {
    let q = if quoted { "\"" } else { "" };
    let mut text: String = (0..cols).map(|c| format!("{q}f{c}{q},")).collect();
    text += &format!("{q}label{q}\n");
    let mut k = 0usize;
    for r in 0..rows {
        for _ in 0..cols {
            k = k
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            text += q;
            text += &field(k >> 33);
            text += q;
            text.push(',');
        }
        text += &format!("{q}{}{q}\n", r % 10);
    }
    text
}

fn csv_load(c: &mut Criterion) {
    let pixels = |k: usize| {
        // mostly zeros, as in MNIST
        if k % 5 < 3 {
            "0".to_string()
        } else {
            (k % 256).to_string()
        }
    };
    let decimals = |k: usize| format!("{:.6}", (k % 1_000_000) as f64 / 1000.0 - 500.0);
    let cases = [
        ("pixels", table(4000, 784, false, pixels)),
        ("decimals", table(40_000, 30, false, decimals)),
        ("decimals_quoted", table(40_000, 30, true, decimals)),
    ];
    let mut group = c.benchmark_group("csv_parse");
    group
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3))
        .sample_size(10);
    let opts = LoadOptions::default();
    for (name, text) in &cases {
        group.throughput(Throughput::Bytes(text.len() as u64));
        group.bench_with_input(BenchmarkId::new(*name, text.len()), text, |b, text| {
            b.iter(|| csv::parse_bytes(black_box(text.as_bytes()), "bench.csv", &opts).unwrap())
        });
    }
    group.finish();
}

criterion_group!(benches, csv_load);
criterion_main!(benches);
