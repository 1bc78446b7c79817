//! The `weft` command-line driver: `weft import`, `weft run`, `weft info`,
//! `weft opt`, `weft test`, `weft passes`, `weft accuracy`, `weft boards`.
//!
//! Invariants: diagnostics go to standard error, rendered against their
//! sources; the exit code is 0 on success, 1 for bad input (parse, verify
//! or pass errors, unreadable or non-UTF-8 files, failing tests) and 2 for
//! usage errors (bad arguments, an unknown pass or pass option); output
//! files are written atomically, so an error never leaves a partial file.

mod accuracy_cmd;
mod boards_cmd;
mod calibrate_jit;
mod compile_cmd;
mod explore_cmd;
mod import_cmd;
mod info_cmd;
mod opt_cmd;
mod output;
mod passes_cmd;
mod quant_opts;
mod report_cmd;
mod run_cmd;
mod samples;
mod test_cmd;

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;
use weft_ir::Context;
use weft_testsuite::opt::OptArgs;

/// mimalloc: the parser, the passes and the interpreter allocate many small
/// objects; glibc's malloc spent a fifth of the parse time on them.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc's `mi_option_purge_delay` (its place in mimalloc v3's
/// `mi_option_e`, the version libmimalloc-sys 0.1.49 builds; the
/// bindings do not name it).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Freed memory stays with the process instead of going back to the
/// system: weft is a short-lived process that frees and reallocates large
/// tensors (weights decoded, quantized, packed), and every page handed back
/// is zeroed again by the kernel when it is touched next (`weft compile` of
/// DeiT-base spent 0.8 s of system time on that).
fn keep_freed_memory() {
    // SAFETY: sets an option value; mimalloc reads it when it purges.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, -1) };
}

const MAIN_EXAMPLES: &str = "\
Examples:
  weft import model.onnx --input-shape input_ids=1x128 -o model.weft
  weft run model.onnx --input input_ids=ids.npy -o out/
  weft info model.onnx
  weft opt model.weft --passes 'canonicalize,cse,dce' -o out.weft
  weft test testsuite/lit
  weft passes";

const IMPORT_EXAMPLES: &str = "\
Examples:
  # print the imported module
  weft import model.onnxtxt
  # bind the symbolic dims of the inputs, write model.weft + model.safetensors
  weft import model.onnx --input-shape input_ids=1x128 --input-shape attention_mask=1x128 -o model.weft

Each ONNX node becomes one onnx.<OpType> op located at the node's name;
opsets 11 to 21 are read and older op forms converted to opset 21's.
Weights with more than --inline-limit elements go to the .safetensors file
beside the output.";

const RUN_EXAMPLES: &str = "\
Examples:
  # print each output's shape, type and a summary of its values
  weft run model.onnx --input input_ids=ids.npy --input attention_mask=mask.npy
  # ONNX test data (TensorProto .pb files); write out/<output name>.npy
  weft run model.onnx --input x=test_data_set_0/input_0.pb -o out
  # an imported or optimized module (its .safetensors beside it)
  weft run model.weft --input x=x.npy
  # quantized: 4-bit weights, 8-bit activations, calibrated on .npy samples
  weft run model.onnx --quant w4a8 --calibrate calib/ --input x=x.npy";

const INFO_EXAMPLES: &str = "\
Examples:
  weft info model.onnx
  weft info model.onnxtxt

Lists ir_version, producer, opsets, inputs and outputs (symbolic dims as
[name]), the op histogram, the parameter count, and every op weft cannot
import with the nodes that use it.";

const OPT_EXAMPLES: &str = "\
Examples:
  # parse, verify and print
  weft opt model.weft
  # run passes, write out.weft (and out.safetensors when there are resources)
  weft opt model.weft --passes 'canonicalize{max-iterations=3},cse,dce' -o out.weft
  # standard input to standard output
  weft opt - --passes default < in.weft > out.weft
  # see what a pass did, and how long each took
  weft opt model.weft --passes 'cse,dce' --print-ir-after=cse --time-passes --stats
  # the dataflow graph
  weft opt model.weft --emit dot | dot -Tsvg > graph.svg

IR dumps, timings and statistics go to standard error. A module with
resources (dense_resource<...>) reads them from X.safetensors beside the
input X.weft and, with -o OUT.weft, writes them to OUT.safetensors.";

const TEST_EXAMPLES: &str = "\
Examples:
  weft test testsuite/lit                       every .weft file, recursively
  weft test testsuite/lit/passes/cse/basic.weft

Each file's output is compared with DIR/snapshots/NAME.snap. To create or
update snapshots: INSTA_UPDATE=always cargo test -p weft-testsuite (or
cargo insta review), then read them.";

const ACCURACY_EXAMPLES: &str = "\
Examples:
  # every nonlinear op, method (quark, ibert, lut) and width (4, 6, 8, 10, 12 bits)
  weft accuracy --ops
  # one op, as JSON
  weft accuracy --ops --op softmax --method quark --bits 8 --json
  # a quantized model against its float self, on 32 random inputs
  weft accuracy model.onnx --quant w8a8 --input-shape input_ids=1x128 --input-shape attention_mask=1x128
  # calibrated and evaluated on .npy inputs, as JSON
  weft accuracy model.onnx --quant w4a8 --calibrate calib/ --inputs eval/ --json
  # mixed precision from a TOML file (spec/quant.md)
  weft accuracy model.onnx --quant scheme.toml --inputs eval/

