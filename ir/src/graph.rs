//! Dataflow graph algorithms over a function, with petgraph.
//!
//! [`DataflowGraph`] is a read-only view of a [`Function`] that implements
//! petgraph's visit traits, so petgraph's algorithms (toposort, DFS, ...) run
//! on the IR itself: nodes are the live ops, an edge `a -> b` means "b
//! depends on a": b uses a result of a, or b's regions use a result of a
//! defined outside b. A region op does not depend on the ops inside it
//! (whether those are needed is the business of the region's terminator:
//! see the dce pass). The view borrows the function, so it cannot go stale; its use
//! lists are computed once when it is made.
//!
//! Invariants: building a view never panics, even on IR that does not
//! verify: invalid handles, removed definitions and region cycles are
//! skipped, and unknown nodes have no neighbours.

use crate::entity::{EntityRef, SecondaryMap};
use crate::location::Location;
use crate::module::{Block, Function, Module, Op, ValueDef};
use petgraph::visit::{
    Dfs, GraphBase, GraphProp, IntoNeighbors, IntoNeighborsDirected, IntoNodeIdentifiers, NodeCount, NodeIndexable,
    Reversed, VisitMap, Visitable,
};
use petgraph::{Directed, Direction};
use std::fmt::Write;

/// The dataflow graph of one function (see the module doc for its edges).
#[derive(Debug)]
pub struct DataflowGraph<'f> {
    func: &'f Function,
    /// Live ops, each after the ops nested in its regions (a topological
    /// order whenever the function verifies).
    nodes: Vec<Op>,
    /// Per op index: the op whose region holds it (`None` for body ops and
    /// ops not in the graph).
    parent: Vec<Option<Op>>,
    live: Vec<bool>,
    /// Per op index: the ops depending on it (outgoing edges).
    users: Vec<Vec<Op>>,
    /// Per op index: the ops it depends on (incoming edges).
    deps: Vec<Vec<Op>>,
}

impl<'f> DataflowGraph<'f> {
    pub fn new(func: &'f Function) -> DataflowGraph<'f> {
        let n = func.ops.len();
        let mut g = DataflowGraph {
            func,
            nodes: Vec::new(),
            parent: vec![None; n],
            live: vec![false; n],
            users: vec![Vec::new(); n],
            deps: vec![Vec::new(); n],
        };
        g.collect_nodes();
        g.collect_edges();
        g
    }

    pub fn function(&self) -> &'f Function {
        self.func
    }

    /// The live ops, each after the ops nested in its regions.
    pub fn ops(&self) -> &[Op] {
        &self.nodes
    }

    pub fn contains(&self, op: Op) -> bool {
        self.live.get(op.index()).copied().unwrap_or(false)
    }

    /// True for a live op of the function's body block (not in a region).
    pub fn is_body_op(&self, op: Op) -> bool {
        self.contains(op) && self.parent_of(op).is_none()
    }

    /// The op whose region holds `op`.
    pub fn parent_of(&self, op: Op) -> Option<Op> {
        self.parent.get(op.index()).copied().flatten()
    }

    /// The ops that depend on `op`.
    pub fn users(&self, op: Op) -> &[Op] {
        self.users.get(op.index()).map_or(&[], Vec::as_slice)
    }

    /// The ops `op` depends on.
    pub fn dependencies(&self, op: Op) -> &[Op] {
        self.deps.get(op.index()).map_or(&[], Vec::as_slice)
    }

    /// Walks the body and regions, skipping invalid handles and any op or
    /// block met twice, and records every live op after its nested ops.
    fn collect_nodes(&mut self) {
        enum Step {
            Block { block: Block, at: usize, parent: Option<Op> },
            Emit(Op),
        }
        let f = self.func;
        let mut seen_block = SecondaryMap::<Block, bool>::default();
        let mut stack = vec![Step::Block { block: f.body, at: 0, parent: None }];
        seen_block.set(f.body, true);
        while let Some(step) = stack.pop() {
            let (block, at, parent) = match step {
                Step::Emit(op) => {
                    self.nodes.push(op);
                    continue;
                }
                Step::Block { block, at, parent } => (block, at, parent),
            };
            let Some(&op) = f.blocks.get(block).and_then(|b| b.ops.get(at)) else { continue };
            stack.push(Step::Block { block, at: at + 1, parent });
            let Some(data) = f.ops.get(op) else { continue };
            if self.live[op.index()] {
                continue;
            }
            self.live[op.index()] = true;
            self.parent[op.index()] = parent;
            stack.push(Step::Emit(op));
            for &r in data.regions.iter().rev() {
                if f.blocks.is_valid(r) && !seen_block[r] {
                    seen_block.set(r, true);
                    stack.push(Step::Block { block: r, at: 0, parent: Some(op) });
                }
            }
        }
    }

