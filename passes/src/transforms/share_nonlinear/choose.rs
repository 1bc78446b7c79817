//! The choice of one method per op kind. Candidates of a kind are the
//! methods whose datapath the e-graph extracted, whose emitter builds
//! every op of the kind, and whose measured error is within the kind's
//! budget. Shared: every combination of candidates is costed as one unit
//! (the union of the programs' primitives, [`super::inventory`]) and the
//! least is chosen; unshared: each kind alone, its cheapest candidate.
//!
//! Exactness: the search enumerates the whole product of the candidate
//! sets (at most 3^10 combinations, in practice 3^3), so the shared
//! choice is the optimum of the model, not a heuristic. Ties are broken
//! by the method order (quark, ibert, lut) of the kinds in order, so the
//! choice is deterministic.

use super::inventory::{unit_cost, unit_instances, Inventories, Inventory};
use crate::transforms::lower_nonlinear::{Method, OpKind};
use std::collections::BTreeMap;
use weft_ir::hwcost::{Instance, Resources};

/// One method per op kind, and what the hardware costs.
#[derive(Debug, Clone, PartialEq)]
pub struct Choice {
    pub methods: BTreeMap<OpKind, Method>,
    pub cost: Resources,
    /// The unit's primitive instances.
    pub instances: Vec<Instance>,
}

fn inventory(invs: &Inventories, kind: OpKind, method: Method) -> Option<&Inventory> {
    invs.get(&(kind, method)).and_then(|r| r.as_ref().ok())
}

/// The cheapest single unit serving every kind of `candidates`.
pub fn shared(candidates: &BTreeMap<OpKind, Vec<Method>>, invs: &Inventories, lanes: u64) -> Option<Choice> {
    let kinds: Vec<OpKind> = candidates.keys().copied().collect();
    let sets: Vec<&Vec<Method>> = candidates.values().collect();
    if sets.iter().any(|s| s.is_empty()) {
        return None;
    }
    let mut index = vec![0usize; kinds.len()];
    let mut best: Option<Choice> = None;
    loop {
        let methods: BTreeMap<OpKind, Method> =
            kinds.iter().enumerate().filter_map(|(pos, &k)| Some((k, *sets[pos].get(index[pos])?))).collect();
        let members: Option<Vec<&Inventory>> = methods.iter().map(|(&k, &m)| inventory(invs, k, m)).collect();
        if let Some(members) = members {
            let cost = unit_cost(&members, lanes);
            if best.as_ref().is_none_or(|b| cost.weight() < b.cost.weight()) {
                best = Some(Choice { methods, cost, instances: unit_instances(&members) });
            }
        }
        if !advance(&mut index, &sets) {
            return best;
        }
    }
}

/// The next combination in odometer order (the last kind fastest);
/// `false` after the last.
fn advance(index: &mut [usize], sets: &[&Vec<Method>]) -> bool {
    for pos in (0..index.len()).rev() {
        index[pos] += 1;
        if index[pos] < sets[pos].len() {
            return true;
        }
        index[pos] = 0;
    }
    false
}

/// Each kind in its own unit with its cheapest candidate.
pub fn unshared(candidates: &BTreeMap<OpKind, Vec<Method>>, invs: &Inventories, lanes: u64) -> Option<Vec<Choice>> {
    let mut out = Vec::new();
    for (&kind, methods) in candidates {
        let mut best: Option<Choice> = None;
        for &m in methods {
            let Some(inv) = inventory(invs, kind, m) else { continue };
            let cost = unit_cost(&[inv], lanes);
            if best.as_ref().is_none_or(|b| cost.weight() < b.cost.weight()) {
                best = Some(Choice { methods: BTreeMap::from([(kind, m)]), cost, instances: unit_instances(&[inv]) });
            }
        }
        out.push(best?);
    }
    Some(out)
}
