//! `legalize-onnx`: rewrites every op of the `onnx` dialect into the `nn`
//! dialect, so that later passes (fuse, quantize) and the backends see one
//! small dialect with static attributes.
//!
//! Phases, per function:
//! 1. Compile-time values ([`known`]): constants, `onnx.Shape`/`onnx.Size`
//!    of static types, and small pure onnx computations over them (the
//!    shape chains of exported models).
//! 2. One sweep over the body in order. Each onnx op is, in this order of
//!    preference: replaced by constants if all its results are
//!    compile-time values; or rewritten by its rule in [`RULES`] into nn
//!    ops (shape operands must be compile-time values; they become static
//!    attributes), or in [`quant::QUANT_RULES`] into quant ops (ONNX's
//!    quantization ops, whose values are never folded: their quantized
//!    types are what later passes work with). A rule's values must have
//!    exactly the types of the results they replace.
//! 3. If any op failed, the first failure is the pass's error (the others
//!    are listed in notes) and the module is unchanged. Otherwise the new
//!    ops are placed right before the op they replace (taking its location
//!    and span), uses are redirected, and the onnx ops removed.
//!
//! Invariants: the pass leaves no onnx op; the surviving ops keep their
//! relative order; results are redirected
//! only to values of identical type, so every user still verifies.

mod builder;
mod conv;
mod einsum;
mod elementwise;
mod known;
mod linalg;
mod norm;
mod quant;
mod resize;
mod shape;
#[cfg(test)]
mod tests;

use crate::{parse_uint_option, Pass, PassContext, PassOption, PassStatistic};
use builder::{Replacement, Rewriter};
use known::Known;
use std::collections::HashMap;
use weft_ir::entity::SecondaryMap;
use weft_ir::resources::Resources;
use weft_ir::{Diagnostic, Function, Module, Op, Type, Value};

/// The `legalize-onnx` pass.
#[derive(Debug, Clone)]
pub struct LegalizeOnnx {
    max_fold_elements: u64,
}

impl Default for LegalizeOnnx {
    fn default() -> Self {
        LegalizeOnnx { max_fold_elements: 1024 }
    }
}

/// Why one op could not be legalized.
#[derive(Debug, Clone, PartialEq)]
pub struct LegalizeError {
    pub message: String,
    pub note: Option<String>,
}

impl LegalizeError {
    pub fn new(message: impl Into<String>) -> LegalizeError {
        LegalizeError { message: message.into(), note: None }
    }

    /// A failure that is a bug of the pass, not of the input.
    pub fn internal(message: impl Into<String>) -> LegalizeError {
        LegalizeError::new(format!("internal error: {}", message.into()))
    }

    pub fn with_note(mut self, note: impl Into<String>) -> LegalizeError {
        self.note = Some(note.into());
        self
    }
}

impl From<String> for LegalizeError {
    fn from(message: String) -> Self {
        LegalizeError::new(message)
    }
}

/// A legalization rule: builds the replacement of the op the rewriter is at.
pub type Rule = fn(&mut Rewriter) -> Replacement;

