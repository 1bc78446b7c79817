use super::*;
use crate::dialect::a_common::test_support::*;
use weft_ir::tensor::TensorData;

fn no_attrs() -> weft_ir::Attrs {
    weft_ir::Attrs::new()
}

#[test]
fn add_infers_broadcast_shapes_with_symbolic_dims() {
    let a = ty(&["batch", "1", "4"], ElemType::F32);
    let b = ty(&["3", "1"], ElemType::F32);
    assert_eq!(infer(&ADD, &[&a, &b], &no_attrs()).unwrap(), vec![ty(&["batch", "3", "4"], ElemType::F32)]);
    let c = ty(&["?", "4"], ElemType::F32);
    assert_eq!(infer(&MUL, &[&a, &c], &no_attrs()).unwrap(), vec![ty(&["batch", "?", "4"], ElemType::F32)]);
}

#[test]
fn arithmetic_rejects_mixed_and_unsupported_types() {
    let f = fixed(&[2], ElemType::F32);
    let i = fixed(&[2], ElemType::I64);
    let err = infer(&ADD, &[&f, &i], &no_attrs()).unwrap_err();
    assert_eq!(err, "operand #1 (B) has element type i64 but operand #0 (A) has f32");
    let b = fixed(&[2], ElemType::Bool);
    let err = infer(&SUB, &[&b, &b], &no_attrs()).unwrap_err();
    assert!(err.starts_with("operand #0 (A) has element type bool, expected a float or integer type"), "{err}");
    let i4 = fixed(&[2], int(4));
    assert!(infer(&MUL, &[&i4, &i4], &no_attrs()).is_err());
    let wide = fixed(&[3], ElemType::F32);
    let err = infer(&ADD, &[&f, &wide], &no_attrs()).unwrap_err();
    assert!(err.contains("does not broadcast"), "{err}");
}

#[test]
fn add_broadcasts_rows() {
    let a = f32s(&[2, 3], &[1., 2., 3., 4., 5., 6.]);
    let b = f32s(&[3], &[10., 20., 30.]);
    assert_eq!(eval1(&ADD, &[a, b], &no_attrs()), f32s(&[2, 3], &[11., 22., 33., 14., 25., 36.]));
}

#[test]
fn integer_arithmetic_wraps_to_the_width() {
    let i8s = |v: &[i64]| ints(ElemType::I8, &[2], v);
    assert_eq!(eval1(&ADD, &[i8s(&[127, -128]), i8s(&[1, -1])], &no_attrs()).data, TensorData::Int(vec![-128, 127]));
    let u8s = |v: &[i64]| ints(uint(8), &[2], v);
    assert_eq!(eval1(&SUB, &[u8s(&[0, 5]), u8s(&[1, 3])], &no_attrs()).data, TensorData::Int(vec![255, 2]));
    assert_eq!(eval1(&MUL, &[u8s(&[16, 3]), u8s(&[16, 3])], &no_attrs()).data, TensorData::Int(vec![0, 9]));
}

#[test]
fn integer_division_truncates_toward_zero() {
    let a = ints(ElemType::I32, &[4], &[7, -7, 7, -7]);
    let b = ints(ElemType::I32, &[4], &[2, 2, -2, -2]);
    assert_eq!(eval1(&DIV, &[a, b], &no_attrs()).data, TensorData::Int(vec![3, -3, -3, 3]));
    let min = ints(ElemType::I8, &[1], &[-128]);
    let neg1 = ints(ElemType::I8, &[1], &[-1]);
    assert_eq!(eval1(&DIV, &[min, neg1], &no_attrs()).data, TensorData::Int(vec![-128]));
    // u64::MAX is stored as the bit pattern -1 and divides unsigned.
    let big = ints(uint(64), &[1], &[-1]);
    let two = ints(uint(64), &[1], &[2]);
    assert_eq!(eval1(&DIV, &[big, two], &no_attrs()).data, TensorData::Int(vec![i64::MAX]));
}

