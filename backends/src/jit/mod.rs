//! The Cranelift JIT: compiles one function of the IR (nn dialect, static
//! shapes) to native code and runs it on tensors — the fast executable
//! reference, checked against the interpreter (spec/jit.md).
//!
//! Compilation: composite ops (`nn.attention`) are first expanded into
//! the ops they are defined as ([`lower::expand_composites`]); constants
//! are materialized once (inline `dense<..>` data
//! into owned buffers; resources are read in place from their shared
//! bytes); the planner ([`plan`]) places every other tensor in one arena,
//! reusing the bytes of dead values; each op is lowered ([`lower`]) to a
//! kernel description and compiled ([`codegen`]) to one native function.
//! [`compile_observing`] reads as these stages; [`stages`] holds them.
//! A run copies the inputs into the arena, calls the kernels in order and
//! copies the results out.
//!
//! Invariants: [`compile`] accepts only functions whose values all have
//! static shapes and element types with a storage; an op the JIT does not
//! cover is an error at that op, never a fallback; [`CompiledFunction::run`]
//! checks its inputs exactly as the interpreter does, so a kernel never
//! sees a buffer of the wrong size; the generated code only writes arena
//! places, and the constant buffers and resource bytes it reads live as
//! long as the compiled function.

mod codegen;
mod fuse;
pub mod gemm;
mod kernel;
mod lower;
mod lower_conv;
mod lower_conv_gemm;
mod lower_conv_transpose;
mod lower_matmul;
mod lower_nl;
mod lower_qgemm;
mod lower_quant;
mod lower_resize;
mod math;
mod nl_fast;
mod nl_unit;
mod plan;
pub mod qgemm;
mod quant_nonlinear;
mod quant_runtime;
mod regions;
mod stages;
mod storage;
mod tabulate;
#[cfg(test)]
mod tests;
mod vint;

use bytes::Bytes;
use codegen::KernelFn;
use kernel::Kernel;
use plan::Place;
use std::time::{Duration, Instant};
use storage::Storage;
use weft_ir::interp::DimBindings;
use weft_ir::{Diagnostic, Function, Module, OpData, Tensor, Type, Value};

/// What compiling a function cost and produced.
#[derive(Debug, Clone, PartialEq)]
pub struct JitStats {
    /// Wall time of [`compile`] (planning, lowering, Cranelift).
    pub compile_time: Duration,
    /// Native kernels (one per op that moves or computes data).
    pub kernels: usize,
    /// The arena's size: the peak bytes of intermediate values, arguments
    /// and results at any point of a run, plus the matmuls' scratch.
    pub peak_bytes: u64,
    /// Bytes of constants materialized at compile time: inline constants,
    /// weights packed for the matmul runtime.
    pub constant_bytes: u64,
    /// Elementwise maps (loop nests of elementwise kernels and copies)
    /// that run on SIMD lanes.
    pub vector_maps: usize,
    /// Ops computed in registers inside another op's kernel (fusion).
    pub fused_ops: usize,
}

/// A buffer of 64-byte-aligned bytes.
#[derive(Clone, Copy)]
#[repr(C, align(64))]
struct Line([u8; 64]);

fn aligned(bytes: u64) -> Vec<Line> {
    vec![Line([0; 64]); bytes.div_ceil(64) as usize]
}

fn line_bytes(lines: &[Line]) -> &[u8] {
    // SAFETY: `Line` is plain bytes with no padding (size 64, align 64).
    unsafe { std::slice::from_raw_parts(lines.as_ptr().cast::<u8>(), lines.len() * 64) }
}

fn line_bytes_mut(lines: &mut [Line]) -> &mut [u8] {
    // SAFETY: as in `line_bytes`; the borrow is unique.
    unsafe { std::slice::from_raw_parts_mut(lines.as_mut_ptr().cast::<u8>(), lines.len() * 64) }
}

/// The bytes behind a constant slot.
enum SlotData {
    Owned(Vec<Line>),
    Shared(Bytes),
}

impl SlotData {
    fn bytes(&self) -> &[u8] {
        match self {
            SlotData::Owned(v) => line_bytes(v),
            SlotData::Shared(b) => b,
        }
    }
}

/// One compiled op.
struct CompiledKernel {
    func: KernelFn,
    kernel: Kernel,
    op_name: &'static str,
    span: weft_ir::Span,
    loc: weft_ir::Location,
}

