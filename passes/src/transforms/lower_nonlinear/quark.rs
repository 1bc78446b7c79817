//! The `quark` method: every op from two shared units, `nl.exp2`
//! (Appro-Exp: ceil split, quadratic, shift) and `nl.log2` (Appro-LN:
//! leading-one detector, quadratic), plus adders, trees and muxes.
//!
//! - softmax: `exp(x - max - ln sum exp(x - max))`, no divider;
//! - GELU, SiLU, sigmoid, tanh: the two-element softmax
//!   `softmax([c x, 0])_0 = sigmoid(c x)` (c = 1.702 for GELU, 2 for tanh),
//!   times `x` for GELU and SiLU;
//! - layer norm: the log divider `(x - mean) / std = exp(ln|x - mean| -
//!   ln std)` per element, `sqrt` as halving in the log domain, the
//!   division by N as `ln N`;
//! - exp, reciprocal, sqrt, rsqrt: one log2 and one exp2 with constants
//!   folded in the log domain.
//!
//! Invariants: logarithms meet exponentials in base 2 (the `ln 2` of
//! Appro-LN and the `log2 e` of Appro-Exp cancel exactly instead of
//! multiplying to 0.988); `log2 e` and the input scale are one constant
//! multiplier at the input; log-domain values have [`FRAC`] fractional
//! bits in [`LOG_WIDTH`] bits.

use super::emit::{int, ints_attr, uint, Emitted, Emitter, IntTy};
use super::formats::{fixed, fixed_table, COEFF_FRAC, EXP_FRAC, FRAC, LOG_WIDTH, MANTISSA_FRAC, NORM_FRAC};
use super::norm;
use super::quark_log;
use super::site::{OpKind, Site};
use std::f64::consts::LOG2_E;
use weft_ir::attr::Attribute;
use weft_ir::ops::nl;
use weft_ir::Value;

/// `2^FRAC` as a real.
fn one() -> f64 {
    2f64.powi(FRAC as i32)
}

pub fn lower(e: &mut Emitter, s: &Site) -> Emitted {
    if s.method.has_own_program(s.kind) && s.method == super::Method::QuarkLog {
        return quark_log::lower(e, s);
    }
    match s.kind {
        OpKind::Softmax => softmax(e, s),
        OpKind::Gelu => times_input(e, s, 1.702),
        OpKind::Silu => times_input(e, s, 1.0),
        OpKind::Sigmoid => {
            let p = pair_softmax(e, s, 1.0)?.probability(e, s)?;
            e.requantize(p, 2f64.powi(-(EXP_FRAC as i32)) / s.y.scale, &s.y, &s.result_type)
        }
        OpKind::Tanh => tanh(e, s),
        OpKind::LayerNorm => layer_norm(e, s),
        OpKind::Exp => exp(e, s),
        OpKind::Reciprocal => power(e, s, Power::Reciprocal),
        OpKind::Sqrt => power(e, s, Power::Sqrt),
        OpKind::Rsqrt => power(e, s, Power::Rsqrt),
    }
}

/// `nl.exp2` of `t` (log2 units, [`FRAC`] bits) with `out_frac` bits and
/// the site's coefficient table.
pub fn exp2(e: &mut Emitter, s: &Site, t: Value, out_frac: i64, ty: IntTy) -> Emitted {
    let table = fixed_table(&s.tables.exp2(), COEFF_FRAC);
    let attrs = [
        ("coeff_frac", Attribute::Int(COEFF_FRAC)),
        ("coeffs", ints_attr(&table)),
        ("frac", Attribute::Int(FRAC)),
        ("out_frac", Attribute::Int(out_frac)),
    ];
    e.op(&nl::EXP2, &[t], ty, &attrs)
}

/// `nl.log2` of `x` (standing for `x / 2^frac`) in log2 units, with the
/// site's coefficient table.
pub fn log2(e: &mut Emitter, s: &Site, x: Value, frac: i64) -> Emitted {
    let table = fixed_table(&s.tables.log2(), FRAC);
    let attrs = [
        ("coeffs", ints_attr(&table)),
        ("frac", Attribute::Int(frac)),
        ("mantissa_frac", Attribute::Int(MANTISSA_FRAC)),
        ("out_frac", Attribute::Int(FRAC)),
    ];
    e.op(&nl::LOG2, &[x], int(LOG_WIDTH), &attrs)
}

/// `exp(x - max - ln sum exp(x - max))` along the axis, in base 2.
fn softmax(e: &mut Emitter, s: &Site) -> Emitted {
    let axis = s.axis()?;
    let q = e.read_input(s.input, &s.x)?;
    let m = e.tree(&nl::MAX_TREE, q, axis, e.ty(q))?;
    let d = e.sub(q, m, int(s.x.width + 1))?;
    let t = e.scale(d, s.x.scale * LOG2_E * one(), int(LOG_WIDTH))?;
    let x = exp2(e, s, t, EXP_FRAC, uint(EXP_FRAC as u8 + 1))?;
    let sum = e.trees(&nl::ADD_TREE, x, &[axis], true)?;
    let l = log2(e, s, sum, EXP_FRAC)?;
    let u = e.sub(t, l, int(LOG_WIDTH + 1))?;
    let p = exp2(e, s, u, EXP_FRAC, uint(EXP_FRAC as u8 + 2))?;
    e.requantize(p, 2f64.powi(-(EXP_FRAC as i32)) / s.y.scale, &s.y, &s.result_type)
}

