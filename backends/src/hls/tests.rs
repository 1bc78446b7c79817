//! The generated project under engine parameters tile-and-pack would not
//! pick by default: a small quantized program with 6-bit activations
//! (fields that straddle the 64-bit lanes of a 128-bit word), 4-bit and
//! binary weights, dimensions the tiles do not divide, and QK^T-style
//! attention; `make csim` (g++ -Wall -Wextra) must print PASS, without a
//! warning, against the reference interpreter's bits. The pack/unpack
//! helpers of weft_pack.h are checked on their own by a C++ driver over
//! every width and word size.

use super::*;
use std::path::{Path, PathBuf};
use std::process::Command;
use weft_ir::interp::run_function;
use weft_ir::parser::parse_str;
use weft_ir::{Context, ElemType, TensorData};

const A6: &str = "!quant.int<w=6, unsigned, scale=0.0625, zp=31>";
const R6: &str = "!quant.int<w=6, unsigned, scale=0.25, zp=31>";
const W4: &str = "!quant.int<w=4, signed, scale=0.125, zp=1>";
const ACC1: &str = "!quant.int<w=32, signed, scale=0.0078125, zp=0>";
const BIN: &str = "!quant.bin<axis=1, scales=[0.5, 0.25, 0.125]>";
const ACC2: &str = "!quant.int<w=32, signed, axis=2, scales=[0.125, 0.0625, 0.03125], zps=[0, 0, 0]>";
const ACC3: &str = "!quant.int<w=32, signed, scale=0.0625, zp=0>";
const S9: &str = "!quant.int<w=9, signed, scale=0.5, zp=0>";

/// Deterministic integers in `lo..=hi`.
fn ints(n: usize, seed: u64, lo: i64, hi: i64) -> Vec<i64> {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            lo + (s % (hi - lo + 1) as u64) as i64
        })
        .collect()
}

fn rows(v: &[i64], cols: usize) -> String {
    let r: Vec<String> =
        v.chunks(cols).map(|c| format!("[{}]", c.iter().map(i64::to_string).collect::<Vec<_>>().join(", "))).collect();
    format!("[{}]", r.join(", "))
}

fn program() -> String {
    let w = rows(&ints(77, 1, -8, 7), 11);
    let bias = format!("[{}]", ints(11, 2, -300, 300).iter().map(i64::to_string).collect::<Vec<_>>().join(", "));
    let bin = rows(&ints(33, 3, 0, 1), 3);
    format!(
        "func @main(%x: tensor<1x5x7xf32>) -> (tensor<1x5x5xf32>, tensor<1x5x3x{ACC2}>) {{
  %a = quant.quantize %x : (tensor<1x5x7xf32>) -> tensor<1x5x7x{A6}>
  %w = constant dense<{w}> : tensor<7x11x{W4}>
  %b = constant dense<{bias}> : tensor<11x{ACC1}>
  %acc = quant.qmatmul %a, %w, %b : (tensor<1x5x7x{A6}>, tensor<7x11x{W4}>, tensor<11x{ACC1}>) -> tensor<1x5x11x{ACC1}>
  %r = quant.requantize %acc : (tensor<1x5x11x{ACC1}>) -> tensor<1x5x11x{R6}>
  %rt = \"nn.transpose\"(%r) {{perm = [0, 2, 1]}} : (tensor<1x5x11x{R6}>) -> tensor<1x11x5x{R6}>
  %s = quant.qmatmul %r, %rt : (tensor<1x5x11x{R6}>, tensor<1x11x5x{R6}>) -> tensor<1x5x5x{ACC3}>
  %q = quant.requantize %s : (tensor<1x5x5x{ACC3}>) -> tensor<1x5x5x{S9}>
  %y = quant.dequantize %q : (tensor<1x5x5x{S9}>) -> tensor<1x5x5xf32>
  %wb = constant dense<{bin}> : tensor<11x3x{BIN}>
  %z = quant.qmatmul %r, %wb : (tensor<1x5x11x{R6}>, tensor<11x3x{BIN}>) -> tensor<1x5x3x{ACC2}>
  return %y, %z : tensor<1x5x5xf32>, tensor<1x5x3x{ACC2}>
}}"
    )
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("weft-hls-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// Runs `make csim` in `dir`; the combined output.
fn make_csim(dir: &Path) -> String {
    let out = Command::new("make")
        .arg("-C")
        .arg(dir)
        .arg("csim")
        .output()
        .expect("make and g++ are needed for the HLS C simulation (.ci/run installs them)");
    let log = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "make csim failed:\n{log}");
    log
}

