//! The quantized nonlinear ops: `quant.softmax`, `quant.gelu`,
//! `quant.layer_norm` and the elementwise `quant.sigmoid`, `quant.silu`,
//! `quant.tanh`, `quant.exp`, `quant.reciprocal`, `quant.sqrt`,
//! `quant.rsqrt`. The `quantize` pass produces them from the nn ops with
//! result types chosen by calibration; `lower-nonlinear` replaces them by
//! integer programs of the nl dialect.
//!
//! Invariants: operands and results are `!quant.int` tensors of one shape
//! (the result type is a choice, checked by the result verify hook); the
//! reference semantics is the ideal quantized op of [`ideal`]: dequantize,
//! compute in f64, quantize (round half to even, saturate).

pub mod ideal;

use crate::module::Attrs;
use crate::ops::nl::common::{result_tensor, same_dims};
use crate::ops::nn::common::{choice_attr, float_attr, float_operand, int_attr};
use crate::ops::shape::{broadcast_shapes, normalize_axis, tensor_operand};
use crate::ops::{Arity, AttrKind, AttrSpec, OpDef, OpInfo, Trait};
use crate::tensor::Tensor;
use crate::types::{ElemType, TensorType, Type};
use ideal::{dequantize_all, quantize_all};

const X: Arity = Arity::Fixed(&["input"]);
const ONE_RESULT: Arity = Arity::Fixed(&["result"]);

/// Operand `i` as a `!quant.int` tensor.
pub fn quant_operand<'a>(info: &OpInfo<'a>, i: usize) -> Result<&'a TensorType, String> {
    let t = tensor_operand(info.operand_types, i)?;
    if !matches!(t.elem, ElemType::Quant(_)) {
        return Err(format!("operand #{i} must have a !quant.int element type, got {}", t.elem));
    }
    Ok(t)
}

/// The result is a `!quant.int` tensor of the input's shape.
fn verify_quant_result(info: &OpInfo, results: &[&Type]) -> Result<(), String> {
    // A bad operand is the verify hook's error.
    let Ok(x) = quant_operand(info, 0) else { return Ok(()) };
    let r = result_tensor(results, 0)?;
    if !matches!(r.elem, ElemType::Quant(_)) {
        return Err(format!("result #0 must have a !quant.int element type, got {}", r.elem));
    }
    same_dims(r, 0, &x.dims)
}

/// Dequantizes operand 0, applies `f` to the reals, quantizes to result 0.
fn ideal(ops: &[Tensor], results: &[Type], f: impl FnOnce(&mut Vec<f64>)) -> Result<Vec<Tensor>, String> {
    let x = &ops[0];
    let elem = results.first().and_then(Type::as_tensor).map(|t| &t.elem).ok_or("result #0 must be a tensor")?;
    let mut v = dequantize_all(x)?;
    f(&mut v);
    Ok(vec![quantize_all(elem, x.shape.clone(), &v)?])
}

macro_rules! elementwise_op {
    ($konst:ident, $name:literal, $summary:literal, $f:expr) => {
        pub const $konst: OpDef = OpDef {
            name: $name,
            summary: $summary,
            description: concat!(
                "The ideal quantized op: each element is dequantized, the function computed in f64 and \
the value quantized to the result type (round half to even, saturate; NaN gives the zero point).\n\n```\n%1 = ",
                $name,
                " %0 : (tensor<64x!quant.int<w=8, signed, scale=0.0625, zp=0>>) -> tensor<64x!quant.int<w=8, unsigned, scale=0.00390625, zp=0>>\n```"
            ),
            operands: X,
            results: ONE_RESULT,
            traits: &[Trait::Pure],
            verify: Some(|info| quant_operand(info, 0).map(|_| ())),
            verify_results: Some(verify_quant_result),
            eval: Some(|ops, _, results| ideal(ops, results, |v| v.iter_mut().for_each(|x| *x = $f(*x)))),
            ..OpDef::DEFAULT
        };
    };
}

elementwise_op!(SIGMOID, "quant.sigmoid", "Quantized logistic function 1 / (1 + e^-x)", ideal::sigmoid);
elementwise_op!(SILU, "quant.silu", "Quantized SiLU x * sigmoid(x)", ideal::silu);
elementwise_op!(TANH, "quant.tanh", "Quantized hyperbolic tangent", f64::tanh);
elementwise_op!(EXP, "quant.exp", "Quantized natural exponential e^x", f64::exp);
elementwise_op!(RECIPROCAL, "quant.reciprocal", "Quantized reciprocal 1 / x", ideal::reciprocal);
elementwise_op!(SQRT, "quant.sqrt", "Quantized square root", f64::sqrt);
elementwise_op!(RSQRT, "quant.rsqrt", "Quantized reciprocal square root 1 / sqrt(x)", ideal::rsqrt);

const GELU_FORMS: &[&str] = &["none", "tanh"];

pub const GELU: OpDef = OpDef {
    name: "quant.gelu",
    summary: "Quantized GELU",
    description: "The ideal quantized op: `approximate = \"none\"` (the default) is \
`0.5 * x * (1 + erf(x / sqrt(2)))`, `\"tanh\"` the tanh form, computed in f64 on the dequantized \
input and quantized to the result type (round half to even, saturate).\n\n\
```\n%1 = quant.gelu %0 : (tensor<64x!quant.int<w=8, signed, scale=0.03125, zp=0>>) -> tensor<64x!quant.int<w=8, unsigned, scale=0.0163, zp=10>>\n```",
    operands: X,
    results: ONE_RESULT,
    attrs: &[AttrSpec {
        name: "approximate",
        kind: AttrKind::Str,
        required: false,
        doc: "\"none\" (default: the erf form) or \"tanh\"",
    }],
    traits: &[Trait::Pure],
    verify: Some(|info| {
        quant_operand(info, 0)?;
        choice_attr(info.attrs, "approximate", GELU_FORMS).map(|_| ())
    }),
    verify_results: Some(verify_quant_result),
    eval: Some(|ops, attrs, results| {
        let f: fn(f64) -> f64 = match choice_attr(attrs, "approximate", GELU_FORMS)? {
            "tanh" => ideal::gelu_tanh,
            _ => ideal::gelu_erf,
        };
        ideal(ops, results, |v| v.iter_mut().for_each(|x| *x = f(*x)))
    }),
    ..OpDef::DEFAULT
};

