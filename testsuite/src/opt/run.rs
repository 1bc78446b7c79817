//! The steps of `weft opt`: build the pass manager from the options, parse
//! the input, load its resource sidecar, verify, run the pipeline, print.

use super::args::{Emit, OptArgs};
use std::path::{Path, PathBuf};
use weft_ir::graph::to_dot;
use weft_ir::parser::parse_module;
use weft_ir::printer::print_module_with;
use weft_ir::resources::{sidecar_path, Resources};
use weft_ir::verify::verify_module;
use weft_ir::{Context, Diagnostic, FileId, Module, Severity, SourceMap, Span};
use weft_passes::{PassManager, PassManagerOptions, PassRegistry, Pipeline};

/// The source name used for standard input.
pub const STDIN_NAME: &str = "<stdin>";

/// What `weft opt` works with besides its options and input.
#[derive(Clone, Copy)]
pub struct OptSession<'a> {
    /// The dialects the input may use.
    pub ctx: &'a Context,
    /// The passes `--passes` may name.
    pub registry: &'a PassRegistry,
    /// The input's path, to find its `.safetensors` sidecar; `None` for
    /// standard input.
    pub input_path: Option<&'a Path>,
}

/// The result of one `weft opt` run.
#[derive(Debug, Default)]
pub struct OptOutcome {
    /// The printed module (or DOT graph); empty when there were errors.
    pub output: String,
    /// IR dumps, pass timings and statistics, in the order produced.
    pub log: String,
    /// Every diagnostic, errors and warnings, in the order produced.
    pub diagnostics: Vec<Diagnostic>,
    /// A usage error (bad `--passes` text, unknown pass or option).
    pub usage_error: Option<String>,
    /// The final module, when everything succeeded.
    pub module: Option<Module>,
}

impl OptOutcome {
    /// True when there is a usage error or an error diagnostic.
    pub fn has_errors(&self) -> bool {
        self.usage_error.is_some() || self.diagnostics.iter().any(|d| d.severity == Severity::Error)
    }

    /// The process exit code: 0 ok, 1 bad input, 2 usage error.
    pub fn exit_code(&self) -> u8 {
        match (&self.usage_error, self.has_errors()) {
            (Some(_), _) => 2,
            (None, true) => 1,
            (None, false) => 0,
        }
    }

    fn usage(message: String) -> OptOutcome {
        OptOutcome { usage_error: Some(message), ..OptOutcome::default() }
    }

    fn failed(log: String, diagnostics: Vec<Diagnostic>) -> OptOutcome {
        OptOutcome { log, diagnostics, ..OptOutcome::default() }
    }
}

/// Runs `weft opt` on `file` with the builtin passes. The input's path for
/// the resource sidecar is the file's name in `sources` (none for `-` or
/// [`STDIN_NAME`]).
pub fn run_opt(args: &OptArgs, ctx: &Context, sources: &mut SourceMap, file: FileId) -> OptOutcome {
    let registry = PassRegistry::with_builtin_passes();
    let input_path = sources.name(file).filter(|n| !n.is_empty() && *n != "-" && *n != STDIN_NAME).map(PathBuf::from);
    let session = OptSession { ctx, registry: &registry, input_path: input_path.as_deref() };
    run_opt_in(&session, args, sources, file)
}

/// Runs `weft opt` on `file` with the session's dialects and passes.
pub fn run_opt_in(session: &OptSession, args: &OptArgs, sources: &mut SourceMap, file: FileId) -> OptOutcome {
    let mut log = String::new();
    let manager = match build_manager(session.registry, args, &mut log) {
        Ok(m) => m,
        Err(e) => return OptOutcome::usage(e),
    };
    let mut module = match parse_module(session.ctx, sources, file) {
        Ok(m) => m,
        Err(diags) => return OptOutcome::failed(log, diags),
    };
    if let Err(d) = load_sidecar(session.input_path, &mut module) {
        return OptOutcome::failed(log, vec![d]);
    }
    if let Err(diags) = verify_module(&module) {
        return OptOutcome::failed(log, diags);
    }
    let mut warnings = Vec::new();
    if let Some(mut pm) = manager {
        match pm.run(&mut module, session.ctx, &mut log) {
            Ok(report) => warnings = report.warnings,
            Err(diags) => return OptOutcome::failed(log, diags),
        }
    }
    let output = match args.emit {
        Emit::Weft => print_module_with(&module, args.print_options()),
        Emit::Dot => to_dot(&module),
    };
    OptOutcome { output, log, diagnostics: warnings, module: Some(module), ..OptOutcome::default() }
}

