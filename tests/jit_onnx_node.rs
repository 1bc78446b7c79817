//! Differential test of the JIT on the ONNX backend node tests
//! (testsuite/onnx-node/): every case that imports (input shapes bound),
//! legalizes to the nn dialect (shape-operand inputs frozen to constants
//! when needed, as in tests/legalize_onnx_node.rs) and has static shapes
//! and JIT element types is run by the interpreter and the JIT on the
//! case's inputs. The outputs must agree as spec/jit.md states (integers
//! bit for bit, floats bit for bit but for the f32 matmul tiles); a JIT
//! compile or run error on such a case is a failure, since the JIT covers
//! every nn op.
//!
//! Prints `N passed (M bit-identical), F failed, S skipped` and the skip
//! reasons with their counts.

mod legalize_util;

use legalize_util::engines::{agree, unholdable};
use legalize_util::node_cases::{case_names, load_case, NodeCase};
use legalize_util::{bf16_from_bits, context, foreign_ops, import_frozen, legalize, run};
use std::collections::BTreeMap;
use weft_ir::{Module, Tensor};

/// How a case ended.
enum Outcome {
    /// Both engines agree; `true` when bit-identical, and when the
    /// program has quant ops.
    Passed(bool, bool),
    /// Not a JIT program, for the reason given.
    Skipped(&'static str),
    Failed(String),
}

/// The case imported with `frozen` inputs made constants and legalized;
/// the module and the arguments of its function.
fn legalized(case: &NodeCase, frozen: &[String]) -> Result<(Module, Vec<Tensor>), (bool, String)> {
    let ctx = context();
    let (fixed, given): (Vec<_>, Vec<_>) = case.inputs.iter().cloned().partition(|(n, _)| frozen.contains(n));
    let mut module = import_frozen(&case.model, &ctx, &given, &fixed).map_err(|e| (false, e))?;
    legalize(&mut module, &ctx).map_err(|e| (true, e))?;
    let arg_types = module.funcs.first().map(|f| f.arg_types()).unwrap_or_default();
    let args = given
        .iter()
        .zip(&arg_types)
        .map(|((_, t), ty)| bf16_from_bits(t.clone(), &ty.as_tensor().map_or(t.elem.clone(), |tt| tt.elem.clone())))
        .collect();
    Ok((module, args))
}

fn run_case(name: &str) -> Outcome {
    let Ok(case) = load_case(name) else { return Outcome::Skipped("test data not readable") };
    let attempt = match legalized(&case, &[]) {
        Err((true, e)) if e.contains("not a compile-time constant") && !case.shape_inputs.is_empty() => {
            legalized(&case, &case.shape_inputs)
        }
        other => other,
    };
    let (module, args) = match attempt {
        Ok(m) => m,
        Err((false, _)) => return Outcome::Skipped("does not import"),
        Err((true, _)) => return Outcome::Skipped("does not legalize to nn"),
    };
    let foreign = foreign_ops(&module);
    if foreign.iter().any(|n| !n.starts_with("quant.")) {
        return Outcome::Skipped("ops outside the nn and quant dialects");
    }
    let quant = !foreign.is_empty();
    let Some(func) = module.funcs.first() else { return Outcome::Skipped("no function") };
    if let Some(why) = unholdable(func) {
        return Outcome::Skipped(why);
    }
    let Ok(want) = run(&module, &args) else { return Outcome::Skipped("the interpreter fails on the case") };
    let compiled = match weft_backends::jit::compile(&module, func) {
        Ok(c) => c,
        Err(d) => return Outcome::Failed(format!("JIT compile error: {}", d.message)),
    };
    match compiled.run(args) {
        Ok(got) => match agree(&got, &want) {
            // Quant programs are integer programs: bit-identical or wrong.
            Ok(false) if quant => Outcome::Failed("a quant program is not bit-identical".into()),
            Ok(identical) => Outcome::Passed(identical, quant),
            Err(e) => Outcome::Failed(format!("JIT vs interpreter: {e}")),
        },
        Err(d) => Outcome::Failed(format!("JIT run error: {}", d.message)),
    }
}

#[test]
fn onnx_node_cases_run_the_same_in_the_jit_and_the_interpreter() {
    let names = case_names();
    let (mut passed, mut identical, mut quant) = (0, 0, 0);
    let mut skipped: BTreeMap<&str, usize> = BTreeMap::new();
    let mut failures = Vec::new();
    for name in &names {
        match run_case(name) {
            Outcome::Passed(bits, q) => {
                passed += 1;
                identical += usize::from(bits);
                quant += usize::from(q);
            }
            Outcome::Skipped(why) => *skipped.entry(why).or_default() += 1,
            Outcome::Failed(e) => failures.push(format!("{name}: {e}")),
        }
    }
    for f in &failures {
        eprintln!("{f}");
    }
    let total_skipped: usize = skipped.values().sum();
    let reasons: Vec<String> = skipped.iter().map(|(why, n)| format!("{n} {why}")).collect();
    eprintln!(
        "jit onnx-node: {passed} passed ({identical} bit-identical, {quant} of them quant programs), {} failed, \
{total_skipped} skipped ({})",
        failures.len(),
        reasons.join(", ")
    );
    assert!(names.len() >= 400, "only {} cases", names.len());
    assert!(passed >= 300, "only {passed} cases ran through the JIT");
    assert!(quant >= 15, "only {quant} quant cases ran through the JIT");
    assert!(failures.is_empty(), "{} failures:\n{}", failures.len(), failures.join("\n"));
}
