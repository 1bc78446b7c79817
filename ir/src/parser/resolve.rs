//! Builds a [`Module`] from the syntax tree: looks op names up in the
//! [`Context`], resolves value names, takes operand and result types from
//! the written signatures and checks them against the values used, and
//! converts attributes (see [`super::dense`]).
//!
//! Invariants: value names are unique in a function; a name is visible
//! after its definition in its block and in the regions nested there, and a
//! region's names (its arguments and its ops' results) are not visible
//! after the region. Every op gets its source span and its location
//! (unknown when none was written); every value the span of its name. The
//! built module is returned only when no error was found; all errors are
//! reported, in source order. Arity, attribute schemas and type inference
//! are the verifier's, not checked here.

use super::ast::{ArgAst, ByteSpan, FuncAst, ModuleAst, OpAst, OpBodyAst, OperandAst, RegionAst, ResultAst, SigAst};
use super::dense::AttrBuilder;
use crate::module::{Attrs, Block, Function, Module, NewOp, Op, Value};
use crate::ops::{Context, OpDef};
use crate::types::Type;
use crate::{Diagnostic, FileId, Span};
use std::collections::hash_map::{Entry, HashMap};

/// The most results one op may have (a guard against `%0:4000000000`).
pub const MAX_RESULTS: u32 = 1 << 16;

/// Builds the module of `ast`, parsed from `text` (file `file`).
pub fn build_module(ctx: &Context, file: FileId, text: &str, ast: ModuleAst<'_>) -> Result<Module, Vec<Diagnostic>> {
    let mut cx = Cx { ctx, attrs: AttrBuilder { file, text }, diags: Vec::new() };
    let mut module = Module {
        name: ast.name.map(|n| n.into_owned()),
        attrs: Attrs::new(),
        loc: ast.loc.unwrap_or_default(),
        span: cx.span(ast.span),
        ..Module::default()
    };
    module.attrs = cx.attrs.dict(ast.attrs, &mut cx.diags);
    let mut seen: HashMap<String, ByteSpan> = HashMap::new();
    for func in ast.funcs {
        if let Some(&prev) = seen.get(func.name.as_ref()) {
            let d = Diagnostic::error(format!("redefinition of function '@{}'", func.name), cx.span(func.name_span))
                .note_at("previous definition here", cx.span(prev));
            cx.diags.push(d);
        }
        seen.entry(func.name.to_string()).or_insert(func.name_span);
        module.funcs.push(FuncBuilder::build(&mut cx, func));
    }
    if cx.diags.is_empty() {
        Ok(module)
    } else {
        cx.diags.sort_by_key(|d| (d.span.file.0, d.span.start));
        Err(cx.diags)
    }
}

/// What every function builder shares: the op registry, the attribute
/// converter and the errors found so far.
struct Cx<'c, 't> {
    ctx: &'c Context,
    attrs: AttrBuilder<'t>,
    diags: Vec<Diagnostic>,
}

impl Cx<'_, '_> {
    fn span(&self, s: ByteSpan) -> Span {
        Span::new(self.attrs.file, s.0, s.1)
    }

    fn error(&mut self, message: impl Into<String>, s: ByteSpan) {
        let d = Diagnostic::error(message, self.span(s));
        self.diags.push(d);
    }

    fn error_with_note(&mut self, message: impl Into<String>, s: ByteSpan, note: &str, at: ByteSpan) {
        let d = Diagnostic::error(message, self.span(s)).note_at(note, self.span(at));
        self.diags.push(d);
    }
}

/// What a value name stands for.
#[derive(Debug, Clone, Copy)]
enum Def {
    Arg(Value),
    /// Results `first..first + count` of an op.
    Results(Op, u32),
    /// The defining op had an error: uses resolve silently to nothing, so
    /// one mistake is reported once.
    Poisoned,
}

#[derive(Debug, Clone, Copy)]
struct Binding {
    def: Def,
    count: u32,
    /// The name where it is defined.
    span: ByteSpan,
    /// Uses before this offset come before the definition is complete (the
    /// end of the defining op or argument).
    defined_at: usize,
    /// False once the region defining it has ended.
    visible: bool,
}

