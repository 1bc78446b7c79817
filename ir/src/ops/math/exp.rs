//! The exponential (with an optional low part of its argument, and the
//! exactly shifted form softmax uses) and the natural logarithm.
//!
//! exp: `k = round(x / ln 2)` by the add-a-shifter trick (the bits of
//! `x * log2(e) + 1.5 * 2^23` hold `k`), `r = x - k ln 2` in two fused
//! steps (Cody–Waite with `ln 2 = LN2_HI + LN2_LO`), `e^r = 1 + r + r^2
//! Q(r)`, then scaling by `2^k` as two exact powers of two so that the
//! only rounding of a subnormal result is the last multiplication.
//! Arguments are clamped to `[-104, 89]` first: below, the result rounds
//! to 0; above, the scaling overflows to inf; NaN flows through.
//!
//! log: `x = m * 2^e` with `m` in `[sqrt(1/2), sqrt(2))` from the bits
//! (subnormals are scaled by 2^23 first), `log x = e ln 2 + log1p(m - 1)`,
//! `log1p(f) = f + f^2 P(f)`; then 0, negatives, inf and NaN by selects.

use super::coefficients::{EXP, LOG};
use super::{clamp, poly, F32Ops};

const LOG2E: f32 = std::f32::consts::LOG2_E;
/// 1.5 * 2^23: adding it rounds to an integer, held in the low mantissa bits.
const SHIFTER: f32 = 12_582_912.0;
/// ln 2 = LN2_HI + LN2_LO; `k * LN2_HI` is subtracted exactly by an fma.
const LN2_HI: f32 = std::f32::consts::LN_2;
const LN2_LO: f32 = -1.904_654_2e-9;
const LOW: f32 = -104.0;
const HIGH: f32 = 89.0;

/// e^x.
pub fn exp_in<A: F32Ops>(a: &mut A, x: A::F) -> A::F {
    exp_core(a, x, None)
}

/// e^(hi + lo) where `lo` is a correction far below the ulp of `hi`
/// (ignored when `hi` is out of range or NaN).
pub(super) fn exp_hi_lo<A: F32Ops>(a: &mut A, hi: A::F, lo: A::F) -> A::F {
    exp_core(a, hi, Some(lo))
}

/// e^(x - m) where `x - m` is represented exactly as a sum of two floats
/// (Knuth's two-sum), so the shift softmax applies costs no accuracy.
pub fn exp_diff_in<A: F32Ops>(a: &mut A, x: A::F, m: A::F) -> A::F {
    let s = a.sub(x, m);
    let bb = a.sub(s, x);
    let s_bb = a.sub(s, bb);
    let ea = a.sub(x, s_bb);
    let eb = a.add(m, bb);
    let err = a.sub(ea, eb);
    exp_hi_lo(a, s, err)
}

fn exp_core<A: F32Ops>(a: &mut A, x: A::F, lo: Option<A::F>) -> A::F {
    let xc = clamp(a, x, LOW, HIGH);
    let (log2e, shifter) = (a.c(LOG2E), a.c(SHIFTER));
    let t = a.fma(xc, log2e, shifter);
    let kf = a.sub(t, shifter);
    let (ln2_hi, ln2_lo) = (a.c(-LN2_HI), a.c(-LN2_LO));
    let r = a.fma(kf, ln2_hi, xc);
    let mut r = a.fma(kf, ln2_lo, r);
    if let Some(lo) = lo {
        let inside = a.eq(xc, x);
        let zero = a.c(0.0);
        let lo = a.select(inside, lo, zero);
        r = a.add(r, lo);
    }
    let q = poly(a, r, &EXP);
    let r2 = a.mul(r, r);
    let y = a.fma(q, r2, r);
    let one = a.c(1.0);
    let y = a.add(y, one);
    // 2^k as 2^k1 * 2^k2 with k1 = k >> 1: both normal for k in [-150, 128].
    let (tb, sb) = (a.bits_of(t), a.bits_of(shifter));
    let k = a.isub(tb, sb);
    let k1 = a.sar(k, 1);
    let k2 = a.isub(k, k1);
    let s1 = pow2(a, k1);
    let s2 = pow2(a, k2);
    let y = a.mul(y, s1);
    a.mul(y, s2)
}

/// 2^k for `-126 <= k <= 127`.
fn pow2<A: F32Ops>(a: &mut A, k: A::I) -> A::F {
    let bias = a.ic(127);
    let e = a.iadd(k, bias);
    let b = a.shl(e, 23);
    a.float_of_bits(b)
}

/// The bits of sqrt(1/2) rounded to f32: mantissas are reduced to
/// `[sqrt(1/2), sqrt(2))`.
const SQRT_HALF_BITS: i32 = 0x3f35_04f3;

/// The natural logarithm.
pub fn log_in<A: F32Ops>(a: &mut A, x: A::F) -> A::F {
    let min_normal = a.c(f32::MIN_POSITIVE);
    let tiny = a.lt(x, min_normal);
    let scale = a.c(8_388_608.0); // 2^23
    let scaled = a.mul(x, scale);
    let xs = a.select(tiny, scaled, x);
    let bits = a.bits_of(xs);
    let base = a.ic(SQRT_HALF_BITS);
    let ix = a.isub(bits, base);
    let e = a.sar(ix, 23);
    let mask = a.ic(0x007f_ffff);
    let mant = a.iand(ix, mask);
    let mb = a.iadd(mant, base);
    let m = a.float_of_bits(mb);
    let one = a.c(1.0);
    let f = a.sub(m, one);
    let ef = a.itof(e);
    let (c23, zero) = (a.c(23.0), a.c(0.0));
    let shift = a.select(tiny, c23, zero);
    let ef = a.sub(ef, shift);
    let q = poly(a, f, &LOG);
    let f2 = a.mul(f, f);
    let y = a.fma(f2, q, f);
    let (ln2_hi, ln2_lo) = (a.c(LN2_HI), a.c(LN2_LO));
    let y = a.fma(ef, ln2_lo, y);
    let y = a.fma(ef, ln2_hi, y);
    special_log(a, x, y)
}

/// log 0 = -inf, log of a negative = NaN, log inf = inf, log NaN = NaN.
fn special_log<A: F32Ops>(a: &mut A, x: A::F, y: A::F) -> A::F {
    let (zero, inf, ninf, nan) = (a.c(0.0), a.c(f32::INFINITY), a.c(f32::NEG_INFINITY), a.c(f32::NAN));
    let is_zero = a.eq(x, zero);
    let y = a.select(is_zero, ninf, y);
    let negative = a.lt(x, zero);
    let y = a.select(negative, nan, y);
    let is_inf = a.eq(x, inf);
    let y = a.select(is_inf, inf, y);
    let ordered = a.eq(x, x);
    a.select(ordered, y, x)
}
