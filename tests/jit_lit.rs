//! Differential test of the JIT on the lit files (testsuite/lit/): every
//! function of every case that parses and verifies is a program, and so is
//! every function the case's RUN pipeline outputs (when it runs passes:
//! the legalize-onnx cases give nn programs this way); those
//! the interpreter can run (all ops evaluate, static argument shapes) run
//! on deterministic pseudo-random inputs (integers in [-3, 3], unsigned in
//! [0, 3], bools 0/1, floats in [-2, 2], `!quant.int` stored integers over
//! their whole range) through the interpreter and the JIT, and the outputs
//! must agree as spec/jit.md states. A JIT compile or run error on a
//! program of nn and nl ops the JIT can hold is a failure; the programs
//! lower-nonlinear outputs (testsuite/lit/lower-nonlinear/, every method)
//! are nl programs and must be bit-identical.
//!
//! Prints `N passed (M bit-identical), F failed, S skipped` and the skip
//! reasons with their counts.

mod legalize_util;

use legalize_util::engines::{agree, static_shapes, unholdable};
use legalize_util::{evaluates, Noise};
use std::collections::BTreeMap;
use std::path::Path;
use weft_ir::interp::run_function;
use weft_ir::ops::eval::wrap_int;
use weft_ir::parser::parse_module;
use weft_ir::verify::verify_module;
use weft_ir::{ElemType, Function, Module, SourceMap, Tensor, TensorData};
use weft_passes::PassRegistry;
use weft_testsuite::lit::file::parse_lit_file;
use weft_testsuite::lit::snapshot::collect_lit_files;
use weft_testsuite::opt::{run_opt_in, OptArgs, OptSession};
use weft_testsuite::test_dialect::test_context;

