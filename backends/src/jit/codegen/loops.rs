//! Loop nests over static shapes, with one pointer per view advanced by
//! its byte stride (no index arithmetic in the loop body), and the
//! elementwise map built on them.
//!
//! Invariants: dims of extent 1 are dropped and adjacent dims that every
//! view walks contiguously are merged before loops are emitted, so a
//! row-major copy is one flat loop; a nest with an empty extent emits
//! nothing; loops are do-while (the trip count is known to be > 0).

use super::Emit;
use crate::jit::kernel::{Access, Expr};
use cranelift_codegen::ir::{condcodes::IntCC, types, InstBuilder, Value};

/// A view for a loop nest: start address and one byte stride per dim.
pub(crate) type View = (Value, Vec<i64>);

/// The body of a nest: gets the current address of every view.
pub(crate) type Body<'b, 'a, 'f> = &'b mut dyn FnMut(&mut Emit<'a, 'f>, &[Value]) -> Result<(), String>;

/// Drops extent-1 dims and merges dim d into d+1 where every view has
/// `stride[d] == stride[d+1] * extent[d+1]`.
pub(crate) fn collapse(shape: &[u64], strides: &[Vec<i64>]) -> (Vec<u64>, Vec<Vec<i64>>) {
    let mut out_shape: Vec<u64> = Vec::new();
    let mut out_strides: Vec<Vec<i64>> = vec![Vec::new(); strides.len()];
    for d in (0..shape.len()).rev() {
        if shape[d] == 1 {
            continue;
        }
        let merge = out_shape.last().is_some_and(|&inner| {
            strides.iter().zip(&out_strides).all(|(s, o)| o.last().is_some_and(|&os| s[d] == os * inner as i64))
        });
        if merge {
            if let Some(last) = out_shape.last_mut() {
                *last *= shape[d];
            }
        } else {
            out_shape.push(shape[d]);
            for (o, s) in out_strides.iter_mut().zip(strides) {
                o.push(s[d]);
            }
        }
    }
    out_shape.reverse();
    out_strides.iter_mut().for_each(|s| s.reverse());
    (out_shape, out_strides)
}

impl<'a, 'f> Emit<'a, 'f> {
    /// Emits loops over `shape`; `body` runs at every index with the
    /// views' current addresses.
    pub fn nest(&mut self, shape: &[u64], views: &[View], body: Body<'_, 'a, 'f>) -> Result<(), String> {
        if shape.contains(&0) {
            return Ok(());
        }
        let strides: Vec<Vec<i64>> = views.iter().map(|v| v.1.clone()).collect();
        if strides.iter().any(|s| s.len() != shape.len()) {
            return Err("internal error: a view's strides do not match its loop nest".into());
        }
        let (shape, strides) = collapse(shape, &strides);
        let starts: Vec<Value> = views.iter().map(|v| v.0).collect();
        self.nest_at(&shape, &strides, 0, starts, body)
    }

    fn nest_at(
        &mut self,
        shape: &[u64],
        strides: &[Vec<i64>],
        depth: usize,
        ptrs: Vec<Value>,
        body: Body<'_, 'a, 'f>,
    ) -> Result<(), String> {
        let Some(&n) = shape.get(depth) else { return body(self, &ptrs) };
        let counter = self.b.declare_var(types::I64);
        let zero = self.b.ins().iconst(types::I64, 0);
        self.b.def_var(counter, zero);
        let vars: Vec<_> = ptrs
            .iter()
            .map(|&p| {
                let v = self.b.declare_var(self.ptr);
                self.b.def_var(v, p);
                v
            })
            .collect();
        let head = self.b.create_block();
        let exit = self.b.create_block();
        self.b.ins().jump(head, &[]);
        self.b.switch_to_block(head);
        let i = self.b.use_var(counter);
        let cur: Vec<Value> = vars.iter().map(|&v| self.b.use_var(v)).collect();
        self.nest_at(shape, strides, depth + 1, cur.clone(), body)?;
        let next = self.b.ins().iadd_imm_s(i, 1);
        self.b.def_var(counter, next);
        for ((&v, &p), s) in vars.iter().zip(&cur).zip(strides) {
            let p = self.b.ins().iadd_imm_s(p, s[depth]);
            self.b.def_var(v, p);
        }
        let more = self.b.ins().icmp_imm_s(IntCC::UnsignedLessThan, next, n as i64);
        self.b.ins().brif(more, head, &[], exit, &[]);
        self.b.seal_block(head);
        self.b.switch_to_block(exit);
        self.b.seal_block(exit);
        Ok(())
    }

    /// `out[idx] = expr(inputs[idx])` over `shape`: on SIMD lanes where the
    /// storage, the expression and the innermost dim allow it
    /// (`vmap`), else one element at a time.
    pub fn map(&mut self, shape: &[u64], out: &Access, inputs: &[Access], expr: &Expr) -> Result<(), String> {
        if let Some(k) = super::vmap::lane_kind(out, inputs, expr) {
            if self.vector_map(k, shape, out, inputs, expr)? {
                return Ok(());
            }
        }
        let mut views = vec![self.view(out)?];
        for a in inputs {
            views.push(self.view(a)?);
        }
        let stores = out.st;
        let loads: Vec<_> = inputs.iter().map(|a| a.st).collect();
        self.nest(shape, &views, &mut |e, ptrs| {
            let mut values = Vec::with_capacity(loads.len());
            for (st, &p) in loads.iter().zip(&ptrs[1..]) {
                values.push(e.load(*st, p, 0));
            }
            let v = e.expr(expr, &values)?;
            e.store(stores, v, ptrs[0], 0);
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contiguous_dims_merge_and_unit_dims_vanish() {
        // A row-major 2x3x4 copy is one loop of 24.
        let (s, st) = collapse(&[2, 3, 4], &[vec![12, 4, 1], vec![12, 4, 1]]);
        assert_eq!((s, st), (vec![24], vec![vec![1], vec![1]]));
        // A transpose keeps its dims; a broadcast row merges only where it can.
        let (s, st) = collapse(&[2, 1, 3], &[vec![3, 3, 1], vec![1, 0, 2]]);
        assert_eq!((s, st), (vec![2, 3], vec![vec![3, 1], vec![1, 2]]));
        let (s, _) = collapse(&[1, 1], &[vec![1, 1]]);
        assert!(s.is_empty());
    }
}
