//! Differential test of the JIT on quant programs (spec/jit.md, quant
//! coverage): every function of the quant, quantize and lower-nonlinear lit
//! files (each case's input and its RUN pipeline's output) that holds quant
//! or nl ops runs on deterministic pseudo-random inputs (stored integers
//! over their type's whole range, bits 0/1, floats in [-4, 4]), and every
//! test model (testsuite/models) quantized at w8a8, w6a6, w4a4 and w1a8,
//! as is and after `lower-nonlinear{method=quark}`, runs on its case
//! inputs. The JIT's outputs must be bit-identical with the interpreter's.
//!
//! Prints `jit quant: N passed (bit-identical), F failed, S skipped` and
//! the skip reasons with their counts.

mod legalize_util;

use legalize_util::engines::{same_bits, static_shapes};
use legalize_util::{context, evaluates, import_bound, legalize, read_npy, Noise};
use std::collections::BTreeMap;
use std::path::Path;
use weft_ir::interp::run_function;
use weft_ir::parser::parse_module;
use weft_ir::verify::verify_module;
use weft_ir::{ElemType, Function, Module, SourceMap, Tensor, TensorData};
use weft_passes::transforms::quantize::config::ConfigFile;
use weft_passes::transforms::quantize::scheme::{parse_scheme, PrecisionPatch};
use weft_passes::transforms::quantize::Quantize;
use weft_passes::{Pass, PassContext, PassManager, PassManagerOptions, PassRegistry, Pipeline};
use weft_testsuite::lit::file::parse_lit_file;
use weft_testsuite::lit::snapshot::collect_lit_files;
use weft_testsuite::opt::{run_opt_in, OptArgs, OptSession};
use weft_testsuite::test_dialect::test_context;

