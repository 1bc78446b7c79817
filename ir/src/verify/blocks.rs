//! Checks of functions and blocks as a whole: signature and argument types,
//! terminator placement (a `Terminator` op only last; the body ends with
//! `builtin.return`), and each `builtin.return` against the signature.
//!
//! Invariants: called only after phase 1 (structure) passed, so every block
//! and value handle reached may be indexed.

use super::checks::value_type_problem;
use super::{func_error, op_error, plural, Cx, Diagnostic};
use crate::module::{Block, Function, Op, OpData};
use crate::ops::Trait;

const RETURN: &str = "builtin.return";

/// The function's result types must be valid tensor types.
pub(super) fn check_signature(f: &Function, out: &mut Vec<Diagnostic>) {
    for (i, ty) in f.results.iter().enumerate() {
        if let Some(p) = value_type_problem(ty) {
            out.push(func_error(f, format!("function '@{}' result #{i} {p}", f.name)));
        }
    }
}

/// Argument types and terminator placement of one block; `parent` is the op
/// and region index owning it (`None` for the function body).
pub(super) fn check_block(cx: Cx, block: Block, parent: Option<(Op, usize)>, out: &mut Vec<Diagnostic>) {
    check_args(cx, block, parent, out);
    let f = cx.f;
    let ops = &f.blocks[block].ops;
    if let Some((_, rest)) = ops.split_last() {
        for &op in rest {
            let data = &f.ops[op];
            if data.def.has_trait(Trait::Terminator) {
                out.push(op_error(data, "must be the last op of its block"));
            }
        }
    }
    if parent.is_none() {
        check_body_end(f, ops.last().map(|&op| &f.ops[op]), out);
    }
}

fn check_args(cx: Cx, block: Block, parent: Option<(Op, usize)>, out: &mut Vec<Diagnostic>) {
    let f = cx.f;
    for (i, &v) in f.blocks[block].args.iter().enumerate() {
        let value = &f.values[v];
        let Some(p) = value_type_problem(&value.ty) else { continue };
        let d = match parent {
            Some((op, r)) => op_error(&f.ops[op], format!("region #{r} argument #{i} {p}")),
            None => {
                let at_arg = func_error(f, format!("function '@{}' argument #{i} {p}", f.name));
                if value.span.is_none() {
                    at_arg
                } else {
                    crate::Diagnostic { span: value.span, ..at_arg }
                }
            }
        };
        out.push(d);
    }
}

/// The body must end with `builtin.return`.
fn check_body_end(f: &Function, last: Option<&OpData>, out: &mut Vec<Diagnostic>) {
    match last {
        Some(data) if data.name() == RETURN => {}
        Some(data) => out.push(
            func_error(f, format!("function '@{}' must end with '{RETURN}'", f.name))
                .note_at(format!("the last op is '{}'", data.name()), data.span),
        ),
        None => out.push(func_error(f, format!("function '@{}' must end with '{RETURN}'; its body is empty", f.name))),
    }
}

/// A `builtin.return` belongs to the function body (not a region), and its
/// operand types equal the function's result types.
pub(super) fn check_return(cx: Cx, data: &OpData, parent: Option<Op>, out: &mut Vec<Diagnostic>) {
    let f = cx.f;
    if let Some(p) = parent {
        let msg = format!("must be in a function body, not in a region of '{}'", f.ops[p].name());
        out.push(op_error(data, msg));
        return;
    }
    if data.operands.len() != f.results.len() {
        let msg = format!(
            "returns {}, but function '@{}' has {}",
            plural(data.operands.len(), "value"),
            f.name,
            plural(f.results.len(), "result")
        );
        out.push(op_error(data, msg));
        return;
    }
    for (i, (&v, expected)) in data.operands.iter().zip(&f.results).enumerate() {
        let ty = &f.values[v].ty;
        if ty != expected {
            let msg = format!("operand #{i} has type {ty}, but function '@{}' result #{i} is {expected}", f.name);
            out.push(op_error(data, msg));
        }
    }
}
