//! Rules for shape and indexing ops: Reshape, Flatten, Squeeze,
//! Unsqueeze, Transpose, Expand, Concat, Split, Slice, Gather, GatherND,
//! ConstantOfShape, Range, and the errors for Shape and Size of operands
//! without static shapes.
//!
//! Invariants: every shape operand is read from compile-time values and
//! becomes an nn attribute; ONNX's index conventions (negative values,
//! clamping, `0` copying a dim in Reshape) are resolved here, so nn sees
//! only in-range, non-negative extents.

use super::builder::{attrs, axis, ints, not_constant, Replacement, Rewriter, SHAPE_HINT};
use super::LegalizeError;
use weft_ir::ops::nn;
use weft_ir::tensor::Scalar;
use weft_ir::{Attribute, Attrs, ElemType, Tensor, Value};

/// ONNX Reshape: `0` copies the input dim (unless `allowzero`), one `-1`
/// takes the remaining extent.
pub fn reshape(rw: &mut Rewriter) -> Replacement {
    let x = rw.operand(0)?;
    let spec = rw.const_ints(1, "shape")?;
    let input = rw.shape(x)?;
    let target = reshape_target(&input, &spec, rw.attr_int("allowzero", 0) != 0)?;
    Ok(vec![rw.reshape(x, &target)?])
}

/// The extents ONNX Reshape's `spec` gives for an input of `input`.
pub fn reshape_target(input: &[u64], spec: &[i64], allowzero: bool) -> Result<Vec<u64>, LegalizeError> {
    let total: u64 = input.iter().product();
    let mut out = Vec::with_capacity(spec.len());
    let mut infer_at = None;
    for (i, &s) in spec.iter().enumerate() {
        out.push(match s {
            0 if !allowzero => *input
                .get(i)
                .ok_or_else(|| LegalizeError::new(format!("'shape' copies dim {i}, which the input does not have")))?,
            -1 if infer_at.is_none() => {
                infer_at = Some(i);
                1
            }
            s if s >= 0 => s as u64,
            s => return Err(LegalizeError::new(format!("'shape' has an invalid extent {s}"))),
        });
    }
    if let Some(i) = infer_at {
        let known: u64 = out.iter().product();
        if known == 0 || !total.is_multiple_of(known) {
            return Err(LegalizeError::new(format!("cannot reshape {total} elements into {spec:?}")));
        }
        out[i] = total / known;
    }
    Ok(out)
}

/// Flatten, Squeeze and Unsqueeze: an `nn.reshape` to the shape their axes
/// give.
pub fn reshape_to_result(rw: &mut Rewriter) -> Replacement {
    let x = rw.operand(0)?;
    let input = rw.shape(x)?;
    let target = match rw.op_type() {
        "Flatten" => {
            let r = input.len() as i64;
            let a = rw.attr_int("axis", 1);
            let a = if a < 0 { a + r } else { a };
            if !(0..=r).contains(&a) {
                return Err(LegalizeError::new(format!("axis {a} is out of range for rank {r}")));
            }
            let (head, tail) = input.split_at(a as usize);
            vec![head.iter().product(), tail.iter().product()]
        }
        "Squeeze" => match rw.opt_const_ints(1, "axes")? {
            Some(axes) => {
                let axes: Vec<usize> = axes.iter().map(|&a| axis(a, input.len())).collect::<Result<_, _>>()?;
                input.iter().enumerate().filter(|(i, _)| !axes.contains(i)).map(|(_, &d)| d).collect()
            }
            None => input.iter().copied().filter(|&d| d != 1).collect(),
        },
        _ => {
            let axes = rw.const_ints(1, "axes")?;
            let rank = input.len() + axes.len();
            let axes: Vec<usize> = axes.iter().map(|&a| axis(a, rank)).collect::<Result<_, _>>()?;
            let mut rest = input.iter();
            (0..rank).map(|i| if axes.contains(&i) { 1 } else { rest.next().copied().unwrap_or(1) }).collect()
        }
    };
    Ok(vec![rw.reshape(x, &target)?])
}

