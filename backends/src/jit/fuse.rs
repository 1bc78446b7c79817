//! Fusion of elementwise chains: a value computed by an elementwise op (or
//! a transpose, slice or broadcast) whose only use is an elementwise op of
//! the same shape is not stored; its expression is computed in registers
//! inside the consumer's loop nest. Chains fuse transitively, so a GELU
//! written as `div, erf, add, mul, mul` is one loop.
//!
//! [`plan`] decides which values are fused before buffers are planned (a
//! fused value gets no buffer); [`splice`] merges a producer's map into its
//! consumer's after both are lowered.
//!
//! A `quant.qmatmul` whose only use is a `quant.requantize` with
//! parameters per column is fused too: the requantize runs in the
//! matmul's epilogue (`qgemm::fuse`).
//!
//! Invariants: a fused value has exactly one use, is not a function
//! result, and has the shape of its consumer's result, which reads it
//! element for element (so the producer's input accesses are valid in the
//! consumer's nest unchanged); every op keeps its own rounding (each node
//! of the fused expression is the op's operation); a fused group holds at
//! most one op that can fail at run time (integer division, signed
//! integer power), so a failure names the same op as the interpreter's.

use super::kernel::{row_major, Access, Expr, Part, TEMP_SLOT};
use super::plan::Place;
use std::collections::{HashMap, HashSet};
use weft_ir::{ElemType, Function, OpData, Value};

/// The place a lowered access to a fused value points at: no buffer. Its
/// slot is neither a buffer's nor [`TEMP_SLOT`] (temporaries are moved to
/// the arena before code generation; a fused access must never be).
pub(crate) const FUSED: Place = Place { slot: TEMP_SLOT - 1, offset: 0 };

/// Ops whose kernel is one map computing each element from the elements
/// of the operands at the same index (numpy broadcasting).
const ELEMENTWISE: &[&str] = &[
    "nn.add",
    "nn.sub",
    "nn.mul",
    "nn.div",
    "nn.pow",
    "nn.max",
    "nn.min",
    "nn.equal",
    "nn.less",
    "nn.less_equal",
    "nn.greater",
    "nn.greater_equal",
    "nn.and",
    "nn.or",
    "nn.not",
    "nn.select",
    "nn.cast",
    "nn.clip",
    "nn.neg",
    "nn.abs",
    "nn.relu",
    "nn.reciprocal",
    "nn.sqrt",
    "nn.exp",
    "nn.log",
    "nn.erf",
    "nn.tanh",
    "nn.sigmoid",
    "nn.silu",
    "nn.gelu",
    "nl.cast",
    "nl.add",
    "nl.sub",
    "nl.mul",
    "nl.max",
    "nl.min",
    "nl.mux",
    "nl.div",
    "nl.shift",
    "nl.barrel_shift",
    "nl.lod",
    "nl.poly2",
    "nl.exp2",
    "nl.log2",
    "nl.isqrt",
    "nl.lut",
    "quant.quantize",
    "quant.dequantize",
    "quant.requantize",
    "quant.qadd",
    "quant.qmul",
];

/// Whether `name` is an op whose kernel is one map reading its operands
/// element for element (numpy broadcasting).
pub(crate) fn elementwise(name: &str) -> bool {
    ELEMENTWISE.contains(&name)
}

/// Ops that may be fused into a consumer: elementwise ops and the copies
/// whose kernel is one map.
fn producer(name: &str) -> bool {
    ELEMENTWISE.contains(&name) || matches!(name, "nn.transpose" | "nn.slice" | "nn.broadcast")
}

/// Whether `op` can fail at run time (its result type decides).
pub(crate) fn can_fail(func: &Function, op: &OpData) -> bool {
    let elem = op.results.first().and_then(|&v| func.values.get(v)).and_then(|d| d.ty.as_tensor()).map(|t| &t.elem);
    match (op.name(), elem) {
        ("nn.div", Some(ElemType::Int { .. })) => true,
        ("nn.pow", Some(ElemType::Int { signed, .. })) => *signed,
        _ => false,
    }
}

fn shape_of(func: &Function, v: Value) -> Option<Vec<u64>> {
    func.values.get(v)?.ty.as_tensor()?.static_shape()
}

/// The values to fuse into their consumers. `ops` are the function's ops
/// in program order (without the return), `results` the returned values.
pub(crate) fn plan(func: &Function, ops: &[&OpData], results: &[Value]) -> HashSet<Value> {
    let mut uses: HashMap<Value, usize> = HashMap::new();
    for v in ops.iter().flat_map(|op| op.operands.iter()).chain(results) {
        *uses.entry(*v).or_default() += 1;
    }
    let mut producers: HashMap<Value, &OpData> = HashMap::new();
    // Ops of each group that can fail, by the group's last op's result.
    let mut failing: HashMap<Value, usize> = HashMap::new();
    let mut fused = HashSet::new();
    // Requantizes computed in a matmul's epilogue (not maps: never fused
    // into a consumer).
    let mut epilogues = HashSet::new();
    for &op in ops {
        let [result] = op.results[..] else { continue };
        let mut group_fails = usize::from(can_fail(func, op));
        if ELEMENTWISE.contains(&op.name()) {
            let shape = shape_of(func, result);
            for &v in &op.operands {
                let Some(p) = producers.get(&v) else { continue };
                let fails = failing.get(&v).copied().unwrap_or(0);
                let fits = uses.get(&v) == Some(&1) && shape.is_some() && shape_of(func, v) == shape;
                if fits && group_fails + fails <= 1 && producer(p.name()) && !epilogues.contains(&v) {
                    fused.insert(v);
                    group_fails += fails;
                }
            }
        }
        if let Some(&v) = op.operands.first().filter(|_| op.name() == "quant.requantize") {
            let from_matmul = producers.get(&v).is_some_and(|p| p.name() == "quant.qmatmul");
            if from_matmul && uses.get(&v) == Some(&1) && epilogue_fits(func, v, result) {
                fused.insert(v);
                epilogues.insert(result);
            }
        }
        failing.insert(result, group_fails);
        producers.insert(result, op);
    }
    fused
}

