//! Inline code of the `nl.exp2` and `nl.log2` units whose quadratic is
//! exact in i64 (`nl_fast`): the reference's split, row choice, Horner
//! steps and final shift as straight-line i64 code, so the nl maps of
//! softmax and layer norm call no runtime unit per element.
//!
//! Invariants: the coefficient rows are read from the `FastExp2` /
//! `FastLog2` of a unit the kernel holds behind an `Arc` (their address
//! lives as long as the code); every value computed here is exact in i64
//! (bounds on each function), so the result equals `NlUnit::eval`.

use super::nl::{magnitude_bits, range};
use super::Emit;
use crate::jit::nl_fast::{FastExp2, FastLog2};
use crate::jit::storage::Storage;
use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::{types, InstBuilder, Value};

impl Emit<'_, '_> {
    /// `poly2` of the row of `f` (`0 <= f < 2^frac`, row `f >> select`)
    /// at `x = f - start` (or `start - f` when `negate`), rounding each
    /// product to nearest (ties up) as the reference; `|p| < 2^62`.
    fn quadratic(&mut self, rows: &[[i64; 3]], frac: i64, select: i64, f: Value, negate: bool) -> Value {
        let row = self.b.ins().sshr_imm_s(f, select);
        // `rows` is a power of two (`nl_fast`) and `f >> select` below it:
        // the mask keeps the row (and any address) inside the table.
        let row = self.b.ins().band_imm_s(row, rows.len() as i64 - 1);
        let start = self.b.ins().ishl_imm_s(row, select);
        let x = if negate { self.b.ins().isub(start, f) } else { self.b.ins().isub(f, start) };
        let offset = self.b.ins().imul_imm_s(row, 24);
        let base = self.b.ins().iconst(self.ptr, rows.as_ptr() as usize as i64);
        let at = self.b.ins().iadd(base, offset);
        let coeff = |e: &mut Self, k: i32| e.b.ins().load(types::I64, super::flags(), at, 8 * k);
        let (a, b, c) = (coeff(self, 0), coeff(self, 1), coeff(self, 2));
        let round = |e: &mut Self, v: Value| {
            if frac == 0 {
                return v;
            }
            let up = e.b.ins().iadd_imm_s(v, 1 << (frac - 1));
            e.b.ins().sshr_imm_s(up, frac)
        };
        let ax = self.b.ins().imul(a, x);
        let ax = round(self, ax);
        let t1 = self.b.ins().iadd(ax, b);
        let tx = self.b.ins().imul(t1, x);
        let tx = round(self, tx);
        self.b.ins().iadd(tx, c)
    }

    /// `nl.log2` of `x` (exact in the i64 register: not a `u64`)
    /// inline, saturated to `out`: for `x > 0`, `k = floor(log2 x)` by the
    /// leading zeros, the mantissa `m = floor(x 2^(mf - k))`
    /// in `[2^mf, 2^(mf+1))`, `p = poly2(m - 2^mf)` and `p + (k - frac)
    /// 2^out_frac` (`|k - frac| < 2^7`, `out_frac <= 30`: below 2^37, so
    /// the sum is exact); for `x <= 0` the least value of `out`.
    pub(super) fn nl_log2(&mut self, f: &FastLog2, out: Storage, x: Value) -> Value {
        let (rows, mf, select, frac, out_frac) = f.parts();
        let (mf, select) = (i64::from(mf), i64::from(select));
        let positive = self.b.ins().icmp_imm_s(IntCC::SignedGreaterThan, x, 0);
        let one = self.b.ins().iconst(types::I64, 1);
        let x = self.b.ins().smax(x, one);
        let zeros = self.b.ins().clz(x);
        let sixty_three = self.b.ins().iconst(types::I64, 63);
        let k = self.b.ins().isub(sixty_three, zeros);
        // x shifted left by its leading zeros has its leading one at bit
        // 63 and loses no bit; its top mf + 1 bits are floor(x 2^(mf - k))
        // for either sign of mf - k.
        let top = self.b.ins().ishl(x, zeros);
        let m = self.b.ins().ushr_imm_s(top, 63 - mf);
        let fraction = self.b.ins().iadd_imm_s(m, -(1i64 << mf));
        let p = self.quadratic(rows, mf, select, fraction, false);
        let exponent = self.b.ins().iadd_imm_s(k, -frac);
        let exponent = self.b.ins().ishl_imm_s(exponent, out_frac);
        let v = self.b.ins().iadd(p, exponent);
        let v = self.saturate64(out, v);
        let least = range(out).0.max(i128::from(i64::MIN)) as i64;
        let least = self.b.ins().iconst(types::I64, least);
        self.b.ins().select(positive, v, least)
    }

