//! Lowering of `nn.matmul`: f32 and f64 products become calls into the GEMM
//! runtime ([`Gemm`] parts), integer products a Cranelift loop nest
//! ([`Part::Matmul`]). After lowering, [`prepare`] readies every kernel
//! once per compiled function: its temporaries ([`TEMP_SLOT`]) move to the
//! scratch bytes at the end of the arena; for each [`Gemm`], a constant `b`
//! (a weight) is packed into the runtime's panels, a constant `a` that is
//! not aligned for its element type is copied to aligned memory, and a `b`
//! packed per call gets scratch bytes after the kernel's temporaries.
//!
//! Invariants: shapes are checked before an access is built; a packed `b`
//! is packed for the [`Isa`] the part names, which is the host's; the
//! runtime only ever sees aligned buffers of the sizes the part states;
//! kernels run one at a time, so they all share the scratch bytes.

use super::gemm::{packed_len, Element, Isa};
use super::kernel::{Access, Gemm, Kernel, Part, TEMP_SLOT};
use super::lower::{arg, check_broadcast, Operand};
use super::plan::Place;
use super::storage::Storage;
use super::{aligned, line_bytes_mut, SlotData};

pub(crate) fn matmul(ins: &[Operand], out: &Operand) -> Result<Part, String> {
    let (a, b) = (arg(ins, 0)?, arg(ins, 1)?);
    let (ra, rb, r) = (a.shape.len(), b.shape.len(), out.shape.len());
    if ra < 2 || rb < 2 || r < 2 {
        return Err("matmul operands must have rank >= 2".into());
    }
    let (m, k, n) = (a.shape[ra - 2], a.shape[ra - 1], b.shape[rb - 1]);
    if b.shape[rb - 2] != k || out.shape[r - 2] != m || out.shape[r - 1] != n {
        return Err(format!("shapes {:?} x {:?} -> {:?} do not match", a.shape, b.shape, out.shape));
    }
    if a.st != b.st || a.st != out.st {
        return Err("operands and result must have one element type".into());
    }
    let batch = out.shape[..r - 2].to_vec();
    check_broadcast(&a.shape[..ra - 2], &batch)?;
    check_broadcast(&b.shape[..rb - 2], &batch)?;
    let batch_access = |x: &Operand, rank: usize, matrix: u64| {
        let mut acc = Access::broadcast(x.place, x.st, &x.shape[..rank - 2], &batch);
        acc.strides.iter_mut().for_each(|s| *s *= matrix as i64);
        acc
    };
    let (a, b, c) = (batch_access(a, ra, m * k), batch_access(b, rb, k * n), batch_access(out, r, m * n));
    if !out.st.is_float() {
        return Ok(Part::Matmul { batch, a, b, c, m, n, k });
    }
    let scratch = Place { slot: 0, offset: 0 };
    let b_strides = [n as i64, 1];
    Ok(Part::Gemm(Box::new(Gemm { batch, a, b, c, m, n, k, b_strides, isa: Isa::host(), packed_b: false, scratch })))
}

/// What [`prepare`] added.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Prepared {
    /// Bytes of new constant buffers (packed weights, aligned copies).
    pub constant_bytes: u64,
    /// Scratch bytes the kernel needs at the scratch offset.
    pub scratch_bytes: u64,
}

/// Readies `kernel` (see the module doc): new constant buffers are
/// appended to `constants` (slot `s` is `constants[s - 1]`); `scratch_at`
/// is the arena offset of the scratch bytes.
pub(crate) fn prepare(kernel: &mut Kernel, constants: &mut Vec<SlotData>, scratch_at: u64) -> Result<Prepared, String> {
    let temps = place_temporaries(kernel, scratch_at)?;
    let mut done = Prepared { constant_bytes: 0, scratch_bytes: temps };
    for part in &mut kernel.parts {
        let Part::Gemm(g) = part else { continue };
        let size = g.c.st.size();
        if g.a.st != g.c.st {
            return Err("internal error: a matmul's left operand is not of its result's type".into());
        }
        if g.a.place.slot != 0 && !aligned_for(constants, &g.a, size) {
            done.constant_bytes += copy_aligned(constants, &mut g.a)?;
        }
        if g.b.place.slot != 0 {
            done.constant_bytes += match g.c.st {
                Storage::F32 => pack_constant::<f32>(g, constants)?,
                _ => pack_constant::<f64>(g, constants)?,
            };
            continue;
        }
        if g.b.st != g.c.st || g.b_strides != [g.n as i64, 1] {
            return Err("internal error: a computed matmul operand must be row-major".into());
        }
        g.scratch = Place { slot: 0, offset: scratch_at + temps };
        let elems = match g.c.st {
            Storage::F32 => packed_len::<f32>(g.isa, g.k as usize, g.n as usize),
            _ => packed_len::<f64>(g.isa, g.k as usize, g.n as usize),
        };
        let bytes = elems.and_then(|e| (e as u64).checked_mul(size)).ok_or("the matmul is too large")?;
        done.scratch_bytes = done.scratch_bytes.max(temps + bytes);
    }
    Ok(done)
}

