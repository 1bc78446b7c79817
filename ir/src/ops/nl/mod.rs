//! The nl dialect: the integer primitives the nonlinear ops of quantized
//! programs (softmax, GELU, layer norm, ...) are lowered to by the
//! `lower-nonlinear` pass: adders, multipliers, comparator and adder
//! trees, shifts, a leading-one detector, a quadratic, the Appro-Exp and
//! Appro-LN units, a divider, an integer square root and tables.
//!
//! One file per family: [`arith`] (elementwise arithmetic, `cast`, `mux`),
//! [`reduce`] (the trees), [`shift`] (shifts and `lod`), [`unit`]
//! (`poly2`, `isqrt`, `lut`), [`approx`] (`exp2`, `log2`); [`common`]
//! holds the shared numeric rules.
//!
//! Invariants: operands and results are plain integer tensors (`nl.cast`
//! alone also takes and gives `!quant.int`); every result type is declared
//! (the width is the lowering's choice) and checked by a result verify
//! hook; every op computes exactly, then saturates once to its declared
//! result type, so evaluation never fails on integer inputs; fixed-point
//! formats are attributes.

pub mod approx;
pub mod arith;
pub(crate) mod common;
pub mod reduce;
pub mod shift;
#[cfg(test)]
mod testing;
pub mod unit;

pub use approx::{Exp2Format, Log2Format, EXP2, LOG2};
pub use arith::{ADD, CAST, DIV, MAX, MIN, MUL, MUX, SUB};
pub use common::{int_value, saturate, shift_round, Rounding};
pub use reduce::{ADD_TREE, MAX_TREE};
pub use shift::{BARREL_SHIFT, LOD, SHIFT};
pub use unit::{ISQRT, LUT, POLY2};

use super::Dialect;

pub static DIALECT: Dialect = Dialect {
    name: "nl",
    summary: "Integer primitives of nonlinear functions",
    description: "The level the quantized nonlinear ops (`quant.softmax`, `quant.gelu`, \
`quant.layer_norm`, ...) are lowered to by the `lower-nonlinear` pass: a few hardware \
primitives, each explicit about its lanes and bit widths, reused by every op kind and every \
method (QUARK, I-BERT, tables), so that one datapath can be shared between them. The methods, \
the formats they choose and their measured errors are described in spec/nl.md.\n\n\
Conventions shared by every op:\n\n\
- **Integers only.** Operands and results are tensors of plain integers (`iN`, `uN`); only \
`nl.cast` also reads or writes `!quant.int` (its stored integer `q`). Fixed-point formats are \
attributes (`frac`: the number of fractional bits), never implied by a type.\n\
- **Declared widths, saturation.** Every result type is declared: its width is the lowering's \
choice, and the result verify hook checks its shape and that it is an integer. Each op computes \
its exact result (with 128-bit intermediates that saturate rather than wrap), then clamps it \
once to the range of the result type. A width that never clamps is the lowering's \
responsibility, and the documented rule when it does.\n\
- **Rounding.** Right shifts round as their `rounding` attribute says: `floor` (the arithmetic \
shift, the default), `ceil` or `nearest` (ties toward plus infinity, `(x + 2^(k-1)) >> k`). \
Quadratics and the units round to nearest.\n\
- **Broadcasting.** Elementwise ops with several operands broadcast them with numpy rules, so a \
per-row constant (a maximum, a sum, a logarithm) meets its row without a copy. The trees keep \
the reduced axis with extent 1.\n\
- **No evaluation errors.** Division by zero saturates, the logarithm of a non-positive value \
is the least value of its type, table indices saturate.",
    ops: &[
        CAST,
        ADD,
        SUB,
        MUL,
        MAX,
        MIN,
        MUX,
        DIV,
        MAX_TREE,
        ADD_TREE,
        SHIFT,
        BARREL_SHIFT,
        LOD,
        POLY2,
        EXP2,
        LOG2,
        ISQRT,
        LUT,
    ],
};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::Trait;

    #[test]
    fn every_op_is_documented_executable_and_checks_its_results() {
        for op in DIALECT.ops {
            assert!(op.name.starts_with("nl."), "{}", op.name);
            assert!(!op.summary.is_empty() && op.description.contains("```"), "{} needs docs and an example", op.name);
            assert!(op.eval.is_some() && op.verify_results.is_some(), "{} needs eval and a result check", op.name);
            assert!(op.has_trait(Trait::Pure), "{} is pure", op.name);
        }
        let mut names: Vec<&str> = DIALECT.ops.iter().map(|o| o.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), DIALECT.ops.len(), "op names are unique");
    }
}
