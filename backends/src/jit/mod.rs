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
mod storage;
mod tabulate;
#[cfg(test)]
mod tests;
mod vint;

use bytes::Bytes;
use codegen::{Compiler, KernelFn};
use kernel::Kernel;
use lower::Operand;
use plan::{Need, Place, Step};
use std::collections::HashMap;
use std::time::{Duration, Instant};
use storage::Storage;
use weft_ir::attr::Attribute;
use weft_ir::interp::{input_names, output_names, DimBindings};
use weft_ir::ops::Trait;
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
    let expanded = lower::expand_composites(func).map_err(|(op, e)| op_error(&func.ops[op], e))?;
    let (func, observed) = match &expanded {
        Some((f, replaced)) => (f, observed.iter().map(|v| *replaced.get(v).unwrap_or(v)).collect()),
        None => (func, observed.to_vec()),
    };
    let body = func.blocks.get(func.body).ok_or_else(|| func_error(func, "has no body block"))?;
    let mut constants: Vec<SlotData> = Vec::new();
    let mut constant_bytes = 0;
    let mut steps = vec![Step::default()];
    let arg_names = input_names(func);
    for (i, &arg) in func.args().iter().enumerate() {
        let what = format!("argument #{i} ('{}')", arg_names.get(i).map_or("", String::as_str));
        let slot = value_slot(func, arg).map_err(|e| func_error(func, format!("{what} {e}")))?;
        steps[0].defs.push((arg, Need::Arena(bytes_of(&slot))));
    }
    let (all_ops, ret) = body_ops(func, body)?;
    // Returned and observed values are read from outside: not inside a
    // region, not fused away.
    let outside: Vec<Value> = ret.operands.iter().chain(&observed).copied().collect();
    let regions = regions::find(module, func, &all_ops, &outside);
    let ops: Vec<&OpData> = all_ops.iter().copied().filter(|d| !regions.is_interior(d)).collect();
    // A region's input is read by its root's table: never fused away.
    let kept: Vec<Value> = outside.iter().copied().chain(regions.roots.values().map(|r| r.input)).collect();
    let fused = fuse::plan(func, &ops, &kept);
    let observed_index: HashMap<Value, usize> = observed.iter().enumerate().map(|(i, &v)| (v, i)).collect();
    // What each fused value's computation reads (its producers' inputs).
    let mut reads: HashMap<Value, Vec<Value>> = HashMap::new();
    for &data in &ops {
        let uses = match regions.of(data) {
            Some(region) => vec![region.input],
            None => effective_uses(&data.operands, &reads),
        };
        let mut step = Step { defs: vec![], uses };
        for (i, &v) in data.results.iter().enumerate() {
            let slot = value_slot(func, v).map_err(|e| op_error(data, format!("result #{i} {e}")))?;
            let need = if fused.contains(&v) {
                reads.insert(v, std::mem::take(&mut step.uses));
                Need::Fused
            } else if data.def.has_trait(Trait::ConstantLike) {
                let (place, bytes) = constant(module, data, &slot, &mut constants).map_err(|e| op_error(data, e))?;
                constant_bytes += bytes;
                Need::Fixed(place)
            } else if let Some(src) = aliased_operand(data) {
                Need::Alias(src.ok_or_else(|| op_error(data, "has no operand to alias"))?)
            } else {
                Need::Arena(bytes_of(&slot))
            };
            step.defs.push((v, need));
        }
        steps.push(step);
    }
    steps.push(Step { defs: vec![], uses: ret.operands.clone() });
    let plan = plan::plan(&steps).map_err(|e| func_error(func, e))?;
    let operand = |v: Value| -> Result<Operand, String> {
        let slot = value_slot(func, v)?;
        let place = match plan.places.get(&v) {
            Some(&p) => p,
            None if fused.contains(&v) => fuse::FUSED,
            None => return Err(format!("value {v} has no place")),
        };
        Ok(Operand { place, st: slot.st, elem: slot.elem, shape: slot.shape })
    };
    // The lane constant pool's slot is reserved now (lowering appends more
    // constant slots: packed weights, tables) and filled once compiled.
    constants.push(SlotData::Owned(Vec::new()));
    let pool_slot = constants.len() as u32;
    let mut compiler = Compiler::new(pool_slot).map_err(|e| func_error(func, e))?;
    let mut lowered = Vec::new();
    // Matmuls that pack an operand per call share scratch bytes after the
    // planned values.
    let scratch_at = plan.arena_bytes.next_multiple_of(64);
    let mut scratch_bytes = 0;
    // Lowered maps of fused values, waiting for their consumer, with the
    // ops they compute.
    let mut pending: HashMap<Value, (Kernel, Vec<&OpData>)> = HashMap::new();
    // Per count of kernels lowered, the observed values readable then.
    let mut observations: Vec<Vec<(usize, Value)>> = Vec::new();
    for data in ops.iter().copied() {
        'op: {
            if data.def.has_trait(Trait::ConstantLike) {
                break 'op;
            }
            let outs = data.results.iter().map(|&v| operand(v)).collect::<Result<Vec<_>, _>>();
            let outs = outs.map_err(|e| op_error(data, e))?;
            if let (Some(region), [out]) = (regions.of(data), &outs[..]) {
                let x = operand(region.input).map_err(|e| op_error(data, e))?;
                let kernel = region.kernel(&x, out);
                let members = region.ops.clone();
                match data.results[..] {
                    [v] if fused.contains(&v) => {
                        pending.insert(v, (kernel, members));
                    }
                    _ => {
                        compiler.add(&kernel).map_err(|e| op_error(data, e))?;
                        lowered.push((reported_op(func, &all_ops, data, &members), kernel));
                    }
                }
                break 'op;
            }
            let ins = data.operands.iter().map(|&v| operand(v)).collect::<Result<Vec<_>, _>>();
            let ins = ins.map_err(|e| op_error(data, e))?;
            let mut members = vec![data];
            let kernel = match take_fused_matmul(data, &mut pending) {
                Some((producer, group)) => {
                    members.extend(group);
                    Some(qgemm::fuse::requantize_into(producer, &ins, &outs).map_err(|e| op_error(data, e))?)
                }
                None => lower::lower(data, &ins, &outs).map_err(|e| op_error(data, e))?,
            };
            let Some(mut kernel) = kernel else { break 'op };
            let result_fused = matches!(data.results[..], [v] if fused.contains(&v));
            lower_quant::attach_tables(&mut kernel, &mut |bytes| {
                constant_bytes += bytes.len() as u64;
                owned_constant(&mut constants, bytes)
            });
            if !result_fused {
                constant_bytes += lower_quant::prepare(&mut kernel, &constants).map_err(|e| op_error(data, e))?;
            }
            let prepared =
                lower_matmul::prepare(&mut kernel, &mut constants, scratch_at).map_err(|e| op_error(data, e))?;
            constant_bytes += prepared.constant_bytes;
            scratch_bytes = scratch_bytes.max(prepared.scratch_bytes);
            for part in &mut kernel.parts {
                lower_resize::attach_tables(part, &mut |bytes| {
                    constant_bytes += bytes.len() as u64;
                    owned_constant(&mut constants, &bytes)
                });
            }
            for (j, v) in data.operands.iter().enumerate().rev() {
                if let Some((producer, group)) = pending.remove(v) {
                    splice_kernel(&mut kernel, j, producer).map_err(|e| op_error(data, e))?;
                    members.extend(group);
                }
            }
            match data.results[..] {
                [v] if fused.contains(&v) => {
                    pending.insert(v, (kernel, members));
                }
                _ => {
                    for part in &mut kernel.parts {
                        if let Some(table) = tabulate::tabulate(part, &constants) {
                            *part = table;
                        }
                        if let Some(block) = vint::vectorize(part) {
                            *part = block;
                        }
                    }
                    compiler.add(&kernel).map_err(|e| op_error(data, e))?;
                    lowered.push((reported_op(func, &all_ops, data, &members), kernel));
                }
            }
        }
        // An op's results are readable once its kernel (or, for aliases and
        // constants, the kernels before it) ran.
        for &v in &data.results {
            if let Some(&i) = observed_index.get(&v) {
                observations.resize_with(observations.len().max(lowered.len() + 1), Vec::new);
                observations[lowered.len()].push((i, v));
            }
        }
    }
    if !pending.is_empty() {
        return Err(func_error(func, "internal error: a fused value has no consumer"));
    }
    let fused_ops = fused.len() + regions.interior.len();
    let vector_maps = compiler.vector_maps;
    let (jit, fns, pool) = compiler.finish().map_err(|e| func_error(func, e))?;
    let mut pool_lines = aligned(pool.len() as u64);
    line_bytes_mut(&mut pool_lines)[..pool.len()].copy_from_slice(&pool);
    constants[pool_slot as usize - 1] = SlotData::Owned(pool_lines);
    let kernels: Vec<CompiledKernel> = lowered
        .into_iter()
        .zip(fns)
        .map(|((data, kernel), func)| CompiledKernel {
            func,
            kernel,
            op_name: data.name(),
            span: data.span,
            loc: data.loc.clone(),
        })
        .collect();
    let place_of = |v: Value| -> Result<Slot, Diagnostic> {
        let mut slot = value_slot(func, v).map_err(|e| op_error(ret, e))?;
        slot.place = *plan.places.get(&v).ok_or_else(|| op_error(ret, format!("value {v} has no place")))?;
        Ok(slot)
    };
    let args = func.args().iter().map(|&v| place_of(v)).collect::<Result<Vec<_>, _>>()?;
    let results = ret.operands.iter().map(|&v| place_of(v)).collect::<Result<Vec<_>, _>>()?;
    let observations = observations
        .into_iter()
        .map(|vs| vs.into_iter().map(|(i, v)| Ok((i, place_of(v)?))).collect::<Result<Vec<_>, Diagnostic>>())
        .collect::<Result<Vec<_>, _>>()?;
    let arena_bytes = if scratch_bytes > 0 { scratch_at + scratch_bytes } else { plan.arena_bytes };
    let stats = JitStats {
        compile_time: started.elapsed(),
        kernels: kernels.len(),
        peak_bytes: arena_bytes,
        constant_bytes,
        vector_maps,
        fused_ops,
    };
    Ok(CompiledFunction {
        module: Some(jit),
        kernels,
        constants,
        args,
        results,
        arena_bytes,
        name: func.name.clone(),
        span: func.span,
        loc: func.loc.clone(),
        input_names: arg_names,
        output_names: output_names(func),
        stats,
        observations,
    })
}

