use super::*;
use crate::dialect::testing_b::*;

fn ones(shape: &[u64]) -> Tensor {
    let n = shape.iter().product::<u64>() as usize;
    f32t(shape, &vec![1.0; n])
}

#[test]
fn conv_2d_padding_and_strides_match_the_onnx_docs() {
    let x = iota(&[1, 1, 5, 5]);
    let w = ones(&[1, 1, 3, 3]);
    let padded = eval1(&CONV, &[x.clone(), w.clone()], &attrs(&[("pads", int_list(&[1, 1, 1, 1]))]));
    assert_eq!(padded.shape, vec![1, 1, 5, 5]);
    #[rustfmt::skip]
    let want = [12., 21., 27., 33., 24., 33., 54., 63., 72., 51., 63., 99., 108., 117., 81.,
                93., 144., 153., 162., 111., 72., 111., 117., 123., 84.];
    assert_eq!(vals(&padded), want);
    let plain = eval1(&CONV, &[x.clone(), w.clone()], &Attrs::new());
    assert_eq!(vals(&plain), vec![54., 63., 72., 99., 108., 117., 144., 153., 162.]);
    let strided = eval1(
        &CONV,
        &[x.clone(), w.clone()],
        &attrs(&[("pads", int_list(&[1, 1, 1, 1])), ("strides", int_list(&[2, 2]))]),
    );
    assert_eq!(vals(&strided), vec![12., 27., 24., 63., 108., 81., 72., 117., 84.]);
    let no_pad = eval1(&CONV, &[x, w], &attrs(&[("strides", int_list(&[2, 2]))]));
    assert_eq!((no_pad.shape.clone(), vals(&no_pad)), (vec![1, 1, 2, 2], vec![54., 72., 144., 162.]));
}

#[test]
fn conv_1d_dilations_groups_and_bias() {
    let x = iota(&[1, 1, 7]);
    let dilated = eval1(&CONV, &[x, ones(&[1, 1, 2])], &attrs(&[("dilations", int_list(&[2]))]));
    assert_eq!(vals(&dilated), vec![2., 4., 6., 8., 10.]);
    // Two groups of one channel each, with a bias per output channel.
    let x = f32t(&[1, 2, 2], &[1., 2., 10., 20.]);
    let w = f32t(&[2, 1, 1], &[2., 3.]);
    let b = f32t(&[2], &[0.5, -1.]);
    let out = eval1(&CONV, &[x, w, b], &attrs(&[("group", int(2))]));
    assert_eq!(vals(&out), vec![2.5, 4.5, 29., 59.]);
}

#[test]
fn conv_auto_pad_same_upper_and_lower() {
    let x = f32t(&[1, 1, 4], &[1., 2., 3., 4.]);
    let upper = eval1(&CONV, &[x.clone(), ones(&[1, 1, 2])], &attrs(&[("auto_pad", string("SAME_UPPER"))]));
    assert_eq!(vals(&upper), vec![3., 5., 7., 4.]);
    let lower = eval1(&CONV, &[x.clone(), ones(&[1, 1, 2])], &attrs(&[("auto_pad", string("SAME_LOWER"))]));
    assert_eq!(vals(&lower), vec![1., 3., 5., 7.]);
    let same_strided = eval1(
        &CONV,
        &[x.clone(), ones(&[1, 1, 3])],
        &attrs(&[("auto_pad", string("SAME_UPPER")), ("strides", int_list(&[3]))]),
    );
    // out = ceil(4 / 3) = 2, total pad = 1*3 + 3 - 4 = 2 -> (1, 1).
    assert_eq!(vals(&same_strided), vec![3., 7.]);
    let valid =
        eval1(&CONV, &[x, ones(&[1, 1, 3])], &attrs(&[("auto_pad", string("VALID")), ("pads", int_list(&[5, 5]))]));
    assert_eq!(vals(&valid), vec![6., 9.]);
}

#[test]
fn conv_3d_sums_the_volume() {
    let out = eval1(&CONV, &[iota(&[1, 1, 2, 2, 2]), ones(&[1, 1, 2, 2, 2])], &Attrs::new());
    assert_eq!((out.shape.clone(), vals(&out)), (vec![1, 1, 1, 1, 1], vec![28.]));
}

