//! The syntax tree the grammar produces: the text as written, with byte
//! spans, before names are resolved and ops are looked up.
//!
//! Invariants: every span is a byte range of the source the tree was parsed
//! from; nothing here is checked beyond the grammar (unknown ops, undefined
//! values and type errors are found when the tree is built into a
//! [`crate::Module`] by [`super::build`]).

use crate::attr::Attribute;
use crate::location::Location;
use crate::types::Type;

/// A byte range `start..end` in the parsed source.
pub type ByteSpan = (usize, usize);

#[derive(Debug, Clone)]
pub struct ModuleAst {
    pub name: Option<String>,
    pub attrs: Vec<AttrEntry>,
    pub funcs: Vec<FuncAst>,
    pub loc: Option<Location>,
    pub span: ByteSpan,
}

#[derive(Debug, Clone)]
pub struct FuncAst {
    pub name: String,
    pub name_span: ByteSpan,
    pub args: Vec<ArgAst>,
    pub results: Vec<(Type, ByteSpan)>,
    pub attrs: Vec<AttrEntry>,
    pub body: Vec<OpAst>,
    pub loc: Option<Location>,
    pub span: ByteSpan,
}

/// A block or function argument `%name: type loc(...)?`.
#[derive(Debug, Clone)]
pub struct ArgAst {
    pub name: String,
    pub ty: Type,
    pub loc: Option<Location>,
    pub span: ByteSpan,
}

/// One result group: `%name` (count 1) or `%name:N`.
#[derive(Debug, Clone)]
pub struct ResultAst {
    pub name: String,
    pub count: u32,
    pub span: ByteSpan,
}

/// A use: `%name` or `%name#index`.
#[derive(Debug, Clone)]
pub struct OperandAst {
    pub name: String,
    pub index: Option<u32>,
    pub span: ByteSpan,
}

#[derive(Debug, Clone)]
pub struct AttrEntry {
    pub name: String,
    pub value: Attribute,
    pub span: ByteSpan,
}

#[derive(Debug, Clone)]
pub struct RegionAst {
    pub label: String,
    pub args: Vec<ArgAst>,
    pub ops: Vec<OpAst>,
    pub span: ByteSpan,
}

/// How the op's types were written.
#[derive(Debug, Clone)]
pub enum SigAst {
    /// `: T`: every operand and every result has type T.
    Uniform(Type),
    /// `: (A, B) -> (C)`.
    Function(Vec<Type>, Vec<Type>),
    /// `return %a, %b : A, B`: operand types only (no results).
    Operands(Vec<Type>),
    /// `constant <attr>`: the result type is the attribute's type.
    FromValueAttr,
}

#[derive(Debug, Clone)]
pub struct OpAst {
    pub results: Vec<ResultAst>,
    /// The op name as written: `nn.add` (short form), `"nn.add"` (generic,
    /// unquoted here), or `return` / `constant` (builtin short forms).
    pub name: String,
    pub name_span: ByteSpan,
    pub generic: bool,
    pub operands: Vec<OperandAst>,
    pub regions: Vec<RegionAst>,
    pub attrs: Vec<AttrEntry>,
    pub sig: SigAst,
    pub sig_span: ByteSpan,
    pub loc: Option<Location>,
    /// The whole op, from its first result name (or op name) to its end.
    pub span: ByteSpan,
}
