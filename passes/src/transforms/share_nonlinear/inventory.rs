//! What hardware each op kind needs under each method: its programs are
//! emitted by `lower-nonlinear`'s own emitters into scratch copies of the
//! function, and every emitted nl op is read as a primitive of the
//! resource model (`weft_ir::hwcost`). The union over several op kinds
//! (the shared unit) and its cost are here too.
//!
//! Invariants: a program's inventory is the instance-wise merge of its
//! passes' ([`super::schedule`]), so it holds what the busiest pass needs;
//! an [`Inventory`] holds, per primitive kind, its instances
//! widest first; merging two inventories pairs instances in that order
//! and keeps the wider of each pair, so the result serves both; the cost
//! of a union depends only on the inventories and the lanes.

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
}

/// The primitive instances of one op kind's programs under one method.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Inventory {
    pub slots: BTreeMap<PrimitiveKind, Vec<Slot>>,
}

impl Inventory {
    /// The primitives of the ops `ops` of `f` (one program, in program
    /// order), as a streaming unit needs them ([`passes`]): per primitive
    /// kind, the most instances any one pass over the row uses.
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
            inv.slots.entry(primitive.kind).or_default().push(Slot { primitive, per_lane });
        }
        for list in inv.slots.values_mut() {
            sort_widest_first(list);
        }
        inv
    }

    /// The inventory that serves both (instance-wise the wider).
    pub fn merge(&mut self, other: &Inventory) {
        for (kind, theirs) in &other.slots {
            let ours = self.slots.entry(*kind).or_default();
            for (i, t) in theirs.iter().enumerate() {
                match ours.get_mut(i) {
                    Some(o) => {
                        o.primitive = o.primitive.widest(t.primitive);
                        o.per_lane |= t.per_lane;
                    }
                    None => ours.push(*t),
                }
            }
            sort_widest_first(ours);
        }
    }

    /// The number of primitive instances (one lane).
    pub fn len(&self) -> usize {
        self.slots.values().map(Vec::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

fn sort_widest_first(list: &mut [Slot]) {
    list.sort_by(|x, y| {
        let key = |s: &Slot| (s.primitive.out, s.primitive.a, s.primitive.b, s.per_lane);
        key(y).cmp(&key(x))
    });
}

/// One unit serving `members` (one inventory per mode): per primitive
/// kind, as many instances as the most demanding mode needs, the `i`-th
/// as wide as every mode's `i`-th, used by the modes that have one.
pub fn unit_instances(members: &[&Inventory]) -> Vec<Instance> {
    let mut kinds: Vec<PrimitiveKind> = members.iter().flat_map(|m| m.slots.keys().copied()).collect();
    kinds.sort();
    kinds.dedup();
    let mut out = Vec::new();
    for kind in kinds {
        let lists: Vec<&Vec<Slot>> = members.iter().filter_map(|m| m.slots.get(&kind)).collect();
        let count = lists.iter().map(|l| l.len()).max().unwrap_or(0);
        for i in 0..count {
            let users: Vec<&Slot> = lists.iter().filter_map(|l| l.get(i)).collect();
            let Some(first) = users.first() else { continue };
            let primitive = users.iter().fold(first.primitive, |p, s| p.widest(s.primitive));
            let per_lane = users.iter().any(|s| s.per_lane);
            out.push(Instance { primitive, modes: users.len() as u64, per_lane });
        }
    }
    out
}

/// The resources of one unit serving `members`.
pub fn unit_cost(members: &[&Inventory], lanes: u64) -> Resources {
    hwcost::unit(&unit_instances(members), lanes, members.len() as u64)
}

/// Per op kind present in `f` and per method: the inventory of all its
/// ops' programs, or why the method cannot build one of them.
pub type Inventories = BTreeMap<(OpKind, Method), Result<Inventory, String>>;

/// Emits every op's program under every method into scratch copies of
/// `f` and reads their primitives.
pub fn inventories(f: &Function, resources: &ModuleResources, tables: QuarkTables) -> Inventories {
    let mut out = Inventories::new();
    for method in Method::ALL {
        let mut scratch = f.clone();
        for (kind, program) in LowerNonlinear::emit_programs(&mut scratch, resources, method, tables) {
            let entry = out.entry((kind, method)).or_insert_with(|| Ok(Inventory::default()));
            match (entry.as_mut(), program) {
                (Ok(inv), Ok(ops)) => inv.merge(&Inventory::of_program(&scratch, &ops)),
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
        Slot { primitive: Primitive::new(kind, out, 0, out, 1), per_lane: true }
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
}
