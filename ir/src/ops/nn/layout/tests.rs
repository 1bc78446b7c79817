use super::super::testing::*;
use super::*;
use crate::attr::Attribute;
use crate::types::ElemType;

#[test]
fn reshape_checks_the_element_count() {
    let a = attrs(&[("shape", int_list(&[6]))]);
    assert_eq!(infer(&RESHAPE, &[f32_type(&[2, 3])], &a).unwrap().to_string(), "tensor<6xf32>");
    let bad = attrs(&[("shape", int_list(&[5]))]);
    let e = infer(&RESHAPE, &[f32_type(&[2, 3])], &bad).unwrap_err();
    assert_eq!(e, "cannot reshape 6 elements into shape [5] (5 elements)");
    let neg = attrs(&[("shape", int_list(&[-1, 6]))]);
    assert_eq!(infer(&RESHAPE, &[f32_type(&[6])], &neg).unwrap_err(), "attribute 'shape' has a negative entry -1");
}

#[test]
fn transpose_permutes() {
    let a = attrs(&[("perm", int_list(&[1, 0]))]);
    let t = run(&TRANSPOSE, &[f32s(&[2, 3], &[1., 2., 3., 4., 5., 6.])], &a);
    assert_eq!(t, f32s(&[3, 2], &[1., 4., 2., 5., 3., 6.]));
    let bad = attrs(&[("perm", int_list(&[0, 0]))]);
    assert!(infer(&TRANSPOSE, &[f32_type(&[2, 2])], &bad).unwrap_err().contains("not a permutation"));
}

#[test]
fn broadcast_repeats_unit_and_leading_dims() {
    let a = attrs(&[("shape", int_list(&[2, 2, 3]))]);
    let out = run(&BROADCAST, &[f32s(&[2, 1], &[1., 2.])], &a);
    assert_eq!(out, f32s(&[2, 2, 3], &[1., 1., 1., 2., 2., 2., 1., 1., 1., 2., 2., 2.]));
    let e = infer(&BROADCAST, &[f32_type(&[3])], &attrs(&[("shape", int_list(&[2]))])).unwrap_err();
    assert_eq!(e, "dim 0 (3) does not broadcast to extent 2 of [2]");
    let sym = crate::TensorType::new(vec![crate::Dim::Sym("n".into())], ElemType::F32);
    assert!(infer(&BROADCAST, &[sym], &attrs(&[("shape", int_list(&[4]))])).is_err());
}

#[test]
fn concat_joins_along_the_axis() {
    let a = attrs(&[("axis", Attribute::Int(-1))]);
    let out = run(&CONCAT, &[f32s(&[2, 1], &[1., 2.]), f32s(&[2, 2], &[3., 4., 5., 6.])], &a);
    assert_eq!(out, f32s(&[2, 3], &[1., 3., 4., 2., 5., 6.]));
    let e = infer(&CONCAT, &[f32_type(&[2, 1]), f32_type(&[3, 1])], &a).unwrap_err();
    assert_eq!(e, "operand #1 has extent 3 in dim 0, operand #0 has 2");
}

#[test]
fn slice_with_positive_and_negative_steps() {
    let x = f32s(&[2, 4], &[0., 1., 2., 3., 4., 5., 6., 7.]);
    let a = |starts: &[i64], sizes: &[i64], steps: &[i64]| {
        attrs(&[("starts", int_list(starts)), ("sizes", int_list(sizes)), ("steps", int_list(steps))])
    };
    assert_eq!(run(&SLICE, std::slice::from_ref(&x), &a(&[1, 1], &[1, 2], &[1, 2])), f32s(&[1, 2], &[5., 7.]));
    assert_eq!(
        run(&SLICE, std::slice::from_ref(&x), &a(&[0, 3], &[2, 4], &[1, -1])),
        f32s(&[2, 4], &[3., 2., 1., 0., 7., 6., 5., 4.])
    );
    assert_eq!(run(&SLICE, std::slice::from_ref(&x), &a(&[0, 0], &[2, 0], &[1, 1])).shape, vec![2, 0]);
    let e = infer(&SLICE, &[f32_type(&[2, 4])], &a(&[0, 2], &[2, 3], &[1, 1])).unwrap_err();
    assert_eq!(e, "dim 1 reads positions 2 to 4, outside its extent 4 (start 2, size 3, step 1)");
    let e = infer(&SLICE, &[f32_type(&[2, 4])], &a(&[0], &[2], &[1])).unwrap_err();
    assert!(e.contains("one per dim"), "{e}");
}

#[test]
fn gather_with_negative_indices() {
    let data = f32s(&[3, 2], &[1., 2., 3., 4., 5., 6.]);
    let idx = ints(ElemType::I64, &[2], &[-1, 0]);
    let a0 = attrs(&[("axis", Attribute::Int(0))]);
    assert_eq!(run(&GATHER, &[data.clone(), idx.clone()], &a0), f32s(&[2, 2], &[5., 6., 1., 2.]));
    let a1 = attrs(&[("axis", Attribute::Int(1))]);
    let scalar = ints(ElemType::I32, &[], &[1]);
    assert_eq!(run(&GATHER, &[data.clone(), scalar], &a1), f32s(&[3], &[2., 4., 6.]));
    let bad = ints(ElemType::I64, &[1], &[3]);
    assert_eq!(run_err(&GATHER, &[data, bad], &a0), "index 3 is out of range for axis 0 of extent 3");
    let f = f32_type(&[2]);
    assert!(infer(&GATHER, &[f32_type(&[3]), f], &a0).unwrap_err().contains("i32 or i64"));
}

#[test]
fn identity_folds_only_when_the_op_is_the_identity() {
    let no = Attrs::new();
    assert!(same_type_is_identity(&FoldInput::values(&[None], &no)).is_some());
    let swap = attrs(&[("perm", int_list(&[1, 0]))]);
    assert!((TRANSPOSE.fold.unwrap())(&FoldInput::values(&[None], &swap)).is_none());
    let rev = attrs(&[("starts", int_list(&[3])), ("sizes", int_list(&[4])), ("steps", int_list(&[-1]))]);
    assert!((SLICE.fold.unwrap())(&FoldInput::values(&[None], &rev)).is_none());
}
