//! Cross-checks against the `onnx` Python package, through the fixtures
//! that frontend/tests/fixtures/make_fixtures.py writes: the text parser
//! gives what `onnx.parser.parse_model` gives, and payloads read from raw
//! data, typed fields and external data hold the script's values.

use super::proto::ModelProto;
use super::reader::{payload_to_tensor, read_model, read_tensor_pb, OnnxModel};
use super::text::parse_onnx_text_str;
use half::{bf16, f16};
use prost::Message;
use std::path::{Path, PathBuf};
use weft_ir::tensor::TensorData;
use weft_ir::ElemType;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/onnx").join(name)
}

fn parse_text_fixture(name: &str) -> ModelProto {
    let path = fixture(name);
    let text = std::fs::read_to_string(&path).expect("fixture text");
    let (sources, result) = parse_onnx_text_str(name, &text);
    result.unwrap_or_else(|d| panic!("{}", weft_ir::diag::render_all(&d, &sources)))
}

fn read_fixture(name: &str) -> OnnxModel {
    read_model(&fixture(name)).unwrap_or_else(|d| panic!("{}", d.message))
}

fn assert_same_as_onnx_parser(name: &str) {
    let ours = parse_text_fixture(&format!("{name}.onnxtxt"));
    let theirs = read_fixture(&format!("{name}.parsed.onnx")).model;
    let (ours_graph, theirs_graph) = (ours.graph.clone().unwrap_or_default(), theirs.graph.clone().unwrap_or_default());
    for (a, b) in ours_graph.node.iter().zip(&theirs_graph.node) {
        assert_eq!(a, b, "{name}: nodes differ");
    }
    for (a, b) in ours_graph.initializer.iter().zip(&theirs_graph.initializer) {
        assert_eq!(a, b, "{name}: initializers differ");
    }
    assert_eq!(ours, theirs, "{name}: the models differ");
    assert_eq!(ours.encode_to_vec(), theirs.encode_to_vec(), "{name}: the encodings differ");
}

#[test]
fn printer_output_parses_like_onnx() {
    assert_same_as_onnx_parser("mlp");
}

#[test]
fn every_syntax_feature_parses_like_onnx() {
    assert_same_as_onnx_parser("syntax");
    let model = parse_text_fixture("syntax.onnxtxt");
    assert_eq!(model.functions.len(), 2);
    let graph = model.graph.unwrap_or_default();
    assert_eq!(graph.initializer.len(), 9);
    assert!(graph.node.iter().any(|n| n.op_type == "If"));
}

#[test]
fn exported_model_reads() {
    let m = read_fixture("mlp.onnx");
    let opsets: Vec<(&str, i64)> = m.model.opset_import.iter().map(|o| (o.domain.as_str(), o.version)).collect();
    assert_eq!(opsets, vec![("", 17), ("com.microsoft", 1)]);
    let graph = m.model.graph.as_ref().expect("graph");
    let names: Vec<&str> = graph.node.iter().map(|n| n.name.as_str()).collect();
    assert_eq!(names, vec!["fc1/MatMul", "fc1/Add", "act", "", "", "", "", "gelu"]);
    assert_eq!(graph.node[3].input, vec!["h2", "lo", ""]);
    assert_eq!(graph.node[7].domain, "com.microsoft");
    let alpha = &graph.node[2].attribute[0];
    assert_eq!((alpha.name.as_str(), alpha.f), ("alpha", 0.01));
    let payload = |name: &str| {
        let t = graph.initializer.iter().find(|t| t.name == name).expect("initializer");
        payload_to_tensor(&m.tensor_payload(t).expect("payload"))
    };
    let b1: Vec<f32> = (0..8).map(|i| i as f32 / 4.0).collect();
    assert_eq!(payload("b1").data, TensorData::F32(b1));
    assert_eq!(payload("shape").data, TensorData::Int(vec![-1, 8]));
    assert_eq!(payload("lo").shape, Vec::<u64>::new());
    assert_eq!(payload("w1").shape, vec![4, 8]);
    // The text printed from the model holds the same exactly representable
    // values in typed fields.
    let parsed = read_fixture("mlp.parsed.onnx");
    let parsed_graph = parsed.model.graph.as_ref().expect("graph");
    for name in ["b1", "shape", "lo"] {
        let t = parsed_graph.initializer.iter().find(|t| t.name == name).expect("initializer");
        assert_eq!(payload_to_tensor(&parsed.tensor_payload(t).expect("payload")), payload(name), "{name}");
    }
}

