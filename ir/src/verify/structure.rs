//! Phase 1 of the verifier: the handles and links of the IR's storage.
//!
//! Checks, from the function's body down through every region: each block,
//! op and value handle is valid in the function's arenas; each op is listed
//! once, in the block its `block` field names; each region block belongs to
//! one op and records it as parent (the body records none); each value
//! reached records a definition (`ValueDef`) that holds it.
//!
//! Invariants: this phase indexes nothing before checking it (`get`,
//! `is_valid`); when it reports no error, the later phases may index every
//! op, block and value reached from the body, and the definition of every
//! operand, without checks.

use super::{func_error, op_error, Diagnostic};
use crate::entity::SecondaryMap;
use crate::module::{Block, Function, Op, OpData, Value, ValueDef};

/// Checks the structure of `f`; on success returns the live ops (those
/// listed in the body or a region reached from it).
pub(super) fn check(f: &Function, out: &mut Vec<Diagnostic>) -> Option<SecondaryMap<Op, bool>> {
    let before = out.len();
    let mut s = Structure { f, out, live: SecondaryMap::default(), seen_blocks: SecondaryMap::default() };
    s.run();
    let live = s.live;
    (out.len() == before).then_some(live)
}

struct Structure<'a> {
    f: &'a Function,
    out: &'a mut Vec<Diagnostic>,
    live: SecondaryMap<Op, bool>,
    seen_blocks: SecondaryMap<Block, bool>,
}

impl Structure<'_> {
    fn run(&mut self) {
        let f = self.f;
        let Some(body) = f.blocks.get(f.body) else {
            let msg = format!("function '@{}': body block {} is not in the function's block arena", f.name, f.body);
            self.out.push(func_error(f, msg));
            return;
        };
        if let Some(parent) = body.parent {
            let msg = format!("function '@{}': body block {} records {parent} as its parent op", f.name, f.body);
            self.out.push(func_error(f, msg));
        }
        self.seen_blocks.set(f.body, true);
        self.check_block_args(f.body);
        let mut stack = vec![(f.body, 0usize)];
        while let Some((block, at)) = stack.pop() {
            let Some(&op) = f.blocks.get(block).and_then(|b| b.ops.get(at)) else { continue };
            stack.push((block, at + 1));
            for region in self.check_op(block, op).into_iter().rev() {
                stack.push((region, 0));
            }
        }
    }

    /// Checks one listed op; returns its region blocks that are safe to
    /// descend into.
    fn check_op(&mut self, block: Block, op: Op) -> Vec<Block> {
        let f = self.f;
        let Some(data) = f.ops.get(op) else {
            let msg = format!("function '@{}': block {block} lists {op}, which is not in the op arena", f.name);
            self.out.push(func_error(f, msg));
            return Vec::new();
        };
        if self.live[op] {
            self.out.push(op_error(data, format!("({op}) is listed more than once in the function")));
            return Vec::new();
        }
        self.live.set(op, true);
        if data.block != block {
            let msg = format!("({op}) is listed in block {block} but records block {} as its own", data.block);
            self.out.push(op_error(data, msg));
        }
        for (i, &v) in data.operands.iter().enumerate() {
            self.check_operand(data, i, v);
        }
        for (i, &v) in data.results.iter().enumerate() {
            self.check_result(op, data, i, v);
        }
        self.check_regions(op, data)
    }

    fn check_operand(&mut self, data: &OpData, i: usize, v: Value) {
        let f = self.f;
        let Some(value) = f.values.get(v) else {
            let msg = format!("operand #{i} refers to {v}, which is not in the value arena");
            self.out.push(op_error(data, msg));
            return;
        };
        if !definition_holds(f, value.def, v) {
            let msg =
                format!("operand #{i} ({v}) records its definition as {}, which does not hold it", describe(value.def));
            self.out.push(op_error(data, msg));
        }
    }

    fn check_result(&mut self, op: Op, data: &OpData, i: usize, v: Value) {
        let Some(value) = self.f.values.get(v) else {
            let msg = format!("result #{i} refers to {v}, which is not in the value arena");
            self.out.push(op_error(data, msg));
            return;
        };
        if value.def != ValueDef::Result(op, i as u32) {
            let msg = format!("result #{i} ({v}) records its definition as {}", describe(value.def));
            self.out.push(op_error(data, msg));
        }
    }

    fn check_regions(&mut self, op: Op, data: &OpData) -> Vec<Block> {
        let f = self.f;
        let mut ok = Vec::with_capacity(data.regions.len());
        for (r, &b) in data.regions.iter().enumerate() {
            let problem = match f.blocks.get(b) {
                None => Some(format!("region #{r} refers to {b}, which is not in the block arena")),
                Some(_) if self.seen_blocks[b] => {
                    Some(format!("region #{r} ({b}) is already the body or a region elsewhere in the function"))
                }
                Some(bd) if bd.parent != Some(op) => Some(format!(
                    "region #{r} ({b}) records {} as its parent op, not {op}",
                    bd.parent.map_or("none".to_string(), |p| p.to_string())
                )),
                Some(_) => None,
            };
            match problem {
                Some(msg) => self.out.push(op_error(data, msg)),
                None => {
                    self.seen_blocks.set(b, true);
                    self.check_block_args(b);
                    ok.push(b);
                }
            }
        }
        ok
    }

    fn check_block_args(&mut self, b: Block) {
        let f = self.f;
        let Some(block) = f.blocks.get(b) else { return };
        for (i, &v) in block.args.iter().enumerate() {
            let problem = match f.values.get(v) {
                None => format!("refers to {v}, which is not in the value arena"),
                Some(value) if value.def != ValueDef::Arg(b, i as u32) => {
                    format!("({v}) records its definition as {}", describe(value.def))
                }
                Some(_) => continue,
            };
            let msg = format!("argument #{i} of block {b} {problem}");
            let diag = match block.parent.and_then(|p| f.ops.get(p)) {
                Some(parent) => op_error(parent, msg),
                None => func_error(f, format!("function '@{}': {msg}", f.name)),
            };
            self.out.push(diag);
        }
    }
}

/// True when the op or block `def` names exists and holds `v` at the index
/// it says.
fn definition_holds(f: &Function, def: ValueDef, v: Value) -> bool {
    match def {
        ValueDef::Result(op, i) => f.ops.get(op).and_then(|o| o.results.get(i as usize)) == Some(&v),
        ValueDef::Arg(b, i) => f.blocks.get(b).and_then(|bd| bd.args.get(i as usize)) == Some(&v),
    }
}

/// "result #1 of op3", "argument #0 of bb2".
fn describe(def: ValueDef) -> String {
    match def {
        ValueDef::Result(op, i) => format!("result #{i} of {op}"),
        ValueDef::Arg(b, i) => format!("argument #{i} of {b}"),
    }
}
