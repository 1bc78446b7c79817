//! Throughput of the JIT's matmul runtime on the shapes of a Transformer
//! layer (MiniLM / BERT-small at sequence length 128, DeiT-tiny at 197
//! tokens) in f32, and of a DeiT-tiny patch embedding as the f64 product
//! the JIT runs convolutions as, per kernel family the host runs, single
//! thread:
//!
//!     cargo run --release -p weft-backends --example gemm_bench [-- RUNS]
//!
//! For each shape: the median of RUNS (default 50) timed products after a
//! warm-up, with `B` packed beforehand (a weight) and per call (an
//! activation), in GFLOP/s (2*m*n*k per product).

use std::time::Instant;
use weft_backends::jit::gemm::{gemm, pack_b, packed_len, Element, GemmDims, Isa, Rhs};

#[path = "bench_common/mod.rs"]
mod bench_common;
use bench_common::{median, MINILM_SHAPES};

/// DeiT-tiny's products that MiniLM's do not cover, after them.
const DEIT_SHAPES: &[(&str, usize, usize, usize)] =
    &[("deit ffn up 197x192x768", 197, 768, 192), ("deit scores 197x64x197", 197, 197, 64)];

const F64_SHAPES: &[(&str, usize, usize, usize)] = &[("patch embed f64 196x768x192", 196, 192, 768)];

fn values<T: Element + From<f32>>(n: usize, seed: u32) -> Vec<T> {
    let at = |i: usize| ((i as u32).wrapping_mul(2_654_435_761).wrapping_add(seed) >> 8) as f32 / (1 << 24) as f32;
    (0..n).map(|i| T::from(at(i) - 0.5)).collect()
}

/// GFLOP/s of one shape with `B` packed beforehand and packed per call.
fn rates<T: Element + From<f32>>(isa: Isa, (m, n, k): (usize, usize, usize), runs: usize) -> Result<[f64; 2], String> {
    let dims = GemmDims::dense(m, n, k);
    let (a, b) = (values::<T>(m * k, 1), values::<T>(k * n, 2));
    let plen = packed_len::<T>(isa, k, n).ok_or("too large")?;
    let mut packed = vec![T::default(); plen];
    pack_b(isa, k, n, &b, n, &mut packed)?;
    let mut scratch = vec![T::default(); plen];
    let mut c = vec![T::default(); m * n];
    let mut rates = [0.0; 2];
    for (slot, is_packed) in [true, false].into_iter().enumerate() {
        let mut times = Vec::with_capacity(runs);
        for run in 0..=runs {
            let rhs = if is_packed { Rhs::Packed(&packed[..]) } else { Rhs::RowMajor(&b[..]) };
            let t = Instant::now();
            gemm(isa, &dims, &a, rhs, &mut c, &mut scratch)?;
            if run > 0 {
                times.push(t.elapsed().as_secs_f64());
            }
        }
        rates[slot] = 2.0 * (m * n * k) as f64 / median(times) / 1e9;
    }
    Ok(rates)
}

fn main() -> Result<(), String> {
    let runs: usize = std::env::args().nth(1).and_then(|s| s.parse().ok()).unwrap_or(50);
    for isa in Isa::available() {
        println!("{isa}:");
        for &(name, m, n, k) in MINILM_SHAPES.iter().chain(DEIT_SHAPES) {
            let [packed, per_call] = rates::<f32>(isa, (m, n, k), runs)?;
            println!("  {name:<28} {packed:7.1} GFLOP/s packed, {per_call:7.1} packing per call");
        }
        for &(name, m, n, k) in F64_SHAPES {
            let [packed, per_call] = rates::<f64>(isa, (m, n, k), runs)?;
            println!("  {name:<28} {packed:7.1} GFLOP/s packed, {per_call:7.1} packing per call");
        }
    }
    Ok(())
}
