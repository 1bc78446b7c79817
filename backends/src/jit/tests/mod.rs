//! Differential unit tests: small nn programs in weft text run through the
//! interpreter and the JIT. Every result must be bit-identical
//! (spec/jit.md, numeric conventions).

mod fusion;
mod lanes;
mod nl;
mod quant_speed;
mod regions;

use super::*;
use weft_ir::interp::run_function;
use weft_ir::parser::parse_str;
use weft_ir::{Context, ElemType, TensorData};

fn parse(text: &str) -> Module {
    let (sources, m) = parse_str(&Context::default(), "test.weft", text);
    match m {
        Ok(m) => m,
        Err(d) => panic!("{}", weft_ir::diag::render_all(&d, &sources)),
    }
}

/// Deterministic values in [-scale, scale) (xorshift).
fn noise(n: usize, seed: u64, scale: f64) -> Vec<f64> {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            ((s >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0) * scale
        })
        .collect()
}

fn f32s(shape: &[u64], seed: u64) -> Tensor {
    let n = shape.iter().product::<u64>() as usize;
    Tensor {
        elem: ElemType::F32,
        shape: shape.to_vec(),
        data: TensorData::F32(noise(n, seed, 3.0).iter().map(|&x| x as f32).collect()),
    }
}

fn ints(elem: ElemType, shape: &[u64], values: &[i64]) -> Tensor {
    Tensor { elem, shape: shape.to_vec(), data: TensorData::Int(values.to_vec()) }
}

fn rand_ints(elem: ElemType, shape: &[u64], seed: u64, range: f64) -> Tensor {
    let n = shape.iter().product::<u64>() as usize;
    let v: Vec<i64> = noise(n, seed, range).iter().map(|x| x.round() as i64).collect();
    ints(elem, shape, &v)
}

/// Runs both engines; the JIT's results and the interpreter's.
fn both(text: &str, inputs: Vec<Tensor>) -> (Vec<Tensor>, Vec<Tensor>) {
    let m = parse(text);
    let f = &m.funcs[0];
    let want = run_function(&m, f, inputs.clone()).unwrap_or_else(|d| panic!("interp: {}", d.message));
    let compiled = compile(&m, f).unwrap_or_else(|d| panic!("compile: {}", d.message));
    let got = compiled.run(inputs).unwrap_or_else(|d| panic!("jit: {}", d.message));
    (got, want)
}

/// Bit-identical results.
fn exact(text: &str, inputs: Vec<Tensor>) {
    let (got, want) = both(text, inputs);
    same_bits(&got, &want);
}

fn same_bits(got: &[Tensor], want: &[Tensor]) {
    assert_eq!(got.len(), want.len());
    for (g, w) in got.iter().zip(want) {
        assert_eq!((&g.elem, &g.shape), (&w.elem, &w.shape));
        for i in 0..w.data.len() {
            let (a, b) = (g.data.get(i), w.data.get(i));
            let same = match (a, b) {
                (weft_ir::tensor::Scalar::Float(x), weft_ir::tensor::Scalar::Float(y)) => {
                    x.to_bits() == y.to_bits() || (x.is_nan() && y.is_nan())
                }
                _ => a == b,
            };
            assert!(same, "element {i}: jit {a:?}, interp {b:?}");
        }
    }
}

#[test]
fn hardware_declarations_compute_nothing() {
    let text = "func @f(%a: tensor<2x3xf32>) -> tensor<2x3xf32> {
  hw.engine {act_bits = 8, bram18 = 6, cycles = 211, dsp = 0, ff = 2302, kind = \"fc\", lut = 1866, t_in = 8, t_m = 4, t_out = 2, weight_bits = 1, word_bits = 64} : () -> ()
  %0 = nn.add %a, %a : (tensor<2x3xf32>, tensor<2x3xf32>) -> tensor<2x3xf32>
  return %0 : tensor<2x3xf32>
}";
    exact(text, vec![f32s(&[2, 3], 1)]);
}

