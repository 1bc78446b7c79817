//! Elementwise maps on SIMD lanes against the interpreter, bit for bit:
//! every f32 unary op over special values and many magnitudes, lengths
//! with and without a scalar tail, broadcasts along the vectorized dim,
//! and integer maps of widths 8 to 64, signed and unsigned (lanes for 16-
//! and 32-bit containers, scalar code for the others).

use super::*;

/// f32 values over many magnitudes, with the special ones first.
fn wide_f32s(n: usize, seed: u64) -> Vec<f32> {
    let specials = [
        f32::NAN,
        -0.0,
        0.0,
        f32::INFINITY,
        f32::NEG_INFINITY,
        1e-40,
        -1e-40,
        f32::MAX,
        -f32::MAX,
        88.8,
        -104.5,
        0.875,
        -0.625,
        1e-30,
    ];
    let noise = noise(n, seed, 1.0);
    (0..n)
        .map(|i| match specials.get(i) {
            Some(&s) => s,
            None => {
                let v = noise[i];
                // Magnitudes from 2^-20 to 2^7.
                let scale = 2f64.powi((i % 28) as i32 - 20);
                (v * scale * 4.0) as f32
            }
        })
        .collect()
}

fn f32_tensor(values: Vec<f32>) -> Tensor {
    Tensor { elem: ElemType::F32, shape: vec![values.len() as u64], data: TensorData::F32(values) }
}

const UNARY: [&str; 12] =
    ["neg", "abs", "relu", "reciprocal", "sqrt", "exp", "log", "erf", "tanh", "sigmoid", "gelu", "gelu_tanh"];

/// A function applying one unary op to a vector of `n` f32s.
fn unary_program(op: &str, n: usize) -> String {
    let t = format!("tensor<{n}xf32>");
    let body = match op {
        "gelu_tanh" => format!("%0 = nn.gelu %x {{approximate = \"tanh\"}} : {t}"),
        _ => format!("%0 = nn.{op} %x : {t}"),
    };
    format!("func @f(%x: {t}) -> {t} {{\n  {body}\n  return %0 : {t}\n}}")
}

#[test]
fn every_f32_unary_op_is_bit_exact_on_lanes_and_tails() {
    for n in [1, 3, 4, 7, 8, 13, 64, 203] {
        for op in UNARY {
            exact(&unary_program(op, n), vec![f32_tensor(wide_f32s(n, n as u64))]);
        }
    }
}

#[test]
fn f32_math_covers_whole_ranges_bit_exactly() {
    // A dense grid over the ranges where the algorithms switch branches,
    // and a stride through all f32 bit patterns.
    let grid: Vec<f32> = (-16_000..16_000).map(|i| i as f32 * 1e-3).collect();
    let strided: Vec<f32> = (0..65_536u32).map(|i| f32::from_bits(i.wrapping_mul(65_537))).collect();
    for values in [grid, strided] {
        let n = values.len();
        for op in ["exp", "log", "erf", "tanh", "sigmoid", "gelu", "gelu_tanh"] {
            exact(&unary_program(op, n), vec![f32_tensor(values.clone())]);
        }
    }
}

