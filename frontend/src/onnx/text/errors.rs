//! Turns lalrpop's parse errors into located diagnostics that say what was
//! found and, compactly, what was expected.
//!
//! Invariants: the expected list names at most [`MAX_EXPECTED`] things,
//! punctuation first; related terminals are merged into one phrase.

use super::lexer::Tok;
use super::syntax::SyntaxError;
use lalrpop_util::ParseError;
use weft_ir::{Diagnostic, FileId, Span};

const MAX_EXPECTED: usize = 6;

/// Terminal sets that read better as one phrase (applied when all are
/// expected).
const GROUPS: &[(&str, &[&str])] = &[
    ("a value", &["Int", "Float", "Str", "Ident", "\"@\""]),
    ("a literal", &["Int", "Float", "Str", "Ident"]),
    ("a dimension", &["\"?\"", "Ident", "Str", "Int"]),
    ("a name", &["Ident", "Str"]),
];

/// A diagnostic for a failed parse of a text of `len` bytes in `file`.
pub fn parse_error(e: ParseError<usize, Tok<'_>, SyntaxError>, file: FileId, len: usize) -> Diagnostic {
    match e {
        ParseError::User { error } => error.into_diagnostic(file),
        ParseError::UnrecognizedToken { token: (l, tok, r), expected } if after_a_graph(&expected) => {
            let message = format!("expected a function or the end of the input, found {tok}");
            Diagnostic::error(message, Span::new(file, l, r))
        }
        ParseError::UnrecognizedToken { token: (l, tok, r), expected } => {
            Diagnostic::error(format!("expected {}, found {tok}", describe_expected(&expected)), Span::new(file, l, r))
        }
        ParseError::UnrecognizedEof { location, expected } => {
            let at = location.min(len);
            Diagnostic::error(
                format!("expected {}, found the end of the input", describe_expected(&expected)),
                Span::new(file, at, at),
            )
        }
        ParseError::ExtraToken { token: (l, tok, r) } => {
            Diagnostic::error(format!("unexpected {tok} after the end of the model"), Span::new(file, l, r))
        }
        ParseError::InvalidToken { location } => {
            Diagnostic::error("invalid token", Span::new(file, location, location.saturating_add(1).min(len)))
        }
    }
}

/// True for what may follow the model's graph or a function: another
/// function (a header or a name).
fn after_a_graph(expected: &[String]) -> bool {
    let mut e: Vec<&str> = expected.iter().map(String::as_str).collect();
    e.sort_unstable();
    e == ["\"<\"", "Ident", "Str", "TypeCtor"]
}

/// "A, B or C" for the terminals lalrpop expected.
fn describe_expected(expected: &[String]) -> String {
    let mut left: Vec<&str> = expected.iter().map(String::as_str).collect();
    // A type constructor is spelled like a name.
    if left.contains(&"Ident") {
        left.retain(|t| *t != "TypeCtor");
    }
    let mut groups: Vec<String> = Vec::new();
    for (phrase, members) in GROUPS {
        if members.iter().all(|m| left.contains(m)) {
            groups.push((*phrase).to_string());
            left.retain(|t| !members.contains(t));
        }
    }
    let mut phrases: Vec<String> =
        left.iter().filter(|t| is_punctuation(t)).map(|t| format!("'{}'", t.trim_matches('"'))).collect();
    left.retain(|t| !is_punctuation(t));
    phrases.append(&mut groups);
    phrases.extend(left.iter().map(|t| describe_terminal(t).to_string()));
    phrases.dedup();
    if phrases.len() > MAX_EXPECTED {
        phrases.truncate(MAX_EXPECTED - 1);
        phrases.push("something else".to_string());
    }
    join_or(&phrases)
}

fn is_punctuation(terminal: &str) -> bool {
    terminal.len() >= 3 && terminal.starts_with('"') && terminal.ends_with('"')
}

fn describe_terminal(terminal: &str) -> &str {
    match terminal {
        "Ident" => "a name",
        "TypeCtor" => "a type constructor",
        "Int" => "an integer",
        "Float" => "a float",
        "Str" => "a string",
        other => other,
    }
}

fn join_or(items: &[String]) -> String {
    match items {
        [] => "nothing".to_string(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn expected_lists_read_well() {
        assert_eq!(describe_expected(&strings(&["\")\"", "\",\""])), "')' or ','");
        assert_eq!(describe_expected(&strings(&["Int", "Float", "Str", "Ident", "\"@\"", "\"[\""])), "'[' or a value");
        assert_eq!(describe_expected(&strings(&["Ident", "Str"])), "a name");
        assert_eq!(describe_expected(&strings(&[])), "nothing");
    }
}
