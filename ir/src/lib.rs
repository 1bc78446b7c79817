//! weft-ir: the IR of the weft compiler.
//!
//! A [`Module`] holds functions; a [`Function`] owns arenas of ops, values
//! and blocks addressed by typed handles ([`Op`], [`Value`], [`Block`]).
//! Ops are declared per dialect in [`ops`] (one [`ops::OpDef`] each) and
//! looked up in a [`Context`]. The text format (spec/syntax.md) is read by
//! [`parser`] and written by [`printer`]; [`verify`] checks the invariants
//! that passes rely on; diagnostics ([`diag`]) point into the source text.
//!
//! Nothing in this crate knows about ONNX, egg, Cranelift or HLS.

pub mod attr;
pub mod diag;
pub mod entity;
pub mod graph;
pub mod hwcost;
pub mod interp;
pub mod location;
pub mod module;
pub mod ops;
pub mod parser;
pub mod printer;
pub mod resources;
pub mod tensor;
pub mod types;
pub mod verify;

pub use attr::{Attribute, DenseAttr};
pub use diag::{Diagnostic, Severity};
pub use location::{FileId, Location, SourceMap, Span};
pub use module::{Attrs, Block, Function, Module, NewOp, Op, OpData, Value, ValueDef};
pub use ops::{Context, OpDef};
pub use tensor::{Tensor, TensorData};
pub use types::{Dim, ElemType, TensorType, Type};