/// The two-element softmax `softmax([c x, 0])_0 = sigmoid(c x)`: the
/// input minus its zero point, the log-domain difference `a - m - l`
/// (`log2 p`, [`FRAC`] bits) and the probability `p` with [`EXP_FRAC`]
/// bits.
///
/// With `m = max(a, 0)` one of `a - m`, `-m` is exactly 0 and the other
/// is `-|a| = (a - m) - m`, so when the exp2 unit maps 0 to exactly
/// `2^EXP_FRAC` ([`exp2_of_zero_is_one`], true of every table weft
/// builds) the sum is `2^EXP_FRAC + exp2(-|a|)`: two exp2 per element
/// instead of three, with the same bits.
pub(super) fn pair_softmax(e: &mut Emitter, s: &Site, c: f64) -> Result<PairSoftmax, super::LowerError> {
    let v = e.centered_input(s.input, &s.x)?;
    let a = e.scale(v, c * s.x.scale * LOG2_E * one(), int(LOG_WIDTH))?;
    let zero = e.constant(0)?;
    let m = e.op(&nl::MAX, &[a, zero], int(LOG_WIDTH), &[])?;
    let d1 = e.sub(a, m, int(LOG_WIDTH + 1))?;
    let sum = if exp2_of_zero_is_one(s, EXP_FRAC) && !three_exp2_for_tests() {
        let smaller = e.sub(d1, m, int(LOG_WIDTH + 1))?;
        let e2 = exp2(e, s, smaller, EXP_FRAC, uint(EXP_FRAC as u8 + 1))?;
        let unit = e.constant(1 << EXP_FRAC)?;
        e.op(&nl::ADD, &[e2, unit], uint(EXP_FRAC as u8 + 2), &[])?
    } else {
        let d2 = e.sub(zero, m, int(LOG_WIDTH + 1))?;
        let e1 = exp2(e, s, d1, EXP_FRAC, uint(EXP_FRAC as u8 + 1))?;
        let e2 = exp2(e, s, d2, EXP_FRAC, uint(EXP_FRAC as u8 + 1))?;
        e.op(&nl::ADD, &[e1, e2], uint(EXP_FRAC as u8 + 2), &[])?
    };
    let l = log2(e, s, sum, EXP_FRAC)?;
    let u = e.sub(d1, l, int(LOG_WIDTH + 1))?;
    Ok(PairSoftmax { v, u })
}

