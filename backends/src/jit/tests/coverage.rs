//! Differential tests of the ops the JIT covers through tables and gather
//! forms: `nn.resize` in every mode, `nn.conv_transpose`, and the integer
//! mean of 64-bit elements. All bit-identical with the interpreter.

use super::*;

/// A one-op program: `op` with `attrs` on arguments of types `ins`.
fn one_op(op: &str, attrs: &str, ins: &[&str], out: &str) -> String {
    let args: Vec<String> = ins.iter().enumerate().map(|(i, t)| format!("%a{i}: {t}")).collect();
    let names: Vec<String> = (0..ins.len()).map(|i| format!("%a{i}")).collect();
    format!(
        "func @f({}) -> {out} {{\n  %0 = {op} {} {{{attrs}}} : ({}) -> {out}\n  return %0 : {out}\n}}",
        args.join(", "),
        names.join(", "),
        ins.join(", ")
    )
}

fn ty(shape: &[u64], elem: &str) -> String {
    let dims: Vec<String> = shape.iter().map(u64::to_string).collect();
    format!("tensor<{}x{elem}>", dims.join("x"))
}

fn floats(v: &[f64]) -> String {
    let items: Vec<String> = v.iter().map(|x| format!("{x:?}")).collect();
    format!("[{}]", items.join(", "))
}

fn resize_case(input: &[u64], size: &[u64], extra: &str, elem: &str, x: Tensor) {
    let scales: Vec<f64> = input.iter().zip(size).map(|(&i, &o)| o as f64 / i as f64).collect();
    let dims: Vec<String> = size.iter().map(u64::to_string).collect();
    let attrs = format!("{extra}scales = {}, size = [{}]", floats(&scales), dims.join(", "));
    let text = one_op("nn.resize", &attrs, &[&ty(input, elem)], &ty(size, elem));
    exact(&text, vec![x]);
}

#[test]
fn resize_every_mode_and_coordinate_transformation() {
    let coords = ["half_pixel", "half_pixel_symmetric", "pytorch_half_pixel", "align_corners", "asymmetric"];
    let modes = [
        "mode = \"nearest\", ",
        "mode = \"nearest\", nearest_mode = \"round_prefer_ceil\", ",
        "mode = \"nearest\", nearest_mode = \"floor\", ",
        "mode = \"nearest\", nearest_mode = \"ceil\", ",
        "mode = \"linear\", ",
        "mode = \"cubic\", ",
        "mode = \"cubic\", cubic_coeff_a = -0.5, exclude_outside = true, ",
        "mode = \"linear\", antialias = true, ",
        "mode = \"cubic\", antialias = true, ",
    ];
    for coord in coords {
        for mode in modes {
            let extra = format!("coordinate_transformation_mode = \"{coord}\", {mode}");
            // Up in one dim, down in another, one unchanged.
            resize_case(&[2, 5, 6], &[2, 8, 3], &extra, "f32", f32s(&[2, 5, 6], 31));
            resize_case(&[1, 7], &[1, 1], &extra, "f32", f32s(&[1, 7], 32));
        }
    }
}

#[test]
fn resize_crop_extrapolates_outside_the_roi() {
    let extra = "coordinate_transformation_mode = \"tf_crop_and_resize\", extrapolation_value = -7.5, \
mode = \"linear\", roi = [0.0, 0.25, 1.0, 1.25], ";
    resize_case(&[3, 4], &[5, 6], extra, "f32", f32s(&[3, 4], 33));
    let i16t = ElemType::Int { width: 16, signed: true };
    resize_case(&[3, 4], &[5, 6], extra, "i16", rand_ints(i16t, &[3, 4], 34, 30000.0));
}

#[test]
fn resize_integers_truncate_and_saturate_like_the_reference() {
    let linear = "coordinate_transformation_mode = \"half_pixel\", mode = \"cubic\", ";
    let u8t = ElemType::Int { width: 8, signed: false };
    // Cubic overshoots: the results saturate at 0 and 255.
    resize_case(&[1, 6], &[2, 13], linear, "u8", ints(u8t, &[1, 6], &[0, 255, 0, 255, 255, 0]));
    resize_case(&[4, 3], &[7, 5], linear, "i64", rand_ints(ElemType::I64, &[4, 3], 35, 1e15));
    resize_case(&[4, 3], &[2, 5], linear, "i32", rand_ints(ElemType::I32, &[4, 3], 36, 1e9));
    let f64s = Tensor { elem: ElemType::F64, shape: vec![3, 3], data: TensorData::F64(noise(9, 37, 3.0)) };
    resize_case(&[3, 3], &[5, 4], linear, "f64", f64s);
}

