//! The per-op rules of the `quantize` pass: which nn ops become quant ops
//! and how.
//!
//! - `nn.matmul` with constant weights: the activation is quantized, the
//!   weights are quantized at compile time (per output channel), a
//!   following `nn.add` of a constant bias row is folded into the
//!   `quant.qmatmul` as its 32-bit bias, and the accumulator is
//!   requantized to the activation type of the result. Between two
//!   activations (attention), both are quantized per tensor.
//! - `nn.add` / `nn.sub` / `nn.mul` / `nn.div` become `quant.qadd` /
//!   `quant.qmul` when every non-constant operand already exists quantized
//!   and any constant is a single number (represented exactly); otherwise
//!   they stay in float.
//! - `nn.reshape` / `nn.transpose` of a quantized value move the integers.
//! - Nonlinear ops become their `quant.*` counterpart when the context has
//!   it (the nl dialect's `quant.softmax`, `quant.gelu`, `quant.layer_norm`,
//!   ...); otherwise they stay in float between a dequantize and the next
//!   quantize.
//! - Everything else stays in float.
//!
//! Invariants: a rule that returns `Ok(false)` has created nothing; every
//! quantized result is recorded as standing for the original result, so
//! float users get a `quant.dequantize` of it.

use super::rewrite::{exact_scalar, is_layout, per_tensor, tensor_scale, Rewriter};
use super::scheme::Precision;
use super::weights::{quantize_bias, quantize_weights};
use weft_ir::ops::quant;
use weft_ir::tensor::Tensor;
use weft_ir::types::{ElemType, QuantBin, QuantInt, QuantParams};
use weft_ir::{Attrs, Diagnostic, Op, TensorType, Value};

/// nn ops and the quant ops that replace them when the context has them.
pub const NONLINEAR: &[(&str, &str)] = &[
    ("nn.softmax", "quant.softmax"),
    ("nn.gelu", "quant.gelu"),
    ("nn.layer_norm", "quant.layer_norm"),
    ("nn.sigmoid", "quant.sigmoid"),
    ("nn.silu", "quant.silu"),
    ("nn.tanh", "quant.tanh"),
    ("nn.exp", "quant.exp"),
    ("nn.reciprocal", "quant.reciprocal"),
    ("nn.sqrt", "quant.sqrt"),
];

/// Decides and performs the rewrite of `op`; `Ok(false)` keeps it.
pub fn rewrite_op(rw: &mut Rewriter, op: Op) -> Result<bool, Diagnostic> {
    let name = rw.f.ops[op].name();
    if is_layout(name) {
        return layout(rw, op);
    }
    let p = rw.precision(op);
    if p.skip {
        return Ok(false);
    }
    match name {
        "nn.matmul" => matmul(rw, op, &p),
        "nn.add" | "nn.sub" => add(rw, op, &p, name == "nn.sub"),
        "nn.mul" | "nn.div" => mul(rw, op, &p, name == "nn.div"),
        _ => match NONLINEAR.iter().find(|(n, _)| *n == name) {
            Some((_, q)) => nonlinear(rw, op, &p, q),
            None => Ok(false),
        },
    }
}

fn operands(rw: &Rewriter, op: Op) -> Vec<Value> {
    rw.f.ops[op].operands.clone()
}

fn result(rw: &Rewriter, op: Op) -> Value {
    rw.f.ops[op].results[0]
}

fn is_float(rw: &Rewriter, v: Value) -> bool {
    rw.elem(v).is_float()
}

/// `v` quantized as a matmul operand: `p.acts` bits.
fn act(rw: &mut Rewriter, v: Value, p: &Precision, at: Op) -> Result<Value, Diagnostic> {
    let elem = rw.act_elem(v, p, p.acts, at)?;
    rw.quant_of(v, &elem, at)
}

/// `v` quantized as the operand of an elementwise or nonlinear op: the
/// wide bits (`p.wide_acts`), unless it already exists quantized at the
/// activation bits or more (then that value is used as it is).
fn wide(rw: &mut Rewriter, v: Value, p: &Precision, at: Op) -> Result<Value, Diagnostic> {
    if let Some(q) = rw.quantized(v).filter(|&q| width(&rw.elem(q)) >= p.acts && tensor_scale(&rw.elem(q)).is_some()) {
        return Ok(q);
    }
    let elem = rw.act_elem(v, p, p.wide_acts.max(p.acts), at)?;
    rw.quant_of(v, &elem, at)
}

fn width(e: &ElemType) -> u8 {
    match e {
        ElemType::Quant(q) => q.width,
        _ => 0,
    }
}

