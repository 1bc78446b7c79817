//! The float ops that stay around the integer core of a quantized model:
//! the embedding lookups (`nn.gather`), the ViT patch projection
//! (`nn.conv`, 2-D), the class-token `nn.concat`, layout changes
//! (`nn.transpose`; `nn.reshape` is an alias), the attention-mask
//! arithmetic (`nn.cast` from integers, f32 `nn.add`/`nn.sub`/`nn.mul`/
//! `nn.div`). Every other nn op is "no engine".
//!
//! Invariants: f32 arithmetic computes in f64 and rounds once (as the
//! interpreter does; for + - * / this equals the f32 operation); the
//! convolution sums its products in f64 in the interpreter's order
//! (channel, then kernel row, then kernel column), starting from +0, and
//! rounds once; integer-to-f32 casts round to nearest even; gather indices
//! wrap negatives like the interpreter and clamp what it would reject.

use super::loops::{elementwise, index_expr, strides};
use super::{int_attr, ints_attr};
use super::{operand, Emitter};
use crate::hls::storage::{Class, Place};
use weft_ir::ops::shape::normalize_axis;
use weft_ir::{ElemType, OpData};

pub fn emit(e: &mut Emitter, data: &OpData) -> Result<bool, String> {
    match data.name() {
        "nn.add" => arith(e, data, "+")?,
        "nn.sub" => arith(e, data, "-")?,
        "nn.mul" => arith(e, data, "*")?,
        "nn.div" => arith(e, data, "/")?,
        "nn.cast" => cast(e, data)?,
        "nn.transpose" => transpose(e, data)?,
        "nn.concat" => concat(e, data)?,
        "nn.gather" => gather(e, data)?,
        "nn.conv" => conv(e, data)?,
        _ => return Ok(false),
    }
    Ok(true)
}

fn arith(e: &mut Emitter, data: &OpData, op: &str) -> Result<(), String> {
    let (a, b) = (operand(data, 0)?, operand(data, 1)?);
    if e.class(a)? != Class::F32 || e.class(b)? != Class::F32 {
        return Err(format!("{} on integers has no engine in the HLS backend (f32 only)", data.name()));
    }
    let (ash, bsh) = (e.tensor(a)?.0, e.tensor(b)?.0);
    let (ra, rb) = (e.read(a, "x0")?, e.read(b, "x1")?);
    let (place, shape, _) = e.alloc_result(data)?;
    let body = place.store("o", &format!("(float)((double){ra} {op} (double){rb})"))?;
    e.block(&elementwise(&shape, &[&ash, &bsh], &body));
    Ok(())
}

fn cast(e: &mut Emitter, data: &OpData) -> Result<(), String> {
    let x = operand(data, 0)?;
    let (xs, xelem) = e.tensor(x)?;
    let read = e.read(x, "x0")?;
    let (place, shape, elem) = e.alloc_result(data)?;
    let body = match (xelem, elem) {
        (ElemType::Int { width: 64, signed: false }, ElemType::F32) => {
            place.store("o", &format!("(float)(uint64_t){read}"))?
        }
        (ElemType::Int { .. } | ElemType::Bool, ElemType::F32) => {
            place.store("o", &format!("(float)(int64_t){read}"))?
        }
        (ElemType::F32, ElemType::F32) => place.store("o", &read)?,
        (from, to) => return Err(format!("a cast from {from} to {to} has no engine in the HLS backend")),
    };
    e.block(&elementwise(&shape, &[&xs], &body));
    Ok(())
}

/// Copies `src` into `dst` over the output, the source index given by
/// strides over the output's loop indices.
fn copy_nest(out: &[u64], src_strides: &[u64], src: &Place, dst: &Place) -> Result<String, String> {
    let mut s = String::new();
    for (d, &n) in out.iter().enumerate() {
        s.push_str(&format!("for (long long i{d} = 0; i{d} < {n}LL; ++i{d}) {{\n"));
    }
    s.push_str("#pragma HLS PIPELINE II=1\n");
    let o = index_expr(&strides(out));
    let from = src.read(&index_expr(src_strides));
    s.push_str(&dst.store(&o, &from)?);
    s.push('\n');
    for _ in out {
        s.push_str("}\n");
    }
    Ok(s)
}

fn transpose(e: &mut Emitter, data: &OpData) -> Result<(), String> {
    let x = operand(data, 0)?;
    let xs = e.tensor(x)?.0;
    let perm = ints_attr(&data.attrs, "perm")?;
    let xst = strides(&xs);
    let src: Vec<u64> = perm
        .iter()
        .map(|&p| usize::try_from(p).ok().and_then(|p| xst.get(p).copied()).ok_or("perm is out of range"))
        .collect::<Result<_, _>>()?;
    let place_x = e.place(x)?.clone();
    let (place, shape, _) = e.alloc_result(data)?;
    let code = copy_nest(&shape, &src, &place_x, &place)?;
    e.block(&code);
    Ok(())
}

