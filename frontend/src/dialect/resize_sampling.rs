//! Resize's one-dimensional sampling: coordinate transformation modes and
//! the taps (input indices and weights) of nearest, linear and cubic
//! interpolation, with antialiasing and `exclude_outside`, following the
//! ONNX reference implementation.
//!
//! Invariants: a tap's index is clamped into `[0, in - 1]` (edge
//! padding); weights of one coordinate sum to 1 unless `exclude_outside`
//! removed every tap (then they are NaN, as in the reference).

/// The sampling attributes of a Resize.
#[derive(Debug, Clone)]
pub struct Sampling<'a> {
    pub mode: &'a str,
    pub coord: &'a str,
    pub nearest: &'a str,
    pub cubic_a: f64,
    pub antialias: bool,
    pub exclude_outside: bool,
}

/// One input element contributing to an output element.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Tap {
    pub index: u64,
    pub weight: f64,
}

/// The input coordinate of output coordinate `x`, or `None` when
/// `tf_crop_and_resize` samples outside the input. `scale` is the dim's
/// scale, `out` its integer output extent, `crop` its roi (start, end).
pub fn original_coord(s: &Sampling, x: f64, scale: f64, input: u64, out: u64, crop: (f64, f64)) -> Option<f64> {
    let in_len = input as f64;
    // The reference's output width: fractional when computed from a scale.
    let width = scale * in_len;
    let coord = match s.coord {
        "align_corners" if width == 1.0 => 0.0,
        "align_corners" => x * (in_len - 1.0) / (width - 1.0),
        "asymmetric" => x / scale,
        "pytorch_half_pixel" if width == 1.0 => -0.5,
        "half_pixel_symmetric" => {
            let adjustment = out as f64 / width;
            let offset = in_len / 2.0 * (1.0 - adjustment);
            offset + (x + 0.5) / scale - 0.5
        }
        "tf_crop_and_resize" => {
            let (start, end) = crop;
            let c = if width == 1.0 {
                (end - start) * (in_len - 1.0) / 2.0
            } else {
                x * (end - start) * (in_len - 1.0) / (width - 1.0)
            } + start * (in_len - 1.0);
            if c < 0.0 || c > in_len - 1.0 {
                return None;
            }
            c
        }
        _ => (x + 0.5) / scale - 0.5,
    };
    Some(coord)
}

/// The taps of input coordinate `c` along a dim of extent `input`.
pub fn taps(s: &Sampling, c: f64, scale: f64, input: u64) -> Vec<Tap> {
    // `base` is the neighbour left of `c` with `ratio` in (0, 1]: an
    // integral coordinate is treated as ratio 1 from the element before.
    let floor = c.floor();
    let (base, ratio) = if c == floor { (floor - 1.0, 1.0) } else { (floor, c - floor) };
    let base = base as i64;
    let (first, weights) = match (s.mode, s.antialias) {
        ("nearest", _) => (base, nearest_weights(s.nearest, ratio)),
        ("linear", false) => (base, vec![1.0 - ratio, ratio]),
        ("linear", true) => {
            let (offset, w) = antialias_linear(ratio, scale);
            (base + offset, w)
        }
        (_, false) => (base - 1, cubic_weights(ratio, s.cubic_a)),
        (_, true) => {
            let (offset, w) = antialias_cubic(ratio, scale, s.cubic_a);
            (base + offset, w)
        }
    };
    finish(first, weights, input, s.exclude_outside)
}

/// Weights of `base` and `base + 1` for nearest sampling.
fn nearest_weights(mode: &str, ratio: f64) -> Vec<f64> {
    let pick_upper = match mode {
        _ if ratio == 1.0 => true,
        "round_prefer_ceil" => ratio >= 0.5,
        "floor" => false,
        "ceil" => true,
        _ => ratio > 0.5,
    };
    if pick_upper {
        vec![0.0, 1.0]
    } else {
        vec![1.0, 0.0]
    }
}

/// The Keys cubic kernel with parameter `a` at distance `x`.
fn cubic_kernel(x: f64, a: f64) -> f64 {
    let x = x.abs();
    if x <= 1.0 {
        ((a + 2.0) * x - (a + 3.0)) * x * x + 1.0
    } else if x < 2.0 {
        ((a * x - 5.0 * a) * x + 8.0 * a) * x - 4.0 * a
    } else {
        0.0
    }
}

/// Weights of `base - 1 .. base + 2` for cubic sampling.
fn cubic_weights(ratio: f64, a: f64) -> Vec<f64> {
    vec![
        cubic_kernel(ratio + 1.0, a),
        cubic_kernel(ratio, a),
        cubic_kernel(1.0 - ratio, a),
        cubic_kernel(2.0 - ratio, a),
    ]
}

/// The triangle filter stretched by `1 / scale` when downscaling: the
/// first tap's offset from `base` and the normalized weights.
fn antialias_linear(ratio: f64, scale: f64) -> (i64, Vec<f64>) {
    let s = scale.min(1.0);
    let start = (-1.0 / s).floor() as i64 + 1;
    let footprint = 2 - 2 * start;
    let weights = (0..footprint).map(|t| (1.0 - (((start + t) as f64 - ratio) * s).abs()).clamp(0.0, 1.0)).collect();
    (start, normalized(weights))
}

