//! The runtime math that JIT code calls for f64 values and `pow`: each
//! function computes exactly what the reference `eval` of its op computes
//! (same Rust std / libm function, in f64), so the JIT's results are the
//! interpreter's bits. (f32 functions are emitted inline: `codegen::fmath`.)
//!
//! Invariants: every function here is `extern "C"`, total (no panics, any
//! input), and registered with the JIT under [`MathFn::symbol`]. The
//! matmul entry points of the GEMM runtime (`gemm::entry`) are registered
//! the same way.

use cranelift_codegen::ir::{types, Type};

/// A runtime function the generated code may call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum MathFn {
    Exp,
    Log,
    Erf,
    Tanh,
    Sigmoid,
    GeluErf,
    GeluTanh,
    Pow,
    IntPow,
    /// The GEMM runtime's f32 product (`gemm::entry`).
    GemmF32,
    /// The GEMM runtime's f64 product.
    GemmF64,
    /// An nl unit (`nl_unit`): divider, barrel shifter, quadratic, exp2,
    /// log2, square root.
    NlUnit,
    /// A runtime kernel (`quant_runtime`): the integer matmul, quant
    /// nonlinear ops.
    Runtime,
}

impl MathFn {
    pub const ALL: [MathFn; 13] = [
        MathFn::Exp,
        MathFn::Log,
        MathFn::Erf,
        MathFn::Tanh,
        MathFn::Sigmoid,
        MathFn::GeluErf,
        MathFn::GeluTanh,
        MathFn::Pow,
        MathFn::IntPow,
        MathFn::GemmF32,
        MathFn::GemmF64,
        MathFn::NlUnit,
        MathFn::Runtime,
    ];

    pub fn symbol(self) -> &'static str {
        match self {
            MathFn::Exp => "weft_jit_exp",
            MathFn::Log => "weft_jit_log",
            MathFn::Erf => "weft_jit_erf",
            MathFn::Tanh => "weft_jit_tanh",
            MathFn::Sigmoid => "weft_jit_sigmoid",
            MathFn::GeluErf => "weft_jit_gelu_erf",
            MathFn::GeluTanh => "weft_jit_gelu_tanh",
            MathFn::Pow => "weft_jit_pow",
            MathFn::IntPow => "weft_jit_ipow",
            MathFn::GemmF32 => "weft_jit_gemm_f32",
            MathFn::GemmF64 => "weft_jit_gemm_f64",
            MathFn::NlUnit => "weft_jit_nl_unit",
            MathFn::Runtime => "weft_jit_runtime",
        }
    }

    pub fn address(self) -> *const u8 {
        match self {
            MathFn::Exp => exp as *const u8,
            MathFn::Log => log as *const u8,
            MathFn::Erf => erf as *const u8,
            MathFn::Tanh => tanh as *const u8,
            MathFn::Sigmoid => sigmoid as *const u8,
            MathFn::GeluErf => gelu_erf as *const u8,
            MathFn::GeluTanh => gelu_tanh as *const u8,
            MathFn::Pow => pow as *const u8,
            MathFn::IntPow => ipow as *const u8,
            MathFn::GemmF32 => super::gemm::entry::gemm_f32 as *const u8,
            MathFn::GemmF64 => super::gemm::entry::gemm_f64 as *const u8,
            MathFn::NlUnit => super::nl_unit::nl_unit as *const u8,
            MathFn::Runtime => super::quant_runtime::runtime_call as *const u8,
        }
    }

    /// Parameter types and result type.
    pub fn signature(self) -> (&'static [Type], Type) {
        match self {
            MathFn::Pow => (&[types::F64, types::F64], types::F64),
            MathFn::IntPow | MathFn::NlUnit => (&[types::I64, types::I64, types::I64], types::I64),
            // a, b, c, scratch, m, n, k, mode -> status.
            MathFn::GemmF32 | MathFn::GemmF64 => (&[types::I64; 8], types::I64),
            // the call's address, the run table -> status.
            MathFn::Runtime => (&[types::I64, types::I64], types::I64),
            _ => (&[types::F64], types::F64),
        }
    }
}

extern "C" fn exp(x: f64) -> f64 {
    x.exp()
}

extern "C" fn log(x: f64) -> f64 {
    x.ln()
}

extern "C" fn erf(x: f64) -> f64 {
    libm::erf(x)
}

extern "C" fn tanh(x: f64) -> f64 {
    x.tanh()
}

extern "C" fn sigmoid(x: f64) -> f64 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        let e = x.exp();
        e / (1.0 + e)
    }
}

extern "C" fn gelu_erf(x: f64) -> f64 {
    0.5 * x * (1.0 + libm::erf(x / std::f64::consts::SQRT_2))
}

extern "C" fn gelu_tanh(x: f64) -> f64 {
    let c = (2.0 / std::f64::consts::PI).sqrt();
    0.5 * x * (1.0 + (c * (x + 0.044715 * x * x * x)).tanh())
}

extern "C" fn pow(x: f64, y: f64) -> f64 {
    x.powf(y)
}

/// `base ^ exp` on canonical integers, wrapped modulo 2^64 (the caller
/// wraps to the width); `unsigned` != 0 reads `exp` unsigned. A negative
/// exponent gives the truncated real result; `0 ^ negative` is checked by
/// the caller and gives 0 here.
extern "C" fn ipow(base: i64, exp: i64, unsigned: i64) -> i64 {
    if unsigned == 0 && exp < 0 {
        return match base {
            1 => 1,
            -1 if exp % 2 == 0 => 1,
            -1 => -1,
            _ => 0,
        };
    }
    let (mut acc, mut b, mut e) = (1i64, base, exp as u64);
    while e > 0 {
        if e & 1 == 1 {
            acc = acc.wrapping_mul(b);
        }
        b = b.wrapping_mul(b);
        e >>= 1;
    }
    acc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integer_powers_wrap_and_truncate() {
        assert_eq!(ipow(2, 10, 0), 1024);
        assert_eq!(ipow(2, -1, 0), 0);
        assert_eq!(ipow(-1, -3, 0), -1);
        assert_eq!(ipow(3, 40, 0), 3i64.wrapping_pow(40));
        assert_eq!(sigmoid(-1000.0), 0.0);
        assert_eq!(gelu_erf(0.0), 0.0);
    }
}
