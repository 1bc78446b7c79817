//! Batched matmul kernels. Float products call the GEMM runtime
//! (`jit::gemm`, through [`MathFn::GemmF32`] / [`MathFn::GemmF64`]) once
//! per batch index; integer products are a loop nest with one dot product
//! per element, accumulating with wrapping in i64 and wrapping once to the
//! width — bit-exact with the interpreter.
//!
//! Invariants: every matrix is row-major and dense; `k == 0` gives zeros;
//! a runtime call that fails returns [`FAIL_GEMM`] from the kernel.

use super::loops::View;
use super::Emit;
use crate::jit::kernel::{Access, Gemm, FAIL_GEMM};
use crate::jit::math::MathFn;
use crate::jit::storage::Storage;
use cranelift_codegen::ir::{types, InstBuilder, Value};

/// The dims and storage of one integer product.
#[derive(Clone, Copy)]
struct Dims {
    st: Storage,
    m: u64,
    n: u64,
    k: u64,
}

impl Emit<'_, '_> {
    /// A batched float product: one runtime call per batch index.
    pub fn gemm(&mut self, g: &Gemm) -> Result<(), String> {
        let f = match g.c.st {
            Storage::F32 => MathFn::GemmF32,
            Storage::F64 => MathFn::GemmF64,
            st => return Err(format!("internal error: the matmul runtime does not multiply {st:?}")),
        };
        let views = [self.view(&g.a)?, self.view(&g.b)?, self.view(&g.c)?];
        let scratch = *self.bases.get(&g.scratch.slot).ok_or("internal error: the scratch slot has no base")?;
        let scratch = self.b.ins().iadd_imm_s(scratch, g.scratch.offset as i64);
        let mode = g.isa.code() | if g.packed_b { crate::jit::gemm::entry::PACKED_B } else { 0 };
        let consts = [g.m, g.n, g.k, mode].map(|x| self.b.ins().iconst(types::I64, x as i64));
        self.nest(&g.batch, &views, &mut |e, p| {
            let status = e.call(f, &[p[0], p[1], p[2], scratch, consts[0], consts[1], consts[2], consts[3]])?;
            e.fail_if(status, FAIL_GEMM);
            Ok(())
        })
    }

    /// A batched integer product.
    pub fn matmul(&mut self, batch: &[u64], [a, b, c]: [&Access; 3], m: u64, n: u64, k: u64) -> Result<(), String> {
        if a.st.is_float() {
            return Err("internal error: float matmuls go to the matmul runtime".into());
        }
        let views = [self.view(a)?, self.view(b)?, self.view(c)?];
        let d = Dims { st: a.st, m, n, k };
        self.nest(batch, &views, &mut |e, p| e.matrix(d, p[0], p[1], p[2]))
    }

    /// One matrix: a dot product per element (zeros when `k == 0`).
    fn matrix(&mut self, d: Dims, pa: Value, pb: Value, pc: Value) -> Result<(), String> {
        let Dims { st, m, n, k } = d;
        let sz = st.size() as i64;
        if k == 0 {
            let zero = self.b.ins().iconst(types::I64, 0);
            return self.nest(&[m * n], &[(pc, vec![sz])], &mut |e, p| {
                e.store(st, zero, p[0], 0);
                Ok(())
            });
        }
        let (k, n) = (k as i64, n as i64);
        let views: [View; 3] = [(pa, vec![k * sz, 0]), (pb, vec![0, sz]), (pc, vec![n * sz, sz])];
        self.nest(&[m, n as u64], &views, &mut |e, p| {
            let acc = e.b.declare_var(types::I64);
            let zero = e.b.ins().iconst(types::I64, 0);
            e.b.def_var(acc, zero);
            e.nest(&[k as u64], &[(p[0], vec![sz]), (p[1], vec![n * sz])], &mut |e, q| {
                let (x, y) = (e.load(st, q[0], 0), e.load(st, q[1], 0));
                let sum = e.b.use_var(acc);
                let prod = e.b.ins().imul(x, y);
                let next = e.b.ins().iadd(sum, prod);
                e.b.def_var(acc, next);
                Ok(())
            })?;
            let sum = e.b.use_var(acc);
            let v = e.wrap(st, sum);
            e.store(st, v, p[2], 0);
            Ok(())
        })
    }
}
