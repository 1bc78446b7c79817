//! `weft opt` as a library: parse, verify, run a pass pipeline, print. The
//! command line and lit `RUN:` lines both go through [`run_opt`] (or
//! [`run_opt_in`] with a user's context and passes), so they behave the
//! same.
//!
//! Invariants: usage errors (a bad pipeline, an unknown pass or option)
//! are reported before the input is looked at and never as diagnostics; an
//! outcome with errors has an empty `output` and no `module`.

pub mod args;
mod run;

pub use args::{Emit, OptArgs};
pub use run::{check_pipeline, run_opt, run_opt_in, OptOutcome, OptSession, STDIN_NAME};
