//! Elementwise maps on SIMD lanes: `f32x4` for f32, `i32x4` and `i16x8` for
//! integers stored in 4 or 2 bytes. The innermost (collapsed) dim of the
//! nest runs whole vectors, then a scalar tail; inputs the innermost dim
//! does not advance (broadcasts) are loaded once per row and splatted.
//!
//! Invariants: a map is vectorized only when every input and the output
//! share one storage with lanes, every node of its expression has a lane
//! form that computes, lane by lane, exactly what the scalar code computes
//! (the same IEEE operation, the same integer wrap to the element's
//! width), and the innermost dim is contiguous in the output and
//! contiguous or broadcast in every input; otherwise the scalar map runs.
//! So the vector body and the scalar tail give the same bits.

use super::loops::{collapse, View};
use super::{pool, Emit};
use crate::jit::kernel::{Access, BinOp, Clip, CmpOp, Expr, UnOp};
use crate::jit::storage::Storage;
use cranelift_codegen::ir::condcodes::FloatCC;
use cranelift_codegen::ir::{types, InstBuilder, MemFlagsData, Type, Value};

/// The lanes of a vectorized map: the element storage and the vector type.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LaneKind {
    pub st: Storage,
    pub ty: Type,
}

impl LaneKind {
    /// The lane form of a storage, if it has one.
    pub fn of(st: Storage) -> Option<LaneKind> {
        let ty = match st {
            Storage::F32 => types::F32X4,
            Storage::Int { bytes: 4, .. } => types::I32X4,
            Storage::Int { bytes: 2, .. } => types::I16X8,
            _ => return None,
        };
        Some(LaneKind { st, ty })
    }

    pub fn lanes(self) -> u64 {
        u64::from(self.ty.lane_count())
    }

    fn float(self) -> bool {
        self.st == Storage::F32
    }
}

/// What an expression node yields in lanes: element values or a mask.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Yield {
    Value,
    Mask,
}

/// The lane kind of a map of `inputs` into `out` computing `expr`, if it
/// can be vectorized.
pub(crate) fn lane_kind(out: &Access, inputs: &[Access], expr: &Expr) -> Option<LaneKind> {
    let k = LaneKind::of(out.st)?;
    if inputs.iter().any(|a| a.st != k.st) {
        return None;
    }
    (check(expr, k)? == Yield::Value).then_some(k)
}

fn check(e: &Expr, k: LaneKind) -> Option<Yield> {
    let value = |x: &Expr| check(x, k).filter(|&y| y == Yield::Value);
    let mask = |x: &Expr| check(x, k).filter(|&y| y == Yield::Mask);
    match e {
        Expr::Input(_) => Some(Yield::Value),
        Expr::Binary(op, st, a, b) => {
            let ok = *st == k.st && !matches!(op, BinOp::Pow) && (k.float() || *op != BinOp::Div);
            (ok && value(a).is_some() && value(b).is_some()).then_some(Yield::Value)
        }
        Expr::Compare(_, st, a, b) => (*st == k.st && value(a).is_some() && value(b).is_some()).then_some(Yield::Mask),
        Expr::And(a, b) | Expr::Or(a, b) => (mask(a).is_some() && mask(b).is_some()).then_some(Yield::Mask),
        Expr::Unary(UnOp::Not, Storage::Bool, x) => mask(x).map(|_| Yield::Mask),
        Expr::Unary(op, st, x) => {
            let ok = *st == k.st && (k.float() || matches!(op, UnOp::Neg | UnOp::Abs | UnOp::Relu));
            (ok && value(x).is_some()).then_some(Yield::Value)
        }
        Expr::Select(c, t, f) => {
            (mask(c).is_some() && value(t).is_some() && value(f).is_some()).then_some(Yield::Value)
        }
        Expr::Cast { from, to, x } => (*from == k.st && *to == k.st && value(x).is_some()).then_some(Yield::Value),
        Expr::Clip(st, _, x) => (*st == k.st && value(x).is_some()).then_some(Yield::Value),
        Expr::Nl(_) | Expr::Quant(_) => None,
    }
}

