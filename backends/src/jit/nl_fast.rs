//! Fast forms of the `nl.exp2` and `nl.log2` units: the reference
//! (`Exp2Format::eval`, `Log2Format::eval`) computes its quadratic with
//! saturating i128 products, each a library call that checks a 256-bit
//! product for overflow; here the quadratic runs in i64 when the unit's
//! coefficients and fraction bound every intermediate far below 2^62, so
//! no product can saturate and the i64 values are the reference's exact
//! values. The steps around it (split, segment choice, final shift) are
//! the reference's own functions on the same values.
//!
//! Invariants: a fast form exists only when [`Quadratic::new`] proves the
//! bound for every input the unit can give the quadratic (`|x| <
//! 2^frac`); then [`FastExp2::eval`] and [`FastLog2::eval`] equal the
//! reference for every operand (tests compare them on wide ranges).

use weft_ir::ops::nl::shift::leading_one;
use weft_ir::ops::nl::{shift_round, Exp2Format, Log2Format, Rounding};

/// Every intermediate of a fast quadratic stays below this magnitude.
const LIMIT: i128 = 1 << 62;

/// Segment tables of `[a, b, c]` with fraction `frac`, exact in i64 for
/// `|x| < 2^frac`.
#[derive(Debug, Clone, PartialEq)]
struct Quadratic {
    coeffs: Vec<[i64; 3]>,
    frac: u32,
    /// `frac - log2(segments)`: the shift that selects the segment.
    select: u32,
}

impl Quadratic {
    fn new(coeffs: &[[i128; 3]], frac: i64) -> Option<Quadratic> {
        let segments = coeffs.len();
        let bits = i64::from(segments.checked_ilog2()?);
        if !segments.is_power_of_two() || !(bits..=30).contains(&frac) {
            return None;
        }
        let x = 1i128 << frac;
        let bounded = |&[a, b, c]: &[i128; 3]| {
            // |a x| <= |a| X; t = round(a x) + b <= |a| + 1 + |b|; |t x| <= (|a| + |b| + 1) X.
            let (a, b, c) = (a.abs(), b.abs(), c.abs());
            a < LIMIT && b < LIMIT && c < LIMIT && a * x < LIMIT && (a + b + 2) * x < LIMIT && a + b + c + 3 < LIMIT
        };
        if !coeffs.iter().all(bounded) {
            return None;
        }
        Some(Quadratic {
            coeffs: coeffs.iter().map(|&[a, b, c]| [a as i64, b as i64, c as i64]).collect(),
            frac: frac as u32,
            select: (frac - bits) as u32,
        })
    }

    /// The segment of `f` in `[0, 2^frac)` and its offset (the
    /// reference's `segment_of`).
    #[inline]
    fn segment(&self, f: i64) -> (usize, i64) {
        let i = (f >> self.select).clamp(0, self.coeffs.len() as i64 - 1);
        (i as usize, f - (i << self.select))
    }

    /// The bits of the largest `|p|` of any row for `|x| < 2^frac`:
    /// `|round(a x / 2^frac)| <= |a| + 1`, so `|p| <= |a| + |b| + |c| + 2`.
    fn result_bits(&self) -> u32 {
        let most = self.coeffs.iter().map(|r| r.iter().map(|c| i128::from(*c).abs()).sum::<i128>() + 2).max();
        128 - most.unwrap_or(2).leading_zeros()
    }

    /// `poly2` of segment `i` at `x` (`|x| < 2^frac`), rounding to
    /// nearest (ties up) as the reference.
    #[inline]
    fn eval(&self, i: usize, x: i64) -> i64 {
        let [a, b, c] = self.coeffs.get(i).copied().unwrap_or([0; 3]);
        let round = |v: i64| if self.frac == 0 { v } else { (v + (1 << (self.frac - 1))) >> self.frac };
        let t = round(a * x) + b;
        round(t * x) + c
    }
}

/// `nl.exp2` with an i64 quadratic.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct FastExp2 {
    poly: Quadratic,
    /// `out_frac - coeff_frac`.
    shift: i64,
}

impl FastExp2 {
    pub fn new(f: &Exp2Format) -> Option<FastExp2> {
        Some(FastExp2 { poly: Quadratic::new(&f.coeffs, f.frac)?, shift: f.out_frac - f.coeff_frac })
    }

    /// The coefficient rows `[a, b, c]`, the fraction bits of `t`, the
    /// shift that selects a row (`frac - log2(rows)`) and
    /// `out_frac - coeff_frac`: what inline code needs (every product of
    /// the quadratic is exact in i64, see [`Quadratic::new`]).
    pub fn parts(&self) -> (&[[i64; 3]], u32, u32, i64) {
        (&self.poly.coeffs, self.poly.frac, self.poly.select, self.shift)
    }

    /// The bits of the largest `|p|` the quadratic gives (at most 62).
    pub fn quadratic_bits(&self) -> u32 {
        self.poly.result_bits()
    }

    /// `Exp2Format::eval(t)` for `t` of at most 65 bits.
    #[inline]
    pub fn eval(&self, t: i128) -> i128 {
        let frac = self.poly.frac;
        // qi = ceil(t / 2^frac); qf = t - qi 2^frac lies in (-2^frac, 0].
        let qi = -((-t) >> frac);
        let f = (qi.wrapping_shl(frac) - t) as i64;
        let (i, rest) = self.poly.segment(f);
        let p = self.poly.eval(i, -rest);
        let amount = qi.saturating_add(i128::from(self.shift)).clamp(-126, 126) as i64;
        shift_round(i128::from(p), amount, Rounding::Nearest)
    }
}

