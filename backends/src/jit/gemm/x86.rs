//! The x86-64 microkernels, f32 and f64: AVX-512 (8 rows x 2 vectors of
//! 16 f32 / 8 f64 lanes: sixteen accumulators) and AVX2 + FMA (6 rows x 2
//! vectors of 8 f32 / 4 f64 lanes: twelve accumulators). Each step of k
//! broadcasts one element of `A` per row and multiplies it into the row's
//! two vectors of the `B` panel with one fused multiply-add per lane.
//!
//! Invariants: one lane is one output element's fma chain, in k order (the
//! reference semantics); the kernels run only after [`super::Isa`]
//! detection found their features.

use super::driver::Micro;
use std::arch::x86_64::*;

/// Defines `$name::<R>`, the kernel body for `R` rows on vectors of
/// `$lanes` elements of `$t` (a panel is two vectors wide).
macro_rules! kernel {
    ($name:ident, $feature:literal, $t:ty, $lanes:literal,
     $zero:ident, $load:ident, $store:ident, $set1:ident, $fmadd:ident) => {
        /// # Safety
        /// As [`Micro::tile`] with `rows = R`, on a CPU with the features.
        #[target_feature(enable = $feature)]
        unsafe fn $name<const R: usize>(
            kc: usize,
            a: *const $t,
            lda: usize,
            b: *const $t,
            c: *mut $t,
            ldc: usize,
            first: bool,
        ) {
            const L: usize = $lanes;
            let mut acc = [[$zero(); 2]; R];
            // SAFETY: the caller's contract bounds every address below:
            // rows < R and 2*L columns of `c`, kc rows of 2*L of `b`, rows
            // < R and k < kc of `a`.
            unsafe {
                if !first {
                    for (r, row) in acc.iter_mut().enumerate() {
                        row[0] = $load(c.add(r * ldc));
                        row[1] = $load(c.add(r * ldc + L));
                    }
                }
                for p in 0..kc {
                    let b0 = $load(b.add(p * 2 * L));
                    let b1 = $load(b.add(p * 2 * L + L));
                    for (r, row) in acc.iter_mut().enumerate() {
                        let x = $set1(*a.add(r * lda + p));
                        row[0] = $fmadd(x, b0, row[0]);
                        row[1] = $fmadd(x, b1, row[1]);
                    }
                }
                for (r, row) in acc.iter().enumerate() {
                    $store(c.add(r * ldc), row[0]);
                    $store(c.add(r * ldc + L), row[1]);
                }
            }
        }
    };
}

kernel!(
    avx512_f32,
    "avx512f",
    f32,
    16,
    _mm512_setzero_ps,
    _mm512_loadu_ps,
    _mm512_storeu_ps,
    _mm512_set1_ps,
    _mm512_fmadd_ps
);
kernel!(
    avx512_f64,
    "avx512f",
    f64,
    8,
    _mm512_setzero_pd,
    _mm512_loadu_pd,
    _mm512_storeu_pd,
    _mm512_set1_pd,
    _mm512_fmadd_pd
);
kernel!(
    avx2_f32,
    "avx2,fma",
    f32,
    8,
    _mm256_setzero_ps,
    _mm256_loadu_ps,
    _mm256_storeu_ps,
    _mm256_set1_ps,
    _mm256_fmadd_ps
);
kernel!(
    avx2_f64,
    "avx2,fma",
    f64,
    4,
    _mm256_setzero_pd,
    _mm256_loadu_pd,
    _mm256_storeu_pd,
    _mm256_set1_pd,
    _mm256_fmadd_pd
);

/// Declares the [`Micro`] `$name` over `$kernel`'s instances for `$rows`
/// (descending, the last 1).
macro_rules! micro {
    ($name:ident, $t:ty, $nr:literal, $kernel:ident, [$($rows:literal),+]) => {
        pub(super) struct $name;

        impl Micro for $name {
            type T = $t;
            const NR: usize = $nr;
            const ROWS: &'static [usize] = &[$($rows),+];

            unsafe fn tile(
                rows: usize,
                kc: usize,
                a: *const $t,
                lda: usize,
                b: *const $t,
                c: *mut $t,
                ldc: usize,
                first: bool,
            ) {
                debug_assert!(Self::ROWS.contains(&rows));
                // SAFETY: forwarded from the caller (`Micro::tile`); the
                // driver only asks for row counts of ROWS.
                unsafe {
                    match rows {
                        $($rows => $kernel::<$rows>(kc, a, lda, b, c, ldc, first),)+
                        _ => $kernel::<1>(kc, a, lda, b, c, ldc, first),
                    }
                }
            }
        }
    };
}

micro!(Avx512F32, f32, 32, avx512_f32, [8, 4, 2, 1]);
micro!(Avx512F64, f64, 16, avx512_f64, [8, 4, 2, 1]);
micro!(Avx2F32, f32, 16, avx2_f32, [6, 4, 2, 1]);
micro!(Avx2F64, f64, 8, avx2_f64, [6, 4, 2, 1]);
