//! `fuse`: recognizes LayerNorm, GELU (erf and tanh forms), SiLU,
//! Softmax and attention in their decomposed forms by equality saturation
//! ([`crate::eqsat::nn`]) and replaces them by `nn.layer_norm`, `nn.gelu`,
//! `nn.silu`, `nn.softmax` and `nn.attention`.
//!
//! Invariants: by default the pass only replaces values by fused ops that
//! compute the same function (up to float rounding); the one rule that
//! changes the function (`gelu-sigmoid`: `x * sigmoid(1.702 x)` -> the erf
//! GELU) runs only with the option `gelu-sigmoid=true`. The other options
//! are the runner's limits, and a limit that is hit still leaves a correct
//! (possibly less fused) program.

use crate::eqsat::nn::{fuse_function, FuseLimits, FusedKind, RuleOptions};
use crate::eqsat::stats::{CLASSES, ITERATIONS, NODES, SATURATED, STOPPED_BY_LIMIT};
use crate::{parse_bool_option, parse_uint_option, Pass, PassContext, PassOption, PassStatistic};
use std::time::Duration;
use weft_ir::{Diagnostic, Module};

/// The `fuse` pass.
#[derive(Debug, Clone, Default)]
pub struct Fuse {
    limits: FuseLimits,
    rules: RuleOptions,
}

const OPTIONS: &[PassOption] = &[
    PassOption { name: "iter-limit", kind: "uint", default: "12", doc: "at most this many saturation iterations" },
    PassOption { name: "node-limit", kind: "uint", default: "200000", doc: "stop saturating at this many e-nodes" },
    PassOption {
        name: "time-limit",
        kind: "uint",
        default: "10000",
        doc: "stop saturating after this many milliseconds (per function)",
    },
    PassOption {
        name: "gelu-sigmoid",
        kind: "bool",
        default: "false",
        doc: "also replace x * sigmoid(1.702 x) by the erf GELU it approximates (changes results by up to 0.02)",
    },
];

const LAYER_NORMS: PassStatistic = PassStatistic { name: "fused-layer-norm", doc: "nn.layer_norm ops built" };
const GELUS: PassStatistic = PassStatistic { name: "fused-gelu", doc: "nn.gelu ops (erf form) built" };
const GELU_TANHS: PassStatistic =
    PassStatistic { name: "fused-gelu-tanh", doc: "nn.gelu ops with approximate = \"tanh\" built" };
const GELU_SIGMOIDS: PassStatistic =
    PassStatistic { name: "fused-gelu-sigmoid", doc: "nn.gelu ops built from x * sigmoid(1.702 x)" };
const SILUS: PassStatistic = PassStatistic { name: "fused-silu", doc: "nn.silu ops built" };
const SOFTMAXES: PassStatistic = PassStatistic { name: "fused-softmax", doc: "nn.softmax ops built" };
const ATTENTIONS: PassStatistic = PassStatistic { name: "fused-attention", doc: "nn.attention ops built" };

const STATISTICS: &[PassStatistic] = &[
    NODES,
    CLASSES,
    ITERATIONS,
    SATURATED,
    STOPPED_BY_LIMIT,
    LAYER_NORMS,
    GELUS,
    GELU_TANHS,
    GELU_SIGMOIDS,
    SILUS,
    SOFTMAXES,
    ATTENTIONS,
];

fn kind_statistic(kind: FusedKind) -> &'static PassStatistic {
    match kind {
        FusedKind::LayerNorm => &LAYER_NORMS,
        FusedKind::Gelu => &GELUS,
        FusedKind::GeluTanh => &GELU_TANHS,
        FusedKind::GeluSigmoid => &GELU_SIGMOIDS,
        FusedKind::Silu => &SILUS,
        FusedKind::Softmax => &SOFTMAXES,
        FusedKind::Attention => &ATTENTIONS,
    }
}

