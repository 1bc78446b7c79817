//! The numerics every quant op shares (spec/quant.md states them): the range
//! of a stored integer, the scale and zero point of each element (per tensor
//! or per channel), round-half-to-even quantization of reals, the fixed-point
//! multiplier that stands for a ratio of scales, and the rounding right shift
//! that applies it.
//!
//! Invariants: nothing here panics on any input; every integer intermediate
//! is computed in `i64` within the bounds the op declarations prove (the
//! result checks reject types that could break them); a fixed-point
//! multiplier `m` is in `[2^30, 2^31]` and its shift in `0..=62`.

use crate::ops::shape::tensor_operand;
use crate::tensor::{Tensor, TensorData};
use crate::types::{ElemType, QuantBin, QuantInt, QuantParams, TensorType, Type};

/// Bits of the fraction of a fixed-point multiplier: `m` is in
/// `[2^MULTIPLIER_BITS, 2^(MULTIPLIER_BITS + 1)]`.
pub const MULTIPLIER_BITS: i32 = 30;
/// The largest right shift a fixed-point multiplier may use.
pub const MAX_SHIFT: i32 = 62;

/// The least and greatest stored integer of a `width`-bit type.
#[inline]
pub fn qrange(width: u8, signed: bool) -> (i64, i64) {
    let w = u32::from(width.clamp(1, 32));
    if signed {
        (-(1i64 << (w - 1)), (1i64 << (w - 1)) - 1)
    } else {
        (0, (1i64 << w) - 1)
    }
}

/// The range of a quantized type's stored integers.
pub fn range_of(q: &QuantInt) -> (i64, i64) {
    qrange(q.width, q.signed)
}

/// Where each element of a tensor finds its scale and zero point: one pair
/// for the whole tensor, or one per index along `axis`.
#[derive(Debug, Clone, PartialEq)]
pub struct ChannelMap {
    pub scales: Vec<f64>,
    pub zps: Vec<i64>,
    /// Elements between two consecutive indices of the axis (1 for the last
    /// axis); unused per tensor.
    stride: u64,
    per_channel: bool,
}

impl ChannelMap {
    /// The parameters of a quantized integer tensor of `shape`.
    pub fn of_int(q: &QuantInt, shape: &[u64]) -> Result<ChannelMap, String> {
        match &q.params {
            QuantParams::PerTensor { scale, zp } => Ok(ChannelMap::per_tensor(*scale, *zp)),
            QuantParams::PerChannel { axis, scales, zps } => {
                ChannelMap::per_channel(*axis, scales.clone(), zps.clone(), shape)
            }
        }
    }

    /// The parameters of a binary tensor of `shape` (zero points are 0).
    pub fn of_bin(b: &QuantBin, shape: &[u64]) -> Result<ChannelMap, String> {
        match b {
            QuantBin::PerTensor { scale } => Ok(ChannelMap::per_tensor(*scale, 0)),
            QuantBin::PerChannel { axis, scales } => {
                ChannelMap::per_channel(*axis, scales.clone(), vec![0; scales.len()], shape)
            }
        }
    }

    fn per_tensor(scale: f64, zp: i64) -> ChannelMap {
        ChannelMap { scales: vec![scale], zps: vec![zp], stride: 1, per_channel: false }
    }

    fn per_channel(axis: u32, scales: Vec<f64>, zps: Vec<i64>, shape: &[u64]) -> Result<ChannelMap, String> {
        let a = axis as usize;
        let extent = shape.get(a).copied().ok_or_else(|| format!("quantization axis {axis} is out of range"))?;
        if extent != scales.len() as u64 || zps.len() != scales.len() {
            return Err(format!("{} scales for axis {axis} of size {extent}", scales.len()));
        }
        let stride = shape.get(a + 1..).unwrap_or(&[]).iter().product();
        Ok(ChannelMap { scales, zps, stride, per_channel: true })
    }

    /// The channel of the element at row-major position `flat`.
    pub fn channel(&self, flat: usize) -> usize {
        if !self.per_channel {
            return 0;
        }
        ((flat as u64 / self.stride.max(1)) % self.scales.len().max(1) as u64) as usize
    }

    pub fn scale(&self, flat: usize) -> f64 {
        self.scales.get(self.channel(flat)).copied().unwrap_or(1.0)
    }

    pub fn zp(&self, flat: usize) -> i64 {
        self.zps.get(self.channel(flat)).copied().unwrap_or(0)
    }

    pub fn is_per_channel(&self) -> bool {
        self.per_channel
    }
}

