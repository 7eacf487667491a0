//! The `bench` driver: trains on synthetic data held in memory and measures
//! samples/s over repeated timed windows after a warm-up.
//!
//! It drives [`Trainer::step`] itself rather than [`crate::fit`]: it times
//! fixed wall-clock windows of steps on a few synthetic batches, and an
//! epoch's shuffling, per-epoch evaluation and checkpoints would be measured
//! with them.
//!
//! The update rule is part of the spec ([`BenchSpec::train`], with
//! optional weight decay and gradient-norm clipping); the presets' published
//! figures (`BENCHMARKS.md`) are plain SGD without either, at a constant rate
//! of 1e-3.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::activation::{Activation, Head};
use crate::dist::Collective;
use crate::error::{Error, Result};
use crate::network::Mlp;
use crate::presets::{flops_per_sample, synthetic, Preset};
use crate::train::{Profile, TrainConfig, Trainer};

/// What to benchmark.
#[derive(Clone, Debug, PartialEq)]
pub struct BenchSpec {
    /// `[n_0, …, n_L]`.
    pub sizes: Vec<usize>,
    /// Activation of every hidden layer.
    pub activation: Activation,
    /// Output head.
    pub head: Head,
    /// The trainer's settings: the batch size, the threads (0: one per
    /// core), the shard size (0: the trainer's default), the update rule
    /// (plain SGD for the presets' figures) and its rate, clipping (`None`
    /// saves a pass over the gradient), dropout (0: the presets').
    pub train: TrainConfig,
    /// Total seconds of timed windows (the warm-up comes on top).
    pub seconds: f64,
    /// Number of timed windows; the median is reported.
    pub windows: usize,
}

/// The network and batch size of a benchmark, part by part: each `None`
/// part comes from a preset.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct BenchShape {
    /// `[n_0, …, n_L]`.
    pub sizes: Option<Vec<usize>>,
    /// Activation of every hidden layer.
    pub activation: Option<Activation>,
    /// Output head.
    pub head: Option<Head>,
    /// Mini-batch size.
    pub batch_size: Option<usize>,
}

impl BenchShape {
    /// The first part (by its [`BenchSpec`] field name) that neither this
    /// shape nor `preset` gives; forward passes (`forward_only`) need no
    /// batch size.
    ///
    /// ```
    /// use backprop::bench::BenchShape;
    /// use backprop::presets::Preset;
    /// let shape = BenchShape { sizes: Some(vec![4, 2]), ..BenchShape::default() };
    /// assert_eq!(shape.missing(None, false), Some("activation"));
    /// assert_eq!(shape.missing(Some(Preset::by_name("T").unwrap()), false), None);
    /// ```
    pub fn missing(&self, preset: Option<&Preset>, forward_only: bool) -> Option<&'static str> {
        match BenchSpec::from_shape(self, preset, forward_only) {
            Err(Error::Config { option, .. }) => Some(option),
            _ => None,
        }
    }
}

