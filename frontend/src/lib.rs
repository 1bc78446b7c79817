//! weft-frontend: ONNX in. Reading `.onnx` files (protobuf) and `.onnxtxt`
//! files (the ONNX text syntax), the `onnx` dialect, and the importer that
//! turns an ONNX model into a weft module.

pub mod dialect;
pub mod import;
pub mod onnx;
