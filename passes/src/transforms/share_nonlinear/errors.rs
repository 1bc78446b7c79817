//! The measured approximation errors of every method, op kind and width:
//! the output of `weft accuracy --ops --json` (spec/nl.md describes the
//! data and the measure), copied here so the pass can check budgets
//! without measuring. `tests/cli_report.rs` measures again and fails when
//! this table is stale.
//!
//! Invariants: rows are (kind, method, bits, max abs error, the ideal
//! op's max abs error at that width); widths 4, 6, 8, 10, 12; a method
//! missing at a width cannot build it (tables above 8 bits, layer norm);
//! `quark-log` has rows only for the kinds it has a program of its own
//! for (layer norm, GELU, SiLU).

use crate::transforms::lower_nonlinear::{Method, OpKind};
use Method::*;
use OpKind::*;

/// The measured widths, ascending.
pub const MEASURED_BITS: [u8; 5] = [4, 6, 8, 10, 12];

/// `(kind, method, bits, max error, ideal max error)`.
#[rustfmt::skip]
pub const MEASURED: &[(OpKind, Method, u8, f64, f64)] = &[
    (Softmax, Quark, 4, 3.308862e-02, 3.308862e-02),
    (Softmax, Quark, 6, 7.901806e-03, 7.901806e-03),
    (Softmax, Quark, 8, 1.958667e-03, 1.958667e-03),
    (Softmax, Quark, 10, 4.950202e-04, 4.881207e-04),
    (Softmax, Quark, 12, 2.111062e-04, 1.220951e-04),
    (Softmax, Ibert, 4, 3.308862e-02, 3.308862e-02),
    (Softmax, Ibert, 6, 7.901806e-03, 7.901806e-03),
    (Softmax, Ibert, 8, 2.214164e-03, 1.958667e-03),
    (Softmax, Ibert, 10, 7.340937e-04, 4.881207e-04),
    (Softmax, Ibert, 12, 4.549439e-04, 1.220951e-04),
    (Softmax, Lut, 4, 3.308862e-02, 3.308862e-02),
    (Softmax, Lut, 6, 7.901806e-03, 7.901806e-03),
    (Softmax, Lut, 8, 1.963748e-03, 1.958667e-03),
    (Gelu, Quark, 4, 1.328444e-01, 1.328444e-01),
    (Gelu, Quark, 6, 5.147252e-02, 3.308523e-02),
    (Gelu, Quark, 8, 2.760033e-02, 8.146639e-03),
    (Gelu, Quark, 10, 2.212477e-02, 2.035401e-03),
    (Gelu, Quark, 12, 2.083365e-02, 5.091347e-04),
    (Gelu, QuarkLog, 4, 1.328444e-01, 1.328444e-01),
    (Gelu, QuarkLog, 6, 5.147252e-02, 3.308523e-02),
    (Gelu, QuarkLog, 8, 2.760033e-02, 8.146639e-03),
    (Gelu, QuarkLog, 10, 2.212477e-02, 2.035401e-03),
    (Gelu, QuarkLog, 12, 2.083365e-02, 5.091347e-04),
    (Gelu, Ibert, 4, 1.457175e-01, 1.328444e-01),
    (Gelu, Ibert, 6, 4.022586e-02, 3.308523e-02),
    (Gelu, Ibert, 8, 2.470834e-02, 8.146639e-03),
    (Gelu, Ibert, 10, 1.988895e-02, 2.035401e-03),
    (Gelu, Ibert, 12, 1.857957e-02, 5.091347e-04),
    (Gelu, Lut, 4, 1.328444e-01, 1.328444e-01),
    (Gelu, Lut, 6, 3.308523e-02, 3.308523e-02),
    (Gelu, Lut, 8, 8.146639e-03, 8.146639e-03),
    (LayerNorm, Quark, 4, 4.603357e-01, 4.603357e-01),
    (LayerNorm, Quark, 6, 9.238728e-02, 9.238728e-02),
    (LayerNorm, Quark, 8, 2.267181e-02, 2.266838e-02),
    (LayerNorm, Quark, 10, 5.804141e-03, 5.607909e-03),
    (LayerNorm, Quark, 12, 2.799655e-03, 1.398416e-03),
    (LayerNorm, QuarkLog, 4, 4.629102e-01, 4.603357e-01),
    (LayerNorm, QuarkLog, 6, 9.551956e-02, 9.238728e-02),
    (LayerNorm, QuarkLog, 8, 2.320259e-02, 2.266838e-02),
    (LayerNorm, QuarkLog, 10, 6.012481e-03, 5.607909e-03),
    (LayerNorm, QuarkLog, 12, 1.743720e-03, 1.398416e-03),
    (LayerNorm, Ibert, 4, 4.603357e-01, 4.603357e-01),
    (LayerNorm, Ibert, 6, 9.238728e-02, 9.238728e-02),
    (LayerNorm, Ibert, 8, 2.268166e-02, 2.266838e-02),
    (LayerNorm, Ibert, 10, 5.618657e-03, 5.607909e-03),
    (LayerNorm, Ibert, 12, 1.419260e-03, 1.398416e-03),
    (Sigmoid, Quark, 4, 3.315448e-02, 3.315448e-02),
    (Sigmoid, Quark, 6, 7.766171e-03, 7.766171e-03),
    (Sigmoid, Quark, 8, 1.953416e-03, 1.953416e-03),
    (Sigmoid, Quark, 10, 6.794266e-04, 4.885815e-04),
    (Sigmoid, Quark, 12, 3.167750e-04, 1.220541e-04),
    (Sigmoid, Ibert, 4, 3.315448e-02, 3.315448e-02),
    (Sigmoid, Ibert, 6, 8.465554e-03, 7.766171e-03),
    (Sigmoid, Ibert, 8, 2.260256e-03, 1.953416e-03),
    (Sigmoid, Ibert, 10, 1.154679e-03, 4.885815e-04),
    (Sigmoid, Ibert, 12, 8.167125e-04, 1.220541e-04),
    (Sigmoid, Lut, 4, 3.315448e-02, 3.315448e-02),
    (Sigmoid, Lut, 6, 7.766171e-03, 7.766171e-03),
    (Sigmoid, Lut, 8, 1.953416e-03, 1.953416e-03),
    (Silu, Quark, 4, 2.752386e-01, 2.752386e-01),
    (Silu, Quark, 6, 6.541789e-02, 6.541789e-02),
    (Silu, Quark, 8, 1.629518e-02, 1.615872e-02),
    (Silu, Quark, 10, 4.707906e-03, 4.038306e-03),
    (Silu, Quark, 12, 1.715824e-03, 1.010443e-03),
    (Silu, QuarkLog, 4, 2.752386e-01, 2.752386e-01),
    (Silu, QuarkLog, 6, 6.541789e-02, 6.541789e-02),
    (Silu, QuarkLog, 8, 1.673563e-02, 1.615872e-02),
    (Silu, QuarkLog, 10, 4.903949e-03, 4.038306e-03),
    (Silu, QuarkLog, 12, 1.945756e-03, 1.010443e-03),
    (Silu, Ibert, 4, 2.752386e-01, 2.752386e-01),
    (Silu, Ibert, 6, 6.541789e-02, 6.541789e-02),
    (Silu, Ibert, 8, 1.660059e-02, 1.615872e-02),
    (Silu, Ibert, 10, 4.455408e-03, 4.038306e-03),
    (Silu, Ibert, 12, 1.640629e-03, 1.010443e-03),
    (Silu, Lut, 4, 2.752386e-01, 2.752386e-01),
    (Silu, Lut, 6, 6.541789e-02, 6.541789e-02),
    (Silu, Lut, 8, 1.615872e-02, 1.615872e-02),
    (Tanh, Quark, 4, 6.215804e-02, 6.215804e-02),
    (Tanh, Quark, 6, 1.554922e-02, 1.554922e-02),
    (Tanh, Quark, 8, 3.963878e-03, 3.904857e-03),
    (Tanh, Quark, 10, 1.324940e-03, 9.742777e-04),
    (Tanh, Quark, 12, 6.423760e-04, 2.440087e-04),
    (Tanh, Ibert, 4, 6.215804e-02, 6.215804e-02),
    (Tanh, Ibert, 6, 1.554922e-02, 1.554922e-02),
    (Tanh, Ibert, 8, 5.031317e-03, 3.904857e-03),
    (Tanh, Ibert, 10, 2.021096e-03, 9.742777e-04),
    (Tanh, Ibert, 12, 1.643937e-03, 2.440087e-04),
    (Tanh, Lut, 4, 6.215804e-02, 6.215804e-02),
    (Tanh, Lut, 6, 1.554922e-02, 1.554922e-02),
    (Tanh, Lut, 8, 3.904857e-03, 3.904857e-03),
    (Exp, Quark, 4, 3.243324e-02, 3.243324e-02),
    (Exp, Quark, 6, 7.422601e-03, 7.422601e-03),
    (Exp, Quark, 8, 1.957239e-03, 1.957239e-03),
    (Exp, Quark, 10, 5.230065e-04, 4.884536e-04),
    (Exp, Quark, 12, 1.535794e-04, 1.220746e-04),
    (Exp, Ibert, 4, 3.243324e-02, 3.243324e-02),
    (Exp, Ibert, 6, 9.524791e-03, 7.422601e-03),
    (Exp, Ibert, 8, 3.566488e-03, 1.957239e-03),
    (Exp, Ibert, 10, 2.391747e-03, 4.884536e-04),
    (Exp, Ibert, 12, 2.233290e-03, 1.220746e-04),
    (Exp, Lut, 4, 3.243324e-02, 3.243324e-02),
    (Exp, Lut, 6, 7.422601e-03, 7.422601e-03),
    (Exp, Lut, 8, 1.957239e-03, 1.957239e-03),
    (Reciprocal, Quark, 4, 6.250000e-02, 6.250000e-02),
    (Reciprocal, Quark, 6, 3.125000e-02, 3.125000e-02),
    (Reciprocal, Quark, 8, 7.812500e-03, 7.812500e-03),
    (Reciprocal, Quark, 10, 2.297794e-03, 1.953125e-03),
    (Reciprocal, Quark, 12, 1.326376e-03, 4.882812e-04),
    (Reciprocal, Ibert, 4, 6.250000e-02, 6.250000e-02),
    (Reciprocal, Ibert, 6, 3.125000e-02, 3.125000e-02),
    (Reciprocal, Ibert, 8, 7.812500e-03, 7.812500e-03),
    (Reciprocal, Ibert, 10, 1.953125e-03, 1.953125e-03),
    (Reciprocal, Ibert, 12, 4.882812e-04, 4.882812e-04),
    (Reciprocal, Lut, 4, 6.250000e-02, 6.250000e-02),
    (Reciprocal, Lut, 6, 3.125000e-02, 3.125000e-02),
    (Reciprocal, Lut, 8, 7.812500e-03, 7.812500e-03),
    (Sqrt, Quark, 4, 1.310338e-01, 1.310338e-01),
    (Sqrt, Quark, 6, 3.187302e-02, 3.161905e-02),
    (Sqrt, Quark, 8, 8.037279e-03, 7.835433e-03),
    (Sqrt, Quark, 10, 2.196533e-03, 1.954556e-03),
    (Sqrt, Quark, 12, 8.211058e-04, 4.883707e-04),
    (Sqrt, Ibert, 4, 1.310338e-01, 1.310338e-01),
    (Sqrt, Ibert, 6, 3.161905e-02, 3.161905e-02),
    (Sqrt, Ibert, 8, 7.835433e-03, 7.835433e-03),
    (Sqrt, Ibert, 10, 1.954556e-03, 1.954556e-03),
    (Sqrt, Ibert, 12, 4.883707e-04, 4.883707e-04),
    (Sqrt, Lut, 4, 1.310338e-01, 1.310338e-01),
    (Sqrt, Lut, 6, 3.161905e-02, 3.161905e-02),
    (Sqrt, Lut, 8, 7.835433e-03, 7.835433e-03),
    (Rsqrt, Quark, 4, 3.227486e-02, 3.227486e-02),
    (Rsqrt, Quark, 6, 1.574852e-02, 1.574852e-02),
    (Rsqrt, Quark, 8, 3.933278e-03, 3.913902e-03),
    (Rsqrt, Quark, 10, 1.063454e-03, 9.770397e-04),
    (Rsqrt, Quark, 12, 4.166404e-04, 2.441704e-04),
    (Rsqrt, Ibert, 4, 3.227486e-02, 3.227486e-02),
    (Rsqrt, Ibert, 6, 1.574852e-02, 1.574852e-02),
    (Rsqrt, Ibert, 8, 3.913902e-03, 3.913902e-03),
    (Rsqrt, Ibert, 10, 9.770397e-04, 9.770397e-04),
    (Rsqrt, Ibert, 12, 2.441704e-04, 2.441704e-04),
    (Rsqrt, Lut, 4, 3.227486e-02, 3.227486e-02),
    (Rsqrt, Lut, 6, 1.574852e-02, 1.574852e-02),
    (Rsqrt, Lut, 8, 3.913902e-03, 3.913902e-03),
];

