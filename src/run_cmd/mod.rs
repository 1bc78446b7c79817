//! `weft run MODEL --input NAME=FILE ... [--engine jit|interp] [-o DIR]`:
//! runs a model (ONNX protobuf or text, imported first; or a .weft module
//! with its resources) on inputs from `.npy` or ONNX `TensorProto` `.pb`
//! files with the Cranelift JIT (the default) or the reference
//! interpreter, then writes one `NAME.npy` per output into DIR, or prints
//! each output's shape, element type and a summary. A bf16 argument also
//! accepts uint16 bit patterns (NumPy has no bfloat16).
//!
//! For the JIT, an ONNX model is imported with its input shapes taken from
//! the given inputs and legalized with the `onnx-to-nn` pipeline; a .weft
//! function's symbolic dims are bound to the given inputs' extents
//! ([`specialize`]). What the JIT cannot compile (an op outside its
//! coverage, a dynamic shape, an element type it has no storage for) is an
//! error at the op saying to use `--engine interp`: never a silent
//! fallback.
//!
//! Invariants: every input of the function must be given exactly once
//! (missing ones are listed with their types); output files appear all
//! together or not at all (a new directory is written under a temporary
//! name and renamed; into an existing one, each file is staged and the
//! files are renamed after all were written).
//!
//! `--bench N` and `--profile` (bench.rs, profile.rs) time the runs and
//! print their report after the outputs' summaries; the outputs are those
//! of the first run.

mod bench;
pub(crate) mod npy;
mod profile;
mod specialize;

use crate::import_cmd::{format_of, import_file, import_options, parse_input_shape, InputShape, ModelFormat};
use crate::output::{commit, stage_bytes};
use std::collections::HashSet;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use weft_frontend::import::DEFAULT_INLINE_LIMIT;
use weft_frontend::onnx::read_tensor_pb;
use weft_ir::diag::render_all;
use weft_ir::interp::{input_names, output_names, run_function, shape_text};
use weft_ir::parser::{load_source, parse_module};
use weft_ir::resources::{sidecar_path, Resources};
use weft_ir::tensor::Scalar;
use weft_ir::verify::verify_module;
use weft_ir::{Context, Diagnostic, ElemType, Function, Module, SourceMap, Span, Tensor, TensorData, Type};

/// `--input NAME=FILE`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputFile {
    pub name: String,
    pub path: PathBuf,
}

fn parse_input_file(s: &str) -> Result<InputFile, String> {
    match s.split_once('=') {
        Some((name, path)) if !name.is_empty() && !path.is_empty() => {
            Ok(InputFile { name: name.to_string(), path: PathBuf::from(path) })
        }
        _ => Err("expected NAME=FILE, e.g. input_ids=ids.npy".to_string()),
    }
}

/// The engines that can run a model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Engine {
    /// The Cranelift JIT: native code for nn programs with static shapes.
    Jit,
    /// The reference interpreter (slow, obviously correct; runs every
    /// dialect, dynamic shapes and every element type).
    Interp,
}

#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// The model: .onnx, .onnxtxt or .weft (with its .safetensors beside it).
    #[arg(value_name = "MODEL")]
    pub input: PathBuf,
    /// An input's value, from a .npy file or an ONNX TensorProto .pb file.
    /// Repeatable; every input must be given.
    #[arg(long = "input", value_name = "NAME=FILE", value_parser = parse_input_file)]
    pub inputs: Vec<InputFile>,
    /// A static shape for an input of an ONNX model, as for `weft import`.
    #[arg(long = "input-shape", value_name = "NAME=DIMS", value_parser = parse_input_shape)]
    pub input_shapes: Vec<InputShape>,
    /// The engine that runs the model. `jit` compiles nn programs with
    /// static shapes to native code (ONNX models are legalized with
    /// `onnx-to-nn` first, shapes bound to the inputs'); what it cannot
    /// compile is an error that points at `interp`, the reference
    /// interpreter.
    #[arg(long, value_enum, default_value_t = Engine::Jit)]
    pub engine: Engine,
    /// Write one NAME.npy per output into this directory (created if
    /// missing) instead of printing summaries.
    #[arg(short, long, value_name = "DIR")]
    pub output: Option<PathBuf>,
    /// Run the model once as a warm-up, then N more times, and print the
    /// median, min and max time of a run (and, for the JIT, what compiling
    /// took).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub bench: Option<u32>,
    /// Print the time per op kind, slowest first (with --bench, the mean
    /// over the timed runs).
    #[arg(long)]
    pub profile: bool,
    /// Quantize the model before running it (on either engine): a scheme
    /// wXaY (weights X bits, 1 = binary, t = ternary; activations Y bits,
    /// e.g. w8a8, w4a4, w1a8) or a TOML configuration file
    /// (spec/quant.md). ONNX models are imported with the inputs' shapes
    /// and legalized with `onnx-to-nn` first.
    #[arg(long, value_name = "SCHEME")]
    pub quant: Option<String>,
    /// Calibration samples for --quant: a directory with one NAME.npy per
    /// input, or of such directories. Without it, random samples are
    /// drawn (with a warning).
    #[arg(long, value_name = "DIR", requires = "quant")]
    pub calibrate: Option<PathBuf>,
    /// How --quant computes the nonlinear ops: quark (default; integer
    /// only), ibert, lut, per op (e.g. 'ibert,softmax=lut'), or float (the
    /// quantized ops keep their exact function, for diagnosis).
    #[arg(long, value_name = "METHODS", requires = "quant")]
    pub nonlinear: Option<String>,
}

