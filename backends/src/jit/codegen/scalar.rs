//! Scalar code: loading and storing elements, wrapping integers, and the
//! elementwise expressions of maps, each matching the reference `eval`.
//!
//! Invariants: an integer in a register is an i64 holding the canonical
//! value of its type (see `storage`), and every integer result is wrapped
//! back to its width before it is stored; f32 arithmetic (+ - * / sqrt) is
//! done natively, which equals computing in f64 and rounding once; the f32
//! transcendental functions are weft's f32 algorithms emitted inline
//! (`fmath`), the f64 ones call the runtime's std / libm functions.

use super::Emit;
use crate::jit::kernel::{BinOp, Clip, CmpOp, Expr, UnOp, FAIL_DIV_ZERO, FAIL_POW_ZERO};
use crate::jit::math::MathFn;
use crate::jit::storage::Storage;
use cranelift_codegen::ir::condcodes::{FloatCC, IntCC};
use cranelift_codegen::ir::{types, InstBuilder, Value};

impl Emit<'_, '_> {
    /// Loads an element of storage `st` at `p + offset` into a register.
    pub fn load(&mut self, st: Storage, p: Value, offset: i32) -> Value {
        let f = super::flags();
        let ins = self.b.ins();
        match st {
            Storage::F32 => ins.load(types::F32, f, p, offset),
            Storage::F64 => ins.load(types::F64, f, p, offset),
            Storage::Bool => ins.uload8(types::I64, f, p, offset),
            Storage::Int { bytes, signed, .. } => match (bytes, signed) {
                (1, true) => ins.sload8(types::I64, f, p, offset),
                (1, false) => ins.uload8(types::I64, f, p, offset),
                (2, true) => ins.sload16(types::I64, f, p, offset),
                (2, false) => ins.uload16(types::I64, f, p, offset),
                (4, true) => ins.sload32(f, p, offset),
                (4, false) => ins.uload32(f, p, offset),
                _ => ins.load(types::I64, f, p, offset),
            },
        }
    }

    /// Stores a register value (already canonical) as storage `st`.
    pub fn store(&mut self, st: Storage, v: Value, p: Value, offset: i32) {
        let f = super::flags();
        let ins = self.b.ins();
        match st.size() {
            1 if !st.is_float() => ins.istore8(f, v, p, offset),
            2 => ins.istore16(f, v, p, offset),
            4 if !st.is_float() => ins.istore32(f, v, p, offset),
            _ => ins.store(f, v, p, offset),
        };
    }

    /// Wraps an i64 to the width of `st` (two's complement); bools become
    /// 0 or 1.
    pub fn wrap(&mut self, st: Storage, v: Value) -> Value {
        match st {
            Storage::Int { width, signed: true, .. } if width < 64 => {
                let shift = i64::from(64 - width);
                let up = self.b.ins().ishl_imm_s(v, shift);
                self.b.ins().sshr_imm_s(up, shift)
            }
            Storage::Int { width, signed: false, .. } if width < 64 => self.b.ins().band_imm_s(v, (1i64 << width) - 1),
            Storage::Bool => self.truth(v),
            _ => v,
        }
    }

    /// 1 when the integer `v` is non-zero, else 0 (as i64).
    fn truth(&mut self, v: Value) -> Value {
        let c = self.b.ins().icmp_imm_s(IntCC::NotEqual, v, 0);
        self.b.ins().uextend(types::I64, c)
    }

    fn bool_of(&mut self, c: Value) -> Value {
        self.b.ins().uextend(types::I64, c)
    }

    /// A float constant of the register type of `st`.
    pub fn fconst(&mut self, st: Storage, x: f64) -> Value {
        if st == Storage::F32 {
            self.b.ins().f32const(x as f32)
        } else {
            self.b.ins().f64const(x)
        }
    }

