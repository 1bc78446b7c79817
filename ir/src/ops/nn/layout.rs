//! Data movement in the nn dialect, all with static attributes: `reshape`,
//! `transpose`, `broadcast`, `concat`, `slice`, `gather`.
//!
//! Invariants: no op here computes on element values (they are copied,
//! never rounded); every shape is an attribute, so result types follow from
//! the operand types alone; out-of-range reads are verifier errors when the
//! shape is static and evaluation errors otherwise, never panics.

use super::arith::ONE_RESULT;
use super::common::{checked_numel, extents_attr, index_operand, int_attr, ints_attr, one, strides};
use super::unary::UNARY;
use crate::module::Attrs;
use crate::ops::eval::unflatten;
use crate::ops::shape::{check_perm, normalize_axis, tensor_operand};
use crate::ops::{Arity, AttrKind, AttrSpec, FoldInput, Folded, OpDef, OpInfo, Trait};
use crate::tensor::{Tensor, TensorData};
use crate::types::{Dim, TensorType, Type};

/// `Folded::Operand(0)` for a non-constant operand: the folding engine
/// applies it only when the result type equals the operand's, which for
/// the ops using it means the op is the identity.
fn same_type_is_identity(input: &FoldInput) -> Option<Folded> {
    input.constant(0).is_none().then_some(Folded::Operand(0))
}

/// Builds a tensor of `shape` whose element `i` is `x`'s element `source(i)`.
fn gather_elements(x: &Tensor, shape: Vec<u64>, mut source: impl FnMut(usize) -> usize) -> Tensor {
    Tensor::from_fn(x.elem.clone(), shape, |i| x.data.get(source(i)))
}

pub const RESHAPE: OpDef = OpDef {
    name: "nn.reshape",
    summary: "Reinterprets the elements (row-major) with a new static shape",
    description: "The element count must not change.\n\n\
```\n%1 = nn.reshape %0 {shape = [6]} : (tensor<2x3xf32>) -> tensor<6xf32>\n```",
    operands: UNARY,
    results: ONE_RESULT,
    attrs: &[AttrSpec { name: "shape", kind: AttrKind::Ints, required: true, doc: "the new shape, all extents >= 0" }],
    traits: &[Trait::Pure],
    infer: Some(infer_reshape),
    fold: Some(same_type_is_identity),
    eval: Some(|ops, attrs, _| {
        let shape = extents_attr(attrs, "shape")?;
        if checked_numel(&shape)? != ops[0].numel() {
            return Err(format!("cannot reshape {} elements into shape {shape:?}", ops[0].numel()));
        }
        Ok(vec![Tensor { shape, ..ops[0].clone() }])
    }),
    ..OpDef::DEFAULT
};

fn infer_reshape(info: &OpInfo) -> Result<Vec<Type>, String> {
    let t = tensor_operand(info.operand_types, 0)?;
    let shape = extents_attr(info.attrs, "shape")?;
    let m = checked_numel(&shape)?;
    if let Some(n) = t.num_elements() {
        if n != m {
            return Err(format!("cannot reshape {n} elements into shape {shape:?} ({m} elements)"));
        }
    }
    Ok(vec![Type::Tensor(TensorType::fixed(&shape, t.elem.clone()))])
}

pub const TRANSPOSE: OpDef = OpDef {
    name: "nn.transpose",
    summary: "Permutes dimensions: result dim i is input dim perm[i]",
    description: "`perm` is a permutation of `0..rank`; `out[i_0, .., i_r-1]` is the input element \
whose index along dim `perm[k]` is `i_k`.\n\n\
```\n%1 = nn.transpose %0 {perm = [1, 0]} : (tensor<2x3xf32>) -> tensor<3x2xf32>\n```",
    operands: UNARY,
    results: ONE_RESULT,
    attrs: &[AttrSpec { name: "perm", kind: AttrKind::Ints, required: true, doc: "a permutation of 0..rank" }],
    traits: &[Trait::Pure],
    infer: Some(|info| {
        let t = tensor_operand(info.operand_types, 0)?;
        let perm = ints_attr(info.attrs, "perm")?;
        check_perm(&perm, t.rank())?;
        Ok(one(perm.iter().map(|&p| t.dims[p as usize].clone()).collect(), t.elem.clone()))
    }),
    fold: Some(|input| {
        let identity = ints_attr(input.attrs, "perm").ok()?.iter().enumerate().all(|(i, &p)| p == i as i64);
        identity.then(|| same_type_is_identity(input)).flatten()
    }),
    eval: Some(eval_transpose),
    ..OpDef::DEFAULT
};

