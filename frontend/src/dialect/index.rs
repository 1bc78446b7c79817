//! ONNX ops that read elements at computed indices: `Gather`, `GatherND`.
//!
//! Invariants: index values may be negative (counting from the end of
//! their dim); an index outside `[-n, n - 1]` is an evaluation error
//! naming the index and the dim, never a panic.

use super::util_b::{attr_int, axis_in, int_operand, ints, operand, strides, take, tensor_type, unify_dims};
use weft_ir::ops::{Arity, AttrKind, AttrSpec, OpDef, OpInfo, Trait};
use weft_ir::tensor::Tensor;
use weft_ir::types::{Dim, Type};
use weft_ir::Attrs;

pub const GATHER: OpDef = OpDef {
    name: "onnx.Gather",
    summary: "Selects slices of `data` along `axis` at the given indices",
    description: "The result shape is `data.shape[:axis] + indices.shape + data.shape[axis+1:]`; \
`out[i.., j.., k..] = data[i.., indices[j..], k..]`. Indices are i32 or i64 and may be negative \
(counting from the end); out-of-range indices are an error.\n\n\
```\n%2 = onnx.Gather %0, %1 {axis = 0} : (tensor<30522x768xf32>, tensor<[batch]x128xi64>) -> tensor<[batch]x128x768xf32>\n```",
    operands: Arity::Fixed(&["data", "indices"]),
    results: Arity::Fixed(&["output"]),
    attrs: &[AttrSpec {
        name: "axis",
        kind: AttrKind::Int,
        required: false,
        doc: "the gathered axis, in [-r, r-1] (default 0)",
    }],
    traits: &[Trait::Pure],
    infer: Some(infer_gather),
    eval: Some(eval_gather),
    ..OpDef::DEFAULT
};

pub const GATHER_ND: OpDef = OpDef {
    name: "onnx.GatherND",
    summary: "Selects slices of `data` at index tuples given by the last dim of `indices`",
    description: "With `b = batch_dims` and `k = indices.shape[-1]` (1 <= k <= rank(data) - b), \
the first `b` dims of `data` and `indices` are batch dims (equal extents), and each k-tuple of \
`indices` addresses a slice `data[batch.., i1, .., ik, ...]`. The result shape is \
`indices.shape[:-1] + data.shape[b+k:]`. Negative indices count from the end.\n\n\
```\n%2 = onnx.GatherND %0, %1 : (tensor<2x2xf32>, tensor<2x2xi64>) -> tensor<2xf32>\n```",
    operands: Arity::Fixed(&["data", "indices"]),
    results: Arity::Fixed(&["output"]),
    attrs: &[AttrSpec {
        name: "batch_dims",
        kind: AttrKind::Int,
        required: false,
        doc: "the number of leading batch dims (default 0)",
    }],
    traits: &[Trait::Pure],
    infer: Some(infer_gather_nd),
    eval: Some(eval_gather_nd),
    ..OpDef::DEFAULT
};

fn infer_gather(info: &OpInfo) -> Result<Vec<Type>, String> {
    let data = operand(info, 0)?;
    let indices = int_operand(info, 1)?;
    if data.rank() == 0 {
        return Err("'data' must have rank >= 1".into());
    }
    let axis = axis_in(attr_int(info.attrs, "axis", 0)?, data.rank(), "'axis'")?;
    let mut dims = data.dims[..axis].to_vec();
    dims.extend(indices.dims.iter().cloned());
    dims.extend(data.dims[axis + 1..].iter().cloned());
    Ok(vec![tensor_type(dims, data.elem.clone())])
}

/// Resolves a possibly negative index into a dim of extent `n`.
pub fn resolve_index(i: i64, n: u64, what: &str) -> Result<u64, String> {
    let n_signed = i64::try_from(n).map_err(|_| "dim too large")?;
    let j = if i < 0 { i + n_signed } else { i };
    if (0..n_signed).contains(&j) {
        Ok(j as u64)
    } else {
        Err(format!("{what} {i} is out of range for a dim of extent {n}"))
    }
}

