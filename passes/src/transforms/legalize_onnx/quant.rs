//! Rules for ONNX's quantization ops. Each becomes quant ops on quantized
//! types, bridged by `quant.storage_cast` to the plain integer tensors ONNX
//! passes between ops (`fold-qdq` then folds the casts and the float ops
//! between dequantize and quantize into integer ops, spec/quant.md):
//!
//! - `QuantizeLinear(x, s, z)` -> `quant.quantize` to `!quant.int<s, z>`,
//!   cast to the ONNX integer type;
//! - `DequantizeLinear(q, s, z)` -> cast to `!quant.int<s, z>`,
//!   `quant.dequantize`;
//! - `QLinearMatMul` -> casts, `quant.qmatmul`, `quant.requantize` to the
//!   output's type, cast;
//! - `MatMulInteger` -> casts to scale-1 quantized types with the zero
//!   points, `quant.qmatmul` into `!quant.int<w=32, scale=1>`, cast to
//!   i32; with zero points computed at run time (after a
//!   `DynamicQuantizeLinear`), an i32 `nn.matmul` of the centered operands;
//! - `DynamicQuantizeLinear` computes its scale from the data, which no
//!   static type can carry: it becomes the nn ops of its formula.
//!
//! Invariants: scales and zero points of quantized types must be
//! compile-time constants (per tensor or per axis; ONNX's per-block form is
//! an error); the values built have exactly the ONNX results' types.

use super::builder::{attrs, axis, ints, Replacement, Rewriter};
use super::known::{floats_of, ints_of};
use super::{LegalizeError, Rule};
use weft_ir::ops::{nn, quant};
use weft_ir::tensor::Scalar;
use weft_ir::types::{Dim, ElemType, QuantInt, QuantParams, TensorType};
use weft_ir::{Attribute, Attrs, Value};

/// The rules of this file, looked up after [`super::RULES`]; the values of
/// these ops are never folded at compile time (their quantized types are
/// what later passes work with).
pub const QUANT_RULES: &[(&str, Rule)] = &[
    ("onnx.QuantizeLinear", quantize_linear),
    ("onnx.DequantizeLinear", dequantize_linear),
    ("onnx.QLinearMatMul", qlinear_matmul),
    ("onnx.MatMulInteger", matmul_integer),
    ("onnx.DynamicQuantizeLinear", dynamic_quantize_linear),
];

/// Width and signedness of a plain integer type.
fn storage(e: &ElemType) -> Result<(u8, bool), LegalizeError> {
    match e {
        ElemType::Int { width, signed } if *width <= 32 => Ok((*width, *signed)),
        other => Err(LegalizeError::new(format!("quantized values must be integers of at most 32 bits, got {other}"))),
    }
}

/// The constant floats of operand `i`.
fn const_floats(rw: &Rewriter, i: usize, what: &str) -> Result<Vec<f64>, LegalizeError> {
    let v = rw.operand(i)?;
    let t = rw.known(v).ok_or_else(|| {
        LegalizeError::new(format!("the '{what}' operand is not a compile-time constant"))
            .with_note("quantized types carry their scales and zero points: they must be constants (initializers)")
    })?;
    Ok(floats_of(&t))
}

/// The constant integers of optional operand `i` (`None` when absent).
fn const_zero_points(rw: &Rewriter, i: usize, what: &str) -> Result<Option<Vec<i64>>, LegalizeError> {
    let Some(v) = rw.optional(i) else { return Ok(None) };
    let t = rw.known(v).ok_or_else(|| {
        LegalizeError::new(format!("the '{what}' operand is not a compile-time constant"))
            .with_note("quantized types carry their scales and zero points: they must be constants (initializers)")
    })?;
    ints_of(&t).map(Some).ok_or_else(|| LegalizeError::new(format!("the '{what}' operand must hold integers")))
}

