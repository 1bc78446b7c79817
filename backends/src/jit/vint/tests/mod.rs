//! Tests of the block runtime: every instruction on every instruction
//! family the machine runs against its lane function (`ins`), and whole
//! maps run as block programs against the scalar code Cranelift generates
//! for them, bit for bit (`maps`).

mod ins;
mod maps;
mod trees;

/// A deterministic stream of 64-bit values.
pub(super) fn stream(seed: u64) -> impl Iterator<Item = i64> {
    crate::test_rng::xorshift(seed).map(|s| s as i64)
}

/// Edge values of every width: the extremes of 8 to 64 bits signed and
/// unsigned, their neighbours, 0, +-1 and the shift amounts 0, 1, 62, 63,
/// 64.
pub(super) fn edges() -> Vec<i64> {
    let mut v = vec![0, 1, -1, 2, -2, 62, 63, 64, 65, 127, -128];
    for w in [8u32, 16, 32, 63] {
        let (lo, hi) = (-(1i64 << (w - 1)), (1i64 << (w - 1)) - 1);
        v.extend([lo, lo + 1, hi, hi - 1, (1i64 << w).wrapping_sub(1), 1i64.wrapping_shl(w)]);
    }
    v.extend([i64::MIN, i64::MIN + 1, i64::MAX, i64::MAX - 1]);
    v
}
