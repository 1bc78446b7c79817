//! `fold-qdq`: turns quantization imported from ONNX (QuantizeLinear /
//! DequantizeLinear pairs around float ops, as `legalize-onnx` rewrites
//! them) into integer ops, keeping the model's own scales: nothing is
//! calibrated or re-quantized.
//!
//! Phases, per function, in one sweep in block order:
//! 1. A `quant.storage_cast` of a constant becomes a constant of the cast's
//!    type (a resource keeps its bytes, only the declared type changes).
//! 2. A cast back to the type a cast came from is its operand
//!    (`storage_cast(storage_cast(q)) -> q`): a QuantizeLinear feeding a
//!    DequantizeLinear with the same parameters joins the two quant values.
//! 3. A float op between dequantizes and one `quant.quantize` becomes its
//!    integer op with the quantize's type: `nn.matmul` (with a following
//!    `nn.add` of a constant bias, requantized to the accumulator's scale)
//!    -> `quant.qmatmul` + `quant.requantize`; `nn.add` -> `quant.qadd`;
//!    `nn.mul` -> `quant.qmul`; `nn.reshape`/`nn.transpose` -> the same op
//!    on the integers when the types agree. An `nn.matmul` of dequantized
//!    values whose result stays float becomes a `quant.qmatmul` whose
//!    accumulator is dequantized.
//! 4. Weight-only exports: `nn.mul(nn.cast(C), s)` (optionally
//!    `nn.mul(nn.sub(nn.cast(C), z), s)`) of an integer constant `C` and
//!    constant scale (and zero point), per tensor or per channel along one
//!    axis, becomes `quant.dequantize` of `C` typed with that scale.
//!
//! Invariants: a fold happens only when the integer op's own result check
//! accepts the types (widths, per-channel axes, multiplier ranges), so the
//! result verifies; the float ops a fold replaces are removed when nothing
//! else uses them; the function's signature never changes.

mod weight_only;

use crate::{Pass, PassContext, PassStatistic};
use weft_ir::ops::quant::common::{qrange, quantize_real, scales_of};
use weft_ir::ops::{builtin, quant, OpDef, OpInfo, Trait};
use weft_ir::tensor::{Scalar, Tensor, TensorData};
use weft_ir::types::{ElemType, QuantInt, QuantParams};
use weft_ir::{Attribute, Attrs, DenseAttr, Diagnostic, Function, Module, NewOp, Op, TensorType, Type, Value};

/// The `fold-qdq` pass.
#[derive(Debug, Clone, Copy, Default)]
pub struct FoldQdq;

const CONSTANTS: PassStatistic = PassStatistic { name: "retyped-constants", doc: "casts of constants made constants" };
const CASTS: PassStatistic = PassStatistic { name: "joined-casts", doc: "cast pairs that undo each other removed" };
const FOLDED: PassStatistic =
    PassStatistic { name: "folded-ops", doc: "float ops between dequantize and quantize made integer ops" };
const WEIGHTS: PassStatistic =
    PassStatistic { name: "weight-only", doc: "integer constants cast to float and scaled made quantized constants" };

impl Pass for FoldQdq {
    fn name(&self) -> &'static str {
        "fold-qdq"
    }

    fn summary(&self) -> &'static str {
        "Folds imported QDQ quantization (dequantize, float op, quantize) into integer quant ops"
    }

    fn description(&self) -> &'static str {
        "For models quantized before import (ONNX QDQ: QuantizeLinear/DequantizeLinear pairs around \
ops, QLinearMatMul, MatMulInteger, weights stored as integers), after `legalize-onnx`: a \
`quant.storage_cast` of a constant becomes a constant of the quantized type; a storage cast back \
to the type a cast came from disappears, joining a QuantizeLinear with its DequantizeLinear; a \
float `nn.matmul` (and a following bias add), `nn.add`, `nn.mul`, `nn.reshape` or `nn.transpose` \
whose operands are dequantized and whose result is quantized becomes the integer op with the \
quantize's type (`quant.qmatmul` + `quant.requantize`, `quant.qadd`, `quant.qmul`, the layout op \
on integers); an `nn.matmul` of dequantized operands whose result stays float becomes a \
`quant.qmatmul` whose accumulator is dequantized; an integer constant cast to float and \
multiplied by a constant scale (weight-only exports, with an optional zero point subtracted) \
becomes a `quant.dequantize` of the constant typed with that scale. Every scale comes from the model; a fold is \
skipped when the integer op cannot take the types (more than 16-bit operands, per-channel \
activations, a scale ratio outside the fixed-point range). Part of the `onnx-to-nn` pipeline."
    }

    fn statistics(&self) -> &'static [PassStatistic] {
        &[CONSTANTS, CASTS, FOLDED, WEIGHTS]
    }

    fn run(&mut self, module: &mut Module, cx: &mut PassContext) -> Result<(), Diagnostic> {
        for f in module.funcs.iter_mut() {
            let mut counts = [0u64; 4];
            for op in f.blocks[f.body].ops.clone() {
                if !is_live(f, op) {
                    continue;
                }
                match f.ops[op].name() {
                    "quant.storage_cast" => {
                        if retype_constant(f, op) {
                            counts[0] += 1;
                        } else if join_casts(f, op) {
                            counts[1] += 1;
                        }
                    }
                    "quant.quantize" => counts[2] += u64::from(fold_into_quantize(f, op)),
                    "nn.mul" => counts[3] += u64::from(weight_only::fold_weight_scale(f, op)),
                    "nn.matmul" => counts[2] += u64::from(fold_float_matmul(f, op)),
                    _ => {}
                }
            }
            cx.count(&CONSTANTS, counts[0]);
            cx.count(&CASTS, counts[1]);
            cx.count(&FOLDED, counts[2]);
            cx.count(&WEIGHTS, counts[3]);
        }
        Ok(())
    }
}