    fn collect_edges(&mut self) {
        let f = self.func;
        for i in 0..self.nodes.len() {
            let user = self.nodes[i];
            let Some(data) = f.ops.get(user) else { continue };
            for &v in &data.operands {
                if let Some(ValueDef::Result(def, _)) = f.values.get(v).map(|d| d.def) {
                    if self.live.get(def.index()).copied().unwrap_or(false) {
                        self.add_use_edges(def, user);
                    }
                }
            }
        }
        for list in self.users.iter_mut().chain(self.deps.iter_mut()) {
            list.sort_unstable();
            list.dedup();
        }
    }
}

impl DataflowGraph<'_> {
    /// `def -> user`, and `def -> A` for every op A whose regions hold
    /// `user` but not `def`: a region op depends on the values its regions
    /// use from outside (so it is ordered after their definitions), not on
    /// the ops inside it.
    fn add_use_edges(&mut self, def: Op, user: Op) {
        self.add_edge(def, user);
        let mut at = self.parent_of(user);
        let mut hops = 0;
        while let Some(outer) = at {
            if self.encloses(outer, def) || hops > self.nodes.len() {
                break;
            }
            self.add_edge(def, outer);
            at = self.parent_of(outer);
            hops += 1;
        }
    }

    /// True when `op` is nested (at any depth) in the regions of `outer`.
    fn encloses(&self, outer: Op, op: Op) -> bool {
        let mut at = self.parent_of(op);
        let mut hops = 0;
        while let Some(p) = at {
            if p == outer {
                return true;
            }
            if hops > self.nodes.len() {
                return false;
            }
            at = self.parent_of(p);
            hops += 1;
        }
        false
    }

    fn add_edge(&mut self, from: Op, to: Op) {
        self.users[from.index()].push(to);
        self.deps[to.index()].push(from);
    }
}

impl GraphBase for DataflowGraph<'_> {
    type NodeId = Op;
    /// `(from, to)`.
    type EdgeId = (Op, Op);
}

impl GraphProp for DataflowGraph<'_> {
    type EdgeType = Directed;
}

impl<'a> IntoNeighbors for &'a DataflowGraph<'_> {
    type Neighbors = std::iter::Copied<std::slice::Iter<'a, Op>>;
    fn neighbors(self, a: Op) -> Self::Neighbors {
        self.users(a).iter().copied()
    }
}

impl<'a> IntoNeighborsDirected for &'a DataflowGraph<'_> {
    type NeighborsDirected = std::iter::Copied<std::slice::Iter<'a, Op>>;
    fn neighbors_directed(self, a: Op, d: Direction) -> Self::NeighborsDirected {
        match d {
            Direction::Outgoing => self.users(a).iter().copied(),
            Direction::Incoming => self.dependencies(a).iter().copied(),
        }
    }
}

impl<'a> IntoNodeIdentifiers for &'a DataflowGraph<'_> {
    /// Last op first: petgraph's DFS-based toposort then returns program
    /// order unchanged whenever it is already a topological order.
    type NodeIdentifiers = std::iter::Rev<std::iter::Copied<std::slice::Iter<'a, Op>>>;
    fn node_identifiers(self) -> Self::NodeIdentifiers {
        self.nodes.iter().copied().rev()
    }
}

impl NodeCount for DataflowGraph<'_> {
    fn node_count(&self) -> usize {
        self.nodes.len()
    }
}

impl NodeIndexable for DataflowGraph<'_> {
    fn node_bound(&self) -> usize {
        self.func.ops.len()
    }
    fn to_index(&self, a: Op) -> usize {
        a.index()
    }
    fn from_index(&self, i: usize) -> Op {
        Op::new(i)
    }
}

impl Visitable for DataflowGraph<'_> {
    type Map = SecondaryMap<Op, bool>;
    fn visit_map(&self) -> Self::Map {
        SecondaryMap::default()
    }
    fn reset_map(&self, map: &mut Self::Map) {
        *map = SecondaryMap::default();
    }
}