/// A use whose name was not (or not visibly) defined when it was seen;
/// classified when the whole function is known.
struct Unresolved<'a> {
    name: &'a str,
    span: ByteSpan,
}

struct FuncBuilder<'b, 'c, 't, 'a> {
    cx: &'b mut Cx<'c, 't>,
    f: Function,
    names: HashMap<&'a str, Binding>,
    /// The names defined in each enclosing region, innermost last.
    scopes: Vec<Vec<&'a str>>,
    unresolved: Vec<Unresolved<'a>>,
}

impl<'b, 'c, 't, 'a> FuncBuilder<'b, 'c, 't, 'a> {
    fn build(cx: &'b mut Cx<'c, 't>, ast: FuncAst<'a>) -> Function {
        let arg_types = ast.args.iter().map(|a| a.ty.clone()).collect();
        let results = ast.results.into_iter().map(|(t, _)| t).collect();
        let mut f = Function::new(ast.name.into_owned(), arg_types, results);
        f.attrs = cx.attrs.dict(ast.attrs, &mut cx.diags);
        f.loc = ast.loc.unwrap_or_default();
        f.span = cx.span(ast.span);
        let mut b = FuncBuilder { cx, f, names: HashMap::new(), scopes: Vec::new(), unresolved: Vec::new() };
        let body = b.f.body;
        let args = b.f.args().to_vec();
        for (arg, v) in ast.args.iter().zip(args) {
            b.bind_arg(arg, v);
        }
        for op in ast.body {
            b.op(body, op);
        }
        b.report_unresolved();
        b.f
    }

    fn bind_arg(&mut self, arg: &ArgAst<'a>, v: Value) {
        self.f.values[v].span = self.cx.span(arg.name_span);
        self.define(arg.name, Def::Arg(v), 1, arg.name_span, arg.span.1);
    }

    fn define(&mut self, name: &'a str, def: Def, count: u32, span: ByteSpan, defined_at: usize) {
        match self.names.entry(name) {
            Entry::Occupied(prev) => {
                let prev = prev.get().span;
                self.cx.error_with_note(format!("redefinition of '%{name}'"), span, "previous definition here", prev);
            }
            Entry::Vacant(slot) => {
                slot.insert(Binding { def, count, span, defined_at, visible: true });
                if let Some(scope) = self.scopes.last_mut() {
                    scope.push(name);
                }
            }
        }
    }

    /// The value a use names; `None` after reporting an error (or for a
    /// poisoned name).
    fn resolve(&mut self, u: &OperandAst<'a>) -> Option<Value> {
        let Some(b) = self.names.get(u.name).copied().filter(|b| b.visible) else {
            self.unresolved.push(Unresolved { name: u.name, span: u.span });
            return None;
        };
        let index = match (u.index, b.count) {
            (None, 1) => 0,
            (None, n) => {
                let message = format!(
                    "'%{0}' names {n} results; pick one with '%{0}#0' to '%{0}#{1}'",
                    u.name,
                    n.saturating_sub(1)
                );
                self.cx.error_with_note(message, u.span, "defined here", b.span);
                return None;
            }
            (Some(i), n) if i >= n => {
                let message =
                    format!("result index {i} is out of range: '%{}' names {n} result{}", u.name, plural(n as usize));
                self.cx.error_with_note(message, u.span, "defined here", b.span);
                return None;
            }
            (Some(i), _) => i,
        };
        match b.def {
            Def::Arg(v) => Some(v),
            Def::Results(op, first) => self.f.ops[op].results.get(first as usize + index as usize).copied(),
            Def::Poisoned => None,
        }
    }

