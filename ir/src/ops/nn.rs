//! The nn dialect: normalized float (and plain integer) tensor ops, the
//! level ONNX is legalized to and the fuse pass works on.
//!
//! Invariants: elementwise binary ops broadcast with numpy rules and need
//! equal element types; every op here has shape inference and reference
//! semantics (`eval`), so the folder and the interpreter cover all of them.

use super::eval::{self, as_f64, float_fn};
use super::shape::{self, tensor_operand};
use super::{Arity, AttrKind, AttrSpec, Dialect, Folded, OpDef, OpInfo, Trait};
use crate::module::Attrs;
use crate::tensor::{Scalar, Tensor};
use crate::types::{TensorType, Type};

pub static DIALECT: Dialect = Dialect {
    name: "nn",
    summary: "Normalized float tensor ops",
    description: "Ops with numpy semantics on tensors of static or symbolic \
shape. Binary elementwise ops broadcast their operands (numpy rules) and \
require equal element types. Float results are computed in f64 and rounded \
once to the element type; integer results wrap to the element width.",
    ops: &[ADD, SUB, MUL, DIV, NEG, RELU, EXP, SQRT, TANH, MATMUL, TRANSPOSE, RESHAPE, SOFTMAX],
};

const BINARY: Arity = Arity::Fixed(&["lhs", "rhs"]);
const UNARY: Arity = Arity::Fixed(&["input"]);
const ONE_RESULT: Arity = Arity::Fixed(&["result"]);

/// Declares an elementwise binary op from its scalar semantics.
macro_rules! binary_op {
    ($konst:ident, $name:expr, $summary:expr, $traits:expr, $fold:expr, $f:expr) => {
        pub const $konst: OpDef = OpDef {
            name: $name,
            summary: $summary,
            description: concat!(
                $summary,
                ", elementwise with numpy broadcasting.\n\n```\n%2 = ",
                $name,
                " %0, %1 : (tensor<2x3xf32>, tensor<3xf32>) -> tensor<2x3xf32>\n```"
            ),
            operands: BINARY,
            results: ONE_RESULT,
            traits: $traits,
            infer: Some(infer_broadcast),
            fold: $fold,
            eval: Some(|ops, _, _| Ok(vec![eval::binary(&ops[0], &ops[1], $f)?])),
            ..OpDef::DEFAULT
        };
    };
}

binary_op!(ADD, "nn.add", "Sum", &[Trait::Pure, Trait::Commutative], Some(fold_add), |a, b| Ok(arith(
    a,
    b,
    |x, y| x + y,
    i64::wrapping_add
)));
binary_op!(SUB, "nn.sub", "Difference", &[Trait::Pure], Some(fold_sub), |a, b| Ok(arith(
    a,
    b,
    |x, y| x - y,
    i64::wrapping_sub
)));
binary_op!(MUL, "nn.mul", "Product", &[Trait::Pure, Trait::Commutative], Some(fold_mul), |a, b| Ok(arith(
    a,
    b,
    |x, y| x * y,
    i64::wrapping_mul
)));
binary_op!(
    DIV,
    "nn.div",
    "Quotient (integers: truncating; division by zero is an error)",
    &[Trait::Pure],
    Some(fold_div),
    div
);

/// Declares an elementwise unary op from its scalar semantics.
macro_rules! unary_op {
    ($konst:ident, $name:expr, $summary:expr, $f:expr) => {
        pub const $konst: OpDef = OpDef {
            name: $name,
            summary: $summary,
            description: concat!($summary, ", elementwise.\n\n```\n%1 = ", $name, " %0 : tensor<4xf32>\n```"),
            operands: UNARY,
            results: ONE_RESULT,
            traits: &[Trait::Pure],
            infer: Some(infer_same),
            eval: Some(|ops, _, _| Ok(vec![eval::unary(&ops[0], $f)])),
            ..OpDef::DEFAULT
        };
    };
}

unary_op!(NEG, "nn.neg", "Negation", |s| match s {
    Scalar::Int(i) => Scalar::Int(i.wrapping_neg()),
    Scalar::Float(x) => Scalar::Float(-x),
});
unary_op!(RELU, "nn.relu", "Rectified linear unit max(x, 0)", |s| match s {
    Scalar::Int(i) => Scalar::Int(i.max(0)),
    Scalar::Float(x) => Scalar::Float(if x > 0.0 { x } else { 0.0 }),
});
unary_op!(EXP, "nn.exp", "Natural exponential", float_fn(f64::exp));
unary_op!(SQRT, "nn.sqrt", "Square root", float_fn(f64::sqrt));
unary_op!(TANH, "nn.tanh", "Hyperbolic tangent", float_fn(f64::tanh));

