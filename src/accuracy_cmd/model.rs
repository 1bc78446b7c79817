//! `weft accuracy MODEL --quant SCHEME [--nonlinear METHODS] [--inputs DIR]
//! [--calibrate DIR] [--json]`: the model is brought to the nn dialect
//! (ONNX: imported with static input shapes and legalized with
//! `onnx-to-nn`), quantized with the scheme (calibrated on `--calibrate`,
//! else on random samples) and its nonlinear ops lowered with the methods
//! (quark by default; `float` keeps them exact), and both
//! the float and the quantized program run on every evaluation input (from
//! `--inputs`, else `--samples` seeded random ones), both on the reference
//! interpreter or, with `--engine jit`, both on the Cranelift JIT (which
//! computes the interpreter's bits). For each output: the mean and least cosine similarity of
//! the two programs' outputs over the inputs, and the largest absolute
//! difference of any element.
//!
//! Invariants: the float reference is the same module before quantization
//! (so only quantization is measured, not legalization); the report lists
//! outputs in the function's order and is the same for the same arguments;
//! bad inputs (files of the wrong shape or type, an unknown scheme) are
//! diagnostics with exit code 1.

use super::AccuracyArgs;
use crate::import_cmd::{format_of, import_file, import_options, InputShape, ModelFormat};
use crate::quant_opts::{parse_nonlinear, parse_quant, quantize_module, run_pipeline};
use crate::run_cmd::Engine;
use crate::samples::{first_sample, load_samples};
use std::fmt::Write as _;
use weft_frontend::import::DEFAULT_INLINE_LIMIT;
use weft_ir::diag::render_all;
use weft_ir::interp::{output_names, run_function};
use weft_ir::tensor::Scalar;
use weft_ir::{Context, Diagnostic, Function, Module, SourceMap, Span, Tensor};
use weft_passes::transforms::quantize::calibrate::random_inputs;

/// How close one output came, over all inputs.
#[derive(Debug, Clone, PartialEq)]
pub struct OutputStats {
    pub name: String,
    pub cosine_sum: f64,
    pub cosine_min: f64,
    pub max_abs_err: f64,
    pub count: usize,
}

impl OutputStats {
    fn new(name: String) -> OutputStats {
        OutputStats { name, cosine_sum: 0.0, cosine_min: f64::INFINITY, max_abs_err: 0.0, count: 0 }
    }

    pub fn cosine_mean(&self) -> f64 {
        self.cosine_sum / self.count.max(1) as f64
    }

    /// Adds one input's pair of outputs.
    fn add(&mut self, want: &Tensor, got: &Tensor) {
        let (a, b) = (values(want), values(got));
        let c = cosine(&a, &b);
        self.cosine_sum += c;
        self.cosine_min = self.cosine_min.min(c);
        let err = a.iter().zip(&b).map(|(x, y)| (x - y).abs()).fold(0.0, f64::max);
        self.max_abs_err = self.max_abs_err.max(if a.len() == b.len() { err } else { f64::INFINITY });
        self.count += 1;
    }
}

/// What was measured.
#[derive(Debug, Clone)]
pub struct Report {
    pub model: String,
    pub scheme: String,
    /// `--nonlinear` (or the default).
    pub nonlinear: String,
    /// Where the evaluation inputs came from.
    pub inputs: String,
    pub calibration: String,
    pub outputs: Vec<OutputStats>,
}

