//! One-dimensional sampling of `nn.resize`: the coordinate transformation
//! modes, and the taps (input indices and weights) of nearest, linear and
//! cubic interpolation with antialiasing and `exclude_outside`, as the
//! ONNX reference implementation defines them.
//!
//! Invariants: tap indices are clamped into `[0, in - 1]` (edge padding);
//! the weights of one coordinate sum to 1, except when `exclude_outside`
//! removed every tap (then they are NaN, as in the reference).

/// The sampling attributes of a resize.
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

/// The input coordinate of output coordinate `x` (`None`: outside the crop
/// of `tf_crop_and_resize`). `crop` is the dim's roi `(start, end)`.
pub fn original_coord(s: &Sampling, x: f64, scale: f64, input: u64, out: u64, crop: (f64, f64)) -> Option<f64> {
    let n = input as f64;
    // The output width of the reference: `scale * in`, not rounded.
    let w = scale * n;
    Some(match s.coord {
        "align_corners" => {
            if w == 1.0 {
                0.0
            } else {
                x * (n - 1.0) / (w - 1.0)
            }
        }
        "asymmetric" => x / scale,
        "pytorch_half_pixel" if w == 1.0 => -0.5,
        "half_pixel_symmetric" => n / 2.0 * (1.0 - out as f64 / w) + (x + 0.5) / scale - 0.5,
        "tf_crop_and_resize" => {
            let (start, end) = crop;
            let along =
                if w == 1.0 { (end - start) * (n - 1.0) / 2.0 } else { x * (end - start) * (n - 1.0) / (w - 1.0) };
            let c = start * (n - 1.0) + along;
            if !(0.0..=n - 1.0).contains(&c) {
                return None;
            }
            c
        }
        _ => (x + 0.5) / scale - 0.5,
    })
}

/// The taps of input coordinate `c` along a dim of extent `input`.
pub fn taps(s: &Sampling, c: f64, scale: f64, input: u64) -> Vec<Tap> {
    // `left` is the element at or before `c` at distance `frac` in (0, 1]:
    // an integral coordinate counts as distance 1 from the element before.
    let floor = c.floor();
    let (left, frac) = if c == floor { (floor as i64 - 1, 1.0) } else { (floor as i64, c - floor) };
    let a = s.cubic_a;
    let (first, weights) = match s.mode {
        "nearest" => (left, nearest_pick(s.nearest, frac)),
        "linear" if s.antialias => stretched(left, frac, scale, 1.0, |d| (1.0 - d.abs()).max(0.0)),
        "linear" => (left, vec![1.0 - frac, frac]),
        _ if s.antialias => stretched(left, frac, scale, 2.0, |d| keys(d, a)),
        _ => (left - 1, vec![keys(frac + 1.0, a), keys(frac, a), keys(1.0 - frac, a), keys(2.0 - frac, a)]),
    };
    finish(first, weights, input, s.exclude_outside)
}

/// Weights of `left` and `left + 1` for nearest sampling.
fn nearest_pick(mode: &str, frac: f64) -> Vec<f64> {
    let upper = frac == 1.0
        || match mode {
            "round_prefer_ceil" => frac >= 0.5,
            "floor" => false,
            "ceil" => true,
            _ => frac > 0.5,
        };
    if upper {
        vec![0.0, 1.0]
    } else {
        vec![1.0, 0.0]
    }
}

/// The Keys cubic convolution kernel with parameter `a` at distance `x`.
fn keys(x: f64, a: f64) -> f64 {
    let x = x.abs();
    if x <= 1.0 {
        ((a + 2.0) * x - (a + 3.0)) * x * x + 1.0
    } else if x < 2.0 {
        ((a * x - 5.0 * a) * x + 8.0 * a) * x - 4.0 * a
    } else {
        0.0
    }
}

/// An antialiasing filter of support `radius` stretched by `1 / scale`
/// when downscaling: the first tap's index and the normalized weights of
/// the taps `left + start ..= left + 1 - start`.
fn stretched(left: i64, frac: f64, scale: f64, radius: f64, kernel: impl Fn(f64) -> f64) -> (i64, Vec<f64>) {
    let s = scale.min(1.0);
    let start = (-radius / s).floor() as i64 + 1;
    let weights = (start..=1 - start).map(|off| kernel((off as f64 - frac) * s)).collect();
    (left + start, normalized(weights))
}

fn normalized(mut weights: Vec<f64>) -> Vec<f64> {
    let sum: f64 = weights.iter().sum();
    weights.iter_mut().for_each(|w| *w /= sum);
    weights
}

/// Applies `exclude_outside`, drops zero weights and clamps the indices.
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
    fn integral_coordinates_select_one_element() {
        for mode in ["nearest", "linear", "cubic"] {
            assert_eq!(taps(&sampling(mode), 2.0, 1.0, 5), vec![Tap { index: 2, weight: 1.0 }], "{mode}");
        }
    }

    #[test]
    fn nearest_modes() {
        let pick = |mode: &'static str, c: f64| taps(&Sampling { nearest: mode, ..sampling("nearest") }, c, 1.0, 10)[0];
        assert_eq!((pick("round_prefer_floor", 2.5).index, pick("round_prefer_ceil", 2.5).index), (2, 3));
        assert_eq!((pick("floor", 2.7).index, pick("ceil", 2.2).index), (2, 3));
        assert_eq!(pick("round_prefer_floor", -0.5).index, 0);
    }

    #[test]
    fn antialias_stretches_the_triangle_when_downscaling() {
        let s = Sampling { antialias: true, ..sampling("linear") };
        let wide = taps(&s, 1.5, 0.5, 4);
        assert_eq!(wide.iter().map(|t| t.index).collect::<Vec<_>>(), vec![0, 1, 2, 3]);
        assert_eq!(wide.iter().map(|t| t.weight).collect::<Vec<_>>(), vec![0.125, 0.375, 0.375, 0.125]);
    }

    #[test]
    fn exclude_outside_renormalizes() {
        let s = Sampling { exclude_outside: true, ..sampling("cubic") };
        let t = taps(&s, 0.5, 1.0, 4);
        assert!(t.iter().all(|t| t.index <= 2));
        assert!((t.iter().map(|t| t.weight).sum::<f64>() - 1.0).abs() < 1e-12);
    }

    #[test]
    fn coordinate_modes() {
        let s = |coord| Sampling { coord, ..sampling("linear") };
        assert_eq!(original_coord(&s("half_pixel"), 0.0, 2.0, 4, 8, (0.0, 1.0)), Some(-0.25));
        assert_eq!(original_coord(&s("align_corners"), 7.0, 2.0, 4, 8, (0.0, 1.0)), Some(3.0));
        assert_eq!(original_coord(&s("pytorch_half_pixel"), 0.0, 0.25, 4, 1, (0.0, 1.0)), Some(-0.5));
        assert_eq!(original_coord(&s("tf_crop_and_resize"), 0.0, 2.0, 4, 8, (0.5, 1.0)), Some(1.5));
        assert_eq!(original_coord(&s("tf_crop_and_resize"), 7.0, 2.0, 4, 8, (0.5, 1.5)), None);
    }
}
