//! Reductions of the nn dialect over a static list of axes:
//! `reduce_sum`, `reduce_mean`, `reduce_max`.
//!
//! Invariants: `axes` are distinct axes of the operand (negative ones count
//! from the end); an empty list reduces nothing (the op is the identity);
//! float reductions accumulate in f64 and round once; integer sums wrap,
//! integer means are the exact sum divided by the count, truncated.

use super::arith::ONE_RESULT;
use super::common::{bool_attr, checked_numel, int_value, ints_attr, one, resolve_axes, strides, wrap};
use super::unary::UNARY;
use crate::module::Attrs;
use crate::ops::eval::unflatten;
use crate::ops::shape::tensor_operand;
use crate::ops::{AttrKind, AttrSpec, OpDef, OpInfo, Trait};
use crate::tensor::{Scalar, Tensor};
use crate::types::{Dim, ElemType, Type};

const REDUCE_ATTRS: &[AttrSpec] = &[
    AttrSpec {
        name: "axes",
        kind: AttrKind::Ints,
        required: true,
        doc: "the reduced axes, distinct, in [-r, r); empty: no reduction",
    },
    AttrSpec {
        name: "keepdims",
        kind: AttrKind::Bool,
        required: false,
        doc: "true (default): reduced dims stay with extent 1; false: they are removed",
    },
];

/// Which reduction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Sum,
    Mean,
    Max,
}

macro_rules! reduce_op {
    ($konst:ident, $name:literal, $summary:literal, $doc:literal, $kind:expr) => {
        pub const $konst: OpDef = OpDef {
            name: $name,
            summary: $summary,
            description: concat!(
                $doc,
                "\n\n```\n%1 = ",
                $name,
                " %0 {axes = [2], keepdims = true} : (tensor<2x3x4xf32>) -> tensor<2x3x1xf32>\n```"
            ),
            operands: UNARY,
            results: ONE_RESULT,
            attrs: REDUCE_ATTRS,
            traits: &[Trait::Pure],
            infer: Some(|info| infer_reduce(info, $kind)),
            eval: Some(|ops, attrs, _| reduce(&ops[0], attrs, $kind).map(|t| vec![t])),
            ..OpDef::DEFAULT
        };
    };
}

reduce_op!(
    REDUCE_SUM,
    "nn.reduce_sum",
    "The sum of the elements along the given axes",
    "Float or integer element types. Integer sums wrap to the width; an empty sum is 0.",
    Kind::Sum
);
reduce_op!(
    REDUCE_MEAN,
    "nn.reduce_mean",
    "The mean of the elements along the given axes",
    "Float or integer element types. Integer means are the exact sum divided by the count, \
truncated toward zero. The mean of no elements is NaN for floats and an evaluation error for \
integers.",
    Kind::Mean
);
reduce_op!(
    REDUCE_MAX,
    "nn.reduce_max",
    "The maximum of the elements along the given axes",
    "Float, integer or bool element types. A NaN element gives NaN; the maximum of no elements is \
`-inf`, the type's least value, or false.",
    Kind::Max
);

fn infer_reduce(info: &OpInfo, kind: Kind) -> Result<Vec<Type>, String> {
    let x = tensor_operand(info.operand_types, 0)?;
    let ok = x.elem.is_float() || x.elem.is_int() || (kind == Kind::Max && x.elem == ElemType::Bool);
    if !ok {
        return Err(format!("operand #0 cannot be reduced: element type {}", x.elem));
    }
    let axes = resolve_axes(&ints_attr(info.attrs, "axes")?, x.rank())?;
    let keep = bool_attr(info.attrs, "keepdims", true)?;
    Ok(one(reduced_dims(&x.dims, &axes, keep), x.elem.clone()))
}

/// The dims after reducing `axes`.
pub(super) fn reduced_dims(dims: &[Dim], axes: &[usize], keep: bool) -> Vec<Dim> {
    dims.iter()
        .enumerate()
        .filter_map(|(i, d)| match (axes.contains(&i), keep) {
            (false, _) => Some(d.clone()),
            (true, true) => Some(Dim::Fixed(1)),
            (true, false) => None,
        })
        .collect()
}

/// A running reduction of one output element.
#[derive(Debug, Clone, Copy)]
enum Acc {
    Float(f64),
    Int(i128),
}

fn reduce(x: &Tensor, attrs: &Attrs, kind: Kind) -> Result<Tensor, String> {
    let rank = x.shape.len();
    let axes = resolve_axes(&ints_attr(attrs, "axes")?, rank)?;
    let keep = bool_attr(attrs, "keepdims", true)?;
    let kept: Vec<u64> = x.shape.iter().enumerate().map(|(i, &d)| if axes.contains(&i) { 1 } else { d }).collect();
    let out_strides = strides(&kept);
    let n_out = checked_numel(&kept)? as usize;
    let count: u64 = axes.iter().map(|&a| x.shape[a]).product();
    let mut acc = vec![start(&x.elem, kind); n_out];
    let mut idx = vec![0u64; rank];
    for flat in 0..x.numel() {
        unflatten(flat, &x.shape, &mut idx);
        let o: u64 = idx.iter().zip(&kept).zip(&out_strides).map(|((&i, &k), &s)| if k == 1 { 0 } else { i * s }).sum();
        acc[o as usize] = step(acc[o as usize], &x.elem, x.data.get(flat as usize), kind);
    }
    let values = acc.into_iter().map(|a| finish(a, &x.elem, kind, count)).collect::<Result<Vec<_>, _>>()?;
    let shape = if keep { kept } else { reduced_shape(&x.shape, &axes) };
    let mut it = values.into_iter();
    Ok(Tensor::from_fn(x.elem.clone(), shape, |_| it.next().unwrap_or(Scalar::Int(0))))
}

