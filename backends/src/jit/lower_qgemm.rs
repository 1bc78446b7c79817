//! `quant.qmatmul` on the JIT: lowering checks the op and describes it
//! ([`QGemmPart`]); [`prepare`] packs constant weights once and turns it
//! into a runtime call ([`QGemmRun`]) that computes, per batch index,
//! `acc[i, j] = sum_p (a[i, p] - za)(b[p, j] - zb[j]) + bias[j]`, exact,
//! saturated to the accumulator's range (spec/quant.md).
//!
//! Two paths, with identical results:
//! - **8-bit** (both operands at most 8 bits, binary weights included, `k`
//!   at most `qgemm::MAX_K`): `a` is moved to unsigned bytes `a - lo_a`
//!   (`lo_a` the least value of its type), `b` to signed bytes (`b - 128`
//!   for 8-bit unsigned weights, `2b - 1` for bits), the integer GEMM
//!   runtime (`qgemm`: VNNI, AVX2 or portable) sums the products exactly in
//!   i32, and the zero points come back exactly through row and column
//!   sums: `sum (a' - za')(b' - zb') = sum a'b' - za' colsum - zb' rowsum +
//!   k za' zb'`.
//! - **wide** (16-bit operands, huge `k`): an i64 loop over the centered
//!   values, as the reference.
//!
//! Invariants: every offset and zero point is an exact integer; shapes are
//! checked at lowering; the runtime reads only the places of its operands
//! and writes only its result's; packed weights are owned by the call.

use super::kernel::{Access, Kernel, Part};
use super::lower::{arg, check_broadcast, Operand};
use super::plan::Place;
use super::qgemm::epilogue::{self, Columns, EpiIsa, Target};
use super::qgemm::io::{load_rows, row_sums, Requant};
use super::qgemm::{gemm_blocks, pack_b, padded_k, Block, PackedB, QIsa, MAX_K};
use super::quant_runtime::{RuntimeCall, RuntimeOp};
use super::storage::Storage;
use super::SlotData;
use std::collections::HashMap;
use std::sync::Mutex;
use weft_ir::ops::quant::common::{qrange, ChannelMap};
use weft_ir::types::QuantParams;
use weft_ir::ElemType;

/// What the right operand holds.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Weights {
    /// Integers of `width` bits with one zero point per output column.
    Int { width: u8, signed: bool, zps: Vec<i64> },
    /// Bits standing for +1 (1) and -1 (0).
    Bin,
}

/// A batched quantized matmul: the accesses' strides cover the batch dims
/// (whole matrices), each matrix is row-major.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct QGemmPart {
    pub batch: Vec<u64>,
    pub a: Access,
    pub b: Access,
    pub c: Access,
    /// One entry per output column, contiguous.
    pub bias: Option<Access>,
    pub m: u64,
    pub n: u64,
    pub k: u64,
    /// Width, signedness and zero point of `a`.
    pub a_type: (u8, bool, i64),
    pub weights: Weights,
    /// The accumulator's range.
    pub range: (i64, i64),
    /// A `quant.requantize` of the accumulator fused into the epilogue
    /// (`c` is then the requantize's result).
    pub requant: Option<Requant>,
}

