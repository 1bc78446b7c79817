//! Omitted optional inputs followed by present ones, filled in with the
//! default ONNX specifies, so the op's operands stay positional:
//! - `Clip` min: the lowest value of the input's element type;
//! - `Slice` axes (when steps is given): `0, 1, ..., len(starts) - 1`;
//! - `Resize` roi and scales: an empty `f32` tensor (what ONNX means by
//!   "not given" when a later input is);
//! - `MatMulInteger` a_zero_point: a zero scalar of A's element type.
//!
//! `Resize`'s `tf_half_pixel_for_nn` coordinate mode (opsets 11 and 12)
//! has no opset-21 equivalent and is refused here with a clear message.

use super::node::NodeCx;
use super::registry::direct;
use half::{bf16, f16};
use weft_ir::tensor::Scalar;
use weft_ir::{ElemType, Tensor, TensorData};

pub fn clip(cx: &mut NodeCx) -> Result<(), String> {
    if cx.input(1).is_none() && cx.input(2).is_some() {
        let elem = cx.ty(cx.required(0)?)?.elem.clone();
        let low = lowest(&elem).ok_or_else(|| format!("Clip of {elem} is not supported"))?;
        let min = cx.constant(Tensor::from_fn(elem, Vec::new(), |_| low))?;
        cx.inputs[1] = Some(min);
    }
    direct(cx)
}

/// The lowest finite value of an element type (`numeric_limits::lowest`).
fn lowest(elem: &ElemType) -> Option<Scalar> {
    match elem {
        ElemType::F16 => Some(Scalar::Float(f16::MIN.to_f64())),
        ElemType::BF16 => Some(Scalar::Float(bf16::MIN.to_f64())),
        ElemType::F32 => Some(Scalar::Float(f64::from(f32::MIN))),
        ElemType::F64 => Some(Scalar::Float(f64::MIN)),
        ElemType::Bool => Some(Scalar::Int(0)),
        ElemType::Int { signed: false, .. } => Some(Scalar::Int(0)),
        ElemType::Int { width, signed: true } if *width >= 64 => Some(Scalar::Int(i64::MIN)),
        ElemType::Int { width, signed: true } => Some(Scalar::Int(-(1i64 << (width - 1)))),
        ElemType::Quant(_) | ElemType::Bin(_) => None,
    }
}

pub fn slice(cx: &mut NodeCx) -> Result<(), String> {
    if cx.input(3).is_none() && cx.input(4).is_some() {
        let starts = cx.ty(cx.required(1)?)?;
        let n = match starts.dims.as_slice() {
            [d] => d.fixed().ok_or("'starts' must have a static length when 'axes' is omitted and 'steps' given")?,
            _ => return Err(format!("'starts' must be 1-D, got {starts}")),
        };
        let axes: Vec<i64> = (0..n as i64).collect();
        cx.inputs[3] = Some(cx.const_i64s(&axes)?);
    }
    direct(cx)
}

pub fn resize(cx: &mut NodeCx) -> Result<(), String> {
    let mode = cx.attrs.get("coordinate_transformation_mode").and_then(|a| a.as_str());
    if mode == Some("tf_half_pixel_for_nn") {
        return Err("coordinate_transformation_mode 'tf_half_pixel_for_nn' (Resize before opset 13) is not \
                    supported: it has no equivalent in opset 21"
            .to_string());
    }
    let later = |cx: &NodeCx, from: usize| (from..4).any(|i| cx.input(i).is_some());
    for i in [1, 2] {
        if cx.input(i).is_none() && later(cx, i + 1) {
            let empty = Tensor { elem: ElemType::F32, shape: vec![0], data: TensorData::F32(Vec::new()) };
            cx.inputs[i] = Some(cx.constant(empty)?);
        }
    }
    direct(cx)
}

pub fn matmul_integer(cx: &mut NodeCx) -> Result<(), String> {
    if cx.input(2).is_none() && cx.input(3).is_some() {
        let elem = cx.ty(cx.required(0)?)?.elem.clone();
        let zero = cx.constant(Tensor::from_fn(elem, Vec::new(), |_| Scalar::Int(0)))?;
        cx.inputs[2] = Some(zero);
    }
    direct(cx)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lowest_values() {
        assert_eq!(lowest(&ElemType::I8), Some(Scalar::Int(-128)));
        assert_eq!(lowest(&ElemType::I64), Some(Scalar::Int(i64::MIN)));
        assert_eq!(lowest(&ElemType::Int { width: 8, signed: false }), Some(Scalar::Int(0)));
        assert_eq!(lowest(&ElemType::F32), Some(Scalar::Float(-3.4028234663852886e38)));
    }
}
