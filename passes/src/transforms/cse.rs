//! `cse`: common subexpression elimination over pure ops.
//!
//! Phases, per function:
//! 1. Walk the blocks in order with a stack of scopes (one per block being
//!    visited). For each `Pure` op without regions, look for an equal op in
//!    the current scope or an enclosing one: same op, same operands (after
//!    earlier merges; order-insensitive for `Commutative` ops when the
//!    `commutative` option is on), identical attributes (floats compared by
//!    bits, so `0.0` and `-0.0` differ), same result types.
//! 2. An op that finds an equal earlier op is merged: its results map to the
//!    earlier op's results. Otherwise it enters the current scope.
//! 3. At the end, uses are redirected in one go and the merged ops removed.
//!
//! An op only merges into an op that dominates it: an earlier op of the same
//! block, or an op of an enclosing block that comes before the region. The
//! surviving op keeps its own location.
//!
//! Invariants: surviving ops keep their order; only `Pure` ops are merged;
//! the output depends on block order only (hashing picks candidates, exact
//! comparison decides).

use crate::{parse_bool_option, Pass, PassContext, PassOption, PassStatistic};
use std::collections::hash_map::DefaultHasher;
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use weft_ir::entity::SecondaryMap;
use weft_ir::ops::Trait;
use weft_ir::{Attribute, Block, Diagnostic, Function, Module, Op, TensorData, Value};

/// The `cse` pass.
#[derive(Debug, Clone)]
pub struct Cse {
    commutative: bool,
}

impl Default for Cse {
    fn default() -> Self {
        Cse { commutative: true }
    }
}

const OPTIONS: &[PassOption] = &[PassOption {
    name: "commutative",
    kind: "bool",
    default: "true",
    doc: "compare the operands of commutative ops regardless of order (a + b == b + a)",
}];

const MERGED_OPS: PassStatistic = PassStatistic { name: "merged-ops", doc: "ops replaced by an equal earlier op" };

impl Pass for Cse {
    fn name(&self) -> &'static str {
        "cse"
    }

    fn summary(&self) -> &'static str {
        "Merges pure ops that compute the same thing as an earlier op"
    }

    fn description(&self) -> &'static str {
        "Replaces a pure op by an earlier op that dominates it (same block, or an \
enclosing block) when both have the same name, operands, attributes and result \
types. Operands of commutative ops are compared in any order unless \
`commutative=false`. Attribute floats are compared by their bits. The surviving op \
keeps its own location."
    }

    fn options(&self) -> &'static [PassOption] {
        OPTIONS
    }

    fn statistics(&self) -> &'static [PassStatistic] {
        &[MERGED_OPS]
    }

    fn set_option(&mut self, name: &str, value: &str) -> Result<(), String> {
        match name {
            "commutative" => self.commutative = parse_bool_option(value)?,
            _ => return Err(format!("unknown option '{name}'")),
        }
        Ok(())
    }

    fn option_values(&self) -> Vec<(&'static str, String)> {
        vec![("commutative", self.commutative.to_string())]
    }

    fn run(&mut self, module: &mut Module, cx: &mut PassContext) -> Result<(), Diagnostic> {
        for f in module.funcs.iter_mut() {
            let merged = eliminate_common_ops(f, self.commutative);
            cx.count(&MERGED_OPS, merged);
        }
        Ok(())
    }
}

/// Merges equal pure ops of `f`; returns how many ops were merged away.
pub fn eliminate_common_ops(f: &mut Function, commutative: bool) -> u64 {
    let mut cse = Scopes { commutative, scopes: Vec::new(), replacements: SecondaryMap::default(), merged: Vec::new() };
    cse.visit_block(f, f.body);
    f.replace_uses(&cse.replacements);
    f.remove_ops(&cse.merged);
    cse.merged.len() as u64
}

/// An op that may absorb later equal ops, with its operands as compared.
struct Available {
    op: Op,
    operands: Vec<Value>,
}

struct Scopes {
    commutative: bool,
    /// One table per block on the path from the body to the current block:
    /// hash -> ops with that hash.
    scopes: Vec<HashMap<u64, Vec<Available>>>,
    replacements: SecondaryMap<Value, Option<Value>>,
    merged: Vec<Op>,
}

