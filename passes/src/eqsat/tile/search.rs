//! Building the e-graph of a workload's design space, saturating it and
//! extracting the best design under a budget.

use super::lang::{choices, TileGraph, TileLang};
use super::rules::{rules, Candidates, Space};
use egg::{Id, Runner};
use std::time::{Duration, Instant};
use weft_ir::hwcost::engines::{
    attn_engine, design_resources, fc_engine, nl_engine, AttnEngine, Design, EngineResources, FcEngine, NlEngine,
    Precision,
};
use weft_ir::hwcost::latency::{fps, inference_cycles, layer_cycles, Cycles, LayerKind, Platform, Workload};
use weft_ir::hwcost::{Instance, Resources};

/// The largest parallelism the space offers per engine dimension.
const MAX_FC_PARALLEL: u64 = 128;
const MAX_ATTN_PARALLEL: u64 = 64;
const MAX_LANES: u64 = 64;
const MAX_ROW_TILE: u64 = 256;
/// The AXI word widths (bits) a port may have.
pub const WORD_BITS: [u64; 3] = [64, 128, 512];

/// The resources a design may use: `cap` of the board's.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Budget {
    /// The board's totals (BRAM in RAMB18 halves).
    pub capacity: Resources,
    /// The utilization cap in (0, 1].
    pub cap: f64,
}

impl Budget {
    /// The largest amount of each resource a design may use.
    pub fn limit(&self) -> Resources {
        let f = |x: u64| (x as f64 * self.cap).floor() as u64;
        Resources::new(f(self.capacity.lut), f(self.capacity.ff), f(self.capacity.dsp), f(self.capacity.bram18))
    }

    pub fn fits(&self, r: Resources) -> bool {
        let l = self.limit();
        r.lut <= l.lut && r.ff <= l.ff && r.dsp <= l.dsp && r.bram18 <= l.bram18
    }
}

/// What to search.
#[derive(Debug, Clone)]
pub struct Problem<'a> {
    pub workload: &'a Workload,
    pub precision: Precision,
    pub platform: Platform,
    pub budget: Budget,
    /// The nonlinear units' instances of one lane and their mode counts.
    pub units: Vec<(Vec<Instance>, u64)>,
}

/// The runner's limits.
#[derive(Debug, Clone, Copy)]
pub struct TileLimits {
    pub iterations: usize,
    pub nodes: usize,
    pub time: Duration,
}

impl Default for TileLimits {
    fn default() -> TileLimits {
        TileLimits { iterations: 100, nodes: 100_000, time: Duration::from_secs(10) }
    }
}

/// The chosen design with its model estimates.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Chosen {
    pub design: Design,
    pub precision: Precision,
    pub resources: EngineResources,
    pub cycles: Cycles,
    pub fps: f64,
}

/// Statistics of one search.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TileStats {
    pub nodes: usize,
    pub classes: usize,
    pub iterations: usize,
    /// Whether saturation finished (no rule applied) rather than hitting a limit.
    pub saturated: bool,
    /// Complete designs whose resources and FPS extraction evaluated.
    pub designs: u64,
    pub micros: u64,
}

#[derive(Debug, Clone)]
pub struct TileOutcome {
    /// The fastest design under the budget (`None`: none fits).
    pub best: Option<Chosen>,
    pub stats: TileStats,
}

/// The candidates of every parameter for `w`.
pub fn space(w: &Workload) -> Space {
    let (mut fc_k, mut fc_n, mut fc_m, mut at_k, mut at_n, mut row) =
        (Vec::new(), Vec::new(), 0, Vec::new(), Vec::new(), 1);
    for l in &w.layers {
        match l.kind {
            LayerKind::Fc { m, k, n, .. } => {
                fc_k.push(k);
                fc_n.push(n);
                fc_m = fc_m.max(m);
            }
            LayerKind::Attn { k, n, .. } => {
                at_k.push(k);
                at_n.push(n);
            }
            LayerKind::Nonlinear { len, .. } => row = row.max(len),
        }
    }
    let tiling =
        |dims: &[u64], cap: u64| Candidates::tiling(dims.iter().copied().max().unwrap_or(1).min(cap), gcd_all(dims));
    let mut rows = Candidates::tiling(fc_m.clamp(1, MAX_ROW_TILE), 1);
    if fc_m <= MAX_ROW_TILE && !rows.0.contains(&fc_m.max(1)) {
        rows.0.push(fc_m.max(1));
    }
    Space {
        fc_in: tiling(&fc_k, MAX_FC_PARALLEL),
        fc_out: tiling(&fc_n, MAX_FC_PARALLEL),
        fc_rows: rows,
        attn_in: tiling(&at_k, MAX_ATTN_PARALLEL),
        attn_out: tiling(&at_n, MAX_ATTN_PARALLEL),
        lanes: Candidates::tiling(row.min(MAX_LANES), 1),
        words: Candidates(WORD_BITS.to_vec()),
    }
}

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

fn gcd_all(v: &[u64]) -> u64 {
    v.iter().fold(0, |g, &x| gcd(g, x))
}

/// The e-graph of the smallest design: every parameter at its first candidate.
fn initial(space: &Space) -> (TileGraph, Id) {
    let mut g = TileGraph::default();
    let n = |g: &mut TileGraph, c: &Candidates| g.add(TileLang::Num(c.first()));
    let (i, o, m) = (n(&mut g, &space.fc_in), n(&mut g, &space.fc_out), n(&mut g, &space.fc_rows));
    let fc = g.add(TileLang::Fc([i, o, m]));
    let (ai, ao) = (n(&mut g, &space.attn_in), n(&mut g, &space.attn_out));
    let attn = g.add(TileLang::Attn([ai, ao]));
    let l = n(&mut g, &space.lanes);
    let nl = g.add(TileLang::Nl([l]));
    let w = n(&mut g, &space.words);
    let port = g.add(TileLang::Port([w]));
    let root = g.add(TileLang::Design([fc, attn, nl, port]));
    (g, root)
}

