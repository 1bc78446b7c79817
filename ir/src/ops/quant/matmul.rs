//! `quant.qmatmul`: the integer matrix product of quantized activations and
//! quantized (or binary) weights into a wide accumulator.
//!
//! Invariants: the left operand is per tensor; the right one is per tensor
//! or per channel along its last axis (the output channels), so every
//! output element has one scale, `scale_a * scale_b[channel]`, which the
//! declared result type must carry exactly; operands have at most 16 bits,
//! so each product is below 2^32 and the exact sum fits in 64 bits.

use super::common::{
    check_quant, check_scales, ints, qrange, quant_of, quant_operand, quant_result, result_quant, scales_of, ChannelMap,
};
use crate::ops::shape::{broadcast_shapes, matmul_shape, tensor_operand};
use crate::ops::{Arity, OpDef, OpInfo, Trait};
use crate::tensor::{Tensor, TensorData};
use crate::types::{Dim, ElemType, QuantBin, QuantInt, QuantParams, TensorType, Type};

/// The widest operand of `qmatmul`, `qadd` and `qmul`.
pub const MAX_OPERAND_BITS: u8 = 16;

pub const QMATMUL: OpDef = OpDef {
    name: "quant.qmatmul",
    summary: "Integer matmul [..., m, k] x [..., k, n] (+ bias) into a wide accumulator",
    description: "`acc[.., i, j] = sum_k (a[.., i, k] - zp_a) * (b[.., k, j] - zp_b[j]) + bias[j]`, \
exact, then saturated to the declared result width. Batch dims broadcast as in `nn.matmul`. `a` \
is a per-tensor `!quant.int`; `b` is a `!quant.int` per tensor or per channel along its last \
axis, or a `!quant.bin` (binary weights: each product is `+(a - zp_a)` or `-(a - zp_a)`, an \
addition or a subtraction); both have at most 16 bits. The result is a signed `!quant.int` of at \
most 32 bits with zero point 0 whose scale is `scale_a * scale_b` exactly (f64 product), per \
channel along the last axis when `b` is per channel: an accumulator is a quantized value like \
any other. The optional `bias` is a 1-D signed `!quant.int` with zero point 0 and the result's \
scales, one per output column.\n\n\
```\n%2 = quant.qmatmul %0, %1 : (tensor<1x4x!quant.int<w=8, signed, scale=0.5, zp=0>>, tensor<4x2x!quant.bin<axis=1, scales=[0.25, 0.125]>>) -> tensor<1x2x!quant.int<w=32, signed, axis=1, scales=[0.125, 0.0625], zps=[0, 0]>>\n```",
    operands: Arity::Variadic { name: "a, b, bias", min: 2 },
    results: super::ONE_RESULT,
    traits: &[Trait::Pure],
    verify_results: Some(check_qmatmul),
    eval: Some(eval_qmatmul),
    ..OpDef::DEFAULT
};

/// What the right operand is: quantized integers or bits.
enum Weights<'a> {
    Int(&'a QuantInt),
    Bin(&'a QuantBin),
}

fn check_qmatmul(info: &OpInfo, results: &[&Type]) -> Result<(), String> {
    let n = info.operand_types.len();
    if n > 3 {
        return Err(format!("takes a, b and an optional bias, got {n} operands"));
    }
    let (a, qa) = quant_operand(info.operand_types, 0)?;
    check_quant(qa, "operand #0 (a)", MAX_OPERAND_BITS)?;
    if !matches!(qa.params, QuantParams::PerTensor { .. }) {
        return Err("operand #0 (a) must be quantized per tensor".into());
    }
    let b = tensor_operand(info.operand_types, 1)?;
    let weights = weights_of(b)?;
    let (r, qr) = quant_result(results, 0)?;
    check_accumulator(qr, "result #0")?;
    let dims = matmul_shape(&a.dims, &b.dims)?;
    let expected = TensorType::new(dims, r.elem.clone());
    super::common::same_dims(&expected, r, "result")?;
    let sa = scales_of(qa).first().copied().unwrap_or(1.0);
    let expected_scales = product_scales(sa, &weights);
    check_result_scales(qr, &expected_scales, r.rank())?;
    if n == 3 {
        check_bias(info, &expected_scales, last_dim(b))?;
    }
    Ok(())
}

fn weights_of(b: &TensorType) -> Result<Weights<'_>, String> {
    let last = b.rank().saturating_sub(1) as u32;
    match &b.elem {
        ElemType::Quant(q) => {
            check_quant(q, "operand #1 (b)", MAX_OPERAND_BITS)?;
            match q.params {
                QuantParams::PerChannel { axis, .. } if axis != last => {
                    Err(format!("operand #1 (b) may be per channel only along its last axis ({last}), got axis {axis}"))
                }
                _ => Ok(Weights::Int(q)),
            }
        }
        ElemType::Bin(bin) => match &**bin {
            QuantBin::PerChannel { axis, .. } if *axis != last => {
                Err(format!("operand #1 (b) may be per channel only along its last axis ({last}), got axis {axis}"))
            }
            QuantBin::PerChannel { scales, .. } => check_scales(scales, "operand #1 (b)").map(|()| Weights::Bin(bin)),
            QuantBin::PerTensor { scale } => {
                check_scales(std::slice::from_ref(scale), "operand #1 (b)").map(|()| Weights::Bin(bin))
            }
        },
        other => Err(format!("operand #1 (b) must be a !quant.int or !quant.bin tensor, got {other}")),
    }
}

