//! f32 layer norm on `f64x2` lanes. The sums (of `x`, then of `(x -
//! mean)^2`) are the reference's four interleaved partial sums, kept in two
//! accumulators (`s0, s1` and `s2, s3`); the normalizing pass widens two
//! elements at a time, centers, scales by the inverse deviation and by
//! `scale`, shifts by `bias` and rounds back to f32 — the f64 operations of
//! the scalar kernel, in the same order, lane by lane.
//!
//! Invariants: lanes are taken only when the dims collapse to one dim that
//! `x` (and the output) walk contiguously, and `scale` / `bias` walk
//! contiguously or not at all (broadcast: widened and splatted once);
//! otherwise scalar code computes the same partial sums (rotating four
//! accumulators) and elements.

use super::loops::{collapse, View};
use super::Emit;
use crate::jit::storage::Storage;
use cranelift_codegen::ir::{types, InstBuilder, Value};
use cranelift_frontend::Variable;

impl Emit<'_, '_> {
    /// `out = f32((f64(x) - mean) * inv * f64(scale) + f64(bias))` over
    /// `inner` with the four `views`, on lanes; `Ok(false)` (nothing
    /// emitted) when their strides do not allow it.
    pub fn layer_norm_pairs(
        &mut self,
        inner: &[u64],
        views: &[View; 4],
        mean: Value,
        inv: Value,
    ) -> Result<bool, String> {
        let strides: Vec<Vec<i64>> = views.iter().map(|v| v.1.clone()).collect();
        let (shape, strides) = collapse(inner, &strides);
        let ([n], [[x], [s], [b], [o]]) =
            (&shape[..], [&strides[0][..], &strides[1][..], &strides[2][..], &strides[3][..]])
        else {
            return Ok(false);
        };
        if *x != 4 || *o != 4 || ![0, 4].contains(s) || ![0, 4].contains(b) || *n < 2 {
            return Ok(false);
        }
        let (meanv, invv) = (self.b.ins().splat(types::F64X2, mean), self.b.ins().splat(types::F64X2, inv));
        let fixed = |e: &mut Self, p: Value, stride: i64| -> Option<(Value, Value)> {
            (stride == 0).then(|| {
                let v = e.load(Storage::F32, p, 0);
                let w = e.b.ins().fpromote(types::F64, v);
                (w, e.b.ins().splat(types::F64X2, w))
            })
        };
        let (sf, bf) = (fixed(self, views[1].0, *s), fixed(self, views[2].0, *b));
        let pairs = [(views[0].0, 8), (views[1].0, s * 2), (views[2].0, b * 2), (views[3].0, 8)];
        self.nest(&[n / 2], &pairs.map(|(p, st)| (p, vec![st])), &mut |e, q| {
            let xv = e.load_pair(q[0]);
            let sv = match sf {
                Some((_, v)) => v,
                None => e.load_pair(q[1]),
            };
            let bv = match bf {
                Some((_, v)) => v,
                None => e.load_pair(q[2]),
            };
            let centered = e.b.ins().fsub(xv, meanv);
            let normalized = e.b.ins().fmul(centered, invv);
            let scaled = e.b.ins().fmul(normalized, sv);
            let y = e.b.ins().fadd(scaled, bv);
            e.store_pair(y, q[3]);
            Ok(())
        })?;
        if n % 2 == 1 {
            let at = |e: &mut Self, p: Value, stride: i64| e.b.ins().iadd_imm_s(p, stride * (n - 1) as i64);
            let xv = at(self, views[0].0, 4);
            let v = self.load(Storage::F32, xv, 0);
            let v = self.b.ins().fpromote(types::F64, v);
            let centered = self.b.ins().fsub(v, mean);
            let normalized = self.b.ins().fmul(centered, inv);
            let sv = match sf {
                Some((w, _)) => w,
                None => {
                    let p = at(self, views[1].0, 4);
                    let v = self.load(Storage::F32, p, 0);
                    self.b.ins().fpromote(types::F64, v)
                }
            };
            let bv = match bf {
                Some((w, _)) => w,
                None => {
                    let p = at(self, views[2].0, 4);
                    let v = self.load(Storage::F32, p, 0);
                    self.b.ins().fpromote(types::F64, v)
                }
            };
            let scaled = self.b.ins().fmul(normalized, sv);
            let y = self.b.ins().fadd(scaled, bv);
            let y = self.b.ins().fdemote(types::F32, y);
            let p = at(self, views[3].0, 4);
            self.store(Storage::F32, y, p, 0);
        }
        Ok(true)
    }

