//! The nl dialect on the JIT: every op, at widths 1 to 64, signed and
//! unsigned, on edge values (the type's limits, 0, +-1, values that
//! saturate the result), every pair of operand values through
//! broadcasting, JIT against interpreter bit for bit.

use super::*;

/// `iN` / `uN`.
fn int_type(width: u8, signed: bool) -> String {
    format!("{}{width}", if signed { "i" } else { "u" })
}

fn range(width: u8, signed: bool) -> (i128, i128) {
    let w = u32::from(width);
    if signed {
        (-(1i128 << (w - 1)), (1i128 << (w - 1)) - 1)
    } else {
        (0, (1i128 << w) - 1)
    }
}

/// Edge values of a type (exact), then a few pseudo-random ones.
fn edges(width: u8, signed: bool, seed: u64) -> Vec<i128> {
    let (lo, hi) = range(width, signed);
    let mut v: Vec<i128> = [lo, lo + 1, -2, -1, 0, 1, 2, 3, 5, hi - 1, hi, hi / 2, lo / 2, hi / 3]
        .into_iter()
        .filter(|x| (lo..=hi).contains(x))
        .collect();
    for r in noise(3, seed, 1.0) {
        v.push(lo + ((hi - lo) as f64 * (r + 1.0) / 2.0) as i128);
    }
    v.sort_unstable();
    v.dedup();
    v
}

/// A tensor of exact values stored as the type stores them.
fn tensor_of(width: u8, signed: bool, shape: &[u64], values: &[i128]) -> Tensor {
    ints(ElemType::Int { width, signed }, shape, &values.iter().map(|&v| v as i64).collect::<Vec<_>>())
}

/// The widths every op is tried at, signed and unsigned.
const WIDTHS: [u8; 10] = [1, 2, 7, 8, 9, 16, 31, 33, 63, 64];

/// One op of two broadcast operands over every pair of edge values, for
/// each result width in `results`.
fn binary(op: &str, a: (u8, bool), b: (u8, bool), results: &[(u8, bool)], attrs: &str) {
    let (xa, xb) = (edges(a.0, a.1, 1), edges(b.0, b.1, 2));
    let (na, nb) = (xa.len(), xb.len());
    for &r in results {
        let (ta, tb, tr) = (int_type(a.0, a.1), int_type(b.0, b.1), int_type(r.0, r.1));
        let text = format!(
            "func @f(%a: tensor<{na}x1x{ta}>, %b: tensor<{nb}x{tb}>) -> tensor<{na}x{nb}x{tr}> {{\n  \
%0 = {op} %a, %b {attrs}: (tensor<{na}x1x{ta}>, tensor<{nb}x{tb}>) -> tensor<{na}x{nb}x{tr}>\n  \
return %0 : tensor<{na}x{nb}x{tr}>\n}}"
        );
        exact(&text, vec![tensor_of(a.0, a.1, &[na as u64, 1], &xa), tensor_of(b.0, b.1, &[nb as u64], &xb)]);
    }
}

/// One op of one operand over the edge values of `x`, for each result.
fn unary(op: &str, x: (u8, bool), results: &[(u8, bool)], attrs: &str) {
    let xs = edges(x.0, x.1, 3);
    let n = xs.len();
    for &r in results {
        let (tx, tr) = (int_type(x.0, x.1), int_type(r.0, r.1));
        let text = format!(
            "func @f(%x: tensor<{n}x{tx}>) -> tensor<{n}x{tr}> {{\n  \
%0 = {op} %x {attrs}: (tensor<{n}x{tx}>) -> tensor<{n}x{tr}>\n  return %0 : tensor<{n}x{tr}>\n}}"
        );
        exact(&text, vec![tensor_of(x.0, x.1, &[n as u64], &xs)]);
    }
}

/// Result types around `w`: narrower, the same, wider, the widest.
fn results_near(w: u8) -> Vec<(u8, bool)> {
    let mut r = vec![(w, true), (w, false), ((w + 1).min(64), true), (64, true), (64, false)];
    if w > 2 {
        r.push((w / 2, true));
    }
    r
}

