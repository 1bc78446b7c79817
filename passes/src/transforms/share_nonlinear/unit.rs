//! One hardware unit serving several modes (op kinds): which of the
//! modes' primitive instances share one instance, and what the unit
//! costs. Per primitive kind and class (per lane, per row), the modes'
//! instances are paired into candidate groups, first by rank (widest
//! first, [`super::inventory`]), then by the wires their operands share.
//! A shared instance is as wide as its widest user and has, on each
//! operand, a mux with one input per distinct wire its users bring (two
//! modes whose operand is the output of the same shared instance, or the
//! unit's input, need none). Which users share is decided per group, as
//! is cheapest given the current owners of the operands' producers, in
//! rounds until stable.
//!
//! Invariants: a group's users are of distinct modes; grouping never
//! makes a unit dearer than its modes' instances apart within a round,
//! and the cheapest unit of any round is returned; the result depends
//! only on the inventories and the lanes (rounds, partitions and ties
//! in a fixed order), so it is deterministic.

use super::inventory::{of_class, Inventory, Slot, Source, CLASSES, INPUT};
use std::collections::{BTreeSet, HashMap};
use weft_ir::hwcost::{self, Instance, PrimitiveKind, Resources, MAX_OPERANDS};

/// A candidate group: at most one slot of each mode, all of one primitive
/// kind and class, with the mode's index.
struct Users<'a> {
    per_lane: bool,
    slots: Vec<(usize, &'a Slot)>,
}

/// The candidate groups of `members`' slots: per primitive kind and class
/// (per lane, per row), the modes' `i`-th instances of that class.
fn candidate_users<'a>(members: &[&'a Inventory]) -> Vec<Users<'a>> {
    let mut out = Vec::new();
    for (kind, lane) in kinds_and_classes(members) {
        let lists: Vec<(usize, Vec<&Slot>)> = members
            .iter()
            .enumerate()
            .filter_map(|(m, inv)| Some((m, of_class(inv.slots.get(&kind)?, lane).collect())))
            .collect();
        let count = lists.iter().map(|l| l.1.len()).max().unwrap_or(0);
        for i in 0..count {
            let slots = lists.iter().filter_map(|(m, l)| Some((*m, *l.get(i)?))).collect();
            out.push(Users { per_lane: lane, slots });
        }
    }
    out
}

/// Every primitive kind any member has, in order, with each class (per
/// lane, then per row).
fn kinds_and_classes(members: &[&Inventory]) -> Vec<(PrimitiveKind, bool)> {
    let mut kinds: Vec<PrimitiveKind> = members.iter().flat_map(|m| m.slots.keys().copied()).collect();
    kinds.sort();
    kinds.dedup();
    kinds.into_iter().flat_map(|k| CLASSES.map(|lane| (k, lane))).collect()
}

/// The candidate groups of `members`' slots paired by wires: per
/// primitive kind and class, the first mode's instances are the columns;
/// each instance of a later mode (widest first) joins the free column
/// whose users share the most operand wires with it under `owners`
/// (nearest its own rank on a tie), or, sharing none, the column of its
/// rank when free ([`candidate_users`]' pairing), else the first free one,
/// else a new one.
fn paired_users<'a>(members: &[&'a Inventory], owners: &Owners) -> Vec<Users<'a>> {
    let mut out = Vec::new();
    for (kind, lane) in kinds_and_classes(members) {
        let mut columns: Vec<Column> = Vec::new();
        for (m, inv) in members.iter().enumerate() {
            let Some(list) = inv.slots.get(&kind) else { continue };
            for (rank, slot) in of_class(list, lane).enumerate() {
                match column_for(&columns, m, rank, &slot_wires(m, slot, owners), owners) {
                    Some(i) => columns[i].push((m, slot)),
                    None => columns.push(vec![(m, slot)]),
                }
            }
        }
        out.extend(columns.into_iter().map(|slots| Users { per_lane: lane, slots }));
    }
    out
}

/// The users gathered so far for one instance.
type Column<'a> = Vec<(usize, &'a Slot)>;

/// The column an instance of mode `mode` at `rank` (with operand wires
/// `mine`) joins, `None` for a new one: see [`paired_users`].
fn column_for(
    columns: &[Column],
    mode: usize,
    rank: usize,
    mine: &[BTreeSet<Wire>; MAX_OPERANDS],
    owners: &Owners,
) -> Option<usize> {
    let free = |c: &Column| c.iter().all(|(n, _)| *n != mode);
    let best = columns
        .iter()
        .enumerate()
        .filter(|(_, c)| free(c))
        .map(|(i, c)| (agreement(mine, c, owners), i))
        .filter(|&(a, _)| a > 0)
        .max_by_key(|&(a, i)| (a, std::cmp::Reverse(i.abs_diff(rank)), std::cmp::Reverse(i)));
    best.map(|(_, i)| i)
        .or_else(|| columns.get(rank).filter(|c| free(c)).map(|_| rank))
        .or_else(|| columns.iter().position(free))
}

