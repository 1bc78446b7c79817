//! Equality saturation with egg: one `define_language!` language per
//! eqsat pass, the conversion of the relevant part of the IR into an
//! e-graph and back, rewrite rules (kebab-case names) and cost models.
//!
//! Invariants: an e-graph built here is deterministic (egg's
//! `deterministic` feature, leaves numbered in block order), so extraction
//! and the rewritten IR are byte-identical run to run.

pub mod nl;
pub mod nn;
pub mod tile;

use crate::PassStatistic;

/// Statistics every eqsat pass reports (spec/passes.md), declared once so
/// their names and meanings agree across passes.
pub mod stats {
    use super::PassStatistic;

    pub const NODES: PassStatistic = PassStatistic { name: "egraph-nodes", doc: "e-nodes after saturation" };
    pub const CLASSES: PassStatistic = PassStatistic { name: "egraph-classes", doc: "e-classes after saturation" };
    pub const ITERATIONS: PassStatistic = PassStatistic { name: "iterations", doc: "saturation iterations run" };
    pub const SATURATED: PassStatistic =
        PassStatistic { name: "stopped-saturated", doc: "functions whose saturation stopped because no rule applied" };
    pub const STOPPED_BY_LIMIT: PassStatistic = PassStatistic {
        name: "stopped-by-limit",
        doc: "functions whose saturation stopped at the iteration, node or time limit",
    };
}
