//! The fixed-point formats and constants the lowerings share: fractional
//! bits of each kind of intermediate, the quadratic coefficients of each
//! method, and the conversion of real constants to integer multipliers.
//!
//! Invariants: every constant here is documented in spec/nl.md with the
//! same value; a multiplier has 16 significant bits; fitted tables depend
//! only on the number of segments.

use std::sync::OnceLock;

/// Fractional bits of arguments in the log domain (log2 units for
/// `quark`, natural units for `ibert`).
pub const FRAC: i64 = 16;
/// Width of log-domain values: 24 bits hold [-128, 128) at 16 fractional
/// bits, beyond which 2^t is 0 (or saturates) at every output width.
pub const LOG_WIDTH: u8 = 24;
/// Fractional bits of exponentials and probabilities in (0, 1].
pub const EXP_FRAC: i64 = 16;
/// Fractional bits of the quadratics' coefficients and results.
pub const COEFF_FRAC: i64 = 16;
/// Fractional bits of the mantissa after the leading-one normalization.
pub const MANTISSA_FRAC: i64 = 16;
/// Fractional bits of a normalized layer-norm output before scale and
/// bias.
pub const NORM_FRAC: i64 = 16;

/// The paper's Appro-Exp quadratic for 2^f, f in (-1, 0]: 1.3% relative
/// error at f = -1 (for reference; weft fits its own, see
/// [`quark_exp2_segments`]).
pub const PAPER_EXP2: [f64; 3] = [0.1713, 0.6647, 1.0];
/// The paper's Appro-LN quadratic -0.3369 q^2 + 1.995 q - 1.65 on q = 1 + f,
/// rewritten for f in [0, 1): 0.0081 off at f = 0 (for reference).
pub const PAPER_LOG2: [f64; 3] = [-0.3369, 2.0 * -0.3369 + 1.995, -0.3369 + 1.995 - 1.65];

/// The quadratic `a u^2 + b u + c` through `(lo, f(lo))` and `(hi, f(hi))`
/// whose curvature minimizes the largest error on [lo, hi] (relative to
/// `f` when `relative`): the chord plus `a (u - lo)(u - hi)`, the error is
/// convex in `a`, found by ternary search on 1025 points.
pub fn fit_quadratic(f: impl Fn(f64) -> f64, lo: f64, hi: f64, relative: bool) -> [f64; 3] {
    let (flo, fhi) = (f(lo), f(hi));
    let slope = (fhi - flo) / (hi - lo);
    let points: Vec<(f64, f64)> = (0..=1024).map(|k| lo + (hi - lo) * k as f64 / 1024.0).map(|u| (u, f(u))).collect();
    let error = |a: f64| {
        points.iter().fold(0.0f64, |m, &(u, y)| {
            let p = flo + slope * (u - lo) + a * (u - lo) * (u - hi);
            let e = (p - y).abs();
            m.max(if relative { e / y.abs() } else { e })
        })
    };
    let (mut left, mut right) = (-16.0f64, 16.0f64);
    for _ in 0..200 {
        let (m1, m2) = (left + (right - left) / 3.0, right - (right - left) / 3.0);
        if error(m1) <= error(m2) {
            right = m2;
        } else {
            left = m1;
        }
    }
    let a = (left + right) / 2.0;
    [a, slope - a * (lo + hi), flo - slope * lo + a * lo * hi]
}

/// Appro-Exp's table: segment i of S approximates `2^(u - i/S)` for the
/// offset u in [-1/S, 0] from the segment's top, exact at both ends,
/// minimax relative error (S = 1: 0.27%, 4: 0.004%).
pub fn quark_exp2_segments(segments: usize) -> Vec<[f64; 3]> {
    let s = segments as f64;
    (0..segments).map(|i| fit_quadratic(|u| 2f64.powf(u - i as f64 / s), -1.0 / s, 0.0, true)).collect()
}

/// Appro-LN's table: segment i of S approximates `log2(1 + i/S + u)` for
/// u in [0, 1/S], exact at both ends (continuous across segments and
/// octaves), minimax absolute error (S = 1: 0.0076, 4: 0.00026).
pub fn quark_log2_segments(segments: usize) -> Vec<[f64; 3]> {
    let s = segments as f64;
    (0..segments).map(|i| fit_quadratic(|u| (1.0 + i as f64 / s + u).log2(), 0.0, 1.0 / s, false)).collect()
}

/// A coefficient table as integers with `frac` fractional bits.
pub fn fixed_table(table: &[[f64; 3]], frac: i64) -> Vec<i128> {
    table.iter().flat_map(|c| fixed_coeffs(*c, frac)).collect()
}

/// The segments `quark` uses by default: 4 (a table of 4 coefficient
/// rows per unit).
pub const DEFAULT_SEGMENTS: usize = 4;

/// The coefficient tables of `quark`'s units.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuarkTables {
    /// weft's fitted quadratics, this many segments per unit.
    Fitted(usize),
    /// The paper's two quadratics, one segment.
    Paper,
}

/// Fitted tables by `log2(segments)`, computed once per process.
static EXP2_TABLES: [OnceLock<Vec<[f64; 3]>>; 5] = [const { OnceLock::new() }; 5];
static LOG2_TABLES: [OnceLock<Vec<[f64; 3]>>; 5] = [const { OnceLock::new() }; 5];

fn cached(cache: &'static [OnceLock<Vec<[f64; 3]>>; 5], n: usize, fit: fn(usize) -> Vec<[f64; 3]>) -> Vec<[f64; 3]> {
    match cache.get(n.trailing_zeros() as usize) {
        Some(cell) if n.is_power_of_two() => cell.get_or_init(|| fit(n)).clone(),
        _ => fit(n),
    }
}

