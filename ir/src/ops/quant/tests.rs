//! Unit tests of the quant ops: reference semantics on hand-checked values,
//! the integer programs against exact i128 arithmetic, and the result
//! checks' messages.

use super::common::FixedMultiplier;
use super::*;
use crate::module::Attrs;
use crate::ops::{OpDef, OpInfo, Trait};
use crate::tensor::{Tensor, TensorData};
use crate::types::{ElemType, QuantBin, QuantInt, QuantParams, TensorType, Type};

fn qint(width: u8, signed: bool, scale: f64, zp: i64) -> ElemType {
    ElemType::Quant(Box::new(QuantInt { width, signed, params: QuantParams::PerTensor { scale, zp } }))
}

fn qchan(width: u8, axis: u32, scales: &[f64]) -> ElemType {
    let params = QuantParams::PerChannel { axis, scales: scales.to_vec(), zps: vec![0; scales.len()] };
    ElemType::Quant(Box::new(QuantInt { width, signed: true, params }))
}

fn ints(elem: ElemType, shape: &[u64], v: &[i64]) -> Tensor {
    Tensor { elem, shape: shape.to_vec(), data: TensorData::Int(v.to_vec()) }
}

fn f32s(shape: &[u64], v: &[f32]) -> Tensor {
    Tensor { elem: ElemType::F32, shape: shape.to_vec(), data: TensorData::F32(v.to_vec()) }
}

fn ty(elem: &ElemType, shape: &[u64]) -> Type {
    Type::Tensor(TensorType::fixed(shape, elem.clone()))
}

/// Runs `op` on `operands` with the declared result type `result`, after
/// its result check accepted the types.
fn run(op: &OpDef, operands: &[Tensor], result: Type) -> Tensor {
    check(op, operands.iter().map(|t| Type::Tensor(t.ty())).collect(), result.clone()).unwrap();
    let eval = op.eval.unwrap();
    eval(operands, &Attrs::new(), &[result]).unwrap().remove(0)
}

fn check(op: &OpDef, operands: Vec<Type>, result: Type) -> Result<(), String> {
    let refs: Vec<&Type> = operands.iter().collect();
    let attrs = Attrs::new();
    (op.verify_results.unwrap())(&OpInfo::new(&refs, &attrs), &[&result])
}

fn stored(t: &Tensor) -> Vec<i64> {
    match &t.data {
        TensorData::Int(v) => v.clone(),
        other => panic!("expected integers, got {other:?}"),
    }
}

#[test]
fn every_op_is_documented_checked_and_executable() {
    for op in DIALECT.ops {
        assert!(op.name.starts_with("quant."), "{}", op.name);
        assert!(!op.summary.is_empty() && op.description.contains("```"), "{} needs docs and an example", op.name);
        assert!(op.verify_results.is_some() && op.eval.is_some(), "{} needs a result check and eval", op.name);
        assert!(op.infer.is_none(), "{}: quant result types are declared", op.name);
        assert!(op.has_trait(Trait::Pure), "{} is pure", op.name);
    }
    let mut names: Vec<&str> = DIALECT.ops.iter().map(|o| o.name).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), DIALECT.ops.len(), "op names are unique");
}

#[test]
fn quantize_per_tensor_and_per_channel() {
    let x = f32s(&[2, 3], &[0.25, -0.75, 100.0, 0.5, 1.0, -1.0]);
    let q8 = qint(8, true, 0.5, 1);
    let y = run(&QUANTIZE, std::slice::from_ref(&x), ty(&q8, &[2, 3]));
    assert_eq!(stored(&y), vec![1, -1, 127, 2, 3, -1], "0.5 -> 0 and -1.5 -> -2 (half to even), 200 saturates");
    let per_row = qchan(4, 0, &[0.5, 0.25]);
    let y = run(&QUANTIZE, std::slice::from_ref(&x), ty(&per_row, &[2, 3]));
    assert_eq!(stored(&y), vec![0, -2, 7, 2, 4, -4]);
    let bin = ElemType::Bin(Box::new(QuantBin::PerTensor { scale: 0.3 }));
    let y = run(&QUANTIZE, &[x], ty(&bin, &[2, 3]));
    assert_eq!(stored(&y), vec![1, 0, 1, 1, 1, 0]);
}

