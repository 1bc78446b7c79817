//! Runs every lit file under testsuite/lit/ and compares its output with
//! its insta snapshot (`DIR/snapshots/NAME.snap` beside `DIR/NAME.weft`).
//! Update with `INSTA_UPDATE=always cargo test -p weft-testsuite` or
//! `cargo insta review`, and read every new snapshot before accepting it.

use std::path::Path;
use weft_passes::PassRegistry;
use weft_testsuite::lit::assert_lit_dir;
use weft_testsuite::test_dialect::test_context;

#[test]
fn lit_files_match_their_snapshots() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("lit");
    assert_lit_dir(&root, &test_context(), &PassRegistry::with_builtin_passes());
}
