//! Unit tests of the pass's index arithmetic; the rewrites themselves are
//! covered by the lit files in testsuite/lit/passes/legalize-onnx/ and the
//! differential tests against the interpreter.

use super::quant::QUANT_RULES;
use super::shape::{reshape_target, resolve_slice_dim};
use super::{LegalizeOnnx, RULES};
use crate::Pass;

#[test]
fn reshape_targets_copy_zeros_and_infer_one_extent() {
    assert_eq!(reshape_target(&[1, 7, 64], &[0, 0, 4, 16], false).unwrap(), vec![1, 7, 4, 16]);
    assert_eq!(reshape_target(&[1, 7, 64], &[-1, 64], false).unwrap(), vec![7, 64]);
    assert_eq!(reshape_target(&[2, 0], &[0, -1], true).unwrap_err().message, "cannot reshape 0 elements into [0, -1]");
    assert_eq!(
        reshape_target(&[3, 4], &[0, 0, 0], false).unwrap_err().message,
        "'shape' copies dim 2, which the input does not have"
    );
    assert!(reshape_target(&[6], &[-1, -1], false).is_err());
}

#[test]
fn slice_dims_follow_onnx_clamping() {
    // [start, end) with step 1, "to the end" as i64::MAX, negative indices.
    assert_eq!(resolve_slice_dim(10, 2, i64::MAX, 1).unwrap(), (2, 8, 1));
    assert_eq!(resolve_slice_dim(10, -3, -1, 1).unwrap(), (7, 2, 1));
    // Reversal: start clamps to d - 1, end -d - 1 clamps to -1.
    assert_eq!(resolve_slice_dim(4, -1, i64::MIN, -1).unwrap(), (3, 4, -1));
    assert_eq!(resolve_slice_dim(10, 1, 8, 3).unwrap(), (1, 3, 3));
    assert_eq!(resolve_slice_dim(10, 5, 2, 1).unwrap(), (0, 0, 1));
    assert_eq!(resolve_slice_dim(10, 20, 30, 1).unwrap(), (0, 0, 1));
    assert!(resolve_slice_dim(10, 0, 1, 0).is_err());
}

#[test]
fn every_rule_is_for_a_distinct_onnx_op() {
    let mut names: Vec<&str> = RULES.iter().chain(QUANT_RULES).map(|r| r.0).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), RULES.len() + QUANT_RULES.len());
    assert!(names.iter().all(|n| n.starts_with("onnx.")));
}

#[test]
fn options() {
    let mut p = LegalizeOnnx::default();
    assert_eq!(p.option_values(), vec![("max-fold-elements", "1024".to_string())]);
    p.set_option("max-fold-elements", "8").unwrap();
    assert_eq!(p.option_values(), vec![("max-fold-elements", "8".to_string())]);
    assert!(p.set_option("max-fold-elements", "x").is_err());
}
