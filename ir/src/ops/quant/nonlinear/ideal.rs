//! The ideal semantics of the quantized nonlinear ops: dequantize every
//! element, compute the float function in f64, quantize to the result
//! type. The integer programs of `lower-nonlinear` approximate exactly
//! this, and `weft accuracy` measures how far they are from it.
//!
//! Invariants: dequantization is `(q - zp) * scale` in f64 with the
//! element's own (per-tensor or per-channel) parameters; quantization is
//! `round_half_even(y / scale) + zp` saturated to the type's range, NaN
//! gives the zero point and infinities saturate.

use crate::ops::nl::common::elem_range;
use crate::tensor::{Scalar, Tensor};
use crate::types::{ElemType, QuantInt, QuantParams};

/// Per element, the scale and zero point of a quantized tensor.
pub struct QuantView<'a> {
    q: &'a QuantInt,
    /// For per-channel types: the stride and extent of the channel axis.
    channel: Option<(u64, u64)>,
}

impl<'a> QuantView<'a> {
    /// The view of a tensor of `elem` and `shape`; `None` unless `elem` is
    /// a `!quant.int` whose channel axis (if any) is an axis of `shape`.
    pub fn new(elem: &'a ElemType, shape: &[u64]) -> Option<QuantView<'a>> {
        let ElemType::Quant(q) = elem else { return None };
        let channel = match &q.params {
            QuantParams::PerTensor { .. } => None,
            QuantParams::PerChannel { axis, .. } => {
                let axis = *axis as usize;
                let extent = *shape.get(axis)?;
                Some((shape.iter().skip(axis + 1).product(), extent))
            }
        };
        Some(QuantView { q, channel })
    }

    /// The scale and zero point of flat element `i`.
    pub fn params(&self, i: usize) -> (f64, i64) {
        match (&self.q.params, self.channel) {
            (QuantParams::PerChannel { scales, zps, .. }, Some((stride, extent))) => {
                let c = ((i as u64 / stride.max(1)) % extent.max(1)) as usize;
                (scales.get(c).copied().unwrap_or(1.0), zps.get(c).copied().unwrap_or(0))
            }
            (QuantParams::PerTensor { scale, zp }, _) => (*scale, *zp),
            _ => (1.0, 0),
        }
    }

    /// The real value of the stored integer `q` at flat index `i`.
    pub fn dequantize(&self, i: usize, q: i64) -> f64 {
        let (scale, zp) = self.params(i);
        (q as f64 - zp as f64) * scale
    }

    /// The stored integer closest to `y` at flat index `i`.
    pub fn quantize(&self, i: usize, y: f64) -> i64 {
        let (scale, zp) = self.params(i);
        quantize_value(y, scale, zp, self.q.width, self.q.signed)
    }
}

/// `round_half_even(y / scale) + zp`, saturated to the range of a `width`
/// bit integer; NaN gives `zp`.
pub fn quantize_value(y: f64, scale: f64, zp: i64, width: u8, signed: bool) -> i64 {
    let elem = ElemType::Int { width, signed };
    let (lo, hi) = elem_range(&elem);
    if y.is_nan() {
        return (zp as i128).clamp(lo, hi) as i64;
    }
    let r = (y / scale).round_ties_even() + zp as f64;
    r.clamp(lo as f64, hi as f64) as i64
}

/// The real values of a quantized tensor.
pub fn dequantize_all(x: &Tensor) -> Result<Vec<f64>, String> {
    let view =
        QuantView::new(&x.elem, &x.shape).ok_or_else(|| format!("operand must be !quant.int, got {}", x.elem))?;
    Ok((0..x.data.len())
        .map(|i| match x.data.get(i) {
            Scalar::Int(q) => view.dequantize(i, q),
            Scalar::Float(f) => f,
        })
        .collect())
}

/// A tensor of the quantized `elem` and `shape` holding `values` quantized.
pub fn quantize_all(elem: &ElemType, shape: Vec<u64>, values: &[f64]) -> Result<Tensor, String> {
    let view = QuantView::new(elem, &shape).ok_or_else(|| format!("result must be !quant.int, got {elem}"))?;
    Ok(Tensor::from_fn(elem.clone(), shape, |i| Scalar::Int(view.quantize(i, values.get(i).copied().unwrap_or(0.0)))))
}

pub fn gelu_erf(x: f64) -> f64 {
    0.5 * x * (1.0 + libm::erf(x / std::f64::consts::SQRT_2))
}

pub fn gelu_tanh(x: f64) -> f64 {
    let c = (2.0 / std::f64::consts::PI).sqrt();
    0.5 * x * (1.0 + (c * (x + 0.044715 * x * x * x)).tanh())
}

/// `1 / (1 + e^-x)` without overflow.
pub fn sigmoid(x: f64) -> f64 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        let e = x.exp();
        e / (1.0 + e)
    }
}