#[test]
fn float_elementwise_with_broadcasting_is_bit_exact() {
    let text = "func @f(%a: tensor<2x3x4xf32>, %b: tensor<3x1xf32>) -> tensor<2x3x4xf32> {
  %0 = nn.add %a, %b : (tensor<2x3x4xf32>, tensor<3x1xf32>) -> tensor<2x3x4xf32>
  %1 = nn.mul %0, %a : (tensor<2x3x4xf32>, tensor<2x3x4xf32>) -> tensor<2x3x4xf32>
  %2 = nn.div %1, %b : (tensor<2x3x4xf32>, tensor<3x1xf32>) -> tensor<2x3x4xf32>
  %3 = nn.sub %2, %a : (tensor<2x3x4xf32>, tensor<2x3x4xf32>) -> tensor<2x3x4xf32>
  %4 = nn.max %3, %b : (tensor<2x3x4xf32>, tensor<3x1xf32>) -> tensor<2x3x4xf32>
  %5 = nn.min %4, %a : (tensor<2x3x4xf32>, tensor<2x3x4xf32>) -> tensor<2x3x4xf32>
  %6 = nn.pow %5, %b : (tensor<2x3x4xf32>, tensor<3x1xf32>) -> tensor<2x3x4xf32>
  return %6 : tensor<2x3x4xf32>
}";
    exact(text, vec![f32s(&[2, 3, 4], 1), f32s(&[3, 1], 2)]);
}

#[test]
fn float_functions_call_the_reference_math() {
    let mut ops = String::new();
    let names = ["neg", "abs", "relu", "reciprocal", "sqrt", "exp", "log", "erf", "tanh", "sigmoid", "gelu"];
    let mut prev = "%x".to_string();
    for (i, n) in names.iter().enumerate() {
        let x = if matches!(*n, "sqrt" | "log") { "%x" } else { prev.as_str() };
        ops.push_str(&format!("  %{i} = nn.{n} {x} : tensor<64xf32>\n"));
        prev = format!("%{i}");
    }
    ops.push_str("  %t = nn.gelu %x {approximate = \"tanh\"} : tensor<64xf32>\n");
    let results: Vec<String> = (0..names.len()).map(|i| format!("%{i}")).chain(["%t".into()]).collect();
    let types = vec!["tensor<64xf32>"; results.len()].join(", ");
    let text =
        format!("func @f(%x: tensor<64xf32>) -> ({types}) {{\n{ops}  return {} : {types}\n}}", results.join(", "));
    let mut x = f32s(&[64], 3);
    if let TensorData::F32(v) = &mut x.data {
        v[0] = f32::NAN;
        v[1] = -0.0;
        v[2] = 1e30;
    }
    exact(&text, vec![x]);
}

#[test]
fn integer_arithmetic_wraps_like_the_interpreter() {
    let text = "func @f(%a: tensor<6xi8>, %b: tensor<6xi8>, %c: tensor<6xu8>, %d: tensor<1xi16>) -> (tensor<6xi8>, tensor<6xi8>, tensor<6xi8>, tensor<6xu8>, tensor<6xu8>, tensor<6xi16>, tensor<6xi8>, tensor<6xi8>) {
  %0 = nn.add %a, %b : (tensor<6xi8>, tensor<6xi8>) -> tensor<6xi8>
  %1 = nn.mul %a, %b : (tensor<6xi8>, tensor<6xi8>) -> tensor<6xi8>
  %2 = nn.div %a, %b : (tensor<6xi8>, tensor<6xi8>) -> tensor<6xi8>
  %3 = nn.sub %c, %c : (tensor<6xu8>, tensor<6xu8>) -> tensor<6xu8>
  %4 = nn.neg %c : tensor<6xu8>
  %5 = nn.cast %a {to = i16} : (tensor<6xi8>) -> tensor<6xi16>
  %6 = nn.mul %5, %d : (tensor<6xi16>, tensor<1xi16>) -> tensor<6xi16>
  %7 = nn.abs %a : tensor<6xi8>
  %8 = nn.max %a, %b : (tensor<6xi8>, tensor<6xi8>) -> tensor<6xi8>
  %9 = nn.sub %4, %c : (tensor<6xu8>, tensor<6xu8>) -> tensor<6xu8>
  return %0, %1, %2, %3, %9, %6, %7, %8 : tensor<6xi8>, tensor<6xi8>, tensor<6xi8>, tensor<6xu8>, tensor<6xu8>, tensor<6xi16>, tensor<6xi8>, tensor<6xi8>
}";
    let u8t = ElemType::Int { width: 8, signed: false };
    let i16t = ElemType::Int { width: 16, signed: true };
    exact(
        text,
        vec![
            ints(ElemType::I8, &[6], &[127, -128, -7, 100, 0, -1]),
            ints(ElemType::I8, &[6], &[1, -1, 2, 100, 5, -128]),
            ints(u8t, &[6], &[0, 1, 200, 255, 128, 7]),
            ints(i16t, &[1], &[300]),
        ],
    );
}

