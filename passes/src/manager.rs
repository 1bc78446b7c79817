//! The pass manager: instantiates a pipeline from a [`PassRegistry`], runs
//! it on a module, verifies after every pass, and writes the IR dumps and
//! reports that `--print-ir-*`, `--time-passes` and `--stats` ask for.
//!
//! Output formats (written to the `out` given to [`PassManager::run`]):
//! - IR dumps, MLIR's style: `// -----// IR Dump After cse //----- //` (or
//!   `Before`, or `After cse Failed` when the pass or the verifier failed),
//!   then the printed module and a blank line.
//! - The timing report: a header, then one line per pass in pipeline order
//!   and a `Total` line, each `  0.0012s ( 12.3%)  name` (seconds with four
//!   decimals, percentage right-aligned in five columns: tests mask them
//!   with `\d+\.\d{4}s \(\s*\d+\.\d%\)`).
//! - The statistics report: a header, then for each pass that declares
//!   statistics its name and one line per statistic, `  name: value  (doc)`,
//!   in the order the pass declares them.
//!
//! Invariants: the passes run in the order of the expanded pipeline; a
//! module handed to a pass has verified (when `verify_each`, also before the
//! first pass), so passes may index with the handles ops hold; every error
//! names the pass it comes from.

use crate::pipeline::{Pipeline, PipelineEntry};
use crate::registry::PassRegistry;
use crate::{Pass, PassContext, PassStatistic};
use std::fmt::Write;
use std::time::{Duration, Instant};
use weft_ir::diag::did_you_mean;
use weft_ir::printer::print_module;
use weft_ir::verify::verify_module;
use weft_ir::{Context, Diagnostic, Module, Span};

/// What the manager does around the passes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PassManagerOptions {
    /// Verify the module before the first pass and after every pass.
    pub verify_each: bool,
    pub print_ir_after_all: bool,
    /// Pass names after which to print the IR.
    pub print_ir_after: Vec<String>,
    /// Pass names before which to print the IR.
    pub print_ir_before: Vec<String>,
    pub time_passes: bool,
    pub stats: bool,
}

impl Default for PassManagerOptions {
    fn default() -> Self {
        PassManagerOptions {
            verify_each: true,
            print_ir_after_all: false,
            print_ir_after: Vec::new(),
            print_ir_before: Vec::new(),
            time_passes: false,
            stats: false,
        }
    }
}

/// What a run measured: wall time per pass (pipeline order) and every
/// declared statistic as (pass, statistic, value, doc).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PassReport {
    pub timings: Vec<(String, Duration)>,
    pub stats: Vec<(String, &'static str, u64, &'static str)>,
    /// The passes' warnings, prefixed with the pass name, in pipeline order.
    pub warnings: Vec<Diagnostic>,
}

/// Checks a module (normally [`verify_module`]).
type Verifier = fn(&Module) -> Result<(), Vec<Diagnostic>>;

/// A pipeline of pass instances with their options applied.
pub struct PassManager {
    passes: Vec<Box<dyn Pass>>,
    options: PassManagerOptions,
    verifier: Verifier,
}

impl PassManager {
    /// Expands named pipelines, instantiates every pass and applies its
    /// options; checks the pass names of `print_ir_after`/`print_ir_before`.
    pub fn new(
        registry: &PassRegistry,
        pipeline: &Pipeline,
        options: PassManagerOptions,
    ) -> Result<PassManager, String> {
        check_pass_names(registry, &options.print_ir_after, "--print-ir-after")?;
        check_pass_names(registry, &options.print_ir_before, "--print-ir-before")?;
        let passes = registry.expand(pipeline)?.iter().map(|e| instantiate(registry, e)).collect::<Result<_, _>>()?;
        Ok(PassManager { passes, options, verifier: verify_module })
    }

    /// The expanded pipeline with every option that differs from its
    /// default, in the text form [`Pipeline::parse`] reads.
    pub fn pipeline_text(&self) -> String {
        let entries = self.passes.iter().map(|p| configured_entry(p.as_ref())).collect();
        Pipeline { entries }.to_string()
    }

