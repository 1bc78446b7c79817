//! Quantization of constant weights at compile time: integers of 2..=8 bits
//! (symmetric or asymmetric, min/max or MSE-optimal clipping), ternary and
//! binary, per output channel or per tensor; and of a matmul's bias into
//! its accumulator's type.
//!
//! Invariants: every scale produced is positive and finite (a channel of
//! zeros gets scale 1, or 1e-8 for binary weights, which cannot store 0);
//! integer weights round half to even, as `quant.quantize` does, so
//! quantizing a weight here and with the op gives the same bits.

use super::scheme::{Observer, Precision, WeightFormat};
use weft_ir::ops::quant::common::{qrange, quantize_real, round_half_even};
use weft_ir::tensor::{Scalar, Tensor, TensorData};
use weft_ir::types::{ElemType, QuantBin, QuantInt, QuantParams};

/// The scale of a binary channel whose weights are all 0.
const ZERO_CHANNEL_ALPHA: f64 = 1e-8;

/// How the elements of a weight tensor group into channels: element `i`
/// belongs to channel `(i / stride) % extent` (one channel when there is
/// no axis).
struct Channels {
    count: usize,
    stride: usize,
    total: usize,
}

impl Channels {
    /// Groups the `total` elements of a tensor of `shape` by their index
    /// along `axis` (`None`: one group).
    fn new(shape: &[u64], total: usize, axis: Option<usize>) -> Channels {
        match axis.filter(|&a| a < shape.len()) {
            Some(a) => Channels {
                count: (shape[a] as usize).max(1),
                stride: (shape[a + 1..].iter().product::<u64>() as usize).max(1),
                total,
            },
            None => Channels { count: 1, stride: total.max(1), total },
        }
    }

    /// The flat positions of channel `c`, in increasing order.
    fn members(&self, c: usize) -> impl Iterator<Item = usize> + '_ {
        let block = self.count * self.stride;
        (c * self.stride..self.total).step_by(block).flat_map(move |start| start..(start + self.stride).min(self.total))
    }

    /// Runs `quantize` on each channel's values (gathered in increasing
    /// position) with a buffer for its integers, which are scattered back
    /// into a tensor-sized vector; the per-channel results in order.
    fn map<T>(&self, w: &TensorData, mut quantize: impl FnMut(&[f64], &mut [i64]) -> T) -> (Vec<T>, Vec<i64>) {
        let mut q = vec![0i64; self.total];
        let (mut xs, mut qs) = (Vec::new(), Vec::new());
        let results = (0..self.count)
            .map(|c| {
                xs.clear();
                match w {
                    TensorData::F32(x) => xs.extend(self.members(c).map(|i| f64::from(x[i]))),
                    TensorData::F64(x) => xs.extend(self.members(c).map(|i| x[i])),
                    _ => xs.extend(self.members(c).map(|i| scalar_f64(w.get(i)))),
                }
                qs.clear();
                qs.resize(xs.len(), 0);
                let r = quantize(&xs, &mut qs);
                for (i, &v) in self.members(c).zip(&qs) {
                    q[i] = v;
                }
                r
            })
            .collect();
        (results, q)
    }
}

/// The values of a float tensor as f64.
fn values(w: &Tensor) -> Vec<f64> {
    (0..w.data.len()).map(|i| scalar_f64(w.data.get(i))).collect()
}

fn scalar_f64(s: Scalar) -> f64 {
    match s {
        Scalar::Float(x) => x,
        Scalar::Int(v) => v as f64,
    }
}

/// Quantizes the weights `w` as `p` says, per channel along `axis` when
/// `p.per_channel`. The result has `w`'s shape and a `!quant.int` or
/// `!quant.bin` element type.
pub fn quantize_weights(w: &Tensor, p: &Precision, axis: usize) -> Tensor {
    let x = &w.data;
    let channels = Channels::new(&w.shape, w.data.len(), p.per_channel.then_some(axis));
    let per_channel = p.per_channel;
    let (elem, q) = match p.weights {
        WeightFormat::Binary => {
            let (scales, q) = channels.map(x, binary_channel);
            let b = if per_channel {
                QuantBin::PerChannel { axis: axis as u32, scales }
            } else {
                QuantBin::PerTensor { scale: scales[0] }
            };
            (ElemType::Bin(Box::new(b)), q)
        }
        WeightFormat::Ternary => {
            let (scales, q) = channels.map(x, ternary_channel);
            (int_type(2, true, per_channel, axis, scales, None), q)
        }
        WeightFormat::Int(bits) => {
            let sym = p.symmetric_weights;
            let (params, q) = channels.map(x, |xs, qs| int_channel(xs, bits, sym, p.weight_observer, qs));
            let (scales, zps) = params.into_iter().unzip();
            (int_type(bits, sym, per_channel, axis, scales, Some(zps)), q)
        }
    };
    Tensor { elem, shape: w.shape.clone(), data: TensorData::Int(q) }
}

