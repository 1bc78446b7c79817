//! The integer GEMM runtime: `C = A x B` with `A` unsigned 8-bit (`m x k`,
//! row-major, rows padded with zeros to [`padded_k`]) and `B` signed
//! 8-bit (`k x n`, packed once by [`pack_b`]), exact in i32. The quantized
//! matmul (`lower_qgemm`) brings its operands to this form (offsets and
//! zero points are corrected exactly with row and column sums) and calls it
//! for every `quant.qmatmul` whose operands have at most 8 bits.
//!
//! Kernel families, picked once per process by CPU feature ([`QIsa`]):
//! AVX-512 VNNI (`vpdpbusd`: 4 u8 x s8 products summed into each i32 lane,
//! microkernel 6 rows x 64 columns), AVX2 (`vpmaddwd` on values widened to
//! i16: 2 products per lane, 6 x 16) and portable Rust (any CPU). Every
//! product and sum is an exact integer, so every family gives the same
//! bits; a unit test checks each against a plain loop.
//!
//! Invariants: exactness needs `k * 255 * 128 < 2^31` ([`MAX_K`]), which
//! the caller checks (wider sums use its i64 path); the public functions
//! check every slice length and return an error instead of reading or
//! writing out of bounds; `unsafe` is confined to the x86 microkernels,
//! whose bounds the driver establishes.

pub(crate) mod epilogue;
#[cfg(target_arch = "x86_64")]
mod epilogue_x86;
pub(crate) mod fuse;
pub(crate) mod io;
#[cfg(target_arch = "x86_64")]
mod pack_x86;
#[cfg(test)]
mod tests;
#[cfg(target_arch = "x86_64")]
mod x86;

use std::sync::OnceLock;

/// The largest `k` whose sums of u8 x s8 products cannot overflow i32.
pub const MAX_K: usize = (i32::MAX as usize) / (255 * 128);

/// A kernel family of the integer GEMM.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum QIsa {
    /// AVX-512F + VNNI (`vpdpbusd` on 512-bit vectors).
    Vnni512,
    /// AVX2 (`vpmaddwd` on i16-widened values).
    Avx2,
    /// Plain Rust.
    Portable,
}

impl QIsa {
    /// The best family the host runs (detected once).
    pub fn host() -> QIsa {
        static HOST: OnceLock<QIsa> = OnceLock::new();
        *HOST.get_or_init(|| QIsa::available().first().copied().unwrap_or(QIsa::Portable))
    }

    /// Every family the host runs, best first.
    pub fn available() -> Vec<QIsa> {
        [QIsa::Vnni512, QIsa::Avx2, QIsa::Portable].into_iter().filter(|i| i.runs_here()).collect()
    }

    pub fn runs_here(self) -> bool {
        match self {
            QIsa::Portable => true,
            #[cfg(target_arch = "x86_64")]
            QIsa::Vnni512 => {
                std::arch::is_x86_feature_detected!("avx512f")
                    && std::arch::is_x86_feature_detected!("avx512bw")
                    && std::arch::is_x86_feature_detected!("avx512vnni")
            }
            #[cfg(target_arch = "x86_64")]
            QIsa::Avx2 => std::arch::is_x86_feature_detected!("avx2"),
            #[cfg(not(target_arch = "x86_64"))]
            _ => false,
        }
    }

    /// Columns per packed panel.
    pub(crate) fn panel(self) -> usize {
        match self {
            QIsa::Vnni512 | QIsa::Portable => 64,
            QIsa::Avx2 => 16,
        }
    }

    /// Consecutive k values per packed group (4 bytes or 2 i16 per lane).
    fn group(self) -> usize {
        match self {
            QIsa::Vnni512 | QIsa::Portable => 4,
            QIsa::Avx2 => 2,
        }
    }
}

/// `k` rounded up to whole groups of every family (a multiple of 4): the
/// row length of `A`.
pub fn padded_k(k: usize) -> usize {
    k.div_ceil(4) * 4
}

/// A packed `B`: panels of [`QIsa::panel`] columns; in each, the k rows in
/// groups of [`QIsa::group`], each group holding its values column by
/// column (`[group][column][value in group]`); i8 for the quad layout, i16
/// for the pair layout. Padding rows and columns are 0.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackedB {
    isa: QIsa,
    k: usize,
    n: usize,
    bytes: Vec<i8>,
    words: Vec<i16>,
    /// Sum of each column's values (exact).
    pub colsum: Vec<i64>,
}

