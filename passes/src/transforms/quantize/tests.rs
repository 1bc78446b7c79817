//! End-to-end tests of the pass on small programs: what it produces, that
//! the result verifies and computes close to the float program, and its
//! errors. Printed outputs are covered by testsuite/lit/quantize/.

use super::calibrate::random_inputs;
use super::config::parse_config;
use super::Quantize;
use crate::{Pass, PassContext};
use weft_ir::interp::run_function;
use weft_ir::parser::parse_str;
use weft_ir::tensor::{Tensor, TensorData};
use weft_ir::verify::verify_module;
use weft_ir::{Context, Diagnostic, Module};

/// x @ W + b, relu, @ W2, with x: 4x8 and a 16-wide hidden layer.
fn mlp() -> String {
    let w1: Vec<String> = (0..8 * 16).map(|i| format!("{:.3}", ((i * 37 % 29) as f64 - 14.0) / 20.0)).collect();
    let b1: Vec<String> = (0..16).map(|i| format!("{:.2}", (i as f64 - 8.0) / 10.0)).collect();
    let w2: Vec<String> = (0..16 * 3).map(|i| format!("{:.3}", ((i * 11 % 17) as f64 - 8.0) / 10.0)).collect();
    let rows =
        |v: &[String], n: usize| v.chunks(n).map(|r| format!("[{}]", r.join(", "))).collect::<Vec<_>>().join(", ");
    format!(
        "func @main(%x: tensor<4x8xf32>) -> tensor<4x3xf32> {{
  %w1 = constant dense<[{}]> : tensor<8x16xf32> loc(\"fc1.weight\")
  %b1 = constant dense<[{}]> : tensor<16xf32>
  %w2 = constant dense<[{}]> : tensor<16x3xf32>
  %h = nn.matmul %x, %w1 : (tensor<4x8xf32>, tensor<8x16xf32>) -> tensor<4x16xf32> loc(\"/fc1/MatMul\")
  %hb = nn.add %h, %b1 : (tensor<4x16xf32>, tensor<16xf32>) -> tensor<4x16xf32> loc(\"/fc1/Add\")
  %r = nn.relu %hb : tensor<4x16xf32> loc(\"/act/Relu\")
  %y = nn.matmul %r, %w2 : (tensor<4x16xf32>, tensor<16x3xf32>) -> tensor<4x3xf32> loc(\"/fc2/MatMul\")
  return %y : tensor<4x3xf32>
}}",
        rows(&w1, 16),
        b1.join(", "),
        rows(&w2, 3)
    )
}

fn parse(text: &str) -> Module {
    parse_str(&Context::default(), "test.weft", text).1.unwrap()
}

fn quantize(m: &mut Module, pass: &mut Quantize) -> Result<Vec<Diagnostic>, Diagnostic> {
    let ctx = Context::default();
    let mut cx = PassContext::new(&ctx);
    pass.run(m, &mut cx)?;
    verify_module(m).unwrap_or_else(|d| panic!("{d:?}"));
    Ok(cx.warnings)
}

fn floats(t: &Tensor) -> Vec<f64> {
    match &t.data {
        TensorData::F32(v) => v.iter().map(|&x| f64::from(x)).collect(),
        other => panic!("f32 expected, got {other:?}"),
    }
}

fn op_names(m: &Module) -> Vec<&'static str> {
    let f = &m.funcs[0];
    f.walk().into_iter().map(|op| f.ops[op].name()).filter(|n| *n != "builtin.constant").collect()
}

/// The RMS difference between the float and quantized programs' outputs
/// on `inputs`, relative to the float output's RMS.
fn relative_error(float: &Module, quantized: &Module, inputs: Vec<Tensor>) -> f64 {
    let want = floats(&run_function(float, &float.funcs[0], inputs.clone()).unwrap()[0]);
    let got = floats(&run_function(quantized, &quantized.funcs[0], inputs).unwrap()[0]);
    let diff: f64 = want.iter().zip(&got).map(|(a, b)| (a - b).powi(2)).sum();
    let norm: f64 = want.iter().map(|a| a * a).sum();
    (diff / norm).sqrt()
}

/// [`relative_error`] averaged over 8 random inputs (min/max calibration
/// on a few hundred samples covers them, so saturation stays rare).
fn mean_error(float: &Module, quantized: &Module) -> f64 {
    let inputs = random_inputs(&float.funcs[0], 8, 99).unwrap();
    inputs.into_iter().map(|i| relative_error(float, quantized, i)).sum::<f64>() / 8.0
}

#[test]
fn an_mlp_becomes_integer_matmuls_with_a_folded_bias() {
    let float = parse(&mlp());
    let samples = random_inputs(&float.funcs[0], 256, 1).unwrap();
    let mut q = float.clone();
    let warnings = quantize(&mut q, &mut Quantize::default().with_samples(samples)).unwrap();
    assert!(warnings.is_empty());
    assert_eq!(
        op_names(&q),
        [
            "quant.quantize",
            "quant.qmatmul",
            "quant.requantize",
            "quant.dequantize",
            "nn.relu",
            "quant.quantize",
            "quant.qmatmul",
            "quant.requantize",
            "quant.dequantize",
            "builtin.return"
        ]
    );
    let e = mean_error(&float, &q);
    assert!(e < 0.03, "W8A8 relative error {e}");
}

#[test]
fn fewer_bits_cost_accuracy_and_binary_weights_still_run() {
    let float = parse(&mlp());
    let samples = random_inputs(&float.funcs[0], 16, 1).unwrap();
    let input = random_inputs(&float.funcs[0], 1, 5).unwrap().remove(0);
    let error = |scheme: &str| {
        let mut q = float.clone();
        let file = parse_config(&format!("scheme = \"{scheme}\"")).unwrap();
        quantize(&mut q, &mut Quantize::with_config(file).with_samples(samples.clone())).unwrap();
        relative_error(&float, &q, input.clone())
    };
    let (e8, e4, e1) = (error("w8a8"), error("w4a4"), error("w1a8"));
    assert!(e8 < e4, "w8a8 {e8} vs w4a4 {e4}");
    assert!(e1.is_finite() && e1 > e8, "w1a8 {e1}");
}

#[test]
fn without_samples_it_warns_and_draws_reproducible_ones() {
    let float = parse(&mlp());
    let (mut a, mut b) = (float.clone(), float.clone());
    let warnings = quantize(&mut a, &mut Quantize::default()).unwrap();
    quantize(&mut b, &mut Quantize::default()).unwrap();
    assert_eq!(warnings.len(), 1);
    assert!(warnings[0].message.contains("calibrating on 8 random samples (seed 0)"), "{}", warnings[0].message);
    assert_eq!(weft_ir::printer::print_module(&a), weft_ir::printer::print_module(&b));
}

#[test]
fn bad_requests_are_errors_and_change_nothing() {
    let float = parse(&mlp());
    let mut m = float.clone();
    let mut pass = Quantize::default();
    pass.set_option("channel-axis", "2").unwrap();
    let e = quantize(&mut m, &mut pass).unwrap_err();
    assert_eq!(
        e.message,
        "'nn.matmul' op per-channel axis 2 does not exist in its weights of rank 2 (tensor<8x16xf32>)"
    );
    assert_eq!(weft_ir::printer::print_module(&m), weft_ir::printer::print_module(&float));
    pass.set_option("channel-axis", "0").unwrap();
    let e = quantize(&mut m, &mut pass).unwrap_err();
    assert!(
        e.message.contains("must be along the output channels (axis 1 of tensor<8x16xf32>), got axis 0"),
        "{}",
        e.message
    );
    let wrong =
        vec![vec![Tensor { elem: weft_ir::ElemType::F32, shape: vec![4, 7], data: TensorData::F32(vec![0.0; 28]) }]];
    let e = quantize(&mut m, &mut Quantize::default().with_samples(wrong)).unwrap_err();
    assert_eq!(
        e.message,
        "function '@main': calibration sample #0: input 'arg0' has extent 7 in dimension 1, but tensor<4x8xf32> needs 8"
    );
}

#[test]
fn skipped_layers_stay_float() {
    let float = parse(&mlp());
    let file = parse_config("[[layer]]\nmatch = \"/fc2/*\"\nskip = true\n").unwrap();
    let mut q = float.clone();
    quantize(&mut q, &mut Quantize::with_config(file)).unwrap();
    let names = op_names(&q);
    assert_eq!(names.iter().filter(|n| **n == "quant.qmatmul").count(), 1);
    assert_eq!(names.iter().filter(|n| **n == "nn.matmul").count(), 1);
}

#[test]
fn attention_scores_scale_and_residuals_stay_integer() {
    let text = "func @main(%q: tensor<2x4x8xf32>, %k: tensor<2x8x4xf32>) -> tensor<2x4x4xf32> {
  %s = nn.matmul %q, %k : (tensor<2x4x8xf32>, tensor<2x8x4xf32>) -> tensor<2x4x4xf32>
  %c = constant dense<2.828427> : tensor<f32>
  %d = nn.div %s, %c : (tensor<2x4x4xf32>, tensor<f32>) -> tensor<2x4x4xf32>
  %t = nn.transpose %d {perm = [0, 2, 1]} : tensor<2x4x4xf32>
  %a = nn.add %d, %t : tensor<2x4x4xf32>
  return %a : tensor<2x4x4xf32>
}";
    let float = parse(text);
    let mut q = float.clone();
    let samples = random_inputs(&float.funcs[0], 256, 1).unwrap();
    quantize(&mut q, &mut Quantize::default().with_samples(samples)).unwrap();
    assert_eq!(
        op_names(&q),
        [
            "quant.quantize",
            "quant.quantize",
            "quant.qmatmul",
            "quant.requantize",
            "quant.qmul",
            "nn.transpose",
            "quant.qadd",
            "quant.dequantize",
            "builtin.return"
        ]
    );
    let e = mean_error(&float, &q);
    assert!(e < 0.03, "relative error {e}");
}

#[test]
fn nonlinear_ops_become_their_quant_counterparts() {
    let text = "func @main(%x: tensor<2x8xf32>) -> tensor<2x8xf32> {
  %p = nn.softmax %x {axis = 1} : tensor<2x8xf32>
  return %p : tensor<2x8xf32>
}";
    let ctx = Context::default();
    let float = parse(text);
    let mut q = float.clone();
    let mut cx = PassContext::new(&ctx);
    let samples = random_inputs(&float.funcs[0], 64, 3).unwrap();
    Quantize::default().with_samples(samples).run(&mut q, &mut cx).unwrap();
    verify_module(&q).unwrap();
    assert_eq!(op_names(&q), ["quant.quantize", "quant.softmax", "quant.dequantize", "builtin.return"]);
    assert_eq!(cx.stat("quantized-nonlinear"), 1);
    let e = mean_error(&float, &q);
    assert!(e < 0.01, "16-bit softmax relative error {e}");
}

#[test]
fn options_override_the_config_file_top_level_whatever_their_order() {
    let path = std::env::temp_dir().join(format!("weft-quantize-options-{}.toml", std::process::id()));
    std::fs::write(&path, "acts = 6\nweights = \"int4\"\n[[layer]]\nmatch = \"/fc2/*\"\nweights = \"binary\"\n")
        .unwrap();
    let mut pass = Quantize::default();
    pass.set_option("acts", "12").unwrap();
    pass.set_option("config", path.to_str().unwrap()).unwrap();
    let config = pass.config();
    assert_eq!((config.base.acts, config.base.weights), (12, super::scheme::WeightFormat::Int(4)));
    let fc2 = config.precision_for(&["/fc2/MatMul"], "nn.matmul");
    assert_eq!(fc2.weights, super::scheme::WeightFormat::Binary);
    let values = pass.option_values();
    assert!(values.contains(&("config", path.to_str().unwrap().to_string())));
    assert!(values.contains(&("acts", "12".to_string())));
    let e = pass.set_option("config", "/nonexistent/weft.toml").unwrap_err();
    assert!(e.starts_with("cannot read '/nonexistent/weft.toml'"), "{e}");
    let _ = std::fs::remove_file(&path);
}
