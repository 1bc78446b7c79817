//! QUARK's two units: `nl.exp2` (Appro-Exp: ceil split, a quadratic on
//! the fraction, a barrel shift) and `nl.log2` (Appro-LN: leading-one
//! detector, normalizing shift, a quadratic on the mantissa), each with a
//! table of 1 to 16 coefficient rows chosen by the top bits of the
//! fraction.
//!
//! Invariants: both are defined as compositions of the primitives' own
//! semantics ([`poly2`], [`shift_round`], [`leading_one`]), so one
//! hardware quadratic, one barrel shifter and one leading-one detector can
//! serve all of them; the fraction has at least as many bits as select the
//! row.

use super::arith::ONE_RESULT;
use super::common::{bounded_int, int_operand, shift_round, Rounding};
use super::shift::leading_one;
use super::unit::{map_unit, poly2, same_shape_result, INPUT, MAX_FRAC};
use crate::module::Attrs;
use crate::ops::nn::common::ints_attr;
use crate::ops::{AttrKind, AttrSpec, OpDef, Trait};

/// The coefficient table of `nl.exp2` and `nl.log2`: `[a, b, c]` per
/// segment, `segments` a power of two in 1..=16.
fn segment_table(attrs: &Attrs) -> Result<Vec<[i128; 3]>, String> {
    let v = ints_attr(attrs, "coeffs")?;
    let n = v.len() / 3;
    if v.len() % 3 != 0 || !n.is_power_of_two() || n > MAX_SEGMENTS {
        return Err(format!(
            "attribute 'coeffs' must hold [a, b, c] for 1, 2, 4, 8 or 16 segments, got {} integers",
            v.len()
        ));
    }
    Ok(v.chunks(3).map(|c| [c[0] as i128, c[1] as i128, c[2] as i128]).collect())
}

/// The most segments of a coefficient table.
pub const MAX_SEGMENTS: usize = 16;

/// The segment of a fraction `f` in `[0, 2^frac)` and its offset from the
/// segment's start: `segments` equal parts, chosen by the top bits.
fn segment_of(f: i128, frac: i64, segments: usize) -> (usize, i128) {
    let bits = segments.trailing_zeros() as i64;
    let i = shift_round(f, bits - frac, Rounding::Floor).clamp(0, segments as i128 - 1);
    (i as usize, f - shift_round(i, frac - bits, Rounding::Floor))
}

/// Errors unless the fraction has at least as many bits as select the
/// segment.
fn check_segment_bits(segments: usize, frac: i64, what: &str) -> Result<(), String> {
    let bits = segments.trailing_zeros() as i64;
    if frac < bits {
        return Err(format!("{segments} segments need '{what}' >= {bits}, got {frac}"));
    }
    Ok(())
}

/// The attributes of `nl.exp2`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exp2Format {
    pub frac: i64,
    /// `[a, b, c]` per segment of (-1, 0], from 0 downward.
    pub coeffs: Vec<[i128; 3]>,
    pub coeff_frac: i64,
    pub out_frac: i64,
}

impl Exp2Format {
    pub fn from_attrs(attrs: &Attrs) -> Result<Exp2Format, String> {
        let f = Exp2Format {
            frac: bounded_int(attrs, "frac", 0, 30)?,
            coeffs: segment_table(attrs)?,
            coeff_frac: bounded_int(attrs, "coeff_frac", 0, 30)?,
            out_frac: bounded_int(attrs, "out_frac", 0, MAX_FRAC)?,
        };
        check_segment_bits(f.coeffs.len(), f.frac, "frac")?;
        Ok(f)
    }

    /// `2^(t / 2^frac)` with `out_frac` fractional bits.
    pub fn eval(&self, t: i128) -> i128 {
        let qi = shift_round(t, -self.frac, Rounding::Ceil);
        let qf = t.saturating_sub(shift_round(qi, self.frac, Rounding::Floor));
        // -qf lies in [0, 2^frac): segment i holds (-(i+1)/S, -i/S].
        let (i, rest) = segment_of(-qf, self.frac, self.coeffs.len());
        let p = poly2(self.coeffs[i], -rest, self.frac);
        let amount = qi.saturating_add((self.out_frac - self.coeff_frac) as i128).clamp(-126, 126) as i64;
        shift_round(p, amount, Rounding::Nearest)
    }
}

