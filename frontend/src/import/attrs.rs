//! ONNX attributes as weft attributes, keeping ONNX's names and kinds:
//! INT -> `Int`, FLOAT -> `Float`, STRING -> `Str`, INTS / FLOATS /
//! STRINGS -> `Array`, TENSOR -> `Dense`.
//!
//! Invariants: nothing is dropped silently: graph-valued attributes (the
//! bodies of `If`, `Loop`, `Scan`), sparse tensors, type protos, lists of
//! tensors and attribute references are errors naming the attribute.

use crate::onnx::proto::{AttributeProto, AttributeType, TensorProto};
use crate::onnx::{payload_to_tensor, OnnxModel};
use weft_ir::{Attribute, Attrs, DenseAttr};

/// Converts every attribute of a node.
pub fn convert_attrs(model: &OnnxModel, attrs: &[AttributeProto]) -> Result<Attrs, String> {
    let mut out = Attrs::new();
    for a in attrs {
        if out.contains_key(&a.name) {
            return Err(format!("attribute '{}' is given twice", a.name));
        }
        out.insert(a.name.clone(), convert(model, a)?);
    }
    Ok(out)
}

/// One attribute's value.
pub fn convert(model: &OnnxModel, a: &AttributeProto) -> Result<Attribute, String> {
    let name = &a.name;
    if !a.ref_attr_name.is_empty() {
        return Err(format!("attribute '{name}' refers to a function attribute, which is not supported"));
    }
    let kind = AttributeType::try_from(a.r#type).unwrap_or(AttributeType::Undefined);
    let unsupported = |what: &str| Err(format!("attribute '{name}' is {what}, which weft does not support"));
    match kind {
        AttributeType::Int => Ok(Attribute::Int(a.i)),
        AttributeType::Float => Ok(Attribute::Float(f64::from(a.f))),
        AttributeType::String => Ok(Attribute::Str(utf8(name, &a.s)?)),
        AttributeType::Ints => Ok(Attribute::Array(a.ints.iter().map(|&i| Attribute::Int(i)).collect())),
        AttributeType::Floats => {
            Ok(Attribute::Array(a.floats.iter().map(|&f| Attribute::Float(f64::from(f))).collect()))
        }
        AttributeType::Strings => {
            let items = a.strings.iter().map(|s| utf8(name, s).map(Attribute::Str));
            Ok(Attribute::Array(items.collect::<Result<_, _>>()?))
        }
        AttributeType::Tensor => match &a.t {
            Some(t) => Ok(Attribute::Dense(dense(model, t).map_err(|e| format!("attribute '{name}': {e}"))?)),
            None => Err(format!("attribute '{name}' is a tensor attribute without a tensor")),
        },
        AttributeType::Graph | AttributeType::Graphs => {
            unsupported("a graph (the body of an If, Loop or Scan): control flow")
        }
        AttributeType::SparseTensor | AttributeType::SparseTensors => unsupported("a sparse tensor"),
        AttributeType::Tensors => unsupported("a list of tensors"),
        AttributeType::TypeProto | AttributeType::TypeProtos => unsupported("a type"),
        AttributeType::Undefined => Err(format!("attribute '{name}' has no type (UNDEFINED)")),
    }
}

fn utf8(name: &str, bytes: &[u8]) -> Result<String, String> {
    String::from_utf8(bytes.to_vec()).map_err(|_| format!("attribute '{name}' holds a string that is not UTF-8"))
}

/// A tensor held inline (a dense attribute).
pub fn dense(model: &OnnxModel, t: &TensorProto) -> Result<DenseAttr, String> {
    let payload = model.tensor_payload(t)?;
    Ok(DenseAttr::from_tensor(payload_to_tensor(&payload)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::onnx::proto::ModelProto;
    use bytes::Bytes;

    fn model() -> OnnxModel {
        OnnxModel { model: ModelProto::default(), path: "m.onnx".into() }
    }

    fn attr(name: &str, kind: AttributeType) -> AttributeProto {
        AttributeProto { name: name.into(), r#type: kind as i32, ..Default::default() }
    }

    #[test]
    fn kinds_map_to_weft_attributes() {
        let m = model();
        let i = AttributeProto { i: -3, ..attr("axis", AttributeType::Int) };
        assert_eq!(convert(&m, &i), Ok(Attribute::Int(-3)));
        let f = AttributeProto { f: 0.5, ..attr("alpha", AttributeType::Float) };
        assert_eq!(convert(&m, &f), Ok(Attribute::Float(0.5)));
        let s = AttributeProto { s: Bytes::from_static(b"tanh"), ..attr("approximate", AttributeType::String) };
        assert_eq!(convert(&m, &s), Ok(Attribute::Str("tanh".into())));
        let ints = AttributeProto { ints: vec![0, 2], ..attr("perm", AttributeType::Ints) };
        assert_eq!(convert(&m, &ints), Ok(Attribute::Array(vec![Attribute::Int(0), Attribute::Int(2)])));
        let t = TensorProto { data_type: 1, dims: vec![2], float_data: vec![1.0, 2.0], ..Default::default() };
        let tensor = AttributeProto { t: Some(t), ..attr("value", AttributeType::Tensor) };
        let Ok(Attribute::Dense(d)) = convert(&m, &tensor) else { panic!("not dense") };
        assert_eq!(d.ty.to_string(), "tensor<2xf32>");
    }

    #[test]
    fn unsupported_kinds_are_errors() {
        let m = model();
        let g = convert(&m, &attr("then_branch", AttributeType::Graph)).unwrap_err();
        assert!(g.starts_with("attribute 'then_branch' is a graph"), "{g}");
        assert!(convert(&m, &attr("x", AttributeType::Undefined)).unwrap_err().contains("no type"));
        let bad = AttributeProto { s: Bytes::from_static(b"\xff"), ..attr("mode", AttributeType::String) };
        assert!(convert(&m, &bad).unwrap_err().contains("not UTF-8"));
        let twice = convert_attrs(&m, &[attr("a", AttributeType::Int), attr("a", AttributeType::Int)]);
        assert_eq!(twice.unwrap_err(), "attribute 'a' is given twice");
    }
}
