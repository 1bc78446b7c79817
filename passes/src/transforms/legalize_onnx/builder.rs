//! The rewriter the legalization rules build with: it reads the onnx op
//! being replaced (operands, attributes with ONNX defaults, compile-time
//! values) and creates nn ops and constants whose result types come from
//! the nn ops' own shape inference.
//!
//! Invariants: created ops are not yet in a block (the pass places them
//! before the op they replace, in creation order) and carry that op's
//! location and span; a created op's result type is exactly what its
//! `infer` gives, so everything built here verifies by construction.

use super::known::{ints_of, Known};
use super::LegalizeError;
use weft_ir::ops::{builtin, OpDef, OpInfo};
use weft_ir::tensor::Scalar;
use weft_ir::{
    Attribute, Attrs, DenseAttr, ElemType, Function, NewOp, Op, OpData, Tensor, TensorData, TensorType, Type, Value,
};

/// Builds the replacement of one onnx op.
pub struct Rewriter<'a> {
    f: &'a mut Function,
    known: &'a Known,
    op: Op,
    /// The ops created so far, in order.
    pub created: Vec<Op>,
}

/// The result of a rule: the value replacing each result of the onnx op
/// (results beyond the list must be unused).
pub type Replacement = Result<Vec<Value>, LegalizeError>;