#[test]
fn dequantize_inverts_quantize_within_half_a_step() {
    let x = f32s(&[5], &[-1.0, -0.33, 0.0, 0.4, 1.27]);
    let q = qint(8, false, 0.01, 128);
    let y = run(&QUANTIZE, std::slice::from_ref(&x), ty(&q, &[5]));
    let back = run(&DEQUANTIZE, &[y], ty(&ElemType::F32, &[5]));
    let TensorData::F32(v) = back.data else { panic!() };
    assert_eq!(v, vec![-1.0, -0.33, 0.0, 0.4, 1.27]);
    let bin = ElemType::Bin(Box::new(QuantBin::PerChannel { axis: 0, scales: vec![0.5, 2.0] }));
    let back = run(&DEQUANTIZE, &[ints(bin, &[2], &[0, 1])], ty(&ElemType::F32, &[2]));
    assert_eq!(back.data, TensorData::F32(vec![-0.5, 2.0]));
}

/// `floor((v - zp_in) * m / 2^n + 1/2) + zp_out`, saturated, in i128.
fn requantize_exact(v: i64, zin: i64, zout: i64, f: FixedMultiplier, (lo, hi): (i64, i64)) -> i64 {
    let p = i128::from(v - zin) * i128::from(f.m);
    let r = if f.shift == 0 { p } else { (p + (1i128 << (f.shift - 1))) >> f.shift };
    (r + i128::from(zout)).clamp(lo.into(), hi.into()) as i64
}

#[test]
fn requantize_matches_exact_arithmetic() {
    let mut seed = 0x2545f4914f6cdd1du64;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for _ in 0..200 {
        let scale_in = 1e-6 * (1 + next() % 100_000) as f64;
        let scale_out = 1e-3 * (1 + next() % 1000) as f64;
        let zout = (next() % 256) as i64 - 128;
        let qin = qint(32, true, scale_in, 0);
        let qout = qint(8, true, scale_out, zout);
        let values: Vec<i64> = (0..16).map(|_| (next() % (1 << 32)) as i64 - (1 << 31)).collect();
        let y = run(&REQUANTIZE, &[ints(qin, &[16], &values)], ty(&qout, &[16]));
        let f = FixedMultiplier::new(scale_in / scale_out).unwrap();
        let want: Vec<i64> = values.iter().map(|&v| requantize_exact(v, 0, zout, f, (-128, 127))).collect();
        assert_eq!(stored(&y), want);
    }
}

#[test]
fn requantize_rounds_ties_up_and_handles_channels() {
    // r = 0.5: 3 -> 1.5 -> 2, -3 -> -1.5 -> -1, 5 -> 2.5 -> 3.
    let y = run(&REQUANTIZE, &[ints(qint(8, true, 1.0, 0), &[3], &[3, -3, 5])], ty(&qint(8, true, 2.0, 0), &[3]));
    assert_eq!(stored(&y), vec![2, -1, 3]);
    let acc = qchan(32, 1, &[0.01, 0.001]);
    let y = run(&REQUANTIZE, &[ints(acc, &[2, 2], &[100, 100, -250, 2500])], ty(&qint(8, false, 0.1, 10), &[2, 2]));
    assert_eq!(stored(&y), vec![20, 11, 0, 35], "-1.5 saturates to 0");
}

#[test]
fn qmatmul_with_zero_points_bias_and_saturation() {
    // a = [[1, 2], [3, 4]] stored with zp 1: [[2, 3], [4, 5]].
    let a = ints(qint(8, true, 0.5, 1), &[2, 2], &[2, 3, 4, 5]);
    let b = ints(qchan(8, 1, &[0.25, 0.125]), &[2, 2], &[1, -1, 2, 3]);
    let acc = qchan(32, 1, &[0.125, 0.0625]);
    let y = run(&QMATMUL, &[a.clone(), b.clone()], ty(&acc, &[2, 2]));
    assert_eq!(stored(&y), vec![5, 5, 11, 9]);
    let bias = ints(qchan(32, 0, &[0.125, 0.0625]), &[2], &[100, -100]);
    let y = run(&QMATMUL, &[a.clone(), b.clone(), bias], ty(&acc, &[2, 2]));
    assert_eq!(stored(&y), vec![105, -95, 111, -91]);
    let narrow = qchan(4, 1, &[0.125, 0.0625]);
    let y = run(&QMATMUL, &[a, b], ty(&narrow, &[2, 2]));
    assert_eq!(stored(&y), vec![5, 5, 7, 7], "saturates to 4 bits");
}

