//! Normalizations of the nn dialect: `softmax`, `log_softmax` (along one
//! axis) and `layer_norm` (over the trailing axes from `axis`).
//!
//! Invariants: float element types only; everything is computed in f64
//! from the operand values and rounded once per result element, except the
//! exponentials of f32 softmax and log-softmax, which are weft's f32
//! `exp` of the exact difference `x - max` ([`math::exp_diff`]), so that
//! the JIT computes them on f32 lanes with the same bits.

use super::arith::ONE_RESULT;
use super::common::{float_attr, float_operand, int_attr, one, same_elem};
use super::unary::UNARY;
use crate::module::Attrs;
use crate::ops::eval::{self, as_f64};
use crate::ops::math;
use crate::ops::shape::{broadcast_shapes, normalize_axis};
use crate::ops::{Arity, AttrKind, AttrSpec, OpDef, OpInfo, Trait};
use crate::tensor::{Scalar, Tensor, TensorData};
use crate::types::{ElemType, Type};

const AXIS: AttrSpec = AttrSpec {
    name: "axis",
    kind: AttrKind::Int,
    required: true,
    doc: "the reduced axis; negative counts from the end",
};

fn infer_along_axis(info: &OpInfo) -> Result<Vec<Type>, String> {
    let t = float_operand(info, 0)?;
    normalize_axis(int_attr(info.attrs, "axis")?, t.rank())?;
    Ok(vec![Type::Tensor(t.clone())])
}

pub const SOFTMAX: OpDef = OpDef {
    name: "nn.softmax",
    summary: "exp(x - max) / sum(exp(x - max)) along an axis",
    description: "The maximum and the sum are taken along `axis`. f32: `e_k = exp(x_k - max)` \
with weft's f32 `exp` of the exact difference (spec/numerics.md), the sum of the `e_k` in f64 as \
four interleaved partial sums (`s_j` adds the `e_k` with `k mod 4 = j` in order, from -0.0; the \
sum is `(s_0 + s_1) + (s_2 + s_3)`), and `y_k = e_k / f32(sum)` in f32. f64, f16, bf16: computed \
in f64 (the sum in order) and rounded once per element.\n\n\
```\n%1 = nn.softmax %0 {axis = -1} : tensor<1x4xf32>\n```",
    operands: UNARY,
    results: ONE_RESULT,
    attrs: &[AXIS],
    traits: &[Trait::Pure],
    infer: Some(infer_along_axis),
    eval: Some(|ops, attrs, _| along_axis(&ops[0], attrs, false)),
    ..OpDef::DEFAULT
};

pub const LOG_SOFTMAX: OpDef = OpDef {
    name: "nn.log_softmax",
    summary: "x - max - log(sum(exp(x - max))) along an axis",
    description: "The logarithm of `nn.softmax`, computed without forming the quotient: \
`y_k = (x_k - max) - log(sum)` in f64, rounded once per element, where the sum of exponentials is \
that of `nn.softmax` (on f32, of weft's f32 `exp`).\n\n\
```\n%1 = nn.log_softmax %0 {axis = 1} : tensor<2x10xf32>\n```",
    operands: UNARY,
    results: ONE_RESULT,
    attrs: &[AXIS],
    traits: &[Trait::Pure],
    infer: Some(infer_along_axis),
    eval: Some(|ops, attrs, _| along_axis(&ops[0], attrs, true)),
    ..OpDef::DEFAULT
};

