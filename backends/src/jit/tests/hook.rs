//! The per-kernel hook of [`CompiledFunction::run_with`]: called once per
//! kernel, in program order, with the kernel's op name; the results are
//! those of a plain run.

use super::*;
use std::collections::HashMap;

#[test]
fn the_kernel_hook_sees_every_kernel_in_order() {
    let text = "func @f(%x: tensor<8xf32>) -> tensor<2x4xf32> {
  %0 = nn.exp %x : tensor<8xf32>
  %1 = nn.reshape %0 {shape = [2, 4]} : (tensor<8xf32>) -> tensor<2x4xf32>
  %2 = nn.softmax %1 {axis = 1} : tensor<2x4xf32>
  %3 = nn.neg %2 : tensor<2x4xf32>
  return %3 : tensor<2x4xf32>
}";
    let m = parse(text);
    let c = compile(&m, &m.funcs[0]).unwrap();
    let mut seen = Vec::new();
    let mut hook = |name: &'static str, _: Duration| seen.push(name);
    let got = c.run_with(vec![f32s(&[8], 51)], Some(&mut hook)).unwrap();
    // The reshape moves no data: no kernel.
    assert_eq!(seen, ["nn.exp", "nn.softmax", "nn.neg"]);
    assert_eq!(got, c.run(vec![f32s(&[8], 51)]).unwrap());
}

/// [`compile_observing`]: every observed value (fusable ones, an alias, a
/// constant, a value nothing reads) is reported once per run, with the
/// interpreter's bits, and the results are those of a plain run.
#[test]
fn observed_values_are_reported_with_the_interpreters_bits() {
    let text = "func @f(%x: tensor<8xf32>) -> tensor<2x4xf32> {
  %c = constant dense<[0.5, -1.0, 2.0, 0.25, 1.5, -0.75, 3.0, 0.125]> : tensor<8xf32>
  %0 = nn.mul %x, %c : tensor<8xf32>
  %1 = nn.exp %0 : tensor<8xf32>
  %unused = nn.neg %1 : tensor<8xf32>
  %2 = nn.tanh %1 : tensor<8xf32>
  %3 = nn.reshape %2 {shape = [2, 4]} : (tensor<8xf32>) -> tensor<2x4xf32>
  %4 = nn.softmax %3 {axis = 1} : tensor<2x4xf32>
  return %4 : tensor<2x4xf32>
}";
    let m = parse(text);
    let f = &m.funcs[0];
    let observed: Vec<Value> = f.walk().iter().flat_map(|&op| f.ops[op].results.clone()).collect();
    let input = f32s(&[8], 77);
    let mut expected = HashMap::new();
    let mut on_op = |e: &weft_ir::interp::OpEvent| {
        for (&v, t) in e.data.results.iter().zip(e.results) {
            expected.insert(v, t.clone());
        }
    };
    let options = weft_ir::interp::RunOptions { on_op: Some(&mut on_op) };
    let want = weft_ir::interp::run_function_with(&m, f, vec![input.clone()], options).unwrap();
    let c = compile_observing(&m, f, &observed).unwrap();
    let mut seen: Vec<(usize, Tensor)> = Vec::new();
    let got = c.run_observing(vec![input.clone()], &mut |i, t| seen.push((i, t.clone()))).unwrap();
    assert_eq!(got, want);
    assert_eq!(got, compile(&m, f).unwrap().run(vec![input]).unwrap());
    let mut indices: Vec<usize> = seen.iter().map(|(i, _)| *i).collect();
    indices.sort_unstable();
    assert_eq!(indices, (0..observed.len()).collect::<Vec<_>>(), "each observed value once");
    for (i, t) in &seen {
        assert_eq!(Some(t), expected.get(&observed[*i]), "observed value #{i}");
    }
}

/// An observed result of a composite op (which the JIT expands before
/// planning) is reported as the value that now computes it.
#[test]
fn an_observed_attention_result_is_reported() {
    let text = "func @f(%q: tensor<2x3x8xf32>, %kt: tensor<8x3xf32>, %v: tensor<2x3x6xf32>) -> tensor<2x3x6xf32> {
  %0 = nn.attention %q, %kt, %v {scale = 0.35355338} : (tensor<2x3x8xf32>, tensor<8x3xf32>, tensor<2x3x6xf32>) -> tensor<2x3x6xf32>
  %1 = nn.neg %0 : tensor<2x3x6xf32>
  return %1 : tensor<2x3x6xf32>
}";
    let m = parse(text);
    let f = &m.funcs[0];
    let attention = f.ops[f.walk()[0]].results[0];
    let inputs = vec![f32s(&[2, 3, 8], 1), f32s(&[8, 3], 2), f32s(&[2, 3, 6], 3)];
    let c = compile_observing(&m, f, &[attention]).unwrap();
    let mut seen = Vec::new();
    let got = c.run_observing(inputs.clone(), &mut |i, t| seen.push((i, t.clone()))).unwrap();
    let [(0, t)] = &seen[..] else { panic!("expected one observation, got {}", seen.len()) };
    let TensorData::F32(x) = &t.data else { panic!("not f32") };
    let TensorData::F32(y) = &got[0].data else { panic!("not f32") };
    assert!(x.iter().zip(y).all(|(a, b)| a.to_bits() == (-b).to_bits()), "the result is the negated attention");
}