/// Why a run failed.
enum Failure {
    /// A usage error: exit code 2.
    Usage(String),
    /// Bad input: exit code 1.
    Input(Vec<Diagnostic>),
}

impl From<String> for Failure {
    fn from(e: String) -> Failure {
        Failure::Input(vec![Diagnostic::error(e, Span::NONE)])
    }
}

impl From<Vec<Diagnostic>> for Failure {
    fn from(d: Vec<Diagnostic>) -> Failure {
        Failure::Input(d)
    }
}

/// Runs the command; the exit code.
pub fn run(args: &RunArgs) -> u8 {
    let mut sources = SourceMap::new();
    match run_model(args, &mut sources) {
        Ok(()) => 0,
        Err(Failure::Usage(e)) => {
            eprintln!("error: {e}");
            2
        }
        Err(Failure::Input(diags)) => {
            eprint!("{}", render_all(&diags, &sources));
            1
        }
    }
}

fn run_model(args: &RunArgs, sources: &mut SourceMap) -> Result<(), Failure> {
    let ctx = crate::context();
    let mut module = load_module(args, &ctx, sources)?;
    if let Some(scheme) = &args.quant {
        let calibrate = args.calibrate.as_deref();
        quantize(&mut module, &ctx, scheme, args.nonlinear.as_deref(), calibrate, args.engine, sources)?;
    }
    let main = main_index(&module)?;
    let inputs = load_inputs(&module.funcs[main], &args.inputs)?;
    if args.engine == Engine::Jit {
        let bound = specialize::bind_symbolic_dims(&mut module.funcs[main], &inputs)
            .map_err(|d| vec![name_model(d, &args.input)])?;
        if bound {
            verify_module(&module)?;
        }
    }
    let func = &module.funcs[main];
    // The JIT compiles once; --bench times the runs, not the compilation.
    let compiled = match args.engine {
        Engine::Jit => Some(weft_backends::jit::compile(&module, func).map_err(|d| vec![name_model(d, &args.input)])?),
        Engine::Interp => None,
    };
    let run_once = || match &compiled {
        Some(code) => code.run(inputs.clone()),
        None => run_function(&module, func, inputs.clone()),
    };
    let (outputs, mut report) = if args.profile {
        let engine = match &compiled {
            Some(code) => profile::Profiled::Jit(code),
            None => profile::Profiled::Interp { module: &module, func },
        };
        profile::profiled_run(args.bench, engine, &inputs)
    } else {
        bench::timed_run(args.bench, run_once)
    }
    .map_err(|d| vec![name_model(d, &args.input)])?;
    if let Some(code) = compiled.as_ref().filter(|_| args.bench.is_some() || args.profile) {
        report.insert_str(0, &bench::jit_report(code.stats()));
    }
    let names = output_names(func);
    match &args.output {
        Some(dir) => write_outputs(dir, &names, &outputs)?,
        None => print!("{}", summaries(&names, &outputs)),
    }
    print!("{report}");
    Ok(())
}

/// Quantizes the (legalized) module for `--quant`, calibrated on
/// `--calibrate` when given (on `engine`); prints the pass's warnings.
fn quantize(
    module: &mut Module,
    ctx: &Context,
    scheme: &str,
    nonlinear: Option<&str>,
    calibrate: Option<&Path>,
    engine: Engine,
    sources: &SourceMap,
) -> Result<(), Failure> {
    let mut spec = crate::quant_opts::parse_quant(scheme).map_err(|d| vec![d])?;
    if let Some(text) = nonlinear {
        spec.nonlinear = crate::quant_opts::parse_nonlinear(text).map_err(|d| vec![d])?;
    }
    let samples = match calibrate {
        Some(dir) => {
            let func = &module.funcs[main_index(module)?];
            Some(crate::samples::load_samples(dir, func).map_err(|e| format!("--calibrate: {e}"))?)
        }
        None => None,
    };
    let warnings = crate::quant_opts::quantize_module(module, ctx, &spec, samples, engine.into())?;
    eprint!("{}", render_all(&warnings, sources));
    Ok(())
}