fn eval_transpose(ops: &[Tensor], attrs: &Attrs, _: &[Type]) -> Result<Vec<Tensor>, String> {
    let a = &ops[0];
    let perm = ints_attr(attrs, "perm")?;
    check_perm(&perm, a.shape.len())?;
    let perm: Vec<usize> = perm.iter().map(|&p| p as usize).collect();
    let shape: Vec<u64> = perm.iter().map(|&p| a.shape[p]).collect();
    let src_strides = strides(&a.shape);
    let mut idx = vec![0u64; shape.len()];
    let out_shape = shape.clone();
    Ok(vec![gather_elements(a, out_shape, |flat| {
        unflatten(flat as u64, &shape, &mut idx);
        idx.iter().zip(&perm).map(|(&i, &p)| i * src_strides[p]).sum::<u64>() as usize
    })])
}

pub const BROADCAST: OpDef = OpDef {
    name: "nn.broadcast",
    summary: "Repeats the input along extent-1 and missing leading dims to a static shape",
    description: "numpy broadcasting made explicit: the input's dims align with the last dims of \
`shape`, and each must be 1 or equal to the target extent.\n\n\
```\n%1 = nn.broadcast %0 {shape = [4, 1, 128]} : (tensor<1x128xf32>) -> tensor<4x1x128xf32>\n```",
    operands: UNARY,
    results: ONE_RESULT,
    attrs: &[AttrSpec { name: "shape", kind: AttrKind::Ints, required: true, doc: "the result shape" }],
    traits: &[Trait::Pure],
    infer: Some(|info| {
        let t = tensor_operand(info.operand_types, 0)?;
        let shape = extents_attr(info.attrs, "shape")?;
        check_broadcast(&t.dims, &shape)?;
        Ok(vec![Type::Tensor(TensorType::fixed(&shape, t.elem.clone()))])
    }),
    fold: Some(same_type_is_identity),
    eval: Some(|ops, attrs, _| {
        let x = &ops[0];
        let shape = extents_attr(attrs, "shape")?;
        let dims: Vec<Dim> = x.shape.iter().map(|&d| Dim::Fixed(d)).collect();
        check_broadcast(&dims, &shape)?;
        checked_numel(&shape)?;
        let (pad, src) = (shape.len() - x.shape.len(), strides(&x.shape));
        let mut idx = vec![0u64; shape.len()];
        let out_shape = shape.clone();
        Ok(vec![gather_elements(x, out_shape, |flat| {
            unflatten(flat as u64, &shape, &mut idx);
            x.shape.iter().enumerate().map(|(i, &d)| if d == 1 { 0 } else { idx[pad + i] * src[i] }).sum::<u64>()
                as usize
        })])
    }),
    ..OpDef::DEFAULT
};

fn check_broadcast(dims: &[Dim], shape: &[u64]) -> Result<(), String> {
    if dims.len() > shape.len() {
        return Err(format!("cannot broadcast rank {} to the rank-{} shape {shape:?}", dims.len(), shape.len()));
    }
    let pad = shape.len() - dims.len();
    for (i, d) in dims.iter().enumerate() {
        let ok = match d {
            Dim::Fixed(n) => *n == 1 || *n == shape[pad + i],
            _ => false,
        };
        if !ok {
            return Err(format!("dim {i} ({d}) does not broadcast to extent {} of {shape:?}", shape[pad + i]));
        }
    }
    Ok(())
}

pub const CONCAT: OpDef = OpDef {
    name: "nn.concat",
    summary: "Joins tensors along an axis",
    description: "All operands have one element type and rank, and equal dims except along \
`axis`, where the result's extent is the sum.\n\n\
```\n%2 = nn.concat %0, %1 {axis = 1} : (tensor<1x3xf32>, tensor<1x5xf32>) -> tensor<1x8xf32>\n```",
    operands: Arity::Variadic { name: "inputs", min: 1 },
    results: ONE_RESULT,
    attrs: &[AttrSpec { name: "axis", kind: AttrKind::Int, required: true, doc: "in [-r, r)" }],
    traits: &[Trait::Pure],
    infer: Some(infer_concat),
    eval: Some(eval_concat),
    ..OpDef::DEFAULT
};

