//! Comparisons and boolean logic of the onnx dialect: `Equal`, `Less`,
//! `Greater`, `LessOrEqual`, `GreaterOrEqual`, `And`, `Or`, `Not`, `IsNaN`.
//!
//! Invariants: results are `bool` tensors; operands broadcast with numpy
//! rules; a comparison involving NaN is false (so `Equal(NaN, NaN)` is
//! false); integers compare by value (`u64` read unsigned).

use super::a_common::{arg, int_value, tensor_type, Operands, TypeSet, BOOL, FLOAT, NUMERIC, NUMERIC_OR_BOOL};
use std::cmp::Ordering;
use weft_ir::ops::eval;
use weft_ir::ops::{Arity, OpDef, OpInfo, Trait};
use weft_ir::tensor::{Scalar, Tensor};
use weft_ir::types::{ElemType, TensorType, Type};

const AB: Arity = Arity::Fixed(&["A", "B"]);
const C: Arity = Arity::Fixed(&["C"]);

/// Declares a broadcasting comparison giving `bool`, true where `$holds`
/// accepts the ordering of A against B.
macro_rules! compare_op {
    ($konst:ident, $op:literal, $relation:literal, $set:expr, $types:literal, $traits:expr, $holds:expr) => {
        pub const $konst: OpDef = OpDef {
            name: concat!("onnx.", $op),
            summary: concat!("Elementwise comparison ", $relation, ", giving bool"),
            description: concat!(
                "numpy broadcasting; both operands have the same element type (ONNX `",
                $op,
                "`: ",
                $types,
                "). Comparisons with NaN are false.\n\n```\n%2 = onnx.",
                $op,
                " %0, %1 : (tensor<2x3xf32>, tensor<3xf32>) -> tensor<2x3xbool>\n```"
            ),
            operands: AB,
            results: C,
            traits: $traits,
            infer: Some(|info| infer_to_bool(info, &$set)),
            eval: Some(|ops, _, _| {
                let (a, b) = (arg(ops, 0)?, arg(ops, 1)?);
                let test = |v: &[Scalar]| Ok(bool_scalar(compare(&a.elem, v[0], v[1]).is_some_and($holds)));
                Ok(vec![eval::broadcast_map(&[a, b], &ElemType::Bool, test)?])
            }),
            ..OpDef::DEFAULT
        };
    };
}

compare_op!(
    EQUAL,
    "Equal",
    "A == B",
    NUMERIC_OR_BOOL,
    "bool, float or integer types, opset 19",
    &[Trait::Pure, Trait::Commutative],
    |o| o == Ordering::Equal
);
compare_op!(LESS, "Less", "A < B", NUMERIC, "float or integer types, opset 13", &[Trait::Pure], |o| o
    == Ordering::Less);
compare_op!(GREATER, "Greater", "A > B", NUMERIC, "float or integer types, opset 13", &[Trait::Pure], |o| o
    == Ordering::Greater);
compare_op!(LESS_OR_EQUAL, "LessOrEqual", "A <= B", NUMERIC, "float or integer types, opset 16", &[Trait::Pure], |o| o
    != Ordering::Greater);
compare_op!(
    GREATER_OR_EQUAL,
    "GreaterOrEqual",
    "A >= B",
    NUMERIC,
    "float or integer types, opset 16",
    &[Trait::Pure],
    |o| o != Ordering::Less
);

/// Two operands of one element type in `set`, broadcast, giving bool.
fn infer_to_bool(info: &OpInfo, set: &TypeSet) -> Result<Vec<Type>, String> {
    let ops = Operands::new(info, AB);
    ops.typed(0, set)?;
    ops.typed(1, set)?;
    ops.same_elem(0, 1)?;
    Ok(vec![tensor_type(ops.broadcast(&[0, 1])?, ElemType::Bool)])
}

/// The order of two elements of type `elem`; `None` when one is NaN.
fn compare(elem: &ElemType, x: Scalar, y: Scalar) -> Option<Ordering> {
    match (x, y) {
        (Scalar::Int(a), Scalar::Int(b)) => Some(int_value(elem, a).cmp(&int_value(elem, b))),
        (a, b) => eval::as_f64(a).partial_cmp(&eval::as_f64(b)),
    }
}

fn bool_scalar(b: bool) -> Scalar {
    Scalar::Int(b as i64)
}

/// Declares a broadcasting boolean connective.
macro_rules! logic_op {
    ($konst:ident, $op:literal, $relation:literal, $f:expr) => {
        pub const $konst: OpDef = OpDef {
            name: concat!("onnx.", $op),
            summary: concat!("Elementwise logical ", $relation, " of bool tensors"),
            description: concat!(
                "numpy broadcasting; operands and result are bool (ONNX `",
                $op,
                "`, opset 7).\n\n```\n%2 = onnx.",
                $op,
                " %0, %1 : (tensor<2x3xbool>, tensor<3xbool>) -> tensor<2x3xbool>\n```"
            ),
            operands: AB,
            results: C,
            traits: &[Trait::Pure, Trait::Commutative],
            infer: Some(|info| infer_to_bool(info, &BOOL)),
            eval: Some(|ops, _, _| {
                let (a, b) = (arg(ops, 0)?, arg(ops, 1)?);
                let f = |v: &[Scalar]| Ok(bool_scalar($f(v[0] != Scalar::Int(0), v[1] != Scalar::Int(0))));
                Ok(vec![eval::broadcast_map(&[a, b], &ElemType::Bool, f)?])
            }),
            ..OpDef::DEFAULT
        };
    };
}

logic_op!(AND, "And", "and", |p: bool, q: bool| p && q);
logic_op!(OR, "Or", "or", |p: bool, q: bool| p || q);

pub const NOT: OpDef = OpDef {
    name: "onnx.Not",
    summary: "Elementwise logical negation of a bool tensor",
    description: "ONNX `Not` (opset 1).\n\n```\n%1 = onnx.Not %0 : tensor<2x3xbool>\n```",
    operands: Arity::Fixed(&["X"]),
    results: Arity::Fixed(&["Y"]),
    traits: &[Trait::Pure],
    infer: Some(|info| Ok(vec![Type::Tensor(Operands::new(info, Arity::Fixed(&["X"])).typed(0, &BOOL)?.clone())])),
    eval: Some(|ops, _, _| Ok(vec![eval::unary(arg(ops, 0)?, |s| bool_scalar(s == Scalar::Int(0)))])),
    ..OpDef::DEFAULT
};

pub const IS_NAN: OpDef = OpDef {
    name: "onnx.IsNaN",
    summary: "Elementwise test for NaN, giving bool",
    description: "Float operands (ONNX `IsNaN`, opset 20; float8 is not supported by weft).\n\n\
```\n%1 = onnx.IsNaN %0 : (tensor<2x3xf32>) -> tensor<2x3xbool>\n```",
    operands: Arity::Fixed(&["X"]),
    results: Arity::Fixed(&["Y"]),
    traits: &[Trait::Pure],
    infer: Some(|info| {
        let x = Operands::new(info, Arity::Fixed(&["X"])).typed(0, &FLOAT)?;
        Ok(vec![Type::Tensor(TensorType::new(x.dims.clone(), ElemType::Bool))])
    }),
    eval: Some(|ops, _, _| {
        let x: &Tensor = arg(ops, 0)?;
        let t = Tensor::from_fn(ElemType::Bool, x.shape.clone(), |i| bool_scalar(eval::as_f64(x.data.get(i)).is_nan()));
        Ok(vec![t])
    }),
    ..OpDef::DEFAULT
};

#[cfg(test)]
#[path = "a_tests/logic.rs"]
mod tests;
