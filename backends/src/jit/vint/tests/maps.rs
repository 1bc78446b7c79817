//! Whole maps: each is compiled twice, as the scalar Cranelift loop and
//! as a block program (on every instruction family the host runs, and
//! portably), run on the same random and edge inputs, and the outputs
//! compared byte for byte.

use super::super::exec::VIsa;
use super::super::{vectorize_for, Layout};
use super::{edges, stream};
use crate::jit::codegen::Compiler;
use crate::jit::kernel::{Access, BinOp, Expr, Kernel, Part};
use crate::jit::lower_nl::{NlExpr, NlOp};
use crate::jit::lower_quant::{Param, QuantExpr, QuantOp};
use crate::jit::nl_fast::{sample_exp2_formats, sample_log2_formats};
use crate::jit::nl_unit::{NlUnit, UnitKind};
use crate::jit::plan::Place;
use crate::jit::storage::Storage;
use crate::jit::{aligned, line_bytes, line_bytes_mut};
use std::sync::Arc;
use weft_ir::ops::nl::Rounding;
use weft_ir::ElemType;

fn int(width: u8, signed: bool) -> Storage {
    Storage::of(&ElemType::Int { width, signed }).expect("an integer storage")
}

fn elem(st: Storage) -> ElemType {
    match st {
        Storage::Int { width, signed, .. } => ElemType::Int { width, signed },
        _ => ElemType::Bool,
    }
}

const I8: Storage = Storage::Int { bytes: 1, width: 8, signed: true };
const U8: Storage = Storage::Int { bytes: 1, width: 8, signed: false };
const I16: Storage = Storage::Int { bytes: 2, width: 16, signed: true };
const I32: Storage = Storage::Int { bytes: 4, width: 32, signed: true };
const I64T: Storage = Storage::Int { bytes: 8, width: 64, signed: true };

fn nl(op: NlOp, args: Vec<Expr>, arg_st: Vec<Storage>, out: Storage) -> Expr {
    Expr::Nl(Box::new(NlExpr { op, args, arg_st, out }))
}

fn x(i: usize) -> Expr {
    Expr::Input(i)
}

/// Canonical stored bytes of `n` values of `st`: edges and random values
/// wrapped to the width (seeded by `seed`).
pub(super) fn values(st: Storage, n: u64, seed: u64) -> Vec<u8> {
    if st == Storage::F32 {
        return floats(n, seed).flat_map(f32::to_le_bytes).collect();
    }
    let Storage::Int { bytes, width, signed } = st else { return vec![0; n as usize] };
    let mut pool = edges();
    pool.extend(stream(seed).take(n as usize));
    pool.extend(stream(seed + 1).map(|v| v >> 50).take(n as usize));
    let wrap = |v: i64| {
        let s = 64 - u32::from(width);
        if signed {
            v.wrapping_shl(s).wrapping_shr(s)
        } else {
            ((v as u64).wrapping_shl(s) >> s) as i64
        }
    };
    let pick = stream(seed + 2).map(|r| pool[(r as u64 % pool.len() as u64) as usize]);
    pick.take(n as usize).flat_map(|v| wrap(v).to_le_bytes()[..usize::from(bytes)].to_vec()).collect()
}

/// `n` f32 values: quarters and eighths around 0 (ties of the quantizers
/// below), random bit patterns (NaNs, infinities, subnormals included) and
/// the special values.
fn floats(n: u64, seed: u64) -> impl Iterator<Item = f32> {
    let special = [0.0, -0.0, f32::INFINITY, f32::NEG_INFINITY, f32::NAN, f32::MAX, f32::MIN_POSITIVE, 1e-45, 65535.5];
    stream(seed).take(n as usize).enumerate().map(move |(i, r)| match i % 4 {
        0 => special[(r as u64 % special.len() as u64) as usize],
        1 => f32::from_bits(r as u32),
        2 => (r % 4000) as f32 / 4.0,
        _ => (r % 100_000) as f32 / 8.0,
    })
}

/// Runs the one-part kernel on `inputs` (slots 1..), the output in slot 0.
pub(super) fn execute(part: Part, inputs: &[Vec<u8>], out_len: usize) -> Vec<u8> {
    let pool_slot = inputs.len() as u32 + 1;
    let kernel = Kernel { parts: vec![part], gather_error: String::new(), tables: Vec::new() };
    let mut compiler = Compiler::new(pool_slot).expect("a compiler");
    compiler.add(&kernel).expect("the kernel compiles");
    let (module, fns, pool) = compiler.finish().expect("linked");
    let mut pool_lines = aligned(pool.len().max(1) as u64);
    line_bytes_mut(&mut pool_lines)[..pool.len()].copy_from_slice(&pool);
    let mut out = aligned(out_len as u64);
    line_bytes_mut(&mut out).fill(0xa5);
    let mut ins: Vec<_> = inputs
        .iter()
        .map(|b| {
            let mut l = aligned(b.len().max(1) as u64);
            line_bytes_mut(&mut l)[..b.len()].copy_from_slice(b);
            l
        })
        .collect();
    let mut table = vec![line_bytes_mut(&mut out).as_mut_ptr()];
    table.extend(ins.iter_mut().map(|l| line_bytes_mut(l).as_mut_ptr()));
    table.push(line_bytes_mut(&mut pool_lines).as_mut_ptr());
    // SAFETY: the kernel was compiled for exactly this table.
    let status = unsafe { fns[0](table.as_ptr()) };
    assert_eq!(status, 0);
    // SAFETY: the function is not called again.
    unsafe { module.free_memory() };
    line_bytes(&out)[..out_len].to_vec()
}