impl BenchSpec {
    /// The spec of `shape`, its missing parts taken from `preset` (forward
    /// passes without a batch size get batch 1: they have only chunks); the
    /// rest as the presets' published figures: plain SGD, no clipping, no
    /// dropout, one thread per core, the trainer's shards, 7 windows over 5 s.
    ///
    /// ```
    /// use backprop::bench::{BenchShape, BenchSpec};
    /// use backprop::presets::Preset;
    /// let m = Preset::by_name("M").unwrap();
    /// let shape = BenchShape { batch_size: Some(64), ..BenchShape::default() };
    /// let spec = BenchSpec::from_shape(&shape, Some(m), false).unwrap();
    /// assert_eq!((spec.sizes.as_slice(), spec.head, spec.train.batch_size), (m.sizes, m.head, 64));
    /// assert!(BenchSpec::from_shape(&shape, None, false).is_err());
    /// ```
    ///
    /// # Errors
    /// [`Error::Config`] naming the first part missing (the only error;
    /// [`BenchShape::missing`] gives its name).
    pub fn from_shape(
        shape: &BenchShape,
        preset: Option<&Preset>,
        forward_only: bool,
    ) -> Result<BenchSpec> {
        let missing = |part: &'static str| Error::config(part, "is required without a preset");
        let sizes = match (&shape.sizes, preset) {
            (Some(sizes), _) => sizes.clone(),
            (None, Some(p)) => p.sizes.to_vec(),
            (None, None) => return Err(missing("sizes")),
        };
        let activation = shape.activation.or(preset.map(|p| p.activation));
        let head = shape.head.or(preset.map(|p| p.head));
        Ok(BenchSpec {
            sizes,
            activation: activation.ok_or_else(|| missing("activation"))?,
            head: head.ok_or_else(|| missing("head"))?,
            train: TrainConfig {
                batch_size: match (shape.batch_size, preset, forward_only) {
                    (Some(b), _, _) => b,
                    (None, Some(p), _) => p.batch,
                    // prediction has no batches, only chunks
                    (None, None, true) => 1,
                    (None, None, false) => return Err(missing("batch_size")),
                },
                lr: BENCH_LR,
                ..TrainConfig::default()
            },
            seconds: 5.0,
            windows: 7,
        })
    }
}

/// What a benchmark measured.
#[derive(Clone, Debug, PartialEq)]
pub struct BenchReport {
    /// Median samples/s over the timed windows.
    pub samples_per_sec: f64,
    /// Slowest and fastest window, samples/s.
    pub min_samples_per_sec: f64,
    /// Fastest window, samples/s.
    pub max_samples_per_sec: f64,
    /// GFLOP/s at the median, by the FLOP count of `docs/backprop.md`.
    pub gflops: f64,
    /// Worker threads actually used.
    pub threads: usize,
    /// Rows per shard actually used.
    pub shard_rows: usize,
    /// Processes of the job (1 without a group).
    pub ranks: usize,
    /// Steps timed in all windows.
    pub steps: u64,
    /// Phase times, summed over threads, in the timed windows of a separate
    /// profiled run of the same length as one window.
    pub profile: Profile,
    /// Peak resident set size of the process in bytes (`VmHWM`), if known.
    pub peak_rss_bytes: Option<u64>,
    /// Bytes of synthetic data held in memory.
    pub dataset_bytes: u64,
    /// Bytes of parameters.
    pub param_bytes: u64,
}

/// The constant learning rate of the presets' runs.
pub const BENCH_LR: f32 = 1e-3;

/// Distinct synthetic batches cycled through (so the data is not all in cache).
const BATCHES: usize = 8;

/// Runs the benchmark.
///
/// Every run trains with `spec.train` (the presets: plain SGD at the
/// constant rate [`BENCH_LR`]).
///
/// ```
/// use backprop::bench::{run, BenchSpec};
/// use backprop::optim::{OptimizerConfig, OptimizerKind};
/// use backprop::{Activation, Head, TrainConfig};
/// let spec = BenchSpec {
///     sizes: vec![4, 8, 2],
///     activation: Activation::Relu,
///     head: Head::SoftmaxCe,
///     train: TrainConfig {
///         batch_size: 16,
///         threads: 1,
///         optimizer: OptimizerConfig { kind: OptimizerKind::Adam, ..OptimizerConfig::default() },
///         clip_norm: Some(1.0),
///         dropout: 0.1,
///         ..TrainConfig::default()
///     },
///     seconds: 0.02,
///     windows: 2,
/// };
/// let report = run(&spec)?;
/// assert!(report.samples_per_sec > 0.0 && report.steps >= 2);
/// # Ok::<(), backprop::Error>(())
/// ```
///
/// # Errors
/// [`Error::Config`] for an impossible network or configuration (optimizer
/// constants, clipping threshold and dropout included).
pub fn run(spec: &BenchSpec) -> Result<BenchReport> {
    run_in(spec, None)
}

