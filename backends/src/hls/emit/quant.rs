//! The quant dialect in C++: quantize/dequantize at the boundary between
//! the float and integer parts, requantize (the 64-bit multiply and the
//! rounding shift), qadd and qmul (broadcasting), and qmatmul as calls of
//! the FC engine (constant weights) or the attention engine (two
//! activations), one call per batch of the operands.
//!
//! Invariants: multipliers and shifts are computed here by the IR's own
//! functions (`requantize_multipliers`, `qadd_multipliers`,
//! `qmul_multiplier`), so the C++ cannot drift from the interpreter; scales
//! are written as exact hexadecimal literals.

use super::loops::{elementwise, strides};
use super::{ll_list, operand, Emitter};
use crate::hls::engines::{centred_range, Range, ATTN_FUNCTION, FC_FUNCTION};
use crate::hls::storage::{fields_per_word, packed_format, Class, Place};
use crate::hls::text::{f64_literal, i64_literal};
use weft_ir::ops::quant::common::{range_of, FixedMultiplier};
use weft_ir::ops::quant::convert::requantize_multipliers;
use weft_ir::ops::quant::elementwise::{qadd_multipliers, qmul_multiplier};
use weft_ir::types::{QuantBin, QuantInt, QuantParams};
use weft_ir::{ElemType, OpData};

pub fn emit(e: &mut Emitter, data: &OpData) -> Result<bool, String> {
    match data.name() {
        "quant.quantize" => quantize(e, data)?,
        "quant.dequantize" => dequantize(e, data)?,
        "quant.requantize" => requantize(e, data)?,
        "quant.qadd" | "quant.qmul" => binary(e, data)?,
        "quant.qmatmul" => qmatmul(e, data)?,
        _ => return Ok(false),
    }
    Ok(true)
}

/// Per-element scale and zero point: literals per tensor, tables indexed by
/// the channel of output index `o` per channel.
struct Params {
    scale: String,
    zp: String,
}

fn params(e: &mut Emitter, scales: &[f64], zps: &[i64], axis: Option<u32>, shape: &[u64]) -> Params {
    match axis {
        None => Params {
            scale: f64_literal(scales.first().copied().unwrap_or(1.0)),
            zp: i64_literal(zps.first().copied().unwrap_or(0)),
        },
        Some(a) => {
            let ch = channel_expr(a, scales.len(), shape);
            let (sn, zn) = (e.fresh("scale_"), e.fresh("zp_"));
            let list: Vec<String> = scales.iter().map(|&s| f64_literal(s)).collect();
            e.statics.push_str(&format!("static const double {sn}[] = {{{}}};\n", list.join(", ")));
            e.statics.push_str(&format!("static const long long {zn}[] = {{{}}};\n", ll_list(zps)));
            Params { scale: format!("{sn}[{ch}]"), zp: format!("{zn}[{ch}]") }
        }
    }
}

/// The channel of output index `o` along `axis` of `shape`.
fn channel_expr(axis: u32, channels: usize, shape: &[u64]) -> String {
    let stride = strides(shape).get(axis as usize).copied().unwrap_or(1);
    format!("((o / {stride}LL) % {channels}LL)")
}

fn int_params(q: &QuantInt) -> (Vec<f64>, Vec<i64>, Option<u32>) {
    match &q.params {
        QuantParams::PerTensor { scale, zp } => (vec![*scale], vec![*zp], None),
        QuantParams::PerChannel { axis, scales, zps } => (scales.clone(), zps.clone(), Some(*axis)),
    }
}

fn quantize(e: &mut Emitter, data: &OpData) -> Result<(), String> {
    let x = operand(data, 0)?;
    if e.class(x)? != Class::F32 {
        return Err("quantizes f32 values only in the HLS backend".into());
    }
    let xs = e.tensor(x)?.0;
    let read = e.read(x, "x0")?;
    let (place, shape, elem) = e.alloc_result(data)?;
    let body = match elem {
        ElemType::Quant(q) => {
            let (scales, zps, axis) = int_params(q);
            let p = params(e, &scales, &zps, axis, &shape);
            let (lo, hi) = range_of(q);
            let value =
                format!("q_quantize((double){read}, {}, {}, {}, {})", p.scale, p.zp, i64_literal(lo), i64_literal(hi));
            place.store("o", &value)?
        }
        ElemType::Bin(_) => {
            format!("{{ const float v = {read}; {} }}", place.store("o", "(std::isnan(v) || v >= 0.0f) ? 1 : 0")?)
        }
        other => return Err(format!("cannot quantize to {other}")),
    };
    e.block(&elementwise(&shape, &[&xs], &body));
    Ok(())
}

