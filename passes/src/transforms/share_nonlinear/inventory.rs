//! What hardware each op kind needs under each method: its programs are
//! emitted by `lower-nonlinear`'s own emitters into scratch copies of the
//! function, and every emitted nl op is read as a primitive of the
//! resource model (`weft_ir::hwcost`). The union over several op kinds
//! (the shared unit) and its cost are here too.
//!
//! Invariants: a kind's [`Programs`] keep every distinct pass of its
//! programs ([`super::schedule`]) unfolded; [`Programs::fold`] at an
//! initiation interval `ii` folds each pass's instances of a primitive
//! kind, widest first, `ii` at a time onto one instance (so a pass needs
//! `ceil(k / ii)` of a kind it uses `k` times) and merges the passes, so
//! the result holds what the busiest pass needs; an [`Inventory`] holds,
//! per primitive kind, its per-lane instances widest first, then its
//! per-row instances widest first; merging two inventories pairs
//! instances within each of the two classes in that order and keeps the
//! wider of each pair (and the more evaluations), so the result serves
//! both: a per-row instance (once per unit) never pairs with a per-lane
//! one (once per lane), which would copy it into every lane as wide as
//! itself; the cost of a union depends only on the inventories and the
//! lanes.

use super::schedule::passes;
use crate::transforms::lower_nonlinear::{LowerNonlinear, Method, OpKind, QuarkTables};
use std::collections::{BTreeMap, HashMap};
use weft_ir::attr::Attribute;
use weft_ir::hwcost::{conditional_negate, is_constant, Primitive, PrimitiveKind};
use weft_ir::ops::nl;
use weft_ir::resources::Resources as ModuleResources;
use weft_ir::{Function, Op, Value};

/// Where one operand of an evaluation comes from: the result of the op
/// at position `op` of its program (a primitive), or [`INPUT`] (the
/// unit's input port), seen through constant shifts totalling `shift`
/// (casts and the negation folded into a conditional negate are wires).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Source {
    pub op: u32,
    pub shift: i64,
}

/// [`Source::op`] of the unit's input (the element streamed in).
pub const INPUT: u32 = u32::MAX;

/// One op a slot evaluates: its position in its program and the sources
/// of its non-constant operands, in operand order.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Eval {
    pub op: u32,
    pub sources: Vec<Source>,
}

/// One primitive instance of a program.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Slot {
    pub primitive: Primitive,
    /// Elementwise work (once per lane) rather than once per row.
    pub per_lane: bool,
    /// Evaluations per element (above 1 when time-multiplexed).
    pub uses: u64,
    /// The ops it evaluates (over passes, folds and programs of the
    /// kind), sorted, without repeats; empty when unknown.
    pub evals: Vec<Eval>,
}

impl Slot {
    /// The slot serving `self` and `other` (the wider, their ops).
    fn joined(&self, other: &Slot, uses: u64) -> Slot {
        let mut evals = self.evals.clone();
        evals.extend(other.evals.iter().cloned());
        evals.sort();
        evals.dedup();
        Slot { primitive: self.primitive.widest(other.primitive), per_lane: self.per_lane, uses, evals }
    }
}

/// The primitive instances of one op kind's programs under one method,
/// at the initiation interval `ii` (cycles per element per lane).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inventory {
    pub slots: BTreeMap<PrimitiveKind, Vec<Slot>>,
    pub ii: u64,
}

impl Default for Inventory {
    fn default() -> Self {
        Inventory { slots: BTreeMap::new(), ii: 1 }
    }
}

impl Inventory {
    /// The primitives of the ops `ops` of `f` (one program, in program
    /// order), as a streaming unit at full rate needs them ([`passes`]):
    /// per primitive kind, the most instances any one pass over the row
    /// uses.
    pub fn of_program(f: &Function, ops: &[Op]) -> Inventory {
        let positions = positions(ops);
        let mut inv = Inventory::default();
        for pass in passes(f, ops) {
            inv.merge(&Inventory::of_ops(f, &pass, &positions));
        }
        inv
    }