/// Names the model in a diagnostic that has no source text to point
/// into (an imported ONNX model's ops are located by node name only).
fn name_model(d: Diagnostic, model: &Path) -> Diagnostic {
    if d.span.is_none() {
        d.prefixed(&format!("{}: ", model.display()))
    } else {
        d
    }
}

/// The static input shapes an ONNX model is imported with: `--input-shape`,
/// and for the JIT (which needs static shapes) the shapes of the given
/// inputs.
fn import_shapes(args: &RunArgs) -> Result<Vec<InputShape>, Failure> {
    let mut shapes = args.input_shapes.clone();
    if args.engine == Engine::Jit || args.quant.is_some() {
        for i in &args.inputs {
            if !shapes.iter().any(|s| s.name == i.name) {
                let t = read_tensor_file(&i.path).map_err(|e| format!("input '{}': {e}", i.name))?;
                shapes.push(InputShape { name: i.name.clone(), dims: t.shape });
            }
        }
    }
    Ok(shapes)
}

/// Legalizes an imported ONNX model to the nn dialect (`onnx-to-nn`).
fn legalize(module: &mut Module, ctx: &Context) -> Result<(), Failure> {
    let registry = weft_passes::PassRegistry::with_builtin_passes();
    let pipeline = weft_passes::Pipeline::parse("onnx-to-nn").map_err(|e| e.to_string())?;
    let mut pm = weft_passes::PassManager::new(&registry, &pipeline, weft_passes::PassManagerOptions::default())?;
    let mut log = String::new();
    pm.run(module, ctx, &mut log)?;
    Ok(())
}

fn load_module(args: &RunArgs, ctx: &Context, sources: &mut SourceMap) -> Result<Module, Failure> {
    let format = format_of(&args.input).map_err(Failure::Usage)?;
    if format != ModelFormat::Weft {
        let opts = import_options(&import_shapes(args)?, DEFAULT_INLINE_LIMIT);
        let mut module = import_file(&args.input, &opts, ctx, sources)?;
        if args.engine == Engine::Jit || args.quant.is_some() {
            legalize(&mut module, ctx)?;
        }
        return Ok(module);
    }
    if !args.input_shapes.is_empty() {
        return Err(Failure::Usage(
            "--input-shape applies to ONNX models; a .weft module's symbolic dims are bound by the inputs".into(),
        ));
    }
    let module = load_weft(&args.input, ctx, sources)?;
    if args.quant.is_some() {
        // Quantization works on the nn dialect.
        let mut module = module;
        crate::quant_opts::run_pipeline(&mut module, ctx, "onnx-to-nn")?;
        return Ok(module);
    }
    Ok(module)
}

/// Parses and verifies a .weft module with the resources of its
/// .safetensors sidecar, if there is one.
pub(crate) fn load_weft(path: &Path, ctx: &Context, sources: &mut SourceMap) -> Result<Module, Vec<Diagnostic>> {
    let bytes = std::fs::read(path)
        .map_err(|e| vec![Diagnostic::error(format!("cannot read '{}': {e}", path.display()), Span::NONE)])?;
    let file = load_source(sources, &path.display().to_string(), bytes).map_err(|d| vec![d])?;
    let mut module = parse_module(ctx, sources, file)?;
    let sidecar = sidecar_path(path);
    if sidecar.exists() {
        module.resources = Resources::load(&sidecar).map_err(|e| vec![Diagnostic::error(e, Span::NONE)])?;
    }
    verify_module(&module)?;
    Ok(module)
}

/// The index of `@main`, else of the module's only function.
fn main_index(module: &Module) -> Result<usize, Failure> {
    if let Some(i) = module.funcs.iter().position(|f| f.name == "main") {
        return Ok(i);
    }
    match module.funcs.len() {
        1 => Ok(0),
        0 => Err("the module has no function to run".to_string().into()),
        _ => Err("the module has several functions and none is called @main".to_string().into()),
    }
}