#[test]
fn float_binary_ops_broadcast_along_and_across_lanes() {
    let text = "func @f(%a: tensor<3x2x7xf32>, %b: tensor<7xf32>, %c: tensor<2x1xf32>, %s: tensor<f32>) -> (tensor<3x2x7xf32>, tensor<3x2x7xf32>, tensor<3x2x7xf32>, tensor<3x2x7xf32>, tensor<3x2x7xf32>) {
  %0 = nn.add %a, %b : (tensor<3x2x7xf32>, tensor<7xf32>) -> tensor<3x2x7xf32>
  %1 = nn.div %a, %c : (tensor<3x2x7xf32>, tensor<2x1xf32>) -> tensor<3x2x7xf32>
  %2 = nn.max %a, %s : (tensor<3x2x7xf32>, tensor<f32>) -> tensor<3x2x7xf32>
  %3 = nn.min %b, %a : (tensor<7xf32>, tensor<3x2x7xf32>) -> tensor<3x2x7xf32>
  %l = nn.less %a, %c : (tensor<3x2x7xf32>, tensor<2x1xf32>) -> tensor<3x2x7xbool>
  %g = nn.greater_equal %a, %b : (tensor<3x2x7xf32>, tensor<7xf32>) -> tensor<3x2x7xbool>
  %o = nn.or %l, %g : (tensor<3x2x7xbool>, tensor<3x2x7xbool>) -> tensor<3x2x7xbool>
  %n = nn.not %o : tensor<3x2x7xbool>
  %sel = nn.select %n, %a, %b : (tensor<3x2x7xbool>, tensor<3x2x7xf32>, tensor<7xf32>) -> tensor<3x2x7xf32>
  %4 = nn.clip %sel {max = 2.5, min = -1.0} : tensor<3x2x7xf32>
  return %0, %1, %2, %3, %4 : tensor<3x2x7xf32>, tensor<3x2x7xf32>, tensor<3x2x7xf32>, tensor<3x2x7xf32>, tensor<3x2x7xf32>
}";
    let mut a = f32s(&[3, 2, 7], 31);
    if let TensorData::F32(v) = &mut a.data {
        v[0] = f32::NAN;
        v[5] = -0.0;
        v[9] = f32::INFINITY;
    }
    let mut b = f32s(&[7], 32);
    if let TensorData::F32(v) = &mut b.data {
        v[1] = f32::NAN;
        v[2] = 0.0;
    }
    let s = Tensor { elem: ElemType::F32, shape: vec![], data: TensorData::F32(vec![0.5]) };
    exact(text, vec![a, b, f32s(&[2, 1], 33), s]);
}

fn elem_of(ty: &str) -> ElemType {
    let width = ty[1..].parse().unwrap_or(8);
    ElemType::Int { width, signed: ty.starts_with('i') }
}

/// `n` values of an integer type: the type's extremes first, then noise.
fn int_values(elem: &ElemType, n: usize, seed: u64) -> Tensor {
    let ElemType::Int { width, signed } = *elem else { panic!("not an integer type") };
    let (lo, hi): (i64, i64) = match (signed, width) {
        (true, 64) => (i64::MIN, i64::MAX),
        (true, w) => (-(1 << (w - 1)), (1 << (w - 1)) - 1),
        // u64 values are held as their bits.
        (false, 64) => (0, -1),
        (false, w) => (0, (1 << w) - 1),
    };
    let span = if width >= 53 { 2f64.powi(52) } else { 2f64.powi(i32::from(width)) };
    let mut v: Vec<i64> = noise(n, seed, 1.0)
        .iter()
        .map(|x| if signed { (x * span / 2.0) as i64 } else { (x.abs() * span) as i64 })
        .collect();
    if n >= 3 {
        v[0] = lo;
        v[1] = hi;
        v[2] = if signed { -1 } else { 1 };
    }
    let shape = if n == 1 { vec![] } else { vec![n as u64] };
    ints(elem.clone(), &shape, &v)
}

