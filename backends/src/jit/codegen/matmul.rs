//! Batched matmul kernels. For f32 the bulk of each matrix is computed in
//! 4x8 register tiles (eight f32x4 accumulators, a broadcast element of
//! `a` times two vectors of a row of `b` per step of k), accumulating in
//! f32; the edges that do not fill a tile, and every other element type,
//! use a scalar dot product per element that accumulates in f64 (floats)
//! or wrapping i64 (integers) in the reference order, rounding or wrapping
//! once — bit-exact with the interpreter.
//!
//! Invariants: every matrix is row-major and dense; `k == 0` gives zeros;
//! tile offsets are immediates (the tile path is taken only when they fit
//! in an i32).

use super::loops::View;
use super::Emit;
use crate::jit::kernel::Access;
use crate::jit::storage::Storage;
use cranelift_codegen::ir::{types, InstBuilder, Value};

const TILE_M: u64 = 4;
const TILE_N: u64 = 8;

/// The dims and storage of one matrix product.
#[derive(Clone, Copy)]
struct Dims {
    st: Storage,
    m: u64,
    n: u64,
    k: u64,
}

impl Emit<'_, '_> {
    pub fn matmul(&mut self, batch: &[u64], [a, b, c]: [&Access; 3], m: u64, n: u64, k: u64) -> Result<(), String> {
        let views = [self.view(a)?, self.view(b)?, self.view(c)?];
        let d = Dims { st: a.st, m, n, k };
        self.nest(batch, &views, &mut |e, p| e.matrix(d, p[0], p[1], p[2]))
    }

    fn matrix(&mut self, d: Dims, pa: Value, pb: Value, pc: Value) -> Result<(), String> {
        let Dims { st, m, n, k } = d;
        if m == 0 || n == 0 {
            return Ok(());
        }
        if k == 0 {
            let zero = self.zero(st);
            let size = st.size() as i64;
            return self.nest(&[m * n], &[(pc, vec![size])], &mut |e, p| {
                e.store(st, zero, p[0], 0);
                Ok(())
            });
        }
        let fits = (TILE_M * k.max(n) * 4) < i32::MAX as u64;
        let (tm, tn) = if st == Storage::F32 && fits { (m / TILE_M, n / TILE_N) } else { (0, 0) };
        if tm > 0 && tn > 0 {
            self.tiles(d, pa, pb, pc, tm, tn)?;
            self.scalar_block(d, [pa, pb, pc], (0, tm * TILE_M), (tn * TILE_N, n))?;
            self.scalar_block(d, [pa, pb, pc], (tm * TILE_M, m), (0, n))
        } else {
            self.scalar_block(d, [pa, pb, pc], (0, m), (0, n))
        }
    }

    fn zero(&mut self, st: Storage) -> Value {
        match st {
            Storage::F32 | Storage::F64 => self.fconst(st, 0.0),
            _ => self.b.ins().iconst(types::I64, 0),
        }
    }

    /// Rows `i0..i1` by columns `j0..j1`, one dot product per element.
    fn scalar_block(
        &mut self,
        d: Dims,
        [pa, pb, pc]: [Value; 3],
        rows: (u64, u64),
        cols: (u64, u64),
    ) -> Result<(), String> {
        let Dims { st, n, k, .. } = d;
        let (rn, cn) = (rows.1.saturating_sub(rows.0), cols.1.saturating_sub(cols.0));
        if rn == 0 || cn == 0 {
            return Ok(());
        }
        let sz = st.size() as i64;
        let (k, n) = (k as i64, n as i64);
        let a0 = self.b.ins().iadd_imm_s(pa, rows.0 as i64 * k * sz);
        let b0 = self.b.ins().iadd_imm_s(pb, cols.0 as i64 * sz);
        let c0 = self.b.ins().iadd_imm_s(pc, (rows.0 as i64 * n + cols.0 as i64) * sz);
        let views: [View; 3] = [(a0, vec![k * sz, 0]), (b0, vec![0, sz]), (c0, vec![n * sz, sz])];
        self.nest(&[rn, cn], &views, &mut |e, p| {
            let acc_ty = if st.is_float() { types::F64 } else { types::I64 };
            let acc = e.b.declare_var(acc_ty);
            let zero = if st.is_float() { e.b.ins().f64const(0.0) } else { e.b.ins().iconst(types::I64, 0) };
            e.b.def_var(acc, zero);
            e.nest(&[k as u64], &[(p[0], vec![sz]), (p[1], vec![n * sz])], &mut |e, q| {
                let (x, y) = (e.load(st, q[0], 0), e.load(st, q[1], 0));
                let sum = e.b.use_var(acc);
                let next = if st.is_float() {
                    let (x, y) = (e.widen(st, x), e.widen(st, y));
                    let prod = e.b.ins().fmul(x, y);
                    e.b.ins().fadd(sum, prod)
                } else {
                    let prod = e.b.ins().imul(x, y);
                    e.b.ins().iadd(sum, prod)
                };
                e.b.def_var(acc, next);
                Ok(())
            })?;
            let sum = e.b.use_var(acc);
            let v = if st.is_float() { e.round_from_f64(st, sum) } else { e.wrap(st, sum) };
            e.store(st, v, p[2], 0);
            Ok(())
        })
    }

    /// The 4x8 f32 tiles: `tm` tile rows by `tn` tile columns.
    fn tiles(&mut self, d: Dims, pa: Value, pb: Value, pc: Value, tm: u64, tn: u64) -> Result<(), String> {
        let (n, k) = (d.n as i64, d.k as i64);
        let (tile_m, tile_n) = (TILE_M as i64, TILE_N as i64);
        let views: [View; 3] =
            [(pa, vec![tile_m * k * 4, 0]), (pb, vec![0, tile_n * 4]), (pc, vec![tile_m * n * 4, tile_n * 4])];
        self.nest(&[tm, tn], &views, &mut |e, p| {
            let zero = e.b.ins().f32const(0.0);
            let zero = e.b.ins().splat(types::F32X4, zero);
            let accs: Vec<_> = (0..8)
                .map(|_| {
                    let v = e.b.declare_var(types::F32X4);
                    e.b.def_var(v, zero);
                    v
                })
                .collect();
            e.nest(&[k as u64], &[(p[0], vec![4]), (p[1], vec![n * 4])], &mut |e, q| {
                let f = super::flags();
                let b0 = e.b.ins().load(types::F32X4, f, q[1], 0);
                let b1 = e.b.ins().load(types::F32X4, f, q[1], 16);
                for r in 0..TILE_M as usize {
                    let x = e.b.ins().load(types::F32, f, q[0], (r as i64 * k * 4) as i32);
                    let x = e.b.ins().splat(types::F32X4, x);
                    for (h, bv) in [b0, b1].into_iter().enumerate() {
                        let acc = accs[r * 2 + h];
                        let prod = e.b.ins().fmul(x, bv);
                        let cur = e.b.use_var(acc);
                        let next = e.b.ins().fadd(cur, prod);
                        e.b.def_var(acc, next);
                    }
                }
                Ok(())
            })?;
            let f = super::flags();
            for r in 0..TILE_M as usize {
                for h in 0..2 {
                    let v = e.b.use_var(accs[r * 2 + h]);
                    e.b.ins().store(f, v, p[2], (r as i64 * n * 4 + h as i64 * 16) as i32);
                }
            }
            Ok(())
        })
    }
}