/// The calibrated type of the result `v` (see [`Rewriter::result_bits`]).
fn result_elem(rw: &Rewriter, v: Value, p: &Precision, at: Op) -> Result<ElemType, Diagnostic> {
    rw.act_elem(v, p, rw.result_bits(v, p), at)
}

/// The type of the original value `v` with element type `elem`.
fn with_elem(rw: &Rewriter, v: Value, elem: ElemType) -> TensorType {
    TensorType::new(rw.tensor_type(v).dims, elem)
}

fn matmul(rw: &mut Rewriter, op: Op, p: &Precision) -> Result<bool, Diagnostic> {
    let [x, w] = operands(rw, op)[..] else { return Ok(false) };
    if !is_float(rw, x) || !is_float(rw, w) {
        return Ok(false);
    }
    if let Some(qw) = imported_weights(rw, w) {
        return weight_matmul(rw, op, p, x, qw, "imported");
    }
    match rw.float_constant(w) {
        Some(weights) => {
            let axis = weight_axis(rw, op, p, &weights)?;
            let qw = quantize_weights(&weights, p, axis);
            let index = weft_ir::entity::EntityRef::index(op);
            let name = format!("{}.{}", rw.resource_name(w).unwrap_or_else(|| format!("weight{index}")), p.weights);
            let wc = rw.constant(qw, &name, op)?;
            weight_matmul(rw, op, p, x, wc, &name)
        }
        None => activation_matmul(rw, op, p, x, w),
    }
}

/// The quantized constant an imported model's weights are the
/// dequantization of (`fold-qdq` makes them): used as they are, when they
/// are per tensor or per output channel.
fn imported_weights(rw: &Rewriter, w: Value) -> Option<Value> {
    let dq = rw.f.defining_op(w).filter(|&d| rw.f.ops[d].name() == "quant.dequantize")?;
    let q = rw.f.ops[dq].operands[0];
    let c = rw.f.defining_op(q)?;
    if !rw.f.ops[c].def.has_trait(weft_ir::ops::Trait::ConstantLike) {
        return None;
    }
    let t = rw.tensor_type(q);
    let last = t.rank().saturating_sub(1) as u32;
    let along_last = match &t.elem {
        ElemType::Quant(q) => match q.params {
            QuantParams::PerTensor { .. } => true,
            QuantParams::PerChannel { axis, .. } => axis == last,
        },
        ElemType::Bin(b) => !matches!(**b, QuantBin::PerChannel { axis, .. } if axis != last),
        _ => false,
    };
    along_last.then_some(q)
}

/// `x @ W (+ bias)` with the constant quantized weights `wc`.
fn weight_matmul(
    rw: &mut Rewriter,
    op: Op,
    p: &Precision,
    x: Value,
    wc: Value,
    name: &str,
) -> Result<bool, Diagnostic> {
    let qx = act(rw, x, p, op)?;
    let sa = tensor_scale(&rw.elem(qx)).unwrap_or(1.0);
    let acc_scales: Vec<f64> = weight_scales(&rw.elem(wc)).iter().map(|s| sa * s).collect();
    let mut ins = vec![qx, wc];
    let mut out = result(rw, op);
    if let Some((add, bias)) = bias_of(rw, op) {
        let qb = quantize_bias(&bias, &acc_scales);
        ins.push(rw.constant(qb, &format!("{name}.bias"), op)?);
        rw.absorbed.insert(add);
        out = result(rw, add);
    }
    let rank = rw.tensor_type(result(rw, op)).rank();
    let acc_ty = with_elem(rw, result(rw, op), accumulator(&acc_scales, rank));
    let acc = rw.emit(&quant::QMATMUL, ins, acc_ty, Attrs::new(), op);
    let out_elem = result_elem(rw, out, p, op)?;
    let ty = with_elem(rw, out, out_elem);
    let q = rw.emit(&quant::REQUANTIZE, vec![acc], ty, Attrs::new(), op);
    rw.counts.requantize += 1;
    rw.counts.matmuls += 1;
    rw.set_quantized(out, q);
    Ok(true)
}

/// The axis of the per-channel weight scales: the output channels (the
/// last axis); an explicitly requested other axis is an error.
fn weight_axis(rw: &Rewriter, op: Op, p: &Precision, w: &Tensor) -> Result<usize, Diagnostic> {
    let rank = w.shape.len();
    let last = rank.saturating_sub(1);
    let Some(requested) = p.channel_axis else { return Ok(last) };
    let normalized = if requested < 0 { requested + rank as i64 } else { requested };
    if !(0..rank as i64).contains(&normalized) {
        let msg = format!("per-channel axis {requested} does not exist in its weights of rank {rank} ({})", w.ty());
        return Err(rw.error(op, msg));
    }
    if normalized as usize != last {
        let msg = format!(
            "per-channel weight scales must be along the output channels (axis {last} of {}), got axis {requested}",
            w.ty()
        );
        return Err(rw.error(op, msg).note("a scale per input channel cannot be factored out of the matmul's sums"));
    }
    Ok(last)
}

