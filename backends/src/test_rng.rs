//! A deterministic pseudo-random stream for the crate's tests (xorshift64),
//! so that every test draws its values the same way.
//!
//! Invariants: the same seed gives the same stream; a seed is made odd
//! (`seed | 1`), since xorshift never leaves 0.

/// The xorshift64 stream from `seed` (`seed | 1`).
pub fn xorshift(seed: u64) -> impl Iterator<Item = u64> {
    let mut s = seed | 1;
    std::iter::repeat_with(move || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        s
    })
}
