//! Bad input gives errors, never a panic: hand-written nasty inputs, a
//! small deterministic mutation fuzzer, deep nesting at the limit, and the
//! parse-speed measurement (ignored; run it in release).

use super::*;
use std::panic::{catch_unwind, AssertUnwindSafe};

/// Parses `text`, failing the test (with the input) if the parser panics.
fn parse_without_panic(text: &str) -> Result<Module, Vec<Diagnostic>> {
    let ctx = context();
    match catch_unwind(AssertUnwindSafe(|| parse_str(&ctx, "fuzz.weft", text).1)) {
        Ok(result) => result,
        Err(_) => panic!("the parser panicked on:\n{text:?}"),
    }
}

fn assert_rejected(text: &str) {
    let errors = parse_without_panic(text).expect_err(text);
    assert!(!errors.is_empty());
    for d in &errors {
        assert!(!d.span.is_none(), "unlocated error {d} for {text:?}");
        assert!(d.span.start <= d.span.end && d.span.end as usize <= text.len(), "span out of the text: {d}");
    }
}

#[test]
fn nasty_inputs_are_rejected() {
    let deep_array = format!("func @f() {{ test.attrs {{a = {}", "[".repeat(100_000));
    let deep_dense =
        format!("func @f() {{ %0 = constant dense<{}1{}> : tensor<1xf32> }}", "[".repeat(5000), "]".repeat(5000));
    let deep_regions = "func @f() { \"test.loop\"() ({ ^bb0(): ".repeat(2000);
    let cases: Vec<String> = vec![
        deep_array,
        deep_dense,
        deep_regions,
        "module { func @f() { %0 = test.attrs {i = 123456789012345678901234567890} : () -> () } }".into(),
        "\"".into(),
        "func @f() { test.attrs {s = \"} : () -> () }".into(),
        "\0".into(),
        "module {\0}".into(),
        "func @f(%a: tensor<99999999999999999999xf32>) {}".into(),
        "func @f(%a: tensor<".into(),
        "func @f() { %0 = constant dense_resource<".into(),
        "func @f() { %0 = constant dense_resource<\"".into(),
        "@\"".into(),
        "%".into(),
        "^".into(),
        "!".into(),
        "-".into(),
        "0x".into(),
        "1e".into(),
        "\"\\".into(),
        "\"\\F".into(),
        "func @f() { return loc(fused[]) }".into(),
        "func @f() { %0:4294967295 = test.attrs : tensor<4xf32> }".into(),
        "func @f() { %0:99999999999 = test.attrs : tensor<4xf32> }".into(),
        "func @f() { %0:65537 = test.attrs : tensor<4xf32> }".into(),
        "func @f() { %0:65537 = constant dense<1.0> : tensor<4xf32> }".into(),
        "func @f(%a: tensor<4xf32>) { %0 = nn.relu %a#4294967295 : tensor<4xf32> }".into(),
        "func @f() { %0 = constant dense<1.0> : tensor<9223372036854775807x2xf32> }".into(),
        "func @f() { %0 = constant dense<[]> : tensor<3037000500x3037000500xf32> }".into(),
        "module { } loc(".into(),
        "func @f() -> ( { }".into(),
        "}}}}))))]]]]>>>>".into(),
        "module module module".into(),
        "tensor<4xf32>".into(),
    ];
    for text in &cases {
        assert_rejected(text);
    }
}

#[test]
fn nesting_up_to_the_limit_parses() {
    // Each region level opens `(` and `{`; stay just under the limit.
    let levels = crate::parser::lexer::MAX_NESTING / 2 - 2;
    let mut text = String::from("func @f() {\n");
    for _ in 0..levels {
        text.push_str("\"test.loop\"() ({\n^bb0():\n");
    }
    text.push_str("test.yield : () -> ()\n");
    for _ in 0..levels {
        text.push_str("}) : () -> ()\n");
    }
    text.push_str("return\n}\n");
    let m = parse_ok(&text);
    assert_eq!(m.num_ops(), levels + 2);
    let array =
        format!("func @f() {{\ntest.attrs {{a = {}1{}}} : () -> ()\nreturn\n}}", "[".repeat(250), "]".repeat(250));
    parse_ok(&array);
}

/// A xorshift generator: deterministic, so a failure reproduces.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

