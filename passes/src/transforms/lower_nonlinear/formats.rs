//! The fixed-point formats and constants the lowerings share: fractional
//! bits of each kind of intermediate, the quadratic coefficients of each
//! method, and the conversion of real constants to integer multipliers.
//!
//! Invariants: every constant here is documented in spec/nl.md with the
//! same value; a multiplier has 16 significant bits.

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

/// QUARK's Appro-Exp quadratic for 2^f, f in (-1, 0]: continuous at the
/// ends (`p(0) = 1`, `p(-1) = 1/2`), minimax relative error 0.27%. (The
/// paper's 0.1713 f^2 + 0.6647 f + 1 has 1.3% at f = -1.)
pub const QUARK_EXP2: [f64; 3] = [0.169883, 0.669883, 1.0];
/// QUARK's Appro-LN quadratic for log2(1 + f), f in [0, 1): continuous
/// across octaves (`p(0) = 0`, `p(1) = 1`), minimax error 0.0076. (The
/// paper's -0.3369 q^2 + 1.995 q - 1.65 on q = 1 + f is 0.0081 off at
/// f = 0 and jumps by 0.016 between octaves.)
pub const QUARK_LOG2: [f64; 3] = [-0.346556, 1.346556, 0.0];
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
    fn quadratics_meet_their_end_points() {
        let p = |c: [f64; 3], f: f64| c[0] * f * f + c[1] * f + c[2];
        assert!((p(QUARK_EXP2, -1.0) - 0.5).abs() < 1e-6 && p(QUARK_EXP2, 0.0) == 1.0);
        assert!((p(QUARK_LOG2, 1.0) - 1.0).abs() < 1e-6 && p(QUARK_LOG2, 0.0) == 0.0);
        assert!((p(IBERT_EXP, 0.0) - 1.0).abs() < 1e-3);
    }
}
