//! f32 softmax along a contiguous axis on `f32x4` lanes: the maximum by
//! lanes, the exponentials four at a time (written to the output), their
//! f64 sum still one element at a time in order, then the quotients by
//! lanes. Each element gets exactly the operations of the scalar kernel
//! and the reference, so the bits are the same.
//!
//! Invariants: the maximum is exact whatever the order (NaN elements are
//! skipped either way; only the sign of a zero maximum may differ, and
//! `x - max` is the same for ±0, so the results are not affected); the sum
//! is taken in the reference's order.

use super::Emit;
use crate::jit::storage::Storage;
use cranelift_codegen::ir::condcodes::FloatCC;
use cranelift_codegen::ir::{types, InstBuilder, MemFlagsData, Value};

const LANES: u64 = 4;

impl Emit<'_, '_> {
    /// Softmax of `n >= 4` contiguous f32s at `x` into `y`.
    pub fn softmax_f32_vector(&mut self, n: u64, x: Value, y: Value) -> Result<(), String> {
        let (full, tail) = (n / LANES, n % LANES);
        let m = self.max_f32_vector(x, full, tail)?;
        let mv = self.b.ins().splat(types::F32X4, m);
        let sum = self.b.declare_var(types::F64);
        let init = self.b.ins().f64const(-0.0);
        self.b.def_var(sum, init);
        self.nest(&[full], &[(x, vec![16]), (y, vec![16])], &mut |e, q| {
            e.reload_pool();
            let v = e.b.ins().load(types::F32X4, super::flags(), q[0], 0);
            let ex = e.f32_exp_diff(v, mv, types::F32X4);
            e.b.ins().store(super::flags(), ex, q[1], 0);
            for lane in 0..LANES as u8 {
                let s = e.b.ins().extractlane(ex, lane);
                e.add_to_sum(sum, s);
            }
            Ok(())
        })?;
        let (xt, yt) = self.tail_start(x, y, full);
        self.nest(&[tail], &[(xt, vec![4]), (yt, vec![4])], &mut |e, q| {
            let v = e.load(Storage::F32, q[0], 0);
            let ex = e.f32_exp_diff(v, m, types::F32);
            e.store(Storage::F32, ex, q[1], 0);
            e.add_to_sum(sum, ex);
            Ok(())
        })?;
        let total = self.b.use_var(sum);
        let s = self.b.ins().fdemote(types::F32, total);
        let sv = self.b.ins().splat(types::F32X4, s);
        self.nest(&[full], &[(y, vec![16])], &mut |e, q| {
            let v = e.b.ins().load(types::F32X4, super::flags(), q[0], 0);
            let r = e.b.ins().fdiv(v, sv);
            e.b.ins().store(super::flags(), r, q[0], 0);
            Ok(())
        })?;
        self.nest(&[tail], &[(yt, vec![4])], &mut |e, q| {
            let v = e.load(Storage::F32, q[0], 0);
            let r = e.b.ins().fdiv(v, s);
            e.store(Storage::F32, r, q[0], 0);
            Ok(())
        })
    }

    /// The addresses after `full` vectors.
    fn tail_start(&mut self, x: Value, y: Value, full: u64) -> (Value, Value) {
        let skip = (full * LANES * 4) as i64;
        (self.b.ins().iadd_imm_s(x, skip), self.b.ins().iadd_imm_s(y, skip))
    }

    /// `sum += f64(s)`.
    fn add_to_sum(&mut self, sum: cranelift_frontend::Variable, s: Value) {
        let wide = self.b.ins().fpromote(types::F64, s);
        let cur = self.b.use_var(sum);
        let next = self.b.ins().fadd(cur, wide);
        self.b.def_var(sum, next);
    }

    /// The maximum of `full` vectors and `tail` more f32s at `x`, skipping
    /// NaNs (-inf when all are NaN).
    fn max_f32_vector(&mut self, x: Value, full: u64, tail: u64) -> Result<Value, String> {
        let ninf = self.b.ins().f32const(f32::NEG_INFINITY);
        let start = self.b.ins().splat(types::F32X4, ninf);
        let acc = self.b.declare_var(types::F32X4);
        self.b.def_var(acc, start);
        self.nest(&[full], &[(x, vec![16])], &mut |e, q| {
            let v = e.b.ins().load(types::F32X4, super::flags(), q[0], 0);
            let cur = e.b.use_var(acc);
            let take = e.b.ins().fcmp(FloatCC::GreaterThan, v, cur);
            let take = e.b.ins().bitcast(types::F32X4, MemFlagsData::new(), take);
            let next = e.b.ins().bitselect(take, v, cur);
            e.b.def_var(acc, next);
            Ok(())
        })?;
        let lanes = self.b.use_var(acc);
        let m = self.b.declare_var(types::F32);
        self.b.def_var(m, ninf);
        for lane in 0..LANES as u8 {
            let v = self.b.ins().extractlane(lanes, lane);
            self.take_max(m, v);
        }
        let xt = self.b.ins().iadd_imm_s(x, (full * LANES * 4) as i64);
        self.nest(&[tail], &[(xt, vec![4])], &mut |e, q| {
            let v = e.load(Storage::F32, q[0], 0);
            e.take_max(m, v);
            Ok(())
        })?;
        Ok(self.b.use_var(m))
    }

    /// `m = v > m ? v : m`.
    fn take_max(&mut self, m: cranelift_frontend::Variable, v: Value) {
        let cur = self.b.use_var(m);
        let take = self.b.ins().fcmp(FloatCC::GreaterThan, v, cur);
        let next = self.b.ins().select(take, v, cur);
        self.b.def_var(m, next);
    }
}
