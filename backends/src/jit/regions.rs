//! Tabulated regions: a connected set of elementwise ops whose only
//! varying input is one integer value `x` of at most 16 bits (every other
//! operand a constant of one element) and whose only value read outside
//! the set is its last op's result computes a function of `x` alone, so
//! the whole set becomes one lookup `table[x - lo]`.
//!
//! This catches what [`super::tabulate`] cannot: a map there is a fused
//! chain, and fusion stops at a value with two uses, while the integer
//! programs of `lower-nonlinear` reuse values inside one function (quark's
//! GELU `x * sigmoid(1.702 x)` reads the centered input twice, its
//! two-element softmax reads the maximum three times), so the 20 ops of a
//! quantized GELU are one region and one table read per element.
//!
//! The table is the ops' own reference `eval`, run once at compile time
//! on every stored integer of `x`'s type in program order: each entry is
//! by construction what the interpreter computes for that element (every
//! op of a region reads its operands element for element at the same
//! index). A region whose evaluation fails for some value (an integer
//! division by zero) is left as it is, so the failure stays a run-time
//! failure where the reference has one.
//!
//! Invariants: a region has at least two ops, every op has one result of
//! `x`'s shape, its members' results are read only by members except the
//! root's, and it pays only with at least [`super::tabulate::MIN_USES`]
//! elements per table entry.

use super::fuse::elementwise;
use super::kernel::{Access, Expr, Kernel, Part};
use super::lower::Operand;
use super::lower_quant::{QuantExpr, QuantOp};
use super::storage::{write_tensor, Storage};
use super::tabulate::{MAX_BITS, MIN_USES};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use weft_ir::ops::quant::common::qrange;
use weft_ir::ops::Trait;
use weft_ir::types::TensorType;
use weft_ir::{Function, Module, OpData, Tensor, TensorData, Type, Value};

/// One tabulated region.
#[derive(Debug)]
pub(crate) struct Region<'f> {
    /// The varying input.
    pub input: Value,
    /// The members in program order; the last is the root.
    pub ops: Vec<&'f OpData>,
    /// The root's stored results for `x = lo, lo + 1, ..`, as bytes of
    /// the root's storage.
    table: Vec<u8>,
    lo: i64,
    len: i64,
}

impl Region<'_> {
    /// The kernel of the root: one map reading `x` through the table.
    pub fn kernel(&self, x: &Operand, out: &Operand) -> Kernel {
        let lookup = QuantExpr {
            op: QuantOp::Table { table: Arc::new(self.table.clone()), offset: self.lo, len: self.len },
            args: vec![Expr::Input(0)],
            arg_st: vec![x.st],
            out: out.st,
        };
        let part = Part::Map {
            shape: out.shape.clone(),
            out: Access::contiguous(out.place, out.st, &out.shape),
            inputs: vec![Access::broadcast(x.place, x.st, &x.shape, &out.shape)],
            expr: Expr::Quant(Box::new(lookup)),
        };
        Kernel { parts: vec![part], gather_error: String::new(), tables: Vec::new() }
    }
}

/// The regions of a function body, by root result.
#[derive(Debug, Default)]
pub(crate) struct Regions<'f> {
    pub roots: HashMap<Value, Region<'f>>,
    /// Results of members that are not roots: they get no buffer and no
    /// kernel.
    pub interior: HashSet<Value>,
}

impl Regions<'_> {
    /// Whether `op` is a member computed inside another op's table.
    pub fn is_interior(&self, op: &OpData) -> bool {
        op.results.first().is_some_and(|v| self.interior.contains(v))
    }

    /// The root region whose result `op` computes.
    pub fn of(&self, op: &OpData) -> Option<&Region<'_>> {
        op.results.first().and_then(|v| self.roots.get(v))
    }
}

fn tensor_type(func: &Function, v: Value) -> Option<&TensorType> {
    func.values.get(v)?.ty.as_tensor()
}

/// The one-element constant `v` (as a scalar), if it is one.
fn scalar_constant(module: &Module, func: &Function, defs: &HashMap<Value, &OpData>, v: Value) -> Option<Tensor> {
    let data = defs.get(&v)?;
    let ty = &func.values.get(v)?.ty;
    if !data.def.has_trait(Trait::ConstantLike) || ty.as_tensor()?.static_shape()?.iter().product::<u64>() != 1 {
        return None;
    }
    let mut t = weft_ir::interp::constant_value(module, data, ty).ok()?;
    (t.numel() == 1).then(|| {
        t.shape = Vec::new();
        t
    })
}