#[test]
fn integer_division_by_zero_fails_at_the_op() {
    let text = "func @f(%a: tensor<2xi32>, %b: tensor<2xi32>) -> tensor<2xi32> {
  %0 = nn.div %a, %b : (tensor<2xi32>, tensor<2xi32>) -> tensor<2xi32>
  return %0 : tensor<2xi32>
}";
    let m = parse(text);
    let c = compile(&m, &m.funcs[0]).unwrap();
    let e = c.run(vec![ints(ElemType::I32, &[2], &[1, 2]), ints(ElemType::I32, &[2], &[1, 0])]).unwrap_err();
    assert_eq!(e.message, "'nn.div' op: integer division by zero");
    let i64s = |v: &[i64]| ints(ElemType::I64, &[2], v);
    let text64 = text.replace("i32", "i64");
    exact(&text64, vec![i64s(&[i64::MIN, -7]), i64s(&[-1, 2])]);
}

#[test]
fn compare_logic_select_cast_clip() {
    let text = "func @f(%a: tensor<2x4xf32>, %b: tensor<4xf32>, %i: tensor<2x4xi32>) -> (tensor<2x4xf32>, tensor<2x4xi8>, tensor<2x4xbool>, tensor<2x4xf32>, tensor<2x4xi32>, tensor<2x4xu8>, tensor<2x4xf64>) {
  %0 = nn.less %a, %b : (tensor<2x4xf32>, tensor<4xf32>) -> tensor<2x4xbool>
  %1 = nn.greater_equal %a, %b : (tensor<2x4xf32>, tensor<4xf32>) -> tensor<2x4xbool>
  %2 = nn.or %0, %1 : (tensor<2x4xbool>, tensor<2x4xbool>) -> tensor<2x4xbool>
  %3 = nn.not %0 : tensor<2x4xbool>
  %4 = nn.and %3, %2 : (tensor<2x4xbool>, tensor<2x4xbool>) -> tensor<2x4xbool>
  %5 = nn.select %0, %a, %b : (tensor<2x4xbool>, tensor<2x4xf32>, tensor<4xf32>) -> tensor<2x4xf32>
  %6 = nn.cast %a {to = i8} : (tensor<2x4xf32>) -> tensor<2x4xi8>
  %7 = nn.clip %a {max = 1.5, min = -0.5} : tensor<2x4xf32>
  %8 = nn.clip %i {max = 100, min = -3} : tensor<2x4xi32>
  %9 = nn.cast %i {to = u8} : (tensor<2x4xi32>) -> tensor<2x4xu8>
  %10 = nn.cast %i {to = f64} : (tensor<2x4xi32>) -> tensor<2x4xf64>
  return %5, %6, %4, %7, %8, %9, %10 : tensor<2x4xf32>, tensor<2x4xi8>, tensor<2x4xbool>, tensor<2x4xf32>, tensor<2x4xi32>, tensor<2x4xu8>, tensor<2x4xf64>
}";
    let mut a = f32s(&[2, 4], 5);
    if let TensorData::F32(v) = &mut a.data {
        v[0] = f32::NAN;
        v[1] = 300.0;
        v[2] = -1e10;
    }
    let i = ints(ElemType::I32, &[2, 4], &[-5, 0, 7, 255, 256, 1000, -129, i32::MAX as i64]);
    exact(text, vec![a, f32s(&[4], 6), i]);
}

