//! Normalizations of the onnx dialect: `Softmax`, `LogSoftmax`,
//! `LayerNormalization`, `BatchNormalization` (inference and training mode).
//!
//! Invariants: operands are float tensors; statistics are computed in f64;
//! results are rounded to the element type where the ONNX definition has
//! a value of that type (once per element for Softmax and BatchNormalization;
//! at the casts and ops of LayerNormalization's function body), so results
//! may differ from ONNX Runtime in the last ulp.

use super::a_cast::elem_type_from_onnx;
use super::a_common::{arg, flag_attr, float_attr, int_attr, tensor_type, Operands, FLOAT};
use weft_ir::module::Attrs;
use weft_ir::ops::eval::{self, as_f64, round_to};
use weft_ir::ops::{Arity, AttrKind, AttrSpec, OpDef, OpInfo, Trait};
use weft_ir::tensor::{Scalar, Tensor};
use weft_ir::types::{Dim, ElemType, Type};

const INPUT: Arity = Arity::Fixed(&["input"]);

/// ONNX float attributes are f32: the default epsilon is the f32 nearest
/// to 1e-5.
const DEFAULT_EPSILON: f64 = 1e-5f32 as f64;

const AXIS_LAST: AttrSpec = AttrSpec {
    name: "axis",
    kind: AttrKind::Int,
    required: false,
    doc: "the normalized axis, in [-r, r-1]; default -1",
};

/// Declares `Softmax` or `LogSoftmax`.
macro_rules! softmax_op {
    ($konst:ident, $op:literal, $formula:literal, $log:expr) => {
        pub const $konst: OpDef = OpDef {
            name: concat!("onnx.", $op),
            summary: concat!($formula, " along one axis"),
            description: concat!(
                "Float types (ONNX `",
                $op,
                "`, opset 13: one axis, default -1). Computed in f64 after subtracting the \
maximum along the axis, rounded once per element.\n\n```\n%1 = onnx.",
                $op,
                " %0 {axis = -1} : tensor<2x3xf32>\n```"
            ),
            operands: INPUT,
            results: Arity::Fixed(&["output"]),
            attrs: &[AXIS_LAST],
            traits: &[Trait::Pure],
            infer: Some(|info| {
                let x = Operands::new(info, INPUT).typed(0, &FLOAT)?;
                axis_in(int_attr(info.attrs, "axis", -1)?, x.rank(), false)?;
                Ok(vec![Type::Tensor(x.clone())])
            }),
            eval: Some(|ops, attrs, _| softmax(arg(ops, 0)?, attrs, $log)),
            ..OpDef::DEFAULT
        };
    };
}

softmax_op!(SOFTMAX, "Softmax", "exp(x - max) / sum(exp(x - max))", false);
softmax_op!(LOG_SOFTMAX, "LogSoftmax", "x - max - log(sum(exp(x - max)))", true);

/// Resolves `axis` against `rank`: `[-r, r-1]`, or `[-r, r]` when
/// `inclusive`.
fn axis_in(axis: i64, rank: usize, inclusive: bool) -> Result<usize, String> {
    let r = rank as i64;
    let hi = if inclusive { r } else { r - 1 };
    if axis < -r || axis > hi {
        return Err(format!("axis {axis} is out of range for rank {rank} (expected [-{rank}, {hi}])"));
    }
    Ok(if axis < 0 { axis + r } else { axis } as usize)
}

fn softmax(x: &Tensor, attrs: &Attrs, log: bool) -> Result<Vec<Tensor>, String> {
    let axis = axis_in(int_attr(attrs, "axis", -1)?, x.shape.len(), false)?;
    let n = x.shape[axis];
    let inner: u64 = x.shape[axis + 1..].iter().product();
    let mut out: Vec<f64> = (0..x.data.len()).map(|i| as_f64(x.data.get(i))).collect();
    let rows = x.numel().checked_div(n * inner).unwrap_or(0);
    for outer in 0..rows {
        for j in 0..inner {
            let at = |k: u64| (outer * n * inner + k * inner + j) as usize;
            let max = (0..n).map(|k| out[at(k)]).fold(f64::NEG_INFINITY, f64::max);
            let sum: f64 = (0..n).map(|k| (out[at(k)] - max).exp()).sum();
            for k in 0..n {
                let shifted = out[at(k)] - max;
                out[at(k)] = if log { shifted - sum.ln() } else { shifted.exp() / sum };
            }
        }
    }
    Ok(vec![Tensor::from_fn(x.elem.clone(), x.shape.clone(), |i| Scalar::Float(out[i]))])
}

const LN_OPERANDS: Arity = Arity::Fixed(&["X", "Scale", "B"]);

