//! Stages 3 and 4 of compiling: every op of the layout lowered to a kernel
//! ([`lower`], [`lower_quant`], [`lower_matmul`], ...) and compiled, then
//! the native code and the [`CompiledFunction`] around it.
//!
//! Invariants: kernels are compiled in program order, one per op that
//! moves or computes data, except fused ops, whose maps wait in
//! `pending` until their consumer's kernel absorbs them (none is left at
//! the end); a kernel is reported at the one op of its group that can
//! fail at run time, else its first op; constant slots are only
//! appended, so a slot number never changes once handed out.

use super::super::codegen::{Compiler, KernelFn};
use super::super::kernel::{self, Kernel};
use super::super::lower::{self, Operand};
use super::super::regions::Region;
use super::super::{func_error, fuse, op_error, CompiledFunction, CompiledKernel, JitStats, Slot, SlotData};
use super::super::{lower_matmul, lower_quant, lower_resize, qgemm, tabulate, vint};
use super::layout::{Constants, Layout};
use super::{value_slot, Body};
use std::collections::HashMap;
use std::time::Instant;
use weft_ir::interp::output_names;
use weft_ir::ops::Trait;
use weft_ir::{Diagnostic, Function, OpData, Value};

/// The kernels of a body, lowered and compiled one op at a time.
pub(in super::super) struct Lowering<'a> {
    body: &'a Body<'a>,
    layout: &'a Layout<'a>,
    constants: Constants,
    /// The lane-constant pool's slot: reserved before lowering (which
    /// appends packed weights and tables), filled once compiled.
    pool_slot: u32,
    compiler: Compiler,
    /// The compiled kernels, each with the op it is reported at.
    lowered: Vec<(&'a OpData, Kernel)>,
    /// Lowered maps of fused values, waiting for their consumer, with the
    /// ops they compute.
    pending: HashMap<Value, (Kernel, Vec<&'a OpData>)>,
    /// The index of each observed value in the caller's list.
    observed_index: HashMap<Value, usize>,
    /// Per count of kernels lowered, the observed values readable then.
    observations: Vec<Vec<(usize, Value)>>,
    /// Matmuls that pack an operand per call share scratch bytes after
    /// the planned values: where they start, and how many.
    scratch_at: u64,
    scratch_bytes: u64,
}

impl<'a> Lowering<'a> {
    /// Starts lowering `body` laid out as `layout`, whose constants are
    /// `constants`.
    pub fn new(body: &'a Body<'a>, layout: &'a Layout<'a>, mut constants: Constants) -> Result<Self, Diagnostic> {
        let pool_slot = constants.reserve();
        let compiler = Compiler::new(pool_slot).map_err(|e| func_error(body.func, e))?;
        Ok(Lowering {
            body,
            layout,
            constants,
            pool_slot,
            compiler,
            lowered: Vec::new(),
            pending: HashMap::new(),
            observed_index: body.observed.iter().enumerate().map(|(i, &v)| (v, i)).collect(),
            observations: Vec::new(),
            scratch_at: layout.plan.arena_bytes.next_multiple_of(64),
            scratch_bytes: 0,
        })
    }

    /// Lowers every op in program order (constants have their slots
    /// already) and notes when each observed value is readable.
    pub fn lower_ops(&mut self) -> Result<(), Diagnostic> {
        let layout = self.layout;
        for &data in &layout.ops {
            if !data.def.has_trait(Trait::ConstantLike) {
                self.lower_op(data)?;
            }
            self.note_observed(data);
        }
        if !self.pending.is_empty() {
            return Err(func_error(self.body.func, "internal error: a fused value has no consumer"));
        }
        Ok(())
    }

    /// Lowers `data`: into a kernel compiled now or, when its result is
    /// fused, a map pending until its consumer.
    fn lower_op(&mut self, data: &'a OpData) -> Result<(), Diagnostic> {
        let outs = self.operands(data, &data.results)?;
        let layout = self.layout;
        if let (Some(region), [out]) = (layout.regions.of(data), &outs[..]) {
            return self.lower_region_root(data, region, out);
        }
        let ins = self.operands(data, &data.operands)?;
        let mut members = vec![data];
        let Some(mut kernel) = self.op_kernel(data, &ins, &outs, &mut members)? else { return Ok(()) };
        self.prepare(data, &mut kernel)?;
        self.splice_pending(data, &mut kernel, &mut members)?;
        match self.fused_result(data) {
            Some(v) => {
                self.pending.insert(v, (kernel, members));
                Ok(())
            }
            None => {
                specialize(&mut kernel, &self.constants.slots);
                self.emit(data, kernel, &members)
            }
        }
    }

    /// Lowers the root `data` of a tabulated region: one map reading the
    /// region's input through its table, into `out`.
    fn lower_region_root(&mut self, data: &'a OpData, region: &'a Region<'a>, out: &Operand) -> Result<(), Diagnostic> {
        let x = self.layout.operand(self.body.func, region.input).map_err(|e| op_error(data, e))?;
        let kernel = region.kernel(&x, out);
        let members = region.ops.clone();
        match self.fused_result(data) {
            Some(v) => {
                self.pending.insert(v, (kernel, members));
                Ok(())
            }
            None => self.emit(data, kernel, &members),
        }
    }

    /// `values` as kernel operands; an error at `data` when one has no
    /// place.
    fn operands(&self, data: &OpData, values: &[Value]) -> Result<Vec<Operand>, Diagnostic> {
        let operands = values.iter().map(|&v| self.layout.operand(self.body.func, v)).collect::<Result<Vec<_>, _>>();
        operands.map_err(|e| op_error(data, e))
    }

    /// The single result of `data`, when it is fused into its consumer.
    fn fused_result(&self, data: &OpData) -> Option<Value> {
        match data.results[..] {
            [v] if self.layout.fused.contains(&v) => Some(v),
            _ => None,
        }
    }

    /// The kernel of `data` (`None`: it moves no data): the pending matmul
    /// of its accumulator requantizing in its epilogue (that matmul's ops
    /// join `members`), else the op's own lowering.
    fn op_kernel(
        &mut self,
        data: &OpData,
        ins: &[Operand],
        outs: &[Operand],
        members: &mut Vec<&'a OpData>,
    ) -> Result<Option<Kernel>, Diagnostic> {
        match take_fused_matmul(data, &mut self.pending) {
            Some((producer, group)) => {
                members.extend(group);
                qgemm::fuse::requantize_into(producer, ins, outs).map(Some).map_err(|e| op_error(data, e))
            }
            None => lower::lower(data, ins, outs).map_err(|e| op_error(data, e)),
        }
    }

    /// Readies a lowered kernel: its lookup tables become constant slots,
    /// its quantized parts get their constants (unless the result is fused:
    /// its consumer's kernel gets them), matmuls their packed weights and
    /// scratch, resizes their index tables.
    fn prepare(&mut self, data: &OpData, kernel: &mut Kernel) -> Result<(), Diagnostic> {
        let result_fused = self.fused_result(data).is_some();
        let constants = &mut self.constants;
        lower_quant::attach_tables(kernel, &mut |bytes| constants.add_copy(bytes));
        if !result_fused {
            constants.bytes += lower_quant::prepare(kernel, &constants.slots).map_err(|e| op_error(data, e))?;
        }
        let prepared =
            lower_matmul::prepare(kernel, &mut constants.slots, self.scratch_at).map_err(|e| op_error(data, e))?;
        constants.bytes += prepared.constant_bytes;
        self.scratch_bytes = self.scratch_bytes.max(prepared.scratch_bytes);
        for part in &mut kernel.parts {
            lower_resize::attach_tables(part, &mut |bytes| constants.add_copy(&bytes));
        }
        Ok(())
    }

    /// Splices the pending maps of `data`'s fused operands into `kernel`
    /// (last operand first); their ops join `members`.
    fn splice_pending(
        &mut self,
        data: &OpData,
        kernel: &mut Kernel,
        members: &mut Vec<&'a OpData>,
    ) -> Result<(), Diagnostic> {
        for (j, v) in data.operands.iter().enumerate().rev() {
            if let Some((producer, group)) = self.pending.remove(v) {
                splice_kernel(kernel, j, producer).map_err(|e| op_error(data, e))?;
                members.extend(group);
            }
        }
        Ok(())
    }

    /// Compiles `kernel`, computing `members` (`data` last), and records it
    /// at the op it is reported at.
    fn emit(&mut self, data: &'a OpData, kernel: Kernel, members: &[&'a OpData]) -> Result<(), Diagnostic> {
        self.compiler.add(&kernel).map_err(|e| op_error(data, e))?;
        self.lowered.push((reported_op(self.body.func, &self.body.ops, data, members), kernel));
        Ok(())
    }

    /// Notes the observed results of `data` as readable once the kernels
    /// lowered so far ran (for aliases and constants: the kernels before
    /// them).
    fn note_observed(&mut self, data: &OpData) {
        let ran = self.lowered.len();
        for &v in &data.results {
            if let Some(&i) = self.observed_index.get(&v) {
                self.observations.resize_with(self.observations.len().max(ran + 1), Vec::new);
                if let Some(readable) = self.observations.get_mut(ran) {
                    readable.push((i, v));
                }
            }
        }
    }

    /// Compiles the native code and assembles the function: the
    /// lane-constant pool filled, the kernels, the places of arguments,
    /// results and observed values, the stats (compile time since
    /// `started`).
    pub fn finish(self, started: Instant) -> Result<CompiledFunction, Diagnostic> {
        let Lowering {
            body,
            layout,
            mut constants,
            pool_slot,
            compiler,
            lowered,
            observations,
            scratch_at,
            scratch_bytes,
            ..
        } = self;
        let func = body.func;
        let fused_ops = layout.fused.len() + layout.regions.interior.len();
        let vector_maps = compiler.vector_maps;
        let (jit, fns, pool) = compiler.finish().map_err(|e| func_error(func, e))?;
        constants.fill(pool_slot, &pool);
        let kernels = compiled_kernels(lowered, fns);
        let placed = |v: Value| placed_slot(body, layout, v);
        let args = func.args().iter().map(|&v| placed(v)).collect::<Result<Vec<_>, _>>()?;
        let results = body.ret.operands.iter().map(|&v| placed(v)).collect::<Result<Vec<_>, _>>()?;
        let observations = observations
            .into_iter()
            .map(|vs| vs.into_iter().map(|(i, v)| Ok((i, placed(v)?))).collect::<Result<Vec<_>, Diagnostic>>())
            .collect::<Result<Vec<_>, _>>()?;
        let arena_bytes = if scratch_bytes > 0 { scratch_at + scratch_bytes } else { layout.plan.arena_bytes };
        let stats = JitStats {
            compile_time: started.elapsed(),
            kernels: kernels.len(),
            peak_bytes: arena_bytes,
            constant_bytes: constants.bytes,
            vector_maps,
            fused_ops,
        };
        Ok(CompiledFunction {
            module: Some(jit),
            kernels,
            constants: constants.slots,
            args,
            results,
            arena_bytes,
            name: func.name.clone(),
            span: func.span,
            loc: func.loc.clone(),
            input_names: body.arg_names.clone(),
            output_names: output_names(func),
            stats,
            observations,
        })
    }
}