/// The measured width that stands for `bits`: the widest measured width
/// not above it (errors shrink with width, so this is conservative), or
/// the narrowest.
pub fn measured_width(bits: u8) -> u8 {
    MEASURED_BITS.iter().rev().copied().find(|&b| b <= bits).unwrap_or(MEASURED_BITS[0])
}

/// The measured max error of `method` on `kind` at `bits` (see
/// [`measured_width`]).
pub fn error(kind: OpKind, method: Method, bits: u8) -> Option<f64> {
    let b = measured_width(bits);
    MEASURED.iter().find(|r| r.0 == kind && r.1 == method && r.2 == b).map(|r| r.3)
}

/// The ideal op's max error (the output quantization alone) at `bits`.
pub fn ideal_error(kind: OpKind, bits: u8) -> Option<f64> {
    let b = measured_width(bits);
    MEASURED.iter().find(|r| r.0 == kind && r.2 == b).map(|r| r.4)
}

/// The targets of spec/nl.md: softmax 0.01, GELU and layer norm 0.03.
pub fn target(kind: OpKind) -> Option<f64> {
    match kind {
        Softmax => Some(0.01),
        Gelu | LayerNorm => Some(0.03),
        _ => None,
    }
}

/// The default error budget of `kind` at `bits`: its target, or twice
/// the ideal op's error at that width when that is larger (so a method
/// within a factor two of the output quantization's own error passes at
/// narrow widths).
pub fn default_budget(kind: OpKind, bits: u8) -> f64 {
    let floor = 2.0 * ideal_error(kind, bits).unwrap_or(0.0);
    target(kind).map_or(floor, |t| t.max(floor))
}
