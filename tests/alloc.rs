//! No heap allocation per training step after the first.
//!
//! A counting global allocator sees every allocation of every thread. The
//! only allocations allowed during a step are `matrixmultiply`'s: each `sgemm`
//! call with non-empty operands allocates one packing buffer (the crate has no
//! API to pass one in). A step makes exactly `shards × (3L - 1)` such calls
//! (L forward, L weight-gradient and L - 1 delta GEMMs per shard), so the test
//! demands exactly that count: one allocation more, from our code or from
//! rayon, fails it.
//!
//! The same count holds for every update rule: Adam's two state vectors and
//! the clipping pass (its per-chunk sums of squares) are allocated in
//! `Trainer::new`, so a step with Adam, weight decay, clipping and a
//! schedule allocates no more than a plain SGD step. Both a network within
//! one 16 Ki-parameter chunk (sequential update) and one of two chunks (the
//! parallel chunked reduction, clipping and update) are counted. Dropout
//! (its masks and dropped activations live in the shards' workspaces) and
//! row weights (gathered into a workspace buffer) add no allocation either.
//! With more threads than shards, each GEMM of a shard is cut into blocks,
//! each its own `sgemm` call (so its own packing buffer), forked with
//! `rayon::join`, which allocates nothing: the count is then the number of
//! blocks, computed from `backprop::shard`'s documented rule.

use std::sync::atomic::Ordering;

use backprop::data::Targets;
use backprop::optim::{OptimizerConfig, OptimizerKind};
use backprop::schedule::LrSchedule;
use backprop::{Activation, Dataset, Head, Matrix, Mlp, TrainConfig, Trainer};

#[path = "common/counting_alloc.rs"]
mod counting_alloc;

use counting_alloc::{ALLOCS, BYTES, LARGEST};

#[global_allocator]
static GLOBAL: counting_alloc::Counting = counting_alloc::Counting;

fn data(rows: usize, n_in: usize, n_out: usize) -> (Vec<f32>, Vec<f32>) {
    let x = (0..rows * n_in)
        .map(|i| ((i * 37 % 101) as f32 / 50.0) - 1.0)
        .collect();
    let y = (0..rows)
        .flat_map(|r| (0..n_out).map(move |c| if r % n_out == c { 1.0 } else { 0.0 }))
        .collect();
    (x, y)
}

