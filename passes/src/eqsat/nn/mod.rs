//! The nn-level e-graph used by `fuse`: the language ([`lang`]), the
//! conversion of a function's float nn ops into it ([`convert`]), the rules
//! that recognize decomposed LayerNorm, GELU, SiLU and Softmax ([`rules`])
//! and attention ([`attention`]), and the cost that prefers the fused ops
//! ([`cost`]).
//!
//! Invariants: only pure float nn ops of the top-level block enter the
//! e-graph; every other value (arguments, constants, results of other ops)
//! is a leaf that stands for exactly that value. Rules only add fused nodes
//! whose operands are classes of the matched term, so every extracted term
//! uses values that the term it replaces used.

mod attention;
pub mod convert;
pub mod cost;
pub mod lang;
pub mod rules;

pub use convert::{fuse_function, FuseLimits, FuseOutcome};
pub use lang::{FusedKind, NnLang};
pub use rules::RuleOptions;
