//! The quantization options shared by `weft run` and `weft accuracy`:
//! `--quant SCHEME` (`wXaY`, or a TOML configuration file, spec/quant.md),
//! `--nonlinear METHODS` and `--calibrate DIR`, and the step that quantizes
//! a legalized module with them: the `prepare-quant` pipeline (`fuse`, so
//! every exported GELU, LayerNorm and Softmax becomes one op), the
//! `quantize` pass with the calibration samples, `dce`, then
//! `lower-nonlinear` with the chosen methods (unless `--nonlinear float`).
//!
//! Invariants: a scheme that is neither `wXaY` nor a readable, valid TOML
//! file, and a `--nonlinear` value that names no method or op, are
//! diagnostics (exit code 1); so is a method that cannot build an op at its
//! width (the pass's diagnostic points at the op). Without `--calibrate`
//! the pass draws random samples and its warning is passed on to the
//! caller.

use crate::calibrate_jit::JitEvaluator;
use std::path::Path;
use std::sync::Arc;
use weft_ir::verify::verify_module;
use weft_ir::{Context, Diagnostic, Module, Span, Tensor};
use weft_passes::transforms::lower_nonlinear::{LowerNonlinear, OpKind};
use weft_passes::transforms::quantize::config::{parse_config, ConfigFile};
use weft_passes::transforms::quantize::scheme::{parse_scheme, PrecisionPatch};
use weft_passes::transforms::quantize::Quantize;
use weft_passes::{Pass, PassContext, PassManager, PassManagerOptions, PassRegistry, Pipeline};

/// A parsed `--quant` value, with the `--nonlinear` methods.
#[derive(Debug, Clone)]
pub struct QuantSpec {
    /// What the user wrote (for reports).
    pub text: String,
    pub file: ConfigFile,
    pub nonlinear: NonlinearSpec,
}

/// How the quantized nonlinear ops are computed: `lower-nonlinear` with
/// a method per op kind, or (`float`) not lowered, so they keep their
/// ideal semantics (exact function of the dequantized input, quantized
/// result): the way to tell the error of the integer approximations from
/// the error of quantization.
#[derive(Debug, Clone)]
pub struct NonlinearSpec {
    /// What the user wrote, or the default (for reports).
    pub text: String,
    /// The configured pass; `None` for `float`.
    pub lower: Option<LowerNonlinear>,
}

impl Default for NonlinearSpec {
    fn default() -> Self {
        NonlinearSpec { text: "quark".to_string(), lower: Some(LowerNonlinear::default()) }
    }
}

/// Parses `--nonlinear`: `float`, or a comma-separated list of a method
/// (`quark`, `ibert`, `lut`: every op) and `OP=METHOD` overrides
/// (`softmax=lut,gelu=ibert`; ops as the pass options of
/// `lower-nonlinear`), e.g. `ibert,softmax=lut`. Ops not named use the
/// method given, else quark.
pub fn parse_nonlinear(text: &str) -> Result<NonlinearSpec, Diagnostic> {
    let bad = |why: String| {
        let ops: Vec<&str> = OpKind::ALL.iter().map(|k| k.option()).collect();
        Diagnostic::error(format!("--nonlinear '{text}': {why}"), Span::NONE).note(format!(
            "give float, a method (quark, ibert, lut), or a list such as 'ibert,softmax=lut'; the ops are {}",
            ops.join(", ")
        ))
    };
    if text.trim() == "float" {
        return Ok(NonlinearSpec { text: text.to_string(), lower: None });
    }
    let mut pass = LowerNonlinear::default();
    let mut method_given = false;
    for item in text.split(',').map(str::trim) {
        let (name, value) = match item.split_once('=') {
            Some((op, method)) => (op.trim(), method.trim()),
            None if item.is_empty() => return Err(bad("an empty item".into())),
            None if method_given => return Err(bad(format!("a second method '{item}'"))),
            None => {
                method_given = true;
                ("method", item)
            }
        };
        if value == "float" {
            return Err(bad(format!("'{item}': only every nonlinear op at once can stay in float")));
        }
        if name == "method" || OpKind::ALL.iter().any(|k| k.option() == name) {
            pass.set_option(name, value).map_err(|e| bad(format!("'{item}': {e}")))?;
        } else {
            return Err(bad(format!("'{name}' is not a quantized nonlinear op")));
        }
    }
    Ok(NonlinearSpec { text: text.to_string(), lower: Some(pass) })
}

