//! Elementwise binary arithmetic of the nn dialect: `add`, `sub`, `mul`,
//! `div`, `pow`, `max`, `min`, with numpy broadcasting and one element type
//! for both operands and the result.
//!
//! Invariants: float results are computed in f64 and rounded once to the
//! element type; integer results are exact in `i128` and wrap to the
//! element width (unsigned values are read unsigned); the only evaluation
//! errors are integer divisions by zero and `0 ^ negative`.

use super::common::{f64_value, int_value, numeric_operand, one, same_elem, wrap};
use crate::ops::eval::{self, as_f64};
use crate::ops::shape::broadcast_shapes;
use crate::ops::{Arity, FoldInput, Folded, OpDef, OpInfo, Trait};
use crate::tensor::{Scalar, Tensor};
use crate::types::{ElemType, Type};

pub(super) const BINARY: Arity = Arity::Fixed(&["lhs", "rhs"]);
pub(super) const ONE_RESULT: Arity = Arity::Fixed(&["result"]);

/// The result type of an elementwise binary op: the broadcast shape, the
/// operands' (equal) element type.
pub(super) fn infer_numeric_binary(info: &OpInfo) -> Result<Vec<Type>, String> {
    let (a, b) = (numeric_operand(info, 0)?, numeric_operand(info, 1)?);
    same_elem(a, b)?;
    Ok(one(broadcast_shapes(&a.dims, &b.dims)?, a.elem.clone()))
}

/// Applies a scalar rule that knows the element type, with broadcasting.
fn apply(ops: &[Tensor], f: fn(&ElemType, Scalar, Scalar) -> Result<Scalar, String>) -> Result<Vec<Tensor>, String> {
    let elem = ops[0].elem.clone();
    Ok(vec![eval::binary(&ops[0], &ops[1], |x, y| f(&elem, x, y))?])
}

/// `f` on floats, `i` on exact integer values (wrapped afterwards).
fn arith(elem: &ElemType, a: Scalar, b: Scalar, f: fn(f64, f64) -> f64, i: fn(i128, i128) -> i128) -> Scalar {
    match (a, b) {
        (Scalar::Int(x), Scalar::Int(y)) => wrap(elem, i(int_value(elem, x), int_value(elem, y))),
        (x, y) => Scalar::Float(f(as_f64(x), as_f64(y))),
    }
}

macro_rules! binary_op {
    ($konst:ident, $name:literal, $summary:literal, $doc:literal, $traits:expr, $fold:expr, $eval:expr) => {
        pub const $konst: OpDef = OpDef {
            name: $name,
            summary: $summary,
            description: concat!(
                $doc,
                " Both operands have one float or integer element type, which the result has; \
their shapes broadcast (numpy rules).\n\n```\n%2 = ",
                $name,
                " %0, %1 : (tensor<2x3xf32>, tensor<3xf32>) -> tensor<2x3xf32>\n```"
            ),
            operands: BINARY,
            results: ONE_RESULT,
            traits: $traits,
            infer: Some(infer_numeric_binary),
            fold: $fold,
            eval: Some($eval),
            ..OpDef::DEFAULT
        };
    };
}

const PURE_COMMUTATIVE: &[Trait] = &[Trait::Pure, Trait::Commutative];
const PURE: &[Trait] = &[Trait::Pure];

binary_op!(
    ADD,
    "nn.add",
    "Sum lhs + rhs, elementwise",
    "Integers wrap to the element width.",
    PURE_COMMUTATIVE,
    Some(fold_add),
    |ops, _, _| apply(ops, |e, a, b| Ok(arith(e, a, b, |x, y| x + y, |x, y| x + y)))
);
binary_op!(
    SUB,
    "nn.sub",
    "Difference lhs - rhs, elementwise",
    "Integers wrap to the element width.",
    PURE,
    Some(fold_sub),
    |ops, _, _| apply(ops, |e, a, b| Ok(arith(e, a, b, |x, y| x - y, |x, y| x - y)))
);
binary_op!(
    MUL,
    "nn.mul",
    "Product lhs * rhs, elementwise",
    "Integers wrap to the element width.",
    PURE_COMMUTATIVE,
    Some(fold_mul),
    |ops, _, _| apply(ops, |e, a, b| Ok(arith(e, a, b, |x, y| x * y, i128::wrapping_mul)))
);
binary_op!(
    DIV,
    "nn.div",
    "Quotient lhs / rhs, elementwise",
    "Floats follow IEEE (`1 / 0 = inf`). Integer division truncates toward zero (`-7 / 2 = -3`); \
an integer division by zero is an evaluation error, and the one overflowing case (`-128 / -1` in \
i8) wraps.",
    PURE,
    Some(fold_div),
    |ops, _, _| apply(ops, div)
);
binary_op!(
    POW,
    "nn.pow",
    "Power lhs ^ rhs, elementwise",
    "Floats: `pow` in f64 (C semantics: `x ^ 0 = 1`, a negative base with a non-integral \
exponent gives NaN). Integers: exact and wrapped for exponents >= 0; a negative exponent gives \
the truncated real result (`2 ^ -1 = 0`, `1 ^ -2 = 1`, `(-1) ^ -3 = -1`) and `0 ^ -1` is an \
evaluation error.",
    PURE,
    None,
    |ops, _, _| apply(ops, pow)
);
binary_op!(
    MAX,
    "nn.max",
    "Larger of lhs and rhs, elementwise",
    "A NaN operand gives NaN (numpy `maximum`); integers compare by value.",
    PURE_COMMUTATIVE,
    None,
    |ops, _, _| apply(ops, |e, a, b| Ok(pick(e, a, b, |o| o.is_gt())))
);
binary_op!(
    MIN,
    "nn.min",
    "Smaller of lhs and rhs, elementwise",
    "A NaN operand gives NaN (numpy `minimum`); integers compare by value.",
    PURE_COMMUTATIVE,
    None,
    |ops, _, _| apply(ops, |e, a, b| Ok(pick(e, a, b, |o| o.is_lt())))
);

