//! IR <-> e-graph for `fuse`: [`fuse_function`] puts the float nn ops of a
//! function's body into an e-graph, runs the rules, extracts with
//! [`FusedOpCost`] and writes every class whose best term is a fused op
//! back as that op.
//!
//! Phases:
//! 1. Conversion, in block order: a pure float nn op of the language
//!    becomes a node over its operands' classes; any other value is a
//!    [`Leaf`] (with its type, and its value when it is a single-element
//!    float constant). The class of each op result records its type and
//!    adds the result's IR use count (rules check that an intermediate
//!    they absorb has no other use).
//! 2. Saturation with the limits of [`FuseLimits`].
//! 3. Write-back, in block order: for each converted result whose class's
//!    best node is fused and is not the node the result's own op became
//!    (an imported `nn.softmax` stays as it is), the fused op is built
//!    right before the result's
//!    defining op (operands: leaves, the earliest original value of a
//!    non-fused class, or fused ops built the same way) and replaces the
//!    result's uses; then dead pure ops are removed.
//!
//! Invariants: a fused op is only built when every operand is defined
//! before the place it goes (otherwise the result is left alone), so the
//! block stays in definition order; the output depends only on the input
//! (deterministic e-graph, block-order iteration).

use super::attention::chain_location;
use super::cost::FusedOpCost;
use super::lang::{FusedKind, Leaf, LeafInfo, NnAnalysis, NnEGraph, NnLang, Param};
use super::rules::{rules, RuleOptions};
use crate::transforms::canonicalize::remove_unused_pure_ops;
use egg::{Extractor, Id, Language, Runner, StopReason};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Duration;
use weft_ir::attr::Attribute;
use weft_ir::entity::SecondaryMap;
use weft_ir::ops::eval::as_f64;
use weft_ir::ops::nn;
use weft_ir::ops::nn::attention::Scale;
use weft_ir::ops::shape::normalize_axis;
use weft_ir::ops::Trait;
use weft_ir::{Function, NewOp, Op, OpDef, Type, Value};

/// The runner's limits (pass options).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FuseLimits {
    pub iterations: usize,
    pub nodes: usize,
    pub time: Duration,
}

impl Default for FuseLimits {
    fn default() -> Self {
        FuseLimits { iterations: 12, nodes: 200_000, time: Duration::from_secs(10) }
    }
}

/// What one function's saturation did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FuseOutcome {
    pub nodes: usize,
    pub classes: usize,
    pub iterations: usize,
    /// `None` when nothing was converted (no runner).
    pub stop: Option<String>,
    /// Whether the runner stopped at saturation (no rule changed anything).
    pub saturated: bool,
    /// Fused ops built, per kind.
    pub fused: BTreeMap<FusedKind, u64>,
}

/// The most saturation rounds one [`fuse_function`] runs.
const MAX_ROUNDS: usize = 3;

/// Fuses the decomposed ops of `f`'s body with the rules `options` turns
/// on; errors are internal (a rule that does not parse).
///
/// A round that fuses a spelled-out softmax runs again on the result:
/// inside attention, the decomposed softmax reads its logits twice (the
/// max and the exponent), so the attention rules' single-use condition
/// only holds once the softmax is one op. The statistics add up the
/// rounds (nodes and classes: the largest round's).
pub fn fuse_function(f: &mut Function, limits: FuseLimits, options: RuleOptions) -> Result<FuseOutcome, String> {
    let mut total = FuseOutcome::default();
    for _ in 0..MAX_ROUNDS {
        let round = fuse_round(f, limits, options)?;
        let again = round.fused.contains_key(&FusedKind::Softmax);
        total.absorb(round);
        if !again {
            break;
        }
    }
    Ok(total)
}

impl FuseOutcome {
    /// Adds a later round's outcome.
    fn absorb(&mut self, round: FuseOutcome) {
        if round.stop.is_none() {
            return;
        }
        let first = self.stop.is_none();
        self.nodes = self.nodes.max(round.nodes);
        self.classes = self.classes.max(round.classes);
        self.iterations += round.iterations;
        self.saturated = round.saturated && (first || self.saturated);
        self.stop = round.stop;
        for (kind, n) in round.fused {
            *self.fused.entry(kind).or_default() += n;
        }
    }
}

