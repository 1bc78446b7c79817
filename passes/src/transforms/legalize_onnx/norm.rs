//! Rules for normalizations and reductions: Softmax, LogSoftmax,
//! LayerNormalization, BatchNormalization (inference), ReduceMean,
//! ReduceSum, ReduceMax.
//!
//! Invariants: axes are written normalized (non-negative, sorted); ONNX's
//! defaults (`axis = -1`, `epsilon = 1e-5` as f32, `keepdims = 1`, "no axes
//! means all axes") are made explicit.

use super::builder::{attrs, axis, ints, Replacement, Rewriter};
use super::LegalizeError;
use weft_ir::ops::nn;
use weft_ir::tensor::Scalar;
use weft_ir::{Attribute, Value};

/// ONNX's default epsilon, 1e-5 as an f32 attribute value.
const DEFAULT_EPSILON: f64 = 1e-5f32 as f64;

fn along_axis(rw: &mut Rewriter, def: &'static weft_ir::OpDef) -> Replacement {
    let x = rw.operand(0)?;
    let a = axis(rw.attr_int("axis", -1), rw.rank(x))?;
    Ok(vec![rw.build(def, &[x], attrs(&[("axis", Attribute::Int(a as i64))]))?])
}

pub fn softmax(rw: &mut Rewriter) -> Replacement {
    along_axis(rw, &nn::SOFTMAX)
}

pub fn log_softmax(rw: &mut Rewriter) -> Replacement {
    along_axis(rw, &nn::LOG_SOFTMAX)
}

/// LayerNormalization: Y is `nn.layer_norm` (a missing bias is a zero
/// splat); the optional Mean and InvStdDev results, when present, are
/// computed beside it as ONNX's function body does, in their stash type.
pub fn layer_norm(rw: &mut Rewriter) -> Replacement {
    let (x, scale) = (rw.operand(0)?, rw.operand(1)?);
    let t = rw.ty(x);
    let a = axis(rw.attr_int("axis", -1), t.rank())?;
    let bias = match rw.optional(2) {
        Some(b) => b,
        None => {
            let shape = rw.shape(scale)?;
            rw.splat(&shape, &t.elem, Scalar::Float(0.0))
        }
    };
    let eps = rw.attr_float("epsilon", DEFAULT_EPSILON);
    let at = attrs(&[("axis", Attribute::Int(a as i64)), ("epsilon", Attribute::Float(eps))]);
    let y = rw.build(&nn::LAYER_NORM, &[x, scale, bias], at)?;
    if rw.num_results() == 1 {
        return Ok(vec![y]);
    }
    let (mean, inv) = layer_norm_statistics(rw, x, a, eps)?;
    Ok([y, mean, inv].into_iter().take(rw.num_results()).collect())
}

/// Mean and 1 / sqrt(variance + epsilon) over the axes from `a`, kept as
/// extent-1 dims, in the type of LayerNormalization's second result.
fn layer_norm_statistics(rw: &mut Rewriter, x: Value, a: usize, eps: f64) -> Result<(Value, Value), LegalizeError> {
    let stash = rw.result_type(1).ok_or_else(|| LegalizeError::internal("no Mean result"))?.elem;
    let rank = rw.rank(x);
    let axes: Vec<i64> = (a as i64..rank as i64).collect();
    let over = || attrs(&[("axes", ints(&axes)), ("keepdims", Attribute::Bool(true))]);
    let xs = rw.cast(x, &stash)?;
    let mean = rw.build(&nn::REDUCE_MEAN, &[xs], over())?;
    let centered = rw.binary(&nn::SUB, xs, mean)?;
    let squared = rw.binary(&nn::MUL, centered, centered)?;
    let var = rw.build(&nn::REDUCE_MEAN, &[squared], over())?;
    let epsilon = rw.scalar(&stash, eps);
    let shifted = rw.binary(&nn::ADD, var, epsilon)?;
    let std = rw.unary(&nn::SQRT, shifted)?;
    Ok((mean, rw.unary(&nn::RECIPROCAL, std)?))
}

/// Inference-mode BatchNormalization as `x * a + b` per channel (dim 1),
/// `a = scale / sqrt(var + epsilon)`, `b = B - mean * a`, built from the
/// parameter operands so that `canonicalize` folds them to constants.
pub fn batch_norm(rw: &mut Rewriter) -> Replacement {
    if rw.attr_int("training_mode", 0) != 0 {
        return Err(LegalizeError::new("in training mode updates running statistics, which nn does not model"));
    }
    let x = rw.operand(0)?;
    let t = rw.ty(x);
    let rank = t.rank();
    let mut params = Vec::with_capacity(4);
    for i in 1..5 {
        let p = rw.operand(i)?;
        let p = rw.cast(p, &t.elem)?;
        let channels = rw.shape(p)?;
        // [C] -> [C, 1, ..., 1] so that it broadcasts along dim 1.
        let target: Vec<u64> = channels.iter().copied().chain(std::iter::repeat_n(1, rank.saturating_sub(2))).collect();
        params.push(if rank >= 2 { rw.reshape(p, &target)? } else { p });
    }
    let (scale, bias, mean, var) = (params[0], params[1], params[2], params[3]);
    let epsilon = rw.attr_float("epsilon", DEFAULT_EPSILON);
    let eps = rw.scalar(&t.elem, epsilon);
    let shifted = rw.binary(&nn::ADD, var, eps)?;
    let std = rw.unary(&nn::SQRT, shifted)?;
    let factor = rw.binary(&nn::DIV, scale, std)?;
    let centered = rw.binary(&nn::MUL, mean, factor)?;
    let offset = rw.binary(&nn::SUB, bias, centered)?;
    let scaled = rw.binary(&nn::MUL, x, factor)?;
    Ok(vec![rw.binary(&nn::ADD, scaled, offset)?])
}

fn reduce(rw: &mut Rewriter, def: &'static weft_ir::OpDef) -> Replacement {
    let x = rw.operand(0)?;
    let rank = rw.rank(x);
    let given = rw.opt_const_ints(1, "axes")?.unwrap_or_default();
    if given.is_empty() && rw.attr_int("noop_with_empty_axes", 0) != 0 {
        return Ok(vec![x]);
    }
    let mut axes: Vec<usize> = if given.is_empty() {
        (0..rank).collect()
    } else {
        given.iter().map(|&a| axis(a, rank)).collect::<Result<_, _>>()?
    };
    axes.sort_unstable();
    axes.dedup();
    let keep = rw.attr_int("keepdims", 1) != 0;
    let a = attrs(&[
        ("axes", ints(&axes.iter().map(|&a| a as i64).collect::<Vec<_>>())),
        ("keepdims", Attribute::Bool(keep)),
    ]);
    Ok(vec![rw.build(def, &[x], a)?])
}

pub fn reduce_mean(rw: &mut Rewriter) -> Replacement {
    reduce(rw, &nn::REDUCE_MEAN)
}

pub fn reduce_sum(rw: &mut Rewriter) -> Replacement {
    reduce(rw, &nn::REDUCE_SUM)
}

pub fn reduce_max(rw: &mut Rewriter) -> Replacement {
    reduce(rw, &nn::REDUCE_MAX)
}
