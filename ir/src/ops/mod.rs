//! Op declarations: every op of every dialect is one [`OpDef`] value, the
//! only place its name, operands, attributes, verifier, shape inference,
//! folding, documentation and reference semantics are written. The
//! [`Context`] is the registry the parser and the passes look ops up in.
//!
//! Invariants: op names are `dialect.op`, unique in a context; a dialect's
//! ops are a `&'static [OpDef]`, so a user's crate adds a dialect with one
//! [`Context::register`] call and never touches the grammar.

pub mod builtin;
pub mod doc;
pub mod eval;
pub mod hw;
pub mod math;
pub mod nl;
pub mod nn;
pub mod quant;
pub mod shape;

use crate::attr::{Attribute, DenseAttr};
use crate::module::Attrs;
use crate::tensor::Tensor;
use crate::types::Type;
use std::collections::HashMap;

/// How many operands or results an op takes, with their names (for docs
/// and diagnostics).
#[derive(Debug, Clone, Copy)]
pub enum Arity {
    /// Exactly these, in order.
    Fixed(&'static [&'static str]),
    /// Any number, at least `min`, all called `name`.
    Variadic { name: &'static str, min: usize },
}

impl Arity {
    pub fn accepts(&self, n: usize) -> bool {
        match *self {
            Arity::Fixed(names) => n == names.len(),
            Arity::Variadic { min, .. } => n >= min,
        }
    }

    /// "2", "at least 1".
    pub fn describe(&self) -> String {
        match *self {
            Arity::Fixed(names) => names.len().to_string(),
            Arity::Variadic { min, .. } => format!("at least {min}"),
        }
    }
}

/// What kind of value an attribute must hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttrKind {
    Int,
    Float,
    Str,
    Bool,
    /// An array of integers.
    Ints,
    Type,
    /// `dense<..>` or `dense_resource<..>`.
    Tensor,
    Any,
}

impl AttrKind {
    pub fn accepts(self, a: &Attribute) -> bool {
        match self {
            AttrKind::Int => matches!(a, Attribute::Int(_)),
            AttrKind::Float => matches!(a, Attribute::Float(_) | Attribute::Int(_)),
            AttrKind::Str => matches!(a, Attribute::Str(_)),
            AttrKind::Bool => matches!(a, Attribute::Bool(_)),
            AttrKind::Ints => a.as_ints().is_some(),
            AttrKind::Type => matches!(a, Attribute::Type(_)),
            AttrKind::Tensor => a.tensor_type().is_some(),
            AttrKind::Any => true,
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            AttrKind::Int => "an integer",
            AttrKind::Float => "a float",
            AttrKind::Str => "a string",
            AttrKind::Bool => "a bool",
            AttrKind::Ints => "an array of integers",
            AttrKind::Type => "a type",
            AttrKind::Tensor => "a dense or dense_resource tensor",
            AttrKind::Any => "any attribute",
        }
    }
}

/// One attribute an op accepts.
#[derive(Debug, Clone, Copy)]
pub struct AttrSpec {
    pub name: &'static str,
    pub kind: AttrKind,
    pub required: bool,
    pub doc: &'static str,
}

/// Properties passes rely on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trait {
    /// No side effects: an unused op may be removed, equal ops merged.
    Pure,
    /// Operands may be swapped.
    Commutative,
    /// Ends a block.
    Terminator,
    /// Produces its `value` attribute.
    ConstantLike,
}

/// What shape inference and verification see of an op.
pub struct OpInfo<'a> {
    pub operand_types: &'a [&'a Type],
    pub attrs: &'a Attrs,
    /// For each operand, its value when it is an inline constant
    /// (`builtin.constant` with `dense<..>`), so that shape inference can
    /// read shape operands (ONNX `Reshape`, `Expand`, ...). May be shorter
    /// than `operand_types` (missing entries are not constants).
    pub constants: &'a [Option<&'a DenseAttr>],
}

impl<'a> OpInfo<'a> {
    /// An op seen without any constant operand values.
    pub fn new(operand_types: &'a [&'a Type], attrs: &'a Attrs) -> OpInfo<'a> {
        OpInfo { operand_types, attrs, constants: &[] }
    }

    /// The constant value of operand `i`, if it is an inline constant.
    pub fn constant(&self, i: usize) -> Option<&'a DenseAttr> {
        self.constants.get(i).copied().flatten()
    }
}

/// The outcome of folding one op.
pub enum Folded {
    /// The results are these constants.
    Constants(Vec<Tensor>),
    /// The single result is this operand (by index), e.g. `x * 1 -> x`.
    Operand(usize),
}

