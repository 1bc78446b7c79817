//! Every class of bad model the ONNX issue names, through the command line:
//! each gives a diagnostic naming the file (and the node or input at fault)
//! on standard error, exit code 1, and no output file.

use std::path::{Path, PathBuf};
use std::process::Command;

/// One bad model: a file name, its ONNX text, extra flags, and a piece of
/// the message the user must see.
struct BadModel {
    file: &'static str,
    text: &'static str,
    flags: &'static [&'static str],
    message: &'static str,
}

const CASES: &[BadModel] = &[
    BadModel {
        file: "cycle.onnxtxt",
        text: "<ir_version: 8, opset_import: [\"\" : 17]>\ng (float[2] x) => (float[2] y) {\n  a = Add (x, b)\n  b = Relu (a)\n  y = Relu (b)\n}\n",
        flags: &[],
        message: "cycle",
    },
    BadModel {
        file: "missing.onnxtxt",
        text: "<ir_version: 8, opset_import: [\"\" : 17]>\ng (float[2] x) => (float[2] y) {\n  y = Add (x, w)\n}\n",
        flags: &[],
        message: "'w'",
    },
    BadModel {
        file: "shape.onnxtxt",
        text: "<ir_version: 8, opset_import: [\"\" : 17]>\ng (float[N, 4] x) => (float[N, 4] y) {\n  y = Relu (x)\n}\n",
        flags: &["--input-shape", "x=2x3x4"],
        message: "x",
    },
    BadModel {
        file: "unsupported.onnxtxt",
        text: "<ir_version: 8, opset_import: [\"\" : 17]>\ng (float[2] x) => (float[2] y) {\n  y = LeakyRelu (x)\n}\n",
        flags: &[],
        message: "unsupported ONNX op 'LeakyRelu'",
    },
    BadModel {
        file: "opset.onnxtxt",
        text: "<ir_version: 10, opset_import: [\"\" : 22]>\ng (float[2] x) => (float[2] y) {\n  y = Relu (x)\n}\n",
        flags: &[],
        message: "22",
    },
    BadModel {
        file: "huge.onnxtxt",
        text: "<ir_version: 8, opset_import: [\"\" : 17]>\ng (float[1048576, 1048576, 2] x) => (float[1048576, 1048576, 2] y) {\n  y = Relu (x)\n}\n",
        flags: &[],
        message: "2^40",
    },
];

fn scratch() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("weft-bad-models-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn check(dir: &Path, case: &BadModel) -> Option<String> {
    let model = dir.join(case.file);
    std::fs::write(&model, case.text).unwrap();
    let out = dir.join(format!("{}.weft", case.file));
    let o = Command::new(env!("CARGO_BIN_EXE_weft"))
        .arg("import")
        .arg(&model)
        .args(case.flags)
        .arg("-o")
        .arg(&out)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    let problem = if o.status.code() != Some(1) {
        format!("exit code {:?}, expected 1", o.status.code())
    } else if !stderr.contains(case.file) || !stderr.contains(case.message) {
        format!("the message lacks '{}' or '{}'", case.file, case.message)
    } else if out.exists() {
        "an output file was written".to_string()
    } else if stderr.contains("panicked") {
        "weft panicked".to_string()
    } else {
        return None;
    };
    Some(format!("{}: {problem}; stderr:\n{stderr}", case.file))
}

#[test]
fn bad_models_are_diagnosed_with_exit_code_1() {
    let dir = scratch();
    let failures: Vec<String> = CASES.iter().filter_map(|c| check(&dir, c)).collect();
    let _ = std::fs::remove_dir_all(&dir);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
