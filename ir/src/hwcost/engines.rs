//! The resource model of the accelerator's engines (VAQF's structure): the
//! FC engine (matmuls with constant weights), the attention engine (products
//! of two activations), the nonlinear unit, their on-chip buffers in block
//! RAM and the AXI ports, as functions of the design parameters
//! ([`Design`]) and the precision ([`Precision`]). spec/perf.md gives every
//! formula and the source of each constant; [`super::latency`] has the
//! cycles.
//!
//! Invariants: every function is pure integer arithmetic, monotonic in the
//! parallelism, tile sizes and widths, so the search's comparisons are
//! exact and deterministic; parameters are >= 1 (a 0 counts as 1).

use super::{adder, clog2, unit, Instance, Primitive, PrimitiveKind, Resources};

/// Weight and activation bit widths; `weight_bits == 1` means binary
/// weights (+-alpha per output channel).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Precision {
    pub weight_bits: u64,
    pub act_bits: u64,
}

/// The FC engine: `t_in` x `t_out` multiply-accumulates per cycle (input
/// and output channel parallelism) over a tile of `t_m` activation rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FcEngine {
    pub t_in: u64,
    pub t_out: u64,
    pub t_m: u64,
}

/// The attention engine: `t_in` x `t_out` products of two activations per cycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AttnEngine {
    pub t_in: u64,
    pub t_out: u64,
}

/// The nonlinear unit(s): `lanes` elements per cycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NlEngine {
    pub lanes: u64,
}

/// The AXI data port every engine streams through: `word_bits` (64, 128
/// or 512) per beat; low-bit values are packed `word_bits / bits` to a word.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Port {
    pub word_bits: u64,
}

impl Port {
    /// Values of `bits` bits one word holds (at least 1).
    pub fn pack(&self, bits: u64) -> u64 {
        (self.word_bits / bits.max(1)).max(1)
    }

    /// Words that hold `count` values of `bits` bits.
    pub fn words(&self, count: u64, bits: u64) -> u64 {
        count.div_ceil(self.pack(bits))
    }
}

/// One accelerator: the parameters tile-and-pack chooses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Design {
    pub fc: FcEngine,
    pub attn: AttnEngine,
    pub nl: NlEngine,
    pub port: Port,
}

/// The largest operand sizes the engines' buffers must hold (from the workload).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Extents {
    /// Largest reduction length of an FC layer.
    pub fc_k: u64,
    /// Largest reduction length of an attention product.
    pub attn_k: u64,
    /// Largest row count of an attention product's left operand.
    pub attn_m: u64,
    /// Longest row of a nonlinear op (softmax / LayerNorm row buffer).
    pub nl_row: u64,
}

/// Widest accumulator a quant.qmatmul result may have.
pub const MAX_ACC_BITS: u64 = 32;

/// Widest operands one DSP48E2 multiplies with two products sharing one
/// operand (WP486: INT8 packing).
pub const DSP_PACK_BITS: u64 = 8;

/// Fixed cost of one AXI master port plus an engine's control FSM, before
/// the per-bit part ([`axi_port`]); *own* estimate (spec/perf.md).
pub const AXI_BASE_LUT: u64 = 1_500;
pub const AXI_BASE_FF: u64 = 2_000;

/// The accumulator width of a product with `k`-long reductions.
pub fn acc_bits(p: Precision, k: u64) -> u64 {
    (p.act_bits + p.weight_bits + clog2(k.max(1)) + 1).min(MAX_ACC_BITS)
}

/// An adder tree summing `n` operands of `w` bits, registered at every
/// level: level `l` has `ceil(n / 2^l)` adders of `w + l` bits.
pub fn adder_tree(n: u64, w: u64) -> Resources {
    let mut total = Resources::ZERO;
    let mut count = n.max(1);
    let mut level = 0;
    while count > 1 {
        level += 1;
        count = count.div_ceil(2);
        total += adder(w + level) * count;
    }
    total
}

