//! One shard's forward and backward passes, in its preallocated
//! `Workspace`, optionally cut into blocks that run in parallel on the
//! trainer's pool.
//!
//! When a step has fewer shards than the parallel tasks its work is worth
//! (at most the pool's threads, [`crate::work::tasks_for`]), each shard's
//! work is split further (`StepCtx::parts` blocks per shard, see
//! [`parts_per_shard`]): the forward GEMM, bias, activation and dropout of a
//! layer by blocks of rows; the input-delta GEMM, the dropout mask and the
//! activation derivative by blocks of rows; the weight-gradient GEMM by
//! blocks of its output's rows (the layer's units). A forward or input-delta
//! product with more columns than rows (a wide layer on a short shard) is
//! cut by blocks of columns instead ([`crate::tensor::ColBlock`]), so that
//! each block packs its part of the weight matrix rather than all of it;
//! dropout then follows by rows. Each block is its own
//! `matrixmultiply` call on a sub-view, and a block of an output computes
//! each of its elements exactly as the whole product does (the sum over `k`
//! is not cut, and `α = 1`, `β ∈ {0, 1}` round alike in the full and edge
//! tiles), so the result does not depend on the number of blocks: the same
//! bits for any thread count. The head and the bias gradient (a few
//! operations per row) stay whole. Blocks are forked with `rayon::join`
//! (no heap allocation) on the pool the shards already run on: no second
//! pool, no more threads than the pool has.

use std::time::Instant;

use crate::activation::{Activation, Head};
use crate::aligned::AlignedVec;
use crate::data::{Prep, Targets};
use crate::dropout::Dropout;
use crate::error::Result;
use crate::kernels::{self, gemm, simd};
use crate::network::{layer_forward, layer_linear, Layout, Mlp};
use crate::smoothing::LabelSmoothing;
use crate::tensor::{ColBlock, MatRef, Values};

/// Rows of a block are a multiple of this (the widest `matrixmultiply`
/// micro-kernel's rows), except the last block's.
const BLOCK_ALIGN: usize = 16;

/// Padding after each buffer so that two shards' buffers never share a cache line.
const PAD: usize = 16;

fn padded(len: usize) -> Vec<f32> {
    let mut v = Vec::with_capacity(len + PAD);
    v.resize(len, 0.0);
    v
}

/// Blocks per shard for `threads` threads and `shards` shards: 1 when there
/// are at least as many shards as threads, else `⌈threads / shards⌉`.
///
/// ```
/// use backprop::shard::parts_per_shard;
/// assert_eq!(parts_per_shard(2, 2), 1);
/// assert_eq!(parts_per_shard(2, 1), 2);
/// assert_eq!(parts_per_shard(16, 2), 8);
/// assert_eq!(parts_per_shard(3, 2), 2);
/// ```
pub fn parts_per_shard(threads: usize, shards: usize) -> usize {
    if shards == 0 || threads <= shards {
        1
    } else {
        threads.div_ceil(shards)
    }
}

/// The rows of each block when `rows` are cut into `parts` blocks:
/// `⌈rows / parts⌉` rounded up to a multiple of 16 (all of `rows` for one
/// part). The last block takes what is left.
///
/// ```
/// use backprop::shard::block_rows;
/// assert_eq!(block_rows(256, 1), 256);
/// assert_eq!(block_rows(256, 2), 128);
/// assert_eq!(block_rows(128, 3), 48); // 48 + 48 + 32
/// assert_eq!(block_rows(10, 4), 16);  // one block
/// ```
pub fn block_rows(rows: usize, parts: usize) -> usize {
    if parts <= 1 {
        return rows.max(1);
    }
    rows.div_ceil(parts).div_ceil(BLOCK_ALIGN) * BLOCK_ALIGN
}

/// What every shard of a step shares besides the batch.
#[derive(Clone, Copy)]
pub(crate) struct StepCtx<'a> {
    /// Dropout on the hidden layers, if any.
    pub dropout: Option<&'a Dropout>,
    /// The targets' label smoothing, if any.
    pub smoothing: Option<LabelSmoothing>,
    /// The optimizer's step count before this step (the masks' key).
    pub step: u64,
    /// Time forward and backward.
    pub profile: bool,
    /// Blocks each GEMM of a shard is cut into ([`parts_per_shard`]).
    pub parts: usize,
}

