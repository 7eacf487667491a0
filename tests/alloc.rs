//! No heap allocation per training step after the first.
//!
//! A counting global allocator sees every allocation of every thread. The
//! only allocations allowed during a step are `matrixmultiply`'s: each `sgemm`
//! call with non-empty operands allocates one packing buffer (the crate has no
//! API to pass one in). A step makes exactly `shards × (3L - 1)` such calls
//! (L forward, L weight-gradient and L - 1 delta GEMMs per shard), so the test
//! demands exactly that count: one allocation more, from our code or from
//! rayon, fails it.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicU64, Ordering};

use backprop::{Activation, Dataset, Head, Matrix, Mlp, TrainConfig, Trainer};

struct Counting;

static ALLOCS: AtomicU64 = AtomicU64::new(0);

// SAFETY: forwards every call unchanged to the system allocator; the counter
// has no effect on the memory handed out.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as our caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as our caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as our caller's.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as our caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn data(rows: usize, n_in: usize, n_out: usize) -> (Vec<f32>, Vec<f32>) {
    let x = (0..rows * n_in)
        .map(|i| ((i * 37 % 101) as f32 / 50.0) - 1.0)
        .collect();
    let y = (0..rows)
        .flat_map(|r| (0..n_out).map(move |c| if r % n_out == c { 1.0 } else { 0.0 }))
        .collect();
    (x, y)
}

/// One test function: the counter is process-wide, so checks must not overlap.
#[test]
fn steps_and_epochs_allocate_only_matrixmultiply_packing_buffers() {
    let sizes = [20, 48, 24, 10];
    let layers = sizes.len() - 1;
    let gemms_per_shard = (3 * layers - 1) as u64;
    // Trainers stay alive to the end: a dropped pool's threads exit
    // asynchronously, and their exit (thread-local destructors) allocates.
    let mut keep = Vec::new();
    for (threads, shard_rows) in [(1, 64), (2, 16), (3, 7)] {
        let mut mlp = Mlp::new(
            &sizes,
            &[Activation::Relu, Activation::Tanh],
            Head::SoftmaxCe,
            1,
        )
        .unwrap();
        let cfg = TrainConfig {
            batch_size: 64,
            lr: 0.05,
            shard_rows,
            threads,
            ..TrainConfig::default()
        };
        let mut trainer = Trainer::new(&mlp, &cfg).unwrap();
        let (x, y) = data(64, 20, 10);
        let shards = 64usize.div_ceil(shard_rows) as u64;
        let pool = trainer.pool();
        // every worker thread has started (thread start-up allocates)
        pool.broadcast(|_| ());

        // Steps on contiguous batches, run inside the trainer's pool (as
        // `Trainer::epoch` does) so that entering the pool is not counted.
        let (counted, steps) = pool.install(|| {
            // warm-up: every worker has stolen work (and set up its per-thread
            // state in rayon) before counting starts
            for _ in 0..20 {
                trainer.step(&mut mlp, &x, &y, 64).unwrap();
            }
            let before = ALLOCS.load(Ordering::SeqCst);
            for _ in 0..50 {
                trainer.step(&mut mlp, &x, &y, 64).unwrap();
            }
            (ALLOCS.load(Ordering::SeqCst) - before, 50u64)
        });
        assert_eq!(
            counted,
            steps * shards * gemms_per_shard,
            "threads {threads}, shards {shards}: {counted} allocations in {steps} steps; \
             expected only matrixmultiply's {gemms_per_shard} per shard per step"
        );

        // A whole epoch (shuffling, gathering, a last partial batch) allocates
        // nothing but the same packing buffers, once the first epoch has run.
        let (x, y) = data(300, 20, 10);
        let labels = (0..300).map(|r| r % 10).collect();
        let ds = Dataset::classification(
            Matrix::from_vec(300, 20, x).unwrap(),
            labels,
            10,
            Head::SoftmaxCe,
        )
        .unwrap();
        assert_eq!(ds.y().as_slice(), y.as_slice());
        trainer.epoch(&mut mlp, &ds).unwrap();
        let (counted, expected) = pool.install(|| {
            let before = ALLOCS.load(Ordering::SeqCst);
            let stats = trainer.epoch(&mut mlp, &ds).unwrap();
            let gemm_calls: u64 = (0..stats.steps)
                .map(|s| {
                    let rows = (300 - s * 64).min(64);
                    rows.div_ceil(shard_rows) as u64 * gemms_per_shard
                })
                .sum();
            (ALLOCS.load(Ordering::SeqCst) - before, gemm_calls)
        });
        assert_eq!(counted, expected, "threads {threads}: epoch allocations");
        keep.push((trainer, mlp));
    }
}
