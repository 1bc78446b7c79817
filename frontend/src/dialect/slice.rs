//! ONNX ops that cut tensors apart and join them: `Slice`, `Split`,
//! `Concat`.
//!
//! Invariants: Slice's clamping follows the ONNX rules exactly (computed
//! in i128, so `INT64_MIN`/`INT64_MAX` bounds cannot overflow); Split's
//! result count comes from its `split` operand or `num_outputs`, never
//! from guessing.

use super::util_b::{
    attr_int, axis_in, check_max_operands, const_ints, int_operand, ints, operand, strides, take, tensor_type,
    unflatten, unify_dims, unique_axes, vector_len, MAX_RANK,
};
use weft_ir::ops::{Arity, AttrKind, AttrSpec, OpDef, OpInfo, Trait};
use weft_ir::tensor::{Tensor, TensorData};
use weft_ir::types::{Dim, Type};
use weft_ir::Attrs;

pub const SLICE: OpDef = OpDef {
    name: "onnx.Slice",
    summary: "Takes elements start, start + step, ... before end along the listed axes",
    description: "Operands: `data`, `starts`, `ends`, optional `axes` (default all dims in order) \
and `steps` (default 1), 1-D i32/i64 of one length. For each listed axis of extent `d`: negative \
`start`/`end` get `d` added; then for a positive step `start` and `end` are clamped to [0, d], for \
a negative step `start` to [0, d-1] and `end` to [-1, d-1]; the extent is \
`max(0, ceil((end - start) / step))`. So `INT64_MAX`/`INT64_MIN` mean \"to the end\". Step 0 and \
repeated axes are errors. If `steps` is given, `axes` must be present (the importer \
materializes the default). Shape inference needs constant operands for static extents; a \
symbolic dim survives a slice that provably keeps the whole dim (start 0, end >= 2^31 - 1, \
step 1, or its reverse), otherwise it becomes `?`.\n\n\
```\n%4 = onnx.Slice %0, %1, %2, %3 : (tensor<1x512x768xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<1x128x768xf32>\n```",
    operands: Arity::Variadic { name: "data, starts, ends, axes, steps", min: 3 },
    results: Arity::Fixed(&["output"]),
    traits: &[Trait::Pure],
    infer: Some(infer_slice),
    eval: Some(eval_slice),
    ..OpDef::DEFAULT
};

pub const CONCAT: OpDef = OpDef {
    name: "onnx.Concat",
    summary: "Joins tensors along `axis`",
    description: "All inputs have one element type and rank, and equal extents except along \
`axis`, whose result extent is the sum (`?` if any is not static).\n\n\
```\n%2 = onnx.Concat %0, %1 {axis = 0} : (tensor<2xi64>, tensor<1xi64>) -> tensor<3xi64>\n```",
    operands: Arity::Variadic { name: "inputs", min: 1 },
    results: Arity::Fixed(&["concat_result"]),
    attrs: &[AttrSpec { name: "axis", kind: AttrKind::Int, required: true, doc: "in [-r, r-1]" }],
    traits: &[Trait::Pure],
    infer: Some(infer_concat),
    eval: Some(eval_concat),
    ..OpDef::DEFAULT
};

pub const SPLIT: OpDef = OpDef {
    name: "onnx.Split",
    summary: "Cuts a tensor along `axis` into parts of the given extents",
    description: "The extents come from the optional `split` operand (1-D i64, summing to the \
dim), or else from `num_outputs` = n: n parts of `ceil(d / n)`, the last one smaller when `d` is \
not a multiple. Exactly one of them must be given (the importer converts older forms). The result \
count is the length of `split` or `num_outputs`.\n\n\
```\n%2:2 = onnx.Split %0, %1 {axis = 1} : (tensor<2x6xf32>, tensor<2xi64>) -> (tensor<2x2xf32>, tensor<2x4xf32>)\n```",
    operands: Arity::Variadic { name: "input, split", min: 1 },
    results: Arity::Variadic { name: "outputs", min: 1 },
    attrs: &[
        AttrSpec { name: "axis", kind: AttrKind::Int, required: false, doc: "in [-r, r-1] (default 0)" },
        AttrSpec {
            name: "num_outputs",
            kind: AttrKind::Int,
            required: false,
            doc: "the number of equal parts, when `split` is absent",
        },
    ],
    traits: &[Trait::Pure],
    infer: Some(infer_split),
    eval: Some(eval_split),
    ..OpDef::DEFAULT
};