    /// The value of an expression at one index; `inputs` are the loaded
    /// input elements.
    pub fn expr(&mut self, e: &Expr, inputs: &[Value]) -> Result<Value, String> {
        Ok(match e {
            Expr::Input(i) => *inputs.get(*i).ok_or("internal error: missing map input")?,
            Expr::Binary(op, st, a, b) => {
                let (a, b) = (self.expr(a, inputs)?, self.expr(b, inputs)?);
                if st.is_float() {
                    self.float_binary(*op, *st, a, b)?
                } else {
                    self.int_binary(*op, *st, a, b)?
                }
            }
            Expr::Compare(op, st, a, b) => {
                let (a, b) = (self.expr(a, inputs)?, self.expr(b, inputs)?);
                self.compare(*op, *st, a, b)
            }
            Expr::And(a, b) => {
                let (a, b) = (self.expr(a, inputs)?, self.expr(b, inputs)?);
                self.b.ins().band(a, b)
            }
            Expr::Or(a, b) => {
                let (a, b) = (self.expr(a, inputs)?, self.expr(b, inputs)?);
                self.b.ins().bor(a, b)
            }
            Expr::Unary(op, st, x) => {
                let x = self.expr(x, inputs)?;
                self.unary(*op, *st, x)?
            }
            Expr::Select(c, t, f) => {
                let (c, t, f) = (self.expr(c, inputs)?, self.expr(t, inputs)?, self.expr(f, inputs)?);
                self.b.ins().select(c, t, f)
            }
            Expr::Cast { from, to, x } => {
                let x = self.expr(x, inputs)?;
                self.cast(*from, *to, x)
            }
            Expr::Clip(st, clip, x) => {
                let x = self.expr(x, inputs)?;
                self.clip(*st, *clip, x)
            }
            Expr::Nl(n) => {
                let args = n.args.iter().map(|a| self.expr(a, inputs)).collect::<Result<Vec<_>, _>>()?;
                self.nl(n, &args)?
            }
            Expr::Quant(n) => {
                let args = n.args.iter().map(|a| self.expr(a, inputs)).collect::<Result<Vec<_>, _>>()?;
                self.quant(n, &args)?
            }
        })
    }

    fn float_binary(&mut self, op: BinOp, st: Storage, a: Value, b: Value) -> Result<Value, String> {
        let ins = self.b.ins();
        Ok(match op {
            BinOp::Add => ins.fadd(a, b),
            BinOp::Sub => ins.fsub(a, b),
            BinOp::Mul => ins.fmul(a, b),
            BinOp::Div => ins.fdiv(a, b),
            BinOp::Pow => {
                let (a, b) = (self.widen(st, a), self.widen(st, b));
                let r = self.call(MathFn::Pow, &[a, b])?;
                self.round_from_f64(st, r)
            }
            BinOp::Max | BinOp::Min => {
                // numpy maximum/minimum: NaN wins, else the larger/smaller
                // (`a` unless `b` is strictly larger/smaller... as `pick`).
                let cc = if op == BinOp::Max { FloatCC::GreaterThan } else { FloatCC::LessThan };
                let keep_a = self.b.ins().fcmp(cc, a, b);
                let picked = self.b.ins().select(keep_a, a, b);
                let nan = self.b.ins().fcmp(FloatCC::Unordered, a, b);
                let qnan = self.fconst(st, f64::NAN);
                self.b.ins().select(nan, qnan, picked)
            }
        })
    }

