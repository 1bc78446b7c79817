//! Convolutions of the nn dialect over N spatial dims: `conv` and
//! `conv_transpose`, with explicit strides, dilations, padding and groups.
//! Bias is not part of either op: it is a separate broadcasting `nn.add`.
//!
//! Invariants: every attribute has one entry per spatial dim (`pads` two:
//! all begins, then all ends) and is checked by shape inference, which
//! evaluation shares; products accumulate in f64 and round once per output
//! element; an output extent below zero (a kernel longer than its padded
//! input) is zero. `conv` pads are >= 0; `conv_transpose` pads may be
//! negative (they crop or extend its output), which also expresses ONNX's
//! `output_padding`.

use super::arith::ONE_RESULT;
use super::common::{checked_numel, float_operand, int_attr, ints_attr, one, same_elem, strides};
use crate::module::Attrs;
use crate::ops::eval::{as_f64, unflatten};
use crate::ops::{Arity, AttrKind, AttrSpec, OpDef, OpInfo, Trait};
use crate::tensor::{Scalar, Tensor};
use crate::types::{Dim, Type};

const CONV_OPERANDS: Arity = Arity::Fixed(&["input", "weight"]);

const STRIDES: AttrSpec =
    AttrSpec { name: "strides", kind: AttrKind::Ints, required: true, doc: "per spatial dim, each >= 1" };
const DILATIONS: AttrSpec =
    AttrSpec { name: "dilations", kind: AttrKind::Ints, required: true, doc: "per spatial dim, each >= 1" };
const PADS: AttrSpec =
    AttrSpec { name: "pads", kind: AttrKind::Ints, required: true, doc: "[begin_1..begin_n, end_1..end_n], each >= 0" };
const CROP: AttrSpec = AttrSpec {
    name: "pads",
    kind: AttrKind::Ints,
    required: true,
    doc: "[begin_1..begin_n, end_1..end_n]: output positions cropped (> 0) or added (< 0) at each side",
};
const GROUPS: AttrSpec = AttrSpec {
    name: "groups",
    kind: AttrKind::Int,
    required: true,
    doc: ">= 1; divides the input and output channel counts",
};

pub const CONV: OpDef = OpDef {
    name: "nn.conv",
    summary: "N-d convolution (cross-correlation) with strides, dilations, padding and groups",
    description: "`input` is `[N, C, D1..Dn]` and `weight` `[M, C / groups, K1..Kn]` (n >= 1, one \
float element type); the result is `[N, M, O1..On]` with `Oi = floor((Di + begin_i + end_i - \
((Ki - 1) * dilation_i + 1)) / stride_i) + 1` (0 when negative). Output channel `m` belongs to \
group `g = m / (M / groups)` and reads input channels `g * C / groups ..`: \
`y[b, m, o] = sum over c, k of x[b, g * C / groups + c, o * stride + k * dilation - begin] * w[m, c, k]`, \
reading zeros outside the input. Products accumulate in f64, rounded once per element.\n\n\
```\n%2 = nn.conv %0, %1 {dilations = [1, 1], groups = 1, pads = [0, 0, 0, 0], strides = [16, 16]} : (tensor<1x3x224x224xf32>, tensor<768x3x16x16xf32>) -> tensor<1x768x14x14xf32>\n```",
    operands: CONV_OPERANDS,
    results: ONE_RESULT,
    attrs: &[DILATIONS, GROUPS, PADS, STRIDES],
    traits: &[Trait::Pure],
    infer: Some(|info| infer_any(info, false)),
    eval: Some(|ops, attrs, _| eval_any(ops, attrs, false)),
    ..OpDef::DEFAULT
};

