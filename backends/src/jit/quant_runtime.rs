//! Kernels written in Rust that the generated code calls: a
//! [`RuntimeCall`] owns one op's run-time state ([`RuntimeOp`]) and the
//! generated code calls [`runtime_call`] with its address and the run's
//! buffer table. Used by the integer matmul (`lower_qgemm`) and by the
//! quant nonlinear ops that run their reference `eval` ([`EvalUnit`]:
//! bit-identical with the interpreter by construction).
//!
//! Invariants: a call is owned (behind an `Arc`) by the kernel description
//! the compiled function keeps, so the address compiled into the code
//! lives as long as the code; a runtime op reads and writes only the
//! places lowering gave it, whose sizes the planner fixed; an error is
//! kept in the call (the kernel reports it at its op) and nothing here
//! panics.

use super::plan::Place;
use super::storage::{self, Storage};
use std::fmt;
use std::sync::{Arc, Mutex};
use weft_ir::types::TensorType;
use weft_ir::{Attrs, ElemType, OpData, Tensor, Type};

/// What a runtime kernel does with the run's buffers.
pub(crate) trait RuntimeOp: Send + Sync + fmt::Debug {
    /// Runs once. `table[s]` is the base address of buffer slot `s`.
    ///
    /// # Safety
    /// `table` is the run table of the function the op was compiled for.
    unsafe fn run(&self, table: *const *mut u8) -> Result<(), String>;
}

#[derive(Debug)]
struct Inner {
    op: Box<dyn RuntimeOp>,
    error: Mutex<Option<String>>,
}

/// A runtime kernel as a kernel part holds it.
#[derive(Debug, Clone)]
pub(crate) struct RuntimeCall(Arc<Inner>);

impl PartialEq for RuntimeCall {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl RuntimeCall {
    pub fn new(op: impl RuntimeOp + 'static) -> RuntimeCall {
        RuntimeCall(Arc::new(Inner { op: Box::new(op), error: Mutex::new(None) }))
    }

    /// The address the generated code passes to [`runtime_call`].
    pub fn address(&self) -> i64 {
        Arc::as_ptr(&self.0) as usize as i64
    }

    /// The message of the last failed call.
    pub fn last_error(&self) -> Option<String> {
        self.0.error.lock().ok().and_then(|e| e.clone())
    }
}

/// The entry the generated code calls: 0, or 1 after storing the error.
pub(crate) extern "C" fn runtime_call(call: i64, table: i64) -> i64 {
    let inner = call as usize as *const Inner;
    // SAFETY: the code passes the address of an `Inner` its kernel owns
    // (module invariants) and the run table it was called with.
    let Some(inner) = (unsafe { inner.as_ref() }) else { return 1 };
    match unsafe { inner.op.run(table as usize as *const *mut u8) } {
        Ok(()) => 0,
        Err(e) => {
            if let Ok(mut slot) = inner.error.lock() {
                *slot = Some(e);
            }
            1
        }
    }
}

/// A tensor in a buffer of the run.
#[derive(Debug, Clone)]
pub(crate) struct Buf {
    pub place: Place,
    pub st: Storage,
    pub elem: ElemType,
    pub shape: Vec<u64>,
}

impl Buf {
    fn len(&self) -> usize {
        (self.shape.iter().product::<u64>() * self.st.size()) as usize
    }

    /// The buffer's bytes.
    ///
    /// # Safety
    /// `table` is the run table; the place holds `len` bytes that nothing
    /// writes while the slice lives.
    pub unsafe fn bytes<'t>(&self, table: *const *mut u8) -> &'t [u8] {
        // SAFETY: the caller's contract; the place was planned for the shape.
        unsafe {
            let base = *table.add(self.place.slot as usize);
            std::slice::from_raw_parts(base.add(self.place.offset as usize), self.len())
        }
    }

    /// The buffer's bytes, to write.
    ///
    /// # Safety
    /// As [`Buf::bytes`], and nothing else reads or writes them meanwhile
    /// (results are arena places no operand overlaps).
    pub unsafe fn bytes_mut<'t>(&self, table: *const *mut u8) -> &'t mut [u8] {
        // SAFETY: the caller's contract.
        unsafe {
            let base = *table.add(self.place.slot as usize);
            std::slice::from_raw_parts_mut(base.add(self.place.offset as usize), self.len())
        }
    }
}

/// An op computed by its reference `eval` on the run's buffers.
#[derive(Debug)]
pub(crate) struct EvalUnit {
    name: &'static str,
    eval: weft_ir::ops::EvalFn,
    attrs: Attrs,
    ins: Vec<Buf>,
    outs: Vec<Buf>,
    types: Vec<Type>,
}

impl EvalUnit {
    pub fn new(op: &OpData, ins: &[super::lower::Operand], outs: &[super::lower::Operand]) -> Result<EvalUnit, String> {
        let eval = op.def.eval.ok_or_else(|| super::lower::unsupported(op.name()))?;
        let buf =
            |x: &super::lower::Operand| Buf { place: x.place, st: x.st, elem: x.elem.clone(), shape: x.shape.clone() };
        let outs: Vec<Buf> = outs.iter().map(buf).collect();
        if outs.iter().any(|o| o.place.slot != 0) {
            return Err("internal error: a runtime result is not in the arena".into());
        }
        let types = outs.iter().map(|o| Type::Tensor(TensorType::fixed(&o.shape, o.elem.clone()))).collect();
        Ok(EvalUnit { name: op.name(), eval, attrs: op.attrs.clone(), ins: ins.iter().map(buf).collect(), outs, types })
    }
}

impl RuntimeOp for EvalUnit {
    unsafe fn run(&self, table: *const *mut u8) -> Result<(), String> {
        // SAFETY: operands are planned places (arena or constants) of their
        // shapes, not written during this call.
        let ops: Vec<Tensor> =
            self.ins.iter().map(|b| storage::read_tensor(&b.elem, &b.shape, b.st, unsafe { b.bytes(table) })).collect();
        let results = (self.eval)(&ops, &self.attrs, &self.types).map_err(|e| format!("{}: {e}", self.name))?;
        for (out, t) in self.outs.iter().zip(&results) {
            if t.shape != out.shape || t.elem != out.elem {
                return Err(format!("internal error: {} gave {} for {}", self.name, t.ty(), out.elem));
            }
            // SAFETY: results are arena places no operand overlaps.
            storage::write_tensor(t, out.st, unsafe { out.bytes_mut(table) });
        }
        Ok(())
    }
}
