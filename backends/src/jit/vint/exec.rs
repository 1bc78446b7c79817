//! Running block programs: each instruction is one loop over the
//! [`LANES`] lanes of its registers, calling the instruction's lane
//! function (`program`) with the operation fixed outside the loop, so the
//! compiler vectorizes it. The loops are compiled three times, for
//! AVX-512 (F, DQ, VL, CD, BW: 64-bit products, per-lane shifts, leading
//! zeros, gathers), for AVX2 and portably; [`VIsa::host`] picks the best
//! the CPU runs, once. All three compute the lane functions, so they give
//! the same bits.
//!
//! Lane functions clamp with `max(lo).min(hi)`, never `Ord::clamp`: its
//! check that `lo <= hi` is a panic branch inside the loop, which stops
//! the vectorization.
//!
//! Invariants: a register file has exactly the program's `regs` registers
//! (the checked indexes of `Program::new` are then in bounds); input
//! registers are only read; tail lanes past a block's length hold
//! whatever the last block left (every lane function is total, so they
//! compute harmless values that are never stored).

use super::program::{bin, cmp, float, imm, quantize, select, Bin, Cmp, Imm, Ins, Program, Quantize, LANES};
use super::units::{Exp2Step, Log2Step, Quad};
use std::sync::OnceLock;

/// A block register.
pub(crate) type Reg = [i64; LANES];

/// An instruction family, picked by CPU feature.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum VIsa {
    Avx512,
    Avx2,
    Portable,
}

impl VIsa {
    /// The best family the host runs (detected once).
    pub fn host() -> VIsa {
        static HOST: OnceLock<VIsa> = OnceLock::new();
        *HOST.get_or_init(|| VIsa::available().first().copied().unwrap_or(VIsa::Portable))
    }

    /// Every family the host runs, best first.
    pub fn available() -> Vec<VIsa> {
        [VIsa::Avx512, VIsa::Avx2, VIsa::Portable].into_iter().filter(|i| i.runs_here()).collect()
    }

    fn runs_here(self) -> bool {
        match self {
            VIsa::Portable => true,
            #[cfg(target_arch = "x86_64")]
            VIsa::Avx512 => {
                std::arch::is_x86_feature_detected!("avx512f")
                    && std::arch::is_x86_feature_detected!("avx512dq")
                    && std::arch::is_x86_feature_detected!("avx512vl")
                    && std::arch::is_x86_feature_detected!("avx512cd")
                    && std::arch::is_x86_feature_detected!("avx512bw")
            }
            #[cfg(target_arch = "x86_64")]
            VIsa::Avx2 => std::arch::is_x86_feature_detected!("avx2"),
            #[cfg(not(target_arch = "x86_64"))]
            _ => false,
        }
    }
}

/// A fresh register file for `p`.
pub(crate) fn registers(p: &Program) -> Vec<Reg> {
    vec![[0; LANES]; p.regs]
}

/// What one block of a map does around the program: fill the input
/// registers, then (after the program) store the result. Implementations
/// are `#[inline(always)]`, so their loads and stores are compiled with
/// the family's features too.
pub(crate) trait Blocks {
    /// Runs `program` on every block, calling `run(regs)` between filling
    /// the inputs and storing the result.
    ///
    /// # Safety
    /// As the implementor documents (it reads and writes run buffers).
    unsafe fn walk(&self, regs: &mut [Reg], run: impl FnMut(&mut [Reg]));
}

/// Runs every block of `blocks` with `isa`'s loops.
///
/// # Safety
/// `isa` runs on this CPU; `regs` is a register file of `p`; `blocks`'s
/// own contract holds.
pub(crate) unsafe fn run(isa: VIsa, p: &Program, blocks: &impl Blocks, regs: &mut [Reg]) {
    if regs.len() != p.regs {
        return;
    }
    // SAFETY: the caller's contract.
    unsafe {
        match isa {
            #[cfg(target_arch = "x86_64")]
            VIsa::Avx512 => x86::walk_avx512(p, blocks, regs),
            #[cfg(target_arch = "x86_64")]
            VIsa::Avx2 => x86::walk_avx2(p, blocks, regs),
            _ => blocks.walk(regs, |r| program::<Portable>(p, r)),
        }
    }
}

