//! The `onnx` dialect: ONNX operators as imported, one op per node, named
//! `onnx.<OpType>` with ONNX's attribute names.
//!
//! Invariants: ops have the semantics of the newest opset weft supports
//! (21); the importer converts older opset forms into this one (attributes
//! that later opsets turned into inputs become constant inputs, and so on).
//! A trailing optional input that the model omits is simply absent; an
//! omitted optional input followed by a present one is materialized by the
//! importer as the default ONNX specifies (documented per op). Every op
//! declares shape inference (reading shape operands through
//! `OpInfo::constant`) and reference semantics.

pub mod a_cast;
mod a_common;
pub mod a_logic;
pub mod a_unary;
pub mod conv;
pub mod einsum;
pub mod elementwise;
pub mod generate;
pub mod index;
pub mod linalg;
pub mod norm;
pub mod qmatmul;
pub mod quant;
pub mod reduce;
pub mod resize;
#[cfg(test)]
mod robust_b;
pub mod shape;
pub mod slice;
#[cfg(test)]
mod testing_b;
mod util_b;

pub use a_cast::{elem_type_from_onnx, onnx_code_of};

use weft_ir::ops::Dialect;

pub static DIALECT: Dialect = Dialect {
    name: "onnx",
    summary: "ONNX operators as imported (opset 21 semantics)",
    description: "One op per ONNX node, named `onnx.<OpType>`, with ONNX's input order and \
attribute names (ints, floats, strings, lists of ints/floats as arrays, tensors as `dense<..>`). \
The importer reads opsets 11 to 21 and converts older forms to opset 21's: for example \
`ReduceMean` with an `axes` attribute (opset < 18) becomes `onnx.ReduceMean` with a constant \
`axes` input. Locations are the ONNX node names. Numeric conventions follow ONNX: integer \
division truncates, float results are rounded once to the element type.",
    ops: &[
        // --- elementwise, logic, cast, reductions, normalization, activations ---
        // (owned by frontend/src/dialect/{elementwise,reduce,norm}.rs)
        elementwise::ADD,
        elementwise::SUB,
        elementwise::MUL,
        elementwise::DIV,
        elementwise::POW,
        a_unary::SQRT,
        a_unary::EXP,
        a_unary::LOG,
        a_unary::ERF,
        a_unary::TANH,
        a_unary::SIGMOID,
        a_unary::RELU,
        a_unary::NEG,
        a_unary::ABS,
        a_unary::RECIPROCAL,
        elementwise::MAX,
        elementwise::MIN,
        elementwise::CLIP,
        elementwise::WHERE,
        a_logic::EQUAL,
        a_logic::LESS,
        a_logic::GREATER,
        a_logic::LESS_OR_EQUAL,
        a_logic::GREATER_OR_EQUAL,
        a_logic::AND,
        a_logic::OR,
        a_logic::NOT,
        a_logic::IS_NAN,
        a_cast::CAST,
        a_cast::CAST_LIKE,
        norm::SOFTMAX,
        norm::LOG_SOFTMAX,
        norm::LAYER_NORMALIZATION,
        norm::BATCH_NORMALIZATION,
        a_unary::GELU,
        reduce::REDUCE_MEAN,
        reduce::REDUCE_SUM,
        reduce::REDUCE_MAX,
        a_unary::HARD_SIGMOID,
        a_unary::HARD_SWISH,
        a_unary::SOFTPLUS,
        a_cast::IDENTITY,
        // --- end of the first group ---

        // --- shape, indexing, linear algebra, convolution, resize, quantization ---
        // (owned by frontend/src/dialect/{shape,generate,index,slice,linalg,einsum,conv,quant,
        // qmatmul,resize,util_b}.rs)
        shape::RESHAPE,
        shape::TRANSPOSE,
        shape::FLATTEN,
        shape::SQUEEZE,
        shape::UNSQUEEZE,
        shape::EXPAND,
        generate::SHAPE,
        generate::SIZE,
        generate::CONSTANT_OF_SHAPE,
        generate::RANGE,
        index::GATHER,
        index::GATHER_ND,
        slice::SLICE,
        slice::CONCAT,
        slice::SPLIT,
        linalg::MATMUL,
        linalg::GEMM,
        einsum::EINSUM,
        conv::CONV,
        conv::CONV_TRANSPOSE,
        quant::QUANTIZE_LINEAR,
        quant::DEQUANTIZE_LINEAR,
        quant::DYNAMIC_QUANTIZE_LINEAR,
        qmatmul::MATMUL_INTEGER,
        qmatmul::QLINEAR_MATMUL,
        resize::RESIZE,
        // --- end of the second group ---
    ],
};
