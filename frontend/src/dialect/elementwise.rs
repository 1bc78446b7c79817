//! Elementwise arithmetic of the onnx dialect: `Add`, `Sub`, `Mul`, `Div`,
//! `Pow`, the variadic `Max` and `Min`, `Where` and `Clip`.
//!
//! Invariants: operands broadcast with numpy rules; float math is done in
//! f64 and rounded once to the element type; integer results wrap to the
//! element width, integer division truncates toward zero, and integers are
//! compared by value (`u64` read unsigned, see `a_common::int_value`).

use super::a_common::{arg, f64_value, float_to_int, int_scalar, int_value, tensor_type, Operands, ANY, BOOL, NUMERIC};
use weft_ir::ops::eval;
use weft_ir::ops::{Arity, OpDef, OpInfo, Trait};
use weft_ir::tensor::{Scalar, Tensor};
use weft_ir::types::{ElemType, Type};

const AB: Arity = Arity::Fixed(&["A", "B"]);
const C: Arity = Arity::Fixed(&["C"]);
const PURE: &[Trait] = &[Trait::Pure];
const PURE_COMMUTATIVE: &[Trait] = &[Trait::Pure, Trait::Commutative];

/// Declares a broadcasting binary arithmetic op from its scalar semantics
/// `fn(elem, lhs, rhs) -> Result<Scalar, String>`.
macro_rules! arith_op {
    ($konst:ident, $op:literal, $summary:literal, $traits:expr, $extra:literal, $f:expr) => {
        pub const $konst: OpDef = OpDef {
            name: concat!("onnx.", $op),
            summary: $summary,
            description: concat!(
                $summary,
                ", elementwise with numpy broadcasting (ONNX `",
                $op,
                "`, opset 14). Both operands have the same element type, a float or integer type. ",
                $extra,
                "\n\n```\n%2 = onnx.",
                $op,
                " %0, %1 : (tensor<2x3xf32>, tensor<3xf32>) -> tensor<2x3xf32>\n```"
            ),
            operands: AB,
            results: C,
            traits: $traits,
            infer: Some(infer_arith),
            eval: Some(|ops, _, _| {
                let (a, b) = (arg(ops, 0)?, arg(ops, 1)?);
                let elem = a.elem.clone();
                Ok(vec![eval::binary(a, b, |x, y| $f(&elem, x, y))?])
            }),
            ..OpDef::DEFAULT
        };
    };
}

arith_op!(ADD, "Add", "Sum A + B", PURE_COMMUTATIVE, "Integers wrap to the element width.", |_: &ElemType, x, y| Ok(
    arith(x, y, |a, b| a + b, i64::wrapping_add)
));
arith_op!(SUB, "Sub", "Difference A - B", PURE, "Integers wrap to the element width.", |_: &ElemType, x, y| Ok(arith(
    x,
    y,
    |a, b| a - b,
    i64::wrapping_sub
)));
arith_op!(
    MUL,
    "Mul",
    "Product A * B",
    PURE_COMMUTATIVE,
    "Integers wrap to the element width.",
    |_: &ElemType, x, y| Ok(arith(x, y, |a, b| a * b, i64::wrapping_mul))
);
arith_op!(
    DIV,
    "Div",
    "Quotient A / B",
    PURE,
    "Integer division truncates toward zero (`-7 / 2 = -3`); an integer division by zero is an \
     evaluation error, and the one overflowing case (`-128 / -1` in i8) wraps. Float division \
     follows IEEE (`1 / 0 = inf`).",
    div
);

fn infer_arith(info: &OpInfo) -> Result<Vec<Type>, String> {
    let ops = Operands::new(info, AB);
    let a = ops.typed(0, &NUMERIC)?;
    ops.typed(1, &NUMERIC)?;
    ops.same_elem(0, 1)?;
    Ok(vec![tensor_type(ops.broadcast(&[0, 1])?, a.elem.clone())])
}

fn arith(x: Scalar, y: Scalar, f: impl Fn(f64, f64) -> f64, i: impl Fn(i64, i64) -> i64) -> Scalar {
    match (x, y) {
        (Scalar::Int(a), Scalar::Int(b)) => Scalar::Int(i(a, b)),
        (a, b) => Scalar::Float(f(eval::as_f64(a), eval::as_f64(b))),
    }
}

fn div(elem: &ElemType, x: Scalar, y: Scalar) -> Result<Scalar, String> {
    match (x, y) {
        (Scalar::Int(_), Scalar::Int(0)) => Err("integer division by zero".into()),
        (Scalar::Int(a), Scalar::Int(b)) => Ok(int_scalar(elem, int_value(elem, a) / int_value(elem, b))),
        (a, b) => Ok(Scalar::Float(eval::as_f64(a) / eval::as_f64(b))),
    }
}

const XY: Arity = Arity::Fixed(&["X", "Y"]);

/// Base types of `Pow` (ONNX constraint `T`).
const POW_BASE: super::a_common::TypeSet = super::a_common::TypeSet {
    describe: "a float type, i32 or i64 (f16, bf16, f32, f64, i32, i64)",
    accepts: |e| e.is_float() || matches!(e, ElemType::Int { width: 32 | 64, signed: true }),
};

