//! What the grammar hands to the conversion functions before they become
//! protos: literals, types, attribute values and header entries, each with
//! the byte span it was written at; and the located [`SyntaxError`].
//!
//! Invariants: spans are byte ranges of the parsed text; nothing here is
//! checked yet (a `Word` may be neither `inf` nor a type name) — the
//! checks live in `convert`, which reports them with these spans.

use super::super::proto::{GraphProto, ValueInfoProto};
use std::borrow::Cow;
use weft_ir::{Diagnostic, FileId, Span};

/// A byte range of the parsed text.
pub type ByteSpan = (usize, usize);

/// An error found while lexing or building: a message, a span, notes.
#[derive(Debug, Clone, PartialEq)]
pub struct SyntaxError {
    pub message: String,
    pub span: ByteSpan,
    pub notes: Vec<String>,
}

impl SyntaxError {
    pub fn new(message: impl Into<String>, span: ByteSpan) -> SyntaxError {
        SyntaxError { message: message.into(), span, notes: Vec::new() }
    }

    pub fn with_note(mut self, note: impl Into<String>) -> SyntaxError {
        self.notes.push(note.into());
        self
    }

    pub fn into_diagnostic(self, file: FileId) -> Diagnostic {
        let mut d = Diagnostic::error(self.message, Span::new(file, self.span.0, self.span.1));
        for note in self.notes {
            d = d.note(note);
        }
        d
    }
}

/// A literal as written; numbers keep their text.
#[derive(Debug, Clone, PartialEq)]
pub enum Lit<'a> {
    Int(&'a str),
    Float(&'a str),
    Str(Cow<'a, str>),
    /// A bare identifier in a value position (`inf`, `nan`, `float`).
    Word(&'a str),
}

/// One dimension of a written shape.
#[derive(Debug, Clone, PartialEq)]
pub enum DimP<'a> {
    /// `?`.
    Unknown,
    /// `N` or `"batch size"`.
    Param(Cow<'a, str>),
    /// `128` (the text of an integer literal).
    Value(&'a str),
}

/// A written type.
#[derive(Debug, Clone, PartialEq)]
pub enum TypeP<'a> {
    /// `float` (a scalar: `dims` is `None`), `float[]` (unknown rank:
    /// `Some(empty)`) or `float[N, 4]`.
    Tensor { elem: &'a str, elem_span: ByteSpan, dims: Option<Vec<(DimP<'a>, ByteSpan)>> },
    /// `seq(T)`, `map(K, V)`, `optional(T)`, `sparse_tensor(T)`.
    Ctor { name: &'a str, name_span: ByteSpan, args: Vec<TypeP<'a>> },
}

/// A value name with an optional type: `float[N] X` or `X`.
#[derive(Debug, Clone, PartialEq)]
pub struct ValueInfoP<'a> {
    /// The type as written (an initializer needs its dims' spans).
    pub ty: Option<TypeP<'a>>,
    /// The value info, its type converted (and its errors reported) when
    /// it was parsed.
    pub proto: ValueInfoProto,
    pub span: ByteSpan,
}

/// The data of a tensor literal.
#[derive(Debug, Clone, PartialEq)]
pub enum TensorDataP<'a> {
    /// `{1, 2, 3}`.
    Values(Vec<(Lit<'a>, ByteSpan)>),
    /// `["location": "w.bin", "offset": "0"]`.
    External(Vec<KeyValue<'a>>),
}

/// A graph input or a graph's `<...>` entry: a value info, with data when
/// it is an initializer (`float[2] w = {1, 2}`). `init` is `Some(None)` for
/// `w =` with no data.
#[derive(Debug, Clone, PartialEq)]
pub struct ValueDeclP<'a> {
    pub info: ValueInfoP<'a>,
    pub init: Option<Option<TensorDataP<'a>>>,
}

/// `"key" : value` in a header list or external data.
#[derive(Debug, Clone, PartialEq)]
pub struct KeyValue<'a> {
    pub key: Cow<'a, str>,
    pub key_span: ByteSpan,
    pub value: Lit<'a>,
    pub value_span: ByteSpan,
}

/// The value of a header entry (`ir_version: 8`, `opset_import: [...]`).
#[derive(Debug, Clone, PartialEq)]
pub enum HeaderValue<'a> {
    Lit(Lit<'a>),
    List(Vec<KeyValue<'a>>),
}

/// `key: value` in a model or function header.
#[derive(Debug, Clone, PartialEq)]
pub struct HeaderEntry<'a> {
    pub key: &'a str,
    pub key_span: ByteSpan,
    pub value: HeaderValue<'a>,
    pub value_span: ByteSpan,
}

/// A single attribute value as written.
#[derive(Debug, Clone, PartialEq)]
pub enum AttrLit<'a> {
    Lit(Lit<'a>),
    /// `@name`: a reference to an attribute of the enclosing function.
    Ref(Cow<'a, str>),
    /// A type: `float[2]`, `seq(float)` (a bare `float` is a `Word`).
    Type(TypeP<'a>),
    /// `float[2] {1, 2}`, `float[2] name = {1, 2}`, `float x = ["location": ..]`.
    Tensor {
        ty: TypeP<'a>,
        name: Option<&'a str>,
        data: Option<TensorDataP<'a>>,
    },
    Graph(Box<GraphProto>),
}

/// An attribute value: one value or a bracketed list.
#[derive(Debug, Clone, PartialEq)]
pub enum AttrValueP<'a> {
    One(AttrLit<'a>, ByteSpan),
    List(Vec<(AttrLit<'a>, ByteSpan)>),
}

/// `name: type = value` (the annotation is optional).
#[derive(Debug, Clone, PartialEq)]
pub struct AttributeP<'a> {
    pub name: &'a str,
    pub name_span: ByteSpan,
    pub annotation: Option<(&'a str, ByteSpan)>,
    pub value: AttrValueP<'a>,
    pub value_span: ByteSpan,
}

/// One entry of a function's attribute list: a parameter name, or a
/// parameter with a default value.
#[derive(Debug, Clone, PartialEq)]
pub enum FnAttrP<'a> {
    Name(&'a str, ByteSpan),
    Default(AttributeP<'a>),
}

/// One piece of a comma-separated name list: a name (possibly `""`), or
/// nothing (an omitted optional input).
pub type IdPiece<'a> = Option<Cow<'a, str>>;
