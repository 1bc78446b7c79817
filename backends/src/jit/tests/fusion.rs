//! Fusion of elementwise chains against the interpreter: the results are
//! bit-identical, fused values get no buffer, only single-use values of
//! the consumer's shape fuse, and a failure still names the op the
//! interpreter names.

use super::*;
use weft_ir::Location;

fn stats(text: &str) -> JitStats {
    let m = parse(text);
    compile(&m, &m.funcs[0]).unwrap_or_else(|d| panic!("compile: {}", d.message)).stats().clone()
}

#[test]
fn a_decomposed_gelu_is_one_loop_without_intermediate_buffers() {
    // The GELU of a BERT export: x is read twice, four values are fused.
    let t = "tensor<3x37xf32>";
    let text = format!(
        "func @f(%x: {t}) -> {t} {{
  %s = constant dense<1.4142135> : tensor<f32>
  %one = constant dense<1.0> : tensor<f32>
  %half = constant dense<0.5> : tensor<f32>
  %0 = nn.div %x, %s : ({t}, tensor<f32>) -> {t}
  %1 = nn.erf %0 : {t}
  %2 = nn.add %1, %one : ({t}, tensor<f32>) -> {t}
  %3 = nn.mul %x, %2 : {t}
  %4 = nn.mul %3, %half : ({t}, tensor<f32>) -> {t}
  return %4 : {t}
}}"
    );
    let mut x = f32s(&[3, 37], 61);
    if let TensorData::F32(v) = &mut x.data {
        v[0] = f32::NAN;
        v[1] = -9.0;
        v[2] = f32::INFINITY;
    }
    exact(&text, vec![x]);
    let s = stats(&text);
    assert_eq!((s.kernels, s.fused_ops, s.vector_maps), (1, 4, 1));
    // Only the argument (444 bytes, then aligned to 448) and the result
    // are in the arena.
    assert_eq!(s.peak_bytes, 448 + 444);
}

#[test]
fn only_single_use_values_of_the_consumers_shape_fuse() {
    let text =
        "func @f(%a: tensor<4x8xf32>, %b: tensor<8xf32>) -> (tensor<4x8xf32>, tensor<4x8xf32>, tensor<8x4xf32>) {
  %twice = nn.exp %a : tensor<4x8xf32>
  %0 = nn.add %twice, %a : tensor<4x8xf32>
  %1 = nn.mul %0, %twice : tensor<4x8xf32>
  %small = nn.tanh %b : tensor<8xf32>
  %2 = nn.sub %1, %small : (tensor<4x8xf32>, tensor<8xf32>) -> tensor<4x8xf32>
  %ret = nn.neg %2 : tensor<4x8xf32>
  %t = nn.transpose %a {perm = [1, 0]} : (tensor<4x8xf32>) -> tensor<8x4xf32>
  %3 = nn.sigmoid %t : tensor<8x4xf32>
  %4 = nn.abs %ret : tensor<4x8xf32>
  return %ret, %4, %3 : tensor<4x8xf32>, tensor<4x8xf32>, tensor<8x4xf32>
}";
    // %twice has two uses, %small is broadcast (another shape), %ret is a
    // result: not fused. %0 into %1, %1 into %2 and %2 into %ret, and the
    // transpose into the sigmoid, are.
    exact(text, vec![f32s(&[4, 8], 62), f32s(&[8], 63)]);
    let s = stats(text);
    assert_eq!(s.fused_ops, 4);
    assert_eq!(s.kernels, 5);
}

#[test]
fn mixed_element_types_fuse_on_the_scalar_path() {
    let text = "func @f(%a: tensor<2x9xf32>, %i: tensor<2x9xi32>) -> tensor<2x9xf32> {
  %c = nn.cast %a {to = i32} : (tensor<2x9xf32>) -> tensor<2x9xi32>
  %s = nn.add %c, %i : tensor<2x9xi32>
  %l = nn.greater %s, %i : tensor<2x9xi32> -> tensor<2x9xbool>
  %f = nn.cast %s {to = f32} : (tensor<2x9xi32>) -> tensor<2x9xf32>
  %0 = nn.select %l, %f, %a : (tensor<2x9xbool>, tensor<2x9xf32>, tensor<2x9xf32>) -> tensor<2x9xf32>
  return %0 : tensor<2x9xf32>
}"
    .replace(
        "%l = nn.greater %s, %i : tensor<2x9xi32> -> tensor<2x9xbool>",
        "%l = nn.greater %s, %i : (tensor<2x9xi32>, tensor<2x9xi32>) -> tensor<2x9xbool>",
    );
    let mut a = f32s(&[2, 9], 64);
    if let TensorData::F32(v) = &mut a.data {
        v[0] = f32::NAN;
        v[1] = 3e9;
    }
    exact(&text, vec![a, rand_ints(ElemType::I32, &[2, 9], 65, 1e9)]);
    // %s has two uses; %c into %s, %l and %f into the select. Both maps
    // convert between storages: scalar.
    let s = stats(&text);
    assert_eq!((s.fused_ops, s.kernels, s.vector_maps), (3, 2, 0));
}

fn at(loc: &str) -> Location {
    Location::Name(loc.to_string())
}

#[test]
fn a_fused_group_holds_one_op_that_can_fail_and_failures_name_it() {
    let text = "func @f(%a: tensor<6xi32>, %b: tensor<6xi32>, %c: tensor<6xi32>) -> tensor<6xi32> {
  %0 = nn.div %a, %b : tensor<6xi32> loc(\"first\")
  %1 = nn.add %0, %a : tensor<6xi32> loc(\"add\")
  %2 = nn.div %1, %c : tensor<6xi32> loc(\"second\")
  %3 = nn.neg %2 : tensor<6xi32> loc(\"neg\")
  return %3 : tensor<6xi32>
}";
    let m = parse(text);
    let f = &m.funcs[0];
    let c = compile(&m, f).unwrap();
    // The first division fuses into the add; the second division cannot
    // join that group, and takes the neg.
    assert_eq!((c.stats().fused_ops, c.stats().kernels), (2, 2));
    let v = |x: &[i64]| ints(ElemType::I32, &[6], x);
    let (a, ones) = (v(&[7, -8, 9, 10, 11, 12]), v(&[1; 6]));
    // A zero divisor in the second division only.
    let run = |b: Tensor, c2: Tensor| -> (Diagnostic, Diagnostic) {
        let want = run_function(&m, f, vec![a.clone(), b.clone(), c2.clone()]).unwrap_err();
        (c.run(vec![a.clone(), b, c2]).unwrap_err(), want)
    };
    let (got, want) = run(ones.clone(), v(&[1, 1, 0, 1, 1, 1]));
    assert_eq!((got.message.as_str(), &got.loc), (want.message.as_str(), &at("second")));
    assert_eq!(got.loc, want.loc);
    // Zeros in both: the interpreter stops at the first division.
    let (got, want) = run(v(&[1, 1, 1, 1, 1, 0]), v(&[0, 1, 1, 1, 1, 1]));
    assert_eq!((&got.loc, &want.loc), (&at("first"), &at("first")));
    assert_eq!(got.message, "'nn.div' op: integer division by zero");
    assert_eq!(
        c.run(vec![a, ones.clone(), ones]).unwrap(),
        run_function(&m, f, vec![v(&[7, -8, 9, 10, 11, 12]), v(&[1; 6]), v(&[1; 6])]).unwrap()
    );
}
