//! Stage 2 of compiling: where every value lives. Tabulated regions
//! ([`regions`]) and fused values ([`fuse`]) need no buffer; constants are
//! materialized into slots of their own ([`Constants`]); the planner
//! ([`plan`]) places the arguments, the other results and the returned
//! values in the arena.
//!
//! Invariants: the planner sees one step per op of [`Layout::ops`], in
//! program order, between the arguments' step and the returned values'
//! step; a fused value's step reads what its computation reads, so the
//! inputs of a fused chain live until its consumer's kernel ran.

use super::super::lower::Operand;
use super::super::plan::{self, Need, Place, Plan, Step};
use super::super::regions::{self, Regions};
use super::super::{aligned, bytes_of, func_error, fuse, line_bytes_mut, op_error, storage, Line, Slot, SlotData};
use super::{value_slot, Body};
use std::collections::{HashMap, HashSet};
use weft_ir::attr::Attribute;
use weft_ir::ops::Trait;
use weft_ir::{Diagnostic, Function, Module, OpData, Value};

/// Where the values of a body live.
pub(in super::super) struct Layout<'f> {
    /// The ops that get a kernel or a place: the body without the
    /// interior members of regions.
    pub ops: Vec<&'f OpData>,
    pub regions: Regions<'f>,
    /// Values computed in registers inside their consumer's kernel.
    pub fused: HashSet<Value>,
    /// The places of the other values, and the arena's size.
    pub plan: Plan,
}

impl<'f> Layout<'f> {
    /// Finds the regions and fused values of `body`, materializes its
    /// constants and plans the arena.
    pub fn plan(module: &Module, body: &Body<'f>) -> Result<(Layout<'f>, Constants), Diagnostic> {
        let outside = body.outside();
        let regions = regions::find(module, body.func, &body.ops, &outside);
        let ops: Vec<&OpData> = body.ops.iter().copied().filter(|d| !regions.is_interior(d)).collect();
        // A region's input is read by its root's table: never fused away.
        let kept: Vec<Value> = outside.iter().copied().chain(regions.roots.values().map(|r| r.input)).collect();
        let fused = fuse::plan(body.func, &ops, &kept);
        let steps = Steps::new(module, body.func, &regions, &fused);
        let (steps, constants) = steps.all(body, &ops)?;
        let plan = plan::plan(&steps).map_err(|e| func_error(body.func, e))?;
        Ok((Layout { ops, regions, fused, plan }, constants))
    }

    /// `v` as a kernel reads or writes it: its place (the fused marker for
    /// a fused value) and storage.
    pub fn operand(&self, func: &Function, v: Value) -> Result<Operand, String> {
        let slot = value_slot(func, v)?;
        let place = match self.plan.places.get(&v) {
            Some(&p) => p,
            None if self.fused.contains(&v) => fuse::FUSED,
            None => return Err(format!("value {v} has no place")),
        };
        Ok(Operand { place, st: slot.st, elem: slot.elem, shape: slot.shape })
    }
}

/// The constant slots of a compiled function (slot `s` is `slots[s - 1]`;
/// slot 0 is the arena) and the bytes materialized into them.
#[derive(Default)]
pub(in super::super) struct Constants {
    pub slots: Vec<SlotData>,
    /// Bytes copied or packed at compile time (resources, read in place,
    /// and the lane-constant pool do not count).
    pub bytes: u64,
}

impl Constants {
    /// A new slot holding a copy of `bytes` (64-byte aligned), counted;
    /// its number.
    pub fn add_copy(&mut self, bytes: &[u8]) -> u32 {
        self.bytes += bytes.len() as u64;
        self.slots.push(SlotData::Owned(aligned_copy(bytes)));
        self.slots.len() as u32
    }

    /// A new empty slot, filled later by [`fill`](Self::fill); its number.
    pub fn reserve(&mut self) -> u32 {
        self.slots.push(SlotData::Owned(Vec::new()));
        self.slots.len() as u32
    }

    /// Fills the reserved `slot` with a copy of `bytes` (not counted).
    pub fn fill(&mut self, slot: u32, bytes: &[u8]) {
        if let Some(s) = (slot as usize).checked_sub(1).and_then(|i| self.slots.get_mut(i)) {
            *s = SlotData::Owned(aligned_copy(bytes));
        }
    }

