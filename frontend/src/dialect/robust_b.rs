//! Adversarial inputs to the second group's ops: huge or degenerate
//! shapes and attributes give errors or empty results quickly, never a
//! panic, an abort on allocation or a practically endless loop.

use super::testing_b::*;
use super::{conv, einsum, linalg, resize, shape, slice};
use weft_ir::tensor::{Tensor, TensorData};
use weft_ir::types::ElemType;
use weft_ir::Attrs;

/// An f32 tensor of `shape` that holds no elements.
fn empty_of(shape: &[u64]) -> Tensor {
    Tensor { elem: ElemType::F32, shape: shape.to_vec(), data: TensorData::F32(Vec::new()) }
}

#[test]
fn empty_tensors_with_huge_dims_stay_cheap() {
    let big = 1u64 << 40;
    let out = eval1(&slice::CONCAT, &[empty_of(&[big, 0]), empty_of(&[big, 0])], &attrs(&[("axis", int(1))]));
    assert_eq!(out.shape, vec![big, 0]);
    let conv = eval1(&conv::CONV, &[empty_of(&[big, 1, 0]), f32t(&[1, 1, 1], &[1.0])], &Attrs::new());
    assert_eq!(conv.shape, vec![big, 1, 0]);
    let resized =
        eval1(&resize::RESIZE, &[empty_of(&[big, 0]), f32t(&[0], &[]), f32t(&[2], &[1.0, 2.0])], &Attrs::new());
    assert_eq!(resized.shape, vec![big, 0]);
    let mm = eval(&linalg::MATMUL, &[empty_of(&[big, 0, 2]), f32t(&[2, 3], &[0.0; 6])], &Attrs::new());
    assert!(mm.unwrap_err().contains("too large"));
}

#[test]
fn huge_attributes_and_shape_operands_are_errors() {
    let strides = attrs(&[("strides", int_list(&[1 << 62])), ("pads", int_list(&[1 << 62, 0]))]);
    let r = eval(&conv::CONV_TRANSPOSE, &[f32t(&[1, 1, 3], &[1., 2., 3.]), f32t(&[1, 1, 1], &[1.])], &strides);
    assert!(r.unwrap_err().contains("too large"));
    let args = [Arg::Ty(f32ty("2x3")), Arg::Ty(ty("100000", ElemType::I64))];
    infer_err(&shape::RESHAPE, &args, &Attrs::new(), "at most 4096");
    infer_err(
        &slice::SPLIT,
        &[Arg::Ty(f32ty("4"))],
        &attrs(&[("num_outputs", int(1 << 40))]),
        "'num_outputs' must be in",
    );
    let long = f32t(&[1 << 17], &vec![1.0; 1 << 17]);
    let r = eval(&einsum::EINSUM, &[long.clone(), long], &attrs(&[("equation", string("i,j->"))]));
    assert!(r.unwrap_err().contains("steps"));
}
