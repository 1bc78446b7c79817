//! tile-and-pack's e-graph and search: the design space of the engines as
//! an egg e-graph ([`lang`], grown by [`rules`]), and the extraction that
//! picks the design with the highest FPS whose resources stay under the
//! board's budget, by the model of `weft_ir::hwcost` (spec/perf.md).
//!
//! One engine serves every layer mapped to it, so a choice binds all of
//! them and the cost of a design is not a sum over e-nodes: extraction
//! evaluates each engine's nodes against all its layers, drops the nodes
//! another node of the same engine dominates (no more cycles and no more
//! of any resource), and enumerates the combinations of the rest.
//!
//! Invariants: deterministic (egg's `deterministic` feature, candidates
//! in ascending order, ties broken by `Resources::weight` then by
//! enumeration order); a design is only returned when it fits the budget.

pub mod lang;
pub mod rules;
mod search;
#[cfg(test)]
mod tests;

pub use rules::{Candidates, Space};
pub use search::{search, space, Budget, Chosen, Problem, TileLimits, TileOutcome, TileStats};