pub const LAYER_NORMALIZATION: OpDef = OpDef {
    name: "onnx.LayerNormalization",
    summary: "Normalizes over the trailing axes from `axis`, then scales and shifts",
    description: "ONNX `LayerNormalization` (opset 17). Operands X, Scale and an optional B, of \
one float type; Scale and B broadcast to X's shape (numpy rules, without changing it). With \
`normalized_axes = [axis, ..., r-1]`: `Mean = mean(X)`, `InvStdDev = 1 / sqrt(mean((X - Mean)^2) \
+ epsilon)`, `Normalized = (X - Mean) * InvStdDev`, `Y = Normalized * Scale + B`. One to three \
results: Y, then the optional Mean and InvStdDev, of X's shape with the normalized axes set to 1 \
and of the element type named by `stash_type` (1 = f32, 16 = bf16; weft also accepts 10 = f16 and \
11 = f64). X is rounded to the stash type, the statistics are computed in f64 and rounded to the \
stash type, Normalized is rounded to the stash type then to X's type (the casts of ONNX's function \
body); the multiply and the add each round to X's type.\n\n\
```\n%y = onnx.LayerNormalization %x, %scale, %bias {axis = -1, epsilon = 1.0e-5} : \
(tensor<2x4xf32>, tensor<4xf32>, tensor<4xf32>) -> tensor<2x4xf32>\n\
%y2:3 = onnx.LayerNormalization %x, %scale : (tensor<2x4xf32>, tensor<4xf32>) -> \
(tensor<2x4xf32>, tensor<2x1xf32>, tensor<2x1xf32>)\n```",
    operands: Arity::Variadic { name: "X, Scale, B?", min: 2 },
    results: Arity::Variadic { name: "Y, Mean?, InvStdDev?", min: 1 },
    attrs: &[
        AttrSpec {
            name: "axis",
            kind: AttrKind::Int,
            required: false,
            doc: "the first normalized axis, in [-r, r]; default -1",
        },
        AttrSpec { name: "epsilon", kind: AttrKind::Float, required: false, doc: "default 1e-5 (as f32)" },
        AttrSpec {
            name: "stash_type",
            kind: AttrKind::Int,
            required: false,
            doc: "ONNX data type of Mean and InvStdDev and of the statistics; default 1 (f32)",
        },
    ],
    traits: &[Trait::Pure],
    infer: Some(infer_layer_norm),
    eval: Some(eval_layer_norm),
    ..OpDef::DEFAULT
};

fn stash_type(attrs: &Attrs) -> Result<ElemType, String> {
    let e =
        elem_type_from_onnx(int_attr(attrs, "stash_type", 1)?).map_err(|e| format!("attribute 'stash_type': {e}"))?;
    if !e.is_float() {
        return Err(format!("attribute 'stash_type' must name a float type, got {e}"));
    }
    Ok(e)
}

/// `small` broadcasts to `target` without changing it (ONNX's
/// unidirectional broadcasting); unknown dims are accepted.
fn check_unidirectional(ops: &Operands, i: usize, target: &[Dim]) -> Result<(), String> {
    let t = ops.tensor(i)?;
    let fits = t.rank() <= target.len()
        && t.dims
            .iter()
            .rev()
            .zip(target.iter().rev())
            .all(|(s, d)| *s == Dim::Fixed(1) || s == d || *s == Dim::Dyn || *d == Dim::Dyn);
    if !fits {
        let shape: Vec<String> = target.iter().map(|d| d.to_string()).collect();
        return Err(format!("{} of type {t} does not broadcast to X's shape [{}]", ops.label(i), shape.join(", ")));
    }
    Ok(())
}

fn infer_layer_norm(info: &OpInfo) -> Result<Vec<Type>, String> {
    let ops = Operands::new(info, LN_OPERANDS);
    if ops.len() > 3 {
        return Err(format!("takes at most 3 operands (X, Scale, B), got {}", ops.len()));
    }
    let x = ops.typed(0, &FLOAT)?;
    for i in 1..ops.len() {
        ops.same_elem(0, i)?;
        check_unidirectional(&ops, i, &x.dims)?;
    }
    let axis = axis_in(int_attr(info.attrs, "axis", -1)?, x.rank(), true)?;
    let stash = stash_type(info.attrs)?;
    float_attr(info.attrs, "epsilon", DEFAULT_EPSILON)?;
    let mut stat_dims = x.dims[..axis].to_vec();
    stat_dims.resize(x.rank(), Dim::Fixed(1));
    let stat = tensor_type(stat_dims, stash);
    Ok(vec![Type::Tensor(x.clone()), stat.clone(), stat])
}