/// The update rules compared: plain SGD first (the baseline), then Adam,
/// then Adam with weight decay, clipping and a cosine schedule with warm-up,
/// then SGD with dropout on weighted rows (the `true`).
fn rules() -> [(&'static str, TrainConfig, bool); 5] {
    let sgd = TrainConfig {
        batch_size: 64,
        lr: 0.05,
        epochs: 4,
        ..TrainConfig::default()
    };
    let adam = OptimizerConfig {
        kind: OptimizerKind::Adam,
        ..OptimizerConfig::default()
    };
    [
        ("sgd", sgd.clone(), false),
        (
            "adam",
            TrainConfig {
                lr: 1e-3,
                optimizer: adam,
                ..sgd.clone()
            },
            false,
        ),
        (
            "adam with weight decay, clipping and cosine warm-up",
            TrainConfig {
                lr: 1e-3,
                optimizer: OptimizerConfig {
                    weight_decay: 0.01,
                    ..adam
                },
                // the mean gradient's norm is above 1e-3: the clip binds
                clip_norm: Some(1e-3),
                schedule: LrSchedule::Cosine {
                    min_lr: 1e-4,
                    epochs: 10,
                },
                warmup_epochs: 1,
                ..sgd.clone()
            },
            false,
        ),
        (
            "sgd with dropout on weighted rows",
            TrainConfig {
                dropout: 0.3,
                ..sgd.clone()
            },
            true,
        ),
        (
            // (the loop gives this rule GELU and Mish, which keep their
            // pre-activations)
            "smooth activations, label smoothing, flat-cos and decay by weight",
            TrainConfig {
                optimizer: OptimizerConfig {
                    weight_decay: 0.01,
                    ..adam
                },
                label_smoothing: 0.1,
                schedule: LrSchedule::FlatCos,
                decay_by_weight: true,
                ..sgd
            },
            true,
        ),
    ]
}

/// The `sgemm` calls of a step of `rows` rows: per shard, the forward and
/// input-delta products cut into blocks of rows, the weight gradients into
/// blocks of units (`backprop::shard::block_rows`), one call per block;
/// without blocks that is `3L - 1` per shard.
fn gemm_calls(sizes: &[usize], rows: usize, shard_rows: usize, threads: usize) -> u64 {
    use backprop::shard::{block_rows, parts_per_shard};
    let shards = rows.div_ceil(shard_rows);
    let parts = parts_per_shard(threads, shards);
    (0..shards)
        .map(|s| {
            let m = shard_rows.min(rows - s * shard_rows);
            // a product is cut by rows, or by columns when it has more
            // columns than rows (and there is more than one part)
            let blocks = |cols: usize| {
                if parts > 1 && cols > m {
                    cols.div_ceil(block_rows(cols, parts))
                } else {
                    m.div_ceil(block_rows(m, parts))
                }
            };
            let forward: usize = sizes[1..].iter().map(|&n| blocks(n)).sum();
            // input deltas into every layer's input but the first
            let input_delta: usize = sizes[1..sizes.len() - 1].iter().map(|&n| blocks(n)).sum();
            let weight_grad: usize = sizes[1..]
                .iter()
                .map(|&n| n.div_ceil(block_rows(n, parts)))
                .sum();
            (forward + input_delta + weight_grad) as u64
        })
        .sum()
}

/// One test function: the counter is process-wide, so checks must not overlap.
#[test]
fn steps_and_epochs_allocate_only_matrixmultiply_packing_buffers() {
    // Trainers stay alive to the end: a dropped pool's threads exit
    // asynchronously, and their exit (thread-local destructors) allocates.
    let mut keep = Vec::new();
    let mut keep_inference = Vec::new();
    // 2 434 parameters (one chunk) and 24 550 (two chunks of 16 Ki)
    for sizes in [[20, 48, 24, 10], [200, 100, 40, 10]] {
        let layers = sizes.len() - 1;
        let _ = layers;
        // (threads, shard_rows): one shard, several, many; and one shard
        // of the 64-row batch cut into blocks by 3 threads; each with every
        // step forked over all the threads (`forked`), and as the work
        // decides (the small network's steps on one thread)
        let runs = [(1, 64), (2, 16), (3, 7), (3, 64)];
        for (forked, (threads, shard_rows)) in [true, false]
            .into_iter()
            .flat_map(|f| runs.into_iter().map(move |r| (f, r)))
        {
            // the threads a step of `rows` rows uses
            let used = |rows: usize| match forked {
                true => threads,
                false => backprop::work::tasks_for(
                    backprop::work::flops_per_sample(&sizes) * rows as u64,
                    threads,
                    backprop::work::MIN_TASK_FLOPS,
                ),
            };
            // (rule, allocations in the counted steps, in the counted epoch)
            let mut counts = Vec::new();
            for (rule, cfg, weighted) in rules() {
                let label = format!("{rule}, sizes {sizes:?}, threads {threads}, forked {forked}");
                let hidden = if rule.starts_with("smooth") {
                    [Activation::Gelu, Activation::Mish]
                } else {
                    [Activation::Relu, Activation::Tanh]
                };
                let mut mlp = Mlp::new(&sizes, &hidden, Head::SoftmaxCe, 1).unwrap();
                let cfg = TrainConfig {
                    shard_rows,
                    threads,
                    ..cfg
                };
                let mut trainer = Trainer::new(&mlp, &cfg).unwrap();
                if forked {
                    trainer.set_min_task_flops(0);
                }
                let (x, y) = data(64, sizes[0], 10);
                let w: Vec<f32> = (0..64).map(|r| (r % 3) as f32 * 0.5).collect();
                let step = |trainer: &mut Trainer, mlp: &mut Mlp| {
                    if weighted {
                        trainer.step_weighted(mlp, &x, &y, &w, 64).unwrap();
                    } else {
                        trainer.step(mlp, &x, &y, 64).unwrap();
                    }
                };
                let shards = 64usize.div_ceil(shard_rows) as u64;
                let pool = trainer.pool();
                // every worker thread has started (thread start-up allocates)
                pool.broadcast(|_| ());

                // Steps on contiguous batches, run inside the trainer's pool
                // (as `Trainer::epoch` does) so that entering the pool is not
                // counted.
                let (counted, steps) = pool.install(|| {
                    // warm-up: every worker has stolen work (and set up its
                    // per-thread state in rayon) before counting starts
                    for _ in 0..20 {
                        step(&mut trainer, &mut mlp);
                    }
                    let before = ALLOCS.load(Ordering::SeqCst);
                    for _ in 0..30 {
                        step(&mut trainer, &mut mlp);
                    }
                    (ALLOCS.load(Ordering::SeqCst) - before, 30u64)
                });
                assert_eq!(
                    counted,
                    steps * gemm_calls(&sizes, 64, shard_rows, used(64)),
                    "{label}, shards {shards}: {counted} allocations in {steps} steps; \
                     expected only matrixmultiply's, one per sgemm call"
                );

                // A whole epoch (shuffling, gathering, a last partial batch,
                // the schedule's rate per batch) allocates nothing but the
                // same packing buffers, once the first epoch has run.
                let (x, y) = data(300, sizes[0], 10);
                let labels = (0..300).map(|r| r % 10).collect();
                let ds = Dataset::classification(
                    Matrix::from_vec(300, sizes[0], x).unwrap(),
                    labels,
                    10,
                    Head::SoftmaxCe,
                )
                .unwrap();
                assert_eq!(ds.y().as_slice(), y.as_slice());
                let ds = if weighted {
                    ds.with_weights((0..300).map(|r| (r % 4) as f32).collect())
                        .unwrap()
                } else {
                    ds
                };
                trainer.epoch(&mut mlp, &ds).unwrap();
                let (counted_epoch, expected) = pool.install(|| {
                    let before = ALLOCS.load(Ordering::SeqCst);
                    let stats = trainer.epoch(&mut mlp, &ds).unwrap();
                    let gemm_calls: u64 = (0..stats.steps)
                        .map(|s| {
                            let rows = (300 - s * 64).min(64);
                            gemm_calls(&sizes, rows, shard_rows, used(rows))
                        })
                        .sum();
                    (ALLOCS.load(Ordering::SeqCst) - before, gemm_calls)
                });
                assert_eq!(counted_epoch, expected, "{label}: epoch allocations");
                counts.push((rule, counted, counted_epoch));
                keep.push((trainer, mlp));
            }
            let (_, sgd_steps, sgd_epoch) = counts[0];
            for &(rule, steps, epoch) in &counts[1..] {
                assert!(
                    steps <= sgd_steps && epoch <= sgd_epoch,
                    "sizes {sizes:?}, threads {threads}: {rule} allocates {steps} times in the \
                     counted steps and {epoch} in the epoch, plain SGD {sgd_steps} and {sgd_epoch}"
                );
            }
        }
    }

    // Chunked prediction and evaluation (`infer::Inference`), with stored
    // targets or class indices: once a first pass has run, a pass over 1000
    // rows allocates only matrixmultiply's packing buffers, one per layer
    // and chunk.
    let sizes = [20, 48, 24, 10];
    let mlp = Mlp::new(
        &sizes,
        &[Activation::Relu, Activation::Tanh],
        Head::SoftmaxCe,
        1,
    )
    .unwrap();
    let (x, y) = data(1000, sizes[0], 10);
    let labels: Vec<usize> = (0..1000).map(|r| r % 10).collect();
    for threads in [1, 3] {
        let pool = std::sync::Arc::new(
            rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap(),
        );
        let mut inf = backprop::infer::Inference::with_pool(&mlp, pool.clone(), 64).unwrap();
        let mut out = vec![0.0; 1000 * 10];
        // every worker thread has started (thread start-up allocates)
        pool.broadcast(|_| ());
        let counted = pool.install(|| {
            let classes = Targets::classes(&labels, 10).unwrap();
            // warm-up: every worker has run chunks (its first GEMM and
            // rayon's per-thread state) before counting starts
            for _ in 0..5 {
                inf.predict_into(&mlp, &x, 1000, &mut out).unwrap();
                inf.evaluate(&mlp, &x, &y, 1000, Some(&labels)).unwrap();
                inf.evaluate_targets(&mlp, &x, classes, Some(&labels))
                    .unwrap();
            }
            let before = ALLOCS.load(Ordering::SeqCst);
            inf.predict_into(&mlp, &x, 1000, &mut out).unwrap();
            inf.evaluate(&mlp, &x, &y, 1000, Some(&labels)).unwrap();
            inf.evaluate_targets(&mlp, &x, classes, Some(&labels))
                .unwrap();
            ALLOCS.load(Ordering::SeqCst) - before
        });
        let chunks = 1000u64.div_ceil(64);
        assert_eq!(
            counted,
            3 * chunks * 3,
            "{threads} threads: prediction and evaluation allocate {counted} times"
        );
        keep_inference.push((inf, pool));
    }
    class_targets_are_stored_as_indices();
    image_bytes_are_used_in_place();
}

/// A classification set holds its class indices, not a one-hot matrix of
/// all rows: building one allocates no `rows × classes` floats, and its
/// targets are expanded row by row where they are read (the epoch above
/// trains on such a set and allocates nothing for it).
///
/// Called by the one test of this file: the counters are global, and the
/// test harness allocates when another test ends.
fn class_targets_are_stored_as_indices() {
    let (rows, classes) = (100_000, 10);
    let x = Matrix::zeros(rows, 2);
    let labels: Vec<usize> = (0..rows).map(|r| r % classes).collect();
    let before = BYTES.load(Ordering::SeqCst);
    let ds = Dataset::classification(x, labels, classes, Head::SoftmaxCe).unwrap();
    let bytes = BYTES.load(Ordering::SeqCst) - before;
    let one_hot = (rows * classes * 4) as u64;
    assert!(
        bytes < one_hot / 100,
        "building the set allocated {bytes} bytes; a one-hot matrix is {one_hot}"
    );
    let t = ds.targets();
    assert_eq!((t.rows(), t.width()), (rows, classes));
    let mut row = [9.0; 10];
    t.write_row(13, &mut row);
    assert_eq!(row, [0., 0., 0., 1., 0., 0., 0., 0., 0., 0.]);
}

/// A plain IDX file of images is mapped and its bytes used in place:
/// loading it, training an epoch on it and predicting it makes no
/// allocation near the size of its pixels (no copy of the bytes, and no
/// `f32` copy at four times their size). The largest is an inference
/// slot's input rows (100 × 784 `f32`); matrixmultiply's packing buffers,
/// allocated and freed per GEMM call, add up to more over an epoch but are
/// never held at once.
///
/// Called by the one test of this file, as above.
fn image_bytes_are_used_in_place() {
    use backprop::data::{load, LoadOptions};
    use backprop::infer::Inference;
    use backprop::pipeline;

    let (rows, side) = (4_000usize, 28usize);
    let pixels = rows * side * side;
    let dir = tempfile::tempdir().unwrap();
    let idx = |dims: &[usize], data: &mut dyn Iterator<Item = u8>| {
        let mut b = vec![0, 0, 8, dims.len() as u8];
        for &d in dims {
            b.extend((d as u32).to_be_bytes());
        }
        b.extend(data);
        b
    };
    let (xp, yp) = (dir.path().join("x.idx"), dir.path().join("y.idx"));
    let x = idx(
        &[rows, side, side],
        &mut (0..pixels).map(|i| (i * 7 % 251) as u8),
    );
    std::fs::write(&xp, x).unwrap();
    std::fs::write(&yp, idx(&[rows], &mut (0..rows).map(|r| (r % 10) as u8))).unwrap();

    LARGEST.store(0, Ordering::SeqCst);
    let opts = LoadOptions {
        labels_path: Some(yp),
        ..LoadOptions::default()
    };
    let mut raw = load(&xp, &opts).unwrap();
    assert!(raw.x.is_bytes() && raw.pixel_data);
    let meta = pipeline::fit_meta(&raw, Head::SoftmaxCe, true, false).unwrap();
    assert_eq!(meta.pixel_scale, Some(255.0));
    let mut mlp = Mlp::new(
        &[side * side, 16, 10],
        &[Activation::Relu],
        Head::SoftmaxCe,
        1,
    )
    .unwrap();
    let train = pipeline::take_dataset(&mut raw, &meta, side * side, 10, Head::SoftmaxCe).unwrap();
    let cfg = TrainConfig {
        batch_size: 64,
        threads: 2,
        ..TrainConfig::default()
    };
    let mut trainer = Trainer::new(&mlp, &cfg).unwrap();
    trainer.epoch(&mut mlp, &train).unwrap();
    let mut out = vec![0.0; rows * 10];
    let mut infer = Inference::new(&mlp, 2, 100).unwrap();
    infer
        .predict_into(&mlp, train.prepared(), rows, &mut out)
        .unwrap();
    let largest = LARGEST.load(Ordering::SeqCst);
    assert!(
        largest < pixels as u64 / 4,
        "{pixels} pixels: an allocation of {largest} bytes"
    );
    assert!(out.iter().all(|v| v.is_finite()));
}
