//! Rules for ONNX's elementwise ops: arithmetic, the float functions,
//! activations without an nn op of their own (HardSigmoid, HardSwish,
//! Softplus), Clip, comparisons and logic, Where, Cast and Identity.
//!
//! Invariants: numpy broadcasting carries over unchanged (nn's binary ops
//! broadcast the same way); element type conversions appear only as
//! explicit `nn.cast`s, inserted where ONNX mixes types (Pow's exponent,
//! Erf on integers).

use super::builder::{attrs, Replacement, Rewriter};
use super::known::floats_of;
use super::LegalizeError;
use weft_ir::ops::eval::round_to;
use weft_ir::ops::nn;
use weft_ir::ops::OpDef;
use weft_ir::tensor::Scalar;
use weft_ir::{Attribute, Attrs, ElemType, Tensor, Value};

fn binary(rw: &mut Rewriter, def: &'static OpDef) -> Replacement {
    let (a, b) = (rw.operand(0)?, rw.operand(1)?);
    Ok(vec![rw.binary(def, a, b)?])
}

fn unary(rw: &mut Rewriter, def: &'static OpDef) -> Replacement {
    let x = rw.operand(0)?;
    Ok(vec![rw.unary(def, x)?])
}

/// A float function; integer operands are computed in f64 and converted
/// back (truncating, as ONNX specifies for Erf on integers).
fn float_unary(rw: &mut Rewriter, def: &'static OpDef) -> Replacement {
    let x = rw.operand(0)?;
    let elem = rw.elem(x);
    if elem.is_float() {
        return Ok(vec![rw.unary(def, x)?]);
    }
    let wide = rw.cast(x, &ElemType::F64)?;
    let y = rw.unary(def, wide)?;
    Ok(vec![rw.cast(y, &elem)?])
}

pub fn add(rw: &mut Rewriter) -> Replacement {
    binary(rw, &nn::ADD)
}

pub fn sub(rw: &mut Rewriter) -> Replacement {
    binary(rw, &nn::SUB)
}

pub fn mul(rw: &mut Rewriter) -> Replacement {
    binary(rw, &nn::MUL)
}

pub fn div(rw: &mut Rewriter) -> Replacement {
    binary(rw, &nn::DIV)
}

pub fn equal(rw: &mut Rewriter) -> Replacement {
    binary(rw, &nn::EQUAL)
}

pub fn less(rw: &mut Rewriter) -> Replacement {
    binary(rw, &nn::LESS)
}

pub fn greater(rw: &mut Rewriter) -> Replacement {
    binary(rw, &nn::GREATER)
}

pub fn less_equal(rw: &mut Rewriter) -> Replacement {
    binary(rw, &nn::LESS_EQUAL)
}

pub fn greater_equal(rw: &mut Rewriter) -> Replacement {
    binary(rw, &nn::GREATER_EQUAL)
}

pub fn and(rw: &mut Rewriter) -> Replacement {
    binary(rw, &nn::AND)
}

pub fn or(rw: &mut Rewriter) -> Replacement {
    binary(rw, &nn::OR)
}

pub fn not(rw: &mut Rewriter) -> Replacement {
    unary(rw, &nn::NOT)
}

pub fn relu(rw: &mut Rewriter) -> Replacement {
    unary(rw, &nn::RELU)
}

pub fn neg(rw: &mut Rewriter) -> Replacement {
    unary(rw, &nn::NEG)
}

pub fn abs(rw: &mut Rewriter) -> Replacement {
    unary(rw, &nn::ABS)
}

pub fn sqrt(rw: &mut Rewriter) -> Replacement {
    float_unary(rw, &nn::SQRT)
}

pub fn exp(rw: &mut Rewriter) -> Replacement {
    float_unary(rw, &nn::EXP)
}

pub fn log(rw: &mut Rewriter) -> Replacement {
    float_unary(rw, &nn::LOG)
}

pub fn erf(rw: &mut Rewriter) -> Replacement {
    float_unary(rw, &nn::ERF)
}

pub fn tanh(rw: &mut Rewriter) -> Replacement {
    float_unary(rw, &nn::TANH)
}

pub fn sigmoid(rw: &mut Rewriter) -> Replacement {
    float_unary(rw, &nn::SIGMOID)
}

