//! Vectorized integer maps: an elementwise map whose expression is nl and
//! quant nodes with an exact i64 form (`compile`; also the f32 sums a
//! quantize reads) runs as a block program
//! (`program`) in a Rust runtime the kernel calls (`exec`): the output is
//! walked in blocks of [`program::LANES`] elements, the inputs loaded into
//! block registers, and each instruction runs as one loop over the block,
//! vectorized by the Rust compiler for AVX-512, AVX2 or portably (picked
//! once at run time). Cranelift's 128-bit vectors have no 64-bit
//! products, per-lane shifts or leading-zero counts, which the exp2, log2
//! and requantize arithmetic of these maps needs on every element.
//!
//! [`vectorize`] turns such a map into a [`Part::Runtime`] call when its
//! accesses are of the four forms the walker handles: the output
//! row-major; each input row-major like it (full), one value per row of the
//! last dim (a reduced `[.., 1]` operand, splat per row), one value per
//! column (a per-channel table along the last dim) or one scalar.
//! Anything else keeps the scalar code, which stays the reference: every
//! instruction computes lane by lane what the scalar code computes for the
//! element (see `compile`), so the bits are the same.
//!
//! The exact integer trees (`nl.max_tree`, `nl.add_tree`) computed in i64
//! run in the same runtime (`tree`).
//!
//! Invariants: the kernel's accesses never leave their buffers for any
//! index of the map's shape (`kernel`), and the walker reads and writes
//! exactly the elements the scalar loops would (index for index); the
//! output is written only after its block's inputs are read, block by
//! block in row-major order, as the scalar loop does element by element,
//! so an output that is also an input (in place) reads the same values.

mod compile;
mod exec;
mod program;
#[cfg(test)]
mod tests;
mod tree;
mod units;

use super::kernel::{row_major, Access, Part, TABLE_SLOT};
use super::quant_runtime::{RuntimeCall, RuntimeOp};
use super::storage::Storage;
use exec::{Blocks, Reg, VIsa};
use program::{Program, LANES};

/// How an input of a block map is read.
#[derive(Debug, Clone, PartialEq)]
enum Kind {
    /// Element `row * cols + col`.
    Full,
    /// Element `col`.
    Column,
    /// One element per row, at `sum(outer index * stride)`.
    Row(Vec<i64>),
    /// Element 0.
    Scalar,
}

/// A buffer of the run: element 0 at `table[slot] + offset` bytes.
#[derive(Debug, Clone, PartialEq)]
struct Buf {
    slot: u32,
    offset: i64,
    st: Storage,
}

impl Buf {
    fn of(a: &Access) -> Option<Buf> {
        if a.place.slot >= TABLE_SLOT {
            return None;
        }
        let offset = i64::try_from(a.place.offset).ok()?.checked_add(a.base.checked_mul(a.st.size() as i64)?)?;
        Some(Buf { slot: a.place.slot, offset, st: a.st })
    }

    /// The address of element 0 in the run `table`.
    ///
    /// # Safety
    /// `table` is the run table of the kernel the buffer belongs to.
    unsafe fn at(&self, table: *const *mut u8) -> *mut u8 {
        // SAFETY: the caller's contract; the access's elements lie inside
        // the slot's buffer (kernel invariants).
        unsafe { (*table.add(self.slot as usize)).wrapping_offset(self.offset as isize) }
    }
}

/// The walk of a map: `rows` rows of `cols` elements (the output's order),
/// the rows counted by the odometer over `outer`.
#[derive(Debug, Clone, PartialEq)]
struct Layout {
    rows: u64,
    cols: u64,
    outer: Vec<u64>,
    out: Buf,
    inputs: Vec<(Buf, Kind)>,
}

impl Layout {
    fn new(shape: &[u64], out: &Access, inputs: &[Access]) -> Option<Layout> {
        let dims: Vec<usize> = (0..shape.len()).filter(|&d| shape[d] != 1).collect();
        let ext: Vec<u64> = dims.iter().map(|&d| shape[d]).collect();
        let want = row_major(&ext);
        let kept = |a: &Access| -> Option<Vec<i64>> { dims.iter().map(|&d| a.strides.get(d).copied()).collect() };
        if out.strides.len() != shape.len() || kept(out)? != want {
            return None;
        }
        let total: u64 = ext.iter().product();
        let mut kinds = Vec::with_capacity(inputs.len());
        for a in inputs {
            if a.strides.len() != shape.len() {
                return None;
            }
            let s = kept(a)?;
            let kind = match s.split_last() {
                _ if s.iter().all(|&x| x == 0) => Kind::Scalar,
                _ if s == want => Kind::Full,
                Some((1, rest)) if rest.iter().all(|&x| x == 0) => Kind::Column,
                Some((0, rest)) => Kind::Row(rest.to_vec()),
                _ => return None,
            };
            let buf = Buf::of(a)?;
            if !apart(&buf, &kind, &ext, &s, out, total) {
                return None;
            }
            kinds.push((buf, kind));
        }
        let by_rows = kinds.iter().any(|(_, k)| matches!(k, Kind::Row(_) | Kind::Column));
        let (rows, cols, outer) = match ext.split_last() {
            Some((&cols, outer)) if by_rows => (total / cols.max(1), cols, outer.to_vec()),
            _ => (1, total, Vec::new()),
        };
        Some(Layout { rows, cols, outer, out: Buf::of(out)?, inputs: kinds })
    }
}

