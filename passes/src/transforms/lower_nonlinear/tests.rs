//! Tests of `lower-nonlinear`: every op kind and method lowers to a
//! verified nl program that the interpreter runs close to the ideal op
//! (tables exactly), options and overrides, and the rejections.

use super::*;
use weft_ir::interp::run_function;
use weft_ir::parser::parse_str;
use weft_ir::tensor::TensorData;
use weft_ir::verify::verify_module;
use weft_ir::{Context, ElemType, Tensor};

fn q(width: u8, signed: bool, scale: f64, zp: i64) -> String {
    let sign = if signed { "signed" } else { "unsigned" };
    format!("!quant.int<w={width}, {sign}, scale={scale:?}, zp={zp}>")
}

/// A module with one op `quant.NAME` from `tensor<SHAPExIN>` to
/// `tensor<SHAPExOUT>` (layer norm: with constant scale 1 and bias 0 over
/// the last axis).
fn module(kind: OpKind, shape: &str, input: &str, output: &str, attrs: &str) -> Module {
    let (x, y) = (format!("tensor<{shape}x{input}>"), format!("tensor<{shape}x{output}>"));
    let body = if kind == OpKind::LayerNorm {
        let n = shape.rsplit('x').next().unwrap();
        format!(
            "%g = constant dense<1.0> : tensor<{n}xf32>\n  %b = constant dense<0.0> : tensor<{n}xf32>\n  \
             %0 = {} %x, %g, %b {attrs} : ({x}, tensor<{n}xf32>, tensor<{n}xf32>) -> {y}",
            kind.op_name()
        )
    } else {
        format!("%0 = {} %x {attrs} : ({x}) -> {y}", kind.op_name())
    };
    let text = format!("func @f(%x: {x}) -> {y} {{\n  {body}\n  return %0 : {y}\n}}\n");
    let (_, m) = parse_str(&Context::default(), "test.weft", &text);
    m.unwrap_or_else(|d| panic!("{d:?}\n{text}"))
}

fn lower(m: &mut Module, pass: LowerNonlinear) -> Result<PassContext<'static>, Diagnostic> {
    static CTX: std::sync::OnceLock<Context> = std::sync::OnceLock::new();
    let ctx = CTX.get_or_init(Context::default);
    let mut cx = PassContext::new(ctx);
    let mut pass = pass;
    pass.run(m, &mut cx)?;
    Ok(cx)
}

fn codes(t: &Tensor) -> Vec<i64> {
    match &t.data {
        TensorData::Int(v) => v.clone(),
        other => panic!("not integers: {other:?}"),
    }
}

/// Runs `m` before and after lowering with `method` on `input`: the ideal
/// and the lowered stored integers.
fn ideal_and_lowered(m: &Module, method: Method, input: Tensor) -> (Vec<i64>, Vec<i64>) {
    let ideal = run_function(m, &m.funcs[0], vec![input.clone()]).expect("ideal runs");
    let mut lowered = m.clone();
    lower(&mut lowered, LowerNonlinear::with_method(method)).expect("lowers");
    verify_module(&lowered).expect("lowered program verifies");
    let names: Vec<&str> = lowered.funcs[0].walk().iter().map(|&o| lowered.funcs[0].ops[o].name()).collect();
    assert!(names.iter().all(|n| !n.starts_with("quant.")), "{names:?}");
    let out = run_function(&lowered, &lowered.funcs[0], vec![input]).expect("lowered runs");
    (codes(&ideal[0]), codes(&out[0]))
}

fn quant_tensor(width: u8, signed: bool, scale: f64, zp: i64, shape: &[u64], values: Vec<i64>) -> Tensor {
    let elem = ElemType::Quant(Box::new(weft_ir::types::QuantInt {
        width,
        signed,
        params: weft_ir::types::QuantParams::PerTensor { scale, zp },
    }));
    Tensor { elem, shape: shape.to_vec(), data: TensorData::Int(values) }
}

