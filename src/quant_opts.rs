//! The quantization options shared by `weft run` and `weft accuracy`:
//! `--quant SCHEME` (`wXaY`, or a TOML configuration file, spec/quant.md)
//! and `--calibrate DIR`, and the step that quantizes a legalized module
//! with them (the `quantize` pass with the calibration samples, then `dce`).
//!
//! Invariants: a scheme that is neither `wXaY` nor a readable, valid TOML
//! file is a diagnostic (exit code 1); without `--calibrate` the pass draws
//! random samples and its warning is passed on to the caller.

use std::path::Path;
use weft_ir::verify::verify_module;
use weft_ir::{Context, Diagnostic, Module, Span, Tensor};
use weft_passes::transforms::quantize::config::{parse_config, ConfigFile};
use weft_passes::transforms::quantize::scheme::{parse_scheme, PrecisionPatch};
use weft_passes::transforms::quantize::Quantize;
use weft_passes::{Pass, PassContext, PassManager, PassManagerOptions, PassRegistry, Pipeline};

/// A parsed `--quant` value.
#[derive(Debug, Clone)]
pub struct QuantSpec {
    /// What the user wrote (for reports).
    pub text: String,
    pub file: ConfigFile,
}

/// Parses `--quant`: `wXaY`, else a TOML file.
pub fn parse_quant(text: &str) -> Result<QuantSpec, Diagnostic> {
    if let Ok((weights, acts)) = parse_scheme(text) {
        let mut file = ConfigFile::default();
        PrecisionPatch { weights: Some(weights), acts: Some(acts), ..PrecisionPatch::default() }
            .apply(&mut file.config.base);
        return Ok(QuantSpec { text: text.to_string(), file });
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
    Ok(QuantSpec { text: text.to_string(), file })
}

/// Quantizes `module` (already in the nn dialect) with `spec`, calibrated
/// on `samples` when given; returns the pass's warnings.
pub fn quantize_module(
    module: &mut Module,
    ctx: &Context,
    spec: &QuantSpec,
    samples: Option<Vec<Vec<Tensor>>>,
) -> Result<Vec<Diagnostic>, Vec<Diagnostic>> {
    let mut pass = Quantize::with_config(spec.file.clone());
    if let Some(s) = samples {
        pass = pass.with_samples(s);
    }
    let mut cx = PassContext::new(ctx);
    pass.run(module, &mut cx).map_err(|d| vec![d.prefixed("quantize: ")])?;
    verify_module(module).map_err(|ds| ds.into_iter().map(|d| d.prefixed("after quantize: ")).collect::<Vec<_>>())?;
    run_pipeline(module, ctx, "dce")?;
    Ok(cx.warnings)
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
}
