//! The merge bound: how far sharing could go at best, given the units
//! each kind would have on its own.
//!
//! The bound takes each unit's primitive instances as they are (its
//! method, its interval, its own folding of its evaluations) and merges,
//! for each primitive kind and placement (per lane or per row), the
//! `j`-th costliest instance of every unit into one, at the cost of the
//! costliest of them and with no mux. Matching by rank minimizes a sum
//! of maxima, and a real merged instance is at least as wide as each of
//! its members and pays muxes, so no shared unit of the same members
//! that keeps each kind's instances can cost less LUT + FF than this
//! (an estimate, not a theorem, for a shared unit that folds one kind's
//! evaluations differently from its own unit). It measures the datapaths,
//! not the sharing plan: when the bound is far below the shared unit,
//! the plan leaves sharing on the table; when it is close, what is left
//! is glue that only one kind has.
//!
//! Invariant: the bound is at most the units' total and at least any one
//! unit's own instances (each unit is one of the merged members).

use super::choose::Choice;
use std::collections::BTreeMap;
use weft_ir::hwcost::PrimitiveKind;

/// LUT + FF of the merge bound of `units` in `lanes` lanes.
pub fn merge_bound(units: &[Choice], lanes: u64) -> u64 {
    // Per (primitive kind, per lane): each unit's instance costs, costliest first.
    let mut groups: BTreeMap<(PrimitiveKind, bool), Vec<Vec<u64>>> = BTreeMap::new();
    for unit in units {
        let mut own: BTreeMap<(PrimitiveKind, bool), Vec<u64>> = BTreeMap::new();
        for i in &unit.instances {
            let r = i.cost(lanes);
            own.entry((i.primitive.kind, i.per_lane)).or_default().push(r.lut + r.ff);
        }
        for (key, mut costs) in own {
            costs.sort_unstable_by(|a, b| b.cmp(a));
            groups.entry(key).or_default().push(costs);
        }
    }
    groups.values().map(|lists| rank_maxima(lists)).sum()
}

/// The sum over ranks `j` of the largest `j`-th entry of `lists` (each
/// sorted costliest first).
fn rank_maxima(lists: &[Vec<u64>]) -> u64 {
    let ranks = lists.iter().map(Vec::len).max().unwrap_or(0);
    (0..ranks).map(|j| lists.iter().filter_map(|l| l.get(j)).copied().max().unwrap_or(0)).sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transforms::lower_nonlinear::{Method, OpKind};
    use weft_ir::hwcost::{Instance, Primitive};

    fn instance(kind: PrimitiveKind, width: u64, per_lane: bool) -> Instance {
        Instance {
            primitive: Primitive { kind, a: width, b: width, out: width + 1, operands: 2 },
            per_lane,
            modes: 1,
            uses: 1,
            inputs: None,
        }
    }

    fn unit_of(kind: OpKind, instances: Vec<Instance>) -> Choice {
        let cost = instances.iter().map(|i| i.cost(4)).sum();
        Choice {
            methods: [(kind, Method::Quark)].into_iter().collect(),
            ii: [(kind, 1)].into_iter().collect(),
            cost,
            instances,
        }
    }

    fn lut_ff(i: &Instance) -> u64 {
        let r = i.cost(4);
        r.lut + r.ff
    }

    #[test]
    fn same_rank_instances_merge_at_the_larger_cost() {
        let (a8, a16, a12) = (
            instance(PrimitiveKind::Adder, 8, true),
            instance(PrimitiveKind::Adder, 16, true),
            instance(PrimitiveKind::Adder, 12, true),
        );
        let softmax = unit_of(OpKind::Softmax, vec![a8, a16]);
        let gelu = unit_of(OpKind::Gelu, vec![a12]);
        // Ranks: 16 with 12, then 8 alone.
        assert_eq!(merge_bound(&[softmax, gelu], 4), lut_ff(&a16) + lut_ff(&a8));
    }

    #[test]
    fn kinds_and_placements_never_merge() {
        let lane = instance(PrimitiveKind::Adder, 8, true);
        let row = instance(PrimitiveKind::Adder, 8, false);
        let shift = instance(PrimitiveKind::BarrelShifter, 8, true);
        let a = unit_of(OpKind::Softmax, vec![lane]);
        let b = unit_of(OpKind::Gelu, vec![row, shift]);
        assert_eq!(merge_bound(&[a, b], 4), lut_ff(&lane) + lut_ff(&row) + lut_ff(&shift));
    }

    #[test]
    fn the_bound_is_at_most_the_total_and_at_least_each_unit() {
        let a = unit_of(
            OpKind::Softmax,
            vec![instance(PrimitiveKind::Adder, 24, true), instance(PrimitiveKind::Adder, 9, true)],
        );
        let b = unit_of(OpKind::LayerNorm, vec![instance(PrimitiveKind::Adder, 30, true)]);
        let units = [a, b];
        let bound = merge_bound(&units, 4);
        let own = |u: &Choice| u.instances.iter().map(lut_ff).sum::<u64>();
        assert!(bound < own(&units[0]) + own(&units[1]));
        assert!(units.iter().all(|u| bound >= own(u)));
    }
}