#[test]
fn integer_maps_wrap_like_the_interpreter_at_every_width() {
    for ty in ["i8", "u8", "i16", "u16", "i12", "u10", "i32", "u32", "i20", "u24", "i64", "u64"] {
        let t = format!("tensor<19x{ty}>");
        let s = format!("tensor<{ty}>");
        let clip = if ty.starts_with('u') { "{max = 900, min = 3}" } else { "{max = 100, min = -7}" };
        let text = format!(
            "func @f(%a: {t}, %b: {t}, %c: {s}) -> ({t}, {t}, {t}, {t}, {t}, {t}, {t}, {t}, {t}, {t}) {{
  %0 = nn.add %a, %b : ({t}, {t}) -> {t}
  %1 = nn.sub %a, %b : ({t}, {t}) -> {t}
  %2 = nn.mul %a, %b : ({t}, {t}) -> {t}
  %3 = nn.max %a, %c : ({t}, {s}) -> {t}
  %4 = nn.min %a, %b : ({t}, {t}) -> {t}
  %5 = nn.neg %a : {t}
  %6 = nn.abs %a : {t}
  %7 = nn.relu %b : {t}
  %8 = nn.clip %a {clip} : {t}
  %l = nn.less %a, %b : ({t}, {t}) -> tensor<19xbool>
  %9 = nn.select %l, %b, %c : (tensor<19xbool>, {t}, {s}) -> {t}
  return %0, %1, %2, %3, %4, %5, %6, %7, %8, %9 : {t}, {t}, {t}, {t}, {t}, {t}, {t}, {t}, {t}, {t}
}}"
        );
        let elem = elem_of(ty);
        let inputs = vec![int_values(&elem, 19, 41), int_values(&elem, 19, 42), int_values(&elem, 1, 43)];
        exact(&text, inputs);
        // 16- and 32-bit containers run all 10 maps on lanes (the comparison
        // is fused into the select: a lane mask); the others are scalar.
        let lanes = matches!(ty, "i16" | "u16" | "i12" | "u10" | "i32" | "u32" | "i20" | "u24");
        assert_eq!(vector_maps(&text), if lanes { 10 } else { 0 }, "{ty}");
    }
}

/// How many maps of `text`'s function run on lanes.
fn vector_maps(text: &str) -> usize {
    let m = parse(text);
    compile(&m, &m.funcs[0]).unwrap_or_else(|d| panic!("compile: {}", d.message)).stats().vector_maps
}

#[test]
fn maps_take_lanes_only_where_they_can() {
    // Contiguous or broadcast innermost dims vectorize; a transposed read
    // (innermost stride 3) and a row shorter than a vector do not.
    let text =
        "func @f(%a: tensor<4x3xf32>, %b: tensor<3xf32>) -> (tensor<4x3xf32>, tensor<3x4xf32>, tensor<4x3xf32>) {
  %0 = nn.add %a, %b : (tensor<4x3xf32>, tensor<3xf32>) -> tensor<4x3xf32>
  %1 = nn.transpose %a {perm = [1, 0]} : (tensor<4x3xf32>) -> tensor<3x4xf32>
  %2 = nn.exp %a : tensor<4x3xf32>
  return %0, %1, %2 : tensor<4x3xf32>, tensor<3x4xf32>, tensor<4x3xf32>
}";
    // %0: rows of 3 (b repeats per row): scalar; %1: strided: scalar;
    // %2: one flat row of 12: lanes.
    assert_eq!(vector_maps(text), 1);
    exact(text, vec![f32s(&[4, 3], 51), f32s(&[3], 52)]);
    assert_eq!(vector_maps(&unary_program("exp", 3)), 0);
    assert_eq!(vector_maps(&unary_program("exp", 4)), 1);
    // f64 and pow stay scalar.
    let f64s = "func @f(%a: tensor<8xf64>) -> tensor<8xf64> {\n  %0 = nn.exp %a : tensor<8xf64>\n  return %0 : tensor<8xf64>\n}";
    assert_eq!(vector_maps(f64s), 0);
}

#[test]
fn softmax_on_lanes_is_bit_exact() {
    // Rows along the contiguous last axis (lanes and a tail), with NaN,
    // infinities and a row of -inf; the log form and a strided axis run
    // the scalar kernel on the same data.
    for n in [4usize, 7, 128, 131] {
        let t = format!("tensor<5x{n}xf32>");
        let text = format!(
            "func @f(%x: {t}) -> ({t}, {t}, {t}) {{
  %0 = nn.softmax %x {{axis = 1}} : {t}
  %1 = nn.log_softmax %x {{axis = -1}} : {t}
  %2 = nn.softmax %x {{axis = 0}} : {t}
  return %0, %1, %2 : {t}, {t}, {t}
}}"
        );
        let mut v: Vec<f32> = noise(5 * n, n as u64, 20.0).iter().map(|&x| x as f32).collect();
        v[1] = f32::NAN;
        v[n + 2] = f32::INFINITY;
        v[2 * n + 3] = f32::NEG_INFINITY;
        v[3 * n..4 * n].iter_mut().for_each(|x| *x = f32::NEG_INFINITY);
        exact(&text, vec![Tensor { elem: ElemType::F32, shape: vec![5, n as u64], data: TensorData::F32(v) }]);
    }
}

