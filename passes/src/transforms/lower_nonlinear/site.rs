//! Reading and checking one quant nonlinear op before anything is
//! emitted: its kind, its input and result formats, its lanes, its
//! constant scale and bias, and whether its method can build it.
//!
//! Invariants: a [`Site`] holds everything its lowering needs, so the
//! emitters never fail on user input; every rejection names what is
//! wrong and what is accepted.

use super::formats::QuarkTables;
use super::{LowerError, Method};
use weft_ir::attr::Attribute;
use weft_ir::ops::shape::normalize_axis;
use weft_ir::resources::Resources;
use weft_ir::tensor::Scalar;
use weft_ir::types::QuantParams;
use weft_ir::{Diagnostic, Dim, ElemType, Function, Op, Type, Value};

/// The quantized nonlinear ops the pass lowers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum OpKind {
    Softmax,
    Gelu,
    LayerNorm,
    Sigmoid,
    Silu,
    Tanh,
    Exp,
    Reciprocal,
    Sqrt,
    Rsqrt,
}

impl OpKind {
    pub const ALL: [OpKind; 10] = [
        OpKind::Softmax,
        OpKind::Gelu,
        OpKind::LayerNorm,
        OpKind::Sigmoid,
        OpKind::Silu,
        OpKind::Tanh,
        OpKind::Exp,
        OpKind::Reciprocal,
        OpKind::Sqrt,
        OpKind::Rsqrt,
    ];

    /// The op's name: `quant.softmax`, ...
    pub fn op_name(self) -> &'static str {
        match self {
            OpKind::Softmax => "quant.softmax",
            OpKind::Gelu => "quant.gelu",
            OpKind::LayerNorm => "quant.layer_norm",
            OpKind::Sigmoid => "quant.sigmoid",
            OpKind::Silu => "quant.silu",
            OpKind::Tanh => "quant.tanh",
            OpKind::Exp => "quant.exp",
            OpKind::Reciprocal => "quant.reciprocal",
            OpKind::Sqrt => "quant.sqrt",
            OpKind::Rsqrt => "quant.rsqrt",
        }
    }

    /// The kind's short name, as the pass option and `weft accuracy` spell it.
    pub fn option(self) -> &'static str {
        match self {
            OpKind::LayerNorm => "layer-norm",
            other => other.op_name().trim_start_matches("quant."),
        }
    }

    /// The kind of the op named `name`, if the pass lowers it.
    pub fn of(name: &str) -> Option<OpKind> {
        OpKind::ALL.into_iter().find(|k| k.op_name() == name)
    }

    /// Ops whose value at one element depends on a whole lane.
    pub fn is_lane_op(self) -> bool {
        matches!(self, OpKind::Softmax | OpKind::LayerNorm)
    }
}

/// The least and greatest widths of quantized operands and results.
pub const MIN_BITS: u8 = 4;
pub const MAX_BITS: u8 = 16;
/// The widest input a table covers (2^8 entries).
pub const MAX_LUT_BITS: u8 = 8;
/// The most lanes a softmax or layer norm may reduce (2^20).
pub const MAX_LANES: u64 = 1 << 20;

/// A per-tensor quantization format: `q` in `width` bits stands for
/// `(q - zp) * scale`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Format {
    pub width: u8,
    pub signed: bool,
    pub scale: f64,
    pub zp: i64,
}

impl Format {
    /// The least and greatest stored integers.
    pub fn range(&self) -> (i64, i64) {
        let w = u32::from(self.width);
        if self.signed {
            (-(1i64 << (w - 1)), (1i64 << (w - 1)) - 1)
        } else {
            (0, (1i64 << w) - 1)
        }
    }

    /// The real value of `q`.
    pub fn real(&self, q: i64) -> f64 {
        (q - self.zp) as f64 * self.scale
    }

    /// The plain integer type holding the stored integers.
    pub fn storage(&self) -> ElemType {
        ElemType::Int { width: self.width, signed: self.signed }
    }
}