pub const EXP2: OpDef = OpDef {
    name: "nl.exp2",
    summary: "2^t in fixed point (Appro-Exp): ceil split, quadratic on the fraction, shift",
    description: "`t` has `frac` fractional bits. The split: `qi = ceil(t / 2^frac)` and \
`qf = t - qi * 2^frac`, so `qf / 2^frac` lies in (-1, 0]. With S segments (`coeffs` holds \
`[a, b, c]` for each, S in 1, 2, 4, 8, 16), segment `i = floor(-qf S / 2^frac)` covers \
(-(i+1)/S, -i/S] and `p = poly2(qf + i 2^frac / S)` with that segment's coefficients approximates \
`2^(qf / 2^frac)` with `coeff_frac` fractional bits (see `nl.poly2`): one quadratic, its \
coefficients read from a table of S rows by the top bits of the fraction. The result is `p` \
shifted by `qi + out_frac - coeff_frac` (right shifts rounded to nearest, ties up), so it has \
`out_frac` fractional bits, saturated to the result type. The same unit computes e^x after a \
constant multiplication by log2(e).\n\n\
```\n%1 = nl.exp2 %0 {coeff_frac = 16, coeffs = [11134, 43901, 65536], frac = 16, out_frac = 16} : (tensor<64xi24>) -> tensor<64xu17>\n```",
    operands: INPUT,
    results: ONE_RESULT,
    attrs: &[
        AttrSpec { name: "coeff_frac", kind: AttrKind::Int, required: true, doc: "fractional bits of the coefficients, 0..=30" },
        SEGMENT_COEFFS,
        AttrSpec { name: "frac", kind: AttrKind::Int, required: true, doc: "fractional bits of t, 0..=30 (at least log2 S)" },
        AttrSpec { name: "out_frac", kind: AttrKind::Int, required: true, doc: "fractional bits of the result, 0..=62" },
    ],
    traits: &[Trait::Pure],
    verify: Some(|info| {
        int_operand(info, 0)?;
        Exp2Format::from_attrs(info.attrs).map(|_| ())
    }),
    verify_results: Some(same_shape_result),
    eval: Some(|ops, attrs, results| {
        let f = Exp2Format::from_attrs(attrs)?;
        map_unit(&ops[0], results, |t| f.eval(t))
    }),
    ..OpDef::DEFAULT
};

const SEGMENT_COEFFS: AttrSpec = AttrSpec {
    name: "coeffs",
    kind: AttrKind::Ints,
    required: true,
    doc: "[a, b, c] per segment (S = 1, 2, 4, 8 or 16 segments), integers with the quadratic's fractional bits",
};

/// The attributes of `nl.log2`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Log2Format {
    pub frac: i64,
    pub mantissa_frac: i64,
    /// `[a, b, c]` per segment of [0, 1), from 0 upward.
    pub coeffs: Vec<[i128; 3]>,
    pub out_frac: i64,
}

impl Log2Format {
    pub fn from_attrs(attrs: &Attrs) -> Result<Log2Format, String> {
        let f = Log2Format {
            frac: bounded_int(attrs, "frac", -MAX_FRAC, MAX_FRAC)?,
            mantissa_frac: bounded_int(attrs, "mantissa_frac", 1, 30)?,
            coeffs: segment_table(attrs)?,
            out_frac: bounded_int(attrs, "out_frac", 0, 30)?,
        };
        check_segment_bits(f.coeffs.len(), f.mantissa_frac, "mantissa_frac")?;
        Ok(f)
    }

