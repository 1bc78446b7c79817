//! The IR's storage: a module of functions; a function owns arenas of ops,
//! values and blocks (typed handles, Cranelift style), and its body block.
//!
//! Invariants (checked by [`crate::verify`], relied on by everything after
//! it): every handle an op or block holds is valid in its function's arenas;
//! an op appears in exactly one block's op list (`OpData::block`), and an op
//! removed from its block is dead (its arena slot stays, unreachable); a
//! value is defined once (`ValueData::def`), before its uses in block order
//! or in an enclosing block; the body ends with `builtin.return`.

use crate::attr::Attribute;
use crate::entity::{PrimaryMap, SecondaryMap};
use crate::location::{Location, Span};
use crate::ops::OpDef;
use crate::types::Type;
use std::collections::BTreeMap;

crate::entity!(Op, "op");
crate::entity!(Value, "v");
crate::entity!(Block, "bb");

/// Attributes of an op, sorted by name (the printed order).
pub type Attrs = BTreeMap<String, Attribute>;

/// Where a value comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueDef {
    /// Result `index` of an op.
    Result(Op, u32),
    /// Argument `index` of a block.
    Arg(Block, u32),
}

#[derive(Debug, Clone)]
pub struct ValueData {
    pub ty: Type,
    pub def: ValueDef,
    /// Where the value was named in the source (for diagnostics).
    pub span: Span,
}

#[derive(Debug, Clone)]
pub struct OpData {
    pub def: &'static OpDef,
    pub operands: Vec<Value>,
    pub results: Vec<Value>,
    pub attrs: Attrs,
    /// Regions: each one block, owned by this op.
    pub regions: Vec<Block>,
    /// The block this op is in.
    pub block: Block,
    pub loc: Location,
    pub span: Span,
}

impl OpData {
    pub fn name(&self) -> &'static str {
        self.def.name
    }

    pub fn attr(&self, name: &str) -> Option<&Attribute> {
        self.attrs.get(name)
    }
}

#[derive(Debug, Clone, Default)]
pub struct BlockData {
    pub args: Vec<Value>,
    pub ops: Vec<Op>,
    /// The op whose region this block is; `None` for a function body.
    pub parent: Option<Op>,
}

/// A function: a signature and one body block.
#[derive(Debug, Clone)]
pub struct Function {
    pub name: String,
    pub results: Vec<Type>,
    pub attrs: Attrs,
    pub ops: PrimaryMap<Op, OpData>,
    pub values: PrimaryMap<Value, ValueData>,
    pub blocks: PrimaryMap<Block, BlockData>,
    pub body: Block,
    pub loc: Location,
    pub span: Span,
}

/// A module: functions, and the named resources their constants refer to.
#[derive(Debug, Clone, Default)]
pub struct Module {
    pub name: Option<String>,
    pub attrs: Attrs,
    pub funcs: Vec<Function>,
    pub loc: Location,
    pub span: Span,
    pub resources: crate::resources::Resources,
}

impl Module {
    pub fn func(&self, name: &str) -> Option<&Function> {
        self.funcs.iter().find(|f| f.name == name)
    }

    pub fn num_ops(&self) -> usize {
        self.funcs.iter().map(|f| f.walk().len()).sum()
    }
}

impl Function {
    /// A function with arguments of `arg_types` and an empty body.
    pub fn new(name: impl Into<String>, arg_types: Vec<Type>, results: Vec<Type>) -> Function {
        let mut f = Function {
            name: name.into(),
            results,
            attrs: Attrs::new(),
            ops: PrimaryMap::new(),
            values: PrimaryMap::new(),
            blocks: PrimaryMap::new(),
            body: crate::entity::EntityRef::new(0),
            loc: Location::Unknown,
            span: Span::NONE,
        };
        f.body = f.blocks.push(BlockData::default());
        for ty in arg_types {
            f.add_block_arg(f.body, ty, Span::NONE);
        }
        f
    }

    pub fn args(&self) -> &[Value] {
        &self.blocks[self.body].args
    }

    pub fn arg_types(&self) -> Vec<Type> {
        self.args().iter().map(|&v| self.values[v].ty.clone()).collect()
    }

    pub fn add_block_arg(&mut self, block: Block, ty: Type, span: Span) -> Value {
        let index = self.blocks[block].args.len() as u32;
        let v = self.values.push(ValueData { ty, def: ValueDef::Arg(block, index), span });
        self.blocks[block].args.push(v);
        v
    }

    /// A new empty block for a region of `parent`.
    pub fn new_region_block(&mut self, parent: Op) -> Block {
        self.blocks.push(BlockData { parent: Some(parent), ..Default::default() })
    }

    pub fn value_type(&self, v: Value) -> &Type {
        &self.values[v].ty
    }

