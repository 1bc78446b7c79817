//! `quantize`: turns a float nn program into a quantized one (spec/quant.md).
//!
//! Phases, per function:
//! 1. Calibration samples: the ones given to [`Quantize::with_samples`]
//!    (for `@main`, or the only function), else `samples` seeded random
//!    ones with a warning ([`calibrate::random_inputs`]). They are checked
//!    against the function's input types.
//! 2. Calibration ([`calibrate::observe`]): an evaluator (the reference
//!    interpreter, or the engine the driver gives with
//!    [`Quantize::with_evaluator`]) runs every sample and a histogram per
//!    float value records what it saw.
//! 3. One sweep over the body ([`rewrite`], [`rules`]): matmuls, the
//!    elementwise ops around them and (when the context has them) the
//!    nonlinear ops become quant ops with calibrated activation types and
//!    compile-time quantized weights ([`weights`]); the rest stays in float
//!    with `quant.dequantize`/`quant.quantize` at the boundaries.
//!
//! The precision of each op comes from a [`scheme::QuantConfig`]: the pass
//! options set the base (over a TOML file's top level, [`config`]), the
//! file's `[[layer]]` rules override it per op by location glob.
//!
//! Invariants: the function's signature does not change (quantized results
//! are dequantized before `return`); the same module, samples and options
//! give the same output; a bad request (a per-channel axis the weights do
//! not have, calibration samples of the wrong shape or type) is an error
//! naming the op or the sample, and leaves the module unchanged.

pub mod calibrate;
pub mod config;
pub mod fold_qdq;
pub mod observer;
pub mod rewrite;
pub mod rules;
pub mod scheme;
#[cfg(test)]
mod tests;
pub mod weights;

use crate::{parse_uint_option, Pass, PassContext, PassOption, PassStatistic};
use calibrate::{Evaluator, Interpreter};
use config::{parse_config, parse_weight_observer, ConfigFile};
use rewrite::{Counts, Rewriter};
use scheme::{parse_act_bits, parse_scheme, Observer, PrecisionPatch, QuantConfig, WeightFormat};
use std::sync::Arc;
use weft_ir::ops::nn::attention::expand_all;
use weft_ir::{Diagnostic, Module, Span, Tensor};

/// Random calibration samples drawn when none are given.
pub const DEFAULT_SAMPLES: u64 = 8;

/// The `quantize` pass.
#[derive(Debug, Clone, Default)]
pub struct Quantize {
    /// A configuration file's settings (option `config`).
    file: ConfigFile,
    config_path: Option<String>,
    /// The pass options' overrides of the file's top level.
    options: PrecisionPatch,
    samples: Option<u64>,
    seed: Option<u64>,
    given: Option<Vec<Vec<Tensor>>>,
    /// What runs the calibration samples (default: the interpreter).
    evaluator: Option<Arc<dyn Evaluator>>,
}

impl Quantize {
    /// The pass with a configuration (e.g. built from `--quant`).
    pub fn with_config(file: ConfigFile) -> Quantize {
        Quantize { file, ..Quantize::default() }
    }

    /// Calibration samples for `@main` (or the only function): one tensor
    /// per input, in argument order.
    pub fn with_samples(mut self, samples: Vec<Vec<Tensor>>) -> Quantize {
        self.given = Some(samples);
        self
    }

    /// Calibrates on `evaluator` instead of the reference interpreter; it
    /// must compute the interpreter's bits ([`Evaluator`]).
    pub fn with_evaluator(mut self, evaluator: Arc<dyn Evaluator>) -> Quantize {
        self.evaluator = Some(evaluator);
        self
    }

    /// The precisions in effect: the file's, with the options' overrides of
    /// its top level.
    pub fn config(&self) -> QuantConfig {
        let mut config = self.file.config.clone();
        self.options.apply(&mut config.base);
        config
    }

    fn sample_count(&self) -> u64 {
        self.samples.or(self.file.samples).unwrap_or(DEFAULT_SAMPLES)
    }

    fn seed(&self) -> u64 {
        self.seed.or(self.file.seed).unwrap_or(0)
    }
}

