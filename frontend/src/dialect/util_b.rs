//! Helpers shared by the second group of `onnx` ops (shape, indexing,
//! linear algebra, convolution, resize, quantization): reading attributes
//! with ONNX's defaults, reading constant shape operands during shape
//! inference, reading tensor data during evaluation, and building result
//! tensors by gathering elements.
//!
//! Invariants: nothing here panics on bad input; every failure is an
//! `Err(String)` naming the attribute or operand involved. Element counts
//! of tensors built during evaluation are checked against
//! [`MAX_EVAL_ELEMENTS`] before anything is allocated.

use weft_ir::ops::eval::as_f64;
use weft_ir::ops::OpInfo;
use weft_ir::tensor::{Scalar, Tensor, TensorData};
use weft_ir::types::{Dim, ElemType, TensorType, Type};
use weft_ir::Attrs;

pub const U8: ElemType = ElemType::Int { width: 8, signed: false };

/// The most elements a tensor computed by reference semantics may have
/// (a guard against shape operands such as `ConstantOfShape [1e12]`).
pub const MAX_EVAL_ELEMENTS: u64 = 1 << 31;

/// An integer attribute, or `default` when absent.
pub fn attr_int(attrs: &Attrs, name: &str, default: i64) -> Result<i64, String> {
    match attrs.get(name) {
        None => Ok(default),
        Some(a) => a.as_int().ok_or_else(|| format!("attribute '{name}' must be an integer")),
    }
}

/// A float attribute, or `default` when absent.
pub fn attr_float(attrs: &Attrs, name: &str, default: f64) -> Result<f64, String> {
    match attrs.get(name) {
        None => Ok(default),
        Some(a) => a.as_float().ok_or_else(|| format!("attribute '{name}' must be a float")),
    }
}

/// A string attribute, or `default` when absent.
pub fn attr_str<'a>(attrs: &'a Attrs, name: &str, default: &'a str) -> Result<&'a str, String> {
    match attrs.get(name) {
        None => Ok(default),
        Some(a) => a.as_str().ok_or_else(|| format!("attribute '{name}' must be a string")),
    }
}

/// A string attribute that must be one of `allowed` (the first is the default).
pub fn attr_choice<'a>(attrs: &'a Attrs, name: &str, allowed: &[&'a str]) -> Result<&'a str, String> {
    let v = attr_str(attrs, name, allowed.first().copied().unwrap_or(""))?;
    if allowed.contains(&v) {
        Ok(v)
    } else {
        Err(format!("attribute '{name}' is \"{v}\"; expected one of {}", quoted_list(allowed)))
    }
}

fn quoted_list(items: &[&str]) -> String {
    items.iter().map(|s| format!("\"{s}\"")).collect::<Vec<_>>().join(", ")
}

/// An array-of-integers attribute, if present.
pub fn attr_ints(attrs: &Attrs, name: &str) -> Result<Option<Vec<i64>>, String> {
    match attrs.get(name) {
        None => Ok(None),
        Some(a) => a.as_ints().map(Some).ok_or_else(|| format!("attribute '{name}' must be an array of integers")),
    }
}

/// A 0/1 flag attribute (ONNX int), `default` when absent.
pub fn attr_flag(attrs: &Attrs, name: &str, default: bool) -> Result<bool, String> {
    match attr_int(attrs, name, default as i64)? {
        0 => Ok(false),
        1 => Ok(true),
        v => Err(format!("attribute '{name}' must be 0 or 1, got {v}")),
    }
}

/// The tensor type of operand `i`.
pub fn operand<'a>(info: &OpInfo<'a>, i: usize) -> Result<&'a TensorType, String> {
    weft_ir::ops::shape::tensor_operand(info.operand_types, i)
}

/// The tensor type of optional operand `i`, `None` when absent.
pub fn optional_operand<'a>(info: &OpInfo<'a>, i: usize) -> Result<Option<&'a TensorType>, String> {
    if i < info.operand_types.len() {
        operand(info, i).map(Some)
    } else {
        Ok(None)
    }
}

