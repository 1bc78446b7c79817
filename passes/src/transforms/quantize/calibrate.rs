//! Calibration: the sample inputs (given, or drawn from a seeded generator)
//! and the statistics of every float value of a function over them,
//! gathered by running the function on an [`Evaluator`]: the reference
//! interpreter ([`Interpreter`]) unless the driver gives a faster engine
//! (`weft` gives its JIT, which computes the same bits).
//!
//! The observed values ([`observed_values`]) are the float results of the
//! ops of the function's body, except constants of more than
//! [`MAX_OBSERVED_CONSTANT`] elements (weights, quantized on their own),
//! plus the float arguments, which are recorded from the samples.
//!
//! Random samples: float inputs are standard normal; integer inputs used
//! as `nn.gather` indices are uniform over the gathered axis (token ids
//! over the vocabulary); other integer and bool inputs are 1 (attention
//! masks: every position valid).
//!
//! Invariants: the same seed gives the same samples on every machine
//! (SplitMix64 and Box-Muller, no platform randomness); samples are checked
//! against the function's input types before anything runs, with messages
//! naming the sample and the input.

use super::observer::Histogram;
use std::collections::{HashMap, HashSet};
use weft_ir::interp::{input_names, run_function_with, DimBindings, OpEvent, RunOptions};
use weft_ir::ops::Trait;
use weft_ir::tensor::{Scalar, Tensor, TensorData};
use weft_ir::{Diagnostic, ElemType, Function, Module, Type, Value};

/// Constants with more elements than this are not observed.
pub const MAX_OBSERVED_CONSTANT: u64 = 4096;

/// The statistics of every float value of a function.
#[derive(Debug, Default)]
pub struct Calibration {
    pub hist: HashMap<Value, Histogram>,
    pub samples: usize,
    /// What the engine had to say (such as running on another engine).
    pub warnings: Vec<Diagnostic>,
}

impl Calibration {
    pub fn get(&self, v: Value) -> Option<&Histogram> {
        self.hist.get(&v)
    }
}

/// Runs a function on calibration samples and reports the values
/// calibration observes. Every implementation must compute the values the
/// reference interpreter computes, bit for bit: the histograms, and so the
/// quantized program, must not depend on the engine.
pub trait Evaluator: std::fmt::Debug + Send + Sync {
    /// The engine's name (statistics, messages).
    fn name(&self) -> &'static str;

    /// Runs `func` on every sample and calls `record` with each value of
    /// `observed` (results of ops of the function's body) and its tensor;
    /// returns warnings for the user (the pass reports them). Errors name
    /// the sample (`calibration sample #i: ...`).
    fn evaluate(
        &self,
        module: &Module,
        func: &Function,
        observed: &[Value],
        samples: &[Vec<Tensor>],
        record: &mut dyn FnMut(Value, &Tensor),
    ) -> Result<Vec<Diagnostic>, Diagnostic>;
}

/// The reference interpreter as an [`Evaluator`].
#[derive(Debug, Clone, Copy, Default)]
pub struct Interpreter;

impl Evaluator for Interpreter {
    fn name(&self) -> &'static str {
        "interpreter"
    }

    fn evaluate(
        &self,
        module: &Module,
        func: &Function,
        observed: &[Value],
        samples: &[Vec<Tensor>],
        record: &mut dyn FnMut(Value, &Tensor),
    ) -> Result<Vec<Diagnostic>, Diagnostic> {
        let wanted: HashSet<Value> = observed.iter().copied().collect();
        for (i, inputs) in samples.iter().enumerate() {
            let mut on_op = |e: &OpEvent| {
                for (&v, t) in e.data.results.iter().zip(e.results) {
                    if wanted.contains(&v) {
                        record(v, t);
                    }
                }
            };
            let options = RunOptions { on_op: Some(&mut on_op) };
            run_function_with(module, func, inputs.clone(), options)
                .map_err(|d| d.prefixed(&format!("calibration sample #{i}: ")))?;
        }
        Ok(Vec::new())
    }
}

