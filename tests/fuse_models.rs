//! Differential test of `fuse` on the testsuite models (and fetched ones
//! under target/models/, such as MiniLM, when present): each model is
//! imported with its batch-1 inputs bound, legalized (`onnx-to-nn` without
//! its `fuse`: [`UNFUSED`]), run with the reference interpreter before and
//! after `fuse,canonicalize`,
//! and the two runs must agree within `1e-5 * |before| + 1e-5 * max(1,
//! max |before|)` (a fused op rounds once where the decomposition rounded
//! at every step), and expanding the fused attention ops again
//! (`expand-attention`) must give the fused program's outputs to the bit
//! (`nn.attention` is defined as its decomposition). The fused op counts
//! are printed; the opset-14 BERT (decomposed LayerNorm) must end with the
//! same LayerNorm, GELU, Softmax and attention counts as the opset-17 one
//! (LayerNormalization imported whole); every exported softmax is inside an
//! attention.
//!
//! The second test runs the integer-only pipeline (`prepare-quant`,
//! `quantize`, `lower-nonlinear`) on each testsuite model: after
//! `quantize` no float nonlinear arithmetic is left (every exported GELU,
//! LayerNorm and Softmax became one quant op, one per fused op; attention
//! is expanded by `prepare-quant`, so its softmax is one of them), and after
//! `lower-nonlinear` no quant nonlinear op is left.

mod legalize_util;

use legalize_util::{compare, context, import_bound, max_abs, read_npy, run};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use weft_ir::{Module, Tensor, TensorData};
use weft_passes::{PassManager, PassManagerOptions, PassRegistry, Pipeline};

/// `onnx-to-nn` without `fuse`.
const UNFUSED: &str = "canonicalize,legalize-onnx,fold-qdq,canonicalize,cse,dce";

const FUSED: &[&str] = &["nn.layer_norm", "nn.gelu", "nn.softmax", "nn.attention"];

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
    op_counts(module, FUSED)
}