/// An accumulator: signed, zero point 0, at most 32 bits.
fn check_accumulator(q: &QuantInt, what: &str) -> Result<(), String> {
    check_quant(q, what, 32)?;
    let zero = match &q.params {
        QuantParams::PerTensor { zp, .. } => *zp == 0,
        QuantParams::PerChannel { zps, .. } => zps.iter().all(|&z| z == 0),
    };
    if !q.signed || !zero {
        return Err(format!("{what} must be a signed accumulator with zero point 0"));
    }
    Ok(())
}

fn product_scales(sa: f64, weights: &Weights) -> Vec<f64> {
    let sb: &[f64] = match weights {
        Weights::Int(q) => scales_of(q),
        Weights::Bin(QuantBin::PerTensor { scale }) => std::slice::from_ref(scale),
        Weights::Bin(QuantBin::PerChannel { scales, .. }) => scales,
    };
    sb.iter().map(|s| sa * s).collect()
}

/// The result must be per channel along its last axis exactly when `b` is,
/// with the product scales.
fn check_result_scales(q: &QuantInt, expected: &[f64], rank: usize) -> Result<(), String> {
    let got = scales_of(q);
    let per_channel = matches!(q.params, QuantParams::PerChannel { .. });
    if let QuantParams::PerChannel { axis, .. } = q.params {
        if axis as usize + 1 != rank {
            return Err(format!("a per-channel result must be quantized along its last axis, got axis {axis}"));
        }
    }
    if per_channel != (expected.len() > 1) || got.len() != expected.len() {
        let want = if expected.len() > 1 { "per channel (b is)" } else { "per tensor (b is)" };
        return Err(format!("the result must be quantized {want}"));
    }
    if let Some(c) = (0..got.len()).find(|&c| got[c] != expected[c]) {
        return Err(format!(
            "the result scale must be the product of the operand scales, {:e}, got {:e}{}",
            expected[c],
            got[c],
            if expected.len() > 1 { format!(" (channel {c})") } else { String::new() }
        ));
    }
    Ok(())
}

fn check_bias(info: &OpInfo, scales: &[f64], columns: Option<&Dim>) -> Result<(), String> {
    let (t, q) = quant_operand(info.operand_types, 2)?;
    check_accumulator(q, "operand #2 (bias)")?;
    if t.rank() != 1 {
        return Err(format!("operand #2 (bias) must have rank 1, got {t}"));
    }
    if let (Some(Dim::Fixed(n)), Some(Dim::Fixed(c))) = (t.dims.first(), columns) {
        if n != c {
            return Err(format!("operand #2 (bias) has {n} entries for {c} output columns"));
        }
    }
    if scales_of(q) != scales {
        return Err("operand #2 (bias) must have the result's scales".into());
    }
    Ok(())
}

fn last_dim(t: &TensorType) -> Option<&Dim> {
    t.dims.last()
}

