//! weft's own f32 math: `exp`, `log`, `erf`, `tanh`, `sigmoid` and the two
//! GELU forms, written once as straight-line programs over an abstract
//! f32 machine ([`F32Ops`]) so that every engine runs the same operation
//! sequence and gets the same bits.
//!
//! The interpreter runs them on plain `f32`s ([`Scalar`], and the
//! convenience functions [`exp`], [`erf`], ...); the JIT instantiates the
//! same generic functions with a Cranelift builder, on `f32` registers or
//! on `f32x4` lanes. The programs use only IEEE operations that are
//! correctly rounded everywhere (`+ - * /`, fused multiply-add, sign
//! operations), ordered comparisons, selects, bit casts and wrapping i32
//! arithmetic on the bits — no table lookups and no branches, so they
//! vectorize as written. Algorithms: range reduction, then a polynomial
//! fitted by `scripts/math/fit.py` (coefficients in `coefficients.rs`);
//! spec/numerics.md states them with their measured errors.
//!
//! Invariants: every function is total (any input, including NaN, ±inf
//! and subnormals, gives a defined result and never panics); NaN inputs
//! give NaN; the functions of this module never depend on the host's
//! libm, so their results are the same on every machine.

mod coefficients;
mod erf;
mod exp;
mod tanh;
#[cfg(test)]
mod tests;

pub use erf::{erf_in, gelu_erf_in};
pub use exp::{exp_diff_in, exp_in, log_in};
pub use tanh::{gelu_tanh_in, sigmoid_in, tanh_in};

/// The operations the algorithms are written in. `F` is an f32 (or a
/// vector of f32 lanes), `I` an i32 holding bits (or lanes of them), `M`
/// the result of a comparison (a bool or a lane mask). Every method is one
/// IEEE operation with a single rounding (or none).
pub trait F32Ops {
    type F: Copy;
    type I: Copy;
    type M: Copy;
    /// The constant `x` (in every lane).
    fn c(&mut self, x: f32) -> Self::F;
    /// The integer constant `x` (in every lane).
    fn ic(&mut self, x: i32) -> Self::I;
    fn add(&mut self, a: Self::F, b: Self::F) -> Self::F;
    fn sub(&mut self, a: Self::F, b: Self::F) -> Self::F;
    fn mul(&mut self, a: Self::F, b: Self::F) -> Self::F;
    fn div(&mut self, a: Self::F, b: Self::F) -> Self::F;
    /// `a * b + c` with one rounding.
    fn fma(&mut self, a: Self::F, b: Self::F, c: Self::F) -> Self::F;
    /// `a` with its sign bit flipped.
    fn neg(&mut self, a: Self::F) -> Self::F;
    /// `a` with its sign bit cleared.
    fn abs(&mut self, a: Self::F) -> Self::F;
    /// The magnitude of `mag` with the sign bit of `sign`.
    fn copysign(&mut self, mag: Self::F, sign: Self::F) -> Self::F;
    /// `a < b` (false when either is NaN).
    fn lt(&mut self, a: Self::F, b: Self::F) -> Self::M;
    /// `a > b` (false when either is NaN).
    fn gt(&mut self, a: Self::F, b: Self::F) -> Self::M;
    /// `a >= b` (false when either is NaN).
    fn ge(&mut self, a: Self::F, b: Self::F) -> Self::M;
    /// `a == b` (false when either is NaN).
    fn eq(&mut self, a: Self::F, b: Self::F) -> Self::M;
    /// `m ? a : b`.
    fn select(&mut self, m: Self::M, a: Self::F, b: Self::F) -> Self::F;
    /// The bits of `a`.
    fn bits_of(&mut self, a: Self::F) -> Self::I;
    /// The float with bits `i`.
    fn float_of_bits(&mut self, i: Self::I) -> Self::F;
    /// `i` converted to f32 (exact for the small values used here).
    fn itof(&mut self, i: Self::I) -> Self::F;
    /// Wrapping `a + b`.
    fn iadd(&mut self, a: Self::I, b: Self::I) -> Self::I;
    /// Wrapping `a - b`.
    fn isub(&mut self, a: Self::I, b: Self::I) -> Self::I;
    fn iand(&mut self, a: Self::I, b: Self::I) -> Self::I;
    /// `a << n` (bits shifted out are lost), `0 < n < 32`.
    fn shl(&mut self, a: Self::I, n: u32) -> Self::I;
    /// Arithmetic `a >> n`, `0 < n < 32`.
    fn sar(&mut self, a: Self::I, n: u32) -> Self::I;
}

/// Horner's rule with fused multiply-adds: `c[0] + x * (c[1] + x * ...)`.
fn poly<A: F32Ops>(a: &mut A, x: A::F, coeffs: &[f32]) -> A::F {
    let Some((&last, rest)) = coeffs.split_last() else { return a.c(0.0) };
    let mut acc = a.c(last);
    for &k in rest.iter().rev() {
        let k = a.c(k);
        acc = a.fma(acc, x, k);
    }
    acc
}