fn div(elem: &ElemType, a: Scalar, b: Scalar) -> Result<Scalar, String> {
    match (a, b) {
        (Scalar::Int(_), Scalar::Int(0)) => Err("integer division by zero".into()),
        (Scalar::Int(x), Scalar::Int(y)) => Ok(wrap(elem, int_value(elem, x) / int_value(elem, y))),
        (x, y) => Ok(Scalar::Float(as_f64(x) / as_f64(y))),
    }
}

fn pow(elem: &ElemType, a: Scalar, b: Scalar) -> Result<Scalar, String> {
    match (a, b) {
        (Scalar::Int(x), Scalar::Int(y)) => int_pow(elem, int_value(elem, x), int_value(elem, y)),
        (x, y) => Ok(Scalar::Float(as_f64(x).powf(as_f64(y)))),
    }
}

/// Integer power with the conventions in the op description.
fn int_pow(elem: &ElemType, base: i128, exp: i128) -> Result<Scalar, String> {
    if exp < 0 {
        return match base {
            0 => Err("0 raised to a negative power".into()),
            1 => Ok(wrap(elem, 1)),
            -1 => Ok(wrap(elem, if exp % 2 == 0 { 1 } else { -1 })),
            _ => Ok(wrap(elem, 0)),
        };
    }
    // Square-and-multiply modulo 2^64 (wrapping is a ring homomorphism, so
    // wrapping every step and at the end gives the wrapped exact power).
    let (mut acc, mut b, mut e) = (1i64, base as i64, exp as u128);
    while e > 0 {
        if e & 1 == 1 {
            acc = acc.wrapping_mul(b);
        }
        b = b.wrapping_mul(b);
        e >>= 1;
    }
    Ok(wrap(elem, acc as i128))
}

/// `a` when `a` compares `keep` to `b` or is NaN, else `b` (NaN wins).
fn pick(elem: &ElemType, a: Scalar, b: Scalar, keep: fn(std::cmp::Ordering) -> bool) -> Scalar {
    match (a, b) {
        (Scalar::Int(x), Scalar::Int(y)) => {
            if keep(int_value(elem, x).cmp(&int_value(elem, y))) {
                a
            } else {
                b
            }
        }
        _ => {
            let (x, y) = (f64_value(elem, a), f64_value(elem, b));
            if x.is_nan() || y.is_nan() {
                Scalar::Float(f64::NAN)
            } else if x.partial_cmp(&y).is_some_and(keep) {
                Scalar::Float(x)
            } else {
                Scalar::Float(y)
            }
        }
    }
}

/// True when `t` has at most one element and it equals `v`.
fn is_scalar_equal_to(t: Option<&Tensor>, v: f64) -> bool {
    t.is_some_and(|t| t.numel() <= 1 && (0..t.data.len()).all(|i| as_f64(t.data.get(i)) == v))
}

fn fold_add(input: &FoldInput) -> Option<Folded> {
    identity_fold(input.constants, 0.0, true)
}

fn fold_sub(input: &FoldInput) -> Option<Folded> {
    identity_fold(input.constants, 0.0, false)
}

fn fold_mul(input: &FoldInput) -> Option<Folded> {
    identity_fold(input.constants, 1.0, true)
}

fn fold_div(input: &FoldInput) -> Option<Folded> {
    identity_fold(input.constants, 1.0, false)
}

