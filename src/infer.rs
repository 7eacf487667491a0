//! Forward passes over many rows — prediction, evaluation, held-out losses
//! and accuracies — in fixed-size chunks of rows on a thread pool, with
//! buffers allocated once.
//!
//! [`Inference`] cuts the rows into chunks of `chunk_rows` and runs them in
//! waves of one chunk per thread: the chunks of a wave run in parallel, each
//! in its own preallocated slot, and then the caller sees them in row order
//! ([`Inference::for_each_chunk`]), which is where losses are added and
//! predictions written. Memory is `O(threads · chunk_rows · width)`,
//! whatever the number of rows.
//!
//! A row's outputs do not depend on the other rows of its chunk: each layer
//! is one GEMM whose every output element is computed by the same sequence
//! of operations for any number of rows (`docs/backprop.md`, "Blocks inside
//! a shard"), and the bias, activations and head are per row. So the
//! results are bitwise the same for any chunk size and thread count, and
//! equal to [`Mlp::predict`] on all rows at once. Losses are summed row by
//! row in row order (`f64`), accuracies are counts.

use std::sync::Arc;

use rayon::prelude::*;

use crate::data::{predicted_class, Targets};
use crate::error::{Error, Result};
use crate::kernels;
use crate::network::{layer_forward, Mlp};

/// Rows per chunk when none are given: large enough for the GEMMs to run at
/// full speed, small enough for a chunk's activations to stay in cache.
pub const DEFAULT_CHUNK_ROWS: usize = 256;

/// The scratch of one chunk in flight.
struct Slot {
    /// Ping-pong buffers of the hidden layers' outputs (`chunk × width`).
    a: Vec<f32>,
    b: Vec<f32>,
    /// The chunk's logits (`chunk × outputs`).
    out: Vec<f32>,
    /// Rows of the chunk in this wave (0: no chunk).
    rows: usize,
}

/// Chunked, parallel forward passes for networks shaped like one [`Mlp`].
pub struct Inference {
    /// `None`: the calling thread alone.
    pool: Option<Arc<rayon::ThreadPool>>,
    chunk: usize,
    sizes: Vec<usize>,
    slots: Vec<Slot>,
    /// One row's logits, for the head's loss (which overwrites them).
    row: Vec<f32>,
    /// One row's targets.
    target: Vec<f32>,
}

impl std::fmt::Debug for Inference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Inference")
            .field("threads", &self.threads())
            .field("chunk_rows", &self.chunk)
            .field("sizes", &self.sizes)
            .finish()
    }
}

/// The figures of a labelled set ([`Inference::evaluate`]).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Figures {
    /// The mean loss the model minimises.
    pub loss: f64,
    /// The share of rows whose predicted class is their label, when labels
    /// were given.
    pub accuracy: Option<f64>,
}

impl Inference {
    /// Buffers for networks shaped like `mlp`, on a new pool of `threads`
    /// threads (0: one per core), in chunks of `chunk_rows` rows.
    ///
    /// # Errors
    /// [`Error::Config`] (`chunk_rows`, `threads`) for a chunk of 0 rows or
    /// a pool that cannot be built.
    pub fn new(mlp: &Mlp, threads: usize, chunk_rows: usize) -> Result<Inference> {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .thread_name(|i| format!("backprop-infer-{i}"))
            .build()
            .map_err(|e| Error::config("threads", e))?;
        Inference::with_pool(mlp, Arc::new(pool), chunk_rows)
    }

    /// As [`Inference::new`] on the calling thread alone: no pool, no
    /// thread started.
    ///
    /// # Errors
    /// [`Error::Config`] (`chunk_rows`) for a chunk of 0 rows.
    pub fn on_this_thread(mlp: &Mlp, chunk_rows: usize) -> Result<Inference> {
        Inference::build(mlp, None, chunk_rows)
    }

    /// As [`Inference::new`], on an existing pool (a trainer's,
    /// [`crate::Trainer::pool`]): no second set of threads.
    ///
    /// # Errors
    /// [`Error::Config`] (`chunk_rows`) for a chunk of 0 rows.
    pub fn with_pool(
        mlp: &Mlp,
        pool: Arc<rayon::ThreadPool>,
        chunk_rows: usize,
    ) -> Result<Inference> {
        Inference::build(mlp, Some(pool), chunk_rows)
    }

    fn build(
        mlp: &Mlp,
        pool: Option<Arc<rayon::ThreadPool>>,
        chunk_rows: usize,
    ) -> Result<Inference> {
        if chunk_rows == 0 {
            return Err(Error::config("chunk_rows", "must be at least 1"));
        }
        let sizes = mlp.sizes().to_vec();
        let width = sizes[1..sizes.len() - 1].iter().copied().max().unwrap_or(0);
        let outputs = mlp.outputs();
        let threads = pool.as_ref().map_or(1, |p| p.current_num_threads());
        let slots = (0..threads)
            .map(|_| Slot {
                a: vec![0.0; chunk_rows * width],
                b: vec![0.0; chunk_rows * width],
                out: vec![0.0; chunk_rows * outputs],
                rows: 0,
            })
            .collect();
        Ok(Inference {
            pool,
            chunk: chunk_rows,
            sizes,
            slots,
            row: vec![0.0; outputs],
            target: vec![0.0; outputs],
        })
    }

