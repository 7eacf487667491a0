//! Training on several ranks (`backprop::dist`) gives the bits of one
//! process: ranks run as threads of this test ([`LocalGroup`]), each with its
//! own trainer and copy of the model, for 1 to 4 ranks, every optimizer with
//! and without a binding clip, dropout on weighted rows, several shard
//! sizes (more ranks than shards included) and a network of several
//! reduction chunks. The gathered optimizer state equals one process's.

mod common;

use std::sync::Arc;

use backprop::dist::{Collective, LocalGroup};
use backprop::{Activation, Dataset, Head, Matrix, Mlp, TrainConfig, Trainer};
use common::{random_x, random_y, rng};

/// Three reduction chunks of 16 Ki parameters (41 055 in all).
const SIZES: [usize; 4] = [252, 130, 60, 5];

fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|x| x.to_bits()).collect()
}

/// Parameters, optimizer state, and each epoch's loss and rows predicted
/// right, after `epochs` epochs.
type Run = (Vec<u32>, Vec<Vec<u32>>, Vec<(u64, Option<u64>)>);

fn train(mlp: &Mlp, cfg: &TrainConfig, data: &Dataset, comm: Option<Arc<dyn Collective>>) -> Run {
    let mut mlp = mlp.clone();
    let mut trainer = Trainer::new(&mlp, cfg).unwrap();
    if let Some(c) = comm {
        trainer.set_group(c).unwrap();
    }
    let losses = (0..cfg.epochs)
        .map(|_| {
            let stats = trainer.epoch(&mut mlp, data).unwrap();
            (stats.loss.to_bits(), stats.correct)
        })
        .collect();
    let state = trainer
        .checkpoint()
        .unwrap()
        .optimizer_buffers
        .iter()
        .map(|b| bits(b))
        .collect();
    (bits(mlp.params()), state, losses)
}

/// Every rank's run, as threads.
fn on_ranks(ranks: usize, mlp: &Mlp, cfg: &TrainConfig, data: &Dataset) -> Vec<Run> {
    let group = LocalGroup::new(ranks);
    std::thread::scope(|s| {
        let handles: Vec<_> = group
            .into_iter()
            .map(|g| s.spawn(move || train(mlp, cfg, data, Some(Arc::new(g)))))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    })
}

#[test]
fn every_rank_count_gives_the_one_process_bits() {
    let n = 130;
    let head = Head::SoftmaxCe;
    let mut r = rng(31);
    let x = random_x(&mut r, n, SIZES[0]);
    let y = random_y(&mut r, head, n, SIZES[3]);
    let w = common::uniform(&mut r, n, 0.0, 2.0);
    let plain = Dataset::new(
        Matrix::from_vec(n, SIZES[0], x).unwrap(),
        Matrix::from_vec(n, SIZES[3], y).unwrap(),
    )
    .unwrap();
    let weighted = plain.clone().with_weights(w).unwrap();
    let mlp = Mlp::new(&SIZES, &[Activation::Relu, Activation::Tanh], head, 5).unwrap();
    // batch 48: shards of 16 (3 shards, the last batch of 34 has 3),
    // of 8 (6), of 48 (one shard: more ranks than shards)
    for shard_rows in [16, 8, 48] {
        for (name, optimizer, lr) in common::optimizers(0.01) {
            for clip in [None, Some(0.05)] {
                for (data, dropout) in [(&plain, 0.0), (&weighted, 0.3)] {
                    let cfg = TrainConfig {
                        batch_size: 48,
                        lr,
                        optimizer,
                        clip_norm: clip,
                        epochs: 2,
                        shard_rows,
                        threads: 1,
                        seed: 2,
                        dropout,
                        ..TrainConfig::default()
                    };
                    let one = train(&mlp, &cfg, data, None);
                    for ranks in 1..=4 {
                        for (rank, run) in on_ranks(ranks, &mlp, &cfg, data).iter().enumerate() {
                            assert!(
                                *run == one,
                                "{name}, clip {clip:?}, dropout {dropout}, shards of \
                                 {shard_rows}: rank {rank} of {ranks} differs from one process \
                                 (parameters equal: {}, state equal: {}, losses equal: {})",
                                run.0 == one.0,
                                run.1 == one.1,
                                run.2 == one.2
                            );
                        }
                    }
                }
            }
        }
    }
}

