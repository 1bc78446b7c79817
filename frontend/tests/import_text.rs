//! The importer on models written in the ONNX text syntax (`.onnxtxt`),
//! through `import_proto`.

mod import_util;

use import_util::*;
use std::path::Path;
use weft_frontend::import::{import_proto, ImportOptions};
use weft_frontend::onnx::text::parse_onnx_text_str;
use weft_ir::Module;

fn import_text(name: &str, text: &str, opts: &ImportOptions) -> Result<Module, Vec<String>> {
    let (_, proto) = parse_onnx_text_str(name, text);
    let proto = proto.map_err(|d| messages(&d))?;
    import_proto(proto, Path::new(name), &ctx(), opts).map_err(|d| messages(&d))
}

/// An opset-11 encoder block in miniature: LayerNorm written out with
/// ReduceMean (axes attribute), Softmax with the old default axis, an
/// Unsqueeze with an axes attribute.
const OPSET11: &str = r#"<ir_version: 6, opset_import: ["" : 11]>
block (float[batch,4] x) => (float[batch,1,4] y) <float eps = {1e-5}> {
   mean = ReduceMean <axes = [-1]> (x)
   d = Sub (x, mean)
   sq = Mul (d, d)
   var = ReduceMean <axes = [-1]> (sq)
   ve = Add (var, eps)
   sd = Sqrt (ve)
   n = Div (d, sd)
   p = Softmax (n)
   y = Unsqueeze <axes = [1]> (p)
}
"#;

#[test]
fn an_opset_11_text_model_imports_and_runs() {
    let m = import_text("block.onnxtxt", OPSET11, &ImportOptions::default()).unwrap();
    let printed = text(&m);
    assert!(printed.contains("onnx.opset = 11"), "{printed}");
    assert!(printed.contains("-> tensor<[batch]x1x4xf32>"), "{printed}");
    let x = f32s(&[2, 4], &[1.0, 2.0, 3.0, 4.0, -1.0, -1.0, 1.0, 1.0]);
    let y = run(&m, vec![x]);
    assert_eq!(y[0].shape, vec![2, 1, 4]);
    let row = values(&y[0]);
    // Each row is a distribution; the second row is [-1, -1, 1, 1]
    // normalized: two equal low and two equal high probabilities.
    assert!((row[..4].iter().sum::<f32>() - 1.0).abs() < 1e-6);
    assert!((row[4..].iter().sum::<f32>() - 1.0).abs() < 1e-6);
    assert_close(&row[4..5], &row[5..6]);
    assert!(row[7] > row[4]);
}

#[test]
fn bindings_apply_to_text_models() {
    let opts = ImportOptions { input_shapes: vec![("x".into(), vec![3, 4])], ..Default::default() };
    let m = import_text("block.onnxtxt", OPSET11, &opts).unwrap();
    assert!(text(&m).contains("func @main(%arg0: tensor<3x4xf32>) -> tensor<3x1x4xf32>"), "{}", text(&m));
}

#[test]
fn resize_in_opset_11_gets_empty_roi_and_scales() {
    let model = r#"<ir_version: 6, opset_import: ["" : 11]>
up (float[1,1,2,2] x) => (float[1,1,4,4] y) <int64[4] sizes = {1, 1, 4, 4}> {
   y = Resize <mode = "nearest"> (x, , , sizes)
}
"#;
    let m = import_text("up.onnxtxt", model, &ImportOptions::default()).unwrap();
    assert!(text(&m).contains("dense<[]> : tensor<0xf32>"), "{}", text(&m));
    let y = run(&m, vec![f32s(&[1, 1, 2, 2], &[1.0, 2.0, 3.0, 4.0])]);
    let v = values(&y[0]);
    assert_eq!(v[..4], [1.0, 1.0, 2.0, 2.0]);
    assert_eq!(v[12..], [3.0, 3.0, 4.0, 4.0]);
    let old_mode = model.replace("mode = \"nearest\"", "coordinate_transformation_mode = \"tf_half_pixel_for_nn\"");
    let e = import_text("up.onnxtxt", &old_mode, &ImportOptions::default()).unwrap_err();
    assert!(e[0].starts_with("up.onnxtxt: node 'Resize_0' (Resize): coordinate_transformation_mode"), "{e:?}");
}

#[test]
fn errors_in_text_models_name_the_file() {
    let model = r#"<ir_version: 8, opset_import: ["" : 17]>
g (float[2] x) => (float[2] y) {
   y = Add (x, missing)
}
"#;
    let e = import_text("g.onnxtxt", model, &ImportOptions::default()).unwrap_err();
    assert_eq!(e, ["g.onnxtxt: missing initializer or value 'missing' used by node 'Add_0' (Add)"]);
}
