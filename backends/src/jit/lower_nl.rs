//! Lowering of the nl dialect (spec/nl.md): every elementwise nl op is a
//! map whose expression is one [`NlExpr`] node (so chains of them fuse
//! like the nn ones), the trees are [`NlTree`] lane kernels.
//!
//! Invariants: attributes are read with the reference's own parsers
//! (`Exp2Format::from_attrs`, `Rounding::from_attrs`, ...) and checked
//! here, so a malformed op is a compile error, never a panic; every node
//! computes the op's exact result (codegen: 128-bit registers, or an
//! [`NlUnit`] call) and saturates once to the result type, as each op's
//! `eval` does; a node's value is the canonical register of its result
//! storage, and it reads its arguments through their own storages.

use super::kernel::{row_major, Access, Expr, Part};
use super::lower::{arg, check_broadcast, int_attr, ints_attr, Operand};
use super::nl_unit::{NlUnit, UnitKind};
use super::storage::Storage;
use std::sync::Arc;
use weft_ir::ops::nl::{saturate, shift::MAX_SHIFT, unit::MAX_TABLE, Exp2Format, Log2Format, Rounding};
use weft_ir::ops::shape::normalize_axis;
use weft_ir::{ElemType, OpData};

/// The operation of an [`NlExpr`] node.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum NlOp {
    Cast,
    Add,
    Sub,
    Mul,
    Max,
    Min,
    /// `args[0] < 0 ? args[1] : args[2]`.
    Mux,
    /// `x * 2^amount`, right shifts rounded (`nl.shift`).
    Shift {
        amount: i64,
        rounding: Rounding,
    },
    /// The leading-one position, -1 for `x <= 0`.
    Lod,
    /// `table[clamp(x - offset)]`; the entries are already saturated to
    /// the result type (canonical stored values).
    Lut {
        table: Arc<Vec<i64>>,
        offset: i64,
    },
    /// A call of a runtime unit.
    Unit(Arc<NlUnit>),
}

/// One nl op inside a map: its arguments with their storages, and the
/// storage of its result.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct NlExpr {
    pub op: NlOp,
    pub args: Vec<Expr>,
    pub arg_st: Vec<Storage>,
    pub out: Storage,
}

/// An exact max or sum along one axis: `input` strides cover
/// `outer ++ [lanes]`, `out` strides cover `outer`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct NlTree {
    pub max: bool,
    pub outer: Vec<u64>,
    pub lanes: u64,
    pub input: Access,
    pub out: Access,
}

/// The kernel part of an nl op.
pub(crate) fn lower(op: &OpData, ins: &[Operand], out: &Operand) -> Result<Part, String> {
    let name = op.name();
    let node = match name {
        "nl.max_tree" | "nl.add_tree" => return tree(op, arg(ins, 0)?, out, name == "nl.max_tree"),
        "nl.cast" => NlOp::Cast,
        "nl.add" => NlOp::Add,
        "nl.sub" => NlOp::Sub,
        "nl.mul" => NlOp::Mul,
        "nl.max" => NlOp::Max,
        "nl.min" => NlOp::Min,
        "nl.mux" => NlOp::Mux,
        "nl.shift" => NlOp::Shift { amount: shift_amount(op)?, rounding: rounding(op)? },
        "nl.lod" => NlOp::Lod,
        "nl.lut" => lut(op, &out.elem)?,
        _ => NlOp::Unit(Arc::new(unit(op, ins, out)?)),
    };
    let arity = match node {
        NlOp::Add | NlOp::Sub | NlOp::Mul | NlOp::Max | NlOp::Min => 2,
        NlOp::Mux => 3,
        NlOp::Unit(ref u) => u.operands.len(),
        _ => 1,
    };
    map(node, ins, out, arity)
}

/// An elementwise map of `arity` operands broadcast to the result.
fn map(op: NlOp, ins: &[Operand], out: &Operand, arity: usize) -> Result<Part, String> {
    if ins.len() != arity {
        return Err(format!("expected {arity} operands, got {}", ins.len()));
    }
    let mut inputs = Vec::with_capacity(arity);
    for (i, x) in ins.iter().enumerate() {
        integer(x.st, &format!("operand #{i}"))?;
        check_broadcast(&x.shape, &out.shape).map_err(|e| format!("operand #{i}: {e}"))?;
        inputs.push(Access::broadcast(x.place, x.st, &x.shape, &out.shape));
    }
    integer(out.st, "the result")?;
    let expr = Expr::Nl(Box::new(NlExpr {
        op,
        args: (0..arity).map(Expr::Input).collect(),
        arg_st: ins.iter().map(|x| x.st).collect(),
        out: out.st,
    }));
    Ok(Part::Map { shape: out.shape.clone(), out: Access::contiguous(out.place, out.st, &out.shape), inputs, expr })
}

