//! Dataflow graph algorithms over a function, with petgraph. TEMPORARY:
//! being written on branch `verify`; these signatures are the contract.
use crate::entity::SecondaryMap;
use crate::{Function, Module, Op};

/// Ops of the body in an order where every op comes after the ops defining
/// its operands; `Err(op)` names an op on a cycle.
pub fn toposort(f: &Function) -> Result<Vec<Op>, Op> {
    let _ = f;
    unimplemented!("verify branch")
}

/// The ops `roots` transitively depend on through operands (roots included).
pub fn reachable_from(f: &Function, roots: &[Op]) -> SecondaryMap<Op, bool> {
    let _ = (f, roots);
    unimplemented!("verify branch")
}

/// The dataflow graph of every function as Graphviz DOT.
pub fn to_dot(m: &Module) -> String {
    let _ = m;
    unimplemented!("verify branch")
}