#[test]
fn float_matmuls_are_bit_exact() {
    // 9x19 by 19x21 over a batch of 2: partial tiles in rows and columns.
    let text = "func @f(%a: tensor<2x9x19xf32>, %b: tensor<19x21xf32>) -> tensor<2x9x21xf32> {
  %0 = nn.matmul %a, %b : (tensor<2x9x19xf32>, tensor<19x21xf32>) -> tensor<2x9x21xf32>
  return %0 : tensor<2x9x21xf32>
}";
    exact(text, vec![f32s(&[2, 9, 19], 7), f32s(&[19, 21], 8)]);
    // The left operand broadcasts over the right one's batch.
    let small = "func @f(%a: tensor<3x5xf32>, %b: tensor<2x5x2xf32>) -> tensor<2x3x2xf32> {
  %0 = nn.matmul %a, %b : (tensor<3x5xf32>, tensor<2x5x2xf32>) -> tensor<2x3x2xf32>
  return %0 : tensor<2x3x2xf32>
}";
    exact(small, vec![f32s(&[3, 5], 9), f32s(&[2, 5, 2], 10)]);
    // Attention-like: both operands computed (B packed per call), batch
    // dims broadcast on both sides; k = 0 gives +0.0.
    let qk = "func @f(%q: tensor<2x1x17x8xf32>, %k: tensor<1x3x8x33xf32>, %e: tensor<4x0xf32>, %z: tensor<0x3xf32>) -> (tensor<2x3x17x33xf32>, tensor<4x3xf32>) {
  %0 = nn.matmul %q, %k : (tensor<2x1x17x8xf32>, tensor<1x3x8x33xf32>) -> tensor<2x3x17x33xf32>
  %1 = nn.matmul %e, %z : (tensor<4x0xf32>, tensor<0x3xf32>) -> tensor<4x3xf32>
  return %0, %1 : tensor<2x3x17x33xf32>, tensor<4x3xf32>
}";
    let empty = |shape: &[u64]| Tensor { elem: ElemType::F32, shape: shape.to_vec(), data: TensorData::F32(vec![]) };
    exact(qk, vec![f32s(&[2, 1, 17, 8], 25), f32s(&[1, 3, 8, 33], 26), empty(&[4, 0]), empty(&[0, 3])]);
    let f64s = "func @f(%a: tensor<7x300xf64>, %b: tensor<300x9xf64>) -> tensor<7x9xf64> {
  %0 = nn.matmul %a, %b : (tensor<7x300xf64>, tensor<300x9xf64>) -> tensor<7x9xf64>
  return %0 : tensor<7x9xf64>
}";
    let widen = |t: Tensor| match t.data {
        TensorData::F32(v) => Tensor {
            elem: ElemType::F64,
            shape: t.shape,
            data: TensorData::F64(v.iter().map(|&x| f64::from(x) / 3.0).collect()),
        },
        _ => t,
    };
    exact(f64s, vec![widen(f32s(&[7, 300], 27)), widen(f32s(&[300, 9], 28))]);
}