/// `x` quantized to a stored integer: `round_half_even(x / scale) + zp`,
/// saturated to `[lo, hi]`; NaN gives `zp` (the integer standing for 0).
#[inline]
pub fn quantize_real(x: f64, scale: f64, zp: i64, (lo, hi): (i64, i64)) -> i64 {
    if x.is_nan() {
        return zp.clamp(lo, hi);
    }
    let v = round_half_even(x / scale) + zp as f64;
    // Both ends are exact in f64 (|lo|, |hi| <= 2^32); NaN (inf/inf) cannot
    // occur for a finite positive scale.
    v.clamp(lo as f64, hi as f64) as i64
}

/// `y` rounded to the nearest integer, ties to even: the bits of
/// `f64::round_ties_even`, computed with two additions (which round to
/// nearest even) instead of a library call (x86-64 without SSE4.1 has no
/// rounding instruction; quantizing weights calls this billions of times).
/// For `|y| < 2^52`, `(|y| + 2^52) - 2^52` is `|y|` rounded to an integer
/// (the sum's last place is 1); larger values, infinities and NaN are
/// already integers or stay as they are.
#[inline]
pub fn round_half_even(y: f64) -> f64 {
    const TWO_52: f64 = 4_503_599_627_370_496.0;
    let a = y.abs();
    if a < TWO_52 {
        ((a + TWO_52) - TWO_52).copysign(y)
    } else {
        y
    }
}

/// `floor(v / 2^n + 1/2)`: a right shift rounding to nearest, ties toward
/// +infinity, computed without overflow for every `v`.
pub fn rounding_shift(v: i64, n: u32) -> i64 {
    match n {
        0 => v,
        // floor(v / 2^n) plus the first bit shifted out.
        1..=63 => (v >> n) + ((v >> (n - 1)) & 1),
        _ => 0,
    }
}

/// A positive real `r` as `m * 2^-shift`, with `m` an integer of 31 bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FixedMultiplier {
    pub m: i64,
    pub shift: u32,
}

impl FixedMultiplier {
    /// The multiplier for `r`: `e = floor(log2 r)`, `m =
    /// round_half_even(r * 2^(30 - e))` (in `[2^30, 2^31]`), `shift = 30 -
    /// e`. `r` must be positive and finite with `shift` in `0..=62`, i.e.
    /// `2^-32 <= r < 2^31`.
    pub fn new(r: f64) -> Result<FixedMultiplier, String> {
        let e = exponent(r)?;
        FixedMultiplier::with_shift(r, MULTIPLIER_BITS - e)
    }

    /// `r` with a given shift: `m = round_half_even(r * 2^shift)` (used when
    /// several multipliers share one shift; `m` may then be small).
    pub fn with_shift(r: f64, shift: i32) -> Result<FixedMultiplier, String> {
        if !(0..=MAX_SHIFT).contains(&shift) {
            return Err(format!("the scale ratio {r:e} is outside the fixed-point range [2^-32, 2^31)"));
        }
        // Scaling by a power of two is exact; the product is below 2^32.
        let m = (r * 2f64.powi(shift)).round_ties_even() as i64;
        Ok(FixedMultiplier { m, shift: shift as u32 })
    }

    /// `round(v * r)` as the integer program computes it: `(v * m)` rounded
    /// right by `shift` (ties toward +infinity). `|v| <= 2^32` keeps the
    /// product within i64.
    pub fn apply(self, v: i64) -> i64 {
        rounding_shift(v.saturating_mul(self.m), self.shift)
    }
}

/// `floor(log2 r)` of a positive finite `r`.
pub fn exponent(r: f64) -> Result<i32, String> {
    if !(r.is_finite() && r > 0.0) {
        return Err(format!("the scale ratio {r} must be positive and finite"));
    }
    // For normal r the biased exponent field is exact; subnormals are far
    // outside the multiplier's range anyway.
    let biased = ((r.to_bits() >> 52) & 0x7ff) as i32;
    Ok(if biased == 0 { -1074 } else { biased - 1023 })
}

/// Operand `i` as a tensor of `!quant.int`.
pub fn quant_operand<'a>(types: &[&'a Type], i: usize) -> Result<(&'a TensorType, &'a QuantInt), String> {
    let t = tensor_operand(types, i)?;
    match &t.elem {
        ElemType::Quant(q) => Ok((t, q)),
        other => Err(format!("operand #{i} must be a !quant.int tensor, got {other}")),
    }
}

/// Result `i` (of the declared `types`) as a tensor of `!quant.int`.
pub fn quant_result<'a>(types: &[&'a Type], i: usize) -> Result<(&'a TensorType, &'a QuantInt), String> {
    let t = result_tensor(types, i)?;
    match &t.elem {
        ElemType::Quant(q) => Ok((t, q)),
        other => Err(format!("result #{i} must be a !quant.int tensor, got {other}")),
    }
}

