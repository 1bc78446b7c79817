//! `lower-nonlinear`: replaces every quantized nonlinear op
//! (`quant.softmax`, `quant.gelu`, `quant.layer_norm`, `quant.sigmoid`,
//! ...) by an integer-only program of nl primitives implementing a method:
//! QUARK's shared-unit approximations (`quark`, the default), I-BERT's
//! integer kernels (`ibert`) or exact tables (`lut`). spec/nl.md states
//! every method's formulas, formats and measured errors.
//!
//! Phases, per function:
//! 1. Check ([`site`]): every quant nonlinear op is read into a [`Site`]
//!    (its formats, lanes, constants) and checked against what its method
//!    can build (widths, per-tensor parameters, static lanes, constant
//!    scale and bias). The first failure is the pass's error, the others
//!    are notes, and the module is unchanged.
//! 2. Lower: each site's program is emitted right before it ([`emit`]) by
//!    its method's module ([`quark`], [`ibert`], [`lut`]; layer norm's
//!    shared steps in [`norm`]), uses of its result are redirected to the
//!    program's result and the op is removed. A failure here is an
//!    internal error, and the function is restored.
//!
//! Invariants: the pass leaves no quant nonlinear op behind; every program
//! ends in an `nl.cast` to the replaced op's exact result type, so every
//! user still verifies; the emitted programs depend only on the op, its
//! types and its constants (deterministic output).

mod emit;
mod formats;
mod ibert;
mod lut;
mod norm;
mod quark;
mod quark_log;
mod site;
#[cfg(test)]
mod tests;

use site::Site;
pub use site::{OpKind, MAX_LUT_BITS};

use crate::{parse_uint_option, Pass, PassContext, PassOption, PassStatistic};
use emit::Emitter;
pub use formats::QuarkTables;
use formats::DEFAULT_SEGMENTS;
use weft_ir::entity::SecondaryMap;
use weft_ir::resources::Resources;
use weft_ir::{Diagnostic, Function, Module, Op, Value};

/// An integer approximation method.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Method {
    /// QUARK: Appro-Exp and Appro-LN units, division-free softmax, GELU as
    /// a two-element softmax, the log divider in layer norm.
    Quark,
    /// QUARK with log-domain products: layer norm's square and gamma, and
    /// GELU's and SiLU's `x * p`, become additions of logarithms on the
    /// same exp2/log2 units (no per-lane multiplier); every other kind is
    /// `quark`'s program ([`Method::has_own_program`]).
    QuarkLog,
    /// I-BERT: i-exp, integer softmax with a divider, i-GELU, i-sqrt layer
    /// norm.
    Ibert,
    /// Exact tables for inputs of 8 bits or fewer.
    Lut,
}

impl Method {
    /// Every method, in the order ties between equal costs are broken.
    pub const ALL: [Method; 4] = [Method::Quark, Method::QuarkLog, Method::Ibert, Method::Lut];

    pub fn name(self) -> &'static str {
        match self {
            Method::Quark => "quark",
            Method::QuarkLog => "quark-log",
            Method::Ibert => "ibert",
            Method::Lut => "lut",
        }
    }

    /// The method a variant belongs to (`quark-log` is a `quark`
    /// datapath: pinning `quark` admits it).
    pub fn base(self) -> Method {
        match self {
            Method::QuarkLog => Method::Quark,
            m => m,
        }
    }

    /// Whether this method lowers `kind` with a program of its own; a
    /// variant lowers the kinds it has no datapath for as its base does.
    /// The one place that says which kinds a variant changes.
    pub fn has_own_program(self, kind: OpKind) -> bool {
        match self {
            Method::QuarkLog => matches!(kind, OpKind::LayerNorm | OpKind::Gelu | OpKind::Silu),
            _ => true,
        }
    }

    /// Whether pinning a kind to `self` admits `m` for `kind`: the method
    /// itself, its variants (`quark` admits `quark-log`), and a variant's
    /// base on the kinds the variant builds as its base does.
    pub fn admits(self, m: Method, kind: OpKind) -> bool {
        m == self || m.base() == self || (m == self.base() && !self.has_own_program(kind))
    }

    pub fn parse(text: &str) -> Result<Method, String> {
        Method::ALL.into_iter().find(|m| m.name() == text.trim()).ok_or_else(|| {
            let names: Vec<String> = Method::ALL.iter().map(|m| format!("'{}'", m.name())).collect();
            let (last, rest) = names.split_last().map_or(("", &[][..]), |(l, r)| (l.as_str(), r));
            format!("expected {} or {last}, got '{text}'", rest.join(", "))
        })
    }
}

