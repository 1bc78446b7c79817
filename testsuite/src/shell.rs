//! Shell-like word splitting for lit `RUN:` lines, so that
//! `--passes 'cse{max-ops=4}'` reaches the option parser as one word.
//!
//! Invariants: words are separated by unquoted whitespace; single quotes
//! keep everything literally; double quotes keep everything except that a
//! backslash escapes `"`, `\`, `$` and `` ` ``; outside quotes a backslash
//! escapes the next character. No expansion of variables or globs is done.

/// Splits `line` into words; the error names the problem (an unterminated
/// quote or a trailing backslash).
pub fn split_words(line: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut current: Option<String> = None;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => {
                if let Some(w) = current.take() {
                    words.push(w);
                }
            }
            '\'' => {
                let word = current.get_or_insert_with(String::new);
                read_single_quoted(&mut chars, word)?;
            }
            '"' => {
                let word = current.get_or_insert_with(String::new);
                read_double_quoted(&mut chars, word)?;
            }
            '\\' => {
                let escaped = chars.next().ok_or("trailing backslash")?;
                current.get_or_insert_with(String::new).push(escaped);
            }
            c => current.get_or_insert_with(String::new).push(c),
        }
    }
    words.extend(current);
    Ok(words)
}

fn read_single_quoted(chars: &mut std::str::Chars<'_>, word: &mut String) -> Result<(), String> {
    for c in chars.by_ref() {
        if c == '\'' {
            return Ok(());
        }
        word.push(c);
    }
    Err("unterminated single quote".to_string())
}

fn read_double_quoted(chars: &mut std::str::Chars<'_>, word: &mut String) -> Result<(), String> {
    while let Some(c) = chars.next() {
        match c {
            '"' => return Ok(()),
            '\\' => match chars.next() {
                Some(e @ ('"' | '\\' | '$' | '`')) => word.push(e),
                Some(other) => {
                    word.push('\\');
                    word.push(other);
                }
                None => break,
            },
            c => word.push(c),
        }
    }
    Err("unterminated double quote".to_string())
}

#[cfg(test)]
mod tests {
    use super::split_words;

    fn words(s: &str) -> Vec<String> {
        split_words(s).unwrap_or_else(|e| panic!("{s:?}: {e}"))
    }

    #[test]
    fn splits_on_unquoted_whitespace() {
        assert_eq!(words("  weft opt\t%s  --stats "), ["weft", "opt", "%s", "--stats"]);
        assert!(words("   ").is_empty());
    }

    #[test]
    fn single_quotes_keep_spaces_and_braces() {
        assert_eq!(words("--passes 'cse{max-ops=4}, dce'"), ["--passes", "cse{max-ops=4}, dce"]);
        assert_eq!(words(r#"'a\b"c'"#), [r#"a\b"c"#]);
    }

    #[test]
    fn double_quotes_honor_escapes() {
        assert_eq!(words(r#""a \"b\" \\ \n""#), [r#"a "b" \ \n"#]);
    }

    #[test]
    fn quotes_join_adjacent_text() {
        assert_eq!(words(r#"--passes='a b'"c d"e"#), ["--passes=a bc de"]);
        assert_eq!(words("''"), [""]);
    }

    #[test]
    fn backslash_outside_quotes_escapes() {
        assert_eq!(words(r"a\ b c"), ["a b", "c"]);
    }

    #[test]
    fn unterminated_quotes_are_errors() {
        assert_eq!(split_words("'abc").unwrap_err(), "unterminated single quote");
        assert_eq!(split_words("\"abc").unwrap_err(), "unterminated double quote");
        assert_eq!(split_words("abc\\").unwrap_err(), "trailing backslash");
    }
}
