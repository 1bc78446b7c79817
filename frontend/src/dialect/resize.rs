//! ONNX `Resize` (opset 19+ semantics): nearest, N-linear and N-cubic
//! interpolation over any subset of axes, every coordinate transformation
//! mode, antialiasing, `keep_aspect_ratio_policy`.
//!
//! Invariants: the sampling follows the ONNX reference implementation:
//! each resized dim maps an output coordinate to an input coordinate
//! (f64), picks its taps and weights (see [`taps`]), reads out-of-range
//! taps from the nearest edge, and the result is the separable weighted
//! sum, accumulated in f64 and rounded once (integers truncate toward
//! zero). Output extents are `floor(in * scale)` computed in f32, as ONNX
//! shape inference does.

use super::util_b::{
    attr_choice, attr_flag, attr_float, attr_ints, check_max_operands, checked_numel, const_floats, const_ints, floats,
    int_operand, numeric_operand, strides, tensor_type, unflatten, unique_axes, vector_len,
};
use weft_ir::ops::nn::resize::sampling::{original_coord, taps, Sampling, Tap};
use weft_ir::ops::{Arity, AttrKind, AttrSpec, OpDef, OpInfo, Trait};
use weft_ir::tensor::{Scalar, Tensor};
use weft_ir::types::{Dim, Type};
use weft_ir::Attrs;

pub const MODES: &[&str] = &["nearest", "linear", "cubic"];
pub const COORDINATE_MODES: &[&str] =
    &["half_pixel", "half_pixel_symmetric", "pytorch_half_pixel", "align_corners", "asymmetric", "tf_crop_and_resize"];
pub const NEAREST_MODES: &[&str] = &["round_prefer_floor", "round_prefer_ceil", "floor", "ceil"];
const POLICIES: &[&str] = &["stretch", "not_larger", "not_smaller"];

pub const RESIZE: OpDef = OpDef {
    name: "onnx.Resize",
    summary: "Resizes a tensor by interpolation (nearest, linear, cubic) to given scales or sizes",
    description: "Operands: `X`, then optional `roi` (1-D float, `[starts.., ends..]` over the \
resized axes; only read by `tf_crop_and_resize`), `scales` (1-D f32) and `sizes` (1-D i64), one \
entry per resized axis (`axes`, default all). Exactly one of `scales` and `sizes` is non-empty: \
the importer materializes an omitted `roi`/`scales` as an empty `tensor<0xf32>`. With scales, an \
output extent is `floor(in * scale)` (in f32); with sizes it is the size, adjusted by \
`keep_aspect_ratio_policy` (`not_larger`/`not_smaller` use one scale `min`/`max(size / in)` and \
round `scale * in` half up), and the scale is `out / in`.\n\n\
Each resized dim maps output coordinate `x` to input coordinate `x'` by \
`coordinate_transformation_mode` (`half_pixel`: `(x + 0.5) / scale - 0.5`; `align_corners`: \
`x * (in - 1) / (scale * in - 1)`; `asymmetric`: `x / scale`; `pytorch_half_pixel`: like \
half_pixel, but -0.5 when `scale * in` is 1; `half_pixel_symmetric`; `tf_crop_and_resize`: from \
`roi`, with `extrapolation_value` outside the input). As in the ONNX reference implementation \
(whose outputs the ONNX backend tests hold), the output length in these formulas is the \
unrounded `scale * in`: the operator text's integer `length_resized` differs from it when a \
scale is given that does not divide evenly. `nearest` picks one input per `nearest_mode`; `linear` weights 2 neighbours; `cubic` 4 \
with the Keys kernel of parameter `cubic_coeff_a`; `antialias = 1` widens the linear/cubic filter \
by `1 / scale` when downscaling (nearest ignores it); `exclude_outside = 1` drops taps outside the \
input and renormalizes. Taps outside the input read the nearest edge element. Weights and sums \
are in f64, rounded once; integer results truncate toward zero.\n\n\
```\n%4 = onnx.Resize %0, %1, %2 {mode = \"linear\"} : (tensor<1x3x112x112xf32>, tensor<0xf32>, tensor<4xf32>) -> tensor<1x3x224x224xf32>\n```",
    operands: Arity::Variadic { name: "X, roi, scales, sizes", min: 1 },
    results: Arity::Fixed(&["Y"]),
    attrs: &[
        AttrSpec { name: "antialias", kind: AttrKind::Int, required: false, doc: "1: antialias linear/cubic downscaling (default 0)" },
        AttrSpec { name: "axes", kind: AttrKind::Ints, required: false, doc: "the resized axes (default all)" },
        AttrSpec {
            name: "coordinate_transformation_mode",
            kind: AttrKind::Str,
            required: false,
            doc: "half_pixel (default), half_pixel_symmetric, pytorch_half_pixel, align_corners, asymmetric, tf_crop_and_resize",
        },
        AttrSpec { name: "cubic_coeff_a", kind: AttrKind::Float, required: false, doc: "the cubic kernel's a (default -0.75)" },
        AttrSpec {
            name: "exclude_outside",
            kind: AttrKind::Int,
            required: false,
            doc: "1: zero and renormalize taps outside the input (default 0)",
        },
        AttrSpec {
            name: "extrapolation_value",
            kind: AttrKind::Float,
            required: false,
            doc: "tf_crop_and_resize's value outside the input (default 0.0)",
        },
        AttrSpec {
            name: "keep_aspect_ratio_policy",
            kind: AttrKind::Str,
            required: false,
            doc: "stretch (default), not_larger, not_smaller; only with sizes",
        },
        AttrSpec { name: "mode", kind: AttrKind::Str, required: false, doc: "nearest (default), linear, cubic" },
        AttrSpec {
            name: "nearest_mode",
            kind: AttrKind::Str,
            required: false,
            doc: "round_prefer_floor (default), round_prefer_ceil, floor, ceil",
        },
    ],
    traits: &[Trait::Pure],
    infer: Some(infer_resize),
    eval: Some(eval_resize),
    ..OpDef::DEFAULT
};