    /// The [`weft_ir::ops::math::sum4`] of a lane of f32 `x` (or of `(x -
    /// center)^2`), widened to f64, over `shape` with `view`.
    pub fn lane_sum4(&mut self, shape: &[u64], view: View, center: Option<Value>) -> Result<Value, String> {
        let (cshape, cstrides) = collapse(shape, std::slice::from_ref(&view.1));
        let sums = self.partial_sums();
        match (&cshape[..], &cstrides[0][..]) {
            ([n], [4]) if *n >= 4 => self.sum4_contiguous(*n, view.0, center, sums)?,
            _ => self.sum4_rotating(shape, view, center, sums)?,
        }
        Ok(self.combine_sums(sums))
    }

    /// `v` widened, or `(v - center)^2`: the term a sum adds.
    fn sum_term(&mut self, v: Value, center: Option<Value>) -> Value {
        match center {
            Some(c) => {
                let c = if self.b.func.dfg.value_type(v).is_vector() { self.b.ins().splat(types::F64X2, c) } else { c };
                let d = self.b.ins().fsub(v, c);
                self.b.ins().fmul(d, d)
            }
            None => v,
        }
    }

    /// `n` contiguous f32s: groups of four on two `f64x2` accumulators,
    /// then the last `n % 4` into `s_0..`.
    fn sum4_contiguous(&mut self, n: u64, p: Value, center: Option<Value>, sums: [Variable; 4]) -> Result<(), String> {
        let start = self.b.ins().f64const(-0.0);
        let start = self.b.ins().splat(types::F64X2, start);
        let accs = [self.b.declare_var(types::F64X2), self.b.declare_var(types::F64X2)];
        for a in accs {
            self.b.def_var(a, start);
        }
        self.nest(&[n / 4], &[(p, vec![16])], &mut |e, q| {
            for (h, acc) in accs.into_iter().enumerate() {
                let at = e.b.ins().iadd_imm_s(q[0], 8 * h as i64);
                let v = e.load_pair(at);
                let t = e.sum_term(v, center);
                let cur = e.b.use_var(acc);
                let next = e.b.ins().fadd(cur, t);
                e.b.def_var(acc, next);
            }
            Ok(())
        })?;
        for (j, &s) in sums.iter().enumerate() {
            let v = self.b.use_var(accs[j / 2]);
            let lane = self.b.ins().extractlane(v, (j % 2) as u8);
            self.b.def_var(s, lane);
        }
        let done = (n / 4 * 16) as i32;
        for (j, &s) in sums.iter().enumerate().take((n % 4) as usize) {
            let v = self.load(Storage::F32, p, done + 4 * j as i32);
            let v = self.b.ins().fpromote(types::F64, v);
            let t = self.sum_term(v, center);
            let cur = self.b.use_var(s);
            let next = self.b.ins().fadd(cur, t);
            self.b.def_var(s, next);
        }
        Ok(())
    }

    /// Any layout: one element at a time into the front accumulator, which
    /// then moves to the back; after all elements the accumulators are
    /// put back in order.
    fn sum4_rotating(
        &mut self,
        shape: &[u64],
        view: View,
        center: Option<Value>,
        sums: [Variable; 4],
    ) -> Result<(), String> {
        let count: u64 = shape.iter().product();
        self.nest(shape, &[view], &mut |e, q| {
            let v = e.load(Storage::F32, q[0], 0);
            let v = e.b.ins().fpromote(types::F64, v);
            let t = e.sum_term(v, center);
            let front = e.b.use_var(sums[0]);
            let front = e.b.ins().fadd(front, t);
            let rest = [1, 2, 3].map(|i| e.b.use_var(sums[i]));
            for (i, v) in rest.into_iter().chain([front]).enumerate() {
                e.b.def_var(sums[i], v);
            }
            Ok(())
        })?;
        // After `count` rotations accumulator i holds s_{(i + count) % 4}.
        let held = sums.map(|v| self.b.use_var(v));
        for (i, v) in held.into_iter().enumerate() {
            self.b.def_var(sums[(i + count as usize) % 4], v);
        }
        Ok(())
    }

    /// Two f32s at `p`, widened to an `f64x2`.
    fn load_pair(&mut self, p: Value) -> Value {
        let d = self.b.ins().load(types::F64, super::flags(), p, 0);
        let v = self.b.ins().scalar_to_vector(types::F64X2, d);
        let f = self.b.ins().bitcast(types::F32X4, super::little(), v);
        self.b.ins().fvpromote_low(f)
    }

    /// An `f64x2` rounded to two f32s, stored at `p`.
    fn store_pair(&mut self, y: Value, p: Value) {
        let f = self.b.ins().fvdemote(y);
        let d = self.b.ins().bitcast(types::F64X2, super::little(), f);
        let lo = self.b.ins().extractlane(d, 0);
        self.b.ins().store(super::flags(), lo, p, 0);
    }
}
