//! Tests of the ideal quantized nonlinear ops: their values on small
//! inputs, and the checks of operands, attributes and result types.

use super::*;
use crate::attr::Attribute;
use crate::tensor::TensorData;
use crate::types::{QuantInt, QuantParams};

fn quant(width: u8, signed: bool, scale: f64, zp: i64) -> ElemType {
    ElemType::Quant(Box::new(QuantInt { width, signed, params: QuantParams::PerTensor { scale, zp } }))
}

fn qtensor(elem: ElemType, shape: &[u64], q: &[i64]) -> Tensor {
    Tensor { elem, shape: shape.to_vec(), data: TensorData::Int(q.to_vec()) }
}

fn ty(elem: ElemType, shape: &[u64]) -> Type {
    TensorType::fixed(shape, elem).into()
}

fn attrs(entries: &[(&str, Attribute)]) -> Attrs {
    entries.iter().map(|(k, v)| (k.to_string(), v.clone())).collect()
}

fn run(def: &OpDef, ops: &[Tensor], attrs: &Attrs, result: Type) -> Vec<i64> {
    let out = def.eval.unwrap()(ops, attrs, &[result]).unwrap_or_else(|e| panic!("{}: {e}", def.name));
    match &out[0].data {
        TensorData::Int(v) => v.clone(),
        other => panic!("not integers: {other:?}"),
    }
}

fn check(def: &OpDef, operands: &[Type], result: &Type, attrs: &Attrs) -> Result<(), String> {
    let refs: Vec<&Type> = operands.iter().collect();
    let info = OpInfo::new(&refs, attrs);
    def.verify.unwrap()(&info)?;
    def.verify_results.unwrap()(&info, &[result])
}

#[test]
fn softmax_is_the_quantized_float_softmax() {
    let x = qtensor(quant(8, true, 0.5, 0), &[2, 2], &[0, 0, 4, 0]);
    let a = attrs(&[("axis", Attribute::Int(-1))]);
    let out = run(&SOFTMAX, &[x], &a, ty(quant(8, false, 1.0 / 255.0, 0), &[2, 2]));
    // Row 1: e^2 / (e^2 + 1) = 0.8808 -> 224.6 -> 225.
    assert_eq!(out, vec![128, 128, 225, 30]);
}

#[test]
fn gelu_forms_and_zero_points() {
    let x = qtensor(quant(8, true, 0.25, 4), &[3], &[4, 8, -4]);
    let out = run(&GELU, std::slice::from_ref(&x), &Attrs::new(), ty(quant(8, true, 0.01, -10), &[3]));
    // x = 0, 1, -2: gelu = 0, 0.8413, -0.0455.
    assert_eq!(out, vec![-10, 74, -15]);
    let tanh = attrs(&[("approximate", Attribute::Str("tanh".into()))]);
    assert_eq!(run(&GELU, &[x], &tanh, ty(quant(8, true, 0.01, -10), &[3])), vec![-10, 74, -15]);
}

#[test]
fn elementwise_functions_saturate_and_map_nan_to_the_zero_point() {
    let x = qtensor(quant(8, true, 1.0, 0), &[4], &[-1, 0, 4, 100]);
    let u8q = |s| ty(quant(8, false, s, 0), &[4]);
    assert_eq!(run(&SQRT, std::slice::from_ref(&x), &Attrs::new(), u8q(0.125)), vec![0, 0, 16, 80]);
    assert_eq!(run(&EXP, std::slice::from_ref(&x), &Attrs::new(), u8q(0.5)), vec![1, 2, 109, 255]);
    assert_eq!(run(&RECIPROCAL, std::slice::from_ref(&x), &Attrs::new(), u8q(0.01)), vec![0, 255, 25, 1]);
    assert_eq!(run(&RSQRT, std::slice::from_ref(&x), &Attrs::new(), u8q(0.01)), vec![0, 255, 50, 10]);
    assert_eq!(run(&SIGMOID, std::slice::from_ref(&x), &Attrs::new(), u8q(1.0 / 256.0)), vec![69, 128, 251, 255]);
    let s8 = ty(quant(8, true, 1.0 / 64.0, 0), &[4]);
    assert_eq!(run(&TANH, std::slice::from_ref(&x), &Attrs::new(), s8.clone()), vec![-49, 0, 64, 64]);
    assert_eq!(run(&SILU, &[x], &Attrs::new(), s8), vec![-17, 0, 127, 127]);
}

#[test]
fn layer_norm_applies_float_scale_and_bias() {
    let x = qtensor(quant(8, true, 0.5, 0), &[2, 2], &[2, 6, -4, -4]);
    let scale = Tensor { elem: ElemType::F32, shape: vec![2], data: TensorData::F32(vec![2.0, 1.0]) };
    let bias = Tensor { elem: ElemType::F32, shape: vec![], data: TensorData::F32(vec![0.5]) };
    let a = attrs(&[("axis", Attribute::Int(1)), ("epsilon", Attribute::Float(0.0))]);
    let out = run(&LAYER_NORM, &[x, scale, bias], &a, ty(quant(8, true, 0.25, 0), &[2, 2]));
    // Row 0: (-1, 1) -> (-1.5, 1.5); row 1 has no variance: 0/0 is NaN -> zero point.
    assert_eq!(out, vec![-6, 6, 0, 0]);
}

#[test]
fn operands_attributes_and_results_are_checked() {
    let q8 = quant(8, true, 0.1, 0);
    let x = ty(q8.clone(), &[4, 8]);
    let axis = attrs(&[("axis", Attribute::Int(-1))]);
    assert_eq!(check(&SOFTMAX, std::slice::from_ref(&x), &x, &axis), Ok(()));
    let f = ty(ElemType::F32, &[4, 8]);
    let e = check(&SOFTMAX, std::slice::from_ref(&f), &x, &axis).unwrap_err();
    assert_eq!(e, "operand #0 must have a !quant.int element type, got f32");
    let e = check(&SOFTMAX, std::slice::from_ref(&x), &f, &axis).unwrap_err();
    assert_eq!(e, "result #0 must have a !quant.int element type, got f32");
    let e = check(&SOFTMAX, std::slice::from_ref(&x), &ty(q8.clone(), &[4]), &axis).unwrap_err();
    assert!(e.starts_with("result #0 must have the shape of tensor<4x8x"), "{e}");
    let e = check(&SOFTMAX, std::slice::from_ref(&x), &x, &attrs(&[("axis", Attribute::Int(2))])).unwrap_err();
    assert_eq!(e, "axis 2 is out of range for rank 2");
    let fast = attrs(&[("approximate", Attribute::Str("fast".into()))]);
    assert!(check(&GELU, std::slice::from_ref(&x), &x, &fast).unwrap_err().contains("must be one of"));
    let ln = attrs(&[("axis", Attribute::Int(-1)), ("epsilon", Attribute::Float(-1.0))]);
    let p = ty(ElemType::F32, &[8]);
    let e = check(&LAYER_NORM, &[x.clone(), p.clone(), p.clone()], &x, &ln).unwrap_err();
    assert_eq!(e, "'epsilon' must be >= 0, got -1");
    let ln = attrs(&[("axis", Attribute::Int(-1)), ("epsilon", Attribute::Float(1e-5))]);
    let wide = ty(ElemType::F32, &[2, 4, 8]);
    let e = check(&LAYER_NORM, &[x.clone(), wide, p], &x, &ln).unwrap_err();
    assert_eq!(e, "operand #1 of type tensor<2x4x8xf32> does not broadcast to the input's shape tensor<4x8x!quant.int<w=8, signed, scale=0.1, zp=0>>");
}
