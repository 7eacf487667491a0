//! Every SIMD kernel beside its scalar reference: a group per kernel,
//! `BenchmarkId("simd" | "scalar", elements)`, `Throughput::Elements`.
//!
//! Element-wise kernels run on 1_000, 100_003 and 1_000_003 values (not
//! multiples of 8, so the padded tail is always exercised). Row kernels use
//! whole rows — 10 columns for softmax and softmax + CE, 256 for bias and
//! column sums — as many as fit in those lengths; their ids carry the actual
//! element count.
//!
//! Kernels that overwrite their input get a fresh copy for every call
//! (`iter_batched_ref`, copies made outside the timed region), so repeated
//! calls never drift into subnormals or infinities (repeated derivatives would
//! shrink `d` towards zero, repeated `axpy` would grow `y`).
//!
//! The group `optimizer_update` times the SGD (with weight decay) and Adam
//! kernels on one network-sized vector of 235_149 parameters (ids
//! `sgd/simd`, `sgd/scalar`, `adam/simd`, `adam/scalar`), each call on fresh
//! copies of the parameters and state.
//!
//! Quick run: `cargo bench --bench kernels -- --quick`; one kernel:
//! `cargo bench --bench kernels -- sigmoid/`.

use std::hint::black_box;
use std::time::Duration;

use backprop::kernels::{scalar, simd, AdamHyper, SgdHyper};
use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion, Throughput};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

const LENS: [usize; 3] = [1_000, 100_003, 1_000_003];

/// `n` values uniform in `[lo, hi)` from a seeded RNG.
fn uniform(seed: u64, n: usize, lo: f32, hi: f32) -> Vec<f32> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..n).map(|_| rng.random_range(lo..hi)).collect()
}

/// Fresh copies per timed batch: up to 256 KiB of them (so short inputs stay
/// in L2 and the timer is not read around every call), one for long inputs.
fn batch(len: usize) -> BatchSize {
    BatchSize::NumIterations(((1usize << 18) / (4 * len.max(1))).clamp(1, 64) as u64)
}

/// One group `name`: for each length, `setup(len)` makes the read-only inputs
/// and the buffer the kernel writes; each call gets a fresh copy of the buffer.
/// `elements` is the number of values processed, for the throughput.
fn in_place<S>(
    c: &mut Criterion,
    name: &str,
    setup: impl Fn(usize) -> (S, Vec<f32>),
    elements: impl Fn(&S, &[f32]) -> usize,
    simd_fn: impl Fn(&S, &mut [f32]),
    scalar_fn: impl Fn(&S, &mut [f32]),
) {
    let mut group = c.benchmark_group(name);
    for len in LENS {
        let (shared, buf) = setup(len);
        let n = elements(&shared, &buf);
        group.throughput(Throughput::Elements(n as u64));
        group.bench_with_input(BenchmarkId::new("simd", n), &buf, |b, buf| {
            b.iter_batched_ref(
                || buf.clone(),
                |v| simd_fn(black_box(&shared), black_box(v)),
                batch(buf.len()),
            )
        });
        group.bench_with_input(BenchmarkId::new("scalar", n), &buf, |b, buf| {
            b.iter_batched_ref(
                || buf.clone(),
                |v| scalar_fn(black_box(&shared), black_box(v)),
                batch(buf.len()),
            )
        });
    }
    group.finish();
}

fn same_len<S>(_: &S, buf: &[f32]) -> usize {
    buf.len()
}

fn activations(c: &mut Criterion) {
    let x = |len| ((), uniform(1, len, -8.0, 8.0));
    in_place(
        c,
        "sigmoid",
        x,
        same_len,
        |_, v| simd::sigmoid_simd(v),
        |_, v| scalar::sigmoid_scalar(v),
    );
    in_place(
        c,
        "tanh",
        x,
        same_len,
        |_, v| simd::tanh_simd(v),
        |_, v| scalar::tanh_scalar(v),
    );
    in_place(
        c,
        "relu",
        x,
        same_len,
        |_, v| simd::relu_simd(v),
        |_, v| scalar::relu_scalar(v),
    );
}

fn derivatives(c: &mut Criterion) {
    // `a` is the activation's output, as in training; `d` the incoming delta
    let with = |f: fn(&mut [f32])| {
        move |len| {
            let mut a = uniform(2, len, -4.0, 4.0);
            f(&mut a);
            (a, uniform(3, len, -1.0, 1.0))
        }
    };
    in_place(
        c,
        "sigmoid_backward",
        with(scalar::sigmoid_scalar),
        same_len,
        |a, d| simd::sigmoid_backward_simd(a, d),
        |a, d| scalar::sigmoid_backward_scalar(a, d),
    );
    in_place(
        c,
        "tanh_backward",
        with(scalar::tanh_scalar),
        same_len,
        |a, d| simd::tanh_backward_simd(a, d),
        |a, d| scalar::tanh_backward_scalar(a, d),
    );
    in_place(
        c,
        "relu_backward",
        with(scalar::relu_scalar),
        same_len,
        |a, d| simd::relu_backward_simd(a, d),
        |a, d| scalar::relu_backward_scalar(a, d),
    );
}

/// Columns of the softmax rows.
const CLASSES: usize = 10;

