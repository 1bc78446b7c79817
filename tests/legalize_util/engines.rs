//! The JIT against the interpreter: which functions the JIT can hold at
//! all, and how their outputs must agree (spec/jit.md: integers bit for
//! bit; floats bit for bit except the f32 matmul tiles, checked within
//! `1e-5` relative plus `1e-6` times the output's largest magnitude).

use super::{compare, max_abs};
use weft_ir::tensor::Scalar;
use weft_ir::{ElemType, Function, Tensor, Type};

/// Why the JIT cannot hold the values of `func`, if it cannot: a reason
/// that is a property of the program (not a JIT bug).
pub fn unholdable(func: &Function) -> Option<&'static str> {
    let results = func.walk().into_iter().flat_map(|op| func.ops[op].results.clone());
    for v in func.args().iter().copied().chain(results) {
        let Some(t) = func.values.get(v).and_then(|d| d.ty.as_tensor().cloned()) else {
            return Some("non-tensor values");
        };
        if t.static_shape().is_none() {
            return Some("symbolic or dynamic shapes");
        }
        if !matches!(t.elem, ElemType::F32 | ElemType::F64 | ElemType::Bool | ElemType::Int { .. } | ElemType::Quant(_))
        {
            return Some("f16, bf16 or !quant.bin elements (no JIT storage)");
        }
    }
    None
}

/// Checks the JIT's outputs against the interpreter's; whether every
/// element is bit-identical, or the first disagreement.
pub fn agree(got: &[Tensor], want: &[Tensor]) -> Result<bool, String> {
    if got.len() != want.len() {
        return Err(format!("{} outputs, the interpreter gives {}", got.len(), want.len()));
    }
    let mut identical = true;
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        let tol = if w.elem.is_float() { (1e-5, 1e-6 * max_abs(w).max(1.0)) } else { (0.0, 0.0) };
        compare(g, w, tol.0, tol.1).map_err(|e| format!("output {i}: {e}"))?;
        identical &= same_bits(g, w);
    }
    Ok(identical)
}

/// Every element has the same bits (any NaN matches any NaN).
pub fn same_bits(a: &Tensor, b: &Tensor) -> bool {
    a.elem == b.elem
        && a.shape == b.shape
        && a.data.len() == b.data.len()
        && (0..a.data.len()).all(|i| match (a.data.get(i), b.data.get(i)) {
            (Scalar::Float(x), Scalar::Float(y)) => x.to_bits() == y.to_bits() || (x.is_nan() && y.is_nan()),
            (x, y) => x == y,
        })
}

/// The static shapes of tensor types, or `None` when any is not one.
pub fn static_shapes(types: &[Type]) -> Option<Vec<(ElemType, Vec<u64>)>> {
    types.iter().map(|t| t.as_tensor().and_then(|t| Some((t.elem.clone(), t.static_shape()?)))).collect()
}
