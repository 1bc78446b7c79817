//! Emitting nl ops right before the op being replaced: typed builders for
//! each op shape (elementwise, tree, unit), integer constants, and the two
//! fixed-point steps every lowering uses, multiplication by a real
//! constant ([`Emitter::scale`]) and requantization to the result
//! ([`Emitter::requantize`]).
//!
//! Invariants: every emitted op takes the replaced op's location and span;
//! result shapes follow the nl rules (broadcast, or the reduced axis kept
//! with extent 1); a width above 64 bits is an internal error, never a
//! silently saturating op.

use super::formats::{bits_for, multiplier};
use super::site::Format;
use super::LowerError;
use std::collections::HashMap;
use weft_ir::attr::{Attribute, DenseAttr};
use weft_ir::ops::shape::broadcast_many;
use weft_ir::ops::{builtin, nl, OpDef};
use weft_ir::tensor::{Scalar, Tensor};
use weft_ir::{Dim, ElemType, Function, Location, NewOp, Op, Span, TensorType, Type, Value};

/// A plain integer type: width and signedness.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IntTy {
    pub width: u8,
    pub signed: bool,
}

/// `iN`.
pub fn int(width: u8) -> IntTy {
    IntTy { width, signed: true }
}

/// `uN`.
pub fn uint(width: u8) -> IntTy {
    IntTy { width, signed: false }
}

impl IntTy {
    fn elem(self) -> ElemType {
        ElemType::Int { width: self.width, signed: self.signed }
    }
}

/// Inserts ops before one op.
pub struct Emitter<'f> {
    f: &'f mut Function,
    before: Op,
    loc: Location,
    span: Span,
    /// The integer constants emitted so far, by values and shape, so each
    /// is emitted once per program.
    constants: HashMap<(Vec<i128>, Vec<u64>), Value>,
}

pub type Emitted = Result<Value, LowerError>;

