//! Compiling a map's expression into a block program: each node of the
//! nl and quant dialects becomes a few i64 instructions computing, lane by
//! lane, the value the scalar code (`codegen::nl`, `codegen::quant`)
//! computes for that element.
//!
//! Three kinds of node, three arguments:
//! - quant nodes (requantize, qadd, qmul, table reads) are i64 code in the
//!   scalar path too: their instructions are the scalar code's, operation
//!   for operation, with the same wrapping;
//! - nl nodes compute the op's exact value, then saturate it to the result
//!   type (the scalar code does so in i64 or i128): here every exact value
//!   is bounded first by interval arithmetic over the arguments' value
//!   ranges, and a node whose exact value (or an intermediate) could leave
//!   i64 is refused, so the i64 instructions give the exact value and the
//!   same clamp gives the same bits. The inline exp2 and log2 follow the
//!   scalar inline code step for step; the other runtime units are called
//!   per lane, as the scalar code calls them;
//! - floats: a quantize of f32 sums, differences and products (the
//!   attention's scale-and-mask map: a table of dequantized scores plus
//!   the mask) runs on f64 bit patterns in the same registers; each f32
//!   operation is the f64 one rounded once to f32 (the same value), the
//!   quantize the scalar code's steps (a finite non-zero scale only).
//!
//! Anything else (other float nodes, the i128-only cases, u64 values used
//! as numbers) makes [`compile`] return `None`: the map keeps its scalar
//! code.
//!
//! Invariants: a value's interval contains every value its register can
//! hold for inputs in their storages' ranges; an instruction's
//! destination is freshly allocated while its sources are live (never one
//! of them); the program has at most [`MAX_REGS`] registers.

mod quant;

use super::program::{Bin, Cmp, Imm, Ins, Program, R};
use super::units::{Exp2Step, Log2Step, Quad};
use crate::jit::kernel::{BinOp, Expr};
use crate::jit::lower_nl::{NlExpr, NlOp};
use crate::jit::nl_fast::{FastExp2, FastLog2};
use crate::jit::nl_unit::NlUnit;
use crate::jit::storage::Storage;
use std::sync::Arc;
use weft_ir::ops::nl::Rounding;

/// The most registers of a program (32 KiB of lanes).
pub(crate) const MAX_REGS: usize = 64;

/// An inclusive range of exact values.
type Iv = (i128, i128);

const I64: Iv = (i64::MIN as i128, i64::MAX as i128);

fn fits(iv: Iv) -> bool {
    iv.0 >= I64.0 && iv.1 <= I64.1
}

/// The values a canonical register of `st` holds, as numbers.
pub(crate) fn range(st: Storage) -> Option<Iv> {
    match st {
        Storage::Bool => Some((0, 1)),
        Storage::Int { width, signed, .. } => {
            let w = u32::from(width.clamp(1, 64));
            Some(if signed { (-(1i128 << (w - 1)), (1i128 << (w - 1)) - 1) } else { (0, (1i128 << w) - 1) })
        }
        Storage::F32 | Storage::F64 => None,
    }
}

/// The bits of the largest magnitude `st` holds (the scalar code's test
/// for its inline exp2).
fn magnitude_bits(st: Storage) -> u32 {
    range(st).map_or(128, |(lo, hi)| 128 - lo.unsigned_abs().max(hi.unsigned_abs()).leading_zeros())
}

/// A computed value: its register, whether it is a temporary the builder
/// may reuse once consumed, and the interval of its exact values.
#[derive(Debug, Clone, Copy)]
struct Val {
    reg: R,
    temp: bool,
    iv: Iv,
    /// The register holds f64 bit patterns (of f32 or f64 values).
    float: bool,
}

/// The block program of `expr` over inputs of storages `inputs` (register
/// `i` holds input `i`), or `None` when some node has no exact i64 form.
pub(crate) fn compile(expr: &Expr, inputs: &[Storage]) -> Option<Program> {
    if matches!(expr, Expr::Input(_)) {
        return None;
    }
    let mut b = Builder { ins: Vec::new(), regs: inputs.len(), free: Vec::new(), inputs: inputs.to_vec() };
    let v = b.node(expr)?;
    Program::new(b.ins, inputs.len(), b.regs, v.reg)
}