    /// Errors for the uses that never resolved: used before the definition,
    /// defined in a region that has ended, or not defined at all.
    fn report_unresolved(&mut self) {
        for u in std::mem::take(&mut self.unresolved) {
            match self.names.get(u.name).copied() {
                Some(b) if u.span.0 < b.defined_at => self.cx.error_with_note(
                    format!("'%{}' is used before its definition", u.name),
                    u.span,
                    "defined here",
                    b.span,
                ),
                Some(b) => self.cx.error_with_note(
                    format!("'%{}' is not visible here: it is defined inside a region", u.name),
                    u.span,
                    "defined here",
                    b.span,
                ),
                None => {
                    let d = Diagnostic::error(format!("use of undefined value '%{}'", u.name), self.cx.span(u.span));
                    let d = match self.suggest_name(&u) {
                        Some(note) => d.note(note),
                        None => d,
                    };
                    self.cx.diags.push(d);
                }
            }
        }
    }

    /// "did you mean" for an undefined name: the closest names defined
    /// before the use (skipped in huge functions, where it would be slow).
    fn suggest_name(&self, u: &Unresolved<'a>) -> Option<String> {
        const MAX_CANDIDATES: usize = 4096;
        if self.names.len() > MAX_CANDIDATES {
            return None;
        }
        let mut candidates: Vec<&str> =
            self.names.iter().filter(|(_, b)| b.defined_at <= u.span.0).map(|(name, _)| *name).collect();
        candidates.sort_unstable();
        let close = crate::diag::closest(u.name, candidates.into_iter());
        let with_sigil: Vec<String> = close.iter().map(|c| format!("%{c}")).collect();
        crate::diag::did_you_mean(&with_sigil.iter().map(String::as_str).collect::<Vec<_>>())
    }

    /// Builds one op (and its regions) at the end of `block`.
    fn op(&mut self, block: Block, ast: OpAst<'a>) {
        let OpAst { results, mut body, loc, span } = ast;
        let result_count = self.result_count(&results);
        let def = self.lookup(&body);
        let operands: Vec<Option<Value>> = body.operands.iter().map(|u| self.resolve(u)).collect();
        let attrs = self.cx.attrs.dict(std::mem::take(&mut body.attrs), &mut self.cx.diags);
        let result_types = result_count.and_then(|n| self.signature(&body, &operands, &results, n, &attrs));
        let (Some(def), Some(result_types)) = (def, result_types) else {
            self.bind_results(&results, Def::Poisoned, span.1);
            return;
        };
        let spec = NewOp {
            def,
            operands: operands.into_iter().flatten().collect(),
            result_types,
            attrs,
            loc: loc.unwrap_or_default(),
            span: self.cx.span(span),
        };
        let op = self.f.append_op(block, spec);
        for region in body.regions {
            self.region(op, region);
        }
        self.bind_results(&results, Def::Results(op, 0), span.1);
    }