fn is_live(f: &Function, op: Op) -> bool {
    f.blocks[f.body].ops.contains(&op)
}

fn tensor_type(f: &Function, v: Value) -> Option<TensorType> {
    f.value_type(v).as_tensor().cloned()
}

fn result(f: &Function, op: Op) -> Value {
    f.ops[op].results[0]
}

/// The op defining `v` when it has the name `name`.
fn defined_by(f: &Function, v: Value, name: &str) -> Option<Op> {
    f.defining_op(v).filter(|&op| f.ops[op].name() == name)
}

/// The quantized value `v` is the dequantization of.
fn dequantized(f: &Function, v: Value) -> Option<Value> {
    defined_by(f, v, "quant.dequantize").map(|op| f.ops[op].operands[0])
}

fn uses(f: &Function, v: Value) -> usize {
    f.walk().iter().map(|&op| f.ops[op].operands.iter().filter(|&&o| o == v).count()).sum()
}

/// Phase 1: `storage_cast(constant)` becomes a constant of the cast type.
fn retype_constant(f: &mut Function, cast: Op) -> bool {
    let Some(c) = f.defining_op(f.ops[cast].operands[0]) else { return false };
    if !f.ops[c].def.has_trait(Trait::ConstantLike) {
        return false;
    }
    let Some(ty) = tensor_type(f, result(f, cast)) else { return false };
    let value = match f.ops[c].attr("value") {
        Some(Attribute::Dense(d)) => Attribute::Dense(DenseAttr { ty: ty.clone(), data: d.data.clone() }),
        Some(Attribute::Resource { name, .. }) => Attribute::Resource { name: name.clone(), ty: ty.clone() },
        _ => return false,
    };
    let spec = NewOp::new(&builtin::CONSTANT, vec![], vec![Type::Tensor(ty)]).attr("value", value).at(&f.ops[cast]);
    replace(f, cast, spec)
}

/// Replaces `old` (one result) by a new op built from `spec`, placed
/// before it.
fn replace(f: &mut Function, old: Op, spec: NewOp) -> bool {
    let new = f.insert_op_before(old, spec);
    let (from, to) = (result(f, old), result(f, new));
    f.replace_all_uses(from, to);
    f.remove_ops(&[old]);
    true
}

/// Phase 2: a cast back to the type the operand's cast came from.
fn join_casts(f: &mut Function, cast: Op) -> bool {
    let Some(inner) = defined_by(f, f.ops[cast].operands[0], "quant.storage_cast") else { return false };
    let original = f.ops[inner].operands[0];
    if f.value_type(original) != f.value_type(result(f, cast)) {
        return false;
    }
    let from = result(f, cast);
    f.replace_all_uses(from, original);
    f.remove_ops(&[cast]);
    true
}

/// An operand of a planned op: an existing value, or the result of the
/// planned op before it.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Arg {
    Value(Value),
    Previous,
}

/// A planned op: definition, operands, result type, attributes.
struct Planned {
    def: &'static OpDef,
    operands: Vec<Arg>,
    result: TensorType,
    attrs: Attrs,
}

impl Planned {
    fn new(def: &'static OpDef, operands: Vec<Arg>, result: TensorType) -> Planned {
        Planned { def, operands, result, attrs: Attrs::new() }
    }
}