impl<'a> Rewriter<'a> {
    pub fn new(f: &'a mut Function, known: &'a Known, op: Op) -> Rewriter<'a> {
        Rewriter { f, known, op, created: Vec::new() }
    }

    fn data(&self) -> &OpData {
        &self.f.ops[self.op]
    }

    /// The onnx op's name without the dialect, e.g. `Reshape`.
    pub fn op_type(&self) -> &'static str {
        let name = self.data().name();
        name.split_once('.').map_or(name, |(_, t)| t)
    }

    /// Operand `i`, or an error naming it.
    pub fn operand(&self, i: usize) -> Result<Value, LegalizeError> {
        self.data().operands.get(i).copied().ok_or_else(|| LegalizeError::new(format!("operand #{i} is missing")))
    }

    /// Operand `i` when present.
    pub fn optional(&self, i: usize) -> Option<Value> {
        self.data().operands.get(i).copied()
    }

    pub fn num_operands(&self) -> usize {
        self.data().operands.len()
    }

    pub fn operands(&self) -> Vec<Value> {
        self.data().operands.clone()
    }

    /// The tensor type of `v`.
    pub fn ty(&self, v: Value) -> TensorType {
        match self.f.value_type(v) {
            Type::Tensor(t) => t.clone(),
            Type::Elem(e) => TensorType::new(Vec::new(), e.clone()),
        }
    }

    pub fn elem(&self, v: Value) -> ElemType {
        self.ty(v).elem
    }

    /// The static shape of `v`; an error pointing at `--input-shape`.
    pub fn shape(&self, v: Value) -> Result<Vec<u64>, LegalizeError> {
        let t = self.ty(v);
        t.static_shape()
            .ok_or_else(|| LegalizeError::new(format!("needs operands of static shape, got {t}")).with_note(SHAPE_HINT))
    }

    pub fn rank(&self, v: Value) -> usize {
        self.ty(v).rank()
    }

    /// The type of result `i` of the onnx op.
    pub fn result_type(&self, i: usize) -> Option<TensorType> {
        self.data().results.get(i).map(|&r| self.ty(r))
    }

    /// Result `i` of the onnx op.
    pub fn result_value(&self, i: usize) -> Option<Value> {
        self.data().results.get(i).copied()
    }

    pub fn num_results(&self) -> usize {
        self.data().results.len()
    }

    /// The compile-time value of `v`, if known: a recorded value, or an
    /// inline constant of any size (read only when asked for).
    pub fn known(&self, v: Value) -> Option<Tensor> {
        match self.known.get(v) {
            Some(t) => Some(t.clone()),
            None => self.f.dense_constant(v).and_then(|d| d.to_tensor()),
        }
    }

    /// The integers of operand `i`, which must be a compile-time constant.
    pub fn const_ints(&self, i: usize, what: &str) -> Result<Vec<i64>, LegalizeError> {
        let v = self.operand(i)?;
        let t = self.known(v).ok_or_else(|| not_constant(what))?;
        ints_of(&t).ok_or_else(|| LegalizeError::new(format!("the '{what}' operand must hold integers")))
    }

    /// Optional operand `i` as constant integers (`None` when absent).
    pub fn opt_const_ints(&self, i: usize, what: &str) -> Result<Option<Vec<i64>>, LegalizeError> {
        match self.optional(i) {
            None => Ok(None),
            Some(_) => self.const_ints(i, what).map(Some),
        }
    }

    /// The value of the onnx op when it is `onnx.Shape` of static dims.
    pub fn shape_value(&self) -> Option<Tensor> {
        super::known::shape_of(self.f, self.op)
    }

    /// The value of the onnx op when it is `onnx.Size` of a static shape.
    pub fn size_value(&self) -> Option<Tensor> {
        super::known::size_of(self.f, self.op)
    }

    /// The onnx op's own reference semantics on its operands, which must all
    /// be compile-time values; the results must match the declared types.
    pub fn evaluate(&self) -> Result<Vec<Tensor>, LegalizeError> {
        let data = self.data();
        let eval = data.def.eval.ok_or_else(|| LegalizeError::internal("the op has no reference semantics"))?;
        let inputs: Vec<Tensor> = data
            .operands
            .iter()
            .map(|&v| self.known(v))
            .collect::<Option<_>>()
            .ok_or_else(|| LegalizeError::internal("an operand is not a compile-time value"))?;
        let types: Vec<Type> = data.results.iter().map(|&r| self.f.value_type(r).clone()).collect();
        let out = eval(&inputs, &data.attrs, &types).map_err(LegalizeError::new)?;
        for (t, ty) in out.iter().zip(&types) {
            if Type::Tensor(t.ty()) != *ty {
                return Err(LegalizeError::new(format!("computes {}, but the result is declared {ty}", t.ty())));
            }
        }
        Ok(out)
    }

    pub fn attr(&self, name: &str) -> Option<&Attribute> {
        self.data().attrs.get(name)
    }

    /// An integer attribute with ONNX's default.
    pub fn attr_int(&self, name: &str, default: i64) -> i64 {
        self.attr(name).and_then(Attribute::as_int).unwrap_or(default)
    }

    /// A float attribute with ONNX's default.
    pub fn attr_float(&self, name: &str, default: f64) -> f64 {
        self.attr(name).and_then(Attribute::as_float).unwrap_or(default)
    }

    /// A string attribute with ONNX's default.
    pub fn attr_str(&self, name: &str, default: &'static str) -> String {
        self.attr(name).and_then(Attribute::as_str).unwrap_or(default).to_string()
    }

    /// An integer-list attribute.
    pub fn attr_ints(&self, name: &str) -> Option<Vec<i64>> {
        self.attr(name).and_then(Attribute::as_ints)
    }

    /// Creates `def` on `operands`; the result type comes from its `infer`.
    pub fn build(&mut self, def: &'static OpDef, operands: &[Value], attrs: Attrs) -> Result<Value, LegalizeError> {
        let types: Vec<Type> = operands.iter().map(|&v| self.f.value_type(v).clone()).collect();
        let refs: Vec<&Type> = types.iter().collect();
        let infer =
            def.infer.ok_or_else(|| LegalizeError::internal(format!("'{}' has no shape inference", def.name)))?;
        let mut results = infer(&OpInfo::new(&refs, &attrs))
            .map_err(|e| LegalizeError::internal(format!("building '{}': {e}", def.name)))?;
        if results.len() != 1 {
            return Err(LegalizeError::internal(format!("'{}' does not have one result", def.name)));
        }
        let spec = NewOp { attrs, ..NewOp::new(def, operands.to_vec(), vec![results.remove(0)]) }.at(self.data());
        Ok(self.push(spec))
    }

    /// Creates `def` (an op whose result type is declared, such as the
    /// quant ops) on `operands` with the result type `result`, checked by
    /// the op's own `verify_results` hook.
    pub fn build_typed(
        &mut self,
        def: &'static OpDef,
        operands: &[Value],
        result: TensorType,
        attrs: Attrs,
    ) -> Result<Value, LegalizeError> {
        let types: Vec<Type> = operands.iter().map(|&v| self.f.value_type(v).clone()).collect();
        let refs: Vec<&Type> = types.iter().collect();
        let result = Type::Tensor(result);
        if let Some(check) = def.verify_results {
            check(&OpInfo::new(&refs, &attrs), &[&result]).map_err(LegalizeError::new)?;
        }
        let spec = NewOp { attrs, ..NewOp::new(def, operands.to_vec(), vec![result]) }.at(self.data());
        Ok(self.push(spec))
    }

    fn push(&mut self, spec: NewOp) -> Value {
        let block = self.data().block;
        let op = self.f.create_op(spec);
        self.f.ops[op].block = block;
        self.created.push(op);
        self.f.ops[op].results[0]
    }

    /// A `builtin.constant` holding `t` (inline; a splat when uniform).
    pub fn constant(&mut self, t: Tensor) -> Value {
        let ty = Type::Tensor(t.ty());
        let spec = NewOp::new(&builtin::CONSTANT, vec![], vec![ty])
            .attr("value", Attribute::Dense(DenseAttr::from_tensor(t)))
            .at(self.data());
        self.push(spec)
    }

    /// A constant of `shape` with every element `value`, without
    /// materializing the elements.
    pub fn splat(&mut self, shape: &[u64], elem: &ElemType, value: Scalar) -> Value {
        let mut data = TensorData::empty_for(elem, 1);
        data.push(weft_ir::ops::eval::to_elem(elem, value));
        let ty = TensorType::fixed(shape, elem.clone());
        let dense = DenseAttr { ty: ty.clone(), data };
        let spec = NewOp::new(&builtin::CONSTANT, vec![], vec![Type::Tensor(ty)])
            .attr("value", Attribute::Dense(dense))
            .at(self.data());
        self.push(spec)
    }

    /// A rank-0 constant of `elem` (floats rounded to it).
    pub fn scalar(&mut self, elem: &ElemType, value: f64) -> Value {
        let s = if elem.is_float() {
            Scalar::Float(weft_ir::ops::eval::round_to(elem, value))
        } else {
            Scalar::Int(value as i64)
        };
        self.splat(&[], elem, s)
    }

    /// `v` reshaped to `shape` (no op when it has that shape).
    pub fn reshape(&mut self, v: Value, shape: &[u64]) -> Result<Value, LegalizeError> {
        if self.ty(v).static_shape().as_deref() == Some(shape) {
            return Ok(v);
        }
        self.build(&weft_ir::ops::nn::RESHAPE, &[v], attrs(&[("shape", ints(shape))]))
    }

    /// `v` transposed by `perm` (no op for the identity).
    pub fn transpose(&mut self, v: Value, perm: &[usize]) -> Result<Value, LegalizeError> {
        if perm.iter().enumerate().all(|(i, &p)| i == p) {
            return Ok(v);
        }
        let perm: Vec<u64> = perm.iter().map(|&p| p as u64).collect();
        self.build(&weft_ir::ops::nn::TRANSPOSE, &[v], attrs(&[("perm", ints(&perm))]))
    }

    /// `v` converted to `elem` (no op when it has that element type).
    pub fn cast(&mut self, v: Value, elem: &ElemType) -> Result<Value, LegalizeError> {
        if self.elem(v) == *elem {
            return Ok(v);
        }
        self.build(&weft_ir::ops::nn::CAST, &[v], attrs(&[("to", Attribute::Type(Type::Elem(elem.clone())))]))
    }

    /// An elementwise binary op.
    pub fn binary(&mut self, def: &'static OpDef, a: Value, b: Value) -> Result<Value, LegalizeError> {
        self.build(def, &[a, b], Attrs::new())
    }

    /// An elementwise unary op.
    pub fn unary(&mut self, def: &'static OpDef, a: Value) -> Result<Value, LegalizeError> {
        self.build(def, &[a], Attrs::new())
    }
}

