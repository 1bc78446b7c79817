//! The checks of one op that need nothing beyond the op itself, its value
//! types and the module's resources: arity, the attribute schema, tensor
//! result types, well-formed types, dense and resource attributes, and the
//! op's own verify, result verify and shape inference hooks.
//!
//! Invariants: a hook runs only when the op has the declared arity, every
//! required attribute with the declared kind, and tensor operand types, so
//! hooks may index operands and required attributes; a hook that panics
//! anyway is reported as an internal error, not propagated.

use super::{op_error, plural, Cx, Diagnostic};
use crate::attr::{Attribute, DenseAttr};
use crate::diag::{closest, did_you_mean};
use crate::module::OpData;
use crate::ops::{Arity, OpInfo};
use crate::tensor::TensorData;
use crate::types::{Dim, ElemType, QuantBin, QuantParams, TensorType, Type};
use std::panic::{catch_unwind, AssertUnwindSafe};

/// Runs every local check of one op, pushing its errors to `out`.
pub(super) fn check_op(cx: Cx, data: &OpData, out: &mut Vec<Diagnostic>) {
    let arity_ok = check_arity(data, out);
    let attrs_ok = check_attrs(cx, data, out);
    check_result_types(data, cx, out);
    let operands_ok = data.operands.iter().all(|&v| is_valid_tensor(&cx.f.values[v].ty));
    if arity_ok && attrs_ok && operands_ok {
        run_hooks(cx, data, out);
    }
}

fn check_arity(data: &OpData, out: &mut Vec<Diagnostic>) -> bool {
    let def = data.def;
    let operands = arity_error(def.operands, data.operands.len(), "operand");
    let results = arity_error(def.results, data.results.len(), "result");
    let ok = operands.is_none() && results.is_none();
    out.extend(operands.into_iter().chain(results).map(|m| op_error(data, m)));
    ok
}

/// "expects 2 operands, got 3", or `None` when `n` is accepted.
fn arity_error(arity: Arity, n: usize, word: &str) -> Option<String> {
    if arity.accepts(n) {
        return None;
    }
    let expected = match arity {
        Arity::Fixed(names) => plural(names.len(), word),
        Arity::Variadic { min, .. } => format!("at least {}", plural(min, word)),
    };
    Some(format!("expects {expected}, got {n}"))
}

/// Required attributes present, no unknown names, kinds as declared, and
/// the values inside well-formed. Returns whether hooks may read them
/// (every required attribute present, every declared one of its kind).
fn check_attrs(cx: Cx, data: &OpData, out: &mut Vec<Diagnostic>) -> bool {
    let def = data.def;
    let mut ok = true;
    for spec in def.attrs.iter().filter(|s| s.required && !data.attrs.contains_key(s.name)) {
        out.push(op_error(data, format!("requires attribute '{}'", spec.name)).note(spec.doc));
        ok = false;
    }
    for (name, value) in &data.attrs {
        match def.attr_spec(name) {
            None => out.push(unknown_attr(data, name)),
            Some(spec) if !spec.kind.accepts(value) => {
                let msg = format!("attribute '{name}' must be {}, got {}", spec.kind.describe(), value.kind_name());
                out.push(op_error(data, msg));
                ok = false;
            }
            Some(_) => {}
        }
        check_attr_value(cx, data, name, value, out);
    }
    ok
}

fn unknown_attr(data: &OpData, name: &str) -> Diagnostic {
    let d = op_error(data, format!("has unknown attribute '{name}'"));
    let names: Vec<&str> = data.def.attrs.iter().map(|s| s.name).collect();
    if let Some(hint) = did_you_mean(&closest(name, names.iter().copied())) {
        return d.note(hint);
    }
    if names.is_empty() {
        d.note(format!("'{}' takes no attributes", data.name()))
    } else {
        d.note(format!("'{}' takes: {}", data.name(), names.join(", ")))
    }
}

/// Checks what an attribute holds: dense data, resources, types, arrays.
fn check_attr_value(cx: Cx, data: &OpData, name: &str, value: &Attribute, out: &mut Vec<Diagnostic>) {
    let problem = match value {
        Attribute::Dense(d) => dense_problem(d),
        Attribute::Resource { name: resource, ty } => {
            if let Some(d) = resource_error(cx, data, resource, ty) {
                out.push(d);
            }
            None
        }
        Attribute::Type(t) => type_problem(t).map(|p| format!("is an invalid type {t}: {p}")),
        Attribute::Array(items) => {
            for item in items {
                check_attr_value(cx, data, name, item, out);
            }
            None
        }
        Attribute::Int(_) | Attribute::Float(_) | Attribute::Str(_) | Attribute::Bool(_) => None,
    };
    if let Some(p) = problem {
        out.push(op_error(data, format!("attribute '{name}' {p}")));
    }
}

