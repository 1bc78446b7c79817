//! `weft accuracy`: how close quantized programs come to float ones.
//! With a MODEL and `--quant SCHEME` ([`model`]): the similarity of the
//! quantized model's outputs with the float model's over a set of inputs.
//! (The per-op measurement of the integer nonlinear ops, `--ops`, is the
//! other mode; it arrives with the nl dialect.)
//!
//! Invariants: the arguments of each mode are additive (a flag belongs to
//! one mode; the modes share `--json`); output is deterministic.

pub mod model;

use crate::import_cmd::{parse_input_shape, InputShape};
use crate::run_cmd::Engine;
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct AccuracyArgs {
    /// The model (.onnx, .onnxtxt or .weft) whose quantized program is
    /// compared with its float program.
    #[arg(value_name = "MODEL")]
    pub model: Option<PathBuf>,
    /// The quantization: a scheme wXaY (weights X bits, 1 = binary, t =
    /// ternary; activations Y bits) or a TOML configuration file.
    #[arg(long, value_name = "SCHEME")]
    pub quant: Option<String>,
    /// Evaluation inputs: a directory with one NAME.npy per input, or of
    /// such directories. Without it, --samples random inputs.
    #[arg(long, value_name = "DIR")]
    pub inputs: Option<PathBuf>,
    /// Calibration samples (laid out as --inputs). Without it, random ones
    /// are drawn (with a warning).
    #[arg(long, value_name = "DIR")]
    pub calibrate: Option<PathBuf>,
    /// How many random evaluation inputs to draw without --inputs.
    #[arg(long, value_name = "N", default_value_t = 32, value_parser = clap::value_parser!(u32).range(1..))]
    pub samples: u32,
    /// The seed of the random evaluation inputs (calibration draws with
    /// seed 0, so the two sets differ).
    #[arg(long, value_name = "SEED", default_value_t = 1)]
    pub seed: u64,
    /// A static shape for an input of an ONNX model, as for `weft import`
    /// (random inputs need static shapes).
    #[arg(long = "input-shape", value_name = "NAME=DIMS", value_parser = parse_input_shape)]
    pub input_shapes: Vec<InputShape>,
    /// The engine that runs the float reference (the quantized program
    /// always runs on the interpreter): `jit` is much faster on large
    /// models and agrees with the interpreter to a few units in the last
    /// place.
    #[arg(long, value_enum, default_value_t = Engine::Interp)]
    pub engine: Engine,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// Runs the command; the exit code.
pub fn run(args: &AccuracyArgs) -> u8 {
    match (&args.model, &args.quant) {
        (Some(_), Some(_)) => model::run(args),
        (Some(_), None) => {
            eprintln!("error: give the quantization to measure with --quant SCHEME (e.g. --quant w8a8)");
            2
        }
        (None, _) => {
            eprintln!("error: nothing to measure: give a MODEL and --quant SCHEME");
            2
        }
    }
}
