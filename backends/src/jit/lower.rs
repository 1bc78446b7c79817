//! Lowering: one nn op (with the places of its operands and results) to a
//! [`Kernel`]. This is where the JIT's op coverage is decided: an op not
//! handled here is an error naming it, never a fallback.
//!
//! Invariants: every operand and result type is static with a storage
//! (checked by the caller); attributes are re-read and checked here, so a
//! malformed op is an error, not a panic; the semantics follow each op's
//! reference `eval` in weft-ir (see spec/jit.md for the numeric
//! conventions).

use super::kernel::{row_major, Access, BinOp, Clip, CmpOp, Expr, Kernel, Part, ReduceKind, UnOp};
use super::plan::Place;
use super::storage::Storage;
use weft_ir::attr::Attribute;
use weft_ir::ops::eval::{round_to, wrap_int};
use weft_ir::ops::shape::normalize_axis;
use weft_ir::{ElemType, OpData};

/// An operand or result as lowering sees it.
#[derive(Debug, Clone)]
pub(crate) struct Operand {
    pub place: Place,
    pub st: Storage,
    pub elem: ElemType,
    pub shape: Vec<u64>,
}

impl Operand {
    fn contiguous(&self) -> Access {
        Access::contiguous(self.place, self.st, &self.shape)
    }

    fn broadcast_to(&self, out: &[u64]) -> Access {
        Access::broadcast(self.place, self.st, &self.shape, out)
    }
}

/// The kernel of `op`; `Ok(None)` for ops that need no code (reshape, hw.apply).
pub(crate) fn lower(op: &OpData, ins: &[Operand], outs: &[Operand]) -> Result<Option<Kernel>, String> {
    let name = op.name();
    let out = outs.first().ok_or("the op has no result")?;
    let mut kernel = Kernel { parts: Vec::new(), gather_error: String::new(), tables: Vec::new() };
    let part = match name {
        "nn.reshape" | "hw.apply" => return Ok(None),
        "nn.add" | "nn.sub" | "nn.mul" | "nn.div" | "nn.pow" | "nn.max" | "nn.min" => {
            let op = binop(name);
            map2(ins, out, |a, b| Expr::Binary(op, ins[0].st, a, b))?
        }
        "nn.equal" | "nn.less" | "nn.less_equal" | "nn.greater" | "nn.greater_equal" => {
            let op = cmpop(name);
            map2(ins, out, |a, b| Expr::Compare(op, ins[0].st, a, b))?
        }
        "nn.and" => map2(ins, out, Expr::And)?,
        "nn.or" => map2(ins, out, Expr::Or)?,
        "nn.select" => map_n(ins, out, 3, Expr::Select(input(0), input(1), input(2)))?,
        "nn.cast" => map_n(ins, out, 1, Expr::Cast { from: ins[0].st, to: out.st, x: input(0) })?,
        "nn.clip" => map_n(ins, out, 1, Expr::Clip(out.st, clip_bounds(op, &out.elem)?, input(0)))?,
        "nn.gelu" => {
            let f = match op.attr("approximate").and_then(Attribute::as_str).unwrap_or("none") {
                "none" => UnOp::GeluErf,
                "tanh" => UnOp::GeluTanh,
                other => return Err(format!("unknown approximation \"{other}\"")),
            };
            map_n(ins, out, 1, Expr::Unary(f, out.st, input(0)))?
        }
        "nn.silu" => {
            let sigmoid = Box::new(Expr::Unary(UnOp::Sigmoid, out.st, input(0)));
            map_n(ins, out, 1, Expr::Binary(BinOp::Mul, out.st, input(0), sigmoid))?
        }
        _ if unop(name).is_some() => {
            let f = unop(name).ok_or("no unary op")?;
            map_n(ins, out, 1, Expr::Unary(f, out.st, input(0)))?
        }
        "nn.transpose" => transpose(op, arg(ins, 0)?, out)?,
        "nn.broadcast" => {
            let x = arg(ins, 0)?;
            Part::Map {
                shape: out.shape.clone(),
                out: out.contiguous(),
                inputs: vec![x.broadcast_to(&out.shape)],
                expr: *input(0),
            }
        }
        "nn.slice" => slice(op, arg(ins, 0)?, out)?,
        "nn.concat" => {
            kernel.parts = concat(op, ins, out)?;
            return Ok(Some(kernel));
        }
        "nn.gather" => gather(op, ins, out, &mut kernel.gather_error)?,
        "nn.matmul" => super::lower_matmul::matmul(ins, out)?,
        "nn.reduce_sum" | "nn.reduce_mean" | "nn.reduce_max" => reduce(op, arg(ins, 0)?, out)?,
        "nn.softmax" | "nn.log_softmax" => softmax(op, arg(ins, 0)?, out, name == "nn.log_softmax")?,
        "nn.layer_norm" => layer_norm(op, ins, out)?,
        "nn.attention" => return Err("is expanded before lowering (see `expand_composites`)".into()),
        "nn.conv" => {
            kernel.parts = super::lower_conv_gemm::conv(super::lower_conv::conv(op, ins, out)?);
            return Ok(Some(kernel));
        }
        "nn.conv_transpose" => super::lower_conv_transpose::conv_transpose(op, ins, out)?,
        "nn.resize" => super::lower_resize::resize(op, arg(ins, 0)?, out)?,
        _ if name.starts_with("nl.") => super::lower_nl::lower(op, ins, out)?,
        _ if name.starts_with("quant.") => return super::lower_quant::lower(op, ins, outs, kernel),
        _ => return Err(unsupported(name)),
    };
    kernel.parts.push(part);
    Ok(Some(kernel))
}

