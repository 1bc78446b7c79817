//! The quantized fast paths against the interpreter: a requantize fused
//! into its matmul's epilogue (per-column multipliers, both zero points,
//! saturation), and a 16-bit elementwise chain computed as a table
//! (every input value, bit-identical); products of two activations and
//! binary weights on unsigned rows (read in place or copied, saturated or
//! requantized).

use super::*;

fn stats(text: &str) -> JitStats {
    let m = parse(text);
    compile(&m, &m.funcs[0]).unwrap_or_else(|d| panic!("compile: {}", d.message)).stats().clone()
}

fn quant(width: u8, signed: bool, scale: f64, zp: i64) -> ElemType {
    ElemType::Quant(Box::new(weft_ir::types::QuantInt {
        width,
        signed,
        params: weft_ir::types::QuantParams::PerTensor { scale, zp },
    }))
}

#[test]
fn a_requantize_runs_in_the_matmul_epilogue() {
    let a = "tensor<2x5x7x!quant.int<w=8, signed, scale=0.05, zp=-3>>";
    let w = "tensor<7x3x!quant.int<w=8, signed, axis=1, scales=[0.01, 0.2, 0.03], zps=[0, 0, 0]>>";
    let bias = "tensor<3x!quant.int<w=32, signed, axis=0, scales=[0.0005, 0.01, 0.0015], zps=[0, 0, 0]>>";
    let acc = "tensor<2x5x3x!quant.int<w=32, signed, axis=2, scales=[0.0005, 0.01, 0.0015], zps=[0, 0, 0]>>";
    let y = "tensor<2x5x3x!quant.int<w=8, unsigned, scale=0.04, zp=120>>";
    let values: Vec<i64> = noise(21, 5, 127.0).iter().map(|v| v.round() as i64).collect();
    let weights: Vec<String> = values.chunks(3).map(|r| format!("[{}, {}, {}]", r[0], r[1], r[2])).collect();
    let text = format!(
        "func @f(%a: {a}) -> {y} {{
  %w = constant dense<[{}]> : {w}
  %b = constant dense<[900, -40000, 7]> : {bias}
  %acc = quant.qmatmul %a, %w, %b : ({a}, {w}, {bias}) -> {acc}
  %y = quant.requantize %acc : ({acc}) -> {y}
  return %y : {y}
}}",
        weights.join(", ")
    );
    let x = rand_ints(quant(8, true, 0.05, -3), &[2, 5, 7], 9, 128.0);
    let clamped = match &x.data {
        TensorData::Int(v) => v.iter().map(|&q| q.clamp(-128, 127)).collect::<Vec<_>>(),
        _ => unreachable!(),
    };
    exact(&text, vec![ints(x.elem.clone(), &x.shape, &clamped)]);
    let s = stats(&text);
    assert_eq!((s.kernels, s.fused_ops), (1, 1));
}

#[test]
fn a_sixteen_bit_chain_is_a_table_with_the_maps_bits() {
    let x = "tensor<512x256x!quant.int<w=16, unsigned, scale=0.00014141669527732796, zp=44634>>";
    let h = "tensor<512x256x!quant.int<w=16, unsigned, scale=0.00009994144350346607, zp=44689>>";
    let f = "tensor<512x256xf32>";
    let y = "tensor<512x256x!quant.int<w=8, unsigned, scale=0.01220716167704143, zp=14>>";
    let c = "tensor<!quant.int<w=2, signed, scale=0.7071067932881648, zp=0>>";
    let text = format!(
        "func @f(%x: {x}) -> {y} {{
  %c = constant dense<1> : {c}
  %one = constant dense<1.0> : tensor<f32>
  %half = constant dense<0.5> : tensor<f32>
  %0 = quant.qmul %x, %c : ({x}, {c}) -> {h}
  %1 = quant.dequantize %0 : ({h}) -> {f}
  %2 = nn.erf %1 : {f}
  %3 = nn.add %2, %one : ({f}, tensor<f32>) -> {f}
  %4 = quant.dequantize %x : ({x}) -> {f}
  %5 = nn.mul %4, %3 : {f}
  %6 = nn.mul %5, %half : ({f}, tensor<f32>) -> {f}
  %7 = quant.quantize %6 : ({f}) -> {y}
  return %7 : {y}
}}"
    );
    // Every stored integer, ascending then descending.
    let values: Vec<i64> = (0..65536).chain((0..65536).rev()).collect();
    exact(&text, vec![ints(quant(16, false, 0.00014141669527732796, 44634), &[512, 256], &values)]);
}

