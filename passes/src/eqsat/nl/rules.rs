//! The rewrite rules of `share-nonlinear`, by family. Each states an
//! alternative implementation of a nonlinear function, or the algebra that
//! lets two op kinds meet on the same primitive:
//!
//! - softmax: `softmax-by-division` (`exp(x - max) / sum exp(x - max)`),
//!   `division-by-log-sum-exp` (the normalizing division as
//!   `exp(a - ln sum exp a)`, QUARK's division-free softmax);
//! - division: `divide-by-divider` (I-BERT's integer divider),
//!   `log-divider` (`a / b = exp(ln a - ln b)`), `ln-of-exp`;
//! - roots and powers: `sqrt-newton` (I-BERT's i-sqrt), `sqrt-by-log`
//!   (`exp(ln x / 2)`), `rsqrt-*`, `reciprocal-*`;
//! - GELU and its kin: `gelu-by-sigmoid` (`x sigmoid(1.702 x)`),
//!   `gelu-by-erf` + `erf-poly` (I-BERT's i-GELU), `silu-by-sigmoid`,
//!   `tanh-by-sigmoid`, `sigmoid-pair-softmax` (the two-element softmax
//!   `softmax([z, 0])_0` in its log-sum-exp form, so GELU runs on the
//!   softmax datapath), `sigmoid-by-division`;
//! - layer norm: `layer-norm-center` (`D / sqrt(sum D^2)` with `D`
//!   centered), `center-exact` (`D = N x - sum x`), `center-mean` (`D =
//!   2^f x - round(2^f sum x / N)`, on the rounded mean: `quark-log`'s,
//!   equal to `2^f / N` times the exact one up to the rounding, which the
//!   budgets account for), `sum-squares`;
//! - products in the log domain: `square-by-log` (`d^2 = exp(2 ln|d|)`),
//!   `product-by-log` (`x e^u = sign(x) exp(ln|x| + u)`): how `quark-log`
//!   builds layer norm's square and GELU's `x p` on exp2/log2 instead of
//!   a multiplier (layer norm's scale `gamma` is a constant outside the
//!   terms, in every method);
//! - primitives: `lane-max-tree`, `lane-sum-tree`, `exp-appro` (QUARK's
//!   Appro-Exp, `2^(t log2 e)`), `ln-appro` (Appro-LN), `exp-ibert`
//!   (I-BERT's i-exp), `table-*` (an exact table for inputs of at most 8
//!   bits).
//!
//! Invariants: every rule states an identity of real functions (the
//! approximation errors of the primitives are the budgets' business, not
//! the rules'; `center` is a lane centered up to a positive constant
//! factor, which layer norm's ratio does not see); table rules fire only on op kinds whose widest input has
//! at most 8 bits.

use super::lang::{input_bits, NlLang};
use crate::transforms::lower_nonlinear::MAX_LUT_BITS;
use egg::{rewrite, EGraph, Id, Pattern, Rewrite, Subst, Var};

pub type NlRewrite = Rewrite<NlLang, ()>;