impl Scopes {
    fn visit_block(&mut self, f: &Function, block: Block) {
        self.scopes.push(HashMap::new());
        for &op in &f.blocks[block].ops {
            if is_candidate(f, op) {
                self.visit_candidate(f, op);
            }
            for &region in &f.ops[op].regions {
                self.visit_block(f, region);
            }
        }
        self.scopes.pop();
    }

    fn visit_candidate(&mut self, f: &Function, op: Op) {
        let operands = self.compared_operands(f, op);
        let hash = hash_op(f, op, &operands);
        let earlier = self.scopes.iter().rev().find_map(|scope| {
            scope.get(&hash)?.iter().find(|a| a.operands == operands && same_op(f, a.op, op)).map(|a| a.op)
        });
        match earlier {
            Some(earlier) => self.merge(f, op, earlier),
            None => {
                if let Some(scope) = self.scopes.last_mut() {
                    scope.entry(hash).or_default().push(Available { op, operands });
                }
            }
        }
    }

    /// The operands after earlier merges, sorted for commutative ops.
    fn compared_operands(&self, f: &Function, op: Op) -> Vec<Value> {
        let data = &f.ops[op];
        let mut operands: Vec<Value> = data.operands.iter().map(|&v| self.replacements[v].unwrap_or(v)).collect();
        if self.commutative && data.def.has_trait(Trait::Commutative) {
            operands.sort();
        }
        operands
    }

    fn merge(&mut self, f: &Function, op: Op, into: Op) {
        for (&old, &new) in f.ops[op].results.iter().zip(&f.ops[into].results) {
            self.replacements.set(old, Some(new));
        }
        self.merged.push(op);
    }
}

fn is_candidate(f: &Function, op: Op) -> bool {
    let data = &f.ops[op];
    data.def.has_trait(Trait::Pure) && data.regions.is_empty() && !data.results.is_empty()
}

/// Same op, identical attributes, same result types (operands are compared
/// by the caller).
fn same_op(f: &Function, a: Op, b: Op) -> bool {
    let (x, y) = (&f.ops[a], &f.ops[b]);
    x.def.name == y.def.name
        && x.results.len() == y.results.len()
        && x.results.iter().zip(&y.results).all(|(&r, &s)| f.value_type(r) == f.value_type(s))
        && x.attrs.len() == y.attrs.len()
        && x.attrs.iter().zip(&y.attrs).all(|((k, v), (l, w))| k == l && identical(v, w))
}

fn hash_op(f: &Function, op: Op, operands: &[Value]) -> u64 {
    let data = &f.ops[op];
    let mut h = DefaultHasher::new();
    data.def.name.hash(&mut h);
    operands.hash(&mut h);
    data.results.len().hash(&mut h);
    for (k, v) in &data.attrs {
        k.hash(&mut h);
        hash_attribute(v, &mut h);
    }
    h.finish()
}

/// Equality of attributes with floats compared by bits.
pub fn identical(a: &Attribute, b: &Attribute) -> bool {
    match (a, b) {
        (Attribute::Float(x), Attribute::Float(y)) => x.to_bits() == y.to_bits(),
        (Attribute::Array(x), Attribute::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| identical(p, q))
        }
        (Attribute::Dense(x), Attribute::Dense(y)) => x.ty == y.ty && identical_data(&x.data, &y.data),
        _ => a == b,
    }
}

fn identical_data(a: &TensorData, b: &TensorData) -> bool {
    fn bits<T>(x: &[T], y: &[T], f: impl Fn(&T) -> u64) -> bool {
        x.len() == y.len() && x.iter().zip(y).all(|(p, q)| f(p) == f(q))
    }
    match (a, b) {
        (TensorData::F16(x), TensorData::F16(y)) => bits(x, y, |v| v.to_bits().into()),
        (TensorData::BF16(x), TensorData::BF16(y)) => bits(x, y, |v| v.to_bits().into()),
        (TensorData::F32(x), TensorData::F32(y)) => bits(x, y, |v| v.to_bits().into()),
        (TensorData::F64(x), TensorData::F64(y)) => bits(x, y, |v| v.to_bits()),
        (TensorData::Int(x), TensorData::Int(y)) => x == y,
        _ => false,
    }
}