pub const MATMUL: OpDef = OpDef {
    name: "nn.matmul",
    summary: "Batched matrix product [..., m, k] x [..., k, n] -> [..., m, n]",
    description: "numpy `matmul` for operands of rank >= 2: batch dimensions \
broadcast. Floats accumulate in f64 and round once per output element; \
integers accumulate with wrapping in i64 and wrap to the element width.\n\n\
```\n%2 = nn.matmul %0, %1 : (tensor<1x128x384xf32>, tensor<384x384xf32>) -> tensor<1x128x384xf32>\n```",
    operands: BINARY,
    results: ONE_RESULT,
    traits: &[Trait::Pure],
    infer: Some(|info| {
        let (a, b) = (tensor_operand(info.operand_types, 0)?, tensor_operand(info.operand_types, 1)?);
        same_elem(a, b)?;
        Ok(vec![Type::Tensor(TensorType::new(shape::matmul_shape(&a.dims, &b.dims)?, a.elem.clone()))])
    }),
    eval: Some(|ops, _, _| Ok(vec![eval::matmul(&ops[0], &ops[1])?])),
    ..OpDef::DEFAULT
};

pub const TRANSPOSE: OpDef = OpDef {
    name: "nn.transpose",
    summary: "Permutes dimensions: result dim i is input dim perm[i]",
    description: "```\n%1 = nn.transpose %0 {perm = [1, 0]} : (tensor<2x3xf32>) -> tensor<3x2xf32>\n```",
    operands: UNARY,
    results: ONE_RESULT,
    attrs: &[AttrSpec { name: "perm", kind: AttrKind::Ints, required: true, doc: "a permutation of 0..rank" }],
    traits: &[Trait::Pure],
    infer: Some(infer_transpose),
    eval: Some(eval_transpose),
    ..OpDef::DEFAULT
};

pub const RESHAPE: OpDef = OpDef {
    name: "nn.reshape",
    summary: "Reinterprets the elements (row-major) with a new static shape",
    description: "The element count must not change. The result type gives \
the new shape.\n\n```\n%1 = nn.reshape %0 : (tensor<2x3xf32>) -> tensor<6xf32>\n```",
    operands: UNARY,
    results: ONE_RESULT,
    traits: &[Trait::Pure],
    eval: Some(|ops, _, results| {
        let shape =
            results[0].as_tensor().and_then(TensorType::static_shape).ok_or("reshape needs a static result shape")?;
        Ok(vec![Tensor { shape, ..ops[0].clone() }])
    }),
    verify: None,
    ..OpDef::DEFAULT
};

pub const SOFTMAX: OpDef = OpDef {
    name: "nn.softmax",
    summary: "exp(x - max) / sum(exp(x - max)) along an axis",
    description: "```\n%1 = nn.softmax %0 {axis = -1} : tensor<1x4xf32>\n```",
    operands: UNARY,
    results: ONE_RESULT,
    attrs: &[AttrSpec {
        name: "axis",
        kind: AttrKind::Int,
        required: true,
        doc: "the reduced axis; negative counts from the end",
    }],
    traits: &[Trait::Pure],
    infer: Some(|info| {
        let t = float_operand(info, 0)?;
        shape::normalize_axis(info.attrs["axis"].as_int().unwrap_or(0), t.rank())?;
        Ok(vec![Type::Tensor(t.clone())])
    }),
    eval: Some(eval_softmax),
    ..OpDef::DEFAULT
};

fn same_elem(a: &TensorType, b: &TensorType) -> Result<(), String> {
    if a.elem != b.elem {
        return Err(format!("element types differ: {} vs {}", a.elem, b.elem));
    }
    Ok(())
}

fn float_operand<'a>(info: &OpInfo<'a>, i: usize) -> Result<&'a TensorType, String> {
    let t = tensor_operand(info.operand_types, i)?;
    if !t.elem.is_float() {
        return Err(format!("operand #{i} must have a float element type, got {}", t.elem));
    }
    Ok(t)
}

fn infer_broadcast(info: &OpInfo) -> Result<Vec<Type>, String> {
    let (a, b) = (tensor_operand(info.operand_types, 0)?, tensor_operand(info.operand_types, 1)?);
    same_elem(a, b)?;
    Ok(vec![Type::Tensor(TensorType::new(shape::broadcast_shapes(&a.dims, &b.dims)?, a.elem.clone()))])
}

fn infer_same(info: &OpInfo) -> Result<Vec<Type>, String> {
    Ok(vec![Type::Tensor(tensor_operand(info.operand_types, 0)?.clone())])
}

fn infer_transpose(info: &OpInfo) -> Result<Vec<Type>, String> {
    let t = tensor_operand(info.operand_types, 0)?;
    let perm = info.attrs["perm"].as_ints().unwrap_or_default();
    shape::check_perm(&perm, t.rank())?;
    let dims = perm.iter().map(|&p| t.dims[p as usize].clone()).collect();
    Ok(vec![Type::Tensor(TensorType::new(dims, t.elem.clone()))])
}

