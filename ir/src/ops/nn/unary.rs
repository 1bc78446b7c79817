//! Elementwise unary ops of the nn dialect: `neg`, `abs`, `relu` (floats
//! and integers) and the float functions `reciprocal`, `sqrt`, `exp`,
//! `log`, `erf`, `tanh`, `sigmoid`, `gelu`.
//!
//! Invariants: the result type is the operand type; float functions are
//! computed in f64 (libm's `erf`) and rounded once; integer results wrap.

use super::arith::ONE_RESULT;
use super::common::{choice_attr, float_operand, int_value, numeric_operand, wrap};
use crate::module::Attrs;
use crate::ops::eval;
use crate::ops::{Arity, AttrKind, AttrSpec, OpDef, OpInfo, Trait};
use crate::tensor::{Scalar, Tensor};
use crate::types::Type;

pub(super) const UNARY: Arity = Arity::Fixed(&["input"]);

fn infer_float_unary(info: &OpInfo) -> Result<Vec<Type>, String> {
    Ok(vec![Type::Tensor(float_operand(info, 0)?.clone())])
}

fn infer_numeric_unary(info: &OpInfo) -> Result<Vec<Type>, String> {
    Ok(vec![Type::Tensor(numeric_operand(info, 0)?.clone())])
}

/// Applies an f64 function to every element of a float tensor.
fn float_map(ops: &[Tensor], f: fn(f64) -> f64) -> Result<Vec<Tensor>, String> {
    Ok(vec![eval::unary(&ops[0], eval::float_fn(f))])
}

/// Applies a rule on exact integer values or f64s to every element.
fn numeric_map(ops: &[Tensor], f: fn(f64) -> f64, i: fn(i128) -> i128) -> Result<Vec<Tensor>, String> {
    let x = &ops[0];
    let elem = x.elem.clone();
    Ok(vec![eval::unary(x, |s| match s {
        Scalar::Int(v) => wrap(&elem, i(int_value(&elem, v))),
        Scalar::Float(v) => Scalar::Float(f(v)),
    })])
}

macro_rules! float_unary {
    ($konst:ident, $name:literal, $summary:literal, $doc:literal, $f:expr) => {
        pub const $konst: OpDef = OpDef {
            name: $name,
            summary: $summary,
            description: concat!(
                $doc,
                " Float element types only; computed in f64 and rounded once.\n\n```\n%1 = ",
                $name,
                " %0 : tensor<2x3xf32>\n```"
            ),
            operands: UNARY,
            results: ONE_RESULT,
            traits: &[Trait::Pure],
            infer: Some(infer_float_unary),
            eval: Some(|ops, _, _| float_map(ops, $f)),
            ..OpDef::DEFAULT
        };
    };
}

macro_rules! numeric_unary {
    ($konst:ident, $name:literal, $summary:literal, $doc:literal, $f:expr, $i:expr) => {
        pub const $konst: OpDef = OpDef {
            name: $name,
            summary: $summary,
            description: concat!($doc, "\n\n```\n%1 = ", $name, " %0 : tensor<2x3xf32>\n```"),
            operands: UNARY,
            results: ONE_RESULT,
            traits: &[Trait::Pure],
            infer: Some(infer_numeric_unary),
            eval: Some(|ops, _, _| numeric_map(ops, $f, $i)),
            ..OpDef::DEFAULT
        };
    };
}

numeric_unary!(
    NEG,
    "nn.neg",
    "Negation -x, elementwise",
    "Floats and integers; integers wrap (`-(-128) = -128` in i8, `-1` in u8 is 255).",
    |x| -x,
    |v| -v
);
numeric_unary!(
    ABS,
    "nn.abs",
    "Absolute value abs(x), elementwise",
    "Floats and integers; signed integers wrap (`|-128| = -128` in i8), unsigned values are unchanged.",
    f64::abs,
    i128::abs
);
numeric_unary!(
    RELU,
    "nn.relu",
    "Rectified linear unit max(x, 0), elementwise",
    "Floats and integers; NaN stays NaN, -0.0 gives 0.0.",
    |x| if x > 0.0 || x.is_nan() { x } else { 0.0 },
    |v| v.max(0)
);
float_unary!(RECIPROCAL, "nn.reciprocal", "Reciprocal 1 / x, elementwise", "`1 / 0 = inf`.", |x| 1.0 / x);
float_unary!(SQRT, "nn.sqrt", "Square root, elementwise", "Negative inputs give NaN.", f64::sqrt);
float_unary!(EXP, "nn.exp", "Natural exponential e^x, elementwise", "Overflow gives inf.", f64::exp);
float_unary!(LOG, "nn.log", "Natural logarithm, elementwise", "`log 0 = -inf`; negative inputs give NaN.", f64::ln);
float_unary!(ERF, "nn.erf", "Gauss error function, elementwise", "libm's `erf`.", libm::erf);
float_unary!(TANH, "nn.tanh", "Hyperbolic tangent, elementwise", "", f64::tanh);
float_unary!(
    SIGMOID,
    "nn.sigmoid",
    "Logistic function 1 / (1 + e^-x), elementwise",
    "Computed as `1 / (1 + e^-x)` for x >= 0 and `e^x / (1 + e^x)` otherwise, so no \
intermediate overflows.",
    sigmoid
);