/// Reference semantics: computes results from operand tensors.
pub type EvalFn = fn(&[Tensor], &Attrs, &[Type]) -> Result<Vec<Tensor>, String>;
/// Shape inference: the result types from the operand types and attributes.
pub type InferFn = fn(&OpInfo) -> Result<Vec<Type>, String>;
/// An op-specific check, beyond arity, attribute schema and inferred types.
pub type VerifyFn = fn(&OpInfo) -> Result<(), String>;
/// An op-specific check of the declared result types, for ops whose result
/// types are a choice shape inference cannot derive (an integer width, a
/// quantization scale): it sees the operands and attributes as
/// [`VerifyFn`] does, and the declared result types in order.
pub type VerifyResultsFn = fn(&OpInfo, &[&Type]) -> Result<(), String>;
/// What a fold hook sees of an op.
pub struct FoldInput<'a> {
    /// Per operand, its value when it is a constant.
    pub constants: &'a [Option<&'a Tensor>],
    pub operand_types: &'a [&'a Type],
    pub result_types: &'a [&'a Type],
    pub attrs: &'a Attrs,
}

impl<'a> FoldInput<'a> {
    /// Constant operand values and attributes, without types (for tests of
    /// hooks that need no types).
    pub fn values(constants: &'a [Option<&'a Tensor>], attrs: &'a Attrs) -> FoldInput<'a> {
        FoldInput { constants, operand_types: &[], result_types: &[], attrs }
    }

    /// The constant value of operand `i`, if it is one.
    pub fn constant(&self, i: usize) -> Option<&'a Tensor> {
        self.constants.get(i).copied().flatten()
    }
}

/// Folding by algebra on partially constant operands, or from the operand
/// types alone (e.g. the shape of a static tensor). Constant folding of
/// fully constant operands uses `eval` and needs no hook.
pub type FoldFn = fn(&FoldInput) -> Option<Folded>;

/// The declaration of one op.
#[derive(Debug)]
pub struct OpDef {
    /// `dialect.op`.
    pub name: &'static str,
    /// One line, shown in `--help`-like listings and the spec's op table.
    pub summary: &'static str,
    /// Markdown: semantics, numeric conventions, an example.
    pub description: &'static str,
    pub operands: Arity,
    pub results: Arity,
    pub attrs: &'static [AttrSpec],
    pub traits: &'static [Trait],
    pub verify: Option<VerifyFn>,
    /// Checks the declared result types (ops without `infer`).
    pub verify_results: Option<VerifyResultsFn>,
    pub infer: Option<InferFn>,
    pub fold: Option<FoldFn>,
    pub eval: Option<EvalFn>,
}

impl OpDef {
    pub fn dialect(&self) -> &'static str {
        self.name.split_once('.').map_or(self.name, |(d, _)| d)
    }

    pub fn has_trait(&self, t: Trait) -> bool {
        self.traits.contains(&t)
    }

    pub fn attr_spec(&self, name: &str) -> Option<&AttrSpec> {
        self.attrs.iter().find(|a| a.name == name)
    }
}

/// Defaults for [`OpDef`] fields, for `..OpDef::DEFAULT` in declarations.
impl OpDef {
    pub const DEFAULT: OpDef = OpDef {
        name: "",
        summary: "",
        description: "",
        operands: Arity::Fixed(&[]),
        results: Arity::Fixed(&[]),
        attrs: &[],
        traits: &[],
        verify: None,
        verify_results: None,
        infer: None,
        fold: None,
        eval: None,
    };
}

/// A dialect: a namespace, a description and its ops.
#[derive(Debug)]
pub struct Dialect {
    pub name: &'static str,
    pub summary: &'static str,
    pub description: &'static str,
    pub ops: &'static [OpDef],
}

/// The registry of dialects and ops that parsing and passes resolve names in.
#[derive(Debug, Clone)]
pub struct Context {
    dialects: Vec<&'static Dialect>,
    ops: HashMap<&'static str, &'static OpDef>,
}

impl Default for Context {
    /// A context with the builtin, nn, quant and nl dialects.
    fn default() -> Self {
        let mut cx = Context::empty();
        cx.register(&builtin::DIALECT);
        cx.register(&nn::DIALECT);
        cx.register(&quant::DIALECT);
        cx.register(&nl::DIALECT);
        cx.register(&hw::DIALECT);
        cx
    }
}

impl Context {
    pub fn empty() -> Self {
        Context { dialects: Vec::new(), ops: HashMap::new() }
    }

    /// Adds a dialect; a dialect registered twice is added once.
    pub fn register(&mut self, d: &'static Dialect) {
        if self.dialects.iter().any(|x| x.name == d.name) {
            return;
        }
        self.dialects.push(d);
        for op in d.ops {
            self.ops.insert(op.name, op);
        }
    }

    pub fn dialects(&self) -> &[&'static Dialect] {
        &self.dialects
    }

    /// Looks up `name`; builtin ops are also found without their prefix
    /// (`return`, `constant`).
    pub fn lookup(&self, name: &str) -> Option<&'static OpDef> {
        self.ops.get(name).copied().or_else(|| {
            let full = format!("builtin.{name}");
            self.ops.get(full.as_str()).copied()
        })
    }

    /// Known op names closest to `name` (for "did you mean" notes).
    pub fn suggest(&self, name: &str) -> Vec<&'static str> {
        let mut names: Vec<&'static str> = self.ops.keys().copied().collect();
        names.sort_unstable();
        crate::diag::closest(name, names.iter().copied())
    }
}
