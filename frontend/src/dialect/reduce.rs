//! Reductions of the onnx dialect: `ReduceMean`, `ReduceSum`, `ReduceMax`
//! (opset 18 form: the axes are an optional second operand).
//!
//! Invariants: float reductions accumulate in f64 and round once per
//! output element (so results may differ from ONNX Runtime's f32
//! accumulation in the last ulp); integer sums are exact and wrap to the
//! width at the end; axes are in `[-r, r-1]` without repeats. Reducing an
//! empty set gives 0 (sum), the lowest value (max: `-inf`, the type's
//! minimum, false), NaN (float mean) or an evaluation error (integer mean,
//! which ONNX leaves undefined).

use super::a_common::{arg, flag_attr, int_range, int_scalar, int_value, tensor_type, Operands, TypeSet};
use weft_ir::module::Attrs;
use weft_ir::ops::eval::unflatten;
use weft_ir::ops::{Arity, AttrKind, AttrSpec, OpDef, OpInfo, Trait};
use weft_ir::tensor::{Scalar, Tensor};
use weft_ir::types::{Dim, ElemType, Type};

const DATA_AXES: Arity = Arity::Fixed(&["data", "axes"]);

/// Element types of `ReduceMean` and `ReduceSum`.
const SUMMABLE: TypeSet = TypeSet {
    describe: "a float type, i32, i64, u32 or u64",
    accepts: |e| e.is_float() || matches!(e, ElemType::Int { width: 32 | 64, .. }),
};

/// Element types of `ReduceMax` (opset 20 adds i8, u8 and bool).
const ORDERED: TypeSet = TypeSet {
    describe: "bool, a float type, i8, i32, i64, u8, u32 or u64",
    accepts: |e| (SUMMABLE.accepts)(e) || matches!(e, ElemType::Bool | ElemType::Int { width: 8, .. }),
};

const AXES_I64: TypeSet = TypeSet { describe: "i64", accepts: |e| *e == ElemType::I64 };

const REDUCE_ATTRS: &[AttrSpec] = &[
    AttrSpec {
        name: "keepdims",
        kind: AttrKind::Int,
        required: false,
        doc: "1 (default): reduced dimensions stay with extent 1; 0: they are removed",
    },
    AttrSpec {
        name: "noop_with_empty_axes",
        kind: AttrKind::Int,
        required: false,
        doc: "0 (default): no or empty axes reduce every dimension; 1: they leave the input unchanged",
    },
];

/// What a reduction computes.
#[derive(Clone, Copy, PartialEq)]
enum Reducer {
    Sum,
    Mean,
    Max,
}

/// Declares a reduction.
macro_rules! reduce_op {
    ($konst:ident, $op:literal, $what:literal, $set:expr, $reducer:expr, $extra:literal) => {
        pub const $konst: OpDef = OpDef {
            name: concat!("onnx.", $op),
            summary: concat!("The ", $what, " of the elements along the given axes"),
            description: concat!(
                "ONNX `",
                $op,
                "` (opset 18 form): `axes` is an optional 1-D i64 operand (values in [-r, r-1], no \
repeats); without it, or when it is empty, every axis is reduced, unless `noop_with_empty_axes` \
is 1, which makes the op the identity. ",
                $extra,
                " Floats accumulate in f64 and round once, so results may differ from ONNX Runtime \
in the last ulp.\n\n```\n%2 = onnx.",
                $op,
                " %0, %1 : (tensor<2x3x4xf32>, tensor<1xi64>) -> tensor<2x3x1xf32>\n```"
            ),
            operands: Arity::Variadic { name: "data, axes?", min: 1 },
            results: Arity::Fixed(&["reduced"]),
            attrs: REDUCE_ATTRS,
            traits: &[Trait::Pure],
            infer: Some(|info| infer_reduce(info, &$set)),
            eval: Some(|ops, attrs, _| eval_reduce(ops, attrs, $reducer)),
            ..OpDef::DEFAULT
        };
    };
}