pub fn reciprocal(rw: &mut Rewriter) -> Replacement {
    float_unary(rw, &nn::RECIPROCAL)
}

pub fn identity(rw: &mut Rewriter) -> Replacement {
    Ok(vec![rw.operand(0)?])
}

pub fn select(rw: &mut Rewriter) -> Replacement {
    let (c, a, b) = (rw.operand(0)?, rw.operand(1)?, rw.operand(2)?);
    Ok(vec![rw.build(&nn::SELECT, &[c, a, b], Attrs::new())?])
}

/// Cast and CastLike: the target is the result's element type.
pub fn cast(rw: &mut Rewriter) -> Replacement {
    let x = rw.operand(0)?;
    let to = rw.result_type(0).ok_or_else(|| LegalizeError::internal("Cast has no result"))?.elem;
    Ok(vec![rw.cast(x, &to)?])
}

/// IsNaN(x) = not(x == x).
pub fn is_nan(rw: &mut Rewriter) -> Replacement {
    let x = rw.operand(0)?;
    let same = rw.binary(&nn::EQUAL, x, x)?;
    Ok(vec![rw.unary(&nn::NOT, same)?])
}

pub fn gelu(rw: &mut Rewriter) -> Replacement {
    let x = rw.operand(0)?;
    let approximate = rw.attr_str("approximate", "none");
    Ok(vec![rw.build(&nn::GELU, &[x], attrs(&[("approximate", Attribute::Str(approximate))]))?])
}

/// Max/Min of one or more operands: a left fold of binary ops.
fn fold_variadic(rw: &mut Rewriter, def: &'static OpDef) -> Replacement {
    let operands = rw.operands();
    let (&first, rest) = operands.split_first().ok_or_else(|| LegalizeError::new("needs at least one operand"))?;
    let mut acc = first;
    for &v in rest {
        acc = rw.binary(def, acc, v)?;
    }
    Ok(vec![acc])
}

pub fn max(rw: &mut Rewriter) -> Replacement {
    fold_variadic(rw, &nn::MAX)
}

pub fn min(rw: &mut Rewriter) -> Replacement {
    fold_variadic(rw, &nn::MIN)
}

/// Pow with ONNX's mixed types: an exponent of another type is converted
/// exactly when it is a constant that the base type holds, otherwise both
/// sides are computed in f64 (i64 for integers) and converted back.
pub fn pow(rw: &mut Rewriter) -> Replacement {
    let (x, y) = (rw.operand(0)?, rw.operand(1)?);
    let (ex, ey) = (rw.elem(x), rw.elem(y));
    if ex == ey {
        return Ok(vec![rw.binary(&nn::POW, x, y)?]);
    }
    if let Some(exact) = rw.known(y).and_then(|t| convert_exactly(&t, &ex)) {
        let y = rw.constant(exact);
        return Ok(vec![rw.binary(&nn::POW, x, y)?]);
    }
    let wide = if ex.is_int() && ey.is_int() { ElemType::I64 } else { ElemType::F64 };
    let (xw, yw) = (rw.cast(x, &wide)?, rw.cast(y, &wide)?);
    let p = rw.binary(&nn::POW, xw, yw)?;
    Ok(vec![rw.cast(p, &ex)?])
}

/// `t` as a tensor of the float type `elem` when every value converts
/// exactly.
fn convert_exactly(t: &Tensor, elem: &ElemType) -> Option<Tensor> {
    if !elem.is_float() {
        return None;
    }
    let values = floats_of(t);
    if values.iter().any(|&v| round_to(elem, v) != v || v.abs() > (1u64 << 53) as f64) {
        return None;
    }
    Some(Tensor::from_fn(elem.clone(), t.shape.clone(), |i| Scalar::Float(values[i])))
}

/// HardSigmoid(x) = clip(alpha * x + beta, 0, 1).
pub fn hard_sigmoid(rw: &mut Rewriter) -> Replacement {
    let x = rw.operand(0)?;
    let (alpha, beta) = (rw.attr_float("alpha", 0.2f32 as f64), rw.attr_float("beta", 0.5));
    Ok(vec![hard_sigmoid_of(rw, x, alpha, beta)?])
}