/// Where a step's rows come from.
#[derive(Clone, Copy)]
pub(crate) enum Batch<'a> {
    /// Contiguous rows: `x` is `m × n_0`, `y` is `m × n_L`, `w` (if weighted)
    /// `m` weights.
    Rows {
        x: &'a [f32],
        y: &'a [f32],
        w: Option<&'a [f32]>,
    },
    /// Rows `idx` of a whole dataset (`x`, `y`, `w`), gathered by each
    /// shard (class targets expanded there).
    Gather {
        x: Values<'a>,
        y: Targets<'a>,
        w: Option<&'a [f32]>,
        idx: &'a [usize],
        /// What each gathered row of `x` still needs (features read in
        /// place: a memory map, or image bytes).
        prep: Option<&'a Prep>,
    },
}

impl Batch<'_> {
    /// The sum of the weights of the batch's `rows` rows, added in row order
    /// (so it does not depend on the shards); `None` when unweighted.
    pub fn weight_sum(&self, rows: usize) -> Option<f64> {
        match *self {
            Batch::Rows { w, .. } => w.map(|w| w[..rows].iter().map(|&v| f64::from(v)).sum()),
            Batch::Gather { w, idx, .. } => {
                w.map(|w| idx[..rows].iter().map(|&r| f64::from(w[r])).sum())
            }
        }
    }

    /// Rows `r0..r1` of the batch as contiguous `x` (`n_0` values a row,
    /// `widths.0`), `y` (`n_L`, `widths.1`) and weights: slices of the batch,
    /// or for `Gather` the rows copied (and prepared) into `xbuf`, `ybuf`
    /// and `wbuf`.
    fn shard_rows<'s>(
        &'s self,
        r0: usize,
        r1: usize,
        (n0, nl): (usize, usize),
        xbuf: &'s mut [f32],
        ybuf: &'s mut [f32],
        wbuf: &'s mut [f32],
    ) -> (&'s [f32], &'s [f32], Option<&'s [f32]>) {
        match *self {
            Batch::Rows { x, y, w } => (
                &x[r0 * n0..r1 * n0],
                &y[r0 * nl..r1 * nl],
                w.map(|w| &w[r0..r1]),
            ),
            Batch::Gather { x, y, w, idx, prep } => {
                let rows = r1 - r0;
                for (i, &r) in idx[r0..r1].iter().enumerate() {
                    let row = &mut xbuf[i * n0..(i + 1) * n0];
                    x.copy_to(r * n0, row);
                    if let Some(p) = prep {
                        p.apply_row(row);
                    }
                    y.write_row(r, &mut ybuf[i * nl..(i + 1) * nl]);
                }
                let w = w.map(|w| {
                    for (wb, &r) in wbuf.iter_mut().zip(&idx[r0..r1]) {
                        *wb = w[r];
                    }
                    &wbuf[..rows]
                });
                (&xbuf[..rows * n0], &ybuf[..rows * nl], w)
            }
        }
    }

    /// The dataset index of batch row `r` (the dropout key's row).
    fn row_id(&self, r: usize) -> u64 {
        match *self {
            Batch::Rows { .. } => r as u64,
            Batch::Gather { idx, .. } => idx[r] as u64,
        }
    }
}

pub(crate) fn elapsed_ns(t: Instant) -> u64 {
    u64::try_from(t.elapsed().as_nanos()).unwrap_or(u64::MAX)
}

