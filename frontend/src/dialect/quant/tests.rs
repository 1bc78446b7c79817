use super::*;
use crate::dialect::testing_b::*;

const I8: ElemType = ElemType::I8;
const I4: ElemType = ElemType::Int { width: 4, signed: true };
const U4: ElemType = ElemType::Int { width: 4, signed: false };

fn scalar(v: f32) -> Tensor {
    f32t(&[], &[v])
}

#[test]
fn quantize_per_tensor_rounds_half_to_even_and_saturates() {
    // onnx docs example.
    let x = f32t(&[6], &[0., 2., 3., 1000., -254., -1000.]);
    let out = eval1(&QUANTIZE_LINEAR, &[x, scalar(2.), int_t(U8, &[], &[128])], &Attrs::new());
    assert_eq!((out.elem.clone(), ivals(&out)), (U8, vec![128, 129, 130, 255, 1, 0]));
    let x = f32t(&[6], &[0.5, 1.5, 2.5, -0.5, -1.5, f32::NAN]);
    let out = eval1(&QUANTIZE_LINEAR, &[x, scalar(1.), int_t(I8, &[], &[0])], &Attrs::new());
    assert_eq!(ivals(&out), vec![0, 2, 2, 0, -2, -128]);
}

#[test]
fn quantize_divides_in_f32_like_the_reference() {
    // In f32 the quotient is exactly 31.5 (-> 32); in f64 it is 31.4999997 (-> 31).
    let x = f32t(&[1], &[26.855566]);
    let out = eval1(&QUANTIZE_LINEAR, &[x, scalar(0.852_557_66), int_t(U8, &[], &[0])], &Attrs::new());
    assert_eq!(ivals(&out), vec![32]);
}

#[test]
fn quantize_per_axis_and_per_block() {
    let x = f32t(&[2, 2], &[1., 2., 3., 4.]);
    let scales = f32t(&[2], &[1., 2.]);
    let zps = int_t(U8, &[2], &[0, 10]);
    let out = eval1(&QUANTIZE_LINEAR, &[x.clone(), scales.clone(), zps], &attrs(&[("axis", int(0))]));
    assert_eq!(ivals(&out), vec![1, 2, 12, 12]);
    let blocks = f32t(&[2, 1], &[1., 2.]);
    let out = eval1(&QUANTIZE_LINEAR, &[x.clone(), blocks], &attrs(&[("axis", int(1)), ("block_size", int(2))]));
    assert_eq!(ivals(&out), vec![1, 2, 2, 2]);
    let row_blocks = f32t(&[1, 2], &[1., 2.]);
    let out = eval1(&QUANTIZE_LINEAR, &[x, row_blocks], &attrs(&[("axis", int(0)), ("block_size", int(3))]));
    assert_eq!(ivals(&out), vec![1, 1, 3, 2]);
}

#[test]
fn quantize_result_type_comes_from_zero_point_or_output_dtype() {
    let x = || Arg::Ty(f32ty("[b]x4"));
    let s = || Arg::Ty(f32ty(""));
    assert_eq!(infer1(&QUANTIZE_LINEAR, &[x(), s()], &Attrs::new()), "tensor<[b]x4xu8>");
    assert_eq!(infer1(&QUANTIZE_LINEAR, &[x(), s(), Arg::Ty(ty("", I8))], &Attrs::new()), "tensor<[b]x4xi8>");
    assert_eq!(infer1(&QUANTIZE_LINEAR, &[x(), s()], &attrs(&[("output_dtype", int(22))])), "tensor<[b]x4xi4>");
    infer_err(&QUANTIZE_LINEAR, &[x(), s(), Arg::Ty(ty("", I8))], &attrs(&[("output_dtype", int(2))]), "says u8");
    infer_err(&QUANTIZE_LINEAR, &[x(), s()], &attrs(&[("output_dtype", int(17))]), "float8");
    infer_err(&QUANTIZE_LINEAR, &[x(), Arg::Ty(f32ty("3"))], &Attrs::new(), "3 entries but x's axis 1 has extent 4");
    infer_err(&QUANTIZE_LINEAR, &[x(), s(), Arg::Ty(ty("", ElemType::I32))], &Attrs::new(), "u8, i8, u16");
    infer_err(&QUANTIZE_LINEAR, &[x(), Arg::Ty(f32ty("[b]x3"))], &attrs(&[("block_size", int(2))]), "expected 2");
    let out =
        eval1(&QUANTIZE_LINEAR, &[f32t(&[3], &[100., -100., 3.]), scalar(1.)], &attrs(&[("output_dtype", int(22))]));
    assert_eq!((out.elem.clone(), ivals(&out)), (I4, vec![7, -8, 3]));
}

