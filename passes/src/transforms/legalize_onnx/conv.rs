//! Rules for Conv and ConvTranspose: ONNX's defaults and `auto_pad` (and
//! ConvTranspose's `output_shape` and `output_padding`) become explicit
//! strides, dilations and begin/end padding; a bias input becomes a
//! broadcasting `nn.add`.
//!
//! Invariants: padding derived from `SAME_*` or `output_shape` follows the
//! ONNX reference (the odd unit goes at the end for SAME_UPPER and at the
//! beginning otherwise, halves rounded toward negative infinity, so an
//! output larger than the convolution reaches gets negative padding);
//! ConvTranspose's `output_padding` is subtracted from the end padding. It
//! needs static spatial extents, which the nn op's shape inference then
//! checks again against the result type the importer declared.

use super::builder::{attrs, ints, Replacement, Rewriter};
use super::LegalizeError;
use weft_ir::ops::nn;
use weft_ir::{Attribute, Value};

/// Strides, dilations and the attributes shared by both convolutions.
struct Geometry {
    strides: Vec<u64>,
    dilations: Vec<u64>,
    kernel: Vec<u64>,
    input: Vec<u64>,
    auto_pad: String,
    group: i64,
}

fn per_dim(rw: &Rewriter, name: &str, n: usize, default: i64) -> Result<Vec<u64>, LegalizeError> {
    let v = rw.attr_ints(name).unwrap_or_else(|| vec![default; n]);
    if v.len() != n {
        return Err(LegalizeError::new(format!("'{name}' has {} values for {n} spatial dims", v.len())));
    }
    v.iter()
        .map(|&x| u64::try_from(x).map_err(|_| LegalizeError::new(format!("'{name}' has a negative value {x}"))))
        .collect()
}

fn geometry(rw: &Rewriter, x: Value, w: Value) -> Result<Geometry, LegalizeError> {
    let (xs, ws) = (rw.shape(x)?, rw.shape(w)?);
    let n = xs.len().checked_sub(2).filter(|&n| n > 0).ok_or_else(|| LegalizeError::new("needs spatial dims"))?;
    if ws.len() != xs.len() {
        return Err(LegalizeError::new(format!("has an input of rank {} but a weight of rank {}", xs.len(), ws.len())));
    }
    Ok(Geometry {
        strides: per_dim(rw, "strides", n, 1)?,
        dilations: per_dim(rw, "dilations", n, 1)?,
        kernel: ws.get(2..).unwrap_or_default().to_vec(),
        input: xs[2..].to_vec(),
        auto_pad: rw.attr_str("auto_pad", "NOTSET"),
        group: rw.attr_int("group", 1),
    })
}

impl Geometry {
    fn span(&self, i: usize) -> u64 {
        self.kernel[i].saturating_sub(1) * self.dilations[i] + 1
    }

    /// Splits a total padding by `auto_pad`'s rule: `(begin, end)`.
    fn split(&self, total: i64) -> (i64, i64) {
        let small = total.div_euclid(2);
        if self.auto_pad == "SAME_UPPER" {
            (small, total - small)
        } else {
            (total - small, small)
        }
    }
}

/// Conv's padding: `[begin.., end..]`.
fn conv_pads(rw: &Rewriter, g: &Geometry) -> Result<Vec<i64>, LegalizeError> {
    let n = g.input.len();
    match g.auto_pad.as_str() {
        "SAME_UPPER" | "SAME_LOWER" => {
            let mut pads = vec![0; 2 * n];
            for i in 0..n {
                let out = g.input[i].div_ceil(g.strides[i].max(1));
                let total = ((out.saturating_sub(1)) * g.strides[i] + g.span(i)).saturating_sub(g.input[i]);
                (pads[i], pads[n + i]) = g.split(total as i64);
            }
            Ok(pads)
        }
        "VALID" => Ok(vec![0; 2 * n]),
        _ => Ok(per_dim(rw, "pads", 2 * n, 0)?.into_iter().map(|p| p as i64).collect()),
    }
}

/// The conv attributes of nn.
fn conv_attrs(g: &Geometry, pads: &[i64]) -> weft_ir::Attrs {
    attrs(&[
        ("strides", ints(&g.strides)),
        ("dilations", ints(&g.dilations)),
        ("pads", ints(pads)),
        ("groups", Attribute::Int(g.group)),
    ])
}

/// Adds bias operand 2 (shape `[M]`) along dim 1, if present.
fn add_bias(rw: &mut Rewriter, y: Value) -> Result<Value, LegalizeError> {
    let Some(b) = rw.optional(2) else { return Ok(y) };
    let m = rw.shape(b)?;
    let rank = rw.rank(y);
    let shape: Vec<u64> = m.iter().copied().chain(std::iter::repeat_n(1, rank.saturating_sub(2))).collect();
    let b = rw.reshape(b, &shape)?;
    rw.binary(&nn::ADD, y, b)
}

pub fn conv(rw: &mut Rewriter) -> Replacement {
    let (x, w) = (rw.operand(0)?, rw.operand(1)?);
    let g = geometry(rw, x, w)?;
    let pads = conv_pads(rw, &g)?;
    let y = rw.build(&nn::CONV, &[x, w], conv_attrs(&g, &pads))?;
    Ok(vec![add_bias(rw, y)?])
}

pub fn conv_transpose(rw: &mut Rewriter) -> Replacement {
    let (x, w) = (rw.operand(0)?, rw.operand(1)?);
    let g = geometry(rw, x, w)?;
    let n = g.input.len();
    let output_padding = per_dim(rw, "output_padding", n, 0)?;
    let mut pads = transpose_pads(rw, &g, &output_padding)?;
    for (end, &extra) in pads[n..].iter_mut().zip(&output_padding) {
        *end -= extra as i64;
    }
    let y = rw.build(&nn::CONV_TRANSPOSE, &[x, w], conv_attrs(&g, &pads))?;
    Ok(vec![add_bias(rw, y)?])
}

/// ConvTranspose's ONNX padding: from `output_shape` or `SAME_*` when
/// given (`total = stride * (in - 1) + output_padding + span - out`), else
/// `pads`.
fn transpose_pads(rw: &Rewriter, g: &Geometry, output_padding: &[u64]) -> Result<Vec<i64>, LegalizeError> {
    let n = g.input.len();
    let same = g.auto_pad.starts_with("SAME");
    let targets: Option<Vec<u64>> = match rw.attr_ints("output_shape") {
        Some(s) => {
            let s = if s.len() == n + 2 { s[2..].to_vec() } else { s };
            Some(s.iter().map(|&v| v.max(0) as u64).collect())
        }
        None if same => Some((0..n).map(|i| g.input[i] * g.strides[i]).collect()),
        None => None,
    };
    let Some(targets) = targets else {
        return if g.auto_pad == "VALID" {
            Ok(vec![0; 2 * n])
        } else {
            Ok(per_dim(rw, "pads", 2 * n, 0)?.into_iter().map(|p| p as i64).collect())
        };
    };
    if targets.len() != n {
        return Err(LegalizeError::new(format!("'output_shape' has {} values for {n} spatial dims", targets.len())));
    }
    let mut pads = vec![0; 2 * n];
    for i in 0..n {
        let full = g.strides[i] as i128 * (g.input[i] as i128 - 1) + output_padding[i] as i128 + g.span(i) as i128;
        let total = i64::try_from(full - targets[i] as i128).map_err(|_| {
            LegalizeError::new(format!("output extent {} of spatial dim {i} is out of range", targets[i]))
        })?;
        (pads[i], pads[n + i]) = g.split(total);
    }
    Ok(pads)
}
