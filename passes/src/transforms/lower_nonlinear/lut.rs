//! The `lut` method, the exact baseline for inputs of at most 8 bits: an
//! elementwise op is one table holding the ideal result for every input
//! value (bit-identical to the ideal op); softmax is a table of
//! `exp(d * s)` for every difference `d = q - max`, then the adder tree
//! and the per-lane divider of `ibert`. Layer norm has no table form
//! ([`super::site`] rejects it).
//!
//! Invariants: tables cover every value of the input type (at most 2^8
//! entries, 2^9 - 1 for softmax differences); entries are computed in f64
//! and quantized exactly as the ideal op quantizes.

use super::emit::{int, uint, Emitted, Emitter, IntTy};
use super::formats::{fixed, EXP_FRAC};
use super::ibert::divide_by_sum;
use super::site::{OpKind, Site};
use super::LowerError;
use weft_ir::attr::Attribute;
use weft_ir::ops::nl;
use weft_ir::ops::quant::nonlinear::ideal;

pub fn lower(e: &mut Emitter, s: &Site) -> Emitted {
    match s.kind {
        OpKind::Softmax => softmax(e, s),
        OpKind::LayerNorm => Err(LowerError::new("layer norm has no table form")),
        kind => elementwise(e, s, function(kind, s.gelu_tanh)),
    }
}

/// The real function of an elementwise op kind.
pub fn function(kind: OpKind, gelu_tanh: bool) -> fn(f64) -> f64 {
    match kind {
        OpKind::Gelu if gelu_tanh => ideal::gelu_tanh,
        OpKind::Gelu => ideal::gelu_erf,
        OpKind::Sigmoid => ideal::sigmoid,
        OpKind::Silu => ideal::silu,
        OpKind::Tanh => f64::tanh,
        OpKind::Exp => f64::exp,
        OpKind::Reciprocal => ideal::reciprocal,
        OpKind::Sqrt => f64::sqrt,
        OpKind::Rsqrt => ideal::rsqrt,
        OpKind::Softmax | OpKind::LayerNorm => |x| x,
    }
}

fn table_attrs(offset: i64, entries: &[i128]) -> [(&'static str, Attribute); 2] {
    let table = Attribute::Array(entries.iter().map(|&v| Attribute::Int(v as i64)).collect());
    [("offset", Attribute::Int(offset)), ("table", table)]
}

/// One table from every input value to the ideal result's stored integer.
fn elementwise(e: &mut Emitter, s: &Site, f: fn(f64) -> f64) -> Emitted {
    let (lo, hi) = s.x.range();
    let entries: Vec<i128> = (lo..=hi)
        .map(|q| ideal::quantize_value(f(s.x.real(q)), s.y.scale, s.y.zp, s.y.width, s.y.signed) as i128)
        .collect();
    let q = e.read_input(s.input, &s.x)?;
    let ty = IntTy { width: s.y.width, signed: s.y.signed };
    let y = e.op(&nl::LUT, &[q], ty, &table_attrs(lo, &entries))?;
    e.cast(y, &s.result_type)
}

/// A table of `exp(d * s_x)` with [`EXP_FRAC`] bits for every `d = q -
/// max` in [-(2^w - 1), 0], then the lane's sum and the divider.
fn softmax(e: &mut Emitter, s: &Site) -> Emitted {
    let axis = s.axis()?;
    let (lo, hi) = s.x.range();
    let span = hi - lo;
    let entries: Vec<i128> = (-span..=0).map(|d| fixed((d as f64 * s.x.scale).exp(), EXP_FRAC)).collect();
    let q = e.read_input(s.input, &s.x)?;
    let m = e.tree(&nl::MAX_TREE, q, axis, e.ty(q))?;
    let d = e.sub(q, m, int(s.x.width + 1))?;
    let x = e.op(&nl::LUT, &[d], uint(EXP_FRAC as u8 + 1), &table_attrs(-span, &entries))?;
    divide_by_sum(e, s, x, axis)
}
