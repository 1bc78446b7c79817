//! Older opset forms are converted to opset 21's, and compute what they
//! computed: checked by running the imported modules in the interpreter.

mod import_util;

use import_util::*;

fn x23() -> weft_ir::Tensor {
    f32s(&[2, 3], &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
}

fn unary(opset: i64, n: weft_frontend::onnx::proto::NodeProto, out: &[D]) -> Model {
    Model::new(opset).input(f32_value("x", &[D::V(2), D::V(3)])).node(n).output(f32_value("y", out))
}

#[test]
fn reduce_axes_attributes_become_inputs() {
    for (op, opset, want) in
        [("ReduceMean", 17, vec![2.0, 5.0]), ("ReduceMax", 13, vec![3.0, 6.0]), ("ReduceSum", 11, vec![6.0, 15.0])]
    {
        let n = with(node(op, &["x"], &["y"]), vec![ints("axes", &[1]), int("keepdims", 0)]);
        let m = unary(opset, n, &[D::V(2)]).module();
        let printed = text(&m);
        assert!(printed.contains("constant dense<[1]> : tensor<1xi64>"), "{op}: {printed}");
        assert!(!printed.contains("axes = "), "{op}: the attribute is gone: {printed}");
        assert_close(&values(&run(&m, vec![x23()])[0]), &want);
    }
}

#[test]
fn reduce_in_current_opsets_keeps_its_inputs() {
    let m = Model::new(18)
        .input(f32_value("x", &[D::V(2), D::V(3)]))
        .init(init_i64("axes", &[1], &[0]))
        .node(with(node("ReduceMean", &["x", "axes"], &["y"]), vec![int("keepdims", 0)]))
        .output(f32_value("y", &[D::V(3)]))
        .module();
    assert_close(&values(&run(&m, vec![x23()])[0]), &[2.5, 3.5, 4.5]);
}

#[test]
fn squeeze_and_unsqueeze_axes_become_inputs() {
    let m = Model::new(11)
        .input(f32_value("x", &[D::V(2), D::V(3)]))
        .node(with(node("Unsqueeze", &["x"], &["u"]), vec![ints("axes", &[0, 3])]))
        .node(with(node("Squeeze", &["u"], &["y"]), vec![ints("axes", &[3])]))
        .output(f32_value("y", &[D::V(1), D::V(2), D::V(3)]))
        .module();
    assert!(text(&m).contains("tensor<1x2x3x1xf32>"), "{}", text(&m));
    let y = run(&m, vec![x23()]);
    assert_eq!(y[0].shape, vec![1, 2, 3]);
}

#[test]
fn split_attribute_becomes_an_input_and_equal_splits_get_num_outputs() {
    let with_split = Model::new(11)
        .input(f32_value("x", &[D::V(2), D::V(3)]))
        .node(with(node("Split", &["x"], &["a", "b"]), vec![int("axis", 1), ints("split", &[1, 2])]))
        .output(f32_value("a", &[D::V(2), D::V(1)]))
        .output(f32_value("b", &[D::V(2), D::V(2)]))
        .module();
    let out = run(&with_split, vec![x23()]);
    assert_close(&values(&out[0]), &[1.0, 4.0]);
    assert_close(&values(&out[1]), &[2.0, 3.0, 5.0, 6.0]);

    let equal = Model::new(13)
        .input(f32_value("x", &[D::V(2), D::V(3)]))
        .node(with(node("Split", &["x"], &["a", "b"]), vec![int("axis", 0)]))
        .output(f32_value("a", &[D::V(1), D::V(3)]))
        .output(f32_value("b", &[D::V(1), D::V(3)]))
        .module();
    assert!(text(&equal).contains("num_outputs = 2"), "{}", text(&equal));
    let out = run(&equal, vec![x23()]);
    assert_close(&values(&out[1]), &[4.0, 5.0, 6.0]);
}

fn softmax_rows(v: &[f32]) -> Vec<f32> {
    let max = v.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let e: Vec<f32> = v.iter().map(|x| (x - max).exp()).collect();
    let s: f32 = e.iter().sum();
    e.iter().map(|x| x / s).collect()
}

#[test]
fn old_softmax_on_the_last_axis_is_the_new_one() {
    let n = with(node("Softmax", &["x"], &["y"]), vec![int("axis", 1)]);
    let m = unary(11, n, &[D::V(2), D::V(3)]).module();
    assert!(!text(&m).contains("onnx.Flatten"), "{}", text(&m));
    let want: Vec<f32> = [softmax_rows(&[1.0, 2.0, 3.0]), softmax_rows(&[4.0, 5.0, 6.0])].concat();
    assert_close(&values(&run(&m, vec![x23()])[0]), &want);
}

#[test]
fn old_softmax_on_an_inner_axis_normalizes_the_flattened_rows() {
    // Opset 11, axis 1 of a 2x2x2 input: each batch row of 4 values is
    // normalized together (opset 13 would normalize along axis 1 only).
    let m = Model::new(11)
        .input(f32_value("x", &[D::V(2), D::V(2), D::V(2)]))
        .node(node("Softmax", &["x"], &["y"]))
        .output(f32_value("y", &[D::V(2), D::V(2), D::V(2)]))
        .module();
    let printed = text(&m);
    assert!(printed.contains("onnx.Flatten") && printed.contains("onnx.Reshape"), "{printed}");
    let x = f32s(&[2, 2, 2], &[1.0, 2.0, 3.0, 4.0, 0.0, 0.0, 0.0, 1.0]);
    let want = [softmax_rows(&[1.0, 2.0, 3.0, 4.0]), softmax_rows(&[0.0, 0.0, 0.0, 1.0])].concat();
    let y = run(&m, vec![x]);
    assert_eq!(y[0].shape, vec![2, 2, 2]);
    assert_close(&values(&y[0]), &want);
}

#[test]
fn log_softmax_converts_like_softmax() {
    let n = with(node("LogSoftmax", &["x"], &["y"]), vec![int("axis", 0)]);
    let m = unary(12, n, &[D::V(2), D::V(3)]).module();
    let y = values(&run(&m, vec![x23()])[0]);
    let want: Vec<f32> = softmax_rows(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]).iter().map(|p| p.ln()).collect();
    assert_close(&y, &want);
}

