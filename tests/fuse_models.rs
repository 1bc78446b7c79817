//! Differential test of `fuse` on the testsuite models (and fetched ones
//! under target/models/, such as MiniLM, when present): each model is
//! imported with its batch-1 inputs bound, legalized (`onnx-to-nn`), run
//! with the reference interpreter before and after `fuse,canonicalize`,
//! and the two runs must agree within `1e-5 * |before| + 1e-5 * max(1,
//! max |before|)` (a fused op rounds once where the decomposition rounded
//! at every step). The fused op counts are printed; the opset-14 BERT
//! (decomposed LayerNorm) must end with the same LayerNorm, GELU and
//! Softmax counts as the opset-17 one (LayerNormalization imported whole).

mod legalize_util;

use legalize_util::{compare, context, import_bound, legalize, max_abs, read_npy, run};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use weft_ir::{Module, Tensor};
use weft_passes::{PassManager, PassManagerOptions, PassRegistry, Pipeline};

const FUSED: &[&str] = &["nn.layer_norm", "nn.gelu", "nn.softmax"];

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

/// How many ops of each fused kind `module` has.
fn fused_counts(module: &Module) -> BTreeMap<&'static str, usize> {
    let mut counts: BTreeMap<&'static str, usize> = FUSED.iter().map(|&k| (k, 0)).collect();
    for f in &module.funcs {
        for op in f.walk() {
            if let Some(n) = counts.get_mut(f.ops[op].name()) {
                *n += 1;
            }
        }
    }
    counts
}

fn fuse(module: &mut Module) -> Result<(), String> {
    let ctx = context();
    let registry = PassRegistry::with_builtin_passes();
    let pipeline = Pipeline::parse("fuse,canonicalize").map_err(|e| e.to_string())?;
    let mut pm = PassManager::new(&registry, &pipeline, PassManagerOptions::default())?;
    let mut log = String::new();
    pm.run(module, &ctx, &mut log).map(|_| ()).map_err(|ds| format!("{:?}", ds.first().map(|d| &d.message)))
}

/// Checks one model; the fused op counts before and after `fuse`.
type Counts = (BTreeMap<&'static str, usize>, BTreeMap<&'static str, usize>);

fn check_model(dir: &Path, model: &Value) -> Result<Counts, String> {
    let case = model["cases"].as_array().and_then(|cs| cs.iter().find(|c| text(c, "name") == "batch1"));
    let case = case.ok_or("no batch1 case")?;
    let mut inputs = Vec::new();
    for (name, file) in case["inputs"].as_object().ok_or("inputs: not an object")? {
        inputs.push((name.clone(), read_npy(&dir.join(file.as_str().unwrap_or_default()))?));
    }
    let ctx = context();
    let mut module = import_bound(&dir.join(text(model, "model")), &ctx, &inputs)?;
    legalize(&mut module, &ctx).map_err(|e| format!("onnx-to-nn: {e}"))?;
    let names = weft_ir::interp::input_names(module.funcs.first().ok_or("no function")?);
    let args: Vec<Tensor> = names
        .iter()
        .map(|n| inputs.iter().find(|(k, _)| k == n).map(|(_, t)| t.clone()).ok_or(format!("no input '{n}'")))
        .collect::<Result<_, _>>()?;
    let before = run(&module, &args).map_err(|e| format!("before fuse: {e}"))?;
    let counts_before = fused_counts(&module);
    let mut fused = module.clone();
    fuse(&mut fused).map_err(|e| format!("fuse: {e}"))?;
    let after = run(&fused, &args).map_err(|e| format!("after fuse: {e}"))?;
    for (i, (a, b)) in after.iter().zip(&before).enumerate() {
        compare(a, b, 1e-5, 1e-5 * max_abs(b).max(1.0)).map_err(|e| format!("output {i} before vs after: {e}"))?;
    }
    Ok((counts_before, fused_counts(&fused)))
}

#[test]
fn fuse_keeps_model_outputs_and_finds_the_decomposed_ops() {
    let mut failures = Vec::new();
    let mut after_by_model = BTreeMap::new();
    for manifest in manifests() {
        let dir = manifest.parent().unwrap_or(Path::new("."));
        let json: Value = serde_json::from_str(&std::fs::read_to_string(&manifest).unwrap()).unwrap();
        for model in json["models"].as_array().into_iter().flatten() {
            let name = text(model, "name").to_string();
            match check_model(dir, model) {
                Ok((before, after)) => {
                    eprintln!("{name}: fused ops before {before:?}, after {after:?}");
                    after_by_model.insert(name, after);
                }
                Err(e) => failures.push(format!("{name}: {e}")),
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    let (b14, b17) = (&after_by_model["bert_tiny_opset14"], &after_by_model["bert_tiny_opset17"]);
    assert_eq!(b14, b17, "opset 14 after fuse vs opset 17");
    assert_eq!(b14["nn.layer_norm"], 5);
    assert_eq!(b14["nn.gelu"], 2);
}