fn eval_layer_norm(ops: &[Tensor], attrs: &Attrs, results: &[Type]) -> Result<Vec<Tensor>, String> {
    let x = arg(ops, 0)?;
    let axis = axis_in(int_attr(attrs, "axis", -1)?, x.shape.len(), true)?;
    let stash = stash_type(attrs)?;
    let eps = round_to(&stash, float_attr(attrs, "epsilon", DEFAULT_EPSILON)?);
    let n: u64 = x.shape[axis..].iter().product();
    let rows: u64 = x.shape[..axis].iter().product();
    let (mut means, mut inv_stds) = (Vec::new(), Vec::new());
    let mut normalized = vec![0.0; x.data.len()];
    for row in 0..rows {
        let at = |k: u64| (row * n + k) as usize;
        let vals: Vec<f64> = (0..n).map(|k| round_to(&stash, as_f64(x.data.get(at(k))))).collect();
        let mean = vals.iter().sum::<f64>() / n as f64;
        let var = vals.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n as f64;
        let inv_std = 1.0 / (var + eps).sqrt();
        for (k, v) in vals.iter().enumerate() {
            normalized[at(k as u64)] = round_to(&stash, (v - mean) * inv_std);
        }
        means.push(round_to(&stash, mean));
        inv_stds.push(round_to(&stash, inv_std));
    }
    let normalized = Tensor::from_fn(x.elem.clone(), x.shape.clone(), |i| Scalar::Float(normalized[i]));
    let mut y = eval::binary(&normalized, arg(ops, 1)?, |a, b| Ok(Scalar::Float(as_f64(a) * as_f64(b))))?;
    if let Some(b) = ops.get(2) {
        y = eval::binary(&y, b, |a, b| Ok(Scalar::Float(as_f64(a) + as_f64(b))))?;
    }
    if y.shape != x.shape {
        return Err(format!("Scale or B changes the shape of X from {:?} to {:?}", x.shape, y.shape));
    }
    let mut stat_shape = x.shape[..axis].to_vec();
    stat_shape.resize(x.shape.len(), 1);
    let stat = |v: &[f64]| Tensor::from_fn(stash.clone(), stat_shape.clone(), |i| Scalar::Float(v[i]));
    let mut out = vec![y, stat(&means), stat(&inv_stds)];
    out.truncate(results.len().clamp(1, 3));
    Ok(out)
}

const BN_OPERANDS: Arity = Arity::Fixed(&["X", "scale", "B", "input_mean", "input_var"]);

/// ONNX's default `momentum`, as the f32 the attribute holds.
const DEFAULT_MOMENTUM: f64 = 0.9f32 as f64;

pub const BATCH_NORMALIZATION: OpDef = OpDef {
    name: "onnx.BatchNormalization",
    summary: "Per-channel normalization, with given statistics or (training mode) the batch's",
    description: "ONNX `BatchNormalization` (opset 15), per channel (dimension 1 of X, which is \
N x C x D1 ... Dn; a 1-D X has one channel). scale and B share a float type, input_mean and \
input_var share one, each 1-D of extent C.\n\n\
With `training_mode = 0` (the default) there is one result, \
`Y = (X - input_mean) / sqrt(input_var + epsilon) * scale + B`. With `training_mode = 1` the \
statistics are the batch's: `mean` and `var` (population variance) of X over every dimension but \
the channel; `Y = (X - mean) / sqrt(var + epsilon) * scale + B`, and the optional results \
running_mean = `input_mean * momentum + mean * (1 - momentum)` and running_var = \
`input_var * momentum + var * (1 - momentum)`, of input_mean's type. Computed in f64, each \
result element rounded once.\n\n\
```\n%y = onnx.BatchNormalization %x, %s, %b, %m, %v {epsilon = 1.0e-5} : (tensor<2x3x4x4xf32>, \
tensor<3xf32>, tensor<3xf32>, tensor<3xf32>, tensor<3xf32>) -> tensor<2x3x4x4xf32>\n\
%t:3 = onnx.BatchNormalization %x, %s, %b, %m, %v {training_mode = 1} : (tensor<2x3x4x4xf32>, \
tensor<3xf32>, tensor<3xf32>, tensor<3xf32>, tensor<3xf32>) -> (tensor<2x3x4x4xf32>, tensor<3xf32>, \
tensor<3xf32>)\n```",
    operands: BN_OPERANDS,
    results: Arity::Variadic { name: "Y, running_mean?, running_var?", min: 1 },
    attrs: &[
        AttrSpec { name: "epsilon", kind: AttrKind::Float, required: false, doc: "default 1e-5 (as f32)" },
        AttrSpec {
            name: "momentum",
            kind: AttrKind::Float,
            required: false,
            doc: "weight of input_mean/input_var in the running statistics (training mode); default 0.9 (as f32)",
        },
        AttrSpec {
            name: "training_mode",
            kind: AttrKind::Int,
            required: false,
            doc: "1: normalize with the batch's statistics and return the running ones; default 0",
        },
    ],
    traits: &[Trait::Pure],
    infer: Some(infer_batch_norm),
    eval: Some(eval_batch_norm),
    ..OpDef::DEFAULT
};