/// The quantized type of a `rank`-dimensional tensor with the ONNX scale
/// and zero point (per tensor when they have one element, else along
/// `axis`).
fn quant_type(
    rw: &Rewriter,
    (scale, zp): (usize, usize),
    names: (&str, &str),
    (width, signed): (u8, bool),
    dims: &[Dim],
) -> Result<ElemType, LegalizeError> {
    if rw.attr_int("block_size", 0) > 0 {
        return Err(LegalizeError::new("per-block quantization (block_size > 0) is not supported")
            .with_note("weft's quantized types have one scale per tensor or per channel"));
    }
    let scales = const_floats(rw, scale, names.0)?;
    let zps = const_zero_points(rw, zp, names.1)?.unwrap_or_else(|| vec![0; scales.len()]);
    if zps.len() != scales.len() {
        return Err(LegalizeError::new(format!("{} scales but {} zero points", scales.len(), zps.len())));
    }
    let params = match scales.len() {
        1 => QuantParams::PerTensor { scale: scales[0], zp: zps[0] },
        n => {
            let a = axis(rw.attr_int("axis", 1), dims.len())?;
            if let Some(Dim::Fixed(d)) = dims.get(a) {
                if *d != n as u64 {
                    return Err(LegalizeError::new(format!("{n} scales for axis {a} of size {d}")));
                }
            }
            QuantParams::PerChannel { axis: a as u32, scales, zps }
        }
    };
    let q = QuantInt { width, signed, params };
    weft_ir::ops::quant::common::check_quant(&q, "the quantization", 32).map_err(LegalizeError::new)?;
    Ok(ElemType::Quant(Box::new(q)))
}

fn result(rw: &Rewriter) -> Result<TensorType, LegalizeError> {
    rw.result_type(0).ok_or_else(|| LegalizeError::internal("missing result"))
}

fn with_elem(t: &TensorType, elem: ElemType) -> TensorType {
    TensorType::new(t.dims.clone(), elem)
}

pub fn quantize_linear(rw: &mut Rewriter) -> Replacement {
    let x = rw.operand(0)?;
    let r = result(rw)?;
    let elem = quant_type(rw, (1, 2), ("y_scale", "y_zero_point"), storage(&r.elem)?, &r.dims)?;
    let q = rw.build_typed(&quant::QUANTIZE, &[x], with_elem(&r, elem), Attrs::new())?;
    Ok(vec![rw.build_typed(&quant::STORAGE_CAST, &[q], r, Attrs::new())?])
}

pub fn dequantize_linear(rw: &mut Rewriter) -> Replacement {
    let x = rw.operand(0)?;
    let xt = rw.ty(x);
    let elem = quant_type(rw, (1, 2), ("x_scale", "x_zero_point"), storage(&xt.elem)?, &xt.dims)?;
    let q = rw.build_typed(&quant::STORAGE_CAST, &[x], with_elem(&xt, elem), Attrs::new())?;
    Ok(vec![rw.build_typed(&quant::DEQUANTIZE, &[q], result(rw)?, Attrs::new())?])
}

/// The per-tensor or per-column quantization of a matmul's right operand.
fn column_params(scales: Vec<f64>, zps: Vec<i64>, rank: usize) -> QuantParams {
    match (scales.as_slice(), zps.as_slice()) {
        ([s], [z]) => QuantParams::PerTensor { scale: *s, zp: *z },
        _ => QuantParams::PerChannel { axis: rank as u32 - 1, scales, zps },
    }
}

/// The matmul operands' ranks must be at least 2.
fn matrices(rw: &Rewriter, a: Value, b: Value) -> Result<(), LegalizeError> {
    if rw.rank(a) < 2 || rw.rank(b) < 2 {
        return Err(LegalizeError::new("1-D operands are not supported by the integer matmul")
            .with_note("reshape vectors to matrices before the op"));
    }
    Ok(())
}

/// Checks per-tensor / per-column parameter counts and builds the type.
fn operand_type(
    x: &TensorType,
    scales: Vec<f64>,
    zps: Vec<i64>,
    columns_ok: bool,
    what: &str,
) -> Result<ElemType, LegalizeError> {
    let (width, signed) = storage(&x.elem)?;
    let zps = if zps.len() == 1 && scales.len() > 1 { vec![zps[0]; scales.len()] } else { zps };
    let scales = if scales.len() == 1 && zps.len() > 1 { vec![scales[0]; zps.len()] } else { scales };
    if scales.len() != zps.len() || (scales.len() > 1 && !columns_ok) {
        return Err(LegalizeError::new(format!(
            "{what}: only per-tensor{} scales and zero points are supported",
            if columns_ok { " or per-column" } else { "" }
        )));
    }
    let columns = x.dims.last().and_then(Dim::fixed);
    if scales.len() > 1 && columns != Some(scales.len() as u64) {
        return Err(LegalizeError::new(format!("{what}: {} per-column parameters for {}", scales.len(), x)));
    }
    let q = QuantInt { width, signed, params: column_params(scales, zps, x.rank()) };
    weft_ir::ops::quant::common::check_quant(&q, what, 16).map_err(LegalizeError::new)?;
    Ok(ElemType::Quant(Box::new(q)))
}