/// The pass manager for `--passes` (`None` when it is empty); writes the
/// expanded pipeline with its options to `log` when `--print-pipeline` is
/// given.
fn build_manager(registry: &PassRegistry, args: &OptArgs, log: &mut String) -> Result<Option<PassManager>, String> {
    if args.has_no_passes() {
        if args.print_pipeline {
            log.push_str("// pipeline: (empty)\n");
        }
        return Ok(None);
    }
    let pipeline = Pipeline::parse(&args.passes).map_err(|e| format!("invalid --passes: {e}"))?;
    let manager =
        PassManager::new(registry, &pipeline, manager_options(args)).map_err(|e| format!("invalid --passes: {e}"))?;
    if args.print_pipeline {
        log.push_str(&format!("// pipeline: {}\n", manager.pipeline_text()));
    }
    Ok(Some(manager))
}

fn manager_options(args: &OptArgs) -> PassManagerOptions {
    PassManagerOptions {
        verify_each: !args.no_verify,
        print_ir_after_all: args.print_ir_after_all,
        print_ir_after: args.print_ir_after.clone(),
        print_ir_before: args.print_ir_before.clone(),
        time_passes: args.time_passes,
        stats: args.stats,
    }
}

/// Loads `X.safetensors` beside `X.weft` into the module, when it exists.
fn load_sidecar(input: Option<&Path>, module: &mut Module) -> Result<(), Diagnostic> {
    let Some(input) = input else { return Ok(()) };
    let sidecar = sidecar_path(input);
    if !sidecar.exists() {
        return Ok(());
    }
    module.resources = Resources::load(&sidecar).map_err(|e| {
        Diagnostic::error(
            format!("cannot load the resources of this module from '{}': {e}", sidecar.display()),
            Span::NONE,
        )
    })?;
    Ok(())
}

