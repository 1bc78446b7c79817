//! Observers: what calibration remembers of one value ([`Histogram`]) and
//! how a quantization range and an activation type are chosen from it
//! (min/max, percentile, MSE-optimal).
//!
//! The histogram has [`BINS`] bins over `[-R, R]` with `R` a power of two;
//! when a value beyond `R` arrives, `R` doubles and pairs of bins merge, so
//! the counts stay exact for any order of arrival and the result does not
//! depend on how samples are batched. The exact least and greatest values
//! are kept beside it.
//!
//! Invariants: values that are not finite or whose magnitude is at least
//! [`SENTINEL`] are counted as ignored, never binned (exporters write
//! attention masks as `-f32::MAX` or `-1e9`-like constants; they saturate
//! to the end of the range instead of stretching it); a range always
//! contains 0 and has positive width.

use weft_ir::types::{ElemType, QuantInt, QuantParams};

use super::scheme::Observer;

/// Bins of a histogram (a multiple of 4, so that halving the resolution
/// maps bins onto bins).
pub const BINS: usize = 2048;
/// Partial histograms [`Histogram::add_f32`] fills at once.
const WAYS: usize = 4;
/// Magnitudes from which a value is a masking sentinel, not data.
pub const SENTINEL: f64 = 1e30;

/// The distribution of one value over the calibration samples.
#[derive(Debug, Clone, PartialEq)]
pub struct Histogram {
    bins: Vec<u64>,
    /// Half the width of the binned interval; 0 until a nonzero value.
    half_range: f64,
    pub min: f64,
    pub max: f64,
    /// Values binned (zeros included).
    pub count: u64,
    /// Non-finite values and sentinels.
    pub ignored: u64,
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram {
            bins: vec![0; BINS],
            half_range: 0.0,
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
            count: 0,
            ignored: 0,
        }
    }
}

impl Histogram {
    /// Adds a batch of values.
    pub fn add(&mut self, values: impl Iterator<Item = f64> + Clone) {
        let amax = values.clone().filter(|x| is_data(*x)).fold(0.0f64, |m, x| m.max(x.abs()));
        self.grow_to(amax);
        let bin_of = self.binner();
        let (mut lo, mut hi, mut count, mut ignored) = (self.min, self.max, 0u64, 0u64);
        for x in values {
            if !is_data(x) {
                ignored += 1;
                continue;
            }
            lo = lo.min(x);
            hi = hi.max(x);
            count += 1;
            self.bins[bin_of(x)] += 1;
        }
        (self.min, self.max) = (lo, hi);
        self.count += count;
        self.ignored += ignored;
    }

    /// Adds a batch of f32 values: the same histogram as [`add`](Self::add)
    /// on their f64 values, computed for speed (calibration bins every
    /// activation of every sample). The batch is dealt round-robin to
    /// [`WAYS`] partial histograms and extremes (consecutive values often
    /// fall in the same bin, and one counter would make each increment
    /// wait for the last), which are summed at the end; counts do not
    /// depend on the order of addition.
    pub fn add_f32(&mut self, values: &[f32]) {
        // `f64::from(|x|) < SENTINEL` is `is_data` (false for NaN and
        // infinities); the greatest |x| in f32 converts exactly.
        let data = |x: f32| f64::from(x.abs()) < SENTINEL;
        let amax = values.iter().fold(0.0f32, |m, &x| if data(x) { m.max(x.abs()) } else { m });
        self.grow_to(f64::from(amax));
        let bin_of = self.binner();
        let mut counts = vec![0u64; WAYS * BINS];
        let (mut lo, mut hi, mut ignored) = ([f64::INFINITY; WAYS], [f64::NEG_INFINITY; WAYS], 0u64);
        for chunk in values.chunks(WAYS) {
            for (way, &x) in chunk.iter().enumerate() {
                if !data(x) {
                    ignored += 1;
                    continue;
                }
                let x = f64::from(x);
                lo[way] = lo[way].min(x);
                hi[way] = hi[way].max(x);
                counts[way * BINS + bin_of(x)] += 1;
            }
        }
        for (i, bin) in self.bins.iter_mut().enumerate() {
            *bin += (0..WAYS).map(|way| counts[way * BINS + i]).sum::<u64>();
        }
        self.min = lo.iter().fold(self.min, |m, &x| m.min(x));
        self.max = hi.iter().fold(self.max, |m, &x| m.max(x));
        self.count += values.len() as u64 - ignored;
        self.ignored += ignored;
    }

