//! The function units of the nl dialect: `poly2` (a quadratic in fixed
//! point), `isqrt` (I-BERT's integer square root) and `lut` (a table);
//! the exp2 and log2 units built on `poly2` are in [`super::approx`].
//!
//! Invariants: fixed-point formats are attributes (`frac`: fractional
//! bits), never implied by types; every internal step saturates at the
//! `i128` range and the result once at its declared type.

use super::arith::ONE_RESULT;
use super::common::{
    bounded_int, check_int_result, int_operand, int_operand_dims, ints_of, result_elem, shift_round, tensor_of,
    Rounding,
};
use crate::module::Attrs;
use crate::ops::nn::common::{int_attr, ints_attr};
use crate::ops::{Arity, AttrKind, AttrSpec, OpDef, OpInfo, Trait};
use crate::tensor::Tensor;
use crate::types::Type;

pub(super) const INPUT: Arity = Arity::Fixed(&["input"]);

const COEFFS: AttrSpec = AttrSpec {
    name: "coeffs",
    kind: AttrKind::Ints,
    required: true,
    doc: "[a, b, c] of a*f^2 + b*f + c, integers with the result's fractional bits",
};

/// The largest number of fractional bits a format attribute may give.
pub const MAX_FRAC: i64 = 62;

/// `[a, b, c]` from the `coeffs` attribute.
pub fn coeffs(attrs: &Attrs) -> Result<[i128; 3], String> {
    match ints_attr(attrs, "coeffs")?.as_slice() {
        &[a, b, c] => Ok([a as i128, b as i128, c as i128]),
        other => Err(format!("attribute 'coeffs' must hold 3 integers [a, b, c], got {}", other.len())),
    }
}

/// `a*x^2 + b*x + c` by Horner's rule for `x` with `frac` fractional bits
/// and coefficients (and result) in any one format: `t = ((a*x) >> frac)
/// + b`, `y = ((t*x) >> frac) + c`, both shifts rounded to nearest.
pub fn poly2([a, b, c]: [i128; 3], x: i128, frac: i64) -> i128 {
    let t = shift_round(a.saturating_mul(x), -frac, Rounding::Nearest).saturating_add(b);
    shift_round(t.saturating_mul(x), -frac, Rounding::Nearest).saturating_add(c)
}

pub const POLY2: OpDef = OpDef {
    name: "nl.poly2",
    summary: "A quadratic a*x^2 + b*x + c in fixed point, elementwise (two multipliers)",
    description: "`x` has `frac` fractional bits; the coefficients and the result share one format. \
Horner's rule with both products rounded to nearest (ties up) at the coefficients' format: \
`t = ((a*x) >> frac) + b`, `y = ((t*x) >> frac) + c`; `y` is saturated to the result type.\n\n\
```\n%1 = nl.poly2 %0 {coeffs = [-11141, 23281, 0], frac = 15} : (tensor<64xu16>) -> tensor<64xi17>\n```",
    operands: INPUT,
    results: ONE_RESULT,
    attrs: &[
        COEFFS,
        AttrSpec { name: "frac", kind: AttrKind::Int, required: true, doc: "fractional bits of x, 0..=62" },
    ],
    traits: &[Trait::Pure],
    verify: Some(|info| {
        int_operand(info, 0)?;
        coeffs(info.attrs)?;
        bounded_int(info.attrs, "frac", 0, MAX_FRAC).map(|_| ())
    }),
    verify_results: Some(same_shape_result),
    eval: Some(|ops, attrs, results| {
        let (k, frac) = (coeffs(attrs)?, bounded_int(attrs, "frac", 0, MAX_FRAC)?);
        map_unit(&ops[0], results, |x| poly2(k, x, frac))
    }),
    ..OpDef::DEFAULT
};

pub(super) fn same_shape_result(info: &OpInfo, results: &[&Type]) -> Result<(), String> {
    check_int_result(results, int_operand_dims(info, 0))
}

pub(super) fn map_unit(x: &Tensor, results: &[Type], f: impl Fn(i128) -> i128) -> Result<Vec<Tensor>, String> {
    let v: Vec<i128> = ints_of(x).into_iter().map(f).collect();
    Ok(vec![tensor_of(result_elem(results, 0)?, x.shape.clone(), &v)])
}

/// `floor(sqrt(x))` for `x >= 0` (0 for negative `x`), by Newton's
/// iteration on integers.
pub fn isqrt(x: i128) -> i128 {
    if x <= 0 {
        return 0;
    }
    // Start above the root: 2^ceil(bits / 2).
    let bits = 128 - x.leading_zeros() as i128;
    let mut r = 1i128 << ((bits + 1) / 2);
    loop {
        let next = (r + x / r) >> 1;
        if next >= r {
            return r;
        }
        r = next;
    }
}