/// A stop flag set on one rank only (a signal that reached one process)
/// stops every rank after the same batch, and the interrupted epoch
/// finishes, resumed on another rank count, with the bits of a straight run.
#[test]
fn a_stop_seen_by_one_rank_stops_every_rank_after_the_same_batch() {
    use backprop::train::EpochOutcome;
    use std::sync::atomic::{AtomicBool, Ordering};
    let (n, sizes) = (100, [6, 9, 3]);
    let head = Head::SoftmaxCe;
    let mut r = rng(7);
    let data = Dataset::new(
        Matrix::from_vec(n, sizes[0], random_x(&mut r, n, sizes[0])).unwrap(),
        Matrix::from_vec(n, sizes[2], random_y(&mut r, head, n, sizes[2])).unwrap(),
    )
    .unwrap();
    let mlp = Mlp::new(&sizes, &[Activation::Tanh], head, 3).unwrap();
    let cfg = TrainConfig {
        batch_size: 12,
        shard_rows: 4,
        threads: 1,
        epochs: 1,
        ..TrainConfig::default()
    };
    let straight = train(&mlp, &cfg, &data, None);
    for ranks in [2, 3] {
        for stopper in 0..ranks {
            let group = LocalGroup::new(ranks);
            let outcomes: Vec<_> = std::thread::scope(|s| {
                let handles: Vec<_> = group
                    .into_iter()
                    .map(|g| {
                        let (mlp, cfg, data) = (&mlp, &cfg, &data);
                        s.spawn(move || {
                            let me = g.rank();
                            let mut mlp = mlp.clone();
                            let mut t = Trainer::new(&mlp, cfg).unwrap();
                            t.set_group(Arc::new(g)).unwrap();
                            let stop = AtomicBool::new(false);
                            let out = t
                                .epoch_resumable(&mut mlp, data, None, &stop, |rows, _| {
                                    // only one rank sees the signal, after batch 3
                                    if me == stopper && rows == 36 {
                                        stop.store(true, Ordering::Relaxed);
                                    }
                                })
                                .unwrap();
                            let state = t.checkpoint().unwrap();
                            (out, mlp, state)
                        })
                    })
                    .collect();
                handles.into_iter().map(|h| h.join().unwrap()).collect()
            });
            let EpochOutcome::Interrupted(p) = outcomes[0].0 else {
                panic!("not interrupted: {:?}", outcomes[0].0)
            };
            // seen after batch 3, voted in batch 4's exchange
            assert_eq!(p.batches_done, 4, "{ranks} ranks, stopped by {stopper}");
            for (out, m, state) in &outcomes[1..] {
                assert_eq!(*out, outcomes[0].0, "{ranks} ranks, stopped by {stopper}");
                assert_eq!(*m, outcomes[0].1);
                assert_eq!(state.optimizer_buffers, outcomes[0].2.optimizer_buffers);
            }
            // the rest of the epoch alone gives the straight run's bits
            let (_, mut mlp, state) = outcomes.into_iter().next().unwrap();
            let mut t = Trainer::new(&mlp, &cfg).unwrap();
            assert_eq!(state.optimizer_step, 4);
            t.resume(&state).unwrap();
            let never = AtomicBool::new(false);
            let out = t
                .epoch_resumable(&mut mlp, &data, Some(&p), &never, |_, _| {})
                .unwrap();
            let EpochOutcome::Completed(stats) = out else {
                panic!("{out:?}")
            };
            assert_eq!(bits(mlp.params()), straight.0);
            assert_eq!(vec![(stats.loss.to_bits(), stats.correct)], straight.2);
        }
    }
}

/// Counts what a rank sends to and receives from the others.
struct Counting {
    inner: LocalGroup,
    sent: std::sync::atomic::AtomicU64,
    received: std::sync::atomic::AtomicU64,
    calls: std::sync::atomic::AtomicU32,
}

