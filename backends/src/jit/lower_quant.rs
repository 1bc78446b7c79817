//! Lowering of the quant dialect (spec/quant.md, numeric conventions):
//!
//! - `quantize`, `dequantize`, `requantize`, `qadd`, `qmul` are elementwise
//!   maps whose expression is one [`QuantExpr`] node (they fuse like the nn
//!   ops); per-channel scales, zero points and multipliers are constant
//!   tables read as extra map inputs whose strides walk the channel axis.
//! - `storage_cast` moves no data (the compiler aliases its result).
//! - The elementwise nonlinear ops (`quant.gelu`, `quant.sigmoid`, ...) on a
//!   per-tensor input of at most 16 bits are a table lookup: the table is
//!   the op's own reference `eval` on every stored integer of the input
//!   type, so it is bit-exact by construction. `softmax` and `layer_norm`
//!   are lane kernels calling the ideal semantics' functions
//!   ([`super::quant_nonlinear`]); the others on wider or per-channel
//!   inputs call their reference `eval` at run time
//!   ([`super::quant_runtime`]).
//! - `qmatmul` is a [`QGemmPart`] that [`prepare`] turns into a call of the
//!   integer GEMM runtime (`super::qgemm`), packing constant weights once.
//!
//! Invariants: every multiplier, shift and zero point comes from the
//! reference's own functions (`requantize_multipliers`, `qadd_multipliers`,
//! `qmul_multiplier`), so the JIT and the interpreter cannot disagree on
//! them; operand and result types are checked here (a malformed op is a
//! compile error, never a panic); every intermediate of a node is exact in
//! i64 under the bounds the op's result check enforces.

use super::kernel::{Access, Expr, Kernel, Part, TABLE_SLOT};
use super::lower::{arg, check_broadcast, Operand};
use super::plan::Place;
use super::quant_nonlinear::{LayerNorm, Softmax};
use super::quant_runtime::{EvalUnit, RuntimeCall};
use super::storage::Storage;
use std::sync::Arc;
use weft_ir::ops::quant::common::{qrange, ChannelMap, FixedMultiplier};
use weft_ir::ops::quant::convert::requantize_multipliers;
use weft_ir::ops::quant::elementwise::{qadd_multipliers, qmul_multiplier};
use weft_ir::types::{QuantBin, QuantInt, QuantParams};
use weft_ir::{ElemType, OpData, Tensor, TensorData, Type};

pub(crate) use super::lower_qgemm::{prepare, QGemmPart};

/// A parameter of a quant node: one value for the tensor, or the node
/// argument holding the element's channel entry (a table input).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Param<T> {
    Const(T),
    Arg(usize),
}

/// The operation of a [`QuantExpr`] node. `lo..=hi` is the result's stored
/// range; every op saturates once to it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum QuantOp {
    /// `clamp(round_half_even(x / scale) + zp)`, NaN gives `clamp(zp)`.
    Quantize { scale: Param<f64>, zp: Param<i64>, lo: i64, hi: i64 },
    /// 1 when `x >= 0` or NaN, else 0.
    QuantizeBin,
    /// `(q - zp) * scale` in f64, rounded once to the result.
    Dequantize { scale: Param<f64>, zp: Param<i64> },
    /// `+scale` for 1, `-scale` for 0.
    DequantizeBin { scale: Param<f64> },
    /// `clamp((((q - zp_in) * m) >> s1 + s2) >> s2 + zp_out)`: the rounding
    /// shift by `n` with `s1 = max(n - 1, 0)`, `s2 = min(n, 1)`.
    Requantize {
        zp_in: Param<i64>,
        m: Param<i64>,
        s1: Param<i64>,
        s2: Param<i64>,
        zp_out: Param<i64>,
        lo: i64,
        hi: i64,
    },
    /// `clamp(round_shift((a - za) ma + (b - zb) mb, shift) + zr)`.
    Qadd { za: i64, zb: i64, ma: i64, mb: i64, shift: u32, zr: i64, lo: i64, hi: i64 },
    /// `clamp(round_shift((a - za)(b - zb) m, shift) + zr)`.
    Qmul { za: i64, zb: i64, m: i64, shift: u32, zr: i64, lo: i64, hi: i64 },
    /// `table[x - offset]`, entries stored as the result (canonical).
    Table { table: Arc<Vec<u8>>, offset: i64, len: i64 },
}

/// One quant op inside a map: its arguments (values first, then channel
/// tables) with their storages, and the result's storage.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct QuantExpr {
    pub op: QuantOp,
    pub args: Vec<Expr>,
    pub arg_st: Vec<Storage>,
    pub out: Storage,
}

