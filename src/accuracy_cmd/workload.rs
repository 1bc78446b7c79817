//! The inputs `weft accuracy --ops` measures each op on, and their f64
//! reference: every input code of the op's realistic range for the
//! elementwise ops, random lanes for softmax and layer norm; and the
//! quantization formats at a given width, calibrated on that data.
//!
//! Invariants: the data depend only on the op and the width (a fixed seed,
//! no clock); the reference is the f64 function of the *dequantized*
//! inputs, so errors measure the op and its output quantization, not the
//! input's quantization.

use weft_ir::ops::quant::nonlinear::ideal;
use weft_passes::transforms::lower_nonlinear::OpKind;

/// A per-tensor quantization format.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Format {
    pub width: u8,
    pub signed: bool,
    pub scale: f64,
    pub zp: i64,
}

impl Format {
    /// Symmetric signed: `maxabs` is the greatest code.
    fn symmetric(width: u8, maxabs: f64) -> Format {
        Format { width, signed: true, scale: maxabs / ((1i64 << (width - 1)) - 1) as f64, zp: 0 }
    }

    /// Unsigned from 0: `max` is the greatest code.
    fn unsigned(width: u8, max: f64) -> Format {
        Format { width, signed: false, scale: max / ((1i64 << width) - 1) as f64, zp: 0 }
    }

    /// Unsigned with a zero point covering `[min, max]` (min <= 0).
    fn asymmetric(width: u8, min: f64, max: f64) -> Format {
        let scale = (max - min) / ((1i64 << width) - 1) as f64;
        Format { width, signed: false, scale, zp: (-min / scale).round() as i64 }
    }

    pub fn range(&self) -> (i64, i64) {
        if self.signed {
            (-(1i64 << (self.width - 1)), (1i64 << (self.width - 1)) - 1)
        } else {
            (0, (1i64 << self.width) - 1)
        }
    }

    pub fn real(&self, q: i64) -> f64 {
        (q - self.zp) as f64 * self.scale
    }

    fn quantize(&self, x: f64) -> i64 {
        ideal::quantize_value(x, self.scale, self.zp, self.width, self.signed)
    }

    /// `!quant.int<...>` text.
    pub fn type_text(&self) -> String {
        let sign = if self.signed { "signed" } else { "unsigned" };
        format!("!quant.int<w={}, {sign}, scale={:?}, zp={}>", self.width, self.scale, self.zp)
    }
}

/// What one op is measured on at one width.
#[derive(Debug, Clone)]
pub struct Workload {
    pub kind: OpKind,
    /// `[n]` for elementwise ops, `[rows, lanes]` for softmax and layer
    /// norm (reduced along the last axis).
    pub shape: Vec<u64>,
    pub x: Format,
    pub y: Format,
    /// The stored input integers.
    pub codes: Vec<i64>,
    /// The f64 op on the dequantized inputs.
    pub reference: Vec<f64>,
    /// Errors are divided by this: 1, or the reference's standard
    /// deviation for layer norm.
    pub unit: f64,
    /// Layer norm's epsilon.
    pub epsilon: f64,
}

/// The realistic input range of an elementwise op, and whether its input
/// is signed.
fn elementwise_range(kind: OpKind) -> (f64, f64) {
    match kind {
        OpKind::Gelu | OpKind::Tanh => (-4.0, 4.0),
        OpKind::Silu | OpKind::Sigmoid => (-8.0, 8.0),
        OpKind::Exp => (-8.0, 0.0),
        OpKind::Reciprocal => (0.25, 8.0),
        OpKind::Sqrt => (0.0, 16.0),
        OpKind::Rsqrt => (0.25, 16.0),
        OpKind::Softmax | OpKind::LayerNorm => (0.0, 0.0),
    }
}

/// What `weft accuracy` says about the data of each op.
pub fn describe(kind: OpKind) -> String {
    match kind {
        OpKind::Softmax => {
            format!("{SOFTMAX_ROWS} rows of {SOFTMAX_LANES} logits ~ N(0, s), s in 0.5..4, some with a spike")
        }
        OpKind::LayerNorm => format!(
            "{NORM_ROWS} lanes of {NORM_LANES} values ~ N(m, s), m in -1..1, s in 0.3..2, 1% outliers at 6 s; \
             errors in units of the output's std"
        ),
        kind => {
            let (lo, hi) = elementwise_range(kind);
            format!("every input code in [{lo}, {hi}]")
        }
    }
}

const SOFTMAX_ROWS: u64 = 32;
const SOFTMAX_LANES: u64 = 128;
const NORM_ROWS: u64 = 16;
const NORM_LANES: u64 = 384;

pub fn workload(kind: OpKind, bits: u8) -> Workload {
    match kind {
        OpKind::Softmax => softmax(bits),
        OpKind::LayerNorm => layer_norm(bits),
        _ => elementwise(kind, bits),
    }
}

/// The f64 function of an elementwise op.
fn function(kind: OpKind) -> fn(f64) -> f64 {
    match kind {
        OpKind::Gelu => ideal::gelu_erf,
        OpKind::Silu => ideal::silu,
        OpKind::Sigmoid => ideal::sigmoid,
        OpKind::Tanh => f64::tanh,
        OpKind::Exp => f64::exp,
        OpKind::Reciprocal => ideal::reciprocal,
        OpKind::Sqrt => f64::sqrt,
        OpKind::Rsqrt => ideal::rsqrt,
        OpKind::Softmax | OpKind::LayerNorm => |x| x,
    }
}

