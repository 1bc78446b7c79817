//! Helpers shared by the nn op declarations: attribute readers, operand
//! checks, and the integer conventions (values read by signedness, results
//! wrapped to the element width).
//!
//! Invariants: every reader returns `Err` with a message naming the
//! attribute or operand, never panics; integers are read as `i128` so that
//! `u64` values above `i64::MAX` keep their meaning.

use crate::attr::Attribute;
use crate::module::Attrs;
use crate::ops::eval::wrap_int;
use crate::ops::shape::tensor_operand;
use crate::ops::OpInfo;
use crate::tensor::Scalar;
use crate::types::{Dim, ElemType, TensorType, Type};

/// A required integer attribute.
pub fn int_attr(attrs: &Attrs, name: &str) -> Result<i64, String> {
    attrs.get(name).and_then(Attribute::as_int).ok_or_else(|| format!("attribute '{name}' must be an integer"))
}

/// A required array-of-integers attribute.
pub fn ints_attr(attrs: &Attrs, name: &str) -> Result<Vec<i64>, String> {
    attrs
        .get(name)
        .and_then(Attribute::as_ints)
        .ok_or_else(|| format!("attribute '{name}' must be an array of integers"))
}

/// A required array of non-negative integers, as `u64`.
pub fn extents_attr(attrs: &Attrs, name: &str) -> Result<Vec<u64>, String> {
    ints_attr(attrs, name)?
        .into_iter()
        .map(|v| u64::try_from(v).map_err(|_| format!("attribute '{name}' has a negative entry {v}")))
        .collect()
}

/// An optional bool attribute with its default.
pub fn bool_attr(attrs: &Attrs, name: &str, default: bool) -> Result<bool, String> {
    match attrs.get(name) {
        None => Ok(default),
        Some(a) => a.as_bool().ok_or_else(|| format!("attribute '{name}' must be a bool")),
    }
}

/// An optional float attribute (an integer is accepted) with its default.
pub fn float_attr(attrs: &Attrs, name: &str, default: f64) -> Result<f64, String> {
    match attrs.get(name) {
        None => Ok(default),
        Some(a) => a.as_float().ok_or_else(|| format!("attribute '{name}' must be a float")),
    }
}

/// An optional array-of-floats attribute (integers are accepted).
pub fn floats_attr(attrs: &Attrs, name: &str) -> Result<Option<Vec<f64>>, String> {
    let Some(a) = attrs.get(name) else { return Ok(None) };
    let err = || format!("attribute '{name}' must be an array of floats");
    match a {
        Attribute::Array(items) => {
            items.iter().map(|i| i.as_float().ok_or_else(err)).collect::<Result<_, _>>().map(Some)
        }
        _ => Err(err()),
    }
}

/// A string attribute that must be one of `choices`; `choices[0]` when
/// absent.
pub fn choice_attr<'a>(attrs: &Attrs, name: &str, choices: &[&'a str]) -> Result<&'a str, String> {
    let Some(a) = attrs.get(name) else { return Ok(choices.first().copied().unwrap_or("")) };
    let s = a.as_str().ok_or_else(|| format!("attribute '{name}' must be a string"))?;
    choices.iter().copied().find(|&c| c == s).ok_or_else(|| {
        let list: Vec<String> = choices.iter().map(|c| format!("\"{c}\"")).collect();
        format!("attribute '{name}' must be one of {}, got \"{s}\"", list.join(", "))
    })
}

/// The element type named by a type attribute (`to = f32`).
pub fn elem_attr(attrs: &Attrs, name: &str) -> Result<ElemType, String> {
    match attrs.get(name) {
        Some(Attribute::Type(Type::Elem(e))) => Ok(e.clone()),
        _ => Err(format!("attribute '{name}' must be an element type such as f32 or i64")),
    }
}

/// Operand `i` as a tensor with a float element type.
pub fn float_operand<'a>(info: &OpInfo<'a>, i: usize) -> Result<&'a TensorType, String> {
    let t = tensor_operand(info.operand_types, i)?;
    if !t.elem.is_float() {
        return Err(format!("operand #{i} must have a float element type, got {}", t.elem));
    }
    Ok(t)
}

/// Operand `i` as a tensor of a float or plain integer element type.
pub fn numeric_operand<'a>(info: &OpInfo<'a>, i: usize) -> Result<&'a TensorType, String> {
    let t = tensor_operand(info.operand_types, i)?;
    if !t.elem.is_float() && !t.elem.is_int() {
        return Err(format!("operand #{i} must have a float or integer element type, got {}", t.elem));
    }
    Ok(t)
}

/// Operand `i` as a bool tensor.
pub fn bool_operand<'a>(info: &OpInfo<'a>, i: usize) -> Result<&'a TensorType, String> {
    let t = tensor_operand(info.operand_types, i)?;
    if t.elem != ElemType::Bool {
        return Err(format!("operand #{i} must have element type bool, got {}", t.elem));
    }
    Ok(t)
}

