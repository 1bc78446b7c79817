//! The portable microkernel: `R x NR` accumulators in arrays, one scalar
//! `mul_add` per element and step of k.
//!
//! Invariant: each accumulator is one output element's fma chain, in k
//! order; nothing is reassociated.

use super::driver::Micro;
use super::Element;
use std::marker::PhantomData;

/// Columns of a portable panel.
pub(super) const NR: usize = 8;

/// The portable kernel for `T`.
pub(super) struct Portable<T>(PhantomData<T>);

impl<T: Element> Micro for Portable<T> {
    type T = T;
    const NR: usize = NR;
    const ROWS: &'static [usize] = &[4, 2, 1];

    unsafe fn tile(rows: usize, kc: usize, a: *const T, lda: usize, b: *const T, c: *mut T, ldc: usize, first: bool) {
        debug_assert!(Self::ROWS.contains(&rows));
        // SAFETY: forwarded from the caller (`Micro::tile`).
        unsafe {
            match rows {
                4 => body::<T, 4>(kc, a, lda, b, c, ldc, first),
                2 => body::<T, 2>(kc, a, lda, b, c, ldc, first),
                _ => body::<T, 1>(kc, a, lda, b, c, ldc, first),
            }
        }
    }
}

/// The kernel body for `R` rows.
///
/// # Safety
/// As [`Micro::tile`] with `rows = R`.
unsafe fn body<T: Element, const R: usize>(
    kc: usize,
    a: *const T,
    lda: usize,
    b: *const T,
    c: *mut T,
    ldc: usize,
    first: bool,
) {
    let mut acc = [[T::default(); NR]; R];
    // SAFETY: rows < R, columns < NR of `c`, rows < R and k < kc of `a`,
    // and kc rows of NR of `b` are in bounds (the caller's contract).
    unsafe {
        if !first {
            for (r, row) in acc.iter_mut().enumerate() {
                for (j, x) in row.iter_mut().enumerate() {
                    *x = *c.add(r * ldc + j);
                }
            }
        }
        for p in 0..kc {
            let brow = b.add(p * NR);
            for (r, row) in acc.iter_mut().enumerate() {
                let x = *a.add(r * lda + p);
                for (j, s) in row.iter_mut().enumerate() {
                    *s = x.fma(*brow.add(j), *s);
                }
            }
        }
        for (r, row) in acc.iter().enumerate() {
            for (j, &x) in row.iter().enumerate() {
                *c.add(r * ldc + j) = x;
            }
        }
    }
}
