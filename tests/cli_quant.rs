//! `weft run --quant` and `weft accuracy MODEL --quant` on the testsuite's
//! BERT: what succeeds, what the report says, and the diagnostics for bad
//! requests (exit code 1) and bad usage (exit code 2).

mod cli_util;

use cli_util::{code, path_str, scratch, stderr, stdout, weft};
use std::path::{Path, PathBuf};

fn model() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("testsuite/models/bert_tiny_opset17.onnx")
}

fn case(input: &str) -> String {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("testsuite/models/bert_tiny_opset17/inputs/batch1");
    format!("{input}={}", dir.join(format!("{input}.npy")).display())
}

fn batch1() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("testsuite/models/bert_tiny_opset17/inputs/batch1").display().to_string()
}

#[test]
fn run_quantized_with_calibration_files() {
    let m = model();
    let (ids, mask, calib) = (case("input_ids"), case("attention_mask"), batch1());
    let o = weft(&[
        "run",
        "--engine=interp",
        path_str(&m),
        "--quant",
        "w8a8",
        "--calibrate",
        &calib,
        "--input",
        &ids,
        "--input",
        &mask,
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(stdout(&o).starts_with("last_hidden_state: shape 1x7x64 f32"), "{}", stdout(&o));
    assert!(!stderr(&o).contains("warning"), "{}", stderr(&o));
    let o = weft(&["run", "--engine=interp", path_str(&m), "--quant", "w1a8", "--input", &ids, "--input", &mask]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(stderr(&o).contains("warning: no calibration samples were given"), "{}", stderr(&o));
}

#[test]
fn accuracy_reports_cosine_similarity_per_output() {
    let m = model();
    let args = ["accuracy", path_str(&m), "--quant", "w8a8", "--samples", "4", "--input-shape", "input_ids=1x7"];
    let mut args = args.to_vec();
    args.extend(["--input-shape", "attention_mask=1x7", "--json"]);
    let o = weft(&args);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    let out = &v["outputs"]["last_hidden_state"];
    let (mean, min) = (out["cosine_mean"].as_f64().unwrap(), out["cosine_min"].as_f64().unwrap());
    assert!(mean > 0.99 && min <= mean && mean <= 1.0, "{v}");
    assert!(out["max_abs_err"].as_f64().unwrap() > 0.0);
    assert!(v["outputs"]["pooler_output"]["cosine_mean"].as_f64().is_some());
    assert_eq!(v["inputs"], "4 random inputs (seed 1)");
    // The JIT as the float reference gives the same similarity.
    args.extend(["--engine", "jit"]);
    let o = weft(&args);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let jit: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    let jit_mean = jit["outputs"]["last_hidden_state"]["cosine_mean"].as_f64().unwrap();
    assert!((jit_mean - mean).abs() < 1e-6, "{jit_mean} vs {mean}");
    // Calibrated and evaluated on the fixture: shapes come from the files.
    let calib = batch1();
    let o = weft(&["accuracy", path_str(&m), "--quant", "w4a8", "--calibrate", &calib, "--inputs", &calib]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(stdout(&o).contains("inputs:      1 inputs from"), "{}", stdout(&o));
}

#[test]
fn bad_requests_are_diagnostics() {
    let m = model();
    let (ids, mask) = (case("input_ids"), case("attention_mask"));
    let o = weft(&["run", "--engine=interp", path_str(&m), "--quant", "w9a8", "--input", &ids, "--input", &mask]);
    assert_eq!(code(&o), 1);
    assert!(stderr(&o).contains("--quant 'w9a8' is neither a scheme nor a file"), "{}", stderr(&o));
    let dir = scratch("quant-config");
    let config = dir.join("axis.toml");
    std::fs::write(&config, "[[layer]]\nop = \"nn.matmul\"\nchannel-axis = 5\n").unwrap();
    let o = weft(&[
        "run",
        "--engine=interp",
        path_str(&m),
        "--quant",
        path_str(&config),
        "--input",
        &ids,
        "--input",
        &mask,
    ]);
    assert_eq!(code(&o), 1);
    assert!(stderr(&o).contains("per-channel axis 5 does not exist in its weights of rank 2"), "{}", stderr(&o));
    // Calibration files of the wrong shape: batch2 holds two sequences of 10.
    let batch2 = batch1().replace("batch1", "batch2");
    let o = weft(&[
        "run",
        "--engine=interp",
        path_str(&m),
        "--quant",
        "w8a8",
        "--calibrate",
        &batch2,
        "--input",
        &ids,
        "--input",
        &mask,
    ]);
    assert_eq!(code(&o), 1);
    assert!(
        stderr(&o).contains("input_ids.npy' has extent 2 in dimension 0, but tensor<1x7xi64> needs 1"),
        "{}",
        stderr(&o)
    );
    // ... and of the wrong dtype.
    let floats = dir.join("calib");
    std::fs::create_dir_all(&floats).unwrap();
    std::fs::copy(batch1() + "/attention_mask.npy", floats.join("attention_mask.npy")).unwrap();
    let header = b"\x93NUMPY\x01\x00v\x00{'descr': '<f4', 'fortran_order': False, 'shape': (1, 7), }";
    let mut npy = header.to_vec();
    npy.resize(10 + 0x76, b' ');
    npy[10 + 0x75] = b'\n';
    npy.extend(std::iter::repeat_n(0u8, 28));
    std::fs::write(floats.join("input_ids.npy"), npy).unwrap();
    let o = weft(&[
        "run",
        "--engine=interp",
        path_str(&m),
        "--quant",
        "w8a8",
        "--calibrate",
        path_str(&floats),
        "--input",
        &ids,
        "--input",
        &mask,
    ]);
    assert_eq!(code(&o), 1);
    assert!(stderr(&o).contains("has element type f32, but i64 is expected"), "{}", stderr(&o));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn usage_errors() {
    let m = model();
    let (ids, mask) = (case("input_ids"), case("attention_mask"));
    let o = weft(&["accuracy", path_str(&m)]);
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("--quant SCHEME"), "{}", stderr(&o));
    let o = weft(&["run", path_str(&m), "--calibrate", "x", "--input", &ids, "--input", &mask]);
    assert_eq!(code(&o), 2, "--calibrate requires --quant");
}

/// Each engine also calibrates (the JIT compiles the float program with
/// every observed value as a result): the same bytes mean the same
/// calibration, so the same quantized program.
#[test]
fn quantized_runs_give_the_same_bytes_on_both_engines() {
    let m = model();
    let (ids, mask) = (case("input_ids"), case("attention_mask"));
    let dir = std::env::temp_dir().join(format!("weft-quant-engines-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut outputs = Vec::new();
    for engine in ["jit", "interp"] {
        let out = dir.join(engine);
        let o = weft(&[
            "run",
            path_str(&m),
            "--quant",
            "w8a8",
            "--engine",
            engine,
            "--input",
            &ids,
            "--input",
            &mask,
            "-o",
            path_str(&out),
        ]);
        assert_eq!(code(&o), 0, "{engine}: {}", stderr(&o));
        let mut files: Vec<_> = std::fs::read_dir(&out).unwrap().map(|e| e.unwrap().path()).collect();
        files.sort();
        assert!(!files.is_empty(), "{engine} wrote no outputs");
        outputs.push(files.iter().map(|f| std::fs::read(f).unwrap()).collect::<Vec<_>>());
    }
    assert_eq!(outputs[0], outputs[1], "the JIT's quantized outputs differ from the interpreter's");
    let _ = std::fs::remove_dir_all(&dir);
}
