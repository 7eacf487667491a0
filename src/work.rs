//! How much work a training step or an inference chunk holds, and how many
//! parallel tasks it is worth. Forking work onto the pool and joining it
//! costs microseconds (waking a thread, moving the data between caches), so
//! a small network's step runs on one thread however many the pool has, and
//! parallel work starts only where each task holds at least
//! [`MIN_TASK_FLOPS`] (`docs/threads.md` gives the measurement). The thread
//! count never changes a bit of a result, so this moves only the speed.

/// Training FLOPs per sample of a network with layer sizes `sizes`, by the
/// count of `docs/backprop.md`: forward `2·n_in·n_out` per layer, backward
/// `4·n_in·n_out` except `2·n_0·n_1` for the first layer (no input
/// gradient).
///
/// ```
/// use backprop::work::flops_per_sample;
/// assert_eq!(flops_per_sample(&[30, 64, 32, 1]), 2 * 30 * 64 * 2 + 6 * 64 * 32 + 6 * 32);
/// ```
pub fn flops_per_sample(sizes: &[usize]) -> u64 {
    sizes
        .windows(2)
        .enumerate()
        .map(|(l, p)| {
            let mn = (p[0] * p[1]) as u64;
            if l == 0 {
                4 * mn
            } else {
                6 * mn
            }
        })
        .sum()
}

/// Forward FLOPs per row (inference): `2·n_in·n_out` per layer.
///
/// ```
/// assert_eq!(backprop::work::forward_flops_per_row(&[30, 64, 1]), 2 * (30 * 64 + 64));
/// ```
pub fn forward_flops_per_row(sizes: &[usize]) -> u64 {
    sizes.windows(2).map(|p| 2 * (p[0] * p[1]) as u64).sum()
}

/// The least work, in FLOPs, that a parallel task must hold to be worth
/// forking: about 20 µs of one core's GEMM time. Below twice this a step
/// or a wave of chunks runs on one thread. Measured on 2 cores: a step of
/// 2.6 M FLOPs (64-96-96-1 at batch 32) runs as fast on 2 threads as on 1,
/// one of 0.9 M (10-64-64-1) at 0.78× on 2, one of 3.4 M at 1.1×
/// (`docs/threads.md`).
pub const MIN_TASK_FLOPS: u64 = 1 << 20;

/// How many parallel tasks `flops` of work is worth on `threads` threads
/// when each must hold `min_task` FLOPs: `flops / min_task`, at least 1 and
/// at most `threads` (`min_task` 0: `threads`).
///
/// ```
/// use backprop::work::{tasks_for, MIN_TASK_FLOPS as MIN};
/// assert_eq!(tasks_for(MIN - 1, 16, MIN), 1);
/// assert_eq!(tasks_for(3 * MIN, 16, MIN), 3);
/// assert_eq!(tasks_for(100 * MIN, 16, MIN), 16);
/// assert_eq!(tasks_for(10, 8, 0), 8);
/// assert_eq!(tasks_for(u64::MAX, 0, MIN), 1);
/// ```
pub fn tasks_for(flops: u64, threads: usize, min_task: u64) -> usize {
    let worth = match flops.checked_div(min_task) {
        Some(n) => usize::try_from(n).unwrap_or(usize::MAX),
        None => usize::MAX,
    };
    worth.min(threads).max(1)
}
