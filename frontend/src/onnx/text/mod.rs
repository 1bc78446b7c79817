//! The ONNX text syntax (files named `*.onnxtxt`): the language of ONNX's
//! own parser (`onnx.parser.parse_model`, onnx/defs/parser.cc), parsed into
//! the same [`ModelProto`] the protobuf reader gives.
//!
//! ```text
//! <ir_version: 8, opset_import: ["" : 17, "com.microsoft" : 1]>
//! agraph (float[N, 128] X) => (float[N, 128] Y)
//!    <float[128, 128] W = {...}, float[N, 128] T>
//! {
//!    T = MatMul (X, W)
//!    [relu_node] Y = Relu <alpha: float = 0.1> (T)
//! }
//! ```
//!
//! What is read: the model header; graphs with typed inputs (with default
//! values), outputs, value infos and initializers; nodes with optional
//! `[name]`, domain-qualified op names, `:overload`, attributes before or
//! after the inputs, and empty inputs (`Clip(X, , max)`); attribute values
//! of every kind (numbers, strings, tensors, graphs, types, `@references`,
//! lists); model-local functions. As in newer ONNX releases, value, graph,
//! node and function names may be quoted (`"encoder/out.0"`), and so may
//! symbolic dims. Beyond ONNX's parser, weft checks what it would silently
//! accept (value counts against shapes, integer ranges, attribute types),
//! reads float16/bfloat16 literals given as floats (an integer is taken as
//! the 16-bit pattern, as ONNX does), and lists of tensors, graphs and
//! types. See `lexer` for the lexical rules.
//!
//! Invariants: bad input never panics; a syntax error stops the parse and
//! is reported with the semantic errors found before it; semantic errors
//! (unknown header keys, bad types, out-of-range literals) are all
//! reported, sorted by position; a model is returned only when there was no
//! error.

mod convert;
mod errors;
mod lexer;
mod syntax;
mod token;
mod values;

lalrpop_util::lalrpop_mod!(
    #[allow(clippy::all, clippy::pedantic, unused_qualifications, unused_parens, dead_code)]
    grammar,
    "/onnx/text/grammar.rs"
);

use super::proto::ModelProto;
use super::reader::OnnxModel;
use std::path::Path;
use weft_ir::{Diagnostic, FileId, SourceMap, Span};

/// Parses file `file` of `sources` as an ONNX text model; every error is
/// located in `file`.
pub fn parse_onnx_text(sources: &SourceMap, file: FileId) -> Result<ModelProto, Vec<Diagnostic>> {
    let Some(text) = sources.text(file) else {
        return Err(vec![Diagnostic::error(format!("no source file with id {}", file.0), Span::NONE)]);
    };
    let mut found = Vec::new();
    let result = grammar::ModelParser::new().parse(&mut found, lexer::Lexer::new(text));
    let mut diags: Vec<Diagnostic> = found.into_iter().map(|e| e.into_diagnostic(file)).collect();
    let model = match result {
        Ok(model) => Some(model),
        Err(e) => {
            diags.push(errors::parse_error(e, file, text.len()));
            None
        }
    };
    match model {
        Some(model) if diags.is_empty() => Ok(model),
        _ => {
            diags.sort_by_key(|d| d.span.start);
            Err(diags)
        }
    }
}

/// Reads an `.onnxtxt` file into `sources` (it must be UTF-8) and parses
/// it; the model keeps the file's path, for external data.
pub fn read_onnx_text(sources: &mut SourceMap, path: &Path) -> Result<OnnxModel, Vec<Diagnostic>> {
    let bytes = std::fs::read(path).map_err(|e| {
        let what = match e.kind() {
            std::io::ErrorKind::NotFound => "no such file".to_string(),
            _ => format!("cannot read the file: {e}"),
        };
        vec![Diagnostic::error(format!("{}: {what}", path.display()), Span::NONE)]
    })?;
    let file = weft_ir::parser::load_source(sources, &path.display().to_string(), bytes).map_err(|d| vec![d])?;
    let model = parse_onnx_text(sources, file)?;
    Ok(OnnxModel { model, path: path.to_path_buf() })
}

/// Parses `text` as a file called `name`; returns the source map the
/// diagnostics refer to.
pub fn parse_onnx_text_str(name: &str, text: &str) -> (SourceMap, Result<ModelProto, Vec<Diagnostic>>) {
    let mut sources = SourceMap::new();
    let file = sources.add(name, text);
    let result = parse_onnx_text(&sources, file);
    (sources, result)
}

#[cfg(test)]
mod tests;