    /// The names of the passes, in the order they run.
    pub fn pass_names(&self) -> Vec<&'static str> {
        self.passes.iter().map(|p| p.name()).collect()
    }

    /// Runs every pass on `module`. IR dumps and the requested reports go
    /// to `out` (the reports only when every pass succeeded); the first
    /// failure stops the run and is returned prefixed with where it
    /// happened: `before any pass: `, `pass 'NAME' failed: ` or
    /// `after pass 'NAME': `.
    pub fn run(
        &mut self,
        module: &mut Module,
        ctx: &Context,
        out: &mut dyn Write,
    ) -> Result<PassReport, Vec<Diagnostic>> {
        if self.options.verify_each {
            (self.verifier)(module).map_err(|ds| prefix_all(ds, "before any pass: "))?;
        }
        let mut report = PassReport::default();
        let mut sections = Vec::new();
        let setup = RunSetup { options: &self.options, verifier: self.verifier, ctx };
        for pass in self.passes.iter_mut() {
            let name = pass.name();
            let stats = run_one(pass.as_mut(), &setup, module, out, &mut report)?;
            report.stats.extend(stats.iter().map(|&(stat, value, doc)| (name.to_string(), stat, value, doc)));
            sections.push((name, stats));
        }
        if self.options.time_passes {
            out.write_str(&timing_report(&report.timings)).map_err(write_failed)?;
        }
        if self.options.stats {
            out.write_str(&stats_report(&sections)).map_err(write_failed)?;
        }
        Ok(report)
    }
}

/// What every pass run shares.
struct RunSetup<'a> {
    options: &'a PassManagerOptions,
    verifier: Verifier,
    ctx: &'a Context,
}

/// Runs one pass with its dumps, timing and verification; returns its
/// statistics.
fn run_one(
    pass: &mut dyn Pass,
    setup: &RunSetup,
    module: &mut Module,
    out: &mut dyn Write,
    report: &mut PassReport,
) -> Result<PassStats, Vec<Diagnostic>> {
    let (name, options) = (pass.name(), setup.options);
    if options.print_ir_before.iter().any(|n| n == name) {
        dump(out, &format!("Before {name}"), module)?;
    }
    let mut cx = PassContext::new(setup.ctx);
    let start = Instant::now();
    let result = pass.run(module, &mut cx);
    report.timings.push((name.to_string(), start.elapsed()));
    let stats = collect_stats(pass.statistics(), &cx);
    let prefix = format!("pass '{name}': ");
    report.warnings.extend(cx.warnings.drain(..).map(|w| w.prefixed(&prefix)));
    let failure = match result {
        Err(d) => Some(vec![d.prefixed(&format!("pass '{name}' failed: "))]),
        Ok(()) if options.verify_each => {
            (setup.verifier)(module).err().map(|ds| prefix_all(ds, &format!("after pass '{name}': ")))
        }
        Ok(()) => None,
    };
    if options.print_ir_after_all || options.print_ir_after.iter().any(|n| n == name) {
        let failed = if failure.is_some() { " Failed" } else { "" };
        dump(out, &format!("After {name}{failed}"), module)?;
    }
    failure.map_or(Ok(stats), Err)
}

fn prefix_all(diags: Vec<Diagnostic>, prefix: &str) -> Vec<Diagnostic> {
    diags.into_iter().map(|d| d.prefixed(prefix)).collect()
}

fn write_failed(_: std::fmt::Error) -> Vec<Diagnostic> {
    vec![Diagnostic::error("could not write the pass manager's output", Span::NONE)]
}

fn dump(out: &mut dyn Write, what: &str, module: &Module) -> Result<(), Vec<Diagnostic>> {
    write!(out, "// -----// IR Dump {what} //----- //\n{}\n", print_module(module)).map_err(write_failed)
}

/// The declared statistics in declaration order (0 when never bumped), then
/// any others the pass bumped, in bump order.
fn collect_stats(declared: &[PassStatistic], cx: &PassContext) -> PassStats {
    let mut stats: PassStats = declared.iter().map(|s| (s.name, cx.stat(s.name), s.doc)).collect();
    stats.extend(cx.stats.iter().filter(|s| !declared.iter().any(|d| d.name == s.0)));
    stats
}

fn check_pass_names(registry: &PassRegistry, names: &[String], flag: &str) -> Result<(), String> {
    for name in names {
        if registry.pass_info(name).is_some() {
            continue;
        }
        if registry.pipeline(name).is_some() {
            return Err(format!("{flag}: '{name}' is a named pipeline; name one of the passes it runs"));
        }
        return Err(format!("{flag}: {}", registry.unknown_pass(name)));
    }
    Ok(())
}

fn instantiate(registry: &PassRegistry, entry: &PipelineEntry) -> Result<Box<dyn Pass>, String> {
    let mut pass = registry.create(&entry.name)?;
    for (key, value) in &entry.options {
        apply_option(pass.as_mut(), key, value)?;
    }
    Ok(pass)
}

