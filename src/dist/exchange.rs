//! [`Exchange`]: a trainer's share of a multi-process job and the buffers
//! of its collective steps, allocated once: the batch's losses, the
//! gradient slices sent to their owners and added in shard order, the
//! clipping norm's per-chunk sums, and the parameters and optimizer state
//! gathered back. It works on plain slices; the trainer owns the loop and
//! the update of its slice ([`crate::Trainer::set_group`]).

use std::sync::Arc;

use super::collective::Collective;
use super::partition::{owned, split_range, REDUCE_CHUNK};
use crate::error::{Error, Result};
use crate::kernels::simd;

/// A trainer's share of a job and its exchange buffers.
pub struct Exchange {
    comm: Arc<dyn Collective>,
    /// Outgoing gradient slices: local shards × parameters.
    send: Vec<f32>,
    /// Incoming gradient slices of the owned parameters, in shard order;
    /// the first slice becomes their ordered sum.
    recv: Vec<f32>,
    /// The owned parameters, sent in the all-gather.
    own: Vec<f32>,
    /// This rank's shards' losses, every shard's, and per-chunk sums of
    /// squares.
    local_losses: Vec<f64>,
    losses: Vec<f64>,
    parts: Vec<f64>,
    parts_all: Vec<f64>,
    send_counts: Vec<usize>,
    recv_counts: Vec<usize>,
}

impl Exchange {
    /// The buffers for `n` parameters and batches of `shards` shards.
    ///
    /// # Errors
    /// [`Error::Config`] (`mpi`) for a group of 0 ranks or a rank outside it.
    pub fn new(comm: Arc<dyn Collective>, n: usize, shards: usize) -> Result<Exchange> {
        let (size, rank) = (comm.size(), comm.rank());
        if size == 0 || rank >= size {
            return Err(Error::config(
                "mpi",
                format!("rank {rank} of a group of {size}"),
            ));
        }
        let chunks = n.div_ceil(REDUCE_CHUNK).max(1);
        let max_local = shards.div_ceil(size);
        let max_slice = chunks.div_ceil(size) * REDUCE_CHUNK;
        Ok(Exchange {
            comm,
            send: vec![0.0; max_local * n],
            recv: vec![0.0; shards * max_slice.min(n)],
            own: vec![0.0; max_slice.min(n)],
            local_losses: Vec::with_capacity(max_local + 2),
            losses: Vec::with_capacity(shards + 2 * size),
            parts: Vec::with_capacity(chunks),
            parts_all: Vec::with_capacity(chunks),
            send_counts: Vec::with_capacity(size),
            recv_counts: Vec::with_capacity(size),
        })
    }

    /// This rank.
    pub fn rank(&self) -> usize {
        self.comm.rank()
    }

    /// The number of ranks.
    pub fn size(&self) -> usize {
        self.comm.size()
    }

    /// This rank's shards of a batch of `shards` shards.
    pub fn local_shards(&self, shards: usize) -> std::ops::Range<usize> {
        split_range(shards, self.size(), self.rank())
    }

    /// The batch's summed loss: every shard's loss, added in shard order.
    /// This rank's shards' `losses`, its count of rows predicted right and
    /// its stop `vote` travel together (two more values after the losses);
    /// also returns the batch's count and whether any rank voted to stop.
    ///
    /// # Errors
    /// As the [`Collective`].
    pub fn batch_loss(
        &mut self,
        losses: impl Iterator<Item = f64>,
        correct: u64,
        shards: usize,
        vote: bool,
    ) -> Result<(f64, u64, bool)> {
        let size = self.size();
        self.recv_counts.clear();
        self.recv_counts
            .extend((0..size).map(|r| split_range(shards, size, r).len() + 2));
        self.local_losses.clear();
        self.local_losses.extend(losses);
        // counts below 2^53 travel exactly as f64
        self.local_losses.push(correct as f64);
        self.local_losses.push(if vote { 1.0 } else { 0.0 });
        let all = shards + 2 * size;
        self.losses.resize(all, 0.0);
        self.comm.all_gather_f64(
            &self.local_losses,
            &mut self.losses[..all],
            &self.recv_counts,
        )?;
        // shard order is rank order; each rank's part ends with its count
        // and its vote
        let (mut sum, mut at, mut correct, mut voted) = (0.0, 0, 0u64, false);
        for &n in &self.recv_counts {
            for &l in &self.losses[at..at + n - 2] {
                sum += l;
            }
            correct += self.losses[at + n - 2] as u64;
            voted |= self.losses[at + n - 1] != 0.0;
            at += n;
        }
        Ok((sum, correct, voted))
    }

