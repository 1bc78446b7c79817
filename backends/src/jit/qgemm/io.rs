//! Moving a quantized matmul's operands into the integer GEMM's form:
//! activation rows to unsigned bytes with their sums ([`load_rows`]; rows
//! already in that form, unsigned bytes with `k` a multiple of 4, are read
//! in place and only summed: [`row_sums`]), and
//! the description of a fused `quant.requantize` ([`Requant`]) that the
//! epilogue (`epilogue`) applies before writing the result's stored
//! integers.
//!
//! Invariants: every conversion is the reference's integer arithmetic
//! (the byte paths are the same values as the element-wise reads, only
//! without per-element dispatch on the storage); the requantize epilogue
//! is `quant.requantize`'s map node (`lower_quant::QuantOp::Requantize`)
//! operation for operation, wrapping i64 and shifts masked to 6 bits as
//! the generated code; slices are checked and a size mismatch is an
//! error, never a panic.

use crate::jit::storage::Storage;

/// A `quant.requantize` of the accumulator, one entry per output column
/// (per-tensor parameters repeated): `clamp((((acc - zp_in) m) >> s1 +
/// s2) >> s2 + zp_out)`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Requant {
    pub zp_in: Vec<i64>,
    pub m: Vec<i64>,
    pub s1: Vec<i64>,
    pub s2: Vec<i64>,
    pub zp_out: Vec<i64>,
    pub lo: i64,
    pub hi: i64,
}

impl Requant {
    /// Column `j`'s requantized value of `acc` (the map node's arithmetic).
    #[inline]
    pub fn apply(&self, j: usize, acc: i64) -> i64 {
        let at = |v: &[i64]| v.get(j).copied().unwrap_or(0);
        let (s1, s2) = (at(&self.s1), at(&self.s2));
        let v = acc.wrapping_sub(at(&self.zp_in)).wrapping_mul(at(&self.m));
        let v = v.wrapping_shr(s1 as u32).wrapping_add(s2).wrapping_shr(s2 as u32);
        v.wrapping_add(at(&self.zp_out)).clamp(self.lo, self.hi)
    }

    /// Whether it has `n` columns.
    pub fn columns(&self, n: usize) -> bool {
        [&self.zp_in, &self.m, &self.s1, &self.s2, &self.zp_out].iter().all(|v| v.len() == n)
    }
}

fn size_error() -> String {
    "internal error: a quantized matmul operand has the wrong size".into()
}

/// The sum of each of the `m` rows of `k` bytes of `a` into `rowsum`.
pub(crate) fn row_sums(a: &[u8], (m, k): (usize, usize), rowsum: &mut [i64]) -> Result<(), String> {
    if a.len() < m * k || rowsum.len() < m {
        return Err(size_error());
    }
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx512f") && std::arch::is_x86_feature_detected!("avx512bw") {
        // SAFETY: the CPU has the features; the lengths were checked above.
        unsafe { super::pack_x86::row_sums(a, (m, k), rowsum) };
        return Ok(());
    }
    for (row, sum) in a.chunks_exact(k.max(1)).zip(rowsum.iter_mut()).take(m) {
        *sum = row.iter().map(|&v| i64::from(v)).sum();
    }
    if k == 0 {
        rowsum[..m].fill(0);
    }
    Ok(())
}

