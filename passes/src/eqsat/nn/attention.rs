//! The attention rules of `fuse`: `softmax(scale(q @ kt) + mask) @ v` as
//! PyTorch exports it (MatMul, Div or Mul by a constant, Add of the mask,
//! Softmax over the last axis, MatMul) becomes `nn.attention`.
//!
//! Rules: `attention-div-masked`, `attention-mul-masked`, `attention-div`,
//! `attention-mul` (the scale as `scores / c` or `scores * c`, `c * scores`
//! by `mul-commute`; the mask on either side of the add by `add-commute`).
//!
//! Conditions (all must hold, otherwise the chain stays as it is):
//! - `c` is a single-element float constant, finite (non-zero for div), of
//!   a rank that does not widen the scores;
//! - the softmax is over the scores' last axis;
//! - the operand types are those `nn.attention` accepts, with its result
//!   type the matched value's (so the mask does not widen the scores:
//!   `nn.attention`'s own shape inference decides);
//! - every intermediate (scores, scaled, masked, probabilities) has exactly
//!   one use in the IR: an intermediate another op also reads would be
//!   computed twice, so the chain is left alone.
//!
//! The keys are taken as the matmul's right operand `kt` (`[.., D, T]`),
//! whatever computed it: exporters fold the keys' head split and transpose
//! into one Transpose (perm `[0, 2, 3, 1]`), so there is no separate
//! last-two-axes swap to match. A chain through a softmax spelled out in
//! exp/reduce_sum/div reads the logits twice, so the single-use condition
//! leaves it unfused in the run that fuses the softmax (a later `fuse` run
//! sees one `nn.softmax` and fuses it).
//!
//! Invariants: the fused node is exactly the matched computation (the
//! scale keeps its form and bits), so `nn.attention`'s semantics, defined
//! as that composition, give the same bits.

use super::lang::{NnAnalysis, NnEGraph, NnLang, Param};
use super::rules::NnRewrite;
use egg::{Applier, Id, Pattern, PatternAst, Rewrite, Subst, Symbol, Var};
use weft_ir::attr::Attribute;
use weft_ir::ops::nn::ATTENTION;
use weft_ir::ops::OpInfo;
use weft_ir::{Function, Location, Op, Type};

/// The four attention rules.
pub(super) fn attention_rules(out: &mut Vec<NnRewrite>) -> Result<(), String> {
    for masked in [true, false] {
        for divides in [true, false] {
            let scaled = format!("({} (matmul ?q ?k) ?c)", if divides { "div" } else { "mul" });
            let logits = if masked { format!("(add {scaled} ?mask)") } else { scaled };
            let pattern = format!("(matmul (softmax {logits} ?axis) ?v)");
            let name =
                format!("attention-{}{}", if divides { "div" } else { "mul" }, if masked { "-masked" } else { "" });
            let searcher: Pattern<NnLang> = pattern.parse().map_err(|e| format!("rule '{name}': {e}"))?;
            let applier = FuseAttention { masked, divides, vars: AttentionVars::new()? };
            out.push(Rewrite::new(name, searcher, applier)?);
        }
    }
    Ok(())
}

#[derive(Clone, Copy)]
struct AttentionVars {
    q: Var,
    k: Var,
    v: Var,
    c: Var,
    mask: Var,
    axis: Var,
}

impl AttentionVars {
    fn new() -> Result<AttentionVars, String> {
        let var = |name: &str| name.parse::<Var>().map_err(|e| format!("pattern variable '{name}': {e}"));
        Ok(AttentionVars {
            q: var("?q")?,
            k: var("?k")?,
            v: var("?v")?,
            c: var("?c")?,
            mask: var("?mask")?,
            axis: var("?axis")?,
        })
    }
}

struct FuseAttention {
    masked: bool,
    divides: bool,
    vars: AttentionVars,
}

impl FuseAttention {
    /// The fused node when every condition holds.
    fn fused(&self, egraph: &mut NnEGraph, eclass: Id, subst: &Subst) -> Option<NnLang> {
        let vars = self.vars;
        let (q, k, v, c) = (subst[vars.q], subst[vars.k], subst[vars.v], subst[vars.c]);
        let mask = self.masked.then(|| subst[vars.mask]);
        let scale = egraph[c].data.konst.filter(|s| s.is_finite() && !(self.divides && *s == 0.0))?;
        let scores = egraph.lookup(NnLang::MatMul([q, k]))?;
        let scores_rank = egraph[scores].data.ty.as_ref()?.rank();
        if egraph[c].data.ty.as_ref()?.rank() > scores_rank {
            return None;
        }
        if !matches!(param(egraph, subst[vars.axis])?, Param::Axis(a) if *a as usize + 1 == scores_rank) {
            return None;
        }
        let result_type = self.result_type(egraph, [q, k, v], mask, scale)?;
        if egraph[eclass].data.ty.as_ref() != Some(&result_type) {
            return None;
        }
        if !self.intermediates(egraph, scores, c, mask, subst[vars.axis])?.iter().all(|&i| egraph[i].data.uses == 1) {
            return None;
        }
        let p = egraph.add(NnLang::Param(Param::Scale { bits: scale.to_bits(), divides: self.divides }));
        Some(match mask {
            Some(m) => NnLang::AttentionMasked([q, k, v, m, p]),
            None => NnLang::Attention([q, k, v, p]),
        })
    }

