//! `weft explore MODEL --board B --fps 24,30 --weights 1 [--clock MHZ]
//! [--cap 0.8] [--json] [--accuracy-samples N]`: for each target FPS, the
//! highest activation precision (4..16 bits) whose fastest design under the
//! board's budget meets it ([`search`]), with the design's resources and
//! parameters; optionally the model cosine of `weft accuracy` for each
//! bits value tried.
//!
//! The performance model only needs the program's shapes and op kinds, so
//! explore models the float nn program (import, `onnx-to-nn`, `fuse`) at
//! each precision instead of quantizing it: DeiT-base takes seconds.
//!
//! Invariants: bad input (unreadable model, unknown board, dynamic shapes)
//! is a diagnostic and exit code 1; a target no precision meets is reported
//! (`act_bits` null, with the best FPS reachable), not an error.

mod output;
pub mod search;

use crate::import_cmd::{import_file, import_options, parse_input_shape, InputShape};
use crate::quant_opts::run_pipeline;
use search::{Choice, Searcher};
use std::path::{Path, PathBuf};
use weft_backends::boards::{self, Board};
use weft_frontend::import::DEFAULT_INLINE_LIMIT;
use weft_ir::diag::render_all;
use weft_ir::hwcost::latency::{Platform, Workload};
use weft_ir::hwcost::workload::workload;
use weft_ir::hwcost::Resources;
use weft_ir::{Diagnostic, SourceMap, Span};
use weft_passes::transforms::tile_and_pack::Target;

#[derive(Debug, clap::Args)]
pub struct ExploreArgs {
    /// The ONNX model (.onnx or .onnxtxt) or a .weft file in the nn dialect.
    #[arg(value_name = "MODEL")]
    pub input: PathBuf,
    /// The board: a name from `weft boards` or a board file (.toml).
    #[arg(long, value_name = "BOARD", default_value = "zcu102")]
    pub board: String,
    /// Target frame rates, comma-separated.
    #[arg(long, value_name = "FPS", value_delimiter = ',', required = true, value_parser = parse_fps)]
    pub fps: Vec<f64>,
    /// Weight bits: 1 (binary) .. 16.
    #[arg(long, value_name = "BITS", default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=16))]
    pub weights: u64,
    /// The accelerator clock in MHz (default: the board's).
    #[arg(long, value_name = "MHZ", value_parser = parse_positive)]
    pub clock: Option<f64>,
    /// The utilization cap of every resource, in (0, 1].
    #[arg(long, value_name = "FRACTION", default_value_t = 0.8, value_parser = parse_cap)]
    pub cap: f64,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Measure the model cosine (`weft accuracy`, random inputs) of every
    /// bits value tried on N samples; 0 skips it (slow on big models).
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub accuracy_samples: u32,
    /// A static shape for an input of an ONNX model, as for `weft import`.
    #[arg(long = "input-shape", value_name = "NAME=DIMS", value_parser = parse_input_shape)]
    pub input_shapes: Vec<InputShape>,
}

pub fn parse_positive(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 => Ok(v),
        _ => Err(format!("expected a positive number, got '{s}'")),
    }
}

fn parse_fps(s: &str) -> Result<f64, String> {
    parse_positive(s)
}

pub fn parse_cap(s: &str) -> Result<f64, String> {
    match parse_positive(s)? {
        v if v <= 1.0 => Ok(v),
        _ => Err(format!("expected a fraction in (0, 1], got '{s}'")),
    }
}

/// The board side of the model from a board and an optional clock.
pub fn target_of(board: &Board, clock: Option<f64>, cap: f64) -> Target {
    let c = board.capacity;
    Target {
        capacity: Resources::new(c.lut, c.ff, c.dsp, 2 * c.bram),
        platform: Platform { clock_mhz: clock.unwrap_or(board.clock_mhz), memory_gbps: board.memory_gbps },
        cap,
    }
}