/// A value read or written by a run: where it is, what it holds.
#[derive(Debug, Clone)]
struct Slot {
    place: Place,
    st: Storage,
    ty: Type,
    elem: weft_ir::ElemType,
    shape: Vec<u64>,
}

/// A function compiled to native code. Holds its code, constants and
/// resource bytes; runs may be repeated.
pub struct CompiledFunction {
    module: Option<cranelift_jit::JITModule>,
    kernels: Vec<CompiledKernel>,
    /// Slot 1.. (slot 0 is the arena).
    constants: Vec<SlotData>,
    args: Vec<Slot>,
    results: Vec<Slot>,
    arena_bytes: u64,
    name: String,
    span: weft_ir::Span,
    loc: weft_ir::Location,
    input_names: Vec<String>,
    output_names: Vec<String>,
    stats: JitStats,
    /// The values [`compile_observing`] was asked for: `observations[k]`
    /// lists those readable once `k` kernels have run (index into the
    /// observed list, where the value is).
    observations: Vec<Vec<(usize, Slot)>>,
}

impl Drop for CompiledFunction {
    fn drop(&mut self) {
        if let Some(module) = self.module.take() {
            // SAFETY: the kernels' function pointers die with `self`; no
            // run is in progress (it would borrow `self`).
            unsafe { module.free_memory() };
        }
    }
}

/// Compiles `func` (a function of `module`, which holds the resources its
/// constants use).
pub fn compile(module: &Module, func: &Function) -> Result<CompiledFunction, Diagnostic> {
    compile_observing(module, func, &[])
}

/// [`compile`], keeping each of `observed` (results of ops of the body) in
/// memory, not fused into its consumer, so that
/// [`CompiledFunction::run_observing`] can report it right after the kernel
/// that computes it (calibration reads every float value this way).
pub fn compile_observing(module: &Module, func: &Function, observed: &[Value]) -> Result<CompiledFunction, Diagnostic> {
    let started = Instant::now();
    // Stage 1: composites expanded (observed values follow their
    // replacements), the body collected.
    let expanded = lower::expand_composites(func).map_err(|(op, e)| op_error(&func.ops[op], e))?;
    let (func, observed) = match &expanded {
        Some((f, replaced)) => (f, observed.iter().map(|v| *replaced.get(v).unwrap_or(v)).collect()),
        None => (func, observed.to_vec()),
    };
    let body = stages::Body::collect(func, observed)?;
    // Stage 2: regions, fused values, constants, the arena plan.
    let (layout, constants) = stages::Layout::plan(module, &body)?;
    // Stage 3: every op lowered to a kernel and compiled.
    let mut lowering = stages::Lowering::new(&body, &layout, constants)?;
    lowering.lower_ops()?;
    // Stage 4: native code, slots and stats.
    lowering.finish(started)
}

/// The bytes of a value of `slot`'s type.
fn bytes_of(slot: &Slot) -> u64 {
    slot.shape.iter().product::<u64>() * slot.st.size()
}