#[test]
fn raw_and_typed_payloads_agree_for_every_type() {
    let m = read_fixture("dtypes.onnx");
    let graph = m.model.graph.as_ref().expect("graph");
    let tensor = |name: &str| {
        let t = graph.initializer.iter().find(|t| t.name == name).unwrap_or_else(|| panic!("no {name}"));
        let p = m.tensor_payload(t).unwrap_or_else(|e| panic!("{e}"));
        (p.clone(), payload_to_tensor(&p))
    };
    let halves = [0.0, -1.5, 3.25, 65504.0].map(f16::from_f32).to_vec();
    let expected: Vec<(&str, TensorData)> = vec![
        ("f32", TensorData::F32(vec![0.0, -1.5, 3.25, 1e-3])),
        ("f64", TensorData::F64(vec![0.0, -1.5, 3.25, 1e-300])),
        ("f16", TensorData::F16(halves)),
        ("i8", TensorData::Int(vec![0, -128, 127, 5])),
        ("u8", TensorData::Int(vec![0, 255, 1, 128])),
        ("i16", TensorData::Int(vec![0, -32768, 32767, 5])),
        ("u16", TensorData::Int(vec![0, 65535, 1, 2])),
        ("i32", TensorData::Int(vec![0, i32::MIN.into(), i32::MAX.into(), 5])),
        ("u32", TensorData::Int(vec![0, u32::MAX.into(), 1, 2])),
        ("i64", TensorData::Int(vec![0, i64::MIN, i64::MAX, 5])),
        ("u64", TensorData::Int(vec![0, -1, 1, 2])),
        ("bool", TensorData::Int(vec![1, 0, 1, 1])),
    ];
    for (name, data) in expected {
        let (raw_payload, raw) = tensor(&format!("{name}_raw"));
        let (typed_payload, typed) = tensor(&format!("{name}_typed"));
        assert_eq!(raw_payload, typed_payload, "{name}: raw and typed payloads differ");
        assert_eq!(raw.data, data, "{name}");
        assert_eq!(typed.shape, vec![2, 2], "{name}");
    }
    let bf = [0.0, -1.5, 3.25, 2.0].map(bf16::from_f32).to_vec();
    assert_eq!(tensor("bf16_typed").1.data, TensorData::BF16(bf));
    let (i4, i4_tensor) = tensor("i4_typed");
    assert_eq!(i4.elem, ElemType::Int { width: 4, signed: true });
    assert_eq!(i4_tensor.data, TensorData::Int(vec![-8, 7, 0, -1, 3]));
    assert_eq!(tensor("u4_typed").1.data, TensorData::Int(vec![0, 15, 1, 9, 4]));
}

#[test]
fn external_data_reads() {
    let m = read_fixture("external/model.onnx");
    let graph = m.model.graph.as_ref().expect("graph");
    let data: Vec<TensorData> = graph
        .initializer
        .iter()
        .map(|t| payload_to_tensor(&m.tensor_payload(t).unwrap_or_else(|e| panic!("{e}"))).data)
        .collect();
    let w: Vec<f32> = (0..12).map(|i| i as f32).collect();
    assert_eq!(data, vec![TensorData::F32(w), TensorData::Int(vec![1, -2, 3])]);
}

#[test]
fn models_load_by_extension() {
    let mut sources = weft_ir::SourceMap::new();
    let text = super::load_model(&mut sources, &fixture("mlp.onnxtxt")).unwrap_or_else(|d| panic!("{d:?}"));
    let binary = super::load_model(&mut sources, &fixture("mlp.parsed.onnx")).unwrap_or_else(|d| panic!("{d:?}"));
    assert_eq!(text.model, binary.model);
    assert_eq!(text.dir(), fixture("").as_path().components().as_path());
    let missing = super::load_model(&mut sources, &fixture("missing.onnxtxt")).expect_err("missing");
    assert!(missing[0].message.ends_with("missing.onnxtxt: no such file"), "{}", missing[0].message);
    let bad = std::env::temp_dir().join(format!("weft-bad-{}.onnxtxt", std::process::id()));
    std::fs::write(&bad, b"g () => () { Y = Relu(\xff) }").expect("write");
    let d = super::load_model(&mut sources, &bad).expect_err("not UTF-8");
    assert!(d[0].message.contains("not valid UTF-8"), "{}", d[0].message);
    let d = super::load_model(&mut sources, &fixture("syntax.onnxtxt").with_extension("txt")).expect_err("missing");
    assert!(d[0].message.ends_with("syntax.txt: no such file"));
    let _ = std::fs::remove_file(&bad);
}

