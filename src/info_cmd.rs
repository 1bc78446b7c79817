//! `weft info MODEL`: what an ONNX model holds (versions, opsets, inputs
//! and outputs with their shapes, op histogram, parameters) and which of
//! its ops weft cannot import, with the nodes that use them. Reads no
//! tensor data, so it is quick on large models.

use crate::import_cmd::read_onnx;
use std::io::Write;
use std::path::PathBuf;
use weft_frontend::import::summary::summarize;
use weft_ir::diag::render_all;
use weft_ir::SourceMap;

#[derive(Debug, clap::Args)]
pub struct InfoArgs {
    /// The ONNX model: .onnx (protobuf) or .onnxtxt (ONNX text syntax).
    #[arg(value_name = "MODEL")]
    pub input: PathBuf,
}

/// Runs the command; the exit code (0 even when some ops are
/// unsupported: listing them is the point).
pub fn run(args: &InfoArgs) -> u8 {
    let mut sources = SourceMap::new();
    let model = match read_onnx(&args.input, &mut sources) {
        Ok(m) => m,
        Err(diags) => {
            eprint!("{}", render_all(&diags, &sources));
            return 1;
        }
    };
    let summary = summarize(&model, &crate::context());
    let mut out = std::io::stdout().lock();
    match write!(out, "{summary}").and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            eprintln!("error: cannot write standard output: {e}");
            1
        }
        _ => 0,
    }
}