pub fn transpose(rw: &mut Rewriter) -> Replacement {
    let x = rw.operand(0)?;
    let rank = rw.rank(x);
    let perm: Vec<usize> = match rw.attr_ints("perm") {
        Some(p) => p.iter().map(|&p| axis(p, rank)).collect::<Result<_, _>>()?,
        None => (0..rank).rev().collect(),
    };
    Ok(vec![rw.transpose(x, &perm)?])
}

/// Expand: `nn.broadcast` to the numpy broadcast of the input's shape and
/// the `shape` operand.
pub fn expand(rw: &mut Rewriter) -> Replacement {
    let x = rw.operand(0)?;
    let spec = rw.const_ints(1, "shape")?;
    let input = rw.shape(x)?;
    let rank = input.len().max(spec.len());
    let at = |s: &[u64], i: usize| if i < rank - s.len() { 1 } else { s[i - (rank - s.len())] };
    let spec: Vec<u64> = spec.iter().map(|&v| v.max(0) as u64).collect();
    let mut target = Vec::with_capacity(rank);
    for i in 0..rank {
        let (a, b) = (at(&input, i), at(&spec, i));
        target.push(match (a, b) {
            (1, d) | (d, 1) => d,
            (a, b) if a == b => a,
            (a, b) => return Err(LegalizeError::new(format!("extent {a} does not broadcast to {b}"))),
        });
    }
    if target == input {
        return Ok(vec![x]);
    }
    Ok(vec![rw.build(&nn::BROADCAST, &[x], attrs(&[("shape", ints(&target))]))?])
}

pub fn concat(rw: &mut Rewriter) -> Replacement {
    let operands = rw.operands();
    let first = *operands.first().ok_or_else(|| LegalizeError::new("needs an operand"))?;
    if operands.len() == 1 {
        return Ok(vec![first]);
    }
    let a = axis(rw.attr_int("axis", 0), rw.rank(first))?;
    Ok(vec![rw.build(&nn::CONCAT, &operands, attrs(&[("axis", Attribute::Int(a as i64))]))?])
}

/// A static slice of `x`: per dim start, size, step.
fn slice_value(
    rw: &mut Rewriter,
    x: Value,
    starts: &[u64],
    sizes: &[u64],
    steps: &[i64],
) -> Result<Value, LegalizeError> {
    let shape = rw.shape(x)?;
    if sizes == shape.as_slice() && steps.iter().all(|&s| s == 1) {
        return Ok(x);
    }
    let a = attrs(&[("starts", ints(starts)), ("sizes", ints(sizes)), ("steps", ints(steps))]);
    rw.build(&nn::SLICE, &[x], a)
}

/// Split: one `nn.slice` per output.
pub fn split(rw: &mut Rewriter) -> Replacement {
    let x = rw.operand(0)?;
    let shape = rw.shape(x)?;
    let a = axis(rw.attr_int("axis", 0), shape.len())?;
    let extent = shape[a];
    let parts: Vec<u64> = match rw.opt_const_ints(1, "split")? {
        Some(s) => s.iter().map(|&v| v.max(0) as u64).collect(),
        None => {
            let n = rw.num_results() as u64;
            let chunk = extent.div_ceil(n.max(1));
            (0..n).map(|i| chunk.min(extent.saturating_sub(i * chunk))).collect()
        }
    };
    if parts.iter().sum::<u64>() != extent {
        return Err(LegalizeError::new(format!("parts {parts:?} do not add up to the extent {extent}")));
    }
    let mut out = Vec::with_capacity(parts.len());
    let mut offset = 0;
    for &p in &parts {
        let mut starts = vec![0; shape.len()];
        let mut sizes = shape.clone();
        starts[a] = offset;
        sizes[a] = p;
        out.push(slice_value(rw, x, &starts, &sizes, &vec![1; shape.len()])?);
        offset += p;
    }
    Ok(out)
}

