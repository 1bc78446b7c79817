//! The structure of an ONNX graph before anything is built: which names are
//! defined where, that every used name is defined exactly once, and an
//! order of the nodes in which each comes after the nodes it uses.
//!
//! Invariants: when [`plan`] succeeds, every non-empty node input and every
//! graph output names a graph input, an initializer or the output of
//! exactly one node; no node output redefines an input or initializer; and
//! [`Plan::order`] lists every node once, producers before users (the
//! model's own order wherever it already is one).

use super::errors::{model_error, node_error};
use crate::onnx::proto::{GraphProto, NodeProto};
use std::collections::{BTreeSet, HashMap, HashSet};
use weft_ir::Diagnostic;

/// What [`plan`] found out about a graph.
#[derive(Debug)]
pub struct Plan {
    /// Node indices, producers before users.
    pub order: Vec<usize>,
    /// Each node's display name: its name, or `OpType_N` (N its index).
    pub names: Vec<String>,
}

/// The display name of node `i`.
pub fn node_name(node: &NodeProto, i: usize) -> String {
    if node.name.is_empty() {
        format!("{}_{i}", node.op_type)
    } else {
        node.name.clone()
    }
}

/// Checks definitions and uses, and orders the nodes; every error found.
pub fn plan(graph: &GraphProto, file: &str) -> Result<Plan, Vec<Diagnostic>> {
    let names: Vec<String> = graph.node.iter().enumerate().map(|(i, n)| node_name(n, i)).collect();
    let mut diags = Vec::new();
    let outer = outer_definitions(graph, file, &mut diags);
    let producers = producers(graph, &names, &outer, file, &mut diags);
    check_uses(graph, &names, &outer, &producers, file, &mut diags);
    if !diags.is_empty() {
        return Err(diags);
    }
    let order = toposort(graph, &producers);
    if order.len() < graph.node.len() {
        return Err(vec![cycle_error(graph, &names, &order, file)]);
    }
    Ok(Plan { order, names })
}

/// Graph inputs and initializers (an old-style model lists initializers
/// among its inputs too, which is fine).
fn outer_definitions<'g>(graph: &'g GraphProto, file: &str, diags: &mut Vec<Diagnostic>) -> HashSet<&'g str> {
    let mut defined = HashSet::new();
    let mut inputs = HashSet::new();
    for i in &graph.input {
        if i.name.is_empty() {
            diags.push(model_error(file, "a graph input has an empty name"));
        } else if !inputs.insert(i.name.as_str()) {
            diags.push(model_error(file, format!("graph input '{}' is declared twice", i.name)));
        }
        defined.insert(i.name.as_str());
    }
    let mut initializers = HashSet::new();
    for t in &graph.initializer {
        if !initializers.insert(t.name.as_str()) {
            diags.push(model_error(file, format!("initializer '{}' is defined twice", t.name)));
        }
        defined.insert(t.name.as_str());
    }
    for t in &graph.sparse_initializer {
        let name = t.values.as_ref().map_or("", |v| v.name.as_str());
        diags.push(model_error(file, format!("sparse initializer '{name}' is not supported")));
    }
    defined
}

/// The node producing each node output name.
fn producers<'g>(
    graph: &'g GraphProto,
    names: &[String],
    outer: &HashSet<&str>,
    file: &str,
    diags: &mut Vec<Diagnostic>,
) -> HashMap<&'g str, usize> {
    let mut producers: HashMap<&str, usize> = HashMap::new();
    for (i, node) in graph.node.iter().enumerate() {
        for out in node.output.iter().filter(|o| !o.is_empty()) {
            let error = |msg: String| node_error(file, &names[i], &node.op_type, msg);
            if outer.contains(out.as_str()) {
                diags.push(error(format!("output '{out}' redefines a graph input or initializer of that name")));
            } else if let Some(&first) = producers.get(out.as_str()) {
                let other = &graph.node[first];
                let msg = format!("output '{out}' is also the output of node '{}' ({})", names[first], other.op_type);
                diags.push(error(msg));
            } else {
                producers.insert(out, i);
            }
        }
    }
    producers
}

/// Every used name must be defined.
fn check_uses(
    graph: &GraphProto,
    names: &[String],
    outer: &HashSet<&str>,
    producers: &HashMap<&str, usize>,
    file: &str,
    diags: &mut Vec<Diagnostic>,
) {
    let defined = |name: &str| outer.contains(name) || producers.contains_key(name);
    for (i, node) in graph.node.iter().enumerate() {
        for input in node.input.iter().filter(|n| !n.is_empty() && !defined(n)) {
            let msg = format!("missing initializer or value '{input}' used by node '{}' ({})", names[i], node.op_type);
            diags.push(model_error(file, msg).with_loc(weft_ir::Location::Name(names[i].clone())));
        }
    }
    for out in &graph.output {
        if out.name.is_empty() {
            diags.push(model_error(file, "a graph output has an empty name"));
        } else if !defined(&out.name) {
            let msg = format!("graph output '{}' is not computed by any node, nor an input or initializer", out.name);
            diags.push(model_error(file, msg));
        }
    }
}

/// Kahn's algorithm, always taking the lowest-numbered ready node, so a
/// model already in order keeps its order.
fn toposort(graph: &GraphProto, producers: &HashMap<&str, usize>) -> Vec<usize> {
    let n = graph.node.len();
    let mut pending = vec![0usize; n];
    let mut users: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (i, node) in graph.node.iter().enumerate() {
        let deps: BTreeSet<usize> =
            node.input.iter().filter_map(|name| producers.get(name.as_str()).copied()).collect();
        pending[i] = deps.len();
        for d in deps {
            users[d].push(i);
        }
    }
    let mut ready: BTreeSet<usize> = (0..n).filter(|&i| pending[i] == 0).collect();
    let mut order = Vec::with_capacity(n);
    while let Some(i) = ready.pop_first() {
        order.push(i);
        for &u in &users[i] {
            pending[u] -= 1;
            if pending[u] == 0 {
                ready.insert(u);
            }
        }
    }
    order
}

fn cycle_error(graph: &GraphProto, names: &[String], order: &[usize], file: &str) -> Diagnostic {
    let placed: HashSet<usize> = order.iter().copied().collect();
    let stuck: Vec<String> = (0..graph.node.len())
        .filter(|i| !placed.contains(i))
        .map(|i| format!("'{}' ({})", names[i], graph.node[i].op_type))
        .collect();
    let shown = stuck.iter().take(5).cloned().collect::<Vec<_>>().join(", ");
    let more = if stuck.len() > 5 { format!(" and {} more", stuck.len() - 5) } else { String::new() };
    model_error(file, format!("the nodes cannot be ordered: {shown}{more} depend on each other's outputs (a cycle)"))
}
