//! The attention rules of `fuse`: `softmax(scale(q @ kt) + mask) @ v` as
//! PyTorch exports it (MatMul, Div or Mul by a constant, Add of the mask,
//! Softmax over the last axis, MatMul) becomes `nn.attention`, with the
//! scale where the export put it (`ScaleAt`): on the scores, on the queries
//! before the matmul (timm), or on both queries and keys (the ONNX export
//! of `scaled_dot_product_attention`, which multiplies each by the square
//! root of the softmax scale).
//!
//! Rules: `attention-{div,mul}[-q|-qk][-masked]` (the scale as `x / c` or
//! `x * c`, `c * x` by `mul-commute`; the mask on either side of the add by
//! `add-commute`).
//!
//! Conditions (all must hold, otherwise the chain stays as it is):
//! - `c` is a single-element float constant, finite (non-zero for div), of
//!   a rank that does not widen what it scales; with `-qk`, the keys'
//!   constant has the same value;
//! - the softmax is over the scores' last axis;
//! - the operand types are those `nn.attention` accepts, with its result
//!   type the matched value's (so the mask does not widen the scores:
//!   `nn.attention`'s own shape inference decides);
//! - every intermediate (scaled operands, scores, scaled scores, masked,
//!   probabilities) has exactly one use in the IR: an intermediate another
//!   op also reads would be computed twice, so the chain is left alone.
//!
//! The keys are taken as the matmul's right operand `kt` (`[.., D, T]`),
//! whatever computed it: exporters fold the keys' head split and transpose
//! into one Transpose (perm `[0, 2, 3, 1]`), so there is no separate
//! last-two-axes swap to match. A chain through a softmax spelled out in
//! exp/reduce_sum/div reads the logits twice, so the single-use condition
//! leaves it unfused in the round that fuses the softmax; `fuse_function`
//! then runs another round, which sees one `nn.softmax` and fuses it.
//!
//! Invariants: the fused node is exactly the matched computation (the
//! scale keeps its form, its place and its bits), so `nn.attention`'s
//! semantics, defined as that composition, give the same bits.

use super::lang::{NnAnalysis, NnEGraph, NnLang, Param};
use super::rules::NnRewrite;
use egg::{Applier, Id, Pattern, PatternAst, Rewrite, Subst, Symbol, Var};
use weft_ir::ops::nn::attention::{chain_steps, Scale, ScaleAt};
use weft_ir::ops::nn::ATTENTION;
use weft_ir::ops::OpInfo;
use weft_ir::{Function, Location, Op, Type};

/// The attention rules: every scale form, place, with and without mask.
pub(super) fn attention_rules(out: &mut Vec<NnRewrite>) -> Result<(), String> {
    for masked in [true, false] {
        for at in ScaleAt::ALL {
            for divides in [true, false] {
                let op = if divides { "div" } else { "mul" };
                let scores = match at {
                    ScaleAt::Scores => format!("({op} (matmul ?q ?k) ?c)"),
                    ScaleAt::Query => format!("(matmul ({op} ?q ?c) ?k)"),
                    ScaleAt::QueryAndKeys => format!("(matmul ({op} ?q ?c) ({op} ?k ?ck))"),
                };
                let logits = if masked { format!("(add {scores} ?mask)") } else { scores };
                let pattern = format!("(matmul (softmax {logits} ?axis) ?v)");
                let place = if at == ScaleAt::Scores { String::new() } else { format!("-{}", at.name()) };
                let name = format!("attention-{op}{place}{}", if masked { "-masked" } else { "" });
                let searcher: Pattern<NnLang> = pattern.parse().map_err(|e| format!("rule '{name}': {e}"))?;
                let applier = FuseAttention { masked, divides, at, vars: AttentionVars::new()? };
                out.push(Rewrite::new(name, searcher, applier)?);
            }
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
    /// The keys' constant (`-qk` rules only).
    ck: Var,
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
            ck: var("?ck")?,
            mask: var("?mask")?,
            axis: var("?axis")?,
        })
    }
}

struct FuseAttention {
    masked: bool,
    divides: bool,
    at: ScaleAt,
    vars: AttentionVars,
}

impl FuseAttention {
    /// The fused node when every condition holds.
    fn fused(&self, egraph: &mut NnEGraph, eclass: Id, subst: &Subst) -> Option<NnLang> {
        let vars = self.vars;
        let (q, k, v, c) = (subst[vars.q], subst[vars.k], subst[vars.v], subst[vars.c]);
        let mask = self.masked.then(|| subst[vars.mask]);
        let value = egraph[c].data.konst.filter(|s| s.is_finite() && !(self.divides && *s == 0.0))?;
        if self.at == ScaleAt::QueryAndKeys
            && egraph[subst[vars.ck]].data.konst.map(f64::to_bits) != Some(value.to_bits())
        {
            return None;
        }
        let chain = self.intermediates(egraph, [q, k], subst, mask)?;
        let scores_rank = egraph[chain.scores].data.ty.as_ref()?.rank();
        if egraph[c].data.ty.as_ref()?.rank() > scores_rank {
            return None;
        }
        if !matches!(param(egraph, subst[vars.axis])?, Param::Axis(a) if *a as usize + 1 == scores_rank) {
            return None;
        }
        let scale = Scale { value, divides: self.divides, at: self.at };
        let result_type = result_type(egraph, [q, k, v], mask, scale)?;
        if egraph[eclass].data.ty.as_ref() != Some(&result_type) {
            return None;
        }
        if !chain.ids.iter().all(|&i| egraph[i].data.uses == 1) {
            return None;
        }
        let p = egraph.add(NnLang::Param(Param::Scale { bits: value.to_bits(), divides: self.divides, at: self.at }));
        Some(match mask {
            Some(m) => NnLang::AttentionMasked([q, k, v, m, p]),
            None => NnLang::Attention([q, k, v, p]),
        })
    }