/// One saturation and write-back.
fn fuse_round(f: &mut Function, limits: FuseLimits, options: RuleOptions) -> Result<FuseOutcome, String> {
    let graph = to_egraph(f);
    if graph.results.is_empty() {
        return Ok(FuseOutcome::default());
    }
    let runner = Runner::default()
        .with_egraph(graph.egraph)
        .with_iter_limit(limits.iterations)
        .with_node_limit(limits.nodes)
        .with_time_limit(limits.time)
        .run(&rules(options)?);
    let egraph = runner.egraph;
    let mut outcome = FuseOutcome {
        nodes: egraph.total_number_of_nodes(),
        classes: egraph.number_of_classes(),
        iterations: runner.iterations.len(),
        saturated: matches!(runner.stop_reason, Some(StopReason::Saturated)),
        stop: runner.stop_reason.as_ref().map(stop_reason_text),
        fused: BTreeMap::new(),
    };
    let mut back = WriteBack::new(f, &egraph, &graph.leaves);
    for (v, id, node) in &graph.results {
        back.replace(*v, *id, node);
    }
    let WriteBack { replaced, fused, .. } = back;
    if !replaced.is_empty() {
        let mut map = SecondaryMap::<Value, Option<Value>>::default();
        for (old, new) in replaced {
            map.set(old, Some(new));
        }
        f.replace_uses(&map);
        remove_unused_pure_ops(f);
    }
    outcome.fused = fused;
    Ok(outcome)
}

fn stop_reason_text(reason: &StopReason) -> String {
    match reason {
        StopReason::Saturated => "saturated".to_string(),
        StopReason::IterationLimit(n) => format!("iteration limit ({n})"),
        StopReason::NodeLimit(n) => format!("node limit ({n})"),
        StopReason::TimeLimit(t) => format!("time limit ({t:.1} s)"),
        StopReason::Other(s) => s.clone(),
    }
}

/// The converted function: the e-graph, the value of each leaf, and each
/// converted op result with its class and the node it became, in block
/// order.
struct Converted {
    egraph: NnEGraph,
    leaves: Vec<Value>,
    results: Vec<(Value, Id, NnLang)>,
}

fn to_egraph(f: &Function) -> Converted {
    let mut egraph = NnEGraph::new(NnAnalysis::default());
    let mut leaves = Vec::new();
    let mut results = Vec::new();
    let mut class_of: HashMap<Value, Id> = HashMap::new();
    let uses = f.use_counts();
    for &op in &f.blocks[f.body].ops {
        let Some(build) = node_builder(f, op) else { continue };
        let mut operand_ids = Vec::new();
        for &v in &f.ops[op].operands {
            let id = match class_of.get(&v) {
                Some(&id) => id,
                None => {
                    let id = add_leaf(&mut egraph, &mut leaves, f, v);
                    class_of.insert(v, id);
                    id
                }
            };
            operand_ids.push(id);
        }
        let Some(node) = build.node(&mut egraph, &operand_ids) else { continue };
        let result = f.ops[op].results[0];
        let id = egraph.add(node.clone());
        if let Type::Tensor(t) = f.value_type(result) {
            if egraph[id].data.ty.is_none() {
                egraph[id].data.ty = Some(t.clone());
            }
        }
        egraph[id].data.uses = egraph[id].data.uses.saturating_add(uses[result]);
        class_of.insert(result, id);
        results.push((result, id, node));
    }
    egraph.rebuild();
    Converted { egraph, leaves, results }
}

fn add_leaf(egraph: &mut NnEGraph, leaves: &mut Vec<Value>, f: &Function, v: Value) -> Id {
    let ty = match f.value_type(v) {
        Type::Tensor(t) => Some(t.clone()),
        _ => None,
    };
    let konst = f
        .dense_constant(v)
        .filter(|d| d.ty.elem.is_float() && d.data.len() == 1 && d.ty.num_elements() == Some(1))
        .map(|d| as_f64(d.data.get(0)));
    egraph.analysis.leaves.push(LeafInfo { ty, konst, uses: 0 });
    leaves.push(v);
    egraph.add(NnLang::Leaf(Leaf(leaves.len() as u32 - 1)))
}

/// How an op becomes a node once its operands' classes are known.
enum NodeBuilder {
    Binary(fn([Id; 2]) -> NnLang),
    Unary(fn([Id; 1]) -> NnLang),
    Reduce(fn([Id; 2]) -> NnLang, Param),
}

impl NodeBuilder {
    fn node(&self, egraph: &mut NnEGraph, ids: &[Id]) -> Option<NnLang> {
        match (self, ids) {
            (NodeBuilder::Binary(make), &[a, b]) => Some(make([a, b])),
            (NodeBuilder::Unary(make), &[a]) => Some(make([a])),
            (NodeBuilder::Reduce(make, param), &[a]) => {
                let p = egraph.add(NnLang::Param(param.clone()));
                Some(make([a, p]))
            }
            _ => None,
        }
    }
}