/// The values calibration observes in `func` (see the module doc), in
/// program order.
pub fn observed_values(func: &Function) -> Vec<Value> {
    let mut values = Vec::new();
    for &op in &func.blocks[func.body].ops {
        let data = &func.ops[op];
        for &v in &data.results {
            let Some(t) = func.value_type(v).as_tensor() else { continue };
            if !t.elem.is_float() {
                continue;
            }
            // Large constants are weights, quantized on their own; only
            // small ones (scalars, biases) may be read as activations.
            let numel = t.static_shape().map(|s| s.iter().product::<u64>());
            if data.def.has_trait(Trait::ConstantLike) && numel.is_none_or(|n| n > MAX_OBSERVED_CONSTANT) {
                continue;
            }
            values.push(v);
        }
    }
    values
}

/// Runs `func` on every sample with `engine` and records every float
/// argument and every value of [`observed_values`].
pub fn observe(
    module: &Module,
    func: &Function,
    samples: &[Vec<Tensor>],
    engine: &dyn Evaluator,
) -> Result<Calibration, Diagnostic> {
    let mut cal = Calibration { samples: samples.len(), ..Calibration::default() };
    for inputs in samples {
        for (&arg, t) in func.args().iter().zip(inputs) {
            record(&mut cal.hist, arg, t);
        }
    }
    let observed = observed_values(func);
    cal.warnings = engine.evaluate(module, func, &observed, samples, &mut |v, t| record(&mut cal.hist, v, t))?;
    Ok(cal)
}

fn record(hist: &mut HashMap<Value, Histogram>, v: Value, t: &Tensor) {
    if matches!(t.data, TensorData::Int(_)) {
        return;
    }
    let h = hist.entry(v).or_default();
    match &t.data {
        TensorData::F32(x) => h.add_f32(x),
        TensorData::F64(x) => h.add(x.iter().copied()),
        TensorData::F16(x) => h.add(x.iter().map(|x| x.to_f64())),
        TensorData::BF16(x) => h.add(x.iter().map(|x| x.to_f64())),
        TensorData::Int(_) => {}
    }
}

/// Checks that every sample has one tensor per input, of its type.
pub fn check_samples(func: &Function, samples: &[Vec<Tensor>]) -> Result<(), String> {
    let names = input_names(func);
    let types = func.arg_types();
    for (i, inputs) in samples.iter().enumerate() {
        if inputs.len() != types.len() {
            return Err(format!(
                "calibration sample #{i} has {} inputs, the function takes {}",
                inputs.len(),
                types.len()
            ));
        }
        let mut dims = DimBindings::default();
        for (j, (t, ty)) in inputs.iter().zip(&types).enumerate() {
            let name = names.get(j).map_or("", String::as_str);
            dims.check(ty, t, &format!("calibration sample #{i}: input '{name}'"))?;
        }
    }
    Ok(())
}

/// `count` seeded random samples for the inputs of `func` (see the module
/// doc); every input needs a static shape.
pub fn random_inputs(func: &Function, count: usize, seed: u64) -> Result<Vec<Vec<Tensor>>, String> {
    let names = input_names(func);
    let bounds = gather_bounds(func);
    let mut rng = SplitMix64(seed);
    let mut samples = Vec::with_capacity(count);
    for _ in 0..count {
        let mut inputs = Vec::new();
        for (j, &arg) in func.args().iter().enumerate() {
            let ty = func.value_type(arg);
            let name = names.get(j).map_or("", String::as_str);
            inputs.push(
                random_tensor(ty, bounds.get(&arg).copied(), &mut rng).map_err(|e| format!("input '{name}': {e}"))?,
            );
        }
        samples.push(inputs);
    }
    Ok(samples)
}

fn random_tensor(ty: &Type, bound: Option<u64>, rng: &mut SplitMix64) -> Result<Tensor, String> {
    let t = ty.as_tensor().ok_or_else(|| format!("has type {ty}, not a tensor"))?;
    let shape = t.static_shape().ok_or_else(|| {
        format!(
            "has type {t}: random samples need static shapes (bind the inputs' shapes, e.g. --input-shape NAME=1x128)"
        )
    })?;
    let n: u64 = shape.iter().product();
    let elem = t.elem.clone();
    let data = match &elem {
        e if e.is_float() => {
            let mut d = TensorData::empty_for(e, n as usize);
            for _ in 0..n {
                d.push(Scalar::Float(rng.normal()));
            }
            d
        }
        ElemType::Int { .. } | ElemType::Bool => {
            let v = (0..n).map(|_| bound.map_or(1, |b| (rng.next() % b.max(1)) as i64)).collect();
            TensorData::Int(v)
        }
        other => {
            return Err(format!(
                "has element type {other}; random samples are drawn for float, integer and bool inputs"
            ))
        }
    };
    Ok(Tensor { elem, shape, data })
}

