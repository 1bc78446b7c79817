//! The C entry points the JIT's generated code calls for one float matrix
//! product (registered as runtime functions in `jit::math`):
//!
//! `fn(a, b, c, scratch, m, n, k, mode) -> i64` with dense row-major
//! matrices (`lda = k`, `ldb = ldc = n`), `mode` = the [`Isa`] code, plus
//! [`PACKED_B`] when `b` is already packed. Returns 0, or 1 when the
//! runtime rejected its operands (an internal error of the JIT).
//!
//! Invariants: the generated code passes pointers to buffers of exactly
//! the sizes the dims give (the planner placed them; constants were
//! packed or copied to aligned memory at compile time); `c` overlaps none
//! of the other buffers. A null or misaligned pointer or an unknown mode
//! is rejected, not dereferenced.

use super::{gemm, packed_len, Element, GemmDims, Isa, Rhs};

/// The `mode` bit saying `b` is packed for the mode's [`Isa`].
pub(crate) const PACKED_B: u64 = 1 << 8;

/// The f32 product.
///
/// # Safety
/// The pointers address buffers of the sizes described in the module doc,
/// and `c` overlaps none of the others.
#[allow(clippy::too_many_arguments)]
pub(crate) unsafe extern "C" fn gemm_f32(
    a: *const f32,
    b: *const f32,
    c: *mut f32,
    scratch: *mut f32,
    m: u64,
    n: u64,
    k: u64,
    mode: u64,
) -> i64 {
    // SAFETY: forwarded from the caller.
    unsafe { product(a, b, c, scratch, [m, n, k], mode) }
}

/// The f64 product; as [`gemm_f32`].
///
/// # Safety
/// As [`gemm_f32`].
#[allow(clippy::too_many_arguments)]
pub(crate) unsafe extern "C" fn gemm_f64(
    a: *const f64,
    b: *const f64,
    c: *mut f64,
    scratch: *mut f64,
    m: u64,
    n: u64,
    k: u64,
    mode: u64,
) -> i64 {
    // SAFETY: forwarded from the caller.
    unsafe { product(a, b, c, scratch, [m, n, k], mode) }
}

/// # Safety
/// As [`gemm_f32`].
unsafe fn product<T: Element>(a: *const T, b: *const T, c: *mut T, scratch: *mut T, mnk: [u64; 3], mode: u64) -> i64 {
    let Some(isa) = Isa::from_code(mode & 0xff) else { return 1 };
    let [m, n, k] = mnk.map(usize::try_from);
    let (Ok(m), Ok(n), Ok(k)) = (m, n, k) else { return 1 };
    let packed = mode & PACKED_B != 0;
    let Some(plen) = packed_len::<T>(isa, k, n) else { return 1 };
    let sizes = (m.checked_mul(k), k.checked_mul(n), m.checked_mul(n));
    let (Some(a_len), Some(b_len), Some(c_len)) = sizes else { return 1 };
    let (b_len, s_len) = if packed { (plen, 0) } else { (b_len, plen) };
    // SAFETY: the caller passes buffers of these lengths, `c` (the only
    // one written besides the scratch) overlapping none of the others;
    // `slice` rejects null and misaligned pointers.
    let slices = unsafe { (slice(a, a_len), slice(b, b_len), slice_mut(c, c_len), slice_mut(scratch, s_len)) };
    let (Some(a), Some(b), Some(c), Some(scratch)) = slices else { return 1 };
    let rhs = if packed { Rhs::Packed(b) } else { Rhs::RowMajor(b) };
    match gemm(isa, &GemmDims::dense(m, n, k), a, rhs, c, scratch) {
        Ok(()) => 0,
        Err(_) => 1,
    }
}

/// # Safety
/// `p` addresses `len` initialized elements that nothing writes while the
/// slice lives.
unsafe fn slice<'a, T>(p: *const T, len: usize) -> Option<&'a [T]> {
    if len == 0 {
        return Some(&[]);
    }
    if p.is_null() || !p.is_aligned() {
        return None;
    }
    // SAFETY: non-null, aligned, and `len` elements (the caller's contract).
    Some(unsafe { std::slice::from_raw_parts(p, len) })
}

/// # Safety
/// `p` addresses `len` initialized elements that nothing else accesses
/// while the slice lives.
unsafe fn slice_mut<'a, T>(p: *mut T, len: usize) -> Option<&'a mut [T]> {
    if len == 0 {
        return Some(&mut []);
    }
    if p.is_null() || !p.is_aligned() {
        return None;
    }
    // SAFETY: non-null, aligned, `len` elements, unique (the caller's contract).
    Some(unsafe { std::slice::from_raw_parts_mut(p, len) })
}
