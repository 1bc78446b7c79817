//! `nn.resize`: separable interpolation (nearest, linear, cubic) of every
//! dim to a static output shape, with ONNX's coordinate transformation
//! modes as attributes.
//!
//! Invariants: every attribute is full-rank (one entry per dim; a dim that
//! is not resized has scale 1 and its own extent, which samples it
//! exactly); each dim maps an output coordinate to an input coordinate in
//! f64, picks taps (clamped to the edge) and weights, and the result is the
//! separable weighted sum in f64, rounded once (integers truncate toward
//! zero and saturate).

use super::arith::ONE_RESULT;
use super::common::{bool_attr, checked_numel, choice_attr, extents_attr, float_attr, floats_attr, strides, wrap};
use super::convert::float_to_int;
use super::unary::UNARY;
use crate::module::Attrs;
use crate::ops::eval::{as_f64, unflatten};
use crate::ops::shape::tensor_operand;
use crate::ops::{AttrKind, AttrSpec, OpDef, OpInfo, Trait};
use crate::tensor::{Scalar, Tensor};
use crate::types::{ElemType, TensorType, Type};

pub mod sampling;

use sampling::{original_coord, taps, Sampling, Tap};

pub const MODES: &[&str] = &["nearest", "linear", "cubic"];
pub const COORDINATE_MODES: &[&str] =
    &["half_pixel", "half_pixel_symmetric", "pytorch_half_pixel", "align_corners", "asymmetric", "tf_crop_and_resize"];
pub const NEAREST_MODES: &[&str] = &["round_prefer_floor", "round_prefer_ceil", "floor", "ceil"];

pub const RESIZE: OpDef = OpDef {
    name: "nn.resize",
    summary: "Resizes every dim by interpolation to a static shape",
    description: "`size` is the result shape and `scales` the scale of each dim (usually \
`size / extent`, but kept separately because the coordinate transformations use it). Each dim \
maps output coordinate `x` to input coordinate `x'` by `coordinate_transformation_mode`, with \
`w = scale * in` (unrounded): `half_pixel`: `(x + 0.5) / scale - 0.5`; `align_corners`: \
`x * (in - 1) / (w - 1)` (0 when w = 1); `asymmetric`: `x / scale`; `pytorch_half_pixel`: like \
`half_pixel`, but -0.5 when w = 1; `half_pixel_symmetric`: `in / 2 * (1 - size / w) + (x + 0.5) / \
scale - 0.5`; `tf_crop_and_resize`: `start * (in - 1) + x * (end - start) * (in - 1) / (w - 1)` \
with `[start, end]` from `roi`, and `extrapolation_value` when any dim's coordinate is outside \
`[0, in - 1]`. `nearest` picks one element (`nearest_mode`: `round_prefer_floor`, \
`round_prefer_ceil`, `floor`, `ceil`; an integral coordinate picks itself); `linear` weights the \
2 neighbours; `cubic` the 4 neighbours with the Keys kernel of parameter `cubic_coeff_a`. \
`antialias` widens the linear and cubic kernels by `1 / scale` when downscaling (weights \
renormalized); `exclude_outside` zeroes the weights of taps outside the input and renormalizes. \
Taps outside the input read the nearest edge element. Weights and sums are in f64, rounded once; \
integer results truncate toward zero. A dim with scale 1 and its own extent is unchanged by every \
mode.\n\n\
```\n%1 = nn.resize %0 {coordinate_transformation_mode = \"half_pixel\", mode = \"linear\", scales = [1.0, 1.0, 2.0, 2.0], size = [1, 3, 224, 224]} : (tensor<1x3x112x112xf32>) -> tensor<1x3x224x224xf32>\n```",
    operands: UNARY,
    results: ONE_RESULT,
    attrs: &[
        AttrSpec { name: "antialias", kind: AttrKind::Bool, required: false, doc: "default false" },
        AttrSpec {
            name: "coordinate_transformation_mode",
            kind: AttrKind::Str,
            required: true,
            doc: "half_pixel, half_pixel_symmetric, pytorch_half_pixel, align_corners, asymmetric, tf_crop_and_resize",
        },
        AttrSpec { name: "cubic_coeff_a", kind: AttrKind::Float, required: false, doc: "default -0.75" },
        AttrSpec { name: "exclude_outside", kind: AttrKind::Bool, required: false, doc: "default false" },
        AttrSpec {
            name: "extrapolation_value",
            kind: AttrKind::Float,
            required: false,
            doc: "tf_crop_and_resize's value outside the input; default 0.0",
        },
        AttrSpec { name: "mode", kind: AttrKind::Str, required: true, doc: "nearest, linear or cubic" },
        AttrSpec {
            name: "nearest_mode",
            kind: AttrKind::Str,
            required: false,
            doc: "round_prefer_floor (default), round_prefer_ceil, floor, ceil",
        },
        AttrSpec {
            name: "roi",
            kind: AttrKind::Any,
            required: false,
            doc: "floats [starts.., ends..], one of each per dim; required by tf_crop_and_resize only",
        },
        AttrSpec { name: "scales", kind: AttrKind::Any, required: true, doc: "floats, one positive scale per dim" },
        AttrSpec { name: "size", kind: AttrKind::Ints, required: true, doc: "the result shape" },
    ],
    traits: &[Trait::Pure],
    infer: Some(infer_resize),
    eval: Some(eval_resize),
    ..OpDef::DEFAULT
};

/// The checked attributes of a resize of a rank-`rank` tensor.
struct Spec<'a> {
    sampling: Sampling<'a>,
    size: Vec<u64>,
    scales: Vec<f64>,
    roi: Vec<f64>,
    extrapolation: f64,
}

