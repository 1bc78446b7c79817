//! The syntax tree the grammar produces: the text as written, with byte
//! spans, before names are resolved and ops are looked up.
//!
//! Invariants: every span is a byte range of the source the tree was parsed
//! from, and names borrow that source (`Cow` only where escapes may have
//! been applied); types are already checked (see `syntax.rs`);
//! nothing else is checked beyond the grammar (unknown ops, undefined
//! values, dense literals against their types and operand types are found
//! when the tree is built into a [`crate::Module`] by `resolve.rs`).

use crate::location::Location;
use crate::types::Type;
use std::borrow::Cow;

/// A byte range `start..end` in the parsed source.
pub type ByteSpan = (usize, usize);

#[derive(Debug, Clone)]
pub struct ModuleAst<'a> {
    pub name: Option<Cow<'a, str>>,
    pub attrs: Vec<AttrEntry<'a>>,
    pub funcs: Vec<FuncAst<'a>>,
    pub loc: Option<Location>,
    /// False for an implicit module (bare functions, no `module {}`).
    pub explicit: bool,
    /// `module ... }` for an explicit module, the whole text for an
    /// implicit one.
    pub span: ByteSpan,
}

#[derive(Debug, Clone)]
pub struct FuncAst<'a> {
    pub name: Cow<'a, str>,
    pub name_span: ByteSpan,
    pub args: Vec<ArgAst<'a>>,
    pub results: Vec<(Type, ByteSpan)>,
    pub attrs: Vec<AttrEntry<'a>>,
    pub body: Vec<OpAst<'a>>,
    pub loc: Option<Location>,
    pub span: ByteSpan,
}

/// A block or function argument `%name: type loc(...)?`.
#[derive(Debug, Clone)]
pub struct ArgAst<'a> {
    pub name: &'a str,
    pub name_span: ByteSpan,
    pub ty: Type,
    pub loc: Option<Location>,
    pub span: ByteSpan,
}

/// One result group: `%name` (count 1) or `%name:N`.
#[derive(Debug, Clone)]
pub struct ResultAst<'a> {
    pub name: &'a str,
    pub count: u32,
    pub span: ByteSpan,
}

/// A use: `%name` or `%name#index`.
#[derive(Debug, Clone)]
pub struct OperandAst<'a> {
    pub name: &'a str,
    pub index: Option<u32>,
    pub span: ByteSpan,
}

#[derive(Debug, Clone)]
pub struct AttrEntry<'a> {
    pub name: &'a str,
    pub value: AttrAst<'a>,
    /// The whole entry `name = value`.
    pub span: ByteSpan,
}

/// An attribute value as written.
#[derive(Debug, Clone)]
pub struct AttrAst<'a> {
    pub kind: AttrAstKind<'a>,
    pub span: ByteSpan,
}

#[derive(Debug, Clone)]
pub enum AttrAstKind<'a> {
    Int(i64),
    Float(f64),
    Str(Cow<'a, str>),
    Bool(bool),
    Array(Vec<AttrAst<'a>>),
    Type(Type),
    /// `dense<literal> : ty`.
    Dense {
        literal: DenseLit,
        ty: Type,
        ty_span: ByteSpan,
    },
    /// `dense_resource<name> : ty`.
    Resource {
        name: Cow<'a, str>,
        ty: Type,
        ty_span: ByteSpan,
    },
}

/// The literal inside `dense<...>`: one scalar (a splat, or the value of a
/// rank-0 tensor) or lists nested by dimension.
#[derive(Debug, Clone)]
pub enum DenseLit {
    Scalar(ScalarLit, ByteSpan),
    List(Vec<DenseLit>, ByteSpan),
}

impl DenseLit {
    pub fn span(&self) -> ByteSpan {
        match self {
            DenseLit::Scalar(_, s) | DenseLit::List(_, s) => *s,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ScalarLit {
    Int(i64),
    Float(f64),
    Bool(bool),
}

#[derive(Debug, Clone)]
pub struct RegionAst<'a> {
    pub label: &'a str,
    pub args: Vec<ArgAst<'a>>,
    pub ops: Vec<OpAst<'a>>,
    pub span: ByteSpan,
}

/// How the op's types were written.
#[derive(Debug, Clone)]
pub enum SigAst {
    /// `: T`: every operand and every result has type T.
    Uniform(Type),
    /// `: (A, B) -> (C)`.
    Function(Vec<Type>, Vec<Type>),
    /// `return %a, %b : A, B`: operand types only (no results); empty when
    /// no types were written.
    Operands(Vec<Type>),
    /// `constant <attr>`: the result type is the type of the `value`
    /// attribute.
    FromValueAttr,
}

/// Everything of an op after `=`, before its location.
#[derive(Debug, Clone)]
pub struct OpBodyAst<'a> {
    /// The op name as written: `nn.add` (short form), `"nn.add"` (generic,
    /// unquoted here), or `return` / `constant` (builtin short forms).
    pub name: Cow<'a, str>,
    pub name_span: ByteSpan,
    pub generic: bool,
    pub operands: Vec<OperandAst<'a>>,
    pub regions: Vec<RegionAst<'a>>,
    pub attrs: Vec<AttrEntry<'a>>,
    pub sig: SigAst,
    pub sig_span: ByteSpan,
}

#[derive(Debug, Clone)]
pub struct OpAst<'a> {
    pub results: Vec<ResultAst<'a>>,
    pub body: OpBodyAst<'a>,
    pub loc: Option<Location>,
    /// The whole op, from its first result name (or op name) to the end of
    /// its location.
    pub span: ByteSpan,
}
