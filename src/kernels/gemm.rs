//! Safe, shape-checked wrappers over `matrixmultiply::sgemm`.
//!
//! [`gemm`] takes strided views, so a transpose is a view with swapped strides
//! ([`MatRef::t`]) and is never copied. The three products of training are
//! thin functions on dense row-major slices:
//!
//! | product | shapes | layouts |
//! |---|---|---|
//! | [`forward`]: `Z ← A·Wᵀ + Z` | `m×k · (n×k)ᵀ` | W read through transposed strides |
//! | [`weight_grad`]: `dW ← dZᵀ·A` | `(m×n)ᵀ · m×k` | dZ read through transposed strides |
//! | [`input_delta`]: `dA ← dZ·W` | `m×n · n×k` | plain |
//!
//! `matrixmultiply`'s own threading feature is left off: the trainer
//! parallelises over shards above the GEMM. Note that each `sgemm` call with
//! non-empty operands allocates (and frees) one packing buffer inside
//! `matrixmultiply`; nothing else here allocates.

use crate::error::{Error, Result};
use crate::tensor::{required_len, ColBlock, MatMut, MatRef};

/// `C ← alpha·A·B + beta·C`.
///
/// With `beta == 0`, `C` is not read (it may hold NaN). Empty shapes are fine:
/// with `k == 0`, `C ← beta·C`.
///
/// # Errors
/// [`Error::Shape`] if `A` is `m×k`, `B` is not `k×n` or `C` is not `m×n`.
///
/// ```
/// use backprop::{kernels::gemm::gemm, Matrix};
/// let a = Matrix::from_vec(2, 3, vec![1., 2., 3., 4., 5., 6.]).unwrap();
/// let mut c = Matrix::zeros(2, 2);
/// // C = A·Aᵀ through strides, no copy of Aᵀ
/// gemm(1.0, a.view(), a.view().t(), 0.0, &mut c.view_mut()).unwrap();
/// assert_eq!(c.as_slice(), &[14., 32., 32., 77.]);
/// ```
pub fn gemm(alpha: f32, a: MatRef<'_>, b: MatRef<'_>, beta: f32, c: &mut MatMut<'_>) -> Result<()> {
    if !chained("gemm", a, b, c.rows(), c.cols())? {
        return Ok(());
    }
    let (m, n, rsc, csc) = (c.rows(), c.cols(), c.rs(), c.cs());
    let c_data = c.data_mut();
    assert!(c_data.len() >= required_len(m, n, rsc, csc));
    // SAFETY: A and B lie inside their slices (checked by `chained`), C
    // (m×n) inside its slice at its strides (asserted just above); C is
    // borrowed mutably, so it aliases neither A nor B, and MatMut's
    // constructor rejected strides under which two elements of C share one
    // location.
    unsafe { sgemm(alpha, a, b, beta, c_data.as_mut_ptr(), rsc, csc) };
    Ok(())
}

/// [`gemm`] into a block of columns of a larger matrix: `C ← α·A·B + β·C`
/// for the block `C` (`m×n`), written through its row stride, so that the
/// blocks of one matrix can be computed in parallel.
///
/// # Errors
/// [`Error::Shape`] if the shapes do not chain.
pub fn gemm_cols(
    alpha: f32,
    a: MatRef<'_>,
    b: MatRef<'_>,
    beta: f32,
    c: &mut ColBlock<'_>,
) -> Result<()> {
    if !chained("gemm_cols", a, b, c.rows(), c.cols())? {
        return Ok(());
    }
    let rsc = c.rs();
    // SAFETY: A and B lie inside their slices (checked by `chained`). C's
    // elements (i, j), i < m, j < n, are at offset i·rs + j from the block's
    // first element: inside the whole matrix (the block's columns end at or
    // before the row's end) and all this block's, which holds them
    // exclusively, so they alias neither A, B nor another block.
    unsafe { sgemm(alpha, a, b, beta, c.as_mut_ptr(), rsc, 1) };
    Ok(())
}

/// Checks that `A·B` fits into a `c_rows × c_cols` output and that A and B
/// lie inside their slices; `false` when the product is empty.
fn chained(
    op: &'static str,
    a: MatRef<'_>,
    b: MatRef<'_>,
    c_rows: usize,
    c_cols: usize,
) -> Result<bool> {
    let (m, k, n) = (a.rows(), a.cols(), b.cols());
    if b.rows() != k || c_rows != m || c_cols != n {
        return Err(Error::shape(
            op,
            format!("A {m}×{k} · B {k}×{n} into C {m}×{n}"),
            format!(
                "A {m}×{k} · B {}×{} into C {c_rows}×{c_cols}",
                b.rows(),
                b.cols(),
            ),
        ));
    }
    if m == 0 || n == 0 {
        return Ok(false);
    }
    // The views' constructors checked that every element they describe lies
    // inside their slice; check again here since the unsafe call relies on it.
    assert!(a.data().len() >= required_len(m, k, a.rs(), a.cs()));
    assert!(b.data().len() >= required_len(k, n, b.rs(), b.cs()));
    Ok(true)
}

