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
//!    kind's budget (only the pinned method when the kind is pinned); the combination whose union of primitives is
//!    cheapest wins (exhaustive, exact).
//! 4. Rewrite: `lower-nonlinear` with the chosen method per kind; each
//!    program's result goes through `hw.apply {unit, mode, method, impl}`
//!    and the units are `hw.unit` ops at the top of the function.
//!
//! Invariants: the programs are exactly `lower-nonlinear`'s with the same
//! methods (`hw.apply` is the identity), so the bits are too; an op kind
//! no method can build within its budget is an error naming the op, and
//! the module is unchanged; everything is deterministic.

pub mod choose;
pub mod errors;
pub mod inventory;
pub mod schedule;

use crate::eqsat::nl::{extract::units_of, saturate, Datapaths, SaturationLimits, SaturationOutcome};
use crate::eqsat::stats::{CLASSES, ITERATIONS, NODES, SATURATED, STOPPED_BY_LIMIT};
use crate::transforms::lower_nonlinear::{LowerNonlinear, LoweredOp, Method, OpKind};
use crate::{parse_bool_option, parse_uint_option, Pass, PassContext, PassOption, PassStatistic};
use choose::Choice;
use inventory::Inventories;
use std::collections::BTreeMap;
use std::time::Duration;
use weft_ir::attr::Attribute;
use weft_ir::hwcost::{Instance, Resources};
use weft_ir::ops::hw;
use weft_ir::resources::Resources as ModuleResources;
use weft_ir::{Diagnostic, Function, Module, NewOp, Op};

/// The name of the shared unit.
pub const SHARED_UNIT: &str = "nonlinear";

/// The pass's options.
#[derive(Debug, Clone)]
pub struct ShareOptions {
    /// Elements per cycle of every unit.
    pub lanes: u64,
    /// One unit for all kinds (`true`) or one per kind.
    pub share: bool,
    pub limits: SaturationLimits,
    /// Per kind, a budget replacing [`errors::default_budget`].
    pub budgets: BTreeMap<OpKind, f64>,
    /// Per kind, the only method considered (QUARK's setting pins every
    /// kind to `quark`); other kinds choose freely.
    pub pinned: BTreeMap<OpKind, Method>,
}

impl ShareOptions {
    /// Pins every op kind to `method` (`None`: every kind chooses).
    pub fn pin_all(&mut self, method: Option<Method>) {
        self.pinned.clear();
        if let Some(m) = method {
            self.pinned.extend(OpKind::ALL.into_iter().map(|k| (k, m)));
        }
    }
}