/// The accumulator type of a qmatmul with these per-tensor or per-column
/// scales.
fn accumulator(scales: Vec<f64>, rank: usize) -> ElemType {
    let zps = vec![0; scales.len()];
    ElemType::Quant(Box::new(QuantInt { width: 32, signed: true, params: column_params(scales, zps, rank) }))
}

fn scales_of(e: &ElemType) -> Vec<f64> {
    match e {
        ElemType::Quant(q) => weft_ir::ops::quant::common::scales_of(q).to_vec(),
        _ => vec![1.0],
    }
}

/// Casts `a` and `b` to their quantized types and multiplies them into an
/// accumulator of the result's shape.
fn integer_matmul(rw: &mut Rewriter, a: Value, b: Value, qa: ElemType, qb: ElemType) -> Result<Value, LegalizeError> {
    let (at, bt) = (rw.ty(a), rw.ty(b));
    let sa = scales_of(&qa)[0];
    let ca = rw.build_typed(&quant::STORAGE_CAST, &[a], with_elem(&at, qa), Attrs::new())?;
    let scales: Vec<f64> = scales_of(&qb).iter().map(|s| sa * s).collect();
    let cb = rw.build_typed(&quant::STORAGE_CAST, &[b], with_elem(&bt, qb), Attrs::new())?;
    let r = result(rw)?;
    let acc = with_elem(&r, accumulator(scales, r.rank()));
    rw.build_typed(&quant::QMATMUL, &[ca, cb], acc, Attrs::new())
}

pub fn qlinear_matmul(rw: &mut Rewriter) -> Replacement {
    let (a, b) = (rw.operand(0)?, rw.operand(3)?);
    matrices(rw, a, b)?;
    let (at, bt) = (rw.ty(a), rw.ty(b));
    let zp = |rw: &Rewriter, i, what| const_zero_points(rw, i, what).map(|z| z.unwrap_or_else(|| vec![0]));
    let qa = operand_type(&at, const_floats(rw, 1, "a_scale")?, zp(rw, 2, "a_zero_point")?, false, "a")?;
    let qb = operand_type(&bt, const_floats(rw, 4, "b_scale")?, zp(rw, 5, "b_zero_point")?, true, "b")?;
    let r = result(rw)?;
    let qy = operand_type(&r, const_floats(rw, 6, "y_scale")?, zp(rw, 7, "y_zero_point")?, false, "y")?;
    let acc = integer_matmul(rw, a, b, qa, qb)?;
    let y = rw.build_typed(&quant::REQUANTIZE, &[acc], with_elem(&r, qy), Attrs::new())?;
    Ok(vec![rw.build_typed(&quant::STORAGE_CAST, &[y], r, Attrs::new())?])
}

pub fn matmul_integer(rw: &mut Rewriter) -> Replacement {
    let (a, b) = (rw.operand(0)?, rw.operand(1)?);
    matrices(rw, a, b)?;
    let runtime_zp = [2, 3].iter().any(|&i| rw.optional(i).is_some_and(|v| rw.known(v).is_none()));
    if runtime_zp {
        return centered_matmul(rw, a, b);
    }
    let (at, bt) = (rw.ty(a), rw.ty(b));
    let za = const_zero_points(rw, 2, "a_zero_point")?.unwrap_or_else(|| vec![0]);
    let zb = const_zero_points(rw, 3, "b_zero_point")?.unwrap_or_else(|| vec![0]);
    let ones = |n: usize| vec![1.0; n];
    let qa = operand_type(&at, ones(za.len()), za, false, "A")?;
    let qb = operand_type(&bt, ones(zb.len()), zb, true, "B")?;
    let acc = integer_matmul(rw, a, b, qa, qb)?;
    Ok(vec![rw.build_typed(&quant::STORAGE_CAST, &[acc], result(rw)?, Attrs::new())?])
}