pub const POW: OpDef = OpDef {
    name: "onnx.Pow",
    summary: "Power X ^ Y, elementwise with numpy broadcasting",
    description: "The result has X's element type; Y may have any float or integer type (ONNX \
`Pow`, opset 15). Float bases: `powf` in f64 (C `pow` special cases: `x ^ 0 = 1`), rounded once. \
Integer bases with integer exponents are exact and wrap to the width; a negative exponent gives \
the truncated real result (`2 ^ -1 = 0`, `(-1) ^ -3 = -1`) and `0 ^ -1` is an evaluation error. \
Integer bases with float exponents compute in f64 and convert like `Cast` (truncate toward zero, \
NaN to 0, saturate).\n\n\
```\n%2 = onnx.Pow %0, %1 : (tensor<2x3xf32>, tensor<i64>) -> tensor<2x3xf32>\n```",
    operands: XY,
    results: Arity::Fixed(&["Z"]),
    traits: PURE,
    infer: Some(|info| {
        let ops = Operands::new(info, XY);
        let x = ops.typed(0, &POW_BASE)?;
        ops.typed(1, &NUMERIC)?;
        Ok(vec![tensor_type(ops.broadcast(&[0, 1])?, x.elem.clone())])
    }),
    eval: Some(|ops, _, _| {
        let (x, y) = (arg(ops, 0)?, arg(ops, 1)?);
        let (be, ee) = (x.elem.clone(), y.elem.clone());
        Ok(vec![eval::binary(x, y, |b, e| pow(&be, &ee, b, e))?])
    }),
    ..OpDef::DEFAULT
};

fn pow(base_elem: &ElemType, exp_elem: &ElemType, b: Scalar, e: Scalar) -> Result<Scalar, String> {
    match (b, e) {
        (Scalar::Int(b), Scalar::Int(e)) => int_pow(b, int_value(exp_elem, e)).map(|v| int_scalar(base_elem, v)),
        (Scalar::Int(b), Scalar::Float(e)) => Ok(int_scalar(base_elem, to_int(base_elem, (b as f64).powf(e)))),
        (b, e) => Ok(Scalar::Float(eval::as_f64(b).powf(f64_value(exp_elem, e)))),
    }
}

/// `b ^ e` for integers, wrapping in 64 bits (callers wrap to the width).
fn int_pow(b: i64, e: i128) -> Result<i128, String> {
    if e < 0 {
        return match b {
            0 => Err("integer 0 raised to a negative power".into()),
            1 => Ok(1),
            -1 => Ok(if e % 2 == 0 { 1 } else { -1 }),
            _ => Ok(0),
        };
    }
    let (mut acc, mut base, mut e) = (1i64, b, e as u128);
    while e > 0 {
        if e & 1 == 1 {
            acc = acc.wrapping_mul(base);
        }
        base = base.wrapping_mul(base);
        e >>= 1;
    }
    Ok(acc as i128)
}

fn to_int(elem: &ElemType, x: f64) -> i128 {
    match elem {
        ElemType::Int { width, signed } => float_to_int(x, *width, *signed),
        _ => x as i128,
    }
}

const DATA: Arity = Arity::Variadic { name: "data", min: 1 };

/// Declares a variadic broadcasting extremum (`Max`, `Min`).
macro_rules! extremum_op {
    ($konst:ident, $op:literal, $which:literal, $max:expr) => {
        pub const $konst: OpDef = OpDef {
            name: concat!("onnx.", $op),
            summary: concat!("Elementwise ", $which, " of one or more tensors, with numpy broadcasting"),
            description: concat!(
                "All operands have the same float or integer element type (ONNX `",
                $op,
                "`, opset 13). A NaN operand gives NaN (numpy `",
                $which,
                "imum`); integers compare by value.\n\n```\n%3 = onnx.",
                $op,
                " %0, %1, %2 : (tensor<2x3xf32>, tensor<3xf32>, tensor<f32>) -> tensor<2x3xf32>\n```"
            ),
            operands: DATA,
            results: Arity::Fixed(&[$which]),
            traits: PURE_COMMUTATIVE,
            infer: Some(infer_variadic),
            eval: Some(|ops, _, _| {
                let elem = arg(ops, 0)?.elem.clone();
                let refs: Vec<&Tensor> = ops.iter().collect();
                Ok(vec![eval::broadcast_map(&refs, &elem, |xs| Ok(extremum(&elem, xs, $max)))?])
            }),
            ..OpDef::DEFAULT
        };
    };
}

extremum_op!(MAX, "Max", "max", true);
extremum_op!(MIN, "Min", "min", false);

fn infer_variadic(info: &OpInfo) -> Result<Vec<Type>, String> {
    let ops = Operands::new(info, DATA);
    let first = ops.typed(0, &NUMERIC)?;
    for i in 1..ops.len() {
        ops.typed(i, &NUMERIC)?;
        ops.same_elem(0, i)?;
    }
    let all: Vec<usize> = (0..ops.len()).collect();
    Ok(vec![tensor_type(ops.broadcast(&all)?, first.elem.clone())])
}