impl<'f> Emitter<'f> {
    pub fn before(f: &'f mut Function, before: Op) -> Emitter<'f> {
        let (loc, span) = (f.ops[before].loc.clone(), f.ops[before].span);
        Emitter { f, before, loc, span, constants: HashMap::new() }
    }

    pub fn dims(&self, v: Value) -> Vec<Dim> {
        self.f.value_type(v).as_tensor().map(|t| t.dims.clone()).unwrap_or_default()
    }

    /// The width and signedness of an integer value.
    pub fn ty(&self, v: Value) -> IntTy {
        match self.f.value_type(v).as_tensor().map(|t| &t.elem) {
            Some(ElemType::Int { width, signed }) => IntTy { width: *width, signed: *signed },
            _ => int(64),
        }
    }

    fn push(&mut self, def: &'static OpDef, operands: &[Value], result: Type, attrs: &[(&str, Attribute)]) -> Value {
        let mut spec = NewOp::new(def, operands.to_vec(), vec![result]);
        for (k, a) in attrs {
            spec = spec.attr(k, a.clone());
        }
        spec.loc = self.loc.clone();
        spec.span = self.span;
        let op = self.f.insert_op_before(self.before, spec);
        self.f.ops[op].results[0]
    }

    fn checked(ty: IntTy) -> Result<IntTy, LowerError> {
        if ty.width == 0 || ty.width > 64 {
            return Err(LowerError::new(format!("a {}-bit intermediate does not fit 64 bits", ty.width)));
        }
        Ok(ty)
    }

    /// An elementwise op over `operands` (broadcast) with result type `ty`.
    pub fn op(&mut self, def: &'static OpDef, operands: &[Value], ty: IntTy, attrs: &[(&str, Attribute)]) -> Emitted {
        let ty = Self::checked(ty)?;
        let shapes: Vec<Vec<Dim>> = operands.iter().map(|&v| self.dims(v)).collect();
        let refs: Vec<&[Dim]> = shapes.iter().map(Vec::as_slice).collect();
        let dims = broadcast_many(&refs)?;
        Ok(self.push(def, operands, TensorType::new(dims, ty.elem()).into(), attrs))
    }

    /// `def` (a tree) along `axis`, keeping it with extent 1.
    pub fn tree(&mut self, def: &'static OpDef, x: Value, axis: usize, ty: IntTy) -> Emitted {
        let ty = Self::checked(ty)?;
        let mut dims = self.dims(x);
        if let Some(d) = dims.get_mut(axis) {
            *d = Dim::Fixed(1);
        }
        Ok(self.push(def, &[x], TensorType::new(dims, ty.elem()).into(), &[("axis", Attribute::Int(axis as i64))]))
    }

    /// `def` along every axis of `axes` in turn, the width growing by the
    /// bits each extent adds.
    pub fn trees(&mut self, def: &'static OpDef, x: Value, axes: &[usize], grows: bool) -> Emitted {
        let mut v = x;
        for &axis in axes {
            let extent = self.dims(v).get(axis).and_then(Dim::fixed).unwrap_or(1);
            let ty = self.ty(v);
            let width = if grows { ty.width + bits_for(extent as i128 - 1).saturating_sub(1) } else { ty.width };
            v = self.tree(def, v, axis, IntTy { width, ..ty })?;
        }
        Ok(v)
    }

    /// A rank-0 integer constant of the narrowest signed type.
    pub fn constant(&mut self, v: i128) -> Emitted {
        self.constant_tensor(&[v], &[])
    }

    /// An integer constant of `shape` (row-major values) of the narrowest
    /// signed type.
    pub fn constant_tensor(&mut self, values: &[i128], shape: &[u64]) -> Emitted {
        let key = (values.to_vec(), shape.to_vec());
        if let Some(&v) = self.constants.get(&key) {
            return Ok(v);
        }
        let width = values.iter().map(|&v| bits_for(v)).max().unwrap_or(1);
        let ty = Self::checked(int(width))?;
        let t = Tensor::from_fn(ty.elem(), shape.to_vec(), |i| Scalar::Int(values.get(i).copied().unwrap_or(0) as i64));
        let attr = Attribute::Dense(DenseAttr::from_tensor(t));
        let v = self.push(&builtin::CONSTANT, &[], TensorType::fixed(shape, ty.elem()).into(), &[("value", attr)]);
        self.constants.insert(key, v);
        Ok(v)
    }

    /// `nl.shift` by `amount` (right shifts rounded to nearest).
    pub fn shift(&mut self, x: Value, amount: i64, ty: IntTy) -> Emitted {
        if amount == 0 && self.ty(x) == ty {
            return Ok(x);
        }
        let mut attrs = vec![("amount", Attribute::Int(amount))];
        if amount < 0 {
            attrs.push(("rounding", Attribute::Str("nearest".into())));
        }
        self.op(&nl::SHIFT, &[x], ty, &attrs)
    }

    /// `x * c` for a real constant `c > 0`, rounded to nearest: a constant
    /// multiplier of 16 significant bits and a shift. The result has type
    /// `ty`.
    pub fn scale(&mut self, x: Value, c: f64, ty: IntTy) -> Emitted {
        let (m, shift) = multiplier(c);
        let k = self.constant(m)?;
        let wide = IntTy { width: self.ty(x).width + bits_for(m), signed: true };
        let product = self.op(&nl::MUL, &[x, k], wide, &[])?;
        self.shift(product, -shift, ty)
    }

    /// `a - b` in the given type.
    pub fn sub(&mut self, a: Value, b: Value, ty: IntTy) -> Emitted {
        self.op(&nl::SUB, &[a, b], ty, &[])
    }

    /// `-x`, one bit wider.
    pub fn neg(&mut self, x: Value) -> Emitted {
        let zero = self.constant(0)?;
        let ty = self.ty(x);
        self.sub(zero, x, int(ty.width + 1))
    }

    /// `|x|` (a mux on the sign of `x`), one bit wider.
    pub fn abs(&mut self, x: Value) -> Emitted {
        let n = self.neg(x)?;
        let ty = self.ty(n);
        self.op(&nl::MUX, &[x, n, x], ty, &[])
    }

    /// `x` with the sign of `sign`: `sign < 0 ? -x : x`.
    pub fn with_sign_of(&mut self, sign: Value, x: Value) -> Emitted {
        let n = self.neg(x)?;
        let ty = self.ty(n);
        self.op(&nl::MUX, &[sign, n, x], ty, &[])
    }

    /// The stored integer of the result: `round(y * c) + zp`, saturated to
    /// the result type (the last ops of most programs).
    pub fn requantize(&mut self, y: Value, c: f64, y_fmt: &Format, result: &Type) -> Emitted {
        let q = self.scale(y, c, int(y_fmt.width + 3))?;
        self.store(q, y_fmt, result)
    }

    /// The stored integer of the result from a code without its zero
    /// point: `zp` added (when not 0), then cast to the result type.
    pub fn store(&mut self, code: Value, y_fmt: &Format, result: &Type) -> Emitted {
        let mut q = code;
        if y_fmt.zp != 0 {
            let zp = self.constant(y_fmt.zp as i128)?;
            let width = self.ty(code).width.max(bits_for(y_fmt.zp as i128)) + 1;
            q = self.op(&nl::ADD, &[code, zp], int(width), &[])?;
        }
        self.cast(q, result)
    }

    /// `nl.cast` to any type (the input's storage, the result).
    pub fn cast(&mut self, x: Value, to: &Type) -> Emitted {
        let dims = self.dims(x);
        let elem = to.as_tensor().map(|t| t.elem.clone()).ok_or_else(|| LowerError::new("cast to a non-tensor"))?;
        Ok(self.push(&nl::CAST, &[x], TensorType::new(dims, elem).into(), &[]))
    }

    /// The input read as its stored integers.
    pub fn read_input(&mut self, x: Value, fmt: &Format) -> Emitted {
        let dims = self.dims(x);
        Ok(self.push(&nl::CAST, &[x], TensorType::new(dims, fmt.storage()).into(), &[]))
    }

    /// The input minus its zero point, `q - zp`, as a signed integer (one
    /// bit wider than the input).
    pub fn centered_input(&mut self, x: Value, fmt: &Format) -> Emitted {
        if fmt.zp == 0 {
            let dims = self.dims(x);
            return Ok(self.push(&nl::CAST, &[x], TensorType::new(dims, int(fmt.width + 1).elem()).into(), &[]));
        }
        let q = self.read_input(x, fmt)?;
        let zp = self.constant(fmt.zp as i128)?;
        let w = fmt.width.max(bits_for(fmt.zp as i128)) + 1;
        self.sub(q, zp, int(w))
    }
}

/// An integer attribute list `[a, b, c]`.
pub fn ints_attr(values: &[i128]) -> Attribute {
    Attribute::Array(values.iter().map(|&v| Attribute::Int(v as i64)).collect())
}