/// The rule of every onnx op the pass rewrites.
pub const RULES: &[(&str, Rule)] = &[
    ("onnx.Add", elementwise::add),
    ("onnx.Sub", elementwise::sub),
    ("onnx.Mul", elementwise::mul),
    ("onnx.Div", elementwise::div),
    ("onnx.Pow", elementwise::pow),
    ("onnx.Max", elementwise::max),
    ("onnx.Min", elementwise::min),
    ("onnx.Sqrt", elementwise::sqrt),
    ("onnx.Exp", elementwise::exp),
    ("onnx.Log", elementwise::log),
    ("onnx.Erf", elementwise::erf),
    ("onnx.Tanh", elementwise::tanh),
    ("onnx.Sigmoid", elementwise::sigmoid),
    ("onnx.Relu", elementwise::relu),
    ("onnx.Neg", elementwise::neg),
    ("onnx.Abs", elementwise::abs),
    ("onnx.Reciprocal", elementwise::reciprocal),
    ("onnx.Gelu", elementwise::gelu),
    ("onnx.HardSigmoid", elementwise::hard_sigmoid),
    ("onnx.HardSwish", elementwise::hard_swish),
    ("onnx.Softplus", elementwise::softplus),
    ("onnx.Clip", elementwise::clip),
    ("onnx.Where", elementwise::select),
    ("onnx.Equal", elementwise::equal),
    ("onnx.Less", elementwise::less),
    ("onnx.Greater", elementwise::greater),
    ("onnx.LessOrEqual", elementwise::less_equal),
    ("onnx.GreaterOrEqual", elementwise::greater_equal),
    ("onnx.And", elementwise::and),
    ("onnx.Or", elementwise::or),
    ("onnx.Not", elementwise::not),
    ("onnx.IsNaN", elementwise::is_nan),
    ("onnx.Cast", elementwise::cast),
    ("onnx.CastLike", elementwise::cast),
    ("onnx.Identity", elementwise::identity),
    ("onnx.Softmax", norm::softmax),
    ("onnx.LogSoftmax", norm::log_softmax),
    ("onnx.LayerNormalization", norm::layer_norm),
    ("onnx.BatchNormalization", norm::batch_norm),
    ("onnx.ReduceMean", norm::reduce_mean),
    ("onnx.ReduceSum", norm::reduce_sum),
    ("onnx.ReduceMax", norm::reduce_max),
    ("onnx.MatMul", linalg::matmul),
    ("onnx.Gemm", linalg::gemm),
    ("onnx.Einsum", einsum::einsum),
    ("onnx.Conv", conv::conv),
    ("onnx.ConvTranspose", conv::conv_transpose),
    ("onnx.Resize", resize::resize),
    ("onnx.Reshape", shape::reshape),
    ("onnx.Flatten", shape::reshape_to_result),
    ("onnx.Squeeze", shape::reshape_to_result),
    ("onnx.Unsqueeze", shape::reshape_to_result),
    ("onnx.Transpose", shape::transpose),
    ("onnx.Expand", shape::expand),
    ("onnx.Concat", shape::concat),
    ("onnx.Split", shape::split),
    ("onnx.Slice", shape::slice),
    ("onnx.Gather", shape::gather),
    ("onnx.GatherND", shape::gather_nd),
    ("onnx.Shape", shape::shape_or_size),
    ("onnx.Size", shape::shape_or_size),
    ("onnx.ConstantOfShape", shape::constant_of_shape),
    ("onnx.Range", shape::range),
];

const MAX_FOLD_ELEMENTS: PassOption = PassOption {
    name: "max-fold-elements",
    kind: "uint",
    default: "1024",
    doc: "onnx computations over compile-time values with results of at most this many elements become constants",
};

const LEGALIZED: PassStatistic = PassStatistic { name: "legalized-ops", doc: "onnx ops rewritten into nn ops" };
const FOLDED: PassStatistic =
    PassStatistic { name: "folded-ops", doc: "onnx ops replaced by the constants they compute at compile time" };
const QUANTIZED: PassStatistic =
    PassStatistic { name: "quant-ops", doc: "onnx quantization ops rewritten into quant ops" };
const CREATED: PassStatistic = PassStatistic { name: "created-ops", doc: "nn ops and constants created" };