#[test]
fn layer_norm_on_lanes_is_bit_exact() {
    // Even and odd rows, a broadcast scale (one value), a scale over two
    // normalized dims (contiguous) and one repeated per row (scalar path).
    let text = "func @f(%x: tensor<3x384xf32>, %y: tensor<2x3x5xf32>, %g: tensor<384xf32>, %b: tensor<384xf32>, %one: tensor<f32>, %g2: tensor<3x5xf32>, %g1: tensor<5xf32>) -> (tensor<3x384xf32>, tensor<3x384xf32>, tensor<2x3x5xf32>, tensor<2x3x5xf32>) {
  %0 = nn.layer_norm %x, %g, %b {axis = 1, epsilon = 1.0e-12} : (tensor<3x384xf32>, tensor<384xf32>, tensor<384xf32>) -> tensor<3x384xf32>
  %1 = nn.layer_norm %x, %one, %b {axis = -1, epsilon = 1.0e-5} : (tensor<3x384xf32>, tensor<f32>, tensor<384xf32>) -> tensor<3x384xf32>
  %2 = nn.layer_norm %y, %g2, %one {axis = 1, epsilon = 0.0} : (tensor<2x3x5xf32>, tensor<3x5xf32>, tensor<f32>) -> tensor<2x3x5xf32>
  %3 = nn.layer_norm %y, %g1, %g1 {axis = 1, epsilon = 0.5} : (tensor<2x3x5xf32>, tensor<5xf32>, tensor<5xf32>) -> tensor<2x3x5xf32>
  return %0, %1, %2, %3 : tensor<3x384xf32>, tensor<3x384xf32>, tensor<2x3x5xf32>, tensor<2x3x5xf32>
}";
    let mut x = f32s(&[3, 384], 71);
    if let TensorData::F32(v) = &mut x.data {
        v[7] = f32::NAN;
        v[400] = 1e30;
    }
    let one = Tensor { elem: ElemType::F32, shape: vec![], data: TensorData::F32(vec![1.5]) };
    exact(
        text,
        vec![x, f32s(&[2, 3, 5], 72), f32s(&[384], 73), f32s(&[384], 74), one, f32s(&[3, 5], 75), f32s(&[5], 76)],
    );
}

#[test]
fn layer_norm_sums_of_short_rows_rotate_four_accumulators() {
    // Rows of 3 and 6 elements: the sums take the scalar path (fewer than
    // four) and the lane path with a tail of two.
    let text = "func @f(%x: tensor<5x3xf32>, %y: tensor<2x6xf32>, %g: tensor<3xf32>, %h: tensor<6xf32>) -> (tensor<5x3xf32>, tensor<2x6xf32>) {
  %0 = nn.layer_norm %x, %g, %g {axis = 1, epsilon = 1.0e-5} : (tensor<5x3xf32>, tensor<3xf32>, tensor<3xf32>) -> tensor<5x3xf32>
  %1 = nn.layer_norm %y, %h, %h {axis = 1, epsilon = 1.0e-5} : (tensor<2x6xf32>, tensor<6xf32>, tensor<6xf32>) -> tensor<2x6xf32>
  return %0, %1 : tensor<5x3xf32>, tensor<2x6xf32>
}";
    let mut y = f32s(&[2, 6], 82);
    if let TensorData::F32(v) = &mut y.data {
        // A row where the order of the sum shows: in order the 1 is lost
        // against 1e17; in partial sums (s0 = 1 + 0, s1 = 1e17 - 1e17) not.
        v[..6].copy_from_slice(&[1.0, 1e17, 0.0, 0.0, 0.0, -1e17]);
    }
    exact(text, vec![f32s(&[5, 3], 81), y, f32s(&[3], 83), f32s(&[6], 84)]);
}
