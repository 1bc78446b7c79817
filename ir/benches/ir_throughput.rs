//! Throughput of the text format and the verifier on a generated module of
//! 200,000 ops: parse, verify and print, each timed over several runs; the
//! median is reported as ops/second. Run with
//! `cargo bench -p weft-ir --bench ir_throughput` (release build).
//!
//! The module is a realistic mix: short-form binary ops with broadcasting
//! and two-operand signatures, unary ops, attribute-carrying ops, small
//! inline constants and named locations.

use std::time::{Duration, Instant};

/// The allocator the `weft` binary uses, so the numbers are the binary's.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;
use weft_ir::{parser, printer, verify, Context};

const OPS: usize = 200_000;
const RUNS: usize = 7;

fn generate(n: usize) -> String {
    let mut s = String::with_capacity(n * 90);
    s.push_str("module {\n  func @main(%arg0: tensor<16x64xf32>, %arg1: tensor<64xf32>) -> tensor<16x64xf32> {\n");
    s.push_str("    %0 = nn.add %arg0, %arg0 : tensor<16x64xf32>\n");
    let mut count = 1;
    while count + 1 < n {
        let prev = count - 1;
        let line = match count % 6 {
            5 => format!("    %{count} = constant dense<{}.5> : tensor<16x64xf32>\n", count % 100),
            0 => format!("    %{count} = nn.mul %{prev}, %arg0 : tensor<16x64xf32> loc(\"/layer.{count}/Mul\")\n"),
            1 => format!(
                "    %{count} = nn.add %{prev}, %arg1 : (tensor<16x64xf32>, tensor<64xf32>) -> tensor<16x64xf32>\n"
            ),
            2 => format!("    %{count} = nn.relu %{prev} : tensor<16x64xf32>\n"),
            3 => format!("    %{count} = nn.softmax %{prev} {{axis = -1}} : tensor<16x64xf32>\n"),
            _ => format!("    %{count} = nn.sub %{prev}, %{} : tensor<16x64xf32>\n", prev.saturating_sub(3)),
        };
        s.push_str(&line);
        count += 1;
    }
    s.push_str(&format!("    return %{} : tensor<16x64xf32>\n  }}\n}}\n", count - 1));
    s
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn time<T>(mut f: impl FnMut() -> T) -> (Duration, T) {
    let mut times = Vec::with_capacity(RUNS);
    let mut last = None;
    for _ in 0..RUNS {
        let t = Instant::now();
        let out = f();
        times.push(t.elapsed());
        last = Some(out);
    }
    (median(times), last.expect("RUNS > 0"))
}

fn report(phase: &str, ops: usize, d: Duration, target: Option<f64>) {
    let rate = ops as f64 / d.as_secs_f64();
    let verdict = match target {
        Some(t) if rate >= t => format!("  (meets the target of {t:.0} ops/s)"),
        Some(t) => format!("  (MISSES the target of {t:.0} ops/s)"),
        None => String::new(),
    };
    println!("{phase:<7} median {:>8.2} ms  {:>12.0} ops/s{verdict}", d.as_secs_f64() * 1e3, rate);
}

fn main() {
    let ctx = Context::default();
    let text = generate(OPS);
    let (parse_time, module) = time(|| {
        let (sources, result) = parser::parse_str(&ctx, "bench.weft", &text);
        match result {
            Ok(m) => m,
            Err(diags) => panic!("generated module does not parse:\n{}", weft_ir::diag::render_all(&diags, &sources)),
        }
    });
    let ops = module.num_ops();
    println!("module: {ops} ops, {} bytes of text, median of {RUNS} runs", text.len());
    let (verify_time, ok) = time(|| verify::verify_module(&module).is_ok());
    assert!(ok, "generated module does not verify");
    let (print_time, printed) = time(|| printer::print_module(&module));
    assert!(printed.len() > ops * 10);
    report("parse", ops, parse_time, Some(300_000.0));
    report("verify", ops, verify_time, None);
    report("print", ops, print_time, Some(1_000_000.0));
}