/// One dim of an ONNX Slice resolved: (start, size, step).
pub fn resolve_slice_dim(extent: u64, start: i64, end: i64, step: i64) -> Result<(u64, u64, i64), LegalizeError> {
    if step == 0 {
        return Err(LegalizeError::new("'steps' must be non-zero"));
    }
    let d = extent as i128;
    let adjust = |v: i64| if v < 0 { v as i128 + d } else { v as i128 };
    let (s, e) = (adjust(start), adjust(end));
    let (s, e) = if step > 0 { (s.clamp(0, d), e.clamp(0, d)) } else { (s.clamp(0, d - 1), e.clamp(-1, d - 1)) };
    let step_i = step as i128;
    let size =
        if step > 0 { (e - s + step_i - 1).div_euclid(step_i) } else { (s - e + (-step_i) - 1).div_euclid(-step_i) };
    let size = size.max(0) as u64;
    Ok((if size == 0 { 0 } else { s as u64 }, size, step))
}

pub fn slice(rw: &mut Rewriter) -> Replacement {
    let x = rw.operand(0)?;
    let shape = rw.shape(x)?;
    let starts = rw.const_ints(1, "starts")?;
    let ends = rw.const_ints(2, "ends")?;
    let axes = rw.opt_const_ints(3, "axes")?.unwrap_or_else(|| (0..starts.len() as i64).collect());
    let steps = rw.opt_const_ints(4, "steps")?.unwrap_or_else(|| vec![1; starts.len()]);
    if ends.len() != starts.len() || axes.len() != starts.len() || steps.len() != starts.len() {
        return Err(LegalizeError::new("'starts', 'ends', 'axes' and 'steps' differ in length"));
    }
    let (mut s, mut n, mut st) = (vec![0; shape.len()], shape.clone(), vec![1; shape.len()]);
    for i in 0..starts.len() {
        let a = axis(axes[i], shape.len())?;
        (s[a], n[a], st[a]) = resolve_slice_dim(shape[a], starts[i], ends[i], steps[i])?;
    }
    Ok(vec![slice_value(rw, x, &s, &n, &st)?])
}

pub fn gather(rw: &mut Rewriter) -> Replacement {
    let (data, indices) = (rw.operand(0)?, rw.operand(1)?);
    let a = axis(rw.attr_int("axis", 0), rw.rank(data))?;
    Ok(vec![rw.build(&nn::GATHER, &[data, indices], attrs(&[("axis", Attribute::Int(a as i64))]))?])
}

/// GatherND as one `nn.gather` on `data` flattened to
/// `[batch * addressed, rest..]` with linear indices computed by nn ops:
/// `sum_j norm(idx[.., j]) * stride_j + batch_offset`.
pub fn gather_nd(rw: &mut Rewriter) -> Replacement {
    let (data, indices) = (rw.operand(0)?, rw.operand(1)?);
    let (ds, is) = (rw.shape(data)?, rw.shape(indices)?);
    let b =
        usize::try_from(rw.attr_int("batch_dims", 0)).map_err(|_| LegalizeError::new("'batch_dims' is negative"))?;
    let (&k, lead) = is.split_last().ok_or_else(|| LegalizeError::new("needs indices of rank >= 1"))?;
    let k = k as usize;
    if b + k > ds.len() || b > lead.len() {
        return Err(LegalizeError::new("batch_dims and the index depth exceed the data rank"));
    }
    let addressed = &ds[b..b + k];
    let batch: u64 = ds[..b].iter().product();
    let block: u64 = addressed.iter().product();
    let flat_shape: Vec<u64> = std::iter::once(batch * block).chain(ds[b + k..].iter().copied()).collect();
    let flat = rw.reshape(data, &flat_shape)?;
    let elem = rw.elem(indices);
    let mut linear: Option<Value> = None;
    let mut stride = block;
    for (j, &extent) in addressed.iter().enumerate() {
        stride /= extent.max(1);
        let mut starts = vec![0; is.len()];
        starts[is.len() - 1] = j as u64;
        let sizes: Vec<u64> = lead.iter().copied().chain([1]).collect();
        let column = slice_value(rw, indices, &starts, &sizes, &vec![1; is.len()])?;
        let column = rw.reshape(column, lead)?;
        let term = wrap_negative(rw, column, extent, &elem)?;
        let term = if stride != 1 {
            let s = rw.scalar(&elem, stride as f64);
            rw.binary(&nn::MUL, term, s)?
        } else {
            term
        };
        linear = Some(match linear {
            Some(acc) => rw.binary(&nn::ADD, acc, term)?,
            None => term,
        });
    }
    let mut linear = match linear {
        Some(l) => l,
        None => rw.splat(lead, &elem, Scalar::Int(0)),
    };
    if b > 0 {
        let offsets = batch_offsets(lead, &ds[..b], block, &elem);
        let offsets = rw.constant(offsets);
        linear = rw.binary(&nn::ADD, linear, offsets)?;
    }
    Ok(vec![rw.build(&nn::GATHER, &[flat, linear], attrs(&[("axis", Attribute::Int(0))]))?])
}

