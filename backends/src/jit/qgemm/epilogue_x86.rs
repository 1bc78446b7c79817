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

/// Stores the lanes of `mask` of `v` as integers of `size` bytes at `dst`.
#[target_feature(enable = "avx512f")]
unsafe fn store(dst: *mut u8, size: usize, mask: __mmask8, v: __m512i) {
    // SAFETY: the lanes of `mask` are inside the output row (the caller's).
    unsafe {
        match size {
            1 => _mm512_mask_cvtepi64_storeu_epi8(dst.cast(), mask, v),
            2 => _mm512_mask_cvtepi64_storeu_epi16(dst.cast(), mask, v),
            4 => _mm512_mask_cvtepi64_storeu_epi32(dst.cast(), mask, v),
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
    let (lo, hi) = (_mm512_set1_epi64(t.range.0), _mm512_set1_epi64(t.range.1));
    let rq = cols.requant.as_ref().map(|q| (q, _mm512_set1_epi64(q.lo), _mm512_set1_epi64(q.hi)));
    let out = t.out.as_mut_ptr();
    for r in 0..blk.rows {
        let i = blk.i0 + r;
        let rs = _mm512_set1_epi64(t.rowsum[i]);
        let mut c = 0;
        while c < blk.width {
            let j = blk.j0 + c;
            let left = blk.width - c;
            let mask: __mmask8 = if left >= 8 { 0xff } else { (1u8 << left) - 1 };
            // SAFETY: `c + 8 <= stride` (both multiples of 8, `c < width <=
            // stride`), inside the tile row; the columns of `j` as `lanes`;
            // the masked lanes are columns `j .. j + left` of row `i`.
            unsafe {
                let acc = _mm512_cvtepi32_epi64(_mm256_loadu_si256(blk.acc.as_ptr().add(r * blk.stride + c).cast()));
                let zr = _mm512_mullo_epi64(lanes(&cols.zb, j), rs);
                let v = _mm512_sub_epi64(_mm512_add_epi64(acc, lanes(t.col, j)), zr);
                let mut v = _mm512_min_epi64(_mm512_max_epi64(v, lo), hi);
                if let Some((q, qlo, qhi)) = rq {
                    v = requantize(q, j, v, qlo, qhi);
                }
                store(out.add((i * t.n + j) * t.size), t.size, mask, v);
            }
            c += 8;
        }
    }
}
