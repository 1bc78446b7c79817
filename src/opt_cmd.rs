//! `weft opt FILE|- [options]`: reads the input (bytes, so non-UTF-8 input
//! gets a located diagnostic), runs [`weft_testsuite::opt::run_opt`], and
//! writes the output to standard output or atomically to `-o FILE` (with
//! the module's resources in FILE's `.safetensors` sidecar).

use crate::output::{commit, stage_bytes, stage_resources};
use std::io::{Read, Write};
use std::path::Path;
use weft_ir::parser::load_source;
use weft_ir::SourceMap;
use weft_passes::PassRegistry;
use weft_testsuite::opt::{check_pipeline, run_opt, Emit, OptArgs, OptOutcome, STDIN_NAME};

/// Runs the command; the exit code.
pub fn run(input: &str, args: &OptArgs) -> u8 {
    if let Err(e) = check_pipeline(args, &PassRegistry::with_builtin_passes()) {
        eprintln!("error: {e}");
        return 2;
    }
    let bytes = match read_input(input) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("error: {e}");
            return 1;
        }
    };
    let mut sources = SourceMap::new();
    let name = if input == "-" { STDIN_NAME } else { input };
    let file = match load_source(&mut sources, name, bytes) {
        Ok(f) => f,
        Err(d) => {
            eprint!("{}", d.render(&sources));
            return 1;
        }
    };
    let outcome = run_opt(args, &crate::context(), &mut sources, file);
    report(&outcome, &sources);
    if outcome.exit_code() != 0 {
        return outcome.exit_code();
    }
    match write_output(args, &outcome) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("error: {e}");
            1
        }
    }
}

fn read_input(input: &str) -> Result<Vec<u8>, String> {
    if input == "-" {
        let mut bytes = Vec::new();
        std::io::stdin().read_to_end(&mut bytes).map_err(|e| format!("cannot read standard input: {e}"))?;
        return Ok(bytes);
    }
    std::fs::read(input).map_err(|e| format!("cannot read '{input}': {e}"))
}

/// Writes the log, the diagnostics and any usage error to standard error.
fn report(outcome: &OptOutcome, sources: &SourceMap) {
    let mut err = std::io::stderr().lock();
    let _ = err.write_all(outcome.log.as_bytes());
    for d in &outcome.diagnostics {
        let _ = err.write_all(d.render(sources).as_bytes());
    }
    if let Some(e) = &outcome.usage_error {
        let _ = writeln!(err, "error: {e}");
    }
}

fn write_output(args: &OptArgs, outcome: &OptOutcome) -> Result<(), String> {
    match args.output.as_deref() {
        None => write_stdout(&outcome.output),
        Some(p) if p == Path::new("-") => write_stdout(&outcome.output),
        Some(path) => {
            let mut staged = vec![stage_bytes(path, outcome.output.as_bytes())?];
            if let (Emit::Weft, Some(module)) = (args.emit, &outcome.module) {
                staged.extend(stage_resources(path, &module.resources)?);
            }
            commit(staged)
        }
    }
}

fn write_stdout(text: &str) -> Result<(), String> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(format!("cannot write standard output: {e}")),
    }
}
