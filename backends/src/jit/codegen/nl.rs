//! Code of the nl dialect's ops (spec/nl.md): the elementwise ones as map
//! expressions, the trees as lane loops.
//!
//! Invariants: an operand register (canonical i64 of its storage) is
//! widened to i128 holding its exact value (a `u64` zero-extended); every
//! intermediate is exact in i128 — operands have at most 64 bits, so sums,
//! differences and rounding shifts cannot overflow, and the two cases that
//! could (a product of two near-64-bit values, a left shift) are bounded
//! before they are computed so the final clamp sees the same side as the
//! reference's saturating i128; each result is clamped once to its
//! storage's range and narrowed to its canonical i64. The runtime units
//! (`nl_unit`) and table reads return canonical values directly.

use super::Emit;
use crate::jit::lower_nl::{NlExpr, NlOp, NlTree};
use crate::jit::math::MathFn;
use crate::jit::storage::Storage;
use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::{types, InstBuilder, Value};
use std::sync::Arc;
use weft_ir::ops::nl::Rounding;

/// The least and greatest values of an integer storage.
pub(super) fn range(st: Storage) -> (i128, i128) {
    let (width, signed) = match st {
        Storage::Int { width, signed, .. } => (width, signed),
        Storage::Bool => (1, false),
        _ => (64, true),
    };
    let w = u32::from(width.clamp(1, 64));
    if signed {
        (-(1i128 << (w - 1)), (1i128 << (w - 1)) - 1)
    } else {
        (0, (1i128 << w) - 1)
    }
}

/// The number of bits of the largest magnitude a storage holds.
pub(super) fn magnitude_bits(st: Storage) -> u32 {
    let (lo, hi) = range(st);
    128 - lo.unsigned_abs().max(hi.unsigned_abs()).leading_zeros()
}

impl Emit<'_, '_> {
    /// The value of one nl node; `args` are its arguments' registers.
    pub fn nl(&mut self, n: &NlExpr, args: &[Value]) -> Result<Value, String> {
        if args.len() != n.arg_st.len() {
            return Err("internal error: an nl node's arguments do not match their storages".into());
        }
        if let Some(v) = self.nl_narrow(n, args) {
            return Ok(v);
        }
        let arg = |i: usize| args.get(i).copied().ok_or("internal error: missing nl argument");
        let exact = match &n.op {
            NlOp::Lut { table, offset } => return self.nl_lut(n, arg(0)?, table, *offset),
            NlOp::Unit(u) if u.fast_exp2().is_some() && magnitude_bits(n.arg_st[0]) <= 62 => {
                let f = u.fast_exp2().ok_or("internal error: an exp2 unit without its fast form")?;
                let (p, amount) = self.nl_exp2(f, arg(0)?);
                if range(n.out).1 <= i128::from(i64::MAX) {
                    let v = self.exp2_shift64(f, n.out, p, amount);
                    return Ok(self.saturate64(n.out, v));
                }
                self.exp2_shift128(p, amount)
            }
            NlOp::Unit(u) if u.fast_log2().is_some() && range(n.arg_st[0]).1 <= i128::from(i64::MAX) => {
                let f = u.fast_log2().ok_or("internal error: a log2 unit without its fast form")?;
                return Ok(self.nl_log2(f, n.out, arg(0)?));
            }
            NlOp::Unit(u) => {
                let unit = self.b.ins().iconst(types::I64, Arc::as_ptr(u) as usize as i64);
                let a = arg(0)?;
                let b = match args.get(1) {
                    Some(&b) => b,
                    None => self.b.ins().iconst(types::I64, 0),
                };
                return self.call(MathFn::NlUnit, &[unit, a, b]);
            }
            NlOp::Lod => self.nl_lod(n.arg_st[0], arg(0)?),
            NlOp::Mul => self.nl_mul(n, arg(0)?, arg(1)?),
            _ => {
                let wide: Vec<Value> = args.iter().zip(&n.arg_st).map(|(&v, &st)| self.wide(st, v)).collect();
                let w = |i: usize| wide.get(i).copied().ok_or("internal error: missing nl argument");
                match &n.op {
                    NlOp::Cast => w(0)?,
                    NlOp::Add => self.b.ins().iadd(w(0)?, w(1)?),
                    NlOp::Sub => self.b.ins().isub(w(0)?, w(1)?),
                    NlOp::Max => self.pick(IntCC::SignedGreaterThan, w(0)?, w(1)?),
                    NlOp::Min => self.pick(IntCC::SignedLessThan, w(0)?, w(1)?),
                    NlOp::Mux => {
                        let zero = self.const128(0);
                        let neg = self.b.ins().icmp(IntCC::SignedLessThan, w(0)?, zero);
                        self.select128(neg, w(1)?, w(2)?)
                    }
                    NlOp::Shift { amount, rounding } => self.nl_shift(w(0)?, *amount, *rounding),
                    _ => return Err("internal error: unhandled nl op".into()),
                }
            }
        };
        Ok(self.saturate(n.out, exact))
    }