/// [`run`] as one rank of a multi-process job ([`Trainer::set_group`]):
/// every rank must call it with the same spec. Each step trains the whole
/// batch of `spec.train.batch_size` rows, its shards divided among the ranks, so
/// samples/s are those of the job; the windows end after the same step on
/// every rank.
///
/// # Errors
/// As [`run`], and the group's.
pub fn run_in(spec: &BenchSpec, group: Option<Arc<dyn Collective>>) -> Result<BenchReport> {
    check_timing(spec)?;
    let hidden = vec![spec.activation; spec.sizes.len().saturating_sub(2)];
    let mut mlp = Mlp::new(&spec.sizes, &hidden, spec.head, 0)?;
    let mut trainer = Trainer::new(&mlp, &spec.train)?;
    if let Some(g) = group {
        trainer.set_group(g)?;
    }
    let m = spec.train.batch_size;
    let (x, y) = synthetic(&spec.sizes, spec.head, m * BATCHES, 1);
    let (n0, nl) = (mlp.inputs(), mlp.outputs());
    let pool = trainer.pool();
    let window = Duration::from_secs_f64(spec.seconds / spec.windows as f64);

    let (rates, steps, profile) = pool.install(|| -> Result<_> {
        let mut b = 0usize;
        // One step; `last` is this process's vote that it be the last of
        // its window (in a group, every rank stops after the same step, the
        // first one any rank voted so). Returns whether the window ends.
        let mut step = |trainer: &mut Trainer, mlp: &mut Mlp, last: bool| -> Result<bool> {
            let (xs, ys) = (
                &x[b * m * n0..(b + 1) * m * n0],
                &y[b * m * nl..(b + 1) * m * nl],
            );
            b = (b + 1) % BATCHES;
            trainer.vote_stop(last);
            trainer.step(mlp, xs, ys, m)?;
            Ok(trainer.stop_voted())
        };
        // warm-up: a quarter of a window, at least 3 steps
        let start = Instant::now();
        let mut n = 0;
        while !step(
            &mut trainer,
            &mut mlp,
            n >= 2 && start.elapsed() >= window / 4,
        )? {
            n += 1;
        }
        let mut rates = Vec::with_capacity(spec.windows);
        let mut steps = 0u64;
        for _ in 0..spec.windows {
            let start = Instant::now();
            let mut n = 1u64;
            while !step(&mut trainer, &mut mlp, start.elapsed() >= window)? {
                n += 1;
            }
            rates.push((n * m as u64) as f64 / start.elapsed().as_secs_f64());
            steps += n;
        }
        // one more window with the phase timers on
        trainer.set_profiling(true);
        let start = Instant::now();
        while !step(&mut trainer, &mut mlp, start.elapsed() >= window)? {}
        let profile = trainer.profile();
        trainer.set_profiling(false);
        Ok((rates, steps, profile))
    })?;
    let (min, median, max) = spread(rates);
    Ok(BenchReport {
        samples_per_sec: median,
        min_samples_per_sec: min,
        max_samples_per_sec: max,
        gflops: median * flops_per_sample(&spec.sizes) as f64 / 1e9,
        threads: trainer.threads(),
        shard_rows: trainer.shard_rows(),
        ranks: trainer.ranks(),
        steps,
        profile,
        peak_rss_bytes: peak_rss_bytes(),
        dataset_bytes: ((x.len() + y.len()) * 4) as u64,
        param_bytes: (mlp.num_params() * 4) as u64,
    })
}

