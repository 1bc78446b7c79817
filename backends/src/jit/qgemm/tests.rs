use super::*;

/// A deterministic pseudo-random sequence (xorshift).
pub(super) fn noise(seed: u64) -> impl FnMut() -> u64 {
    let mut stream = crate::test_rng::xorshift(seed);
    move || stream.next().unwrap_or(0)
}

/// `m x k` activations and `k x n` weights, random or at the extremes.
fn operands(m: usize, k: usize, n: usize, seed: u64, extreme: bool) -> (Vec<u8>, Vec<i8>) {
    let mut r = noise(seed);
    let mut a = vec![0u8; m * padded_k(k)];
    for i in 0..m {
        for p in 0..k {
            a[i * padded_k(k) + p] = if extreme { 255 } else { r() as u8 };
        }
    }
    let b = (0..k * n).map(|i| if extreme { [-128i8, 127][i % 2] } else { r() as i8 }).collect();
    (a, b)
}

fn reference(a: &[u8], b: &[i8], m: usize, k: usize, n: usize) -> Vec<i32> {
    let mut c = vec![0i32; m * n];
    for i in 0..m {
        for j in 0..n {
            c[i * n + j] = (0..k).map(|p| i32::from(a[i * padded_k(k) + p]) * i32::from(b[p * n + j])).sum();
        }
    }
    c
}

#[test]
fn every_family_is_exact_on_odd_shapes_and_extreme_values() {
    let shapes = [(1, 1, 1), (7, 13, 5), (6, 4, 64), (13, 37, 65), (3, 129, 130), (128, 32, 128), (5, 384, 17)];
    let mut checked = 0;
    for isa in QIsa::available() {
        for (t, &(m, k, n)) in shapes.iter().enumerate() {
            for extreme in [false, true] {
                let (a, b) = operands(m, k, n, t as u64 * 7 + 3, extreme);
                let packed = pack_b(isa, k, n, |p, j| b[p * n + j]);
                let mut c = vec![0i32; m * n];
                gemm_u8i8(&a, padded_k(k), m, &packed, &mut c).unwrap();
                assert_eq!(c, reference(&a, &b, m, k, n), "{isa:?} {m}x{k}x{n} extreme={extreme}");
                let sums: Vec<i64> = (0..n).map(|j| (0..k).map(|p| i64::from(b[p * n + j])).sum()).collect();
                assert_eq!(packed.colsum, sums);
                checked += 1;
            }
        }
    }
    assert!(checked >= 14);
}

#[test]
fn the_largest_exact_k_does_not_overflow() {
    let k = MAX_K;
    for isa in QIsa::available() {
        let a = vec![255u8; padded_k(k)];
        let packed = pack_b(isa, k, 3, |_, j| [-128i8, 127, 1][j]);
        let mut c = vec![0i32; 3];
        gemm_u8i8(&a, padded_k(k), 1, &packed, &mut c).unwrap();
        let want = [-128i64, 127, 1].map(|w| (255 * w * k as i64) as i32);
        assert_eq!(c, want, "{isa:?}");
        assert!(gemm_u8i8(&a, padded_k(k) - 4, 1, &packed, &mut c).is_err(), "a short row is rejected");
    }
}

#[test]
fn repacking_bytes_equals_packing_values() {
    for isa in QIsa::available() {
        let mut into = PackedB::empty(isa);
        for (t, &(k, n, off)) in
            [(1, 1, 0u8), (7, 65, 128), (32, 128, 0), (128, 32, 128), (5, 3, 7), (10, 130, 128), (6, 100, 1)]
                .iter()
                .enumerate()
        {
            let mut r = noise(t as u64 + 11);
            let src: Vec<u8> = (0..k * n).map(|_| r() as u8).collect();
            into.repack_bytes(k, n, &src, off).unwrap();
            let want = pack_b(isa, k, n, |p, j| src[p * n + j].wrapping_sub(off) as i8);
            assert_eq!(into, want, "{isa:?} {k}x{n} off {off}");
        }
        assert!(into.repack_bytes(4, 4, &[0; 15], 0).is_err(), "a short operand is rejected");
    }
}

#[test]
fn blocks_cover_every_element_once() {
    for isa in QIsa::available() {
        for &(m, k, n) in &[(13, 9, 130), (6, 4, 64), (1, 1, 1), (7, 33, 17)] {
            let (a, b) = operands(m, k, n, 5, false);
            let packed = pack_b(isa, k, n, |p, j| b[p * n + j]);
            let mut seen = vec![0u32; m * n];
            gemm_blocks(&a, padded_k(k), m, &packed, &mut |blk: Block| {
                assert!(blk.width <= blk.stride && blk.stride.is_multiple_of(8));
                for r in 0..blk.rows {
                    for c in 0..blk.stride {
                        if c < blk.width {
                            seen[(blk.i0 + r) * n + blk.j0 + c] += 1;
                        } else {
                            assert_eq!(blk.acc[r * blk.stride + c], 0, "padding columns are zero");
                        }
                    }
                }
            })
            .unwrap();
            assert!(seen.iter().all(|&s| s == 1), "{isa:?} {m}x{k}x{n}");
        }
    }
}
