//! The passes, one file each, plus [`folding`], the constant-folding engine
//! that `fold` and `canonicalize` share.
//!
//! Invariants: every pass here takes verified IR (it may index the arenas
//! with the handles ops hold) and leaves verified IR; rewrites keep the
//! block order of surviving ops, so the printed result is deterministic.

pub mod canonicalize;
pub mod cse;
pub mod dce;
pub mod expand_attention;
pub mod fold;
pub mod folding;
pub mod fuse;
pub mod legalize_onnx;
pub mod lower_nonlinear;
pub mod quantize;
pub mod shape_inference;
pub mod share_nonlinear;
pub mod tile_and_pack;

#[cfg(test)]
pub(crate) mod testing;