#[test]
fn weights_are_packed_once_at_compile_time() {
    // A resource weight with its own batch dim (broadcast over %x's) and an
    // inline constant weight; a constant left operand.
    let text = "func @f(%x: tensor<3x1x5x6xf32>) -> (tensor<3x2x5x7xf32>, tensor<3x1x5x2xf32>, tensor<4x6xf32>) {
  %w = constant dense_resource<w> : tensor<2x6x7xf32>
  %v = constant dense<[[1.5, -2.0], [0.25, 3.0], [1.0, 1.0], [-0.5, 0.125], [2.0, 0.0], [1.0, -1.0]]> : tensor<6x2xf32>
  %l = constant dense_resource<l> : tensor<4x5xf32>
  %0 = nn.matmul %x, %w : (tensor<3x1x5x6xf32>, tensor<2x6x7xf32>) -> tensor<3x2x5x7xf32>
  %1 = nn.matmul %x, %v : (tensor<3x1x5x6xf32>, tensor<6x2xf32>) -> tensor<3x1x5x2xf32>
  %r = nn.reshape %x {shape = [15, 6]} : (tensor<3x1x5x6xf32>) -> tensor<15x6xf32>
  %s = nn.slice %r {sizes = [5, 6], starts = [0, 0], steps = [1, 1]} : (tensor<15x6xf32>) -> tensor<5x6xf32>
  %2 = nn.matmul %l, %s : (tensor<4x5xf32>, tensor<5x6xf32>) -> tensor<4x6xf32>
  return %0, %1, %2 : tensor<3x2x5x7xf32>, tensor<3x1x5x2xf32>, tensor<4x6xf32>
}";
    let mut m = parse(text);
    let w = weft_ir::resources::Resource::from_tensor(&f32s(&[2, 6, 7], 30)).unwrap();
    m.resources.insert("w", w);
    // %l's bytes start at an odd address (as in a mapped file): the
    // runtime reads an aligned copy.
    let TensorData::F32(l) = f32s(&[4, 5], 31).data else { unreachable!() };
    let mut bytes = vec![0u8];
    bytes.extend(l.iter().flat_map(|x| x.to_le_bytes()));
    let odd = Bytes::from(bytes).slice(1..);
    assert_ne!(odd.as_ptr() as usize % 4, 0);
    m.resources.insert("l", weft_ir::resources::Resource::new(ElemType::F32, vec![4, 5], odd).unwrap());
    let f = &m.funcs[0];
    let x = f32s(&[3, 1, 5, 6], 32);
    let want = run_function(&m, f, vec![x.clone()]).unwrap();
    let c = compile(&m, f).unwrap();
    same_bits(&c.run(vec![x.clone()]).unwrap(), &want);
    // Runs repeat on the same packed weights.
    same_bits(&c.run(vec![x]).unwrap(), &want);
    let isa = gemm::Isa::host();
    let packed = |k: usize, n: usize| gemm::packed_len::<f32>(isa, k, n).unwrap() as u64 * 4;
    // %v inline (48 bytes), %w's two matrices packed, %v packed, %l copied.
    assert_eq!(c.stats().constant_bytes, 48 + 2 * packed(6, 7) + packed(6, 2) + 80);
}

#[test]
fn integer_matmuls_wrap_exactly() {
    let int = "func @f(%a: tensor<4x9xi8>, %b: tensor<9x8xi8>) -> tensor<4x8xi8> {
  %0 = nn.matmul %a, %b : (tensor<4x9xi8>, tensor<9x8xi8>) -> tensor<4x8xi8>
  return %0 : tensor<4x8xi8>
}";
    exact(int, vec![rand_ints(ElemType::I8, &[4, 9], 11, 127.0), rand_ints(ElemType::I8, &[9, 8], 12, 127.0)]);
}

#[test]
fn reductions_softmax_and_layer_norm_are_bit_exact() {
    let text = "func @f(%x: tensor<2x3x5xf32>, %g: tensor<5xf32>, %b: tensor<5xf32>) -> (tensor<2x1x5xf32>, tensor<3xf32>, tensor<2x3x1xf32>, tensor<2x3x5xf32>, tensor<2x3x5xf32>, tensor<2x3x5xf32>) {
  %0 = nn.reduce_sum %x {axes = [1], keepdims = true} : (tensor<2x3x5xf32>) -> tensor<2x1x5xf32>
  %1 = nn.reduce_mean %x {axes = [0, 2], keepdims = false} : (tensor<2x3x5xf32>) -> tensor<3xf32>
  %2 = nn.reduce_max %x {axes = [-1], keepdims = true} : (tensor<2x3x5xf32>) -> tensor<2x3x1xf32>
  %3 = nn.softmax %x {axis = 1} : tensor<2x3x5xf32>
  %4 = nn.log_softmax %x {axis = -1} : tensor<2x3x5xf32>
  %5 = nn.layer_norm %x, %g, %b {axis = -1, epsilon = 1.0e-5} : (tensor<2x3x5xf32>, tensor<5xf32>, tensor<5xf32>) -> tensor<2x3x5xf32>
  return %0, %1, %2, %3, %4, %5 : tensor<2x1x5xf32>, tensor<3xf32>, tensor<2x3x1xf32>, tensor<2x3x5xf32>, tensor<2x3x5xf32>, tensor<2x3x5xf32>
}";
    exact(text, vec![f32s(&[2, 3, 5], 13), f32s(&[5], 14), f32s(&[5], 15)]);
    let int = "func @f(%x: tensor<3x4xi16>) -> (tensor<3xi16>, tensor<4xi16>, tensor<1x4xi16>) {
  %0 = nn.reduce_sum %x {axes = [1], keepdims = false} : (tensor<3x4xi16>) -> tensor<3xi16>
  %1 = nn.reduce_mean %x {axes = [0], keepdims = false} : (tensor<3x4xi16>) -> tensor<4xi16>
  %2 = nn.reduce_max %x {axes = [0], keepdims = true} : (tensor<3x4xi16>) -> tensor<1x4xi16>
  return %0, %1, %2 : tensor<3xi16>, tensor<4xi16>, tensor<1x4xi16>
}";
    exact(int, vec![rand_ints(ElemType::Int { width: 16, signed: true }, &[3, 4], 16, 32767.0)]);
}

