//! ONNX matrix products on float and integer tensors: `MatMul` (numpy
//! `matmul`, including rank-1 operands) and `Gemm`. The batched-matmul
//! geometry ([`MatmulPlan`]) is shared with the quantized products.
//!
//! Invariants: float products accumulate in f64 and round once per output
//! element to the element type; integer products accumulate with wrapping
//! in i64 and wrap to the element width (equal to wrapping in the element
//! width itself).

use super::util_b::{
    attr_flag, attr_float, check_max_operands, checked_numel, numeric_operand, operand, same_elem, tensor_type,
    unflatten, unify_dims,
};
use weft_ir::ops::shape::broadcast_shapes;
use weft_ir::ops::{Arity, AttrKind, AttrSpec, OpDef, OpInfo, Trait};
use weft_ir::tensor::{Scalar, Tensor};
use weft_ir::types::{Dim, Type};
use weft_ir::Attrs;

pub const MATMUL: OpDef = OpDef {
    name: "onnx.MatMul",
    summary: "Matrix product with numpy `matmul` semantics",
    description: "Operands of rank >= 2 are stacks of matrices whose batch dims broadcast; a \
rank-1 left operand is a row vector (its dim is removed from the result), a rank-1 right operand \
a column vector. Float products accumulate in f64 and round once per element; integer products \
wrap to the element width.\n\n\
```\n%2 = onnx.MatMul %0, %1 : (tensor<1x128x384xf32>, tensor<384x384xf32>) -> tensor<1x128x384xf32>\n```",
    operands: Arity::Fixed(&["A", "B"]),
    results: Arity::Fixed(&["Y"]),
    traits: &[Trait::Pure],
    infer: Some(infer_matmul),
    eval: Some(eval_matmul),
    ..OpDef::DEFAULT
};

pub const GEMM: OpDef = OpDef {
    name: "onnx.Gemm",
    summary: "alpha * A' x B' + beta * C on matrices (A' = A or its transpose)",
    description: "`A` is MxK (KxM with `transA = 1`), `B` is KxN (NxK with `transB = 1`), and the \
optional `C` broadcasts to MxN (numpy rules, C's side only). The product accumulates in f64, and \
`alpha * acc + beta * c` is rounded once to the element type. For integer types the product is \
exact (wrapping) and a scale other than 1 is applied in f64 with truncation toward zero.\n\n\
```\n%3 = onnx.Gemm %0, %1, %2 {transB = 1} : (tensor<1x768xf32>, tensor<1000x768xf32>, tensor<1000xf32>) -> tensor<1x1000xf32>\n```",
    operands: Arity::Variadic { name: "A, B, C", min: 2 },
    results: Arity::Fixed(&["Y"]),
    attrs: &[
        AttrSpec { name: "alpha", kind: AttrKind::Float, required: false, doc: "scale of A' x B' (default 1.0)" },
        AttrSpec { name: "beta", kind: AttrKind::Float, required: false, doc: "scale of C (default 1.0)" },
        AttrSpec { name: "transA", kind: AttrKind::Int, required: false, doc: "1: use A transposed (default 0)" },
        AttrSpec { name: "transB", kind: AttrKind::Int, required: false, doc: "1: use B transposed (default 0)" },
    ],
    traits: &[Trait::Pure],
    infer: Some(infer_gemm),
    eval: Some(eval_gemm),
    ..OpDef::DEFAULT
};

/// The result dims of numpy `matmul` (rank-1 operands promoted, then
/// their added dim removed).
pub fn matmul_dims(a: &[Dim], b: &[Dim]) -> Result<Vec<Dim>, String> {
    if a.is_empty() || b.is_empty() {
        return Err("matmul operands must have rank >= 1".into());
    }
    let a2: Vec<Dim> = if a.len() == 1 { vec![Dim::Fixed(1), a[0].clone()] } else { a.to_vec() };
    let b2: Vec<Dim> = if b.len() == 1 { vec![b[0].clone(), Dim::Fixed(1)] } else { b.to_vec() };
    let (ab, am) = a2.split_at(a2.len() - 2);
    let (bb, bm) = b2.split_at(b2.len() - 2);
    unify_dims(&am[1], &bm[0]).map_err(|e| format!("contraction dims differ: {e}"))?;
    let mut out = broadcast_shapes(ab, bb)?;
    if a.len() > 1 {
        out.push(am[0].clone());
    }
    if b.len() > 1 {
        out.push(bm[1].clone());
    }
    Ok(out)
}

/// The geometry of a numpy `matmul` over static shapes (rank-1 operands
/// promoted): `A` is a stack of `m x k` matrices, `B` of `k x n` ones, and
/// output matrix `batch` multiplies matrices `batches[batch]` of each.
#[derive(Debug, Clone, PartialEq)]
pub struct MatmulPlan {
    pub m: usize,
    pub k: usize,
    pub n: usize,
    pub batches: Vec<(usize, usize)>,
    pub out_shape: Vec<u64>,
}

