//! The importer's state while it builds the function: ONNX value names to
//! IR values, the values known at import time, type hints from the model,
//! and [`Importer::emit`], the one place ops are created.
//!
//! Invariants: every op is created by `emit` (or `constant` for
//! `builtin.constant`) with its arity and attributes checked against its
//! declaration and result types from its own shape inference (`infer`),
//! refined only where inference left a dimension unknown; a value in
//! `known` has the static type of its dense value, so shape inference of
//! its users may read it through `OpInfo::constants`. Initializers become
//! constants on first use, so unused ones cost nothing.

use super::known::{known_results, KNOWN_LIMIT};
use super::types::{check_size, refine};
use super::ImportOptions;
use crate::onnx::proto::TensorProto;
use crate::onnx::{payload_to_tensor, OnnxModel, TensorPayload};
use std::collections::{HashMap, HashSet};
use std::panic::{catch_unwind, AssertUnwindSafe};
use weft_ir::ops::{Arity, OpInfo};
use weft_ir::resources::{Resource, Resources};
use weft_ir::{Attribute, Attrs, Context, DenseAttr, Function, Location, NewOp, OpDef, Span, TensorType, Type, Value};

/// The state of one import.
pub struct Importer<'a> {
    pub ctx: &'a Context,
    pub model: &'a OnnxModel,
    pub opts: &'a ImportOptions,
    /// The model file's name, for messages.
    pub file: String,
    /// The opset of the default domain.
    pub opset: i64,
    pub func: Function,
    pub resources: Resources,
    values: HashMap<String, Value>,
    initializers: HashMap<&'a str, &'a TensorProto>,
    known: HashMap<Value, DenseAttr>,
    /// Types the model states for values (value_info, graph outputs), with
    /// bound symbols substituted.
    hints: HashMap<String, TensorType>,
    /// Symbolic dimensions of the function's arguments.
    symbols: HashSet<String>,
}

impl<'a> Importer<'a> {
    pub fn new(ctx: &'a Context, model: &'a OnnxModel, opts: &'a ImportOptions, opset: i64) -> Importer<'a> {
        let initializers =
            model.model.graph.iter().flat_map(|g| &g.initializer).map(|t| (t.name.as_str(), t)).collect();
        Importer {
            ctx,
            model,
            opts,
            file: model.path.display().to_string(),
            opset,
            func: Function::new("main", Vec::new(), Vec::new()),
            resources: Resources::new(),
            values: HashMap::new(),
            initializers,
            known: HashMap::new(),
            hints: HashMap::new(),
            symbols: HashSet::new(),
        }
    }

    pub fn is_initializer(&self, name: &str) -> bool {
        self.initializers.contains_key(name)
    }

    /// Adds a function argument for the graph input `name`.
    pub fn add_input(&mut self, name: &str, ty: TensorType) {
        for d in &ty.dims {
            if let weft_ir::Dim::Sym(s) = d {
                self.symbols.insert(s.clone());
            }
        }
        let v = self.func.add_block_arg(self.func.body, Type::Tensor(ty), Span::NONE);
        self.values.insert(name.to_string(), v);
    }

    pub fn add_hint(&mut self, name: &str, ty: TensorType) {
        self.hints.insert(name.to_string(), ty);
    }

    pub fn hint(&self, name: &str) -> Option<&TensorType> {
        self.hints.get(name)
    }

    /// Makes `name` refer to `v`.
    pub fn bind(&mut self, name: &str, v: Value) {
        self.values.insert(name.to_string(), v);
    }

    /// The value called `name`, materializing an initializer on first use.
    pub fn value(&mut self, name: &str) -> Result<Value, String> {
        if let Some(&v) = self.values.get(name) {
            return Ok(v);
        }
        let Some(&t) = self.initializers.get(name) else {
            return Err(format!("no value is called '{name}'"));
        };
        let payload = self.model.tensor_payload(t).map_err(|e| format!("initializer '{name}': {e}"))?;
        let v = self.tensor_constant(name, &payload, Location::Name(name.to_string()))?;
        self.values.insert(name.to_string(), v);
        Ok(v)
    }

    /// The tensor type of `v` (every value the importer makes has one).
    pub fn ty(&self, v: Value) -> Result<&TensorType, String> {
        self.func.values.get(v).and_then(|d| d.ty.as_tensor()).ok_or_else(|| format!("value {v} is not a tensor"))
    }

    /// The value of `v` when it is known at import time.
    pub fn known(&self, v: Value) -> Option<&DenseAttr> {
        self.known.get(&v)
    }

    /// A constant of tensor data from the model: inline when it has at
    /// most `inline_limit` elements, else a resource called `name`.
    pub fn tensor_constant(&mut self, name: &str, p: &TensorPayload, loc: Location) -> Result<Value, String> {
        let numel: u64 = p.shape.iter().product();
        if numel <= self.opts.inline_limit {
            return self.constant(DenseAttr::from_tensor(payload_to_tensor(p)), loc);
        }
        let resource = Resource::new(p.elem.clone(), p.shape.clone(), p.data.clone())
            .map_err(|e| format!("tensor '{name}': {e}"))?;
        let name = self.unique_resource_name(name);
        let ty = resource.ty();
        self.resources.insert(name.clone(), resource);
        let v = self.emit_constant(Attribute::Resource { name, ty: ty.clone() }, ty, loc)?;
        // Small data stays known to shape inference, inline or not.
        if numel <= KNOWN_LIMIT {
            self.known.insert(v, DenseAttr::from_tensor(payload_to_tensor(p)));
        }
        Ok(v)
    }

    fn unique_resource_name(&self, name: &str) -> String {
        let base = if name.is_empty() { "constant" } else { name };
        let mut candidate = base.to_string();
        let mut n = 1;
        while self.resources.get(&candidate).is_some() {
            candidate = format!("{base}.{n}");
            n += 1;
        }
        candidate
    }

    /// An inline constant; its value is known.
    pub fn constant(&mut self, value: DenseAttr, loc: Location) -> Result<Value, String> {
        let ty = value.ty.clone();
        let v = self.emit_constant(Attribute::Dense(value.clone()), ty, loc)?;
        self.known.insert(v, value);
        Ok(v)
    }

    fn emit_constant(&mut self, value: Attribute, ty: TensorType, loc: Location) -> Result<Value, String> {
        let def = self.lookup("builtin.constant")?;
        let spec = NewOp::new(def, Vec::new(), vec![Type::Tensor(ty)]).attr("value", value);
        let op = self.func.append_op(self.func.body, NewOp { loc, ..spec });
        self.func.ops[op].results.first().copied().ok_or_else(|| "a constant without a result".to_string())
    }

    fn lookup(&self, op: &str) -> Result<&'static OpDef, String> {
        self.ctx.lookup(op).ok_or_else(|| format!("the context has no op '{op}' (is its dialect registered?)"))
    }