/// True when every planned op's result check accepts its types.
fn valid(f: &Function, steps: &[Planned]) -> bool {
    let mut previous: Option<Type> = None;
    for step in steps {
        let types: Option<Vec<Type>> = step
            .operands
            .iter()
            .map(|a| match a {
                Arg::Value(v) => Some(f.value_type(*v).clone()),
                Arg::Previous => previous.clone(),
            })
            .collect();
        let Some(types) = types else { return false };
        let refs: Vec<&Type> = types.iter().collect();
        let result = Type::Tensor(step.result.clone());
        if let Some(check) = step.def.verify_results {
            if check(&OpInfo::new(&refs, &step.attrs), &[&result]).is_err() {
                return false;
            }
        }
        previous = Some(result);
    }
    true
}

/// Phase 3: the float op feeding `quantize` (and only it) becomes an
/// integer op of the quantize's type.
fn fold_into_quantize(f: &mut Function, quantize: Op) -> bool {
    let y = f.ops[quantize].operands[0];
    let Some(p) = f.defining_op(y) else { return false };
    let Some(target) = tensor_type(f, result(f, quantize)) else { return false };
    if uses(f, y) != 1 {
        return false;
    }
    let plan = match f.ops[p].name() {
        "nn.matmul" => matmul_plan(f, p, None, &target),
        "nn.add" => bias_plan(f, p, &target).or_else(|| binary_plan(f, p, &quant::QADD, &target)),
        "nn.mul" => binary_plan(f, p, &quant::QMUL, &target),
        "nn.reshape" | "nn.transpose" => layout_plan(f, p, &target),
        _ => None,
    };
    let Some(steps) = plan.filter(|s| valid(f, s)) else { return false };
    emit(f, quantize, steps);
    true
}

/// Creates the planned ops before `at` and gives `at`'s result to the last
/// one.
fn emit(f: &mut Function, at: Op, steps: Vec<Planned>) {
    let mut last: Option<Value> = None;
    for step in steps {
        let operands: Vec<Value> = step
            .operands
            .iter()
            .filter_map(|a| match a {
                Arg::Value(v) => Some(*v),
                Arg::Previous => last,
            })
            .collect();
        let spec = NewOp { attrs: step.attrs, ..NewOp::new(step.def, operands, vec![Type::Tensor(step.result)]) }
            .at(&f.ops[at]);
        let op = f.insert_op_before(at, spec);
        last = Some(result(f, op));
    }
    if let Some(v) = last {
        let from = result(f, at);
        f.replace_all_uses(from, v);
        f.remove_ops(&[at]);
    }
}

/// `qmatmul(qa, qw [, bias])`, then a requantize to `target` (or a
/// dequantize to a float `target`).
fn matmul_plan(f: &Function, mm: Op, bias: Option<Tensor>, target: &TensorType) -> Option<Vec<Planned>> {
    let [a, w] = f.ops[mm].operands[..] else { return None };
    let (qa, qw) = (dequantized(f, a)?, dequantized(f, w)?);
    let (at, wt) = (tensor_type(f, qa)?, tensor_type(f, w).and_then(|_| tensor_type(f, qw))?);
    let sa = match &at.elem {
        ElemType::Quant(q) => match q.params {
            QuantParams::PerTensor { scale, .. } => scale,
            QuantParams::PerChannel { .. } => return None,
        },
        _ => return None,
    };
    let scales: Vec<f64> = weight_scales(&wt.elem)?.iter().map(|s| sa * s).collect();
    let out = tensor_type(f, result(f, mm))?;
    let acc = TensorType::new(out.dims.clone(), accumulator(&scales, out.rank()));
    let mut operands = vec![Arg::Value(qa), Arg::Value(qw)];
    let mut steps = Vec::new();
    if let Some(b) = bias {
        let (ty, data) = bias_type(&b, &scales)?;
        let mut constant = Planned::new(&builtin::CONSTANT, vec![], ty.clone());
        constant.attrs.insert("value".into(), Attribute::Dense(DenseAttr { ty, data }));
        steps.push(constant);
        operands.push(Arg::Previous);
    }
    steps.push(Planned::new(&quant::QMATMUL, operands, acc));
    let last = if target.elem.is_float() { &quant::DEQUANTIZE } else { &quant::REQUANTIZE };
    steps.push(Planned::new(last, vec![Arg::Previous], target.clone()));
    Some(steps)
}

/// The bias requantized to the accumulator's scales, 32-bit.
fn bias_type(b: &Tensor, scales: &[f64]) -> Option<(TensorType, TensorData)> {
    let n = b.numel() as usize;
    let q = (0..n)
        .map(|j| {
            let x = match b.data.get(j) {
                Scalar::Float(x) => x,
                Scalar::Int(v) => v as f64,
            };
            let s = if scales.len() == 1 { scales[0] } else { *scales.get(j)? };
            Some(quantize_real(x, s, 0, qrange(32, true)))
        })
        .collect::<Option<Vec<i64>>>()?;
    let elem = accumulator(scales, 1);
    Some((TensorType::fixed(&[n as u64], elem), TensorData::Int(q)))
}