fn generate_with(tiling: Tiling) -> Project {
    let (sources, m) = parse_str(&Context::default(), "tiling.weft", &program());
    let module = match m {
        Ok(m) => m,
        Err(d) => panic!("{}", weft_ir::diag::render_all(&d, &sources)),
    };
    let func = &module.funcs[0];
    let x: Vec<f32> = ints(35, 4, -40, 40).iter().map(|&v| v as f32 * 0.05).collect();
    let inputs = vec![Tensor { elem: ElemType::F32, shape: vec![1, 5, 7], data: TensorData::F32(x) }];
    let outputs = run_function(&module, func, inputs.clone()).expect("the interpreter runs the program");
    let opts = HlsOptions {
        name: "tiling".into(),
        board: "zcu102".into(),
        part: "xczu9eg-ffvb1156-2-e".into(),
        clock_ns: 3.333,
        tiling,
        description: "unit test".into(),
    };
    generate(&module, func, &Golden { inputs, outputs }, &opts).expect("the backend translates the program")
}

fn file<'p>(p: &'p Project, name: &str) -> &'p str {
    let bytes = p.files.iter().find(|(n, _)| n == name).map(|(_, b)| b.as_slice()).unwrap_or_default();
    std::str::from_utf8(bytes).unwrap_or_default()
}

