//! Compile-time values for `legalize-onnx`: the values a function computes
//! without looking at its arguments' data. Shape operands (Reshape's
//! `shape`, Slice's `starts`, ...) must be among them.
//!
//! One sweep in block order (defs before uses) records:
//! - inline `dense<..>` constants and small resources;
//! - `onnx.Shape` and `onnx.Size` of operands whose needed dims are static
//!   (they read types, not data);
//! - any other pure `onnx` op with reference semantics whose operands are
//!   all known and whose results have static types: its `eval` on them
//!   (the Shape -> Gather -> Unsqueeze -> Concat chains of exported models).
//!
//! Invariants: only tensors of at most `limit` elements are recorded, and
//! a recorded tensor has exactly its value's declared type; an evaluation
//! error just leaves the value unknown (the rule that needs it reports).

use super::is_quant_import;
use crate::transforms::folding::resource_tensor;
use std::collections::HashMap;
use std::rc::Rc;
use weft_ir::ops::Trait;
use weft_ir::resources::Resources;
use weft_ir::tensor::{Scalar, TensorData};
use weft_ir::{Attribute, Dim, ElemType, Function, Op, Tensor, Type, Value};

/// The compile-time values of one function.
#[derive(Debug, Default)]
pub struct Known {
    values: HashMap<Value, Rc<Tensor>>,
    limit: u64,
}

impl Known {
    /// Computes the known values of `f`.
    pub fn compute(f: &Function, resources: &Resources, limit: u64) -> Known {
        let mut known = Known { values: HashMap::new(), limit };
        for op in f.walk() {
            known.visit(f, resources, op);
        }
        known
    }

    /// The value of `v`, if known.
    pub fn get(&self, v: Value) -> Option<&Tensor> {
        self.values.get(&v).map(|t| &**t)
    }

    /// True when every result of `op` is known.
    pub fn all_results_known(&self, f: &Function, op: Op) -> bool {
        f.ops[op].results.iter().all(|r| self.values.contains_key(r))
    }

    fn fits(&self, ty: &Type) -> bool {
        ty.as_tensor().and_then(|t| t.num_elements()).is_some_and(|n| n <= self.limit)
    }

    fn record(&mut self, f: &Function, v: Value, t: Tensor) {
        if Type::Tensor(t.ty()) == *f.value_type(v) && self.fits(f.value_type(v)) {
            self.values.insert(v, Rc::new(t));
        }
    }

    fn visit(&mut self, f: &Function, resources: &Resources, op: Op) {
        let data = &f.ops[op];
        if !data.regions.is_empty() || !data.def.has_trait(Trait::Pure) || data.results.is_empty() {
            return;
        }
        if data.def.has_trait(Trait::ConstantLike) {
            if !self.fits(f.value_type(data.results[0])) {
                return;
            }
            let t = match data.attr("value") {
                Some(Attribute::Dense(d)) => d.to_tensor(),
                Some(Attribute::Resource { name, .. }) => resource_tensor(resources, name),
                _ => None,
            };
            if let Some(t) = t {
                self.record(f, data.results[0], t);
            }
            return;
        }
        if data.def.dialect() != "onnx" || is_quant_import(data.name()) {
            return;
        }
        let computed = match data.name() {
            "onnx.Shape" => shape_of(f, op).map(|t| vec![t]),
            "onnx.Size" => size_of(f, op).map(|t| vec![t]),
            _ => self.evaluate(f, op),
        };
        for (r, t) in data.results.clone().into_iter().zip(computed.unwrap_or_default()) {
            self.record(f, r, t);
        }
    }

    /// `eval` of an op whose operands are all known and whose results fit.
    fn evaluate(&self, f: &Function, op: Op) -> Option<Vec<Tensor>> {
        let data = &f.ops[op];
        let eval = data.def.eval?;
        let result_types: Vec<Type> = data.results.iter().map(|&r| f.value_type(r).clone()).collect();
        if !result_types.iter().all(|t| self.fits(t)) {
            return None;
        }
        let inputs: Vec<Tensor> = data.operands.iter().map(|&v| self.get(v).cloned()).collect::<Option<_>>()?;
        eval(&inputs, &data.attrs, &result_types).ok()
    }
}

/// ONNX `Shape` of an operand whose selected dims are static.
pub fn shape_of(f: &Function, op: Op) -> Option<Tensor> {
    let data = &f.ops[op];
    let t = f.value_type(*data.operands.first()?).as_tensor()?;
    let rank = t.rank() as i64;
    let clamp = |v: i64| (if v < 0 { v + rank } else { v }).clamp(0, rank) as usize;
    let start = clamp(data.attr("start").and_then(Attribute::as_int).unwrap_or(0));
    let end = clamp(data.attr("end").and_then(Attribute::as_int).unwrap_or(rank));
    let dims = t.dims.get(start..end.max(start))?;
    let values: Vec<i64> = dims.iter().map(|d| d.fixed().map(|n| n as i64)).collect::<Option<_>>()?;
    Some(i64_tensor(vec![values.len() as u64], values))
}

/// ONNX `Size` of an operand with a static shape.
pub fn size_of(f: &Function, op: Op) -> Option<Tensor> {
    let t = f.value_type(*f.ops[op].operands.first()?).as_tensor()?;
    let n = t.dims.iter().try_fold(1u64, |acc, d| match d {
        Dim::Fixed(n) => acc.checked_mul(*n),
        _ => None,
    })?;
    Some(i64_tensor(vec![], vec![i64::try_from(n).ok()?]))
}

fn i64_tensor(shape: Vec<u64>, values: Vec<i64>) -> Tensor {
    Tensor { elem: ElemType::I64, shape, data: TensorData::Int(values) }
}

/// The integers of a known integer tensor (bool counts as 0/1).
pub fn ints_of(t: &Tensor) -> Option<Vec<i64>> {
    (0..t.data.len())
        .map(|i| match t.data.get(i) {
            Scalar::Int(v) => Some(v),
            Scalar::Float(_) => None,
        })
        .collect()
}

/// The values of a known tensor as f64s.
pub fn floats_of(t: &Tensor) -> Vec<f64> {
    (0..t.data.len()).map(|i| weft_ir::ops::eval::as_f64(t.data.get(i))).collect()
}
