//! Saturation and per-method extraction: the e-graph of every op kind
//! present, saturated under [`super::rules`] within the limits, and for
//! each op kind and method the smallest term built only from hardware
//! that method implements (a tree size: which datapath, not its area —
//! the area of the chosen combination is the union cost of
//! `share-nonlinear`, computed from the emitted programs).
//!
//! Invariants: roots are added in [`OpKind::ALL`] order; a missing term
//! means the method cannot implement the op kind (the layer-norm table,
//! tables of wide inputs).

use super::lang::{input_leaf, NlLang};
use super::rules::rules;
use super::OpKind;
use crate::transforms::lower_nonlinear::Method;
use egg::{CostFunction, EGraph, Extractor, Id, Language, RecExpr, Runner, StopReason};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// The runner's limits (pass options).
#[derive(Debug, Clone, Copy)]
pub struct SaturationLimits {
    pub iterations: usize,
    pub nodes: usize,
    pub time: Duration,
}

impl Default for SaturationLimits {
    fn default() -> Self {
        SaturationLimits { iterations: 16, nodes: 20_000, time: Duration::from_millis(2_000) }
    }
}

/// What saturation did.
#[derive(Debug, Clone)]
pub struct SaturationOutcome {
    pub nodes: usize,
    pub classes: usize,
    pub iterations: usize,
    /// `saturated`, `iteration-limit`, `node-limit`, `time-limit` or `other`.
    pub stop: &'static str,
    pub time: Duration,
}

/// The extracted datapaths: per op kind and method, the term (if the
/// method can build the kind).
#[derive(Debug, Clone, Default)]
pub struct Datapaths {
    pub terms: BTreeMap<(OpKind, Method), RecExpr<NlLang>>,
}

impl Datapaths {
    pub fn term(&self, kind: OpKind, method: Method) -> Option<&RecExpr<NlLang>> {
        self.terms.get(&(kind, method))
    }
}

/// The root term of an op kind over its input leaf.
fn root(kind: OpKind, bits: u8) -> Result<RecExpr<NlLang>, String> {
    let name = match kind {
        OpKind::Softmax => "softmax",
        OpKind::Gelu => "gelu",
        OpKind::LayerNorm => "layer-norm",
        OpKind::Sigmoid => "sigmoid",
        OpKind::Silu => "silu",
        OpKind::Tanh => "tanh",
        OpKind::Exp => "exp",
        OpKind::Reciprocal => "reciprocal",
        OpKind::Sqrt => "sqrt",
        OpKind::Rsqrt => "rsqrt",
    };
    format!("({name} {})", input_leaf(bits)).parse().map_err(|e| format!("root of {name}: {e}"))
}

/// Builds the e-graph of `kinds` (each with its widest input's bits),
/// saturates it and extracts every (kind, method) datapath.
pub fn saturate(kinds: &[(OpKind, u8)], limits: SaturationLimits) -> Result<(Datapaths, SaturationOutcome), String> {
    let start = Instant::now();
    let mut egraph: EGraph<NlLang, ()> = EGraph::default();
    let mut roots = Vec::new();
    for &(kind, bits) in kinds {
        roots.push((kind, egraph.add_expr(&root(kind, bits)?)));
    }
    let runner = Runner::default()
        .with_egraph(egraph)
        .with_iter_limit(limits.iterations)
        .with_node_limit(limits.nodes)
        .with_time_limit(limits.time)
        .run(&rules()?);
    let stop = match runner.stop_reason {
        Some(StopReason::Saturated) => "saturated",
        Some(StopReason::IterationLimit(_)) => "iteration-limit",
        Some(StopReason::NodeLimit(_)) => "node-limit",
        Some(StopReason::TimeLimit(_)) => "time-limit",
        _ => "other",
    };
    let egraph = runner.egraph;
    let mut paths = Datapaths::default();
    for method in Method::ALL {
        let extractor = Extractor::new(&egraph, MethodCost(method));
        for &(kind, id) in &roots {
            let (cost, term) = extractor.find_best(egraph.find(id));
            if cost < INFINITE {
                paths.terms.insert((kind, method), term);
            }
        }
    }
    let outcome = SaturationOutcome {
        nodes: egraph.total_number_of_nodes(),
        classes: egraph.number_of_classes(),
        iterations: runner.iterations.len(),
        stop,
        time: start.elapsed(),
    };
    Ok((paths, outcome))
}

const INFINITE: u64 = u64::MAX;

/// Term size, infinite for nodes `method` cannot build.
struct MethodCost(Method);

impl CostFunction<NlLang> for MethodCost {
    type Cost = u64;

