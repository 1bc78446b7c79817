//! Helpers for the reference semantics of ops: elementwise maps with numpy
//! broadcasting, integer wrapping, batched matmul. Simple and obviously
//! correct rather than fast: this is the ground truth other engines match.
//!
//! Invariants: float math is done in f64 and rounded once to the element
//! type (for + - * / this equals the native f32 operation); integer math
//! wraps to the element type's width (two's complement).

use crate::tensor::{Scalar, Tensor};
use crate::types::{Dim, ElemType};

/// Wraps `v` to `width` bits, signed or unsigned.
pub fn wrap_int(v: i64, width: u8, signed: bool) -> i64 {
    if width >= 64 {
        return v;
    }
    let mask = ((1u64 << width) - 1) as i64;
    let low = v & mask;
    if signed && low >> (width - 1) & 1 == 1 {
        // Sign extension; `low - 2^width` would overflow for width 63.
        low | !mask
    } else {
        low
    }
}

/// Rounds or wraps a computed scalar to `elem`.
pub fn to_elem(elem: &ElemType, s: Scalar) -> Scalar {
    match (elem, s) {
        (ElemType::Int { width, signed }, Scalar::Int(i)) => Scalar::Int(wrap_int(i, *width, *signed)),
        (ElemType::Bool, Scalar::Int(i)) => Scalar::Int((i != 0) as i64),
        _ => s,
    }
}

fn fixed_shape(t: &Tensor) -> Vec<Dim> {
    t.shape.iter().map(|&d| Dim::Fixed(d)).collect()
}

/// The flat index into a tensor of `shape` read at output index `out`
/// (given as a multi-index aligned at the right) under broadcasting.
fn broadcast_source(out: &[u64], shape: &[u64], strides: &[u64]) -> usize {
    let pad = out.len() - shape.len();
    let mut idx = 0;
    for (i, &d) in shape.iter().enumerate() {
        if d != 1 {
            idx += out[pad + i] * strides[i];
        }
    }
    idx as usize
}

/// Multi-index of flat position `flat` in `shape`.
pub fn unflatten(mut flat: u64, shape: &[u64], out: &mut [u64]) {
    for i in (0..shape.len()).rev() {
        out[i] = flat % shape[i].max(1);
        flat /= shape[i].max(1);
    }
}

/// Applies `f` elementwise with numpy broadcasting.
pub fn binary(a: &Tensor, b: &Tensor, f: impl Fn(Scalar, Scalar) -> Result<Scalar, String>) -> Result<Tensor, String> {
    let shape = super::shape::broadcast_shapes(&fixed_shape(a), &fixed_shape(b))?;
    let shape: Vec<u64> = shape.iter().map(|d| d.fixed().unwrap_or(0)).collect();
    let (sa, sb) = (Tensor::strides(&a.shape), Tensor::strides(&b.shape));
    let n: u64 = shape.iter().product();
    let mut data = crate::tensor::TensorData::empty_for(&a.elem, n as usize);
    let mut idx = vec![0u64; shape.len()];
    for flat in 0..n {
        unflatten(flat, &shape, &mut idx);
        let x = a.data.get(broadcast_source(&idx, &a.shape, &sa));
        let y = b.data.get(broadcast_source(&idx, &b.shape, &sb));
        data.push(to_elem(&a.elem, f(x, y)?));
    }
    Ok(Tensor { elem: a.elem.clone(), shape, data })
}

/// Applies `f` to the elements of `inputs` at each index of their numpy
/// broadcast shape, producing a tensor of `elem` (results are rounded or
/// wrapped to `elem` as by [`to_elem`]). Unlike [`binary`], the result
/// element type is free, and any number of operands broadcast together.
pub fn broadcast_map(
    inputs: &[&Tensor],
    elem: &ElemType,
    mut f: impl FnMut(&[Scalar]) -> Result<Scalar, String>,
) -> Result<Tensor, String> {
    let shapes: Vec<Vec<Dim>> = inputs.iter().map(|t| fixed_shape(t)).collect();
    let refs: Vec<&[Dim]> = shapes.iter().map(Vec::as_slice).collect();
    let shape = super::shape::broadcast_many(&refs)?;
    let shape: Vec<u64> = shape.iter().map(|d| d.fixed().unwrap_or(0)).collect();
    let strides: Vec<Vec<u64>> = inputs.iter().map(|t| Tensor::strides(&t.shape)).collect();
    let n: u64 = shape.iter().product();
    let mut data = crate::tensor::TensorData::empty_for(elem, n as usize);
    let mut idx = vec![0u64; shape.len()];
    let mut args = vec![Scalar::Int(0); inputs.len()];
    for flat in 0..n {
        unflatten(flat, &shape, &mut idx);
        for (k, t) in inputs.iter().enumerate() {
            args[k] = t.data.get(broadcast_source(&idx, &t.shape, &strides[k]));
        }
        data.push(to_elem(elem, f(&args)?));
    }
    Ok(Tensor { elem: elem.clone(), shape, data })
}

