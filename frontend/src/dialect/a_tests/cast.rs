use super::*;
use crate::dialect::a_common::test_support::*;
use weft_ir::tensor::TensorData;
use weft_ir::Attribute;

fn to(code: i64) -> Attrs {
    attrs(&[("to", Attribute::Int(code))])
}

#[test]
fn float_to_integer_truncates_maps_nan_to_zero_and_saturates() {
    let x = f32s(&[5], &[1.9, -1.9, f32::NAN, 1e20, -1e20]);
    let out = eval1(&CAST, &[x], &to(7));
    assert_eq!(out.elem, ElemType::I64);
    assert_eq!(out.data, TensorData::Int(vec![1, -1, 0, i64::MAX, i64::MIN]));
    let y = f64s(&[4], &[-1.5, 255.9, 256.0, 3.7]);
    assert_eq!(eval1(&CAST, &[y], &to(2)).data, TensorData::Int(vec![0, 255, 255, 3]));
}

#[test]
fn integer_to_integer_keeps_the_low_bits() {
    assert_eq!(eval1(&CAST, &[ints(int(16), &[2], &[200, -300])], &to(3)).data, TensorData::Int(vec![-56, -44]));
    assert_eq!(eval1(&CAST, &[ints(ElemType::I64, &[1], &[-1])], &to(2)).data, TensorData::Int(vec![255]));
    let u64_max = ints(uint(64), &[1], &[-1]);
    assert_eq!(eval1(&CAST, std::slice::from_ref(&u64_max), &to(7)).data, TensorData::Int(vec![-1]));
    assert_eq!(eval1(&CAST, &[u64_max], &to(1)), f32s(&[1], &[18446744073709551615u64 as f32]));
    assert_eq!(eval1(&CAST, &[ints(ElemType::I32, &[1], &[-1])], &to(13)).data, TensorData::Int(vec![-1]));
    assert_eq!(eval1(&CAST, &[ints(ElemType::I32, &[2], &[9, -9])], &to(22)).data, TensorData::Int(vec![-7, 7]));
}

#[test]
fn casts_to_and_from_bool() {
    let f = f32s(&[4], &[0., -0., f32::NAN, 0.1]);
    assert_eq!(eval1(&CAST, &[f], &to(9)), bools(&[4], &[false, false, true, true]));
    assert_eq!(eval1(&CAST, &[ints(ElemType::I8, &[2], &[0, -3])], &to(9)), bools(&[2], &[false, true]));
    assert_eq!(eval1(&CAST, &[bools(&[2], &[true, false])], &to(1)), f32s(&[2], &[1., 0.]));
    assert_eq!(eval1(&CAST, &[bools(&[1], &[true])], &to(7)).data, TensorData::Int(vec![1]));
}

#[test]
fn integers_round_once_to_narrow_floats() {
    let tie = ints(ElemType::I64, &[2], &[(1 << 53) + 1, 16777217]);
    assert_eq!(eval1(&CAST, std::slice::from_ref(&tie), &to(11)), f64s(&[2], &[9007199254740992.0, 16777217.0]));
    assert_eq!(eval1(&CAST, &[tie], &to(1)).data, TensorData::F32(vec![9007199254740992.0, 16777216.0]));
    // 2^24 + 2^16 + 1 rounds up to 2^24 + 2^17 in bf16; going through f32
    // first would round twice and give 2^24.
    let v = eval1(&CAST, &[ints(ElemType::I64, &[1], &[(1 << 24) + (1 << 16) + 1])], &to(16));
    assert_eq!(values(&v), [16908288.0]);
    let big = eval1(&CAST, &[ints(ElemType::I32, &[2], &[65519, 65520])], &to(10));
    assert_eq!(values(&big), [65504.0, f64::INFINITY]);
}

#[test]
fn floats_round_once_to_narrow_floats() {
    let x = f64s(&[2], &[1.0 + 2f64.powi(-11) + 2f64.powi(-30), 1e6]);
    assert_eq!(values(&eval1(&CAST, &[x], &to(10))), [1.0009765625, f64::INFINITY]);
    let y = f32s(&[1], &[3.3]);
    assert_eq!(eval1(&CAST, &[y], &to(11)), f64s(&[1], &[3.3f32 as f64]));
}

#[test]
fn cast_infers_the_target_type() {
    let x = ty(&["batch", "3"], ElemType::F32);
    assert_eq!(infer(&CAST, &[&x], &to(7)).unwrap(), vec![ty(&["batch", "3"], ElemType::I64)]);
    assert_eq!(infer(&CAST, &[&x], &to(8)).unwrap_err(), "attribute 'to': ONNX data type 8 (STRING) is not supported");
    assert!(infer(&CAST, &[&x], &to(17)).unwrap_err().contains("float8"));
    assert!(infer(&CAST, &[&x], &to(99)).unwrap_err().contains("99 is not an ONNX data type"));
    assert!(infer(&CAST, &[&x], &Attrs::new()).is_err());
}

#[test]
fn onnx_codes_round_trip() {
    for code in [1, 2, 3, 4, 5, 6, 7, 9, 10, 11, 12, 13, 16, 21, 22] {
        let elem = elem_type_from_onnx(code).unwrap();
        assert_eq!(onnx_code_of(&elem), Some(code), "{elem}");
    }
    assert_eq!(onnx_code_of(&int(12)), None);
}

#[test]
fn cast_like_takes_the_second_operands_element_type() {
    let x = ints(ElemType::I64, &[2], &[1, -2]);
    let target = f16s(&[], &[0.0]);
    let out = eval1(&CAST_LIKE, &[x, target], &Attrs::new());
    assert_eq!(out, f16s(&[2], &[1.0, -2.0]));
    let (a, b) = (ty(&["n"], ElemType::I64), fixed(&[7], ElemType::Bool));
    assert_eq!(infer(&CAST_LIKE, &[&a, &b], &Attrs::new()).unwrap(), vec![ty(&["n"], ElemType::Bool)]);
}

#[test]
fn identity_passes_any_tensor_through() {
    let x = bools(&[2], &[true, false]);
    assert_eq!(eval1(&IDENTITY, std::slice::from_ref(&x), &Attrs::new()), x);
    let t = ty(&["n", "?"], int(4));
    assert_eq!(infer(&IDENTITY, &[&t], &Attrs::new()).unwrap(), vec![t.clone()]);
}