/// Every 8-bit code, signed.
fn all_codes() -> Vec<i64> {
    (-128..128).collect()
}

fn max_step_difference(a: &[i64], b: &[i64]) -> i64 {
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).max().unwrap_or(0)
}

/// Elementwise kinds with an input and a result format and the largest
/// difference from the ideal (in result steps) `quark` and `ibert` may
/// have over every 8-bit input.
fn elementwise_cases() -> Vec<(OpKind, String, String, i64)> {
    let x = q(8, true, 1.0 / 16.0, 0);
    vec![
        (OpKind::Gelu, x.clone(), q(8, false, 8.2 / 255.0, 5), 2),
        (OpKind::Silu, x.clone(), q(8, false, 8.3 / 255.0, 9), 2),
        (OpKind::Sigmoid, x.clone(), q(8, false, 1.0 / 255.0, 0), 2),
        (OpKind::Tanh, x.clone(), q(8, true, 1.0 / 127.0, 0), 2),
        (OpKind::Exp, q(8, true, 1.0 / 32.0, 0), q(8, false, 55.0 / 255.0, 0), 2),
        (OpKind::Reciprocal, x.clone(), q(8, true, 1.0 / 8.0, 0), 2),
        (OpKind::Sqrt, x.clone(), q(8, false, 3.0 / 255.0, 0), 2),
        (OpKind::Rsqrt, x, q(8, false, 4.0 / 255.0, 0), 2),
    ]
}

#[test]
fn elementwise_ops_stay_near_the_ideal_and_tables_equal_it() {
    for (kind, x, y, steps) in elementwise_cases() {
        let m = module(kind, "256", &x, &y, "");
        let input = || quant_tensor(8, true, 0.0, 0, &[256], all_codes());
        let mut t = input();
        t.elem = m.funcs[0].arg_types()[0].as_tensor().unwrap().elem.clone();
        for method in Method::ALL {
            let (ideal, lowered) = ideal_and_lowered(&m, method, t.clone());
            let diff = max_step_difference(&ideal, &lowered);
            let bound = if method == Method::Lut { 0 } else { steps };
            assert!(diff <= bound, "{kind:?} {method:?}: {diff} steps from the ideal");
        }
    }
}

#[test]
fn softmax_rows_stay_near_the_ideal() {
    let x = q(8, true, 1.0 / 16.0, 0);
    let y = q(8, false, 1.0 / 255.0, 0);
    let m = module(OpKind::Softmax, "4x64", &x, &y, "{axis = -1}");
    // Rows: a ramp, a constant, one spike, a wide zig-zag.
    let mut v: Vec<i64> = (0..64).map(|i| i * 4 - 128).collect();
    v.extend(std::iter::repeat_n(7, 64));
    v.extend((0..64).map(|i| if i == 9 { 127 } else { -20 }));
    v.extend((0..64).map(|i| if i % 2 == 0 { 100 } else { -100 + i }));
    let input = quant_tensor(8, true, 1.0 / 16.0, 0, &[4, 64], v);
    for method in Method::ALL {
        let (ideal, lowered) = ideal_and_lowered(&m, method, input.clone());
        let diff = max_step_difference(&ideal, &lowered);
        assert!(diff <= 2, "{method:?}: {diff} steps from the ideal");
    }
}