const OPTIONS: &[PassOption] = &[
    PassOption {
        name: "scheme",
        kind: "string",
        default: "none",
        doc: "wXaY: weights X bits (1 binary, t ternary), activations Y bits; sets weights and acts",
    },
    PassOption { name: "weights", kind: "string", default: "int8", doc: "binary, ternary or int2..int8" },
    PassOption { name: "acts", kind: "uint", default: "8", doc: "bits of the activations matmuls read, 4..16" },
    PassOption {
        name: "wide-acts",
        kind: "uint",
        default: "16",
        doc: "bits of the other quantized activations (residual sums, normalization inputs), 4..16",
    },
    PassOption {
        name: "observer",
        kind: "string",
        default: "percentile",
        doc: "activation ranges: minmax, percentile[:P] (P = 99.99) or mse",
    },
    PassOption {
        name: "weight-observer",
        kind: "string",
        default: "mse",
        doc: "integer weight ranges per channel: minmax or mse",
    },
    PassOption {
        name: "symmetric-acts",
        kind: "bool",
        default: "false",
        doc: "signed activations with zero point 0 (else unsigned with a zero point)",
    },
    PassOption {
        name: "symmetric-weights",
        kind: "bool",
        default: "true",
        doc: "signed integer weights with zero point 0",
    },
    PassOption {
        name: "per-channel",
        kind: "bool",
        default: "true",
        doc: "one weight scale per output channel (else per tensor)",
    },
    PassOption {
        name: "channel-axis",
        kind: "int",
        default: "none",
        doc: "the per-channel axis of the weights (default: the output channels)",
    },
    PassOption {
        name: "config",
        kind: "string",
        default: "none",
        doc: "a TOML file: base settings and [[layer]] rules (spec/quant.md)",
    },
    PassOption { name: "samples", kind: "uint", default: "8", doc: "random calibration samples when none are given" },
    PassOption { name: "seed", kind: "uint", default: "0", doc: "seed of the random calibration samples" },
];

const MATMULS: PassStatistic = PassStatistic { name: "quantized-matmuls", doc: "nn.matmul ops made quant.qmatmul" };
const ELEMENTWISE: PassStatistic =
    PassStatistic { name: "quantized-elementwise", doc: "nn add/sub/mul/div ops made quant.qadd or quant.qmul" };
const NONLINEAR: PassStatistic =
    PassStatistic { name: "quantized-nonlinear", doc: "nonlinear nn ops made their quant counterpart" };
const LAYOUT: PassStatistic =
    PassStatistic { name: "quantized-layout", doc: "reshapes and transposes of quantized values" };
const FLOAT_OPS: PassStatistic = PassStatistic { name: "float-ops", doc: "ops computing floats that stay in float" };
const QUANTIZE_OPS: PassStatistic = PassStatistic { name: "quantize-ops", doc: "quant.quantize ops inserted" };
const DEQUANTIZE_OPS: PassStatistic = PassStatistic { name: "dequantize-ops", doc: "quant.dequantize ops inserted" };
const REQUANTIZE_OPS: PassStatistic = PassStatistic { name: "requantize-ops", doc: "quant.requantize ops inserted" };
const SAMPLES: PassStatistic = PassStatistic { name: "calibration-samples", doc: "samples calibration ran" };