/// Final rewrites of a kernel about to be compiled: a map of one varying
/// narrow input becomes a table lookup, integer maps run on vector lanes.
fn specialize(kernel: &mut Kernel, constants: &[SlotData]) {
    for part in &mut kernel.parts {
        if let Some(table) = tabulate::tabulate(part, constants) {
            *part = table;
        }
        if let Some(block) = vint::vectorize(part) {
            *part = block;
        }
    }
}

/// Each lowered kernel with its native function and the op it reports at.
fn compiled_kernels(lowered: Vec<(&OpData, Kernel)>, fns: Vec<KernelFn>) -> Vec<CompiledKernel> {
    let compiled = |((data, kernel), func): ((&OpData, Kernel), KernelFn)| CompiledKernel {
        func,
        kernel,
        op_name: data.name(),
        span: data.span,
        loc: data.loc.clone(),
    };
    lowered.into_iter().zip(fns).map(compiled).collect()
}

/// The slot of `v` at its planned place; errors are at the `return`.
fn placed_slot(body: &Body, layout: &Layout, v: Value) -> Result<Slot, Diagnostic> {
    let ret = body.ret;
    let mut slot = value_slot(body.func, v).map_err(|e| op_error(ret, e))?;
    slot.place = *layout.plan.places.get(&v).ok_or_else(|| op_error(ret, format!("value {v} has no place")))?;
    Ok(slot)
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