fn eval_transpose(ops: &[Tensor], attrs: &Attrs, _: &[Type]) -> Result<Vec<Tensor>, String> {
    let a = &ops[0];
    let perm: Vec<usize> = attrs["perm"].as_ints().unwrap_or_default().iter().map(|&p| p as usize).collect();
    let shape: Vec<u64> = perm.iter().map(|&p| a.shape[p]).collect();
    let strides = Tensor::strides(&a.shape);
    let mut idx = vec![0u64; shape.len()];
    let t = Tensor::from_fn(a.elem.clone(), shape.clone(), |flat| {
        eval::unflatten(flat as u64, &shape, &mut idx);
        let src: u64 = idx.iter().zip(&perm).map(|(&i, &p)| i * strides[p]).sum();
        a.data.get(src as usize)
    });
    Ok(vec![t])
}

fn eval_softmax(ops: &[Tensor], attrs: &Attrs, _: &[Type]) -> Result<Vec<Tensor>, String> {
    let a = &ops[0];
    let axis = shape::normalize_axis(attrs["axis"].as_int().unwrap_or(-1), a.shape.len())?;
    let n = a.shape[axis] as usize;
    let inner: u64 = a.shape[axis + 1..].iter().product();
    let mut out: Vec<f64> = (0..a.numel() as usize).map(|i| as_f64(a.data.get(i))).collect();
    for outer in 0..(a.numel() / (n as u64 * inner).max(1)) {
        for j in 0..inner {
            let at = |k: usize| (outer * n as u64 * inner + k as u64 * inner + j) as usize;
            let max = (0..n).map(|k| out[at(k)]).fold(f64::NEG_INFINITY, f64::max);
            let sum: f64 = (0..n).map(|k| (out[at(k)] - max).exp()).sum();
            for k in 0..n {
                out[at(k)] = (out[at(k)] - max).exp() / sum;
            }
        }
    }
    Ok(vec![Tensor::from_fn(a.elem.clone(), a.shape.clone(), |i| Scalar::Float(out[i]))])
}

fn arith(a: Scalar, b: Scalar, f: impl Fn(f64, f64) -> f64, i: impl Fn(i64, i64) -> i64) -> Scalar {
    match (a, b) {
        (Scalar::Int(x), Scalar::Int(y)) => Scalar::Int(i(x, y)),
        (x, y) => Scalar::Float(f(as_f64(x), as_f64(y))),
    }
}

fn div(a: Scalar, b: Scalar) -> Result<Scalar, String> {
    match (a, b) {
        (Scalar::Int(_), Scalar::Int(0)) => Err("integer division by zero".into()),
        (Scalar::Int(x), Scalar::Int(y)) => Ok(Scalar::Int(x.wrapping_div(y))),
        (x, y) => Ok(Scalar::Float(as_f64(x) / as_f64(y))),
    }
}

/// True when every element of `t` equals `v` (and `t` is not wider than the
/// result would be, so folding to the other operand keeps the type).
fn all_equal_to(t: Option<&Tensor>, v: f64) -> bool {
    t.is_some_and(|t| t.numel() <= 1 && (0..t.data.len()).all(|i| as_f64(t.data.get(i)) == v))
}

fn fold_add(ops: &[Option<&Tensor>], _: &Attrs) -> Option<Folded> {
    identity_fold(ops, 0.0, true)
}

fn fold_sub(ops: &[Option<&Tensor>], _: &Attrs) -> Option<Folded> {
    identity_fold(ops, 0.0, false)
}

fn fold_mul(ops: &[Option<&Tensor>], _: &Attrs) -> Option<Folded> {
    identity_fold(ops, 1.0, true)
}

fn fold_div(ops: &[Option<&Tensor>], _: &Attrs) -> Option<Folded> {
    identity_fold(ops, 1.0, false)
}

/// `x op e -> x` (and `e op x -> x` when commutative) for a scalar-like
/// identity element `e`. Integer element types only, or floats where the
/// identity is exact (x + 0 is not x for x = -0.0, so float add is skipped).
fn identity_fold(ops: &[Option<&Tensor>], e: f64, commutative: bool) -> Option<Folded> {
    let float_add_like = |t: &Tensor| t.elem.is_float() && e == 0.0;
    if ops[0].is_none() && all_equal_to(ops[1], e) && !ops[1].is_some_and(float_add_like) {
        return Some(Folded::Operand(0));
    }
    if commutative && ops[1].is_none() && all_equal_to(ops[0], e) && !ops[0].is_some_and(float_add_like) {
        return Some(Folded::Operand(1));
    }
    None
}
