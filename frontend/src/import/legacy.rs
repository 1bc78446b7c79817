//! Older opset forms converted to opset 21's:
//! - `ReduceMean`/`ReduceMax` before 18 and `ReduceSum` before 13 take
//!   `axes` as an attribute; it becomes a constant `axes` input.
//! - `Squeeze`/`Unsqueeze` before 13: the same for their `axes`.
//! - `Split` before 13 takes `split` as an attribute (it becomes a constant
//!   input); without `split`, before 18, the input is split equally into as
//!   many parts as the node has outputs, which opset 18 writes
//!   `num_outputs`.
//! - `Softmax`/`LogSoftmax` before 13 (default `axis` 1) flatten the input
//!   to 2-D at `axis` and normalize each row: the same as opset 13's op when
//!   `axis` is the last dimension; otherwise `Shape`, `Flatten`, the op on
//!   axis 1, and a `Reshape` back.
//!
//! Invariants: a converted node computes exactly what the original
//! computed under its opset; the created ops all carry the node's location.

use super::node::NodeCx;
use super::registry::direct;
use weft_ir::{Attribute, Attrs};

/// Reduce ops whose `axes` attribute became an input in opset 18.
pub fn reduce_axes_input_18(cx: &mut NodeCx) -> Result<(), String> {
    axes_input(cx, 18)
}

/// Reduce ops whose `axes` attribute became an input in opset 13.
pub fn reduce_axes_input_13(cx: &mut NodeCx) -> Result<(), String> {
    axes_input(cx, 13)
}

/// `Squeeze`/`Unsqueeze`: `axes` became an input in opset 13.
pub fn axes_input_13(cx: &mut NodeCx) -> Result<(), String> {
    axes_input(cx, 13)
}

/// Moves the `axes` attribute of a model older than `since` to the second
/// input.
fn axes_input(cx: &mut NodeCx, since: i64) -> Result<(), String> {
    if cx.opset() >= since {
        return direct(cx);
    }
    let data = cx.required(0)?;
    let mut operands = vec![data];
    if let Some(axes) = cx.take_ints("axes")? {
        operands.push(cx.const_i64s(&axes)?);
    }
    let op = format!("onnx.{}", cx.op_type());
    cx.finish(&op, operands)
}

/// `Split`: the `split` attribute (opset < 13) becomes an input; an equal
/// split before opset 18 gets `num_outputs`.
pub fn split(cx: &mut NodeCx) -> Result<(), String> {
    let mut operands = cx.operands()?;
    if cx.opset() < 13 {
        if let Some(split) = cx.take_ints("split")? {
            operands.truncate(1);
            operands.push(cx.const_i64s(&split)?);
        }
    }
    if operands.len() < 2 && cx.opset() < 18 && !cx.attrs.contains_key("num_outputs") {
        let n = cx.node.output.len() as i64;
        cx.attrs.insert("num_outputs".to_string(), Attribute::Int(n));
    }
    cx.finish("onnx.Split", operands)
}

/// `Softmax`/`LogSoftmax` before opset 13: see the module doc.
pub fn softmax(cx: &mut NodeCx) -> Result<(), String> {
    if cx.opset() >= 13 {
        return direct(cx);
    }
    let op = format!("onnx.{}", cx.op_type());
    let x = cx.required(0)?;
    let rank = cx.ty(x)?.rank() as i64;
    let axis = match cx.take_attr("axis") {
        None => 1,
        Some(a) => a.as_int().ok_or("attribute 'axis' must be an integer")?,
    };
    let axis = if axis < 0 { axis + rank } else { axis };
    if !(0..rank).contains(&axis) {
        return Err(format!("axis {axis} is out of range for an input of rank {rank}"));
    }
    if axis == rank - 1 {
        cx.attrs.insert("axis".to_string(), Attribute::Int(-1));
        return cx.finish(&op, vec![x]);
    }
    let shape = cx.emit("onnx.Shape", vec![x], Attrs::new())?;
    let flat = cx.emit("onnx.Flatten", vec![x], one_attr("axis", axis))?;
    let rows = cx.emit(&op, vec![flat], one_attr("axis", 1))?;
    cx.finish_with("onnx.Reshape", vec![rows, shape], Attrs::new())
}

fn one_attr(name: &str, value: i64) -> Attrs {
    let mut attrs = Attrs::new();
    attrs.insert(name.to_string(), Attribute::Int(value));
    attrs
}
