//! The GEMM runtime: `C = A x B` on row-major f32 and f64 matrices, called
//! by the JIT's generated code for every float `nn.matmul` and for f32
//! convolutions in im2col form (spec/jit.md).
//!
//! Cranelift's x86 backend has 128-bit vectors only, which caps a matmul it
//! emits at a quarter of what AVX-512 gives; this runtime is plain Rust with
//! `std::arch` intrinsics, chosen once per process by CPU feature ([`Isa`]).
//!
//! Every path computes exactly the reference semantics of `nn.matmul`: each
//! `c[i, j]` is `acc = +0.0`, then `acc = fma(a[i, p], b[p, j], acc)` for
//! `p` ascending, in the element type. Vector lanes hold different columns
//! (never parts of one sum), and between k blocks the partial sums are kept
//! in `C` in the element type, so the results are bit-identical across
//! [`Isa`]s and with the interpreter.
//!
//! Structure: `B` is packed ([`pack_b`]) into panels `NR` columns wide (the
//! microkernel's width; the last panel is padded with zeros), each holding
//! all `k` rows contiguously; weights are packed once when a function is
//! compiled, other operands per call into scratch memory. The driver
//! (`driver`) blocks over k and n so that the panels in use stay in L2, and
//! walks `A` in blocks of `MR` rows; the microkernel keeps an `MR x NR`
//! block of `C` in registers. Edges (rows below `MR`, columns below `NR`)
//! run the same fma sequence: narrower row counts are separate kernel
//! instances, a partial column panel goes through a small buffer.
//!
//! Invariants: the public functions check every slice length against the
//! dims and return an error instead of reading or writing out of bounds;
//! `unsafe` is confined to the microkernels (raw-pointer loops whose bounds
//! the driver establishes) and to the C entry points the JIT calls.

mod driver;
pub(crate) mod entry;
mod scalar;
#[cfg(test)]
mod tests;
#[cfg(target_arch = "x86_64")]
mod x86;

use std::fmt;
use std::sync::OnceLock;

/// A kernel family, picked by CPU feature.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Isa {
    /// AVX-512F (and FMA): microkernels of 8 rows x 32 f32 / 16 f64.
    Avx512,
    /// AVX2 with FMA: microkernels of 6 rows x 16 f32 / 8 f64.
    Avx2,
    /// Scalar `mul_add` (any CPU), a 4 x 8 microkernel.
    Portable,
}

impl Isa {
    /// The best family the host CPU runs (detected once).
    pub fn host() -> Isa {
        static HOST: OnceLock<Isa> = OnceLock::new();
        *HOST.get_or_init(|| Isa::available().first().copied().unwrap_or(Isa::Portable))
    }

    /// Every family the host CPU runs, best first.
    pub fn available() -> Vec<Isa> {
        [Isa::Avx512, Isa::Avx2, Isa::Portable].into_iter().filter(|isa| isa.runs_here()).collect()
    }

    /// True when the host CPU has the features of `self`.
    pub fn runs_here(self) -> bool {
        match self {
            Isa::Portable => true,
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512 => std::arch::is_x86_feature_detected!("avx512f") && std::arch::is_x86_feature_detected!("fma"),
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 => std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma"),
            #[cfg(not(target_arch = "x86_64"))]
            _ => false,
        }
    }

    /// A stable small code (the JIT passes it to [`entry`]).
    pub(crate) fn code(self) -> u64 {
        match self {
            Isa::Avx512 => 0,
            Isa::Avx2 => 1,
            Isa::Portable => 2,
        }
    }

    pub(crate) fn from_code(code: u64) -> Option<Isa> {
        [Isa::Avx512, Isa::Avx2, Isa::Portable].into_iter().find(|isa| isa.code() == code)
    }
}

impl fmt::Display for Isa {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Isa::Avx512 => "avx512",
            Isa::Avx2 => "avx2",
            Isa::Portable => "portable",
        })
    }
}

mod sealed {
    /// The crate-private half of [`super::Element`]: outside code can
    /// neither implement it nor call the unchecked product.
    pub trait Sealed: Sized {
        /// Runs the product on packed `B`; the caller checked every length
        /// against the dims (the microkernels rely on it).
        fn product(isa: super::Isa, dims: &super::GemmDims, a: &[Self], packed_b: &[Self], c: &mut [Self]);
    }
}

use sealed::Sealed;

/// An element type the runtime multiplies: f32 or f64.
pub trait Element: Sealed + Copy + Default + PartialEq + fmt::Debug + Send + Sync + 'static {
    /// `self * a + b` with one rounding.
    fn fma(self, a: Self, b: Self) -> Self;
    /// The width of the `B` panels of `isa`'s kernel for this type.
    fn panel_width(isa: Isa) -> usize;
}

/// The geometry of one product: `A` is `m x k` with row stride `lda`, `B`
/// is `k x n` with row stride `ldb` (when not packed), `C` is `m x n` with
/// row stride `ldc`; strides are in elements.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GemmDims {
    pub m: usize,
    pub n: usize,
    pub k: usize,
    pub lda: usize,
    pub ldb: usize,
    pub ldc: usize,
}

impl GemmDims {
    /// Dense row-major matrices (`lda = k`, `ldb = ldc = n`).
    pub fn dense(m: usize, n: usize, k: usize) -> GemmDims {
        GemmDims { m, n, k, lda: k, ldb: n, ldc: n }
    }

