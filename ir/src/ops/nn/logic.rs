//! Comparisons, boolean logic and selection in the nn dialect: `equal`,
//! `less`, `less_equal`, `greater`, `greater_equal` (giving bool), `and`,
//! `or`, `not` (on bool) and `select`.
//!
//! Invariants: all broadcast with numpy rules; comparisons need equal
//! operand element types, compare integers by value (unsigned read
//! unsigned) and are false whenever a NaN takes part.

use super::arith::{BINARY, ONE_RESULT};
use super::common::{bool_operand, int_value, one, same_elem};
use super::unary::UNARY;
use crate::ops::eval::{self, as_f64};
use crate::ops::shape::{broadcast_many, broadcast_shapes, tensor_operand};
use crate::ops::{Arity, OpDef, OpInfo, Trait};
use crate::tensor::{Scalar, Tensor};
use crate::types::{ElemType, Type};
use std::cmp::Ordering;

fn infer_compare(info: &OpInfo) -> Result<Vec<Type>, String> {
    let (a, b) = (tensor_operand(info.operand_types, 0)?, tensor_operand(info.operand_types, 1)?);
    if !(a.elem.is_float() || a.elem.is_int() || a.elem == ElemType::Bool) {
        return Err(format!("operand #0 must have a float, integer or bool element type, got {}", a.elem));
    }
    same_elem(a, b)?;
    Ok(one(broadcast_shapes(&a.dims, &b.dims)?, ElemType::Bool))
}

/// Compares with broadcasting; `accept` says which orderings give true.
fn compare(ops: &[Tensor], accept: fn(Ordering) -> bool) -> Result<Vec<Tensor>, String> {
    let elem = ops[0].elem.clone();
    let out = eval::broadcast_map(&[&ops[0], &ops[1]], &ElemType::Bool, |v| {
        let ord = match (v[0], v[1]) {
            (Scalar::Int(x), Scalar::Int(y)) => Some(int_value(&elem, x).cmp(&int_value(&elem, y))),
            (x, y) => as_f64(x).partial_cmp(&as_f64(y)),
        };
        Ok(Scalar::Int(ord.is_some_and(accept) as i64))
    })?;
    Ok(vec![out])
}

macro_rules! compare_op {
    ($konst:ident, $name:literal, $sym:literal, $traits:expr, $accept:expr) => {
        pub const $konst: OpDef = OpDef {
            name: $name,
            summary: concat!("Elementwise comparison lhs ", $sym, " rhs, giving bool"),
            description: concat!(
                "Both operands have one float, integer or bool element type; their shapes broadcast \
(numpy rules). Integers compare by value; a comparison with NaN is false.\n\n```\n%2 = ",
                $name,
                " %0, %1 : (tensor<2x3xf32>, tensor<3xf32>) -> tensor<2x3xbool>\n```"
            ),
            operands: BINARY,
            results: ONE_RESULT,
            traits: $traits,
            infer: Some(infer_compare),
            eval: Some(|ops, _, _| compare(ops, $accept)),
            ..OpDef::DEFAULT
        };
    };
}

compare_op!(EQUAL, "nn.equal", "==", &[Trait::Pure, Trait::Commutative], Ordering::is_eq);
compare_op!(LESS, "nn.less", "<", &[Trait::Pure], Ordering::is_lt);
compare_op!(LESS_EQUAL, "nn.less_equal", "<=", &[Trait::Pure], Ordering::is_le);
compare_op!(GREATER, "nn.greater", ">", &[Trait::Pure], Ordering::is_gt);
compare_op!(GREATER_EQUAL, "nn.greater_equal", ">=", &[Trait::Pure], Ordering::is_ge);

fn infer_logic(info: &OpInfo) -> Result<Vec<Type>, String> {
    let (a, b) = (bool_operand(info, 0)?, bool_operand(info, 1)?);
    Ok(one(broadcast_shapes(&a.dims, &b.dims)?, ElemType::Bool))
}

fn logic(ops: &[Tensor], f: fn(bool, bool) -> bool) -> Result<Vec<Tensor>, String> {
    let truth = |s: Scalar| matches!(s, Scalar::Int(v) if v != 0);
    let out = eval::broadcast_map(&[&ops[0], &ops[1]], &ElemType::Bool, |v| {
        Ok(Scalar::Int(f(truth(v[0]), truth(v[1])) as i64))
    })?;
    Ok(vec![out])
}

macro_rules! logic_op {
    ($konst:ident, $name:literal, $what:literal, $f:expr) => {
        pub const $konst: OpDef = OpDef {
            name: $name,
            summary: concat!("Elementwise logical ", $what, " of bool tensors"),
            description: concat!(
                "Operands and result are bool; the shapes broadcast (numpy rules).\n\n```\n%2 = ",
                $name,
                " %0, %1 : (tensor<2x3xbool>, tensor<3xbool>) -> tensor<2x3xbool>\n```"
            ),
            operands: BINARY,
            results: ONE_RESULT,
            traits: &[Trait::Pure, Trait::Commutative],
            infer: Some(infer_logic),
            eval: Some(|ops, _, _| logic(ops, $f)),
            ..OpDef::DEFAULT
        };
    };
}

