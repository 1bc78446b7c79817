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
    Gt,
}

impl Cmp {
    fn holds(self, a: i64, b: i64) -> bool {
        match self {
            Cmp::Lt => a < b,
            Cmp::Gt => a > b,
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
    /// The segment quadratic of the exp2 and log2 units at `a`.
    Quad(R, R, Arc<Quad>),
    /// `p 2^amount` before the result's clamp: `(d, p, amount)`, see
    /// [`exp2_shift`].
    Exp2Shift(R, R, R),
    /// The mantissa bits below the leading one of `max(a, 1)`: `(d, a, mf)`,
    /// see [`mantissa`].
    Mantissa(R, R, u32),
    /// `(floor(log2 max(a, 1)) - frac) << out_frac`: `(d, a, frac,
    /// out_frac)`.
    Exponent(R, R, i64, i64),
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
/// either semantics agree).
#[inline(always)]
pub(crate) fn quantize(a: i64, q: &Quantize) -> i64 {
    let x = f64::from_bits(a as u64);
    let v = (x / q.scale).round_ties_even() + q.zp as f64;
    let v = v.max(q.lo as f64).min(q.hi as f64) as i64;
    if x.is_nan() {
        q.zp.clamp(q.lo, q.hi)
    } else {
        v
    }
}

/// A piecewise quadratic: rows `[a, b, c]` (a power of two of them),
/// selected by `f >> select`, evaluated at the offset of `f` in its
/// segment (negated when `negate`) with products rounded at `frac` bits.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Quad {
    pub a: Vec<i64>,
    pub b: Vec<i64>,
    pub c: Vec<i64>,
    pub frac: u32,
    pub select: u32,
    pub negate: bool,
}

impl Quad {
    /// The quadratic of `rows`, when there is a power of two of them and
    /// `frac` and `select` are shifts (below 64).
    pub fn new(rows: &[[i64; 3]], frac: u32, select: u32, negate: bool) -> Option<Quad> {
        if !rows.len().is_power_of_two() || frac >= 64 || select >= 64 {
            return None;
        }
        let column = |k: usize| rows.iter().map(|r| r[k]).collect();
        Some(Quad { a: column(0), b: column(1), c: column(2), frac, select, negate })
    }

    /// The row of `f` and the offset the quadratic is evaluated at.
    #[inline(always)]
    pub fn row(&self, f: i64) -> (i64, i64) {
        let row = f.wrapping_shr(self.select) & (self.a.len() as i64 - 1);
        let start = row.wrapping_shl(self.select);
        (row, if self.negate { start.wrapping_sub(f) } else { f.wrapping_sub(start) })
    }

    /// `round(round(a x) + b) x) + c`, rounding to nearest (ties up).
    #[inline(always)]
    pub fn poly(&self, a: i64, b: i64, c: i64, x: i64) -> i64 {
        let round = |v: i64| {
            if self.frac == 0 {
                v
            } else {
                v.wrapping_add(1i64 << (self.frac - 1)).wrapping_shr(self.frac)
            }
        };
        let t = round(a.wrapping_mul(x)).wrapping_add(b);
        round(t.wrapping_mul(x)).wrapping_add(c)
    }
}

/// `p 2^amount` as the scalar code's `exp2_shift64` computes it: a left
/// shift by `clamp(amount, 0, 63)` that does not come back by the right
/// shift becomes the i64 limit of `p`'s sign; a right shift by `k =
/// clamp(-amount, 1, 63)` rounds to nearest as `(p + 2^(k-1)) >> k`.
#[inline(always)]
pub(crate) fn exp2_shift(p: i64, amount: i64) -> i64 {
    let by = amount.clamp(0, 63) as u32;
    let shifted = p.wrapping_shl(by);
    let limit = (p >> 63) ^ i64::MAX;
    let left = if shifted.wrapping_shr(by) != p { limit } else { shifted };
    let k = amount.wrapping_neg().clamp(1, 63) as u32;
    let right = p.wrapping_add(1i64 << (k - 1)).wrapping_shr(k);
    if amount >= 0 {
        left
    } else {
        right
    }
}

/// `floor(max(a, 1) 2^(mf - k)) - 2^mf` for `k = floor(log2 max(a, 1))`:
/// the top `mf + 1` bits from the leading one on, less that one.
#[inline(always)]
pub(crate) fn mantissa(a: i64, mf: u32) -> i64 {
    let x = a.max(1);
    let top = x.wrapping_shl(x.leading_zeros());
    ((top as u64).wrapping_shr(63u32.wrapping_sub(mf)) as i64).wrapping_sub(1i64.wrapping_shl(mf))
}

/// `(floor(log2 max(a, 1)) - frac) << out_frac`, wrapping.
#[inline(always)]
pub(crate) fn exponent(a: i64, frac: i64, out_frac: i64) -> i64 {
    let k = 63 - i64::from(a.max(1).leading_zeros());
    k.wrapping_sub(frac).wrapping_shl(out_frac as u32)
}

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
            | Ins::Quad(d, ..)
            | Ins::Exp2Shift(d, ..)
            | Ins::Mantissa(d, ..)
            | Ins::Exponent(d, ..)
            | Ins::Float(_, _, d, ..)
            | Ins::Quantize(d, ..) => d,
        }
    }

    /// The source registers.
    pub fn sources(&self) -> Vec<R> {
        match *self {
            Ins::Bin(_, _, a, b)
            | Ins::Unit(_, a, Some(b), _)
            | Ins::Exp2Shift(_, a, b)
            | Ins::Float(_, _, _, a, b) => {
                vec![a, b]
            }
            Ins::Imm(_, _, a, _)
            | Ins::Clamp(_, a, ..)
            | Ins::CmpImm(_, _, a, _)
            | Ins::Clz(_, a)
            | Ins::Gather(_, a, _)
            | Ins::Unit(_, a, None, _)
            | Ins::Quad(_, a, _)
            | Ins::Mantissa(_, a, _)
            | Ins::Exponent(_, a, ..)
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
            Ins::Quad(_, a, q) => {
                let (row, x) = q.row(get(*a));
                let at = |t: &[i64]| t.get(row as usize).copied().unwrap_or(0);
                q.poly(at(&q.a), at(&q.b), at(&q.c), x)
            }
            Ins::Exp2Shift(_, p, amount) => exp2_shift(get(*p), get(*amount)),
            Ins::Mantissa(_, a, mf) => mantissa(get(*a), *mf),
            Ins::Exponent(_, a, frac, out_frac) => exponent(get(*a), *frac, *out_frac),
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
                Ins::Quad(_, _, q) => {
                    let n = q.a.len();
                    n.is_power_of_two() && q.b.len() == n && q.c.len() == n && q.frac < 64 && q.select < 64
                }
                Ins::Mantissa(_, _, mf) => *mf < 64,
                Ins::Quantize(_, _, q) => q.scale.is_finite() && q.scale != 0.0 && q.lo <= q.hi,
                _ => true,
            };
            let sources = i.sources();
            fits(d) && usize::from(d) >= inputs && sources.iter().all(|&s| fits(s) && s != d) && table_ok
        });
        (ok && fits(result) && inputs <= regs).then_some(Program { ins, inputs, regs, result })
    }
}
