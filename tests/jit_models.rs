//! Differential test of the JIT against the interpreter on real-shaped
//! models: every case of testsuite/models/models.json (and of fetched
//! manifests under target/models/, when present) is imported with the
//! case's input shapes bound, legalized with `onnx-to-nn`, and run by both
//! engines. Every output must agree bit for bit (spec/jit.md: the JIT
//! computes the reference semantics exactly, f32 matmuls included); the
//! JIT's outputs must also match onnxruntime's at the manifest's
//! tolerance. Prints `N passed, M failed`.

mod legalize_util;

use legalize_util::{compare, context, import_bound, legalize, read_npy, run};
use serde_json::Value;
use std::path::{Path, PathBuf};
use weft_ir::tensor::Scalar;
use weft_ir::Tensor;

fn manifests() -> Vec<PathBuf> {
    let mut found = vec![PathBuf::from("testsuite/models/models.json")];
    if let Ok(dirs) = std::fs::read_dir("target/models") {
        let mut fetched: Vec<PathBuf> = dirs.filter_map(|d| Some(d.ok()?.path().join("models.json"))).collect();
        fetched.sort();
        found.extend(fetched);
    }
    found.into_iter().filter(|p| p.exists()).collect()
}

fn text<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key].as_str().unwrap_or_default()
}

fn tensors(dir: &Path, files: &Value) -> Result<Vec<(String, Tensor)>, String> {
    let Some(map) = files.as_object() else { return Err("not an object".into()) };
    map.iter().map(|(name, file)| Ok((name.clone(), read_npy(&dir.join(file.as_str().unwrap_or_default()))?))).collect()
}

/// Checks one case of one model; a failure message, or what it measured.
fn check_case(dir: &Path, model: &Value, case: &Value) -> Result<String, String> {
    let inputs = tensors(dir, &case["inputs"])?;
    let expected = tensors(dir, &case["expected"])?;
    let ctx = context();
    let mut module = import_bound(&dir.join(text(model, "model")), &ctx, &inputs)?;
    legalize(&mut module, &ctx).map_err(|e| format!("onnx-to-nn: {e}"))?;
    let func = module.funcs.first().ok_or("no function")?;
    let names = weft_ir::interp::input_names(func);
    let args: Vec<Tensor> = names
        .iter()
        .map(|n| inputs.iter().find(|(k, _)| k == n).map(|(_, t)| t.clone()).ok_or(format!("no input '{n}'")))
        .collect::<Result<_, _>>()?;
    let started = std::time::Instant::now();
    let want = run(&module, &args).map_err(|e| format!("interp: {e}"))?;
    let interp_time = started.elapsed();
    let compiled = weft_backends::jit::compile(&module, func).map_err(|d| format!("jit compile: {}", d.message))?;
    let started = std::time::Instant::now();
    let got = compiled.run(args).map_err(|d| format!("jit run: {}", d.message))?;
    let jit_time = started.elapsed();
    let outputs = weft_ir::interp::output_names(func);
    let (rtol, atol) = (model["rtol"].as_f64().unwrap_or(1e-4), model["atol"].as_f64().unwrap_or(1e-5));
    for ((name, g), w) in outputs.iter().zip(&got).zip(&want) {
        identical(g, w).map_err(|e| format!("{name} jit vs interp: {e}"))?;
        if let Some((_, ort)) = expected.iter().find(|(n, _)| n == name) {
            compare(g, ort, rtol, atol).map_err(|e| format!("{name} jit vs onnxruntime: {e}"))?;
        }
    }
    let s = compiled.stats();
    Ok(format!(
        "{} kernels, peak {} bytes, compiled in {:.1?}, ran in {jit_time:.1?} (interpreter {interp_time:.1?})",
        s.kernels, s.peak_bytes, s.compile_time
    ))
}

/// Bit-identical tensors (any NaN equals any NaN).
fn identical(got: &Tensor, want: &Tensor) -> Result<(), String> {
    if got.elem != want.elem || got.shape != want.shape {
        return Err(format!("got {} {:?}, expected {} {:?}", got.elem, got.shape, want.elem, want.shape));
    }
    let bits = |s: Scalar| match s {
        Scalar::Float(x) if x.is_nan() => u64::MAX,
        Scalar::Float(x) => x.to_bits(),
        Scalar::Int(v) => v as u64,
    };
    match (0..want.data.len()).find(|&i| bits(got.data.get(i)) != bits(want.data.get(i))) {
        None => Ok(()),
        Some(i) => Err(format!("element {i} is {:?}, expected {:?} (bit for bit)", got.data.get(i), want.data.get(i))),
    }
}

#[test]
fn models_run_the_same_in_the_jit_and_the_interpreter() {
    let (mut passed, mut failures) = (0, Vec::new());
    for manifest in manifests() {
        let dir = manifest.parent().unwrap_or(Path::new("."));
        let json: Value = serde_json::from_str(&std::fs::read_to_string(&manifest).unwrap()).unwrap();
        for model in json["models"].as_array().into_iter().flatten() {
            for case in model["cases"].as_array().into_iter().flatten() {
                let what = format!("{}/{}", text(model, "name"), text(case, "name"));
                match check_case(dir, model, case) {
                    Ok(info) => {
                        eprintln!("{what}: ok ({info})");
                        passed += 1;
                    }
                    Err(e) => failures.push(format!("{what}: {e}")),
                }
            }
        }
    }
    eprintln!("{passed} passed, {} failed", failures.len());
    assert!(passed + failures.len() >= 6, "only {} cases ran", passed + failures.len());
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
