//! The rules every nl op shares: integer operands and results, exact
//! arithmetic then saturation to the declared result type, the rounding of
//! right shifts, and the checks of operand and result types.
//!
//! Invariants: values are read exactly as `i128` (a `u64` above `i64::MAX`
//! keeps its meaning); every intermediate of an op's semantics is an
//! `i128` computed with saturating arithmetic, so no input can overflow or
//! panic; a result is clamped once, to the range of its declared type.

use crate::module::Attrs;
use crate::ops::nn::common::{choice_attr, int_attr, int_range};
use crate::ops::shape::{broadcast_many, tensor_operand};
use crate::ops::OpInfo;
use crate::tensor::{Scalar, Tensor};
use crate::types::{Dim, ElemType, TensorType, Type};

/// How a right shift (a division by a power of two) rounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rounding {
    /// Toward minus infinity: the arithmetic shift `x >> k`.
    Floor,
    /// Toward plus infinity: `-((-x) >> k)`.
    Ceil,
    /// To nearest, ties toward plus infinity: `(x + 2^(k-1)) >> k`.
    Nearest,
}

/// The names of [`Rounding`]'s modes as attributes spell them; the first
/// is the default.
pub const ROUNDING_MODES: &[&str] = &["floor", "ceil", "nearest"];

impl Rounding {
    /// The optional `rounding` attribute (default `floor`).
    pub fn from_attrs(attrs: &Attrs) -> Result<Rounding, String> {
        Ok(match choice_attr(attrs, "rounding", ROUNDING_MODES)? {
            "ceil" => Rounding::Ceil,
            "nearest" => Rounding::Nearest,
            _ => Rounding::Floor,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Rounding::Floor => "floor",
            Rounding::Ceil => "ceil",
            Rounding::Nearest => "nearest",
        }
    }
}

/// The exact value of a stored integer of type `elem` (the stored `q` of a
/// quantized type; `u64` read unsigned).
pub fn int_value(elem: &ElemType, stored: i64) -> i128 {
    match elem {
        ElemType::Int { width: 64, signed: false } => stored as u64 as i128,
        _ => stored as i128,
    }
}

/// The width and signedness of a plain or quantized integer type.
pub fn int_format(elem: &ElemType) -> Option<(u8, bool)> {
    match elem {
        ElemType::Int { width, signed } => Some((*width, *signed)),
        ElemType::Quant(q) => Some((q.width, q.signed)),
        _ => None,
    }
}

/// The least and greatest values of an integer type (plain or quantized).
pub fn elem_range(elem: &ElemType) -> (i128, i128) {
    let (width, signed) = int_format(elem).unwrap_or((64, true));
    int_range(width, signed)
}

/// `v` clamped to the range of `elem`, as stored (a `u64` above
/// `i64::MAX` wraps in storage, see spec/types.md).
pub fn saturate(v: i128, elem: &ElemType) -> i64 {
    let (lo, hi) = elem_range(elem);
    v.clamp(lo, hi) as i64
}

/// `v * 2^amount`: a left shift for `amount >= 0` (saturating at the
/// `i128` range), else a right shift by `-amount` rounded as `rounding`
/// says. Shifting right by 127 or more gives the limit of the rounding
/// (0, -1 or 1).
pub fn shift_round(v: i128, amount: i64, rounding: Rounding) -> i128 {
    if amount >= 0 {
        return shift_left(v, amount);
    }
    let k = amount.unsigned_abs().min(127) as u32;
    match rounding {
        Rounding::Floor => v >> k,
        Rounding::Ceil => -(v.saturating_neg() >> k),
        Rounding::Nearest => v.saturating_add(1i128 << (k - 1)) >> k,
    }
}

fn shift_left(v: i128, amount: i64) -> i128 {
    if v == 0 {
        return 0;
    }
    let limit = if v > 0 { i128::MAX } else { i128::MIN };
    if amount >= 126 {
        return limit;
    }
    let k = amount as u32;
    // Saturates when the shifted value does not fit.
    if v.unsigned_abs() > (i128::MAX >> k) as u128 {
        limit
    } else {
        v << k
    }
}

/// Reads a tensor's elements as exact integers.
pub fn ints_of(t: &Tensor) -> Vec<i128> {
    (0..t.data.len())
        .map(|i| match t.data.get(i) {
            Scalar::Int(v) => int_value(&t.elem, v),
            Scalar::Float(f) => f as i128,
        })
        .collect()
}

/// A tensor of `elem` and `shape` from exact values, each saturated.
pub fn tensor_of(elem: &ElemType, shape: Vec<u64>, values: &[i128]) -> Tensor {
    Tensor::from_fn(elem.clone(), shape, |i| Scalar::Int(saturate(values.get(i).copied().unwrap_or(0), elem)))
}

/// Operand `i` as a tensor of a plain integer type (`iN`/`uN`).
pub fn int_operand<'a>(info: &OpInfo<'a>, i: usize) -> Result<&'a TensorType, String> {
    let t = tensor_operand(info.operand_types, i)?;
    if !t.elem.is_int() {
        return Err(format!("operand #{i} must have an integer element type (iN or uN), got {}", t.elem));
    }
    Ok(t)
}