/// `x op e -> x` (and `e op x -> x` when commutative) for a scalar-like
/// identity element `e`. Integer element types only, or floats where the
/// identity is exact (x + 0 is not x for x = -0.0, so float add and sub are
/// skipped). The folding engine only applies it when the result type is
/// x's type.
fn identity_fold(ops: &[Option<&Tensor>], e: f64, commutative: bool) -> Option<Folded> {
    let inexact = |t: &Tensor| t.elem.is_float() && e == 0.0;
    let (lhs, rhs) = (ops.first().copied().flatten(), ops.get(1).copied().flatten());
    if lhs.is_none() && is_scalar_equal_to(rhs, e) && !rhs.is_some_and(inexact) {
        return Some(Folded::Operand(0));
    }
    if commutative && rhs.is_none() && is_scalar_equal_to(lhs, e) && !lhs.is_some_and(inexact) {
        return Some(Folded::Operand(1));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;
    use crate::module::Attrs;

    #[test]
    fn add_broadcasts_rows_and_integers_wrap() {
        let out = run(&ADD, &[f32s(&[2, 2], &[1., 2., 3., 4.]), f32s(&[2], &[10., 20.])], &Attrs::new());
        assert_eq!(out, f32s(&[2, 2], &[11., 22., 13., 24.]));
        let out =
            run(&ADD, &[ints(ElemType::I8, &[2], &[127, -128]), ints(ElemType::I8, &[2], &[1, -1])], &Attrs::new());
        assert_eq!(out, ints(ElemType::I8, &[2], &[-128, 127]));
    }

    #[test]
    fn integer_division_truncates_and_rejects_zero() {
        let out = run(&DIV, &[ints(ElemType::I32, &[2], &[-7, 7]), ints(ElemType::I32, &[2], &[2, -2])], &Attrs::new());
        assert_eq!(out, ints(ElemType::I32, &[2], &[-3, -3]));
        let e = eval_of(&DIV)(&[ints(ElemType::I32, &[1], &[1]), ints(ElemType::I32, &[1], &[0])], &Attrs::new(), &[]);
        assert_eq!(e.unwrap_err(), "integer division by zero");
        let u64t = ElemType::Int { width: 64, signed: false };
        let out = run(&DIV, &[ints(u64t.clone(), &[1], &[-2]), ints(u64t.clone(), &[1], &[2])], &Attrs::new());
        assert_eq!(out, ints(u64t, &[1], &[i64::MAX]));
    }

    #[test]
    fn pow_on_integers_and_floats() {
        let i = |v: &[i64]| ints(ElemType::I32, &[v.len() as u64], v);
        let out = run(&POW, &[i(&[2, 2, -1, 1, 3]), i(&[10, -1, -3, -2, 40])], &Attrs::new());
        assert_eq!(out, i(&[1024, 0, -1, 1, 3i64.wrapping_pow(40) as i32 as i64]));
        assert!(eval_of(&POW)(&[i(&[0]), i(&[-1])], &Attrs::new(), &[]).is_err());
        let out = run(&POW, &[f32s(&[2], &[4.0, -8.0]), f32s(&[2], &[0.5, 0.0])], &Attrs::new());
        assert_eq!(out, f32s(&[2], &[2.0, 1.0]));
    }

    #[test]
    fn max_and_min_propagate_nan_and_compare_unsigned() {
        let out = run(&MAX, &[f32s(&[3], &[1., f32::NAN, -1.]), f32s(&[1], &[0.])], &Attrs::new());
        assert!(out.data.get(1) != out.data.get(1));
        assert_eq!((out.data.get(0), out.data.get(2)), (Scalar::Float(1.0), Scalar::Float(0.0)));
        let u8t = ElemType::Int { width: 8, signed: false };
        let out = run(&MIN, &[ints(u8t.clone(), &[1], &[200]), ints(u8t.clone(), &[1], &[3])], &Attrs::new());
        assert_eq!(out, ints(u8t, &[1], &[3]));
    }

    #[test]
    fn identity_folds_skip_float_zero() {
        let one = ints(ElemType::I32, &[], &[1]);
        assert!(matches!(fold_mul(&FoldInput::values(&[None, Some(&one)], &Attrs::new())), Some(Folded::Operand(0))));
        assert!(matches!(fold_mul(&FoldInput::values(&[Some(&one), None], &Attrs::new())), Some(Folded::Operand(1))));
        assert!(fold_div(&FoldInput::values(&[Some(&one), None], &Attrs::new())).is_none());
        let fzero = f32s(&[], &[0.0]);
        assert!(fold_add(&FoldInput::values(&[None, Some(&fzero)], &Attrs::new())).is_none());
    }

    #[test]
    fn mixed_element_types_are_rejected() {
        let (a, b) = (Type::Tensor(f32_type(&[2])), Type::Tensor(crate::TensorType::fixed(&[2], ElemType::I32)));
        let types = [&a, &b];
        let attrs = Attrs::new();
        let info = OpInfo::new(&types, &attrs);
        assert_eq!(infer_numeric_binary(&info).unwrap_err(), "element types differ: f32 vs i32");
    }
}