fn int_type(
    bits: u8,
    signed: bool,
    per_channel: bool,
    axis: usize,
    scales: Vec<f64>,
    zps: Option<Vec<i64>>,
) -> ElemType {
    let zps = zps.unwrap_or_else(|| vec![0; scales.len()]);
    let params = if per_channel {
        QuantParams::PerChannel { axis: axis as u32, scales, zps }
    } else {
        QuantParams::PerTensor { scale: scales.first().copied().unwrap_or(1.0), zp: zps.first().copied().unwrap_or(0) }
    };
    ElemType::Quant(Box::new(QuantInt { width: bits, signed, params }))
}

/// Binary: `alpha = mean |w|`, bit = `w >= 0`.
fn binary_channel(x: &[f64], q: &mut [i64]) -> f64 {
    let n = x.len().max(1) as f64;
    let alpha = x.iter().map(|v| v.abs()).sum::<f64>() / n;
    for (q, &v) in q.iter_mut().zip(x) {
        *q = i64::from(v >= 0.0);
    }
    if alpha > 0.0 && alpha.is_finite() {
        alpha
    } else {
        ZERO_CHANNEL_ALPHA
    }
}

/// Ternary: threshold `0.7 mean |w|`; `alpha` is the mean magnitude of the
/// weights above it.
fn ternary_channel(x: &[f64], q: &mut [i64]) -> f64 {
    let n = x.len().max(1) as f64;
    let delta = 0.7 * x.iter().map(|v| v.abs()).sum::<f64>() / n;
    let (mut sum, mut count) = (0.0, 0usize);
    for (q, &v) in q.iter_mut().zip(x) {
        if v.abs() > delta {
            *q = if v > 0.0 { 1 } else { -1 };
            sum += v.abs();
            count += 1;
        } else {
            *q = 0;
        }
    }
    if count > 0 && sum > 0.0 {
        sum / count as f64
    } else {
        1.0
    }
}

/// Integers: the channel's scale and zero point, with `q` filled in.
fn int_channel(x: &[f64], bits: u8, symmetric: bool, observer: Observer, q: &mut [i64]) -> (f64, i64) {
    let (lo, hi) = x.iter().fold((0.0f64, 0.0f64), |(l, h), &v| (l.min(v), h.max(v)));
    let params_for = |t: f64| int_params(lo * t, hi * t, bits, symmetric);
    let (scale, zp) = match observer {
        Observer::Mse => {
            let ratios: Vec<f64> = (50..=100).map(|k| k as f64 / 100.0).collect();
            let candidates: Vec<(f64, i64)> = ratios.iter().map(|&t| params_for(t)).collect();
            let errors = squared_errors(x, &candidates, bits, symmetric);
            let best = ratios.iter().zip(&errors).fold(
                (f64::INFINITY, 1.0),
                |best, (&t, &e)| {
                    if e < best.0 {
                        (e, t)
                    } else {
                        best
                    }
                },
            );
            params_for(best.1)
        }
        _ => params_for(1.0),
    };
    for (q, &v) in q.iter_mut().zip(x) {
        *q = quant(v, scale, zp, bits, symmetric);
    }
    (scale, zp)
}

