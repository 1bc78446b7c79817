//! The nl units the generated code calls in the runtime: the divider, the
//! barrel shifter, the quadratic, the exp2 and log2 units and the integer
//! square root. Each computes exactly what its op's reference `eval` in
//! weft-ir computes, by calling the same functions (`floor_div`,
//! `shift_round`, `poly2`, `Exp2Format::eval`, `Log2Format::eval`,
//! `isqrt`) on the operands' exact values, then saturates once to the
//! result type: bit-identical with the interpreter by construction.
//!
//! Invariants: a unit is built at compile time from the op's checked
//! attributes and owned (behind an `Arc`) by the kernel that calls it, so
//! the address compiled into the code lives as long as the code; operands
//! arrive as canonical i64 registers and are read exactly through their
//! element types (a `u64` above `i64::MAX` keeps its value); the result is
//! the canonical stored value of the result type; nothing here panics.

use super::nl_fast::{FastExp2, FastLog2};
use weft_ir::ops::nl::{
    arith::floor_div, int_value, saturate, shift::MAX_SHIFT, shift_round, unit::isqrt, unit::poly2, Exp2Format,
    Log2Format, Rounding,
};
use weft_ir::ElemType;

/// What a unit computes from the exact operand values `a` (and `b`).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum UnitKind {
    /// `floor(a / b)`, saturating on division by zero (`nl.div`).
    Div,
    /// `a * 2^b`, the amount clamped to +-126 (`nl.barrel_shift`).
    BarrelShift(Rounding),
    /// Horner's quadratic (`nl.poly2`).
    Poly2 {
        coeffs: [i128; 3],
        frac: i64,
    },
    Exp2(Exp2Format),
    /// `log2`; the result type's least value for `a <= 0`.
    Log2(Log2Format),
    Isqrt,
}

/// The i64 form of an exp2 or log2 unit (`nl_fast`), when it is exact.
#[derive(Debug, Clone, PartialEq)]
enum Fast {
    Exp2(FastExp2),
    Log2(FastLog2),
}

/// A unit with the element types of its operands and result.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct NlUnit {
    pub kind: UnitKind,
    /// The operands' element types (one or two).
    pub operands: Vec<ElemType>,
    pub result: ElemType,
    fast: Option<Fast>,
}

impl NlUnit {
    pub fn new(kind: UnitKind, operands: Vec<ElemType>, result: ElemType) -> NlUnit {
        let fast = match &kind {
            UnitKind::Exp2(f) => FastExp2::new(f).map(Fast::Exp2),
            UnitKind::Log2(f) => FastLog2::new(f).map(Fast::Log2),
            _ => None,
        };
        NlUnit { kind, operands, result, fast }
    }

    /// The i64 form of an exp2 unit, when it has one.
    pub fn fast_exp2(&self) -> Option<&FastExp2> {
        match &self.fast {
            Some(Fast::Exp2(f)) => Some(f),
            _ => None,
        }
    }

    /// The i64 form of a log2 unit, when it has one.
    pub fn fast_log2(&self) -> Option<&FastLog2> {
        match &self.fast {
            Some(Fast::Log2(f)) => Some(f),
            _ => None,
        }
    }

    /// The canonical stored result for the canonical operand registers.
    pub fn eval(&self, a: i64, b: i64) -> i64 {
        let read = |i: usize, v: i64| self.operands.get(i).map_or(v as i128, |e| int_value(e, v));
        let (a, b) = (read(0, a), read(1, b));
        let exact = match (&self.fast, &self.kind) {
            (Some(Fast::Exp2(f)), _) => f.eval(a),
            (Some(Fast::Log2(f)), _) => f.eval(a).unwrap_or(i128::MIN),
            (None, kind) => Self::exact(kind, a, b),
        };
        saturate(exact, &self.result)
    }

    /// The exact result by the reference's functions.
    fn exact(kind: &UnitKind, a: i128, b: i128) -> i128 {
        match kind {
            UnitKind::Div => floor_div(a, b),
            UnitKind::BarrelShift(rounding) => {
                let amount = b.clamp(-(MAX_SHIFT as i128), MAX_SHIFT as i128) as i64;
                shift_round(a, amount, *rounding)
            }
            UnitKind::Poly2 { coeffs, frac } => poly2(*coeffs, a, *frac),
            UnitKind::Exp2(f) => f.eval(a),
            UnitKind::Log2(f) => f.eval(a).unwrap_or(i128::MIN),
            UnitKind::Isqrt => isqrt(a),
        }
    }
}

/// The runtime entry: `unit` is the address of an [`NlUnit`] owned by the
/// calling kernel; a null address gives 0.
pub(crate) extern "C" fn nl_unit(unit: i64, a: i64, b: i64) -> i64 {
    let unit = unit as usize as *const NlUnit;
    // SAFETY: the code passes the address of an `NlUnit` held in an `Arc`
    // by the kernel description the compiled function keeps for as long as
    // its code can run (see the module invariants); it is only read.
    match unsafe { unit.as_ref() } {
        Some(u) => u.eval(a, b),
        None => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_read_exact_values_and_saturate() {
        let u64t = ElemType::Int { width: 64, signed: false };
        let div = NlUnit::new(UnitKind::Div, vec![u64t.clone(), ElemType::I8], ElemType::I64);
        // u64::MAX / 2 read unsigned, not as -1 / 2.
        assert_eq!(div.eval(-1, 2), (u64::MAX / 2) as i64);
        assert_eq!(div.eval(5, 0), i64::MAX);
        let i8div = NlUnit::new(UnitKind::Div, vec![ElemType::I8; 2], ElemType::I8);
        assert_eq!(i8div.eval(-7, 2), -4);
        assert_eq!(i8div.eval(-7, 0), -128);
        let sqrt = NlUnit::new(UnitKind::Isqrt, vec![u64t], ElemType::I32);
        assert_eq!(sqrt.eval(-1, 0), 4_294_967_295i64.min(i32::MAX as i64));
        assert_eq!(nl_unit(&i8div as *const NlUnit as usize as i64, 9, 2), 4);
        assert_eq!(nl_unit(0, 9, 2), 0);
    }
}
