//! Elementwise integer arithmetic on quantized tensors: `quant.qadd` and
//! `quant.qmul`, with numpy broadcasting.
//!
//! Invariants: operands and results are per tensor; operands have at most
//! 16 bits, so `|q - zp| < 2^16` and every intermediate (a product with a
//! 31-bit multiplier, or a sum of two) fits in 64 bits; the multipliers
//! follow from the three types alone, as in `quant.requantize`.

use super::common::{
    check_quant, ints, qrange, quant_of, quant_operand, quant_result, result_quant, scales_of, FixedMultiplier,
    MULTIPLIER_BITS,
};
use super::matmul::MAX_OPERAND_BITS;
use crate::ops::eval::broadcast_map;
use crate::ops::shape::broadcast_shapes;
use crate::ops::{OpDef, OpInfo, Trait};
use crate::tensor::{Scalar, Tensor};
use crate::types::{ElemType, QuantInt, QuantParams, TensorType, Type};

const BINARY: crate::ops::Arity = crate::ops::Arity::Fixed(&["lhs", "rhs"]);

pub const QADD: OpDef = OpDef {
    name: "quant.qadd",
    summary: "Quantized addition with rescaling, integer-only",
    description: "`y = clamp((((a - zp_a) * m_a + (b - zp_b) * m_b) >> n rounded) + zp_y, qmin, \
qmax)` with numpy broadcasting. The multipliers stand for `r_a = scale_a / scale_y` and `r_b = \
scale_b / scale_y` with one shift: `e = floor(log2 max(r_a, r_b))`, `n = 30 - e`, `m_a = \
round_half_even(r_a * 2^n)`, `m_b = round_half_even(r_b * 2^n)`; the shift rounds to nearest, \
ties toward +infinity. Operands are per-tensor `!quant.int` of at most 16 bits; the result is a \
per-tensor `!quant.int` of at most 32 bits; `max(r_a, r_b)` must lie in `[2^-32, 2^31)`.\n\n\
```\n%2 = quant.qadd %0, %1 : (tensor<4x!quant.int<w=8, signed, scale=0.1, zp=0>>, tensor<4x!quant.int<w=8, unsigned, scale=0.05, zp=128>>) -> tensor<4x!quant.int<w=8, signed, scale=0.2, zp=0>>\n```",
    operands: BINARY,
    results: super::ONE_RESULT,
    traits: &[Trait::Pure, Trait::Commutative],
    verify_results: Some(check_qadd),
    eval: Some(eval_qadd),
    ..OpDef::DEFAULT
};

pub const QMUL: OpDef = OpDef {
    name: "quant.qmul",
    summary: "Quantized multiplication with rescaling, integer-only",
    description: "`y = clamp(((a - zp_a) * (b - zp_b) * m) >> n rounded + zp_y, qmin, qmax)` with \
numpy broadcasting, where `m`, `n` is the fixed-point multiplier of `r = (scale_a * scale_b) / \
scale_y` (as for `quant.requantize`: `m` has 31 bits, the shift rounds to nearest, ties toward \
+infinity). Operands are per-tensor `!quant.int` of at most 16 bits, so the integer product is \
below 2^32; the result is a per-tensor `!quant.int` of at most 32 bits. A multiplication by a \
real constant `c` is a `qmul` by a one-element constant holding 1 with scale `|c|` (or -1 \
for a negative `c`), which is exact.\n\n\
```\n%2 = quant.qmul %0, %1 : (tensor<4x!quant.int<w=8, signed, scale=0.1, zp=0>>, tensor<!quant.int<w=2, signed, scale=0.17677669529663687, zp=0>>) -> tensor<4x!quant.int<w=8, signed, scale=0.02, zp=0>>\n```",
    operands: BINARY,
    results: super::ONE_RESULT,
    traits: &[Trait::Pure, Trait::Commutative],
    verify_results: Some(check_qmul),
    eval: Some(eval_qmul),
    ..OpDef::DEFAULT
};

