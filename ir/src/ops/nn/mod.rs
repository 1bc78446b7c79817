//! The nn dialect: a small set of normalized float and integer tensor ops,
//! the level ONNX is legalized to (`legalize-onnx`) and that fusion,
//! quantization and the backends work on.
//!
//! One file per op family: [`arith`] (binary arithmetic), [`unary`],
//! [`logic`] (comparisons, boolean logic, select), [`convert`] (cast,
//! clip), [`linalg`] (matmul), [`attention`], [`conv`], [`reduce`], [`norm`] (softmax,
//! log-softmax, layer norm), [`layout`] (data movement) and [`resize`].
//!
//! Invariants: every op has static attributes only (no shape operands), so
//! its result type follows from its operand types and attributes; every op
//! declares shape inference and reference semantics; the conventions in
//! [`DIALECT`]'s description hold for all of them.

pub mod arith;
pub mod attention;
pub(crate) mod common;
pub mod conv;
pub mod convert;
pub mod layout;
pub mod linalg;
pub mod logic;
pub mod norm;
pub mod reduce;
pub mod resize;
#[cfg(test)]
mod testing;
pub mod unary;

pub use arith::{ADD, DIV, MAX, MIN, MUL, POW, SUB};
pub use attention::ATTENTION;
pub use conv::{CONV, CONV_TRANSPOSE};
pub use convert::{CAST, CLIP};
pub use layout::{BROADCAST, CONCAT, GATHER, RESHAPE, SLICE, TRANSPOSE};
pub use linalg::MATMUL;
pub use logic::{AND, EQUAL, GREATER, GREATER_EQUAL, LESS, LESS_EQUAL, NOT, OR, SELECT};
pub use norm::{LAYER_NORM, LOG_SOFTMAX, SOFTMAX};
pub use reduce::{REDUCE_MAX, REDUCE_MEAN, REDUCE_SUM};
pub use resize::RESIZE;
pub use unary::{ABS, ERF, EXP, GELU, LOG, NEG, RECIPROCAL, RELU, SIGMOID, SILU, SQRT, TANH};

use super::Dialect;

pub static DIALECT: Dialect = Dialect {
    name: "nn",
    summary: "Normalized float and integer tensor ops",
    description: "The level ONNX models are legalized to (the `legalize-onnx` pass) and that \
fusion, quantization and the backends work on: few ops, each with one meaning and static \
attributes.\n\n\
Conventions shared by every op:\n\n\
- **Static attributes.** Shapes, axes, permutations, strides and paddings are attributes, never \
operands: a result type follows from the operand types and attributes alone. Ops that need \
extents (`nn.reshape`, `nn.broadcast`, `nn.slice`, `nn.resize`) have static result shapes; the \
others also accept symbolic dims.\n\
- **Broadcasting.** Elementwise ops with several operands (`nn.add`, ..., `nn.equal`, ..., \
`nn.and`, `nn.or`, `nn.select`) broadcast them with numpy rules (dims aligned at the right, an \
extent of 1 stretches), so a bias or a scalar constant needs no extra op. Everything else \
broadcasts nothing implicitly; `nn.broadcast` makes the repetition explicit where a shape must \
grow on its own (ONNX `Expand`). `nn.matmul` broadcasts its batch dims.\n\
- **Element types.** Operands of one op share one element type unless the op says otherwise \
(comparisons give bool, `nn.select` takes a bool condition, `nn.gather` takes i32/i64 indices, \
`nn.cast` converts). Conversions happen only in `nn.cast`.\n\
- **Numerics.** Float results are computed in f64 from the operand values and rounded once to \
the element type (ties to even); reductions and dot products accumulate in f64. Integer results \
are exact and wrap to the element width (two's complement); unsigned values are read unsigned. \
The only evaluation errors are integer division by zero, `0 ^ negative`, the integer mean of no \
elements and out-of-range gather indices.\n\
- **Axes.** A single `axis` may be negative (counting from the end); lists of `axes` hold \
distinct axes. `legalize-onnx` always writes them normalized (non-negative, sorted).",
    ops: &[
        ADD,
        SUB,
        MUL,
        DIV,
        POW,
        MAX,
        MIN,
        NEG,
        ABS,
        RECIPROCAL,
        SQRT,
        EXP,
        LOG,
        ERF,
        TANH,
        SIGMOID,
        SILU,
        RELU,
        GELU,
        EQUAL,
        LESS,
        LESS_EQUAL,
        GREATER,
        GREATER_EQUAL,
        AND,
        OR,
        NOT,
        SELECT,
        CAST,
        CLIP,
        MATMUL,
        CONV,
        CONV_TRANSPOSE,
        REDUCE_SUM,
        REDUCE_MEAN,
        REDUCE_MAX,
        SOFTMAX,
        LOG_SOFTMAX,
        LAYER_NORM,
        ATTENTION,
        RESHAPE,
        TRANSPOSE,
        BROADCAST,
        CONCAT,
        SLICE,
        GATHER,
        RESIZE,
    ],
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_op_is_documented_and_executable() {
        for op in DIALECT.ops {
            assert!(op.name.starts_with("nn."), "{}", op.name);
            assert!(!op.summary.is_empty() && op.description.contains("```"), "{} needs docs and an example", op.name);
            assert!(op.infer.is_some() && op.eval.is_some(), "{} needs infer and eval", op.name);
            assert!(op.has_trait(crate::ops::Trait::Pure), "{} is pure", op.name);
        }
        let mut names: Vec<&str> = DIALECT.ops.iter().map(|o| o.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), DIALECT.ops.len(), "op names are unique");
    }
}