fn elementwise(kind: OpKind, bits: u8) -> Workload {
    let (lo, hi) = elementwise_range(kind);
    let x = if lo < 0.0 { Format::symmetric(bits, lo.abs().max(hi)) } else { Format::unsigned(bits, hi) };
    let (qlo, qhi) = x.range();
    let codes: Vec<i64> = (qlo..=qhi).filter(|&q| (lo..=hi).contains(&x.real(q))).collect();
    let f = function(kind);
    let reference: Vec<f64> = codes.iter().map(|&q| f(x.real(q))).collect();
    let (min, max) = min_max(&reference);
    let y = match kind {
        OpKind::Gelu | OpKind::Silu => Format::asymmetric(bits, min.min(0.0), max),
        OpKind::Tanh => Format::symmetric(bits, min.abs().max(max)),
        _ => Format::unsigned(bits, max),
    };
    Workload { kind, shape: vec![codes.len() as u64], x, y, codes, reference, unit: 1.0, epsilon: 0.0 }
}

fn softmax(bits: u8) -> Workload {
    let mut rng = Rng(0x5eed_0001);
    let mut logits = Vec::new();
    for row in 0..SOFTMAX_ROWS {
        let spread = [0.5, 1.0, 2.0, 4.0][row as usize % 4];
        for lane in 0..SOFTMAX_LANES {
            let spike = row % 8 == 7 && lane == row % SOFTMAX_LANES;
            logits.push(if spike { 4.0 * spread } else { spread * rng.normal() });
        }
    }
    let x = Format::symmetric(bits, max_abs(&logits));
    let codes: Vec<i64> = logits.iter().map(|&v| x.quantize(v)).collect();
    let mut reference: Vec<f64> = codes.iter().map(|&q| x.real(q)).collect();
    ideal::softmax(&mut reference, &[SOFTMAX_ROWS, SOFTMAX_LANES], 1);
    let y = Format::unsigned(bits, 1.0);
    let shape = vec![SOFTMAX_ROWS, SOFTMAX_LANES];
    Workload { kind: OpKind::Softmax, shape, x, y, codes, reference, unit: 1.0, epsilon: 0.0 }
}

fn layer_norm(bits: u8) -> Workload {
    let mut rng = Rng(0x5eed_0002);
    let mut values = Vec::new();
    for _ in 0..NORM_ROWS {
        let (mean, spread) = (rng.uniform(-1.0, 1.0), rng.uniform(0.3, 2.0));
        for _ in 0..NORM_LANES {
            let outlier = rng.uniform(0.0, 1.0) < 0.01;
            let z = if outlier { 6.0 * rng.normal().signum() } else { rng.normal() };
            values.push(mean + spread * z);
        }
    }
    let x = Format::symmetric(bits, max_abs(&values));
    let codes: Vec<i64> = values.iter().map(|&v| x.quantize(v)).collect();
    let mut reference: Vec<f64> = codes.iter().map(|&q| x.real(q)).collect();
    let epsilon = 1e-12;
    ideal::normalize(&mut reference, NORM_LANES as usize, epsilon);
    let y = Format::symmetric(bits, max_abs(&reference));
    let unit = std_dev(&reference);
    let shape = vec![NORM_ROWS, NORM_LANES];
    Workload { kind: OpKind::LayerNorm, shape, x, y, codes, reference, unit, epsilon }
}

fn min_max(v: &[f64]) -> (f64, f64) {
    v.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &x| (lo.min(x), hi.max(x)))
}

fn max_abs(v: &[f64]) -> f64 {
    v.iter().fold(0.0f64, |m, x| m.max(x.abs()))
}

fn std_dev(v: &[f64]) -> f64 {
    let n = v.len().max(1) as f64;
    let mean = v.iter().sum::<f64>() / n;
    (v.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / n).sqrt()
}

/// SplitMix64: a small deterministic generator.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in [lo, hi).
    fn uniform(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Standard normal (Box-Muller).
    fn normal(&mut self) -> f64 {
        let u = self.uniform(f64::MIN_POSITIVE, 1.0);
        let v = self.uniform(0.0, 1.0);
        (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn elementwise_inputs_are_every_code_in_range() {
        let w = workload(OpKind::Gelu, 4);
        assert_eq!(w.x, Format::symmetric(4, 4.0));
        assert_eq!(w.codes, (-7..=7).collect::<Vec<_>>());
        assert_eq!(w.reference.len(), w.codes.len());
        let r = workload(OpKind::Reciprocal, 8);
        assert!(r.codes.iter().all(|&q| r.x.real(q) >= 0.25));
        assert_eq!(r.y.zp, 0);
    }

    #[test]
    fn lanes_are_deterministic_and_calibrated() {
        let a = workload(OpKind::LayerNorm, 8);
        assert_eq!(a.codes, workload(OpKind::LayerNorm, 8).codes);
        assert_eq!(a.codes.iter().map(|q| q.abs()).max(), Some(127));
        assert!((a.unit - 1.0).abs() < 0.01, "normalized lanes have std 1: {}", a.unit);
        let s = workload(OpKind::Softmax, 8);
        let row_sum: f64 = s.reference[..SOFTMAX_LANES as usize].iter().sum();
        assert!((row_sum - 1.0).abs() < 1e-9);
    }
}