/// `x < lo ? lo : x > hi ? hi : x`; NaN stays NaN.
fn clamp<A: F32Ops>(a: &mut A, x: A::F, lo: f32, hi: f32) -> A::F {
    let (l, h) = (a.c(lo), a.c(hi));
    let above = a.gt(x, h);
    let x = a.select(above, h, x);
    let below = a.lt(x, l);
    a.select(below, l, x)
}

/// The f32 machine on plain values: what the interpreter runs.
#[derive(Debug, Default, Clone, Copy)]
pub struct Scalar;

impl F32Ops for Scalar {
    type F = f32;
    type I = i32;
    type M = bool;
    fn c(&mut self, x: f32) -> f32 {
        x
    }
    fn ic(&mut self, x: i32) -> i32 {
        x
    }
    fn add(&mut self, a: f32, b: f32) -> f32 {
        a + b
    }
    fn sub(&mut self, a: f32, b: f32) -> f32 {
        a - b
    }
    fn mul(&mut self, a: f32, b: f32) -> f32 {
        a * b
    }
    fn div(&mut self, a: f32, b: f32) -> f32 {
        a / b
    }
    fn fma(&mut self, a: f32, b: f32, c: f32) -> f32 {
        a.mul_add(b, c)
    }
    fn neg(&mut self, a: f32) -> f32 {
        -a
    }
    fn abs(&mut self, a: f32) -> f32 {
        a.abs()
    }
    fn copysign(&mut self, mag: f32, sign: f32) -> f32 {
        mag.copysign(sign)
    }
    fn lt(&mut self, a: f32, b: f32) -> bool {
        a < b
    }
    fn gt(&mut self, a: f32, b: f32) -> bool {
        a > b
    }
    fn ge(&mut self, a: f32, b: f32) -> bool {
        a >= b
    }
    fn eq(&mut self, a: f32, b: f32) -> bool {
        a == b
    }
    fn select(&mut self, m: bool, a: f32, b: f32) -> f32 {
        if m {
            a
        } else {
            b
        }
    }
    fn bits_of(&mut self, a: f32) -> i32 {
        a.to_bits() as i32
    }
    fn float_of_bits(&mut self, i: i32) -> f32 {
        f32::from_bits(i as u32)
    }
    fn itof(&mut self, i: i32) -> f32 {
        i as f32
    }
    fn iadd(&mut self, a: i32, b: i32) -> i32 {
        a.wrapping_add(b)
    }
    fn isub(&mut self, a: i32, b: i32) -> i32 {
        a.wrapping_sub(b)
    }
    fn iand(&mut self, a: i32, b: i32) -> i32 {
        a & b
    }
    fn shl(&mut self, a: i32, n: u32) -> i32 {
        a.wrapping_shl(n)
    }
    fn sar(&mut self, a: i32, n: u32) -> i32 {
        a.wrapping_shr(n)
    }
}

/// The f64 sum of `values` as four interleaved partial sums: `s_j` adds
/// the values at positions `k ≡ j (mod 4)` in order, each starting at
/// -0.0, and the sum is `(s_0 + s_1) + (s_2 + s_3)`. This is the order
/// f32 softmax defines for its sum of exponentials: SIMD lanes add it
/// without a serial dependency through every element.
pub fn sum4(values: impl IntoIterator<Item = f64>) -> f64 {
    let mut s = [-0.0f64; 4];
    for (k, v) in values.into_iter().enumerate() {
        s[k % 4] += v;
    }
    (s[0] + s[1]) + (s[2] + s[3])
}

/// e^x.
pub fn exp(x: f32) -> f32 {
    exp_in(&mut Scalar, x)
}

/// e^(x - m), with `x - m` taken exactly (softmax's shifted exponential).
pub fn exp_diff(x: f32, m: f32) -> f32 {
    exp_diff_in(&mut Scalar, x, m)
}

/// The natural logarithm.
pub fn log(x: f32) -> f32 {
    log_in(&mut Scalar, x)
}

/// The Gauss error function.
pub fn erf(x: f32) -> f32 {
    erf_in(&mut Scalar, x)
}

/// The hyperbolic tangent.
pub fn tanh(x: f32) -> f32 {
    tanh_in(&mut Scalar, x)
}

/// The logistic function 1 / (1 + e^-x).
pub fn sigmoid(x: f32) -> f32 {
    sigmoid_in(&mut Scalar, x)
}

/// GELU, `x * Φ(x)` (the erf form).
pub fn gelu_erf(x: f32) -> f32 {
    gelu_erf_in(&mut Scalar, x)
}

/// GELU's tanh approximation `0.5 * x * (1 + tanh(sqrt(2/π) * (x + 0.044715 x^3)))`.
pub fn gelu_tanh(x: f32) -> f32 {
    gelu_tanh_in(&mut Scalar, x)
}
