//! `canonicalize`: folding and dead pure-op removal, repeated to a fixed
//! point.
//!
//! Phases, per function, repeated until an iteration changes nothing or
//! `max-iterations` is reached:
//! 1. A folding sweep ([`folding::fold_function`]): constant folding with
//!    each op's `eval`, then `OpDef::fold` rewrites. New constants go right
//!    before the op they replace and take its location and span.
//! 2. Removal of unused pure ops ([`remove_unused_pure_ops`]): one backward
//!    sweep with use counts, so whole dead chains go at once.
//!
//! Invariants: only `Pure` ops are removed, never a terminator; the
//! surviving ops keep their relative order.

use super::folding::{self, FoldLimits};
use crate::{parse_uint_option, Pass, PassContext, PassOption, PassStatistic};
use weft_ir::entity::SecondaryMap;
use weft_ir::ops::Trait;
use weft_ir::{Diagnostic, Function, Module, Op, Value};

/// The `canonicalize` pass.
#[derive(Debug, Clone)]
pub struct Canonicalize {
    max_iterations: u64,
    limits: FoldLimits,
}

impl Default for Canonicalize {
    fn default() -> Self {
        Canonicalize { max_iterations: 10, limits: FoldLimits::default() }
    }
}

const OPTIONS: &[PassOption] = &[
    PassOption {
        name: "max-iterations",
        kind: "uint",
        default: "10",
        doc: "at most this many fold-and-remove rounds per function (at least 1)",
    },
    super::fold::MAX_ELEMENTS,
];

const REMOVED_OPS: PassStatistic = PassStatistic { name: "removed-ops", doc: "unused pure ops removed" };

impl Pass for Canonicalize {
    fn name(&self) -> &'static str {
        "canonicalize"
    }

    fn summary(&self) -> &'static str {
        "Folds constants and algebraic identities and removes unused pure ops, to a fixed point"
    }

    fn description(&self) -> &'static str {
        "Repeats two phases on each function until nothing changes (or \
`max-iterations` rounds): the folding of `fold` (constant folding with each op's \
reference semantics, then its algebraic folds such as `x * 1 -> x` where the types \
allow), and the removal of pure ops whose results nobody uses. New constants are \
inserted right before the op they replace and take its location. An evaluation \
error (an integer division by zero) leaves the op unchanged."
    }

    fn options(&self) -> &'static [PassOption] {
        OPTIONS
    }

    fn statistics(&self) -> &'static [PassStatistic] {
        &[super::fold::FOLDED_OPS, REMOVED_OPS]
    }

    fn set_option(&mut self, name: &str, value: &str) -> Result<(), String> {
        match name {
            "max-iterations" => match parse_uint_option(value)? {
                0 => return Err("expected at least 1, got '0'".to_string()),
                n => self.max_iterations = n,
            },
            "max-elements" => self.limits.max_elements = parse_uint_option(value)?,
            _ => return Err(format!("unknown option '{name}'")),
        }
        Ok(())
    }

    fn option_values(&self) -> Vec<(&'static str, String)> {
        vec![
            ("max-iterations", self.max_iterations.to_string()),
            ("max-elements", self.limits.max_elements.to_string()),
        ]
    }

    fn run(&mut self, module: &mut Module, cx: &mut PassContext) -> Result<(), Diagnostic> {
        let Module { funcs, resources, .. } = module;
        for f in funcs.iter_mut() {
            for _ in 0..self.max_iterations {
                let folded = folding::fold_function(f, resources, self.limits);
                let removed = remove_unused_pure_ops(f);
                cx.count(&super::fold::FOLDED_OPS, folded);
                cx.count(&REMOVED_OPS, removed);
                if folded == 0 && removed == 0 {
                    break;
                }
            }
        }
        Ok(())
    }
}

