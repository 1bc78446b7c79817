//! The rewrite rules of `fuse`: each states that a decomposed form equals a
//! fused op, under conditions on constants (GELU's 0.5, 1 and sqrt(2),
//! LayerNorm's exponent 2 and epsilon) and parameters (the reduced axes are
//! LayerNorm's trailing axes, Softmax reduces one axis with keepdims).
//! Commutativity of add and mul lets one pattern match both operand orders.
//!
//! Rule families (kebab-case names): `layer-norm-*`, `gelu-erf-*`,
//! `gelu-tanh-*`, `softmax-*`, `attention-*` (in [`super::attention`]),
//! `silu`, and `add-commute`, `mul-commute`; with
//! [`RuleOptions::gelu_sigmoid`] also `gelu-sigmoid`, which replaces the
//! approximation `x * sigmoid(1.702 x)` by the erf GELU (a change of the
//! function by up to 0.02, so never by default).
//!
//! Invariants: an applier only adds a fused node whose result has the type
//! of the matched class (so no broadcast changes the shape) and whose
//! operands are classes bound by the pattern.

use super::lang::{FusedKind, NnAnalysis, NnEGraph, NnLang, Param};
use egg::{rewrite, Applier, Id, Pattern, PatternAst, Rewrite, Subst, Symbol, Var};
use weft_ir::ops::shape::broadcast_shapes;

pub type NnRewrite = Rewrite<NnLang, NnAnalysis>;

/// Relative tolerance of constant checks: exporters write f32 constants
/// (`1.4142135`), the checks compare with f64 values.
const TOLERANCE: f64 = 1e-6;

const SQRT_2: f64 = std::f64::consts::SQRT_2;
/// sqrt(2 / pi), the scale inside tanh-GELU.
const SQRT_2_OVER_PI: f64 = 0.797_884_560_802_865_4;
/// The cubic coefficient of tanh-GELU.
const GELU_CUBIC: f64 = 0.044715;

/// The scale inside sigmoid-GELU, `x * sigmoid(1.702 x)`.
const GELU_SIGMOID_SCALE: f64 = 1.702;

/// Which optional rules are on.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RuleOptions {
    /// `gelu-sigmoid`: `x * sigmoid(1.702 x)` becomes the erf GELU.
    pub gelu_sigmoid: bool,
}

/// Every rule of `fuse` that `options` turns on, in a fixed order.
pub fn rules(options: RuleOptions) -> Result<Vec<NnRewrite>, String> {
    let mut out = vec![
        rewrite!("add-commute"; "(add ?a ?b)" => "(add ?b ?a)"),
        rewrite!("mul-commute"; "(mul ?a ?b)" => "(mul ?b ?a)"),
    ];
    layer_norm_rules(&mut out)?;
    gelu_rules(&mut out)?;
    if options.gelu_sigmoid {
        let consts = vec![(var("?c")?, GELU_SIGMOID_SCALE)];
        let fuse = Fuse { kind: FusedKind::GeluSigmoid, consts, vars: Vars::new()? };
        rule(&mut out, "gelu-sigmoid", "(mul ?x (sigmoid (mul ?x ?c)))", fuse)?;
    }
    softmax_rules(&mut out)?;
    super::attention::attention_rules(&mut out)?;
    rule(
        &mut out,
        "silu",
        "(mul ?x (sigmoid ?x))",
        Fuse { kind: FusedKind::Silu, consts: Vec::new(), vars: Vars::new()? },
    )?;
    Ok(out)
}

fn var(name: &str) -> Result<Var, String> {
    name.parse().map_err(|e| format!("pattern variable '{name}': {e}"))
}

/// The pattern variables appliers read.
#[derive(Clone, Copy)]
struct Vars {
    x: Var,
    axes: Var,
    eps: Var,
    scale: Var,
    bias: Var,
}

impl Vars {
    fn new() -> Result<Vars, String> {
        Ok(Vars { x: var("?x")?, axes: var("?axes")?, eps: var("?eps")?, scale: var("?scale")?, bias: var("?bias")? })
    }
}

fn rule(out: &mut Vec<NnRewrite>, name: &str, pattern: &str, applier: Fuse) -> Result<(), String> {
    let searcher: Pattern<NnLang> = pattern.parse().map_err(|e| format!("rule '{name}': {e}"))?;
    out.push(Rewrite::new(name, searcher, applier)?);
    Ok(())
}

