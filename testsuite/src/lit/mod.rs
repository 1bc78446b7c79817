//! Lit files.
pub mod expect;
pub mod file;
pub mod mask;
pub mod snapshot;
