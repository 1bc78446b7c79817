//! Block programs: straight-line code over block registers of
//! [`LANES`] i64 lanes each. Every instruction is one lane function applied
//! to every lane (no lane reads another), so the runtime runs it as one
//! loop the compiler vectorizes; each lane function is written once, here
//! ([`Ins::lane`]), and is the meaning of the instruction.
//!
//! The arithmetic is Cranelift's on i64 registers: additions, subtractions
//! and products wrap, a shift amount held in a register is taken modulo
//! 64, an arithmetic right shift keeps the sign. The compiler (`compile`)
//! chooses instructions whose wrapped results are the exact values the
//! scalar code computes.
//!
//! Invariants (checked by [`Program::new`], which every program passes):
//! registers `0 .. inputs` hold the map's inputs and are never written;
//! every register an instruction names is below `regs`; an instruction's
//! destination is none of its sources (the runtime borrows them apart);
//! the result register is below `regs`; a table is never empty.

use super::units::{Exp2Step, Log2Step};
use crate::jit::nl_unit::NlUnit;
use std::sync::Arc;

/// Lanes of a block register.
pub(crate) const LANES: usize = 128;

/// A block register index.
pub(crate) type R = u16;

/// Binary operations of two registers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Bin {
    Add,
    Sub,
    Mul,
    Min,
    Max,
    /// `a >> (b mod 64)`, arithmetic.
    Sar,
}

/// Operations of a register and a constant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Imm {
    Add,
    /// `c - a`.
    RSub,
    Mul,
    And,
    /// `a << (c mod 64)`.
    Shl,
    /// `a >> (c mod 64)`, arithmetic.
    Sar,
}

/// Comparisons; true is all ones (-1), false 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cmp {
    Lt,
}

impl Cmp {
    fn holds(self, a: i64, b: i64) -> bool {
        match self {
            Cmp::Lt => a < b,
        }
    }
}

/// One instruction: `d` is the destination.
#[derive(Debug, Clone)]
pub(crate) enum Ins {
    Bin(Bin, R, R, R),
    Imm(Imm, R, R, i64),
    /// `min(max(a, lo), hi)`.
    Clamp(R, R, i64, i64),
    CmpImm(Cmp, R, R, i64),
    /// The bits of `t` where the mask `m` has ones, of `f` where it has
    /// zeros: `(d, m, t, f)` (with a comparison's mask, `m ? t : f`).
    Select(R, R, R, R),
    /// Leading zeros of the 64 bits (64 for 0).
    Clz(R, R),
    /// `table[clamp(a, 0, len - 1)]`.
    Gather(R, R, Arc<[i64]>),
    /// A runtime unit on the canonical registers `a` and `b` (0 without).
    Unit(R, R, Option<R>, Arc<NlUnit>),
    /// Every lane the constant.
    Const(R, i64),
    /// The inline exp2 unit of the scalar code, clamped to the result.
    Exp2(R, R, Arc<Exp2Step>),
    /// The inline log2 unit of the scalar code, clamped to the result.
    Log2(R, R, Arc<Log2Step>),
    /// A float operation on f64 bit patterns, rounded to f32 when `f32`:
    /// `(op, f32, d, a, b)`, see [`float`].
    Float(Bin, bool, R, R, R),
    /// `quant.quantize` of the f64 bits `a`: see [`quantize`].
    Quantize(R, R, Arc<Quantize>),
}

/// The constant parameters of a quantize: scale (finite, non-zero), zero
/// point and stored range.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Quantize {
    pub scale: f64,
    pub zp: i64,
    pub lo: i64,
    pub hi: i64,
}