/// A function with its composite ops expanded, and what each replaced
/// result became.
pub(crate) type Expanded = (weft_ir::Function, std::collections::HashMap<weft_ir::Value, weft_ir::Value>);

/// `func` with its composite ops (`nn.attention`) replaced by the ops they
/// are defined as, when it has any: the JIT compiles those, with the same
/// bits. Also maps each replaced result to the value that now computes it.
/// `Ok(None)` when there is nothing to expand.
pub(crate) fn expand_composites(func: &weft_ir::Function) -> Result<Option<Expanded>, (weft_ir::Op, String)> {
    let composite = |o: &weft_ir::Op| func.ops[*o].name() == weft_ir::ops::nn::ATTENTION.name;
    let ops: Vec<weft_ir::Op> = func.walk().into_iter().filter(composite).collect();
    if ops.is_empty() {
        return Ok(None);
    }
    let mut expanded = func.clone();
    let mut replaced = std::collections::HashMap::new();
    for op in ops {
        let old = expanded.ops[op].results.first().copied();
        let new = weft_ir::ops::nn::attention::expand(&mut expanded, op).map_err(|e| (op, e))?;
        if let Some(old) = old {
            replaced.insert(old, new);
        }
    }
    Ok(Some((expanded, replaced)))
}

/// The message for an op the JIT cannot compile.
pub(crate) fn unsupported(name: &str) -> String {
    format!("the JIT does not compile '{name}' yet; use --engine interp")
}

fn input(i: usize) -> Box<Expr> {
    Box::new(Expr::Input(i))
}

pub(crate) fn arg(ins: &[Operand], i: usize) -> Result<&Operand, String> {
    ins.get(i).ok_or_else(|| format!("operand #{i} is missing"))
}

fn binop(name: &str) -> BinOp {
    match name {
        "nn.add" => BinOp::Add,
        "nn.sub" => BinOp::Sub,
        "nn.mul" => BinOp::Mul,
        "nn.div" => BinOp::Div,
        "nn.pow" => BinOp::Pow,
        "nn.max" => BinOp::Max,
        _ => BinOp::Min,
    }
}

fn cmpop(name: &str) -> CmpOp {
    match name {
        "nn.equal" => CmpOp::Eq,
        "nn.less" => CmpOp::Lt,
        "nn.less_equal" => CmpOp::Le,
        "nn.greater" => CmpOp::Gt,
        _ => CmpOp::Ge,
    }
}

