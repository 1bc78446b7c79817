//! The shape of the importer's diagnostics: every message starts with the
//! model file's name; errors about a node name it and its op type and carry
//! the node's name as their location.

use weft_ir::{Diagnostic, Location, Span};

/// `model.onnx: message`.
pub fn model_error(file: &str, message: impl std::fmt::Display) -> Diagnostic {
    Diagnostic::error(format!("{file}: {message}"), Span::NONE)
}

/// `model.onnx: node 'n1' (Gather): message`, located at the node.
pub fn node_error(file: &str, node: &str, op_type: &str, message: impl std::fmt::Display) -> Diagnostic {
    Diagnostic::error(format!("{file}: node '{node}' ({op_type}): {message}"), Span::NONE)
        .with_loc(Location::Name(node.to_string()))
}