    /// The bin of a value over the current range: `floor((x + R) / 2R *
    /// BINS)` clamped to the bins (the middle bin while the range is
    /// empty). `R` is a power of two, so dividing by `2R` and multiplying by
    /// [`BINS`] is one exact scaling by a power of two: the closure
    /// multiplies once, unless that factor is not a normal number (ranges
    /// near the ends of the f64 exponent range), where it divides.
    fn binner(&self) -> impl Fn(f64) -> usize {
        let half_range = self.half_range;
        let factor = BINS as f64 / (2.0 * half_range);
        let exact = half_range > 0.0 && factor.is_normal();
        move |x| {
            if half_range == 0.0 {
                return BINS / 2;
            }
            let pos =
                if exact { (x + half_range) * factor } else { (x + half_range) / (2.0 * half_range) * BINS as f64 };
            (pos.floor().max(0.0) as usize).min(BINS - 1)
        }
    }

    /// Doubles the range until it covers `amax`, merging bins.
    fn grow_to(&mut self, amax: f64) {
        if amax == 0.0 {
            return;
        }
        if self.half_range == 0.0 {
            // Zeros seen so far sit in the middle bin of any range. The
            // range is the least power of two above `amax` (strictly, so
            // that no value sits on the upper edge).
            self.half_range = 2f64.powi(amax.log2().floor() as i32).max(f64::MIN_POSITIVE);
            while self.half_range <= amax {
                self.half_range *= 2.0;
            }
            return;
        }
        while self.half_range <= amax {
            let mut merged = vec![0; BINS];
            for (i, &c) in self.bins.iter().enumerate() {
                merged[BINS / 4 + i / 2] += c;
            }
            self.bins = merged;
            self.half_range *= 2.0;
        }
    }

    fn bin_width(&self) -> f64 {
        2.0 * self.half_range / BINS as f64
    }

    fn bin_center(&self, i: usize) -> f64 {
        -self.half_range + (i as f64 + 0.5) * self.bin_width()
    }

    /// The value below which a fraction `q` of the binned values lie
    /// (linear within a bin), clamped to the exact extremes.
    pub fn quantile(&self, q: f64) -> f64 {
        if self.count == 0 {
            return 0.0;
        }
        let target = q.clamp(0.0, 1.0) * self.count as f64;
        let mut seen = 0.0;
        for (i, &c) in self.bins.iter().enumerate() {
            let c = c as f64;
            if c > 0.0 && seen + c >= target {
                let lo = -self.half_range + i as f64 * self.bin_width();
                let x = lo + (target - seen) / c * self.bin_width();
                return x.clamp(self.min, self.max);
            }
            seen += c;
        }
        self.max
    }

    /// The range the observer picks for `bits`-bit values.
    pub fn range(&self, observer: Observer, bits: u8, symmetric: bool) -> (f64, f64) {
        if self.count == 0 {
            return (0.0, 0.0);
        }
        match observer {
            Observer::MinMax => (self.min, self.max),
            Observer::Percentile(p) => {
                let tail = (100.0 - p) / 100.0;
                (self.quantile(tail).min(0.0), self.quantile(1.0 - tail).max(0.0))
            }
            Observer::Mse => self.mse_range(bits, symmetric),
        }
    }