/// A new constant slot holding a copy of `bytes` (64-byte aligned).
fn owned_constant(constants: &mut Vec<SlotData>, bytes: &[u8]) -> u32 {
    let mut buf = aligned(bytes.len() as u64);
    line_bytes_mut(&mut buf)[..bytes.len()].copy_from_slice(bytes);
    constants.push(SlotData::Owned(buf));
    constants.len() as u32
}

/// The ops of the body in order, without the final `return`, and the return.
fn body_ops<'f>(
    func: &'f Function,
    body: &weft_ir::module::BlockData,
) -> Result<(Vec<&'f OpData>, &'f OpData), Diagnostic> {
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

/// For ops whose result is another value's bytes (`nn.reshape` and
/// `quant.storage_cast` of their input, `hw.apply` of its `value`), that
/// value (`None` when missing).
fn aliased_operand(data: &OpData) -> Option<Option<Value>> {
    match data.name() {
        "nn.reshape" | "quant.storage_cast" => Some(data.operands.first().copied()),
        "hw.apply" => Some(data.operands.get(1).copied()),
        _ => None,
    }
}

/// The values an op's kernel reads: its operands, with each fused operand
/// replaced by what its computation reads.
fn effective_uses(operands: &[Value], reads: &HashMap<Value, Vec<Value>>) -> Vec<Value> {
    operands.iter().flat_map(|v| reads.get(v).cloned().unwrap_or_else(|| vec![*v])).collect()
}

/// Merges the single map of `producer` into the single map of `kernel`.
fn splice_kernel(kernel: &mut Kernel, j: usize, producer: Kernel) -> Result<(), String> {
    let ([consumer], [part]) = (&mut kernel.parts[..], &producer.parts[..]) else {
        return Err("internal error: a fused kernel has more than one part".into());
    };
    fuse::splice(consumer, j, part.clone())
}

/// The pending kernel of a `quant.qmatmul` whose accumulator `data` (a
/// `quant.requantize`) requantizes in its epilogue (`fuse::plan` fused it).
fn take_fused_matmul<'o>(
    data: &OpData,
    pending: &mut HashMap<Value, (Kernel, Vec<&'o OpData>)>,
) -> Option<(Kernel, Vec<&'o OpData>)> {
    let v = data.operands.first().filter(|_| data.name() == "quant.requantize")?;
    let is_matmul = pending.get(v).is_some_and(|(k, _)| matches!(k.parts[..], [kernel::Part::QGemm(_)]));
    is_matmul.then(|| pending.remove(v)).flatten()
}

/// The op a kernel computing `members` (the ops of a fused group, its last
/// op `last`) is reported at: the one that can fail at run time (a group
/// has at most one), else the first in program order.
fn reported_op<'f>(func: &Function, ops: &[&'f OpData], last: &'f OpData, members: &[&'f OpData]) -> &'f OpData {
    let first = ops.iter().copied().find(|op| members.iter().any(|m| std::ptr::eq(*m, *op)));
    let failing = members.iter().copied().find(|m| fuse::can_fail(func, m));
    failing.or(first).unwrap_or(last)
}