/// Softmax or log-softmax of every lane along the axis.
fn along_axis(a: &Tensor, attrs: &Attrs, log: bool) -> Result<Vec<Tensor>, String> {
    let axis = normalize_axis(int_attr(attrs, "axis")?, a.shape.len())?;
    let n = a.shape.get(axis).copied().unwrap_or(1) as usize;
    let inner = a.shape.iter().skip(axis + 1).product::<u64>() as usize;
    let lanes = (a.numel() as usize).checked_div(n).unwrap_or(0);
    // The flat positions of lane `lane`'s elements.
    let positions = |lane: usize| {
        let (outer, j) = (lane / inner.max(1), lane % inner.max(1));
        (0..n).map(move |k| outer * n * inner + k * inner + j)
    };
    if let TensorData::F32(x) = &a.data {
        let mut y = x.clone();
        for lane in 0..lanes {
            let at: Vec<usize> = positions(lane).collect();
            softmax_f32_lane(x, &mut y, &at, log);
        }
        return Ok(vec![Tensor { elem: a.elem.clone(), shape: a.shape.clone(), data: TensorData::F32(y) }]);
    }
    let mut v: Vec<f64> = (0..a.numel() as usize).map(|i| as_f64(a.data.get(i))).collect();
    for lane in 0..lanes {
        let at: Vec<usize> = positions(lane).collect();
        let max = at.iter().map(|&i| v[i]).fold(f64::NEG_INFINITY, f64::max);
        let sum: f64 = at.iter().map(|&i| (v[i] - max).exp()).sum();
        for &i in &at {
            let shifted = v[i] - max;
            v[i] = if log { shifted - sum.ln() } else { shifted.exp() / sum };
        }
    }
    Ok(vec![Tensor::from_fn(a.elem.clone(), a.shape.clone(), |i| Scalar::Float(v[i]))])
}

/// One f32 lane (the elements of `x` at `at`) into `y`: the max, the f32
/// exponentials of the exact shifts, their f64 sum in four interleaved
/// partial sums ([`math::sum4`]), then the f32 quotients (or the f64
/// log-softmax, rounded once).
fn softmax_f32_lane(x: &[f32], y: &mut [f32], at: &[usize], log: bool) {
    let max = at.iter().map(|&i| x[i]).fold(f32::NEG_INFINITY, f32::max);
    let e: Vec<f32> = at.iter().map(|&i| math::exp_diff(x[i], max)).collect();
    let sum = math::sum4(e.iter().map(|&v| f64::from(v)));
    for (k, &i) in at.iter().enumerate() {
        y[i] = if log { ((f64::from(x[i]) - f64::from(max)) - sum.ln()) as f32 } else { e[k] / sum as f32 };
    }
}

const LAYER_NORM_OPERANDS: Arity = Arity::Fixed(&["input", "scale", "bias"]);

pub const LAYER_NORM: OpDef = OpDef {
    name: "nn.layer_norm",
    summary: "Normalizes over the trailing axes from `axis`, then scales and shifts",
    description: "Over the normalized axes `[axis, r)` of each lane: `mean = mean(x)`, \
`var = mean((x - mean)^2)`, `y = (x - mean) / sqrt(var + epsilon) * scale + bias`, computed in f64 \
and rounded once (as `((x - mean) * (1 / sqrt(var + epsilon))) * scale + bias`). The sums of the \
means are in order, except on f32, where they are four interleaved partial sums as in \
`nn.softmax`. `scale` and `bias` have the input's float element type and broadcast to the \
input's shape without changing it (numpy rules; usually the shape of the normalized dims).\n\n\
```\n%3 = nn.layer_norm %0, %1, %2 {axis = -1, epsilon = 1.0e-12} : (tensor<1x128x768xf32>, tensor<768xf32>, tensor<768xf32>) -> tensor<1x128x768xf32>\n```",
    operands: LAYER_NORM_OPERANDS,
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
    infer: Some(infer_layer_norm),
    eval: Some(eval_layer_norm),
    ..OpDef::DEFAULT
};

fn infer_layer_norm(info: &OpInfo) -> Result<Vec<Type>, String> {
    let x = float_operand(info, 0)?;
    normalize_axis(int_attr(info.attrs, "axis")?, x.rank())?;
    let eps = float_attr(info.attrs, "epsilon", 0.0)?;
    if eps.is_nan() || eps < 0.0 {
        return Err(format!("'epsilon' must be >= 0, got {eps}"));
    }
    for i in [1, 2] {
        let p = float_operand(info, i)?;
        same_elem(x, p)?;
        if broadcast_shapes(&x.dims, &p.dims)? != x.dims {
            return Err(format!("operand #{i} of type {p} does not broadcast to the input's shape {x}"));
        }
    }
    Ok(one(x.dims.clone(), x.elem.clone()))
}

