//! tile-and-pack's rewrite rules: each adds, for one parameter of one
//! engine, the next legal value as an equivalent e-node. The legal values
//! of a parameter ([`Candidates`]) are the powers of two up to the largest
//! dimension it tiles (the last tile is padded) and the divisors of the
//! dimensions' greatest common divisor (no padding), bounded by a maximum.
//!
//! Invariants: a rule only ever moves a parameter to the next larger
//! candidate, so saturation terminates with every combination of
//! candidates in the engine's class.

use super::lang::{num, TileLang};
use egg::{rewrite, Applier, EGraph, Id, PatternAst, Rewrite, Subst, Symbol, Var};

/// The legal values of one parameter, ascending.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Candidates(pub Vec<u64>);

impl Candidates {
    /// Powers of two up to `max` and the divisors of `gcd` up to `max` (1 always).
    pub fn tiling(max: u64, gcd: u64) -> Candidates {
        let mut v = vec![1];
        let mut p = 2;
        while p <= max {
            v.push(p);
            p *= 2;
        }
        if gcd > 1 {
            v.extend((2..=gcd.min(max)).filter(|d| gcd.is_multiple_of(*d)));
        }
        v.sort_unstable();
        v.dedup();
        Candidates(v)
    }

    /// The candidate after `x`.
    pub fn next(&self, x: u64) -> Option<u64> {
        self.0.iter().copied().find(|&c| c > x)
    }

    pub fn first(&self) -> u64 {
        self.0.first().copied().unwrap_or(1)
    }
}

/// The candidates of every parameter.
#[derive(Debug, Clone, Default)]
pub struct Space {
    pub fc_in: Candidates,
    pub fc_out: Candidates,
    pub fc_rows: Candidates,
    pub attn_in: Candidates,
    pub attn_out: Candidates,
    pub lanes: Candidates,
    pub words: Candidates,
}

/// Grows argument `arg` of the matched node to its next candidate.
struct Grow {
    op: fn(&[Id]) -> TileLang,
    vars: Vec<Var>,
    arg: usize,
    candidates: Candidates,
}

impl Applier<TileLang, ()> for Grow {
    fn apply_one(
        &self,
        egraph: &mut EGraph<TileLang, ()>,
        eclass: Id,
        subst: &Subst,
        _ast: Option<&PatternAst<TileLang>>,
        _rule: Symbol,
    ) -> Vec<Id> {
        let mut args: Vec<Id> = self.vars.iter().map(|v| subst[*v]).collect();
        let Some(slot) = args.get_mut(self.arg) else { return Vec::new() };
        let Some(next) = self.candidates.next(num(egraph, *slot)) else { return Vec::new() };
        *slot = egraph.add(TileLang::Num(next));
        let node = egraph.add((self.op)(&args));
        if egraph.union(node, eclass) {
            vec![node]
        } else {
            Vec::new()
        }
    }
}

fn ids<const N: usize>(a: &[Id]) -> [Id; N] {
    let mut out = [Id::from(0usize); N];
    for (o, i) in out.iter_mut().zip(a) {
        *o = *i;
    }
    out
}

fn vars(names: &[&str]) -> Vec<Var> {
    names.iter().filter_map(|n| n.parse().ok()).collect()
}

/// One rule per parameter.
pub fn rules(space: &Space) -> Vec<Rewrite<TileLang, ()>> {
    let fc = |a: &[Id]| TileLang::Fc(ids(a));
    let attn = |a: &[Id]| TileLang::Attn(ids(a));
    let nl = |a: &[Id]| TileLang::Nl(ids(a));
    let port = |a: &[Id]| TileLang::Port(ids(a));
    let fcv = vars(&["?i", "?o", "?m"]);
    let attnv = vars(&["?i", "?o"]);
    let one = vars(&["?x"]);
    let grow = |op, vars: &Vec<Var>, arg, c: &Candidates| Grow { op, vars: vars.clone(), arg, candidates: c.clone() };
    vec![
        rewrite!("fc-grow-in"; "(fc ?i ?o ?m)" => { grow(fc, &fcv, 0, &space.fc_in) }),
        rewrite!("fc-grow-out"; "(fc ?i ?o ?m)" => { grow(fc, &fcv, 1, &space.fc_out) }),
        rewrite!("fc-grow-rows"; "(fc ?i ?o ?m)" => { grow(fc, &fcv, 2, &space.fc_rows) }),
        rewrite!("attn-grow-in"; "(attn ?i ?o)" => { grow(attn, &attnv, 0, &space.attn_in) }),
        rewrite!("attn-grow-out"; "(attn ?i ?o)" => { grow(attn, &attnv, 1, &space.attn_out) }),
        rewrite!("nl-grow-lanes"; "(nl ?x)" => { grow(nl, &one, 0, &space.lanes) }),
        rewrite!("port-widen"; "(port ?x)" => { grow(port, &one, 0, &space.words) }),
    ]
}
