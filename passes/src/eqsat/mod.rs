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
