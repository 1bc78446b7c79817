//! The runtime against the reference fma chain, bit for bit, on every
//! kernel family the host runs: odd sizes around the microkernel tiles,
//! k and n across the cache blocks, row strides, k = 0, packed and
//! row-major `B`, and the interpreter's `nn.matmul` itself.

use super::driver::{KC, NC};
use super::*;
use weft_ir::{ElemType, Tensor, TensorData};

/// Deterministic values in [-scale, scale) (xorshift), rounded to `T`.
fn noise<T: Element + From<f32>>(n: usize, seed: u64) -> Vec<T> {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            T::from(((s >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0) * 3.0)
        })
        .collect()
}

/// The reference semantics: one fma chain per element, k ascending.
fn reference<T: Element>(d: &GemmDims, a: &[T], b: &[T], c: &mut [T]) {
    for i in 0..d.m {
        for j in 0..d.n {
            let mut acc = T::default();
            for p in 0..d.k {
                acc = a[i * d.lda + p].fma(b[p * d.ldb + j], acc);
            }
            c[i * d.ldc + j] = acc;
        }
    }
}

trait Bits {
    fn bits(self) -> u64;
}

impl Bits for f32 {
    fn bits(self) -> u64 {
        u64::from(self.to_bits())
    }
}

impl Bits for f64 {
    fn bits(self) -> u64 {
        self.to_bits()
    }
}

/// Runs every available family with row-major and packed `B` on one
/// problem and compares all of `C` (strided gaps included) with the
/// reference, bit for bit.
fn check<T: Element + Bits + From<f32>>(d: GemmDims, seed: u64) {
    let a = noise::<T>(span(d.m, d.k, d.lda).unwrap_or(0), seed);
    let b = noise::<T>(span(d.k, d.n, d.ldb).unwrap_or(0), seed + 1);
    // C starts with garbage: every element in the product must be written.
    let garbage = noise::<T>(span(d.m, d.n, d.ldc).unwrap_or(0), seed + 2);
    let mut want = garbage.clone();
    reference(&d, &a, &b, &mut want);
    for isa in Isa::available() {
        let plen = packed_len::<T>(isa, d.k, d.n).unwrap_or(0);
        let mut packed = vec![T::default(); plen];
        pack_b(isa, d.k, d.n, &b, d.ldb, &mut packed).unwrap();
        let mut scratch = vec![T::default(); plen];
        for rhs in [Rhs::RowMajor(&b[..]), Rhs::Packed(&packed[..])] {
            let mut got = garbage.clone();
            gemm(isa, &d, &a, rhs, &mut got, &mut scratch).unwrap();
            let diff = got.iter().zip(&want).position(|(g, w)| g.bits() != w.bits());
            if let Some(at) = diff {
                panic!("{isa} {d:?} {}: element {at}: {:?}, want {:?}", kind(&rhs), got[at], want[at]);
            }
        }
    }
}