/// Per operand, the wires of a slot's evaluations.
fn slot_wires(mode: usize, slot: &Slot, owners: &Owners) -> [BTreeSet<Wire>; MAX_OPERANDS] {
    let mut wires: [BTreeSet<Wire>; MAX_OPERANDS] = Default::default();
    for e in &slot.evals {
        for (k, &src) in e.sources.iter().enumerate().take(MAX_OPERANDS) {
            wires[k].insert(wire(mode, src, owners));
        }
    }
    wires
}

/// How many of `mine` (per operand) the column's users already bring.
fn agreement(mine: &[BTreeSet<Wire>; MAX_OPERANDS], column: &[(usize, &Slot)], owners: &Owners) -> usize {
    let theirs: Vec<[BTreeSet<Wire>; MAX_OPERANDS]> = column.iter().map(|(m, s)| slot_wires(*m, s, owners)).collect();
    (0..MAX_OPERANDS).map(|k| mine[k].iter().filter(|w| theirs.iter().any(|t| t[k].contains(w))).count()).sum()
}

/// Which slots each group holds, to tell two pairings apart.
fn pairing_key(users: &[Users]) -> Vec<Vec<(usize, *const Slot)>> {
    users.iter().map(|u| u.slots.iter().map(|&(m, s)| (m, std::ptr::from_ref(s))).collect()).collect()
}

/// Which instance evaluates an op: `(mode, op position)` to
/// `(users index, group label)`.
type Owners = HashMap<(usize, u32), (usize, usize)>;

fn owners(users: &[Users], labels: &[Vec<usize>]) -> Owners {
    let mut out = Owners::new();
    for (u, (users, labels)) in users.iter().zip(labels).enumerate() {
        for (&(m, slot), &g) in users.slots.iter().zip(labels) {
            for e in &slot.evals {
                out.entry((m, e.op)).or_insert((u, g));
            }
        }
    }
    out
}

/// An operand's wire as the unit sees it: the unit's input, an instance
/// of the unit, or an op no instance evaluates (its own wire).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Wire {
    Input(i64),
    Instance(usize, usize, i64),
    Other(usize, u32, i64),
}

fn wire(mode: usize, s: Source, owners: &Owners) -> Wire {
    if s.op == INPUT {
        return Wire::Input(s.shift);
    }
    match owners.get(&(mode, s.op)) {
        Some(&(u, g)) => Wire::Instance(u, g, s.shift),
        None => Wire::Other(mode, s.op, s.shift),
    }
}

/// The instance serving `group` (slots of distinct modes): as wide as
/// its widest, used by each, with one mux input per distinct wire on each
/// operand (unknown wires: every evaluation its own input).
fn instance(group: &[(usize, &Slot)], per_lane: bool, owners: &Owners) -> Option<Instance> {
    let first = group.first()?.1;
    let primitive = group.iter().fold(first.primitive, |p, (_, s)| p.widest(s.primitive));
    let uses = group.iter().map(|(_, s)| s.uses).sum();
    let mut out = Instance { uses, ..Instance::new(primitive, group.len() as u64, per_lane) };
    if group.iter().all(|(_, s)| !s.evals.is_empty()) {
        let mut wires: [BTreeSet<Wire>; MAX_OPERANDS] = Default::default();
        for (m, slot) in group {
            for (all, mine) in wires.iter_mut().zip(slot_wires(*m, slot, owners)) {
                all.extend(mine);
            }
        }
        out.inputs = Some(wires.map(|w| w.len().max(1) as u64));
    }
    Some(out)
}

/// The instances of `users` grouped by `labels`.
fn grouped(users: &Users, labels: &[usize], owners: &Owners) -> Vec<Instance> {
    let groups = labels.iter().copied().max().map_or(0, |m| m + 1);
    (0..groups)
        .filter_map(|g| {
            let group: Vec<(usize, &Slot)> =
                users.slots.iter().zip(labels).filter(|(_, &l)| l == g).map(|(s, _)| *s).collect();
            instance(&group, users.per_lane, owners)
        })
        .collect()
}

fn weight(list: &[Instance], lanes: u64) -> u64 {
    list.iter().map(|i| i.cost(lanes).weight()).sum()
}

/// Users at most this many are grouped exactly (203 partitions); beyond,
/// they are either all shared or all apart.
const EXACT_GROUPING: usize = 6;

/// Rounds of regrouping from one start ([`unit_instances`]).
const MAX_ROUNDS: usize = 24;