fn unop(name: &str) -> Option<UnOp> {
    Some(match name {
        "nn.neg" => UnOp::Neg,
        "nn.abs" => UnOp::Abs,
        "nn.relu" => UnOp::Relu,
        "nn.reciprocal" => UnOp::Reciprocal,
        "nn.sqrt" => UnOp::Sqrt,
        "nn.exp" => UnOp::Exp,
        "nn.log" => UnOp::Log,
        "nn.erf" => UnOp::Erf,
        "nn.tanh" => UnOp::Tanh,
        "nn.sigmoid" => UnOp::Sigmoid,
        "nn.not" => UnOp::Not,
        _ => return None,
    })
}

/// An elementwise map of two broadcast operands.
fn map2(ins: &[Operand], out: &Operand, f: impl FnOnce(Box<Expr>, Box<Expr>) -> Expr) -> Result<Part, String> {
    map_n(ins, out, 2, f(input(0), input(1)))
}

/// An elementwise map of `n` operands broadcast to the result's shape.
fn map_n(ins: &[Operand], out: &Operand, n: usize, expr: Expr) -> Result<Part, String> {
    if ins.len() != n {
        return Err(format!("expected {n} operands, got {}", ins.len()));
    }
    for (i, x) in ins.iter().enumerate() {
        check_broadcast(&x.shape, &out.shape).map_err(|e| format!("operand #{i}: {e}"))?;
    }
    let inputs = ins.iter().map(|x| x.broadcast_to(&out.shape)).collect();
    Ok(Part::Map { shape: out.shape.clone(), out: out.contiguous(), inputs, expr })
}

pub(crate) fn check_broadcast(shape: &[u64], out: &[u64]) -> Result<(), String> {
    let pad = out.len().checked_sub(shape.len()).ok_or("has a higher rank than the result")?;
    for (i, &d) in shape.iter().enumerate() {
        if d != 1 && d != out[pad + i] {
            return Err(format!("shape {shape:?} does not broadcast to {out:?}"));
        }
    }
    Ok(())
}

pub(crate) fn int_attr(op: &OpData, name: &str) -> Result<i64, String> {
    op.attr(name).and_then(Attribute::as_int).ok_or_else(|| format!("attribute '{name}' must be an integer"))
}

pub(crate) fn ints_attr(op: &OpData, name: &str) -> Result<Vec<i64>, String> {
    op.attr(name).and_then(Attribute::as_ints).ok_or_else(|| format!("attribute '{name}' must be an array of integers"))
}

fn transpose(op: &OpData, x: &Operand, out: &Operand) -> Result<Part, String> {
    let perm = ints_attr(op, "perm")?;
    weft_ir::ops::shape::check_perm(&perm, x.shape.len())?;
    let src = row_major(&x.shape);
    let strides = perm.iter().map(|&p| src[p as usize]).collect();
    let src = Access { place: x.place, st: x.st, base: 0, strides };
    Ok(Part::Map { shape: out.shape.clone(), out: out.contiguous(), inputs: vec![src], expr: *input(0) })
}

fn slice(op: &OpData, x: &Operand, out: &Operand) -> Result<Part, String> {
    let (starts, steps) = (ints_attr(op, "starts")?, ints_attr(op, "steps")?);
    let rank = x.shape.len();
    if starts.len() != rank || steps.len() != rank || out.shape.len() != rank {
        return Err(format!("'starts', 'sizes' and 'steps' need {rank} entries each"));
    }
    let src = row_major(&x.shape);
    for d in 0..rank {
        let size = out.shape[d] as i128;
        let (first, last) = (starts[d] as i128, starts[d] as i128 + (size - 1) * steps[d] as i128);
        let inside = |p: i128| p >= 0 && p < x.shape[d] as i128;
        if size > 0 && (!inside(first) || !inside(last)) {
            return Err(format!("dim {d} reads positions {first} to {last}, outside its extent {}", x.shape[d]));
        }
    }
    let base = (0..rank).map(|d| starts[d] * src[d]).sum();
    let strides = (0..rank).map(|d| steps[d] * src[d]).collect();
    let src = Access { place: x.place, st: x.st, base, strides };
    Ok(Part::Map { shape: out.shape.clone(), out: out.contiguous(), inputs: vec![src], expr: *input(0) })
}