/// Writes `m` rows of `k` stored integers of `a` (storage `st`) as the
/// bytes `a - a_lo` into rows of `kp` bytes of `dst` (the padding stays
/// as it is: zero), and each row's sum into `rowsum`. `a - a_lo` is in
/// `0..=255` for every value of `a`'s type.
pub(crate) fn load_rows(
    a: &[u8],
    st: Storage,
    (m, k, kp): (usize, usize, usize),
    a_lo: i64,
    dst: &mut [u8],
    rowsum: &mut [i64],
) -> Result<(), String> {
    let size = st.size() as usize;
    if a.len() < m * k * size || dst.len() < m * kp || rowsum.len() < m || kp < k {
        return Err(size_error());
    }
    #[cfg(target_arch = "x86_64")]
    if size == 1 && std::arch::is_x86_feature_detected!("avx512f") && std::arch::is_x86_feature_detected!("avx512bw") {
        // SAFETY: the CPU has the features; the lengths were checked above.
        unsafe { super::pack_x86::offset_rows(a, (m, k, kp), a_lo as u8, dst, rowsum) };
        return Ok(());
    }
    for (i, (row, sum)) in dst.chunks_exact_mut(kp).zip(rowsum.iter_mut()).take(m).enumerate() {
        let row = &mut row[..k];
        let src = &a[i * k * size..(i + 1) * k * size];
        if size == 1 {
            // (byte - a_lo) mod 256 is the value minus a_lo (it is in range).
            let off = a_lo as u8;
            row.iter_mut().zip(src).for_each(|(d, &x)| *d = x.wrapping_sub(off));
        } else {
            for (p, d) in row.iter_mut().enumerate() {
                *d = (crate::jit::lower_qgemm::read_int(src, st, p) - a_lo) as u8;
            }
        }
        *sum = i64::from(row.iter().map(|&v| u32::from(v)).sum::<u32>());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const I8: Storage = Storage::Int { bytes: 1, width: 8, signed: true };
    const I16: Storage = Storage::Int { bytes: 2, width: 16, signed: true };

    #[test]
    fn signed_bytes_are_offset_to_unsigned_and_summed() {
        let a = [(-128i8) as u8, 0, 127, 5, (-1i8) as u8, 3];
        let mut dst = vec![0u8; 2 * 4];
        let mut sums = vec![0i64; 2];
        load_rows(&a, I8, (2, 3, 4), -128, &mut dst, &mut sums).unwrap();
        assert_eq!(dst, vec![0, 128, 255, 0, 133, 127, 131, 0]);
        assert_eq!(sums, vec![383, 391]);
    }

    #[test]
    fn long_rows_of_bytes_are_offset_and_summed() {
        for (m, k, kp, a_lo) in [(3, 130, 132, -128i64), (2, 64, 64, 0), (1, 200, 204, -2)] {
            let a: Vec<u8> = (0..m * k).map(|i| (i * 37 + 11) as u8).collect();
            let mut dst = vec![0u8; m * kp];
            let mut sums = vec![0i64; m];
            load_rows(&a, I8, (m, k, kp), a_lo, &mut dst, &mut sums).unwrap();
            for i in 0..m {
                let want: Vec<u8> = a[i * k..(i + 1) * k].iter().map(|&x| x.wrapping_sub(a_lo as u8)).collect();
                assert_eq!(&dst[i * kp..i * kp + k], &want[..], "row {i} of {m}x{k}");
                assert!(dst[i * kp + k..(i + 1) * kp].iter().all(|&x| x == 0), "padding stays zero");
                assert_eq!(sums[i], want.iter().map(|&x| i64::from(x)).sum::<i64>());
            }
        }
    }

    #[test]
    fn rows_read_in_place_are_summed() {
        for (m, k) in [(3, 132), (2, 64), (1, 4), (4, 0), (5, 1536)] {
            let a: Vec<u8> = (0..m * k).map(|i| (i * 97 + 5) as u8).collect();
            let mut sums = vec![-1i64; m];
            row_sums(&a, (m, k), &mut sums).unwrap();
            let want: Vec<i64> = (0..m).map(|i| a[i * k..(i + 1) * k].iter().map(|&x| i64::from(x)).sum()).collect();
            assert_eq!(sums, want, "{m}x{k}");
        }
        assert!(row_sums(&[0; 7], (2, 4), &mut [0; 2]).is_err(), "a short matrix is rejected");
    }

    #[test]
    fn wide_activations_take_the_element_path() {
        let a: Vec<u8> = [-3i16, 4].iter().flat_map(|v| v.to_le_bytes()).collect();
        let (mut dst, mut sums) = (vec![0u8; 4], vec![0i64; 1]);
        load_rows(&a, I16, (1, 2, 4), -5, &mut dst, &mut sums).unwrap();
        assert_eq!((dst, sums), (vec![2, 9, 0, 0], vec![11]));
    }
}
