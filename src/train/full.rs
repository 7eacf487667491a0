//! The loss and gradient over a whole dataset at once: the objective of the
//! full-batch solvers ([`crate::lbfgs`]).

use super::trainer::{mean, Trainer};
use crate::data::Dataset;
use crate::error::{Error, Result};
use crate::network::Mlp;
use crate::shard::Batch;
use std::sync::Arc;

impl Trainer {
    /// The mean (weighted) loss of `mlp` over every row of `data` and its
    /// gradient (flat, in the layout of [`Mlp::params`]), without updating
    /// anything. The rows are cut into the trainer's shards in their stored
    /// order and the shard gradients are added in shard order, so the bits
    /// do not depend on the thread count. The trainer's batch size must hold
    /// every row. No dropout mask is drawn: a trainer with dropout is refused.
    ///
    /// Returns the loss, the gradient and the rows' weight (their count, or
    /// `Σw`).
    ///
    /// # Errors
    /// [`Error::Config`] if the batch size is below the row count, for a
    /// trainer with dropout or in a group of processes; [`Error::Shape`] for
    /// another network or data of another width. A non-finite loss is
    /// returned as it is.
    pub fn full_gradient(&mut self, mlp: &Mlp, data: &Dataset) -> Result<(f64, &[f32], f64)> {
        let rows = data.rows();
        self.check_network(mlp)?;
        if rows == 0 || rows > self.batch_size {
            return Err(Error::config(
                "batch_size",
                format!(
                    "the full-data gradient needs a batch of all {rows} rows; this trainer's \
                     holds {}",
                    self.batch_size
                ),
            ));
        }
        if data.features() != mlp.inputs() || data.outputs() != mlp.outputs() {
            return Err(Error::shape(
                "Trainer::full_gradient",
                format!("{} inputs and {} outputs", mlp.inputs(), mlp.outputs()),
                format!("{} and {}", data.features(), data.outputs()),
            ));
        }
        if self.dropout.is_some() {
            return Err(Error::config(
                "dropout",
                "a full-batch objective must be the same at every evaluation: no dropout",
            ));
        }
        if self.group.is_some() {
            return Err(Error::config(
                "mpi",
                "the full-data gradient runs in one process; this trainer is in a group",
            ));
        }
        let mut order = std::mem::take(&mut self.order);
        order.clear();
        order.extend(0..rows);
        let batch = Batch::Gather {
            x: data.x().values(),
            y: data.targets(),
            w: data.weights(),
            idx: &order,
            prep: data.prep(),
        };
        let weight = batch.weight_sum(rows);
        let pool = Arc::clone(&self.pool);
        let result = pool.install(|| self.reduce_full(mlp, batch, rows, weight));
        self.order = order;
        let loss = result?;
        let w = weight.unwrap_or(rows as f64);
        Ok((
            mean(loss, w),
            &self.workspaces[0].grad[..mlp.num_params()],
            w,
        ))
    }
}
