//! `weft passes`: every registered pass with its summary, options and
//! statistics, then the named pipelines.

use std::fmt::Write as _;
use std::io::Write as _;
use weft_passes::registry::PassInfo;
use weft_passes::PassRegistry;

/// Runs the command; the exit code.
pub fn run() -> u8 {
    let text = listing(&PassRegistry::with_builtin_passes());
    match std::io::stdout().lock().write_all(text.as_bytes()) {
        Ok(()) => 0,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => 0,
        Err(e) => {
            eprintln!("error: cannot write standard output: {e}");
            1
        }
    }
}

/// The listing of every pass and named pipeline of `registry`.
pub fn listing(registry: &PassRegistry) -> String {
    let mut out = String::from("Passes:\n");
    for info in registry.passes() {
        write_pass(&mut out, info);
    }
    let pipelines = registry.pipelines();
    if !pipelines.is_empty() {
        out.push_str("\nNamed pipelines:\n");
        for p in pipelines {
            let _ = writeln!(out, "  {:<14} {}\n  {:<14} = {}", p.name, p.summary, "", p.text);
        }
    }
    out.push_str("\nUse: weft opt FILE --passes 'NAME{option=value},NAME'\n");
    out
}

fn write_pass(out: &mut String, info: &PassInfo) {
    let _ = writeln!(out, "  {:<14} {}", info.name, info.summary);
    for o in info.options {
        let _ = writeln!(out, "      {}={} (default {}): {}", o.name, o.kind, o.default, o.doc);
    }
    for s in info.statistics {
        let _ = writeln!(out, "      statistic {}: {}", s.name, s.doc);
    }
}

#[cfg(test)]
mod tests {
    use super::listing;
    use weft_passes::PassRegistry;

    #[test]
    fn lists_passes_options_statistics_and_pipelines() {
        let text = listing(&PassRegistry::with_builtin_passes());
        assert!(text.starts_with("Passes:\n  canonicalize "), "{text}");
        assert!(text.contains("      commutative=bool (default true): "), "{text}");
        assert!(text.contains("      statistic merged-ops: "), "{text}");
        assert!(text.contains("Named pipelines:\n  default "), "{text}");
        assert!(text.contains("= canonicalize,cse,dce"), "{text}");
    }
}