/// A map of `expr` over `shape` reading inputs of the given shapes and
/// storages; checks the block program's bytes against the scalar code's
/// and returns whether the map was vectorized.
fn same_bits(shape: &[u64], ins: &[(Vec<u64>, Storage)], out_st: Storage, expr: Expr) -> bool {
    let inputs: Vec<Access> = ins
        .iter()
        .enumerate()
        .map(|(i, (s, st))| Access::broadcast(Place { slot: i as u32 + 1, offset: 0 }, *st, s, shape))
        .collect();
    let out = Access::contiguous(Place { slot: 0, offset: 0 }, out_st, shape);
    let part = Part::Map { shape: shape.to_vec(), out, inputs, expr };
    let bytes: Vec<Vec<u8>> =
        ins.iter().enumerate().map(|(i, (s, st))| values(*st, s.iter().product(), 17 + i as u64 * 5)).collect();
    let n: u64 = shape.iter().product();
    let out_len = (n * out_st.size()) as usize;
    runtime_matches(&part, &bytes, out_len)
}

/// Runs `part` through the block runtime on every instruction family the
/// machine has, and the portable one, checking its bytes against the
/// scalar code's on `inputs`; whether any family took it.
pub(super) fn runtime_matches(part: &Part, inputs: &[Vec<u8>], out_len: usize) -> bool {
    let want = execute(part.clone(), inputs, out_len);
    let mut taken = false;
    for isa in VIsa::available().into_iter().chain([VIsa::Portable]) {
        let Some(block) = vectorize_for(part, isa) else { continue };
        taken = true;
        assert_eq!(execute(block, inputs, out_len), want, "{isa:?}: {part:?}");
    }
    taken
}

fn flat(n: u64, sts: &[Storage]) -> Vec<(Vec<u64>, Storage)> {
    sts.iter().map(|&st| (vec![n], st)).collect()
}

#[test]
fn arithmetic_nodes_are_the_scalar_code() {
    let ops = [NlOp::Add, NlOp::Sub, NlOp::Mul, NlOp::Max, NlOp::Min];
    let combos = [(I32, I32, I8), (I16, int(16, false), I32), (I8, U8, U8), (I32, I32, I64T), (int(20, true), I8, I16)];
    for op in ops {
        for (a, b, out) in combos {
            let e = nl(op.clone(), vec![x(0), x(1)], vec![a, b], out);
            assert!(same_bits(&[300], &flat(300, &[a, b]), out, e), "{op:?} {a:?} {b:?}");
        }
    }
    let mux = nl(NlOp::Mux, vec![x(0), x(1), x(2)], vec![I8, I32, I16], I16);
    assert!(same_bits(&[200], &flat(200, &[I8, I32, I16]), I16, mux));
    for (from, to) in [(I32, I8), (U8, I8), (int(32, false), I32)] {
        assert!(same_bits(&[130], &flat(130, &[from]), to, nl(NlOp::Cast, vec![x(0)], vec![from], to)));
    }
}

#[test]
fn wide_values_keep_the_scalar_code() {
    // i64 + i64 and products of 64-bit values need i128.
    let add = nl(NlOp::Add, vec![x(0), x(1)], vec![I64T, I64T], I64T);
    assert!(!same_bits(&[100], &flat(100, &[I64T, I64T]), I64T, add));
    let mul = nl(NlOp::Mul, vec![x(0), x(1)], vec![I64T, I8], I32);
    assert!(!same_bits(&[100], &flat(100, &[I64T, I8]), I32, mul));
}

#[test]
fn shifts_round_as_the_scalar_code() {
    let roundings = [Rounding::Floor, Rounding::Ceil, Rounding::Nearest];
    for amount in [-126, -70, -63, -62, -33, -8, -1, 0, 1, 17, 31, 40] {
        for rounding in roundings {
            for (from, to) in [(I32, I8), (I32, I64T), (I16, I32), (int(63, true), I64T)] {
                let e = nl(NlOp::Shift { amount, rounding }, vec![x(0)], vec![from], to);
                let done = same_bits(&[150], &flat(150, &[from]), to, e);
                // Everything whose exact value fits i64 is vectorized.
                if from == I16 && (-62..=40).contains(&amount) {
                    assert!(done, "{amount} {rounding:?}");
                }
            }
        }
    }
}

