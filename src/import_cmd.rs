//! `weft import MODEL [--input-shape NAME=DIMS ...] [-o OUT.weft]`: reads
//! an ONNX model (`.onnx` protobuf or `.onnxtxt` text), imports it into
//! the `onnx` dialect, and writes the module's text (to standard output,
//! or atomically to OUT.weft with its resources in OUT.safetensors).
//!
//! Also the model loading shared with `weft run` and `weft info`: the
//! format by extension, `--input-shape` parsing, reading and importing.
//!
//! Invariants: an error leaves no output file (both files are staged and
//! renamed together); diagnostics are rendered against the sources they
//! point into.

use crate::output::{commit, stage_bytes, stage_resources};
use std::io::Write;
use std::path::{Path, PathBuf};
use weft_frontend::import::{import_model, ImportOptions, DEFAULT_INLINE_LIMIT};
use weft_frontend::onnx::{load_model, OnnxModel};
use weft_ir::diag::render_all;
use weft_ir::printer::print_module;
use weft_ir::{Context, Diagnostic, Module, SourceMap, Span};

/// `--input-shape NAME=DIMS`: `input_ids=1x128`; an empty DIMS is a
/// scalar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputShape {
    pub name: String,
    pub dims: Vec<u64>,
}

/// Parses `NAME=DIMS` (for clap).
pub fn parse_input_shape(s: &str) -> Result<InputShape, String> {
    let (name, dims) = s.rsplit_once('=').ok_or("expected NAME=DIMS, e.g. input_ids=1x128")?;
    if name.is_empty() {
        return Err("the input name is empty (expected NAME=DIMS)".to_string());
    }
    let dims = if dims.is_empty() {
        Vec::new()
    } else {
        dims.split('x')
            .map(|d| d.parse::<u64>().map_err(|_| format!("'{d}' is not a dimension (expected e.g. 1x128)")))
            .collect::<Result<_, _>>()?
    };
    Ok(InputShape { name: name.to_string(), dims })
}

#[derive(Debug, clap::Args)]
pub struct ImportArgs {
    /// The ONNX model: .onnx (protobuf) or .onnxtxt (ONNX text syntax).
    #[arg(value_name = "MODEL")]
    pub input: PathBuf,
    /// A static shape for an input, e.g. input_ids=1x128; the symbolic
    /// dims it binds are replaced everywhere. Repeatable.
    #[arg(long = "input-shape", value_name = "NAME=DIMS", value_parser = parse_input_shape)]
    pub input_shapes: Vec<InputShape>,
    /// Tensors with at most this many elements are written inline
    /// (dense<..>), larger ones as resources in the .safetensors file.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_INLINE_LIMIT)]
    pub inline_limit: u64,
    /// The output .weft file; resources go to the .safetensors file beside
    /// it. Without it the module is printed to standard output.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

/// The kinds of model file the driver reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModelFormat {
    Onnx,
    OnnxText,
    Weft,
}

/// The format of `path`, by its extension.
pub fn format_of(path: &Path) -> Result<ModelFormat, String> {
    match path.extension().and_then(|e| e.to_str()) {
        Some("onnx") => Ok(ModelFormat::Onnx),
        Some("onnxtxt") => Ok(ModelFormat::OnnxText),
        Some("weft") => Ok(ModelFormat::Weft),
        _ => Err(format!("cannot tell the format of '{}': expected a .onnx, .onnxtxt or .weft file", path.display())),
    }
}

/// Reads an ONNX model, protobuf or text (text diagnostics point into
/// `sources`).
pub fn read_onnx(path: &Path, sources: &mut SourceMap) -> Result<OnnxModel, Vec<Diagnostic>> {
    match format_of(path).map_err(|e| vec![Diagnostic::error(e, Span::NONE)])? {
        ModelFormat::Onnx | ModelFormat::OnnxText => load_model(sources, path),
        ModelFormat::Weft => Err(vec![Diagnostic::error(
            format!("'{}' is a weft module, not an ONNX model", path.display()),
            Span::NONE,
        )]),
    }
}

/// Reads and imports an ONNX model.
pub fn import_file(
    path: &Path,
    opts: &ImportOptions,
    ctx: &Context,
    sources: &mut SourceMap,
) -> Result<Module, Vec<Diagnostic>> {
    let model = read_onnx(path, sources)?;
    import_model(&model, ctx, opts)
}

/// The importer's options from the command line.
pub fn import_options(shapes: &[InputShape], inline_limit: u64) -> ImportOptions {
    ImportOptions { input_shapes: shapes.iter().map(|s| (s.name.clone(), s.dims.clone())).collect(), inline_limit }
}

/// Runs the command; the exit code.
pub fn run(args: &ImportArgs) -> u8 {
    let ctx = crate::context();
    let mut sources = SourceMap::new();
    let opts = import_options(&args.input_shapes, args.inline_limit);
    let module = match import_file(&args.input, &opts, &ctx, &mut sources) {
        Ok(m) => m,
        Err(diags) => {
            eprint!("{}", render_all(&diags, &sources));
            return 1;
        }
    };
    match write_module(&module, args.output.as_deref()) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("error: {e}");
            1
        }
    }
}

fn write_module(module: &Module, output: Option<&Path>) -> Result<(), String> {
    let text = print_module(module);
    let Some(path) = output.filter(|p| *p != Path::new("-")) else {
        if !module.resources.is_empty() {
            eprintln!(
                "warning: {} large constants are resources, which standard output cannot hold; \
                 give -o FILE.weft to write them to FILE.safetensors",
                module.resources.len()
            );
        }
        let mut out = std::io::stdout().lock();
        return match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
            Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(format!("cannot write standard output: {e}")),
            _ => Ok(()),
        };
    };
    let mut staged = vec![stage_bytes(path, text.as_bytes())?];
    staged.extend(stage_resources(path, &module.resources)?);
    commit(staged)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn input_shapes_parse() {
        let s = parse_input_shape("input_ids=1x128").unwrap();
        assert_eq!(s, InputShape { name: "input_ids".into(), dims: vec![1, 128] });
        assert_eq!(parse_input_shape("a=b=4").unwrap(), InputShape { name: "a=b".into(), dims: vec![4] });
        assert_eq!(parse_input_shape("scalar=").unwrap().dims, Vec::<u64>::new());
        assert!(parse_input_shape("x").unwrap_err().starts_with("expected NAME=DIMS"));
        assert!(parse_input_shape("x=1xa").unwrap_err().contains("'a' is not a dimension"));
        assert!(parse_input_shape("=1").is_err());
    }

    #[test]
    fn formats_by_extension() {
        assert_eq!(format_of(Path::new("m.onnx")), Ok(ModelFormat::Onnx));
        assert_eq!(format_of(Path::new("dir/m.onnxtxt")), Ok(ModelFormat::OnnxText));
        assert_eq!(format_of(Path::new("m.weft")), Ok(ModelFormat::Weft));
        assert!(format_of(Path::new("m.txt")).unwrap_err().contains("expected a .onnx, .onnxtxt or .weft file"));
    }
}
