//! The epilogue of the integer GEMM, applied block by block as the
//! microkernels produce them (the i32 products never go to memory as a
//! whole matrix): element `(i, j)` is `acc + col[j] - zb[j] rowsum[i]`
//! saturated to the accumulator's range, requantized when a
//! `quant.requantize` is fused (`io::Requant`), and written as a stored
//! integer of 1, 2, 4 or 8 bytes.
//!
//! Two implementations with the same bits: the portable loop (any CPU, and
//! the reference the tests compare with) and AVX-512F+DQ on eight i64
//! lanes (`epilogue_x86`): the same wrapping i64 operations (`vpmullq` is
//! the wrapping product, shift counts are masked to 6 bits beforehand as
//! `wrapping_shr` does, `vpsravq` is the arithmetic shift), then a
//! truncating store of values already clamped to the stored type.
//!
//! Invariants: the per-column vectors are padded with zeros to a multiple
//! of 64 columns, so the vector path reads whole lanes past `n` without
//! leaving them; a block outside the matrix is an error, never a write out
//! of bounds.

use super::io::Requant;
use super::Block;

/// Per-column parameters padded to whole panels (see the module doc).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Columns {
    pub zb: Vec<i64>,
    /// Every `zb'` is 0 (symmetric signed weights): the term is skipped.
    pub zb_zero: bool,
    pub requant: Option<PaddedRequant>,
}

impl Columns {
    /// The parameters of `n` columns: `zb'` (`n` entries) and the fused
    /// requantize.
    pub fn new(zb: &[i64], n: usize, requant: Option<&Requant>) -> Result<Columns, String> {
        let requant = requant.map(|r| PaddedRequant::new(r, n)).transpose()?;
        Ok(Columns { zb: pad(zb, n), zb_zero: zb.iter().all(|&z| z == 0), requant })
    }
}

/// A [`Requant`] with its vectors padded and its shift counts masked.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PaddedRequant {
    pub zp_in: Vec<i64>,
    pub m: Vec<i64>,
    /// `s1 & 63`, `s2`, `s2 & 63`.
    pub s1: Vec<i64>,
    pub s2: Vec<i64>,
    pub s2_shift: Vec<i64>,
    pub zp_out: Vec<i64>,
    pub lo: i64,
    pub hi: i64,
}

/// `n` rounded up to whole panels of the widest family.
pub(crate) fn padded_n(n: usize) -> usize {
    n.div_ceil(64) * 64
}

/// `v` padded with zeros to [`padded_n`]`(n)` entries (`v` has `n`).
pub(crate) fn pad(v: &[i64], n: usize) -> Vec<i64> {
    let mut out = v.to_vec();
    out.resize(padded_n(n), 0);
    out
}

impl PaddedRequant {
    pub fn new(r: &Requant, n: usize) -> Result<PaddedRequant, String> {
        if !r.columns(n) {
            return Err("internal error: a fused requantize with the wrong number of columns".into());
        }
        let masked = |v: &[i64]| pad(&v.iter().map(|s| s & 63).collect::<Vec<_>>(), n);
        Ok(PaddedRequant {
            zp_in: pad(&r.zp_in, n),
            m: pad(&r.m, n),
            s1: masked(&r.s1),
            s2: pad(&r.s2, n),
            s2_shift: masked(&r.s2),
            zp_out: pad(&r.zp_out, n),
            lo: r.lo,
            hi: r.hi,
        })
    }

    /// Column `j`'s requantized value of `v` (`Requant::apply`'s
    /// arithmetic; `j` inside the padded vectors).
    #[inline]
    fn apply(&self, j: usize, v: i64) -> i64 {
        let x = v.wrapping_sub(self.zp_in[j]).wrapping_mul(self.m[j]);
        let x = x.wrapping_shr(self.s1[j] as u32).wrapping_add(self.s2[j]).wrapping_shr(self.s2_shift[j] as u32);
        x.wrapping_add(self.zp_out[j]).clamp(self.lo, self.hi)
    }
}

/// Where the epilogue of one matrix writes, and its per-call values.
pub(crate) struct Target<'t> {
    /// `m x n` stored integers of `size` bytes.
    pub out: &'t mut [u8],
    pub size: usize,
    pub m: usize,
    pub n: usize,
    /// One per row.
    pub rowsum: &'t [i64],
    /// `bias - za' colsum + k za' zb'`, padded like [`Columns`].
    pub col: &'t [i64],
    /// The accumulator's range.
    pub range: (i64, i64),
}

