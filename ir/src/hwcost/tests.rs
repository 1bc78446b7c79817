use super::primitive::{
    add_tree, adder, barrel_shifter, divider, lut_multiplier, multiplier, poly2, rounding_shift, table,
};
use super::*;

#[test]
fn products_fit_one_dsp48e2_up_to_27_by_18() {
    assert_eq!(multiplier(27, 18, 45).dsp, 1);
    assert_eq!(multiplier(18, 27, 45).dsp, 1);
    assert_eq!(multiplier(28, 18, 46).dsp, 2);
    assert_eq!(multiplier(40, 40, 64).dsp, 6);
    assert_eq!(multiplier(24, 40, 64).dsp, 3);
    // A 1-bit operand is an AND gate per bit, not a DSP.
    assert_eq!(multiplier(16, 1, 16), Resources::new(16, 16, 0, 0));
}

#[test]
fn costs_grow_with_widths() {
    for w in 1..64 {
        assert!(adder(w + 1).weight() > adder(w).weight());
        assert!(barrel_shifter(w + 1, 5).weight() > barrel_shifter(w, 5).weight());
        assert!(divider(w + 1, 16).weight() > divider(w, 16).weight());
    }
}

#[test]
fn tables_move_to_block_ram_beyond_1024_entries() {
    assert_eq!(table(256, 8), Resources::new(32, 8, 0, 0));
    assert_eq!(table(4096, 16).bram18, 4);
    assert_eq!(table(4096, 16).lut, 0);
}

#[test]
fn a_shared_primitive_pays_a_mux_per_operand_and_lanes_multiply_the_rest() {
    let add = Primitive::new(PrimitiveKind::Adder, 16, 16, 17, 2);
    let lane = |primitive, modes| Instance::new(primitive, modes, true);
    let alone = unit(&[lane(add, 1)], 4, 1);
    assert_eq!(alone, adder(17) * 4);
    let shared = unit(&[lane(add, 3)], 4, 3);
    assert_eq!(shared, (adder(17) + mux(16, 3) * 2) * 4 + Resources::new(0, 2, 0, 0));
    // A step on a row's reduced value is one instance.
    let row = Instance::new(add, 1, false);
    assert_eq!(unit(&[row], 4, 1), adder(17));
    // A lane reduction is one instance across the lanes.
    let tree = Primitive::new(PrimitiveKind::AddTree, 17, 0, 24, 1);
    assert_eq!(unit(&[lane(tree, 1)], 8, 1), add_tree(8, 17, 24));
}

#[test]
fn clog2_and_muxes() {
    assert_eq!((clog2(1), clog2(2), clog2(3), clog2(197), clog2(256)), (0, 1, 2, 8, 8));
    assert_eq!(mux(8, 1), Resources::ZERO);
    assert_eq!(mux(8, 2).lut, 4);
    assert_eq!(mux(8, 4).lut, 8);
    assert_eq!(mux(8, 8).lut, 16);
}

#[test]
fn a_dsp_weighs_as_much_as_the_lut_multiplier_it_replaces() {
    assert_eq!(lut_multiplier(27, 18).weight(), DSP_WEIGHT);
    assert_eq!(Resources::new(0, 0, 0, 1).weight(), 18 * 1024 / 64);
}

#[test]
fn a_time_multiplexed_instance_pays_its_mux_and_hold_registers() {
    let exp = Primitive::new(PrimitiveKind::Exp2, 25, 4, 18, 1);
    // Three evaluations per element of one mode on one instance: a 3:1
    // mux on its operand and two results held (18 bits each), per lane.
    let folded = Instance { uses: 3, ..Instance::new(exp, 1, true) };
    assert_eq!(folded.held(), 2);
    let one = exp.cost(4) + mux(25, 3) + Resources::new(0, 2 * 18, 0, 0);
    assert_eq!(unit(&[folded], 4, 1), one * 4);
    // It is still much smaller than three instances.
    assert!(unit(&[folded], 4, 1).weight() < unit(&[Instance::new(exp, 1, true)], 4, 1).weight() * 3 / 2);
    // Shared with a second mode that evaluates it once: four inputs, the
    // first mode's two held results.
    let shared = Instance { uses: 4, ..Instance::new(exp, 2, true) };
    assert_eq!(shared.held(), 2);
    assert_eq!(sequencer(1), Resources::ZERO);
    assert_eq!(sequencer(3), Resources::new(2, 2, 0, 0));
}

#[test]
fn a_rounding_shift_increments_only_the_bits_it_keeps() {
    // 35 bits shifted right by 24 to nearest: an 11-bit incrementer.
    assert_eq!(rounding_shift(11, 11), Resources::new(11, 11, 0, 0));
    // Kept 16 bits into an 11-bit result: plus the saturation.
    assert_eq!(rounding_shift(16, 11), Resources::new(16 + 5 + 6, 11, 0, 0));
}

#[test]
fn a_quadratic_on_one_dsp_per_step_has_no_fabric() {
    // Each Horner step t x + c is one DSP48E2 with its post-adder.
    assert_eq!(poly2(17, 18, 18), Resources::new(0, 0, 2, 0));
    // Split products meet in fabric adders, and the rounding adders too.
    let wide = poly2(30, 18, 30);
    assert_eq!(wide.dsp, 4);
    assert!(wide.lut > 2 * 30);
}

