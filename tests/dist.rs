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

/// Parameters, optimizer state and epoch losses after `epochs` epochs.
type Run = (Vec<u32>, Vec<Vec<u32>>, Vec<u64>);

fn train(mlp: &Mlp, cfg: &TrainConfig, data: &Dataset, comm: Option<Arc<dyn Collective>>) -> Run {
    let mut mlp = mlp.clone();
    let mut trainer = Trainer::new(&mlp, cfg).unwrap();
    if let Some(c) = comm {
        trainer.set_group(c).unwrap();
    }
    let losses = (0..cfg.epochs)
        .map(|_| trainer.epoch(&mut mlp, data).unwrap().loss.to_bits())
        .collect();
    trainer.gather_optimizer_state().unwrap();
    let state = trainer
        .optimizer()
        .buffers()
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
