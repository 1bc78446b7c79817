//! `weft report MODEL --quant SCHEME --nonlinear [--json]`: the nonlinear
//! hardware of a quantized model as `share-nonlinear` plans it, with one
//! shared unit and without sharing (each op kind its own unit), in the
//! resource model of spec/hw.md, beside QUARK's Table IV, with each op
//! kind's rate on the unit (initiation interval, passes, elements per
//! cycle) so that an area saving bought with throughput shows.
//!
//! Invariants: the model is imported, legalized and quantized exactly as
//! `weft accuracy MODEL --quant` does, plus `fuse` (random calibration samples, their
//! number `--samples`, when no `--calibrate`); the report is computed, not
//! measured, so it is deterministic; `--nonlinear` is the only section so
//! far and is required.

mod json;
mod render;

use crate::import_cmd::{format_of, import_file, import_options, parse_input_shape, InputShape, ModelFormat};
use crate::quant_opts::{parse_nonlinear, parse_quant, quantize_module, run_pipeline, Calibrator};
use crate::samples::load_samples;
use std::path::PathBuf;
use std::time::Instant;
use weft_frontend::import::DEFAULT_INLINE_LIMIT;
use weft_ir::diag::render_all;
use weft_ir::{Diagnostic, Module, SourceMap, Span};
use weft_passes::transforms::lower_nonlinear::{LowerNonlinear, Method};
use weft_passes::transforms::quantize::scheme::parse_scheme;
use weft_passes::transforms::share_nonlinear::ii::Ii;
use weft_passes::transforms::share_nonlinear::{plan_function, ShareOptions, SharePlan};

#[derive(Debug, clap::Args)]
pub struct ReportArgs {
    /// The model (.onnx, .onnxtxt or .weft).
    #[arg(value_name = "MODEL")]
    pub model: PathBuf,
    /// The quantization: wXaY or a TOML file (as for `weft accuracy`).
    #[arg(long, value_name = "SCHEME")]
    pub quant: String,
    /// Report the nonlinear units (share-nonlinear's plan).
    #[arg(long)]
    pub nonlinear: bool,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Under each unit of the table, list its primitive instances (widths,
    /// copies, modes, uses) with their resources, widest cost first.
    #[arg(long)]
    pub units: bool,
    /// Elements per cycle of each nonlinear unit.
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u64).range(1..))]
    pub lanes: u64,
    /// Pin every op kind to one method (quark, ibert, lut) instead of
    /// letting share-nonlinear choose; QUARK's setting is always reported too.
    #[arg(long, value_name = "METHOD", value_parser = parse_method)]
    pub methods: Option<Method>,
    /// Initiation intervals of the first plan (cycles per element per
    /// lane): `1` (full rate), `N`, `auto` (the smallest unit within each
    /// kind's rate), or per kind `gelu=3,softmax=1` (a bare value sets
    /// the rest). QUARK's setting is reported with `auto` and at full rate.
    #[arg(long, value_name = "SPEC", default_value = "1", value_parser = parse_ii)]
    pub ii: IiSpec,
    /// Bits of the activations other than matmul inputs (the nonlinear
    /// ops' inputs among them). Default with a wXaY scheme: Y, as in
    /// QUARK's WxAy (with a TOML file: what it says).
    #[arg(long = "wide-acts", value_name = "BITS", value_parser = clap::value_parser!(u8).range(4..=16))]
    pub wide_acts: Option<u8>,
    /// Calibration samples (a directory of NAME.npy, or of such directories).
    #[arg(long, value_name = "DIR")]
    pub calibrate: Option<PathBuf>,
    /// Random calibration samples to draw without --calibrate (the scales
    /// do not change the hardware; the widths do).
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..))]
    pub samples: u64,
    /// A static shape for an input of an ONNX model, as for `weft import`.
    #[arg(long = "input-shape", value_name = "NAME=DIMS", value_parser = parse_input_shape)]
    pub input_shapes: Vec<InputShape>,
}

fn parse_method(text: &str) -> Result<Method, String> {
    Method::parse(text)
}

/// `--ii`: the option settings of share-nonlinear it stands for, as
/// `(option, value)` pairs, checked on a scratch [`ShareOptions`].
#[derive(Debug, Clone)]
pub struct IiSpec {
    pub text: String,
    pub settings: Vec<(String, String)>,
}

impl IiSpec {
    fn apply(&self, options: &mut ShareOptions) -> Result<(), String> {
        self.settings.iter().try_for_each(|(name, value)| options.set(name, value))
    }
}

fn parse_ii(text: &str) -> Result<IiSpec, String> {
    let settings: Vec<(String, String)> = text
        .split(',')
        .map(|item| match item.split_once('=') {
            Some((kind, value)) => (format!("{}-ii", kind.trim()), value.trim().to_string()),
            None => ("ii".to_string(), item.trim().to_string()),
        })
        .collect();
    // A bare value first, so that `gelu=3,1` means what `1,gelu=3` does.
    let mut settings = settings;
    settings.sort_by_key(|(name, _)| name != "ii");
    let spec = IiSpec { text: text.to_string(), settings };
    spec.apply(&mut ShareOptions::default())?;
    Ok(spec)
}

