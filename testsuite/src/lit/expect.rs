//! Expected-diagnostic annotations (MLIR's `-verify-diagnostics`):
//! `// expected-error {{text}}` on the line the diagnostic points at,
//! `// expected-error @+1 {{text}}` / `@-2` relative to the annotation's
//! line, and `@unknown` for diagnostics without a source position; also
//! `expected-warning`, `expected-note` and `expected-remark`.
//!
//! Invariants: a produced diagnostic matches an annotation when the
//! severity is equal, its primary span is on the annotation's target line,
//! and its message contains the annotation's text; each annotation matches
//! at most one diagnostic. Notes attached to a diagnostic are matched as
//! diagnostics of severity note at their own span's line (or the parent's
//! line when they have no span).

use weft_ir::{Diagnostic, Severity, SourceMap, Span};

/// One annotation.
#[derive(Debug, Clone, PartialEq)]
pub struct Expectation {
    pub severity: Severity,
    /// The line the diagnostic must point at; `None` for `@unknown`.
    pub target: Option<u32>,
    /// A substring of the expected message.
    pub text: String,
    /// The line the annotation is written on.
    pub line: u32,
}

/// Finds the annotations on `lines` (numbered 1-based lines of a case);
/// `last_line` bounds relative targets. The error is a line and a message.
pub fn parse_expectations<'a>(
    lines: impl Iterator<Item = (u32, &'a str)>,
    first_line: u32,
    last_line: u32,
) -> Result<Vec<Expectation>, (u32, String)> {
    let mut out = Vec::new();
    for (n, line) in lines {
        let Some(comment) = line.find("//").map(|i| &line[i + 2..]) else { continue };
        let mut rest = comment;
        while let Some(start) = rest.find("expected-") {
            let (exp, after) = parse_one(&rest[start..], n).map_err(|m| (n, m))?;
            if let Some(t) = exp.target {
                // One past the last line: the end of the file, for errors
                // about what is missing there.
                if t < first_line || t > last_line + 1 {
                    return Err((n, format!("annotation targets line {t}, which is outside its case")));
                }
            }
            out.push(exp);
            rest = after;
        }
    }
    Ok(out)
}

/// Parses `expected-KIND [@TARGET] {{TEXT}}` at the start of `s`; returns
/// the expectation and the text after it.
fn parse_one(s: &str, line: u32) -> Result<(Expectation, &str), String> {
    let body = &s["expected-".len()..];
    let kind_len = body.find(|c: char| !c.is_ascii_alphabetic()).unwrap_or(body.len());
    let severity = match &body[..kind_len] {
        "error" => Severity::Error,
        "warning" => Severity::Warning,
        "note" => Severity::Note,
        "remark" => Severity::Remark,
        other => return Err(format!("unknown annotation `expected-{other}` (use error, warning, note or remark)")),
    };
    let rest = body[kind_len..].trim_start();
    let (target, rest) = parse_target(rest, line)?;
    let rest = rest.trim_start();
    let text_start = rest.strip_prefix("{{").ok_or("expected `{{text}}` after the annotation")?;
    let end = text_start.find("}}").ok_or("unterminated `{{` in annotation (missing `}}`)")?;
    let text = text_start[..end].to_string();
    Ok((Expectation { severity, target, text, line }, &text_start[end + 2..]))
}

/// `@+N`, `@-N`, `@unknown` or nothing (the annotation's own line).
fn parse_target(s: &str, line: u32) -> Result<(Option<u32>, &str), String> {
    let Some(rest) = s.strip_prefix('@') else { return Ok((Some(line), s)) };
    if let Some(rest) = rest.strip_prefix("unknown") {
        return Ok((None, rest));
    }
    let sign_len = usize::from(rest.starts_with(['+', '-']));
    let digits = rest[sign_len..].bytes().take_while(u8::is_ascii_digit).count();
    if sign_len == 0 || digits == 0 {
        return Err("expected `@+N`, `@-N` or `@unknown` after `@`".to_string());
    }
    let offset: i64 = rest[sign_len..sign_len + digits].parse().map_err(|_| "line offset too large".to_string())?;
    let target = if rest.starts_with('-') { i64::from(line) - offset } else { i64::from(line) + offset };
    let target = u32::try_from(target).map_err(|_| format!("annotation targets line {target}"))?;
    Ok((Some(target), &rest[sign_len + digits..]))
}

