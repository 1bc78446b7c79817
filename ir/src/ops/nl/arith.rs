//! Elementwise integer ops of the nl dialect: `cast` (width changes and
//! the step between quantized and plain integers), `add`, `sub`, `mul`,
//! `max`, `min`, `div` and the sign-driven multiplexer `mux`.
//!
//! Invariants: operands broadcast with numpy rules; the exact result is
//! saturated to the declared result type (see [`super::common`]); the
//! result has the broadcast shape.

use super::common::{
    broadcast_int_operands, check_int_result, int_format, ints_of, result_elem, result_tensor, same_dims, saturate,
    tensor_of,
};
use crate::module::Attrs;
use crate::ops::eval::broadcast_map;
use crate::ops::shape::tensor_operand;
use crate::ops::{Arity, OpDef, OpInfo, Trait};
use crate::tensor::{Scalar, Tensor};
use crate::types::Type;

const BINARY: Arity = Arity::Fixed(&["lhs", "rhs"]);
pub(super) const ONE_RESULT: Arity = Arity::Fixed(&["result"]);

fn verify_operands(info: &OpInfo) -> Result<(), String> {
    broadcast_int_operands(info).map(|_| ())
}

fn verify_broadcast_result(info: &OpInfo, results: &[&Type]) -> Result<(), String> {
    check_int_result(results, broadcast_int_operands(info))
}

/// Applies `f` to the exact values of the operands at each index of their
/// broadcast shape; saturates to result type 0.
fn map_ints(ops: &[Tensor], results: &[Type], f: impl Fn(&[i128]) -> i128) -> Result<Vec<Tensor>, String> {
    let elem = result_elem(results, 0)?.clone();
    let refs: Vec<&Tensor> = ops.iter().collect();
    let elems: Vec<_> = ops.iter().map(|t| t.elem.clone()).collect();
    let mut args = vec![0i128; ops.len()];
    let out = broadcast_map(&refs, &elem, |s| {
        for (k, v) in s.iter().enumerate() {
            args[k] = match *v {
                Scalar::Int(i) => super::common::int_value(&elems[k], i),
                Scalar::Float(x) => x as i128,
            };
        }
        Ok(Scalar::Int(saturate(f(&args), &elem)))
    })?;
    Ok(vec![out])
}

macro_rules! binary_op {
    ($konst:ident, $name:literal, $summary:literal, $doc:literal, $traits:expr, $f:expr) => {
        pub const $konst: OpDef = OpDef {
            name: $name,
            summary: $summary,
            description: concat!(
                $doc,
                " Operands broadcast (numpy rules); the exact result is saturated to the result type.\n\n```\n%2 = ",
                $name,
                " %0, %1 : (tensor<4x8xi9>, tensor<4x1xi9>) -> tensor<4x8xi10>\n```"
            ),
            operands: BINARY,
            results: ONE_RESULT,
            traits: $traits,
            verify: Some(verify_operands),
            verify_results: Some(verify_broadcast_result),
            eval: Some(|ops, _, results| map_ints(ops, results, |v| $f(v[0], v[1]))),
            ..OpDef::DEFAULT
        };
    };
}

binary_op!(
    ADD,
    "nl.add",
    "Integer addition a + b, elementwise",
    "An adder.",
    &[Trait::Pure, Trait::Commutative],
    |a: i128, b: i128| a.saturating_add(b)
);
binary_op!(
    SUB,
    "nl.sub",
    "Integer subtraction a - b, elementwise",
    "A subtractor.",
    &[Trait::Pure],
    |a: i128, b: i128| a.saturating_sub(b)
);
binary_op!(
    MUL,
    "nl.mul",
    "Integer multiplication a * b, elementwise",
    "A multiplier; by a constant operand, a constant multiplier.",
    &[Trait::Pure, Trait::Commutative],
    |a: i128, b: i128| a.saturating_mul(b)
);
binary_op!(
    MAX,
    "nl.max",
    "The greater of a and b, elementwise",
    "A comparator and a multiplexer (a two-lane `nl.max_tree`).",
    &[Trait::Pure, Trait::Commutative],
    |a: i128, b: i128| a.max(b)
);
binary_op!(
    MIN,
    "nl.min",
    "The lesser of a and b, elementwise",
    "A comparator and a multiplexer; clipping to a constant bound.",
    &[Trait::Pure, Trait::Commutative],
    |a: i128, b: i128| a.min(b)
);
binary_op!(
    DIV,
    "nl.div",
    "Integer division floor(a / b), elementwise",
    "A divider, rounding toward minus infinity. Division by zero is not an error: `0 / 0` is 0, and \
`a / 0` saturates to the result type's greatest value when `a > 0` and its least value when `a < 0`.",
    &[Trait::Pure],
    floor_div
);