fn eval_gather(ops: &[Tensor], attrs: &Attrs, _: &[Type]) -> Result<Vec<Tensor>, String> {
    let (data, indices) = (&ops[0], &ops[1]);
    if data.shape.is_empty() {
        return Err("'data' must have rank >= 1".into());
    }
    let axis = axis_in(attr_int(attrs, "axis", 0)?, data.shape.len(), "'axis'")?;
    let extent = data.shape[axis];
    let idx: Vec<u64> =
        ints(indices, "'indices'")?.iter().map(|&i| resolve_index(i, extent, "index")).collect::<Result<_, _>>()?;
    let inner: u64 = data.shape[axis + 1..].iter().product();
    let mut shape = data.shape[..axis].to_vec();
    shape.extend(&indices.shape);
    shape.extend(&data.shape[axis + 1..]);
    let per_outer = idx.len() as u64 * inner;
    let out = take(data, shape, |flat| {
        let flat = flat as u64;
        let (outer, rest) = (flat / per_outer.max(1), flat % per_outer.max(1));
        let (j, k) = (rest / inner.max(1), rest % inner.max(1));
        Ok(((outer * extent + idx[j as usize]) * inner + k) as usize)
    })?;
    Ok(vec![out])
}

/// GatherND's batch dims and tuple length, checked against the ranks.
fn gather_nd_geometry(data_rank: usize, idx_dims: &[Dim], attrs: &Attrs) -> Result<(usize, usize), String> {
    let b = attr_int(attrs, "batch_dims", 0)?;
    let q = idx_dims.len();
    if q == 0 || data_rank == 0 {
        return Err("'data' and 'indices' must have rank >= 1".into());
    }
    let b = usize::try_from(b).map_err(|_| format!("'batch_dims' must be >= 0, got {b}"))?;
    if b >= q.min(data_rank) {
        return Err(format!("'batch_dims' {b} must be smaller than both ranks ({data_rank} and {q})"));
    }
    let k = match &idx_dims[q - 1] {
        Dim::Fixed(k) => *k as usize,
        d => return Err(format!("the last dim of 'indices' must be static, got {d}")),
    };
    if k == 0 || k > data_rank - b {
        return Err(format!("the last dim of 'indices' is {k}; it must be in [1, {}]", data_rank - b));
    }
    Ok((b, k))
}

fn infer_gather_nd(info: &OpInfo) -> Result<Vec<Type>, String> {
    let data = operand(info, 0)?;
    let indices = int_operand(info, 1)?;
    let (b, k) = gather_nd_geometry(data.rank(), &indices.dims, info.attrs)?;
    let q = indices.rank();
    let mut dims = Vec::new();
    for (i, d) in indices.dims[..q - 1].iter().enumerate() {
        dims.push(if i < b {
            unify_dims(&data.dims[i], d).map_err(|e| format!("batch dim {i}: {e}"))?
        } else {
            d.clone()
        });
    }
    dims.extend(data.dims[b + k..].iter().cloned());
    Ok(vec![tensor_type(dims, data.elem.clone())])
}

