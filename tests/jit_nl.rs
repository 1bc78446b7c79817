//! Lowered nonlinear programs on the JIT: each quant nonlinear op (softmax,
//! GELU, layer norm, sigmoid, SiLU, tanh, exp, reciprocal, sqrt, rsqrt),
//! lowered by `lower-nonlinear` with each method (quark, ibert, lut) at 6,
//! 8 and 12 bits, runs through the interpreter and the JIT on seeded
//! random stored integers over the input's whole range; the results must
//! be bit-identical (spec/jit.md, nl coverage).

use weft_ir::interp::run_function;
use weft_ir::{ElemType, Module, SourceMap, Tensor, TensorData};
use weft_passes::PassRegistry;
use weft_testsuite::opt::{run_opt_in, OptArgs, OptSession};
use weft_testsuite::test_dialect::test_context;

/// The program of one quant op on `w`-bit activations.
fn program(op: &str, w: u8) -> String {
    let x = |signed: &str, scale: f64| format!("tensor<4x32x!quant.int<w={w}, {signed}, scale={scale}, zp=0>>");
    let (input, result) = match op {
        "softmax" => (x("signed", 0.0625), x("unsigned", 1.0 / ((1u32 << w) - 1) as f64)),
        "sigmoid" => (x("signed", 0.125), x("unsigned", 1.0 / ((1u32 << w) - 1) as f64)),
        "exp" => (x("signed", 0.03125), x("unsigned", 0.0625)),
        "sqrt" | "rsqrt" => (x("unsigned", 0.0625), x("unsigned", 0.015625)),
        _ => (x("signed", 0.03125), x("signed", 0.0625)),
    };
    let body = match op {
        "softmax" => format!("  %0 = quant.softmax %x {{axis = -1}} : ({input}) -> {result}\n"),
        "layer_norm" => format!(
            "  %g = constant dense<0.75> : tensor<32xf32>\n  %b = constant dense<0.125> : tensor<32xf32>\n  \
%0 = quant.layer_norm %x, %g, %b {{axis = -1, epsilon = 1.0e-5}} : ({input}, tensor<32xf32>, tensor<32xf32>) -> {result}\n"
        ),
        _ => format!("  %0 = quant.{op} %x : ({input}) -> {result}\n"),
    };
    format!("func @f(%x: {input}) -> {result} {{\n{body}  return %0 : {result}\n}}\n")
}

/// The lowered module, or `None` when the method does not build the op.
fn lower(text: &str, method: &str) -> Option<Module> {
    let ctx = test_context();
    let registry = PassRegistry::with_builtin_passes();
    let mut sources = SourceMap::new();
    let file = sources.add("nl.weft".to_string(), text.to_string());
    let args = OptArgs::from_words(["--passes", &format!("lower-nonlinear{{method={method}}}")]).ok()?;
    let session = OptSession { ctx: &ctx, registry: &registry, input_path: None };
    run_opt_in(&session, &args, &mut sources, file).module
}

/// Stored integers of the argument's type over its whole range (xorshift).
fn random_input(module: &Module, seed: u64) -> Tensor {
    let t = module.funcs[0].arg_types()[0].as_tensor().cloned().expect("a tensor argument");
    let ElemType::Quant(q) = &t.elem else { panic!("a quantized argument") };
    let (lo, span) = if q.signed { (-(1i64 << (q.width - 1)), 1i64 << q.width) } else { (0, 1i64 << q.width) };
    let mut s = seed | 1;
    let data = (0..128)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            lo + (s % span as u64) as i64
        })
        .collect();
    Tensor { elem: t.elem.clone(), shape: vec![4, 32], data: TensorData::Int(data) }
}

#[test]
fn lowered_nonlinear_programs_are_bit_identical_on_the_jit() {
    let ops = ["softmax", "gelu", "layer_norm", "sigmoid", "silu", "tanh", "exp", "reciprocal", "sqrt", "rsqrt"];
    let mut ran = 0;
    for op in ops {
        for w in [6, 8, 12] {
            for method in ["quark", "ibert", "lut"] {
                let Some(module) = lower(&program(op, w), method) else {
                    // lut: at most 8 bits, no layer norm; every other combination builds.
                    assert!(method == "lut" && (w > 8 || op == "layer_norm"), "{op} {w} bits {method} did not lower");
                    continue;
                };
                let func = &module.funcs[0];
                assert!(func.walk().into_iter().all(|o| !func.ops[o].name().starts_with("quant.")), "{op} not lowered");
                let input = random_input(&module, u64::from(w) * 31 + op.len() as u64);
                let want = run_function(&module, func, vec![input.clone()]).expect("interpreter");
                let compiled = weft_backends::jit::compile(&module, func)
                    .unwrap_or_else(|d| panic!("{op} {w} bits {method}: {}", d.message));
                let got = compiled.run(vec![input]).unwrap_or_else(|d| panic!("{op} {method}: {}", d.message));
                assert_eq!(got, want, "{op} at {w} bits, {method}");
                ran += 1;
            }
        }
    }
    assert!(ran >= 60, "only {ran} lowered programs ran");
}
