//! Reading the text format (spec/syntax.md): bytes are checked to be UTF-8
//! ([`load_source`]), lexed by the hand-written `lexer`, parsed by the
//! lalrpop grammar (`grammar.lalrpop`, generated into `OUT_DIR` by
//! ir/build.rs) into the syntax tree of [`ast`], and built into a
//! [`Module`] by `resolve`, which looks ops up in a [`Context`] and
//! resolves value names.
//!
//! Invariants: bad input never panics; every error is a [`Diagnostic`]
//! located in the parsed file (a syntax error stops at the first one; name
//! and type errors are all reported, in source order); a module is returned
//! only when there was no error. Parsing what the printer wrote and printing
//! it again gives the same text.

pub mod ast;
mod dense;
mod errors;
mod lexer;
mod resolve;
mod syntax;
mod token;

lalrpop_util::lalrpop_mod!(
    #[allow(clippy::all, clippy::pedantic, unused_qualifications, unused_parens, dead_code)]
    grammar,
    "/parser/grammar.rs"
);

use crate::{Context, Diagnostic, FileId, Module, SourceMap, Span};

/// Adds a source file from raw bytes. Non-UTF-8 input is an error naming
/// the byte offset, line and column of the first invalid byte, and the file
/// is not added.
pub fn load_source(sources: &mut SourceMap, name: &str, bytes: Vec<u8>) -> Result<FileId, Diagnostic> {
    match String::from_utf8(bytes) {
        Ok(text) => Ok(sources.add(name, text)),
        Err(e) => {
            let offset = e.utf8_error().valid_up_to();
            let bytes = e.as_bytes();
            let valid = std::str::from_utf8(bytes.get(..offset).unwrap_or_default()).unwrap_or_default();
            let line = valid.matches('\n').count() + 1;
            let col = valid.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
            let byte = bytes.get(offset).copied().unwrap_or_default();
            Err(Diagnostic::error(
                format!(
                    "{name}:{line}:{col}: the file is not valid UTF-8: invalid byte 0x{byte:02X} at byte offset {offset}"
                ),
                Span::NONE,
            ))
        }
    }
}

/// Parses file `file` of `sources` into a module, resolving op names in
/// `ctx` and value names; every error is located in `file`.
pub fn parse_module(ctx: &Context, sources: &SourceMap, file: FileId) -> Result<Module, Vec<Diagnostic>> {
    let Some(text) = sources.text(file) else {
        return Err(vec![Diagnostic::error(format!("no source file with id {}", file.0), Span::NONE)]);
    };
    let mut ast = grammar::ModuleParser::new()
        .parse(lexer::Lexer::new(text))
        .map_err(|e| vec![errors::parse_error(e, file, text.len())])?;
    if !ast.explicit {
        ast.span = (0, text.len());
    }
    resolve::build_module(ctx, file, text, ast)
}

/// Parses `text` as a file called `name`; returns the source map the
/// diagnostics and spans refer to.
pub fn parse_str(ctx: &Context, name: &str, text: &str) -> (SourceMap, Result<Module, Vec<Diagnostic>>) {
    let mut sources = SourceMap::new();
    let file = sources.add(name, text);
    let result = parse_module(ctx, &sources, file);
    (sources, result)
}

#[cfg(test)]
mod tests;
