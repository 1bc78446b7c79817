//! Expected values come from the ONNX reference implementation
//! (`onnx.reference`, opset 21) on the same inputs.

use super::*;
use crate::dialect::testing_b::*;
use crate::dialect::util_b::U8;
use weft_ir::types::ElemType;

fn x22() -> Tensor {
    f32t(&[1, 1, 2, 2], &[1., 2., 3., 4.])
}

fn x24() -> Tensor {
    f32t(&[1, 1, 2, 4], &[1., 2., 3., 4., 5., 6., 7., 8.])
}

fn x44() -> Tensor {
    f32t(&[1, 1, 4, 4], &(1..=16).map(|v| v as f32).collect::<Vec<_>>())
}

fn empty() -> Tensor {
    f32t(&[0], &[])
}

fn scales(v: &[f32]) -> Tensor {
    f32t(&[v.len() as u64], v)
}

fn sizes(v: &[i64]) -> Tensor {
    i64t(&[v.len() as u64], v)
}

/// Resize with scales, returning (shape, values).
fn by_scales(x: Tensor, s: &[f32], a: &[(&str, weft_ir::Attribute)]) -> (Vec<u64>, Vec<f32>) {
    let out = eval1(&RESIZE, &[x, empty(), scales(s)], &attrs(a));
    (out.shape.clone(), vals(&out))
}

/// Resize with sizes (and an optional roi).
fn by_sizes(x: Tensor, roi: Tensor, s: &[i64], a: &[(&str, weft_ir::Attribute)]) -> (Vec<u64>, Vec<f32>) {
    let out = eval1(&RESIZE, &[x, roi, empty(), sizes(s)], &attrs(a));
    (out.shape.clone(), vals(&out))
}

#[test]
fn nearest_up_and_down() {
    let (shape, v) = by_scales(x22(), &[1., 1., 2., 3.], &[]);
    assert_eq!(shape, vec![1, 1, 4, 6]);
    assert_eq!(
        v,
        [[1., 1., 1., 2., 2., 2.]; 2]
            .concat()
            .into_iter()
            .chain([[3., 3., 3., 4., 4., 4.]; 2].concat())
            .collect::<Vec<_>>()
    );
    assert_eq!(by_scales(x24(), &[1., 1., 0.6, 0.6], &[]), (vec![1, 1, 1, 2], vec![1., 3.]));
}

#[test]
fn nearest_modes_with_sizes() {
    let ceil = [("nearest_mode", string("ceil")), ("coordinate_transformation_mode", string("asymmetric"))];
    let (shape, v) = by_sizes(x44(), empty(), &[1, 1, 8, 7], &ceil);
    assert_eq!(shape, vec![1, 1, 8, 7]);
    assert_eq!(v[..14].to_vec(), vec![1., 2., 3., 3., 4., 4., 4., 5., 6., 7., 7., 8., 8., 8.]);
    let floor = [("nearest_mode", string("floor")), ("coordinate_transformation_mode", string("align_corners"))];
    let (_, v) = by_sizes(x44(), empty(), &[1, 1, 8, 8], &floor);
    assert_eq!(v[..8].to_vec(), vec![1., 1., 1., 2., 2., 3., 3., 4.]);
    let rpc = [("nearest_mode", string("round_prefer_ceil")), ("coordinate_transformation_mode", string("asymmetric"))];
    let (_, v) = by_sizes(x44(), empty(), &[1, 1, 8, 8], &rpc);
    assert_eq!(v[8..16].to_vec(), vec![5., 6., 6., 7., 7., 8., 8., 8.]);
}