fn layer_norm_rules(out: &mut Vec<NnRewrite>) -> Result<(), String> {
    let d = "(sub ?x (reduce-mean ?x ?axes))";
    for (name, square) in
        [("layer-norm-pow", format!("(pow {d} ?two)")), ("layer-norm-square", format!("(mul {d} {d})"))]
    {
        let variance = format!("(reduce-mean {square} ?axes)");
        let pattern = format!("(add (mul (div {d} (sqrt (add {variance} ?eps))) ?scale) ?bias)");
        let two = if name == "layer-norm-pow" { vec![(var("?two")?, 2.0)] } else { Vec::new() };
        rule(out, name, &pattern, Fuse { kind: FusedKind::LayerNorm, consts: two, vars: Vars::new()? })?;
    }
    Ok(())
}

/// The three placements of GELU's 0.5 around `x * (1 + inner)`.
fn gelu_outer_forms(inner: &str) -> [(&'static str, String); 3] {
    let one_plus = format!("(add {inner} ?one)");
    [
        ("half-last", format!("(mul (mul ?x {one_plus}) ?half)")),
        ("half-first", format!("(mul (mul ?x ?half) {one_plus})")),
        ("half-inner", format!("(mul ?x (mul {one_plus} ?half))")),
    ]
}

fn gelu_rules(out: &mut Vec<NnRewrite>) -> Result<(), String> {
    let erf_args = [("div", "(div ?x ?c)", SQRT_2), ("mul", "(mul ?x ?c)", 1.0 / SQRT_2)];
    for (arg_name, arg, c) in erf_args {
        for (form, pattern) in gelu_outer_forms(&format!("(erf {arg})")) {
            let consts = vec![(var("?one")?, 1.0), (var("?half")?, 0.5), (var("?c")?, c)];
            let fuse = Fuse { kind: FusedKind::Gelu, consts, vars: Vars::new()? };
            rule(out, &format!("gelu-erf-{arg_name}-{form}"), &pattern, fuse)?;
        }
    }
    let cubes = [("pow", "(pow ?x ?three)"), ("mul", "(mul (mul ?x ?x) ?x)")];
    for (cube_name, cube) in cubes {
        let inner = format!("(tanh (mul ?c (add ?x (mul ?k {cube}))))");
        for (form, pattern) in gelu_outer_forms(&inner) {
            let mut consts =
                vec![(var("?one")?, 1.0), (var("?half")?, 0.5), (var("?c")?, SQRT_2_OVER_PI), (var("?k")?, GELU_CUBIC)];
            if cube_name == "pow" {
                consts.push((var("?three")?, 3.0));
            }
            let fuse = Fuse { kind: FusedKind::GeluTanh, consts, vars: Vars::new()? };
            rule(out, &format!("gelu-tanh-{cube_name}-{form}"), &pattern, fuse)?;
        }
    }
    Ok(())
}

fn softmax_rules(out: &mut Vec<NnRewrite>) -> Result<(), String> {
    let shifted = "(sub ?x (reduce-max ?x ?axes))";
    for (name, arg) in [("softmax-shifted", shifted), ("softmax-plain", "?x")] {
        let pattern = format!("(div (exp {arg}) (reduce-sum (exp {arg}) ?axes))");
        rule(out, name, &pattern, Fuse { kind: FusedKind::Softmax, consts: Vec::new(), vars: Vars::new()? })?;
    }
    Ok(())
}

/// Adds the fused op of `kind` to the matched class when the conditions
/// hold: `consts` are single-element constants near their expected values,
/// and the kind's own checks pass.
struct Fuse {
    kind: FusedKind,
    consts: Vec<(Var, f64)>,
    vars: Vars,
}

impl Applier<NnLang, NnAnalysis> for Fuse {
    fn apply_one(
        &self,
        egraph: &mut NnEGraph,
        eclass: Id,
        subst: &Subst,
        _: Option<&PatternAst<NnLang>>,
        _: Symbol,
    ) -> Vec<Id> {
        let x = subst[self.vars.x];
        if !self.consts.iter().all(|&(v, want)| is_const_near(egraph, subst[v], want)) || !same_type(egraph, x, eclass)
        {
            return Vec::new();
        }
        let node = match self.kind {
            FusedKind::Gelu => Some(NnLang::Gelu([x])),
            FusedKind::GeluTanh => Some(NnLang::GeluTanh([x])),
            FusedKind::GeluSigmoid => Some(NnLang::GeluSigmoid([x])),
            FusedKind::Silu => Some(NnLang::Silu([x])),
            FusedKind::Softmax => softmax_axis(egraph, x, subst[self.vars.axes]).map(|a| {
                let axis = egraph.add(NnLang::Param(Param::Axis(a)));
                NnLang::Softmax([x, axis])
            }),
            FusedKind::LayerNorm => layer_norm_params(egraph, x, subst, self.vars).map(|(axis, eps, scale, bias)| {
                let axis = egraph.add(NnLang::Param(Param::Axis(axis)));
                let eps = egraph.add(NnLang::Param(Param::Float(eps.to_bits())));
                NnLang::LayerNorm([x, scale, bias, axis, eps])
            }),
            // Built by its own applier (super::attention).
            FusedKind::Attention => None,
        };
        node.map_or_else(Vec::new, |node| unite(egraph, eclass, node))
    }

    fn vars(&self) -> Vec<Var> {
        let mut vars = vec![self.vars.x];
        vars.extend(self.consts.iter().map(|c| c.0));
        vars
    }
}

/// `id` is a single-element constant within [`TOLERANCE`] of `want`.
fn is_const_near(egraph: &NnEGraph, id: Id, want: f64) -> bool {
    egraph[id].data.konst.is_some_and(|v| (v - want).abs() <= TOLERANCE * want.abs().max(1.0))
}

/// Both classes have the same known float tensor type.
fn same_type(egraph: &NnEGraph, a: Id, b: Id) -> bool {
    match (&egraph[a].data.ty, &egraph[b].data.ty) {
        (Some(ta), Some(tb)) => ta == tb && ta.elem.is_float(),
        _ => false,
    }
}

/// The parameter node of a class, if it is one.
fn param(egraph: &NnEGraph, id: Id) -> Option<&Param> {
    egraph[id].nodes.iter().find_map(|n| match n {
        NnLang::Param(p) => Some(p),
        _ => None,
    })
}

/// Softmax's axis when `axes` reduces exactly one axis with keepdims.
fn softmax_axis(egraph: &NnEGraph, x: Id, axes: Id) -> Option<u32> {
    let rank = egraph[x].data.ty.as_ref()?.rank();
    match param(egraph, axes)? {
        Param::Axes { axes, keep: true } if axes.len() == 1 && (axes[0] as usize) < rank => Some(axes[0]),
        _ => None,
    }
}

/// LayerNorm's first axis, epsilon, scale and bias when the reduced axes are
/// the trailing axes with keepdims, epsilon is a constant >= 0 and scale and
/// bias broadcast to the input's shape without changing it.
fn layer_norm_params(egraph: &NnEGraph, x: Id, subst: &Subst, vars: Vars) -> Option<(u32, f64, Id, Id)> {
    let ty = egraph[x].data.ty.clone()?;
    let first = match param(egraph, subst[vars.axes])? {
        Param::Axes { axes, keep: true } if !axes.is_empty() => {
            let first = *axes.first()?;
            let trailing = axes.iter().enumerate().all(|(i, &a)| a as usize == first as usize + i);
            (trailing && axes.last().is_some_and(|&l| l as usize + 1 == ty.rank())).then_some(first)?
        }
        _ => return None,
    };
    let eps = egraph[subst[vars.eps]].data.konst.filter(|e| e.is_finite() && *e >= 0.0)?;
    let (scale, bias) = (subst[vars.scale], subst[vars.bias]);
    for p in [scale, bias] {
        let pty = egraph[p].data.ty.as_ref()?;
        if pty.elem != ty.elem || broadcast_shapes(&ty.dims, &pty.dims).ok()? != ty.dims {
            return None;
        }
    }
    Some((first, eps, scale, bias))
}

/// Adds `node` to `eclass`'s class (an applier's result): the class when
/// that changed the e-graph, else nothing.
pub(super) fn unite(egraph: &mut NnEGraph, eclass: Id, node: NnLang) -> Vec<Id> {
    let id = egraph.add(node);
    if egraph.union(id, eclass) {
        vec![eclass]
    } else {
        Vec::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_parse_and_have_distinct_kebab_case_names() {
        assert_eq!(rules(RuleOptions::default()).unwrap().len(), 2 + 2 + 6 + 6 + 2 + 12 + 1);
        let rules = rules(RuleOptions { gelu_sigmoid: true }).unwrap();
        let mut names: Vec<String> = rules.iter().map(|r| r.name.to_string()).collect();
        assert!(names.iter().all(|n| n.chars().all(|c| c.is_ascii_lowercase() || c == '-')), "{names:?}");
        let n = names.len();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), n);
        assert_eq!(n, 2 + 2 + 6 + 6 + 1 + 2 + 12 + 1);
    }
}