    /// The primitives of `ops` all active at once (one pipelined pass):
    /// `(op, per_lane)` pairs; `positions` numbers the program's ops.
    fn of_ops(f: &Function, ops: &[(Op, bool)], positions: &HashMap<Op, u32>) -> Inventory {
        let mut inv = Inventory::default();
        for &(op, per_lane) in ops {
            let Some(primitive) = Primitive::of_nl_op(f, op) else { continue };
            let eval = Eval { op: positions.get(&op).copied().unwrap_or(INPUT), sources: sources(f, op, positions) };
            let slot = Slot { primitive, per_lane, uses: 1, evals: vec![eval] };
            inv.slots.entry(primitive.kind).or_default().push(slot);
        }
        for list in inv.slots.values_mut() {
            sort_widest_first(list);
        }
        inv
    }

    /// One pass's instances at `ii`: per primitive kind, the widest-first
    /// list in chunks of `ii`, each chunk one instance as wide as its
    /// widest and evaluated once per member.
    fn folded(&self, ii: u64) -> Inventory {
        let chunk = usize::try_from(ii.max(1)).unwrap_or(usize::MAX);
        let mut out = Inventory { slots: BTreeMap::new(), ii: ii.max(1) };
        for (kind, list) in &self.slots {
            let folded = CLASSES.iter().flat_map(|&lane| {
                let class: Vec<Slot> = of_class(list, lane).cloned().collect();
                let chunks: Vec<Slot> = class
                    .chunks(chunk)
                    .filter_map(|c| {
                        let first = c.first()?;
                        let uses = c.iter().map(|s| s.uses).sum();
                        Some(c.iter().skip(1).fold(first.clone(), |j, s| j.joined(s, uses)))
                    })
                    .collect();
                chunks
            });
            out.slots.insert(*kind, folded.collect());
        }
        out
    }

    /// The inventory that serves both (instance-wise the wider, per-lane
    /// instances paired with per-lane ones, per-row with per-row).
    pub fn merge(&mut self, other: &Inventory) {
        self.ii = self.ii.max(other.ii);
        for (kind, theirs) in &other.slots {
            let ours = self.slots.entry(*kind).or_default();
            let mut merged = Vec::with_capacity(ours.len().max(theirs.len()));
            for lane in CLASSES {
                let mine: Vec<Slot> = of_class(ours, lane).cloned().collect();
                let yours: Vec<Slot> = of_class(theirs, lane).cloned().collect();
                let (pairs, mine_rest, yours_rest) = pair_by_op(&mine, &yours);
                merged.extend(pairs.into_iter().map(|(o, t)| o.joined(t, o.uses.max(t.uses))));
                for i in 0..mine_rest.len().max(yours_rest.len()) {
                    let slot = match (mine_rest.get(i), yours_rest.get(i)) {
                        (Some(o), Some(t)) => o.joined(t, o.uses.max(t.uses)),
                        (Some(s), None) | (None, Some(s)) => (*s).clone(),
                        (None, None) => continue,
                    };
                    merged.push(slot);
                }
            }
            sort_widest_first(&mut merged);
            *ours = merged;
        }
    }

