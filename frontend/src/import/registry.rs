//! The op builder registry (tract's style): one entry per supported ONNX
//! op, keyed by (domain, op type), naming the weft op it creates, the
//! first opset that has it, and the builder, which chooses its behaviour by
//! the model's opset (older forms are converted to opset 21's, see
//! [`super::legacy`] and [`super::defaults`]).
//!
//! Invariants: adding an op is one line here (plus a builder when it needs
//! a conversion); an op is supported only when it has an entry and the
//! context knows the weft op the entry creates, so `weft info` and the
//! importer agree on what is unsupported.

use super::attrs::convert_attrs;
use super::builder::Importer;
use super::node::NodeCx;
use super::{constant, defaults, legacy};
use crate::onnx::proto::NodeProto;
use weft_ir::{Attrs, Context, Location};

/// Builds the ops of one node.
pub type BuildFn = fn(&mut NodeCx) -> Result<(), String>;

/// How one ONNX op is imported.
pub struct OpBuilder {
    /// `""` for the default domain (`ai.onnx`).
    pub domain: &'static str,
    pub op_type: &'static str,
    /// The weft op the builder creates for it.
    pub op: &'static str,
    /// The first opset of the domain that has the op.
    pub since: i64,
    pub build: BuildFn,
    /// Whether the node's attributes are converted before `build` runs
    /// (`Constant` reads its tensor itself, to keep large ones out of
    /// memory).
    pub converts_attrs: bool,
}

macro_rules! onnx_op {
    ($name:literal) => {
        onnx_op!($name, 1, direct)
    };
    ($name:literal, since $since:literal) => {
        onnx_op!($name, $since, direct)
    };
    ($name:literal, $since:literal, $build:expr) => {
        OpBuilder {
            domain: "",
            op_type: $name,
            op: concat!("onnx.", $name),
            since: $since,
            build: $build,
            converts_attrs: true,
        }
    };
}

/// Every supported op.
pub static BUILDERS: &[OpBuilder] = &[
    // Elementwise arithmetic and math.
    onnx_op!("Add"),
    onnx_op!("Sub"),
    onnx_op!("Mul"),
    onnx_op!("Div"),
    onnx_op!("Pow"),
    onnx_op!("Sqrt"),
    onnx_op!("Exp"),
    onnx_op!("Log"),
    onnx_op!("Erf"),
    onnx_op!("Tanh"),
    onnx_op!("Sigmoid"),
    onnx_op!("Relu"),
    onnx_op!("Neg"),
    onnx_op!("Abs"),
    onnx_op!("Reciprocal"),
    onnx_op!("Max"),
    onnx_op!("Min"),
    onnx_op!("Clip", 1, defaults::clip),
    onnx_op!("HardSigmoid"),
    onnx_op!("HardSwish", since 14),
    onnx_op!("Softplus"),
    onnx_op!("Gelu", since 20),
    // Logic and comparison.
    onnx_op!("Where"),
    onnx_op!("Equal"),
    onnx_op!("Less"),
    onnx_op!("Greater"),
    onnx_op!("LessOrEqual", since 12),
    onnx_op!("GreaterOrEqual", since 12),
    onnx_op!("And"),
    onnx_op!("Or"),
    onnx_op!("Not"),
    onnx_op!("IsNaN"),
    onnx_op!("Cast"),
    onnx_op!("CastLike", since 15),
    // Linear algebra, convolution, normalization.
    onnx_op!("MatMul"),
    onnx_op!("Gemm"),
    onnx_op!("Einsum", since 12),
    onnx_op!("Conv"),
    onnx_op!("ConvTranspose"),
    onnx_op!("BatchNormalization"),
    onnx_op!("LayerNormalization", since 17),
    onnx_op!("Softmax", 1, legacy::softmax),
    onnx_op!("LogSoftmax", 1, legacy::softmax),
    // Reductions.
    onnx_op!("ReduceMean", 1, legacy::reduce_axes_input_18),
    onnx_op!("ReduceMax", 1, legacy::reduce_axes_input_18),
    onnx_op!("ReduceSum", 1, legacy::reduce_axes_input_13),
    // Shapes and indexing.
    onnx_op!("Reshape"),
    onnx_op!("Transpose"),
    onnx_op!("Gather"),
    onnx_op!("GatherND"),
    onnx_op!("Concat"),
    onnx_op!("Split", 1, legacy::split),
    onnx_op!("Slice", 1, defaults::slice),
    onnx_op!("Squeeze", 1, legacy::axes_input_13),
    onnx_op!("Unsqueeze", 1, legacy::axes_input_13),
    onnx_op!("Flatten"),
    onnx_op!("Expand"),
    onnx_op!("Shape"),
    onnx_op!("Size"),
    onnx_op!("ConstantOfShape"),
    onnx_op!("Range"),
    onnx_op!("Identity"),
    onnx_op!("Resize", 1, defaults::resize),
    // Quantization.
    onnx_op!("QuantizeLinear"),
    onnx_op!("DequantizeLinear"),
    onnx_op!("DynamicQuantizeLinear"),
    onnx_op!("MatMulInteger", 1, defaults::matmul_integer),
    onnx_op!("QLinearMatMul"),
    // Constants.
    OpBuilder {
        domain: "",
        op_type: "Constant",
        op: "builtin.constant",
        since: 1,
        build: constant::build,
        converts_attrs: false,
    },
];