#[test]
fn layer_norm_lanes_stay_near_the_ideal() {
    let x = q(8, true, 0.05, 3);
    let y = q(8, true, 3.0 / 127.0, 0);
    let m = module(OpKind::LayerNorm, "3x32", &x, &y, "{axis = -1, epsilon = 1.0e-5}");
    let mut v: Vec<i64> = (0..32).map(|i| (i * 37 % 64) - 20).collect();
    v.extend((0..32).map(|i| if i < 16 { 100 } else { -90 }));
    v.extend(std::iter::repeat_n(5, 32));
    let input = quant_tensor(8, true, 0.05, 3, &[3, 32], v);
    for method in [Method::Quark, Method::QuarkLog, Method::Ibert] {
        let (ideal, lowered) = ideal_and_lowered(&m, method, input.clone());
        let diff = max_step_difference(&ideal, &lowered);
        assert!(diff <= 2, "{method:?}: {diff} steps from the ideal\n{ideal:?}\n{lowered:?}");
    }
    // Signed, zero and large scales: quark-log folds log2|gamma| into its
    // exponent and restores the sign of a negative gamma with a mux.
    let text = weft_ir::printer::print_module(&m);
    let gammas = (0..32).map(|i| format!("{:?}", [1.5, -0.75, 0.0, -2.0][i % 4])).collect::<Vec<_>>().join(", ");
    let text = text.replacen("dense<1.0> : tensor<32xf32>", &format!("dense<[{gammas}]> : tensor<32xf32>"), 1);
    let text = text.replacen("dense<0.0> : tensor<32xf32>", "dense<-0.5> : tensor<32xf32>", 1);
    assert!(text.contains("-0.75") && text.contains("dense<-0.5>"), "{text}");
    let m = parse_str(&Context::default(), "t.weft", &text).1.expect("parses");
    for method in [Method::Quark, Method::QuarkLog] {
        let (ideal, lowered) = ideal_and_lowered(&m, method, input.clone());
        assert!(ideal.iter().any(|&x| x != ideal[0]), "{ideal:?}");
        let diff = max_step_difference(&ideal, &lowered);
        assert!(diff <= 2, "{method:?} with signed gammas: {diff} steps\n{ideal:?}\n{lowered:?}");
    }
}

fn lowering_error(m: &mut Module, pass: LowerNonlinear) -> Diagnostic {
    let before = weft_ir::printer::print_module(m);
    let d = lower(m, pass).err().expect("lowering fails");
    assert_eq!(weft_ir::printer::print_module(m), before, "a failed lowering leaves the module unchanged");
    d
}

#[test]
fn impossible_requests_are_errors_at_the_op() {
    let x8 = q(8, true, 0.1, 0);
    let mut m = module(OpKind::LayerNorm, "2x8", &x8, &x8, "{axis = -1, epsilon = 0.0}");
    let d = lowering_error(&mut m, LowerNonlinear::with_method(Method::Lut));
    assert!(d.message.starts_with("'quant.layer_norm' op cannot be lowered with method 'lut': a layer norm's output"));

    let x10 = q(10, true, 0.01, 0);
    let mut m = module(OpKind::Gelu, "4", &x10, &x8, "");
    let d = lowering_error(&mut m, LowerNonlinear::with_method(Method::Lut));
    assert_eq!(
        d.message,
        "'quant.gelu' op cannot be lowered with method 'lut': its input has 10 bits, and tables cover inputs \
of at most 8 bits (256 entries); use 'quark' or 'ibert'"
    );
    assert!(lower(&mut m, LowerNonlinear::with_method(Method::Quark)).is_ok());

    let x3 = q(3, true, 0.5, 0);
    let mut m = module(OpKind::Softmax, "4", &x3, &x8, "{axis = 0}");
    let d = lowering_error(&mut m, LowerNonlinear::with_method(Method::Lut));
    assert_eq!(d.message, "'quant.softmax' op has a 3-bit input; lower-nonlinear builds 4- to 16-bit activations");

    let y20 = q(20, false, 0.5, 0);
    let mut m = module(OpKind::Sigmoid, "4", &x8, &y20, "");
    let d = lowering_error(&mut m, LowerNonlinear::default());
    assert_eq!(d.message, "'quant.sigmoid' op has a 20-bit result; lower-nonlinear builds 4- to 16-bit activations");
}

