//! `--input-shape` bindings: symbols substituted in inputs and outputs,
//! and every way a binding can be wrong.

mod import_util;

use import_util::*;
use weft_frontend::import::ImportOptions;
use weft_frontend::onnx::proto::DataType;

fn shapes(list: &[(&str, &[u64])]) -> ImportOptions {
    ImportOptions {
        input_shapes: list.iter().map(|(n, s)| (n.to_string(), s.to_vec())).collect(),
        ..Default::default()
    }
}

/// ids [batch, seq] and mask [batch, seq] added: y [batch, seq].
fn two_inputs() -> Model {
    Model::new(17)
        .input(value("ids", DataType::Float, &[D::P("batch"), D::P("seq")]))
        .input(value("mask", DataType::Float, &[D::P("batch"), D::P("seq")]))
        .node(node("Add", &["ids", "mask"], &["y"]))
        .output(f32_value("y", &[D::P("batch"), D::P("seq")]))
}

#[test]
fn bound_symbols_are_substituted_everywhere() {
    let m = two_inputs().import_with(&shapes(&[("ids", &[1, 8])])).unwrap();
    let printed = text(&m);
    assert!(
        printed.contains("func @main(%arg0: tensor<1x8xf32>, %arg1: tensor<1x8xf32>) -> tensor<1x8xf32>"),
        "{printed}"
    );
    assert!(!printed.contains("[batch]"), "{printed}");
}

#[test]
fn unbound_symbols_stay_symbolic_and_bind_at_run_time() {
    let m = two_inputs().module();
    assert!(text(&m).contains("tensor<[batch]x[seq]xf32>"));
    let y = run(&m, vec![f32s(&[1, 2], &[1.0, 2.0]), f32s(&[1, 2], &[3.0, 4.0])]);
    assert_close(&values(&y[0]), &[4.0, 6.0]);
    let f = m.func("main").unwrap();
    let err = weft_ir::interp::run_function(&m, f, vec![f32s(&[1, 2], &[0.0; 2]), f32s(&[1, 3], &[0.0; 3])]);
    assert!(err.unwrap_err().message.contains("[seq] is 2"));
}

#[test]
fn unknown_inputs_are_errors_with_the_input_list() {
    let d = two_inputs().import_with(&shapes(&[("idz", &[1, 8])])).unwrap_err();
    assert_eq!(d[0].message, "test.onnx: --input-shape names 'idz', which is not an input of the model");
    let notes: Vec<&str> = d[0].notes.iter().map(|n| n.message.as_str()).collect();
    assert_eq!(notes, ["the inputs are: ids, mask", "did you mean 'ids'?"]);
}

#[test]
fn rank_and_static_dims_must_match() {
    let rank = two_inputs().error_with(&shapes(&[("ids", &[8])]));
    assert_eq!(
        rank,
        "test.onnx: --input-shape ids=8 gives rank 1, but input 'ids' has rank 2 (tensor<[batch]x[seq]xf32>)"
    );
    let model = Model::new(13)
        .input(f32_value("x", &[D::P("n"), D::V(4)]))
        .node(node("Relu", &["x"], &["y"]))
        .output(f32_value("y", &[D::P("n"), D::V(4)]));
    let fixed = model.error_with(&shapes(&[("x", &[2, 5])]));
    assert!(fixed.contains("gives extent 5 to dimension 1, but the model fixes it to 4"), "{fixed}");
}

#[test]
fn a_symbol_bound_two_ways_is_an_error() {
    let e = two_inputs().error_with(&shapes(&[("ids", &[1, 8]), ("mask", &[1, 16])]));
    assert_eq!(
        e,
        "test.onnx: dimension 'seq' is bound to 8 by --input-shape ids=1x8 and to 16 by --input-shape mask=1x16"
    );
    let twice = two_inputs().error_with(&shapes(&[("ids", &[1, 8]), ("ids", &[1, 8])]));
    assert_eq!(twice, "test.onnx: --input-shape gives input 'ids' twice");
}

#[test]
fn inputs_of_unknown_rank_need_a_shape() {
    let mut model =
        Model::new(13).input(f32_value("x", &[])).node(node("Relu", &["x"], &["y"])).output(f32_value("y", &[]));
    if let Some(weft_frontend::onnx::proto::type_proto::Value::TensorType(t)) =
        model.inputs[0].r#type.as_mut().and_then(|t| t.value.as_mut())
    {
        t.shape = None;
    }
    model.outputs[0].r#type = None;
    assert_eq!(model.error(), "test.onnx: input 'x' has no shape in the model; give one with --input-shape x=DIMS");
    let m = model.import_with(&shapes(&[("x", &[3])])).unwrap();
    assert!(text(&m).contains("func @main(%arg0: tensor<3xf32>) -> tensor<3xf32>"), "{}", text(&m));
}

#[test]
fn huge_shapes_are_errors() {
    let e = two_inputs().error_with(&shapes(&[("ids", &[1 << 21, 1 << 20])]));
    assert!(e.starts_with("test.onnx: input 'ids': tensor<2097152x1048576xf32> has more than 2^40 elements"), "{e}");
}