    /// Creates op `op` with `operands` and `attrs`, `n_results` results
    /// (fewer than the op declares are fine when its results are fixed)
    /// typed by shape inference and refined by `hints`.
    pub fn emit(
        &mut self,
        op: &str,
        operands: Vec<Value>,
        attrs: Attrs,
        n_results: usize,
        hints: &[Option<TensorType>],
        loc: Location,
    ) -> Result<Vec<Value>, String> {
        let def = self.lookup(op)?;
        if !def.operands.accepts(operands.len()) {
            return Err(format!("'{op}' takes {} inputs, got {}", def.operands.describe(), operands.len()));
        }
        check_attrs(def, &attrs)?;
        let count = result_count(def, n_results)?;
        let types = self.infer(def, &operands, &attrs, count)?;
        let types: Vec<TensorType> = types
            .iter()
            .enumerate()
            .map(|(i, t)| match hints.get(i).and_then(Option::as_ref) {
                Some(h) => refine(t, h, |s| self.symbols.contains(s)),
                None => t.clone(),
            })
            .collect();
        for t in &types {
            check_size(t)?;
        }
        let known = known_results(self, def, &operands, &attrs, &types);
        let result_types = types.into_iter().map(Type::Tensor).collect();
        let spec = NewOp { def, operands, result_types, attrs, loc, span: Span::NONE };
        let op = self.func.append_op(self.func.body, spec);
        let results = self.func.ops[op].results.clone();
        for (&v, k) in results.iter().zip(known) {
            if let Some(k) = k {
                self.known.insert(v, k);
            }
        }
        Ok(results)
    }

    /// The result types shape inference gives, `count` of them.
    fn infer(&self, def: &OpDef, operands: &[Value], attrs: &Attrs, count: usize) -> Result<Vec<TensorType>, String> {
        let Some(infer) = def.infer else {
            return Err(format!("'{}' has no shape inference, so weft cannot type its results", def.name));
        };
        let types: Vec<&Type> = operands.iter().map(|&v| &self.func.values[v].ty).collect();
        let constants: Vec<Option<&DenseAttr>> = operands.iter().map(|&v| self.known.get(&v)).collect();
        let info = OpInfo { operand_types: &types, attrs, constants: &constants };
        let inferred = match catch_unwind(AssertUnwindSafe(|| infer(&info))) {
            Ok(r) => r?,
            Err(_) => return Err(format!("internal error: shape inference of '{}' panicked", def.name)),
        };
        if inferred.len() < count {
            return Err(format!(
                "shape inference of '{}' gives {} results, expected {count}",
                def.name,
                inferred.len()
            ));
        }
        inferred
            .into_iter()
            .take(count)
            .map(|t| match t {
                Type::Tensor(t) => Ok(t),
                other => Err(format!("shape inference of '{}' gives {other}, not a tensor", def.name)),
            })
            .collect()
    }
}

/// How many results an op gets for a node with `n` outputs.
fn result_count(def: &OpDef, n: usize) -> Result<usize, String> {
    match def.results {
        Arity::Fixed(names) if n <= names.len() => Ok(names.len()),
        Arity::Fixed(names) => Err(format!("has {n} outputs, but '{}' has {}", def.name, names.len())),
        Arity::Variadic { min, .. } => Ok(n.max(min)),
    }
}

/// The attributes must be ones the op declares, of the declared kinds,
/// and include the required ones.
fn check_attrs(def: &OpDef, attrs: &Attrs) -> Result<(), String> {
    for (name, value) in attrs {
        let Some(spec) = def.attr_spec(name) else {
            let known: Vec<&str> = def.attrs.iter().map(|s| s.name).collect();
            let takes = if known.is_empty() { "none".to_string() } else { known.join(", ") };
            return Err(format!("attribute '{name}' is not supported by '{}' (it takes: {takes})", def.name));
        };
        if !spec.kind.accepts(value) {
            return Err(format!("attribute '{name}' must be {}, got {}", spec.kind.describe(), value.kind_name()));
        }
    }
    match def.attrs.iter().find(|s| s.required && !attrs.contains_key(s.name)) {
        Some(spec) => Err(format!("attribute '{}' is required ({})", spec.name, spec.doc)),
        None => Ok(()),
    }
}
