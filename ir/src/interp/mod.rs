//! The reference interpreter: runs one function of a module on concrete
//! tensors, op by op, with each op's reference semantics ([`OpDef::eval`]).
//! It is the slow, obviously correct engine the others are compared with.
//!
//! A run:
//! 1. checks the inputs against the argument types (element type, rank,
//!    static dimensions; a symbolic dimension such as `[batch]` is bound by
//!    the first tensor that shows it and must agree everywhere after, in
//!    inputs, intermediate results and outputs);
//! 2. walks the body in order: a constant yields its `dense<..>` value or
//!    its resource's data, any other op its `eval` on its operands and
//!    declared result types; each result is checked against its declared
//!    type;
//! 3. returns the operands of the terminating `return`.
//!
//! Invariants: a value is held only until its last use (use counts over the
//! body), and an operand at its last use is moved into the evaluation, not
//! copied, so memory stays bounded by the live values; the interpreter never
//! panics on a malformed function or bad inputs (an `eval` that panics is
//! reported as an internal error of that op); every error is a
//! [`Diagnostic`], located at the op (span and `loc`) when an op failed,
//! with the message prefixed by the op's name: `'onnx.Gather' op: index 7
//! is out of range for axis 0 of size 4`.
//!
//! Names: a function may carry its inputs' and outputs' external names in
//! the attributes [`INPUT_NAMES_ATTR`] and [`OUTPUT_NAMES_ATTR`] (arrays of
//! strings; the ONNX importer writes them); messages use them.

mod check;
#[cfg(test)]
mod tests;

pub use check::{check_storage, shape_text, DimBindings};

use crate::attr::Attribute;
use crate::module::{Function, Module, Op, OpData, Value};
use crate::ops::{OpDef, Trait};
use crate::tensor::Tensor;
use crate::types::Type;
use crate::Diagnostic;
use std::collections::HashMap;
use std::panic::{catch_unwind, AssertUnwindSafe};

/// Function attribute: the external names of the arguments, in order.
pub const INPUT_NAMES_ATTR: &str = "input_names";
/// Function attribute: the external names of the results, in order.
pub const OUTPUT_NAMES_ATTR: &str = "output_names";

/// What a [`RunOptions::on_op`] callback sees after each op ran.
pub struct OpEvent<'a> {
    pub op: Op,
    pub data: &'a OpData,
    pub operands: &'a [Tensor],
    pub results: &'a [Tensor],
    /// How many other tensors the interpreter holds at this point (values
    /// computed earlier and still to be used).
    pub live: usize,
}

/// Options of a run.
#[derive(Default)]
pub struct RunOptions<'a> {
    /// Called after every op (constants included) with its operands and
    /// results: tracing, or comparing intermediate values with another
    /// engine.
    pub on_op: Option<&'a mut dyn FnMut(&OpEvent)>,
}

/// Runs `func` (a function of `module`, which holds the resources its
/// constants use) on `inputs`; its results.
pub fn run_function(module: &Module, func: &Function, inputs: Vec<Tensor>) -> Result<Vec<Tensor>, Diagnostic> {
    run_function_with(module, func, inputs, RunOptions::default())
}

/// [`run_function`] with options.
pub fn run_function_with<'a>(
    module: &'a Module,
    func: &'a Function,
    inputs: Vec<Tensor>,
    options: RunOptions<'a>,
) -> Result<Vec<Tensor>, Diagnostic> {
    let mut frame = Frame::new(module, func, options)?;
    frame.bind_inputs(inputs)?;
    frame.run_body()
}

/// The external names of `func`'s arguments: [`INPUT_NAMES_ATTR`] when it
/// names each one, else `arg0`, `arg1`, ...
pub fn input_names(func: &Function) -> Vec<String> {
    names_attr(func, INPUT_NAMES_ATTR, func.args().len()).unwrap_or_else(|| numbered("arg", func.args().len()))
}

/// The external names of `func`'s results: [`OUTPUT_NAMES_ATTR`] when it
/// names each one, else `result0`, `result1`, ...
pub fn output_names(func: &Function) -> Vec<String> {
    names_attr(func, OUTPUT_NAMES_ATTR, func.results.len()).unwrap_or_else(|| numbered("result", func.results.len()))
}

