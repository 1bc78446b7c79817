//! Builds protos from what the grammar parsed: models and their headers,
//! graphs (inputs, outputs, value infos, initializers), nodes, functions
//! and types. Literal values, tensors and attributes are in `values`.
//!
//! Invariants: every check the grammar cannot make is made here and
//! reported as a located [`SyntaxError`] pushed into `errors`; conversion
//! then goes on with a placeholder so that one parse reports every such
//! error. The protos built are those ONNX's own parser builds for the same
//! text (a scalar type has an empty shape, `float[]` has none, omitted
//! inputs are empty names).

use super::super::proto::tensor_shape_proto::{dimension, Dimension};
use super::super::proto::type_proto::{self, Value};
use super::super::proto::{
    FunctionProto, GraphProto, ModelProto, NodeProto, OperatorSetIdProto, StringStringEntryProto, TensorShapeProto,
    TypeProto, ValueInfoProto,
};
use super::syntax::*;
use super::values;
use std::borrow::Cow;
use weft_ir::diag::{closest, did_you_mean};

/// The element type names of the text syntax and their `DataType` values.
pub(super) const PRIMITIVE_TYPES: [(&str, i32); 26] = [
    ("float", 1),
    ("uint8", 2),
    ("int8", 3),
    ("uint16", 4),
    ("int16", 5),
    ("int32", 6),
    ("int64", 7),
    ("string", 8),
    ("bool", 9),
    ("float16", 10),
    ("double", 11),
    ("uint32", 12),
    ("uint64", 13),
    ("complex64", 14),
    ("complex128", 15),
    ("bfloat16", 16),
    ("float8e4m3fn", 17),
    ("float8e4m3fnuz", 18),
    ("float8e5m2", 19),
    ("float8e5m2fnuz", 20),
    ("uint4", 21),
    ("int4", 22),
    ("float4e2m1", 23),
    ("float8e8m0", 24),
    ("uint2", 25),
    ("int2", 26),
];

/// The `DataType` value of an element type name.
pub(super) fn primitive_type(name: &str) -> Option<i32> {
    PRIMITIVE_TYPES.iter().find(|(n, _)| *n == name).map(|&(_, v)| v)
}

pub(super) fn error(errors: &mut Vec<SyntaxError>, message: impl Into<String>, span: ByteSpan) {
    errors.push(SyntaxError::new(message, span));
}

/// An error with a "did you mean" note when `name` is close to a candidate.
pub(super) fn error_with_suggestion<'c>(
    errors: &mut Vec<SyntaxError>,
    message: String,
    span: ByteSpan,
    name: &str,
    candidates: impl Iterator<Item = &'c str>,
) {
    let mut e = SyntaxError::new(message, span);
    if let Some(note) = did_you_mean(&closest(name, candidates)) {
        e = e.with_note(note);
    }
    errors.push(e);
}

// ---------------------------------------------------------------- model

const MODEL_KEYS: [&str; 8] = [
    "ir_version",
    "opset_import",
    "producer_name",
    "producer_version",
    "domain",
    "model_version",
    "doc_string",
    "metadata_props",
];

const FUNCTION_KEYS: [&str; 4] = ["domain", "opset_import", "doc_string", "overload"];

/// A model from its header, main graph and functions.
pub fn model(
    errors: &mut Vec<SyntaxError>,
    header: Vec<HeaderEntry<'_>>,
    graph: GraphProto,
    functions: Vec<FunctionProto>,
) -> ModelProto {
    let mut m = ModelProto { graph: Some(graph), functions, ..Default::default() };
    for entry in checked_header(errors, header, &MODEL_KEYS, "model") {
        match entry.key {
            "ir_version" => m.ir_version = header_int(errors, &entry).unwrap_or_default(),
            "model_version" => m.model_version = header_int(errors, &entry).unwrap_or_default(),
            "opset_import" => m.opset_import = header_opsets(errors, &entry),
            "producer_name" => m.producer_name = header_str(errors, &entry),
            "producer_version" => m.producer_version = header_str(errors, &entry),
            "domain" => m.domain = header_str(errors, &entry),
            "doc_string" => m.doc_string = header_str(errors, &entry),
            _ => m.metadata_props = header_props(errors, &entry),
        }
    }
    m
}

/// The entries with known keys, each once; the others are reported.
fn checked_header<'a>(
    errors: &mut Vec<SyntaxError>,
    entries: Vec<HeaderEntry<'a>>,
    keys: &[&str],
    what: &str,
) -> Vec<HeaderEntry<'a>> {
    let mut kept: Vec<HeaderEntry<'a>> = Vec::new();
    for entry in entries {
        if !keys.contains(&entry.key) {
            let message = format!("unknown {what} property '{}' (known: {})", entry.key, keys.join(", "));
            error_with_suggestion(errors, message, entry.key_span, entry.key, keys.iter().copied());
        } else if kept.iter().any(|k| k.key == entry.key) {
            error(errors, format!("{what} property '{}' is given twice", entry.key), entry.key_span);
        } else {
            kept.push(entry);
        }
    }
    kept
}

