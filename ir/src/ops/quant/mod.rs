//! The quant dialect: integer tensor ops on quantized types
//! (`!quant.int`, `!quant.bin`), the level the `quantize` pass produces
//! from nn and the hardware backends consume.
//!
//! One file per op family: [`convert`] (quantize, dequantize, requantize,
//! storage casts), [`matmul`] (the integer matmul with binary weights) and
//! [`elementwise`] (qadd, qmul); [`common`] holds the shared numerics (the
//! rounding rules, the fixed-point multiplier). The nonlinear ops
//! (`quant.softmax`, `quant.gelu`, `quant.layer_norm`, ...) live in
//! [`nonlinear`], owned with the nl dialect that lowers them.
//!
//! Invariants: every quantized value carries its scale in its type
//! (an accumulator too); result types are declared by whoever builds an op
//! and checked by its `verify_results` hook, never inferred; every integer
//! intermediate is stated in the op's description and fits in 64 bits.

pub mod common;
pub mod convert;
pub mod elementwise;
pub mod matmul;
pub mod nonlinear;
#[cfg(test)]
mod tests;

pub use convert::{DEQUANTIZE, QUANTIZE, REQUANTIZE, STORAGE_CAST};
pub use elementwise::{QADD, QMUL};
pub use matmul::QMATMUL;
pub use nonlinear::{EXP, GELU, LAYER_NORM, RECIPROCAL, RSQRT, SIGMOID, SILU, SOFTMAX, SQRT, TANH};

use super::{Arity, Dialect};

const UNARY: Arity = Arity::Fixed(&["input"]);
const ONE_RESULT: Arity = Arity::Fixed(&["result"]);

pub static DIALECT: Dialect = Dialect {
    name: "quant",
    summary: "Integer tensor ops on quantized types",
    description: "The level the `quantize` pass produces from nn, and the integer programs the \
hardware backends implement: quantized activations and weights, integer matmuls into wide \
accumulators, integer-only rescaling. spec/quant.md states the numeric conventions in full; \
in short:\n\n\
- **Values.** A `!quant.int<w, signed|unsigned, scale, zp>` element stores an integer `q` of `w` \
bits standing for `scale * (q - zp)`, per tensor or with one scale and zero point per index \
along an axis (spec/types.md); a `!quant.bin<scale>` element stores a bit standing for \
`+scale` or `-scale`. Zero points lie within their type's range. An accumulator is an ordinary \
`!quant.int<w=32, signed, ...>` whose scale is the product of its operands' scales: every \
quantized tensor carries its scale.\n\
- **Declared result types.** A result's scale comes from calibration, not from the operands, \
so quant ops declare their result types (there is no shape inference) and a result check \
verifies them: shape, signedness, widths, and scales where they follow from the operands \
(`quant.qmatmul`).\n\
- **Reals to integers** (`quant.quantize`) round half to even (as ONNX `QuantizeLinear`) and \
saturate. **Integers to integers** (`quant.requantize`, `quant.qadd`, `quant.qmul`) never use \
reals at run time: a ratio of scales `r` becomes a fixed-point multiplier `m` of 31 bits and a \
right shift `n` (`r ~ m / 2^n`, derived from the types by one rule), products are exact in 64 \
bits, and the shift rounds to nearest with ties toward +infinity (`floor(v / 2^n + 1/2)`), \
then the zero point is added and the result saturates.\n\
- **Widths.** Operands of `qmatmul`, `qadd` and `qmul` have at most 16 bits, so every product \
and sum is exact in 64 bits; results and accumulators have at most 32.\n\
- **Nonlinear ops** (`quant.softmax`, `quant.gelu`, `quant.layer_norm`, `quant.sigmoid`, ...) \
have an ideal reference semantics: dequantize, compute in f64, quantize to the result type \
(round half to even, saturate). The `lower-nonlinear` pass replaces them by integer programs of \
the nl dialect whose bits differ from the ideal by the chosen method's approximation error.\n\
- **Engines.** The interpreter runs every op (the reference semantics are each op's `eval`); \
the Cranelift JIT compiles every op bit-identically with it (spec/jit.md); the HLS backend does \
not support the quant dialect yet.",
    ops: &[
        QUANTIZE,
        DEQUANTIZE,
        REQUANTIZE,
        STORAGE_CAST,
        QMATMUL,
        QADD,
        QMUL,
        SOFTMAX,
        GELU,
        LAYER_NORM,
        SIGMOID,
        SILU,
        TANH,
        EXP,
        RECIPROCAL,
        SQRT,
        RSQRT,
    ],
};