/// The storage of channel tables: f64 scales, i64 integers.
const F64_TABLE: Storage = Storage::F64;
const I64_TABLE: Storage = Storage::Int { bytes: 8, width: 64, signed: true };

/// The kernel of a quant op (`Ok(None)` for `storage_cast`).
pub(crate) fn lower(
    op: &OpData,
    ins: &[Operand],
    outs: &[Operand],
    mut kernel: Kernel,
) -> Result<Option<Kernel>, String> {
    let out = outs.first().ok_or("the op has no result")?;
    let part = match op.name() {
        "quant.storage_cast" => return Ok(None),
        "quant.quantize" => quantize(arg(ins, 0)?, out, &mut kernel)?,
        "quant.dequantize" => dequantize(arg(ins, 0)?, out, &mut kernel)?,
        "quant.requantize" => requantize(arg(ins, 0)?, out, &mut kernel)?,
        "quant.qadd" | "quant.qmul" => binary(op.name() == "quant.qadd", ins, out)?,
        "quant.qmatmul" => Part::QGemm(Box::new(super::lower_qgemm::qmatmul(ins, out)?)),
        _ => nonlinear(op, ins, outs)?,
    };
    kernel.parts.push(part);
    Ok(Some(kernel))
}

fn quant_int<'a>(x: &'a Operand, what: &str) -> Result<&'a QuantInt, String> {
    match &x.elem {
        ElemType::Quant(q) => Ok(q),
        other => Err(format!("{what} must be a !quant.int tensor, got {other}")),
    }
}

/// Builds a map node over `values` (the op's operands, read in place) and
/// the channel tables pushed by `param`s.
struct NodeBuilder<'k> {
    shape: Vec<u64>,
    inputs: Vec<Access>,
    arg_st: Vec<Storage>,
    kernel: &'k mut Kernel,
}