#[test]
fn qmatmul_with_binary_weights_adds_and_subtracts() {
    let a = ints(qint(8, true, 0.5, 0), &[1, 1, 3], &[1, 2, 3]);
    let bits = ElemType::Bin(Box::new(QuantBin::PerChannel { axis: 1, scales: vec![0.25, 0.125] }));
    let b = ints(bits, &[3, 2], &[1, 0, 0, 0, 1, 1]);
    let y = run(&QMATMUL, &[a, b], ty(&qchan(32, 2, &[0.125, 0.0625]), &[1, 1, 2]));
    assert_eq!(stored(&y), vec![1 - 2 + 3, -1 - 2 + 3]);
}

#[test]
fn qmatmul_broadcasts_batches() {
    let a = ints(qint(8, true, 1.0, 0), &[2, 1, 2], &[1, 2, 3, 4]);
    let b = ints(qint(8, true, 1.0, 0), &[2, 1], &[10, 100]);
    let y = run(&QMATMUL, &[a, b], ty(&qint(32, true, 1.0, 0), &[2, 1, 1]));
    assert_eq!(stored(&y), vec![210, 430]);
}

#[test]
fn qmatmul_result_checks() {
    let a = ty(&qint(8, true, 0.5, 0), &[2, 4]);
    let b = ty(&qchan(8, 1, &[0.25, 0.5]), &[4, 2]);
    let e = check(&QMATMUL, vec![a.clone(), b.clone()], ty(&qint(32, true, 0.125, 0), &[2, 2])).unwrap_err();
    assert_eq!(e, "the result must be quantized per channel (b is)");
    let e = check(&QMATMUL, vec![a.clone(), b.clone()], ty(&qchan(32, 1, &[0.125, 0.2]), &[2, 2])).unwrap_err();
    assert_eq!(e, "the result scale must be the product of the operand scales, 2.5e-1, got 2e-1 (channel 1)");
    let rows = ty(&qchan(8, 0, &[0.25, 0.5, 1.0, 1.0]), &[4, 2]);
    let e = check(&QMATMUL, vec![a.clone(), rows], ty(&qint(32, true, 0.125, 0), &[2, 2])).unwrap_err();
    assert_eq!(e, "operand #1 (b) may be per channel only along its last axis (1), got axis 0");
    let wide = ty(&qint(17, true, 0.5, 0), &[2, 4]);
    let e = check(&QMATMUL, vec![wide, b.clone()], ty(&qchan(32, 1, &[0.125, 0.25]), &[2, 2])).unwrap_err();
    assert_eq!(e, "operand #0 (a) must have at most 16 bits, got 17");
    let e = check(&QMATMUL, vec![a.clone(), b.clone()], ty(&qchan(32, 1, &[0.125, 0.25]), &[2, 3])).unwrap_err();
    assert!(e.contains("shapes differ"), "{e}");
    let unsigned = ElemType::Quant(Box::new(QuantInt {
        width: 32,
        signed: false,
        params: QuantParams::PerChannel { axis: 1, scales: vec![0.125, 0.25], zps: vec![0, 0] },
    }));
    let e = check(&QMATMUL, vec![a, b], ty(&unsigned, &[2, 2])).unwrap_err();
    assert_eq!(e, "result #0 must be a signed accumulator with zero point 0");
}

#[test]
fn qadd_and_qmul_stay_within_one_step_of_the_reals() {
    let (qa, qb, qy) = (qint(8, true, 0.1, 3), qint(8, false, 0.05, 128), qint(8, true, 0.2, -5));
    let av: Vec<i64> = (-128..128).step_by(7).collect();
    let bv: Vec<i64> = (0..256).step_by(7).take(av.len()).collect();
    let n = av.len() as u64;
    let a = ints(qa, &[n], &av);
    let b = ints(qb, &[n], &bv);
    let sum = stored(&run(&QADD, &[a.clone(), b.clone()], ty(&qy, &[n])));
    let prod = stored(&run(&QMUL, &[a, b], ty(&qy, &[n])));
    for i in 0..av.len() {
        let (x, y) = (0.1 * (av[i] - 3) as f64, 0.05 * (bv[i] - 128) as f64);
        let real_sum = ((x + y) / 0.2 - 5.0).clamp(-128.0, 127.0);
        let real_prod = ((x * y) / 0.2 - 5.0).clamp(-128.0, 127.0);
        assert!((sum[i] as f64 - real_sum).abs() <= 0.5 + 1e-9, "{x} + {y}: {} vs {real_sum}", sum[i]);
        assert!((prod[i] as f64 - real_prod).abs() <= 0.5 + 1e-9, "{x} * {y}: {} vs {real_prod}", prod[i]);
    }
}

