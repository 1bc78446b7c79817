//! `weft test PATH...`: runs lit files (directories recursively) and
//! compares each output with its checked-in snapshot; one line per failing
//! file, then `N passed, N failed`.

use std::io::Write;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use weft_ir::Context;
use weft_passes::PassRegistry;
use weft_testsuite::lit::snapshot::{collect_lit_files, UPDATE_HINT};
use weft_testsuite::lit::{check_lit_snapshot, FailureKind, LitFailure};
use weft_testsuite::test_dialect::test_context;

/// Runs the command; the exit code (1 when anything failed).
pub fn run(paths: &[PathBuf]) -> u8 {
    let ctx = test_context();
    let registry = PassRegistry::with_builtin_passes();
    let mut out = std::io::stdout().lock();
    let (mut passed, mut failed, mut snapshot_failures) = (0usize, 0usize, 0usize);
    for path in paths {
        let files = match collect_lit_files(path) {
            Ok(files) if files.is_empty() => Err(format!("no .weft files under {}", path.display())),
            other => other,
        };
        let files = match files {
            Ok(files) => files,
            Err(e) => {
                let _ = writeln!(out, "FAIL {e}");
                failed += 1;
                continue;
            }
        };
        for file in files {
            match check_file(&file, &ctx, &registry) {
                Ok(()) => passed += 1,
                Err(f) => {
                    let _ = writeln!(out, "FAIL {}", f.to_string().replace('\n', "; "));
                    failed += 1;
                    snapshot_failures += usize::from(f.kind != FailureKind::Run);
                }
            }
        }
    }
    if snapshot_failures > 0 {
        let _ = writeln!(out, "to update snapshots: {UPDATE_HINT}");
    }
    let _ = writeln!(out, "{passed} passed, {failed} failed");
    u8::from(failed > 0)
}

/// Checks one file; a panic in the compiler is reported as this file's
/// failure.
fn check_file(file: &Path, ctx: &Context, registry: &PassRegistry) -> Result<(), LitFailure> {
    let result = catch_unwind(AssertUnwindSafe(|| check_lit_snapshot(file, ctx, registry)));
    match result {
        Ok(r) => r.map(|_| ()),
        Err(panic) => {
            let what = panic
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| panic.downcast_ref::<&str>().copied())
                .unwrap_or("unknown panic");
            Err(LitFailure::file(file, format!("internal error (panic): {what}")))
        }
    }
}