/// Runs the model mode; the exit code.
pub fn run(args: &AccuracyArgs) -> u8 {
    let mut sources = SourceMap::new();
    match measure(args, &mut sources) {
        Ok(report) => {
            print!("{}", if args.json { json(&report) } else { table(&report) });
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

/// Loads, quantizes, runs and compares.
pub fn measure(args: &AccuracyArgs, sources: &mut SourceMap) -> Result<Report, Vec<Diagnostic>> {
    let (Some(path), Some(scheme)) = (&args.model, &args.quant) else {
        return Err(error("a MODEL and --quant are needed"));
    };
    let ctx = crate::context();
    let mut spec = parse_quant(scheme).map_err(|d| vec![d])?;
    if let Some(text) = &args.nonlinear {
        spec.nonlinear = parse_nonlinear(text).map_err(|d| vec![d])?;
    }
    let float = load_nn(args, &ctx, sources)?;
    let func = main_function(&float)?;
    let calibration = match &args.calibrate {
        Some(dir) => Some(load_samples(dir, func).map_err(|e| error(format!("--calibrate: {e}")))?),
        None => None,
    };
    let calibration_text = match &calibration {
        Some(s) => format!("{} samples from {}", s.len(), args.calibrate.as_deref().unwrap_or(path).display()),
        None => "random samples (seed 0)".to_string(),
    };
    let mut quantized = float.clone();
    let warnings = quantize_module(&mut quantized, &ctx, &spec, calibration, args.engine.into())?;
    eprint!("{}", render_all(&warnings, sources));
    let (inputs, inputs_text) = evaluation_inputs(args, func)?;
    let outputs = compare(&float, &quantized, inputs, args.engine)?;
    Ok(Report {
        model: path.display().to_string(),
        scheme: spec.text.clone(),
        nonlinear: spec.nonlinear.text.clone(),
        inputs: inputs_text,
        calibration: calibration_text,
        outputs,
    })
}

/// The model in the nn dialect.
fn load_nn(args: &AccuracyArgs, ctx: &Context, sources: &mut SourceMap) -> Result<Module, Vec<Diagnostic>> {
    let path = args.model.as_deref().ok_or_else(|| error("no model"))?;
    let format = format_of(path).map_err(error)?;
    let mut module = if format == ModelFormat::Weft {
        crate::run_cmd::load_weft(path, ctx, sources)?
    } else {
        let opts = import_options(&import_shapes(args)?, DEFAULT_INLINE_LIMIT);
        import_file(path, &opts, ctx, sources)?
    };
    run_pipeline(&mut module, ctx, "onnx-to-nn")?;
    Ok(module)
}

/// `--input-shape`, then the shapes of the first sample of `--inputs` or
/// `--calibrate` for the inputs not named.
fn import_shapes(args: &AccuracyArgs) -> Result<Vec<InputShape>, Vec<Diagnostic>> {
    let mut shapes = args.input_shapes.clone();
    let Some(dir) = args.inputs.as_ref().or(args.calibrate.as_ref()) else { return Ok(shapes) };
    for (name, t) in first_sample(dir).map_err(error)? {
        if !shapes.iter().any(|s| s.name == name) {
            shapes.push(InputShape { name, dims: t.shape });
        }
    }
    Ok(shapes)
}

/// `@main`, else the only function.
fn main_function(module: &Module) -> Result<&Function, Vec<Diagnostic>> {
    match module.func("main") {
        Some(f) => Ok(f),
        None if module.funcs.len() == 1 => Ok(&module.funcs[0]),
        None => Err(error("the module has no @main function (and not exactly one function)")),
    }
}

fn evaluation_inputs(args: &AccuracyArgs, func: &Function) -> Result<(Vec<Vec<Tensor>>, String), Vec<Diagnostic>> {
    match &args.inputs {
        Some(dir) => {
            let s = load_samples(dir, func).map_err(|e| error(format!("--inputs: {e}")))?;
            let text = format!("{} inputs from {}", s.len(), dir.display());
            Ok((s, text))
        }
        None => {
            let s = random_inputs(func, args.samples as usize, args.seed)
                .map_err(|e| error(format!("cannot draw random inputs: {e}")))?;
            Ok((s, format!("{} random inputs (seed {})", args.samples, args.seed)))
        }
    }
}

/// Runs both programs on every input and compares their outputs.
fn compare(
    float: &Module,
    quantized: &Module,
    inputs: Vec<Vec<Tensor>>,
    engine: Engine,
) -> Result<Vec<OutputStats>, Vec<Diagnostic>> {
    let (ff, qf) = (main_function(float)?, main_function(quantized)?);
    let compile = |m: &Module, f| weft_backends::jit::compile(m, f).map_err(|d| vec![d.prefixed("--engine jit: ")]);
    let jit = match engine {
        Engine::Jit => Some((compile(float, ff)?, compile(quantized, qf)?)),
        Engine::Interp => None,
    };
    let mut stats: Vec<OutputStats> = output_names(ff).into_iter().map(OutputStats::new).collect();
    for (i, input) in inputs.into_iter().enumerate() {
        let at = |d: Diagnostic| vec![d.prefixed(&format!("input #{i}: "))];
        let (want, got) = match &jit {
            Some((f, q)) => (f.run(input.clone()), q.run(input)),
            None => (run_function(float, ff, input.clone()), run_function(quantized, qf, input)),
        };
        let (want, got) = (want.map_err(at)?, got.map_err(at)?);
        for ((s, w), g) in stats.iter_mut().zip(&want).zip(&got) {
            s.add(w, g);
        }
    }
    Ok(stats)
}

fn values(t: &Tensor) -> Vec<f64> {
    (0..t.data.len())
        .map(|i| match t.data.get(i) {
            Scalar::Float(x) => x,
            Scalar::Int(v) => v as f64,
        })
        .collect()
}

/// `a.b / (|a| |b|)`; 1 when both are zero, 0 when one is.
pub fn cosine(a: &[f64], b: &[f64]) -> f64 {
    let dot: f64 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let (na, nb) = (a.iter().map(|x| x * x).sum::<f64>().sqrt(), b.iter().map(|x| x * x).sum::<f64>().sqrt());
    match (na == 0.0, nb == 0.0) {
        (true, true) => 1.0,
        (true, false) | (false, true) => 0.0,
        _ => dot / (na * nb),
    }
}

/// The report as a table.
pub fn table(r: &Report) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "model:       {}", r.model);
    let _ = writeln!(s, "quantized:   {}", r.scheme);
    let _ = writeln!(s, "nonlinear:   {}", r.nonlinear);
    let _ = writeln!(s, "calibration: {}", r.calibration);
    let _ = writeln!(s, "inputs:      {}", r.inputs);
    let width = r.outputs.iter().map(|o| o.name.len()).max().unwrap_or(0).max(6);
    let _ = writeln!(s, "\n{:width$}  {:>11}  {:>10}  {:>11}", "output", "cosine mean", "cosine min", "max abs err");
    for o in &r.outputs {
        let _ = writeln!(
            s,
            "{:width$}  {:>11.6}  {:>10.6}  {:>11.6}",
            o.name,
            o.cosine_mean(),
            o.cosine_min,
            o.max_abs_err
        );
    }
    s
}

/// The report as JSON: `{"model", "scheme", "nonlinear", "calibration", "inputs",
/// "outputs": {NAME: {"cosine_mean", "cosine_min", "max_abs_err"}}}`; a
/// number that is not finite is `null`.
pub fn json(r: &Report) -> String {
    let outputs: serde_json::Map<String, serde_json::Value> = r
        .outputs
        .iter()
        .map(|o| {
            let stats = serde_json::json!({
                "cosine_mean": o.cosine_mean(), "cosine_min": o.cosine_min, "max_abs_err": o.max_abs_err,
            });
            (o.name.clone(), stats)
        })
        .collect();
    let doc = serde_json::json!({
        "model": r.model, "scheme": r.scheme, "nonlinear": r.nonlinear, "calibration": r.calibration,
        "inputs": r.inputs, "outputs": outputs,
    });
    let mut text = serde_json::to_string_pretty(&doc).unwrap_or_default();
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cosine_edge_cases() {
        assert_eq!(cosine(&[1.0, 0.0], &[2.0, 0.0]), 1.0);
        assert_eq!(cosine(&[1.0, 0.0], &[0.0, 3.0]), 0.0);
        assert_eq!(cosine(&[0.0], &[0.0]), 1.0);
        assert_eq!(cosine(&[0.0], &[1.0]), 0.0);
        assert!((cosine(&[1.0, 1.0], &[1.0, -1.0])).abs() < 1e-12);
    }

    #[test]
    fn reports() {
        let mut o = OutputStats::new("onnx::Shape_422".into());
        let t = |v: &[f32]| Tensor {
            elem: weft_ir::ElemType::F32,
            shape: vec![2],
            data: weft_ir::TensorData::F32(v.to_vec()),
        };
        o.add(&t(&[1.0, 0.0]), &t(&[1.0, 0.5]));
        o.add(&t(&[1.0, 2.0]), &t(&[1.0, 2.0]));
        let r = Report {
            model: "m.onnx".into(),
            scheme: "w8a8".into(),
            nonlinear: "quark".into(),
            inputs: "2 inputs".into(),
            calibration: "random".into(),
            outputs: vec![o],
        };
        let j = json(&r);
        let v: serde_json::Value = serde_json::from_str(&j).unwrap();
        let out = &v["outputs"]["onnx::Shape_422"];
        assert_eq!(out["max_abs_err"], 0.5);
        assert!((out["cosine_min"].as_f64().unwrap() - 0.894427190999916).abs() < 1e-12);
        assert!((out["cosine_mean"].as_f64().unwrap() - 0.947213595499958).abs() < 1e-12);
        assert!(table(&r).contains("onnx::Shape_422     0.947214    0.894427     0.500000"), "{}", table(&r));
    }
}