/// For each candidate `(scale, zp)`, the sum over `x` (in order) of the
/// squared error of quantizing and dequantizing each value: the bits of
/// `quant` then `dequant` per value, one candidate after another. One pass
/// over `x` updates every candidate's sum (independent chains, each in
/// `x`'s order), in f64 only so that the candidates vectorize: for a value
/// that is not NaN, `round(v / s) + zp` clamped to the range and
/// `(that - zp) * s` are `quant` and `dequant` exactly (integers of at most
/// 33 bits are exact in f64); a NaN makes every sum NaN either way.
fn squared_errors(x: &[f64], candidates: &[(f64, i64)], bits: u8, symmetric: bool) -> Vec<f64> {
    let (lo, hi) = qrange(bits, symmetric);
    let (lo, hi) = (if symmetric { lo + 1 } else { lo } as f64, hi as f64);
    // Blocks of candidates whose sums stay in registers over the pass
    // (the last block padded with a scale of 1, whose sums are dropped).
    const BLOCK: usize = 8;
    let mut sums = Vec::with_capacity(candidates.len());
    for block in candidates.chunks(BLOCK) {
        let (mut scales, mut zps) = ([1.0f64; BLOCK], [0.0f64; BLOCK]);
        for (k, &(s, z)) in block.iter().enumerate() {
            (scales[k], zps[k]) = (s, z as f64);
        }
        let mut acc = [0.0f64; BLOCK];
        for &v in x {
            for k in 0..BLOCK {
                let q = (round_half_even(v / scales[k]) + zps[k]).max(lo).min(hi);
                let e = v - (q - zps[k]) * scales[k];
                acc[k] += e * e;
            }
        }
        sums.extend_from_slice(&acc[..block.len()]);
    }
    sums
}

/// Scale and zero point of `bits`-bit weights over `[lo, hi]` (which
/// contains 0); symmetric weights use the restricted range `+-(2^(b-1)-1)`.
fn int_params(lo: f64, hi: f64, bits: u8, symmetric: bool) -> (f64, i64) {
    if symmetric {
        let amax = (-lo).max(hi);
        let levels = ((1u64 << (bits - 1)) - 1) as f64;
        return (positive_or_one(amax / levels), 0);
    }
    let levels = ((1u64 << bits) - 1) as f64;
    let scale = positive_or_one((hi - lo) / levels);
    (scale, (-lo / scale).round_ties_even().clamp(0.0, levels) as i64)
}

fn positive_or_one(s: f64) -> f64 {
    if s > 0.0 && s.is_finite() {
        s
    } else {
        1.0
    }
}

fn quant(x: f64, scale: f64, zp: i64, bits: u8, symmetric: bool) -> i64 {
    let (lo, hi) = qrange(bits, symmetric);
    let range = if symmetric { (lo + 1, hi) } else { (lo, hi) };
    quantize_real(x, scale, zp, range)
}