/// For integer arguments used as `nn.gather` indices: the least extent of
/// a gathered axis.
fn gather_bounds(func: &Function) -> HashMap<Value, u64> {
    let mut bounds: HashMap<Value, u64> = HashMap::new();
    let args = func.args();
    for op in func.walk() {
        let data = &func.ops[op];
        let [table, indices] = data.operands[..] else { continue };
        if data.name() != "nn.gather" || !args.contains(&indices) {
            continue;
        }
        let axis = data.attr("axis").and_then(|a| a.as_int()).unwrap_or(0);
        let Some(t) = func.value_type(table).as_tensor() else { continue };
        let rank = t.rank() as i64;
        let a = if axis < 0 { axis + rank } else { axis };
        if let Some(extent) = usize::try_from(a).ok().and_then(|a| t.dims.get(a)).and_then(|d| d.fixed()) {
            let e = bounds.entry(indices).or_insert(extent);
            *e = (*e).min(extent);
        }
    }
    bounds
}

/// SplitMix64: a small, well-mixed, portable generator.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in (0, 1].
    fn unit(&mut self) -> f64 {
        ((self.next() >> 11) + 1) as f64 / (1u64 << 53) as f64
    }

    /// Standard normal (Box-Muller, one value per call).
    fn normal(&mut self) -> f64 {
        let (u, v) = (self.unit(), self.unit());
        (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use weft_ir::parser::parse_str;
    use weft_ir::Context;

    const EMBEDDING: &str = "func @main(%ids: tensor<1x4xi64>, %mask: tensor<1x4xi64>, %x: tensor<2xf32>) -> (tensor<1x4x2xf32>, tensor<2xf32>) {
  %table = constant dense<[[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]> : tensor<3x2xf32>
  %e = nn.gather %table, %ids {axis = 0} : (tensor<3x2xf32>, tensor<1x4xi64>) -> tensor<1x4x2xf32>
  %y = nn.relu %x : tensor<2xf32>
  return %e, %y : tensor<1x4x2xf32>, tensor<2xf32>
}";

    #[test]
    fn random_samples_respect_gathers_and_are_reproducible() {
        let m = parse_str(&Context::default(), "t.weft", EMBEDDING).1.unwrap();
        let f = &m.funcs[0];
        let a = random_inputs(f, 3, 7).unwrap();
        assert_eq!(a, random_inputs(f, 3, 7).unwrap());
        assert_ne!(a, random_inputs(f, 3, 8).unwrap());
        for s in &a {
            let TensorData::Int(ids) = &s[0].data else { panic!() };
            assert!(ids.iter().all(|&i| (0..3).contains(&i)), "{ids:?}");
            assert_eq!(s[1].data, TensorData::Int(vec![1; 4]), "masks are all ones");
        }
        check_samples(f, &a).unwrap();
        let cal = observe(&m, f, &a, &Interpreter).unwrap();
        let relu = f.ops[f.walk()[2]].results[0];
        let h = cal.get(relu).unwrap();
        assert_eq!(h.count, 6);
        assert!(h.min >= 0.0);
    }

    #[test]
    fn wrong_samples_are_named() {
        let m = parse_str(&Context::default(), "t.weft", EMBEDDING).1.unwrap();
        let f = &m.funcs[0];
        let mut s = random_inputs(f, 1, 0).unwrap();
        s[0][2] = Tensor { elem: ElemType::F32, shape: vec![3], data: TensorData::F32(vec![0.0; 3]) };
        let e = check_samples(f, &s).unwrap_err();
        assert_eq!(e, "calibration sample #0: input 'arg2' has extent 3 in dimension 0, but tensor<2xf32> needs 2");
        s[0][2] = Tensor { elem: ElemType::F64, shape: vec![2], data: TensorData::F64(vec![0.0; 2]) };
        assert!(check_samples(f, &s).unwrap_err().contains("has element type f64, but f32 is expected"));
        s[0].pop();
        assert_eq!(check_samples(f, &s).unwrap_err(), "calibration sample #0 has 2 inputs, the function takes 3");
    }
}
