//! The inline exp2 and log2 units of the scalar code (`codegen::nl_approx`)
//! as fused block instructions: each is its lane function here, composed
//! of the scalar code's steps in its order with its wrapping arithmetic
//! (the segment quadratic, the final shift of exp2, the mantissa and
//! exponent of log2), then the clamp to the result.
//!
//! Invariants: a step is built only from a unit's i64 form (`nl_fast`)
//! and checked by `valid` (a power of two of rows, shifts below 64), so
//! every row index is in its table and no shift amount is out of range.

/// A piecewise quadratic: rows `[a, b, c]` (a power of two of them),
/// selected by `f >> select`, evaluated at the offset of `f` in its
/// segment (negated when `negate`) with products rounded at `frac` bits.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Quad {
    pub a: Vec<i64>,
    pub b: Vec<i64>,
    pub c: Vec<i64>,
    pub frac: u32,
    pub select: u32,
    pub negate: bool,
}

impl Quad {
    /// The quadratic of `rows`, when there is a power of two of them and
    /// `frac` and `select` are shifts (below 64).
    pub fn new(rows: &[[i64; 3]], frac: u32, select: u32, negate: bool) -> Option<Quad> {
        if !rows.len().is_power_of_two() || frac >= 64 || select >= 64 {
            return None;
        }
        let column = |k: usize| rows.iter().map(|r| r[k]).collect();
        Some(Quad { a: column(0), b: column(1), c: column(2), frac, select, negate })
    }

    /// The row of `f` and the offset the quadratic is evaluated at.
    #[inline(always)]
    pub fn row(&self, f: i64) -> (i64, i64) {
        let row = f.wrapping_shr(self.select) & (self.a.len() as i64 - 1);
        let start = row.wrapping_shl(self.select);
        (row, if self.negate { start.wrapping_sub(f) } else { f.wrapping_sub(start) })
    }

    /// Whether the rows are a power of two of equal columns and the
    /// shifts below 64.
    pub fn valid(&self) -> bool {
        let n = self.a.len();
        n.is_power_of_two() && self.b.len() == n && self.c.len() == n && self.frac < 64 && self.select < 64
    }

    /// The quadratic of row `row` at `x` (reference form).
    #[cfg(test)]
    pub fn at(&self, row: i64, x: i64) -> i64 {
        let at = |t: &[i64]| t.get(row as usize).copied().unwrap_or(0);
        self.poly(at(&self.a), at(&self.b), at(&self.c), x)
    }

    /// `round(round(a x) + b) x) + c`, rounding to nearest (ties up).
    #[inline(always)]
    pub fn poly(&self, a: i64, b: i64, c: i64, x: i64) -> i64 {
        let round = |v: i64| {
            if self.frac == 0 {
                v
            } else {
                v.wrapping_add(1i64 << (self.frac - 1)).wrapping_shr(self.frac)
            }
        };
        let t = round(a.wrapping_mul(x)).wrapping_add(b);
        round(t.wrapping_mul(x)).wrapping_add(c)
    }
}

/// `p 2^amount` as the scalar code's `exp2_shift64` computes it: a left
/// shift by `clamp(amount, 0, 63)` that does not come back by the right
/// shift becomes the i64 limit of `p`'s sign; a right shift by `k =
/// clamp(-amount, 1, 63)` rounds to nearest as `(p + 2^(k-1)) >> k`.
#[inline(always)]
pub(crate) fn exp2_shift(p: i64, amount: i64) -> i64 {
    let by = amount.clamp(0, 63) as u32;
    let shifted = p.wrapping_shl(by);
    let limit = (p >> 63) ^ i64::MAX;
    let left = if shifted.wrapping_shr(by) != p { limit } else { shifted };
    let k = amount.wrapping_neg().clamp(1, 63) as u32;
    let right = p.wrapping_add(1i64 << (k - 1)).wrapping_shr(k);
    if amount >= 0 {
        left
    } else {
        right
    }
}

/// `floor(max(a, 1) 2^(mf - k)) - 2^mf` for `k = floor(log2 max(a, 1))`:
/// the top `mf + 1` bits from the leading one on, less that one.
#[inline(always)]
pub(crate) fn mantissa(a: i64, mf: u32) -> i64 {
    let x = a.max(1);
    let top = x.wrapping_shl(x.leading_zeros());
    ((top as u64).wrapping_shr(63u32.wrapping_sub(mf)) as i64).wrapping_sub(1i64.wrapping_shl(mf))
}

/// `(floor(log2 max(a, 1)) - frac) << out_frac`, wrapping.
#[inline(always)]
pub(crate) fn exponent(a: i64, frac: i64, out_frac: i64) -> i64 {
    let k = 63 - i64::from(a.max(1).leading_zeros());
    k.wrapping_sub(frac).wrapping_shl(out_frac as u32)
}

/// `nl.exp2` inline: with `-t = q 2^frac + r` (`0 <= r < 2^frac`), the
/// quadratic of row `r >> select` at the row's start minus `r`, shifted by
/// `shift - q` ([`exp2_shift`]), clamped to `[lo, hi]`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Exp2Step {
    pub quad: Quad,
    pub frac: u32,
    pub shift: i64,
    pub lo: i64,
    pub hi: i64,
}

impl Exp2Step {
    pub fn valid(&self) -> bool {
        self.quad.valid() && self.quad.negate && self.frac < 63 && self.lo <= self.hi
    }

    /// The row and offset of the quadratic and the shift amount of `t`.
    #[inline(always)]
    pub fn split(&self, t: i64) -> (i64, i64, i64) {
        let neg = t.wrapping_neg();
        let (row, x) = self.quad.row(neg & ((1i64 << self.frac) - 1));
        (row, x, self.shift.wrapping_sub(neg.wrapping_shr(self.frac)))
    }

    /// The result from the quadratic's value `p` and the shift amount.
    #[inline(always)]
    pub fn finish(&self, p: i64, amount: i64) -> i64 {
        exp2_shift(p, amount).max(self.lo).min(self.hi)
    }

    #[cfg(test)]
    pub fn lane(&self, t: i64) -> i64 {
        let (row, x, amount) = self.split(t);
        self.finish(self.quad.at(row, x), amount)
    }
}

/// `nl.log2` inline: for `x > 0` the quadratic of the mantissa bits below
/// the leading one ([`mantissa`]) plus the exponent ([`exponent`]), clamped
/// to `[lo, hi]`; `lo` for `x <= 0`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Log2Step {
    pub quad: Quad,
    pub mf: u32,
    pub frac: i64,
    pub out_frac: i64,
    pub lo: i64,
    pub hi: i64,
}

impl Log2Step {
    pub fn valid(&self) -> bool {
        self.quad.valid() && !self.quad.negate && self.mf < 63 && (0..64).contains(&self.out_frac) && self.lo <= self.hi
    }

    /// The row and offset of the quadratic and the exponent term of `x`.
    #[inline(always)]
    pub fn split(&self, x: i64) -> (i64, i64, i64) {
        let (row, off) = self.quad.row(mantissa(x, self.mf));
        (row, off, exponent(x, self.frac, self.out_frac))
    }

    /// The result from `x`, the quadratic's value `p` and the exponent term.
    #[inline(always)]
    pub fn finish(&self, x: i64, p: i64, e: i64) -> i64 {
        let v = p.wrapping_add(e).max(self.lo).min(self.hi);
        if x > 0 {
            v
        } else {
            self.lo
        }
    }

    #[cfg(test)]
    pub fn lane(&self, x: i64) -> i64 {
        let (row, off, e) = self.split(x);
        self.finish(x, self.quad.at(row, off), e)
    }
}