/// Parses `--quant`: `wXaY`, else a TOML file.
pub fn parse_quant(text: &str) -> Result<QuantSpec, Diagnostic> {
    if let Ok((weights, acts)) = parse_scheme(text) {
        let mut file = ConfigFile::default();
        PrecisionPatch { weights: Some(weights), acts: Some(acts), ..PrecisionPatch::default() }
            .apply(&mut file.config.base);
        return Ok(QuantSpec { text: text.to_string(), file, nonlinear: NonlinearSpec::default() });
    }
    let path = Path::new(text);
    if !path.is_file() {
        return Err(Diagnostic::error(
            format!("--quant '{text}' is neither a scheme nor a file"),
            Span::NONE,
        )
        .note("a scheme is wXaY: weights X bits (1 = binary, t = ternary, 2..8), activations Y bits (4..16), e.g. w8a8, w4a8, w1a8; or give a TOML file (spec/quant.md)"));
    }
    let content = std::fs::read_to_string(path)
        .map_err(|e| Diagnostic::error(format!("cannot read '{text}': {e}"), Span::NONE))?;
    let file = parse_config(&content).map_err(|e| Diagnostic::error(format!("{text}: {e}"), Span::NONE))?;
    Ok(QuantSpec { text: text.to_string(), file, nonlinear: NonlinearSpec::default() })
}

/// What runs the calibration samples: the JIT (the default of every
/// command; same bits, much faster) or the reference interpreter (`weft
/// run --engine interp`, `weft accuracy --engine interp`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Calibrator {
    Jit,
    Interpreter,
}

impl From<crate::run_cmd::Engine> for Calibrator {
    fn from(engine: crate::run_cmd::Engine) -> Calibrator {
        match engine {
            crate::run_cmd::Engine::Jit => Calibrator::Jit,
            crate::run_cmd::Engine::Interp => Calibrator::Interpreter,
        }
    }
}

/// Quantizes `module` (already in the nn dialect) with `spec`, calibrated
/// on `samples` when given (on `calibrator`): `prepare-quant`, `quantize`, `dce`, then
/// `lower-nonlinear` unless the nonlinear ops stay in float; returns the
/// passes' warnings.
pub fn quantize_module(
    module: &mut Module,
    ctx: &Context,
    spec: &QuantSpec,
    samples: Option<Vec<Vec<Tensor>>>,
    calibrator: Calibrator,
) -> Result<Vec<Diagnostic>, Vec<Diagnostic>> {
    run_pipeline(module, ctx, "prepare-quant")?;
    let mut pass = Quantize::with_config(spec.file.clone());
    if calibrator == Calibrator::Jit {
        pass = pass.with_evaluator(Arc::new(JitEvaluator));
    }
    if let Some(s) = samples {
        pass = pass.with_samples(s);
    }
    let mut cx = PassContext::new(ctx);
    run_pass(&mut pass, module, &mut cx)?;
    run_pipeline(module, ctx, "dce")?;
    if let Some(lower) = &spec.nonlinear.lower {
        run_pass(&mut lower.clone(), module, &mut cx)?;
        run_pipeline(module, ctx, "dce")?;
    }
    Ok(cx.warnings)
}

/// Lowers the quant nonlinear ops of `module` with a configured
/// `lower-nonlinear` (from [`parse_nonlinear`]), then `dce`.
pub fn lower_nonlinear(module: &mut Module, ctx: &Context, lower: LowerNonlinear) -> Result<(), Vec<Diagnostic>> {
    let mut cx = PassContext::new(ctx);
    run_pass(&mut lower.clone(), module, &mut cx)?;
    run_pipeline(module, ctx, "dce")
}

