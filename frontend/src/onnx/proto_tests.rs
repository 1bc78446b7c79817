//! Wire-level checks of the hand-written messages: every field is encoded
//! under the tag onnx.proto3 (ONNX 1.16) gives it. The table below was
//! written from the descriptor of the `onnx` Python package, independently
//! of the struct attributes, so a typo in either shows up here.

use super::*;
use prost::Message;

/// The field number of the first key in an encoded message.
fn first_tag(bytes: &[u8]) -> u64 {
    let mut value = 0u64;
    for (i, b) in bytes.iter().enumerate().take(10) {
        value |= u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            break;
        }
    }
    value >> 3
}

fn tag_of<M: Message>(m: &M) -> u64 {
    first_tag(&m.encode_to_vec())
}

fn tensor() -> TensorProto {
    TensorProto::default()
}

fn entry() -> StringStringEntryProto {
    StringStringEntryProto { key: "k".into(), value: "v".into() }
}

#[test]
fn model_tags() {
    let cases: Vec<(ModelProto, u64)> = vec![
        (ModelProto { ir_version: 1, ..Default::default() }, 1),
        (ModelProto { producer_name: "p".into(), ..Default::default() }, 2),
        (ModelProto { producer_version: "v".into(), ..Default::default() }, 3),
        (ModelProto { domain: "d".into(), ..Default::default() }, 4),
        (ModelProto { model_version: 1, ..Default::default() }, 5),
        (ModelProto { doc_string: "d".into(), ..Default::default() }, 6),
        (ModelProto { graph: Some(GraphProto::default()), ..Default::default() }, 7),
        (ModelProto { opset_import: vec![OperatorSetIdProto::default()], ..Default::default() }, 8),
        (ModelProto { metadata_props: vec![entry()], ..Default::default() }, 14),
        (ModelProto { functions: vec![FunctionProto::default()], ..Default::default() }, 25),
    ];
    for (m, tag) in cases {
        assert_eq!(tag_of(&m), tag, "{m:?}");
    }
}

#[test]
fn graph_and_node_tags() {
    let graphs: Vec<(GraphProto, u64)> = vec![
        (GraphProto { node: vec![NodeProto::default()], ..Default::default() }, 1),
        (GraphProto { name: "g".into(), ..Default::default() }, 2),
        (GraphProto { initializer: vec![tensor()], ..Default::default() }, 5),
        (GraphProto { doc_string: "d".into(), ..Default::default() }, 10),
        (GraphProto { input: vec![ValueInfoProto::default()], ..Default::default() }, 11),
        (GraphProto { output: vec![ValueInfoProto::default()], ..Default::default() }, 12),
        (GraphProto { value_info: vec![ValueInfoProto::default()], ..Default::default() }, 13),
        (GraphProto { quantization_annotation: vec![TensorAnnotation::default()], ..Default::default() }, 14),
        (GraphProto { sparse_initializer: vec![SparseTensorProto::default()], ..Default::default() }, 15),
        (GraphProto { metadata_props: vec![entry()], ..Default::default() }, 16),
    ];
    for (g, tag) in graphs {
        assert_eq!(tag_of(&g), tag, "{g:?}");
    }
    let nodes: Vec<(NodeProto, u64)> = vec![
        (NodeProto { input: vec!["x".into()], ..Default::default() }, 1),
        (NodeProto { output: vec!["y".into()], ..Default::default() }, 2),
        (NodeProto { name: "n".into(), ..Default::default() }, 3),
        (NodeProto { op_type: "Relu".into(), ..Default::default() }, 4),
        (NodeProto { attribute: vec![AttributeProto::default()], ..Default::default() }, 5),
        (NodeProto { doc_string: "d".into(), ..Default::default() }, 6),
        (NodeProto { domain: "d".into(), ..Default::default() }, 7),
        (NodeProto { overload: "o".into(), ..Default::default() }, 8),
        (NodeProto { metadata_props: vec![entry()], ..Default::default() }, 9),
    ];
    for (n, tag) in nodes {
        assert_eq!(tag_of(&n), tag, "{n:?}");
    }
}