/// How one program ended.
enum Outcome {
    /// Both engines agree; `true` when bit-identical.
    Passed(bool),
    Skipped(&'static str),
    Failed(String),
}

/// A random tensor of `elem` and `shape` (see the module doc for ranges).
fn random_tensor(elem: &ElemType, shape: &[u64], noise: &mut Noise) -> Tensor {
    let n = shape.iter().product::<u64>() as usize;
    let data = match elem {
        ElemType::F32 => TensorData::F32((0..n).map(|_| (noise.next() * 4.0 - 2.0) as f32).collect()),
        ElemType::F64 => TensorData::F64((0..n).map(|_| noise.next() * 4.0 - 2.0).collect()),
        ElemType::Bool => TensorData::Int((0..n).map(|_| i64::from(noise.next() < 0.5)).collect()),
        ElemType::Int { width, signed } => {
            let (lo, span) = if *signed { (-3, 7.0) } else { (0, 4.0) };
            TensorData::Int((0..n).map(|_| wrap_int(lo + (noise.next() * span) as i64, *width, *signed)).collect())
        }
        ElemType::Quant(q) => {
            let w = u32::from(q.width.clamp(1, 32));
            let (lo, span) = if q.signed { (-(1i64 << (w - 1)), 1u64 << w) } else { (0, 1u64 << w) };
            TensorData::Int((0..n).map(|_| lo + (noise.next() * span as f64) as i64).collect())
        }
        _ => TensorData::F32(Vec::new()),
    };
    Tensor { elem: elem.clone(), shape: shape.to_vec(), data }
}

/// Whether `func` has ops outside the dialects the JIT compiles (nn, nl).
fn outside_jit(func: &Function) -> bool {
    func.walk().into_iter().any(|op| {
        let name = func.ops[op].name();
        !["nn.", "nl.", "builtin."].iter().any(|d| name.starts_with(d))
    })
}

/// Whether `func` computes with nl ops.
fn has_nl(func: &Function) -> bool {
    func.walk().into_iter().any(|op| func.ops[op].name().starts_with("nl."))
}

fn run_program(module: &Module, func: &Function, seed: &str) -> Outcome {
    if !evaluates(func) {
        return Outcome::Skipped("ops the interpreter does not evaluate (test dialect, regions)");
    }
    let Some(args) = static_shapes(&func.arg_types()) else {
        return Outcome::Skipped("symbolic, dynamic or non-tensor arguments");
    };
    if outside_jit(func) {
        return Outcome::Skipped("onnx or quant ops (the JIT compiles the nn and nl dialects)");
    }
    if let Some(why) = unholdable(func) {
        return Outcome::Skipped(why);
    }
    let mut noise = Noise::new(seed);
    let inputs: Vec<Tensor> = args.iter().map(|(e, s)| random_tensor(e, s, &mut noise)).collect();
    let Ok(want) = run_function(module, func, inputs.clone()) else {
        return Outcome::Skipped("the interpreter fails on the random inputs");
    };
    let compiled = match weft_backends::jit::compile(module, func) {
        Ok(c) => c,
        Err(d) => return Outcome::Failed(format!("JIT compile error: {}", d.message)),
    };
    match compiled.run(inputs) {
        Ok(got) => match agree(&got, &want) {
            Ok(identical) => Outcome::Passed(identical),
            Err(e) => Outcome::Failed(format!("JIT vs interpreter: {e}")),
        },
        Err(d) => Outcome::Failed(format!("JIT run error: {}", d.message)),
    }
}

/// The outcomes of every program of the lit file at `path`, with their
/// names (`file:line @function`): each case's input, and its output when
/// the RUN line runs passes.
fn run_file(path: &Path, registry: &PassRegistry) -> Vec<(String, Outcome)> {
    let ctx = test_context();
    let what = path.display().to_string();
    let Ok(text) = std::fs::read_to_string(path) else {
        return vec![(what, Outcome::Failed("cannot read the file".into()))];
    };
    let Ok(lit) = parse_lit_file(&text) else { return vec![(what, Outcome::Failed("not a lit file".into()))] };
    let args = OptArgs::from_words(&lit.run_args).ok().filter(|_| lit.run_args.iter().any(|w| w == "--passes"));
    let session = OptSession { ctx: &ctx, registry, input_path: Some(path) };
    let mut out = Vec::new();
    for case in &lit.cases {
        let at = format!("{what}:{}", case.first_line);
        let mut sources = SourceMap::new();
        let file = sources.add(what.clone(), case.text.clone());
        let Ok(module) = parse_module(&ctx, &sources, file) else {
            out.push((at, Outcome::Skipped("does not parse (an error case)")));
            continue;
        };
        if verify_module(&module).is_err() {
            out.push((at, Outcome::Skipped("does not verify (an error case)")));
            continue;
        }
        run_functions(&module, &at, &mut out);
        if let Some(args) = &args {
            if let Some(after) = run_opt_in(&session, args, &mut sources, file).module {
                run_functions(&after, &format!("{at} (after the passes)"), &mut out);
            }
        }
    }
    out
}

fn run_functions(module: &Module, at: &str, out: &mut Vec<(String, Outcome)>) {
    for func in &module.funcs {
        let mut name = format!("{at} @{}", func.name);
        let outcome = run_program(module, func, &name);
        if has_nl(func) {
            name.push_str(" [nl]");
        }
        out.push((name, outcome));
    }
}

#[test]
fn lit_programs_run_the_same_in_the_jit_and_the_interpreter() {
    let files = collect_lit_files(Path::new("testsuite/lit")).expect("lit files");
    let registry = PassRegistry::with_builtin_passes();
    let (mut passed, mut identical, mut nl_identical) = (0, 0, 0);
    let mut skipped: BTreeMap<&str, usize> = BTreeMap::new();
    let mut failures = Vec::new();
    for path in &files {
        for (name, outcome) in run_file(path, &registry) {
            match outcome {
                Outcome::Passed(bits) => {
                    passed += 1;
                    identical += usize::from(bits);
                    nl_identical += usize::from(bits && name.ends_with("[nl]"));
                }
                Outcome::Skipped(why) => *skipped.entry(why).or_default() += 1,
                Outcome::Failed(e) => failures.push(format!("{name}: {e}")),
            }
        }
    }
    for f in &failures {
        eprintln!("{f}");
    }
    let total_skipped: usize = skipped.values().sum();
    let reasons: Vec<String> = skipped.iter().map(|(why, n)| format!("{n} {why}")).collect();
    eprintln!(
        "jit lit: {passed} passed ({identical} bit-identical, {nl_identical} of them nl programs), {} failed, \
{total_skipped} skipped ({})",
        failures.len(),
        reasons.join(", ")
    );
    assert!(passed >= 50, "only {passed} lit programs ran through the JIT");
    assert!(nl_identical >= 10, "only {nl_identical} nl programs ran bit-identically through the JIT");
    assert!(failures.is_empty(), "{} failures:\n{}", failures.len(), failures.join("\n"));
}
