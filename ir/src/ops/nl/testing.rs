//! Builders for the unit tests of the nl op files: integer tensors and
//! types, and running an op's hooks.

use crate::attr::Attribute;
use crate::module::Attrs;
use crate::ops::{OpDef, OpInfo};
use crate::tensor::{Tensor, TensorData};
use crate::types::{ElemType, QuantInt, QuantParams, TensorType, Type};

pub fn ints(elem: ElemType, shape: &[u64], v: &[i64]) -> Tensor {
    Tensor { elem, shape: shape.to_vec(), data: TensorData::Int(v.to_vec()) }
}

pub fn int_type(width: u8, shape: &[u64]) -> Type {
    TensorType::fixed(shape, ElemType::Int { width, signed: true }).into()
}

pub fn uint_type(width: u8, shape: &[u64]) -> Type {
    TensorType::fixed(shape, ElemType::Int { width, signed: false }).into()
}

pub fn quant_type(width: u8, signed: bool, scale: f64, zp: i64) -> ElemType {
    ElemType::Quant(Box::new(QuantInt { width, signed, params: QuantParams::PerTensor { scale, zp } }))
}

/// An attribute dictionary from `(name, value)` pairs.
pub fn attrs(entries: &[(&str, Attribute)]) -> Attrs {
    entries.iter().map(|(k, v)| (k.to_string(), v.clone())).collect()
}

pub fn int_list(v: &[i64]) -> Attribute {
    Attribute::Array(v.iter().map(|&i| Attribute::Int(i)).collect())
}

/// Runs `def`'s eval with one result of type `result`; the stored
/// integers of the result. Panics with the evaluation error.
pub fn eval(def: &OpDef, ops: &[Tensor], attrs: &Attrs, result: &Type) -> Vec<i64> {
    let out = def.eval.expect("nl ops have eval")(ops, attrs, std::slice::from_ref(result))
        .unwrap_or_else(|e| panic!("{}: {e}", def.name));
    match &out[0].data {
        TensorData::Int(v) => v.clone(),
        other => panic!("{}: not integers: {other:?}", def.name),
    }
}

/// Runs `def`'s verify and result verify hooks without attributes.
pub fn verify_results(def: &OpDef, operands: &[Type], results: &[&Type]) -> Result<(), String> {
    verify_results_with(def, operands, results, &Attrs::new())
}

/// Runs `def`'s verify and result verify hooks.
pub fn verify_results_with(def: &OpDef, operands: &[Type], results: &[&Type], attrs: &Attrs) -> Result<(), String> {
    let refs: Vec<&Type> = operands.iter().collect();
    let info = OpInfo::new(&refs, attrs);
    if let Some(v) = def.verify {
        v(&info)?;
    }
    def.verify_results.expect("nl ops check their results")(&info, results)
}

pub const I16: ElemType = ElemType::Int { width: 16, signed: true };