/// Scratch of one shard, allocated once for `shard_rows` rows.
pub(crate) struct Workspace {
    /// Per layer `l`: `Z_l`, then `A_l` in place (`shard_rows × n_{l+1}`); the
    /// output layer's buffer ends up holding `dZ_L`.
    pub acts: Vec<Vec<f32>>,
    /// Two ping-pong buffers for `dA_{l-1}` / `dZ_{l-1}`.
    delta: [Vec<f32>; 2],
    /// Gathered input rows (shuffled epochs).
    x: Vec<f32>,
    /// Gathered target rows.
    y: Vec<f32>,
    /// The shard's targets smoothed (empty without label smoothing).
    y_smoothed: Vec<f32>,
    /// Per hidden layer `l` with dropout: `A_l` with the mask applied (the
    /// next layer's input), and the mask itself (`0` or `1/(1-p)`).
    dropped: Vec<Vec<f32>>,
    masks: Vec<Vec<f32>>,
    /// Per hidden layer `l`: its pre-activations `Z_l` when its activation's
    /// derivative needs them ([`Activation::needs_input`]), else empty.
    pre: Vec<Vec<f32>>,
    /// Gathered row weights (weighted datasets).
    w: Vec<f32>,
    /// Row weights spread over the outputs (weighted element-wise heads).
    w_outputs: Vec<f32>,
    /// This shard's summed gradient, flat like the parameters.
    pub grad: AlignedVec,
    /// This shard's summed loss.
    pub loss: f64,
    /// Rows whose predicted class (the largest logit; for one sigmoid
    /// output, a logit of at least 0) is their target's, for the heads of
    /// single-label classification; 0 for the others.
    pub correct: u64,
    /// Nanoseconds spent in forward and backward (only when profiling).
    pub forward_ns: u64,
    pub backward_ns: u64,
}

/// Something with rows that splits into two disjoint parts at a row.
trait Rows: Sized + Send {
    fn rows(&self) -> usize;
    fn split(self, at: usize) -> (Self, Self);
}

/// Runs `f` on `b` cut into blocks of `block` rows (the last one shorter),
/// halving recursively with `rayon::join`; the first error wins.
fn in_blocks<B: Rows>(b: B, block: usize, f: &(impl Fn(B) -> Result<()> + Sync)) -> Result<()> {
    let n = b.rows();
    if n <= block {
        return f(b);
    }
    let at = n.div_ceil(block) / 2 * block;
    let (left, right) = b.split(at);
    let (l, r) = rayon::join(|| in_blocks(left, block, f), || in_blocks(right, block, f));
    l.and(r)
}

/// Splits a row-major slice of rows of `width` at row `at`; an empty slice
/// (a buffer not in use) stays empty on both sides.
fn cut(s: &[f32], at: usize, width: usize) -> (&[f32], &[f32]) {
    if s.is_empty() {
        (s, s)
    } else {
        s.split_at(at * width)
    }
}

fn cut_mut(s: &mut [f32], at: usize, width: usize) -> (&mut [f32], &mut [f32]) {
    if s.is_empty() {
        s.split_at_mut(0)
    } else {
        s.split_at_mut(at * width)
    }
}

/// Rows `r0..r0 + rows` of one layer's forward pass.
struct Forward<'a> {
    r0: usize,
    rows: usize,
    a_prev: &'a [f32],
    z: &'a mut [f32],
    /// The kept pre-activations; empty where the activation needs none.
    pre: &'a mut [f32],
    /// Empty without dropout (or for the output layer).
    dropped: &'a mut [f32],
    masks: &'a mut [f32],
    n_in: usize,
    n_out: usize,
}

impl Rows for Forward<'_> {
    fn rows(&self) -> usize {
        self.rows
    }
    fn split(self, at: usize) -> (Self, Self) {
        let (a1, a2) = cut(self.a_prev, at, self.n_in);
        let (z1, z2) = cut_mut(self.z, at, self.n_out);
        let (p1, p2) = cut_mut(self.pre, at, self.n_out);
        let (d1, d2) = cut_mut(self.dropped, at, self.n_out);
        let (m1, m2) = cut_mut(self.masks, at, self.n_out);
        let (n_in, n_out) = (self.n_in, self.n_out);
        (
            Forward {
                r0: self.r0,
                rows: at,
                a_prev: a1,
                z: z1,
                pre: p1,
                dropped: d1,
                masks: m1,
                n_in,
                n_out,
            },
            Forward {
                r0: self.r0 + at,
                rows: self.rows - at,
                a_prev: a2,
                z: z2,
                pre: p2,
                dropped: d2,
                masks: m2,
                n_in,
                n_out,
            },
        )
    }
}