    /// The node in i64 when its exact value cannot reach 2^63: operands of
    /// at most 62 bits (`|x| < 2^62`), products and left shifts whose
    /// bits add up to at most 62, right shifts by at most 62; then the
    /// i64 arithmetic is the exact value and one clamp saturates it
    /// (`None`: the i128 code).
    fn nl_narrow(&mut self, n: &NlExpr, args: &[Value]) -> Option<Value> {
        let bits: Vec<u32> = n.arg_st.iter().map(|&st| magnitude_bits(st)).collect();
        let widest = *bits.iter().max()?;
        if widest > 62 || args.len() != bits.len() {
            return None;
        }
        let a = |i: usize| args.get(i).copied();
        let ins = &mut self.b;
        let v = match &n.op {
            NlOp::Cast => a(0)?,
            NlOp::Add => ins.ins().iadd(a(0)?, a(1)?),
            NlOp::Sub => ins.ins().isub(a(0)?, a(1)?),
            NlOp::Max => ins.ins().smax(a(0)?, a(1)?),
            NlOp::Min => ins.ins().smin(a(0)?, a(1)?),
            NlOp::Mux => {
                let neg = ins.ins().icmp_imm_s(IntCC::SignedLessThan, a(0)?, 0);
                ins.ins().select(neg, a(1)?, a(2)?)
            }
            NlOp::Mul if bits.iter().sum::<u32>() <= 62 => ins.ins().imul(a(0)?, a(1)?),
            NlOp::Shift { amount, .. } if *amount >= 0 && widest as i64 + amount <= 62 => {
                ins.ins().ishl_imm_s(a(0)?, *amount)
            }
            NlOp::Shift { amount, rounding } if (-62..0).contains(amount) => {
                let (x, k) = (a(0)?, -amount);
                match rounding {
                    Rounding::Floor => ins.ins().sshr_imm_s(x, k),
                    Rounding::Ceil => {
                        let neg = ins.ins().ineg(x);
                        let q = ins.ins().sshr_imm_s(neg, k);
                        ins.ins().ineg(q)
                    }
                    Rounding::Nearest => {
                        let up = ins.ins().iadd_imm_s(x, 1 << (k - 1));
                        ins.ins().sshr_imm_s(up, k)
                    }
                }
            }
            _ => return None,
        };
        Some(self.saturate64(n.out, v))
    }

    /// An exact i64 (`|v| < 2^63`) clamped to the range of `st`.
    pub(super) fn saturate64(&mut self, st: Storage, v: Value) -> Value {
        let (lo, hi) = range(st);
        let (lo, hi) = (lo.max(i128::from(i64::MIN)) as i64, hi.min(i128::from(i64::MAX)) as i64);
        self.clamp64(v, lo, hi)
    }

    /// The exact value of a canonical register of storage `st`, in i128.
    fn wide(&mut self, st: Storage, v: Value) -> Value {
        if matches!(st, Storage::Int { width: 64, signed: false, .. } | Storage::Bool) {
            self.b.ins().uextend(types::I128, v)
        } else {
            self.b.ins().sextend(types::I128, v)
        }
    }

    fn const128(&mut self, v: i128) -> Value {
        let lo = self.b.ins().iconst(types::I64, v as i64);
        let hi = self.b.ins().iconst(types::I64, (v >> 64) as i64);
        self.b.ins().iconcat(lo, hi)
    }

    /// `a` when `a cc b`, else `b`.
    fn pick(&mut self, cc: IntCC, a: Value, b: Value) -> Value {
        let keep = self.b.ins().icmp(cc, a, b);
        self.select128(keep, a, b)
    }

