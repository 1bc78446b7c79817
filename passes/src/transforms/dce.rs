//! `dce`: dead code elimination by reachability from the ops that must stay.
//!
//! Phases, per function:
//! 1. Roots: the body's terminator and every op without the `Pure` trait,
//!    except terminators of region blocks (those matter only if the op owning
//!    the region is live).
//! 2. Liveness: the ops the roots transitively depend on through operands
//!    (`weft_ir::graph::reachable_from`). For every live op with regions, the
//!    terminators of its regions become roots too, and so does the op
//!    holding every live nested op; repeat until no new root appears.
//! 3. Removal: every op that is not live goes, with its regions.
//!
//! Unlike the use-count removal of `canonicalize`, this also removes dead
//! cycles through regions and ops kept alive only by other dead ops. The
//! core ([`live_ops`], [`remove_dead_ops`]) takes the reachability function
//! as a parameter, so it can be tested on its own.
//!
//! Invariants: only `Pure` ops (and ops inside removed ops) are removed; the
//! surviving ops keep their order.

use crate::{Pass, PassContext, PassStatistic};
use weft_ir::entity::SecondaryMap;
use weft_ir::ops::Trait;
use weft_ir::{Diagnostic, Function, Module, Op};

/// The `dce` pass.
#[derive(Debug, Clone, Copy, Default)]
pub struct Dce;

const REMOVED_OPS: PassStatistic =
    PassStatistic { name: "removed-ops", doc: "ops removed because no side effect or result depends on them" };

/// Which ops `roots` depend on through operands, roots included.
pub type Reachability = fn(&Function, &[Op]) -> SecondaryMap<Op, bool>;

impl Pass for Dce {
    fn name(&self) -> &'static str {
        "dce"
    }

    fn summary(&self) -> &'static str {
        "Removes pure ops that neither the return nor any side effect depends on"
    }

    fn description(&self) -> &'static str {
        "Marks as live the function's terminator and every op without the `Pure` trait, \
then everything they depend on through operands (and the terminators of regions of \
live ops); every other op is removed, with its regions."
    }

    fn statistics(&self) -> &'static [PassStatistic] {
        &[REMOVED_OPS]
    }

    fn run(&mut self, module: &mut Module, cx: &mut PassContext) -> Result<(), Diagnostic> {
        for f in module.funcs.iter_mut() {
            let removed = remove_dead_ops(f, weft_ir::graph::reachable_from);
            cx.count(&REMOVED_OPS, removed);
        }
        Ok(())
    }
}

/// Removes every op that is not live; returns how many ops went (nested
/// ones included).
pub fn remove_dead_ops(f: &mut Function, reach: Reachability) -> u64 {
    let live = live_ops(f, reach);
    let mut dead = Vec::new();
    collect_dead(f, f.body, &live, false, &mut dead);
    f.remove_ops(&dead);
    dead.len() as u64
}

/// The live ops of `f` (see the module doc).
pub fn live_ops(f: &Function, reach: Reachability) -> SecondaryMap<Op, bool> {
    let mut roots = initial_roots(f);
    loop {
        let live = reach(f, &roots);
        let new_roots = implied_roots(f, &live);
        if new_roots.is_empty() {
            return live;
        }
        roots.extend(new_roots);
    }
}

fn initial_roots(f: &Function) -> Vec<Op> {
    let mut roots: Vec<Op> = f
        .walk()
        .into_iter()
        .filter(|&op| {
            let data = &f.ops[op];
            let in_region = f.blocks[data.block].parent.is_some();
            let region_terminator = in_region && data.def.has_trait(Trait::Terminator);
            !data.def.has_trait(Trait::Pure) && !region_terminator
        })
        .collect();
    if let Some(t) = f.terminator() {
        if !roots.contains(&t) {
            roots.push(t);
        }
    }
    roots
}

/// Ops that liveness implies but reachability through operands does not
/// give: the terminators of the regions of live ops, and the op holding a
/// live nested op (its region must stay for the nested op to run).
fn implied_roots(f: &Function, live: &SecondaryMap<Op, bool>) -> Vec<Op> {
    let mut out = Vec::new();
    for op in f.walk().into_iter().filter(|&op| live[op]) {
        let data = &f.ops[op];
        out.extend(data.regions.iter().filter_map(|&b| f.blocks[b].ops.last().copied()));
        out.extend(f.blocks[data.block].parent);
    }
    out.retain(|&o| !live[o]);
    out.sort_unstable();
    out.dedup();
    out
}

