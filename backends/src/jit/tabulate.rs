//! Tabulation of elementwise maps on narrow integers: a map whose only
//! varying input is an integer of at most 16 bits (every other input a
//! constant scalar) computes a function of that one integer, so it is
//! replaced by a lookup in the table of its values. Quantized programs
//! are full of such chains (a requantized 16-bit activation through
//! `qmul`, `dequantize`, `erf`, `add`, `mul`, `quantize` in GELU).
//!
//! The table is computed by compiling the map itself over every value of
//! the input's type and running it once at compile time, so each entry is
//! the bits the map would have produced (same code generator, same
//! ISA); a map that fails on some value (integer division by zero) is left
//! as it is.
//!
//! Invariants: only a map reading one non-constant access of an integer
//! storage of width <= 16 and scalars of constant slots is tabulated (a
//! constant never changes between runs); the table is indexed by `x -
//! lo` with the index clamped, so no value reads outside it; tabulation
//! pays only when the map has at least [`MIN_USES`] elements per entry.

use super::codegen::Compiler;
use super::kernel::{Access, Expr, Part};
use super::lower_quant::{QuantExpr, QuantOp};
use super::plan::Place;
use super::storage::Storage;
use super::{aligned, line_bytes, line_bytes_mut, SlotData};
use std::sync::Arc;
use weft_ir::ops::quant::common::qrange;

/// Elements of the map per table entry needed to tabulate it.
pub(crate) const MIN_USES: u64 = 2;

/// The widest integer input tabulated.
pub(crate) const MAX_BITS: u8 = 16;

/// The map `part` as a table lookup, when it qualifies and its table
/// computes without failure; `None` leaves it as it is.
pub(crate) fn tabulate(part: &Part, constants: &[SlotData]) -> Option<Part> {
    let Part::Map { shape, out, inputs, expr } = part else { return None };
    if matches!(expr, Expr::Input(_)) || matches!(expr, Expr::Quant(q) if matches!(q.op, QuantOp::Table { .. })) {
        return None;
    }
    let constant = |a: &Access| {
        let data = (a.place.slot as usize).checked_sub(1).and_then(|i| constants.get(i));
        a.strides.iter().all(|&s| s == 0) && data.is_some_and(|d| !d.bytes().is_empty())
    };
    // Every non-constant input is the one value `x` (read element for element).
    let x = inputs.iter().find(|a| !constant(a))?;
    if inputs.iter().any(|a| !constant(a) && a != x) {
        return None;
    }
    let Storage::Int { width, signed, .. } = x.st else { return None };
    if width > MAX_BITS {
        return None;
    }
    let (lo, hi) = qrange(width, signed);
    let len = (hi - lo + 1) as u64;
    if shape.iter().product::<u64>() < MIN_USES * len {
        return None;
    }
    let table = evaluate(inputs, x, expr, out.st, (lo, len), constants)?;
    let lookup = QuantExpr {
        op: QuantOp::Table { table: Arc::new(table), offset: lo, len: len as i64 },
        args: vec![Expr::Input(0)],
        arg_st: vec![x.st],
        out: out.st,
    };
    Some(Part::Map {
        shape: shape.clone(),
        out: out.clone(),
        inputs: vec![x.clone()],
        expr: Expr::Quant(Box::new(lookup)),
    })
}

