//! The blocked loops around a microkernel: k blocks of [`KC`] (partial sums
//! kept in `C`), column blocks of about [`NC`] (whole panels), then row
//! blocks of the kernel's largest row count, then the panels of the column
//! block. A block of `A` rows (`MR x KC`) stays in L1 while the panels of
//! the column block stream from L2.
//!
//! Invariants: the caller checked that `a`, `packed` and `c` hold the
//! elements the dims span ([`super::gemm`]); every pointer handed to a
//! microkernel then addresses only those elements (argued at each call).
//! The fma sequence of every output element is the reference's: k blocks
//! run in ascending order and each continues from the value in `C`.

use super::{Element, GemmDims};

/// Rows of `B` (the k extent) per block.
pub(super) const KC: usize = 256;
/// Columns of `B` per block (rounded down to whole panels, at least one).
pub(super) const NC: usize = 512;
/// Elements of the buffer a partial column panel goes through.
const EDGE: usize = 16 * 32;

/// A register-blocked microkernel.
pub(super) trait Micro {
    type T: Element;
    /// Columns of a `B` panel (and of the `C` block it computes).
    const NR: usize;
    /// The row counts it has instances for, descending, ending with 1.
    const ROWS: &'static [usize];

    /// For `rows` in [`Micro::ROWS`], `r < rows`, `j < NR`: continues the
    /// fma chain of `c[r * ldc + j]` (from `+0.0` when `first`, else from
    /// its value) with `a[r * lda + p] * b[p * NR + j]` for `p` in `0..kc`.
    ///
    /// # Safety
    /// The CPU has the kernel's features; those elements of `a`, `b` and
    /// `c` are in bounds; `c` overlaps neither `a` nor `b`.
    #[allow(clippy::too_many_arguments)]
    unsafe fn tile(
        rows: usize,
        kc: usize,
        a: *const Self::T,
        lda: usize,
        b: *const Self::T,
        c: *mut Self::T,
        ldc: usize,
        first: bool,
    );
}

/// The largest row count of `M` that is at most `left` (> 0).
fn rows_for<M: Micro>(left: usize) -> usize {
    M::ROWS.iter().copied().find(|&r| r <= left).unwrap_or(1)
}

/// `c = a x b` for packed `b`; lengths checked by the caller.
pub(super) fn drive<M: Micro>(dims: &GemmDims, a: &[M::T], packed: &[M::T], c: &mut [M::T]) {
    const { assert!(!M::ROWS.is_empty() && M::ROWS[0] * M::NR <= EDGE) };
    let GemmDims { m, n, k, ldc, .. } = *dims;
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        for i in 0..m {
            c[i * ldc..i * ldc + n].fill(M::T::default());
        }
        return;
    }
    let panels = n.div_ceil(M::NR);
    let block = (NC / M::NR).max(1);
    for k0 in (0..k).step_by(KC) {
        let kc = KC.min(k - k0);
        for q0 in (0..panels).step_by(block) {
            let q1 = (q0 + block).min(panels);
            let mut i = 0;
            while i < m {
                let rows = rows_for::<M>(m - i);
                for q in q0..q1 {
                    let at = Tile { i, rows, q, k0, kc, first: k0 == 0 };
                    tile::<M>(dims, at, a, packed, c);
                }
                i += rows;
            }
        }
    }
}

/// Where one microkernel call works: rows `i..i + rows`, panel `q`, the k
/// block `k0..k0 + kc`.
#[derive(Clone, Copy)]
struct Tile {
    i: usize,
    rows: usize,
    q: usize,
    k0: usize,
    kc: usize,
    first: bool,
}

fn tile<M: Micro>(dims: &GemmDims, t: Tile, a: &[M::T], packed: &[M::T], c: &mut [M::T]) {
    let GemmDims { m, n, k, lda, ldc, .. } = *dims;
    let nr = M::NR;
    let j0 = t.q * nr;
    let width = nr.min(n - j0);
    debug_assert!(t.i + t.rows <= m && t.k0 + t.kc <= k && M::ROWS.contains(&t.rows));
    debug_assert!(a.len() >= (t.i + t.rows - 1) * lda + t.k0 + t.kc);
    let b = &packed[t.q * k * nr + t.k0 * nr..][..t.kc * nr];
    // SAFETY (both calls): rows i..i+rows < m and columns k0..k0+kc <= k
    // of `a` lie within its checked span (m-1)*lda + k; `b` is a slice of
    // kc*NR elements; `c` below is either NR columns of rows i..i+rows
    // with j0 + NR <= n (a full panel, inside the span (m-1)*ldc + n) or
    // the local buffer of rows*NR <= EDGE elements. The CPU features are
    // those of the `Isa` the caller checked with `runs_here`.
    let a_ptr = a[t.i * lda + t.k0..].as_ptr();
    if width == nr {
        debug_assert!(c.len() >= (t.i + t.rows - 1) * ldc + j0 + nr);
        let c_ptr = c[t.i * ldc + j0..].as_mut_ptr();
        unsafe { M::tile(t.rows, t.kc, a_ptr, lda, b.as_ptr(), c_ptr, ldc, t.first) };
        return;
    }
    let mut buf = [M::T::default(); EDGE];
    let buf = &mut buf[..t.rows * nr];
    if !t.first {
        for (r, row) in buf.chunks_exact_mut(nr).enumerate() {
            let at = (t.i + r) * ldc + j0;
            row[..width].copy_from_slice(&c[at..at + width]);
        }
    }
    unsafe { M::tile(t.rows, t.kc, a_ptr, lda, b.as_ptr(), buf.as_mut_ptr(), nr, t.first) };
    for (r, row) in buf.chunks_exact(nr).enumerate() {
        let at = (t.i + r) * ldc + j0;
        c[at..at + width].copy_from_slice(&row[..width]);
    }
}