logic_op!(AND, "nn.and", "and", |a, b| a && b);
logic_op!(OR, "nn.or", "or", |a, b| a || b);

pub const NOT: OpDef = OpDef {
    name: "nn.not",
    summary: "Elementwise logical negation of a bool tensor",
    description: "```\n%1 = nn.not %0 : tensor<2x3xbool>\n```",
    operands: UNARY,
    results: ONE_RESULT,
    traits: &[Trait::Pure],
    infer: Some(|info| Ok(vec![Type::Tensor(bool_operand(info, 0)?.clone())])),
    eval: Some(|ops, _, _| Ok(vec![eval::unary(&ops[0], |s| Scalar::Int(matches!(s, Scalar::Int(0)) as i64))])),
    ..OpDef::DEFAULT
};

const SELECT_OPERANDS: Arity = Arity::Fixed(&["condition", "on_true", "on_false"]);

pub const SELECT: OpDef = OpDef {
    name: "nn.select",
    summary: "Elementwise choice: on_true where condition holds, else on_false",
    description: "The condition is bool; `on_true` and `on_false` have one element type, which \
the result has. The three shapes broadcast together (numpy rules).\n\n\
```\n%3 = nn.select %0, %1, %2 : (tensor<2x3xbool>, tensor<2x3xf32>, tensor<f32>) -> tensor<2x3xf32>\n```",
    operands: SELECT_OPERANDS,
    results: ONE_RESULT,
    traits: &[Trait::Pure],
    infer: Some(infer_select),
    eval: Some(|ops, _, _| {
        let out = eval::broadcast_map(&[&ops[0], &ops[1], &ops[2]], &ops[1].elem, |v| {
            Ok(if matches!(v[0], Scalar::Int(0)) { v[2] } else { v[1] })
        })?;
        Ok(vec![out])
    }),
    ..OpDef::DEFAULT
};

fn infer_select(info: &OpInfo) -> Result<Vec<Type>, String> {
    let c = bool_operand(info, 0)?;
    let (a, b) = (tensor_operand(info.operand_types, 1)?, tensor_operand(info.operand_types, 2)?);
    same_elem(a, b)?;
    Ok(one(broadcast_many(&[&c.dims, &a.dims, &b.dims])?, a.elem.clone()))
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;
    use crate::module::Attrs;

    #[test]
    fn comparisons_broadcast_and_nan_is_false() {
        let a = f32s(&[3], &[1.0, f32::NAN, 3.0]);
        let b = f32s(&[], &[1.0]);
        let no = Attrs::new();
        assert_eq!(run(&EQUAL, &[a.clone(), b.clone()], &no), bools(&[3], &[true, false, false]));
        assert_eq!(run(&LESS_EQUAL, &[a.clone(), b.clone()], &no), bools(&[3], &[true, false, false]));
        assert_eq!(run(&GREATER, &[a, b], &no), bools(&[3], &[false, false, true]));
        let u64t = ElemType::Int { width: 64, signed: false };
        let out = run(&LESS, &[ints(u64t.clone(), &[1], &[-1]), ints(u64t, &[1], &[1])], &no);
        assert_eq!(out, bools(&[1], &[false]), "2^64 - 1 < 1 is false for u64");
    }

    #[test]
    fn logic_and_select() {
        let no = Attrs::new();
        let (p, q) = (bools(&[2], &[true, false]), bools(&[2, 1], &[true, false]));
        assert_eq!(run(&AND, &[p.clone(), q.clone()], &no), bools(&[2, 2], &[true, false, false, false]));
        assert_eq!(run(&OR, &[p.clone(), q], &no), bools(&[2, 2], &[true, true, true, false]));
        assert_eq!(run(&NOT, std::slice::from_ref(&p), &no), bools(&[2], &[false, true]));
        let out = run(&SELECT, &[p, f32s(&[2], &[1.0, 2.0]), f32s(&[], &[-1.0])], &no);
        assert_eq!(out, f32s(&[2], &[1.0, -1.0]));
    }

    #[test]
    fn select_needs_a_bool_condition_and_equal_branch_types() {
        let no = Attrs::new();
        let e = infer(&SELECT, &[f32_type(&[2]), f32_type(&[2]), f32_type(&[2])], &no).unwrap_err();
        assert_eq!(e, "operand #0 must have element type bool, got f32");
        let c = crate::TensorType::fixed(&[2], ElemType::Bool);
        let i = crate::TensorType::fixed(&[], ElemType::I32);
        assert!(infer(&SELECT, &[c, f32_type(&[2]), i], &no).unwrap_err().contains("element types differ"));
    }
}
