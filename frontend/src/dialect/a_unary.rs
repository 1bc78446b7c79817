//! Unary elementwise math and activations of the onnx dialect: `Sqrt`,
//! `Exp`, `Log`, `Erf`, `Tanh`, `Sigmoid`, `Relu`, `Neg`, `Abs`,
//! `Reciprocal`, `Softplus`, `HardSigmoid`, `HardSwish`, `Gelu`.
//!
//! Invariants: the result has the operand's type; float math is done in f64
//! and rounded once to the element type (`erf` is libm's, accurate to
//! under 1 ulp of f64); integer results wrap to the element width.

use super::a_common::{
    arg, float_attr, float_to_int, int_scalar, int_value, str_attr, Operands, TypeSet, FLOAT, FLOAT_NO_BF16, NUMERIC,
    SIGNED,
};
use weft_ir::module::Attrs;
use weft_ir::ops::eval;
use weft_ir::ops::{Arity, AttrKind, AttrSpec, OpDef, OpInfo, Trait};
use weft_ir::tensor::{Scalar, Tensor};
use weft_ir::types::{ElemType, Type};

const X: Arity = Arity::Fixed(&["X"]);
const Y: Arity = Arity::Fixed(&["Y"]);

/// Declares a unary op from its scalar semantics `fn(elem, x) -> Scalar`,
/// accepting the element types of `$set`.
macro_rules! unary_op {
    ($konst:ident, $op:literal, $opset:literal, $summary:literal, $set:expr, $extra:literal, $f:expr) => {
        pub const $konst: OpDef = OpDef {
            name: concat!("onnx.", $op),
            summary: $summary,
            description: concat!(
                $summary,
                ", elementwise (ONNX `",
                $op,
                "`, opset ",
                $opset,
                "). ",
                $extra,
                "\n\n```\n%1 = onnx.",
                $op,
                " %0 : tensor<2x3xf32>\n```"
            ),
            operands: X,
            results: Y,
            traits: &[Trait::Pure],
            infer: Some(|info| infer_unary(info, &$set)),
            eval: Some(|ops, _, _| {
                let x = arg(ops, 0)?;
                Ok(vec![eval::unary(x, |s| $f(&x.elem, s))])
            }),
            ..OpDef::DEFAULT
        };
    };
}

/// The operand's type, after checking its element type is in `set`.
fn infer_unary(info: &OpInfo, set: &TypeSet) -> Result<Vec<Type>, String> {
    Ok(vec![Type::Tensor(Operands::new(info, X).typed(0, set)?.clone())])
}

/// Lifts a float function (the operand is a float type).
fn float(f: impl Fn(f64) -> f64) -> impl Fn(&ElemType, Scalar) -> Scalar {
    move |_, s| Scalar::Float(f(eval::as_f64(s)))
}

unary_op!(SQRT, "Sqrt", "13", "Square root", FLOAT, "Negative inputs give NaN.", float(f64::sqrt));
unary_op!(EXP, "Exp", "13", "Natural exponential e^x", FLOAT, "Overflow gives inf.", float(f64::exp));
unary_op!(LOG, "Log", "13", "Natural logarithm", FLOAT, "`log 0 = -inf`; negative inputs give NaN.", float(f64::ln));
unary_op!(TANH, "Tanh", "13", "Hyperbolic tangent", FLOAT, "Float types only.", float(f64::tanh));
unary_op!(
    SIGMOID,
    "Sigmoid",
    "13",
    "Logistic function 1 / (1 + e^-x)",
    FLOAT,
    "Computed without overflow for large |x|.",
    float(sigmoid)
);
unary_op!(RECIPROCAL, "Reciprocal", "13", "Reciprocal 1 / x", FLOAT, "`1 / 0 = inf`.", float(|x| 1.0 / x));
unary_op!(
    SOFTPLUS,
    "Softplus",
    "1",
    "Softplus ln(e^x + 1)",
    FLOAT_NO_BF16,
    "f16, f32 or f64. Computed as `max(x, 0) + ln(1 + e^-|x|)`, exact where the naive form overflows.",
    float(softplus)
);
unary_op!(
    HARD_SWISH,
    "HardSwish",
    "14",
    "Hard swish x * max(0, min(1, x / 6 + 1 / 2))",
    FLOAT_NO_BF16,
    "f16, f32 or f64; ONNX's alpha = 1/6 and beta = 0.5 are fixed; NaN stays NaN.",
    float(|x| x * clamp01(x / 6.0 + 0.5))
);
unary_op!(
    ERF,
    "Erf",
    "13",
    "Gauss error function",
    NUMERIC,
    "Any float or integer type; for integers the f64 result is truncated toward zero, \
     so it is 0 except where erf(x) rounds to ±1 in f64 (|x| >= 6).",
    erf
);
unary_op!(
    RELU,
    "Relu",
    "14",
    "Rectified linear unit max(x, 0)",
    SIGNED,
    "Floats and signed integers; NaN stays NaN.",
    relu
);
unary_op!(
    NEG,
    "Neg",
    "13",
    "Negation -x",
    SIGNED,
    "Floats and signed integers; integers wrap (`-(-128) = -128` in i8).",
    neg
);
unary_op!(
    ABS,
    "Abs",
    "13",
    "Absolute value abs(x)",
    NUMERIC,
    "Any float or integer type; unsigned values are unchanged and signed integers wrap \
     (`|-128| = -128` in i8).",
    abs
);

fn sigmoid(x: f64) -> f64 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        let e = x.exp();
        e / (1.0 + e)
    }
}