impl<'k> NodeBuilder<'k> {
    fn new(values: &[&Operand], out: &Operand, kernel: &'k mut Kernel) -> Result<NodeBuilder<'k>, String> {
        for (i, x) in values.iter().enumerate() {
            check_broadcast(&x.shape, &out.shape).map_err(|e| format!("operand #{i}: {e}"))?;
        }
        Ok(NodeBuilder {
            shape: out.shape.clone(),
            inputs: values.iter().map(|x| Access::broadcast(x.place, x.st, &x.shape, &out.shape)).collect(),
            arg_st: values.iter().map(|x| x.st).collect(),
            kernel,
        })
    }

    /// A parameter per channel (`axis` of the result's shape), or per tensor
    /// when every entry is equal.
    fn param<T: Copy + PartialEq + Bytes>(&mut self, values: &[T], axis: Option<usize>) -> Result<Param<T>, String> {
        let first = *values.first().ok_or("internal error: a parameter without values")?;
        let Some(axis) = axis.filter(|_| values.iter().any(|v| *v != first)) else { return Ok(Param::Const(first)) };
        if self.shape.get(axis) != Some(&(values.len() as u64)) {
            return Err(format!("{} channel parameters for axis {axis} of shape {:?}", values.len(), self.shape));
        }
        let bytes = values.iter().flat_map(|v| v.le_bytes()).collect();
        self.kernel.tables.push(bytes);
        let place = Place { slot: TABLE_SLOT, offset: self.kernel.tables.len() as u64 - 1 };
        let strides = (0..self.shape.len()).map(|d| i64::from(d == axis)).collect();
        self.inputs.push(Access { place, st: T::STORAGE, base: 0, strides });
        self.arg_st.push(T::STORAGE);
        Ok(Param::Arg(self.inputs.len() - 1))
    }

    fn finish(self, op: QuantOp, out: &Operand) -> Part {
        let expr = Expr::Quant(Box::new(QuantExpr {
            op,
            args: (0..self.inputs.len()).map(Expr::Input).collect(),
            arg_st: self.arg_st,
            out: out.st,
        }));
        Part::Map {
            shape: self.shape,
            out: Access::contiguous(out.place, out.st, &out.shape),
            inputs: self.inputs,
            expr,
        }
    }
}

/// Parameters stored in channel tables.
trait Bytes {
    const STORAGE: Storage;
    fn le_bytes(self) -> [u8; 8];
}

impl Bytes for f64 {
    const STORAGE: Storage = F64_TABLE;
    fn le_bytes(self) -> [u8; 8] {
        self.to_le_bytes()
    }
}

impl Bytes for i64 {
    const STORAGE: Storage = I64_TABLE;
    fn le_bytes(self) -> [u8; 8] {
        self.to_le_bytes()
    }
}

/// The channel axis of a quantized type (None per tensor).
fn axis_of(params: &QuantParams) -> Option<usize> {
    match params {
        QuantParams::PerTensor { .. } => None,
        QuantParams::PerChannel { axis, .. } => Some(*axis as usize),
    }
}

fn quantize(x: &Operand, out: &Operand, kernel: &mut Kernel) -> Result<Part, String> {
    if !x.st.is_float() {
        return Err(format!("operand #0 must be f32 or f64, got {}", x.elem));
    }
    let mut node = NodeBuilder::new(&[x], out, kernel)?;
    let op = match &out.elem {
        ElemType::Quant(q) => {
            let map = ChannelMap::of_int(q, &out.shape)?;
            let axis = axis_of(&q.params);
            let (lo, hi) = qrange(q.width, q.signed);
            QuantOp::Quantize { scale: node.param(&map.scales, axis)?, zp: node.param(&map.zps, axis)?, lo, hi }
        }
        ElemType::Bin(_) => QuantOp::QuantizeBin,
        other => return Err(format!("cannot quantize to {other}")),
    };
    Ok(node.finish(op, out))
}

fn dequantize(x: &Operand, out: &Operand, kernel: &mut Kernel) -> Result<Part, String> {
    if !out.st.is_float() {
        return Err(format!("the result must be f32 or f64, got {}", out.elem));
    }
    let mut node = NodeBuilder::new(&[x], out, kernel)?;
    let op = match &x.elem {
        ElemType::Quant(q) => {
            let map = ChannelMap::of_int(q, &x.shape)?;
            let axis = axis_of(&q.params);
            QuantOp::Dequantize { scale: node.param(&map.scales, axis)?, zp: node.param(&map.zps, axis)? }
        }
        ElemType::Bin(b) => {
            let map = ChannelMap::of_bin(b, &x.shape)?;
            let axis = match &**b {
                QuantBin::PerTensor { .. } => None,
                QuantBin::PerChannel { axis, .. } => Some(*axis as usize),
            };
            QuantOp::DequantizeBin { scale: node.param(&map.scales, axis)? }
        }
        other => return Err(format!("cannot dequantize {other}")),
    };
    Ok(node.finish(op, out))
}

fn requantize(x: &Operand, out: &Operand, kernel: &mut Kernel) -> Result<Part, String> {
    let (qin, qout) = (quant_int(x, "operand #0")?, quant_int(out, "the result")?);
    if x.shape != out.shape {
        return Err(format!("operand shape {:?} differs from the result's {:?}", x.shape, out.shape));
    }
    let mults = requantize_multipliers(qin, qout)?;
    let (min, mout) = (ChannelMap::of_int(qin, &x.shape)?, ChannelMap::of_int(qout, &out.shape)?);
    // Both per channel share the axis (the result check); the multipliers
    // follow whichever side is.
    let axis = axis_of(&qin.params).or(axis_of(&qout.params));
    let pick = |f: fn(&FixedMultiplier) -> i64| mults.iter().map(f).collect::<Vec<i64>>();
    let (lo, hi) = qrange(qout.width, qout.signed);
    let mut node = NodeBuilder::new(&[x], out, kernel)?;
    let op = QuantOp::Requantize {
        zp_in: node.param(&min.zps, axis_of(&qin.params))?,
        m: node.param(&pick(|f| f.m), axis)?,
        s1: node.param(&pick(|f| i64::from(f.shift.saturating_sub(1))), axis)?,
        s2: node.param(&pick(|f| i64::from(f.shift.min(1))), axis)?,
        zp_out: node.param(&mout.zps, axis_of(&qout.params))?,
        lo,
        hi,
    };
    Ok(node.finish(op, out))
}

/// The zero point of a per-tensor type.
fn zp(q: &QuantInt, what: &str) -> Result<i64, String> {
    match q.params {
        QuantParams::PerTensor { zp, .. } => Ok(zp),
        QuantParams::PerChannel { .. } => Err(format!("{what} must be quantized per tensor")),
    }
}

fn binary(add: bool, ins: &[Operand], out: &Operand) -> Result<Part, String> {
    let (a, b) = (arg(ins, 0)?, arg(ins, 1)?);
    if ins.len() != 2 {
        return Err(format!("expected 2 operands, got {}", ins.len()));
    }
    let (qa, qb, qr) = (quant_int(a, "operand #0")?, quant_int(b, "operand #1")?, quant_int(out, "the result")?);
    let (za, zb, zr) = (zp(qa, "operand #0")?, zp(qb, "operand #1")?, zp(qr, "the result")?);
    let (lo, hi) = qrange(qr.width, qr.signed);
    let op = if add {
        let (ma, mb) = qadd_multipliers(qa, qb, qr)?;
        QuantOp::Qadd { za, zb, ma: ma.m, mb: mb.m, shift: ma.shift, zr, lo, hi }
    } else {
        let m = qmul_multiplier(qa, qb, qr)?;
        QuantOp::Qmul { za, zb, m: m.m, shift: m.shift, zr, lo, hi }
    };
    let mut scratch = Kernel { parts: Vec::new(), gather_error: String::new(), tables: Vec::new() };
    Ok(NodeBuilder::new(&[a, b], out, &mut scratch)?.finish(op, out))
}

/// The widest input of a nonlinear op compiled as a table.
const MAX_TABLE_BITS: u8 = 16;

/// A quant nonlinear op: a table when the op is elementwise on a
/// per-tensor input of at most 16 bits with a per-tensor result, else a
/// run-time call of its reference `eval`.
fn nonlinear(op: &OpData, ins: &[Operand], outs: &[Operand]) -> Result<Part, String> {
    let Some(eval) = op.def.eval else { return Err(super::lower::unsupported(op.name())) };
    const ELEMENTWISE: &[&str] = &[
        "quant.gelu",
        "quant.sigmoid",
        "quant.silu",
        "quant.tanh",
        "quant.exp",
        "quant.reciprocal",
        "quant.sqrt",
        "quant.rsqrt",
    ];
    const OTHERS: &[&str] = &["quant.softmax", "quant.layer_norm"];
    let name = op.name();
    if !ELEMENTWISE.contains(&name) && !OTHERS.contains(&name) {
        return Err(super::lower::unsupported(name));
    }
    let (x, out) = (arg(ins, 0)?, outs.first().ok_or("the op has no result")?);
    let per_tensor = |e: &ElemType| matches!(e, ElemType::Quant(q) if axis_of(&q.params).is_none());
    let narrow = matches!(&x.elem, ElemType::Quant(q) if q.width <= MAX_TABLE_BITS);
    if ELEMENTWISE.contains(&name) && per_tensor(&x.elem) && per_tensor(&out.elem) && narrow && ins.len() == 1 {
        return table(op, eval, x, out);
    }
    match name {
        "quant.softmax" => Ok(Part::Runtime(RuntimeCall::new(Softmax::new(op, x, out)?))),
        "quant.layer_norm" => match LayerNorm::new(op, ins, out)? {
            Some(unit) => Ok(Part::Runtime(RuntimeCall::new(unit))),
            None => Ok(Part::Runtime(RuntimeCall::new(EvalUnit::new(op, ins, outs)?))),
        },
        _ => Ok(Part::Runtime(RuntimeCall::new(EvalUnit::new(op, ins, outs)?))),
    }
}

/// The map `out = table[x - lo]`, the table computed by `eval` on every
/// stored integer of `x`'s type.
fn table(op: &OpData, eval: weft_ir::ops::EvalFn, x: &Operand, out: &Operand) -> Result<Part, String> {
    let q = quant_int(x, "operand #0")?;
    let (lo, hi) = qrange(q.width, q.signed);
    let len = (hi - lo + 1) as u64;
    let all = Tensor { elem: x.elem.clone(), shape: vec![len], data: TensorData::Int((lo..=hi).collect()) };
    let result_type = Type::Tensor(weft_ir::types::TensorType::fixed(&[len], out.elem.clone()));
    let results = eval(&[all], &op.attrs, &[result_type])?;
    let values = results.first().ok_or("the reference evaluation gave no result")?;
    let mut bytes = vec![0u8; (len * out.st.size()) as usize];
    super::storage::write_tensor(values, out.st, &mut bytes);
    let mut scratch = Kernel { parts: Vec::new(), gather_error: String::new(), tables: Vec::new() };
    let node = NodeBuilder::new(&[x], out, &mut scratch)?;
    Ok(node.finish(QuantOp::Table { table: Arc::new(bytes), offset: lo, len: len as i64 }, out))
}

/// Moves the tables of `kernel` into constant buffers made by `new_slot`
/// (which gets the bytes and returns the slot), and points the accesses
/// in [`TABLE_SLOT`] at them.
pub(crate) fn attach_tables(kernel: &mut Kernel, new_slot: &mut dyn FnMut(&[u8]) -> u32) {
    if kernel.tables.is_empty() {
        return;
    }
    let slots: Vec<u32> = kernel.tables.iter().map(|t| new_slot(t)).collect();
    kernel.tables.clear();
    for part in &mut kernel.parts {
        let Part::Map { inputs, .. } = part else { continue };
        for a in inputs.iter_mut().filter(|a| a.place.slot == TABLE_SLOT) {
            if let Some(&slot) = slots.get(a.place.offset as usize) {
                a.place = Place { slot, offset: 0 };
            }
        }
    }
}