pub(crate) fn qmatmul(ins: &[Operand], out: &Operand) -> Result<QGemmPart, String> {
    let (a, b) = (arg(ins, 0)?, arg(ins, 1)?);
    let (ra, rb, r) = (a.shape.len(), b.shape.len(), out.shape.len());
    if ra < 2 || rb < 2 || r < 2 || ins.len() > 3 {
        return Err("qmatmul takes a, b (rank >= 2) and an optional bias".into());
    }
    let (m, k, n) = (a.shape[ra - 2], a.shape[ra - 1], b.shape[rb - 1]);
    if b.shape[rb - 2] != k || out.shape[r - 2] != m || out.shape[r - 1] != n {
        return Err(format!("shapes {:?} x {:?} -> {:?} do not match", a.shape, b.shape, out.shape));
    }
    let ElemType::Quant(qa) = &a.elem else { return Err(format!("operand #0 must be !quant.int, got {}", a.elem)) };
    let QuantParams::PerTensor { zp: za, .. } = qa.params else {
        return Err("operand #0 (a) must be quantized per tensor".into());
    };
    let weights = match &b.elem {
        ElemType::Quant(qb) => {
            let map = ChannelMap::of_int(qb, &b.shape)?;
            Weights::Int { width: qb.width, signed: qb.signed, zps: (0..n as usize).map(|j| map.zp(j)).collect() }
        }
        ElemType::Bin(_) => Weights::Bin,
        other => return Err(format!("operand #1 must be !quant.int or !quant.bin, got {other}")),
    };
    let ElemType::Quant(qc) = &out.elem else { return Err("the result must be a !quant.int accumulator".into()) };
    let bias = match ins.get(2) {
        Some(x) if x.shape == [n] && matches!(x.st, Storage::Int { .. }) => {
            Some(Access::contiguous(x.place, x.st, &x.shape))
        }
        Some(x) => return Err(format!("the bias must be an integer vector of {n} entries, got {:?}", x.shape)),
        None => None,
    };
    let batch = out.shape[..r - 2].to_vec();
    check_broadcast(&a.shape[..ra - 2], &batch)?;
    check_broadcast(&b.shape[..rb - 2], &batch)?;
    let batch_access = |x: &Operand, rank: usize, matrix: u64| {
        let mut acc = Access::broadcast(x.place, x.st, &x.shape[..rank - 2], &batch);
        acc.strides.iter_mut().for_each(|s| *s *= matrix as i64);
        acc
    };
    Ok(QGemmPart {
        a: batch_access(a, ra, m * k),
        b: batch_access(b, rb, k * n),
        c: batch_access(out, r, m * n),
        batch,
        bias,
        m,
        n,
        k,
        a_type: (qa.width, qa.signed, za),
        weights,
        range: qrange(qc.width, qc.signed),
        requant: None,
    })
}

/// Turns every [`QGemmPart`] of `kernel` into a runtime call, packing
/// constant weights; the bytes packed.
pub(crate) fn prepare(kernel: &mut Kernel, constants: &[SlotData]) -> Result<u64, String> {
    let mut bytes = 0;
    for part in &mut kernel.parts {
        let Part::QGemm(g) = part else { continue };
        let run = QGemmRun::new((**g).clone(), constants)?;
        bytes +=
            run.packed.iter().map(|p| (p.k().next_multiple_of(4) * p.n().next_multiple_of(64)) as u64).sum::<u64>();
        *part = Part::Runtime(RuntimeCall::new(run));
    }
    Ok(bytes)
}

/// The exact conversions of the 8-bit path.
#[derive(Debug, Clone)]
struct Narrow {
    isa: QIsa,
    /// `a' = a - a_lo` is an unsigned byte; `za' = za - a_lo`.
    a_lo: i64,
    za: i64,
    /// `b' = b - b_off` (or `2b - 1` for bits) is a signed byte; `zb'`.
    b_off: i64,
    zb: Vec<i64>,
    /// The epilogue's per-column constants (`zb'` and the fused
    /// requantize, padded) and its implementation.
    cols: Columns,
    epi: EpiIsa,
}

/// Per-call buffers of the 8-bit path (reused across runs).
#[derive(Debug, Default)]
struct Scratch {
    a: Vec<u8>,
    rowsum: Vec<i64>,
    col: Vec<i64>,
    /// A computed right operand, packed per call.
    packed: Option<PackedB>,
}

/// The run-time form of a quantized matmul.
#[derive(Debug)]
struct QGemmRun {
    g: QGemmPart,
    narrow: Option<Narrow>,
    /// Packed constant weights, and for each batch index which one.
    packed: Vec<PackedB>,
    packed_of: Vec<usize>,
    bias: Option<Vec<i64>>,
    scratch: Mutex<Scratch>,
}

/// Element `index` of an integer buffer of storage `st` (0 outside it).
#[inline]
pub(crate) fn read_int(bytes: &[u8], st: Storage, index: usize) -> i64 {
    let signed = matches!(st, Storage::Int { signed: true, .. });
    match st.size() {
        1 => bytes.get(index).map_or(0, |&b| if signed { i64::from(b as i8) } else { i64::from(b) }),
        2 => word::<2>(bytes, index).map_or(0, |w| {
            if signed {
                i64::from(i16::from_le_bytes(w))
            } else {
                i64::from(u16::from_le_bytes(w))
            }
        }),
        4 => word::<4>(bytes, index).map_or(0, |w| {
            if signed {
                i64::from(i32::from_le_bytes(w))
            } else {
                i64::from(u32::from_le_bytes(w))
            }
        }),
        _ => word::<8>(bytes, index).map_or(0, i64::from_le_bytes),
    }
}