/// The builder of a pure float nn op of the language with one result.
fn node_builder(f: &Function, op: Op) -> Option<NodeBuilder> {
    let data = &f.ops[op];
    let [result] = data.results[..] else { return None };
    let is_float = matches!(f.value_type(result), Type::Tensor(t) if t.elem.is_float());
    if !is_float || !data.def.has_trait(Trait::Pure) || !data.regions.is_empty() {
        return None;
    }
    Some(match data.name() {
        "nn.add" => NodeBuilder::Binary(NnLang::Add),
        "nn.sub" => NodeBuilder::Binary(NnLang::Sub),
        "nn.mul" => NodeBuilder::Binary(NnLang::Mul),
        "nn.div" => NodeBuilder::Binary(NnLang::Div),
        "nn.pow" => NodeBuilder::Binary(NnLang::Pow),
        "nn.sqrt" => NodeBuilder::Unary(NnLang::Sqrt),
        "nn.erf" => NodeBuilder::Unary(NnLang::Erf),
        "nn.tanh" => NodeBuilder::Unary(NnLang::Tanh),
        "nn.exp" => NodeBuilder::Unary(NnLang::Exp),
        "nn.sigmoid" => NodeBuilder::Unary(NnLang::Sigmoid),
        "nn.reduce_mean" => NodeBuilder::Reduce(NnLang::ReduceMean, reduce_param(f, op)?),
        "nn.reduce_sum" => NodeBuilder::Reduce(NnLang::ReduceSum, reduce_param(f, op)?),
        "nn.reduce_max" => NodeBuilder::Reduce(NnLang::ReduceMax, reduce_param(f, op)?),
        "nn.matmul" => NodeBuilder::Binary(NnLang::MatMul),
        "nn.softmax" => NodeBuilder::Reduce(NnLang::Softmax, softmax_param(f, op)?),
        _ => return None,
    })
}

/// The normalized, sorted axes and keepdims of a reduction.
fn reduce_param(f: &Function, op: Op) -> Option<Param> {
    let data = &f.ops[op];
    let rank = match f.value_type(*data.operands.first()?) {
        Type::Tensor(t) => t.rank(),
        _ => return None,
    };
    let mut axes = Vec::new();
    for a in data.attr("axes")?.as_ints()? {
        axes.push(u32::try_from(normalize_axis(a, rank).ok()?).ok()?);
    }
    axes.sort_unstable();
    let keep = data.attr("keepdims").map_or(Some(true), Attribute::as_bool)?;
    Some(Param::Axes { axes, keep })
}

/// The normalized axis of a softmax.
fn softmax_param(f: &Function, op: Op) -> Option<Param> {
    let data = &f.ops[op];
    let rank = match f.value_type(*data.operands.first()?) {
        Type::Tensor(t) => t.rank(),
        _ => return None,
    };
    let axis = normalize_axis(data.attr("axis")?.as_int()?, rank).ok()?;
    Some(Param::Axis(u32::try_from(axis).ok()?))
}

/// Builds fused ops from the extracted classes.
struct WriteBack<'a> {
    f: &'a mut Function,
    egraph: &'a NnEGraph,
    extractor: Extractor<'a, FusedOpCost, NnLang, NnAnalysis>,
    leaves: &'a [Value],
    /// Block position of each live op of the body.
    position: SecondaryMap<Op, u32>,
    /// The earliest original value of each class.
    original: HashMap<Id, Value>,
    /// Classes whose best node is a fused op the IR already has (an
    /// `nn.softmax` as imported): their original value is used as it is.
    native: HashSet<Id>,
    /// Fused ops built so far, by class, with the position of the op they
    /// were placed before.
    built: HashMap<Id, (Value, u32)>,
    replaced: Vec<(Value, Value)>,
    fused: BTreeMap<FusedKind, u64>,
}