/// The cubic filter stretched by `1 / scale` when downscaling.
fn antialias_cubic(ratio: f64, scale: f64, a: f64) -> (i64, Vec<f64>) {
    let s = scale.min(1.0);
    let start = (-2.0 / s).floor() as i64 + 1;
    let weights = (start..2 - start).map(|i| cubic_kernel(s * (i as f64 - ratio), a)).collect();
    (start, normalized(weights))
}

fn normalized(mut weights: Vec<f64>) -> Vec<f64> {
    let sum: f64 = weights.iter().sum();
    for w in &mut weights {
        *w /= sum;
    }
    weights
}

/// Applies `exclude_outside`, drops zero weights and clamps indices.
fn finish(first: i64, mut weights: Vec<f64>, input: u64, exclude_outside: bool) -> Vec<Tap> {
    let last = input as i64 - 1;
    if exclude_outside {
        for (t, w) in weights.iter_mut().enumerate() {
            let i = first + t as i64;
            if i < 0 || i > last {
                *w = 0.0;
            }
        }
        weights = normalized(weights);
    }
    weights
        .iter()
        .enumerate()
        .filter(|(_, w)| **w != 0.0)
        .map(|(t, &w)| Tap { index: (first + t as i64).clamp(0, last.max(0)) as u64, weight: w })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sampling(mode: &'static str) -> Sampling<'static> {
        Sampling {
            mode,
            coord: "half_pixel",
            nearest: "round_prefer_floor",
            cubic_a: -0.75,
            antialias: false,
            exclude_outside: false,
        }
    }

    #[test]
    fn cubic_weights_at_integral_coordinates_select_one_element() {
        let s = sampling("cubic");
        assert_eq!(taps(&s, 2.0, 1.0, 5), vec![Tap { index: 2, weight: 1.0 }]);
        let w: f64 = taps(&s, 2.3, 1.0, 5).iter().map(|t| t.weight).sum();
        assert!((w - 1.0).abs() < 1e-12);
    }

    #[test]
    fn nearest_modes_round_as_named() {
        let pick = |mode: &'static str, c: f64| {
            let s = Sampling { nearest: mode, ..sampling("nearest") };
            taps(&s, c, 1.0, 10)[0].index
        };
        assert_eq!((pick("round_prefer_floor", 2.5), pick("round_prefer_ceil", 2.5)), (2, 3));
        assert_eq!((pick("floor", 2.7), pick("ceil", 2.2), pick("floor", 3.0)), (2, 3, 3));
        assert_eq!(pick("round_prefer_floor", -0.5), 0);
    }

    #[test]
    fn edges_clamp_or_are_excluded() {
        let s = sampling("linear");
        assert_eq!(taps(&s, -0.25, 1.0, 4), vec![Tap { index: 0, weight: 0.25 }, Tap { index: 0, weight: 0.75 }]);
        let ex = Sampling { exclude_outside: true, ..sampling("cubic") };
        let t = taps(&ex, 0.5, 1.0, 4);
        assert!(t.iter().all(|t| t.index <= 2));
        assert!((t.iter().map(|t| t.weight).sum::<f64>() - 1.0).abs() < 1e-12);
    }

    #[test]
    fn antialias_widens_the_filter_when_downscaling() {
        let s = Sampling { antialias: true, ..sampling("linear") };
        assert_eq!(taps(&s, 1.5, 1.0, 4).len(), 2);
        let wide = taps(&s, 1.5, 0.5, 4);
        assert_eq!(wide.iter().map(|t| t.index).collect::<Vec<_>>(), vec![0, 1, 2, 3]);
        let weights: Vec<f64> = wide.iter().map(|t| t.weight).collect();
        assert_eq!(weights, vec![0.125, 0.375, 0.375, 0.125]);
    }

    #[test]
    fn coordinate_modes() {
        let s = |coord| Sampling { coord, ..sampling("linear") };
        assert_eq!(original_coord(&s("half_pixel"), 0.0, 2.0, 4, 8, (0.0, 1.0)), Some(-0.25));
        assert_eq!(original_coord(&s("asymmetric"), 3.0, 2.0, 4, 8, (0.0, 1.0)), Some(1.5));
        assert_eq!(original_coord(&s("align_corners"), 7.0, 2.0, 4, 8, (0.0, 1.0)), Some(3.0));
        assert_eq!(original_coord(&s("pytorch_half_pixel"), 0.0, 0.25, 4, 1, (0.0, 1.0)), Some(-0.5));
        // A fractional width (0.6 * 3 = 1.8) takes the general formula even with one output.
        let c = original_coord(&s("pytorch_half_pixel"), 0.0, 0.6, 3, 1, (0.0, 1.0)).unwrap();
        assert!((c - (0.5 / 0.6 - 0.5)).abs() < 1e-12);
        assert_eq!(original_coord(&s("tf_crop_and_resize"), 0.0, 2.0, 4, 8, (0.5, 1.0)), Some(1.5));
        assert_eq!(original_coord(&s("tf_crop_and_resize"), 7.0, 2.0, 4, 8, (0.5, 1.5)), None);
        assert_eq!(original_coord(&s("half_pixel_symmetric"), 0.0, 2.0, 4, 8, (0.0, 1.0)), Some(-0.25));
    }
}
