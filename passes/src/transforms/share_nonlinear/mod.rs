//! `share-nonlinear`: chooses one implementation per nonlinear op kind so
//! that the hardware of all of them together is smallest, lowers every
//! op with it, and writes the hw dialect (spec/hw.md).
//!
//! Phases, per function:
//! 1. Inventory ([`inventory`]): every quant nonlinear op's program is
//!    emitted under each method by `lower-nonlinear`'s emitters into
//!    scratch copies, and read as primitives of the resource model, per
//!    pass of a streaming unit over the row ([`schedule`]).
//! 2. E-graph ([`crate::eqsat::nl`]): the op kinds present are roots;
//!    saturation under the rules (softmax by division or log-sum-exp,
//!    divider or log divider, Newton or log-domain roots, GELU by i-GELU,
//!    pair softmax or table, ...) and extraction per method give the
//!    datapaths each method can build.
//! 3. Choice ([`choose`]): candidates are the methods with a datapath,
//!    a buildable program and a measured error ([`errors`]) within the
//!    kind's budget (only the pinned method when the kind is pinned),
//!    each at the initiation intervals the kind allows ([`ii`]); the
//!    combination whose union of primitives is cheapest wins
//!    (exhaustive, exact). The unshared baselines run every kind at the
//!    interval the shared design chose for it.
//! 4. Rewrite: `lower-nonlinear` with the chosen method per kind; each
//!    program's result goes through `hw.apply {unit, mode, method, impl}`
//!    and the units are `hw.unit` ops at the top of the function.
//!
//! Invariants: the programs are exactly `lower-nonlinear`'s with the same
//! methods (`hw.apply` is the identity), so the bits are too; an op kind
//! no method can build within its budget is an error naming the op, and
//! the module is unchanged; everything is deterministic.

pub mod bound;
pub mod choose;
pub mod errors;
pub mod ii;
pub mod inventory;
pub mod options;
pub mod schedule;
pub mod unit;

use crate::eqsat::nl::{extract::units_of, saturate, Datapaths, SaturationOutcome};
use crate::eqsat::stats::{CLASSES, ITERATIONS, NODES, SATURATED, STOPPED_BY_LIMIT};
use crate::transforms::lower_nonlinear::{LowerNonlinear, LoweredOp, Method, OpKind};
use crate::{Pass, PassContext, PassOption, PassStatistic};
use choose::{Candidates, Choice};
use ii::Throughput;
use inventory::Inventories;
pub use options::ShareOptions;
use std::collections::BTreeMap;
use weft_ir::attr::Attribute;
use weft_ir::hwcost::{Instance, Resources};
use weft_ir::ops::hw;
use weft_ir::resources::Resources as ModuleResources;
use weft_ir::{Diagnostic, Function, Module, NewOp, Op};

/// The name of the shared unit.
pub const SHARED_UNIT: &str = "nonlinear";

/// One op kind of a function: its ops, widest input, budget, and each
/// method's standing.
#[derive(Debug, Clone)]
pub struct KindReport {
    pub kind: OpKind,
    pub ops: usize,
    pub bits: u8,
    pub budget: f64,
    /// Per method: the measured error, and why it is not a candidate.
    pub methods: Vec<(Method, Option<f64>, Option<String>)>,
}

/// What the pass decided for one function: the shared and the unshared
/// design (both are always computed; `share` picks which is written).
/// Every unshared design runs each kind at the shared design's interval,
/// so that the comparison is of sharing, not of throughput.
#[derive(Debug, Clone)]
pub struct SharePlan {
    pub kinds: Vec<KindReport>,
    pub shared: Choice,
    /// Each kind in its own unit, its cheapest method.
    pub unshared: Vec<Choice>,
    /// Each kind in its own unit with the method the shared design
    /// chose for it (what sharing alone saves).
    pub separate: Vec<Choice>,
    /// `separate` at full rate (every interval 1), when the shared
    /// design time-multiplexes a kind.
    pub separate_full_rate: Option<Vec<Choice>>,
    /// Per kind, its rate on the shared unit.
    pub throughput: BTreeMap<OpKind, Throughput>,
    pub lanes: u64,
    pub datapaths: Datapaths,
    pub saturation: SaturationOutcome,
}

