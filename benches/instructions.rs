//! Instruction counts, which the machine's noise does not move: valgrind's
//! callgrind (through gungraun) counts what one call executes; inputs are made
//! in untimed setup functions. Group `kernels`: each activation, head and
//! reduction kernel of `kernels::simd` once on about 10 000 values (10 003
//! for element-wise ones, not a multiple of 8, so the padded tail runs; whole
//! rows for row kernels). Group `steps`: one training step of T, M and B
//! (plain SGD, 1 thread, after one warm-up step in the setup).
//!
//! Valgrind cannot decode AVX-512, so build this bench for `x86-64-v3` (AVX2 +
//! FMA), in its own target directory; `benches/instructions.sh` does that and
//! installs the matching `gungraun-runner`:
//!
//! ```sh
//! bash benches/instructions.sh            # all
//! bash benches/instructions.sh '*::steps::*'   # a filter (gungraun wildcard)
//! ```
//!
//! A plain `cargo bench` on a CPU with AVX-512 builds it with
//! `target-cpu=native`, and it only says so and exits.
//!
//! `benches/compare-revs.sh` copies this file into both revisions it compares,
//! so it uses only long-stable API (`Trainer::new`/`step`, `presets`,
//! `kernels::simd`) and no RNG crate.

// Under AVX-512 `main` only says why it skips: the benchmarks go unused.
#![cfg_attr(target_feature = "avx512f", allow(dead_code, unused_imports))]

use std::hint::black_box;

use backprop::kernels::simd;
use backprop::presets::{synthetic, Preset};
use backprop::{Mlp, TrainConfig, Trainer};
use gungraun::{
    library_benchmark, library_benchmark_group, main, Callgrind, EntryPoint, LibraryBenchmarkConfig,
};

/// Values per element-wise kernel call: not a multiple of 8.
const LEN: usize = 10_003;
/// Columns of the softmax rows: an M or L output layer.
const CLASSES: usize = 10;
/// Columns of the bias and column-sum rows: an M or B hidden layer.
const WIDTH: usize = 256;

/// `n` values uniform in `[lo, hi)` from a fixed xorshift sequence: the same
/// inputs in every revision, whatever its RNG crates.
fn uniform(seed: u64, n: usize, lo: f32, hi: f32) -> Vec<f32> {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            lo + (hi - lo) * ((s >> 40) as f32 / (1u64 << 24) as f32)
        })
        .collect()
}

/// One-hot targets for `rows` rows of `cols` classes.
fn one_hot(rows: usize, cols: usize) -> Vec<f32> {
    let mut y = vec![0.0; rows * cols];
    for r in 0..rows {
        y[r * cols + (r * 7 + 3) % cols] = 1.0;
    }
    y
}

/// `len` values in [-6, 6): where sigmoid and tanh are not yet flat.
fn one(len: usize) -> Vec<f32> {
    uniform(1, len, -6.0, 6.0)
}

/// `len` values in [-6, 6) and `len` in [0, 1) (activations, targets).
fn two(len: usize) -> (Vec<f32>, Vec<f32>) {
    (uniform(1, len, -6.0, 6.0), uniform(2, len, 0.0, 1.0))
}

/// Whole rows of `cols` values, at most `LEN` of them, and `cols`.
fn rows(cols: usize) -> (Vec<f32>, usize) {
    (uniform(3, LEN / cols * cols, -6.0, 6.0), cols)
}

/// Rows of `cols` values and a row (the bias, or the sums' output).
fn rows_and_row(cols: usize) -> (Vec<f32>, Vec<f32>) {
    (rows(cols).0, uniform(4, cols, -1.0, 1.0))
}

/// Logit rows of `cols` classes and their one-hot targets.
fn logits(cols: usize) -> (Vec<f32>, Vec<f32>, usize) {
    let (z, cols) = rows(cols);
    let y = one_hot(z.len() / cols, cols);
    (z, y, cols)
}

#[library_benchmark]
#[bench::n10003(args = (LEN), setup = one)]
fn sigmoid(mut x: Vec<f32>) -> Vec<f32> {
    simd::sigmoid_simd(black_box(&mut x));
    x
}

#[library_benchmark]
#[bench::n10003(args = (LEN), setup = one)]
fn tanh(mut x: Vec<f32>) -> Vec<f32> {
    simd::tanh_simd(black_box(&mut x));
    x
}

#[library_benchmark]
#[bench::n10003(args = (LEN), setup = one)]
fn relu(mut x: Vec<f32>) -> Vec<f32> {
    simd::relu_simd(black_box(&mut x));
    x
}

#[library_benchmark]
#[bench::n10003(args = (LEN), setup = two)]
fn sigmoid_backward((a, mut d): (Vec<f32>, Vec<f32>)) -> Vec<f32> {
    simd::sigmoid_backward_simd(black_box(&a), black_box(&mut d));
    d
}

#[library_benchmark]
#[bench::n10003(args = (LEN), setup = two)]
fn tanh_backward((a, mut d): (Vec<f32>, Vec<f32>)) -> Vec<f32> {
    simd::tanh_backward_simd(black_box(&a), black_box(&mut d));
    d
}