#[test]
fn leading_ones_and_tables_are_the_scalar_code() {
    for from in [I32, int(16, false), I8] {
        assert!(same_bits(&[100], &flat(100, &[from]), I8, nl(NlOp::Lod, vec![x(0)], vec![from], I8)));
    }
    let table: Vec<i64> = stream(3).map(|v| v >> 57).take(300).collect();
    for offset in [-40_000, 0, 77] {
        let e = nl(NlOp::Lut { table: Arc::new(table.clone()), offset }, vec![x(0)], vec![I16], I8);
        assert!(same_bits(&[500], &flat(500, &[I16]), I8, e));
    }
}

#[test]
fn exp2_and_log2_units_are_the_scalar_code() {
    for f in sample_exp2_formats() {
        for (from, to) in [(I32, I32), (I32, I64T), (I16, I16), (I32, U8), (int(62, true), I32)] {
            let unit = NlUnit::new(UnitKind::Exp2(f.clone()), vec![elem(from)], elem(to));
            let e = nl(NlOp::Unit(Arc::new(unit)), vec![x(0)], vec![from], to);
            assert!(same_bits(&[257], &flat(257, &[from]), to, e), "{f:?} {from:?} {to:?}");
        }
    }
    for f in sample_log2_formats() {
        for (from, to) in [(I32, I32), (int(32, false), I16), (I64T, I64T), (I8, I8)] {
            let unit = NlUnit::new(UnitKind::Log2(f.clone()), vec![elem(from)], elem(to));
            let e = nl(NlOp::Unit(Arc::new(unit)), vec![x(0)], vec![from], to);
            assert!(same_bits(&[257], &flat(257, &[from]), to, e), "{f:?} {from:?} {to:?}");
        }
    }
}

#[test]
fn other_units_are_called_per_lane() {
    let u64t = int(64, false);
    let div = NlUnit::new(UnitKind::Div, vec![elem(I32), elem(I8)], elem(I16));
    let e = nl(NlOp::Unit(Arc::new(div)), vec![x(0), x(1)], vec![I32, I8], I16);
    assert!(same_bits(&[99], &flat(99, &[I32, I8]), I16, e));
    let sqrt = NlUnit::new(UnitKind::Isqrt, vec![elem(u64t)], elem(u64t));
    let e = nl(NlOp::Unit(Arc::new(sqrt)), vec![x(0)], vec![u64t], u64t);
    assert!(same_bits(&[99], &flat(99, &[u64t]), u64t, e));
}

fn quant(op: QuantOp, args: Vec<Expr>, arg_st: Vec<Storage>, out: Storage) -> Expr {
    Expr::Quant(Box::new(QuantExpr { op, args, arg_st, out }))
}

#[test]
fn quant_nodes_are_the_scalar_code() {
    let req = |zp_in, m, s1, s2, zp_out| QuantOp::Requantize { zp_in, m, s1, s2, zp_out, lo: -128, hi: 127 };
    let c = Param::Const;
    for (m, s1, s2) in [(1_518_500_250, 37, 1), (1 << 30, 0, 0), (2_000_000_000, 62, 1), (-5, 63, 1)] {
        let e = quant(req(c(3), c(m), c(s1), c(s2), c(-7)), vec![x(0)], vec![I32], I8);
        assert!(same_bits(&[333], &flat(333, &[I32]), I8, e));
    }
    // Per-channel parameters along the last dim: column inputs.
    let shape = [3, 5, 100];
    let col = |st| (vec![100], st);
    let e = quant(
        req(Param::Arg(1), Param::Arg(2), Param::Arg(3), Param::Arg(4), c(5)),
        vec![x(0), x(1), x(2), x(3), x(4)],
        vec![I32, I64T, I64T, I64T, I64T],
        I8,
    );
    let ins = [(shape.to_vec(), I32), col(I64T), col(I64T), col(I64T), col(I64T)];
    assert!(same_bits(&shape, &ins, I8, e));
    for shift in [0, 1, 20, 63, 64, 70] {
        let qadd = QuantOp::Qadd { za: 3, zb: -128, ma: 1 << 29, mb: -977, shift, zr: 9, lo: -128, hi: 127 };
        let e = quant(qadd, vec![x(0), x(1)], vec![I8, U8], I8);
        assert!(same_bits(&[260], &flat(260, &[I8, U8]), I8, e));
        let qmul = QuantOp::Qmul { za: -1, zb: 200, m: 1_234_567_891, shift, zr: -4, lo: 0, hi: 65535 };
        let e = quant(qmul, vec![x(0), x(1)], vec![I32, I16], int(16, false));
        assert!(same_bits(&[260], &flat(260, &[I32, I16]), int(16, false), e));
    }
    let bytes: Vec<u8> = stream(4).take(256).flat_map(|v| (v as i16).to_le_bytes()).collect();
    let table = QuantOp::Table { table: Arc::new(bytes), offset: -128, len: 256 };
    assert!(same_bits(&[300], &flat(300, &[I8]), I16, quant(table, vec![x(0)], vec![I8], I16)));
}