impl SharePlan {
    pub fn unshared_cost(&self) -> Resources {
        self.unshared.iter().map(|c| c.cost).sum()
    }
}

/// Plans `f`: `None` when it has no quant nonlinear op.
pub fn plan_function(
    f: &Function,
    resources: &ModuleResources,
    lower: &LowerNonlinear,
    options: &ShareOptions,
) -> Result<Option<SharePlan>, Diagnostic> {
    let sites = nonlinear_sites(f);
    if sites.is_empty() {
        return Ok(None);
    }
    let invs = inventory::inventories(f, resources, lower.tables());
    let kinds = kind_widths(f, &sites);
    let (datapaths, saturation) =
        saturate(&kinds.iter().map(|(&k, &(_, b))| (k, b)).collect::<Vec<_>>(), options.limits)
            .map_err(|e| Diagnostic::error(format!("internal error in share-nonlinear's rules: {e}"), f.span))?;
    let mut reports = Vec::new();
    let mut candidates: BTreeMap<OpKind, Vec<Method>> = BTreeMap::new();
    for (&kind, &(count, bits)) in &kinds {
        let budget = options.budgets.get(&kind).copied().unwrap_or_else(|| errors::default_budget(kind, bits));
        let report = standing(kind, count, bits, budget, options.pinned.get(&kind).copied(), &datapaths, &invs);
        let ok: Vec<Method> = report.methods.iter().filter(|m| m.2.is_none()).map(|m| m.0).collect();
        if ok.is_empty() {
            return Err(no_candidate(f, &sites, &report, options.pinned.get(&kind).copied()));
        }
        candidates.insert(kind, ok);
        reports.push(report);
    }
    let candidates = with_intervals(&candidates, &invs, options);
    let combinations = choose::combinations(&candidates);
    if combinations > choose::MAX_COMBINATIONS {
        let message = format!(
            "share-nonlinear would cost {combinations} combinations of methods and intervals (at most {})",
            choose::MAX_COMBINATIONS
        );
        return Err(Diagnostic::error(message, f.span)
            .note("pin methods (`<kind>-method`) or fix intervals (`<kind>-ii=N`) of some kinds"));
    }
    let folded = choose::fold_all(&candidates, &invs);
    let internal = || Diagnostic::error("internal error: share-nonlinear found no combination", f.span);
    let shared = choose::shared(&candidates, &folded, options.lanes).ok_or_else(internal)?;
    let ii_of = |k: OpKind| shared.ii.get(&k).copied().unwrap_or(1);
    let same_rate: Candidates =
        candidates.iter().map(|(&k, list)| (k, list.iter().copied().filter(|c| c.1 == ii_of(k)).collect())).collect();
    let unshared = choose::unshared(&same_rate, &folded, options.lanes).ok_or_else(internal)?;
    let separate = choose::separate(&shared, &invs, options.lanes, ii_of);
    let separate_full_rate = (shared.max_ii() > 1).then(|| choose::separate(&shared, &invs, options.lanes, |_| 1));
    let throughput = shared
        .methods
        .iter()
        .map(|(&k, &m)| (k, Throughput::new(options.lanes, pass_count(&invs, k, m), ii_of(k))))
        .collect();
    Ok(Some(SharePlan {
        kinds: reports,
        shared,
        unshared,
        separate,
        separate_full_rate,
        throughput,
        lanes: options.lanes,
        datapaths,
        saturation,
    }))
}