impl Forward<'_> {
    /// Dropout `d` on these rows of hidden layer `l`: `dropped = z ⊙ mask`,
    /// with the masks of optimizer step `step` for the rows' dataset ids.
    #[inline]
    fn drop_out(self, d: &Dropout, batch: &Batch<'_>, step: u64, l: usize) {
        let rows = self.z.chunks_exact(self.n_out);
        let out = self.dropped.chunks_exact_mut(self.n_out);
        let mask = self.masks.chunks_exact_mut(self.n_out);
        for (i, ((a, o), m)) in rows.zip(out).zip(mask).enumerate() {
            let row = batch.row_id(self.r0 + i);
            simd::dropout_row_simd(a, o, m, d.row(step, l, row));
        }
    }
}

/// Rows of `dA = dZ·W`, masked by dropout's mask and multiplied by the
/// activation's derivative at `a`.
struct Delta<'a> {
    rows: usize,
    dz: &'a [f32],
    da: &'a mut [f32],
    /// Empty without dropout.
    mask: &'a [f32],
    a: &'a [f32],
    /// The pre-activations below; empty where the activation needs none.
    pre: &'a [f32],
    n_in: usize,
    n_out: usize,
}

impl Rows for Delta<'_> {
    fn rows(&self) -> usize {
        self.rows
    }
    fn split(self, at: usize) -> (Self, Self) {
        let (n_in, n_out) = (self.n_in, self.n_out);
        let (dz1, dz2) = cut(self.dz, at, n_out);
        let (da1, da2) = cut_mut(self.da, at, n_in);
        let (m1, m2) = cut(self.mask, at, n_in);
        let (a1, a2) = cut(self.a, at, n_in);
        let (p1, p2) = cut(self.pre, at, n_in);
        (
            Delta {
                rows: at,
                dz: dz1,
                da: da1,
                mask: m1,
                a: a1,
                pre: p1,
                n_in,
                n_out,
            },
            Delta {
                rows: self.rows - at,
                dz: dz2,
                da: da2,
                mask: m2,
                a: a2,
                pre: p2,
                n_in,
                n_out,
            },
        )
    }
}

/// Rows `o0..o0 + rows` of a weight gradient `dW` (`n_out × n_in`): units
/// of the layer.
struct WeightRows<'a> {
    o0: usize,
    rows: usize,
    dw: &'a mut [f32],
    n_in: usize,
}

impl Rows for WeightRows<'_> {
    fn rows(&self) -> usize {
        self.rows
    }
    fn split(self, at: usize) -> (Self, Self) {
        let (d1, d2) = self.dw.split_at_mut(at * self.n_in);
        (
            WeightRows {
                o0: self.o0,
                rows: at,
                dw: d1,
                n_in: self.n_in,
            },
            WeightRows {
                o0: self.o0 + at,
                rows: self.rows - at,
                dw: d2,
                n_in: self.n_in,
            },
        )
    }
}

/// A block of a layer's units (output columns), split by columns.
impl Rows for ColBlock<'_> {
    fn rows(&self) -> usize {
        self.cols()
    }
    fn split(self, at: usize) -> (Self, Self) {
        ColBlock::split(self, at)
    }
}

/// Whether a product whose output has `rows` rows and `cols` columns, and
/// whose weight operand has `cols` (forward) or its input dimension
/// (input delta) as the split side, is better cut by columns: each block
/// then packs its own part of the weights and all of the (smaller) rows,
/// instead of all of the weights.
fn by_columns(parts: usize, rows: usize, cols: usize) -> bool {
    parts > 1 && cols > rows
}