#[test]
fn rows_columns_and_scalars_are_read_as_the_scalar_loops_read_them() {
    // exp2(x - max_row) * gamma_col >> 8 + scalar, over [2, 3, 70].
    let f = sample_exp2_formats().swap_remove(0);
    let unit = NlUnit::new(UnitKind::Exp2(f), vec![elem(I32)], elem(I32));
    let d = nl(NlOp::Sub, vec![x(0), x(1)], vec![I16, I16], I32);
    let e = nl(NlOp::Unit(Arc::new(unit)), vec![d], vec![I32], I32);
    let e = nl(NlOp::Mul, vec![e, x(2)], vec![I32, I8], I64T);
    let e = nl(NlOp::Shift { amount: -8, rounding: Rounding::Nearest }, vec![e], vec![I64T], I32);
    let e = nl(NlOp::Add, vec![e, x(3)], vec![I32, I8], I8);
    let shape = [2, 3, 70];
    let ins = [(vec![2, 3, 70], I16), (vec![2, 3, 1], I16), (vec![70], I8), (vec![1], I8)];
    assert!(same_bits(&shape, &ins, I8, e.clone()));
    // A layout with a dim the walker cannot read (a column broadcast
    // along a middle dim) keeps the scalar code.
    let ins = [(vec![2, 3, 70], I16), (vec![2, 3, 1], I16), (vec![2, 1, 70], I8), (vec![1], I8)];
    assert!(!same_bits(&shape, &ins, I8, e));
}

#[test]
fn inputs_overlapping_the_output_elsewhere_are_refused() {
    let shape = [4, 64];
    let out = Access::contiguous(Place { slot: 0, offset: 0 }, I8, &shape);
    let row = Access::broadcast(Place { slot: 0, offset: 8 }, I8, &[4, 1], &shape);
    let same = Access::contiguous(Place { slot: 0, offset: 0 }, I8, &shape);
    let elsewhere = Access::broadcast(Place { slot: 0, offset: 256 }, I8, &[4, 1], &shape);
    assert!(Layout::new(&shape, &out, &[row]).is_none());
    assert!(Layout::new(&shape, &out, &[same, elsewhere]).is_some());
}

#[test]
fn float_sums_quantized_are_the_scalar_code() {
    let f32_table: Vec<u8> = floats(256, 8).flat_map(f32::to_le_bytes).collect();
    let u16t = int(16, false);
    for scale in [0.5, 0.0003920340276188011, 3.0, 1e-30] {
        for (zp, lo, hi) in [(30841, 0, 65535), (-3, -128, 127)] {
            let out = if lo < 0 { I8 } else { u16t };
            let table = QuantOp::Table { table: Arc::new(f32_table.clone()), offset: -128, len: 256 };
            let scores = quant(table, vec![x(1)], vec![I8], Storage::F32);
            let sum = Expr::Binary(BinOp::Add, Storage::F32, Box::new(scores), Box::new(x(0)));
            let q = QuantOp::Quantize { scale: Param::Const(scale), zp: Param::Const(zp), lo, hi };
            let e = nl(NlOp::Cast, vec![quant(q, vec![sum], vec![Storage::F32], out)], vec![out], out);
            let ins = [(vec![130], Storage::F32), (vec![3, 130], I8)];
            assert!(same_bits(&[3, 130], &ins, out, e), "{scale} {zp}");
            let prod = Expr::Binary(BinOp::Mul, Storage::F32, Box::new(x(0)), Box::new(x(1)));
            let diff = Expr::Binary(BinOp::Sub, Storage::F32, Box::new(prod), Box::new(x(0)));
            let q = QuantOp::Quantize { scale: Param::Const(scale), zp: Param::Const(zp), lo, hi };
            let e = quant(q, vec![diff], vec![Storage::F32], out);
            assert!(same_bits(&[300], &flat(300, &[Storage::F32, Storage::F32]), out, e));
        }
    }
    // A zero scale divides 0 into NaN: kept scalar.
    let q = QuantOp::Quantize { scale: Param::Const(0.0), zp: Param::Const(0), lo: -128, hi: 127 };
    assert!(!same_bits(&[100], &flat(100, &[Storage::F32]), I8, quant(q, vec![x(0)], vec![Storage::F32], I8)));
}
