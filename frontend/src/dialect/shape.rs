//! ONNX ops that change a tensor's shape without computing on its values:
//! `Reshape`, `Transpose`, `Flatten`, `Squeeze`, `Unsqueeze`, `Expand`.
//!
//! Invariants: shape operands (Reshape `shape`, Squeeze/Unsqueeze `axes`,
//! Expand `shape`) are read through `OpInfo::constant` during inference;
//! when unknown, the result has the right rank (from the operand's static
//! length) and `?` dims. Symbolic input dims are carried wherever the
//! result dim provably equals them.

use super::util_b::{
    attr_flag, attr_int, attr_ints, check_max_operands, const_ints, dim_product, int_operand, ints, operand,
    shape_from_values, strides, take, tensor_type, unflatten, unique_axes, vector_len,
};
use weft_ir::ops::shape::{broadcast_shapes, check_perm};
use weft_ir::ops::{Arity, AttrKind, AttrSpec, OpDef, OpInfo, Trait};
use weft_ir::tensor::Tensor;
use weft_ir::types::{Dim, Type};
use weft_ir::Attrs;

const ONE_RESULT: Arity = Arity::Fixed(&["output"]);

pub const RESHAPE: OpDef = OpDef {
    name: "onnx.Reshape",
    summary: "Gives the data a new shape read from the `shape` operand",
    description: "The elements keep their row-major order. In `shape` (a 1-D i64 tensor), `-1` (at \
most once) stands for the extent that keeps the element count, and `0` copies the input's extent at \
the same index (with `allowzero = 1`, `0` is a real zero extent and may not be combined with `-1`). \
Shape inference reads `shape` when it is a constant: a copied dim keeps its symbol, and `-1` becomes \
a symbol when the other extents cancel every input dim but one symbolic dim; otherwise result dims \
are `?`. A `shape` operand of unknown length is an error (the result rank must be known).\n\n\
```\n%2 = onnx.Reshape %0, %1 : (tensor<[batch]x128x768xf32>, tensor<4xi64>) -> tensor<[batch]x128x12x64xf32>\n```",
    operands: Arity::Fixed(&["data", "shape"]),
    results: ONE_RESULT,
    attrs: &[AttrSpec {
        name: "allowzero",
        kind: AttrKind::Int,
        required: false,
        doc: "1: a 0 in `shape` is a zero extent; 0 (default): it copies the input extent",
    }],
    traits: &[Trait::Pure],
    infer: Some(infer_reshape),
    eval: Some(eval_reshape),
    ..OpDef::DEFAULT
};

pub const TRANSPOSE: OpDef = OpDef {
    name: "onnx.Transpose",
    summary: "Permutes dimensions: result dim i is input dim perm[i]",
    description: "Without `perm`, the dimensions are reversed.\n\n\
```\n%1 = onnx.Transpose %0 {perm = [0, 2, 1, 3]} : (tensor<1x128x12x64xf32>) -> tensor<1x12x128x64xf32>\n```",
    operands: Arity::Fixed(&["data"]),
    results: ONE_RESULT,
    attrs: &[AttrSpec {
        name: "perm",
        kind: AttrKind::Ints,
        required: false,
        doc: "a permutation of 0..rank; default: reversed dims",
    }],
    traits: &[Trait::Pure],
    infer: Some(infer_transpose),
    eval: Some(eval_transpose),
    ..OpDef::DEFAULT
};

pub const FLATTEN: OpDef = OpDef {
    name: "onnx.Flatten",
    summary: "Reshapes to 2-D: dims before `axis` form the rows, the rest the columns",
    description: "The result is `[d0 * ... * d(axis-1), d(axis) * ... * d(r-1)]`; an empty \
product is 1. A product of one symbolic dim and 1s keeps the symbol; other products with symbolic \
dims are `?`.\n\n\
```\n%1 = onnx.Flatten %0 {axis = 1} : (tensor<[batch]x3x4xf32>) -> tensor<[batch]x12xf32>\n```",
    operands: Arity::Fixed(&["input"]),
    results: ONE_RESULT,
    attrs: &[AttrSpec {
        name: "axis",
        kind: AttrKind::Int,
        required: false,
        doc: "in [-r, r]; negative counts from the end; default 1",
    }],
    traits: &[Trait::Pure],
    infer: Some(infer_flatten),
    eval: Some(eval_flatten),
    ..OpDef::DEFAULT
};