impl Pass for Quantize {
    fn name(&self) -> &'static str {
        "quantize"
    }

    fn summary(&self) -> &'static str {
        "Quantizes nn programs: calibrated activations, per-channel integer, ternary or binary weights"
    }

    fn description(&self) -> &'static str {
        "Calibrates the function on sample inputs (given by the driver, e.g. `weft run --calibrate \
DIR`; otherwise `samples` random ones drawn with `seed`, with a warning) by running the \
interpreter (or the engine the driver gives: `weft` uses its JIT, same bits) and recording a \
histogram of every float value; then rewrites it: each `nn.matmul` \
with constant weights becomes a `quant.qmatmul` of the quantized activation (calibrated range, \
`acts` bits, `observer`) and the weights quantized per output channel (`weights`: int2..int8, \
ternary, or binary +-alpha with alpha = mean |w| as VAQF), with a following bias add folded in \
as a 32-bit bias, then a `quant.requantize` to the result's activation type; a matmul of two \
activations is quantized per tensor; adds, subtractions, multiplications and divisions whose \
operands are already quantized (or single constants, represented exactly) become \
`quant.qadd`/`quant.qmul`; reshapes and transposes move quantized integers; softmax, GELU, \
LayerNorm, sigmoid, SiLU, tanh, exp, reciprocal and sqrt become their `quant.*` counterparts when the \
context registers them. Every other op stays in float, fed by `quant.dequantize` and feeding \
the next `quant.quantize`. The option values set the base precision over the top level of the \
`config` TOML file, whose `[[layer]]` rules override it for ops whose location matches a glob \
(mixed precision; spec/quant.md). Run `dce` afterwards to drop the float weights."
    }

    fn options(&self) -> &'static [PassOption] {
        OPTIONS
    }

    fn statistics(&self) -> &'static [PassStatistic] {
        &[MATMULS, ELEMENTWISE, NONLINEAR, LAYOUT, FLOAT_OPS, QUANTIZE_OPS, DEQUANTIZE_OPS, REQUANTIZE_OPS, SAMPLES]
    }

    fn set_option(&mut self, name: &str, value: &str) -> Result<(), String> {
        let o = &mut self.options;
        match name {
            "scheme" => {
                let (w, a) = parse_scheme(value)?;
                o.weights = Some(w);
                o.acts = Some(a);
            }
            "weights" => o.weights = Some(WeightFormat::parse(value)?),
            "acts" => o.acts = Some(parse_act_bits(value)?),
            "wide-acts" => o.wide_acts = Some(parse_act_bits(value)?),
            "observer" => o.act_observer = Some(Observer::parse(value)?),
            "weight-observer" => o.weight_observer = Some(parse_weight_observer(value)?),
            "symmetric-acts" => o.symmetric_acts = Some(crate::parse_bool_option(value)?),
            "symmetric-weights" => o.symmetric_weights = Some(crate::parse_bool_option(value)?),
            "per-channel" => o.per_channel = Some(crate::parse_bool_option(value)?),
            "channel-axis" => {
                o.channel_axis =
                    Some(value.trim().parse().map_err(|_| format!("expected an integer axis, got '{value}'"))?)
            }
            "config" => {
                let text = std::fs::read_to_string(value).map_err(|e| format!("cannot read '{value}': {e}"))?;
                self.file = parse_config(&text).map_err(|e| format!("{value}: {e}"))?;
                self.config_path = Some(value.to_string());
            }
            "samples" => self.samples = Some(parse_uint_option(value)?),
            "seed" => self.seed = Some(parse_uint_option(value)?),
            _ => return Err(format!("unknown option '{name}'")),
        }
        Ok(())
    }

    fn option_values(&self) -> Vec<(&'static str, String)> {
        let base = self.config().base;
        let mut v = vec![
            ("weights", base.weights.to_string()),
            ("acts", base.acts.to_string()),
            ("wide-acts", base.wide_acts.to_string()),
            ("observer", base.act_observer.to_string()),
            ("weight-observer", base.weight_observer.to_string()),
            ("symmetric-acts", base.symmetric_acts.to_string()),
            ("symmetric-weights", base.symmetric_weights.to_string()),
            ("per-channel", base.per_channel.to_string()),
            ("samples", self.sample_count().to_string()),
            ("seed", self.seed().to_string()),
        ];
        if let Some(a) = base.channel_axis {
            v.push(("channel-axis", a.to_string()));
        }
        if let Some(path) = &self.config_path {
            v.push(("config", path.clone()));
        }
        v
    }

    fn run(&mut self, module: &mut Module, cx: &mut PassContext) -> Result<(), Diagnostic> {
        let config = self.config();
        let main = main_index(module);
        for i in 0..module.funcs.len() {
            let samples = self.samples_for(module, i, main, cx)?;
            let engine: &dyn Evaluator = self.evaluator.as_deref().unwrap_or(&Interpreter);
            // Rewrite copies, so that an error leaves the module as it was;
            // composite ops (nn.attention) are expanded first, so that their
            // matmuls and softmax are quantized like any other.
            let (mut func, mut resources) = (module.funcs[i].clone(), module.resources.clone());
            expand_all(&mut func).map_err(|(op, e)| {
                let data = &func.ops[op];
                Diagnostic::error(format!("cannot expand '{}': {e}", data.name()), data.span).with_loc(data.loc.clone())
            })?;
            let mut cal = calibrate::observe(module, &func, &samples, engine)?;
            for w in std::mem::take(&mut cal.warnings) {
                cx.warn(w);
            }
            cx.count(&SAMPLES, samples.len() as u64);
            let rw = Rewriter::new(&mut func, &mut resources, cx.ctx, &cal, &config);
            let counts = rw.run(rules::rewrite_op)?;
            module.funcs[i] = func;
            module.resources = resources;
            record(cx, counts);
        }
        Ok(())
    }
}