impl VisitMap<Op> for SecondaryMap<Op, bool> {
    fn visit(&mut self, a: Op) -> bool {
        let first = !self[a];
        self.set(a, true);
        first
    }
    fn is_visited(&self, a: &Op) -> bool {
        self[*a]
    }
    fn unvisit(&mut self, a: Op) -> bool {
        let was = self[a];
        self.set(a, false);
        was
    }
}

/// Ops of the body in an order where every op comes after the ops defining
/// its operands (and after the definitions used inside its regions);
/// program order is kept where it is already valid. `Err(op)` names an op
/// on a cycle.
pub fn toposort(f: &Function) -> Result<Vec<Op>, Op> {
    let g = DataflowGraph::new(f);
    let order = petgraph::algo::toposort(&g, None).map_err(|cycle| cycle.node_id())?;
    Ok(order.into_iter().filter(|&op| g.is_body_op(op)).collect())
}

/// The ops `roots` transitively depend on through operands (roots
/// included). A region op depends on the values its regions use from
/// outside; the ops inside its regions are not reachable through it.
pub fn reachable_from(f: &Function, roots: &[Op]) -> SecondaryMap<Op, bool> {
    let g = DataflowGraph::new(f);
    let deps = Reversed(&g);
    let mut dfs = Dfs::empty(deps);
    for &root in roots {
        dfs.move_to(root);
        while dfs.next(deps).is_some() {}
    }
    dfs.discovered
}

/// The dataflow graph of every function as Graphviz DOT: one cluster per
/// function (and a nested one per region), a node per op labelled with its
/// name and location, a node per block argument, an edge per operand
/// labelled with the value's type (and `#i` for result `i` of an op with
/// several). The same module gives the same text.
pub fn to_dot(m: &Module) -> String {
    let mut out = String::from("digraph weft {\n  node [shape=box, fontname=\"monospace\"];\n");
    for (i, f) in m.funcs.iter().enumerate() {
        let g = DataflowGraph::new(f);
        let mut w = DotWriter { f, g, id: format!("f{i}"), out: &mut out, next_arg: 0, drawn: Drawn::default() };
        w.function();
    }
    out.push_str("}\n");
    out
}

struct DotWriter<'a, 'f> {
    f: &'f Function,
    g: DataflowGraph<'f>,
    /// Prefix of node ids: `f0`.
    id: String,
    out: &'a mut String,
    next_arg: usize,
    drawn: Drawn,
}

/// Blocks and ops already written (IR that does not verify may list one
/// twice).
#[derive(Default)]
struct Drawn {
    blocks: SecondaryMap<Block, bool>,
    ops: SecondaryMap<Op, bool>,
}

impl DotWriter<'_, '_> {
    fn function(&mut self) {
        let _ = writeln!(self.out, "  subgraph cluster_{} {{", self.id);
        let _ = writeln!(self.out, "    label=\"@{}\";", escape(&self.f.name));
        self.block(self.f.body, 2);
        self.edges();
        self.out.push_str("  }\n");
    }

    fn block(&mut self, block: Block, depth: usize) {
        let Some(data) = self.f.blocks.get(block).filter(|_| !self.drawn.blocks[block]) else { return };
        self.drawn.blocks.set(block, true);
        let pad = "  ".repeat(depth);
        for &v in &data.args {
            let _ =
                writeln!(self.out, "{pad}{}_v{} [shape=ellipse, label=\"%arg{}\"];", self.id, v.index(), self.next_arg);
            self.next_arg += 1;
        }
        for &op in &data.ops {
            // Only ops the view reached are drawn, each in its own block.
            if self.g.contains(op) && !self.drawn.ops[op] && self.f.ops.get(op).is_some_and(|d| d.block == block) {
                self.drawn.ops.set(op, true);
                self.op(op, depth);
            }
        }
    }

    fn op(&mut self, op: Op, depth: usize) {
        let Some(data) = self.f.ops.get(op) else { return };
        let pad = "  ".repeat(depth);
        let mut label = escape(data.name());
        if let Some(loc) = loc_label(&data.loc) {
            let _ = write!(label, "\\n{}", escape(&loc));
        }
        let _ = writeln!(self.out, "{pad}{}_op{} [label=\"{label}\"];", self.id, op.index());
        for (r, &region) in data.regions.iter().enumerate() {
            let _ = writeln!(self.out, "{pad}subgraph cluster_{}_bb{} {{", self.id, region.index());
            let _ = writeln!(self.out, "{pad}  label=\"{} region #{r}\";", escape(data.name()));
            self.block(region, depth + 1);
            let _ = writeln!(self.out, "{pad}}}");
        }
    }