    /// `nl.exp2` of `t` (`|t| < 2^62`) inline: the reference's split, row
    /// choice and i64 quadratic (exact: `nl_fast`); returns the quadratic
    /// `p` (`|p| < 2^62`) and the amount of the final shift, `qi +
    /// out_frac - coeff_frac`, unclamped (`|qi| <= 2^62` and the attributes'
    /// small fractions keep it exact; the shifts below bound it). The row
    /// table is owned by the unit the kernel holds.
    pub(super) fn nl_exp2(&mut self, f: &FastExp2, t: Value) -> (Value, Value) {
        let (rows, frac, select, shift) = f.parts();
        let (frac, select) = (i64::from(frac), i64::from(select));
        // With -t = q 2^frac + r (0 <= r < 2^frac): qi = ceil(t / 2^frac)
        // = -q and f = qi 2^frac - t = r, the low bits of -t.
        let neg = self.b.ins().ineg(t);
        let q = self.b.ins().sshr_imm_s(neg, frac);
        let fraction = self.b.ins().band_imm_s(neg, (1i64 << frac) - 1);
        let p = self.quadratic(rows, frac, select, fraction, true);
        let shift = self.b.ins().iconst(types::I64, shift);
        let amount = self.b.ins().isub(shift, q);
        (p, amount)
    }

    /// `p 2^amount`, right shifts rounded to nearest: exact in i128.
    pub(super) fn exp2_shift128(&mut self, p: Value, amount: Value) -> Value {
        // Left: p 2^min(amount, 64) is exact in i128 (|p| < 2^62) and
        // beyond every result range from 64 on.
        let amount = self.clamp64(amount, -126, 126);
        let left_by = self.clamp64(amount, 0, 64);
        let wide = self.b.ins().sextend(types::I128, p);
        let left = self.b.ins().ishl(wide, left_by);
        let right = self.exp2_right(p, amount);
        let right = self.b.ins().sextend(types::I128, right);
        let is_left = self.b.ins().icmp_imm_s(IntCC::SignedGreaterThanOrEqual, amount, 0);
        self.select128(is_left, left, right)
    }

    /// `p 2^amount` for a result range below `2^most` in magnitude, where
    /// `|p| < 2^(62 - most)`: a left shift by `min(amount, most)` is exact
    /// below that and, from `most` on, beyond the range on `p`'s side (or
    /// 0 for `p = 0`), so the clamp after it gives the reference's value; a
    /// right shift by `k = -amount` rounds to nearest as
    /// `((p >> (k - 1)) + 1) >> 1` (`k - 1 = !amount`, at most 63: from
    /// there every `|p| < 2^62` gives 0 either way).
    fn exp2_shift_short(&mut self, p: Value, amount: Value, most: u32) -> Value {
        let most = self.b.ins().iconst(types::I64, i64::from(most));
        let by = self.b.ins().umin(amount, most);
        let left = self.b.ins().ishl(p, by);
        let k1 = self.b.ins().bnot(amount);
        let sixty_three = self.b.ins().iconst(types::I64, 63);
        let k1 = self.b.ins().umin(k1, sixty_three);
        let half = self.b.ins().sshr(p, k1);
        let up = self.b.ins().iadd_imm_s(half, 1);
        let right = self.b.ins().sshr_imm_s(up, 1);
        let is_left = self.b.ins().icmp_imm_s(IntCC::SignedGreaterThanOrEqual, amount, 0);
        self.b.ins().select(is_left, left, right)
    }

    /// `p 2^-k` rounded to nearest for `k = -amount >= 1`: `(p + 2^(k-1))
    /// >> k`, which is 0 from `k = 63` on (`|p| < 2^62`).
    fn exp2_right(&mut self, p: Value, amount: Value) -> Value {
        let minus = self.b.ins().ineg(amount);
        let k = self.clamp64(minus, 1, 63);
        let one = self.b.ins().iconst(types::I64, 1);
        let k1 = self.b.ins().iadd_imm_s(k, -1);
        let half = self.b.ins().ishl(one, k1);
        let up = self.b.ins().iadd(p, half);
        self.b.ins().sshr(up, k)
    }

    /// `p 2^amount` as [`Self::exp2_shift128`], for a result range inside
    /// i64: a left shift that does not come back by the right shift
    /// overflowed and becomes the i64 limit of `p`'s sign, which clamps to
    /// the same end of the range as the exact value.
    pub(super) fn exp2_shift64(&mut self, f: &FastExp2, out: Storage, p: Value, amount: Value) -> Value {
        let most = 62 - f.quadratic_bits().min(62);
        if magnitude_bits(out) <= most {
            return self.exp2_shift_short(p, amount, most);
        }
        let by = self.clamp64(amount, 0, 63);
        let shifted = self.b.ins().ishl(p, by);
        let back = self.b.ins().sshr(shifted, by);
        let overflow = self.b.ins().icmp(IntCC::NotEqual, back, p);
        let negative = self.b.ins().icmp_imm_s(IntCC::SignedLessThan, p, 0);
        let (min, max) = (self.b.ins().iconst(types::I64, i64::MIN), self.b.ins().iconst(types::I64, i64::MAX));
        let limit = self.b.ins().select(negative, min, max);
        let left = self.b.ins().select(overflow, limit, shifted);
        let right = self.exp2_right(p, amount);
        let is_left = self.b.ins().icmp_imm_s(IntCC::SignedGreaterThanOrEqual, amount, 0);
        self.b.ins().select(is_left, left, right)
    }
}