#[test]
fn arithmetic_saturates_at_every_width() {
    for w in WIDTHS {
        for signed in [true, false] {
            let t = (w, signed);
            for op in ["nl.add", "nl.sub", "nl.mul", "nl.max", "nl.min", "nl.div"] {
                binary(op, t, t, &results_near(w), "");
            }
        }
    }
    // Mixed operand types, the products that overflow 128 bits.
    binary("nl.mul", (64, false), (64, true), &[(64, true), (64, false), (8, true)], "");
    binary("nl.mul", (64, false), (64, false), &[(64, false), (63, true)], "");
    binary("nl.sub", (64, false), (64, true), &[(64, true), (64, false)], "");
    binary("nl.div", (8, true), (64, false), &[(8, true), (64, false)], "");
}

#[test]
fn casts_shifts_and_leading_ones() {
    for w in WIDTHS {
        for signed in [true, false] {
            let t = (w, signed);
            unary("nl.cast", t, &results_near(w), "");
            unary("nl.lod", t, &[(8, true), (7, false), (1, false)], "");
            for amount in [-126, -100, -64, -63, -3, -1, 0, 1, 3, 62, 63, 64, 65, 100, 126] {
                for rounding in ["floor", "ceil", "nearest"] {
                    let attrs = format!("{{amount = {amount}, rounding = \"{rounding}\"}} ");
                    unary("nl.shift", t, &[(w, signed), (64, true), (64, false)], &attrs);
                }
            }
        }
    }
}

#[test]
fn casts_read_and_write_quantized_integers() {
    let q = "!quant.int<w=8, signed, scale=0.5, zp=3>";
    let u = "!quant.int<w=4, unsigned, scale=0.1, zp=0>";
    let text = format!(
        "func @f(%x: tensor<5x{q}>, %y: tensor<5xi32>) -> (tensor<5xi4>, tensor<5x{u}>) {{
  %0 = nl.cast %x : (tensor<5x{q}>) -> tensor<5xi4>
  %1 = nl.cast %y : (tensor<5xi32>) -> tensor<5x{u}>
  return %0, %1 : tensor<5xi4>, tensor<5x{u}>
}}"
    );
    let m = parse(&text);
    let elem = m.funcs[0].arg_types()[0].as_tensor().map(|t| t.elem.clone()).unwrap();
    let x = ints(elem, &[5], &[-128, -9, 3, 8, 127]);
    let y = ints(ElemType::I32, &[5], &[-1000, -1, 0, 15, 16]);
    exact(&text, vec![x, y]);
}

#[test]
fn barrel_shifts_clamp_their_amounts_and_round() {
    for rounding in ["floor", "ceil", "nearest"] {
        let attrs = format!("{{rounding = \"{rounding}\"}} ");
        for x in [(8, true), (17, false), (64, true), (64, false)] {
            binary("nl.barrel_shift", x, (8, true), &[(16, true), (64, true), (64, false), (4, false)], &attrs);
        }
    }
}

#[test]
fn mux_selects_by_the_sign_bit() {
    for (w, signed) in [(1, true), (8, true), (8, false), (64, false), (64, true)] {
        let (xs, n) = (edges(w, signed, 4), edges(w, signed, 4).len());
        let t = int_type(w, signed);
        let text = format!(
            "func @f(%s: tensor<{n}x1x1x{t}>, %a: tensor<{n}x1x{t}>, %b: tensor<{n}x{t}>) -> tensor<{n}x{n}x{n}xi9> {{
  %0 = nl.mux %s, %a, %b : (tensor<{n}x1x1x{t}>, tensor<{n}x1x{t}>, tensor<{n}x{t}>) -> tensor<{n}x{n}x{n}xi9>
  return %0 : tensor<{n}x{n}x{n}xi9>
}}"
        );
        let n = n as u64;
        exact(
            &text,
            vec![
                tensor_of(w, signed, &[n, 1, 1], &xs),
                tensor_of(w, signed, &[n, 1], &xs),
                tensor_of(w, signed, &[n], &xs),
            ],
        );
    }
}