/// Rejects more than `max` operands (ops with optional trailing operands
/// are declared variadic with a minimum).
pub fn check_max_operands(info: &OpInfo, max: usize) -> Result<(), String> {
    let n = info.operand_types.len();
    if n > max {
        return Err(format!("takes at most {max} operands, got {n}"));
    }
    Ok(())
}

/// Requires a float element type for operand `i`.
pub fn float_operand<'a>(info: &OpInfo<'a>, i: usize) -> Result<&'a TensorType, String> {
    let t = operand(info, i)?;
    if !t.elem.is_float() {
        return Err(format!("operand #{i} must have a float element type, got {}", t.elem));
    }
    Ok(t)
}

/// Requires a plain integer element type for operand `i`.
pub fn int_operand<'a>(info: &OpInfo<'a>, i: usize) -> Result<&'a TensorType, String> {
    let t = operand(info, i)?;
    if !t.elem.is_int() {
        return Err(format!("operand #{i} must have an integer element type, got {}", t.elem));
    }
    Ok(t)
}

/// Requires a float or integer (not bool) element type for operand `i`.
pub fn numeric_operand<'a>(info: &OpInfo<'a>, i: usize) -> Result<&'a TensorType, String> {
    let t = operand(info, i)?;
    if !t.elem.is_float() && !t.elem.is_int() {
        return Err(format!("operand #{i} must have a numeric element type, got {}", t.elem));
    }
    Ok(t)
}

/// Requires operands `i` and `j` to have the same element type.
pub fn same_elem(info: &OpInfo, i: usize, j: usize) -> Result<(), String> {
    let (a, b) = (operand(info, i)?, operand(info, j)?);
    if a.elem != b.elem {
        return Err(format!("operands #{i} and #{j} must have the same element type, got {} and {}", a.elem, b.elem));
    }
    Ok(())
}

/// The most entries a shape-like operand (shape, axes, starts...) may have.
pub const MAX_RANK: u64 = 4096;

/// The length of 1-D shape-like operand `i` (`None` when not static); an
/// error when the operand is not 1-D or longer than [`MAX_RANK`].
pub fn vector_len(info: &OpInfo, i: usize) -> Result<Option<u64>, String> {
    let t = operand(info, i)?;
    if t.rank() != 1 {
        return Err(format!("operand #{i} must be 1-D, got {t}"));
    }
    match t.dims[0].fixed() {
        Some(n) if n > MAX_RANK => Err(format!("operand #{i} has {n} entries; at most {MAX_RANK} are supported")),
        n => Ok(n),
    }
}

/// The integer values of operand `i` when it is an inline constant.
pub fn const_ints(info: &OpInfo, i: usize) -> Option<Vec<i64>> {
    let t = info.constant(i)?.to_tensor()?;
    match t.data {
        TensorData::Int(v) => Some(v),
        _ => None,
    }
}

/// The values of operand `i`, as f64, when it is an inline constant.
pub fn const_floats(info: &OpInfo, i: usize) -> Option<Vec<f64>> {
    let t = info.constant(i)?.to_tensor()?;
    Some(floats(&t))
}

/// A tensor result type.
pub fn tensor_type(dims: Vec<Dim>, elem: ElemType) -> Type {
    Type::Tensor(TensorType::new(dims, elem))
}

/// Static dims from a static shape.
pub fn fixed_dims(shape: &[u64]) -> Vec<Dim> {
    shape.iter().map(|&d| Dim::Fixed(d)).collect()
}