/// Whether an input (its buffer, kind, strides over the kept dims `ext`)
/// can be read block by block while `out` (`total` elements) is written:
/// it is in another slot, or reads exactly the output's elements in place,
/// or touches none of the output's bytes.
fn apart(b: &Buf, kind: &Kind, ext: &[u64], strides: &[i64], out: &Access, total: u64) -> bool {
    let Some(o) = Buf::of(out) else { return false };
    if b.slot != o.slot || (*kind == Kind::Full && b.offset == o.offset && b.st.size() == o.st.size()) {
        return b.slot != o.slot || *kind == Kind::Full;
    }
    let size = b.st.size() as i64;
    let (mut lo, mut hi) = (0i64, 0i64);
    for (&e, &s) in ext.iter().zip(strides) {
        let reach = (e as i64 - 1).saturating_mul(s);
        lo = lo.saturating_add(reach.min(0));
        hi = hi.saturating_add(reach.max(0));
    }
    let (start, end) =
        (b.offset.saturating_add(lo.saturating_mul(size)), b.offset.saturating_add((hi + 1).saturating_mul(size)));
    let out_end = o.offset.saturating_add((total as i64).saturating_mul(o.st.size() as i64));
    end <= o.offset || start >= out_end
}

/// A map run as a block program.
#[derive(Debug)]
pub(crate) struct BlockMap {
    program: Program,
    layout: Layout,
    isa: VIsa,
}

/// The map (or nl tree) `part` as a call of the block runtime, when its
/// expression and accesses allow it (`None` keeps the scalar code).
pub(crate) fn vectorize(part: &Part) -> Option<Part> {
    vectorize_for(part, VIsa::host())
}

/// [`vectorize`] with the loops of `isa` (which must run on this CPU).
fn vectorize_for(part: &Part, isa: VIsa) -> Option<Part> {
    if let Part::NlTree(_) = part {
        return tree::vectorize(part, isa);
    }
    let Part::Map { shape, out, inputs, expr } = part else { return None };
    if !matches!(out.st, Storage::Int { .. } | Storage::Bool) || shape.contains(&0) {
        return None;
    }
    let sts: Vec<Storage> = inputs.iter().map(|a| a.st).collect();
    let program = compile::compile(expr, &sts)?;
    let layout = Layout::new(shape, out, inputs)?;
    Some(Part::Runtime(RuntimeCall::new(BlockMap { program, layout, isa })))
}

impl RuntimeOp for BlockMap {
    unsafe fn run(&self, table: *const *mut u8) -> Result<(), String> {
        if self.program.inputs != self.layout.inputs.len() {
            return Err("internal error: a block map's program does not match its inputs".into());
        }
        let mut regs = exec::registers(&self.program);
        // SAFETY: the run table of this kernel (the caller's contract);
        // `isa` was detected on this CPU.
        unsafe {
            let bound = Bound::new(&self.layout, self.program.result, table);
            exec::run(self.isa, &self.program, &bound, &mut regs);
        }
        Ok(())
    }
}

/// A layout with the run's addresses.
struct Bound<'a> {
    layout: &'a Layout,
    result: usize,
    out: *mut u8,
    inputs: Vec<*const u8>,
}

impl<'a> Bound<'a> {
    /// # Safety
    /// `table` is the run table of the kernel of `layout`.
    unsafe fn new(layout: &'a Layout, result: u16, table: *const *mut u8) -> Bound<'a> {
        // SAFETY: the caller's contract.
        unsafe {
            Bound {
                layout,
                result: usize::from(result),
                out: layout.out.at(table),
                inputs: layout.inputs.iter().map(|(b, _)| b.at(table).cast_const()).collect(),
            }
        }
    }
}

impl Blocks for Bound<'_> {
    #[inline(always)]
    unsafe fn walk(&self, regs: &mut [Reg], mut run: impl FnMut(&mut [Reg])) {
        let l = self.layout;
        if regs.len() < l.inputs.len() || self.result >= regs.len() {
            return;
        }
        let mut index = vec![0u64; l.outer.len()];
        for row in 0..l.rows {
            for (i, ((b, kind), &p)) in l.inputs.iter().zip(&self.inputs).enumerate() {
                let at = match kind {
                    Kind::Row(strides) => index.iter().zip(strides).map(|(&x, &s)| x as i64 * s).sum(),
                    Kind::Scalar if row == 0 => 0,
                    _ => continue,
                };
                // SAFETY: an element of the access (kernel invariants).
                regs[i].fill(unsafe { load(b.st, p, at) });
            }
            let mut col = 0;
            while col < l.cols {
                let n = (l.cols - col).min(LANES as u64) as usize;
                let flat = (row * l.cols + col) as i64;
                for (i, ((b, kind), &p)) in l.inputs.iter().zip(&self.inputs).enumerate() {
                    let from = match kind {
                        Kind::Full => flat,
                        Kind::Column => col as i64,
                        _ => continue,
                    };
                    // SAFETY: elements of the access (kernel invariants).
                    unsafe { load_block(b.st, p, from, &mut regs[i][..n]) };
                }
                run(regs);
                // SAFETY: output elements (kernel invariants).
                unsafe { store_block(l.out.st, self.out, flat, &regs[self.result][..n]) };
                col += n as u64;
            }
            next(&mut index, &l.outer);
        }
    }
}

