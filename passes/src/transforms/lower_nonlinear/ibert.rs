//! The `ibert` method: I-BERT's integer-only kernels.
//!
//! - i-exp: `z = floor(-x / ln 2)`, `p = x + z ln 2` in (-ln 2, 0],
//!   `exp(p) ~ 0.3585 (p + 1.353)^2 + 0.344`, shifted right by `z`;
//! - softmax: i-exp of `x - max`, an adder tree, one division per lane
//!   (`2^48 / sum`) and a multiplication per element;
//! - i-GELU: `x / 2 (1 + erf(x / sqrt 2))` with `erf(u) ~ sign(u) (a
//!   (min(|u|, -b) + b)^2 + 1)`, a = -0.2888, b = -1.769;
//! - layer norm: exact centering, `std` by the integer square root
//!   (i-sqrt) of the variance, a division per element;
//! - sigmoid, SiLU, tanh: `1 / (1 + e^-|x|)` by i-exp and a divider;
//!   exp by i-exp; reciprocal by a divider; sqrt and rsqrt by i-sqrt.
//!
//! Invariants: arguments of i-exp are natural-log units with [`FRAC`]
//! fractional bits; right shifts of i-exp truncate (I-BERT's `>>`), every
//! other rescaling rounds to nearest.

use super::emit::{int, ints_attr, uint, Emitted, Emitter, IntTy};
use super::formats::{
    bits_for, fixed, fixed_coeffs, COEFF_FRAC, EXP_FRAC, FRAC, IBERT_ERF, IBERT_ERF_CLIP, IBERT_EXP, LOG_WIDTH,
    NORM_FRAC,
};
use super::norm;
use super::site::{OpKind, Site};
use super::LowerError;
use std::f64::consts::{LN_2, SQRT_2};
use weft_ir::attr::Attribute;
use weft_ir::ops::nl;
use weft_ir::Value;

fn one() -> f64 {
    2f64.powi(FRAC as i32)
}

fn exp_unit() -> f64 {
    2f64.powi(-(EXP_FRAC as i32))
}

pub fn lower(e: &mut Emitter, s: &Site) -> Emitted {
    match s.kind {
        OpKind::Softmax => softmax(e, s),
        OpKind::Gelu => gelu(e, s),
        OpKind::LayerNorm => layer_norm(e, s),
        OpKind::Sigmoid => {
            let (_, p) = sigmoid(e, s, 1.0)?;
            e.requantize(p, exp_unit() / s.y.scale, &s.y, &s.result_type)
        }
        OpKind::Silu => {
            let (v, p) = sigmoid(e, s, 1.0)?;
            let y = e.op(&nl::MUL, &[v, p], int(e.ty(v).width + EXP_FRAC as u8 + 2), &[])?;
            e.requantize(y, s.x.scale * exp_unit() / s.y.scale, &s.y, &s.result_type)
        }
        OpKind::Tanh => {
            let (_, p) = sigmoid(e, s, 2.0)?;
            let twice = e.shift(p, 1, int(EXP_FRAC as u8 + 3))?;
            let one = e.constant(1 << EXP_FRAC)?;
            let t = e.sub(twice, one, int(EXP_FRAC as u8 + 4))?;
            e.requantize(t, exp_unit() / s.y.scale, &s.y, &s.result_type)
        }
        OpKind::Exp => exp(e, s),
        OpKind::Reciprocal => reciprocal(e, s),
        OpKind::Sqrt => root(e, s, false),
        OpKind::Rsqrt => root(e, s, true),
    }
}

/// I-BERT's i-exp of `x` (natural units, [`FRAC`] bits): `e^x` with
/// `out_frac` fractional bits in type `ty`.
pub fn i_exp(e: &mut Emitter, x: Value, out_frac: i64, ty: IntTy) -> Emitted {
    let ln2 = e.constant(fixed(LN_2, FRAC))?;
    let neg = e.neg(x)?;
    let z = e.op(&nl::DIV, &[neg, ln2], int(LOG_WIDTH - FRAC as u8 + 4), &[])?;
    let zl = e.op(&nl::MUL, &[z, ln2], int(e.ty(z).width + e.ty(ln2).width), &[])?;
    let p = e.op(&nl::ADD, &[x, zl], int(FRAC as u8 + 2), &[])?;
    let attrs = [("coeffs", ints_attr(&fixed_coeffs(IBERT_EXP, COEFF_FRAC))), ("frac", Attribute::Int(FRAC))];
    let l = e.op(&nl::POLY2, &[p], int(COEFF_FRAC as u8 + 2), &attrs)?;
    let mut amount = e.neg(z)?;
    if out_frac != COEFF_FRAC {
        let k = e.constant((out_frac - COEFF_FRAC) as i128)?;
        amount = e.op(&nl::ADD, &[amount, k], int(e.ty(amount).width + 8), &[])?;
    }
    e.op(&nl::BARREL_SHIFT, &[l, amount], ty, &[])
}

