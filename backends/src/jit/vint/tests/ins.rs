//! Every instruction, on every instruction family the host runs (and
//! the portable one, forced), against its lane function on random values
//! and the edge values of every width (extremes, shifts by 0, 63 and 64,
//! rounding ties).

use super::super::exec::{self, Blocks, Reg, VIsa};
use super::super::program::{Bin, Cmp, Imm, Ins, Program, Quantize, LANES, R};
use super::super::units::{Exp2Step, Log2Step, Quad};
use super::{edges, stream};
use crate::jit::nl_unit::{NlUnit, UnitKind};
use std::sync::Arc;
use weft_ir::ops::nl::Rounding;
use weft_ir::ElemType;

/// Runs the program once on the registers as they are.
struct Once;

impl Blocks for Once {
    unsafe fn walk(&self, regs: &mut [Reg], mut run: impl FnMut(&mut [Reg])) {
        run(regs)
    }
}

/// Input registers 0..3 filled from `values` (cycled), lane by lane.
fn inputs(values: &[i64], offset: usize) -> [Reg; 3] {
    let mut regs = [[0; LANES]; 3];
    for (r, reg) in regs.iter_mut().enumerate() {
        for (j, lane) in reg.iter_mut().enumerate() {
            *lane = values[(offset + j * (r + 1) * 7 + r * 13) % values.len()];
        }
    }
    regs
}

/// Checks `ins` (destination 3, sources among 0..3) on every family.
fn check(ins: Ins) {
    let p = Program::new(vec![ins.clone()], 3, 4, 3).expect("a valid program");
    let mut values = edges();
    values.extend(stream(11).take(300));
    values.extend(stream(5).map(|v| v >> 40).take(100));
    values.extend(stream(9).map(|v| v & 127).take(100));
    for offset in (0..values.len()).step_by(LANES / 2) {
        let regs = inputs(&values, offset);
        // A float's NaN payload is unspecified (only quantize reads floats,
        // and it sees NaN as NaN): compare NaNs as one.
        let float = matches!(ins, Ins::Float(..));
        let canon = |v: i64| if float && f64::from_bits(v as u64).is_nan() { 1 } else { v };
        let want: Vec<i64> = (0..LANES).map(|j| canon(ins.lane(|r: R| regs[usize::from(r)][j]))).collect();
        for isa in VIsa::available().into_iter().chain([VIsa::Portable]) {
            let mut file = exec::registers(&p);
            file[..3].copy_from_slice(&regs);
            // SAFETY: `isa` runs here; `file` is the program's register file.
            unsafe { exec::run(isa, &p, &Once, &mut file) };
            let got: Vec<i64> = file[3].iter().map(|&v| canon(v)).collect();
            assert_eq!(got, want, "{ins:?} on {isa:?} at offset {offset}");
        }
    }
}

#[test]
fn every_binary_instruction_is_its_lane_function() {
    for op in [Bin::Add, Bin::Sub, Bin::Mul, Bin::Min, Bin::Max, Bin::Sar] {
        check(Ins::Bin(op, 3, 0, 1));
        check(Ins::Bin(op, 3, 2, 2));
    }
}

#[test]
fn every_constant_instruction_is_its_lane_function() {
    let ops = [Imm::Add, Imm::RSub, Imm::Mul, Imm::And, Imm::Shl, Imm::Sar];
    for op in ops {
        for c in [0, 1, -1, 31, 32, 62, 63, 64, 127, i64::MAX, i64::MIN, 1 << 40, -(1 << 15)] {
            check(Ins::Imm(op, 3, 1, c));
        }
    }
}

#[test]
fn clamps_comparisons_selects_and_leading_zeros_are_their_lane_functions() {
    for (lo, hi) in [(-128, 127), (0, 255), (i64::MIN, i64::MAX), (1, 63), (0, 0), (i64::MIN, -5)] {
        check(Ins::Clamp(3, 0, lo, hi));
    }
    for op in [Cmp::Lt] {
        for c in [0, -1, 1, i64::MIN, i64::MAX] {
            check(Ins::CmpImm(op, 3, 2, c));
        }
    }
    check(Ins::Select(3, 0, 1, 2));
    check(Ins::Clz(3, 0));
    check(Ins::Const(3, -7));
    check(Ins::Const(3, i64::MIN));
}

#[test]
fn table_reads_clamp_their_index() {
    check(Ins::Gather(3, 0, Arc::from(vec![5i64, -3, i64::MAX, 0, i64::MIN])));
    check(Ins::Gather(3, 2, Arc::from(vec![42i64])));
    let ramp: Vec<i64> = (0..256).map(|i| i * i - 1000).collect();
    check(Ins::Gather(3, 1, Arc::from(ramp)));
}