    /// `x / c` or `x * c` (either order) when the e-graph has it.
    fn scaled(&self, egraph: &NnEGraph, x: Id, c: Id) -> Option<Id> {
        if self.divides {
            egraph.lookup(NnLang::Div([x, c]))
        } else {
            either(egraph, NnLang::Mul([x, c]), NnLang::Mul([c, x]))
        }
    }

    /// The classes of the matched term's inner nodes: the scaled operands
    /// or scaled scores, the scores, the masked scores and the
    /// probabilities.
    fn intermediates(&self, egraph: &NnEGraph, [q, k]: [Id; 2], subst: &Subst, mask: Option<Id>) -> Option<Chain> {
        let c = subst[self.vars.c];
        let mut ids = Vec::new();
        let (scores, scaled) = match self.at {
            ScaleAt::Scores => {
                let scores = egraph.lookup(NnLang::MatMul([q, k]))?;
                (scores, self.scaled(egraph, scores, c)?)
            }
            ScaleAt::Query => {
                let sq = self.scaled(egraph, q, c)?;
                ids.push(sq);
                let scores = egraph.lookup(NnLang::MatMul([sq, k]))?;
                (scores, scores)
            }
            ScaleAt::QueryAndKeys => {
                let sq = self.scaled(egraph, q, c)?;
                let sk = self.scaled(egraph, k, subst[self.vars.ck])?;
                ids.extend([sq, sk]);
                let scores = egraph.lookup(NnLang::MatMul([sq, sk]))?;
                (scores, scores)
            }
        };
        ids.push(scores);
        if scaled != scores {
            ids.push(scaled);
        }
        let logits = match mask {
            Some(m) => {
                let masked = either(egraph, NnLang::Add([scaled, m]), NnLang::Add([m, scaled]))?;
                ids.push(masked);
                masked
            }
            None => scaled,
        };
        ids.push(egraph.lookup(NnLang::Softmax([logits, subst[self.vars.axis]]))?);
        Some(Chain { scores, ids })
    }
}

/// The inner classes of a matched attention.
struct Chain {
    /// The class of `q @ kt` (scaled operands or not).
    scores: Id,
    /// Every inner class, each of which must have one use.
    ids: Vec<Id>,
}

/// `nn.attention`'s result type for these operands (its own shape
/// inference, so the rule and the op agree on what is valid).
fn result_type(egraph: &NnEGraph, qkv: [Id; 3], mask: Option<Id>, scale: Scale) -> Option<weft_ir::TensorType> {
    let mut types = Vec::new();
    for id in qkv.into_iter().chain(mask) {
        types.push(Type::Tensor(egraph[id].data.ty.clone()?));
    }
    let refs: Vec<&Type> = types.iter().collect();
    let attrs: weft_ir::Attrs = scale.attrs().into_iter().map(|(k, v)| (k.to_string(), v)).collect();
    match ATTENTION.infer?(&OpInfo::new(&refs, &attrs)).ok()?.pop()? {
        Type::Tensor(t) => Some(t),
        _ => None,
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
        if self.at == ScaleAt::QueryAndKeys {
            vars.push(v.ck);
        }
        vars
    }
}

/// The location of a fused attention whose last matmul is `anchor`: the
/// fusion of the chain's ops' locations in the order `nn.attention`'s
/// expansion gives them back ([`chain_steps`]); the anchor's own location
/// when the IR chain is not that sequence of ops.
pub(super) fn chain_location(f: &Function, anchor: Op, masked: bool, at: ScaleAt) -> Location {
    let own = f.ops[anchor].loc.clone();
    let ops = chain_ops(f, anchor, masked, at).filter(|ops| ops.len() == chain_steps(at, masked));
    ops.map_or(own, |ops| Location::fuse(ops.iter().map(|&o| f.ops[o].loc.clone())))
}

/// The ops of the chain ending in `anchor`: the scales before the scores'
/// matmul, the matmul, the scale after it, the mask add, the softmax, the
/// last matmul.
fn chain_ops(f: &Function, anchor: Op, masked: bool, at: ScaleAt) -> Option<Vec<Op>> {
    const SCALES: &[&str] = &["nn.div", "nn.mul"];
    let def = |v, names: &[&str]| f.defining_op(v).filter(|&o| names.contains(&f.ops[o].name()));
    let softmax = def(*f.ops[anchor].operands.first()?, &["nn.softmax"])?;
    let mut logits = *f.ops[softmax].operands.first()?;
    let mut tail = vec![softmax, anchor];
    if masked {
        let add = def(logits, &["nn.add"])?;
        tail.insert(0, add);
        let inner: &[&str] = if at == ScaleAt::Scores { SCALES } else { &["nn.matmul"] };
        logits = f.ops[add].operands.iter().copied().find(|&x| def(x, inner).is_some())?;
    }
    let mut ops = match at {
        ScaleAt::Scores => {
            let scale = def(logits, SCALES)?;
            let scores = f.ops[scale].operands.iter().copied().find_map(|x| def(x, &["nn.matmul"]))?;
            vec![scores, scale]
        }
        ScaleAt::Query | ScaleAt::QueryAndKeys => {
            let scores = def(logits, &["nn.matmul"])?;
            let operands = &f.ops[scores].operands;
            let scale_q = def(*operands.first()?, SCALES)?;
            let mut ops = vec![scale_q];
            if at == ScaleAt::QueryAndKeys {
                ops.push(def(*operands.get(1)?, SCALES)?);
            }
            ops.push(scores);
            ops
        }
    };
    ops.extend(tail);
    Some(ops)
}