fn dequantize(e: &mut Emitter, data: &OpData) -> Result<(), String> {
    let x = operand(data, 0)?;
    let (xs, xelem) = e.tensor(x)?;
    let read = e.read(x, "x0")?;
    let (place, shape, elem) = e.alloc_result(data)?;
    if *elem != ElemType::F32 {
        return Err(format!("dequantizes to f32 only in the HLS backend, got {elem}"));
    }
    let body = match xelem {
        ElemType::Quant(q) => {
            let (scales, zps, axis) = int_params(q);
            let p = params(e, &scales, &zps, axis, &xs);
            place.store("o", &format!("(float)((double)q_wrap_sub({read}, {}) * {})", p.zp, p.scale))?
        }
        ElemType::Bin(b) => {
            let (scales, axis) = bin_params(b);
            let p = params(e, &scales, &vec![0; scales.len()], axis, &xs);
            place.store("o", &format!("(float)(({read}) != 0 ? {} : -{})", p.scale, p.scale))?
        }
        other => return Err(format!("cannot dequantize {other}")),
    };
    e.block(&elementwise(&shape, &[&xs], &body));
    Ok(())
}

fn bin_params(b: &QuantBin) -> (Vec<f64>, Option<u32>) {
    match b {
        QuantBin::PerTensor { scale } => (vec![*scale], None),
        QuantBin::PerChannel { axis, scales } => (scales.clone(), Some(*axis)),
    }
}

fn quant_elem(elem: &ElemType) -> Result<&QuantInt, String> {
    match elem {
        ElemType::Quant(q) => Ok(q),
        other => Err(format!("expected a !quant.int tensor, got {other}")),
    }
}

fn requantize(e: &mut Emitter, data: &OpData) -> Result<(), String> {
    let x = operand(data, 0)?;
    let (xs, xelem) = e.tensor(x)?;
    let qin = quant_elem(xelem)?;
    let read = e.read(x, "x0")?;
    let (place, shape, elem) = e.alloc_result(data)?;
    let qout = quant_elem(elem)?;
    let mults = requantize_multipliers(qin, qout)?;
    let (_, zin, ain) = int_params(qin);
    let (_, zout, aout) = int_params(qout);
    let zin_p = params(e, &vec![1.0; zin.len()], &zin, ain, &xs).zp;
    let zout_p = params(e, &vec![1.0; zout.len()], &zout, aout, &shape).zp;
    let (m, n) = multiplier_exprs(e, &mults, ain.or(aout), &shape);
    let (lo, hi) = range_of(qout);
    let value = format!(
        "q_clamp(q_sat_add(q_apply(q_wrap_sub({read}, {zin_p}), {m}, {n}), {zout_p}), {}, {})",
        i64_literal(lo),
        i64_literal(hi)
    );
    let body = place.store("o", &value)?;
    e.block(&elementwise(&shape, &[&xs], &body));
    Ok(())
}

/// The multiplier and shift of output index `o` (tables per channel).
fn multiplier_exprs(e: &mut Emitter, mults: &[FixedMultiplier], axis: Option<u32>, shape: &[u64]) -> (String, String) {
    match (mults, axis) {
        ([], _) => ("0LL".into(), "0".into()),
        ([one], _) | ([one, ..], None) => (i64_literal(one.m), one.shift.to_string()),
        (_, Some(a)) => {
            let ch = channel_expr(a, mults.len(), shape);
            let (mn, sn) = (e.fresh("mult_"), e.fresh("shift_"));
            let ms: Vec<i64> = mults.iter().map(|f| f.m).collect();
            let ss: Vec<String> = mults.iter().map(|f| f.shift.to_string()).collect();
            e.statics.push_str(&format!("static const long long {mn}[] = {{{}}};\n", ll_list(&ms)));
            e.statics.push_str(&format!("static const int {sn}[] = {{{}}};\n", ss.join(", ")));
            (format!("{mn}[{ch}]"), format!("{sn}[{ch}]"))
        }
    }
}

