//! Element type conversion and clamping in the nn dialect: `cast` and
//! `clip`.
//!
//! Invariants: `cast` rounds once (ties to even) to a float target, also
//! from integers wider than the target's significand; float to integer
//! truncates toward zero with NaN giving 0 and saturation at the bounds;
//! integer to integer keeps the low bits; anything to bool is `x != 0`.
//! `clip` bounds are attributes of the operand's kind (integers for
//! integer tensors), so the op never reads a second tensor.

use super::arith::ONE_RESULT;
use super::common::{elem_attr, int_range, int_value, numeric_operand, wrap};
use super::unary::UNARY;
use crate::attr::Attribute;
use crate::module::Attrs;
use crate::ops::eval;
use crate::ops::shape::tensor_operand;
use crate::ops::{AttrKind, AttrSpec, Folded, OpDef, OpInfo, Trait};
use crate::tensor::{Scalar, Tensor};
use crate::types::{ElemType, TensorType, Type};

pub const CAST: OpDef = OpDef {
    name: "nn.cast",
    summary: "Converts every element to the element type `to`",
    description: "Between float, integer and bool element types. To a float type: the nearest \
value (ties to even; beyond the range, an infinity), also from integers wider than the \
significand. Float to integer: truncation toward zero, NaN gives 0, out-of-range values saturate \
to the type's bounds. Integer to integer: the low bits (`200` as i8 is `-56`). To bool: `x != 0` \
(NaN is true). Bool to a number: 0 or 1.\n\n\
```\n%1 = nn.cast %0 {to = f32} : (tensor<2x3xi64>) -> tensor<2x3xf32>\n```",
    operands: UNARY,
    results: ONE_RESULT,
    attrs: &[AttrSpec { name: "to", kind: AttrKind::Type, required: true, doc: "the result's element type" }],
    traits: &[Trait::Pure],
    infer: Some(infer_cast),
    fold: Some(|input| {
        let same = input.constant(0).is_none() && elem_attr(input.attrs, "to").is_ok();
        // The folding engine only takes an operand whose type equals the
        // result's: exactly the cast to the operand's own type.
        same.then_some(Folded::Operand(0))
    }),
    eval: Some(|ops, attrs, _| Ok(vec![cast(&ops[0], &elem_attr(attrs, "to")?)])),
    ..OpDef::DEFAULT
};

fn castable(e: &ElemType) -> bool {
    e.is_float() || e.is_int() || *e == ElemType::Bool
}

fn infer_cast(info: &OpInfo) -> Result<Vec<Type>, String> {
    let x = tensor_operand(info.operand_types, 0)?;
    let to = elem_attr(info.attrs, "to")?;
    if !castable(&x.elem) {
        return Err(format!("cannot cast from {}: float, integer or bool element types only", x.elem));
    }
    if !castable(&to) {
        return Err(format!("cannot cast to {to}: float, integer or bool element types only"));
    }
    Ok(vec![Type::Tensor(TensorType::new(x.dims.clone(), to))])
}

/// `x` converted to `to` by the rules of `nn.cast`.
pub fn cast(x: &Tensor, to: &ElemType) -> Tensor {
    Tensor::from_fn(to.clone(), x.shape.clone(), |i| convert(&x.elem, to, x.data.get(i)))
}

fn convert(from: &ElemType, to: &ElemType, s: Scalar) -> Scalar {
    match (to, s) {
        (ElemType::Bool, Scalar::Float(x)) => Scalar::Int((x != 0.0) as i64),
        (ElemType::Bool, Scalar::Int(v)) => Scalar::Int((v != 0) as i64),
        (ElemType::Int { width, signed }, Scalar::Float(x)) => wrap(to, float_to_int(x, *width, *signed)),
        (ElemType::Int { .. }, Scalar::Int(v)) => wrap(to, int_value(from, v)),
        (_, Scalar::Float(x)) => Scalar::Float(x),
        (_, Scalar::Int(v)) => Scalar::Float(int_to_float(int_value(from, v), significand_bits(to))),
    }
}

