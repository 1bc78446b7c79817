//! Markdown reference pages generated from op declarations: the op tables
//! in spec/dialects/*.md are this module's output, and a test fails when a
//! checked-in page differs from what the declarations say.
//!
//! Invariant: the output depends only on the declarations (ops in declared
//! order), so regenerating an unchanged dialect changes nothing.

use super::{Arity, Dialect, OpDef, Trait};
use std::fmt::Write;

/// The reference page of one dialect.
pub fn dialect_page(d: &Dialect) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "# The `{}` dialect\n", d.name);
    let _ = writeln!(
        s,
        "<!-- Generated from the op declarations (ir/src/ops/). Do not edit: run \
         `WEFT_BLESS=1 cargo test --workspace`. -->\n"
    );
    let _ = writeln!(s, "{}\n\n{}\n", d.summary, d.description);
    let _ = writeln!(s, "| op | summary | operands | results | attributes | traits |");
    let _ = writeln!(s, "|---|---|---|---|---|---|");
    for op in d.ops {
        let _ = writeln!(
            s,
            "| [`{}`](#{}) | {} | {} | {} | {} | {} |",
            op.name,
            anchor(op.name),
            op.summary,
            arity(&op.operands),
            arity(&op.results),
            attr_names(op),
            traits(op)
        );
    }
    for op in d.ops {
        s.push('\n');
        op_section(&mut s, op);
    }
    s
}

fn anchor(name: &str) -> String {
    name.replace('.', "")
}

fn arity(a: &Arity) -> String {
    match *a {
        Arity::Fixed([]) => "-".to_string(),
        Arity::Fixed(names) => names.join(", "),
        Arity::Variadic { name, min } => format!("{name}... (>= {min})"),
    }
}

fn attr_names(op: &OpDef) -> String {
    if op.attrs.is_empty() {
        return "-".to_string();
    }
    op.attrs
        .iter()
        .map(|a| if a.required { a.name.to_string() } else { format!("{}?", a.name) })
        .collect::<Vec<_>>()
        .join(", ")
}

fn traits(op: &OpDef) -> String {
    if op.traits.is_empty() {
        return "-".to_string();
    }
    op.traits.iter().map(|t| trait_name(*t)).collect::<Vec<_>>().join(", ")
}

fn trait_name(t: Trait) -> &'static str {
    match t {
        Trait::Pure => "Pure",
        Trait::Commutative => "Commutative",
        Trait::Terminator => "Terminator",
        Trait::ConstantLike => "ConstantLike",
    }
}

fn op_section(s: &mut String, op: &OpDef) {
    let _ = writeln!(s, "## {}\n\n{}\n\n{}\n", op.name, op.summary, op.description);
    let _ = writeln!(s, "- operands: {}", arity(&op.operands));
    let _ = writeln!(s, "- results: {}", arity(&op.results));
    for a in op.attrs {
        let req = if a.required { "required" } else { "optional" };
        let _ = writeln!(s, "- attribute `{}` ({}, {req}): {}", a.name, a.kind.describe(), a.doc);
    }
    let _ = writeln!(s, "- traits: {}", traits(op));
    let yes_no = |b: bool| if b { "yes" } else { "no" };
    let _ = writeln!(
        s,
        "- shape inference: {}; op verifier: {}; algebraic fold: {}; reference semantics: {}",
        yes_no(op.infer.is_some()),
        yes_no(op.verify.is_some() || op.verify_results.is_some()),
        yes_no(op.fold.is_some()),
        yes_no(op.eval.is_some())
    );
}