/// [`run`] for `k` models of `spec`'s shape trained together, as
/// [`crate::fit::fit_many`] trains them: each its own network (seeded by its
/// index) and trainer, stepping on the same synthetic batches, the models
/// run as tasks sharing `spec.train.threads` threads (0: one per core) as
/// [`crate::fit::split_threads`] says. `samples_per_sec` is the members' total: every
/// member's samples of a window over the window's time. The phase profile
/// is not measured (all zero), and `threads` is the threads in use in all.
///
/// ```
/// use backprop::bench::{run_models, BenchSpec};
/// use backprop::{Activation, Head, TrainConfig};
/// let spec = BenchSpec {
///     sizes: vec![4, 8, 1],
///     activation: Activation::Relu,
///     head: Head::Mse,
///     train: TrainConfig { batch_size: 16, threads: 2, ..TrainConfig::default() },
///     seconds: 0.02,
///     windows: 2,
/// };
/// let r = run_models(&spec, 3)?;
/// assert!(r.samples_per_sec > 0.0 && r.steps >= 6);
/// assert_eq!(r.threads, 2);
/// # Ok::<(), backprop::Error>(())
/// ```
///
/// # Errors
/// As [`run`]; [`Error::Config`] (`models`) for `k` of 0.
pub fn run_models(spec: &BenchSpec, k: usize) -> Result<BenchReport> {
    check_timing(spec)?;
    if k == 0 {
        return Err(Error::config("models", "must be at least 1"));
    }
    let total = match spec.train.threads {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
        t => t,
    };
    let (workers, each) = crate::fit::split_threads(total, k);
    let cfg = TrainConfig {
        threads: each,
        ..spec.train.clone()
    };
    let hidden = vec![spec.activation; spec.sizes.len().saturating_sub(2)];
    let members = (0..k)
        .map(|i| {
            let mlp = Mlp::new(&spec.sizes, &hidden, spec.head, i as u64)?;
            let trainer = Trainer::new(&mlp, &cfg)?;
            Ok(std::sync::Mutex::new((mlp, trainer)))
        })
        .collect::<Result<Vec<std::sync::Mutex<(Mlp, Trainer)>>>>()?;
    let m = spec.train.batch_size;
    let (x, y) = synthetic(&spec.sizes, spec.head, m * BATCHES, 1);
    let (n0, nl) = (spec.sizes[0], spec.sizes[spec.sizes.len() - 1]);
    let window = Duration::from_secs_f64(spec.seconds / spec.windows as f64);
    // every member steps until `until` has passed since `start`; the steps
    // each took
    let pass = |until: Duration, least: u64| -> Result<Vec<u64>> {
        let start = Instant::now();
        let step_member = |member: &std::sync::Mutex<(Mlp, Trainer)>| -> Result<u64> {
            let mut guard = member.lock().unwrap_or_else(|e| e.into_inner());
            let (mlp, trainer) = &mut *guard;
            // the steps run on the member's own pool, entered once
            trainer.pool().install(|| {
                let mut n = 0u64;
                while n < least || start.elapsed() < until {
                    let b = n as usize % BATCHES;
                    trainer.step(
                        mlp,
                        &x[b * m * n0..(b + 1) * m * n0],
                        &y[b * m * nl..(b + 1) * m * nl],
                        m,
                    )?;
                    n += 1;
                }
                Ok(n)
            })
        };
        crate::fit::run_tasks(&members, workers, &step_member)
            .into_iter()
            .collect()
    };
    pass(window / 4, 3)?;
    let mut rates = Vec::with_capacity(spec.windows);
    let mut steps = 0u64;
    for _ in 0..spec.windows {
        let start = Instant::now();
        let n: u64 = pass(window, 1)?.iter().sum();
        rates.push((n * m as u64) as f64 / start.elapsed().as_secs_f64());
        steps += n;
    }
    let (min, median, max) = spread(rates);
    let params = members[0]
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .0
        .num_params();
    let shard_rows = cfg.effective_shard_rows();
    Ok(BenchReport {
        samples_per_sec: median,
        min_samples_per_sec: min,
        max_samples_per_sec: max,
        gflops: median * flops_per_sample(&spec.sizes) as f64 / 1e9,
        threads: workers * each,
        shard_rows,
        ranks: 1,
        steps,
        profile: Profile::default(),
        peak_rss_bytes: peak_rss_bytes(),
        dataset_bytes: ((x.len() + y.len()) * 4) as u64,
        param_bytes: (k * params * 4) as u64,
    })
}

