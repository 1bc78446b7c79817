//! The importer on small models built in Rust: signature, locations,
//! inline constants versus resources, Constant nodes, static types from
//! shape chains, value_info hints, the printed module reading back, and
//! the imported module running in the interpreter.

mod import_util;

use import_util::*;
use weft_frontend::import::ImportOptions;
use weft_frontend::onnx::proto::DataType;
use weft_ir::parser::parse_str;
use weft_ir::Attribute;

fn linear(w_elems: usize) -> Model {
    let k = (w_elems / 3) as i64;
    let w: Vec<f32> = (0..w_elems).map(|i| i as f32 * 0.5 - 1.0).collect();
    Model::new(17)
        .input(f32_value("x", &[D::P("batch"), D::V(k)]))
        .init(init_f32("W", &[k, 3], &w))
        .init(init_f32("B", &[3], &[0.5, -0.5, 0.0]))
        .node(node("MatMul", &["x", "W"], &["h"]))
        .node(node("Add", &["h", "B"], &["z"]))
        .node(node("Relu", &["z"], &["y"]))
        .output(f32_value("y", &[D::P("batch"), D::V(3)]))
}

#[test]
fn a_linear_layer_imports_and_runs() {
    let m = linear(12).module();
    let printed = text(&m);
    assert!(printed.contains("func @main(%arg0: tensor<[batch]x4xf32>) -> tensor<[batch]x3xf32>"), "{printed}");
    assert!(printed.contains("input_names = [\"x\"]"), "{printed}");
    assert!(printed.contains("output_names = [\"y\"]"), "{printed}");
    assert!(printed.contains("loc(\"MatMul_h\")"), "{printed}");
    assert!(m.resources.is_empty(), "12 elements are inline");
    // x = [[1, 0, 0, 0], [0, 0, 0, 1]] picks rows 0 and 3 of W.
    let x = f32s(&[2, 4], &[1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0]);
    let y = run(&m, vec![x]);
    // W row 0 = [-1, -0.5, 0]; row 3 = [3.5, 4, 4.5]; + B; relu.
    assert_close(&values(&y[0]), &[0.0, 0.0, 0.0, 4.0, 3.5, 4.5]);
    assert_eq!(y[0].shape, vec![2, 3]);
}

#[test]
fn large_initializers_become_resources() {
    let m = linear(300).module();
    let r = m.resources.get("W").expect("W is a resource");
    assert_eq!(r.shape(), &[100, 3]);
    assert!(text(&m).contains("dense_resource<W> : tensor<100x3xf32>"));
    assert!(m.resources.get("B").is_none(), "B is small");
    let opts = ImportOptions { inline_limit: 1000, ..Default::default() };
    let inline = linear(300).import_with(&opts).unwrap();
    assert!(inline.resources.is_empty());
}

#[test]
fn the_printed_module_reads_back() {
    let m = linear(300).module();
    let printed = text(&m);
    let (sources, parsed) = parse_str(&ctx(), "m.weft", &printed);
    let mut parsed = parsed.unwrap_or_else(|d| panic!("{}", weft_ir::diag::render_all(&d, &sources)));
    parsed.resources = m.resources.clone();
    weft_ir::verify::verify_module(&parsed).unwrap();
    assert_eq!(text(&parsed), printed);
}

#[test]
fn unnamed_nodes_are_located_by_type_and_index() {
    let mut relu = node("Relu", &["x"], &["y"]);
    relu.name.clear();
    let m = Model::new(13).input(f32_value("x", &[D::V(2)])).node(relu).output(f32_value("y", &[D::V(2)])).module();
    assert!(text(&m).contains("loc(\"Relu_0\")"), "{}", text(&m));
}

