//! `share-nonlinear` keeps the bits: for programs with softmax, GELU and
//! layer norm at several widths and budgets, the module it writes (nl
//! programs, `hw.unit`, `hw.apply`) gives, on the interpreter and on the
//! JIT, exactly the bits `lower-nonlinear` gives with the methods the
//! pass chose (read back from the `hw.apply` ops), also when it
//! time-multiplexes a kind (an initiation interval above 1) and for the
//! log-domain variant `quark-log`.

use weft_ir::attr::Attribute;
use weft_ir::interp::run_function;
use weft_ir::{ElemType, Module, SourceMap, Tensor, TensorData};
use weft_passes::PassRegistry;
use weft_testsuite::opt::{run_opt_in, OptArgs, OptSession};
use weft_testsuite::test_dialect::test_context;

fn program(w: u8) -> String {
    let x = |signed: &str, scale: f64| format!("tensor<4x32x!quant.int<w={w}, {signed}, scale={scale}, zp=0>>");
    let (input, prob, act) = (x("signed", 0.0625), x("unsigned", 1.0 / ((1u32 << w) - 1) as f64), x("signed", 0.0625));
    format!(
        "func @f(%x: {input}) -> ({prob}, {act}, {act}) {{\n\
  %g = constant dense<0.75> : tensor<32xf32>\n  %b = constant dense<0.125> : tensor<32xf32>\n\
  %0 = quant.softmax %x {{axis = -1}} : ({input}) -> {prob}\n\
  %1 = quant.gelu %x : ({input}) -> {act}\n\
  %2 = quant.layer_norm %x, %g, %b {{axis = -1, epsilon = 1.0e-5}} : ({input}, tensor<32xf32>, tensor<32xf32>) -> {act}\n\
  return %0, %1, %2 : {prob}, {act}, {act}\n}}\n"
    )
}

fn run_passes(text: &str, passes: &str) -> Module {
    let ctx = test_context();
    let registry = PassRegistry::with_builtin_passes();
    let mut sources = SourceMap::new();
    let file = sources.add("share.weft".to_string(), text.to_string());
    let args = OptArgs::from_words(["--passes", passes]).expect("arguments");
    let session = OptSession { ctx: &ctx, registry: &registry, input_path: None };
    run_opt_in(&session, &args, &mut sources, file).module.unwrap_or_else(|| panic!("{passes} failed"))
}

/// `mode=method` of every `hw.apply`, as lower-nonlinear options.
fn chosen_methods(m: &Module) -> Vec<String> {
    let f = &m.funcs[0];
    let mut out: Vec<String> = f
        .walk()
        .into_iter()
        .filter(|&op| f.ops[op].name() == "hw.apply")
        .map(|op| {
            let a = |k: &str| f.ops[op].attrs.get(k).and_then(Attribute::as_str).unwrap_or("").to_string();
            format!("{}={}", a("mode"), a("method"))
        })
        .collect();
    out.sort();
    out
}

/// The `ii` of the function's `hw.unit` (empty when every mode runs at
/// full rate).
fn unit_ii(m: &Module) -> Vec<i64> {
    let f = &m.funcs[0];
    let unit = f.walk().into_iter().find(|&op| f.ops[op].name() == "hw.unit").expect("a hw.unit");
    match f.ops[unit].attrs.get("ii") {
        Some(Attribute::Array(items)) => items.iter().filter_map(Attribute::as_int).collect(),
        _ => Vec::new(),
    }
}

fn input(m: &Module, w: u8, seed: u64) -> Tensor {
    let elem = m.funcs[0].arg_types()[0].as_tensor().map(|t| t.elem.clone()).expect("a tensor argument");
    assert!(matches!(elem, ElemType::Quant(_)));
    let span = 1i64 << w;
    let mut s = seed | 1;
    let data = (0..128)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            -(span / 2) + (s % span as u64) as i64
        })
        .collect();
    Tensor { elem, shape: vec![4, 32], data: TensorData::Int(data) }
}

#[test]
fn shared_programs_have_the_bits_of_lower_nonlinear_on_both_engines() {
    let cases = [
        (8, ""),
        (8, ",gelu-budget=0.025"),
        (10, ",layer-norm-budget=0.0057"),
        (12, ""),
        (12, ",softmax-budget=0.0003"),
        // Time-multiplexed: an initiation interval is a schedule, not numerics.
        (8, ",methods=quark,ii=auto"),
        (12, ",methods=quark,gelu-ii=3,layer-norm-ii=2"),
        // quark-log: products in the log domain (softmax as quark).
        (8, ",methods=quark-log"),
        (12, ",methods=quark-log,ii=auto"),
        (10, ",methods=quark-log,gelu-ii=3"),
    ];
    let mut methods_seen = std::collections::BTreeSet::new();
    for (w, budget) in cases {
        let text = program(w);
        let shared = run_passes(&text, &format!("share-nonlinear{{lanes=8{budget}}}"));
        let chosen = chosen_methods(&shared);
        assert_eq!(chosen.len(), 3, "{w} bits{budget}: {chosen:?}");
        methods_seen.extend(chosen.iter().cloned());
        if budget.contains("ii") {
            assert!(unit_ii(&shared).iter().any(|&ii| ii > 1), "{w} bits{budget}: no mode time-multiplexed");
        }
        let lowered = run_passes(&text, &format!("lower-nonlinear{{{}}}", chosen.join(",")));
        let x = input(&shared, w, u64::from(w) * 7 + budget.len() as u64);
        let want = run_function(&lowered, &lowered.funcs[0], vec![x.clone()]).expect("interpreter");
        let got = run_function(&shared, &shared.funcs[0], vec![x.clone()]).expect("interpreter");
        assert_eq!(got, want, "interpreter, {w} bits{budget}");
        let jit = weft_backends::jit::compile(&shared, &shared.funcs[0]).unwrap_or_else(|d| panic!("{}", d.message));
        assert_eq!(jit.run(vec![x]).unwrap_or_else(|d| panic!("{}", d.message)), want, "JIT, {w} bits{budget}");
    }
    // The cases cover more than one method per kind, the variant too.
    assert!(methods_seen.len() >= 6, "{methods_seen:?}");
    for kind in ["gelu", "layer-norm"] {
        assert!(methods_seen.contains(&format!("{kind}=quark-log")), "{methods_seen:?}");
    }
}
