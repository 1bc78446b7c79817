//! The choice of one method and one initiation interval per op kind.
//! Candidates of a kind are the methods whose datapath the e-graph
//! extracted, whose emitter builds every op of the kind, and whose
//! measured error is within the kind's budget, each at the initiation
//! intervals the kind allows ([`super::ii`]). Shared: every combination
//! of candidates is costed as one unit (the union of the programs'
//! primitives folded at their intervals, [`super::inventory`]) and the
//! least is chosen; unshared: each kind alone, its cheapest candidate.
//!
//! Exactness: the search enumerates the whole product of the candidate
//! sets (bounded by [`MAX_COMBINATIONS`]), so the shared choice is the
//! optimum of the model, not a heuristic. Ties are broken by the order
//! of the candidates (methods quark, ibert, lut; intervals ascending, so
//! a tie keeps the faster unit) of the kinds in order, so the choice is
//! deterministic.

use super::inventory::{Inventories, Inventory};
use super::unit::unit;
use crate::transforms::lower_nonlinear::{Method, OpKind};
use std::collections::BTreeMap;
use weft_ir::hwcost::{Instance, Resources};

/// The most combinations the shared search costs.
pub const MAX_COMBINATIONS: u64 = 1 << 20;

/// A candidate of one kind: a method at an initiation interval.
pub type Candidate = (Method, u64);

/// Per kind, its candidates in preference order.
pub type Candidates = BTreeMap<OpKind, Vec<Candidate>>;

/// The inventory of every candidate, folded at its interval.
pub type Folded = BTreeMap<(OpKind, Method, u64), Inventory>;

/// Folds every candidate's programs.
pub fn fold_all(candidates: &Candidates, invs: &Inventories) -> Folded {
    let mut out = Folded::new();
    for (&kind, list) in candidates {
        for &(method, ii) in list {
            if let Some(Ok(programs)) = invs.get(&(kind, method)) {
                out.insert((kind, method, ii), programs.fold(ii));
            }
        }
    }
    out
}

/// One method and interval per op kind, and what the hardware costs.
#[derive(Debug, Clone, PartialEq)]
pub struct Choice {
    pub methods: BTreeMap<OpKind, Method>,
    /// Per kind, cycles per element per lane in each pass.
    pub ii: BTreeMap<OpKind, u64>,
    pub cost: Resources,
    /// The unit's primitive instances.
    pub instances: Vec<Instance>,
}

impl Choice {
    /// The slowest mode's interval (1: every mode at full rate).
    pub fn max_ii(&self) -> u64 {
        self.ii.values().copied().max().unwrap_or(1)
    }
}

fn costed(picks: BTreeMap<OpKind, Candidate>, folded: &Folded, lanes: u64) -> Option<Choice> {
    let members: Option<Vec<&Inventory>> = picks.iter().map(|(&k, &(m, ii))| folded.get(&(k, m, ii))).collect();
    let (instances, cost) = unit(&members?, lanes);
    Some(Choice {
        methods: picks.iter().map(|(&k, &(m, _))| (k, m)).collect(),
        ii: picks.iter().map(|(&k, &(_, ii))| (k, ii)).collect(),
        cost,
        instances,
    })
}

/// The number of combinations of `candidates`.
pub fn combinations(candidates: &Candidates) -> u64 {
    candidates.values().fold(1u64, |n, c| n.saturating_mul(c.len() as u64))
}

/// The cheapest single unit serving every kind of `candidates`.
pub fn shared(candidates: &Candidates, folded: &Folded, lanes: u64) -> Option<Choice> {
    let kinds: Vec<OpKind> = candidates.keys().copied().collect();
    let sets: Vec<&Vec<Candidate>> = candidates.values().collect();
    if sets.iter().any(|s| s.is_empty()) {
        return None;
    }
    let mut index = vec![0usize; kinds.len()];
    let mut best: Option<Choice> = None;
    loop {
        let picks: BTreeMap<OpKind, Candidate> =
            kinds.iter().enumerate().filter_map(|(pos, &k)| Some((k, *sets[pos].get(index[pos])?))).collect();
        if let Some(c) = costed(picks, folded, lanes) {
            if best.as_ref().is_none_or(|b| c.cost.weight() < b.cost.weight()) {
                best = Some(c);
            }
        }
        if !advance(&mut index, &sets) {
            return best;
        }
    }
}

/// The next combination in odometer order (the last kind fastest);
/// `false` after the last.
fn advance(index: &mut [usize], sets: &[&Vec<Candidate>]) -> bool {
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
pub fn unshared(candidates: &Candidates, folded: &Folded, lanes: u64) -> Option<Vec<Choice>> {
    let mut out = Vec::new();
    for (&kind, list) in candidates {
        let best = list.iter().filter_map(|&c| costed(BTreeMap::from([(kind, c)]), folded, lanes)).reduce(|b, c| {
            if c.cost.weight() < b.cost.weight() {
                c
            } else {
                b
            }
        });
        out.push(best?);
    }
    Some(out)
}

/// Each kind of `choice` in its own unit with the same method and the
/// interval `ii(kind)`: the baselines of sharing.
pub fn separate(choice: &Choice, invs: &Inventories, lanes: u64, ii: impl Fn(OpKind) -> u64) -> Vec<Choice> {
    let candidates: Candidates = choice.methods.iter().map(|(&k, &m)| (k, vec![(m, ii(k))])).collect();
    let folded = fold_all(&candidates, invs);
    unshared(&candidates, &folded, lanes).unwrap_or_default()
}