/// Truncation toward zero, NaN to 0, saturation at the type's bounds.
pub fn float_to_int(x: f64, width: u8, signed: bool) -> i128 {
    if x.is_nan() {
        return 0;
    }
    let (lo, hi) = int_range(width, signed);
    let t = x.trunc();
    if t <= lo as f64 {
        lo
    } else if t >= hi as f64 {
        hi
    } else {
        t as i128
    }
}

/// Significant bits of a float type, the implicit leading one included.
fn significand_bits(elem: &ElemType) -> u32 {
    match elem {
        ElemType::F16 => 11,
        ElemType::BF16 => 8,
        ElemType::F32 => 24,
        _ => 53,
    }
}

/// `v` rounded to `bits` significant bits, ties to even. The result is
/// exact in a float type of that precision, so storing it there does not
/// round again (converting through f64 first would round twice for
/// integers above 2^53).
fn int_to_float(v: i128, bits: u32) -> f64 {
    let magnitude = v.unsigned_abs();
    let width = 128 - magnitude.leading_zeros();
    let rounded = if width <= bits {
        magnitude
    } else {
        let shift = width - bits;
        let kept = magnitude >> shift;
        let dropped = magnitude & ((1u128 << shift) - 1);
        let half = 1u128 << (shift - 1);
        let up = dropped > half || (dropped == half && kept & 1 == 1);
        (kept + up as u128) << shift
    };
    let f = rounded as f64;
    if v < 0 {
        -f
    } else {
        f
    }
}

pub const CLIP: OpDef = OpDef {
    name: "nn.clip",
    summary: "Limits every element to [min, max]",
    description: "`min(max(x, min), max)` elementwise: an absent bound is no bound, a NaN input \
stays NaN, and when min > max every element becomes max. Bounds are floats for float tensors \
(rounded to the element type) and integers for integer tensors.\n\n\
```\n%1 = nn.clip %0 {max = 6.0, min = 0.0} : tensor<2x3xf32>\n```",
    operands: UNARY,
    results: ONE_RESULT,
    attrs: &[
        AttrSpec { name: "min", kind: AttrKind::Float, required: false, doc: "the lower bound (default: none)" },
        AttrSpec { name: "max", kind: AttrKind::Float, required: false, doc: "the upper bound (default: none)" },
    ],
    traits: &[Trait::Pure],
    verify: Some(verify_clip),
    infer: Some(|info| Ok(vec![Type::Tensor(numeric_operand(info, 0)?.clone())])),
    eval: Some(eval_clip),
    ..OpDef::DEFAULT
};

fn verify_clip(info: &OpInfo) -> Result<(), String> {
    let x = numeric_operand(info, 0)?;
    for name in ["min", "max"] {
        if x.elem.is_int() && matches!(info.attrs.get(name), Some(Attribute::Float(_))) {
            return Err(format!("attribute '{name}' must be an integer for element type {}", x.elem));
        }
    }
    Ok(())
}

/// A clip bound in the element type's terms.
fn bound(attrs: &Attrs, name: &str, elem: &ElemType) -> Option<Scalar> {
    match attrs.get(name)? {
        Attribute::Int(v) if elem.is_int() => Some(Scalar::Int(*v)),
        a => a.as_float().map(|f| Scalar::Float(eval::round_to(elem, f))),
    }
}

fn eval_clip(ops: &[Tensor], attrs: &Attrs, _: &[Type]) -> Result<Vec<Tensor>, String> {
    let x = &ops[0];
    let elem = x.elem.clone();
    let (lo, hi) = (bound(attrs, "min", &elem), bound(attrs, "max", &elem));
    let clamp = |s: Scalar| match s {
        Scalar::Int(v) => {
            let v = int_value(&elem, v);
            let v = lo.map_or(v, |b| v.max(bound_int(b)));
            wrap(&elem, hi.map_or(v, |b| v.min(bound_int(b))))
        }
        Scalar::Float(v) if v.is_nan() => s,
        Scalar::Float(v) => {
            let v = lo.map_or(v, |b| v.max(eval::as_f64(b)));
            Scalar::Float(hi.map_or(v, |b| v.min(eval::as_f64(b))))
        }
    };
    Ok(vec![eval::unary(x, clamp)])
}