/// The map's values on every integer `lo .. lo + len` read by the inputs
/// equal to `x` (the others read as in the map), as stored integers of
/// `out_st`.
fn evaluate(
    inputs: &[Access],
    x: &Access,
    expr: &Expr,
    out_st: Storage,
    (lo, len): (i64, u64),
    constants: &[SlotData],
) -> Option<Vec<u8>> {
    // Run-table slots: 0 the output, then the constants, then the inputs'
    // values and the lane pool.
    let (values_slot, pool_slot) = (constants.len() as u32 + 1, constants.len() as u32 + 2);
    let mut values = aligned(len * x.st.size());
    let size = x.st.size() as usize;
    for (i, chunk) in line_bytes_mut(&mut values).chunks_exact_mut(size).take(len as usize).enumerate() {
        chunk.copy_from_slice(&(lo + i as i64).to_le_bytes()[..size]);
    }
    let scalar = |a: &Access| Access { strides: vec![0], ..a.clone() };
    let reads = inputs
        .iter()
        .map(|a| {
            if a == x {
                Access { place: Place { slot: values_slot, offset: 0 }, st: a.st, base: 0, strides: vec![1] }
            } else {
                scalar(a)
            }
        })
        .collect();
    let part = Part::Map {
        shape: vec![len],
        out: Access { place: Place { slot: 0, offset: 0 }, st: out_st, base: 0, strides: vec![1] },
        inputs: reads,
        expr: expr.clone(),
    };
    let kernel = super::kernel::Kernel { parts: vec![part], gather_error: String::new(), tables: Vec::new() };
    let mut compiler = Compiler::new(pool_slot).ok()?;
    compiler.add(&kernel).ok()?;
    let (module, fns, pool) = compiler.finish().ok()?;
    let mut pool_lines = aligned(pool.len().max(1) as u64);
    line_bytes_mut(&mut pool_lines)[..pool.len()].copy_from_slice(&pool);
    let mut result = aligned(len * out_st.size());
    let mut table: Vec<*mut u8> = vec![line_bytes_mut(&mut result).as_mut_ptr()];
    table.extend(constants.iter().map(|c| c.bytes().as_ptr().cast_mut()));
    table.push(line_bytes_mut(&mut values).as_mut_ptr());
    table.push(line_bytes_mut(&mut pool_lines).as_mut_ptr());
    // SAFETY: the kernel was generated for exactly this table: slot 0
    // holds `len` results, the values slot `len` inputs, every scalar
    // read is an element of its constant (the map read it), the pool
    // slot the pool's bytes.
    let status = fns.first().map(|f| unsafe { f(table.as_ptr()) });
    // SAFETY: the function is not called again; nothing refers to its code.
    unsafe { module.free_memory() };
    (status == Some(0)).then(|| line_bytes(&result)[..(len * out_st.size()) as usize].to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jit::kernel::BinOp;

    const I8: Storage = Storage::Int { bytes: 1, width: 8, signed: true };

    fn read(slot: u32) -> Access {
        Access { place: Place { slot, offset: 0 }, st: I8, base: 0, strides: vec![1] }
    }

    fn map(inputs: Vec<Access>, op: BinOp, rhs: usize) -> Part {
        let expr = Expr::Binary(op, I8, Box::new(Expr::Input(0)), Box::new(Expr::Input(rhs)));
        Part::Map { shape: vec![512], out: read(0), inputs, expr }
    }

    #[test]
    fn a_map_of_one_byte_is_its_table() {
        // x + x wraps to 8 bits: the table holds it for every x.
        let Some(Part::Map { inputs, expr: Expr::Quant(q), .. }) = tabulate(&map(vec![read(0)], BinOp::Add, 0), &[])
        else {
            panic!("not tabulated")
        };
        assert_eq!(inputs, vec![read(0)]);
        let QuantOp::Table { table, offset, len } = &q.op else { panic!("not a table") };
        assert_eq!((*offset, *len, table.len()), (-128, 256, 256));
        for (i, &v) in table.iter().enumerate() {
            let x = i as i64 - 128;
            assert_eq!(v, (2 * x) as u8, "{x}");
        }
    }

    #[test]
    fn maps_of_two_values_small_maps_and_failing_maps_stay() {
        assert!(tabulate(&map(vec![read(0), read(0)], BinOp::Add, 0), &[]).is_some());
        // Two varying inputs (both in the arena).
        let other = Access { place: Place { slot: 0, offset: 512 }, ..read(0) };
        assert!(tabulate(&map(vec![read(0), other], BinOp::Add, 1), &[]).is_none());
        // Fewer elements than twice the table.
        let Part::Map { inputs, out, expr, .. } = map(vec![read(0)], BinOp::Add, 0) else { unreachable!() };
        assert!(tabulate(&Part::Map { shape: vec![511], inputs, out, expr }, &[]).is_none());
        // x / x fails at x = 0: computed as it is, failing at run time.
        assert!(tabulate(&map(vec![read(0)], BinOp::Div, 0), &[]).is_none());
    }
}