    /// The number of primitive instances (one lane).
    pub fn len(&self) -> usize {
        self.slots.values().map(Vec::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The most instances of one kind a lane has: the largest `ii` at
    /// which folding can still remove an instance.
    pub fn widest_demand(&self) -> u64 {
        let class_len = |l: &Vec<Slot>| CLASSES.iter().map(|&lane| of_class(l, lane).count()).max().unwrap_or(0);
        self.slots.values().map(|l| class_len(l) as u64).max().unwrap_or(1)
    }
}

/// Pairs of slots of `a` and `b` that evaluate a common op (the same op
/// of a program in two passes, or the same position in two programs of
/// a kind: one instance, so its operands need no mux between them), in
/// `a`'s order, and the unpaired rest of each, in order.
fn pair_by_op<'a>(a: &'a [Slot], b: &'a [Slot]) -> (Vec<(&'a Slot, &'a Slot)>, Vec<&'a Slot>, Vec<&'a Slot>) {
    let mut taken = vec![false; b.len()];
    let mut pairs = Vec::new();
    let mut rest = Vec::new();
    for x in a {
        let common = |y: &Slot| x.evals.iter().any(|e| y.evals.iter().any(|f| f.op == e.op));
        match (0..b.len()).find(|&j| !taken[j] && common(&b[j])) {
            Some(j) => {
                taken[j] = true;
                pairs.push((x, &b[j]));
            }
            None => rest.push(x),
        }
    }
    let b_rest = b.iter().zip(&taken).filter(|(_, &t)| !t).map(|(y, _)| y).collect();
    (pairs, rest, b_rest)
}

/// The two classes of instances, in list order: per lane, then per row.
pub(super) const CLASSES: [bool; 2] = [true, false];

/// The instances of `list` of one class (`lane`: per lane), widest first.
pub(super) fn of_class(list: &[Slot], lane: bool) -> impl Iterator<Item = &Slot> {
    list.iter().filter(move |s| s.per_lane == lane)
}

/// Per-lane instances first, then per-row ones, each widest first.
fn sort_widest_first(list: &mut [Slot]) {
    list.sort_by(|x, y| {
        let key = |s: &Slot| (s.per_lane, s.primitive.out, s.primitive.a, s.primitive.b, s.uses);
        key(y).cmp(&key(x))
    });
}

/// The distinct passes of every program of one op kind under one method,
/// unfolded, and the most passes a program of it makes over its row.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Programs {
    pub passes: Vec<Inventory>,
    pub pass_count: u64,
}

impl Programs {
    /// Adds the program `ops` of `f`.
    fn add(&mut self, f: &Function, ops: &[Op]) {
        let list = passes(f, ops);
        let positions = positions(ops);
        self.pass_count = self.pass_count.max(list.len() as u64);
        for pass in list {
            let inv = Inventory::of_ops(f, &pass, &positions);
            if !self.passes.contains(&inv) {
                self.passes.push(inv);
            }
        }
    }

    /// What a unit running these programs at `ii` cycles per element per
    /// lane needs: every pass folded at `ii`, merged.
    pub fn fold(&self, ii: u64) -> Inventory {
        let mut inv = Inventory { slots: BTreeMap::new(), ii: ii.max(1) };
        for pass in &self.passes {
            inv.merge(&pass.folded(ii));
        }
        inv
    }

    /// The largest useful initiation interval: beyond it no pass has a
    /// primitive kind left to fold.
    pub fn max_useful_ii(&self) -> u64 {
        self.passes.iter().map(Inventory::widest_demand).max().unwrap_or(1).max(1)
    }
}

/// The position of each op of a program.
fn positions(ops: &[Op]) -> HashMap<Op, u32> {
    ops.iter().enumerate().map(|(i, &op)| (op, u32::try_from(i).unwrap_or(INPUT - 1))).collect()
}

/// The sources of `op`'s non-constant operands.
fn sources(f: &Function, op: Op, positions: &HashMap<Op, u32>) -> Vec<Source> {
    f.ops[op].operands.iter().filter(|&&v| !is_constant(f, v)).map(|&v| source(f, v, positions)).collect()
}