/// Unsigned bytes of `shape` (all of 0..=255 reachable).
fn bytes(shape: &[u64], seed: u64) -> Vec<i64> {
    let n = shape.iter().product::<u64>() as usize;
    noise(n, seed, 160.0).iter().map(|v| (v.round() as i64 + 128).clamp(0, 255)).collect()
}

#[test]
fn integer_products_of_two_activations_are_exact_on_every_path() {
    // (k, accumulator width, requantized): k a multiple of 4 reads the
    // unsigned rows in place, 13 copies them; a 16-bit accumulator
    // saturates; the right operand is packed per call, zero point 120.
    for (k, acc_width, requantized) in [(12, 32, true), (13, 16, false), (16, 32, false), (13, 32, true)] {
        let a = format!("tensor<2x7x{k}x!quant.int<w=8, unsigned, scale=0.02, zp=120>>");
        let b = format!("tensor<2x{k}x70x!quant.int<w=8, unsigned, scale=0.03, zp=120>>");
        let acc = format!("tensor<2x7x70x!quant.int<w={acc_width}, signed, scale=0.0006, zp=0>>");
        let y = "tensor<2x7x70x!quant.int<w=8, unsigned, scale=0.05, zp=127>>";
        let (ret, tail) = if requantized {
            (y.to_string(), format!("  %y = quant.requantize %acc : ({acc}) -> {y}\n  return %y : {y}"))
        } else {
            (acc.clone(), format!("  return %acc : {acc}"))
        };
        let text = format!(
            "func @f(%a: {a}, %b: {b}) -> {ret} {{
  %acc = quant.qmatmul %a, %b : ({a}, {b}) -> {acc}
{tail}
}}"
        );
        let ea = quant(8, false, 0.02, 120);
        let eb = quant(8, false, 0.03, 120);
        let (sa, sb) = ([2, 7, k], [2, k, 70]);
        exact(&text, vec![ints(ea, &sa, &bytes(&sa, k)), ints(eb, &sb, &bytes(&sb, k + 100))]);
    }
}

#[test]
fn binary_weights_on_unsigned_rows_are_exact() {
    for k in [16u64, 9] {
        let a = format!("tensor<3x{k}x!quant.int<w=8, unsigned, scale=0.02, zp=128>>");
        let w = format!("tensor<{k}x5x!quant.bin<axis=1, scales=[0.5, 0.25, 0.125, 1.0, 2.0]>>");
        let acc = "tensor<3x5x!quant.int<w=32, signed, axis=1, scales=[0.01, 0.005, 0.0025, 0.02, 0.04], zps=[0, 0, 0, 0, 0]>>";
        let bit = |i: u64| (i * 7 + i / 3) % 2;
        let rows: Vec<String> = (0..k)
            .map(|p| format!("[{}]", (0..5).map(|j| bit(p * 5 + j).to_string()).collect::<Vec<_>>().join(", ")))
            .collect();
        let text = format!(
            "func @f(%a: {a}) -> {acc} {{
  %w = constant dense<[{}]> : {w}
  %acc = quant.qmatmul %a, %w : ({a}, {w}) -> {acc}
  return %acc : {acc}
}}",
            rows.join(", ")
        );
        exact(&text, vec![ints(quant(8, false, 0.02, 128), &[3, k], &bytes(&[3, k], k))]);
    }
}