    /// `log2(x / 2^frac)` with `out_frac` fractional bits, or `None` for
    /// `x <= 0`.
    pub fn eval(&self, x: i128) -> Option<i128> {
        if x <= 0 {
            return None;
        }
        let k = leading_one(x);
        let m = shift_round(x, self.mantissa_frac - k as i64, Rounding::Floor);
        let f = m - (1i128 << self.mantissa_frac);
        let (i, rest) = segment_of(f, self.mantissa_frac, self.coeffs.len());
        let p = poly2(self.coeffs[i], rest, self.mantissa_frac);
        let exponent = shift_round(k - self.frac as i128, self.out_frac, Rounding::Floor);
        Some(p.saturating_add(exponent))
    }
}

pub const LOG2: OpDef = OpDef {
    name: "nl.log2",
    summary: "log2 x in fixed point (Appro-LN): leading-one detector, quadratic on the mantissa",
    description: "`x` stands for `x / 2^frac` (`frac` may be negative). The leading-one detector \
gives `k = floor(log2 x)`; a shift by `mantissa_frac - k` (right shifts truncate) gives the \
mantissa `m` in [1, 2) with `mantissa_frac` fractional bits, and `f = m - 1`. With S segments \
(`coeffs` holds `[a, b, c]` for each, S in 1, 2, 4, 8, 16), segment `i = floor(f S)` covers \
[i/S, (i+1)/S) and `p = poly2(f - i / S)` with that segment's coefficients approximates \
`log2(1 + f)` with `out_frac` fractional bits (see `nl.poly2`). The result is \
`p + (k - frac) * 2^out_frac`, saturated to the result type. For `x <= 0` (no leading one) the \
result is the result type's least value, which stands for minus infinity. The natural log is \
this times ln 2.\n\n\
```\n%1 = nl.log2 %0 {coeffs = [-22712, 88248, 0], frac = 16, mantissa_frac = 16, out_frac = 16} : (tensor<4x1xu19>) -> tensor<4x1xi24>\n```",
    operands: INPUT,
    results: ONE_RESULT,
    attrs: &[
        SEGMENT_COEFFS,
        AttrSpec { name: "frac", kind: AttrKind::Int, required: true, doc: "fractional bits of x, -62..=62" },
        AttrSpec {
            name: "mantissa_frac",
            kind: AttrKind::Int,
            required: true,
            doc: "fractional bits of the mantissa, 1..=30 (at least log2 S)",
        },
        AttrSpec { name: "out_frac", kind: AttrKind::Int, required: true, doc: "fractional bits of the result, 0..=30" },
    ],
    traits: &[Trait::Pure],
    verify: Some(|info| {
        int_operand(info, 0)?;
        Log2Format::from_attrs(info.attrs).map(|_| ())
    }),
    verify_results: Some(same_shape_result),
    eval: Some(|ops, attrs, results| {
        let f = Log2Format::from_attrs(attrs)?;
        map_unit(&ops[0], results, |x| f.eval(x).unwrap_or(i128::MIN))
    }),
    ..OpDef::DEFAULT
};

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;
    use crate::attr::Attribute;
    use crate::types::ElemType;

    fn fixed(x: f64, frac: i64) -> i128 {
        (x * (1i64 << frac) as f64).round() as i128
    }

    /// 2^qf ~ 0.1713 qf^2 + 0.6647 qf + 1 (QUARK's Appro-Exp) at 15 bits.
    fn quark_exp2(frac: i64, out_frac: i64) -> Exp2Format {
        Exp2Format {
            frac,
            coeffs: vec![[fixed(0.1713, 15), fixed(0.6647, 15), fixed(1.0, 15)]],
            coeff_frac: 15,
            out_frac,
        }
    }

    #[test]
    fn exp2_splits_with_ceil_and_shifts() {
        let f = quark_exp2(8, 15);
        assert_eq!(f.eval(0), 1 << 15);
        assert_eq!(f.eval(fixed(-1.0, 8)), 1 << 14);
        assert_eq!(f.eval(fixed(2.0, 8)), 1 << 17);
        for x in [-3.7, -0.5, -0.01, 0.3, 1.75] {
            let got = f.eval(fixed(x, 8)) as f64 / 32768.0;
            assert!((got / 2f64.powf(x) - 1.0).abs() < 0.007, "2^{x}: {got}");
        }
        // Far below zero everything is shifted out; far above it saturates.
        assert_eq!(f.eval(fixed(-200.0, 8)), 0);
        assert_eq!(f.eval(i128::MAX), i128::MAX);
        let x = ints(ElemType::I32, &[3], &[0, -256, -100000]);
        let a = attrs(&[
            ("coeffs", int_list(&[5613, 21781, 32768])),
            ("coeff_frac", Attribute::Int(15)),
            ("frac", Attribute::Int(8)),
            ("out_frac", Attribute::Int(15)),
        ]);
        assert_eq!(eval(&EXP2, &[x], &a, &uint_type(15, &[3])), vec![32767, 16384, 0]);
    }

    #[test]
    fn log2_normalizes_with_the_leading_one() {
        // log2(1 + f) ~ f (a deliberately crude line) at 12 bits.
        let line = Log2Format { frac: 4, mantissa_frac: 12, coeffs: vec![[0, fixed(1.0, 12), 0]], out_frac: 12 };
        assert_eq!(line.eval(16), Some(0));
        assert_eq!(line.eval(64), Some(fixed(2.0, 12)));
        assert_eq!(line.eval(24), Some(fixed(0.5, 12)));
        assert_eq!(line.eval(1), Some(fixed(-4.0, 12)));
        assert_eq!(line.eval(0), None);
        assert_eq!(line.eval(-5), None);
        let x = ints(ElemType::I32, &[3], &[16, 0, 1 << 30]);
        let a = attrs(&[
            ("coeffs", int_list(&[0, 4096, 0])),
            ("frac", Attribute::Int(4)),
            ("mantissa_frac", Attribute::Int(12)),
            ("out_frac", Attribute::Int(12)),
        ]);
        assert_eq!(eval(&LOG2, &[x], &a, &int_type(20, &[3])), vec![0, -(1 << 19), 26 * 4096]);
    }

    #[test]
    fn segments_are_chosen_by_the_top_fraction_bits() {
        // log2: segment 0 (f < 1/2) is the line f, segment 1 the constant 7/4096.
        let log = Log2Format { frac: 0, mantissa_frac: 12, coeffs: vec![[0, 4096, 0], [0, 0, 7]], out_frac: 12 };
        assert_eq!(log.eval(5), Some(2 * 4096 + 1024));
        assert_eq!(log.eval(6), Some(2 * 4096 + 7));
        assert_eq!(log.eval(7), Some(2 * 4096 + 7));
        // exp2: segment 0 holds (-1/2, 0], the poly sees the offset from the segment's top.
        let exp = Exp2Format { frac: 4, coeffs: vec![[0, 0, 100], [0, 16, 50]], coeff_frac: 0, out_frac: 0 };
        assert_eq!(exp.eval(0), 100);
        assert_eq!(exp.eval(-7), 100);
        assert_eq!(exp.eval(-8), 50);
        assert_eq!(exp.eval(-12), 46);
        assert_eq!(exp.eval(-16), 50);
        let bad = attrs(&[
            ("coeffs", int_list(&[1, 2, 3, 4, 5, 6, 7, 8, 9])),
            ("coeff_frac", Attribute::Int(4)),
            ("frac", Attribute::Int(4)),
            ("out_frac", Attribute::Int(4)),
        ]);
        let e = verify_results_with(&EXP2, &[int_type(8, &[2])], &[&int_type(8, &[2])], &bad).unwrap_err();
        assert_eq!(e, "attribute 'coeffs' must hold [a, b, c] for 1, 2, 4, 8 or 16 segments, got 9 integers");
        let narrow = attrs(&[
            ("coeffs", int_list(&[0; 12])),
            ("frac", Attribute::Int(0)),
            ("mantissa_frac", Attribute::Int(1)),
            ("out_frac", Attribute::Int(4)),
        ]);
        let e = verify_results_with(&LOG2, &[int_type(8, &[2])], &[&int_type(8, &[2])], &narrow).unwrap_err();
        assert_eq!(e, "4 segments need 'mantissa_frac' >= 2, got 1");
    }
}
