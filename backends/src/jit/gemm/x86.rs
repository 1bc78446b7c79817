//! The x86-64 microkernels: AVX-512 (8 x 32 f32: sixteen 16-lane
//! accumulators), AVX2 + FMA (6 x 16 f32: twelve 8-lane accumulators), and
//! the scalar body compiled with FMA for f64. Each step of k broadcasts
//! one element of `A` per row and multiplies it into the row's vectors of
//! the `B` panel with one fused multiply-add per lane.
//!
//! Invariants: one lane is one output element's fma chain, in k order (the
//! reference semantics); the kernels run only after [`super::Isa`]
//! detection found their features.

use super::driver::Micro;
use super::scalar;
use std::arch::x86_64::*;

/// The AVX-512 f32 kernel.
pub(super) struct Avx512;

impl Micro for Avx512 {
    type T = f32;
    const NR: usize = 32;
    const ROWS: &'static [usize] = &[8, 4, 2, 1];

    unsafe fn tile(
        rows: usize,
        kc: usize,
        a: *const f32,
        lda: usize,
        b: *const f32,
        c: *mut f32,
        ldc: usize,
        first: bool,
    ) {
        debug_assert!(Self::ROWS.contains(&rows));
        // SAFETY: forwarded from the caller (`Micro::tile`).
        unsafe {
            match rows {
                8 => avx512::<8>(kc, a, lda, b, c, ldc, first),
                4 => avx512::<4>(kc, a, lda, b, c, ldc, first),
                2 => avx512::<2>(kc, a, lda, b, c, ldc, first),
                _ => avx512::<1>(kc, a, lda, b, c, ldc, first),
            }
        }
    }
}

/// # Safety
/// As [`Micro::tile`] with `rows = R`, on a CPU with AVX-512F.
#[target_feature(enable = "avx512f")]
unsafe fn avx512<const R: usize>(
    kc: usize,
    a: *const f32,
    lda: usize,
    b: *const f32,
    c: *mut f32,
    ldc: usize,
    first: bool,
) {
    let mut acc = [[_mm512_setzero_ps(); 2]; R];
    // SAFETY: the caller's contract bounds every address below: rows < R
    // and 32 columns of `c`, kc rows of 32 of `b`, rows < R and k < kc of
    // `a`.
    unsafe {
        if !first {
            for (r, row) in acc.iter_mut().enumerate() {
                row[0] = _mm512_loadu_ps(c.add(r * ldc));
                row[1] = _mm512_loadu_ps(c.add(r * ldc + 16));
            }
        }
        for p in 0..kc {
            let b0 = _mm512_loadu_ps(b.add(p * 32));
            let b1 = _mm512_loadu_ps(b.add(p * 32 + 16));
            for (r, row) in acc.iter_mut().enumerate() {
                let x = _mm512_set1_ps(*a.add(r * lda + p));
                row[0] = _mm512_fmadd_ps(x, b0, row[0]);
                row[1] = _mm512_fmadd_ps(x, b1, row[1]);
            }
        }
        for (r, row) in acc.iter().enumerate() {
            _mm512_storeu_ps(c.add(r * ldc), row[0]);
            _mm512_storeu_ps(c.add(r * ldc + 16), row[1]);
        }
    }
}

/// The AVX2 + FMA f32 kernel.
pub(super) struct Avx2;

impl Micro for Avx2 {
    type T = f32;
    const NR: usize = 16;
    const ROWS: &'static [usize] = &[6, 4, 2, 1];

    unsafe fn tile(
        rows: usize,
        kc: usize,
        a: *const f32,
        lda: usize,
        b: *const f32,
        c: *mut f32,
        ldc: usize,
        first: bool,
    ) {
        debug_assert!(Self::ROWS.contains(&rows));
        // SAFETY: forwarded from the caller (`Micro::tile`).
        unsafe {
            match rows {
                6 => avx2::<6>(kc, a, lda, b, c, ldc, first),
                4 => avx2::<4>(kc, a, lda, b, c, ldc, first),
                2 => avx2::<2>(kc, a, lda, b, c, ldc, first),
                _ => avx2::<1>(kc, a, lda, b, c, ldc, first),
            }
        }
    }
}

/// # Safety
/// As [`Micro::tile`] with `rows = R`, on a CPU with AVX2 and FMA.
#[target_feature(enable = "avx2,fma")]
unsafe fn avx2<const R: usize>(
    kc: usize,
    a: *const f32,
    lda: usize,
    b: *const f32,
    c: *mut f32,
    ldc: usize,
    first: bool,
) {
    let mut acc = [[_mm256_setzero_ps(); 2]; R];
    // SAFETY: as in `avx512`, with 16 columns.
    unsafe {
        if !first {
            for (r, row) in acc.iter_mut().enumerate() {
                row[0] = _mm256_loadu_ps(c.add(r * ldc));
                row[1] = _mm256_loadu_ps(c.add(r * ldc + 8));
            }
        }
        for p in 0..kc {
            let b0 = _mm256_loadu_ps(b.add(p * 16));
            let b1 = _mm256_loadu_ps(b.add(p * 16 + 8));
            for (r, row) in acc.iter_mut().enumerate() {
                let x = _mm256_set1_ps(*a.add(r * lda + p));
                row[0] = _mm256_fmadd_ps(x, b0, row[0]);
                row[1] = _mm256_fmadd_ps(x, b1, row[1]);
            }
        }
        for (r, row) in acc.iter().enumerate() {
            _mm256_storeu_ps(c.add(r * ldc), row[0]);
            _mm256_storeu_ps(c.add(r * ldc + 8), row[1]);
        }
    }
}

/// The scalar f64 kernel compiled with FMA (one `vfmadd` per element).
pub(super) struct ScalarFma;

impl Micro for ScalarFma {
    type T = f64;
    const NR: usize = scalar::NR;
    const ROWS: &'static [usize] = &[4, 2, 1];

    unsafe fn tile(
        rows: usize,
        kc: usize,
        a: *const f64,
        lda: usize,
        b: *const f64,
        c: *mut f64,
        ldc: usize,
        first: bool,
    ) {
        debug_assert!(Self::ROWS.contains(&rows));
        // SAFETY: forwarded from the caller (`Micro::tile`).
        unsafe {
            match rows {
                4 => fma_f64::<4>(kc, a, lda, b, c, ldc, first),
                2 => fma_f64::<2>(kc, a, lda, b, c, ldc, first),
                _ => fma_f64::<1>(kc, a, lda, b, c, ldc, first),
            }
        }
    }
}

/// # Safety
/// As [`Micro::tile`] with `rows = R`, on a CPU with FMA.
#[target_feature(enable = "fma")]
unsafe fn fma_f64<const R: usize>(
    kc: usize,
    a: *const f64,
    lda: usize,
    b: *const f64,
    c: *mut f64,
    ldc: usize,
    first: bool,
) {
    // SAFETY: forwarded from the caller.
    unsafe { scalar::body::<f64, R>(kc, a, lda, b, c, ldc, first) }
}