    /// Shrinks `[min, max]` by the factor (from 1/100 to 1 in steps of
    /// 1/100) with the least expected squared error: clipped values lose
    /// their distance to the range, the others a uniform rounding error
    /// of `step^2 / 12`.
    fn mse_range(&self, bits: u8, symmetric: bool) -> (f64, f64) {
        let (lo, hi) = (self.min.min(0.0), self.max.max(0.0));
        let mut best = (f64::INFINITY, lo, hi);
        for k in 1..=100 {
            let t = k as f64 / 100.0;
            let (l, h) = (lo * t, hi * t);
            let err = self.expected_error(bits, symmetric, l, h);
            // `<=` prefers the wider range on ties (k grows).
            if err <= best.0 {
                best = (err, l, h);
            }
        }
        (best.1, best.2)
    }

    fn expected_error(&self, bits: u8, symmetric: bool, lo: f64, hi: f64) -> f64 {
        let (l, h, step) = if symmetric {
            let a = (-lo).max(hi);
            (-a, a, a / ((1u64 << (bits - 1)) - 1) as f64)
        } else {
            (lo, hi, (hi - lo) / ((1u64 << bits) - 1) as f64)
        };
        let rounding = step * step / 12.0;
        self.bins
            .iter()
            .enumerate()
            .filter(|(_, &c)| c > 0)
            .map(|(i, &c)| {
                let x = self.bin_center(i).clamp(self.min, self.max);
                let clipped = x - x.clamp(l, h);
                c as f64 * if clipped != 0.0 { clipped * clipped } else { rounding }
            })
            .sum()
    }
}

/// True for values that enter the statistics.
fn is_data(x: f64) -> bool {
    x.is_finite() && x.abs() < SENTINEL
}