#[test]
fn constant_nodes_become_constants() {
    let big: Vec<f32> = (0..100).map(|i| i as f32).collect();
    let m = Model::new(13)
        .input(f32_value("x", &[D::V(100)]))
        .node(with(node("Constant", &[], &["c"]), vec![tensor_attr("value", init_f32("", &[100], &big))]))
        .node(with(node("Constant", &[], &["s"]), vec![float("value_float", 2.0)]))
        .node(node("Add", &["x", "c"], &["a"]))
        .node(node("Mul", &["a", "s"], &["y"]))
        .output(f32_value("y", &[D::V(100)]))
        .module();
    assert!(m.resources.get("c").is_some(), "100 elements: a resource named after the output");
    assert!(text(&m).contains("constant dense<2.0> : tensor<f32>"), "{}", text(&m));
    let y = run(&m, vec![f32s(&[100], &[1.0; 100])]);
    assert_eq!(values(&y[0])[..3], [2.0, 4.0, 6.0]);
}

#[test]
fn initializers_listed_as_inputs_are_constants() {
    let mut model = linear(12);
    model.inputs.push(f32_value("W", &[D::V(4), D::V(3)]));
    let m = model.module();
    assert_eq!(m.funcs[0].args().len(), 1);
    assert_eq!(m.funcs[0].attrs.get("input_names"), Some(&Attribute::Array(vec![Attribute::Str("x".into())])));
}

/// `Reshape(x, Concat(Unsqueeze(Gather(Shape(x), 0)), [-1]))`: the shape
/// of x flattened to 2-D, as exporters write it.
fn shape_chain() -> Model {
    Model::new(13)
        .input(f32_value("x", &[D::P("batch"), D::V(2), D::V(3)]))
        .init(init_i64("zero", &[], &[0]))
        .init(init_i64("axes", &[1], &[0]))
        .init(init_i64("minus_one", &[1], &[-1]))
        .node(node("Shape", &["x"], &["s"]))
        .node(with(node("Gather", &["s", "zero"], &["b"]), vec![int("axis", 0)]))
        .node(node("Unsqueeze", &["b", "axes"], &["b1"]))
        .node(with(node("Concat", &["b1", "minus_one"], &["target"]), vec![int("axis", 0)]))
        .node(node("Reshape", &["x", "target"], &["y"]))
        .output(f32_value("y", &[D::P("batch"), D::V(6)]))
}

#[test]
fn shape_chains_give_static_types_once_inputs_are_bound() {
    let opts = ImportOptions { input_shapes: vec![("x".into(), vec![2, 2, 3])], ..Default::default() };
    let m = shape_chain().import_with(&opts).unwrap();
    let printed = text(&m);
    assert!(printed.contains("func @main(%arg0: tensor<2x2x3xf32>) -> tensor<2x6xf32>"), "{printed}");
    let y = run(&m, vec![f32s(&[2, 2, 3], &[0.0; 12])]);
    assert_eq!(y[0].shape, vec![2, 6]);
}

#[test]
fn without_bindings_the_output_type_comes_from_the_model_hint() {
    let m = shape_chain().module();
    let printed = text(&m);
    // Inference cannot know batch through Reshape; the declared output
    // type fills in what it left unknown.
    assert!(printed.contains("-> tensor<[batch]x6xf32>"), "{printed}");
    let y = run(&m, vec![f32s(&[4, 2, 3], &[1.0; 24])]);
    assert_eq!(y[0].shape, vec![4, 6]);
}

#[test]
fn value_info_refines_unknown_dims() {
    let mut model = Model::new(13)
        .input(f32_value("x", &[D::V(2), D::V(3)]))
        .input(value("shape", DataType::Int64, &[D::V(2)]))
        .node(node("Reshape", &["x", "shape"], &["r"]))
        .node(node("Relu", &["r"], &["y"]))
        .output(f32_value("y", &[]));
    model.outputs[0].r#type = None;
    let plain = text(&model.module());
    assert!(plain.contains("-> tensor<?x?xf32>"), "{plain}");
    model.value_info.push(f32_value("r", &[D::V(3), D::V(2)]));
    let hinted = text(&model.module());
    assert!(hinted.contains("-> tensor<3x2xf32>"), "{hinted}");
}
