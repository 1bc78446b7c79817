//! The ONNX importer: an ONNX model (opsets 11 to 21 of the default
//! domain) becomes a module with one function `@main` of `onnx` dialect
//! ops.
//!
//! Phases of [`import_model`]:
//! 1. the default-domain opset, and the graph's structure ([`graph`]):
//!    every used name defined exactly once, nodes in a topological order;
//! 2. support: every node's op has a builder ([`registry`]) valid in the
//!    model's opset, else one error per unsupported op type;
//! 3. the signature ([`signature`]): graph inputs that are not initializers
//!    become arguments, with `--input-shape` bindings substituted for their
//!    symbols everywhere (inputs, value_info, outputs);
//! 4. each node, in order, through its builder: one `onnx.<OpType>` op
//!    (older opset forms converted, see [`legacy`] and [`defaults`]),
//!    `Constant` nodes as `builtin.constant`; result types from each op's
//!    shape inference, with the constant operands known at import time
//!    ([`known`]), ONNX value_info serving only as a hint for dimensions
//!    inference leaves unknown;
//! 5. the outputs, checked against the model's declared types, then
//!    `verify_module`.
//!
//! Initializers with at most `inline_limit` elements become inline
//! `dense<..>` constants (so shape inference sees them), larger ones
//! resources (`dense_resource<name>`, the data in `Module::resources`).
//!
//! Invariants: errors are [`Diagnostic`]s whose message starts with the
//! model file's name and, for a node, names the node and its op type (its
//! location is the node's name); a module is returned only when it
//! verifies. Unused nodes are kept (removing them is the `dce` pass's job).

mod attrs;
mod builder;
mod constant;
mod defaults;
mod errors;
mod graph;
mod known;
mod legacy;
mod node;
pub mod registry;
mod signature;
pub mod summary;
pub mod types;

use crate::onnx::proto::ModelProto;
use crate::onnx::OnnxModel;
use builder::Importer;
use errors::{model_error, node_error};
use registry::{normalize_domain, Unsupported};
use std::path::Path;
use weft_ir::verify::verify_module;
use weft_ir::{Attribute, Context, Diagnostic, Module};

/// The opsets of the default domain weft reads.
pub const OPSETS: std::ops::RangeInclusive<i64> = 11..=21;

/// The default of [`ImportOptions::inline_limit`].
pub const DEFAULT_INLINE_LIMIT: u64 = 64;

/// How to import.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportOptions {
    /// `--input-shape name=1x128`: static shapes for inputs; each symbol
    /// such a shape binds is substituted everywhere it appears.
    pub input_shapes: Vec<(String, Vec<u64>)>,
    /// Initializers and constants with at most this many elements are
    /// inline `dense<..>` constants; larger ones are resources.
    pub inline_limit: u64,
}

impl Default for ImportOptions {
    fn default() -> Self {
        ImportOptions { input_shapes: Vec::new(), inline_limit: DEFAULT_INLINE_LIMIT }
    }
}

/// Imports a model read from a file (`weft_frontend::onnx::read_model`).
pub fn import_model(model: &OnnxModel, ctx: &Context, opts: &ImportOptions) -> Result<Module, Vec<Diagnostic>> {
    let file = model.path.display().to_string();
    let Some(graph) = model.model.graph.as_ref() else {
        return Err(vec![model_error(&file, "the model has no graph")]);
    };
    let opset = default_opset(&model.model).map_err(|e| vec![model_error(&file, e)])?;
    let plan = graph::plan(graph, &file)?;
    check_support(ctx, &model.model, opset, &file)?;
    let mut imp = Importer::new(ctx, model, opts, opset);
    signature::bind_inputs(&mut imp, graph)?;
    for &i in &plan.order {
        let (node, name) = (&graph.node[i], &plan.names[i]);
        registry::import_node(&mut imp, node, name).map_err(|e| vec![node_error(&file, name, &node.op_type, e)])?;
    }
    signature::finish_outputs(&mut imp, graph)?;
    let module = into_module(imp, &model.model);
    if let Err(diags) = verify_module(&module) {
        let prefix = format!("{file}: internal error: the imported module does not verify: ");
        return Err(diags.into_iter().map(|d| d.prefixed(&prefix)).collect());
    }
    Ok(module)
}

/// Imports a model given as a `ModelProto` (parsed from ONNX text, or built
/// in memory); `path` names it in messages and locates external data.
pub fn import_proto(
    model: ModelProto,
    path: &Path,
    ctx: &Context,
    opts: &ImportOptions,
) -> Result<Module, Vec<Diagnostic>> {
    import_model(&OnnxModel { model, path: path.to_path_buf() }, ctx, opts)
}

/// The opset the model imports for the default domain, if weft reads it.
pub fn default_opset(model: &ModelProto) -> Result<i64, String> {
    let version = model
        .opset_import
        .iter()
        .find(|o| normalize_domain(&o.domain).is_empty())
        .map(|o| o.version)
        .ok_or("the model imports no opset of the default ONNX domain")?;
    if !OPSETS.contains(&version) {
        return Err(format!(
            "opset {version} of the default ONNX domain is not supported: weft reads opsets {} to {} \
             (onnx.version_converter can convert the model)",
            OPSETS.start(),
            OPSETS.end()
        ));
    }
    Ok(version)
}

/// One error per op type weft cannot import.
fn check_support(ctx: &Context, model: &ModelProto, opset: i64, file: &str) -> Result<(), Vec<Diagnostic>> {
    let unsupported = summary::unsupported_ops(ctx, model, opset);
    if unsupported.is_empty() {
        return Ok(());
    }
    Err(unsupported.iter().map(|u| unsupported_error(u, file)).collect())
}

fn unsupported_error(u: &summary::UnsupportedOp, file: &str) -> Diagnostic {
    let node = u.nodes.first().map_or("", String::as_str);
    let opset = u.opset.map_or_else(|| "not imported".to_string(), |v| v.to_string());
    let message = match &u.reason {
        Unsupported::NotInOpset { since } => format!(
            "ONNX op '{}' in node '{node}' needs opset {since} of the default domain, but the model imports opset {opset}",
            u.op_type
        ),
        _ => format!(
            "unsupported ONNX op '{}' in node '{node}' (domain '{}', opset {opset}); `weft info {file}` lists every \
             unsupported op",
            u.op_type, u.domain
        ),
    };
    let mut d = model_error(file, message).with_loc(weft_ir::Location::Name(node.to_string()));
    if let Unsupported::NoDialectOp(op) = u.reason {
        d = d.note(format!("the onnx dialect registered in this context has no '{op}'"));
    }
    if u.nodes.len() > 1 {
        d = d.note(format!("{} nodes use '{}'", u.nodes.len(), u.op_type));
    }
    d
}

fn into_module(imp: Importer, model: &ModelProto) -> Module {
    let mut module =
        Module { name: model.graph.as_ref().map(|g| g.name.clone()).filter(|n| !n.is_empty()), ..Module::default() };
    module.attrs.insert("onnx.opset".to_string(), Attribute::Int(imp.opset));
    let producer = format!("{} {}", model.producer_name, model.producer_version);
    if !producer.trim().is_empty() {
        module.attrs.insert("onnx.producer".to_string(), Attribute::Str(producer.trim().to_string()));
    }
    module.resources = imp.resources;
    module.funcs.push(imp.func);
    module
}
