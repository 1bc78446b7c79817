use super::super::testing::*;
use super::*;
use crate::attr::Attribute;

fn resize_attrs(mode: &str, coord: &str, size: &[i64], scales: &[f64]) -> Attrs {
    attrs(&[
        ("mode", Attribute::Str(mode.into())),
        ("coordinate_transformation_mode", Attribute::Str(coord.into())),
        ("size", int_list(size)),
        ("scales", float_list(scales)),
    ])
}

#[test]
fn nearest_upsampling_repeats_elements() {
    let x = f32s(&[1, 2], &[1., 2.]);
    let a = resize_attrs("nearest", "asymmetric", &[1, 4], &[1.0, 2.0]);
    assert_eq!(run(&RESIZE, &[x], &a), f32s(&[1, 4], &[1., 1., 2., 2.]));
}

#[test]
fn linear_half_pixel_interpolates_and_clamps_at_edges() {
    let x = f32s(&[2], &[0., 4.]);
    let a = resize_attrs("linear", "half_pixel", &[4], &[2.0]);
    // Coordinates -0.25, 0.25, 0.75, 1.25: the outer ones clamp to the edges.
    assert_eq!(run(&RESIZE, std::slice::from_ref(&x), &a), f32s(&[4], &[0., 1., 3., 4.]));
    let corners = resize_attrs("linear", "align_corners", &[3], &[1.5]);
    assert_eq!(run(&RESIZE, &[x], &corners), f32s(&[3], &[0., 2., 4.]));
}

#[test]
fn unchanged_dims_are_exact_and_integers_truncate() {
    let x = ints(crate::types::ElemType::I32, &[2, 2], &[1, 2, 3, 4]);
    let a = resize_attrs("linear", "half_pixel", &[2, 3], &[1.0, 1.5]);
    let out = run(&RESIZE, &[x], &a);
    assert_eq!(out.shape, vec![2, 3]);
    // Coordinates -1/6 (clamped), 1/2, 7/6 (clamped): row 0 is 1, 1.5, 2, truncated.
    assert_eq!(out, ints(crate::types::ElemType::I32, &[2, 3], &[1, 1, 2, 3, 3, 4]));
}

#[test]
fn crop_outside_gives_the_extrapolation_value() {
    let x = f32s(&[2], &[1., 2.]);
    let mut a = resize_attrs("linear", "tf_crop_and_resize", &[2], &[1.0]);
    a.insert("roi".into(), float_list(&[0.5, 1.5]));
    a.insert("extrapolation_value".into(), Attribute::Float(-9.0));
    assert_eq!(run(&RESIZE, &[x], &a), f32s(&[2], &[1.5, -9.0]));
}

#[test]
fn attributes_are_checked() {
    let a = resize_attrs("bilinear", "half_pixel", &[4], &[2.0]);
    assert!(infer(&RESIZE, &[f32_type(&[2])], &a).unwrap_err().contains("'mode' must be one of"));
    let a = resize_attrs("linear", "half_pixel", &[4], &[2.0, 1.0]);
    assert_eq!(
        infer(&RESIZE, &[f32_type(&[2])], &a).unwrap_err(),
        "'size' and 'scales' need 1 entries each (one per dim)"
    );
    let a = resize_attrs("linear", "tf_crop_and_resize", &[4], &[2.0]);
    assert_eq!(infer(&RESIZE, &[f32_type(&[2])], &a).unwrap_err(), "tf_crop_and_resize needs 'roi'");
    let a = resize_attrs("linear", "half_pixel", &[4], &[0.0]);
    assert_eq!(infer(&RESIZE, &[f32_type(&[2])], &a).unwrap_err(), "'scales' entries must be positive, got 0");
}
