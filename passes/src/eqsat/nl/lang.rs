//! The language of nonlinear datapaths: the op kinds (roots), the math
//! they are defined by (exp, ln, division, square root, erf, lane
//! reductions), and the hardware primitives a rule can reach (QUARK's
//! `exp2`/`log2` units, I-BERT's `i-exp`, divider, `isqrt` and erf
//! polynomial, tables, trees and common arithmetic).
//!
//! Invariants: only [`NlLang::hardware`] nodes have hardware; math and
//! root nodes must be rewritten away before a term can be built, so
//! extraction gives them an infinite cost. Leaves are symbols: an op
//! kind's input is `x<bits>` (its widest input), constants are named
//! (`one`, `log2e`, `c1.702`, ...).

use super::super::super::transforms::lower_nonlinear::Method;
use egg::{define_language, Id, Symbol};

define_language! {
    /// Nonlinear datapaths, from op kinds down to primitives.
    pub enum NlLang {
        // Op kinds with a math node of the same name.
        "softmax" = Softmax([Id; 1]),
        "gelu" = Gelu([Id; 1]),
        "layer-norm" = LayerNorm([Id; 1]),
        "sigmoid" = Sigmoid([Id; 1]),
        "silu" = Silu([Id; 1]),
        "tanh" = Tanh([Id; 1]),
        "exp" = Exp([Id; 1]),
        "reciprocal" = Reciprocal([Id; 1]),
        "sqrt" = Sqrt([Id; 1]),
        "rsqrt" = Rsqrt([Id; 1]),
        // Math without hardware of its own.
        "ln" = Ln([Id; 1]),
        "div" = Div([Id; 2]),
        "erf" = Erf([Id; 1]),
        "lane-max" = LaneMax([Id; 1]),
        "lane-sum" = LaneSum([Id; 1]),
        "center" = Center([Id; 1]),
        "sum-squares" = SumSquares([Id; 1]),
        // Common arithmetic (every method).
        "+" = Add([Id; 2]),
        "-" = Sub([Id; 2]),
        "*" = Mul([Id; 2]),
        "scale" = Scale([Id; 2]),
        // `sign(a) * b`: a sign mux.
        "signed" = Signed([Id; 2]),
        "max" = Max([Id; 2]),
        "min" = Min([Id; 2]),
        "neg" = Neg([Id; 1]),
        "abs" = Abs([Id; 1]),
        "half" = Half([Id; 1]),
        "max-tree" = MaxTree([Id; 1]),
        "add-tree" = AddTree([Id; 1]),
        // `2^f x - round(2^f s / N)` of a lane `x` and its sum `s`: the
        // centering on the rounded mean of `quark-log`'s layer norm.
        "mean-center" = MeanCenter([Id; 2]),
        // Function units.
        "exp2" = Exp2([Id; 1]),
        "log2" = Log2([Id; 1]),
        "i-exp" = IExp([Id; 1]),
        "divider" = Divider([Id; 2]),
        "isqrt" = Isqrt([Id; 1]),
        "erf-poly" = ErfPoly([Id; 1]),
        "table" = Table([Id; 2]),
        Symbol(Symbol),
    }
}

/// What a node is for extraction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeClass {
    /// A leaf: free.
    Leaf,
    /// Math or an op kind: must be rewritten.
    Math,
    /// Hardware every method may use.
    Common,
    /// A multiplier of two values (not a constant scale): every method
    /// but `quark-log`, whose products are additions of logarithms.
    Multiplier,
    /// A function unit of these methods.
    Unit(&'static [Method]),
    /// Arithmetic only these methods' programs use (not a function unit).
    Only(&'static [Method]),
}

impl NlLang {
    pub fn class(&self) -> NodeClass {
        use NlLang::*;
        match self {
            Symbol(_) => NodeClass::Leaf,
            Softmax(_) | Gelu(_) | LayerNorm(_) | Sigmoid(_) | Silu(_) | Tanh(_) | Exp(_) | Reciprocal(_) | Sqrt(_)
            | Rsqrt(_) | Ln(_) | Div(_) | Erf(_) | LaneMax(_) | LaneSum(_) | Center(_) | SumSquares(_) => {
                NodeClass::Math
            }
            Add(_) | Sub(_) | Scale(_) | Signed(_) | Max(_) | Min(_) | Neg(_) | Abs(_) | Half(_) | MaxTree(_)
            | AddTree(_) => NodeClass::Common,
            Mul(_) => NodeClass::Multiplier,
            MeanCenter(_) => NodeClass::Only(&[Method::QuarkLog]),
            Exp2(_) | Log2(_) => NodeClass::Unit(&[Method::Quark, Method::QuarkLog]),
            IExp(_) | Isqrt(_) | ErfPoly(_) => NodeClass::Unit(&[Method::Ibert]),
            Divider(_) => NodeClass::Unit(&[Method::Ibert, Method::Lut]),
            Table(_) => NodeClass::Unit(&[Method::Lut]),
        }
    }

    /// Whether this node is hardware `method` builds.
    pub fn hardware(&self, method: Method) -> bool {
        match self.class() {
            NodeClass::Common => true,
            NodeClass::Multiplier => method != Method::QuarkLog,
            NodeClass::Unit(methods) | NodeClass::Only(methods) => methods.contains(&method),
            NodeClass::Leaf | NodeClass::Math => false,
        }
    }
}

/// The leaf standing for an op kind's input of `bits` bits.
pub fn input_leaf(bits: u8) -> String {
    format!("x{bits}")
}

/// The width of an input leaf (`x8` -> 8).
pub fn input_bits(symbol: &str) -> Option<u8> {
    symbol.strip_prefix('x')?.parse().ok()
}
