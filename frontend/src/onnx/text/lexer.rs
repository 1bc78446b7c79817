//! The hand-written lexer of the ONNX text syntax: an iterator of
//! `(start, Tok, end)` triples for the lalrpop grammar.
//!
//! Lexical rules (those of ONNX's own parser): whitespace separates tokens;
//! `#` starts a comment that runs to the end of the line; identifiers are
//! `[A-Za-z_][A-Za-z0-9_]*`; numbers start with a digit or `-` (`1`, `-2`,
//! `1.5`, `1.`, `2e-3`), and `-inf`, `-infinity`, `-nan` are negative
//! floats (unsigned `inf`/`nan` are identifiers, read as floats where a value
//! is expected); strings are double-quoted, may span lines, and a backslash
//! takes the next character literally (`\"` is `"`, `\\` is `\`); `=>` is
//! one token. One rule is the lexer's own: `seq`, `map`, `optional` and
//! `sparse_tensor` directly followed by `(` are type constructors, which
//! keeps the grammar LR(1) where a graph named `g (...)` and a type `seq(...)`
//! would otherwise look alike.
//!
//! Invariants: tokens borrow the input; every position is a byte offset on
//! a char boundary; the first error ends the stream (yielded once, then
//! `None`); brackets nest at most [`MAX_NESTING`] deep, so the nested protos
//! built from a text stay shallow.

use super::syntax::SyntaxError;
pub use super::token::Tok;
use std::borrow::Cow;

/// The deepest nesting of `(`, `[` and `{` accepted.
pub const MAX_NESTING: usize = 256;

pub type Spanned<'a> = (usize, Tok<'a>, usize);

const TYPE_CONSTRUCTORS: [&str; 4] = ["seq", "map", "optional", "sparse_tensor"];

/// The lexer over one source text.
pub struct Lexer<'a> {
    src: &'a str,
    bytes: &'a [u8],
    pos: usize,
    depth: usize,
    failed: bool,
}

fn is_ident_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_'
}

fn is_ident_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// `inf`, `infinity` or `nan`, in any case.
pub fn is_special_float(word: &str) -> bool {
    ["inf", "infinity", "nan"].iter().any(|w| w.eq_ignore_ascii_case(word))
}

impl<'a> Lexer<'a> {
    pub fn new(src: &'a str) -> Self {
        Lexer { src, bytes: src.as_bytes(), pos: 0, depth: 0, failed: false }
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn run_end(&self, from: usize, pred: impl Fn(u8) -> bool) -> usize {
        let mut end = from;
        while self.bytes.get(end).is_some_and(|&b| pred(b)) {
            end += 1;
        }
        end
    }

    /// The position of the next token at or after `from`.
    fn skip_trivia_from(&self, mut at: usize) -> usize {
        loop {
            match self.bytes.get(at) {
                Some(b' ' | b'\t' | b'\r' | b'\n' | 0x0b | 0x0c) => at += 1,
                Some(b'#') => at = self.run_end(at, |b| b != b'\n'),
                _ => return at,
            }
        }
    }

    fn error<T>(&self, message: impl Into<String>, start: usize, end: usize) -> Result<T, SyntaxError> {
        Err(SyntaxError::new(message, (start, end)))
    }

    fn next_token(&mut self) -> Option<Result<Spanned<'a>, SyntaxError>> {
        self.pos = self.skip_trivia_from(self.pos);
        let start = self.pos;
        let first = self.peek()?;
        Some(self.lex(start, first).map(|tok| (start, tok, self.pos)))
    }

