//! Translation of the compiled function's ops into the statements of the
//! top function: one block per op, in block order, each a loop nest (or an
//! engine call) reading its operands' places and writing its result's
//! arena region (packed integers, reused once dead: [`arena`]). [`nl`],
//! [`quant`] and [`nn`] hold the op families;
//! [`loops`] the loop nests; [`units`] the shared nonlinear units.
//!
//! Invariants: an op the backend cannot execute is a diagnostic at the op
//! ("op X has no engine in the HLS backend"), never a silent skip; every
//! op's C++ reproduces its `eval` bit for bit (spec/hls.md); values with
//! dynamic shapes are rejected (the top function's loops have constant
//! trip counts).

pub mod loops;
mod nl;
mod nn;
mod quant;
pub mod units;

use super::engines::{EngineUse, Tiling};
use super::storage::{arena, class_of, Class, Place, Storage};
use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use weft_ir::{Diagnostic, ElemType, Function, Module, Op, OpData, TensorType, Value};

/// The state of one translation.
pub struct Emitter<'a> {
    pub module: &'a Module,
    pub func: &'a Function,
    pub storage: Storage,
    pub units: units::Units,
    pub tiling: Tiling,
    /// Statements of the top function.
    pub body: String,
    /// File-scope tables the op blocks refer to (multipliers, offsets).
    pub statics: String,
    /// Constants read by an engine: always packed in weights.bin.
    engine_operands: HashSet<Value>,
    /// Engine calls made (for the report).
    pub engine_calls: Vec<String>,
    /// The engines called and the sizes of their tiles.
    pub engines: EngineUse,
    counter: usize,
    /// The position of each op in the body, the last position reading
    /// each value, and the position of the op being emitted.
    position: HashMap<Op, usize>,
    until: HashMap<Value, usize>,
    now: usize,
}

impl<'a> Emitter<'a> {
    pub fn new(module: &'a Module, func: &'a Function, tiling: Tiling) -> Emitter<'a> {
        let mut engine_operands = HashSet::new();
        for (_, data) in func.ops.iter() {
            if data.name() == "quant.qmatmul" {
                engine_operands.extend(data.operands.iter().skip(1).copied());
            }
        }
        let (position, until) = arena::lifetimes(func);
        Emitter {
            module,
            func,
            storage: Storage::new(tiling.word_bits),
            units: units::Units::default(),
            tiling,
            body: String::new(),
            statics: String::new(),
            engine_operands,
            engine_calls: Vec::new(),
            engines: EngineUse::default(),
            counter: 0,
            position,
            until,
            now: 0,
        }
    }

    /// Emits one op of the body (not the terminator).
    pub fn emit_op(&mut self, op: Op) -> Result<(), Diagnostic> {
        let data = &self.func.ops[op];
        self.now = self.position.get(&op).copied().unwrap_or(self.now);
        self.emit_inner(data).map_err(|e| op_error(data, e))
    }

    fn emit_inner(&mut self, data: &OpData) -> Result<(), String> {
        let name = data.name();
        if name == "builtin.constant" {
            return self.constant(data);
        }
        let _ = writeln!(self.body, "  // {} at {}", name, loc_text(data));
        if arena::is_alias(name) {
            let src = self.place(operand(data, 0)?)?.clone();
            self.storage.set(result(data)?, src);
            return Ok(());
        }
        let handled = if name.starts_with("nl.") {
            nl::emit(self, data)?
        } else if name.starts_with("quant.") {
            quant::emit(self, data)?
        } else {
            nn::emit(self, data)?
        };
        if handled {
            Ok(())
        } else {
            Err(format!("op {name} has no engine in the HLS backend"))
        }
    }

    fn constant(&mut self, data: &OpData) -> Result<(), String> {
        let v = result(data)?;
        let ty = self.func.value_type(v).clone();
        let t = weft_ir::interp::constant_value(self.module, data, &ty)?;
        let label = match data.attrs.get("value") {
            Some(weft_ir::attr::Attribute::Resource { name, .. }) => name.clone(),
            _ => loc_text(data),
        };
        let may_inline = !self.engine_operands.contains(&v);
        self.storage.constant(v, &t, &label, may_inline)
    }

    /// The place of a value already computed.
    pub fn place(&self, v: Value) -> Result<&Place, String> {
        self.storage.place(v).ok_or_else(|| "an operand has no storage (internal error)".to_string())
    }

    /// A C++ expression for element `idx` of `v`.
    pub fn read(&self, v: Value, idx: &str) -> Result<String, String> {
        Ok(self.place(v)?.read(idx))
    }

    /// The static shape and element type of `v`.
    pub fn tensor(&self, v: Value) -> Result<(Vec<u64>, &'a ElemType), String> {
        let t: &'a TensorType =
            self.func.value_type(v).as_tensor().ok_or_else(|| "operands and results must be tensors".to_string())?;
        let shape = t.static_shape().ok_or_else(|| {
            format!("{t} has a dynamic shape; bind the input shapes (--input-shape or the golden inputs)")
        })?;
        Ok((shape, &t.elem))
    }

    /// An arena region for the result of `data`, live until its last read.
    pub fn alloc_result(&mut self, data: &OpData) -> Result<(Place, Vec<u64>, &'a ElemType), String> {
        let v = result(data)?;
        let (shape, elem) = self.tensor(v)?;
        let n = shape.iter().product::<u64>();
        let until = self.until.get(&v).copied().unwrap_or(self.now);
        Ok((self.storage.alloc(v, elem, n, self.now, until)?, shape, elem))
    }

    /// A name unique in kernel.cpp for a table of the current op.
    pub fn fresh(&mut self, stem: &str) -> String {
        self.counter += 1;
        format!("{stem}{}", self.counter)
    }

    /// Appends one op's block to the top function.
    pub fn block(&mut self, code: &str) {
        self.body.push_str("  {\n");
        for line in code.lines() {
            let _ = writeln!(self.body, "    {line}");
        }
        self.body.push_str("  }\n");
    }

    /// The class of a value's elements.
    pub fn class(&self, v: Value) -> Result<Class, String> {
        class_of(self.tensor(v)?.1)
    }
}

pub fn operand(data: &OpData, i: usize) -> Result<Value, String> {
    data.operands.get(i).copied().ok_or_else(|| format!("operand #{i} is missing"))
}

pub fn result(data: &OpData) -> Result<Value, String> {
    match data.results.as_slice() {
        [v] => Ok(*v),
        _ => Err("must have exactly one result".to_string()),
    }
}

fn loc_text(data: &OpData) -> String {
    let text = data.loc.to_string();
    text.replace(['\n', '\r'], " ").replace("*/", "* /")
}

fn op_error(data: &OpData, message: impl std::fmt::Display) -> Diagnostic {
    Diagnostic::error(format!("'{}' op: {message}", data.name()), data.span).with_loc(data.loc.clone())
}

/// A C++ `long long` list.
pub fn ll_list(v: &[i64]) -> String {
    v.iter().map(|&x| super::text::i64_literal(x)).collect::<Vec<_>>().join(", ")
}

/// A required integer attribute.
pub fn int_attr(attrs: &weft_ir::Attrs, name: &str) -> Result<i64, String> {
    attrs.get(name).and_then(|a| a.as_int()).ok_or_else(|| format!("attribute '{name}' must be an integer"))
}

/// A required list-of-integers attribute.
pub fn ints_attr(attrs: &weft_ir::Attrs, name: &str) -> Result<Vec<i64>, String> {
    attrs.get(name).and_then(|a| a.as_ints()).ok_or_else(|| format!("attribute '{name}' must be a list of integers"))
}