/// Result `i` as a tensor of a plain integer type with dimensions `dims`.
pub fn int_result<'a>(results: &[&'a Type], i: usize, dims: &[Dim]) -> Result<&'a TensorType, String> {
    let t = result_tensor(results, i)?;
    if !t.elem.is_int() {
        return Err(format!("result #{i} must have an integer element type (iN or uN), got {}", t.elem));
    }
    same_dims(t, i, dims)?;
    Ok(t)
}

/// Checks result 0 as an integer tensor of `dims` when the operands gave
/// them; operand errors are the verify hook's to report, not repeated.
pub fn check_int_result(results: &[&Type], dims: Result<Vec<Dim>, String>) -> Result<(), String> {
    match dims {
        Ok(dims) => int_result(results, 0, &dims).map(|_| ()),
        Err(_) => Ok(()),
    }
}

/// The dimensions of operand `i`, a plain integer tensor.
pub fn int_operand_dims(info: &OpInfo, i: usize) -> Result<Vec<Dim>, String> {
    int_operand(info, i).map(|t| t.dims.clone())
}

/// Result `i` as a tensor type.
pub fn result_tensor<'a>(results: &[&'a Type], i: usize) -> Result<&'a TensorType, String> {
    results.get(i).and_then(|t| t.as_tensor()).ok_or_else(|| format!("result #{i} must be a tensor"))
}

/// Errors unless result `i` of type `t` has exactly `dims`.
pub fn same_dims(t: &TensorType, i: usize, dims: &[Dim]) -> Result<(), String> {
    if t.dims != dims {
        let want = TensorType::new(dims.to_vec(), t.elem.clone());
        return Err(format!("result #{i} must have the shape of {want}, got {t}"));
    }
    Ok(())
}

/// The numpy broadcast of every operand's dimensions (all plain integers).
pub fn broadcast_int_operands(info: &OpInfo) -> Result<Vec<Dim>, String> {
    let mut shapes = Vec::with_capacity(info.operand_types.len());
    for i in 0..info.operand_types.len() {
        shapes.push(int_operand(info, i)?.dims.as_slice());
    }
    broadcast_many(&shapes)
}

/// The element type of result `i` as evaluation sees it (an error for a
/// non-tensor type, which the verifier reports first).
pub fn result_elem(results: &[Type], i: usize) -> Result<&ElemType, String> {
    results.get(i).and_then(|t| t.as_tensor()).map(|t| &t.elem).ok_or_else(|| format!("result #{i} must be a tensor"))
}

/// An integer attribute that must lie in `lo..=hi`.
pub fn bounded_int(attrs: &Attrs, name: &str, lo: i64, hi: i64) -> Result<i64, String> {
    let v = int_attr(attrs, name)?;
    if !(lo..=hi).contains(&v) {
        return Err(format!("attribute '{name}' must be in {lo}..={hi}, got {v}"));
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn right_shifts_round_as_told() {
        let cases = [(5, 1, 2, 3, 3), (-5, 1, -3, -2, -2), (6, 2, 1, 2, 2), (-6, 2, -2, -1, -1), (7, 3, 0, 1, 1)];
        for (v, k, floor, ceil, nearest) in cases {
            assert_eq!(shift_round(v, -k, Rounding::Floor), floor, "{v} >> {k}");
            assert_eq!(shift_round(v, -k, Rounding::Ceil), ceil, "ceil {v} >> {k}");
            assert_eq!(shift_round(v, -k, Rounding::Nearest), nearest, "nearest {v} >> {k}");
        }
        // Ties go up: -1.5 -> -1, 2.5 -> 3.
        assert_eq!(shift_round(-3, -1, Rounding::Nearest), -1);
        assert_eq!(shift_round(5, -1, Rounding::Nearest), 3);
        assert_eq!(shift_round(-1, -500, Rounding::Floor), -1);
        assert_eq!(shift_round(1, -500, Rounding::Ceil), 1);
        assert_eq!(shift_round(i128::MAX, -1, Rounding::Nearest), i128::MAX >> 1);
    }

    #[test]
    fn left_shifts_saturate() {
        assert_eq!(shift_round(3, 4, Rounding::Floor), 48);
        assert_eq!(shift_round(-3, 200, Rounding::Floor), i128::MIN);
        assert_eq!(shift_round(1, 126, Rounding::Floor), i128::MAX);
        assert_eq!(shift_round(1 << 100, 30, Rounding::Floor), i128::MAX);
        assert_eq!(shift_round(0, 1000, Rounding::Floor), 0);
    }

    #[test]
    fn saturation_clamps_to_the_declared_type() {
        assert_eq!(saturate(300, &ElemType::I8), 127);
        assert_eq!(saturate(-300, &ElemType::I8), -128);
        let u4 = ElemType::Int { width: 4, signed: false };
        assert_eq!(saturate(-1, &u4), 0);
        assert_eq!(saturate(99, &u4), 15);
        let u64t = ElemType::Int { width: 64, signed: false };
        assert_eq!(int_value(&u64t, saturate(u64::MAX as i128 + 5, &u64t)), u64::MAX as i128);
    }
}
