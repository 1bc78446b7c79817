//! The verifier: checks the invariants passes rely on (spec/verifier.md)
//! and reports every violation it finds, each located at the op's span and
//! carrying its `loc(...)`, worded like MLIR (`'nn.add' op expects 2
//! operands, got 3`).
//!
//! Each function is checked in two phases, so that each may index what the
//! one before proved valid:
//! 1. structure ([`structure`]): every handle reached from the body is valid
//!    in the function's arenas, every op is listed once and in the block it
//!    records, values' definitions agree with the ops and blocks holding
//!    them. Errors here end the function's checks (nothing later could look
//!    at the IR safely).
//! 2. a scoped walk over the blocks in order (this file). Per block: its
//!    arguments and terminator placement ([`blocks`]). Per op: the local
//!    checks of [`checks`] (arity, attributes, types, dense and resource
//!    attributes, then the op's verify and shape inference hooks, which run
//!    only when the earlier checks passed), dominance of its operands, and a
//!    `builtin.return` against the function's signature.
//!
//! Invariants: the verifier never panics, whatever a pass built; it only
//! reads the IR; errors come out in op order within a function.

mod blocks;
mod checks;
mod structure;
#[cfg(test)]
mod tests;

use crate::entity::SecondaryMap;
use crate::module::{Block, Function, Module, Op, OpData, Value, ValueDef};
use crate::Diagnostic;
use std::fmt::Display;

/// Checks every invariant of spec/verifier.md; all errors found, located.
pub fn verify_module(m: &Module) -> Result<(), Vec<Diagnostic>> {
    let mut diags = duplicate_functions(m);
    for f in &m.funcs {
        diags.extend(verify_function(m, f));
    }
    if diags.is_empty() {
        Ok(())
    } else {
        Err(diags)
    }
}

/// The errors of one function of `m` (which holds the resources its
/// constants refer to); empty when it verifies.
pub fn verify_function(m: &Module, f: &Function) -> Vec<Diagnostic> {
    let mut diags = Vec::new();
    blocks::check_signature(f, &mut diags);
    let Some(live) = structure::check(f, &mut diags) else {
        return diags;
    };
    let mut walk = Walk::new(Cx { m, f }, &live, diags);
    walk.run();
    let mut diags = walk.diags;
    diags.extend(crate::ops::hw::check_units(f));
    diags
}

/// "redefinition of function '@f'" for every name used twice.
fn duplicate_functions(m: &Module) -> Vec<Diagnostic> {
    let mut diags = Vec::new();
    for (i, f) in m.funcs.iter().enumerate() {
        if let Some(first) = m.funcs[..i].iter().find(|g| g.name == f.name) {
            diags.push(
                func_error(f, format!("redefinition of function '@{}'", f.name))
                    .note_at("previous definition here", first.span),
            );
        }
    }
    diags
}

/// What every check may read: the module (for resources) and the function.
#[derive(Clone, Copy)]
struct Cx<'a> {
    m: &'a Module,
    f: &'a Function,
}

/// An error about an op: `'dialect.op' op <message>`, at the op's span and
/// with its location.
fn op_error(data: &OpData, message: impl Display) -> Diagnostic {
    Diagnostic::error(format!("'{}' op {message}", data.name()), data.span).with_loc(data.loc.clone())
}

/// An error about a function as a whole, at its span and location.
fn func_error(f: &Function, message: impl Display) -> Diagnostic {
    Diagnostic::error(message.to_string(), f.span).with_loc(f.loc.clone())
}

/// `1 operand`, `2 operands`.
fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("{n} {word}")
    } else {
        format!("{n} {word}s")
    }
}

/// One step of the walk; an explicit stack, so nesting depth cannot
/// overflow the call stack.
enum Step {
    /// Start a block; `parent` is the op and region index owning it.
    Enter { block: Block, parent: Option<(Op, usize)> },
    /// Check op number `at` of `block`.
    Op { block: Block, at: usize },
    /// The op's regions are done: its results are now defined.
    Define(Op),
    /// Leave the innermost block: forget what it defined (`undo` length).
    Leave(usize),
}