/// What is wrong with a dense attribute: a type that is not static or
/// valid, an element count other than 1 or the type's, or storage of the
/// wrong kind for its element type.
fn dense_problem(d: &DenseAttr) -> Option<String> {
    if let Some(p) = type_problem(&Type::Tensor(d.ty.clone())) {
        return Some(format!("has an invalid type {}: {p}", d.ty));
    }
    let Some(shape) = d.ty.static_shape() else {
        return Some(format!("has type {}, but dense data needs a static shape", d.ty));
    };
    let Some(n) = shape.iter().try_fold(1u64, |acc, &x| acc.checked_mul(x)) else {
        return Some(format!("has type {}, which has too many elements", d.ty));
    };
    let len = d.data.len() as u64;
    if len != 1 && len != n {
        return Some(format!("holds {len} elements, but {} needs {n} (or 1 for a splat)", d.ty));
    }
    let expected = TensorData::empty_for(&d.ty.elem, 0);
    if std::mem::discriminant(&expected) != std::mem::discriminant(&d.data) {
        return Some(format!("stores {} data for element type {}", storage_name(&d.data), d.ty.elem));
    }
    None
}

fn storage_name(data: &TensorData) -> &'static str {
    match data {
        TensorData::F16(_) => "f16",
        TensorData::BF16(_) => "bf16",
        TensorData::F32(_) => "f32",
        TensorData::F64(_) => "f64",
        TensorData::Int(_) => "integer",
    }
}

/// A `dense_resource<name> : ty` must name a loaded resource of that shape
/// and a storage-compatible element type.
fn resource_error(cx: Cx, data: &OpData, name: &str, ty: &TensorType) -> Option<Diagnostic> {
    if let Some(p) = type_problem(&Type::Tensor(ty.clone())) {
        return Some(op_error(data, format!("resource '{name}' has an invalid type {ty}: {p}")));
    }
    let resources = &cx.m.resources;
    let Some(r) = resources.get(name) else {
        let d = op_error(data, format!("unknown resource '{name}'"));
        if resources.is_empty() {
            return Some(d.note("no resources are loaded (is the .safetensors file beside the .weft file missing?)"));
        }
        let d = d.note(match resources.len() {
            1 => "1 resource is loaded".to_string(),
            n => format!("{n} resources are loaded"),
        });
        return Some(match did_you_mean(&closest(name, resources.names())) {
            Some(hint) => d.note(hint),
            None => d,
        });
    };
    if r.fits(ty) {
        return None;
    }
    let msg = format!("resource '{name}' is declared as {ty}, but the resource file holds {}", r.ty());
    Some(op_error(data, msg))
}

/// Results must be tensors of well-formed types.
fn check_result_types(data: &OpData, cx: Cx, out: &mut Vec<Diagnostic>) {
    for (i, &v) in data.results.iter().enumerate() {
        if let Some(p) = value_type_problem(&cx.f.values[v].ty) {
            out.push(op_error(data, format!("result #{i} {p}")));
        }
    }
}

/// "must be a tensor, got f32" or "has an invalid type ...: ..." for a
/// value's type, `None` when it is fine.
pub(super) fn value_type_problem(ty: &Type) -> Option<String> {
    if ty.as_tensor().is_none() {
        return Some(format!("must be a tensor, got {ty}"));
    }
    type_problem(ty).map(|p| format!("has an invalid type {ty}: {p}"))
}

fn is_valid_tensor(ty: &Type) -> bool {
    value_type_problem(ty).is_none()
}

/// What breaks the invariants of spec/types.md in `ty`, if anything.
pub(super) fn type_problem(ty: &Type) -> Option<String> {
    match ty {
        Type::Elem(e) => elem_problem(e, None),
        Type::Tensor(t) => elem_problem(&t.elem, Some(&t.dims)),
    }
}

fn elem_problem(e: &ElemType, dims: Option<&[Dim]>) -> Option<String> {
    match e {
        ElemType::Int { width, .. } if !(1..=64).contains(width) => {
            Some(format!("integer width {width} is outside 1..=64"))
        }
        ElemType::Quant(q) if !(1..=32).contains(&q.width) => {
            Some(format!("quantized width {} is outside 1..=32", q.width))
        }
        ElemType::Quant(q) => match &q.params {
            QuantParams::PerChannel { scales, zps, .. } if scales.len() != zps.len() => {
                Some(format!("{} but {}", plural(scales.len(), "scale"), plural(zps.len(), "zero point")))
            }
            QuantParams::PerChannel { axis, scales, .. } => axis_problem(*axis, scales.len(), dims),
            QuantParams::PerTensor { .. } => None,
        },
        ElemType::Bin(b) => match &**b {
            QuantBin::PerChannel { axis, scales } => axis_problem(*axis, scales.len(), dims),
            QuantBin::PerTensor { .. } => None,
        },
        _ => None,
    }
}

