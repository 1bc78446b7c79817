//! Quant nodes in block programs: requantize, qadd, qmul and table reads
//! are the scalar code's i64 instructions (`codegen::quant`), operation
//! for operation with the same wrapping; a quantize of a float reads f64
//! bit patterns (per-tensor parameters, a finite non-zero scale).

use super::{Builder, Val, I64};
use crate::jit::lower_quant::{Param, QuantExpr, QuantOp};
use crate::jit::storage::Storage;
use crate::jit::vint::program::{Bin, Imm, Ins, Quantize};
use std::sync::Arc;

impl Builder {
    /// A quant node: the scalar code's i64 instructions.
    pub(super) fn quant(&mut self, q: &QuantExpr) -> Option<Val> {
        let mut args = Vec::with_capacity(q.args.len());
        for a in &q.args {
            args.push(self.raw(a)?);
        }
        let x = *args.first()?;
        // Only a quantize reads a float, only a table can give one.
        let float_in = matches!(q.op, QuantOp::Quantize { .. });
        if args.iter().any(|a| a.float) && !float_in || float_in && !x.float {
            return None;
        }
        let v = match &q.op {
            QuantOp::Quantize { scale: Param::Const(scale), zp: Param::Const(zp), lo, hi } => {
                let params = Quantize { scale: *scale, zp: *zp, lo: *lo, hi: *hi };
                if !scale.is_finite() || *scale == 0.0 || lo > hi {
                    return None;
                }
                self.emit((i128::from(*lo), i128::from(*hi)), |d| Ins::Quantize(d, x.reg, Arc::new(params)))?
            }
            QuantOp::Requantize { zp_in, m, s1, s2, zp_out, lo, hi } => {
                let d = self.param_op(Imm::Add, Bin::Sub, x, *zp_in, &args, true)?;
                let v = self.param_op(Imm::Mul, Bin::Mul, d, *m, &args, false)?;
                let v = self.param_op(Imm::Sar, Bin::Sar, v, *s1, &args, false)?;
                let v = self.param_op(Imm::Add, Bin::Add, v, *s2, &args, false)?;
                let v = self.param_op(Imm::Sar, Bin::Sar, v, *s2, &args, false)?;
                let v = self.param_op(Imm::Add, Bin::Add, v, *zp_out, &args, false)?;
                self.clamp(v, *lo, *hi)?
            }
            QuantOp::Qadd { za, zb, ma, mb, shift, zr, lo, hi } => {
                let y = *args.get(1)?;
                let a = self.emit(I64, |d| Ins::Imm(Imm::Add, d, x.reg, za.wrapping_neg()))?;
                let b = self.emit(I64, |d| Ins::Imm(Imm::Add, d, y.reg, zb.wrapping_neg()))?;
                let a = self.imm(Imm::Mul, a, *ma, I64)?;
                let b = self.imm(Imm::Mul, b, *mb, I64)?;
                let v = self.bin(Bin::Add, a, b, I64)?;
                let v = self.round_shift(v, *shift)?;
                let v = self.imm(Imm::Add, v, *zr, I64)?;
                self.clamp(v, *lo, *hi)?
            }
            QuantOp::Qmul { za, zb, m, shift, zr, lo, hi } => {
                let y = *args.get(1)?;
                let a = self.emit(I64, |d| Ins::Imm(Imm::Add, d, x.reg, za.wrapping_neg()))?;
                let b = self.emit(I64, |d| Ins::Imm(Imm::Add, d, y.reg, zb.wrapping_neg()))?;
                let v = self.bin(Bin::Mul, a, b, I64)?;
                let v = self.imm(Imm::Mul, v, *m, I64)?;
                let v = self.round_shift(v, *shift)?;
                let v = self.imm(Imm::Add, v, *zr, I64)?;
                self.clamp(v, *lo, *hi)?
            }
            QuantOp::Table { table, offset, len } => {
                let entries = decode(table, q.out, *len)?;
                let index = self.emit(I64, |d| Ins::Imm(Imm::Add, d, x.reg, offset.wrapping_neg()))?;
                let v = self.gather(index, entries)?;
                Val { float: q.out.is_float(), iv: if q.out.is_float() { I64 } else { v.iv }, ..v }
            }
            _ => return None,
        };
        args.into_iter().for_each(|a| self.release(a));
        Some(v)
    }

    /// `op(v, p)` for a parameter `p`: the constant form, or the register
    /// of argument `i`. `negate` applies `Imm::Add` of `-p` (a
    /// subtraction). Consumes `v` unless `keep`.
    fn param_op(&mut self, with: Imm, by: Bin, v: Val, p: Param<i64>, args: &[Val], keep: bool) -> Option<Val> {
        let out = match p {
            Param::Const(c) => {
                let c = if by == Bin::Sub { c.wrapping_neg() } else { c };
                self.emit(I64, |d| Ins::Imm(with, d, v.reg, c))?
            }
            Param::Arg(i) => {
                let a = *args.get(i)?;
                self.emit(I64, |d| Ins::Bin(by, d, v.reg, a.reg))?
            }
        };
        if !keep {
            self.release(v);
        }
        Some(out)
    }

    /// The scalar code's `round_shift`: `(v >> n) + ((v >> (n-1)) & 1)`.
    fn round_shift(&mut self, v: Val, n: u32) -> Option<Val> {
        match n {
            0 => Some(v),
            1..=63 => {
                let hi = self.emit(I64, |d| Ins::Imm(Imm::Sar, d, v.reg, i64::from(n)))?;
                let half = self.imm(Imm::Sar, v, i64::from(n - 1), I64)?;
                let bit = self.imm(Imm::And, half, 1, I64)?;
                self.bin(Bin::Add, hi, bit, I64)
            }
            _ => {
                self.release(v);
                self.emit((0, 0), |d| Ins::Const(d, 0))
            }
        }
    }
}

/// The canonical values of a quant table stored as `st` (`len` entries);
/// floats as the bits of their f64 values.
fn decode(bytes: &[u8], st: Storage, len: i64) -> Option<Arc<[i64]>> {
    let count = usize::try_from(len).ok().filter(|&n| n > 0)?;
    match st {
        Storage::F32 if bytes.len() == 4 * count => {
            let f = |c: &[u8]| f64::from(f32::from_le_bytes([c[0], c[1], c[2], c[3]])).to_bits() as i64;
            return Some(bytes.chunks_exact(4).map(f).collect());
        }
        Storage::F64 if bytes.len() == 8 * count => {
            let f = |c: &[u8]| i64::from_le_bytes(c.try_into().unwrap_or([0; 8]));
            return Some(bytes.chunks_exact(8).map(f).collect());
        }
        _ => {}
    }
    let Storage::Int { bytes: size, signed, .. } = st else { return None };
    let size = usize::from(size);
    if len <= 0 || bytes.len() != size * usize::try_from(len).ok()? {
        return None;
    }
    let entries = bytes.chunks_exact(size).map(|c| {
        let mut b = [0u8; 8];
        b[..size].copy_from_slice(c);
        let raw = i64::from_le_bytes(b);
        let shift = 64 - 8 * size as u32;
        if signed {
            (raw << shift) >> shift
        } else {
            raw
        }
    });
    Some(entries.collect())
}
