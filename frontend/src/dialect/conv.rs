//! ONNX convolutions over N spatial dims: `Conv` and `ConvTranspose`
//! (`[N, C, D1, ..., Dn]` inputs, any n >= 1), with groups, strides,
//! dilations, explicit or automatic padding, and an optional bias.
//!
//! Invariants: the output-size and padding formulas are those of the ONNX
//! operator docs (one function each, shared by shape inference and
//! evaluation); products accumulate in f64 and round once per output
//! element; a kernel longer than its padded input gives an empty output
//! dim (as in the ONNX reference).

use super::util_b::{
    attr_choice, attr_int, attr_ints, check_max_operands, checked_numel, float_operand, floats, operand, same_elem,
    strides, tensor_type, unflatten,
};
use weft_ir::ops::{Arity, AttrKind, AttrSpec, OpDef, OpInfo, Trait};
use weft_ir::tensor::{Scalar, Tensor};
use weft_ir::types::{Dim, Type};
use weft_ir::Attrs;

const AUTO_PAD: &[&str] = &["NOTSET", "SAME_UPPER", "SAME_LOWER", "VALID"];

const COMMON_ATTRS: [AttrSpec; 6] = [
    AttrSpec {
        name: "auto_pad",
        kind: AttrKind::Str,
        required: false,
        doc: "NOTSET (default: use `pads`), SAME_UPPER, SAME_LOWER or VALID",
    },
    AttrSpec { name: "dilations", kind: AttrKind::Ints, required: false, doc: "per spatial dim (default 1s)" },
    AttrSpec { name: "group", kind: AttrKind::Int, required: false, doc: "channel groups (default 1)" },
    AttrSpec {
        name: "kernel_shape",
        kind: AttrKind::Ints,
        required: false,
        doc: "spatial extents of the kernel (default: from W)",
    },
    AttrSpec {
        name: "pads",
        kind: AttrKind::Ints,
        required: false,
        doc: "[begin_1..begin_n, end_1..end_n] (default 0s); ignored unless auto_pad is NOTSET",
    },
    AttrSpec { name: "strides", kind: AttrKind::Ints, required: false, doc: "per spatial dim (default 1s)" },
];

pub const CONV: OpDef = OpDef {
    name: "onnx.Conv",
    summary: "N-d convolution (cross-correlation) with groups, strides, dilations and padding",
    description: "`X` is `[N, C, D1..Dn]`, `W` is `[M, C/group, K1..Kn]`, the optional bias `B` \
is `[M]`; the result is `[N, M, O1..On]` with `Oi = floor((Di + pad_begin + pad_end - ((Ki - 1) * \
dilation + 1)) / stride) + 1`. `SAME_UPPER`/`SAME_LOWER` pad so that `Oi = ceil(Di / stride)`, the \
odd unit of padding going at the end (UPPER) or beginning (LOWER); `VALID` pads nothing. An \
extent below 0 (a kernel longer than the padded input) is 0. Products \
accumulate in f64, rounded once. Spatial dims that are symbolic give `?` result dims.\n\n\
```\n%3 = onnx.Conv %0, %1, %2 {kernel_shape = [16, 16], strides = [16, 16]} : (tensor<1x3x224x224xf32>, tensor<768x3x16x16xf32>, tensor<768xf32>) -> tensor<1x768x14x14xf32>\n```",
    operands: Arity::Variadic { name: "X, W, B", min: 2 },
    results: Arity::Fixed(&["Y"]),
    attrs: &COMMON_ATTRS,
    traits: &[Trait::Pure],
    infer: Some(infer_conv),
    eval: Some(eval_conv),
    ..OpDef::DEFAULT
};