fn binary(e: &mut Emitter, data: &OpData) -> Result<(), String> {
    let (a, b) = (operand(data, 0)?, operand(data, 1)?);
    let (ashape, aelem) = e.tensor(a)?;
    let (bshape, belem) = e.tensor(b)?;
    let (qa, qb) = (quant_elem(aelem)?, quant_elem(belem)?);
    let (ra, rb) = (e.read(a, "x0")?, e.read(b, "x1")?);
    let (place, shape, elem) = e.alloc_result(data)?;
    let qr = quant_elem(elem)?;
    let (za, zb, zr) = (int_params(qa).1[0], int_params(qb).1[0], int_params(qr).1[0]);
    let (lo, hi) = range_of(qr);
    let (xa, xb) = (format!("q_wrap_sub({ra}, {})", i64_literal(za)), format!("q_wrap_sub({rb}, {})", i64_literal(zb)));
    let core = if data.name() == "quant.qadd" {
        let (ma, mb) = qadd_multipliers(qa, qb, qr)?;
        format!(
            "q_round_shift(q_wrap_add(q_wrap_mul({xa}, {}), q_wrap_mul({xb}, {})), {})",
            i64_literal(ma.m),
            i64_literal(mb.m),
            ma.shift
        )
    } else {
        let m = qmul_multiplier(qa, qb, qr)?;
        format!("q_apply(q_wrap_mul({xa}, {xb}), {}, {})", i64_literal(m.m), m.shift)
    };
    let value = format!("q_clamp(q_sat_add({core}, {}), {}, {})", i64_literal(zr), i64_literal(lo), i64_literal(hi));
    let body = place.store("o", &value)?;
    e.block(&elementwise(&shape, &[&ashape, &bshape], &body));
    Ok(())
}

/// The engine arguments naming a packed activation: base pointer, bits,
/// fields per word, signedness.
fn act_args(place: &Place, what: &str) -> Result<(String, u8, u32, bool), String> {
    match place {
        Place::Act { word, bits, signed, per } => Ok((format!("act_i + {word}LL"), *bits, *per, *signed)),
        Place::Input { .. } => Err(format!(
            "the engines read packed activations; the {what} is an integer input of the function, which the HLS backend does not pack yet"
        )),
        _ => Err(format!("the engines read activations from the DDR arena; the {what} is a constant")),
    }
}

/// Per-column weight zero points of a qmatmul's right operand (0 for binary).
fn weight_zps(belem: &ElemType, n: u64) -> Vec<i64> {
    match belem {
        ElemType::Quant(q) => {
            let (_, zps, _) = int_params(q);
            (0..n as usize).map(|j| zps.get(j).or(zps.first()).copied().unwrap_or(0)).collect()
        }
        _ => vec![0; n as usize],
    }
}

/// The range of the centred weights in the FC engine's tile (binary: +-1).
fn weight_range(belem: &ElemType, zps: &[i64]) -> Range {
    match belem {
        ElemType::Quant(q) => centred_range(q, zps),
        _ => (-1, 1),
    }
}

/// The range of a bias's stored integers.
fn bias_range(elem: &ElemType) -> Range {
    let (bits, signed) = packed_format(elem);
    let w = u32::from(bits.clamp(1, 64));
    if signed {
        (-(1i128 << (w - 1)), (1i128 << (w - 1)) - 1)
    } else {
        (0, (1i128 << w) - 1)
    }
}

