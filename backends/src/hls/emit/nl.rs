//! The nl dialect in C++: every primitive as an elementwise loop (or a
//! reduction over one axis) on exact 128-bit values (`wide_t`) with the
//! saturating helpers of weft_ops.h, clamped once to the declared result
//! type and stored through an `ap_int<W>`/`ap_uint<W>` of that width.
//! Appro-Exp, Appro-LN, the quadratic, the square root and the divider run
//! on the shared units ([`super::units`]).
//!
//! Invariants: each op's expression mirrors its `eval` in
//! `weft_ir::ops::nl` step by step (same saturation points, same rounding).

use super::loops::{elementwise, with_lanes};
use super::units::Unit;
use super::{int_attr, ints_attr};
use super::{operand, Emitter};
use crate::hls::storage::Place;
use crate::hls::text::wide_literal;
use weft_ir::ops::nl::unit::coeffs;
use weft_ir::ops::nl::{Exp2Format, Log2Format, Rounding};
use weft_ir::ops::shape::normalize_axis;
use weft_ir::{ElemType, OpData};

/// Emits an nl op; false when the op is not an nl primitive the backend knows.
pub fn emit(e: &mut Emitter, data: &OpData) -> Result<bool, String> {
    match data.name() {
        "nl.max_tree" => tree(e, data, "WIDE_MIN", "w_max"),
        "nl.add_tree" => tree(e, data, "(wide_t)0", "w_add"),
        _ => return elementwise_op(e, data),
    }
    .map(|()| true)
}

fn elementwise_op(e: &mut Emitter, data: &OpData) -> Result<bool, String> {
    let mut args = Vec::new();
    let mut shapes = Vec::new();
    for (k, &v) in data.operands.iter().enumerate() {
        let (shape, elem) = e.tensor(v)?;
        args.push(wide_read(&e.read(v, &format!("x{k}"))?, elem));
        shapes.push(shape);
    }
    let Some(expr) = scalar(e, data, &args)? else { return Ok(false) };
    let (place, shape, elem) = e.alloc_result(data)?;
    let body = format!("const wide_t r = {expr};\n{}", store(&place, "o", "r", elem)?);
    let refs: Vec<&[u64]> = shapes.iter().map(Vec::as_slice).collect();
    e.block(&with_lanes(&elementwise(&shape, &refs, &body), e.tiling.lanes));
    Ok(true)
}

/// The expression computing one element from the operands' values.
fn scalar(e: &mut Emitter, data: &OpData, a: &[String]) -> Result<Option<String>, String> {
    let arg = |i: usize| a.get(i).cloned().ok_or_else(|| format!("operand #{i} is missing"));
    let attrs = &data.attrs;
    Ok(Some(match data.name() {
        "nl.cast" => arg(0)?,
        "nl.add" => format!("w_add({}, {})", arg(0)?, arg(1)?),
        "nl.sub" => format!("w_sub({}, {})", arg(0)?, arg(1)?),
        "nl.mul" => format!("w_mul({}, {})", arg(0)?, arg(1)?),
        "nl.max" => format!("w_max({}, {})", arg(0)?, arg(1)?),
        "nl.min" => format!("w_min({}, {})", arg(0)?, arg(1)?),
        "nl.mux" => format!("(({}) < 0 ? ({}) : ({}))", arg(0)?, arg(1)?, arg(2)?),
        "nl.div" => format!("{}({}, {})", e.units.call(Unit::Div), arg(0)?, arg(1)?),
        "nl.shift" => {
            let k = int_attr(attrs, "amount")?;
            format!("w_shift({}, {k}LL, {})", arg(0)?, rounding(data)?)
        }
        "nl.barrel_shift" => {
            format!("w_shift({}, (long long)w_clamp({}, -126, 126), {})", arg(0)?, arg(1)?, rounding(data)?)
        }
        "nl.lod" => format!("w_lod({})", arg(0)?),
        "nl.isqrt" => format!("{}({})", e.units.call(Unit::Isqrt), arg(0)?),
        "nl.poly2" => {
            let [ca, cb, cc] = coeffs(attrs)?;
            let frac = int_attr(attrs, "frac")?;
            let f = e.units.call(Unit::Poly2);
            format!("{f}({}, {}, {}, {}, {frac})", arg(0)?, wide_literal(ca), wide_literal(cb), wide_literal(cc))
        }
        "nl.exp2" => {
            let f = Exp2Format::from_attrs(attrs)?;
            let rom = e.units.table(&flatten(&f.coeffs)?);
            let func = e.units.call(Unit::Exp2);
            let (frac, cf, of, s) = (f.frac, f.coeff_frac, f.out_frac, f.coeffs.len());
            format!("{func}({}, {frac}, {rom}, {s}, {cf}, {of})", arg(0)?)
        }
        "nl.log2" => {
            let f = Log2Format::from_attrs(attrs)?;
            let rom = e.units.table(&flatten(&f.coeffs)?);
            let func = e.units.call(Unit::Log2);
            let (frac, mf, of, s) = (f.frac, f.mantissa_frac, f.out_frac, f.coeffs.len());
            format!("{func}({}, {frac}, {mf}, {rom}, {s}, {of})", arg(0)?)
        }
        "nl.lut" => {
            let table = ints_attr(attrs, "table")?;
            let offset = int_attr(attrs, "offset")?;
            if table.is_empty() {
                return Err("attribute 'table' is empty".into());
            }
            let rom = e.units.table(&table);
            let last = table.len() - 1;
            format!("(wide_t){rom}[(int)w_clamp(w_sub({}, (wide_t){offset}LL), 0, {last})]", arg(0)?)
        }
        _ => return Ok(None),
    }))
}

