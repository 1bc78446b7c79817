//! The transposed-convolution kernel in gather form (see
//! `lower_conv_transpose`): per output element an f64 sum, starting at
//! +0.0, over the input channels of its group and, per spatial dim, the
//! kernel positions in descending order whose input position exists;
//! rounded once.
//!
//! Invariants: an input element is loaded only when its position `q /
//! stride` is an exact quotient inside the input (one unsigned compare
//! also rejects negative `q`); the per-dim `q` values ride along the loop
//! nests as extra induction variables, like the pointers.

use super::loops::View;
use super::Emit;
use crate::jit::lower_conv_transpose::ConvTranspose;
use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::{types, InstBuilder, Value};
use cranelift_frontend::Variable;

impl Emit<'_, '_> {
    pub fn conv_transpose(&mut self, c: &ConvTranspose) -> Result<(), String> {
        let st = c.x.st;
        let sz = st.size() as i64;
        let n = c.kernel.len();
        let mut views: Vec<View> = vec![self.view(&c.x)?, self.view(&c.w)?, self.view(&c.out)?];
        for (i, &start) in c.starts.iter().enumerate() {
            let mut strides = vec![0i64; 3 + n];
            strides[3 + i] = 1;
            views.push((self.b.ins().iconst(types::I64, start), strides));
        }
        self.nest(&c.outer, &views, &mut |e, p| {
            let acc = e.b.declare_var(types::F64);
            let zero = e.b.ins().f64const(0.0);
            e.b.def_var(acc, zero);
            let qs = p.get(3..).unwrap_or(&[]).to_vec();
            let channel = [(p[0], vec![c.x_channel * sz]), (p[1], vec![c.w_channel * sz])];
            e.nest(&[c.cg], &channel, &mut |e, q| e.transpose_taps(c, 0, [q[0], q[1]], &qs, acc))?;
            let sum = e.b.use_var(acc);
            let y = e.round_from_f64(st, sum);
            e.store(st, y, p[2], 0);
            Ok(())
        })
    }

    /// Adds the products of spatial dims `d..` to `acc`; `at` is the input
    /// address so far and the weight pointer, `qs` the `q` of every dim at
    /// its last kernel position.
    fn transpose_taps(
        &mut self,
        c: &ConvTranspose,
        d: usize,
        at: [Value; 2],
        qs: &[Value],
        acc: Variable,
    ) -> Result<(), String> {
        let st = c.x.st;
        let sz = st.size() as i64;
        let [x_addr, w_ptr] = at;
        let (Some(&kernel), Some(&q0)) = (c.kernel.get(d), qs.get(d)) else {
            let (x, w) = (self.load(st, x_addr, 0), self.load(st, w_ptr, 0));
            let (x, w) = (self.widen(st, x), self.widen(st, w));
            let prod = self.b.ins().fmul(x, w);
            let cur = self.b.use_var(acc);
            let next = self.b.ins().fadd(cur, prod);
            self.b.def_var(acc, next);
            return Ok(());
        };
        let at = |v: &[i64], i: usize| v.get(i).copied().unwrap_or(0);
        let (stride, limit) = (at(&c.strides, d), c.limits.get(d).copied().unwrap_or(0) as i64);
        let x_step = at(&c.x_spatial, d) * sz;
        let views = [(w_ptr, vec![-at(&c.w_kernel, d) * sz]), (q0, vec![at(&c.dilations, d)])];
        self.nest(&[kernel], &views, &mut |e, r| {
            let q = r[1];
            let mut ok = e.b.ins().icmp_imm_s(IntCC::UnsignedLessThan, q, stride * limit);
            let s = e.b.ins().iconst(types::I64, stride);
            if stride > 1 {
                let rem = e.b.ins().urem(q, s);
                let exact = e.b.ins().icmp_imm_s(IntCC::Equal, rem, 0);
                ok = e.b.ins().band(ok, exact);
            }
            let (read, skip) = (e.b.create_block(), e.b.create_block());
            e.b.ins().brif(ok, read, &[], skip, &[]);
            e.b.switch_to_block(read);
            e.b.seal_block(read);
            let i = if stride > 1 { e.b.ins().udiv(q, s) } else { q };
            let offset = e.b.ins().imul_imm_s(i, x_step);
            let x = e.b.ins().iadd(x_addr, offset);
            e.transpose_taps(c, d + 1, [x, r[0]], qs, acc)?;
            e.b.ins().jump(skip, &[]);
            e.b.switch_to_block(skip);
            e.b.seal_block(skip);
            Ok(())
        })
    }
}
