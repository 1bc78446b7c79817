//! The precision search of `weft explore` and `weft compile --fps`: for a
//! target FPS, a binary search over activation bits 4..16 for the highest
//! bits whose fastest design under the budget (tile-and-pack's search)
//! meets the target, on the workload of the float nn program (shapes and
//! op kinds are all the model needs, so no calibration runs).
//!
//! Invariants: assumes the best FPS does not grow with the bits (the
//! model's costs are monotonic in every width); each bits value is
//! searched at most once; results are deterministic.

use std::collections::BTreeMap;
use weft_ir::hwcost::engines::{default_units, Precision};
use weft_ir::hwcost::latency::Workload;
use weft_passes::eqsat::tile::{search, Budget, Chosen, Problem, TileLimits};
use weft_passes::transforms::tile_and_pack::Target;

/// The activation bits the search considers.
pub const MIN_BITS: u64 = 4;
pub const MAX_BITS: u64 = 16;

/// One bits value tried: the fastest design under the budget, if any.
#[derive(Debug, Clone)]
pub struct Tried {
    pub act_bits: u64,
    pub best: Option<Chosen>,
    pub designs: u64,
}

impl Tried {
    pub fn fps(&self) -> f64 {
        self.best.map_or(0.0, |c| c.fps)
    }
}

/// The outcome for one target.
#[derive(Debug, Clone)]
pub struct Choice {
    pub target_fps: f64,
    /// The highest bits that meet the target (`None`: none does).
    pub act_bits: Option<u64>,
    pub chosen: Option<Chosen>,
    /// Every bits value tried, in the order tried.
    pub tried: Vec<Tried>,
}

impl Choice {
    /// The best FPS any tried precision reaches.
    pub fn best_fps(&self) -> f64 {
        self.tried.iter().map(Tried::fps).fold(0.0, f64::max)
    }
}

/// Memoizes the fastest design per bits.
pub struct Searcher<'a> {
    pub workload: &'a Workload,
    pub weight_bits: u64,
    pub target: Target,
    cache: BTreeMap<u64, Tried>,
}

impl<'a> Searcher<'a> {
    pub fn new(workload: &'a Workload, weight_bits: u64, target: Target) -> Searcher<'a> {
        Searcher { workload, weight_bits, target, cache: BTreeMap::new() }
    }

    /// The fastest design at `act_bits`.
    pub fn at(&mut self, act_bits: u64) -> Tried {
        if let Some(t) = self.cache.get(&act_bits) {
            return t.clone();
        }
        let precision = Precision { weight_bits: self.weight_bits, act_bits };
        let problem = Problem {
            workload: self.workload,
            precision,
            platform: self.target.platform,
            budget: Budget { capacity: self.target.capacity, cap: self.target.cap },
            units: default_units(act_bits),
        };
        let out = search(&problem, TileLimits::default());
        let t = Tried { act_bits, best: out.best, designs: out.stats.designs };
        self.cache.insert(act_bits, t.clone());
        t
    }

    /// Binary search for the highest bits meeting `target_fps`.
    pub fn choose(&mut self, target_fps: f64) -> Choice {
        let mut tried = Vec::new();
        let meets = |t: &Tried| t.best.is_some_and(|c| c.fps >= target_fps);
        let (mut lo, mut hi) = (MIN_BITS, MAX_BITS);
        let mut found: Option<Tried> = None;
        while lo <= hi {
            let mid = lo + (hi - lo) / 2;
            let t = self.at(mid);
            tried.push(t.clone());
            if meets(&t) {
                found = Some(t);
                lo = mid + 1;
            } else if mid == MIN_BITS {
                break;
            } else {
                hi = mid - 1;
            }
        }
        if found.is_none() && !tried.iter().any(|t| t.act_bits == MIN_BITS) {
            tried.push(self.at(MIN_BITS));
        }
        Choice { target_fps, act_bits: found.as_ref().map(|t| t.act_bits), chosen: found.and_then(|t| t.best), tried }
    }

    /// Every bits value searched so far, ascending (FPS against bits).
    pub fn curve(&self) -> Vec<(u64, f64)> {
        self.cache.values().map(|t| (t.act_bits, t.fps())).collect()
    }
}