reduce_op!(
    REDUCE_SUM,
    "ReduceSum",
    "sum",
    SUMMABLE,
    Reducer::Sum,
    "Types: floats, i32, i64, u32, u64. Integer sums wrap to the width; an empty sum is 0."
);
reduce_op!(
    REDUCE_MEAN,
    "ReduceMean",
    "mean",
    SUMMABLE,
    Reducer::Mean,
    "Types: floats, i32, i64, u32, u64. Integer means are the exact sum divided by the count, \
truncated toward zero. The mean of an empty set is NaN for floats and an evaluation error for \
integers (ONNX leaves it undefined)."
);
reduce_op!(
    REDUCE_MAX,
    "ReduceMax",
    "maximum",
    ORDERED,
    Reducer::Max,
    "Types: bool, floats, i8, i32, i64, u8, u32, u64 (opset 20). A NaN element gives NaN; the \
maximum of an empty set is `-inf`, the type's least value, or false."
);

/// Which dimensions a reduction removes: `None` is the identity.
type Mask = Option<Vec<bool>>;

/// The reduced dimensions for `axes` (absent or empty: all of them, or
/// none when `noop`).
fn reduce_mask(axes: Option<&[i64]>, rank: usize, noop: bool) -> Result<Mask, String> {
    let axes = match axes {
        Some(a) if !a.is_empty() => a,
        _ if noop => return Ok(None),
        _ => return Ok(Some(vec![true; rank])),
    };
    let mut mask = vec![false; rank];
    for &a in axes {
        let r = rank as i64;
        if a < -r || a >= r {
            return Err(format!("axis {a} is out of range for rank {rank} (expected [-{rank}, {}])", r - 1));
        }
        let i = if a < 0 { a + r } else { a } as usize;
        if mask[i] {
            return Err(format!("axis {a} is given twice in {axes:?}"));
        }
        mask[i] = true;
    }
    Ok(Some(mask))
}

fn infer_reduce(info: &OpInfo, set: &TypeSet) -> Result<Vec<Type>, String> {
    let ops = Operands::new(info, DATA_AXES);
    if ops.len() > 2 {
        return Err(format!("takes at most 2 operands (data, axes), got {}", ops.len()));
    }
    let x = ops.typed(0, set)?;
    let keep = flag_attr(info.attrs, "keepdims", true)?;
    let noop = flag_attr(info.attrs, "noop_with_empty_axes", false)?;
    if ops.len() == 1 {
        return Ok(vec![reduced_type(x, &reduce_mask(None, x.rank(), noop)?, keep)]);
    }
    let axes_ty = ops.typed(1, &AXES_I64)?;
    if axes_ty.rank() != 1 {
        return Err(format!("{} must be 1-D, got {axes_ty}", ops.label(1)));
    }
    if let Some(values) = info.constant(1).and_then(|c| c.to_tensor()) {
        let axes = int_values(&values);
        return Ok(vec![reduced_type(x, &reduce_mask(Some(&axes), x.rank(), noop)?, keep)]);
    }
    let unknown = |d: &Dim| if *d == Dim::Fixed(1) { d.clone() } else { Dim::Dyn };
    match axes_ty.dims[0] {
        Dim::Fixed(0) => Ok(vec![reduced_type(x, &reduce_mask(None, x.rank(), noop)?, keep)]),
        _ if keep => Ok(vec![tensor_type(x.dims.iter().map(unknown).collect(), x.elem.clone())]),
        Dim::Fixed(n) if n as usize <= x.rank() => Ok(vec![tensor_type(vec![Dim::Dyn; x.rank() - n as usize], x.elem.clone())]),
        Dim::Fixed(n) => Err(format!("{n} axes cannot be reduced from rank {}", x.rank())),
        _ => Err(format!(
            "with keepdims = 0 the result rank depends on the number of axes: {} must be a constant or have a static length",
            ops.label(1)
        )),
    }
}

fn reduced_type(x: &weft_ir::types::TensorType, mask: &Mask, keep: bool) -> Type {
    let Some(mask) = mask else {
        return Type::Tensor(x.clone());
    };
    let dims = x
        .dims
        .iter()
        .zip(mask)
        .filter_map(|(d, &m)| match (m, keep) {
            (false, _) => Some(d.clone()),
            (true, true) => Some(Dim::Fixed(1)),
            (true, false) => None,
        })
        .collect();
    tensor_type(dims, x.elem.clone())
}

fn int_values(t: &Tensor) -> Vec<i64> {
    (0..t.data.len())
        .map(|i| match t.data.get(i) {
            Scalar::Int(v) => v,
            Scalar::Float(f) => f as i64,
        })
        .collect()
}

