//! The integer mean of elements wider than 32 bits: the exact sum in 128
//! bits, divided by the count with truncation toward zero, wrapped to the
//! width — the reference's i128 arithmetic.
//!
//! Invariants: the count is in `1 .. 2^32` (lowering checks it), so the
//! sum of `count` values below 2^64 in magnitude fits in i128 and the
//! division runs as a long division of the magnitude by 32-bit digits
//! (every partial dividend fits in 64 bits); only the low 64 bits of the
//! quotient are kept, which is all the wrapped result needs.

use super::loops::View;
use super::Emit;
use crate::jit::kernel::Access;
use crate::jit::storage::Storage;
use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::{types, InstBuilder, Value};

impl Emit<'_, '_> {
    /// `out[o] = trunc(sum(input[o, r]) / count)` for integers of more
    /// than 32 bits (see the module doc).
    pub fn wide_int_mean(
        &mut self,
        outer: &[u64],
        reduced: &[u64],
        input: &Access,
        out: &Access,
    ) -> Result<(), String> {
        let st = input.st;
        let count: u64 = reduced.iter().product();
        if count == 0 || count >= 1 << 32 {
            return Err("internal error: a wide integer mean needs a count in 1..2^32".into());
        }
        let (start, strides) = self.view(input)?;
        let split = outer.len().min(strides.len());
        let (outer_strides, inner_strides) = strides.split_at(split);
        let views: [View; 2] = [(start, outer_strides.to_vec()), self.view(out)?];
        let inner = inner_strides.to_vec();
        self.nest(outer, &views, &mut |e, p| {
            let acc = e.b.declare_var(types::I128);
            let zero = e.b.ins().iconst(types::I64, 0);
            let zero = e.b.ins().uextend(types::I128, zero);
            e.b.def_var(acc, zero);
            e.nest(reduced, &[(p[0], inner.clone())], &mut |e, q| {
                let x = e.load(st, q[0], 0);
                let wide = if st.is_unsigned() {
                    e.b.ins().uextend(types::I128, x)
                } else {
                    e.b.ins().sextend(types::I128, x)
                };
                let cur = e.b.use_var(acc);
                let next = e.b.ins().iadd(cur, wide);
                e.b.def_var(acc, next);
                Ok(())
            })?;
            let sum = e.b.use_var(acc);
            let q = e.divide_i128(sum, count, !st.is_unsigned());
            let v = e.wrap(st, q);
            e.store(st, v, p[1], 0);
            Ok(())
        })
    }

    /// The low 64 bits of `trunc(sum / divisor)` (`signed`: `sum` is
    /// two's complement; else unsigned), for `divisor` in `1 .. 2^32`.
    fn divide_i128(&mut self, sum: Value, divisor: u64, signed: bool) -> Value {
        let (lo, hi) = self.b.ins().isplit(sum);
        let negative = if signed { Some(self.b.ins().icmp_imm_s(IntCC::SignedLessThan, hi, 0)) } else { None };
        let magnitude = match negative {
            Some(neg) => {
                let minus = self.b.ins().ineg(sum);
                self.b.ins().select(neg, minus, sum)
            }
            None => sum,
        };
        let (lo, hi) = if negative.is_some() { self.b.ins().isplit(magnitude) } else { (lo, hi) };
        let c = self.b.ins().iconst(types::I64, divisor as i64);
        // hi = q_hi * c + r1: q_hi only reaches bits >= 64 of the quotient.
        let r1 = self.b.ins().urem(hi, c);
        let q = self.long_division_step(r1, lo, 32, c);
        let (q1, r2) = q;
        let low_digit = self.b.ins().band_imm_s(lo, 0xffff_ffff);
        let high = self.b.ins().ishl_imm_s(r2, 32);
        let n0 = self.b.ins().bor(high, low_digit);
        let q0 = self.b.ins().udiv(n0, c);
        let q1 = self.b.ins().ishl_imm_s(q1, 32);
        let quotient = self.b.ins().iadd(q1, q0);
        match negative {
            Some(neg) => {
                let minus = self.b.ins().ineg(quotient);
                self.b.ins().select(neg, minus, quotient)
            }
            None => quotient,
        }
    }

    /// One 32-bit digit of a long division: `(rem << 32 | lo >> shift
    /// & 0xffffffff) / c` and its remainder, where `rem < c < 2^32`.
    fn long_division_step(&mut self, rem: Value, lo: Value, shift: i64, c: Value) -> (Value, Value) {
        let digit = self.b.ins().ushr_imm_s(lo, shift);
        let digit = self.b.ins().band_imm_s(digit, 0xffff_ffff);
        let high = self.b.ins().ishl_imm_s(rem, 32);
        let n = self.b.ins().bor(high, digit);
        (self.b.ins().udiv(n, c), self.b.ins().urem(n, c))
    }

    /// Whether lowering routes an integer mean of `st` here.
    pub fn is_wide_int(st: Storage) -> bool {
        matches!(st, Storage::Int { width: 33.., .. })
    }
}