fn infer_concat(info: &OpInfo) -> Result<Vec<Type>, String> {
    let first = tensor_operand(info.operand_types, 0)?;
    let axis = normalize_axis(int_attr(info.attrs, "axis")?, first.rank())?;
    if first.rank() == 0 {
        return Err("cannot concatenate scalars".into());
    }
    let mut total = Some(0u64);
    for i in 0..info.operand_types.len() {
        let t = tensor_operand(info.operand_types, i)?;
        if t.elem != first.elem || t.rank() != first.rank() {
            return Err(format!("operand #{i} has type {t}, unlike operand #0 of type {first}"));
        }
        for (d, (a, b)) in t.dims.iter().zip(&first.dims).enumerate() {
            if d != axis && a != b && *a != Dim::Dyn && *b != Dim::Dyn {
                return Err(format!("operand #{i} has extent {a} in dim {d}, operand #0 has {b}"));
            }
        }
        total = total.zip(t.dims[axis].fixed()).and_then(|(s, n)| s.checked_add(n));
    }
    let mut dims = first.dims.clone();
    dims[axis] = total.map_or(Dim::Dyn, Dim::Fixed);
    Ok(one(dims, first.elem.clone()))
}

fn eval_concat(ops: &[Tensor], attrs: &Attrs, _: &[Type]) -> Result<Vec<Tensor>, String> {
    let first = &ops[0];
    let axis = normalize_axis(int_attr(attrs, "axis")?, first.shape.len())?;
    let outer: u64 = first.shape[..axis].iter().product();
    let mut shape = first.shape.clone();
    shape[axis] = ops.iter().map(|t| t.shape.get(axis).copied().unwrap_or(0)).sum();
    let mut data = TensorData::empty_for(&first.elem, checked_numel(&shape)? as usize);
    for o in 0..outer {
        for t in ops {
            if t.shape.len() != shape.len()
                || t.shape[..axis] != shape[..axis]
                || t.shape[axis + 1..] != shape[axis + 1..]
            {
                return Err(format!("operand shape {:?} does not fit the concatenation {shape:?}", t.shape));
            }
            let block: u64 = t.shape[axis..].iter().product();
            for i in o * block..(o + 1) * block {
                data.push(t.data.get(i as usize));
            }
        }
    }
    Ok(vec![Tensor { elem: first.elem.clone(), shape, data }])
}

pub const SLICE: OpDef = OpDef {
    name: "nn.slice",
    summary: "Takes `sizes[d]` elements from `starts[d]` in steps of `steps[d]` along every dim",
    description: "One entry per dim in each attribute. Result element `i` along dim `d` is input \
element `starts[d] + i * steps[d]` (steps are non-zero, negative ones walk backwards); every \
position read must be inside the input, so a dim with `sizes[d] > 0` needs `0 <= starts[d] < \
extent` and `0 <= starts[d] + (sizes[d] - 1) * steps[d] < extent`.\n\n\
```\n%1 = nn.slice %0 {sizes = [1, 128, 768], starts = [0, 0, 0], steps = [1, 1, 1]} : (tensor<1x512x768xf32>) -> tensor<1x128x768xf32>\n```",
    operands: UNARY,
    results: ONE_RESULT,
    attrs: &[
        AttrSpec { name: "sizes", kind: AttrKind::Ints, required: true, doc: "result extents, >= 0" },
        AttrSpec { name: "starts", kind: AttrKind::Ints, required: true, doc: "first positions, >= 0" },
        AttrSpec { name: "steps", kind: AttrKind::Ints, required: true, doc: "non-zero strides" },
    ],
    traits: &[Trait::Pure],
    infer: Some(|info| {
        let t = tensor_operand(info.operand_types, 0)?;
        let s = slice_spec(info.attrs, t.rank())?;
        for (d, dim) in t.dims.iter().enumerate() {
            if let Some(n) = dim.fixed() {
                check_slice_dim(&s, d, n)?;
            }
        }
        Ok(vec![Type::Tensor(TensorType::fixed(&s.sizes, t.elem.clone()))])
    }),
    fold: Some(|input| {
        let s = slice_spec(input.attrs, ints_attr(input.attrs, "sizes").ok()?.len()).ok()?;
        let whole = s.starts.iter().all(|&v| v == 0) && s.steps.iter().all(|&v| v == 1);
        whole.then(|| same_type_is_identity(input)).flatten()
    }),
    eval: Some(eval_slice),
    ..OpDef::DEFAULT
};

/// The attributes of a slice.
struct SliceSpec {
    starts: Vec<u64>,
    sizes: Vec<u64>,
    steps: Vec<i64>,
}

fn slice_spec(attrs: &Attrs, rank: usize) -> Result<SliceSpec, String> {
    let s = SliceSpec {
        starts: extents_attr(attrs, "starts")?,
        sizes: extents_attr(attrs, "sizes")?,
        steps: ints_attr(attrs, "steps")?,
    };
    if s.starts.len() != rank || s.sizes.len() != rank || s.steps.len() != rank {
        return Err(format!("'starts', 'sizes' and 'steps' need {rank} entries each (one per dim)"));
    }
    if s.steps.contains(&0) {
        return Err("'steps' entries must be non-zero".into());
    }
    Ok(s)
}

