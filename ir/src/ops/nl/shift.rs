//! Shifts and the leading-one detector of the nl dialect: `shift` (by a
//! constant: wiring), `barrel_shift` (by a per-element amount: a barrel
//! shifter) and `lod`.
//!
//! Invariants: a shift multiplies by `2^amount`; right shifts round as the
//! `rounding` attribute says (default `floor`, the arithmetic shift); the
//! exact result is saturated to the declared result type.

use super::arith::ONE_RESULT;
use super::common::{
    broadcast_int_operands, check_int_result, int_operand, int_operand_dims, ints_of, result_elem, saturate,
    shift_round, tensor_of, Rounding,
};
use crate::module::Attrs;
use crate::ops::eval::broadcast_map;
use crate::ops::nn::common::int_attr;
use crate::ops::{Arity, AttrKind, AttrSpec, OpDef, OpInfo, Trait};
use crate::tensor::{Scalar, Tensor};
use crate::types::Type;

const ROUNDING: AttrSpec = AttrSpec {
    name: "rounding",
    kind: AttrKind::Str,
    required: false,
    doc: "how right shifts round: \"floor\" (default), \"ceil\" or \"nearest\" (ties up)",
};

/// The largest shift amount an attribute may give.
pub const MAX_SHIFT: i64 = 126;

pub const SHIFT: OpDef = OpDef {
    name: "nl.shift",
    summary: "Multiplies by 2^amount: a constant shift, rounded when it goes right",
    description: "`amount > 0` shifts left, `amount < 0` shifts right by `-amount` with the \
rounding of `rounding`: `floor` is the arithmetic shift `x >> k`, `ceil` is `-((-x) >> k)`, \
`nearest` is `(x + 2^(k-1)) >> k` (ties toward plus infinity). The exact result is saturated to \
the result type. In hardware a constant shift is wiring (plus an incrementer for `nearest`).\n\n\
```\n%1 = nl.shift %0 {amount = -4, rounding = \"nearest\"} : (tensor<64xi24>) -> tensor<64xi20>\n```",
    operands: Arity::Fixed(&["input"]),
    results: ONE_RESULT,
    attrs: &[
        AttrSpec {
            name: "amount",
            kind: AttrKind::Int,
            required: true,
            doc: "the power of two, in [-126, 126]: left when positive, right when negative",
        },
        ROUNDING,
    ],
    traits: &[Trait::Pure],
    verify: Some(verify_shift),
    verify_results: Some(|info, results| check_int_result(results, int_operand_dims(info, 0))),
    eval: Some(eval_shift),
    ..OpDef::DEFAULT
};

fn shift_amount(attrs: &Attrs) -> Result<i64, String> {
    let k = int_attr(attrs, "amount")?;
    if !(-MAX_SHIFT..=MAX_SHIFT).contains(&k) {
        return Err(format!("attribute 'amount' must be in [-{MAX_SHIFT}, {MAX_SHIFT}], got {k}"));
    }
    Ok(k)
}

fn verify_shift(info: &OpInfo) -> Result<(), String> {
    int_operand(info, 0)?;
    shift_amount(info.attrs)?;
    Rounding::from_attrs(info.attrs).map(|_| ())
}

fn eval_shift(ops: &[Tensor], attrs: &Attrs, results: &[Type]) -> Result<Vec<Tensor>, String> {
    let (k, rounding) = (shift_amount(attrs)?, Rounding::from_attrs(attrs)?);
    let x = &ops[0];
    let v: Vec<i128> = ints_of(x).into_iter().map(|v| shift_round(v, k, rounding)).collect();
    Ok(vec![tensor_of(result_elem(results, 0)?, x.shape.clone(), &v)])
}

pub const BARREL_SHIFT: OpDef = OpDef {
    name: "nl.barrel_shift",
    summary: "Multiplies by 2^amount with a per-element amount: a barrel shifter",
    description: "Like `nl.shift`, with the amount an operand that broadcasts against the input \
(numpy rules): positive amounts shift left, negative ones right with the rounding of \
`rounding`. Amounts beyond 126 in size act as 126. The exact result is saturated to the \
result type.\n\n```\n%2 = nl.barrel_shift %0, %1 {rounding = \"nearest\"} : (tensor<64xu17>, \
tensor<64xi8>) -> tensor<64xu16>\n```",
    operands: Arity::Fixed(&["input", "amount"]),
    results: ONE_RESULT,
    attrs: &[ROUNDING],
    traits: &[Trait::Pure],
    verify: Some(|info| {
        broadcast_int_operands(info)?;
        Rounding::from_attrs(info.attrs).map(|_| ())
    }),
    verify_results: Some(|info, results| check_int_result(results, broadcast_int_operands(info))),
    eval: Some(eval_barrel_shift),
    ..OpDef::DEFAULT
};

