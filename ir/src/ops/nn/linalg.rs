//! `nn.matmul`: the batched matrix product, with numpy broadcasting of the
//! batch dims.
//!
//! Invariant: both operands have rank >= 2 (vectors are reshaped to
//! matrices by whoever builds the op), one float or integer element type.
//! f32 and f64 products are fma chains in k order (see the description):
//! every engine computes them to the bit.

use super::arith::{BINARY, ONE_RESULT};
use super::common::{numeric_operand, one, same_elem};
use crate::ops::eval;
use crate::ops::shape::matmul_shape;
use crate::ops::{OpDef, Trait};

pub const MATMUL: OpDef = OpDef {
    name: "nn.matmul",
    summary: "Batched matrix product [..., m, k] x [..., k, n] -> [..., m, n]",
    description: "numpy `matmul` for operands of rank >= 2 with one float or integer element \
type: the batch dims (all but the last two) broadcast.\n\n\
Rounding is part of the op: for f32 (f64) each output element is a chain of fused \
multiply-adds in f32 (f64), `acc = +0.0`, then `acc = fma(a[i, p], b[p, j], acc)` for `p` \
ascending, so the result does not depend on how an engine vectorizes or blocks the product \
(`k = 0` gives `+0.0`). f16 and bf16 accumulate in f64 and round once per output element. \
Integers accumulate with wrapping and wrap to the element width.\n\n\
```\n%2 = nn.matmul %0, %1 : (tensor<1x128x384xf32>, tensor<384x384xf32>) -> tensor<1x128x384xf32>\n```",
    operands: BINARY,
    results: ONE_RESULT,
    traits: &[Trait::Pure],
    infer: Some(|info| {
        let (a, b) = (numeric_operand(info, 0)?, numeric_operand(info, 1)?);
        same_elem(a, b)?;
        Ok(one(matmul_shape(&a.dims, &b.dims)?, a.elem.clone()))
    }),
    eval: Some(|ops, _, _| Ok(vec![eval::matmul(&ops[0], &ops[1])?])),
    ..OpDef::DEFAULT
};

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;
    use crate::module::Attrs;
    use crate::tensor::{Tensor, TensorData};
    use crate::types::ElemType;

    #[test]
    fn matmul_broadcasts_batches() {
        let a = f32s(&[2, 1, 2], &[1., 2., 3., 4.]);
        let b = f32s(&[2, 1], &[10., 100.]);
        assert_eq!(run(&MATMUL, &[a, b], &Attrs::new()), f32s(&[2, 1, 1], &[210., 430.]));
        let e = infer(&MATMUL, &[f32_type(&[2, 3]), f32_type(&[4, 5])], &Attrs::new()).unwrap_err();
        assert_eq!(e, "contraction dimensions differ: 3 (lhs) vs 4 (rhs)");
        let e = infer(&MATMUL, &[f32_type(&[3]), f32_type(&[3, 5])], &Attrs::new()).unwrap_err();
        assert!(e.contains("rank >= 2"), "{e}");
    }

    #[test]
    fn f32_matmul_is_an_fma_chain_in_k_order() {
        let x = 1.0 + 2f32.powi(-12);
        let y = 1.0 + 2f32.powi(-11);
        // x*x = 1 + 2^-11 + 2^-24 is not an f32; one fma keeps it until the
        // sum rounds: -y + x*x = 2^-24 exactly.
        let a = f32s(&[1, 2], &[-1.0, x]);
        let b = f32s(&[2, 1], &[y, x]);
        assert_eq!(run(&MATMUL, &[a, b], &Attrs::new()), f32s(&[1, 1], &[2f32.powi(-24)]));
        // In the other order the f32 accumulator rounds x*x (a tie, to even
        // 1 + 2^-11) before y is subtracted; an f64 sum would keep 2^-24.
        let a = f32s(&[1, 2], &[x, -1.0]);
        let b = f32s(&[2, 1], &[x, y]);
        assert_eq!(run(&MATMUL, &[a, b], &Attrs::new()), f32s(&[1, 1], &[0.0]));
        // k = 0: +0.0.
        let out = run(&MATMUL, &[f32s(&[2, 0], &[]), f32s(&[0, 1], &[])], &Attrs::new());
        assert_eq!(out, f32s(&[2, 1], &[0.0, 0.0]));
        let f64s = |v: &[f64]| Tensor { elem: ElemType::F64, shape: vec![1, 2], data: TensorData::F64(v.to_vec()) };
        let col = |v: &[f64]| Tensor { elem: ElemType::F64, shape: vec![2, 1], data: TensorData::F64(v.to_vec()) };
        let (x, y) = (1.0 + 2f64.powi(-27), 1.0 + 2f64.powi(-26));
        let out = run(&MATMUL, &[f64s(&[-1.0, x]), col(&[y, x])], &Attrs::new());
        assert_eq!(out.data, TensorData::F64(vec![2f64.powi(-54)]));
    }
}