/// The product of dims: fixed when all are fixed, the symbol when every
/// other dim is 1, otherwise unknown.
pub fn dim_product(dims: &[Dim]) -> Dim {
    let mut product: u64 = 1;
    let mut symbolic = None;
    for d in dims {
        match d {
            Dim::Fixed(n) => match product.checked_mul(*n) {
                Some(p) => product = p,
                None => return Dim::Dyn,
            },
            Dim::Sym(_) if symbolic.is_none() => symbolic = Some(d.clone()),
            _ => return Dim::Dyn,
        }
    }
    match symbolic {
        None => Dim::Fixed(product),
        Some(_) if product == 0 => Dim::Fixed(0),
        Some(s) if product == 1 => s,
        Some(_) => Dim::Dyn,
    }
}

/// Two dims that must be equal at run time: the more precise one (a
/// static extent over a symbol, anything over `?`), `?` for two different
/// symbols, an error for two different static extents.
pub fn unify_dims(a: &Dim, b: &Dim) -> Result<Dim, String> {
    match (a, b) {
        (x, y) if x == y => Ok(x.clone()),
        (Dim::Dyn, d) | (d, Dim::Dyn) => Ok(d.clone()),
        (Dim::Fixed(x), Dim::Fixed(y)) => Err(format!("extents {x} and {y} differ")),
        (Dim::Fixed(_), _) => Ok(a.clone()),
        (_, Dim::Fixed(_)) => Ok(b.clone()),
        _ => Ok(Dim::Dyn),
    }
}

/// Resolves an axis in `[-rank, rank - 1]`.
pub fn axis_in(axis: i64, rank: usize, what: &str) -> Result<usize, String> {
    let r = rank as i64;
    let a = if axis < 0 { axis + r } else { axis };
    if (0..r).contains(&a) {
        Ok(a as usize)
    } else {
        Err(format!("{what} {axis} is out of range for rank {rank}"))
    }
}

/// Resolves a list of axes (each in `[-rank, rank - 1]`), rejecting repeats.
pub fn unique_axes(axes: &[i64], rank: usize, what: &str) -> Result<Vec<usize>, String> {
    let mut out = Vec::with_capacity(axes.len());
    for &a in axes {
        let a = axis_in(a, rank, what)?;
        if out.contains(&a) {
            return Err(format!("{what} {a} is repeated in {axes:?}"));
        }
        out.push(a);
    }
    Ok(out)
}

/// The element count of `shape`, checked against [`MAX_EVAL_ELEMENTS`].
pub fn checked_numel(shape: &[u64]) -> Result<u64, String> {
    let n = shape.iter().try_fold(1u64, |acc, &d| acc.checked_mul(d));
    match n {
        Some(n) if n <= MAX_EVAL_ELEMENTS => Ok(n),
        _ => Err(format!("a result of shape {shape:?} is too large to compute (limit {MAX_EVAL_ELEMENTS} elements)")),
    }
}

/// A shape from integer values, each of which must be >= 0.
pub fn shape_from_values(values: &[i64], what: &str) -> Result<Vec<u64>, String> {
    values.iter().map(|&v| u64::try_from(v).map_err(|_| format!("{what} has a negative extent {v}"))).collect()
}

/// The integer data of a tensor.
pub fn ints(t: &Tensor, what: &str) -> Result<Vec<i64>, String> {
    match &t.data {
        TensorData::Int(v) => Ok(v.clone()),
        _ => Err(format!("{what} must hold integers, got {}", t.elem)),
    }
}

/// The data of a tensor as f64 (integers converted exactly up to 2^53).
pub fn floats(t: &Tensor) -> Vec<f64> {
    (0..t.data.len()).map(|i| as_f64(t.data.get(i))).collect()
}

/// The single value of a scalar or one-element tensor.
pub fn scalar_value(t: &Tensor, what: &str) -> Result<Scalar, String> {
    if t.data.len() != 1 {
        return Err(format!("{what} must hold exactly one element, got shape {:?}", t.shape));
    }
    Ok(t.data.get(0))
}

