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
    let mask = (1i64 << width) - 1;
    let low = v & mask;
    if signed && low >> (width - 1) & 1 == 1 {
        low - (1i64 << width)
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

/// Batched matmul with broadcast batch dims; accumulates in f64 (floats)
/// or wrapping i64 (integers), rounding once per output element.
pub fn matmul(a: &Tensor, b: &Tensor) -> Result<Tensor, String> {
    let out = super::shape::matmul_shape(&fixed_shape(a), &fixed_shape(b))?;
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