/// One output element of a [`MatmulPlan`]: row `i`, column `j` of the
/// product of matrix `a` of A and matrix `b` of B.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Cell {
    pub a: usize,
    pub b: usize,
    pub i: usize,
    pub j: usize,
}

impl MatmulPlan {
    pub fn new(a: &[u64], b: &[u64]) -> Result<MatmulPlan, String> {
        let fixed = super::util_b::fixed_dims;
        let out_dims = matmul_dims(&fixed(a), &fixed(b))?;
        let out_shape: Vec<u64> = out_dims.iter().map(|d| d.fixed().unwrap_or(0)).collect();
        checked_numel(&out_shape)?;
        let a2: Vec<u64> = if a.len() == 1 { vec![1, a[0]] } else { a.to_vec() };
        let b2: Vec<u64> = if b.len() == 1 { vec![b[0], 1] } else { b.to_vec() };
        let (ab, am) = a2.split_at(a2.len() - 2);
        let (bb, bm) = b2.split_at(b2.len() - 2);
        let batch: Vec<u64> =
            broadcast_shapes(&fixed(ab), &fixed(bb))?.iter().map(|d| d.fixed().unwrap_or(0)).collect();
        let nb = checked_numel(&batch)? as usize;
        let mut idx = vec![0u64; batch.len()];
        let mut batches = Vec::with_capacity(nb);
        for bi in 0..nb {
            unflatten(bi, &batch, &mut idx);
            batches.push((batch_offset(&idx, ab), batch_offset(&idx, bb)));
        }
        Ok(MatmulPlan { m: am[0] as usize, k: am[1] as usize, n: bm[1] as usize, batches, out_shape })
    }

    /// Computes every output element with `cell`, in row-major order.
    pub fn map<T>(&self, mut cell: impl FnMut(Cell) -> T) -> Vec<T> {
        let mut out = Vec::with_capacity(self.batches.len() * self.m * self.n);
        for &(a, b) in &self.batches {
            for i in 0..self.m {
                for j in 0..self.n {
                    out.push(cell(Cell { a, b, i, j }));
                }
            }
        }
        out
    }

    /// The flat index in A of element `p` of the cell's row.
    pub fn a_index(&self, c: Cell, p: usize) -> usize {
        (c.a * self.m + c.i) * self.k + p
    }

    /// The flat index in B of element `p` of the cell's column.
    pub fn b_index(&self, c: Cell, p: usize) -> usize {
        (c.b * self.k + p) * self.n + c.j
    }
}

/// The matrix index within a (broadcast) batch shape `shape` of output
/// batch multi-index `idx` (aligned at the right).
fn batch_offset(idx: &[u64], shape: &[u64]) -> usize {
    let pad = idx.len() - shape.len();
    let mut off = 0u64;
    for (j, &d) in shape.iter().enumerate() {
        off = off * d + if d == 1 { 0 } else { idx[pad + j] };
    }
    off as usize
}

fn infer_matmul(info: &OpInfo) -> Result<Vec<Type>, String> {
    let (a, b) = (numeric_operand(info, 0)?, numeric_operand(info, 1)?);
    same_elem(info, 0, 1)?;
    Ok(vec![tensor_type(matmul_dims(&a.dims, &b.dims)?, a.elem.clone())])
}

/// The dot product of a cell's row and column (f64 or wrapping i64).
fn dot(plan: &MatmulPlan, a: &[Scalar], b: &[Scalar], c: Cell) -> Scalar {
    let (mut f, mut i) = (0f64, 0i64);
    for p in 0..plan.k {
        match (a[plan.a_index(c, p)], b[plan.b_index(c, p)]) {
            (Scalar::Int(x), Scalar::Int(y)) => i = i.wrapping_add(x.wrapping_mul(y)),
            (x, y) => f += weft_ir::ops::eval::as_f64(x) * weft_ir::ops::eval::as_f64(y),
        }
    }
    match a.first() {
        Some(Scalar::Int(_)) => Scalar::Int(i),
        _ => Scalar::Float(f),
    }
}

fn scalars(t: &Tensor) -> Vec<Scalar> {
    (0..t.data.len()).map(|i| t.data.get(i)).collect()
}

fn eval_matmul(ops: &[Tensor], _: &Attrs, _: &[Type]) -> Result<Vec<Tensor>, String> {
    let (a, b) = (&ops[0], &ops[1]);
    if a.elem != b.elem {
        return Err(format!("element types differ: {} vs {}", a.elem, b.elem));
    }
    let plan = MatmulPlan::new(&a.shape, &b.shape)?;
    let (av, bv) = (scalars(a), scalars(b));
    let values = plan.map(|c| dot(&plan, &av, &bv, c));
    Ok(vec![super::util_b::build(&a.elem, plan.out_shape.clone(), values)])
}