    fn int_binary(&mut self, op: BinOp, st: Storage, a: Value, b: Value) -> Result<Value, String> {
        let unsigned = st.is_unsigned();
        let r = match op {
            BinOp::Add => self.b.ins().iadd(a, b),
            BinOp::Sub => self.b.ins().isub(a, b),
            BinOp::Mul => self.b.ins().imul(a, b),
            BinOp::Div => {
                let zero = self.b.ins().icmp_imm_s(IntCC::Equal, b, 0);
                self.fail_if(zero, FAIL_DIV_ZERO);
                if unsigned {
                    self.b.ins().udiv(a, b)
                } else {
                    // i64::MIN / -1 overflows (and traps): -x wraps instead.
                    let minus_one = self.b.ins().icmp_imm_s(IntCC::Equal, b, -1);
                    let one = self.b.ins().iconst(types::I64, 1);
                    let safe = self.b.ins().select(minus_one, one, b);
                    let q = self.b.ins().sdiv(a, safe);
                    let neg = self.b.ins().ineg(a);
                    self.b.ins().select(minus_one, neg, q)
                }
            }
            BinOp::Pow => {
                if !unsigned {
                    let base_zero = self.b.ins().icmp_imm_s(IntCC::Equal, a, 0);
                    let exp_neg = self.b.ins().icmp_imm_s(IntCC::SignedLessThan, b, 0);
                    let bad = self.b.ins().band(base_zero, exp_neg);
                    self.fail_if(bad, FAIL_POW_ZERO);
                }
                let flag = self.b.ins().iconst(types::I64, i64::from(unsigned));
                self.call(MathFn::IntPow, &[a, b, flag])?
            }
            BinOp::Max | BinOp::Min => {
                let cc = match (op == BinOp::Max, unsigned) {
                    (true, true) => IntCC::UnsignedGreaterThan,
                    (true, false) => IntCC::SignedGreaterThan,
                    (false, true) => IntCC::UnsignedLessThan,
                    (false, false) => IntCC::SignedLessThan,
                };
                let keep_a = self.b.ins().icmp(cc, a, b);
                self.b.ins().select(keep_a, a, b)
            }
        };
        Ok(self.wrap(st, r))
    }

    fn compare(&mut self, op: CmpOp, st: Storage, a: Value, b: Value) -> Value {
        let c = if st.is_float() {
            let cc = super::float_cc(op);
            self.b.ins().fcmp(cc, a, b)
        } else {
            let cc = super::int_cc(op, st.is_unsigned());
            self.b.ins().icmp(cc, a, b)
        };
        self.bool_of(c)
    }

    fn unary(&mut self, op: UnOp, st: Storage, x: Value) -> Result<Value, String> {
        if !st.is_float() {
            return Ok(self.int_unary(op, st, x));
        }
        if st == Storage::F32 {
            if let Some(y) = self.f32_function(op, x, types::F32) {
                return Ok(y);
            }
        }
        let math = match op {
            UnOp::Neg => return Ok(self.b.ins().fneg(x)),
            UnOp::Abs => return Ok(self.b.ins().fabs(x)),
            UnOp::Sqrt => return Ok(self.b.ins().sqrt(x)),
            UnOp::Reciprocal => {
                let one = self.fconst(st, 1.0);
                return Ok(self.b.ins().fdiv(one, x));
            }
            UnOp::Relu => {
                let zero = self.fconst(st, 0.0);
                let keep = self.b.ins().fcmp(FloatCC::UnorderedOrGreaterThan, x, zero);
                return Ok(self.b.ins().select(keep, x, zero));
            }
            UnOp::Not => return Err("internal error: 'not' of a float".into()),
            UnOp::Exp => MathFn::Exp,
            UnOp::Log => MathFn::Log,
            UnOp::Erf => MathFn::Erf,
            UnOp::Tanh => MathFn::Tanh,
            UnOp::Sigmoid => MathFn::Sigmoid,
            UnOp::GeluErf => MathFn::GeluErf,
            UnOp::GeluTanh => MathFn::GeluTanh,
        };
        let wide = self.widen(st, x);
        let r = self.call(math, &[wide])?;
        Ok(self.round_from_f64(st, r))
    }

    fn int_unary(&mut self, op: UnOp, st: Storage, x: Value) -> Value {
        let unsigned = st.is_unsigned();
        let r = match op {
            UnOp::Neg => self.b.ins().ineg(x),
            UnOp::Abs if !unsigned => self.b.ins().iabs(x),
            UnOp::Relu if !unsigned => {
                let pos = self.b.ins().icmp_imm_s(IntCC::SignedGreaterThan, x, 0);
                let zero = self.b.ins().iconst(types::I64, 0);
                self.b.ins().select(pos, x, zero)
            }
            UnOp::Not => self.b.ins().bxor_imm_s(x, 1),
            _ => x,
        };
        self.wrap(st, r)
    }