pub const ISQRT: OpDef = OpDef {
    name: "nl.isqrt",
    summary: "Integer square root floor(sqrt(x)), elementwise (I-BERT's i-sqrt)",
    description: "Exact: Newton's iteration `r <- (r + x / r) / 2` on integers from \
`r = 2^ceil(bits(x) / 2)` stops at `floor(sqrt(x))` (I-BERT's i-sqrt). Negative inputs give 0. \
The result is saturated to the result type.\n\n\
```\n%1 = nl.isqrt %0 : (tensor<4x1xu40>) -> tensor<4x1xu20>\n```",
    operands: INPUT,
    results: ONE_RESULT,
    traits: &[Trait::Pure],
    verify: Some(|info| int_operand(info, 0).map(|_| ())),
    verify_results: Some(same_shape_result),
    eval: Some(|ops, _, results| map_unit(&ops[0], results, isqrt)),
    ..OpDef::DEFAULT
};

/// The most entries a `nl.lut` table may have.
pub const MAX_TABLE: usize = 1 << 16;

fn table(attrs: &Attrs) -> Result<(Vec<i64>, i64), String> {
    let t = ints_attr(attrs, "table")?;
    if t.is_empty() || t.len() > MAX_TABLE {
        return Err(format!("attribute 'table' must hold 1 to {MAX_TABLE} entries, got {}", t.len()));
    }
    Ok((t, int_attr(attrs, "offset")?))
}

pub const LUT: OpDef = OpDef {
    name: "nl.lut",
    summary: "A lookup table: table[x - offset], elementwise",
    description: "The entry at index `x - offset`; indices below 0 read the first entry and \
indices past the end the last one (the table's inputs saturate). The entry is saturated to \
the result type. A table over every value of an 8-bit input is the exact baseline of the \
`lut` method.\n\n```\n%1 = nl.lut %0 {offset = -2, table = [0, 0, 1, 2]} : (tensor<8xi2>) -> tensor<8xi8>\n```",
    operands: INPUT,
    results: ONE_RESULT,
    attrs: &[
        AttrSpec { name: "offset", kind: AttrKind::Int, required: true, doc: "the input value of the first entry" },
        AttrSpec { name: "table", kind: AttrKind::Ints, required: true, doc: "the entries, 1 to 65536" },
    ],
    traits: &[Trait::Pure],
    verify: Some(|info| {
        int_operand(info, 0)?;
        table(info.attrs).map(|_| ())
    }),
    verify_results: Some(same_shape_result),
    eval: Some(|ops, attrs, results| {
        let (t, offset) = table(attrs)?;
        let last = t.len() as i128 - 1;
        map_unit(&ops[0], results, |x| t[x.saturating_sub(offset as i128).clamp(0, last) as usize] as i128)
    }),
    ..OpDef::DEFAULT
};

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;
    use crate::attr::Attribute;
    use crate::types::ElemType;

    fn fixed(x: f64, frac: i64) -> i128 {
        (x * (1i64 << frac) as f64).round() as i128
    }

    #[test]
    fn poly2_is_horner_with_rounding() {
        // 0.5 x^2 + 0.25 x + 1 at 8 fractional bits; x = 1.5 -> 2.5.
        let k = [fixed(0.5, 8), fixed(0.25, 8), fixed(1.0, 8)];
        assert_eq!(poly2(k, fixed(1.5, 8), 8), fixed(2.5, 8));
        assert_eq!(poly2(k, 0, 8), fixed(1.0, 8));
        assert_eq!(poly2([i128::MAX, 0, 0], i128::MAX, 0), i128::MAX);
        let x = ints(I16, &[2], &[384, -256]);
        let a = attrs(&[("coeffs", int_list(&[128, 64, 256])), ("frac", Attribute::Int(8))]);
        assert_eq!(eval(&POLY2, &[x], &a, &int_type(16, &[2])), vec![640, 320]);
    }
    #[test]
    fn isqrt_is_exact() {
        for x in [0i128, 1, 2, 3, 4, 15, 16, 17, 99, 1 << 40, (1 << 62) - 1, i64::MAX as i128] {
            let r = isqrt(x);
            assert!(r * r <= x && (r + 1) * (r + 1) > x, "isqrt({x}) = {r}");
        }
        assert_eq!(isqrt(-9), 0);
    }

    #[test]
    fn lut_reads_saturated_indices() {
        let x = ints(ElemType::I8, &[5], &[-9, -2, 0, 1, 100]);
        let a = attrs(&[("table", int_list(&[10, 20, 30, 40])), ("offset", Attribute::Int(-2))]);
        assert_eq!(eval(&LUT, &[x], &a, &int_type(8, &[5])), vec![10, 10, 30, 40, 40]);
        let empty = attrs(&[("table", int_list(&[])), ("offset", Attribute::Int(0))]);
        let e = verify_results_with(&LUT, &[int_type(8, &[2])], &[&int_type(8, &[2])], &empty).unwrap_err();
        assert_eq!(e, "attribute 'table' must hold 1 to 65536 entries, got 0");
    }
}