    fn cost<C>(&mut self, enode: &NlLang, mut costs: C) -> u64
    where
        C: FnMut(Id) -> u64,
    {
        let own = match enode {
            NlLang::Symbol(_) => 0,
            n if n.hardware(self.0) => 1,
            _ => return INFINITE,
        };
        enode.fold(own, |sum, id| sum.saturating_add(costs(id)))
    }
}

/// The names of the function units in `term` (`exp2`, `divider`, ...),
/// sorted, each once.
pub fn units_of(term: &RecExpr<NlLang>) -> Vec<String> {
    let mut units: Vec<String> = term
        .as_ref()
        .iter()
        .filter(|n| matches!(n.class(), super::lang::NodeClass::Unit(_)))
        .map(|n| n.to_string())
        .collect();
    units.sort();
    units.dedup();
    units
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paths(kinds: &[(OpKind, u8)]) -> Datapaths {
        saturate(kinds, SaturationLimits::default()).unwrap().0
    }

    #[test]
    fn softmax_is_division_free_under_quark_and_divides_under_ibert() {
        let p = paths(&[(OpKind::Softmax, 8)]);
        let quark = p.term(OpKind::Softmax, Method::Quark).unwrap();
        assert_eq!(units_of(quark), ["exp2", "log2"]);
        assert_eq!(units_of(p.term(OpKind::Softmax, Method::Ibert).unwrap()), ["divider", "i-exp"]);
        assert_eq!(units_of(p.term(OpKind::Softmax, Method::Lut).unwrap()), ["divider", "table"]);
    }

    #[test]
    fn gelu_meets_softmax_on_exp2_and_log2() {
        let p = paths(&[(OpKind::Gelu, 8), (OpKind::LayerNorm, 8)]);
        assert_eq!(units_of(p.term(OpKind::Gelu, Method::Quark).unwrap()), ["exp2", "log2"]);
        assert_eq!(units_of(p.term(OpKind::Gelu, Method::Ibert).unwrap()), ["erf-poly"]);
        assert_eq!(units_of(p.term(OpKind::LayerNorm, Method::Quark).unwrap()), ["exp2", "log2"]);
        assert_eq!(units_of(p.term(OpKind::LayerNorm, Method::Ibert).unwrap()), ["divider", "isqrt"]);
        assert!(p.term(OpKind::LayerNorm, Method::Lut).is_none(), "layer norm has no table");
    }

    fn has_multiplier(term: &RecExpr<NlLang>) -> bool {
        term.as_ref().iter().any(|n| matches!(n, NlLang::Mul(_)))
    }

    #[test]
    fn quark_log_builds_products_from_logarithms() {
        let p = paths(&[(OpKind::Gelu, 8), (OpKind::LayerNorm, 8), (OpKind::Silu, 8)]);
        for kind in [OpKind::Gelu, OpKind::LayerNorm, OpKind::Silu] {
            let quark = p.term(kind, Method::Quark).unwrap();
            let log = p.term(kind, Method::QuarkLog).unwrap();
            assert!(has_multiplier(quark), "{kind:?}: {quark}");
            assert!(!has_multiplier(log), "{kind:?}: {log}");
            assert_eq!(units_of(log), ["exp2", "log2"]);
        }
        let ln = p.term(OpKind::LayerNorm, Method::QuarkLog).unwrap().to_string();
        assert!(ln.contains("(exp2 (scale log2e (scale two (scale ln2 (log2 (abs"), "{ln}");
        // quark-log centers on the rounded mean; the others exactly.
        assert!(ln.contains("(mean-center x8 (add-tree x8))") && !ln.contains("(scale n x8)"), "{ln}");
        for m in [Method::Quark, Method::Ibert] {
            let exact = p.term(OpKind::LayerNorm, m).unwrap().to_string();
            assert!(exact.contains("(- (scale n x8) (add-tree x8))") && !exact.contains("mean-center"), "{exact}");
        }
        let gelu = p.term(OpKind::Gelu, Method::QuarkLog).unwrap().to_string();
        assert!(gelu.starts_with("(signed x8 (exp2"), "{gelu}");
    }

    #[test]
    fn tables_need_narrow_inputs() {
        assert!(paths(&[(OpKind::Gelu, 8)]).term(OpKind::Gelu, Method::Lut).is_some());
        assert!(paths(&[(OpKind::Gelu, 10)]).term(OpKind::Gelu, Method::Lut).is_none());
    }

    #[test]
    fn extraction_is_deterministic() {
        let kinds = [(OpKind::Softmax, 8), (OpKind::Gelu, 8), (OpKind::LayerNorm, 8), (OpKind::Rsqrt, 8)];
        let a = format!("{:?}", paths(&kinds).terms);
        assert_eq!(a, format!("{:?}", paths(&kinds).terms));
    }
}