/// Checks `--passes` (and the pass manager options) without running
/// anything: the usage error a run would report, if any.
pub fn check_pipeline(args: &OptArgs, registry: &PassRegistry) -> Result<(), String> {
    build_manager(registry, args, &mut String::new()).map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;
    use weft_ir::resources::Resource;
    use weft_ir::ElemType;

    const MODULE: &str = "func @f(%x: tensor<2xf32>) -> tensor<2xf32> {\n  %0 = nn.exp %x : tensor<2xf32>\n  \
                          %1 = nn.exp %x : tensor<2xf32>\n  %2 = nn.add %0, %1 : tensor<2xf32>\n  \
                          return %2 : tensor<2xf32>\n}\n";

    fn opt(words: &[&str], text: &str) -> OptOutcome {
        let args = OptArgs::from_words(words).unwrap();
        let mut sources = SourceMap::new();
        let file = sources.add(STDIN_NAME, text);
        run_opt(&args, &Context::default(), &mut sources, file)
    }

    #[test]
    fn without_passes_it_prints_the_parsed_module() {
        let out = opt(&[], MODULE);
        assert_eq!(out.exit_code(), 0, "{:?}", out.diagnostics);
        assert!(out.output.starts_with("module {\n  func @f(%arg0: tensor<2xf32>) -> tensor<2xf32> {\n"));
        assert_eq!(out.output.matches("nn.exp").count(), 2);
        assert!(out.log.is_empty());
        assert!(out.module.is_some());
    }

    #[test]
    fn runs_the_pipeline_and_logs_reports() {
        let out = opt(&["--passes", "cse", "--stats", "--time-passes", "--print-pipeline"], MODULE);
        assert_eq!(out.exit_code(), 0, "{:?}", out.diagnostics);
        assert_eq!(out.output.matches("nn.exp").count(), 1, "{}", out.output);
        assert!(out.log.starts_with("// pipeline: cse\n"), "{}", out.log);
        assert!(out.log.contains("merged-ops"), "{}", out.log);
        assert!(out.log.contains("s ("), "{}", out.log);
    }

    #[test]
    fn generic_printing_and_dot() {
        let out = opt(&["--print-generic"], MODULE);
        assert!(out.output.contains("\"nn.exp\"(%arg0)"), "{}", out.output);
        let out = opt(&["--emit", "dot"], MODULE);
        assert!(out.output.starts_with("digraph"), "{}", out.output);
    }

    #[test]
    fn bad_pipelines_are_usage_errors() {
        for passes in ["cse,nope", "cse{commutative=maybe}", "cse{", "dce{x=1}"] {
            let out = opt(&["--passes", passes], MODULE);
            assert_eq!(out.exit_code(), 2, "{passes}");
            assert!(out.usage_error.as_deref().is_some_and(|e| e.starts_with("invalid --passes: ")), "{passes}");
            assert!(out.diagnostics.is_empty());
        }
        let out = opt(&["--passes", "cse", "--print-ir-after", "nope"], MODULE);
        assert_eq!(out.exit_code(), 2);
        let registry = PassRegistry::with_builtin_passes();
        assert!(check_pipeline(&OptArgs::from_words(["--passes", "nope"]).unwrap(), &registry).is_err());
        assert_eq!(check_pipeline(&OptArgs::default(), &registry), Ok(()));
    }

    #[test]
    fn bad_input_is_reported_as_diagnostics() {
        let out = opt(&["--passes", "cse"], "func @f() {\n  %0 = nn.nope\n}\n");
        assert_eq!(out.exit_code(), 1);
        assert!(out.output.is_empty() && out.module.is_none());
        assert!(!out.diagnostics.is_empty());
        let out = opt(&[], "func @f(%x: tensor<2xf32>) -> tensor<3xf32> {\n  return %x : tensor<2xf32>\n}\n");
        assert_eq!(out.exit_code(), 1);
        assert!(out.diagnostics[0].message.contains("builtin.return"), "{:?}", out.diagnostics);
    }

    #[test]
    fn resources_are_loaded_from_the_sidecar() {
        let dir = std::env::temp_dir().join(format!("weft-opt-sidecar-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("m.weft");
        let text = "func @f() -> tensor<2xf32> {\n  %0 = constant dense_resource<w> : tensor<2xf32>\n  \
                    return %0 : tensor<2xf32>\n}\n";
        let mut sources = SourceMap::new();
        let file = sources.add(path.display().to_string(), text);
        let missing = run_opt(&OptArgs::default(), &Context::default(), &mut sources, file);
        assert_eq!(missing.exit_code(), 1, "an unknown resource does not verify");

        let mut res = Resources::new();
        res.insert("w", Resource::new(ElemType::F32, vec![2], vec![0; 8]).unwrap());
        res.save(&sidecar_path(&path)).unwrap();
        let loaded = run_opt(&OptArgs::default(), &Context::default(), &mut sources, file);
        assert_eq!(loaded.exit_code(), 0, "{:?}", loaded.diagnostics);
        assert_eq!(loaded.module.map(|m| m.resources), Some(res));

        std::fs::write(sidecar_path(&path), b"not safetensors").unwrap();
        let broken = run_opt(&OptArgs::default(), &Context::default(), &mut sources, file);
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(broken.exit_code(), 1);
        assert!(broken.diagnostics[0].message.contains("cannot load the resources"), "{:?}", broken.diagnostics);
    }
}
