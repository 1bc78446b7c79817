//! opt.
pub mod args;