impl Pass for Fuse {
    fn name(&self) -> &'static str {
        "fuse"
    }

    fn summary(&self) -> &'static str {
        "Recognizes decomposed LayerNorm, GELU, SiLU, Softmax and attention by equality saturation and fuses them"
    }

    fn description(&self) -> &'static str {
        "Puts the pure float nn ops of each function body (add, sub, mul, div, pow, sqrt, erf, \
tanh, exp, sigmoid, reduce_mean, reduce_sum, reduce_max, matmul, softmax) into an egg e-graph; every other value is an \
opaque leaf. Rules state that the decomposed forms exported models spell out equal a fused op, \
with conditions on constants and axes:\n\n\
- `layer-norm-pow`, `layer-norm-square`: `(x - mean(x)) / sqrt(mean(d^2) + eps) * scale + bias` \
(`d^2` as `pow(d, 2)` or `d * d`) over the trailing axes with keepdims, `eps` a constant >= 0, \
scale and bias broadcasting to the input's shape -> `nn.layer_norm`.\n\
- `gelu-erf-*`: `x * (1 + erf(x / sqrt(2))) * 0.5` (or `x * (1/sqrt(2))`, the 0.5 in any of \
three places) -> `nn.gelu`.\n\
- `gelu-tanh-*`: `0.5 * x * (1 + tanh(sqrt(2/pi) * (x + 0.044715 * x^3)))` (`x^3` as `pow` or \
two muls) -> `nn.gelu {approximate = \"tanh\"}`.\n\
- `softmax-shifted`, `softmax-plain`: `exp(s) / reduce_sum(exp(s))` over one axis with keepdims, \
`s = x - reduce_max(x)` or `x` -> `nn.softmax`.\n\
- `silu`: `x * sigmoid(x)` -> `nn.silu`.\n\
- `attention-{div,mul}[-q|-qk][-masked]`: `softmax(s + mask) @ v` with `s = (q @ kt) / c` or \
`(q @ kt) * c`, or the scale on the queries (`-q`: `s = (q * c) @ kt`, timm) or on both \
operands by the same constant (`-qk`: `s = (q * c) @ (kt * c)`, the ONNX export of \
`scaled_dot_product_attention`), the mask optional -> `nn.attention` with `scale = c`, \
`scale_op` \"div\" or \"mul\" and `scale_at`, when `c` is a finite (for div non-zero) constant \
that does not widen what it scales, the softmax is over the last axis, the mask broadcasts to \
the scores without widening them and no intermediate (scaled operands, scores, scaled scores, \
masked, probabilities) has another use: a chain whose intermediates other ops also read stays as \
it is. The fused op computes the same bits (its semantics are that composition); its location \
fuses the chain's ops' locations, which `expand-attention` gives back.\n\
- `gelu-sigmoid` (only with `gelu-sigmoid=true`): `x * sigmoid(1.702 x)` -> `nn.gelu`. This \
replaces an approximation by the function it approximates (they differ by up to 0.02), so it is \
off by default, also in `prepare-quant`: unfused, `quantize` makes the chain (of a quantized `x`, \
such as a matmul's result) a `quant.sigmoid` and two `quant.qmul`s, integer-only all the same.\n\
- `add-commute`, `mul-commute`.\n\n\
Constants are single-element float constants, compared with a relative tolerance of 1e-6 \
(exporters write f32 values). Extraction counts op nodes (leaves free), so a fused op wins over \
its decomposition; each value whose best term is a fused op is replaced by the op, built right \
before the value's defining op, and the decomposition is removed when unused. The runner's \
iteration, node and time limits are options; a limit only makes the pass fuse less. A round \
that fuses a spelled-out softmax is followed by another round (at most three), so attention \
around that softmax is fused in the same run."
    }

    fn options(&self) -> &'static [PassOption] {
        OPTIONS
    }

    fn statistics(&self) -> &'static [PassStatistic] {
        STATISTICS
    }

    fn set_option(&mut self, name: &str, value: &str) -> Result<(), String> {
        if name == "gelu-sigmoid" {
            self.rules.gelu_sigmoid = parse_bool_option(value)?;
            return Ok(());
        }
        let n = parse_uint_option(value)?;
        let at_least_one = || match n {
            0 => Err("expected at least 1, got '0'".to_string()),
            n => usize::try_from(n).map_err(|_| format!("'{value}' is too large")),
        };
        match name {
            "iter-limit" => self.limits.iterations = at_least_one()?,
            "node-limit" => self.limits.nodes = at_least_one()?,
            "time-limit" => self.limits.time = Duration::from_millis(n),
            _ => return Err(format!("unknown option '{name}'")),
        }
        Ok(())
    }

    fn option_values(&self) -> Vec<(&'static str, String)> {
        vec![
            ("iter-limit", self.limits.iterations.to_string()),
            ("node-limit", self.limits.nodes.to_string()),
            ("time-limit", self.limits.time.as_millis().to_string()),
            ("gelu-sigmoid", self.rules.gelu_sigmoid.to_string()),
        ]
    }

    fn run(&mut self, module: &mut Module, cx: &mut PassContext) -> Result<(), Diagnostic> {
        for f in module.funcs.iter_mut() {
            let outcome = fuse_function(f, self.limits, self.rules)
                .map_err(|e| Diagnostic::error(format!("internal error in fuse's rules: {e}"), f.span))?;
            let Some(_) = outcome.stop else { continue };
            cx.count(&NODES, outcome.nodes as u64);
            cx.count(&CLASSES, outcome.classes as u64);
            cx.count(&ITERATIONS, outcome.iterations as u64);
            cx.count(if outcome.saturated { &SATURATED } else { &STOPPED_BY_LIMIT }, 1);
            for (kind, n) in outcome.fused {
                cx.count(kind_statistic(kind), n);
            }
        }
        Ok(())
    }
}