fn eval_gather_nd(ops: &[Tensor], attrs: &Attrs, _: &[Type]) -> Result<Vec<Tensor>, String> {
    let (data, indices) = (&ops[0], &ops[1]);
    let idx_dims = super::util_b::fixed_dims(&indices.shape);
    let (b, k) = gather_nd_geometry(data.shape.len(), &idx_dims, attrs)?;
    if data.shape[..b] != indices.shape[..b] {
        return Err(format!("batch dims differ: {:?} vs {:?}", &data.shape[..b], &indices.shape[..b]));
    }
    let q = indices.shape.len();
    let tuples: u64 = indices.shape[..q - 1].iter().product();
    let per_batch: u64 = indices.shape[b..q - 1].iter().product();
    let slice: u64 = data.shape[b + k..].iter().product();
    let batch_size: u64 = data.shape[b..].iter().product();
    let data_strides = strides(&data.shape);
    let values = ints(indices, "'indices'")?;
    let mut starts = Vec::with_capacity(tuples as usize);
    for t in 0..tuples {
        let mut offset = (t / per_batch.max(1)) * batch_size;
        for j in 0..k {
            let i = values[(t as usize) * k + j];
            offset += resolve_index(i, data.shape[b + j], "index")? * data_strides[b + j];
        }
        starts.push(offset);
    }
    let mut shape = indices.shape[..q - 1].to_vec();
    shape.extend(&data.shape[b + k..]);
    let out = take(data, shape, |flat| {
        let flat = flat as u64;
        Ok((starts[(flat / slice.max(1)) as usize] + flat % slice.max(1)) as usize)
    })?;
    Ok(vec![out])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dialect::testing_b::*;
    use weft_ir::types::ElemType;

    #[test]
    fn gather_shapes_carry_symbols() {
        let args = [Arg::Ty(f32ty("30522x768")), Arg::Ty(ty("[batch]x128", ElemType::I64))];
        assert_eq!(infer1(&GATHER, &args, &Attrs::new()), "tensor<[batch]x128x768xf32>");
        let args = [Arg::Ty(f32ty("2x[n]x4")), Arg::Ty(ty("", ElemType::I64))];
        assert_eq!(infer1(&GATHER, &args, &attrs(&[("axis", int(-2))])), "tensor<2x4xf32>");
        let args = [Arg::Ty(f32ty("2x3")), Arg::Ty(ty("", ElemType::I64))];
        infer_err(&GATHER, &args, &attrs(&[("axis", int(2))]), "out of range");
        let args = [Arg::Ty(f32ty("2x3")), Arg::Ty(f32ty("1"))];
        infer_err(&GATHER, &args, &Attrs::new(), "integer element type");
    }

    #[test]
    fn gather_axis_1_with_negative_indices() {
        // onnx docs example: data 3x3, indices [[0, 2]], axis 1.
        let data = f32t(&[3, 3], &[1.0, 1.2, 1.9, 2.3, 3.4, 3.9, 4.5, 5.7, 5.9]);
        let out = eval1(&GATHER, &[data.clone(), i64t(&[1, 2], &[0, -1])], &attrs(&[("axis", int(1))]));
        assert_eq!(out.shape, vec![3, 1, 2]);
        assert_eq!(vals(&out), vec![1.0, 1.9, 2.3, 3.9, 4.5, 5.9]);
        let rows = eval1(&GATHER, &[data.clone(), i64t(&[], &[1])], &Attrs::new());
        assert_eq!((rows.shape.clone(), vals(&rows)), (vec![3], vec![2.3, 3.4, 3.9]));
        let bad = eval(&GATHER, &[data, i64t(&[1], &[3])], &Attrs::new());
        assert!(bad.unwrap_err().contains("index 3 is out of range"));
    }

    #[test]
    fn gather_nd_docs_examples() {
        let data = f32t(&[2, 2], &[0., 1., 2., 3.]);
        let out = eval1(&GATHER_ND, &[data.clone(), i64t(&[2, 2], &[0, 0, 1, 1])], &Attrs::new());
        assert_eq!(vals(&out), vec![0., 3.]);
        let out = eval1(&GATHER_ND, &[data, i64t(&[2, 1], &[1, 0])], &Attrs::new());
        assert_eq!((out.shape.clone(), vals(&out)), (vec![2, 2], vec![2., 3., 0., 1.]));
        // batch_dims = 1: data [2,2,2], indices [[1],[0]] -> [[2,3],[4,5]].
        let out = eval1(&GATHER_ND, &[iota(&[2, 2, 2]), i64t(&[2, 1], &[1, 0])], &attrs(&[("batch_dims", int(1))]));
        assert_eq!((out.shape.clone(), vals(&out)), (vec![2, 2], vec![2., 3., 4., 5.]));
        let out = eval1(&GATHER_ND, &[iota(&[2, 2, 2]), i64t(&[2, 1, 2], &[0, 1, -1, 0])], &Attrs::new());
        assert_eq!((out.shape.clone(), vals(&out)), (vec![2, 1, 2], vec![2., 3., 4., 5.]));
    }

    #[test]
    fn gather_nd_infers_and_checks_tuple_length() {
        let args = [Arg::Ty(f32ty("[b]x5x6")), Arg::Ty(ty("?x3x2", ElemType::I64))];
        assert_eq!(infer1(&GATHER_ND, &args, &attrs(&[("batch_dims", int(1))])), "tensor<[b]x3xf32>");
        let args = [Arg::Ty(f32ty("2x5")), Arg::Ty(ty("3x3", ElemType::I64))];
        infer_err(&GATHER_ND, &args, &Attrs::new(), "must be in [1, 2]");
        let args = [Arg::Ty(f32ty("2x5")), Arg::Ty(ty("3x?", ElemType::I64))];
        infer_err(&GATHER_ND, &args, &Attrs::new(), "must be static");
        let bad = eval(&GATHER_ND, &[iota(&[2, 2]), i64t(&[1, 2], &[0, 2])], &Attrs::new());
        assert!(bad.unwrap_err().contains("out of range"));
    }
}