/// `a op b` on the f64 values of the bit patterns (`Add`, `Sub`, `Mul`;
/// any other op gives `a`), rounded once to f32 when `f32`: for two f32
/// values, the f64 result rounded to f32 is the f32 operation's result
/// (53 >= 2 * 24 + 2 bits, so the double rounding is innocuous). A NaN's
/// payload is unspecified (vectorized code may take either operand's):
/// floats reach a map's output only through [`quantize`], which sees any
/// NaN alike.
#[inline(always)]
pub(crate) fn float(op: Bin, f32: bool, a: i64, b: i64) -> i64 {
    let (x, y) = (f64::from_bits(a as u64), f64::from_bits(b as u64));
    let r = match op {
        Bin::Add => x + y,
        Bin::Sub => x - y,
        Bin::Mul => x * y,
        _ => x,
    };
    let r = if f32 { f64::from(r as f32) } else { r };
    r.to_bits() as i64
}

/// `clamp(round_half_even(x / scale) + zp)` of the f64 bits `a`, the
/// clamp's bound for NaN: the scalar code's steps (with a finite non-zero
/// scale the quotient is NaN only for a NaN `x`, so the float min/max of
/// either semantics agree). The clamped value is an integer of magnitude
/// below 2^51 (the bounds are, `Program::new`; a NaN sum clamps to `lo`),
/// converted exactly by adding `1.5 2^52` and reading the low mantissa
/// bits (the saturating `as i64` would keep the loop scalar).
#[inline(always)]
pub(crate) fn quantize(a: i64, q: &Quantize) -> i64 {
    const MAGIC: f64 = 6_755_399_441_055_744.0;
    let x = f64::from_bits(a as u64);
    let v = (x / q.scale).round_ties_even() + q.zp as f64;
    let v = v.max(q.lo as f64).min(q.hi as f64);
    let v = ((v + MAGIC).to_bits() as i64).wrapping_sub(MAGIC.to_bits() as i64);
    if x.is_nan() {
        q.zp.max(q.lo).min(q.hi)
    } else {
        v
    }
}

/// The bound of a quantize's stored range: exact by the magic-number
/// conversion of [`quantize`].
pub(crate) const QUANTIZE_BOUND: i64 = 1 << 51;

impl Ins {
    /// The destination register.
    pub fn dest(&self) -> R {
        match *self {
            Ins::Bin(_, d, ..)
            | Ins::Imm(_, d, ..)
            | Ins::Clamp(d, ..)
            | Ins::CmpImm(_, d, ..)
            | Ins::Select(d, ..)
            | Ins::Clz(d, _)
            | Ins::Gather(d, ..)
            | Ins::Unit(d, ..)
            | Ins::Const(d, _)
            | Ins::Exp2(d, ..)
            | Ins::Log2(d, ..)
            | Ins::Float(_, _, d, ..)
            | Ins::Quantize(d, ..) => d,
        }
    }

    /// The source registers.
    pub fn sources(&self) -> Vec<R> {
        match *self {
            Ins::Bin(_, _, a, b) | Ins::Unit(_, a, Some(b), _) | Ins::Float(_, _, _, a, b) => {
                vec![a, b]
            }
            Ins::Imm(_, _, a, _)
            | Ins::Clamp(_, a, ..)
            | Ins::CmpImm(_, _, a, _)
            | Ins::Clz(_, a)
            | Ins::Gather(_, a, _)
            | Ins::Unit(_, a, None, _)
            | Ins::Exp2(_, a, _)
            | Ins::Log2(_, a, _)
            | Ins::Quantize(_, a, _) => vec![a],
            Ins::Select(_, m, t, f) => vec![m, t, f],
            Ins::Const(..) => Vec::new(),
        }
    }
}

/// The lane function of a binary operation.
#[inline(always)]
pub(crate) fn bin(op: Bin, a: i64, b: i64) -> i64 {
    match op {
        Bin::Add => a.wrapping_add(b),
        Bin::Sub => a.wrapping_sub(b),
        Bin::Mul => a.wrapping_mul(b),
        Bin::Min => a.min(b),
        Bin::Max => a.max(b),
        Bin::Sar => a.wrapping_shr(b as u32),
    }
}