fn softplus(x: f64) -> f64 {
    if x.is_nan() {
        return x;
    }
    x.max(0.0) + (-x.abs()).exp().ln_1p()
}

/// `min(1, max(0, v))`, keeping NaN (numpy `clip` semantics).
fn clamp01(v: f64) -> f64 {
    v.clamp(0.0, 1.0)
}

fn erf(elem: &ElemType, s: Scalar) -> Scalar {
    match (elem, s) {
        (ElemType::Int { width, signed }, Scalar::Int(v)) => {
            let y = libm::erf(int_value(elem, v) as f64);
            int_scalar(elem, float_to_int(y, *width, *signed))
        }
        (_, s) => Scalar::Float(libm::erf(eval::as_f64(s))),
    }
}

fn relu(_: &ElemType, s: Scalar) -> Scalar {
    match s {
        Scalar::Int(v) => Scalar::Int(v.max(0)),
        Scalar::Float(x) if x.is_nan() || x > 0.0 => Scalar::Float(x),
        Scalar::Float(_) => Scalar::Float(0.0),
    }
}

fn neg(elem: &ElemType, s: Scalar) -> Scalar {
    match s {
        Scalar::Int(v) => int_scalar(elem, -int_value(elem, v)),
        Scalar::Float(x) => Scalar::Float(-x),
    }
}

fn abs(elem: &ElemType, s: Scalar) -> Scalar {
    match s {
        Scalar::Int(v) => int_scalar(elem, int_value(elem, v).abs()),
        Scalar::Float(x) => Scalar::Float(x.abs()),
    }
}

/// ONNX float attributes are f32: the defaults are the f32 nearest to the
/// documented decimals.
const HARD_SIGMOID_ALPHA: f64 = 0.2f32 as f64;
const HARD_SIGMOID_BETA: f64 = 0.5;

pub const HARD_SIGMOID: OpDef = OpDef {
    name: "onnx.HardSigmoid",
    summary: "Hard sigmoid max(0, min(1, alpha * x + beta)), elementwise",
    description: "f16, f32 or f64 (ONNX `HardSigmoid`, opset 6). `alpha` defaults to 0.2 and `beta` \
to 0.5, as f32 values like every ONNX float attribute; NaN stays NaN.\n\n\
```\n%1 = onnx.HardSigmoid %0 {alpha = 0.25, beta = 0.5} : tensor<2x3xf32>\n```",
    operands: X,
    results: Y,
    attrs: &[
        AttrSpec { name: "alpha", kind: AttrKind::Float, required: false, doc: "slope; default 0.2" },
        AttrSpec { name: "beta", kind: AttrKind::Float, required: false, doc: "offset; default 0.5" },
    ],
    traits: &[Trait::Pure],
    infer: Some(|info| infer_unary(info, &FLOAT_NO_BF16)),
    eval: Some(|ops, attrs, _| {
        let alpha = float_attr(attrs, "alpha", HARD_SIGMOID_ALPHA)?;
        let beta = float_attr(attrs, "beta", HARD_SIGMOID_BETA)?;
        let x = arg(ops, 0)?;
        Ok(vec![eval::unary(x, |s| Scalar::Float(clamp01(alpha * eval::as_f64(s) + beta)))])
    }),
    ..OpDef::DEFAULT
};

pub const GELU: OpDef = OpDef {
    name: "onnx.Gelu",
    summary: "Gaussian error linear unit, elementwise",
    description: "Float types (ONNX `Gelu`, opset 20). `approximate = \"none\"` (the default) \
computes `0.5 * x * (1 + erf(x / sqrt(2)))`; `\"tanh\"` computes \
`0.5 * x * (1 + tanh(sqrt(2 / pi) * (x + 0.044715 * x^3)))`. Both in f64, rounded once.\n\n\
```\n%1 = onnx.Gelu %0 {approximate = \"tanh\"} : tensor<2x3xf32>\n```",
    operands: X,
    results: Y,
    attrs: &[AttrSpec {
        name: "approximate",
        kind: AttrKind::Str,
        required: false,
        doc: "\"none\" (default, exact erf form) or \"tanh\"",
    }],
    traits: &[Trait::Pure],
    infer: Some(|info| {
        gelu_form(info.attrs)?;
        infer_unary(info, &FLOAT)
    }),
    eval: Some(eval_gelu),
    ..OpDef::DEFAULT
};

/// True for the tanh approximation; an error for unknown forms.
fn gelu_form(attrs: &Attrs) -> Result<bool, String> {
    match str_attr(attrs, "approximate", "none")? {
        "none" => Ok(false),
        "tanh" => Ok(true),
        other => Err(format!("attribute 'approximate' must be \"none\" or \"tanh\", got \"{other}\"")),
    }
}

fn eval_gelu(ops: &[Tensor], attrs: &Attrs, _: &[Type]) -> Result<Vec<Tensor>, String> {
    let tanh_form = gelu_form(attrs)?;
    let x = arg(ops, 0)?;
    let f = move |s: Scalar| {
        let x = eval::as_f64(s);
        let inner = if tanh_form {
            ((2.0 / std::f64::consts::PI).sqrt() * (x + 0.044715 * x * x * x)).tanh()
        } else {
            libm::erf(x / std::f64::consts::SQRT_2)
        };
        Scalar::Float(0.5 * x * (1.0 + inner))
    };
    Ok(vec![eval::unary(x, f)])
}

#[cfg(test)]
#[path = "a_tests/unary.rs"]
mod tests;