pub const CONV_TRANSPOSE: OpDef = OpDef {
    name: "onnx.ConvTranspose",
    summary: "N-d transposed convolution (the gradient of Conv) with groups, strides, dilations and padding",
    description: "`X` is `[N, C, D1..Dn]`, `W` is `[C, M/group, K1..Kn]`, the optional bias `B` is \
`[M]`; the result is `[N, M, O1..On]`. Without `output_shape`, `Oi = stride * (Di - 1) + \
output_padding + ((Ki - 1) * dilation + 1) - pad_begin - pad_end`, except that `SAME_UPPER`/\
`SAME_LOWER` give `Oi = Di * stride`. With `output_shape` (or SAME_*), the padding is derived: \
`total = stride * (Di - 1) + output_padding + ((Ki - 1) * dilation + 1) - Oi`, split as \
`(total / 2, total - total / 2)` for SAME_UPPER and `(total - total / 2, total / 2)` otherwise. \
Products accumulate in f64, rounded once.\n\n\
```\n%2 = onnx.ConvTranspose %0, %1 {strides = [2, 2]} : (tensor<1x4x8x8xf32>, tensor<4x2x2x2xf32>) -> tensor<1x2x16x16xf32>\n```",
    operands: Arity::Variadic { name: "X, W, B", min: 2 },
    results: Arity::Fixed(&["Y"]),
    attrs: &[
        COMMON_ATTRS[0],
        COMMON_ATTRS[1],
        COMMON_ATTRS[2],
        COMMON_ATTRS[3],
        AttrSpec {
            name: "output_padding",
            kind: AttrKind::Ints,
            required: false,
            doc: "added to the end of each spatial output dim (default 0s)",
        },
        AttrSpec {
            name: "output_shape",
            kind: AttrKind::Ints,
            required: false,
            doc: "the spatial output extents (n values, or n + 2 with N and M first); pads are then derived",
        },
        COMMON_ATTRS[4],
        COMMON_ATTRS[5],
    ],
    traits: &[Trait::Pure],
    infer: Some(infer_conv_transpose),
    eval: Some(eval_conv_transpose),
    ..OpDef::DEFAULT
};

/// The attributes of a convolution, checked against `n` spatial dims.
#[derive(Debug, Clone)]
struct ConvAttrs {
    auto_pad: &'static str,
    group: u64,
    kernel: Option<Vec<u64>>,
    strides: Vec<u64>,
    dilations: Vec<u64>,
    pads: Vec<i64>,
}

/// A per-spatial-dim attribute of positive integers (default 1s).
fn positive_list(attrs: &Attrs, name: &str, n: usize) -> Result<Vec<u64>, String> {
    let Some(v) = attr_ints(attrs, name)? else { return Ok(vec![1; n]) };
    if v.len() != n {
        return Err(format!("'{name}' has {} values for {n} spatial dims", v.len()));
    }
    v.iter()
        .map(|&x| u64::try_from(x).ok().filter(|&x| x >= 1).ok_or_else(|| format!("'{name}' must be >= 1, got {x}")))
        .collect()
}

/// A list of `len` non-negative integers (default 0s).
fn non_negative_list(attrs: &Attrs, name: &str, len: usize) -> Result<Vec<i64>, String> {
    let Some(v) = attr_ints(attrs, name)? else { return Ok(vec![0; len]) };
    if v.len() != len {
        return Err(format!("'{name}' has {} values; expected {len}", v.len()));
    }
    if let Some(x) = v.iter().find(|&&x| x < 0) {
        return Err(format!("'{name}' must be >= 0, got {x}"));
    }
    Ok(v)
}

fn conv_attrs(attrs: &Attrs, n: usize) -> Result<ConvAttrs, String> {
    let auto = attr_choice(attrs, "auto_pad", AUTO_PAD)?;
    let auto_pad = AUTO_PAD.iter().copied().find(|&a| a == auto).unwrap_or("NOTSET");
    let group = attr_int(attrs, "group", 1)?;
    let group =
        u64::try_from(group).ok().filter(|&g| g >= 1).ok_or_else(|| format!("'group' must be >= 1, got {group}"))?;
    let kernel = match attr_ints(attrs, "kernel_shape")? {
        Some(k) if k.len() != n => return Err(format!("'kernel_shape' has {} values for {n} spatial dims", k.len())),
        Some(k) => Some(super::util_b::shape_from_values(&k, "'kernel_shape'")?),
        None => None,
    };
    Ok(ConvAttrs {
        auto_pad,
        group,
        kernel,
        strides: positive_list(attrs, "strides", n)?,
        dilations: positive_list(attrs, "dilations", n)?,
        pads: non_negative_list(attrs, "pads", 2 * n)?,
    })
}

