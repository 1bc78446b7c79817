//! Literal values: numbers parsed at the type they are used at, tensor
//! literals and initializers, and node attributes with their types
//! inferred from the value or taken from an annotation (`alpha: float = 1`).
//!
//! Invariants: a number is parsed from its text once, at its final type
//! (an f32 attribute `0.1` is the f32 nearest to 0.1, and `-0` stays
//! negative zero); integers are range-checked against their element type;
//! a tensor literal has exactly as many values as its shape holds; every
//! problem is a located error in `errors` and conversion goes on.

use super::super::proto::type_proto::Value;
use super::super::proto::{AttributeProto, AttributeType, DataLocation, DataType, GraphProto, TensorProto, TypeProto};
use super::convert::{self, error, error_with_suggestion};
use super::lexer::is_special_float;
use super::syntax::*;
use bytes::Bytes;
use half::{bf16, f16};
use std::borrow::Cow;

/// How a literal reads in an error: `integer 3`, `string "a"`.
pub(super) fn describe_lit(lit: &Lit<'_>) -> String {
    match lit {
        Lit::Int(t) => format!("integer {t}"),
        Lit::Float(t) => format!("float {t}"),
        Lit::Str(s) => format!("string {s:?}"),
        Lit::Word(w) => format!("'{w}'"),
    }
}

pub(super) fn parse_i64(errors: &mut Vec<SyntaxError>, text: &str, span: ByteSpan) -> Option<i64> {
    match text.parse::<i64>() {
        Ok(v) => Some(v),
        Err(_) => {
            error(errors, format!("integer {text} does not fit in 64 bits"), span);
            None
        }
    }
}

/// An f32 from a number's text (or `inf`/`nan`), rounded once; a finite
/// literal too large for f32 is an error.
fn parse_f32(errors: &mut Vec<SyntaxError>, text: &str, span: ByteSpan) -> f32 {
    let value = text.parse::<f32>().unwrap_or(f32::NAN);
    if value.is_infinite() && !is_special_float(text.trim_start_matches('-')) {
        error(errors, format!("{text} is out of range for a 32-bit float"), span);
    }
    value
}

fn parse_f64(errors: &mut Vec<SyntaxError>, text: &str, span: ByteSpan) -> f64 {
    let value = text.parse::<f64>().unwrap_or(f64::NAN);
    if value.is_infinite() && !is_special_float(text.trim_start_matches('-')) {
        error(errors, format!("{text} is out of range for a 64-bit float"), span);
    }
    value
}

/// The text of a literal that reads as a float: a number, `inf`, `nan`.
fn float_text<'a>(lit: &Lit<'a>) -> Option<&'a str> {
    match *lit {
        Lit::Int(t) | Lit::Float(t) => Some(t),
        Lit::Word(w) if is_special_float(w) => Some(w),
        _ => None,
    }
}

// ---------------------------------------------------------------- tensors

/// The tensor of an initializer `type name = data`.
pub(super) fn initializer(
    errors: &mut Vec<SyntaxError>,
    info: &ValueInfoP<'_>,
    data: Option<TensorDataP<'_>>,
) -> TensorProto {
    let name = &info.proto.name;
    let Some(ty) = &info.ty else {
        let message = format!("initializer '{name}' needs a tensor type, such as 'float[2] {name} = {{1, 2}}'");
        error(errors, message, info.span);
        return TensorProto { name: name.clone(), ..Default::default() };
    };
    // The element type was checked (and reported) with the value info.
    let elem = match info.proto.r#type.as_ref().and_then(|t| t.value.as_ref()) {
        Some(Value::TensorType(t)) => Some(t.elem_type),
        _ => None,
    };
    tensor(errors, ty, elem, name.clone(), data, info.span)
}

/// A tensor of written type `ty` (static dims only) with optional data;
/// `elem_type` is its element type when already known.
pub(super) fn tensor(
    errors: &mut Vec<SyntaxError>,
    ty: &TypeP<'_>,
    elem_type: Option<i32>,
    name: String,
    data: Option<TensorDataP<'_>>,
    span: ByteSpan,
) -> TensorProto {
    let mut t = TensorProto { name, ..Default::default() };
    let TypeP::Tensor { elem, elem_span, dims } = ty else {
        error(errors, format!("'{}' needs a tensor type such as 'float[2]'", display_name(&t)), span);
        return t;
    };
    t.data_type = elem_type.unwrap_or_else(|| convert::elem_type(errors, elem, *elem_span));
    t.dims = static_dims(errors, &t, dims.as_deref(), span);
    match data {
        None => {}
        Some(TensorDataP::External(items)) => {
            t.data_location = DataLocation::External as i32;
            t.external_data = convert::string_pairs(errors, &items);
        }
        Some(TensorDataP::Values(values)) => fill_values(errors, &mut t, values, span),
    }
    t
}

