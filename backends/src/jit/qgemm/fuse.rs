//! Fusing a `quant.requantize` of a `quant.qmatmul`'s accumulator into the
//! matmul's epilogue: the accumulator is never stored, the epilogue
//! writes the requantized stored integers (`io::Requant`).
//!
//! Invariants: fused only when every parameter of the requantize is per
//! tensor or per output column (the channel axis of both types is the
//! last dim, [`fits`]); the multipliers, shifts and zero points come from
//! `requantize_multipliers` and `ChannelMap`, as the requantize's own map
//! node's, so the bits are the unfused pair's.

use super::io::Requant;
use crate::jit::kernel::{Access, Kernel, Part};
use crate::jit::lower::{arg, Operand};
use weft_ir::ops::quant::common::{qrange, ChannelMap};
use weft_ir::ops::quant::convert::requantize_multipliers;
use weft_ir::types::QuantParams;
use weft_ir::ElemType;

/// Whether a requantize between `from` and `to` (rank `rank`) can run in
/// a matmul's epilogue: both quantized integers with parameters per
/// tensor or per last dim.
pub(crate) fn fits(from: &ElemType, to: &ElemType, rank: usize) -> bool {
    let per_column = |e: &ElemType| match e {
        ElemType::Quant(q) => match q.params {
            QuantParams::PerTensor { .. } => true,
            QuantParams::PerChannel { axis, .. } => axis as usize + 1 == rank,
        },
        _ => false,
    };
    rank >= 2 && per_column(from) && per_column(to)
}

/// The kernel of `requantize(qmatmul(..))`: `producer` is the matmul's
/// kernel (one [`Part::QGemm`]), `ins` and `outs` the requantize's.
pub(crate) fn requantize_into(mut producer: Kernel, ins: &[Operand], outs: &[Operand]) -> Result<Kernel, String> {
    let (x, out) = (arg(ins, 0)?, outs.first().ok_or("the op has no result")?);
    let [Part::QGemm(g)] = producer.parts.as_mut_slice() else {
        return Err("internal error: fusing a requantize into a kernel that is not a matmul".into());
    };
    let (ElemType::Quant(qin), ElemType::Quant(qout)) = (&x.elem, &out.elem) else {
        return Err("internal error: a fused requantize of non-quantized values".into());
    };
    if !fits(&x.elem, &out.elem, out.shape.len()) || x.shape != out.shape {
        return Err("internal error: a fused requantize that is not per column".into());
    }
    let n = g.n as usize;
    let mults = requantize_multipliers(qin, qout)?;
    let (min, mout) = (ChannelMap::of_int(qin, &x.shape)?, ChannelMap::of_int(qout, &out.shape)?);
    let column = |v: Vec<i64>| -> Result<Vec<i64>, String> {
        match v.len() {
            1 => Ok(vec![v[0]; n]),
            len if len == n => Ok(v),
            len => Err(format!("internal error: {len} requantize parameters for {n} columns")),
        }
    };
    let (lo, hi) = qrange(qout.width, qout.signed);
    g.requant = Some(Requant {
        zp_in: column(min.zps.clone())?,
        m: column(mults.iter().map(|f| f.m).collect())?,
        s1: column(mults.iter().map(|f| i64::from(f.shift.saturating_sub(1))).collect())?,
        s2: column(mults.iter().map(|f| i64::from(f.shift.min(1))).collect())?,
        zp_out: column(mout.zps.clone())?,
        lo,
        hi,
    });
    let rank = out.shape.len();
    let mut c = Access::broadcast(out.place, out.st, &out.shape[..rank - 2], &g.batch);
    c.strides.iter_mut().for_each(|s| *s *= (g.m * g.n) as i64);
    g.c = c;
    Ok(producer)
}