/// The `lower-nonlinear` pass: a default method and per-op overrides.
#[derive(Debug, Clone)]
pub struct LowerNonlinear {
    method: Method,
    overrides: [Option<Method>; OpKind::ALL.len()],
    tables: QuarkTables,
}

impl Default for LowerNonlinear {
    fn default() -> Self {
        LowerNonlinear {
            method: Method::Quark,
            overrides: [None; OpKind::ALL.len()],
            tables: QuarkTables::Fitted(DEFAULT_SEGMENTS),
        }
    }
}

impl LowerNonlinear {
    /// The pass with `method` for every op.
    pub fn with_method(method: Method) -> LowerNonlinear {
        LowerNonlinear { method, ..Default::default() }
    }

    /// The pass with these coefficient tables in quark's units.
    pub fn with_tables(mut self, tables: QuarkTables) -> LowerNonlinear {
        self.tables = tables;
        self
    }

    /// The rows of the fitted tables (1 for the paper's quadratics).
    fn segments(&self) -> usize {
        match self.tables {
            QuarkTables::Fitted(n) => n,
            QuarkTables::Paper => 1,
        }
    }

    /// The method used for ops of `kind`.
    pub fn method_for(&self, kind: OpKind) -> Method {
        self.overrides[kind as usize].unwrap_or(self.method)
    }
}

const METHOD: PassOption = PassOption {
    name: "method",
    kind: "string",
    default: "quark",
    doc: "the method of every op without an override: quark, quark-log (quark with log-domain products), ibert or lut",
};

macro_rules! override_options {
    ($(($name:literal, $op:literal)),*) => {
        &[METHOD, SEGMENTS, COEFFICIENTS, $(PassOption {
            name: $name,
            kind: "string",
            default: "",
            doc: concat!("the method for `", $op, "` (quark, quark-log, ibert or lut); empty: `method`"),
        }),*]
    };
}

/// `method`, then one override per op kind, named as [`OpKind::option`].
const OPTIONS: &[PassOption] = override_options!(
    ("softmax", "quant.softmax"),
    ("gelu", "quant.gelu"),
    ("layer-norm", "quant.layer_norm"),
    ("sigmoid", "quant.sigmoid"),
    ("silu", "quant.silu"),
    ("tanh", "quant.tanh"),
    ("exp", "quant.exp"),
    ("reciprocal", "quant.reciprocal"),
    ("sqrt", "quant.sqrt"),
    ("rsqrt", "quant.rsqrt")
);

const SEGMENTS: PassOption = PassOption {
    name: "segments",
    kind: "uint",
    default: "4",
    doc: "rows of the fitted coefficient tables of quark's exp2 and log2 units: 1 (one quadratic), 2, 4, 8 or 16",
};

const COEFFICIENTS: PassOption = PassOption {
    name: "coefficients",
    kind: "string",
    default: "fitted",
    doc: "quark's quadratics: fitted (weft's minimax tables of `segments` rows) or paper (QUARK's two quadratics)",
};

const LOWERED: PassStatistic =
    PassStatistic { name: "lowered-ops", doc: "quant nonlinear ops replaced by nl programs" };
const CREATED: PassStatistic = PassStatistic { name: "created-ops", doc: "nl ops and constants created" };