#[test]
fn unsupported_operands_are_errors() {
    let x8 = q(8, true, 0.1, 0);
    let per_channel = "!quant.int<w=8, signed, axis=0, scales=[0.1, 0.2], zps=[0, 0]>";
    let mut m = module(OpKind::Tanh, "2", per_channel, &x8, "");
    let d = lowering_error(&mut m, LowerNonlinear::default());
    assert!(d.message.contains("input is quantized per channel"), "{}", d.message);

    let mut m = module(OpKind::Softmax, "[n]", &x8, &x8, "{axis = 0}");
    let d = lowering_error(&mut m, LowerNonlinear::default());
    assert_eq!(
        d.message,
        "'quant.softmax' op reduces axis 0 of extent [n]; lower-nonlinear needs a static, non-zero number of lanes"
    );

    let x = format!("tensor<2x8x{x8}>");
    let text = format!(
        "func @f(%x: {x}, %g: tensor<8xf32>) -> {x} {{\n  %b = constant dense<0.0> : tensor<8xf32>\n  \
         %0 = quant.layer_norm %x, %g, %b {{axis = -1, epsilon = 0.0}} : ({x}, tensor<8xf32>, tensor<8xf32>) -> {x}\n  \
         return %0 : {x}\n}}\n"
    );
    let mut m = parse_str(&Context::default(), "t.weft", &text).1.unwrap();
    let d = lowering_error(&mut m, LowerNonlinear::default());
    assert_eq!(d.message, "'quant.layer_norm' op has a scale that is not a constant; lowering needs its values");
}

#[test]
fn every_failure_is_reported_the_first_as_the_error() {
    let x8 = q(8, true, 0.1, 0);
    let x10 = q(10, true, 0.1, 0);
    let t = |x: &str| format!("tensor<4x{x}>");
    let text = format!(
        "func @f(%x: {a}, %y: {b}) -> ({a}, {a}) {{\n  %0 = quant.exp %x : ({a}) -> {a}\n  \
         %1 = quant.sqrt %y : ({b}) -> {a}\n  %2 = quant.tanh %y : ({b}) -> {a}\n  return %0, %1 : {a}, {a}\n}}\n",
        a = t(&x8),
        b = t(&x10)
    );
    let mut m = parse_str(&Context::default(), "t.weft", &text).1.unwrap();
    let d = lowering_error(&mut m, LowerNonlinear::with_method(Method::Lut));
    assert!(d.message.starts_with("'quant.sqrt' op cannot be lowered with method 'lut'"), "{}", d.message);
    assert_eq!(d.notes.len(), 1);
    assert!(d.notes[0].message.starts_with("'quant.tanh' op cannot"));
}

#[test]
fn overrides_pick_the_method_per_op_kind() {
    let mut pass = LowerNonlinear::default();
    pass.set_option("softmax", "lut").unwrap();
    pass.set_option("gelu", "ibert").unwrap();
    assert_eq!(pass.method_for(OpKind::Softmax), Method::Lut);
    assert_eq!(pass.method_for(OpKind::Gelu), Method::Ibert);
    assert_eq!(pass.method_for(OpKind::LayerNorm), Method::Quark);
    assert_eq!(
        pass.option_values(),
        vec![
            ("method", "quark".to_string()),
            ("segments", "4".to_string()),
            ("softmax", "lut".to_string()),
            ("gelu", "ibert".to_string())
        ]
    );
    pass.set_option("gelu", "").unwrap();
    assert_eq!(pass.method_for(OpKind::Gelu), Method::Quark);
    assert_eq!(
        pass.set_option("method", "fast").unwrap_err(),
        "expected 'quark', 'quark-log', 'ibert' or 'lut', got 'fast'"
    );
    assert_eq!(pass.set_option("softmax2", "lut").unwrap_err(), "unknown option 'softmax2'");
    let names: Vec<&str> = pass.options().iter().map(|o| o.name).collect();
    let kinds: Vec<&str> = OpKind::ALL.iter().map(|k| k.option()).collect();
    assert_eq!(names[3..], kinds[..], "one override option per op kind, in order");
    assert_eq!(pass.set_option("segments", "3").unwrap_err(), "expected 1, 2, 4, 8 or 16 segments, got 3");
    pass.set_option("coefficients", "paper").unwrap();
    assert_eq!(pass.option_values()[1], ("coefficients", "paper".to_string()));
    assert_eq!(pass.set_option("coefficients", "best").unwrap_err(), "expected 'fitted' or 'paper', got 'best'");

    let x8 = q(8, true, 0.1, 0);
    let mut m = module(OpKind::Softmax, "2x4", &x8, &x8, "{axis = -1}");
    let cx = lower(&mut m, pass).unwrap();
    let names: Vec<&str> = m.funcs[0].walk().iter().map(|&o| m.funcs[0].ops[o].name()).collect();
    assert!(names.contains(&"nl.lut") && !names.contains(&"nl.exp2"), "{names:?}");
    assert_eq!(cx.stat("lowered-ops"), 1);
    assert_eq!(cx.stat("created-ops"), names.len() as u64 - 1, "every op but the return is new");
}

