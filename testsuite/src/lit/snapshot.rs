//! Checked-in snapshots of lit files: where they live, how their text is
//! read back from insta's `.snap` format, and how outputs are compared.
//!
//! Layout (see testsuite/README.md): the snapshot of `DIR/NAME.weft` is
//! `DIR/snapshots/NAME.snap`, written by insta (`assert_lit_snapshot`) and
//! read here by `weft test`.
//!
//! Invariant: comparison follows insta's normalization (trailing whitespace
//! at the end of the text is ignored, CRLF equals LF), so a snapshot that
//! insta accepts is one `weft test` accepts.

use std::path::{Path, PathBuf};

/// The directory, next to the lit files, that holds their snapshots.
pub const SNAPSHOT_DIR: &str = "snapshots";

/// How to regenerate snapshots, for failure messages.
pub const UPDATE_HINT: &str =
    "run `INSTA_UPDATE=always cargo test -p weft-testsuite` (or `cargo insta review`) and read the new snapshot";

/// `DIR/snapshots/NAME.snap` for `DIR/NAME.weft`.
pub fn snapshot_path(lit_file: &Path) -> PathBuf {
    let dir = lit_file.parent().unwrap_or_else(|| Path::new(""));
    dir.join(SNAPSHOT_DIR).join(format!("{}.snap", snapshot_name(lit_file)))
}

/// The snapshot's name: the lit file's name without its extension.
pub fn snapshot_name(lit_file: &Path) -> String {
    lit_file.file_stem().map_or_else(|| "unnamed".to_string(), |s| s.to_string_lossy().into_owned())
}

/// The snapshotted text of a `.snap` file: everything after the second
/// `---` line (the first two enclose insta's metadata).
pub fn parse_snap(contents: &str) -> Result<String, String> {
    let mut lines = contents.split_inclusive('\n');
    let mut offset = 0;
    let mut separators = 0;
    for line in lines.by_ref() {
        offset += line.len();
        if line.trim_end() == "---" {
            separators += 1;
            if separators == 2 {
                return Ok(contents[offset..].to_string());
            }
        } else if separators == 0 {
            return Err("not an insta snapshot: it does not start with a `---` line".to_string());
        }
    }
    Err("not an insta snapshot: the metadata has no closing `---` line".to_string())
}

/// Reads the snapshotted text of `snap`.
pub fn read_snapshot(snap: &Path) -> Result<String, String> {
    let contents = std::fs::read_to_string(snap).map_err(|e| format!("cannot read {}: {e}", snap.display()))?;
    parse_snap(&contents).map_err(|e| format!("{}: {e}", snap.display()))
}

/// Insta's normalization: CRLF to LF, trailing whitespace at the end cut.
pub fn normalize(text: &str) -> String {
    text.trim_end().replace("\r\n", "\n")
}

/// Compares an output with a snapshot; the error names the first line that
/// differs and shows both versions of it.
pub fn compare_with_snapshot(expected: &str, actual: &str) -> Result<(), String> {
    let (expected, actual) = (normalize(expected), normalize(actual));
    if expected == actual {
        return Ok(());
    }
    let mut e_lines = expected.lines();
    let mut a_lines = actual.lines();
    let mut n = 1;
    loop {
        match (e_lines.next(), a_lines.next()) {
            (Some(e), Some(a)) if e == a => n += 1,
            (e, a) => {
                let show = |l: Option<&str>| l.map_or_else(|| "<end of output>".to_string(), |l| format!("`{l}`"));
                return Err(format!("output line {n} differs: snapshot has {}, output has {}", show(e), show(a)));
            }
        }
    }
}

/// Every `.weft` file under `path` (the file itself, or a directory
/// searched recursively), sorted by path.
pub fn collect_lit_files(path: &Path) -> Result<Vec<PathBuf>, String> {
    let meta = std::fs::metadata(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    if meta.is_file() {
        return Ok(vec![path.to_path_buf()]);
    }
    let mut out = Vec::new();
    collect_dir(path, &mut out)?;
    out.sort();
    Ok(out)
}

fn collect_dir(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), String> {
    let entries = std::fs::read_dir(dir).map_err(|e| format!("cannot read directory {}: {e}", dir.display()))?;
    for entry in entries {
        let entry = entry.map_err(|e| format!("cannot read directory {}: {e}", dir.display()))?;
        let path = entry.path();
        let file_type = entry.file_type().map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        if file_type.is_dir() {
            collect_dir(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "weft") {
            out.push(path);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshot_sits_in_a_snapshots_directory_beside_the_file() {
        let p = snapshot_path(Path::new("testsuite/lit/passes/cse/basic.weft"));
        assert_eq!(p, Path::new("testsuite/lit/passes/cse/snapshots/basic.snap"));
    }

    #[test]
    fn reads_the_text_after_the_metadata() {
        let snap = "---\nsource: testsuite/tests/lit.rs\ninput_file: a.weft\n---\nmodule {\n---\n}\n";
        assert_eq!(parse_snap(snap).unwrap(), "module {\n---\n}\n");
        assert_eq!(parse_snap("---\r\nx: 1\r\n---\r\nbody").unwrap(), "body");
    }

    #[test]
    fn rejects_files_that_are_not_snapshots() {
        assert!(parse_snap("module {}\n").unwrap_err().contains("does not start"));
        assert!(parse_snap("---\nsource: x\n").unwrap_err().contains("no closing"));
    }

    #[test]
    fn comparison_ignores_trailing_whitespace_and_crlf() {
        assert_eq!(compare_with_snapshot("a\r\nb\n\n", "a\nb"), Ok(()));
    }

    #[test]
    fn comparison_names_the_first_differing_line() {
        let e = compare_with_snapshot("a\nb\nc", "a\nx\nc").unwrap_err();
        assert_eq!(e, "output line 2 differs: snapshot has `b`, output has `x`");
        let e = compare_with_snapshot("a", "a\nmore").unwrap_err();
        assert_eq!(e, "output line 2 differs: snapshot has <end of output>, output has `more`");
    }

    #[test]
    fn collects_weft_files_recursively_in_order() {
        let root = std::env::temp_dir().join(format!("weft-collect-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(root.join("b/snapshots")).unwrap();
        std::fs::create_dir_all(root.join("a")).unwrap();
        for f in ["b/z.weft", "a/y.weft", "a/notes.md", "b/snapshots/z.snap", "top.weft"] {
            std::fs::write(root.join(f), "").unwrap();
        }
        let got = collect_lit_files(&root).unwrap();
        let _ = std::fs::remove_dir_all(&root);
        let rel: Vec<_> = got.iter().map(|p| p.strip_prefix(&root).unwrap().to_path_buf()).collect();
        assert_eq!(rel, [Path::new("a/y.weft"), Path::new("b/z.weft"), Path::new("top.weft")]);
        assert!(collect_lit_files(&root).unwrap_err().contains("cannot read"));
    }
}
