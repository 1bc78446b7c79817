//! Builders for the unit tests of the nn op files: tensors, attributes,
//! and running an op's `eval` or `infer`.

use crate::attr::Attribute;
use crate::module::Attrs;
use crate::ops::{EvalFn, OpDef, OpInfo};
use crate::tensor::{Tensor, TensorData};
use crate::types::{ElemType, TensorType, Type};

pub fn f32s(shape: &[u64], v: &[f32]) -> Tensor {
    Tensor { elem: ElemType::F32, shape: shape.to_vec(), data: TensorData::F32(v.to_vec()) }
}

pub fn ints(elem: ElemType, shape: &[u64], v: &[i64]) -> Tensor {
    Tensor { elem, shape: shape.to_vec(), data: TensorData::Int(v.to_vec()) }
}

pub fn bools(shape: &[u64], v: &[bool]) -> Tensor {
    ints(ElemType::Bool, shape, &v.iter().map(|&b| b as i64).collect::<Vec<_>>())
}

pub fn f32_type(shape: &[u64]) -> TensorType {
    TensorType::fixed(shape, ElemType::F32)
}

pub fn eval_of(def: &OpDef) -> EvalFn {
    def.eval.expect("nn ops have eval")
}

/// Runs `def`'s eval; panics with its error.
pub fn run(def: &OpDef, ops: &[Tensor], attrs: &Attrs) -> Tensor {
    eval_of(def)(ops, attrs, &[]).unwrap_or_else(|e| panic!("{}: {e}", def.name)).remove(0)
}

/// Runs `def`'s eval; its error.
pub fn run_err(def: &OpDef, ops: &[Tensor], attrs: &Attrs) -> String {
    match eval_of(def)(ops, attrs, &[]) {
        Ok(_) => panic!("{}: expected an evaluation error", def.name),
        Err(e) => e,
    }
}

/// Runs `def`'s shape inference on operand types.
pub fn infer(def: &OpDef, types: &[TensorType], attrs: &Attrs) -> Result<Type, String> {
    let types: Vec<Type> = types.iter().cloned().map(Type::Tensor).collect();
    let refs: Vec<&Type> = types.iter().collect();
    let info = OpInfo::new(&refs, attrs);
    def.infer.expect("nn ops have infer")(&info).map(|mut v| v.remove(0))
}

/// An attribute dictionary from `(name, value)` pairs.
pub fn attrs(entries: &[(&str, Attribute)]) -> Attrs {
    entries.iter().map(|(k, v)| (k.to_string(), v.clone())).collect()
}

pub fn int_list(v: &[i64]) -> Attribute {
    Attribute::Array(v.iter().map(|&i| Attribute::Int(i)).collect())
}

pub fn float_list(v: &[f64]) -> Attribute {
    Attribute::Array(v.iter().map(|&x| Attribute::Float(x)).collect())
}

/// The elements of a float tensor as f64.
pub fn values(t: &Tensor) -> Vec<f64> {
    (0..t.data.len()).map(|i| crate::ops::eval::as_f64(t.data.get(i))).collect()
}

/// Asserts that two float lists agree within `tol` absolutely.
pub fn assert_close(got: &[f64], want: &[f64], tol: f64) {
    assert_eq!(got.len(), want.len(), "lengths differ: {got:?} vs {want:?}");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!((g - w).abs() <= tol, "element {i}: {g} vs {w} (got {got:?})");
    }
}
