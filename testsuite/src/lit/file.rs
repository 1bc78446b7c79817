//! The structure of a lit file: the `// RUN: weft opt <args>` line and the
//! cases separated by `// -----` lines.
//!
//! Invariants: line numbers are 1-based lines of the whole file; each
//! [`Case::text`] has exactly the lines of the file, with every line outside
//! the case made empty, so positions in diagnostics on a case are positions
//! in the file.

use crate::shell::split_words;

/// The line that separates cases.
pub const CASE_SEPARATOR: &str = "// -----";

/// The prefix of the first line.
pub const RUN_PREFIX: &str = "// RUN:";

/// One `// -----`-separated part of a lit file.
#[derive(Debug, Clone, PartialEq)]
pub struct Case {
    /// The first line of the case (1-based).
    pub first_line: u32,
    /// The last line of the case (1-based, inclusive).
    pub last_line: u32,
    /// The file's text with the lines of other cases blanked out.
    pub text: String,
}

impl Case {
    /// The case's own lines with their 1-based numbers.
    pub fn lines<'a>(&'a self) -> impl Iterator<Item = (u32, &'a str)> + 'a {
        self.text
            .lines()
            .enumerate()
            .map(|(i, l)| (i as u32 + 1, l))
            .filter(|&(n, _)| n >= self.first_line && n <= self.last_line)
    }
}

/// A parsed lit file.
#[derive(Debug, Clone, PartialEq)]
pub struct LitFile {
    /// The words of the RUN line after `weft opt`, without `%s`.
    pub run_args: Vec<String>,
    pub cases: Vec<Case>,
}

/// Splits a lit file into its RUN arguments and cases; the error is a line
/// and a message.
pub fn parse_lit_file(text: &str) -> Result<LitFile, (u32, String)> {
    let run_args = parse_run_line(text.lines().next().unwrap_or(""))?;
    Ok(LitFile { run_args, cases: split_cases(text) })
}

/// The arguments of `// RUN: weft opt <args>`.
fn parse_run_line(first: &str) -> Result<Vec<String>, (u32, String)> {
    let fail = |m: String| (1, m);
    let rest = first.trim_start().strip_prefix(RUN_PREFIX).ok_or_else(|| {
        fail(format!("the first line must be `{RUN_PREFIX} weft opt <args>`, found `{}`", first.trim()))
    })?;
    let words = split_words(rest).map_err(|e| fail(format!("bad RUN line: {e}")))?;
    match words.as_slice() {
        [weft, opt, ..] if weft == "weft" && opt == "opt" => {
            Ok(words.into_iter().skip(2).filter(|w| w != "%s").collect())
        }
        _ => Err(fail(format!("the RUN line must start with `weft opt`, found `{}`", rest.trim()))),
    }
}

/// The cases of `text`, split at separator lines.
fn split_cases(text: &str) -> Vec<Case> {
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let mut ranges = Vec::new();
    let mut start = 0;
    for (i, line) in lines.iter().enumerate() {
        if line.trim() == CASE_SEPARATOR {
            ranges.push((start, i));
            start = i + 1;
        }
    }
    ranges.push((start, lines.len()));
    ranges
        .into_iter()
        .map(|(first, end)| Case {
            first_line: first as u32 + 1,
            last_line: end.max(first + 1) as u32,
            text: blank_outside(&lines, first, end),
        })
        .collect()
}

/// The lines joined, with lines outside `first..end` reduced to their line
/// break.
fn blank_outside(lines: &[&str], first: usize, end: usize) -> String {
    let mut out = String::new();
    for (i, line) in lines.iter().enumerate() {
        if (first..end).contains(&i) {
            out.push_str(line);
        } else if line.ends_with('\n') {
            out.push('\n');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_line_arguments_drop_the_input_placeholder() {
        let f = parse_lit_file("// RUN: weft opt %s --passes 'cse{max-ops=3}'\n").unwrap();
        assert_eq!(f.run_args, ["--passes", "cse{max-ops=3}"]);
    }

    #[test]
    fn missing_or_wrong_run_line_is_an_error_on_line_1() {
        let (line, msg) = parse_lit_file("module {}\n").unwrap_err();
        assert_eq!(line, 1);
        assert!(msg.contains("first line must be"), "{msg}");
        let (_, msg) = parse_lit_file("// RUN: mlir-opt %s\n").unwrap_err();
        assert!(msg.contains("must start with `weft opt`"), "{msg}");
        let (_, msg) = parse_lit_file("// RUN: weft opt '%s\n").unwrap_err();
        assert!(msg.contains("unterminated single quote"), "{msg}");
    }

    #[test]
    fn cases_keep_file_line_numbers() {
        let text = "// RUN: weft opt %s\na\n// -----\nb\nc\n  // -----  \nd";
        let f = parse_lit_file(text).unwrap();
        assert_eq!(f.cases.len(), 3);
        let c = &f.cases[1];
        assert_eq!((c.first_line, c.last_line), (4, 5));
        assert_eq!(c.text, "\n\n\nb\nc\n\n");
        assert_eq!(c.lines().collect::<Vec<_>>(), [(4, "b"), (5, "c")]);
        assert_eq!(f.cases[0].text, "// RUN: weft opt %s\na\n\n\n\n\n");
        assert_eq!(f.cases[2].text, "\n\n\n\n\n\nd");
        assert_eq!((f.cases[2].first_line, f.cases[2].last_line), (7, 7));
    }

    #[test]
    fn a_file_without_separators_is_one_case() {
        let text = "// RUN: weft opt %s\nmodule {\n}\n";
        let f = parse_lit_file(text).unwrap();
        assert_eq!(f.cases.len(), 1);
        assert_eq!(f.cases[0].text, text);
        assert_eq!((f.cases[0].first_line, f.cases[0].last_line), (1, 3));
    }
}