impl<'a> WriteBack<'a> {
    fn new(f: &'a mut Function, egraph: &'a NnEGraph, leaves: &'a [Value]) -> WriteBack<'a> {
        let mut position = SecondaryMap::default();
        for (i, &op) in f.blocks[f.body].ops.iter().enumerate() {
            position.set(op, i as u32);
        }
        WriteBack {
            f,
            egraph,
            extractor: Extractor::new(egraph, FusedOpCost),
            leaves,
            position,
            original: HashMap::new(),
            native: HashSet::new(),
            built: HashMap::new(),
            replaced: Vec::new(),
            fused: BTreeMap::new(),
        }
    }

    /// Replaces `v` (of class `id`, converted to `node`) by a fused op when
    /// that is the class's best node and not `node` itself; otherwise
    /// records `v` as the class's original value.
    fn replace(&mut self, v: Value, id: Id, node: &NnLang) {
        let id = self.egraph.find(id);
        let best = self.extractor.find_best_node(id);
        let canonical = |n: &NnLang| n.clone().map_children(|c| self.egraph.find(c));
        if canonical(best) == canonical(node) {
            if best.fused_kind().is_some() {
                self.native.insert(id);
            }
            self.original.entry(id).or_insert(v);
            return;
        }
        if best.fused_kind().is_none() {
            self.original.entry(id).or_insert(v);
            return;
        }
        let Some(anchor) = self.f.defining_op(v) else { return };
        let at = self.position[anchor];
        if let Some(new) = self.materialize(id, anchor, at) {
            self.replaced.push((v, new));
        }
    }

    /// A value of class `id` usable right before `anchor` (at block
    /// position `at`), building fused ops as needed.
    fn materialize(&mut self, id: Id, anchor: Op, at: u32) -> Option<Value> {
        let id = self.egraph.find(id);
        if let Some(&(v, built_at)) = self.built.get(&id) {
            return (built_at <= at).then_some(v);
        }
        let node = self.extractor.find_best_node(id).clone();
        match &node {
            NnLang::Leaf(Leaf(i)) => {
                let v = *self.leaves.get(*i as usize)?;
                self.defined_before(v, at).then_some(v)
            }
            n if n.fused_kind().is_some() && !self.native.contains(&id) => self.build(id, &node, anchor, at),
            _ => {
                let v = *self.original.get(&id)?;
                self.defined_before(v, at).then_some(v)
            }
        }
    }

    fn defined_before(&self, v: Value, at: u32) -> bool {
        match self.f.defining_op(v) {
            None => true,
            Some(op) => self.f.ops[op].block == self.f.body && self.position[op] < at,
        }
    }

    /// Builds the fused op `node` of class `id` right before `anchor`.
    fn build(&mut self, id: Id, node: &NnLang, anchor: Op, at: u32) -> Option<Value> {
        let ty = Type::Tensor(self.egraph[id].data.ty.clone()?);
        let (def, operands, attrs): (&'static OpDef, Vec<Id>, Vec<(&str, Attribute)>) = match node {
            NnLang::Gelu([x]) | NnLang::GeluSigmoid([x]) => (&nn::GELU, vec![*x], Vec::new()),
            NnLang::GeluTanh([x]) => (&nn::GELU, vec![*x], vec![("approximate", Attribute::Str("tanh".into()))]),
            NnLang::Silu([x]) => (&nn::SILU, vec![*x], Vec::new()),
            NnLang::Softmax([x, axis]) => (&nn::SOFTMAX, vec![*x], vec![("axis", self.axis_attr(*axis)?)]),
            NnLang::LayerNorm([x, scale, bias, axis, eps]) => {
                let eps = match self.param(*eps)? {
                    Param::Float(bits) => Attribute::Float(f64::from_bits(*bits)),
                    _ => return None,
                };
                (&nn::LAYER_NORM, vec![*x, *scale, *bias], vec![("axis", self.axis_attr(*axis)?), ("epsilon", eps)])
            }
            NnLang::Attention([q, k, v, scale]) => (&nn::ATTENTION, vec![*q, *k, *v], self.scale_attrs(*scale)?),
            NnLang::AttentionMasked([q, k, v, mask, scale]) => {
                (&nn::ATTENTION, vec![*q, *k, *v, *mask], self.scale_attrs(*scale)?)
            }
            _ => return None,
        };
        let mut values = Vec::new();
        for operand in operands {
            values.push(self.materialize(operand, anchor, at)?);
        }
        let mut spec = NewOp::new(def, values, vec![ty]).at(&self.f.ops[anchor]);
        if let NnLang::Attention([.., scale]) | NnLang::AttentionMasked([.., scale]) = node {
            if let Some(&Param::Scale { at, .. }) = self.param(*scale) {
                spec.loc = chain_location(self.f, anchor, matches!(node, NnLang::AttentionMasked(_)), at);
            }
        }
        for (name, value) in attrs {
            spec = spec.attr(name, value);
        }
        let op = self.f.insert_op_before(anchor, spec);
        let v = *self.f.ops[op].results.first()?;
        self.built.insert(id, (v, at));
        if let Some(kind) = node.fused_kind() {
            *self.fused.entry(kind).or_insert(0) += 1;
        }
        Some(v)
    }

    fn param(&self, id: Id) -> Option<&'a Param> {
        let egraph: &'a NnEGraph = self.egraph;
        egraph[id].nodes.iter().find_map(|n| match n {
            NnLang::Param(p) => Some(p),
            _ => None,
        })
    }

    /// `nn.attention`'s `scale`, `scale_op` and `scale_at`.
    fn scale_attrs(&self, id: Id) -> Option<Vec<(&'static str, Attribute)>> {
        match self.param(id)? {
            &Param::Scale { bits, divides, at } => Some(Scale { value: f64::from_bits(bits), divides, at }.attrs()),
            _ => None,
        }
    }

    fn axis_attr(&self, id: Id) -> Option<Attribute> {
        match self.param(id)? {
            Param::Axis(a) => Some(Attribute::Int(i64::from(*a))),
            _ => None,
        }
    }
}
