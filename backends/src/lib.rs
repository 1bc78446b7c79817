//! weft-backends: what weft produces from a lowered program: the
//! Cranelift JIT ([`jit`]), the fast executable reference that runs nn
//! programs natively and agrees with the interpreter (spec/jit.md), and the
//! board table the hardware backends target ([`boards`], spec/boards.md).

pub mod boards;
pub mod hls;
pub mod jit;
pub mod report;
#[cfg(test)]
mod test_rng;