fn concat(op: &OpData, ins: &[Operand], out: &Operand) -> Result<Vec<Part>, String> {
    let axis = normalize_axis(int_attr(op, "axis")?, out.shape.len())?;
    let out_strides = row_major(&out.shape);
    let mut at = 0u64;
    let mut parts = Vec::new();
    for x in ins {
        let fits = x.shape.len() == out.shape.len()
            && (0..x.shape.len()).all(|d| d == axis || x.shape[d] == out.shape[d])
            && at + x.shape[axis] <= out.shape[axis];
        if !fits {
            return Err(format!("operand shape {:?} does not fit the concatenation {:?}", x.shape, out.shape));
        }
        if x.shape.iter().product::<u64>() > 0 {
            let dst = Access {
                place: out.place,
                st: out.st,
                base: at as i64 * out_strides[axis],
                strides: out_strides.clone(),
            };
            parts.push(Part::Map { shape: x.shape.clone(), out: dst, inputs: vec![x.contiguous()], expr: *input(0) });
        }
        at += x.shape[axis];
    }
    Ok(parts)
}

fn gather(op: &OpData, ins: &[Operand], out: &Operand, message: &mut String) -> Result<Part, String> {
    let (data, indices) = (arg(ins, 0)?, arg(ins, 1)?);
    let axis = normalize_axis(int_attr(op, "axis")?, data.shape.len())?;
    let extent = *data.shape.get(axis).ok_or("cannot gather from a scalar")?;
    *message = format!("an index is out of range for axis {axis} of extent {extent}");
    Ok(Part::Gather {
        outer: data.shape[..axis].iter().product(),
        extent,
        count: indices.shape.iter().product(),
        inner: data.shape[axis + 1..].iter().product(),
        data: data.contiguous(),
        indices: indices.contiguous(),
        out: out.contiguous(),
    })
}

fn reduce(op: &OpData, x: &Operand, out: &Operand) -> Result<Part, String> {
    let kind = match op.name() {
        "nn.reduce_sum" => ReduceKind::Sum,
        "nn.reduce_mean" => ReduceKind::Mean,
        _ => ReduceKind::Max,
    };
    let rank = x.shape.len();
    let mut axes = Vec::new();
    for a in ints_attr(op, "axes")? {
        let ax = normalize_axis(a, rank)?;
        if rank == 0 || axes.contains(&ax) {
            return Err("'axes' are not distinct axes of the operand".into());
        }
        axes.push(ax);
    }
    let src = row_major(&x.shape);
    let kept: Vec<usize> = (0..rank).filter(|d| !axes.contains(d)).collect();
    axes.sort_unstable();
    let outer: Vec<u64> = kept.iter().map(|&d| x.shape[d]).collect();
    let reduced: Vec<u64> = axes.iter().map(|&d| x.shape[d]).collect();
    let count: u64 = reduced.iter().product();
    if kind == ReduceKind::Mean && !x.st.is_float() {
        if count == 0 {
            return Err("the integer mean of no elements".into());
        }
        // Up to 32 bits the sum is exact in i64; wider ones sum in i128.
        let limit = if matches!(x.st, Storage::Int { width: 0..=32, .. }) { 1u64 << 30 } else { 1 << 32 };
        if count >= limit {
            return Err(format!("the JIT does not compile an integer mean of {count} elements; use --engine interp"));
        }
    }
    let strides = kept.iter().chain(&axes).map(|&d| src[d]).collect();
    let input = Access { place: x.place, st: x.st, base: 0, strides };
    let out_access = Access { place: out.place, st: out.st, base: 0, strides: row_major(&outer) };
    if out.shape.iter().product::<u64>() != outer.iter().product::<u64>() {
        return Err(format!("result shape {:?} does not match the reduction", out.shape));
    }
    Ok(Part::Reduce { kind, outer, reduced, input, out: out_access })
}

