//! ONNX linear quantization: `QuantizeLinear`, `DequantizeLinear`,
//! `DynamicQuantizeLinear`, per tensor, per axis or per block.
//!
//! Invariants: quantization divides in the precision the ONNX reference
//! uses (f32 for f32/f16/bf16 operands, the division's result rounded to
//! the input type; f64 otherwise), rounds half to even, adds the zero
//! point and saturates to the output type's range (NaN goes to the
//! minimum, as the reference does on x86). Dequantization computes
//! `(f32(x) - f32(zp)) * scale` in f32 (f64 for an f64 scale) and rounds
//! to the scale's type. Only integer quantized types are supported (no
//! float8).

use super::util_b::{attr_int, axis_in, float_operand, floats, ints, operand, tensor_type, unflatten, U8};
use half::{bf16, f16};
use weft_ir::ops::{Arity, AttrKind, AttrSpec, OpDef, OpInfo, Trait};
use weft_ir::tensor::{Scalar, Tensor, TensorData};
use weft_ir::types::{Dim, ElemType, TensorType, Type};
use weft_ir::Attrs;

pub const QUANTIZE_LINEAR: OpDef = OpDef {
    name: "onnx.QuantizeLinear",
    summary: "saturate(round(x / y_scale) + y_zero_point) to an integer type",
    description: "The scale and zero point are scalars or of shape [1] (per tensor), 1-D along `axis` (per axis), \
or with `block_size > 0` of x's rank with `ceil(d / block_size)` entries along `axis` (per \
block). `x / y_scale` is computed in f32 for f32/f16/bf16 operands (the quotient rounded to x's \
type) and in f64 otherwise, rounded half to even, offset by the zero point and saturated. The \
result type is the zero point's, else `output_dtype` (ONNX type code: 2 u8, 3 i8, 4 u16, 5 i16, \
21 u4, 22 i4), else u8. float8 results are not supported; `saturate` only concerns float8 and is \
accepted and ignored.\n\n\
```\n%3 = onnx.QuantizeLinear %0, %1, %2 : (tensor<1x128xf32>, tensor<f32>, tensor<i8>) -> tensor<1x128xi8>\n```",
    operands: Arity::Variadic { name: "x, y_scale, y_zero_point", min: 2 },
    results: Arity::Fixed(&["y"]),
    attrs: &[
        AttrSpec { name: "axis", kind: AttrKind::Int, required: false, doc: "the per-axis/block axis (default 1)" },
        AttrSpec { name: "block_size", kind: AttrKind::Int, required: false, doc: "> 0: per-block (default 0)" },
        AttrSpec {
            name: "output_dtype",
            kind: AttrKind::Int,
            required: false,
            doc: "ONNX type code of the result when there is no zero point (default u8)",
        },
        AttrSpec { name: "saturate", kind: AttrKind::Int, required: false, doc: "float8 only; ignored (default 1)" },
    ],
    traits: &[Trait::Pure],
    infer: Some(infer_quantize),
    eval: Some(eval_quantize),
    ..OpDef::DEFAULT
};

pub const DEQUANTIZE_LINEAR: OpDef = OpDef {
    name: "onnx.DequantizeLinear",
    summary: "(x - x_zero_point) * x_scale, to the scale's float type",
    description: "Scale and zero point are per tensor, per axis or per block as for \
`onnx.QuantizeLinear` (a per-tensor scale and zero point may each be a scalar or of shape [1]). The difference is taken in f32, multiplied by the scale in f32 (f64 for \
an f64 scale) and rounded to the scale's type.\n\n\
```\n%3 = onnx.DequantizeLinear %0, %1, %2 {axis = 0} : (tensor<768x768xi8>, tensor<768xf32>, tensor<768xi8>) -> tensor<768x768xf32>\n```",
    operands: Arity::Variadic { name: "x, x_scale, x_zero_point", min: 2 },
    results: Arity::Fixed(&["y"]),
    attrs: &[
        AttrSpec { name: "axis", kind: AttrKind::Int, required: false, doc: "the per-axis/block axis (default 1)" },
        AttrSpec { name: "block_size", kind: AttrKind::Int, required: false, doc: "> 0: per-block (default 0)" },
    ],
    traits: &[Trait::Pure],
    infer: Some(infer_dequantize),
    eval: Some(eval_dequantize),
    ..OpDef::DEFAULT
};

