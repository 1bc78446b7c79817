//! Pipeline text: `canonicalize,dce,cse{commutative=false,foo="a b"}`.
//!
//! Grammar (whitespace allowed around every token):
//!
//! ```text
//! pipeline := (entry (',' entry)*)?
//! entry    := name ('{' (option ((',' | whitespace) option)*)? '}')?
//! name     := [A-Za-z0-9_-]+  (the first character a letter or '_')
//! option   := name '=' value
//! value    := '"' string-with-\"-and-\\-escapes '"'
//!           | bare: characters up to the next ',', '}' or whitespace outside
//!             brackets; (), [] and {} nest, so `dims=[1,2]` and `p={a,b}`
//!             are single values
//! ```
//!
//! Invariants: a parsed [`Pipeline`] has non-empty names and no option given
//! twice in one entry; `Display` writes the canonical form (no spaces,
//! options separated by ',', values quoted only when a bare value would not
//! read back), and `Pipeline::parse(&p.to_string()) == Ok(p)`. Errors give a
//! 1-based column counted in characters.

use std::fmt::{self, Write};

/// One pass (or named pipeline) with its options, in the order written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PipelineEntry {
    pub name: String,
    pub options: Vec<(String, String)>,
}

impl PipelineEntry {
    /// An entry without options.
    pub fn new(name: impl Into<String>) -> PipelineEntry {
        PipelineEntry { name: name.into(), options: Vec::new() }
    }
}

/// A list of passes to run in order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Pipeline {
    pub entries: Vec<PipelineEntry>,
}

impl Pipeline {
    /// Parses pipeline text; the error says what was expected and at which
    /// column.
    pub fn parse(text: &str) -> Result<Pipeline, String> {
        PipelineParser { chars: text.chars().collect(), pos: 0 }.pipeline()
    }
}

struct PipelineParser {
    chars: Vec<char>,
    pos: usize,
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '-' || c == '_'
}

fn is_name_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_'
}

impl PipelineParser {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn column(&self) -> usize {
        self.pos + 1
    }

    fn skip_ws(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.pos += 1;
        }
    }

    /// "at column 5" or "at end of input".
    fn here(&self) -> String {
        match self.peek() {
            Some(c) => format!("at column {} (found '{c}')", self.column()),
            None => "at end of input".to_string(),
        }
    }

    fn pipeline(mut self) -> Result<Pipeline, String> {
        let mut entries = Vec::new();
        self.skip_ws();
        if self.peek().is_none() {
            return Ok(Pipeline { entries });
        }
        loop {
            entries.push(self.entry()?);
            self.skip_ws();
            match self.peek() {
                None => return Ok(Pipeline { entries }),
                Some(',') => self.pos += 1,
                Some(_) => {
                    let last = entries.last().map_or("", |e| e.name.as_str());
                    let after = if entries.last().is_some_and(|e| !e.options.is_empty()) {
                        format!("expected ',' after the options of '{last}'")
                    } else {
                        format!("expected ',' or '{{' after '{last}'")
                    };
                    return Err(format!("{after} {}", self.here()));
                }
            }
        }
    }

    fn name(&mut self, what: &str) -> Result<String, String> {
        self.skip_ws();
        if !self.peek().is_some_and(is_name_start) {
            return Err(format!("expected {what} {}", self.here()));
        }
        let start = self.pos;
        while self.peek().is_some_and(is_name_char) {
            self.pos += 1;
        }
        Ok(self.chars[start..self.pos].iter().collect())
    }

    fn entry(&mut self) -> Result<PipelineEntry, String> {
        let name = self.name("a pass name")?;
        self.skip_ws();
        let mut entry = PipelineEntry::new(name);
        if self.peek() == Some('{') {
            let open = self.column();
            self.pos += 1;
            self.options(&mut entry, open)?;
        }
        Ok(entry)
    }

    /// Options after '{', through the closing '}'.
    fn options(&mut self, entry: &mut PipelineEntry, open: usize) -> Result<(), String> {
        loop {
            self.skip_ws();
            match self.peek() {
                Some('}') => {
                    self.pos += 1;
                    return Ok(());
                }
                None => {
                    return Err(format!(
                        "expected '}}' to close the options of '{}' opened at column {open}",
                        entry.name
                    ))
                }
                Some(',') if !entry.options.is_empty() => self.pos += 1,
                Some(_) => {}
            }
            self.skip_ws();
            let key_column = self.column();
            let key = self.name(&format!("an option name in the options of '{}'", entry.name))?;
            if entry.options.iter().any(|(k, _)| *k == key) {
                return Err(format!("option '{key}' of '{}' is given twice (column {key_column})", entry.name));
            }
            self.skip_ws();
            if self.peek() != Some('=') {
                return Err(format!("expected '=' after option '{key}' {}", self.here()));
            }
            self.pos += 1;
            self.skip_ws();
            let value = self.value(&key)?;
            entry.options.push((key, value));
        }
    }

    fn value(&mut self, key: &str) -> Result<String, String> {
        if self.peek() == Some('"') {
            return self.quoted();
        }
        let end = scan_bare(&self.chars[self.pos..]).map_err(|c| {
            format!("unbalanced '{c}' in the value of option '{key}' starting at column {}", self.column())
        })?;
        if end == 0 {
            return Err(format!("expected a value for option '{key}' {}", self.here()));
        }
        let value = self.chars[self.pos..self.pos + end].iter().collect();
        self.pos += end;
        Ok(value)
    }

    fn quoted(&mut self) -> Result<String, String> {
        let open = self.column();
        self.pos += 1;
        let mut out = String::new();
        loop {
            match self.peek() {
                None => return Err(format!("unterminated string starting at column {open}")),
                Some('"') => {
                    self.pos += 1;
                    return Ok(out);
                }
                Some('\\') => {
                    self.pos += 1;
                    match self.peek() {
                        Some(c @ ('"' | '\\')) => out.push(c),
                        _ => return Err(format!("expected '\\\"' or '\\\\' after '\\' {}", self.here())),
                    }
                }
                Some(c) => out.push(c),
            }
            self.pos += 1;
        }
    }
}