    fn lex(&mut self, start: usize, first: u8) -> Result<Tok<'a>, SyntaxError> {
        let single = match first {
            b'(' | b'[' | b'{' => return self.open(start, first),
            b')' | b']' | b'}' => return Ok(self.close(first)),
            b'=' if self.bytes.get(start + 1) == Some(&b'>') => {
                self.pos = start + 2;
                return Ok(Tok::FatArrow);
            }
            b'<' => Tok::Less,
            b'>' => Tok::Greater,
            b',' => Tok::Comma,
            b':' => Tok::Colon,
            b'=' => Tok::Equals,
            b'.' => Tok::Dot,
            b'?' => Tok::Question,
            b'@' => Tok::At,
            b'"' => return self.lex_string(start).map(Tok::Str),
            b'-' => return self.lex_minus(start),
            b'0'..=b'9' => return self.lex_number(start, start),
            b if is_ident_start(b) => return Ok(self.lex_word(start)),
            _ => return self.stray(start),
        };
        self.pos += 1;
        Ok(single)
    }

    fn open(&mut self, start: usize, b: u8) -> Result<Tok<'a>, SyntaxError> {
        self.pos += 1;
        self.depth += 1;
        if self.depth > MAX_NESTING {
            return self.error(format!("brackets nest more than {MAX_NESTING} levels deep"), start, self.pos);
        }
        Ok(match b {
            b'(' => Tok::LParen,
            b'[' => Tok::LBracket,
            _ => Tok::LBrace,
        })
    }

    fn close(&mut self, b: u8) -> Tok<'a> {
        self.pos += 1;
        self.depth = self.depth.saturating_sub(1);
        match b {
            b')' => Tok::RParen,
            b']' => Tok::RBracket,
            _ => Tok::RBrace,
        }
    }

    fn stray(&mut self, start: usize) -> Result<Tok<'a>, SyntaxError> {
        let c = self.src.get(start..).and_then(|s| s.chars().next()).unwrap_or('\u{FFFD}');
        let end = start + c.len_utf8();
        self.pos = end;
        self.error(format!("unexpected character '{}'", c.escape_debug()), start, end)
    }

    /// An identifier, or a type constructor when one is directly followed
    /// by `(`.
    fn lex_word(&mut self, start: usize) -> Tok<'a> {
        self.pos = self.run_end(start, is_ident_char);
        let word = &self.src[start..self.pos];
        let next = self.skip_trivia_from(self.pos);
        if TYPE_CONSTRUCTORS.contains(&word) && self.bytes.get(next) == Some(&b'(') {
            return Tok::TypeCtor(word);
        }
        Tok::Ident(word)
    }

    /// A negative number, or `-inf`, `-infinity`, `-nan`.
    fn lex_minus(&mut self, start: usize) -> Result<Tok<'a>, SyntaxError> {
        match self.bytes.get(start + 1) {
            Some(b'0'..=b'9') => self.lex_number(start, start + 1),
            Some(&b) if is_ident_start(b) => {
                let end = self.run_end(start + 1, is_ident_char);
                self.pos = end;
                let word = &self.src[start + 1..end];
                if is_special_float(word) {
                    Ok(Tok::Float(&self.src[start..end]))
                } else {
                    self.error(format!("expected a number after '-', found '{word}'"), start, end)
                }
            }
            _ => {
                self.pos = start + 1;
                self.error("expected a number after '-'", start, start + 1)
            }
        }
    }

    /// Digits, an optional fraction (`1.5`, `1.`) and an optional exponent
    /// (`e`, `E`, a sign, digits). `digits` is where the digits start (after
    /// a `-`).
    fn lex_number(&mut self, start: usize, digits: usize) -> Result<Tok<'a>, SyntaxError> {
        let mut end = self.run_end(digits, |b| b.is_ascii_digit());
        let mut is_float = false;
        if self.bytes.get(end) == Some(&b'.') {
            is_float = true;
            end = self.run_end(end + 1, |b| b.is_ascii_digit());
        }
        if matches!(self.bytes.get(end), Some(b'e' | b'E')) {
            let sign = usize::from(matches!(self.bytes.get(end + 1), Some(b'+' | b'-')));
            let exp_digits = end + 1 + sign;
            let exp_end = self.run_end(exp_digits, |b| b.is_ascii_digit());
            if exp_end == exp_digits {
                self.pos = exp_end;
                return self.error("expected digits in the exponent", start, exp_end);
            }
            is_float = true;
            end = exp_end;
        }
        self.pos = end;
        if self.peek().is_some_and(|b| is_ident_char(b) || b == b'.') {
            let bad_end = self.run_end(end, |b| is_ident_char(b) || b == b'.');
            self.pos = bad_end;
            return self.error(format!("invalid number '{}'", &self.src[start..bad_end]), start, bad_end);
        }
        let text = &self.src[start..end];
        Ok(if is_float { Tok::Float(text) } else { Tok::Int(text) })
    }

    /// A string starting with the `"` at `start`; borrowed unless it has
    /// escapes. A backslash takes the next character literally.
    fn lex_string(&mut self, start: usize) -> Result<Cow<'a, str>, SyntaxError> {
        let body = start + 1;
        let mut unescaped: Option<String> = None;
        let mut chars = self.src[body..].char_indices();
        while let Some((i, c)) = chars.next() {
            match c {
                '"' => {
                    self.pos = body + i + 1;
                    return Ok(match unescaped {
                        Some(s) => Cow::Owned(s),
                        None => Cow::Borrowed(&self.src[body..body + i]),
                    });
                }
                '\\' => {
                    let out = unescaped.get_or_insert_with(|| self.src[body..body + i].to_string());
                    match chars.next() {
                        Some((_, escaped)) => out.push(escaped),
                        None => break,
                    }
                }
                c => {
                    if let Some(out) = unescaped.as_mut() {
                        out.push(c);
                    }
                }
            }
        }
        self.pos = self.src.len();
        self.error("unterminated string", start, start + 1)
    }
}

