//! Kernels that work lane by lane: reductions, softmax / log-softmax,
//! layer norm, and gather (a lane being the elements combined into one
//! result, or copied as one block).
//!
//! Invariants: float lanes accumulate in f64 in the reference's order
//! (row-major over the reduced dims) and round once per result (f32
//! softmax: weft's f32 exponentials, summed in f64, then an f32 quotient,
//! as the reference defines it), so they are bit-exact with the
//! interpreter; integer sums wrap, integer maxima
//! compare by value; a gather index outside `[-extent, extent)` fails the
//! kernel before anything is read at it.

use super::loops::View;
use super::Emit;
use crate::jit::kernel::{Access, ReduceKind, FAIL_GATHER};
use crate::jit::math::MathFn;
use crate::jit::storage::Storage;
use cranelift_codegen::ir::condcodes::{FloatCC, IntCC};
use cranelift_codegen::ir::{types, InstBuilder, Value};

/// Splits an access's strides (bytes) into the first `n` dims and the rest.
fn split(view: &View, n: usize) -> (View, Vec<i64>) {
    let (outer, inner) = view.1.split_at(n.min(view.1.len()));
    ((view.0, outer.to_vec()), inner.to_vec())
}

impl Emit<'_, '_> {
    pub fn reduce(
        &mut self,
        kind: ReduceKind,
        outer: &[u64],
        reduced: &[u64],
        input: &Access,
        out: &Access,
    ) -> Result<(), String> {
        let st = input.st;
        if kind == ReduceKind::Mean && Self::is_wide_int(st) {
            return self.wide_int_mean(outer, reduced, input, out);
        }
        let count: u64 = reduced.iter().product();
        let (in_outer, in_inner) = split(&self.view(input)?, outer.len());
        let out_view = self.view(out)?;
        self.nest(outer, &[in_outer, out_view], &mut |e, p| {
            let (acc_ty, start) = e.reduce_start(kind, st);
            let acc = e.b.declare_var(acc_ty);
            e.b.def_var(acc, start);
            e.nest(reduced, &[(p[0], in_inner.clone())], &mut |e, q| {
                let x = e.load(st, q[0], 0);
                let cur = e.b.use_var(acc);
                let next = e.reduce_step(kind, st, cur, x);
                e.b.def_var(acc, next);
                Ok(())
            })?;
            let total = e.b.use_var(acc);
            let v = e.reduce_finish(kind, st, total, count);
            e.store(st, v, p[1], 0);
            Ok(())
        })
    }

    fn reduce_start(&mut self, kind: ReduceKind, st: Storage) -> (cranelift_codegen::ir::Type, Value) {
        match (st, kind) {
            (Storage::F32 | Storage::F64, ReduceKind::Max) => (types::F64, self.b.ins().f64const(f64::NEG_INFINITY)),
            // The reference's float sum starts at +0.0 (so -0.0 + -0.0 gives +0.0).
            (Storage::F32 | Storage::F64, _) => (types::F64, self.b.ins().f64const(0.0)),
            (Storage::Int { width, signed: true, .. }, ReduceKind::Max) => {
                let least = if width >= 64 { i64::MIN } else { -(1i64 << (width.max(1) - 1)) };
                (types::I64, self.b.ins().iconst(types::I64, least))
            }
            _ => (types::I64, self.b.ins().iconst(types::I64, 0)),
        }
    }

    fn reduce_step(&mut self, kind: ReduceKind, st: Storage, acc: Value, x: Value) -> Value {
        if st.is_float() {
            let x = self.widen(st, x);
            if kind != ReduceKind::Max {
                return self.b.ins().fadd(acc, x);
            }
            let nan = self.b.ins().fcmp(FloatCC::Unordered, acc, x);
            let larger = self.b.ins().fcmp(FloatCC::GreaterThan, x, acc);
            let m = self.b.ins().select(larger, x, acc);
            let qnan = self.b.ins().f64const(f64::NAN);
            return self.b.ins().select(nan, qnan, m);
        }
        if kind != ReduceKind::Max {
            return self.b.ins().iadd(acc, x);
        }
        let cc = if st.is_unsigned() { IntCC::UnsignedGreaterThan } else { IntCC::SignedGreaterThan };
        let larger = self.b.ins().icmp(cc, x, acc);
        self.b.ins().select(larger, x, acc)
    }