/// The length of the bare value at the start of `chars`: up to the first
/// ',', '}' or whitespace outside brackets, or a '"'. `Err(c)` when a closing
/// bracket does not match or an opening one is never closed.
fn scan_bare(chars: &[char]) -> Result<usize, char> {
    let mut stack = Vec::new();
    for (i, &c) in chars.iter().enumerate() {
        match c {
            '(' | '[' | '{' => stack.push(c),
            ')' | ']' | '}' => match stack.pop() {
                Some(open) if matching(open) == c => {}
                Some(_) => return Err(c),
                None if c == '}' => return Ok(i),
                None => return Err(c),
            },
            ',' if stack.is_empty() => return Ok(i),
            '"' => return if stack.is_empty() { Ok(i) } else { Err(c) },
            c if c.is_whitespace() && stack.is_empty() => return Ok(i),
            _ => {}
        }
    }
    match stack.last() {
        Some(&open) => Err(open),
        None => Ok(chars.len()),
    }
}

fn matching(open: char) -> char {
    match open {
        '(' => ')',
        '[' => ']',
        _ => '}',
    }
}

/// Writes an option value bare when it reads back as itself, else quoted.
fn write_value(f: &mut fmt::Formatter<'_>, value: &str) -> fmt::Result {
    let chars: Vec<char> = value.chars().collect();
    if !chars.is_empty() && scan_bare(&chars) == Ok(chars.len()) {
        return f.write_str(value);
    }
    f.write_char('"')?;
    for c in value.chars() {
        if c == '"' || c == '\\' {
            f.write_char('\\')?;
        }
        f.write_char(c)?;
    }
    f.write_char('"')
}

impl fmt::Display for PipelineEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)?;
        if self.options.is_empty() {
            return Ok(());
        }
        f.write_char('{')?;
        for (i, (k, v)) in self.options.iter().enumerate() {
            if i > 0 {
                f.write_char(',')?;
            }
            write!(f, "{k}=")?;
            write_value(f, v)?;
        }
        f.write_char('}')
    }
}

impl fmt::Display for Pipeline {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.entries.iter().enumerate() {
            if i > 0 {
                f.write_char(',')?;
            }
            e.fmt(f)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(name: &str, options: &[(&str, &str)]) -> PipelineEntry {
        PipelineEntry {
            name: name.to_string(),
            options: options.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        }
    }