fn eval_layer_norm(ops: &[Tensor], attrs: &Attrs, _: &[Type]) -> Result<Vec<Tensor>, String> {
    let x = &ops[0];
    let axis = normalize_axis(int_attr(attrs, "axis")?, x.shape.len())?;
    let eps = float_attr(attrs, "epsilon", 0.0)?;
    let inner: u64 = x.shape.iter().skip(axis).product();
    let mut v: Vec<f64> = (0..x.numel() as usize).map(|i| as_f64(x.data.get(i))).collect();
    // f32 sums in four interleaved partial sums (SIMD lanes), others in order.
    let sum: fn(&mut dyn Iterator<Item = f64>) -> f64 =
        if x.elem == ElemType::F32 { |it| math::sum4(it) } else { |it| it.sum() };
    if inner > 0 {
        for lane in v.chunks_mut(inner as usize) {
            let mean = sum(&mut lane.iter().copied()) / inner as f64;
            let var = sum(&mut lane.iter().map(|a| (a - mean) * (a - mean))) / inner as f64;
            let inv = 1.0 / (var + eps).sqrt();
            lane.iter_mut().for_each(|a| *a = (*a - mean) * inv);
        }
    }
    let normalized = Tensor { elem: ElemType::F64, shape: x.shape.clone(), data: TensorData::F64(v) };
    let y = eval::broadcast_map(&[&normalized, &ops[1], &ops[2]], &x.elem, |s| {
        Ok(Scalar::Float(as_f64(s[0]) * as_f64(s[1]) + as_f64(s[2])))
    })?;
    Ok(vec![y])
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;
    use crate::attr::Attribute;

    #[test]
    fn softmax_and_log_softmax() {
        let a = attrs(&[("axis", Attribute::Int(-1))]);
        let out = run(&SOFTMAX, &[f32s(&[2, 2], &[0., 0., 1000., 0.])], &a);
        assert_eq!(out, f32s(&[2, 2], &[0.5, 0.5, 1.0, 0.0]));
        let first = attrs(&[("axis", Attribute::Int(0))]);
        let out = values(&run(&LOG_SOFTMAX, &[f32s(&[2, 1], &[1., 1.])], &first));
        assert_close(&out, &[-std::f64::consts::LN_2; 2], 1e-7);
    }

    #[test]
    fn layer_norm_normalizes_lanes() {
        let a = attrs(&[("axis", Attribute::Int(1)), ("epsilon", Attribute::Float(0.0))]);
        let x = f32s(&[2, 2], &[1., 3., 5., 5.]);
        let y = run(&LAYER_NORM, &[x.clone(), f32s(&[2], &[2., 1.]), f32s(&[], &[10.])], &a);
        // Lane 2 has zero variance: 0 / 0 is NaN with epsilon 0.
        let v = values(&y);
        assert_eq!(&v[..2], &[8., 11.]);
        assert!(v[2].is_nan());
        let eps = attrs(&[("axis", Attribute::Int(1)), ("epsilon", Attribute::Float(1.0))]);
        let y = values(&run(&LAYER_NORM, &[x, f32s(&[2], &[1., 1.]), f32s(&[2], &[0., 0.])], &eps));
        assert_close(&y, &[-(0.5f64.sqrt()), 0.5f64.sqrt(), 0., 0.], 1e-7);
    }

    #[test]
    fn layer_norm_parameters_must_not_widen_the_input() {
        let a = attrs(&[("axis", Attribute::Int(-1)), ("epsilon", Attribute::Float(1e-5))]);
        let e = infer(&LAYER_NORM, &[f32_type(&[4]), f32_type(&[2, 4]), f32_type(&[4])], &a).unwrap_err();
        assert_eq!(e, "operand #1 of type tensor<2x4xf32> does not broadcast to the input's shape tensor<4xf32>");
    }
}
