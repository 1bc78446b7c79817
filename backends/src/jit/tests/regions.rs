//! Tabulated regions (`jit::regions`) against the interpreter: a set of
//! elementwise ops reading one narrow integer several times becomes one
//! table read (its interior values get no kernel), bit-identical; a
//! region whose table cannot be computed, or with a second varying input,
//! stays as it is.

use super::*;

fn stats(text: &str) -> JitStats {
    let m = parse(text);
    compile(&m, &m.funcs[0]).unwrap_or_else(|d| panic!("compile: {}", d.message)).stats().clone()
}

fn all_i8(shape: &[u64]) -> Tensor {
    let n = shape.iter().product::<u64>() as i64;
    ints(ElemType::I8, shape, &(0..n).map(|i| (i % 256) - 128).collect::<Vec<_>>())
}

#[test]
fn a_value_read_three_times_is_one_table() {
    let (t, w) = ("tensor<4x200xi8>", "tensor<4x200xi16>");
    let text = format!(
        "func @f(%x: {t}, %y: {t}) -> ({w}, {t}) {{
  %k = constant dense<3> : tensor<i8>
  %0 = nl.sub %x, %k : ({t}, tensor<i8>) -> tensor<4x200xi9>
  %1 = nl.mul %0, %0 : (tensor<4x200xi9>, tensor<4x200xi9>) -> {w}
  %2 = nl.max %1, %0 : ({w}, tensor<4x200xi9>) -> {w}
  %3 = nl.add %y, %x : ({t}, {t}) -> {t}
  return %2, %3 : {w}, {t}
}}"
    );
    exact(&text, vec![all_i8(&[4, 200]), rand_ints(ElemType::I8, &[4, 200], 5, 100.0)]);
    let s = stats(&text);
    // The table of %2 (with %0 and %1 inside it) and the map of %3.
    assert_eq!((s.kernels, s.fused_ops), (2, 2));
}

#[test]
fn regions_that_fail_somewhere_or_are_small_stay_maps() {
    let t = "tensor<4x200xi8>";
    // 3 / (x - 3) divides by zero at x = 3, which the input never holds.
    let text = format!(
        "func @f(%x: {t}) -> {t} {{
  %k = constant dense<3> : tensor<i8>
  %0 = nn.sub %x, %k : ({t}, tensor<i8>) -> {t}
  %1 = nn.div %k, %0 : (tensor<i8>, {t}) -> {t}
  %2 = nn.add %1, %0 : {t}
  return %2 : {t}
}}"
    );
    let x = ints(ElemType::I8, &[4, 200], &(0..800).map(|i| if i % 7 == 3 { 4 } else { i % 7 }).collect::<Vec<_>>());
    exact(&text, vec![x]);
    assert_eq!(stats(&text).kernels, 2);
    // 256 elements: fewer than two per table entry.
    let small = text.replace("4x200", "2x128");
    assert_eq!(stats(&small).kernels, 2);
}