    /// The number of results the result groups name; `None` after an
    /// error (a group of zero, or more than [`MAX_RESULTS`] in all).
    fn result_count(&mut self, results: &[ResultAst<'a>]) -> Option<u32> {
        let mut total: u32 = 0;
        let mut ok = true;
        for r in results {
            if r.count == 0 {
                self.cx.error("a result group must name at least one result", r.span);
                ok = false;
            }
            total = total.saturating_add(r.count);
        }
        if let (true, Some(first), Some(last)) = (total > MAX_RESULTS, results.first(), results.last()) {
            self.cx.error(
                format!("an op may have at most {MAX_RESULTS} results, not {total}"),
                (first.span.0, last.span.1),
            );
            ok = false;
        }
        ok.then_some(total)
    }

    fn bind_results(&mut self, results: &[ResultAst<'a>], def: Def, defined_at: usize) {
        let mut first = 0u32;
        for r in results {
            let def = match def {
                Def::Results(op, _) => {
                    let span = self.cx.span(r.span);
                    let values = &self.f.ops[op].results;
                    let range = first as usize..first as usize + r.count as usize;
                    let group = values.get(range).unwrap_or_default().to_vec();
                    for v in group {
                        self.f.values[v].span = span;
                    }
                    Def::Results(op, first)
                }
                other => other,
            };
            self.define(r.name, def, r.count, r.span, defined_at);
            first = first.saturating_add(r.count);
        }
    }

    fn lookup(&mut self, body: &OpBodyAst<'a>) -> Option<&'static OpDef> {
        let found = self.cx.ctx.lookup(&body.name);
        if found.is_none() {
            let suggestions = self.cx.ctx.suggest(&body.name);
            let d = Diagnostic::error(format!("unknown op '{}'", body.name), self.cx.span(body.name_span));
            let d = match crate::diag::did_you_mean(&suggestions) {
                Some(note) => d.note(note),
                None => d,
            };
            self.cx.diags.push(d);
        }
        found
    }

    /// The result types the signature gives; checks the operand types it
    /// gives against the values used. `None` after an error that leaves the
    /// result types unknown.
    fn signature(
        &mut self,
        body: &OpBodyAst<'a>,
        operands: &[Option<Value>],
        results: &[ResultAst<'a>],
        count: u32,
        attrs: &Attrs,
    ) -> Option<Vec<Type>> {
        let n = count as usize;
        match &body.sig {
            SigAst::Uniform(t) => {
                for (i, v) in operands.iter().enumerate() {
                    self.check_operand(body, i, *v, t);
                }
                Some(vec![t.clone(); n])
            }
            SigAst::Function(ins, outs) => {
                self.check_operand_types(body, operands, ins);
                if outs.len() != n {
                    let message = format!(
                        "the signature has {} result type{} but the op has {n} result{}",
                        outs.len(),
                        plural(outs.len()),
                        plural(n)
                    );
                    self.cx.error(message, body.sig_span);
                    return None;
                }
                Some(outs.clone())
            }
            SigAst::Operands(types) => {
                if !types.is_empty() {
                    self.check_operand_types(body, operands, types);
                }
                if let (Some(first), Some(last)) = (results.first(), results.last()) {
                    self.cx.error(format!("'{}' has no results", body.name), (first.span.0, last.span.1));
                    return None;
                }
                Some(Vec::new())
            }
            SigAst::FromValueAttr => match attrs.get("value") {
                Some(value) => match value.tensor_type() {
                    Some(t) => Some(vec![Type::Tensor(t.clone()); n]),
                    None => {
                        let message = format!(
                            "'constant' needs a dense<...> or dense_resource<...> value, found {} {}",
                            article(value.kind_name()),
                            value.kind_name()
                        );
                        self.cx.error(message, body.sig_span);
                        None
                    }
                },
                // The value had an error, already reported.
                None => None,
            },
        }
    }

    fn check_operand_types(&mut self, body: &OpBodyAst<'a>, operands: &[Option<Value>], types: &[Type]) {
        if types.len() != operands.len() {
            let message = format!(
                "the signature has {} operand type{} but the op has {} operand{}",
                types.len(),
                plural(types.len()),
                operands.len(),
                plural(operands.len())
            );
            self.cx.error(message, body.sig_span);
            return;
        }
        for (i, (v, t)) in operands.iter().zip(types).enumerate() {
            self.check_operand(body, i, *v, t);
        }
    }

    fn check_operand(&mut self, body: &OpBodyAst<'a>, i: usize, v: Option<Value>, expected: &Type) {
        let Some(v) = v else { return };
        let actual = &self.f.values[v].ty;
        if actual != expected {
            let message = format!("operand #{i} has type '{actual}' but the signature says '{expected}'");
            let def_span = self.f.values[v].span;
            let use_span = body.operands.get(i).map_or(body.sig_span, |u| u.span);
            let d = Diagnostic::error(message, self.cx.span(use_span)).note_at("the value is defined here", def_span);
            self.cx.diags.push(d);
        }
    }

    /// Builds a region of `op`: a new block with its arguments, its ops, and
    /// a scope for the names defined inside.
    fn region(&mut self, op: Op, ast: RegionAst<'a>) {
        let block = self.f.new_region_block(op);
        self.f.ops[op].regions.push(block);
        self.scopes.push(Vec::new());
        for arg in &ast.args {
            let v = self.f.add_block_arg(block, arg.ty.clone(), Span::NONE);
            self.bind_arg(arg, v);
        }
        for inner in ast.ops {
            self.op(block, inner);
        }
        for name in self.scopes.pop().unwrap_or_default() {
            if let Some(b) = self.names.get_mut(name) {
                b.visible = false;
            }
        }
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

fn article(word: &str) -> &'static str {
    if word.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    }
}