fn header_lit<'e, 'a>(errors: &mut Vec<SyntaxError>, entry: &'e HeaderEntry<'a>, what: &str) -> Option<&'e Lit<'a>> {
    match &entry.value {
        HeaderValue::Lit(lit) => Some(lit),
        HeaderValue::List(_) => {
            error(errors, format!("'{}' needs {what}, found a list", entry.key), entry.value_span);
            None
        }
    }
}

fn header_str(errors: &mut Vec<SyntaxError>, entry: &HeaderEntry<'_>) -> String {
    match header_lit(errors, entry, "a string") {
        Some(Lit::Str(s)) => s.to_string(),
        Some(other) => {
            let found = values::describe_lit(other);
            error(errors, format!("'{}' needs a string, found {found}", entry.key), entry.value_span);
            String::new()
        }
        None => String::new(),
    }
}

fn header_int(errors: &mut Vec<SyntaxError>, entry: &HeaderEntry<'_>) -> Option<i64> {
    match header_lit(errors, entry, "an integer")? {
        Lit::Int(text) => values::parse_i64(errors, text, entry.value_span),
        other => {
            let found = values::describe_lit(other);
            error(errors, format!("'{}' needs an integer, found {found}", entry.key), entry.value_span);
            None
        }
    }
}

/// The entries of a bracketed header list, or nothing (reported).
fn header_list<'e, 'a>(errors: &mut Vec<SyntaxError>, entry: &'e HeaderEntry<'a>) -> &'e [KeyValue<'a>] {
    match &entry.value {
        HeaderValue::List(items) => items,
        HeaderValue::Lit(_) => {
            let example = if entry.key == "opset_import" { "[\"\" : 17]" } else { "[\"key\" : \"value\"]" };
            error(errors, format!("'{}' needs a list such as {example}", entry.key), entry.value_span);
            &[]
        }
    }
}

/// `opset_import: ["" : 17, "com.microsoft" : 1]`.
fn header_opsets(errors: &mut Vec<SyntaxError>, entry: &HeaderEntry<'_>) -> Vec<OperatorSetIdProto> {
    let mut out = Vec::new();
    for kv in header_list(errors, entry) {
        let version = match &kv.value {
            Lit::Int(text) => values::parse_i64(errors, text, kv.value_span).unwrap_or_default(),
            other => {
                let found = values::describe_lit(other);
                error(errors, format!("an opset version must be an integer, found {found}"), kv.value_span);
                0
            }
        };
        if out.iter().any(|o: &OperatorSetIdProto| o.domain == kv.key) {
            error(errors, format!("opset domain \"{}\" is imported twice", kv.key), kv.key_span);
        }
        out.push(OperatorSetIdProto { domain: kv.key.to_string(), version });
    }
    out
}

/// `metadata_props: ["key" : "value", ...]` (also external data entries).
pub(super) fn string_pairs(errors: &mut Vec<SyntaxError>, items: &[KeyValue<'_>]) -> Vec<StringStringEntryProto> {
    let mut out = Vec::new();
    for kv in items {
        let value = match &kv.value {
            Lit::Str(s) => s.to_string(),
            other => {
                let found = values::describe_lit(other);
                error(errors, format!("the value of \"{}\" must be a string, found {found}", kv.key), kv.value_span);
                String::new()
            }
        };
        out.push(StringStringEntryProto { key: kv.key.to_string(), value });
    }
    out
}

fn header_props(errors: &mut Vec<SyntaxError>, entry: &HeaderEntry<'_>) -> Vec<StringStringEntryProto> {
    let items = header_list(errors, entry);
    string_pairs(errors, items)
}

// ---------------------------------------------------------------- graphs

/// The parts of a graph after its name.
pub struct GraphParts<'a> {
    pub inputs: Vec<ValueDeclP<'a>>,
    pub outputs: Vec<ValueInfoP<'a>>,
    pub inner: Vec<ValueDeclP<'a>>,
    pub nodes: Vec<NodeProto>,
}