pub const CONV_TRANSPOSE: OpDef = OpDef {
    name: "nn.conv_transpose",
    summary: "N-d transposed convolution (the adjoint of conv) with strides, dilations, padding and groups",
    description: "`input` is `[N, C, D1..Dn]` and `weight` `[C, M / groups, K1..Kn]` (one float \
element type); the result is `[N, M, O1..On]` with `Oi = stride_i * (Di - 1) + (Ki - 1) * \
dilation_i + 1 - begin_i - end_i` (pads may be negative: a negative begin adds output positions \
in front, a negative end after, as ONNX's `output_padding` does). Every input element scatters \
into the output: `y[b, g * M / groups + m, i * stride + k * dilation - begin] += x[b, c, i] * \
w[c, m, k]` for input channel `c` of group `g = c / (C / groups)`; positions outside the output \
are dropped and positions nothing reaches are 0. Products accumulate in f64, rounded once per \
element.\n\n\
```\n%2 = nn.conv_transpose %0, %1 {dilations = [1, 1], groups = 1, pads = [0, 0, 0, 0], strides = [2, 2]} : (tensor<1x4x8x8xf32>, tensor<4x2x2x2xf32>) -> tensor<1x2x16x16xf32>\n```",
    operands: CONV_OPERANDS,
    results: ONE_RESULT,
    attrs: &[DILATIONS, GROUPS, CROP, STRIDES],
    traits: &[Trait::Pure],
    infer: Some(|info| infer_any(info, true)),
    eval: Some(|ops, attrs, _| eval_any(ops, attrs, true)),
    ..OpDef::DEFAULT
};

/// The checked attributes of a convolution with `n` spatial dims.
#[derive(Debug, Clone)]
struct Geometry {
    strides: Vec<u64>,
    dilations: Vec<u64>,
    begin: Vec<i64>,
    end: Vec<i64>,
    groups: u64,
}

fn list(attrs: &Attrs, name: &str, len: usize, min: i64) -> Result<Vec<i64>, String> {
    let v = ints_attr(attrs, name)?;
    if v.len() != len {
        return Err(format!("'{name}' has {} entries; expected {len}", v.len()));
    }
    v.iter()
        .map(|&x| if x >= min { Ok(x) } else { Err(format!("'{name}' entries must be >= {min}, got {x}")) })
        .collect()
}

fn geometry(attrs: &Attrs, n: usize, transpose: bool) -> Result<Geometry, String> {
    let pads = list(attrs, "pads", 2 * n, if transpose { i64::MIN } else { 0 })?;
    let groups = int_attr(attrs, "groups")?;
    if groups < 1 {
        return Err(format!("'groups' must be >= 1, got {groups}"));
    }
    let positive = |name| list(attrs, name, n, 1).map(|v| v.into_iter().map(|x| x as u64).collect());
    Ok(Geometry {
        strides: positive("strides")?,
        dilations: positive("dilations")?,
        begin: pads[..n].to_vec(),
        end: pads[n..].to_vec(),
        groups: groups as u64,
    })
}

impl Geometry {
    /// The output extent of spatial dim `i` (`None` when it overflows).
    fn extent(&self, i: usize, input: u64, kernel: u64, transpose: bool) -> Option<u64> {
        let span = (kernel.max(1) as i128 - 1) * self.dilations[i] as i128 + 1;
        let pads = self.begin[i] as i128 + self.end[i] as i128;
        let out = if transpose {
            let full = self.strides[i] as i128 * (input as i128 - 1) + span;
            if kernel == 0 || input == 0 {
                0
            } else {
                full - pads
            }
        } else {
            (input as i128 + pads - span).div_euclid(self.strides[i] as i128) + 1
        };
        u64::try_from(out.max(0)).ok()
    }
}

/// Checks that `channels` splits into `groups` (when static).
fn check_groups(what: &str, channels: &Dim, groups: u64) -> Result<(), String> {
    match channels.fixed() {
        Some(c) if c % groups != 0 => Err(format!("{what} ({c}) is not divisible by groups ({groups})")),
        _ => Ok(()),
    }
}