    /// Threads of the pool.
    pub fn threads(&self) -> usize {
        self.slots.len()
    }

    /// Rows per chunk.
    pub fn chunk_rows(&self) -> usize {
        self.chunk
    }

    fn check(&self, mlp: &Mlp, x: &[f32], rows: usize) -> Result<()> {
        if mlp.sizes() != self.sizes.as_slice() {
            return Err(Error::shape(
                "Inference",
                format!("a network {:?}", self.sizes),
                format!("{:?}", mlp.sizes()),
            ));
        }
        if rows.checked_mul(mlp.inputs()) != Some(x.len()) {
            return Err(Error::shape(
                "Inference",
                format!("{rows} rows × {} inputs", mlp.inputs()),
                format!("{} values", x.len()),
            ));
        }
        Ok(())
    }

    /// Computes the logits of `rows` rows of `x` (row-major, `rows × n_0`)
    /// chunk by chunk and calls `visit(first_row, logits)` for each chunk in
    /// row order, `logits` holding the chunk's rows (`chunk × n_L`, to use
    /// or overwrite). Nothing is allocated after [`Inference::new`].
    ///
    /// # Errors
    /// [`Error::Shape`] if `mlp` is not shaped as at construction or `x` is
    /// not `rows × n_0`; the first error of `visit`.
    pub fn for_each_chunk(
        &mut self,
        mlp: &Mlp,
        x: &[f32],
        rows: usize,
        mut visit: impl FnMut(usize, &mut [f32]) -> Result<()>,
    ) -> Result<()> {
        self.check(mlp, x, rows)?;
        let (n0, nl, chunk) = (mlp.inputs(), mlp.outputs(), self.chunk);
        let wave = chunk * self.slots.len();
        let mut first = 0;
        while first < rows {
            let run = |i: usize, slot: &mut Slot| -> Result<()> {
                let r0 = (first + i * chunk).min(rows);
                let r1 = (r0 + chunk).min(rows);
                slot.rows = r1 - r0;
                if slot.rows == 0 {
                    return Ok(());
                }
                forward_chunk(mlp, &x[r0 * n0..r1 * n0], slot)
            };
            let slots = &mut self.slots;
            match &self.pool {
                Some(pool) if slots.len() > 1 => pool.install(|| {
                    slots
                        .par_iter_mut()
                        .enumerate()
                        .try_for_each(|(i, slot)| run(i, slot))
                })?,
                _ => run(0, &mut slots[0])?,
            }
            for (i, slot) in self.slots.iter_mut().enumerate() {
                if slot.rows > 0 {
                    visit(first + i * chunk, &mut slot.out[..slot.rows * nl])?;
                }
            }
            first += wave;
        }
        Ok(())
    }

    /// The head's outputs (probabilities, or regression values) of `rows`
    /// rows of `x` into `out` (`rows × n_L`): [`Mlp::predict`] without its
    /// allocations, in parallel.
    ///
    /// # Errors
    /// As [`Inference::for_each_chunk`]; [`Error::Shape`] if `out` is not
    /// `rows × n_L`.
    pub fn predict_into(
        &mut self,
        mlp: &Mlp,
        x: &[f32],
        rows: usize,
        out: &mut [f32],
    ) -> Result<()> {
        let nl = mlp.outputs();
        if rows.checked_mul(nl) != Some(out.len()) {
            return Err(Error::shape(
                "Inference::predict_into",
                format!("{rows} rows × {nl} outputs"),
                format!("{} values", out.len()),
            ));
        }
        let head = mlp.head();
        self.for_each_chunk(mlp, x, rows, |r0, logits| {
            kernels::head_activate(head, logits, nl);
            out[r0 * nl..r0 * nl + logits.len()].copy_from_slice(logits);
            Ok(())
        })
    }

    /// The mean loss over `rows` rows of `x` with targets `y` (`rows × n_L`),
    /// each row's loss computed from its logits as in training (MSE with the
    /// ½) and added in row order; with `labels`, also the accuracy of the
    /// predicted classes ([`crate::data::accuracy`]'s: the largest
    /// probability, or for one output a probability of at least ½).
    ///
    /// # Errors
    /// As [`Inference::for_each_chunk`]; [`Error::Shape`] if `y` or `labels`
    /// has the wrong length; [`Error::Config`] (`rows`) for no rows.
    pub fn evaluate(
        &mut self,
        mlp: &Mlp,
        x: &[f32],
        y: &[f32],
        rows: usize,
        labels: Option<&[usize]>,
    ) -> Result<Figures> {
        let nl = mlp.outputs();
        if rows.checked_mul(nl) != Some(y.len()) {
            return Err(Error::shape(
                "Inference::evaluate",
                format!("{rows} rows × {nl} targets"),
                format!("{} target values", y.len()),
            ));
        }
        self.evaluate_targets(mlp, x, Targets::Values { y, width: nl }, labels)
    }

