//! The exact integer trees (`nl.max_tree`, `nl.add_tree`) as a Rust
//! runtime: per outer index, the maximum or the sum of a contiguous row of
//! lanes, one loop the compiler vectorizes (AVX-512, AVX2 or portable, as
//! block maps pick them).
//!
//! Only trees the scalar code computes in i64 are taken (an input of at
//! most 62 bits, plus `ceil(log2 lanes)` bits for a sum): there no partial
//! result can reach 2^63, so the i64 maximum or wrapping sum is the exact
//! one in any order, and the one clamp to the result's range gives the
//! scalar code's bits.
//!
//! Invariants: the accesses stay inside their buffers for every index
//! (kernel invariants); the input's lane stride is 1.

use super::exec::VIsa;
use super::{load_block, next, store_block, Buf};
use crate::jit::kernel::Part;
use crate::jit::lower_nl::NlTree;
use crate::jit::quant_runtime::{RuntimeCall, RuntimeOp};
use crate::jit::storage::Storage;

/// Lanes loaded at a time.
const CHUNK: usize = 256;

/// A tree run by the runtime.
#[derive(Debug)]
pub(crate) struct TreeRun {
    max: bool,
    outer: Vec<u64>,
    lanes: u64,
    input: Buf,
    in_strides: Vec<i64>,
    out: Buf,
    out_strides: Vec<i64>,
    /// The result's range, within i64.
    lo: i64,
    hi: i64,
    isa: VIsa,
}

/// The values of `st` as an i64 range and the bits of its largest
/// magnitude (`None` for non-integers).
fn range(st: Storage) -> Option<(i128, i128, u32)> {
    let (lo, hi) = super::compile::range(st)?;
    Some((lo, hi, 128 - lo.unsigned_abs().max(hi.unsigned_abs()).leading_zeros()))
}

/// The tree `part` as a runtime call, when the scalar code computes it in
/// i64 and its lanes are contiguous.
pub(crate) fn vectorize(part: &Part, isa: VIsa) -> Option<Part> {
    let Part::NlTree(t) = part else { return None };
    let NlTree { max, outer, lanes, input, out } = &**t;
    let (_, _, bits) = range(input.st)?;
    let (lo, hi, _) = range(out.st)?;
    let grow = if *max { 0 } else { 64 - lanes.saturating_sub(1).leading_zeros() };
    let (rank, lane_stride) = (outer.len(), input.strides.last().copied());
    if bits + grow > 62 || input.strides.len() != rank + 1 || out.strides.len() != rank || lane_stride != Some(1) {
        return None;
    }
    Some(Part::Runtime(RuntimeCall::new(TreeRun {
        max: *max,
        outer: outer.clone(),
        lanes: *lanes,
        input: Buf::of(input)?,
        in_strides: input.strides[..rank].to_vec(),
        out: Buf::of(out)?,
        out_strides: out.strides.clone(),
        lo: lo.max(i128::from(i64::MIN)) as i64,
        hi: hi.min(i128::from(i64::MAX)) as i64,
        isa,
    })))
}

impl RuntimeOp for TreeRun {
    unsafe fn run(&self, table: *const *mut u8) -> Result<(), String> {
        // SAFETY: the run table of this kernel (the caller's contract);
        // `isa` was detected on this CPU.
        unsafe {
            match self.isa {
                #[cfg(target_arch = "x86_64")]
                VIsa::Avx512 => walk_avx512(self, table),
                #[cfg(target_arch = "x86_64")]
                VIsa::Avx2 => walk_avx2(self, table),
                _ => walk(self, table),
            }
        }
        Ok(())
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512vl")]
unsafe fn walk_avx512(t: &TreeRun, table: *const *mut u8) {
    // SAFETY: the caller's contract.
    unsafe { walk(t, table) }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn walk_avx2(t: &TreeRun, table: *const *mut u8) {
    // SAFETY: the caller's contract.
    unsafe { walk(t, table) }
}

/// Every row's maximum or sum, clamped and stored.
///
/// # Safety
/// `table` is the run table of the tree's kernel.
#[inline(always)]
unsafe fn walk(t: &TreeRun, table: *const *mut u8) {
    // SAFETY: the caller's contract.
    let (src, dst) = unsafe { (t.input.at(table).cast_const(), t.out.at(table)) };
    let rows: u64 = t.outer.iter().product();
    let mut index = vec![0u64; t.outer.len()];
    let mut chunk = [0i64; CHUNK];
    for _ in 0..rows {
        let at = |strides: &[i64]| index.iter().zip(strides).map(|(&i, &s)| i as i64 * s).sum::<i64>();
        let (from, to) = (at(&t.in_strides), at(&t.out_strides));
        let mut acc = if t.max { i64::MIN } else { 0 };
        let mut done = 0;
        while done < t.lanes {
            let n = (t.lanes - done).min(CHUNK as u64) as usize;
            let part = &mut chunk[..n];
            // SAFETY: lanes of this row (kernel invariants).
            unsafe { load_block(t.input.st, src, from + done as i64, part) };
            acc = if t.max {
                part.iter().fold(acc, |a, &x| a.max(x))
            } else {
                part.iter().fold(acc, |a, &x| a.wrapping_add(x))
            };
            done += n as u64;
        }
        // SAFETY: an element of the result (kernel invariants).
        unsafe { store_block(t.out.st, dst, to, &[acc.max(t.lo).min(t.hi)]) };
        next(&mut index, &t.outer);
    }
}