/// How a family reads tables (the one instruction the compiler does not
/// vectorize by itself).
pub(crate) trait Gather {
    /// `d[j] = table[clamp(a[j], 0, len - 1)]` for a non-empty table.
    ///
    /// # Safety
    /// The family runs on this CPU.
    unsafe fn gather(table: &[i64], a: &Reg, d: &mut Reg);
}

/// The table indexes of `a`, clamped into a table of `len > 0` entries.
#[inline(always)]
fn clamped(a: &Reg, len: usize) -> Reg {
    let last = len as i64 - 1;
    let mut idx = [0i64; LANES];
    for (i, &a) in idx.iter_mut().zip(a) {
        *i = a.max(0).min(last);
    }
    idx
}

/// Plain loads.
pub(crate) struct Portable;

impl Gather for Portable {
    #[inline(always)]
    unsafe fn gather(table: &[i64], a: &Reg, d: &mut Reg) {
        let idx = clamped(a, table.len());
        for (d, &i) in d.iter_mut().zip(&idx) {
            // SAFETY: the index was clamped into the non-empty table.
            *d = unsafe { *table.get_unchecked(i as usize) };
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    //! The AVX-512 and AVX2 instantiations, with hardware gathers.

    use super::{clamped, program, Blocks, Gather, Reg, LANES};
    use crate::jit::vint::program::Program;
    use std::arch::x86_64::*;

    pub(super) struct Avx512;
    pub(super) struct Avx2;

    #[target_feature(enable = "avx512f,avx512dq,avx512vl,avx512cd,avx512bw")]
    pub(super) unsafe fn walk_avx512(p: &Program, blocks: &impl Blocks, regs: &mut [Reg]) {
        // SAFETY: AVX-512 runs here (the caller's contract).
        unsafe { blocks.walk(regs, |r| program::<Avx512>(p, r)) }
    }

    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn walk_avx2(p: &Program, blocks: &impl Blocks, regs: &mut [Reg]) {
        // SAFETY: AVX2 runs here (the caller's contract).
        unsafe { blocks.walk(regs, |r| program::<Avx2>(p, r)) }
    }

    #[target_feature(enable = "avx512f")]
    unsafe fn gather512(table: &[i64], a: &Reg, d: &mut Reg) {
        let idx = clamped(a, table.len());
        if table.len() <= 8 {
            // A table of at most 8 entries fits one register: one
            // permutation per 8 lanes (the clamped indexes never reach the
            // padding).
            let mut padded = [0i64; 8];
            padded[..table.len()].copy_from_slice(table);
            // SAFETY: as below; `padded` holds 8 lanes.
            unsafe {
                let t = _mm512_loadu_si512(padded.as_ptr().cast());
                for j in (0..LANES).step_by(8) {
                    let i = _mm512_loadu_si512(idx.as_ptr().add(j).cast());
                    _mm512_storeu_si512(d.as_mut_ptr().add(j).cast(), _mm512_permutexvar_epi64(i, t));
                }
            }
            return;
        }
        for j in (0..LANES).step_by(8) {
            // SAFETY: 8 lanes from `j` lie in both registers (LANES is a
            // multiple of 8); every index was clamped into the table.
            unsafe {
                let i = _mm512_loadu_si512(idx.as_ptr().add(j).cast());
                let v = _mm512_i64gather_epi64::<8>(i, table.as_ptr());
                _mm512_storeu_si512(d.as_mut_ptr().add(j).cast(), v);
            }
        }
    }

    #[target_feature(enable = "avx2")]
    unsafe fn gather256(table: &[i64], a: &Reg, d: &mut Reg) {
        let idx = clamped(a, table.len());
        for j in (0..LANES).step_by(4) {
            // SAFETY: as in `gather512`, 4 lanes at a time.
            unsafe {
                let i = _mm256_loadu_si256(idx.as_ptr().add(j).cast());
                let v = _mm256_i64gather_epi64::<8>(table.as_ptr(), i);
                _mm256_storeu_si256(d.as_mut_ptr().add(j).cast(), v);
            }
        }
    }

    impl Gather for Avx512 {
        #[inline(always)]
        unsafe fn gather(table: &[i64], a: &Reg, d: &mut Reg) {
            // SAFETY: the caller's contract (AVX-512 runs here).
            unsafe { gather512(table, a, d) }
        }
    }

    impl Gather for Avx2 {
        #[inline(always)]
        unsafe fn gather(table: &[i64], a: &Reg, d: &mut Reg) {
            // SAFETY: the caller's contract (AVX2 runs here).
            unsafe { gather256(table, a, d) }
        }
    }
}

/// Every instruction of `p` on every lane of `regs`, reading tables the
/// way of `G`.
///
/// # Safety
/// `G`'s family runs on this CPU.
#[inline(always)]
pub(crate) unsafe fn program<G: Gather>(p: &Program, regs: &mut [Reg]) {
    if regs.len() != p.regs {
        return;
    }
    for ins in &p.ins {
        // SAFETY: the caller's contract.
        unsafe { step::<G>(ins, regs) };
    }
}

#[inline(always)]
fn map1(d: &mut Reg, a: &Reg, f: impl Fn(i64) -> i64) {
    for (d, &a) in d.iter_mut().zip(a) {
        *d = f(a);
    }
}

#[inline(always)]
fn map2(d: &mut Reg, a: &Reg, b: &Reg, f: impl Fn(i64, i64) -> i64) {
    for ((d, &a), &b) in d.iter_mut().zip(a).zip(b) {
        *d = f(a, b);
    }
}

/// The quadratic `q` of rows `row` (in the table) at offsets `x`.
///
/// # Safety
/// `G`'s family runs on this CPU.
#[inline(always)]
unsafe fn quadratic<G: Gather>(q: &Quad, row: &Reg, x: &Reg, p: &mut Reg) {
    let (mut ca, mut cb, mut cc) = ([0i64; LANES], [0i64; LANES], [0i64; LANES]);
    // SAFETY: the caller's contract; the rows are not empty (a power of
    // two of them, `Program::new`).
    unsafe {
        G::gather(&q.a, row, &mut ca);
        G::gather(&q.b, row, &mut cb);
        G::gather(&q.c, row, &mut cc);
    }
    for (j, p) in p.iter_mut().enumerate() {
        *p = q.poly(ca[j], cb[j], cc[j], x[j]);
    }
}

/// The exp2 unit on every lane. (A separate function: `d` as a
/// parameter tells the compiler it aliases nothing else, so the loops
/// vectorize.)
///
/// # Safety
/// `G`'s family runs on this CPU.
#[inline(always)]
unsafe fn exp2<G: Gather>(e: &Exp2Step, t: &Reg, d: &mut Reg) {
    let (mut row, mut x, mut amount) = ([0i64; LANES], [0i64; LANES], [0i64; LANES]);
    for (j, &t) in t.iter().enumerate() {
        (row[j], x[j], amount[j]) = e.split(t);
    }
    // SAFETY: the caller's contract.
    unsafe { quadratic::<G>(&e.quad, &row, &x, d) };
    for (d, &amount) in d.iter_mut().zip(&amount) {
        *d = e.finish(*d, amount);
    }
}

/// The log2 unit on every lane (see [`exp2`]).
///
/// # Safety
/// `G`'s family runs on this CPU.
#[inline(always)]
unsafe fn log2<G: Gather>(l: &Log2Step, a: &Reg, d: &mut Reg) {
    let (mut row, mut x, mut ex) = ([0i64; LANES], [0i64; LANES], [0i64; LANES]);
    for (j, &v) in a.iter().enumerate() {
        (row[j], x[j], ex[j]) = l.split(v);
    }
    // SAFETY: the caller's contract.
    unsafe { quadratic::<G>(&l.quad, &row, &x, d) };
    for ((d, &a), &e) in d.iter_mut().zip(a).zip(&ex) {
        *d = l.finish(a, *d, e);
    }
}

/// One instruction on every lane.
///
/// # Safety
/// `G`'s family runs on this CPU.
#[inline(always)]
unsafe fn step<G: Gather>(ins: &Ins, regs: &mut [Reg]) {
    let base = regs.as_mut_ptr();
    let d = usize::from(ins.dest());
    // SAFETY: `regs` has the program's register count (checked by the
    // callers), so every index `Program::new` checked is in bounds, and the
    // destination is none of the sources: the one mutable borrow does not
    // alias the shared ones.
    let (d, r) = unsafe { (&mut *base.add(d), |x: u16| &*base.add(usize::from(x))) };
    match ins {
        Ins::Bin(op, _, a, b) => {
            let (a, b) = (r(*a), r(*b));
            match op {
                Bin::Add => map2(d, a, b, |x, y| bin(Bin::Add, x, y)),
                Bin::Sub => map2(d, a, b, |x, y| bin(Bin::Sub, x, y)),
                Bin::Mul => map2(d, a, b, |x, y| bin(Bin::Mul, x, y)),
                Bin::Min => map2(d, a, b, |x, y| bin(Bin::Min, x, y)),
                Bin::Max => map2(d, a, b, |x, y| bin(Bin::Max, x, y)),
                Bin::Sar => map2(d, a, b, |x, y| bin(Bin::Sar, x, y)),
            }
        }
        Ins::Imm(op, _, a, c) => {
            let (a, c) = (r(*a), *c);
            match op {
                Imm::Add => map1(d, a, |x| imm(Imm::Add, x, c)),
                Imm::RSub => map1(d, a, |x| imm(Imm::RSub, x, c)),
                Imm::Mul => map1(d, a, |x| imm(Imm::Mul, x, c)),
                Imm::And => map1(d, a, |x| imm(Imm::And, x, c)),
                Imm::Shl => map1(d, a, |x| imm(Imm::Shl, x, c)),
                Imm::Sar => map1(d, a, |x| imm(Imm::Sar, x, c)),
            }
        }
        // Parameters are copied to locals first: read through the
        // instruction, the compiler could not tell them from the lanes it
        // writes and would reload them per lane, unvectorized.
        Ins::Clamp(_, a, lo, hi) => {
            let (lo, hi) = (*lo, *hi);
            map1(d, r(*a), |x| x.max(lo).min(hi))
        }
        Ins::CmpImm(op, _, a, c) => {
            let (a, c) = (r(*a), *c);
            match op {
                Cmp::Lt => map1(d, a, |x| cmp(Cmp::Lt, x, c)),
            }
        }
        Ins::Select(_, m, t, f) => {
            let (m, t, f) = (r(*m), r(*t), r(*f));
            for (((d, &m), &t), &f) in d.iter_mut().zip(m).zip(t).zip(f) {
                *d = select(m, t, f);
            }
        }
        Ins::Clz(_, a) => map1(d, r(*a), |x| i64::from(x.leading_zeros())),
        Ins::Gather(_, a, table) => {
            if table.is_empty() {
                d.fill(0);
            } else {
                // SAFETY: the caller's contract; the table is not empty.
                unsafe { G::gather(table, r(*a), d) }
            }
        }
        Ins::Unit(_, a, b, unit) => {
            let a = r(*a);
            match b {
                Some(b) => map2(d, a, r(*b), |x, y| unit.eval(x, y)),
                None => map1(d, a, |x| unit.eval(x, 0)),
            }
        }
        Ins::Const(_, c) => d.fill(*c),
        // SAFETY (both): the caller's contract.
        Ins::Exp2(_, a, e) => unsafe { exp2::<G>(e, r(*a), d) },
        Ins::Log2(_, a, l) => unsafe { log2::<G>(l, r(*a), d) },
        Ins::Float(op, f32, _, a, b) => {
            let (a, b) = (r(*a), r(*b));
            match (op, f32) {
                (Bin::Add, true) => map2(d, a, b, |x, y| float(Bin::Add, true, x, y)),
                (Bin::Sub, true) => map2(d, a, b, |x, y| float(Bin::Sub, true, x, y)),
                (Bin::Mul, true) => map2(d, a, b, |x, y| float(Bin::Mul, true, x, y)),
                (Bin::Add, false) => map2(d, a, b, |x, y| float(Bin::Add, false, x, y)),
                (Bin::Sub, false) => map2(d, a, b, |x, y| float(Bin::Sub, false, x, y)),
                (Bin::Mul, false) => map2(d, a, b, |x, y| float(Bin::Mul, false, x, y)),
                _ => map2(d, a, b, |x, y| float(*op, *f32, x, y)),
            }
        }
        Ins::Quantize(_, a, q) => {
            let q = Quantize::clone(q);
            map1(d, r(*a), |x| quantize(x, &q))
        }
    }
}
