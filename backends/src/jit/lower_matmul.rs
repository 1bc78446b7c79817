//! Lowering of `nn.matmul`: f32 and f64 products become calls into the GEMM
//! runtime ([`Gemm`] parts), integer products a Cranelift loop nest
//! ([`Part::Matmul`]). After lowering, [`prepare`] readies the runtime's
//! operands once per compiled function: a constant `b` (a weight) is packed
//! into the runtime's panels, a constant `a` that is not aligned for its
//! element type is copied to aligned memory, and every product that packs
//! `b` per call gets the shared scratch bytes at the end of the arena.
//!
//! Invariants: shapes are checked before an access is built; a packed `b`
//! is packed for the [`Isa`] the part names, which is the host's; the
//! runtime only ever sees aligned buffers of the sizes the part states.

use super::gemm::{pack_b, packed_len, Element, Isa};
use super::kernel::{Access, Gemm, Kernel, Part};
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
    Ok(Part::Gemm(Box::new(Gemm { batch, a, b, c, m, n, k, isa: Isa::host(), packed_b: false, scratch })))
}

/// What [`prepare`] added.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Prepared {
    /// Bytes of new constant buffers (packed weights, aligned copies).
    pub constant_bytes: u64,
    /// Scratch bytes the kernel needs at the scratch offset.
    pub scratch_bytes: u64,
}

/// Readies the [`Gemm`] parts of `kernel` (see the module doc): new
/// constant buffers are appended to `constants` (slot `s` is
/// `constants[s - 1]`); `scratch_at` is the arena offset of the scratch.
pub(crate) fn prepare(kernel: &mut Kernel, constants: &mut Vec<SlotData>, scratch_at: u64) -> Result<Prepared, String> {
    let mut done = Prepared::default();
    for part in &mut kernel.parts {
        let Part::Gemm(g) = part else { continue };
        let size = g.c.st.size();
        if g.a.place.slot != 0 && !aligned_for(constants, &g.a, size) {
            done.constant_bytes += copy_aligned(constants, &mut g.a)?;
        }
        if g.b.place.slot != 0 {
            done.constant_bytes += match g.c.st {
                Storage::F32 => pack_constant::<f32>(g, constants)?,
                _ => pack_constant::<f64>(g, constants)?,
            };
        } else {
            g.scratch = Place { slot: 0, offset: scratch_at };
            let elems = match g.c.st {
                Storage::F32 => packed_len::<f32>(g.isa, g.k as usize, g.n as usize),
                _ => packed_len::<f64>(g.isa, g.k as usize, g.n as usize),
            };
            let bytes = elems.and_then(|e| (e as u64).checked_mul(size)).ok_or("the matmul is too large")?;
            done.scratch_bytes = done.scratch_bytes.max(bytes);
        }
    }
    Ok(done)
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

/// Element types read from and written to little-endian bytes.
trait LeBytes: Element {
    const SIZE: usize;
    fn read(bytes: &[u8]) -> Self;
    fn write(self, out: &mut [u8]);
}

impl LeBytes for f32 {
    const SIZE: usize = 4;
    fn read(bytes: &[u8]) -> f32 {
        let mut b = [0; 4];
        b.copy_from_slice(&bytes[..4]);
        f32::from_le_bytes(b)
    }
    fn write(self, out: &mut [u8]) {
        out[..4].copy_from_slice(&self.to_le_bytes());
    }
}

impl LeBytes for f64 {
    const SIZE: usize = 8;
    fn read(bytes: &[u8]) -> f64 {
        let mut b = [0; 8];
        b.copy_from_slice(&bytes[..8]);
        f64::from_le_bytes(b)
    }
    fn write(self, out: &mut [u8]) {
        out[..8].copy_from_slice(&self.to_le_bytes());
    }
}

/// Packs every matrix of the constant `b` reads into a new constant buffer
/// (matrix `i` at `i * packed_len`) and points `b` at it; the bytes packed.
fn pack_constant<T: LeBytes>(g: &mut Gemm, constants: &mut Vec<SlotData>) -> Result<u64, String> {
    let (k, n) = (g.k as usize, g.n as usize);
    let matrix = k * n;
    let plen = packed_len::<T>(g.isa, k, n).ok_or("the matmul is too large")?;
    if matrix == 0 || plen == 0 {
        return Ok(0);
    }
    // The matrices `b` reads: offsets base + sum(idx * stride), multiples
    // of the matrix size (lowering built them so).
    let strides: Vec<i64> = g.b.strides.clone();
    if g.b.base % matrix as i64 != 0 || strides.iter().any(|&s| s < 0 || s % matrix as i64 != 0) {
        return Err("internal error: a matmul operand is not a stack of whole matrices".into());
    }
    let last: i64 = g.batch.iter().zip(&strides).map(|(&e, &s)| (e as i64 - 1).max(0) * s).sum();
    let count = ((g.b.base + last) / matrix as i64 + 1) as usize;
    let src = slot_bytes(constants, g.b.place)?;
    let src = src.get(..count * matrix * T::SIZE).ok_or("internal error: a constant is shorter than its type")?;
    let values: Vec<T> = src.chunks_exact(T::SIZE).map(T::read).collect();
    let mut packed = vec![T::default(); count * plen];
    for (from, to) in values.chunks_exact(matrix).zip(packed.chunks_exact_mut(plen)) {
        pack_b(g.isa, k, n, from, n, to)?;
    }
    let bytes = (packed.len() * T::SIZE) as u64;
    let mut buf = aligned(bytes);
    for (x, out) in packed.iter().zip(line_bytes_mut(&mut buf).chunks_exact_mut(T::SIZE)) {
        x.write(out);
    }
    constants.push(SlotData::Owned(buf));
    g.b = Access {
        place: Place { slot: constants.len() as u32, offset: 0 },
        st: g.b.st,
        base: g.b.base / matrix as i64 * plen as i64,
        strides: strides.iter().map(|&s| s / matrix as i64 * plen as i64).collect(),
    };
    g.packed_b = true;
    Ok(bytes)
}