/// Phase 2: walks blocks in order, keeping the set of values in scope.
struct Walk<'a> {
    cx: Cx<'a>,
    /// Ops reachable from the body (phase 1).
    live: &'a SecondaryMap<Op, bool>,
    /// Values visible at the current point.
    defined: SecondaryMap<Value, bool>,
    /// Values defined, in order, so leaving a block can forget its own.
    undo: Vec<Value>,
    /// The blocks from the body down to the current one.
    open: Vec<Block>,
    diags: Vec<Diagnostic>,
}

impl<'a> Walk<'a> {
    fn new(cx: Cx<'a>, live: &'a SecondaryMap<Op, bool>, diags: Vec<Diagnostic>) -> Walk<'a> {
        Walk { cx, live, defined: SecondaryMap::default(), undo: Vec::new(), open: Vec::new(), diags }
    }

    fn run(&mut self) {
        let mut stack = vec![Step::Enter { block: self.cx.f.body, parent: None }];
        while let Some(step) = stack.pop() {
            match step {
                Step::Enter { block, parent } => self.enter(block, parent, &mut stack),
                Step::Op { block, at } => self.op_step(block, at, &mut stack),
                Step::Define(op) => self.define_results(op),
                Step::Leave(mark) => self.leave(mark),
            }
        }
    }

    fn enter(&mut self, block: Block, parent: Option<(Op, usize)>, stack: &mut Vec<Step>) {
        blocks::check_block(self.cx, block, parent, &mut self.diags);
        self.open.push(block);
        stack.push(Step::Leave(self.undo.len()));
        for &v in &self.cx.f.blocks[block].args {
            self.define(v);
        }
        stack.push(Step::Op { block, at: 0 });
    }

    fn op_step(&mut self, block: Block, at: usize, stack: &mut Vec<Step>) {
        let Some(&op) = self.cx.f.blocks[block].ops.get(at) else { return };
        stack.push(Step::Op { block, at: at + 1 });
        let data = &self.cx.f.ops[op];
        checks::check_op(self.cx, data, &mut self.diags);
        for (i, &v) in data.operands.iter().enumerate() {
            self.check_dominance(op, data, i, v);
        }
        if data.name() == "builtin.return" {
            let parent = self.cx.f.blocks[block].parent;
            blocks::check_return(self.cx, data, parent, &mut self.diags);
        }
        stack.push(Step::Define(op));
        for (r, &region) in data.regions.iter().enumerate().rev() {
            stack.push(Step::Enter { block: region, parent: Some((op, r)) });
        }
    }

    fn define(&mut self, v: Value) {
        self.defined.set(v, true);
        self.undo.push(v);
    }

    fn define_results(&mut self, op: Op) {
        for &v in &self.cx.f.ops[op].results {
            self.define(v);
        }
    }

    fn leave(&mut self, mark: usize) {
        for v in self.undo.drain(mark..) {
            self.defined.set(v, false);
        }
        self.open.pop();
    }

    /// Operand `i` (value `v`) of `op` must be in scope: defined earlier in
    /// this block or an enclosing one, or an argument of such a block.
    fn check_dominance(&mut self, op: Op, data: &OpData, i: usize, v: Value) {
        if self.defined[v] {
            return;
        }
        let f = self.cx.f;
        let value = &f.values[v];
        let message = match value.def {
            ValueDef::Result(def, _) if def == op => format!("operand #{i} is a result of the op itself"),
            ValueDef::Result(def, _) if !self.live[def] => {
                format!("operand #{i} is a result of a '{}' op that was removed from the IR", f.ops[def].name())
            }
            ValueDef::Result(def, _) if self.open.contains(&f.ops[def].block) => {
                format!("operand #{i} is used before it is defined")
            }
            ValueDef::Result(..) => format!("operand #{i} does not dominate this use"),
            ValueDef::Arg(..) => format!("operand #{i} is an argument of a block that does not enclose this use"),
        };
        let mut d = op_error(data, message);
        if !value.span.is_none() && value.span != data.span {
            d = d.note_at("the value is defined here", value.span);
        }
        self.diags.push(d);
    }
}
