//! `tile-and-pack`: chooses the engines' parameters (FC and attention
//! parallelism, row tile, nonlinear lanes, AXI word and so the packing of
//! low-bit values) by equality saturation over the design space
//! ([`crate::eqsat::tile`]) and extraction by the performance and resource
//! model (spec/perf.md) under the board's budget, and writes the choice as
//! `hw.engine` ops at the top of each function with matmuls.
//!
//! Invariants: the pass never changes what the program computes (it only
//! replaces `hw.engine` ops); the board is given by options (the driver
//! fills them from the board table; the defaults are the ZCU102's); a
//! budget no design fits is an error that says the smallest design's need.

use crate::eqsat::stats::{CLASSES, ITERATIONS, NODES};
use crate::eqsat::tile::{search, Budget, Chosen, Problem, TileLimits, TileOutcome};
use crate::{parse_uint_option, Pass, PassContext, PassOption, PassStatistic};
use std::time::Duration;
use weft_ir::attr::Attribute;
use weft_ir::hwcost::engines::{default_units, Precision};
use weft_ir::hwcost::latency::Platform;
use weft_ir::hwcost::workload::workload;
use weft_ir::hwcost::{Instance, Primitive, PrimitiveKind, Resources, MAX_OPERANDS};
use weft_ir::ops::hw::engine::ENGINE;
use weft_ir::types::ElemType;
use weft_ir::{Diagnostic, Function, Module, NewOp};

/// The board side of the search.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Target {
    pub capacity: Resources,
    pub platform: Platform,
    pub cap: f64,
}

impl Default for Target {
    /// The ZCU102 (spec/boards.md) at 300 MHz, 80% cap.
    fn default() -> Target {
        Target {
            capacity: Resources::new(274_080, 548_160, 2_520, 2 * 912),
            platform: Platform { clock_mhz: 300.0, memory_gbps: 19.2 },
            cap: 0.8,
        }
    }
}

/// The `tile-and-pack` pass.
#[derive(Debug, Clone, Default)]
pub struct TileAndPack {
    pub target: Target,
    /// Precision overrides (0: read from the program's `quant.qmatmul`s, else 8).
    pub weight_bits: u64,
    pub act_bits: u64,
    pub limits: TileLimits,
    /// The outcome of the last run (for the driver's report).
    pub outcome: Option<TileOutcome>,
}

const OPTIONS: &[PassOption] = &[
    PassOption { name: "cap", kind: "float", default: "0.8", doc: "utilization cap of every resource, in (0, 1]" },
    PassOption { name: "clock-mhz", kind: "float", default: "300", doc: "the accelerator clock" },
    PassOption { name: "gbps", kind: "float", default: "19.2", doc: "off-chip bandwidth in GB/s" },
    PassOption { name: "lut", kind: "uint", default: "274080", doc: "the board's LUTs" },
    PassOption { name: "ff", kind: "uint", default: "548160", doc: "the board's flip-flops" },
    PassOption { name: "dsp", kind: "uint", default: "2520", doc: "the board's DSP slices" },
    PassOption { name: "bram", kind: "uint", default: "912", doc: "the board's BRAM36 blocks" },
    PassOption {
        name: "weight-bits",
        kind: "uint",
        default: "0",
        doc: "weight bits (1: binary); 0 reads them from the quant.qmatmul ops, else 8",
    },
    PassOption { name: "act-bits", kind: "uint", default: "0", doc: "activation bits; 0 reads them likewise" },
    PassOption { name: "iter-limit", kind: "uint", default: "100", doc: "at most this many saturation iterations" },
    PassOption { name: "node-limit", kind: "uint", default: "100000", doc: "stop saturating at this many e-nodes" },
    PassOption { name: "time-limit", kind: "uint", default: "10000", doc: "stop saturating after this many ms" },
];

const DESIGNS: PassStatistic =
    PassStatistic { name: "designs-considered", doc: "complete designs extraction evaluated" };