/// The greatest (`max`) or least element of `xs`; a NaN among floats gives
/// NaN.
fn extremum(elem: &ElemType, xs: &[Scalar], max: bool) -> Scalar {
    let mut best = xs[0];
    for &x in &xs[1..] {
        let take = match (best, x) {
            (Scalar::Int(a), Scalar::Int(b)) => {
                let (va, vb) = (int_value(elem, a), int_value(elem, b));
                if max {
                    vb > va
                } else {
                    vb < va
                }
            }
            (a, b) => {
                let (fa, fb) = (eval::as_f64(a), eval::as_f64(b));
                if fa.is_nan() || fb.is_nan() {
                    best = Scalar::Float(f64::NAN);
                    continue;
                }
                if max {
                    fb > fa
                } else {
                    fb < fa
                }
            }
        };
        if take {
            best = x;
        }
    }
    best
}

const WHERE_OPERANDS: Arity = Arity::Fixed(&["condition", "X", "Y"]);

pub const WHERE: OpDef = OpDef {
    name: "onnx.Where",
    summary: "Elementwise select: X where condition is true, else Y",
    description: "The three operands broadcast together (numpy rules); condition is bool, X and \
Y have the same element type, which the result has (ONNX `Where`, opset 16).\n\n\
```\n%3 = onnx.Where %0, %1, %2 : (tensor<2x3xbool>, tensor<2x3xf32>, tensor<f32>) -> tensor<2x3xf32>\n```",
    operands: WHERE_OPERANDS,
    results: Arity::Fixed(&["output"]),
    traits: PURE,
    infer: Some(|info| {
        let ops = Operands::new(info, WHERE_OPERANDS);
        ops.typed(0, &BOOL)?;
        let x = ops.typed(1, &ANY)?;
        ops.typed(2, &ANY)?;
        ops.same_elem(1, 2)?;
        Ok(vec![tensor_type(ops.broadcast(&[0, 1, 2])?, x.elem.clone())])
    }),
    eval: Some(|ops, _, _| {
        let (c, x, y) = (arg(ops, 0)?, arg(ops, 1)?, arg(ops, 2)?);
        let pick = |v: &[Scalar]| Ok(if v[0] != Scalar::Int(0) { v[1] } else { v[2] });
        Ok(vec![eval::broadcast_map(&[c, x, y], &x.elem, pick)?])
    }),
    ..OpDef::DEFAULT
};

const CLIP_OPERANDS: Arity = Arity::Fixed(&["input", "min", "max"]);

pub const CLIP: OpDef = OpDef {
    name: "onnx.Clip",
    summary: "Limits every element to [min, max]",
    description: "`min(max(input, min), max)` elementwise (ONNX `Clip`, opset 13): when min > max \
every element becomes max; a NaN input stays NaN. `min` and `max` are optional scalars (rank 0, \
or ONNX Runtime's lenient shape `[1]`) of the input's element type; a missing trailing bound is \
no bound. The importer materializes an omitted `min` followed by a present `max` as the lowest \
value of the type (`-inf` for floats).\n\n\
```\n%3 = onnx.Clip %0, %1, %2 : (tensor<2x3xf32>, tensor<f32>, tensor<f32>) -> tensor<2x3xf32>\n```",
    operands: Arity::Variadic { name: "input, min?, max?", min: 1 },
    results: Arity::Fixed(&["output"]),
    traits: PURE,
    infer: Some(|info| {
        let ops = Operands::new(info, CLIP_OPERANDS);
        if ops.len() > 3 {
            return Err(format!("takes at most 3 operands (input, min, max), got {}", ops.len()));
        }
        let x = ops.typed(0, &NUMERIC)?;
        for i in 1..ops.len() {
            ops.same_elem(0, i)?;
            ops.scalar_like(i)?;
        }
        Ok(vec![Type::Tensor(x.clone())])
    }),
    eval: Some(eval_clip),
    ..OpDef::DEFAULT
};

fn eval_clip(ops: &[Tensor], _: &weft_ir::Attrs, _: &[Type]) -> Result<Vec<Tensor>, String> {
    let x = arg(ops, 0)?;
    let bound = |i: usize| -> Result<Option<Scalar>, String> {
        match ops.get(i) {
            None => Ok(None),
            Some(t) if t.data.len() == 1 => Ok(Some(t.data.get(0))),
            Some(t) => Err(format!("Clip bound #{i} must hold one element, got shape {:?}", t.shape)),
        }
    };
    let (lo, hi) = (bound(1)?, bound(2)?);
    let below = |a: Scalar, b: Scalar| match (a, b) {
        (Scalar::Int(p), Scalar::Int(q)) => int_value(&x.elem, p) < int_value(&x.elem, q),
        (p, q) => eval::as_f64(p) < eval::as_f64(q),
    };
    Ok(vec![eval::unary(x, |v| {
        let v = match lo {
            Some(l) if below(v, l) => l,
            _ => v,
        };
        match hi {
            Some(h) if below(h, v) => h,
            _ => v,
        }
    })])
}

#[cfg(test)]
#[path = "a_tests/elementwise.rs"]
mod tests;