impl Target<'_> {
    /// Whether every slice fits the dims (checked once per matrix).
    pub fn fits(&self, cols: &Columns) -> bool {
        let np = padded_n(self.n);
        let rq = cols
            .requant
            .as_ref()
            .is_none_or(|r| [&r.zp_in, &r.m, &r.s1, &r.s2, &r.s2_shift, &r.zp_out].iter().all(|v| v.len() == np));
        matches!(self.size, 1 | 2 | 4 | 8)
            && self.out.len() >= self.m * self.n * self.size
            && self.rowsum.len() >= self.m
            && self.col.len() == np
            && cols.zb.len() == np
            && rq
    }
}

/// Which implementation runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EpiIsa {
    Avx512,
    Portable,
}

impl EpiIsa {
    /// The best one the host runs.
    pub fn host() -> EpiIsa {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx512f") && std::arch::is_x86_feature_detected!("avx512dq") {
            return EpiIsa::Avx512;
        }
        EpiIsa::Portable
    }
}

/// Applies the epilogue to `blk` (the caller checked `t.fits(cols)`).
pub(crate) fn apply(isa: EpiIsa, cols: &Columns, t: &mut Target, blk: &Block) -> Result<(), String> {
    let inside = blk.i0 + blk.rows <= t.m
        && blk.j0 + blk.width <= t.n
        && blk.stride.is_multiple_of(8)
        && blk.width <= blk.stride
        && blk.acc.len() >= blk.rows * blk.stride;
    if !inside {
        return Err("internal error: a GEMM block outside its matrix".into());
    }
    match isa {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `EpiIsa::host` found the features; the block is inside
        // the matrix and `t.fits(cols)` (the caller's check).
        EpiIsa::Avx512 => unsafe { super::epilogue_x86::apply(cols, t, blk) },
        _ => portable(cols, t, blk),
    }
    Ok(())
}

