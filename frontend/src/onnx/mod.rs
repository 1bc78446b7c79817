//! ONNX models in: the protobuf messages ([`proto`]), the `.onnx` reader
//! ([`reader`]: memory-mapped, zero-copy for tensor data, external data
//! beside the model), tensor payloads in weft's storage layout, and the
//! ONNX text syntax ([`text`], files named `*.onnxtxt`), which parses into
//! the same [`proto::ModelProto`].
//!
//! Invariants: nothing here panics on bad input; file-level errors are
//! [`weft_ir::Diagnostic`]s whose message starts with the file name, text
//! errors carry spans into the parsed source. This module only reads
//! models; turning them into weft IR is the importer's job.

mod external;
mod payload;
pub mod proto;
pub mod reader;
pub mod text;

pub use proto::ModelProto;
pub use reader::{
    decode_model, onnx_data_type, onnx_elem_type, payload_to_tensor, read_model, read_tensor_pb, OnnxModel,
    TensorPayload,
};
pub use text::parse_onnx_text;

#[cfg(test)]
mod fixture_tests;
