//! ONNX ops whose results are built from shapes and scalars rather than
//! from the elements of an input: `Shape`, `Size`, `ConstantOfShape`,
//! `Range`.
//!
//! Invariants: `Shape` and `Size` results are i64; `ConstantOfShape` and
//! `Range` read their shape-determining operands through
//! `OpInfo::constant`, giving `?` extents when those are unknown.

use super::util_b::{
    attr_int, checked_numel, const_ints, float_operand, int_operand, ints, numeric_operand, operand, round_to,
    scalar_value, shape_from_values, tensor_type, vector_len, MAX_EVAL_ELEMENTS,
};
use weft_ir::ops::eval::as_f64;
use weft_ir::ops::{Arity, AttrKind, AttrSpec, FoldInput, Folded, OpDef, OpInfo, Trait};
use weft_ir::tensor::{Scalar, Tensor, TensorData};
use weft_ir::types::{Dim, ElemType, Type};
use weft_ir::{Attribute, Attrs};

pub const SHAPE: OpDef = OpDef {
    name: "onnx.Shape",
    summary: "The input's shape (dims start..end) as a 1-D i64 tensor",
    description: "`start` and `end` select a range of dims like a Python slice: negative values \
count from the end, and both are clamped to [0, rank]. The result length is known from the input \
rank even when dims are symbolic.\n\n\
```\n%1 = onnx.Shape %0 : (tensor<[batch]x128xf32>) -> tensor<2xi64>\n```",
    operands: Arity::Fixed(&["data"]),
    results: Arity::Fixed(&["shape"]),
    attrs: &[
        AttrSpec { name: "start", kind: AttrKind::Int, required: false, doc: "first dim (default 0)" },
        AttrSpec { name: "end", kind: AttrKind::Int, required: false, doc: "one past the last dim (default rank)" },
    ],
    traits: &[Trait::Pure],
    infer: Some(infer_shape),
    fold: Some(fold_shape),
    eval: Some(eval_shape),
    ..OpDef::DEFAULT
};

pub const SIZE: OpDef = OpDef {
    name: "onnx.Size",
    summary: "The input's element count as an i64 scalar",
    description: "```\n%1 = onnx.Size %0 : (tensor<[batch]x128xf32>) -> tensor<i64>\n```",
    operands: Arity::Fixed(&["data"]),
    results: Arity::Fixed(&["size"]),
    traits: &[Trait::Pure],
    infer: Some(|info| {
        operand(info, 0)?;
        Ok(vec![tensor_type(Vec::new(), ElemType::I64)])
    }),
    fold: Some(fold_size),
    eval: Some(|ops, _, _| {
        let n = i64::try_from(ops[0].numel()).map_err(|_| "the element count does not fit in i64")?;
        Ok(vec![Tensor { elem: ElemType::I64, shape: Vec::new(), data: TensorData::Int(vec![n]) }])
    }),
    ..OpDef::DEFAULT
};

pub const CONSTANT_OF_SHAPE: OpDef = OpDef {
    name: "onnx.ConstantOfShape",
    summary: "A tensor of the shape given by the operand, filled with `value`",
    description: "The operand is a 1-D i64 tensor of extents (>= 0; empty gives a scalar). `value` \
is a one-element tensor whose element type is the result's; without it the result is f32 zeros. \
`value` must be inline (`dense<..>`) for evaluation.\n\n\
```\n%1 = onnx.ConstantOfShape %0 {value = dense<1> : tensor<1xi64>} : (tensor<2xi64>) -> tensor<1x128xi64>\n```",
    operands: Arity::Fixed(&["input"]),
    results: Arity::Fixed(&["output"]),
    attrs: &[AttrSpec {
        name: "value",
        kind: AttrKind::Tensor,
        required: false,
        doc: "a one-element tensor: the fill value and element type (default f32 0.0)",
    }],
    traits: &[Trait::Pure],
    infer: Some(infer_constant_of_shape),
    eval: Some(eval_constant_of_shape),
    ..OpDef::DEFAULT
};

pub const RANGE: OpDef = OpDef {
    name: "onnx.Range",
    summary: "The sequence start, start + delta, ... up to (excluding) limit",
    description: "The operands are scalars of one numeric type (a one-element 1-D tensor is also \
accepted). There are `max(ceil((limit - start) / delta), 0)` elements, element `i` being \
`start + i * delta`, computed exactly for integers. For floats the count is computed in f32 (f64 for f64) and each element \
is the previous one plus `delta` rounded to the element type, as in the ONNX function body and \
onnxruntime. `delta = 0` is an error. The length is known when all three operands are \
constants, `?` otherwise.\n\n\
```\n%3 = onnx.Range %0, %1, %2 : (tensor<i64>, tensor<i64>, tensor<i64>) -> tensor<?xi64>\n```",
    operands: Arity::Fixed(&["start", "limit", "delta"]),
    results: Arity::Fixed(&["output"]),
    traits: &[Trait::Pure],
    infer: Some(infer_range),
    eval: Some(eval_range),
    ..OpDef::DEFAULT
};