/// A per-channel axis must exist in the tensor, and a static dimension
/// there must have one scale per channel.
fn axis_problem(axis: u32, scales: usize, dims: Option<&[Dim]>) -> Option<String> {
    let dims = dims?;
    match dims.get(axis as usize) {
        None => Some(format!("quantization axis {axis} is out of range for rank {}", dims.len())),
        Some(Dim::Fixed(n)) if *n != scales as u64 => {
            Some(format!("{} for axis {axis} of size {n}", plural(scales, "scale")))
        }
        Some(_) => None,
    }
}

/// The op's verify hook, its result verify hook, then its shape inference
/// against the declared result types.
fn run_hooks(cx: Cx, data: &OpData, out: &mut Vec<Diagnostic>) {
    let types: Vec<&Type> = data.operands.iter().map(|&v| &cx.f.values[v].ty).collect();
    let constants: Vec<Option<&DenseAttr>> = data.operands.iter().map(|&v| cx.f.dense_constant(v)).collect();
    let info = OpInfo { operand_types: &types, attrs: &data.attrs, constants: &constants };
    if let Some(verify) = data.def.verify {
        match guarded(|| verify(&info)) {
            Ok(Ok(())) => {}
            Ok(Err(msg)) => out.push(op_error(data, msg)),
            Err(panic) => out.push(op_error(data, format!("internal error: its verify hook panicked: {panic}"))),
        }
    }
    if let Some(check) = data.def.verify_results {
        let results: Vec<&Type> = data.results.iter().map(|&v| &cx.f.values[v].ty).collect();
        match guarded(|| check(&info, &results)) {
            Ok(Ok(())) => {}
            Ok(Err(msg)) => out.push(op_error(data, msg)),
            Err(panic) => out.push(op_error(data, format!("internal error: its result verify hook panicked: {panic}"))),
        }
    }
    if let Some(infer) = data.def.infer {
        match guarded(|| infer(&info)) {
            Ok(Ok(inferred)) => check_inferred(cx, data, &inferred, out),
            Ok(Err(msg)) => out.push(op_error(data, msg)),
            Err(panic) => {
                out.push(op_error(data, format!("internal error: its shape inference hook panicked: {panic}")))
            }
        }
    }
}

/// Runs a hook, turning a panic into its message.
fn guarded<T>(hook: impl FnOnce() -> T) -> Result<T, String> {
    catch_unwind(AssertUnwindSafe(hook)).map_err(|payload| {
        payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "(no message)".to_string())
    })
}

fn check_inferred(cx: Cx, data: &OpData, inferred: &[Type], out: &mut Vec<Diagnostic>) {
    // An op with a variadic result list may declare a prefix of the
    // results inference describes (ONNX's optional trailing outputs).
    let prefix = matches!(data.def.results, Arity::Variadic { .. }) && data.results.len() < inferred.len();
    if inferred.len() != data.results.len() && !prefix {
        let msg = format!(
            "has {}, but shape inference gives {}",
            plural(data.results.len(), "result"),
            plural(inferred.len(), "result")
        );
        out.push(op_error(data, msg));
        return;
    }
    for (i, (&v, inferred)) in data.results.iter().zip(inferred).enumerate() {
        let declared = &cx.f.values[v].ty;
        // A result that is not a valid tensor was reported already.
        if value_type_problem(declared).is_none() && !compatible(declared, inferred) {
            let msg = format!("result #{i} has type {declared}, but shape inference gives {inferred}");
            out.push(op_error(data, msg));
        }
    }
}

/// True when `declared` and `inferred` agree wherever both know a
/// dimension: same element type and rank, and each dimension equal or `?`
/// on either side.
fn compatible(declared: &Type, inferred: &Type) -> bool {
    match (declared, inferred) {
        (Type::Tensor(d), Type::Tensor(i)) => {
            d.elem == i.elem
                && d.dims.len() == i.dims.len()
                && d.dims.iter().zip(&i.dims).all(|(a, b)| a == b || *a == Dim::Dyn || *b == Dim::Dyn)
        }
        _ => declared == inferred,
    }
}