fn hash_attribute(a: &Attribute, h: &mut impl Hasher) {
    std::mem::discriminant(a).hash(h);
    match a {
        Attribute::Int(i) => i.hash(h),
        Attribute::Float(x) => x.to_bits().hash(h),
        Attribute::Str(s) => s.hash(h),
        Attribute::Bool(b) => b.hash(h),
        Attribute::Array(v) => {
            v.len().hash(h);
            v.iter().for_each(|x| hash_attribute(x, h));
        }
        Attribute::Type(t) => t.to_string().hash(h),
        Attribute::Dense(d) => {
            d.ty.to_string().hash(h);
            hash_data(&d.data, h);
        }
        Attribute::Resource { name, ty } => {
            name.hash(h);
            ty.to_string().hash(h);
        }
    }
}

fn hash_data(d: &TensorData, h: &mut impl Hasher) {
    match d {
        TensorData::F16(v) => v.iter().for_each(|x| x.to_bits().hash(h)),
        TensorData::BF16(v) => v.iter().for_each(|x| x.to_bits().hash(h)),
        TensorData::F32(v) => v.iter().for_each(|x| x.to_bits().hash(h)),
        TensorData::F64(v) => v.iter().for_each(|x| x.to_bits().hash(h)),
        TensorData::Int(v) => v.hash(h),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transforms::testing::*;
    use weft_ir::ops::{nn, Arity};
    use weft_ir::{Context, NewOp, OpDef};

    fn run(m: &mut Module, commutative: &str) -> u64 {
        let ctx = Context::default();
        let mut cx = PassContext::new(&ctx);
        let mut pass = Cse::default();
        pass.set_option("commutative", commutative).unwrap();
        pass.run(m, &mut cx).unwrap();
        cx.stat("merged-ops")
    }

    #[test]
    fn merges_equal_ops_and_their_users() {
        let t = f32_type(&[2]);
        let mut f = func(vec![t.clone(), t.clone()], vec![t.clone()]);
        let (x, y) = (f.args()[0], f.args()[1]);
        let a = op_at(&mut f, &nn::SUB, &[x, y], &t, "first");
        let b = op_at(&mut f, &nn::SUB, &[x, y], &t, "second");
        let ea = op(&mut f, &nn::EXP, &[a], &t);
        let eb = op(&mut f, &nn::EXP, &[b], &t);
        let other = op(&mut f, &nn::SUB, &[y, x], &t);
        let s = op(&mut f, &nn::MUL, &[ea, eb], &t);
        let r = op(&mut f, &nn::MUL, &[s, other], &t);
        ret(&mut f, &[r]);
        let mut m = module(f);
        assert_eq!(run(&mut m, "true"), 2);
        assert_eq!(
            body(&m),
            vec![
                "%0 = nn.sub %arg0, %arg1 : tensor<2xf32> loc(\"first\")",
                "%1 = nn.exp %0 : tensor<2xf32>",
                "%2 = nn.sub %arg1, %arg0 : tensor<2xf32>",
                "%3 = nn.mul %1, %1 : tensor<2xf32>",
                "%4 = nn.mul %3, %2 : tensor<2xf32>",
                "return %4 : tensor<2xf32>",
            ]
        );
    }

    #[test]
    fn commutative_operands_in_any_order_unless_disabled() {
        let build = || {
            let t = i32_type(&[2]);
            let mut f = func(vec![t.clone(), t.clone()], vec![t.clone()]);
            let (x, y) = (f.args()[0], f.args()[1]);
            let a = op(&mut f, &nn::ADD, &[x, y], &t);
            let b = op(&mut f, &nn::ADD, &[y, x], &t);
            let r = op(&mut f, &nn::SUB, &[a, b], &t);
            ret(&mut f, &[r]);
            module(f)
        };
        let mut m = build();
        assert_eq!(run(&mut m, "true"), 1);
        assert_eq!(body(&m)[1], "%1 = nn.sub %0, %0 : tensor<2xi32>");
        let mut m = build();
        assert_eq!(run(&mut m, "false"), 0);
    }

    #[test]
    fn constants_merge_only_when_bits_agree() {
        let t = f32_type(&[]);
        let mut f = func(vec![], vec![t.clone(), t.clone(), t.clone()]);
        let a = constant(&mut f, &t, &[0.0]);
        let b = constant(&mut f, &t, &[0.0]);
        let c = constant(&mut f, &t, &[-0.0]);
        constant(&mut f, &i32_type(&[]), &[0.0]);
        ret(&mut f, &[a, b, c]);
        let mut m = module(f);
        assert_eq!(run(&mut m, "true"), 1);
        assert_eq!(
            body(&m),
            vec![
                "%0 = constant dense<0.0> : tensor<f32>",
                "%1 = constant dense<-0.0> : tensor<f32>",
                "%2 = constant dense<0> : tensor<i32>",
                "return %0, %0, %1 : tensor<f32>, tensor<f32>, tensor<f32>",
            ]
        );
    }

    #[test]
    fn attributes_and_impure_ops_prevent_merging() {
        let t = f32_type(&[2, 2]);
        let mut f = func(vec![t.clone()], vec![t.clone()]);
        let x = f.args()[0];
        let perm = |p: &[i64]| Attribute::Array(p.iter().map(|&i| Attribute::Int(i)).collect());
        let mut transpose = |p: &[i64]| {
            let op = f.append_op(f.body, NewOp::new(&nn::TRANSPOSE, vec![x], vec![t.clone()]).attr("perm", perm(p)));
            f.ops[op].results[0]
        };
        let a = transpose(&[1, 0]);
        let b = transpose(&[0, 1]);
        let c = transpose(&[1, 0]);
        let p1 = op(&mut f, &SIDE_EFFECT, &[a], &t);
        let p2 = op(&mut f, &SIDE_EFFECT, &[a], &t);
        let s = op(&mut f, &nn::ADD, &[b, c], &t);
        let s = op(&mut f, &nn::ADD, &[s, p1], &t);
        let s = op(&mut f, &nn::ADD, &[s, p2], &t);
        ret(&mut f, &[s]);
        let mut m = module(f);
        assert_eq!(run(&mut m, "true"), 1);
        let text = body(&m);
        assert_eq!(text[2], "%2 = test.print %0 : tensor<2x2xf32>");
        assert_eq!(text[3], "%3 = test.print %0 : tensor<2x2xf32>");
        assert_eq!(text[4], "%4 = nn.add %1, %0 : tensor<2x2xf32>");
    }

    const SIDE_EFFECT: OpDef = OpDef {
        name: "test.print",
        operands: Arity::Fixed(&["value"]),
        results: Arity::Fixed(&["token"]),
        ..OpDef::DEFAULT
    };

    const PURE_REGION: OpDef =
        OpDef { name: "test.region", results: Arity::Fixed(&["result"]), traits: &[Trait::Pure], ..OpDef::DEFAULT };

    const YIELD: OpDef = OpDef {
        name: "test.yield",
        operands: Arity::Variadic { name: "values", min: 0 },
        traits: &[Trait::Terminator],
        ..OpDef::DEFAULT
    };

    #[test]
    fn ops_in_regions_merge_into_dominating_ops_only() {
        let t = f32_type(&[2]);
        let mut f = func(vec![t.clone()], vec![t.clone()]);
        let x = f.args()[0];
        let outer_exp = op(&mut f, &nn::EXP, &[x], &t);
        let region_op = f.append_op(f.body, NewOp::new(&PURE_REGION, vec![], vec![t.clone()]));
        let inner = f.new_region_block(region_op);
        f.ops[region_op].regions.push(inner);
        let in_exp = f.append_op(inner, NewOp::new(&nn::EXP, vec![x], vec![t.clone()]));
        let in_neg = f.append_op(inner, NewOp::new(&nn::NEG, vec![f.ops[in_exp].results[0]], vec![t.clone()]));
        f.append_op(inner, NewOp::new(&YIELD, vec![f.ops[in_neg].results[0]], vec![]));
        let r = f.ops[region_op].results[0];
        // After the region: this neg must not merge into the one inside it.
        let after = op(&mut f, &nn::NEG, &[outer_exp], &t);
        let s = op(&mut f, &nn::ADD, &[r, after], &t);
        ret(&mut f, &[s]);
        let mut m = module(f);
        assert_eq!(run(&mut m, "true"), 1);
        let f = &m.funcs[0];
        assert_eq!(f.blocks[inner].ops.len(), 2);
        assert_eq!(f.ops[f.blocks[inner].ops[0]].operands, vec![outer_exp]);
        assert_eq!(f.walk().len(), 7);
    }
}
