//! The rewriting engine of the `quantize` pass: one sweep over a function's
//! body that builds the new op order, with every original value standing
//! for up to two kinds of new values — its float value (the original value
//! itself, or a `quant.dequantize`) and its quantized values (one per
//! quantized type asked for, made by `quant.quantize` or
//! `quant.requantize` on demand, or produced directly by a quant op).
//!
//! The per-op rules live in [`super::rules`]; this file owns the value maps,
//! op creation, constants and the calibrated activation types.
//!
//! Invariants: a conversion is created right before the first op that
//! needs it and reused by later ones, so every operand is defined before
//! its use; an op kept in float gets float operands of exactly its original
//! types; ops replaced by quant ops are left out of the new order (they are
//! dead), and nothing new uses their results.

use super::calibrate::Calibration;
use super::observer::act_type;
use super::scheme::{Precision, QuantConfig};
use std::collections::{HashMap, HashSet};
use weft_ir::ops::{builtin, quant, OpDef, Trait};
use weft_ir::resources::{Resource, Resources};
use weft_ir::tensor::{Tensor, TensorData};
use weft_ir::types::{ElemType, QuantInt, QuantParams};
use weft_ir::{
    Attribute, Attrs, Context, DenseAttr, Diagnostic, Function, Location, NewOp, Op, TensorType, Type, Value,
};

/// Constants with more elements than this go to the resource file.
pub const INLINE_LIMIT: u64 = 256;

/// Counters the pass reports.
#[derive(Debug, Default, Clone, Copy)]
pub struct Counts {
    pub matmuls: u64,
    pub elementwise: u64,
    pub nonlinear: u64,
    pub layout: u64,
    pub float_ops: u64,
    pub quantize: u64,
    pub dequantize: u64,
    pub requantize: u64,
}

/// The state of the sweep over one function.
pub struct Rewriter<'a> {
    pub f: &'a mut Function,
    pub resources: &'a mut Resources,
    pub ctx: &'a Context,
    cal: &'a Calibration,
    config: &'a QuantConfig,
    /// The new body, in order.
    order: Vec<Op>,
    float: HashMap<Value, Value>,
    quant: HashMap<Value, Vec<Value>>,
    /// Ops an earlier rewrite took over (a bias add folded into a matmul).
    pub absorbed: HashSet<Op>,
    /// The ops using each original value, in body order.
    pub users: HashMap<Value, Vec<Op>>,
    pub counts: Counts,
}

