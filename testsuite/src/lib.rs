//! weft-testsuite: the library behind `weft opt` and `weft test`, and the
//! lit-style snapshot tests of the IR, the verifier and the passes
//! (testsuite/lit/, run by tests/lit.rs; see testsuite/README.md).
//!
//! - [`opt`]: `weft opt` as a function ([`opt::run_opt`]) over options
//!   shared with lit `RUN:` lines ([`opt::OptArgs`]).
//! - [`lit`]: running lit files ([`lit::run_lit_file`]), expected
//!   diagnostics, round trips, snapshots.
//! - [`shell`]: the word splitting of `RUN:` lines.

pub mod lit;
pub mod opt;
pub mod shell;
pub mod test_dialect;

pub use lit::{run_lit_file, LitFailure, LitResult};
pub use opt::{run_opt, OptArgs, OptOutcome};
