//! Turns lalrpop's parse errors into located diagnostics that say what was
//! found and, compactly, what was expected.
//!
//! Invariants: the expected-token list names at most [`MAX_EXPECTED`]
//! things; related tokens are merged into one phrase ("an op", "a type")
//! so the list stays short and readable.

use super::lexer::Tok;
use super::syntax::SyntaxError;
use crate::{Diagnostic, FileId, Span};
use lalrpop_util::ParseError;

/// The most alternatives an "expected ..." list shows.
const MAX_EXPECTED: usize = 6;

/// Sets of grammar terminals that read better as one phrase, tried in
/// order; a group applies when every member is expected.
const GROUPS: &[(&str, &[&str])] = &[
    ("an op", &["ValueName", "Str", "Ident", "\"return\"", "\"constant\""]),
    (
        "an attribute value",
        &[
            "Int",
            "Float",
            "Str",
            "\"true\"",
            "\"false\"",
            "\"[\"",
            "\"tensor\"",
            "Ident",
            "DialectType",
            "\"dense\"",
            "\"dense_resource\"",
        ],
    ),
    (
        "an attribute name",
        &[
            "Ident",
            "\"module\"",
            "\"func\"",
            "\"attributes\"",
            "\"return\"",
            "\"constant\"",
            "\"dense\"",
            "\"dense_resource\"",
            "\"tensor\"",
            "\"loc\"",
            "\"fused\"",
            "\"unknown\"",
            "\"true\"",
            "\"false\"",
        ],
    ),
    ("a dense literal", &["Int", "Float", "\"true\"", "\"false\"", "\"[\""]),
    ("a type", &["\"tensor\"", "Ident", "DialectType"]),
    ("a dimension", &["StaticDim", "SymDim", "DynDim"]),
    ("an element type", &["Ident", "DialectType"]),
    ("a number", &["Int", "Float"]),
    ("a location", &["Str", "\"fused\"", "\"unknown\""]),
];

/// A diagnostic for a failed parse of a text of `len` bytes in `file`.
pub fn parse_error(e: ParseError<usize, Tok<'_>, SyntaxError>, file: FileId, len: usize) -> Diagnostic {
    match e {
        ParseError::User { error } => {
            let mut d = Diagnostic::error(error.message, Span::new(file, error.span.0, error.span.1));
            for note in error.notes {
                d = d.note(note);
            }
            d
        }
        // After the module's closing brace only its location may follow.
        ParseError::UnrecognizedToken { token: (l, tok, r), expected } if expected == ["\"loc\""] => {
            Diagnostic::error(format!("unexpected {tok} after the end of the module"), Span::new(file, l, r))
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
            Diagnostic::error(format!("unexpected {tok} after the end of the module"), Span::new(file, l, r))
        }
        ParseError::InvalidToken { location } => {
            Diagnostic::error("invalid token", Span::new(file, location, location.saturating_add(1).min(len)))
        }
    }
}

/// "A, B or C" for the terminals lalrpop expected.
fn describe_expected(expected: &[String]) -> String {
    let mut left: Vec<&str> = expected.iter().map(String::as_str).collect();
    // `inf` and `nan` are floats too.
    if left.contains(&"Float") {
        left.retain(|t| !matches!(*t, "\"inf\"" | "\"nan\""));
    }
    let mut groups: Vec<String> = Vec::new();
    for (phrase, members) in GROUPS {
        if members.iter().all(|m| left.contains(m)) {
            groups.push((*phrase).to_string());
            left.retain(|t| !members.contains(t));
        }
    }
    // Punctuation first: it is the most specific hint.
    let mut phrases: Vec<String> =
        left.iter().filter(|t| is_punctuation(t)).map(|t| format!("'{}'", t.trim_matches('"'))).collect();
    left.retain(|t| !is_punctuation(t));
    phrases.append(&mut groups);
    phrases.extend(left.iter().map(|t| describe_terminal(t)));
    phrases.dedup();
    if phrases.len() > MAX_EXPECTED {
        phrases.truncate(MAX_EXPECTED - 1);
        phrases.push("something else".to_string());
    }
    join_or(&phrases)
}

fn is_punctuation(terminal: &str) -> bool {
    terminal.len() >= 3
        && terminal.starts_with('"')
        && terminal.ends_with('"')
        && !terminal[1..terminal.len() - 1].bytes().all(|b| b.is_ascii_alphabetic() || b == b'_')
}

fn describe_terminal(terminal: &str) -> String {
    let phrase = match terminal {
        "ValueName" => "a value name",
        "Symbol" => "a symbol",
        "BlockLabel" => "a block label",
        "Ident" => "a name",
        "DialectType" => "a dialect type",
        "Int" => "an integer",
        "Float" => "a float",
        "Str" => "a string",
        "ResourceName" => "a resource name",
        "StaticDim" | "SymDim" | "DynDim" => "a dimension",
        keyword => return format!("'{}'", keyword.trim_matches('"')),
    };
    phrase.to_string()
}

fn join_or(items: &[String]) -> String {
    match items {
        [] => "nothing".to_string(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}
