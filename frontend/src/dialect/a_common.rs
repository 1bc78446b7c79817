//! Shared pieces of the elementwise, logic, cast, reduction and
//! normalization ops: ONNX type constraints, operand and attribute
//! accessors with user-facing messages, and the exact integer view of
//! stored elements.
//!
//! Invariants: every accessor returns `Err` with a message naming the
//! operand (`operand #1 (B)`) or attribute, never panics; integers are
//! compared and divided through [`int_value`], which reads `u64` elements
//! (stored as their bit pattern in an `i64`) as unsigned.

use weft_ir::module::Attrs;
use weft_ir::ops::eval::wrap_int;
use weft_ir::ops::shape::broadcast_shapes;
use weft_ir::ops::{Arity, OpInfo};
use weft_ir::tensor::{Scalar, Tensor};
use weft_ir::types::{Dim, ElemType, TensorType, Type};

/// An ONNX type constraint (`T in (tensor(float), ...)`), as a predicate on
/// weft element types with the text used in messages.
pub struct TypeSet {
    pub describe: &'static str,
    pub accepts: fn(&ElemType) -> bool,
}

/// `f16`, `bf16`, `f32`, `f64`.
pub const FLOAT: TypeSet = TypeSet { describe: "a float type (f16, bf16, f32, f64)", accepts: ElemType::is_float };

/// `f16`, `f32`, `f64`: the float constraint of ops that gained bf16 only
/// after opset 21 (`Softplus`, `HardSigmoid`, `HardSwish`).
pub const FLOAT_NO_BF16: TypeSet = TypeSet {
    describe: "f16, f32 or f64 (bf16 only from opset 22)",
    accepts: |e| matches!(e, ElemType::F16 | ElemType::F32 | ElemType::F64),
};

/// Floats and the ONNX integer types (8 to 64 bits, signed or not).
pub const NUMERIC: TypeSet = TypeSet {
    describe: "a float or integer type (f16, bf16, f32, f64, i8, i16, i32, i64, u8, u16, u32, u64)",
    accepts: |e| e.is_float() || onnx_int(e),
};

/// Floats and the signed ONNX integer types.
pub const SIGNED: TypeSet = TypeSet {
    describe: "a float or signed integer type (f16, bf16, f32, f64, i8, i16, i32, i64)",
    accepts: |e| e.is_float() || (onnx_int(e) && matches!(e, ElemType::Int { signed: true, .. })),
};

/// `bool`.
pub const BOOL: TypeSet = TypeSet { describe: "bool", accepts: |e| *e == ElemType::Bool };

/// Numbers and `bool`.
pub const NUMERIC_OR_BOOL: TypeSet = TypeSet {
    describe: "bool, a float or an integer type (f16, bf16, f32, f64, i8, i16, i32, i64, u8, u16, u32, u64)",
    accepts: |e| *e == ElemType::Bool || e.is_float() || onnx_int(e),
};

/// Every element type ONNX stores in a tensor that weft supports:
/// numbers, `bool`, and the 4-bit integers of opset 21.
pub const ANY: TypeSet = TypeSet {
    describe: "bool, a float or an integer type (f16, bf16, f32, f64, i4, i8, i16, i32, i64, u4, u8, u16, u32, u64)",
    accepts: |e| (NUMERIC_OR_BOOL.accepts)(e) || matches!(e, ElemType::Int { width: 4, .. }),
};

/// True for `iN`/`uN` with N one of ONNX's integer widths (8, 16, 32, 64).
pub fn onnx_int(e: &ElemType) -> bool {
    matches!(e, ElemType::Int { width: 8 | 16 | 32 | 64, .. })
}

/// The name of operand `i` in `arity` (`B`, or `inputs` for a variadic).
fn operand_name(arity: &Arity, i: usize) -> &'static str {
    match *arity {
        Arity::Fixed(names) => names.get(i).copied().unwrap_or("?"),
        Arity::Variadic { name, .. } => name,
    }
}

/// Reads operands of an op with their names, for messages.
pub struct Operands<'i, 'a> {
    pub info: &'i OpInfo<'a>,
    pub arity: Arity,
}