    fn check(&self) -> Result<(), String> {
        if self.lda < self.k || self.ldb < self.n || self.ldc < self.n {
            return Err(format!("row strides {self:?} are shorter than the rows"));
        }
        Ok(())
    }
}

/// The elements a row-major `rows x cols` matrix with row stride `ld`
/// spans (0 when it is empty).
pub(crate) fn span(rows: usize, cols: usize, ld: usize) -> Option<usize> {
    if rows == 0 || cols == 0 {
        return Some(0);
    }
    (rows - 1).checked_mul(ld)?.checked_add(cols)
}

fn check_len(what: &str, have: usize, need: Option<usize>) -> Result<(), String> {
    match need {
        Some(need) if have >= need => Ok(()),
        Some(need) => Err(format!("{what} holds {have} elements, {need} needed")),
        None => Err(format!("{what} is too large")),
    }
}

/// The right operand of a product.
#[derive(Debug, Clone, Copy)]
pub enum Rhs<'a, T> {
    /// Row-major `k x n` with row stride `ldb`; packed per call.
    RowMajor(&'a [T]),
    /// Already packed by [`pack_b`] for the same `isa`, `k` and `n`.
    Packed(&'a [T]),
}

/// Elements of `B` (`k x n`) packed for `isa`.
pub fn packed_len<T: Element>(isa: Isa, k: usize, n: usize) -> Option<usize> {
    let nr = T::panel_width(isa);
    n.div_ceil(nr).checked_mul(nr)?.checked_mul(k)
}

/// Packs row-major `b` (`k x n`, row stride `ldb`) into `out` for `isa`:
/// panel `q` holds columns `q*NR ..` of every row, rows contiguous, columns
/// past `n` zero.
pub fn pack_b<T: Element>(isa: Isa, k: usize, n: usize, b: &[T], ldb: usize, out: &mut [T]) -> Result<(), String> {
    let nr = T::panel_width(isa);
    if ldb < n {
        return Err(format!("row stride {ldb} is shorter than the rows ({n})"));
    }
    check_len("B", b.len(), span(k, n, ldb))?;
    check_len("the packed B", out.len(), packed_len::<T>(isa, k, n))?;
    for (q, panel) in out.chunks_exact_mut(nr * k.max(1)).take(n.div_ceil(nr)).enumerate() {
        let j0 = q * nr;
        let width = nr.min(n - j0);
        for (p, row) in panel.chunks_exact_mut(nr).take(k).enumerate() {
            let src = &b[p * ldb + j0..p * ldb + j0 + width];
            row[..width].copy_from_slice(src);
            row[width..].fill(T::default());
        }
    }
    Ok(())
}

/// `C = A x B` with the reference fma order (see the module doc). `scratch`
/// holds [`packed_len`] elements when `b` is [`Rhs::RowMajor`] (it may be
/// empty otherwise). An error names the slice that is too short.
pub fn gemm<T: Element>(
    isa: Isa,
    dims: &GemmDims,
    a: &[T],
    b: Rhs<'_, T>,
    c: &mut [T],
    scratch: &mut [T],
) -> Result<(), String> {
    let GemmDims { m, n, k, lda, ldb, ldc } = *dims;
    dims.check()?;
    if !isa.runs_here() {
        return Err(format!("this CPU does not run the {isa} kernels"));
    }
    check_len("A", a.len(), span(m, k, lda))?;
    check_len("C", c.len(), span(m, n, ldc))?;
    let plen = packed_len::<T>(isa, k, n).ok_or("B is too large")?;
    let packed: &[T] = match b {
        Rhs::Packed(p) => {
            check_len("the packed B", p.len(), Some(plen))?;
            p
        }
        Rhs::RowMajor(b) => {
            check_len("the scratch", scratch.len(), Some(plen))?;
            pack_b(isa, k, n, b, ldb, &mut scratch[..plen])?;
            &scratch[..plen]
        }
    };
    T::product(isa, dims, a, packed, c);
    Ok(())
}

impl Element for f32 {
    fn fma(self, a: f32, b: f32) -> f32 {
        self.mul_add(a, b)
    }

    fn panel_width(isa: Isa) -> usize {
        match isa {
            Isa::Avx512 => 32,
            Isa::Avx2 => 16,
            Isa::Portable => scalar::NR,
        }
    }
}

impl Sealed for f32 {
    fn product(isa: Isa, dims: &GemmDims, a: &[f32], packed_b: &[f32], c: &mut [f32]) {
        match isa {
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512 => driver::drive::<x86::Avx512F32>(dims, a, packed_b, c),
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 => driver::drive::<x86::Avx2F32>(dims, a, packed_b, c),
            _ => driver::drive::<scalar::Portable<f32>>(dims, a, packed_b, c),
        }
    }
}

impl Element for f64 {
    fn fma(self, a: f64, b: f64) -> f64 {
        self.mul_add(a, b)
    }

    fn panel_width(isa: Isa) -> usize {
        match isa {
            Isa::Avx512 => 16,
            Isa::Avx2 => 8,
            Isa::Portable => scalar::NR,
        }
    }
}

impl Sealed for f64 {
    fn product(isa: Isa, dims: &GemmDims, a: &[f64], packed_b: &[f64], c: &mut [f64]) {
        match isa {
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512 => driver::drive::<x86::Avx512F64>(dims, a, packed_b, c),
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 => driver::drive::<x86::Avx2F64>(dims, a, packed_b, c),
            _ => driver::drive::<scalar::Portable<f64>>(dims, a, packed_b, c),
        }
    }
}