/// The validated attributes of a Resize.
struct ResizeAttrs<'a> {
    sampling: Sampling<'a>,
    extrapolation: f64,
    policy: &'a str,
    axes: Option<Vec<i64>>,
}

fn resize_attrs(attrs: &Attrs) -> Result<ResizeAttrs<'_>, String> {
    Ok(ResizeAttrs {
        sampling: Sampling {
            mode: attr_choice(attrs, "mode", MODES)?,
            coord: attr_choice(attrs, "coordinate_transformation_mode", COORDINATE_MODES)?,
            nearest: attr_choice(attrs, "nearest_mode", NEAREST_MODES)?,
            cubic_a: attr_float(attrs, "cubic_coeff_a", -0.75)?,
            antialias: attr_flag(attrs, "antialias", false)?,
            exclude_outside: attr_flag(attrs, "exclude_outside", false)?,
        },
        extrapolation: attr_float(attrs, "extrapolation_value", 0.0)?,
        policy: attr_choice(attrs, "keep_aspect_ratio_policy", POLICIES)?,
        axes: attr_ints(attrs, "axes")?,
    })
}

/// The resized axes: `axes` resolved, or all dims.
fn resized_axes(a: &ResizeAttrs, rank: usize) -> Result<Vec<usize>, String> {
    match &a.axes {
        Some(axes) => unique_axes(axes, rank, "axis"),
        None => Ok((0..rank).collect()),
    }
}

/// What the output size is computed from.
#[derive(Debug, Clone, PartialEq)]
enum Target {
    Scales(Vec<f64>),
    Sizes(Vec<i64>),
}

/// Which of `scales` (operand 2) and `sizes` (operand 3) is in use, from
/// the operand types: `Some(2)`, `Some(3)`, or `None` when unknown.
fn target_operand(info: &OpInfo) -> Result<Option<usize>, String> {
    let len = |i: usize| -> Result<Option<u64>, String> {
        if i < info.operand_types.len() {
            vector_len(info, i)
        } else {
            Ok(Some(0))
        }
    };
    if info.operand_types.len() > 2 {
        super::util_b::float_operand(info, 2)?;
    }
    if info.operand_types.len() > 3 {
        int_operand(info, 3)?;
    }
    match (len(2)?, len(3)?) {
        (Some(a), Some(b)) if a > 0 && b > 0 => Err("give either 'scales' or 'sizes', not both".into()),
        (Some(0), Some(0)) => Err("Resize needs non-empty 'scales' or 'sizes'".into()),
        (_, Some(b)) if b > 0 => Ok(Some(3)),
        (Some(a), _) if a > 0 => Ok(Some(2)),
        _ => Ok(None),
    }
}