/// The effective slice of one dim: first index, step and extent.
#[derive(Debug, Clone, Copy, PartialEq)]
struct DimSlice {
    start: i64,
    step: i64,
    len: u64,
}

/// Applies the ONNX clamping rules to one dim of extent `d`.
fn clamp_slice(d: u64, start: i64, end: i64, step: i64) -> DimSlice {
    let n = d as i128;
    let (mut s, mut e) = (start as i128, end as i128);
    if s < 0 {
        s += n;
    }
    if e < 0 {
        e += n;
    }
    let st = step as i128;
    let len = if step > 0 {
        let (s2, e2) = (s.clamp(0, n), e.clamp(0, n));
        s = s2;
        ((e2 - s2 + st - 1) / st).max(0)
    } else if n == 0 {
        s = 0;
        0
    } else {
        let (s2, e2) = (s.clamp(0, n - 1), e.clamp(-1, n - 1));
        s = s2;
        ((s2 - e2 - st - 1) / -st).max(0)
    };
    DimSlice { start: s as i64, step, len: len as u64 }
}

/// The per-axis parameters of a Slice, validated: (axis, start, end, step).
fn slice_params(
    rank: usize,
    starts: &[i64],
    ends: &[i64],
    axes: Option<&[i64]>,
    steps: Option<&[i64]>,
) -> Result<Vec<(usize, i64, i64, i64)>, String> {
    let n = starts.len();
    if ends.len() != n || axes.is_some_and(|a| a.len() != n) || steps.is_some_and(|s| s.len() != n) {
        return Err("'starts', 'ends', 'axes' and 'steps' must have one length".into());
    }
    let default_axes: Vec<i64> = (0..n as i64).collect();
    let axes = unique_axes(axes.unwrap_or(&default_axes), rank, "axis")?;
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let step = steps.map_or(1, |s| s[i]);
        if step == 0 {
            return Err(format!("'steps' has a 0 at index {i}"));
        }
        out.push((axes[i], starts[i], ends[i], step));
    }
    Ok(out)
}

/// Checks Slice's operand types; returns the static length of `starts`.
fn check_slice_operands(info: &OpInfo) -> Result<Option<u64>, String> {
    check_max_operands(info, 5)?;
    let mut len = None;
    for i in 1..info.operand_types.len() {
        int_operand(info, i)?;
        match (len, vector_len(info, i)?) {
            (Some(a), Some(b)) if a != b => return Err(format!("operand #{i} has {b} entries, expected {a}")),
            (None, l) => len = l,
            _ => {}
        }
    }
    Ok(len)
}

/// Where a symbolic dim provably survives a slice whole.
fn keeps_whole_dim(start: i64, end: i64, step: i64) -> bool {
    let far = i32::MAX as i64;
    (step == 1 && (start == 0 || start <= -far) && end >= far)
        || (step == -1 && (start >= far || start == -1) && end <= -far)
}

fn infer_slice(info: &OpInfo) -> Result<Vec<Type>, String> {
    let data = operand(info, 0)?;
    check_slice_operands(info)?;
    let present = |i: usize| i < info.operand_types.len();
    let consts: Vec<Option<Vec<i64>>> = (1..5).map(|i| if present(i) { const_ints(info, i) } else { None }).collect();
    let known = |i: usize| !present(i) || consts[i - 1].is_some();
    let mut dims = data.dims.clone();
    if !(known(3)) {
        return Ok(vec![tensor_type(vec![Dim::Dyn; data.rank()], data.elem.clone())]);
    }
    let (Some(starts), Some(ends)) = (&consts[0], &consts[1]) else {
        let axes: Vec<i64> = match &consts[2] {
            Some(a) => a.clone(),
            None => (0..data.rank() as i64).collect(),
        };
        for a in unique_axes(&axes, data.rank(), "axis")? {
            dims[a] = Dim::Dyn;
        }
        return Ok(vec![tensor_type(dims, data.elem.clone())]);
    };
    let steps = if known(4) { consts[3].as_deref() } else { None };
    let params = slice_params(data.rank(), starts, ends, consts[2].as_deref(), steps)?;
    for (axis, start, end, step) in params {
        let step = if known(4) { Some(step) } else { None };
        dims[axis] = match (&data.dims[axis], step) {
            (Dim::Fixed(d), Some(step)) => Dim::Fixed(clamp_slice(*d, start, end, step).len),
            (Dim::Sym(_), Some(step)) if keeps_whole_dim(start, end, step) => data.dims[axis].clone(),
            _ => Dim::Dyn,
        };
    }
    Ok(vec![tensor_type(dims, data.elem.clone())])
}