pub const SQUEEZE: OpDef = OpDef {
    name: "onnx.Squeeze",
    summary: "Removes extent-1 dimensions (those listed in `axes`, or all)",
    description: "`axes` (optional 1-D i64 operand) lists the dims to remove, each of extent 1; \
without it every extent-1 dim is removed, which shape inference can only do when no dim is \
symbolic or `?` (otherwise it is an error: the result rank would be unknown).\n\n\
```\n%2 = onnx.Squeeze %0, %1 : (tensor<1x[seq]x1xf32>, tensor<1xi64>) -> tensor<1x[seq]xf32>\n```",
    operands: Arity::Variadic { name: "data, axes", min: 1 },
    results: ONE_RESULT,
    traits: &[Trait::Pure],
    infer: Some(infer_squeeze),
    eval: Some(eval_squeeze),
    ..OpDef::DEFAULT
};

pub const UNSQUEEZE: OpDef = OpDef {
    name: "onnx.Unsqueeze",
    summary: "Inserts extent-1 dimensions at the result positions listed in `axes`",
    description: "`axes` (1-D i64) holds positions in the result (rank r + len(axes)), negative \
ones counting from its end, without repeats.\n\n\
```\n%2 = onnx.Unsqueeze %0, %1 : (tensor<[batch]x128xi64>, tensor<2xi64>) -> tensor<[batch]x1x1x128xi64>\n```",
    operands: Arity::Fixed(&["data", "axes"]),
    results: ONE_RESULT,
    traits: &[Trait::Pure],
    infer: Some(infer_unsqueeze),
    eval: Some(eval_unsqueeze),
    ..OpDef::DEFAULT
};

pub const EXPAND: OpDef = OpDef {
    name: "onnx.Expand",
    summary: "Broadcasts the input against the shape in the `shape` operand",
    description: "The result shape is the numpy broadcast of the input shape and `shape` (a 1-D \
i64 tensor; either side may have extent 1 where the other does not), so `shape` may also be \
smaller than the input's.\n\n\
```\n%2 = onnx.Expand %0, %1 : (tensor<1x1x128xf32>, tensor<3xi64>) -> tensor<4x1x128xf32>\n```",
    operands: Arity::Fixed(&["input", "shape"]),
    results: ONE_RESULT,
    traits: &[Trait::Pure],
    infer: Some(infer_expand),
    eval: Some(eval_expand),
    ..OpDef::DEFAULT
};

/// Rejects a shape operand that is not a 1-D integer tensor; returns its
/// static length.
fn shape_operand_len(info: &OpInfo, i: usize) -> Result<Option<u64>, String> {
    int_operand(info, i)?;
    vector_len(info, i)
}

fn infer_reshape(info: &OpInfo) -> Result<Vec<Type>, String> {
    let data = operand(info, 0)?;
    let len = shape_operand_len(info, 1)?;
    let allowzero = attr_flag(info.attrs, "allowzero", false)?;
    let dims = match (const_ints(info, 1), len) {
        (Some(values), _) => reshape_dims(&data.dims, &values, allowzero)?,
        (None, Some(n)) => vec![Dim::Dyn; n as usize],
        (None, None) => return Err("the 'shape' operand has unknown length, so the result rank is unknown".into()),
    };
    Ok(vec![tensor_type(dims, data.elem.clone())])
}

/// The result dims of Reshape from the input dims and the `shape` values.
fn reshape_dims(input: &[Dim], values: &[i64], allowzero: bool) -> Result<Vec<Dim>, String> {
    if let Some(v) = values.iter().find(|&&v| v < -1) {
        return Err(format!("'shape' has an invalid extent {v} (extents are >= -1)"));
    }
    let inferred: Vec<usize> = (0..values.len()).filter(|&i| values[i] == -1).collect();
    if inferred.len() > 1 {
        return Err(format!("'shape' {values:?} has more than one -1"));
    }
    if allowzero && !inferred.is_empty() && values.contains(&0) {
        return Err(format!("'shape' {values:?} combines 0 and -1 with allowzero = 1"));
    }
    let mut dims = Vec::with_capacity(values.len());
    for (i, &v) in values.iter().enumerate() {
        dims.push(match v {
            0 if !allowzero => input.get(i).cloned().ok_or_else(|| {
                format!("'shape' has 0 at index {i}, which copies a dim the rank-{} input does not have", input.len())
            })?,
            _ => Dim::Fixed(v.max(0) as u64),
        });
    }
    match inferred.first() {
        Some(&at) => {
            let others: Vec<Dim> = dims.iter().enumerate().filter(|&(i, _)| i != at).map(|(_, d)| d.clone()).collect();
            dims[at] = quotient_dim(input, &others)?;
        }
        None => check_same_count(input, &dims)?,
    }
    Ok(dims)
}