/// The spatial kernel extents: `kernel_shape`, which must agree with W's
/// static dims, or W's dims (`None` where unknown).
fn kernel_dims(a: &ConvAttrs, w_spatial: &[Dim]) -> Result<Vec<Option<u64>>, String> {
    match &a.kernel {
        Some(k) => {
            for (i, (&k, w)) in k.iter().zip(w_spatial).enumerate() {
                if w.fixed().is_some_and(|w| w != k) {
                    return Err(format!("'kernel_shape' says {k} for spatial dim {i} but W has {w}"));
                }
            }
            Ok(k.iter().map(|&k| Some(k)).collect())
        }
        None => Ok(w_spatial.iter().map(Dim::fixed).collect()),
    }
}

/// Conv's output extent and begin padding along one spatial dim.
fn conv_out(a: &ConvAttrs, i: usize, input: u64, kernel: u64) -> Result<(u64, i64), String> {
    let n = a.strides.len();
    let (s, d) = (a.strides[i], a.dilations[i]);
    let eff = kernel.saturating_sub(1).saturating_mul(d).saturating_add(1);
    let (begin, end) = match a.auto_pad {
        "SAME_UPPER" | "SAME_LOWER" => {
            let out = input.div_ceil(s);
            let total = out.saturating_sub(1).saturating_mul(s).saturating_add(eff).saturating_sub(input);
            let small = total / 2;
            let begin = if a.auto_pad == "SAME_UPPER" { small } else { total - small };
            return Ok((out, begin as i64));
        }
        "VALID" => (0, 0),
        _ => (a.pads[i] as u64, a.pads[n + i] as u64),
    };
    let padded = input as i128 + begin as i128 + end as i128;
    // A kernel longer than the padded input gives an empty dim, as in the ONNX reference.
    let out = ((padded - eff as i128).div_euclid(s as i128) + 1).max(0);
    Ok((out as u64, begin as i64))
}

/// Checks X and W (and B) of a convolution; returns the spatial rank.
fn check_conv_operands(info: &OpInfo) -> Result<usize, String> {
    check_max_operands(info, 3)?;
    let (x, w) = (float_operand(info, 0)?, float_operand(info, 1)?);
    same_elem(info, 0, 1)?;
    if x.rank() < 3 || w.rank() != x.rank() {
        return Err(format!("X must be [N, C, D1..Dn] (rank >= 3) and W of the same rank, got {x} and {w}"));
    }
    if info.operand_types.len() == 3 {
        same_elem(info, 0, 2)?;
        if operand(info, 2)?.rank() != 1 {
            return Err("the bias B must be 1-D".into());
        }
    }
    Ok(x.rank() - 2)
}

/// Checks that `d` is a multiple of `g` when known.
fn check_divisible(d: &Dim, g: u64, what: &str) -> Result<(), String> {
    match d {
        Dim::Fixed(v) if v % g != 0 => Err(format!("{what} ({v}) must be a multiple of group ({g})")),
        _ => Ok(()),
    }
}

/// Checks two channel counts that must agree, when both are known.
fn check_channels(a: Option<u64>, b: Option<u64>, what: &str) -> Result<(), String> {
    match (a, b) {
        (Some(a), Some(b)) if a != b => Err(format!("{what}: {a} vs {b}")),
        _ => Ok(()),
    }
}