impl Emit<'_, '_> {
    /// The vectorized map, or `Ok(false)` when the shapes do not allow it
    /// (then nothing was emitted).
    pub fn vector_map(
        &mut self,
        k: LaneKind,
        shape: &[u64],
        out: &Access,
        inputs: &[Access],
        expr: &Expr,
    ) -> Result<bool, String> {
        let size = k.st.size() as i64;
        let strides: Vec<Vec<i64>> =
            [out].into_iter().chain(inputs).map(|a| a.strides.iter().map(|s| s * size).collect()).collect();
        if shape.contains(&0) || strides.iter().any(|s| s.len() != shape.len()) {
            return Ok(false);
        }
        let (shape, strides) = collapse(shape, &strides);
        let Some((&n, outer)) = shape.split_last() else { return Ok(false) };
        let inner: Vec<i64> = strides.iter().filter_map(|s| s.last().copied()).collect();
        let full = n / k.lanes();
        if full == 0 || inner.first() != Some(&size) || inner.iter().any(|&s| s != size && s != 0) {
            return Ok(false);
        }
        let mut views: Vec<View> = Vec::new();
        for (a, s) in [out].into_iter().chain(inputs).zip(&strides) {
            views.push((self.start(a)?, s[..s.len() - 1].to_vec()));
        }
        let tail = n % k.lanes();
        self.nest(outer, &views, &mut |e, ptrs| e.vector_row(k, (full, tail), ptrs, &inner, expr))?;
        self.vector_maps += 1;
        Ok(true)
    }

    /// One innermost row: `full` vectors, then `tail` scalar elements.
    fn vector_row(
        &mut self,
        k: LaneKind,
        (full, tail): (u64, u64),
        ptrs: &[Value],
        inner: &[i64],
        expr: &Expr,
    ) -> Result<(), String> {
        let size = k.st.size() as i64;
        // Broadcast inputs: one scalar load per row, splatted for the lanes.
        let mut scalars: Vec<Option<Value>> = vec![None; ptrs.len()];
        let mut splats: Vec<Option<Value>> = vec![None; ptrs.len()];
        for i in 1..ptrs.len() {
            if inner[i] == 0 {
                let s = self.load(k.st, ptrs[i], 0);
                scalars[i] = Some(s);
                splats[i] = Some(self.splat_element(k, s));
            }
        }
        let moving: Vec<usize> = (0..ptrs.len()).filter(|&i| inner[i] != 0).collect();
        let step = size * k.lanes() as i64;
        let views: Vec<View> = moving.iter().map(|&i| (ptrs[i], vec![step])).collect();
        self.nest(&[full], &views, &mut |e, q| {
            e.reload_pool();
            let mut vals = splats.clone();
            for (&i, &p) in moving.iter().skip(1).zip(&q[1..]) {
                vals[i] = Some(e.b.ins().load(k.ty, super::flags(), p, 0));
            }
            let vals =
                vals[1..].iter().map(|v| v.ok_or("internal error: lane input")).collect::<Result<Vec<_>, _>>()?;
            let y = e.vexpr(expr, &vals, k)?;
            e.b.ins().store(super::flags(), y, q[0], 0);
            Ok(())
        })?;
        if tail == 0 {
            return Ok(());
        }
        let skip = step * full as i64;
        let mut views = Vec::new();
        for &i in &moving {
            views.push((self.b.ins().iadd_imm_s(ptrs[i], skip), vec![size]));
        }
        self.nest(&[tail], &views, &mut |e, q| {
            let mut vals = scalars.clone();
            for (&i, &p) in moving.iter().skip(1).zip(&q[1..]) {
                vals[i] = Some(e.load(k.st, p, 0));
            }
            let vals =
                vals[1..].iter().map(|v| v.ok_or("internal error: tail input")).collect::<Result<Vec<_>, _>>()?;
            let y = e.expr(expr, &vals)?;
            e.store(k.st, y, q[0], 0);
            Ok(())
        })
    }

    /// A scalar register value (f32, or a canonical i64) in every lane.
    fn splat_element(&mut self, k: LaneKind, s: Value) -> Value {
        let s = if k.float() { s } else { self.b.ins().ireduce(k.ty.lane_type(), s) };
        self.b.ins().splat(k.ty, s)
    }