struct Builder {
    ins: Vec<Ins>,
    regs: usize,
    free: Vec<R>,
    /// The storage of each input.
    inputs: Vec<Storage>,
}

impl Builder {
    fn alloc(&mut self) -> Option<R> {
        if let Some(r) = self.free.pop() {
            return Some(r);
        }
        if self.regs >= MAX_REGS {
            return None;
        }
        self.regs += 1;
        R::try_from(self.regs - 1).ok()
    }

    fn release(&mut self, v: Val) {
        if v.temp && !self.free.contains(&v.reg) {
            self.free.push(v.reg);
        }
    }

    /// Emits `make(d)` into a fresh register `d` holding values in `iv`.
    fn emit(&mut self, iv: Iv, make: impl FnOnce(R) -> Ins) -> Option<Val> {
        let d = self.alloc()?;
        self.ins.push(make(d));
        Some(Val { reg: d, temp: true, iv, float: false })
    }

    /// `op(a, c)`, consuming `a`.
    fn imm(&mut self, op: Imm, a: Val, c: i64, iv: Iv) -> Option<Val> {
        let v = self.emit(iv, |d| Ins::Imm(op, d, a.reg, c))?;
        self.release(a);
        Some(v)
    }

    /// `op(a, b)`, consuming both.
    fn bin(&mut self, op: Bin, a: Val, b: Val, iv: Iv) -> Option<Val> {
        let v = self.emit(iv, |d| Ins::Bin(op, d, a.reg, b.reg))?;
        self.release(a);
        self.release(b);
        Some(v)
    }

    /// `a` clamped to `[lo, hi]`, consuming it.
    fn clamp(&mut self, a: Val, lo: i64, hi: i64) -> Option<Val> {
        if lo > hi {
            return None;
        }
        let iv = (a.iv.0.max(lo.into()).min(hi.into()), a.iv.1.max(lo.into()).min(hi.into()));
        self.emit(iv, |d| Ins::Clamp(d, a.reg, lo, hi)).inspect(|_| self.release(a))
    }

    fn node(&mut self, e: &Expr) -> Option<Val> {
        match e {
            Expr::Input(i) => {
                let st = *self.inputs.get(*i)?;
                let reg = R::try_from(*i).ok()?;
                if st.is_float() {
                    return Some(Val { reg, temp: false, iv: I64, float: true });
                }
                let iv = range(st).filter(|&iv| fits(iv))?;
                Some(Val { reg, temp: false, iv, float: false })
            }
            Expr::Nl(n) => self.nl(n),
            Expr::Quant(q) => self.quant(q),
            Expr::Binary(op, st, a, b) if st.is_float() => {
                let op = match op {
                    BinOp::Add => Bin::Add,
                    BinOp::Sub => Bin::Sub,
                    BinOp::Mul => Bin::Mul,
                    _ => return None,
                };
                let (a, b) = (self.node(a)?, self.node(b)?);
                if !a.float || !b.float {
                    return None;
                }
                let v = self.bin_float(op, *st == Storage::F32, a, b)?;
                Some(v)
            }
            _ => None,
        }
    }

    /// The arguments of a node, each checked to lie in its storage's range.
    fn args(&mut self, args: &[Expr], sts: &[Storage]) -> Option<Vec<Val>> {
        if args.len() != sts.len() {
            return None;
        }
        let mut vals = Vec::with_capacity(args.len());
        for (a, &st) in args.iter().zip(sts) {
            let v = self.node(a)?;
            let (lo, hi) = range(st)?;
            if v.float || v.iv.0 < lo || v.iv.1 > hi {
                return None;
            }
            vals.push(v);
        }
        Some(vals)
    }

    /// `v` (exact) saturated to the range of `out`, consuming it.
    fn saturate(&mut self, v: Val, out: Storage) -> Option<Val> {
        let (lo, hi) = range(out)?;
        if v.iv.0 >= lo && v.iv.1 <= hi {
            return Some(v);
        }
        let (lo, hi) = (lo.max(I64.0) as i64, hi.min(I64.1) as i64);
        self.clamp(v, lo, hi)
    }

