//! The function's signature: graph inputs (those that are not
//! initializers) become arguments, typed from the model with
//! `--input-shape` bindings applied; graph outputs become the returned
//! values, checked against the types the model declares for them. Also
//! loads the model's type hints (value_info and output types).
//!
//! Invariants: after [`bind_inputs`], every argument type is well formed
//! (known rank, supported element type, at most 2^40 elements) and holds no
//! bound symbol; every `--input-shape` named an argument and matched its
//! rank and static dims. [`finish_outputs`] appends the function's
//! `return`, its result types being the returned values' types exactly.

use super::builder::Importer;
use super::errors::model_error;
use super::types::{check_size, output_mismatch, tensor_type, ShapeBindings};
use crate::onnx::proto::{GraphProto, ValueInfoProto};
use std::collections::HashSet;
use weft_ir::diag::{closest, did_you_mean};
use weft_ir::interp::{INPUT_NAMES_ATTR, OUTPUT_NAMES_ATTR};
use weft_ir::{Attribute, Diagnostic, NewOp, TensorType, Type};

/// Adds the arguments and the type hints.
pub fn bind_inputs(imp: &mut Importer, graph: &GraphProto) -> Result<(), Vec<Diagnostic>> {
    let file = imp.file.clone();
    let args: Vec<&ValueInfoProto> = graph.input.iter().filter(|i| !imp.is_initializer(&i.name)).collect();
    let mut diags = Vec::new();
    let declared: Vec<Result<Option<TensorType>, String>> =
        args.iter().map(|i| i.r#type.as_ref().map_or(Ok(None), tensor_type)).collect();
    let usable: Vec<Option<TensorType>> = declared.iter().map(|d| d.clone().ok().flatten()).collect();
    let bindings = bind_shapes(imp, &args, &usable, &mut diags);
    for ((info, declared), usable) in args.iter().zip(&declared).zip(&usable) {
        if let Err(e) = declared {
            diags.push(model_error(&file, format!("input '{}' {e}", info.name)));
            continue;
        }
        match arg_type(imp, info, usable.as_ref(), &bindings) {
            Ok(ty) => imp.add_input(&info.name, ty),
            Err(e) => diags.push(model_error(&file, e)),
        }
    }
    if !diags.is_empty() {
        return Err(diags);
    }
    let names = args.iter().map(|i| Attribute::Str(i.name.clone())).collect();
    imp.func.attrs.insert(INPUT_NAMES_ATTR.to_string(), Attribute::Array(names));
    add_hints(imp, graph, &bindings);
    Ok(())
}

/// Applies every `--input-shape`; the bindings of symbols they make.
fn bind_shapes(
    imp: &Importer,
    args: &[&ValueInfoProto],
    declared: &[Option<TensorType>],
    diags: &mut Vec<Diagnostic>,
) -> ShapeBindings {
    let mut bindings = ShapeBindings::default();
    let mut seen = HashSet::new();
    for (name, shape) in &imp.opts.input_shapes {
        if !seen.insert(name.as_str()) {
            diags.push(model_error(&imp.file, format!("--input-shape gives input '{name}' twice")));
            continue;
        }
        let Some(i) = args.iter().position(|a| &a.name == name) else {
            diags.push(unknown_input(imp, name, args));
            continue;
        };
        if let Err(e) = bindings.bind_input(name, declared.get(i).and_then(Option::as_ref), shape) {
            diags.push(model_error(&imp.file, e));
        }
    }
    bindings
}

fn unknown_input(imp: &Importer, name: &str, args: &[&ValueInfoProto]) -> Diagnostic {
    let names: Vec<&str> = args.iter().map(|a| a.name.as_str()).collect();
    let d = model_error(&imp.file, format!("--input-shape names '{name}', which is not an input of the model"))
        .note(format!("the inputs are: {}", names.join(", ")));
    match did_you_mean(&closest(name, names.iter().copied())) {
        Some(hint) => d.note(hint),
        None => d,
    }
}

/// The argument type of one input.
fn arg_type(
    imp: &Importer,
    info: &ValueInfoProto,
    declared: Option<&TensorType>,
    bindings: &ShapeBindings,
) -> Result<TensorType, String> {
    let name = &info.name;
    let given = imp.opts.input_shapes.iter().find(|(n, _)| n == name).map(|(_, s)| s);
    let elem = match (declared, &info.r#type) {
        (Some(t), _) => t.elem.clone(),
        (None, Some(ty)) => match ty.value.as_ref() {
            Some(crate::onnx::proto::type_proto::Value::TensorType(t)) => crate::onnx::onnx_elem_type(t.elem_type)?,
            _ => return Err(format!("input '{name}' is not a tensor")),
        },
        (None, None) => return Err(format!("input '{name}' has no type")),
    };
    let ty = match (given, declared) {
        (Some(shape), _) => TensorType::fixed(shape, elem),
        (None, Some(t)) => bindings.apply(t),
        (None, None) => {
            return Err(format!("input '{name}' has no shape in the model; give one with --input-shape {name}=DIMS"))
        }
    };
    check_size(&ty).map_err(|e| format!("input '{name}': {e}"))?;
    Ok(ty)
}

/// value_info and graph output types, as hints for inference.
fn add_hints(imp: &mut Importer, graph: &GraphProto, bindings: &ShapeBindings) {
    for info in graph.value_info.iter().chain(&graph.output) {
        if let Some(Ok(Some(t))) = info.r#type.as_ref().map(tensor_type) {
            imp.add_hint(&info.name, bindings.apply(&t));
        }
    }
}

/// Returns the graph outputs, checking the model's declared types.
pub fn finish_outputs(imp: &mut Importer, graph: &GraphProto) -> Result<(), Vec<Diagnostic>> {
    let file = imp.file.clone();
    let mut values = Vec::new();
    let mut types = Vec::new();
    let mut diags = Vec::new();
    for out in &graph.output {
        let checked = imp.value(&out.name).and_then(|v| {
            let inferred = imp.ty(v)?.clone();
            check_declared(imp, out, &inferred)?;
            Ok((v, inferred))
        });
        match checked {
            Ok((v, ty)) => {
                values.push(v);
                types.push(Type::Tensor(ty));
            }
            Err(e) => diags.push(model_error(&file, e)),
        }
    }
    if !diags.is_empty() {
        return Err(diags);
    }
    let ret = imp.ctx.lookup("builtin.return").ok_or_else(|| vec![model_error(&file, "no 'builtin.return' op")])?;
    let body = imp.func.body;
    imp.func.append_op(body, NewOp::new(ret, values, Vec::new()));
    imp.func.results = types;
    let names = graph.output.iter().map(|o| Attribute::Str(o.name.clone())).collect();
    imp.func.attrs.insert(OUTPUT_NAMES_ATTR.to_string(), Attribute::Array(names));
    Ok(())
}

/// The model's declared type of an output must agree with the inferred
/// one (element type, rank, static extents).
fn check_declared(imp: &Importer, out: &ValueInfoProto, inferred: &TensorType) -> Result<(), String> {
    let declared = match out.r#type.as_ref().map(tensor_type) {
        None | Some(Ok(None)) => return Ok(()),
        Some(Ok(Some(t))) => t,
        Some(Err(e)) => return Err(format!("graph output '{}' {e}", out.name)),
    };
    let declared = imp.hint(&out.name).cloned().unwrap_or(declared);
    match output_mismatch(&declared, inferred) {
        None => Ok(()),
        Some(why) => Err(format!(
            "graph output '{}' is declared as {declared} in the model, but weft infers {inferred} ({why})",
            out.name
        )),
    }
}