    fn reduce_finish(&mut self, kind: ReduceKind, st: Storage, acc: Value, count: u64) -> Value {
        if st.is_float() {
            let v = if kind == ReduceKind::Mean {
                let n = self.b.ins().f64const(count as f64);
                self.b.ins().fdiv(acc, n)
            } else {
                acc
            };
            return self.round_from_f64(st, v);
        }
        let v = if kind == ReduceKind::Mean {
            // Lowering admits only widths <= 32, so the sum is exact in i64.
            let n = self.b.ins().iconst(types::I64, count.max(1) as i64);
            if st.is_unsigned() {
                self.b.ins().udiv(acc, n)
            } else {
                self.b.ins().sdiv(acc, n)
            }
        } else {
            acc
        };
        self.wrap(st, v)
    }

    pub fn softmax(&mut self, log: bool, lanes: &[u64], n: u64, input: &Access, out: &Access) -> Result<(), String> {
        let st = input.st;
        let (in_lane, in_axis) = split(&self.view(input)?, lanes.len());
        let (out_lane, out_axis) = split(&self.view(out)?, lanes.len());
        let contiguous = |axis: &[i64]| axis.first() == Some(&4);
        let vector = st == Storage::F32 && !log && n >= 4 && contiguous(&in_axis) && contiguous(&out_axis);
        self.nest(lanes, &[in_lane, out_lane], &mut |e, p| {
            if vector {
                return e.softmax_f32_vector(n, p[0], p[1]);
            }
            let m = e.lane_max(n, (p[0], in_axis.clone()), st)?;
            let (x, y) = ((p[0], in_axis.clone()), (p[1], out_axis.clone()));
            if st == Storage::F32 {
                e.softmax_f32_lane(log, n, m, x, y)
            } else {
                e.softmax_f64_lane(log, n, m, x, y)
            }
        })
    }

    /// The maximum of a lane, widened to f64 (`f64::max` semantics: NaN
    /// elements are skipped).
    fn lane_max(&mut self, n: u64, x: View, st: Storage) -> Result<Value, String> {
        let max = self.b.declare_var(types::F64);
        let init = self.b.ins().f64const(f64::NEG_INFINITY);
        self.b.def_var(max, init);
        self.nest(&[n], &[x], &mut |e, q| {
            let x = e.load(st, q[0], 0);
            let x = e.widen(st, x);
            let cur = e.b.use_var(max);
            let take = e.b.ins().fcmp(FloatCC::GreaterThan, x, cur);
            let cur_nan = e.b.ins().fcmp(FloatCC::Unordered, cur, cur);
            let take = e.b.ins().bor(take, cur_nan);
            let next = e.b.ins().select(take, x, cur);
            e.b.def_var(max, next);
            Ok(())
        })?;
        Ok(self.b.use_var(max))
    }

    /// An f64 lane: exponentials and quotient in f64, rounded once.
    fn softmax_f64_lane(&mut self, log: bool, n: u64, m: Value, x: View, y: View) -> Result<(), String> {
        let st = Storage::F64;
        let sum = self.b.declare_var(types::F64);
        let init = self.b.ins().f64const(-0.0);
        self.b.def_var(sum, init);
        self.nest(&[n], std::slice::from_ref(&x), &mut |e, q| {
            let x = e.load(st, q[0], 0);
            let shifted = e.b.ins().fsub(x, m);
            let ex = e.call(MathFn::Exp, &[shifted])?;
            let cur = e.b.use_var(sum);
            let next = e.b.ins().fadd(cur, ex);
            e.b.def_var(sum, next);
            Ok(())
        })?;
        let s = self.b.use_var(sum);
        let log_sum = if log { Some(self.call(MathFn::Log, &[s])?) } else { None };
        self.nest(&[n], &[x, y], &mut |e, q| {
            let x = e.load(st, q[0], 0);
            let shifted = e.b.ins().fsub(x, m);
            let y = match log_sum {
                Some(l) => e.b.ins().fsub(shifted, l),
                None => {
                    let ex = e.call(MathFn::Exp, &[shifted])?;
                    e.b.ins().fdiv(ex, s)
                }
            };
            e.store(st, y, q[1], 0);
            Ok(())
        })
    }