    fn err(text: &str) -> String {
        Pipeline::parse(text).expect_err(text)
    }

    #[test]
    fn parses_names_and_options() {
        let p = Pipeline::parse("canonicalize,dce,cse{max-ops=10,foo=bar}").unwrap();
        assert_eq!(
            p.entries,
            vec![entry("canonicalize", &[]), entry("dce", &[]), entry("cse", &[("max-ops", "10"), ("foo", "bar")])]
        );
    }

    #[test]
    fn tolerates_whitespace_and_space_separated_options() {
        let p = Pipeline::parse("  canonicalize ,\n dce , cse { max-ops = 10  foo=bar } ").unwrap();
        assert_eq!(p.to_string(), "canonicalize,dce,cse{max-ops=10,foo=bar}");
    }

    #[test]
    fn empty_text_is_the_empty_pipeline() {
        assert_eq!(Pipeline::parse("  ").unwrap().entries, vec![]);
        assert_eq!(Pipeline::parse("cse{}").unwrap().entries, vec![entry("cse", &[])]);
    }

    #[test]
    fn quoted_and_nested_values() {
        let p = Pipeline::parse(r#"fuse{rules="a, b}",inner={x=1,y={2}},dims=[1, 2],path="C:\\t\"q\""}"#).unwrap();
        assert_eq!(
            p.entries[0].options,
            vec![
                ("rules".to_string(), "a, b}".to_string()),
                ("inner".to_string(), "{x=1,y={2}}".to_string()),
                ("dims".to_string(), "[1, 2]".to_string()),
                ("path".to_string(), "C:\\t\"q\"".to_string()),
            ]
        );
        assert_eq!(p.to_string(), r#"fuse{rules="a, b}",inner={x=1,y={2}},dims=[1, 2],path="C:\\t\"q\""}"#);
    }

    #[test]
    fn print_then_parse_is_identity() {
        let p = Pipeline {
            entries: vec![
                entry("a", &[("x", ""), ("y", "has space"), ("z", "{ok}"), ("w", "}"), ("v", "\"")]),
                entry("b-c_d", &[("n", "[1,[2]]"), ("m", "(")]),
            ],
        };
        let text = p.to_string();
        assert_eq!(Pipeline::parse(&text), Ok(p), "{text}");
    }

    #[test]
    fn error_after_a_name_says_where() {
        assert_eq!(err("dce x"), "expected ',' or '{' after 'dce' at column 5 (found 'x')");
        assert_eq!(err("cse{a=1} dce"), "expected ',' after the options of 'cse' at column 10 (found 'd')");
    }

    #[test]
    fn errors_on_missing_names() {
        assert_eq!(err("dce,"), "expected a pass name at end of input");
        assert_eq!(err(",dce"), "expected a pass name at column 1 (found ',')");
        assert_eq!(err("dce,,cse"), "expected a pass name at column 5 (found ',')");
        assert_eq!(err("9x"), "expected a pass name at column 1 (found '9')");
    }

    #[test]
    fn errors_inside_options() {
        assert_eq!(err("cse{a=1"), "expected '}' to close the options of 'cse' opened at column 4");
        assert_eq!(err("cse{a}"), "expected '=' after option 'a' at column 6 (found '}')");
        assert_eq!(err("cse{a=}"), "expected a value for option 'a' at column 7 (found '}')");
        assert_eq!(err("cse{=1}"), "expected an option name in the options of 'cse' at column 5 (found '=')");
        assert_eq!(err("cse{a=1,a=2}"), "option 'a' of 'cse' is given twice (column 9)");
        assert_eq!(err("cse{a=\"x}"), "unterminated string starting at column 7");
        assert_eq!(err("cse{a=\"\\n\"}"), "expected '\\\"' or '\\\\' after '\\' at column 9 (found 'n')");
        assert_eq!(err("cse{a=[1,2}"), "unbalanced '}' in the value of option 'a' starting at column 7");
        assert_eq!(err("cse{a=[1"), "unbalanced '[' in the value of option 'a' starting at column 7");
    }

    #[test]
    fn columns_count_characters_not_bytes() {
        assert_eq!(err("cse{é=1}"), "expected an option name in the options of 'cse' at column 5 (found 'é')");
    }
}