fn sigmoid(x: f64) -> f64 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        let e = x.exp();
        e / (1.0 + e)
    }
}

const GELU_APPROXIMATIONS: &[&str] = &["none", "tanh"];

pub const GELU: OpDef = OpDef {
    name: "nn.gelu",
    summary: "Gaussian error linear unit, elementwise",
    description: "Float element types only. `approximate = \"none\"` (the default) computes \
`0.5 * x * (1 + erf(x / sqrt(2)))`; `\"tanh\"` computes `0.5 * x * (1 + tanh(sqrt(2 / pi) * (x + \
0.044715 * x^3)))`. Both in f64, rounded once.\n\n\
```\n%1 = nn.gelu %0 {approximate = \"tanh\"} : tensor<2x3xf32>\n```",
    operands: UNARY,
    results: ONE_RESULT,
    attrs: &[AttrSpec {
        name: "approximate",
        kind: AttrKind::Str,
        required: false,
        doc: "\"none\" (default: the erf form) or \"tanh\"",
    }],
    traits: &[Trait::Pure],
    infer: Some(|info| {
        choice_attr(info.attrs, "approximate", GELU_APPROXIMATIONS)?;
        infer_float_unary(info)
    }),
    eval: Some(eval_gelu),
    ..OpDef::DEFAULT
};

fn eval_gelu(ops: &[Tensor], attrs: &Attrs, _: &[Type]) -> Result<Vec<Tensor>, String> {
    let f: fn(f64) -> f64 = match choice_attr(attrs, "approximate", GELU_APPROXIMATIONS)? {
        "tanh" => gelu_tanh,
        _ => gelu_erf,
    };
    float_map(ops, f)
}

fn gelu_erf(x: f64) -> f64 {
    0.5 * x * (1.0 + libm::erf(x / std::f64::consts::SQRT_2))
}

fn gelu_tanh(x: f64) -> f64 {
    let c = (2.0 / std::f64::consts::PI).sqrt();
    0.5 * x * (1.0 + (c * (x + 0.044715 * x * x * x)).tanh())
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;
    use crate::attr::Attribute;
    use crate::types::ElemType;

    #[test]
    fn integer_neg_abs_relu_wrap() {
        let t = ints(ElemType::I8, &[3], &[-128, -3, 5]);
        assert_eq!(run(&NEG, std::slice::from_ref(&t), &Attrs::new()), ints(ElemType::I8, &[3], &[-128, 3, -5]));
        assert_eq!(run(&ABS, std::slice::from_ref(&t), &Attrs::new()), ints(ElemType::I8, &[3], &[-128, 3, 5]));
        assert_eq!(run(&RELU, &[t], &Attrs::new()), ints(ElemType::I8, &[3], &[0, 0, 5]));
    }

    #[test]
    fn float_functions_round_once() {
        let x = f32s(&[3], &[-1.0, 0.0, 2.0]);
        let s = values(&run(&SIGMOID, std::slice::from_ref(&x), &Attrs::new()));
        assert_eq!(s, vec![sigmoid(-1.0) as f32 as f64, 0.5, sigmoid(2.0) as f32 as f64]);
        let big = run(&SIGMOID, &[f32s(&[2], &[-1000.0, 1000.0])], &Attrs::new());
        assert_eq!(values(&big), vec![0.0, 1.0]);
        assert_eq!(values(&run(&ERF, std::slice::from_ref(&x), &Attrs::new()))[2], libm::erf(2.0) as f32 as f64);
        assert_eq!(values(&run(&RECIPROCAL, &[x], &Attrs::new()))[1], f64::INFINITY);
    }

    #[test]
    fn gelu_forms() {
        let x = f32s(&[2], &[1.0, -2.0]);
        let exact = values(&run(&GELU, std::slice::from_ref(&x), &Attrs::new()));
        assert_close(&exact, &[0.841_344_75, -0.045_500_26], 1e-7);
        let tanh =
            values(&run(&GELU, std::slice::from_ref(&x), &attrs(&[("approximate", Attribute::Str("tanh".into()))])));
        assert_close(&tanh, &[0.841_191_97, -0.045_402_3], 1e-6);
        let bad = attrs(&[("approximate", Attribute::Str("fast".into()))]);
        assert!(infer(&GELU, &[f32_type(&[2])], &bad).unwrap_err().contains("must be one of"));
    }

    #[test]
    fn float_functions_reject_integers() {
        let t = crate::TensorType::fixed(&[2], ElemType::I32);
        let e = infer(&EXP, &[t], &Attrs::new()).unwrap_err();
        assert_eq!(e, "operand #0 must have a float element type, got i32");
    }
}