    /// An f32 lane: `e_k = exp(x_k - max)` by weft's f32 exp (written to the
    /// output), their f64 sum in four interleaved partial sums, then
    /// `e_k / f32(sum)` in f32 (or the log-softmax in f64, rounded once).
    fn softmax_f32_lane(&mut self, log: bool, n: u64, m: Value, x: View, y: View) -> Result<(), String> {
        let st = Storage::F32;
        let m32 = self.b.ins().fdemote(types::F32, m);
        let (xs, ys) = (x.1.first().copied().unwrap_or(0), y.1.first().copied().unwrap_or(0));
        let sums = self.partial_sums();
        // Element k of each group of four goes to s_k.
        let exp_at = |e: &mut Self, px: Value, py: Value, j: usize| {
            let v = e.load(st, px, 0);
            let ex = e.f32_exp_diff(v, m32, types::F32);
            e.store(st, ex, py, 0);
            e.add_to_sum(sums[j], ex);
        };
        self.nest(&[n / 4], &[(x.0, vec![4 * xs]), (y.0, vec![4 * ys])], &mut |e, q| {
            for j in 0..4 {
                let px = e.b.ins().iadd_imm_s(q[0], j as i64 * xs);
                let py = e.b.ins().iadd_imm_s(q[1], j as i64 * ys);
                exp_at(e, px, py, j);
            }
            Ok(())
        })?;
        let done = (n / 4 * 4) as i64;
        for j in 0..(n % 4) as usize {
            let px = self.b.ins().iadd_imm_s(x.0, (done + j as i64) * xs);
            let py = self.b.ins().iadd_imm_s(y.0, (done + j as i64) * ys);
            exp_at(self, px, py, j);
        }
        let s = self.combine_sums(sums);
        if log {
            let l = self.call(MathFn::Log, &[s])?;
            return self.nest(&[n], &[x, y], &mut |e, q| {
                let v = e.load(st, q[0], 0);
                let v = e.widen(st, v);
                let shifted = e.b.ins().fsub(v, m);
                let r = e.b.ins().fsub(shifted, l);
                let r = e.round_from_f64(st, r);
                e.store(st, r, q[1], 0);
                Ok(())
            });
        }
        let s32 = self.b.ins().fdemote(types::F32, s);
        self.nest(&[n], &[y], &mut |e, q| {
            let ex = e.load(st, q[0], 0);
            let r = e.b.ins().fdiv(ex, s32);
            e.store(st, r, q[0], 0);
            Ok(())
        })
    }

    pub fn layer_norm(&mut self, lanes: &[u64], inner: &[u64], acc: [&Access; 4], eps: f64) -> Result<(), String> {
        let [x, scale, bias, out] = acc;
        let st = x.st;
        let count = inner.iter().product::<u64>() as f64;
        let split_of =
            |e: &mut Self, a: &Access| -> Result<(View, Vec<i64>), String> { Ok(split(&e.view(a)?, lanes.len())) };
        let (xl, xi) = split_of(self, x)?;
        let (sl, si) = split_of(self, scale)?;
        let (bl, bi) = split_of(self, bias)?;
        let (ol, oi) = split_of(self, out)?;
        self.nest(lanes, &[xl, sl, bl, ol], &mut |e, p| {
            let sum = e.lane_sum(inner, (p[0], xi.clone()), st, None)?;
            let n = e.b.ins().f64const(count);
            let mean = e.b.ins().fdiv(sum, n);
            let sq = e.lane_sum(inner, (p[0], xi.clone()), st, Some(mean))?;
            let var = e.b.ins().fdiv(sq, n);
            let eps = e.b.ins().f64const(eps);
            let var = e.b.ins().fadd(var, eps);
            let root = e.b.ins().sqrt(var);
            let one = e.b.ins().f64const(1.0);
            let inv = e.b.ins().fdiv(one, root);
            let views = [(p[0], xi.clone()), (p[1], si.clone()), (p[2], bi.clone()), (p[3], oi.clone())];
            if st == Storage::F32 && e.layer_norm_pairs(inner, &views, mean, inv)? {
                return Ok(());
            }
            e.nest(inner, &views, &mut |e, q| {
                let v = e.load(st, q[0], 0);
                let v = e.widen(st, v);
                let centered = e.b.ins().fsub(v, mean);
                let normalized = e.b.ins().fmul(centered, inv);
                let s = e.load(st, q[1], 0);
                let s = e.widen(st, s);
                let b = e.load(st, q[2], 0);
                let b = e.widen(st, b);
                let scaled = e.b.ins().fmul(normalized, s);
                let y = e.b.ins().fadd(scaled, b);
                let y = e.round_from_f64(st, y);
                e.store(st, y, q[3], 0);
                Ok(())
            })
        })
    }