#[test]
fn clip_without_min_gets_the_lowest_value() {
    let m = Model::new(13)
        .input(f32_value("x", &[D::V(2), D::V(3)]))
        .init(init_f32("max", &[], &[2.5]))
        .node(node("Clip", &["x", "", "max"], &["y"]))
        .output(f32_value("y", &[D::V(2), D::V(3)]))
        .module();
    assert!(text(&m).contains("-3.4028235e38"), "{}", text(&m));
    assert_close(&values(&run(&m, vec![x23()])[0]), &[1.0, 2.0, 2.5, 2.5, 2.5, 2.5]);
}

#[test]
fn slice_without_axes_but_with_steps_gets_the_default_axes() {
    let m = Model::new(13)
        .input(f32_value("x", &[D::V(2), D::V(3)]))
        .init(init_i64("starts", &[2], &[0, 2]))
        .init(init_i64("ends", &[2], &[2, -4]))
        .init(init_i64("steps", &[2], &[1, -2]))
        .node(node("Slice", &["x", "starts", "ends", "", "steps"], &["y"]))
        .output(f32_value("y", &[D::V(2), D::V(2)]))
        .module();
    assert!(text(&m).contains("dense<[0, 1]> : tensor<2xi64>"), "{}", text(&m));
    assert_close(&values(&run(&m, vec![x23()])[0]), &[3.0, 1.0, 6.0, 4.0]);
}

#[test]
fn omitted_inputs_without_a_default_are_errors() {
    let e = Model::new(13)
        .input(f32_value("x", &[D::V(2), D::V(3)]))
        .init(init_f32("b", &[3], &[0.0; 3]))
        .node(node("Gemm", &["x", "", "b"], &["y"]))
        .output(f32_value("y", &[D::V(2), D::V(3)]))
        .error();
    assert_eq!(
        e,
        "test.onnx: node 'Gemm_y' (Gemm): optional input #1 is omitted before a present one, which weft does not \
         support for Gemm"
    );
}