/// Peak resident set size (`VmHWM` of `/proc/self/status`), where available.
pub fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// Forward-only throughput ([`run_forward`]): `rows` synthetic rows pushed
/// through [`crate::infer::Inference`] (head activation included) in chunks
/// of `chunk_rows` on `spec.train.threads` threads, the median samples/s of
/// `spec.windows` timed windows after a warm-up. GFLOP/s count the forward
/// FLOPs only (`2·n_in·n_out` per layer and row).
///
/// ```
/// use backprop::bench::{run_forward, BenchSpec};
/// use backprop::{Activation, Head, TrainConfig};
/// let spec = BenchSpec {
///     sizes: vec![8, 16, 3],
///     activation: Activation::Relu,
///     head: Head::SoftmaxCe,
///     train: TrainConfig { batch_size: 1, threads: 2, ..TrainConfig::default() },
///     seconds: 0.02,
///     windows: 2,
/// };
/// let r = run_forward(&spec, 1000, 64)?;
/// assert!(r.samples_per_sec > 0.0 && r.steps >= 2);
/// # Ok::<(), backprop::Error>(())
/// ```
///
/// # Errors
/// As [`run`] for the network and the timing; [`Error::Config`] for 0
/// rows or a chunk of 0 rows.
pub fn run_forward(spec: &BenchSpec, rows: usize, chunk_rows: usize) -> Result<BenchReport> {
    check_timing(spec)?;
    if rows == 0 {
        return Err(Error::config("rows", "must be at least 1"));
    }
    let hidden = vec![spec.activation; spec.sizes.len().saturating_sub(2)];
    let mlp = Mlp::new(&spec.sizes, &hidden, spec.head, 0)?;
    let mut infer = crate::infer::Inference::new(&mlp, spec.train.threads, chunk_rows)?;
    let (x, _) = synthetic(&spec.sizes, spec.head, rows, 1);
    let mut out = vec![0.0f32; rows * mlp.outputs()];
    let window = Duration::from_secs_f64(spec.seconds / spec.windows as f64);
    let mut pass = || infer.predict_into(&mlp, &x, rows, &mut out);
    // warm-up: a quarter of a window, at least one pass
    let start = Instant::now();
    pass()?;
    while start.elapsed() < window / 4 {
        pass()?;
    }
    let mut rates = Vec::with_capacity(spec.windows);
    let mut steps = 0u64;
    for _ in 0..spec.windows {
        let start = Instant::now();
        let mut n = 0u64;
        while n < 1 || start.elapsed() < window {
            pass()?;
            n += 1;
        }
        rates.push((n * rows as u64) as f64 / start.elapsed().as_secs_f64());
        steps += n;
    }
    let (min, median, max) = spread(rates);
    let forward_flops: usize = spec.sizes.windows(2).map(|w| 2 * w[0] * w[1]).sum();
    Ok(BenchReport {
        samples_per_sec: median,
        min_samples_per_sec: min,
        max_samples_per_sec: max,
        gflops: median * forward_flops as f64 / 1e9,
        threads: infer.threads(),
        shard_rows: chunk_rows,
        ranks: 1,
        steps,
        profile: Profile::default(),
        peak_rss_bytes: peak_rss_bytes(),
        dataset_bytes: (x.len() * 4) as u64,
        param_bytes: (mlp.num_params() * 4) as u64,
    })
}

/// A positive duration cut into at least one window.
fn check_timing(spec: &BenchSpec) -> Result<()> {
    if !(spec.seconds.is_finite() && spec.seconds > 0.0) {
        return Err(Error::config(
            "seconds",
            format!("{} is not a positive duration", spec.seconds),
        ));
    }
    if spec.windows == 0 {
        return Err(Error::config("windows", "must be at least 1"));
    }
    Ok(())
}

/// The slowest, median and fastest of the windows' rates (at least one).
fn spread(mut rates: Vec<f64>) -> (f64, f64, f64) {
    rates.sort_by(f64::total_cmp);
    let n = rates.len();
    let median = if n % 2 == 1 {
        rates[n / 2]
    } else {
        0.5 * (rates[n / 2 - 1] + rates[n / 2])
    };
    (rates[0], median, rates[n - 1])
}
