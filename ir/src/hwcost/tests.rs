use super::primitive::{adder, barrel_shifter, divider, lut_multiplier, multiplier, table};
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
    assert_eq!(unit(&[lane(tree, 1)], 8, 1), adder(24) * 8);
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