/// `ai.onnx` is the default domain, also written `""`.
pub fn normalize_domain(domain: &str) -> &str {
    if domain == "ai.onnx" {
        ""
    } else {
        domain
    }
}

/// The builder of an op, if weft has one.
pub fn lookup(domain: &str, op_type: &str) -> Option<&'static OpBuilder> {
    let domain = normalize_domain(domain);
    BUILDERS.iter().find(|b| b.domain == domain && b.op_type == op_type)
}

/// Why an op cannot be imported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unsupported {
    /// weft has no builder for it.
    Unknown,
    /// The model's opset predates the op.
    NotInOpset { since: i64 },
    /// The builder's weft op is not registered in the context.
    NoDialectOp(&'static str),
}

/// Whether weft imports op `op_type` of `domain` in a model of opset
/// `opset` (of the default domain).
pub fn support(ctx: &Context, domain: &str, op_type: &str, opset: i64) -> Result<&'static OpBuilder, Unsupported> {
    let b = lookup(domain, op_type).ok_or(Unsupported::Unknown)?;
    if b.domain.is_empty() && opset < b.since {
        return Err(Unsupported::NotInOpset { since: b.since });
    }
    if ctx.lookup(b.op).is_none() {
        return Err(Unsupported::NoDialectOp(b.op));
    }
    Ok(b)
}

/// Imports one node (its op is supported: checked before).
pub fn import_node<'a>(imp: &mut Importer<'a>, node: &'a NodeProto, name: &str) -> Result<(), String> {
    let b = lookup(&node.domain, &node.op_type).ok_or_else(|| format!("unsupported ONNX op '{}'", node.op_type))?;
    let inputs = node
        .input
        .iter()
        .map(|n| if n.is_empty() { Ok(None) } else { imp.value(n).map(Some) })
        .collect::<Result<Vec<_>, String>>()?;
    let attrs = if b.converts_attrs { convert_attrs(imp.model, &node.attribute)? } else { Attrs::new() };
    let mut cx = NodeCx { imp, node, loc: Location::Name(name.to_string()), inputs, attrs };
    (b.build)(&mut cx)
}

/// The ONNX op as its `onnx.<OpType>`, inputs and attributes unchanged.
pub fn direct(cx: &mut NodeCx) -> Result<(), String> {
    let operands = cx.operands()?;
    let op = format!("onnx.{}", cx.op_type());
    cx.finish(&op, operands)
}
