//! The passes of a streaming nonlinear unit over a row: which ops of one
//! lowered program are active at the same time (spec/hw.md, "Passes").
//!
//! A unit streams a row (the elements one reduction reads) through its
//! lanes. A reduction (`nl.max_tree`, `nl.add_tree`) consumes the row in
//! one pass and its value is known only after that pass, so the ops that
//! read it run in a later pass over the (buffered) row: softmax is three
//! passes (max; exp and sum; output), layer norm three (sum; sum of
//! squares; output), an elementwise program one. Within a pass every
//! active op is its own pipelined instance; across passes the same
//! hardware is reused, so a unit needs, per primitive kind, the most
//! instances any single pass uses.
//!
//! Invariants: an op's pass is the latest pass at which one of its
//! operands is ready (a reduction's result is ready one pass after the
//! reduction, every other result in the pass of its op); an elementwise
//! value of an earlier pass that a later pass reads is recomputed there
//! from the row (its ops are active in both passes), and values on a
//! row's reduced shape are registers; the passes come out in order and
//! each lists its ops in program order, so the result is deterministic.

use std::collections::HashMap;
use weft_ir::ops::nl;
use weft_ir::{Function, Op, Value};

/// Per pass over the row, its active ops with whether each works on the
/// whole row (once per lane) or on a reduced value (once per unit).
pub fn passes(f: &Function, ops: &[Op]) -> Vec<Vec<(Op, bool)>> {
    let numel = |op: Op| -> u64 {
        let r = f.ops.get(op).and_then(|d| d.results.first()).and_then(|&v| f.value_type(v).as_tensor().cloned());
        r.and_then(|t| t.static_shape()).map_or(1, |s| s.iter().product())
    };
    let widest = ops.iter().map(|&op| numel(op)).max().unwrap_or(1);
    let per_lane: Vec<bool> = ops.iter().map(|&op| numel(op) == widest).collect();
    let reduction: Vec<bool> = ops.iter().map(|&op| is_reduction(f, op)).collect();
    let producer: HashMap<Value, usize> = ops
        .iter()
        .enumerate()
        .flat_map(|(i, &op)| f.ops.get(op).into_iter().flat_map(move |d| d.results.iter().map(move |&v| (v, i))))
        .collect();
    let operands = |i: usize| -> Vec<usize> {
        let data = ops.get(i).and_then(|&op| f.ops.get(op));
        data.map_or_else(Vec::new, |d| d.operands.iter().filter_map(|v| producer.get(v).copied()).collect())
    };
    let mut pass = vec![0usize; ops.len()];
    let mut ready = vec![0usize; ops.len()];
    for i in 0..ops.len() {
        pass[i] = operands(i).into_iter().map(|j| ready[j]).max().unwrap_or(0);
        ready[i] = pass[i] + usize::from(reduction[i]);
    }
    let count = pass.iter().max().map_or(0, |&p| p + 1);
    (0..count)
        .map(|p| {
            let mut active: Vec<bool> = pass.iter().map(|&q| q == p).collect();
            for i in (0..ops.len()).rev() {
                if !(active[i] && per_lane[i]) {
                    continue;
                }
                for j in operands(i) {
                    if per_lane[j] && !reduction[j] {
                        active[j] = true;
                    }
                }
            }
            ops.iter().enumerate().filter(|&(i, _)| active[i]).map(|(i, &op)| (op, per_lane[i])).collect()
        })
        .collect()
}

fn is_reduction(f: &Function, op: Op) -> bool {
    f.ops.get(op).is_some_and(|d| d.name() == nl::MAX_TREE.name || d.name() == nl::ADD_TREE.name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transforms::share_nonlinear::inventory::Inventory;
    use weft_ir::hwcost::PrimitiveKind;
    use weft_ir::parser::parse_str;
    use weft_ir::Context;

    /// A softmax in log-sum-exp form: max; exp and sum; log, exp.
    const SOFTMAX: &str = r#"
func @f(%x: tensor<4x8xi8>) -> tensor<4x8xu18> {
  %m = nl.max_tree %x {axis = 1} : (tensor<4x8xi8>) -> tensor<4x1xi8>
  %d = nl.sub %x, %m : (tensor<4x8xi8>, tensor<4x1xi8>) -> tensor<4x8xi9>
  %e = nl.exp2 %d {coeff_frac = 16, coeffs = [11134, 43901, 65536], frac = 4, out_frac = 16} : (tensor<4x8xi9>) -> tensor<4x8xu17>
  %s = nl.add_tree %e {axis = 1} : (tensor<4x8xu17>) -> tensor<4x1xu20>
  %l = nl.log2 %s {coeffs = [1, 2, 3], frac = 16, mantissa_frac = 16, out_frac = 4} : (tensor<4x1xu20>) -> tensor<4x1xi10>
  %u = nl.sub %d, %l : (tensor<4x8xi9>, tensor<4x1xi10>) -> tensor<4x8xi11>
  %p = nl.exp2 %u {coeff_frac = 16, coeffs = [11134, 43901, 65536], frac = 4, out_frac = 16} : (tensor<4x8xi11>) -> tensor<4x8xu18>
  return %p : tensor<4x8xu18>
}
"#;

    fn names(f: &Function, pass: &[(Op, bool)]) -> Vec<String> {
        pass.iter().map(|&(op, lane)| format!("{}{}", f.ops[op].name(), if lane { "" } else { "@row" })).collect()
    }

    #[test]
    fn softmax_is_three_passes_and_needs_one_exp2_per_lane() {
        let module = parse_str(&Context::default(), "t.weft", SOFTMAX).1.expect("parses");
        let f = &module.funcs[0];
        let ops: Vec<Op> = f.walk().into_iter().filter(|&op| f.ops[op].name().starts_with("nl.")).collect();
        let passes = passes(f, &ops);
        let got: Vec<Vec<String>> = passes.iter().map(|p| names(f, p)).collect();
        assert_eq!(
            got,
            [
                vec!["nl.max_tree@row"],
                vec!["nl.sub", "nl.exp2", "nl.add_tree@row"],
                // `d` is recomputed from the row; `log2` works on the sum.
                vec!["nl.sub", "nl.log2@row", "nl.sub", "nl.exp2"],
            ]
        );
        let inv = Inventory::of_program(f, &ops);
        let count = |k| inv.slots.get(&k).map_or(0, Vec::len);
        assert_eq!(count(PrimitiveKind::Exp2), 1, "{inv:?}");
        assert_eq!(count(PrimitiveKind::Adder), 2, "{inv:?}");
        // The one exp2 is as wide as the wider of the two uses.
        assert_eq!(inv.slots[&PrimitiveKind::Exp2][0].primitive.out, 18);
    }
}