/// How many ops of each of `names` `module` has.
fn op_counts(module: &Module, names: &[&'static str]) -> BTreeMap<&'static str, usize> {
    let mut counts: BTreeMap<&'static str, usize> = names.iter().map(|&k| (k, 0)).collect();
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
    run_pipeline(module, "fuse,canonicalize")
}

fn run_pipeline(module: &mut Module, text: &str) -> Result<(), String> {
    let ctx = context();
    let registry = PassRegistry::with_builtin_passes();
    let pipeline = Pipeline::parse(text).map_err(|e| e.to_string())?;
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
    run_pipeline(&mut module, UNFUSED).map_err(|e| format!("onnx-to-nn without fuse: {e}"))?;
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
    let mut expanded = fused.clone();
    run_pipeline(&mut expanded, "expand-attention").map_err(|e| format!("expand-attention: {e}"))?;
    if op_counts(&expanded, &["nn.attention"])["nn.attention"] != 0 {
        return Err("expand-attention left an nn.attention".into());
    }
    let again = run(&expanded, &args).map_err(|e| format!("after expand-attention: {e}"))?;
    if again.len() != after.len() || !again.iter().zip(&after).all(|(a, b)| same_bits(a, b)) {
        return Err("expanding nn.attention changed the outputs' bits".into());
    }
    Ok((counts_before, fused_counts(&fused)))
}

/// Equal shapes and element types and, element by element, equal bits.
fn same_bits(a: &Tensor, b: &Tensor) -> bool {
    let bits = |t: &Tensor| -> Vec<u64> {
        match &t.data {
            TensorData::F32(v) => v.iter().map(|x| u64::from(x.to_bits())).collect(),
            TensorData::F64(v) => v.iter().map(|x| x.to_bits()).collect(),
            TensorData::F16(v) => v.iter().map(|x| u64::from(x.to_bits())).collect(),
            TensorData::BF16(v) => v.iter().map(|x| u64::from(x.to_bits())).collect(),
            TensorData::Int(v) => v.iter().map(|&x| x as u64).collect(),
        }
    };
    a.elem == b.elem && a.shape == b.shape && bits(a) == bits(b)
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
    assert_eq!(b14["nn.attention"], 2);
    assert_eq!(b14["nn.softmax"], 0, "every softmax is an attention's");
    assert_eq!(after_by_model["vit_tiny_opset17"]["nn.attention"], 2, "ViT: attention without a mask");
    let sdpa = &after_by_model["vit_tiny_sdpa_opset17"];
    assert_eq!(sdpa, &after_by_model["vit_tiny_opset17"], "ViT exported through scaled_dot_product_attention");
}

/// The scaled_dot_product_attention export (the scale from the query's
/// traced shape, `Sqrt(scale)` on queries and keys) fuses with the scale on
/// both operands.
#[test]
fn sdpa_export_fuses_with_the_scale_on_queries_and_keys() {
    let mut module = legalized_testsuite_model("vit_tiny_sdpa_opset17").unwrap();
    fuse(&mut module).unwrap();
    let f = &module.funcs[0];
    let places: Vec<String> = f
        .walk()
        .into_iter()
        .filter(|&o| f.ops[o].name() == "nn.attention")
        .map(|o| format!("{:?} {:?}", f.ops[o].attrs.get("scale_at"), f.ops[o].attrs.get("scale")))
        .collect();
    // sqrt(1 / sqrt(16)) = 0.5, exact in f32.
    let want = format!(
        "{:?} {:?}",
        Some(weft_ir::attr::Attribute::Str("qk".into())),
        Some(weft_ir::attr::Attribute::Float(0.5))
    );
    assert_eq!(places, vec![want.clone(), want]);
}

#[test]
fn onnx_to_nn_fuses() {
    let ctx = context();
    let path = Path::new("testsuite/models/bert_tiny_opset14.onnx");
    let ids = read_npy(Path::new("testsuite/models/bert_tiny_opset14/inputs/batch1/input_ids.npy")).unwrap();
    let mask = read_npy(Path::new("testsuite/models/bert_tiny_opset14/inputs/batch1/attention_mask.npy")).unwrap();
    let mut module = import_bound(path, &ctx, &[("input_ids".into(), ids), ("attention_mask".into(), mask)]).unwrap();
    run_pipeline(&mut module, "onnx-to-nn").unwrap();
    let counts = fused_counts(&module);
    let got = (counts["nn.layer_norm"], counts["nn.gelu"], counts["nn.softmax"], counts["nn.attention"]);
    assert_eq!(got, (5, 2, 0, 2), "{counts:?}");
}

/// Float ops that compute (part of) a nonlinear function.
const FLOAT_NONLINEAR: &[&str] = &[
    "nn.erf",
    "nn.exp",
    "nn.sqrt",
    "nn.pow",
    "nn.tanh",
    "nn.sigmoid",
    "nn.div",
    "nn.reduce_mean",
    "nn.reduce_sum",
    "nn.reduce_max",
    "nn.softmax",
    "nn.gelu",
    "nn.layer_norm",
];

const QUANT_NONLINEAR: &[&str] = &["quant.layer_norm", "quant.gelu", "quant.softmax"];

/// The testsuite model `name`, imported with its batch-1 shapes and
/// legalized without fuse (so `prepare-quant` has the decomposed forms).
fn legalized_testsuite_model(name: &str) -> Result<Module, String> {
    let dir = Path::new("testsuite/models");
    let mut inputs = Vec::new();
    let case = dir.join(name).join("inputs/batch1");
    let mut files: Vec<PathBuf> =
        std::fs::read_dir(&case).map_err(|e| e.to_string())?.filter_map(|e| Some(e.ok()?.path())).collect();
    files.sort();
    for file in files {
        let input = file.file_stem().and_then(|s| s.to_str()).ok_or("bad file name")?.to_string();
        inputs.push((input, read_npy(&file)?));
    }
    let ctx = context();
    let mut module = import_bound(&dir.join(format!("{name}.onnx")), &ctx, &inputs)?;
    run_pipeline(&mut module, UNFUSED)?;
    Ok(module)
}

#[test]
fn the_quantized_pipeline_leaves_no_float_nonlinear_op() {
    for name in ["bert_tiny_opset14", "bert_tiny_opset17", "vit_tiny_opset17", "vit_tiny_sdpa_opset17"] {
        let mut module = legalized_testsuite_model(name).unwrap_or_else(|e| panic!("{name}: {e}"));
        run_pipeline(&mut module, "prepare-quant").unwrap_or_else(|e| panic!("{name}: {e}"));
        let fused = fused_counts(&module);
        assert_eq!(fused["nn.attention"], 0, "{name}: prepare-quant expands attention");
        assert_eq!(fused["nn.softmax"], 2, "{name}: the attention's softmax is back");
        run_pipeline(&mut module, "quantize,dce").unwrap_or_else(|e| panic!("{name}: quantize: {e}"));
        let left: Vec<_> = op_counts(&module, FLOAT_NONLINEAR).into_iter().filter(|&(_, n)| n > 0).collect();
        assert!(left.is_empty(), "{name}: float nonlinear ops left after quantize: {left:?}");
        let quant = op_counts(&module, QUANT_NONLINEAR);
        for (f, q) in FUSED.iter().zip(QUANT_NONLINEAR) {
            assert_eq!(fused[f], quant[q], "{name}: {f} -> {q}");
        }
        assert!(quant["quant.layer_norm"] >= 5 && quant["quant.gelu"] == 2, "{name}: {quant:?}");
        run_pipeline(&mut module, "lower-nonlinear,dce").unwrap_or_else(|e| panic!("{name}: lower-nonlinear: {e}"));
        let left: Vec<_> = op_counts(&module, QUANT_NONLINEAR).into_iter().filter(|&(_, n)| n > 0).collect();
        assert!(left.is_empty(), "{name}: quant nonlinear ops left after lower-nonlinear: {left:?}");
    }
}
