//! The printer: writes a module in the canonical text form of
//! spec/syntax.md. Parsing its output and printing again gives the same
//! text (the round-trip invariant every lit test checks).
//!
//! Invariants: values are renamed on print (`%argN` for block arguments,
//! `%N` / `%N:k` for op results, numbered in order); every op without
//! regions uses the short form, ops with regions the generic form; only
//! known locations are printed.

use crate::entity::SecondaryMap;
use crate::location::write_quoted;
use crate::module::{Attrs, Block, Function, Module, Op, Value};
use crate::types::Type;
use std::fmt::Write;

/// Printing choices.
#[derive(Debug, Clone, Copy, Default)]
pub struct PrintOptions {
    /// Print every op in the generic form `"dialect.op"(...)`.
    pub generic: bool,
}

/// Prints a module.
pub fn print_module(m: &Module) -> String {
    print_module_with(m, PrintOptions::default())
}

pub fn print_module_with(m: &Module, opts: PrintOptions) -> String {
    let mut out = String::with_capacity(64 * m.funcs.iter().map(|f| f.ops.len() + 1).sum::<usize>());
    out.push_str("module");
    if let Some(name) = &m.name {
        out.push(' ');
        write_symbol(&mut out, name);
    }
    if !m.attrs.is_empty() {
        out.push_str(" attributes ");
        write_attr_dict(&mut out, &m.attrs);
    }
    out.push_str(" {\n");
    for (i, f) in m.funcs.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        FuncPrinter::new(f, opts, &mut out).print();
    }
    out.push('}');
    write_loc(&mut out, &m.loc);
    out.push('\n');
    out
}

/// Prints one function (as it appears inside a module, indented).
pub fn print_function(f: &Function) -> String {
    let mut out = String::new();
    FuncPrinter::new(f, PrintOptions::default(), &mut out).print();
    out
}

/// `@name`, quoted when it is not a plain identifier.
pub fn write_symbol(out: &mut String, name: &str) {
    out.push('@');
    let plain = name.bytes().next().is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"_$.-".contains(&b));
    if plain {
        out.push_str(name);
    } else {
        let _ = write_quoted(out, name);
    }
}

/// `{a = 1, b = "x"}`.
pub fn write_attr_dict(out: &mut String, attrs: &Attrs) {
    out.push('{');
    for (i, (k, v)) in attrs.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        let _ = write!(out, "{k} = {v}");
    }
    out.push('}');
}

fn write_loc(out: &mut String, loc: &crate::location::Location) {
    if !loc.is_unknown() {
        let _ = write!(out, " loc({loc})");
    }
}

/// How a value is printed.
#[derive(Clone, Copy, Default)]
enum Name {
    #[default]
    Unnamed,
    Arg(u32),
    /// Result `index` of the op numbered `group`, which has `of` results.
    Result {
        group: u32,
        index: u32,
        of: u32,
    },
}

struct FuncPrinter<'a> {
    f: &'a Function,
    opts: PrintOptions,
    out: &'a mut String,
    names: SecondaryMap<Value, Name>,
    next_arg: u32,
    next_group: u32,
}

impl<'a> FuncPrinter<'a> {
    fn new(f: &'a Function, opts: PrintOptions, out: &'a mut String) -> Self {
        FuncPrinter { f, opts, out, names: SecondaryMap::default(), next_arg: 0, next_group: 0 }
    }

    fn print(&mut self) {
        let f = self.f;
        self.out.push_str("  func ");
        write_symbol(self.out, &f.name);
        self.out.push('(');
        for (i, &a) in f.args().iter().enumerate() {
            if i > 0 {
                self.out.push_str(", ");
            }
            self.name_arg(a);
            self.write_value(a);
            let _ = write!(self.out, ": {}", f.values[a].ty);
        }
        self.out.push(')');
        match f.results.as_slice() {
            [] => {}
            [t] => {
                let _ = write!(self.out, " -> {t}");
            }
            ts => {
                self.out.push_str(" -> ");
                self.write_type_list(ts);
            }
        }
        if !f.attrs.is_empty() {
            self.out.push_str(" attributes ");
            write_attr_dict(self.out, &f.attrs);
        }
        self.out.push_str(" {\n");
        self.print_ops(f.body, 2);
        self.out.push_str("  }");
        write_loc(self.out, &f.loc);
        self.out.push('\n');
    }

    fn name_arg(&mut self, v: Value) {
        self.names.set(v, Name::Arg(self.next_arg));
        self.next_arg += 1;
    }

    fn write_value(&mut self, v: Value) {
        let _ = match self.names[v] {
            Name::Arg(n) => write!(self.out, "%arg{n}"),
            Name::Result { group, of: 1, .. } => write!(self.out, "%{group}"),
            Name::Result { group, index, .. } => write!(self.out, "%{group}#{index}"),
            // Only reachable for IR that does not verify; still printable.
            Name::Unnamed => write!(self.out, "%<{v}>"),
        };
    }

    fn write_values(&mut self, vs: &[Value]) {
        for (i, &v) in vs.iter().enumerate() {
            if i > 0 {
                self.out.push_str(", ");
            }
            self.write_value(v);
        }
    }

    fn write_type_list(&mut self, ts: &[Type]) {
        self.out.push('(');
        for (i, t) in ts.iter().enumerate() {
            if i > 0 {
                self.out.push_str(", ");
            }
            let _ = write!(self.out, "{t}");
        }
        self.out.push(')');
    }

