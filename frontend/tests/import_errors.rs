//! Every class of import error: its message names the model file, the node
//! and its op type where there is one.

mod import_util;

use import_util::*;
use weft_frontend::onnx::proto::{AttributeProto, AttributeType, DataType, OperatorSetIdProto};
use weft_ir::Location;

fn relu_model(opset: i64) -> Model {
    Model::new(opset)
        .input(f32_value("x", &[D::V(2)]))
        .node(node("Relu", &["x"], &["y"]))
        .output(f32_value("y", &[D::V(2)]))
}

#[test]
fn unsupported_ops_are_reported_once_per_type() {
    let model = Model::new(17)
        .input(f32_value("x", &[D::V(2)]))
        .node(node("Frobnicate", &["x"], &["a"]))
        .node(node("Frobnicate", &["a"], &["b"]))
        .node(node("Relu", &["b"], &["y"]))
        .output(f32_value("y", &[D::V(2)]));
    let d = model.import().unwrap_err();
    assert_eq!(d.len(), 1);
    assert_eq!(
        d[0].message,
        "test.onnx: unsupported ONNX op 'Frobnicate' in node 'Frobnicate_a' (domain '', opset 17); \
         `weft info test.onnx` lists every unsupported op"
    );
    assert_eq!(d[0].loc, Location::Name("Frobnicate_a".into()));
    assert_eq!(d[0].notes[0].message, "2 nodes use 'Frobnicate'");
}

#[test]
fn ops_of_other_domains_name_their_domain() {
    let mut n = node("FusedMatMul", &["x", "x"], &["y"]);
    n.domain = "com.microsoft".into();
    let mut model = relu_model(17);
    model.nodes = vec![n];
    let mut proto = model.proto();
    proto.opset_import.push(OperatorSetIdProto { domain: "com.microsoft".into(), version: 1 });
    let onnx = weft_frontend::onnx::OnnxModel { model: proto, path: "ms.onnx".into() };
    let d = weft_frontend::import::import_model(&onnx, &ctx(), &Default::default()).unwrap_err();
    assert!(
        d[0].message
            .contains("unsupported ONNX op 'FusedMatMul' in node 'FusedMatMul_y' (domain 'com.microsoft', opset 1)"),
        "{}",
        d[0].message
    );
}

#[test]
fn ops_newer_than_the_model_opset_are_errors() {
    let model = Model::new(17)
        .input(f32_value("x", &[D::V(2)]))
        .node(node("Gelu", &["x"], &["y"]))
        .output(f32_value("y", &[D::V(2)]));
    assert_eq!(
        model.error(),
        "test.onnx: ONNX op 'Gelu' in node 'Gelu_y' needs opset 20 of the default domain, but the model imports opset 17"
    );
}

#[test]
fn opsets_outside_11_to_21_are_refused() {
    for opset in [9, 22] {
        let e = relu_model(opset).error();
        assert!(e.starts_with(&format!("test.onnx: opset {opset} of the default ONNX domain is not supported")), "{e}");
        assert!(e.contains("weft reads opsets 11 to 21"), "{e}");
    }
    let mut proto = relu_model(13).proto();
    proto.opset_import.clear();
    let onnx = weft_frontend::onnx::OnnxModel { model: proto, path: "test.onnx".into() };
    let d = weft_frontend::import::import_model(&onnx, &ctx(), &Default::default()).unwrap_err();
    assert_eq!(d[0].message, "test.onnx: the model imports no opset of the default ONNX domain");
}

#[test]
fn missing_values_are_named_with_their_user() {
    let model = Model::new(13)
        .input(f32_value("x", &[D::V(2)]))
        .node(node("Add", &["x", "bias"], &["y"]))
        .output(f32_value("y", &[D::V(2)]));
    assert_eq!(model.error(), "test.onnx: missing initializer or value 'bias' used by node 'Add_y' (Add)");
    let no_output = relu_model(13).output(f32_value("z", &[D::V(2)]));
    assert_eq!(
        no_output.error(),
        "test.onnx: graph output 'z' is not computed by any node, nor an input or initializer"
    );
}

#[test]
fn cycles_are_errors() {
    let model = Model::new(13)
        .input(f32_value("x", &[D::V(2)]))
        .node(node("Add", &["x", "b"], &["a"]))
        .node(node("Relu", &["a"], &["b"]))
        .node(node("Relu", &["x"], &["y"]))
        .output(f32_value("y", &[D::V(2)]));
    assert_eq!(
        model.error(),
        "test.onnx: the nodes cannot be ordered: 'Add_a' (Add), 'Relu_b' (Relu) depend on each other's outputs (a cycle)"
    );
}