fn eval_barrel_shift(ops: &[Tensor], attrs: &Attrs, results: &[Type]) -> Result<Vec<Tensor>, String> {
    let rounding = Rounding::from_attrs(attrs)?;
    let elem = result_elem(results, 0)?.clone();
    let (xe, ae) = (ops[0].elem.clone(), ops[1].elem.clone());
    let out = broadcast_map(&[&ops[0], &ops[1]], &elem, |s| {
        let (Scalar::Int(x), Scalar::Int(a)) = (s[0], s[1]) else {
            return Err("nl.barrel_shift takes integer operands".to_string());
        };
        let amount = super::common::int_value(&ae, a).clamp(-(MAX_SHIFT as i128), MAX_SHIFT as i128) as i64;
        Ok(Scalar::Int(saturate(shift_round(super::common::int_value(&xe, x), amount, rounding), &elem)))
    })?;
    Ok(vec![out])
}

pub const LOD: OpDef = OpDef {
    name: "nl.lod",
    summary: "Leading-one detector: the position of the highest set bit",
    description: "For `x > 0`, `floor(log2 x)` (0 for 1, 7 for 200); for `x <= 0`, -1 (no \
leading one). With a barrel shift by the negated position it normalizes `x` to a mantissa in \
[1, 2), the first step of `nl.log2`.\n\n```\n%1 = nl.lod %0 : (tensor<4x1xu22>) -> tensor<4x1xi6>\n```",
    operands: Arity::Fixed(&["input"]),
    results: ONE_RESULT,
    traits: &[Trait::Pure],
    verify: Some(|info| int_operand(info, 0).map(|_| ())),
    verify_results: Some(|info, results| check_int_result(results, int_operand_dims(info, 0))),
    eval: Some(|ops, _, results| {
        let x = &ops[0];
        let v: Vec<i128> = ints_of(x).into_iter().map(leading_one).collect();
        Ok(vec![tensor_of(result_elem(results, 0)?, x.shape.clone(), &v)])
    }),
    ..OpDef::DEFAULT
};

/// `floor(log2 x)` for `x > 0`, else -1.
pub fn leading_one(x: i128) -> i128 {
    if x <= 0 {
        -1
    } else {
        127 - x.leading_zeros() as i128
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;
    use crate::attr::Attribute;
    use crate::types::ElemType;

    #[test]
    fn constant_shifts_round_and_saturate() {
        let x = ints(I16, &[4], &[-5, 5, 6, 1000]);
        let right = attrs(&[("amount", Attribute::Int(-1)), ("rounding", Attribute::Str("nearest".into()))]);
        assert_eq!(eval(&SHIFT, std::slice::from_ref(&x), &right, &int_type(16, &[4])), vec![-2, 3, 3, 500]);
        let floor = attrs(&[("amount", Attribute::Int(-1))]);
        assert_eq!(eval(&SHIFT, std::slice::from_ref(&x), &floor, &int_type(16, &[4])), vec![-3, 2, 3, 500]);
        let left = attrs(&[("amount", Attribute::Int(4))]);
        assert_eq!(eval(&SHIFT, &[x], &left, &int_type(12, &[4])), vec![-80, 80, 96, 2047]);
        let e = verify_results_with(
            &SHIFT,
            &[int_type(8, &[2])],
            &[&int_type(8, &[2])],
            &attrs(&[("amount", Attribute::Int(200))]),
        );
        assert_eq!(e.unwrap_err(), "attribute 'amount' must be in [-126, 126], got 200");
        let bad = attrs(&[("amount", Attribute::Int(1)), ("rounding", Attribute::Str("up".into()))]);
        let e = verify_results_with(&SHIFT, &[int_type(8, &[2])], &[&int_type(8, &[2])], &bad).unwrap_err();
        assert_eq!(e, "attribute 'rounding' must be one of \"floor\", \"ceil\", \"nearest\", got \"up\"");
    }

    #[test]
    fn barrel_shifts_take_amounts_per_element() {
        let x = ints(I16, &[4], &[3, 3, -3, 100]);
        let a = ints(ElemType::I8, &[4], &[2, -1, -1, 127]);
        let near = attrs(&[("rounding", Attribute::Str("nearest".into()))]);
        assert_eq!(eval(&BARREL_SHIFT, &[x.clone(), a.clone()], &near, &int_type(16, &[4])), vec![12, 2, -1, 32767]);
        assert_eq!(eval(&BARREL_SHIFT, &[x, a], &Attrs::new(), &int_type(16, &[4])), vec![12, 1, -2, 32767]);
    }

    #[test]
    fn leading_one_positions() {
        let x = ints(ElemType::I32, &[6], &[1, 2, 3, 200, 0, -4]);
        assert_eq!(eval(&LOD, &[x], &Attrs::new(), &int_type(8, &[6])), vec![0, 1, 1, 7, -1, -1]);
        assert_eq!(leading_one(i64::MAX as i128), 62);
    }
}
