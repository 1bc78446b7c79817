//! `weft compile MODEL --quant SCHEME --inputs DIR [--nonlinear METHOD]
//! [--board NAME] [--calibrate DIR] -o DIR`: quantizes an ONNX model,
//! lowers its nonlinear ops to integer units and writes a Vitis HLS project
//! (spec/hls.md) whose testbench checks the C simulation against golden
//! outputs computed by weft's JIT on the `--inputs` sample.
//!
//! Pipeline: import (input shapes from the golden inputs), `onnx-to-nn`
//! (which fuses), then `quantize_module` (src/quant_opts.rs: prepare-quant,
//! quantize, dce, lower-nonlinear with `--nonlinear`'s methods, dce),
//! `canonicalize,cse,dce`; then the golden run ([`golden_outputs`]) and the
//! HLS backend.
//!
//! Invariants: bad input (an unreadable model, an op no engine executes, an
//! unknown board) is a diagnostic with exit code 1 and leaves no output
//! directory; usage errors exit with 2; the project directory appears
//! complete or not at all.

mod report;

use crate::import_cmd::{import_file, import_options, InputShape};
use crate::quant_opts::{lower_nonlinear, parse_nonlinear, parse_quant, quantize_module, run_pipeline, Calibrator};
use std::path::PathBuf;
use std::time::{Duration, Instant};
use weft_backends::boards;
use weft_backends::hls::{self, HlsOptions};
use weft_frontend::import::DEFAULT_INLINE_LIMIT;
use weft_ir::diag::render_all;
use weft_ir::interp::input_names;
use weft_ir::{Context, Diagnostic, Function, Module, SourceMap, Span, Tensor};

#[derive(Debug, clap::Args)]
pub struct CompileArgs {
    /// The ONNX model (.onnx or .onnxtxt).
    #[arg(value_name = "MODEL")]
    pub input: PathBuf,
    /// The quantization: wXaY (e.g. w8a8, w1a8, w4a4) or a TOML file (spec/quant.md).
    /// Without it, --fps and --weights choose the activation bits.
    #[arg(long, value_name = "SCHEME", required_unless_present = "fps", conflicts_with = "fps")]
    pub quant: Option<String>,
    /// A target frame rate: the highest activation bits (4..16) whose best
    /// design meets it (spec/perf.md) are chosen; needs --weights.
    #[arg(long, value_name = "FPS", requires = "weights", value_parser = crate::explore_cmd::parse_positive)]
    pub fps: Option<f64>,
    /// Weight bits with --fps: 1 (binary) .. 16.
    #[arg(long, value_name = "BITS", value_parser = clap::value_parser!(u64).range(1..=16))]
    pub weights: Option<u64>,
    /// The accelerator clock in MHz (default: the board's).
    #[arg(long, value_name = "MHZ", value_parser = crate::explore_cmd::parse_positive)]
    pub clock: Option<f64>,
    /// The utilization cap of every resource for tile-and-pack, in (0, 1].
    #[arg(long, value_name = "FRACTION", default_value_t = 0.8, value_parser = crate::explore_cmd::parse_cap)]
    pub cap: f64,
    /// Golden inputs: a directory with one NAME.npy per input (or of such
    /// directories; the first is used). They fix the input shapes, and the
    /// testbench checks the C simulation on them.
    #[arg(long, value_name = "DIR")]
    pub inputs: PathBuf,
    /// The integer method of the nonlinear ops: quark, ibert, lut, or a
    /// per-op list such as 'ibert,softmax=lut' (as for `weft run`).
    #[arg(long, value_name = "METHOD", default_value = "quark")]
    pub nonlinear: String,
    /// The board: a name from `weft boards` or a board file (.toml); its
    /// FPGA part and clock go into run_hls.tcl.
    #[arg(long, value_name = "BOARD", default_value = "zcu102")]
    pub board: String,
    /// Calibration samples for the quantization (default: random ones, with a warning).
    #[arg(long, value_name = "DIR")]
    pub calibrate: Option<PathBuf>,
    /// The project directory to create (must not exist, unless --force).
    #[arg(short, long, value_name = "DIR")]
    pub output: PathBuf,
    /// Print the wall time of each phase (import, quantize, ...) to standard error.
    #[arg(long)]
    pub time_passes: bool,
    /// Replace the output directory if it holds a project weft wrote
    /// (the new one is written beside it and swapped in at the end).
    #[arg(long)]
    pub force: bool,
}