pub const DYNAMIC_QUANTIZE_LINEAR: OpDef = OpDef {
    name: "onnx.DynamicQuantizeLinear",
    summary: "Quantizes f32 to u8 with a scale and zero point computed from the data",
    description: "In f32: `lo = min(0, min(x))`, `hi = max(0, max(x))`, `y_scale = (hi - lo) / \
255` (1 when all of x is 0), `y_zero_point = round(clamp(-lo / y_scale, 0, 255))` and `y = \
clamp(round(x / y_scale) + y_zero_point, 0, 255)`, rounding half to even. An empty `x` gives scale \
1 and zero point 0.\n\n\
```\n%1, %2, %3 = onnx.DynamicQuantizeLinear %0 : (tensor<1x128xf32>) -> (tensor<1x128xu8>, tensor<f32>, tensor<u8>)\n```",
    operands: Arity::Fixed(&["x"]),
    results: Arity::Fixed(&["y", "y_scale", "y_zero_point"]),
    traits: &[Trait::Pure],
    infer: Some(|info| {
        let x = float_operand(info, 0)?;
        if x.elem != ElemType::F32 {
            return Err(format!("'x' must be f32, got {}", x.elem));
        }
        Ok(vec![tensor_type(x.dims.clone(), U8), tensor_type(vec![], ElemType::F32), tensor_type(vec![], U8)])
    }),
    eval: Some(eval_dynamic_quantize),
    ..OpDef::DEFAULT
};

/// The integer types a quantized value may have.
fn is_quant_int(e: &ElemType) -> bool {
    matches!(e, ElemType::Int { width: 4 | 8 | 16, .. })
}

/// The saturation range of an integer type.
pub fn int_range(e: &ElemType) -> (i64, i64) {
    match *e {
        ElemType::Int { width, signed: true } if width < 64 => (-(1i64 << (width - 1)), (1i64 << (width - 1)) - 1),
        ElemType::Int { width, signed: false } if width < 64 => (0, (1i64 << width) - 1),
        ElemType::Int { signed: false, .. } => (0, i64::MAX),
        _ => (i64::MIN, i64::MAX),
    }
}

/// The element type of an ONNX `TensorProto.DataType` code usable as a
/// quantized result.
fn quant_type_of_code(code: i64) -> Result<ElemType, String> {
    let (width, signed) = match code {
        2 => (8, false),
        3 => (8, true),
        4 => (16, false),
        5 => (16, true),
        21 => (4, false),
        22 => (4, true),
        17..=20 | 23 => {
            return Err(format!("'output_dtype' {code} is a float8/float4 type, which weft does not support"))
        }
        _ => return Err(format!("'output_dtype' {code} is not a quantized integer type (2, 3, 4, 5, 21 or 22)")),
    };
    Ok(ElemType::Int { width, signed })
}

/// How scale and zero point map onto x's elements.
#[derive(Debug, Clone, PartialEq)]
enum Granularity {
    Tensor,
    Axis(usize),
    Block { axis: usize, block: u64 },
}

/// Classifies a scale of `scale_dims` against x's dims.
fn granularity(x: &[Dim], scale_dims: &[Dim], attrs: &Attrs) -> Result<Granularity, String> {
    let block = attr_int(attrs, "block_size", 0)?;
    let one = scale_dims.iter().all(|d| *d == Dim::Fixed(1));
    if block < 0 {
        return Err(format!("'block_size' must be >= 0, got {block}"));
    }
    if scale_dims.is_empty() || (scale_dims.len() == 1 && one) {
        return Ok(Granularity::Tensor);
    }
    let axis = axis_in(attr_int(attrs, "axis", 1)?, x.len(), "'axis'")?;
    if block == 0 {
        if scale_dims.len() != 1 {
            return Err(format!("a per-axis scale must be 1-D, got rank {}", scale_dims.len()));
        }
        return match (&scale_dims[0], &x[axis]) {
            (Dim::Fixed(s), Dim::Fixed(d)) if s != d => {
                Err(format!("the scale has {s} entries but x's axis {axis} has extent {d}"))
            }
            _ => Ok(Granularity::Axis(axis)),
        };
    }
    let block = block as u64;
    if scale_dims.len() != x.len() {
        return Err(format!("a per-block scale must have x's rank {}, got {}", x.len(), scale_dims.len()));
    }
    for (i, (s, d)) in scale_dims.iter().zip(x).enumerate() {
        let want = if i == axis { d.fixed().map(|d| d.div_ceil(block)) } else { d.fixed() };
        if let (Some(s), Some(w)) = (s.fixed(), want) {
            if s != w {
                return Err(format!("the per-block scale has extent {s} in dim {i}, expected {w}"));
            }
        }
    }
    Ok(Granularity::Block { axis, block })
}