#[test]
fn attribute_tags() {
    let a = AttributeProto::default;
    let cases: Vec<(AttributeProto, u64)> = vec![
        (AttributeProto { name: "a".into(), ..a() }, 1),
        (AttributeProto { f: 1.0, ..a() }, 2),
        (AttributeProto { i: 1, ..a() }, 3),
        (AttributeProto { s: Bytes::from_static(b"s"), ..a() }, 4),
        (AttributeProto { t: Some(tensor()), ..a() }, 5),
        (AttributeProto { g: Some(GraphProto::default()), ..a() }, 6),
        (AttributeProto { floats: vec![1.0], ..a() }, 7),
        (AttributeProto { ints: vec![1], ..a() }, 8),
        (AttributeProto { strings: vec![Bytes::from_static(b"s")], ..a() }, 9),
        (AttributeProto { tensors: vec![tensor()], ..a() }, 10),
        (AttributeProto { graphs: vec![GraphProto::default()], ..a() }, 11),
        (AttributeProto { doc_string: "d".into(), ..a() }, 13),
        (AttributeProto { tp: Some(TypeProto::default()), ..a() }, 14),
        (AttributeProto { type_protos: vec![TypeProto::default()], ..a() }, 15),
        (AttributeProto { r#type: AttributeType::Int as i32, ..a() }, 20),
        (AttributeProto { ref_attr_name: "r".into(), ..a() }, 21),
        (AttributeProto { sparse_tensor: Some(SparseTensorProto::default()), ..a() }, 22),
        (AttributeProto { sparse_tensors: vec![SparseTensorProto::default()], ..a() }, 23),
    ];
    for (attr, tag) in cases {
        assert_eq!(tag_of(&attr), tag, "{attr:?}");
    }
    let kinds = [
        (AttributeType::Undefined, 0),
        (AttributeType::Float, 1),
        (AttributeType::Int, 2),
        (AttributeType::String, 3),
        (AttributeType::Tensor, 4),
        (AttributeType::Graph, 5),
        (AttributeType::Floats, 6),
        (AttributeType::Ints, 7),
        (AttributeType::Strings, 8),
        (AttributeType::Tensors, 9),
        (AttributeType::Graphs, 10),
        (AttributeType::SparseTensor, 11),
        (AttributeType::SparseTensors, 12),
        (AttributeType::TypeProto, 13),
        (AttributeType::TypeProtos, 14),
    ];
    for (kind, value) in kinds {
        assert_eq!(kind as i32, value, "{kind:?}");
    }
}

#[test]
fn tensor_tags() {
    let t = tensor;
    let cases: Vec<(TensorProto, u64)> = vec![
        (TensorProto { dims: vec![1], ..t() }, 1),
        (TensorProto { data_type: 1, ..t() }, 2),
        (TensorProto { segment: Some(tensor_proto::Segment::default()), ..t() }, 3),
        (TensorProto { float_data: vec![1.0], ..t() }, 4),
        (TensorProto { int32_data: vec![1], ..t() }, 5),
        (TensorProto { string_data: vec![Bytes::from_static(b"s")], ..t() }, 6),
        (TensorProto { int64_data: vec![1], ..t() }, 7),
        (TensorProto { name: "n".into(), ..t() }, 8),
        (TensorProto { raw_data: Bytes::from_static(b"r"), ..t() }, 9),
        (TensorProto { double_data: vec![1.0], ..t() }, 10),
        (TensorProto { uint64_data: vec![1], ..t() }, 11),
        (TensorProto { doc_string: "d".into(), ..t() }, 12),
        (TensorProto { external_data: vec![entry()], ..t() }, 13),
        (TensorProto { data_location: DataLocation::External as i32, ..t() }, 14),
        (TensorProto { metadata_props: vec![entry()], ..t() }, 16),
    ];
    for (tensor, tag) in cases {
        assert_eq!(tag_of(&tensor), tag, "{tensor:?}");
    }
    let sparse = SparseTensorProto { values: Some(t()), ..Default::default() };
    assert_eq!(tag_of(&sparse), 1);
    assert_eq!(tag_of(&SparseTensorProto { indices: Some(t()), ..Default::default() }), 2);
    assert_eq!(tag_of(&SparseTensorProto { dims: vec![2], ..Default::default() }), 3);
    assert_eq!(tag_of(&tensor_proto::Segment { begin: 0, end: 1 }), 2);
}

#[test]
fn data_type_values() {
    let expected = [
        (DataType::Undefined, 0),
        (DataType::Float, 1),
        (DataType::Uint8, 2),
        (DataType::Int8, 3),
        (DataType::Uint16, 4),
        (DataType::Int16, 5),
        (DataType::Int32, 6),
        (DataType::Int64, 7),
        (DataType::String, 8),
        (DataType::Bool, 9),
        (DataType::Float16, 10),
        (DataType::Double, 11),
        (DataType::Uint32, 12),
        (DataType::Uint64, 13),
        (DataType::Complex64, 14),
        (DataType::Complex128, 15),
        (DataType::Bfloat16, 16),
        (DataType::Float8e4m3fn, 17),
        (DataType::Float8e4m3fnuz, 18),
        (DataType::Float8e5m2, 19),
        (DataType::Float8e5m2fnuz, 20),
        (DataType::Uint4, 21),
        (DataType::Int4, 22),
    ];
    for (dt, value) in expected {
        assert_eq!(dt as i32, value, "{dt:?}");
    }
}

#[test]
fn type_and_value_info_tags() {
    use type_proto::Value;
    let ty = |v: Value| TypeProto { value: Some(v), ..Default::default() };
    let boxed_ty = || Some(Box::new(TypeProto::default()));
    let cases: Vec<(TypeProto, u64)> = vec![
        (ty(Value::TensorType(type_proto::Tensor::default())), 1),
        (ty(Value::SequenceType(Box::new(type_proto::Sequence { elem_type: boxed_ty() }))), 4),
        (ty(Value::MapType(Box::default())), 5),
        (TypeProto { denotation: "d".into(), ..Default::default() }, 6),
        (ty(Value::OpaqueType(type_proto::Opaque::default())), 7),
        (ty(Value::SparseTensorType(type_proto::SparseTensor::default())), 8),
        (ty(Value::OptionalType(Box::default())), 9),
    ];
    for (t, tag) in cases {
        assert_eq!(tag_of(&t), tag, "{t:?}");
    }
    let tensor_type = type_proto::Tensor { elem_type: 1, shape: None };
    assert_eq!(tag_of(&tensor_type), 1);
    assert_eq!(tag_of(&type_proto::Tensor { elem_type: 0, shape: Some(TensorShapeProto::default()) }), 2);
    assert_eq!(tag_of(&type_proto::Map { key_type: 7, value_type: None }), 1);
    assert_eq!(tag_of(&type_proto::Map { key_type: 0, value_type: boxed_ty() }), 2);
    assert_eq!(tag_of(&type_proto::Opaque { domain: String::new(), name: "n".into() }), 2);

    use tensor_shape_proto::{dimension, Dimension};
    let dim = |value, denotation: &str| Dimension { value, denotation: denotation.into() };
    assert_eq!(tag_of(&dim(Some(dimension::Value::DimValue(3)), "")), 1);
    assert_eq!(tag_of(&dim(Some(dimension::Value::DimParam("N".into())), "")), 2);
    assert_eq!(tag_of(&dim(None, "DATA_BATCH")), 3);
    assert_eq!(tag_of(&TensorShapeProto { dim: vec![dim(None, "")] }), 1);

    let vi = ValueInfoProto::default;
    assert_eq!(tag_of(&ValueInfoProto { name: "x".into(), ..vi() }), 1);
    assert_eq!(tag_of(&ValueInfoProto { r#type: Some(TypeProto::default()), ..vi() }), 2);
    assert_eq!(tag_of(&ValueInfoProto { doc_string: "d".into(), ..vi() }), 3);
    assert_eq!(tag_of(&ValueInfoProto { metadata_props: vec![entry()], ..vi() }), 4);
    assert_eq!(tag_of(&OperatorSetIdProto { domain: String::new(), version: 17 }), 2);
    assert_eq!(tag_of(&StringStringEntryProto { key: String::new(), value: "v".into() }), 2);
    assert_eq!(
        tag_of(&TensorAnnotation { tensor_name: String::new(), quant_parameter_tensor_names: vec![entry()] }),
        2
    );
}

#[test]
fn function_tags() {
    let f = FunctionProto::default;
    let cases: Vec<(FunctionProto, u64)> = vec![
        (FunctionProto { name: "f".into(), ..f() }, 1),
        (FunctionProto { input: vec!["x".into()], ..f() }, 4),
        (FunctionProto { output: vec!["y".into()], ..f() }, 5),
        (FunctionProto { attribute: vec!["a".into()], ..f() }, 6),
        (FunctionProto { node: vec![NodeProto::default()], ..f() }, 7),
        (FunctionProto { doc_string: "d".into(), ..f() }, 8),
        (FunctionProto { opset_import: vec![OperatorSetIdProto::default()], ..f() }, 9),
        (FunctionProto { domain: "d".into(), ..f() }, 10),
        (FunctionProto { attribute_proto: vec![AttributeProto::default()], ..f() }, 11),
        (FunctionProto { value_info: vec![ValueInfoProto::default()], ..f() }, 12),
        (FunctionProto { overload: "o".into(), ..f() }, 13),
        (FunctionProto { metadata_props: vec![entry()], ..f() }, 14),
    ];
    for (func, tag) in cases {
        assert_eq!(tag_of(&func), tag, "{func:?}");
    }
}

#[test]
fn decoding_from_bytes_does_not_copy_raw_data() {
    let t = TensorProto { raw_data: Bytes::from(vec![7u8; 64]), data_type: 1, dims: vec![16], ..tensor() };
    let encoded = Bytes::from(t.encode_to_vec());
    let decoded = TensorProto::decode(encoded.clone()).expect("decodes");
    assert_eq!(decoded, t);
    let range = encoded.as_ptr_range();
    assert!(range.contains(&decoded.raw_data.as_ptr()), "raw_data was copied out of the input buffer");
}

#[test]
fn unpacked_repeated_scalars_decode() {
    // proto2 writers (onnx.proto) may emit `dims` unpacked: one key per element.
    let bytes = [0x08, 0x02, 0x08, 0x03, 0x10, 0x01];
    let t = TensorProto::decode(&bytes[..]).expect("decodes");
    assert_eq!(t.dims, vec![2, 3]);
    assert_eq!(t.data_type, 1);
}