/// `floor(a / b)`; `0 / 0` is 0, any other division by zero saturates by
/// the sign of `a`.
pub fn floor_div(a: i128, b: i128) -> i128 {
    if b == 0 {
        return match a.signum() {
            0 => 0,
            1 => i128::MAX,
            _ => i128::MIN,
        };
    }
    let (q, r) = (a.saturating_div(b), a.checked_rem(b).unwrap_or(0));
    if r != 0 && ((r < 0) != (b < 0)) {
        q - 1
    } else {
        q
    }
}

pub const MUX: OpDef = OpDef {
    name: "nl.mux",
    summary: "A multiplexer driven by a sign bit: sel < 0 ? a : b, elementwise",
    description: "The select line is the sign bit of `sel` (negative selects `a`), so absolute \
values, sign restoration and ReLU need no comparison op: `|x| = mux(x, -x, x)`, \
`relu(x) = mux(x, 0, x)`. The three operands broadcast (numpy rules); the chosen value is \
saturated to the result type.\n\n```\n%3 = nl.mux %0, %1, %2 : (tensor<8xi16>, tensor<8xi16>, \
tensor<8xi16>) -> tensor<8xi16>\n```",
    operands: Arity::Fixed(&["sel", "if_negative", "otherwise"]),
    results: ONE_RESULT,
    traits: &[Trait::Pure],
    verify: Some(verify_operands),
    verify_results: Some(verify_broadcast_result),
    eval: Some(|ops, _, results| map_ints(ops, results, |v| if v[0] < 0 { v[1] } else { v[2] })),
    ..OpDef::DEFAULT
};

pub const CAST: OpDef = OpDef {
    name: "nl.cast",
    summary: "Changes an integer's width, or steps between quantized and plain integers",
    description: "The operand's integer value (for a `!quant.int` operand, its stored integer `q`) \
saturated to the result type, which may be a plain integer or a `!quant.int`: the first op of a \
lowered quantized op reads its input's `q` as a plain integer, the last one writes the result's \
`q`. Same shape; no scale is applied (scales are the constants of `nl.mul` and `nl.shift`).\n\n\
```\n%1 = nl.cast %0 : (tensor<1x64x!quant.int<w=8, signed, scale=0.0625, zp=0>>) -> tensor<1x64xi8>\n```",
    operands: Arity::Fixed(&["input"]),
    results: ONE_RESULT,
    traits: &[Trait::Pure],
    verify: Some(verify_cast),
    verify_results: Some(verify_cast_result),
    eval: Some(eval_cast),
    ..OpDef::DEFAULT
};

fn verify_cast(info: &OpInfo) -> Result<(), String> {
    let t = tensor_operand(info.operand_types, 0)?;
    if int_format(&t.elem).is_none() {
        return Err(format!("operand #0 must have an integer or !quant.int element type, got {}", t.elem));
    }
    Ok(())
}

fn verify_cast_result(info: &OpInfo, results: &[&Type]) -> Result<(), String> {
    let Ok(x) = tensor_operand(info.operand_types, 0) else { return Ok(()) };
    let r = result_tensor(results, 0)?;
    if int_format(&r.elem).is_none() {
        return Err(format!("result #0 must have an integer or !quant.int element type, got {}", r.elem));
    }
    same_dims(r, 0, &x.dims)
}

