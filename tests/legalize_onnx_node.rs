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

use legalize_util::{
    bf16_from_bits, compare, context, foreign_ops, graph_inputs, import_frozen, legalization_rtol, legalize, max_abs,
    run,
};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use weft_frontend::onnx::read_tensor_pb;
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

fn case_dir(name: &str) -> PathBuf {
    Path::new("testsuite/onnx-node").join(name)
}

fn load_tensors(dir: &Path, prefix: &str) -> Result<Vec<Tensor>, String> {
    let mut out = Vec::new();
    for i in 0.. {
        let path = dir.join("test_data_set_0").join(format!("{prefix}_{i}.pb"));
        if !path.exists() {
            break;
        }
        out.push(read_tensor_pb(&path).map_err(|d| d.message)?.1);
    }
    Ok(out)
}

/// The operand positions of each op that legalization needs as
/// compile-time constants.
const SHAPE_OPERANDS: &[(&str, &[usize])] = &[
    ("Reshape", &[1]),
    ("Expand", &[1]),
    ("Slice", &[1, 2, 3, 4]),
    ("Squeeze", &[1]),
    ("Unsqueeze", &[1]),
    ("Split", &[1]),
    ("Resize", &[1, 2, 3]),
    ("ReduceMean", &[1]),
    ("ReduceSum", &[1]),
    ("ReduceMax", &[1]),
    ("ConstantOfShape", &[0]),
    ("Range", &[0, 1, 2]),
    // Quantized types carry their scales and zero points.
    ("QuantizeLinear", &[1, 2]),
    ("DequantizeLinear", &[1, 2]),
    ("QLinearMatMul", &[1, 2, 4, 5, 6, 7]),
];

/// The graph inputs a case feeds into shape operands.
fn shape_inputs(model: &Path) -> Result<Vec<String>, String> {
    let m = weft_frontend::onnx::read_model(model).map_err(|d| d.message)?;
    let g = m.model.graph.as_ref().ok_or("no graph")?;
    let mut names = Vec::new();
    for n in &g.node {
        let Some((_, positions)) = SHAPE_OPERANDS.iter().find(|(op, _)| *op == n.op_type) else { continue };
        for &p in *positions {
            if let Some(input) = n.input.get(p).filter(|i| g.input.iter().any(|gi| &gi.name == *i)) {
                names.push(input.clone());
            }
        }
    }
    Ok(names)
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
    let dir = case_dir(name);
    let model = dir.join("model.onnx");
    let loaded = (|| -> Result<_, String> {
        let names = graph_inputs(&model)?;
        let inputs = load_tensors(&dir, "input")?;
        Ok((names.into_iter().zip(inputs).collect::<Vec<_>>(), load_tensors(&dir, "output")?, shape_inputs(&model)?))
    })();
    let (inputs, expected, shape_inputs) = match loaded {
        Ok(l) => l,
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

fn case_names() -> Vec<String> {
    let list = std::fs::read_to_string("testsuite/onnx-node/cases.txt").expect("cases.txt");
    list.lines().filter_map(|l| l.split_whitespace().next()).map(str::to_string).collect()
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