fn reduced_shape(shape: &[u64], axes: &[usize]) -> Vec<u64> {
    shape.iter().enumerate().filter(|(i, _)| !axes.contains(i)).map(|(_, &d)| d).collect()
}

fn start(elem: &ElemType, kind: Kind) -> Acc {
    match (elem, kind) {
        (e, Kind::Max) if e.is_float() => Acc::Float(f64::NEG_INFINITY),
        (ElemType::Int { width, signed }, Kind::Max) => Acc::Int(super::common::int_range(*width, *signed).0),
        (ElemType::Bool, Kind::Max) => Acc::Int(0),
        (e, _) if e.is_float() => Acc::Float(0.0),
        _ => Acc::Int(0),
    }
}

fn step(acc: Acc, elem: &ElemType, s: Scalar, kind: Kind) -> Acc {
    match (acc, s) {
        (Acc::Float(a), Scalar::Float(v)) => Acc::Float(match kind {
            Kind::Max if a.is_nan() || v.is_nan() => f64::NAN,
            Kind::Max => a.max(v),
            _ => a + v,
        }),
        (Acc::Int(a), Scalar::Int(v)) => {
            let v = int_value(elem, v);
            Acc::Int(match kind {
                Kind::Max => a.max(v),
                // Sums of up to 2^63 values of 64 bits fit in i128.
                _ => a.wrapping_add(v),
            })
        }
        (a, _) => a,
    }
}

fn finish(acc: Acc, elem: &ElemType, kind: Kind, count: u64) -> Result<Scalar, String> {
    match (acc, kind) {
        (Acc::Float(a), Kind::Mean) => Ok(Scalar::Float(if count == 0 { f64::NAN } else { a / count as f64 })),
        (Acc::Float(a), _) => Ok(Scalar::Float(a)),
        (Acc::Int(_), Kind::Mean) if count == 0 => Err("the integer mean of no elements".into()),
        (Acc::Int(a), Kind::Mean) => Ok(wrap(elem, a / count as i128)),
        (Acc::Int(a), _) => Ok(wrap(elem, a)),
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;
    use crate::attr::Attribute;

    fn axes(v: &[i64], keep: bool) -> Attrs {
        attrs(&[("axes", int_list(v)), ("keepdims", Attribute::Bool(keep))])
    }

    #[test]
    fn sum_mean_max_over_axes() {
        let x = f32s(&[2, 3], &[1., 2., 3., 4., 5., 6.]);
        assert_eq!(run(&REDUCE_SUM, std::slice::from_ref(&x), &axes(&[1], true)), f32s(&[2, 1], &[6., 15.]));
        assert_eq!(run(&REDUCE_MEAN, std::slice::from_ref(&x), &axes(&[0], false)), f32s(&[3], &[2.5, 3.5, 4.5]));
        assert_eq!(run(&REDUCE_MAX, std::slice::from_ref(&x), &axes(&[-1, 0], false)), f32s(&[], &[6.]));
        assert_eq!(run(&REDUCE_SUM, std::slice::from_ref(&x), &axes(&[], true)), x);
    }

    #[test]
    fn integer_reductions() {
        let x = ints(ElemType::I8, &[3], &[100, 100, -7]);
        assert_eq!(run(&REDUCE_SUM, std::slice::from_ref(&x), &axes(&[0], false)), ints(ElemType::I8, &[], &[-63]));
        assert_eq!(run(&REDUCE_MEAN, std::slice::from_ref(&x), &axes(&[0], false)), ints(ElemType::I8, &[], &[64]));
        let empty = ints(ElemType::I32, &[0], &[]);
        assert_eq!(
            run_err(&REDUCE_MEAN, std::slice::from_ref(&empty), &axes(&[0], false)),
            "the integer mean of no elements"
        );
        assert_eq!(run(&REDUCE_MAX, &[empty], &axes(&[0], false)), ints(ElemType::I32, &[], &[i32::MIN as i64]));
    }

    #[test]
    fn max_propagates_nan_and_infer_checks_axes() {
        let x = f32s(&[3], &[1., f32::NAN, 2.]);
        assert!(values(&run(&REDUCE_MAX, &[x], &axes(&[0], false)))[0].is_nan());
        let e = infer(&REDUCE_SUM, &[f32_type(&[2, 3])], &axes(&[1, -1], true)).unwrap_err();
        assert!(e.contains("not distinct"), "{e}");
        let t = infer(&REDUCE_MEAN, &[f32_type(&[2, 3, 4])], &axes(&[1], false)).unwrap();
        assert_eq!(t.to_string(), "tensor<2x4xf32>");
    }
}