fn pass_count(invs: &Inventories, kind: OpKind, method: Method) -> u64 {
    invs.get(&(kind, method)).and_then(|r| r.as_ref().ok()).map_or(1, |p| p.pass_count)
}

/// Each candidate method at every interval its kind allows
/// ([`ii::intervals`]).
fn with_intervals(methods: &BTreeMap<OpKind, Vec<Method>>, invs: &Inventories, options: &ShareOptions) -> Candidates {
    let slowest =
        methods.iter().flat_map(|(&k, ms)| ms.iter().map(move |&m| pass_count(invs, k, m))).max().unwrap_or(1);
    let mut out = Candidates::new();
    for (&kind, ms) in methods {
        let list = out.entry(kind).or_default();
        for &m in ms {
            let Some(Ok(programs)) = invs.get(&(kind, m)) else { continue };
            let rate = options.rates.get(&kind).copied();
            let iis = ii::intervals(options.ii_of(kind), rate, options.lanes, programs, slowest);
            list.extend(iis.into_iter().map(|ii| (m, ii)));
        }
        // Faster first, so that a tie keeps the faster unit.
        list.sort_by_key(|&(_, ii)| ii);
    }
    out
}

/// The quant nonlinear ops of `f` with their kinds, in program order.
fn nonlinear_sites(f: &Function) -> Vec<(Op, OpKind)> {
    f.walk().into_iter().filter_map(|op| OpKind::of(f.ops[op].name()).map(|k| (op, k))).collect()
}

/// Per kind: how many ops, and the widest input or result.
fn kind_widths(f: &Function, sites: &[(Op, OpKind)]) -> BTreeMap<OpKind, (usize, u8)> {
    let mut out: BTreeMap<OpKind, (usize, u8)> = BTreeMap::new();
    for &(op, kind) in sites {
        let data = &f.ops[op];
        let width = data
            .operands
            .iter()
            .take(1)
            .chain(data.results.iter())
            .filter_map(|&v| f.value_type(v).as_tensor().map(|t| t.elem.clone()))
            .filter_map(|e| int_width(&e))
            .max()
            .unwrap_or(8);
        let e = out.entry(kind).or_insert((0, 0));
        *e = (e.0 + 1, e.1.max(width));
    }
    out
}

fn int_width(elem: &weft_ir::ElemType) -> Option<u8> {
    match elem {
        weft_ir::ElemType::Quant(q) => Some(q.width),
        weft_ir::ElemType::Int { width, .. } => Some(*width),
        _ => None,
    }
}

/// Each method's standing for `kind`: its measured error, and why it is
/// not a candidate (`None`: it is one).
/// `pinned`, when given, is the only method that may be one, with what
/// it admits ([`Method::admits`]: `quark` its variant `quark-log`).
fn standing(
    kind: OpKind,
    ops: usize,
    bits: u8,
    budget: f64,
    pinned: Option<Method>,
    paths: &Datapaths,
    invs: &Inventories,
) -> KindReport {
    let methods = Method::ALL
        .into_iter()
        .map(|m| {
            let error = errors::error(kind, m, bits);
            let why = if pinned.is_some_and(|p| !p.admits(m, kind)) {
                Some(format!("{} is not the pinned method (`{}-method`)", m.name(), kind.option()))
            } else if !m.has_own_program(kind) {
                Some(format!("{} builds it as {} does", m.name(), m.base().name()))
            } else if paths.term(kind, m).is_none() {
                Some(format!("the e-graph has no {} datapath for it", m.name()))
            } else if let Some(Err(e)) = invs.get(&(kind, m)) {
                Some(format!("{}: {e}", m.name()))
            } else {
                match error {
                    None => Some(format!("{} has no measured error at {bits} bits", m.name())),
                    Some(e) if e > budget => {
                        Some(format!("{} errs by {e:.4} at {bits} bits, over the budget {budget:.4}", m.name()))
                    }
                    Some(_) => None,
                }
            };
            (m, error, why)
        })
        .collect();
    KindReport { kind, ops, bits, budget, methods }
}