fn infer_any(info: &OpInfo, transpose: bool) -> Result<Vec<Type>, String> {
    let (x, w) = (float_operand(info, 0)?, float_operand(info, 1)?);
    same_elem(x, w)?;
    if x.rank() < 3 || w.rank() != x.rank() {
        return Err(format!("input and weight must have one rank >= 3, got ranks {} and {}", x.rank(), w.rank()));
    }
    let n = x.rank() - 2;
    let g = geometry(info.attrs, n, transpose)?;
    let (channels_in, per_group_in) = if transpose { (&w.dims[0], &x.dims[1]) } else { (&x.dims[1], &w.dims[1]) };
    check_groups("the input channel count", if transpose { per_group_in } else { channels_in }, g.groups)?;
    if let (Some(c), Some(cg)) = (channels_in.fixed(), per_group_in.fixed()) {
        let expected = if transpose { c } else { cg * g.groups };
        let actual = if transpose { cg } else { c };
        if expected != actual {
            return Err(format!("input has {actual} channels but the weight expects {expected}"));
        }
    }
    let out_channels = if transpose {
        w.dims[1].fixed().map_or(Dim::Dyn, |m| Dim::Fixed(m * g.groups))
    } else {
        check_groups("the output channel count", &w.dims[0], g.groups)?;
        w.dims[0].clone()
    };
    let mut dims = vec![x.dims[0].clone(), out_channels];
    for i in 0..n {
        dims.push(match (x.dims[i + 2].fixed(), w.dims[i + 2].fixed()) {
            (Some(d), Some(k)) => {
                Dim::Fixed(g.extent(i, d, k, transpose).ok_or_else(|| format!("spatial dim {i} overflows"))?)
            }
            _ => Dim::Dyn,
        });
    }
    Ok(one(dims, x.elem.clone()))
}

/// Everything evaluation needs about the operands' shapes.
struct Shapes<'a> {
    x: &'a [u64],
    w: &'a [u64],
    out: Vec<u64>,
}

fn eval_any(ops: &[Tensor], attrs: &Attrs, transpose: bool) -> Result<Vec<Tensor>, String> {
    let (x, w) = (&ops[0], &ops[1]);
    let n = x.shape.len().saturating_sub(2);
    let g = geometry(attrs, n, transpose)?;
    if x.shape.len() < 3 || w.shape.len() != x.shape.len() {
        return Err("input and weight must have one rank >= 3".into());
    }
    let out_channels = if transpose { w.shape[1] * g.groups } else { w.shape[0] };
    let mut out = vec![x.shape[0], out_channels];
    for i in 0..n {
        out.push(g.extent(i, x.shape[i + 2], w.shape[i + 2], transpose).ok_or("spatial dim overflows")?);
    }
    checked_numel(&out)?;
    let shapes = Shapes { x: &x.shape, w: &w.shape, out };
    let acc = if transpose { scatter(x, w, &g, &shapes) } else { gather(x, w, &g, &shapes) };
    let shape = shapes.out.clone();
    Ok(vec![Tensor::from_fn(x.elem.clone(), shape, |i| Scalar::Float(acc[i]))])
}

/// Direct convolution: each output element sums its receptive field.
fn gather(x: &Tensor, w: &Tensor, g: &Geometry, s: &Shapes) -> Vec<f64> {
    let n = s.x.len() - 2;
    let (xs, ws) = (strides(s.x), strides(s.w));
    let (cg, mg) = (s.w[1], s.out[1] / g.groups.max(1));
    let kernel = &s.w[2..];
    let kernel_count: u64 = kernel.iter().product();
    let total: u64 = s.out.iter().product();
    let (mut o, mut k) = (vec![0u64; s.out.len()], vec![0u64; n]);
    let mut acc = Vec::with_capacity(total as usize);
    for flat in 0..total {
        unflatten(flat, &s.out, &mut o);
        let (b, m) = (o[0], o[1]);
        let group = m / mg.max(1);
        let mut sum = 0.0;
        for c in 0..cg {
            let x_base = b * xs[0] + (group * cg + c) * xs[1];
            let w_base = m * ws[0] + c * ws[1];
            for kf in 0..kernel_count {
                unflatten(kf, kernel, &mut k);
                let Some(x_off) = input_offset(&o[2..], &k, g, s.x, &xs) else { continue };
                let w_off: u64 = k.iter().zip(&ws[2..]).map(|(a, b)| a * b).sum();
                sum += as_f64(x.data.get((x_base + x_off) as usize)) * as_f64(w.data.get((w_base + w_off) as usize));
            }
        }
        acc.push(sum);
    }
    acc
}