/// The reference loop (see the module doc).
pub(crate) fn portable(cols: &Columns, t: &mut Target, blk: &Block) {
    let (lo, hi) = t.range;
    for r in 0..blk.rows {
        let i = blk.i0 + r;
        let rs = t.rowsum[i];
        for c in 0..blk.width {
            let j = blk.j0 + c;
            let v = (i64::from(blk.acc[r * blk.stride + c]) + t.col[j] - cols.zb[j] * rs).clamp(lo, hi);
            let v = cols.requant.as_ref().map_or(v, |q| q.apply(j, v));
            let at = (i * t.n + j) * t.size;
            t.out[at..at + t.size].copy_from_slice(&v.to_le_bytes()[..t.size]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use super::super::tests::noise;

    /// A requantize with extreme parameters: negative and huge
    /// multipliers (the product wraps), shifts past 63 (masked).
    fn requant(n: usize, r: &mut impl FnMut() -> u64) -> Requant {
        let mut pick = |choices: &[i64]| choices[(r() % choices.len() as u64) as usize];
        Requant {
            zp_in: (0..n).map(|_| pick(&[0, -3, 7, i64::from(i32::MAX)])).collect(),
            m: (0..n).map(|_| pick(&[1 << 30, 1_518_500_250, 3, -5, i64::MAX / 3])).collect(),
            s1: (0..n).map(|_| pick(&[0, 1, 30, 40, 63, 64, 70])).collect(),
            s2: (0..n).map(|_| pick(&[0, 1])).collect(),
            zp_out: (0..n).map(|_| pick(&[128, 0, -9, 4])).collect(),
            lo: -128,
            hi: 255,
        }
    }

    /// One matrix's operands: accumulators (`m x stride`, column `j` at
    /// `j % stride`), row sums, `col`, `zb'`.
    struct Case {
        m: usize,
        n: usize,
        stride: usize,
        acc: Vec<i32>,
        rowsum: Vec<i64>,
        col: Vec<i64>,
        zb: Vec<i64>,
    }

    impl Case {
        fn new((m, n, stride): (usize, usize, usize), zero_zb: bool, r: &mut impl FnMut() -> u64) -> Case {
            let extremes = [i32::MIN, i32::MAX, -1, 0, 1, 70_000];
            let rowsum = (0..m).map(|i| if i == 0 { 255 * 65_000 } else { (r() % 100_000) as i64 }).collect();
            let col = (0..n).map(|_| (r() as i32 as i64) >> (r() % 8)).collect();
            let zb = (0..n).map(|j| if zero_zb || j % 3 == 0 { 0 } else { (r() % 511) as i64 - 255 }).collect();
            let acc = (0..m * stride)
                .map(|x| if x % 7 == 0 { extremes[x % extremes.len()] } else { r() as i32 >> 8 })
                .collect();
            Case { m, n, stride, acc, rowsum, col, zb }
        }

        /// The stored integers `isa` writes, block by block.
        fn run(&self, isa: EpiIsa, cols: &Columns, size: usize, range: (i64, i64)) -> Vec<u8> {
            let (m, n, stride) = (self.m, self.n, self.stride);
            let col = pad(&self.col, n);
            let mut out = vec![0xAAu8; m * n * size];
            let mut t = Target { out: &mut out, size, m, n, rowsum: &self.rowsum, col: &col, range };
            assert!(t.fits(cols));
            for j0 in (0..n).step_by(stride) {
                let width = stride.min(n - j0);
                let mut tile = vec![0i32; m * stride];
                for i in 0..m {
                    for c in 0..width {
                        tile[i * stride + c] = self.acc[i * stride + (j0 + c) % stride];
                    }
                }
                apply(isa, cols, &mut t, &Block { i0: 0, rows: m, j0, width, stride, acc: &tile }).unwrap();
            }
            out
        }

        /// The stored integers of the unfused arithmetic (`Requant::apply`).
        fn expected(&self, size: usize, range: (i64, i64), rq: Option<&Requant>) -> Vec<u8> {
            let mut out = Vec::new();
            for i in 0..self.m {
                for j in 0..self.n {
                    let a = i64::from(self.acc[i * self.stride + j % self.stride]);
                    let v = (a + self.col[j] - self.zb[j] * self.rowsum[i]).clamp(range.0, range.1);
                    let v = rq.map_or(v, |q| q.apply(j, v));
                    out.extend_from_slice(&v.to_le_bytes()[..size]);
                }
            }
            out
        }
    }

    #[test]
    fn every_implementation_is_the_reference_arithmetic() {
        let mut checked = 0;
        let shapes = [(3, 13, 16), (6, 64, 64), (2, 70, 64), (1, 1, 64), (5, 9, 16), (4, 131, 64)];
        for (t, &shape) in shapes.iter().enumerate() {
            let mut r = noise(t as u64 + 1);
            for zero_zb in [false, true] {
                let case = Case::new(shape, zero_zb, &mut r);
                let rq = requant(case.n, &mut r);
                for with_requant in [false, true] {
                    let rq = with_requant.then_some(&rq);
                    let cols = Columns::new(&case.zb, case.n, rq).unwrap();
                    assert_eq!(cols.zb_zero, zero_zb || case.n == 1);
                    let range = if with_requant { (i64::from(i32::MIN), i64::from(i32::MAX)) } else { (-128, 127) };
                    for size in [1usize, 2, 4, 8] {
                        let want = case.expected(size, range, rq);
                        for isa in [EpiIsa::Portable, EpiIsa::host()] {
                            let got = case.run(isa, &cols, size, range);
                            assert_eq!(got, want, "{isa:?} {shape:?} size {size} requant {with_requant}");
                            checked += got.len() / size;
                        }
                    }
                }
            }
        }
        assert!(checked > 10_000);
    }

    #[test]
    fn a_block_outside_the_matrix_is_an_error() {
        let (rowsum, col, cols) = (vec![0; 2], pad(&[0; 3], 3), Columns::new(&[0; 3], 3, None).unwrap());
        let mut out = vec![0u8; 6];
        let mut t = Target { out: &mut out, size: 1, m: 2, n: 3, rowsum: &rowsum, col: &col, range: (-128, 127) };
        let tile = vec![0i32; 3 * 16];
        for isa in [EpiIsa::Portable, EpiIsa::host()] {
            let blk = Block { i0: 0, rows: 3, j0: 0, width: 3, stride: 16, acc: &tile };
            assert!(apply(isa, &cols, &mut t, &blk).is_err(), "rows past m");
            let blk = Block { i0: 0, rows: 2, j0: 1, width: 3, stride: 16, acc: &tile };
            assert!(apply(isa, &cols, &mut t, &blk).is_err(), "columns past n");
        }
    }
}