    /// A constant in every lane (`x` for floats, the low bits of `i` for
    /// integers).
    fn lane_const(&mut self, k: LaneKind, x: f32, i: i64) -> Value {
        let bits = match k.ty.lane_bits() {
            _ if k.float() => pool::f32x4(x),
            16 => pool::i16x8(i as i16),
            _ => pool::i32x4(i as i32),
        };
        self.pool_const(k.ty, bits)
    }

    /// `m ? a : b` lane by lane, `m` a comparison mask.
    fn lane_select(&mut self, k: LaneKind, m: Value, a: Value, b: Value) -> Value {
        let m = if k.float() { self.b.ins().bitcast(k.ty, MemFlagsData::new(), m) } else { m };
        self.b.ins().bitselect(m, a, b)
    }

    /// The value of `e` in lanes; `inputs` are the loaded input vectors.
    fn vexpr(&mut self, e: &Expr, inputs: &[Value], k: LaneKind) -> Result<Value, String> {
        Ok(match e {
            Expr::Input(i) => *inputs.get(*i).ok_or("internal error: missing lane input")?,
            Expr::Binary(op, _, a, b) => {
                let (a, b) = (self.vexpr(a, inputs, k)?, self.vexpr(b, inputs, k)?);
                if k.float() {
                    self.lane_float_binary(*op, k, a, b)?
                } else {
                    self.lane_int_binary(*op, k, a, b)?
                }
            }
            Expr::Compare(op, _, a, b) => {
                let (a, b) = (self.vexpr(a, inputs, k)?, self.vexpr(b, inputs, k)?);
                self.lane_compare(*op, k, a, b)
            }
            Expr::And(a, b) => {
                let (a, b) = (self.vexpr(a, inputs, k)?, self.vexpr(b, inputs, k)?);
                self.b.ins().band(a, b)
            }
            Expr::Or(a, b) => {
                let (a, b) = (self.vexpr(a, inputs, k)?, self.vexpr(b, inputs, k)?);
                self.b.ins().bor(a, b)
            }
            Expr::Unary(UnOp::Not, Storage::Bool, x) => {
                let x = self.vexpr(x, inputs, k)?;
                self.b.ins().bnot(x)
            }
            Expr::Unary(op, _, x) => {
                let x = self.vexpr(x, inputs, k)?;
                self.lane_unary(*op, k, x)?
            }
            Expr::Select(c, t, f) => {
                let (c, t, f) = (self.vexpr(c, inputs, k)?, self.vexpr(t, inputs, k)?, self.vexpr(f, inputs, k)?);
                self.lane_select(k, c, t, f)
            }
            Expr::Cast { x, .. } => self.vexpr(x, inputs, k)?,
            Expr::Clip(_, clip, x) => {
                let x = self.vexpr(x, inputs, k)?;
                self.lane_clip(k, *clip, x)
            }
            Expr::Nl(_) | Expr::Quant(_) => return Err("internal error: an nl or quant op on SIMD lanes".into()),
        })
    }

    fn lane_float_binary(&mut self, op: BinOp, k: LaneKind, a: Value, b: Value) -> Result<Value, String> {
        let ins = self.b.ins();
        Ok(match op {
            BinOp::Add => ins.fadd(a, b),
            BinOp::Sub => ins.fsub(a, b),
            BinOp::Mul => ins.fmul(a, b),
            BinOp::Div => ins.fdiv(a, b),
            BinOp::Max | BinOp::Min => {
                // As the scalar code: NaN wins, else `a` unless `b` is
                // strictly larger (smaller).
                let cc = if op == BinOp::Max { FloatCC::GreaterThan } else { FloatCC::LessThan };
                let keep_a = self.b.ins().fcmp(cc, a, b);
                let picked = self.lane_select(k, keep_a, a, b);
                let nan = self.b.ins().fcmp(FloatCC::Unordered, a, b);
                let qnan = self.lane_const(k, f32::NAN, 0);
                self.lane_select(k, nan, qnan, picked)
            }
            BinOp::Pow => return Err("internal error: pow on lanes".into()),
        })
    }