fn weight_scales(e: &ElemType) -> Vec<f64> {
    match e {
        ElemType::Quant(q) => match &q.params {
            QuantParams::PerTensor { scale, .. } => vec![*scale],
            QuantParams::PerChannel { scales, .. } => scales.clone(),
        },
        ElemType::Bin(b) => match &**b {
            QuantBin::PerTensor { scale } => vec![*scale],
            QuantBin::PerChannel { scales, .. } => scales.clone(),
        },
        _ => vec![1.0],
    }
}

/// The 32-bit accumulator type with these scales (per channel along the
/// last axis of a rank-`rank` result when there are several).
fn accumulator(scales: &[f64], rank: usize) -> ElemType {
    match scales {
        [s] => per_tensor(32, true, *s, 0),
        _ => ElemType::Quant(Box::new(QuantInt {
            width: 32,
            signed: true,
            params: QuantParams::PerChannel {
                axis: rank.saturating_sub(1) as u32,
                scales: scales.to_vec(),
                zps: vec![0; scales.len()],
            },
        })),
    }
}

/// The only user of the matmul's result, when it adds a constant row of
/// one value per output column without changing the shape.
fn bias_of(rw: &Rewriter, op: Op) -> Option<(Op, Tensor)> {
    let r = result(rw, op);
    let [add] = rw.users.get(&r)?[..] else { return None };
    let data = &rw.f.ops[add];
    if data.name() != "nn.add" || rw.precision(add).skip {
        return None;
    }
    let other = *data.operands.iter().find(|&&v| v != r)?;
    let bias = rw.float_constant(other)?;
    let out = rw.tensor_type(data.results[0]);
    let columns = out.dims.last()?.fixed()?;
    let row = bias.shape.last() == Some(&columns) && bias.shape.iter().rev().skip(1).all(|&d| d == 1);
    let same_shape = out.dims == rw.tensor_type(r).dims && bias.shape.len() <= out.dims.len();
    (row && same_shape).then(|| (add, Tensor { shape: vec![columns], ..bias }))
}

/// `a @ b` between two activations, both per tensor.
fn activation_matmul(rw: &mut Rewriter, op: Op, p: &Precision, a: Value, b: Value) -> Result<bool, Diagnostic> {
    let qa = act(rw, a, p, op)?;
    let qb = act(rw, b, p, op)?;
    let scale = tensor_scale(&rw.elem(qa)).unwrap_or(1.0) * tensor_scale(&rw.elem(qb)).unwrap_or(1.0);
    let r = result(rw, op);
    let acc_ty = with_elem(rw, r, per_tensor(32, true, scale, 0));
    let acc = rw.emit(&quant::QMATMUL, vec![qa, qb], acc_ty, Attrs::new(), op);
    let elem = result_elem(rw, r, p, op)?;
    let ty = with_elem(rw, r, elem);
    let q = rw.emit(&quant::REQUANTIZE, vec![acc], ty, Attrs::new(), op);
    rw.counts.requantize += 1;
    rw.counts.matmuls += 1;
    rw.set_quantized(r, q);
    Ok(true)
}

/// The operands of a binary elementwise op as quantized values: each is
/// either already quantized or a one-element constant, which `map` turns
/// into the real that represents it (`-c` for a subtrahend, `1/c` for a
/// divisor; `None` refuses it) and which becomes an exact rank-0 constant.
/// `None` (having created nothing) when the op cannot be quantized so.
fn elementwise_operands(
    rw: &mut Rewriter,
    op: Op,
    p: &Precision,
    map: impl Fn(usize, f64) -> Option<f64>,
) -> Result<Option<[Value; 2]>, Diagnostic> {
    let ins = operands(rw, op);
    let [a, b] = ins[..] else { return Ok(None) };
    let result_dims = rw.tensor_type(result(rw, op)).dims;
    let mut constants: [Option<Tensor>; 2] = [None, None];
    for (i, &v) in [a, b].iter().enumerate() {
        match scalar_constant(rw, v) {
            Some(c) => match map(i, c).and_then(exact_scalar) {
                Some(t) => constants[i] = Some(t),
                None => return Ok(None),
            },
            // A rank-0 constant must not change the result's shape.
            None if !(is_float(rw, v) && rw.is_quantized(v)) => return Ok(None),
            None => {}
        }
    }
    let activations: Vec<Value> =
        [a, b].into_iter().zip(&constants).filter(|(_, c)| c.is_none()).map(|(v, _)| v).collect();
    let shape_kept =
        constants.iter().all(Option::is_none) || activations.iter().all(|&v| rw.tensor_type(v).dims == result_dims);
    if activations.is_empty() || !shape_kept {
        return Ok(None);
    }
    let mut out = [a, b];
    for (i, c) in constants.into_iter().enumerate() {
        out[i] = match c {
            Some(t) => rw.constant(t, "scalar", op)?,
            None => wide(rw, out[i], p, op)?,
        };
    }
    Ok(Some(out))
}