impl<'i, 'a> Operands<'i, 'a> {
    pub fn new(info: &'i OpInfo<'a>, arity: Arity) -> Self {
        Operands { info, arity }
    }

    pub fn len(&self) -> usize {
        self.info.operand_types.len()
    }

    /// `operand #1 (B)`.
    pub fn label(&self, i: usize) -> String {
        format!("operand #{i} ({})", operand_name(&self.arity, i))
    }

    /// The tensor type of operand `i`, whatever its element type.
    pub fn tensor(&self, i: usize) -> Result<&'a TensorType, String> {
        self.info
            .operand_types
            .get(i)
            .and_then(|t| t.as_tensor())
            .ok_or_else(|| format!("{} must be a tensor", self.label(i)))
    }

    /// The tensor type of operand `i`, whose element type must be in `set`.
    pub fn typed(&self, i: usize, set: &TypeSet) -> Result<&'a TensorType, String> {
        let t = self.tensor(i)?;
        if !(set.accepts)(&t.elem) {
            return Err(format!("{} has element type {}, expected {}", self.label(i), t.elem, set.describe));
        }
        Ok(t)
    }

    /// Operand `j` must have the element type of operand `i`.
    pub fn same_elem(&self, i: usize, j: usize) -> Result<(), String> {
        let (a, b) = (self.tensor(i)?, self.tensor(j)?);
        if a.elem != b.elem {
            return Err(format!("{} has element type {} but {} has {}", self.label(j), b.elem, self.label(i), a.elem));
        }
        Ok(())
    }

    /// The numpy broadcast of the shapes of `operands`.
    pub fn broadcast(&self, operands: &[usize]) -> Result<Vec<Dim>, String> {
        let mut dims: Vec<Dim> = Vec::new();
        for (k, &i) in operands.iter().enumerate() {
            let t = self.tensor(i)?;
            dims = broadcast_shapes(&dims, &t.dims).map_err(|e| {
                let before: Vec<String> = operands[..k].iter().map(|&j| format!("#{j}")).collect();
                format!("{} of type {} does not broadcast with operand {}: {e}", self.label(i), t, before.join(", "))
            })?;
        }
        Ok(dims)
    }

    /// Operand `i` must hold one element: rank 0, or ONNX Runtime's
    /// lenient `[1]`.
    pub fn scalar_like(&self, i: usize) -> Result<(), String> {
        let t = self.tensor(i)?;
        match t.dims.as_slice() {
            [] | [Dim::Fixed(1)] | [Dim::Dyn] => Ok(()),
            _ => Err(format!("{} must be a scalar (tensor<{}>), got {t}", self.label(i), t.elem)),
        }
    }
}

/// A tensor type.
pub fn tensor_type(dims: Vec<Dim>, elem: ElemType) -> Type {
    Type::Tensor(TensorType::new(dims, elem))
}

/// Operand `i` of an evaluation.
pub fn arg(ops: &[Tensor], i: usize) -> Result<&Tensor, String> {
    ops.get(i).ok_or_else(|| format!("operand #{i} is missing"))
}

/// An integer attribute, or `default` when absent.
pub fn int_attr(attrs: &Attrs, name: &str, default: i64) -> Result<i64, String> {
    match attrs.get(name) {
        None => Ok(default),
        Some(a) => a.as_int().ok_or_else(|| format!("attribute '{name}' must be an integer, got {a}")),
    }
}

/// A float attribute, or `default` when absent.
pub fn float_attr(attrs: &Attrs, name: &str, default: f64) -> Result<f64, String> {
    match attrs.get(name) {
        None => Ok(default),
        Some(a) => a.as_float().ok_or_else(|| format!("attribute '{name}' must be a float, got {a}")),
    }
}

/// A string attribute, or `default` when absent.
pub fn str_attr<'a>(attrs: &'a Attrs, name: &str, default: &'a str) -> Result<&'a str, String> {
    match attrs.get(name) {
        None => Ok(default),
        Some(a) => a.as_str().ok_or_else(|| format!("attribute '{name}' must be a string, got {a}")),
    }
}