#[test]
fn test_data_tensor_reads() {
    let (name, t) = read_tensor_pb(&fixture("input_0.pb")).unwrap_or_else(|d| panic!("{}", d.message));
    assert_eq!(name, "input_ids");
    assert_eq!(t.shape, vec![2, 3]);
    assert_eq!(t.data, TensorData::F32(vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]));
}

/// Clears `i` of FLOAT attributes: ONNX 1.17's parser also stores an
/// integer written for a float attribute (`alpha: float = 2`) in `i`, which
/// newer ONNX releases and weft do not.
fn clear_float_attr_ints(attrs: &mut [super::proto::AttributeProto]) {
    for a in attrs {
        if a.r#type == super::proto::AttributeType::Float as i32 {
            a.i = 0;
        }
        a.g.iter_mut().chain(a.graphs.iter_mut()).for_each(clear_graph);
    }
}

fn clear_graph(g: &mut super::proto::GraphProto) {
    g.node.iter_mut().for_each(|n| clear_float_attr_ints(&mut n.attribute));
}

/// The large cross-check written by frontend/tests/fixtures/cross_check.py
/// (every ONNX backend test model as text, every test-data tensor):
/// `WEFT_ONNX_CROSS_CHECK=DIR cargo test -p weft-frontend -- --ignored cross_check`.
#[test]
#[ignore = "needs the data written by frontend/tests/fixtures/cross_check.py"]
fn cross_check_with_onnx_backend_data() {
    let dir = PathBuf::from(std::env::var("WEFT_ONNX_CROSS_CHECK").expect("set WEFT_ONNX_CROSS_CHECK"));
    let files = |sub: &str| {
        let mut v: Vec<PathBuf> =
            std::fs::read_dir(dir.join(sub)).expect("cross-check dir").flatten().map(|e| e.path()).collect();
        v.sort();
        v
    };
    let mut failures = Vec::new();
    let mut texts = 0;
    for path in files("text").into_iter().filter(|p| p.extension().is_some_and(|e| e == "onnxtxt")) {
        texts += 1;
        let text = std::fs::read_to_string(&path).expect("text");
        let parsed = std::fs::read(path.with_extension("parsed.onnx")).expect("parsed");
        let mut theirs = ModelProto::decode(&parsed[..]).expect("onnx's parse");
        theirs.graph.iter_mut().for_each(clear_graph);
        for f in &mut theirs.functions {
            f.node.iter_mut().for_each(|n| clear_float_attr_ints(&mut n.attribute));
            clear_float_attr_ints(&mut f.attribute_proto);
        }
        match parse_onnx_text_str("x", &text).1 {
            Ok(ours) if ours.encode_to_vec() == theirs.encode_to_vec() => {}
            Ok(_) => failures.push(format!("{}: differs from onnx's parse", path.display())),
            Err(d) => failures.push(format!("{}: {}", path.display(), d[0].message)),
        }
    }
    let mut tensors = 0;
    for path in files("tensors").into_iter().filter(|p| p.extension().is_some_and(|e| e == "pb")) {
        tensors += 1;
        let expected = std::fs::read(format!("{}.expected", path.display())).expect("expected bytes");
        let t = super::proto::TensorProto::decode(&std::fs::read(&path).expect("pb")[..]).expect("tensor");
        match super::reader::tensor_payload_in(&dir, &t) {
            Ok(p) if p.data[..] == expected[..] => {}
            Ok(_) => failures.push(format!("{}: payload differs from numpy", path.display())),
            Err(e) => failures.push(format!("{}: {e}", path.display())),
        }
    }
    assert!(texts > 1000 && tensors > 3000, "only {texts} texts and {tensors} tensors in {}", dir.display());
    assert!(failures.is_empty(), "{} failures:\n{}", failures.len(), failures.join("\n"));
}
