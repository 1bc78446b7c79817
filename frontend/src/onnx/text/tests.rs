//! The ONNX text parser: models parsed into expected protos, and every
//! class of error with its message and the text it points at.

use super::parse_onnx_text_str;
use crate::onnx::proto::tensor_shape_proto::{dimension, Dimension};
use crate::onnx::proto::type_proto::{self, Value};
use crate::onnx::proto::*;
use bytes::Bytes;

fn parse(text: &str) -> ModelProto {
    let (sources, result) = parse_onnx_text_str("test.onnxtxt", text);
    result.unwrap_or_else(|d| panic!("{}", weft_ir::diag::render_all(&d, &sources)))
}

fn graph(text: &str) -> GraphProto {
    parse(text).graph.expect("a graph")
}

fn node(body: &str) -> NodeProto {
    let mut g = graph(&format!("g (float X) => (float Y) {{ {body} }}"));
    g.node.remove(0)
}

fn attr(attrs: &str) -> AttributeProto {
    node(&format!("Y = Op <{attrs}> (X)")).attribute.remove(0)
}

/// `(message, the text the error points at)` for each error.
fn errors(text: &str) -> Vec<(String, String)> {
    let (_, result) = parse_onnx_text_str("test.onnxtxt", text);
    let diags = result.expect_err("errors");
    diags
        .into_iter()
        .map(|d| {
            let spanned = text.get(d.span.start as usize..d.span.end as usize).unwrap_or("<none>").to_string();
            (d.message, spanned)
        })
        .collect()
}

fn first_error(text: &str) -> (String, String) {
    errors(text).remove(0)
}

fn dim_value(v: i64) -> Dimension {
    Dimension { value: Some(dimension::Value::DimValue(v)), denotation: String::new() }
}

fn dim_param(p: &str) -> Dimension {
    Dimension { value: Some(dimension::Value::DimParam(p.into())), denotation: String::new() }
}

fn tensor_type(elem: DataType, dims: Option<Vec<Dimension>>) -> TypeProto {
    let shape = dims.map(|dim| TensorShapeProto { dim });
    TypeProto {
        value: Some(Value::TensorType(type_proto::Tensor { elem_type: elem as i32, shape })),
        ..Default::default()
    }
}