fn check_slice_dim(s: &SliceSpec, d: usize, extent: u64) -> Result<(), String> {
    if s.sizes[d] == 0 {
        return Ok(());
    }
    let first = s.starts[d] as i128;
    let last = first + (s.sizes[d] as i128 - 1) * s.steps[d] as i128;
    let inside = |p: i128| p >= 0 && p < extent as i128;
    if !inside(first) || !inside(last) {
        return Err(format!(
            "dim {d} reads positions {first} to {last}, outside its extent {extent} (start {}, size {}, step {})",
            s.starts[d], s.sizes[d], s.steps[d]
        ));
    }
    Ok(())
}

fn eval_slice(ops: &[Tensor], attrs: &Attrs, _: &[Type]) -> Result<Vec<Tensor>, String> {
    let x = &ops[0];
    let s = slice_spec(attrs, x.shape.len())?;
    for (d, &n) in x.shape.iter().enumerate() {
        check_slice_dim(&s, d, n)?;
    }
    checked_numel(&s.sizes)?;
    let src = strides(&x.shape);
    let mut idx = vec![0u64; s.sizes.len()];
    let shape = s.sizes.clone();
    Ok(vec![gather_elements(x, s.sizes.clone(), |flat| {
        unflatten(flat as u64, &shape, &mut idx);
        let pos = |d: usize| (s.starts[d] as i128 + idx[d] as i128 * s.steps[d] as i128) as u64;
        (0..idx.len()).map(|d| pos(d) * src[d]).sum::<u64>() as usize
    })])
}

const GATHER_OPERANDS: Arity = Arity::Fixed(&["data", "indices"]);

pub const GATHER: OpDef = OpDef {
    name: "nn.gather",
    summary: "Selects slices of `data` along `axis` at the given indices",
    description: "The result shape is `data.shape[:axis] + indices.shape + data.shape[axis+1:]` and \
`out[i.., j.., k..] = data[i.., indices[j..], k..]`. Indices are i32 or i64 in `[-extent, \
extent)`, negative ones counting from the end; others are an evaluation error.\n\n\
```\n%2 = nn.gather %0, %1 {axis = 0} : (tensor<30522x768xf32>, tensor<1x128xi64>) -> tensor<1x128x768xf32>\n```",
    operands: GATHER_OPERANDS,
    results: ONE_RESULT,
    attrs: &[AttrSpec { name: "axis", kind: AttrKind::Int, required: true, doc: "in [-r, r)" }],
    traits: &[Trait::Pure],
    infer: Some(|info| {
        let data = tensor_operand(info.operand_types, 0)?;
        let indices = index_operand(info, 1)?;
        let axis = normalize_axis(int_attr(info.attrs, "axis")?, data.rank())?;
        if data.rank() == 0 {
            return Err("cannot gather from a scalar".into());
        }
        let dims = data.dims[..axis].iter().chain(&indices.dims).chain(&data.dims[axis + 1..]).cloned().collect();
        Ok(one(dims, data.elem.clone()))
    }),
    eval: Some(eval_gather),
    ..OpDef::DEFAULT
};

fn eval_gather(ops: &[Tensor], attrs: &Attrs, _: &[Type]) -> Result<Vec<Tensor>, String> {
    let (data, indices) = (&ops[0], &ops[1]);
    let axis = normalize_axis(int_attr(attrs, "axis")?, data.shape.len())?;
    let extent = data.shape.get(axis).copied().ok_or("cannot gather from a scalar")?;
    let resolved: Vec<u64> = (0..indices.numel() as usize)
        .map(|i| {
            let v = match indices.data.get(i) {
                crate::tensor::Scalar::Int(v) => v,
                crate::tensor::Scalar::Float(f) => f as i64,
            };
            let r = if v < 0 { v as i128 + extent as i128 } else { v as i128 };
            u64::try_from(r)
                .ok()
                .filter(|&r| r < extent)
                .ok_or_else(|| format!("index {v} is out of range for axis {axis} of extent {extent}"))
        })
        .collect::<Result<_, String>>()?;
    let inner: u64 = data.shape[axis + 1..].iter().product();
    let shape: Vec<u64> =
        data.shape[..axis].iter().chain(&indices.shape).chain(&data.shape[axis + 1..]).copied().collect();
    checked_numel(&shape)?;
    let n = resolved.len() as u64;
    Ok(vec![gather_elements(data, shape, |flat| {
        let flat = flat as u64;
        let (o, rest) = (flat / (n * inner).max(1), flat % (n * inner).max(1));
        let (j, k) = (rest / inner.max(1), rest % inner.max(1));
        ((o * extent + resolved[j as usize]) * inner + k) as usize
    })])
}

#[cfg(test)]
mod tests;
