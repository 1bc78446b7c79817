//! The AVX-512F+DQ epilogue: eight output elements per step in i64 lanes,
//! operation for operation the portable loop of `epilogue` (see its module
//! doc for why the bits are the same).
//!
//! Invariants: called only on a CPU with AVX-512F and DQ, for a block
//! inside the matrix and a target whose slices fit (`epilogue::apply`
//! checks both); every lane read is inside the block's tile row or the
//! padded column vectors; stores are masked to the block's columns.

use super::epilogue::{Columns, PaddedRequant, Target};
use super::Block;
use std::arch::x86_64::*;

/// Eight i64 of `v` from `j` (inside the padded vector: the caller's).
#[inline(always)]
unsafe fn lanes(v: &[i64], j: usize) -> __m512i {
    // SAFETY: `j + 8 <= v.len()` (padded to whole panels, `j` below `n`
    // and a multiple of 8).
    unsafe { _mm512_loadu_si512(v.as_ptr().add(j).cast()) }
}

/// The requantize of eight columns from `j`.
#[target_feature(enable = "avx512f,avx512dq")]
unsafe fn requantize(q: &PaddedRequant, j: usize, v: __m512i, lo: __m512i, hi: __m512i) -> __m512i {
    // SAFETY: as `lanes`.
    unsafe {
        let x = _mm512_mullo_epi64(_mm512_sub_epi64(v, lanes(&q.zp_in, j)), lanes(&q.m, j));
        let x = _mm512_add_epi64(_mm512_srav_epi64(x, lanes(&q.s1, j)), lanes(&q.s2, j));
        let x = _mm512_add_epi64(_mm512_srav_epi64(x, lanes(&q.s2_shift, j)), lanes(&q.zp_out, j));
        _mm512_min_epi64(_mm512_max_epi64(x, lo), hi)
    }
}

/// Stores the lanes of `mask` of `v` as integers of `SIZE` bytes at `dst`
/// (a full vector without a mask: the masked forms are slower).
#[target_feature(enable = "avx512f")]
unsafe fn store<const SIZE: usize>(dst: *mut u8, mask: __mmask8, v: __m512i) {
    // SAFETY: the lanes of `mask` are inside the output row (the caller's).
    unsafe {
        match (SIZE, mask) {
            (1, 0xff) => _mm_storel_epi64(dst.cast(), _mm512_cvtepi64_epi8(v)),
            (2, 0xff) => _mm_storeu_si128(dst.cast(), _mm512_cvtepi64_epi16(v)),
            (4, 0xff) => _mm256_storeu_si256(dst.cast(), _mm512_cvtepi64_epi32(v)),
            (_, 0xff) => _mm512_storeu_si512(dst.cast(), v),
            (1, _) => _mm512_mask_cvtepi64_storeu_epi8(dst.cast(), mask, v),
            (2, _) => _mm512_mask_cvtepi64_storeu_epi16(dst.cast(), mask, v),
            (4, _) => _mm512_mask_cvtepi64_storeu_epi32(dst.cast(), mask, v),
            _ => _mm512_mask_storeu_epi64(dst.cast(), mask, v),
        }
    }
}

/// The epilogue of `blk` into `t`.
///
/// # Safety
/// See the module invariants.
#[target_feature(enable = "avx512f,avx512dq")]
pub(super) unsafe fn apply(cols: &Columns, t: &mut Target, blk: &Block) {
    // SAFETY: forwarded; one instance per requantize, zero `zb'` and size,
    // so that the inner loop has no branch on them.
    unsafe {
        match (cols.requant.is_some(), cols.zb_zero, t.size) {
            (false, false, 1) => apply_as::<false, false, 1>(cols, t, blk),
            (false, false, 2) => apply_as::<false, false, 2>(cols, t, blk),
            (false, false, 4) => apply_as::<false, false, 4>(cols, t, blk),
            (false, false, _) => apply_as::<false, false, 8>(cols, t, blk),
            (false, true, 1) => apply_as::<false, true, 1>(cols, t, blk),
            (false, true, 2) => apply_as::<false, true, 2>(cols, t, blk),
            (false, true, 4) => apply_as::<false, true, 4>(cols, t, blk),
            (false, true, _) => apply_as::<false, true, 8>(cols, t, blk),
            (true, false, 1) => apply_as::<true, false, 1>(cols, t, blk),
            (true, false, 2) => apply_as::<true, false, 2>(cols, t, blk),
            (true, false, 4) => apply_as::<true, false, 4>(cols, t, blk),
            (true, false, _) => apply_as::<true, false, 8>(cols, t, blk),
            (true, true, 1) => apply_as::<true, true, 1>(cols, t, blk),
            (true, true, 2) => apply_as::<true, true, 2>(cols, t, blk),
            (true, true, 4) => apply_as::<true, true, 4>(cols, t, blk),
            (true, true, _) => apply_as::<true, true, 8>(cols, t, blk),
        }
    }
}

/// [`apply`] with a fused requantize (`RQ`), all `zb'` zero (`ZB0`: the
/// `zb' rowsum` term is 0 and skipped) and `SIZE`-byte results.
#[target_feature(enable = "avx512f,avx512dq")]
unsafe fn apply_as<const RQ: bool, const ZB0: bool, const SIZE: usize>(cols: &Columns, t: &mut Target, blk: &Block) {
    let (lo, hi) = (_mm512_set1_epi64(t.range.0), _mm512_set1_epi64(t.range.1));
    let rq = cols.requant.as_ref().filter(|_| RQ).map(|q| (q, _mm512_set1_epi64(q.lo), _mm512_set1_epi64(q.hi)));
    let out = t.out.as_mut_ptr();
    for r in 0..blk.rows {
        let i = blk.i0 + r;
        let rs = _mm512_set1_epi64(t.rowsum[i]);
        let row = blk.acc[r * blk.stride..].as_ptr();
        let dst = out.wrapping_add((i * t.n + blk.j0) * SIZE);
        let mut c = 0;
        while c < blk.width {
            let j = blk.j0 + c;
            let left = blk.width - c;
            let mask: __mmask8 = if left >= 8 { 0xff } else { (1u8 << left) - 1 };
            // SAFETY: `c + 8 <= stride` (both multiples of 8, `c < width <=
            // stride`), inside the tile row; the columns of `j` as `lanes`;
            // the masked lanes are columns `j .. j + left` of row `i`.
            unsafe {
                let acc = _mm512_cvtepi32_epi64(_mm256_loadu_si256(row.add(c).cast()));
                let mut v = _mm512_add_epi64(acc, lanes(t.col, j));
                if !ZB0 {
                    v = _mm512_sub_epi64(v, _mm512_mullo_epi64(lanes(&cols.zb, j), rs));
                }
                v = _mm512_min_epi64(_mm512_max_epi64(v, lo), hi);
                if let Some((q, qlo, qhi)) = rq {
                    v = requantize(q, j, v, qlo, qhi);
                }
                store::<SIZE>(dst.add(c * SIZE), mask, v);
            }
            c += 8;
        }
    }
}
