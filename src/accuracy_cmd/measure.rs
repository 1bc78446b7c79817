//! Measuring one op, method and width: a module with the one quant op on
//! the workload's formats, run as it is (the ideal op) and after
//! `lower-nonlinear{method=...}` (the method), both by the reference
//! interpreter, each compared with the f64 reference.
//!
//! Invariants: the lowered module is verified before it runs; an op the
//! method cannot build gives the pass's own diagnostic, unchanged.

use super::workload::Workload;
use weft_ir::interp::run_function;
use weft_ir::parser::parse_str;
use weft_ir::tensor::{Tensor, TensorData};
use weft_ir::types::{QuantInt, QuantParams};
use weft_ir::verify::verify_module;
use weft_ir::{Context, Diagnostic, ElemType, Module, Span};
use weft_passes::transforms::lower_nonlinear::{LowerNonlinear, Method, OpKind, QuarkTables};
use weft_passes::{Pass, PassContext};

/// Absolute errors against the f64 reference, in the workload's unit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Errors {
    pub max: f64,
    pub mean: f64,
}

/// The method's errors and the ideal quantized op's (the floor any
/// method at this width has).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Measurement {
    pub method: Errors,
    pub ideal: Errors,
}

/// The module text of the workload's op.
fn module_text(w: &Workload) -> String {
    let shape: String = w.shape.iter().map(|d| format!("{d}x")).collect();
    let (x, y) = (format!("tensor<{shape}{}>", w.x.type_text()), format!("tensor<{shape}{}>", w.y.type_text()));
    let op = w.kind.op_name();
    let body = match w.kind {
        OpKind::Softmax => format!("%0 = {op} %x {{axis = -1}} : ({x}) -> {y}"),
        OpKind::LayerNorm => {
            let lanes = w.shape.last().copied().unwrap_or(1);
            let p = format!("tensor<{lanes}xf32>");
            format!(
                "%g = constant dense<1.0> : {p}\n  %b = constant dense<0.0> : {p}\n  \
                 %0 = {op} %x, %g, %b {{axis = -1, epsilon = {:?}}} : ({x}, {p}, {p}) -> {y}",
                w.epsilon
            )
        }
        _ => format!("%0 = {op} %x : ({x}) -> {y}"),
    };
    format!("func @{}(%x: {x}) -> {y} {{\n  {body}\n  return %0 : {y}\n}}\n", w.kind.option().replace('-', "_"))
}

/// The workload's module, parsed and verified.
pub fn build(w: &Workload) -> Result<Module, Diagnostic> {
    let (_, parsed) = parse_str(&Context::default(), "accuracy.weft", &module_text(w));
    let m = parsed.map_err(first)?;
    verify_module(&m).map_err(first)?;
    Ok(m)
}

fn first(mut diags: Vec<Diagnostic>) -> Diagnostic {
    if diags.is_empty() {
        return Diagnostic::error("unknown error", Span::NONE);
    }
    diags.swap_remove(0)
}

/// Lowers `m` with `method` (and `tables` for quark); the pass's
/// diagnostic when it cannot.
pub fn lower(m: &mut Module, method: Method, tables: QuarkTables) -> Result<(), Diagnostic> {
    let ctx = Context::default();
    let mut cx = PassContext::new(&ctx);
    LowerNonlinear::with_method(method).with_tables(tables).run(m, &mut cx)?;
    verify_module(m).map_err(first)
}

fn input_tensor(w: &Workload) -> Tensor {
    let params = QuantParams::PerTensor { scale: w.x.scale, zp: w.x.zp };
    let elem = ElemType::Quant(Box::new(QuantInt { width: w.x.width, signed: w.x.signed, params }));
    Tensor { elem, shape: w.shape.clone(), data: TensorData::Int(w.codes.clone()) }
}

/// Runs `m` on the workload's input; the errors of its dequantized result.
fn errors_of(m: &Module, w: &Workload) -> Result<Errors, Diagnostic> {
    let out = run_function(m, &m.funcs[0], vec![input_tensor(w)])?;
    let TensorData::Int(codes) = &out[0].data else {
        return Err(Diagnostic::error("the result is not quantized", Span::NONE));
    };
    let diffs: Vec<f64> = codes.iter().zip(&w.reference).map(|(&q, &r)| (w.y.real(q) - r).abs() / w.unit).collect();
    let max = diffs.iter().fold(0.0f64, |m, &d| m.max(d));
    let mean = diffs.iter().sum::<f64>() / diffs.len().max(1) as f64;
    Ok(Errors { max, mean })
}

/// The errors of the ideal op and of `method` on the workload.
pub fn measure(w: &Workload, method: Method, tables: QuarkTables) -> Result<Measurement, Diagnostic> {
    let ideal_module = build(w)?;
    let mut lowered = ideal_module.clone();
    lower(&mut lowered, method, tables)?;
    Ok(Measurement { method: errors_of(&lowered, w)?, ideal: errors_of(&ideal_module, w)? })
}

#[cfg(test)]
mod tests {
    use super::super::workload::workload;
    use super::*;

    const DEFAULT: QuarkTables = QuarkTables::Fitted(4);

    #[test]
    fn modules_parse_for_every_kind() {
        for kind in OpKind::ALL {
            let w = workload(kind, 6);
            let m = build(&w).unwrap_or_else(|d| panic!("{kind:?}: {}", d.message));
            assert_eq!(m.funcs[0].walk().len(), if kind == OpKind::LayerNorm { 4 } else { 2 });
        }
    }

    #[test]
    fn tables_equal_the_ideal_op() {
        let w = workload(OpKind::Gelu, 6);
        let m = measure(&w, Method::Lut, DEFAULT).unwrap();
        assert_eq!(m.method, m.ideal);
        assert!(m.ideal.max > 0.0 && m.ideal.max <= w.y.scale / 2.0 + 1e-12);
    }

    #[test]
    fn impossible_combinations_give_the_pass_diagnostic() {
        let d = measure(&workload(OpKind::Softmax, 10), Method::Lut, DEFAULT).unwrap_err();
        assert!(d.message.starts_with("'quant.softmax' op cannot be lowered with method 'lut'"), "{}", d.message);
        let d = measure(&workload(OpKind::LayerNorm, 8), Method::Lut, DEFAULT).unwrap_err();
        assert!(d.message.contains("layer norm's output depends on its whole lane"), "{}", d.message);
    }
}