/// Moves the kernel's [`TEMP_SLOT`] accesses to the arena at `scratch_at`;
/// the bytes they span, rounded up to 64.
fn place_temporaries(kernel: &mut Kernel, scratch_at: u64) -> Result<u64, String> {
    let mut end = 0;
    for part in &mut kernel.parts {
        let spans: Vec<(&mut Access, Vec<u64>, u64)> = match part {
            Part::Map { shape, out, inputs, .. } => {
                inputs.iter_mut().chain([out]).map(|a| (a, shape.clone(), 1)).collect()
            }
            Part::Gemm(g) => {
                let (m, n, k, batch) = (g.m, g.n, g.k, g.batch.clone());
                vec![(&mut g.a, batch.clone(), m * k), (&mut g.b, batch.clone(), k * n), (&mut g.c, batch, m * n)]
            }
            _ => Vec::new(),
        };
        for (access, shape, tail) in spans.into_iter().filter(|(a, ..)| a.place.slot == TEMP_SLOT) {
            end = end.max(footprint(access, &shape, tail).ok_or("internal error: a temporary has a negative stride")?);
            access.place = Place { slot: 0, offset: scratch_at + access.place.offset };
        }
    }
    Ok(end.next_multiple_of(64))
}

/// The end (in bytes from the slot's start) of what `a` addresses over
/// `shape`, when each index covers `tail` elements.
fn footprint(a: &Access, shape: &[u64], tail: u64) -> Option<u64> {
    if a.base < 0 || a.strides.iter().any(|&s| s < 0) {
        return None;
    }
    let last: u64 = shape.iter().zip(&a.strides).map(|(&e, &s)| e.saturating_sub(1) * s as u64).sum();
    Some(a.place.offset + (a.base as u64 + last + tail) * a.st.size())
}

fn slot_bytes(constants: &[SlotData], place: Place) -> Result<&[u8], String> {
    let index = (place.slot as usize).checked_sub(1).ok_or("internal error: the arena is not a constant")?;
    let data = constants.get(index).ok_or("internal error: unknown constant slot")?;
    data.bytes().get(place.offset as usize..).ok_or_else(|| "internal error: constant offset out of range".into())
}

fn aligned_for(constants: &[SlotData], a: &Access, size: u64) -> bool {
    let start = a.base * size as i64;
    slot_bytes(constants, a.place).is_ok_and(|b| (b.as_ptr() as i64 + start) % size as i64 == 0)
}

/// Copies the slot `a` reads into a new 64-byte-aligned constant buffer
/// and points `a` at it; the bytes copied.
fn copy_aligned(constants: &mut Vec<SlotData>, a: &mut Access) -> Result<u64, String> {
    let src = slot_bytes(constants, a.place)?;
    let mut buf = aligned(src.len() as u64);
    line_bytes_mut(&mut buf)[..src.len()].copy_from_slice(src);
    let n = src.len() as u64;
    constants.push(SlotData::Owned(buf));
    a.place = Place { slot: constants.len() as u32, offset: 0 };
    Ok(n)
}

/// The element types the runtime packs constants of.
trait Packed: Element {
    const SIZE: usize;
    /// `x`, read from an element of a storage this type holds exactly.
    fn from_f64(x: f64) -> Self;
    fn write(self, out: &mut [u8]);
}

impl Packed for f32 {
    const SIZE: usize = 4;
    fn from_f64(x: f64) -> f32 {
        x as f32
    }
    fn write(self, out: &mut [u8]) {
        out.copy_from_slice(&self.to_le_bytes());
    }
}

impl Packed for f64 {
    const SIZE: usize = 8;
    fn from_f64(x: f64) -> f64 {
        x
    }
    fn write(self, out: &mut [u8]) {
        out.copy_from_slice(&self.to_le_bytes());
    }
}

/// Element `index` of a little-endian f32 or f64 buffer.
/// Where a constant matrix's elements are: `[row, column]` element `(p, j)`
/// is element `start + p * strides[0] + j * strides[1]` of `bytes`.
struct Source<'a> {
    bytes: &'a [u8],
    st: Storage,
    strides: [i64; 2],
}