    fn print_ops(&mut self, block: Block, depth: usize) {
        for &op in &self.f.blocks[block].ops {
            self.print_op(op, depth);
        }
    }

    fn indent(&mut self, depth: usize) {
        for _ in 0..depth {
            self.out.push_str("  ");
        }
    }

    fn print_op(&mut self, op: Op, depth: usize) {
        let data = &self.f.ops[op];
        self.indent(depth);
        if !data.results.is_empty() {
            let group = self.next_group;
            self.next_group += 1;
            let of = data.results.len() as u32;
            for (i, &r) in data.results.iter().enumerate() {
                self.names.set(r, Name::Result { group, index: i as u32, of });
            }
            let _ = if of == 1 { write!(self.out, "%{group} = ") } else { write!(self.out, "%{group}:{of} = ") };
        }
        if self.opts.generic || !data.regions.is_empty() {
            self.print_generic(op, depth);
        } else if self.is_plain_return(op) {
            self.print_return(op);
        } else if self.is_plain_constant(op) {
            let _ = write!(self.out, "constant {}", data.attrs["value"]);
        } else {
            self.print_short(op);
        }
        write_loc(self.out, &self.f.ops[op].loc);
        self.out.push('\n');
    }

    /// `return` has its own form only when it is well-formed enough for
    /// the form to say everything (no results); otherwise the short form.
    fn is_plain_return(&self, op: Op) -> bool {
        let data = &self.f.ops[op];
        data.def.name == "builtin.return" && data.results.is_empty()
    }

    /// `constant <attr>` says the result type through the attribute, so it
    /// is used only when they agree.
    fn is_plain_constant(&self, op: Op) -> bool {
        let data = &self.f.ops[op];
        let value_ty = data.attrs.get("value").and_then(|a| a.tensor_type());
        data.def.name == "builtin.constant"
            && data.attrs.len() == 1
            && data.operands.is_empty()
            && data.results.len() == 1
            && value_ty.is_some_and(|t| self.f.values[data.results[0]].ty.as_tensor() == Some(t))
    }

    fn print_return(&mut self, op: Op) {
        let operands = &self.f.ops[op].operands;
        self.out.push_str("return");
        if operands.is_empty() {
            return;
        }
        self.out.push(' ');
        self.write_values(operands);
        self.out.push_str(" : ");
        for (i, &v) in operands.iter().enumerate() {
            if i > 0 {
                self.out.push_str(", ");
            }
            let _ = write!(self.out, "{}", self.f.values[v].ty);
        }
    }

    fn print_short(&mut self, op: Op) {
        let data = &self.f.ops[op];
        self.out.push_str(data.def.name);
        if !data.operands.is_empty() {
            self.out.push(' ');
            self.write_values(&data.operands);
        }
        if !data.attrs.is_empty() {
            self.out.push(' ');
            write_attr_dict(self.out, &data.attrs);
        }
        self.out.push_str(" : ");
        self.write_signature(op, true);
    }

    fn print_generic(&mut self, op: Op, depth: usize) {
        let data = &self.f.ops[op];
        let _ = write!(self.out, "\"{}\"(", data.def.name);
        self.write_values(&data.operands);
        self.out.push(')');
        if !data.regions.is_empty() {
            self.out.push_str(" (");
            for (i, &r) in data.regions.iter().enumerate() {
                if i > 0 {
                    self.out.push_str(", ");
                }
                self.print_region(r, i, depth);
            }
            self.out.push(')');
        }
        if !data.attrs.is_empty() {
            self.out.push(' ');
            write_attr_dict(self.out, &data.attrs);
        }
        self.out.push_str(" : ");
        self.write_signature(op, false);
    }

    fn print_region(&mut self, block: Block, index: usize, depth: usize) {
        self.out.push_str("{\n");
        self.indent(depth);
        let _ = write!(self.out, "^bb{index}(");
        for (i, &a) in self.f.blocks[block].args.clone().iter().enumerate() {
            if i > 0 {
                self.out.push_str(", ");
            }
            self.name_arg(a);
            self.write_value(a);
            let _ = write!(self.out, ": {}", self.f.values[a].ty);
        }
        self.out.push_str("):\n");
        self.print_ops(block, depth + 1);
        self.indent(depth);
        self.out.push('}');
    }

    /// `T` when allowed and every operand and result has type T, otherwise
    /// `(A, B) -> R` / `(A, B) -> (R, S)`.
    fn write_signature(&mut self, op: Op, allow_uniform: bool) {
        let data = &self.f.ops[op];
        let types = data.operands.iter().chain(&data.results).map(|&v| &self.f.values[v].ty);
        let mut all = types.clone();
        let uniform = match all.next() {
            Some(first) => all.all(|t| t == first),
            None => false,
        };
        if allow_uniform && uniform {
            let t = types.clone().next().cloned();
            if let Some(t) = t {
                let _ = write!(self.out, "{t}");
                return;
            }
        }
        let operand_types: Vec<Type> = data.operands.iter().map(|&v| self.f.values[v].ty.clone()).collect();
        let result_types: Vec<Type> = data.results.iter().map(|&v| self.f.values[v].ty.clone()).collect();
        self.write_type_list(&operand_types);
        self.out.push_str(" -> ");
        if result_types.len() == 1 {
            let _ = write!(self.out, "{}", result_types[0]);
        } else {
            self.write_type_list(&result_types);
        }
    }
}