/// The `N` bytes of element `index`.
#[inline]
fn word<const N: usize>(bytes: &[u8], index: usize) -> Option<[u8; N]> {
    bytes.get(index * N..index * N + N).and_then(|b| b.try_into().ok())
}

/// Writes `v` (canonical for `st`) as element `index`.
#[inline]
pub(crate) fn write_int(bytes: &mut [u8], st: Storage, index: usize, v: i64) {
    let size = st.size() as usize;
    if let Some(b) = bytes.get_mut(index * size..index * size + size) {
        match size {
            1 => b[0] = v as u8,
            2 => b.copy_from_slice(&(v as i16).to_le_bytes()),
            4 => b.copy_from_slice(&(v as i32).to_le_bytes()),
            _ => b.copy_from_slice(&v.to_le_bytes()[..size]),
        }
    }
}

/// Row-major element offsets of each batch index of an access.
fn batch_offsets(batch: &[u64], a: &Access) -> Vec<usize> {
    let total: u64 = batch.iter().product();
    let mut idx = vec![0u64; batch.len()];
    (0..total)
        .map(|t| {
            weft_ir::ops::eval::unflatten(t, batch, &mut idx);
            (a.base + idx.iter().zip(&a.strides).map(|(&i, &s)| i as i64 * s).sum::<i64>()) as usize
        })
        .collect()
}

fn constant_bytes(constants: &[SlotData], place: Place) -> Result<&[u8], String> {
    let data = (place.slot as usize).checked_sub(1).and_then(|i| constants.get(i));
    data.and_then(|d| d.bytes().get(place.offset as usize..)).ok_or_else(|| "internal error: unknown constant".into())
}

impl QGemmRun {
    fn new(g: QGemmPart, constants: &[SlotData]) -> Result<QGemmRun, String> {
        let (a_width, a_signed, za) = g.a_type;
        let narrow_b = match &g.weights {
            Weights::Bin => Some((0, vec![0; g.n as usize])),
            Weights::Int { width, signed, zps } if *width <= 8 => {
                let off = if !signed && *width == 8 { 128 } else { 0 };
                Some((off, zps.iter().map(|z| z - off).collect()))
            }
            Weights::Int { .. } => None,
        };
        let n = g.n as usize;
        let narrow = match narrow_b {
            Some((b_off, zb)) if a_width <= 8 && g.k as usize <= MAX_K => {
                let a_lo = qrange(a_width, a_signed).0;
                let cols = Columns::new(&zb, n, g.requant.as_ref())?;
                Some(Narrow { isa: QIsa::host(), a_lo, za: za - a_lo, b_off, zb, cols, epi: EpiIsa::host() })
            }
            _ => None,
        };
        let mut run = QGemmRun {
            narrow,
            packed: Vec::new(),
            packed_of: Vec::new(),
            bias: None,
            scratch: Mutex::new(Scratch::default()),
            g,
        };
        if let Some(bias) = run.g.bias.as_ref().filter(|b| b.place.slot != 0) {
            let bytes = constant_bytes(constants, bias.place)?;
            run.bias = Some((0..run.g.n as usize).map(|j| read_int(bytes, bias.st, j)).collect());
        }
        if run.g.b.place.slot != 0 && run.narrow.is_some() {
            let bytes = constant_bytes(constants, run.g.b.place)?;
            let need = (run.g.k * run.g.n) as usize * run.g.b.st.size() as usize;
            let mut seen: HashMap<usize, usize> = HashMap::new();
            for off in batch_offsets(&run.g.batch, &run.g.b) {
                if off * (run.g.b.st.size() as usize) + need > bytes.len() {
                    return Err("internal error: the weights lie outside their constant".into());
                }
                let next = run.packed.len();
                let i = *seen.entry(off).or_insert(next);
                if i == next {
                    let packed = run.pack(bytes, off);
                    run.packed.push(packed);
                }
                run.packed_of.push(i);
            }
        }
        Ok(run)
    }