fn infer_conv(info: &OpInfo) -> Result<Vec<Type>, String> {
    let n = check_conv_operands(info)?;
    let (x, w) = (operand(info, 0)?, operand(info, 1)?);
    let a = conv_attrs(info.attrs, n)?;
    let kernel = kernel_dims(&a, &w.dims[2..])?;
    check_divisible(&w.dims[0], a.group, "the output channel count M")?;
    let w_in = w.dims[1].fixed().map(|c| c * a.group);
    check_channels(x.dims[1].fixed(), w_in, "X's channels differ from W's channels times group")?;
    if let Some(b) = super::util_b::optional_operand(info, 2)? {
        check_channels(b.dims[0].fixed(), w.dims[0].fixed(), "the bias length differs from M")?;
    }
    let mut dims = vec![x.dims[0].clone(), w.dims[0].clone()];
    for (i, k) in kernel.iter().enumerate() {
        dims.push(match (x.dims[2 + i].fixed(), k) {
            (Some(d), Some(k)) => Dim::Fixed(conv_out(&a, i, d, *k)?.0),
            _ => Dim::Dyn,
        });
    }
    Ok(vec![tensor_type(dims, x.elem.clone())])
}

/// Iterates the multi-indices of `shape`, calling `f(flat, index)`.
fn for_each_index(shape: &[u64], mut f: impl FnMut(usize, &[u64])) {
    let total: u64 = shape.iter().product();
    let mut idx = vec![0u64; shape.len()];
    for flat in 0..total as usize {
        unflatten(flat, shape, &mut idx);
        f(flat, &idx);
    }
}

/// `i * stride + k * dilation - begin`, without overflow.
fn spatial_pos(i: u64, stride: u64, k: u64, dilation: u64, begin: i64) -> i128 {
    i as i128 * stride as i128 + k as i128 * dilation as i128 - begin as i128
}

/// The bias of output channel `m` (0 without a bias operand).
fn bias(ops: &[Tensor], m: usize) -> Result<f64, String> {
    match ops.get(2) {
        None => Ok(0.0),
        Some(b) if m < b.data.len() => Ok(weft_ir::ops::eval::as_f64(b.data.get(m))),
        Some(b) => Err(format!("the bias has {} values, fewer than the output channels", b.data.len())),
    }
}

fn eval_conv(ops: &[Tensor], attrs: &Attrs, _: &[Type]) -> Result<Vec<Tensor>, String> {
    let (x, w) = (&ops[0], &ops[1]);
    let n = x
        .shape
        .len()
        .checked_sub(2)
        .filter(|&n| n >= 1 && w.shape.len() == n + 2)
        .ok_or("X and W must have rank >= 3")?;
    let a = conv_attrs(attrs, n)?;
    let kernel = &w.shape[2..];
    if let Some(k) = &a.kernel {
        if k.as_slice() != kernel {
            return Err(format!("'kernel_shape' {k:?} differs from W's {kernel:?}"));
        }
    }
    let (batch, c, m, cg) = (x.shape[0], x.shape[1], w.shape[0], w.shape[1]);
    if cg * a.group != c || m % a.group != 0 {
        return Err(format!("channels: X has {c}, W is {m}x{cg}, group {}", a.group));
    }
    let mut out_sp = Vec::with_capacity(n);
    let mut begin = Vec::with_capacity(n);
    for (i, &k) in kernel.iter().enumerate() {
        let (o, b) = conv_out(&a, i, x.shape[2 + i], k)?;
        out_sp.push(o);
        begin.push(b);
    }
    let mut shape = vec![batch, m];
    shape.extend(&out_sp);
    if checked_numel(&shape)? == 0 {
        return Ok(vec![super::util_b::build(&x.elem, shape, [])]);
    }
    let (xv, wv) = (floats(x), floats(w));
    let (xs, ws) = (strides(&x.shape), strides(&w.shape));
    let mg = m / a.group;
    let mut values = Vec::with_capacity(shape.iter().product::<u64>() as usize);
    for nb in 0..batch {
        for oc in 0..m {
            let g = oc / mg;
            let b = bias(ops, oc as usize)?;
            for_each_index(&out_sp, |_, o| {
                let mut acc = 0.0;
                for_each_index(kernel, |_, k| {
                    let mut x_off = nb * xs[0];
                    for i in 0..n {
                        let pos = spatial_pos(o[i], a.strides[i], k[i], a.dilations[i], begin[i]);
                        if pos < 0 || pos >= x.shape[2 + i] as i128 {
                            return;
                        }
                        x_off += pos as u64 * xs[2 + i];
                    }
                    let w_off: u64 = oc * ws[0] + k.iter().zip(&ws[2..]).map(|(k, s)| k * s).sum::<u64>();
                    for ci in 0..cg {
                        acc += xv[(x_off + (g * cg + ci) * xs[1]) as usize] * wv[(w_off + ci * ws[1]) as usize];
                    }
                });
                values.push(Scalar::Float(acc + b));
            });
        }
    }
    Ok(vec![super::util_b::build(&x.elem, shape, values)])
}