/// The dims selected by Shape's `start`/`end`.
fn shape_bounds(attrs: &Attrs, rank: usize) -> Result<(usize, usize), String> {
    let r = rank as i64;
    let clamp = |v: i64| (if v < 0 { v + r } else { v }).clamp(0, r) as usize;
    let start = clamp(attr_int(attrs, "start", 0)?);
    let end = clamp(attr_int(attrs, "end", r)?);
    Ok((start, end.max(start)))
}

fn infer_shape(info: &OpInfo) -> Result<Vec<Type>, String> {
    let t = operand(info, 0)?;
    let (start, end) = shape_bounds(info.attrs, t.rank())?;
    Ok(vec![tensor_type(vec![Dim::Fixed((end - start) as u64)], ElemType::I64)])
}

/// Folds Shape from the operand's type alone, when the selected dims are
/// static (the data need not be a constant).
fn fold_shape(input: &FoldInput) -> Option<Folded> {
    let t = input.operand_types.first()?.as_tensor()?;
    let (start, end) = shape_bounds(input.attrs, t.rank()).ok()?;
    let dims = t.dims[start..end].iter().map(|d| d.fixed().and_then(|n| i64::try_from(n).ok()));
    Some(Folded::Constants(vec![super::util_b::i64_vector(dims.collect::<Option<Vec<i64>>>()?)]))
}

/// Folds Size from the operand's type alone, when its shape is static.
fn fold_size(input: &FoldInput) -> Option<Folded> {
    let n = i64::try_from(input.operand_types.first()?.as_tensor()?.num_elements()?).ok()?;
    Some(Folded::Constants(vec![Tensor { elem: ElemType::I64, shape: Vec::new(), data: TensorData::Int(vec![n]) }]))
}

fn eval_shape(ops: &[Tensor], attrs: &Attrs, _: &[Type]) -> Result<Vec<Tensor>, String> {
    let shape = &ops[0].shape;
    let (start, end) = shape_bounds(attrs, shape.len())?;
    let dims = shape[start..end].iter().map(|&d| i64::try_from(d).map_err(|_| "a dim does not fit in i64"));
    Ok(vec![super::util_b::i64_vector(dims.collect::<Result<_, _>>()?)])
}

/// ConstantOfShape's fill value (f32 0.0 by default), as a one-element tensor.
fn fill_value(attrs: &Attrs) -> Result<Tensor, String> {
    match attrs.get("value") {
        None => Ok(Tensor { elem: ElemType::F32, shape: vec![1], data: TensorData::F32(vec![0.0]) }),
        Some(Attribute::Dense(d)) => {
            let t = d.to_tensor().ok_or("'value' is too large")?;
            if t.numel() != 1 {
                return Err(format!("'value' must hold exactly one element, got {}", d.ty));
            }
            Ok(t)
        }
        Some(Attribute::Resource { .. }) => Err("'value' must be an inline dense<..> tensor".into()),
        Some(other) => Err(format!("'value' must be a tensor, got a {}", other.kind_name())),
    }
}

/// The element type of ConstantOfShape's `value` (checks its size too).
fn fill_elem(attrs: &Attrs) -> Result<ElemType, String> {
    match attrs.get("value") {
        None => Ok(ElemType::F32),
        Some(a) => {
            let ty = a.tensor_type().ok_or("'value' must be a tensor")?;
            if ty.num_elements() != Some(1) {
                return Err(format!("'value' must hold exactly one element, got {ty}"));
            }
            Ok(ty.elem.clone())
        }
    }
}

fn infer_constant_of_shape(info: &OpInfo) -> Result<Vec<Type>, String> {
    int_operand(info, 0)?;
    let len = vector_len(info, 0)?;
    let elem = fill_elem(info.attrs)?;
    let dims = match (const_ints(info, 0), len) {
        (Some(v), _) => super::util_b::fixed_dims(&shape_from_values(&v, "the shape operand")?),
        (None, Some(n)) => vec![Dim::Dyn; n as usize],
        (None, None) => return Err("the shape operand has unknown length, so the result rank is unknown".into()),
    };
    Ok(vec![tensor_type(dims, elem)])
}

fn eval_constant_of_shape(ops: &[Tensor], attrs: &Attrs, _: &[Type]) -> Result<Vec<Tensor>, String> {
    let shape = shape_from_values(&ints(&ops[0], "the shape operand")?, "the shape operand")?;
    checked_numel(&shape)?;
    let value = fill_value(attrs)?;
    let v = value.data.get(0);
    Ok(vec![Tensor::from_fn(value.elem, shape, |_| v)])
}