fn eval_slice(ops: &[Tensor], _: &Attrs, _: &[Type]) -> Result<Vec<Tensor>, String> {
    let data = &ops[0];
    let read = |i: usize, what: &str| ops.get(i).map(|t| ints(t, what)).transpose();
    let (starts, ends) = (ints(&ops[1], "'starts'")?, ints(&ops[2], "'ends'")?);
    let (axes, steps) = (read(3, "'axes'")?, read(4, "'steps'")?);
    let params = slice_params(data.shape.len(), &starts, &ends, axes.as_deref(), steps.as_deref())?;
    let mut dims: Vec<DimSlice> = data.shape.iter().map(|&d| DimSlice { start: 0, step: 1, len: d }).collect();
    for (axis, start, end, step) in params {
        dims[axis] = clamp_slice(data.shape[axis], start, end, step);
    }
    let shape: Vec<u64> = dims.iter().map(|d| d.len).collect();
    let src_strides = strides(&data.shape);
    let mut idx = vec![0u64; shape.len()];
    let out = take(data, shape.clone(), |flat| {
        unflatten(flat, &shape, &mut idx);
        let mut s: i64 = 0;
        for ((d, &i), &st) in dims.iter().zip(&idx).zip(&src_strides) {
            s += (d.start + i as i64 * d.step) * st as i64;
        }
        Ok(s as usize)
    })?;
    Ok(vec![out])
}

fn infer_concat(info: &OpInfo) -> Result<Vec<Type>, String> {
    let first = operand(info, 0)?;
    let axis = axis_in(attr_int(info.attrs, "axis", 0)?, first.rank(), "'axis'")?;
    let mut dims = first.dims.clone();
    let mut total = first.dims[axis].fixed();
    for i in 1..info.operand_types.len() {
        let t = operand(info, i)?;
        if t.elem != first.elem || t.rank() != first.rank() {
            return Err(format!("operand #{i} has type {t}, which does not match {first}"));
        }
        for (j, (a, b)) in dims.iter_mut().zip(&t.dims).enumerate() {
            if j != axis {
                *a = unify_dims(a, b).map_err(|e| format!("operand #{i}, dim {j}: {e}"))?;
            }
        }
        total = total.zip(t.dims[axis].fixed()).and_then(|(a, b)| a.checked_add(b));
    }
    dims[axis] =
        if info.operand_types.len() == 1 { first.dims[axis].clone() } else { total.map_or(Dim::Dyn, Dim::Fixed) };
    Ok(vec![tensor_type(dims, first.elem.clone())])
}

fn eval_concat(ops: &[Tensor], attrs: &Attrs, _: &[Type]) -> Result<Vec<Tensor>, String> {
    let first = &ops[0];
    let axis = axis_in(attr_int(attrs, "axis", 0)?, first.shape.len(), "'axis'")?;
    for (i, t) in ops.iter().enumerate() {
        let same_rest = t.shape.len() == first.shape.len()
            && t.shape.iter().zip(&first.shape).enumerate().all(|(j, (a, b))| j == axis || a == b);
        if !same_rest || t.elem != first.elem {
            return Err(format!("operand #{i} of shape {:?} does not match {:?}", t.shape, first.shape));
        }
    }
    let outer: u64 = first.shape[..axis].iter().product();
    let inner: u64 = first.shape[axis + 1..].iter().product();
    let mut shape = first.shape.clone();
    shape[axis] = ops.iter().map(|t| t.shape[axis]).sum();
    let total = super::util_b::checked_numel(&shape)?;
    let mut data = TensorData::empty_for(&first.elem, total as usize);
    if total == 0 {
        return Ok(vec![Tensor { elem: first.elem.clone(), shape, data }]);
    }
    for o in 0..outer {
        for t in ops {
            let chunk = t.shape[axis] * inner;
            for k in 0..chunk {
                data.push(t.data.get((o * chunk + k) as usize));
            }
        }
    }
    Ok(vec![Tensor { elem: first.elem.clone(), shape, data }])
}