/// The single number of a one-element float constant.
fn scalar_constant(rw: &Rewriter, v: Value) -> Option<f64> {
    let t = rw.float_constant(v)?;
    if t.numel() != 1 {
        return None;
    }
    match t.data.get(0) {
        weft_ir::tensor::Scalar::Float(x) => Some(x),
        weft_ir::tensor::Scalar::Int(i) => Some(i as f64),
    }
}

fn add(rw: &mut Rewriter, op: Op, p: &Precision, subtract: bool) -> Result<bool, Diagnostic> {
    // x - c is x + (-c); a subtraction of an activation stays in float.
    if subtract && scalar_constant(rw, operands(rw, op)[1]).is_none() {
        return Ok(false);
    }
    let map = |i: usize, c: f64| match (subtract, i) {
        (false, _) => Some(c),
        (true, 1) => Some(-c),
        (true, _) => None,
    };
    let Some(ins) = elementwise_operands(rw, op, p, map)? else { return Ok(false) };
    finish_elementwise(rw, op, p, &quant::QADD, ins)
}

fn mul(rw: &mut Rewriter, op: Op, p: &Precision, divide: bool) -> Result<bool, Diagnostic> {
    // x / c is x * (1 / c); a division by an activation stays in float.
    if divide && scalar_constant(rw, operands(rw, op)[1]).is_none() {
        return Ok(false);
    }
    let map = |i: usize, c: f64| match (divide, i) {
        (false, _) => Some(c),
        (true, 1) => Some(1.0 / c),
        (true, _) => None,
    };
    let Some(ins) = elementwise_operands(rw, op, p, map)? else { return Ok(false) };
    finish_elementwise(rw, op, p, &quant::QMUL, ins)
}

fn finish_elementwise(
    rw: &mut Rewriter,
    op: Op,
    p: &Precision,
    def: &'static weft_ir::OpDef,
    ins: [Value; 2],
) -> Result<bool, Diagnostic> {
    let r = result(rw, op);
    let elem = result_elem(rw, r, p, op)?;
    let ty = with_elem(rw, r, elem);
    let q = rw.emit(def, ins.to_vec(), ty, Attrs::new(), op);
    rw.counts.elementwise += 1;
    rw.set_quantized(r, q);
    Ok(true)
}

/// A reshape or transpose of a quantized value moves its integers.
fn layout(rw: &mut Rewriter, op: Op) -> Result<bool, Diagnostic> {
    let [x] = operands(rw, op)[..] else { return Ok(false) };
    let Some(qx) = rw.quantized(x) else { return Ok(false) };
    let elem = rw.elem(qx);
    if tensor_scale(&elem).is_none() {
        return Ok(false);
    }
    let r = result(rw, op);
    let ty = with_elem(rw, r, elem);
    let (def, attrs) = (rw.f.ops[op].def, rw.f.ops[op].attrs.clone());
    let q = rw.emit(def, vec![qx], ty, attrs, op);
    rw.counts.layout += 1;
    rw.set_quantized(r, q);
    Ok(true)
}

/// A nonlinear op as its quant counterpart, when the context has it: the
/// first operand quantized, the others (LayerNorm's gamma and beta) float.
fn nonlinear(rw: &mut Rewriter, op: Op, p: &Precision, quant_name: &str) -> Result<bool, Diagnostic> {
    let Some(def) = rw.ctx.lookup(quant_name) else { return Ok(false) };
    let ins = operands(rw, op);
    let Some((&x, rest)) = ins.split_first() else { return Ok(false) };
    if !is_float(rw, x) {
        return Ok(false);
    }
    let mut new_ins = vec![wide(rw, x, p, op)?];
    for &v in rest {
        new_ins.push(rw.float_of(v, op)?);
    }
    let r = result(rw, op);
    let elem = result_elem(rw, r, p, op)?;
    let ty = with_elem(rw, r, elem);
    let attrs = rw.f.ops[op].attrs.clone();
    let q = rw.emit(def, new_ins, ty, attrs, op);
    rw.counts.nonlinear += 1;
    rw.set_quantized(r, q);
    Ok(true)
}