impl Pass for LegalizeOnnx {
    fn name(&self) -> &'static str {
        "legalize-onnx"
    }

    fn summary(&self) -> &'static str {
        "Rewrites onnx ops into the nn dialect (shape operands must be compile-time constants)"
    }

    fn description(&self) -> &'static str {
        "Rewrites every op of the `onnx` dialect into `nn` ops with static attributes. First the \
compile-time values are found: constants, `onnx.Shape` and `onnx.Size` of operands with static \
shapes, and onnx computations over them with results of at most `max-fold-elements` elements; \
onnx ops whose results are all such values become constants. Every other onnx op is rewritten by \
its rule, with ONNX's defaults made explicit: shape operands (Reshape's `shape`, Slice's `starts`, \
`ends`, `axes`, `steps`, Expand's `shape`, the `axes` of reductions and of Squeeze/Unsqueeze, \
Split's `split`, Resize's `scales`/`sizes`/`roi`, Clip's bounds where possible) become \
attributes, negative axes are normalized, `auto_pad` becomes explicit padding, bias inputs \
become broadcasting adds, Gemm becomes transposes, a matmul, scales and an add, \
BatchNormalization becomes a multiply and an add per channel (whose factors `canonicalize` \
folds when the statistics are constants), Einsum becomes diagonals (gathers), sums, \
transposes, reshapes and one batched matmul per pair of operands, LayerNormalization's \
optional Mean and InvStdDev results are computed beside `nn.layer_norm`, and the ops nn does not \
have (HardSigmoid, HardSwish, Softplus, IsNaN, GatherND, Split, Squeeze, ...) become short \
sequences of nn ops.\n\n\
An op whose shape operands are not compile-time values, whose operands need static shapes they \
do not have, or whose form nn cannot express (training-mode BatchNormalization) is an error \
naming the op and its location; bind the input shapes at import (`--input-shape`) to make shapes \
constant. The first failure is reported (the others in notes) and the module is left unchanged.\n\n\
ONNX's quantization ops become quant ops on quantized types whose scales and zero points are \
the ops' constant operands (spec/quant.md): QuantizeLinear a `quant.quantize`, DequantizeLinear a \
`quant.dequantize`, QLinearMatMul a `quant.qmatmul` and a `quant.requantize`, MatMulInteger a \
`quant.qmatmul` into a scale-1 accumulator (an i32 `nn.matmul` when its zero points are computed at \
run time), each with `quant.storage_cast`s to and from the ONNX integer types; \
DynamicQuantizeLinear, whose scale depends on the data, becomes the nn ops of its formula. \
Per-block quantization is an error. `fold-qdq` then folds the casts and the float ops between \
dequantize and quantize. Run the pass after `canonicalize` and follow it with cleanup: the named \
pipeline `onnx-to-nn` is `canonicalize,legalize-onnx,fold-qdq,canonicalize,cse,dce`."
    }

    fn options(&self) -> &'static [PassOption] {
        &[MAX_FOLD_ELEMENTS]
    }

    fn statistics(&self) -> &'static [PassStatistic] {
        &[LEGALIZED, FOLDED, QUANTIZED, CREATED]
    }

    fn set_option(&mut self, name: &str, value: &str) -> Result<(), String> {
        match name {
            "max-fold-elements" => self.max_fold_elements = parse_uint_option(value)?,
            _ => return Err(format!("unknown option '{name}'")),
        }
        Ok(())
    }

    fn option_values(&self) -> Vec<(&'static str, String)> {
        vec![("max-fold-elements", self.max_fold_elements.to_string())]
    }

    fn run(&mut self, module: &mut Module, cx: &mut PassContext) -> Result<(), Diagnostic> {
        let Module { funcs, resources, .. } = module;
        for f in funcs.iter_mut() {
            legalize_function(f, resources, self.max_fold_elements, cx)?;
        }
        Ok(())
    }
}

/// What one sweep decided, applied only when no op failed.
#[derive(Default)]
struct Plan {
    inserted: HashMap<Op, Vec<Op>>,
    replacements: SecondaryMap<Value, Option<Value>>,
    removed: Vec<Op>,
    legalized: u64,
    folded: u64,
    quantized: u64,
    created: u64,
}

fn legalize_function(
    f: &mut Function,
    resources: &Resources,
    limit: u64,
    cx: &mut PassContext,
) -> Result<(), Diagnostic> {
    let known = Known::compute(f, resources, limit);
    let uses = f.use_counts();
    let mut plan = Plan::default();
    let mut failures = Vec::new();
    let body_ops = f.blocks[f.body].ops.clone();
    for op in body_ops {
        let name = f.ops[op].name();
        if f.ops[op].def.dialect() != "onnx" {
            continue;
        }
        let fold = known.all_results_known(f, op);
        let mut rw = Rewriter::new(f, &known, op);
        let outcome = if fold { fold_to_constants(&mut rw, &known) } else { apply_rule(&mut rw, name) };
        let created = std::mem::take(&mut rw.created);
        match outcome.and_then(|values| check_replacement(f, op, &values, &uses).map(|()| values)) {
            Ok(values) => {
                plan.created += created.len() as u64;
                record(&mut plan, f, op, values, created, fold);
            }
            Err(e) => failures.push(failure(f, op, e)),
        }
    }
    if let Some(first) = failures.first() {
        let mut d = first.clone();
        for other in failures.iter().skip(1).take(5) {
            d = d.note_at(format!("also: {}", other.message), other.span);
        }
        if failures.len() > 6 {
            d = d.note(format!("and {} more ops that cannot be legalized", failures.len() - 6));
        }
        return Err(d);
    }
    cx.count(&LEGALIZED, plan.legalized);
    cx.count(&FOLDED, plan.folded);
    cx.count(&QUANTIZED, plan.quantized);
    cx.count(&CREATED, plan.created);
    apply(f, plan);
    Ok(())
}