    /// Packs the weight matrix at element `off` of `bytes`.
    fn pack(&self, bytes: &[u8], off: usize) -> PackedB {
        let (k, n, st) = (self.g.k as usize, self.g.n as usize, self.g.b.st);
        let (isa, b_off) = self.narrow.as_ref().map_or((QIsa::Portable, 0), |w| (w.isa, w.b_off));
        let bin = self.g.weights == Weights::Bin;
        if st.size() == 1 && !bin {
            // (byte - b_off) mod 256 read as i8 is the value minus b_off.
            let (off_byte, rows) = (b_off as u8, bytes.get(off..).unwrap_or(&[]));
            let mut packed = PackedB::empty(isa);
            if packed.repack_bytes(k, n, rows, off_byte).is_ok() {
                return packed;
            }
            return pack_b(isa, k, n, |p, j| rows.get(p * n + j).map_or(0, |&v| v.wrapping_sub(off_byte) as i8));
        }
        pack_b(isa, k, n, |p, j| {
            let v = read_int(bytes, st, off + p * n + j);
            (if bin { 2 * (v & 1) - 1 } else { v - b_off }) as i8
        })
    }

    /// The bias of column `j` (constant, or read from the run's buffer).
    fn bias_of(&self, run_bias: Option<&[u8]>, j: usize) -> i64 {
        match (&self.bias, run_bias, &self.g.bias) {
            (Some(b), ..) => b.get(j).copied().unwrap_or(0),
            (None, Some(bytes), Some(access)) => read_int(bytes, access.st, j),
            _ => 0,
        }
    }
}

/// The bytes of `a` from element `off` on (`len` elements).
///
/// # Safety
/// `table` is the run table; the access's buffer holds the elements.
unsafe fn view<'t>(table: *const *mut u8, a: &Access, off: usize, len: usize) -> &'t [u8] {
    let size = a.st.size() as usize;
    // SAFETY: the caller's contract (lowering checked the shapes).
    unsafe {
        let base = (*table.add(a.place.slot as usize)).add(a.place.offset as usize + off * size);
        std::slice::from_raw_parts(base, len * size)
    }
}

impl RuntimeOp for QGemmRun {
    unsafe fn run(&self, table: *const *mut u8) -> Result<(), String> {
        let g = &self.g;
        let (m, n, k) = (g.m as usize, g.n as usize, g.k as usize);
        let (a_offs, b_offs, c_offs) =
            (batch_offsets(&g.batch, &g.a), batch_offsets(&g.batch, &g.b), batch_offsets(&g.batch, &g.c));
        // SAFETY: planned places of the described sizes; the result is an
        // arena place that no operand overlaps.
        let run_bias = g.bias.as_ref().filter(|_| self.bias.is_none()).map(|b| unsafe { view(table, b, 0, n) });
        let mut scratch = self.scratch.lock().map_err(|_| "internal error: the matmul scratch is poisoned")?;
        for t in 0..c_offs.len() {
            // SAFETY: as above.
            let (a, c) = unsafe {
                let c = view(table, &g.c, c_offs[t], m * n);
                (view(table, &g.a, a_offs[t], m * k), std::slice::from_raw_parts_mut(c.as_ptr().cast_mut(), c.len()))
            };
            match &self.narrow {
                Some(w) => match self.packed_of.get(t).and_then(|&i| self.packed.get(i)) {
                    Some(packed) => self.narrow_product(w, a, packed, c, run_bias, &mut scratch)?,
                    None => {
                        // SAFETY: as above.
                        let b = unsafe { view(table, &g.b, b_offs[t], k * n) };
                        let mut packed = scratch.packed.take().unwrap_or_else(|| PackedB::empty(w.isa));
                        self.repack(w, b, &mut packed)?;
                        let done = self.narrow_product(w, a, &packed, c, run_bias, &mut scratch);
                        scratch.packed = Some(packed);
                        done?;
                    }
                },
                None => {
                    // SAFETY: as above.
                    let b = unsafe { view(table, &g.b, b_offs[t], k * n) };
                    self.wide_product(a, b, c, run_bias);
                }
            }
        }
        Ok(())
    }
}