#[test]
fn layout_ops_move_elements_exactly() {
    let text = "func @f(%x: tensor<2x3x4xf32>, %i: tensor<2x2xi64>) -> (tensor<4x2x3xf32>, tensor<2x2x3x4xf32>, tensor<2x3x7xf32>, tensor<2x2x2xf32>, tensor<2x2x2x4xf32>, tensor<6x4xf32>) {
  %0 = nn.transpose %x {perm = [2, 0, 1]} : (tensor<2x3x4xf32>) -> tensor<4x2x3xf32>
  %1 = nn.broadcast %x {shape = [2, 2, 3, 4]} : (tensor<2x3x4xf32>) -> tensor<2x2x3x4xf32>
  %s = nn.slice %x {sizes = [2, 3, 3], starts = [0, 0, 3], steps = [1, 1, -1]} : (tensor<2x3x4xf32>) -> tensor<2x3x3xf32>
  %2 = nn.concat %x, %s {axis = 2} : (tensor<2x3x4xf32>, tensor<2x3x3xf32>) -> tensor<2x3x7xf32>
  %3 = nn.slice %x {sizes = [2, 2, 2], starts = [0, 1, 0], steps = [1, 1, 2]} : (tensor<2x3x4xf32>) -> tensor<2x2x2xf32>
  %4 = nn.gather %x, %i {axis = 1} : (tensor<2x3x4xf32>, tensor<2x2xi64>) -> tensor<2x2x2x4xf32>
  %5 = nn.reshape %x {shape = [6, 4]} : (tensor<2x3x4xf32>) -> tensor<6x4xf32>
  return %0, %1, %2, %3, %4, %5 : tensor<4x2x3xf32>, tensor<2x2x3x4xf32>, tensor<2x3x7xf32>, tensor<2x2x2xf32>, tensor<2x2x2x4xf32>, tensor<6x4xf32>
}";
    exact(text, vec![f32s(&[2, 3, 4], 17), ints(ElemType::I64, &[2, 2], &[0, -1, 2, 1])]);
    let m = parse(text);
    let c = compile(&m, &m.funcs[0]).unwrap();
    let e = c.run(vec![f32s(&[2, 3, 4], 17), ints(ElemType::I64, &[2, 2], &[0, 3, 2, 1])]).unwrap_err();
    assert_eq!(e.message, "'nn.gather' op: an index is out of range for axis 1 of extent 3");
}

#[test]
fn constants_are_materialized_and_resources_read_in_place() {
    let text = "func @f(%x: tensor<2x3xf32>) -> (tensor<2x3xf32>, tensor<3xf32>) {
  %c = constant dense<[1.0, 2.0, 3.0]> : tensor<3xf32>
  %s = constant dense<2.0> : tensor<2x3xf32>
  %w = constant dense_resource<w> : tensor<3xf32>
  %0 = nn.mul %x, %s : (tensor<2x3xf32>, tensor<2x3xf32>) -> tensor<2x3xf32>
  %1 = nn.add %0, %c : (tensor<2x3xf32>, tensor<3xf32>) -> tensor<2x3xf32>
  %2 = nn.sub %1, %w : (tensor<2x3xf32>, tensor<3xf32>) -> tensor<2x3xf32>
  return %2, %w : tensor<2x3xf32>, tensor<3xf32>
}";
    let mut m = parse(text);
    let w = Tensor { elem: ElemType::F32, shape: vec![3], data: TensorData::F32(vec![0.5, 0.25, -1.0]) };
    m.resources.insert("w", weft_ir::resources::Resource::from_tensor(&w).unwrap());
    let f = &m.funcs[0];
    let want = run_function(&m, f, vec![f32s(&[2, 3], 18)]).unwrap();
    let c = compile(&m, f).unwrap();
    assert_eq!(c.run(vec![f32s(&[2, 3], 18)]).unwrap(), want);
    // The chain mul, add, sub is one fused kernel.
    assert_eq!((c.stats().kernels, c.stats().fused_ops), (1, 2));
    assert_eq!(c.stats().constant_bytes, 12 + 24);
}