/// A product of dims split into its fixed factor and its symbols; `None`
/// when a dim is `?` or the product overflows.
fn factor(dims: &[Dim]) -> Option<(u64, Vec<&str>)> {
    let mut fixed = 1u64;
    let mut syms = Vec::new();
    for d in dims {
        match d {
            Dim::Fixed(n) => fixed = fixed.checked_mul(*n)?,
            Dim::Sym(s) => syms.push(s.as_str()),
            Dim::Dyn => return None,
        }
    }
    Some((fixed, syms))
}

/// The dim `x` with `product(input) = x * product(others)`.
fn quotient_dim(input: &[Dim], others: &[Dim]) -> Result<Dim, String> {
    let (Some((num, mut num_syms)), Some((den, den_syms))) = (factor(input), factor(others)) else {
        return Ok(Dim::Dyn);
    };
    let mut unmatched = 0;
    for s in den_syms {
        match num_syms.iter().position(|&n| n == s) {
            Some(p) => {
                num_syms.remove(p);
            }
            None => unmatched += 1,
        }
    }
    if unmatched > 0 {
        return Ok(Dim::Dyn);
    }
    if den == 0 {
        return Err("cannot infer the -1 extent: the other extents multiply to 0".into());
    }
    match num_syms.as_slice() {
        [] if num % den == 0 => Ok(Dim::Fixed(num / den)),
        [] => Err(format!("cannot reshape {num} elements: {num} is not a multiple of {den}")),
        [s] if num == den => Ok(Dim::Sym(s.to_string())),
        _ => Ok(Dim::Dyn),
    }
}

/// Checks that two static shapes hold the same number of elements.
fn check_same_count(input: &[Dim], out: &[Dim]) -> Result<(), String> {
    if let (Some((a, sa)), Some((b, sb))) = (factor(input), factor(out)) {
        if sa.is_empty() && sb.is_empty() && a != b {
            return Err(format!("cannot reshape {a} elements into a shape of {b} elements"));
        }
    }
    Ok(())
}

fn static_dims(dims: &[Dim]) -> Result<Vec<u64>, String> {
    dims.iter().map(|d| d.fixed().ok_or_else(|| format!("internal: dim {d} of a concrete tensor"))).collect()
}

fn eval_reshape(ops: &[Tensor], attrs: &Attrs, _: &[Type]) -> Result<Vec<Tensor>, String> {
    let data = &ops[0];
    let values = ints(&ops[1], "'shape'")?;
    let allowzero = attr_flag(attrs, "allowzero", false)?;
    let input = super::util_b::fixed_dims(&data.shape);
    let shape = static_dims(&reshape_dims(&input, &values, allowzero)?)?;
    if shape.iter().product::<u64>() != data.numel() {
        return Err(format!("cannot reshape {:?} into {shape:?}", data.shape));
    }
    Ok(vec![Tensor { shape, ..data.clone() }])
}

/// The permutation of a Transpose: `perm`, or the reversed dims.
fn transpose_perm(attrs: &Attrs, rank: usize) -> Result<Vec<usize>, String> {
    match attr_ints(attrs, "perm")? {
        Some(perm) => {
            check_perm(&perm, rank)?;
            Ok(perm.iter().map(|&p| p as usize).collect())
        }
        None => Ok((0..rank).rev().collect()),
    }
}

fn infer_transpose(info: &OpInfo) -> Result<Vec<Type>, String> {
    let t = operand(info, 0)?;
    let perm = transpose_perm(info.attrs, t.rank())?;
    Ok(vec![tensor_type(perm.iter().map(|&p| t.dims[p].clone()).collect(), t.elem.clone())])
}

