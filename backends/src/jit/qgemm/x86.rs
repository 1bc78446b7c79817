//! The x86-64 microkernels of the integer GEMM: AVX-512 VNNI (`vpdpbusd`,
//! 6 rows x 64 columns in 24 zmm accumulators) and AVX2 (`vpmaddwd` on
//! i16 pairs, 6 rows x 16 columns in 12 ymm accumulators). Each i32 lane
//! holds one output element; the products and their sums are exact (the
//! caller bounds k), so the results equal the portable loop's.
//!
//! Invariants: the driver functions are called only when the CPU has the
//! features and the slices have the sizes of the dims (`gemm_blocks`
//! checks both); every pointer a microkernel reads is inside `a` (rows of
//! `lda` bytes, `padded_k` used) or inside one packed panel; each block
//! is computed into a local tile (a whole panel wide, the columns past
//! `n` zero because the panel's padding is) and handed to the sink.

use super::{padded_k, Block, PackedB};
use std::arch::x86_64::*;

/// Rows per microkernel call.
const MR: usize = 6;

/// Reads the 4 bytes at `p` as one i32 (unaligned).
#[inline(always)]
unsafe fn quad(p: *const u8) -> i32 {
    // SAFETY: the caller keeps `p .. p + 4` inside its row.
    unsafe { std::ptr::read_unaligned(p.cast::<i32>()) }
}

/// The AVX-512 VNNI product (see the module doc).
///
/// # Safety
/// The CPU has AVX-512F, BW and VNNI; `a` and `packed` have the sizes of
/// the dims of `b`.
#[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
pub(super) unsafe fn vnni(a: &[u8], lda: usize, m: usize, b: &PackedB, packed: &[i8], sink: &mut dyn FnMut(Block)) {
    let (n, kp) = (b.n, padded_k(b.k));
    let groups = kp / 4;
    let mut tile = [0i32; MR * 64];
    for q in 0..n.div_ceil(64) {
        let panel = &packed[q * kp * 64..(q + 1) * kp * 64];
        let width = 64.min(n - q * 64);
        let mut i = 0;
        while i < m {
            let rows = MR.min(m - i);
            let pa = a[i * lda..].as_ptr();
            // SAFETY: `rows` rows of `kp` bytes from `pa`, one panel.
            unsafe {
                match rows {
                    6 => vnni_tile::<6>(pa, lda, panel.as_ptr(), groups, &mut tile),
                    5 => vnni_tile::<5>(pa, lda, panel.as_ptr(), groups, &mut tile),
                    4 => vnni_tile::<4>(pa, lda, panel.as_ptr(), groups, &mut tile),
                    3 => vnni_tile::<3>(pa, lda, panel.as_ptr(), groups, &mut tile),
                    2 => vnni_tile::<2>(pa, lda, panel.as_ptr(), groups, &mut tile),
                    _ => vnni_tile::<1>(pa, lda, panel.as_ptr(), groups, &mut tile),
                }
            }
            sink(Block { i0: i, rows, j0: q * 64, width, stride: 64, acc: &tile[..rows * 64] });
            i += rows;
        }
    }
}

/// `R` rows x 64 columns over `groups` groups of 4 k values.
#[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
unsafe fn vnni_tile<const R: usize>(a: *const u8, lda: usize, b: *const i8, groups: usize, out: &mut [i32; MR * 64]) {
    let mut acc = [[_mm512_setzero_si512(); 4]; R];
    for g in 0..groups {
        // SAFETY: group `g` of the panel is 256 bytes at `b + 256 g`; the
        // rows' bytes `4 g .. 4 g + 4` are inside `padded_k`.
        unsafe {
            let pb = b.add(g * 256);
            let bv = [0, 1, 2, 3].map(|v| _mm512_loadu_si512(pb.add(v * 64).cast()));
            for (r, row) in acc.iter_mut().enumerate() {
                let av = _mm512_set1_epi32(quad(a.add(r * lda + g * 4)));
                for (s, w) in row.iter_mut().zip(bv) {
                    *s = _mm512_dpbusd_epi32(*s, av, w);
                }
            }
        }
    }
    for (r, row) in acc.iter().enumerate() {
        for (v, s) in row.iter().enumerate() {
            // SAFETY: 16 i32 at `out[r * 64 + v * 16]`, inside the tile.
            unsafe { _mm512_storeu_si512(out.as_mut_ptr().add(r * 64 + v * 16).cast(), *s) };
        }
    }
}

/// The AVX2 product on i16 pairs (see the module doc).
///
/// # Safety
/// The CPU has AVX2; `a` and `packed` have the sizes of the dims of `b`.
#[target_feature(enable = "avx2")]
pub(super) unsafe fn avx2(a: &[u8], lda: usize, m: usize, b: &PackedB, packed: &[i16], sink: &mut dyn FnMut(Block)) {
    let (n, kp) = (b.n, padded_k(b.k));
    let pairs = kp / 2;
    let mut tile = [0i32; MR * 16];
    for q in 0..n.div_ceil(16) {
        let panel = &packed[q * kp * 16..(q + 1) * kp * 16];
        let width = 16.min(n - q * 16);
        let mut i = 0;
        while i < m {
            let rows = MR.min(m - i);
            let pa = a[i * lda..].as_ptr();
            // SAFETY: `rows` rows of `kp` bytes from `pa`, one panel.
            unsafe {
                match rows {
                    6 => avx2_tile::<6>(pa, lda, panel.as_ptr(), pairs, &mut tile),
                    5 => avx2_tile::<5>(pa, lda, panel.as_ptr(), pairs, &mut tile),
                    4 => avx2_tile::<4>(pa, lda, panel.as_ptr(), pairs, &mut tile),
                    3 => avx2_tile::<3>(pa, lda, panel.as_ptr(), pairs, &mut tile),
                    2 => avx2_tile::<2>(pa, lda, panel.as_ptr(), pairs, &mut tile),
                    _ => avx2_tile::<1>(pa, lda, panel.as_ptr(), pairs, &mut tile),
                }
            }
            sink(Block { i0: i, rows, j0: q * 16, width, stride: 16, acc: &tile[..rows * 16] });
            i += rows;
        }
    }
}

/// `R` rows x 16 columns over `pairs` pairs of k values.
#[target_feature(enable = "avx2")]
unsafe fn avx2_tile<const R: usize>(a: *const u8, lda: usize, b: *const i16, pairs: usize, out: &mut [i32; MR * 16]) {
    let mut acc = [[_mm256_setzero_si256(); 2]; R];
    for p in 0..pairs {
        // SAFETY: pair `p` of the panel is 32 i16 at `b + 32 p`; the rows'
        // bytes `2 p, 2 p + 1` are inside `padded_k`.
        unsafe {
            let pb = b.add(p * 32);
            let bv = [_mm256_loadu_si256(pb.cast()), _mm256_loadu_si256(pb.add(16).cast())];
            for (r, row) in acc.iter_mut().enumerate() {
                let at = a.add(r * lda + p * 2);
                let pair = i32::from(*at) | (i32::from(*at.add(1)) << 16);
                let av = _mm256_set1_epi32(pair);
                for (s, w) in row.iter_mut().zip(bv) {
                    *s = _mm256_add_epi32(*s, _mm256_madd_epi16(av, w));
                }
            }
        }
    }
    for (r, row) in acc.iter().enumerate() {
        for (v, s) in row.iter().enumerate() {
            // SAFETY: 8 i32 at `out[r * 16 + v * 8]`, inside the tile.
            unsafe { _mm256_storeu_si256(out.as_mut_ptr().add(r * 16 + v * 8).cast(), *s) };
        }
    }
}