fn names_attr(func: &Function, attr: &str, n: usize) -> Option<Vec<String>> {
    let Some(Attribute::Array(items)) = func.attrs.get(attr) else {
        return None;
    };
    let names: Vec<String> = items.iter().map(|a| a.as_str().map(str::to_string)).collect::<Option<_>>()?;
    (names.len() == n).then_some(names)
}

fn numbered(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}{i}")).collect()
}

/// The state of one run of one function.
struct Frame<'a> {
    module: &'a Module,
    func: &'a Function,
    options: RunOptions<'a>,
    body: &'a [Op],
    /// Computed values still to be used.
    values: HashMap<Value, Tensor>,
    /// Uses left per value (by body ops, the terminator included).
    remaining: HashMap<Value, u32>,
    dims: DimBindings,
}

impl<'a> Frame<'a> {
    fn new(module: &'a Module, func: &'a Function, options: RunOptions<'a>) -> Result<Frame<'a>, Diagnostic> {
        let body = func.blocks.get(func.body).ok_or_else(|| func_error(func, "has no body block"))?;
        let mut frame = Frame {
            module,
            func,
            options,
            body: &body.ops,
            values: HashMap::new(),
            remaining: HashMap::new(),
            dims: DimBindings::default(),
        };
        frame.count_uses()?;
        Ok(frame)
    }

    fn count_uses(&mut self) -> Result<(), Diagnostic> {
        for &op in self.body {
            let data = self.op_data(op)?;
            if !data.regions.is_empty() {
                return Err(op_error(data, "ops with regions are not supported by the interpreter"));
            }
            for &v in &data.operands {
                *self.remaining.entry(v).or_insert(0) += 1;
            }
        }
        Ok(())
    }

    fn op_data(&self, op: Op) -> Result<&'a OpData, Diagnostic> {
        self.func.ops.get(op).ok_or_else(|| func_error(self.func, format!("refers to a missing op {op}")))
    }

    /// Checks the inputs and makes them the values of the arguments.
    fn bind_inputs(&mut self, inputs: Vec<Tensor>) -> Result<(), Diagnostic> {
        let args = self.func.args();
        if inputs.len() != args.len() {
            let msg = format!("takes {} inputs, got {}", args.len(), inputs.len());
            return Err(func_error(self.func, msg).note(format!("inputs: {}", input_names(self.func).join(", "))));
        }
        let names = input_names(self.func);
        for (i, (&arg, t)) in args.iter().zip(inputs).enumerate() {
            let ty = self.value_type(arg)?;
            let what = format!("input #{i} ('{}') of '@{}'", names.get(i).map_or("", String::as_str), self.func.name);
            self.dims.check(ty, &t, &what).map_err(|e| plain_error(self.func, e))?;
            self.define(arg, t);
        }
        Ok(())
    }

