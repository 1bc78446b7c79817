//! The normalizing pass of f32 layer norm on `f64x2` lanes: two elements at
//! a time are widened, centered, scaled by the inverse deviation, by
//! `scale`, shifted by `bias` and rounded back to f32 — the f64 operations
//! of the scalar kernel, in the same order, lane by lane.
//!
//! Invariants: taken only when the normalized dims collapse to one dim that
//! `x` and the output walk contiguously and `scale` / `bias` walk
//! contiguously or not at all (broadcast: widened and splatted once).

use super::loops::{collapse, View};
use super::Emit;
use crate::jit::storage::Storage;
use cranelift_codegen::ir::{types, InstBuilder, Value};

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