/// The tensor with dims permuted: result dim i is input dim `perm[i]`.
pub fn permute(t: &Tensor, perm: &[usize]) -> Result<Tensor, String> {
    let shape: Vec<u64> = perm.iter().map(|&p| t.shape.get(p).copied().unwrap_or(1)).collect();
    let src_strides = strides(&t.shape);
    let mut idx = vec![0u64; shape.len()];
    take(t, shape.clone(), |flat| {
        unflatten(flat, &shape, &mut idx);
        Ok(idx.iter().zip(perm).map(|(&i, &p)| i * src_strides[p]).sum::<u64>() as usize)
    })
}

fn eval_transpose(ops: &[Tensor], attrs: &Attrs, _: &[Type]) -> Result<Vec<Tensor>, String> {
    let perm = transpose_perm(attrs, ops[0].shape.len())?;
    Ok(vec![permute(&ops[0], &perm)?])
}

/// Flatten's `axis`, resolved against `[-rank, rank]`.
fn flatten_axis(attrs: &Attrs, rank: usize) -> Result<usize, String> {
    let axis = attr_int(attrs, "axis", 1)?;
    let r = rank as i64;
    let a = if axis < 0 { axis + r } else { axis };
    if (0..=r).contains(&a) {
        Ok(a as usize)
    } else {
        Err(format!("'axis' {axis} is out of range [-{rank}, {rank}]"))
    }
}

fn infer_flatten(info: &OpInfo) -> Result<Vec<Type>, String> {
    let t = operand(info, 0)?;
    let axis = flatten_axis(info.attrs, t.rank())?;
    let dims = vec![dim_product(&t.dims[..axis]), dim_product(&t.dims[axis..])];
    Ok(vec![tensor_type(dims, t.elem.clone())])
}

fn eval_flatten(ops: &[Tensor], attrs: &Attrs, _: &[Type]) -> Result<Vec<Tensor>, String> {
    let t = &ops[0];
    let axis = flatten_axis(attrs, t.shape.len())?;
    let shape = vec![t.shape[..axis].iter().product(), t.shape[axis..].iter().product()];
    Ok(vec![Tensor { shape, ..t.clone() }])
}

/// The dims a Squeeze removes, from its `axes` values.
fn squeezed_dims(dims: &[Dim], axes: &[i64]) -> Result<Vec<Dim>, String> {
    let axes = unique_axes(axes, dims.len(), "axis")?;
    for &a in &axes {
        if let Dim::Fixed(n) = dims[a] {
            if n != 1 {
                return Err(format!("cannot squeeze dim {a} of extent {n} (it must be 1)"));
            }
        }
    }
    Ok(dims.iter().enumerate().filter(|(i, _)| !axes.contains(i)).map(|(_, d)| d.clone()).collect())
}

/// Squeeze without `axes`: every extent-1 dim goes.
fn squeeze_all(dims: &[Dim]) -> Result<Vec<Dim>, String> {
    if dims.iter().any(|d| d.fixed().is_none()) {
        return Err("without 'axes', Squeeze needs a static input shape (which dims are 1 is unknown)".into());
    }
    Ok(dims.iter().filter(|d| **d != Dim::Fixed(1)).cloned().collect())
}

fn infer_squeeze(info: &OpInfo) -> Result<Vec<Type>, String> {
    check_max_operands(info, 2)?;
    let t = operand(info, 0)?;
    let dims = if info.operand_types.len() < 2 {
        squeeze_all(&t.dims)?
    } else {
        let len = shape_operand_len(info, 1)?;
        match (const_ints(info, 1), len) {
            (Some(axes), _) => squeezed_dims(&t.dims, &axes)?,
            (None, Some(n)) if n as usize <= t.rank() => vec![Dim::Dyn; t.rank() - n as usize],
            (None, Some(n)) => return Err(format!("'axes' has {n} entries but the input has rank {}", t.rank())),
            (None, None) => return Err("the 'axes' operand has unknown length, so the result rank is unknown".into()),
        }
    };
    Ok(vec![tensor_type(dims, t.elem.clone())])
}

