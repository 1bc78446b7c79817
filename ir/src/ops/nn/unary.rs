//! Elementwise unary ops of the nn dialect: `neg`, `abs`, `relu` (floats
//! and integers) and the float functions `reciprocal`, `sqrt`, `exp`,
//! `log`, `erf`, `tanh`, `sigmoid`, `silu`, `gelu`.
//!
//! Invariants: the result type is the operand type; integer results wrap.
//! On f32, `exp log erf tanh sigmoid silu gelu` are weft's own f32 algorithms
//! ([`crate::ops::math`], the same operation sequence the JIT runs); every
//! other float case is computed in f64 (std, libm's `erf`) and rounded once.

use super::arith::ONE_RESULT;
use super::common::{choice_attr, float_operand, int_value, numeric_operand, wrap};
use crate::module::Attrs;
use crate::ops::{eval, math};
use crate::ops::{Arity, AttrKind, AttrSpec, OpDef, OpInfo, Trait};
use crate::tensor::{Scalar, Tensor, TensorData};
use crate::types::Type;

pub(super) const UNARY: Arity = Arity::Fixed(&["input"]);

fn infer_float_unary(info: &OpInfo) -> Result<Vec<Type>, String> {
    Ok(vec![Type::Tensor(float_operand(info, 0)?.clone())])
}

fn infer_numeric_unary(info: &OpInfo) -> Result<Vec<Type>, String> {
    Ok(vec![Type::Tensor(numeric_operand(info, 0)?.clone())])
}

/// Applies a float function to every element of a float tensor: `f32` (if
/// given) to f32 tensors, else the f64 function, rounded once.
fn float_map(ops: &[Tensor], f: fn(f64) -> f64, f32: Option<fn(f32) -> f32>) -> Result<Vec<Tensor>, String> {
    let x = &ops[0];
    if let (Some(g), TensorData::F32(v)) = (f32, &x.data) {
        let data = TensorData::F32(v.iter().map(|&e| g(e)).collect());
        return Ok(vec![Tensor { elem: x.elem.clone(), shape: x.shape.clone(), data }]);
    }
    Ok(vec![eval::unary(x, eval::float_fn(f))])
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

/// The float semantics of the ops with an f32 algorithm of their own.
macro_rules! f32_math_doc {
    () => {
        "f32: weft's own f32 algorithm (spec/numerics.md: range reduction and a polynomial, a few ulp), \
the same operation sequence in the interpreter and the JIT; f64, f16, bf16: computed in f64 (Rust's \
std; libm's `erf`) and rounded once."
    };
}

macro_rules! float_unary {
    ($konst:ident, $name:literal, $summary:literal, $doc:literal, $f:expr) => {
        float_unary!(@def $konst, $name, $summary,
            concat!($doc, " Float element types only; computed in f64 and rounded once."), $f, None);
    };
    ($konst:ident, $name:literal, $summary:literal, $doc:literal, $f:expr, f32: $g:expr) => {
        float_unary!(@def $konst, $name, $summary, concat!($doc, " Float element types only. ", f32_math_doc!()), $f, Some($g));
    };
    (@def $konst:ident, $name:literal, $summary:literal, $doc:expr, $f:expr, $g:expr) => {
        pub const $konst: OpDef = OpDef {
            name: $name,
            summary: $summary,
            description: concat!($doc, "\n\n```\n%1 = ", $name, " %0 : tensor<2x3xf32>\n```"),
            operands: UNARY,
            results: ONE_RESULT,
            traits: &[Trait::Pure],
            infer: Some(infer_float_unary),
            eval: Some(|ops, _, _| float_map(ops, $f, $g)),
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
float_unary!(EXP, "nn.exp", "Natural exponential e^x, elementwise", "Overflow gives inf.", f64::exp, f32: math::exp);
float_unary!(
    LOG,
    "nn.log",
    "Natural logarithm, elementwise",
    "`log 0 = -inf`; negative inputs give NaN.",
    f64::ln,
    f32: math::log
);
float_unary!(ERF, "nn.erf", "Gauss error function, elementwise", "Odd; saturates to ±1.", libm::erf, f32: math::erf);
float_unary!(TANH, "nn.tanh", "Hyperbolic tangent, elementwise", "Odd; saturates to ±1.", f64::tanh, f32: math::tanh);
float_unary!(
    SIGMOID,
    "nn.sigmoid",
    "Logistic function 1 / (1 + e^-x), elementwise",
    "Computed as `1 / (1 + e^-x)` for x >= 0 and `e^x / (1 + e^x)` otherwise, so no \
intermediate overflows.",
    sigmoid,
    f32: math::sigmoid
);

float_unary!(
    SILU,
    "nn.silu",
    "Sigmoid linear unit x * sigmoid(x), elementwise",
    "`x` times `nn.sigmoid`'s value, one rounding per step (what `fuse` makes of `x * Sigmoid(x)`).",
    silu,
    f32: silu_f32
);

fn silu(x: f64) -> f64 {
    x * sigmoid(x)
}

fn silu_f32(x: f32) -> f32 {
    x * math::sigmoid(x)
}

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
    description: concat!(
        "Float element types only. `approximate = \"none\"` (the default) computes \
`0.5 * x * (1 + erf(x / sqrt(2)))`; `\"tanh\"` computes `0.5 * x * (1 + tanh(sqrt(2 / pi) * (x + \
0.044715 * x^3)))`. ",
        f32_math_doc!(),
        " The f32 algorithms evaluate `x * Φ(x)` and `x * sigmoid(2u)` in forms without the \
cancellation of `1 + erf` and `1 + tanh` for negative x.\n\n\
```\n%1 = nn.gelu %0 {approximate = \"tanh\"} : tensor<2x3xf32>\n```"
    ),
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

/// The f64 and the f32 function of one GELU form.
type GeluForm = (fn(f64) -> f64, fn(f32) -> f32);

fn eval_gelu(ops: &[Tensor], attrs: &Attrs, _: &[Type]) -> Result<Vec<Tensor>, String> {
    let (f, g): GeluForm = match choice_attr(attrs, "approximate", GELU_APPROXIMATIONS)? {
        "tanh" => (gelu_tanh, math::gelu_tanh),
        _ => (gelu_erf, math::gelu_erf),
    };
    float_map(ops, f, Some(g))
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
    fn f32_functions_use_weft_math_and_f64_the_reference_libraries() {
        let x = f32s(&[3], &[-1.0, 0.0, 2.0]);
        let s = values(&run(&SIGMOID, std::slice::from_ref(&x), &Attrs::new()));
        let f32_sigmoid: Vec<f64> = [-1.0, 0.0, 2.0].iter().map(|&v| f64::from(math::sigmoid(v))).collect();
        assert_eq!(s, f32_sigmoid);
        // weft's f32 sigmoid(2) is one ulp from the correctly rounded value.
        assert_ne!(s[2], sigmoid(2.0) as f32 as f64);
        let big = run(&SIGMOID, &[f32s(&[2], &[-1000.0, 1000.0])], &Attrs::new());
        assert_eq!(values(&big), vec![0.0, 1.0]);
        assert_eq!(values(&run(&ERF, std::slice::from_ref(&x), &Attrs::new()))[2], f64::from(math::erf(2.0)));
        let f64x = Tensor { elem: ElemType::F64, shape: vec![1], data: TensorData::F64(vec![2.0]) };
        assert_eq!(values(&run(&SIGMOID, std::slice::from_ref(&f64x), &Attrs::new())), vec![sigmoid(2.0)]);
        assert_eq!(values(&run(&ERF, &[f64x], &Attrs::new())), vec![libm::erf(2.0)]);
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