    fn edges(&mut self) {
        for &user in self.g.ops() {
            let Some(data) = self.f.ops.get(user) else { continue };
            for &v in &data.operands {
                let Some(value) = self.f.values.get(v) else { continue };
                let mut label = escape(&value.ty.to_string());
                let from = match value.def {
                    ValueDef::Result(def, index) if self.g.contains(def) => {
                        if self.f.ops.get(def).is_some_and(|d| d.results.len() > 1) {
                            label = format!("#{index} {label}");
                        }
                        format!("{}_op{}", self.id, def.index())
                    }
                    ValueDef::Arg(..) => format!("{}_v{}", self.id, v.index()),
                    ValueDef::Result(..) => continue,
                };
                let _ = writeln!(self.out, "    {from} -> {}_op{} [label=\"{label}\"];", self.id, user.index());
            }
        }
    }
}

/// The text of a location for a node label, when it is known.
fn loc_label(loc: &Location) -> Option<String> {
    match loc {
        Location::Unknown => None,
        Location::Name(n) => Some(n.clone()),
        Location::FileLineCol { file, line, col } => Some(format!("{file}:{line}:{col}")),
        Location::Fused(v) => Some(v.iter().filter_map(loc_label).collect::<Vec<_>>().join(", ")),
    }
}

/// Escapes text for a DOT double-quoted string.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => {}
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::module::NewOp;
    use crate::ops::{builtin, nn, Arity, OpDef};
    use crate::types::{ElemType, TensorType, Type};
    use crate::{Attribute, DenseAttr, TensorData, Value};

    /// An op with one region, for tests (no dialect has one yet).
    static WRAP: OpDef = OpDef {
        name: "test.wrap",
        operands: Arity::Variadic { name: "inputs", min: 0 },
        results: Arity::Variadic { name: "outputs", min: 0 },
        ..OpDef::DEFAULT
    };

    fn t4() -> Type {
        Type::Tensor(TensorType::fixed(&[4], ElemType::F32))
    }

    fn binary(f: &mut Function, def: &'static OpDef, a: Value, b: Value) -> Op {
        f.append_op(f.body, NewOp::new(def, vec![a, b], vec![t4()]))
    }

    fn result(f: &Function, op: Op) -> Value {
        f.ops[op].results[0]
    }

    /// `c = constant; x = add(a, c); y = relu(x); z = mul(a, a); return y`.
    fn sample() -> (Function, [Op; 5]) {
        let mut f = Function::new("main", vec![t4()], vec![t4()]);
        let a = f.args()[0];
        let dense = DenseAttr { ty: TensorType::fixed(&[4], ElemType::F32), data: TensorData::F32(vec![1.0]) };
        let c = f.append_op(
            f.body,
            NewOp::new(&builtin::CONSTANT, vec![], vec![t4()]).attr("value", Attribute::Dense(dense)),
        );
        let cv = result(&f, c);
        let x = binary(&mut f, &nn::ADD, a, cv);
        let xv = result(&f, x);
        let y = f.append_op(f.body, NewOp::new(&nn::RELU, vec![xv], vec![t4()]));
        let z = binary(&mut f, &nn::MUL, a, a);
        let yv = result(&f, y);
        let ret = f.append_op(f.body, NewOp::new(&builtin::RETURN, vec![yv], vec![]));
        (f, [c, x, y, z, ret])
    }

    #[test]
    fn toposort_keeps_valid_program_order() {
        let (f, ops) = sample();
        assert_eq!(toposort(&f), Ok(ops.to_vec()));
    }

    #[test]
    fn toposort_reorders_uses_before_definitions() {
        let (mut f, [c, x, y, z, ret]) = sample();
        let body = f.body;
        f.blocks[body].ops = vec![ret, y, z, x, c];
        let order = toposort(&f).expect("acyclic");
        let pos = |op: Op| order.iter().position(|&o| o == op).expect("every op is ordered");
        assert_eq!(order.len(), 5);
        assert!(pos(c) < pos(x) && pos(x) < pos(y) && pos(y) < pos(ret));
    }

    #[test]
    fn toposort_reports_an_op_on_a_cycle() {
        let (mut f, [_, x, y, ..]) = sample();
        let yv = result(&f, y);
        f.ops[x].operands[1] = yv;
        let on_cycle = toposort(&f).expect_err("x and y form a cycle");
        assert!(on_cycle == x || on_cycle == y, "{on_cycle}");
        // An op using its own result is a cycle too.
        let (mut f, [_, _, y, ..]) = sample();
        let yv = result(&f, y);
        f.ops[y].operands[0] = yv;
        assert_eq!(toposort(&f), Err(y));
    }

    #[test]
    fn reachable_follows_operands_only() {
        let (f, [c, x, y, z, ret]) = sample();
        let live = reachable_from(&f, &[ret]);
        assert!(live[ret] && live[y] && live[x] && live[c]);
        assert!(!live[z]);
        let from_x = reachable_from(&f, &[x, z]);
        assert!(from_x[x] && from_x[c] && from_x[z] && !from_x[y] && !from_x[ret]);
    }

    /// `a` outside, `w = wrap() { r = relu(a) }`, `u = add(w, w)`, and an
    /// unrelated `n = neg(a)` in the body.
    fn with_region() -> (Function, [Op; 4]) {
        let mut f = Function::new("main", vec![t4()], vec![]);
        let a = f.args()[0];
        let neg = f.append_op(f.body, NewOp::new(&nn::NEG, vec![a], vec![t4()]));
        let w = f.append_op(f.body, NewOp::new(&WRAP, vec![], vec![t4()]));
        let region = f.new_region_block(w);
        f.ops[w].regions.push(region);
        let nv = result(&f, neg);
        let inner = f.append_op(region, NewOp::new(&nn::RELU, vec![nv], vec![t4()]));
        let wv = result(&f, w);
        let user = binary(&mut f, &nn::ADD, wv, wv);
        (f, [neg, w, inner, user])
    }

    #[test]
    fn region_ops_depend_on_what_their_regions_use_from_outside() {
        let (f, [neg, w, inner, user]) = with_region();
        let g = DataflowGraph::new(&f);
        assert_eq!(g.ops(), &[neg, inner, w, user]);
        assert_eq!(g.parent_of(inner), Some(w));
        assert!(g.is_body_op(w) && !g.is_body_op(inner));
        assert_eq!(g.dependencies(w), &[neg]);
        assert_eq!(g.dependencies(inner), &[neg]);
        assert_eq!(g.users(w), &[user]);
        let live = reachable_from(&f, &[user]);
        assert!(live[user] && live[w] && live[neg] && !live[inner]);
        assert_eq!(toposort(&f), Ok(vec![neg, w, user]));
    }

    #[test]
    fn removed_ops_and_bad_handles_are_skipped() {
        let (mut f, [c, x, ..]) = sample();
        f.remove_ops(&[c]);
        f.ops[x].operands.push(Value::new(999));
        let body = f.body;
        f.blocks[body].ops.push(Op::new(777));
        let g = DataflowGraph::new(&f);
        assert!(!g.contains(c));
        assert!(g.dependencies(x).is_empty());
        assert!(g.users(Op::new(12345)).is_empty());
        assert_eq!(toposort(&f).map(|o| o.len()), Ok(4));
        let live = reachable_from(&f, &[Op::new(4242)]);
        assert!(live[Op::new(4242)]);
    }

    #[test]
    fn dot_lists_clusters_nodes_and_typed_edges() {
        let (mut f, [_, x, ..]) = sample();
        f.ops[x].loc = Location::Name("/enc/\"Add\"".into());
        let (g, _) = with_region();
        let m = Module { funcs: vec![f, g], ..Default::default() };
        let dot = to_dot(&m);
        assert_eq!(dot, to_dot(&m), "deterministic");
        assert!(dot.starts_with("digraph weft {\n"));
        assert!(dot.contains("subgraph cluster_f0 {\n    label=\"@main\";"));
        assert!(dot.contains("f0_v0 [shape=ellipse, label=\"%arg0\"];"));
        assert!(dot.contains(r#"f0_op1 [label="nn.add\n/enc/\"Add\""];"#), "{dot}");
        assert!(dot.contains("f0_v0 -> f0_op1 [label=\"tensor<4xf32>\"];"));
        assert!(dot.contains("f0_op0 -> f0_op1 [label=\"tensor<4xf32>\"];"));
        assert!(dot.contains("subgraph cluster_f1_bb1 {\n      label=\"test.wrap region #0\";"), "{dot}");
        assert!(dot.contains("f1_op0 -> f1_op2 [label=\"tensor<4xf32>\"];"), "{dot}");
        assert!(dot.ends_with("  }\n}\n"));
    }
}