/// Range's element count: exact for integers; for floats
/// `ceil((limit - start) / delta)` computed in f32 (f64 for f64), as the
/// ONNX function body (which casts to float) and onnxruntime do.
fn range_len(start: Scalar, limit: Scalar, delta: Scalar, elem: &ElemType) -> Result<u64, String> {
    let n: i128 = match (start, limit, delta) {
        (Scalar::Int(_), Scalar::Int(_), Scalar::Int(0)) => return Err("'delta' must not be 0".into()),
        (Scalar::Int(s), Scalar::Int(l), Scalar::Int(d)) => {
            let (span, d) = (l as i128 - s as i128, d as i128);
            // ceil(span / d) for either sign of d.
            let q = span / d;
            if span % d != 0 && (span < 0) == (d < 0) {
                q + 1
            } else {
                q
            }
        }
        (s, l, d) => {
            let (s, l, d) = (as_f64(s), as_f64(l), as_f64(d));
            if d == 0.0 || !(s.is_finite() && l.is_finite() && d.is_finite()) {
                return Err(format!("Range needs finite operands and a nonzero delta, got {s}, {l}, {d}"));
            }
            let n = if *elem == ElemType::F64 {
                ((l - s) / d).ceil()
            } else {
                ((l as f32 - s as f32) / d as f32).ceil() as f64
            };
            if n > MAX_EVAL_ELEMENTS as f64 {
                return Err(format!("Range would have {n} elements (limit {MAX_EVAL_ELEMENTS})"));
            }
            n as i128
        }
    };
    let n = n.max(0);
    if n > MAX_EVAL_ELEMENTS as i128 {
        return Err(format!("Range would have {n} elements (limit {MAX_EVAL_ELEMENTS})"));
    }
    Ok(n as u64)
}

/// Checks that a Range operand is a scalar (or one-element vector) of
/// `elem`.
fn check_range_operand(info: &OpInfo, i: usize, elem: &ElemType) -> Result<(), String> {
    let t = numeric_operand(info, i)?;
    let one = t.rank() == 0 || (t.rank() == 1 && t.dims[0] == Dim::Fixed(1));
    if !one {
        return Err(format!("operand #{i} must be a scalar, got {t}"));
    }
    if &t.elem != elem {
        return Err(format!("operands must have one element type, got {} and {}", elem, t.elem));
    }
    Ok(())
}

fn const_scalar(info: &OpInfo, i: usize) -> Option<Scalar> {
    let t = info.constant(i)?.to_tensor()?;
    (t.data.len() == 1).then(|| t.data.get(0))
}

fn infer_range(info: &OpInfo) -> Result<Vec<Type>, String> {
    let elem = numeric_operand(info, 0)?.elem.clone();
    for i in 0..3 {
        check_range_operand(info, i, &elem)?;
    }
    if elem.is_float() {
        float_operand(info, 0)?;
    }
    let dim = match (const_scalar(info, 0), const_scalar(info, 1), const_scalar(info, 2)) {
        (Some(s), Some(l), Some(d)) => Dim::Fixed(range_len(s, l, d, &elem)?),
        _ => Dim::Dyn,
    };
    Ok(vec![tensor_type(vec![dim], elem)])
}

