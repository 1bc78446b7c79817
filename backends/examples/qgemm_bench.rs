//! Throughput of the JIT's integer GEMM (u8 x s8 -> i32, the product under
//! every 8-bit `quant.qmatmul`) on the shapes of MiniLM-L3 at sequence
//! length 128, next to the f32 GEMM on the same shapes, single thread:
//!
//!     cargo run --release -p weft-backends --example qgemm_bench [-- RUNS]
//!
//! For each shape and integer kernel family the host runs: the median of
//! RUNS (default 50) timed products after a warm-up, with `B` packed
//! beforehand (a weight) and packed per call (an activation: K^T and V of
//! attention), in GOP/s (2*m*n*k per product); then the f32 GEMM's best
//! family with `B` packed beforehand.

use std::time::Instant;
use weft_backends::jit::gemm::{gemm, pack_b as pack_f32, packed_len, GemmDims, Isa, Rhs};
use weft_backends::jit::qgemm::{gemm_u8i8, pack_b, padded_k, PackedB, QIsa};

#[path = "bench_common/mod.rs"]
mod bench_common;
use bench_common::{median, MINILM_SHAPES as SHAPES};

/// The median seconds of `runs` calls of `f` after one warm-up call.
fn time(runs: usize, mut f: impl FnMut() -> Result<(), String>) -> Result<f64, String> {
    f()?;
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        let t = Instant::now();
        f()?;
        times.push(t.elapsed().as_secs_f64());
    }
    Ok(median(times))
}

fn byte(i: usize, seed: usize) -> u8 {
    ((i.wrapping_mul(2_654_435_761).wrapping_add(seed)) >> 7) as u8
}

/// GOP/s of the integer product with `B` packed beforehand and per call.
fn int_rates(isa: QIsa, (m, n, k): (usize, usize, usize), runs: usize) -> Result<[f64; 2], String> {
    let kp = padded_k(k);
    let mut a = vec![0u8; m * kp];
    for i in 0..m {
        for p in 0..k {
            a[i * kp + p] = byte(i * k + p, 1);
        }
    }
    let b: Vec<i8> = (0..k * n).map(|i| byte(i, 2) as i8).collect();
    let packed = pack_b(isa, k, n, |p, j| b[p * n + j]);
    let mut c = vec![0i32; m * n];
    let ops = 2.0 * (m * n * k) as f64;
    let weight = time(runs, || gemm_u8i8(&a, kp, m, &packed, &mut c))?;
    let bytes: Vec<u8> = b.iter().map(|&v| v as u8).collect();
    let mut repacked = PackedB::empty(isa);
    let computed = time(runs, || {
        repacked.repack_bytes(k, n, &bytes, 0)?;
        gemm_u8i8(&a, kp, m, &repacked, &mut c)
    })?;
    Ok([ops / weight / 1e9, ops / computed / 1e9])
}

/// GFLOP/s of the f32 product with `B` packed beforehand.
fn f32_rate(isa: Isa, (m, n, k): (usize, usize, usize), runs: usize) -> Result<f64, String> {
    let dims = GemmDims::dense(m, n, k);
    let value = |i: usize, seed: usize| f32::from(byte(i, seed)) / 256.0 - 0.5;
    let (a, b): (Vec<f32>, Vec<f32>) =
        ((0..m * k).map(|i| value(i, 1)).collect(), (0..k * n).map(|i| value(i, 2)).collect());
    let mut packed = vec![0.0f32; packed_len::<f32>(isa, k, n).ok_or("too large")?];
    pack_f32(isa, k, n, &b, n, &mut packed)?;
    let mut c = vec![0.0f32; m * n];
    let seconds = time(runs, || gemm(isa, &dims, &a, Rhs::Packed(&packed), &mut c, &mut []))?;
    Ok(2.0 * (m * n * k) as f64 / seconds / 1e9)
}

fn main() -> Result<(), String> {
    let runs: usize = std::env::args().nth(1).and_then(|s| s.parse().ok()).unwrap_or(50);
    let fisa = Isa::host();
    for isa in QIsa::available() {
        println!("{isa:?} (f32: {fisa}):");
        for &(name, m, n, k) in SHAPES {
            let [weight, computed] = int_rates(isa, (m, n, k), runs)?;
            let float = f32_rate(fisa, (m, n, k), runs)?;
            println!("  {name:<26} {weight:7.1} GOP/s packed, {computed:7.1} packing per call; f32 {float:7.1}");
        }
    }
    Ok(())
}