/// What the report shows for one model.
pub struct NonlinearReport {
    pub model: String,
    pub scheme: String,
    pub lanes: u64,
    /// The bits of the nonlinear ops' inputs the quantizer was asked for.
    pub wide_acts: u8,
    /// `--methods`, when given.
    pub pinned: Option<Method>,
    /// share-nonlinear's plan (each kind's method chosen, or `--methods`).
    pub plan: SharePlan,
    /// `--ii` as given.
    pub ii: String,
    /// QUARK's setting: every kind pinned to `quark` (which admits its
    /// log-domain variant `quark-log`), intervals `auto`
    /// (GELU time-multiplexed on the softmax's rate), or why it cannot be.
    pub quark: Result<SharePlan, String>,
    /// QUARK's setting at full rate (every interval 1).
    pub quark_full_rate: Result<SharePlan, String>,
    /// Wall time of planning (inventories, e-graph, choice).
    pub plan_seconds: f64,
    /// `--units`: list each unit's primitive instances.
    pub units: bool,
}

pub fn run(args: &ReportArgs) -> u8 {
    let mut sources = SourceMap::new();
    if !args.nonlinear {
        eprintln!("error: nothing to report: give --nonlinear");
        return 2;
    }
    match build(args, &mut sources) {
        Ok(r) => {
            print!("{}", if args.json { json::json(&r) } else { render::table(&r) });
            0
        }
        Err(ds) => {
            eprint!("{}", render_all(&ds, &sources));
            1
        }
    }
}

/// A diagnostic of the pinned plan in one line: its message and why the
/// pinned method cannot serve.
fn why_not(d: &Diagnostic) -> String {
    let notes = d.notes.iter().take(1);
    std::iter::once(d.message.as_str()).chain(notes.map(|n| n.message.as_str())).collect::<Vec<_>>().join(": ")
}

fn error(message: impl Into<String>) -> Vec<Diagnostic> {
    vec![Diagnostic::error(message, Span::NONE)]
}

fn build(args: &ReportArgs, sources: &mut SourceMap) -> Result<NonlinearReport, Vec<Diagnostic>> {
    let ctx = crate::context();
    let mut spec = parse_quant(&args.quant).map_err(|d| vec![d])?;
    spec.file.samples = Some(args.samples);
    // share-nonlinear plans the quant nonlinear ops themselves: they stay
    // unlowered here.
    spec.nonlinear = parse_nonlinear("float").map_err(|d| vec![d])?;
    let base = &mut spec.file.config.base;
    match args.wide_acts {
        Some(bits) => base.wide_acts = bits,
        None if parse_scheme(&args.quant).is_ok() => base.wide_acts = base.acts,
        None => {}
    }
    let wide_acts = base.wide_acts.max(base.acts);
    let mut module = load(args, &ctx, sources)?;
    let samples = match &args.calibrate {
        Some(dir) => {
            let f = module.funcs.first().ok_or_else(|| error("the model has no function"))?;
            Some(load_samples(dir, f).map_err(|e| error(format!("--calibrate: {e}")))?)
        }
        None => None,
    };
    let warnings = quantize_module(&mut module, &ctx, &spec, samples, Calibrator::Jit)?;
    eprint!("{}", render_all(&warnings, sources));
    let mut options = ShareOptions { lanes: args.lanes, ..ShareOptions::default() };
    options.pin_all(args.methods);
    args.ii.apply(&mut options).map_err(|e| error(format!("--ii: {e}")))?;
    let start = Instant::now();
    let plan = plan_module(&module, &options)?;
    let plan_seconds = start.elapsed().as_secs_f64();
    options.pin_all(Some(Method::Quark));
    let quark_plan = |options: &ShareOptions| {
        plan_module(&module, options).map_err(|ds| ds.iter().map(why_not).collect::<Vec<_>>().join("; "))
    };
    options.ii_all(Ii::Auto);
    let quark = quark_plan(&options);
    options.ii_all(Ii::Fixed(1));
    let quark_full_rate = quark_plan(&options);
    Ok(NonlinearReport {
        model: args.model.display().to_string(),
        scheme: spec.text.clone(),
        lanes: args.lanes,
        wide_acts,
        pinned: args.methods,
        plan,
        ii: args.ii.text.clone(),
        quark,
        quark_full_rate,
        plan_seconds,
        units: args.units,
    })
}

fn load(args: &ReportArgs, ctx: &weft_ir::Context, sources: &mut SourceMap) -> Result<Module, Vec<Diagnostic>> {
    let format = format_of(&args.model).map_err(error)?;
    let mut module = if format == ModelFormat::Weft {
        crate::run_cmd::load_weft(&args.model, ctx, sources)?
    } else {
        import_file(&args.model, &import_options(&args.input_shapes, DEFAULT_INLINE_LIMIT), ctx, sources)?
    };
    // `onnx-to-nn` fuses the decomposed GELU, Softmax and LayerNorm of
    // exported models, so they quantize to quant nonlinear ops.
    run_pipeline(&mut module, ctx, "onnx-to-nn")?;
    Ok(module)
}

/// The plan of the function with nonlinear ops (`@main` first).
fn plan_module(module: &Module, options: &ShareOptions) -> Result<SharePlan, Vec<Diagnostic>> {
    let lower = LowerNonlinear::default();
    let mut funcs: Vec<&weft_ir::Function> = module.funcs.iter().collect();
    funcs.sort_by_key(|f| f.name != "main");
    for f in funcs {
        if let Some(plan) = plan_function(f, &module.resources, &lower, options).map_err(|d| vec![d])? {
            return Ok(plan);
        }
    }
    Err(error("the quantized model has no nonlinear op (quant.softmax, quant.gelu, quant.layer_norm, ...)"))
}