fn eval_range(ops: &[Tensor], _: &Attrs, _: &[Type]) -> Result<Vec<Tensor>, String> {
    let start = scalar_value(&ops[0], "'start'")?;
    let limit = scalar_value(&ops[1], "'limit'")?;
    let delta = scalar_value(&ops[2], "'delta'")?;
    let elem = ops[0].elem.clone();
    let n = range_len(start, limit, delta, &elem)?;
    let values: Vec<Scalar> = match (start, delta) {
        (Scalar::Int(s), Scalar::Int(d)) => {
            (0..n as i64).map(|i| Scalar::Int(s.wrapping_add(i.wrapping_mul(d)))).collect()
        }
        (s, d) => {
            // Accumulated in the element type, as the ONNX function body does.
            let mut v = as_f64(s);
            (0..n)
                .map(|_| {
                    let out = Scalar::Float(v);
                    v = round_to(&elem, v + as_f64(d));
                    out
                })
                .collect()
        }
    };
    Ok(vec![super::util_b::build(&elem, vec![n], values)])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dialect::testing_b::*;

    #[test]
    fn shape_of_symbolic_input_has_static_length() {
        assert_eq!(infer1(&SHAPE, &[Arg::Ty(f32ty("[batch]x128"))], &Attrs::new()), "tensor<2xi64>");
        let x = || Arg::Ty(f32ty("[b]x2x3x4"));
        assert_eq!(infer1(&SHAPE, &[x()], &attrs(&[("start", int(-3)), ("end", int(-1))])), "tensor<2xi64>");
        assert_eq!(infer1(&SHAPE, &[x()], &attrs(&[("start", int(10))])), "tensor<0xi64>");
        assert_eq!(infer1(&SHAPE, &[x()], &attrs(&[("start", int(3)), ("end", int(1))])), "tensor<0xi64>");
        let out = eval1(&SHAPE, &[iota(&[2, 3, 4])], &attrs(&[("start", int(1))]));
        assert_eq!(ivals(&out), vec![3, 4]);
    }

    #[test]
    fn size_counts_elements() {
        assert_eq!(infer1(&SIZE, &[Arg::Ty(f32ty("[b]x3"))], &Attrs::new()), "tensor<i64>");
        assert_eq!(ivals(&eval1(&SIZE, &[iota(&[2, 3, 4])], &Attrs::new())), vec![24]);
    }

    #[test]
    fn constant_of_shape_reads_value_and_shape() {
        let value = Attribute::Dense(weft_ir::DenseAttr { ty: i64t(&[1], &[7]).ty(), data: TensorData::Int(vec![7]) });
        let a = attrs(&[("value", value)]);
        let shape = || Arg::Const(i64t(&[2], &[1, 3]));
        assert_eq!(infer1(&CONSTANT_OF_SHAPE, &[shape()], &a), "tensor<1x3xi64>");
        assert_eq!(infer1(&CONSTANT_OF_SHAPE, &[shape()], &Attrs::new()), "tensor<1x3xf32>");
        let unknown = Arg::Ty(ty("2", ElemType::I64));
        assert_eq!(infer1(&CONSTANT_OF_SHAPE, &[unknown], &Attrs::new()), "tensor<?x?xf32>");
        infer_err(&CONSTANT_OF_SHAPE, &[Arg::Const(i64t(&[1], &[-2]))], &a, "negative extent -2");
        let out = eval1(&CONSTANT_OF_SHAPE, &[i64t(&[2], &[2, 2])], &a);
        assert_eq!((out.shape.clone(), ivals(&out)), (vec![2, 2], vec![7; 4]));
        let scalar = eval1(&CONSTANT_OF_SHAPE, &[i64t(&[0], &[])], &Attrs::new());
        assert_eq!((scalar.shape.len(), vals(&scalar)), (0, vec![0.0]));
        let huge = eval(&CONSTANT_OF_SHAPE, &[i64t(&[2], &[1 << 40, 1 << 40])], &Attrs::new());
        assert!(huge.unwrap_err().contains("too large"));
    }

    #[test]
    fn range_lengths_follow_ceil_of_span_over_delta() {
        let r = |s: i64, l: i64, d: i64| {
            ivals(&eval1(&RANGE, &[i64t(&[], &[s]), i64t(&[], &[l]), i64t(&[], &[d])], &Attrs::new()))
        };
        assert_eq!(r(0, 5, 2), vec![0, 2, 4]);
        assert_eq!(r(10, 4, -3), vec![10, 7]);
        assert_eq!(r(0, 5, -1), Vec::<i64>::new());
        let f = eval1(&RANGE, &[f32t(&[], &[1.0]), f32t(&[], &[2.0]), f32t(&[], &[0.3])], &Attrs::new());
        assert_close(&vals(&f), &[1.0, 1.3, 1.6, 1.9], 1e-6);
        // In f64, 7 / 0.7f32 is 10.0000002 (11 elements); in f32 it is 10, as ONNX computes it.
        let down = eval1(&RANGE, &[f32t(&[], &[5.0]), f32t(&[], &[-2.0]), f32t(&[], &[-0.7])], &Attrs::new());
        assert_eq!(down.shape, vec![10]);
        let zero = eval(&RANGE, &[i64t(&[], &[0]), i64t(&[], &[1]), i64t(&[], &[0])], &Attrs::new());
        assert!(zero.unwrap_err().contains("must not be 0"));
    }

    #[test]
    fn range_infers_length_from_constants() {
        let c = |v: i64| Arg::Const(i64t(&[], &[v]));
        assert_eq!(infer1(&RANGE, &[c(0), c(128), c(1)], &Attrs::new()), "tensor<128xi64>");
        let unknown = Arg::Ty(ty("", ElemType::I64));
        assert_eq!(infer1(&RANGE, &[c(0), unknown, c(1)], &Attrs::new()), "tensor<?xi64>");
        infer_err(&RANGE, &[c(0), Arg::Ty(ty("", ElemType::I32)), c(1)], &Attrs::new(), "one element type");
        infer_err(&RANGE, &[c(0), Arg::Ty(ty("2", ElemType::I64)), c(1)], &Attrs::new(), "must be a scalar");
    }
}