    /// An i128 select done on the two halves: Cranelift would turn a
    /// whole compare-and-select into an i128 `smin`/`smax`/`iabs`, which
    /// its x86-64 backend cannot lower.
    pub(super) fn select128(&mut self, c: Value, a: Value, b: Value) -> Value {
        let (alo, ahi) = self.b.ins().isplit(a);
        let (blo, bhi) = self.b.ins().isplit(b);
        let lo = self.b.ins().select(c, alo, blo);
        let hi = self.b.ins().select(c, ahi, bhi);
        self.b.ins().iconcat(lo, hi)
    }

    /// `v` (i128) clamped to `[lo, hi]`.
    fn clamp128(&mut self, v: Value, lo: i128, hi: i128) -> Value {
        let lo = self.const128(lo);
        let v = self.pick(IntCC::SignedGreaterThan, v, lo);
        let hi = self.const128(hi);
        self.pick(IntCC::SignedLessThan, v, hi)
    }

    /// An exact i128 clamped to the range of `st`, as its canonical i64.
    fn saturate(&mut self, st: Storage, v: Value) -> Value {
        let (lo, hi) = range(st);
        let v = self.clamp128(v, lo, hi);
        self.b.ins().ireduce(types::I64, v)
    }

    /// `a * b`. When both operands can reach 2^63 in size the i128 product
    /// could overflow; then any product of two such values lies beyond
    /// every result range, and its sign decides the saturated result.
    fn nl_mul(&mut self, n: &NlExpr, a: Value, b: Value) -> Value {
        let (sa, sb) = (n.arg_st[0], n.arg_st.get(1).copied().unwrap_or(n.arg_st[0]));
        let (a, b) = (self.wide(sa, a), self.wide(sb, b));
        let p = self.b.ins().imul(a, b);
        if magnitude_bits(sa) + magnitude_bits(sb) < 127 {
            return p;
        }
        let zero = self.const128(0);
        let big = 1i128 << 63;
        let mut huge = Vec::new();
        for x in [a, b] {
            let neg = self.b.ins().icmp(IntCC::SignedLessThan, x, zero);
            let minus = self.b.ins().ineg(x);
            let abs = self.select128(neg, minus, x);
            let limit = self.const128(big);
            huge.push((neg, self.b.ins().icmp(IntCC::SignedGreaterThanOrEqual, abs, limit)));
        }
        let both = self.b.ins().band(huge[0].1, huge[1].1);
        let differ = self.b.ins().bxor(huge[0].0, huge[1].0);
        let (low, high) = (self.const128(i128::MIN), self.const128(i128::MAX));
        let saturated = self.select128(differ, low, high);
        self.select128(both, saturated, p)
    }

    /// `x * 2^amount` (`shift_round` of the reference): a left shift of an
    /// operand first bounded so the i128 shift cannot overflow, or a right
    /// shift rounded as told.
    fn nl_shift(&mut self, x: Value, amount: i64, rounding: Rounding) -> Value {
        if amount >= 0 {
            // |x| <= 2^max(0, 65 - amount) keeps |x << amount| <= 2^126; a
            // larger |x| gives a value beyond every result range either way.
            let bound = 1i128 << 65i64.saturating_sub(amount).max(0);
            let x = self.clamp128(x, -bound, bound);
            return self.b.ins().ishl_imm_s(x, amount.min(126));
        }
        let k = amount.unsigned_abs().min(126) as i64;
        match rounding {
            Rounding::Floor => self.b.ins().sshr_imm_s(x, k),
            Rounding::Ceil => {
                let neg = self.b.ins().ineg(x);
                let q = self.b.ins().sshr_imm_s(neg, k);
                self.b.ins().ineg(q)
            }
            Rounding::Nearest => {
                let half = self.const128(1i128 << (k - 1));
                let up = self.b.ins().iadd(x, half);
                self.b.ins().sshr_imm_s(up, k)
            }
        }
    }

    pub(super) fn clamp64(&mut self, v: Value, lo: i64, hi: i64) -> Value {
        let (l, h) = (self.b.ins().iconst(types::I64, lo), self.b.ins().iconst(types::I64, hi));
        let v = self.b.ins().smax(v, l);
        self.b.ins().smin(v, h)
    }

