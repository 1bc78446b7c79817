//! Accuracy of the f32 math against f64 references (std and libm), in
//! units in the last place of the correctly rounded f32 result, over a
//! sweep of every 65537th f32 bit pattern, a dense grid where the
//! functions change fastest, and special values. The bounds asserted here
//! are the measured maxima of the exhaustive run (`cargo test --release -p
//! weft-ir exhaustive -- --ignored --nocapture`), recorded in
//! spec/numerics.md.

use super::*;

/// The distance from `y` to the exact value `r` in ulps of f32 at `r`.
fn ulps(y: f32, r: f64) -> f64 {
    if y.is_nan() || r.is_nan() {
        return if y.is_nan() && r.is_nan() { 0.0 } else { f64::INFINITY };
    }
    let rounded = r as f32;
    if rounded.is_infinite() || y.is_infinite() {
        return if y == rounded { 0.0 } else { f64::INFINITY };
    }
    let a = rounded.abs();
    let ulp = if a < f32::MIN_POSITIVE {
        2f64.powi(-149)
    } else {
        let next = f32::from_bits(a.to_bits() + 1);
        // At the top binade the step to inf is not a float; use the last one.
        if next.is_finite() {
            f64::from(next) - f64::from(a)
        } else {
            f64::from(a) - f64::from(f32::from_bits(a.to_bits() - 1))
        }
    };
    (f64::from(y) - r).abs() / ulp
}

type Case = (&'static str, fn(f32) -> f32, fn(f64) -> f64);

fn sigmoid64(x: f64) -> f64 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        let e = x.exp();
        e / (1.0 + e)
    }
}

fn gelu_erf64(x: f64) -> f64 {
    0.5 * x * libm::erfc(-x / std::f64::consts::SQRT_2)
}

fn gelu_tanh64(x: f64) -> f64 {
    let c = 2.0 * (2.0 / std::f64::consts::PI).sqrt();
    x * sigmoid64(c * (x + 0.044715 * x * x * x))
}

const CASES: [Case; 7] = [
    ("exp", exp, f64::exp),
    ("log", log, f64::ln),
    ("erf", erf, libm::erf),
    ("tanh", tanh, f64::tanh),
    ("sigmoid", sigmoid, sigmoid64),
    ("gelu_erf", gelu_erf, gelu_erf64),
    ("gelu_tanh", gelu_tanh, gelu_tanh64),
];

/// The largest error over `inputs`, and where.
fn worst(f: fn(f32) -> f32, r: fn(f64) -> f64, inputs: impl Iterator<Item = f32>) -> (f64, f32) {
    let mut max = (0.0, 0.0);
    for x in inputs {
        let e = ulps(f(x), r(f64::from(x)));
        if e > max.0 || e.is_nan() {
            max = (e, x);
        }
    }
    max
}

fn sweep() -> impl Iterator<Item = f32> {
    let strided = (0..=u32::MAX / 65537).map(|i| f32::from_bits(i.wrapping_mul(65537)));
    let dense = (-24_000..=24_000).map(|i| i as f32 * 5e-4);
    strided.chain(dense)
}

/// Measured maximum errors (ulps) of the exhaustive run, with a little room.
fn bound(name: &str) -> f64 {
    match name {
        "exp" | "log" => 1.1,
        "erf" | "tanh" => 2.0,
        "sigmoid" => 2.5,
        _ => 7.0,
    }
}

#[test]
fn functions_are_accurate_to_a_few_ulps() {
    for (name, f, r) in CASES {
        let (e, x) = worst(f, r, sweep());
        assert!(e <= bound(name), "{name}: {e} ulps at {x:e} ({:#x})", x.to_bits());
    }
}

#[test]
#[ignore = "takes minutes: every f32 through every function (run with --release)"]
fn exhaustive() {
    // WEFT_MATH_ONLY=erf,tanh limits the run to some functions.
    let only = std::env::var("WEFT_MATH_ONLY").unwrap_or_default();
    for (name, f, r) in CASES.into_iter().filter(|c| only.is_empty() || only.split(',').any(|o| o == c.0)) {
        let (e, x) = worst(f, r, (0..=u32::MAX).map(f32::from_bits));
        println!("{name:<10} max {e:.3} ulp at {x:e} ({:#010x})", x.to_bits());
        // Subnormal results have fewer bits: their ulp is 2^-149 absolute.
        let normal =
            (0..=u32::MAX).map(f32::from_bits).filter(|&x| r(f64::from(x)).abs() >= f64::from(f32::MIN_POSITIVE));
        let (e, x) = worst(f, r, normal);
        println!("{name:<10} max {e:.3} ulp at {x:e} ({:#010x}) among normal results", x.to_bits());
    }
}

