//! The pass reference, spec/passes.md, generated from a [`PassRegistry`]:
//! the pipeline syntax, the named pipelines, then a section per pass with
//! its summary, description, options and statistics.
//!
//! Invariants: the output depends only on the registry (sorted by name), so
//! the committed spec/passes.md is checked against it by a test; regenerate
//! with `WEFT_BLESS=1 cargo test -p weft-passes reference`.

use crate::registry::{PassInfo, PassRegistry};
use std::fmt::Write;

const PRELUDE: &str = "# Passes

<!-- Generated from the pass registry (passes/src/reference.rs); do not edit.
     Regenerate with `WEFT_BLESS=1 cargo test -p weft-passes reference`. -->

A pipeline is text: pass names separated by `,`, each optionally followed by
options in braces, e.g. `canonicalize{max-iterations=4},cse,dce`. Options are
`name=value`, separated by `,` or whitespace; a value is bare (brackets nest,
so `dims=[1,2]` is one value) or a string in double quotes with `\\\"` and
`\\\\` escapes. Whitespace between tokens is ignored. A named pipeline stands
for its expansion and takes no options.

The pass manager runs the passes in order and, unless told otherwise,
verifies the module before the first pass and after every pass: an error is
reported as `after pass 'NAME': ...`, and a pass's own failure as
`pass 'NAME' failed: ...`. `--print-ir-before=NAME`, `--print-ir-after=NAME`
and `--print-ir-after-all` print the module as
`// -----// IR Dump After NAME //----- //` followed by the IR;
`--time-passes` prints wall time per pass (`  0.0012s ( 12.3%)  NAME`) and
`--stats` prints each pass's statistics (`  NAME: VALUE  (meaning)`).
";

/// The whole of spec/passes.md.
pub fn passes_markdown(registry: &PassRegistry) -> String {
    let mut out = String::from(PRELUDE);
    write_pipelines(&mut out, registry);
    for pass in registry.passes() {
        write_pass(&mut out, pass);
    }
    out
}

fn write_pipelines(out: &mut String, registry: &PassRegistry) {
    let pipelines = registry.pipelines();
    if pipelines.is_empty() {
        return;
    }
    out.push_str("\n## Named pipelines\n\n| name | runs | summary |\n|---|---|---|\n");
    for p in pipelines {
        let _ = writeln!(out, "| `{}` | `{}` | {} |", p.name, p.text, p.summary);
    }
}

fn write_pass(out: &mut String, pass: &PassInfo) {
    let _ = write!(out, "\n## `{}`\n\n{}.\n", pass.name, pass.summary);
    if !pass.description.is_empty() {
        let _ = write!(out, "\n{}\n", pass.description);
    }
    if !pass.options.is_empty() {
        out.push_str("\n| option | type | default | meaning |\n|---|---|---|---|\n");
        for o in pass.options {
            let _ = writeln!(out, "| `{}` | {} | `{}` | {} |", o.name, o.kind, o.default, o.doc);
        }
    }
    if !pass.statistics.is_empty() {
        out.push_str("\n| statistic | counts |\n|---|---|\n");
        for s in pass.statistics {
            let _ = writeln!(out, "| `{}` | {} |", s.name, s.doc);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn spec_passes_md_is_up_to_date() {
        let generated = passes_markdown(&PassRegistry::with_builtin_passes());
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../spec/passes.md");
        if std::env::var_os("WEFT_BLESS").is_some() {
            std::fs::write(&path, &generated).unwrap();
            return;
        }
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            committed == generated,
            "spec/passes.md is out of date; regenerate with `WEFT_BLESS=1 cargo test -p weft-passes reference`"
        );
    }

    #[test]
    fn every_builtin_pass_has_a_section_with_its_options() {
        let r = PassRegistry::with_builtin_passes();
        let md = passes_markdown(&r);
        for (name, _, options) in r.list() {
            assert!(md.contains(&format!("\n## `{name}`\n")), "{name}");
            for o in options {
                assert!(md.contains(&format!("| `{}` |", o.name)), "{name} {}", o.name);
            }
        }
        assert!(md.contains("| `default` | `canonicalize,cse,dce` |"));
    }
}