const MICROS: PassStatistic = PassStatistic { name: "search-us", doc: "microseconds of saturation and extraction" };
const FPS: PassStatistic = PassStatistic { name: "fps-milli", doc: "the chosen design's FPS, times 1000" };
const STATISTICS: &[PassStatistic] = &[NODES, CLASSES, ITERATIONS, DESIGNS, MICROS, FPS];

fn parse_float(value: &str) -> Result<f64, String> {
    match value.trim().parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 => Ok(v),
        _ => Err(format!("expected a positive number, got '{value}'")),
    }
}

impl Pass for TileAndPack {
    fn name(&self) -> &'static str {
        "tile-and-pack"
    }

    fn summary(&self) -> &'static str {
        "Chooses the engines' tiling, parallelism and packing by equality saturation under the board's budget"
    }

    fn description(&self) -> &'static str {
        "Reads the layers of each function (spec/perf.md: matmuls with constant weights on the \
FC engine, products of two activations on the attention engine, softmax / GELU / LayerNorm / \
residual additions on the nonlinear unit) and builds an egg e-graph whose root is \
`(design FC ATTN NL PORT)`. Rules add, for each engine parameter, its next legal value as an \
equivalent e-node: `fc-grow-in`, `fc-grow-out` (FC parallelism over input / output channels: \
powers of two, padded, and divisors of the dimensions), `fc-grow-rows` (activation rows per \
on-chip tile), `attn-grow-in`, `attn-grow-out`, `nl-grow-lanes`, `port-widen` (64, 128, 512-bit \
AXI words: the packing of low-bit values). One engine serves every layer, so extraction \
evaluates each engine node on all its layers with the model, keeps the Pareto-optimal ones \
(cycles against each resource) and picks the combination with the highest FPS whose LUT, FF, \
DSP and BRAM stay under `cap` of the board's. The choice is written as `hw.engine` ops at the \
top of the function (replacing earlier ones). The precision is read from the `quant.qmatmul` \
ops (binary weights: 1 bit) unless given; the nonlinear units are the `hw.unit` ops of \
share-nonlinear at the chosen lanes, else one unit per kind. No design under the budget is an \
error."
    }

    fn options(&self) -> &'static [PassOption] {
        OPTIONS
    }

    fn statistics(&self) -> &'static [PassStatistic] {
        STATISTICS
    }

    fn set_option(&mut self, name: &str, value: &str) -> Result<(), String> {
        let t = &mut self.target;
        match name {
            "cap" => {
                let v = parse_float(value)?;
                if v > 1.0 {
                    return Err(format!("expected a number in (0, 1], got '{value}'"));
                }
                t.cap = v;
            }
            "clock-mhz" => t.platform.clock_mhz = parse_float(value)?,
            "gbps" => t.platform.memory_gbps = parse_float(value)?,
            "lut" => t.capacity.lut = parse_uint_option(value)?,
            "ff" => t.capacity.ff = parse_uint_option(value)?,
            "dsp" => t.capacity.dsp = parse_uint_option(value)?,
            "bram" => t.capacity.bram18 = 2 * parse_uint_option(value)?,
            "weight-bits" => self.weight_bits = bits_option(value)?,
            "act-bits" => self.act_bits = bits_option(value)?,
            "iter-limit" => self.limits.iterations = parse_uint_option(value)?.max(1) as usize,
            "node-limit" => self.limits.nodes = parse_uint_option(value)?.max(1) as usize,
            "time-limit" => self.limits.time = Duration::from_millis(parse_uint_option(value)?),
            _ => return Err(format!("unknown option '{name}'")),
        }
        Ok(())
    }

    fn option_values(&self) -> Vec<(&'static str, String)> {
        let t = &self.target;
        vec![
            ("cap", t.cap.to_string()),
            ("clock-mhz", t.platform.clock_mhz.to_string()),
            ("gbps", t.platform.memory_gbps.to_string()),
            ("lut", t.capacity.lut.to_string()),
            ("ff", t.capacity.ff.to_string()),
            ("dsp", t.capacity.dsp.to_string()),
            ("bram", (t.capacity.bram18 / 2).to_string()),
            ("weight-bits", self.weight_bits.to_string()),
            ("act-bits", self.act_bits.to_string()),
        ]
    }

    fn run(&mut self, module: &mut Module, cx: &mut PassContext) -> Result<(), Diagnostic> {
        for f in module.funcs.iter_mut() {
            let Some(outcome) = self.plan(f)? else { continue };
            cx.count(&NODES, outcome.stats.nodes as u64);
            cx.count(&CLASSES, outcome.stats.classes as u64);
            cx.count(&ITERATIONS, outcome.stats.iterations as u64);
            cx.count(&DESIGNS, outcome.stats.designs);
            cx.count(&MICROS, outcome.stats.micros);
            let Some(chosen) = outcome.best else {
                return Err(Diagnostic::error(
                    format!(
                        "no design of the engines fits {:.0}% of the board's resources at w{}a{} (@{})",
                        self.target.cap * 100.0,
                        self.precision(f).weight_bits,
                        self.precision(f).act_bits,
                        f.name
                    ),
                    f.span,
                ));
            };
            cx.count(&FPS, (chosen.fps * 1000.0).round() as u64);
            write_engines(f, &chosen);
            self.outcome = Some(outcome);
        }
        Ok(())
    }
}