/// Result `i` as a tensor type.
pub fn result_tensor<'a>(types: &[&'a Type], i: usize) -> Result<&'a TensorType, String> {
    match types.get(i) {
        Some(Type::Tensor(t)) => Ok(t),
        Some(other) => Err(format!("result #{i} must be a tensor, got {other}")),
        None => Err(format!("result #{i} is missing")),
    }
}

/// Every zero point of `q` must be a value of its stored integers (ONNX's
/// rule too): the integer programs rely on `|q - zp| < 2^width`.
pub fn check_zero_points(q: &QuantInt, what: &str) -> Result<(), String> {
    let (lo, hi) = range_of(q);
    let zps: &[i64] = match &q.params {
        QuantParams::PerTensor { zp, .. } => std::slice::from_ref(zp),
        QuantParams::PerChannel { zps, .. } => zps,
    };
    match zps.iter().find(|z| !(lo..=hi).contains(*z)) {
        Some(z) => {
            Err(format!("{what}: zero point {z} is outside the range [{lo}, {hi}] of its {}-bit integers", q.width))
        }
        None => Ok(()),
    }
}

/// Scales must be positive and finite.
pub fn check_scales(scales: &[f64], what: &str) -> Result<(), String> {
    match scales.iter().find(|s| !(s.is_finite() && **s > 0.0)) {
        Some(s) => Err(format!("{what}: scale {s} must be positive and finite")),
        None => Ok(()),
    }
}

/// The scales of a quantized integer type.
pub fn scales_of(q: &QuantInt) -> &[f64] {
    match &q.params {
        QuantParams::PerTensor { scale, .. } => std::slice::from_ref(scale),
        QuantParams::PerChannel { scales, .. } => scales,
    }
}

/// Checks what every quantized operand or result must satisfy: valid
/// scales and zero points, and at most `max_width` bits.
pub fn check_quant(q: &QuantInt, what: &str, max_width: u8) -> Result<(), String> {
    if q.width > max_width {
        return Err(format!("{what} must have at most {max_width} bits, got {}", q.width));
    }
    check_scales(scales_of(q), what)?;
    check_zero_points(q, what)
}

/// Errors unless the two shapes are equal wherever both are known.
pub fn same_dims(a: &TensorType, b: &TensorType, what: &str) -> Result<(), String> {
    let compatible = a.dims.len() == b.dims.len()
        && a.dims.iter().zip(&b.dims).all(|(x, y)| x == y || x.fixed().is_none() || y.fixed().is_none());
    if compatible {
        Ok(())
    } else {
        Err(format!("{what}: shapes differ: {a} vs {b}"))
    }
}

/// The stored integers of a tensor (every quantized tensor has integer
/// storage).
pub fn ints(t: &Tensor) -> Result<&[i64], String> {
    match &t.data {
        TensorData::Int(v) => Ok(v),
        _ => Err(format!("expected integer storage for {}, got floats", t.elem)),
    }
}

/// The quantized integer type of a tensor operand's value.
pub fn quant_of(t: &Tensor) -> Result<&QuantInt, String> {
    match &t.elem {
        ElemType::Quant(q) => Ok(q),
        other => Err(format!("expected a !quant.int tensor, got {other}")),
    }
}

/// The quantized integer type of declared result `i`.
pub fn result_quant(types: &[Type], i: usize) -> Result<&QuantInt, String> {
    match types.get(i) {
        Some(Type::Tensor(TensorType { elem: ElemType::Quant(q), .. })) => Ok(q),
        _ => Err(format!("result #{i} must be a !quant.int tensor")),
    }
}