impl Quantize {
    /// The calibration samples of function `i`, checked.
    fn samples_for(
        &self,
        module: &Module,
        i: usize,
        main: Option<usize>,
        cx: &mut PassContext,
    ) -> Result<Vec<Vec<Tensor>>, Diagnostic> {
        let f = &module.funcs[i];
        let func_error =
            |e: String| Diagnostic::error(format!("function '@{}': {e}", f.name), f.span).with_loc(f.loc.clone());
        if let (Some(given), true) = (&self.given, main == Some(i)) {
            calibrate::check_samples(f, given).map_err(func_error)?;
            return Ok(given.clone());
        }
        let (n, seed) = (self.sample_count(), self.seed());
        let samples = calibrate::random_inputs(f, n as usize, seed)
            .map_err(|e| func_error(format!("cannot draw random calibration samples: {e}")))?;
        if !f.args().is_empty() {
            cx.warn(Diagnostic::warning(
                format!(
                    "no calibration samples were given for '@{}': calibrating on {n} random samples (seed {seed}); \
                     give real inputs (--calibrate DIR) for ranges that match the data",
                    f.name
                ),
                Span::NONE,
            ));
        }
        Ok(samples)
    }
}

/// True for the ops constant folding must leave alone so that an imported
/// model's quantization survives until `fold-qdq` types it: ONNX's
/// quantization ops, `quant.dequantize` and `quant.storage_cast` of
/// constants (quantized weights), and casts of constants of at most 8-bit
/// integers to floats (weight-only exports, whose integer weights would
/// otherwise become float constants).
pub fn keeps_quantized_types(f: &weft_ir::Function, op: weft_ir::Op) -> bool {
    let data = &f.ops[op];
    let name = data.name();
    if crate::transforms::legalize_onnx::is_quant_import(name) {
        return true;
    }
    let operand_elem = || data.operands.first().and_then(|&v| f.value_type(v).as_tensor()).map(|t| t.elem.clone());
    match name {
        "quant.dequantize" | "quant.storage_cast" => true,
        "onnx.Cast" | "nn.cast" => {
            let narrow = matches!(operand_elem(), Some(weft_ir::ElemType::Int { width, .. }) if width <= 8);
            let to_float =
                data.results.first().and_then(|&r| f.value_type(r).as_tensor()).is_some_and(|t| t.elem.is_float());
            narrow && to_float
        }
        _ => false,
    }
}

/// `@main`, else the only function.
fn main_index(module: &Module) -> Option<usize> {
    module.funcs.iter().position(|f| f.name == "main").or((module.funcs.len() == 1).then_some(0))
}

fn record(cx: &mut PassContext, c: Counts) {
    cx.count(&MATMULS, c.matmuls);
    cx.count(&ELEMENTWISE, c.elementwise);
    cx.count(&NONLINEAR, c.nonlinear);
    cx.count(&LAYOUT, c.layout);
    cx.count(&FLOAT_OPS, c.float_ops);
    cx.count(&QUANTIZE_OPS, c.quantize);
    cx.count(&DEQUANTIZE_OPS, c.dequantize);
    cx.count(&REQUANTIZE_OPS, c.requantize);
}
