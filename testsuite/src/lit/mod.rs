//! Lit files: `testsuite/lit/<area>/NAME.weft`, run like `weft opt` and
//! snapshotted. A file starts with `// RUN: weft opt %s <options>`; cases
//! are separated by `// -----` lines and each is parsed on its own (with
//! the file's line numbers); expected diagnostics are written inline as
//! `// expected-error @+1 {{text}}` (see [`expect`]).
//!
//! A case's output is the printed module followed by the pass manager's
//! log when it succeeds, and the rendered diagnostics when it fails; the
//! file's output joins the cases' outputs with `// -----` lines, with pass
//! timings masked. Running a file also checks that print -> parse -> print
//! is the identity on every case that parses, on its pass output, and
//! through the generic op form.
//!
//! Invariant: a [`LitFailure`] means the file itself is wrong (a missing or
//! unexpected diagnostic, a bad annotation or RUN line, a round-trip
//! mismatch); the output is only produced when none occurred.

mod assert;
pub mod expect;
pub mod file;
pub mod mask;
mod roundtrip;
pub mod snapshot;

pub use assert::{assert_lit_dir, assert_lit_snapshot, check_lit_snapshot};
pub use roundtrip::check_round_trip;

use crate::opt::{run_opt_in, OptArgs, OptOutcome, OptSession};
use expect::{check_expectations, parse_expectations};
use file::{parse_lit_file, Case, CASE_SEPARATOR};
use std::fmt;
use std::path::{Path, PathBuf};
use weft_ir::diag::render_all;
use weft_ir::parser::parse_module;
use weft_ir::{Context, Severity, SourceMap};
use weft_passes::PassRegistry;

/// The output of a lit file that ran as its annotations say.
#[derive(Debug, Clone, PartialEq)]
pub struct LitResult {
    /// The cases' outputs joined by `// -----` lines, timings masked.
    pub output: String,
    /// How many cases the file has.
    pub cases: usize,
}

/// Why a lit file failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    /// The file could not be run as written, or its diagnostics or round
    /// trip did not match.
    Run,
    /// It ran, but has no checked-in snapshot.
    MissingSnapshot,
    /// It ran, but its output differs from the checked-in snapshot.
    SnapshotMismatch,
}

/// A lit file that failed, with the line the problem is on when known.
#[derive(Debug, Clone, PartialEq)]
pub struct LitFailure {
    pub path: PathBuf,
    pub line: Option<u32>,
    pub message: String,
    pub kind: FailureKind,
}

impl LitFailure {
    /// A failure of the file as a whole.
    pub fn file(path: &Path, message: impl Into<String>) -> LitFailure {
        LitFailure { path: path.to_path_buf(), line: None, message: message.into(), kind: FailureKind::Run }
    }

    /// A failure at a line of the file.
    pub fn at(path: &Path, line: u32, message: impl Into<String>) -> LitFailure {
        LitFailure { line: Some(line), ..LitFailure::file(path, message) }
    }
}

impl fmt::Display for LitFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{line}: {}", self.path.display(), self.message),
            None => write!(f, "{}: {}", self.path.display(), self.message),
        }
    }
}

impl std::error::Error for LitFailure {}

/// Runs the lit file at `path` with the dialects of `ctx` and the passes of
/// `registry`.
pub fn run_lit_file(path: &Path, ctx: &Context, registry: &PassRegistry) -> Result<LitResult, LitFailure> {
    let bytes = std::fs::read(path)
        .map_err(|e| LitFailure { line: None, ..LitFailure::at(path, 0, format!("cannot read the file: {e}")) })?;
    let text = String::from_utf8(bytes).map_err(|e| LitFailure {
        line: None,
        ..LitFailure::at(path, 0, format!("the file is not UTF-8: {}", e.utf8_error()))
    })?;
    let lit = parse_lit_file(&text).map_err(|(line, m)| LitFailure::at(path, line, m))?;
    let args = OptArgs::from_words(&lit.run_args).map_err(|e| LitFailure::at(path, 1, format!("bad RUN line: {e}")))?;
    if args.output.is_some() {
        return Err(LitFailure::at(path, 1, "bad RUN line: -o is not allowed (the output is the snapshot)"));
    }
    let session = OptSession { ctx, registry, input_path: Some(path) };
    let source_name = path.file_name().map_or_else(|| path.display().to_string(), |n| n.to_string_lossy().into());
    let mut outputs = Vec::with_capacity(lit.cases.len());
    for case in &lit.cases {
        outputs.push(run_case(&session, &args, case, &source_name).map_err(|(line, m)| LitFailure::at(path, line, m))?);
    }
    let output = outputs.join(&format!("{CASE_SEPARATOR}\n"));
    Ok(LitResult { output: mask::mask_timings(&output), cases: lit.cases.len() })
}

/// Runs one case; its output, or a line and a message.
fn run_case(session: &OptSession, args: &OptArgs, case: &Case, source_name: &str) -> Result<String, (u32, String)> {
    let expected = parse_expectations(case.lines(), case.first_line, case.last_line)?;
    let mut sources = SourceMap::new();
    let file = sources.add(source_name, case.text.clone());
    let outcome = run_opt_in(session, args, &mut sources, file);
    if let Some(e) = &outcome.usage_error {
        return Err((1, format!("bad RUN line: {e}")));
    }
    let in_case = |m: String| (case.first_line, format!("case at line {}: {m}", case.first_line));
    check_expectations(&expected, &outcome.diagnostics, &sources).map_err(in_case)?;
    check_case_round_trips(session.ctx, &sources, file, &outcome).map_err(in_case)?;
    Ok(case_output(&outcome, &sources))
}

/// Round trips of the case's input (when it parses) and of the pipeline's
/// result.
fn check_case_round_trips(
    ctx: &Context,
    sources: &SourceMap,
    file: weft_ir::FileId,
    outcome: &OptOutcome,
) -> Result<(), String> {
    if let Ok(input) = parse_module(ctx, sources, file) {
        check_round_trip(ctx, &input).map_err(|e| format!("the input does not round-trip: {e}"))?;
    }
    if let Some(output) = &outcome.module {
        check_round_trip(ctx, output).map_err(|e| format!("the pipeline's output does not round-trip: {e}"))?;
    }
    Ok(())
}

/// The rendered diagnostics when there were errors; otherwise the output,
/// the log, and any warnings or remarks. Ends with one line break.
fn case_output(outcome: &OptOutcome, sources: &SourceMap) -> String {
    let mut out = String::new();
    if outcome.has_errors() {
        out.push_str(&render_all(&outcome.diagnostics, sources));
    } else {
        out.push_str(&outcome.output);
        push_line_break(&mut out);
        out.push_str(&outcome.log);
        push_line_break(&mut out);
        let others: Vec<_> = outcome.diagnostics.iter().filter(|d| d.severity != Severity::Error).cloned().collect();
        out.push_str(&render_all(&others, sources));
    }
    let trimmed = out.trim_end().len();
    out.truncate(trimmed);
    out.push('\n');
    out
}

fn push_line_break(out: &mut String) {
    if !out.is_empty() && !out.ends_with('\n') {
        out.push('\n');
    }
}

#[cfg(test)]
mod tests;
