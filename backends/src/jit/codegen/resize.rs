//! The resize kernel: a loop nest over the result, and per element the
//! nested weighted sum over the taps of the tabled dims, read from their
//! tables (see `lower_resize`).
//!
//! Invariants: sums start at -0.0 and add the taps in table order, weights
//! multiply in dim order and the element (as f64) last, one rounding at
//! the end: the reference's arithmetic, bit for bit. A dim whose every
//! coordinate has one tap needs no loop (`-0.0 + v == v`). A row with
//! `count = -1` (outside the crop) stores the extrapolation value.

use super::Emit;
use crate::jit::kernel::Expr;
use crate::jit::lower_resize::Resize;
use crate::jit::storage::Storage;
use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::{types, InstBuilder, Value};

impl Emit<'_, '_> {
    pub fn resize(&mut self, r: &Resize) -> Result<(), String> {
        let mut views = vec![self.view(&r.x)?, self.view(&r.out)?];
        for t in &r.dims {
            views.push(self.view(&t.table)?);
        }
        let st = r.out.st;
        self.nest(&r.shape, &views, &mut |e, p| {
            let rows = p.get(2..).unwrap_or(&[]);
            let done = e.b.create_block();
            if let Some(value) = r.outside {
                e.store_outside(st, value, rows, p[1], done);
            }
            let v = e.tap_sum(r, 0, p[0], rows, None)?;
            let y = e.resize_result(st, v)?;
            e.store(st, y, p[1], 0);
            e.b.ins().jump(done, &[]);
            e.b.switch_to_block(done);
            e.b.seal_block(done);
            Ok(())
        })
    }

    /// Stores the extrapolation value and jumps to `done` when any row
    /// says the element is outside the crop; continues in a new block
    /// otherwise.
    fn store_outside(
        &mut self,
        st: Storage,
        value: i64,
        rows: &[Value],
        out: Value,
        done: cranelift_codegen::ir::Block,
    ) {
        let mut outside = self.b.ins().iconst(types::I8, 0);
        for &row in rows {
            let count = self.b.ins().load(types::I64, super::flags(), row, 0);
            let neg = self.b.ins().icmp_imm_s(IntCC::SignedLessThan, count, 0);
            outside = self.b.ins().bor(outside, neg);
        }
        let (extrapolate, inside) = (self.b.create_block(), self.b.create_block());
        self.b.ins().brif(outside, extrapolate, &[], inside, &[]);
        self.b.switch_to_block(extrapolate);
        self.b.seal_block(extrapolate);
        let v = match st {
            Storage::F32 => self.b.ins().f32const(f64::from_bits(value as u64) as f32),
            Storage::F64 => self.b.ins().f64const(f64::from_bits(value as u64)),
            _ => self.b.ins().iconst(types::I64, value),
        };
        self.store(st, v, out, 0);
        self.b.ins().jump(done, &[]);
        self.b.switch_to_block(inside);
        self.b.seal_block(inside);
    }

    /// The sum over the taps of tabled dims `j..` of `weight * w_j * ..
    /// * x`, reading `x` at `addr` plus the taps' offsets.
    fn tap_sum(
        &mut self,
        r: &Resize,
        j: usize,
        addr: Value,
        rows: &[Value],
        weight: Option<Value>,
    ) -> Result<Value, String> {
        let (Some(t), Some(&row)) = (r.dims.get(j), rows.get(j)) else {
            let x = self.load(r.x.st, addr, 0);
            let x = self.as_f64(r.x.st, x);
            return Ok(match weight {
                Some(w) => self.b.ins().fmul(w, x),
                None => x,
            });
        };
        if t.single {
            let (a, w) = self.tap(addr, row, weight);
            return self.tap_sum(r, j + 1, a, rows, Some(w));
        }
        let count = self.b.ins().load(types::I64, super::flags(), row, 0);
        let acc = self.b.declare_var(types::F64);
        let minus_zero = self.b.ins().f64const(-0.0);
        self.b.def_var(acc, minus_zero);
        let (i, at) = (self.b.declare_var(types::I64), self.b.declare_var(self.ptr));
        let zero = self.b.ins().iconst(types::I64, 0);
        self.b.def_var(i, zero);
        self.b.def_var(at, row);
        let (body, exit) = (self.b.create_block(), self.b.create_block());
        let any = self.b.ins().icmp_imm_s(IntCC::SignedGreaterThan, count, 0);
        self.b.ins().brif(any, body, &[], exit, &[]);
        self.b.switch_to_block(body);
        let (n, p) = (self.b.use_var(i), self.b.use_var(at));
        let (a, w) = self.tap(addr, p, weight);
        let sub = self.tap_sum(r, j + 1, a, rows, Some(w))?;
        let cur = self.b.use_var(acc);
        let next = self.b.ins().fadd(cur, sub);
        self.b.def_var(acc, next);
        let n = self.b.ins().iadd_imm_s(n, 1);
        self.b.def_var(i, n);
        let p = self.b.ins().iadd_imm_s(p, 16);
        self.b.def_var(at, p);
        let more = self.b.ins().icmp(IntCC::SignedLessThan, n, count);
        self.b.ins().brif(more, body, &[], exit, &[]);
        self.b.seal_block(body);
        self.b.switch_to_block(exit);
        self.b.seal_block(exit);
        Ok(self.b.use_var(acc))
    }

    /// The tap whose (offset, weight) words follow `at`: the element's
    /// address and the weight times `weight`.
    fn tap(&mut self, addr: Value, at: Value, weight: Option<Value>) -> (Value, Value) {
        let offset = self.b.ins().load(types::I64, super::flags(), at, 8);
        let w = self.b.ins().load(types::F64, super::flags(), at, 16);
        let a = self.b.ins().iadd(addr, offset);
        let w = match weight {
            Some(prev) => self.b.ins().fmul(prev, w),
            None => w,
        };
        (a, w)
    }

    /// An element as the reference reads it: floats widened, integers
    /// converted from their signed value.
    fn as_f64(&mut self, st: Storage, x: Value) -> Value {
        if st.is_float() {
            self.widen(st, x)
        } else {
            self.b.ins().fcvt_from_sint(types::F64, x)
        }
    }

    /// The f64 sum stored as `st`: rounded once, or truncated and
    /// saturated to the integer type.
    fn resize_result(&mut self, st: Storage, v: Value) -> Result<Value, String> {
        if st.is_float() {
            return Ok(self.round_from_f64(st, v));
        }
        self.expr(&Expr::Cast { from: Storage::F64, to: st, x: Box::new(Expr::Input(0)) }, &[v])
    }
}