/// The input tensors in argument order.
fn load_inputs(func: &Function, given: &[InputFile]) -> Result<Vec<Tensor>, Failure> {
    let names = input_names(func);
    let expected = || {
        let list: Vec<String> = names.iter().zip(func.arg_types()).map(|(n, t)| format!("{n}: {t}")).collect();
        format!("@{} takes: {}", func.name, list.join(", "))
    };
    let mut seen = HashSet::new();
    for i in given {
        if !names.contains(&i.name) {
            return Err(Failure::Usage(format!("--input names '{}', which is not an input; {}", i.name, expected())));
        }
        if !seen.insert(i.name.as_str()) {
            return Err(Failure::Usage(format!("--input gives '{}' twice", i.name)));
        }
    }
    let missing: Vec<&str> = names.iter().filter(|n| !seen.contains(n.as_str())).map(String::as_str).collect();
    if !missing.is_empty() {
        return Err(Failure::Usage(format!(
            "missing inputs: {} (give each with --input NAME=FILE.npy); {}",
            missing.join(", "),
            expected()
        )));
    }
    let mut tensors = Vec::with_capacity(names.len());
    for (name, ty) in names.iter().zip(func.arg_types()) {
        let Some(file) = given.iter().find(|i| &i.name == name) else { continue };
        let t = read_tensor_file(&file.path).map_err(|e| format!("input '{name}': {e}"))?;
        tensors.push(bf16_from_bits(t, &ty));
    }
    Ok(tensors)
}

/// NumPy has no bfloat16, so bf16 data comes as uint16 bit patterns (as in
/// ONNX's own test data): reinterpreted when the argument is bf16.
fn bf16_from_bits(t: Tensor, arg: &Type) -> Tensor {
    let wants_bf16 = arg.as_tensor().is_some_and(|a| a.elem == ElemType::BF16);
    match t.data {
        TensorData::Int(bits) if wants_bf16 && t.elem == ElemType::Int { width: 16, signed: false } => Tensor {
            elem: ElemType::BF16,
            shape: t.shape,
            data: TensorData::BF16(bits.into_iter().map(|b| half::bf16::from_bits(b as u16)).collect()),
        },
        data => Tensor { data, ..t },
    }
}

/// A tensor from a `.npy` or `.pb` file.
pub(crate) fn read_tensor_file(path: &Path) -> Result<Tensor, String> {
    match path.extension().and_then(|e| e.to_str()) {
        Some("npy") => {
            let bytes = std::fs::read(path).map_err(|e| format!("cannot read '{}': {e}", path.display()))?;
            npy::read_npy(&bytes).map_err(|e| format!("{}: {e}", path.display()))
        }
        Some("pb") => read_tensor_pb(path).map(|(_, t)| t).map_err(|d| d.message),
        _ => Err(format!("cannot tell the format of '{}': expected a .npy or .pb file", path.display())),
    }
}

/// `NAME.npy` for each output, under names safe on every file system.
fn output_files(names: &[String], outputs: &[Tensor]) -> Result<Vec<(String, Vec<u8>)>, String> {
    let mut used = HashSet::new();
    let mut files = Vec::with_capacity(outputs.len());
    for (i, t) in outputs.iter().enumerate() {
        let name = names.get(i).map_or("", String::as_str);
        let mut stem: String =
            name.chars().map(|c| if c.is_ascii_alphanumeric() || "._-".contains(c) { c } else { '_' }).collect();
        if stem.trim_matches('.').is_empty() {
            stem = format!("output{i}");
        }
        while !used.insert(stem.to_lowercase()) {
            stem = format!("{stem}_{i}");
        }
        let bytes = npy::npy_bytes(t).map_err(|e| format!("output '{name}': {e}"))?;
        files.push((format!("{stem}.npy"), bytes));
    }
    Ok(files)
}

/// Writes the outputs into `dir` atomically (see the module doc).
fn write_outputs(dir: &Path, names: &[String], outputs: &[Tensor]) -> Result<(), String> {
    let files = output_files(names, outputs)?;
    if dir.is_dir() {
        let staged = files.iter().map(|(n, b)| stage_bytes(&dir.join(n), b)).collect::<Result<Vec<_>, _>>()?;
        return commit(staged);
    }
    if dir.exists() {
        return Err(format!("'{}' exists and is not a directory", dir.display()));
    }
    let temp = temp_dir_for(dir)?;
    let written = write_new_dir(&temp, &files)
        .and_then(|()| std::fs::rename(&temp, dir).map_err(|e| format!("cannot create '{}': {e}", dir.display())));
    if written.is_err() {
        let _ = std::fs::remove_dir_all(&temp);
    }
    written
}