    /// Sends each owner its slice of this rank's shards' gradients
    /// (`grad(i)`, `n` values each, for the `local` shards), and adds the
    /// slices received for the owned parameters in shard order, as one
    /// process adds its shards' buffers. The sum is then
    /// [`Exchange::owned_sum`].
    ///
    /// # Errors
    /// As the [`Collective`].
    pub fn reduce_owned<'g>(
        &mut self,
        n: usize,
        shards: usize,
        local: usize,
        grad: impl Fn(usize) -> &'g [f32],
    ) -> Result<()> {
        let (size, rank) = (self.size(), self.rank());
        // every local shard's slice of each owner, owner by owner
        self.send_counts.clear();
        self.recv_counts.clear();
        let mut at = 0;
        for o in 0..size {
            let slice = owned(n, size, o);
            for i in 0..local {
                self.send[at..at + slice.len()].copy_from_slice(&grad(i)[slice.clone()]);
                at += slice.len();
            }
            self.send_counts.push(local * slice.len());
        }
        let len = owned(n, size, rank).len();
        for r in 0..size {
            self.recv_counts
                .push(split_range(shards, size, r).len() * len);
        }
        self.comm.all_to_all_f32(
            &self.send[..at],
            &self.send_counts,
            &mut self.recv[..shards * len],
            &self.recv_counts,
        )?;
        // the ordered sum, as `reduce_chunk` adds shard buffers
        let (sum, rest) = self.recv[..shards * len].split_at_mut(len);
        if len > 0 {
            for other in rest.chunks_exact(len) {
                simd::add_assign_simd(sum, other);
            }
        }
        Ok(())
    }

    /// The ordered sum of the owned parameters' gradients, `len` of them
    /// ([`Exchange::reduce_owned`]).
    pub fn owned_sum(&self, len: usize) -> &[f32] {
        &self.recv[..len]
    }

    /// The summed gradient's sum of squares over all `n` parameters: each
    /// owner's per-chunk sums (of its `len` values), gathered and added in
    /// chunk order, as one process adds them.
    ///
    /// # Errors
    /// As the [`Collective`].
    pub fn sum_of_squares(&mut self, n: usize, len: usize) -> Result<f64> {
        let size = self.size();
        self.parts.clear();
        self.parts.extend(
            self.recv[..len]
                .chunks(REDUCE_CHUNK)
                .map(|c| c.iter().map(|&v| f64::from(v) * f64::from(v)).sum::<f64>()),
        );
        self.recv_counts.clear();
        self.recv_counts
            .extend((0..size).map(|r| owned(n, size, r).len().div_ceil(REDUCE_CHUNK)));
        let chunks: usize = self.recv_counts.iter().sum();
        self.parts_all.resize(chunks, 0.0);
        self.comm
            .all_gather_f64(&self.parts, &mut self.parts_all, &self.recv_counts)?;
        Ok(self.parts_all.iter().sum())
    }

    /// Gives every rank every owner's slice of `params`.
    ///
    /// # Errors
    /// As the [`Collective`].
    pub fn gather_params(&mut self, params: &mut [f32]) -> Result<()> {
        let (size, rank) = (self.size(), self.rank());
        let n = params.len();
        let mine = owned(n, size, rank);
        let len = mine.len();
        self.own[..len].copy_from_slice(&params[mine]);
        self.recv_counts.clear();
        self.recv_counts
            .extend((0..size).map(|r| owned(n, size, r).len()));
        self.comm
            .all_gather_f32(&self.own[..len], params, &self.recv_counts)
    }

    /// Gives every rank the whole optimizer state of `n` parameters, `k`
    /// values each, laid out parameter by parameter (each slice's owner has
    /// it current).
    ///
    /// # Errors
    /// As the [`Collective`].
    pub fn gather_state(&self, state: &mut [f32], k: usize, n: usize) -> Result<()> {
        let (size, rank) = (self.size(), self.rank());
        let counts: Vec<usize> = (0..size).map(|r| k * owned(n, size, r).len()).collect();
        let mine = owned(n, size, rank);
        let own = state[k * mine.start..k * mine.end].to_vec();
        self.comm.all_gather_f32(&own, state, &counts)
    }

    /// Whether `flag` is set on any rank (a collective call).
    ///
    /// # Errors
    /// As the [`Collective`].
    pub fn any(&self, flag: bool) -> Result<bool> {
        let size = self.size();
        let mut all = vec![0.0; size];
        self.comm
            .all_gather_f64(&[f64::from(u8::from(flag))], &mut all, &vec![1; size])?;
        Ok(all.iter().any(|&v| v != 0.0))
    }
}
