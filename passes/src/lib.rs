//! weft-passes: the pass infrastructure and the passes.
//!
//! A pass is a struct implementing [`Pass`]: a kebab-case name, a one-line
//! summary, options set from text, statistics, and `run`. One line in
//! [`registry::PassRegistry::with_builtin_passes`] registers it. Pipelines are text
//! (`canonicalize,dce,cse{max-ops=100}`) parsed by [`pipeline`] and run by
//! [`manager::PassManager`], which verifies the module after every pass and
//! prefixes errors with the pass name.

pub mod manager;
pub mod pipeline;
pub mod registry;

use weft_ir::{Context, Diagnostic, Module};

/// One option a pass accepts, for `--help` listings and error messages.
#[derive(Debug, Clone, Copy)]
pub struct PassOption {
    pub name: &'static str,
    /// "uint", "bool", "string", ...
    pub kind: &'static str,
    pub default: &'static str,
    pub doc: &'static str,
}

/// What a pass sees besides the module.
pub struct PassContext<'a> {
    pub ctx: &'a Context,
    /// Counters the pass reports (`--stats`): name, value, description.
    pub stats: Vec<(&'static str, u64, &'static str)>,
}

impl PassContext<'_> {
    /// Adds `n` to the statistic `name`.
    pub fn bump(&mut self, name: &'static str, n: u64, doc: &'static str) {
        match self.stats.iter_mut().find(|s| s.0 == name) {
            Some(s) => s.1 += n,
            None => self.stats.push((name, n, doc)),
        }
    }
}

/// A transformation of a module.
pub trait Pass {
    /// The kebab-case name used in pipelines.
    fn name(&self) -> &'static str;
    /// One line: what the pass does.
    fn summary(&self) -> &'static str;
    /// The options `set_option` accepts.
    fn options(&self) -> &'static [PassOption] {
        &[]
    }
    /// Sets an option from its text value; the error says what was expected.
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