impl<'a> Rewriter<'a> {
    pub fn new(
        f: &'a mut Function,
        resources: &'a mut Resources,
        ctx: &'a Context,
        cal: &'a Calibration,
        config: &'a QuantConfig,
    ) -> Rewriter<'a> {
        let mut users: HashMap<Value, Vec<Op>> = HashMap::new();
        for op in f.walk() {
            for &v in &f.ops[op].operands {
                users.entry(v).or_default().push(op);
            }
        }
        let float = f.args().iter().map(|&a| (a, a)).collect();
        // A dequantized value (an imported model's quantization) already
        // exists quantized: consumers take or requantize the integers.
        let mut quant: HashMap<Value, Vec<Value>> = HashMap::new();
        for op in f.walk() {
            let data = &f.ops[op];
            if data.name() == "quant.dequantize"
                && matches!(f.value_type(data.operands[0]).as_tensor().map(|t| &t.elem), Some(ElemType::Quant(_)))
            {
                quant.insert(data.results[0], vec![data.operands[0]]);
            }
        }
        Rewriter {
            f,
            resources,
            ctx,
            cal,
            config,
            order: Vec::new(),
            float,
            quant,
            absorbed: HashSet::new(),
            users,
            counts: Counts::default(),
        }
    }

    /// Rewrites the body: `rule` decides for each op whether it replaced it.
    pub fn run(mut self, rule: impl Fn(&mut Rewriter, Op) -> Result<bool, Diagnostic>) -> Result<Counts, Diagnostic> {
        let body = self.f.body;
        for op in self.f.blocks[body].ops.clone() {
            if self.absorbed.contains(&op) {
                continue;
            }
            let def = self.f.ops[op].def;
            let replaced =
                !def.has_trait(Trait::Terminator) && !def.has_trait(Trait::ConstantLike) && rule(&mut self, op)?;
            if !replaced {
                self.keep(op)?;
            }
        }
        self.f.blocks[body].ops = std::mem::take(&mut self.order);
        Ok(self.counts)
    }

    /// Keeps `op` as it is, with float operands.
    fn keep(&mut self, op: Op) -> Result<(), Diagnostic> {
        let def = self.f.ops[op].def;
        let counted = !def.has_trait(Trait::Terminator) && !def.has_trait(Trait::ConstantLike) && !is_layout(def.name);
        let produces_float = self.f.ops[op].results.iter().any(|&r| is_float_value(self.f, r));
        if counted && produces_float {
            self.counts.float_ops += 1;
        }
        for i in 0..self.f.ops[op].operands.len() {
            let v = self.f.ops[op].operands[i];
            let fv = self.float_of(v, op)?;
            self.f.ops[op].operands[i] = fv;
        }
        for r in self.f.ops[op].results.clone() {
            self.float.insert(r, r);
        }
        self.order.push(op);
        Ok(())
    }

    /// The precision of `op`, from its location and name.
    pub fn precision(&self, op: Op) -> Precision {
        let data = &self.f.ops[op];
        let mut names = Vec::new();
        location_names(&data.loc, &mut names);
        self.config.precision_for(&names, data.name())
    }

    /// Creates an op at the current position with the location of `at`;
    /// its first result.
    pub fn emit(
        &mut self,
        def: &'static OpDef,
        operands: Vec<Value>,
        result: TensorType,
        attrs: Attrs,
        at: Op,
    ) -> Value {
        let mut spec = NewOp::new(def, operands, vec![Type::Tensor(result)]).at(&self.f.ops[at]);
        spec.attrs = attrs;
        let op = self.f.create_op(spec);
        self.order.push(op);
        self.f.ops[op].results[0]
    }

    /// A constant holding `t`: inline when small, else a resource named
    /// after `name` (made unique).
    pub fn constant(&mut self, t: Tensor, name: &str, at: Op) -> Result<Value, Diagnostic> {
        let ty = t.ty();
        let value = if t.numel() <= INLINE_LIMIT {
            Attribute::Dense(DenseAttr::from_tensor(t))
        } else {
            let unique = self.unique_resource_name(name);
            let r = Resource::from_tensor(&t).map_err(|e| self.error(at, format!("internal error: {e}")))?;
            self.resources.insert(unique.clone(), r);
            Attribute::Resource { name: unique, ty: ty.clone() }
        };
        let mut attrs = Attrs::new();
        attrs.insert("value".into(), value);
        Ok(self.emit(&builtin::CONSTANT, vec![], ty, attrs, at))
    }

    fn unique_resource_name(&self, name: &str) -> String {
        let mut candidate = name.to_string();
        let mut n = 1;
        while self.resources.get(&candidate).is_some() {
            n += 1;
            candidate = format!("{name}.{n}");
        }
        candidate
    }

    /// The float value standing for `v`, dequantizing it if it only exists
    /// quantized.
    pub fn float_of(&mut self, v: Value, at: Op) -> Result<Value, Diagnostic> {
        if let Some(&x) = self.float.get(&v) {
            return Ok(x);
        }
        let Some(&q) = self.quant.get(&v).and_then(|qs| qs.first()) else {
            return Err(self.error(at, format!("internal error: no value stands for {v}")));
        };
        let ty = self.tensor_type(v);
        let d = self.emit(&quant::DEQUANTIZE, vec![q], ty, Attrs::new(), at);
        self.counts.dequantize += 1;
        self.float.insert(v, d);
        Ok(d)
    }

    /// True when `v` exists quantized.
    pub fn is_quantized(&self, v: Value) -> bool {
        self.quant.get(&v).is_some_and(|qs| !qs.is_empty())
    }

    /// The first quantized value standing for `v`.
    pub fn quantized(&self, v: Value) -> Option<Value> {
        self.quant.get(&v).and_then(|qs| qs.first()).copied()
    }

    /// Records `q` as a quantized value standing for `v`.
    pub fn set_quantized(&mut self, v: Value, q: Value) {
        self.quant.entry(v).or_default().push(q);
    }

    /// `v` quantized to `elem`: an existing value of that type, a
    /// requantization of an existing one, or a quantization of its float
    /// value.
    pub fn quant_of(&mut self, v: Value, elem: &ElemType, at: Op) -> Result<Value, Diagnostic> {
        let existing = self.quant.get(&v).cloned().unwrap_or_default();
        if let Some(&q) = existing.iter().find(|&&q| self.elem(q) == *elem) {
            return Ok(q);
        }
        let dims = self.tensor_type(v).dims;
        let ty = TensorType::new(dims, elem.clone());
        let from_int = existing.first().copied().filter(|&q| requantizable(&self.elem(q), elem));
        let q = match from_int {
            Some(src) => {
                self.counts.requantize += 1;
                self.emit(&quant::REQUANTIZE, vec![src], ty, Attrs::new(), at)
            }
            None => {
                let fv = self.float_of(v, at)?;
                self.counts.quantize += 1;
                self.emit(&quant::QUANTIZE, vec![fv], ty, Attrs::new(), at)
            }
        };
        self.set_quantized(v, q);
        Ok(q)
    }

    /// The type of the original value `v` quantized to `bits` bits with
    /// `p`'s observer and symmetry, from its calibrated range.
    pub fn act_elem(&self, v: Value, p: &Precision, bits: u8, at: Op) -> Result<ElemType, Diagnostic> {
        let h = self
            .cal
            .get(v)
            .ok_or_else(|| self.error(at, format!("internal error: {v} was not observed during calibration")))?;
        let (lo, hi) = h.range(p.act_observer, bits, p.symmetric_acts);
        Ok(act_type(lo, hi, bits, p.symmetric_acts))
    }

    /// The bits of a quantized result `v` of an op at precision `p`: the
    /// activation bits when every use is a matmul operand (through
    /// reshapes and transposes), else the wide bits (residual sums,
    /// normalization inputs, float ops and outputs).
    pub fn result_bits(&self, v: Value, p: &Precision) -> u8 {
        if self.only_matmul_uses(v, 4) {
            p.acts
        } else {
            p.wide_acts.max(p.acts)
        }
    }

    fn only_matmul_uses(&self, v: Value, depth: u32) -> bool {
        let Some(users) = self.users.get(&v) else { return false };
        users.iter().all(|&u| {
            let data = &self.f.ops[u];
            match data.name() {
                "nn.matmul" => true,
                n if is_layout(n) && depth > 0 => data.results.iter().all(|&r| self.only_matmul_uses(r, depth - 1)),
                _ => false,
            }
        })
    }

    /// The (original) tensor type of `v`.
    pub fn tensor_type(&self, v: Value) -> TensorType {
        match self.f.value_type(v) {
            Type::Tensor(t) => t.clone(),
            Type::Elem(e) => TensorType::new(Vec::new(), e.clone()),
        }
    }

    pub fn elem(&self, v: Value) -> ElemType {
        self.tensor_type(v).elem
    }

    /// The value of `v` when it is a float constant known at compile time:
    /// a `builtin.constant`, or a reshape or transpose of one.
    pub fn float_constant(&self, v: Value) -> Option<Tensor> {
        let t = self.constant_value(v, 2)?;
        t.elem.is_float().then_some(t)
    }

    fn constant_value(&self, v: Value, depth: u32) -> Option<Tensor> {
        let op = self.f.defining_op(v)?;
        let data = &self.f.ops[op];
        if data.def.has_trait(Trait::ConstantLike) {
            return match data.attr("value")? {
                Attribute::Dense(d) => d.to_tensor(),
                Attribute::Resource { name, ty } => {
                    let mut t = self.resources.get(name)?.to_tensor();
                    t.elem = ty.elem.clone();
                    Some(t)
                }
                _ => None,
            };
        }
        if depth == 0 || !is_layout(data.name()) || data.operands.len() != 1 {
            return None;
        }
        let input = self.constant_value(data.operands[0], depth - 1)?;
        let eval = data.def.eval?;
        let types: Vec<Type> = data.results.iter().map(|&r| self.f.value_type(r).clone()).collect();
        eval(&[input], &data.attrs, &types).ok()?.into_iter().next()
    }

    /// The resource name of the constant defining `v`, if it is one.
    pub fn resource_name(&self, v: Value) -> Option<String> {
        let op = self.f.defining_op(v)?;
        match self.f.ops[op].attr("value")? {
            Attribute::Resource { name, .. } => Some(name.clone()),
            _ => None,
        }
    }

    /// An error at `op`.
    pub fn error(&self, op: Op, message: impl Into<String>) -> Diagnostic {
        let data = &self.f.ops[op];
        Diagnostic::error(format!("'{}' op {}", data.name(), message.into()), data.span).with_loc(data.loc.clone())
    }
}

