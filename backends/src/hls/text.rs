//! C++ spelling of what the emitter writes: exact float literals
//! (hexadecimal, so no decimal round trip can change a bit), integer
//! literals of any 64-bit value, and identifiers made from ONNX names.
//!
//! Invariants: every literal denotes exactly the value given (f64 and f32
//! bit patterns, including the least i64); identifiers are valid C++ and
//! unique within one [`Names`].

use std::collections::HashSet;

/// An f64 as an exact C++ literal: `0x1.8p+1`, `-0x0p+0`, or an
/// expression for infinities and NaN.
pub fn f64_literal(v: f64) -> String {
    if v.is_nan() {
        return "std::numeric_limits<double>::quiet_NaN()".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "HUGE_VAL".into() } else { "(-HUGE_VAL)".into() };
    }
    let bits = v.to_bits();
    let sign = if bits >> 63 == 1 { "-" } else { "" };
    let exp = ((bits >> 52) & 0x7ff) as i64;
    let mant = bits & ((1u64 << 52) - 1);
    if exp == 0 && mant == 0 {
        return format!("{sign}0x0p+0");
    }
    // Subnormals as 0x0.mantissa p-1022; normals as 0x1.mantissa p(e).
    let (lead, e) = if exp == 0 { (0, -1022) } else { (1, exp - 1023) };
    let mut digits = format!("{mant:013x}");
    while digits.ends_with('0') {
        digits.pop();
    }
    let frac = if digits.is_empty() { String::new() } else { format!(".{digits}") };
    format!("{sign}0x{lead}{frac}p{e:+}")
}

/// An f32 as an exact C++ literal of type float.
pub fn f32_literal(v: f32) -> String {
    if v.is_nan() {
        return "std::numeric_limits<float>::quiet_NaN()".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "HUGE_VALF".into() } else { "(-HUGE_VALF)".into() };
    }
    format!("{}f", f64_literal(f64::from(v)))
}

/// A 64-bit signed integer literal (the least value is an expression:
/// `-9223372036854775808` is not a literal in C++).
pub fn i64_literal(v: i64) -> String {
    if v == i64::MIN {
        "(-9223372036854775807LL - 1)".into()
    } else {
        format!("{v}LL")
    }
}

/// A 128-bit integer constant as a C++ expression of type `wide_t`.
pub fn wide_literal(v: i128) -> String {
    match i64::try_from(v) {
        Ok(small) => format!("(wide_t){}", i64_literal(small)),
        Err(_) if v == i128::MIN => "WIDE_MIN".into(),
        Err(_) if v == i128::MAX => "WIDE_MAX".into(),
        Err(_) => {
            let (hi, lo) = ((v >> 64) as i64, v as u64);
            format!("((wide_t){} * ((wide_t)1 << 64) + (wide_t){lo}ULL)", i64_literal(hi))
        }
    }
}

/// Unique C++ identifiers derived from arbitrary names.
#[derive(Debug, Default)]
pub struct Names {
    used: HashSet<String>,
}

impl Names {
    /// `prefix` plus the name's letters, digits and underscores (others
    /// become `_`), made unique with a numeric suffix.
    pub fn fresh(&mut self, prefix: &str, name: &str) -> String {
        let mut base: String = name.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '_' }).collect();
        base = base.trim_matches('_').to_string();
        if base.len() > 40 {
            base.truncate(40);
        }
        let stem = if base.is_empty() { prefix.trim_end_matches('_').to_string() } else { format!("{prefix}{base}") };
        let mut candidate = stem.clone();
        let mut n = 1;
        while !self.used.insert(candidate.clone()) {
            candidate = format!("{stem}_{n}");
            n += 1;
        }
        candidate
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn float_literals_are_exact() {
        assert_eq!(f64_literal(1.0), "0x1p+0");
        assert_eq!(f64_literal(3.0), "0x1.8p+1");
        assert_eq!(f64_literal(-0.0), "-0x0p+0");
        assert_eq!(f64_literal(0.1), "0x1.999999999999ap-4");
        assert_eq!(f64_literal(f64::from_bits(1)), "0x0.0000000000001p-1022");
        assert_eq!(f32_literal(0.1f32), "0x1.99999ap-4f");
        assert_eq!(f64_literal(f64::INFINITY), "HUGE_VAL");
    }

    #[test]
    fn integer_literals() {
        assert_eq!(i64_literal(-5), "-5LL");
        assert_eq!(i64_literal(i64::MIN), "(-9223372036854775807LL - 1)");
        assert_eq!(wide_literal(7), "(wide_t)7LL");
        assert_eq!(wide_literal(i128::MIN), "WIDE_MIN");
        assert_eq!(wide_literal(1i128 << 64), "((wide_t)1LL * ((wide_t)1 << 64) + (wide_t)0ULL)");
    }

    #[test]
    fn names_are_valid_and_unique() {
        let mut n = Names::default();
        assert_eq!(n.fresh("in_", "input_ids"), "in_input_ids");
        assert_eq!(n.fresh("in_", "input ids"), "in_input_ids_1");
        assert_eq!(n.fresh("out_", "/x/y"), "out_x_y");
        assert_eq!(n.fresh("out_", "***"), "out");
    }
}
