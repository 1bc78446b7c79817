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
//! samples instead (slower, same result), with a warning that says why.

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
    ) -> Result<Vec<Diagnostic>, Diagnostic> {
        let compiled = match weft_backends::jit::compile_observing(module, func, observed) {
            Ok(compiled) => compiled,
            Err(why) => {
                let mut warnings = Interpreter.evaluate(module, func, observed, samples, record)?;
                let note = format!(
                    "calibrating '@{}' on the interpreter (slower, same result): the JIT cannot compile it: {}",
                    func.name, why.message
                );
                warnings.insert(0, Diagnostic::warning(note, why.span));
                return Ok(warnings);
            }
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
        Ok(Vec::new())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use weft_ir::parser::parse_str;
    use weft_ir::Context;

    /// f16 arithmetic, which the JIT does not compile.
    const HALF: &str = r#"
func @half(%x: tensor<4xf16>) -> tensor<4xf16> {
  %0 = nn.add %x, %x : (tensor<4xf16>, tensor<4xf16>) -> tensor<4xf16>
  return %0 : tensor<4xf16>
}
"#;

    #[test]
    fn a_function_the_jit_cannot_compile_runs_on_the_interpreter_with_a_warning() {
        let module = parse_str(&Context::default(), "t.weft", HALF).1.unwrap_or_else(|e| panic!("{e:?}"));
        let func = &module.funcs[0];
        let observed = [func.walk().into_iter().find_map(|o| func.ops[o].results.first().copied()).expect("a result")];
        let x = Tensor::from_fn(weft_ir::ElemType::F16, vec![4], |i| weft_ir::tensor::Scalar::Float(i as f64));
        let mut seen = Vec::new();
        let warnings = JitEvaluator
            .evaluate(&module, func, &observed, &[vec![x]], &mut |v, t| seen.push((v, t.clone())))
            .unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        let text = &warnings[0].message;
        assert!(
            text.starts_with(
                "calibrating '@half' on the interpreter (slower, same result): the JIT cannot compile it: "
            ),
            "{text}"
        );
        assert_eq!(seen.len(), 1);
        let want = Tensor::from_fn(weft_ir::ElemType::F16, vec![4], |i| weft_ir::tensor::Scalar::Float(2.0 * i as f64));
        assert_eq!(seen[0].1, want);
    }
}