impl Workspace {
    /// Scratch for shards of `rows` rows of a network shaped `layout` with
    /// hidden activations `hidden_acts`; `(dropout, smoothing)` say which
    /// optional buffers are needed.
    pub fn new(
        layout: &Layout,
        hidden_acts: &[Activation],
        rows: usize,
        (dropout, smoothing): (bool, bool),
    ) -> Workspace {
        let sizes = &layout.sizes;
        let hidden = &sizes[1..sizes.len() - 1];
        let max_hidden = hidden.iter().copied().max().unwrap_or(0);
        let per_hidden = || -> Vec<Vec<f32>> {
            if dropout {
                hidden.iter().map(|&n| padded(rows * n)).collect()
            } else {
                Vec::new()
            }
        };
        let pre = hidden
            .iter()
            .zip(hidden_acts)
            .map(|(&n, act)| {
                if act.needs_input() {
                    padded(rows * n)
                } else {
                    Vec::new()
                }
            })
            .collect();
        Workspace {
            dropped: per_hidden(),
            masks: per_hidden(),
            pre,
            w: padded(rows),
            w_outputs: padded(rows * sizes[sizes.len() - 1]),
            acts: sizes[1..].iter().map(|&n| padded(rows * n)).collect(),
            delta: [padded(rows * max_hidden), padded(rows * max_hidden)],
            x: padded(rows * sizes[0]),
            y: padded(rows * sizes[sizes.len() - 1]),
            y_smoothed: if smoothing {
                padded(rows * sizes[sizes.len() - 1])
            } else {
                Vec::new()
            },
            grad: AlignedVec::zeros(layout.len),
            loss: 0.0,
            correct: 0,
            forward_ns: 0,
            backward_ns: 0,
        }
    }

    /// Forward and backward over rows `r0..r1` of the batch: sets `grad` to
    /// the summed (weighted) gradient of those rows and `loss` to their
    /// summed (weighted) loss. With dropout, the masks of optimizer step
    /// `ctx.step` are applied after each hidden layer.
    pub fn run(
        &mut self,
        mlp: &Mlp,
        batch: &Batch<'_>,
        r0: usize,
        r1: usize,
        ctx: StepCtx<'_>,
    ) -> Result<()> {
        let t0 = ctx.profile.then(Instant::now);
        let nl = mlp.outputs();
        let rows = r1 - r0;
        let Workspace {
            acts,
            delta,
            x: xbuf,
            y: ybuf,
            y_smoothed,
            dropped,
            masks,
            pre,
            w: wbuf,
            w_outputs,
            grad,
            loss,
            correct,
            forward_ns,
            backward_ns,
        } = self;
        let widths = (mlp.inputs(), nl);
        let (x, y, w) = batch.shard_rows(r0, r1, widths, xbuf, ybuf, wbuf);
        let pass = Pass {
            mlp,
            batch,
            ctx,
            r0,
            rows,
            block: block_rows(rows, ctx.parts),
            x,
        };
        forward(&pass, acts, dropped, masks, pre)?;
        // Head: loss from the logits, then dZ_L = A_L - Y over them (each row
        // scaled by its weight, for a weighted batch).
        let z = &mut acts[mlp.layout().layers() - 1][..rows * nl];
        *correct = count_correct(mlp.head(), z, y, nl);
        let y: &[f32] = match ctx.smoothing {
            Some(s) => {
                let out = &mut y_smoothed[..rows * nl];
                simd::smooth_targets_simd(y, out, s.keep, s.add);
                out
            }
            None => y,
        };
        *loss = match w {
            None => kernels::head_loss_delta(mlp.head(), z, y, nl),
            Some(w) => kernels::head_loss_delta_weighted(mlp.head(), z, y, w, nl, w_outputs),
        };
        let t1 = t0.map(|t0| {
            *forward_ns += elapsed_ns(t0);
            Instant::now()
        });
        backward(&pass, acts, dropped, masks, pre, delta, grad)?;
        if let Some(t1) = t1 {
            *backward_ns += elapsed_ns(t1);
        }
        Ok(())
    }
}

/// What every layer of one shard's pass reads: the network, the batch, the
/// step, and the shard's rows `r0..r0 + rows` of the batch.
#[derive(Clone, Copy)]
struct Pass<'a> {
    mlp: &'a Mlp,
    batch: &'a Batch<'a>,
    ctx: StepCtx<'a>,
    r0: usize,
    rows: usize,
    /// Rows of a block of a product cut by rows ([`block_rows`]).
    block: usize,
    /// The shard's input rows (`rows × n_0`).
    x: &'a [f32],
}