/// A running reduction value.
#[derive(Clone, Copy)]
enum Acc {
    Float(f64),
    Int(i128),
}

fn eval_reduce(ops: &[Tensor], attrs: &Attrs, reducer: Reducer) -> Result<Vec<Tensor>, String> {
    let x = arg(ops, 0)?;
    let keep = flag_attr(attrs, "keepdims", true)?;
    let noop = flag_attr(attrs, "noop_with_empty_axes", false)?;
    let axes = ops.get(1).map(int_values);
    let Some(mask) = reduce_mask(axes.as_deref(), x.shape.len(), noop)? else {
        return Ok(vec![x.clone()]);
    };
    let kept: Vec<u64> = x.shape.iter().zip(&mask).map(|(&d, &m)| if m { 1 } else { d }).collect();
    let count: u64 = x.shape.iter().zip(&mask).filter(|(_, &m)| m).map(|(&d, _)| d).product();
    let accs = accumulate(x, &mask, &kept, reducer);
    let shape = if keep { kept } else { x.shape.iter().zip(&mask).filter(|(_, &m)| !m).map(|(&d, _)| d).collect() };
    let mut out = Vec::with_capacity(accs.len());
    for acc in accs {
        out.push(finish(&x.elem, acc, count, reducer)?);
    }
    Ok(vec![Tensor::from_fn(x.elem.clone(), shape, |i| out[i])])
}

/// One accumulator per output element (in the keepdims shape `kept`).
fn accumulate(x: &Tensor, mask: &[bool], kept: &[u64], reducer: Reducer) -> Vec<Acc> {
    let n_out: u64 = kept.iter().product();
    let init = match (reducer, x.elem.is_float()) {
        (Reducer::Max, true) => Acc::Float(f64::NEG_INFINITY),
        (Reducer::Max, false) => Acc::Int(lowest_int(&x.elem)),
        (_, true) => Acc::Float(0.0),
        (_, false) => Acc::Int(0),
    };
    let mut accs = vec![init; n_out as usize];
    let out_strides = Tensor::strides(kept);
    let mut idx = vec![0u64; x.shape.len()];
    for flat in 0..x.numel() {
        unflatten(flat, &x.shape, &mut idx);
        let o: u64 = idx.iter().zip(mask).zip(&out_strides).map(|((&i, &m), &s)| if m { 0 } else { i * s }).sum();
        let acc = &mut accs[o as usize];
        *acc = combine(*acc, &x.elem, x.data.get(flat as usize), reducer);
    }
    accs
}

fn lowest_int(elem: &ElemType) -> i128 {
    match elem {
        ElemType::Int { width, signed } => int_range(*width, *signed).0,
        _ => 0,
    }
}

fn combine(acc: Acc, elem: &ElemType, s: Scalar, reducer: Reducer) -> Acc {
    match (acc, s) {
        (Acc::Float(a), s) => {
            let x = weft_ir::ops::eval::as_f64(s);
            Acc::Float(match reducer {
                Reducer::Max if a.is_nan() || x.is_nan() => f64::NAN,
                Reducer::Max => a.max(x),
                _ => a + x,
            })
        }
        (Acc::Int(a), Scalar::Int(v)) => {
            let x = int_value(elem, v);
            Acc::Int(if reducer == Reducer::Max { a.max(x) } else { a.wrapping_add(x) })
        }
        (Acc::Int(a), Scalar::Float(_)) => Acc::Int(a),
    }
}

fn finish(elem: &ElemType, acc: Acc, count: u64, reducer: Reducer) -> Result<Scalar, String> {
    match (acc, reducer) {
        (Acc::Float(s), Reducer::Mean) => Ok(Scalar::Float(s / count as f64)),
        (Acc::Float(v), _) => Ok(Scalar::Float(v)),
        (Acc::Int(_), Reducer::Mean) if count == 0 => Err("the integer mean of an empty set is undefined".into()),
        (Acc::Int(s), Reducer::Mean) => Ok(int_scalar(elem, s / count as i128)),
        (Acc::Int(v), _) => Ok(int_scalar(elem, v)),
    }
}

#[cfg(test)]
#[path = "a_tests/reduce.rs"]
mod tests;