#[test]
fn units_are_the_reference_functions() {
    for w in WIDTHS {
        for signed in [true, false] {
            let t = (w, signed);
            unary("nl.isqrt", t, &[(32, false), (8, true)], "");
            unary("nl.poly2", t, &[(24, true), (64, true)], "{coeffs = [-11141, 23281, 7], frac = 15} ");
            unary("nl.poly2", t, &[(64, false)], "{coeffs = [9223372036854775807, -5, 0], frac = 0} ");
            let exp2 =
                "{coeff_frac = 16, coeffs = [11134, 43901, 65536, 5613, 21781, 32768], frac = 4, out_frac = 16} ";
            unary("nl.exp2", t, &[(17, false), (64, true), (64, false), (8, true)], exp2);
            let log2 = "{coeffs = [-22712, 88248, 0], frac = -3, mantissa_frac = 16, out_frac = 16} ";
            unary("nl.log2", t, &[(24, true), (64, false), (64, true)], log2);
            // Four segments, the exponent's extremes (frac +-62, out_frac 30).
            let rows = "[-37663, 93807, 0, -25143, 75239, 21098, -17974, 62792, 38336, -13487, 53872, 52911]";
            for frac in [62, -62] {
                let log2 = format!("{{coeffs = {rows}, frac = {frac}, mantissa_frac = 16, out_frac = 30}} ");
                unary("nl.log2", t, &[(8, true), (40, false), (64, true)], &log2);
            }
        }
    }
}

#[test]
fn tables_saturate_their_indices_and_entries() {
    for (w, signed) in [(1, false), (2, true), (8, true), (8, false), (64, true), (64, false)] {
        let attrs = "{offset = -2, table = [-300, 5, 9223372036854775807, -9223372036854775808, 40]} ";
        unary("nl.lut", (w, signed), &[(8, true), (4, false), (64, true), (64, false)], attrs);
    }
}

#[test]
fn trees_reduce_exactly_and_saturate_once() {
    for (w, signed) in [(1, true), (8, true), (8, false), (33, true), (64, true), (64, false)] {
        let xs = edges(w, signed, 5);
        let n = xs.len() as u64;
        let vals: Vec<i128> = (0..3 * n).map(|i| xs[(i * 7 % n) as usize]).collect();
        let t = int_type(w, signed);
        for (axis, kept) in [(0, format!("1x{n}")), (1, "3x1".to_string()), (-1, "3x1".to_string())] {
            for op in ["nl.add_tree", "nl.max_tree"] {
                for r in [int_type(w, signed), "i64".into(), "u64".into(), "i4".into()] {
                    let text = format!(
                        "func @f(%x: tensor<3x{n}x{t}>) -> tensor<{kept}x{r}> {{
  %0 = {op} %x {{axis = {axis}}} : (tensor<3x{n}x{t}>) -> tensor<{kept}x{r}>
  return %0 : tensor<{kept}x{r}>
}}"
                    );
                    exact(&text, vec![tensor_of(w, signed, &[3, n], &vals)]);
                }
            }
        }
    }
    // No lanes: the sum is 0, the maximum the least value.
    let text = "func @f(%x: tensor<2x0xi8>) -> (tensor<2x1xi8>, tensor<2x1xu8>) {
  %0 = nl.max_tree %x {axis = 1} : (tensor<2x0xi8>) -> tensor<2x1xi8>
  %1 = nl.add_tree %x {axis = 1} : (tensor<2x0xi8>) -> tensor<2x1xu8>
  return %0, %1 : tensor<2x1xi8>, tensor<2x1xu8>
}";
    exact(text, vec![ints(ElemType::I8, &[2, 0], &[])]);
}

#[test]
fn elementwise_chains_fuse_into_one_kernel() {
    let text = "func @f(%x: tensor<64xi8>, %m: tensor<1xi8>) -> tensor<64xu17> {
  %0 = nl.sub %x, %m : (tensor<64xi8>, tensor<1xi8>) -> tensor<64xi9>
  %1 = nl.mul %0, %x : (tensor<64xi9>, tensor<64xi8>) -> tensor<64xi18>
  %2 = nl.shift %1 {amount = -2, rounding = \"nearest\"} : (tensor<64xi18>) -> tensor<64xi16>
  %3 = nl.exp2 %2 {coeff_frac = 16, coeffs = [11134, 43901, 65536], frac = 8, out_frac = 16} : (tensor<64xi16>) -> tensor<64xu17>
  return %3 : tensor<64xu17>
}";
    let m = parse(text);
    let compiled = compile(&m, &m.funcs[0]).unwrap_or_else(|d| panic!("{}", d.message));
    assert_eq!(compiled.stats().kernels, 1);
    assert_eq!(compiled.stats().fused_ops, 3);
    exact(text, vec![rand_ints(ElemType::I8, &[64], 9, 128.0), ints(ElemType::I8, &[1], &[-7])]);
}