impl<'a> Pass<'a> {
    /// Layer `l`'s input (`rows × n_in`): the shard's rows for the first
    /// layer, else the previous layer's output `A_{l-1}` from `acts`, or with
    /// dropout `Ã_{l-1}` from `dropped`.
    #[inline(always)]
    fn input<'b>(&self, l: usize, acts: &'b [Vec<f32>], dropped: &'b [Vec<f32>]) -> &'b [f32]
    where
        'a: 'b,
    {
        let n_in = self.mlp.layout().dims(l).0;
        match (l, self.ctx.dropout) {
            (0, _) => self.x,
            (_, Some(_)) => &dropped[l - 1][..self.rows * n_in],
            (_, None) => &acts[l - 1][..self.rows * n_in],
        }
    }

    /// The dropout after layer `l`: the step's, for a hidden layer.
    #[inline]
    fn hidden_dropout(&self, l: usize) -> Option<&'a Dropout> {
        self.ctx
            .dropout
            .filter(|_| l + 1 < self.mlp.layout().layers())
    }
}

/// Forward: Z_l = A_{l-1}·W_lᵀ + b_l, A_l = f(Z_l) in place (Z_l copied to
/// `pre[l]` first where f' needs it); with dropout, Ã_l = A_l ⊙ M_l feeds the
/// next layer (A_l is kept for f').
fn forward(
    p: &Pass<'_>,
    acts: &mut [Vec<f32>],
    dropped: &mut [Vec<f32>],
    masks: &mut [Vec<f32>],
    pre: &mut [Vec<f32>],
) -> Result<()> {
    let layout = p.mlp.layout();
    let rows = p.rows;
    for l in 0..layout.layers() {
        let n_out = layout.dims(l).1;
        let (done, rest) = acts.split_at_mut(l);
        let hidden = dropped.len();
        let (dropped_done, dropped_rest) = dropped.split_at_mut(l.min(hidden));
        let masks_rest = &mut masks[l.min(hidden)..];
        let a_prev = p.input(l, done, dropped_done);
        let (d, m): (&mut [f32], &mut [f32]) = match p.hidden_dropout(l) {
            Some(_) => (
                &mut dropped_rest[0][..rows * n_out],
                &mut masks_rest[0][..rows * n_out],
            ),
            None => (&mut [], &mut []),
        };
        let kept: &mut [f32] = match pre.get_mut(l) {
            Some(z) if !z.is_empty() => &mut z[..rows * n_out],
            _ => &mut [],
        };
        let out = LayerOut {
            z: &mut rest[0][..rows * n_out],
            pre: kept,
            dropped: d,
            masks: m,
        };
        forward_layer(p, l, a_prev, out)?;
    }
    Ok(())
}

/// Where one layer's forward pass writes (all `rows × n_out`; the optional
/// ones empty when not in use).
struct LayerOut<'a> {
    z: &'a mut [f32],
    pre: &'a mut [f32],
    dropped: &'a mut [f32],
    masks: &'a mut [f32],
}

/// Layer `l` forward over the shard's rows: `z = f(a_prev·W_lᵀ + b_l)`
/// (`rows × n_out`), by blocks of rows or of units; `pre` keeps the
/// pre-activations when given; for a hidden layer with dropout,
/// `dropped = z ⊙ masks` and `masks` (both empty otherwise).
fn forward_layer(p: &Pass<'_>, l: usize, a_prev: &[f32], out: LayerOut<'_>) -> Result<()> {
    let (n_in, n_out) = p.mlp.layout().dims(l);
    let hidden_dropout = p.hidden_dropout(l);
    let columns = by_columns(p.ctx.parts, p.rows, n_out);
    // with kept pre-activations, the activation follows by rows
    let keep = !out.pre.is_empty();
    let act = p.mlp.activation_after(l).filter(|_| keep);
    if columns {
        forward_columns(p, l, a_prev, out.z, !keep)?;
        if hidden_dropout.is_none() && !keep {
            return Ok(());
        }
    }
    let whole = Forward {
        r0: p.r0,
        rows: p.rows,
        a_prev,
        z: out.z,
        pre: out.pre,
        dropped: out.dropped,
        masks: out.masks,
        n_in,
        n_out,
    };
    in_blocks(whole, p.block, &|b: Forward<'_>| {
        if !columns && keep {
            layer_linear(p.mlp, l, b.a_prev, b.rows, b.z)?;
        } else if !columns {
            layer_forward(p.mlp, l, b.a_prev, b.rows, b.z)?;
        }
        if let Some(act) = act {
            b.pre.copy_from_slice(b.z);
            kernels::activate(act, b.z);
        }
        if let Some(d) = hidden_dropout {
            b.drop_out(d, p.batch, p.ctx.step, l);
        }
        Ok(())
    })
}

