//! The `quark-log` variant of `quark`: the products a `quark` program
//! makes per element become additions in the log domain on the same
//! exp2/log2 units, as QUARK builds them (no per-lane multiplier):
//!
//! - layer norm's square `D^2 = 2^(2 log2|D|)` (`log2|D|` is computed
//!   per element for the log divider anyway), so the sum of squares
//!   runs on the exp2 unit and the adder tree;
//! - layer norm's scale: `y gamma / s_y = sign(gamma D)
//!   2^(log2|D| - log2(SS)/2 + log2(N)/2 + log2|gamma / s_y|)`, with
//!   `log2(N)/2 + log2|gamma / s_y|` one integer constant per channel;
//! - GELU and SiLU: `x p / s_y = sign(x) 2^(log2|x| + log2 p + log2(s_x /
//!   s_y))`, where `log2 p` is the pair softmax's exponent before its
//!   last exp2 (which the variant no longer needs).
//!
//! Every other kind is `quark`'s program ([`super::Method::has_own_program`]).
//! The variant trades a multiplier for the approximation error of one
//! more log2/exp2 (spec/nl.md measures it; `share-nonlinear` takes it
//! only within a kind's budget, and `--nonlinear quark` keeps `quark`).
//!
//! Invariants: the zero of every logarithm's argument is the log2 unit's
//! least value, which every exp2 maps to 0; a zero `gamma` is the
//! constant `-2^(LOG_WIDTH - 1)` (also 0 after exp2); signs are restored
//! by muxes, so results are sign-magnitude rounded to nearest.

use super::emit::{int, uint, Emitted, Emitter};
use super::formats::{fixed, FRAC, LOG_WIDTH, NORM_FRAC};
use super::norm::{self, Centering};
use super::quark::{exp2, log2, pair_softmax};
use super::site::{OpKind, Site};
use super::LowerError;
use weft_ir::ops::nl;
use weft_ir::Value;

/// The programs of the kinds with a log-domain datapath.
pub fn lower(e: &mut Emitter, s: &Site) -> Emitted {
    match s.kind {
        OpKind::LayerNorm => layer_norm(e, s),
        OpKind::Gelu => times_input(e, s, 1.702),
        OpKind::Silu => times_input(e, s, 1.0),
        _ => Err(LowerError::new(format!("quark-log has no datapath of its own for {}", s.kind.op_name()))),
    }
}

/// Fractional bits of the mean layer norm centers on (`D = 2^f q -
/// round(2^f S / N)`, spec/nl.md): `D` is off by at most 2^-7 of an
/// input step (and 2^-12 for the mean's constant), which moves the
/// measured maximum error at 8 bits from 0.0227 to 0.0232 and not the
/// mean error; 4 fractional bits would save 2 more bits of `D` for 0.0253.
const MEAN_FRAC: u8 = 6;

/// The log-domain value standing for the logarithm of 0.
const LOG_OF_ZERO: i128 = -(1 << (LOG_WIDTH - 1));

/// `log2 c` of a real constant with [`FRAC`] bits, within the log
/// domain's range; [`LOG_OF_ZERO`] for 0 (and what is not finite).
fn log2_constant(c: f64) -> i128 {
    let l = c.abs().log2();
    if c == 0.0 || !l.is_finite() {
        return LOG_OF_ZERO;
    }
    fixed(l, FRAC).clamp(LOG_OF_ZERO, -LOG_OF_ZERO - 1)
}

/// GELU (`c = 1.702`) and SiLU (`c = 1`): the stored result of
/// `x sigmoid(c x)` as `sign(x) 2^(log2|x| + log2 p + log2(s_x / s_y))`.
fn times_input(e: &mut Emitter, s: &Site, c: f64) -> Emitted {
    let pair = pair_softmax(e, s, c)?;
    let magnitude = e.abs(pair.v)?;
    let lx = log2(e, s, magnitude, 0)?;
    let t = e.op(&nl::ADD, &[lx, pair.u], int(LOG_WIDTH + 2), &[])?;
    let offset = e.constant(log2_constant(s.x.scale / s.y.scale))?;
    let t = e.op(&nl::ADD, &[t, offset], int(LOG_WIDTH + 3), &[])?;
    let code = exp2(e, s, t, 0, uint(s.y.width + 2))?;
    let signed = e.with_sign_of(pair.v, code)?;
    e.store(signed, &s.y, &s.result_type)
}