/// The error for a kind no method can build within its budget, at its
/// first op.
fn no_candidate(f: &Function, sites: &[(Op, OpKind)], report: &KindReport, pinned: Option<Method>) -> Diagnostic {
    let op = sites.iter().find(|s| s.1 == report.kind).map(|s| s.0);
    let (name, budget, bits) = (report.kind.op_name(), report.budget, report.bits);
    let message = match pinned {
        Some(m) => format!(
            "the pinned method '{}' cannot implement '{name}' within its error budget {budget:.4} at {bits} bits",
            m.name()
        ),
        None => format!("no implementation of '{name}' meets its error budget {budget:.4} at {bits} bits"),
    };
    let mut d = match op.and_then(|op| f.ops.get(op)) {
        Some(data) => {
            Diagnostic::error(format!("'{}' op {}", data.name(), &message), data.span).with_loc(data.loc.clone())
        }
        None => Diagnostic::error(message, f.span),
    };
    for (m, _, why) in &report.methods {
        if let Some(why) = why.as_ref().filter(|_| pinned.is_none_or(|p| p.admits(*m, report.kind))) {
            d = d.note(why.clone());
        }
    }
    let option = report.kind.option();
    match pinned {
        Some(_) => d.note(format!("pin another method or let it be chosen (`{option}-method=`, `methods=`)")),
        None => d.note(format!("raise it with the option `{option}-budget` (measured errors: spec/nl.md)")),
    }
}

/// The unit that runs `kind` in the written design.
fn unit_name(share: bool, kind: OpKind) -> String {
    if share {
        SHARED_UNIT.to_string()
    } else {
        kind.option().to_string()
    }
}

fn int_attr(v: u64) -> Attribute {
    Attribute::Int(i64::try_from(v).unwrap_or(i64::MAX))
}

/// `[kind, a, b, out, modes]` rows of a unit, `[.., modes, uses]` for a
/// time-multiplexed instance, `[.., modes, uses, [inputs]]` when an
/// operand's mux has fewer inputs than the instance has uses.
fn primitive_rows(instances: &[Instance]) -> Attribute {
    Attribute::Array(
        instances
            .iter()
            .map(|i| {
                let p = i.primitive;
                let n = int_attr;
                let mut row = vec![Attribute::Str(p.kind.name().into()), n(p.a), n(p.b), n(p.out), n(i.modes)];
                let inputs = i.operand_inputs();
                let fewer = inputs.iter().any(|&k| k < i.uses.max(i.modes));
                if i.uses > i.modes || fewer {
                    row.push(n(i.uses));
                }
                if fewer {
                    row.push(Attribute::Array(inputs.into_iter().map(n).collect()));
                }
                Attribute::Array(row)
            })
            .collect(),
    )
}

/// A `hw.unit` op of `c` before the first op of `f`'s body (its `ii`
/// only when a mode is time-multiplexed).
fn insert_unit(f: &mut Function, name: &str, c: &Choice, lanes: u64) {
    let Some(&first) = f.blocks[f.body].ops.first() else { return };
    let n = int_attr;
    let modes: Vec<OpKind> = c.methods.keys().copied().collect();
    let mut spec = NewOp::new(&hw::UNIT, vec![], vec![])
        .attr("name", Attribute::Str(name.into()))
        .attr("modes", Attribute::Array(modes.iter().map(|k| Attribute::Str(k.option().into())).collect()))
        .attr("lanes", n(lanes))
        .attr("primitives", primitive_rows(&c.instances))
        .attr("lut", n(c.cost.lut))
        .attr("ff", n(c.cost.ff))
        .attr("dsp", n(c.cost.dsp))
        .attr("bram18", n(c.cost.bram18));
    if c.max_ii() > 1 {
        spec = spec.attr("ii", Attribute::Array(modes.iter().map(|k| n(c.ii.get(k).copied().unwrap_or(1))).collect()));
    }
    f.insert_op_before(first, spec);
}