fn spec(attrs: &Attrs, rank: usize) -> Result<Spec<'_>, String> {
    let sampling = Sampling {
        mode: choice_attr(attrs, "mode", MODES)?,
        coord: choice_attr(attrs, "coordinate_transformation_mode", COORDINATE_MODES)?,
        nearest: choice_attr(attrs, "nearest_mode", NEAREST_MODES)?,
        cubic_a: float_attr(attrs, "cubic_coeff_a", -0.75)?,
        antialias: bool_attr(attrs, "antialias", false)?,
        exclude_outside: bool_attr(attrs, "exclude_outside", false)?,
    };
    let size = extents_attr(attrs, "size")?;
    let scales = floats_attr(attrs, "scales")?.ok_or("attribute 'scales' must be an array of floats")?;
    if size.len() != rank || scales.len() != rank {
        return Err(format!("'size' and 'scales' need {rank} entries each (one per dim)"));
    }
    if let Some(s) = scales.iter().find(|s| !(**s > 0.0 && s.is_finite())) {
        return Err(format!("'scales' entries must be positive, got {s}"));
    }
    let roi = match floats_attr(attrs, "roi")? {
        Some(r) if r.len() != 2 * rank => return Err(format!("'roi' needs {} entries, got {}", 2 * rank, r.len())),
        Some(r) => r,
        None if sampling.coord == "tf_crop_and_resize" => return Err("tf_crop_and_resize needs 'roi'".into()),
        None => Vec::new(),
    };
    Ok(Spec { sampling, size, scales, roi, extrapolation: float_attr(attrs, "extrapolation_value", 0.0)? })
}

fn infer_resize(info: &OpInfo) -> Result<Vec<Type>, String> {
    let x = tensor_operand(info.operand_types, 0)?;
    if !x.elem.is_float() && !x.elem.is_int() {
        return Err(format!("operand #0 must have a float or integer element type, got {}", x.elem));
    }
    let s = spec(info.attrs, x.rank())?;
    for (d, (dim, &out)) in x.dims.iter().zip(&s.size).enumerate() {
        if dim.fixed() == Some(0) && out > 0 {
            return Err(format!("cannot resize dim {d} of extent 0 to {out}"));
        }
    }
    Ok(vec![Type::Tensor(TensorType::fixed(&s.size, x.elem.clone()))])
}

/// The taps of one dim for every output coordinate (`None`: outside the
/// crop, the output is the extrapolation value).
pub type DimTaps = Vec<Option<Vec<Tap>>>;

/// What a resize of a given input shape reads: the taps of every dim.
/// Evaluation and the JIT both sample through this, so they read the same
/// elements with the same weights.
#[derive(Debug, Clone, PartialEq)]
pub struct ResizeTaps {
    /// The result shape.
    pub size: Vec<u64>,
    /// Per dim, per output coordinate, the taps.
    pub dims: Vec<DimTaps>,
    /// The value of an output element whose coordinate is outside the crop
    /// in any dim.
    pub extrapolation: f64,
}

/// The taps of a resize with attributes `attrs` of an input of `shape`.
pub fn resize_taps(attrs: &Attrs, shape: &[u64]) -> Result<ResizeTaps, String> {
    let rank = shape.len();
    let s = spec(attrs, rank)?;
    checked_numel(&s.size)?;
    let mut dims: Vec<DimTaps> = Vec::with_capacity(rank);
    for (d, &input) in shape.iter().enumerate() {
        let (out, scale) = (s.size[d], s.scales[d]);
        if input == 0 && out > 0 {
            return Err(format!("cannot resize dim {d} of extent 0 to {out}"));
        }
        let crop = (s.roi.get(d).copied().unwrap_or(0.0), s.roi.get(rank + d).copied().unwrap_or(1.0));
        dims.push(
            (0..out)
                .map(|o| {
                    original_coord(&s.sampling, o as f64, scale, input, out, crop)
                        .map(|c| taps(&s.sampling, c, scale, input))
                })
                .collect(),
        );
    }
    Ok(ResizeTaps { size: s.size, dims, extrapolation: s.extrapolation })
}

fn eval_resize(ops: &[Tensor], attrs: &Attrs, _: &[Type]) -> Result<Vec<Tensor>, String> {
    let x = &ops[0];
    let rank = x.shape.len();
    let plan = resize_taps(attrs, &x.shape)?;
    let xv: Vec<f64> = (0..x.numel() as usize).map(|i| as_f64(x.data.get(i))).collect();
    let xs = strides(&x.shape);
    let mut idx = vec![0u64; rank];
    let mut chosen: Vec<&[Tap]> = Vec::with_capacity(rank);
    let elem = x.elem.clone();
    Ok(vec![Tensor::from_fn(elem.clone(), plan.size.clone(), |flat| {
        unflatten(flat as u64, &plan.size, &mut idx);
        chosen.clear();
        for (taps, &i) in plan.dims.iter().zip(&idx) {
            match &taps[i as usize] {
                Some(t) => chosen.push(t),
                None => break,
            }
        }
        let v = if chosen.len() < rank { plan.extrapolation } else { weighted_sum(&xv, &xs, &chosen, 0, 0, 1.0) };
        to_elem(&elem, v)
    })])
}

fn to_elem(elem: &ElemType, v: f64) -> Scalar {
    match elem {
        ElemType::Int { width, signed } => wrap(elem, float_to_int(v, *width, *signed)),
        _ => Scalar::Float(v),
    }
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