/// Layer `l` forward by blocks of units (output columns):
/// `Z[:, u] = A·W[u]ᵀ + b[u]`, then (if `activate`) the activation.
fn forward_columns(
    p: &Pass<'_>,
    l: usize,
    a_prev: &[f32],
    z: &mut [f32],
    activate: bool,
) -> Result<()> {
    let (rows, (n_in, n_out)) = (p.rows, p.mlp.layout().dims(l));
    let act = p.mlp.activation_after(l).filter(|_| activate);
    let (w, b) = (p.mlp.weights(l), p.mlp.bias(l));
    let a = MatRef::new(a_prev, rows, n_in);
    let units = ColBlock::new(z, rows, n_out);
    in_blocks(units, block_rows(n_out, p.ctx.parts), &|mut c: ColBlock<
        '_,
    >| {
        let (u0, len) = (c.first_col(), c.cols());
        for r in 0..rows {
            c.row_mut(r).copy_from_slice(&b[u0..u0 + len]);
        }
        let wt = MatRef::with_strides(&w[u0 * n_in..], n_in, len, 1, n_in);
        gemm::gemm_cols(1.0, a, wt, 1.0, &mut c)?;
        if let Some(act) = act {
            for r in 0..rows {
                kernels::activate(act, c.row_mut(r));
            }
        }
        Ok(())
    })
}

/// Backward, l = L..1 (0-based: layers-1..0), from dZ_L in the output
/// layer's `acts`: `grad` gets every layer's dW_l and db_l, and `delta`
/// carries dZ_{l-1} down.
fn backward(
    p: &Pass<'_>,
    acts: &[Vec<f32>],
    dropped: &[Vec<f32>],
    masks: &[Vec<f32>],
    pre: &[Vec<f32>],
    delta: &mut [Vec<f32>; 2],
    grad: &mut [f32],
) -> Result<()> {
    let layout = p.mlp.layout();
    let (rows, layers) = (p.rows, layout.layers());
    let [d_a, d_b] = delta;
    let (mut cur, mut next) = (d_a, d_b);
    for l in (0..layers).rev() {
        let (n_in, n_out) = layout.dims(l);
        let dz: &[f32] = if l == layers - 1 {
            &acts[l][..rows * n_out]
        } else {
            &cur[..rows * n_out]
        };
        let (gw, gb) =
            grad[layout.w_range(l).start..layout.b_range(l).end].split_at_mut(n_out * n_in);
        weight_grad(p, l, dz, p.input(l, acts, dropped), gw)?;
        simd::col_sums_simd(dz, gb);
        if l > 0 {
            let mask: &[f32] = match p.ctx.dropout {
                Some(_) => &masks[l - 1][..rows * n_in],
                None => &[],
            };
            let below = Delta {
                rows,
                dz,
                da: &mut next[..rows * n_in],
                mask,
                a: &acts[l - 1][..rows * n_in],
                pre: match &pre[l - 1] {
                    z if z.is_empty() => &[],
                    z => &z[..rows * n_in],
                },
                n_in,
                n_out,
            };
            input_delta(p, l, below)?;
            std::mem::swap(&mut cur, &mut next);
        }
    }
    Ok(())
}

/// dW_l = dZ_lᵀ·A_{l-1} into `dw` (`n_out × n_in`), by blocks of the
/// layer's units.
fn weight_grad(p: &Pass<'_>, l: usize, dz: &[f32], a_prev: &[f32], dw: &mut [f32]) -> Result<()> {
    let (rows, (n_in, n_out)) = (p.rows, p.mlp.layout().dims(l));
    let units = WeightRows {
        o0: 0,
        rows: n_out,
        dw,
        n_in,
    };
    in_blocks(units, block_rows(n_out, p.ctx.parts), &|b: WeightRows<
        '_,
    >| {
        let dz_cols = MatRef::with_strides(&dz[b.o0..], rows, b.rows, n_out, 1);
        gemm::weight_grad_view(dz_cols, a_prev, n_in, b.dw)
    })
}