/// Whether the requantize of the matmul result `v` into `result` can run
/// in the matmul's epilogue (`qgemm::fuse`).
fn epilogue_fits(func: &Function, v: Value, result: Value) -> bool {
    let ty = |v: Value| func.values.get(v).and_then(|d| d.ty.as_tensor());
    match (ty(v), ty(result)) {
        (Some(a), Some(b)) => {
            let rank = a.static_shape().map_or(0, |s| s.len());
            a.static_shape() == b.static_shape() && super::qgemm::fuse::fits(&a.elem, &b.elem, rank)
        }
        _ => false,
    }
}

/// Merges `producer` (the map computing the consumer's operand `j`) into
/// `consumer`: the operand's expression replaces the input that read it,
/// and the producer's inputs join the consumer's (identical accesses
/// shared).
pub(crate) fn splice(consumer: &mut Part, j: usize, producer: Part) -> Result<(), String> {
    let (
        Part::Map { shape, inputs, expr, .. },
        Part::Map { shape: p_shape, out: p_out, inputs: p_inputs, expr: p_expr },
    ) = (consumer, producer)
    else {
        return Err("internal error: fusing a kernel that is not a map".into());
    };
    let reads = inputs.get(j).ok_or("internal error: the fused operand has no input")?;
    if *shape != p_shape
        || reads.place != FUSED
        || !walks_row_major(reads, shape)
        || p_out.base != 0
        || !walks_row_major(&p_out, shape)
    {
        return Err("internal error: a fused value is not read element for element".into());
    }
    let mut remap = Vec::with_capacity(p_inputs.len());
    for a in p_inputs {
        let at = match inputs.iter().position(|b| *b == a) {
            Some(i) => i,
            None => {
                inputs.push(a);
                inputs.len() - 1
            }
        };
        remap.push(at);
    }
    let p_expr = p_expr.map_inputs(&|i| remap.get(i).copied().unwrap_or(i));
    let merged = std::mem::replace(expr, Expr::Input(0)).replace_input(j, &p_expr);
    inputs.remove(j);
    *expr = merged.map_inputs(&|i| if i > j { i - 1 } else { i });
    Ok(())
}

/// Whether `a` visits a row-major buffer of `shape` in its own order
/// (strides of extent-1 dims do not matter).
fn walks_row_major(a: &Access, shape: &[u64]) -> bool {
    let want = row_major(shape);
    a.base == 0 && a.strides.len() == shape.len() && (0..shape.len()).all(|d| shape[d] == 1 || a.strides[d] == want[d])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jit::kernel::{BinOp, UnOp};
    use crate::jit::storage::Storage;

    fn access(slot: u32, strides: Vec<i64>) -> Access {
        Access { place: Place { slot, offset: 0 }, st: Storage::F32, base: 0, strides }
    }

    #[test]
    fn the_producer_expression_replaces_the_input_and_inputs_are_shared() {
        let x = access(1, vec![3, 1]);
        let y = access(2, vec![0, 1]);
        // producer: exp(x); consumer: add(y, fused) with fused at input 1.
        let producer = Part::Map {
            shape: vec![2, 3],
            out: access(0, vec![3, 1]),
            inputs: vec![x.clone()],
            expr: Expr::Unary(UnOp::Exp, Storage::F32, Box::new(Expr::Input(0))),
        };
        let mut consumer = Part::Map {
            shape: vec![2, 3],
            out: access(0, vec![3, 1]),
            inputs: vec![y.clone(), Access { place: FUSED, ..x.clone() }, x.clone()],
            expr: Expr::Binary(
                BinOp::Add,
                Storage::F32,
                Box::new(Expr::Input(0)),
                Box::new(Expr::Binary(BinOp::Mul, Storage::F32, Box::new(Expr::Input(1)), Box::new(Expr::Input(2)))),
            ),
        };
        splice(&mut consumer, 1, producer).unwrap();
        let Part::Map { inputs, expr, .. } = consumer else { unreachable!() };
        // x is shared: inputs y, x; expr = y + exp(x) * x.
        assert_eq!(inputs, vec![y, x]);
        let exp_x = Expr::Unary(UnOp::Exp, Storage::F32, Box::new(Expr::Input(1)));
        let want = Expr::Binary(
            BinOp::Add,
            Storage::F32,
            Box::new(Expr::Input(0)),
            Box::new(Expr::Binary(BinOp::Mul, Storage::F32, Box::new(exp_x), Box::new(Expr::Input(1)))),
        );
        assert_eq!(expr, want);
    }

    #[test]
    fn a_broadcast_read_of_a_fused_value_is_refused() {
        let producer = Part::Map {
            shape: vec![2, 3],
            out: access(0, vec![3, 1]),
            inputs: vec![access(1, vec![3, 1])],
            expr: Expr::Input(0),
        };
        let mut consumer = Part::Map {
            shape: vec![2, 3],
            out: access(0, vec![3, 1]),
            inputs: vec![Access { place: FUSED, ..access(0, vec![0, 1]) }],
            expr: Expr::Input(0),
        };
        assert!(splice(&mut consumer, 0, producer).unwrap_err().contains("element for element"));
    }
}
