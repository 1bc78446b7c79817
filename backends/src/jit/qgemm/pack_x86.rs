//! AVX-512 forms of the integer GEMM's per-call data movement, the same
//! bytes as the portable loops they stand for: activation rows of one byte
//! offset to unsigned bytes with their sums (`io::load_rows`), row sums of
//! rows read in place (`io::row_sums`), and a
//! computed right operand of one byte packed into the quad layout with its
//! column sums (`PackedB::repack_bytes`).
//!
//! Invariants: called only on a CPU with the features named on each
//! function, with slices whose lengths the safe callers checked against
//! the dims; every load and store is masked to the row or panel it
//! belongs to; padding rows and columns of the packed panel are 0, and
//! column sums are exact in i32 (the caller keeps `k <= MAX_K`).

use super::padded_k;
use std::arch::x86_64::*;

/// A mask of the first `w <= 64` bytes.
#[inline(always)]
fn first(w: usize) -> __mmask64 {
    if w >= 64 {
        !0
    } else {
        (1u64 << w) - 1
    }
}

/// Rows `i` of `src` (`m` rows of `k` bytes) minus `off` (mod 256) into
/// `dst` (rows of `kp` bytes; the padding is left as it is), each row's
/// sum into `rowsum`.
///
/// # Safety
/// The CPU has AVX-512F and BW; `src` holds `m * k` bytes, `dst` `m * kp`
/// with `kp >= k`, `rowsum` `m` entries.
#[target_feature(enable = "avx512f,avx512bw")]
pub(super) unsafe fn offset_rows(
    src: &[u8],
    (m, k, kp): (usize, usize, usize),
    off: u8,
    dst: &mut [u8],
    rowsum: &mut [i64],
) {
    let offv = _mm512_set1_epi8(off as i8);
    for (i, sum) in rowsum.iter_mut().enumerate().take(m) {
        let mut acc = _mm512_setzero_si512();
        let mut c = 0;
        while c < k {
            let mask = first(k - c);
            // SAFETY: the masked bytes are `c .. min(c + 64, k)` of row `i`
            // of `src` and of `dst` (the caller's lengths).
            unsafe {
                let v = _mm512_maskz_loadu_epi8(mask, src.as_ptr().add(i * k + c).cast());
                let d = _mm512_maskz_sub_epi8(mask, v, offv);
                _mm512_mask_storeu_epi8(dst.as_mut_ptr().add(i * kp + c).cast(), mask, d);
                acc = _mm512_add_epi64(acc, _mm512_sad_epu8(d, _mm512_setzero_si512()));
            }
            c += 64;
        }
        *sum = _mm512_reduce_add_epi64(acc);
    }
}

/// The sum of each of the `m` rows of `k` bytes of `a` into `rowsum`.
///
/// # Safety
/// The CPU has AVX-512F and BW; `a` holds `m * k` bytes, `rowsum` `m`.
#[target_feature(enable = "avx512f,avx512bw")]
pub(super) unsafe fn row_sums(a: &[u8], (m, k): (usize, usize), rowsum: &mut [i64]) {
    for (i, sum) in rowsum.iter_mut().enumerate().take(m) {
        let mut acc = _mm512_setzero_si512();
        let mut c = 0;
        while c < k {
            // SAFETY: the masked bytes are `c .. min(c + 64, k)` of row `i`.
            let v = unsafe { _mm512_maskz_loadu_epi8(first(k - c), a.as_ptr().add(i * k + c).cast()) };
            acc = _mm512_add_epi64(acc, _mm512_sad_epu8(v, _mm512_setzero_si512()));
            c += 64;
        }
        *sum = _mm512_reduce_add_epi64(acc);
    }
}

/// Packs the `k x n` bytes `src` minus `off` (as i8) into the quad layout
/// of 64-column panels (`out`, zeroed or not: every byte is written) and
/// the column sums into `colsum`.
///
/// # Safety
/// The CPU has AVX-512F, BW and VNNI; `src` holds `k * n` bytes, `out`
/// the layout's `n.div_ceil(64) * 64 * padded_k(k)`, `colsum` `n`
/// entries; `k <= MAX_K`.
#[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
pub(super) unsafe fn repack_quads(src: &[u8], (k, n): (usize, usize), off: u8, out: &mut [i8], colsum: &mut [i64]) {
    let groups = padded_k(k) / 4;
    let (offv, ones) = (_mm512_set1_epi8(off as i8), _mm512_set1_epi8(1));
    for q in 0..n.div_ceil(64) {
        let (j0, width) = (q * 64, 64.min(n - q * 64));
        for c0 in (0..width).step_by(16) {
            let mask = first((width - c0).min(16));
            let mut sums = _mm512_setzero_si512();
            for g in 0..groups {
                let mut quad = _mm512_setzero_si512();
                for r in 0..4.min(k - 4 * g) {
                    // SAFETY: row `4 g + r < k`, columns `j0 + c0 ..` masked
                    // to those below `n`.
                    let bytes =
                        unsafe { _mm512_maskz_loadu_epi8(mask, src.as_ptr().add((4 * g + r) * n + j0 + c0).cast()) };
                    let values = _mm512_castsi512_si128(_mm512_maskz_sub_epi8(mask, bytes, offv));
                    quad = _mm512_or_si512(
                        quad,
                        _mm512_sllv_epi32(_mm512_cvtepu8_epi32(values), _mm512_set1_epi32(8 * r as i32)),
                    );
                }
                // SAFETY: group `g` of panel `q` is 256 bytes at `(q groups
                // + g) 256`; columns `c0 .. c0 + 16` are 64 of them.
                unsafe { _mm512_storeu_si512(out.as_mut_ptr().add(((q * groups + g) * 64 + c0) * 4).cast(), quad) };
                sums = _mm512_dpbusd_epi32(sums, ones, quad);
            }
            let mut lanes = [0i32; 16];
            // SAFETY: 16 i32.
            unsafe { _mm512_storeu_si512(lanes.as_mut_ptr().cast(), sums) };
            for (dst, &s) in colsum[j0 + c0..].iter_mut().zip(&lanes).take((width - c0).min(16)) {
                *dst = i64::from(s);
            }
        }
        // Slices past the width (a partial panel) stay zero.
        for c0 in (width.div_ceil(16) * 16..64).step_by(16) {
            for g in 0..groups {
                // SAFETY: as above.
                unsafe {
                    _mm512_storeu_si512(
                        out.as_mut_ptr().add(((q * groups + g) * 64 + c0) * 4).cast(),
                        _mm512_setzero_si512(),
                    )
                };
            }
        }
    }
}