impl<'a> Iterator for Lexer<'a> {
    type Item = Result<Spanned<'a>, SyntaxError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        let item = self.next_token();
        self.failed = matches!(item, Some(Err(_)));
        item
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lex(src: &str) -> Vec<Tok<'_>> {
        Lexer::new(src).map(|r| r.map(|(_, t, _)| t).expect("lexes")).collect()
    }

    fn lex_err(src: &str) -> SyntaxError {
        Lexer::new(src).find_map(Result::err).expect("an error")
    }

    #[test]
    fn punctuation_names_and_comments() {
        use Tok::*;
        let toks = lex("agraph (float[N] X) => (Y) # a comment\n{ Y = com.ms.Op<a=1>(X, , @r) ? }");
        assert_eq!(
            toks,
            vec![
                Ident("agraph"),
                LParen,
                Ident("float"),
                LBracket,
                Ident("N"),
                RBracket,
                Ident("X"),
                RParen,
                FatArrow,
                LParen,
                Ident("Y"),
                RParen,
                LBrace,
                Ident("Y"),
                Equals,
                Ident("com"),
                Dot,
                Ident("ms"),
                Dot,
                Ident("Op"),
                Less,
                Ident("a"),
                Equals,
                Int("1"),
                Greater,
                LParen,
                Ident("X"),
                Comma,
                Comma,
                At,
                Ident("r"),
                RParen,
                Question,
                RBrace,
            ]
        );
    }

    #[test]
    fn numbers_keep_their_text() {
        use Tok::*;
        assert_eq!(
            lex("0 -12 1.5 1. -2.5e-3 3E+2 -inf -Infinity -NaN inf nan"),
            vec![
                Int("0"),
                Int("-12"),
                Float("1.5"),
                Float("1."),
                Float("-2.5e-3"),
                Float("3E+2"),
                Float("-inf"),
                Float("-Infinity"),
                Float("-NaN"),
                Ident("inf"),
                Ident("nan"),
            ]
        );
    }

    #[test]
    fn strings_take_escaped_characters_literally() {
        assert_eq!(lex(r#""plain""#), vec![Tok::Str(Cow::Borrowed("plain"))]);
        let toks = lex(r#""a\"b\\c\nd""#);
        assert_eq!(toks, vec![Tok::Str(Cow::Owned("a\"b\\cnd".to_string()))]);
        assert_eq!(lex("\"two\nlines\""), vec![Tok::Str(Cow::Borrowed("two\nlines"))]);
        assert_eq!(lex("\"héllo\""), vec![Tok::Str(Cow::Borrowed("héllo"))]);
    }

    #[test]
    fn type_constructors_need_a_parenthesis() {
        use Tok::*;
        assert_eq!(
            lex("seq(float) seq map (x)"),
            vec![
                TypeCtor("seq"),
                LParen,
                Ident("float"),
                RParen,
                Ident("seq"),
                TypeCtor("map"),
                LParen,
                Ident("x"),
                RParen
            ]
        );
    }

    #[test]
    fn errors_are_located() {
        let e = lex_err("x = \"open");
        assert_eq!((e.message.as_str(), e.span), ("unterminated string", (4, 5)));
        let e = lex_err("a $ b");
        assert_eq!((e.message.as_str(), e.span), ("unexpected character '$'", (2, 3)));
        let e = lex_err("12abc");
        assert_eq!((e.message.as_str(), e.span), ("invalid number '12abc'", (0, 5)));
        let e = lex_err("1e+");
        assert_eq!(e.message, "expected digits in the exponent");
        let e = lex_err("- 1");
        assert_eq!(e.message, "expected a number after '-'");
        let e = lex_err("-foo");
        assert_eq!(e.message, "expected a number after '-', found 'foo'");
        let deep = "(".repeat(MAX_NESTING + 1);
        assert!(lex_err(&deep).message.contains("nest more than"));
    }

    #[test]
    fn stops_after_the_first_error() {
        let mut lexer = Lexer::new("$ x");
        assert!(matches!(lexer.next(), Some(Err(_))));
        assert!(lexer.next().is_none());
    }
}