fn rounding(data: &OpData) -> Result<&'static str, String> {
    Ok(match Rounding::from_attrs(&data.attrs)? {
        Rounding::Floor => "ROUND_FLOOR",
        Rounding::Ceil => "ROUND_CEIL",
        Rounding::Nearest => "ROUND_NEAREST",
    })
}

fn flatten(rows: &[[i128; 3]]) -> Result<Vec<i64>, String> {
    rows.iter()
        .flatten()
        .map(|&c| i64::try_from(c).map_err(|_| format!("coefficient {c} does not fit in 64 bits")))
        .collect()
}

/// A reduction along `axis`: `acc = f(acc, x)` from `init` over the lanes.
fn tree(e: &mut Emitter, data: &OpData, init: &str, f: &str) -> Result<(), String> {
    let x = operand(data, 0)?;
    let (shape, elem) = e.tensor(x)?;
    let axis = normalize_axis(int_attr(&data.attrs, "axis")?, shape.len())?;
    let n = shape.get(axis).copied().unwrap_or(1);
    let outer: u64 = shape.iter().take(axis).product();
    let inner: u64 = shape.iter().skip(axis + 1).product();
    let read = wide_read(&e.read(x, &format!("(i0 * {n}LL + k) * {inner}LL + i1"))?, elem);
    let (place, _, relem) = e.alloc_result(data)?;
    let code = format!(
        "for (long long i0 = 0; i0 < {outer}LL; ++i0) {{\n  for (long long i1 = 0; i1 < {inner}LL; ++i1) {{\n    wide_t acc = {init};\n    for (long long k = 0; k < {n}LL; ++k) {{\n#pragma HLS PIPELINE II=1\n      acc = {f}(acc, {read});\n    }}\n    {}\n  }}\n}}\n",
        store(&place, &format!("i0 * {inner}LL + i1"), "acc", relem)?
    );
    e.block(&with_lanes(&code, e.tiling.lanes));
    Ok(())
}

/// An operand's stored integer as its exact `wide_t` value (a u64 above
/// `i64::MAX` keeps its meaning).
pub fn wide_read(expr: &str, elem: &ElemType) -> String {
    match elem {
        ElemType::Int { width: 64, signed: false } => format!("(wide_t)(uint64_t)({expr})"),
        _ => format!("(wide_t)({expr})"),
    }
}

/// Stores `value` saturated to `elem` and passed through an integer of its
/// exact width as element `idx` of `place`.
pub fn store(place: &Place, idx: &str, value: &str, elem: &ElemType) -> Result<String, String> {
    let (width, signed) = match elem {
        ElemType::Int { width, signed } => (*width, *signed),
        ElemType::Quant(q) => (q.width, q.signed),
        other => return Err(format!("an nl result must be an integer, got {other}")),
    };
    let w = u32::from(width.clamp(1, 64));
    let (lo, hi) = if signed { (-(1i128 << (w - 1)), (1i128 << (w - 1)) - 1) } else { (0, (1i128 << w) - 1) };
    let clamped = format!("w_clamp({value}, {}, {})", wide_literal(lo), wide_literal(hi));
    let exact = if signed {
        format!("(int64_t)ap_int<{w}>((long long){clamped}).to_int64()")
    } else {
        format!("(int64_t)ap_uint<{w}>((unsigned long long){clamped}).to_uint64()")
    };
    place.store(idx, &exact)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stores_saturate_to_the_declared_width() {
        let p = Place::Act { word: 0, bits: 9, signed: true, per: 7 };
        let s = store(&p, "o", "r", &ElemType::Int { width: 9, signed: true }).unwrap();
        assert_eq!(
            s,
            "act_put(act_i + 0LL, o, 9, 7, (int64_t)ap_int<9>((long long)w_clamp(r, (wide_t)-256LL, (wide_t)255LL)).to_int64());"
        );
        let u = store(&p, "o", "r", &ElemType::Int { width: 4, signed: false }).unwrap();
        assert!(u.contains("ap_uint<4>") && u.contains("(wide_t)15LL"), "{u}");
        assert!(store(&p, "o", "r", &ElemType::F32).is_err());
        assert_eq!(super::super::units::Units::unit_for("nl.exp2"), Some(Unit::Exp2));
    }
}