/// Advances a row-major odometer over `extents`.
fn next(index: &mut [u64], extents: &[u64]) {
    for (i, &e) in index.iter_mut().zip(extents).rev() {
        *i += 1;
        if *i < e {
            return;
        }
        *i = 0;
    }
}

/// The canonical register of element `at` of storage `st` at `p`.
///
/// # Safety
/// The element lies inside a live buffer.
#[inline(always)]
unsafe fn load(st: Storage, p: *const u8, at: i64) -> i64 {
    let size = st.size() as isize;
    // SAFETY: the caller's contract.
    unsafe {
        let q = p.wrapping_offset(at as isize * size);
        match st {
            Storage::F32 => f64_bits(f64::from(q.cast::<f32>().read_unaligned())),
            Storage::F64 => q.cast::<i64>().read_unaligned(),
            Storage::Bool => i64::from(q.read()),
            Storage::Int { bytes: 1, signed: true, .. } => i64::from(q.cast::<i8>().read()),
            Storage::Int { bytes: 1, .. } => i64::from(q.read()),
            Storage::Int { bytes: 2, signed: true, .. } => i64::from(q.cast::<i16>().read_unaligned()),
            Storage::Int { bytes: 2, .. } => i64::from(q.cast::<u16>().read_unaligned()),
            Storage::Int { bytes: 4, signed: true, .. } => i64::from(q.cast::<i32>().read_unaligned()),
            Storage::Int { bytes: 4, .. } => i64::from(q.cast::<u32>().read_unaligned()),
            _ => q.cast::<i64>().read_unaligned(),
        }
    }
}

/// Loads `dst.len()` elements from element `from` on.
///
/// # Safety
/// The elements lie inside a live buffer.
#[inline(always)]
unsafe fn load_block(st: Storage, p: *const u8, from: i64, dst: &mut [i64]) {
    let size = st.size() as isize;
    let q = p.wrapping_offset(from as isize * size);
    macro_rules! each {
        ($t:ty) => {
            for (j, d) in dst.iter_mut().enumerate() {
                // SAFETY: the caller's contract.
                *d = i64::from(unsafe { q.cast::<$t>().add(j).read_unaligned() });
            }
        };
    }
    if st == Storage::F32 {
        for (j, d) in dst.iter_mut().enumerate() {
            // SAFETY: the caller's contract.
            *d = f64_bits(f64::from(unsafe { q.cast::<f32>().add(j).read_unaligned() }));
        }
        return;
    }
    match st {
        Storage::Int { bytes: 1, signed: true, .. } => each!(i8),
        Storage::Bool | Storage::Int { bytes: 1, .. } => each!(u8),
        Storage::Int { bytes: 2, signed: true, .. } => each!(i16),
        Storage::Int { bytes: 2, .. } => each!(u16),
        Storage::Int { bytes: 4, signed: true, .. } => each!(i32),
        Storage::Int { bytes: 4, .. } => each!(u32),
        _ => each!(i64),
    }
}

/// The register of a float: the bits of its f64 value.
#[inline(always)]
fn f64_bits(x: f64) -> i64 {
    x.to_bits() as i64
}

/// Stores `src` (canonical registers) as elements from `from` on.
///
/// # Safety
/// The elements lie inside a live buffer nothing else borrows.
#[inline(always)]
unsafe fn store_block(st: Storage, p: *mut u8, from: i64, src: &[i64]) {
    let size = st.size() as isize;
    let q = p.wrapping_offset(from as isize * size);
    macro_rules! each {
        ($t:ty) => {
            for (j, &v) in src.iter().enumerate() {
                // SAFETY: the caller's contract.
                unsafe { q.cast::<$t>().add(j).write_unaligned(v as $t) };
            }
        };
    }
    match size {
        1 => each!(u8),
        2 => each!(u16),
        4 => each!(u32),
        _ => each!(i64),
    }
}