fn softmax(op: &OpData, x: &Operand, out: &Operand, log: bool) -> Result<Part, String> {
    let axis = normalize_axis(int_attr(op, "axis")?, x.shape.len())?;
    if x.shape.is_empty() {
        // A scalar is one lane of one element.
        let access = |o: &Operand| Access { place: o.place, st: o.st, base: 0, strides: vec![0] };
        return Ok(Part::Softmax { log, lanes: vec![], n: 1, input: access(x), out: access(out) });
    }
    let src = row_major(&x.shape);
    let order: Vec<usize> = (0..x.shape.len()).filter(|&d| d != axis).chain([axis]).collect();
    let lanes = order[..order.len() - 1].iter().map(|&d| x.shape[d]).collect();
    let strides: Vec<i64> = order.iter().map(|&d| src[d]).collect();
    let input = Access { place: x.place, st: x.st, base: 0, strides: strides.clone() };
    let out = Access { place: out.place, st: out.st, base: 0, strides };
    Ok(Part::Softmax { log, lanes, n: x.shape[axis], input, out })
}

fn layer_norm(op: &OpData, ins: &[Operand], out: &Operand) -> Result<Part, String> {
    let (x, scale, bias) = (arg(ins, 0)?, arg(ins, 1)?, arg(ins, 2)?);
    let axis = normalize_axis(int_attr(op, "axis")?, x.shape.len())?;
    let eps = op.attr("epsilon").and_then(Attribute::as_float).ok_or("attribute 'epsilon' must be a float")?;
    check_broadcast(&scale.shape, &x.shape)?;
    check_broadcast(&bias.shape, &x.shape)?;
    Ok(Part::LayerNorm {
        lanes: x.shape[..axis].to_vec(),
        inner: x.shape[axis..].to_vec(),
        x: x.contiguous(),
        scale: scale.broadcast_to(&x.shape),
        bias: bias.broadcast_to(&x.shape),
        out: out.contiguous(),
        eps,
    })
}

/// The bounds of `nn.clip` on `elem`, as the reference `eval` applies them.
fn clip_bounds(op: &OpData, elem: &ElemType) -> Result<Clip, String> {
    let read = |name: &str| -> Result<Option<Attribute>, String> {
        match op.attr(name) {
            None => Ok(None),
            Some(a @ (Attribute::Int(_) | Attribute::Float(_))) => Ok(Some(a.clone())),
            Some(_) => Err(format!("attribute '{name}' must be a number")),
        }
    };
    let (lo, hi) = (read("min")?, read("max")?);
    let ElemType::Int { width, signed } = *elem else {
        let float =
            |a: Option<Attribute>| a.and_then(|a| a.as_float()).map(|f| round_to(elem, f)).filter(|f| !f.is_nan());
        return Ok(Clip::Float { lo: float(lo), hi: float(hi) });
    };
    let int = |a: Option<Attribute>| -> Result<Option<i128>, String> {
        match a {
            None => Ok(None),
            Some(Attribute::Int(v)) => Ok(Some(v as i128)),
            Some(_) => Err(format!("clip bounds of {elem} must be integers")),
        }
    };
    let (lo, hi) = (int(lo)?, int(hi)?);
    let w = u32::from(width.clamp(1, 64));
    let (tlo, thi) = if signed { (-(1i128 << (w - 1)), (1i128 << (w - 1)) - 1) } else { (0, (1i128 << w) - 1) };
    let wrap = |v: i128| wrap_int(v as i64, width, signed);
    if let Some(l) = lo.filter(|&l| l > thi) {
        return Ok(Clip::Const(wrap(hi.map_or(l, |h| h.min(l)))));
    }
    if let Some(h) = hi.filter(|&h| h < tlo) {
        return Ok(Clip::Const(wrap(h)));
    }
    // Inside the type's range now: as stored (u64 values as their bits).
    Ok(Clip::Int { lo: lo.filter(|&l| l > tlo).map(|l| l as i64), hi: hi.filter(|&h| h < thi).map(|h| h as i64) })
}