fn apply_option(pass: &mut dyn Pass, key: &str, value: &str) -> Result<(), String> {
    let name = pass.name();
    let options = pass.options();
    if !options.iter().any(|o| o.name == key) {
        let mut msg = format!("pass '{name}' has no option '{key}'");
        if let Some(hint) = did_you_mean(&weft_ir::diag::closest(key, options.iter().map(|o| o.name))) {
            let _ = write!(msg, "; {hint}");
        }
        if options.is_empty() {
            msg.push_str(" (it takes no options)");
        } else {
            let valid: Vec<&str> = options.iter().map(|o| o.name).collect();
            let _ = write!(msg, " (valid options: {})", valid.join(", "));
        }
        return Err(msg);
    }
    pass.set_option(key, value).map_err(|e| format!("invalid value for option '{key}' of pass '{name}': {e}"))
}

/// The entry that recreates `pass`: its options that differ from their
/// defaults.
fn configured_entry(pass: &dyn Pass) -> PipelineEntry {
    let declared = pass.options();
    let options = pass
        .option_values()
        .into_iter()
        .filter(|(k, v)| !declared.iter().any(|o| o.name == *k && o.default == v))
        .map(|(k, v)| (k.to_string(), v))
        .collect();
    PipelineEntry { name: pass.name().to_string(), options }
}

const RULE: &str = "//===-------------------------------------------------------------------===//";

/// The `--time-passes` report (see the module doc for the line format).
pub fn timing_report(timings: &[(String, Duration)]) -> String {
    let total: Duration = timings.iter().map(|t| t.1).sum();
    let mut out = format!("{RULE}\n//  Pass execution timing report\n{RULE}\n");
    let _ = writeln!(out, "  Total Execution Time: {:.4}s", total.as_secs_f64());
    out.push_str("  ----Wall Time----  ----Name----\n");
    for (name, d) in timings {
        let pct = if total.is_zero() { 0.0 } else { 100.0 * d.as_secs_f64() / total.as_secs_f64() };
        let _ = writeln!(out, "  {:.4}s ({pct:5.1}%)  {name}", d.as_secs_f64());
    }
    let _ = writeln!(out, "  {:.4}s ({:5.1}%)  Total", total.as_secs_f64(), 100.0);
    out
}

/// The statistics of one pass run, in report order.
pub type PassStats = Vec<(&'static str, u64, &'static str)>;