#[cfg(test)]
thread_local! {
    /// Tests: emit the pair softmax with three exp2 (the sum of both
    /// exponentials) to compare it with the two-exp2 form.
    pub static THREE_EXP2: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

#[cfg(test)]
fn three_exp2_for_tests() -> bool {
    THREE_EXP2.with(std::cell::Cell::get)
}

#[cfg(not(test))]
fn three_exp2_for_tests() -> bool {
    false
}

/// The values of a pair softmax a lowering goes on from.
pub(super) struct PairSoftmax {
    /// The input minus its zero point.
    pub v: Value,
    /// `log2 p` with [`FRAC`] bits (at most 0).
    pub u: Value,
}

impl PairSoftmax {
    /// The probability `p = 2^u` with [`EXP_FRAC`] bits.
    fn probability(&self, e: &mut Emitter, s: &Site) -> Emitted {
        exp2(e, s, self.u, EXP_FRAC, uint(EXP_FRAC as u8 + 2))
    }
}

/// Whether the site's exp2 unit, giving `out_frac` fractional bits in a
/// `u(out_frac + 1)`, maps 0 to exactly `2^out_frac` (the nl.exp2 rule
/// at `t = 0`: the first row's constant coefficient, shifted).
pub fn exp2_of_zero_is_one(s: &Site, out_frac: i64) -> bool {
    exp2_format(s, out_frac).is_some_and(|f| f.eval(0) == 1 << out_frac)
}

/// The nl.exp2 format [`exp2`] emits for the site.
fn exp2_format(s: &Site, out_frac: i64) -> Option<nl::Exp2Format> {
    let table = fixed_table(&s.tables.exp2(), COEFF_FRAC);
    let coeffs = table.chunks(3).map(|c| Some([*c.first()?, *c.get(1)?, *c.get(2)?])).collect::<Option<Vec<_>>>()?;
    Some(nl::Exp2Format { frac: FRAC, coeffs, coeff_frac: COEFF_FRAC, out_frac })
}

/// GELU (`c = 1.702`) and SiLU (`c = 1`): `x * sigmoid(c x)`.
fn times_input(e: &mut Emitter, s: &Site, c: f64) -> Emitted {
    let pair = pair_softmax(e, s, c)?;
    let (v, p) = (pair.v, pair.probability(e, s)?);
    let y = e.op(&nl::MUL, &[v, p], int(e.ty(v).width + EXP_FRAC as u8 + 3), &[])?;
    e.requantize(y, s.x.scale * 2f64.powi(-(EXP_FRAC as i32)) / s.y.scale, &s.y, &s.result_type)
}

/// `tanh(x) = 2 sigmoid(2x) - 1`.
fn tanh(e: &mut Emitter, s: &Site) -> Emitted {
    let p = pair_softmax(e, s, 2.0)?.probability(e, s)?;
    let twice = e.shift(p, 1, uint(EXP_FRAC as u8 + 3))?;
    let one = e.constant(1 << EXP_FRAC)?;
    let t = e.sub(twice, one, int(EXP_FRAC as u8 + 4))?;
    e.requantize(t, 2f64.powi(-(EXP_FRAC as i32)) / s.y.scale, &s.y, &s.result_type)
}

/// The stored integer of `2^t` where `t` is in log2 units of the result's
/// scale (`zp` added, saturated to the result type).
fn exp2_code(e: &mut Emitter, t: Value, s: &Site) -> Emitted {
    let code = exp2(e, s, t, 0, uint(s.y.width + 2))?;
    e.store(code, &s.y, &s.result_type)
}

/// `e^x`: `2^(x log2 e - log2 s_y)` counts result steps directly.
fn exp(e: &mut Emitter, s: &Site) -> Emitted {
    let v = e.centered_input(s.input, &s.x)?;
    let t = e.scale(v, s.x.scale * LOG2_E * one(), int(LOG_WIDTH))?;
    let offset = e.constant(fixed(-s.y.scale.log2(), FRAC))?;
    let u = e.op(&nl::ADD, &[t, offset], int(LOG_WIDTH + 1), &[])?;
    exp2_code(e, u, s)
}

/// The powers `x^k` lowered through one log2 and one exp2.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Power {
    /// k = -1.
    Reciprocal,
    /// k = 1/2.
    Sqrt,
    /// k = -1/2.
    Rsqrt,
}

impl Power {
    fn exponent(self) -> f64 {
        match self {
            Power::Reciprocal => -1.0,
            Power::Sqrt => 0.5,
            Power::Rsqrt => -0.5,
        }
    }
}

/// `x^k`: `2^(k log2|x| + k log2 s_x - log2 s_y)`, with the sign of `x`
/// for the reciprocal and 0 for negative `x` under a root.
fn power(e: &mut Emitter, s: &Site, power: Power) -> Emitted {
    let v = e.centered_input(s.input, &s.x)?;
    let magnitude = e.abs(v)?;
    let l = log2(e, s, magnitude, 0)?;
    let scaled = match power {
        Power::Reciprocal => e.neg(l)?,
        Power::Sqrt => e.shift(l, -1, int(LOG_WIDTH))?,
        Power::Rsqrt => {
            let n = e.neg(l)?;
            e.shift(n, -1, int(LOG_WIDTH))?
        }
    };
    let k = power.exponent();
    let offset = e.constant(fixed(k * s.x.scale.log2() - s.y.scale.log2(), FRAC))?;
    let u = e.op(&nl::ADD, &[scaled, offset], int(LOG_WIDTH + 2), &[])?;
    let code = exp2(e, s, u, 0, uint(s.y.width + 2))?;
    let signed = if power == Power::Reciprocal {
        e.with_sign_of(v, code)?
    } else {
        let zero = e.constant(0)?;
        e.op(&nl::MUX, &[v, zero, code], int(s.y.width + 3), &[])?
    };
    e.store(signed, &s.y, &s.result_type)
}

/// `y = D sqrt(N) / sqrt(SS)` per element as `2^(log2|D| + log2(N)/2 -
/// log2(SS)/2)` with the sign of `D`, then scale and bias.
fn layer_norm(e: &mut Emitter, s: &Site) -> Emitted {
    let c = norm::center(e, s)?;
    let ls = log2(e, s, c.sum_squares, -2 * c.pre_shift)?;
    let half = e.shift(ls, -1, int(LOG_WIDTH))?;
    let magnitude = e.abs(c.centered)?;
    let ld = log2(e, s, magnitude, 0)?;
    let diff = e.sub(ld, half, int(LOG_WIDTH + 1))?;
    let half_log_n = e.constant(fixed((s.lanes as f64).log2() / 2.0, FRAC))?;
    let l = e.op(&nl::ADD, &[diff, half_log_n], int(LOG_WIDTH + 2), &[])?;
    let root_bits = (s.lanes as f64).sqrt().log2().ceil() as u8 + 2;
    let y = exp2(e, s, l, NORM_FRAC, uint(NORM_FRAC as u8 + root_bits))?;
    let signed = e.with_sign_of(c.centered, y)?;
    norm::scale_and_bias(e, s, signed, NORM_FRAC)
}