    /// The f64 sum over a lane of `x`, or of `(x - center)^2`: in order, or
    /// for f32 in four interleaved partial sums (`lane_sum4`).
    fn lane_sum(&mut self, shape: &[u64], view: View, st: Storage, center: Option<Value>) -> Result<Value, String> {
        if st == Storage::F32 {
            return self.lane_sum4(shape, view, center);
        }
        let sum = self.b.declare_var(types::F64);
        let init = self.b.ins().f64const(-0.0);
        self.b.def_var(sum, init);
        self.nest(shape, &[view], &mut |e, q| {
            let v = e.load(st, q[0], 0);
            let mut v = e.widen(st, v);
            if let Some(c) = center {
                let d = e.b.ins().fsub(v, c);
                v = e.b.ins().fmul(d, d);
            }
            let cur = e.b.use_var(sum);
            let next = e.b.ins().fadd(cur, v);
            e.b.def_var(sum, next);
            Ok(())
        })?;
        Ok(self.b.use_var(sum))
    }

    /// `dims` = [outer, extent, count, inner].
    pub fn gather(&mut self, dims: [u64; 4], data: &Access, indices: &Access, out: &Access) -> Result<(), String> {
        let [outer, extent, count, inner] = dims;
        let (st, ist) = (data.st, indices.st);
        let sz = st.size() as i64;
        let (pd, pi, po) = (self.start(data)?, self.start(indices)?, self.start(out)?);
        // Check every index first, as the reference does.
        let isz = ist.size() as i64;
        self.nest(&[count], &[(pi, vec![isz])], &mut |e, q| {
            let idx = e.load(ist, q[0], 0);
            let idx = e.resolve_index(idx, extent);
            let bad = e.b.ins().icmp_imm_s(IntCC::UnsignedGreaterThanOrEqual, idx, extent as i64);
            e.fail_if(bad, FAIL_GATHER);
            Ok(())
        })?;
        let block = inner as i64 * sz;
        let views = [(pd, vec![extent as i64 * block, 0]), (pi, vec![0, isz]), (po, vec![count as i64 * block, block])];
        self.nest(&[outer, count], &views, &mut |e, q| {
            let idx = e.load(ist, q[1], 0);
            let idx = e.resolve_index(idx, extent);
            let offset = e.b.ins().imul_imm_s(idx, block);
            let src = e.b.ins().iadd(q[0], offset);
            e.nest(&[inner], &[(src, vec![sz]), (q[2], vec![sz])], &mut |e, r| {
                let v = e.load(st, r[0], 0);
                e.store(st, v, r[1], 0);
                Ok(())
            })
        })
    }

    /// A negative index counts from the end.
    fn resolve_index(&mut self, idx: Value, extent: u64) -> Value {
        let neg = self.b.ins().icmp_imm_s(IntCC::SignedLessThan, idx, 0);
        let wrapped = self.b.ins().iadd_imm_s(idx, extent as i64);
        self.b.ins().select(neg, wrapped, idx)
    }
}
