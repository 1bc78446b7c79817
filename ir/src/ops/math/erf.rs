//! The error function and GELU's erf form.
//!
//! erf: for `|x| < 0.875`, `x * P(x^2)` (the leading coefficient 2/sqrt(pi)
//! split in two floats); above, `±(1 - erfc(|x|))` with the tail
//! `erfc(z) = e^(-z^2) * G(2 / (z + 2))`. Both branches are computed and
//! one is selected.
//!
//! GELU: `x * Φ(x) = 0.5 x (1 + erf(x / sqrt 2))`, computed without the
//! cancellation of `1 + erf` for negative x: with `z = |x| / sqrt 2`, `2Φ` is
//! `1 ± erf(z)` for small z and `2 - erfc(z)` or `erfc(z)` above, where
//! `z^2 = x^2 / 2` is carried exactly as the sum of two floats (an fma gives
//! the low part; halving is exact) into the exponential. So the result is
//! accurate in relative terms even where it is tiny.

use super::coefficients::{ERFC_TAIL, ERF_SMALL, ERF_SMALL_LIMIT};
use super::exp::{exp_hi_lo, exp_in};
use super::{poly, F32Ops};

/// erf(x) for |x| below the limit: `x * (C0_HI + (C0_LO + u P(u)))`.
fn erf_small<A: F32Ops>(a: &mut A, x: A::F) -> A::F {
    let u = a.mul(x, x);
    let p = poly(a, u, &ERF_SMALL[2..]);
    let c0_lo = a.c(ERF_SMALL[1]);
    let tail = a.fma(u, p, c0_lo);
    let low = a.mul(x, tail);
    let c0_hi = a.c(ERF_SMALL[0]);
    a.fma(x, c0_hi, low)
}

/// erfc(z) for z >= ERF_SMALL_LIMIT as its two factors `(e^(-z^2), G)`,
/// given `z^2 = hi + lo` exactly (or just `hi`, where erfc's relative
/// accuracy does not matter).
fn erfc_parts<A: F32Ops>(a: &mut A, z: A::F, hi: A::F, lo: Option<A::F>) -> (A::F, A::F) {
    let two = a.c(2.0);
    let d = a.add(z, two);
    let t = a.div(two, d);
    let g = poly(a, t, &ERFC_TAIL);
    let nhi = a.neg(hi);
    let e = match lo {
        Some(lo) => {
            let nlo = a.neg(lo);
            exp_hi_lo(a, nhi, nlo)
        }
        None => exp_in(a, nhi),
    };
    (e, g)
}

/// The error function.
pub fn erf_in<A: F32Ops>(a: &mut A, x: A::F) -> A::F {
    let ax = a.abs(x);
    let small = erf_small(a, x);
    // Past 10.5, erfc is 0 in f32 (and z^2 stays finite).
    let zmax = a.c(10.5);
    let big = a.gt(ax, zmax);
    let z = a.select(big, zmax, ax);
    // erf = 1 - erfc needs erfc only to ~2^-24 absolute, and erfc(z) z^2
    // is below 0.16: the rounding of z^2 costs at most 0.16 ulp here.
    let hi = a.mul(z, z);
    let (e, g) = erfc_parts(a, z, hi, None);
    let e = a.mul(e, g);
    let one = a.c(1.0);
    let large = a.sub(one, e);
    let limit = a.c(ERF_SMALL_LIMIT);
    let is_small = a.lt(ax, limit);
    // The sign of x also for -0 (the small form gives +0 there).
    let y = a.select(is_small, small, large);
    a.copysign(y, x)
}

/// GELU, `x * Φ(x)`.
pub fn gelu_erf_in<A: F32Ops>(a: &mut A, x: A::F) -> A::F {
    let ax = a.abs(x);
    let inv_sqrt2 = a.c(std::f32::consts::FRAC_1_SQRT_2);
    let z = a.mul(ax, inv_sqrt2);
    let s = erf_small(a, z);
    let half = a.c(0.5);
    let xx = a.mul(x, x);
    let hi = a.mul(xx, half);
    let nxx = a.neg(xx);
    let err = a.fma(x, x, nxx);
    let lo = a.mul(err, half);
    let (e, g) = erfc_parts(a, z, hi, Some(lo));
    let (one, two) = (a.c(1.0), a.c(2.0));
    let zero = a.c(0.0);
    let positive = a.ge(x, zero);
    let hx = a.mul(half, x);
    // Small z: 0.5 x (1 ± erf z).
    let (up, down) = (a.add(one, s), a.sub(one, s));
    let phi = a.select(positive, up, down);
    let small = a.mul(hx, phi);
    // Large z, x > 0: 0.5 x (2 - erfc z); x < 0: (0.5 x G) e^(-z^2), the
    // tiny factor last, so no intermediate falls into the subnormals.
    let erfc = a.mul(e, g);
    let upper = a.sub(two, erfc);
    let upper = a.mul(hx, upper);
    let hg = a.mul(hx, g);
    let lower = a.mul(hg, e);
    let large = a.select(positive, upper, lower);
    let limit = a.c(ERF_SMALL_LIMIT);
    let is_small = a.lt(z, limit);
    a.select(is_small, small, large)
}
