//! Conversions between reals, quantized integers and plain integers:
//! `quant.quantize`, `quant.dequantize`, `quant.requantize` and
//! `quant.storage_cast`.
//!
//! Invariants: every op here keeps the shape; the result type is declared
//! (it carries the calibrated scale) and checked by `verify_results`;
//! `requantize` is integer-only, with its fixed-point multipliers derived
//! from the two types, so the type is the only place a scale is written.

use super::common::{
    check_quant, quant_of, quant_operand, quant_result, quantize_real, range_of, result_elem, result_quant,
    result_tensor, same_dims, ChannelMap, FixedMultiplier,
};
use super::{ONE_RESULT, UNARY};
use crate::ops::shape::tensor_operand;
use crate::ops::{OpDef, OpInfo, Trait};
use crate::tensor::{Scalar, Tensor, TensorData};
use crate::types::{ElemType, QuantInt, Type};

pub const QUANTIZE: OpDef = OpDef {
    name: "quant.quantize",
    summary: "Reals to quantized integers: saturate(round_half_even(x / scale) + zp)",
    description: "Quantizes a float tensor to the declared `!quant.int` result type, per tensor or \
per channel: `q = clamp(round_half_even(x / scale) + zp, qmin, qmax)`, with `x / scale` computed \
in f64 from the operand's value; NaN gives `zp`. To a `!quant.bin` result, `q = 1` (standing for \
`+scale`) when `x >= 0` or NaN, else 0; the scale does not enter (it is the magnitude the bit \
stands for, chosen by whoever built the type).\n\n\
```\n%1 = quant.quantize %0 : (tensor<1x128xf32>) -> tensor<1x128x!quant.int<w=8, signed, scale=0.05, zp=0>>\n```",
    operands: UNARY,
    results: ONE_RESULT,
    traits: &[Trait::Pure],
    verify_results: Some(check_quantize),
    eval: Some(eval_quantize),
    ..OpDef::DEFAULT
};

fn check_quantize(info: &OpInfo, results: &[&Type]) -> Result<(), String> {
    let x = tensor_operand(info.operand_types, 0)?;
    if !x.elem.is_float() {
        return Err(format!("operand #0 must have a float element type, got {}", x.elem));
    }
    let r = result_tensor(results, 0)?;
    match &r.elem {
        ElemType::Quant(q) => check_quant(q, "result #0", 32)?,
        ElemType::Bin(_) => {}
        other => return Err(format!("result #0 must be a !quant.int or !quant.bin tensor, got {other}")),
    }
    same_dims(x, r, "operand and result")
}

fn eval_quantize(ops: &[Tensor], _: &crate::Attrs, types: &[Type]) -> Result<Vec<Tensor>, String> {
    let x = &ops[0];
    let elem = result_elem(types, 0)?.clone();
    let n = x.data.len();
    let data = match &elem {
        ElemType::Quant(q) => {
            let map = ChannelMap::of_int(q, &x.shape)?;
            let range = range_of(q);
            (0..n).map(|i| quantize_real(float_at(x, i), map.scale(i), map.zp(i), range)).collect()
        }
        ElemType::Bin(_) => (0..n).map(|i| i64::from(float_at(x, i).is_nan() || float_at(x, i) >= 0.0)).collect(),
        other => return Err(format!("cannot quantize to {other}")),
    };
    Ok(vec![Tensor { elem, shape: x.shape.clone(), data: TensorData::Int(data) }])
}

fn float_at(t: &Tensor, i: usize) -> f64 {
    match t.data.get(i) {
        Scalar::Float(x) => x,
        Scalar::Int(v) => v as f64,
    }
}

pub const DEQUANTIZE: OpDef = OpDef {
    name: "quant.dequantize",
    summary: "Quantized integers to reals: (q - zp) * scale",
    description: "The real value of each element, per tensor or per channel: `(q - zp) * scale` \
computed in f64 (`q - zp` is exact) and rounded once to the declared float result type. A \
`!quant.bin` element is `+scale` (bit 1) or `-scale` (bit 0).\n\n\
```\n%1 = quant.dequantize %0 : (tensor<4x!quant.int<w=8, signed, scale=0.5, zp=1>>) -> tensor<4xf32>\n```",
    operands: UNARY,
    results: ONE_RESULT,
    traits: &[Trait::Pure],
    verify_results: Some(check_dequantize),
    eval: Some(eval_dequantize),
    ..OpDef::DEFAULT
};

