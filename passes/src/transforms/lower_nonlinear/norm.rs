//! The steps of layer norm that `quark` and `ibert` share: exact centering
//! without a division, the sum of squares, and the affine output with the
//! constant scale and bias folded into integer constants.
//!
//! With `q` the stored inputs of a lane of N elements and `S` their sum,
//! `D = N q - S` is `N (q - mean)` exactly, `SS = sum D^2 = N^3 var / s^2`,
//! and the normalized value is `y = D sqrt(N) / sqrt(SS + E)` with
//! `E = epsilon N^3 / s^2` (`s` the input scale).
//!
//! `quark-log` centers on the mean instead ([`Centering::Mean`]):
//! `D = 2^f q - round(2^f S / N)`, `q - mean` with `f` fractional bits,
//! rounded; then `SS = N 2^(2f) var / s^2` and `E = epsilon N 2^(2f) / s^2`
//! (the same formula for `y` holds with the factor `2^f` in place of `N`).
//! `D` is then about `log2 N - f` bits narrower (13 instead of 21 bits at
//! 8-bit inputs and N = 768), and so are its logarithm, its square and
//! their tree.
//!
//! Invariants: with [`Centering::Exact`], `D` is exact; with
//! [`Centering::Mean`], it is off by at most half a step of `2^-f` (plus
//! the mean's 16-significant-bit constant, below `2^-6` steps); when
//! `D^2` summed over the lane would need more than 62 bits, `D` is
//! rounded right by `pre_shift` bits before squaring (and `SS` stands for
//! `SS * 2^(2 pre_shift)`).

use super::emit::{int, Emitted, Emitter};
use super::formats::{bits_for, multiplier};
use super::site::Site;
use super::LowerError;
use weft_ir::ops::nl;
use weft_ir::Value;

/// How the lane is centered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Centering {
    /// `D = N q - S`, exact.
    Exact,
    /// `D = 2^frac q - round(2^frac S / N)`: on the mean with `frac`
    /// fractional bits.
    Mean { frac: u8 },
}

/// The centered lane and its sum of squares.
pub struct Centered {
    /// `D` ([`Centering`]).
    pub centered: Value,
    /// `D` rounded right by `pre_shift` bits.
    pub reduced: Value,
    pub pre_shift: i64,
    /// `sum reduced^2 + E / 2^(2 pre_shift)`.
    pub sum_squares: Value,
}

/// The widest sum of squares.
const MAX_SQUARES_BITS: u8 = 62;

pub fn center(e: &mut Emitter, s: &Site) -> Result<Centered, LowerError> {
    center_with(e, s, Centering::Exact, |e, _, reduced, _| {
        let rw = e.ty(reduced).width;
        e.op(&nl::MUL, &[reduced, reduced], int(2 * rw), &[])
    })
}

/// [`center`] with the square of `D` rounded right by `pre_shift` bits
/// computed by `square(e, centered, reduced, pre_shift)` (a multiplier,
/// or the log-domain `2^(2 log2|D| - 2 pre_shift)` of `quark-log`).
pub fn center_with(
    e: &mut Emitter,
    s: &Site,
    centering: Centering,
    square: impl FnOnce(&mut Emitter, Value, Value, i64) -> Emitted,
) -> Result<Centered, LowerError> {
    let n = s.lanes as i128;
    let q = e.read_input(s.input, &s.x)?;
    let sum = e.trees(&nl::ADD_TREE, q, &s.axes, true)?;
    let (centered, factor) = match centering {
        Centering::Exact => {
            let lanes = e.constant(n)?;
            let scaled = e.op(&nl::MUL, &[q, lanes], int(s.x.width + 1 + bits_for(n)), &[])?;
            let width = e.ty(scaled).width.max(e.ty(sum).width) + 1;
            (e.sub(scaled, sum, int(width))?, n as f64)
        }
        Centering::Mean { frac } => {
            // |mean| <= max|q|, so the mean fits q's width plus `frac`.
            let wq = e.ty(q).width;
            let unit = 2f64.powi(i32::from(frac));
            let mean = e.scale(sum, unit / n as f64, int(wq + frac + 1))?;
            let up = e.shift(q, i64::from(frac), int(wq + frac))?;
            (e.sub(up, mean, int(wq + frac + 2))?, unit)
        }
    };
    let width = e.ty(centered).width;
    let lane_bits = bits_for(n - 1) - 1;
    let needed = 2 * width + lane_bits;
    let pre_shift = (i64::from(needed.saturating_sub(MAX_SQUARES_BITS)) + 1) / 2;
    let reduced =
        if pre_shift == 0 { centered } else { e.shift(centered, -pre_shift, int(width - pre_shift as u8 + 1))? };
    let square = square(e, centered, reduced, pre_shift)?;
    let mut sum_squares = e.trees(&nl::ADD_TREE, square, &s.axes, true)?;
    let eps = (s.epsilon * n as f64 * factor * factor / (s.x.scale * s.x.scale) / 4f64.powi(pre_shift as i32)).round();
    if eps >= 1.0 {
        let k_value = eps.min(2f64.powi(61)) as i128;
        let k = e.constant(k_value)?;
        // Exactly as wide as the sum needs (a fixed 63 bits would size the
        // logarithm's hardware for sums the lane can never reach).
        let w = e.ty(sum_squares).width.max(bits_for(k_value)) + 1;
        sum_squares = e.op(&nl::ADD, &[sum_squares, k], int(w.min(64)), &[])?;
    }
    Ok(Centered { centered, reduced, pre_shift, sum_squares })
}

/// The stored result `round((y gamma + beta) / s_y) + zp` of a normalized
/// `y` with `frac` fractional bits: `gamma / s_y` becomes a constant
/// multiplier `G` (16 significant bits for the largest entry) and
/// `(beta / s_y + zp)` a constant `B` at the product's format.
pub fn scale_and_bias(e: &mut Emitter, s: &Site, y: Value, frac: i64) -> Emitted {
    let (gamma, beta) = s.affine.as_ref().ok_or_else(|| LowerError::new("layer norm without scale and bias"))?;
    let g: Vec<f64> = gamma.values.iter().map(|x| x / s.y.scale).collect();
    let b: Vec<f64> = beta.values.iter().map(|x| x / s.y.scale + s.y.zp as f64).collect();
    let largest_g = g.iter().fold(0.0f64, |m, x| m.max(x.abs()));
    let largest_b = b.iter().fold(1.0f64, |m, x| m.max(x.abs()));
    let mut r = if largest_g > 0.0 { multiplier(largest_g).1 } else { 0 };
    // Keep B within 60 bits.
    r = r.min(60 - frac - largest_b.log2().ceil() as i64);
    let unit = 2f64.powi((r + frac) as i32);
    let g_int: Vec<i128> = g.iter().map(|x| (x * 2f64.powi(r as i32)).round() as i128).collect();
    let b_int: Vec<i128> = b.iter().map(|x| (x * unit).round() as i128).collect();
    let g_const = e.constant_tensor(&g_int, &gamma.shape)?;
    let b_const = e.constant_tensor(&b_int, &beta.shape)?;
    let wy = e.ty(y).width;
    let product = e.op(&nl::MUL, &[y, g_const], int(wy + e.ty(g_const).width), &[])?;
    let pw = e.ty(product).width.max(e.ty(b_const).width) + 1;
    let shifted = e.op(&nl::ADD, &[product, b_const], int(pw), &[])?;
    let code = e.shift(shifted, -(r + frac), int(s.y.width + 3))?;
    e.cast(code, &s.result_type)
}