    /// `floor(log2 x)` for `x > 0`, else -1, as an i128.
    fn nl_lod(&mut self, st: Storage, x: Value) -> Value {
        let cc = if st.is_unsigned() { IntCC::NotEqual } else { IntCC::SignedGreaterThan };
        let positive = self.b.ins().icmp_imm_s(cc, x, 0);
        let zeros = self.b.ins().clz(x);
        let sixty_three = self.b.ins().iconst(types::I64, 63);
        let pos = self.b.ins().isub(sixty_three, zeros);
        let none = self.b.ins().iconst(types::I64, -1);
        let v = self.b.ins().select(positive, pos, none);
        self.b.ins().sextend(types::I128, v)
    }

    /// `table[clamp(x - offset, 0, len - 1)]`; the entries are canonical.
    fn nl_lut(&mut self, n: &NlExpr, x: Value, table: &Arc<Vec<i64>>, offset: i64) -> Result<Value, String> {
        let st = *n.arg_st.first().ok_or("internal error: a table read without an index")?;
        let x = self.wide(st, x);
        let off = self.const128(i128::from(offset));
        let index = self.b.ins().isub(x, off);
        let index = self.clamp128(index, 0, table.len() as i128 - 1);
        let index = self.b.ins().ireduce(types::I64, index);
        let bytes = self.b.ins().imul_imm_s(index, 8);
        let base = self.b.ins().iconst(self.ptr, table.as_ptr() as usize as i64);
        let at = self.b.ins().iadd(base, bytes);
        Ok(self.b.ins().load(types::I64, super::flags(), at, 0))
    }

    /// `nl.max_tree` / `nl.add_tree`: per outer index, an exact i128
    /// maximum (from i128::MIN) or sum (from 0) over the lanes, in lane
    /// order, clamped once.
    pub fn nl_tree(&mut self, t: &NlTree) -> Result<(), String> {
        let (start, strides) = self.view(&t.input)?;
        let (outer, lane) = strides.split_at(t.outer.len().min(strides.len()));
        let (outer, lane) = (outer.to_vec(), lane.to_vec());
        let out_view = self.view(&t.out)?;
        let (st, out_st, max, lanes) = (t.input.st, t.out.st, t.max, t.lanes);
        // In i64 when no partial result can reach 2^63.
        let sum_bits = magnitude_bits(st) + if max { 0 } else { 64 - lanes.saturating_sub(1).leading_zeros() };
        if sum_bits <= 62 {
            return self.nest(&t.outer, &[(start, outer), out_view], &mut |e, p| {
                let acc = e.b.declare_var(types::I64);
                let init = e.b.ins().iconst(types::I64, if max { i64::MIN } else { 0 });
                e.b.def_var(acc, init);
                e.nest(&[lanes], &[(p[0], lane.clone())], &mut |e, q| {
                    let x = e.load(st, q[0], 0);
                    let cur = e.b.use_var(acc);
                    let next = if max { e.b.ins().smax(x, cur) } else { e.b.ins().iadd(cur, x) };
                    e.b.def_var(acc, next);
                    Ok(())
                })?;
                let total = e.b.use_var(acc);
                let v = e.saturate64(out_st, total);
                e.store(out_st, v, p[1], 0);
                Ok(())
            });
        }
        self.nest(&t.outer, &[(start, outer), out_view], &mut |e, p| {
            let acc = e.b.declare_var(types::I128);
            let init = e.const128(if max { i128::MIN } else { 0 });
            e.b.def_var(acc, init);
            e.nest(&[lanes], &[(p[0], lane.clone())], &mut |e, q| {
                let x = e.load(st, q[0], 0);
                let x = e.wide(st, x);
                let cur = e.b.use_var(acc);
                let next = if max { e.pick(IntCC::SignedGreaterThan, x, cur) } else { e.b.ins().iadd(cur, x) };
                e.b.def_var(acc, next);
                Ok(())
            })?;
            let total = e.b.use_var(acc);
            let v = e.saturate(out_st, total);
            e.store(out_st, v, p[1], 0);
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_and_magnitudes_of_storages() {
        let st = |width, signed| Storage::Int { bytes: 8, width, signed };
        assert_eq!(range(st(8, true)), (-128, 127));
        assert_eq!(range(st(64, false)), (0, u64::MAX as i128));
        assert_eq!(magnitude_bits(st(64, false)), 64);
        assert_eq!(magnitude_bits(st(64, true)), 64);
        assert_eq!(magnitude_bits(st(8, true)), 8);
        assert_eq!(magnitude_bits(st(1, false)), 1);
    }
}