fn integer(st: Storage, what: &str) -> Result<(), String> {
    match st {
        Storage::Int { .. } => Ok(()),
        _ => Err(format!("{what} must be an integer tensor")),
    }
}

fn rounding(op: &OpData) -> Result<Rounding, String> {
    Rounding::from_attrs(&op.attrs)
}

fn shift_amount(op: &OpData) -> Result<i64, String> {
    let k = int_attr(op, "amount")?;
    if !(-MAX_SHIFT..=MAX_SHIFT).contains(&k) {
        return Err(format!("attribute 'amount' must be in [-{MAX_SHIFT}, {MAX_SHIFT}], got {k}"));
    }
    Ok(k)
}

/// The table of `nl.lut`, each entry saturated to the result type.
fn lut(op: &OpData, result: &ElemType) -> Result<NlOp, String> {
    let table = ints_attr(op, "table")?;
    if table.is_empty() || table.len() > MAX_TABLE {
        return Err(format!("attribute 'table' must hold 1 to {MAX_TABLE} entries, got {}", table.len()));
    }
    let table = table.iter().map(|&v| saturate(v as i128, result)).collect();
    Ok(NlOp::Lut { table: Arc::new(table), offset: int_attr(op, "offset")? })
}

/// The runtime unit of `nl.div`, `nl.barrel_shift`, `nl.poly2`,
/// `nl.exp2`, `nl.log2` and `nl.isqrt`.
fn unit(op: &OpData, ins: &[Operand], out: &Operand) -> Result<NlUnit, String> {
    let kind = match op.name() {
        "nl.div" => UnitKind::Div,
        "nl.barrel_shift" => UnitKind::BarrelShift(rounding(op)?),
        "nl.poly2" => {
            let frac = int_attr(op, "frac")?;
            if !(0..=weft_ir::ops::nl::unit::MAX_FRAC).contains(&frac) {
                return Err(format!("attribute 'frac' must be in 0..=62, got {frac}"));
            }
            UnitKind::Poly2 { coeffs: weft_ir::ops::nl::unit::coeffs(&op.attrs)?, frac }
        }
        "nl.exp2" => UnitKind::Exp2(Exp2Format::from_attrs(&op.attrs)?),
        "nl.log2" => UnitKind::Log2(Log2Format::from_attrs(&op.attrs)?),
        "nl.isqrt" => UnitKind::Isqrt,
        name => return Err(super::lower::unsupported(name)),
    };
    let arity = if matches!(kind, UnitKind::Div | UnitKind::BarrelShift(_)) { 2 } else { 1 };
    let operands = ins.iter().take(arity).map(|x| x.elem.clone()).collect();
    Ok(NlUnit::new(kind, operands, out.elem.clone()))
}

/// `nl.max_tree` / `nl.add_tree` along the `axis` attribute.
fn tree(op: &OpData, x: &Operand, out: &Operand, max: bool) -> Result<Part, String> {
    integer(x.st, "operand #0")?;
    integer(out.st, "the result")?;
    let rank = x.shape.len();
    if rank == 0 {
        return Err("operand #0 must have rank >= 1".into());
    }
    let axis = normalize_axis(int_attr(op, "axis")?, rank)?;
    let mut kept = x.shape.clone();
    kept[axis] = 1;
    if out.shape != kept {
        return Err(format!("result shape {:?} does not keep the reduced axis of {:?}", out.shape, x.shape));
    }
    let src = row_major(&x.shape);
    let dims: Vec<usize> = (0..rank).filter(|&d| d != axis).collect();
    let outer: Vec<u64> = dims.iter().map(|&d| x.shape[d]).collect();
    let strides = dims.iter().chain([&axis]).map(|&d| src[d]).collect();
    Ok(Part::NlTree(Box::new(NlTree {
        max,
        lanes: x.shape[axis],
        input: Access { place: x.place, st: x.st, base: 0, strides },
        out: Access { place: out.place, st: out.st, base: 0, strides: row_major(&outer) },
        outer,
    })))
}