impl QuarkTables {
    pub fn exp2(self) -> Vec<[f64; 3]> {
        match self {
            QuarkTables::Fitted(n) => cached(&EXP2_TABLES, n, quark_exp2_segments),
            QuarkTables::Paper => vec![PAPER_EXP2],
        }
    }

    pub fn log2(self) -> Vec<[f64; 3]> {
        match self {
            QuarkTables::Fitted(n) => cached(&LOG2_TABLES, n, quark_log2_segments),
            QuarkTables::Paper => vec![PAPER_LOG2],
        }
    }
}

/// I-BERT's i-exp quadratic 0.3585 (p + 1.353)^2 + 0.344 on p in
/// (-ln 2, 0], expanded.
pub const IBERT_EXP: [f64; 3] = [0.3585, 2.0 * 0.3585 * 1.353, 0.3585 * 1.353 * 1.353 + 0.344];
/// I-BERT's i-erf quadratic a (c + b)^2 + 1 on c = min(|x|, -b), expanded
/// (a = -0.2888, b = -1.769).
pub const IBERT_ERF: [f64; 3] = [-0.2888, 2.0 * -0.2888 * -1.769, -0.2888 * 1.769 * 1.769 + 1.0];
/// I-BERT's i-erf clipping point -b.
pub const IBERT_ERF_CLIP: f64 = 1.769;

/// `x * 2^frac` rounded to nearest.
pub fn fixed(x: f64, frac: i64) -> i128 {
    (x * 2f64.powi(frac as i32)).round() as i128
}

/// Coefficients in a format of `frac` fractional bits.
pub fn fixed_coeffs(c: [f64; 3], frac: i64) -> [i128; 3] {
    c.map(|x| fixed(x, frac))
}

/// The width of the narrowest signed integer type holding `v`.
pub fn bits_for(v: i128) -> u8 {
    let magnitude = if v >= 0 { v } else { !v };
    (129 - magnitude.leading_zeros()) as u8
}

/// `(m, shift)` with `c ~ m * 2^-shift` and `m` of 16 significant bits
/// (`2^15 <= m < 2^16`), for a real constant `c > 0`; `(0, 0)` for
/// `c <= 0`.
pub fn multiplier(c: f64) -> (i128, i64) {
    if c.partial_cmp(&0.0) != Some(std::cmp::Ordering::Greater) || !c.is_finite() {
        return (0, 0);
    }
    let shift = (15 - c.log2().floor() as i64).clamp(-126, 126);
    let m = (c * 2f64.powi(shift as i32)).round() as i128;
    if m >= 1 << 16 {
        return ((c * 2f64.powi(shift as i32 - 1)).round() as i128, shift - 1);
    }
    (m, shift)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn widths_of_signed_values() {
        assert_eq!(
            [bits_for(0), bits_for(1), bits_for(-1), bits_for(127), bits_for(128), bits_for(-128)],
            [1, 2, 1, 8, 9, 8]
        );
        assert_eq!(bits_for(i64::MAX as i128), 64);
    }

    #[test]
    fn multipliers_have_sixteen_bits() {
        for c in [1.0, 0.0625 * std::f64::consts::LOG2_E * 65536.0, 1e-6, 3.99999, 1234.5] {
            let (m, s) = multiplier(c);
            assert!((1 << 15..1 << 16).contains(&m), "{c}: {m}");
            assert!((m as f64 * 2f64.powi(-s as i32) / c - 1.0).abs() < 2e-5, "{c}");
        }
        assert_eq!(multiplier(0.0), (0, 0));
        assert_eq!(multiplier(f64::NAN), (0, 0));
    }

    #[test]
    fn fitted_tables_are_continuous_and_accurate() {
        let p = |c: [f64; 3], u: f64| c[0] * u * u + c[1] * u + c[2];
        for (segments, exp_bound, log_bound) in [(1, 0.0027, 0.0077), (4, 4.3e-5, 2.6e-4)] {
            let (exp, log) = (quark_exp2_segments(segments), quark_log2_segments(segments));
            let s = segments as f64;
            for i in 0..segments {
                for k in 0..=100 {
                    let u = k as f64 / 100.0 / s;
                    let want = 2f64.powf(-u - i as f64 / s);
                    assert!((p(exp[i], -u) / want - 1.0).abs() <= exp_bound, "exp2 S={segments} i={i} u={u}");
                    let want = (1.0 + i as f64 / s + u).log2();
                    assert!((p(log[i], u) - want).abs() <= log_bound, "log2 S={segments} i={i} u={u}");
                }
            }
            assert!((p(exp[0], 0.0) - 1.0).abs() < 1e-12 && p(log[0], 0.0).abs() < 1e-12);
        }
        // One segment reproduces the constrained minimax quadratics.
        let (e, l) = (quark_exp2_segments(1)[0], quark_log2_segments(1)[0]);
        assert!((e[0] - 0.1699).abs() < 1e-3 && (l[0] + 0.3466).abs() < 1e-3, "{e:?} {l:?}");
        // The paper's quadratics are worse than the fitted ones.
        assert!((p(PAPER_EXP2, -1.0) / 0.5 - 1.0).abs() > 0.013);
        assert!(p(PAPER_LOG2, 0.0) > 0.008);
        assert!((p(IBERT_EXP, 0.0) - 1.0).abs() < 1e-3);
    }
}