impl QGemmRun {
    /// Packs a computed right operand (`b`, the matrix's elements) into
    /// `into`, reusing its storage when its values are bytes.
    fn repack(&self, w: &Narrow, b: &[u8], into: &mut PackedB) -> Result<(), String> {
        let (k, n) = (self.g.k as usize, self.g.n as usize);
        if self.g.b.st.size() == 1 && self.g.weights != Weights::Bin && into.isa() == w.isa {
            // (byte - b_off) mod 256 read as i8 is the value minus b_off.
            return into.repack_bytes(k, n, b, w.b_off as u8);
        }
        *into = self.pack(b, 0);
        Ok(())
    }

    /// The 8-bit path for one matrix.
    fn narrow_product(
        &self,
        w: &Narrow,
        a: &[u8],
        packed: &PackedB,
        c: &mut [u8],
        run_bias: Option<&[u8]>,
        s: &mut Scratch,
    ) -> Result<(), String> {
        let g = &self.g;
        let (m, n, k, kp) = (g.m as usize, g.n as usize, g.k as usize, padded_k(g.k as usize));
        s.rowsum.clear();
        s.rowsum.resize(m, 0);
        // Unsigned bytes in whole groups are the GEMM's form already: read
        // in place, summed only when a `zb'` needs the sums.
        let in_place = w.a_lo == 0 && g.a.st.size() == 1 && k == kp;
        if in_place {
            if !w.cols.zb_zero {
                row_sums(a, (m, k), &mut s.rowsum)?;
            }
        } else {
            if s.a.len() != m * kp {
                // The padding of each row is zero and stays zero
                // (`load_rows` writes the first `k` bytes only).
                s.a.clear();
                s.a.resize(m * kp, 0);
            }
            load_rows(a, g.a.st, (m, k, kp), w.a_lo, &mut s.a, &mut s.rowsum)?;
        }
        let kk = k as i64;
        s.col.clear();
        s.col.extend((0..n).map(|j| {
            let zb = w.zb.get(j).copied().unwrap_or(0);
            let colsum = packed.colsum.get(j).copied().unwrap_or(0);
            self.bias_of(run_bias, j) - w.za * colsum + kk * w.za * zb
        }));
        s.col.resize(epilogue::padded_n(n), 0);
        let size = g.c.st.size() as usize;
        let mut target = Target { out: c, size, m, n, rowsum: &s.rowsum, col: &s.col, range: g.range };
        if !target.fits(&w.cols) {
            return Err("internal error: a quantized matmul operand has the wrong size".into());
        }
        let mut failed = None;
        let rows = if in_place { a } else { &s.a[..] };
        gemm_blocks(rows, kp, m, packed, &mut |blk: Block| {
            if let Err(e) = epilogue::apply(w.epi, &w.cols, &mut target, &blk) {
                failed.get_or_insert(e);
            }
        })?;
        failed.map_or(Ok(()), Err)
    }

    /// The i64 path for one matrix, on the centered values.
    fn wide_product(&self, a: &[u8], b: &[u8], c: &mut [u8], run_bias: Option<&[u8]>) {
        let g = &self.g;
        let (m, n, k) = (g.m as usize, g.n as usize, g.k as usize);
        let za = g.a_type.2;
        let b_val = |p: usize, j: usize| -> i64 {
            let v = read_int(b, g.b.st, p * n + j);
            match &g.weights {
                Weights::Bin => 2 * (v & 1) - 1,
                Weights::Int { zps, .. } => v - zps.get(j).copied().unwrap_or(0),
            }
        };
        let (lo, hi) = g.range;
        let mut acc = vec![0i64; n];
        for i in 0..m {
            for (j, s) in acc.iter_mut().enumerate() {
                *s = self.bias_of(run_bias, j);
            }
            for p in 0..k {
                let x = read_int(a, g.a.st, i * k + p) - za;
                if x == 0 {
                    continue;
                }
                for (j, s) in acc.iter_mut().enumerate() {
                    *s = s.wrapping_add(x.wrapping_mul(b_val(p, j)));
                }
            }
            for (j, &s) in acc.iter().enumerate() {
                let v = s.clamp(lo, hi);
                write_int(c, g.c.st, i * n + j, g.requant.as_ref().map_or(v, |r| r.apply(j, v)));
            }
        }
    }
}