    /// `nn.attention`'s result type for these operands (its own shape
    /// inference, so the rule and the op agree on what is valid).
    fn result_type(
        &self,
        egraph: &NnEGraph,
        qkv: [Id; 3],
        mask: Option<Id>,
        scale: f64,
    ) -> Option<weft_ir::TensorType> {
        let mut types = Vec::new();
        for id in qkv.into_iter().chain(mask) {
            types.push(Type::Tensor(egraph[id].data.ty.clone()?));
        }
        let refs: Vec<&Type> = types.iter().collect();
        let mut attrs = weft_ir::Attrs::new();
        attrs.insert("scale".into(), Attribute::Float(scale));
        attrs.insert("scale_op".into(), Attribute::Str(if self.divides { "div" } else { "mul" }.into()));
        match ATTENTION.infer?(&OpInfo::new(&refs, &attrs)).ok()?.pop()? {
            Type::Tensor(t) => Some(t),
            _ => None,
        }
    }

    /// The classes of the scores, scaled scores, masked scores and
    /// probabilities (the matched term's inner nodes).
    fn intermediates(&self, egraph: &NnEGraph, scores: Id, c: Id, mask: Option<Id>, axis: Id) -> Option<Vec<Id>> {
        let scaled = if self.divides {
            egraph.lookup(NnLang::Div([scores, c]))?
        } else {
            either(egraph, NnLang::Mul([scores, c]), NnLang::Mul([c, scores]))?
        };
        let mut chain = vec![scores, scaled];
        let logits = match mask {
            Some(m) => {
                let masked = either(egraph, NnLang::Add([scaled, m]), NnLang::Add([m, scaled]))?;
                chain.push(masked);
                masked
            }
            None => scaled,
        };
        chain.push(egraph.lookup(NnLang::Softmax([logits, axis]))?);
        Some(chain)
    }
}

/// The class of `a`, else of `b`.
fn either(egraph: &NnEGraph, a: NnLang, b: NnLang) -> Option<Id> {
    egraph.lookup(a).or_else(|| egraph.lookup(b))
}

fn param(egraph: &NnEGraph, id: Id) -> Option<&Param> {
    egraph[id].nodes.iter().find_map(|n| match n {
        NnLang::Param(p) => Some(p),
        _ => None,
    })
}

impl Applier<NnLang, NnAnalysis> for FuseAttention {
    fn apply_one(
        &self,
        egraph: &mut NnEGraph,
        eclass: Id,
        subst: &Subst,
        _: Option<&PatternAst<NnLang>>,
        _: Symbol,
    ) -> Vec<Id> {
        let node = self.fused(egraph, eclass, subst);
        node.map_or_else(Vec::new, |node| super::rules::unite(egraph, eclass, node))
    }

    fn vars(&self) -> Vec<Var> {
        let v = self.vars;
        let mut vars = vec![v.q, v.k, v.v, v.c, v.axis];
        if self.masked {
            vars.push(v.mask);
        }
        vars
    }
}

/// The location of a fused attention whose last matmul is `anchor`: the
/// fusion of the chain's ops' locations in order (matmul, scale, mask add,
/// softmax, matmul), which `nn::attention::expand` gives back to the ops it
/// builds; the anchor's own location when the IR chain is not that
/// sequence of ops.
pub(super) fn chain_location(f: &Function, anchor: Op, masked: bool) -> Location {
    let own = f.ops[anchor].loc.clone();
    chain_ops(f, anchor, masked).map_or(own, |ops| Location::fuse(ops.iter().map(|&o| f.ops[o].loc.clone())))
}

/// The ops of the chain ending in `anchor`, in program order.
fn chain_ops(f: &Function, anchor: Op, masked: bool) -> Option<Vec<Op>> {
    let def = |v, names: &[&str]| f.defining_op(v).filter(|&o| names.contains(&f.ops[o].name()));
    let softmax = def(*f.ops[anchor].operands.first()?, &["nn.softmax"])?;
    let mut logits = *f.ops[softmax].operands.first()?;
    let mut ops = vec![softmax, anchor];
    if masked {
        let add = def(logits, &["nn.add"])?;
        ops.insert(0, add);
        logits = f.ops[add].operands.iter().copied().find(|&x| def(x, &["nn.div", "nn.mul"]).is_some())?;
    }
    let scale = def(logits, &["nn.div", "nn.mul"])?;
    let scores = f.ops[scale].operands.iter().copied().find_map(|x| def(x, &["nn.matmul"]))?;
    ops.splice(0..0, [scores, scale]);
    Some(ops)
}