#[test]
fn integer_division_by_zero_is_an_error() {
    let a = ints(ElemType::I64, &[2], &[1, 2]);
    let b = ints(ElemType::I64, &[2], &[1, 0]);
    assert_eq!(eval(&DIV, &[a, b], &no_attrs()).unwrap_err(), "integer division by zero");
}

#[test]
fn float_division_follows_ieee_and_rounds_f16_once() {
    let out = eval1(&DIV, &[f32s(&[3], &[1., -1., 0.]), f32s(&[1], &[0.])], &no_attrs());
    let v = values(&out);
    assert_eq!((v[0], v[1]), (f64::INFINITY, f64::NEG_INFINITY));
    assert!(v[2].is_nan());
    let third = eval1(&DIV, &[f16s(&[1], &[1.0]), f16s(&[1], &[3.0])], &no_attrs());
    assert_eq!(third.data, TensorData::F16(vec![half::f16::from_f64(1.0 / 3.0)]));
}

#[test]
fn empty_operands_give_empty_results() {
    let a = f32s(&[0, 3], &[]);
    let b = f32s(&[3], &[1., 2., 3.]);
    let out = eval1(&ADD, &[a, b], &no_attrs());
    assert_eq!((out.shape, out.data.len()), (vec![0, 3], 0));
}

#[test]
fn pow_on_floats_and_integers() {
    let out = eval1(&POW, &[f32s(&[3], &[2., 3., -2.]), ints(ElemType::I64, &[], &[2])], &no_attrs());
    assert_eq!(out, f32s(&[3], &[4., 9., 4.]));
    let base = ints(ElemType::I64, &[3], &[2, 3, -2]);
    let exp = ints(ElemType::I64, &[3], &[10, 0, 3]);
    assert_eq!(eval1(&POW, &[base, exp], &no_attrs()).data, TensorData::Int(vec![1024, 1, -8]));
    let base = ints(ElemType::I32, &[4], &[2, 1, -1, -1]);
    let exp = ints(ElemType::I32, &[4], &[-1, -5, -3, -2]);
    assert_eq!(eval1(&POW, &[base, exp], &no_attrs()).data, TensorData::Int(vec![0, 1, -1, 1]));
    let wraps = eval1(&POW, &[ints(ElemType::I32, &[1], &[2]), ints(uint(8), &[1], &[31])], &no_attrs());
    assert_eq!(wraps.data, TensorData::Int(vec![i32::MIN as i64]));
    let frac = eval1(&POW, &[ints(ElemType::I32, &[2], &[2, 9]), f32s(&[1], &[0.5])], &no_attrs());
    assert_eq!(frac.data, TensorData::Int(vec![1, 3]));
}

#[test]
fn pow_errors_and_types() {
    let zero = ints(ElemType::I64, &[1], &[0]);
    let neg = ints(ElemType::I64, &[1], &[-1]);
    assert!(eval(&POW, &[zero, neg], &no_attrs()).unwrap_err().contains("negative power"));
    let x = fixed(&[2, 3], ElemType::F16);
    let y = fixed(&[], uint(64));
    assert_eq!(infer(&POW, &[&x, &y], &no_attrs()).unwrap(), vec![x.clone()]);
    let i8t = fixed(&[2], ElemType::I8);
    let err = infer(&POW, &[&i8t, &y], &no_attrs()).unwrap_err();
    assert_eq!(
        err,
        "operand #0 (X) has element type i8, expected a float type, i32 or i64 (f16, bf16, f32, f64, i32, i64)"
    );
}

#[test]
fn max_and_min_are_variadic_and_broadcast() {
    let a = f32s(&[2, 2], &[1., 5., 3., 0.]);
    let b = f32s(&[2], &[2., 2.]);
    let c = f32s(&[], &[4.]);
    assert_eq!(eval1(&MAX, &[a.clone(), b.clone(), c.clone()], &no_attrs()), f32s(&[2, 2], &[4., 5., 4., 4.]));
    assert_eq!(eval1(&MIN, &[a.clone(), b, c], &no_attrs()), f32s(&[2, 2], &[1., 2., 2., 0.]));
    assert_eq!(eval1(&MAX, std::slice::from_ref(&a), &no_attrs()), a);
    let t = [ty(&["n", "2"], ElemType::F32), ty(&["2"], ElemType::F32), fixed(&[], ElemType::F32)];
    let refs: Vec<&Type> = t.iter().collect();
    assert_eq!(infer(&MIN, &refs, &no_attrs()).unwrap(), vec![ty(&["n", "2"], ElemType::F32)]);
}