/// The note on errors about shapes that are not compile-time values.
pub const SHAPE_HINT: &str = "bind the model's input shapes at import (`weft import model.onnx \
--input-shape NAME=DIMS`) so that shapes and shape computations are compile-time constants";

/// "the 'shape' operand is not a compile-time constant".
pub fn not_constant(what: &str) -> LegalizeError {
    LegalizeError::new(format!("the '{what}' operand is not a compile-time constant")).with_note(SHAPE_HINT)
}

/// An attribute dictionary from `(name, value)` pairs.
pub fn attrs(entries: &[(&str, Attribute)]) -> Attrs {
    entries.iter().map(|(k, v)| (k.to_string(), v.clone())).collect()
}

/// An integer-list attribute.
pub fn ints<T: Copy + TryInto<i64>>(v: &[T]) -> Attribute {
    Attribute::Array(v.iter().map(|&x| Attribute::Int(x.try_into().unwrap_or(i64::MAX))).collect())
}

/// A float-list attribute.
pub fn floats(v: &[f64]) -> Attribute {
    Attribute::Array(v.iter().map(|&x| Attribute::Float(x)).collect())
}

/// Resolves an ONNX axis (negative counts from the end) against `rank`.
pub fn axis(a: i64, rank: usize) -> Result<usize, LegalizeError> {
    weft_ir::ops::shape::normalize_axis(a, rank).map_err(LegalizeError::new)
}