impl PackedB {
    /// An empty matrix for `isa` (0 x 0), to fill with [`PackedB::repack_bytes`].
    pub fn empty(isa: QIsa) -> PackedB {
        PackedB { isa, k: 0, n: 0, bytes: Vec::new(), words: Vec::new(), colsum: Vec::new() }
    }

    pub fn k(&self) -> usize {
        self.k
    }

    pub fn n(&self) -> usize {
        self.n
    }

    pub fn isa(&self) -> QIsa {
        self.isa
    }

    /// The elements the layout of `k x n` takes.
    fn len_for(isa: QIsa, k: usize, n: usize) -> usize {
        n.div_ceil(isa.panel()) * isa.panel() * padded_k(k)
    }

    /// Whether the storage holds the whole layout (the kernels read it all).
    fn whole(&self) -> bool {
        let len = PackedB::len_for(self.isa, self.k, self.n);
        let have = if self.isa == QIsa::Avx2 { self.words.len() } else { self.bytes.len() };
        have == len && self.colsum.len() == self.n
    }

    /// Packs again, in place, the `k x n` row-major matrix of bytes `src`
    /// whose element `(p, j)` is `src[p * n + j] - off` (mod 256, read as
    /// i8): the form of a computed right operand of one byte. The storage
    /// is reused across calls. An error when `src` is short.
    pub fn repack_bytes(&mut self, k: usize, n: usize, src: &[u8], off: u8) -> Result<(), String> {
        if src.len() < k * n {
            return Err("internal error: the matmul's right operand is shorter than its shape".into());
        }
        let (isa, nr, gr, kp) = (self.isa, self.isa.panel(), self.isa.group(), padded_k(k));
        let len = PackedB::len_for(isa, k, n);
        (self.k, self.n) = (k, n);
        self.colsum.clear();
        self.colsum.resize(n, 0);
        let value = |v: u8| v.wrapping_sub(off) as i8;
        if isa == QIsa::Avx2 {
            self.words.clear();
            self.words.resize(len, 0);
            for (p, row) in src.chunks_exact(n.max(1)).take(k).enumerate() {
                let (g, r) = (p / gr, p % gr);
                for (j, (&v, sum)) in row.iter().zip(self.colsum.iter_mut()).enumerate() {
                    let (q, c) = (j / nr, j % nr);
                    let x = value(v);
                    *sum += i64::from(x);
                    self.words[((q * (kp / gr) + g) * nr + c) * gr + r] = i16::from(x);
                }
            }
        } else if isa == QIsa::Vnni512 && k <= MAX_K && isa.runs_here() {
            #[cfg(target_arch = "x86_64")]
            {
                // Every byte is written: no need to clear.
                self.bytes.resize(len, 0);
                // SAFETY: the CPU has the features (`runs_here`), `src` holds
                // `k n` bytes (checked), `bytes` the layout, `colsum` `n`.
                unsafe { pack_x86::repack_quads(src, (k, n), off, &mut self.bytes, &mut self.colsum) };
            }
        } else {
            self.bytes.clear();
            self.bytes.resize(len, 0);
            for (p, row) in src.chunks_exact(n.max(1)).take(k).enumerate() {
                let (g, r) = (p / gr, p % gr);
                for (q, chunk) in row.chunks(nr).enumerate() {
                    let base = (q * (kp / gr) + g) * nr * gr + r;
                    let dst = &mut self.bytes[base..];
                    for (c, &v) in chunk.iter().enumerate() {
                        dst[c * gr] = value(v);
                    }
                }
                for (&v, sum) in row.iter().zip(self.colsum.iter_mut()) {
                    *sum += i64::from(value(v));
                }
            }
        }
        Ok(())
    }
}

