//! Expected values computed with `numpy.einsum`, which ONNX's reference
//! implementation calls.

use super::*;
use crate::dialect::testing_b::*;
use weft_ir::types::ElemType;

fn run(eq: &str, ops: &[Tensor]) -> Tensor {
    eval1(&EINSUM, ops, &attrs(&[("equation", string(eq))]))
}

fn shape_of(eq: &str, types: &[&str]) -> Result<String, String> {
    let args: Vec<Arg> = types.iter().map(|t| Arg::Ty(f32ty(t))).collect();
    infer(&EINSUM, &args, &attrs(&[("equation", string(eq))])).map(|v| v[0].to_string())
}

#[test]
fn matrix_products_and_batches() {
    let out = run("ij,jk->ik", &[iota(&[2, 3]), iota(&[3, 4])]);
    assert_eq!((out.shape.clone(), vals(&out)), (vec![2, 4], vec![20., 23., 26., 29., 56., 68., 80., 92.]));
    let out = run("...ij, ...jk -> ...ik", &[iota(&[2, 1, 2, 3]), iota(&[3, 3, 2])]);
    assert_eq!(out.shape, vec![2, 3, 2, 2]);
    #[rustfmt::skip]
    let want = [10., 13., 28., 40., 28., 31., 100., 112., 46., 49., 172., 184.,
                46., 67., 64., 94., 172., 193., 244., 274., 298., 319., 424., 454.];
    assert_eq!(vals(&out), want);
    let q = iota(&[1, 2, 3, 2]);
    let k = iota(&[1, 2, 3, 2]);
    let scores = run("bhqd,bhkd->bhqk", &[q, k]);
    assert_eq!(scores.shape, vec![1, 2, 3, 3]);
    assert_eq!(vals(&scores)[..3].to_vec(), vec![1., 3., 5.]);
}

#[test]
fn diagonals_traces_and_implicit_outputs() {
    let m = iota(&[3, 3]);
    assert_eq!(vals(&run("ii->i", std::slice::from_ref(&m))), vec![0., 4., 8.]);
    let trace = run("ii", &[m]);
    assert_eq!((trace.shape.len(), vals(&trace)), (0, vec![12.]));
    let t = run("ji", &[iota(&[2, 3])]);
    assert_eq!((t.shape.clone(), vals(&t)), (vec![3, 2], vec![0., 3., 1., 4., 2., 5.]));
    assert_eq!(vals(&run("iij->j", &[iota(&[2, 2, 2])])), vec![6., 8.]);
    let ints = run("i...i->...", &[i64t(&[3, 2, 3], &(0..18).collect::<Vec<_>>())]);
    assert_eq!(ivals(&ints), vec![21, 30]);
    let outer = run("i,j", &[f32t(&[2], &[1., 2.]), f32t(&[3], &[3., 4., 5.])]);
    assert_eq!((outer.shape.clone(), vals(&outer)), (vec![2, 3], vec![3., 4., 5., 6., 8., 10.]));
    assert_eq!(vals(&run("...j->...", &[iota(&[2, 3])])), vec![3., 12.]);
}

#[test]
fn infer_shapes_with_symbols_and_ellipsis() {
    assert_eq!(
        shape_of("bhqd,bhkd->bhqk", &["[b]x12x[s]x64", "[b]x12x[s]x64"]),
        Ok("tensor<[b]x12x[s]x[s]xf32>".into())
    );
    assert_eq!(shape_of("...ij,jk", &["[b]x1x2x3", "3x4"]), Ok("tensor<[b]x1x2x4xf32>".into()));
    assert_eq!(shape_of("ij,jk->ik", &["2x?", "3x4"]), Ok("tensor<2x4xf32>".into()));
    assert_eq!(shape_of("ii->i", &["[n]x3"]), Ok("tensor<3xf32>".into()));
}

#[test]
fn bad_equations_are_errors() {
    let err = |eq: &str, types: &[&str], needle: &str| {
        let e = shape_of(eq, types).unwrap_err();
        assert!(e.contains(needle), "'{e}' does not contain '{needle}'");
    };
    err("ij,jk->ik", &["2x3", "4x5"], "label 'j'");
    err("ij->ik", &["2x3"], "'k' does not occur");
    err("ij->ii", &["2x3"], "repeats");
    err("ij,jk", &["2x3"], "2 input terms");
    err("ijk", &["2x3"], "rank 2 but its term has 3 labels");
    err("i.j", &["2x3"], "invalid character");
    err("...i...", &["2x3"], "more than one");
    err("ij->...", &["2x3"], "no input does");
    err("...i,...i", &["2x3", "4x3"], "ellipsis dims");
    let mixed = [Arg::Ty(f32ty("2")), Arg::Ty(ty("2", ElemType::I64))];
    infer_err(&EINSUM, &mixed, &attrs(&[("equation", string("i,i"))]), "one element type");
}