/// `i + extent` where `i < 0`, else `i`.
fn wrap_negative(rw: &mut Rewriter, i: Value, extent: u64, elem: &ElemType) -> Result<Value, LegalizeError> {
    let zero = rw.scalar(elem, 0.0);
    let n = rw.scalar(elem, extent as f64);
    let negative = rw.binary(&nn::LESS, i, zero)?;
    let shifted = rw.binary(&nn::ADD, i, n)?;
    rw.build(&nn::SELECT, &[negative, shifted, i], Attrs::new())
}

/// For index positions of shape `lead` (whose first dims are the batch
/// dims `batch`), the flat batch number times `block`.
fn batch_offsets(lead: &[u64], batch: &[u64], block: u64, elem: &ElemType) -> Tensor {
    let inner: u64 = lead[batch.len()..].iter().product();
    Tensor::from_fn(elem.clone(), lead.to_vec(), |i| Scalar::Int((i as u64 / inner.max(1) * block) as i64))
}

/// Shape and Size: constants read from the operand's static type (usually
/// folded already as compile-time values, unless they exceed the fold
/// limit).
pub fn shape_or_size(rw: &mut Rewriter) -> Replacement {
    let x = rw.operand(0)?;
    let value = if rw.op_type() == "Shape" { rw.shape_value() } else { rw.size_value() };
    match value {
        Some(t) => Ok(vec![rw.constant(t)]),
        None => Err(LegalizeError::new(format!("needs its operand's shape to be static, got {}", rw.ty(x)))
            .with_note(SHAPE_HINT)),
    }
}

/// ConstantOfShape: a splat constant.
pub fn constant_of_shape(rw: &mut Rewriter) -> Replacement {
    let shape = rw.const_ints(0, "input")?;
    let shape: Vec<u64> = shape.iter().map(|&d| d.max(0) as u64).collect();
    let (elem, value) = match rw.attr("value") {
        Some(Attribute::Dense(d)) if d.data.len() == 1 => (d.ty.elem.clone(), d.data.get(0)),
        Some(_) => return Err(LegalizeError::new("'value' must be an inline one-element tensor")),
        None => (ElemType::F32, Scalar::Float(0.0)),
    };
    Ok(vec![rw.splat(&shape, &elem, value)])
}

/// Range: evaluated at compile time by its own reference semantics (its
/// operands must be constants; the result may exceed the fold limit).
pub fn range(rw: &mut Rewriter) -> Replacement {
    for (i, what) in ["start", "limit", "delta"].iter().enumerate() {
        let v = rw.operand(i)?;
        if rw.known(v).is_none() {
            return Err(not_constant(what));
        }
    }
    let mut out = rw.evaluate()?;
    if out.len() != 1 {
        return Err(LegalizeError::internal("Range does not have one result"));
    }
    Ok(vec![rw.constant(out.remove(0))])
}
