//! Phase 4 of `fold-qdq`: weight-only quantized exports. `nn.mul(nn.cast(C),
//! s)`, or `nn.mul(nn.sub(nn.cast(C), z), s)`, of an integer constant `C`
//! and constant scale `s` (and zero point `z`), per tensor or per channel
//! along one axis, becomes `quant.dequantize` of `C` typed `!quant.int<s,
//! z>` (per tensor when every channel has the same parameters).
//!
//! Invariant: the rewrite happens only when the parameters form a valid
//! quantized type for `C`'s integers; otherwise the float ops stay.

use super::{constant_value, defined_by, emit, result, tensor_type, valid, Arg, Planned};
use weft_ir::ops::{builtin, quant, Trait};
use weft_ir::tensor::Tensor;
use weft_ir::types::{ElemType, QuantInt, QuantParams};
use weft_ir::{Attribute, DenseAttr, Function, Op, TensorType, Value};

/// `nn.mul(nn.cast(C), s)` or `nn.mul(nn.sub(nn.cast(C), z), s)`
/// with integer constant `C`, constant scale `s` and zero point `z`
/// becomes `quant.dequantize` of `C` typed `!quant.int<s, z>`.
pub fn fold_weight_scale(f: &mut Function, mul: Op) -> bool {
    let Some((c, params)) = weight_only(f, mul) else { return false };
    let Some(ct) = tensor_type(f, c) else { return false };
    let ElemType::Int { width, signed } = ct.elem else { return false };
    let q = QuantInt { width, signed, params };
    if weft_ir::ops::quant::common::check_quant(&q, "weights", 32).is_err() {
        return false;
    }
    let qty = TensorType::new(ct.dims.clone(), ElemType::Quant(Box::new(q)));
    let Some(out) = tensor_type(f, result(f, mul)) else { return false };
    let value = match f.defining_op(c).and_then(|op| f.ops[op].attr("value").cloned()) {
        Some(Attribute::Dense(d)) => Attribute::Dense(DenseAttr { ty: qty.clone(), data: d.data }),
        Some(Attribute::Resource { name, .. }) => Attribute::Resource { name, ty: qty.clone() },
        _ => return false,
    };
    let mut constant = Planned::new(&builtin::CONSTANT, vec![], qty);
    constant.attrs.insert("value".into(), value);
    let steps = vec![constant, Planned::new(&quant::DEQUANTIZE, vec![Arg::Previous], out)];
    if !valid(f, &steps) {
        return false;
    }
    emit(f, mul, steps);
    true
}

/// The integer constant and the quantization parameters of a weight-only
/// scaling, when `mul` is one.
fn weight_only(f: &Function, mul: Op) -> Option<(Value, QuantParams)> {
    let [a, b] = f.ops[mul].operands[..] else { return None };
    let (scaled, scale) = if constant_value(f, b).is_some() { (a, b) } else { (b, a) };
    let scale = floats(&constant_value(f, scale)?);
    let (cast_input, zero) = match defined_by(f, scaled, "nn.sub") {
        Some(sub) => {
            let [x, z] = f.ops[sub].operands[..] else { return None };
            (x, Some(constant_value(f, z)?))
        }
        None => (scaled, None),
    };
    let cast = defined_by(f, cast_input, "nn.cast")?;
    let c = f.ops[cast].operands[0];
    let ct = tensor_type(f, c)?;
    if !ct.elem.is_int() || !f.defining_op(c).is_some_and(|op| f.ops[op].def.has_trait(Trait::ConstantLike)) {
        return None;
    }
    let zps = zero.map(|z| floats(&z)).unwrap_or_else(|| vec![0.0]);
    let (mul_shape, zp_shape) = (constant_shape(f, a, b)?, zero_shape(f, scaled));
    let axis = channel_axis(&ct.dims, &[mul_shape, zp_shape.unwrap_or_default()])?;
    let zps: Vec<i64> = zps.iter().map(|&z| z as i64).collect();
    Some((c, params(scale, zps, axis)?))
}

fn floats(t: &Tensor) -> Vec<f64> {
    (0..t.data.len()).map(|i| weft_ir::ops::eval::as_f64(t.data.get(i))).collect()
}

/// The shape of the constant operand of a binary op.
fn constant_shape(f: &Function, a: Value, b: Value) -> Option<Vec<u64>> {
    let c = if constant_value(f, b).is_some() { b } else { a };
    tensor_type(f, c)?.static_shape()
}

fn zero_shape(f: &Function, scaled: Value) -> Option<Vec<u64>> {
    let sub = defined_by(f, scaled, "nn.sub")?;
    tensor_type(f, f.ops[sub].operands[1])?.static_shape()
}

/// The one axis along which the parameter shapes (broadcasting against
/// `dims` from the right) vary, `None` inside the `Some` for per tensor.
fn channel_axis(dims: &[weft_ir::Dim], shapes: &[Vec<u64>]) -> Option<Option<usize>> {
    let mut axis = None;
    for shape in shapes {
        if shape.len() > dims.len() {
            return None;
        }
        let pad = dims.len() - shape.len();
        for (i, &d) in shape.iter().enumerate() {
            if d == 1 {
                continue;
            }
            if dims[pad + i].fixed() != Some(d) || axis.is_some_and(|a| a != pad + i) {
                return None;
            }
            axis = Some(pad + i);
        }
    }
    Some(axis)
}

/// Per tensor when every channel has the same scale and zero point.
fn params(scales: Vec<f64>, zps: Vec<i64>, axis: Option<usize>) -> Option<QuantParams> {
    let uniform = scales.windows(2).all(|w| w[0] == w[1]) && zps.windows(2).all(|w| w[0] == w[1]);
    match axis.filter(|_| !uniform) {
        None => Some(QuantParams::PerTensor { scale: *scales.first()?, zp: *zps.first()? }),
        Some(a) => {
            let n = scales.len().max(zps.len());
            let stretch = |v: Vec<f64>| if v.len() == 1 { vec![v[0]; n] } else { v };
            let zps = if zps.len() == 1 { vec![zps[0]; n] } else { zps };
            Some(QuantParams::PerChannel { axis: a as u32, scales: stretch(scales), zps })
        }
    }
}
