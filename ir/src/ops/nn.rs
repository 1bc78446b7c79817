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
    description: "The element count must not change.\n\n\
```\n%1 = nn.reshape %0 {shape = [6]} : (tensor<2x3xf32>) -> tensor<6xf32>\n```",
    operands: UNARY,
    results: ONE_RESULT,
    attrs: &[AttrSpec { name: "shape", kind: AttrKind::Ints, required: true, doc: "the new shape, all extents >= 0" }],
    traits: &[Trait::Pure],
    infer: Some(infer_reshape),
    eval: Some(|ops, attrs, _| {
        let shape = ints_attr(attrs, "shape")?.iter().map(|&d| d as u64).collect();
        Ok(vec![Tensor { shape, ..ops[0].clone() }])
    }),
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
        shape::normalize_axis(int_attr(info.attrs, "axis")?, t.rank())?;
        Ok(vec![Type::Tensor(t.clone())])
    }),
    eval: Some(eval_softmax),
    ..OpDef::DEFAULT
};

fn int_attr(attrs: &Attrs, name: &str) -> Result<i64, String> {
    attrs.get(name).and_then(|a| a.as_int()).ok_or_else(|| format!("attribute '{name}' must be an integer"))
}

fn ints_attr(attrs: &Attrs, name: &str) -> Result<Vec<i64>, String> {
    attrs.get(name).and_then(|a| a.as_ints()).ok_or_else(|| format!("attribute '{name}' must be an array of integers"))
}

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

fn infer_reshape(info: &OpInfo) -> Result<Vec<Type>, String> {
    let t = tensor_operand(info.operand_types, 0)?;
    let shape = ints_attr(info.attrs, "shape")?;
    if let Some(d) = shape.iter().find(|&&d| d < 0) {
        return Err(format!("'shape' has a negative extent {d}"));
    }
    let shape: Vec<u64> = shape.iter().map(|&d| d as u64).collect();
    if let Some(n) = t.num_elements() {
        let m: u64 = shape.iter().product();
        if n != m {
            return Err(format!("cannot reshape {n} elements into shape {shape:?} ({m} elements)"));
        }
    }
    Ok(vec![Type::Tensor(TensorType::fixed(&shape, t.elem.clone()))])
}

fn infer_transpose(info: &OpInfo) -> Result<Vec<Type>, String> {
    let t = tensor_operand(info.operand_types, 0)?;
    let perm = ints_attr(info.attrs, "perm")?;
    shape::check_perm(&perm, t.rank())?;
    let dims = perm.iter().map(|&p| t.dims[p as usize].clone()).collect();
    Ok(vec![Type::Tensor(TensorType::new(dims, t.elem.clone()))])
}

fn eval_transpose(ops: &[Tensor], attrs: &Attrs, _: &[Type]) -> Result<Vec<Tensor>, String> {
    let a = &ops[0];
    let perm: Vec<usize> = ints_attr(attrs, "perm")?.iter().map(|&p| p as usize).collect();
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
    let axis = shape::normalize_axis(int_attr(attrs, "axis")?, a.shape.len())?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tensor::TensorData;
    use crate::types::ElemType;

    fn f32s(shape: &[u64], v: &[f32]) -> Tensor {
        Tensor { elem: ElemType::F32, shape: shape.to_vec(), data: TensorData::F32(v.to_vec()) }
    }

    fn run(def: &OpDef, ops: &[Tensor], attrs: &Attrs) -> Tensor {
        (def.eval.expect("eval"))(ops, attrs, &[]).expect("eval ok").remove(0)
    }

    #[test]
    fn add_broadcasts_rows() {
        let out = run(&ADD, &[f32s(&[2, 2], &[1., 2., 3., 4.]), f32s(&[2], &[10., 20.])], &Attrs::new());
        assert_eq!(out, f32s(&[2, 2], &[11., 22., 13., 24.]));
    }

    #[test]
    fn integer_add_wraps_to_width() {
        let i8s = |v: Vec<i64>| Tensor { elem: ElemType::I8, shape: vec![2], data: TensorData::Int(v) };
        let out = run(&ADD, &[i8s(vec![127, -128]), i8s(vec![1, -1])], &Attrs::new());
        assert_eq!(out.data, TensorData::Int(vec![-128, 127]));
    }

    #[test]
    fn integer_division_by_zero_is_an_error() {
        let i32s = |v: Vec<i64>| Tensor { elem: ElemType::I32, shape: vec![1], data: TensorData::Int(v) };
        assert!((DIV.eval.unwrap())(&[i32s(vec![1]), i32s(vec![0])], &Attrs::new(), &[]).is_err());
    }

    #[test]
    fn matmul_batches_and_transpose_permutes() {
        let a = f32s(&[2, 1, 2], &[1., 2., 3., 4.]);
        let b = f32s(&[2, 1], &[10., 100.]);
        assert_eq!(run(&MATMUL, &[a, b], &Attrs::new()), f32s(&[2, 1, 1], &[210., 430.]));
        let mut attrs = Attrs::new();
        attrs.insert("perm".into(), crate::Attribute::Array(vec![crate::Attribute::Int(1), crate::Attribute::Int(0)]));
        let t = run(&TRANSPOSE, &[f32s(&[2, 3], &[1., 2., 3., 4., 5., 6.])], &attrs);
        assert_eq!(t, f32s(&[3, 2], &[1., 4., 2., 5., 3., 6.]));
    }

    #[test]
    fn softmax_rows_sum_to_one() {
        let mut attrs = Attrs::new();
        attrs.insert("axis".into(), crate::Attribute::Int(-1));
        let out = run(&SOFTMAX, &[f32s(&[2, 2], &[0., 0., 1000., 0.])], &attrs);
        assert_eq!(out, f32s(&[2, 2], &[0.5, 0.5, 1.0, 0.0]));
    }

    #[test]
    fn reshape_infers_and_checks_element_count() {
        let t = Type::Tensor(TensorType::fixed(&[2, 3], ElemType::F32));
        let mut attrs = Attrs::new();
        attrs.insert("shape".into(), crate::Attribute::Array(vec![crate::Attribute::Int(6)]));
        let types = [&t];
        let info = OpInfo::new(&types, &attrs);
        assert_eq!(infer_reshape(&info).unwrap(), vec![Type::Tensor(TensorType::fixed(&[6], ElemType::F32))]);
        attrs.insert("shape".into(), crate::Attribute::Array(vec![crate::Attribute::Int(5)]));
        let info = OpInfo::new(&types, &attrs);
        assert!(infer_reshape(&info).unwrap_err().contains("cannot reshape 6 elements"));
    }
}