#[test]
fn unsorted_nodes_are_sorted() {
    let model = Model::new(13)
        .input(f32_value("x", &[D::V(2)]))
        .node(node("Neg", &["a"], &["y"]))
        .node(node("Relu", &["x"], &["a"]))
        .output(f32_value("y", &[D::V(2)]));
    let m = model.module();
    let y = run(&m, vec![f32s(&[2], &[-1.0, 2.0])]);
    assert_close(&values(&y[0]), &[0.0, -2.0]);
}

#[test]
fn values_defined_twice_are_errors() {
    let model = Model::new(13)
        .input(f32_value("x", &[D::V(2)]))
        .node(node("Relu", &["x"], &["y"]))
        .node(node("Neg", &["x"], &["y"]))
        .output(f32_value("y", &[D::V(2)]));
    assert_eq!(model.error(), "test.onnx: node 'Neg_y' (Neg): output 'y' is also the output of node 'Relu_y' (Relu)");
    let shadow = relu_model(13).node(node("Neg", &["y"], &["x"]));
    assert_eq!(
        shadow.error(),
        "test.onnx: node 'Neg_x' (Neg): output 'x' redefines a graph input or initializer of that name"
    );
}

#[test]
fn graph_attributes_are_unsupported() {
    let g = AttributeProto { name: "body".into(), r#type: AttributeType::Graph as i32, ..Default::default() };
    let model = Model::new(13)
        .input(f32_value("x", &[D::V(2)]))
        .node(with(node("Relu", &["x"], &["y"]), vec![g]))
        .output(f32_value("y", &[D::V(2)]));
    assert_eq!(
        model.error(),
        "test.onnx: node 'Relu_y' (Relu): attribute 'body' is a graph (the body of an If, Loop or Scan): control \
         flow, which weft does not support"
    );
    let if_model = relu_model(13).node(node("If", &["x"], &["z"]));
    assert!(if_model.error().contains("unsupported ONNX op 'If' in node 'If_z'"));
}

#[test]
fn unsupported_element_types_are_errors() {
    let model = Model::new(13)
        .input(value("x", DataType::String, &[D::V(2)]))
        .node(node("Identity", &["x"], &["y"]))
        .output(value("y", DataType::String, &[D::V(2)]));
    assert_eq!(model.error(), "test.onnx: input 'x' data type STRING is not supported by weft");
}

#[test]
fn shape_inference_errors_name_the_node() {
    let model = Model::new(13)
        .input(f32_value("a", &[D::V(2), D::V(3)]))
        .input(f32_value("b", &[D::V(4), D::V(5)]))
        .node(node("MatMul", &["a", "b"], &["y"]))
        .output(f32_value("y", &[D::V(2), D::V(5)]));
    let e = model.error();
    assert!(e.starts_with("test.onnx: node 'MatMul_y' (MatMul): "), "{e}");
}

#[test]
fn declared_output_types_must_agree_with_inference() {
    let model = Model::new(13)
        .input(f32_value("x", &[D::V(2)]))
        .node(node("Relu", &["x"], &["y"]))
        .output(f32_value("y", &[D::V(3)]));
    assert_eq!(
        model.error(),
        "test.onnx: graph output 'y' is declared as tensor<3xf32> in the model, but weft infers tensor<2xf32> \
         (dimension 0 is 3 vs 2)"
    );
    let elem = relu_model(13);
    let mut elem = elem;
    elem.outputs = vec![value("y", DataType::Int64, &[D::V(2)])];
    assert!(elem.error().contains("(element type i64 vs f32)"), "{}", elem.error());
}

#[test]
fn attributes_an_op_does_not_take_are_errors() {
    let model = Model::new(13)
        .input(f32_value("x", &[D::V(2)]))
        .node(with(node("Relu", &["x"], &["y"]), vec![int("alpha", 1)]))
        .output(f32_value("y", &[D::V(2)]));
    assert_eq!(
        model.error(),
        "test.onnx: node 'Relu_y' (Relu): attribute 'alpha' is not supported by 'onnx.Relu' (it takes: none)"
    );
}

#[test]
fn models_without_a_graph_are_errors() {
    let mut proto = relu_model(13).proto();
    proto.graph = None;
    let onnx = weft_frontend::onnx::OnnxModel { model: proto, path: "empty.onnx".into() };
    let d = weft_frontend::import::import_model(&onnx, &ctx(), &Default::default()).unwrap_err();
    assert_eq!(d[0].message, "empty.onnx: the model has no graph");
}

#[test]
fn bad_initializer_data_names_the_initializer() {
    let mut w = init_f32("W", &[2, 2], &[]);
    w.raw_data = bytes::Bytes::from_static(&[0; 7]);
    let model = Model::new(13)
        .input(f32_value("x", &[D::V(2), D::V(2)]))
        .init(w)
        .node(node("MatMul", &["x", "W"], &["y"]))
        .output(f32_value("y", &[D::V(2), D::V(2)]));
    let e = model.error();
    assert!(e.starts_with("test.onnx: node 'MatMul_y' (MatMul): initializer 'W': "), "{e}");
}
