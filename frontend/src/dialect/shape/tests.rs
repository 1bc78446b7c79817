use super::*;
use crate::dialect::testing_b::*;
use weft_ir::types::ElemType;

fn shape_const(v: &[i64]) -> Arg {
    Arg::Const(i64t(&[v.len() as u64], v))
}

#[test]
fn reshape_zero_copies_symbolic_dims_and_minus_one_cancels_symbols() {
    let x = || Arg::Ty(f32ty("[batch]x128x768"));
    let none = Attrs::new();
    assert_eq!(infer1(&RESHAPE, &[x(), shape_const(&[0, 0, 12, 64])], &none), "tensor<[batch]x128x12x64xf32>");
    assert_eq!(infer1(&RESHAPE, &[x(), shape_const(&[0, -1, 64])], &none), "tensor<[batch]x1536x64xf32>");
    assert_eq!(infer1(&RESHAPE, &[x(), shape_const(&[-1, 768])], &none), "tensor<?x768xf32>");
    let y = Arg::Ty(f32ty("[batch]x[seq]x768"));
    assert_eq!(infer1(&RESHAPE, &[y, shape_const(&[0, -1, 12, 64])], &none), "tensor<[batch]x[seq]x12x64xf32>");
}

#[test]
fn reshape_with_unknown_shape_has_unknown_dims_of_the_right_rank() {
    let args = [Arg::Ty(f32ty("2x3")), Arg::Ty(ty("3", ElemType::I64))];
    assert_eq!(infer1(&RESHAPE, &args, &Attrs::new()), "tensor<?x?x?xf32>");
    let args = [Arg::Ty(f32ty("2x3")), Arg::Ty(ty("?", ElemType::I64))];
    infer_err(&RESHAPE, &args, &Attrs::new(), "unknown length");
}

#[test]
fn reshape_rejects_bad_shapes() {
    let x = || Arg::Ty(f32ty("2x3"));
    let none = Attrs::new();
    infer_err(&RESHAPE, &[x(), shape_const(&[-1, -1])], &none, "more than one -1");
    infer_err(&RESHAPE, &[x(), shape_const(&[4, -1])], &none, "not a multiple");
    infer_err(&RESHAPE, &[x(), shape_const(&[7])], &none, "cannot reshape 6 elements");
    infer_err(&RESHAPE, &[x(), shape_const(&[0, 0, 0])], &none, "does not have");
    infer_err(&RESHAPE, &[x(), shape_const(&[-2, 3])], &none, "invalid extent -2");
    let allowzero = attrs(&[("allowzero", int(1))]);
    infer_err(&RESHAPE, &[x(), shape_const(&[0, -1])], &allowzero, "allowzero");
}

#[test]
fn reshape_eval_resolves_zero_and_minus_one() {
    let out = eval1(&RESHAPE, &[iota(&[2, 3, 4]), i64t(&[3], &[0, -1, 2])], &Attrs::new());
    assert_eq!(out.shape, vec![2, 6, 2]);
    assert_eq!(vals(&out), vals(&iota(&[24])));
    let zero = eval1(&RESHAPE, &[iota(&[0, 3]), i64t(&[2], &[3, 0])], &attrs(&[("allowzero", int(1))]));
    assert_eq!(zero.shape, vec![3, 0]);
    assert!(eval(&RESHAPE, &[iota(&[2, 3]), i64t(&[1], &[5])], &Attrs::new()).is_err());
}

#[test]
fn transpose_defaults_to_reversing_dims() {
    assert_eq!(infer1(&TRANSPOSE, &[Arg::Ty(f32ty("[b]x2x3"))], &Attrs::new()), "tensor<3x2x[b]xf32>");
    let out = eval1(&TRANSPOSE, &[iota(&[2, 3])], &Attrs::new());
    assert_eq!((out.shape.clone(), vals(&out)), (vec![3, 2], vec![0., 3., 1., 4., 2., 5.]));
    let perm = attrs(&[("perm", int_list(&[1, 2, 0]))]);
    let out = eval1(&TRANSPOSE, &[iota(&[2, 2, 2])], &perm);
    // out[i][j][k] = in[k][i][j]
    assert_eq!(vals(&out), vec![0., 4., 1., 5., 2., 6., 3., 7.]);
    infer_err(&TRANSPOSE, &[Arg::Ty(f32ty("2x3"))], &attrs(&[("perm", int_list(&[0, 0]))]), "not a permutation");
}