/// The attributes ConvTranspose adds to Conv's.
struct TransposeAttrs {
    output_padding: Vec<i64>,
    output_shape: Option<Vec<i64>>,
}

fn transpose_attrs(attrs: &Attrs, n: usize) -> Result<TransposeAttrs, String> {
    let output_shape = match attr_ints(attrs, "output_shape")? {
        Some(s) if s.len() == n => Some(s),
        Some(s) if s.len() == n + 2 => Some(s[2..].to_vec()),
        Some(s) => return Err(format!("'output_shape' has {} values for {n} spatial dims", s.len())),
        None => None,
    };
    if let Some(v) = output_shape.as_ref().and_then(|s| s.iter().find(|&&v| v < 0)) {
        return Err(format!("'output_shape' has a negative extent {v}"));
    }
    Ok(TransposeAttrs { output_padding: non_negative_list(attrs, "output_padding", n)?, output_shape })
}

/// ConvTranspose's output extent and begin padding along one spatial dim.
fn conv_transpose_out(
    a: &ConvAttrs,
    t: &TransposeAttrs,
    i: usize,
    input: u64,
    kernel: u64,
) -> Result<(u64, i64), String> {
    let n = a.strides.len();
    let (s, d) = (a.strides[i] as i128, a.dilations[i] as i128);
    let eff = (kernel as i128 - 1).max(0) * d + 1;
    let natural = s * (input as i128 - 1) + t.output_padding[i] as i128 + eff;
    let same = a.auto_pad.starts_with("SAME");
    let target = match &t.output_shape {
        Some(shape) => Some(shape[i] as i128),
        None if same => Some(input as i128 * s),
        None => None,
    };
    let (out, begin) = match target {
        Some(out) => {
            let total = natural - out;
            let half = total.div_euclid(2);
            let begin = if a.auto_pad == "SAME_UPPER" { half } else { total - half };
            (out, begin)
        }
        None if a.auto_pad == "VALID" => (natural, 0),
        None => {
            let (b, e) = (a.pads[i] as i128, a.pads[n + i] as i128);
            (natural - b - e, b)
        }
    };
    if out < 0 {
        return Err(format!("spatial dim {i}: the output extent would be {out}"));
    }
    let begin = i64::try_from(begin).map_err(|_| "padding out of range")?;
    Ok((u64::try_from(out).map_err(|_| "output extent out of range")?, begin))
}

