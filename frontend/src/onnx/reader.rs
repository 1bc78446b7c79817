//! Reading `.onnx` files: the file is memory-mapped and decoded into a
//! [`ModelProto`] without copying tensor data (`raw_data` fields are slices
//! of the map); the model's directory is kept for external data. Also reads
//! serialized `TensorProto` files (the `input_0.pb` files of ONNX test
//! data).
//!
//! Invariants: bad files never panic; every error is a [`Diagnostic`]
//! without a span whose message starts with the file's name and says what
//! is wrong in a user's terms (missing, empty, not protobuf, not a model).

use super::external::map_whole;
pub use super::payload::{
    data_type_name, onnx_data_type, onnx_elem_type, payload_to_tensor, tensor_payload_in, TensorPayload, MAX_ELEMENTS,
};
use super::proto::{ModelProto, TensorProto};
use bytes::Bytes;
use prost::Message;
use std::fs::File;
use std::path::{Path, PathBuf};
use weft_ir::{Diagnostic, Span, Tensor};

/// A decoded model and the file it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct OnnxModel {
    pub model: ModelProto,
    /// The model file; external data is relative to its directory.
    pub path: PathBuf,
}

impl OnnxModel {
    /// The directory external data paths are relative to.
    pub fn dir(&self) -> &Path {
        match self.path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        }
    }

    /// The data of one of the model's tensors (an initializer, a
    /// `Constant`'s value) in weft's storage layout; see
    /// [`tensor_payload_in`].
    pub fn tensor_payload(&self, t: &TensorProto) -> Result<TensorPayload, String> {
        tensor_payload_in(self.dir(), t)
    }
}

fn file_error(path: &Path, what: impl std::fmt::Display) -> Diagnostic {
    Diagnostic::error(format!("{}: {what}", path.display()), Span::NONE)
}

/// Opens and maps a file that must exist, be a regular file and be
/// non-empty.
fn map_file(path: &Path, what: &str) -> Result<Bytes, Diagnostic> {
    let file = File::open(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => file_error(path, "no such file"),
        _ => file_error(path, format_args!("cannot open the file: {e}")),
    })?;
    let meta = file.metadata().map_err(|e| file_error(path, format_args!("cannot read the file: {e}")))?;
    if meta.is_dir() {
        return Err(file_error(path, format_args!("is a directory, not {what}")));
    }
    if meta.len() == 0 {
        return Err(file_error(path, format_args!("the file is empty, not {what}")));
    }
    map_whole(&file, meta.len()).map_err(|e| file_error(path, format_args!("cannot read the file: {e}")))
}

/// Reads an `.onnx` file: memory-maps it and decodes the model; the
/// `raw_data` of its tensors stays in the map.
pub fn read_model(path: &Path) -> Result<OnnxModel, Diagnostic> {
    let bytes = map_file(path, "an ONNX model")?;
    let model = decode_model(bytes, &path.display().to_string())?;
    Ok(OnnxModel { model, path: path.to_path_buf() })
}

/// Decodes the bytes of an `.onnx` file called `display_name` (used in
/// messages). Decoding from a [`Bytes`] buffer slices it for `raw_data`.
pub fn decode_model(bytes: Bytes, display_name: &str) -> Result<ModelProto, Diagnostic> {
    let error = |what: String| Diagnostic::error(format!("{display_name}: {what}"), Span::NONE);
    if bytes.is_empty() {
        return Err(error("the file is empty, not an ONNX model".into()));
    }
    let looks_like_text = looks_like_onnx_text(&bytes);
    let model = match ModelProto::decode(bytes) {
        Ok(m) => m,
        Err(e) => {
            let d = error(format!("not a valid ONNX protobuf (truncated or corrupt): {e}"));
            return Err(if looks_like_text { d.note(TEXT_HINT) } else { d });
        }
    };
    if model.graph.is_none() {
        let d = error("not an ONNX model: the protobuf has no graph".into());
        return Err(if looks_like_text { d.note(TEXT_HINT) } else { d });
    }
    if model.ir_version <= 0 {
        return Err(error(format!("not an ONNX model: its IR version is {}", model.ir_version)));
    }
    Ok(model)
}

const TEXT_HINT: &str = "the file looks like the ONNX text syntax; text models are read from files named *.onnxtxt";

/// True for bytes that start like ONNX text (`<` header or `name (`).
fn looks_like_onnx_text(bytes: &[u8]) -> bool {
    let head = &bytes[..bytes.len().min(4096)];
    let Ok(text) = std::str::from_utf8(head).or_else(|e| std::str::from_utf8(&head[..e.valid_up_to()])) else {
        return false;
    };
    let trimmed = text.trim_start();
    trimmed.starts_with('<') || text.contains("=>")
}

/// Reads a serialized `TensorProto` (ONNX test data such as
/// `test_data_set_0/input_0.pb`): returns its name and its value. External
/// data is looked up relative to the file's directory.
pub fn read_tensor_pb(path: &Path) -> Result<(String, Tensor), Diagnostic> {
    let bytes = map_file(path, "a serialized ONNX tensor")?;
    let t = TensorProto::decode(bytes)
        .map_err(|e| file_error(path, format_args!("not a valid ONNX TensorProto (truncated or corrupt): {e}")))?;
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let payload = tensor_payload_in(dir, &t).map_err(|e| file_error(path, e))?;
    Ok((t.name.clone(), payload_to_tensor(&payload)))
}

#[cfg(test)]
#[path = "reader_tests.rs"]
mod tests;
