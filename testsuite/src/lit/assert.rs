//! Snapshot assertions over lit files: with insta in `cargo test`
//! ([`assert_lit_snapshot`], [`assert_lit_dir`]) and without it for
//! `weft test` ([`check_lit_snapshot`]).
//!
//! Invariant: both write and read the same file, `DIR/snapshots/NAME.snap`
//! for `DIR/NAME.weft` (see [`super::snapshot`]).

use super::snapshot::{collect_lit_files, compare_with_snapshot, read_snapshot, snapshot_name, snapshot_path};
use super::{run_lit_file, FailureKind, LitFailure, LitResult};
use std::path::Path;
use weft_ir::Context;
use weft_passes::PassRegistry;

/// Runs the lit file and asserts its output with insta (a panic describes
/// a failure). The snapshot is `DIR/snapshots/NAME.snap`.
pub fn assert_lit_snapshot(path: &Path, ctx: &Context, registry: &PassRegistry) {
    let result = run_lit_file(path, ctx, registry).unwrap_or_else(|f| panic!("{f}"));
    let snap_dir = snapshot_path(path).parent().map(Path::to_path_buf).unwrap_or_default();
    let snap_dir = std::path::absolute(&snap_dir).unwrap_or(snap_dir);
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path(snap_dir);
    settings.set_prepend_module_to_snapshot(false);
    settings.set_input_file(path);
    settings.set_omit_expression(true);
    settings.bind(|| insta::assert_snapshot!(snapshot_name(path), result.output));
}

/// Asserts the snapshot of every `.weft` file under `root`, and panics at
/// the end with the list of files that failed (each one's failure is
/// reported as it happens).
pub fn assert_lit_dir(root: &Path, ctx: &Context, registry: &PassRegistry) {
    let files = collect_lit_files(root).unwrap_or_else(|e| panic!("{e}"));
    assert!(!files.is_empty(), "no .weft files under {}", root.display());
    let failed: Vec<String> = files
        .iter()
        .filter(|f| std::panic::catch_unwind(|| assert_lit_snapshot(f, ctx, registry)).is_err())
        .map(|f| f.display().to_string())
        .collect();
    assert!(failed.is_empty(), "{} of {} lit files failed:\n  {}", failed.len(), files.len(), failed.join("\n  "));
}

/// Runs the lit file and compares its output with the checked-in snapshot
/// (for `weft test`: no insta, nothing written).
pub fn check_lit_snapshot(path: &Path, ctx: &Context, registry: &PassRegistry) -> Result<LitResult, LitFailure> {
    let result = run_lit_file(path, ctx, registry)?;
    let snap = snapshot_path(path);
    let failure = |kind, message: String| LitFailure { kind, ..LitFailure::file(path, message) };
    if !snap.exists() {
        return Err(failure(FailureKind::MissingSnapshot, format!("no snapshot at {}", snap.display())));
    }
    let expected = read_snapshot(&snap).map_err(|e| failure(FailureKind::Run, e))?;
    compare_with_snapshot(&expected, &result.output).map_err(|e| failure(FailureKind::SnapshotMismatch, e))?;
    Ok(result)
}