pub fn silu(x: f64) -> f64 {
    x * sigmoid(x)
}

pub fn rsqrt(x: f64) -> f64 {
    1.0 / x.sqrt()
}

pub fn reciprocal(x: f64) -> f64 {
    1.0 / x
}

/// Softmax of every lane of `v` (row-major, `shape`) along `axis`.
pub fn softmax(v: &mut [f64], shape: &[u64], axis: usize) {
    for_each_lane(v, shape, axis, |lane| {
        let max = lane.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let sum: f64 = lane.iter().map(|x| (x - max).exp()).sum();
        lane.iter_mut().for_each(|x| *x = (*x - max).exp() / sum);
    });
}

/// Layer normalization (without scale and bias) of the trailing block of
/// `inner` elements of `v`: `(x - mean) / sqrt(var + epsilon)`.
pub fn normalize(v: &mut [f64], inner: usize, epsilon: f64) {
    if inner == 0 {
        return;
    }
    for lane in v.chunks_mut(inner) {
        let mean = lane.iter().sum::<f64>() / inner as f64;
        let var = lane.iter().map(|a| (a - mean) * (a - mean)).sum::<f64>() / inner as f64;
        let inv = 1.0 / (var + epsilon).sqrt();
        lane.iter_mut().for_each(|a| *a = (*a - mean) * inv);
    }
}

/// Calls `f` with a copy of every lane along `axis` and writes it back.
fn for_each_lane(v: &mut [f64], shape: &[u64], axis: usize, mut f: impl FnMut(&mut [f64])) {
    let n = shape.get(axis).copied().unwrap_or(1) as usize;
    let inner = shape.iter().skip(axis + 1).product::<u64>() as usize;
    let outer = shape.iter().take(axis).product::<u64>() as usize;
    let mut lane = vec![0.0; n];
    for o in 0..outer {
        for j in 0..inner {
            let at = |k: usize| (o * n + k) * inner + j;
            for (k, x) in lane.iter_mut().enumerate() {
                *x = v.get(at(k)).copied().unwrap_or(0.0);
            }
            f(&mut lane);
            for (k, x) in lane.iter().enumerate() {
                if let Some(slot) = v.get_mut(at(k)) {
                    *slot = *x;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantization_rounds_half_even_and_saturates() {
        assert_eq!(quantize_value(0.25, 0.5, 0, 8, true), 0);
        assert_eq!(quantize_value(0.75, 0.5, 0, 8, true), 2);
        assert_eq!(quantize_value(-0.75, 0.5, 3, 8, true), 1);
        assert_eq!(quantize_value(1e9, 0.5, 0, 8, true), 127);
        assert_eq!(quantize_value(f64::NEG_INFINITY, 0.5, 0, 8, false), 0);
        assert_eq!(quantize_value(f64::NAN, 0.5, 9, 4, false), 9);
        assert_eq!(quantize_value(f64::NAN, 0.5, 99, 4, false), 15);
    }

    #[test]
    fn per_channel_views_read_each_channels_parameters() {
        let q = ElemType::Quant(Box::new(QuantInt {
            width: 8,
            signed: true,
            params: QuantParams::PerChannel { axis: 1, scales: vec![1.0, 0.5], zps: vec![0, 2] },
        }));
        let view = QuantView::new(&q, &[2, 2, 3]).unwrap();
        assert_eq!(view.params(0), (1.0, 0));
        assert_eq!(view.params(3), (0.5, 2));
        assert_eq!(view.params(7), (1.0, 0));
        assert_eq!(view.params(9), (0.5, 2));
        assert_eq!(view.dequantize(4, 4), 1.0);
        assert!(QuantView::new(&q, &[2]).is_none());
    }

    #[test]
    fn softmax_and_normalize_lanes() {
        let mut v = vec![0.0, 1000.0, 0.0, 0.0];
        softmax(&mut v, &[2, 2], 0);
        assert_eq!(v, vec![0.5, 1.0, 0.5, 0.0]);
        let mut w = vec![1.0, 3.0, 5.0, 5.0];
        normalize(&mut w, 2, 0.0);
        assert_eq!(&w[..2], &[-1.0, 1.0]);
        assert!(w[2].is_nan());
    }
}