/// Removes every pure op whose results are unused, including ops that only
/// removed ops used; returns how many ops were removed (ops inside the
/// regions of a removed op included).
pub fn remove_unused_pure_ops(f: &mut Function) -> u64 {
    let mut uses = f.use_counts();
    let mut dead = SecondaryMap::<Op, bool>::default();
    let mut removed = Vec::new();
    // Reverse pre-order: every user of an op is visited before the op.
    for op in f.walk().into_iter().rev() {
        if dead[op] || !is_unused_pure(f, op, &uses) {
            continue;
        }
        for gone in std::iter::once(op).chain(nested_ops(f, op)) {
            if !dead[gone] {
                dead.set(gone, true);
                release_operands(f, gone, &mut uses);
                removed.push(gone);
            }
        }
    }
    f.remove_ops(&removed);
    removed.len() as u64
}

fn is_unused_pure(f: &Function, op: Op, uses: &SecondaryMap<Value, u32>) -> bool {
    let data = &f.ops[op];
    data.def.has_trait(Trait::Pure)
        && !data.def.has_trait(Trait::Terminator)
        && data.results.iter().all(|&r| uses[r] == 0)
}

fn release_operands(f: &Function, op: Op, uses: &mut SecondaryMap<Value, u32>) {
    for &v in &f.ops[op].operands {
        let n = uses[v];
        uses.set(v, n.saturating_sub(1));
    }
}

