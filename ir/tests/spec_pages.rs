//! The dialect pages in spec/dialects/ are generated from the op
//! declarations; this test fails when a checked-in page is stale.
//! `WEFT_BLESS=1 cargo test -p weft-ir --test spec_pages` rewrites them.

use std::path::PathBuf;
use weft_ir::ops::{doc::dialect_page, Context};

#[test]
fn dialect_pages_are_up_to_date() {
    let spec = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../spec/dialects");
    let bless = std::env::var_os("WEFT_BLESS").is_some();
    let mut stale = Vec::new();
    for d in Context::default().dialects() {
        let path = spec.join(format!("{}.md", d.name));
        let want = dialect_page(d);
        if bless {
            std::fs::write(&path, &want).expect("write spec page");
            continue;
        }
        let have = std::fs::read_to_string(&path).unwrap_or_default();
        if have != want {
            stale.push(path.display().to_string());
        }
    }
    assert!(
        stale.is_empty(),
        "stale spec pages (regenerate with WEFT_BLESS=1 cargo test -p weft-ir --test spec_pages): {stale:?}"
    );
}