/// Runs one configured pass and verifies the module after it; errors are
/// prefixed with the pass's name.
fn run_pass(pass: &mut dyn Pass, module: &mut Module, cx: &mut PassContext) -> Result<(), Vec<Diagnostic>> {
    let name = pass.name();
    pass.run(module, cx).map_err(|d| vec![d.prefixed(&format!("{name}: "))])?;
    verify_module(module).map_err(|ds| ds.into_iter().map(|d| d.prefixed(&format!("after {name}: "))).collect())
}

/// Runs a pipeline of builtin passes.
pub fn run_pipeline(module: &mut Module, ctx: &Context, text: &str) -> Result<(), Vec<Diagnostic>> {
    let registry = PassRegistry::with_builtin_passes();
    let pipeline = Pipeline::parse(text).map_err(|e| vec![Diagnostic::error(e.to_string(), Span::NONE)])?;
    let mut pm = PassManager::new(&registry, &pipeline, PassManagerOptions::default())
        .map_err(|e| vec![Diagnostic::error(e, Span::NONE)])?;
    let mut log = String::new();
    pm.run(module, ctx, &mut log)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use weft_passes::transforms::quantize::scheme::WeightFormat;

    #[test]
    fn schemes_and_files() {
        let s = parse_quant("w4a6").unwrap();
        assert_eq!((s.file.config.base.weights, s.file.config.base.acts), (WeightFormat::Int(4), 6));
        let e = parse_quant("w9a9").unwrap_err();
        assert_eq!(e.message, "--quant 'w9a9' is neither a scheme nor a file");
        let path = std::env::temp_dir().join(format!("weft-quant-{}.toml", std::process::id()));
        std::fs::write(&path, "weights = \"binary\"\nacts = 12\n").unwrap();
        let s = parse_quant(path.to_str().unwrap()).unwrap();
        assert_eq!((s.file.config.base.weights, s.file.config.base.acts), (WeightFormat::Binary, 12));
        std::fs::write(&path, "acts = 40\n").unwrap();
        let e = parse_quant(path.to_str().unwrap()).unwrap_err();
        assert!(
            e.message.ends_with("'acts' in the top level: expected activation bits from 4 to 16, got '40'"),
            "{}",
            e.message
        );
        let _ = std::fs::remove_file(&path);
    }

    fn options(spec: &NonlinearSpec) -> Vec<(&'static str, String)> {
        spec.lower.as_ref().map(|p| p.option_values()).unwrap_or_default()
    }

    #[test]
    fn nonlinear_methods() {
        assert!(parse_nonlinear("float").unwrap().lower.is_none());
        assert_eq!(options(&parse_nonlinear("ibert").unwrap())[0], ("method", "ibert".to_string()));
        let s = parse_nonlinear("ibert, softmax=lut,gelu=quark").unwrap();
        let opts = options(&s);
        assert!(opts.contains(&("method", "ibert".to_string())), "{opts:?}");
        assert!(opts.contains(&("softmax", "lut".to_string())), "{opts:?}");
        assert!(opts.contains(&("gelu", "quark".to_string())), "{opts:?}");
        let s = parse_nonlinear("layer-norm=ibert").unwrap();
        assert!(options(&s).contains(&("method", "quark".to_string())));
        let e = |t: &str| parse_nonlinear(t).unwrap_err().message;
        assert_eq!(
            e("fast"),
            "--nonlinear 'fast': 'fast': expected 'quark', 'quark-log', 'ibert' or 'lut', got 'fast'"
        );
        assert_eq!(e("quark,ibert"), "--nonlinear 'quark,ibert': a second method 'ibert'");
        assert_eq!(e("matmul=lut"), "--nonlinear 'matmul=lut': 'matmul' is not a quantized nonlinear op");
        assert_eq!(
            e("softmax=float"),
            "--nonlinear 'softmax=float': 'softmax=float': only every nonlinear op at once can stay in float"
        );
        assert_eq!(e("quark,"), "--nonlinear 'quark,': an empty item");
    }
}
