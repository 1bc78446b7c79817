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

pub mod conv;
pub mod einsum;
pub mod generate;
pub mod index;
pub mod linalg;
pub mod qmatmul;
pub mod quant;
pub mod resize;
mod resize_sampling;
#[cfg(test)]
mod robust_b;
pub mod shape;
pub mod slice;
#[cfg(test)]
mod testing_b;
mod util_b;

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

        // --- end of the first group ---

        // --- shape, indexing, linear algebra, convolution, resize, quantization ---
        // (owned by frontend/src/dialect/{shape,generate,index,slice,linalg,einsum,conv,quant,
        // qmatmul,resize,resize_sampling,util_b}.rs)
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