/// Every op inside the regions of `op`, at any depth.
fn nested_ops(f: &Function, op: Op) -> Vec<Op> {
    let mut out = Vec::new();
    let mut blocks = f.ops[op].regions.clone();
    while let Some(b) = blocks.pop() {
        for &inner in &f.blocks[b].ops {
            out.push(inner);
            blocks.extend_from_slice(&f.ops[inner].regions);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transforms::testing::*;
    use weft_ir::ops::nn;
    use weft_ir::{Context, NewOp};

    fn run(m: &mut Module, options: &[(&str, &str)]) -> Vec<(&'static str, u64, &'static str)> {
        let ctx = Context::default();
        let mut cx = PassContext::new(&ctx);
        let mut pass = Canonicalize::default();
        for (k, v) in options {
            pass.set_option(k, v).unwrap();
        }
        pass.run(m, &mut cx).unwrap();
        cx.stats
    }

    #[test]
    fn folds_constants_and_removes_what_they_replaced() {
        let t = i32_type(&[2]);
        let mut f = func(vec![t.clone()], vec![t.clone()]);
        let x = f.args()[0];
        let a = constant(&mut f, &t, &[1.0, 2.0]);
        let b = constant(&mut f, &t, &[3.0, 4.0]);
        let s = op_at(&mut f, &nn::ADD, &[a, b], &t, "add");
        let y = op_at(&mut f, &nn::MUL, &[x, s], &t, "mul");
        ret(&mut f, &[y]);
        let mut m = module(f);
        let stats = run(&mut m, &[]);
        assert_eq!(
            body(&m),
            vec![
                "%0 = constant dense<[4, 6]> : tensor<2xi32> loc(\"add\")",
                "%1 = nn.mul %arg0, %0 : tensor<2xi32> loc(\"mul\")",
                "return %1 : tensor<2xi32>",
            ]
        );
        assert_eq!(stats.iter().map(|s| (s.0, s.1)).collect::<Vec<_>>(), vec![("folded-ops", 1), ("removed-ops", 3)]);
    }

    #[test]
    fn identity_folds_then_removes_the_constant() {
        let t = i32_type(&[2]);
        let mut f = func(vec![t.clone()], vec![t.clone()]);
        let x = f.args()[0];
        let zero = constant(&mut f, &i32_type(&[]), &[0.0]);
        let s = op(&mut f, &nn::ADD, &[zero, x], &t);
        let r = op(&mut f, &nn::RELU, &[s], &t);
        ret(&mut f, &[r]);
        let mut m = module(f);
        run(&mut m, &[]);
        assert_eq!(body(&m), vec!["%0 = nn.relu %arg0 : tensor<2xi32>", "return %0 : tensor<2xi32>"]);
    }

    #[test]
    fn division_by_zero_is_left_alone() {
        let t = i32_type(&[]);
        let mut f = func(vec![], vec![t.clone()]);
        let a = constant(&mut f, &t, &[1.0]);
        let z = constant(&mut f, &t, &[0.0]);
        let q = op(&mut f, &nn::DIV, &[a, z], &t);
        ret(&mut f, &[q]);
        let mut m = module(f);
        let before = print(&m);
        let stats = run(&mut m, &[]);
        assert_eq!(print(&m), before);
        assert_eq!(stats.iter().map(|s| s.1).sum::<u64>(), 0);
    }

    #[test]
    fn max_iterations_bounds_the_work() {
        let t = i32_type(&[]);
        let mut f = func(vec![], vec![t.clone()]);
        let a = constant(&mut f, &t, &[5.0]);
        let n = op(&mut f, &nn::NEG, &[a], &t);
        ret(&mut f, &[n]);
        let mut m = module(f);
        // One round folds and removes; the check that nothing is left needs a
        // second round, which max-iterations=1 does not allow.
        let stats = run(&mut m, &[("max-iterations", "1")]);
        assert_eq!(stats.iter().map(|s| (s.0, s.1)).collect::<Vec<_>>(), vec![("folded-ops", 1), ("removed-ops", 2)]);
        assert_eq!(body(&m), vec!["%0 = constant dense<-5> : tensor<i32>", "return %0 : tensor<i32>"]);
        let mut pass = Canonicalize::default();
        assert_eq!(pass.set_option("max-iterations", "0"), Err("expected at least 1, got '0'".into()));
    }

    #[test]
    fn removes_unused_pure_chains_but_keeps_impure_ops() {
        let t = f32_type(&[2]);
        let mut f = func(vec![t.clone()], vec![t.clone()]);
        let x = f.args()[0];
        let e = op(&mut f, &nn::EXP, &[x], &t);
        let _unused = op(&mut f, &nn::TANH, &[e], &t);
        op(&mut f, &SIDE_EFFECT, &[x], &t);
        ret(&mut f, &[x]);
        let mut m = module(f);
        assert_eq!(remove_unused_pure_ops(&mut m.funcs[0]), 2);
        assert_eq!(body(&m), vec!["%0 = test.print %arg0 : tensor<2xf32>", "return %arg0 : tensor<2xf32>"]);
    }

    #[test]
    fn removing_an_op_removes_its_regions_and_what_they_used() {
        let t = f32_type(&[2]);
        let mut f = func(vec![t.clone()], vec![t.clone()]);
        let x = f.args()[0];
        let e = op(&mut f, &nn::EXP, &[x], &t);
        let outer = f.append_op(f.body, NewOp::new(&PURE_REGION, vec![], vec![t.clone()]));
        let inner = f.new_region_block(outer);
        f.ops[outer].regions.push(inner);
        let n = f.append_op(inner, NewOp::new(&nn::NEG, vec![e], vec![t.clone()]));
        let n = f.ops[n].results[0];
        f.append_op(inner, NewOp::new(&YIELD, vec![n], vec![]));
        ret(&mut f, &[x]);
        let mut m = module(f);
        assert_eq!(remove_unused_pure_ops(&mut m.funcs[0]), 4);
        assert_eq!(body(&m), vec!["return %arg0 : tensor<2xf32>"]);
    }

    const SIDE_EFFECT: weft_ir::OpDef = weft_ir::OpDef {
        name: "test.print",
        operands: weft_ir::ops::Arity::Fixed(&["value"]),
        results: weft_ir::ops::Arity::Fixed(&["token"]),
        ..weft_ir::OpDef::DEFAULT
    };

    const PURE_REGION: weft_ir::OpDef = weft_ir::OpDef {
        name: "test.region",
        results: weft_ir::ops::Arity::Fixed(&["result"]),
        traits: &[Trait::Pure],
        ..weft_ir::OpDef::DEFAULT
    };

    const YIELD: weft_ir::OpDef = weft_ir::OpDef {
        name: "test.yield",
        operands: weft_ir::ops::Arity::Variadic { name: "values", min: 0 },
        traits: &[Trait::Terminator],
        ..weft_ir::OpDef::DEFAULT
    };
}
