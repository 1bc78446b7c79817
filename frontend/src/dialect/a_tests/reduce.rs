use super::*;
use crate::dialect::a_common::test_support::*;
use weft_ir::tensor::TensorData;
use weft_ir::Attribute;

fn keep(k: i64) -> Attrs {
    attrs(&[("keepdims", Attribute::Int(k))])
}

fn axes(v: &[i64]) -> Tensor {
    ints(ElemType::I64, &[v.len() as u64], v)
}

/// Infers with `axes` as an inline constant.
fn infer_axes(def: &OpDef, x: Type, a: &[i64], attrs: &Attrs) -> Result<Vec<Type>, String> {
    infer_with(def, &[(x, None), (fixed(&[a.len() as u64], ElemType::I64), Some(axes(a)))], attrs)
}

#[test]
fn constant_axes_give_static_result_shapes() {
    let x = ty(&["batch", "seq", "768"], ElemType::F32);
    let one = Dim::Fixed(1);
    let r = infer_axes(&REDUCE_MEAN, x.clone(), &[-1], &Attrs::new()).unwrap();
    assert_eq!(r, vec![ty(&["batch", "seq", "1"], ElemType::F32)]);
    let r = infer_axes(&REDUCE_SUM, x.clone(), &[0, 2], &keep(0)).unwrap();
    assert_eq!(r, vec![ty(&["seq"], ElemType::F32)]);
    let all = infer(&REDUCE_MAX, &[&x], &Attrs::new()).unwrap();
    assert_eq!(all, vec![Type::Tensor(weft_ir::TensorType::new(vec![one.clone(), one.clone(), one], ElemType::F32))]);
    assert_eq!(infer(&REDUCE_MAX, &[&x], &keep(0)).unwrap(), vec![fixed(&[], ElemType::F32)]);
    let noop = attrs(&[("noop_with_empty_axes", Attribute::Int(1))]);
    assert_eq!(infer(&REDUCE_SUM, &[&x], &noop).unwrap(), vec![x.clone()]);
    assert_eq!(infer_axes(&REDUCE_SUM, x.clone(), &[], &noop).unwrap(), vec![x]);
}

#[test]
fn unknown_axes_give_unknown_dims() {
    let x = fixed(&[2, 1, 4], ElemType::F32);
    let a1 = fixed(&[1], ElemType::I64);
    assert_eq!(infer(&REDUCE_SUM, &[&x, &a1], &Attrs::new()).unwrap(), vec![ty(&["?", "1", "?"], ElemType::F32)]);
    assert_eq!(infer(&REDUCE_SUM, &[&x, &a1], &keep(0)).unwrap(), vec![ty(&["?", "?"], ElemType::F32)]);
    let an = ty(&["?"], ElemType::I64);
    let err = infer(&REDUCE_SUM, &[&x, &an], &keep(0)).unwrap_err();
    assert!(err.contains("operand #1 (axes) must be a constant or have a static length"), "{err}");
}

#[test]
fn bad_axes_are_rejected() {
    let x = fixed(&[2, 3], ElemType::F32);
    let err = infer_axes(&REDUCE_SUM, x.clone(), &[2], &Attrs::new()).unwrap_err();
    assert_eq!(err, "axis 2 is out of range for rank 2 (expected [-2, 1])");
    let err = infer_axes(&REDUCE_SUM, x.clone(), &[1, -1], &Attrs::new()).unwrap_err();
    assert_eq!(err, "axis -1 is given twice in [1, -1]");
    let f = fixed(&[1], ElemType::F32);
    assert_eq!(
        infer(&REDUCE_SUM, &[&x, &f], &Attrs::new()).unwrap_err(),
        "operand #1 (axes) has element type f32, expected i64"
    );
    let i8t = fixed(&[2], ElemType::I8);
    assert!(infer(&REDUCE_MEAN, &[&i8t], &Attrs::new()).is_err());
    assert!(infer(&REDUCE_MAX, &[&i8t], &Attrs::new()).is_ok());
    assert!(infer(&REDUCE_MAX, &[&fixed(&[2], ElemType::Bool)], &Attrs::new()).is_ok());
    let bad_flag = attrs(&[("keepdims", Attribute::Int(2))]);
    assert_eq!(infer(&REDUCE_SUM, &[&x], &bad_flag).unwrap_err(), "attribute 'keepdims' must be 0 or 1, got 2");
}