/// A constant float tensor (layer norm's scale or bias).
#[derive(Debug, Clone, PartialEq)]
pub struct ConstTensor {
    pub shape: Vec<u64>,
    pub values: Vec<f64>,
}

/// One checked op and what its lowering needs.
#[derive(Debug, Clone)]
pub struct Site {
    pub op: Op,
    pub kind: OpKind,
    pub method: Method,
    pub input: Value,
    pub x: Format,
    pub y: Format,
    /// The replaced op's result type, which the program ends in.
    pub result_type: Type,
    /// The input's dimensions.
    pub dims: Vec<Dim>,
    /// The reduced axes: softmax's axis, layer norm's `[axis, r)`; none
    /// for elementwise ops.
    pub axes: Vec<usize>,
    /// The number of elements of one lane (the product of the extents of
    /// `axes`); 1 for elementwise ops.
    pub lanes: u64,
    pub epsilon: f64,
    /// Layer norm's scale and bias.
    pub affine: Option<(ConstTensor, ConstTensor)>,
    /// The coefficient tables of `quark`'s exp2 and log2 units.
    pub tables: QuarkTables,
    /// GELU's `approximate = "tanh"` (the tables follow it; the
    /// approximations are closer to either form than their own error).
    pub gelu_tanh: bool,
}

impl Site {
    /// The one reduced axis of a softmax.
    pub fn axis(&self) -> Result<usize, LowerError> {
        self.axes.first().copied().ok_or_else(|| LowerError::new("reduces no axis"))
    }
}

/// `'quant.softmax' op MESSAGE` at the op.
pub fn op_diagnostic(f: &Function, op: Op, message: &str) -> Diagnostic {
    let data = &f.ops[op];
    Diagnostic::error(format!("'{}' op {message}", data.name()), data.span).with_loc(data.loc.clone())
}

/// Reads `op` (of `kind`) and checks that `method` can lower it.
pub fn check(
    f: &Function,
    resources: &Resources,
    op: Op,
    kind: OpKind,
    method: Method,
    tables: QuarkTables,
) -> Result<Site, LowerError> {
    let data = &f.ops[op];
    let input = *data.operands.first().ok_or_else(|| LowerError::new("has no input"))?;
    let result = *data.results.first().ok_or_else(|| LowerError::new("has no result"))?;
    let in_ty = f.value_type(input).as_tensor().ok_or_else(|| LowerError::new("input must be a tensor"))?;
    let result_type = f.value_type(result).clone();
    let out_ty = result_type.as_tensor().ok_or_else(|| LowerError::new("result must be a tensor"))?;
    if kind == OpKind::LayerNorm && method == Method::Lut {
        return Err(LowerError::new(
            "cannot be lowered with method 'lut': a layer norm's output depends on its whole lane, \
which no table of one input covers; use 'quark' or 'ibert'",
        ));
    }
    let x = format_of(&in_ty.elem, "input")?;
    let y = format_of(&out_ty.elem, "result")?;
    check_width(x.width, "input", method)?;
    check_width(y.width, "result", method)?;
    let mut site = Site {
        op,
        kind,
        method,
        input,
        x,
        y,
        result_type: result_type.clone(),
        dims: in_ty.dims.clone(),
        axes: Vec::new(),
        lanes: 1,
        epsilon: 0.0,
        affine: None,
        tables,
        gelu_tanh: data.attrs.get("approximate").and_then(Attribute::as_str) == Some("tanh"),
    };
    match kind {
        OpKind::Softmax => {
            let axis = normalize_axis(axis_attr(&data.attrs)?, in_ty.rank())?;
            site.axes = vec![axis];
        }
        OpKind::LayerNorm => {
            let axis = normalize_axis(axis_attr(&data.attrs)?, in_ty.rank())?;
            site.axes = (axis..in_ty.rank()).collect();
            site.epsilon = data.attrs.get("epsilon").and_then(Attribute::as_float).unwrap_or(0.0);
            let scale = constant_operand(f, resources, data.operands.get(1).copied(), "scale")?;
            let bias = constant_operand(f, resources, data.operands.get(2).copied(), "bias")?;
            site.affine = Some((scale, bias));
        }
        _ => {}
    }
    site.lanes = lane_count(&site)?;
    Ok(site)
}