/// A diagnostic (or a note of one) flattened for matching.
struct Produced<'a> {
    severity: Severity,
    line: Option<u32>,
    message: &'a str,
}

fn line_of(span: Span, sources: &SourceMap) -> Option<u32> {
    if span.is_none() {
        return None;
    }
    sources.line_col(span.file, span.start).map(|(l, _)| l)
}

fn flatten<'a>(diags: &'a [Diagnostic], sources: &SourceMap) -> Vec<Produced<'a>> {
    let mut out = Vec::new();
    for d in diags {
        let line = line_of(d.span, sources);
        out.push(Produced { severity: d.severity, line, message: &d.message });
        for n in &d.notes {
            let note_line = line_of(n.span, sources).or(line);
            out.push(Produced { severity: Severity::Note, line: note_line, message: &n.message });
        }
    }
    out
}

fn describe_line(line: Option<u32>) -> String {
    line.map_or_else(|| "no position".to_string(), |l| format!("line {l}"))
}

/// Checks `diags` against `expected`: every annotation must be matched by
/// a diagnostic and every error diagnostic by an annotation (warnings,
/// remarks and notes may go unannotated). The error says what was missing
/// or unexpected, one problem per line.
pub fn check_expectations(expected: &[Expectation], diags: &[Diagnostic], sources: &SourceMap) -> Result<(), String> {
    let produced = flatten(diags, sources);
    let mut matched = vec![false; expected.len()];
    let mut problems = Vec::new();
    for p in &produced {
        let hit = expected.iter().enumerate().position(|(i, e)| {
            !matched[i] && e.severity == p.severity && e.target == p.line && p.message.contains(&e.text)
        });
        match hit {
            Some(i) => matched[i] = true,
            None if p.severity == Severity::Error => {
                problems.push(format!("unexpected error at {}: {}", describe_line(p.line), p.message))
            }
            None => {}
        }
    }
    for (e, _) in expected.iter().zip(&matched).filter(|(_, m)| !**m) {
        problems.push(format!(
            "expected {} at {} {{{{{}}}}} (annotation on line {}) was not produced{}",
            e.severity.as_str(),
            describe_line(e.target),
            e.text,
            e.line,
            near_miss(e, &produced)
        ));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("\n"))
    }
}

