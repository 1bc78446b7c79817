//! The onnx dialect in weft text: a module using the ops parses with the
//! dialect registered, verifies (shape inference agrees with the declared
//! types, symbolic dims included), and prints back to the same text.

use weft_ir::diag::render_all;
use weft_ir::ops::Context;
use weft_ir::parser::parse_str;
use weft_ir::printer::print_module;
use weft_ir::verify::verify_module;

fn context() -> Context {
    let mut cx = Context::default();
    cx.register(&weft_frontend::dialect::DIALECT);
    cx
}

/// Parses and verifies `text`, or returns the rendered diagnostics.
fn check(text: &str) -> Result<String, String> {
    let (sources, parsed) = parse_str(&context(), "input.weft", text);
    let module = parsed.map_err(|d| render_all(&d, &sources))?;
    verify_module(&module).map_err(|d| render_all(&d, &sources))?;
    Ok(print_module(&module))
}

/// The text without `//` comment lines.
fn without_comments(text: &str) -> String {
    text.lines().filter(|l| !l.trim_start().starts_with("//")).map(|l| format!("{l}\n")).collect()
}

#[test]
fn first_group_ops_parse_verify_and_round_trip() {
    let text = include_str!("data/onnx_elementwise.weft");
    let printed = check(text).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(printed, without_comments(text));
    assert_eq!(check(&printed).as_deref(), Ok(printed.as_str()));
}

#[test]
fn type_errors_are_reported_at_the_op() {
    let text = "func @f(%a: tensor<4xf32>, %b: tensor<4xi64>) {\n  \
                %0 = onnx.Add %a, %b : (tensor<4xf32>, tensor<4xi64>) -> tensor<4xf32>\n  return\n}\n";
    let err = check(text).unwrap_err();
    assert!(err.contains("'onnx.Add' op operand #1 (B) has element type i64 but operand #0 (A) has f32"), "{err}");
    assert!(err.contains("input.weft:2:"), "{err}");
}

#[test]
fn declared_results_must_match_inference() {
    let text = "func @f(%a: tensor<2x4xf32>, %s: tensor<4xf32>) {\n  \
                %0 = onnx.ReduceSum %a : (tensor<2x4xf32>) -> tensor<2x1xf32>\n  \
                %1:4 = onnx.LayerNormalization %a, %s : (tensor<2x4xf32>, tensor<4xf32>) -> (tensor<2x4xf32>, tensor<2x1xf32>, tensor<2x1xf32>, tensor<2x1xf32>)\n  \
                return\n}\n";
    let err = check(text).unwrap_err();
    assert!(
        err.contains(
            "'onnx.ReduceSum' op result #0 has type tensor<2x1xf32>, but shape inference gives tensor<1x1xf32>"
        ),
        "{err}"
    );
    assert!(err.contains("'onnx.LayerNormalization' op has 4 results, but shape inference gives 3 results"), "{err}");
}
