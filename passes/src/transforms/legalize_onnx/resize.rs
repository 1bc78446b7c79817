//! The rule for Resize: `scales`/`sizes` (and `keep_aspect_ratio_policy`),
//! `axes` and `roi` are resolved into `nn.resize`'s full-rank static `size`,
//! `scales` and `roi`; the sampling attributes are copied with ONNX's
//! defaults made explicit.
//!
//! Invariants: output extents are computed as ONNX does (`floor(in *
//! scale)` in f32 for scales; sizes adjusted by the policy with `round(scale
//! * in)`); a dim that is not resized gets scale 1 and its own extent.

use super::builder::{attrs, floats, ints, not_constant, Replacement, Rewriter};
use super::known::{floats_of, ints_of};
use super::LegalizeError;
use weft_ir::ops::nn;
use weft_ir::{Attribute, Tensor};

/// What the output size is given by.
enum Target {
    Scales(Vec<f64>),
    Sizes(Vec<i64>),
}

/// Operand `i` as a known tensor: `None` when absent or empty.
fn nonempty(rw: &Rewriter, i: usize, what: &str) -> Result<Option<Tensor>, LegalizeError> {
    let Some(v) = rw.optional(i) else { return Ok(None) };
    if rw.ty(v).num_elements() == Some(0) {
        return Ok(None);
    }
    rw.known(v).map(Some).ok_or_else(|| not_constant(what))
}

pub fn resize(rw: &mut Rewriter) -> Replacement {
    let x = rw.operand(0)?;
    let shape = rw.shape(x)?;
    let rank = shape.len();
    let axes: Vec<usize> = match rw.attr_ints("axes") {
        Some(a) => a.iter().map(|&a| super::builder::axis(a, rank)).collect::<Result<_, _>>()?,
        None => (0..rank).collect(),
    };
    let target = match (nonempty(rw, 2, "scales")?, nonempty(rw, 3, "sizes")?) {
        (Some(s), None) => Target::Scales(floats_of(&s)),
        (None, Some(s)) => Target::Sizes(ints_of(&s).ok_or_else(|| LegalizeError::new("'sizes' must hold integers"))?),
        _ => return Err(LegalizeError::new("needs exactly one of 'scales' and 'sizes'")),
    };
    let input: Vec<u64> = axes.iter().map(|&a| shape[a]).collect();
    let policy = rw.attr_str("keep_aspect_ratio_policy", "stretch");
    let resolved = resolve(&input, &target, &policy)?;
    let (mut size, mut scales) = (shape.clone(), vec![1.0; rank]);
    for (&a, (out, scale)) in axes.iter().zip(resolved) {
        size[a] = out;
        scales[a] = scale;
    }
    let coord = rw.attr_str("coordinate_transformation_mode", "half_pixel");
    let mut a = attrs(&[
        ("mode", Attribute::Str(rw.attr_str("mode", "nearest"))),
        ("coordinate_transformation_mode", Attribute::Str(coord.clone())),
        ("nearest_mode", Attribute::Str(rw.attr_str("nearest_mode", "round_prefer_floor"))),
        ("cubic_coeff_a", Attribute::Float(rw.attr_float("cubic_coeff_a", -0.75))),
        ("exclude_outside", Attribute::Bool(rw.attr_int("exclude_outside", 0) != 0)),
        ("antialias", Attribute::Bool(rw.attr_int("antialias", 0) != 0)),
        ("size", ints(&size)),
        ("scales", floats(&scales)),
    ]);
    if coord == "tf_crop_and_resize" {
        let roi = nonempty(rw, 1, "roi")?.map(|t| floats_of(&t)).unwrap_or_default();
        if roi.len() != 2 * axes.len() {
            return Err(LegalizeError::new(format!("'roi' has {} values for {} resized axes", roi.len(), axes.len())));
        }
        let (mut starts, mut ends) = (vec![0.0; rank], vec![1.0; rank]);
        for (i, &ax) in axes.iter().enumerate() {
            (starts[ax], ends[ax]) = (roi[i], roi[axes.len() + i]);
        }
        starts.extend(ends);
        a.insert("roi".into(), floats(&starts));
        a.insert("extrapolation_value".into(), Attribute::Float(rw.attr_float("extrapolation_value", 0.0)));
    }
    Ok(vec![rw.build(&nn::RESIZE, &[x], a)?])
}

/// The output extent and scale of each resized axis.
fn resolve(input: &[u64], target: &Target, policy: &str) -> Result<Vec<(u64, f64)>, LegalizeError> {
    match target {
        Target::Scales(scales) => {
            if scales.len() != input.len() {
                return Err(LegalizeError::new(format!(
                    "'scales' has {} values for {} axes",
                    scales.len(),
                    input.len()
                )));
            }
            scales
                .iter()
                .zip(input)
                .map(|(&s, &d)| {
                    if !(s > 0.0 && s.is_finite()) {
                        return Err(LegalizeError::new(format!("'scales' must be positive, got {s}")));
                    }
                    Ok(((d as f32 * s as f32).floor() as u64, s))
                })
                .collect()
        }
        Target::Sizes(sizes) => {
            if sizes.len() != input.len() || sizes.iter().any(|&s| s < 0) {
                return Err(LegalizeError::new(format!("'sizes' {sizes:?} does not fit {} axes", input.len())));
            }
            let ratio = |s: i64, d: u64| s as f64 / d as f64;
            if policy == "stretch" {
                return Ok(sizes.iter().zip(input).map(|(&s, &d)| (s as u64, ratio(s, d))).collect());
            }
            let ratios = sizes.iter().zip(input).map(|(&s, &d)| ratio(s, d));
            let scale =
                if policy == "not_larger" { ratios.fold(f64::INFINITY, f64::min) } else { ratios.fold(0.0, f64::max) };
            Ok(input.iter().map(|&d| ((scale * d as f64 + 0.5).floor() as u64, scale)).collect())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scales_floor_in_f32_and_policies_share_one_scale() {
        assert_eq!(resolve(&[3], &Target::Scales(vec![0.6]), "stretch").unwrap(), vec![(1, 0.6)]);
        let sizes = Target::Sizes(vec![4, 6]);
        assert_eq!(resolve(&[2, 2], &sizes, "stretch").unwrap(), vec![(4, 2.0), (6, 3.0)]);
        assert_eq!(resolve(&[2, 2], &sizes, "not_larger").unwrap(), vec![(4, 2.0), (4, 2.0)]);
        assert_eq!(resolve(&[2, 2], &sizes, "not_smaller").unwrap(), vec![(6, 3.0), (6, 3.0)]);
        assert!(resolve(&[2], &Target::Scales(vec![0.0]), "stretch").is_err());
    }
}
