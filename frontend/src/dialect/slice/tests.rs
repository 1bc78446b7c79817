use super::*;
use crate::dialect::testing_b::*;
use weft_ir::types::ElemType;

fn v(values: &[i64]) -> Tensor {
    i64t(&[values.len() as u64], values)
}

fn c(values: &[i64]) -> Arg {
    Arg::Const(v(values))
}

#[test]
fn clamping_rules_follow_onnx() {
    let len = |d, s, e, st| clamp_slice(d, s, e, st).len;
    assert_eq!(len(10, 0, i64::MAX, 1), 10);
    assert_eq!(len(10, -3, i64::MAX, 1), 3);
    assert_eq!(len(10, 1, 1000, 3), 3); // 1, 4, 7
    assert_eq!(len(10, 8, 2, 1), 0);
    assert_eq!(clamp_slice(10, -1, i64::MIN, -1), DimSlice { start: 9, step: -1, len: 10 });
    assert_eq!(clamp_slice(10, 20, -20, -3), DimSlice { start: 9, step: -3, len: 4 }); // 9, 6, 3, 0
    assert_eq!(clamp_slice(10, 5, -1, -1).len, 0); // end -1 means index 9
    assert_eq!(clamp_slice(0, -1, i64::MIN, -1).len, 0);
    assert_eq!(clamp_slice(4, i64::MIN, i64::MAX, i64::MAX).len, 1);
}

#[test]
fn slice_negative_steps_reverse() {
    // onnx docs "slice_neg_steps": x[20x10x5], starts [20, 10, 4], ends [0, 0, 1],
    // axes [0, 1, 2], steps [-1, -3, -2] -> shape [19, 3, 2]; check a small analogue by hand.
    let x = iota(&[3, 4]);
    let out = eval1(&SLICE, &[x.clone(), v(&[-1, 10]), v(&[i64::MIN, 0]), v(&[0, 1]), v(&[-1, -2])], &Attrs::new());
    assert_eq!(out.shape, vec![3, 2]);
    assert_eq!(vals(&out), vec![11., 9., 7., 5., 3., 1.]);
    let args = [Arg::Ty(f32ty("20x10x5")), c(&[20, 10, 4]), c(&[0, 0, 1]), c(&[0, 1, 2]), c(&[-1, -3, -2])];
    assert_eq!(infer1(&SLICE, &args, &Attrs::new()), "tensor<19x3x2xf32>");
}

#[test]
fn slice_default_axes_and_steps() {
    let out = eval1(&SLICE, &[iota(&[3, 4]), v(&[1, 1]), v(&[3, -1])], &Attrs::new());
    assert_eq!((out.shape.clone(), vals(&out)), (vec![2, 2], vec![5., 6., 9., 10.]));
    let out = eval1(&SLICE, &[iota(&[3, 4]), v(&[2]), v(&[i64::MAX]), v(&[-1])], &Attrs::new());
    assert_eq!((out.shape.clone(), vals(&out)), (vec![3, 2], vec![2., 3., 6., 7., 10., 11.]));
    let bad = eval(&SLICE, &[iota(&[3]), v(&[0]), v(&[2]), v(&[0]), v(&[0])], &Attrs::new());
    assert!(bad.unwrap_err().contains("'steps' has a 0"));
}

#[test]
fn slice_infers_symbolic_and_unknown_dims() {
    let x = || Arg::Ty(f32ty("[batch]x512x768"));
    let none = Attrs::new();
    assert_eq!(infer1(&SLICE, &[x(), c(&[0]), c(&[128]), c(&[1])], &none), "tensor<[batch]x128x768xf32>");
    assert_eq!(infer1(&SLICE, &[x(), c(&[0]), c(&[i64::MAX]), c(&[0])], &none), "tensor<[batch]x512x768xf32>");
    assert_eq!(infer1(&SLICE, &[x(), c(&[0]), c(&[1]), c(&[0])], &none), "tensor<?x512x768xf32>");
    let unknown_end = Arg::Ty(ty("1", ElemType::I64));
    assert_eq!(infer1(&SLICE, &[x(), c(&[0]), unknown_end, c(&[-1])], &none), "tensor<[batch]x512x?xf32>");
    let unknown_axes = Arg::Ty(ty("1", ElemType::I64));
    assert_eq!(infer1(&SLICE, &[x(), c(&[0]), c(&[1]), unknown_axes], &none), "tensor<?x?x?xf32>");
    infer_err(&SLICE, &[x(), c(&[0]), c(&[1, 2])], &none, "has 2 entries, expected 1");
    infer_err(&SLICE, &[x(), c(&[0, 0]), c(&[1, 2]), c(&[1, -2])], &none, "repeated");
    infer_err(&SLICE, &[x(), c(&[0]), c(&[1]), c(&[1]), c(&[0])], &none, "'steps' has a 0");
}