fn check_dequantize(info: &OpInfo, results: &[&Type]) -> Result<(), String> {
    let x = tensor_operand(info.operand_types, 0)?;
    match &x.elem {
        ElemType::Quant(q) => check_quant(q, "operand #0", 32)?,
        ElemType::Bin(_) => {}
        other => return Err(format!("operand #0 must be a !quant.int or !quant.bin tensor, got {other}")),
    }
    let r = result_tensor(results, 0)?;
    if !r.elem.is_float() {
        return Err(format!("result #0 must have a float element type, got {}", r.elem));
    }
    same_dims(x, r, "operand and result")
}

fn eval_dequantize(ops: &[Tensor], _: &crate::Attrs, types: &[Type]) -> Result<Vec<Tensor>, String> {
    let x = &ops[0];
    let elem = result_elem(types, 0)?.clone();
    let q = super::common::ints(x)?;
    let (map, bin) = match &x.elem {
        ElemType::Quant(qt) => (ChannelMap::of_int(qt, &x.shape)?, false),
        ElemType::Bin(b) => (ChannelMap::of_bin(b, &x.shape)?, true),
        other => return Err(format!("cannot dequantize {other}")),
    };
    let t = Tensor::from_fn(elem, x.shape.clone(), |i| {
        let v = q.get(i).copied().unwrap_or(0);
        let s = map.scale(i);
        Scalar::Float(if bin {
            if v != 0 {
                s
            } else {
                -s
            }
        } else {
            (v - map.zp(i)) as f64 * s
        })
    });
    Ok(vec![t])
}

pub const REQUANTIZE: OpDef = OpDef {
    name: "quant.requantize",
    summary: "Quantized integers to another quantized type, integer-only (multiplier and shift)",
    description: "Changes the scale, zero point and width of a `!quant.int` tensor without \
reals: for the ratio `r = scale_in / scale_out` (per channel when either type is per channel; \
both per channel need the same axis) the fixed-point multiplier is `e = floor(log2 r)`, \
`m = round_half_even(r * 2^(30 - e))` (31 bits), `n = 30 - e`, and \
`q_out = clamp(((q_in - zp_in) * m) >> n rounded + zp_out, qmin, qmax)`, where the product \
is exact in 64 bits and the shift rounds to nearest with ties toward +infinity \
(`floor(v / 2^n + 1/2)`). `r` must lie in `[2^-32, 2^31)` (so `0 <= n <= 62`); the verifier \
checks it. Operand and result have at most 32 bits.\n\n\
```\n%1 = quant.requantize %0 : (tensor<1x64x!quant.int<w=32, signed, scale=1e-4, zp=0>>) -> tensor<1x64x!quant.int<w=8, signed, scale=0.02, zp=0>>\n```",
    operands: UNARY,
    results: ONE_RESULT,
    traits: &[Trait::Pure],
    verify_results: Some(check_requantize),
    eval: Some(eval_requantize),
    ..OpDef::DEFAULT
};

fn check_requantize(info: &OpInfo, results: &[&Type]) -> Result<(), String> {
    let (x, qin) = quant_operand(info.operand_types, 0)?;
    let (r, qout) = quant_result(results, 0)?;
    check_quant(qin, "operand #0", 32)?;
    check_quant(qout, "result #0", 32)?;
    same_dims(x, r, "operand and result")?;
    requantize_multipliers(qin, qout).map(|_| ())
}