/// Rounds `x` to the nearest value of the float type `elem` (ties to
/// even; beyond the largest finite value, an infinity); other element
/// types leave `x` as it is. The result converts to `elem` exactly.
///
/// f16 and bf16 are rounded here rather than by `half`'s `from_f64`, which
/// goes through f32 or drops low bits and so can round twice
/// (`1 + 2^-11 + 2^-30` must give `1 + 2^-10`, not 1).
pub fn round_to(elem: &ElemType, x: f64) -> f64 {
    match elem {
        ElemType::F16 => round_to_format(x, 10, -14, 65504.0),
        ElemType::BF16 => round_to_format(x, 7, -126, half::bf16::MAX.to_f64()),
        ElemType::F32 => x as f32 as f64,
        _ => x,
    }
}

/// Rounds `x` to a binary float format with `fraction_bits` stored
/// significand bits, least normal exponent `min_exp` and largest finite
/// value `max`: scaling by the unit in the last place is exact in f64, so
/// one `round_ties_even` is the only rounding.
fn round_to_format(x: f64, fraction_bits: i32, min_exp: i32, max: f64) -> f64 {
    if !x.is_finite() || x == 0.0 {
        return x;
    }
    let a = x.abs();
    let exp = ((a.to_bits() >> 52) & 0x7ff) as i32 - 1023;
    let ulp = 2f64.powi(exp.max(min_exp) - fraction_bits);
    let r = (a / ulp).round_ties_even() * ulp;
    let r = if r > max { f64::INFINITY } else { r };
    r.copysign(x)
}

/// Applies `f` to every element.
pub fn unary(a: &Tensor, f: impl Fn(Scalar) -> Scalar) -> Tensor {
    Tensor::from_fn(a.elem.clone(), a.shape.clone(), |i| to_elem(&a.elem, f(a.data.get(i))))
}

/// A float function lifted to scalars (integers are converted).
pub fn float_fn(f: impl Fn(f64) -> f64) -> impl Fn(Scalar) -> Scalar {
    move |s| match s {
        Scalar::Float(x) => Scalar::Float(f(x)),
        Scalar::Int(i) => Scalar::Float(f(i as f64)),
    }
}

/// Batched matmul with broadcast batch dims. Each output element of an f32
/// (f64) product is a chain of fused multiply-adds in f32 (f64): `acc =
/// +0.0`, then `acc = fma(a[i, p], b[p, j], acc)` for `p` ascending; f16
/// and bf16 accumulate in f64 and round once; integers accumulate with
/// wrapping in i64 and wrap to the element width.
pub fn matmul(a: &Tensor, b: &Tensor) -> Result<Tensor, String> {
    let out = super::shape::matmul_shape(&fixed_shape(a), &fixed_shape(b))?;
    for t in [a, b] {
        if t.data.len() as u64 != t.shape.iter().product::<u64>() {
            return Err(format!("an operand of shape {:?} holds {} elements", t.shape, t.data.len()));
        }
    }
    let out: Vec<u64> = out.iter().map(|d| d.fixed().unwrap_or(0)).collect();
    let r = out.len();
    let (m, n, k) = (out[r - 2], out[r - 1], a.shape[a.shape.len() - 1]);
    let batch = &out[..r - 2];
    let (sa, sb) = (Tensor::strides(&a.shape[..a.shape.len() - 2]), Tensor::strides(&b.shape[..b.shape.len() - 2]));
    let nb: u64 = batch.iter().product();
    let mut data = crate::tensor::TensorData::empty_for(&a.elem, (nb * m * n) as usize);
    let mut bidx = vec![0u64; batch.len()];
    for bi in 0..nb {
        unflatten(bi, batch, &mut bidx);
        let a0 = broadcast_source(&bidx, &a.shape[..a.shape.len() - 2], &sa) * (m * k) as usize;
        let b0 = broadcast_source(&bidx, &b.shape[..b.shape.len() - 2], &sb) * (k * n) as usize;
        for i in 0..m {
            for j in 0..n {
                let acc = dot(a, b, a0 + (i * k) as usize, b0 + j as usize, k as usize, n as usize);
                data.push(to_elem(&a.elem, acc));
            }
        }
    }
    Ok(Tensor { elem: a.elem.clone(), shape: out, data })
}

