//! Reading and writing the text format: see [`ast`] for the syntax tree.
pub mod ast;