fn bound_int(s: Scalar) -> i128 {
    match s {
        Scalar::Int(v) => v as i128,
        Scalar::Float(f) => f as i128,
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;

    fn to(e: ElemType) -> Attrs {
        attrs(&[("to", Attribute::Type(Type::Elem(e)))])
    }

    #[test]
    fn float_to_int_truncates_saturates_and_maps_nan_to_zero() {
        let x = f32s(&[5], &[-1.7, 2.9, f32::NAN, 1e10, -1e10]);
        assert_eq!(
            run(&CAST, std::slice::from_ref(&x), &to(ElemType::I8)),
            ints(ElemType::I8, &[5], &[-1, 2, 0, 127, -128])
        );
        let u8t = ElemType::Int { width: 8, signed: false };
        assert_eq!(run(&CAST, std::slice::from_ref(&x), &to(u8t.clone())), ints(u8t, &[5], &[0, 2, 0, 255, 0]));
        assert_eq!(run(&CAST, &[x], &to(ElemType::Bool)), bools(&[5], &[true, true, true, true, true]));
    }

    #[test]
    fn wide_integers_round_once_to_floats() {
        // 2^24 + 1 is a tie between 2^24 and 2^24 + 2 in f32: even wins.
        let x = ints(ElemType::I64, &[2], &[(1 << 24) + 1, (1 << 24) + 3]);
        assert_eq!(values(&run(&CAST, &[x], &to(ElemType::F32))), vec![16777216.0, 16777220.0]);
        // Through f64 this would round twice: 2^53 + 2^29 + 1 is above the f32 tie.
        let y = ints(ElemType::I64, &[1], &[(1 << 53) + (1 << 29) + 1]);
        assert_eq!(values(&run(&CAST, &[y], &to(ElemType::F32))), vec![((1u64 << 53) + (1 << 30)) as f64]);
        let z = ints(ElemType::I32, &[1], &[200]);
        assert_eq!(run(&CAST, &[z], &to(ElemType::I8)), ints(ElemType::I8, &[1], &[-56]));
    }

    #[test]
    fn clip_bounds_and_nan() {
        let x = f32s(&[4], &[-1.0, 0.5, 9.0, f32::NAN]);
        let a = attrs(&[("min", Attribute::Float(0.0)), ("max", Attribute::Float(6.0))]);
        let out = values(&run(&CLIP, std::slice::from_ref(&x), &a));
        assert_eq!(&out[..3], &[0.0, 0.5, 6.0]);
        assert!(out[3].is_nan());
        let only_max = attrs(&[("max", Attribute::Float(0.0))]);
        assert_eq!(&values(&run(&CLIP, &[x], &only_max))[..3], &[-1.0, 0.0, 0.0]);
        let i = ints(ElemType::I32, &[3], &[-5, 3, 10]);
        let ia = attrs(&[("min", Attribute::Int(0)), ("max", Attribute::Int(4))]);
        assert_eq!(run(&CLIP, &[i], &ia), ints(ElemType::I32, &[3], &[0, 3, 4]));
    }

    #[test]
    fn clip_of_integers_needs_integer_bounds() {
        let t = Type::Tensor(TensorType::fixed(&[2], ElemType::I32));
        let types = [&t];
        let a = attrs(&[("min", Attribute::Float(0.5))]);
        let info = OpInfo::new(&types, &a);
        assert_eq!(verify_clip(&info).unwrap_err(), "attribute 'min' must be an integer for element type i32");
    }
}
