//! Models quantized by onnxruntime's own tools (written by
//! `scripts/make-quantized-fixtures.py` into target/models/quantized/, not
//! committed; the test says so and passes when they are absent): imported,
//! legalized with `onnx-to-nn` (which folds the QDQ pairs into integer ops)
//! and run with the reference interpreter, they must match onnxruntime's
//! outputs, and the QDQ model's matmuls must have become integer matmuls.

mod legalize_util;

use legalize_util::{compare, context, foreign_ops, import_bound, legalize, read_npy, run};
use std::path::Path;

const INPUTS: &str = "testsuite/models/bert_tiny_opset17/inputs/batch1";

fn check(name: &str, atol: f64) -> Option<Vec<&'static str>> {
    let dir = Path::new("target/models/quantized");
    let model = dir.join(format!("{name}.onnx"));
    if !model.exists() {
        eprintln!("{} is absent: run scripts/make-quantized-fixtures.py to test it", model.display());
        return None;
    }
    let inputs: Vec<(String, weft_ir::Tensor)> = ["input_ids", "attention_mask"]
        .iter()
        .map(|n| (n.to_string(), read_npy(&Path::new(INPUTS).join(format!("{n}.npy"))).unwrap()))
        .collect();
    let ctx = context();
    let mut module = import_bound(&model, &ctx, &inputs).unwrap();
    legalize(&mut module, &ctx).unwrap();
    let args: Vec<weft_ir::Tensor> = inputs.into_iter().map(|(_, t)| t).collect();
    let outputs = run(&module, &args).unwrap();
    for (t, output) in outputs.iter().zip(["last_hidden_state", "pooler_output"]) {
        let want = read_npy(&dir.join(name).join(format!("expected/batch1/{output}.npy"))).unwrap();
        compare(t, &want, 0.0, atol).unwrap_or_else(|e| panic!("{name} {output}: {e}"));
    }
    let f = &module.funcs[0];
    let ops: Vec<&'static str> = f.walk().into_iter().map(|op| f.ops[op].name()).collect();
    assert!(foreign_ops(&module).iter().all(|n| n.starts_with("quant.")), "{:?}", foreign_ops(&module));
    Some(ops)
}

#[test]
fn qdq_models_fold_into_integer_matmuls_and_match_onnxruntime() {
    let Some(ops) = check("bert_tiny_qdq", 1e-5) else { return };
    let count = |name| ops.iter().filter(|&&n| n == name).count();
    assert!(count("quant.qmatmul") >= 16, "{} integer matmuls", count("quant.qmatmul"));
    assert_eq!(count("nn.matmul"), 1, "only the float pooler Gemm's matmul stays float");
}

#[test]
fn dynamically_quantized_models_match_onnxruntime() {
    check("bert_tiny_dynamic", 1e-5);
}
