//! `nn.matmul`: the batched matrix product, with numpy broadcasting of the
//! batch dims.
//!
//! Invariant: both operands have rank >= 2 (vectors are reshaped to
//! matrices by whoever builds the op), one float or integer element type.

use super::arith::{BINARY, ONE_RESULT};
use super::common::{numeric_operand, one, same_elem};
use crate::ops::eval;
use crate::ops::shape::matmul_shape;
use crate::ops::{OpDef, Trait};

pub const MATMUL: OpDef = OpDef {
    name: "nn.matmul",
    summary: "Batched matrix product [..., m, k] x [..., k, n] -> [..., m, n]",
    description: "numpy `matmul` for operands of rank >= 2 with one float or integer element \
type: the batch dims (all but the last two) broadcast. Floats accumulate in f64 and round once \
per output element; integers accumulate with wrapping and wrap to the element width.\n\n\
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
}
