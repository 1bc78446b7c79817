//! `Constant` nodes become `builtin.constant`: the `value` tensor (inline
//! up to the inline limit, else a resource named after the node's output),
//! or `value_float(s)` / `value_int(s)` as f32 / i64 scalars and 1-D
//! tensors. String and sparse constants are not supported.

use super::node::NodeCx;
use crate::onnx::proto::AttributeProto;
use weft_ir::{ElemType, Tensor, TensorData};

pub fn build(cx: &mut NodeCx) -> Result<(), String> {
    let attr = match cx.node.attribute.as_slice() {
        [a] => a,
        attrs => return Err(format!("a Constant needs exactly one value attribute, this one has {}", attrs.len())),
    };
    let out = cx.node.output.first().map(String::as_str).unwrap_or_default();
    let v = match attr.name.as_str() {
        "value" => {
            let t = attr.t.as_ref().ok_or("attribute 'value' holds no tensor")?;
            let payload = cx.imp.model.tensor_payload(t)?;
            cx.imp.tensor_constant(out, &payload, cx.loc.clone())?
        }
        "value_float" | "value_floats" | "value_int" | "value_ints" => cx.constant(small_constant(attr)?)?,
        "value_string" | "value_strings" => return Err("string constants are not supported".to_string()),
        "sparse_value" => return Err("sparse constants are not supported".to_string()),
        other => return Err(format!("unknown Constant attribute '{other}'")),
    };
    cx.bind_outputs(&[v])
}

/// The tensor of a `value_float(s)` / `value_int(s)` attribute.
fn small_constant(a: &AttributeProto) -> Result<Tensor, String> {
    let floats = |v: Vec<f32>, shape| Tensor { elem: ElemType::F32, shape, data: TensorData::F32(v) };
    let ints = |v: Vec<i64>, shape| Tensor { elem: ElemType::I64, shape, data: TensorData::Int(v) };
    Ok(match a.name.as_str() {
        "value_float" => floats(vec![a.f], Vec::new()),
        "value_floats" => floats(a.floats.clone(), vec![a.floats.len() as u64]),
        "value_int" => ints(vec![a.i], Vec::new()),
        _ => ints(a.ints.clone(), vec![a.ints.len() as u64]),
    })
}