/// A bias of `n` columns in the accumulator's scales (`scales[j]`, or one
/// scale for all): `round_half_even(b / scale)` saturated to 32 bits.
pub fn quantize_bias(bias: &Tensor, scales: &[f64]) -> Tensor {
    let x = values(bias);
    let n = x.len();
    let q = (0..n)
        .map(|j| {
            let s = if scales.len() == 1 { scales[0] } else { scales.get(j).copied().unwrap_or(1.0) };
            quantize_real(x[j], s, 0, qrange(32, true))
        })
        .collect();
    let elem = int_type(32, true, scales.len() > 1, 0, scales.to_vec(), None);
    Tensor { elem, shape: vec![n as u64], data: TensorData::Int(q) }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The dequantization `squared_errors` computes in f64.
    fn dequant(q: i64, scale: f64, zp: i64) -> f64 {
        (q - zp) as f64 * scale
    }

    fn weights(shape: &[u64], v: &[f32]) -> Tensor {
        Tensor { elem: ElemType::F32, shape: shape.to_vec(), data: TensorData::F32(v.to_vec()) }
    }

    fn stored(t: &Tensor) -> &[i64] {
        match &t.data {
            TensorData::Int(v) => v,
            _ => panic!("integers expected"),
        }
    }

    /// One pass over the values for every candidate gives each candidate
    /// the bits of its own pass.
    #[test]
    fn squared_errors_are_those_of_one_pass_per_candidate() {
        let x: Vec<f64> = (0..997).map(|i| (((i * 7919) % 997) as f64 / 498.5 - 1.0).powi(3) * 0.37).collect();
        for (bits, symmetric) in [(8, true), (4, false), (2, true)] {
            let candidates: Vec<(f64, i64)> = (50..=100)
                .map(|k| int_params(-0.37 * k as f64 / 100.0, 0.3 * k as f64 / 100.0, bits, symmetric))
                .collect();
            let fast = squared_errors(&x, &candidates, bits, symmetric);
            for (&(s, z), e) in candidates.iter().zip(fast) {
                let slow: f64 = x.iter().map(|&v| (v - dequant(quant(v, s, z, bits, symmetric), s, z)).powi(2)).sum();
                assert_eq!(e.to_bits(), slow.to_bits(), "{bits} bits, scale {s}");
            }
        }
    }

    #[test]
    fn int8_per_output_channel() {
        // Columns are the output channels: [1, -0.5] and [0.25, 0.125].
        let w = weights(&[2, 2], &[1.0, 0.25, -0.5, 0.125]);
        let q = quantize_weights(&w, &Precision::default(), 1);
        assert_eq!(
            q.elem.to_string(),
            "!quant.int<w=8, signed, axis=1, scales=[0.007874015748031496, 0.001968503937007874], zps=[0, 0]>"
        );
        assert_eq!(stored(&q), &[127, 127, -64, 64], "-63.5 and 63.5 round to even");
    }

    #[test]
    fn binary_and_ternary_follow_vaqf_and_twn() {
        let w = weights(&[3, 2], &[0.5, -0.1, -1.0, 0.1, 0.0, 0.4]);
        let p = Precision { weights: WeightFormat::Binary, ..Precision::default() };
        let q = quantize_weights(&w, &p, 1);
        assert_eq!(q.elem.to_string(), "!quant.bin<axis=1, scales=[0.5, 0.20000000298023224]>");
        assert_eq!(stored(&q), &[1, 0, 0, 1, 1, 1]);
        let p = Precision { weights: WeightFormat::Ternary, ..Precision::default() };
        let q = quantize_weights(&w, &p, 1);
        // Column 0: mean |w| 0.5, threshold 0.35: 0.5 and -1.0 survive, alpha 0.75.
        assert_eq!(stored(&q), &[1, 0, -1, 0, 0, 1]);
        assert_eq!(
            q.elem.to_string(),
            "!quant.int<w=2, signed, axis=1, scales=[0.75, 0.4000000059604645], zps=[0, 0]>"
        );
    }

    #[test]
    fn asymmetric_per_tensor_and_zero_channels() {
        let w = weights(&[2, 2], &[0.0, 0.0, 1.0, 3.0]);
        let p = Precision {
            weights: WeightFormat::Int(4),
            symmetric_weights: false,
            per_channel: false,
            ..Precision::default()
        };
        let q = quantize_weights(&w, &p, 1);
        assert_eq!(q.elem.to_string(), "!quant.int<w=4, unsigned, scale=0.2, zp=0>");
        assert_eq!(stored(&q), &[0, 0, 5, 15]);
        let zeros = weights(&[2, 1], &[0.0, 0.0]);
        let q = quantize_weights(&zeros, &Precision::default(), 1);
        assert_eq!(q.elem.to_string(), "!quant.int<w=8, signed, axis=1, scales=[1.0], zps=[0]>");
    }

    #[test]
    fn mse_clipping_lowers_the_error_of_heavy_tailed_channels() {
        // Laplace-distributed weights (inverse CDF of a regular grid).
        let v: Vec<f32> = (1..512)
            .map(|i| {
                let u = i as f64 / 512.0;
                let x = if u < 0.5 { (2.0 * u).ln() } else { -(2.0 * (1.0 - u)).ln() };
                (0.1 * x) as f32
            })
            .collect();
        let w = weights(&[v.len() as u64, 1], &v);
        let err = |observer| {
            let p = Precision { weights: WeightFormat::Int(3), weight_observer: observer, ..Precision::default() };
            let q = quantize_weights(&w, &p, 1);
            let ElemType::Quant(t) = &q.elem else { panic!() };
            let QuantParams::PerChannel { scales, .. } = &t.params else { panic!() };
            stored(&q).iter().zip(&v).map(|(&q, &x)| (q as f64 * scales[0] - x as f64).powi(2)).sum::<f64>()
        };
        let (mse, minmax) = (err(Observer::Mse), err(Observer::MinMax));
        assert!(mse < 0.8 * minmax, "{mse} vs {minmax}");
    }

    #[test]
    fn bias_in_accumulator_scales() {
        let b = weights(&[2], &[1.0, -0.3]);
        let q = quantize_bias(&b, &[0.01, 0.001]);
        assert_eq!(stored(&q), &[100, -300]);
        assert_eq!(q.elem.to_string(), "!quant.int<w=32, signed, axis=0, scales=[0.01, 0.001], zps=[0, 0]>");
    }
}