fn display_name(t: &TensorProto) -> Cow<'_, str> {
    if t.name.is_empty() {
        Cow::Borrowed("the tensor")
    } else {
        Cow::Owned(format!("tensor '{}'", t.name))
    }
}

/// The dims of a tensor literal: all numeric and non-negative; no brackets
/// is a scalar, `[]` an error (a literal needs a known shape).
fn static_dims(
    errors: &mut Vec<SyntaxError>,
    t: &TensorProto,
    dims: Option<&[(DimP<'_>, ByteSpan)]>,
    span: ByteSpan,
) -> Vec<i64> {
    let Some(dims) = dims else {
        return Vec::new();
    };
    if dims.is_empty() {
        let message =
            format!("{} needs a shape: write its dims, such as 'float[2]', or 'float' for a scalar", display_name(t));
        error(errors, message, span);
    }
    let mut out = Vec::with_capacity(dims.len());
    for (d, dspan) in dims {
        let value = match d {
            DimP::Value(text) => parse_i64(errors, text, *dspan),
            _ => {
                error(errors, format!("{} needs a static shape: every dim must be a number", display_name(t)), *dspan);
                None
            }
        };
        match value {
            Some(v) if v < 0 => error(errors, format!("dimension {v} is negative"), *dspan),
            Some(v) => out.push(v),
            None => {}
        }
    }
    out
}

/// Stores the written values in the field ONNX uses for the element type,
/// then checks their count against the shape.
fn fill_values(errors: &mut Vec<SyntaxError>, t: &mut TensorProto, values: Vec<(Lit<'_>, ByteSpan)>, span: ByteSpan) {
    let count = values.len() as u64;
    let dt = DataType::try_from(t.data_type).unwrap_or(DataType::Undefined);
    for (lit, lspan) in values {
        push_value(errors, t, dt, lit, lspan);
    }
    let expected = t.dims.iter().try_fold(1u64, |acc, &d| acc.checked_mul(d as u64));
    if expected != Some(count) && dt != DataType::Undefined {
        let holds = expected.map_or_else(|| "too many".to_string(), |n| n.to_string());
        let message = format!("{} has {count} values, but its shape {:?} holds {holds}", display_name(t), t.dims);
        error(errors, message, span);
    }
}

fn push_value(errors: &mut Vec<SyntaxError>, t: &mut TensorProto, dt: DataType, lit: Lit<'_>, span: ByteSpan) {
    let mismatch = |errors: &mut Vec<SyntaxError>, wanted: &str, lit: &Lit<'_>| {
        let found = describe_lit(lit);
        error(errors, format!("expected {wanted} in a {} tensor, found {found}", dt.as_str_name()), span);
    };
    match dt {
        DataType::Float | DataType::Complex64 => match float_text(&lit) {
            Some(text) => t.float_data.push(parse_f32(errors, text, span)),
            None => mismatch(errors, "a number", &lit),
        },
        DataType::Double | DataType::Complex128 => match float_text(&lit) {
            Some(text) => t.double_data.push(parse_f64(errors, text, span)),
            None => mismatch(errors, "a number", &lit),
        },
        DataType::Float16 | DataType::Bfloat16 => match (&lit, float_text(&lit)) {
            (Lit::Int(text), _) => push_ranged(errors, t, text, span, (0, 65535), "a 16-bit pattern"),
            (_, Some(text)) => {
                let v = parse_f64(errors, text, span);
                let bits =
                    if dt == DataType::Float16 { f16::from_f64(v).to_bits() } else { bf16::from_f64(v).to_bits() };
                t.int32_data.push(i32::from(bits));
            }
            _ => mismatch(errors, "a number", &lit),
        },
        DataType::String => match lit {
            Lit::Str(s) => t.string_data.push(Bytes::from(s.into_owned())),
            other => mismatch(errors, "a string", &other),
        },
        DataType::Undefined => {}
        _ => match lit {
            Lit::Int(text) => push_int(errors, t, dt, text, span),
            other => mismatch(errors, "an integer", &other),
        },
    }
}

/// An integer element, range-checked, into the field of its type.
fn push_int(errors: &mut Vec<SyntaxError>, t: &mut TensorProto, dt: DataType, text: &str, span: ByteSpan) {
    let range: (i128, i128) = match dt {
        DataType::Int64 => (i64::MIN.into(), i64::MAX.into()),
        DataType::Uint64 => (0, u64::MAX.into()),
        DataType::Uint32 => (0, u32::MAX.into()),
        DataType::Int32 => (i32::MIN.into(), i32::MAX.into()),
        DataType::Int16 => (i16::MIN.into(), i16::MAX.into()),
        DataType::Uint16 => (0, u16::MAX.into()),
        DataType::Int8 => (i8::MIN.into(), i8::MAX.into()),
        DataType::Uint8 => (0, u8::MAX.into()),
        DataType::Bool => (0, 1),
        DataType::Int4 => (-8, 7),
        DataType::Uint4 => (0, 15),
        DataType::Int2 => (-2, 1),
        DataType::Uint2 => (0, 3),
        // float8/float4 bit patterns, as ONNX's parser takes them.
        _ => (0, 255),
    };
    let what = format!("a {} value", dt.as_str_name());
    let Some(v) = ranged(errors, text, span, range, &what) else {
        return;
    };
    match dt {
        DataType::Int64 => t.int64_data.push(v as i64),
        DataType::Uint64 | DataType::Uint32 => t.uint64_data.push(v as u64),
        _ => t.int32_data.push(v as i32),
    }
}

fn push_ranged(
    errors: &mut Vec<SyntaxError>,
    t: &mut TensorProto,
    text: &str,
    span: ByteSpan,
    range: (i128, i128),
    what: &str,
) {
    if let Some(v) = ranged(errors, text, span, range, what) {
        t.int32_data.push(v as i32);
    }
}

/// An integer's value when it lies in `range` (reported otherwise).
fn ranged(errors: &mut Vec<SyntaxError>, text: &str, span: ByteSpan, range: (i128, i128), what: &str) -> Option<i128> {
    match text.parse::<i128>() {
        Ok(v) if (range.0..=range.1).contains(&v) => Some(v),
        _ => {
            error(errors, format!("{text} is out of range for {what} ({}..={})", range.0, range.1), span);
            None
        }
    }
}

// ---------------------------------------------------------------- attributes

const ATTRIBUTE_TYPES: [(&str, AttributeType); 14] = [
    ("float", AttributeType::Float),
    ("int", AttributeType::Int),
    ("string", AttributeType::String),
    ("tensor", AttributeType::Tensor),
    ("graph", AttributeType::Graph),
    ("sparse_tensor", AttributeType::SparseTensor),
    ("type_proto", AttributeType::TypeProto),
    ("floats", AttributeType::Floats),
    ("ints", AttributeType::Ints),
    ("strings", AttributeType::Strings),
    ("tensors", AttributeType::Tensors),
    ("graphs", AttributeType::Graphs),
    ("sparse_tensors", AttributeType::SparseTensors),
    ("type_protos", AttributeType::TypeProtos),
];

fn type_name(kind: AttributeType) -> &'static str {
    ATTRIBUTE_TYPES.iter().find(|(_, k)| *k == kind).map_or("undefined", |(n, _)| n)
}

/// The element kind of a list kind (`ints` -> `int`); `None` for a kind
/// that is not a list.
fn element_kind(kind: AttributeType) -> Option<AttributeType> {
    Some(match kind {
        AttributeType::Floats => AttributeType::Float,
        AttributeType::Ints => AttributeType::Int,
        AttributeType::Strings => AttributeType::String,
        AttributeType::Tensors => AttributeType::Tensor,
        AttributeType::Graphs => AttributeType::Graph,
        AttributeType::SparseTensors => AttributeType::SparseTensor,
        AttributeType::TypeProtos => AttributeType::TypeProto,
        _ => return None,
    })
}

fn list_kind(element: AttributeType) -> AttributeType {
    match element {
        AttributeType::Float => AttributeType::Floats,
        AttributeType::Int => AttributeType::Ints,
        AttributeType::String => AttributeType::Strings,
        AttributeType::Tensor => AttributeType::Tensors,
        AttributeType::Graph => AttributeType::Graphs,
        AttributeType::SparseTensor => AttributeType::SparseTensors,
        AttributeType::TypeProto => AttributeType::TypeProtos,
        other => other,
    }
}

/// One converted attribute value.
enum Single<'a> {
    /// An integer, with its text (an `int` can still become a `float`).
    Int(i64, &'a str, ByteSpan),
    Float(f32),
    Str(Bytes),
    Tensor(TensorProto),
    Graph(GraphProto),
    Type(TypeProto),
    Ref(String),
}

impl Single<'_> {
    fn kind(&self) -> AttributeType {
        match self {
            Single::Int(..) => AttributeType::Int,
            Single::Float(_) => AttributeType::Float,
            Single::Str(_) => AttributeType::String,
            Single::Tensor(_) => AttributeType::Tensor,
            Single::Graph(_) => AttributeType::Graph,
            Single::Type(_) => AttributeType::TypeProto,
            Single::Ref(_) => AttributeType::Undefined,
        }
    }

    /// An integer where a float is wanted becomes a float (from its text).
    fn coerce(self, errors: &mut Vec<SyntaxError>, wanted: Option<AttributeType>) -> Self {
        match self {
            Single::Int(_, text, span) if wanted == Some(AttributeType::Float) => {
                Single::Float(parse_f32(errors, text, span))
            }
            other => other,
        }
    }
}