#[test]
fn qmul_by_an_exact_constant_broadcasts() {
    let x = ints(qint(8, true, 0.5, 0), &[4], &[-4, -1, 1, 4]);
    let c = ints(qint(2, true, 0.25, 0), &[], &[-1]);
    let y = run(&QMUL, &[x, c], ty(&qint(8, true, 0.125, 0), &[4]));
    assert_eq!(stored(&y), vec![4, 1, -1, -4]);
}

#[test]
fn elementwise_result_checks() {
    let a = ty(&qint(8, true, 0.1, 0), &[4]);
    let per_channel = ty(&qchan(8, 0, &[0.1, 0.1, 0.1, 0.1]), &[4]);
    let e = check(&QADD, vec![a.clone(), per_channel], ty(&qint(8, true, 0.1, 0), &[4])).unwrap_err();
    assert_eq!(e, "operand #1 must be quantized per tensor");
    let e = check(&QADD, vec![a.clone(), a.clone()], ty(&qint(8, true, 1e12, 0), &[4])).unwrap_err();
    assert!(e.contains("outside the fixed-point range"), "{e}");
    let e = check(&QMUL, vec![a.clone(), a.clone()], ty(&qint(8, true, 0.1, 0), &[3])).unwrap_err();
    assert!(e.contains("shapes differ"), "{e}");
    let bad_zp = ty(&qint(8, true, 0.1, 200), &[4]);
    let e = check(&QMUL, vec![a.clone(), bad_zp], ty(&qint(8, true, 0.1, 0), &[4])).unwrap_err();
    assert_eq!(e, "operand #1: zero point 200 is outside the range [-128, 127] of its 8-bit integers");
}

#[test]
fn conversion_result_checks() {
    let f = ty(&ElemType::F32, &[4]);
    let q = ty(&qint(8, true, 0.1, 0), &[4]);
    assert_eq!(
        check(&QUANTIZE, vec![q.clone()], q.clone()).unwrap_err(),
        "operand #0 must have a float element type, got !quant.int<w=8, signed, scale=0.1, zp=0>"
    );
    assert_eq!(
        check(&DEQUANTIZE, vec![q.clone()], ty(&ElemType::I8, &[4])).unwrap_err(),
        "result #0 must have a float element type, got i8"
    );
    assert!(check(&QUANTIZE, vec![f.clone()], ty(&qint(8, true, 0.1, 0), &[5])).unwrap_err().contains("shapes differ"));
    assert!(check(&QUANTIZE, vec![f], ty(&qint(8, true, -0.1, 0), &[4])).unwrap_err().contains("positive"));
    assert!(check(&STORAGE_CAST, vec![ty(&ElemType::I8, &[4])], q.clone()).is_ok());
    assert!(check(&STORAGE_CAST, vec![q.clone()], ty(&ElemType::I8, &[4])).is_ok());
    assert_eq!(
        check(&STORAGE_CAST, vec![ty(&ElemType::Int { width: 8, signed: false }, &[4])], q.clone()).unwrap_err(),
        "the plain type must be i8 (the width and signedness of !quant.int<w=8, signed, scale=0.1, zp=0>), got u8"
    );
    assert!(check(&STORAGE_CAST, vec![q.clone()], q.clone()).unwrap_err().contains("plain integer"));
    let acc = ty(&qchan(32, 0, &[1e-3, 1e-3]), &[2]);
    let out = ty(&qchan(8, 0, &[0.1, 0.2, 0.3]), &[2]);
    assert!(check(&REQUANTIZE, vec![acc], out).unwrap_err().contains("share the axis and channel count"));
}