#[test]
fn linear_modes() {
    let lin = [("mode", string("linear"))];
    #[rustfmt::skip]
    let up = vec![1., 1.25, 1.75, 2., 1.5, 1.75, 2.25, 2.5, 2.5, 2.75, 3.25, 3.5, 3., 3.25, 3.75, 4.];
    assert_eq!(by_scales(x22(), &[1., 1., 2., 2.], &lin), (vec![1, 1, 4, 4], up));
    let ac = [("mode", string("linear")), ("coordinate_transformation_mode", string("align_corners"))];
    let (_, v) = by_scales(x22(), &[1., 1., 2., 2.], &ac);
    assert_close(&v[..8], &[1., 1.333_333_4, 1.666_666_6, 2., 1.666_666_6, 2., 2.333_333_3, 2.666_666_7], 1e-6);
    let (_, v) = by_scales(x24(), &[1., 1., 0.6, 0.6], &lin);
    assert_close(&v, &[2.666_666_5, 4.333_333], 1e-6);
    // align_corners divides by the unrounded scale * in - 1 (2.4 - 1), as the reference does.
    let (_, v) = by_scales(x24(), &[1., 1., 0.6, 0.6], &ac);
    assert_close(&v, &[1., 3.142_857], 1e-6);
    let (_, v) = by_sizes(
        x44(),
        empty(),
        &[1, 1, 3, 1],
        &[("mode", string("linear")), ("coordinate_transformation_mode", string("pytorch_half_pixel"))],
    );
    assert_close(&v, &[1.666_666_6, 7., 12.333_333], 1e-5);
    let hps = [("mode", string("linear")), ("coordinate_transformation_mode", string("half_pixel_symmetric"))];
    let (shape, v) = by_scales(x44(), &[1., 1., 0.7, 1.3], &hps);
    assert_eq!(shape, vec![1, 1, 2, 5]);
    #[rustfmt::skip]
    let want = [4.142_857, 4.873_626, 5.642_857, 6.412_088, 7.142_857, 9.857_142, 10.587_913, 11.357_142, 12.126_373, 12.857_142];
    assert_close(&v, &want, 1e-5);
}

#[test]
fn cubic_modes() {
    let cubic = [("mode", string("cubic"))];
    let (shape, v) = by_scales(x44(), &[1., 1., 2., 2.], &cubic);
    assert_eq!(shape, vec![1, 1, 8, 8]);
    assert_close(
        &v[..8],
        &[0.472_656_25, 0.769_531_25, 1.246_093_8, 1.875, 2.281_25, 2.910_156_2, 3.386_718_8, 3.683_593_8],
        1e-6,
    );
    let (_, v) = by_scales(x44(), &[1., 1., 0.8, 0.8], &cubic);
    #[rustfmt::skip]
    let want = [1.471_191_4, 2.781_25, 4.082_519_5, 6.711_426, 8.021_484, 9.322_754, 11.916_504, 13.226_562, 14.527_832];
    assert_close(&v, &want, 1e-5);
    let a = [
        ("mode", string("cubic")),
        ("cubic_coeff_a", float(-0.5)),
        ("exclude_outside", int(1)),
        ("coordinate_transformation_mode", string("asymmetric")),
    ];
    let (_, v) = by_scales(x44(), &[1., 1., 2., 2.], &a);
    assert_close(&v[..8], &[1., 1.411_764_7, 2., 2.5, 3., 3.588_235_4, 4., 4.125], 1e-6);
    let pt = [("mode", string("cubic")), ("coordinate_transformation_mode", string("pytorch_half_pixel"))];
    let (_, v) = by_sizes(x44(), empty(), &[1, 1, 3, 3], &pt);
    assert_close(&v[..3], &[1.630_787, 3.004_629_6, 4.378_472_3], 1e-5);
}

#[test]
fn antialias_downscaling() {
    let (_, v) = by_scales(x44(), &[1., 1., 0.6, 0.6], &[("mode", string("linear")), ("antialias", int(1))]);
    assert_close(&v, &[2.875, 4.5, 9.375, 11.0], 1e-6);
    let (_, v) = by_scales(x44(), &[1., 1., 0.6, 0.6], &[("mode", string("cubic")), ("antialias", int(1))]);
    assert_close(&v, &[2.518_072_1, 4.285_886, 9.589_329, 11.357_142], 1e-5);
}

#[test]
fn tf_crop_and_resize_with_extrapolation() {
    let crop = [("mode", string("linear")), ("coordinate_transformation_mode", string("tf_crop_and_resize"))];
    let roi = scales(&[0., 0., 0.4, 0.6, 1., 1., 0.6, 0.8]);
    let (_, v) = by_sizes(x44(), roi, &[1, 1, 3, 3], &crop);
    assert_close(&v, &[7.6, 7.9, 8.2, 8.8, 9.1, 9.4, 10., 10.3, 10.6], 1e-5);
    let roi = scales(&[0., 0., 0.4, 0.6, 1., 1., 1.2, 1.7]);
    let extra = [crop[0].clone(), crop[1].clone(), ("extrapolation_value", float(10.0))];
    let (_, v) = by_sizes(x44(), roi, &[1, 1, 3, 3], &extra);
    assert_close(&v, &[7.6, 10., 10., 12.4, 10., 10., 10., 10., 10.], 1e-5);
    let missing = eval(&RESIZE, &[x44(), empty(), empty(), sizes(&[1, 1, 3, 3])], &attrs(&crop));
    assert!(missing.unwrap_err().contains("needs 'roi'"));
}