fn apply_rule(rw: &mut Rewriter, name: &str) -> Replacement {
    match RULES.iter().chain(quant::QUANT_RULES).find(|(n, _)| *n == name) {
        Some((_, rule)) => rule(rw),
        None => Err(LegalizeError::new("has no legalization to nn")
            .with_note("legalize-onnx rewrites the ops listed in spec/passes.md")),
    }
}

/// True for the onnx ops rewritten into quant ops (never folded).
pub fn is_quant_import(name: &str) -> bool {
    quant::QUANT_RULES.iter().any(|(n, _)| *n == name)
}

/// Constants for the results of an op whose results are all known.
fn fold_to_constants(rw: &mut Rewriter, known: &Known) -> Replacement {
    (0..rw.num_results())
        .map(|i| {
            let r = rw.result_value(i).ok_or_else(|| LegalizeError::internal("missing result"))?;
            let t = known.get(r).cloned().ok_or_else(|| LegalizeError::internal("result not known"))?;
            Ok(rw.constant(t))
        })
        .collect()
}

/// The replacement values must have the results' types, and results
/// without a replacement must be unused.
fn check_replacement(
    f: &Function,
    op: Op,
    values: &[Value],
    uses: &SecondaryMap<Value, u32>,
) -> Result<(), LegalizeError> {
    let results = &f.ops[op].results;
    if values.len() > results.len() {
        return Err(LegalizeError::internal("more replacement values than results"));
    }
    for (i, (&r, &v)) in results.iter().zip(values).enumerate() {
        let (declared, got) = (f.value_type(r), f.value_type(v));
        if declared != got {
            return Err(type_mismatch(i, declared, got));
        }
    }
    if let Some(i) = results.iter().skip(values.len()).position(|&r| uses[r] > 0) {
        return Err(LegalizeError::new(format!(
            "result #{} is used, but nn has no equivalent of it",
            values.len() + i
        )));
    }
    Ok(())
}

fn type_mismatch(i: usize, declared: &Type, got: &Type) -> LegalizeError {
    let is_static = declared.as_tensor().is_some_and(|t| t.static_shape().is_some());
    if is_static {
        LegalizeError::internal(format!("result #{i} is declared {declared}, but its legalization gives {got}"))
    } else {
        LegalizeError::new(format!("result #{i} has type {declared}, but nn needs the static type {got}"))
            .with_note(builder::SHAPE_HINT)
    }
}

fn record(plan: &mut Plan, f: &Function, op: Op, values: Vec<Value>, created: Vec<Op>, folded: bool) {
    for (&r, v) in f.ops[op].results.iter().zip(values) {
        // A replacement may be an earlier op's result that is itself
        // replaced (a rule that forwards its operand): resolve it, so that
        // one redirection at the end reaches the final value.
        let v = plan.replacements[v].unwrap_or(v);
        plan.replacements.set(r, Some(v));
    }
    plan.inserted.insert(op, created);
    plan.removed.push(op);
    if folded {
        plan.folded += 1;
    } else if is_quant_import(f.ops[op].name()) {
        plan.quantized += 1;
    } else {
        plan.legalized += 1;
    }
}

fn failure(f: &Function, op: Op, e: LegalizeError) -> Diagnostic {
    let data = &f.ops[op];
    let d = Diagnostic::error(format!("'{}' op {}", data.name(), e.message), data.span).with_loc(data.loc.clone());
    match e.note {
        Some(n) => d.note(n),
        None => d,
    }
}

/// Places the created ops, redirects uses and drops the replaced ops.
fn apply(f: &mut Function, plan: Plan) {
    let mut removed = SecondaryMap::<Op, bool>::default();
    for &op in &plan.removed {
        removed.set(op, true);
    }
    let old = std::mem::take(&mut f.blocks[f.body].ops);
    let mut ops = Vec::with_capacity(old.len() + plan.created as usize);
    for op in old {
        if let Some(new) = plan.inserted.get(&op) {
            ops.extend_from_slice(new);
        }
        if !removed[op] {
            ops.push(op);
        }
    }
    let body = f.body;
    f.blocks[body].ops = ops;
    f.replace_uses(&plan.replacements);
}
