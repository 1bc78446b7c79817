//! Tests of the whole parser: print -> parse -> print round trips, one test
//! per error class (message and the text its span covers), and inputs that
//! must fail without panicking. A small test dialect supplies ops with
//! regions and several results.

mod errors;
mod robustness;
mod roundtrip;

use super::*;
use crate::ops::{Arity, Dialect, OpDef, Trait};
use crate::printer::print_module;

/// Ops the builtin and nn dialects lack: a region holder, a terminator for
/// its region, and ops with several results and free-form attributes.
static TEST_DIALECT: Dialect = Dialect {
    name: "test",
    summary: "Ops for parser tests",
    description: "",
    ops: &[
        OpDef {
            name: "test.loop",
            operands: Arity::Variadic { name: "inputs", min: 0 },
            results: Arity::Variadic { name: "outputs", min: 0 },
            ..OpDef::DEFAULT
        },
        OpDef {
            name: "test.yield",
            operands: Arity::Variadic { name: "values", min: 0 },
            traits: &[Trait::Terminator],
            ..OpDef::DEFAULT
        },
        OpDef {
            name: "test.split",
            operands: Arity::Fixed(&["input"]),
            results: Arity::Variadic { name: "parts", min: 1 },
            ..OpDef::DEFAULT
        },
        OpDef {
            name: "test.attrs",
            operands: Arity::Variadic { name: "inputs", min: 0 },
            results: Arity::Variadic { name: "outputs", min: 0 },
            ..OpDef::DEFAULT
        },
    ],
};

fn context() -> Context {
    let mut ctx = Context::default();
    ctx.register(&TEST_DIALECT);
    ctx
}

/// Parses `text` or fails the test with the rendered diagnostics.
fn parse_ok(text: &str) -> Module {
    let (sources, result) = parse_str(&context(), "test.weft", text);
    result.unwrap_or_else(|d| panic!("unexpected errors:\n{}", crate::diag::render_all(&d, &sources)))
}

/// The diagnostics of a text that must not parse, each as its message, the
/// text its span covers and the texts its notes point at.
fn parse_errors(text: &str) -> Vec<(String, String)> {
    let (_, result) = parse_str(&context(), "test.weft", text);
    let Err(diags) = result else { panic!("expected an error parsing:\n{text}") };
    diags
        .iter()
        .map(|d| {
            assert!(!d.span.is_none(), "diagnostic without a span: {d}");
            (d.message.clone(), span_text(text, d.span).to_string())
        })
        .collect()
}

/// The first diagnostic of a text that must not parse.
fn parse_error(text: &str) -> (String, String) {
    parse_errors(text).swap_remove(0)
}

/// The first diagnostic with its notes (message, and the text each spanned
/// note points at or its message).
fn parse_error_notes(text: &str) -> Vec<String> {
    let (_, result) = parse_str(&context(), "test.weft", text);
    let Err(diags) = result else { panic!("expected an error parsing:\n{text}") };
    diags[0]
        .notes
        .iter()
        .map(
            |n| {
                if n.span.is_none() {
                    n.message.clone()
                } else {
                    format!("{}: {}", n.message, span_text(text, n.span))
                }
            },
        )
        .collect()
}

fn span_text(text: &str, span: crate::Span) -> &str {
    text.get(span.start as usize..span.end as usize).unwrap_or("<bad span>")
}

/// Wraps ops in a function of one `tensor<4xf32>` argument.
fn in_func(body: &str) -> String {
    format!("func @f(%a: tensor<4xf32>) {{\n{body}\n}}\n")
}