/// i-exp of `x - max`, then [`divide_by_sum`].
fn softmax(e: &mut Emitter, s: &Site) -> Emitted {
    let axis = s.axis()?;
    let q = e.read_input(s.input, &s.x)?;
    let m = e.tree(&nl::MAX_TREE, q, axis, e.ty(q))?;
    let d = e.sub(q, m, int(s.x.width + 1))?;
    let t = e.scale(d, s.x.scale * one(), int(LOG_WIDTH))?;
    let x = i_exp(e, t, EXP_FRAC, uint(EXP_FRAC as u8 + 1))?;
    divide_by_sum(e, s, x, axis)
}

/// Guard bits of the per-lane reciprocal.
const GUARD: i64 = 16;

/// `x / sum(x)` along `axis` for exponentials `x` with [`EXP_FRAC`] bits:
/// one division `r = 2^(2 EXP_FRAC + GUARD) / sum` per lane, then per
/// element `(x r) >> (EXP_FRAC + GUARD)` (rounded); then requantized.
pub fn divide_by_sum(e: &mut Emitter, s: &Site, x: Value, axis: usize) -> Emitted {
    let sum = e.trees(&nl::ADD_TREE, x, &[axis], true)?;
    let num = e.constant(1 << (2 * EXP_FRAC + GUARD))?;
    let r = e.op(&nl::DIV, &[num, sum], int(EXP_FRAC as u8 + GUARD as u8 + 3), &[])?;
    let product = e.op(&nl::MUL, &[x, r], int(e.ty(x).width + e.ty(r).width), &[])?;
    let p = e.shift(product, -(EXP_FRAC + GUARD), uint(EXP_FRAC as u8 + 2))?;
    e.requantize(p, exp_unit() / s.y.scale, &s.y, &s.result_type)
}

/// i-GELU.
fn gelu(e: &mut Emitter, s: &Site) -> Emitted {
    let v = e.centered_input(s.input, &s.x)?;
    let u = e.scale(v, s.x.scale / SQRT_2 * one(), int(LOG_WIDTH))?;
    let magnitude = e.abs(u)?;
    let clip = e.constant(fixed(IBERT_ERF_CLIP, FRAC))?;
    let c = e.op(&nl::MIN, &[magnitude, clip], int(FRAC as u8 + 3), &[])?;
    let attrs = [("coeffs", ints_attr(&fixed_coeffs(IBERT_ERF, COEFF_FRAC))), ("frac", Attribute::Int(FRAC))];
    let l = e.op(&nl::POLY2, &[c], int(COEFF_FRAC as u8 + 2), &attrs)?;
    let erf = e.with_sign_of(u, l)?;
    let one = e.constant(1 << COEFF_FRAC)?;
    let h = e.op(&nl::ADD, &[erf, one], int(COEFF_FRAC as u8 + 3), &[])?;
    let y = e.op(&nl::MUL, &[v, h], int(e.ty(v).width + COEFF_FRAC as u8 + 3), &[])?;
    e.requantize(y, s.x.scale * 2f64.powi(-(COEFF_FRAC as i32 + 1)) / s.y.scale, &s.y, &s.result_type)
}

/// `sigmoid(c x)` with [`EXP_FRAC`] bits: `1 / (1 + e^-|cx|)` by i-exp and
/// a divider, mirrored for negative `x`; and the centered input.
fn sigmoid(e: &mut Emitter, s: &Site, c: f64) -> Result<(Value, Value), LowerError> {
    let v = e.centered_input(s.input, &s.x)?;
    let a = e.scale(v, c * s.x.scale * one(), int(LOG_WIDTH))?;
    let magnitude = e.abs(a)?;
    let neg = e.neg(magnitude)?;
    let x = i_exp(e, neg, EXP_FRAC, uint(EXP_FRAC as u8 + 1))?;
    let one = e.constant(1 << EXP_FRAC)?;
    let den = e.op(&nl::ADD, &[x, one], uint(EXP_FRAC as u8 + 2), &[])?;
    let num = e.constant(1 << (2 * EXP_FRAC))?;
    let upper = e.op(&nl::DIV, &[num, den], uint(EXP_FRAC as u8 + 1), &[])?;
    let lower = e.sub(one, upper, int(EXP_FRAC as u8 + 2))?;
    let p = e.op(&nl::MUX, &[a, lower, upper], int(EXP_FRAC as u8 + 2), &[])?;
    Ok((v, p))
}