/// Layer norm with the square and the scale in the log domain.
fn layer_norm(e: &mut Emitter, s: &Site) -> Emitted {
    let mut log_d: Option<Value> = None;
    let c = norm::center_with(e, s, Centering::Mean { frac: MEAN_FRAC }, |e, centered, reduced, pre_shift| {
        let magnitude = e.abs(centered)?;
        let l = log2(e, s, magnitude, 0)?;
        log_d = Some(l);
        // (D / 2^pre_shift)^2 = 2^(2 log2|D| - 2 pre_shift).
        let twice = e.shift(l, 1, int(LOG_WIDTH + 1))?;
        let exponent = if pre_shift == 0 {
            twice
        } else {
            let k = e.constant(fixed(2.0 * pre_shift as f64, FRAC))?;
            e.sub(twice, k, int(LOG_WIDTH + 2))?
        };
        let rw = e.ty(reduced).width;
        exp2(e, s, exponent, 0, uint(2 * rw - 1))
    })?;
    let ld = log_d.ok_or_else(|| LowerError::new("layer norm without log2|D|"))?;
    let ls = log2(e, s, c.sum_squares, -2 * c.pre_shift)?;
    let half = e.shift(ls, -1, int(LOG_WIDTH))?;
    let diff = e.sub(ld, half, int(LOG_WIDTH + 1))?;
    let (gamma, beta) = s.affine.as_ref().ok_or_else(|| LowerError::new("layer norm without scale and bias"))?;
    let half_log_n = (s.lanes as f64).log2() / 2.0;
    let g: Vec<f64> = gamma.values.iter().map(|x| x / s.y.scale).collect();
    let k: Vec<i128> = g
        .iter()
        .map(|&x| match log2_constant(x) {
            LOG_OF_ZERO => LOG_OF_ZERO,
            l => (l + fixed(half_log_n, FRAC)).min(-LOG_OF_ZERO - 1),
        })
        .collect();
    let k = e.constant_tensor(&k, &gamma.shape)?;
    let t = e.op(&nl::ADD, &[diff, k], int(LOG_WIDTH + 2), &[])?;
    // |y gamma / s_y| <= sqrt(N) max|gamma / s_y|.
    let largest = g.iter().fold(1.0f64, |m, x| m.max(x.abs()));
    let magnitude_bits = ((s.lanes as f64).sqrt() * largest).log2().ceil().clamp(0.0, 40.0) as u8 + 1;
    let z = exp2(e, s, t, NORM_FRAC, uint(NORM_FRAC as u8 + magnitude_bits))?;
    let mut signed = e.with_sign_of(c.centered, z)?;
    if gamma.values.iter().any(|&x| x < 0.0) {
        let flags: Vec<i128> = gamma.values.iter().map(|&x| if x < 0.0 { -1 } else { 0 }).collect();
        let negative = e.constant_tensor(&flags, &gamma.shape)?;
        let flipped = e.neg(signed)?;
        let ty = e.ty(flipped);
        signed = e.op(&nl::MUX, &[negative, flipped, signed], ty, &[])?;
    }
    // beta / s_y + zp at NORM_FRAC bits; beyond 2^46 steps the result
    // saturates whatever the rest is.
    let limit = 2f64.powi(46);
    let b: Vec<i128> =
        beta.values.iter().map(|x| fixed((x / s.y.scale + s.y.zp as f64).clamp(-limit, limit), NORM_FRAC)).collect();
    let b = e.constant_tensor(&b, &beta.shape)?;
    let width = e.ty(signed).width.max(e.ty(b).width) + 1;
    let shifted = e.op(&nl::ADD, &[signed, b], int(width), &[])?;
    let code = e.shift(shifted, -NORM_FRAC, int(s.y.width + 3))?;
    e.cast(code, &s.result_type)
}

#[cfg(test)]
mod tests {
    use super::super::formats::bits_for;
    use super::*;

    #[test]
    fn constants_in_the_log_domain() {
        assert_eq!(log2_constant(1.0), 0);
        assert_eq!(log2_constant(-4.0), 2 << FRAC);
        assert_eq!(log2_constant(0.0), LOG_OF_ZERO);
        assert_eq!(log2_constant(f64::NAN), LOG_OF_ZERO);
        assert_eq!(log2_constant(1e300), -LOG_OF_ZERO - 1);
        assert!(bits_for(LOG_OF_ZERO) <= LOG_WIDTH);
    }
}
