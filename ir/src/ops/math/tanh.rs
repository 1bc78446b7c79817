//! The hyperbolic tangent, the logistic function and GELU's tanh form.
//!
//! tanh: for `|x| < 0.625`, `x + x^3 P(x^2)`; above, `±(1 - 2 / (e^(2|x|) + 1))`
//! (which saturates to ±1 once the exponential overflows). Both branches
//! are computed and one is selected.
//!
//! sigmoid: with `e = e^-|x|` (never overflows), `1 / (1 + e)` for x >= 0 and
//! `e / (1 + e)` below, one division either way.
//!
//! GELU (tanh form): `0.5 x (1 + tanh(u)) = x * sigmoid(2u)` exactly in real
//! arithmetic, with `u = sqrt(2/π) (x + 0.044715 x^3)`; the sigmoid form has
//! no cancellation for negative x, and `2u` is formed as a sum of two floats
//! (error-free products and sums), so the tail stays accurate too; the
//! result is `x / (1 + e)` or `(x / (1 + e)) e` with `e = e^-|2u|`.

use super::coefficients::{TANH_SMALL, TANH_SMALL_LIMIT};
use super::exp::{exp_hi_lo, exp_in};
use super::{poly, F32Ops};

/// The hyperbolic tangent.
pub fn tanh_in<A: F32Ops>(a: &mut A, x: A::F) -> A::F {
    let ax = a.abs(x);
    let u = a.mul(x, x);
    let p = poly(a, u, &TANH_SMALL);
    let x3 = a.mul(x, u);
    let small = a.fma(x3, p, x);
    let twice = a.add(ax, ax);
    let e = exp_in(a, twice);
    let (one, two) = (a.c(1.0), a.c(2.0));
    let d = a.add(e, one);
    let q = a.div(two, d);
    let large = a.sub(one, q);
    let limit = a.c(TANH_SMALL_LIMIT);
    let is_small = a.lt(ax, limit);
    // The sign of x also for -0 (the small form gives +0 there).
    let y = a.select(is_small, small, large);
    a.copysign(y, x)
}

/// The logistic function 1 / (1 + e^-x).
pub fn sigmoid_in<A: F32Ops>(a: &mut A, x: A::F) -> A::F {
    let ax = a.abs(x);
    let nax = a.neg(ax);
    let e = exp_in(a, nax);
    logistic(a, x, e)
}

/// `1 / (1 + e)` for x >= 0, `e / (1 + e)` below, where `e = e^-|x|`.
fn logistic<A: F32Ops>(a: &mut A, x: A::F, e: A::F) -> A::F {
    let one = a.c(1.0);
    let d = a.add(one, e);
    let zero = a.c(0.0);
    let positive = a.ge(x, zero);
    let n = a.select(positive, one, e);
    a.div(n, d)
}

/// `2 sqrt(2 / π)` and `2 sqrt(2 / π) * 0.044715`, each as a sum of two
/// floats, so that `2u = x * (C + CK x^2)` can be formed to about 2^-40.
const C_HI: f32 = 1.595_769_2;
const C_LO: f32 = -4.534_068e-8;
const CK_HI: f32 = 0.071_354_814;
const CK_LO: f32 = 2.398_832_5e-9;

/// GELU's tanh approximation, as `x * sigmoid(2u)`. `2u` is carried as a
/// sum of two floats: its rounding error would otherwise be multiplied by
/// `|2u|` in the exponential of the negative tail.
pub fn gelu_tanh_in<A: F32Ops>(a: &mut A, x: A::F) -> A::F {
    let xx = a.mul(x, x);
    let nxx = a.neg(xx);
    let xx_lo = a.fma(x, x, nxx);
    let ck_hi = a.c(CK_HI);
    let t = a.mul(ck_hi, xx);
    let nt = a.neg(t);
    let t_lo = a.fma(ck_hi, xx, nt);
    // p = C + CK x^2 = p_hi + p_lo (two-sum of C_HI and t, then the low parts).
    let c_hi = a.c(C_HI);
    let (p_hi, sum_err) = two_sum(a, c_hi, t);
    let (ck_lo, c_lo) = (a.c(CK_LO), a.c(C_LO));
    let p_lo = a.fma(ck_lo, xx, c_lo);
    let p_lo = a.fma(ck_hi, xx_lo, p_lo);
    let p_lo = a.add(p_lo, t_lo);
    let p_lo = a.add(p_lo, sum_err);
    // v = x * p = v_hi + v_lo.
    let v_hi = a.mul(x, p_hi);
    let nv = a.neg(v_hi);
    let v_lo = a.fma(x, p_hi, nv);
    let v_lo = a.fma(x, p_lo, v_lo);
    // e^-|v|, with the low part's sign following |v|.
    let zero = a.c(0.0);
    let positive = a.ge(v_hi, zero);
    let (av, nv_lo) = (a.abs(v_hi), a.neg(v_lo));
    let nav = a.neg(av);
    let lo = a.select(positive, nv_lo, v_lo);
    let e = exp_hi_lo(a, nav, lo);
    // x / (1 + e) for v >= 0; (x / (1 + e)) e below: the tiny factor last,
    // so no intermediate falls into the subnormals.
    let one = a.c(1.0);
    let d = a.add(one, e);
    let q = a.div(x, d);
    let qe = a.mul(q, e);
    a.select(positive, q, qe)
}

/// `a + b` as `(s, err)` with `s + err` exact (Knuth's two-sum).
fn two_sum<A: F32Ops>(a: &mut A, x: A::F, y: A::F) -> (A::F, A::F) {
    let s = a.add(x, y);
    let yy = a.sub(s, x);
    let xx = a.sub(s, yy);
    let dx = a.sub(x, xx);
    let dy = a.sub(y, yy);
    (s, a.add(dx, dy))
}
