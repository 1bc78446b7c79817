use super::*;
use crate::dialect::a_common::test_support::*;
use weft_ir::tensor::TensorData;
use weft_ir::Attribute;

fn none() -> Attrs {
    Attrs::new()
}

#[test]
fn float_functions_round_once_to_the_element_type() {
    let x = f32s(&[3], &[4., 0., -1.]);
    let s = values(&eval1(&SQRT, std::slice::from_ref(&x), &none()));
    assert_eq!(s[..2], [2., 0.]);
    assert!(s[2].is_nan());
    assert_eq!(values(&eval1(&LOG, std::slice::from_ref(&x), &none()))[1], f64::NEG_INFINITY);
    assert_eq!(eval1(&EXP, &[f32s(&[1], &[1.])], &none()), f32s(&[1], &[std::f32::consts::E]));
    let e16 = eval1(&EXP, &[f16s(&[1], &[1.])], &none());
    assert_eq!(e16.data, TensorData::F16(vec![half::f16::from_f64(std::f64::consts::E)]));
    assert_eq!(eval1(&TANH, &[f64s(&[1], &[0.5])], &none()), f64s(&[1], &[0.5f64.tanh()]));
    assert_eq!(eval1(&RECIPROCAL, &[f32s(&[2], &[4., 0.])], &none()), f32s(&[2], &[0.25, f32::INFINITY]));
}

#[test]
fn float_only_ops_reject_integers() {
    let i = fixed(&[2], ElemType::I32);
    let err = infer(&SQRT, &[&i], &none()).unwrap_err();
    assert_eq!(err, "operand #0 (X) has element type i32, expected a float type (f16, bf16, f32, f64)");
    let sym = ty(&["batch", "?"], ElemType::BF16);
    assert_eq!(infer(&SIGMOID, &[&sym], &none()).unwrap(), vec![sym.clone()]);
    // Softplus, HardSigmoid and HardSwish take bf16 only from opset 22.
    let err = infer(&SOFTPLUS, &[&sym], &none()).unwrap_err();
    assert_eq!(err, "operand #0 (X) has element type bf16, expected f16, f32 or f64 (bf16 only from opset 22)");
    assert!(infer(&HARD_SIGMOID, &[&sym], &none()).is_err() && infer(&HARD_SWISH, &[&sym], &none()).is_err());
}

#[test]
fn erf_is_accurate_in_f64_and_truncates_for_integers() {
    let out = eval1(&ERF, &[f64s(&[6], &[0.5, 1.0, -2.0, 3.0, 1e-10, 0.1])], &none());
    let want =
        [0.5204998778130465, 0.8427007929497149, -0.9953222650189527, 0.9999779095030014, 1.1283791670955126e-10];
    for (got, want) in values(&out).iter().zip(want) {
        assert!((got - want).abs() <= want.abs() * 2e-16, "{got} vs {want}");
    }
    assert!((values(&out)[5] - 0.1124629160182849).abs() < 2e-17);
    let ints_out = eval1(&ERF, &[ints(ElemType::I32, &[4], &[0, 1, 6, -7])], &none());
    assert_eq!(ints_out.data, TensorData::Int(vec![0, 0, 1, -1]));
}

#[test]
fn sigmoid_and_softplus_do_not_overflow() {
    let out = eval1(&SIGMOID, &[f32s(&[3], &[0., -1000., 1000.])], &none());
    assert_eq!(out, f32s(&[3], &[0.5, 0., 1.]));
    let sp = values(&eval1(&SOFTPLUS, &[f64s(&[3], &[0., 1000., -1000.])], &none()));
    assert_eq!(sp, [std::f64::consts::LN_2, 1000., 0.]);
}

#[test]
fn relu_neg_abs_on_signed_integers_wrap() {
    let x = ints(ElemType::I8, &[3], &[-128, -5, 7]);
    assert_eq!(eval1(&RELU, std::slice::from_ref(&x), &none()).data, TensorData::Int(vec![0, 0, 7]));
    assert_eq!(eval1(&NEG, std::slice::from_ref(&x), &none()).data, TensorData::Int(vec![-128, 5, -7]));
    assert_eq!(eval1(&ABS, &[x], &none()).data, TensorData::Int(vec![-128, 5, 7]));
    let u = ints(uint(8), &[2], &[200, 3]);
    assert_eq!(eval1(&ABS, &[u], &none()).data, TensorData::Int(vec![200, 3]));
    let ut = fixed(&[2], uint(8));
    assert!(infer(&NEG, &[&ut], &none()).unwrap_err().contains("expected a float or signed integer type"));
    assert!(infer(&RELU, &[&ut], &none()).is_err());
    let relu_nan = eval1(&RELU, &[f32s(&[3], &[f32::NAN, -1., 2.])], &none());
    assert!(values(&relu_nan)[0].is_nan() && values(&relu_nan)[1..] == [0., 2.]);
}

#[test]
fn hard_sigmoid_uses_f32_defaults_and_given_attributes() {
    let x = f32s(&[4], &[-3., 0., 1., 3.]);
    assert_eq!(eval1(&HARD_SIGMOID, std::slice::from_ref(&x), &none()), f32s(&[4], &[0., 0.5, 0.7, 1.]));
    let a = attrs(&[("alpha", Attribute::Float(0.5)), ("beta", Attribute::Float(0.25))]);
    assert_eq!(eval1(&HARD_SIGMOID, &[x], &a), f32s(&[4], &[0., 0.25, 0.75, 1.]));
    let nan = eval1(&HARD_SIGMOID, &[f32s(&[1], &[f32::NAN])], &none());
    assert!(values(&nan)[0].is_nan());
}

#[test]
fn hard_swish_matches_its_definition() {
    let out = eval1(&HARD_SWISH, &[f64s(&[5], &[-4., -1., 0., 1., 4.])], &none());
    assert_close(&out, &[0., -1. / 3., 0., 2. / 3., 4.], 1e-15);
}

#[test]
fn gelu_exact_and_tanh_forms() {
    let x = f64s(&[2], &[1., -1.]);
    assert_close(&eval1(&GELU, std::slice::from_ref(&x), &none()), &[0.8413447460685429, -0.15865525393145707], 2e-16);
    let tanh = attrs(&[("approximate", Attribute::Str("tanh".into()))]);
    assert_close(&eval1(&GELU, std::slice::from_ref(&x), &tanh), &[0.8411919906082768, -0.15880800939172324], 2e-16);
    let bad = attrs(&[("approximate", Attribute::Str("fast".into()))]);
    let t = fixed(&[2], ElemType::F32);
    assert_eq!(
        infer(&GELU, &[&t], &bad).unwrap_err(),
        "attribute 'approximate' must be \"none\" or \"tanh\", got \"fast\""
    );
}

#[test]
fn unary_ops_keep_empty_shapes() {
    let out = eval1(&EXP, &[f32s(&[2, 0], &[])], &none());
    assert_eq!((out.shape, out.data.len()), (vec![2, 0], 0));
}