/// Runs the command; the exit code.
pub fn run(args: &CompileArgs) -> u8 {
    let mut sources = SourceMap::new();
    match compile(args, &mut sources) {
        Ok(summary) => {
            eprint!("{summary}");
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

fn compile(args: &CompileArgs, sources: &mut SourceMap) -> Result<String, Vec<Diagnostic>> {
    if args.output.exists() && !args.force {
        return Err(error(format!(
            "'{}' already exists; give a new output directory, or --force to replace a project weft wrote",
            args.output.display()
        )));
    }
    let mut phases = Phases::new();
    let board = boards::resolve(&args.board, sources).map_err(|d| vec![d])?;
    let target = crate::explore_cmd::target_of(&board, args.clock, args.cap);
    let golden_inputs = crate::samples::first_sample(&args.inputs).map_err(|e| error(format!("--inputs: {e}")))?;
    let (scheme, fps_by_bits) = report::scheme(args, target, &golden_inputs, sources)?;
    phases.end(if args.fps.is_some() { "search of activation bits (--fps)" } else { "read board and inputs" });
    let mut spec = parse_quant(&scheme).map_err(|d| vec![d])?;
    spec.nonlinear = parse_nonlinear(&args.nonlinear).map_err(|d| vec![d])?;
    if spec.nonlinear.lower.is_none() {
        return Err(error("--nonlinear float: the HLS backend needs integer nonlinear ops (quark, ibert, lut)"));
    }
    let ctx = crate::context();
    let tile = report::tile_and_pack_text(target);
    let mut module = build_program(args, &ctx, sources, &golden_inputs, spec.clone(), &tile, &mut phases)?;
    let main = main_index(&module)?;
    let engines = report::take_engines(&mut module.funcs[main]);
    let tiling = report::tiling(&engines);
    let inputs = ordered_inputs(&module.funcs[main], golden_inputs)?;
    let outputs = golden_outputs(&module, &module.funcs[main], inputs.clone())?;
    phases.end("golden outputs (JIT)");
    let name = args.output.file_name().map_or_else(|| "weft_project".into(), |n| n.to_string_lossy().into_owned());
    let opts = HlsOptions {
        name,
        board: board.name.clone(),
        part: board.part.clone(),
        clock_ns: 1000.0 / board.clock_mhz,
        tiling,
        description: format!("--quant {} --nonlinear {}", spec.text, spec.nonlinear.text),
    };
    module.name.get_or_insert_with(|| "main".into());
    let mut project = hls::generate(&module, &module.funcs[main], &hls::Golden { inputs, outputs }, &opts)?;
    phases.end("HLS C++ and packed weights");
    let rep = report::build(&board, target.platform.clock_mhz, &engines, fps_by_bits);
    project.files.push(("report.txt".into(), weft_backends::report::text(&rep).into_bytes()));
    project.files.push(("report.json".into(), weft_backends::report::json(&rep).into_bytes()));
    project.files.push(("report.html".into(), weft_backends::report::html(&rep).into_bytes()));
    project.summary.push('\n');
    project.summary.push_str(&weft_backends::report::text(&rep));
    project.summary.push_str("(report.txt, report.json, report.html; `make csim` runs the C simulation)\n");
    hls::write_project(&args.output, &project, args.force).map_err(error)?;
    phases.end("reports and write");
    let timing = if args.time_passes { phases.table() } else { String::new() };
    Ok(format!("wrote {}\n{}{timing}", args.output.display(), project.summary))
}

/// Imports, quantizes and lowers the model.
fn build_program(
    args: &CompileArgs,
    ctx: &Context,
    sources: &mut SourceMap,
    golden: &[(String, Tensor)],
    mut spec: crate::quant_opts::QuantSpec,
    tile_and_pack: &str,
    phases: &mut Phases,
) -> Result<Module, Vec<Diagnostic>> {
    let shapes: Vec<InputShape> =
        golden.iter().map(|(n, t)| InputShape { name: n.clone(), dims: t.shape.clone() }).collect();
    let mut module = import_file(&args.input, &import_options(&shapes, DEFAULT_INLINE_LIMIT), ctx, sources)?;
    phases.end("import");
    run_pipeline(&mut module, ctx, "onnx-to-nn")?;
    phases.end("onnx-to-nn (legalize, fuse)");
    let samples = match &args.calibrate {
        Some(dir) => {
            let func = &module.funcs[main_index(&module)?];
            Some(crate::samples::load_samples(dir, func).map_err(|e| error(format!("--calibrate: {e}")))?)
        }
        None => None,
    };
    // tile-and-pack sees the quant nonlinear ops before they are lowered.
    let lower = spec.nonlinear.lower.take();
    let warnings = quantize_module(&mut module, ctx, &spec, samples, Calibrator::Jit)?;
    eprint!("{}", render_all(&warnings, sources));
    phases.end("quantize (calibration on the JIT)");
    run_pipeline(&mut module, ctx, tile_and_pack)?;
    phases.end("tile-and-pack");
    if let Some(lower) = lower {
        lower_nonlinear(&mut module, ctx, lower)?;
    }
    run_pipeline(&mut module, ctx, "canonicalize,cse,dce")?;
    phases.end("lower-nonlinear, cleanup");
    Ok(module)
}

/// Wall time per phase of a compile, for `--time-passes`.
struct Phases {
    last: (Instant, Option<Duration>),
    start: (Instant, Option<Duration>),
    /// Per phase: its name, wall time and CPU time (when known).
    done: Vec<(&'static str, Duration, Option<Duration>)>,
}

impl Phases {
    fn new() -> Phases {
        let now = (Instant::now(), thread_cpu_time());
        Phases { last: now, start: now, done: Vec::new() }
    }

    /// Ends the phase `name` now.
    fn end(&mut self, name: &'static str) {
        let now = (Instant::now(), thread_cpu_time());
        let cpu = now.1.zip(self.last.1).map(|(b, a)| b.saturating_sub(a));
        self.done.push((name, now.0 - self.last.0, cpu));
        self.last = now;
    }

    /// Wall and CPU milliseconds per phase: on a loaded machine the wall
    /// time includes waiting for a core, the CPU time does not.
    fn table(&self) -> String {
        let total = self.last.0 - self.start.0;
        let ms = |d: Option<Duration>| d.map_or_else(|| "-".to_string(), |d| format!("{:.1}", d.as_secs_f64() * 1e3));
        let mut out = String::from("phase                                       wall ms      %     cpu ms\n");
        for (name, wall, cpu) in &self.done {
            let share = if total.is_zero() { 0.0 } else { 100.0 * wall.as_secs_f64() / total.as_secs_f64() };
            out.push_str(&format!("{name:<40} {:>10.1} {share:>6.1} {:>10}\n", wall.as_secs_f64() * 1e3, ms(*cpu)));
        }
        let cpu = self.last.1.zip(self.start.1).map(|(b, a)| b.saturating_sub(a));
        out.push_str(&format!("{:<40} {:>10.1} {:>6} {:>10}\n", "total", total.as_secs_f64() * 1e3, "", ms(cpu)));
        out
    }
}

/// The CPU time of the calling thread (Linux: /proc/thread-self/schedstat,
/// nanoseconds on a core); `None` elsewhere. weft compiles on one thread.
fn thread_cpu_time() -> Option<Duration> {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let ns: u64 = text.split_whitespace().next()?.parse().ok()?;
    Some(Duration::from_nanos(ns))
}

/// The golden outputs the testbench compares with: the JIT's (bit-identical
/// to the reference interpreter's on every quant and nl program, as
/// tests/jit_quant.rs checks).
fn golden_outputs(module: &Module, func: &Function, inputs: Vec<Tensor>) -> Result<Vec<Tensor>, Vec<Diagnostic>> {
    let compiled = weft_backends::jit::compile(module, func).map_err(|d| vec![d])?;
    compiled.run(inputs).map_err(|d| vec![d])
}

/// The golden inputs in argument order; every input must be given.
fn ordered_inputs(func: &Function, mut given: Vec<(String, Tensor)>) -> Result<Vec<Tensor>, Vec<Diagnostic>> {
    let mut out = Vec::new();
    for name in input_names(func) {
        let i = given
            .iter()
            .position(|(n, _)| *n == name)
            .ok_or_else(|| error(format!("--inputs: no {name}.npy for the model's input '{name}'")))?;
        out.push(given.swap_remove(i).1);
    }
    Ok(out)
}

fn main_index(module: &Module) -> Result<usize, Vec<Diagnostic>> {
    if let Some(i) = module.funcs.iter().position(|f| f.name == "main") {
        return Ok(i);
    }
    match module.funcs.len() {
        1 => Ok(0),
        _ => Err(error("the module has no @main function")),
    }
}