#[library_benchmark]
#[bench::n10003(args = (LEN), setup = two)]
fn relu_backward((a, mut d): (Vec<f32>, Vec<f32>)) -> Vec<f32> {
    simd::relu_backward_simd(black_box(&a), black_box(&mut d));
    d
}

#[library_benchmark]
#[bench::n9984(args = (WIDTH), setup = rows_and_row)]
fn bias_rows((mut z, b): (Vec<f32>, Vec<f32>)) -> Vec<f32> {
    simd::bias_rows_simd(black_box(&b), black_box(&mut z));
    z
}

#[library_benchmark]
#[bench::n9984(args = (WIDTH), setup = rows_and_row)]
fn col_sums((x, mut out): (Vec<f32>, Vec<f32>)) -> Vec<f32> {
    simd::col_sums_simd(black_box(&x), black_box(&mut out));
    out
}

#[library_benchmark]
#[bench::n10000(args = (CLASSES), setup = rows)]
fn softmax_rows((mut z, cols): (Vec<f32>, usize)) -> Vec<f32> {
    simd::softmax_rows_simd(black_box(&mut z), cols);
    z
}

#[library_benchmark]
#[bench::n10000(args = (CLASSES), setup = logits)]
fn softmax_ce_head((mut z, y, cols): (Vec<f32>, Vec<f32>, usize)) -> f64 {
    simd::softmax_ce_head_simd(black_box(&mut z), black_box(&y), cols)
}

#[library_benchmark]
#[bench::n10003(args = (LEN), setup = two)]
fn bce_head((mut z, y): (Vec<f32>, Vec<f32>)) -> f64 {
    simd::bce_head_simd(black_box(&mut z), black_box(&y))
}

#[library_benchmark]
#[bench::n10003(args = (LEN), setup = two)]
fn mse_head((mut z, y): (Vec<f32>, Vec<f32>)) -> f64 {
    simd::mse_head_simd(black_box(&mut z), black_box(&y))
}

#[library_benchmark]
#[bench::n10003(args = (LEN), setup = two)]
fn axpy((x, mut y): (Vec<f32>, Vec<f32>)) -> Vec<f32> {
    simd::axpy_simd(black_box(-1e-3), black_box(&x), black_box(&mut y));
    y
}

#[library_benchmark]
#[bench::n10003(args = (LEN), setup = two)]
fn add_assign((src, mut dst): (Vec<f32>, Vec<f32>)) -> Vec<f32> {
    simd::add_assign_simd(black_box(&mut dst), black_box(&src));
    dst
}

library_benchmark_group!(
    name = kernels,
    benchmarks = [
        sigmoid,
        tanh,
        relu,
        sigmoid_backward,
        tanh_backward,
        relu_backward,
        bias_rows,
        col_sums,
        softmax_rows,
        softmax_ce_head,
        bce_head,
        mse_head,
        axpy,
        add_assign
    ]
);

/// A preset's network, trainer (1 thread, plain SGD at 1e-3) and one batch,
/// after one warm-up step.
struct Step {
    mlp: Mlp,
    trainer: Trainer,
    x: Vec<f32>,
    y: Vec<f32>,
    batch: usize,
}

fn step_setup(name: &str) -> Step {
    let preset = Preset::by_name(name).expect("a preset");
    let mut mlp = preset.network(0);
    let cfg = TrainConfig {
        batch_size: preset.batch,
        lr: 1e-3,
        threads: 1,
        ..TrainConfig::default()
    };
    let mut trainer = Trainer::new(&mlp, &cfg).expect("valid config");
    let (x, y) = synthetic(preset.sizes, preset.head, preset.batch, 1);
    trainer
        .step(&mut mlp, &x, &y, preset.batch)
        .expect("finite loss");
    Step {
        mlp,
        trainer,
        x,
        y,
        batch: preset.batch,
    }
}

/// The step runs on the trainer's rayon worker (one thread: nothing is
/// stolen, so the job is entered once per step and never nested), and
/// callgrind switches counting on and off per thread: count the worker inside
/// the job it runs, and not the main thread, whose hand-over and wait cost a
/// few hundred instructions more or less depending on when the worker
/// answers (±0.2% of T's step when the machine is busy).
fn worker_only() -> LibraryBenchmarkConfig {
    LibraryBenchmarkConfig::default()
        .tool(Callgrind::default().entry_point(EntryPoint::Custom(
            "<rayon_core::job::StackJob<*> as rayon_core::job::Job>::execute".to_string(),
        )))
        .clone()
}

#[library_benchmark(config = worker_only())]
#[bench::t(args = ("T"), setup = step_setup)]
#[bench::m(args = ("M"), setup = step_setup)]
#[bench::b(args = ("B"), setup = step_setup)]
fn train_step(mut s: Step) -> f64 {
    black_box(
        s.trainer
            .step(&mut s.mlp, black_box(&s.x), black_box(&s.y), s.batch)
            .expect("finite loss"),
    )
}

library_benchmark_group!(name = steps, benchmarks = [train_step]);

#[cfg(not(target_feature = "avx512f"))]
main!(library_benchmark_groups = [kernels, steps]);

#[cfg(target_feature = "avx512f")]
fn main() {
    eprintln!(
        "benches/instructions.rs: built with AVX-512, which valgrind cannot run; \
         skipped. Run `bash benches/instructions.sh` (an x86-64-v3 build)."
    );
}