fn hard_sigmoid_of(rw: &mut Rewriter, x: Value, alpha: f64, beta: f64) -> Result<Value, LegalizeError> {
    let elem = rw.elem(x);
    let a = rw.scalar(&elem, alpha);
    let b = rw.scalar(&elem, beta);
    let scaled = rw.binary(&nn::MUL, x, a)?;
    let shifted = rw.binary(&nn::ADD, scaled, b)?;
    rw.build(&nn::CLIP, &[shifted], attrs(&[("min", Attribute::Float(0.0)), ("max", Attribute::Float(1.0))]))
}

/// HardSwish(x) = x * HardSigmoid(x) with alpha 1/6 and beta 1/2.
pub fn hard_swish(rw: &mut Rewriter) -> Replacement {
    let x = rw.operand(0)?;
    let gate = hard_sigmoid_of(rw, x, 1.0 / 6.0, 0.5)?;
    Ok(vec![rw.binary(&nn::MUL, x, gate)?])
}

/// Softplus(x) = relu(x) + log(1 + exp(-|x|)), which does not overflow.
pub fn softplus(rw: &mut Rewriter) -> Replacement {
    let x = rw.operand(0)?;
    let elem = rw.elem(x);
    let positive = rw.unary(&nn::RELU, x)?;
    let magnitude = rw.unary(&nn::ABS, x)?;
    let negated = rw.unary(&nn::NEG, magnitude)?;
    let e = rw.unary(&nn::EXP, negated)?;
    let one = rw.scalar(&elem, 1.0);
    let sum = rw.binary(&nn::ADD, e, one)?;
    let l = rw.unary(&nn::LOG, sum)?;
    Ok(vec![rw.binary(&nn::ADD, positive, l)?])
}

/// Clip: constant bounds become `nn.clip` attributes (infinite or
/// type-extreme bounds are dropped); otherwise max/min with the bound
/// operands.
pub fn clip(rw: &mut Rewriter) -> Replacement {
    let x = rw.operand(0)?;
    let elem = rw.elem(x);
    let bounds = [(rw.optional(1), "min"), (rw.optional(2), "max")];
    let all_known = bounds.iter().all(|(b, _)| b.is_none_or(|b| rw.known(b).is_some_and(|t| t.numel() == 1)));
    if all_known {
        let mut a = Attrs::new();
        for (b, name) in bounds {
            let Some(t) = b.and_then(|b| rw.known(b)) else { continue };
            if let Some(attr) = bound_attr(&t, &elem, name == "min") {
                a.insert(name.to_string(), attr);
            }
        }
        if a.is_empty() {
            return Ok(vec![x]);
        }
        return Ok(vec![rw.build(&nn::CLIP, &[x], a)?]);
    }
    let mut y = x;
    for (b, name) in bounds {
        let Some(b) = b else { continue };
        let scalar = rw.reshape(b, &[])?;
        y = rw.binary(if name == "min" { &nn::MAX } else { &nn::MIN }, y, scalar)?;
    }
    Ok(vec![y])
}

/// The attribute for a constant clip bound, `None` when it bounds nothing.
fn bound_attr(t: &Tensor, elem: &ElemType, lower: bool) -> Option<Attribute> {
    match t.data.get(0) {
        Scalar::Float(v) if lower && v == f64::NEG_INFINITY => None,
        Scalar::Float(v) if !lower && v == f64::INFINITY => None,
        Scalar::Float(v) => Some(Attribute::Float(v)),
        Scalar::Int(v) => (Some(v) != int_extreme(elem, lower)).then_some(Attribute::Int(v)),
    }
}

/// The least (`lower`) or greatest value of an integer type, as stored.
fn int_extreme(elem: &ElemType, lower: bool) -> Option<i64> {
    let ElemType::Int { width, signed } = *elem else { return None };
    let w = u32::from(width.clamp(1, 64));
    let (lo, hi): (i128, i128) =
        if signed { (-(1i128 << (w - 1)), (1i128 << (w - 1)) - 1) } else { (0, (1i128 << w) - 1) };
    let v = if lower { lo } else { hi };
    Some(weft_ir::ops::eval::wrap_int(v as i64, width, signed))
}