fn eval_cast(ops: &[Tensor], _: &Attrs, results: &[Type]) -> Result<Vec<Tensor>, String> {
    let x = &ops[0];
    let elem = result_elem(results, 0)?;
    Ok(vec![tensor_of(elem, x.shape.clone(), &ints_of(x))])
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;
    use crate::types::ElemType;

    #[test]
    fn results_saturate_to_the_declared_width() {
        let a = ints(ElemType::I8, &[3], &[100, -100, 5]);
        let b = ints(ElemType::I8, &[1], &[100]);
        assert_eq!(eval(&ADD, &[a.clone(), b.clone()], &Attrs::new(), &int_type(8, &[3])), vec![127, 0, 105]);
        assert_eq!(eval(&ADD, &[a.clone(), b.clone()], &Attrs::new(), &int_type(9, &[3])), vec![200, 0, 105]);
        assert_eq!(eval(&SUB, &[b.clone(), a.clone()], &Attrs::new(), &int_type(8, &[3])), vec![0, 127, 95]);
        assert_eq!(eval(&MUL, &[a.clone(), b], &Attrs::new(), &int_type(16, &[3])), vec![10000, -10000, 500]);
        let u4 = ints(ElemType::Int { width: 4, signed: false }, &[2], &[15, 0]);
        assert_eq!(eval(&MUL, &[u4.clone(), u4], &Attrs::new(), &uint_type(8, &[2])), vec![225, 0]);
    }

    #[test]
    fn max_min_and_mux() {
        let a = ints(ElemType::I8, &[3], &[-3, 0, 7]);
        let zero = ints(ElemType::I8, &[], &[0]);
        assert_eq!(eval(&MAX, &[a.clone(), zero.clone()], &Attrs::new(), &int_type(8, &[3])), vec![0, 0, 7]);
        assert_eq!(eval(&MIN, &[a.clone(), zero.clone()], &Attrs::new(), &int_type(8, &[3])), vec![-3, 0, 0]);
        let neg = ints(ElemType::I8, &[3], &[3, 0, -7]);
        assert_eq!(eval(&MUX, &[a.clone(), neg, a.clone()], &Attrs::new(), &int_type(8, &[3])), vec![3, 0, 7]);
        // ReLU: a negative select line picks the zero.
        assert_eq!(eval(&MUX, &[a.clone(), zero, a], &Attrs::new(), &int_type(8, &[3])), vec![0, 0, 7]);
    }

    #[test]
    fn division_floors_and_saturates_on_zero() {
        assert_eq!(floor_div(7, 2), 3);
        assert_eq!(floor_div(-7, 2), -4);
        assert_eq!(floor_div(7, -2), -4);
        assert_eq!(floor_div(-8, -2), 4);
        let a = ints(I16, &[4], &[100, -5, 9, 0]);
        let b = ints(I16, &[4], &[0, 0, 4, 0]);
        assert_eq!(eval(&DIV, &[a, b], &Attrs::new(), &int_type(8, &[4])), vec![127, -128, 2, 0]);
    }

    #[test]
    fn cast_reads_and_writes_quantized_integers() {
        let q = quant_type(8, true, 0.5, 3);
        let x = ints(q.clone(), &[3], &[-128, 3, 127]);
        assert_eq!(eval(&CAST, &[x], &Attrs::new(), &int_type(4, &[3])), vec![-8, 3, 7]);
        let y = ints(ElemType::I32, &[2], &[1000, -2]);
        let u = quant_type(8, false, 0.1, 0);
        let out = eval(&CAST, &[y], &Attrs::new(), &crate::types::TensorType::fixed(&[2], u).into());
        assert_eq!(out, vec![255, 0]);
    }

    #[test]
    fn verification_checks_operands_and_results() {
        let i8s = int_type(8, &[4, 8]);
        let e = verify_results(&ADD, &[i8s.clone(), int_type(8, &[4, 1])], &[&int_type(9, &[4])]).unwrap_err();
        assert_eq!(e, "result #0 must have the shape of tensor<4x8xi9>, got tensor<4xi9>");
        let f = crate::types::TensorType::fixed(&[4, 8], ElemType::F32).into();
        let e = verify_results(&ADD, &[i8s.clone(), i8s.clone()], &[&f]).unwrap_err();
        assert_eq!(e, "result #0 must have an integer element type (iN or uN), got f32");
        let e = verify_results(&ADD, &[f, i8s.clone()], &[&i8s]).unwrap_err();
        assert_eq!(e, "operand #0 must have an integer element type (iN or uN), got f32");
        let e = verify_results(&MUL, &[i8s.clone(), int_type(8, &[3, 8])], &[&i8s]).unwrap_err();
        assert_eq!(e, "dimensions 4 and 3 do not broadcast");
        let q = crate::types::TensorType::fixed(&[4, 8], quant_type(8, true, 0.5, 0)).into();
        assert_eq!(verify_results(&CAST, &[q], &[&i8s]), Ok(()));
    }
}