fn bits_option(value: &str) -> Result<u64, String> {
    match parse_uint_option(value)? {
        v @ 0..=16 => Ok(v),
        v => Err(format!("expected 0 (from the program) or 1..16 bits, got {v}")),
    }
}

impl TileAndPack {
    /// The precision of `f`: the options, else its `quant.qmatmul` operands
    /// (the widest constant right operand for weights, the widest other operand
    /// for activations), else 8 bits.
    pub fn precision(&self, f: &Function) -> Precision {
        let (mut w, mut a) = (0, 0);
        for op in f.walk() {
            let data = &f.ops[op];
            if data.name() != "quant.qmatmul" {
                continue;
            }
            let width = |i: usize| data.operands.get(i).and_then(|&v| f.value_type(v).as_tensor()).map(|t| &t.elem);
            a = a.max(elem_bits(width(0)));
            // Only a constant right operand is a weight; attention's
            // (QK^T, AV) is an activation.
            let rhs_is_weight = data.operands.get(1).is_some_and(|&v| weft_ir::hwcost::workload::is_weight(f, v));
            if rhs_is_weight {
                w = w.max(elem_bits(width(1)));
            } else {
                a = a.max(elem_bits(width(1)));
            }
        }
        let pick = |opt: u64, found: u64| {
            if opt > 0 {
                opt
            } else if found > 0 {
                found
            } else {
                8
            }
        };
        Precision { weight_bits: pick(self.weight_bits, w), act_bits: pick(self.act_bits, a) }
    }

    /// Searches the design space of `f`; `None` when it has no layer.
    pub fn plan(&self, f: &Function) -> Result<Option<TileOutcome>, Diagnostic> {
        let w = workload(f).map_err(|(op, m)| {
            let d = &f.ops[op];
            Diagnostic::error(m, d.span).with_loc(d.loc.clone())
        })?;
        if w.layers.is_empty() {
            return Ok(None);
        }
        let precision = self.precision(f);
        let units = shared_units(f).unwrap_or_else(|| default_units(precision.act_bits));
        let budget = Budget { capacity: self.target.capacity, cap: self.target.cap };
        let problem = Problem { workload: &w, precision, platform: self.target.platform, budget, units };
        Ok(Some(search(&problem, self.limits)))
    }
}

fn elem_bits(e: Option<&ElemType>) -> u64 {
    match e {
        Some(ElemType::Quant(q)) => u64::from(q.width),
        Some(ElemType::Bin(_)) => 1,
        _ => 0,
    }
}

/// The units share-nonlinear declared (`hw.unit`), as instances of one lane.
fn shared_units(f: &Function) -> Option<Vec<(Vec<Instance>, u64)>> {
    let mut units = Vec::new();
    for op in f.walk() {
        let data = &f.ops[op];
        if data.name() != "hw.unit" {
            continue;
        }
        let modes = match data.attr("modes") {
            Some(Attribute::Array(m)) => m.len() as u64,
            _ => 1,
        };
        let Some(Attribute::Array(rows)) = data.attr("primitives") else { continue };
        units.push((rows.iter().filter_map(instance).collect(), modes));
    }
    (!units.is_empty()).then_some(units)
}