/// The lane function of an operation with a constant.
#[inline(always)]
pub(crate) fn imm(op: Imm, a: i64, c: i64) -> i64 {
    match op {
        Imm::Add => a.wrapping_add(c),
        Imm::RSub => c.wrapping_sub(a),
        Imm::Mul => a.wrapping_mul(c),
        Imm::And => a & c,
        Imm::Shl => a.wrapping_shl(c as u32),
        Imm::Sar => a.wrapping_shr(c as u32),
    }
}

/// The lane function of a comparison.
#[inline(always)]
pub(crate) fn cmp(op: Cmp, a: i64, b: i64) -> i64 {
    -i64::from(op.holds(a, b))
}

/// The lane function of a select.
#[inline(always)]
pub(crate) fn select(m: i64, t: i64, f: i64) -> i64 {
    (t & m) | (f & !m)
}

/// The lane function of a table read.
#[cfg(test)]
pub(crate) fn gather(table: &[i64], a: i64) -> i64 {
    let last = table.len() as i64 - 1;
    table.get(a.clamp(0, last.max(0)) as usize).copied().unwrap_or(0)
}

#[cfg(test)]
impl Ins {
    /// The instruction on one lane: `get(r)` reads lane values of the
    /// source registers (the reference the runtime's loops follow).
    pub fn lane(&self, get: impl Fn(R) -> i64) -> i64 {
        match self {
            Ins::Bin(op, _, a, b) => bin(*op, get(*a), get(*b)),
            Ins::Imm(op, _, a, c) => imm(*op, get(*a), *c),
            Ins::Clamp(_, a, lo, hi) => get(*a).max(*lo).min(*hi),
            Ins::CmpImm(op, _, a, c) => cmp(*op, get(*a), *c),
            Ins::Select(_, m, t, f) => select(get(*m), get(*t), get(*f)),
            Ins::Clz(_, a) => i64::from(get(*a).leading_zeros()),
            Ins::Gather(_, a, table) => gather(table, get(*a)),
            Ins::Unit(_, a, b, unit) => unit.eval(get(*a), b.map_or(0, &get)),
            Ins::Const(_, c) => *c,
            Ins::Exp2(_, a, e) => e.lane(get(*a)),
            Ins::Log2(_, a, l) => l.lane(get(*a)),
            Ins::Float(op, f32, _, a, b) => float(*op, *f32, get(*a), get(*b)),
            Ins::Quantize(_, a, q) => quantize(get(*a), q),
        }
    }
}

/// A checked block program (see the module invariants).
#[derive(Debug, Clone)]
pub(crate) struct Program {
    pub ins: Vec<Ins>,
    /// Registers `0 .. inputs` hold the inputs.
    pub inputs: usize,
    pub regs: usize,
    pub result: R,
}

impl Program {
    /// The program, when it keeps the module invariants.
    pub fn new(ins: Vec<Ins>, inputs: usize, regs: usize, result: R) -> Option<Program> {
        let fits = |r: R| usize::from(r) < regs;
        let ok = ins.iter().all(|i| {
            let d = i.dest();
            let table_ok = match i {
                Ins::Gather(_, _, t) => !t.is_empty(),
                Ins::Exp2(_, _, e) => e.valid(),
                Ins::Log2(_, _, l) => l.valid(),
                Ins::Quantize(_, _, q) => {
                    let inside = |v: i64| v.unsigned_abs() < QUANTIZE_BOUND as u64;
                    q.scale.is_finite() && q.scale != 0.0 && q.lo <= q.hi && inside(q.lo) && inside(q.hi)
                }
                _ => true,
            };
            let sources = i.sources();
            fits(d) && usize::from(d) >= inputs && sources.iter().all(|&s| fits(s) && s != d) && table_ok
        });
        (ok && fits(result) && inputs <= regs).then_some(Program { ins, inputs, regs, result })
    }
}
