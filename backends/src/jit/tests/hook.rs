//! The per-kernel hook of [`CompiledFunction::run_with`]: called once per
//! kernel, in program order, with the kernel's op name; the results are
//! those of a plain run.

use super::*;

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