/// The attributes of a node or function; a name given twice is an error.
pub(super) fn attributes(errors: &mut Vec<SyntaxError>, attrs: Vec<AttributeP<'_>>) -> Vec<AttributeProto> {
    let mut out: Vec<AttributeProto> = Vec::with_capacity(attrs.len());
    for a in attrs {
        if out.iter().any(|o| o.name == a.name) {
            error(errors, format!("attribute '{}' is given twice", a.name), a.name_span);
        }
        out.push(attribute(errors, a));
    }
    out
}

fn attribute(errors: &mut Vec<SyntaxError>, a: AttributeP<'_>) -> AttributeProto {
    let mut attr = AttributeProto { name: a.name.to_string(), ..Default::default() };
    let declared = a.annotation.and_then(|(t, span)| {
        let kind = ATTRIBUTE_TYPES.iter().find(|(n, _)| *n == t).map(|&(_, k)| k);
        if kind.is_none() {
            let names = ATTRIBUTE_TYPES.iter().map(|(n, _)| *n);
            error_with_suggestion(errors, format!("unknown attribute type '{t}'"), span, t, names);
        }
        kind
    });
    match a.value {
        AttrValueP::One(lit, span) => {
            if let Some(d) = declared.filter(|d| element_kind(*d).is_some()) {
                let message =
                    format!("attribute '{}' is declared '{}', but its value is not a list", a.name, type_name(d));
                error(errors, message, span);
            }
            let Some(value) = single(errors, lit, span) else {
                return attr;
            };
            let value = value.coerce(errors, declared);
            if let Some(d) = declared.filter(|d| value.kind() != AttributeType::Undefined && *d != value.kind()) {
                let message = format!(
                    "attribute '{}' is declared '{}', but its value is {}",
                    a.name,
                    type_name(d),
                    kind_phrase(value.kind())
                );
                error(errors, message, span);
            }
            attr.r#type = declared.unwrap_or(value.kind()) as i32;
            set_single(&mut attr, value);
        }
        AttrValueP::List(items) => list_attribute(errors, &mut attr, declared, items, a.value_span),
    }
    attr
}