    fn value_type(&self, v: Value) -> Result<&'a Type, Diagnostic> {
        let func = self.func;
        func.values.get(v).map(|d| &d.ty).ok_or_else(|| func_error(func, format!("refers to a missing value {v}")))
    }

    /// Holds `t` as the value of `v` if anything still uses it.
    fn define(&mut self, v: Value, t: Tensor) {
        if self.remaining.get(&v).copied().unwrap_or(0) > 0 {
            self.values.insert(v, t);
        }
    }

    fn run_body(&mut self) -> Result<Vec<Tensor>, Diagnostic> {
        for &op in self.body {
            let data = self.op_data(op)?;
            let operands = self.take_operands(data)?;
            if data.def.has_trait(Trait::Terminator) {
                return self.finish(data, operands);
            }
            let results = self.eval_op(data, &operands)?;
            self.check_results(data, &results)?;
            if let Some(on_op) = self.options.on_op.as_mut() {
                on_op(&OpEvent { op, data, operands: &operands, results: &results, live: self.values.len() });
            }
            drop(operands);
            for (&v, t) in data.results.iter().zip(results) {
                self.define(v, t);
            }
        }
        Err(func_error(self.func, "has no 'return' at the end of its body"))
    }

    /// The operand values of `data`: moved out at their last use, cloned
    /// otherwise.
    fn take_operands(&mut self, data: &OpData) -> Result<Vec<Tensor>, Diagnostic> {
        let mut out = Vec::with_capacity(data.operands.len());
        for &v in &data.operands {
            let left = self.remaining.entry(v).or_insert(0);
            *left = left.saturating_sub(1);
            let last_use = *left == 0;
            let t = if last_use { self.values.remove(&v) } else { self.values.get(&v).cloned() };
            out.push(t.ok_or_else(|| op_error(data, format!("operand {v} is used before it is defined")))?);
        }
        Ok(out)
    }

    /// The results of one op.
    fn eval_op(&self, data: &OpData, operands: &[Tensor]) -> Result<Vec<Tensor>, Diagnostic> {
        let def: &OpDef = data.def;
        if def.has_trait(Trait::ConstantLike) && def.eval.is_none() {
            let ty = match data.results.first() {
                Some(&v) => self.value_type(v)?,
                None => return Err(op_error(data, "a constant must have one result")),
            };
            return constant_value(self.module, data, ty).map(|t| vec![t]).map_err(|e| op_error(data, e));
        }
        let Some(eval) = def.eval else {
            return Err(op_error(data, "has no reference semantics (no eval), so the interpreter cannot run it"));
        };
        let types = data.results.iter().map(|&v| self.value_type(v).cloned()).collect::<Result<Vec<Type>, _>>()?;
        match catch_unwind(AssertUnwindSafe(|| eval(operands, &data.attrs, &types))) {
            Ok(Ok(results)) => Ok(results),
            Ok(Err(msg)) => Err(op_error(data, msg)),
            Err(panic) => Err(op_error(data, format!("internal error: eval panicked: {}", panic_message(&*panic)))),
        }
    }

    fn check_results(&mut self, data: &OpData, results: &[Tensor]) -> Result<(), Diagnostic> {
        if results.len() != data.results.len() {
            let msg = format!("eval gave {} results, but the op has {}", results.len(), data.results.len());
            return Err(op_error(data, msg));
        }
        for (i, (&v, t)) in data.results.iter().zip(results).enumerate() {
            let ty = self.value_type(v)?;
            self.dims.check(ty, t, &format!("result #{i}")).map_err(|e| op_error(data, e))?;
        }
        Ok(())
    }

    /// Checks the returned values against the function's result types.
    fn finish(&mut self, ret: &OpData, outputs: Vec<Tensor>) -> Result<Vec<Tensor>, Diagnostic> {
        let func = self.func;
        if outputs.len() != func.results.len() {
            let msg = format!("returns {} values, but the function has {} results", outputs.len(), func.results.len());
            return Err(op_error(ret, msg));
        }
        let names = output_names(func);
        for (i, (t, ty)) in outputs.iter().zip(&func.results).enumerate() {
            let what = format!("output #{i} ('{}')", names.get(i).map_or("", String::as_str));
            self.dims.check(ty, t, &what).map_err(|e| op_error(ret, e))?;
        }
        Ok(outputs)
    }
}

/// The value of a constant: its `dense<..>` data, or its resource's data
/// read with the declared element type.
pub fn constant_value(module: &Module, data: &OpData, ty: &Type) -> Result<Tensor, String> {
    match data.attrs.get("value") {
        Some(Attribute::Dense(d)) => {
            d.to_tensor().ok_or_else(|| format!("the constant {} is too large to materialize", d.ty))
        }
        Some(Attribute::Resource { name, ty: declared }) => {
            let r = module.resources.get(name).ok_or_else(|| format!("unknown resource '{name}'"))?;
            if !r.fits(declared) {
                return Err(format!("resource '{name}' holds {}, but {declared} is declared", r.ty()));
            }
            let mut t = r.to_tensor();
            t.elem = declared.elem.clone();
            Ok(t)
        }
        _ => Err(format!("a constant of type {ty} needs a 'value' attribute holding a tensor")),
    }
}

/// `'dialect.op' op: message`, at the op's span and location.
fn op_error(data: &OpData, message: impl std::fmt::Display) -> Diagnostic {
    Diagnostic::error(format!("'{}' op: {message}", data.name()), data.span).with_loc(data.loc.clone())
}

/// A message about `func`, at the function.
fn plain_error(func: &Function, message: String) -> Diagnostic {
    Diagnostic::error(message, func.span).with_loc(func.loc.clone())
}

/// `function '@f' message`, at the function.
fn func_error(func: &Function, message: impl std::fmt::Display) -> Diagnostic {
    Diagnostic::error(format!("function '@{}' {message}", func.name), func.span).with_loc(func.loc.clone())
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(no message)".to_string())
}