impl Default for ShareOptions {
    fn default() -> Self {
        ShareOptions {
            lanes: 16,
            share: true,
            limits: SaturationLimits::default(),
            budgets: BTreeMap::new(),
            pinned: BTreeMap::new(),
        }
    }
}

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
#[derive(Debug, Clone)]
pub struct SharePlan {
    pub kinds: Vec<KindReport>,
    pub shared: Choice,
    pub unshared: Vec<Choice>,
    /// Each kind in its own unit with the method the shared design
    /// chose for it (what sharing alone saves).
    pub separate: Vec<Choice>,
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
    let internal = || Diagnostic::error("internal error: share-nonlinear found no combination", f.span);
    let shared = choose::shared(&candidates, &invs, options.lanes).ok_or_else(internal)?;
    let unshared = choose::unshared(&candidates, &invs, options.lanes).ok_or_else(internal)?;
    let separate = shared
        .methods
        .iter()
        .filter_map(|(&k, &m)| choose::unshared(&BTreeMap::from([(k, vec![m])]), &invs, options.lanes))
        .flatten()
        .collect();
    Ok(Some(SharePlan { kinds: reports, shared, unshared, separate, datapaths, saturation }))
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
/// `pinned`, when given, is the only method that may be one.
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
            let why = if pinned.is_some_and(|p| p != m) {
                Some(format!("{} is not the pinned method (`{}-method`)", m.name(), kind.option()))
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
        if let Some(why) = why.as_ref().filter(|_| pinned.is_none_or(|p| p == *m)) {
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

/// `[kind, a, b, out, modes]` rows of a unit.
fn primitive_rows(instances: &[Instance]) -> Attribute {
    Attribute::Array(
        instances
            .iter()
            .map(|i| {
                let p = i.primitive;
                let n = |v: u64| Attribute::Int(i64::try_from(v).unwrap_or(i64::MAX));
                Attribute::Array(vec![Attribute::Str(p.kind.name().into()), n(p.a), n(p.b), n(p.out), n(i.modes)])
            })
            .collect(),
    )
}

/// A `hw.unit` op before the first op of `f`'s body.
fn insert_unit(f: &mut Function, name: &str, modes: &[OpKind], instances: &[Instance], lanes: u64, cost: Resources) {
    let Some(&first) = f.blocks[f.body].ops.first() else { return };
    let n = |v: u64| Attribute::Int(i64::try_from(v).unwrap_or(i64::MAX));
    let spec = NewOp::new(&hw::UNIT, vec![], vec![])
        .attr("name", Attribute::Str(name.into()))
        .attr("modes", Attribute::Array(modes.iter().map(|k| Attribute::Str(k.option().into())).collect()))
        .attr("lanes", n(lanes))
        .attr("primitives", primitive_rows(instances))
        .attr("lut", n(cost.lut))
        .attr("ff", n(cost.ff))
        .attr("dsp", n(cost.dsp))
        .attr("bram18", n(cost.bram18));
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
            insert_unit(f, &name, &kinds, &c.instances, lanes, c.cost);
        }
        Ok(())
    }
}

const BUDGET_DOC: &str = "max abs error allowed (empty: the default, spec/hw.md)";
const METHOD_DOC: &str = "the only method for this kind: quark, ibert or lut (empty: chosen freely)";

macro_rules! options {
    ($(($name:literal, $method:literal)),*) => {
        &[
            PassOption { name: "lanes", kind: "uint", default: "16", doc: "elements per cycle of every unit" },
            PassOption { name: "share", kind: "bool", default: "true", doc: "one unit for every op kind (false: one unit per kind, each with its cheapest method)" },
            PassOption { name: "iter-limit", kind: "uint", default: "16", doc: "at most this many saturation iterations" },
            PassOption { name: "node-limit", kind: "uint", default: "20000", doc: "stop saturating at this many e-nodes" },
            PassOption { name: "time-limit", kind: "uint", default: "2000", doc: "stop saturating after this many milliseconds (per function)" },
            PassOption { name: "methods", kind: "string", default: "", doc: "pin every kind to this method (quark: QUARK's setting; empty: each kind chooses)" },
            $(PassOption { name: $name, kind: "float", default: "", doc: BUDGET_DOC },)*
            $(PassOption { name: $method, kind: "string", default: "", doc: METHOD_DOC }),*
        ]
    };
}

const OPTIONS: &[PassOption] = options!(
    ("softmax-budget", "softmax-method"),
    ("gelu-budget", "gelu-method"),
    ("layer-norm-budget", "layer-norm-method"),
    ("sigmoid-budget", "sigmoid-method"),
    ("silu-budget", "silu-method"),
    ("tanh-budget", "tanh-method"),
    ("exp-budget", "exp-method"),
    ("reciprocal-budget", "reciprocal-method"),
    ("sqrt-budget", "sqrt-method"),
    ("rsqrt-budget", "rsqrt-method")
);

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
pass later) and reuses its hardware across passes and modes. \
Every combination of candidates is costed as one unit that builds each primitive once, as \
wide as its widest user, with a mux per mode (spec/hw.md), and the cheapest is lowered with \
`lower-nonlinear`'s emitters. Each program ends in `hw.apply {unit, mode, method, impl}` and \
the unit is a `hw.unit` op at the top of the function. With `share=false`, each kind gets its \
own unit and its cheapest method. The bits are those of `lower-nonlinear` with the same \
methods. An op kind no method can build within its budget is an error naming the op."
    }

    fn options(&self) -> &'static [PassOption] {
        OPTIONS
    }

    fn statistics(&self) -> &'static [PassStatistic] {
        &[NODES, CLASSES, ITERATIONS, SATURATED, STOPPED_BY_LIMIT, MICROS, UNITS, SHARED_LUT_FF, UNSHARED_LUT_FF]
    }

    fn set_option(&mut self, name: &str, value: &str) -> Result<(), String> {
        let o = &mut self.options;
        let positive = || match parse_uint_option(value)? {
            0 => Err("expected at least 1, got '0'".to_string()),
            n => Ok(n),
        };
        let size = || positive().and_then(|n| usize::try_from(n).map_err(|_| format!("'{value}' is too large")));
        match name {
            "lanes" => o.lanes = positive()?,
            "share" => o.share = parse_bool_option(value)?,
            "iter-limit" => o.limits.iterations = size()?,
            "node-limit" => o.limits.nodes = size()?,
            "time-limit" => o.limits.time = Duration::from_millis(parse_uint_option(value)?),
            "methods" => o.pin_all(parse_method(value)?),
            _ if name.ends_with("-method") => {
                let kind = name.strip_suffix("-method").and_then(|k| OpKind::ALL.into_iter().find(|x| x.option() == k));
                let kind = kind.ok_or_else(|| format!("unknown option '{name}'"))?;
                match parse_method(value)? {
                    Some(m) => o.pinned.insert(kind, m),
                    None => o.pinned.remove(&kind),
                };
            }
            _ => {
                let kind = name.strip_suffix("-budget").and_then(|k| OpKind::ALL.into_iter().find(|x| x.option() == k));
                let kind = kind.ok_or_else(|| format!("unknown option '{name}'"))?;
                if value.trim().is_empty() {
                    o.budgets.remove(&kind);
                } else {
                    let b: f64 = value.trim().parse().map_err(|_| format!("expected a number, got '{value}'"))?;
                    if !(b.is_finite() && b >= 0.0) {
                        return Err(format!("expected a budget >= 0, got '{value}'"));
                    }
                    o.budgets.insert(kind, b);
                }
            }
        }
        Ok(())
    }

    fn option_values(&self) -> Vec<(&'static str, String)> {
        let o = &self.options;
        let mut out = vec![
            ("lanes", o.lanes.to_string()),
            ("share", o.share.to_string()),
            ("iter-limit", o.limits.iterations.to_string()),
            ("node-limit", o.limits.nodes.to_string()),
            ("time-limit", o.limits.time.as_millis().to_string()),
        ];
        for (kind, b) in &o.budgets {
            if let Some(opt) = OPTIONS.iter().find(|p| p.name.strip_suffix("-budget") == Some(kind.option())) {
                out.push((opt.name, b.to_string()));
            }
        }
        for (kind, m) in &o.pinned {
            if let Some(opt) = OPTIONS.iter().find(|p| p.name.strip_suffix("-method") == Some(kind.option())) {
                out.push((opt.name, m.name().to_string()));
            }
        }
        out
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

/// A method option's value: `None` for the empty string (choose freely).
fn parse_method(value: &str) -> Result<Option<Method>, String> {
    match value.trim() {
        "" => Ok(None),
        v => Method::parse(v).map(Some),
    }
}

/// The datapath terms' function units, for reports (`exp2 log2`).
pub fn term_units(plan: &SharePlan, kind: OpKind, method: Method) -> Vec<String> {
    plan.datapaths.term(kind, method).map(units_of).unwrap_or_default()
}