/// The multiplier of each channel (one when both types are per tensor).
pub fn requantize_multipliers(qin: &QuantInt, qout: &QuantInt) -> Result<Vec<FixedMultiplier>, String> {
    use crate::types::QuantParams::PerChannel;
    let (sin, sout) = (super::common::scales_of(qin), super::common::scales_of(qout));
    if let (PerChannel { axis: a, .. }, PerChannel { axis: b, .. }) = (&qin.params, &qout.params) {
        if a != b || sin.len() != sout.len() {
            return Err(format!(
                "per-channel operand (axis {a}) and result (axis {b}) must share the axis and channel count"
            ));
        }
    }
    let n = sin.len().max(sout.len());
    (0..n)
        .map(|c| {
            let (a, b) = (pick(sin, c), pick(sout, c));
            FixedMultiplier::new(a / b).map_err(|e| format!("channel {c}: {e} (scale {a:e} to {b:e})"))
        })
        .collect()
}

/// Entry `c` of a per-channel list, or the only entry of a per-tensor one.
fn pick(v: &[f64], c: usize) -> f64 {
    if v.len() == 1 {
        v[0]
    } else {
        v.get(c).copied().unwrap_or(1.0)
    }
}

fn eval_requantize(ops: &[Tensor], _: &crate::Attrs, types: &[Type]) -> Result<Vec<Tensor>, String> {
    let x = &ops[0];
    let (qin, qout) = (quant_of(x)?, result_quant(types, 0)?);
    let mults = requantize_multipliers(qin, qout)?;
    let (min, mout) = (ChannelMap::of_int(qin, &x.shape)?, ChannelMap::of_int(qout, &x.shape)?);
    let (lo, hi) = range_of(qout);
    let per_channel_in = min.is_per_channel();
    let data = super::common::ints(x)?
        .iter()
        .enumerate()
        .map(|(i, &q)| {
            let c = if per_channel_in { min.channel(i) } else { mout.channel(i) };
            let m = mults.get(c).or(mults.first()).copied().unwrap_or(FixedMultiplier { m: 0, shift: 0 });
            m.apply(q.wrapping_sub(min.zp(i))).saturating_add(mout.zp(i)).clamp(lo, hi)
        })
        .collect();
    let elem = ElemType::Quant(Box::new(qout.clone()));
    Ok(vec![Tensor { elem, shape: x.shape.clone(), data: TensorData::Int(data) }])
}

pub const STORAGE_CAST: OpDef = OpDef {
    name: "quant.storage_cast",
    summary: "Reinterprets stored integers as a quantized type, or a quantized type as plain integers",
    description: "Between a `!quant.int` type and the plain integer type of the same width and \
signedness (`!quant.int<w=8, signed, ...>` and `i8`), in either direction: the stored integers \
are unchanged, only their meaning is. Imports of ONNX's integer ops use it where a plain \
integer tensor meets a quantized op.\n\n\
```\n%1 = quant.storage_cast %0 : (tensor<4xi8>) -> tensor<4x!quant.int<w=8, signed, scale=0.1, zp=-3>>\n```",
    operands: UNARY,
    results: ONE_RESULT,
    traits: &[Trait::Pure],
    verify_results: Some(check_storage_cast),
    eval: Some(|ops, _, types| {
        let elem = result_elem(types, 0)?.clone();
        Ok(vec![Tensor { elem, ..ops[0].clone() }])
    }),
    ..OpDef::DEFAULT
};

fn check_storage_cast(info: &OpInfo, results: &[&Type]) -> Result<(), String> {
    let x = tensor_operand(info.operand_types, 0)?;
    let r = result_tensor(results, 0)?;
    let (q, plain) = match (&x.elem, &r.elem) {
        (ElemType::Quant(q), p @ ElemType::Int { .. }) | (p @ ElemType::Int { .. }, ElemType::Quant(q)) => (q, p),
        (a, b) => {
            return Err(format!("casts between a !quant.int type and a plain integer type, got {a} to {b}"));
        }
    };
    check_quant(q, "the quantized type", 32)?;
    let storage = ElemType::Int { width: q.width, signed: q.signed };
    if *plain != storage {
        return Err(format!(
            "the plain type must be {storage} (the width and signedness of {}), got {plain}",
            ElemType::Quant(q.clone())
        ));
    }
    same_dims(x, r, "operand and result")
}
