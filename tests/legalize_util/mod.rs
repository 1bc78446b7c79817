//! Shared steps of the differential tests of `legalize-onnx`: import an
//! ONNX model with static input shapes, run it with the reference
//! interpreter, run the `onnx-to-nn` pipeline, compare tensors.
#![allow(dead_code)]

pub mod engines;
pub mod node_cases;

use std::path::Path;
use weft_frontend::import::{import_model, ImportOptions};
use weft_frontend::onnx::proto::{DataType, TensorProto};
use weft_frontend::onnx::read_model;
use weft_ir::interp::run_function;
use weft_ir::ops::Trait;
use weft_ir::tensor::Scalar;
use weft_ir::{Context, ElemType, Function, Module, Tensor, TensorData};
use weft_passes::{PassManager, PassManagerOptions, PassRegistry, Pipeline};

/// The context of the driver: builtin, nn and onnx.
pub fn context() -> Context {
    let mut ctx = Context::default();
    ctx.register(&weft_frontend::dialect::DIALECT);
    ctx
}

/// The names of a model's graph inputs that are not initializers, in order.
pub fn graph_inputs(path: &Path) -> Result<Vec<String>, String> {
    let m = read_model(path).map_err(|d| d.message)?;
    let g = m.model.graph.as_ref().ok_or("no graph")?;
    let inits: Vec<&str> = g.initializer.iter().map(|t| t.name.as_str()).collect();
    Ok(g.input.iter().map(|i| i.name.clone()).filter(|n| !inits.contains(&n.as_str())).collect())
}

/// Imports `path` with each input's shape bound to its tensor's shape.
pub fn import_bound(path: &Path, ctx: &Context, inputs: &[(String, Tensor)]) -> Result<Module, String> {
    import_frozen(path, ctx, inputs, &[])
}

/// Like [`import_bound`], with the graph inputs in `frozen` made
/// initializers holding the given values (so the importer and the passes
/// see them as constants).
pub fn import_frozen(
    path: &Path,
    ctx: &Context,
    inputs: &[(String, Tensor)],
    frozen: &[(String, Tensor)],
) -> Result<Module, String> {
    let mut model = read_model(path).map_err(|d| d.message)?;
    if let Some(g) = model.model.graph.as_mut() {
        for (name, t) in frozen {
            g.input.retain(|i| &i.name != name);
            g.initializer.push(initializer(name, t).ok_or(format!("cannot freeze input '{name}' of type {}", t.elem))?);
        }
    }
    let opts = ImportOptions {
        input_shapes: inputs.iter().map(|(n, t)| (n.clone(), t.shape.clone())).collect(),
        ..ImportOptions::default()
    };
    import_model(&model, ctx, &opts).map_err(|ds| first_message(&ds))
}

/// A `TensorProto` holding `t` (f32, f64, i32 or i64) in its typed field.
fn initializer(name: &str, t: &Tensor) -> Option<TensorProto> {
    let mut p =
        TensorProto { name: name.to_string(), dims: t.shape.iter().map(|&d| d as i64).collect(), ..Default::default() };
    match (&t.elem, &t.data) {
        (ElemType::F32, TensorData::F32(v)) => (p.data_type, p.float_data) = (DataType::Float as i32, v.clone()),
        (ElemType::F64, TensorData::F64(v)) => (p.data_type, p.double_data) = (DataType::Double as i32, v.clone()),
        (&ElemType::I64, TensorData::Int(v)) => (p.data_type, p.int64_data) = (DataType::Int64 as i32, v.clone()),
        (&ElemType::I32, TensorData::Int(v)) => {
            (p.data_type, p.int32_data) = (DataType::Int32 as i32, v.iter().map(|&x| x as i32).collect())
        }
        // Narrow integers go in int32_data, one per entry; 4-bit ones in
        // packed pairs (first element in the low nibble).
        (ElemType::Int { width: w @ (4 | 8 | 16), signed }, TensorData::Int(v)) => {
            p.data_type = match (w, signed) {
                (4, true) => DataType::Int4,
                (4, false) => DataType::Uint4,
                (8, true) => DataType::Int8,
                (8, false) => DataType::Uint8,
                (16, true) => DataType::Int16,
                _ => DataType::Uint16,
            } as i32;
            p.int32_data = if *w == 4 {
                v.chunks(2).map(|c| (c[0] & 0xf | (c.get(1).copied().unwrap_or(0) & 0xf) << 4) as i32).collect()
            } else {
                v.iter().map(|&x| x as i32).collect()
            };
        }
        (ElemType::F16, TensorData::F16(v)) => {
            (p.data_type, p.int32_data) = (DataType::Float16 as i32, v.iter().map(|x| i32::from(x.to_bits())).collect())
        }
        _ => return None,
    }
    Some(p)
}

fn first_message(ds: &[weft_ir::Diagnostic]) -> String {
    ds.first().map_or_else(|| "(no message)".to_string(), |d| d.message.clone())
}

/// Runs `@main` (or the only function) of `module` on `inputs`.
pub fn run(module: &Module, inputs: &[Tensor]) -> Result<Vec<Tensor>, String> {
    let f = module.func("main").or(module.funcs.first()).ok_or("no function")?;
    run_function(module, f, inputs.to_vec()).map_err(|d| d.message)
}