/// The cheapest grouping of `users` when the operands' wires are those of
/// `owners`: the partition of least weight (then fewer instances, then
/// the first in restricted-growth order, which starts with everything
/// shared).
fn cheapest_labels(users: &Users, owners: &Owners, lanes: u64) -> Vec<usize> {
    let n = users.slots.len();
    let candidates = if n <= EXACT_GROUPING { partitions(n) } else { vec![vec![0; n], (0..n).collect()] };
    let mut best: Option<((u64, usize), Vec<usize>)> = None;
    for labels in candidates {
        let list = grouped(users, &labels, owners);
        let key = (weight(&list, lanes), list.len());
        if best.as_ref().is_none_or(|b| key < b.0) {
            best = Some((key, labels));
        }
    }
    best.map(|b| b.1).unwrap_or_default()
}

/// One unit serving `members` (one inventory per mode) with `lanes`
/// lanes. Per primitive kind and class (per lane, per row), a candidate
/// group of the modes' instances (by rank in the first round, then by
/// shared wires, [`paired_users`]) may share one instance,
/// as wide as its widest user, with a mux on each operand of as many
/// inputs as the users bring distinct wires (two modes whose operand is
/// the output of the same shared instance need none). Which users share
/// is chosen per group as is cheapest given where the operands come
/// from, in rounds until the pairing and grouping are stable (from
/// everything apart, and from everything shared); the cheapest unit of
/// any round wins.
/// Sharing a small adder whose operand muxes cost more than the copy
/// they save keeps it one instance per mode.
pub fn unit_instances(members: &[&Inventory], lanes: u64) -> Vec<Instance> {
    let mut best: Option<(u64, Vec<Instance>)> = None;
    for all_shared in [false, true] {
        let mut users = candidate_users(members);
        let mut labels: Vec<Vec<usize>> = users
            .iter()
            .map(|u| if all_shared { vec![0; u.slots.len()] } else { (0..u.slots.len()).collect() })
            .collect();
        for _ in 0..MAX_ROUNDS {
            let before = owners(&users, &labels);
            let paired = paired_users(members, &before);
            let next: Vec<Vec<usize>> = paired.iter().map(|u| cheapest_labels(u, &before, lanes)).collect();
            let after = owners(&paired, &next);
            let list: Vec<Instance> = paired.iter().zip(&next).flat_map(|(u, l)| grouped(u, l, &after)).collect();
            let w = weight(&list, lanes);
            if best.as_ref().is_none_or(|b| w < b.0) {
                best = Some((w, list));
            }
            let stable = next == labels && pairing_key(&paired) == pairing_key(&users);
            users = paired;
            labels = next;
            if stable {
                break;
            }
        }
    }
    best.map(|b| b.1).unwrap_or_default()
}

/// Every partition of `n` items as restricted growth strings (item `i`'s
/// group label is at most one more than the largest label before it), in
/// lexicographic order: all in one group first.
fn partitions(n: usize) -> Vec<Vec<usize>> {
    let mut out = Vec::new();
    if n == 0 {
        out.push(Vec::new());
    } else {
        grow(&mut vec![0usize; n], 1, 0, &mut out);
    }
    out
}

/// The partitions of [`partitions`] whose labels before `at` are fixed,
/// `top` the largest of them.
fn grow(labels: &mut Vec<usize>, at: usize, top: usize, out: &mut Vec<Vec<usize>>) {
    if at == labels.len() {
        out.push(labels.clone());
        return;
    }
    for l in 0..=top + 1 {
        labels[at] = l;
        grow(labels, at + 1, top.max(l), out);
    }
}

/// The resources of one unit serving `members`, with the sequencer of
/// its slowest mode.
pub fn unit_cost(members: &[&Inventory], lanes: u64) -> Resources {
    unit(members, lanes).1
}

