use super::*;
use crate::dialect::testing_b::*;
use weft_ir::types::ElemType;

#[test]
fn matmul_infers_numpy_shapes() {
    let none = Attrs::new();
    let mm = |a: &str, b: &str| infer(&MATMUL, &[Arg::Ty(f32ty(a)), Arg::Ty(f32ty(b))], &none);
    let show = |r: Result<Vec<Type>, String>| r.map(|v| v[0].to_string());
    assert_eq!(show(mm("[batch]x128x384", "384x384")), Ok("tensor<[batch]x128x384xf32>".into()));
    assert_eq!(show(mm("2x1x3x4", "5x4x6")), Ok("tensor<2x5x3x6xf32>".into()));
    assert_eq!(show(mm("4", "4x6")), Ok("tensor<6xf32>".into()));
    assert_eq!(show(mm("2x3x4", "4")), Ok("tensor<2x3xf32>".into()));
    assert_eq!(show(mm("4", "4")), Ok("tensor<f32>".into()));
    assert_eq!(show(mm("3x[k]", "[k]x2")), Ok("tensor<3x2xf32>".into()));
    assert!(mm("3x4", "5x2").unwrap_err().contains("contraction dims differ"));
    assert!(mm("2x3x4", "3x4x2").unwrap_err().contains("do not broadcast"));
    infer_err(&MATMUL, &[Arg::Ty(f32ty("2x2")), Arg::Ty(ty("2x2", ElemType::I32))], &none, "same element type");
}

#[test]
fn matmul_evaluates_batches_and_vectors() {
    let none = Attrs::new();
    let a = f32t(&[2, 1, 2], &[1., 2., 3., 4.]);
    let b = f32t(&[2, 1], &[10., 100.]);
    let out = eval1(&MATMUL, &[a, b], &none);
    assert_eq!((out.shape.clone(), vals(&out)), (vec![2, 1, 1], vec![210., 430.]));
    // Broadcast batch: [2,1,2,2] x [3,2,1] -> [2,3,2,1].
    let a = iota(&[2, 1, 2, 2]);
    let b = f32t(&[3, 2, 1], &[1., 0., 0., 1., 1., 1.]);
    let out = eval1(&MATMUL, &[a, b], &none);
    assert_eq!(out.shape, vec![2, 3, 2, 1]);
    assert_eq!(vals(&out), vec![0., 2., 1., 3., 1., 5., 4., 6., 5., 7., 9., 13.]);
    let v = f32t(&[2], &[1., -1.]);
    let m = iota(&[2, 3]);
    let row = eval1(&MATMUL, &[v.clone(), m.clone()], &none);
    assert_eq!((row.shape.clone(), vals(&row)), (vec![3], vec![-3., -3., -3.]));
    let col = eval1(&MATMUL, &[iota(&[3, 2]), v.clone()], &none);
    assert_eq!((col.shape.clone(), vals(&col)), (vec![3], vec![-1., -1., -1.]));
    let dot = eval1(&MATMUL, &[v.clone(), v], &none);
    assert_eq!((dot.shape.len(), vals(&dot)), (0, vec![2.]));
}

#[test]
fn matmul_rounds_once_and_wraps_integers() {
    // 1 + 2^-30 - 1 in f32 steps would lose the small term; f64 keeps it until the final rounding.
    let a = f32t(&[1, 3], &[1.0, 1.0, -1.0]);
    let b = f32t(&[3, 1], &[1.0, 2f32.powi(-30), 1.0]);
    assert_eq!(vals(&eval1(&MATMUL, &[a, b], &Attrs::new())), vec![2f32.powi(-30)]);
    let a = int_t(ElemType::I32, &[1, 2], &[1 << 30, 1 << 30]);
    let b = int_t(ElemType::I32, &[2, 1], &[2, 2]);
    assert_eq!(ivals(&eval1(&MATMUL, &[a, b], &Attrs::new())), vec![0]);
}

#[test]
fn gemm_transposes_scales_and_broadcasts_c() {
    let a = iota(&[3, 2]); // transA -> 2x3
    let b = f32t(&[4, 3], &[1., 0., 0., 0., 1., 0., 0., 0., 1., 1., 1., 1.]); // transB -> 3x4
    let c = f32t(&[4], &[1., 2., 3., 4.]);
    let at = attrs(&[("transA", int(1)), ("transB", int(1)), ("alpha", float(2.0)), ("beta", float(0.5))]);
    let out = eval1(&GEMM, &[a, b, c], &at);
    // A' = [[0,2,4],[1,3,5]]; A'B' = [[0,2,4,6],[1,3,5,9]].
    assert_eq!(out.shape, vec![2, 4]);
    assert_eq!(vals(&out), vec![0.5, 5., 9.5, 14., 2.5, 7., 11.5, 20.]);
    let scalar_c = eval1(&GEMM, &[iota(&[1, 2]), iota(&[2, 1]), f32t(&[], &[10.])], &Attrs::new());
    assert_eq!(vals(&scalar_c), vec![11.]);
    let no_c = eval1(&GEMM, &[iota(&[1, 2]), iota(&[2, 1])], &attrs(&[("alpha", float(3.0))]));
    assert_eq!(vals(&no_c), vec![3.]);
}

#[test]
fn gemm_infers_and_checks() {
    let tb = attrs(&[("transB", int(1))]);
    let args = [Arg::Ty(f32ty("[b]x768")), Arg::Ty(f32ty("1000x768")), Arg::Ty(f32ty("1000"))];
    assert_eq!(infer1(&GEMM, &args, &tb), "tensor<[b]x1000xf32>");
    let args = [Arg::Ty(f32ty("2x768")), Arg::Ty(f32ty("1000x768")), Arg::Ty(f32ty("3"))];
    infer_err(&GEMM, &args, &tb, "does not broadcast");
    let args = [Arg::Ty(f32ty("2x768")), Arg::Ty(f32ty("1000x768"))];
    infer_err(&GEMM, &args, &Attrs::new(), "contraction dims differ");
    let args = [Arg::Ty(f32ty("2x3x4")), Arg::Ty(f32ty("4x2"))];
    infer_err(&GEMM, &args, &Attrs::new(), "must be 2-D");
    let args = [Arg::Ty(f32ty("2x4")), Arg::Ty(f32ty("4x2")), Arg::Ty(f32ty("2")), Arg::Ty(f32ty("2"))];
    infer_err(&GEMM, &args, &Attrs::new(), "at most 3");
}