/// A graph: inputs (with default values as initializers), outputs, and the
/// `<...>` list of value infos and initializers.
pub fn graph(errors: &mut Vec<SyntaxError>, name: Cow<'_, str>, parts: GraphParts<'_>) -> GraphProto {
    let mut g = GraphProto { name: name.into_owned(), node: parts.nodes, ..Default::default() };
    for decl in parts.inputs {
        if let Some(data) = decl.init {
            g.initializer.push(values::initializer(errors, &decl.info, data));
        }
        g.input.push(decl.info.proto);
    }
    g.output = parts.outputs.into_iter().map(|v| v.proto).collect();
    for decl in parts.inner {
        match decl.init {
            Some(data) => g.initializer.push(values::initializer(errors, &decl.info, data)),
            None => g.value_info.push(decl.info.proto),
        }
    }
    g
}

/// A value info as soon as it is parsed: its type is converted (and
/// checked) now, so that its errors are reported even if a syntax error
/// comes later.
pub fn value_info<'a>(
    errors: &mut Vec<SyntaxError>,
    ty: Option<TypeP<'a>>,
    name: Cow<'a, str>,
    span: ByteSpan,
) -> ValueInfoP<'a> {
    let r#type = ty.clone().map(|t| type_proto(errors, t));
    ValueInfoP { ty, proto: ValueInfoProto { name: name.into_owned(), r#type, ..Default::default() }, span }
}

// ---------------------------------------------------------------- types

/// The `DataType` of an element type name, or 0 (reported).
pub(super) fn elem_type(errors: &mut Vec<SyntaxError>, name: &str, span: ByteSpan) -> i32 {
    primitive_type(name).unwrap_or_else(|| {
        let names = PRIMITIVE_TYPES.iter().map(|(n, _)| *n);
        error_with_suggestion(errors, format!("unknown type '{name}'"), span, name, names);
        0
    })
}

/// A tensor shape from written dims: `None` (no brackets) is a scalar,
/// `Some([])` (`float[]`) an unknown rank.
fn shape(errors: &mut Vec<SyntaxError>, dims: Option<Vec<(DimP<'_>, ByteSpan)>>) -> Option<TensorShapeProto> {
    let dims = match dims {
        None => return Some(TensorShapeProto::default()),
        Some(d) if d.is_empty() => return None,
        Some(d) => d,
    };
    let dim = |errors: &mut Vec<SyntaxError>, (d, span): (DimP<'_>, ByteSpan)| {
        let value = match d {
            DimP::Unknown => None,
            DimP::Param(p) => Some(dimension::Value::DimParam(p.into_owned())),
            DimP::Value(text) => Some(dimension::Value::DimValue(values::parse_i64(errors, text, span).unwrap_or(0))),
        };
        Dimension { value, denotation: String::new() }
    };
    Some(TensorShapeProto { dim: dims.into_iter().map(|d| dim(errors, d)).collect() })
}

pub(super) fn type_proto(errors: &mut Vec<SyntaxError>, t: TypeP<'_>) -> TypeProto {
    let value = match t {
        TypeP::Tensor { elem, elem_span, dims } => {
            let elem_type = elem_type(errors, elem, elem_span);
            Value::TensorType(type_proto::Tensor { elem_type, shape: shape(errors, dims) })
        }
        TypeP::Ctor { name, name_span, args } => ctor_type(errors, name, name_span, args),
    };
    TypeProto { value: Some(value), ..Default::default() }
}

/// `seq(T)`, `optional(T)`, `map(K, V)`, `sparse_tensor(T)`.
fn ctor_type(errors: &mut Vec<SyntaxError>, name: &str, span: ByteSpan, args: Vec<TypeP<'_>>) -> Value {
    let arity = if name == "map" { 2 } else { 1 };
    if args.len() != arity {
        let wanted = if arity == 2 { "a key type and a value type" } else { "one type" };
        error(errors, format!("'{name}' takes {wanted}, found {}", args.len()), span);
    }
    let mut args = args.into_iter();
    let mut next = |errors: &mut Vec<SyntaxError>| {
        args.next().map(|a| Box::new(type_proto(errors, a))).unwrap_or_else(|| Box::new(TypeProto::default()))
    };
    match name {
        "seq" => Value::SequenceType(Box::new(type_proto::Sequence { elem_type: Some(next(errors)) })),
        "optional" => Value::OptionalType(Box::new(type_proto::Optional { elem_type: Some(next(errors)) })),
        "map" => {
            let key = next(errors);
            let key_type = match key.value {
                Some(Value::TensorType(type_proto::Tensor { elem_type, shape: Some(s) })) if s.dim.is_empty() => {
                    elem_type
                }
                _ => {
                    error(errors, "the key type of a map must be an element type such as 'int64'", span);
                    0
                }
            };
            Value::MapType(Box::new(type_proto::Map { key_type, value_type: Some(next(errors)) }))
        }
        _ => match next(errors).value {
            Some(Value::TensorType(t)) => {
                Value::SparseTensorType(type_proto::SparseTensor { elem_type: t.elem_type, shape: t.shape })
            }
            _ => {
                error(errors, "a sparse tensor type needs a tensor type, such as 'sparse_tensor(float[N])'", span);
                Value::SparseTensorType(type_proto::SparseTensor::default())
            }
        },
    }
}

// ---------------------------------------------------------------- nodes

/// The parts of a node as written.
pub struct NodeParts<'a> {
    pub name: Option<Cow<'a, str>>,
    pub outputs: Vec<IdPiece<'a>>,
    pub op: (Vec<&'a str>, ByteSpan),
    pub overload: Option<&'a str>,
    pub before: Option<(Vec<AttributeP<'a>>, ByteSpan)>,
    pub inputs: Vec<IdPiece<'a>>,
    pub after: Option<(Vec<AttributeP<'a>>, ByteSpan)>,
}

/// The names of a comma-separated list, where an empty piece is an empty
/// name (an omitted input): `Op()` has no inputs, `Op(x, , y)` has `x`,
/// `""`, `y`, and `Op(x, )` (as ONNX's printer writes an omitted last
/// input) has `x`, `""`, as ONNX 1.17's parser reads them.
fn names(pieces: Vec<IdPiece<'_>>) -> Vec<String> {
    if let [None] = pieces.as_slice() {
        return Vec::new();
    }
    pieces.into_iter().map(|p| p.map(Cow::into_owned).unwrap_or_default()).collect()
}

pub fn node(errors: &mut Vec<SyntaxError>, parts: NodeParts<'_>) -> NodeProto {
    let (op_parts, _) = parts.op;
    let (op_type, domain) = match op_parts.split_last() {
        Some((op, domain)) => (op.to_string(), domain.join(".")),
        None => (String::new(), String::new()),
    };
    if let (Some(_), Some((_, span))) = (&parts.before, &parts.after) {
        error(errors, "attributes are given both before and after the inputs; give them in one place", *span);
    }
    let attrs = parts.before.or(parts.after).map(|(a, _)| a).unwrap_or_default();
    NodeProto {
        input: names(parts.inputs),
        output: names(parts.outputs),
        name: parts.name.map(Cow::into_owned).unwrap_or_default(),
        op_type,
        domain,
        overload: parts.overload.unwrap_or_default().to_string(),
        attribute: values::attributes(errors, attrs),
        ..Default::default()
    }
}

// ---------------------------------------------------------------- functions

/// The parts of a function as written.
pub struct FunctionParts<'a> {
    pub header: Vec<HeaderEntry<'a>>,
    pub name: Cow<'a, str>,
    pub attrs: Vec<FnAttrP<'a>>,
    pub inputs: Vec<ValueInfoP<'a>>,
    pub outputs: Vec<ValueInfoP<'a>>,
    pub value_infos: Vec<ValueInfoP<'a>>,
    pub nodes: Vec<NodeProto>,
}

/// A function: typed inputs and outputs also become value infos (before
/// the `<...>` ones), as ONNX's parser records them.
pub fn function(errors: &mut Vec<SyntaxError>, parts: FunctionParts<'_>) -> FunctionProto {
    let mut f = FunctionProto { name: parts.name.into_owned(), node: parts.nodes, ..Default::default() };
    for entry in checked_header(errors, parts.header, &FUNCTION_KEYS, "function") {
        match entry.key {
            "domain" => f.domain = header_str(errors, &entry),
            "doc_string" => f.doc_string = header_str(errors, &entry),
            "overload" => f.overload = header_str(errors, &entry),
            _ => f.opset_import = header_opsets(errors, &entry),
        }
    }
    let mut defaults = Vec::new();
    let mut seen: Vec<&str> = Vec::new();
    for attr in parts.attrs {
        let (name, span) = match &attr {
            FnAttrP::Name(name, span) => (*name, *span),
            FnAttrP::Default(a) => (a.name, a.name_span),
        };
        if seen.contains(&name) {
            error(errors, format!("function attribute '{name}' is declared twice"), span);
            continue;
        }
        seen.push(name);
        match attr {
            FnAttrP::Name(name, _) => f.attribute.push(name.to_string()),
            FnAttrP::Default(a) => defaults.push(a),
        }
    }
    f.attribute_proto = values::attributes(errors, defaults);
    for (list, values) in [(&mut f.input, parts.inputs), (&mut f.output, parts.outputs)] {
        for v in values {
            list.push(v.proto.name.clone());
            if v.ty.is_some() {
                f.value_info.push(v.proto);
            }
        }
    }
    f.value_info.extend(parts.value_infos.into_iter().map(|v| v.proto));
    f
}
