//! Rules for MatMul and Gemm.
//!
//! Invariants: `nn.matmul` only sees operands of rank >= 2 (ONNX's vector
//! operands are reshaped to a row or a column and the extra dim removed
//! afterwards); Gemm's transposes, scales and bias become explicit ops,
//! omitted where they are the identity (`alpha = 1`, `beta = 1`, no C).

use super::builder::{Replacement, Rewriter};
use super::LegalizeError;
use weft_ir::ops::nn;
use weft_ir::Value;

/// numpy `matmul` with vector operands.
pub fn matmul(rw: &mut Rewriter) -> Replacement {
    let (a, b) = (rw.operand(0)?, rw.operand(1)?);
    Ok(vec![matmul_values(rw, a, b)?])
}

fn matmul_values(rw: &mut Rewriter, a: Value, b: Value) -> Result<Value, LegalizeError> {
    let (ra, rb) = (rw.rank(a), rw.rank(b));
    if ra >= 2 && rb >= 2 {
        return rw.binary(&nn::MATMUL, a, b);
    }
    if ra == 0 || rb == 0 {
        return Err(LegalizeError::new("MatMul of a scalar is not a matrix product"));
    }
    let (sa, sb) = (rw.shape(a)?, rw.shape(b)?);
    let a2 = if ra == 1 { rw.reshape(a, &[1, sa[0]])? } else { a };
    let b2 = if rb == 1 { rw.reshape(b, &[sb[0], 1])? } else { b };
    let product = rw.binary(&nn::MATMUL, a2, b2)?;
    let mut shape = rw.shape(product)?;
    let n = shape.len();
    // Remove the column of a vector right operand, then the row of a vector left one.
    if rb == 1 {
        shape.remove(n - 1);
    }
    if ra == 1 {
        shape.remove(n - 2);
    }
    rw.reshape(product, &shape)
}

/// `alpha * A' B' + beta * C`.
pub fn gemm(rw: &mut Rewriter) -> Replacement {
    let (a, b) = (rw.operand(0)?, rw.operand(1)?);
    let elem = rw.elem(a);
    let a = if rw.attr_int("transA", 0) != 0 { rw.transpose(a, &[1, 0])? } else { a };
    let b = if rw.attr_int("transB", 0) != 0 { rw.transpose(b, &[1, 0])? } else { b };
    let mut y = rw.binary(&nn::MATMUL, a, b)?;
    let (alpha, beta) = (rw.attr_float("alpha", 1.0), rw.attr_float("beta", 1.0));
    let scale_ok = |s: f64| elem.is_float() || s.fract() == 0.0;
    if !scale_ok(alpha) || !scale_ok(beta) {
        return Err(LegalizeError::new(format!("on {elem} needs integral alpha and beta, got {alpha} and {beta}")));
    }
    if alpha != 1.0 {
        let s = rw.scalar(&elem, alpha);
        y = rw.binary(&nn::MUL, y, s)?;
    }
    if let Some(c) = rw.optional(2).filter(|_| beta != 0.0) {
        let c = if beta != 1.0 {
            let s = rw.scalar(&elem, beta);
            rw.binary(&nn::MUL, c, s)?
        } else {
            c
        };
        y = rw.binary(&nn::ADD, y, c)?;
    }
    Ok(vec![y])
}