#[test]
fn the_planner_reuses_dead_buffers() {
    // A chain of 8 elementwise ops on 1 KiB values needs 2 live buffers
    // (plus the argument, live until its last use).
    let mut ops = String::new();
    for i in 0..8 {
        let prev = if i == 0 { "%x".to_string() } else { format!("%{}", i - 1) };
        ops.push_str(&format!("  %{i} = nn.neg {prev} : tensor<256xf32>\n"));
    }
    let text = format!("func @f(%x: tensor<256xf32>) -> tensor<256xf32> {{\n{ops}  return %7 : tensor<256xf32>\n}}");
    let m = parse(&text);
    let c = compile(&m, &m.funcs[0]).unwrap();
    assert!(c.stats().peak_bytes <= 2 * 1024, "peak {}", c.stats().peak_bytes);
    assert_eq!(c.run(vec![f32s(&[256], 19)]).unwrap(), run_function(&m, &m.funcs[0], vec![f32s(&[256], 19)]).unwrap());
}

/// An op outside the nn dialect, for the JIT's coverage error.
static OTHER: weft_ir::ops::Dialect = weft_ir::ops::Dialect {
    name: "other",
    summary: "",
    description: "",
    ops: &[weft_ir::ops::OpDef {
        name: "other.id",
        operands: weft_ir::ops::Arity::Fixed(&["x"]),
        results: weft_ir::ops::Arity::Fixed(&["y"]),
        ..weft_ir::ops::OpDef::DEFAULT
    }],
};

#[test]
fn uncovered_ops_and_dynamic_shapes_are_clear_errors() {
    let text = "func @f(%x: tensor<4xf32>) -> tensor<4xf32> {
  %0 = \"other.id\"(%x) : (tensor<4xf32>) -> tensor<4xf32>
  return %0 : tensor<4xf32>
}";
    let mut ctx = Context::default();
    ctx.register(&OTHER);
    let (_, m) = parse_str(&ctx, "test.weft", text);
    let m = m.unwrap();
    let e = compile(&m, &m.funcs[0]).err().unwrap();
    assert_eq!(e.message, "'other.id' op: the JIT does not compile 'other.id' yet; use --engine interp");
    let text = "func @f(%x: tensor<4xf16>) -> tensor<4xf16> {
  %0 = nn.neg %x : tensor<4xf16>
  return %0 : tensor<4xf16>
}";
    let m = parse(text);
    let e = compile(&m, &m.funcs[0]).err().unwrap();
    assert!(e.message.contains("has element type f16, which the JIT does not support yet"), "{}", e.message);
    let text = "func @f(%x: tensor<[batch]x4xf32>) -> tensor<[batch]x4xf32> {
  %0 = nn.neg %x : tensor<[batch]x4xf32>
  return %0 : tensor<[batch]x4xf32>
}";
    let m = parse(text);
    let e = compile(&m, &m.funcs[0]).err().unwrap();
    assert!(e.message.contains("argument #0 ('arg0') has type tensor<[batch]x4xf32>"), "{}", e.message);
    assert!(e.message.contains("--input-shape"), "{}", e.message);
}

#[test]
fn inputs_are_checked_like_the_interpreter() {
    let text = "func @f(%x: tensor<4xf32>) -> tensor<4xf32> {
  %0 = nn.neg %x : tensor<4xf32>
  return %0 : tensor<4xf32>
}";
    let m = parse(text);
    let c = compile(&m, &m.funcs[0]).unwrap();
    let e = c.run(vec![f32s(&[5], 1)]).unwrap_err();
    assert!(e.message.contains("has extent 5 in dimension 0"), "{}", e.message);
    assert!(c.run(vec![]).unwrap_err().message.contains("takes 1 inputs, got 0"));
}