/// `e^x` by i-exp, with as many fractional bits as the result's largest
/// value leaves in 46 bits.
fn exp(e: &mut Emitter, s: &Site) -> Emitted {
    let v = e.centered_input(s.input, &s.x)?;
    let t = e.scale(v, s.x.scale * one(), int(LOG_WIDTH))?;
    let largest = s.y.real(s.y.range().1).max(1.0);
    let int_bits = largest.log2().ceil() as i64 + 2;
    let out_frac = (44 - int_bits).min(COEFF_FRAC);
    let x = i_exp(e, t, out_frac, uint((int_bits + out_frac).clamp(2, 46) as u8))?;
    e.requantize(x, 2f64.powi(-(out_frac as i32)) / s.y.scale, &s.y, &s.result_type)
}

/// `n / d` rounded to nearest (with `2^g` scaling) for a real numerator
/// `n > 0`: the integer `round(n 2^g)` with about 40 bits, a floor
/// division, a rounding shift by `g`; division by 0 saturates.
fn divide_constant(e: &mut Emitter, n: f64, d: Value, ty: IntTy) -> Emitted {
    let g = 40 - n.log2().ceil() as i64;
    let num = fixed(n, g);
    let k = e.constant(num)?;
    let q = e.op(&nl::DIV, &[k, d], int(bits_for(num) + 1), &[])?;
    e.shift(q, -g, ty)
}

/// `1 / x` by a divider.
fn reciprocal(e: &mut Emitter, s: &Site) -> Emitted {
    let v = e.centered_input(s.input, &s.x)?;
    let code = divide_constant(e, 1.0 / (s.x.scale * s.y.scale), v, int(s.y.width + 3))?;
    e.store(code, &s.y, &s.result_type)
}

/// `sqrt(x)` or `1 / sqrt(x)` by i-sqrt of `x 2^(2g)`; 0 for negative `x`.
fn root(e: &mut Emitter, s: &Site, inverse: bool) -> Emitted {
    let v = e.centered_input(s.input, &s.x)?;
    let vw = e.ty(v).width;
    let g = (60 - i64::from(vw)) / 2;
    let scaled = e.shift(v, 2 * g, int(vw + 2 * g as u8))?;
    let r = e.op(&nl::ISQRT, &[scaled], int(vw / 2 + g as u8 + 2), &[])?;
    let root_unit = s.x.scale.sqrt() / 2f64.powi(g as i32);
    let code = if inverse {
        divide_constant(e, 1.0 / (root_unit * s.y.scale), r, int(s.y.width + 3))?
    } else {
        e.scale(r, root_unit / s.y.scale, int(s.y.width + 3))?
    };
    let zero = e.constant(0)?;
    let positive = e.op(&nl::MUX, &[v, zero, code], int(s.y.width + 3), &[])?;
    e.store(positive, &s.y, &s.result_type)
}

/// Exact centering, `sigma = isqrt(SS 2^(2g) / N)`, `y = D 2^(g + Y) /
/// sigma` per element, then scale and bias.
fn layer_norm(e: &mut Emitter, s: &Site) -> Emitted {
    let c = norm::center(e, s)?;
    let sw = e.ty(c.sum_squares).width;
    let rw = e.ty(c.reduced).width;
    // Room for SS 2^(2g) in 62 bits and D 2^(g + Y) in 62 bits.
    let g = ((62 - i64::from(sw)) / 2).min(62 - i64::from(rw) - NORM_FRAC).max(0);
    let scaled = e.shift(c.sum_squares, 2 * g, int(sw + 2 * g as u8))?;
    let lanes = e.constant(s.lanes as i128)?;
    let variance = e.op(&nl::DIV, &[scaled, lanes], e.ty(scaled), &[])?;
    let sigma = e.op(&nl::ISQRT, &[variance], int(e.ty(variance).width / 2 + 2), &[])?;
    let num = e.shift(c.reduced, g + NORM_FRAC, int(rw + (g + NORM_FRAC) as u8))?;
    let root_bits = (s.lanes as f64).sqrt().log2().ceil() as u8 + 3;
    let y = e.op(&nl::DIV, &[num, sigma], int(NORM_FRAC as u8 + root_bits), &[])?;
    norm::scale_and_bias(e, s, y, NORM_FRAC)
}
