//! `--nonlinear` on `weft run --quant` and `weft accuracy MODEL --quant`
//! with the testsuite's BERT: the methods change the quantized program, and
//! impossible requests (3-bit softmax for the LUT method, a table for a
//! 16-bit softmax input, an unknown method or op) are diagnostics with exit
//! code 1 that name the place (the config entry, or the op's location).
//! The other impossible requests of issue 5 (a per-channel axis that does
//! not exist, calibration files of the wrong shape or dtype) are in
//! tests/cli_quant.rs.

mod cli_util;

use cli_util::{code, path_str, scratch, stderr, stdout, weft};
use serde_json::Value;
use std::path::{Path, PathBuf};

fn model() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("testsuite/models/bert_tiny_opset17.onnx")
}

fn batch1() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("testsuite/models/bert_tiny_opset17/inputs/batch1")
}

fn input(name: &str) -> String {
    format!("{name}={}", batch1().join(format!("{name}.npy")).display())
}

/// `weft run --engine interp MODEL --quant SCHEME --nonlinear NL` on batch1.
fn run_quant(scheme: &str, nonlinear: &str) -> std::process::Output {
    let (ids, mask) = (input("input_ids"), input("attention_mask"));
    let m = model();
    let args =
        ["run", "--engine", "interp", path_str(&m), "--quant", scheme, "--nonlinear", nonlinear, "--input", &ids];
    let mut args = args.to_vec();
    args.extend(["--input", &mask]);
    weft(&args)
}

/// `weft accuracy MODEL --quant w8a8 --nonlinear NL --json` on batch1.
fn accuracy(nonlinear: &str) -> Value {
    let (m, inputs) = (model(), batch1());
    let args = ["accuracy", path_str(&m), "--quant", "w8a8", "--nonlinear", nonlinear, "--inputs", path_str(&inputs)];
    let mut args = args.to_vec();
    args.push("--json");
    let o = weft(&args);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    serde_json::from_str(&stdout(&o)).unwrap()
}

fn cosine(report: &Value) -> f64 {
    report["outputs"]["last_hidden_state"]["cosine_mean"].as_f64().unwrap()
}

#[test]
fn methods_change_the_quantized_program() {
    let (quark, ibert, float) = (accuracy("quark"), accuracy("ibert"), accuracy("float"));
    assert_eq!(quark["nonlinear"], "quark");
    assert_eq!(float["nonlinear"], "float");
    let (q, i, f) = (cosine(&quark), cosine(&ibert), cosine(&float));
    assert!(q > 0.99 && i > 0.99 && f > 0.99, "quark {q}, ibert {i}, float {f}");
    assert!(q != f && i != f && q != i, "quark {q}, ibert {i}, float {f}");
    let mixed = accuracy("ibert,softmax=quark");
    assert_eq!(mixed["nonlinear"], "ibert,softmax=quark");
    assert!(cosine(&mixed) != i, "the softmax override changes the program");
    let o = run_quant("w8a8", "ibert");
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(stdout(&o).contains("last_hidden_state"), "{}", stdout(&o));
}

#[test]
fn three_bit_softmax_is_a_diagnostic() {
    let dir = scratch("quant-errors");
    let config = dir.join("softmax3.toml");
    std::fs::write(&config, "[[layer]]\nop = \"nn.softmax\"\nacts = 3\n").unwrap();
    let o = run_quant(path_str(&config), "softmax=lut");
    assert_eq!(code(&o), 1);
    let want = "softmax3.toml: 'acts' in [[layer]] #1: expected activation bits from 4 to 16, got '3'";
    assert!(stderr(&o).contains(want), "{}", stderr(&o));
    let m = model();
    let o = weft(&["accuracy", path_str(&m), "--quant", path_str(&config), "--nonlinear", "lut"]);
    assert_eq!(code(&o), 1);
    assert!(stderr(&o).contains(want), "{}", stderr(&o));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_table_for_a_wide_input_is_a_diagnostic_at_the_op() {
    // Softmax's input (the masked attention scores) is quantized at the
    // wide 16 bits; tables cover at most 8.
    let o = run_quant("w8a8", "softmax=lut");
    assert_eq!(code(&o), 1);
    let e = stderr(&o);
    assert!(
        e.contains(
            "error: lower-nonlinear: 'quant.softmax' op cannot be lowered with method 'lut': its input has 16 bits"
        ),
        "{e}"
    );
    assert!(e.contains("at loc(\"/encoder/layer.0/attention/self/Softmax\")"), "{e}");
    assert!(stdout(&o).is_empty(), "no output after an error: {}", stdout(&o));
}

#[test]
fn bad_nonlinear_values() {
    let o = run_quant("w8a8", "gelu=fast");
    assert_eq!(code(&o), 1);
    assert!(stderr(&o)
        .contains("--nonlinear 'gelu=fast': 'gelu=fast': expected 'quark', 'quark-log', 'ibert' or 'lut', got 'fast'"));
    let o = run_quant("w8a8", "matmul=lut");
    assert_eq!(code(&o), 1);
    assert!(stderr(&o).contains("'matmul' is not a quantized nonlinear op"), "{}", stderr(&o));
    let m = model();
    let o = weft(&["run", path_str(&m), "--nonlinear", "quark", "--input", &input("input_ids")]);
    assert_eq!(code(&o), 2, "--nonlinear requires --quant: {}", stderr(&o));
    let o = weft(&["accuracy", "--ops", "--nonlinear", "quark"]);
    assert_eq!(code(&o), 2, "--nonlinear is for a model: {}", stderr(&o));
}