impl Pass for LowerNonlinear {
    fn name(&self) -> &'static str {
        "lower-nonlinear"
    }

    fn summary(&self) -> &'static str {
        "Replaces quantized nonlinear ops by integer nl programs (QUARK, I-BERT or tables)"
    }

    fn description(&self) -> &'static str {
        "Replaces every `quant.softmax`, `quant.gelu`, `quant.layer_norm`, `quant.sigmoid`, \
`quant.silu`, `quant.tanh`, `quant.exp`, `quant.reciprocal`, `quant.sqrt` and `quant.rsqrt` by an \
integer-only program of nl ops that implements `method` (or the op kind's override): `quark` \
(exp2/log2 units with quadratics, softmax as `exp(x - max - ln sum)`, GELU as `x` times a \
two-element softmax, layer norm with the log divider and `sqrt` as `exp(ln / 2)`), `quark-log` \
(quark with layer norm's square and scale and GELU's and SiLU's product by `x` as additions of \
logarithms on the same units; other ops as quark), `ibert` (i-exp, \
integer softmax with a divider, i-GELU, layer norm with i-sqrt) or `lut` (exact tables for inputs \
of at most 8 bits; softmax through a table of exponentials; no layer norm). spec/nl.md gives \
every formula, format and measured error.\n\n\
Operands and results must be per-tensor `!quant.int` of 4 to 16 bits (the `lut` method: inputs \
of at most 8 bits), the lanes of softmax and layer norm static, and layer norm's scale and bias \
constants. An op that cannot be lowered is an error naming it and why; the first one is \
reported (the others in notes) and the module is left unchanged. The result of each program is \
the replaced op's result type, so users are unaffected."
    }

    fn options(&self) -> &'static [PassOption] {
        OPTIONS
    }

    fn statistics(&self) -> &'static [PassStatistic] {
        &[LOWERED, CREATED]
    }

    fn set_option(&mut self, name: &str, value: &str) -> Result<(), String> {
        match name {
            "method" => self.method = Method::parse(value)?,
            "segments" => self.tables = QuarkTables::Fitted(parse_segments(value)?),
            "coefficients" => {
                self.tables = match value.trim() {
                    "fitted" => QuarkTables::Fitted(self.segments()),
                    "paper" => QuarkTables::Paper,
                    _ => return Err(format!("expected 'fitted' or 'paper', got '{value}'")),
                }
            }
            _ => {
                let kind = OpKind::ALL.into_iter().find(|k| k.option() == name);
                let kind = kind.ok_or_else(|| format!("unknown option '{name}'"))?;
                self.overrides[kind as usize] =
                    if value.trim().is_empty() { None } else { Some(Method::parse(value)?) };
            }
        }
        Ok(())
    }

    fn option_values(&self) -> Vec<(&'static str, String)> {
        let mut out = vec![("method", self.method.name().to_string())];
        match self.tables {
            QuarkTables::Fitted(n) => out.push(("segments", n.to_string())),
            QuarkTables::Paper => out.push(("coefficients", "paper".to_string())),
        }
        for kind in OpKind::ALL {
            if let Some(m) = self.overrides[kind as usize] {
                out.push((kind.option(), m.name().to_string()));
            }
        }
        out
    }

    fn run(&mut self, module: &mut Module, cx: &mut PassContext) -> Result<(), Diagnostic> {
        let Module { funcs, resources, .. } = module;
        for f in funcs.iter_mut() {
            self.lower_function(f, resources, cx)?;
        }
        Ok(())
    }
}

impl LowerNonlinear {
    fn lower_function(&self, f: &mut Function, resources: &Resources, cx: &mut PassContext) -> Result<(), Diagnostic> {
        self.lower_function_with(f, resources, cx, |_, lowered| Ok(lowered.output)).map(|_| ())
    }

    /// Lowers every quant nonlinear op of `f`. After each op's program is
    /// emitted (right before the op, which is still in place), `finish`
    /// may emit more ops before it and returns the value that replaces
    /// the op's result (`share-nonlinear` wraps the program's output in
    /// `hw.apply`). Returns what was lowered, in program order.
    pub(crate) fn lower_function_with(
        &self,
        f: &mut Function,
        resources: &Resources,
        cx: &mut PassContext,
        mut finish: impl FnMut(&mut Function, &LoweredOp) -> Result<Value, LowerError>,
    ) -> Result<Vec<LoweredOp>, Diagnostic> {
        let sites = self.check_function(f, resources)?;
        if sites.is_empty() {
            return Ok(Vec::new());
        }
        let saved = f.clone();
        let before = live_op_count(f);
        let mut replacements = SecondaryMap::<Value, Option<Value>>::default();
        let mut lowered = Vec::with_capacity(sites.len());
        for site in &sites {
            let result = f.ops[site.op].results[0];
            let done = lower_site(f, site).and_then(|output| {
                let op = LoweredOp { op: site.op, kind: site.kind, method: site.method, input: site.input, output };
                let replacement = finish(f, &op)?;
                lowered.push(op);
                Ok(replacement)
            });
            match done {
                Ok(v) => replacements.set(result, Some(v)),
                Err(e) => {
                    let d = site::op_diagnostic(&saved, site.op, &e.message);
                    *f = saved;
                    return Err(d.prefixed("internal error: "));
                }
            }
        }
        f.replace_uses(&replacements);
        f.remove_ops(&sites.iter().map(|s| s.op).collect::<Vec<_>>());
        cx.count(&LOWERED, sites.len() as u64);
        cx.count(&CREATED, (live_op_count(f) + sites.len()).saturating_sub(before) as u64);
        Ok(lowered)
    }

