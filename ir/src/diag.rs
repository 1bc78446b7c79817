//! Diagnostics: errors, warnings and notes with a source span, rendered with
//! codespan-reporting as `error: ...` / `--> file:line:col` with the
//! offending text underlined.
//!
//! Invariants: a diagnostic with a span renders against the [`SourceMap`]
//! that produced the span; one without a span (an op built by a pass from
//! nothing) falls back to its `loc(...)` [`Location`], then to the plain
//! message.

use crate::location::{Location, SourceMap, Span};
use codespan_reporting::diagnostic::{Diagnostic as CsDiagnostic, Label, Severity as CsSeverity};
use codespan_reporting::files::SimpleFiles;
use codespan_reporting::term;
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Note,
    Remark,
    Warning,
    Error,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Note => "note",
            Severity::Remark => "remark",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

/// A secondary message, optionally pointing at its own span.
#[derive(Debug, Clone, PartialEq)]
pub struct Note {
    pub message: String,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Diagnostic {
    pub severity: Severity,
    pub message: String,
    pub span: Span,
    /// The op's `loc(...)`, shown when there is no span.
    pub loc: Location,
    pub notes: Vec<Note>,
}

impl Diagnostic {
    pub fn error(message: impl Into<String>, span: Span) -> Diagnostic {
        Diagnostic {
            severity: Severity::Error,
            message: message.into(),
            span,
            loc: Location::Unknown,
            notes: Vec::new(),
        }
    }

    pub fn warning(message: impl Into<String>, span: Span) -> Diagnostic {
        Diagnostic { severity: Severity::Warning, ..Diagnostic::error(message, span) }
    }

    pub fn with_loc(mut self, loc: Location) -> Diagnostic {
        self.loc = loc;
        self
    }

    /// Adds a note without a span.
    pub fn note(mut self, message: impl Into<String>) -> Diagnostic {
        self.notes.push(Note { message: message.into(), span: Span::NONE });
        self
    }

    /// Adds a note pointing at `span` (e.g. "previous definition here").
    pub fn note_at(mut self, message: impl Into<String>, span: Span) -> Diagnostic {
        self.notes.push(Note { message: message.into(), span });
        self
    }

    /// Prefixes the message, e.g. with the name of the pass that failed.
    pub fn prefixed(mut self, prefix: &str) -> Diagnostic {
        self.message = format!("{prefix}{}", self.message);
        self
    }

    /// Renders with codespan-reporting: the message, `--> file:line:col`,
    /// the source line with the span underlined, then notes.
    pub fn render(&self, sources: &SourceMap) -> String {
        let mut files = SimpleFiles::new();
        let ids: Vec<usize> = sources.files().iter().map(|(n, t)| files.add(n.as_str(), t.as_str())).collect();
        let file_of = |s: Span| (!s.is_none()).then(|| ids.get(s.file.0 as usize).copied()).flatten();
        let mut labels = Vec::new();
        if let Some(id) = file_of(self.span) {
            labels.push(Label::primary(id, self.span.start as usize..self.span.end as usize));
        }
        let mut notes = Vec::new();
        for n in &self.notes {
            match file_of(n.span) {
                Some(id) => labels
                    .push(Label::secondary(id, n.span.start as usize..n.span.end as usize).with_message(&n.message)),
                None => notes.push(format!("note: {}", n.message)),
            }
        }
        if labels.is_empty() && !self.loc.is_unknown() {
            notes.insert(0, format!("at loc({})", self.loc));
        }
        let severity = match self.severity {
            Severity::Error => CsSeverity::Error,
            Severity::Warning => CsSeverity::Warning,
            Severity::Remark => CsSeverity::Help,
            Severity::Note => CsSeverity::Note,
        };
        let d = CsDiagnostic::new(severity).with_message(&self.message).with_labels(labels).with_notes(notes);
        let config = term::Config::default();
        term::emit_into_string(&config, &files, &d).unwrap_or_else(|_| format!("{self}\n"))
    }

    /// `file:line:col` of the primary span, if it has one.
    pub fn position(&self, sources: &SourceMap) -> Option<(String, u32, u32)> {
        if self.span.is_none() {
            return None;
        }
        let (line, col) = sources.line_col(self.span.file, self.span.start)?;
        Some((sources.name(self.span.file)?.to_string(), line, col))
    }
}

impl fmt::Display for Diagnostic {
    /// The one-line form: `error: message`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.severity.as_str(), self.message)
    }
}

/// Renders several diagnostics, one after another.
pub fn render_all(diags: &[Diagnostic], sources: &SourceMap) -> String {
    diags.iter().map(|d| d.render(sources)).collect()
}

/// The candidates closest to `name` by edit distance, for "did you mean"
/// notes: only plausible ones (at most half the name's length away and
/// keeping at least one of its characters, or containing it), and of those only the ones at the smallest distance, at
/// most three, in the order given.
pub fn closest<'a>(name: &str, candidates: impl Iterator<Item = &'a str>) -> Vec<&'a str> {
    let scored: Vec<(usize, &str)> = candidates
        .map(|c| (strsim::levenshtein(name, c), c))
        .filter(|&(d, c)| {
            let near = d <= (name.len().max(c.len()) / 2).max(2) && d < name.chars().count();
            near || !name.is_empty() && c.contains(name)
        })
        .collect();
    let Some(best) = scored.iter().map(|s| s.0).min() else {
        return Vec::new();
    };
    scored.into_iter().filter(|s| s.0 == best).take(3).map(|(_, c)| c).collect()
}

/// "did you mean `a`, `b`?" or nothing.
pub fn did_you_mean(suggestions: &[&str]) -> Option<String> {
    if suggestions.is_empty() {
        return None;
    }
    let list: Vec<String> = suggestions.iter().map(|s| format!("'{s}'")).collect();
    Some(format!("did you mean {}?", list.join(", ")))
}
