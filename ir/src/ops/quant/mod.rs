//! The quant dialect: integer tensor ops on quantized types
//! (`!quant.int`, `!quant.bin`).
//!
//! This minimal module lists only the nonlinear ops of [`nonlinear`]; the
//! quantize, requantize, qmatmul, ... ops join the same list.
//!
//! Invariants: every op's operands and results are quantized tensors
//! whose real values are `(q - zp) * scale`; the reference semantics of
//! each op is stated in terms of those real values.

pub mod nonlinear;

pub use nonlinear::{EXP, GELU, LAYER_NORM, RECIPROCAL, RSQRT, SIGMOID, SILU, SOFTMAX, SQRT, TANH};

use super::Dialect;

pub static DIALECT: Dialect = Dialect {
    name: "quant",
    summary: "Integer tensor ops on quantized types",
    description: "Ops on tensors of `!quant.int` (and `!quant.bin`) values, each standing for the \
real number `(q - zp) * scale` (spec/types.md). The nonlinear ops (`quant.softmax`, `quant.gelu`, \
`quant.layer_norm`, `quant.sigmoid`, ...) have an ideal reference semantics: dequantize, compute \
in f64, quantize to the result type (round half to even, saturate). The `lower-nonlinear` pass \
replaces them by integer programs of the nl dialect whose bits differ from the ideal by the \
chosen method's approximation error.",
    ops: &[SOFTMAX, GELU, LAYER_NORM, SIGMOID, SILU, TANH, EXP, RECIPROCAL, SQRT, RSQRT],
};