/// The extents of Split's parts along a dim of extent `d` (if known).
fn split_extents(split: Option<&[i64]>, num_outputs: Option<i64>, d: Option<u64>) -> Result<Vec<Option<u64>>, String> {
    match (split, num_outputs) {
        (Some(_), Some(_)) => Err("give either the 'split' operand or 'num_outputs', not both".into()),
        (None, None) => Err("Split needs the 'split' operand or the 'num_outputs' attribute".into()),
        (Some(split), None) => {
            let parts = super::util_b::shape_from_values(split, "'split'")?;
            let sum = parts.iter().try_fold(0u64, |a, &b| a.checked_add(b));
            if let Some(d) = d {
                if sum != Some(d) {
                    return Err(format!("'split' {split:?} does not sum to the dim's extent {d}"));
                }
            }
            Ok(parts.into_iter().map(Some).collect())
        }
        (None, Some(n)) if !(1..=MAX_RANK as i64).contains(&n) => {
            Err(format!("'num_outputs' must be in [1, {MAX_RANK}], got {n}"))
        }
        (None, Some(n)) => {
            let n = n as u64;
            let Some(d) = d else { return Ok(vec![None; n as usize]) };
            let chunk = d.div_ceil(n);
            let last = d.checked_sub(chunk * (n - 1)).ok_or_else(|| {
                format!("a dim of extent {d} cannot be split into {n} parts of {chunk} with a smaller last part")
            })?;
            let mut parts = vec![Some(chunk); n as usize - 1];
            parts.push(Some(last));
            Ok(parts)
        }
    }
}

fn num_outputs(attrs: &Attrs) -> Result<Option<i64>, String> {
    attrs.get("num_outputs").map(|_| attr_int(attrs, "num_outputs", 0)).transpose()
}

fn infer_split(info: &OpInfo) -> Result<Vec<Type>, String> {
    check_max_operands(info, 2)?;
    let t = operand(info, 0)?;
    let axis = axis_in(attr_int(info.attrs, "axis", 0)?, t.rank(), "'axis'")?;
    let n_out = num_outputs(info.attrs)?;
    let parts = if info.operand_types.len() == 2 {
        int_operand(info, 1)?;
        let len = vector_len(info, 1)?;
        match (const_ints(info, 1), len) {
            (Some(split), _) => split_extents(Some(&split), n_out, t.dims[axis].fixed())?,
            (None, Some(n)) if n_out.is_none() => vec![None; n as usize],
            (None, Some(_)) => return Err("give either the 'split' operand or 'num_outputs', not both".into()),
            (None, None) => return Err("the 'split' operand has unknown length, so the result count is unknown".into()),
        }
    } else {
        split_extents(None, n_out, t.dims[axis].fixed())?
    };
    let result = |p: Option<u64>| {
        let mut dims = t.dims.clone();
        dims[axis] = p.map_or(Dim::Dyn, Dim::Fixed);
        tensor_type(dims, t.elem.clone())
    };
    Ok(parts.into_iter().map(result).collect())
}

fn eval_split(ops: &[Tensor], attrs: &Attrs, _: &[Type]) -> Result<Vec<Tensor>, String> {
    let t = &ops[0];
    let axis = axis_in(attr_int(attrs, "axis", 0)?, t.shape.len(), "'axis'")?;
    let split = ops.get(1).map(|s| ints(s, "'split'")).transpose()?;
    let parts = split_extents(split.as_deref(), num_outputs(attrs)?, Some(t.shape[axis]))?;
    let inner: u64 = t.shape[axis + 1..].iter().product();
    let mut offset = 0u64;
    let mut results = Vec::with_capacity(parts.len());
    for p in parts {
        let p = p.unwrap_or(0);
        let mut shape = t.shape.clone();
        shape[axis] = p;
        let (d, start) = (t.shape[axis], offset);
        results.push(take(t, shape, |flat| {
            let flat = flat as u64;
            let (outer, rest) = (flat / (p * inner).max(1), flat % (p * inner).max(1));
            Ok(((outer * d + start) * inner + rest) as usize)
        })?);
        offset += p;
    }
    Ok(results)
}

#[cfg(test)]
mod tests;
