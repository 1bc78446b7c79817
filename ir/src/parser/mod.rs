//! Reading the text format (spec/syntax.md). TEMPORARY: the parser is being
//! written on branch `parser`; these signatures are the contract.
pub mod ast;

use crate::{Context, Diagnostic, FileId, Module, SourceMap};

/// Adds a source file from raw bytes; non-UTF-8 input is an error located
/// at the first invalid byte.
pub fn load_source(sources: &mut SourceMap, name: &str, bytes: Vec<u8>) -> Result<FileId, Diagnostic> {
    let _ = (sources, name, bytes);
    unimplemented!("parser branch")
}

/// Parses file `file` of `sources` into a module, resolving op names in
/// `ctx` and value names; every error is located.
pub fn parse_module(ctx: &Context, sources: &SourceMap, file: FileId) -> Result<Module, Vec<Diagnostic>> {
    let _ = (ctx, sources, file);
    unimplemented!("parser branch")
}
