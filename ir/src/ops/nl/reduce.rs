//! Reductions of the nl dialect along one axis: `max_tree` (a comparator
//! tree) and `add_tree` (an adder tree). The lanes are the extent of the
//! axis, written in the operand type.
//!
//! Invariants: the result keeps the reduced axis with extent 1, so it
//! broadcasts back against the operand; the sum is exact before it is
//! saturated once to the result type; the maximum of no lanes is the
//! result type's least value and their sum 0.

use super::arith::ONE_RESULT;
use super::common::{check_int_result, int_operand, ints_of, result_elem, tensor_of};
use crate::module::Attrs;
use crate::ops::nn::common::int_attr;
use crate::ops::shape::normalize_axis;
use crate::ops::{Arity, AttrKind, AttrSpec, OpDef, OpInfo, Trait};
use crate::tensor::Tensor;
use crate::types::{Dim, Type};

const AXIS: AttrSpec = AttrSpec {
    name: "axis",
    kind: AttrKind::Int,
    required: true,
    doc: "the reduced axis, in [-r, r); negative counts from the end",
};

fn reduced_dims(info: &OpInfo) -> Result<Vec<Dim>, String> {
    let x = int_operand(info, 0)?;
    let axis = normalize_axis(int_attr(info.attrs, "axis")?, x.rank())?;
    if x.rank() == 0 {
        return Err("operand #0 must have rank >= 1".to_string());
    }
    let mut dims = x.dims.clone();
    dims[axis] = Dim::Fixed(1);
    Ok(dims)
}

macro_rules! tree_op {
    ($konst:ident, $name:literal, $summary:literal, $doc:literal, $init:expr, $f:expr) => {
        pub const $konst: OpDef = OpDef {
            name: $name,
            summary: $summary,
            description: concat!(
                $doc,
                " The result keeps the axis with extent 1.\n\n```\n%1 = ",
                $name,
                " %0 {axis = 1} : (tensor<4x64xi16>) -> tensor<4x1xi22>\n```"
            ),
            operands: Arity::Fixed(&["input"]),
            results: ONE_RESULT,
            attrs: &[AXIS],
            traits: &[Trait::Pure],
            verify: Some(|info| reduced_dims(info).map(|_| ())),
            verify_results: Some(|info, results| check_int_result(results, reduced_dims(info))),
            eval: Some(|ops, attrs, results| reduce(&ops[0], attrs, results, $init, $f)),
            ..OpDef::DEFAULT
        };
    };
}

tree_op!(
    MAX_TREE,
    "nl.max_tree",
    "The maximum along an axis (a comparator tree over its lanes)",
    "The greatest lane of each row along `axis`.",
    i128::MIN,
    |a: i128, b: i128| a.max(b)
);
tree_op!(
    ADD_TREE,
    "nl.add_tree",
    "The sum along an axis (an adder tree over its lanes)",
    "The exact sum of the lanes of each row along `axis`, saturated once; a result of \
`ceil(log2 lanes)` more bits than the operand never saturates.",
    0,
    |a: i128, b: i128| a.saturating_add(b)
);

fn reduce(
    x: &Tensor,
    attrs: &Attrs,
    results: &[Type],
    init: i128,
    f: fn(i128, i128) -> i128,
) -> Result<Vec<Tensor>, String> {
    let elem = result_elem(results, 0)?;
    let axis = normalize_axis(int_attr(attrs, "axis")?, x.shape.len())?;
    let n = x.shape.get(axis).copied().unwrap_or(1) as usize;
    let inner: usize = x.shape.iter().skip(axis + 1).product::<u64>() as usize;
    let outer: usize = x.shape.iter().take(axis).product::<u64>() as usize;
    let v = ints_of(x);
    let mut out = vec![init; outer * inner];
    for (o, row) in out.chunks_mut(inner.max(1)).enumerate().take(outer) {
        for k in 0..n {
            let base = (o * n + k) * inner;
            for (j, acc) in row.iter_mut().enumerate().take(inner) {
                *acc = f(*acc, v.get(base + j).copied().unwrap_or(init));
            }
        }
    }
    let mut shape = x.shape.clone();
    if let Some(d) = shape.get_mut(axis) {
        *d = 1;
    }
    Ok(vec![tensor_of(elem, shape, &out)])
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;
    use crate::attr::Attribute;
    use crate::types::ElemType;

    #[test]
    fn trees_reduce_one_axis_and_keep_it() {
        let x = ints(ElemType::I8, &[2, 3], &[1, -5, 3, -7, -2, -9]);
        let last = attrs(&[("axis", Attribute::Int(-1))]);
        assert_eq!(eval(&MAX_TREE, std::slice::from_ref(&x), &last, &int_type(8, &[2, 1])), vec![3, -2]);
        assert_eq!(eval(&ADD_TREE, std::slice::from_ref(&x), &last, &int_type(10, &[2, 1])), vec![-1, -18]);
        let first = attrs(&[("axis", Attribute::Int(0))]);
        assert_eq!(eval(&ADD_TREE, std::slice::from_ref(&x), &first, &int_type(4, &[1, 3])), vec![-6, -7, -6]);
        assert_eq!(eval(&MAX_TREE, &[x], &first, &int_type(8, &[1, 3])), vec![1, -2, 3]);
    }

    #[test]
    fn sums_saturate_once() {
        let x = ints(ElemType::I8, &[4], &[127, 127, -128, -100]);
        let a = attrs(&[("axis", Attribute::Int(0))]);
        assert_eq!(eval(&ADD_TREE, &[x], &a, &int_type(8, &[1])), vec![26]);
    }

    #[test]
    fn result_keeps_the_axis() {
        let a = attrs(&[("axis", Attribute::Int(1))]);
        let ok = verify_results_with(&ADD_TREE, &[int_type(8, &[4, 64])], &[&int_type(14, &[4, 1])], &a);
        assert_eq!(ok, Ok(()));
        let e = verify_results_with(&ADD_TREE, &[int_type(8, &[4, 64])], &[&int_type(14, &[4])], &a).unwrap_err();
        assert_eq!(e, "result #0 must have the shape of tensor<4x1xi14>, got tensor<4xi14>");
        let bad = attrs(&[("axis", Attribute::Int(2))]);
        let e = verify_results_with(&MAX_TREE, &[int_type(8, &[4, 64])], &[&int_type(8, &[4, 1])], &bad).unwrap_err();
        assert_eq!(e, "axis 2 is out of range for rank 2");
    }
}