#[test]
fn dequantize_per_tensor_and_per_axis() {
    // onnx docs example.
    let x = int_t(U8, &[4], &[0, 3, 128, 255]);
    let out = eval1(&DEQUANTIZE_LINEAR, &[x, scalar(2.), int_t(U8, &[], &[128])], &Attrs::new());
    assert_eq!(vals(&out), vec![-256., -250., 0., 254.]);
    let x = int_t(I8, &[2, 2], &[3, 3, -3, -3]);
    let scales = f32t(&[2], &[0.5, 2.]);
    let zps = int_t(I8, &[2], &[1, -1]);
    let out = eval1(&DEQUANTIZE_LINEAR, &[x, scales, zps], &Attrs::new());
    assert_eq!(vals(&out), vec![1., 8., -2., -4.]);
    let nibbles = eval1(&DEQUANTIZE_LINEAR, &[int_t(U4, &[2], &[0, 15]), scalar(0.5)], &Attrs::new());
    assert_eq!(vals(&nibbles), vec![0., 7.5]);
    let wide = eval1(&DEQUANTIZE_LINEAR, &[int_t(I8, &[1], &[3]), f64t(&[], &[0.1])], &Attrs::new());
    assert_eq!(wide.data, TensorData::F64(vec![3.0 * 0.1]));
}

#[test]
fn per_tensor_scale_and_zero_point_may_be_scalars_or_of_shape_one() {
    // onnx's test_dequantizelinear_int4: a scalar scale with a [1] zero point.
    let x = int_t(I4, &[5], &[0, 1, 7, -4, -8]);
    let out = eval1(&DEQUANTIZE_LINEAR, &[x, scalar(2.), int_t(I4, &[1], &[1])], &Attrs::new());
    assert_eq!(vals(&out), vec![-2., 0., 12., -10., -18.]);
    let args = [Arg::Ty(ty("5", I4)), Arg::Ty(f32ty("")), Arg::Ty(ty("1", I4))];
    assert_eq!(infer1(&DEQUANTIZE_LINEAR, &args, &Attrs::new()), "tensor<5xf32>");
    let args = [Arg::Ty(f32ty("3")), Arg::Ty(f32ty("1")), Arg::Ty(ty("", U8))];
    assert_eq!(infer1(&QUANTIZE_LINEAR, &args, &Attrs::new()), "tensor<3xu8>");
    let out = eval1(&QUANTIZE_LINEAR, &[f32t(&[2], &[2., 4.]), f32t(&[1], &[2.]), int_t(U8, &[], &[3])], &Attrs::new());
    assert_eq!(ivals(&out), vec![4, 5]);
    // Per axis, the shapes must still agree.
    let args = [Arg::Ty(ty("2x2", I8)), Arg::Ty(f32ty("2")), Arg::Ty(ty("1", I8))];
    infer_err(&DEQUANTIZE_LINEAR, &args, &Attrs::new(), "scale's shape");
}

#[test]
fn dequantize_infers_the_scale_type() {
    let args = [Arg::Ty(ty("768x768", I8)), Arg::Ty(f32ty("768")), Arg::Ty(ty("768", I8))];
    assert_eq!(infer1(&DEQUANTIZE_LINEAR, &args, &attrs(&[("axis", int(0))])), "tensor<768x768xf32>");
    let args = [Arg::Ty(ty("4", I8)), Arg::Ty(ty("", ElemType::F16))];
    assert_eq!(infer1(&DEQUANTIZE_LINEAR, &args, &Attrs::new()), "tensor<4xf16>");
    let args = [Arg::Ty(ty("4", I8)), Arg::Ty(f32ty("")), Arg::Ty(ty("", U8))];
    infer_err(&DEQUANTIZE_LINEAR, &args, &Attrs::new(), "zero point has type u8");
    let args = [Arg::Ty(f32ty("4")), Arg::Ty(f32ty(""))];
    infer_err(&DEQUANTIZE_LINEAR, &args, &Attrs::new(), "integer type");
    let args = [Arg::Ty(ty("4", I8)), Arg::Ty(f32ty("")), Arg::Ty(ty("2", I8))];
    infer_err(&DEQUANTIZE_LINEAR, &args, &Attrs::new(), "scale's shape");
}

#[test]
fn dynamic_quantize_matches_the_onnx_docs() {
    let x = f32t(&[6], &[0., 2., -3., -2.5, 1.34, 0.5]);
    let outs = eval(&DYNAMIC_QUANTIZE_LINEAR, &[x], &Attrs::new()).unwrap();
    assert_eq!(ivals(&outs[0]), vec![153, 255, 0, 26, 221, 179]);
    assert_eq!(vals(&outs[1]), vec![5.0f32 / 255.0]);
    assert_eq!(ivals(&outs[2]), vec![153]);
    let x = f32t(&[6], &[-1.0, -2.1, -1.3, -2.5, -3.34, -4.0]);
    let outs = eval(&DYNAMIC_QUANTIZE_LINEAR, &[x], &Attrs::new()).unwrap();
    assert_eq!((ivals(&outs[0]), ivals(&outs[2])), (vec![191, 121, 172, 96, 42, 0], vec![255]));
    let zeros = eval(&DYNAMIC_QUANTIZE_LINEAR, &[f32t(&[2], &[0., 0.])], &Attrs::new()).unwrap();
    assert_eq!((ivals(&zeros[0]), vals(&zeros[1]), ivals(&zeros[2])), (vec![0, 0], vec![1.0], vec![0]));
    let types = infer(&DYNAMIC_QUANTIZE_LINEAR, &[Arg::Ty(f32ty("[b]x3"))], &Attrs::new()).unwrap();
    let shown: Vec<String> = types.iter().map(|t| t.to_string()).collect();
    assert_eq!(shown, vec!["tensor<[b]x3xu8>", "tensor<f32>", "tensor<u8>"]);
}