/// The primitives of the nl ops of the first function of `text`.
fn primitives_of(text: &str) -> Vec<Primitive> {
    let (_, module) = crate::parser::parse_str(&crate::Context::default(), "t.weft", text);
    let module = module.expect("parses");
    let f = &module.funcs[0];
    f.walk().into_iter().filter_map(|op| Primitive::of_nl_op(f, op)).collect()
}

#[test]
fn a_conditional_negate_is_one_adder_row_and_shifts_keep_their_bits() {
    let text = "func @f(%x: tensor<4xi16>) -> tensor<4xi12> {
  %z = constant dense<0> : tensor<i1>
  %n = nl.sub %z, %x : (tensor<i1>, tensor<4xi16>) -> tensor<4xi17>
  %a = nl.mux %x, %n, %x : (tensor<4xi16>, tensor<4xi17>, tensor<4xi16>) -> tensor<4xi17>
  %b = nl.mux %x, %x, %a : (tensor<4xi16>, tensor<4xi16>, tensor<4xi17>) -> tensor<4xi17>
  %s = nl.shift %b {amount = -6, rounding = \"nearest\"} : (tensor<4xi17>) -> tensor<4xi12>
  return %s : tensor<4xi12>
}";
    let kinds: Vec<(PrimitiveKind, u64, u64)> = primitives_of(text).iter().map(|p| (p.kind, p.b, p.out)).collect();
    // The mux of `-x` and `x` is folded into the subtractor; the second
    // mux selects between two different values and stays.
    assert_eq!(
        kinds,
        [(PrimitiveKind::Adder, 1, 17), (PrimitiveKind::Mux, 16, 17), (PrimitiveKind::RoundingShift, 11, 12)]
    );
}

#[test]
fn mux_inputs_follow_the_wires_when_known() {
    let add = Primitive::new(PrimitiveKind::Adder, 16, 16, 17, 2);
    let shared = Instance::new(add, 2, true);
    assert_eq!((shared.mux_inputs(0), shared.mux_inputs(1)), (2, 2));
    // The first operand is the same wire in both modes: no mux on it.
    let wired = Instance { inputs: Some([1, 2, 1]), ..shared };
    assert_eq!(unit(&[wired], 1, 2), adder(17) + mux(16, 2) + Resources::new(0, 1, 0, 0));
    assert!(unit(&[wired], 4, 2).weight() < unit(&[shared], 4, 2).weight());
}

#[test]
fn max_and_min_register_their_result() {
    // spec/hw.md: a comparator on the carry chain and a registered 2:1
    // mux (yosys's synth_xilinx gives 24 FFs for a 24-bit max as well,
    // scripts/calibrate/synth_primitives.py).
    let max = Primitive::new(PrimitiveKind::Comparator, 24, 24, 24, 2).cost(1);
    assert_eq!(max, Resources::new(24, 24, 0, 0));
    let tree = Primitive::new(PrimitiveKind::MaxTree, 8, 0, 8, 1).cost(4);
    assert_eq!(tree.ff, 4 * 8);
}

#[test]
fn primitive_kinds_are_found_by_their_names() {
    for kind in PrimitiveKind::ALL {
        assert_eq!(PrimitiveKind::from_name(kind.name()), Some(kind));
    }
    assert_eq!(PrimitiveKind::from_name("flux-capacitor"), None);
}

#[test]
fn exp2_and_log2_carry_what_skips_the_quadratic_in_delay_registers() {
    // exp2 with 18 output bits: a shift amount of clog2(18 + 18) = 6 bits
    // and its saturation flag wait through the ROM read and two DSPs.
    let exp2_parts = adder(17) + poly2(17, 18, 18) + barrel_shifter(18, 6);
    assert_eq!(exp2(1, 18).ff - exp2_parts.ff, 7 * 3);
    // Its output rounds to nearest (an 18-bit incrementer) and saturates
    // (a 2:1 mux, two bits a LUT6_2), chained into the shifter's register.
    assert_eq!(exp2(1, 18).lut - exp2_parts.lut, 18 + 9);
    // log2 of 18 bits: the input waits for the detector (18), the
    // 6-bit exponent for the shift, the ROM read and two DSPs.
    let log2_parts = lod(18) + barrel_shifter(17, 5) + poly2(17, 18, 18) + adder(24);
    assert_eq!(log2(18, 1, 24).ff - log2_parts.ff, 18 + 6 * 4);
}

#[test]
fn an_add_tree_grows_a_bit_a_level_and_accumulates_across_cycles() {
    // 8 lanes of 17 bits: 4 adders of 18, 2 of 19, 1 of 20, and the
    // 20-bit accumulator.
    assert_eq!(add_tree(8, 17, 20), adder(18) * 4 + adder(19) * 2 + adder(20) * 2);
    // An odd lane passes a level untouched; one lane is the accumulator.
    assert_eq!(add_tree(3, 8, 12), adder(9) + adder(10) + adder(12));
    assert_eq!(add_tree(1, 8, 12), adder(12));
}
