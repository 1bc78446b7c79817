//! The direct-convolution kernel: per output element an f64 sum over the
//! input channels of its group and the kernel positions, in the
//! reference's order, skipping positions in the padding; rounded once.
//!
//! Invariants: an input element is loaded only when every spatial position
//! is inside the input (checked per read, unless lowering proved every
//! read in bounds); positions are carried as extra induction variables of
//! the loop nests, next to the pointers.

use super::Emit;
use crate::jit::kernel::Conv;
use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::{types, InstBuilder};

impl Emit<'_, '_> {
    pub fn conv(&mut self, c: &Conv) -> Result<(), String> {
        let st = c.x.st;
        let sz = st.size() as i64;
        let mut views = vec![self.view(&c.x)?, self.view(&c.w)?, self.view(&c.out)?];
        for (start, strides) in &c.positions {
            views.push((self.b.ins().iconst(types::I64, *start), strides.clone()));
        }
        let n = c.positions.len();
        self.nest(&c.outer, &views, &mut |e, p| {
            let acc = e.b.declare_var(types::F64);
            let zero = e.b.ins().f64const(0.0);
            e.b.def_var(acc, zero);
            let channel = [(p[0], vec![c.x_channel * sz]), (p[1], vec![c.w_channel * sz])];
            e.nest(&[c.cg], &channel, &mut |e, q| {
                let mut kviews = vec![
                    (q[0], c.x_kernel.iter().map(|s| s * sz).collect()),
                    (q[1], c.w_kernel.iter().map(|s| s * sz).collect()),
                ];
                for i in 0..n {
                    kviews.push((p[3 + i], c.pos_kernel[i].clone()));
                }
                e.nest(&c.kernel, &kviews, &mut |e, r| {
                    let skip = e.b.create_block();
                    if !c.in_bounds {
                        let read = e.b.create_block();
                        let mut inside = e.b.ins().iconst(types::I8, 1);
                        for (i, &limit) in c.limits.iter().enumerate() {
                            let ok = e.b.ins().icmp_imm_s(IntCC::UnsignedLessThan, r[2 + i], limit as i64);
                            inside = e.b.ins().band(inside, ok);
                        }
                        e.b.ins().brif(inside, read, &[], skip, &[]);
                        e.b.switch_to_block(read);
                        e.b.seal_block(read);
                    }
                    let (x, w) = (e.load(st, r[0], 0), e.load(st, r[1], 0));
                    let (x, w) = (e.widen(st, x), e.widen(st, w));
                    let prod = e.b.ins().fmul(x, w);
                    let cur = e.b.use_var(acc);
                    let next = e.b.ins().fadd(cur, prod);
                    e.b.def_var(acc, next);
                    e.b.ins().jump(skip, &[]);
                    e.b.switch_to_block(skip);
                    e.b.seal_block(skip);
                    Ok(())
                })
            })?;
            let sum = e.b.use_var(acc);
            let y = e.round_from_f64(st, sum);
            e.store(st, y, p[2], 0);
            Ok(())
        })
    }
}
