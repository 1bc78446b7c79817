//! The extraction cost of `fuse`: the number of op nodes in a term, where
//! leaves and parameters are free, so any fused op (one node) beats the
//! decomposed form it replaces (at least two nodes).
//!
//! Invariants: costs are integers, so ties break the same way every run.

use super::lang::NnLang;
use egg::{CostFunction, Id, Language};

/// Counts op nodes; leaves and parameters cost nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct FusedOpCost;

impl CostFunction<NnLang> for FusedOpCost {
    type Cost = u64;

    fn cost<C>(&mut self, enode: &NnLang, mut costs: C) -> u64
    where
        C: FnMut(Id) -> u64,
    {
        let own = match enode {
            NnLang::Leaf(_) | NnLang::Param(_) => 0,
            _ => 1,
        };
        enode.fold(own, |sum, id| sum.saturating_add(costs(id)))
    }
}