    /// For each quant nonlinear op of `f` (a scratch copy), in program
    /// order: its kind, and the ops of its program under `method`
    /// (emitted right before it; the op itself stays) or why `method`
    /// cannot build it.
    pub(crate) fn emit_programs(
        f: &mut Function,
        resources: &Resources,
        method: Method,
        tables: QuarkTables,
    ) -> Vec<(OpKind, Result<Vec<Op>, String>)> {
        let mut out = Vec::new();
        for op in f.walk() {
            let Some(kind) = OpKind::of(f.ops[op].name()) else { continue };
            let program = site::check(f, resources, op, kind, method, tables).and_then(|site| {
                let first = f.ops.len();
                lower_site(f, &site)?;
                Ok((first..f.ops.len()).map(weft_ir::entity::EntityRef::new).collect())
            });
            out.push((kind, program.map_err(|e| e.message)));
        }
        out
    }

    /// The coefficient tables of quark's units.
    pub(crate) fn tables(&self) -> QuarkTables {
        self.tables
    }

    /// The pass with `method` for the ops of `kind`.
    pub(crate) fn with_override(mut self, kind: OpKind, method: Method) -> LowerNonlinear {
        self.overrides[kind as usize] = Some(method);
        self
    }

    /// Reads and checks every quant nonlinear op of `f`.
    fn check_function(&self, f: &Function, resources: &Resources) -> Result<Vec<Site>, Diagnostic> {
        let mut sites = Vec::new();
        let mut errors: Vec<Diagnostic> = Vec::new();
        for op in f.walk() {
            let Some(kind) = OpKind::of(f.ops[op].name()) else { continue };
            match site::check(f, resources, op, kind, self.method_for(kind), self.tables) {
                Ok(s) => sites.push(s),
                Err(e) => errors.push(site::op_diagnostic(f, op, &e.message)),
            }
        }
        let mut errors = errors.into_iter();
        match errors.next() {
            None => Ok(sites),
            Some(first) => Err(errors.fold(first, |d, other| d.note_at(other.message.clone(), other.span))),
        }
    }
}

fn parse_segments(value: &str) -> Result<usize, String> {
    let n = parse_uint_option(value)?;
    match n {
        1 | 2 | 4 | 8 | 16 => Ok(n as usize),
        _ => Err(format!("expected 1, 2, 4, 8 or 16 segments, got {n}")),
    }
}

fn live_op_count(f: &Function) -> usize {
    f.walk().len()
}

/// Emits the program of one site right before its op; the value that
/// replaces its result.
fn lower_site(f: &mut Function, site: &Site) -> Result<Value, LowerError> {
    let mut e = Emitter::before(f, site.op);
    match site.method {
        Method::Quark | Method::QuarkLog => quark::lower(&mut e, site),
        Method::Ibert => ibert::lower(&mut e, site),
        Method::Lut => lut::lower(&mut e, site),
    }
}

/// One op `lower_function_with` lowered.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LoweredOp {
    /// The quant op (removed once every program is emitted).
    pub op: Op,
    pub kind: OpKind,
    pub method: Method,
    /// The op's input, where its program starts.
    pub input: Value,
    /// The program's result.
    pub output: Value,
}

/// Why an op cannot be lowered.
#[derive(Debug, Clone, PartialEq)]
pub struct LowerError {
    pub message: String,
}

impl LowerError {
    pub fn new(message: impl Into<String>) -> LowerError {
        LowerError { message: message.into() }
    }
}

impl From<String> for LowerError {
    fn from(message: String) -> Self {
        LowerError { message }
    }
}
