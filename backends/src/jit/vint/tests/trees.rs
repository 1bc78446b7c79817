//! The nl trees run by the runtime against the scalar code Cranelift
//! generates for them, byte for byte, on every instruction family.

use super::maps::{runtime_matches, values};
use crate::jit::kernel::{row_major, Access, Part};
use crate::jit::lower_nl::NlTree;
use crate::jit::plan::Place;
use crate::jit::storage::Storage;
use weft_ir::ElemType;

fn int(width: u8, signed: bool) -> Storage {
    Storage::of(&ElemType::Int { width, signed }).expect("an integer storage")
}

/// A tree over `[outer.., lanes]` (row-major input); checks the runtime's
/// bytes against the scalar code's and returns whether it was taken.
fn same_bits(max: bool, outer: &[u64], lanes: u64, st: Storage, out_st: Storage) -> bool {
    let mut shape = outer.to_vec();
    shape.push(lanes);
    let input = Access::contiguous(Place { slot: 1, offset: 0 }, st, &shape);
    let out = Access { place: Place { slot: 0, offset: 0 }, st: out_st, base: 0, strides: row_major(outer) };
    let part = Part::NlTree(Box::new(NlTree { max, outer: outer.to_vec(), lanes, input, out }));
    let rows: u64 = outer.iter().product();
    let bytes = vec![values(st, rows * lanes, 31)];
    let out_len = (rows * out_st.size()) as usize;
    runtime_matches(&part, &bytes, out_len)
}

#[test]
fn maxima_and_sums_are_the_scalar_code() {
    let (i8t, i16t, i32t, u16t) = (int(8, true), int(16, true), int(32, true), int(16, false));
    for max in [true, false] {
        for lanes in [1, 7, 128, 300, 700] {
            for (st, out) in [(i8t, i8t), (i32t, i32t), (u16t, i8t), (i16t, int(64, true)), (i32t, u16t)] {
                assert!(same_bits(max, &[2, 3], lanes, st, out), "max={max} {lanes} {st:?}");
            }
        }
    }
    // One row, no outer dims.
    assert!(same_bits(false, &[], 1000, i32t, i16t));
}

#[test]
fn wide_trees_keep_the_scalar_code() {
    // 62-bit values summed (or any 64-bit input) may need i128.
    assert!(!same_bits(false, &[3], 4, int(62, true), int(64, true)));
    assert!(!same_bits(true, &[3], 4, int(64, false), int(64, true)));
    assert!(same_bits(true, &[3], 4, int(62, true), int(64, true)));
}