    fn lane_int_binary(&mut self, op: BinOp, k: LaneKind, a: Value, b: Value) -> Result<Value, String> {
        let unsigned = k.st.is_unsigned();
        let ins = self.b.ins();
        let r = match op {
            BinOp::Add => ins.iadd(a, b),
            BinOp::Sub => ins.isub(a, b),
            BinOp::Mul => ins.imul(a, b),
            BinOp::Max if unsigned => ins.umax(a, b),
            BinOp::Max => ins.smax(a, b),
            BinOp::Min if unsigned => ins.umin(a, b),
            BinOp::Min => ins.smin(a, b),
            BinOp::Div | BinOp::Pow => return Err("internal error: integer division on lanes".into()),
        };
        Ok(self.lane_wrap(k, r))
    }

    /// Wraps every lane to the element's width (a no-op when the width
    /// fills the lane).
    fn lane_wrap(&mut self, k: LaneKind, v: Value) -> Value {
        let Storage::Int { width, signed, bytes } = k.st else { return v };
        let bits = i64::from(bytes) * 8;
        let width = i64::from(width);
        if width >= bits {
            return v;
        }
        if signed {
            let up = self.b.ins().ishl_imm_s(v, bits - width);
            self.b.ins().sshr_imm_s(up, bits - width)
        } else {
            let mask = self.lane_const(k, 0.0, (1i64 << width) - 1);
            self.b.ins().band(v, mask)
        }
    }

    fn lane_compare(&mut self, op: CmpOp, k: LaneKind, a: Value, b: Value) -> Value {
        if k.float() {
            let cc = super::float_cc(op);
            return self.b.ins().fcmp(cc, a, b);
        }
        let cc = super::int_cc(op, k.st.is_unsigned());
        self.b.ins().icmp(cc, a, b)
    }

    fn lane_unary(&mut self, op: UnOp, k: LaneKind, x: Value) -> Result<Value, String> {
        if !k.float() {
            let unsigned = k.st.is_unsigned();
            let r = match op {
                UnOp::Neg => self.b.ins().ineg(x),
                UnOp::Abs if !unsigned => self.b.ins().iabs(x),
                UnOp::Relu if !unsigned => {
                    let zero = self.lane_const(k, 0.0, 0);
                    self.b.ins().smax(x, zero)
                }
                _ => x,
            };
            return Ok(self.lane_wrap(k, r));
        }
        Ok(match op {
            UnOp::Neg => self.b.ins().fneg(x),
            UnOp::Abs => self.b.ins().fabs(x),
            UnOp::Sqrt => self.b.ins().sqrt(x),
            UnOp::Reciprocal => {
                let one = self.lane_const(k, 1.0, 0);
                self.b.ins().fdiv(one, x)
            }
            UnOp::Relu => {
                let zero = self.lane_const(k, 0.0, 0);
                let keep = self.b.ins().fcmp(FloatCC::UnorderedOrGreaterThan, x, zero);
                self.lane_select(k, keep, x, zero)
            }
            UnOp::Not => return Err("internal error: 'not' of a float".into()),
            f => self.f32_function(f, x, k.ty).ok_or("internal error: no f32 lane function")?,
        })
    }

    fn lane_clip(&mut self, k: LaneKind, clip: Clip, x: Value) -> Value {
        match clip {
            Clip::Const(c) => self.lane_const(k, 0.0, c),
            Clip::Float { lo, hi } => {
                let mut v = x;
                if let Some(lo) = lo {
                    let lo = self.lane_const(k, lo as f32, 0);
                    let below = self.b.ins().fcmp(FloatCC::LessThan, v, lo);
                    v = self.lane_select(k, below, lo, v);
                }
                if let Some(hi) = hi {
                    let hi = self.lane_const(k, hi as f32, 0);
                    let above = self.b.ins().fcmp(FloatCC::GreaterThan, v, hi);
                    v = self.lane_select(k, above, hi, v);
                }
                v
            }
            Clip::Int { lo, hi } => {
                let u = k.st.is_unsigned();
                let mut v = x;
                if let Some(lo) = lo {
                    let lo = self.lane_const(k, 0.0, lo);
                    v = if u { self.b.ins().umax(v, lo) } else { self.b.ins().smax(v, lo) };
                }
                if let Some(hi) = hi {
                    let hi = self.lane_const(k, 0.0, hi);
                    v = if u { self.b.ins().umin(v, hi) } else { self.b.ins().smin(v, hi) };
                }
                v
            }
        }
    }
}