fn infer_conv_transpose(info: &OpInfo) -> Result<Vec<Type>, String> {
    let n = check_conv_operands(info)?;
    let (x, w) = (operand(info, 0)?, operand(info, 1)?);
    let a = conv_attrs(info.attrs, n)?;
    let t = transpose_attrs(info.attrs, n)?;
    let kernel = kernel_dims(&a, &w.dims[2..])?;
    check_channels(x.dims[1].fixed(), w.dims[0].fixed(), "X's channels differ from W's first dim")?;
    check_divisible(&w.dims[0], a.group, "the input channel count C")?;
    let m = w.dims[1].fixed().map_or(Dim::Dyn, |mg| Dim::Fixed(mg * a.group));
    if let Some(b) = super::util_b::optional_operand(info, 2)? {
        check_channels(b.dims[0].fixed(), m.fixed(), "the bias length differs from M")?;
    }
    let mut dims = vec![x.dims[0].clone(), m];
    for i in 0..n {
        dims.push(match (x.dims[2 + i].fixed(), kernel[i], &t.output_shape) {
            (_, _, Some(shape)) => Dim::Fixed(shape[i] as u64),
            (Some(d), Some(k), None) => Dim::Fixed(conv_transpose_out(&a, &t, i, d, k)?.0),
            _ => Dim::Dyn,
        });
    }
    Ok(vec![tensor_type(dims, x.elem.clone())])
}

fn eval_conv_transpose(ops: &[Tensor], attrs: &Attrs, _: &[Type]) -> Result<Vec<Tensor>, String> {
    let (x, w) = (&ops[0], &ops[1]);
    let n = x
        .shape
        .len()
        .checked_sub(2)
        .filter(|&n| n >= 1 && w.shape.len() == n + 2)
        .ok_or("X and W must have rank >= 3")?;
    let a = conv_attrs(attrs, n)?;
    let t = transpose_attrs(attrs, n)?;
    let kernel = &w.shape[2..];
    let (batch, c, mg) = (x.shape[0], x.shape[1], w.shape[1]);
    if w.shape[0] != c || c % a.group != 0 {
        return Err(format!("channels: X has {c}, W's first dim is {}, group {}", w.shape[0], a.group));
    }
    let (cg, m) = (c / a.group, mg * a.group);
    let mut out_sp = Vec::with_capacity(n);
    let mut begin = Vec::with_capacity(n);
    for (i, &k) in kernel.iter().enumerate() {
        let (o, b) = conv_transpose_out(&a, &t, i, x.shape[2 + i], k)?;
        out_sp.push(o);
        begin.push(b);
    }
    let mut shape = vec![batch, m];
    shape.extend(&out_sp);
    let total = checked_numel(&shape)? as usize;
    if total == 0 {
        return Ok(vec![super::util_b::build(&x.elem, shape, [])]);
    }
    let (xv, wv) = (floats(x), floats(w));
    let (xs, ws, ys) = (strides(&x.shape), strides(&w.shape), strides(&shape));
    let mut acc = vec![0f64; total];
    for nb in 0..batch {
        for ic in 0..c {
            let g = ic / cg;
            for_each_index(&x.shape[2..], |_, p| {
                let x_off = nb * xs[0] + ic * xs[1] + p.iter().zip(&xs[2..]).map(|(p, s)| p * s).sum::<u64>();
                let xval = xv[x_off as usize];
                for_each_index(kernel, |_, k| {
                    let mut y_off = nb * ys[0];
                    for i in 0..n {
                        let pos = spatial_pos(p[i], a.strides[i], k[i], a.dilations[i], begin[i]);
                        if pos < 0 || pos >= out_sp[i] as i128 {
                            return;
                        }
                        y_off += pos as u64 * ys[2 + i];
                    }
                    let w_off = ic * ws[0] + k.iter().zip(&ws[2..]).map(|(k, s)| k * s).sum::<u64>();
                    for om in 0..mg {
                        acc[(y_off + (g * mg + om) * ys[1]) as usize] += xval * wv[(w_off + om * ws[1]) as usize];
                    }
                });
            });
        }
    }
    let per_channel: u64 = out_sp.iter().product();
    let mut values = Vec::with_capacity(total);
    for (flat, v) in acc.into_iter().enumerate() {
        let oc = (flat as u64 / per_channel.max(1)) % m.max(1);
        values.push(Scalar::Float(v + bias(ops, oc as usize)?));
    }
    Ok(vec![super::util_b::build(&x.elem, shape, values)])
}

#[cfg(test)]
mod tests;