fn qmatmul(e: &mut Emitter, data: &OpData) -> Result<(), String> {
    let (a, b) = (operand(data, 0)?, operand(data, 1)?);
    let (ashape, aelem) = e.tensor(a)?;
    let (bshape, belem) = e.tensor(b)?;
    let qa = quant_elem(aelem)?;
    let za = int_params(qa).1[0];
    let (ra, rb) = (ashape.len(), bshape.len());
    if ra < 2 || rb < 2 {
        return Err("operands must have rank 2 or more".into());
    }
    let (m, k, n) = (ashape[ra - 2], ashape[ra - 1], bshape[rb - 1]);
    let (a_ptr, a_bits, a_per, a_signed) = act_args(e.place(a)?, "left operand")?;
    let bplace = e.place(b)?.clone();
    let bias = data.operands.get(2).copied();
    let (place, _, elem) = e.alloc_result(data)?;
    let (lo, hi) = range_of(quant_elem(elem)?);
    let (out_ptr, o_bits, o_per, _) = act_args(&place, "result")?;
    let batches = batch_offsets(&ashape[..ra - 2], &bshape[..rb - 2])?;
    let a_arg = |off: &str| format!("{a_ptr}, {off}, {a_bits}, {a_per}, {}, {}", i32::from(a_signed), i64_literal(za));
    let out_arg = |off: &str| format!("{out_ptr}, {off}, {o_bits}, {o_per}");
    let bounds = format!("{}, {}", i64_literal(lo), i64_literal(hi));
    let call = match &bplace {
        Place::Packed { word, width, signed, .. } => {
            if rb != 2 || batches.1.iter().any(|&o| o != 0) {
                return Err("batched constant weights are not supported by the FC engine yet".into());
            }
            let wzp = weight_zps(belem, n);
            let brange = match bias {
                Some(bv) => bias_range(e.tensor(bv)?.1),
                None => (0, 0),
            };
            e.engines.add_fc(k, centred_range(qa, &[za]), weight_range(belem, &wzp), brange);
            let zname = e.fresh("wzp_");
            e.statics.push_str(&format!("static const long long {zname}[] = {{{}}};\n", ll_list(&wzp)));
            let (bias_ptr, bbits, bper, has) = match bias {
                Some(bv) => match e.place(bv)? {
                    Place::Packed { word, width, per, .. } => (format!("weights + {word}LL"), *width, *per, 1),
                    _ => return Err("the bias of a qmatmul must be a constant".into()),
                },
                None => ("weights".to_string(), 32, fields_per_word(32, e.storage.word_bits), 0),
            };
            let bw = if matches!(belem, ElemType::Bin(_)) { 1 } else { *width };
            let wper = fields_per_word(bw, e.storage.word_bits);
            e.engine_calls.push(format!("{FC_FUNCTION} {m}x{k}x{n}"));
            // Weights shared by every batch: one call over all rows.
            let total = batches.0.len() as u64 * m;
            let weights = format!("weights + {word}LL, {bw}, {}, {wper}, {zname}", i32::from(*signed));
            let code = format!(
                "{FC_FUNCTION}({}, {weights}, {bias_ptr}, {bbits}, {bper}, {has}, {}, {total}, {k}, {n}, {bounds});\n",
                a_arg("0"),
                out_arg("0")
            );
            return finish(e, code);
        }
        Place::Act { .. } | Place::Input { .. } => {
            if bias.is_some() {
                return Err("a qmatmul of two activations with a bias has no engine".into());
            }
            let qb = quant_elem(belem)?;
            let zb = int_params(qb).1[0];
            let (b_ptr, b_bits, b_per, b_signed) = act_args(&bplace, "right operand")?;
            e.engines.add_attn(m, k, centred_range(qa, &[za]), centred_range(qb, &[zb]));
            e.engine_calls.push(format!("{ATTN_FUNCTION} {}x {m}x{k}x{n}", batches.0.len()));
            format!(
                "{ATTN_FUNCTION}({}, {b_ptr}, b_off[bi] * {}LL, {b_bits}, {b_per}, {}, {}, {}, {m}, {k}, {n}, {bounds});",
                a_arg(&format!("a_off[bi] * {}LL", m * k)),
                k * n,
                i32::from(b_signed),
                i64_literal(zb),
                out_arg(&format!("bi * {}LL", m * n))
            )
        }
        _ => return Err("the right operand of a qmatmul must be packed weights or an activation".into()),
    };
    let code = format!(
        "static const long long a_off[] = {{{}}};\nstatic const long long b_off[] = {{{}}};\nfor (int bi = 0; bi < {}; ++bi) {{\n  {call}\n}}\n",
        ll_list(&batches.0),
        ll_list(&batches.1),
        batches.0.len()
    );
    finish(e, code)
}

fn finish(e: &mut Emitter, code: String) -> Result<(), String> {
    e.block(&code);
    Ok(())
}

/// For each batch index of the broadcast batch shape (row-major), the batch
/// index of each operand (numpy broadcasting of the leading dims).
fn batch_offsets(a: &[u64], b: &[u64]) -> Result<(Vec<i64>, Vec<i64>), String> {
    let rank = a.len().max(b.len());
    let pad = |s: &[u64]| {
        let mut v = vec![1u64; rank - s.len()];
        v.extend_from_slice(s);
        v
    };
    let (pa, pb) = (pad(a), pad(b));
    let mut out = Vec::with_capacity(rank);
    for (&x, &y) in pa.iter().zip(&pb) {
        if x != y && x != 1 && y != 1 {
            return Err(format!("batch dims {x} and {y} do not broadcast"));
        }
        out.push(x.max(y));
    }
    let (sa, sb) = (strides(&pa), strides(&pb));
    let total: u64 = out.iter().product();
    let mut offs = (Vec::new(), Vec::new());
    for flat in 0..total {
        let (mut rest, mut ia, mut ib) = (flat, 0u64, 0u64);
        for d in (0..rank).rev() {
            let i = rest % out[d].max(1);
            rest /= out[d].max(1);
            if pa[d] != 1 {
                ia += i * sa[d];
            }
            if pb[d] != 1 {
                ib += i * sb[d];
            }
        }
        offs.0.push(ia as i64);
        offs.1.push(ib as i64);
    }
    Ok(offs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_broadcast() {
        assert_eq!(batch_offsets(&[2, 3], &[]).unwrap(), (vec![0, 1, 2, 3, 4, 5], vec![0; 6]));
        assert_eq!(batch_offsets(&[1, 2], &[3, 1]).unwrap(), (vec![0, 1, 0, 1, 0, 1], vec![0, 0, 1, 1, 2, 2]));
        assert!(batch_offsets(&[2], &[3]).is_err());
    }
}
