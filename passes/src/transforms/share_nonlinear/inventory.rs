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
use std::collections::BTreeMap;
use weft_ir::hwcost::{self, Instance, Primitive, PrimitiveKind, Resources};
use weft_ir::resources::Resources as ModuleResources;
use weft_ir::{Function, Op};

/// One primitive instance of a program.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Slot {
    pub primitive: Primitive,
    /// Elementwise work (once per lane) rather than once per row.
    pub per_lane: bool,
    /// Evaluations per element (above 1 when time-multiplexed).
    pub uses: u64,
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
        let mut inv = Inventory::default();
        for pass in passes(f, ops) {
            inv.merge(&Inventory::of_ops(f, &pass));
        }
        inv
    }

    /// The primitives of `ops` all active at once (one pipelined pass):
    /// `(op, per_lane)` pairs.
    fn of_ops(f: &Function, ops: &[(Op, bool)]) -> Inventory {
        let mut inv = Inventory::default();
        for &(op, per_lane) in ops {
            let Some(primitive) = Primitive::of_nl_op(f, op) else { continue };
            inv.slots.entry(primitive.kind).or_default().push(Slot { primitive, per_lane, uses: 1 });
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
                let class: Vec<Slot> = of_class(list, lane).copied().collect();
                let chunks: Vec<Slot> = class
                    .chunks(chunk)
                    .filter_map(|c| {
                        let first = c.first()?;
                        let primitive = c.iter().fold(first.primitive, |p, s| p.widest(s.primitive));
                        let uses = c.iter().map(|s| s.uses).sum();
                        Some(Slot { primitive, per_lane: lane, uses })
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
                let mine: Vec<Slot> = of_class(ours, lane).copied().collect();
                let yours: Vec<Slot> = of_class(theirs, lane).copied().collect();
                for i in 0..mine.len().max(yours.len()) {
                    let slot = match (mine.get(i), yours.get(i)) {
                        (Some(o), Some(t)) => Slot {
                            primitive: o.primitive.widest(t.primitive),
                            per_lane: lane,
                            uses: o.uses.max(t.uses),
                        },
                        (Some(s), None) | (None, Some(s)) => *s,
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

/// The two classes of instances, in list order: per lane, then per row.
const CLASSES: [bool; 2] = [true, false];

/// The instances of `list` of one class (`lane`: per lane), widest first.
fn of_class(list: &[Slot], lane: bool) -> impl Iterator<Item = &Slot> {
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
        self.pass_count = self.pass_count.max(list.len() as u64);
        for pass in list {
            let inv = Inventory::of_ops(f, &pass);
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

/// One unit serving `members` (one inventory per mode): per primitive
/// kind and class (per lane, per row), as many instances as the most
/// demanding mode needs, the `i`-th as wide as every mode's `i`-th of
/// that class, used by the modes that have one.
pub fn unit_instances(members: &[&Inventory]) -> Vec<Instance> {
    let mut kinds: Vec<PrimitiveKind> = members.iter().flat_map(|m| m.slots.keys().copied()).collect();
    kinds.sort();
    kinds.dedup();
    let mut out = Vec::new();
    for kind in kinds {
        for lane in CLASSES {
            let lists: Vec<Vec<&Slot>> =
                members.iter().filter_map(|m| m.slots.get(&kind)).map(|l| of_class(l, lane).collect()).collect();
            let count = lists.iter().map(Vec::len).max().unwrap_or(0);
            for i in 0..count {
                let users: Vec<&Slot> = lists.iter().filter_map(|l| l.get(i).copied()).collect();
                let Some(first) = users.first() else { continue };
                let primitive = users.iter().fold(first.primitive, |p, s| p.widest(s.primitive));
                let uses = users.iter().map(|s| s.uses).sum();
                out.push(Instance { uses, ..Instance::new(primitive, users.len() as u64, lane) });
            }
        }
    }
    out
}

/// The resources of one unit serving `members`, with the sequencer of
/// its slowest mode.
pub fn unit_cost(members: &[&Inventory], lanes: u64) -> Resources {
    let ii = members.iter().map(|m| m.ii).max().unwrap_or(1);
    hwcost::unit(&unit_instances(members), lanes, members.len() as u64) + hwcost::sequencer(ii)
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
    use super::*;

    fn slot(kind: PrimitiveKind, out: u64) -> Slot {
        Slot { primitive: Primitive::new(kind, out, 0, out, 1), per_lane: true, uses: 1 }
    }

    fn inventory(slots: &[Slot]) -> Inventory {
        let mut inv = Inventory::default();
        for s in slots {
            inv.slots.entry(s.primitive.kind).or_default().push(*s);
        }
        inv.slots.values_mut().for_each(|l| sort_widest_first(l));
        inv
    }

    #[test]
    fn a_union_pairs_instances_widest_first() {
        let a = inventory(&[slot(PrimitiveKind::Exp2, 18), slot(PrimitiveKind::Exp2, 17)]);
        let b = inventory(&[slot(PrimitiveKind::Exp2, 20), slot(PrimitiveKind::Log2, 24)]);
        let unit = unit_instances(&[&a, &b]);
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
        let unit = unit_instances(&[&norm, &softmax]);
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
        let unit = unit_instances(&[&folded3, &other]);
        let e = unit.iter().find(|i| i.primitive.kind == PrimitiveKind::Exp2).expect("exp2");
        assert_eq!((e.modes, e.uses, e.primitive.out, e.held()), (2, 4, 20, 2));
    }
}