/// "; got: error at line 4: ..." when a diagnostic of the same severity was
/// produced, to show what did not match.
fn near_miss(e: &Expectation, produced: &[Produced]) -> String {
    let same: Vec<String> = produced
        .iter()
        .filter(|p| p.severity == e.severity)
        .map(|p| format!("{} at {}: {}", p.severity.as_str(), describe_line(p.line), p.message))
        .collect();
    if same.is_empty() {
        String::new()
    } else {
        format!("; produced: {}", same.join("; "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Vec<Expectation>, (u32, String)> {
        let n = text.lines().count() as u32;
        parse_expectations(text.lines().enumerate().map(|(i, l)| (i as u32 + 1, l)), 1, n)
    }

    fn exp(severity: Severity, target: Option<u32>, text: &str, line: u32) -> Expectation {
        Expectation { severity, target, text: text.to_string(), line }
    }

    #[test]
    fn parses_all_forms() {
        let text = "a // expected-error {{same line}}\n\
                    // expected-warning @+1 {{next}}\n\
                    b\n\
                    // expected-note @-3 {{up}} expected-remark @unknown {{nowhere}}\n";
        let got = parse(text).unwrap();
        assert_eq!(
            got,
            [
                exp(Severity::Error, Some(1), "same line", 1),
                exp(Severity::Warning, Some(3), "next", 2),
                exp(Severity::Note, Some(1), "up", 4),
                exp(Severity::Remark, None, "nowhere", 4),
            ]
        );
    }

    #[test]
    fn text_may_contain_braces() {
        let got = parse("// expected-error {{got {a = 1}}}").unwrap();
        assert_eq!(got[0].text, "got {a = 1");
    }

    #[test]
    fn malformed_annotations_are_errors() {
        assert!(parse("// expected-eror {{x}}").unwrap_err().1.contains("unknown annotation"));
        assert!(parse("// expected-error x").unwrap_err().1.contains("{{text}}"));
        assert!(parse("// expected-error {{x").unwrap_err().1.contains("unterminated"));
        assert!(parse("// expected-error @2 {{x}}").unwrap_err().1.contains("@+N"));
        assert!(parse("// expected-error @+2 {{x}}").unwrap_err().1.contains("outside its case"));
        assert!(parse("// expected-error @-3 {{x}}").unwrap_err().1.contains("line -2"));
    }

    #[test]
    fn annotations_outside_comments_are_ignored() {
        assert!(parse("%0 = constant \"expected-error\"").unwrap().is_empty());
    }

    fn sources() -> (SourceMap, weft_ir::FileId) {
        let mut sm = SourceMap::new();
        let id = sm.add("t.weft", "line one\nline two\nline three\n");
        (sm, id)
    }

    #[test]
    fn matching_by_severity_line_and_substring() {
        let (sm, f) = sources();
        let d = Diagnostic::error("use of undefined value '%x'", Span::new(f, 10, 14));
        let ok = [exp(Severity::Error, Some(2), "undefined value", 2)];
        assert_eq!(check_expectations(&ok, std::slice::from_ref(&d), &sm), Ok(()));
        let wrong_line = [exp(Severity::Error, Some(3), "undefined value", 2)];
        let err = check_expectations(&wrong_line, std::slice::from_ref(&d), &sm).unwrap_err();
        assert!(err.contains("unexpected error at line 2: use of undefined value"), "{err}");
        assert!(err.contains("expected error at line 3 {{undefined value}}"), "{err}");
        let wrong_text = [exp(Severity::Error, Some(2), "redefinition", 2)];
        assert!(check_expectations(&wrong_text, &[d], &sm).is_err());
    }

    #[test]
    fn unexpected_errors_fail_but_warnings_do_not() {
        let (sm, f) = sources();
        let w = Diagnostic::warning("unused", Span::new(f, 0, 4));
        assert_eq!(check_expectations(&[], std::slice::from_ref(&w), &sm), Ok(()));
        let e = Diagnostic::error("bad", Span::NONE);
        let err = check_expectations(&[], &[w, e.clone()], &sm).unwrap_err();
        assert_eq!(err, "unexpected error at no position: bad");
        let at_unknown = [exp(Severity::Error, None, "bad", 1)];
        assert_eq!(check_expectations(&at_unknown, &[e], &sm), Ok(()));
    }

    #[test]
    fn notes_match_at_their_span_or_the_parent_line() {
        let (sm, f) = sources();
        let d = Diagnostic::error("redefinition of '%0'", Span::new(f, 10, 12))
            .note_at("previous definition here", Span::new(f, 0, 2))
            .note("names are local to a function");
        let expected = [
            exp(Severity::Error, Some(2), "redefinition", 2),
            exp(Severity::Note, Some(1), "previous definition", 2),
            exp(Severity::Note, Some(2), "local to a function", 2),
        ];
        assert_eq!(check_expectations(&expected, &[d], &sm), Ok(()));
    }

    #[test]
    fn each_annotation_matches_once() {
        let (sm, f) = sources();
        let d = Diagnostic::error("bad", Span::new(f, 0, 1));
        let expected = [exp(Severity::Error, Some(1), "bad", 1), exp(Severity::Error, Some(1), "bad", 1)];
        let err = check_expectations(&expected, &[d], &sm).unwrap_err();
        assert!(err.starts_with("expected error at line 1 {{bad}}"), "{err}");
    }
}