fn infer_batch_norm(info: &OpInfo) -> Result<Vec<Type>, String> {
    let training = flag_attr(info.attrs, "training_mode", false)?;
    let ops = Operands::new(info, BN_OPERANDS);
    let x = ops.typed(0, &FLOAT)?;
    if x.rank() == 0 {
        return Err(format!("{} must have rank >= 1, got {x}", ops.label(0)));
    }
    let channels = x.dims.get(1).cloned().unwrap_or(Dim::Fixed(1));
    for i in 1..5 {
        let p = ops.typed(i, &FLOAT)?;
        let fits = match p.dims.as_slice() {
            [d] => d == &channels || *d == Dim::Dyn || channels == Dim::Dyn,
            _ => false,
        };
        if !fits {
            return Err(format!("{} must be 1-D with {channels} elements (the channels of X), got {p}", ops.label(i)));
        }
    }
    ops.same_elem(1, 2)?;
    ops.same_elem(3, 4)?;
    float_attr(info.attrs, "epsilon", DEFAULT_EPSILON)?;
    float_attr(info.attrs, "momentum", DEFAULT_MOMENTUM)?;
    let mut results = vec![Type::Tensor(x.clone())];
    if training {
        let stat = tensor_type(vec![channels], ops.tensor(3)?.elem.clone());
        results.extend([stat.clone(), stat]);
    }
    Ok(results)
}

/// Per-channel mean and population variance of `x` (channel = dim 1).
fn batch_statistics(x: &Tensor, channels: u64, inner: u64) -> (Vec<f64>, Vec<f64>) {
    let count = x.numel().checked_div(channels).unwrap_or(0);
    let channel_of = |i: usize| (i as u64 / inner.max(1)) % channels.max(1);
    let mut sums = vec![0.0; channels as usize];
    for i in 0..x.data.len() {
        sums[channel_of(i) as usize] += as_f64(x.data.get(i));
    }
    let means: Vec<f64> = sums.iter().map(|s| s / count as f64).collect();
    let mut squares = vec![0.0; channels as usize];
    for i in 0..x.data.len() {
        let c = channel_of(i) as usize;
        let d = as_f64(x.data.get(i)) - means[c];
        squares[c] += d * d;
    }
    let vars = squares.iter().map(|s| s / count as f64).collect();
    (means, vars)
}

fn eval_batch_norm(ops: &[Tensor], attrs: &Attrs, results: &[Type]) -> Result<Vec<Tensor>, String> {
    let training = flag_attr(attrs, "training_mode", false)?;
    let x = arg(ops, 0)?;
    let eps = float_attr(attrs, "epsilon", DEFAULT_EPSILON)?;
    let channels = x.shape.get(1).copied().unwrap_or(1);
    let inner: u64 = x.shape.iter().skip(2).product();
    let mut params = Vec::with_capacity(4);
    for i in 1..5 {
        let p = arg(ops, i)?;
        let values: Vec<f64> = (0..p.data.len()).map(|k| as_f64(p.data.get(k))).collect();
        if values.len() as u64 != channels {
            return Err(format!("operand #{i} has {} elements but X has {channels} channels", values.len()));
        }
        params.push(values);
    }
    let (scale, bias, input_mean, input_var) = (&params[0], &params[1], &params[2], &params[3]);
    let (mean, var) =
        if training { batch_statistics(x, channels, inner) } else { (input_mean.clone(), input_var.clone()) };
    let y = Tensor::from_fn(x.elem.clone(), x.shape.clone(), |i| {
        let c = ((i as u64 / inner.max(1)) % channels.max(1)) as usize;
        Scalar::Float((as_f64(x.data.get(i)) - mean[c]) / (var[c] + eps).sqrt() * scale[c] + bias[c])
    });
    let mut out = vec![y];
    if training && results.len() > 1 {
        let momentum = float_attr(attrs, "momentum", DEFAULT_MOMENTUM)?;
        let elem = arg(ops, 3)?.elem.clone();
        let running = |given: &[f64], batch: &[f64]| {
            Tensor::from_fn(elem.clone(), vec![channels], |c| {
                Scalar::Float(given[c] * momentum + batch[c] * (1.0 - momentum))
            })
        };
        out.push(running(input_mean, &mean));
        out.push(running(input_var, &var));
        out.truncate(results.len());
    }
    Ok(out)
}

#[cfg(test)]
#[path = "a_tests/norm.rs"]
mod tests;