fn concat(e: &mut Emitter, data: &OpData) -> Result<(), String> {
    let v = super::result(data)?;
    let rank = e.tensor(v)?.0.len();
    let axis = normalize_axis(int_attr(&data.attrs, "axis")?, rank)?;
    let (place, shape, _) = e.alloc_result(data)?;
    let out_strides = strides(&shape);
    let mut code = String::new();
    let mut start = 0u64;
    for &x in &data.operands {
        let xs = e.tensor(x)?.0;
        let px = e.place(x)?.clone();
        let xst = strides(&xs);
        // Loop over the operand; write at the output index shifted along the axis.
        let base = start * out_strides.get(axis).copied().unwrap_or(0);
        let out_idx = index_expr(&out_strides);
        let mut s = String::new();
        for (d, &n) in xs.iter().enumerate() {
            s.push_str(&format!("for (long long i{d} = 0; i{d} < {n}LL; ++i{d}) {{\n"));
        }
        s.push_str("#pragma HLS PIPELINE II=1\n");
        s.push_str(&place.store(&format!("{base}LL + {out_idx}"), &px.read(&index_expr(&xst)))?);
        s.push('\n');
        for _ in &xs {
            s.push_str("}\n");
        }
        code.push_str(&format!("{{\n{s}}}\n"));
        start += xs.get(axis).copied().unwrap_or(0);
    }
    e.block(&code);
    Ok(())
}

fn gather(e: &mut Emitter, data: &OpData) -> Result<(), String> {
    let (d, ix) = (operand(data, 0)?, operand(data, 1)?);
    let ds = e.tensor(d)?.0;
    let is = e.tensor(ix)?.0;
    let axis = normalize_axis(int_attr(&data.attrs, "axis")?, ds.len())?;
    let extent = ds.get(axis).copied().ok_or("cannot gather from a scalar")?;
    let inner: u64 = ds.iter().skip(axis + 1).product();
    let outer: u64 = ds.iter().take(axis).product();
    let n: u64 = is.iter().product();
    let (pd, pi) = (e.place(d)?.clone(), e.place(ix)?.clone());
    let (place, _, _) = e.alloc_result(data)?;
    let src = pd.read(&format!("(o0 * {extent}LL + r) * {inner}LL + k"));
    let put = place.store(&format!("(o0 * {n}LL + j) * {inner}LL + k"), &src)?;
    let code = format!(
        "for (long long o0 = 0; o0 < {outer}LL; ++o0) {{\n  for (long long j = 0; j < {n}LL; ++j) {{\n    long long r = (long long){};\n    if (r < 0) r += {extent}LL;\n    if (r < 0) r = 0;\n    if (r >= {extent}LL) r = {extent}LL - 1;\n    for (long long k = 0; k < {inner}LL; ++k) {{\n#pragma HLS PIPELINE II=1\n      {put}\n    }}\n  }}\n}}\n",
        pi.read("j")
    );
    e.block(&code);
    Ok(())
}

fn conv(e: &mut Emitter, data: &OpData) -> Result<(), String> {
    let (x, w) = (operand(data, 0)?, operand(data, 1)?);
    if data.operands.len() != 2 {
        return Err("nn.conv with a bias operand has no engine in the HLS backend".into());
    }
    let (xs, ws) = (e.tensor(x)?.0, e.tensor(w)?.0);
    if xs.len() != 4 || ws.len() != 4 || e.class(x)? != Class::F32 {
        return Err("only 2-D f32 convolutions have an engine in the HLS backend".into());
    }
    let attrs = &data.attrs;
    let strides_a = ints_attr(attrs, "strides").unwrap_or_else(|_| vec![1, 1]);
    let dil = ints_attr(attrs, "dilations").unwrap_or_else(|_| vec![1, 1]);
    let pads = ints_attr(attrs, "pads").unwrap_or_else(|_| vec![0; 4]);
    let groups = int_attr(attrs, "groups").unwrap_or(1).max(1) as u64;
    let (&[sh, sw], &[dh, dw], &[pt, pl, _, _]) = (strides_a.as_slice(), dil.as_slice(), pads.as_slice()) else {
        return Err("a 2-D convolution needs 2 strides, 2 dilations and 4 pads".into());
    };
    let (px, pw) = (e.place(x)?.clone(), e.place(w)?.clone());
    let (place, os, _) = e.alloc_result(data)?;
    let (cg, mg) = (ws[1], os[1] / groups);
    let (xst, wst) = (strides(&xs), strides(&ws));
    let put = place.store(&index_expr(&strides(&os)), "(float)sum")?;
    let xr = px.read(&format!("b * {}LL + (g * {cg}LL + c) * {}LL + ih * {}LL + iw", xst[0], xst[1], xst[2]));
    let wr = pw.read(&format!("i1 * {}LL + c * {}LL + kh * {}LL + kw", wst[0], wst[1], wst[2]));
    let code = format!(
        "for (long long i0 = 0; i0 < {b}LL; ++i0) {{\nfor (long long i1 = 0; i1 < {m}LL; ++i1) {{\nfor (long long i2 = 0; i2 < {oh}LL; ++i2) {{\nfor (long long i3 = 0; i3 < {ow}LL; ++i3) {{\n  const long long b = i0, g = i1 / {mg}LL;\n  double sum = 0.0;\n  for (long long c = 0; c < {cg}LL; ++c) {{\n    for (long long kh = 0; kh < {kh}LL; ++kh) {{\n      for (long long kw = 0; kw < {kw}LL; ++kw) {{\n#pragma HLS PIPELINE II=1\n        const long long ih = i2 * {sh}LL + kh * {dh}LL - {pt}LL;\n        const long long iw = i3 * {sw}LL + kw * {dw}LL - {pl}LL;\n        if (ih < 0 || ih >= {h}LL || iw < 0 || iw >= {wd}LL) continue;\n        sum += (double){xr} * (double){wr};\n      }}\n    }}\n  }}\n  {put}\n}}\n}}\n}}\n}}\n",
        b = os[0], m = os[1], oh = os[2], ow = os[3], kh = ws[2], kw = ws[3], h = xs[2], wd = xs[3], mg = mg.max(1)
    );
    e.block(&code);
    Ok(())
}
