//! One node being imported: what an op builder (see [`super::registry`])
//! sees and calls: the node's inputs as values, its attributes as weft
//! attributes, the model's opset, and ways to add constants and ops.
//!
//! Invariants: `inputs[i]` is `None` exactly when the node leaves input `i`
//! empty (an omitted optional input), trailing empty inputs included; the
//! node's outputs are bound to values only by [`NodeCx::finish`], once.

use super::builder::Importer;
use crate::onnx::proto::NodeProto;
use weft_ir::{Attribute, Attrs, DenseAttr, ElemType, Location, Tensor, TensorData, TensorType, Value};

pub struct NodeCx<'i, 'a> {
    pub imp: &'i mut Importer<'a>,
    pub node: &'a NodeProto,
    pub loc: Location,
    pub inputs: Vec<Option<Value>>,
    /// The node's attributes; builders take the ones they rewrite.
    pub attrs: Attrs,
}

impl<'i, 'a> NodeCx<'i, 'a> {
    pub fn opset(&self) -> i64 {
        self.imp.opset
    }

    pub fn op_type(&self) -> &'a str {
        &self.node.op_type
    }

    /// Input `i`, if the node gives it.
    pub fn input(&self, i: usize) -> Option<Value> {
        self.inputs.get(i).copied().flatten()
    }

    /// Input `i`, which the op requires.
    pub fn required(&self, i: usize) -> Result<Value, String> {
        self.input(i).ok_or_else(|| format!("input #{i} is required"))
    }

    pub fn ty(&self, v: Value) -> Result<&TensorType, String> {
        self.imp.ty(v)
    }

    /// Removes and returns attribute `name`.
    pub fn take_attr(&mut self, name: &str) -> Option<Attribute> {
        self.attrs.remove(name)
    }

    /// Removes attribute `name`, which must be a list of integers.
    pub fn take_ints(&mut self, name: &str) -> Result<Option<Vec<i64>>, String> {
        match self.take_attr(name) {
            None => Ok(None),
            Some(a) => a.as_ints().map(Some).ok_or_else(|| format!("attribute '{name}' must be a list of integers")),
        }
    }

    /// An inline constant.
    pub fn constant(&mut self, t: Tensor) -> Result<Value, String> {
        self.imp.constant(DenseAttr::from_tensor(t), self.loc.clone())
    }

    /// A 1-D `i64` constant.
    pub fn const_i64s(&mut self, values: &[i64]) -> Result<Value, String> {
        let t =
            Tensor { elem: ElemType::I64, shape: vec![values.len() as u64], data: TensorData::Int(values.to_vec()) };
        self.constant(t)
    }

    /// The node's inputs as operands: trailing omitted ones dropped; an
    /// omitted one before a present one is an error (builders that know a
    /// default fill it in first).
    pub fn operands(&self) -> Result<Vec<Value>, String> {
        let present = self.inputs.iter().rposition(Option::is_some).map_or(0, |i| i + 1);
        self.inputs[..present]
            .iter()
            .enumerate()
            .map(|(i, v)| {
                v.ok_or_else(|| {
                    format!(
                        "optional input #{i} is omitted before a present one, which weft does not support for {}",
                        self.node.op_type
                    )
                })
            })
            .collect()
    }

    /// An intermediate op of a composition (its results are no node's
    /// outputs).
    pub fn emit(&mut self, op: &str, operands: Vec<Value>, attrs: Attrs) -> Result<Value, String> {
        let results = self.imp.emit(op, operands, attrs, 1, &[], self.loc.clone())?;
        results.first().copied().ok_or_else(|| format!("'{op}' has no result"))
    }

    /// The op that computes the node's outputs, with the node's remaining
    /// attributes; binds the outputs.
    pub fn finish(&mut self, op: &str, operands: Vec<Value>) -> Result<(), String> {
        let attrs = std::mem::take(&mut self.attrs);
        self.finish_with(op, operands, attrs)
    }

    /// Like [`NodeCx::finish`] with explicit attributes.
    pub fn finish_with(&mut self, op: &str, operands: Vec<Value>, attrs: Attrs) -> Result<(), String> {
        let outputs = &self.node.output;
        let n = outputs.iter().rposition(|o| !o.is_empty()).map_or(0, |i| i + 1);
        let hints: Vec<Option<TensorType>> = outputs[..n].iter().map(|o| self.imp.hint(o).cloned()).collect();
        let results = self.imp.emit(op, operands, attrs, n, &hints, self.loc.clone())?;
        self.bind_outputs(&results)
    }

    /// Binds the node's outputs to `values`, in order.
    pub fn bind_outputs(&mut self, values: &[Value]) -> Result<(), String> {
        for (i, name) in self.node.output.iter().enumerate().filter(|(_, o)| !o.is_empty()) {
            let v = values.get(i).copied().ok_or_else(|| format!("output #{i} ('{name}') is not computed"))?;
            self.imp.bind(name, v);
        }
        Ok(())
    }
}