/// Ops of `block` (and nested blocks) that are dead: not live, or inside a
/// dead op.
fn collect_dead(f: &Function, block: weft_ir::Block, live: &SecondaryMap<Op, bool>, in_dead: bool, out: &mut Vec<Op>) {
    for &op in &f.blocks[block].ops {
        let dead = in_dead || !live[op];
        if dead {
            out.push(op);
        }
        for &r in &f.ops[op].regions {
            collect_dead(f, r, live, dead, out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transforms::testing::*;
    use weft_ir::ops::{nn, Arity};
    use weft_ir::{NewOp, OpDef};

    /// A plain worklist reachability, standing in for
    /// `weft_ir::graph::reachable_from` in these tests.
    fn reach(f: &Function, roots: &[Op]) -> SecondaryMap<Op, bool> {
        let mut seen = SecondaryMap::default();
        let mut work = roots.to_vec();
        while let Some(op) = work.pop() {
            if seen[op] {
                continue;
            }
            seen.set(op, true);
            work.extend(f.ops[op].operands.iter().filter_map(|&v| f.defining_op(v)));
        }
        seen
    }

    const SIDE_EFFECT: OpDef = OpDef {
        name: "test.print",
        operands: Arity::Fixed(&["value"]),
        results: Arity::Fixed(&["token"]),
        ..OpDef::DEFAULT
    };

    const PURE_REGION: OpDef = OpDef {
        name: "test.region",
        operands: Arity::Variadic { name: "inputs", min: 0 },
        results: Arity::Fixed(&["result"]),
        traits: &[Trait::Pure],
        ..OpDef::DEFAULT
    };

    const YIELD: OpDef = OpDef {
        name: "test.yield",
        operands: Arity::Variadic { name: "values", min: 0 },
        traits: &[Trait::Terminator],
        ..OpDef::DEFAULT
    };

    #[test]
    fn keeps_what_the_return_and_side_effects_need() {
        let t = f32_type(&[2]);
        let mut f = func(vec![t.clone()], vec![t.clone()]);
        let x = f.args()[0];
        let e = op(&mut f, &nn::EXP, &[x], &t);
        let dead = op(&mut f, &nn::TANH, &[e], &t);
        let _dead2 = op(&mut f, &nn::NEG, &[dead], &t);
        let s = op(&mut f, &nn::SQRT, &[x], &t);
        op(&mut f, &SIDE_EFFECT, &[s], &t);
        ret(&mut f, &[e]);
        let mut m = module(f);
        assert_eq!(remove_dead_ops(&mut m.funcs[0], reach), 2);
        assert_eq!(
            body(&m),
            vec![
                "%0 = nn.exp %arg0 : tensor<2xf32>",
                "%1 = nn.sqrt %arg0 : tensor<2xf32>",
                "%2 = test.print %1 : tensor<2xf32>",
                "return %0 : tensor<2xf32>",
            ]
        );
    }

    /// `%r = test.region(inputs) ({ %n = nn.neg %e; test.yield %n })`.
    fn region_op(f: &mut Function, e: weft_ir::Value, t: &weft_ir::Type) -> weft_ir::Value {
        let outer = f.append_op(f.body, NewOp::new(&PURE_REGION, vec![], vec![t.clone()]));
        let inner = f.new_region_block(outer);
        f.ops[outer].regions.push(inner);
        let n = f.append_op(inner, NewOp::new(&nn::NEG, vec![e], vec![t.clone()]));
        let n = f.ops[n].results[0];
        f.append_op(inner, NewOp::new(&YIELD, vec![n], vec![]));
        f.ops[outer].results[0]
    }

    #[test]
    fn live_region_keeps_what_its_terminator_needs() {
        let t = f32_type(&[2]);
        let mut f = func(vec![t.clone()], vec![t.clone()]);
        let x = f.args()[0];
        let e = op(&mut f, &nn::EXP, &[x], &t);
        let r = region_op(&mut f, e, &t);
        ret(&mut f, &[r]);
        let mut m = module(f);
        assert_eq!(remove_dead_ops(&mut m.funcs[0], reach), 0);
        assert_eq!(m.funcs[0].walk().len(), 5);
    }

    #[test]
    fn dead_region_goes_with_everything_only_it_needed() {
        let t = f32_type(&[2]);
        let mut f = func(vec![t.clone()], vec![t.clone()]);
        let x = f.args()[0];
        let e = op(&mut f, &nn::EXP, &[x], &t);
        region_op(&mut f, e, &t);
        ret(&mut f, &[x]);
        let mut m = module(f);
        assert_eq!(remove_dead_ops(&mut m.funcs[0], reach), 4);
        assert_eq!(body(&m), vec!["return %arg0 : tensor<2xf32>"]);
    }
}