fn eval_qmatmul(ops: &[Tensor], _: &crate::Attrs, types: &[Type]) -> Result<Vec<Tensor>, String> {
    let (a, b) = (&ops[0], &ops[1]);
    let qr = result_quant(types, 0)?;
    let lhs = centered(a)?;
    let rhs = centered(b)?;
    let (ra, rb) = (a.shape.len(), b.shape.len());
    if ra < 2 || rb < 2 || a.shape[ra - 1] != b.shape[rb - 2] {
        return Err(format!("cannot multiply shapes {:?} and {:?}", a.shape, b.shape));
    }
    let (m, k, n) = (a.shape[ra - 2] as usize, a.shape[ra - 1] as usize, b.shape[rb - 1] as usize);
    let batch = batch_shape(&a.shape[..ra - 2], &b.shape[..rb - 2])?;
    let a_off = batch_sources(&batch, &a.shape[..ra - 2]);
    let b_off = batch_sources(&batch, &b.shape[..rb - 2]);
    let bias = match ops.get(2) {
        Some(t) => ints(t)?.to_vec(),
        None => vec![0; n],
    };
    if bias.len() != n {
        return Err(format!("the bias has {} entries for {n} output columns", bias.len()));
    }
    let (lo, hi) = qrange(qr.width, qr.signed);
    let mut out = Vec::with_capacity(a_off.len() * m * n);
    let mut acc = vec![0i64; n];
    for (&ai, &bi) in a_off.iter().zip(&b_off) {
        let a_mat = lhs.get(ai * m * k..(ai + 1) * m * k).ok_or("lhs batch out of range")?;
        let b_mat = rhs.get(bi * k * n..(bi + 1) * k * n).ok_or("rhs batch out of range")?;
        for row in a_mat.chunks_exact(k.max(1)).take(m) {
            acc.copy_from_slice(&bias);
            accumulate_row(row, b_mat, n, &mut acc);
            out.extend(acc.iter().map(|&v| v.clamp(lo, hi)));
        }
        if k == 0 {
            for _ in 0..m {
                out.extend(bias.iter().map(|&v| v.clamp(lo, hi)));
            }
        }
    }
    let mut shape = batch;
    shape.extend([m as u64, n as u64]);
    Ok(vec![Tensor { elem: ElemType::Quant(Box::new(qr.clone())), shape, data: TensorData::Int(out) }])
}

/// `acc[j] += sum_k row[k] * b[k, j]`, skipping zero activations.
fn accumulate_row(row: &[i64], b: &[i64], n: usize, acc: &mut [i64]) {
    for (&x, b_row) in row.iter().zip(b.chunks_exact(n.max(1))) {
        if x == 0 {
            continue;
        }
        for (s, &w) in acc.iter_mut().zip(b_row) {
            *s = s.wrapping_add(x.wrapping_mul(w));
        }
    }
}

/// The operand's values minus their zero points (`+1`/`-1` for bits).
fn centered(t: &Tensor) -> Result<Vec<i64>, String> {
    let q = ints(t)?;
    match &t.elem {
        ElemType::Bin(_) => Ok(q.iter().map(|&v| if v != 0 { 1 } else { -1 }).collect()),
        _ => {
            let map = ChannelMap::of_int(quant_of(t)?, &t.shape)?;
            Ok(q.iter().enumerate().map(|(i, &v)| v.wrapping_sub(map.zp(i))).collect())
        }
    }
}

/// The broadcast batch shape of the two operands.
fn batch_shape(a: &[u64], b: &[u64]) -> Result<Vec<u64>, String> {
    let fixed = |s: &[u64]| s.iter().map(|&d| Dim::Fixed(d)).collect::<Vec<_>>();
    let out = broadcast_shapes(&fixed(a), &fixed(b))?;
    Ok(out.iter().map(|d| d.fixed().unwrap_or(0)).collect())
}

/// For each batch index of `out` (row-major), the batch index of an operand
/// with batch shape `src` under broadcasting.
fn batch_sources(out: &[u64], src: &[u64]) -> Vec<usize> {
    let total: u64 = out.iter().product();
    let pad = out.len() - src.len().min(out.len());
    let strides = Tensor::strides(src);
    (0..total)
        .map(|flat| {
            let (mut rest, mut idx) = (flat, 0u64);
            for d in (0..out.len()).rev() {
                let extent = out[d].max(1);
                let i = rest % extent;
                rest /= extent;
                if d >= pad && src[d - pad] != 1 {
                    idx += i * strides[d - pad];
                }
            }
            idx as usize
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_sources_broadcast() {
        assert_eq!(batch_sources(&[2, 3], &[3]), vec![0, 1, 2, 0, 1, 2]);
        assert_eq!(batch_sources(&[2, 3], &[2, 1]), vec![0, 0, 0, 1, 1, 1]);
        assert_eq!(batch_sources(&[], &[]), vec![0]);
    }
}
