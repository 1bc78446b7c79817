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

pub(crate) mod fuse;
pub(crate) mod io;
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
    pub fn k(&self) -> usize {
        self.k
    }

    pub fn n(&self) -> usize {
        self.n
    }

    pub fn isa(&self) -> QIsa {
        self.isa
    }
}

/// Packs the `k x n` matrix whose element `(p, j)` is `b(p, j)` for `isa`.
pub fn pack_b(isa: QIsa, k: usize, n: usize, b: impl Fn(usize, usize) -> i8) -> PackedB {
    let (nr, gr, kp) = (isa.panel(), isa.group(), padded_k(k));
    let panels = n.div_ceil(nr);
    let len = panels * kp * nr;
    let mut colsum = vec![0i64; n];
    let mut flat = vec![0i16; len];
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

/// `c[i * n + j] = sum_p a[i * lda + p] * b[p, j]` for `m` rows, exact in
/// i32 (the caller keeps `k <= MAX_K`). `a` rows are `lda >= padded_k(k)`
/// long, zero past `k`.
pub fn gemm_u8i8(a: &[u8], lda: usize, m: usize, b: &PackedB, c: &mut [i32]) -> Result<(), String> {
    let (k, n, kp) = (b.k, b.n, padded_k(b.k));
    let fits = lda >= kp && a.len() >= m.saturating_sub(1) * lda + if m > 0 { kp } else { 0 } && c.len() >= m * n;
    if !fits || k > MAX_K || !b.isa.runs_here() {
        return Err("internal error: the integer GEMM got operands of the wrong size".into());
    }
    match b.isa {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: the CPU has the features (checked above) and the sizes
        // were checked against the dims.
        QIsa::Vnni512 => unsafe { x86::vnni(a, lda, m, b, &b.bytes, c) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: as above.
        QIsa::Avx2 => unsafe { x86::avx2(a, lda, m, b, &b.words, c) },
        _ => portable(a, lda, m, b, c),
    }
    Ok(())
}

/// The plain loop over the quad layout (any CPU).
fn portable(a: &[u8], lda: usize, m: usize, b: &PackedB, c: &mut [i32]) {
    let (nr, kp, n) = (b.isa.panel(), padded_k(b.k), b.n);
    let groups = kp / 4;
    for i in 0..m {
        let row = &a[i * lda..i * lda + kp];
        for j in 0..n {
            let (q, col) = (j / nr, j % nr);
            let mut sum = 0i32;
            for g in 0..groups {
                let at = ((q * groups + g) * nr + col) * 4;
                for r in 0..4 {
                    sum += i32::from(row[g * 4 + r]) * i32::from(b.bytes[at + r]);
                }
            }
            c[i * n + j] = sum;
        }
    }
}
