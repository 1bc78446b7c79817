//! Hand-computed checks of the engine and latency models (spec/perf.md).

use super::engines::*;
use super::latency::*;
use super::Resources;

const BIN8: Precision = Precision { weight_bits: 1, act_bits: 8 };

fn design(fc: FcEngine, word_bits: u64) -> Design {
    Design { fc, attn: AttnEngine { t_in: 4, t_out: 4 }, nl: NlEngine { lanes: 4 }, port: Port { word_bits } }
}

const ZCU102: Platform = Platform { clock_mhz: 300.0, memory_gbps: 19.2 };

#[test]
fn bram18_picks_the_cheapest_aspect_ratio() {
    assert_eq!(bram18_for(512, 36), 1);
    // 513 x 36: two 1K x 18 side by side, or two 512 x 36 stacked.
    assert_eq!(bram18_for(513, 36), 2);
    assert_eq!(bram18_for(16_384, 1), 1);
    assert_eq!(bram18_for(100, 72), 2);
    assert_eq!(bram18_for(0, 8), 0);
}

#[test]
fn adder_tree_levels_grow_by_one_bit() {
    // 4 operands of 8 bits: two 9-bit adders, one 10-bit adder, registered.
    assert_eq!(adder_tree(4, 8), Resources::new(28, 28, 0, 0));
    assert_eq!(adder_tree(1, 8), Resources::ZERO);
}

#[test]
fn two_int8_products_share_a_dsp() {
    assert_eq!(product_dsps(4, 3, 8, 8), 8);
    assert_eq!(product_dsps(4, 3, 9, 8), 12);
}

#[test]
fn binary_fc_array_uses_no_dsp() {
    let ext = Extents { fc_k: 16, ..Extents::default() };
    // acc = 8 + 1 + log2(16) + 1 = 14 bits; per column: 4 * 8 negation
    // LUTs, a tree of 4 x 9 bits (10 + 10 + 11), a 14-bit accumulator.
    let r = fc_array(FcEngine { t_in: 4, t_out: 2, t_m: 1 }, BIN8, ext);
    assert_eq!(r, Resources::new(2 * (32 + 31 + 14), 2 * (31 + 14), 0, 0));
    let int8 = fc_array(FcEngine { t_in: 4, t_out: 2, t_m: 1 }, Precision { weight_bits: 8, act_bits: 8 }, ext);
    assert_eq!(int8.dsp, 4);
}

#[test]
fn fc_buffers_are_ping_pong() {
    let ext = Extents { fc_k: 16, ..Extents::default() };
    // weights: 4 deep x 8 bits; activations: 12 deep x 32 bits; one RAMB18 each, twice.
    assert_eq!(fc_buffers(FcEngine { t_in: 4, t_out: 2, t_m: 3 }, BIN8, ext).bram18, 4);
}

#[test]
fn packing_rounds_down_per_word() {
    let port = Port { word_bits: 64 };
    assert_eq!(port.pack(6), 10);
    assert_eq!(port.words(25, 6), 3);
    assert_eq!(port.pack(100), 1);
}

#[test]
fn fc_layer_cycles_by_hand() {
    let d = design(FcEngine { t_in: 4, t_out: 2, t_m: 4 }, 64);
    let layer = LayerKind::Fc { batch: 1, m: 10, k: 16, n: 6 };
    // compute: 10 rows * 4 k-steps * 3 column blocks + 3 row tiles * 3 blocks * depth 6.
    // memory: weights 3 times 16 bytes, 160 + 64 bytes of activations = 272
    // bytes at 8 bytes per cycle (the 64-bit port, below 19.2 GB/s / 300 MHz).
    let c = layer_cycles(layer, &d, BIN8, &ZCU102);
    assert_eq!(c, LayerCycles { compute: 174, memory: 34, total: 374 });
}

#[test]
fn a_narrow_port_makes_a_layer_memory_bound() {
    let d = design(FcEngine { t_in: 64, t_out: 64, t_m: 1 }, 64);
    let layer = LayerKind::Fc { batch: 1, m: 197, k: 768, n: 768 };
    let c = layer_cycles(layer, &d, BIN8, &ZCU102);
    assert!(c.memory > c.compute, "{c:?}");
    let wide = design(FcEngine { t_in: 64, t_out: 64, t_m: 197 }, 512);
    let c = layer_cycles(layer, &wide, BIN8, &ZCU102);
    assert!(c.compute > c.memory, "{c:?}");
}

#[test]
fn softmax_makes_three_passes() {
    let d = design(FcEngine { t_in: 1, t_out: 1, t_m: 1 }, 64);
    let (compute, _) = layer_work(LayerKind::Nonlinear { kind: NlKind::Softmax, rows: 2, len: 10 }, &d, BIN8);
    assert_eq!(compute, 2 * 3 * 3 + 6 * 4);
}

#[test]
fn fps_is_clock_over_cycles() {
    assert_eq!(fps(3_000_000, 300.0), 100.0);
    assert_eq!(fps(0, 300.0), 0.0);
}

#[test]
fn bandwidth_caps_a_wide_port() {
    // 19.2 GB/s at 300 MHz is 64 bytes per cycle: a 512-bit port is capped there.
    assert_eq!(ZCU102.bytes_per_cycle(Port { word_bits: 512 }), 64.0);
    let slow = Platform { clock_mhz: 300.0, memory_gbps: 4.8 };
    assert_eq!(slow.bytes_per_cycle(Port { word_bits: 512 }), 16.0);
}

#[test]
fn resources_grow_with_parallelism() {
    let ext = Extents { fc_k: 3072, attn_k: 197, attn_m: 197, nl_row: 768 };
    let units = default_units(8);
    let small = design(FcEngine { t_in: 16, t_out: 16, t_m: 8 }, 128);
    let big = design(FcEngine { t_in: 32, t_out: 32, t_m: 8 }, 128);
    let (s, b) = (design_resources(&small, BIN8, ext, &units), design_resources(&big, BIN8, ext, &units));
    assert!(b.fc.lut > s.fc.lut && b.fc.bram18 >= s.fc.bram18);
    assert_eq!(b.attn, s.attn);
}