/// The activation type for the range `[lo, hi]` at `bits` bits: symmetric
/// is signed with zero point 0 and scale `max(|lo|, |hi|) / (2^(b-1) - 1)`;
/// asymmetric is unsigned with scale `(hi - lo) / (2^b - 1)` and the zero
/// point that puts 0 on an integer. The range is first widened to contain
/// 0; a range of width 0 becomes `[-1, 1]`.
pub fn act_type(lo: f64, hi: f64, bits: u8, symmetric: bool) -> ElemType {
    let (mut lo, mut hi) = (lo.min(0.0), hi.max(0.0));
    let width = hi - lo;
    if width.is_nan() || width <= 1e-30 || width.is_infinite() {
        (lo, hi) = (-1.0, 1.0);
    }
    let q = if symmetric {
        let amax = (-lo).max(hi);
        let scale = amax / ((1u64 << (bits - 1)) - 1) as f64;
        QuantInt { width: bits, signed: true, params: QuantParams::PerTensor { scale, zp: 0 } }
    } else {
        let levels = ((1u64 << bits) - 1) as f64;
        let scale = (hi - lo) / levels;
        let zp = (-lo / scale).round_ties_even().clamp(0.0, levels) as i64;
        QuantInt { width: bits, signed: false, params: QuantParams::PerTensor { scale, zp } }
    };
    ElemType::Quant(Box::new(q))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hist(values: &[f64]) -> Histogram {
        let mut h = Histogram::default();
        h.add(values.iter().copied());
        h
    }

    /// The multiplication in `binner` gives the bins of the defining
    /// formula, also on bin edges and for tiny and huge ranges.
    #[test]
    fn bins_follow_their_definition() {
        let divide = |r: f64, x: f64| (((x + r) / (2.0 * r) * BINS as f64).floor().max(0.0) as usize).min(BINS - 1);
        for e in [-1022, -1000, -40, -3, 0, 1, 7, 60, 99] {
            let r = 2f64.powi(e);
            let h = Histogram { half_range: r, ..Histogram::default() };
            let bin_of = h.binner();
            let width = 2.0 * r / BINS as f64;
            let mut probes: Vec<f64> = (0..=BINS as i64).map(|i| -r + i as f64 * width).collect();
            probes.extend(probes.clone().iter().flat_map(|&x| [x.next_down(), x.next_up()]));
            probes.extend((0..997).map(|i| r * ((i * 7919 % 997) as f64 / 498.5 - 1.0)));
            for x in probes.into_iter().filter(|x| x.abs() < r) {
                assert_eq!(bin_of(x), divide(r, x), "range 2^{e}, x = {x:e}");
            }
        }
    }

    /// `add_f32` gives `add`'s histogram, sentinels, NaN and infinities
    /// included, also when the range grows between batches.
    #[test]
    fn the_f32_path_gives_the_same_histogram() {
        let mut values: Vec<f32> = (0..4099).map(|i| ((i * 7919) % 4099) as f32 / 301.0 - 6.5).collect();
        values.extend([f32::NAN, f32::INFINITY, -f32::MAX, 1e31, -0.0, 0.0, 1e-40]);
        for split in [0, 1, 5, 2048, values.len()] {
            let (a, b) = values.split_at(split);
            let (mut fast, mut reference) = (Histogram::default(), Histogram::default());
            for part in [a, b] {
                fast.add_f32(part);
                reference.add(part.iter().map(|&x| f64::from(x)));
            }
            assert_eq!(fast, reference, "split at {split}");
        }
    }

    #[test]
    fn batching_does_not_change_the_histogram() {
        let values: Vec<f64> = (0..1000).map(|i| ((i * 37) % 1000) as f64 / 50.0 - 7.0).collect();
        let whole = hist(&values);
        let mut parts = Histogram::default();
        for chunk in values.chunks(7) {
            parts.add(chunk.iter().copied());
        }
        // Growing in steps merges bins exactly, so the counts agree once
        // both cover the same range.
        assert_eq!(whole, parts);
        assert_eq!((whole.min, whole.max, whole.count), (-7.0, 12.98, 1000));
    }

    #[test]
    fn sentinels_and_non_finite_values_are_ignored() {
        let h = hist(&[0.5, -3.4028235e38, f64::NAN, -1.0, f64::INFINITY, 1e31]);
        assert_eq!((h.min, h.max, h.count, h.ignored), (-1.0, 0.5, 2, 4));
    }

    #[test]
    fn percentiles_cut_the_tails() {
        let mut values: Vec<f64> = (0..10_000).map(|i| (i as f64 / 10_000.0) * 2.0 - 1.0).collect();
        values.push(50.0);
        let h = hist(&values);
        assert_eq!(h.range(Observer::MinMax, 8, false), (-1.0, 50.0));
        let (lo, hi) = h.range(Observer::Percentile(99.9), 8, false);
        assert!((lo + 0.998).abs() < 0.03 && (hi - 0.998).abs() < 0.03, "{lo} {hi}");
    }

    #[test]
    fn mse_clips_outliers_more_at_low_bits() {
        let mut values: Vec<f64> = (0..20_000).map(|i| ((i % 200) as f64 / 100.0 - 1.0) * 0.5).collect();
        values.extend([8.0, -8.0]);
        let h = hist(&values);
        let (_, hi4) = h.range(Observer::Mse, 4, true);
        let (_, hi8) = h.range(Observer::Mse, 8, true);
        assert!(hi4 < 1.0, "4 bits clip the two outliers: {hi4}");
        assert!(hi4 <= hi8, "{hi4} {hi8}");
    }

    #[test]
    fn activation_types() {
        let t = act_type(-1.0, 3.0, 8, false);
        assert_eq!(t.to_string(), "!quant.int<w=8, unsigned, scale=0.01568627450980392, zp=64>");
        let t = act_type(-1.0, 3.0, 4, true);
        assert_eq!(t.to_string(), "!quant.int<w=4, signed, scale=0.42857142857142855, zp=0>");
        assert_eq!(
            act_type(0.0, 0.0, 8, true).to_string(),
            "!quant.int<w=8, signed, scale=0.007874015748031496, zp=0>"
        );
        let t = act_type(0.5, 2.0, 8, false);
        assert!(t.to_string().ends_with("zp=0>"), "the range is widened to contain 0: {t}");
    }
}