    /// Materializes the constant `data` (of type `slot`) into a new slot:
    /// inline data copied, a resource read in place; its place.
    fn materialize(&mut self, module: &Module, data: &OpData, slot: &Slot) -> Result<Place, String> {
        let place = Place { slot: self.slots.len() as u32 + 1, offset: 0 };
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
                self.slots.push(SlotData::Owned(buf));
                self.bytes += n;
            }
            Some(Attribute::Resource { name, ty }) => {
                let r = module.resources.get(name).ok_or_else(|| format!("unknown resource '{name}'"))?;
                if !r.fits(ty) || ty.static_shape().as_deref() != Some(&slot.shape[..]) || ty.elem != slot.elem {
                    return Err(format!("resource '{name}' holds {}, but {} is declared", r.ty(), slot.ty));
                }
                if r.bytes().len() as u64 != bytes_of(slot) {
                    return Err(format!("resource '{name}' is not stored as the JIT reads {}", slot.elem));
                }
                self.slots.push(SlotData::Shared(r.shared_bytes().clone()));
            }
            _ => return Err(format!("a constant of type {} needs a 'value' attribute holding a tensor", slot.ty)),
        }
        Ok(place)
    }
}

/// A 64-byte-aligned copy of `bytes`.
fn aligned_copy(bytes: &[u8]) -> Vec<Line> {
    let mut lines = aligned(bytes.len() as u64);
    line_bytes_mut(&mut lines)[..bytes.len()].copy_from_slice(bytes);
    lines
}

/// Builds the planner's steps, materializing constants on the way.
struct Steps<'a, 'f> {
    module: &'a Module,
    func: &'f Function,
    regions: &'a Regions<'f>,
    fused: &'a HashSet<Value>,
    /// What each fused value's computation reads (its producers' inputs).
    reads: HashMap<Value, Vec<Value>>,
    constants: Constants,
}

impl<'a, 'f> Steps<'a, 'f> {
    fn new(module: &'a Module, func: &'f Function, regions: &'a Regions<'f>, fused: &'a HashSet<Value>) -> Self {
        Steps { module, func, regions, fused, reads: HashMap::new(), constants: Constants::default() }
    }

    /// The steps of `body` whose ops are `ops` (the arguments defined
    /// first, one step per op, the returned values used last) and the
    /// constants materialized.
    fn all(mut self, body: &Body, ops: &[&OpData]) -> Result<(Vec<Step>, Constants), Diagnostic> {
        let args = body.args.iter().map(|&(v, bytes)| (v, Need::Arena(bytes))).collect();
        let mut steps = vec![Step { defs: args, uses: vec![] }];
        for &data in ops {
            steps.push(self.op(data)?);
        }
        steps.push(Step { defs: vec![], uses: body.ret.operands.clone() });
        Ok((steps, self.constants))
    }

    /// The step of `data`: what its kernel reads (a region root: the
    /// region's input), and what each result needs. A fused result
    /// takes over the reads.
    fn op(&mut self, data: &OpData) -> Result<Step, Diagnostic> {
        let uses = match self.regions.of(data) {
            Some(region) => vec![region.input],
            None => effective_uses(&data.operands, &self.reads),
        };
        let mut step = Step { defs: vec![], uses };
        for (i, &v) in data.results.iter().enumerate() {
            let slot = value_slot(self.func, v).map_err(|e| op_error(data, format!("result #{i} {e}")))?;
            let need = if self.fused.contains(&v) {
                self.reads.insert(v, std::mem::take(&mut step.uses));
                Need::Fused
            } else {
                self.unfused_need(data, &slot)?
            };
            step.defs.push((v, need));
        }
        Ok(step)
    }

    /// What a result of `data` (of type `slot`) that is not fused needs:
    /// a constant's own slot, the bytes of the operand it aliases, or
    /// arena bytes.
    fn unfused_need(&mut self, data: &OpData, slot: &Slot) -> Result<Need, Diagnostic> {
        if data.def.has_trait(Trait::ConstantLike) {
            let place = self.constants.materialize(self.module, data, slot).map_err(|e| op_error(data, e))?;
            Ok(Need::Fixed(place))
        } else if let Some(src) = aliased_operand(data) {
            Ok(Need::Alias(src.ok_or_else(|| op_error(data, "has no operand to alias"))?))
        } else {
            Ok(Need::Arena(bytes_of(slot)))
        }
    }
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
