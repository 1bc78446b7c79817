//! Fuzzes the ONNX text parser: any text must give a model or located
//! diagnostics (spans inside the text, on char boundaries), never a panic;
//! a parsed model must encode to protobuf.
#![no_main]

use libfuzzer_sys::fuzz_target;
use prost::Message;
use weft_frontend::onnx::text::parse_onnx_text_str;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (sources, result) = parse_onnx_text_str("fuzz.onnxtxt", text);
    match result {
        Ok(model) => {
            let _ = model.encode_to_vec();
        }
        Err(diags) => {
            assert!(!diags.is_empty(), "an error without a diagnostic");
            for d in &diags {
                let (start, end) = (d.span.start as usize, d.span.end as usize);
                assert!(start <= end && end <= text.len(), "span {start}..{end} outside the text: {}", d.message);
                assert!(text.is_char_boundary(start) && text.is_char_boundary(end), "span not on char boundaries");
                let _ = d.render(&sources);
            }
        }
    }
});