/// A 0/1 attribute (ONNX's int-typed flags such as `keepdims`).
pub fn flag_attr(attrs: &Attrs, name: &str, default: bool) -> Result<bool, String> {
    match int_attr(attrs, name, default as i64)? {
        0 => Ok(false),
        1 => Ok(true),
        v => Err(format!("attribute '{name}' must be 0 or 1, got {v}")),
    }
}

/// The mathematical value of a stored integer of type `elem`: `u64`
/// elements are stored as their bit pattern and read back unsigned.
pub fn int_value(elem: &ElemType, v: i64) -> i128 {
    match elem {
        ElemType::Int { width: 64, signed: false } => v as u64 as i128,
        _ => v as i128,
    }
}

/// The value of a scalar of type `elem` as f64 (`u64` read unsigned).
pub fn f64_value(elem: &ElemType, s: Scalar) -> f64 {
    match s {
        Scalar::Float(x) => x,
        Scalar::Int(v) => int_value(elem, v) as f64,
    }
}

/// The scalar storing the integer `v` in `elem`, wrapped to its width.
pub fn int_scalar(elem: &ElemType, v: i128) -> Scalar {
    match elem {
        ElemType::Int { width, signed } => Scalar::Int(wrap_int(v as i64, *width, *signed)),
        ElemType::Bool => Scalar::Int((v != 0) as i64),
        _ => Scalar::Float(v as f64),
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

/// A float converted to an integer type the way weft's `Cast` does it:
/// truncated toward zero, NaN to 0, and saturated to the type's range
/// (ONNX leaves out-of-range conversions undefined); shared with `nn.cast`.
pub use weft_ir::ops::nn::convert::float_to_int;

/// Builders and runners for the unit tests of the op files.
#[cfg(test)]
pub mod test_support {
    use weft_ir::attr::DenseAttr;
    use weft_ir::module::Attrs;
    use weft_ir::ops::{OpDef, OpInfo};
    use weft_ir::tensor::{Tensor, TensorData};
    use weft_ir::types::{Dim, ElemType, TensorType, Type};
    use weft_ir::Attribute;

    pub fn f32s(shape: &[u64], v: &[f32]) -> Tensor {
        Tensor { elem: ElemType::F32, shape: shape.to_vec(), data: TensorData::F32(v.to_vec()) }
    }

    pub fn f64s(shape: &[u64], v: &[f64]) -> Tensor {
        Tensor { elem: ElemType::F64, shape: shape.to_vec(), data: TensorData::F64(v.to_vec()) }
    }

    pub fn f16s(shape: &[u64], v: &[f64]) -> Tensor {
        let data = v.iter().map(|&x| half::f16::from_f64(x)).collect();
        Tensor { elem: ElemType::F16, shape: shape.to_vec(), data: TensorData::F16(data) }
    }

    /// Integers or bools (0/1) of `elem`.
    pub fn ints(elem: ElemType, shape: &[u64], v: &[i64]) -> Tensor {
        Tensor { elem, shape: shape.to_vec(), data: TensorData::Int(v.to_vec()) }
    }

    pub fn bools(shape: &[u64], v: &[bool]) -> Tensor {
        ints(ElemType::Bool, shape, &v.iter().map(|&b| b as i64).collect::<Vec<_>>())
    }

    pub fn uint(width: u8) -> ElemType {
        ElemType::Int { width, signed: false }
    }

    pub fn int(width: u8) -> ElemType {
        ElemType::Int { width, signed: true }
    }

    pub fn attrs(entries: &[(&str, Attribute)]) -> Attrs {
        entries.iter().map(|(k, v)| (k.to_string(), v.clone())).collect()
    }

    /// A tensor type from a shape with `-1` for `?` and symbolic names
    /// given separately: `ty(&["batch", "4"], F32)`.
    pub fn ty(dims: &[&str], elem: ElemType) -> Type {
        let dims = dims
            .iter()
            .map(|d| match *d {
                "?" => Dim::Dyn,
                s => s.parse().map(Dim::Fixed).unwrap_or_else(|_| Dim::Sym(s.to_string())),
            })
            .collect();
        Type::Tensor(TensorType::new(dims, elem))
    }

    pub fn fixed(shape: &[u64], elem: ElemType) -> Type {
        Type::Tensor(TensorType::fixed(shape, elem))
    }

    /// Evaluates `def` on `ops`, declaring `n_results` results of the types
    /// shape inference gives.
    pub fn eval(def: &OpDef, ops: &[Tensor], attrs: &Attrs) -> Result<Vec<Tensor>, String> {
        let types: Vec<Type> = ops.iter().map(|t| Type::Tensor(t.ty())).collect();
        let results = infer(def, &types.iter().collect::<Vec<_>>(), attrs).unwrap_or_default();
        (def.eval.expect("eval"))(ops, attrs, &results)
    }

    /// The single result of `def` on `ops`; panics (failing the test) on error.
    pub fn eval1(def: &OpDef, ops: &[Tensor], attrs: &Attrs) -> Tensor {
        eval(def, ops, attrs).expect("evaluation succeeds").remove(0)
    }

    pub fn infer(def: &OpDef, types: &[&Type], attrs: &Attrs) -> Result<Vec<Type>, String> {
        (def.infer.expect("infer"))(&OpInfo::new(types, attrs))
    }

    /// Shape inference with some operands known as constants.
    pub fn infer_with(def: &OpDef, ops: &[(Type, Option<Tensor>)], attrs: &Attrs) -> Result<Vec<Type>, String> {
        let types: Vec<&Type> = ops.iter().map(|(t, _)| t).collect();
        let dense: Vec<Option<DenseAttr>> = ops.iter().map(|(_, c)| c.clone().map(DenseAttr::from_tensor)).collect();
        let constants: Vec<Option<&DenseAttr>> = dense.iter().map(Option::as_ref).collect();
        (def.infer.expect("infer"))(&OpInfo { operand_types: &types, attrs, constants: &constants })
    }

    /// The elements as f64.
    pub fn values(t: &Tensor) -> Vec<f64> {
        (0..t.data.len()).map(|i| weft_ir::ops::eval::as_f64(t.data.get(i))).collect()
    }

    /// Asserts `got` is within `tol` of `want` elementwise.
    pub fn assert_close(got: &Tensor, want: &[f64], tol: f64) {
        let v = values(got);
        assert_eq!(v.len(), want.len(), "{got:?}");
        for (i, (a, b)) in v.iter().zip(want).enumerate() {
            assert!((a - b).abs() <= tol || (a.is_nan() && b.is_nan()), "element {i}: {a} vs {b} in {got:?}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_sets_follow_onnx_constraints() {
        let u64t = ElemType::Int { width: 64, signed: false };
        assert!((NUMERIC.accepts)(&u64t) && !(SIGNED.accepts)(&u64t));
        assert!(!(NUMERIC.accepts)(&ElemType::Bool) && (NUMERIC_OR_BOOL.accepts)(&ElemType::Bool));
        assert!(!(NUMERIC.accepts)(&ElemType::Int { width: 4, signed: true }));
        assert!((ANY.accepts)(&ElemType::Int { width: 4, signed: false }));
        assert!(!(ANY.accepts)(&ElemType::Int { width: 12, signed: true }));
    }

    #[test]
    fn u64_elements_read_unsigned() {
        let u64t = ElemType::Int { width: 64, signed: false };
        assert_eq!(int_value(&u64t, -1), u64::MAX as i128);
        assert_eq!(int_value(&ElemType::I64, -1), -1);
        assert_eq!(int_scalar(&ElemType::I8, 200), Scalar::Int(-56));
        assert_eq!(int_range(8, false), (0, 255));
        assert_eq!(int_range(64, true), (i64::MIN as i128, i64::MAX as i128));
    }

    #[test]
    fn broadcast_errors_name_the_operands() {
        let a = Type::Tensor(TensorType::fixed(&[2, 3], ElemType::F32));
        let b = Type::Tensor(TensorType::fixed(&[4], ElemType::F32));
        let attrs = Attrs::new();
        let types = [&a, &b];
        let info = OpInfo::new(&types, &attrs);
        let ops = Operands::new(&info, Arity::Fixed(&["A", "B"]));
        let err = ops.broadcast(&[0, 1]).unwrap_err();
        assert!(err.starts_with("operand #1 (B) of type tensor<4xf32> does not broadcast with operand #0"), "{err}");
    }
}