const SEED_TEXT: &str = r#"module @m attributes {v = 1} {
  func @f(%arg0: tensor<2x[n]xf32>, %arg1: tensor<2xf32>) -> (tensor<2xf32>, tensor<2xi8>) {
    %0 = constant dense<[[1.0, 2.0], [3.0, 4.0]]> : tensor<2x2xf32>
    %1 = constant dense<[-1, 7]> : tensor<2x!quant.int<w=4, signed, axis=0, scales=[0.5, 0.25], zps=[0, 1]>>
    %2 = constant dense_resource<"w 0"> : tensor<2xi8> loc(fused["a", "f.onnx":1:2])
    %3:2 = test.split %arg1 : (tensor<2xf32>) -> (tensor<1xf32>, tensor<1xf32>)
    %4 = "test.loop"(%arg1, %3#1) ({
    ^bb0(%arg2: tensor<2xf32>, %arg3: tensor<1xf32>):
      %5 = nn.add %arg2, %arg2 {s = "x\n\01"} : tensor<2xf32>
      test.yield %5 : tensor<2xf32>
    }) : (tensor<2xf32>, tensor<1xf32>) -> tensor<2xf32>
    return %4, %2 : tensor<2xf32>, tensor<2xi8>
  }
}
"#;

/// Characters that change the structure most when inserted.
const INTERESTING: &[char] = &[
    '<', '>', '[', ']', '{', '}', '(', ')', '%', '#', ':', ',', '=', '"', '\\', 'x', '0', '9', '-', '.', '!', '@', '^',
    '?', 'e', ' ', '\n', '\0', 'é',
];

fn mutate(rng: &mut Rng, chars: &mut Vec<char>) {
    let at = rng.below(chars.len() + 1);
    match rng.below(4) {
        0 if at < chars.len() => {
            let len = 1 + rng.below(8).min(chars.len() - at - 1);
            chars.drain(at..at + len);
        }
        1 => chars.insert(at, INTERESTING[rng.below(INTERESTING.len())]),
        2 if at < chars.len() => chars[at] = INTERESTING[rng.below(INTERESTING.len())],
        _ => {
            let from = rng.below(chars.len());
            let len = rng.below(16).min(chars.len() - from);
            let piece: Vec<char> = chars[from..from + len].to_vec();
            chars.splice(at..at, piece);
        }
    }
}

#[test]
fn mutated_modules_never_panic() {
    parse_ok(SEED_TEXT);
    // WEFT_FUZZ_ITERATIONS runs longer (e.g. 1000000 in release).
    let iterations = std::env::var("WEFT_FUZZ_ITERATIONS").ok().and_then(|v| v.parse().ok()).unwrap_or(3000);
    let mut rng = Rng(0x5eed_1234_abcd_ef01);
    for _ in 0..iterations {
        let mut chars: Vec<char> = SEED_TEXT.chars().collect();
        for _ in 0..1 + rng.below(3) {
            mutate(&mut rng, &mut chars);
        }
        let text: String = chars.into_iter().collect();
        if let Err(errors) = parse_without_panic(&text) {
            for d in &errors {
                assert!(d.span.end as usize <= text.len(), "span past the end: {d} in {text:?}");
            }
        }
    }
}

/// A function of `n` short-form ops: constants, adds and muls.
fn generated_module(n: usize) -> String {
    let mut text = String::with_capacity(n * 48);
    text.push_str("module {\n  func @main(%arg0: tensor<4xf32>) -> tensor<4xf32> {\n");
    text.push_str("    %0 = constant dense<[1.0, 2.0, 3.0, 4.0]> : tensor<4xf32>\n");
    for i in 1..n {
        let line = match i % 3 {
            0 => format!("    %{i} = constant dense<{}.5> : tensor<4xf32>\n", i % 100),
            1 => format!("    %{i} = nn.add %{}, %arg0 : tensor<4xf32>\n", i - 1),
            _ => format!("    %{i} = nn.mul %{}, %{} : tensor<4xf32>\n", i - 1, i - 2),
        };
        text.push_str(&line);
    }
    text.push_str(&format!("    return %{} : tensor<4xf32>\n  }}\n}}\n", n - 1));
    text
}

/// Run with `cargo test -p weft-ir --release parse_speed -- --ignored --nocapture`.
#[test]
#[ignore = "a measurement; run in release"]
fn parse_speed() {
    const OPS: usize = 200_000;
    let text = generated_module(OPS);
    let ctx = Context::default();
    let mut best = f64::INFINITY;
    for _ in 0..5 {
        let start = std::time::Instant::now();
        let (_, result) = parse_str(&ctx, "bench.weft", &text);
        let elapsed = start.elapsed().as_secs_f64();
        assert_eq!(result.expect("generated module parses").num_ops(), OPS + 1);
        best = best.min(elapsed);
    }
    let rate = (OPS + 1) as f64 / best;
    println!("parsed {} ops ({} MB) in {:.1} ms: {:.0} ops/s", OPS + 1, text.len() / 1_000_000, best * 1e3, rate);
    assert_eq!(print_module(&parse_ok(&text)), text);
}
