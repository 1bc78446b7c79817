//! weft-backends: what weft produces from a lowered program. So far the
//! Cranelift JIT ([`jit`]), the fast executable reference that runs nn
//! programs natively and agrees with the interpreter (spec/jit.md).

pub mod hls;
pub mod jit;