/// `C ← α·A·B + β·C` through `matrixmultiply::sgemm`, C written at `c` with
/// strides (`rsc`, `csc`).
///
/// # Safety
/// A and B must lie inside their slices (as [`chained`] checks); every
/// element `c + i·rsc + j·csc` (`i < A.rows()`, `j < B.cols()`) must be
/// valid for writes, distinct, and alias neither A nor B, and nothing else
/// may access them during the call.
unsafe fn sgemm(
    alpha: f32,
    a: MatRef<'_>,
    b: MatRef<'_>,
    beta: f32,
    c: *mut f32,
    rsc: usize,
    csc: usize,
) {
    let stride = |s: usize| isize::try_from(s).expect("stride fits in isize");
    // SAFETY: the caller's contract above is matrixmultiply's.
    unsafe {
        matrixmultiply::sgemm(
            a.rows(),
            a.cols(),
            b.cols(),
            alpha,
            a.data().as_ptr(),
            stride(a.rs()),
            stride(a.cs()),
            b.data().as_ptr(),
            stride(b.rs()),
            stride(b.cs()),
            beta,
            c,
            stride(rsc),
            stride(csc),
        );
    }
}

/// Forward product `Z ← A·Wᵀ + Z` for `A` (`m×k`), `W` (`n×k`, PyTorch
/// orientation) and `Z` (`m×n`, holding the broadcast bias): `beta = 1` folds
/// the bias in.
pub fn forward(a: &[f32], m: usize, k: usize, w: &[f32], n: usize, z: &mut [f32]) -> Result<()> {
    let a = checked_view("forward: A", a, m, k)?;
    let w = checked_view("forward: W", w, n, k)?;
    let mut z = checked_view_mut("forward: Z", z, m, n)?;
    gemm(1.0, a, w.t(), 1.0, &mut z)
}

/// Weight gradient `dW ← dZᵀ·A` for `dZ` (`m×n`), `A` (`m×k`) and `dW`
/// (`n×k`), overwriting `dW` (`beta = 0`): the sum over the `m` rows.
pub fn weight_grad(
    dz: &[f32],
    m: usize,
    n: usize,
    a: &[f32],
    k: usize,
    dw: &mut [f32],
) -> Result<()> {
    let dz = checked_view("weight_grad: dZ", dz, m, n)?;
    weight_grad_view(dz, a, k, dw)
}

/// [`weight_grad`] for `dZ` given as a (strided) view: `dW ← dZᵀ·A` for `dZ`
/// `m×n`, `A` (`m×k`) and `dW` (`n×k`). With `dZ` a block of columns of a
/// larger delta, `dW` is the matching block of rows of the full gradient,
/// each element computed as the full product computes it.
pub fn weight_grad_view(dz: MatRef<'_>, a: &[f32], k: usize, dw: &mut [f32]) -> Result<()> {
    let (m, n) = (dz.rows(), dz.cols());
    let a = checked_view("weight_grad: A", a, m, k)?;
    let mut dw = checked_view_mut("weight_grad: dW", dw, n, k)?;
    gemm(1.0, dz.t(), a, 0.0, &mut dw)
}

/// Delta to the previous layer `dA ← dZ·W` for `dZ` (`m×n`), `W` (`n×k`) and
/// `dA` (`m×k`), overwriting `dA`.
pub fn input_delta(
    dz: &[f32],
    m: usize,
    n: usize,
    w: &[f32],
    k: usize,
    da: &mut [f32],
) -> Result<()> {
    let dz = checked_view("input_delta: dZ", dz, m, n)?;
    let w = checked_view("input_delta: W", w, n, k)?;
    let mut da = checked_view_mut("input_delta: dA", da, m, k)?;
    gemm(1.0, dz, w, 0.0, &mut da)
}

fn shape_error(op: &'static str, rows: usize, cols: usize, len: usize) -> Error {
    Error::shape(
        op,
        format!("{rows}×{cols} = {} values", rows.saturating_mul(cols)),
        format!("{len} values"),
    )
}

fn checked_view<'a>(
    op: &'static str,
    s: &'a [f32],
    rows: usize,
    cols: usize,
) -> Result<MatRef<'a>> {
    if rows.checked_mul(cols) != Some(s.len()) {
        return Err(shape_error(op, rows, cols, s.len()));
    }
    Ok(MatRef::new(s, rows, cols))
}

fn checked_view_mut<'a>(
    op: &'static str,
    s: &'a mut [f32],
    rows: usize,
    cols: usize,
) -> Result<MatMut<'a>> {
    if rows.checked_mul(cols) != Some(s.len()) {
        return Err(shape_error(op, rows, cols, s.len()));
    }
    Ok(MatMut::new(s, rows, cols))
}
