//! The stages of [`super::compile_observing`], after composite ops are
//! expanded:
//!
//! 1. [`Body::collect`]: the body's ops in order, its `return`, and the
//!    arguments checked to be holdable (static shapes, a storage);
//! 2. [`Layout::plan`] ([`layout`]): regions and fused values, constants
//!    materialized, and one arena place for every other value;
//! 3. [`Lowering::lower_ops`] ([`lowering`]): each op to a kernel,
//!    compiled in program order, fused producers spliced into their
//!    consumers, observed values noted after the kernel that computes
//!    them;
//! 4. [`Lowering::finish`]: the native code, the lane-constant pool, and
//!    the [`CompiledFunction`](super::CompiledFunction).
//!
//! Invariants: every error is the `Diagnostic` of the op (or function) it
//! is about; the first failing check stops compilation, and the checks
//! run in a fixed order (the body block, the arguments, the body's ops,
//! then op by op in program order through stages 2 and 3), so the error
//! reported for a function is deterministic.

mod layout;
mod lowering;

pub(super) use layout::Layout;
pub(super) use lowering::Lowering;

use super::plan::Place;
use super::storage::Storage;
use super::{bytes_of, func_error, op_error, Slot};
use weft_ir::interp::input_names;
use weft_ir::module::BlockData;
use weft_ir::ops::Trait;
use weft_ir::{Diagnostic, Function, OpData, Value};

/// The function being compiled (composites expanded): the ops of its
/// body and what a run reads and writes from outside.
pub(super) struct Body<'f> {
    pub func: &'f Function,
    /// The ops of the body in program order, without declarations and
    /// the final `return`.
    pub ops: Vec<&'f OpData>,
    /// The final `return`.
    pub ret: &'f OpData,
    /// The values the caller observes, in the order it gave them.
    pub observed: Vec<Value>,
    /// The arguments' external names.
    pub arg_names: Vec<String>,
    /// Each argument with the arena bytes it takes.
    pub args: Vec<(Value, u64)>,
}

impl<'f> Body<'f> {
    /// Checks that `func` has a body and holdable arguments, and collects
    /// the body's ops.
    pub fn collect(func: &'f Function, observed: Vec<Value>) -> Result<Body<'f>, Diagnostic> {
        let block = func.blocks.get(func.body).ok_or_else(|| func_error(func, "has no body block"))?;
        let arg_names = input_names(func);
        let args = argument_bytes(func, &arg_names)?;
        let (ops, ret) = body_ops(func, block)?;
        Ok(Body { func, ops, ret, observed, arg_names, args })
    }

    /// The values read from outside (returned, then observed): they stay
    /// in memory, not inside a region, not fused away.
    pub fn outside(&self) -> Vec<Value> {
        self.ret.operands.iter().chain(&self.observed).copied().collect()
    }
}

/// Each argument of `func` with the arena bytes it takes, or why the JIT
/// cannot hold it (at the function).
fn argument_bytes(func: &Function, names: &[String]) -> Result<Vec<(Value, u64)>, Diagnostic> {
    let argument = |(i, &arg): (usize, &Value)| {
        let what = format!("argument #{i} ('{}')", names.get(i).map_or("", String::as_str));
        let slot = value_slot(func, arg).map_err(|e| func_error(func, format!("{what} {e}")))?;
        Ok((arg, bytes_of(&slot)))
    };
    func.args().iter().enumerate().map(argument).collect()
}

/// The ops of the body in order, without the final `return`, and the return.
fn body_ops<'f>(func: &'f Function, body: &BlockData) -> Result<(Vec<&'f OpData>, &'f OpData), Diagnostic> {
    let mut ops = Vec::new();
    for &op in &body.ops {
        let data = func.ops.get(op).ok_or_else(|| func_error(func, "refers to a missing op"))?;
        if !data.regions.is_empty() {
            return Err(op_error(data, "ops with regions are not supported by the JIT; use --engine interp"));
        }
        if data.def.has_trait(Trait::Terminator) {
            return Ok((ops, data));
        }
        // Declarations (`hw.unit`, `hw.engine`: ops without results in a
        // dialect without side effects) compute nothing.
        if data.results.is_empty() {
            continue;
        }
        ops.push(data);
    }
    Err(func_error(func, "has no 'return' at the end of its body"))
}

/// The static type and storage of `v`, or why the JIT cannot hold it.
fn value_slot(func: &Function, v: Value) -> Result<Slot, String> {
    let ty = func.values.get(v).map(|d| d.ty.clone()).ok_or_else(|| format!("refers to a missing value {v}"))?;
    let Some(t) = ty.as_tensor() else { return Err(format!("has type {ty}, which is not a tensor type")) };
    let shape = t.static_shape().ok_or_else(|| {
        format!(
            "has type {ty} with a symbolic or dynamic dimension: the JIT needs static shapes \
(bind them when importing, e.g. --input-shape NAME=1x128), or use --engine interp"
        )
    })?;
    let st = Storage::of(&t.elem).ok_or_else(|| {
        format!("has element type {}, which the JIT does not support yet; use --engine interp", t.elem)
    })?;
    shape
        .iter()
        .try_fold(st.size(), |acc, &d| acc.checked_mul(d))
        .ok_or_else(|| format!("has type {ty}, too large"))?;
    Ok(Slot { place: Place { slot: 0, offset: 0 }, st, elem: t.elem.clone(), shape, ty })
}