/// One `[kind, a, b, out, modes]`, `[kind, a, b, out, modes, uses]` or
/// `[kind, a, b, out, modes, uses, [inputs]]` row of a `hw.unit`.
fn instance(row: &Attribute) -> Option<Instance> {
    let Attribute::Array(items) = row else { return None };
    let inputs = match items.last() {
        Some(Attribute::Array(list)) => {
            let mut inputs = [1u64; MAX_OPERANDS];
            for (slot, a) in inputs.iter_mut().zip(list) {
                *slot = a.as_int()?.max(1) as u64;
            }
            Some(inputs)
        }
        _ => None,
    };
    let name = items.first()?.as_str()?;
    let kind = PrimitiveKind::from_name(name)?;
    let int = |i: usize| items.get(i).and_then(Attribute::as_int).map(|v| v.max(0) as u64);
    let operands = if matches!(kind, PrimitiveKind::Exp2 | PrimitiveKind::Log2 | PrimitiveKind::Table) { 1 } else { 2 };
    let modes = int(4)?.max(1);
    let primitive = Primitive::new(kind, int(1)?, int(2)?, int(3)?, operands);
    Some(Instance { uses: int(5).unwrap_or(modes).max(modes), inputs, ..Instance::new(primitive, modes, true) })
}

/// One `hw.engine` to write: kind, parameters, resources, cycles.
type EngineRow = (&'static str, Vec<(&'static str, u64)>, Resources, u64);

/// Replaces `f`'s `hw.engine` ops by the chosen design's.
pub fn write_engines(f: &mut Function, c: &Chosen) {
    let old: Vec<_> = f.walk().into_iter().filter(|&op| f.ops[op].name() == ENGINE.name).collect();
    f.remove_ops(&old);
    let d = c.design;
    let p = c.precision;
    let engines: [EngineRow; 3] = [
        ("fc", vec![("t_in", d.fc.t_in), ("t_out", d.fc.t_out), ("t_m", d.fc.t_m)], c.resources.fc, c.cycles.fc),
        ("attn", vec![("t_in", d.attn.t_in), ("t_out", d.attn.t_out)], c.resources.attn, c.cycles.attn),
        ("nonlinear", vec![("lanes", d.nl.lanes)], c.resources.nl, c.cycles.nl),
    ];
    let first = f.blocks.get(f.body).and_then(|b| b.ops.first().copied());
    for (kind, params, r, cycles) in engines {
        let int = |v: u64| Attribute::Int(i64::try_from(v).unwrap_or(i64::MAX));
        let mut op = NewOp::new(&ENGINE, vec![], vec![]).attr("kind", Attribute::Str(kind.into()));
        for (name, v) in params {
            op = op.attr(name, int(v));
        }
        op = op
            .attr("word_bits", int(d.port.word_bits))
            .attr("weight_bits", int(p.weight_bits))
            .attr("act_bits", int(p.act_bits))
            .attr("lut", int(r.lut))
            .attr("ff", int(r.ff))
            .attr("dsp", int(r.dsp))
            .attr("bram18", int(r.bram18))
            .attr("cycles", int(cycles));
        match first {
            Some(before) => {
                f.insert_op_before(before, op);
            }
            None => {
                f.append_op(f.body, op);
            }
        }
    }
}

/// The parameter `name` of the `hw.engine` of `kind` in `f`, if any.
pub fn engine_param(f: &Function, kind: &str, name: &str) -> Option<u64> {
    f.walk().into_iter().find_map(|op| {
        let d = &f.ops[op];
        (d.name() == ENGINE.name && d.attr("kind").and_then(Attribute::as_str) == Some(kind))
            .then(|| d.attr(name).and_then(Attribute::as_int).and_then(|v| u64::try_from(v).ok()))
            .flatten()
    })
}