    /// A float register widened to f64 (exact).
    pub fn widen(&mut self, st: Storage, x: Value) -> Value {
        if st == Storage::F32 {
            self.b.ins().fpromote(types::F64, x)
        } else {
            x
        }
    }

    /// An f64 rounded once to the float storage `st`.
    pub fn round_from_f64(&mut self, st: Storage, x: Value) -> Value {
        if st == Storage::F32 {
            self.b.ins().fdemote(types::F32, x)
        } else {
            x
        }
    }

    fn cast(&mut self, from: Storage, to: Storage, x: Value) -> Value {
        match (from.is_float(), to) {
            (true, Storage::Bool) => {
                let zero = self.fconst(from, 0.0);
                let c = self.b.ins().fcmp(FloatCC::NotEqual, x, zero);
                self.bool_of(c)
            }
            (true, Storage::Int { width, signed, .. }) => {
                let wide = self.widen(from, x);
                if width == 64 {
                    return if signed {
                        self.b.ins().fcvt_to_sint_sat(types::I64, wide)
                    } else {
                        self.b.ins().fcvt_to_uint_sat(types::I64, wide)
                    };
                }
                let t = self.b.ins().fcvt_to_sint_sat(types::I64, wide);
                let w = u32::from(width.max(1));
                let (lo, hi) = if signed { (-(1i64 << (w - 1)), (1i64 << (w - 1)) - 1) } else { (0, (1i64 << w) - 1) };
                self.clamp_signed(t, lo, hi)
            }
            (true, _) => match (from, to) {
                (Storage::F32, Storage::F64) => self.b.ins().fpromote(types::F64, x),
                (Storage::F64, Storage::F32) => self.b.ins().fdemote(types::F32, x),
                _ => x,
            },
            (false, Storage::F32 | Storage::F64) => {
                let ty = Emit::reg(to);
                if matches!(from, Storage::Int { width: 64, signed: false, .. }) {
                    self.b.ins().fcvt_from_uint(ty, x)
                } else {
                    self.b.ins().fcvt_from_sint(ty, x)
                }
            }
            (false, _) => self.wrap(to, x),
        }
    }

    fn clamp_signed(&mut self, v: Value, lo: i64, hi: i64) -> Value {
        let below = self.b.ins().icmp_imm_s(IntCC::SignedLessThan, v, lo);
        let lo = self.b.ins().iconst(types::I64, lo);
        let v = self.b.ins().select(below, lo, v);
        let above = self.b.ins().icmp_imm_s(IntCC::SignedGreaterThan, v, hi);
        let hi = self.b.ins().iconst(types::I64, hi);
        self.b.ins().select(above, hi, v)
    }

    fn clip(&mut self, st: Storage, clip: Clip, x: Value) -> Value {
        match clip {
            Clip::Const(c) => self.b.ins().iconst(types::I64, c),
            Clip::Float { lo, hi } => {
                let mut v = x;
                if let Some(lo) = lo {
                    let lo = self.fconst(st, lo);
                    let below = self.b.ins().fcmp(FloatCC::LessThan, v, lo);
                    v = self.b.ins().select(below, lo, v);
                }
                if let Some(hi) = hi {
                    let hi = self.fconst(st, hi);
                    let above = self.b.ins().fcmp(FloatCC::GreaterThan, v, hi);
                    v = self.b.ins().select(above, hi, v);
                }
                v
            }
            Clip::Int { lo, hi } => {
                let u = st.is_unsigned();
                let mut v = x;
                if let Some(lo) = lo {
                    let cc = if u { IntCC::UnsignedLessThan } else { IntCC::SignedLessThan };
                    let below = self.b.ins().icmp_imm_s(cc, v, lo);
                    let lo = self.b.ins().iconst(types::I64, lo);
                    v = self.b.ins().select(below, lo, v);
                }
                if let Some(hi) = hi {
                    let cc = if u { IntCC::UnsignedGreaterThan } else { IntCC::SignedGreaterThan };
                    let above = self.b.ins().icmp_imm_s(cc, v, hi);
                    let hi = self.b.ins().iconst(types::I64, hi);
                    v = self.b.ins().select(above, hi, v);
                }
                v
            }
        }
    }
}