#[test]
fn special_values() {
    let (inf, nan) = (f32::INFINITY, f32::NAN);
    for (name, f, _) in CASES {
        assert!(f(nan).is_nan(), "{name}(NaN)");
    }
    assert_eq!((exp(0.0), exp(-0.0), exp(inf), exp(-inf)), (1.0, 1.0, inf, 0.0));
    let big = 88.72283f32;
    assert!(exp(big).is_finite() && ulps(exp(big), f64::from(big).exp()) <= 1.0);
    assert_eq!((exp(88.7229), exp(-103.97), exp(-104.0)), (inf, 1e-45, 0.0));
    assert_eq!((log(1.0), log(0.0), log(-0.0), log(inf)), (0.0, -inf, -inf, inf));
    assert!(log(-1.0).is_nan() && log(-inf).is_nan());
    assert_eq!(log(f32::from_bits(1)), -103.27893);
    assert_eq!((erf(0.0).to_bits(), erf(-0.0).to_bits()), (0, (-0.0f32).to_bits()));
    assert_eq!((erf(inf), erf(-inf), erf(4.0), erf(-10.0)), (1.0, -1.0, 1.0, -1.0));
    assert_eq!((tanh(-0.0).to_bits(), tanh(inf), tanh(-inf), tanh(10.0)), ((-0.0f32).to_bits(), 1.0, -1.0, 1.0));
    assert_eq!((sigmoid(0.0), sigmoid(inf), sigmoid(-inf), sigmoid(-200.0)), (0.5, 1.0, 0.0, 0.0));
    assert_eq!((gelu_erf(0.0), gelu_erf(inf), gelu_erf(20.0), gelu_erf(-20.0)), (0.0, inf, 20.0, -0.0));
    assert_eq!((gelu_tanh(0.0), gelu_tanh(inf), gelu_tanh(20.0)), (0.0, inf, 20.0));
    // Like the reference formula, the limit at -inf is not taken.
    assert!(gelu_erf(-inf).is_nan() && gelu_tanh(-inf).is_nan());
}

#[test]
fn odd_functions_are_exactly_odd() {
    for x in sweep().filter(|x| x.is_finite()) {
        assert_eq!(erf(-x).to_bits(), (-erf(x)).to_bits(), "erf at {x:e}");
        assert_eq!(tanh(-x).to_bits(), (-tanh(x)).to_bits(), "tanh at {x:e}");
    }
}

#[test]
fn shifted_exponential_uses_the_exact_difference() {
    // x - m is exact here: the same as exp of the difference.
    assert_eq!(exp_diff(3.5, 1.25), exp(2.25));
    // Not exact in f32 (the difference needs more than 24 bits): the
    // shifted form is closer to the true value than exp of the rounded one.
    let (x, m) = (1.0e-8f32, 20.0f32);
    let truth = (f64::from(x) - f64::from(m)).exp();
    assert!(ulps(exp_diff(x, m), truth) <= 1.0);
    assert_eq!(exp_diff(-inf(), 3.0), 0.0);
    assert_eq!(exp_diff(-3.0e38, 3.0e38), 0.0);
    assert!(exp_diff(inf(), inf()).is_nan());
}

fn inf() -> f32 {
    f32::INFINITY
}

#[test]
fn sum4_adds_four_interleaved_partial_sums() {
    // s0 = 1e16 + -1e16 = 0, s1 = 1, s2 = 2, s3 = 0: a sequential sum
    // would lose the 1 and the 2 against 1e16.
    assert_eq!(sum4([1e16, 1.0, 2.0, -0.0, -1e16]), 3.0);
    assert_eq!(sum4([]).to_bits(), (-0.0f64).to_bits());
    assert_eq!(sum4([0.5; 9]), 4.5);
}