/// Lowers every kind with every method over extreme formats and runs the
/// programs on the extreme codes: lowering succeeds (or rejects with a
/// diagnostic, for lut) and evaluation never fails.
#[test]
fn extreme_formats_lower_and_run() {
    let formats = [(4, true, 1e-6, 0), (8, false, 0.05, 255), (16, true, 300.0, -32768), (16, false, 1e-3, 7)];
    for kind in OpKind::ALL {
        for &(w, signed, scale, zp) in &formats {
            for &(yw, ys, yscale, yzp) in &formats {
                let (x, y) = (q(w, signed, scale, zp), q(yw, ys, yscale, yzp));
                let attrs = match kind {
                    OpKind::Softmax => "{axis = -1}",
                    OpKind::LayerNorm => "{axis = -1, epsilon = 1.0e-5}",
                    _ => "",
                };
                let m = module(kind, "2x3", &x, &y, attrs);
                let (lo, hi) = if signed { (-(1i64 << (w - 1)), (1i64 << (w - 1)) - 1) } else { (0, (1i64 << w) - 1) };
                let input = quant_tensor(w, signed, scale, zp, &[2, 3], vec![lo, hi, zp.clamp(lo, hi), lo, lo, hi]);
                for method in Method::ALL {
                    let mut lowered = m.clone();
                    match lower(&mut lowered, LowerNonlinear::with_method(method)) {
                        Ok(_) => {}
                        Err(d) if method == Method::Lut => {
                            assert!(d.message.contains("with method 'lut'"), "{kind:?}: {}", d.message);
                            continue;
                        }
                        Err(d) => panic!("{kind:?} {method:?} {x} -> {y}: {}", d.message),
                    }
                    verify_module(&lowered).expect("verifies");
                    run_function(&lowered, &lowered.funcs[0], vec![input.clone()])
                        .unwrap_or_else(|d| panic!("{kind:?} {method:?} {x} -> {y}: {}", d.message));
                }
            }
        }
    }
}

/// 16-bit inputs over 1024 lanes: D^2 summed needs more than 62 bits, so D
/// is rounded right before squaring; the result stays at the ideal.
#[test]
fn wide_layer_norm_lanes_round_before_squaring() {
    let x = q(16, true, 1e-4, 0);
    let y = q(12, true, 4.0 / 2047.0, 0);
    let m = module(OpKind::LayerNorm, "1x1024", &x, &y, "{axis = -1, epsilon = 0.0}");
    let printed = weft_ir::printer::print_module(&{
        let mut l = m.clone();
        lower(&mut l, LowerNonlinear::default()).unwrap();
        l
    });
    assert!(printed.contains("nl.log2") && printed.contains("frac = -"), "the sum of squares is pre-shifted");
    let v: Vec<i64> = (0..1024).map(|i: i64| ((i * 7919) % 65536) - 32768).collect();
    let input = quant_tensor(16, true, 1e-4, 0, &[1, 1024], v);
    for method in [Method::Quark, Method::Ibert] {
        let (ideal, lowered) = ideal_and_lowered(&m, method, input.clone());
        let diff = max_step_difference(&ideal, &lowered);
        assert!(diff <= 2, "{method:?}: {diff} steps from the ideal");
    }
}

