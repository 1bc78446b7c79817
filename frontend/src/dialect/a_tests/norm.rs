use super::*;
use crate::dialect::a_common::test_support::*;
use weft_ir::Attribute;

fn axis(a: i64) -> Attrs {
    attrs(&[("axis", Attribute::Int(a))])
}

#[test]
fn softmax_and_log_softmax_match_the_numpy_reference() {
    let x = f64s(&[2, 3], &[1., 2., 3., 1000., 0., -1000.]);
    let out = eval1(&SOFTMAX, std::slice::from_ref(&x), &Attrs::new());
    assert_close(&out, &[0.09003057317038046, 0.24472847105479767, 0.6652409557748219, 1., 0., 0.], 1e-15);
    let log = eval1(&LOG_SOFTMAX, &[x], &Attrs::new());
    assert_close(&log, &[-2.4076059644443806, -1.4076059644443804, -0.4076059644443804, 0., -1000., -2000.], 1e-13);
}

#[test]
fn softmax_over_a_leading_axis() {
    let x = f32s(&[2, 2], &[0., 1., 0., 1.]);
    assert_eq!(eval1(&SOFTMAX, &[x], &axis(0)), f32s(&[2, 2], &[0.5, 0.5, 0.5, 0.5]));
    let h = f16s(&[2], &[0.0, 1.0]);
    let out = eval1(&SOFTMAX, &[h], &Attrs::new());
    let p1 = 1.0 / (1.0 + (-1f64).exp());
    assert_eq!(out, f16s(&[2], &[1.0 - p1, p1]));
    let empty = eval1(&SOFTMAX, &[f32s(&[2, 0], &[])], &Attrs::new());
    assert_eq!(empty.shape, vec![2, 0]);
}

#[test]
fn softmax_checks_axis_and_type() {
    let x = ty(&["batch", "4"], ElemType::F32);
    assert_eq!(infer(&SOFTMAX, &[&x], &axis(-2)).unwrap(), vec![x.clone()]);
    assert_eq!(
        infer(&LOG_SOFTMAX, &[&x], &axis(2)).unwrap_err(),
        "axis 2 is out of range for rank 2 (expected [-2, 1])"
    );
    let i = fixed(&[4], ElemType::I32);
    assert!(infer(&SOFTMAX, &[&i], &Attrs::new()).unwrap_err().contains("expected a float type"));
}

fn layer_norm_inputs() -> Vec<Tensor> {
    vec![
        f32s(&[2, 4], &[1., 2., 3., 4., 2., 2., 2., 2.]),
        f32s(&[4], &[1., 1., 2., 2.]),
        f32s(&[4], &[0., 0.5, 0., 0.5]),
    ]
}

#[test]
fn layer_normalization_normalizes_scales_and_shifts() {
    let out = eval(&LAYER_NORMALIZATION, &layer_norm_inputs(), &Attrs::new()).unwrap();
    assert_eq!(out.len(), 3);
    // numpy: mean 2.5, var 1.25 for row 0; row 1 is constant.
    assert_close(&out[0], &[-1.3416355, 0.0527882, 0.8944236, 3.183271, 0., 0.5, 0., 0.5], 1e-6);
    let eps = 1e-5f32 as f64;
    let n0 = ((1.0 - 2.5) / (1.25 + eps).sqrt()) as f32;
    assert_eq!(values(&out[0])[0], n0 as f64);
    assert_eq!(out[1], f32s(&[2, 1], &[2.5, 2.]));
    assert_eq!(out[2], f32s(&[2, 1], &[(1.0 / (1.25 + eps).sqrt()) as f32, (1.0 / eps.sqrt()) as f32]));
}

#[test]
fn layer_normalization_returns_as_many_results_as_declared() {
    let ops = layer_norm_inputs();
    let declared = [fixed(&[2, 4], ElemType::F32)];
    let out = (LAYER_NORMALIZATION.eval.unwrap())(&ops[..2], &Attrs::new(), &declared).unwrap();
    assert_eq!(out.len(), 1);
    assert_close(&out[0], &[-1.3416355, -0.4472118, 0.8944236, 2.683271, 0., 0., 0., 0.], 1e-6);
}

#[test]
fn layer_normalization_over_several_axes() {
    let x = f64s(&[1, 2, 2], &[1., 3., 5., 7.]);
    let s = f64s(&[], &[1.]);
    let a =
        attrs(&[("axis", Attribute::Int(1)), ("epsilon", Attribute::Float(0.0)), ("stash_type", Attribute::Int(11))]);
    let out = eval(&LAYER_NORMALIZATION, &[x, s], &a).unwrap();
    let k = 1.0 / 5f64.sqrt();
    assert_close(&out[0], &[-3. * k, -k, k, 3. * k], 1e-15);
    assert_eq!(out[1], f64s(&[1, 1, 1], &[4.]));
}