/// DSP48E2 slices for `t_in` x `t_out` products of `a` x `b` bits where
/// the `t_out` products of one input share the `a` operand: two per slice
/// when both widths are <= 8 (WP486), else one (a 27 x 18 multiplier holds
/// any pair of operands <= 16 bits, UG579).
pub fn product_dsps(t_in: u64, t_out: u64, a: u64, b: u64) -> u64 {
    if a <= DSP_PACK_BITS && b <= DSP_PACK_BITS {
        t_in * t_out.div_ceil(2)
    } else {
        t_in * t_out
    }
}

/// RAMB18 aspect ratios (depth, width) in simple dual-port mode (UG573,
/// "Block RAM Summary": 16K x 1 .. 512 x 36).
const BRAM18_SHAPES: [(u64, u64); 6] = [(16_384, 1), (8_192, 2), (4_096, 4), (2_048, 9), (1_024, 18), (512, 36)];

/// RAMB18s for a memory of `depth` words of `width` bits: the cheapest
/// aspect ratio, banks side by side for the width and stacked for the depth.
pub fn bram18_for(depth: u64, width: u64) -> u64 {
    if depth == 0 || width == 0 {
        return 0;
    }
    BRAM18_SHAPES.iter().map(|&(d, w)| width.div_ceil(w) * depth.div_ceil(d)).min().unwrap_or(0)
}

/// A double-buffered on-chip buffer (ping-pong: one half is filled from
/// DDR while the engine reads the other) of `depth` x `width` bits.
pub fn ping_pong(depth: u64, width: u64) -> Resources {
    Resources::new(0, 0, 0, 2 * bram18_for(depth, width))
}

/// One AXI master port of `word_bits` with its unpacking of low-bit values:
/// the fixed part plus a LUT and two FFs per data bit (read and write
/// channel registers), *own* estimate.
pub fn axi_port(port: Port) -> Resources {
    Resources::new(AXI_BASE_LUT + port.word_bits, AXI_BASE_FF + 2 * port.word_bits, 0, 0)
}

/// The FC engine's MAC array: per output column, `t_in` products (binary
/// weights: a conditional negation in LUTs, one LUT per activation bit;
/// else DSPs), an adder tree and an accumulator.
pub fn fc_array(e: FcEngine, p: Precision, ext: Extents) -> Resources {
    let (t_in, t_out) = (e.t_in.max(1), e.t_out.max(1));
    let acc = acc_bits(p, ext.fc_k);
    let column = if p.weight_bits == 1 {
        Resources::new(t_in * p.act_bits, 0, 0, 0) + adder_tree(t_in, p.act_bits + 1)
    } else {
        adder_tree(t_in, p.act_bits + p.weight_bits)
    };
    let dsps = if p.weight_bits == 1 { 0 } else { product_dsps(t_in, t_out, p.act_bits, p.weight_bits) };
    (column + adder(acc)) * t_out + Resources::new(0, 0, dsps, 0)
}

/// The FC engine's buffers: the weight tile (all `k` rows of `t_out`
/// columns, `t_in * t_out * w` bits read per cycle) and the activation
/// tile (`t_m` rows, `t_in * a` bits per cycle), both ping-pong.
pub fn fc_buffers(e: FcEngine, p: Precision, ext: Extents) -> Resources {
    let (t_in, t_out, t_m) = (e.t_in.max(1), e.t_out.max(1), e.t_m.max(1));
    let depth = ext.fc_k.max(1).div_ceil(t_in);
    ping_pong(depth, t_in * t_out * p.weight_bits) + ping_pong(t_m * depth, t_in * p.act_bits)
}

/// The FC engine: MAC array, buffers and its AXI port.
pub fn fc_engine(e: FcEngine, p: Precision, ext: Extents, port: Port) -> Resources {
    fc_array(e, p, ext) + fc_buffers(e, p, ext) + axi_port(port)
}