fn softmax_and_heads(c: &mut Criterion) {
    in_place(
        c,
        "softmax_rows",
        |len| ((), uniform(4, len / CLASSES * CLASSES, -6.0, 6.0)),
        same_len,
        |_, z| simd::softmax_rows_simd(z, CLASSES),
        |_, z| scalar::softmax_rows_scalar(z, CLASSES),
    );

    // logits and 0/1 targets
    let binary = |len| {
        let y = uniform(5, len, 0.0, 1.0)
            .into_iter()
            .map(|v| if v < 0.5 { 0.0 } else { 1.0 })
            .collect::<Vec<f32>>();
        (y, uniform(6, len, -6.0, 6.0))
    };
    in_place(
        c,
        "bce_head",
        binary,
        same_len,
        |y, z| {
            black_box(simd::bce_head_simd(z, y));
        },
        |y, z| {
            black_box(scalar::bce_head_scalar(z, y));
        },
    );

    // logits and one-hot rows of CLASSES
    let one_hot = |len: usize| {
        let rows = len / CLASSES;
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let mut y = vec![0.0f32; rows * CLASSES];
        for row in y.chunks_exact_mut(CLASSES) {
            row[rng.random_range(0..CLASSES)] = 1.0;
        }
        (y, uniform(8, rows * CLASSES, -6.0, 6.0))
    };
    in_place(
        c,
        "softmax_ce_head",
        one_hot,
        same_len,
        |y, z| {
            black_box(simd::softmax_ce_head_simd(z, y, CLASSES));
        },
        |y, z| {
            black_box(scalar::softmax_ce_head_scalar(z, y, CLASSES));
        },
    );

    in_place(
        c,
        "mse_head",
        |len| (uniform(9, len, -1.0, 1.0), uniform(10, len, -2.0, 2.0)),
        same_len,
        |y, z| {
            black_box(simd::mse_head_simd(z, y));
        },
        |y, z| {
            black_box(scalar::mse_head_scalar(z, y));
        },
    );
}

/// Row length of the bias and column-sum benchmarks (a hidden layer's width).
const WIDTH: usize = 256;

fn rows(c: &mut Criterion) {
    // Z (rows × WIDTH) overwritten with the bias row
    in_place(
        c,
        "bias_rows",
        |len| {
            (
                uniform(11, WIDTH, -0.1, 0.1),
                vec![0.0; len / WIDTH * WIDTH],
            )
        },
        same_len,
        |b, z| simd::bias_rows_simd(b, z),
        |b, z| scalar::bias_rows_scalar(b, z),
    );
    // out (WIDTH) overwritten with the column sums of X (rows × WIDTH)
    in_place(
        c,
        "col_sums",
        |len| {
            (
                uniform(12, len / WIDTH * WIDTH, -1.0, 1.0),
                vec![0.0; WIDTH],
            )
        },
        |x, _| x.len(),
        |x, out| simd::col_sums_simd(x, out),
        |x, out| scalar::col_sums_scalar(x, out),
    );
}

fn updates(c: &mut Criterion) {
    let pair = |len| (uniform(13, len, -1.0, 1.0), uniform(14, len, -1.0, 1.0));
    in_place(
        c,
        "axpy",
        pair,
        same_len,
        |x, y| simd::axpy_simd(-1e-3, x, y),
        |x, y| scalar::axpy_scalar(-1e-3, x, y),
    );
    in_place(
        c,
        "add_assign",
        pair,
        same_len,
        |src, dst| simd::add_assign_simd(dst, src),
        |src, dst| scalar::add_assign_scalar(dst, src),
    );
}

/// Parameters of the optimizer benchmark: a network's worth (235 146) plus 3,
/// so the padded tail runs.
const OPT_LEN: usize = 235_146 + 3;

fn optimizer_update(c: &mut Criterion) {
    let n = OPT_LEN;
    let g = uniform(15, n, -1.0, 1.0);
    let w = uniform(16, n, -1.0, 1.0);
    let m = uniform(17, n, -0.1, 0.1);
    let v = uniform(18, n, 0.0, 0.01);
    let sgd = SgdHyper {
        lr: 1e-2,
        grad_scale: 1.0 / 64.0,
        weight_decay: 1e-4,
    };
    let adam = AdamHyper {
        lr: 1e-3,
        grad_scale: 1.0 / 64.0,
        weight_decay: 1e-2,
        beta1: 0.9,
        beta2: 0.999,
        eps: 1e-8,
        bias_correction1: 0.5,
        bias_correction2_sqrt: 0.2,
        decoupled: true,
    };
    let mut group = c.benchmark_group("optimizer_update");
    group.throughput(Throughput::Elements(n as u64));
    type Sgd = fn(&mut [f32], &[f32], SgdHyper);
    let sgd_impls: [(&str, Sgd); 2] = [
        ("sgd/simd", simd::sgd_simd),
        ("sgd/scalar", scalar::sgd_scalar),
    ];
    for (id, f) in sgd_impls {
        group.bench_function(BenchmarkId::new(id, n), |b| {
            b.iter_batched_ref(
                || w.clone(),
                |w| f(black_box(w), black_box(&g), sgd),
                batch(n),
            )
        });
    }
    type Adam = fn(&mut [f32], &[f32], &mut [f32], &mut [f32], AdamHyper);
    let adam_impls: [(&str, Adam); 2] = [
        ("adam/simd", simd::adam_simd),
        ("adam/scalar", scalar::adam_scalar),
    ];
    for (id, f) in adam_impls {
        group.bench_function(BenchmarkId::new(id, n), |b| {
            b.iter_batched_ref(
                || (w.clone(), m.clone(), v.clone()),
                |(w, m, v)| f(black_box(w), black_box(&g), m, v, adam),
                batch(n),
            )
        });
    }
    group.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(1))
        .sample_size(20)
}

criterion_group! {
    name = kernels;
    config = config();
    targets = activations, derivatives, softmax_and_heads, rows, updates, optimizer_update
}
criterion_main!(kernels);
