//! Differential test of `legalize-onnx` on real-shaped models: every model
//! of testsuite/models/models.json (and of fetched manifests under
//! target/models/, when present) is imported with its batch-1 input shapes
//! bound, run with the reference interpreter before and after the
//! `onnx-to-nn` pipeline, and the two runs must agree elementwise within
//! `1e-5 * |before| + 1e-6 * max(1, max |before|)` (`onnx.MatMul` sums in
//! f64, `nn.matmul` is an f32 fma chain; near-zero elements of a deep
//! network carry the rounding of the whole tensor, so the absolute term
//! scales with its largest value); the legalized run must also match
//! onnxruntime's outputs at the manifest's tolerance. After legalization
//! no op outside the builtin and nn dialects may be left.

mod legalize_util;

use legalize_util::{compare, context, foreign_ops, import_bound, legalize, max_abs, read_npy, run};
use serde_json::Value;
use std::path::{Path, PathBuf};
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
    v[key].as_str().unwrap_or_else(|| panic!("manifest: '{key}' is not a string"))
}

/// The named `.npy` files of a case's `inputs` or `expected`.
fn tensors(dir: &Path, files: &Value) -> Result<Vec<(String, Tensor)>, String> {
    let Some(map) = files.as_object() else { return Err("not an object".into()) };
    map.iter().map(|(name, file)| Ok((name.clone(), read_npy(&dir.join(file.as_str().unwrap_or_default()))?))).collect()
}

/// The batch-1 case of a model: the one whose inputs all have batch 1.
fn batch1_case(model: &Value) -> Option<&Value> {
    model["cases"].as_array()?.iter().find(|c| text(c, "name") == "batch1")
}

/// Checks one model; a failure message, or the number of ops legalized.
fn check_model(dir: &Path, model: &Value) -> Result<usize, String> {
    let case = batch1_case(model).ok_or("no batch1 case")?;
    let inputs = tensors(dir, &case["inputs"])?;
    let expected = tensors(dir, &case["expected"])?;
    let ctx = context();
    let path = dir.join(text(model, "model"));
    let module = import_bound(&path, &ctx, &inputs)?;
    // Arguments in the function's order (the manifest's order may differ).
    let names = weft_ir::interp::input_names(module.funcs.first().ok_or("no function")?);
    let args: Vec<Tensor> = names
        .iter()
        .map(|n| inputs.iter().find(|(k, _)| k == n).map(|(_, t)| t.clone()).ok_or(format!("no input '{n}'")))
        .collect::<Result<_, _>>()?;
    let before = run(&module, &args).map_err(|e| format!("before legalization: {e}"))?;
    let mut legal = module.clone();
    legalize(&mut legal, &ctx).map_err(|e| format!("onnx-to-nn: {e}"))?;
    let left = foreign_ops(&legal);
    if !left.is_empty() {
        return Err(format!("ops left after legalization: {left:?}"));
    }
    let after = run(&legal, &args).map_err(|e| format!("after legalization: {e}"))?;
    let outputs = weft_ir::interp::output_names(&legal.funcs[0]);
    let (rtol, atol) = (model["rtol"].as_f64().unwrap_or(1e-4), model["atol"].as_f64().unwrap_or(1e-5));
    for ((name, a), b) in outputs.iter().zip(&after).zip(&before) {
        compare(a, b, 1e-5, 1e-6 * max_abs(b).max(1.0)).map_err(|e| format!("{name} before vs after: {e}"))?;
        let want = expected.iter().find(|(n, _)| n == name).map(|(_, t)| t).ok_or(format!("no expected '{name}'"))?;
        compare(a, want, rtol, atol).map_err(|e| format!("{name} vs onnxruntime: {e}"))?;
    }
    Ok(legal.num_ops())
}

#[test]
fn models_legalize_to_nn_and_keep_their_outputs() {
    let mut failures = Vec::new();
    let mut checked = 0;
    for manifest in manifests() {
        let dir = manifest.parent().unwrap_or(Path::new("."));
        let json: Value = serde_json::from_str(&std::fs::read_to_string(&manifest).unwrap()).unwrap();
        for model in json["models"].as_array().into_iter().flatten() {
            match check_model(dir, model) {
                Ok(ops) => eprintln!("{}: legalized, {ops} ops", text(model, "name")),
                Err(e) => failures.push(format!("{}: {e}", text(model, "name"))),
            }
            checked += 1;
        }
    }
    assert!(checked >= 3, "only {checked} models found");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
