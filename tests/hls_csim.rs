//! `weft compile` end to end: the testsuite's BERT-like and ViT-like models
//! at W8A8, W1A8 and W4A4 (quark nonlinear units), and BERT at W1A6 on a
//! small budget, become HLS projects whose `make csim` (plain g++, -Wall
//! -Wextra) compiles without a warning and reproduces the reference's output
//! bits (the testbench prints PASS); the engines' tiles, unrolling and word
//! follow the parameters the report shows (tile-and-pack's choice); and bad
//! requests are diagnostics with exit code 1 and no output directory.

mod cli_util;

use cli_util::{code, path_str, scratch, stderr, weft};
use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn model(name: &str) -> PathBuf {
    root().join(format!("testsuite/models/{name}.onnx"))
}

fn inputs(name: &str) -> PathBuf {
    root().join(format!("testsuite/models/{name}/inputs/batch1"))
}

/// A parameter `name=V` of the report's row for `engine`.
fn report_param(report: &str, engine: &str, name: &str) -> u64 {
    let row = report.lines().find(|l| l.split_whitespace().next() == Some(engine)).unwrap_or_default();
    let prefix = format!("{name}=");
    let value = row.split_whitespace().find_map(|w| w.strip_prefix(prefix.as_str()));
    value.and_then(|v| v.parse().ok()).unwrap_or_else(|| panic!("no {name} for {engine} in:\n{report}"))
}

/// The kernel's engines are the design of the report: the FC tiles are
/// `t_m` rows by blocks of `t_in`, the weight tile has `t_out` columns, the
/// attention tiles likewise, and the activation word is the report's.
fn check_parameters(kernel: &str, header: &str, report: &str) {
    let (fi, fo, fm) =
        (report_param(report, "fc", "t_in"), report_param(report, "fc", "t_out"), report_param(report, "fc", "t_m"));
    let a_tile = kernel.lines().find(|l| l.contains("static fc_act_t a_tile[")).unwrap_or_default();
    assert!(
        a_tile.starts_with(&format!("  static fc_act_t a_tile[{fm}][")) && a_tile.ends_with(&format!("][{fi}];")),
        "{a_tile}\n{report}"
    );
    let w_tile = kernel.lines().find(|l| l.contains("static fc_wt_t w_tile[")).unwrap_or_default();
    assert!(w_tile.ends_with(&format!("][{fi}][{fo}];")), "{w_tile}\n{report}");
    let (ai, ao) = (report_param(report, "attn", "t_in"), report_param(report, "attn", "t_out"));
    let b_tile = kernel.lines().find(|l| l.contains("static attn_b_t b_tile[")).unwrap_or_default();
    assert!(b_tile.ends_with(&format!("][{ai}][{ao}];")), "{b_tile}\n{report}");
    let word =
        report.lines().find_map(|l| l.split(", ").find_map(|p| p.strip_suffix("-bit AXI words"))).unwrap_or_default();
    assert!(header.contains(&format!("#define WEFT_WORD_BITS {word}\n")), "{word}\n{header}");
    let lanes = report_param(report, "nonlinear", "lanes");
    if lanes > 1 {
        assert!(kernel.contains(&format!("WEFT_PRAGMA(HLS UNROLL factor={lanes})")), "lanes={lanes}");
    }
}

/// Compiles `name` at `scheme`, runs `make csim`, checks PASS and no warning.
fn compile_and_simulate(name: &str, scheme: &str) {
    compile_and_simulate_with(name, scheme, &[]);
}