#[test]
fn convolutions_are_bit_exact_with_padding_strides_dilations_and_groups() {
    let text = "func @f(%x: tensor<2x4x7x6xf32>, %w: tensor<6x2x3x2xf32>) -> tensor<2x6x3x3xf32> {
  %0 = nn.conv %x, %w {dilations = [2, 1], groups = 2, pads = [1, 0, 2, 1], strides = [2, 2]} : (tensor<2x4x7x6xf32>, tensor<6x2x3x2xf32>) -> tensor<2x6x3x3xf32>
  return %0 : tensor<2x6x3x3xf32>
}";
    exact(text, vec![f32s(&[2, 4, 7, 6], 21), f32s(&[6, 2, 3, 2], 22)]);
    // A patch embedding: stride = kernel, no padding (no bounds checks).
    let patches = "func @f(%x: tensor<1x3x8x8xf32>, %w: tensor<5x3x4x4xf32>) -> tensor<1x5x2x2xf32> {
  %0 = nn.conv %x, %w {dilations = [1, 1], groups = 1, pads = [0, 0, 0, 0], strides = [4, 4]} : (tensor<1x3x8x8xf32>, tensor<5x3x4x4xf32>) -> tensor<1x5x2x2xf32>
  return %0 : tensor<1x5x2x2xf32>
}";
    exact(patches, vec![f32s(&[1, 3, 8, 8], 23), f32s(&[5, 3, 4, 4], 24)]);
}

#[test]
fn constant_weight_convolutions_run_as_matrix_products() {
    // In-bounds convs with constant weights go through im2col and the f64
    // matmul runtime; the padded one stays direct. All bit-exact.
    let text = "func @f(%x: tensor<2x4x9x8xf32>, %p: tensor<1x3x8x8xf32>) -> (tensor<2x6x3x3xf32>, tensor<1x5x2x2xf32>, tensor<2x6x4x4xf32>) {
  %w = constant dense_resource<w> : tensor<6x2x3x2xf32>
  %e = constant dense_resource<e> : tensor<5x3x4x4xf32>
  %0 = nn.conv %x, %w {dilations = [2, 1], groups = 2, pads = [0, 0, 0, 0], strides = [2, 3]} : (tensor<2x4x9x8xf32>, tensor<6x2x3x2xf32>) -> tensor<2x6x3x3xf32>
  %1 = nn.conv %p, %e {dilations = [1, 1], groups = 1, pads = [0, 0, 0, 0], strides = [4, 4]} : (tensor<1x3x8x8xf32>, tensor<5x3x4x4xf32>) -> tensor<1x5x2x2xf32>
  %2 = nn.conv %x, %w {dilations = [1, 1], groups = 2, pads = [1, 0, 0, 1], strides = [2, 2]} : (tensor<2x4x9x8xf32>, tensor<6x2x3x2xf32>) -> tensor<2x6x4x4xf32>
  return %0, %1, %2 : tensor<2x6x3x3xf32>, tensor<1x5x2x2xf32>, tensor<2x6x4x4xf32>
}";
    let mut m = parse(text);
    for (name, shape, seed) in [("w", &[6u64, 2, 3, 2][..], 40), ("e", &[5, 3, 4, 4][..], 41)] {
        m.resources.insert(name, weft_ir::resources::Resource::from_tensor(&f32s(shape, seed)).unwrap());
    }
    let f = &m.funcs[0];
    let inputs = vec![f32s(&[2, 4, 9, 8], 42), f32s(&[1, 3, 8, 8], 43)];
    let want = run_function(&m, f, inputs.clone()).unwrap();
    let c = compile(&m, f).unwrap();
    same_bits(&c.run(inputs).unwrap(), &want);
    // Two weights packed as f64 (%w per group: 2 matrices of k = 12,
    // n = 3; %e: k = 48, n = 5); the padded conv packs nothing.
    let isa = gemm::Isa::host();
    let packed = |k: usize, n: usize| gemm::packed_len::<f64>(isa, k, n).unwrap() as u64 * 8;
    assert_eq!(c.stats().constant_bytes, 2 * packed(12, 3) + packed(48, 5));
}

mod coverage;
mod hook;