fn dot(a: &Tensor, b: &Tensor, a0: usize, b0: usize, k: usize, n: usize) -> Scalar {
    use crate::tensor::TensorData;
    match (&a.data, &b.data) {
        (TensorData::F32(x), TensorData::F32(y)) => {
            let acc = (0..k).fold(0f32, |acc, p| x[a0 + p].mul_add(y[b0 + p * n], acc));
            return Scalar::Float(f64::from(acc));
        }
        (TensorData::F64(x), TensorData::F64(y)) => {
            return Scalar::Float((0..k).fold(0f64, |acc, p| x[a0 + p].mul_add(y[b0 + p * n], acc)));
        }
        _ => {}
    }
    let (mut fa, mut ia) = (0f64, 0i64);
    for p in 0..k {
        match (a.data.get(a0 + p), b.data.get(b0 + p * n)) {
            (Scalar::Int(x), Scalar::Int(y)) => ia = ia.wrapping_add(x.wrapping_mul(y)),
            (x, y) => fa += as_f64(x) * as_f64(y),
        }
    }
    if a.elem.is_float() {
        Scalar::Float(fa)
    } else {
        Scalar::Int(ia)
    }
}

pub fn as_f64(s: Scalar) -> f64 {
    match s {
        Scalar::Float(f) => f,
        Scalar::Int(i) => i as f64,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tensor::TensorData;

    #[test]
    fn rounding_to_f16_and_bf16_is_single() {
        let x = 1.0 + 2f64.powi(-11) + 2f64.powi(-30);
        assert_eq!(round_to(&ElemType::F16, x), 1.0 + 2f64.powi(-10));
        assert_eq!(round_to(&ElemType::F16, 1.0 + 2f64.powi(-11)), 1.0);
        assert_eq!(round_to(&ElemType::F16, 65519.0), 65504.0);
        assert_eq!(round_to(&ElemType::F16, -65520.0), f64::NEG_INFINITY);
        // Subnormal: the f16 quantum below 2^-14 is 2^-24.
        assert_eq!(round_to(&ElemType::F16, 3.4 * 2f64.powi(-24)), 3.0 * 2f64.powi(-24));
        assert_eq!(round_to(&ElemType::F16, -2f64.powi(-26)).to_bits(), (-0.0f64).to_bits());
        let y = 1.0 + 2f64.powi(-8) + 2f64.powi(-40);
        assert_eq!(round_to(&ElemType::BF16, y), 1.0 + 2f64.powi(-7));
        assert!(round_to(&ElemType::F16, f64::NAN).is_nan());
    }

    #[test]
    fn wrapping_covers_every_width() {
        assert_eq!(wrap_int(200, 8, true), -56);
        assert_eq!(wrap_int(-1, 8, false), 255);
        assert_eq!(wrap_int(1 << 62, 63, true), -(1 << 62));
        assert_eq!(wrap_int(-1, 63, false), i64::MAX);
        assert_eq!(wrap_int(i64::MIN, 63, true), 0);
        assert_eq!(wrap_int(5, 1, true), -1);
    }

    #[test]
    fn broadcast_map_broadcasts_every_operand() {
        let t = |shape: &[u64], v: &[f32]| Tensor {
            elem: ElemType::F32,
            shape: shape.to_vec(),
            data: TensorData::F32(v.to_vec()),
        };
        let (a, b, c) = (t(&[2, 1], &[1., 2.]), t(&[3], &[10., 20., 30.]), t(&[], &[100.]));
        let out =
            broadcast_map(&[&a, &b, &c], &ElemType::F64, |v| Ok(Scalar::Float(v.iter().map(|s| as_f64(*s)).sum())))
                .unwrap();
        assert_eq!(out.shape, vec![2, 3]);
        assert_eq!(out.data, TensorData::F64(vec![111., 121., 131., 112., 122., 132.]));
    }
}