fn bytes_of(slot: &Slot) -> u64 {
    slot.shape.iter().product::<u64>() * slot.st.size()
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

/// Materializes a constant: a new slot holding its bytes; the place and the
/// bytes copied (0 for a resource, read in place).
fn constant(
    module: &Module,
    data: &OpData,
    slot: &Slot,
    constants: &mut Vec<SlotData>,
) -> Result<(Place, u64), String> {
    let place = Place { slot: constants.len() as u32 + 1, offset: 0 };
    match data.attr("value") {
        Some(Attribute::Dense(d)) => {
            let t = d.to_tensor().ok_or_else(|| format!("the constant {} is too large to materialize", d.ty))?;
            weft_ir::interp::check_storage(&t).map_err(|e| format!("the constant is malformed: {e}"))?;
            if t.elem != slot.elem || t.shape != slot.shape {
                return Err(format!("the constant holds {}, but {} is declared", t.ty(), slot.ty));
            }
            let n = bytes_of(slot);
            let mut buf = aligned(n);
            storage::write_tensor(&t, slot.st, &mut line_bytes_mut(&mut buf)[..n as usize]);
            constants.push(SlotData::Owned(buf));
            Ok((place, n))
        }
        Some(Attribute::Resource { name, ty }) => {
            let r = module.resources.get(name).ok_or_else(|| format!("unknown resource '{name}'"))?;
            if !r.fits(ty) || ty.static_shape().as_deref() != Some(&slot.shape[..]) || ty.elem != slot.elem {
                return Err(format!("resource '{name}' holds {}, but {} is declared", r.ty(), slot.ty));
            }
            if r.bytes().len() as u64 != bytes_of(slot) {
                return Err(format!("resource '{name}' is not stored as the JIT reads {}", slot.elem));
            }
            constants.push(SlotData::Shared(r.shared_bytes().clone()));
            Ok((place, 0))
        }
        _ => Err(format!("a constant of type {} needs a 'value' attribute holding a tensor", slot.ty)),
    }
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