pub const SOFTMAX: OpDef = OpDef {
    name: "quant.softmax",
    summary: "Quantized softmax along an axis",
    description: "The ideal quantized op: the lanes along `axis` are dequantized, \
`exp(x - max) / sum(exp(x - max))` computed in f64 and quantized to the result type (round half \
to even, saturate).\n\n\
```\n%1 = quant.softmax %0 {axis = -1} : (tensor<4x64x!quant.int<w=8, signed, scale=0.0625, zp=0>>) -> tensor<4x64x!quant.int<w=8, unsigned, scale=0.00392156862745098, zp=0>>\n```",
    operands: X,
    results: ONE_RESULT,
    attrs: &[AttrSpec {
        name: "axis",
        kind: AttrKind::Int,
        required: true,
        doc: "the normalized axis, in [-r, r); negative counts from the end",
    }],
    traits: &[Trait::Pure],
    verify: Some(|info| {
        let x = quant_operand(info, 0)?;
        normalize_axis(int_attr(info.attrs, "axis")?, x.rank()).map(|_| ())
    }),
    verify_results: Some(verify_quant_result),
    eval: Some(|ops, attrs, results| {
        let axis = normalize_axis(int_attr(attrs, "axis")?, ops[0].shape.len())?;
        let shape = ops[0].shape.clone();
        ideal(ops, results, |v| ideal::softmax(v, &shape, axis))
    }),
    ..OpDef::DEFAULT
};

pub const LAYER_NORM: OpDef = OpDef {
    name: "quant.layer_norm",
    summary: "Quantized layer normalization over the trailing axes from `axis`, with float scale and bias",
    description: "The ideal quantized op: over the normalized axes `[axis, r)` of each lane of the \
dequantized input, `y = (x - mean) / sqrt(var + epsilon) * scale + bias` in f64, quantized to the \
result type (round half to even, saturate). `scale` and `bias` are float tensors that broadcast \
to the input's shape without changing it (usually constants of the normalized dims' shape).\n\n\
```\n%3 = quant.layer_norm %0, %1, %2 {axis = -1, epsilon = 1.0e-12} : (tensor<4x384x!quant.int<w=8, signed, scale=0.05, zp=0>>, tensor<384xf32>, tensor<384xf32>) -> tensor<4x384x!quant.int<w=8, signed, scale=0.03, zp=0>>\n```",
    operands: Arity::Fixed(&["input", "scale", "bias"]),
    results: ONE_RESULT,
    attrs: &[
        AttrSpec {
            name: "axis",
            kind: AttrKind::Int,
            required: true,
            doc: "the first normalized axis, in [-r, r); negative counts from the end",
        },
        AttrSpec { name: "epsilon", kind: AttrKind::Float, required: true, doc: "added to the variance, >= 0" },
    ],
    traits: &[Trait::Pure],
    verify: Some(verify_layer_norm),
    verify_results: Some(verify_quant_result),
    eval: Some(eval_layer_norm),
    ..OpDef::DEFAULT
};

fn verify_layer_norm(info: &OpInfo) -> Result<(), String> {
    let x = quant_operand(info, 0)?;
    normalize_axis(int_attr(info.attrs, "axis")?, x.rank())?;
    let eps = float_attr(info.attrs, "epsilon", 0.0)?;
    if eps.is_nan() || eps < 0.0 {
        return Err(format!("'epsilon' must be >= 0, got {eps}"));
    }
    for i in [1, 2] {
        let p = float_operand(info, i)?;
        if broadcast_shapes(&x.dims, &p.dims)? != x.dims {
            return Err(format!("operand #{i} of type {p} does not broadcast to the input's shape {x}"));
        }
    }
    Ok(())
}

fn eval_layer_norm(ops: &[Tensor], attrs: &Attrs, results: &[Type]) -> Result<Vec<Tensor>, String> {
    let x = &ops[0];
    let axis = normalize_axis(int_attr(attrs, "axis")?, x.shape.len())?;
    let eps = float_attr(attrs, "epsilon", 0.0)?;
    let inner = x.shape.iter().skip(axis).product::<u64>() as usize;
    let mut v = dequantize_all(x)?;
    ideal::normalize(&mut v, inner, eps);
    let normalized = Tensor { elem: ElemType::F64, shape: x.shape.clone(), data: crate::tensor::TensorData::F64(v) };
    let affine = crate::ops::eval::broadcast_map(&[&normalized, &ops[1], &ops[2]], &ElemType::F64, |s| {
        let f = crate::ops::eval::as_f64;
        Ok(crate::tensor::Scalar::Float(f(s[0]) * f(s[1]) + f(s[2])))
    })?;
    let y: Vec<f64> = (0..affine.data.len()).map(|i| crate::ops::eval::as_f64(affine.data.get(i))).collect();
    let elem = results.first().and_then(Type::as_tensor).map(|t| &t.elem).ok_or("result #0 must be a tensor")?;
    Ok(vec![quantize_all(elem, x.shape.clone(), &y)?])
}

#[cfg(test)]
mod tests;
