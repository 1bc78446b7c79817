//! The second group of `onnx` ops (shape, indexing, linear algebra,
//! convolution, resize, quantization) in weft text: a program registered,
//! parsed and verified, shape inference reading inline constant shape
//! operands and carrying symbolic dims, and the diagnostics of a wrongly
//! declared result type.

use weft_ir::diag::render_all;
use weft_ir::ops::Context;
use weft_ir::parser::parse_str;
use weft_ir::verify::verify_module;

fn context() -> Context {
    let mut ctx = Context::default();
    ctx.register(&weft_frontend::dialect::DIALECT);
    ctx
}

/// Parses and verifies `text`; returns the rendered diagnostics, if any.
fn check(text: &str) -> Result<(), String> {
    let ctx = context();
    let (sources, parsed) = parse_str(&ctx, "test.weft", text);
    let module = parsed.map_err(|d| render_all(&d, &sources))?;
    verify_module(&module).map_err(|d| render_all(&d, &sources))
}

const ATTENTION_HEADS: &str = r#"
func @heads(%x: tensor<[batch]x128x768xf32>, %w: tensor<768x768xf32>, %ids: tensor<[batch]x128xi64>, %emb: tensor<1000x768xf32>) -> (tensor<[batch]x12x128x64xf32>, tensor<[batch]x12x128x128xf32>, tensor<2xi64>) {
  %shape = constant dense<[0, 0, 12, 64]> : tensor<4xi64>
  %0 = onnx.MatMul %x, %w : (tensor<[batch]x128x768xf32>, tensor<768x768xf32>) -> tensor<[batch]x128x768xf32>
  %e = onnx.Gather %emb, %ids {axis = 0} : (tensor<1000x768xf32>, tensor<[batch]x128xi64>) -> tensor<[batch]x128x768xf32>
  %1 = onnx.Reshape %0, %shape : (tensor<[batch]x128x768xf32>, tensor<4xi64>) -> tensor<[batch]x128x12x64xf32>
  %2 = onnx.Transpose %1 {perm = [0, 2, 1, 3]} : (tensor<[batch]x128x12x64xf32>) -> tensor<[batch]x12x128x64xf32>
  %3 = onnx.Einsum %2, %2 {equation = "bhqd,bhkd->bhqk"} : (tensor<[batch]x12x128x64xf32>, tensor<[batch]x12x128x64xf32>) -> tensor<[batch]x12x128x128xf32>
  %4 = onnx.Shape %x {end = 2} : (tensor<[batch]x128x768xf32>) -> tensor<2xi64>
  return %2, %3, %4 : tensor<[batch]x12x128x64xf32>, tensor<[batch]x12x128x128xf32>, tensor<2xi64>
}
"#;

#[test]
fn attention_heads_verify() {
    assert_eq!(check(ATTENTION_HEADS), Ok(()));
}