#[test]
fn resize_keeps_nan_infinity_and_negative_zero() {
    let mut x = f32s(&[2, 4], 38);
    if let TensorData::F32(v) = &mut x.data {
        v[0] = f32::NAN;
        v[3] = f32::INFINITY;
        v[4] = -0.0;
        v[5] = -0.0;
    }
    let linear = "coordinate_transformation_mode = \"align_corners\", mode = \"linear\", ";
    resize_case(&[2, 4], &[3, 7], linear, "f32", x.clone());
    let nearest = "coordinate_transformation_mode = \"asymmetric\", mode = \"nearest\", ";
    resize_case(&[2, 4], &[4, 8], nearest, "f32", x);
}

fn conv_transpose_case(x: &[u64], w: &[u64], attrs: &str, out: &[u64], seed: u64) {
    let text = one_op("nn.conv_transpose", attrs, &[&ty(x, "f32"), &ty(w, "f32")], &ty(out, "f32"));
    exact(&text, vec![f32s(x, seed), f32s(w, seed + 1)]);
}

#[test]
fn conv_transpose_is_bit_exact_with_strides_dilations_pads_and_groups() {
    conv_transpose_case(
        &[1, 1, 4, 4],
        &[1, 1, 3, 3],
        "dilations = [1, 1], groups = 1, pads = [0, 0, 0, 0], strides = [1, 1]",
        &[1, 1, 6, 6],
        41,
    );
    // Stride 2 with overlapping kernels, cropping and output padding.
    conv_transpose_case(
        &[2, 4, 3, 5],
        &[4, 3, 3, 4],
        "dilations = [1, 2], groups = 2, pads = [1, 0, -1, 2], strides = [2, 3]",
        &[2, 6, 7, 17],
        43,
    );
    // 1-d and 3-d, stride larger than the kernel (gaps of zeros).
    conv_transpose_case(
        &[1, 2, 5],
        &[2, 1, 2],
        "dilations = [1], groups = 1, pads = [0, -2], strides = [3]",
        &[1, 1, 16],
        45,
    );
    conv_transpose_case(
        &[1, 2, 2, 3, 2],
        &[2, 2, 2, 2, 3],
        "dilations = [2, 1, 1], groups = 1, pads = [0, 1, 0, 0, 0, 1], strides = [1, 2, 2]",
        &[1, 2, 4, 5, 4],
        47,
    );
}

#[test]
fn integer_mean_of_64_bit_elements_sums_in_128_bits() {
    let text = "func @f(%x: tensor<3x4xi64>, %u: tensor<2x3xu64>) -> (tensor<3xi64>, tensor<4xi64>, tensor<2xu64>) {
  %0 = nn.reduce_mean %x {axes = [1], keepdims = false} : (tensor<3x4xi64>) -> tensor<3xi64>
  %1 = nn.reduce_mean %x {axes = [0], keepdims = false} : (tensor<3x4xi64>) -> tensor<4xi64>
  %2 = nn.reduce_mean %u {axes = [1], keepdims = false} : (tensor<2x3xu64>) -> tensor<2xu64>
  return %0, %1, %2 : tensor<3xi64>, tensor<4xi64>, tensor<2xu64>
}";
    let (max, min) = (i64::MAX, i64::MIN);
    let x = ints(ElemType::I64, &[3, 4], &[max, max, max, max - 1, min, min, min + 5, -3, -7, 2, 0, 1]);
    let u64t = ElemType::Int { width: 64, signed: false };
    // u64 values above 2^63 are held as their bits.
    let u = ints(u64t, &[2, 3], &[-1, -1, -2, 5, 6, 8]);
    exact(text, vec![x, u]);
    let odd = "func @f(%x: tensor<7xi40>) -> tensor<1xi40> {
  %0 = nn.reduce_mean %x {axes = [0], keepdims = true} : (tensor<7xi40>) -> tensor<1xi40>
  return %0 : tensor<1xi40>
}";
    let i40 = ElemType::Int { width: 40, signed: true };
    exact(odd, vec![rand_ints(i40, &[7], 49, 5e11)]);
}

#[test]
fn float_sums_of_negative_zeros_start_at_positive_zero_like_the_reference() {
    let text = "func @f(%x: tensor<2x2xf32>) -> (tensor<2xf32>, tensor<2xf32>) {
  %0 = nn.reduce_sum %x {axes = [1], keepdims = false} : (tensor<2x2xf32>) -> tensor<2xf32>
  %1 = nn.reduce_mean %x {axes = [1], keepdims = false} : (tensor<2x2xf32>) -> tensor<2xf32>
  return %0, %1 : tensor<2xf32>, tensor<2xf32>
}";
    let x = Tensor { elem: ElemType::F32, shape: vec![2, 2], data: TensorData::F32(vec![-0.0, -0.0, 1.0, -1.0]) };
    exact(text, vec![x]);
}
