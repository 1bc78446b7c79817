//! Differential test of `legalize-onnx` on the ONNX backend node tests
//! (testsuite/onnx-node/): each case is imported with its inputs' shapes
//! bound and run with the reference interpreter before and after the
//! `onnx-to-nn` pipeline. The legalized run must agree with the first
//! within a few units in the last place of the element type (see
//! `legalization_rtol`) and with ONNX's expected outputs at the node-test
//! tolerance (rtol 1e-3, atol 1e-7).
//!
//! Many node tests feed shape operands (Reshape's `shape`, Slice's
//! `starts`, ...) or quantization scales and zero points as graph inputs,
//! i.e. run-time data, which legalization rejects by design. Such a case is tried a second time with those inputs
//! frozen into initializers holding the test data (what binding shapes at
//! import gives a real model), so that the nn rewrite is still checked.
//!
//! Every case ends in one of the outcomes below; the cases that do not
//! legalize even then are listed in `NOT_LEGALIZED` with the reason, and
//! the test fails when the list is stale in either direction, so the
//! coverage numbers it prints are exact.

mod legalize_util;

use legalize_util::node_cases::{case_names, load_case, NodeCase};
use legalize_util::{
    bf16_from_bits, compare, context, foreign_ops, import_frozen, legalization_rtol, legalize, max_abs, run,
};
use std::collections::BTreeMap;
use std::path::Path;
use weft_ir::Tensor;

/// Cases whose legalization fails, and the substring of the error.
const NOT_LEGALIZED: &[(&str, &str)] = &[
    ("test_batchnorm_epsilon_training_mode", "in training mode updates running statistics"),
    ("test_batchnorm_example_training_mode", "in training mode updates running statistics"),
    ("test_dequantizelinear_blocked", "per-block quantization (block_size > 0) is not supported"),
    ("test_quantizelinear_blocked_asymmetric", "per-block quantization (block_size > 0) is not supported"),
    ("test_quantizelinear_blocked_symmetric", "per-block quantization (block_size > 0) is not supported"),
];

/// How a case ended.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Outcome {
    /// Legalized to builtin + nn, and both comparisons hold.
    Legalized,
    /// Legalized once its shape-operand inputs were frozen to constants.
    LegalizedFrozen,
    /// Legalized to nn and quant ops (ONNX's quantization ops), comparisons
    /// hold.
    LegalizedQuant,
    /// The pipeline reported an error.
    NotLegalized(String),
    /// The interpreter cannot run the imported case (not this pass's
    /// concern): import or evaluation errors before legalization.
    NotRunnable(String),
    /// Legalized, but the results differ: a bug.
    Mismatch(String),
}

/// One attempt: import (with `frozen` inputs made constants), run, legalize,
/// run again, compare.
fn attempt(model: &Path, inputs: &[(String, Tensor)], frozen: &[String], expected: &[Tensor]) -> Outcome {
    let ctx = context();
    let (fixed, given): (Vec<_>, Vec<_>) = inputs.iter().cloned().partition(|(n, _)| frozen.contains(n));
    let mut module = match import_frozen(model, &ctx, &given, &fixed) {
        Ok(m) => m,
        Err(e) => return Outcome::NotRunnable(e),
    };
    let arg_types = module.funcs.first().map(|f| f.arg_types()).unwrap_or_default();
    let args: Vec<Tensor> = given
        .iter()
        .zip(&arg_types)
        .map(|((_, t), ty)| bf16_from_bits(t.clone(), &ty.as_tensor().map_or(t.elem.clone(), |tt| tt.elem.clone())))
        .collect();
    let before = match run(&module, &args) {
        Ok(b) => b,
        Err(e) => return Outcome::NotRunnable(e),
    };
    let expected: Vec<Tensor> = expected.iter().zip(&before).map(|(w, b)| bf16_from_bits(w.clone(), &b.elem)).collect();
    // A case the interpreter already disagrees with is not this pass's
    // concern: only before vs after is checked for it.
    let trusted = before.iter().zip(&expected).all(|(b, w)| compare(b, w, 1e-3, 1e-7).is_ok());
    if let Err(e) = legalize(&mut module, &ctx) {
        return Outcome::NotLegalized(e);
    }
    let after = match run(&module, &args) {
        Ok(a) => a,
        Err(e) => return Outcome::Mismatch(format!("the legalized module fails: {e}")),
    };
    for (i, ((a, b), want)) in after.iter().zip(&before).zip(&expected).enumerate() {
        let rtol = legalization_rtol(&a.elem);
        if let Err(e) = compare(a, b, rtol, rtol * max_abs(b)) {
            return Outcome::Mismatch(format!("output {i} before vs after: {e}"));
        }
        if !trusted {
            continue;
        }
        if let Err(e) = compare(a, want, 1e-3, 1e-7) {
            return Outcome::Mismatch(format!("output {i} vs expected: {e}"));
        }
    }
    let left = foreign_ops(&module);
    if left.is_empty() {
        Outcome::Legalized
    } else if left.iter().all(|n| n.starts_with("quant.")) {
        Outcome::LegalizedQuant
    } else {
        Outcome::Mismatch(format!("ops left after legalization: {left:?}"))
    }
}

fn run_case(name: &str) -> Outcome {
    let NodeCase { model, inputs, expected, shape_inputs } = match load_case(name) {
        Ok(c) => c,
        Err(e) => return Outcome::NotRunnable(e),
    };
    match attempt(&model, &inputs, &[], &expected) {
        Outcome::NotLegalized(e) if e.contains("not a compile-time constant") && !shape_inputs.is_empty() => {
            match attempt(&model, &inputs, &shape_inputs, &expected) {
                Outcome::Legalized => Outcome::LegalizedFrozen,
                other => other,
            }
        }
        other => other,
    }
}

#[test]
fn onnx_node_cases_legalize_and_keep_their_outputs() {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    let mut problems = Vec::new();
    let names = case_names();
    for name in &names {
        let outcome = run_case(name);
        let expected_failure = NOT_LEGALIZED.iter().find(|(n, _)| n == name);
        if let Outcome::NotRunnable(e) = &outcome {
            eprintln!("{name}: not runnable before legalization: {e}");
        }
        match (&outcome, expected_failure) {
            (Outcome::NotLegalized(e), Some((_, why))) if e.contains(why) => {}
            (Outcome::NotLegalized(e), Some(_)) => problems.push(format!("{name}: fails for another reason: {e}")),
            (Outcome::NotLegalized(e), None) => problems.push(format!("{name}: does not legalize: {e}")),
            (_, Some(_)) => problems.push(format!("{name}: listed in NOT_LEGALIZED but ends {outcome:?}")),
            (Outcome::Mismatch(e), None) => problems.push(format!("{name}: {e}")),
            _ => {}
        }
        let key = match outcome {
            Outcome::Legalized => "legalized to nn",
            Outcome::LegalizedFrozen => "legalized to nn once shape inputs are constants",
            Outcome::LegalizedQuant => "legalized to nn and quant",
            Outcome::NotLegalized(_) => "not legalized (listed)",
            Outcome::NotRunnable(_) => "not runnable by the interpreter before legalization",
            Outcome::Mismatch(_) => "mismatch",
        };
        *counts.entry(key).or_default() += 1;
    }
    eprintln!("{} onnx-node cases:", names.len());
    for (k, n) in &counts {
        eprintln!("  {n:4} {k}");
    }
    assert!(names.len() >= 400, "only {} cases", names.len());
    assert!(problems.is_empty(), "{} problems:\n{}", problems.len(), problems.join("\n"));
}