#[test]
fn slicing_splitting_and_shape_building_verify() {
    let text = r#"
func @pieces(%x: tensor<[batch]x512x768xf32>, %n: tensor<i64>) -> (tensor<[batch]x128x768xf32>, tensor<[batch]x512x256xf32>, tensor<[batch]x512x512xf32>, tensor<?xi64>, tensor<3xi64>, tensor<1x128xi64>) {
  %starts = constant dense<[0]> : tensor<1xi64>
  %ends = constant dense<[128]> : tensor<1xi64>
  %axes = constant dense<[1]> : tensor<1xi64>
  %split = constant dense<[256, 512]> : tensor<2xi64>
  %zero = constant dense<0> : tensor<i64>
  %one = constant dense<1> : tensor<i64>
  %dims = constant dense<[1, 128]> : tensor<2xi64>
  %u = constant dense<[0]> : tensor<1xi64>
  %0 = onnx.Slice %x, %starts, %ends, %axes : (tensor<[batch]x512x768xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<[batch]x128x768xf32>
  %1:2 = onnx.Split %x, %split {axis = 2} : (tensor<[batch]x512x768xf32>, tensor<2xi64>) -> (tensor<[batch]x512x256xf32>, tensor<[batch]x512x512xf32>)
  %2 = onnx.Range %zero, %n, %one : (tensor<i64>, tensor<i64>, tensor<i64>) -> tensor<?xi64>
  %3 = onnx.Unsqueeze %n, %u : (tensor<i64>, tensor<1xi64>) -> tensor<1xi64>
  %4 = onnx.Concat %3, %dims {axis = 0} : (tensor<1xi64>, tensor<2xi64>) -> tensor<3xi64>
  %5 = onnx.ConstantOfShape %dims {value = dense<[1]> : tensor<1xi64>} : (tensor<2xi64>) -> tensor<1x128xi64>
  return %0, %1#0, %1#1, %2, %4, %5 : tensor<[batch]x128x768xf32>, tensor<[batch]x512x256xf32>, tensor<[batch]x512x512xf32>, tensor<?xi64>, tensor<3xi64>, tensor<1x128xi64>
}
"#;
    assert_eq!(check(text), Ok(()));
}

#[test]
fn vision_and_quantization_ops_verify() {
    let text = r#"
func @vision(%img: tensor<1x3x224x224xf32>, %w: tensor<768x3x16x16xf32>, %b: tensor<768xf32>) -> (tensor<1x768x196xf32>, tensor<1x3x448x448xf32>, tensor<1x768x196xi8>, tensor<1x768x196xf32>, tensor<1x768x196xu8>) {
  %empty = constant dense<0.0> : tensor<0xf32>
  %scales = constant dense<[1.0, 1.0, 2.0, 2.0]> : tensor<4xf32>
  %scale = constant dense<0.05> : tensor<f32>
  %zp = constant dense<3> : tensor<i8>
  %0 = onnx.Conv %img, %w, %b {kernel_shape = [16, 16], strides = [16, 16]} : (tensor<1x3x224x224xf32>, tensor<768x3x16x16xf32>, tensor<768xf32>) -> tensor<1x768x14x14xf32>
  %1 = onnx.Flatten %0 {axis = 2} : (tensor<1x768x14x14xf32>) -> tensor<768x196xf32>
  %shape = constant dense<[1, 768, 196]> : tensor<3xi64>
  %2 = onnx.Reshape %0, %shape : (tensor<1x768x14x14xf32>, tensor<3xi64>) -> tensor<1x768x196xf32>
  %3 = onnx.Resize %img, %empty, %scales {mode = "linear"} : (tensor<1x3x224x224xf32>, tensor<0xf32>, tensor<4xf32>) -> tensor<1x3x448x448xf32>
  %4 = onnx.QuantizeLinear %2, %scale, %zp : (tensor<1x768x196xf32>, tensor<f32>, tensor<i8>) -> tensor<1x768x196xi8>
  %5 = onnx.DequantizeLinear %4, %scale, %zp : (tensor<1x768x196xi8>, tensor<f32>, tensor<i8>) -> tensor<1x768x196xf32>
  %6:3 = onnx.DynamicQuantizeLinear %5 : (tensor<1x768x196xf32>) -> (tensor<1x768x196xu8>, tensor<f32>, tensor<u8>)
  return %2, %3, %4, %5, %6#0 : tensor<1x768x196xf32>, tensor<1x3x448x448xf32>, tensor<1x768x196xi8>, tensor<1x768x196xf32>, tensor<1x768x196xu8>
}
"#;
    assert_eq!(check(text), Ok(()));
}

#[test]
fn a_wrong_declared_shape_is_reported_at_the_op() {
    let text = r#"
func @bad(%x: tensor<2x6xf32>) -> tensor<3x5xf32> {
  %shape = constant dense<[3, -1]> : tensor<2xi64>
  %0 = onnx.Reshape %x, %shape : (tensor<2x6xf32>, tensor<2xi64>) -> tensor<3x5xf32>
  return %0 : tensor<3x5xf32>
}
"#;
    let err = check(text).unwrap_err();
    assert!(err.contains("shape inference gives tensor<3x4xf32>"), "{err}");
    assert!(err.contains("test.weft:4"), "{err}");
}

#[test]
fn an_inference_error_is_reported_with_its_reason() {
    let text = r#"
func @bad(%x: tensor<2x3xf32>, %y: tensor<4x5xf32>) -> tensor<2x5xf32> {
  %0 = onnx.MatMul %x, %y : (tensor<2x3xf32>, tensor<4x5xf32>) -> tensor<2x5xf32>
  return %0 : tensor<2x5xf32>
}
"#;
    let err = check(text).unwrap_err();
    assert!(err.contains("contraction dims differ"), "{err}");
}

/// The ops of the second group, whose description examples are checked.
const SECOND_GROUP: &[&str] = &[
    "Reshape",
    "Transpose",
    "Flatten",
    "Squeeze",
    "Unsqueeze",
    "Expand",
    "Shape",
    "Size",
    "ConstantOfShape",
    "Range",
    "Gather",
    "GatherND",
    "Slice",
    "Concat",
    "Split",
    "MatMul",
    "Gemm",
    "Einsum",
    "Conv",
    "ConvTranspose",
    "QuantizeLinear",
    "DequantizeLinear",
    "DynamicQuantizeLinear",
    "MatMulInteger",
    "QLinearMatMul",
    "Resize",
];

/// Splits `a, b, c` at top-level commas (outside `<>` and `()`).
fn split_top(s: &str) -> Vec<String> {
    let (mut depth, mut cur, mut out) = (0i32, String::new(), Vec::new());
    for c in s.chars() {
        match c {
            '<' | '(' => depth += 1,
            '>' | ')' => depth -= 1,
            ',' if depth == 0 => {
                out.push(cur.trim().to_string());
                cur.clear();
                continue;
            }
            _ => {}
        }
        cur.push(c);
    }
    if !cur.trim().is_empty() {
        out.push(cur.trim().to_string());
    }
    out
}

/// A function whose arguments are the example's operands, with the
/// example as its body.
fn example_program(line: &str, op: &str) -> String {
    let after_op = &line[line.find(op).map(|i| i + op.len()).unwrap_or(0)..];
    let operands_end = after_op.find(" {").or_else(|| after_op.find(" : ")).unwrap_or(after_op.len());
    let operands = split_top(&after_op[..operands_end]);
    let sig = &line[line.rfind(" : ").map(|i| i + 3).unwrap_or(0)..];
    let types = match sig.strip_prefix('(') {
        Some(rest) => split_top(&rest[..rest.find(") ->").unwrap_or(rest.len())]),
        None => vec![sig.to_string(); operands.len()],
    };
    let args: Vec<String> = operands.iter().zip(&types).map(|(o, t)| format!("{o}: {t}")).collect();
    format!("func @example({}) {{\n  {line}\n  return\n}}\n", args.join(", "))
}

#[test]
fn every_description_example_parses_and_verifies() {
    for op in weft_frontend::dialect::DIALECT.ops {
        let short = op.name.trim_start_matches("onnx.");
        if !SECOND_GROUP.contains(&short) {
            continue;
        }
        let block = op.description.split("```").nth(1).unwrap_or_else(|| panic!("{} has no example", op.name));
        let line = block.trim();
        assert!(line.contains(op.name), "{}'s example does not use it: {line}", op.name);
        let program = example_program(line, op.name);
        assert_eq!(check(&program), Ok(()), "{}'s example:\n{program}", op.name);
    }
    let covered = weft_frontend::dialect::DIALECT
        .ops
        .iter()
        .filter(|o| SECOND_GROUP.contains(&o.name.trim_start_matches("onnx.")))
        .count();
    assert_eq!(covered, SECOND_GROUP.len());
}
