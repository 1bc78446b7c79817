//! The hand-written lexer of the text format (spec/syntax.md, "Lexical
//! syntax"): an iterator of `(start, Tok, end)` triples for the lalrpop
//! grammar, with two modes the grammar cannot express: the shape mode after
//! `tensor<` (dimensions `4x`, `[name]x`, `?x`) and the resource-name mode
//! after `dense_resource<`.
//!
//! Invariants: tokens borrow the input (a string allocates only when it has
//! escapes); every position is a byte offset on a char boundary; the first
//! error ends the stream (the iterator yields it once, then `None`); bracket
//! nesting is bounded by [`MAX_NESTING`], so nothing after the lexer recurses
//! without limit.

use super::syntax::SyntaxError;
pub use super::token::Tok;
use std::borrow::Cow;

/// The deepest nesting of `(`, `[` and `{` accepted.
pub const MAX_NESTING: usize = 256;

pub type Spanned<'a> = (usize, Tok<'a>, usize);

/// What the next token is lexed as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Normal,
    /// After `tensor<`: dimensions, then the element type.
    Shape,
    /// After `dense_resource<`: one resource name.
    Resource,
}

/// The lexer over one source text.
pub struct Lexer<'a> {
    src: &'a str,
    bytes: &'a [u8],
    pos: usize,
    mode: Mode,
    /// The mode a `<` right now switches to: set just after `tensor` and
    /// `dense_resource`.
    pending: Option<Mode>,
    depth: usize,
    failed: bool,
}

fn is_ident_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_'
}

fn is_ident_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'$' || b == b'.'
}

/// Characters of value names, block labels and bare symbols.
fn is_name_char(b: u8) -> bool {
    is_ident_char(b) || b == b'-'
}

impl<'a> Lexer<'a> {
    pub fn new(src: &'a str) -> Self {
        Lexer { src, bytes: src.as_bytes(), pos: 0, mode: Mode::Normal, pending: None, depth: 0, failed: false }
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn peek_at(&self, ahead: usize) -> Option<u8> {
        self.bytes.get(self.pos + ahead).copied()
    }

    /// The end of the run of bytes satisfying `pred` starting at `from`.
    fn run_end(&self, from: usize, pred: impl Fn(u8) -> bool) -> usize {
        let mut end = from;
        while end < self.bytes.len() && pred(self.bytes[end]) {
            end += 1;
        }
        end
    }

    fn skip_trivia(&mut self) {
        loop {
            match self.peek() {
                Some(b' ' | b'\t' | b'\r' | b'\n') => self.pos += 1,
                Some(b'/') if self.peek_at(1) == Some(b'/') => {
                    self.pos = self.run_end(self.pos, |b| b != b'\n');
                }
                _ => return,
            }
        }
    }

    fn error<T>(&self, message: impl Into<String>, start: usize, end: usize) -> Result<T, SyntaxError> {
        Err(SyntaxError::new(message, (start, end)))
    }

    fn next_token(&mut self) -> Option<Result<Spanned<'a>, SyntaxError>> {
        self.skip_trivia();
        let start = self.pos;
        let first = self.peek()?;
        let result = match self.mode {
            Mode::Shape => match self.lex_dim(start, first) {
                Some(r) => r,
                None => {
                    self.mode = Mode::Normal;
                    self.lex_normal(start, first)
                }
            },
            Mode::Resource => {
                self.mode = Mode::Normal;
                self.lex_resource_name(start, first)
            }
            Mode::Normal => self.lex_normal(start, first),
        };
        Some(result.map(|tok| {
            self.after_token(&tok);
            (start, tok, self.pos)
        }))
    }

    /// Mode switches: `tensor <` enters the shape mode, `dense_resource <`
    /// the resource-name mode.
    fn after_token(&mut self, tok: &Tok<'a>) {
        if let (Tok::Less, Some(mode)) = (tok, self.pending) {
            self.mode = mode;
        }
        self.pending = match tok {
            Tok::Tensor => Some(Mode::Shape),
            Tok::DenseResource => Some(Mode::Resource),
            _ => None,
        };
    }

    fn lex_normal(&mut self, start: usize, first: u8) -> Result<Tok<'a>, SyntaxError> {
        let single = match first {
            b'(' | b'[' | b'{' => return self.open(start, first),
            b')' | b']' | b'}' => return Ok(self.close(first)),
            b'<' => Tok::Less,
            b'>' => Tok::Greater,
            b',' => Tok::Comma,
            b':' => Tok::Colon,
            b'=' => Tok::Equals,
            b'#' => Tok::Hash,
            b'*' => Tok::Star,
            b'"' => return self.lex_string(start).map(Tok::Str),
            b'%' => return self.lex_sigil_name(start, "value name", is_name_char).map(Tok::ValueName),
            b'^' => return self.lex_sigil_name(start, "block label", is_name_char).map(Tok::BlockLabel),
            b'@' => return self.lex_symbol(start),
            b'!' if !self.peek_at(1).is_some_and(is_ident_start) => {
                self.pos = start + 1;
                return self.error("expected a dialect type name after '!'", start, start + 1);
            }
            b'!' => return self.lex_sigil_name(start, "dialect type", is_ident_char).map(Tok::DialectType),
            b'-' => return self.lex_minus(start),
            b'0'..=b'9' => return self.lex_number(start),
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
        let c = self.src[start..].chars().next().unwrap_or('\u{FFFD}');
        let end = start + c.len_utf8();
        self.error(format!("unexpected character '{}'", c.escape_debug()), start, end)
    }