/// Every rule, in a fixed order.
pub fn rules() -> Result<Vec<NlRewrite>, String> {
    let mut out = vec![
        // Softmax.
        rewrite!("softmax-by-division"; "(softmax ?x)" =>
            "(div (exp (- ?x (lane-max ?x))) (lane-sum (exp (- ?x (lane-max ?x)))))"),
        rewrite!("division-by-log-sum-exp"; "(div (exp ?a) (lane-sum (exp ?a)))" =>
            "(exp (- ?a (ln (lane-sum (exp ?a)))))"),
        // Division.
        rewrite!("divide-by-divider"; "(div ?a ?b)" => "(divider ?a ?b)"),
        rewrite!("log-divider"; "(div ?a ?b)" => "(exp (- (ln ?a) (ln ?b)))"),
        rewrite!("ln-of-exp"; "(ln (exp ?a))" => "?a"),
        // Roots and powers.
        rewrite!("sqrt-newton"; "(sqrt ?a)" => "(isqrt ?a)"),
        rewrite!("sqrt-by-log"; "(sqrt ?a)" => "(exp (half (ln ?a)))"),
        rewrite!("rsqrt-by-division"; "(rsqrt ?a)" => "(div one (sqrt ?a))"),
        rewrite!("rsqrt-by-log"; "(rsqrt ?a)" => "(exp (neg (half (ln ?a))))"),
        rewrite!("reciprocal-by-division"; "(reciprocal ?a)" => "(div one ?a)"),
        rewrite!("reciprocal-by-log"; "(reciprocal ?a)" => "(exp (neg (ln (abs ?a))))"),
        // GELU and the sigmoid family.
        rewrite!("gelu-by-sigmoid"; "(gelu ?x)" => "(* ?x (sigmoid (scale c1.702 ?x)))"),
        rewrite!("gelu-by-erf"; "(gelu ?x)" => "(* ?x (+ one (erf (scale rsqrt2 ?x))))"),
        rewrite!("erf-poly"; "(erf ?u)" => "(erf-poly (min (abs ?u) clip))"),
        rewrite!("silu-by-sigmoid"; "(silu ?x)" => "(* ?x (sigmoid ?x))"),
        rewrite!("tanh-by-sigmoid"; "(tanh ?x)" => "(- (scale two (sigmoid (scale two ?x))) one)"),
        rewrite!("sigmoid-pair-softmax"; "(sigmoid ?z)" =>
            "(exp (- (- ?z (max ?z zero)) (ln (+ (exp (- ?z (max ?z zero))) (exp (- zero (max ?z zero)))))))"),
        rewrite!("sigmoid-by-division"; "(sigmoid ?z)" => "(div one (+ one (exp (neg (abs ?z)))))"),
        // Layer norm.
        rewrite!("layer-norm-center"; "(layer-norm ?x)" => "(div (center ?x) (sqrt (sum-squares (center ?x))))"),
        rewrite!("center-exact"; "(center ?x)" => "(- (scale n ?x) (lane-sum ?x))"),
        rewrite!("center-mean"; "(center ?x)" => "(mean-center ?x (lane-sum ?x))"),
        rewrite!("sum-squares"; "(sum-squares ?d)" => "(lane-sum (* ?d ?d))"),
        // Products in the log domain (QUARK: no per-lane multiplier).
        rewrite!("square-by-log"; "(* ?d ?d)" => "(exp (scale two (ln (abs ?d))))"),
        rewrite!("product-by-log"; "(* ?x (exp ?u))" => "(signed ?x (exp (+ (ln (abs ?x)) ?u)))"),
        // Primitives.
        rewrite!("lane-max-tree"; "(lane-max ?x)" => "(max-tree ?x)"),
        rewrite!("lane-sum-tree"; "(lane-sum ?x)" => "(add-tree ?x)"),
        rewrite!("exp-appro"; "(exp ?t)" => "(exp2 (scale log2e ?t))"),
        rewrite!("ln-appro"; "(ln ?a)" => "(scale ln2 (log2 ?a))"),
        rewrite!("exp-ibert"; "(exp ?t)" => "(i-exp ?t)"),
    ];
    table_rules(&mut out)?;
    Ok(out)
}

/// `table-<f>`: an elementwise function of a narrow input is one table;
/// `table-softmax-exp`: the exponentials of softmax's differences.
fn table_rules(out: &mut Vec<NlRewrite>) -> Result<(), String> {
    for f in ["gelu", "sigmoid", "silu", "tanh", "exp", "reciprocal", "sqrt", "rsqrt"] {
        let name = format!("table-{f}");
        let lhs: Pattern<NlLang> = format!("({f} ?x)").parse().map_err(|e| format!("{name}: {e}"))?;
        let rhs: Pattern<NlLang> = format!("(table {f} ?x)").parse().map_err(|e| format!("{name}: {e}"))?;
        out.push(Rewrite::new(name, lhs, egg::ConditionalApplier { condition: narrow("?x")?, applier: rhs })?);
    }
    let lhs: Pattern<NlLang> = "(exp (- ?x (lane-max ?x)))".parse().map_err(|e| format!("table-softmax-exp: {e}"))?;
    let rhs: Pattern<NlLang> =
        "(table exp (- ?x (lane-max ?x)))".parse().map_err(|e| format!("table-softmax-exp: {e}"))?;
    out.push(Rewrite::new(
        "table-softmax-exp",
        lhs,
        egg::ConditionalApplier { condition: narrow("?x")?, applier: rhs },
    )?);
    Ok(())
}

/// The condition that `var` is an op kind's input of at most 8 bits.
fn narrow(var: &str) -> Result<impl Fn(&mut EGraph<NlLang, ()>, Id, &Subst) -> bool, String> {
    let v: Var = var.parse().map_err(|e| format!("pattern variable '{var}': {e}"))?;
    Ok(move |g: &mut EGraph<NlLang, ()>, _: Id, s: &Subst| {
        g[s[v]].nodes.iter().any(|n| match n {
            NlLang::Symbol(sym) => input_bits(sym.as_str()).is_some_and(|b| b <= MAX_LUT_BITS),
            _ => false,
        })
    })
}