#[test]
fn unit_calls_are_the_units() {
    let i64t = ElemType::I64;
    let u64t = ElemType::Int { width: 64, signed: false };
    let div = NlUnit::new(UnitKind::Div, vec![i64t.clone(), ElemType::I8], ElemType::I32);
    check(Ins::Unit(3, 0, Some(1), Arc::new(div)));
    let shift = NlUnit::new(UnitKind::BarrelShift(Rounding::Nearest), vec![i64t, ElemType::I8], ElemType::I64);
    check(Ins::Unit(3, 1, Some(2), Arc::new(shift)));
    let sqrt = NlUnit::new(UnitKind::Isqrt, vec![u64t], ElemType::I32);
    check(Ins::Unit(3, 2, None, Arc::new(sqrt)));
}

#[test]
fn fused_exp2_and_log2_units_are_their_lane_functions() {
    let rows = [[14437, 45317, 65536], [12140, 38107, 55109], [10208, 32044, 46341], [8584, 26946, 38968]];
    let logs = [[-37663, 93807, 0], [-25143, 75239, 21098], [-17974, 62792, 38336], [-13487, 53872, 52911]];
    for (frac, select) in [(16, 14), (0, 0), (3, 1), (30, 28)] {
        for (shift, lo, hi) in [(0, 0, 65535), (-16, i64::MIN, i64::MAX), (46, -128, 127)] {
            let quad = Quad::new(&rows, frac, select, true).expect("a power of two of rows");
            let step = Exp2Step { quad, frac, shift, lo, hi };
            assert!(step.valid());
            check(Ins::Exp2(3, 0, Arc::new(step)));
        }
        for (lo_frac, out_frac, lo, hi) in
            [(16, 16, -8_388_608, 8_388_607), (-4, 0, i64::MIN, i64::MAX), (62, 30, 0, 1)]
        {
            let quad = Quad::new(&logs, frac, select, false).expect("a power of two of rows");
            let step = Log2Step { quad, mf: frac, frac: lo_frac, out_frac, lo, hi };
            assert!(step.valid());
            check(Ins::Log2(3, 1, Arc::new(step)));
        }
    }
    let one = Quad::new(&[[-9, 5, i64::MAX]], 4, 4, true).expect("one row");
    check(Ins::Exp2(3, 2, Arc::new(Exp2Step { quad: one, frac: 4, shift: 1, lo: -5, hi: 5 })));
    assert!(Quad::new(&rows[..3], 16, 14, true).is_none());
}

#[test]
fn float_steps_are_their_lane_functions() {
    for op in [Bin::Add, Bin::Sub, Bin::Mul] {
        check(Ins::Float(op, true, 3, 0, 1));
        check(Ins::Float(op, false, 3, 2, 1));
    }
    let wide = (1i64 << 51) - 1;
    for (scale, zp, lo, hi) in
        [(0.5, 3, -128, 127), (3.9e-4, 30841, 0, 65535), (-2.0, 0, -wide, wide), (1e-300, 5, 0, 9)]
    {
        check(Ins::Quantize(3, 0, Arc::new(Quantize { scale, zp, lo, hi })));
    }
    let zero = Quantize { scale: 0.0, zp: 0, lo: 0, hi: 1 };
    assert!(Program::new(vec![Ins::Quantize(3, 0, Arc::new(zero))], 3, 4, 3).is_none());
    // Bounds past 2^51 are not converted exactly by the magic number.
    let huge = Quantize { scale: 1.0, zp: 0, lo: i64::MIN, hi: i64::MAX };
    assert!(Program::new(vec![Ins::Quantize(3, 0, Arc::new(huge))], 3, 4, 3).is_none());
}

#[test]
fn programs_that_break_the_invariants_are_refused() {
    // Writing an input, a destination among the sources, a register out of
    // range, an empty table.
    assert!(Program::new(vec![Ins::Const(0, 1)], 3, 4, 3).is_none());
    assert!(Program::new(vec![Ins::Bin(Bin::Add, 3, 3, 0)], 3, 4, 3).is_none());
    assert!(Program::new(vec![Ins::Imm(Imm::Add, 3, 4, 0)], 3, 4, 3).is_none());
    assert!(Program::new(vec![Ins::Gather(3, 0, Arc::from(Vec::new()))], 3, 4, 3).is_none());
    assert!(Program::new(vec![Ins::Const(3, 1)], 3, 4, 4).is_none());
    assert!(Program::new(vec![Ins::Const(3, 1)], 3, 4, 3).is_some());
}