/// dZ_{l-1} of the shard's rows into `d.da`: `dZ_l·W_l`, masked by
/// dropout's mask, times the derivative of layer `l - 1`'s activation at
/// `d.a`; by blocks of rows, or of the previous layer's units.
fn input_delta(p: &Pass<'_>, l: usize, d: Delta<'_>) -> Result<()> {
    let act = p
        .mlp
        .activation_after(l - 1)
        .expect("hidden layer has an activation");
    if by_columns(p.ctx.parts, p.rows, d.n_in) {
        return input_delta_columns(p, l, act, d);
    }
    let (n_in, n_out) = (d.n_in, d.n_out);
    in_blocks(d, p.block, &|b: Delta<'_>| {
        gemm::input_delta(b.dz, b.rows, n_out, p.mlp.weights(l), n_in, b.da)?;
        if !b.mask.is_empty() {
            // dA = dÃ ⊙ M
            simd::mul_assign_simd(b.da, b.mask);
        }
        kernels::activate_backward(act, b.a, b.pre, b.da);
        Ok(())
    })
}

/// [`input_delta`] by blocks of the previous layer's units:
/// `dA[:, i] = dZ·W[:, i]`, then the mask and the derivative.
fn input_delta_columns(p: &Pass<'_>, l: usize, act: Activation, d: Delta<'_>) -> Result<()> {
    let Delta {
        rows,
        dz,
        da,
        mask,
        a,
        pre,
        n_in,
        n_out,
    } = d;
    let (w, dz_m) = (p.mlp.weights(l), MatRef::new(dz, rows, n_out));
    let units = ColBlock::new(da, rows, n_in);
    in_blocks(units, block_rows(n_in, p.ctx.parts), &|mut c: ColBlock<
        '_,
    >| {
        let (i0, len) = (c.first_col(), c.cols());
        let wc = MatRef::with_strides(&w[i0..], n_out, len, n_in, 1);
        gemm::gemm_cols(1.0, dz_m, wc, 0.0, &mut c)?;
        for r in 0..rows {
            let at = r * n_in + i0..r * n_in + i0 + len;
            let da = c.row_mut(r);
            if !mask.is_empty() {
                simd::mul_assign_simd(da, &mask[at.clone()]);
            }
            let z: &[f32] = if pre.is_empty() {
                &[]
            } else {
                &pre[at.clone()]
            };
            kernels::activate_backward(act, &a[at], z, da);
        }
        Ok(())
    })
}

/// Whether a head's rows have one class each, predicted by its logits:
/// softmax, or a single sigmoid output.
pub(crate) fn counts_classes(head: Head, outputs: usize) -> bool {
    head == Head::SoftmaxCe || (head == Head::SigmoidBce && outputs == 1)
}

/// Rows of logits `z` (rows of `cols`) whose class is their target's in `y`:
/// the first largest logit against the first largest target (a one-hot
/// row's class), or for one sigmoid output `z ≥ 0` (a probability of at
/// least ½) against `y ≥ ½`. 0 for heads that do not predict one class.
pub(crate) fn count_correct(head: Head, z: &[f32], y: &[f32], cols: usize) -> u64 {
    if !counts_classes(head, cols) {
        return 0;
    }
    if cols == 1 {
        return z
            .iter()
            .zip(y)
            .filter(|(&z, &y)| (z >= 0.0) == (y >= 0.5))
            .count() as u64;
    }
    let first_max = |row: &[f32]| {
        let mut best = 0;
        for (j, &v) in row.iter().enumerate() {
            if v > row[best] {
                best = j;
            }
        }
        best
    };
    z.chunks_exact(cols)
        .zip(y.chunks_exact(cols))
        .filter(|(z, y)| first_max(z) == first_max(y))
        .count() as u64
}