/// The per-tensor operand and result types, checked; the result shape
/// must be the broadcast of the operands'.
fn check_elementwise<'a>(
    info: &OpInfo<'a>,
    results: &[&'a Type],
) -> Result<(&'a QuantInt, &'a QuantInt, &'a QuantInt), String> {
    let (a, qa) = quant_operand(info.operand_types, 0)?;
    let (b, qb) = quant_operand(info.operand_types, 1)?;
    let (r, qr) = quant_result(results, 0)?;
    for (q, what) in [(qa, "operand #0"), (qb, "operand #1")] {
        check_quant(q, what, MAX_OPERAND_BITS)?;
    }
    check_quant(qr, "result #0", 32)?;
    for (q, what) in [(qa, "operand #0"), (qb, "operand #1"), (qr, "result #0")] {
        if !matches!(q.params, QuantParams::PerTensor { .. }) {
            return Err(format!("{what} must be quantized per tensor"));
        }
    }
    let dims = broadcast_shapes(&a.dims, &b.dims)?;
    super::common::same_dims(&TensorType::new(dims, r.elem.clone()), r, "result")?;
    Ok((qa, qb, qr))
}

fn scale(q: &QuantInt) -> f64 {
    scales_of(q).first().copied().unwrap_or(1.0)
}

fn zp(q: &QuantInt) -> i64 {
    match q.params {
        QuantParams::PerTensor { zp, .. } => zp,
        QuantParams::PerChannel { .. } => 0,
    }
}

/// The two multipliers of `qadd`, sharing one shift.
pub fn qadd_multipliers(
    qa: &QuantInt,
    qb: &QuantInt,
    qr: &QuantInt,
) -> Result<(FixedMultiplier, FixedMultiplier), String> {
    let (ra, rb) = (scale(qa) / scale(qr), scale(qb) / scale(qr));
    let e = super::common::exponent(ra.max(rb))?;
    let shift = MULTIPLIER_BITS - e;
    Ok((FixedMultiplier::with_shift(ra, shift)?, FixedMultiplier::with_shift(rb, shift)?))
}

/// The multiplier of `qmul`.
pub fn qmul_multiplier(qa: &QuantInt, qb: &QuantInt, qr: &QuantInt) -> Result<FixedMultiplier, String> {
    FixedMultiplier::new((scale(qa) * scale(qb)) / scale(qr))
}

fn check_qadd(info: &OpInfo, results: &[&Type]) -> Result<(), String> {
    let (qa, qb, qr) = check_elementwise(info, results)?;
    qadd_multipliers(qa, qb, qr).map(|_| ())
}

fn check_qmul(info: &OpInfo, results: &[&Type]) -> Result<(), String> {
    let (qa, qb, qr) = check_elementwise(info, results)?;
    qmul_multiplier(qa, qb, qr).map(|_| ())
}

/// Runs `f(a - zp_a, b - zp_b)` elementwise with broadcasting, then adds
/// the result's zero point and saturates.
fn map_centered(ops: &[Tensor], qr: &QuantInt, f: impl Fn(i64, i64) -> i64) -> Result<Tensor, String> {
    let (a, b) = (&ops[0], &ops[1]);
    ints(a)?;
    ints(b)?;
    let (za, zb, zr) = (zp(quant_of(a)?), zp(quant_of(b)?), zp(qr));
    let (lo, hi) = qrange(qr.width, qr.signed);
    let elem = ElemType::Quant(Box::new(qr.clone()));
    broadcast_map(&[a, b], &elem, |v| match (v[0], v[1]) {
        (Scalar::Int(x), Scalar::Int(y)) => {
            Ok(Scalar::Int(f(x.wrapping_sub(za), y.wrapping_sub(zb)).saturating_add(zr).clamp(lo, hi)))
        }
        _ => Err("quantized operands hold integers".to_string()),
    })
}

fn eval_qadd(ops: &[Tensor], _: &crate::Attrs, types: &[Type]) -> Result<Vec<Tensor>, String> {
    let qr = result_quant(types, 0)?;
    let (ma, mb) = qadd_multipliers(quant_of(&ops[0])?, quant_of(&ops[1])?, qr)?;
    let shift = ma.shift;
    let t = map_centered(ops, qr, |x, y| {
        super::common::rounding_shift(x.wrapping_mul(ma.m).wrapping_add(y.wrapping_mul(mb.m)), shift)
    })?;
    Ok(vec![t])
}

fn eval_qmul(ops: &[Tensor], _: &crate::Attrs, types: &[Type]) -> Result<Vec<Tensor>, String> {
    let qr = result_quant(types, 0)?;
    let m = qmul_multiplier(quant_of(&ops[0])?, quant_of(&ops[1])?, qr)?;
    Ok(vec![map_centered(ops, qr, |x, y| m.apply(x.wrapping_mul(y)))?])
}