enum Outcome {
    Passed,
    Skipped(&'static str),
    Failed(String),
}

fn random_tensor(elem: &ElemType, shape: &[u64], noise: &mut Noise) -> Option<Tensor> {
    let n = shape.iter().product::<u64>() as usize;
    let ints = |noise: &mut Noise, lo: i64, span: f64| -> Vec<i64> {
        (0..n).map(|_| lo + (noise.next() * span) as i64).collect()
    };
    let data = match elem {
        ElemType::F32 => TensorData::F32((0..n).map(|_| (noise.next() * 8.0 - 4.0) as f32).collect()),
        ElemType::F64 => TensorData::F64((0..n).map(|_| noise.next() * 8.0 - 4.0).collect()),
        ElemType::Bool | ElemType::Bin(_) => TensorData::Int(ints(noise, 0, 2.0)),
        ElemType::Int { signed, .. } => {
            TensorData::Int(if *signed { ints(noise, -3, 7.0) } else { ints(noise, 0, 4.0) })
        }
        ElemType::Quant(q) => {
            let w = u32::from(q.width.clamp(1, 32));
            let (lo, span) = if q.signed { (-(1i64 << (w - 1)), 1u64 << w) } else { (0, 1u64 << w) };
            TensorData::Int(ints(noise, lo, span as f64))
        }
        _ => return None,
    };
    Some(Tensor { elem: elem.clone(), shape: shape.to_vec(), data })
}

fn has_quant_or_nl(func: &Function) -> bool {
    func.walk().into_iter().any(|op| ["quant.", "nl."].iter().any(|d| func.ops[op].name().starts_with(d)))
}

/// Both engines on `inputs`; the outputs must be bit-identical.
fn differential(module: &Module, func: &Function, inputs: Vec<Tensor>) -> Outcome {
    let Ok(want) = run_function(module, func, inputs.clone()) else {
        return Outcome::Skipped("the interpreter fails on the inputs");
    };
    let compiled = match weft_backends::jit::compile(module, func) {
        Ok(c) => c,
        Err(d) => return Outcome::Failed(format!("JIT compile error: {}", d.message)),
    };
    match compiled.run(inputs) {
        Ok(got) if got.len() == want.len() && got.iter().zip(&want).all(|(g, w)| same_bits(g, w)) => Outcome::Passed,
        Ok(got) => {
            Outcome::Failed(format!("outputs differ: JIT {:?} vs interpreter {:?}", summary(&got), summary(&want)))
        }
        Err(d) => Outcome::Failed(format!("JIT run error: {}", d.message)),
    }
}

fn summary(ts: &[Tensor]) -> Vec<String> {
    ts.iter()
        .map(|t| format!("{} {:?}", t.ty(), (0..t.data.len().min(6)).map(|i| t.data.get(i)).collect::<Vec<_>>()))
        .collect()
}

fn run_program(module: &Module, func: &Function, seed: &str) -> Outcome {
    if !has_quant_or_nl(func) {
        return Outcome::Skipped("no quant or nl ops");
    }
    if !evaluates(func) {
        return Outcome::Skipped("ops the interpreter does not evaluate");
    }
    let Some(args) = static_shapes(&func.arg_types()) else { return Outcome::Skipped("non-static arguments") };
    let mut noise = Noise::new(seed);
    let Some(inputs) = args.iter().map(|(e, s)| random_tensor(e, s, &mut noise)).collect::<Option<Vec<_>>>() else {
        return Outcome::Skipped("f16 or bf16 arguments");
    };
    differential(module, func, inputs)
}

fn lit_programs(path: &Path, registry: &PassRegistry) -> Vec<(String, Outcome)> {
    let ctx = test_context();
    let what = path.display().to_string();
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let Ok(lit) = parse_lit_file(&text) else { return vec![(what, Outcome::Failed("not a lit file".into()))] };
    let args = OptArgs::from_words(&lit.run_args).ok().filter(|_| lit.run_args.iter().any(|w| w == "--passes"));
    let session = OptSession { ctx: &ctx, registry, input_path: Some(path) };
    let mut out = Vec::new();
    for case in &lit.cases {
        let at = format!("{what}:{}", case.first_line);
        let mut sources = SourceMap::new();
        let file = sources.add(what.clone(), case.text.clone());
        let Ok(module) = parse_module(&ctx, &sources, file) else { continue };
        if verify_module(&module).is_err() {
            continue;
        }
        let mut modules = vec![(at.clone(), module)];
        if let Some(args) = &args {
            if let Some(after) = run_opt_in(&session, args, &mut sources, file).module {
                modules.push((format!("{at} (after the passes)"), after));
            }
        }
        for (at, module) in &modules {
            for func in &module.funcs {
                let name = format!("{at} @{}", func.name);
                out.push((name.clone(), run_program(module, func, &name)));
            }
        }
    }
    out
}

/// A model quantized with `scheme`, then lowered with `lower` when given.
fn quantized(module: &Module, scheme: &str, lower: Option<&str>) -> Result<Module, String> {
    let ctx = context();
    let (weights, acts) = parse_scheme(scheme)?;
    let mut file = ConfigFile::default();
    PrecisionPatch { weights: Some(weights), acts: Some(acts), ..PrecisionPatch::default() }
        .apply(&mut file.config.base);
    let mut module = module.clone();
    let mut cx = PassContext::new(&ctx);
    Quantize::with_config(file).run(&mut module, &mut cx).map_err(|d| d.message)?;
    let passes = match lower {
        Some(method) => format!("dce,lower-nonlinear{{method={method}}}"),
        None => "dce".to_string(),
    };
    let registry = PassRegistry::with_builtin_passes();
    let pipeline = Pipeline::parse(&passes).map_err(|e| e.to_string())?;
    let mut pm = PassManager::new(&registry, &pipeline, PassManagerOptions::default())?;
    let mut log = String::new();
    pm.run(&mut module, &ctx, &mut log).map_err(|ds| ds.first().map(|d| d.message.clone()).unwrap_or_default())?;
    Ok(module)
}

/// Every test model's first case, quantized with every scheme.
fn model_programs() -> Vec<(String, Outcome)> {
    let dir = Path::new("testsuite/models");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("models.json")).unwrap_or_default()).unwrap_or_default();
    let mut out = Vec::new();
    for model in json["models"].as_array().into_iter().flatten() {
        let name = model["name"].as_str().unwrap_or_default();
        let Some(case) = model["cases"].as_array().and_then(|c| c.first()) else { continue };
        let inputs: Vec<(String, Tensor)> = case["inputs"]
            .as_object()
            .into_iter()
            .flatten()
            .filter_map(|(n, f)| Some((n.clone(), read_npy(&dir.join(f.as_str()?)).ok()?)))
            .collect();
        let ctx = context();
        let loaded = import_bound(&dir.join(model["model"].as_str().unwrap_or_default()), &ctx, &inputs)
            .and_then(|mut m| legalize(&mut m, &ctx).map(|_| m).map_err(|e| format!("onnx-to-nn: {e}")));
        let module = match loaded {
            Ok(m) => m,
            Err(e) => {
                out.push((name.to_string(), Outcome::Failed(e)));
                continue;
            }
        };
        for scheme in ["w8a8", "w6a6", "w4a4", "w1a8"] {
            for lower in [None, Some("quark")] {
                let what = format!("{name} {scheme}{}", lower.map_or(String::new(), |m| format!(" + {m}")));
                let outcome = match quantized(&module, scheme, lower) {
                    Ok(q) => {
                        let func = &q.funcs[0];
                        let names = weft_ir::interp::input_names(func);
                        let args: Option<Vec<Tensor>> =
                            names.iter().map(|n| inputs.iter().find(|(k, _)| k == n).map(|(_, t)| t.clone())).collect();
                        match args {
                            Some(args) => differential(&q, func, args),
                            None => Outcome::Failed("an input is missing".into()),
                        }
                    }
                    Err(e) => Outcome::Failed(format!("quantize: {e}")),
                };
                out.push((what, outcome));
            }
        }
    }
    out
}

#[test]
fn quant_programs_are_bit_identical_on_the_jit() {
    let registry = PassRegistry::with_builtin_passes();
    let mut results = Vec::new();
    for area in ["quant", "quantize", "lower-nonlinear"] {
        for path in collect_lit_files(&Path::new("testsuite/lit").join(area)).expect("lit files") {
            results.extend(lit_programs(&path, &registry));
        }
    }
    let lit_count = results.iter().filter(|(_, o)| matches!(o, Outcome::Passed)).count();
    results.extend(model_programs());
    let (mut passed, mut failures) = (0, Vec::new());
    let mut skipped: BTreeMap<&str, usize> = BTreeMap::new();
    for (name, outcome) in results {
        match outcome {
            Outcome::Passed => passed += 1,
            Outcome::Skipped(why) => *skipped.entry(why).or_default() += 1,
            Outcome::Failed(e) => failures.push(format!("{name}: {e}")),
        }
    }
    for f in &failures {
        eprintln!("{f}");
    }
    let reasons: Vec<String> = skipped.iter().map(|(why, n)| format!("{n} {why}")).collect();
    eprintln!(
        "jit quant: {passed} passed (bit-identical; {lit_count} lit programs, {} model programs), {} failed, {} skipped ({})",
        passed - lit_count,
        failures.len(),
        skipped.values().sum::<usize>(),
        reasons.join(", ")
    );
    assert!(lit_count >= 20, "only {lit_count} lit programs ran");
    assert!(passed - lit_count >= 24, "only {} model programs ran", passed - lit_count);
    assert!(failures.is_empty(), "{} failures:\n{}", failures.len(), failures.join("\n"));
}
