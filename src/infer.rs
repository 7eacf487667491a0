//! Forward passes over many rows — prediction, evaluation, held-out losses
//! and accuracies — in fixed-size chunks of rows on a thread pool, with
//! buffers allocated once.
//!
//! [`Inference`] cuts the rows into chunks of `chunk_rows` and runs them in
//! waves of one chunk per thread: the chunks of a wave run in parallel (on
//! the calling thread when the wave is too small to be worth forking,
//! [`crate::work::tasks_for`]), each in its own preallocated slot, and then
//! the caller sees them in row order
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

use crate::data::{predicted_class, Features, Targets};
use crate::error::{Error, Result};
use crate::kernels;
use crate::network::{layer_forward, Mlp};
use crate::tensor::Matrix;

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
    /// Evaluation: the head's outputs (`chunk × outputs`), each row's loss,
    /// and one row's scratch for the loss kernel (logits, then targets).
    probs: Vec<f32>,
    losses: Vec<f64>,
    row: Vec<f32>,
    target: Vec<f32>,
    /// [`Inference::predict_text`]: the chunk's text (its capacity is kept
    /// from one chunk to the next).
    text: Vec<u8>,
    /// The chunk's prepared input rows, for features that still need
    /// preparing ([`Features::prep`]).
    input: Vec<f32>,
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
    /// The least work a parallel chunk holds ([`Inference::set_min_task_flops`]).
    min_task_flops: u64,
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
                probs: vec![0.0; chunk_rows * outputs],
                losses: vec![0.0; chunk_rows],
                row: vec![0.0; outputs],
                target: vec![0.0; outputs],
                text: Vec::new(),
                input: vec![0.0; chunk_rows * sizes[0]],
                rows: 0,
            })
            .collect();
        Ok(Inference {
            pool,
            chunk: chunk_rows,
            sizes,
            slots,
            min_task_flops: crate::work::MIN_TASK_FLOPS,
        })
    }

    /// Sets the least work, in FLOPs, that a wave's chunks must hold each to
    /// run in parallel ([`crate::work::MIN_TASK_FLOPS`] by default; 0 runs
    /// every wave over all the threads). Only the speed changes.
    pub fn set_min_task_flops(&mut self, flops: u64) {
        self.min_task_flops = flops;
    }

    /// Threads of the pool.
    pub fn threads(&self) -> usize {
        self.slots.len()
    }

    /// Rows per chunk.
    pub fn chunk_rows(&self) -> usize {
        self.chunk
    }

    fn check(&self, mlp: &Mlp, values: usize, rows: usize) -> Result<()> {
        if mlp.sizes() != self.sizes.as_slice() {
            return Err(Error::shape(
                "Inference",
                format!("a network {:?}", self.sizes),
                format!("{:?}", mlp.sizes()),
            ));
        }
        if rows.checked_mul(mlp.inputs()) != Some(values) {
            return Err(Error::shape(
                "Inference",
                format!("{rows} rows × {} inputs", mlp.inputs()),
                format!("{values} values"),
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
    pub fn for_each_chunk<'x>(
        &mut self,
        mlp: &Mlp,
        x: impl Into<Features<'x>>,
        rows: usize,
        mut visit: impl FnMut(usize, &mut [f32]) -> Result<()>,
    ) -> Result<()> {
        let nl = mlp.outputs();
        self.waves(mlp, x.into(), rows, &|_, _| Ok(()), |r0, slot| {
            visit(r0, &mut slot.out[..slot.rows * nl])
        })
    }

    /// The chunks of `rows` rows of `x` in waves of one per slot: each
    /// chunk's forward pass and then `post(first_row, slot)` run in
    /// parallel, and `visit(first_row, slot)` sees the chunks of a wave in
    /// row order on the calling thread.
    fn waves(
        &mut self,
        mlp: &Mlp,
        x: Features<'_>,
        rows: usize,
        post: &PostChunk<'_>,
        mut visit: impl FnMut(usize, &mut Slot) -> Result<()>,
    ) -> Result<()> {
        self.check(mlp, x.x.len(), rows)?;
        let (n0, chunk) = (mlp.inputs(), self.chunk);
        let wave = chunk * self.slots.len();
        let flops_per_row = crate::work::forward_flops_per_row(mlp.sizes());
        let mut first = 0;
        while first < rows {
            let run = |i: usize, slot: &mut Slot| -> Result<()> {
                let r0 = (first + i * chunk).min(rows);
                let r1 = (r0 + chunk).min(rows);
                slot.rows = r1 - r0;
                if slot.rows == 0 {
                    return Ok(());
                }
                match x.ready() {
                    Some(x) => forward_chunk(mlp, &x[r0 * n0..r1 * n0], slot)?,
                    None => {
                        // features read in place: prepared into the slot
                        let mut input = std::mem::take(&mut slot.input);
                        let part = &mut input[..slot.rows * n0];
                        x.write_rows(r0, r1, n0, part);
                        let done = forward_chunk(mlp, part, slot);
                        slot.input = input;
                        done?;
                    }
                }
                post(r0, slot)
            };
            let slots = &mut self.slots;
            // a wave too small to be worth forking runs on this thread
            let wave_rows = wave.min(rows - first) as u64;
            let tasks = crate::work::tasks_for(
                flops_per_row.saturating_mul(wave_rows),
                slots.len(),
                self.min_task_flops,
            );
            match &self.pool {
                Some(pool) if tasks > 1 => pool.install(|| {
                    slots
                        .par_iter_mut()
                        .enumerate()
                        .try_for_each(|(i, slot)| run(i, slot))
                })?,
                // on this thread, outside the pool
                _ => slots
                    .iter_mut()
                    .enumerate()
                    .try_for_each(|(i, slot)| run(i, slot))?,
            }
            for (i, slot) in self.slots.iter_mut().enumerate() {
                if slot.rows > 0 {
                    visit(first + i * chunk, slot)?;
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
    pub fn predict_into<'x>(
        &mut self,
        mlp: &Mlp,
        x: impl Into<Features<'x>>,
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
        self.waves(
            mlp,
            x.into(),
            rows,
            &|_, slot| {
                kernels::head_activate(head, &mut slot.out[..slot.rows * nl], nl);
                Ok(())
            },
            |r0, slot| {
                let n = slot.rows * nl;
                out[r0 * nl..r0 * nl + n].copy_from_slice(&slot.out[..n]);
                Ok(())
            },
        )
    }

    /// The head's outputs of `rows` rows of `x` turned into bytes chunk by
    /// chunk, in parallel: `format(first_row, outputs, text)` appends a
    /// chunk's bytes to `text` (empty, with the capacity of earlier chunks)
    /// on the chunk's thread, where `outputs` holds the chunk's rows as
    /// [`Inference::predict_into`] writes them (to use or overwrite); then
    /// `write(text)` gets the chunks in row order on the calling thread.
    /// For predictions written as text, whose formatting costs as much as
    /// the forward pass.
    ///
    /// # Errors
    /// As [`Inference::for_each_chunk`]; the first error of `format` or
    /// `write`.
    pub fn predict_text<'x>(
        &mut self,
        mlp: &Mlp,
        x: impl Into<Features<'x>>,
        rows: usize,
        format: &ChunkFormat<'_>,
        mut write: impl FnMut(&[u8]) -> Result<()>,
    ) -> Result<()> {
        let (head, nl) = (mlp.head(), mlp.outputs());
        self.waves(
            mlp,
            x.into(),
            rows,
            &|r0, slot| {
                let out = &mut slot.out[..slot.rows * nl];
                kernels::head_activate(head, out, nl);
                slot.text.clear();
                format(r0, out, &mut slot.text)
            },
            |_, slot| write(&slot.text),
        )
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
    pub fn evaluate<'x>(
        &mut self,
        mlp: &Mlp,
        x: impl Into<Features<'x>>,
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
    pub fn evaluate_targets<'x>(
        &mut self,
        mlp: &Mlp,
        x: impl Into<Features<'x>>,
        y: Targets<'_>,
        labels: Option<&[usize]>,
    ) -> Result<Figures> {
        self.evaluate_impl(mlp, x.into(), y, labels, None)
    }

    /// [`Inference::evaluate_targets`] that also shows each row's head
    /// outputs (what [`Inference::predict_into`] writes), in row order, to
    /// `visit(row, outputs)`: the figures and whatever the caller keeps of
    /// the predictions, from one forward pass.
    ///
    /// # Errors
    /// As [`Inference::evaluate_targets`]; the first error of `visit`.
    pub fn evaluate_each<'x>(
        &mut self,
        mlp: &Mlp,
        x: impl Into<Features<'x>>,
        y: Targets<'_>,
        labels: Option<&[usize]>,
        mut visit: impl FnMut(usize, &[f32]) -> Result<()>,
    ) -> Result<Figures> {
        self.evaluate_impl(mlp, x.into(), y, labels, Some(&mut visit))
    }

    fn evaluate_impl(
        &mut self,
        mlp: &Mlp,
        x: Features<'_>,
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
            || rows.checked_mul(n0) != Some(x.x.len())
            || labels.is_some_and(|l| l.len() != rows)
        {
            return Err(Error::shape(
                "Inference::evaluate",
                format!("{rows} rows × {nl} targets, {rows} rows of x and {rows} labels"),
                format!(
                    "{} × {} targets, {} values of x and {} labels",
                    rows,
                    y.width(),
                    x.x.len(),
                    labels.map_or(0, <[usize]>::len)
                ),
            ));
        }
        let head = mlp.head();
        let probs = labels.is_some() || visit.is_some();
        // in parallel: each row's loss (from its logits, as in training)
        // and, if wanted, its head outputs
        let post = |r0: usize, slot: &mut Slot| -> Result<()> {
            let Slot {
                out,
                probs: p,
                losses,
                row,
                target,
                rows: n,
                ..
            } = slot;
            let z = &out[..*n * nl];
            if probs {
                p[..z.len()].copy_from_slice(z);
                kernels::head_activate(head, &mut p[..z.len()], nl);
            }
            for (i, (z, loss)) in z.chunks_exact(nl).zip(&mut losses[..*n]).enumerate() {
                row.copy_from_slice(z);
                y.write_row(r0 + i, target);
                *loss = kernels::head_loss_delta(head, row, target, nl);
            }
            Ok(())
        };
        // in row order: the sum of the losses, the classes, the visitor
        let (mut loss, mut correct) = (0.0f64, 0usize);
        self.waves(mlp, x, rows, &post, |r0, slot| {
            for (i, &l) in slot.losses[..slot.rows].iter().enumerate() {
                loss += l;
                if !probs {
                    continue;
                }
                let (r, p) = (r0 + i, &slot.probs[i * nl..(i + 1) * nl]);
                if let Some(labels) = labels {
                    correct += usize::from(predicted_class(p) == labels[r]);
                }
                if let Some(visit) = visit.as_mut() {
                    visit(r, p)?;
                }
            }
            Ok(())
        })?;
        Ok(Figures {
            loss: loss / rows as f64,
            accuracy: labels.map(|_| correct as f64 / rows as f64),
        })
    }
}

/// How [`Inference::predict_text`] turns a chunk's outputs into bytes:
/// `(first_row, outputs, text)`.
pub type ChunkFormat<'a> = dyn Fn(usize, &mut [f32], &mut Vec<u8>) -> Result<()> + Sync + 'a;

/// What runs on each chunk after its forward pass, in parallel.
type PostChunk<'a> = dyn Fn(usize, &mut Slot) -> Result<()> + Sync + 'a;

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

/// Prediction and loss of one network on the calling thread: chunked
/// forward passes through an [`Inference`] made for the call.
impl Mlp {
    /// The head's outputs for `rows` samples: probabilities (sigmoid or
    /// softmax) or regression values.
    ///
    /// # Errors
    /// [`Error::Shape`] unless `x.len() == rows * n_0`.
    pub fn predict(&self, x: &[f32], rows: usize) -> Result<Matrix> {
        let mut out = Matrix::zeros(rows, self.outputs());
        self.predict_into(x, rows, out.as_mut_slice())?;
        Ok(out)
    }

    /// [`Mlp::predict`] into a caller's buffer (`rows × n_L`), in chunks of
    /// [`DEFAULT_CHUNK_ROWS`] rows on the calling thread, with
    /// the same bits. Memory does not grow with `rows`; for many rows on
    /// many threads, keep an [`Inference`].
    ///
    /// ```
    /// use backprop::{Activation, Head, Mlp};
    /// let mlp = Mlp::new(&[3, 5, 2], &[Activation::Tanh], Head::SoftmaxCe, 1)?;
    /// let x: Vec<f32> = (0..3 * 700).map(|i| (i % 11) as f32 / 11.0).collect();
    /// let mut out = vec![0.0; 2 * 700];
    /// mlp.predict_into(&x, 700, &mut out)?;
    /// assert_eq!(out, mlp.predict(&x, 700)?.as_slice());
    /// # Ok::<(), backprop::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::Shape`] unless `x` is `rows × n_0` and `out` is `rows × n_L`.
    pub fn predict_into(&self, x: &[f32], rows: usize, out: &mut [f32]) -> Result<()> {
        Inference::on_this_thread(self, DEFAULT_CHUNK_ROWS)?.predict_into(self, x, rows, out)
    }

    /// The mean loss over `rows` samples with targets `y` (`rows × n_L`),
    /// computed from the logits as in `docs/backprop.md` (MSE with the ½),
    /// row by row, the rows' losses added in row order
    /// ([`Inference::evaluate`]).
    ///
    /// # Errors
    /// [`Error::Shape`] if `x` or `y` has the wrong length; [`Error::Config`]
    /// if `rows == 0`.
    pub fn loss(&self, x: &[f32], y: &[f32], rows: usize) -> Result<f64> {
        let mut infer = Inference::on_this_thread(self, DEFAULT_CHUNK_ROWS)?;
        Ok(infer.evaluate(self, x, y, rows, None)?.loss)
    }
}
