//! Test support for the second group of `onnx` ops: building tensors,
//! types and attributes tersely, and running an op's `eval` and `infer`
//! hooks directly.

use weft_ir::ops::{OpDef, OpInfo};
use weft_ir::tensor::{Tensor, TensorData};
use weft_ir::types::{Dim, ElemType, TensorType, Type};
use weft_ir::{Attribute, Attrs, DenseAttr};

pub fn f32t(shape: &[u64], v: &[f32]) -> Tensor {
    assert_eq!(shape.iter().product::<u64>() as usize, v.len(), "test tensor size");
    Tensor { elem: ElemType::F32, shape: shape.to_vec(), data: TensorData::F32(v.to_vec()) }
}

pub fn f64t(shape: &[u64], v: &[f64]) -> Tensor {
    Tensor { elem: ElemType::F64, shape: shape.to_vec(), data: TensorData::F64(v.to_vec()) }
}

pub fn int_t(elem: ElemType, shape: &[u64], v: &[i64]) -> Tensor {
    assert_eq!(shape.iter().product::<u64>() as usize, v.len(), "test tensor size");
    Tensor { elem, shape: shape.to_vec(), data: TensorData::Int(v.to_vec()) }
}

pub fn i64t(shape: &[u64], v: &[i64]) -> Tensor {
    int_t(ElemType::I64, shape, v)
}

/// `0..n` as f32, in `shape`.
pub fn iota(shape: &[u64]) -> Tensor {
    let n = shape.iter().product::<u64>();
    f32t(shape, &(0..n).map(|i| i as f32).collect::<Vec<_>>())
}

/// The f32 values of a tensor.
pub fn vals(t: &Tensor) -> Vec<f32> {
    match &t.data {
        TensorData::F32(v) => v.clone(),
        other => panic!("expected f32 data, got {other:?}"),
    }
}

/// The integer values of a tensor.
pub fn ivals(t: &Tensor) -> Vec<i64> {
    match &t.data {
        TensorData::Int(v) => v.clone(),
        other => panic!("expected integer data, got {other:?}"),
    }
}

pub fn assert_close(got: &[f32], want: &[f32], tol: f32) {
    assert_eq!(got.len(), want.len(), "lengths differ: {got:?} vs {want:?}");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!((g - w).abs() <= tol, "element {i}: got {g}, want {w} (all: {got:?})");
    }
}

/// A tensor type from a shape string such as `"[batch]x128"` ("" is rank 0).
pub fn ty(dims: &str, elem: ElemType) -> Type {
    let dims = if dims.is_empty() {
        Vec::new()
    } else {
        dims.split('x')
            .map(|d| match d {
                "?" => Dim::Dyn,
                s if s.starts_with('[') => Dim::Sym(s.trim_matches(|c| c == '[' || c == ']').to_string()),
                s => Dim::Fixed(s.parse().expect("test dim")),
            })
            .collect()
    };
    Type::Tensor(TensorType::new(dims, elem))
}

pub fn f32ty(dims: &str) -> Type {
    ty(dims, ElemType::F32)
}

pub fn int(v: i64) -> Attribute {
    Attribute::Int(v)
}

pub fn float(v: f64) -> Attribute {
    Attribute::Float(v)
}

pub fn string(s: &str) -> Attribute {
    Attribute::Str(s.to_string())
}

pub fn int_list(v: &[i64]) -> Attribute {
    Attribute::Array(v.iter().map(|&i| Attribute::Int(i)).collect())
}

pub fn attrs(entries: &[(&str, Attribute)]) -> Attrs {
    entries.iter().map(|(k, v)| (k.to_string(), v.clone())).collect()
}

/// Runs `op`'s reference semantics.
pub fn eval(op: &OpDef, operands: &[Tensor], attrs: &Attrs) -> Result<Vec<Tensor>, String> {
    (op.eval.expect("op has eval"))(operands, attrs, &[])
}

/// Runs `op`'s reference semantics, expecting success and one result.
pub fn eval1(op: &OpDef, operands: &[Tensor], attrs: &Attrs) -> Tensor {
    match eval(op, operands, attrs) {
        Ok(mut v) => v.remove(0),
        Err(e) => panic!("{} failed: {e}", op.name),
    }
}

/// An operand of shape inference: its type, and its value if constant.
pub enum Arg {
    Ty(Type),
    Const(Tensor),
}

/// Runs `op`'s shape inference.
pub fn infer(op: &OpDef, args: &[Arg], attrs: &Attrs) -> Result<Vec<Type>, String> {
    let types: Vec<Type> = args
        .iter()
        .map(|a| match a {
            Arg::Ty(t) => t.clone(),
            Arg::Const(t) => Type::Tensor(t.ty()),
        })
        .collect();
    let consts: Vec<Option<DenseAttr>> = args
        .iter()
        .map(|a| match a {
            Arg::Ty(_) => None,
            Arg::Const(t) => Some(DenseAttr { ty: t.ty(), data: t.data.clone() }),
        })
        .collect();
    let type_refs: Vec<&Type> = types.iter().collect();
    let const_refs: Vec<Option<&DenseAttr>> = consts.iter().map(Option::as_ref).collect();
    let info = OpInfo { operand_types: &type_refs, attrs, constants: &const_refs };
    (op.infer.expect("op has infer"))(&info)
}

/// Runs shape inference expecting one result; returns it printed.
pub fn infer1(op: &OpDef, args: &[Arg], attrs: &Attrs) -> String {
    match infer(op, args, attrs) {
        Ok(v) => v.iter().map(|t| t.to_string()).collect::<Vec<_>>().join(", "),
        Err(e) => panic!("{} inference failed: {e}", op.name),
    }
}

/// Runs shape inference expecting an error containing `needle`.
pub fn infer_err(op: &OpDef, args: &[Arg], attrs: &Attrs, needle: &str) {
    match infer(op, args, attrs) {
        Ok(v) => panic!("{} inference should fail with '{needle}', got {v:?}", op.name),
        Err(e) => assert!(e.contains(needle), "error '{e}' does not contain '{needle}'"),
    }
}