fn eval_squeeze(ops: &[Tensor], _: &Attrs, _: &[Type]) -> Result<Vec<Tensor>, String> {
    let t = &ops[0];
    let dims = super::util_b::fixed_dims(&t.shape);
    let out = match ops.get(1) {
        Some(axes) => squeezed_dims(&dims, &ints(axes, "'axes'")?)?,
        None => squeeze_all(&dims)?,
    };
    Ok(vec![Tensor { shape: static_dims(&out)?, ..t.clone() }])
}

/// The dims after inserting 1s at `axes` (positions in the result).
fn unsqueezed_dims(dims: &[Dim], axes: &[i64]) -> Result<Vec<Dim>, String> {
    let rank = dims.len() + axes.len();
    let axes = unique_axes(axes, rank, "axis")?;
    let mut rest = dims.iter();
    Ok((0..rank)
        .map(|i| if axes.contains(&i) { Dim::Fixed(1) } else { rest.next().cloned().unwrap_or(Dim::Dyn) })
        .collect())
}

fn infer_unsqueeze(info: &OpInfo) -> Result<Vec<Type>, String> {
    let t = operand(info, 0)?;
    let len = shape_operand_len(info, 1)?;
    let dims = match (const_ints(info, 1), len) {
        (Some(axes), _) => unsqueezed_dims(&t.dims, &axes)?,
        (None, Some(n)) => vec![Dim::Dyn; t.rank() + n as usize],
        (None, None) => return Err("the 'axes' operand has unknown length, so the result rank is unknown".into()),
    };
    Ok(vec![tensor_type(dims, t.elem.clone())])
}

fn eval_unsqueeze(ops: &[Tensor], _: &Attrs, _: &[Type]) -> Result<Vec<Tensor>, String> {
    let t = &ops[0];
    let out = unsqueezed_dims(&super::util_b::fixed_dims(&t.shape), &ints(&ops[1], "'axes'")?)?;
    Ok(vec![Tensor { shape: static_dims(&out)?, ..t.clone() }])
}

/// One result dim of Expand where the requested extent is unknown: the
/// input's extent unless it is 1 (or missing), in which case it is unknown.
fn expand_unknown(input: Option<&Dim>) -> Dim {
    match input {
        Some(Dim::Fixed(1)) | None => Dim::Dyn,
        Some(d) => d.clone(),
    }
}

fn infer_expand(info: &OpInfo) -> Result<Vec<Type>, String> {
    let t = operand(info, 0)?;
    let len = shape_operand_len(info, 1)?;
    let dims = match (const_ints(info, 1), len) {
        (Some(values), _) => {
            let shape = super::util_b::fixed_dims(&shape_from_values(&values, "'shape'")?);
            broadcast_shapes(&t.dims, &shape)?
        }
        (None, Some(n)) => {
            let rank = t.rank().max(n as usize);
            let pad = rank - t.rank();
            (0..rank).map(|i| expand_unknown(i.checked_sub(pad).and_then(|j| t.dims.get(j)))).collect()
        }
        (None, None) => return Err("the 'shape' operand has unknown length, so the result rank is unknown".into()),
    };
    Ok(vec![tensor_type(dims, t.elem.clone())])
}

/// Broadcasts `t` to `shape` (which must be a broadcast of its shape).
pub fn broadcast_to(t: &Tensor, shape: &[u64]) -> Result<Tensor, String> {
    let pad = shape.len().checked_sub(t.shape.len()).ok_or("cannot broadcast to a lower rank")?;
    let src_strides = strides(&t.shape);
    let mut idx = vec![0u64; shape.len()];
    take(t, shape.to_vec(), |flat| {
        unflatten(flat, shape, &mut idx);
        let mut s = 0;
        for (j, (&d, &st)) in t.shape.iter().zip(&src_strides).enumerate() {
            if d != 1 {
                s += idx[pad + j] * st;
            }
        }
        Ok(s as usize)
    })
}

fn eval_expand(ops: &[Tensor], _: &Attrs, _: &[Type]) -> Result<Vec<Tensor>, String> {
    let t = &ops[0];
    let target = shape_from_values(&ints(&ops[1], "'shape'")?, "'shape'")?;
    let dims = broadcast_shapes(&super::util_b::fixed_dims(&t.shape), &super::util_b::fixed_dims(&target))?;
    Ok(vec![broadcast_to(t, &static_dims(&dims)?)?])
}

#[cfg(test)]
mod tests;