/// The attention engine: `t_in * t_out` products of two activations (two
/// per DSP at <= 8 bits), a tree per column, accumulators, the left operand
/// (`attn_m` x `attn_k`) and a column tile of the right one on chip.
pub fn attn_engine(e: AttnEngine, p: Precision, ext: Extents, port: Port) -> Resources {
    let (t_in, t_out) = (e.t_in.max(1), e.t_out.max(1));
    let a = p.act_bits;
    let acc = acc_bits(Precision { weight_bits: a, act_bits: a }, ext.attn_k);
    let array =
        (adder_tree(t_in, 2 * a) + adder(acc)) * t_out + Resources::new(0, 0, product_dsps(t_in, t_out, a, a), 0);
    let depth = ext.attn_k.max(1).div_ceil(t_in);
    let buffers = ping_pong(ext.attn_m.max(1) * depth, t_in * a) + ping_pong(depth, t_in * t_out * a);
    array + buffers + axi_port(port)
}

/// The nonlinear unit's resources with `lanes` lanes: `per_kind` lists the
/// instances of one lane of each unit (from `hw.unit` ops, or
/// [`default_units`]); plus a row buffer of `nl_row` values for the
/// multi-pass ops, ping-pong, and the AXI port.
pub fn nl_engine(e: NlEngine, units: &[(Vec<Instance>, u64)], p: Precision, ext: Extents, port: Port) -> Resources {
    let lanes = e.lanes.max(1);
    let logic: Resources = units.iter().map(|(inst, modes)| unit(inst, lanes, *modes)).sum();
    let row = ping_pong(ext.nl_row.max(1).div_ceil(lanes), lanes * 2 * p.act_bits);
    logic + row + axi_port(port)
}

/// Per-kind nonlinear units for `act_bits`-bit activations when
/// share-nonlinear has not run (one unit per kind, one mode each): the
/// primitives of QUARK-style datapaths (spec/nl.md) at widths derived from
/// the activation width, *own* sizing (spec/perf.md).
pub fn default_units(act_bits: u64) -> Vec<(Vec<Instance>, u64)> {
    let a = act_bits.max(1);
    let wide = 2 * a + 8;
    let inst = |kind, x, y, out, per_lane| {
        Instance::new(Primitive::new(kind, x, y, out, if kind == PrimitiveKind::Exp2 { 1 } else { 2 }), 1, per_lane)
    };
    let softmax = vec![
        inst(PrimitiveKind::MaxTree, a, 0, a, true),
        inst(PrimitiveKind::Adder, a + 1, a, a + 1, true),
        inst(PrimitiveKind::Exp2, a + 8, 8, 18, true),
        inst(PrimitiveKind::AddTree, 18, 0, wide, true),
        inst(PrimitiveKind::Divider, wide, wide, a, false),
        inst(PrimitiveKind::Multiplier, 18, 18, wide, true),
    ];
    let gelu = vec![inst(PrimitiveKind::Poly2, a + 2, 18, a, true), inst(PrimitiveKind::Comparator, a, a, a, true)];
    let layer_norm = vec![
        inst(PrimitiveKind::AddTree, a, 0, wide, true),
        inst(PrimitiveKind::Multiplier, a + 1, a + 1, wide, true),
        inst(PrimitiveKind::Isqrt, wide, 0, a + 8, false),
        inst(PrimitiveKind::Multiplier, a + 1, 18, wide, true),
    ];
    let eltwise = vec![inst(PrimitiveKind::Adder, a + 1, a + 1, a + 1, true)];
    vec![(softmax, 1), (gelu, 1), (layer_norm, 1), (eltwise, 1)]
}

/// Resources of each engine of a design, in report order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct EngineResources {
    pub fc: Resources,
    pub attn: Resources,
    pub nl: Resources,
}

impl EngineResources {
    pub fn total(&self) -> Resources {
        self.fc + self.attn + self.nl
    }
}

/// Every engine's resources for `design` at precision `p`.
pub fn design_resources(
    design: &Design,
    p: Precision,
    ext: Extents,
    units: &[(Vec<Instance>, u64)],
) -> EngineResources {
    EngineResources {
        fc: fc_engine(design.fc, p, ext, design.port),
        attn: attn_engine(design.attn, p, ext, design.port),
        nl: nl_engine(design.nl, units, p, ext, design.port),
    }
}