/// Gemm's (M, K) or (K, N) from a 2-D operand, transposed if asked.
fn gemm_matrix(info: &OpInfo, i: usize, transposed: bool) -> Result<(Dim, Dim), String> {
    let t = numeric_operand(info, i)?;
    match t.dims.as_slice() {
        [r, c] if transposed => Ok((c.clone(), r.clone())),
        [r, c] => Ok((r.clone(), c.clone())),
        _ => Err(format!("operand #{i} must be 2-D, got {t}")),
    }
}

/// Checks that C's dims broadcast to `[m, n]` (C's side only).
fn check_gemm_c(c: &[Dim], m: &Dim, n: &Dim) -> Result<(), String> {
    if c.len() > 2 {
        return Err(format!("'C' must have rank <= 2, got rank {}", c.len()));
    }
    let target = [m, n];
    for (d, t) in c.iter().rev().zip(target.iter().rev()) {
        let ok = match (d.fixed(), t.fixed()) {
            (Some(1), _) => true,
            (Some(x), Some(y)) => x == y,
            _ => true,
        };
        if !ok {
            return Err(format!("'C' of dims {c:?} does not broadcast to [{m}, {n}]"));
        }
    }
    Ok(())
}

fn infer_gemm(info: &OpInfo) -> Result<Vec<Type>, String> {
    check_max_operands(info, 3)?;
    let trans_a = attr_flag(info.attrs, "transA", false)?;
    let trans_b = attr_flag(info.attrs, "transB", false)?;
    let (m, ka) = gemm_matrix(info, 0, trans_a)?;
    let (kb, n) = gemm_matrix(info, 1, trans_b)?;
    unify_dims(&ka, &kb).map_err(|e| format!("contraction dims differ: {e}"))?;
    same_elem(info, 0, 1)?;
    if info.operand_types.len() == 3 {
        same_elem(info, 0, 2)?;
        check_gemm_c(&operand(info, 2)?.dims, &m, &n)?;
    }
    Ok(vec![tensor_type(vec![m, n], operand(info, 0)?.elem.clone())])
}

/// `alpha * acc + beta * c` for one output element.
fn gemm_combine(acc: Scalar, c: Option<Scalar>, alpha: f64, beta: f64) -> Scalar {
    use weft_ir::ops::eval::as_f64;
    match acc {
        Scalar::Int(p) => {
            let scaled = if alpha == 1.0 { p } else { (alpha * p as f64) as i64 };
            let bias = match c {
                None => 0,
                Some(Scalar::Int(c)) if beta == 1.0 => c,
                Some(c) => (beta * as_f64(c)) as i64,
            };
            Scalar::Int(scaled.wrapping_add(bias))
        }
        Scalar::Float(p) => Scalar::Float(alpha * p + c.map_or(0.0, |c| beta * as_f64(c))),
    }
}

fn eval_gemm(ops: &[Tensor], attrs: &Attrs, _: &[Type]) -> Result<Vec<Tensor>, String> {
    let (a, b) = (&ops[0], &ops[1]);
    let (trans_a, trans_b) = (attr_flag(attrs, "transA", false)?, attr_flag(attrs, "transB", false)?);
    let (alpha, beta) = (attr_float(attrs, "alpha", 1.0)?, attr_float(attrs, "beta", 1.0)?);
    let (&[ar, ac], &[br, bc]) = (a.shape.as_slice(), b.shape.as_slice()) else {
        return Err("Gemm operands must be 2-D".into());
    };
    let (m, k) = if trans_a { (ac, ar) } else { (ar, ac) };
    let (kb, n) = if trans_b { (bc, br) } else { (br, bc) };
    if k != kb {
        return Err(format!("contraction dims differ: {k} vs {kb}"));
    }
    let c = match ops.get(2) {
        Some(c) => Some(super::shape::broadcast_to(c, &[m, n]).map_err(|e| format!("'C': {e}"))?),
        None => None,
    };
    let (av, bv) = (scalars(a), scalars(b));
    let at = |i: u64, p: u64| av[(if trans_a { p * m + i } else { i * k + p }) as usize];
    let bt = |p: u64, j: u64| bv[(if trans_b { j * k + p } else { p * n + j }) as usize];
    let float = a.elem.is_float();
    let mut values = Vec::with_capacity(checked_numel(&[m, n])? as usize);
    for i in 0..m {
        for j in 0..n {
            let (mut f, mut s) = (0f64, 0i64);
            for p in 0..k {
                match (at(i, p), bt(p, j)) {
                    (Scalar::Int(x), Scalar::Int(y)) => s = s.wrapping_add(x.wrapping_mul(y)),
                    (x, y) => f += weft_ir::ops::eval::as_f64(x) * weft_ir::ops::eval::as_f64(y),
                }
            }
            let acc = if float { Scalar::Float(f) } else { Scalar::Int(s) };
            values.push(gemm_combine(acc, c.as_ref().map(|c| c.data.get((i * n + j) as usize)), alpha, beta));
        }
    }
    Ok(vec![super::util_b::build(&a.elem, vec![m, n], values)])
}

#[cfg(test)]
mod tests;