/// Runs the command; the exit code.
pub fn run(args: &ExploreArgs) -> u8 {
    let mut sources = SourceMap::new();
    match explore(args, &mut sources) {
        Ok(text) => {
            print!("{text}");
            0
        }
        Err(diags) => {
            eprint!("{}", render_all(&diags, &sources));
            1
        }
    }
}

fn error(message: impl Into<String>) -> Vec<Diagnostic> {
    vec![Diagnostic::error(message, Span::NONE)]
}

/// The workload of the model's float nn program.
pub fn model_workload(
    path: &Path,
    shapes: &[InputShape],
    sources: &mut SourceMap,
) -> Result<Workload, Vec<Diagnostic>> {
    let ctx = crate::context();
    let mut module = import_file(path, &import_options(shapes, DEFAULT_INLINE_LIMIT), &ctx, sources)?;
    // The performance model reads attention as its matmuls and softmax.
    run_pipeline(&mut module, &ctx, "onnx-to-nn,expand-attention")?;
    let func = match module.funcs.iter().find(|f| f.name == "main") {
        Some(f) => f,
        None => module.funcs.first().ok_or_else(|| error("the model has no function"))?,
    };
    let w = workload(func).map_err(|(op, m)| {
        let d = &func.ops[op];
        let hint = " (give static input shapes with --input-shape NAME=DIMS)";
        vec![Diagnostic::error(format!("{m}{hint}"), d.span).with_loc(d.loc.clone())]
    })?;
    if w.layers.is_empty() {
        return Err(error(format!("{} has no matmul, attention or nonlinear layer to map", path.display())));
    }
    Ok(w)
}

fn explore(args: &ExploreArgs, sources: &mut SourceMap) -> Result<String, Vec<Diagnostic>> {
    let board = boards::resolve(&args.board, sources).map_err(|d| vec![d])?;
    let target = target_of(&board, args.clock, args.cap);
    let w = model_workload(&args.input, &args.input_shapes, sources)?;
    let mut searcher = Searcher::new(&w, args.weights, target);
    let choices: Vec<Choice> = args.fps.iter().map(|&f| searcher.choose(f)).collect();
    let accuracy = if args.accuracy_samples > 0 { accuracy(args, &choices, sources)? } else { Vec::new() };
    let ctx = output::Context { board: &board, target, weight_bits: args.weights, accuracy: &accuracy };
    Ok(if args.json { output::json(&ctx, &choices) } else { output::table(&ctx, &choices) })
}

/// The mean model cosine of every bits value tried, via `weft accuracy`.
fn accuracy(
    args: &ExploreArgs,
    choices: &[Choice],
    sources: &mut SourceMap,
) -> Result<Vec<(u64, f64)>, Vec<Diagnostic>> {
    let mut bits: Vec<u64> = choices.iter().flat_map(|c| c.tried.iter().map(|t| t.act_bits)).collect();
    bits.sort_unstable();
    bits.dedup();
    let mut out = Vec::new();
    for b in bits {
        let w = if args.weights == 1 { "1".to_string() } else { args.weights.to_string() };
        let mut argv = vec![
            "accuracy".to_string(),
            args.input.display().to_string(),
            "--quant".into(),
            format!("w{w}a{b}"),
            "--samples".into(),
            args.accuracy_samples.to_string(),
            "--engine".into(),
            "jit".into(),
        ];
        for s in &args.input_shapes {
            let dims: Vec<String> = s.dims.iter().map(u64::to_string).collect();
            argv.push("--input-shape".into());
            argv.push(format!("{}={}", s.name, dims.join("x")));
        }
        let parsed = <AccuracyCli as clap::Parser>::try_parse_from(argv).map_err(|e| error(e.to_string()))?;
        let report = crate::accuracy_cmd::model::measure(&parsed.args, sources)?;
        let cos = report.outputs.first().map_or(f64::NAN, |o| o.cosine_mean());
        out.push((b, cos));
    }
    Ok(out)
}

#[derive(clap::Parser)]
struct AccuracyCli {
    #[command(flatten)]
    args: crate::accuracy_cmd::AccuracyArgs,
}
