//! weft's f32 math ([`weft_ir::ops::math`]) emitted as Cranelift IR, on one
//! `f32` register or on `f32x4` lanes: the generic algorithms of weft-ir
//! instantiated with a machine whose operations emit instructions, so the
//! JIT runs exactly the operation sequence of the interpreter.
//!
//! Invariants: every [`F32Ops`] method emits the one IEEE operation it
//! names (`fma` is Cranelift's fused multiply-add: the native instruction
//! when the CPU has FMA, else a correctly rounded libcall), so results are
//! bit-identical with [`weft_ir::ops::math::Scalar`]; lane masks are the
//! all-ones / all-zeros lanes `fcmp` gives, and selects on lanes are
//! `bitselect`s with such masks.

use super::{pool, Emit};
use crate::jit::kernel::UnOp;
use cranelift_codegen::ir::condcodes::FloatCC;
use cranelift_codegen::ir::{types, InstBuilder, MemFlagsData, Type, Value};
use weft_ir::ops::math::{self, F32Ops};

/// The f32 machine emitting into a kernel: `ty` is `F32` or `F32X4`.
pub(crate) struct Lanes<'e, 'a, 'f> {
    pub e: &'e mut Emit<'a, 'f>,
    pub ty: Type,
}

impl Lanes<'_, '_, '_> {
    fn vector(&self) -> bool {
        self.ty.is_vector()
    }

    /// The integer type with the lanes of `ty`.
    fn int_ty(&self) -> Type {
        if self.vector() {
            types::I32X4
        } else {
            types::I32
        }
    }

    fn cmp(&mut self, cc: FloatCC, a: Value, b: Value) -> Value {
        self.e.b.ins().fcmp(cc, a, b)
    }

    fn cast(&mut self, ty: Type, v: Value) -> Value {
        self.e.b.ins().bitcast(ty, MemFlagsData::new(), v)
    }
}

impl F32Ops for Lanes<'_, '_, '_> {
    type F = Value;
    type I = Value;
    type M = Value;

    fn c(&mut self, x: f32) -> Value {
        if self.vector() {
            self.e.pool_const(self.ty, pool::f32x4(x))
        } else {
            self.e.b.ins().f32const(x)
        }
    }
    fn ic(&mut self, x: i32) -> Value {
        if self.vector() {
            self.e.pool_const(types::I32X4, pool::i32x4(x))
        } else {
            self.e.b.ins().iconst(types::I32, i64::from(x))
        }
    }
    fn add(&mut self, a: Value, b: Value) -> Value {
        self.e.b.ins().fadd(a, b)
    }
    fn sub(&mut self, a: Value, b: Value) -> Value {
        self.e.b.ins().fsub(a, b)
    }
    fn mul(&mut self, a: Value, b: Value) -> Value {
        self.e.b.ins().fmul(a, b)
    }
    fn div(&mut self, a: Value, b: Value) -> Value {
        self.e.b.ins().fdiv(a, b)
    }
    fn fma(&mut self, a: Value, b: Value, c: Value) -> Value {
        self.e.b.ins().fma(a, b, c)
    }
    fn neg(&mut self, a: Value) -> Value {
        self.e.b.ins().fneg(a)
    }
    fn abs(&mut self, a: Value) -> Value {
        self.e.b.ins().fabs(a)
    }
    fn copysign(&mut self, mag: Value, sign: Value) -> Value {
        if !self.vector() {
            return self.e.b.ins().fcopysign(mag, sign);
        }
        // x64 has no vector fcopysign: the bits, by masks.
        let (m, s) = (self.bits_of(mag), self.bits_of(sign));
        let low = self.ic(0x7fff_ffff);
        let high = self.ic(i32::MIN);
        let m = self.e.b.ins().band(m, low);
        let s = self.e.b.ins().band(s, high);
        let r = self.e.b.ins().bor(m, s);
        self.float_of_bits(r)
    }
    fn lt(&mut self, a: Value, b: Value) -> Value {
        self.cmp(FloatCC::LessThan, a, b)
    }
    fn gt(&mut self, a: Value, b: Value) -> Value {
        self.cmp(FloatCC::GreaterThan, a, b)
    }
    fn ge(&mut self, a: Value, b: Value) -> Value {
        self.cmp(FloatCC::GreaterThanOrEqual, a, b)
    }
    fn eq(&mut self, a: Value, b: Value) -> Value {
        self.cmp(FloatCC::Equal, a, b)
    }
    fn select(&mut self, m: Value, a: Value, b: Value) -> Value {
        if self.vector() {
            let mask = self.cast(self.ty, m);
            self.e.b.ins().bitselect(mask, a, b)
        } else {
            self.e.b.ins().select(m, a, b)
        }
    }
    fn bits_of(&mut self, a: Value) -> Value {
        let ty = self.int_ty();
        self.cast(ty, a)
    }
    fn float_of_bits(&mut self, i: Value) -> Value {
        self.cast(self.ty, i)
    }
    fn itof(&mut self, i: Value) -> Value {
        self.e.b.ins().fcvt_from_sint(self.ty, i)
    }
    fn iadd(&mut self, a: Value, b: Value) -> Value {
        self.e.b.ins().iadd(a, b)
    }
    fn isub(&mut self, a: Value, b: Value) -> Value {
        self.e.b.ins().isub(a, b)
    }
    fn iand(&mut self, a: Value, b: Value) -> Value {
        self.e.b.ins().band(a, b)
    }
    fn shl(&mut self, a: Value, n: u32) -> Value {
        self.e.b.ins().ishl_imm_u(a, i64::from(n))
    }
    fn sar(&mut self, a: Value, n: u32) -> Value {
        self.e.b.ins().sshr_imm_u(a, i64::from(n))
    }
}

impl Emit<'_, '_> {
    /// The f32 function of `op` on `x` (an `f32` or `f32x4` value), if weft
    /// has an f32 algorithm for it.
    pub fn f32_function(&mut self, op: UnOp, x: Value, ty: Type) -> Option<Value> {
        let mut l = Lanes { e: self, ty };
        Some(match op {
            UnOp::Exp => math::exp_in(&mut l, x),
            UnOp::Log => math::log_in(&mut l, x),
            UnOp::Erf => math::erf_in(&mut l, x),
            UnOp::Tanh => math::tanh_in(&mut l, x),
            UnOp::Sigmoid => math::sigmoid_in(&mut l, x),
            UnOp::GeluErf => math::gelu_erf_in(&mut l, x),
            UnOp::GeluTanh => math::gelu_tanh_in(&mut l, x),
            _ => return None,
        })
    }

    /// e^(x - m) on f32 values or lanes (softmax's exponentials).
    pub fn f32_exp_diff(&mut self, x: Value, m: Value, ty: Type) -> Value {
        math::exp_diff_in(&mut Lanes { e: self, ty }, x, m)
    }
}