#[test]
fn axes_keep_aspect_ratio_and_integer_data() {
    let policy = |p: &str| [("axes", int_list(&[2, 3])), ("keep_aspect_ratio_policy", string(p))];
    assert_eq!(by_sizes(x24(), empty(), &[1, 3], &policy("not_larger")), (vec![1, 1, 1, 2], vec![1., 3.]));
    let (shape, v) = by_sizes(x24(), empty(), &[1, 3], &policy("not_smaller"));
    assert_eq!((shape, v), (vec![1, 1, 2, 3], vec![1., 2., 4., 5., 6., 8.]));
    let cube = iota(&[2, 2, 2]);
    let out = eval1(
        &RESIZE,
        &[cube, empty(), scales(&[2.])],
        &attrs(&[("mode", string("linear")), ("axes", int_list(&[-1]))]),
    );
    assert_eq!(out.shape, vec![2, 2, 4]);
    assert_eq!(vals(&out)[..8].to_vec(), vec![0., 0.25, 0.75, 1., 2., 2.25, 2.75, 3.]);
    let bytes = int_t(U8, &[1, 1, 2, 2], &[0, 255, 10, 101]);
    let out = eval1(&RESIZE, &[bytes, empty(), scales(&[1., 1., 1., 2.])], &attrs(&[("mode", string("linear"))]));
    assert_eq!(ivals(&out), vec![0, 63, 191, 255, 10, 32, 78, 101]);
}

#[test]
fn infer_reads_constant_scales_and_sizes() {
    let x = || Arg::Ty(f32ty("[b]x3x112x112"));
    let e = || Arg::Const(empty());
    let none = Attrs::new();
    assert_eq!(infer1(&RESIZE, &[x(), e(), Arg::Const(scales(&[1., 1., 2., 2.]))], &none), "tensor<[b]x3x224x224xf32>");
    assert_eq!(infer1(&RESIZE, &[x(), e(), Arg::Const(scales(&[1., 1., 0.6, 0.6]))], &none), "tensor<[b]x3x67x67xf32>");
    assert_eq!(infer1(&RESIZE, &[x(), e(), e(), Arg::Const(sizes(&[2, 3, 5, 6]))], &none), "tensor<2x3x5x6xf32>");
    assert_eq!(infer1(&RESIZE, &[x(), e(), Arg::Ty(f32ty("4"))], &none), "tensor<?x?x?x?xf32>");
    let hw = attrs(&[("axes", int_list(&[2, 3]))]);
    assert_eq!(infer1(&RESIZE, &[x(), e(), Arg::Ty(f32ty("2"))], &hw), "tensor<[b]x3x?x?xf32>");
    let policy = attrs(&[("axes", int_list(&[2, 3])), ("keep_aspect_ratio_policy", string("not_larger"))]);
    let y = Arg::Ty(f32ty("1x3x100x200"));
    assert_eq!(infer1(&RESIZE, &[y, e(), e(), Arg::Const(sizes(&[50, 50]))], &policy), "tensor<1x3x25x50xf32>");
}

#[test]
fn infer_rejects_bad_operands_and_attributes() {
    let x = || Arg::Ty(f32ty("1x3x8x8"));
    let e = || Arg::Const(empty());
    let s4 = || Arg::Const(scales(&[1., 1., 2., 2.]));
    let none = Attrs::new();
    infer_err(&RESIZE, &[x(), e(), s4(), Arg::Const(sizes(&[1, 3, 4, 4]))], &none, "not both");
    infer_err(&RESIZE, &[x(), e(), e()], &none, "non-empty");
    infer_err(&RESIZE, &[x(), e(), Arg::Const(scales(&[2., 2.]))], &none, "2 entries for 4 resized axes");
    infer_err(&RESIZE, &[x(), e(), Arg::Const(scales(&[1., 1., 0., 2.]))], &none, "positive");
    infer_err(&RESIZE, &[x(), e(), s4()], &attrs(&[("mode", string("bilinear"))]), "expected one of \"nearest\"");
    infer_err(&RESIZE, &[x(), e(), s4()], &attrs(&[("antialias", int(2))]), "0 or 1");
    infer_err(&RESIZE, &[x(), e(), Arg::Ty(ty("4", ElemType::I64))], &none, "float element type");
}