fn kind<T>(rhs: &Rhs<'_, T>) -> &'static str {
    match rhs {
        Rhs::RowMajor(_) => "row-major",
        Rhs::Packed(_) => "packed",
    }
}

#[test]
fn every_family_matches_the_fma_chain_on_odd_sizes() {
    let ms = [1, 2, 5, 8, 9, 15, 17, 33, 70];
    let ns = [1, 7, 8, 16, 17, 31, 32, 33, 65, 70];
    let ks = [0, 1, 3, 16, 70];
    let mut seed = 1;
    for &m in &ms {
        for &n in &ns {
            for &k in &ks {
                check::<f32>(GemmDims::dense(m, n, k), seed);
                seed += 3;
            }
        }
    }
    for &m in &[1, 5, 8, 9, 17] {
        for &n in &[1, 7, 8, 16, 17, 33] {
            for &k in &[0, 1, 16, 70] {
                check::<f64>(GemmDims::dense(m, n, k), seed);
                seed += 3;
            }
        }
    }
}

#[test]
fn k_and_n_blocks_keep_the_order() {
    // k crosses two block boundaries, n crosses a column block with a
    // partial last panel.
    let (k, n) = (2 * KC + 37, NC + 45);
    check::<f32>(GemmDims::dense(11, n, k), 100);
    check::<f64>(GemmDims::dense(6, 19, KC + 3), 101);
}

#[test]
fn row_strides_leave_the_gaps_alone() {
    let d = GemmDims { m: 13, n: 21, k: 19, lda: 24, ldb: 40, ldc: 29 };
    check::<f32>(d, 200);
    check::<f64>(d, 201);
    // k = 0 writes +0.0 over the garbage, and only inside the rows.
    check::<f32>(GemmDims { m: 3, n: 5, k: 0, lda: 2, ldb: 7, ldc: 6 }, 202);
}

#[test]
fn short_slices_are_errors() {
    let d = GemmDims::dense(4, 4, 4);
    let (a, b) = (vec![1f32; 16], vec![1f32; 16]);
    let mut c = vec![0f32; 15];
    let e = gemm(Isa::Portable, &d, &a, Rhs::RowMajor(&b), &mut c, &mut [0f32; 64]).unwrap_err();
    assert_eq!(e, "C holds 15 elements, 16 needed");
    let mut c = vec![0f32; 16];
    let e = gemm(Isa::Portable, &d, &a, Rhs::RowMajor(&b), &mut c, &mut []).unwrap_err();
    assert_eq!(e, "the scratch holds 0 elements, 32 needed");
    let e = gemm(Isa::Portable, &d, &a[..3], Rhs::Packed(&b), &mut c, &mut []).unwrap_err();
    assert_eq!(e, "A holds 3 elements, 16 needed");
    let bad = GemmDims { lda: 3, ..d };
    assert!(gemm(Isa::Portable, &bad, &a, Rhs::RowMajor(&b), &mut c, &mut []).is_err());
}

#[test]
fn packing_pads_the_last_panel_with_zeros() {
    let b: Vec<f32> = (0..6).map(|x| x as f32).collect(); // 2 x 3
    let mut out = vec![-1f32; packed_len::<f32>(Isa::Portable, 2, 3).unwrap()];
    pack_b(Isa::Portable, 2, 3, &b, 3, &mut out).unwrap();
    assert_eq!(out, [0., 1., 2., 0., 0., 0., 0., 0., 3., 4., 5., 0., 0., 0., 0., 0.]);
}

#[test]
fn the_interpreter_computes_the_same_bits() {
    let (m, n, k) = (19, 37, 45);
    let a = noise::<f32>(2 * m * k, 300);
    let b = noise::<f32>(k * n, 301);
    let t = |shape: &[u64], v: &[f32]| Tensor {
        elem: ElemType::F32,
        shape: shape.to_vec(),
        data: TensorData::F32(v.to_vec()),
    };
    let want = weft_ir::ops::eval::matmul(&t(&[2, m as u64, k as u64], &a), &t(&[k as u64, n as u64], &b)).unwrap();
    let TensorData::F32(want) = want.data else { panic!("not f32") };
    for isa in Isa::available() {
        let mut c = vec![0f32; 2 * m * n];
        let mut scratch = vec![0f32; packed_len::<f32>(isa, k, n).unwrap()];
        for (a, c) in a.chunks_exact(m * k).zip(c.chunks_exact_mut(m * n)) {
            gemm(isa, &GemmDims::dense(m, n, k), a, Rhs::RowMajor(&b), c, &mut scratch).unwrap();
        }
        let same = c.iter().zip(&want).all(|(x, y)| x.to_bits() == y.to_bits());
        assert!(same, "{isa} differs from the interpreter");
    }
}

#[test]
fn the_host_runs_its_own_family() {
    assert!(Isa::host().runs_here());
    assert_eq!(Isa::available().last(), Some(&Isa::Portable));
    for isa in Isa::available() {
        assert_eq!(Isa::from_code(isa.code()), Some(isa));
    }
}
