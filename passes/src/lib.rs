//! weft-passes: the pass infrastructure and the passes.
//!
//! A pass is a struct implementing [`Pass`]: a kebab-case name, a one-line
//! summary, options set from text, statistics, and `run`. One line in
//! [`registry::PassRegistry::with_builtin_passes`] registers it. Pipelines are text
//! (`canonicalize,dce,cse{commutative=false}`) parsed by [`pipeline`] and run by
//! [`manager::PassManager`], which verifies the module after every pass and
//! prefixes errors with the pass name. The passes themselves live in
//! [`transforms`], one file each; spec/passes.md is generated from the
//! registry ([`reference`]).
//!
//! Invariants: a pass's `name`, `summary`, `options` and `statistics` do not
//! depend on its state (the registry reads them from one instance); a pass
//! runs on verified IR and leaves verified IR (the manager checks it).

pub mod eqsat;
pub mod manager;
pub mod pipeline;
pub mod reference;
pub mod registry;
pub mod transforms;

pub use manager::{PassManager, PassManagerOptions, PassReport};
pub use pipeline::{Pipeline, PipelineEntry};
pub use registry::PassRegistry;

use weft_ir::{Context, Diagnostic, Module};

/// One option a pass accepts, for `--help` listings and error messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PassOption {
    pub name: &'static str,
    /// "uint", "bool", "string", ...
    pub kind: &'static str,
    /// The default value, written as `set_option` accepts it.
    pub default: &'static str,
    pub doc: &'static str,
}

/// One counter a pass reports under `--stats`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PassStatistic {
    /// Kebab-case, e.g. `removed-ops`.
    pub name: &'static str,
    /// What is counted, e.g. "ops removed because nothing used them".
    pub doc: &'static str,
}

/// What a pass sees besides the module.
pub struct PassContext<'a> {
    pub ctx: &'a Context,
    /// Counters the pass reports (`--stats`): name, value, description, in
    /// the order they were first bumped.
    pub stats: Vec<(&'static str, u64, &'static str)>,
    /// Warnings for the user (the pass still succeeded), in the order they
    /// were given; the pass manager hands them on in its report.
    pub warnings: Vec<Diagnostic>,
}

impl<'a> PassContext<'a> {
    pub fn new(ctx: &'a Context) -> PassContext<'a> {
        PassContext { ctx, stats: Vec::new(), warnings: Vec::new() }
    }

    /// Records a warning (its severity is set to warning).
    pub fn warn(&mut self, d: Diagnostic) {
        self.warnings.push(Diagnostic { severity: weft_ir::Severity::Warning, ..d });
    }

    /// Adds `n` to the statistic `name`.
    pub fn bump(&mut self, name: &'static str, n: u64, doc: &'static str) {
        match self.stats.iter_mut().find(|s| s.0 == name) {
            Some(s) => s.1 += n,
            None => self.stats.push((name, n, doc)),
        }
    }

    /// Adds `n` to a declared statistic.
    pub fn count(&mut self, stat: &PassStatistic, n: u64) {
        self.bump(stat.name, n, stat.doc);
    }

    /// The current value of the statistic `name` (0 if never bumped).
    pub fn stat(&self, name: &str) -> u64 {
        self.stats.iter().find(|s| s.0 == name).map_or(0, |s| s.1)
    }
}

/// A transformation of a module.
pub trait Pass {
    /// The kebab-case name used in pipelines.
    fn name(&self) -> &'static str;
    /// One line: what the pass does.
    fn summary(&self) -> &'static str;
    /// Markdown for spec/passes.md: what the pass does, phase by phase.
    fn description(&self) -> &'static str {
        ""
    }
    /// The options `set_option` accepts.
    fn options(&self) -> &'static [PassOption] {
        &[]
    }
    /// The statistics the pass reports, in the order `--stats` lists them.
    fn statistics(&self) -> &'static [PassStatistic] {
        &[]
    }
    /// Sets an option from its text value; the error says what was expected.
    /// The manager only calls it with names listed in [`Pass::options`].
    fn set_option(&mut self, name: &str, value: &str) -> Result<(), String> {
        let _ = value;
        Err(format!("unknown option '{name}'"))
    }
    /// The current value of every option, as text (for printing pipelines
    /// back); options at their default may be left out.
    fn option_values(&self) -> Vec<(&'static str, String)> {
        Vec::new()
    }
    fn run(&mut self, module: &mut Module, cx: &mut PassContext) -> Result<(), Diagnostic>;
}

/// Parses an unsigned integer option value.
pub fn parse_uint_option(value: &str) -> Result<u64, String> {
    value.trim().parse::<u64>().map_err(|_| format!("expected an unsigned integer, got '{value}'"))
}

/// Parses a boolean option value: `true`/`false` (also `1`/`0`).
pub fn parse_bool_option(value: &str) -> Result<bool, String> {
    match value.trim() {
        "true" | "1" => Ok(true),
        "false" | "0" => Ok(false),
        _ => Err(format!("expected 'true' or 'false', got '{value}'")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bump_accumulates_in_first_bump_order() {
        let ctx = Context::default();
        let mut cx = PassContext::new(&ctx);
        cx.bump("b", 2, "bees");
        cx.count(&PassStatistic { name: "a", doc: "ays" }, 1);
        cx.bump("b", 3, "bees");
        assert_eq!(cx.stats, vec![("b", 5, "bees"), ("a", 1, "ays")]);
        assert_eq!(cx.stat("b"), 5);
        assert_eq!(cx.stat("c"), 0);
    }

    #[test]
    fn option_value_parsers() {
        assert_eq!(parse_uint_option("42"), Ok(42));
        assert_eq!(parse_uint_option("-1"), Err("expected an unsigned integer, got '-1'".to_string()));
        assert_eq!(parse_bool_option("false"), Ok(false));
        assert_eq!(parse_bool_option("1"), Ok(true));
        assert_eq!(parse_bool_option("yes"), Err("expected 'true' or 'false', got 'yes'".to_string()));
    }
}