impl Counting {
    fn add(&self, sent: usize, received: usize) {
        use std::sync::atomic::Ordering::Relaxed;
        self.sent.fetch_add(sent as u64, Relaxed);
        self.received.fetch_add(received as u64, Relaxed);
        self.calls.fetch_add(1, Relaxed);
    }

    fn gathered(&self, counts: &[usize], bytes: usize) {
        let me = self.inner.rank();
        let others: usize = counts.iter().sum::<usize>() - counts[me];
        self.add(bytes * counts[me] * (counts.len() - 1), bytes * others);
    }
}

impl Collective for Counting {
    fn rank(&self) -> usize {
        self.inner.rank()
    }
    fn size(&self) -> usize {
        self.inner.size()
    }
    fn all_to_all_f32(
        &self,
        send: &[f32],
        send_counts: &[usize],
        recv: &mut [f32],
        recv_counts: &[usize],
    ) -> backprop::Result<()> {
        let me = self.rank();
        let sum = |c: &[usize]| c.iter().sum::<usize>() - c[me];
        self.add(4 * sum(send_counts), 4 * sum(recv_counts));
        self.inner
            .all_to_all_f32(send, send_counts, recv, recv_counts)
    }
    fn all_gather_f32(
        &self,
        send: &[f32],
        recv: &mut [f32],
        counts: &[usize],
    ) -> backprop::Result<()> {
        self.gathered(counts, 4);
        self.inner.all_gather_f32(send, recv, counts)
    }
    fn all_gather_f64(
        &self,
        send: &[f64],
        recv: &mut [f64],
        counts: &[usize],
    ) -> backprop::Result<()> {
        self.gathered(counts, 8);
        self.inner.all_gather_f64(send, recv, counts)
    }
}

/// `dist::traffic`, the documented bytes per step and rank, is what the
/// trainer's exchanges move: counted for 2 to 4 ranks, with and without
/// clipping, on a network of three reduction chunks.
#[test]
fn the_traffic_per_step_is_the_documented_one() {
    use backprop::dist::traffic;
    use std::sync::atomic::Ordering::Relaxed;
    let (rows, head) = (40, Head::SoftmaxCe);
    let mut r = rng(3);
    let x = random_x(&mut r, rows, SIZES[0]);
    let y = random_y(&mut r, head, rows, SIZES[3]);
    let mlp = Mlp::new(&SIZES, &[Activation::Relu, Activation::Tanh], head, 5).unwrap();
    for ranks in 2..=4 {
        for clip in [None, Some(0.5)] {
            let cfg = TrainConfig {
                batch_size: rows,
                shard_rows: 8,
                threads: 1,
                clip_norm: clip,
                ..TrainConfig::default()
            };
            let counted: Vec<(usize, u64, u64, u32)> = std::thread::scope(|s| {
                let handles: Vec<_> = LocalGroup::new(ranks)
                    .into_iter()
                    .map(|g| {
                        let (mlp, cfg, x, y) = (&mlp, &cfg, &x, &y);
                        s.spawn(move || {
                            let c = Arc::new(Counting {
                                inner: g,
                                sent: 0.into(),
                                received: 0.into(),
                                calls: 0.into(),
                            });
                            let mut mlp = mlp.clone();
                            let mut t = Trainer::new(&mlp, cfg).unwrap();
                            t.set_group(c.clone()).unwrap();
                            t.step(&mut mlp, x, y, rows).unwrap();
                            let rank = c.rank();
                            (
                                rank,
                                c.sent.load(Relaxed),
                                c.received.load(Relaxed),
                                c.calls.load(Relaxed),
                            )
                        })
                    })
                    .collect();
                handles.into_iter().map(|h| h.join().unwrap()).collect()
            });
            for (rank, sent, received, calls) in counted {
                let t = traffic(mlp.num_params(), 5, ranks, rank, clip.is_some());
                assert_eq!(
                    (sent, received, calls),
                    (t.sent_bytes, t.received_bytes, t.collectives),
                    "rank {rank} of {ranks}, clip {clip:?}"
                );
            }
        }
    }
}