/// Packs the `k x n` matrix whose element `(p, j)` is `b(p, j)` for `isa`.
pub fn pack_b(isa: QIsa, k: usize, n: usize, b: impl Fn(usize, usize) -> i8) -> PackedB {
    let (nr, gr, kp) = (isa.panel(), isa.group(), padded_k(k));
    let panels = n.div_ceil(nr);
    let mut colsum = vec![0i64; n];
    let mut flat = vec![0i16; PackedB::len_for(isa, k, n)];
    for q in 0..panels {
        for p in 0..k {
            let (g, r) = (p / gr, p % gr);
            for c in 0..nr.min(n - q * nr) {
                let v = b(p, q * nr + c);
                colsum[q * nr + c] += i64::from(v);
                flat[((q * (kp / gr) + g) * nr + c) * gr + r] = i16::from(v);
            }
        }
    }
    let (bytes, words) = match isa {
        QIsa::Avx2 => (Vec::new(), flat),
        _ => (flat.iter().map(|&v| v as i8).collect(), Vec::new()),
    };
    PackedB { isa, k, n, bytes, words, colsum }
}

/// One block of the product handed to a sink: rows `i0 .. i0 + rows` and
/// columns `j0 .. j0 + width`, element `(i0 + r, j0 + c)` at `acc[r *
/// stride + c]`. `stride` is the family's panel width (a multiple of 8)
/// and the entries past `width` in each row are 0.
#[derive(Debug, Clone, Copy)]
pub struct Block<'t> {
    pub i0: usize,
    pub rows: usize,
    pub j0: usize,
    pub width: usize,
    pub stride: usize,
    pub acc: &'t [i32],
}

/// `sum_p a[i * lda + p] * b[p, j]` for `m` rows, exact in i32 (the caller
/// keeps `k <= MAX_K`), handed to `sink` block by block: every element
/// exactly once. `a` rows are `lda >= padded_k(k)` long, zero past `k`.
pub fn gemm_blocks(a: &[u8], lda: usize, m: usize, b: &PackedB, sink: &mut dyn FnMut(Block)) -> Result<(), String> {
    let kp = padded_k(b.k);
    let fits = lda >= kp && a.len() >= m.saturating_sub(1) * lda + if m > 0 { kp } else { 0 };
    if !fits || b.k > MAX_K || !b.isa.runs_here() || !b.whole() {
        return Err("internal error: the integer GEMM got operands of the wrong size".into());
    }
    match b.isa {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: the CPU has the features (checked above) and the sizes
        // were checked against the dims.
        QIsa::Vnni512 => unsafe { x86::vnni(a, lda, m, b, &b.bytes, sink) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: as above.
        QIsa::Avx2 => unsafe { x86::avx2(a, lda, m, b, &b.words, sink) },
        _ => portable(a, lda, m, b, sink),
    }
    Ok(())
}

/// `c[i * n + j] = sum_p a[i * lda + p] * b[p, j]` for `m` rows (see
/// [`gemm_blocks`]).
pub fn gemm_u8i8(a: &[u8], lda: usize, m: usize, b: &PackedB, c: &mut [i32]) -> Result<(), String> {
    let n = b.n;
    if c.len() < m * n {
        return Err("internal error: the integer GEMM got operands of the wrong size".into());
    }
    gemm_blocks(a, lda, m, b, &mut |blk: Block| {
        for r in 0..blk.rows {
            let at = (blk.i0 + r) * n + blk.j0;
            c[at..at + blk.width].copy_from_slice(&blk.acc[r * blk.stride..r * blk.stride + blk.width]);
        }
    })
}

/// The plain loop over the quad layout (any CPU), one row per block.
fn portable(a: &[u8], lda: usize, m: usize, b: &PackedB, sink: &mut dyn FnMut(Block)) {
    let (nr, kp, n) = (b.isa.panel(), padded_k(b.k), b.n);
    let groups = kp / 4;
    let mut tile = vec![0i32; nr];
    for q in 0..n.div_ceil(nr) {
        let width = nr.min(n - q * nr);
        for i in 0..m {
            let row = &a[i * lda..i * lda + kp];
            for (col, out) in tile.iter_mut().enumerate() {
                let mut sum = 0i32;
                for g in 0..groups {
                    let at = ((q * groups + g) * nr + col) * 4;
                    for r in 0..4 {
                        sum += i32::from(row[g * 4 + r]) * i32::from(b.bytes[at + r]);
                    }
                }
                *out = sum;
            }
            sink(Block { i0: i, rows: 1, j0: q * nr, width, stride: nr, acc: &tile });
        }
    }
}