fn weight_scales(e: &ElemType) -> Option<Vec<f64>> {
    match e {
        ElemType::Quant(q) => Some(scales_of(q).to_vec()),
        ElemType::Bin(b) => Some(match &**b {
            weft_ir::types::QuantBin::PerTensor { scale } => vec![*scale],
            weft_ir::types::QuantBin::PerChannel { scales, .. } => scales.clone(),
        }),
        _ => None,
    }
}

fn accumulator(scales: &[f64], rank: usize) -> ElemType {
    let params = match scales {
        [s] => QuantParams::PerTensor { scale: *s, zp: 0 },
        _ => QuantParams::PerChannel {
            axis: rank.saturating_sub(1) as u32,
            scales: scales.to_vec(),
            zps: vec![0; scales.len()],
        },
    };
    ElemType::Quant(Box::new(QuantInt { width: 32, signed: true, params }))
}

/// `nn.add(matmul, bias)`: the matmul of dequantized values with a
/// constant bias row (a float constant, or the dequantization of an
/// integer constant) folds into one qmatmul.
fn bias_plan(f: &Function, add: Op, target: &TensorType) -> Option<Vec<Planned>> {
    let ops = &f.ops[add].operands;
    let (mm, other) = ops.iter().find_map(|&v| {
        let mm = defined_by(f, v, "nn.matmul")?;
        let other = *ops.iter().find(|&&o| o != v)?;
        (uses(f, v) == 1).then_some((mm, other))
    })?;
    let bias = constant_value(f, other)?;
    let out = tensor_type(f, result(f, mm))?;
    let columns = out.dims.last()?.fixed()?;
    let row = bias.shape.last() == Some(&columns) && bias.shape.iter().rev().skip(1).all(|&d| d == 1);
    let same_shape = tensor_type(f, result(f, add))?.dims == out.dims;
    if !(row && same_shape) {
        return None;
    }
    matmul_plan(f, mm, Some(Tensor { shape: vec![columns], ..bias }), target)
}

/// The real value of a float constant, or of the dequantization of a
/// quantized constant (inline only; large biases are rare).
fn constant_value(f: &Function, v: Value) -> Option<Tensor> {
    if let Some(q) = dequantized(f, v) {
        let t = f.dense_constant(q)?.to_tensor()?;
        let eval = quant::DEQUANTIZE.eval?;
        return eval(&[t], &Attrs::new(), &[f.value_type(v).clone()]).ok()?.into_iter().next();
    }
    let t = f.dense_constant(v)?.to_tensor()?;
    t.elem.is_float().then_some(t)
}

/// `op(dq(a), dq(b))` as `quant_op(a, b)` of the target type.
fn binary_plan(f: &Function, op: Op, def: &'static OpDef, target: &TensorType) -> Option<Vec<Planned>> {
    let [a, b] = f.ops[op].operands[..] else { return None };
    let (qa, qb) = (dequantized(f, a)?, dequantized(f, b)?);
    Some(vec![Planned::new(def, vec![Arg::Value(qa), Arg::Value(qb)], target.clone())])
}

/// A reshape or transpose of a dequantized value, quantized back to the
/// same type, moves the integers.
fn layout_plan(f: &Function, op: Op, target: &TensorType) -> Option<Vec<Planned>> {
    let [x] = f.ops[op].operands[..] else { return None };
    let q = dequantized(f, x)?;
    if tensor_type(f, q)?.elem != target.elem {
        return None;
    }
    let mut step = Planned::new(f.ops[op].def, vec![Arg::Value(q)], target.clone());
    step.attrs = f.ops[op].attrs.clone();
    Some(vec![step])
}

/// An `nn.matmul` of dequantized values whose result stays float: a
/// qmatmul whose accumulator is dequantized.
fn fold_float_matmul(f: &mut Function, mm: Op) -> bool {
    let r = result(f, mm);
    let feeds_quantize = f.walk().iter().any(|&op| {
        let data = &f.ops[op];
        data.operands.contains(&r) && matches!(data.name(), "quant.quantize" | "nn.add")
    });
    let Some(target) = tensor_type(f, r) else { return false };
    if feeds_quantize || !target.elem.is_float() {
        return false;
    }
    let Some(steps) = matmul_plan(f, mm, None, &target).filter(|s| valid(f, s)) else {
        return false;
    };
    emit(f, mm, steps);
    true
}
