//! The options of `weft opt`, shared by the command line and lit `RUN:`
//! lines so both behave identically.
//!
//! Invariant: `OptArgs::default()` is what `weft opt FILE` means without
//! options: parse, verify, print.

use clap::{Args, Parser, ValueEnum};
use std::path::PathBuf;
use weft_ir::printer::PrintOptions;

/// What `weft opt` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum Emit {
    /// The module in the weft text format.
    #[default]
    Weft,
    /// The dataflow graph of every function as Graphviz DOT.
    Dot,
}

/// Options of `weft opt` (everything but the input file).
#[derive(Debug, Clone, Default, PartialEq, Eq, Args)]
pub struct OptArgs {
    /// The pass pipeline, e.g. 'canonicalize,cse,dce'; options in braces:
    /// 'cse{commutative=false}' (see `weft passes`). Without it: parse,
    /// verify and print.
    #[arg(long, value_name = "PIPELINE", default_value = "", hide_default_value = true)]
    pub passes: String,

    /// Write the output to FILE (atomically; '-' is standard output). A
    /// module with resources also gets FILE's .safetensors sidecar.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// The output format.
    #[arg(long, value_enum, value_name = "FORMAT", default_value_t)]
    pub emit: Emit,

    /// Print the module after every pass (to standard error).
    #[arg(long)]
    pub print_ir_after_all: bool,

    /// Print the module after each run of the pass PASS (repeatable, or
    /// comma-separated).
    #[arg(long, value_name = "PASS", value_delimiter = ',')]
    pub print_ir_after: Vec<String>,

    /// Print the module before each run of the pass PASS (repeatable, or
    /// comma-separated).
    #[arg(long, value_name = "PASS", value_delimiter = ',')]
    pub print_ir_before: Vec<String>,

    /// Report the time each pass took.
    #[arg(long)]
    pub time_passes: bool,

    /// Report the statistics of each pass.
    #[arg(long)]
    pub stats: bool,

    /// Do not verify the module after each pass (the input is always
    /// verified).
    #[arg(long)]
    pub no_verify: bool,

    /// Print every op in the generic form "dialect.op"(...).
    #[arg(long)]
    pub print_generic: bool,

    /// Print the pipeline to run (named pipelines expanded, options that
    /// differ from their defaults) before running it.
    #[arg(long)]
    pub print_pipeline: bool,
}

/// The arguments of a lit `RUN:` line, parsed with the same definitions.
#[derive(Debug, Parser)]
#[command(name = "weft opt", no_binary_name = true, disable_help_flag = true)]
struct RunLineArgs {
    #[command(flatten)]
    args: OptArgs,
}

impl OptArgs {
    /// Parses option words (as on a command line, without the input file);
    /// the error is clap's first message line.
    pub fn from_words<I, S>(words: I) -> Result<OptArgs, String>
    where
        I: IntoIterator<Item = S>,
        S: Into<std::ffi::OsString> + Clone,
    {
        match RunLineArgs::try_parse_from(words) {
            Ok(parsed) => Ok(parsed.args),
            Err(e) => Err(first_line(&e.render().to_string())),
        }
    }

    /// How the module is printed.
    pub fn print_options(&self) -> PrintOptions {
        PrintOptions { generic: self.print_generic }
    }

    /// True when no pass is to run.
    pub fn has_no_passes(&self) -> bool {
        self.passes.trim().is_empty()
    }
}

fn first_line(message: &str) -> String {
    let line = message.lines().find(|l| !l.trim().is_empty()).unwrap_or("invalid arguments");
    line.trim().trim_start_matches("error: ").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_mean_parse_verify_print() {
        let a = OptArgs::from_words(Vec::<String>::new()).unwrap();
        assert_eq!(a, OptArgs::default());
        assert!(a.has_no_passes());
        assert_eq!(a.emit, Emit::Weft);
    }

    #[test]
    fn parses_every_option() {
        let a = OptArgs::from_words([
            "--passes",
            "cse{max-ops=3},dce",
            "-o",
            "out.weft",
            "--emit=dot",
            "--print-ir-after-all",
            "--print-ir-after=cse",
            "--print-ir-after",
            "dce,fold",
            "--print-ir-before=dce",
            "--time-passes",
            "--stats",
            "--no-verify",
            "--print-generic",
            "--print-pipeline",
        ])
        .unwrap();
        assert_eq!(a.passes, "cse{max-ops=3},dce");
        assert_eq!(a.output, Some(PathBuf::from("out.weft")));
        assert_eq!(a.emit, Emit::Dot);
        assert_eq!(a.print_ir_after, ["cse", "dce", "fold"]);
        assert_eq!(a.print_ir_before, ["dce"]);
        assert!(a.print_ir_after_all && a.time_passes && a.stats && a.no_verify && a.print_generic);
        assert!(a.print_options().generic);
        assert!(a.print_pipeline);
    }

    #[test]
    fn unknown_options_are_reported_on_one_line() {
        let e = OptArgs::from_words(["--pases", "cse"]).unwrap_err();
        assert!(e.contains("unexpected argument '--pases'"), "{e}");
        assert!(!e.contains('\n'));
        let e = OptArgs::from_words(["--emit", "llvm"]).unwrap_err();
        assert!(e.contains("invalid value 'llvm'"), "{e}");
    }
}
