use super::*;
use crate::dialect::a_common::test_support::*;
use weft_ir::module::Attrs;

fn none() -> Attrs {
    Attrs::new()
}

#[test]
fn comparisons_give_bool_and_nan_is_unordered() {
    let a = f32s(&[4], &[1., 2., 3., f32::NAN]);
    let b = f32s(&[1], &[2.]);
    let run = |def: &OpDef| eval1(def, &[a.clone(), b.clone()], &none());
    assert_eq!(run(&EQUAL), bools(&[4], &[false, true, false, false]));
    assert_eq!(run(&LESS), bools(&[4], &[true, false, false, false]));
    assert_eq!(run(&GREATER), bools(&[4], &[false, false, true, false]));
    assert_eq!(run(&LESS_OR_EQUAL), bools(&[4], &[true, true, false, false]));
    assert_eq!(run(&GREATER_OR_EQUAL), bools(&[4], &[false, true, true, false]));
    let nan = f32s(&[1], &[f32::NAN]);
    assert_eq!(eval1(&EQUAL, &[nan.clone(), nan], &none()), bools(&[1], &[false]));
}

#[test]
fn integer_comparisons_use_values() {
    let big = ints(uint(64), &[2], &[-1, 3]);
    let one = ints(uint(64), &[], &[1]);
    assert_eq!(eval1(&GREATER, &[big, one], &none()), bools(&[2], &[true, true]));
    let i = ints(ElemType::I64, &[2, 1], &[-1, 5]);
    let j = ints(ElemType::I64, &[2], &[0, 5]);
    assert_eq!(eval1(&LESS, &[i, j], &none()), bools(&[2, 2], &[true, true, false, false]));
    let t = bools(&[2], &[true, false]);
    assert_eq!(eval1(&EQUAL, &[t.clone(), bools(&[], &[true])], &none()), t);
}

#[test]
fn comparison_types() {
    let a = ty(&["batch", "4"], ElemType::F16);
    let b = ty(&["4"], ElemType::F16);
    assert_eq!(infer(&LESS, &[&a, &b], &none()).unwrap(), vec![ty(&["batch", "4"], ElemType::Bool)]);
    let bt = fixed(&[2], ElemType::Bool);
    assert_eq!(infer(&EQUAL, &[&bt, &bt], &none()).unwrap(), vec![bt.clone()]);
    assert!(infer(&LESS, &[&bt, &bt], &none()).unwrap_err().contains("has element type bool"));
    let i = fixed(&[2], ElemType::I32);
    let f = fixed(&[2], ElemType::F32);
    assert_eq!(
        infer(&GREATER_OR_EQUAL, &[&i, &f], &none()).unwrap_err(),
        "operand #1 (B) has element type f32 but operand #0 (A) has i32"
    );
}

#[test]
fn boolean_connectives_broadcast() {
    let a = bools(&[2, 1], &[true, false]);
    let b = bools(&[2], &[true, false]);
    assert_eq!(eval1(&AND, &[a.clone(), b.clone()], &none()), bools(&[2, 2], &[true, false, false, false]));
    assert_eq!(eval1(&OR, &[a, b.clone()], &none()), bools(&[2, 2], &[true, true, true, false]));
    assert_eq!(eval1(&NOT, &[b], &none()), bools(&[2], &[false, true]));
    let i = fixed(&[2], ElemType::I8);
    assert_eq!(infer(&AND, &[&i, &i], &none()).unwrap_err(), "operand #0 (A) has element type i8, expected bool");
    assert!(infer(&NOT, &[&i], &none()).is_err());
}

#[test]
fn is_nan_tests_floats() {
    let x = f16s(&[3], &[1.0, f64::NAN, f64::INFINITY]);
    assert_eq!(eval1(&IS_NAN, &[x], &none()), bools(&[3], &[false, true, false]));
    let t = ty(&["n"], ElemType::F32);
    assert_eq!(infer(&IS_NAN, &[&t], &none()).unwrap(), vec![ty(&["n"], ElemType::Bool)]);
    let i = fixed(&[2], ElemType::I32);
    assert!(infer(&IS_NAN, &[&i], &none()).unwrap_err().contains("expected a float type"));
}