    fn nl(&mut self, n: &NlExpr) -> Option<Val> {
        if let NlOp::Unit(u) = &n.op {
            return self.unit(n, u);
        }
        let a = self.args(&n.args, &n.arg_st)?;
        let exact = match (&n.op, &a[..]) {
            (NlOp::Cast, &[x]) => x,
            (NlOp::Add, &[x, y]) => self.bin(Bin::Add, x, y, (x.iv.0 + y.iv.0, x.iv.1 + y.iv.1))?,
            (NlOp::Sub, &[x, y]) => self.bin(Bin::Sub, x, y, (x.iv.0 - y.iv.1, x.iv.1 - y.iv.0))?,
            (NlOp::Mul, &[x, y]) => {
                let c = [x.iv.0 * y.iv.0, x.iv.0 * y.iv.1, x.iv.1 * y.iv.0, x.iv.1 * y.iv.1];
                let iv = (c.iter().copied().min()?, c.iter().copied().max()?);
                self.bin(Bin::Mul, x, y, iv)?
            }
            (NlOp::Max, &[x, y]) => self.bin(Bin::Max, x, y, (x.iv.0.max(y.iv.0), x.iv.1.max(y.iv.1)))?,
            (NlOp::Min, &[x, y]) => self.bin(Bin::Min, x, y, (x.iv.0.min(y.iv.0), x.iv.1.min(y.iv.1)))?,
            (NlOp::Mux, &[c, t, f]) => {
                let neg = self.emit((-1, 0), |d| Ins::CmpImm(Cmp::Lt, d, c.reg, 0))?;
                let iv = (t.iv.0.min(f.iv.0), t.iv.1.max(f.iv.1));
                let v = self.emit(iv, |d| Ins::Select(d, neg.reg, t.reg, f.reg))?;
                [neg, c, t, f].into_iter().for_each(|x| self.release(x));
                v
            }
            (NlOp::Shift { amount, rounding }, &[x]) => self.shift(x, *amount, *rounding)?,
            (NlOp::Lod, &[x]) => {
                let pos = self.clamp(x, 0, i64::MAX)?;
                let zeros = self.emit((0, 64), |d| Ins::Clz(d, pos.reg))?;
                self.release(pos);
                self.imm(Imm::RSub, zeros, 63, (-1, 63))?
            }
            (NlOp::Lut { table, offset }, &[x]) => {
                let iv = (x.iv.0 - i128::from(*offset), x.iv.1 - i128::from(*offset));
                let index = self.imm(Imm::Add, x, offset.wrapping_neg(), iv)?;
                return self.gather(index, table.iter().copied().collect());
            }
            _ => return None,
        };
        if !fits(exact.iv) {
            return None;
        }
        self.saturate(exact, n.out)
    }

    /// `table[clamp(index)]`, consuming the index (exact in i64).
    fn gather(&mut self, index: Val, table: Arc<[i64]>) -> Option<Val> {
        if !fits(index.iv) || table.is_empty() {
            return None;
        }
        let lo = table.iter().copied().min()?;
        let hi = table.iter().copied().max()?;
        let v = self.emit((lo.into(), hi.into()), |d| Ins::Gather(d, index.reg, table))?;
        self.release(index);
        Some(v)
    }

    /// `x * 2^amount` rounded as told (`shift_round`), exact in i64 or
    /// refused.
    fn shift(&mut self, x: Val, amount: i64, rounding: Rounding) -> Option<Val> {
        if !fits(x.iv) {
            return None;
        }
        if amount >= 0 {
            let f = 1i128.checked_shl(u32::try_from(amount).ok().filter(|&a| a < 64)?)?;
            let iv = (x.iv.0.checked_mul(f)?, x.iv.1.checked_mul(f)?);
            return fits(iv).then(|| self.imm(Imm::Shl, x, amount, iv))?;
        }
        let k = amount.unsigned_abs().min(126) as u32;
        match rounding {
            Rounding::Floor => self.imm(Imm::Sar, x, i64::from(k.min(63)), (x.iv.0 >> k, x.iv.1 >> k)),
            Rounding::Ceil => {
                if x.iv.0 <= I64.0 {
                    return None;
                }
                let neg = self.imm(Imm::RSub, x, 0, (-x.iv.1, -x.iv.0))?;
                let q = self.imm(Imm::Sar, neg, i64::from(k.min(63)), (neg.iv.0 >> k, neg.iv.1 >> k))?;
                self.imm(Imm::RSub, q, 0, (-q.iv.1, -q.iv.0))
            }
            Rounding::Nearest => {
                let half = 1i128 << (k - 1);
                if k > 62 || x.iv.1 + half > I64.1 {
                    return None;
                }
                let up = self.imm(Imm::Add, x, half as i64, (x.iv.0 + half, x.iv.1 + half))?;
                self.imm(Imm::Sar, up, i64::from(k), (up.iv.0 >> k, up.iv.1 >> k))
            }
        }
    }