/// Writes the `k x n` matrix at `start` of `from` into `out` (bytes of
/// zeros, as long as the packed matrix) in the panel layout of
/// [`super::gemm::pack_b`]: panel `q` holds columns `q * nr ..` of every row, the
/// columns past `n` left zero. `None` when an element is outside the bytes.
fn pack_panels<T: Packed>(from: &Source, start: i64, nr: usize, k: usize, n: usize, out: &mut [u8]) -> Option<()> {
    let size = T::SIZE;
    // The same element type, rows contiguous: rows of a panel are byte copies.
    let copy_rows = from.strides[1] == 1 && from.st.size() as usize == size;
    for (q, panel) in out.chunks_exact_mut(nr * k.max(1) * size).take(n.div_ceil(nr)).enumerate() {
        let (j0, width) = (q * nr, nr.min(n - q * nr));
        for (p, row) in panel.chunks_exact_mut(nr * size).take(k).enumerate() {
            let first = start + p as i64 * from.strides[0] + j0 as i64 * from.strides[1];
            if copy_rows {
                let at = usize::try_from(first).ok()?.checked_mul(size)?;
                row[..width * size].copy_from_slice(from.bytes.get(at..at + width * size)?);
                continue;
            }
            for (c, out) in row.chunks_exact_mut(size).take(width).enumerate() {
                T::from_f64(read_float(from.bytes, from.st, first + c as i64 * from.strides[1])?).write(out);
            }
        }
    }
    Some(())
}

fn read_float(bytes: &[u8], st: Storage, index: i64) -> Option<f64> {
    let size = st.size() as usize;
    let at = usize::try_from(index).ok()?.checked_mul(size)?;
    let b = bytes.get(at..at + size)?;
    match st {
        Storage::F32 => Some(f64::from(f32::from_le_bytes([b[0], b[1], b[2], b[3]]))),
        Storage::F64 => Some(f64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]])),
        _ => None,
    }
}

/// Packs every matrix of the constant `b` reads into a new constant buffer
/// and points `b` at it; the bytes packed. One packed matrix per index of
/// the batch dims along which `b` moves (row-major over those dims). The
/// panels are written straight from the constant's bytes into the
/// 64-byte-aligned buffer (one pass over the weight: this is most of the
/// compile time of a large model).
fn pack_constant<T: Packed>(g: &mut Gemm, constants: &mut Vec<SlotData>) -> Result<u64, String> {
    let (k, n) = (g.k as usize, g.n as usize);
    let exact = g.b.st == g.c.st || (g.b.st == Storage::F32 && g.c.st == Storage::F64);
    if !exact {
        return Err("internal error: a matmul weight does not convert exactly to the product's type".into());
    }
    let plen = packed_len::<T>(g.isa, k, n).ok_or("the matmul is too large")?;
    let moving: Vec<usize> = (0..g.batch.len()).filter(|&d| g.b.strides[d] != 0 && g.batch[d] > 1).collect();
    let extents: Vec<u64> = moving.iter().map(|&d| g.batch[d]).collect();
    let count = extents.iter().product::<u64>() as usize;
    let bytes = (count * plen * T::SIZE) as u64;
    let mut buf = aligned(bytes);
    let src = slot_bytes(constants, g.b.place)?;
    let from = Source { bytes: src, st: g.b.st, strides: g.b_strides };
    let mut idx = vec![0u64; moving.len()];
    for (t, out) in line_bytes_mut(&mut buf).chunks_exact_mut((plen * T::SIZE).max(1)).enumerate().take(count) {
        weft_ir::ops::eval::unflatten(t as u64, &extents, &mut idx);
        let start = g.b.base + moving.iter().zip(&idx).map(|(&d, &i)| i as i64 * g.b.strides[d]).sum::<i64>();
        pack_panels::<T>(&from, start, T::panel_width(g.isa), k, n, out)
            .ok_or("internal error: a matmul weight reads outside its constant")?;
    }
    constants.push(SlotData::Owned(buf));
    let own = super::kernel::row_major(&extents);
    let mut strides = vec![0i64; g.batch.len()];
    for (&d, s) in moving.iter().zip(own) {
        strides[d] = s * plen as i64;
    }
    g.b = Access { place: Place { slot: constants.len() as u32, offset: 0 }, st: g.c.st, base: 0, strides };
    g.b_strides = [n as i64, 1];
    g.packed_b = true;
    Ok(bytes)
}