/// `nl.log2` with an i64 quadratic.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct FastLog2 {
    poly: Quadratic,
    frac: i64,
    out_frac: i64,
}

impl FastLog2 {
    pub fn new(f: &Log2Format) -> Option<FastLog2> {
        Some(FastLog2 { poly: Quadratic::new(&f.coeffs, f.mantissa_frac)?, frac: f.frac, out_frac: f.out_frac })
    }

    /// The coefficient rows `[a, b, c]`, the mantissa's fraction bits, the
    /// shift that selects a row (`mantissa_frac - log2(rows)`), `frac`
    /// and `out_frac`: what inline code needs (every product of the
    /// quadratic is exact in i64, see [`Quadratic::new`]).
    pub fn parts(&self) -> (&[[i64; 3]], u32, u32, i64, i64) {
        (&self.poly.coeffs, self.poly.frac, self.poly.select, self.frac, self.out_frac)
    }

    /// `Log2Format::eval(x)` for `x` of at most 65 bits.
    #[inline]
    pub fn eval(&self, x: i128) -> Option<i128> {
        if x <= 0 {
            return None;
        }
        let mf = i64::from(self.poly.frac);
        let k = leading_one(x);
        // The mantissa in [1, 2) with `mf` bits, minus 1.
        let f = (shift_round(x, mf - k as i64, Rounding::Floor) - (1i128 << mf)) as i64;
        let (i, rest) = self.poly.segment(f);
        let p = self.poly.eval(i, rest);
        let exponent = shift_round(k - i128::from(self.frac), self.out_frac, Rounding::Floor);
        Some(i128::from(p).saturating_add(exponent))
    }
}

/// Unit formats the tests of the fast units and of the block runtime
/// both check: QUARK's fitted tables at the emitters' formats, and small
/// odd ones at the edges (negative and extreme fractions, wide outputs).
#[cfg(test)]
pub(crate) fn sample_exp2_formats() -> Vec<Exp2Format> {
    let fitted = vec![[14437, 45317, 65536], [12140, 38107, 55109], [10208, 32044, 46341], [8584, 26946, 38968]];
    vec![
        Exp2Format { frac: 16, coeffs: fitted.clone(), coeff_frac: 16, out_frac: 16 },
        Exp2Format { frac: 16, coeffs: fitted, coeff_frac: 16, out_frac: 0 },
        Exp2Format { frac: 15, coeffs: vec![[11134, 43901, 65536]], coeff_frac: 16, out_frac: 30 },
        Exp2Format { frac: 0, coeffs: vec![[3, -7, 11]], coeff_frac: 0, out_frac: 62 },
        Exp2Format { frac: 4, coeffs: vec![[-9, 5, 1], [7, -3, 2]], coeff_frac: 3, out_frac: 1 },
    ]
}

/// The log2 counterpart of [`sample_exp2_formats`].
#[cfg(test)]
pub(crate) fn sample_log2_formats() -> Vec<Log2Format> {
    let fitted = vec![[-37663, 93807, 0], [-25143, 75239, 21098], [-17974, 62792, 38336], [-13487, 53872, 52911]];
    vec![
        Log2Format { frac: 16, mantissa_frac: 16, coeffs: fitted.clone(), out_frac: 16 },
        Log2Format { frac: -4, mantissa_frac: 16, coeffs: fitted, out_frac: 16 },
        Log2Format { frac: 62, mantissa_frac: 1, coeffs: vec![[5, -3, 2], [1, 1, 1]], out_frac: 30 },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A deterministic stream of test values.
    fn stream(seed: u64) -> impl Iterator<Item = i64> {
        crate::test_rng::xorshift(seed).map(|s| s as i64)
    }

    #[test]
    fn fast_exp2_is_the_reference() {
        for f in sample_exp2_formats() {
            let fast = FastExp2::new(&f).expect("bounded");
            let edges = [0i64, 1, -1, i64::MIN, i64::MAX, 1 << 20, -(1 << 20)];
            let values = (-70_000..70_000)
                .chain(edges)
                .chain(stream(7).take(20_000))
                .chain(stream(9).map(|v| v >> 30).take(20_000));
            for t in values {
                assert_eq!(fast.eval(i128::from(t)), f.eval(i128::from(t)), "{f:?} at {t}");
            }
            // A u64 operand above i64::MAX.
            let big = i128::from(u64::MAX);
            assert_eq!(fast.eval(big), f.eval(big));
        }
    }

    #[test]
    fn fast_log2_is_the_reference() {
        for f in sample_log2_formats() {
            let fast = FastLog2::new(&f).expect("bounded");
            let values = (-10..200_000).chain([i64::MAX, i64::MIN]).chain(stream(3).take(50_000));
            for x in values {
                assert_eq!(fast.eval(i128::from(x)), f.eval(i128::from(x)), "{f:?} at {x}");
            }
            let big = i128::from(u64::MAX);
            assert_eq!(fast.eval(big), f.eval(big));
        }
    }

    #[test]
    fn unbounded_coefficients_have_no_fast_form() {
        let f = Exp2Format { frac: 30, coeffs: vec![[1 << 40, 0, 0]], coeff_frac: 0, out_frac: 0 };
        assert!(FastExp2::new(&f).is_none());
        let g = Log2Format { frac: 0, mantissa_frac: 30, coeffs: vec![[0, i128::from(i64::MAX), 0]], out_frac: 0 };
        assert!(FastLog2::new(&g).is_none());
    }
}