    /// A keyword, `nan`/`inf`, or an identifier.
    fn lex_word(&mut self, start: usize) -> Tok<'a> {
        self.pos = self.run_end(start, is_ident_char);
        let word = &self.src[start..self.pos];
        Tok::keyword(word).unwrap_or(Tok::Ident(word))
    }

    /// `%name`, `^label`, `!dialect.type`: a sigil and a non-empty run.
    fn lex_sigil_name(&mut self, start: usize, what: &str, pred: fn(u8) -> bool) -> Result<&'a str, SyntaxError> {
        let end = self.run_end(start + 1, pred);
        if end == start + 1 {
            self.pos = start + 1;
            let sigil = &self.src[start..start + 1];
            return self.error(format!("expected a {what} after '{sigil}'"), start, start + 1);
        }
        self.pos = end;
        Ok(&self.src[start + 1..end])
    }

    fn lex_symbol(&mut self, start: usize) -> Result<Tok<'a>, SyntaxError> {
        match self.peek_at(1) {
            Some(b'"') => self.lex_string(start + 1).map(Tok::Symbol),
            Some(b) if is_ident_start(b) => {
                self.pos = self.run_end(start + 1, is_name_char);
                Ok(Tok::Symbol(Cow::Borrowed(&self.src[start + 1..self.pos])))
            }
            _ => {
                self.pos = start + 1;
                self.error("expected a symbol name or a string after '@'", start, start + 1)
            }
        }
    }

    /// `->`, a negative number, or `-inf`.
    fn lex_minus(&mut self, start: usize) -> Result<Tok<'a>, SyntaxError> {
        match self.peek_at(1) {
            Some(b'>') => {
                self.pos = start + 2;
                Ok(Tok::Arrow)
            }
            Some(b'0'..=b'9') => self.lex_number(start),
            Some(b'i')
                if self.run_end(start + 1, is_ident_char) == start + 4 && &self.src[start + 1..start + 4] == "inf" =>
            {
                self.pos = start + 4;
                Ok(Tok::Float(f64::NEG_INFINITY))
            }
            _ => self.stray(start),
        }
    }

    /// An integer (decimal or hex) or a float; `start` is at the digit or
    /// at a leading `-`.
    fn lex_number(&mut self, start: usize) -> Result<Tok<'a>, SyntaxError> {
        let negative = self.bytes.get(start) == Some(&b'-');
        let digits_start = start + usize::from(negative);
        let is_hex = self.bytes.get(digits_start) == Some(&b'0')
            && matches!(self.bytes.get(digits_start + 1), Some(b'x' | b'X'))
            && self.bytes.get(digits_start + 2).is_some_and(u8::is_ascii_hexdigit);
        let tok = if is_hex {
            self.pos = self.run_end(digits_start + 2, |b| b.is_ascii_hexdigit());
            let value = parse_int(&self.src[digits_start + 2..self.pos], 16, negative);
            value.map(Tok::Int).ok_or(())
        } else {
            self.lex_decimal(start, digits_start, negative)
        };
        if self.peek().is_some_and(is_ident_start) {
            let end = self.run_end(self.pos, is_ident_char);
            let text = &self.src[start..end];
            self.pos = end;
            return self.error(format!("invalid number '{text}'"), start, end);
        }
        tok.or_else(|()| self.error("integer literal does not fit in 64 bits (signed)", start, self.pos))
    }

    /// Decimal digits, then an optional fraction and exponent. `Err(())` is
    /// an integer out of range.
    fn lex_decimal(&mut self, start: usize, digits_start: usize, negative: bool) -> Result<Tok<'a>, ()> {
        let int_end = self.run_end(digits_start, |b| b.is_ascii_digit());
        let mut end = int_end;
        let mut is_float = false;
        if self.bytes.get(end) == Some(&b'.') {
            is_float = true;
            end = self.run_end(end + 1, |b| b.is_ascii_digit());
        }
        if let Some(exp_end) = self.exponent_end(end) {
            is_float = true;
            end = exp_end;
        }
        self.pos = end;
        if is_float {
            // The text matches Rust's float grammar, so this cannot fail.
            let value = self.src[start..end].parse::<f64>().unwrap_or(f64::NAN);
            return Ok(Tok::Float(value));
        }
        parse_int(&self.src[digits_start..int_end], 10, negative).map(Tok::Int).ok_or(())
    }

    /// The end of an exponent `e[+-]?[0-9]+` starting at `at`, if there is one.
    fn exponent_end(&self, at: usize) -> Option<usize> {
        if !matches!(self.bytes.get(at), Some(b'e' | b'E')) {
            return None;
        }
        let digits = at + 1 + usize::from(matches!(self.bytes.get(at + 1), Some(b'+' | b'-')));
        let end = self.run_end(digits, |b| b.is_ascii_digit());
        (end > digits).then_some(end)
    }

    /// A string starting with the `"` at `start`; borrowed unless it has
    /// escapes.
    fn lex_string(&mut self, start: usize) -> Result<Cow<'a, str>, SyntaxError> {
        let body = start + 1;
        let mut i = body;
        let mut unescaped: Option<Vec<u8>> = None;
        loop {
            let Some(&b) = self.bytes.get(i) else {
                self.pos = self.bytes.len();
                return self.error("unterminated string", start, start + 1);
            };
            match b {
                b'"' => break,
                b'\n' => {
                    self.pos = i;
                    return self.error("unterminated string (strings cannot span lines; write \\n)", start, i);
                }
                b'\\' => {
                    let out = unescaped.get_or_insert_with(|| self.bytes[body..i].to_vec());
                    i = self.lex_escape(i, out)?;
                }
                _ => {
                    if let Some(out) = unescaped.as_mut() {
                        out.push(b);
                    }
                    i += 1;
                }
            }
        }
        self.pos = i + 1;
        match unescaped {
            None => Ok(Cow::Borrowed(&self.src[body..i])),
            Some(bytes) => String::from_utf8(bytes)
                .map(Cow::Owned)
                .or_else(|_| self.error("string is not valid UTF-8 after its escapes are applied", start, self.pos)),
        }
    }

    /// One escape at `at` (the backslash), appended to `out`; returns the
    /// position after it.
    fn lex_escape(&mut self, at: usize, out: &mut Vec<u8>) -> Result<usize, SyntaxError> {
        let simple = match self.bytes.get(at + 1) {
            Some(b'\\') => Some(b'\\'),
            Some(b'"') => Some(b'"'),
            Some(b'n') => Some(b'\n'),
            Some(b't') => Some(b'\t'),
            _ => None,
        };
        if let Some(b) = simple {
            out.push(b);
            return Ok(at + 2);
        }
        let hex = self.bytes.get(at + 1..at + 3).and_then(|h| {
            let text = std::str::from_utf8(h).ok()?;
            if !text.bytes().all(|b| b.is_ascii_hexdigit()) {
                return None;
            }
            u8::from_str_radix(text, 16).ok()
        });
        match hex {
            Some(b) => {
                out.push(b);
                Ok(at + 3)
            }
            None => {
                let end = self.src[at + 1..].chars().next().map_or(at + 1, |c| at + 1 + c.len_utf8());
                self.pos = end;
                self.error("invalid escape (use \\\\, \\\", \\n, \\t or \\XX with two hex digits)", at, end)
            }
        }
    }

    /// In shape mode: a dimension followed by `x`, or `None` when the
    /// element type starts here.
    fn lex_dim(&mut self, start: usize, first: u8) -> Option<Result<Tok<'a>, SyntaxError>> {
        let (tok, end) = match first {
            b'0'..=b'9' => {
                let end = self.run_end(start, |b| b.is_ascii_digit());
                let value = self.src[start..end].parse::<u64>().ok();
                match value {
                    Some(n) => (Tok::StaticDim(n), end),
                    None => {
                        self.pos = end;
                        return Some(self.error("dimension does not fit in 64 bits", start, end));
                    }
                }
            }
            b'?' => (Tok::DynDim, start + 1),
            b'[' => match self.src[start + 1..].find([']', '\n']).map(|i| start + 1 + i) {
                Some(close) if self.bytes[close] == b']' && close > start + 1 => {
                    (Tok::SymDim(&self.src[start + 1..close]), close + 1)
                }
                _ => {
                    self.pos = start + 1;
                    return Some(self.error("expected a symbolic dimension '[name]'", start, start + 1));
                }
            },
            _ => return None,
        };
        if self.bytes.get(end) != Some(&b'x') {
            self.pos = end;
            return Some(self.error("expected 'x' after a dimension", start, end));
        }
        self.pos = end + 1;
        Some(Ok(tok))
    }

    /// In resource mode: a string, or a run of characters other than `>`,
    /// whitespace and `"`.
    fn lex_resource_name(&mut self, start: usize, first: u8) -> Result<Tok<'a>, SyntaxError> {
        if first == b'"' {
            return self.lex_string(start).map(Tok::ResourceName);
        }
        let end = self.run_end(start, |b| !matches!(b, b'>' | b'"' | b' ' | b'\t' | b'\r' | b'\n'));
        if end == start {
            self.pos = start;
            return self.error("expected a resource name after 'dense_resource<'", start, start);
        }
        self.pos = end;
        Ok(Tok::ResourceName(Cow::Borrowed(&self.src[start..end])))
    }
}

/// Parses digits in `radix` as an i64 (negated when `negative`); `None` when
/// out of range.
fn parse_int(digits: &str, radix: u32, negative: bool) -> Option<i64> {
    let magnitude = u64::from_str_radix(digits, radix).ok()?;
    if negative {
        0i64.checked_sub_unsigned(magnitude)
    } else {
        i64::try_from(magnitude).ok()
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
#[path = "lexer_tests.rs"]
mod tests;