/// The offset (within one channel) of the input element output position
/// `o` reads at kernel position `k`, or `None` in the padding.
fn input_offset(o: &[u64], k: &[u64], g: &Geometry, x_shape: &[u64], xs: &[u64]) -> Option<u64> {
    let mut off = 0;
    for i in 0..o.len() {
        let pos = (o[i] * g.strides[i] + k[i] * g.dilations[i]) as i128 - g.begin[i] as i128;
        if pos < 0 || pos >= x_shape[i + 2] as i128 {
            return None;
        }
        off += pos as u64 * xs[i + 2];
    }
    Some(off)
}

/// Transposed convolution: each input element scatters into the output.
fn scatter(x: &Tensor, w: &Tensor, g: &Geometry, s: &Shapes) -> Vec<f64> {
    let n = s.x.len() - 2;
    let (os, ws) = (strides(&s.out), strides(s.w));
    let (cg, mg) = (s.x[1] / g.groups.max(1), s.w[1]);
    let kernel = &s.w[2..];
    let kernel_count: u64 = kernel.iter().product();
    let mut acc = vec![0.0; s.out.iter().product::<u64>() as usize];
    let (mut i, mut k) = (vec![0u64; s.x.len()], vec![0u64; n]);
    for flat in 0..s.x.iter().product::<u64>() {
        unflatten(flat, s.x, &mut i);
        let (b, c) = (i[0], i[1]);
        let group = c / cg.max(1);
        let v = as_f64(x.data.get(flat as usize));
        for kf in 0..kernel_count {
            unflatten(kf, kernel, &mut k);
            let Some(o_off) = output_offset(&i[2..], &k, g, &s.out, &os) else { continue };
            for m in 0..mg {
                let w_off = c * ws[0] + m * ws[1] + k.iter().zip(&ws[2..]).map(|(a, b)| a * b).sum::<u64>();
                let o = b * os[0] + (group * mg + m) * os[1] + o_off;
                acc[o as usize] += v * as_f64(w.data.get(w_off as usize));
            }
        }
    }
    acc
}