With --ops, errors are measured against an f64 reference on each op's
realistic inputs (listed above the table); 'ideal max' is the error of the
quantized op without approximation. A method/width combination that cannot
be built is listed as such, or is a diagnostic (exit code 1) when asked for
with both --method and --bits. With a MODEL: for each output, the mean and
least cosine similarity of the quantized and float programs' outputs over
the inputs, and the largest absolute difference (both run on the reference
interpreter).";

const BOARDS_EXAMPLES: &str = "\
Examples:
  weft boards
  weft boards zcu102 --json
  # a custom board: a builtin one with fewer resources (spec/boards.md)
  weft boards my-board.toml";
const REPORT_EXAMPLES: &str = "\
Examples:
  # the nonlinear units share-nonlinear plans, with and without sharing, next to QUARK's Table IV
  weft report model.onnx --quant w8a8 --nonlinear
  weft report model.onnx --quant w8a8 --nonlinear --lanes 24 --json

The model is quantized as for `weft accuracy` (random calibration samples,
--samples of them, unless --calibrate); resources follow spec/hw.md.";

const PASSES_EXAMPLES: &str = "\
Examples:
  weft passes
  weft opt model.weft --passes 'fold{max-elements=4096},cse{commutative=false},dce'";

/// weft: compiles ONNX Transformers to FPGA accelerators through an
/// MLIR-like IR.
#[derive(Debug, Parser)]
#[command(name = "weft", version, after_help = MAIN_EXAMPLES, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Import an ONNX model (.onnx or .onnxtxt) into a .weft module.
    #[command(after_help = IMPORT_EXAMPLES)]
    Import(import_cmd::ImportArgs),
    /// Run a model (.onnx, .onnxtxt or .weft) on inputs with the reference interpreter.
    #[command(after_help = RUN_EXAMPLES)]
    Run(run_cmd::RunArgs),
    /// Describe an ONNX model: inputs, outputs, ops, parameters, unsupported ops.
    #[command(after_help = INFO_EXAMPLES)]
    Info(info_cmd::InfoArgs),
    /// Parse, verify and transform a .weft module with a pass pipeline.
    #[command(after_help = OPT_EXAMPLES)]
    Opt(OptCommand),
    /// Run lit test files and compare their outputs with their snapshots.
    #[command(after_help = TEST_EXAMPLES)]
    Test(TestCommand),
    /// List the passes with their summaries and options.
    #[command(after_help = PASSES_EXAMPLES)]
    Passes,
    /// Measure how close quantized programs come to float ones: per nonlinear op (--ops) or per model.
    #[command(after_help = ACCURACY_EXAMPLES)]
    Accuracy(accuracy_cmd::AccuracyArgs),
    /// List the FPGA boards weft targets (part, resources, memory bandwidth, clock).
    #[command(after_help = BOARDS_EXAMPLES)]
    Boards(boards_cmd::BoardsArgs),
    /// Quantize an ONNX model and write a Vitis HLS project checked against golden outputs.
    Compile(compile_cmd::CompileArgs),
    /// Report the hardware of a quantized model: the nonlinear units with and without sharing (--nonlinear).
    #[command(after_help = REPORT_EXAMPLES)]
    Report(report_cmd::ReportArgs),
    /// Search activation bits and engine parameters for target frame rates (VAQF).
    Explore(explore_cmd::ExploreArgs),
}

#[derive(Debug, clap::Args)]
struct OptCommand {
    /// The input .weft file; '-' reads standard input.
    #[arg(value_name = "FILE")]
    input: String,
    #[command(flatten)]
    args: OptArgs,
}

#[derive(Debug, clap::Args)]
struct TestCommand {
    /// Lit files, or directories searched recursively for .weft files.
    #[arg(value_name = "PATH", required = true)]
    paths: Vec<PathBuf>,
}

fn main() -> ExitCode {
    keep_freed_memory();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(2));
        }
    };
    let code = match cli.command {
        Command::Import(args) => import_cmd::run(&args),
        Command::Run(args) => run_cmd::run(&args),
        Command::Info(args) => info_cmd::run(&args),
        Command::Opt(cmd) => opt_cmd::run(&cmd.input, &cmd.args),
        Command::Test(cmd) => test_cmd::run(&cmd.paths),
        Command::Passes => passes_cmd::run(),
        Command::Accuracy(args) => accuracy_cmd::run(&args),
        Command::Boards(args) => boards_cmd::run(&args),
        Command::Compile(args) => compile_cmd::run(&args),
        Command::Report(args) => report_cmd::run(&args),
        Command::Explore(args) => explore_cmd::run(&args),
    };
    ExitCode::from(code)
}

/// The context every command resolves ops in: the builtin and nn dialects
/// and the onnx dialect.
pub fn context() -> Context {
    let mut ctx = Context::default();
    ctx.register(&weft_frontend::dialect::DIALECT);
    ctx
}