/// One engine option: its cycles over its layers and its resources.
#[derive(Debug, Clone, Copy)]
struct EngineOption<T> {
    engine: T,
    cycles: u64,
    res: Resources,
}

fn dominated(a: &Resources, ac: u64, b: &Resources, bc: u64) -> bool {
    bc <= ac && b.lut <= a.lut && b.ff <= a.ff && b.dsp <= a.dsp && b.bram18 <= a.bram18
}

/// Keeps the options no other option dominates (the first of equal ones).
fn pareto<T: Copy>(mut v: Vec<EngineOption<T>>, budget: &Budget) -> Vec<EngineOption<T>> {
    v.retain(|o| budget.fits(o.res));
    v.sort_by_key(|o| (o.cycles, o.res.weight()));
    let mut kept: Vec<EngineOption<T>> = Vec::new();
    for o in v {
        if !kept.iter().any(|k| dominated(&o.res, o.cycles, &k.res, k.cycles)) {
            kept.push(o);
        }
    }
    kept
}

fn cycles_of(w: &Workload, d: &Design, p: &Problem, keep: fn(&LayerKind) -> bool) -> u64 {
    w.layers.iter().filter(|l| keep(&l.kind)).map(|l| layer_cycles(l.kind, d, p.precision, &p.platform).total).sum()
}

/// Saturates the design space of `p.workload` and extracts the fastest design under the budget.
pub fn search(p: &Problem, limits: TileLimits) -> TileOutcome {
    let start = Instant::now();
    let space = space(p.workload);
    let (g, root) = initial(&space);
    let runner = Runner::default()
        .with_egraph(g)
        .with_iter_limit(limits.iterations)
        .with_node_limit(limits.nodes)
        .with_time_limit(limits.time)
        .run(&rules(&space));
    let saturated = matches!(runner.stop_reason, Some(egg::StopReason::Saturated));
    let iterations = runner.iterations.len();
    let g = runner.egraph;
    let root = g.find(root);
    let c = choices(&g, root);
    let mut stats = TileStats {
        nodes: g.total_number_of_nodes(),
        classes: g.number_of_classes(),
        iterations,
        saturated,
        ..TileStats::default()
    };
    let best = extract(p, &c, &mut stats);
    stats.micros = start.elapsed().as_micros() as u64;
    TileOutcome { best, stats }
}

/// The fastest design of the combinations of `c` under the budget.
fn extract(p: &Problem, c: &super::lang::Choices, stats: &mut TileStats) -> Option<Chosen> {
    let w = p.workload;
    let ext = w.extents();
    let base = |port| Design {
        fc: FcEngine { t_in: 1, t_out: 1, t_m: 1 },
        attn: AttnEngine { t_in: 1, t_out: 1 },
        nl: NlEngine { lanes: 1 },
        port,
    };
    let mut best: Option<(u64, u64, Design)> = None;
    for &port in &c.port {
        let fcs: Vec<_> =
            c.fc.iter()
                .map(|&e| {
                    let d = Design { fc: e, ..base(port) };
                    let cycles = cycles_of(w, &d, p, |k| matches!(k, LayerKind::Fc { .. }));
                    EngineOption { engine: e, cycles, res: fc_engine(e, p.precision, ext, port) }
                })
                .collect();
        let attns: Vec<_> = c
            .attn
            .iter()
            .map(|&e| {
                let d = Design { attn: e, ..base(port) };
                let cycles = cycles_of(w, &d, p, |k| matches!(k, LayerKind::Attn { .. }));
                EngineOption { engine: e, cycles, res: attn_engine(e, p.precision, ext, port) }
            })
            .collect();
        let nls: Vec<_> =
            c.nl.iter()
                .map(|&e| {
                    let d = Design { nl: e, ..base(port) };
                    let cycles = cycles_of(w, &d, p, |k| matches!(k, LayerKind::Nonlinear { .. }));
                    EngineOption { engine: e, cycles, res: nl_engine(e, &p.units, p.precision, ext, port) }
                })
                .collect();
        let (fcs, attns, nls) = (pareto(fcs, &p.budget), pareto(attns, &p.budget), pareto(nls, &p.budget));
        for f in &fcs {
            for a in &attns {
                let fa = f.res + a.res;
                if !p.budget.fits(fa) {
                    continue;
                }
                for n in &nls {
                    stats.designs += 1;
                    let res = fa + n.res;
                    if !p.budget.fits(res) {
                        continue;
                    }
                    let key = (f.cycles + a.cycles + n.cycles, res.weight());
                    if best.as_ref().is_none_or(|b| key < (b.0, b.1)) {
                        best = Some((key.0, key.1, Design { fc: f.engine, attn: a.engine, nl: n.engine, port }));
                    }
                }
            }
        }
    }
    let (_, _, design) = best?;
    let resources = design_resources(&design, p.precision, ext, &p.units);
    let cycles = inference_cycles(w, &design, p.precision, &p.platform);
    Some(Chosen { design, precision: p.precision, resources, cycles, fps: fps(cycles.total(), p.platform.clock_mhz) })
}