#[test]
fn concat_sums_the_axis_and_unifies_the_rest() {
    let axis0 = attrs(&[("axis", int(0))]);
    let args = [Arg::Ty(ty("2", ElemType::I64)), Arg::Ty(ty("1", ElemType::I64))];
    assert_eq!(infer1(&CONCAT, &args, &axis0), "tensor<3xi64>");
    let args = [Arg::Ty(f32ty("[b]x2x4")), Arg::Ty(f32ty("?x3x4"))];
    assert_eq!(infer1(&CONCAT, &args, &attrs(&[("axis", int(-2))])), "tensor<[b]x5x4xf32>");
    let args = [Arg::Ty(f32ty("2x[s]")), Arg::Ty(f32ty("2x4"))];
    assert_eq!(infer1(&CONCAT, &args, &attrs(&[("axis", int(0))])), "tensor<4x4xf32>");
    let args = [Arg::Ty(f32ty("2x3")), Arg::Ty(f32ty("2x4"))];
    infer_err(&CONCAT, &args, &axis0, "extents 3 and 4 differ");
    let args = [Arg::Ty(f32ty("2x3")), Arg::Ty(ty("2x3", ElemType::I64))];
    infer_err(&CONCAT, &args, &axis0, "does not match");
    let out = eval1(&CONCAT, &[iota(&[2, 1]), f32t(&[2, 2], &[10., 11., 12., 13.])], &attrs(&[("axis", int(1))]));
    assert_eq!((out.shape.clone(), vals(&out)), (vec![2, 3], vec![0., 10., 11., 1., 12., 13.]));
}

#[test]
fn split_by_operand_and_by_num_outputs() {
    let x = || Arg::Ty(f32ty("[b]x6"));
    let axis1 = attrs(&[("axis", int(1))]);
    assert_eq!(infer1(&SPLIT, &[x(), c(&[2, 4])], &axis1), "tensor<[b]x2xf32>, tensor<[b]x4xf32>");
    let n4 = attrs(&[("axis", int(1)), ("num_outputs", int(4))]);
    assert_eq!(
        infer1(&SPLIT, &[x()], &n4),
        "tensor<[b]x2xf32>, tensor<[b]x2xf32>, tensor<[b]x2xf32>, tensor<[b]x0xf32>"
    );
    let unknown = Arg::Ty(ty("3", ElemType::I64));
    assert_eq!(infer1(&SPLIT, &[x(), unknown], &axis1), "tensor<[b]x?xf32>, tensor<[b]x?xf32>, tensor<[b]x?xf32>");
    infer_err(&SPLIT, &[x(), c(&[2, 3])], &axis1, "does not sum");
    infer_err(&SPLIT, &[x()], &axis1, "needs the 'split' operand");
    infer_err(&SPLIT, &[Arg::Ty(f32ty("5"))], &attrs(&[("num_outputs", int(4))]), "smaller last part");

    let outs = eval(&SPLIT, &[iota(&[2, 3])], &attrs(&[("axis", int(1)), ("num_outputs", int(2))])).unwrap();
    assert_eq!(outs.len(), 2);
    assert_eq!((outs[0].shape.clone(), vals(&outs[0])), (vec![2, 2], vec![0., 1., 3., 4.]));
    assert_eq!((outs[1].shape.clone(), vals(&outs[1])), (vec![2, 1], vec![2., 5.]));
    let outs = eval(&SPLIT, &[iota(&[5]), v(&[1, 0, 4])], &Attrs::new()).unwrap();
    assert_eq!(outs.iter().map(vals).collect::<Vec<_>>(), vec![vec![0.], vec![], vec![1., 2., 3., 4.]]);
}