/// For each element of x (of static `shape`), the index of its scale and
/// zero point.
fn param_indices(g: &Granularity, shape: &[u64], scale_shape: &[u64]) -> Vec<usize> {
    let n: u64 = shape.iter().product();
    let mut idx = vec![0u64; shape.len()];
    let scale_strides = Tensor::strides(scale_shape);
    (0..n as usize)
        .map(|flat| match *g {
            Granularity::Tensor => 0,
            Granularity::Axis(axis) => {
                unflatten(flat, shape, &mut idx);
                idx[axis] as usize
            }
            Granularity::Block { axis, block } => {
                unflatten(flat, shape, &mut idx);
                idx[axis] /= block;
                idx.iter().zip(&scale_strides).map(|(i, s)| i * s).sum::<u64>() as usize
            }
        })
        .collect()
}

/// A per-tensor scale or zero point: a scalar or a 1-D tensor of one
/// element. ONNX asks scale and zero point to have the same shape, but its
/// reference implementation and onnxruntime accept either form for each
/// (onnx's int4 test cases pair a scalar scale with a `[1]` zero point).
fn one_entry(dims: &[Dim]) -> bool {
    matches!(dims, [] | [Dim::Fixed(1)])
}

/// Checks x, scale and zero point types shared by (De)QuantizeLinear;
/// returns the zero point's type if present.
fn check_quant_operands<'a>(info: &OpInfo<'a>) -> Result<Option<&'a TensorType>, String> {
    super::util_b::check_max_operands(info, 3)?;
    let (x, scale) = (operand(info, 0)?, float_operand(info, 1)?);
    granularity(&x.dims, &scale.dims, info.attrs)?;
    let zp = super::util_b::optional_operand(info, 2)?;
    if let Some(zp) = zp {
        let both_per_tensor = one_entry(&zp.dims) && one_entry(&scale.dims);
        if zp.dims != scale.dims && zp.static_shape() != scale.static_shape() && !both_per_tensor {
            return Err(format!("the zero point {zp} must have the scale's shape {}", scale));
        }
    }
    Ok(zp)
}

fn infer_quantize(info: &OpInfo) -> Result<Vec<Type>, String> {
    let zp = check_quant_operands(info)?;
    let x = operand(info, 0)?;
    if !x.elem.is_float() && x.elem != ElemType::I32 {
        return Err(format!("'x' must be a float or i32, got {}", x.elem));
    }
    let elem = quantize_result_type(zp.map(|t| &t.elem), info.attrs)?;
    Ok(vec![tensor_type(x.dims.clone(), elem)])
}

/// QuantizeLinear's result type: the zero point's, else `output_dtype`, else u8.
fn quantize_result_type(zp: Option<&ElemType>, attrs: &Attrs) -> Result<ElemType, String> {
    let code = attr_int(attrs, "output_dtype", 0)?;
    let from_code = if code == 0 { None } else { Some(quant_type_of_code(code)?) };
    let elem = match (zp, from_code) {
        (Some(z), Some(c)) if *z != c => {
            return Err(format!("'output_dtype' says {c} but the zero point is {z}"));
        }
        (Some(z), _) => z.clone(),
        (None, Some(c)) => c,
        (None, None) => U8,
    };
    if !is_quant_int(&elem) {
        return Err(format!("the quantized type must be u8, i8, u16, i16, u4 or i4, got {elem}"));
    }
    Ok(elem)
}

/// True for the element types whose quotient the reference takes in f32.
fn f32_family(e: &ElemType) -> bool {
    matches!(e, ElemType::F32 | ElemType::F16 | ElemType::BF16)
}

/// `x / scale` in the reference's precision (see the module doc).
fn quotient(x: f64, scale: f64, x_elem: &ElemType, scale_elem: &ElemType) -> f64 {
    if !(f32_family(x_elem) && f32_family(scale_elem)) {
        return x / scale;
    }
    let q = x as f32 / scale as f32;
    match x_elem {
        ElemType::F16 => f16::from_f32(q).to_f64(),
        ElemType::BF16 => bf16::from_f32(q).to_f64(),
        _ => q as f64,
    }
}

/// Rounds half to even, adds the zero point and saturates to `[lo, hi]`.
pub fn saturate_round(v: f64, zp: i64, (lo, hi): (i64, i64)) -> i64 {
    if v.is_nan() {
        return lo;
    }
    let r = v.round_ties_even() + zp as f64;
    r.clamp(lo as f64, hi as f64) as i64
}