    /// [`Inference::evaluate`] with the targets of a dataset
    /// ([`crate::data::Dataset::targets`]): class indices are expanded row
    /// by row, never into a matrix of all rows.
    ///
    /// # Errors
    /// As [`Inference::evaluate`]; [`Error::Shape`] if `y` is not as wide
    /// as the network's output or has not as many rows as `x`.
    pub fn evaluate_targets(
        &mut self,
        mlp: &Mlp,
        x: &[f32],
        y: Targets<'_>,
        labels: Option<&[usize]>,
    ) -> Result<Figures> {
        self.evaluate_impl(mlp, x, y, labels, None)
    }

    /// [`Inference::evaluate_targets`] that also shows each row's head
    /// outputs (what [`Inference::predict_into`] writes), in row order, to
    /// `visit(row, outputs)`: the figures and whatever the caller keeps of
    /// the predictions, from one forward pass.
    ///
    /// # Errors
    /// As [`Inference::evaluate_targets`]; the first error of `visit`.
    pub fn evaluate_each(
        &mut self,
        mlp: &Mlp,
        x: &[f32],
        y: Targets<'_>,
        labels: Option<&[usize]>,
        mut visit: impl FnMut(usize, &[f32]) -> Result<()>,
    ) -> Result<Figures> {
        self.evaluate_impl(mlp, x, y, labels, Some(&mut visit))
    }

    fn evaluate_impl(
        &mut self,
        mlp: &Mlp,
        x: &[f32],
        y: Targets<'_>,
        labels: Option<&[usize]>,
        mut visit: Option<&mut RowVisitor<'_>>,
    ) -> Result<Figures> {
        let (n0, nl) = (mlp.inputs(), mlp.outputs());
        let rows = y.rows();
        if rows == 0 {
            return Err(Error::config(
                "rows",
                "the loss of zero samples is undefined",
            ));
        }
        if y.width() != nl
            || rows.checked_mul(n0) != Some(x.len())
            || labels.is_some_and(|l| l.len() != rows)
        {
            return Err(Error::shape(
                "Inference::evaluate",
                format!("{rows} rows × {nl} targets, {rows} rows of x and {rows} labels"),
                format!(
                    "{} × {} targets, {} values of x and {} labels",
                    rows,
                    y.width(),
                    x.len(),
                    labels.map_or(0, <[usize]>::len)
                ),
            ));
        }
        let head = mlp.head();
        let mut row_buf = std::mem::take(&mut self.row);
        let mut target = std::mem::take(&mut self.target);
        let (mut loss, mut correct) = (0.0f64, 0usize);
        let result = self.for_each_chunk(mlp, x, rows, |r0, logits| {
            for (i, z) in logits.chunks_exact(nl).enumerate() {
                let r = r0 + i;
                if labels.is_some() || visit.is_some() {
                    // the probabilities, as `predict` reports them
                    row_buf.copy_from_slice(z);
                    kernels::head_activate(head, &mut row_buf, nl);
                    if let Some(labels) = labels {
                        correct += usize::from(predicted_class(&row_buf) == labels[r]);
                    }
                    if let Some(visit) = visit.as_mut() {
                        visit(r, &row_buf)?;
                    }
                }
                row_buf.copy_from_slice(z);
                y.write_row(r, &mut target);
                loss += kernels::head_loss_delta(head, &mut row_buf, &target, nl);
            }
            Ok(())
        });
        self.row = row_buf;
        self.target = target;
        result?;
        Ok(Figures {
            loss: loss / rows as f64,
            accuracy: labels.map(|_| correct as f64 / rows as f64),
        })
    }
}

/// What [`Inference::evaluate_each`] shows each row's outputs to.
type RowVisitor<'a> = dyn FnMut(usize, &[f32]) -> Result<()> + 'a;

/// One chunk's forward pass into its slot.
fn forward_chunk(mlp: &Mlp, x: &[f32], slot: &mut Slot) -> Result<()> {
    let rows = slot.rows;
    let layers = mlp.num_layers();
    let Slot { a, b, out, .. } = slot;
    let (mut prev, mut next): (&mut Vec<f32>, &mut Vec<f32>) = (a, b);
    for l in 0..layers {
        let (n_in, n_out) = mlp.layout().dims(l);
        let input: &[f32] = if l == 0 { x } else { &prev[..rows * n_in] };
        if l + 1 == layers {
            layer_forward(mlp, l, input, rows, &mut out[..rows * n_out])?;
        } else {
            layer_forward(mlp, l, input, rows, &mut next[..rows * n_out])?;
            std::mem::swap(&mut prev, &mut next);
        }
    }
    Ok(())
}