#[test]
fn conv_infers_shapes_and_rejects_bad_geometry() {
    let patch = attrs(&[("kernel_shape", int_list(&[16, 16])), ("strides", int_list(&[16, 16]))]);
    let args = [Arg::Ty(f32ty("[b]x3x224x224")), Arg::Ty(f32ty("768x3x16x16")), Arg::Ty(f32ty("768"))];
    assert_eq!(infer1(&CONV, &args, &patch), "tensor<[b]x768x14x14xf32>");
    let args = [Arg::Ty(f32ty("1x3x[h]x224")), Arg::Ty(f32ty("768x3x16x16"))];
    assert_eq!(infer1(&CONV, &args, &patch), "tensor<1x768x?x14xf32>");
    let same = attrs(&[("auto_pad", string("SAME_LOWER")), ("strides", int_list(&[2, 2]))]);
    let args = [Arg::Ty(f32ty("1x4x7x8")), Arg::Ty(f32ty("6x2x3x3"))];
    assert_eq!(infer1(&CONV, &args, &attrs(&[("group", int(2))])), "tensor<1x6x5x6xf32>");
    let args = [Arg::Ty(f32ty("1x4x7x8")), Arg::Ty(f32ty("6x4x3x3"))];
    assert_eq!(infer1(&CONV, &args, &same), "tensor<1x6x4x4xf32>");
    infer_err(&CONV, &[Arg::Ty(f32ty("1x4x7x8")), Arg::Ty(f32ty("6x3x3x3"))], &Attrs::new(), "channels");
    let too_small = [Arg::Ty(f32ty("1x4x2x2")), Arg::Ty(f32ty("6x4x3x3"))];
    assert_eq!(infer1(&CONV, &too_small, &attrs(&[("strides", int_list(&[2, 2]))])), "tensor<1x6x0x0xf32>");
    infer_err(&CONV, &[Arg::Ty(f32ty("1x4x7x8")), Arg::Ty(f32ty("6x4x3x3"))], &patch, "'kernel_shape' says 16");
    infer_err(
        &CONV,
        &[Arg::Ty(f32ty("1x4x7x8")), Arg::Ty(f32ty("6x4x3x3"))],
        &attrs(&[("auto_pad", string("SAME"))]),
        "expected one of",
    );
    infer_err(
        &CONV,
        &[Arg::Ty(f32ty("1x4x7x8")), Arg::Ty(f32ty("6x4x3x3"))],
        &attrs(&[("strides", int_list(&[0, 1]))]),
        ">= 1",
    );
    infer_err(&CONV, &[Arg::Ty(f32ty("1x4x7")), Arg::Ty(f32ty("6x4x3x3"))], &Attrs::new(), "same rank");
}

#[test]
fn conv_transpose_matches_the_onnx_docs() {
    let x = iota(&[1, 1, 3, 3]);
    let w = ones(&[1, 2, 3, 3]);
    let out = eval1(&CONV_TRANSPOSE, &[x.clone(), w.clone()], &Attrs::new());
    assert_eq!(out.shape, vec![1, 2, 5, 5]);
    #[rustfmt::skip]
    let plane = [0., 1., 3., 3., 2., 3., 8., 15., 12., 7., 9., 21., 36., 27., 15.,
                 9., 20., 33., 24., 13., 6., 13., 21., 15., 8.];
    assert_eq!(vals(&out), [plane, plane].concat());
    let one_d = eval1(&CONV_TRANSPOSE, &[iota(&[1, 1, 3]), ones(&[1, 2, 3])], &Attrs::new());
    assert_eq!(vals(&one_d), vec![0., 1., 3., 3., 2., 0., 1., 3., 3., 2.]);
}