/// `hw.apply %input, %output` right before the lowered op.
fn apply(f: &mut Function, lowered: &LoweredOp, unit: &str, term: Option<String>) -> weft_ir::Value {
    let ty = f.value_type(lowered.output).clone();
    let mut spec = NewOp::new(&hw::APPLY, vec![lowered.input, lowered.output], vec![ty])
        .attr("unit", Attribute::Str(unit.into()))
        .attr("mode", Attribute::Str(lowered.kind.option().into()))
        .attr("method", Attribute::Str(lowered.method.name().into()));
    if let Some(t) = term {
        spec = spec.attr("impl", Attribute::Str(t));
    }
    spec = spec.at(&f.ops[lowered.op]);
    let op = f.insert_op_before(lowered.op, spec);
    f.ops[op].results[0]
}

/// The `share-nonlinear` pass.
#[derive(Debug, Clone, Default)]
pub struct ShareNonlinear {
    pub options: ShareOptions,
    lower: LowerNonlinear,
}

impl ShareNonlinear {
    pub fn with_options(options: ShareOptions) -> ShareNonlinear {
        ShareNonlinear { options, lower: LowerNonlinear::default() }
    }

    /// Lowers `f` as `plan` says and writes the hw ops.
    fn rewrite(
        &self,
        f: &mut Function,
        resources: &ModuleResources,
        plan: &SharePlan,
        cx: &mut PassContext,
    ) -> Result<(), Diagnostic> {
        let share = self.options.share;
        let chosen: BTreeMap<OpKind, Method> = if share {
            plan.shared.methods.clone()
        } else {
            plan.unshared.iter().flat_map(|c| c.methods.iter().map(|(&k, &m)| (k, m))).collect()
        };
        let lower = chosen.iter().fold(self.lower.clone(), |l, (&k, &m)| l.with_override(k, m));
        let terms: BTreeMap<OpKind, String> =
            chosen.iter().filter_map(|(&k, &m)| plan.datapaths.term(k, m).map(|t| (k, t.to_string()))).collect();
        lower.lower_function_with(f, resources, cx, |f, lowered| {
            Ok(apply(f, lowered, &unit_name(share, lowered.kind), terms.get(&lowered.kind).cloned()))
        })?;
        let lanes = self.options.lanes;
        let units: Vec<&Choice> = if share { vec![&plan.shared] } else { plan.unshared.iter().collect() };
        // Inserted before the first op in reverse, so they print in order.
        for c in units.into_iter().rev() {
            let kinds: Vec<OpKind> = c.methods.keys().copied().collect();
            let name = match kinds.as_slice() {
                [only] if !share => unit_name(false, *only),
                _ => SHARED_UNIT.to_string(),
            };
            insert_unit(f, &name, c, lanes);
        }
        Ok(())
    }
}

const MICROS: PassStatistic =
    PassStatistic { name: "saturation-us", doc: "microseconds spent building, saturating and extracting" };
const UNITS: PassStatistic = PassStatistic { name: "units", doc: "hw.unit ops written" };
const SHARED_LUT_FF: PassStatistic =
    PassStatistic { name: "lut-ff", doc: "LUT + FF of the units written (the resource model)" };
const UNSHARED_LUT_FF: PassStatistic =
    PassStatistic { name: "unshared-lut-ff", doc: "LUT + FF of one unit per op kind, each its cheapest method" };

