//! spec/dialects/onnx.md is generated from the onnx dialect's op
//! declarations; this test fails when the checked-in page is stale.
//! `WEFT_BLESS=1 cargo test -p weft-frontend --test spec_page` rewrites it.

use std::path::PathBuf;
use weft_frontend::dialect::DIALECT;
use weft_ir::ops::doc::dialect_page;

#[test]
fn onnx_dialect_page_is_up_to_date() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../spec/dialects/onnx.md");
    let want = dialect_page(&DIALECT);
    if std::env::var_os("WEFT_BLESS").is_some() {
        std::fs::write(&path, &want).expect("write spec/dialects/onnx.md");
        return;
    }
    let have = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        have == want,
        "spec/dialects/onnx.md is stale: regenerate it with WEFT_BLESS=1 cargo test -p weft-frontend --test spec_page"
    );
}