/// Data movement ops that carry quantized values unchanged.
pub fn is_layout(name: &str) -> bool {
    matches!(name, "nn.reshape" | "nn.transpose")
}

fn is_float_value(f: &Function, v: Value) -> bool {
    f.value_type(v).as_tensor().is_some_and(|t| t.elem.is_float())
}

/// True when a `!quant.int` value converts to `to` integer-only (the
/// ratio of scales is within the fixed-point range).
fn requantizable(from: &ElemType, to: &ElemType) -> bool {
    let (ElemType::Quant(a), ElemType::Quant(b)) = (from, to) else { return false };
    quant::convert::requantize_multipliers(a, b).is_ok()
}

fn location_names<'l>(loc: &'l Location, out: &mut Vec<&'l str>) {
    match loc {
        Location::Name(n) => out.push(n),
        Location::Fused(parts) => parts.iter().for_each(|p| location_names(p, out)),
        _ => {}
    }
}

/// The scale of a per-tensor quantized type.
pub fn tensor_scale(e: &ElemType) -> Option<f64> {
    match e {
        ElemType::Quant(q) => match q.params {
            QuantParams::PerTensor { scale, .. } => Some(scale),
            QuantParams::PerChannel { .. } => None,
        },
        _ => None,
    }
}

/// A per-tensor `!quant.int` type.
pub fn per_tensor(width: u8, signed: bool, scale: f64, zp: i64) -> ElemType {
    ElemType::Quant(Box::new(QuantInt { width, signed, params: QuantParams::PerTensor { scale, zp } }))
}

/// A rank-0 constant tensor standing for the real `c` exactly: the stored
/// integer `sign(c)` with scale `|c|` (2-bit signed, zero point 0).
pub fn exact_scalar(c: f64) -> Option<Tensor> {
    if !(c.is_finite() && c != 0.0) {
        return None;
    }
    let elem = per_tensor(2, true, c.abs(), 0);
    Some(Tensor { elem, shape: vec![], data: TensorData::Int(vec![if c > 0.0 { 1 } else { -1 }]) })
}