impl Pass for ShareNonlinear {
    fn name(&self) -> &'static str {
        "share-nonlinear"
    }

    fn summary(&self) -> &'static str {
        "Chooses one implementation per nonlinear op kind for the smallest shared hardware, lowers, writes hw units"
    }

    fn description(&self) -> &'static str {
        "For the quant nonlinear ops of each function (`quant.softmax`, `quant.gelu`, \
`quant.layer_norm`, ...): builds an egg e-graph with one root per op kind, saturates it under \
rules that state the alternative implementations (softmax by division or as \
`exp(x - max - ln sum)`, division by a divider or `exp(ln a - ln b)`, roots by Newton or \
`exp(ln x / 2)`, GELU by i-GELU, by the two-element softmax or by a table, ...), and extracts \
per op kind the datapath each method (quark, ibert, lut) can build. A method is a candidate \
when its measured error (spec/nl.md) is within the kind's budget (`<kind>-budget`; default: \
the target of spec/nl.md or twice the output quantization's own error, whichever is larger); \
`methods` (all kinds) or `<kind>-method` pins a kind to one method (`methods=quark` is QUARK's \
setting). A unit streams each row through its lanes in passes (a reduction's value is known one \
pass later) and reuses its hardware across passes and modes. At an initiation interval `ii` above 1 \
(`ii`, `<kind>-ii`: N cycles per element per lane, or `auto`: the smallest unit whose rate stays \
within `<kind>-rate`, by default the slowest kind's full rate) the ops of one pass share \
`ceil(k / ii)` instances of a primitive they use `k` times, at the price of operand muxes, hold \
registers and a sequencer; the unshared designs run each kind at the same interval. \
Every combination of candidates is costed as one unit that builds each primitive once, as \
wide as its widest user, with a mux per mode (spec/hw.md), and the cheapest is lowered with \
`lower-nonlinear`'s emitters. Each program ends in `hw.apply {unit, mode, method, impl}` and \
the unit is a `hw.unit` op at the top of the function. With `share=false`, each kind gets its \
own unit and its cheapest method. The bits are those of `lower-nonlinear` with the same \
methods. An op kind no method can build within its budget is an error naming the op."
    }

    fn options(&self) -> &'static [PassOption] {
        options::OPTIONS
    }

    fn statistics(&self) -> &'static [PassStatistic] {
        &[NODES, CLASSES, ITERATIONS, SATURATED, STOPPED_BY_LIMIT, MICROS, UNITS, SHARED_LUT_FF, UNSHARED_LUT_FF]
    }

    fn set_option(&mut self, name: &str, value: &str) -> Result<(), String> {
        self.options.set(name, value)
    }

    fn option_values(&self) -> Vec<(&'static str, String)> {
        self.options.values()
    }

    fn run(&mut self, module: &mut Module, cx: &mut PassContext) -> Result<(), Diagnostic> {
        let Module { funcs, resources, .. } = module;
        for f in funcs.iter_mut() {
            let Some(plan) = plan_function(f, resources, &self.lower, &self.options)? else { continue };
            let s = &plan.saturation;
            cx.count(&NODES, s.nodes as u64);
            cx.count(&CLASSES, s.classes as u64);
            cx.count(&ITERATIONS, s.iterations as u64);
            cx.count(if s.stop == "saturated" { &SATURATED } else { &STOPPED_BY_LIMIT }, 1);
            cx.count(&MICROS, u64::try_from(s.time.as_micros()).unwrap_or(u64::MAX));
            let written = if self.options.share { plan.shared.cost } else { plan.unshared_cost() };
            cx.count(&UNITS, if self.options.share { 1 } else { plan.unshared.len() as u64 });
            cx.count(&SHARED_LUT_FF, written.lut + written.ff);
            let unshared = plan.unshared_cost();
            cx.count(&UNSHARED_LUT_FF, unshared.lut + unshared.ff);
            self.rewrite(f, resources, &plan, cx)?;
        }
        Ok(())
    }
}

/// The datapath terms' function units, for reports (`exp2 log2`).
pub fn term_units(plan: &SharePlan, kind: OpKind, method: Method) -> Vec<String> {
    plan.datapaths.term(kind, method).map(units_of).unwrap_or_default()
}