    /// Creates an op (not yet in any block) with fresh result values.
    pub fn create_op(&mut self, spec: NewOp) -> Op {
        let op = self.ops.push(OpData {
            def: spec.def,
            operands: spec.operands,
            results: Vec::new(),
            attrs: spec.attrs,
            regions: Vec::new(),
            block: self.body,
            loc: spec.loc,
            span: spec.span,
        });
        let results = spec
            .result_types
            .into_iter()
            .enumerate()
            .map(|(i, ty)| self.values.push(ValueData { ty, def: ValueDef::Result(op, i as u32), span: spec.span }))
            .collect();
        self.ops[op].results = results;
        op
    }

    /// Creates an op and appends it to `block`.
    pub fn append_op(&mut self, block: Block, spec: NewOp) -> Op {
        let op = self.create_op(spec);
        self.ops[op].block = block;
        self.blocks[block].ops.push(op);
        op
    }

    /// Creates an op and inserts it right before `before` in its block.
    pub fn insert_op_before(&mut self, before: Op, spec: NewOp) -> Op {
        let block = self.ops[before].block;
        let op = self.create_op(spec);
        self.ops[op].block = block;
        let pos = self.position(before);
        self.blocks[block].ops.insert(pos, op);
        op
    }

    fn position(&self, op: Op) -> usize {
        let block = self.ops[op].block;
        self.blocks[block].ops.iter().position(|&o| o == op).expect("op not in its block")
    }

    /// Removes ops from their blocks (they become dead). Their results must
    /// have no remaining uses, which the verifier checks.
    pub fn remove_ops(&mut self, dead: &[Op]) {
        let mut is_dead = SecondaryMap::<Op, bool>::default();
        for &op in dead {
            is_dead.set(op, true);
        }
        for b in self.blocks.keys().collect::<Vec<_>>() {
            self.blocks[b].ops.retain(|&o| !is_dead[o]);
        }
    }

    /// Replaces every use of each key of `map` by its value.
    pub fn replace_uses(&mut self, map: &SecondaryMap<Value, Option<Value>>) {
        for op in self.walk() {
            for v in self.ops[op].operands.iter_mut() {
                if let Some(new) = map[*v] {
                    *v = new;
                }
            }
        }
    }

    /// Replaces every use of `old` by `new`.
    pub fn replace_all_uses(&mut self, old: Value, new: Value) {
        let mut map = SecondaryMap::default();
        map.set(old, Some(new));
        self.replace_uses(&map);
    }

    /// All live ops in pre-order: each op, then the ops of its regions.
    pub fn walk(&self) -> Vec<Op> {
        let mut out = Vec::with_capacity(self.ops.len());
        self.walk_block(self.body, &mut out);
        out
    }

    fn walk_block(&self, block: Block, out: &mut Vec<Op>) {
        for &op in &self.blocks[block].ops {
            out.push(op);
            for &r in &self.ops[op].regions {
                self.walk_block(r, out);
            }
        }
    }

    /// How many times each value is used by live ops.
    pub fn use_counts(&self) -> SecondaryMap<Value, u32> {
        let mut counts = SecondaryMap::default();
        for op in self.walk() {
            for &v in &self.ops[op].operands {
                let c = counts[v];
                counts.set(v, c + 1);
            }
        }
        counts
    }

    /// The op defining `v`, if it is an op result.
    pub fn defining_op(&self, v: Value) -> Option<Op> {
        match self.values[v].def {
            ValueDef::Result(op, _) => Some(op),
            ValueDef::Arg(..) => None,
        }
    }

    /// The inline value of `v` when a `builtin.constant` with a `dense<..>`
    /// attribute defines it.
    pub fn dense_constant(&self, v: Value) -> Option<&crate::attr::DenseAttr> {
        let op = self.ops.get(self.defining_op_checked(v)?)?;
        if !op.def.has_trait(crate::ops::Trait::ConstantLike) {
            return None;
        }
        match op.attrs.get("value") {
            Some(Attribute::Dense(d)) => Some(d),
            _ => None,
        }
    }

    /// Like [`Function::defining_op`], but `None` for an invalid handle.
    fn defining_op_checked(&self, v: Value) -> Option<Op> {
        match self.values.get(v)?.def {
            ValueDef::Result(op, _) => Some(op),
            ValueDef::Arg(..) => None,
        }
    }

    /// The terminator of the body (the last op), if any.
    pub fn terminator(&self) -> Option<Op> {
        self.blocks[self.body].ops.last().copied()
    }
}

/// Everything needed to create an op.
#[derive(Debug, Clone)]
pub struct NewOp {
    pub def: &'static OpDef,
    pub operands: Vec<Value>,
    pub result_types: Vec<Type>,
    pub attrs: Attrs,
    pub loc: Location,
    pub span: Span,
}

impl NewOp {
    pub fn new(def: &'static OpDef, operands: Vec<Value>, result_types: Vec<Type>) -> NewOp {
        NewOp { def, operands, result_types, attrs: Attrs::new(), loc: Location::Unknown, span: Span::NONE }
    }

    pub fn attr(mut self, name: &str, value: Attribute) -> NewOp {
        self.attrs.insert(name.to_string(), value);
        self
    }

    /// Takes location and span from an existing op (for rewrites).
    pub fn at(mut self, from: &OpData) -> NewOp {
        self.loc = from.loc.clone();
        self.span = from.span;
        self
    }
}