/// The instances of one unit serving `members` ([`unit_instances`]) and
/// its resources, with the sequencer of its slowest mode.
pub fn unit(members: &[&Inventory], lanes: u64) -> (Vec<Instance>, Resources) {
    let ii = members.iter().map(|m| m.ii).max().unwrap_or(1);
    let instances = unit_instances(members, lanes);
    let cost = hwcost::unit(&instances, lanes, members.len() as u64) + hwcost::sequencer(ii);
    (instances, cost)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transforms::share_nonlinear::inventory::Eval;
    use weft_ir::hwcost::Primitive;

    fn from(op: u32) -> Source {
        Source { op, shift: 0 }
    }

    /// A per-lane slot evaluating op `op` of its program from `sources`.
    fn slot(kind: PrimitiveKind, width: u64, op: u32, sources: &[Source]) -> Slot {
        let operands = sources.len() as u64;
        Slot {
            primitive: Primitive::new(kind, width, width, width + 1, operands),
            per_lane: true,
            uses: 1,
            evals: vec![Eval { op, sources: sources.to_vec() }],
        }
    }

    fn inventory(slots: Vec<Slot>) -> Inventory {
        let mut inv = Inventory::default();
        for s in slots {
            inv.slots.entry(s.primitive.kind).or_default().push(s);
        }
        inv
    }

    fn find(unit: &[Instance], kind: PrimitiveKind) -> Vec<(u64, Option<[u64; MAX_OPERANDS]>)> {
        unit.iter().filter(|i| i.primitive.kind == kind).map(|i| (i.modes, i.inputs)).collect()
    }

    #[test]
    fn operands_on_a_shared_wire_need_no_mux() {
        // Both modes: exp2 of the input, then an adder of the exp2 and the input.
        let mode = |w| {
            inventory(vec![
                slot(PrimitiveKind::Exp2, w, 0, &[from(INPUT)]),
                slot(PrimitiveKind::Adder, w, 1, &[from(0), from(INPUT)]),
            ])
        };
        let (a, b) = (mode(20), mode(18));
        let unit = unit_instances(&[&a, &b], 8);
        assert_eq!(find(&unit, PrimitiveKind::Exp2), [(2, Some([1, 1, 1]))]);
        assert_eq!(find(&unit, PrimitiveKind::Adder), [(2, Some([1, 1, 1]))]);
        // Sharing the adder is cheaper than two adders once no mux is needed.
        let apart = unit_cost(&[&a], 8) + unit_cost(&[&b], 8);
        assert!(unit_cost(&[&a, &b], 8).weight() < apart.weight());
    }

    #[test]
    fn sharing_is_chosen_per_instance_by_what_its_muxes_cost() {
        // Each mode's adder reads a comparator only that mode has (the two
        // comparators differ in width, so they do not pair).
        let a = inventory(vec![
            slot(PrimitiveKind::Comparator, 8, 0, &[from(INPUT)]),
            slot(PrimitiveKind::Adder, 8, 1, &[from(0), from(INPUT)]),
        ]);
        let b = inventory(vec![slot(PrimitiveKind::Adder, 8, 3, &[from(INPUT), from(INPUT)])]);
        let unit = unit_instances(&[&a, &b], 8);
        // One operand from two wires, the other from the input: a 2:1 mux
        // on 8 bits (4 LUTs) is less than the 9-bit adder it saves (9 LUT
        // and 9 FF), so the adder is shared with one mux.
        assert_eq!(find(&unit, PrimitiveKind::Adder), [(2, Some([2, 1, 1]))]);
        // A 40-bit adder and an 8-bit one from different wires: shared,
        // the 8-bit mode would pay a 40-bit adder's muxes (40 LUTs) to save
        // 9 LUT and 9 FF: apart.
        let c = inventory(vec![slot(PrimitiveKind::Adder, 40, 7, &[from(5), from(6)])]);
        let d = inventory(vec![slot(PrimitiveKind::Adder, 8, 9, &[from(2), from(4)])]);
        let unit = unit_instances(&[&c, &d], 8);
        assert_eq!(find(&unit, PrimitiveKind::Adder), [(1, Some([1, 1, 1])), (1, Some([1, 1, 1]))]);
    }

    #[test]
    fn instances_pair_across_modes_by_their_wires() {
        // Both modes: exp2 of the input (op 0). Mode a's wider adder reads
        // the exp2, mode b's narrower one does; ranked widest first they
        // would pair wide with wide, each with an operand from two wires.
        let a = inventory(vec![
            slot(PrimitiveKind::Exp2, 20, 0, &[from(INPUT)]),
            slot(PrimitiveKind::Adder, 24, 1, &[from(0), from(0)]),
            slot(PrimitiveKind::Adder, 20, 2, &[from(INPUT), from(INPUT)]),
        ]);
        let b = inventory(vec![
            slot(PrimitiveKind::Exp2, 20, 0, &[from(INPUT)]),
            slot(PrimitiveKind::Adder, 24, 1, &[from(INPUT), from(INPUT)]),
            slot(PrimitiveKind::Adder, 20, 2, &[from(0), from(0)]),
        ]);
        let unit = unit_instances(&[&a, &b], 8);
        let adders: Vec<(u64, u64, Option<[u64; MAX_OPERANDS]>)> = unit
            .iter()
            .filter(|i| i.primitive.kind == PrimitiveKind::Adder)
            .map(|i| (i.primitive.a, i.modes, i.inputs))
            .collect();
        assert_eq!(adders, [(24, 2, Some([1, 1, 1])), (24, 2, Some([1, 1, 1]))]);
    }

    #[test]
    fn partitions_are_bell_numbers_with_all_shared_first() {
        let counts: Vec<usize> = (0..7).map(|n| partitions(n).len()).collect();
        assert_eq!(counts, [1, 1, 2, 5, 15, 52, 203]);
        assert_eq!(partitions(3)[0], [0, 0, 0]);
        assert_eq!(partitions(3)[4], [0, 1, 2]);
    }
}