/// The declared element type of result `i`.
pub fn result_elem(types: &[Type], i: usize) -> Result<&ElemType, String> {
    match types.get(i) {
        Some(Type::Tensor(t)) => Ok(&t.elem),
        _ => Err(format!("result #{i} must be a tensor")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_half_even_is_round_ties_even() {
        let two_52 = 4_503_599_627_370_496.0f64;
        let mut ys = vec![0.0, -0.0, 0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 0.49999999999999994, 1e-310, -1e-310];
        ys.extend([two_52 - 0.5, two_52 - 1.5, two_52, two_52 + 1.0, 1e300, f64::MAX, f64::INFINITY]);
        ys.extend((0..20_000).map(|i| ((i * 7919) % 20_000) as f64 / 64.0 - 156.25));
        ys.extend((0..2000).map(|i| (i as f64 * 0.731).sin() * 1e6));
        for y in ys.iter().flat_map(|&y| [y, -y, y.next_up(), y.next_down()]) {
            assert_eq!(round_half_even(y).to_bits(), y.round_ties_even().to_bits(), "{y:e}");
        }
        assert!(round_half_even(f64::NAN).is_nan());
    }

    #[test]
    fn ranges() {
        assert_eq!(qrange(8, true), (-128, 127));
        assert_eq!(qrange(4, false), (0, 15));
        assert_eq!(qrange(32, true), (-(1 << 31), (1 << 31) - 1));
        assert_eq!(qrange(1, true), (-1, 0));
    }

    #[test]
    fn quantize_rounds_half_to_even_and_saturates() {
        let r = qrange(8, true);
        assert_eq!(quantize_real(0.25, 0.1, 0, r), 2);
        assert_eq!(quantize_real(0.25, 0.5, 0, r), 0, "0.5 rounds to 0");
        assert_eq!(quantize_real(0.75, 0.5, 0, r), 2, "1.5 rounds to 2");
        assert_eq!(quantize_real(-0.75, 0.5, 3, r), 1);
        assert_eq!(quantize_real(1e30, 0.5, 0, r), 127);
        assert_eq!(quantize_real(f64::NEG_INFINITY, 0.5, 0, r), -128);
        assert_eq!(quantize_real(f64::NAN, 0.5, 5, r), 5);
    }

    #[test]
    fn rounding_shift_ties_toward_plus_infinity() {
        assert_eq!(rounding_shift(5, 1), 3, "2.5 -> 3");
        assert_eq!(rounding_shift(-5, 1), -2, "-2.5 -> -2");
        assert_eq!(rounding_shift(-6, 2), -1, "-1.5 -> -1");
        assert_eq!(rounding_shift(7, 2), 2, "1.75 -> 2");
        assert_eq!(rounding_shift(i64::MAX, 1), 1 << 62);
        assert_eq!(rounding_shift(i64::MIN, 63), -1);
        assert_eq!(rounding_shift(9, 0), 9);
    }

    #[test]
    fn fixed_multipliers() {
        let half = FixedMultiplier::new(0.5).unwrap();
        assert_eq!(half, FixedMultiplier { m: 1 << 30, shift: 31 });
        assert_eq!(half.apply(3), 2, "1.5 -> 2");
        assert_eq!(half.apply(-3), -1, "-1.5 -> -1");
        let r = 0.000123;
        let f = FixedMultiplier::new(r).unwrap();
        assert!((1 << 30..=1 << 31).contains(&f.m));
        assert_eq!(f.apply(1_000_000), 123);
        // Rounding up to 2^31 keeps m at 2^31 (still exact within bounds).
        let almost_two = 2.0 - 2f64.powi(-40);
        assert_eq!(FixedMultiplier::new(almost_two).unwrap(), FixedMultiplier { m: 1 << 31, shift: 30 });
        assert!(FixedMultiplier::new(2f64.powi(31)).unwrap_err().contains("outside"));
        assert!(FixedMultiplier::new(2f64.powi(-33)).unwrap_err().contains("outside"));
        assert!(FixedMultiplier::new(0.0).is_err());
        assert!(FixedMultiplier::new(f64::NAN).is_err());
    }

    #[test]
    fn channel_maps() {
        let q = QuantInt {
            width: 8,
            signed: true,
            params: QuantParams::PerChannel { axis: 0, scales: vec![0.5, 0.25], zps: vec![1, 2] },
        };
        let m = ChannelMap::of_int(&q, &[2, 3]).unwrap();
        assert_eq!((m.scale(0), m.zp(2), m.scale(3), m.zp(5)), (0.5, 1, 0.25, 2));
        assert!(ChannelMap::of_int(&q, &[3, 2]).unwrap_err().contains("2 scales for axis 0 of size 3"));
        assert!(ChannelMap::of_int(&q, &[]).unwrap_err().contains("out of range"));
        let last = QuantBin::PerChannel { axis: 1, scales: vec![1.0, 2.0, 3.0] };
        let m = ChannelMap::of_bin(&last, &[2, 3]).unwrap();
        assert_eq!((m.channel(4), m.scale(5), m.zp(5)), (1, 3.0, 0));
    }

    #[test]
    fn zero_points_must_be_representable() {
        let q = |zp| QuantInt { width: 4, signed: false, params: QuantParams::PerTensor { scale: 1.0, zp } };
        assert!(check_zero_points(&q(15), "x").is_ok());
        let e = check_zero_points(&q(16), "operand #0").unwrap_err();
        assert_eq!(e, "operand #0: zero point 16 is outside the range [0, 15] of its 4-bit integers");
    }
}
