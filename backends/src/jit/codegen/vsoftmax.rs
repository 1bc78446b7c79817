//! f32 softmax along a contiguous axis on `f32x4` lanes: the maximum by
//! lanes, the exponentials four at a time (written to the output), their
//! f64 sum in the reference's four interleaved partial sums (two `f64x2`
//! accumulators), then the quotients by lanes. Each element gets exactly
//! the operations of the scalar kernel and the reference, so the bits are
//! the same.
//!
//! Invariants: the maximum is exact whatever the order (NaN elements are
//! skipped either way; only the sign of a zero maximum may differ, and
//! `x - max` is the same for ±0, so the results are not affected); the
//! partial sum `s_j` takes the elements `k ≡ j (mod 4)` in order, as
//! `weft_ir::ops::math::sum4` does.

use super::Emit;
use crate::jit::storage::Storage;
use cranelift_codegen::ir::condcodes::FloatCC;
use cranelift_codegen::ir::{types, InstBuilder, MemFlagsData, Value};
use cranelift_frontend::Variable;

const LANES: u64 = 4;

impl Emit<'_, '_> {
    /// Softmax of `n >= 4` contiguous f32s at `x` into `y`.
    pub fn softmax_f32_vector(&mut self, n: u64, x: Value, y: Value) -> Result<(), String> {
        let (full, tail) = (n / LANES, n % LANES);
        let m = self.max_f32_vector(x, full, tail)?;
        let mv = self.b.ins().splat(types::F32X4, m);
        // The partial sums s0, s1 and s2, s3 as two f64x2 accumulators.
        let start = self.b.ins().f64const(-0.0);
        let start = self.b.ins().splat(types::F64X2, start);
        let (lo, hi) = (self.b.declare_var(types::F64X2), self.b.declare_var(types::F64X2));
        self.b.def_var(lo, start);
        self.b.def_var(hi, start);
        self.nest(&[full], &[(x, vec![16]), (y, vec![16])], &mut |e, q| {
            e.reload_pool();
            let v = e.b.ins().load(types::F32X4, super::flags(), q[0], 0);
            let ex = e.f32_exp_diff(v, mv, types::F32X4);
            e.b.ins().store(super::flags(), ex, q[1], 0);
            let (a, b) = e.widen_halves(ex);
            for (acc, part) in [(lo, a), (hi, b)] {
                let cur = e.b.use_var(acc);
                let next = e.b.ins().fadd(cur, part);
                e.b.def_var(acc, next);
            }
            Ok(())
        })?;
        let sums = self.partial_sums();
        for (j, (acc, lane)) in [(lo, 0), (lo, 1), (hi, 0), (hi, 1)].into_iter().enumerate() {
            let v = self.b.use_var(acc);
            let s = self.b.ins().extractlane(v, lane);
            self.b.def_var(sums[j], s);
        }
        let (xt, yt) = self.tail_start(x, y, full);
        for (j, &sum) in sums.iter().enumerate().take(tail as usize) {
            let off = 4 * j as i32;
            let v = self.load(Storage::F32, xt, off);
            let ex = self.f32_exp_diff(v, m, types::F32);
            self.store(Storage::F32, ex, yt, off);
            self.add_to_sum(sum, ex);
        }
        let total = self.combine_sums(sums);
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

    /// The lanes 0, 1 and 2, 3 of an `f32x4`, widened to two `f64x2`s.
    fn widen_halves(&mut self, v: Value) -> (Value, Value) {
        let low = self.b.ins().fvpromote_low(v);
        let bytes = self.b.ins().bitcast(types::I8X16, super::little(), v);
        let mask: Vec<u8> = (8..16).chain(8..16).collect();
        let mask = self.b.func.dfg.immediates.push(mask.as_slice().into());
        let upper = self.b.ins().shuffle(bytes, bytes, mask);
        let upper = self.b.ins().bitcast(types::F32X4, super::little(), upper);
        (low, self.b.ins().fvpromote_low(upper))
    }

    /// Four f64 variables holding -0.0: the partial sums s0..s3.
    pub fn partial_sums(&mut self) -> [Variable; 4] {
        let start = self.b.ins().f64const(-0.0);
        [(); 4].map(|_| {
            let v = self.b.declare_var(types::F64);
            self.b.def_var(v, start);
            v
        })
    }

    /// `(s0 + s1) + (s2 + s3)`.
    pub fn combine_sums(&mut self, s: [Variable; 4]) -> Value {
        let [a, b, c, d] = s.map(|v| self.b.use_var(v));
        let ab = self.b.ins().fadd(a, b);
        let cd = self.b.ins().fadd(c, d);
        self.b.ins().fadd(ab, cd)
    }

    /// The addresses after `full` vectors.
    fn tail_start(&mut self, x: Value, y: Value, full: u64) -> (Value, Value) {
        let skip = (full * LANES * 4) as i64;
        (self.b.ins().iadd_imm_s(x, skip), self.b.ins().iadd_imm_s(y, skip))
    }

    /// `sum += f64(s)`.
    pub fn add_to_sum(&mut self, sum: Variable, s: Value) {
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
    fn take_max(&mut self, m: Variable, v: Value) {
        let cur = self.b.use_var(m);
        let take = self.b.ins().fcmp(FloatCC::GreaterThan, v, cur);
        let next = self.b.ins().select(take, v, cur);
        self.b.def_var(m, next);
    }
}