/// The `--stats` report: one section per pass run that has statistics
/// (see the module doc for the line format).
pub fn stats_report(sections: &[(&str, PassStats)]) -> String {
    let mut out = format!("{RULE}\n//  Pass statistics report\n{RULE}\n");
    for (pass, stats) in sections.iter().filter(|s| !s.1.is_empty()) {
        let _ = writeln!(out, "{pass}");
        for (name, value, doc) in stats {
            let _ = writeln!(out, "  {name}: {value}  ({doc})");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transforms::testing::*;
    use weft_ir::ops::nn;

    fn manager(text: &str, options: PassManagerOptions) -> Result<PassManager, String> {
        let mut registry = PassRegistry::with_builtin_passes();
        registry.register(|| Box::new(Explode));
        PassManager::new(&registry, &Pipeline::parse(text)?, options)
    }

    /// `return -(1 + 2) + -(1 + 2)` on i32 scalars.
    fn sample() -> Module {
        let t = i32_type(&[]);
        let mut f = func(vec![], vec![t.clone()]);
        let a = constant(&mut f, &t, &[1.0]);
        let b = constant(&mut f, &t, &[2.0]);
        let s = op(&mut f, &nn::ADD, &[a, b], &t);
        let n1 = op(&mut f, &nn::NEG, &[s], &t);
        let n2 = op(&mut f, &nn::NEG, &[s], &t);
        let r = op(&mut f, &nn::ADD, &[n1, n2], &t);
        ret(&mut f, &[r]);
        module(f)
    }

    /// A pass that always fails.
    struct Explode;
    impl Pass for Explode {
        fn name(&self) -> &'static str {
            "explode"
        }
        fn summary(&self) -> &'static str {
            "Fails"
        }
        fn run(&mut self, _: &mut Module, cx: &mut PassContext) -> Result<(), Diagnostic> {
            cx.bump("attempts", 1, "times it tried");
            Err(Diagnostic::error("boom", Span::NONE))
        }
    }

    fn run(text: &str, options: PassManagerOptions) -> (Result<PassReport, Vec<Diagnostic>>, String) {
        let mut pm = manager(text, options).unwrap();
        let mut m = sample();
        let mut out = String::new();
        let result = pm.run(&mut m, &Context::default(), &mut out);
        (result, out)
    }

    #[test]
    fn option_errors_name_the_pass_and_the_valid_options() {
        let err = |text: &str| manager(text, PassManagerOptions::default()).err().unwrap();
        assert_eq!(
            err("cse{commutatve=false}"),
            "pass 'cse' has no option 'commutatve'; did you mean 'commutative'? (valid options: commutative)"
        );
        assert_eq!(err("dce{x=1}"), "pass 'dce' has no option 'x' (it takes no options)");
        assert_eq!(
            err("canonicalize{max-iterations=ten}"),
            "invalid value for option 'max-iterations' of pass 'canonicalize': expected an unsigned integer, got 'ten'"
        );
        assert_eq!(err("cse,dcee"), "unknown pass 'dcee'; did you mean 'dce'?");
    }

    #[test]
    fn dump_names_must_be_passes() {
        let after = PassManagerOptions { print_ir_after: vec!["csee".into()], ..Default::default() };
        assert_eq!(manager("cse", after).err().unwrap(), "--print-ir-after: unknown pass 'csee'; did you mean 'cse'?");
        let before = PassManagerOptions { print_ir_before: vec!["default".into()], ..Default::default() };
        assert_eq!(
            manager("cse", before).err().unwrap(),
            "--print-ir-before: 'default' is a named pipeline; name one of the passes it runs"
        );
    }

    #[test]
    fn pipeline_text_is_expanded_with_non_default_options() {
        let pm = manager(
            "default, cse{commutative=0}, canonicalize{max-iterations=3,max-elements=1048576}",
            PassManagerOptions::default(),
        )
        .unwrap();
        assert_eq!(pm.pipeline_text(), "canonicalize,cse,dce,cse{commutative=false},canonicalize{max-iterations=3}");
        assert_eq!(pm.pass_names(), vec!["canonicalize", "cse", "dce", "cse", "canonicalize"]);
    }

    #[test]
    fn dumps_before_and_after_in_mlir_style() {
        let options = PassManagerOptions {
            print_ir_before: vec!["fold".into()],
            print_ir_after: vec!["cse".into()],
            ..Default::default()
        };
        let (result, out) = run("fold,cse", options);
        let report = result.unwrap();
        assert_eq!(report.timings.iter().map(|t| t.0.as_str()).collect::<Vec<_>>(), vec!["fold", "cse"]);
        let expected = "\
// -----// IR Dump Before fold //----- //
module {
  func @main() -> tensor<i32> {
    %0 = constant dense<1> : tensor<i32>
    %1 = constant dense<2> : tensor<i32>
    %2 = nn.add %0, %1 : tensor<i32>
    %3 = nn.neg %2 : tensor<i32>
    %4 = nn.neg %2 : tensor<i32>
    %5 = nn.add %3, %4 : tensor<i32>
    return %5 : tensor<i32>
  }
}

// -----// IR Dump After cse //----- //
module {
  func @main() -> tensor<i32> {
    %0 = constant dense<1> : tensor<i32>
    %1 = constant dense<2> : tensor<i32>
    %2 = constant dense<3> : tensor<i32>
    %3 = nn.add %0, %1 : tensor<i32>
    %4 = constant dense<-3> : tensor<i32>
    %5 = nn.neg %2 : tensor<i32>
    %6 = constant dense<-6> : tensor<i32>
    %7 = nn.add %4, %4 : tensor<i32>
    return %6 : tensor<i32>
  }
}

";
        assert_eq!(out, expected);
    }

    /// Replaces the numbers of timing lines by fixed text.
    fn mask_timings(text: &str) -> String {
        let mask = |line: &str| -> Option<String> {
            if let Some(rest) = line.strip_prefix("  Total Execution Time: ") {
                rest.strip_suffix('s')?.parse::<f64>().ok()?;
                return Some("  Total Execution Time: T".to_string());
            }
            let (time, rest) = line.strip_prefix("  ")?.split_once("s (")?;
            time.parse::<f64>().ok()?;
            let (pct, name) = rest.split_once("%)  ")?;
            pct.trim().parse::<f64>().ok()?;
            Some(format!("  Ts (P%)  {name}"))
        };
        text.lines().map(|l| mask(l).unwrap_or_else(|| l.to_string()) + "\n").collect()
    }

    #[test]
    fn time_and_stats_reports() {
        let options = PassManagerOptions { time_passes: true, stats: true, ..Default::default() };
        let (result, out) = run("canonicalize,cse", options);
        let report = result.unwrap();
        let expected = "\
//===-------------------------------------------------------------------===//
//  Pass execution timing report
//===-------------------------------------------------------------------===//
  Total Execution Time: T
  ----Wall Time----  ----Name----
  Ts (P%)  canonicalize
  Ts (P%)  cse
  Ts (P%)  Total
//===-------------------------------------------------------------------===//
//  Pass statistics report
//===-------------------------------------------------------------------===//
canonicalize
  folded-ops: 4  (ops replaced by constants or by one of their operands)
  removed-ops: 9  (unused pure ops removed)
cse
  merged-ops: 0  (ops replaced by an equal earlier op)
";
        assert_eq!(mask_timings(&out), expected);
        assert_eq!(report.stats[1], ("canonicalize".to_string(), "removed-ops", 9, "unused pure ops removed"));
    }

    #[test]
    fn timing_lines_have_a_regular_format() {
        let report =
            timing_report(&[("a".to_string(), Duration::from_millis(1)), ("b".to_string(), Duration::from_millis(3))]);
        let lines: Vec<&str> = report.lines().collect();
        assert_eq!(lines[3], "  Total Execution Time: 0.0040s");
        assert_eq!(lines[5], "  0.0010s ( 25.0%)  a");
        assert_eq!(lines[6], "  0.0030s ( 75.0%)  b");
        assert_eq!(lines[7], "  0.0040s (100.0%)  Total");
        assert!(timing_report(&[("z".to_string(), Duration::ZERO)]).contains("  0.0000s (  0.0%)  z\n"));
    }

    #[test]
    fn a_failing_pass_stops_the_run_and_is_named() {
        let options = PassManagerOptions { print_ir_after_all: true, ..Default::default() };
        let (result, out) = run("canonicalize,explode,cse", options);
        let errors = result.unwrap_err();
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].to_string(), "error: pass 'explode' failed: boom");
        assert!(out.contains("// -----// IR Dump After canonicalize //----- //\n"));
        assert!(out.contains("// -----// IR Dump After explode Failed //----- //\n"));
        assert!(!out.contains("After cse"));
    }

    /// Rejects any module with an `nn.neg`, as a stand-in for the verifier.
    fn no_neg(m: &Module) -> Result<(), Vec<Diagnostic>> {
        let negs = m.funcs.iter().flat_map(|f| f.walk().into_iter().map(move |op| &f.ops[op]));
        let errors: Vec<Diagnostic> =
            negs.filter(|d| d.name() == "nn.neg").map(|d| Diagnostic::error("neg is not allowed", d.span)).collect();
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }

    #[test]
    fn verifier_failures_are_prefixed_with_the_pass() {
        let mut pm = manager("fold", PassManagerOptions::default()).unwrap();
        pm.verifier = no_neg;
        let mut out = String::new();
        let errors = pm.run(&mut sample(), &Context::default(), &mut out).unwrap_err();
        let messages: Vec<String> = errors.iter().map(|d| d.to_string()).collect();
        assert_eq!(messages, vec!["error: before any pass: neg is not allowed"; 2]);

        // fold leaves the negs in place, unused: a verifier that rejects
        // unused negs fails after fold, and the error names the pass.
        let options = PassManagerOptions { print_ir_after: vec!["fold".into()], ..Default::default() };
        let mut pm = manager("fold,cse", options).unwrap();
        pm.verifier = |m| {
            let f = &m.funcs[0];
            let uses = f.use_counts();
            let unused =
                f.walk().into_iter().filter(|&op| f.ops[op].name() == "nn.neg" && uses[f.ops[op].results[0]] == 0);
            match unused.count() {
                0 => Ok(()),
                n => Err(vec![Diagnostic::error(format!("{n} unused negs"), Span::NONE)]),
            }
        };
        let mut out = String::new();
        let errors = pm.run(&mut sample(), &Context::default(), &mut out).unwrap_err();
        assert_eq!(
            errors.iter().map(|d| d.to_string()).collect::<Vec<_>>(),
            vec!["error: after pass 'fold': 2 unused negs"]
        );
        assert!(out.starts_with("// -----// IR Dump After fold Failed //----- //\nmodule {\n"), "{out}");
    }

    #[test]
    fn undeclared_statistics_are_reported_after_declared_ones() {
        let options = PassManagerOptions { stats: true, verify_each: false, ..Default::default() };
        let mut pm = manager("explode", options).unwrap();
        let mut out = String::new();
        assert!(pm.run(&mut sample(), &Context::default(), &mut out).is_err());
        // The run failed, so no report was written.
        assert_eq!(out, "");
        let ctx = Context::default();
        let mut cx = PassContext::new(&ctx);
        cx.bump("extra", 2, "undeclared");
        cx.bump("merged-ops", 1, "declared");
        let stats = collect_stats(&[PassStatistic { name: "merged-ops", doc: "declared" }], &cx);
        assert_eq!(stats, vec![("merged-ops", 1, "declared"), ("extra", 2, "undeclared")]);
    }
}