/// `(A - a_zp) @ (B - b_zp)` in wrapping i32 arithmetic, for zero points
/// known only at run time.
fn centered_matmul(rw: &mut Rewriter, a: Value, b: Value) -> Replacement {
    let mut centered = Vec::new();
    for (x, zi) in [(a, 2), (b, 3)] {
        let x32 = rw.cast(x, &ElemType::I32)?;
        centered.push(match rw.optional(zi) {
            Some(z) => {
                let z32 = rw.cast(z, &ElemType::I32)?;
                rw.binary(&nn::SUB, x32, z32)?
            }
            None => x32,
        });
    }
    Ok(vec![rw.binary(&nn::MATMUL, centered[0], centered[1])?])
}

/// `1.5 * 2^23`: adding and subtracting it rounds an f32 of magnitude
/// below 2^22 to an integer, ties to even.
const ROUNDING_MAGIC: f64 = 12_582_912.0;

/// ONNX's formula in f32 nn ops: `lo = min(0, min x)`, `hi = max(0, max
/// x)`, `scale = (hi - lo) / 255` (1 when 0), `zp = round(clamp(-lo /
/// scale, 0, 255))`, `y = clamp(round(x / scale) + zp, 0, 255)`, rounding
/// half to even.
pub fn dynamic_quantize_linear(rw: &mut Rewriter) -> Replacement {
    let x = rw.operand(0)?;
    let f32 = ElemType::F32;
    if rw.elem(x) != f32 {
        return Err(LegalizeError::new(format!("expects f32 data, got {}", rw.elem(x))));
    }
    let all: Vec<i64> = (0..rw.rank(x) as i64).collect();
    let reduce = attrs(&[("axes", ints(&all)), ("keepdims", Attribute::Bool(false))]);
    let zero = rw.scalar(&f32, 0.0);
    let hi_x = rw.build(&nn::REDUCE_MAX, &[x], reduce.clone())?;
    let neg = rw.unary(&nn::NEG, x)?;
    let neg_lo = rw.build(&nn::REDUCE_MAX, &[neg], reduce)?;
    let lo_x = rw.unary(&nn::NEG, neg_lo)?;
    let hi = rw.binary(&nn::MAX, hi_x, zero)?;
    let lo = rw.binary(&nn::MIN, lo_x, zero)?;
    let range = rw.binary(&nn::SUB, hi, lo)?;
    let levels = rw.scalar(&f32, 255.0);
    let raw_scale = rw.binary(&nn::DIV, range, levels)?;
    let is_zero = rw.binary(&nn::EQUAL, raw_scale, zero)?;
    let one = rw.scalar(&f32, 1.0);
    let scale = rw.build(&nn::SELECT, &[is_zero, one, raw_scale], Attrs::new())?;
    let neg_lo = rw.unary(&nn::NEG, lo)?;
    let zp_real = rw.binary(&nn::DIV, neg_lo, scale)?;
    let zp_clipped = clip(rw, zp_real)?;
    let zp_f = round_half_even(rw, zp_clipped)?;
    let y_real = rw.binary(&nn::DIV, x, scale)?;
    let y_rounded = round_half_even(rw, y_real)?;
    let y_shifted = rw.binary(&nn::ADD, y_rounded, zp_f)?;
    let y_f = clip(rw, y_shifted)?;
    let u8 = ElemType::Int { width: 8, signed: false };
    let y = rw.cast(y_f, &u8)?;
    let zp = rw.cast(zp_f, &u8)?;
    Ok(vec![y, scale, zp])
}

fn clip(rw: &mut Rewriter, v: Value) -> Result<Value, LegalizeError> {
    let bounds = attrs(&[("min", Attribute::Float(0.0)), ("max", Attribute::Float(255.0))]);
    rw.build(&nn::CLIP, &[v], bounds)
}

fn round_half_even(rw: &mut Rewriter, v: Value) -> Result<Value, LegalizeError> {
    let magic = rw.splat(&[], &ElemType::F32, Scalar::Float(ROUNDING_MAGIC));
    let up = rw.binary(&nn::ADD, v, magic)?;
    rw.binary(&nn::SUB, up, magic)
}