fn kind_phrase(kind: AttributeType) -> &'static str {
    match kind {
        AttributeType::Int => "an integer",
        AttributeType::Float => "a float",
        AttributeType::String => "a string",
        AttributeType::Tensor => "a tensor",
        AttributeType::Graph => "a graph",
        AttributeType::TypeProto => "a type",
        _ => "something else",
    }
}

fn set_single(attr: &mut AttributeProto, value: Single<'_>) {
    match value {
        Single::Int(i, ..) => attr.i = i,
        Single::Float(f) => attr.f = f,
        Single::Str(s) => attr.s = s,
        Single::Tensor(t) => attr.t = Some(t),
        Single::Graph(g) => attr.g = Some(g),
        Single::Type(t) => attr.tp = Some(t),
        Single::Ref(name) => attr.ref_attr_name = name,
    }
}

/// `[v, v, ...]`: the element kind comes from the annotation or from the
/// values (integers among floats become floats).
fn list_attribute(
    errors: &mut Vec<SyntaxError>,
    attr: &mut AttributeProto,
    declared: Option<AttributeType>,
    items: Vec<(AttrLit<'_>, ByteSpan)>,
    span: ByteSpan,
) {
    let declared_element = match declared {
        Some(d) => match element_kind(d) {
            Some(e) => Some(e),
            None => {
                let message =
                    format!("attribute '{}' is declared '{}', but its value is a list", attr.name, type_name(d));
                error(errors, message, span);
                return;
            }
        },
        None => None,
    };
    let written_empty = items.is_empty();
    let mut values = Vec::with_capacity(items.len());
    for (lit, lspan) in items {
        match single(errors, lit, lspan) {
            Some(Single::Ref(_)) => error(errors, "an attribute reference cannot be a list element", lspan),
            Some(v) => values.push((v, lspan)),
            None => {}
        }
    }
    let element = declared_element.or_else(|| inferred_element(errors, &values, span));
    let Some(element) = element else {
        if written_empty && declared.is_none() {
            let message =
                format!("the empty list needs a type: write '{}: ints = []' (or floats, strings, ...)", attr.name);
            error(errors, message, span);
        }
        return;
    };
    attr.r#type = list_kind(element) as i32;
    for (v, lspan) in values {
        let v = v.coerce(errors, Some(element));
        if v.kind() != element {
            let message = format!("a list of {}s cannot hold {}", type_name(element), kind_phrase(v.kind()));
            error(errors, message, lspan);
            continue;
        }
        push_element(attr, v);
    }
}

/// The element kind of an unannotated list: all one kind, or integers and
/// floats (which make floats).
fn inferred_element(
    errors: &mut Vec<SyntaxError>,
    values: &[(Single<'_>, ByteSpan)],
    span: ByteSpan,
) -> Option<AttributeType> {
    let mut kinds: Vec<AttributeType> = values.iter().map(|(v, _)| v.kind()).collect();
    kinds.sort();
    kinds.dedup();
    match kinds.as_slice() {
        [] => None,
        [one] => Some(*one),
        [AttributeType::Float, AttributeType::Int] => Some(AttributeType::Float),
        _ => {
            let list: Vec<&str> = kinds.iter().map(|k| kind_phrase(*k)).collect();
            error(errors, format!("a list cannot mix {}", list.join(" and ")), span);
            None
        }
    }
}

fn push_element(attr: &mut AttributeProto, value: Single<'_>) {
    match value {
        Single::Int(i, ..) => attr.ints.push(i),
        Single::Float(f) => attr.floats.push(f),
        Single::Str(s) => attr.strings.push(s),
        Single::Tensor(t) => attr.tensors.push(t),
        Single::Graph(g) => attr.graphs.push(g),
        Single::Type(t) => attr.type_protos.push(t),
        Single::Ref(_) => {}
    }
}

/// Converts one written value; `None` when it is not a value (reported).
fn single<'a>(errors: &mut Vec<SyntaxError>, lit: AttrLit<'a>, span: ByteSpan) -> Option<Single<'a>> {
    Some(match lit {
        AttrLit::Lit(Lit::Int(text)) => Single::Int(parse_i64(errors, text, span)?, text, span),
        AttrLit::Lit(Lit::Float(text)) => Single::Float(parse_f32(errors, text, span)),
        AttrLit::Lit(Lit::Str(s)) => Single::Str(Bytes::from(s.into_owned())),
        AttrLit::Lit(Lit::Word(w)) if is_special_float(w) => Single::Float(parse_f32(errors, w, span)),
        AttrLit::Lit(Lit::Word(w)) if convert::primitive_type(w).is_some() => {
            let ty = TypeP::Tensor { elem: w, elem_span: span, dims: None };
            Single::Type(convert::type_proto(errors, ty))
        }
        AttrLit::Lit(Lit::Word(w)) => {
            let message = format!(
                "'{w}' is not a value: expected a number, a string, a tensor such as 'float[2] {{1, 2}}', a graph or a type"
            );
            let candidates = ["inf", "nan"].into_iter().chain(convert::PRIMITIVE_TYPES.iter().map(|(n, _)| *n));
            error_with_suggestion(errors, message, span, w, candidates);
            return None;
        }
        AttrLit::Ref(name) => Single::Ref(name.into_owned()),
        AttrLit::Type(ty) => Single::Type(convert::type_proto(errors, ty)),
        AttrLit::Tensor { ty, name, data } => {
            Single::Tensor(tensor(errors, &ty, None, name.unwrap_or_default().to_string(), data, span))
        }
        AttrLit::Graph(g) => Single::Graph(*g),
    })
}