/// Where `v` comes from: back through wires (casts, constant shifts, the
/// mux of a conditional negate) to the primitive that computes it, or to
/// the unit's input when it comes from outside the program.
fn source(f: &Function, mut v: Value, positions: &HashMap<Op, u32>) -> Source {
    let mut shift = 0i64;
    loop {
        let Some(op) = f.defining_op(v) else { return Source { op: INPUT, shift } };
        let Some(&pos) = positions.get(&op) else { return Source { op: INPUT, shift } };
        if Primitive::of_nl_op(f, op).is_some() {
            return Source { op: pos, shift };
        }
        let data = &f.ops[op];
        if data.name() == nl::SHIFT.name {
            shift += data.attrs.get("amount").and_then(Attribute::as_int).unwrap_or(0);
        }
        let next = conditional_negate(f, op).or_else(|| data.operands.iter().copied().find(|&w| !is_constant(f, w)));
        match next {
            Some(w) => v = w,
            None => return Source { op: pos, shift },
        }
    }
}

/// Per op kind present in `f` and per method: the passes of all its ops'
/// programs, or why the method cannot build one of them.
pub type Inventories = BTreeMap<(OpKind, Method), Result<Programs, String>>;

/// Emits every op's program under every method into scratch copies of
/// `f` and reads their primitives.
pub fn inventories(f: &Function, resources: &ModuleResources, tables: QuarkTables) -> Inventories {
    let mut out = Inventories::new();
    for method in Method::ALL {
        let mut scratch = f.clone();
        for (kind, program) in LowerNonlinear::emit_programs(&mut scratch, resources, method, tables) {
            let entry = out.entry((kind, method)).or_insert_with(|| Ok(Programs::default()));
            match (entry.as_mut(), program) {
                (Ok(programs), Ok(ops)) => programs.add(&scratch, &ops),
                (Ok(_), Err(why)) => *entry = Err(why),
                (Err(_), _) => {}
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::unit::{unit_cost, unit_instances};
    use super::*;
    use weft_ir::hwcost::{self, Instance};

    fn slot(kind: PrimitiveKind, out: u64) -> Slot {
        Slot { primitive: Primitive::new(kind, out, 0, out, 1), per_lane: true, uses: 1, evals: Vec::new() }
    }

    fn inventory(slots: &[Slot]) -> Inventory {
        let mut inv = Inventory::default();
        for s in slots {
            inv.slots.entry(s.primitive.kind).or_default().push(s.clone());
        }
        inv.slots.values_mut().for_each(|l| sort_widest_first(l));
        inv
    }

    #[test]
    fn a_union_pairs_instances_widest_first() {
        let a = inventory(&[slot(PrimitiveKind::Exp2, 18), slot(PrimitiveKind::Exp2, 17)]);
        let b = inventory(&[slot(PrimitiveKind::Exp2, 20), slot(PrimitiveKind::Log2, 24)]);
        let unit = unit_instances(&[&a, &b], 8);
        let exp2: Vec<(u64, u64)> = unit
            .iter()
            .filter(|i| i.primitive.kind == PrimitiveKind::Exp2)
            .map(|i| (i.primitive.out, i.modes))
            .collect();
        assert_eq!(exp2, [(20, 2), (17, 1)]);
        assert_eq!(unit.iter().filter(|i| i.primitive.kind == PrimitiveKind::Log2).count(), 1);
        // Sharing never costs more than two units, and more than either alone.
        let (ua, ub, shared) = (unit_cost(&[&a], 8), unit_cost(&[&b], 8), unit_cost(&[&a, &b], 8));
        assert!(shared.weight() < ua.weight() + ub.weight());
        assert!(shared.weight() >= ua.weight().max(ub.weight()));
    }

    fn row(kind: PrimitiveKind, out: u64) -> Slot {
        Slot { per_lane: false, ..slot(kind, out) }
    }

    /// `(out, per_lane, modes)` of the unit's instances of `kind`.
    fn instances(unit: &[Instance], kind: PrimitiveKind) -> Vec<(u64, bool, u64)> {
        unit.iter().filter(|i| i.primitive.kind == kind).map(|i| (i.primitive.out, i.per_lane, i.modes)).collect()
    }

    #[test]
    fn per_row_instances_pair_only_with_per_row_ones() {
        // Layer norm: a 53-bit log2 of the row's sum (per row) and a 24-bit
        // log2 of |D| (per lane), in different passes.
        let sum_pass = inventory(&[row(PrimitiveKind::Log2, 53)]);
        let out_pass = inventory(&[slot(PrimitiveKind::Log2, 24), row(PrimitiveKind::Adder, 40)]);
        let mut norm = sum_pass.clone();
        norm.merge(&out_pass);
        let log2: Vec<(u64, bool)> =
            norm.slots[&PrimitiveKind::Log2].iter().map(|s| (s.primitive.out, s.per_lane)).collect();
        assert_eq!(log2, [(24, true), (53, false)], "the row's log2 is not copied into every lane");
        // A second mode with one per-lane log2 shares the per-lane one only.
        let softmax = inventory(&[slot(PrimitiveKind::Log2, 20), slot(PrimitiveKind::Adder, 30)]);
        let unit = unit_instances(&[&norm, &softmax], 16);
        assert_eq!(instances(&unit, PrimitiveKind::Log2), [(24, true, 2), (53, false, 1)]);
        assert_eq!(instances(&unit, PrimitiveKind::Adder), [(30, true, 1), (40, false, 1)]);
        // Pairing the row's log2 with the per-lane one would have put a
        // 53-bit log2 in every lane.
        let lanes = 16;
        let mut old = unit.clone();
        for i in old.iter_mut().filter(|i| i.primitive.kind == PrimitiveKind::Log2) {
            *i = Instance::new(i.primitive.widest(row(PrimitiveKind::Log2, 53).primitive), 2, true);
        }
        old.retain(|i| i.per_lane || i.primitive.kind != PrimitiveKind::Log2);
        let cost = unit_cost(&[&norm, &softmax], lanes);
        assert_eq!(cost, hwcost::unit(&unit, lanes, 2));
        assert!(cost.weight() < hwcost::unit(&old, lanes, 2).weight(), "{cost:?}");
        // Folding keeps the classes apart too.
        let pass = inventory(&[slot(PrimitiveKind::Exp2, 18), row(PrimitiveKind::Exp2, 40)]);
        let folded = Programs { passes: vec![pass], pass_count: 1 }.fold(2);
        let exp2: Vec<(u64, bool, u64)> =
            folded.slots[&PrimitiveKind::Exp2].iter().map(|s| (s.primitive.out, s.per_lane, s.uses)).collect();
        assert_eq!(exp2, [(18, true, 1), (40, false, 1)]);
    }

    #[test]
    fn folding_puts_ii_uses_on_one_instance_widest_first() {
        let pass = inventory(&[
            slot(PrimitiveKind::Exp2, 18),
            slot(PrimitiveKind::Exp2, 17),
            slot(PrimitiveKind::Exp2, 17),
            slot(PrimitiveKind::Log2, 24),
        ]);
        let programs = Programs { passes: vec![pass.clone()], pass_count: 1 };
        assert_eq!(programs.max_useful_ii(), 3);
        assert_eq!(programs.fold(1), pass);
        let exp2 = |inv: &Inventory| -> Vec<(u64, u64)> {
            inv.slots[&PrimitiveKind::Exp2].iter().map(|s| (s.primitive.out, s.uses)).collect()
        };
        assert_eq!(exp2(&programs.fold(2)), [(18, 2), (17, 1)]);
        assert_eq!(exp2(&programs.fold(3)), [(18, 3)]);
        assert_eq!(programs.fold(3).slots[&PrimitiveKind::Log2].len(), 1);
        // Folding saves area but pays muxes, hold registers and a sequencer.
        let (full, folded) = (unit_cost(&[&programs.fold(1)], 8), unit_cost(&[&programs.fold(3)], 8));
        assert!(folded.weight() < full.weight(), "{folded:?} {full:?}");
        assert!(
            folded.ff > unit_cost(&[&inventory(&[slot(PrimitiveKind::Exp2, 18), slot(PrimitiveKind::Log2, 24)])], 8).ff
        );
        // A shared unit's instance counts every mode's evaluations.
        let other = inventory(&[slot(PrimitiveKind::Exp2, 20)]);
        let folded3 = programs.fold(3);
        let unit = unit_instances(&[&folded3, &other], 8);
        let e = unit.iter().find(|i| i.primitive.kind == PrimitiveKind::Exp2).expect("exp2");
        assert_eq!((e.modes, e.uses, e.primitive.out, e.held()), (2, 4, 20, 2));
    }

    fn evaluated(op: u32, sources: &[Source]) -> Slot {
        let mut s = slot(PrimitiveKind::Adder, 8);
        s.evals = vec![Eval { op, sources: sources.to_vec() }];
        s
    }

    #[test]
    fn passes_share_the_instance_of_an_op_they_both_evaluate() {
        // Pass 2 has `x - max` (op 2, 9 bits); pass 3 recomputes it and adds
        // a wider subtractor (op 9). Op 2 stays on one instance: pairing
        // widest first would have put op 9 on op 2's pass-2 instance and
        // op 2 on a second one, with a mux in front of the first.
        let input = Source { op: INPUT, shift: 0 };
        let mut narrow = evaluated(2, &[input, Source { op: 1, shift: 0 }]);
        narrow.primitive = Primitive::new(PrimitiveKind::Adder, 8, 8, 9, 2);
        let mut wide = evaluated(9, &[Source { op: 5, shift: 0 }, Source { op: 8, shift: 0 }]);
        wide.primitive = Primitive::new(PrimitiveKind::Adder, 24, 24, 25, 2);
        let pass2 = inventory(&[narrow.clone()]);
        let pass3 = inventory(&[wide, narrow]);
        let merged = Programs { passes: vec![pass2, pass3], pass_count: 2 }.fold(1);
        let ops: Vec<Vec<u32>> =
            merged.slots[&PrimitiveKind::Adder].iter().map(|s| s.evals.iter().map(|e| e.op).collect()).collect();
        assert_eq!(ops, [vec![9], vec![2]]);
    }

    #[test]
    fn sources_look_through_wires_to_the_primitive() {
        let text = "func @f(%x: tensor<4xi8>) -> tensor<4xi13> {
  %c = constant dense<3> : tensor<i3>
  %e = nl.add %x, %c : (tensor<4xi8>, tensor<i3>) -> tensor<4xi9>
  %s = nl.shift %e {amount = 2} : (tensor<4xi9>) -> tensor<4xi11>
  %z = constant dense<0> : tensor<i1>
  %n = nl.sub %z, %s : (tensor<i1>, tensor<4xi11>) -> tensor<4xi12>
  %m = nl.mux %x, %n, %s : (tensor<4xi8>, tensor<4xi12>, tensor<4xi11>) -> tensor<4xi12>
  %r = nl.add %m, %x : (tensor<4xi12>, tensor<4xi8>) -> tensor<4xi13>
  return %r : tensor<4xi13>
}";
        let (_, module) = weft_ir::parser::parse_str(&weft_ir::Context::default(), "t.weft", text);
        let module = module.expect("parses");
        let f = &module.funcs[0];
        let ops = f.walk();
        let inv = Inventory::of_program(f, &ops);
        let mut evals: Vec<Eval> = inv.slots[&PrimitiveKind::Adder].iter().flat_map(|s| s.evals.clone()).collect();
        evals.sort();
        let input = Source { op: INPUT, shift: 0 };
        // %e (op 1) reads the input; %n (op 4) reads %e shifted left by 2;
        // %r (op 6) reads the conditional negate, i.e. %n, and the input.
        assert_eq!(
            evals,
            [
                Eval { op: 1, sources: vec![input] },
                Eval { op: 4, sources: vec![Source { op: 1, shift: 2 }] },
                Eval { op: 6, sources: vec![Source { op: 4, shift: 0 }, input] },
            ]
        );
    }
}