/// A tensor of `shape` whose element `i` is `src`'s element `source(i)`,
/// i.e. a pure data movement (reshape, transpose, gather, slice...).
pub fn take(
    src: &Tensor,
    shape: Vec<u64>,
    mut source: impl FnMut(usize) -> Result<usize, String>,
) -> Result<Tensor, String> {
    let n = checked_numel(&shape)? as usize;
    let mut data = TensorData::empty_for(&src.elem, n);
    for i in 0..n {
        let s = source(i)?;
        if s >= src.data.len() {
            return Err(format!("internal: element {s} read from a tensor of {} elements", src.data.len()));
        }
        data.push(src.data.get(s));
    }
    Ok(Tensor { elem: src.elem.clone(), shape, data })
}

/// A tensor of `elem` from computed values, each rounded once (floats) or
/// wrapped (integers) to `elem`.
pub fn build(elem: &ElemType, shape: Vec<u64>, values: impl IntoIterator<Item = Scalar>) -> Tensor {
    let mut data = TensorData::empty_for(elem, 0);
    for v in values {
        data.push(weft_ir::ops::eval::to_elem(elem, v));
    }
    Tensor { elem: elem.clone(), shape, data }
}

/// `x` rounded to the float element type `elem` (unchanged for f64 and
/// non-float types).
pub fn round_to(elem: &ElemType, x: f64) -> f64 {
    match elem {
        ElemType::F32 => x as f32 as f64,
        ElemType::F16 => half::f16::from_f64(x).to_f64(),
        ElemType::BF16 => half::bf16::from_f64(x).to_f64(),
        _ => x,
    }
}

/// A 1-D i64 tensor.
pub fn i64_vector(values: Vec<i64>) -> Tensor {
    Tensor { elem: ElemType::I64, shape: vec![values.len() as u64], data: TensorData::Int(values) }
}

/// Row-major strides of `shape` (in elements).
pub fn strides(shape: &[u64]) -> Vec<u64> {
    Tensor::strides(shape)
}

/// Multi-index of flat position `flat` in `shape`.
pub fn unflatten(flat: usize, shape: &[u64], out: &mut [u64]) {
    weft_ir::ops::eval::unflatten(flat as u64, shape, out);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dim_product_keeps_a_lone_symbol() {
        let batch = Dim::Sym("batch".into());
        assert_eq!(dim_product(&[Dim::Fixed(1), batch.clone()]), batch);
        assert_eq!(dim_product(&[Dim::Fixed(2), batch.clone()]), Dim::Dyn);
        assert_eq!(dim_product(&[Dim::Fixed(2), Dim::Fixed(3)]), Dim::Fixed(6));
        assert_eq!(dim_product(&[Dim::Fixed(0), batch]), Dim::Fixed(0));
        assert_eq!(dim_product(&[Dim::Fixed(u64::MAX), Dim::Fixed(2)]), Dim::Dyn);
    }

    #[test]
    fn axes_are_resolved_and_checked() {
        assert_eq!(unique_axes(&[-1, 0], 3, "axis"), Ok(vec![2, 0]));
        assert!(unique_axes(&[1, -2], 3, "axis").unwrap_err().contains("repeated"));
        assert!(axis_in(3, 3, "axis").unwrap_err().contains("out of range"));
    }

    #[test]
    fn attribute_defaults_and_kinds() {
        let mut attrs = Attrs::new();
        attrs.insert("mode".into(), weft_ir::Attribute::Str("cubic".into()));
        attrs.insert("flag".into(), weft_ir::Attribute::Int(2));
        assert_eq!(attr_int(&attrs, "axis", 1), Ok(1));
        assert_eq!(attr_choice(&attrs, "mode", &["nearest", "linear", "cubic"]), Ok("cubic"));
        assert!(attr_choice(&attrs, "mode", &["nearest"]).unwrap_err().contains("expected one of \"nearest\""));
        assert!(attr_flag(&attrs, "flag", false).is_err());
        assert!(attr_int(&attrs, "mode", 0).is_err());
    }

    #[test]
    fn numel_is_bounded() {
        assert_eq!(checked_numel(&[2, 3]), Ok(6));
        assert!(checked_numel(&[1 << 40, 1 << 40]).is_err());
    }
}
