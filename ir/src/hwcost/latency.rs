//! The performance model: the cycles of each layer of a [`Workload`] on a
//! [`Design`] (compute cycles from the engine's parallelism, off-chip
//! cycles from the packed bytes moved and the board's bandwidth, the slower
//! of the two plus a fixed per-layer overhead), and the FPS of one
//! inference at the clock. Layers run one after another (VAQF's
//! layer-by-layer schedule); within a layer, ping-pong buffers overlap
//! transfers and compute. spec/perf.md gives every formula.
//!
//! Invariants: pure integer arithmetic for cycles (f64 only for the
//! bandwidth per cycle and the FPS), deterministic, monotonic: more
//! parallelism never adds cycles.

use super::engines::{Design, Extents, Port, Precision};

/// The kind of a nonlinear (or elementwise) layer, which fixes the passes
/// its unit makes over a row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum NlKind {
    Softmax,
    Gelu,
    LayerNorm,
    /// Residual additions and other elementwise work on two activations.
    Eltwise,
}

impl NlKind {
    pub fn name(self) -> &'static str {
        match self {
            NlKind::Softmax => "softmax",
            NlKind::Gelu => "gelu",
            NlKind::LayerNorm => "layer_norm",
            NlKind::Eltwise => "eltwise",
        }
    }

    /// Passes over a row: softmax reads it for the maximum, for the sum of
    /// exponentials and to normalize; LayerNorm for the moments and to
    /// normalize; GELU and elementwise ops once.
    pub fn passes(self) -> u64 {
        match self {
            NlKind::Softmax => 3,
            NlKind::LayerNorm => 2,
            NlKind::Gelu | NlKind::Eltwise => 1,
        }
    }

    /// Activation operands read per element (an elementwise op reads two).
    pub fn inputs(self) -> u64 {
        match self {
            NlKind::Eltwise => 2,
            _ => 1,
        }
    }
}

/// What one layer computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LayerKind {
    /// `batch` products [m, k] x [k, n] with constant weights (FC engine).
    Fc { batch: u64, m: u64, k: u64, n: u64 },
    /// `batch` products [m, k] x [k, n] of two activations (attention engine).
    Attn { batch: u64, m: u64, k: u64, n: u64 },
    /// `rows` rows of `len` values through the nonlinear unit.
    Nonlinear { kind: NlKind, rows: u64, len: u64 },
}

/// One layer with the name reports show (the op's location or name).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layer {
    pub name: String,
    pub kind: LayerKind,
}

/// The layers of one inference, in execution order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Workload {
    pub layers: Vec<Layer>,
}

impl Workload {
    /// The largest operands the engines' buffers must hold.
    pub fn extents(&self) -> Extents {
        let mut e = Extents::default();
        for l in &self.layers {
            match l.kind {
                LayerKind::Fc { k, .. } => e.fc_k = e.fc_k.max(k),
                LayerKind::Attn { m, k, .. } => {
                    e.attn_k = e.attn_k.max(k);
                    e.attn_m = e.attn_m.max(m);
                }
                LayerKind::Nonlinear { kind, len, .. } if kind.passes() > 1 => e.nl_row = e.nl_row.max(len),
                LayerKind::Nonlinear { .. } => {}
            }
        }
        e
    }

    /// Multiply-accumulates of one inference (FC and attention).
    pub fn macs(&self) -> u64 {
        self.layers
            .iter()
            .map(|l| match l.kind {
                LayerKind::Fc { batch, m, k, n } | LayerKind::Attn { batch, m, k, n } => batch * m * k * n,
                LayerKind::Nonlinear { .. } => 0,
            })
            .sum()
    }
}

/// The board side of the model: clock and off-chip bandwidth.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Platform {
    pub clock_mhz: f64,
    /// Peak off-chip bandwidth in GB/s (10^9 bytes/s).
    pub memory_gbps: f64,
}

impl Platform {
    /// Bytes per cycle the port can move: the smaller of its width and the
    /// board's bandwidth at the clock.
    pub fn bytes_per_cycle(&self, port: Port) -> f64 {
        let board = self.memory_gbps * 1e3 / self.clock_mhz.max(1e-3);
        (port.word_bits as f64 / 8.0).min(board).max(1e-9)
    }
}