/// Observes a run kernel by kernel: gets the name of each kernel's op and
/// the wall time of the kernel, after it returned.
pub type KernelHook<'a> = &'a mut dyn FnMut(&'static str, Duration);

/// Receives the observed values of a run (see
/// [`CompiledFunction::run_observing`]).
pub type ObserveHook<'a> = &'a mut dyn FnMut(usize, &Tensor);

impl CompiledFunction {
    /// Runs the function on `inputs` (checked against the argument types
    /// as by the interpreter); its results.
    pub fn run(&self, inputs: Vec<Tensor>) -> Result<Vec<Tensor>, Diagnostic> {
        self.run_with(inputs, None)
    }

    /// [`run`](Self::run), calling `on_kernel` after each kernel with its
    /// op's name and time (for profiles). Without a hook no clock is read.
    pub fn run_with(&self, inputs: Vec<Tensor>, on_kernel: Option<KernelHook>) -> Result<Vec<Tensor>, Diagnostic> {
        self.execute(inputs, on_kernel, None)
    }

    /// [`run`](Self::run), calling `observe` with the index (in the list
    /// given to [`compile_observing`]) and the tensor of each observed
    /// value, right after the kernel that computes it.
    pub fn run_observing(&self, inputs: Vec<Tensor>, observe: ObserveHook) -> Result<Vec<Tensor>, Diagnostic> {
        self.execute(inputs, None, Some(observe))
    }

    fn execute(
        &self,
        inputs: Vec<Tensor>,
        mut on_kernel: Option<KernelHook>,
        mut observe: Option<ObserveHook>,
    ) -> Result<Vec<Tensor>, Diagnostic> {
        if inputs.len() != self.args.len() {
            let msg = format!("function '@{}' takes {} inputs, got {}", self.name, self.args.len(), inputs.len());
            return Err(self.error(msg).note(format!("inputs: {}", self.input_names.join(", "))));
        }
        let mut arena = aligned(self.arena_bytes.max(1));
        let bytes = line_bytes_mut(&mut arena);
        let mut dims = DimBindings::default();
        for (i, (slot, t)) in self.args.iter().zip(&inputs).enumerate() {
            let what =
                format!("input #{i} ('{}') of '@{}'", self.input_names.get(i).map_or("", String::as_str), self.name);
            dims.check(&slot.ty, t, &what).map_err(|e| self.error(e))?;
            let start = slot.place.offset as usize;
            let end = start + bytes_of(slot) as usize;
            let dst =
                bytes.get_mut(start..end).ok_or_else(|| self.error("internal error: argument outside the arena"))?;
            storage::write_tensor(t, slot.st, dst);
        }
        drop(inputs);
        let mut table: Vec<*mut u8> = Vec::with_capacity(self.constants.len() + 1);
        table.push(bytes.as_mut_ptr());
        // Kernels never write constant slots (only arena places).
        table.extend(self.constants.iter().map(|c| c.bytes().as_ptr().cast_mut()));
        for (n, k) in self.kernels.iter().enumerate() {
            if let Some(observe) = observe.as_mut() {
                self.report_observed(n, line_bytes(&arena), observe)?;
            }
            let started = on_kernel.is_some().then(Instant::now);
            // SAFETY: the kernel was generated for exactly these slots and
            // places, whose sizes the planner and the input check fixed.
            let status = unsafe { (k.func)(table.as_ptr()) };
            if let (Some(hook), Some(started)) = (on_kernel.as_mut(), started) {
                hook(k.op_name, started.elapsed());
            }
            if status != 0 {
                let msg = format!("'{}' op: {}", k.op_name, k.kernel.failure(status));
                return Err(Diagnostic::error(msg, k.span).with_loc(k.loc.clone()));
            }
        }
        let arena_bytes = line_bytes(&arena);
        if let Some(observe) = observe.as_mut() {
            self.report_observed(self.kernels.len(), arena_bytes, observe)?;
        }
        self.results.iter().map(|slot| self.read(slot, arena_bytes)).collect()
    }

    /// Reports the observed values readable once `ran` kernels have run.
    fn report_observed(&self, ran: usize, arena: &[u8], observe: &mut ObserveHook) -> Result<(), Diagnostic> {
        for (i, slot) in self.observations.get(ran).map_or(&[][..], Vec::as_slice) {
            observe(*i, &self.read(slot, arena)?);
        }
        Ok(())
    }

    fn read(&self, slot: &Slot, arena: &[u8]) -> Result<Tensor, Diagnostic> {
        let bytes = match slot.place.slot {
            0 => arena,
            s => self.constants.get(s as usize - 1).map(SlotData::bytes).unwrap_or(&[]),
        };
        let start = slot.place.offset as usize;
        let src = bytes
            .get(start..start + bytes_of(slot) as usize)
            .ok_or_else(|| self.error("internal error: a result lies outside its buffer"))?;
        Ok(storage::read_tensor(&slot.elem, &slot.shape, slot.st, src))
    }

    fn error(&self, message: impl Into<String>) -> Diagnostic {
        Diagnostic::error(message, self.span).with_loc(self.loc.clone())
    }

    /// What compiling cost and produced.
    pub fn stats(&self) -> &JitStats {
        &self.stats
    }

    /// The external names of the results.
    pub fn output_names(&self) -> &[String] {
        &self.output_names
    }
}

/// `'dialect.op' op: message`, at the op.
fn op_error(data: &OpData, message: impl std::fmt::Display) -> Diagnostic {
    Diagnostic::error(format!("'{}' op: {message}", data.name()), data.span).with_loc(data.loc.clone())
}

/// `function '@f' message`, at the function.
fn func_error(func: &Function, message: impl std::fmt::Display) -> Diagnostic {
    Diagnostic::error(format!("function '@{}' {message}", func.name), func.span).with_loc(func.loc.clone())
}