fn compile_and_simulate_with(name: &str, scheme: &str, extra: &[&str]) {
    let dir = scratch(&format!("hls-{name}-{scheme}"));
    let out = dir.join("project");
    let (m, i) = (model(name), inputs(name));
    let mut args = vec!["compile", path_str(&m), "--quant", scheme, "--inputs", path_str(&i), "-o", path_str(&out)];
    args.extend_from_slice(extra);
    let o = weft(&args);
    assert_eq!(code(&o), 0, "{name} {scheme}: {}", stderr(&o));
    for f in
        ["kernel.cpp", "kernel.h", "tb.cpp", "weights.bin", "weights.manifest", "Makefile", "run_hls.tcl", "README.md"]
    {
        assert!(out.join(f).is_file(), "{name} {scheme}: {f} is missing");
    }
    let kernel = std::fs::read_to_string(out.join("kernel.cpp")).unwrap();
    assert!(kernel.contains("WEFT_PRAGMA(HLS ALLOCATION function instances=unit_exp2 limit=1)"), "{name} {scheme}");
    assert!(kernel.contains("fc_engine(") && kernel.contains("attn_engine("), "{name} {scheme}");
    let header = std::fs::read_to_string(out.join("kernel.h")).unwrap();
    check_parameters(&kernel, &header, &std::fs::read_to_string(out.join("report.txt")).unwrap());
    let tcl = std::fs::read_to_string(out.join("run_hls.tcl")).unwrap();
    assert!(tcl.contains("set_part {xczu9eg-ffvb1156-2-e}"), "{tcl}");
    let make = Command::new("make")
        .arg("-C")
        .arg(&out)
        .arg("csim")
        .output()
        .expect("make and g++ are needed for the HLS C simulation (.ci/run installs them)");
    let log = format!("{}{}", String::from_utf8_lossy(&make.stdout), String::from_utf8_lossy(&make.stderr));
    assert!(make.status.success(), "{name} {scheme}: make csim failed:\n{log}");
    assert!(log.lines().any(|l| l.trim() == "PASS"), "{name} {scheme}: no PASS:\n{log}");
    assert!(!log.contains("warning"), "{name} {scheme}: g++ warned:\n{log}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bert_like_model_simulates_bit_exactly() {
    for scheme in ["w8a8", "w1a8", "w4a4"] {
        compile_and_simulate("bert_tiny_opset17", scheme);
    }
}

/// 6-bit activations and a small budget: tile-and-pack picks 128-bit words
/// (21 fields, one straddling the words' 64-bit lanes) and attention tiles
/// that do not divide the 7-token sequence.
#[test]
fn small_budget_w1a6_design_simulates_bit_exactly() {
    compile_and_simulate_with("bert_tiny_opset17", "w1a6", &["--cap", "0.05"]);
}

#[test]
fn vit_like_model_simulates_bit_exactly() {
    for scheme in ["w8a8", "w1a8", "w4a4"] {
        compile_and_simulate("vit_tiny_opset17", scheme);
    }
}

/// A float `Relu` that no quantized op absorbs: no engine executes it.
const RELU: &str =
    "<ir_version: 8, opset_import: [\"\" : 17]>\nrelu (float[2,3] x) => (float[2,3] y)\n{\n   y = Relu (x)\n}\n";

fn npy_f32_2x3() -> Vec<u8> {
    let mut header = b"{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }".to_vec();
    while !(10 + header.len() + 1).is_multiple_of(64) {
        header.push(b' ');
    }
    header.push(b'\n');
    let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
    bytes.extend_from_slice(&(header.len() as u16).to_le_bytes());
    bytes.extend_from_slice(&header);
    for v in [-1.0f32, 0.5, 2.0, -0.25, 3.0, 1.0] {
        bytes.extend_from_slice(&v.to_le_bytes());
    }
    bytes
}

#[test]
fn bad_requests_exit_1_and_leave_no_directory() {
    let dir = scratch("hls-bad");
    let model_path = dir.join("relu.onnxtxt");
    std::fs::write(&model_path, RELU).unwrap();
    let ins = dir.join("inputs");
    std::fs::create_dir_all(&ins).unwrap();
    std::fs::write(ins.join("x.npy"), npy_f32_2x3()).unwrap();
    let out = dir.join("project");
    let o =
        weft(&["compile", path_str(&model_path), "--quant", "w8a8", "--inputs", path_str(&ins), "-o", path_str(&out)]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(stderr(&o).contains("op nn.relu has no engine in the HLS backend"), "{}", stderr(&o));
    assert!(!out.exists());
    assert!(std::fs::read_dir(&dir).unwrap().all(|e| !e.unwrap().file_name().to_string_lossy().contains("weft-tmp")));

    let (m, i) = (model("bert_tiny_opset17"), inputs("bert_tiny_opset17"));
    let o = weft(&[
        "compile",
        path_str(&m),
        "--quant",
        "w8a8",
        "--inputs",
        path_str(&i),
        "--board",
        "zcu999",
        "-o",
        path_str(&out),
    ]);
    assert_eq!(code(&o), 1);
    assert!(stderr(&o).contains("unknown board 'zcu999'"), "{}", stderr(&o));
    assert!(!out.exists());

    let o = weft(&["compile", path_str(&m), "--quant", "w9a9", "--inputs", path_str(&i), "-o", path_str(&out)]);
    assert_eq!(code(&o), 1);
    assert!(stderr(&o).contains("--quant 'w9a9' is neither a scheme nor a file"), "{}", stderr(&o));

    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(out.join("notes.txt"), "mine").unwrap();
    let o = weft(&["compile", path_str(&m), "--quant", "w8a8", "--inputs", path_str(&i), "-o", path_str(&out)]);
    assert_eq!(code(&o), 1);
    assert!(stderr(&o).contains("already exists"), "{}", stderr(&o));
    // --force replaces only a project weft wrote.
    let args = ["compile", path_str(&m), "--quant", "w8a8", "--inputs", path_str(&i), "-o", path_str(&out), "--force"];
    let o = weft(&args);
    assert_eq!(code(&o), 1);
    assert!(stderr(&o).contains("is not a project weft wrote"), "{}", stderr(&o));
    assert!(out.join("notes.txt").is_file());
    let _ = std::fs::remove_dir_all(&out);
    assert_eq!(code(&weft(&args[..8])), 0);
    let first = std::fs::read(out.join("kernel.cpp")).unwrap();
    let o = weft(&args);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(std::fs::read(out.join("kernel.cpp")).unwrap(), first, "the same input gives the same project");
    assert!(std::fs::read_dir(&dir).unwrap().all(|e| !e.unwrap().file_name().to_string_lossy().starts_with('.')));
    let _ = std::fs::remove_dir_all(&dir);
}
