//! The lane constant pool: the 16-byte vector constants of the kernels
//! (polynomial coefficients, masks, bounds) in one buffer that the
//! compiled function owns, read by loads inside the loops.
//!
//! Why not `splat` or `vconst`: Cranelift hoists those out of loops, and a
//! long polynomial then needs more vector registers than x64 has, so the
//! constants are spilled and reloaded by extra instructions. A pure load
//! from the pool whose base address is re-read at the top of the loop body
//! (`Emit::reload_pool`) stays in the loop, next to its use, where the x64
//! backend folds it into the arithmetic instruction as a memory operand.
//!
//! Invariants: every constant is stored once, at a 16-byte-aligned offset
//! of the buffer (whose base the run table holds in the pool's slot); the
//! buffer never changes after compilation.

use std::collections::HashMap;

/// Distinct 16-byte constants, in the order they were first asked for.
#[derive(Debug, Default)]
pub(crate) struct LanePool {
    values: Vec<u128>,
    index: HashMap<u128, usize>,
    /// Set when an offset did not fit a load's immediate (the kernel being
    /// built is then refused by [`LanePool::check`]).
    overflow: bool,
}

impl LanePool {
    /// The byte offset of `bits` (little-endian lanes) in the pool.
    pub fn offset(&mut self, bits: u128) -> i32 {
        let at = match self.index.get(&bits) {
            Some(&i) => i,
            None => {
                self.values.push(bits);
                self.index.insert(bits, self.values.len() - 1);
                self.values.len() - 1
            }
        };
        i32::try_from(at * 16).unwrap_or_else(|_| {
            self.overflow = true;
            0
        })
    }

    /// An error if some offset did not fit.
    pub fn check(&self) -> Result<(), String> {
        if self.overflow {
            return Err("too many distinct vector constants for one compiled function".into());
        }
        Ok(())
    }

    /// The pool's bytes.
    pub fn bytes(&self) -> Vec<u8> {
        self.values.iter().flat_map(|v| v.to_le_bytes()).collect()
    }
}

/// `x` in every lane of an `f32x4`.
pub(crate) fn f32x4(x: f32) -> u128 {
    i32x4(x.to_bits() as i32)
}

/// `x` in every lane of an `i32x4`.
pub(crate) fn i32x4(x: i32) -> u128 {
    let lane = u128::from(x as u32);
    lane | lane << 32 | lane << 64 | lane << 96
}

/// `x` in every lane of an `i16x8`.
pub(crate) fn i16x8(x: i16) -> u128 {
    let pair = u32::from(x as u16) | u32::from(x as u16) << 16;
    i32x4(pair as i32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constants_are_stored_once_and_splatted() {
        let mut p = LanePool::default();
        assert_eq!(p.offset(f32x4(1.5)), 0);
        assert_eq!(p.offset(i32x4(-1)), 16);
        assert_eq!(p.offset(f32x4(1.5)), 0);
        assert!(p.check().is_ok());
        let b = p.bytes();
        assert_eq!(b.len(), 32);
        assert_eq!(&b[12..16], &1.5f32.to_le_bytes());
        assert_eq!(i16x8(-2), i32x4(0xfffe_fffeu32 as i32));
    }
}