/// The offset (within one channel) of the output element that input
/// position `i` reaches at kernel position `k`, or `None` outside.
fn output_offset(i: &[u64], k: &[u64], g: &Geometry, out: &[u64], os: &[u64]) -> Option<u64> {
    let mut off = 0;
    for d in 0..i.len() {
        let pos = (i[d] * g.strides[d] + k[d] * g.dilations[d]) as i128 - g.begin[d] as i128;
        if pos < 0 || pos >= out[d + 2] as i128 {
            return None;
        }
        off += pos as u64 * os[d + 2];
    }
    Some(off)
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;
    use crate::attr::Attribute;

    fn conv_attrs(strides: &[i64], pads: &[i64], dilations: &[i64], groups: i64) -> Attrs {
        attrs(&[
            ("strides", int_list(strides)),
            ("pads", int_list(pads)),
            ("dilations", int_list(dilations)),
            ("groups", Attribute::Int(groups)),
        ])
    }

    #[test]
    fn conv_with_padding_matches_a_hand_computation() {
        // 1x1x3x3 input 1..9, 3x3 kernel of ones, pad 1: sums of neighbourhoods.
        let x = f32s(&[1, 1, 3, 3], &[1., 2., 3., 4., 5., 6., 7., 8., 9.]);
        let w = f32s(&[1, 1, 3, 3], &[1.0; 9]);
        let a = conv_attrs(&[1, 1], &[1, 1, 1, 1], &[1, 1], 1);
        let y = run(&CONV, &[x.clone(), w.clone()], &a);
        assert_eq!(y, f32s(&[1, 1, 3, 3], &[12., 21., 16., 27., 45., 33., 24., 39., 28.]));
        let strided = conv_attrs(&[2, 2], &[1, 1, 1, 1], &[1, 1], 1);
        assert_eq!(run(&CONV, &[x, w], &strided), f32s(&[1, 1, 2, 2], &[12., 16., 24., 28.]));
    }

    #[test]
    fn grouped_and_dilated_conv() {
        // Two groups of one channel each: channel 1's output only sees channel 1.
        let x = f32s(&[1, 2, 1, 4], &[1., 2., 3., 4., 10., 20., 30., 40.]);
        let w = f32s(&[2, 1, 1, 2], &[1., 1., 1., -1.]);
        let a = conv_attrs(&[1, 1], &[0, 0, 0, 0], &[1, 2], 2);
        assert_eq!(run(&CONV, &[x, w], &a), f32s(&[1, 2, 1, 2], &[4., 6., -20., -20.]));
    }

    #[test]
    fn conv_transpose_scatters() {
        let x = f32s(&[1, 1, 1, 2], &[1., 2.]);
        let w = f32s(&[1, 1, 1, 2], &[1., 10.]);
        let a = conv_attrs(&[1, 2], &[0, 0, 0, -1], &[1, 1], 1);
        assert_eq!(run(&CONV_TRANSPOSE, &[x.clone(), w.clone()], &a), f32s(&[1, 1, 1, 5], &[1., 10., 2., 20., 0.]));
        let cropped = conv_attrs(&[1, 2], &[0, 1, 0, 0], &[1, 1], 1);
        assert_eq!(run(&CONV_TRANSPOSE, &[x.clone(), w.clone()], &cropped), f32s(&[1, 1, 1, 3], &[10., 2., 20.]));
        let shifted = conv_attrs(&[1, 2], &[0, -1, 0, 0], &[1, 1], 1);
        assert_eq!(run(&CONV_TRANSPOSE, &[x, w], &shifted), f32s(&[1, 1, 1, 5], &[0., 1., 10., 2., 20.]));
    }

    #[test]
    fn conv_infers_shapes_and_checks_channels() {
        let a = conv_attrs(&[16, 16], &[0, 0, 0, 0], &[1, 1], 1);
        let t = infer(&CONV, &[f32_type(&[1, 3, 224, 224]), f32_type(&[768, 3, 16, 16])], &a).unwrap();
        assert_eq!(t.to_string(), "tensor<1x768x14x14xf32>");
        let e = infer(&CONV, &[f32_type(&[1, 4, 8, 8]), f32_type(&[8, 3, 3, 3])], &a).unwrap_err();
        assert_eq!(e, "input has 4 channels but the weight expects 3");
        let g = conv_attrs(&[1, 1], &[0, 0, 0, 0], &[1, 1], 3);
        let e = infer(&CONV, &[f32_type(&[1, 4, 8, 8]), f32_type(&[8, 2, 3, 3])], &g).unwrap_err();
        assert_eq!(e, "the input channel count (4) is not divisible by groups (3)");
        let bad = conv_attrs(&[0, 1], &[0, 0, 0, 0], &[1, 1], 1);
        let e = infer(&CONV, &[f32_type(&[1, 3, 8, 8]), f32_type(&[8, 3, 3, 3])], &bad).unwrap_err();
        assert_eq!(e, "'strides' entries must be >= 1, got 0");
    }
}