fn value_info(name: &str, ty: TypeProto) -> ValueInfoProto {
    ValueInfoProto { name: name.into(), r#type: Some(ty), ..Default::default() }
}

#[test]
fn a_minimal_model() {
    let m = parse("agraph (float[N, 128] X) => (float[N, 128] Y) { Y = Relu(X) }");
    let ty = || tensor_type(DataType::Float, Some(vec![dim_param("N"), dim_value(128)]));
    let expected = ModelProto {
        graph: Some(GraphProto {
            name: "agraph".into(),
            input: vec![value_info("X", ty())],
            output: vec![value_info("Y", ty())],
            node: vec![NodeProto {
                input: vec!["X".into()],
                output: vec!["Y".into()],
                op_type: "Relu".into(),
                ..Default::default()
            }],
            ..Default::default()
        }),
        ..Default::default()
    };
    assert_eq!(m, expected);
}

#[test]
fn the_model_header() {
    let m = parse(
        r#"<ir_version: 8, opset_import: ["" : 17, "com.microsoft" : 1], producer_name: "x",
            producer_version: "2", domain: "ai.weft", model_version: 4, doc_string: "d",
            metadata_props: ["k" : "v"]>
           g () => () {}"#,
    );
    assert_eq!(m.ir_version, 8);
    let opsets = vec![
        OperatorSetIdProto { domain: String::new(), version: 17 },
        OperatorSetIdProto { domain: "com.microsoft".into(), version: 1 },
    ];
    assert_eq!(m.opset_import, opsets);
    assert_eq!((m.producer_name.as_str(), m.producer_version.as_str()), ("x", "2"));
    assert_eq!((m.domain.as_str(), m.model_version, m.doc_string.as_str()), ("ai.weft", 4, "d"));
    assert_eq!(m.metadata_props, vec![StringStringEntryProto { key: "k".into(), value: "v".into() }]);
}

#[test]
fn types_scalars_unknown_ranks_and_constructors() {
    let g = graph("g (float s, float[] u, int64[?, \"batch size\", 3] t, seq(float[2]) q, map(int64, float) m, optional(bool) o, sparse_tensor(float[4]) sp) => () {}");
    let types: Vec<TypeProto> = g.input.iter().map(|v| v.r#type.clone().expect("typed")).collect();
    assert_eq!(types[0], tensor_type(DataType::Float, Some(vec![])), "a bare type is a scalar");
    assert_eq!(types[1], tensor_type(DataType::Float, None), "[] is an unknown rank");
    let unknown = Dimension::default();
    assert_eq!(types[2], tensor_type(DataType::Int64, Some(vec![unknown, dim_param("batch size"), dim_value(3)])));
    let seq = Value::SequenceType(Box::new(type_proto::Sequence {
        elem_type: Some(Box::new(tensor_type(DataType::Float, Some(vec![dim_value(2)])))),
    }));
    assert_eq!(types[3].value, Some(seq));
    let map = Value::MapType(Box::new(type_proto::Map {
        key_type: DataType::Int64 as i32,
        value_type: Some(Box::new(tensor_type(DataType::Float, Some(vec![])))),
    }));
    assert_eq!(types[4].value, Some(map));
    assert!(matches!(types[5].value, Some(Value::OptionalType(_))));
    let sparse = Value::SparseTensorType(type_proto::SparseTensor {
        elem_type: DataType::Float as i32,
        shape: Some(TensorShapeProto { dim: vec![dim_value(4)] }),
    });
    assert_eq!(types[6].value, Some(sparse));
}

#[test]
fn nodes_names_domains_and_omitted_inputs() {
    let n = node("[my_node] Y = com.microsoft.Foo:v2 (X, , \"odd/name.0\")");
    assert_eq!(n.name, "my_node");
    assert_eq!((n.domain.as_str(), n.op_type.as_str(), n.overload.as_str()), ("com.microsoft", "Foo", "v2"));
    assert_eq!(n.input, vec!["X", "", "odd/name.0"]);
    assert_eq!(node("Y = Op ()").input, Vec::<String>::new());
    assert_eq!(node("Y = Op (, X)").input, vec!["", "X"]);
    assert_eq!(node("Y = Op (X, )").input, vec!["X", ""], "as ONNX's printer writes an omitted last input");
    assert_eq!(node("Y, , Z = Op (X)").output, vec!["Y", "", "Z"]);
    assert_eq!(node("= Print (X)").output, Vec::<String>::new());
    assert_eq!(node("[\"quoted node\"] Y = Relu (X)").name, "quoted node");
    assert_eq!(node("Y = Relu (X) <alpha = 1>").attribute.len(), 1, "attributes may follow the inputs");
    let g = graph("\"my graph\" (float X) => (float Y) {\n  # a comment\n  Y = Relu(X) # another\n}");
    assert_eq!(g.name, "my graph");
}

#[test]
fn attribute_types_come_from_the_value() {
    let a = attr("axis = -1");
    assert_eq!((AttributeType::try_from(a.r#type), a.i), (Ok(AttributeType::Int), -1));
    let a = attr("alpha = 0.1");
    assert_eq!((AttributeType::try_from(a.r#type), a.f), (Ok(AttributeType::Float), 0.1f32));
    assert_eq!(attr("mode = \"linear\"").s, Bytes::from_static(b"linear"));
    let a = attr("perm = [1, 0]");
    assert_eq!((a.r#type, a.ints), (AttributeType::Ints as i32, vec![1, 0]));
    let a = attr("scales = [1, 2.5]");
    assert_eq!((a.r#type, a.floats), (AttributeType::Floats as i32, vec![1.0, 2.5]), "integers among floats");
    let a = attr("names = [\"a\", \"b\"]");
    assert_eq!(a.strings, vec![Bytes::from_static(b"a"), Bytes::from_static(b"b")]);
    assert_eq!(attr("x = inf").f, f32::INFINITY);
    assert_eq!(attr("x = -inf").f, f32::NEG_INFINITY);
    assert!(attr("x = NaN").f.is_nan());
    let tp = attr("t = float");
    assert_eq!((tp.r#type, tp.tp), (AttributeType::TypeProto as i32, Some(tensor_type(DataType::Float, Some(vec![])))));
    let tps = attr("ts = [float[2], seq(int64)]");
    assert_eq!((tps.r#type, tps.type_protos.len()), (AttributeType::TypeProtos as i32, 2));
}

#[test]
fn annotated_attributes() {
    let a = attr("alpha: float = 1");
    assert_eq!((a.r#type, a.f, a.i), (AttributeType::Float as i32, 1.0, 0), "an integer read as a float");
    assert_eq!(attr("z: float = -0").f.to_bits(), (-0.0f32).to_bits());
    let a = attr("axes: ints = []");
    assert_eq!((a.r#type, a.ints.len()), (AttributeType::Ints as i32, 0));
    let a = attr("fs: floats = [1, 2]");
    assert_eq!((a.r#type, a.floats), (AttributeType::Floats as i32, vec![1.0, 2.0]));
    let a = attr("alpha: float = @beta");
    assert_eq!((a.r#type, a.ref_attr_name.as_str()), (AttributeType::Float as i32, "beta"));
    let a = attr("alpha = @beta");
    assert_eq!(a.r#type, AttributeType::Undefined as i32, "an unannotated reference has no type");
}

#[test]
fn tensor_and_graph_attributes() {
    let t = attr("value = float[2] {1, 2.5}").t.expect("tensor");
    let expected = TensorProto { dims: vec![2], data_type: 1, float_data: vec![1.0, 2.5], ..Default::default() };
    assert_eq!(t, expected);
    let t = attr("value = int64[2] named = {3, -4}").t.expect("tensor");
    assert_eq!((t.name.as_str(), t.int64_data), ("named", vec![3, -4]));
    let t = attr("value = int64 {7}").t.expect("tensor");
    assert_eq!((t.dims.len(), t.int64_data), (0, vec![7]));
    let t = attr("value = float[2] w [\"location\": \"w.bin\", \"offset\": \"16\"]").t.expect("tensor");
    assert_eq!(t.data_location, DataLocation::External as i32);
    assert_eq!(t.external_data[1], StringStringEntryProto { key: "offset".into(), value: "16".into() });
    let a = attr("ts = [float {1}, float {2}]");
    assert_eq!((a.r#type, a.tensors.len()), (AttributeType::Tensors as i32, 2));
    let a = attr("body = loop_body (int64 i, bool c) => (bool c_out) { c_out = Identity (c) }");
    let g = a.g.expect("graph");
    assert_eq!(
        (a.r#type, g.name.as_str(), g.input.len(), g.node.len()),
        (AttributeType::Graph as i32, "loop_body", 2, 1)
    );
    let a = attr("branch = g2 => (float y) { y = Constant <value_float = 1.0> () }");
    assert_eq!(a.g.expect("graph").input.len(), 0, "a graph may omit its input list");
}

#[test]
fn initializers_and_their_data() {
    let g = graph(
        r#"g (float[2] X, int64[2] shape = {2, -1}) => (float[2] Y)
           <float[2] w = {1.5, -2}, float[2, ?] T, float16[3] h = {1.5, -2.0, 15360}, bool[2] b = {1, 0},
            uint64[1] big = {18446744073709551615}, string[1] s = {"a\"b"}, double d = {1e-300},
            int4[2] q = {-8, 7}, float[1] none =, float[2] ext = ["location": "w.bin"]>
           { Y = Add (X, w) }"#,
    );
    let names: Vec<&str> = g.initializer.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, vec!["shape", "w", "h", "b", "big", "s", "d", "q", "none", "ext"]);
    assert_eq!(g.input.len(), 2, "an input with a default value stays an input");
    assert_eq!(g.value_info.len(), 1);
    let t = |name: &str| g.initializer.iter().find(|t| t.name == name).expect("initializer").clone();
    assert_eq!(t("shape").int64_data, vec![2, -1]);
    assert_eq!(t("w").float_data, vec![1.5, -2.0]);
    let halves = [half::f16::from_f32(1.5).to_bits(), half::f16::from_f32(-2.0).to_bits(), 15360];
    assert_eq!(t("h").int32_data, halves.map(i32::from).to_vec(), "floats convert; integers are bit patterns");
    assert_eq!(t("b").int32_data, vec![1, 0]);
    assert_eq!(t("big").uint64_data, vec![u64::MAX]);
    assert_eq!(t("s").string_data, vec![Bytes::from_static(b"a\"b")]);
    assert_eq!(t("d").double_data, vec![1e-300]);
    assert_eq!(t("q").int32_data, vec![-8, 7]);
    assert_eq!(t("ext").data_location, DataLocation::External as i32);
    assert!(t("none").float_data.is_empty());
}

#[test]
fn functions() {
    let m = parse(
        r#"<opset_import: ["" : 18, "local" : 1]>
           g (float[2] X) => (float[2] Y) { Y = local.Scale <alpha = 2.0> (X) }
           <domain: "local", opset_import: ["" : 18], doc_string: "scales", overload: "o">
           Scale <alpha, beta = 2.0> (float[N] x, y0) => (float[N] y) <float[N] t> {
             t = Constant <value_float: float = @alpha> ()
             y = Mul (x, t)
           }"#,
    );
    let f = &m.functions[0];
    assert_eq!(
        (f.name.as_str(), f.domain.as_str(), f.doc_string.as_str(), f.overload.as_str()),
        ("Scale", "local", "scales", "o")
    );
    assert_eq!(f.opset_import, vec![OperatorSetIdProto { domain: String::new(), version: 18 }]);
    assert_eq!(f.attribute, vec!["alpha"]);
    assert_eq!((f.attribute_proto[0].name.as_str(), f.attribute_proto[0].f), ("beta", 2.0));
    assert_eq!(f.input, vec!["x", "y0"]);
    assert_eq!(f.output, vec!["y"]);
    let infos: Vec<&str> = f.value_info.iter().map(|v| v.name.as_str()).collect();
    assert_eq!(infos, vec!["x", "y", "t"], "typed inputs and outputs, then the listed value infos");
    assert_eq!(f.node.len(), 2);
    let twice = "g () => () {}\n<domain: \"d\"> F <a, a = 1> () => () {}";
    assert_eq!(errors(twice), vec![("function attribute 'a' is declared twice".to_string(), "a".to_string())]);
    assert_eq!(
        first_error("g () => () {} F <x: int = 1> () => () {} <bogus: 1> G () => () {}").0,
        "unknown function property 'bogus' (known: domain, opset_import, doc_string, overload)"
    );
}

#[test]
fn header_errors() {
    let (message, at) = first_error("<ir_versoin: 8> g () => () {}");
    assert_eq!((message.as_str(), at.as_str()), (
        "unknown model property 'ir_versoin' (known: ir_version, opset_import, producer_name, producer_version, domain, model_version, doc_string, metadata_props)",
        "ir_versoin"
    ));
    let (_, result) = parse_onnx_text_str("t", "<ir_versoin: 8> g () => () {}");
    let notes: Vec<String> = result.expect_err("error")[0].notes.iter().map(|n| n.message.clone()).collect();
    assert_eq!(notes, vec!["did you mean 'ir_version'?"]);
    assert_eq!(
        first_error("<ir_version: 8, ir_version: 9> g () => () {}"),
        ("model property 'ir_version' is given twice".into(), "ir_version".into())
    );
    assert_eq!(
        first_error("<ir_version: \"8\"> g () => () {}"),
        ("'ir_version' needs an integer, found string \"8\"".into(), "\"8\"".into())
    );
    assert_eq!(first_error("<opset_import: 17> g () => () {}").0, "'opset_import' needs a list such as [\"\" : 17]");
    assert_eq!(
        first_error("<opset_import: [\"\" : \"17\"]> g () => () {}").0,
        "an opset version must be an integer, found string \"17\""
    );
    assert_eq!(
        first_error("<ir_version: 99999999999999999999> g () => () {}").0,
        "integer 99999999999999999999 does not fit in 64 bits"
    );
}

#[test]
fn type_and_initializer_errors() {
    let (message, at) = first_error("g (flaot[2] X) => () {}");
    assert_eq!((message.as_str(), at.as_str()), ("unknown type 'flaot'", "flaot"));
    assert_eq!(
        first_error("g () => () <float[N] w = {1}> {}"),
        ("tensor 'w' needs a static shape: every dim must be a number".into(), "N".into())
    );
    assert_eq!(
        first_error("g () => () <float[3] w = {1, 2}> {}"),
        ("tensor 'w' has 2 values, but its shape [3] holds 3".into(), "float[3] w".into())
    );
    assert_eq!(
        first_error("g () => () <int8[1] w = {200}> {}"),
        ("200 is out of range for a INT8 value (-128..=127)".into(), "200".into())
    );
    assert_eq!(
        first_error("g () => () <int64[1] w = {1.5}> {}").0,
        "expected an integer in a INT64 tensor, found float 1.5"
    );
    assert_eq!(first_error("g () => () <float[1] w = {x}> {}").0, "expected a number in a FLOAT tensor, found 'x'");
    assert_eq!(first_error("g () => () <float[1] w = {1e40}> {}").0, "1e40 is out of range for a 32-bit float");
    assert_eq!(
        first_error("g () => () <w = {1}> {}").0,
        "initializer 'w' needs a tensor type, such as 'float[2] w = {1, 2}'"
    );
    assert_eq!(
        first_error("g () => () <float[] w = {1}> {}").0,
        "tensor 'w' needs a shape: write its dims, such as 'float[2]', or 'float' for a scalar"
    );
    assert_eq!(
        first_error("g (map(float[2], int64) m) => () {}").0,
        "the key type of a map must be an element type such as 'int64'"
    );
    assert_eq!(first_error("g (seq(float, int64) s) => () {}").0, "'seq' takes one type, found 2");
}

#[test]
fn attribute_errors() {
    let in_node = |attrs: &str| first_error(&format!("g (float X) => (float Y) {{ Y = Op <{attrs}> (X) }}"));
    assert_eq!(
        in_node("a: int = 1.5"),
        ("attribute 'a' is declared 'int', but its value is a float".into(), "1.5".into())
    );
    assert_eq!(in_node("a: ints = 1").0, "attribute 'a' is declared 'ints', but its value is not a list");
    assert_eq!(in_node("a: int = [1]").0, "attribute 'a' is declared 'int', but its value is a list");
    assert_eq!(in_node("a = []").0, "the empty list needs a type: write 'a: ints = []' (or floats, strings, ...)");
    assert_eq!(in_node("a = [1, \"x\"]"), ("a list cannot mix an integer and a string".into(), "[1, \"x\"]".into()));
    assert_eq!(in_node("a: strings = [1]").0, "a list of strings cannot hold an integer");
    assert_eq!(in_node("a: integer = 1").0, "unknown attribute type 'integer'");
    assert_eq!(
        in_node("a = linear").0,
        "'linear' is not a value: expected a number, a string, a tensor such as 'float[2] {1, 2}', a graph or a type"
    );
    assert_eq!(in_node("a = 1, a = 2"), ("attribute 'a' is given twice".into(), "a".into()));
    assert_eq!(in_node("a = [@b]").0, "an attribute reference cannot be a list element");
    let both = first_error("g (float X) => (float Y) { Y = Op <a = 1> (X) <b = 2> }");
    assert_eq!(
        both,
        ("attributes are given both before and after the inputs; give them in one place".into(), "<b = 2>".into())
    );
}

#[test]
fn syntax_errors_are_located() {
    assert_eq!(
        first_error("g (float X) => (float Y) { Y = Relu(X }"),
        ("expected ')' or ',', found '}'".into(), "}".into())
    );
    let (message, at) = first_error("g (float X) => (float Y) { Y = Relu(X)");
    assert!(message.starts_with("expected ") && message.ends_with("found the end of the input"), "{message}");
    assert_eq!(at, "");
    assert_eq!(
        first_error("g (float X) => (float Y) { Y = Relu(X) } }"),
        ("expected a function or the end of the input, found '}'".into(), "}".into())
    );
    assert_eq!(
        first_error("g (float X) => (float Y) { Y = Relu($) }"),
        ("unexpected character '$'".into(), "$".into())
    );
    assert_eq!(first_error("g (float X) = > (float Y) {}").0, "expected '=>', found '='");
    assert_eq!(first_error("").0, "expected '(', '<', '=>' or a name, found the end of the input");
}

#[test]
fn every_semantic_error_is_reported_in_order() {
    let text = "<ir_version: \"x\"> g (flaot X, int8[1] q = {999}) => (float Y) { Y = Op <a: int = 1.5> (X) }";
    let found: Vec<String> = errors(text).into_iter().map(|e| e.1).collect();
    assert_eq!(found, vec!["\"x\"", "flaot", "999", "1.5"]);
    // A syntax error after a semantic error: both, in order.
    let found = errors("g (flaot X) => (float Y) { Y = }");
    assert_eq!(found.len(), 2);
    assert_eq!(found[0].0, "unknown type 'flaot'");
}

#[test]
fn diagnostics_render_with_positions() {
    let text = "g (float X) => (float Y) {\n  Y = Relu(X\n}";
    let (sources, result) = parse_onnx_text_str("model.onnxtxt", text);
    let d = result.expect_err("error");
    let rendered = weft_ir::diag::render_all(&d, &sources);
    assert!(rendered.contains("model.onnxtxt:3:1"), "{rendered}");
    assert_eq!(d[0].position(&sources), Some(("model.onnxtxt".to_string(), 3, 1)));
}

#[test]
fn deep_nesting_is_an_error_not_a_crash() {
    let deep =
        format!("g (float X) => (float Y) {{ Y = Op <t = {}float{}> (X) }}", "seq(".repeat(300), ")".repeat(300));
    assert!(first_error(&deep).0.contains("nest more than"));
}