/// Output extents of the resized axes and their scales, from static input
/// extents (`None` where unknown: those outputs are unknown too).
fn resized_extents(input: &[Option<u64>], target: &Target, policy: &str) -> Result<Vec<(Option<u64>, f64)>, String> {
    match target {
        Target::Scales(scales) => scales
            .iter()
            .zip(input)
            .map(|(&s, &d)| {
                if !(s > 0.0 && s.is_finite()) {
                    return Err(format!("'scales' must be positive, got {s}"));
                }
                Ok((d.map(|d| (d as f32 * s as f32).floor() as u64), s))
            })
            .collect(),
        Target::Sizes(sizes) => {
            let sizes = super::util_b::shape_from_values(sizes, "'sizes'")?;
            let ratio = |size: u64, d: u64| size as f64 / d as f64;
            if policy == "stretch" {
                return Ok(sizes.iter().zip(input).map(|(&s, &d)| (Some(s), d.map_or(1.0, |d| ratio(s, d)))).collect());
            }
            let known: Option<Vec<u64>> = input.iter().copied().collect();
            let Some(known) = known else { return Ok(vec![(None, 1.0); sizes.len()]) };
            let ratios = sizes.iter().zip(&known).map(|(&s, &d)| ratio(s, d));
            let scale =
                if policy == "not_larger" { ratios.fold(f64::INFINITY, f64::min) } else { ratios.fold(0.0, f64::max) };
            Ok(known.iter().map(|&d| (Some((scale * d as f64 + 0.5).floor() as u64), scale)).collect())
        }
    }
}

/// The target values of a concrete Resize.
fn target_values(ops: &[Tensor]) -> Result<Target, String> {
    let nonempty = |i: usize| ops.get(i).filter(|t| t.numel() > 0);
    match (nonempty(2), nonempty(3)) {
        (Some(_), Some(_)) => Err("give either 'scales' or 'sizes', not both".into()),
        (Some(s), None) => Ok(Target::Scales(floats(s))),
        (None, Some(s)) => Ok(Target::Sizes(super::util_b::ints(s, "'sizes'")?)),
        (None, None) => Err("Resize needs non-empty 'scales' or 'sizes'".into()),
    }
}

fn infer_resize(info: &OpInfo) -> Result<Vec<Type>, String> {
    check_max_operands(info, 4)?;
    let x = numeric_operand(info, 0)?;
    let a = resize_attrs(info.attrs)?;
    let axes = resized_axes(&a, x.rank())?;
    if info.operand_types.len() > 1 {
        super::util_b::float_operand(info, 1)?;
    }
    let which = target_operand(info)?;
    if let Some(i) = which {
        if let Some(n) = vector_len(info, i)? {
            if n as usize != axes.len() {
                return Err(format!("operand #{i} has {n} entries for {} resized axes", axes.len()));
            }
        }
    }
    let target = match which {
        Some(2) => const_floats(info, 2).map(Target::Scales),
        Some(3) => const_ints(info, 3).map(Target::Sizes),
        _ => None,
    };
    let mut dims = x.dims.clone();
    let input: Vec<Option<u64>> = axes.iter().map(|&ax| x.dims[ax].fixed()).collect();
    let extents = match &target {
        Some(t) => resized_extents(&input, t, a.policy)?,
        None => vec![(None, 0.0); axes.len()],
    };
    for (&ax, (out, scale)) in axes.iter().zip(extents) {
        dims[ax] = match (out, &target) {
            (Some(o), _) => Dim::Fixed(o),
            (None, Some(Target::Scales(_))) if scale == 1.0 => x.dims[ax].clone(),
            _ => Dim::Dyn,
        };
    }
    Ok(vec![tensor_type(dims, x.elem.clone())])
}

/// The taps of one resized dim for every output coordinate (`None`:
/// outside the crop, the output is the extrapolation value).
type DimTaps = Vec<Option<Vec<Tap>>>;