fn simulate(p: &Project, name: &str) {
    let dir = scratch(name);
    write_project(&dir, p, false).expect("the project is written");
    let log = make_csim(&dir);
    assert!(log.lines().any(|l| l.trim() == "PASS"), "{name}: no PASS:\n{log}");
    assert!(!log.contains("warning"), "{name}: g++ warned:\n{log}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn odd_tiles_and_straddling_fields_simulate_bit_exactly() {
    let tiling = Tiling {
        fc: FcTiling { t_in: 3, t_out: 4, t_m: 2 },
        attn: AttnTiling { t_in: 2, t_out: 3 },
        lanes: 2,
        word_bits: 128,
    };
    let p = generate_with(tiling);
    let k = file(&p, "kernel.cpp");
    // FC: K <= 11 in blocks of 3 (4 blocks), 2 rows, 4 columns; the
    // centred 6-bit activations need 7 bits, the centred 4-bit weights 5.
    assert!(k.contains("static fc_act_t a_tile[2][4][3];"), "{k}");
    assert!(k.contains("static fc_wt_t w_tile[4][3][4];"), "{k}");
    assert!(k.contains("typedef ap_int<7> fc_act_t;") && k.contains("typedef ap_int<5> fc_wt_t;"), "{k}");
    // Accumulators: 7 * 32 * 9 plus a 32-bit bias needs 33 bits; the
    // attention's 11 * 32 * 32 needs 15.
    assert!(k.contains("typedef ap_int<33> fc_acc_t;") && k.contains("typedef ap_int<15> attn_acc_t;"), "{k}");
    // Attention: all 5 rows of K = 11 (6 blocks of 2) on chip, 3 columns per tile.
    assert!(k.contains("static attn_a_t a_buf[5][6][2];") && k.contains("static attn_b_t b_tile[6][2][3];"), "{k}");
    assert!(k.contains("WEFT_PRAGMA(HLS ARRAY_PARTITION variable=w_tile complete dim=3)"), "{k}");
    // 6-bit activations: 21 to a 128-bit word; the requantize loop reads and writes them packed.
    assert!(k.contains(", 6, 21, "), "{k}");
    assert!(file(&p, "kernel.h").contains("#define WEFT_WORD_BITS 128"));
    assert!(file(&p, "README.md").contains("| fc `t_in` | 3 |"), "{}", file(&p, "README.md"));
    simulate(&p, "odd-tiles");
}

#[test]
fn scalar_engines_with_wide_words_simulate_bit_exactly() {
    let tiling = Tiling {
        fc: FcTiling { t_in: 1, t_out: 1, t_m: 1 },
        attn: AttnTiling { t_in: 1, t_out: 1 },
        lanes: 1,
        word_bits: 512,
    };
    let p = generate_with(tiling);
    assert!(file(&p, "kernel.cpp").contains("static fc_act_t a_tile[1][11][1];"));
    simulate(&p, "scalar-engines");
}

#[test]
fn regions_of_dead_values_are_reused() {
    let p = generate_with(Tiling::default());
    // %a (5x7 a6) dies at the first qmatmul and %acc (5x11 i32) at the
    // requantize: the attention's accumulators reuse their words.
    let s = &p.summary;
    let line = s.lines().find(|l| l.starts_with("weights.bin")).unwrap_or_default();
    let words: Vec<u64> = line.split_whitespace().filter_map(|w| w.trim_start_matches('(').parse().ok()).collect();
    // [weight words, act_i words, act_i words without reuse, ...]
    assert!(words.len() >= 3, "{line}");
    assert!(words[1] < words[2], "no reuse: {line}");
}

#[test]
fn pack_helpers_round_trip_every_width() {
    let dir = scratch("pack");
    std::fs::create_dir_all(&dir).expect("scratch directory");
    std::fs::write(dir.join("weft_pack.h"), include_str!("cpp/weft_pack.h")).expect("header");
    std::fs::write(dir.join("t.cpp"), PACK_DRIVER).expect("driver");
    for w in [64, 128, 512] {
        let bin = dir.join(format!("t{w}"));
        let out = Command::new("g++")
            .args(["-std=c++17", "-O2", "-Wall", "-Wextra", &format!("-DWEFT_WORD_BITS={w}"), "-o"])
            .arg(&bin)
            .arg(dir.join("t.cpp"))
            .output()
            .expect("g++ is needed for the HLS tests");
        let log = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success() && !log.contains("warning"), "{w}: {log}");
        let run = Command::new(&bin).output().expect("the driver runs");
        let text = String::from_utf8_lossy(&run.stdout);
        assert!(run.status.success() && text.trim() == "PASS", "{w}-bit words: {text}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Writes pseudo-random values of every width 1..=64 (signed and unsigned)
/// over a few words whose other bits are all ones, and reads them back
/// one by one and as a stream.
const PACK_DRIVER: &str = r#"#include "weft_pack.h"
#include <cstdio>
#include <vector>
int main() {
  uint64_t seed = 0x9e3779b97f4a7c15ull;
  int bad = 0;
  for (int bits = 1; bits <= 64; ++bits) {
    for (int sg = 0; sg < 2; ++sg) {
      const int per = WEFT_WORD_BITS / bits;
      const long long n = 3LL * per + 5;
      std::vector<weft_word> mem((size_t)(n / per + 1));
      for (auto &w : mem) for (auto &l : w.lane) l = ~0ull;
      std::vector<int64_t> want((size_t)n);
      for (long long i = 0; i < n; ++i) {
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        const uint64_t raw = seed & act_mask(bits);
        const bool neg = sg && bits < 64 && ((raw >> (bits - 1)) & 1);
        want[(size_t)i] = neg ? (int64_t)(raw | ~act_mask(bits)) : (int64_t)raw;
        act_put(mem.data(), i, bits, per, want[(size_t)i]);
      }
      act_stream s = act_stream_of(mem.data(), bits, per, sg);
      for (long long i = 0; i < n; ++i) {
        if (act_get(mem.data(), i, bits, per, sg) != want[(size_t)i] || act_stream_get(s, i) != want[(size_t)i]) {
          if (!bad) std::printf("bits %d signed %d element %lld\n", bits, sg, i);
          ++bad;
        }
      }
    }
  }
  std::printf(bad ? "FAIL\n" : "PASS\n");
  return bad != 0;
}
"#;