/// The exp2 unit of every coefficient table `quark` can be given maps 0
/// to exactly one, so the pair softmax may add the constant instead.
#[test]
fn exp2_of_zero_is_one_for_every_table() {
    let mut tables: Vec<QuarkTables> = [1, 2, 4, 8, 16].into_iter().map(QuarkTables::Fitted).collect();
    tables.push(QuarkTables::Paper);
    for tables in tables {
        let coeffs = formats::fixed_table(&tables.exp2(), formats::COEFF_FRAC);
        let rows: Vec<[i128; 3]> = coeffs.chunks(3).map(|c| [c[0], c[1], c[2]]).collect();
        for out_frac in [0, 8, formats::EXP_FRAC, 20] {
            let f = weft_ir::ops::nl::Exp2Format {
                frac: formats::FRAC,
                coeffs: rows.clone(),
                coeff_frac: formats::COEFF_FRAC,
                out_frac,
            };
            assert_eq!(f.eval(0), 1 << out_frac, "{tables:?} out_frac {out_frac}");
        }
    }
}

fn count_ops(m: &Module, name: &str) -> usize {
    let f = &m.funcs[0];
    f.walk().iter().filter(|&&o| f.ops[o].name() == name).count()
}

/// The pair softmax with two exp2 per element gives the bits of the one
/// with three, on every input code of 8, 12 and 16 bits, for every kind
/// built on it and every coefficient table.
#[test]
fn pair_softmax_with_two_exp2_is_bit_identical() {
    let kinds =
        [(OpKind::Gelu, false, 5), (OpKind::Silu, false, 9), (OpKind::Sigmoid, false, 0), (OpKind::Tanh, true, 0)];
    for width in [8u8, 12, 16] {
        let every: Vec<i64> = (-(1i64 << (width - 1))..1i64 << (width - 1)).collect();
        let n = every.len() as u64;
        let x = q(width, true, 8.0 / (1u64 << width) as f64, 0);
        for (kind, signed, zp) in kinds {
            let y = q(width, signed, 9.0 / (1u64 << width) as f64, zp);
            let m = module(kind, &n.to_string(), &x, &y, "");
            let mut input = quant_tensor(width, true, 0.0, 0, &[n], every.clone());
            input.elem = m.funcs[0].arg_types()[0].as_tensor().unwrap().elem.clone();
            let tables = if width == 8 {
                vec![QuarkTables::Fitted(4), QuarkTables::Fitted(1), QuarkTables::Paper]
            } else {
                vec![QuarkTables::Fitted(4)]
            };
            for t in tables {
                let run = |three: bool| {
                    quark::THREE_EXP2.with(|c| c.set(three));
                    let mut lowered = m.clone();
                    let done = lower(&mut lowered, LowerNonlinear::with_method(Method::Quark).with_tables(t));
                    quark::THREE_EXP2.with(|c| c.set(false));
                    done.expect("lowers");
                    let out = run_function(&lowered, &lowered.funcs[0], vec![input.clone()]).expect("runs");
                    (codes(&out[0]), count_ops(&lowered, "nl.exp2"))
                };
                let ((three, n3), (two, n2)) = (run(true), run(false));
                let name = format!("{kind:?} at {width} bits, {t:?}");
                assert_eq!((n3, n2), (3, 2), "{name}: exp2 per element");
                assert!(three == two, "{name}: the two forms differ");
            }
        }
    }
}