/// Runs the `onnx-to-nn` pipeline (verifying after every pass).
pub fn legalize(module: &mut Module, ctx: &Context) -> Result<(), String> {
    let registry = PassRegistry::with_builtin_passes();
    let pipeline = Pipeline::parse("onnx-to-nn").map_err(|e| e.to_string())?;
    let mut pm = PassManager::new(&registry, &pipeline, PassManagerOptions::default())?;
    let mut log = String::new();
    pm.run(module, ctx, &mut log).map(|_| ()).map_err(|ds| first_message(&ds))
}

/// The names of the ops left outside the builtin and nn dialects (quant
/// ops included: callers decide whether they are expected).
pub fn foreign_ops(module: &Module) -> Vec<&'static str> {
    let mut names: Vec<&'static str> = module
        .funcs
        .iter()
        .flat_map(|f| f.walk().into_iter().map(move |op| f.ops[op].name()))
        .filter(|n| !n.starts_with("nn.") && !n.starts_with("builtin."))
        .collect();
    names.sort_unstable();
    names.dedup();
    names
}

/// Checks `got` against `want`: same type and shape, integers equal,
/// floats within `atol + rtol * |want|` (NaN matches NaN, infinities match
/// themselves).
pub fn compare(got: &Tensor, want: &Tensor, rtol: f64, atol: f64) -> Result<(), String> {
    if got.elem != want.elem || got.shape != want.shape {
        return Err(format!("got {} {:?}, expected {} {:?}", got.elem, got.shape, want.elem, want.shape));
    }
    let mut worst: Option<(usize, f64, f64)> = None;
    for i in 0..want.data.len() {
        let (g, w) = (value(got.data.get(i)), value(want.data.get(i)));
        let same = g == w || (g.is_nan() && w.is_nan());
        let close = g.is_finite() && w.is_finite() && (g - w).abs() <= atol + rtol * w.abs();
        if !same && !close && worst.is_none_or(|(_, a, b)| (g - w).abs() > (a - b).abs()) {
            worst = Some((i, g, w));
        }
    }
    match worst {
        None => Ok(()),
        Some((i, g, w)) => Err(format!("element {i} is {g}, expected {w} (rtol {rtol}, atol {atol})")),
    }
}

fn value(s: Scalar) -> f64 {
    match s {
        Scalar::Float(x) => x,
        Scalar::Int(v) => v as f64,
    }
}

/// The relative tolerance between the interpreter's results before and
/// after legalization: a few units in the last place of the element type
/// (rewrites may round intermediate results where ONNX rounds once).
pub fn legalization_rtol(elem: &ElemType) -> f64 {
    match elem {
        ElemType::F16 => 4e-3,
        ElemType::BF16 => 3e-2,
        ElemType::F64 => 1e-12,
        _ => 1e-5,
    }
}

/// A `.npy` file of f32, f64, i32 or i64 values as a tensor.
pub fn read_npy(path: &Path) -> Result<Tensor, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let npy = npyz::NpyFile::new(&bytes[..]).map_err(|e| format!("{}: {e}", path.display()))?;
    let shape: Vec<u64> = npy.shape().to_vec();
    let err = |e: std::io::Error| format!("{}: {e}", path.display());
    let (elem, data) = match npy.dtype().descr().as_str() {
        "'<f4'" => (ElemType::F32, TensorData::F32(npy.into_vec::<f32>().map_err(err)?)),
        "'<f8'" => (ElemType::F64, TensorData::F64(npy.into_vec::<f64>().map_err(err)?)),
        "'<i4'" => {
            (ElemType::I32, TensorData::Int(npy.into_vec::<i32>().map_err(err)?.into_iter().map(i64::from).collect()))
        }
        "'<i8'" => (ElemType::I64, TensorData::Int(npy.into_vec::<i64>().map_err(err)?)),
        other => return Err(format!("{}: dtype {other} not handled by this test", path.display())),
    };
    Ok(Tensor { elem, shape, data })
}

/// NumPy and ONNX test data hold bf16 values as uint16 bit patterns: `t`
/// reinterpreted as bf16 when it is u16 and `want` is bf16.
pub fn bf16_from_bits(t: Tensor, want: &ElemType) -> Tensor {
    match t.data {
        TensorData::Int(bits) if *want == ElemType::BF16 && t.elem == (ElemType::Int { width: 16, signed: false }) => {
            Tensor {
                elem: ElemType::BF16,
                shape: t.shape,
                data: TensorData::BF16(bits.into_iter().map(|b| half::bf16::from_bits(b as u16)).collect()),
            }
        }
        data => Tensor { data, ..t },
    }
}

/// The largest magnitude in `t` (0 for an empty or integer-free tensor).
pub fn max_abs(t: &Tensor) -> f64 {
    (0..t.data.len()).map(|i| value(t.data.get(i)).abs()).filter(|v| v.is_finite()).fold(0.0, f64::max)
}

/// A deterministic xorshift stream seeded by a name.
pub struct Noise(u64);

impl Noise {
    pub fn new(name: &str) -> Noise {
        // FNV-1a of the name.
        let h = name.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3));
        Noise(h | 1)
    }

    /// Uniform in [0, 1).
    pub fn next(&mut self) -> f64 {
        let s = &mut self.0;
        *s ^= *s << 13;
        *s ^= *s >> 7;
        *s ^= *s << 17;
        (*s >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Whether the interpreter can run every op of `func`.
pub fn evaluates(func: &Function) -> bool {
    func.walk().into_iter().all(|op| {
        let d = &func.ops[op];
        d.regions.is_empty()
            && (d.def.eval.is_some() || d.def.has_trait(Trait::ConstantLike) || d.def.has_trait(Trait::Terminator))
    })
}