#[test]
fn conv_transpose_output_shape_pads_at_the_end() {
    let x = iota(&[1, 1, 3, 3]);
    let w = ones(&[1, 2, 3, 3]);
    let a = attrs(&[("strides", int_list(&[3, 2])), ("output_shape", int_list(&[10, 8]))]);
    let out = eval1(&CONV_TRANSPOSE, &[x.clone(), w.clone()], &a);
    assert_eq!(out.shape, vec![1, 2, 10, 8]);
    let row = |r: usize| vals(&out)[r * 8..r * 8 + 8].to_vec();
    assert_eq!(row(0), vec![0., 0., 1., 1., 3., 2., 2., 0.]);
    assert_eq!(row(4), vec![3., 3., 7., 4., 9., 5., 5., 0.]);
    assert_eq!(row(9), vec![0.; 8]);
    let padded = eval1(
        &CONV_TRANSPOSE,
        &[x.clone(), w.clone()],
        &attrs(&[("strides", int_list(&[3, 2])), ("output_padding", int_list(&[1, 1]))]),
    );
    assert_eq!(vals(&padded), vals(&out));
    let same =
        eval1(&CONV_TRANSPOSE, &[x, w], &attrs(&[("auto_pad", string("SAME_UPPER")), ("strides", int_list(&[2, 2]))]));
    assert_eq!(same.shape, vec![1, 2, 6, 6]);
    assert_eq!(vals(&same)[12..18].to_vec(), vec![3., 3., 8., 5., 12., 7.]);
}

#[test]
fn conv_transpose_groups_bias_and_inference() {
    // Two groups: channel 0 -> output 0, channel 1 -> output 1, kernels [1] and [2].
    let x = f32t(&[1, 2, 2], &[1., 2., 3., 4.]);
    let w = f32t(&[2, 1, 1], &[1., 2.]);
    let b = f32t(&[2], &[10., 20.]);
    let out = eval1(&CONV_TRANSPOSE, &[x, w, b], &attrs(&[("group", int(2)), ("strides", int_list(&[2]))]));
    assert_eq!(vals(&out), vec![11., 10., 12., 26., 20., 28.]);
    let args = [Arg::Ty(f32ty("[b]x4x8x8")), Arg::Ty(f32ty("4x2x2x2"))];
    assert_eq!(infer1(&CONV_TRANSPOSE, &args, &attrs(&[("strides", int_list(&[2, 2]))])), "tensor<[b]x2x16x16xf32>");
    assert_eq!(infer1(&CONV_TRANSPOSE, &args, &attrs(&[("group", int(2))])), "tensor<[b]x4x9x9xf32>");
    let pads = attrs(&[("pads", int_list(&[1, 1, 1, 1])), ("output_padding", int_list(&[1, 0]))]);
    assert_eq!(infer1(&CONV_TRANSPOSE, &args, &pads), "tensor<[b]x2x8x7xf32>");
    infer_err(&CONV_TRANSPOSE, &[Arg::Ty(f32ty("1x3x8x8")), Arg::Ty(f32ty("4x2x2x2"))], &Attrs::new(), "first dim");
    infer_err(&CONV_TRANSPOSE, &args, &attrs(&[("output_shape", int_list(&[1, 2, 3]))]), "'output_shape' has 3");
}

#[test]
fn conv_transpose_groups_with_several_channels_per_group() {
    // Expected values from a direct loop over the definition
    // y[n, g*Mg + m, i*s + k - pad] += x[n, g*Cg + c, i] * w[g*Cg + c, m, k].
    let x = f32t(&[1, 4, 3], &[-1.25, -1.0, -0.75, -0.5, -0.25, 0.0, 0.25, 0.5, 0.75, 1.0, 1.25, 1.5]);
    #[rustfmt::skip]
    let w = f32t(&[4, 2, 2], &[-1.5, -1.0, -0.5, 0.0, 0.5, 1.0, 1.5, -1.5, -1.0, -0.5, 0.0, 0.5, 1.0, 1.5, -1.5, -1.0]);
    let b = f32t(&[4], &[0.5, -1.0, 2.0, 0.25]);
    let a = attrs(&[("group", int(2)), ("strides", int_list(&[2])), ("pads", int_list(&[1, 0]))]);
    let out = eval1(&CONV_TRANSPOSE, &[x, w, b], &a);
    assert_eq!(out.shape, vec![1, 4, 5]);
    #[rustfmt::skip]
    let want = [1.25, 1.875, 1.25, 1.625, 1.25, -0.25, -0.875, -0.625, -0.625, -1.0,
                3.375, 2.75, 3.625, 2.75, 3.875, -0.625, -1.625, -0.75, -2.0, -0.875];
    assert_eq!(vals(&out), want);
}