/// Operand `i` as a tensor of i32 or i64 (indices).
pub fn index_operand<'a>(info: &OpInfo<'a>, i: usize) -> Result<&'a TensorType, String> {
    let t = tensor_operand(info.operand_types, i)?;
    match t.elem {
        ElemType::Int { width: 32 | 64, signed: true } => Ok(t),
        _ => Err(format!("operand #{i} must have element type i32 or i64, got {}", t.elem)),
    }
}

/// Errors unless `a` and `b` have the same element type.
pub fn same_elem(a: &TensorType, b: &TensorType) -> Result<(), String> {
    if a.elem != b.elem {
        return Err(format!("element types differ: {} vs {}", a.elem, b.elem));
    }
    Ok(())
}

/// One tensor result type.
pub fn one(dims: Vec<Dim>, elem: ElemType) -> Vec<Type> {
    vec![Type::Tensor(TensorType::new(dims, elem))]
}

/// Resolves a list of axes against `rank`: each in [-rank, rank), no
/// repeats; the result is sorted.
pub fn resolve_axes(axes: &[i64], rank: usize) -> Result<Vec<usize>, String> {
    let mut out = Vec::with_capacity(axes.len());
    for &a in axes {
        let ax = crate::ops::shape::normalize_axis(a, rank)?;
        if rank == 0 || out.contains(&ax) {
            return Err(format!("axes {axes:?} are not distinct axes of a rank-{rank} tensor"));
        }
        out.push(ax);
    }
    out.sort_unstable();
    Ok(out)
}

/// The value of a stored integer of type `elem` (`u64` read unsigned).
pub fn int_value(elem: &ElemType, v: i64) -> i128 {
    match elem {
        ElemType::Int { width: 64, signed: false } => v as u64 as i128,
        _ => v as i128,
    }
}

/// The scalar storing the integer `v` in `elem`, wrapped to its width.
pub fn wrap(elem: &ElemType, v: i128) -> Scalar {
    match elem {
        ElemType::Int { width, signed } => Scalar::Int(wrap_int(v as i64, *width, *signed)),
        ElemType::Bool => Scalar::Int((v != 0) as i64),
        _ => Scalar::Float(v as f64),
    }
}

/// The value of a scalar of type `elem` as an f64 (`u64` read unsigned).
pub fn f64_value(elem: &ElemType, s: Scalar) -> f64 {
    match s {
        Scalar::Float(x) => x,
        Scalar::Int(v) => int_value(elem, v) as f64,
    }
}

/// The least and greatest values of an integer type.
pub fn int_range(width: u8, signed: bool) -> (i128, i128) {
    let w = u32::from(width.clamp(1, 64));
    if signed {
        (-(1i128 << (w - 1)), (1i128 << (w - 1)) - 1)
    } else {
        (0, (1i128 << w) - 1)
    }
}

/// Row-major strides of `shape`, in elements.
pub fn strides(shape: &[u64]) -> Vec<u64> {
    crate::tensor::Tensor::strides(shape)
}

/// The product of `shape`, or an error when it overflows.
pub fn checked_numel(shape: &[u64]) -> Result<u64, String> {
    shape.iter().try_fold(1u64, |acc, &d| acc.checked_mul(d)).ok_or_else(|| format!("shape {shape:?} is too large"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unsigned_64_bit_values_read_unsigned_and_wrap_back() {
        let u64t = ElemType::Int { width: 64, signed: false };
        assert_eq!(int_value(&u64t, -1), u64::MAX as i128);
        assert_eq!(wrap(&u64t, u64::MAX as i128), Scalar::Int(-1));
        assert_eq!(wrap(&ElemType::I8, 200), Scalar::Int(-56));
        assert_eq!(int_range(8, false), (0, 255));
    }

    #[test]
    fn axes_resolve_sorted_and_distinct() {
        assert_eq!(resolve_axes(&[-1, 0], 3), Ok(vec![0, 2]));
        assert!(resolve_axes(&[1, -2], 3).unwrap_err().contains("not distinct"));
        assert!(resolve_axes(&[3], 3).unwrap_err().contains("out of range"));
    }

    #[test]
    fn choice_attr_lists_the_choices() {
        let mut attrs = Attrs::new();
        attrs.insert("mode".into(), Attribute::Str("bilinear".into()));
        let e = choice_attr(&attrs, "mode", &["nearest", "linear"]).unwrap_err();
        assert_eq!(e, "attribute 'mode' must be one of \"nearest\", \"linear\", got \"bilinear\"");
        assert_eq!(choice_attr(&Attrs::new(), "mode", &["nearest", "linear"]), Ok("nearest"));
    }
}