/// Cycles of the fixed part of every layer: starting the engine (its
/// AXI-Lite control handshake) and the first burst's DDR read latency,
/// *own* estimate (spec/perf.md).
pub const LAYER_OVERHEAD_CYCLES: u64 = 200;

/// Pipeline depth of an engine's inner loop (tree levels plus the
/// multiplier and accumulator registers).
pub fn pipeline_depth(t_in: u64) -> u64 {
    super::clog2(t_in.max(1)) + 4
}

/// The cycles of one layer: compute, memory and their combination.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LayerCycles {
    pub compute: u64,
    pub memory: u64,
    /// `max(compute, memory) + LAYER_OVERHEAD_CYCLES`.
    pub total: u64,
}

/// Bytes of `count` values of `bits` bits packed into `port` words.
fn packed_bytes(port: Port, count: u64, bits: u64) -> u64 {
    port.words(count, bits) * port.word_bits / 8
}

/// Compute cycles and off-chip bytes of one layer.
pub fn layer_work(kind: LayerKind, d: &Design, p: Precision) -> (u64, u64) {
    let port = d.port;
    let a = p.act_bits;
    match kind {
        LayerKind::Fc { batch, m, k, n } => {
            let (t_in, t_out, t_m) = (d.fc.t_in.max(1), d.fc.t_out.max(1), d.fc.t_m.max(1));
            let per_row = k.div_ceil(t_in) * n.div_ceil(t_out);
            let compute = batch * (m * per_row + m.div_ceil(t_m) * n.div_ceil(t_out) * pipeline_depth(t_in));
            let weight_reloads = m.div_ceil(t_m);
            let bytes = batch
                * (weight_reloads * packed_bytes(port, k * n, p.weight_bits)
                    + packed_bytes(port, m * k, a)
                    + packed_bytes(port, m * n, a));
            (compute, bytes)
        }
        LayerKind::Attn { batch, m, k, n } => {
            let (t_in, t_out) = (d.attn.t_in.max(1), d.attn.t_out.max(1));
            let compute = batch * (m * k.div_ceil(t_in) * n.div_ceil(t_out) + n.div_ceil(t_out) * pipeline_depth(t_in));
            let bytes =
                batch * (packed_bytes(port, m * k, a) + packed_bytes(port, k * n, a) + packed_bytes(port, m * n, a));
            (compute, bytes)
        }
        LayerKind::Nonlinear { kind, rows, len } => {
            let lanes = d.nl.lanes.max(1);
            let compute = rows * kind.passes() * len.div_ceil(lanes) + pipeline_depth(lanes) * 4;
            let bytes = (kind.inputs() + 1) * packed_bytes(port, rows * len, a);
            (compute, bytes)
        }
    }
}

/// The cycles of one layer on `d` at `platform`.
pub fn layer_cycles(kind: LayerKind, d: &Design, p: Precision, platform: &Platform) -> LayerCycles {
    let (compute, bytes) = layer_work(kind, d, p);
    let memory = (bytes as f64 / platform.bytes_per_cycle(d.port)).ceil() as u64;
    LayerCycles { compute, memory, total: compute.max(memory) + LAYER_OVERHEAD_CYCLES }
}

/// Cycles of one inference per engine, and in total.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Cycles {
    pub fc: u64,
    pub attn: u64,
    pub nl: u64,
    /// Layers whose memory time exceeds their compute time.
    pub memory_bound_layers: u64,
}

impl Cycles {
    pub fn total(&self) -> u64 {
        self.fc + self.attn + self.nl
    }
}

/// The cycles of every layer of `w`, summed per engine.
pub fn inference_cycles(w: &Workload, d: &Design, p: Precision, platform: &Platform) -> Cycles {
    let mut c = Cycles::default();
    for l in &w.layers {
        let lc = layer_cycles(l.kind, d, p, platform);
        if lc.memory > lc.compute {
            c.memory_bound_layers += 1;
        }
        match l.kind {
            LayerKind::Fc { .. } => c.fc += lc.total,
            LayerKind::Attn { .. } => c.attn += lc.total,
            LayerKind::Nonlinear { .. } => c.nl += lc.total,
        }
    }
    c
}

/// Frames per second: the clock over the cycles of one inference.
pub fn fps(total_cycles: u64, clock_mhz: f64) -> f64 {
    if total_cycles == 0 {
        return 0.0;
    }
    clock_mhz * 1e6 / total_cycles as f64
}
