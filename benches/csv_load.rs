//! Reading CSV text into a table: `csv::parse_bytes` on a generated
//! MNIST-like file (pixel integers and a label, 785 columns) and on a
//! tabular file of decimals, both unquoted (parsed in parallel pieces) and
//! with every field quoted (one sequential piece). `Throughput::Bytes`, so
//! criterion reports MB/s of input.
//!
//! `csv_typed`: loading and preparing a table of 1 000 000 rows × 20
//! feature columns, 5 of them text (categories of 4 to 60 levels, a yes/no
//! column, gaps in a number and a text column), against its numeric-only
//! equivalent (each text replaced by a number): the target is a
//! ratio of at most 1.5. `BACKPROP_BENCH_ROWS` changes the row count.
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

/// The typed table and its numeric-only equivalent, `rows` rows each:
/// 15 decimals, then 5 text columns (`typed`) or their codes as numbers.
fn typed_tables(rows: usize) -> (String, String) {
    let levels = [4usize, 12, 60, 2, 7];
    let mut typed = String::new();
    let mut numeric = String::new();
    let header: Vec<String> = (0..20).map(|c| format!("f{c}")).collect();
    for t in [&mut typed, &mut numeric] {
        t.push_str(&header.join(","));
        t.push_str(",label\n");
    }
    let mut k = 0usize;
    for r in 0..rows {
        for c in 0..20 {
            k = k
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            let u = k >> 33;
            if c < 15 {
                let v = if c == 3 && u % 17 == 0 {
                    String::new()
                } else {
                    format!("{:.4}", (u % 1_000_000) as f64 / 1000.0 - 500.0)
                };
                typed.push_str(&v);
                numeric.push_str(if v.is_empty() { "0" } else { &v });
            } else {
                let n = levels[c - 15];
                let code = u % n;
                let text = match (c, code) {
                    (18, 0) => "yes".to_string(),
                    (18, _) => "no".to_string(),
                    (19, _) if u % 23 == 0 => String::new(),
                    _ => format!("level_{c}_{code}"),
                };
                typed.push_str(&text);
                numeric.push_str(&code.to_string());
            }
            typed.push(',');
            numeric.push(',');
        }
        for t in [&mut typed, &mut numeric] {
            t.push_str(&format!("{}\n", r % 3));
        }
    }
    (typed, numeric)
}

fn csv_typed(c: &mut Criterion) {
    let rows = std::env::var("BACKPROP_BENCH_ROWS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(1_000_000);
    let (typed, numeric) = typed_tables(rows);
    let mut group = c.benchmark_group("csv_typed");
    group
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(10))
        .sample_size(10);
    let opts = LoadOptions::default();
    for (name, text) in [("numeric_equivalent", &numeric), ("typed", &typed)] {
        group.throughput(Throughput::Elements(rows as u64));
        group.bench_with_input(BenchmarkId::new(name, rows), text, |b, text| {
            b.iter(|| csv::parse_bytes(black_box(text.as_bytes()), "bench.csv", &opts).unwrap())
        });
    }
    group.finish();
}

criterion_group!(benches, csv_load, csv_typed);
criterion_main!(benches);