#[test]
fn layer_normalization_types() {
    let x = ty(&["batch", "seq", "768"], ElemType::F16);
    let s = fixed(&[768], ElemType::F16);
    let r = infer(&LAYER_NORMALIZATION, &[&x, &s, &s], &Attrs::new()).unwrap();
    let stat = ty(&["batch", "seq", "1"], ElemType::F32);
    assert_eq!(r, vec![x.clone(), stat.clone(), stat]);
    let bf = attrs(&[("stash_type", Attribute::Int(16)), ("axis", Attribute::Int(3))]);
    let r = infer(&LAYER_NORMALIZATION, &[&x, &s], &bf).unwrap();
    assert_eq!(r[1], ty(&["batch", "seq", "768"], ElemType::BF16));
    let err = infer(&LAYER_NORMALIZATION, &[&x, &s], &axis(4)).unwrap_err();
    assert_eq!(err, "axis 4 is out of range for rank 3 (expected [-3, 3])");
    let wrong = fixed(&[512], ElemType::F16);
    let err = infer(&LAYER_NORMALIZATION, &[&x, &wrong], &Attrs::new()).unwrap_err();
    assert_eq!(err, "operand #1 (Scale) of type tensor<512xf16> does not broadcast to X's shape [[batch], [seq], 768]");
    let f32s_ = fixed(&[768], ElemType::F32);
    assert!(infer(&LAYER_NORMALIZATION, &[&x, &f32s_], &Attrs::new()).unwrap_err().contains("has element type f32"));
    let int_stash = attrs(&[("stash_type", Attribute::Int(7))]);
    assert!(infer(&LAYER_NORMALIZATION, &[&x, &s], &int_stash).unwrap_err().contains("must name a float type"));
}

fn bn_params(v: [&[f32]; 4]) -> Vec<Tensor> {
    v.iter().map(|p| f32s(&[p.len() as u64], p)).collect()
}

#[test]
fn batch_normalization_uses_the_given_statistics() {
    let x = f32s(&[1, 2, 1, 2], &[1., 2., 3., 4.]);
    let mut ops = vec![x];
    ops.extend(bn_params([&[1., 2.], &[0., 1.], &[1., 3.], &[1., 4.]]));
    let eps0 = attrs(&[("epsilon", Attribute::Float(0.0))]);
    assert_eq!(eval1(&BATCH_NORMALIZATION, &ops, &eps0), f32s(&[1, 2, 1, 2], &[0., 1., 1., 2.]));
    let with_eps = eval1(&BATCH_NORMALIZATION, &ops, &Attrs::new());
    let eps = 1e-5f32 as f64;
    assert_eq!(values(&with_eps)[1], (1.0 / (1.0 + eps).sqrt()) as f32 as f64);
}

#[test]
fn batch_normalization_in_training_mode_uses_the_batch_statistics() {
    let x = f32s(&[1, 2, 1, 2], &[1., 2., 3., 4.]);
    let mut ops = vec![x];
    ops.extend(bn_params([&[1., 2.], &[0., 1.], &[1., 3.], &[1., 4.]]));
    let a = attrs(&[
        ("epsilon", Attribute::Float(0.0)),
        ("momentum", Attribute::Float(0.5)),
        ("training_mode", Attribute::Int(1)),
    ]);
    // Channel 0 holds [1, 2] (mean 1.5, variance 0.25), channel 1 [3, 4].
    let declared = [fixed(&[1, 2, 1, 2], ElemType::F32), fixed(&[2], ElemType::F32), fixed(&[2], ElemType::F32)];
    let out = (BATCH_NORMALIZATION.eval.unwrap())(&ops, &a, &declared).unwrap();
    assert_eq!(out[0], f32s(&[1, 2, 1, 2], &[-1., 1., -1., 3.]));
    assert_eq!(out[1], f32s(&[2], &[1.25, 3.25]));
    assert_eq!(out[2], f32s(&[2], &[0.625, 2.125]));
    let only_y = (BATCH_NORMALIZATION.eval.unwrap())(&ops, &a, &declared[..1]).unwrap();
    assert_eq!(only_y, out[..1].to_vec());
}

#[test]
fn batch_normalization_types() {
    let x = ty(&["n", "3", "8", "8"], ElemType::F32);
    let p = fixed(&[3], ElemType::F32);
    let ps = [&x, &p, &p, &p, &p];
    assert_eq!(infer(&BATCH_NORMALIZATION, &ps, &Attrs::new()).unwrap(), vec![x.clone()]);
    let training = attrs(&[("training_mode", Attribute::Int(1))]);
    let h3 = fixed(&[3], ElemType::F16);
    let stats = infer(&BATCH_NORMALIZATION, &[&x, &p, &p, &h3, &h3], &training).unwrap();
    assert_eq!(stats, vec![x.clone(), h3.clone(), h3.clone()]);
    let bad_mode = attrs(&[("training_mode", Attribute::Int(2))]);
    assert_eq!(
        infer(&BATCH_NORMALIZATION, &ps, &bad_mode).unwrap_err(),
        "attribute 'training_mode' must be 0 or 1, got 2"
    );
    let q = fixed(&[4], ElemType::F32);
    let err = infer(&BATCH_NORMALIZATION, &[&x, &p, &p, &q, &p], &Attrs::new()).unwrap_err();
    assert_eq!(err, "operand #3 (input_mean) must be 1-D with 3 elements (the channels of X), got tensor<4xf32>");
    let h = fixed(&[3], ElemType::F16);
    assert!(infer(&BATCH_NORMALIZATION, &[&x, &h, &h, &p, &p], &Attrs::new()).is_ok());
    assert!(infer(&BATCH_NORMALIZATION, &[&x, &h, &p, &p, &p], &Attrs::new()).is_err());
    let x1 = fixed(&[5], ElemType::F32);
    let p1 = fixed(&[1], ElemType::F32);
    assert!(infer(&BATCH_NORMALIZATION, &[&x1, &p1, &p1, &p1, &p1], &Attrs::new()).is_ok());
}
