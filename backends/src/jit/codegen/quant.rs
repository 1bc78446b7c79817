//! Code of the quant dialect's elementwise ops inside maps (spec/quant.md):
//! quantize, dequantize, requantize, qadd, qmul and the table lookups of
//! the nonlinear ops, each the reference `eval`'s arithmetic on canonical
//! i64 registers.
//!
//! Invariants: integer intermediates are exact in i64 under the bounds the
//! ops' result checks enforce (operands of at most 32 bits, multipliers of
//! 31 bits, shifts up to 62), so wrapping instructions compute the
//! reference's values; rounding to an integer is `nearest` (half to even)
//! in f64, as `round_ties_even`; every result is clamped once to its range.

use super::Emit;
use crate::jit::lower_quant::{Param, QuantExpr, QuantOp};
use cranelift_codegen::ir::condcodes::FloatCC;
use cranelift_codegen::ir::{types, InstBuilder, Value};

impl Emit<'_, '_> {
    /// The value of one quant node; `args` are its arguments' registers.
    pub fn quant(&mut self, n: &QuantExpr, args: &[Value]) -> Result<Value, String> {
        let arg = |i: usize| args.get(i).copied().ok_or("internal error: missing quant argument");
        let x = arg(0)?;
        Ok(match &n.op {
            QuantOp::Quantize { scale, zp, lo, hi } => {
                let from = *n.arg_st.first().ok_or("internal error: quantize without operand")?;
                let x = self.widen(from, x);
                let (s, z) = (self.f64_param(*scale, args)?, self.i64_param(*zp, args)?);
                self.quantize(x, s, z, *lo, *hi)
            }
            QuantOp::QuantizeBin => {
                let from = *n.arg_st.first().ok_or("internal error: quantize without operand")?;
                let x = self.widen(from, x);
                let zero = self.b.ins().f64const(0.0);
                let c = self.b.ins().fcmp(FloatCC::UnorderedOrGreaterThanOrEqual, x, zero);
                self.b.ins().uextend(types::I64, c)
            }
            QuantOp::Dequantize { scale, zp } => {
                let (s, z) = (self.f64_param(*scale, args)?, self.i64_param(*zp, args)?);
                let d = self.b.ins().isub(x, z);
                let d = self.b.ins().fcvt_from_sint(types::F64, d);
                let v = self.b.ins().fmul(d, s);
                self.round_from_f64(n.out, v)
            }
            QuantOp::DequantizeBin { scale } => {
                let s = self.f64_param(*scale, args)?;
                let neg = self.b.ins().fneg(s);
                let v = self.b.ins().select(x, s, neg);
                self.round_from_f64(n.out, v)
            }
            QuantOp::Requantize { zp_in, m, s1, s2, zp_out, lo, hi } => {
                let (zi, m) = (self.i64_param(*zp_in, args)?, self.i64_param(*m, args)?);
                let (s1, s2) = (self.i64_param(*s1, args)?, self.i64_param(*s2, args)?);
                let zo = self.i64_param(*zp_out, args)?;
                let d = self.b.ins().isub(x, zi);
                let v = self.b.ins().imul(d, m);
                let v = self.b.ins().sshr(v, s1);
                let v = self.b.ins().iadd(v, s2);
                let v = self.b.ins().sshr(v, s2);
                let v = self.b.ins().iadd(v, zo);
                self.clamp_i64(v, *lo, *hi)
            }
            QuantOp::Qadd { za, zb, ma, mb, shift, zr, lo, hi } => {
                let y = arg(1)?;
                let a = self.b.ins().iadd_imm_s(x, -za);
                let b = self.b.ins().iadd_imm_s(y, -zb);
                let a = self.b.ins().imul_imm_s(a, *ma);
                let b = self.b.ins().imul_imm_s(b, *mb);
                let v = self.b.ins().iadd(a, b);
                let v = self.round_shift(v, *shift);
                let v = self.b.ins().iadd_imm_s(v, *zr);
                self.clamp_i64(v, *lo, *hi)
            }
            QuantOp::Qmul { za, zb, m, shift, zr, lo, hi } => {
                let y = arg(1)?;
                let a = self.b.ins().iadd_imm_s(x, -za);
                let b = self.b.ins().iadd_imm_s(y, -zb);
                let v = self.b.ins().imul(a, b);
                let v = self.b.ins().imul_imm_s(v, *m);
                let v = self.round_shift(v, *shift);
                let v = self.b.ins().iadd_imm_s(v, *zr);
                self.clamp_i64(v, *lo, *hi)
            }
            QuantOp::Table { table, offset, len } => {
                let index = self.b.ins().iadd_imm_s(x, -offset);
                let index = self.clamp_i64(index, 0, len - 1);
                let bytes = self.b.ins().imul_imm_s(index, n.out.size() as i64);
                let base = self.b.ins().iconst(self.ptr, table.as_ptr() as usize as i64);
                let at = self.b.ins().iadd(base, bytes);
                self.load(n.out, at, 0)
            }
        })
    }

    fn f64_param(&mut self, p: Param<f64>, args: &[Value]) -> Result<Value, String> {
        match p {
            Param::Const(v) => Ok(self.b.ins().f64const(v)),
            Param::Arg(i) => args.get(i).copied().ok_or_else(|| "internal error: missing channel scale".into()),
        }
    }

    fn i64_param(&mut self, p: Param<i64>, args: &[Value]) -> Result<Value, String> {
        match p {
            Param::Const(v) => Ok(self.b.ins().iconst(types::I64, v)),
            Param::Arg(i) => args.get(i).copied().ok_or_else(|| "internal error: missing channel parameter".into()),
        }
    }

    /// `clamp(round_half_even(x / s) + z)`; NaN gives `clamp(z)`.
    fn quantize(&mut self, x: Value, s: Value, z: Value, lo: i64, hi: i64) -> Value {
        let q = self.b.ins().fdiv(x, s);
        let q = self.b.ins().nearest(q);
        let zf = self.b.ins().fcvt_from_sint(types::F64, z);
        let q = self.b.ins().fadd(q, zf);
        let (flo, fhi) = (self.b.ins().f64const(lo as f64), self.b.ins().f64const(hi as f64));
        let q = self.b.ins().fmax(q, flo);
        let q = self.b.ins().fmin(q, fhi);
        let q = self.b.ins().fcvt_to_sint_sat(types::I64, q);
        let nan_value = self.clamp_i64(z, lo, hi);
        let nan = self.b.ins().fcmp(FloatCC::Unordered, x, x);
        self.b.ins().select(nan, nan_value, q)
    }

    /// `floor(v / 2^n + 1/2)` for a static `n` (the reference's
    /// `rounding_shift`).
    fn round_shift(&mut self, v: Value, n: u32) -> Value {
        match n {
            0 => v,
            1..=63 => {
                let hi = self.b.ins().sshr_imm_s(v, i64::from(n));
                let half = self.b.ins().sshr_imm_s(v, i64::from(n - 1));
                let bit = self.b.ins().band_imm_s(half, 1);
                self.b.ins().iadd(hi, bit)
            }
            _ => self.b.ins().iconst(types::I64, 0),
        }
    }

    fn clamp_i64(&mut self, v: Value, lo: i64, hi: i64) -> Value {
        let (l, h) = (self.b.ins().iconst(types::I64, lo), self.b.ins().iconst(types::I64, hi));
        let v = self.b.ins().smax(v, l);
        self.b.ins().smin(v, h)
    }
}