fn eval_resize(ops: &[Tensor], attrs: &Attrs, _: &[Type]) -> Result<Vec<Tensor>, String> {
    let x = &ops[0];
    let a = resize_attrs(attrs)?;
    let rank = x.shape.len();
    let axes = resized_axes(&a, rank)?;
    let target = target_values(ops)?;
    let n_target = match &target {
        Target::Scales(v) => v.len(),
        Target::Sizes(v) => v.len(),
    };
    if n_target != axes.len() {
        return Err(format!("'scales'/'sizes' have {n_target} entries for {} resized axes", axes.len()));
    }
    let input: Vec<Option<u64>> = axes.iter().map(|&ax| Some(x.shape[ax])).collect();
    let extents = resized_extents(&input, &target, a.policy)?;
    let roi = match ops.get(1) {
        Some(r) if r.numel() > 0 => floats(r),
        _ => Vec::new(),
    };
    if a.sampling.coord == "tf_crop_and_resize" && roi.len() != 2 * axes.len() {
        return Err(format!("tf_crop_and_resize needs 'roi' with {} values, got {}", 2 * axes.len(), roi.len()));
    }
    let mut shape = x.shape.clone();
    for (&ax, (out, _)) in axes.iter().zip(&extents) {
        shape[ax] = out.unwrap_or(0);
    }
    if checked_numel(&shape)? == 0 {
        return Ok(vec![super::util_b::build(&x.elem, shape, [])]);
    }
    let mut dim_taps: Vec<DimTaps> =
        x.shape.iter().map(|&d| (0..d).map(|o| Some(vec![Tap { index: o, weight: 1.0 }])).collect()).collect();
    for (i, (&ax, (out, scale))) in axes.iter().zip(extents).enumerate() {
        let out = out.unwrap_or(0);
        let in_len = x.shape[ax];
        if in_len == 0 && out > 0 {
            return Err(format!("cannot resize axis {ax} of extent 0 to {out}"));
        }
        let crop = (roi.get(i).copied().unwrap_or(0.0), roi.get(axes.len() + i).copied().unwrap_or(1.0));
        dim_taps[ax] = (0..out)
            .map(|o| {
                original_coord(&a.sampling, o as f64, scale, in_len, out, crop)
                    .map(|c| taps(&a.sampling, c, scale, in_len))
            })
            .collect();
    }
    let values = sample_all(x, &shape, &dim_taps, a.extrapolation);
    let int = x.elem.is_int();
    let values = values.into_iter().map(|v| if int { Scalar::Int(v.trunc() as i64) } else { Scalar::Float(v) });
    Ok(vec![super::util_b::build(&x.elem, shape, values)])
}

/// Every output element: the separable weighted sum of its taps.
fn sample_all(x: &Tensor, shape: &[u64], dim_taps: &[DimTaps], extrapolation: f64) -> Vec<f64> {
    let xv = floats(x);
    let xs = strides(&x.shape);
    let n: u64 = shape.iter().product();
    let mut idx = vec![0u64; shape.len()];
    let mut out = Vec::with_capacity(n as usize);
    let mut chosen: Vec<&[Tap]> = Vec::with_capacity(shape.len());
    for flat in 0..n as usize {
        unflatten(flat, shape, &mut idx);
        chosen.clear();
        for (taps, &i) in dim_taps.iter().zip(&idx) {
            match &taps[i as usize] {
                Some(t) => chosen.push(t),
                None => break,
            }
        }
        if chosen.len() < shape.len() {
            out.push(extrapolation);
        } else {
            out.push(weighted_sum(&xv, &xs, &chosen, 0, 0, 1.0));
        }
    }
    out
}

/// The sum over the taps of dims `d..` of weight products times elements.
fn weighted_sum(xv: &[f64], xs: &[u64], chosen: &[&[Tap]], d: usize, offset: u64, weight: f64) -> f64 {
    let Some(taps) = chosen.get(d) else {
        return weight * xv[offset as usize];
    };
    taps.iter().map(|t| weighted_sum(xv, xs, chosen, d + 1, offset + t.index * xs[d], weight * t.weight)).sum()
}

#[cfg(test)]
mod tests;