#[test]
fn max_propagates_nan_and_compares_unsigned_by_value() {
    let out = eval1(&MAX, &[f32s(&[2], &[f32::NAN, 1.]), f32s(&[2], &[1., f32::NAN])], &no_attrs());
    assert!(values(&out).iter().all(|v| v.is_nan()));
    let big = ints(uint(64), &[1], &[-1]);
    let one = ints(uint(64), &[1], &[1]);
    assert_eq!(eval1(&MAX, &[big.clone(), one.clone()], &no_attrs()).data, TensorData::Int(vec![-1]));
    assert_eq!(eval1(&MIN, &[big, one], &no_attrs()).data, TensorData::Int(vec![1]));
}

#[test]
fn where_selects_with_three_way_broadcast() {
    let c = bools(&[2, 1], &[true, false]);
    let x = f32s(&[1, 3], &[1., 2., 3.]);
    let y = f32s(&[], &[-1.]);
    assert_eq!(eval1(&WHERE, &[c, x, y], &no_attrs()), f32s(&[2, 3], &[1., 2., 3., -1., -1., -1.]));
    let (cb, xf, yi) = (fixed(&[2, 1], ElemType::Bool), fixed(&[3], ElemType::F32), fixed(&[3], ElemType::I64));
    assert_eq!(infer(&WHERE, &[&cb, &xf, &xf], &no_attrs()).unwrap(), vec![fixed(&[2, 3], ElemType::F32)]);
    assert_eq!(
        infer(&WHERE, &[&cb, &xf, &yi], &no_attrs()).unwrap_err(),
        "operand #2 (Y) has element type i64 but operand #1 (X) has f32"
    );
    assert!(infer(&WHERE, &[&xf, &xf, &xf], &no_attrs()).unwrap_err().contains("expected bool"));
}

#[test]
fn clip_limits_to_bounds() {
    let x = f32s(&[4], &[-2., 0.5, 3., f32::NAN]);
    let (lo, hi) = (f32s(&[], &[0.]), f32s(&[], &[1.]));
    let out = eval1(&CLIP, &[x.clone(), lo.clone(), hi], &no_attrs());
    assert_eq!(values(&out)[..3], [0., 0.5, 1.]);
    assert!(values(&out)[3].is_nan());
    assert_eq!(values(&eval1(&CLIP, &[x.clone(), lo], &no_attrs()))[..3], [0., 0.5, 3.]);
    let inverted = eval1(&CLIP, &[x.clone(), f32s(&[1], &[2.]), f32s(&[], &[1.])], &no_attrs());
    assert_eq!(values(&inverted)[..3], [1., 1., 1.]);
    assert_eq!(eval1(&CLIP, std::slice::from_ref(&x), &no_attrs()).data.len(), 4);
    let u = eval1(&CLIP, &[ints(uint(64), &[2], &[-1, 5]), ints(uint(64), &[], &[7])], &no_attrs());
    assert_eq!(u.data, TensorData::Int(vec![-1, 7]));
}

#[test]
fn clip_checks_its_bounds() {
    let x = fixed(&[4], ElemType::F32);
    let bad = fixed(&[2], ElemType::F32);
    let err = infer(&CLIP, &[&x, &bad], &no_attrs()).unwrap_err();
    assert_eq!(err, "operand #1 (min) must be a scalar (tensor<f32>), got tensor<2xf32>");
    let f64s = fixed(&[], ElemType::F64);
    assert!(infer(&CLIP, &[&x, &f64s], &no_attrs()).unwrap_err().contains("has element type f64"));
    let s = fixed(&[], ElemType::F32);
    assert!(infer(&CLIP, &[&x, &s, &s, &s], &no_attrs()).unwrap_err().contains("at most 3 operands"));
}