    /// A runtime unit: the scalar code's inline exp2 or log2 where it has
    /// one, else a call of the unit per lane.
    fn unit(&mut self, n: &NlExpr, u: &Arc<NlUnit>) -> Option<Val> {
        let first = *n.arg_st.first()?;
        let out = range(n.out)?;
        if let Some(f) = u.fast_exp2().filter(|_| magnitude_bits(first) <= 62) {
            if out.1 > I64.1 {
                return None;
            }
            let [t] = self.args(&n.args, &n.arg_st)?[..] else { return None };
            return self.exp2(f, n.out, t);
        }
        if let Some(f) = u.fast_log2().filter(|_| range(first).is_some_and(|r| r.1 <= I64.1)) {
            let [x] = self.args(&n.args, &n.arg_st)?[..] else { return None };
            return self.log2(f, n.out, x);
        }
        // Canonical registers go to the unit as they are (a u64 keeps its
        // bits): no interval is needed.
        if n.args.is_empty() || n.args.len() > 2 || n.args.len() != n.arg_st.len() {
            return None;
        }
        let a = self.raw(&n.args[0])?;
        let b = match n.args.get(1) {
            Some(e) => Some(self.raw(e)?),
            None => None,
        };
        if a.float || b.is_some_and(|b| b.float) {
            return None;
        }
        let v = self.emit(out, |d| Ins::Unit(d, a.reg, b.map(|b| b.reg), u.clone()))?;
        self.release(a);
        b.into_iter().for_each(|b| self.release(b));
        // The unit saturates to the result; its interval is the result's
        // only when that fits i64 (a u64 result is bits).
        Some(Val { iv: if fits(out) { out } else { I64 }, ..v })
    }

    /// A canonical register, read as bits (any integer input or node).
    fn raw(&mut self, e: &Expr) -> Option<Val> {
        match e {
            Expr::Input(i) => {
                let float = self.inputs.get(*i)?.is_float();
                Some(Val { reg: R::try_from(*i).ok()?, temp: false, iv: I64, float })
            }
            e => self.node(e),
        }
    }

    /// A float operation, consuming both operands.
    fn bin_float(&mut self, op: Bin, f32: bool, a: Val, b: Val) -> Option<Val> {
        let v = self.emit(I64, |d| Ins::Float(op, f32, d, a.reg, b.reg))?;
        self.release(a);
        self.release(b);
        Some(Val { float: true, ..v })
    }

    /// The scalar code's `nl_exp2` and `exp2_shift64`, saturated to `out`
    /// (one fused instruction): `t` exact with `|t| < 2^62`.
    fn exp2(&mut self, f: &FastExp2, out: Storage, t: Val) -> Option<Val> {
        let (rows, frac, select, shift) = f.parts();
        let (lo, hi) = range(out)?;
        let (lo, hi) = (lo.max(I64.0) as i64, hi.min(I64.1) as i64);
        let step = Exp2Step { quad: Quad::new(rows, frac, select, true)?, frac, shift, lo, hi };
        if !step.valid() {
            return None;
        }
        let v = self.emit((lo.into(), hi.into()), |d| Ins::Exp2(d, t.reg, Arc::new(step)))?;
        self.release(t);
        Some(v)
    }

    /// The scalar code's `nl_log2`, saturated to `out` (one fused
    /// instruction).
    fn log2(&mut self, f: &FastLog2, out: Storage, x: Val) -> Option<Val> {
        let (rows, mf, select, frac, out_frac) = f.parts();
        let (lo, hi) = range(out)?;
        let (lo, hi) = (lo.max(I64.0) as i64, hi.min(I64.1) as i64);
        let step = Log2Step { quad: Quad::new(rows, mf, select, false)?, mf, frac, out_frac, lo, hi };
        if !step.valid() {
            return None;
        }
        let v = self.emit((lo.into(), hi.into()), |d| Ins::Log2(d, x.reg, Arc::new(step)))?;
        self.release(x);
        Some(v)
    }
}
