//! Lowering of `nn.resize` to a table-driven interpolation kernel
//! ([`Resize`]).
//!
//! The taps (input indices and weights of every output coordinate, per
//! dim) come from the reference's own sampling code
//! (`weft_ir::ops::nn::resize::resize_taps`), evaluated at compile time:
//! a dim whose every output coordinate reads exactly its own index with
//! weight 1 is *direct* (the input pointer walks it like a copy); every
//! other dim gets a table of taps, one row per output coordinate, read by
//! the generated code.
//!
//! Invariants: the kernel computes what the reference `eval` computes, in
//! its order: per output element the nested sum (std order, starting at
//! -0.0) over the taps of the tabled dims in dim order of `weight * x`,
//! where `weight` is the product of the taps' weights in dim order and `x`
//! the input element as f64; rounded once (floats) or truncated and
//! saturated (integers). Direct dims contribute weight 1 and a one-element
//! sum, both exact, so leaving them out changes no bit. A table row is
//! `[count, (byte offset, weight bits) * taps]` (i64 words), `count = -1`
//! for a coordinate outside the crop of `tf_crop_and_resize`.

use super::kernel::{row_major, Access, Part};
use super::lower::Operand;
use super::plan::Place;
use super::storage::Storage;
use weft_ir::ops::eval::wrap_int;
use weft_ir::ops::nn::convert::float_to_int;
use weft_ir::ops::nn::resize::{resize_taps, DimTaps};
use weft_ir::{ElemType, OpData};

/// A resize: for every index of `shape` (the result's), `out` gets the
/// interpolation of `x` (see the module doc).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Resize {
    pub shape: Vec<u64>,
    /// Strides over `shape`: the input's stride on direct dims, 0 on
    /// tabled dims.
    pub x: Access,
    pub out: Access,
    /// The tabled dims, in dim order.
    pub dims: Vec<TapTable>,
    /// The stored value of an element outside the crop (`Some` only when
    /// some row has `count = -1`): f64 bits for floats, the canonical
    /// integer otherwise.
    pub outside: Option<i64>,
}

/// The taps of one dim, one row per output coordinate.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct TapTable {
    /// The dim of `shape` this table resizes.
    pub dim: usize,
    /// Taps per row (the most any coordinate has).
    pub taps: u32,
    /// Every coordinate has exactly one tap.
    pub single: bool,
    /// Where the table is at run time: the slot is assigned when the
    /// function is compiled ([`attach_tables`]); strides over `shape` step
    /// one row along `dim`.
    pub table: Access,
    /// The rows (moved into a constant buffer by [`attach_tables`]).
    pub rows: Vec<i64>,
}

impl TapTable {
    /// i64 words per row.
    pub fn row_words(&self) -> i64 {
        1 + 2 * i64::from(self.taps)
    }
}

pub(crate) fn resize(op: &OpData, x: &Operand, out: &Operand) -> Result<Part, String> {
    if !matches!(x.st, Storage::F32 | Storage::F64 | Storage::Int { .. }) || x.st != out.st {
        return Err(format!("cannot resize {} to {}", x.elem, out.elem));
    }
    let plan = resize_taps(&op.attrs, &x.shape)?;
    if plan.size != out.shape {
        return Err(format!("the result shape {:?} is not the resize's size {:?}", out.shape, plan.size));
    }
    let src = row_major(&x.shape);
    let rank = x.shape.len();
    let mut x_strides = vec![0i64; rank];
    let mut dims = Vec::new();
    let mut outside = false;
    for (d, taps) in plan.dims.iter().enumerate() {
        if is_direct(taps, x.shape[d]) {
            x_strides[d] = src[d];
            continue;
        }
        let table = tap_table(d, taps, src[d] * x.st.size() as i64, &out.shape)?;
        outside |= table.rows.chunks(table.row_words() as usize).any(|r| r.first() == Some(&-1));
        dims.push(table);
    }
    let outside = outside.then(|| outside_value(plan.extrapolation, &x.elem));
    Ok(Part::Resize(Box::new(Resize {
        shape: out.shape.clone(),
        x: Access { place: x.place, st: x.st, base: 0, strides: x_strides },
        out: Access::contiguous(out.place, out.st, &out.shape),
        dims,
        outside,
    })))
}

/// Every output coordinate reads its own index with weight 1.
fn is_direct(taps: &DimTaps, extent: u64) -> bool {
    taps.len() as u64 == extent
        && taps.iter().enumerate().all(|(o, t)| match t.as_deref() {
            Some([tap]) => tap.index == o as u64 && tap.weight == 1.0,
            _ => false,
        })
}

/// The table of dim `dim` whose input stride is `stride_bytes`.
fn tap_table(dim: usize, taps: &DimTaps, stride_bytes: i64, shape: &[u64]) -> Result<TapTable, String> {
    let most = taps.iter().map(|t| t.as_ref().map_or(0, Vec::len)).max().unwrap_or(0);
    let taps_per_row = u32::try_from(most.max(1)).map_err(|_| "too many taps per coordinate")?;
    let words = 1 + 2 * most.max(1);
    let mut rows = Vec::with_capacity(taps.len() * words);
    for t in taps {
        let start = rows.len();
        match t {
            None => rows.push(-1),
            Some(list) => {
                rows.push(list.len() as i64);
                for tap in list {
                    let index = i64::try_from(tap.index).map_err(|_| "a tap index is too large")?;
                    rows.push(index.checked_mul(stride_bytes).ok_or("a tap offset is too large")?);
                    rows.push(tap.weight.to_bits() as i64);
                }
            }
        }
        rows.resize(start + words, 0);
    }
    let mut strides = vec![0i64; shape.len()];
    strides[dim] = words as i64;
    let single = taps.iter().all(|t| t.as_ref().is_some_and(|l| l.len() == 1));
    let table = Access { place: Place { slot: 0, offset: 0 }, st: TABLE_STORAGE, base: 0, strides };
    Ok(TapTable { dim, taps: taps_per_row, single, table, rows })
}

/// Tables hold i64 words.
const TABLE_STORAGE: Storage = Storage::Int { bytes: 8, width: 64, signed: true };

/// The stored extrapolation value, as the reference converts it.
fn outside_value(v: f64, elem: &ElemType) -> i64 {
    match elem {
        ElemType::Int { width, signed } => wrap_int(float_to_int(v, *width, *signed) as i64, *width, *signed),
        _ => v.to_bits() as i64,
    }
}

/// Moves the tap tables of `part` (if it has any) into new constant
/// buffers made by `new_slot` (which gets the table's little-endian bytes
/// and returns its slot), and points the tables' accesses at them.
pub(crate) fn attach_tables(part: &mut Part, new_slot: &mut dyn FnMut(Vec<u8>) -> u32) {
    let Part::Resize(r) = part else { return };
    for t in &mut r.dims {
        let bytes = std::mem::take(&mut t.rows).iter().flat_map(|w| w.to_le_bytes()).collect();
        t.table.place = Place { slot: new_slot(bytes), offset: 0 };
    }
}