fn axis_attr(attrs: &weft_ir::Attrs) -> Result<i64, LowerError> {
    attrs.get("axis").and_then(Attribute::as_int).ok_or_else(|| LowerError::new("needs an integer 'axis'"))
}

fn format_of(elem: &ElemType, what: &str) -> Result<Format, LowerError> {
    let ElemType::Quant(q) = elem else {
        return Err(LowerError::new(format!("{what} must be !quant.int, got {elem}")));
    };
    match q.params {
        QuantParams::PerTensor { scale, zp } if scale.is_finite() && scale > 0.0 => {
            Ok(Format { width: q.width, signed: q.signed, scale, zp })
        }
        QuantParams::PerTensor { scale, .. } => {
            Err(LowerError::new(format!("{what} has scale {scale}; a positive finite scale is needed")))
        }
        QuantParams::PerChannel { .. } => Err(LowerError::new(format!(
            "{what} is quantized per channel ({elem}); lower-nonlinear needs per-tensor scales"
        ))),
    }
}

fn check_width(width: u8, what: &str, method: Method) -> Result<(), LowerError> {
    if !(MIN_BITS..=MAX_BITS).contains(&width) {
        return Err(LowerError::new(format!(
            "has a {width}-bit {what}; lower-nonlinear builds {MIN_BITS}- to {MAX_BITS}-bit activations"
        )));
    }
    if method == Method::Lut && what == "input" && width > MAX_LUT_BITS {
        return Err(LowerError::new(format!(
            "cannot be lowered with method 'lut': its input has {width} bits, and tables cover inputs of at \
most {MAX_LUT_BITS} bits ({} entries); use 'quark' or 'ibert'",
            1u32 << MAX_LUT_BITS
        )));
    }
    Ok(())
}

/// The product of the static extents of the site's axes.
fn lane_count(site: &Site) -> Result<u64, LowerError> {
    let mut n = 1u64;
    for &a in &site.axes {
        match site.dims.get(a) {
            Some(Dim::Fixed(d)) if *d > 0 => n = n.saturating_mul(*d),
            Some(d) => {
                return Err(LowerError::new(format!(
                    "reduces axis {a} of extent {d}; lower-nonlinear needs a static, non-zero number of lanes"
                )))
            }
            None => return Err(LowerError::new(format!("axis {a} is out of range"))),
        }
    }
    if n > MAX_LANES {
        return Err(LowerError::new(format!("reduces {n} lanes; at most {MAX_LANES} are supported")));
    }
    Ok(n)
}

/// The values of a float constant operand (inline or a resource).
fn constant_operand(
    f: &Function,
    resources: &Resources,
    v: Option<Value>,
    what: &str,
) -> Result<ConstTensor, LowerError> {
    let not_constant = || LowerError::new(format!("has a {what} that is not a constant; lowering needs its values"));
    let v = v.ok_or_else(not_constant)?;
    let def = f.defining_op(v).ok_or_else(not_constant)?;
    let tensor = match f.ops[def].attrs.get("value") {
        Some(Attribute::Dense(d)) if f.ops[def].def.has_trait(weft_ir::ops::Trait::ConstantLike) => d.to_tensor(),
        Some(Attribute::Resource { name, .. }) => resources.get(name).map(|r| r.to_tensor()),
        _ => None,
    }
    .ok_or_else(not_constant)?;
    let values = (0..tensor.data.len())
        .map(|i| match tensor.data.get(i) {
            Scalar::Float(x) => x,
            Scalar::Int(i) => i as f64,
        })
        .collect::<Vec<f64>>();
    if let Some(bad) = values.iter().find(|x| !x.is_finite()) {
        return Err(LowerError::new(format!("has a {what} holding {bad}; finite values are needed")));
    }
    Ok(ConstTensor { shape: tensor.shape, values })
}
