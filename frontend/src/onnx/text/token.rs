//! The tokens of the ONNX text syntax, and how each reads in a diagnostic.
//!
//! Invariants: tokens borrow the source (a string is owned only when
//! escapes changed it); numbers keep their text so that each use parses it
//! at its own type (`0.1` as an f32 attribute is rounded once, from the
//! decimal text).

use std::borrow::Cow;
use std::fmt;

/// A token of the ONNX text syntax.
#[derive(Debug, Clone, PartialEq)]
pub enum Tok<'a> {
    /// `[A-Za-z_][A-Za-z0-9_]*`: names, keywords, type names, `inf`/`nan`.
    Ident(&'a str),
    /// `seq`, `map`, `optional` or `sparse_tensor` directly followed by `(`:
    /// a type constructor.
    TypeCtor(&'a str),
    /// An integer literal's text, with its sign: `-3`.
    Int(&'a str),
    /// A float literal's text, with its sign: `1.5e-3`, `-inf`. (Unsigned
    /// `inf` and `nan` are identifiers.)
    Float(&'a str),
    /// A string literal without its quotes, escapes applied.
    Str(Cow<'a, str>),
    LParen,
    RParen,
    LBracket,
    RBracket,
    LBrace,
    RBrace,
    Less,
    Greater,
    Comma,
    Colon,
    Equals,
    /// `=>`.
    FatArrow,
    Dot,
    Question,
    At,
}

impl Tok<'_> {
    fn punctuation(&self) -> Option<&'static str> {
        Some(match self {
            Tok::LParen => "(",
            Tok::RParen => ")",
            Tok::LBracket => "[",
            Tok::RBracket => "]",
            Tok::LBrace => "{",
            Tok::RBrace => "}",
            Tok::Less => "<",
            Tok::Greater => ">",
            Tok::Comma => ",",
            Tok::Colon => ":",
            Tok::Equals => "=",
            Tok::FatArrow => "=>",
            Tok::Dot => ".",
            Tok::Question => "?",
            Tok::At => "@",
            _ => return None,
        })
    }
}

/// How a token reads in a diagnostic: `'}'`, `name 'X'`, `integer 42`.
impl fmt::Display for Tok<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(p) = self.punctuation() {
            return write!(f, "'{p}'");
        }
        match self {
            Tok::Ident(s) | Tok::TypeCtor(s) => write!(f, "'{s}'"),
            Tok::Int(s) => write!(f, "integer {s}"),
            Tok::Float(s) => write!(f, "float {s}"),
            Tok::Str(s) => write!(f, "string {s:?}"),
            _ => f.write_str("?"),
        }
    }
}