fn temp_dir_for(dir: &Path) -> Result<PathBuf, String> {
    let name = dir.file_name().ok_or_else(|| format!("'{}' is not a directory name", dir.display()))?;
    let parent = dir.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    Ok(parent.join(format!(".{}.weft-tmp-{}", name.to_string_lossy(), std::process::id())))
}

fn write_new_dir(temp: &Path, files: &[(String, Vec<u8>)]) -> Result<(), String> {
    std::fs::create_dir(temp).map_err(|e| format!("cannot create '{}': {e}", temp.display()))?;
    for (name, bytes) in files {
        let path = temp.join(name);
        std::fs::write(&path, bytes).map_err(|e| format!("cannot write '{}': {e}", path.display()))?;
    }
    Ok(())
}

/// One block per output: name, shape, element type, min/max/mean and the
/// first values.
fn summaries(names: &[String], outputs: &[Tensor]) -> String {
    let mut out = String::new();
    for (i, t) in outputs.iter().enumerate() {
        let name = names.get(i).map_or("", String::as_str);
        let _ = writeln!(out, "{name}: shape {} {}", shape_text(&t.shape), t.elem);
        let n = t.data.len();
        let values: Vec<f64> = (0..n).map(|j| as_f64(t.data.get(j))).collect();
        let finite: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
        if !finite.is_empty() {
            let min = finite.iter().copied().fold(f64::INFINITY, f64::min);
            let max = finite.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let mean = finite.iter().sum::<f64>() / finite.len() as f64;
            let _ = write!(out, "  min {} max {} mean {}", num(min), num(max), num(mean));
            if finite.len() < n {
                let _ = write!(out, " ({} non-finite)", n - finite.len());
            }
            out.push('\n');
        }
        let shown: Vec<String> = values.iter().take(8).map(|&v| num(v)).collect();
        let more = if n > 8 { format!(", ... ({n} values)") } else { String::new() };
        let _ = writeln!(out, "  [{}{more}]", shown.join(", "));
    }
    out
}

fn as_f64(s: Scalar) -> f64 {
    match s {
        Scalar::Float(f) => f,
        Scalar::Int(i) => i as f64,
    }
}

/// At most 6 significant digits, without trailing zeros.
fn num(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        return format!("{v:.0}");
    }
    let s = format!("{v:.6e}");
    match s.parse::<f64>() {
        Ok(x) if (1e-4..1e6).contains(&x.abs()) => format!("{}", (x * 1e6).round() / 1e6),
        _ => format!("{v:.5e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use weft_ir::{ElemType, TensorData};

    #[test]
    fn output_file_names_are_safe_and_distinct() {
        let t = Tensor { elem: ElemType::F32, shape: vec![1], data: TensorData::F32(vec![1.0]) };
        let names = vec!["logits".to_string(), "a/b:0".to_string(), "..".to_string(), "a_b_0".to_string()];
        let files = output_files(&names, &[t.clone(), t.clone(), t.clone(), t]).unwrap();
        let got: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(got, ["logits.npy", "a_b_0.npy", "output2.npy", "a_b_0_3.npy"]);
    }

    #[test]
    fn summaries_show_shape_type_statistics_and_values() {
        let t = Tensor { elem: ElemType::F32, shape: vec![2, 2], data: TensorData::F32(vec![1.0, -2.5, 0.25, 3.0]) };
        let text = summaries(&["y".to_string()], &[t]);
        assert_eq!(text, "y: shape 2x2 f32\n  min -2.5 max 3 mean 0.4375\n  [1, -2.5, 0.25, 3]\n");
    }

    #[test]
    fn uint16_bits_feed_bf16_arguments() {
        let bits = Tensor {
            elem: ElemType::Int { width: 16, signed: false },
            shape: vec![2],
            data: TensorData::Int(vec![0x3fc0, 0xc000]),
        };
        let bf16 = Type::Tensor(weft_ir::TensorType::fixed(&[2], ElemType::BF16));
        let t = bf16_from_bits(bits.clone(), &bf16);
        assert_eq!(t.data, TensorData::BF16(vec![half::bf16::from_f32(1.5), half::bf16::from_f32(-2.0)]));
        let u16s = Type::Tensor(weft_ir::TensorType::fixed(&[2], bits.elem.clone()));
        assert_eq!(bf16_from_bits(bits.clone(), &u16s), bits);
    }

    #[test]
    fn input_files_parse() {
        assert_eq!(
            parse_input_file("ids=dir/a=b.npy").unwrap(),
            InputFile { name: "ids".into(), path: "dir/a=b.npy".into() }
        );
        assert!(parse_input_file("ids").is_err());
        assert!(parse_input_file("=x.npy").is_err());
    }
}