/// Scales and zero points resolved against a concrete x.
struct QuantParams {
    /// For each element of x, the index of its scale and zero point.
    at: Vec<usize>,
    scales: Vec<f64>,
    /// The zero points (0s when absent).
    zps: Vec<i64>,
}

fn quant_params(x: &Tensor, scale: &Tensor, zp: Option<&Tensor>, attrs: &Attrs) -> Result<QuantParams, String> {
    let g = granularity(&super::util_b::fixed_dims(&x.shape), &super::util_b::fixed_dims(&scale.shape), attrs)?;
    let scales = floats(scale);
    let zps = match zp {
        Some(z) if z.shape != scale.shape && !(z.numel() == 1 && z.shape.len() <= 1 && scale.shape.len() <= 1) => {
            return Err("the zero point must have the scale's shape".into())
        }
        Some(z) => ints(z, "the zero point")?,
        None => vec![0; scales.len()],
    };
    Ok(QuantParams { at: param_indices(&g, &x.shape, &scale.shape), scales, zps })
}

fn eval_quantize(ops: &[Tensor], attrs: &Attrs, _: &[Type]) -> Result<Vec<Tensor>, String> {
    let (x, scale, zp) = (&ops[0], &ops[1], ops.get(2));
    let elem = quantize_result_type(zp.map(|z| &z.elem), attrs)?;
    let range = int_range(&elem);
    let qp = quant_params(x, scale, zp, attrs)?;
    let xs = floats(x);
    let mut out = Vec::with_capacity(xs.len());
    for (v, &p) in xs.iter().zip(&qp.at) {
        let q = quotient(*v, qp.scales[p], &x.elem, &scale.elem);
        out.push(saturate_round(q, qp.zps[p], range));
    }
    Ok(vec![Tensor { elem, shape: x.shape.clone(), data: TensorData::Int(out) }])
}

fn infer_dequantize(info: &OpInfo) -> Result<Vec<Type>, String> {
    let zp = check_quant_operands(info)?;
    let x = operand(info, 0)?;
    if !x.elem.is_int() {
        return Err(format!("'x' must have an integer type, got {}", x.elem));
    }
    if let Some(zp) = zp {
        if zp.elem != x.elem {
            return Err(format!("the zero point has type {} but x has {}", zp.elem, x.elem));
        }
    }
    Ok(vec![tensor_type(x.dims.clone(), operand(info, 1)?.elem.clone())])
}

fn eval_dequantize(ops: &[Tensor], attrs: &Attrs, _: &[Type]) -> Result<Vec<Tensor>, String> {
    let (x, scale, zp) = (&ops[0], &ops[1], ops.get(2));
    let qp = quant_params(x, scale, zp, attrs)?;
    let xs = ints(x, "'x'")?;
    let wide = scale.elem == ElemType::F64;
    let values = xs.iter().zip(&qp.at).map(|(&q, &p)| {
        if wide {
            Scalar::Float((q as f64 - qp.zps[p] as f64) * qp.scales[p])
        } else {
            let diff = q as f32 - qp.zps[p] as f32;
            Scalar::Float((diff * qp.scales[p] as f32) as f64)
        }
    });
    Ok(vec![super::util_b::build(&scale.elem, x.shape.clone(), values)])
}

fn eval_dynamic_quantize(ops: &[Tensor], _: &Attrs, _: &[Type]) -> Result<Vec<Tensor>, String> {
    let x = &ops[0];
    let xs: Vec<f32> = floats(x).iter().map(|&v| v as f32).collect();
    let hi = xs.iter().copied().fold(0f32, f32::max);
    let lo = xs.iter().copied().fold(0f32, f32::min);
    let scale = if hi == lo { 1.0 } else { (hi - lo) / 255.0 };
    let zp = (0.0 - lo / scale).clamp(0.0, 255.0).round_ties_even() as i64;
    let y = xs.iter().map(|&v| saturate_round((v / scale) as f64, zp, (0, 255))).collect();
    let scalar = |elem: ElemType, data: TensorData| Tensor { elem, shape: vec![], data };
    Ok(vec![
        Tensor { elem: U8, shape: x.shape.clone(), data: TensorData::Int(y) },
        scalar(ElemType::F32, TensorData::F32(vec![scale])),
        scalar(U8, TensorData::Int(vec![zp])),
    ])
}

#[cfg(test)]
mod tests;