#[test]
fn float_reductions_along_an_axis() {
    let x = f32s(&[2, 3], &[1., 2., 3., 4., 5., 6.]);
    assert_eq!(eval1(&REDUCE_SUM, &[x.clone(), axes(&[1])], &Attrs::new()), f32s(&[2, 1], &[6., 15.]));
    assert_eq!(eval1(&REDUCE_MEAN, &[x.clone(), axes(&[-1])], &keep(0)), f32s(&[2], &[2., 5.]));
    assert_eq!(eval1(&REDUCE_MAX, &[x.clone(), axes(&[0])], &keep(0)), f32s(&[3], &[4., 5., 6.]));
    assert_eq!(eval1(&REDUCE_SUM, std::slice::from_ref(&x), &keep(0)), f32s(&[], &[21.]));
    assert_eq!(eval1(&REDUCE_MEAN, &[x.clone(), axes(&[])], &Attrs::new()), f32s(&[1, 1], &[3.5]));
    let noop = attrs(&[("noop_with_empty_axes", Attribute::Int(1))]);
    assert_eq!(eval1(&REDUCE_SUM, &[x.clone(), axes(&[])], &noop), x);
}

#[test]
fn floats_accumulate_in_f64() {
    let x = f32s(&[3], &[1e8, 1., -1e8]);
    assert_eq!(eval1(&REDUCE_SUM, &[x], &keep(0)), f32s(&[], &[1.]));
    let nan = f32s(&[3], &[1., f32::NAN, 2.]);
    assert!(values(&eval1(&REDUCE_MAX, &[nan], &keep(0)))[0].is_nan());
}

#[test]
fn integer_reductions_are_exact_then_wrap() {
    let x = ints(ElemType::I32, &[2, 2], &[i32::MAX as i64, 1, -7, 2]);
    assert_eq!(eval1(&REDUCE_SUM, &[x.clone(), axes(&[1])], &keep(0)).data, TensorData::Int(vec![i32::MIN as i64, -5]));
    assert_eq!(eval1(&REDUCE_MEAN, &[x.clone(), axes(&[1])], &keep(0)).data, TensorData::Int(vec![1 << 30, -2]));
    let u = ints(uint(64), &[2], &[-1, -3]);
    assert_eq!(eval1(&REDUCE_MAX, std::slice::from_ref(&u), &keep(0)).data, TensorData::Int(vec![-1]));
    assert_eq!(eval1(&REDUCE_MEAN, &[u], &keep(0)).data, TensorData::Int(vec![-2]));
    let b = bools(&[2, 2], &[true, false, false, false]);
    assert_eq!(eval1(&REDUCE_MAX, &[b, axes(&[1])], &keep(0)), bools(&[2], &[true, false]));
}

#[test]
fn empty_reductions_follow_onnx() {
    let x = f32s(&[2, 0], &[]);
    assert_eq!(eval1(&REDUCE_SUM, &[x.clone(), axes(&[1])], &keep(0)), f32s(&[2], &[0., 0.]));
    assert_eq!(eval1(&REDUCE_MAX, &[x.clone(), axes(&[1])], &keep(0)), f32s(&[2], &[f32::NEG_INFINITY; 2]));
    assert!(values(&eval1(&REDUCE_MEAN, &[x.clone(), axes(&[1])], &keep(0))).iter().all(|v| v.is_nan()));
    let none_left = eval1(&REDUCE_SUM, &[x, axes(&[0])], &Attrs::new());
    assert_eq!((none_left.shape, none_left.data.len()), (vec![1, 0], 0));
    let i = ints(ElemType::I32, &[0], &[]);
    assert_eq!(eval1(&REDUCE_MAX, std::slice::from_ref(&i), &keep(0)).data, TensorData::Int(vec![i32::MIN as i64]));
    assert!(eval(&REDUCE_MEAN, &[i], &keep(0)).unwrap_err().contains("empty set"));
    assert_eq!(eval1(&REDUCE_MAX, &[bools(&[0], &[])], &keep(0)), bools(&[], &[false]));
}
