//! ONNX models in: the protobuf messages ([`proto`]), the `.onnx` reader
//! ([`reader`]: memory-mapped, zero-copy for tensor data, external data
//! beside the model), tensor payloads in weft's storage layout, and the
//! ONNX text syntax ([`text`], files named `*.onnxtxt`), which parses into
//! the same [`proto::ModelProto`]. [`load_model`] picks the reader by the
//! file's extension.
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
pub use text::{parse_onnx_text, read_onnx_text};

use std::path::Path;
use weft_ir::{Diagnostic, SourceMap};

/// Reads a model file by its extension: `*.onnxtxt` is the text syntax
/// (added to `sources`, which its diagnostics point into), anything else
/// is read as protobuf.
pub fn load_model(sources: &mut SourceMap, path: &Path) -> Result<OnnxModel, Vec<Diagnostic>> {
    if path.extension().is_some_and(|e| e == "onnxtxt") {
        read_onnx_text(sources, path)
    } else {
        read_model(path).map_err(|d| vec![d])
    }
}

#[cfg(test)]
mod fixture_tests;