/// Finds the regions of `ops` (the body in program order, without the
/// return; `returned` its operands).
pub(crate) fn find<'f>(module: &Module, func: &'f Function, ops: &[&'f OpData], returned: &[Value]) -> Regions<'f> {
    let mut defs: HashMap<Value, &OpData> = HashMap::new();
    let mut users: HashMap<Value, Vec<usize>> = HashMap::new();
    for (i, op) in ops.iter().enumerate() {
        op.results.iter().for_each(|&v| {
            defs.insert(v, op);
        });
        op.operands.iter().for_each(|&v| users.entry(v).or_default().push(i));
    }
    let returned: HashSet<Value> = returned.iter().copied().collect();
    let mut scalars: HashMap<Value, Option<Tensor>> = HashMap::new();
    let mut regions = Regions::default();
    let mut claimed: HashSet<usize> = HashSet::new();
    // Each candidate input with the first op that may read it.
    let args = func.args().iter().map(|&x| (0, x));
    let results = ops.iter().enumerate().flat_map(|(i, op)| op.results.iter().map(move |&x| (i + 1, x)));
    for (from, x) in args.chain(results).collect::<Vec<_>>() {
        let Some(members) = grow(func, ops, from, x, &claimed, &mut |v| {
            scalars.entry(v).or_insert_with(|| scalar_constant(module, func, &defs, v)).is_some()
        }) else {
            continue;
        };
        let Some(members) = single_exit(ops, members, &users, &returned) else { continue };
        let Some(region) = evaluate(func, ops, x, &members, &scalars) else { continue };
        claimed.extend(members.iter().copied());
        let Some((&root, interior)) = members.split_last() else { continue };
        regions.interior.extend(interior.iter().filter_map(|&i| ops[i].results.first().copied()));
        if let Some(&r) = ops[root].results.first() {
            regions.roots.insert(r, region);
        }
    }
    regions
}

/// The ops from `from` on computed from `x` (of a tabulable type and
/// shape) and one-element constants only, in program order.
fn grow(
    func: &Function,
    ops: &[&OpData],
    from: usize,
    x: Value,
    claimed: &HashSet<usize>,
    is_scalar: &mut dyn FnMut(Value) -> bool,
) -> Option<Vec<usize>> {
    let t = tensor_type(func, x)?;
    let shape = t.static_shape()?;
    let Some(Storage::Int { width, .. }) = Storage::of(&t.elem) else { return None };
    if width > MAX_BITS || shape.iter().product::<u64>() < MIN_USES << width {
        return None;
    }
    let mut inside: HashSet<Value> = HashSet::from([x]);
    let mut members = Vec::new();
    for (i, op) in ops.iter().enumerate().skip(from) {
        let [result] = op.results[..] else { continue };
        if claimed.contains(&i) || !elementwise(op.name()) || op.def.eval.is_none() {
            continue;
        }
        let reads_inside = op.operands.iter().any(|v| inside.contains(v));
        if !reads_inside || tensor_type(func, result).and_then(|t| t.static_shape()).as_ref() != Some(&shape) {
            continue;
        }
        if op.operands.iter().all(|&v| inside.contains(&v) || is_scalar(v)) {
            inside.insert(result);
            members.push(i);
        }
    }
    Some(members)
}

/// The members narrowed to one exit (a result read outside them or
/// returned), which becomes the last: the ancestors of the latest exit,
/// until only it is read outside. `None` for fewer than two ops.
fn single_exit(
    ops: &[&OpData],
    mut members: Vec<usize>,
    users: &HashMap<Value, Vec<usize>>,
    returned: &HashSet<Value>,
) -> Option<Vec<usize>> {
    loop {
        let set: HashSet<usize> = members.iter().copied().collect();
        let exits: Vec<usize> = members
            .iter()
            .copied()
            .filter(|&i| {
                let v = ops[i].results[0];
                returned.contains(&v) || users.get(&v).is_some_and(|u| u.iter().any(|j| !set.contains(j)))
            })
            .collect();
        let &last = exits.last()?;
        if exits.len() == 1 && members.last() == Some(&last) {
            return (members.len() >= 2).then_some(members);
        }
        // The ancestors of `last` among the members.
        let produced: HashMap<Value, usize> = members.iter().map(|&i| (ops[i].results[0], i)).collect();
        let mut keep: HashSet<usize> = HashSet::from([last]);
        let mut stack = vec![last];
        while let Some(i) = stack.pop() {
            for v in &ops[i].operands {
                if let Some(&j) = produced.get(v) {
                    if keep.insert(j) {
                        stack.push(j);
                    }
                }
            }
        }
        let narrowed: Vec<usize> = members.iter().copied().filter(|i| keep.contains(i)).collect();
        if narrowed.len() == members.len() {
            return None;
        }
        members = narrowed;
    }
}

/// The table of a region: every member's `eval` on all values of `x`.
fn evaluate<'f>(
    func: &Function,
    ops: &[&'f OpData],
    x: Value,
    members: &[usize],
    scalars: &HashMap<Value, Option<Tensor>>,
) -> Option<Region<'f>> {
    let xt = tensor_type(func, x)?;
    let Some(Storage::Int { width, signed, .. }) = Storage::of(&xt.elem) else { return None };
    let (lo, hi) = qrange(width, signed);
    let len = (hi - lo + 1) as u64;
    let mut values: HashMap<Value, Tensor> = HashMap::new();
    values.insert(x, Tensor { elem: xt.elem.clone(), shape: vec![len], data: TensorData::Int((lo..=hi).collect()) });
    for &i in members {
        let op = ops[i];
        let operands: Vec<Tensor> = op
            .operands
            .iter()
            .map(|v| values.get(v).or_else(|| scalars.get(v).and_then(Option::as_ref)).cloned())
            .collect::<Option<_>>()?;
        let elem = tensor_type(func, op.results[0])?.elem.clone();
        let ty = Type::Tensor(TensorType::fixed(&[len], elem.clone()));
        let eval = op.def.eval?;
        let run = std::panic::AssertUnwindSafe(|| eval(&operands, &op.attrs, &[ty]));
        let result = std::panic::catch_unwind(run).ok()?.ok()?.into_iter().next()?;
        if result.shape != [len] || result.elem != elem {
            return None;
        }
        values.insert(op.results[0], result);
    }
    let root = ops[*members.last()?];
    let out = values.get(&root.results[0])?;
    let st = Storage::of(&out.elem)?;
    let mut table = vec![0u8; (len * st.size()) as usize];
    write_tensor(out, st, &mut table);
    Some(Region { input: x, ops: members.iter().map(|&i| ops[i]).collect(), table, lo, len: len as i64 })
}
