//! The workload of a function for the performance model: its layers in
//! block order, read off the float nn program (`nn.matmul`, `nn.conv`,
//! `nn.softmax`, `nn.gelu`, `nn.layer_norm`, `nn.add` of two activations)
//! or the quantized one (`quant.qmatmul`, `quant.softmax`/`gelu`/
//! `layer_norm`, `quant.qadd`, and `hw.apply` once nonlinear ops are
//! lowered to nl programs). A product is an FC layer when its right
//! operand is a weight (computed from constants only), an attention layer
//! otherwise.
//!
//! Invariants: only static shapes are modelled; an op of a listed kind
//! whose shapes are not static is an error naming the op, never a panic.
//! Ops the model does not list (reshapes, transposes, casts, requantize,
//! bias additions) are free: the engines' address generators and output
//! stages absorb them (spec/perf.md).

use super::latency::{Layer, LayerKind, NlKind, Workload};
use crate::ops::Trait;
use crate::{Function, Op, Value};

/// How deep [`is_weight`] follows ops back to constants.
const WEIGHT_DEPTH: u32 = 6;

/// True when `v` is computed from constants only (within a few ops).
pub fn is_weight(f: &Function, v: Value) -> bool {
    weight_within(f, v, WEIGHT_DEPTH)
}

fn weight_within(f: &Function, v: Value, depth: u32) -> bool {
    let Some(op) = f.defining_op(v) else { return false };
    let Some(data) = f.ops.get(op) else { return false };
    if data.def.has_trait(Trait::ConstantLike) {
        return true;
    }
    depth > 0 && !data.operands.is_empty() && data.operands.iter().all(|&o| weight_within(f, o, depth - 1))
}

fn shape(f: &Function, v: Value) -> Option<Vec<u64>> {
    f.value_type(v).as_tensor()?.static_shape()
}

/// The layer name: the op's location when it has one, else its name.
fn layer_name(f: &Function, op: Op) -> String {
    let data = &f.ops[op];
    match &data.loc {
        crate::Location::Name(n) => n.clone(),
        crate::Location::Unknown => data.name().to_string(),
        other => other.to_string(),
    }
}

/// The layer `op` is, if the model counts it.
fn layer_of(f: &Function, op: Op) -> Result<Option<LayerKind>, String> {
    let data = &f.ops[op];
    let name = data.name();
    let static_shape = |v: Value| shape(f, v).ok_or_else(|| format!("'{name}' has a dynamic shape"));
    let result_shape = || match data.results.first() {
        Some(&r) => static_shape(r),
        None => Err(format!("'{name}' has no result")),
    };
    let kind = match name {
        "nn.matmul" | "quant.qmatmul" => {
            let (Some(&a), Some(&b), Some(&r)) = (data.operands.first(), data.operands.get(1), data.results.first())
            else {
                return Ok(None);
            };
            let (sa, sr) = (static_shape(a)?, static_shape(r)?);
            let (m, k, n) = match (sa.as_slice(), sr.as_slice()) {
                ([.., m, k], [.., _, n]) => (*m, *k, *n),
                _ => return Err(format!("'{name}' needs operands of rank >= 2")),
            };
            let batch = sr.iter().rev().skip(2).product::<u64>();
            if is_weight(f, b) {
                LayerKind::Fc { batch, m, k, n }
            } else {
                LayerKind::Attn { batch, m, k, n }
            }
        }
        "nn.conv" => {
            let (Some(&w), Some(&r)) = (data.operands.get(1), data.results.first()) else { return Ok(None) };
            let (sw, sr) = (static_shape(w)?, static_shape(r)?);
            // im2col: one row per output pixel, k = C/groups * kernel, n = output channels.
            let (Some(&n), Some(&batch)) = (sw.first(), sr.first()) else { return Ok(None) };
            let k = sw.iter().skip(1).product::<u64>();
            let m = sr.iter().skip(2).product::<u64>();
            LayerKind::Fc { batch, m, k, n }
        }
        "nn.softmax" | "quant.softmax" => nonlinear(NlKind::Softmax, &result_shape()?),
        "nn.gelu" | "quant.gelu" => nonlinear(NlKind::Gelu, &result_shape()?),
        "nn.layer_norm" | "quant.layer_norm" => nonlinear(NlKind::LayerNorm, &result_shape()?),
        "hw.apply" => {
            let kind = match data.attr("mode").and_then(|a| a.as_str()) {
                Some("softmax") => NlKind::Softmax,
                Some("layer_norm") | Some("layernorm") => NlKind::LayerNorm,
                Some("gelu") => NlKind::Gelu,
                _ => NlKind::Eltwise,
            };
            nonlinear(kind, &result_shape()?)
        }
        "nn.add" | "quant.qadd" => {
            let (Some(&a), Some(&b)) = (data.operands.first(), data.operands.get(1)) else { return Ok(None) };
            if is_weight(f, a) || is_weight(f, b) || shape(f, a) != shape(f, b) {
                return Ok(None);
            }
            nonlinear(NlKind::Eltwise, &result_shape()?)
        }
        _ => return Ok(None),
    };
    Ok(Some(kind))
}

/// A nonlinear layer over the last axis of `shape`.
fn nonlinear(kind: NlKind, shape: &[u64]) -> LayerKind {
    let len = shape.last().copied().unwrap_or(1);
    let rows = shape.iter().rev().skip(1).product::<u64>();
    LayerKind::Nonlinear { kind, rows, len }
}

/// The layers of `f`'s body in block order; the error names the op.
pub fn workload(f: &Function) -> Result<Workload, (Op, String)> {
    let mut layers = Vec::new();
    let body = f.blocks.get(f.body).map(|b| b.ops.clone()).unwrap_or_default();
    for op in body {
        if f.ops[op].results.is_empty() && f.ops[op].name() != "hw.apply" {
            continue;
        }
        if let Some(kind) = layer_of(f, op).map_err(|m| (op, m))? {
            layers.push(Layer { name: layer_name(f, op), kind });
        }
    }
    Ok(Workload { layers })
}
