//! The tokens of the text format, and how each reads in a diagnostic.
//!
//! Invariants: names, labels and symbols are stored without their sigil and
//! borrow the source; a string token is owned only when escapes changed it.

use std::borrow::Cow;
use std::fmt;

/// A token. Names, labels and symbols are stored without their sigil.
#[derive(Debug, Clone, PartialEq)]
pub enum Tok<'a> {
    Module,
    Func,
    Attributes,
    Return,
    Constant,
    Dense,
    DenseResource,
    Tensor,
    Loc,
    Fused,
    Unknown,
    True,
    False,
    /// `inf` (a keyword, so that it can also name an attribute).
    Inf,
    /// `nan`.
    Nan,
    /// A bare identifier: `nn.add`, `f32`, an attribute name.
    Ident(&'a str),
    /// `%name`.
    ValueName(&'a str),
    /// `@name` or `@"quoted name"`.
    Symbol(Cow<'a, str>),
    /// `^bb0`.
    BlockLabel(&'a str),
    /// `!quant.int`.
    DialectType(&'a str),
    Int(i64),
    /// A float literal, or `-inf` (`inf` and `nan` are keywords).
    Float(f64),
    Str(Cow<'a, str>),
    /// The name inside `dense_resource<...>`.
    ResourceName(Cow<'a, str>),
    /// `4x` in a shape.
    StaticDim(u64),
    /// `[name]x` in a shape.
    SymDim(&'a str),
    /// `?x` in a shape.
    DynDim,
    LParen,
    RParen,
    LBrace,
    RBrace,
    LBracket,
    RBracket,
    Less,
    Greater,
    Comma,
    Colon,
    Equals,
    Arrow,
    Hash,
    Star,
}

impl Tok<'_> {
    pub(super) fn keyword(word: &str) -> Option<Tok<'static>> {
        Some(match word {
            "module" => Tok::Module,
            "func" => Tok::Func,
            "attributes" => Tok::Attributes,
            "return" => Tok::Return,
            "constant" => Tok::Constant,
            "dense" => Tok::Dense,
            "dense_resource" => Tok::DenseResource,
            "tensor" => Tok::Tensor,
            "loc" => Tok::Loc,
            "fused" => Tok::Fused,
            "unknown" => Tok::Unknown,
            "true" => Tok::True,
            "false" => Tok::False,
            "inf" => Tok::Inf,
            "nan" => Tok::Nan,
            _ => return None,
        })
    }

    fn punctuation(&self) -> Option<&'static str> {
        Some(match self {
            Tok::LParen => "(",
            Tok::RParen => ")",
            Tok::LBrace => "{",
            Tok::RBrace => "}",
            Tok::LBracket => "[",
            Tok::RBracket => "]",
            Tok::Less => "<",
            Tok::Greater => ">",
            Tok::Comma => ",",
            Tok::Colon => ":",
            Tok::Equals => "=",
            Tok::Arrow => "->",
            Tok::Hash => "#",
            Tok::Star => "*",
            _ => return None,
        })
    }
}

/// How a token reads in a diagnostic: `'}'`, `value '%0'`, `integer 42`.
impl fmt::Display for Tok<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(p) = self.punctuation() {
            return write!(f, "'{p}'");
        }
        match self {
            Tok::Ident(s) => write!(f, "'{s}'"),
            Tok::ValueName(s) => write!(f, "value '%{s}'"),
            Tok::Symbol(s) => write!(f, "symbol '@{s}'"),
            Tok::BlockLabel(s) => write!(f, "block label '^{s}'"),
            Tok::DialectType(s) => write!(f, "'!{s}'"),
            Tok::Int(i) => write!(f, "integer {i}"),
            Tok::Float(x) => write!(f, "float {x}"),
            Tok::Str(s) => write!(f, "string {s:?}"),
            Tok::ResourceName(s) => write!(f, "resource name '{s}'"),
            Tok::StaticDim(n) => write!(f, "dimension '{n}x'"),
            Tok::SymDim(s) => write!(f, "dimension '[{s}]x'"),
            Tok::DynDim => f.write_str("dimension '?x'"),
            keyword => {
                let word = KEYWORDS.iter().find(|(_, t)| t == keyword).map_or("?", |(w, _)| w);
                write!(f, "keyword '{word}'")
            }
        }
    }
}

const KEYWORDS: [(&str, Tok<'static>); 15] = [
    ("module", Tok::Module),
    ("func", Tok::Func),
    ("attributes", Tok::Attributes),
    ("return", Tok::Return),
    ("constant", Tok::Constant),
    ("dense", Tok::Dense),
    ("dense_resource", Tok::DenseResource),
    ("tensor", Tok::Tensor),
    ("loc", Tok::Loc),
    ("fused", Tok::Fused),
    ("unknown", Tok::Unknown),
    ("true", Tok::True),
    ("false", Tok::False),
    ("inf", Tok::Inf),
    ("nan", Tok::Nan),
];
