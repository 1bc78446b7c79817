//! Calibration on the JIT: the [`Evaluator`] `weft` gives the `quantize`
//! pass. It compiles the function once, keeping every observed value in
//! memory (`jit::compile_observing`), and each run reports the values
//! right after the kernels that compute them, so that the arena is reused
//! as in any run.
//!
//! Invariants: the histograms, and so the quantized program, are the ones
//! the reference interpreter would give: the JIT computes the
//! interpreter's bits for every nn op (tests/jit_*.rs; tests/cli_quant.rs
//! compares the two engines' quantized runs). When the JIT cannot compile
//! the function (an op it does not execute), the interpreter runs the
//! samples instead: slower, same result.

use weft_ir::{Diagnostic, Function, Module, Tensor, Value};
use weft_passes::transforms::quantize::calibrate::{Evaluator, Interpreter};

/// Runs calibration samples on the JIT.
#[derive(Debug, Clone, Copy, Default)]
pub struct JitEvaluator;

impl Evaluator for JitEvaluator {
    fn name(&self) -> &'static str {
        "jit"
    }

    fn evaluate(
        &self,
        module: &Module,
        func: &Function,
        observed: &[Value],
        samples: &[Vec<Tensor>],
        record: &mut dyn FnMut(Value, &Tensor),
    ) -> Result<(), Diagnostic> {
        let Ok(compiled) = weft_backends::jit::compile_observing(module, func, observed) else {
            return Interpreter.evaluate(module, func, observed, samples, record);
        };
        for (i, inputs) in samples.iter().enumerate() {
            let mut observe = |k: usize, t: &Tensor| {
                if let Some(&v) = observed.get(k) {
                    record(v, t);
                }
            };
            compiled
                .run_observing(inputs.clone(), &mut observe)
                .map_err(|d| d.prefixed(&format!("calibration sample #{i}: ")))?;
        }
        Ok(())
    }
}
