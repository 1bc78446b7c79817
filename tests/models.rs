//! End to end on real-shaped models: every case of the manifests
//! `testsuite/models/models.json` (small BERT and ViT models shaped like
//! PyTorch exports) and, when fetched, `target/models/*/models.json` (real
//! exported models such as paraphrase-MiniLM-L3-v2) is run with
//! `weft run -o` by each engine (the JIT and the interpreter) and compared
//! with onnxruntime's outputs, elementwise `|actual - expected| <= atol +
//! rtol * |expected|`.
//!
//! A manifest that is absent is skipped (the fetched models are not
//! committed); one that is present must pass completely.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The committed manifest of small models.
const COMMITTED: &str = "testsuite/models/models.json";

/// Manifests of fetched real models (`scripts/fetch-minilm.sh`), if any.
fn fetched_manifests() -> Vec<PathBuf> {
    let Ok(dirs) = std::fs::read_dir("target/models") else { return Vec::new() };
    let mut fetched: Vec<PathBuf> = dirs.filter_map(|d| Some(d.ok()?.path().join("models.json"))).collect();
    fetched.sort();
    fetched.into_iter().filter(|p| p.exists()).collect()
}

/// The file name `weft run -o` gives an output.
fn output_file(name: &str) -> String {
    let stem: String =
        name.chars().map(|c| if c.is_ascii_alphanumeric() || "._-".contains(c) { c } else { '_' }).collect();
    format!("{stem}.npy")
}

fn read_f64s(path: &Path) -> (Vec<u64>, Vec<f64>) {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let npy = npyz::NpyFile::new(&bytes[..]).unwrap();
    let shape = npy.shape().to_vec();
    let values = match npy.dtype().descr().as_str() {
        "'<f4'" => npy.into_vec::<f32>().unwrap().into_iter().map(f64::from).collect(),
        "'<i8'" => npy.into_vec::<i64>().unwrap().into_iter().map(|v| v as f64).collect(),
        other => panic!("{}: dtype {other} not handled by this test", path.display()),
    };
    (shape, values)
}

fn str_of<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key].as_str().unwrap_or_else(|| panic!("manifest: '{key}' is not a string"))
}

/// The engines every case runs with.
const ENGINES: [&str; 2] = ["jit", "interp"];

fn run_case(dir: &Path, model: &Value, case: &Value, engine: &str, out: &Path) -> Vec<String> {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_weft"));
    cmd.arg("run").arg(dir.join(str_of(model, "model"))).arg("--engine").arg(engine);
    for (name, file) in case["inputs"].as_object().into_iter().flatten() {
        cmd.arg("--input").arg(format!("{name}={}", dir.join(file.as_str().unwrap_or_default()).display()));
    }
    let o = cmd.arg("-o").arg(out).output().unwrap();
    let label = format!("{} {} ({engine})", str_of(model, "name"), str_of(case, "name"));
    if !o.status.success() {
        return vec![format!("{label}: weft run failed: {}", String::from_utf8_lossy(&o.stderr))];
    }
    let (rtol, atol) = (model["rtol"].as_f64().unwrap_or(1e-4), model["atol"].as_f64().unwrap_or(1e-5));
    let mut failures = Vec::new();
    for (name, file) in case["expected"].as_object().into_iter().flatten() {
        let (want_shape, want) = read_f64s(&dir.join(file.as_str().unwrap_or_default()));
        let (got_shape, got) = read_f64s(&out.join(output_file(name)));
        if got_shape != want_shape {
            failures.push(format!("{label} {name}: shape {got_shape:?}, expected {want_shape:?}"));
            continue;
        }
        let worst =
            got.iter().zip(&want).map(|(g, w)| (g - w).abs() - (atol + rtol * w.abs())).fold(f64::MIN, f64::max);
        if worst > 0.0 {
            failures.push(format!("{label} {name}: off by {worst:e} beyond the tolerance"));
        }
    }
    failures
}

/// Runs every case of `manifests` with every engine; returns the number
/// of runs and the failures.
fn run_manifests(manifests: &[PathBuf], scratch_tag: &str) -> (usize, Vec<String>) {
    let scratch = std::env::temp_dir().join(format!("weft-models-{scratch_tag}-{}", std::process::id()));
    std::fs::create_dir_all(&scratch).unwrap();
    let mut failures = Vec::new();
    let mut cases = 0;
    for manifest in manifests {
        let dir = manifest.parent().unwrap_or(Path::new("."));
        let json: Value = serde_json::from_str(&std::fs::read_to_string(manifest).unwrap()).unwrap();
        for model in json["models"].as_array().into_iter().flatten() {
            for case in model["cases"].as_array().into_iter().flatten() {
                for engine in ENGINES {
                    let name = format!("{}-{}-{engine}", str_of(model, "name"), str_of(case, "name"));
                    failures.extend(run_case(dir, model, case, engine, &scratch.join(name)));
                    cases += 1;
                }
            }
        }
    }
    let _ = std::fs::remove_dir_all(&scratch);
    (cases, failures)
}

#[test]
fn committed_models_match_onnxruntime() {
    let (cases, failures) = run_manifests(&[PathBuf::from(COMMITTED)], "committed");
    eprintln!("{cases} model runs");
    assert!(cases > 0, "{COMMITTED} lists no case");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Real exported models are fetched, not committed: when none is present
/// this test says it is skipped (it has checked nothing).
#[test]
fn fetched_models_match_onnxruntime() {
    let manifests = fetched_manifests();
    if manifests.is_empty() {
        eprintln!(
            "SKIPPED: no fetched model under target/models (scripts/fetch-minilm.sh fetches paraphrase-MiniLM-L3-v2)"
        );
        return;
    }
    let (cases, failures) = run_manifests(&manifests, "fetched");
    eprintln!("{cases} fetched-model runs ({})", manifests.len());
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