#[test]
fn flatten_products_keep_a_lone_symbol() {
    let x = || Arg::Ty(f32ty("[batch]x3x4"));
    assert_eq!(infer1(&FLATTEN, &[x()], &Attrs::new()), "tensor<[batch]x12xf32>");
    assert_eq!(infer1(&FLATTEN, &[x()], &attrs(&[("axis", int(0))])), "tensor<1x?xf32>");
    assert_eq!(infer1(&FLATTEN, &[x()], &attrs(&[("axis", int(-1))])), "tensor<?x4xf32>");
    assert_eq!(infer1(&FLATTEN, &[x()], &attrs(&[("axis", int(3))])), "tensor<?x1xf32>");
    infer_err(&FLATTEN, &[x()], &attrs(&[("axis", int(4))]), "out of range");
    let out = eval1(&FLATTEN, &[iota(&[2, 3, 4])], &attrs(&[("axis", int(2))]));
    assert_eq!(out.shape, vec![6, 4]);
}

#[test]
fn squeeze_with_and_without_axes() {
    let none = Attrs::new();
    let x = || Arg::Ty(f32ty("1x[seq]x1"));
    assert_eq!(infer1(&SQUEEZE, &[x(), shape_const(&[-1])], &none), "tensor<1x[seq]xf32>");
    assert_eq!(infer1(&SQUEEZE, &[x(), Arg::Ty(ty("2", ElemType::I64))], &none), "tensor<?xf32>");
    infer_err(&SQUEEZE, &[x()], &none, "static input shape");
    infer_err(&SQUEEZE, &[Arg::Ty(f32ty("2x1")), shape_const(&[0])], &none, "extent 2");
    assert_eq!(infer1(&SQUEEZE, &[Arg::Ty(f32ty("1x3x1x2"))], &none), "tensor<3x2xf32>");
    let out = eval1(&SQUEEZE, &[iota(&[1, 3, 1])], &none);
    assert_eq!(out.shape, vec![3]);
    let out = eval1(&SQUEEZE, &[iota(&[1, 3, 1]), i64t(&[1], &[0])], &none);
    assert_eq!(out.shape, vec![3, 1]);
}

#[test]
fn unsqueeze_inserts_at_result_positions() {
    let none = Attrs::new();
    let x = || Arg::Ty(ty("[batch]x128", ElemType::I64));
    assert_eq!(infer1(&UNSQUEEZE, &[x(), shape_const(&[1, 2])], &none), "tensor<[batch]x1x1x128xi64>");
    assert_eq!(infer1(&UNSQUEEZE, &[x(), shape_const(&[-1, 0])], &none), "tensor<1x[batch]x128x1xi64>");
    assert_eq!(infer1(&UNSQUEEZE, &[x(), Arg::Ty(ty("1", ElemType::I64))], &none), "tensor<?x?x?xi64>");
    infer_err(&UNSQUEEZE, &[x(), shape_const(&[1, -3])], &none, "repeated");
    infer_err(&UNSQUEEZE, &[x(), shape_const(&[4])], &none, "out of range");
    let out = eval1(&UNSQUEEZE, &[iota(&[3]), i64t(&[2], &[0, 2])], &none);
    assert_eq!(out.shape, vec![1, 3, 1]);
}

#[test]
fn expand_broadcasts_both_ways() {
    let none = Attrs::new();
    let x = || Arg::Ty(f32ty("3x1"));
    assert_eq!(infer1(&EXPAND, &[x(), shape_const(&[2, 1, 6])], &none), "tensor<2x3x6xf32>");
    assert_eq!(infer1(&EXPAND, &[x(), shape_const(&[1])], &none), "tensor<3x1xf32>");
    assert_eq!(infer1(&EXPAND, &[x(), Arg::Ty(ty("3", ElemType::I64))], &none), "tensor<?x3x?xf32>");
    let sym = Arg::Ty(f32ty("[b]x1"));
    assert_eq!(infer1(&EXPAND, &[sym, shape_const(&[1, 4])], &none), "tensor<[b]x4xf32>");
    infer_err(&EXPAND, &[x(), shape_const(&[2, 4])], &none, "do not broadcast");
    let out = eval1(&EXPAND, &[f32t(&[3, 1], &[1., 2., 3.]), i64t(&[2], &[1, 2])], &none);
    assert_eq!((out.shape.clone(), vals(&out)), (vec![3, 2], vec![1., 1., 2., 2., 3., 3.]));
    assert!(eval(&EXPAND, &[iota(&[2]), i64t(&[1], &[-1])], &none).unwrap_err().contains("negative"));
}
